/* bench/floor/floor.c - the floor: the least a server does for loadgen's closed loop.
 *
 * A measuring instrument, not a second tracker: compare.sh runs it next to wstracker so
 * that "how much of a cycle is the kernel's" is measured. It serves bench/loadgen's
 * workload (upgrade, masked frames, announce -> reply, each offer to one other recent
 * peer of its info_hash, each answer to its offerer by to_peer_id) on one thread, plain
 * level-triggered epoll, no libwebsockets, no JSON library: fixed searches for the keys
 * loadgen writes; ids, offers and answers copied as bytes. Per epoll pass: one recv per
 * readable connection (another only if it filled the buffer), one send per connection
 * with output (all its frames of the pass), epoll_ctl only after a short send.
 * Thread: one (main). State: the static arrays below, by fd or by hash; no locks. Limits,
 * all fixed: FLOOR_FDS fds; FLOOR_IN bytes of input and FLOOR_OUT of output per connection
 * (a bigger frame or upgrade head, or more output, closes it); FLOOR_SWARMS info hashes
 * (then a new one gets replies, no offers); the last FLOOR_RING connections per swarm
 * (targets: a window from a random start; the reply counts them); FLOOR_OFFERS offers per
 * announce; ids of FLOOR_ID bytes. Not handled: fragments (closed), TLS, HTTP but the
 * upgrade (exact "Sec-WebSocket-Key: "), numwant (k = offers sent), expiry, scrape, relay,
 * any validation, look-alike keys inside strings (loadgen writes none).
 * usage: floor [PORT] (0 = any): "listening on ws://127.0.0.1:PORT" on stderr; serves
 * 127.0.0.1 only; on SIGTERM prints its counts (unroutable: answers for no peer), exits.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#define FLOOR_FDS    65536
#define FLOOR_IN     (32 << 10) /* frames out stay below 64 KiB: 16-bit lengths */
#define FLOOR_OUT    (256 << 10)
#define FLOOR_SWARMS 16384 /* power of two */
#define FLOOR_RING   128
#define FLOOR_OFFERS 32
#define FLOOR_PEERS  131072 /* power of two, > FLOOR_FDS */
#define FLOOR_ID     120
#define WS_GUID      "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct ref { /* a connection; stale once conns[fd] is gone or has another gen */
    int32_t fd;
    uint32_t gen; /* 0 = empty slot */
};

struct conn {
    int fd;
    uint32_t gen;
    uint8_t open, dirty, dying, want_out; /* upgraded; on the flush list; close at pass end */
    uint8_t id_len;                       /* its peer_id (JSON string content) in id, 0 = none */
    char id[FLOOR_ID];
    size_t in_len, out_len;
    uint8_t in[FLOOR_IN], out[FLOOR_OUT];
};

struct swarm {
    uint8_t key_len; /* 0 = free slot */
    char key[FLOOR_ID];
    uint32_t n, next; /* members used; next % FLOOR_RING: the next to replace once full */
    struct ref m[FLOOR_RING];
    uint8_t seeder[FLOOR_RING];
};

struct span {
    const char *p;
    size_t n;
};
#define LIT(s) ((struct span){s, sizeof s - 1})
#define PUT(c, op, ...)                                                                            \
    put(c, op, (struct span[]){__VA_ARGS__},                                                       \
        sizeof((struct span[]){__VA_ARGS__}) / sizeof(struct span))

static struct conn *conns[FLOOR_FDS], *dirty[FLOOR_FDS];
static struct swarm swarms[FLOOR_SWARMS];
static struct ref peers[FLOOR_PEERS];
static int ep, n_dirty;
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static volatile sig_atomic_t stop;
static unsigned long long n_conns, n_announces, n_offers, n_answers, n_unroutable;

static struct conn *conn_of(struct ref r)
{
    return r.gen && conns[r.fd] && conns[r.fd]->gen == r.gen ? conns[r.fd] : NULL;
}

static uint64_t hash(const char *p, size_t n) /* FNV-1a */
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
    return h;
}

/* The connection whose peer_id is id; with add: put add in the first empty or stale slot. */
static struct conn *peer(const char *id, size_t n, struct conn *add)
{
    uint64_t h = hash(id, n);
    for (size_t i = 0; i < FLOOR_PEERS; i++) {
        struct ref *s = &peers[(h + i) & (FLOOR_PEERS - 1)];
        struct conn *c = conn_of(*s);
        if (add && !c)
            return *s = (struct ref){add->fd, add->gen}, add;
        if (!add && (!s->gen || (c && c->id_len == n && !memcmp(c->id, id, n))))
            return c;
    }
    return NULL;
}

static struct swarm *swarm_get(const char *key, size_t n)
{
    uint64_t h = hash(key, n);
    for (size_t i = 0; i < FLOOR_SWARMS; i++) {
        struct swarm *s = &swarms[(h + i) & (FLOOR_SWARMS - 1)];
        if (!s->key_len)
            s->key_len = (uint8_t)n, memcpy(s->key, key, n);
        if (s->key_len == n && !memcmp(s->key, key, n))
            return s;
    }
    return NULL;
}

static void mark(struct conn *c, int kill) /* onto the flush list; kill: and close it there */
{
    c->dying |= (uint8_t)kill;
    if (!c->dirty)
        dirty[n_dirty++] = c, c->dirty = 1;
}

/* Append one unmasked frame of opcode op (op < 0: raw bytes) made of the pieces. */
static void put(struct conn *c, int op, const struct span *pc, unsigned np)
{
    size_t len = 0;
    for (unsigned i = 0; i < np; i++)
        len += pc[i].n;
    uint8_t *o = c->out + c->out_len;
    if (len > 65535 || c->out_len + len + 4 > FLOOR_OUT)
        return mark(c, 1);
    if (op >= 0 && len < 126) /* FIN, no mask, a 7- or 16-bit length */
        *o++ = (uint8_t)(0x80 | op), *o++ = (uint8_t)len;
    else if (op >= 0)
        *o++ = (uint8_t)(0x80 | op), *o++ = 126, *o++ = (uint8_t)(len >> 8), *o++ = (uint8_t)len;
    for (unsigned i = 0; i < np; o += pc[i++].n)
        memcpy(o, pc[i].p, pc[i].n);
    c->out_len = (size_t)(o - c->out);
    mark(c, 0);
}

/* v just after an opening quote: its closing quote (after an even run of backslashes). */
static const char *str_end(const char *v, const char *e)
{
    for (const char *q = v; (q = memchr(q, '"', (size_t)(e - q))); q++) {
        size_t bs = 0;
        while (q - bs > v && q[-1 - (ptrdiff_t)bs] == '\\')
            bs++;
        if (!(bs & 1))
            return q;
    }
    return NULL;
}

/* The string value after key (which ends in its opening quote): content, escapes kept. */
static int str_val(const char *p, const char *e, const char *key, struct span *s)
{
    size_t kl = strlen(key);
    const char *v = memmem(p, (size_t)(e - p), key, kl), *q = v ? str_end(v + kl, e) : NULL;
    *s = (struct span){q ? v + kl : NULL, q ? (size_t)(q - v - kl) : 0};
    return q && s->n <= FLOOR_ID ? 0 : -1;
}

/* p at '{' or '[': the byte after its match, or NULL. Strings are skipped by memchr. */
static const char *skip(const char *p, const char *e)
{
    for (int depth = 0; p < e; p++) {
        if (*p == '"' && !(p = str_end(p + 1, e)))
            return NULL;
        if (*p == '{' || *p == '[')
            depth++;
        else if ((*p == '}' || *p == ']') && --depth == 0)
            return p + 1;
    }
    return NULL;
}

/* {"action":"announce",ids,"offer"|"answer":obj} to d: the ids and obj as they came. */
static void forward(struct conn *d, struct span ih, struct span pid, struct span oid,
                    struct span key, const char *obj, const char *end)
{
    PUT(d, 1, LIT("{\"action\":\"announce\",\"info_hash\":\""), ih, LIT("\",\"peer_id\":\""), pid,
        LIT("\",\"offer_id\":\""), oid, key, {obj, (size_t)(end - obj)}, LIT("}"));
}

static void on_announce(struct conn *c, const char *m, const char *e)
{
    struct span ih, pid, oid;
    struct conn *to[FLOOR_OFFERS];
    unsigned k = 0, seeds = 0, live = 0;
    if (str_val(m, e, "\"info_hash\":\"", &ih) || str_val(m, e, "\"peer_id\":\"", &pid))
        return;
    n_announces++;
    if (c->id_len != pid.n || memcmp(c->id, pid.p, pid.n))
        c->id_len = (uint8_t)pid.n, memcpy(c->id, pid.p, pid.n), peer(c->id, pid.n, c);
    const char *l = memmem(m, (size_t)(e - m), "\"left\":", 7);
    uint8_t seeder = l && l + 8 < e && l[7] == '0' && (l[8] == ',' || l[8] == '}');
    struct swarm *s = swarm_get(ih.p, ih.n);
    if (s) {
        uint32_t self = s->n, start;
        for (uint32_t i = 0; i < s->n; i++) { /* find itself, count the live others */
            if (s->m[i].fd == c->fd && s->m[i].gen == c->gen)
                self = i;
            else if (conn_of(s->m[i]))
                live++, seeds += s->seeder[i];
        }
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17; /* xorshift64 */
        start = s->n ? (uint32_t)(rng % s->n) : 0;
        for (uint32_t i = 0; i < s->n && k < FLOOR_OFFERS; i++) { /* k targets, not itself */
            struct ref r = s->m[(start + i) % s->n];
            if (r.fd != c->fd && conn_of(r))
                to[k++] = conn_of(r);
        }
        if (self == s->n) /* a new member; once full, it replaces the oldest entry */
            self = s->n < FLOOR_RING ? s->n++ : s->next++ % FLOOR_RING;
        s->m[self] = (struct ref){c->fd, c->gen}, s->seeder[self] = seeder;
        live++, seeds += seeder;
    }
    char num[48];
    int nl = snprintf(num, sizeof num, ",\"complete\":%u,\"incomplete\":%u}", seeds, live - seeds);
    PUT(c, 1, LIT("{\"action\":\"announce\",\"interval\":120,\"info_hash\":\""), ih, LIT("\""),
        {num, (size_t)nl});
    const char *p = memmem(m, (size_t)(e - m), "\"offers\":[", 10), *oe, *o, *obe;
    for (unsigned i = 0; p && i < k; i++, n_offers++, p = oe) { /* offer i to target i */
        p += i ? 1 : 10;
        oe = p < e && *p == '{' ? skip(p, e) : NULL;
        o = oe ? memmem(p, (size_t)(oe - p), "\"offer\":{", 9) : NULL;
        obe = o ? skip(o + 8, oe) : NULL;
        if (!obe || str_val(p, oe, "\"offer_id\":\"", &oid))
            break;
        forward(to[i], ih, pid, oid, LIT("\",\"offer\":"), o + 8, obe);
    }
}

static void on_message(struct conn *c, const char *m, size_t n)
{
    const char *e = m + n, *a = memmem(m, n, "\"answer\":{", 10), *ae;
    struct span ih, pid, oid, to;
    if (!a && memmem(m, n, "\"action\":\"announce\"", 19))
        on_announce(c, m, e);
    if (!a || !(ae = skip(a + 9, e)) || str_val(m, e, "\"to_peer_id\":\"", &to) ||
        str_val(m, e, "\"info_hash\":\"", &ih) || str_val(m, e, "\"peer_id\":\"", &pid) ||
        str_val(m, e, "\"offer_id\":\"", &oid))
        return;
    struct conn *d = peer(to.p, to.n, NULL); /* the answer: to its offerer */
    if (d)
        forward(d, ih, pid, oid, LIT("\",\"answer\":"), a + 9, ae);
    n_answers += d != NULL, n_unroutable += d == NULL;
}

/* Every whole frame in c->in; the partial one at the end moves to the front. */
static void on_frames(struct conn *c)
{
    size_t off = 0, len, hl;
    for (uint8_t *b; !c->dying && c->in_len - off >= 2; off += hl + len) {
        b = c->in + off, len = b[1] & 127, hl = len == 126 ? 8 : 6;
        if ((b[0] & 0xF0) != 0x80 || !(b[1] & 0x80) || len == 127) /* fragment, RSV, unmasked */
            return mark(c, 1);
        if (c->in_len - off < hl)
            break;
        len = len == 126 ? (size_t)b[2] << 8 | b[3] : len;
        if (len > FLOOR_IN - 8)
            return mark(c, 1);
        if (c->in_len - off - hl < len)
            break;
        uint64_t k8, v; /* unmask, 8 bytes at a time */
        size_t i = 0;
        memcpy(&k8, b + hl - 4, 4), memcpy((uint8_t *)&k8 + 4, b + hl - 4, 4);
        for (; i + 8 <= len; i += 8)
            memcpy(&v, b + hl + i, 8), v ^= k8, memcpy(b + hl + i, &v, 8);
        for (; i < len; i++)
            b[hl + i] ^= b[hl - 4 + (i & 3)];
        if ((b[0] & 15) == 1 || (b[0] & 15) == 2)
            on_message(c, (const char *)b + hl, len);
        else if ((b[0] & 15) == 8) /* close: echo its code and go */
            PUT(c, 8, {(const char *)b + hl, len > 2 ? 2 : len}), mark(c, 1);
    }
    memmove(c->in, c->in + off, c->in_len - off), c->in_len -= off;
}

static void on_upgrade(struct conn *c)
{
    const char *h = (const char *)c->in, *end = memmem(h, c->in_len, "\r\n\r\n", 4);
    const char *k = end ? memmem(h, (size_t)(end - h), "Sec-WebSocket-Key: ", 19) : NULL;
    const char *ke = k ? memchr(k + 19, '\r', (size_t)(end + 1 - k - 19)) : NULL;
    if (!end || !ke || ke - k - 19 > 64)
        return mark(c, end || c->in_len == FLOOR_IN);
    unsigned char buf[64 + sizeof WS_GUID], dig[SHA_DIGEST_LENGTH], acc[32];
    size_t kl = (size_t)(ke - k - 19), hl = (size_t)(end + 4 - h);
    memcpy(buf, k + 19, kl), memcpy(buf + kl, WS_GUID, sizeof WS_GUID - 1);
    SHA1(buf, kl + sizeof WS_GUID - 1, dig);
    int al = EVP_EncodeBlock(acc, dig, SHA_DIGEST_LENGTH); /* Sec-WebSocket-Accept */
    PUT(c, -1,
        LIT("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: "),
        {(const char *)acc, (size_t)al}, LIT("\r\n\r\n"));
    memmove(c->in, c->in + hl, c->in_len - hl), c->in_len -= hl, c->open = 1;
    on_frames(c);
}

static void on_readable(struct conn *c)
{
    ssize_t r, room;
    do { /* again only if the buffer filled: level-triggered, a short read means drained */
        room = FLOOR_IN - (ssize_t)c->in_len;
        r = recv(c->fd, c->in + c->in_len, (size_t)room, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r <= 0) /* EOF or error: nothing more to send either */
            c->out_len = 0, mark(c, 1);
        else if ((c->in_len += (size_t)r) && c->open)
            on_frames(c);
        else
            on_upgrade(c);
    } while (r == room && !c->dying);
}

/* The end of a pass: one send per connection with output; then the closes. */
static void flush_all(void)
{
    for (int i = 0; i < n_dirty; i++) {
        struct conn *c = dirty[i];
        ssize_t w = c->out_len ? send(c->fd, c->out, c->out_len, MSG_NOSIGNAL) : 0;
        if (w < 0)
            c->dying |= errno != EAGAIN && errno != EINTR, w = 0;
        memmove(c->out, c->out + w, c->out_len - (size_t)w), c->out_len -= (size_t)w, c->dirty = 0;
        uint8_t want = c->out_len && !c->dying;
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.fd = c->fd};
        if (want != c->want_out)
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev), c->want_out = want;
        if (c->dying)
            close(c->fd), conns[c->fd] = NULL, free(c);
    }
    n_dirty = 0;
}

static void on_accept(int lfd)
{
    int one = 1, fd;
    while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        struct conn *c = fd < FLOOR_FDS ? calloc(1, sizeof *c) : NULL; /* fresh zero pages */
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (!c || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            free(c), close(fd);
        else /* gen: never 0 */
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one),
                c->fd = fd, c->gen = (uint32_t)++n_conns, conns[fd] = c;
    }
}

static void on_signal(int sig)
{
    stop = sig;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct epoll_event evs[512], lev = {.events = EPOLLIN, .data.fd = lfd};
    sa.sin_port = htons((uint16_t)(argc > 1 ? atoi(argv[1]) : 0));
    signal(SIGTERM, on_signal); /* epoll_wait is never restarted: it returns EINTR */
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, 4096) ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) || (ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev)) {
        perror("floor");
        return 1;
    }
    fprintf(stderr, "listening on ws://127.0.0.1:%u\n", ntohs(sa.sin_port));
    while (!stop) {
        int n = epoll_wait(ep, evs, 512, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.fd == lfd ? NULL : conns[evs[i].data.fd];
            if (evs[i].data.fd == lfd)
                on_accept(lfd);
            else if (c && !c->dying && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                on_readable(c);
            if (c && !c->dying && (evs[i].events & EPOLLOUT))
                mark(c, 0);
        }
        flush_all();
    }
    fprintf(stderr, "floor: %llu conns %llu announces %llu offers %llu answers %llu unroutable\n",
            n_conns, n_announces, n_offers, n_answers, n_unroutable);
    return 0;
}
