/* fuzz_handle.c - libFuzzer target: the swarm layer, the whole request logic, in memory.
 *
 * Owns:   FH_WORKERS struct swarm and FH_CONNS connections (struct
 *         swarm_conn), run on one thread with no sockets, the drain of their
 *         outboxes, and the invariants checked after each step.
 * Why:    request.c and shard.c decide what every client receives and what the
 *         tracker keeps; a bug there loses peers, leaks them or sends a frame to
 *         the wrong place (issue 5). The swarm layer does no I/O: it writes
 *         frames and mail into an outbox, which this file carries as
 *         rt/worker.c does (frames to their connection, mail to its worker, in
 *         order), so the real request.c, shard.c and route.c run unchanged
 *         and nothing is stood in for.
 *
 * Input: lines. "<d><message>" sends message on connection d ('0'..'7');
 * "x<d>" closes connection d (a new one takes its place); "t<n>" advances the
 * clock by n seconds and runs expiry. Other lines are ignored. Mail between
 * the workers is delivered after each line, in order.
 *
 * After each line: every reply is JSON with a known "action"; each frame
 * reaches a live connection; per shard, the swarm counts, the peer hash
 * tables, the dense arrays and both recency lists agree; every swarm lives on
 * the worker route_owner names; every relay that travelled is settled; every
 * peer belongs to a live connection that
 * still holds its registration (else closing that connection would leave the
 * peer behind). At the end every connection closes and no peer may remain;
 * LeakSanitizer checks that nothing else does either.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "swarm.h"

#define FH_WORKERS 2
#define FH_CONNS   8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct route route;
static struct swarm swarms[FH_WORKERS];
static struct stats stats[FH_WORKERS];
static struct swarm_conn conns[FH_CONNS];
static uint32_t gens[FH_CONNS];
static struct mail_queue queues[FH_WORKERS]; /* mail on its way to each worker */
static int64_t now_ms;
static const uint8_t route_key[ROUTE_KEY_LEN] = "fuzz_handle key!";
static const uint32_t max_torrents_per_conn = 4;

/* ---- the runtime's part: connection refs, outbox drain ---- */

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

/* A reply must parse as JSON and carry a valid action. */
static void check_frame(struct frame *f)
{
    static struct proto_request req;
    enum proto_status st =
        proto_scan_request(frame_payload(f), f->len, PROTO_SCRAPE_HASHES_MAX, &req);
    CHECK(f->len > 0);
    CHECK(st != PROTO_ERR_JSON && st != PROTO_ERR_DEPTH && st != PROTO_ERR_NOT_OBJECT);
    CHECK(st != PROTO_ERR_NO_ACTION && st != PROTO_ERR_ACTION);
    CHECK(req.action != PROTO_ACTION_UNKNOWN);
}

/* A frame at the worker of its connection: to it, or dropped if it closed. */
static void deliver(struct frame *f)
{
    int k = conn_index(f->conn);
    if (k >= 0 && swarm_conn_note_reply(&swarms[conn_worker((uint32_t)k)], &conns[k], f, now_ms))
        check_frame(f);
    if (k >= 0) /* a connection's relays in flight never pass their bound */
        CHECK(conns[k].relays <= SWARM_RELAYS_IN_FLIGHT);
    mail_free(&f->m);
}

/* Carry out what worker d's swarm wrote, as rt/worker.c does: a frame for a
 * connection of d goes to it, any other message to the queue of its worker
 * (never d itself: the swarm layer does its own work in place). */
static void drain_outbox(unsigned d, struct outbox *ob)
{
    struct mail *m;
    while ((m = mail_queue_pop(&ob->q)) != NULL) {
        CHECK(m->kind < MAIL_KINDS);
        if (m->kind == MAIL_FRAME) {
            unsigned dest = route_conn_worker(((struct frame *)m)->conn);
            CHECK(dest < FH_WORKERS);
            if (dest == d)
                deliver((struct frame *)m);
            else
                mail_queue_push(&queues[dest], m);
        } else {
            CHECK(m->dest < FH_WORKERS && m->dest != d);
            mail_queue_push(&queues[m->dest], m);
        }
    }
}

static void drain(void)
{
    for (;;) {
        bool any = false;
        for (unsigned d = 0; d < FH_WORKERS; d++) {
            struct outbox ob = {{NULL, NULL}, 0, 0};
            struct mail *m = mail_queue_pop(&queues[d]);
            if (!m)
                continue;
            any = true;
            if (m->kind == MAIL_FRAME) {
                CHECK(route_conn_worker(((struct frame *)m)->conn) == d);
                deliver((struct frame *)m);
                continue;
            }
            swarm_mail(&swarms[d], m, now_ms, &ob);
            CHECK(ob.close == 0); /* mail never closes a connection */
            drain_outbox(d, &ob);
        }
        if (!any)
            return;
    }
}

/* ---- invariants ---- */

/* A linear walk, independent of request.c's keyed lookup. */
static bool conn_holds(const struct swarm_conn *c, const uint8_t ih[PROTO_ID_LEN],
                       const uint8_t pid[PROTO_ID_LEN])
{
    uint8_t key[2 * PROTO_ID_LEN];
    struct swarm_reg *r;
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
static void check_shard(const struct swarm *s)
{
    const struct shard_swarm *sw, *tmp;
    const char *why = shard_check(&s->shard);
    if (why) {
        fprintf(stderr, "shard_check (worker %u): %s\n", s->idx, why);
        abort();
    }
    HASH_ITER(hh, s->shard.swarms, sw, tmp) {
        const struct shard_peer *p, *ptmp;
        CHECK(route_owner(&route, sw->info_hash) == s->idx);
        HASH_ITER(hh, sw->peers, p, ptmp) {
            int k = conn_index(p->conn);
            CHECK(k >= 0); /* bound to a live connection ... */
            CHECK(conn_holds(&conns[k], sw->info_hash, p->peer_id)); /* ... that will remove it */
        }
    }
}

static void check_conns(void)
{
    for (unsigned k = 0; k < FH_CONNS; k++) {
        const struct swarm_conn *c = &conns[k];
        CHECK(c->n_regs == (uint32_t)c->has_reg0 + HASH_COUNT(c->regs));
        CHECK(c->n_regs <= max_torrents_per_conn);
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
    struct outbox ob = {{NULL, NULL}, 0, 0};
    unsigned d = conn_worker(k);
    swarm_conn_closed(&swarms[d], &conns[k], now_ms, &ob);
    drain_outbox(d, &ob);
    gens[k]++; /* as the slot table: frames still on their way find no one */
    drain();
    conn_open(k);
}

static void setup(void)
{
    /* Small limits so eviction, the offer cap and the per-connection cap are
     * reached by short inputs. */
    const struct swarm_limits lim = {
        .shard =
            {
                .max_peers_per_swarm = 6,
                .max_offers = 5,
                .peer_timeout_ms = 120 * 1000,
                .max_peers = 5, /* per worker */
                .max_swarms = 3,
            },
        .interval = 120,
        .max_torrents_per_conn = max_torrents_per_conn,
        .max_peer_ids_per_swarm = 2,
        .max_scrape_hashes = 8,
        .full_scrape_max = 512 * 1024,
        .no_full_scrape = false,
        .turn_secret = "fuzz-secret", /* "turn": true gets credentials */
        .turn_urls = {"turn:127.0.0.1:3478", "turns:127.0.0.1:5349"},
        .n_turn_urls = 2,
        .turn_ttl = 600,
        .relay = true,
        .relay_max_bytes = 64,
        .relay_rate = {1024, 4000}, /* 1 KiB/s: the budget runs out within a run */
    };
    memcpy(route.key, route_key, sizeof route.key);
    route.n_workers = FH_WORKERS;
    now_ms = 1000000;
    for (unsigned d = 0; d < FH_WORKERS; d++) {
        memset(&stats[d], 0, sizeof stats[d]);
        swarm_create(&swarms[d], d, &route, &lim, &stats[d], 0x9e3779b97f4a7c15ull + d);
        swarms[d].wall_s = 1700000000;
    }
    for (unsigned k = 0; k < FH_CONNS; k++)
        conn_open(k);
}

static void teardown(void)
{
    for (unsigned k = 0; k < FH_CONNS; k++)
        conn_close(k);
    for (unsigned d = 0; d < FH_WORKERS; d++) {
        check_shard(&swarms[d]);
        CHECK(swarms[d].shard.counts.peers == 0); /* every connection closed: no peer left */
        swarm_destroy(&swarms[d]);
    }
}

static void advance(const char *p, size_t n)
{
    unsigned secs = 0;
    for (size_t k = 0; k < n && k < 6 && p[k] >= '0' && p[k] <= '9'; k++)
        secs = secs * 10 + (unsigned)(p[k] - '0');
    now_ms += (int64_t)secs * 1000;
    for (unsigned d = 0; d < FH_WORKERS; d++)
        shard_expire_step(&swarms[d].shard, now_ms, 1000000);
}

static void step(const char *line, size_t n)
{
    if (n >= 1 && line[0] >= '0' && line[0] < '0' + FH_CONNS) {
        unsigned k = (unsigned)(line[0] - '0'), d = conn_worker(k);
        struct outbox ob = {{NULL, NULL}, 0, 0};
        /* An exact-size heap copy, so ASan sees any over-read of the message. */
        char *msg = malloc(n > 1 ? n - 1 : 1);
        if (!msg)
            return;
        memcpy(msg, line + 1, n - 1);
        conns[k].ipv6 = (k & 4) != 0;
        swarm_message(&swarms[d], &conns[k], msg, n - 1, true, now_ms, &ob);
        /* Only invalid UTF-8 closes (1007); an accepted message never does. */
        CHECK(ob.close == 0 ||
              (ob.close == SWARM_CLOSE_INVALID_UTF8 && !proto_utf8_valid(msg, n - 1)));
        free(msg); /* the outbox holds copies: nothing may point into msg */
        drain_outbox(d, &ob);
        drain();
        if (ob.close)
            conn_close(k);
    } else if (n >= 2 && line[0] == 'x' && line[1] >= '0' && line[1] < '0' + FH_CONNS) {
        conn_close((unsigned)(line[1] - '0'));
    } else if (n >= 1 && line[0] == 't') {
        advance(line + 1, n - 1);
    } else {
        return;
    }
    for (unsigned d = 0; d < FH_WORKERS; d++) {
        check_shard(&swarms[d]);
        /* Mail is drained: every full scrape has come back and answered its
         * waiters, so no connection waits and no travel is under way. */
        CHECK(!swarms[d].fs.in_flight && swarms[d].fs.n_waiters == 0);
    }
    /* ...and every relay that travelled has been settled with its sender. */
    for (unsigned k = 0; k < FH_CONNS; k++)
        CHECK(conns[k].relays == 0);
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
