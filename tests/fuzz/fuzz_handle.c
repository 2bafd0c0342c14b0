/* fuzz_handle.c - libFuzzer target: the whole message handler, in memory.
 *
 * Owns:   a fake tracker of FH_WORKERS workers and FH_CONNS connections, run on
 *         one thread with no sockets, and the invariants checked after each step.
 * Why:    handle.c and shard.c decide what every client receives and what the
 *         tracker keeps; a bug there loses peers, leaks them or sends a frame to
 *         the wrong place (issue 5). handle.c reaches the outside only through
 *         frame_alloc, worker_deliver, worker_send, net_conn_enqueue and
 *         net_conn_close (the seam named in handle.h); this file defines those
 *         five, so the real handle.c, shard.c and route.c run unchanged.
 *
 * Input: lines. "<d><message>" sends message on connection d ('0'..'7');
 * "x<d>" closes connection d (a new one takes its place); "t<n>" advances the
 * clock by n seconds and runs expiry. Other lines are ignored. Mail between
 * the workers is delivered after each line, in order.
 *
 * After each line: every reply is JSON with a known "action"; each frame
 * reaches a live connection on its own worker; per shard, the swarm counts,
 * the peer hash tables, the dense arrays and both recency lists agree; every
 * swarm lives on the worker route_owner names; every peer belongs to a live
 * connection that still holds its registration (else closing that connection
 * would leave the peer behind). At the end every connection closes and no peer
 * may remain; LeakSanitizer checks that nothing else does either.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tracker/handle.h"
#include "../check.h"

#define FH_WORKERS 2
#define FH_CONNS   8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tracker t;
static struct worker workers[FH_WORKERS];
static struct conn conns[FH_CONNS];
static uint32_t gens[FH_CONNS];
static struct mail_queue queues[FH_WORKERS];
static uint8_t route_key[ROUTE_KEY_LEN] = "fuzz_handle key!";

/* ---- the seam: what worker.c and net.c do in the real tracker ---- */

static unsigned conn_worker(unsigned k)
{
    return k % FH_WORKERS;
}

static uint64_t conn_ref(unsigned k)
{
    return route_conn_make(conn_worker(k), k, gens[k]);
}

static int conn_index(uint64_t ref)
{
    uint32_t k = route_conn_slot(ref);
    if (k >= FH_CONNS || route_conn_worker(ref) != conn_worker(k) || route_conn_gen(ref) != gens[k])
        return -1;
    return (int)k;
}

struct frame *frame_alloc(size_t cap)
{
    struct frame *f = malloc(sizeof *f + LWS_PRE + cap);
    if (!f)
        return NULL;
    memset(f, 0, sizeof *f);
    f->m.kind = MAIL_FRAME;
    return f;
}

/* A reply must parse as JSON and carry a valid action. */
static void check_frame(const struct frame *f)
{
    static struct proto_request req;
    enum proto_status st = proto_scan_request(frame_payload((struct frame *)f), f->len,
                                              PROTO_SCRAPE_HASHES_MAX, &req);
    CHECK(f->len > 0);
    CHECK(st != PROTO_ERR_JSON && st != PROTO_ERR_DEPTH && st != PROTO_ERR_NOT_OBJECT);
    CHECK(st != PROTO_ERR_NO_ACTION && st != PROTO_ERR_ACTION);
    CHECK(req.action != PROTO_ACTION_UNKNOWN);
}

void net_conn_enqueue(struct worker *w, struct conn *c, struct frame *f)
{
    int k = conn_index(c->ref);
    CHECK(k >= 0 && &conns[k] == c);
    CHECK(conn_worker((unsigned)k) == w->idx); /* only the owner touches a connection */
    CHECK(f->conn == c->ref);
    check_frame(f);
    net_conn_note_reply(c, f, w->now_ms); /* as net.c: scrapes in flight count down */
    free(f);
}

/* As net.c: the connection closes at its next writeable; step() closes it. */
void net_conn_close(struct conn *c, uint16_t code)
{
    CHECK(conn_index(c->ref) >= 0);
    CHECK(code >= 1000 && code < 5000);
    if (!c->close_code)
        c->close_code = code;
}

void worker_send(struct worker *w, unsigned dest, struct mail *m)
{
    CHECK(dest < FH_WORKERS && dest != w->idx);
    mail_queue_push(&queues[dest], m);
}

void worker_deliver(struct worker *w, struct frame *f)
{
    unsigned dest = route_conn_worker(f->conn);
    int k;
    CHECK(dest < FH_WORKERS);
    if (dest != w->idx) {
        worker_send(w, dest, &f->m);
        return;
    }
    k = conn_index(f->conn);
    if (k >= 0)
        net_conn_enqueue(w, &conns[k], f);
    else
        free(f); /* the connection closed meanwhile, as in worker.c */
}

static void drain(void)
{
    for (;;) {
        bool any = false;
        for (unsigned d = 0; d < FH_WORKERS; d++) {
            struct mail *m = mail_queue_pop(&queues[d]);
            if (!m)
                continue;
            CHECK(m->kind <= MAIL_REMOVE);
            handle_mail(&workers[d], m);
            any = true;
        }
        if (!any)
            return;
    }
}

/* ---- invariants ---- */

static bool conn_holds(const struct conn *c, const uint8_t ih[PROTO_ID_LEN],
                       const uint8_t pid[PROTO_ID_LEN])
{
    uint8_t key[2 * PROTO_ID_LEN];
    struct conn_reg *r;
    memcpy(key, ih, PROTO_ID_LEN);
    memcpy(key + PROTO_ID_LEN, pid, PROTO_ID_LEN);
    if (c->has_reg0 && memcmp(c->reg0, key, sizeof key) == 0)
        return true;
    for (r = c->regs; r; r = r->hh.next)
        if (memcmp(r->key, key, sizeof key) == 0)
            return true;
    return false;
}

/* shard_check's structure, plus what only this harness knows: each swarm is on
 * its route_owner worker and each peer's connection is live and holds it. */
static void check_shard(struct worker *w)
{
    const struct shard_swarm *sw, *tmp;
    const char *why = shard_check(&w->shard);
    if (why) {
        fprintf(stderr, "shard_check (worker %u): %s\n", w->idx, why);
        abort();
    }
    HASH_ITER(hh, w->shard.swarms, sw, tmp)
    {
        const struct shard_peer *p, *ptmp;
        CHECK(route_owner(&t.route, sw->info_hash) == w->idx);
        HASH_ITER(hh, sw->peers, p, ptmp)
        {
            int k = conn_index(p->conn);
            CHECK(k >= 0); /* bound to a live connection ... */
            CHECK(conn_holds(&conns[k], sw->info_hash, p->peer_id)); /* ... that will remove it */
        }
    }
}

static void check_conns(void)
{
    for (unsigned k = 0; k < FH_CONNS; k++) {
        const struct conn *c = &conns[k];
        CHECK(c->n_regs == (uint32_t)c->has_reg0 + HASH_COUNT(c->regs));
        CHECK(c->n_regs <= t.cfg.max_torrents_per_conn);
    }
}

/* ---- the fake tracker ---- */

static void conn_open(unsigned k)
{
    memset(&conns[k], 0, sizeof conns[k]);
    if (++gens[k] == 0)
        gens[k] = 1;
    conns[k].ref = conn_ref(k);
}

static void conn_close(unsigned k)
{
    handle_conn_closed(&workers[conn_worker(k)], &conns[k]);
    drain();
    conn_open(k);
}

static void setup(void)
{
    struct shard_limits lim;
    memset(&t, 0, sizeof t);
    /* Small limits so eviction, the offer cap and the per-connection cap are
     * reached by short inputs. */
    t.cfg.interval = 120;
    t.cfg.max_offers = 5;
    t.cfg.max_peers_per_swarm = 6;
    t.cfg.peer_timeout = 120;
    t.cfg.max_scrape_hashes = 8;
    t.cfg.max_torrents_per_conn = 4;
    t.cfg.max_peer_ids_per_swarm = 2;
    t.cfg.outq_soft_kib = 256;
    t.cfg.outq_hard_kib = 1024;
    t.max_peers = 10; /* split: 5 per worker */
    t.max_swarms = 6;
    t.n_workers = FH_WORKERS;
    t.workers = workers;
    memcpy(t.route.key, route_key, sizeof t.route.key);
    t.route.n_workers = FH_WORKERS;
    lim = tracker_shard_limits(&t);
    for (unsigned d = 0; d < FH_WORKERS; d++) {
        struct worker *w = &workers[d];
        memset(w, 0, sizeof *w);
        w->idx = d;
        w->t = &t;
        w->rng = 0x9e3779b97f4a7c15ull + d;
        w->now_ms = 1000000;
        shard_create(&w->shard, t.route.key, &lim);
    }
    for (unsigned k = 0; k < FH_CONNS; k++)
        conn_open(k);
}

static void teardown(void)
{
    for (unsigned k = 0; k < FH_CONNS; k++)
        conn_close(k);
    for (unsigned d = 0; d < FH_WORKERS; d++) {
        check_shard(&workers[d]);
        CHECK(workers[d].shard.counts.peers == 0); /* every connection closed: no peer left */
        shard_destroy(&workers[d].shard);
        free(workers[d].fs.body); /* as worker_destroy */
        free(workers[d].fs.waiters);
    }
}

static void advance(const char *p, size_t n)
{
    unsigned secs = 0;
    for (size_t k = 0; k < n && k < 6 && p[k] >= '0' && p[k] <= '9'; k++)
        secs = secs * 10 + (unsigned)(p[k] - '0');
    for (unsigned d = 0; d < FH_WORKERS; d++) {
        workers[d].now_ms += (int64_t)secs * 1000;
        shard_expire_step(&workers[d].shard, workers[d].now_ms, 1000000);
    }
}

static void step(const char *line, size_t n)
{
    if (n >= 1 && line[0] >= '0' && line[0] < '0' + FH_CONNS) {
        unsigned k = (unsigned)(line[0] - '0');
        /* An exact-size heap copy, so ASan sees any over-read of the message. */
        char *msg = malloc(n > 1 ? n - 1 : 1);
        if (!msg)
            return;
        memcpy(msg, line + 1, n - 1);
        conns[k].ipv6 = (k & 4) != 0;
        handle_message(&workers[conn_worker(k)], &conns[k], msg, n - 1, true);
        /* Only invalid UTF-8 closes from the handler (1007); an accepted
         * message never does. */
        CHECK(!conns[k].close_code || !proto_utf8_valid(msg, n - 1));
        free(msg);
        drain();
        if (conns[k].close_code)
            conn_close(k);
    } else if (n >= 2 && line[0] == 'x' && line[1] >= '0' && line[1] < '0' + FH_CONNS) {
        conn_close((unsigned)(line[1] - '0'));
    } else if (n >= 1 && line[0] == 't') {
        advance(line + 1, n - 1);
    } else {
        return;
    }
    for (unsigned d = 0; d < FH_WORKERS; d++) {
        check_shard(&workers[d]);
        /* Mail is drained: every full scrape has come back and answered its
         * waiters, so no connection waits and no travel is under way. */
        CHECK(!workers[d].fs.in_flight && workers[d].fs.n_waiters == 0);
    }
    for (unsigned k = 0; k < FH_CONNS; k++)
        CHECK(!conns[k].full_waiting && conns[k].scrapes == 0);
    check_conns();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    setup();
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        step(p, n);
        p += n + (nl != NULL);
    }
    teardown();
    return 0;
}
