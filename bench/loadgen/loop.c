/* loop.c - one load thread: epoll over its own connections.
 *
 * Owns:   struct lg_conn (conns[] of one thread) and the thread's event loop,
 *         including the relay modes' sending and the checks on relayed frames.
 * Thread: the owning load thread only; main reads the {atomic} gauges in
 *         struct lg_thread and the stats after join.
 * Why:    a connection's whole life (connect, upgrade, announce, answer, relay,
 *         close) stays on one thread and one epoll set; no locks, no sharing.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lg.h"
#include "ws.h"

#define EV_TIMER     UINT32_MAX /* epoll data of the timerfd */
#define EVENTS_MAX   512
#define READS_PER_EV 8    /* reads per readable event before moving on */
#define RBUF_MIN     4096 /* first receive buffer of a connection */
#define HEAD_MAX     8192 /* largest upgrade response head */

enum conn_state {
    CONN_NEW, /* not opened yet */
    CONN_CONNECTING,
    CONN_TLS,       /* wss://: TLS handshake in progress */
    CONN_UPGRADING, /* request sent, waiting for 101 */
    CONN_OPEN,
    CONN_DOWN, /* closed; may be reopened at reopen_ns */
    CONN_DONE, /* closed for good */
};

/* A growable byte buffer owned by one connection; cap bounded by its user. */
struct buf {
    uint8_t *p;
    size_t len, cap;
};

/* One WebSocket connection; n_conns per thread, in lg_thread.conns. */
struct lg_conn {
    int fd;                   /* -1 when closed */
    SSL *ssl;                 /* wss://: the TLS session on fd, else NULL */
    uint8_t state;            /* enum conn_state */
    uint8_t inflight;         /* 1 = an announce waits for its response */
    uint8_t want_out;         /* EPOLLOUT is registered */
    uint8_t frag;             /* 1 = a fragmented message is being reassembled */
    uint8_t queued;           /* open loop: in the idle FIFO */
    uint8_t announced;        /* idle and relay modes: its first announce was answered */
    uint8_t corked;           /* 1 = writes collect in out until the read batch ends */
    uint8_t refill;           /* relay modes: in t->refill, to send relays after this batch */
    uint64_t sent_ns;         /* when the in-flight announce was written */
    uint64_t reopen_ns;       /* CONN_DOWN: reopen at (monotonic ns) */
    uint64_t reannounce_ns;   /* idle mode: announce again at (monotonic ns), 0 = never */
    struct work_id peer_id;   /* for the connection's lifetime */
    char key[WS_KEY_LEN + 1]; /* Sec-WebSocket-Key of the current upgrade */
    struct buf in;            /* bytes read, not yet parsed (<= LG_MSG_MAX + header) */
    struct buf msg;           /* fragments of one message (<= LG_MSG_MAX) */
    struct buf out;           /* bytes the socket did not take yet (<= LG_WBUF_MAX) */
};

uint64_t lg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- stats ---- */

void lg_stats_error(struct lg_stats *st, enum lg_err_class cls, const char *text)
{
    st->err_class[cls]++;
    for (unsigned i = 0; i < st->n_err; i++) {
        if (st->err[i].cls == cls && !strcmp(st->err[i].text, text)) {
            st->err[i].n++;
            return;
        }
    }
    if (st->n_err == LG_ERR_KINDS) {
        st->err_other++;
        return;
    }
    struct lg_err *e = &st->err[st->n_err++];
    e->cls = (uint8_t)cls;
    snprintf(e->text, sizeof e->text, "%s", text);
    e->n = 1;
}

void lg_stats_merge(struct lg_stats *d, const struct lg_stats *s)
{
    d->announces += s->announces;
    d->offers_out += s->offers_out;
    d->answers_out += s->answers_out;
    d->responses += s->responses;
    d->failed_replies += s->failed_replies;
    d->offers_in += s->offers_in;
    d->answers_in += s->answers_in;
    d->other_in += s->other_in;
    d->unmatched += s->unmatched;
    d->msgs_in += s->msgs_in;
    d->bytes_in += s->bytes_in;
    d->bytes_out += s->bytes_out;
    d->pings += s->pings;
    d->connects += s->connects;
    d->lost += s->lost;
    d->rate_missed += s->rate_missed;
    d->relays_out += s->relays_out;
    d->relays_refused += s->relays_refused;
    d->relays_done += s->relays_done;
    d->relays_expired += s->relays_expired;
    d->frames_missing += s->frames_missing;
    d->frames_in += s->frames_in;
    d->frames_bad += s->frames_bad;
    d->frames_late += s->frames_late;
    d->frames_dup += s->frames_dup;
    d->data_in += s->data_in;
    d->frame_bytes_in += s->frame_bytes_in;
    d->err_other += s->err_other;
    for (unsigned i = 0; i < s->n_err; i++) {
        unsigned j;
        for (j = 0; j < d->n_err; j++)
            if (d->err[j].cls == s->err[i].cls && !strcmp(d->err[j].text, s->err[i].text))
                break;
        if (j == d->n_err) {
            if (d->n_err == LG_ERR_KINDS) {
                d->err_other += s->err[i].n;
                continue;
            }
            d->err[d->n_err++] = (struct lg_err){s->err[i].cls, "", 0};
            memcpy(d->err[j].text, s->err[i].text, LG_ERR_TEXT);
        }
        d->err[j].n += s->err[i].n;
    }
    for (unsigned c = 0; c < LG_ERR_CLASSES; c++)
        d->err_class[c] += s->err_class[c];
    hist_merge(&d->lat, &s->lat);
    hist_merge(&d->relay_lat, &s->relay_lat);
}

static struct lg_stats *cur(struct lg_thread *t)
{
    return &t->st[atomic_load_explicit(&t->run->phase, memory_order_relaxed)];
}

/* ---- buffers ---- */

static int buf_reserve(struct buf *b, size_t need, size_t max)
{
    if (b->cap - b->len >= need)
        return 0;
    size_t cap = b->cap ? b->cap : RBUF_MIN;
    while (cap - b->len < need)
        cap *= 2;
    if (cap > max)
        cap = max;
    if (cap - b->len < need)
        return -1;
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static void buf_free(struct buf *b)
{
    free(b->p);
    *b = (struct buf){0};
}

/* ---- connection life ---- */

static void set_out(struct lg_thread *t, struct lg_conn *c, int on)
{
    if (c->want_out == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0),
                             .data.u32 = (uint32_t)(c - t->conns)};
    epoll_ctl(t->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = (uint8_t)on;
}

static void idle_push(struct lg_thread *t, struct lg_conn *c)
{
    if (!t->idle || c->queued)
        return;
    t->idle[(t->idle_head + t->idle_n) % t->n_conns] = (unsigned)(c - t->conns);
    t->idle_n++;
    c->queued = 1;
}

/* Close the socket; the connection may be reopened (CONN_DOWN) unless gone. */
static void conn_close(struct lg_thread *t, struct lg_conn *c, int reopen)
{
    if (c->ssl) {
        SSL_free(c->ssl); /* no close_notify: the socket goes now */
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    if (c->state == CONN_OPEN)
        atomic_fetch_sub_explicit(&t->n_open, 1, memory_order_relaxed);
    if (c->state == CONN_CONNECTING || c->state == CONN_TLS || c->state == CONN_UPGRADING)
        t->opening--;
    if (c->inflight) {
        c->inflight = 0;
        cur(t)->lost++;
        atomic_fetch_sub_explicit(&t->inflight, 1, memory_order_relaxed);
    }
    c->in.len = c->msg.len = c->out.len = 0;
    c->frag = 0;
    c->want_out = 0;
    if (reopen && t->cfg->reconnect && !atomic_load(&t->run->stop)) {
        c->state = CONN_DOWN;
        c->reopen_ns = lg_now_ns() + LG_RECONNECT_MS * 1000000ull;
    } else {
        c->state = CONN_DONE;
        buf_free(&c->in);
        buf_free(&c->msg);
        buf_free(&c->out);
        atomic_fetch_add_explicit(&t->n_gone, 1, memory_order_relaxed);
    }
}

/* The connection failed for a reason of class cls: count it and close. */
static void conn_fail(struct lg_thread *t, struct lg_conn *c, enum lg_err_class cls,
                      const char *text)
{
    lg_stats_error(cur(t), cls, text);
    conn_close(t, c, cls != LG_ERR_LOCAL);
}

static int conn_open(struct lg_thread *t, struct lg_conn *c)
{
    const struct lg_config *cfg = t->cfg;
    unsigned gi = t->first + (unsigned)(c - t->conns);
    int fd = socket(cfg->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        conn_fail(t, c, LG_ERR_CONNECT, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (cfg->src_first && cfg->addr.ss_family == AF_INET) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(cfg->src_first + gi / cfg->per_source);
        /* The port is chosen at connect() from the whole 4-tuple, so each source
         * address gets its own ephemeral range. */
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
            close(fd);
            conn_fail(t, c, LG_ERR_CONNECT, "bind to source address failed");
            return -1;
        }
    }
    if (connect(fd, (const struct sockaddr *)&cfg->addr, cfg->addr_len) != 0 &&
        errno != EINPROGRESS) {
        const char *why = strerror(errno);
        close(fd);
        conn_fail(t, c, LG_ERR_CONNECT, why);
        return -1;
    }
    c->fd = fd;
    c->state = CONN_CONNECTING;
    c->want_out = 1;
    t->opening++;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)(c - t->conns)};
    if (epoll_ctl(t->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        conn_fail(t, c, LG_ERR_LOCAL, "epoll_ctl failed");
        return -1;
    }
    return 0;
}

/* send() or, on wss://, SSL_write(): bytes taken, or -1 with errno (EAGAIN:
 * try again when writable). */
static ssize_t io_send(struct lg_conn *c, const void *p, size_t n)
{
    int w, e;
    if (!c->ssl)
        return send(c->fd, p, n, MSG_NOSIGNAL);
    if (n == 0)
        return 0;
    w = SSL_write(c->ssl, p, n > (1u << 30) ? 1 << 30 : (int)n);
    if (w > 0)
        return w;
    e = SSL_get_error(c->ssl, w);
    ERR_clear_error();
    errno = e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? EAGAIN : ECONNRESET;
    return -1;
}

/* recv() or SSL_read(): bytes, 0 at EOF, or -1 with errno. */
static ssize_t io_recv(struct lg_conn *c, void *p, size_t n)
{
    int r, e;
    if (!c->ssl)
        return recv(c->fd, p, n, 0);
    r = SSL_read(c->ssl, p, n > (1u << 30) ? 1 << 30 : (int)n);
    if (r > 0)
        return r;
    e = SSL_get_error(c->ssl, r);
    ERR_clear_error();
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0))
        return 0;
    if (e != SSL_ERROR_SYSCALL)
        errno = ECONNRESET;
    return -1;
}

/* Queue bytes the socket did not take; 0 or -1 (connection dropped). */
static int out_append(struct lg_thread *t, struct lg_conn *c, const uint8_t *p, size_t n)
{
    if (buf_reserve(&c->out, n, LG_WBUF_MAX) != 0) {
        conn_fail(t, c, LG_ERR_LOCAL, "send buffer full (server not reading)");
        return -1;
    }
    memcpy(c->out.p + c->out.len, p, n);
    c->out.len += n;
    if (!c->corked)
        set_out(t, c, 1);
    return 0;
}

/* Write p[0..n) now, or queue what the socket does not take. */
static int conn_write(struct lg_thread *t, struct lg_conn *c, const uint8_t *p, size_t n)
{
    cur(t)->bytes_out += n;
    if (c->out.len || c->corked)
        return out_append(t, c, p, n);
    ssize_t w = io_send(c, p, n);
    if (w == (ssize_t)n)
        return 0;
    if (w < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            conn_fail(t, c, LG_ERR_CLOSE, strerror(errno));
            return -1;
        }
        w = 0;
    }
    return out_append(t, c, p + w, n - (size_t)w);
}

static void conn_flush(struct lg_thread *t, struct lg_conn *c)
{
    while (c->out.len) {
        ssize_t w = io_send(c, c->out.p, c->out.len);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                set_out(t, c, 1);
                return;
            }
            conn_fail(t, c, LG_ERR_CLOSE, strerror(errno));
            return;
        }
        memmove(c->out.p, c->out.p + w, c->out.len - (size_t)w);
        c->out.len -= (size_t)w;
    }
    set_out(t, c, 0);
}

/* Send one frame whose payload the caller wrote at t->scratch + WS_HDR_MAX. */
static int send_frame(struct lg_thread *t, struct lg_conn *c, enum ws_opcode op, size_t len)
{
    uint8_t hdr[WS_HDR_MAX];
    uint32_t mask = (uint32_t)work_rng_next(&t->rng);
    size_t hl = ws_write_header(hdr, op, len, mask);
    uint8_t *frame = t->scratch + WS_HDR_MAX - hl;
    memcpy(frame, hdr, hl);
    ws_mask(t->scratch + WS_HDR_MAX, len, mask);
    return conn_write(t, c, frame, hl + len);
}

/* The --timeline second for time now, or NULL. */
static struct lg_tick *tick_at(struct lg_thread *t, uint64_t now)
{
    uint64_t go = atomic_load_explicit(&t->run->go_ns, memory_order_relaxed);
    if (!t->timeline || !go || now < go)
        return NULL;
    uint64_t s = (now - go) / 1000000000ull;
    return s < LG_TIMELINE_MAX ? &t->timeline[s] : NULL;
}

static void send_announce(struct lg_thread *t, struct lg_conn *c)
{
    const struct lg_config *cfg = t->cfg;
    const struct work_pool *p = t->pool;
    unsigned gi = t->first + (unsigned)(c - t->conns);
    const struct work_id *ih = cfg->mode == LG_MODE_IDLE ? &p->hashes[gi % p->n_hashes]
                               : LG_MODE_IS_RELAY(cfg->mode)
                                   ? &p->hashes[gi / cfg->room_size]
                                   : &p->hashes[work_pick_hash(&t->rng, p->n_hashes)];
    int n = work_write_announce((char *)t->scratch + WS_HDR_MAX, LG_SCRATCH, &t->rng, p, ih,
                                &c->peer_id, cfg->offers);
    if (n < 0) {
        lg_stats_error(cur(t), LG_ERR_LOCAL, "announce does not fit the scratch buffer");
        return;
    }
    struct lg_stats *st = cur(t);
    st->announces++;
    st->offers_out += cfg->offers;
    c->inflight = 1;
    c->sent_ns = lg_now_ns();
    struct lg_tick *tk = tick_at(t, c->sent_ns);
    if (tk)
        tk->announces++;
    atomic_fetch_add_explicit(&t->inflight, 1, memory_order_relaxed);
    send_frame(t, c, WS_OP_TEXT, (size_t)n);
}

/* Load modes announce once every connection is up (run->go) and until the drain. */
static int may_announce(struct lg_thread *t)
{
    return t->going && atomic_load_explicit(&t->run->phase, memory_order_relaxed) < LG_PHASE_DRAIN;
}

static void on_open(struct lg_thread *t, struct lg_conn *c)
{
    c->state = CONN_OPEN;
    t->opening--;
    cur(t)->connects++;
    atomic_fetch_add_explicit(&t->n_open, 1, memory_order_relaxed);
    switch (t->cfg->mode) {
    case LG_MODE_CLOSED:
        if (may_announce(t))
            send_announce(t, c);
        break;
    case LG_MODE_OPEN: idle_push(t, c); break;
    case LG_MODE_IDLE:
    case LG_MODE_RELAY_DIRECTED:
    case LG_MODE_RELAY_BROADCAST:
        if (!c->announced)
            send_announce(t, c);
        break;
    }
}

/* An announce response (or a failure) ended the announce in flight. */
static void on_reply(struct lg_thread *t, struct lg_conn *c)
{
    c->inflight = 0;
    atomic_fetch_sub_explicit(&t->inflight, 1, memory_order_relaxed);
    switch (t->cfg->mode) {
    case LG_MODE_CLOSED:
        if (may_announce(t))
            send_announce(t, c);
        break;
    case LG_MODE_OPEN: idle_push(t, c); break;
    case LG_MODE_IDLE:
    case LG_MODE_RELAY_DIRECTED:
    case LG_MODE_RELAY_BROADCAST:
        if (!c->announced) {
            c->announced = 1;
            atomic_fetch_add_explicit(&t->n_done, 1, memory_order_relaxed);
        }
        break;
    }
}

/* Idle mode: announce again after --reannounce seconds, or after the interval the
 * tracker sent, as real clients do (and as a tracker's idle timeout expects). */
static void plan_reannounce(struct lg_thread *t, struct lg_conn *c, const struct work_msg *m,
                            uint64_t now)
{
    double s = t->cfg->reannounce;
    if (s < 0 && m->interval.p)
        s = strtod(m->interval.p, NULL);
    c->reannounce_ns = s > 0 ? now + (uint64_t)(s * 1e9) : 0;
}

static void reannounce_due(struct lg_thread *t, uint64_t now)
{
    if (now < t->next_reannounce_scan_ns)
        return;
    t->next_reannounce_scan_ns = now + 100000000ull;
    for (unsigned i = 0; i < t->next_open; i++) {
        struct lg_conn *c = &t->conns[i];
        if (c->state == CONN_OPEN && !c->inflight && c->reannounce_ns && c->reannounce_ns <= now) {
            c->reannounce_ns = 0;
            send_announce(t, c);
        }
    }
}

/* ---- relay modes ---- */

/* The member that relay seq of connection gi is directed to: the others of
 * its room in turn. */
static unsigned relay_target(const struct lg_config *cfg, unsigned gi, uint32_t seq)
{
    unsigned room = cfg->room_size, base = gi - gi % room;
    return base + (gi % room + 1 + seq % (room - 1)) % room;
}

/* Send one relay from c if its window has room; 0, or -1 when it is full. */
static int send_relay(struct lg_thread *t, struct lg_conn *c, uint64_t now)
{
    const struct lg_config *cfg = t->cfg;
    unsigned s = (unsigned)(c - t->conns), gi = t->first + s;
    int directed = cfg->mode == LG_MODE_RELAY_DIRECTED;
    int64_t seq = relay_book_start(&t->book, s, directed ? 1 : cfg->room_size - 1, now);
    if (seq < 0)
        return -1;
    const struct work_id *to =
        directed ? &t->conns[relay_target(cfg, gi, (uint32_t)seq) - t->first].peer_id : NULL;
    int n = work_write_relay((char *)t->scratch + WS_HDR_MAX, LG_SCRATCH, t->pool,
                             &t->pool->hashes[gi / cfg->room_size], &c->peer_id, to, gi,
                             (uint32_t)seq, cfg->data_bytes);
    struct lg_stats *st = cur(t);
    atomic_fetch_add_explicit(&t->inflight, 1, memory_order_relaxed);
    if (n < 0) { /* main checked --data-bytes; the slot expires */
        lg_stats_error(st, LG_ERR_LOCAL, "relay does not fit the scratch buffer");
        return -1;
    }
    st->relays_out++;
    struct lg_tick *tk = tick_at(t, now);
    if (tk)
        tk->announces++;
    send_frame(t, c, WS_OP_TEXT, (size_t)n);
    return 0;
}

/* Fill c's window of relays (closed loop), in one send(). */
static void relay_fill(struct lg_thread *t, struct lg_conn *c)
{
    if (c->state != CONN_OPEN || !c->announced || !may_announce(t))
        return;
    uint64_t now = lg_now_ns();
    c->corked = 1;
    while (c->fd >= 0 && send_relay(t, c, now) == 0) {
    }
    c->corked = 0;
    if (c->fd >= 0 && c->out.len)
        conn_flush(t, c);
}

/* c has room in its window: send after this epoll batch, with the others. */
static void relay_refill_later(struct lg_thread *t, struct lg_conn *c)
{
    if (c->refill)
        return;
    c->refill = 1;
    t->refill[t->refill_n++] = (unsigned)(c - t->conns);
}

static void relay_refill_now(struct lg_thread *t)
{
    for (unsigned i = 0; i < t->refill_n; i++) {
        struct lg_conn *c = &t->conns[t->refill[i]];
        c->refill = 0;
        relay_fill(t, c);
    }
    t->refill_n = 0;
}

/* Give up the relays older than --relay-timeout (their frames were dropped, or
 * the relay was refused: a failure reply does not say which relay it was). */
static void relay_expire_due(struct lg_thread *t, uint64_t now)
{
    if (now < t->next_expire_scan_ns)
        return;
    t->next_expire_scan_ns = now + LG_EXPIRE_MS * 1000000ull;
    uint64_t timeout = (uint64_t)(t->cfg->relay_timeout * 1e9);
    if (now < timeout)
        return;
    struct lg_stats *st = cur(t);
    for (unsigned s = 0; s < t->n_conns; s++) {
        unsigned n = relay_book_expire(&t->book, s, now - timeout, &st->frames_missing);
        if (!n)
            continue;
        st->relays_expired += n;
        atomic_fetch_sub_explicit(&t->inflight, n, memory_order_relaxed);
        relay_refill_later(t, &t->conns[s]);
    }
}

/* A relayed frame at member c: check it is what its sender sent (data, sender
 * peer_id, room, recipient), then count it against the relay in flight. */
static void on_relay_frame(struct lg_thread *t, struct lg_conn *c, const struct work_msg *m,
                           size_t n, uint64_t now)
{
    const struct lg_config *cfg = t->cfg;
    struct lg_stats *st = cur(t);
    unsigned me = t->first + (unsigned)(c - t->conns), room = cfg->room_size;
    uint32_t from, seq;
    uint8_t id[WORK_ID_LEN];
    const char *bad = NULL;

    st->frames_in++;
    st->data_in += m->data.len;
    st->frame_bytes_in += n;
    struct lg_tick *tk = tick_at(t, now);
    if (tk)
        tk->offers_in++;
    if (work_check_relay_data(t->pool, m->data.p, m->data.len, cfg->data_bytes, &from, &seq) != 0)
        bad = "relayed data is not what was sent";
    else if (from < t->first || from - t->first >= t->n_conns || from / room != me / room ||
             from == me)
        bad = "relayed frame from outside the recipient's room";
    else if (!m->peer_id.p || work_id_decode(m->peer_id.p, m->peer_id.len, id) != 0 ||
             memcmp(id, t->conns[from - t->first].peer_id.raw, WORK_ID_LEN) != 0)
        bad = "relayed frame with the wrong sender peer_id";
    else if (!m->info_hash.p || work_id_decode(m->info_hash.p, m->info_hash.len, id) != 0 ||
             memcmp(id, t->pool->hashes[me / room].raw, WORK_ID_LEN) != 0)
        bad = "relayed frame with the wrong info_hash";
    else if (cfg->mode == LG_MODE_RELAY_DIRECTED && relay_target(cfg, from, seq) != me)
        bad = "directed relay delivered to the wrong member";
    if (bad) {
        st->frames_bad++;
        lg_stats_error(st, LG_ERR_PROTOCOL, bad);
        return;
    }
    uint64_t lat = 0;
    switch (relay_book_arrive(&t->book, from - t->first, seq, me % room, now, &lat)) {
    case RELAY_PART: break;
    case RELAY_DONE:
        st->relays_done++;
        hist_add(&st->relay_lat, lat);
        if (tk) {
            tk->responses++;
            if (lat / 1000 > tk->max_us)
                tk->max_us = lat / 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(lat / 1000);
        }
        atomic_fetch_sub_explicit(&t->inflight, 1, memory_order_relaxed);
        relay_refill_later(t, &t->conns[from - t->first]);
        break;
    case RELAY_LATE: st->frames_late++; break;
    case RELAY_DUP:
        st->frames_dup++;
        lg_stats_error(st, LG_ERR_PROTOCOL, "relayed frame delivered twice to one member");
        break;
    }
}

static int is_relay(const struct work_span *action)
{
    return action->p && action->len == 5 && !memcmp(action->p, "relay", 5);
}

static void on_message(struct lg_thread *t, struct lg_conn *c, const uint8_t *p, size_t n,
                       uint64_t now)
{
    struct lg_stats *st = cur(t);
    struct work_msg m;
    st->msgs_in++;
    atomic_store_explicit(&t->last_rx_ns, now, memory_order_relaxed);
    if (work_scan((const char *)p, n, &m) != 0) {
        lg_stats_error(st, LG_ERR_PROTOCOL, "message is not a JSON object");
        return;
    }
    if (m.failure.p) {
        char text[LG_ERR_TEXT];
        snprintf(text, sizeof text, "%.*s", (int)m.failure.len, m.failure.p);
        lg_stats_error(st, LG_ERR_FAILURE, text);
        if (is_relay(&m.action)) {
            st->relays_refused++;
            return;
        }
        if (c->inflight) {
            st->failed_replies++;
            on_reply(t, c);
        }
        return;
    }
    if (m.data.p && is_relay(&m.action)) {
        on_relay_frame(t, c, &m, n, now);
        return;
    }
    if (m.offer.p) {
        st->offers_in++;
        struct lg_tick *tk = tick_at(t, now);
        if (tk)
            tk->offers_in++;
        if (!t->cfg->answer || !m.info_hash.p || !m.peer_id.p || !m.offer_id.p)
            return;
        int an = work_write_answer((char *)t->scratch + WS_HDR_MAX, LG_SCRATCH, &t->rng, t->pool,
                                   m.info_hash.p, m.info_hash.len, &c->peer_id, m.peer_id.p,
                                   m.peer_id.len, m.offer_id.p, m.offer_id.len);
        if (an < 0) {
            lg_stats_error(st, LG_ERR_PROTOCOL, "offer ids too long to answer");
            return;
        }
        st->answers_out++;
        send_frame(t, c, WS_OP_TEXT, (size_t)an);
        return;
    }
    if (m.answer.p) {
        st->answers_in++;
        return;
    }
    if (m.interval.p || m.complete.p) {
        st->responses++;
        if (!c->inflight) {
            st->unmatched++;
            return;
        }
        hist_add(&st->lat, now - c->sent_ns);
        if (t->cfg->mode == LG_MODE_IDLE || LG_MODE_IS_RELAY(t->cfg->mode))
            plan_reannounce(t, c, &m, now);
        struct lg_tick *tk = tick_at(t, now);
        if (tk) {
            uint64_t us = (now - c->sent_ns) / 1000;
            tk->responses++;
            if (us > tk->max_us)
                tk->max_us = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
        }
        on_reply(t, c);
        return;
    }
    st->other_in++;
}

/* A close frame from the server: echo it and close. */
static void on_close_frame(struct lg_thread *t, struct lg_conn *c, const uint8_t *p, size_t n)
{
    unsigned code = n >= 2 ? (unsigned)p[0] << 8 | p[1] : 1005;
    char text[LG_ERR_TEXT];
    uint8_t *pl = t->scratch + WS_HDR_MAX;
    pl[0] = (uint8_t)(code >> 8);
    pl[1] = (uint8_t)code;
    send_frame(t, c, WS_OP_CLOSE, code == 1005 ? 0 : 2);
    if (c->fd < 0)
        return;
    if (n > 2)
        snprintf(text, sizeof text, "close frame %u (%.*s)", code, (int)(n - 2), p + 2);
    else
        snprintf(text, sizeof text, "close frame %u", code);
    conn_fail(t, c, LG_ERR_CLOSE, text);
}

/* Handle the frames in c->in; returns -1 if the connection was closed. */
static int parse_frames(struct lg_thread *t, struct lg_conn *c, uint64_t now)
{
    size_t off = 0;
    size_t need = 0; /* bytes of the incomplete frame at the end, when its header is in */
    while (c->fd >= 0) {
        struct ws_frame f;
        const uint8_t *b = c->in.p + off;
        size_t avail = c->in.len - off;
        enum ws_parse r = ws_parse_frame(b, avail, LG_MSG_MAX, &f);
        if (r == WS_PARSE_ERROR) {
            conn_fail(t, c, LG_ERR_PROTOCOL, "bad frame from the server");
            return -1;
        }
        if (r == WS_PARSE_MORE) {
            if (f.hdr_len)
                need = f.hdr_len + (size_t)f.len;
            break;
        }
        const uint8_t *pl = b + f.hdr_len;
        size_t n = (size_t)f.len;
        off += f.hdr_len + n;
        switch (f.opcode) {
        case WS_OP_TEXT:
        case WS_OP_BINARY:
            if (c->frag) {
                conn_fail(t, c, LG_ERR_PROTOCOL, "data frame inside a fragmented message");
                return -1;
            }
            if (f.fin) {
                on_message(t, c, pl, n, now);
            } else if (buf_reserve(&c->msg, n, LG_MSG_MAX) == 0) {
                memcpy(c->msg.p, pl, n);
                c->msg.len = n;
                c->frag = 1;
            } else {
                conn_fail(t, c, LG_ERR_PROTOCOL, "fragmented message too big");
                return -1;
            }
            break;
        case WS_OP_CONT:
            if (!c->frag) {
                conn_fail(t, c, LG_ERR_PROTOCOL, "continuation without a message");
                return -1;
            }
            if (buf_reserve(&c->msg, n, LG_MSG_MAX) != 0) {
                conn_fail(t, c, LG_ERR_PROTOCOL, "fragmented message too big");
                return -1;
            }
            memcpy(c->msg.p + c->msg.len, pl, n);
            c->msg.len += n;
            if (f.fin) {
                c->frag = 0;
                on_message(t, c, c->msg.p, c->msg.len, now);
                c->msg.len = 0;
            }
            break;
        case WS_OP_PING:
            cur(t)->pings++;
            memcpy(t->scratch + WS_HDR_MAX, pl, n);
            send_frame(t, c, WS_OP_PONG, n);
            break;
        case WS_OP_PONG: break;
        case WS_OP_CLOSE: on_close_frame(t, c, pl, n); return -1;
        }
    }
    if (c->fd < 0)
        return -1;
    if (off) {
        memmove(c->in.p, c->in.p + off, c->in.len - off);
        c->in.len -= off;
    }
    if (need > c->in.len && buf_reserve(&c->in, need - c->in.len, LG_MSG_MAX + WS_HDR_MAX) != 0) {
        conn_fail(t, c, LG_ERR_LOCAL, "receive buffer: no memory");
        return -1;
    }
    return 0;
}

/* The upgrade response, once its head is complete in c->in. */
static int parse_upgrade(struct lg_thread *t, struct lg_conn *c, uint64_t now)
{
    const uint8_t *end = memmem(c->in.p, c->in.len, "\r\n\r\n", 4);
    if (!end) {
        if (c->in.len > HEAD_MAX) {
            conn_fail(t, c, LG_ERR_HANDSHAKE, "response head too long");
            return -1;
        }
        return 0;
    }
    size_t hl = (size_t)(end - c->in.p) + 4;
    const char *why;
    if (ws_check_upgrade((const char *)c->in.p, hl, c->key, &why) != 0) {
        char text[LG_ERR_TEXT];
        const uint8_t *eol = memchr(c->in.p, '\r', hl);
        snprintf(text, sizeof text, "%s: %.*s", why, (int)(eol ? eol - c->in.p : 0),
                 (const char *)c->in.p);
        conn_fail(t, c, LG_ERR_HANDSHAKE, text);
        return -1;
    }
    memmove(c->in.p, c->in.p + hl, c->in.len - hl);
    c->in.len -= hl;
    on_open(t, c);
    if (c->fd < 0)
        return -1;
    return parse_frames(t, c, now);
}

static void read_batch(struct lg_thread *t, struct lg_conn *c);

/* Read and handle what the server sent. Replies (answers, pongs, the next
 * announce) collect in c->out and leave in one send() at the end. */
static void on_readable(struct lg_thread *t, struct lg_conn *c)
{
    c->corked = 1;
    read_batch(t, c);
    c->corked = 0;
    if (c->fd >= 0 && c->out.len)
        conn_flush(t, c);
}

static void read_batch(struct lg_thread *t, struct lg_conn *c)
{
    for (unsigned i = 0; i < READS_PER_EV && c->fd >= 0; i++) {
        if (buf_reserve(&c->in, RBUF_MIN / 2, LG_MSG_MAX + WS_HDR_MAX) != 0) {
            conn_fail(t, c, LG_ERR_LOCAL, "receive buffer: no memory");
            return;
        }
        size_t room = c->in.cap - c->in.len;
        ssize_t r = io_recv(c, c->in.p + c->in.len, room);
        if (r == 0) {
            conn_fail(t, c, LG_ERR_CLOSE,
                      c->state == CONN_UPGRADING ? "EOF during the upgrade"
                                                 : "EOF without a close frame");
            return;
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            conn_fail(t, c, LG_ERR_CLOSE, strerror(errno));
            return;
        }
        c->in.len += (size_t)r;
        cur(t)->bytes_in += (uint64_t)r;
        uint64_t now = lg_now_ns();
        int rc = c->state == CONN_UPGRADING ? parse_upgrade(t, c, now) : parse_frames(t, c, now);
        if (rc != 0 || (size_t)r < room)
            return;
    }
}

static void start_upgrade(struct lg_thread *t, struct lg_conn *c);

/* wss://: one step of the TLS handshake; the upgrade follows it. */
static void tls_step(struct lg_thread *t, struct lg_conn *c)
{
    int r = SSL_do_handshake(c->ssl), e;
    if (r == 1) {
        start_upgrade(t, c);
        return;
    }
    e = SSL_get_error(c->ssl, r);
    ERR_clear_error();
    if (e == SSL_ERROR_WANT_READ)
        set_out(t, c, 0);
    else if (e == SSL_ERROR_WANT_WRITE)
        set_out(t, c, 1);
    else
        conn_fail(t, c, LG_ERR_HANDSHAKE, "TLS handshake failed");
}

static void on_connected(struct lg_thread *t, struct lg_conn *c)
{
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
        conn_fail(t, c, LG_ERR_CONNECT, strerror(err));
        return;
    }
    if (t->cfg->tls) {
        if (!(c->ssl = SSL_new(t->cfg->tls)) || SSL_set_fd(c->ssl, c->fd) != 1) {
            conn_fail(t, c, LG_ERR_LOCAL, "SSL_new failed");
            return;
        }
        SSL_set_connect_state(c->ssl);
        c->state = CONN_TLS;
        tls_step(t, c);
        return;
    }
    start_upgrade(t, c);
}

static void start_upgrade(struct lg_thread *t, struct lg_conn *c)
{
    uint8_t rnd[16];
    for (unsigned i = 0; i < 16; i += 8) {
        uint64_t v = work_rng_next(&t->rng);
        memcpy(rnd + i, &v, 8);
    }
    ws_make_key(rnd, c->key);
    char req[1024];
    int n = ws_write_upgrade(req, sizeof req, t->cfg->host_hdr, t->cfg->path, c->key);
    c->state = CONN_UPGRADING;
    if (n < 0) {
        conn_fail(t, c, LG_ERR_LOCAL, "upgrade request too long");
        return;
    }
    set_out(t, c, 0);
    conn_write(t, c, (const uint8_t *)req, (size_t)n);
}

static void on_event(struct lg_thread *t, struct epoll_event *ev)
{
    struct lg_conn *c = &t->conns[ev->data.u32];
    if (c->fd < 0)
        return;
    if (c->state == CONN_CONNECTING) {
        if (ev->events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            on_connected(t, c);
        return;
    }
    if (c->state == CONN_TLS) {
        tls_step(t, c);
        return;
    }
    if (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable(t, c);
    if (c->fd >= 0 && (ev->events & EPOLLOUT))
        conn_flush(t, c);
}

/* ---- pacing: new connections, reconnects, open-loop sends ---- */

static void open_more(struct lg_thread *t, uint64_t now)
{
    while (t->next_open < t->n_conns && t->opening < LG_CONNECT_BURST && t->next_open_ns <= now) {
        conn_open(t, &t->conns[t->next_open++]);
        t->next_open_ns += t->open_every_ns;
    }
    if (t->next_open_ns < now - 100000000ull)
        t->next_open_ns = now; /* do not save up a burst while the burst cap holds */
}

static void reopen_due(struct lg_thread *t, uint64_t now)
{
    if (now < t->next_reconnect_scan_ns)
        return;
    t->next_reconnect_scan_ns = now + 50000000ull;
    for (unsigned i = 0; i < t->next_open && t->opening < LG_CONNECT_BURST; i++) {
        struct lg_conn *c = &t->conns[i];
        if (c->state == CONN_DOWN && c->reopen_ns <= now)
            conn_open(t, c);
    }
}

static void send_due(struct lg_thread *t, uint64_t now)
{
    if (!may_announce(t))
        return;
    while (t->next_send_ns <= now) {
        struct lg_conn *c = NULL;
        while (t->idle_n) {
            struct lg_conn *x = &t->conns[t->idle[t->idle_head]];
            t->idle_head = (t->idle_head + 1) % t->n_conns;
            t->idle_n--;
            x->queued = 0;
            if (x->state == CONN_OPEN && !x->inflight) {
                c = x;
                break;
            }
        }
        if (c)
            send_announce(t, c);
        else
            cur(t)->rate_missed++;
        t->next_send_ns += t->send_every_ns;
    }
    struct itimerspec its = {0};
    its.it_value.tv_sec = (time_t)(t->next_send_ns / 1000000000ull);
    its.it_value.tv_nsec = (long)(t->next_send_ns % 1000000000ull);
    timerfd_settime(t->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* ---- the thread ---- */

int loop_init(struct lg_thread *t)
{
    const struct lg_config *cfg = t->cfg;
    t->ep = epoll_create1(EPOLL_CLOEXEC);
    t->tfd = -1;
    t->conns = calloc(t->n_conns ? t->n_conns : 1, sizeof *t->conns);
    t->scratch = malloc(LG_SCRATCH + WS_HDR_MAX);
    if (t->ep < 0 || !t->conns || !t->scratch)
        return -1;
    for (unsigned i = 0; i < t->n_conns; i++) {
        t->conns[i].fd = -1;
        t->conns[i].state = CONN_NEW;
        work_id_random(&t->rng, "-LG0001-", &t->conns[i].peer_id);
    }
    if (cfg->timeline && !(t->timeline = calloc(LG_TIMELINE_MAX, sizeof *t->timeline)))
        return -1;
    if (LG_MODE_IS_RELAY(cfg->mode)) {
        t->refill = calloc(t->n_conns ? t->n_conns : 1, sizeof *t->refill);
        if (!t->refill || relay_book_init(&t->book, t->n_conns, cfg->window, cfg->room_size) != 0)
            return -1;
    }
    t->open_every_ns = (uint64_t)(1e9 * cfg->threads / (cfg->connect_rate ? cfg->connect_rate : 1));
    if (cfg->mode == LG_MODE_OPEN) {
        t->idle = calloc(t->n_conns ? t->n_conns : 1, sizeof *t->idle);
        t->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (!t->idle || t->tfd < 0)
            return -1;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = EV_TIMER};
        if (epoll_ctl(t->ep, EPOLL_CTL_ADD, t->tfd, &ev) != 0)
            return -1;
        t->send_every_ns = (uint64_t)(1e9 * cfg->threads / cfg->rate);
        if (!t->send_every_ns)
            t->send_every_ns = 1;
    }
    return 0;
}

void loop_destroy(struct lg_thread *t)
{
    if (t->conns)
        for (unsigned i = 0; i < t->n_conns; i++) {
            buf_free(&t->conns[i].in);
            buf_free(&t->conns[i].msg);
            buf_free(&t->conns[i].out);
        }
    free(t->conns);
    free(t->idle);
    free(t->refill);
    relay_book_free(&t->book);
    free(t->timeline);
    free(t->scratch);
    if (t->ep >= 0)
        close(t->ep);
    if (t->tfd >= 0)
        close(t->tfd);
}

/* Say goodbye on every open connection (best effort) and close them all. */
static void close_all(struct lg_thread *t)
{
    for (unsigned i = 0; i < t->n_conns; i++) {
        struct lg_conn *c = &t->conns[i];
        if (c->fd < 0)
            continue;
        if (c->inflight)
            t->inflight_end++;
        if (t->book.inflight)
            t->inflight_end += t->book.inflight[i];
        if (c->state == CONN_OPEN && !c->out.len) {
            uint8_t fr[WS_HDR_MAX + 2];
            uint32_t mask = (uint32_t)work_rng_next(&t->rng);
            size_t hl = ws_write_header(fr, WS_OP_CLOSE, 2, mask);
            fr[hl] = 1000 >> 8;
            fr[hl + 1] = 1000 & 0xFF;
            ws_mask(fr + hl, 2, mask);
            if (io_send(c, fr, hl + 2) < 0) {
                /* the socket is going away either way */
            }
        }
        c->inflight = 0;
        conn_close(t, c, 0);
    }
}

/* run->go has just been seen: the closed loop puts one announce on every open
 * connection; the open loop starts its clock. */
static void start_load(struct lg_thread *t, uint64_t now)
{
    t->going = 1;
    if (t->cfg->mode == LG_MODE_CLOSED) {
        for (unsigned i = 0; i < t->n_conns; i++) {
            struct lg_conn *c = &t->conns[i];
            if (c->state == CONN_OPEN && !c->inflight)
                send_announce(t, c);
        }
    } else if (t->cfg->mode == LG_MODE_OPEN) {
        t->next_send_ns = now + t->send_every_ns * t->idx / t->cfg->threads;
    } else if (LG_MODE_IS_RELAY(t->cfg->mode)) {
        for (unsigned i = 0; i < t->n_conns; i++)
            relay_fill(t, &t->conns[i]);
    }
}

void *loop_main(void *arg)
{
    struct lg_thread *t = arg;
    struct epoll_event evs[EVENTS_MAX];
    uint64_t now = lg_now_ns();
    t->next_open_ns = now;
    t->next_send_ns = now + t->send_every_ns * t->idx / t->cfg->threads;
    while (!atomic_load_explicit(&t->run->stop, memory_order_relaxed)) {
        now = lg_now_ns();
        if (!t->going && atomic_load_explicit(&t->run->go, memory_order_relaxed))
            start_load(t, now);
        open_more(t, now);
        reopen_due(t, now);
        if (t->cfg->mode == LG_MODE_IDLE || LG_MODE_IS_RELAY(t->cfg->mode))
            reannounce_due(t, now);
        if (t->refill && t->going)
            relay_expire_due(t, now);
        if (t->tfd >= 0 && t->going)
            send_due(t, now);
        int timeout = t->next_open < t->n_conns ? 1 : 10;
        if (t->cfg->busy_poll)
            timeout = 0;
        int n = epoll_wait(t->ep, evs, EVENTS_MAX, timeout);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u32 == EV_TIMER) {
                uint64_t ticks;
                if (read(t->tfd, &ticks, sizeof ticks) < 0) {
                    /* spurious wakeup; send_due re-arms */
                }
                continue;
            }
            on_event(t, &evs[i]);
        }
        if (t->refill_n)
            relay_refill_now(t);
    }
    close_all(t);
    return NULL;
}
