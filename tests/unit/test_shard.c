/* test_shard.c - unit tests for tracker/shard.c, swarms and peers of one worker.
 *
 * Owns:   nothing; drives shard_announce/remove/scrape/expire_step directly with a
 *         fake clock and a seeded rng, as the worker would.
 * Thread: single-threaded cmocka test.
 * Why:    the shard decides who is a seeder, who is evicted or expired and who
 *         receives each offer and answer (PROTOCOL.md sections 3.1 and 4). After
 *         every step the whole structure (hash tables, dense arrays, the three
 *         recency lists, counters) is checked against itself. Target choice is
 *         checked over every swarm size as aquatic's extract_response_peers test
 *         does. Leaks show under ASan.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "route.h"
#include "shard.h"

static struct route rt;
static struct shard sh;
#define TEST_RNG_SEED 0x0123456789abcdefull
static uint64_t rng; /* seeded in setup: each test sees the same draws, alone or in the suite */

static const struct shard_limits default_lim = {
    .max_peers_per_swarm = 1000,
    .max_offers = 10,
    .peer_timeout_ms = 180000,
    .max_peers = 1000000,
    .max_swarms = 1000000,
};

/* ---- helpers ---- */

static void make_id(uint8_t id[PROTO_ID_LEN], char tag, unsigned n)
{
    memset(id, tag, PROTO_ID_LEN);
    id[1] = (uint8_t)(n >> 24);
    id[2] = (uint8_t)(n >> 16);
    id[3] = (uint8_t)(n >> 8);
    id[4] = (uint8_t)n;
}

/* Every test counts peers by client too: check_shard then checks the
 * client table sums to the peers. */
static struct stats_clients clients;

static void reset(const struct shard_limits *lim)
{
    shard_destroy(&sh);
    shard_create(&sh, rt.key, lim);
    memset(&clients, 0, sizeof clients);
    sh.clients = &clients;
}

static int setup(void **state)
{
    (void)state;
    rng = TEST_RNG_SEED;
    shard_create(&sh, rt.key, &default_lim);
    memset(&clients, 0, sizeof clients);
    sh.clients = &clients;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    shard_destroy(&sh);
    return 0;
}

struct ann_opts {
    enum proto_event event;
    enum proto_left left;
    uint32_t offers;
    int answer_to; /* peer number to answer, or -1 */
    bool ipv6;
};

static const struct ann_opts PLAIN = {PROTO_EVENT_UPDATE, PROTO_LEFT_ABSENT, 0, -1, false};

static struct proto_announce ann; /* large: one, reused */

static void announce_opts(unsigned swarm, unsigned peer, uint64_t conn, int64_t now,
                          struct ann_opts o, struct shard_result *res)
{
    memset(&ann, 0, sizeof ann);
    make_id(ann.info_hash, 'S', swarm);
    make_id(ann.peer_id, 'P', peer);
    ann.event = o.event;
    ann.left = o.left;
    ann.n_offers = o.offers;
    for (uint32_t k = 0; k < o.offers; k++) {
        make_id(ann.offers[k].offer_id, 'O', k);
        ann.offers[k].offer.off = k * 10;
        ann.offers[k].offer.len = 5;
    }
    if (o.answer_to >= 0) {
        ann.has_answer = true;
        make_id(ann.to_peer_id, 'P', (unsigned)o.answer_to);
        make_id(ann.offer_id, 'O', 99);
    }
    memset(res, 0xEE, sizeof *res); /* stale bytes must not survive */
    shard_announce(&sh, &ann, conn, o.ipv6, now, &rng, res);
}

/* A plain announce with a "left" value. */
static void announce_left(unsigned swarm, unsigned peer, uint64_t conn, int64_t now,
                          enum proto_left left, struct shard_result *res)
{
    struct ann_opts o = PLAIN;
    o.left = left;
    announce_opts(swarm, peer, conn, now, o, res);
}

static void announce_event(unsigned swarm, unsigned peer, uint64_t conn, int64_t now,
                           enum proto_event ev, struct shard_result *res)
{
    struct ann_opts o = PLAIN;
    o.event = ev;
    announce_opts(swarm, peer, conn, now, o, res);
}

static struct shard_swarm *get_swarm(unsigned swarm)
{
    uint8_t ih[PROTO_ID_LEN];
    struct shard_swarm *sw, *tmp;
    make_id(ih, 'S', swarm);
    HASH_ITER(hh, sh.swarms, sw, tmp) {
        if (memcmp(sw->info_hash, ih, PROTO_ID_LEN) == 0)
            return sw;
    }
    return NULL;
}

static struct shard_peer *get_peer(unsigned swarm, unsigned peer)
{
    uint8_t pid[PROTO_ID_LEN];
    struct shard_swarm *sw = get_swarm(swarm);
    if (!sw)
        return NULL;
    make_id(pid, 'P', peer);
    for (uint32_t k = 0; k < sw->n; k++)
        if (memcmp(sw->arr[k]->peer_id, pid, PROTO_ID_LEN) == 0)
            return sw->arr[k];
    return NULL;
}

/* get_swarm / get_peer for a thing that must exist. */
static struct shard_swarm *need_swarm(unsigned swarm)
{
    struct shard_swarm *sw = get_swarm(swarm);
    if (!sw) {
        fail_msg("swarm %u missing", swarm);
        abort();
    }
    return sw;
}

static struct shard_peer *need_peer(unsigned swarm, unsigned peer)
{
    struct shard_peer *p = get_peer(swarm, peer);
    if (!p) {
        fail_msg("peer %u of swarm %u missing", peer, swarm);
        abort();
    }
    return p;
}

static void scrape(unsigned swarm, int64_t now, uint32_t *c, uint32_t *i, uint32_t *d)
{
    uint8_t ih[PROTO_ID_LEN];
    make_id(ih, 'S', swarm);
    shard_scrape(&sh, ih, now, c, i, d);
}

static void remove_peer(unsigned swarm, unsigned peer, uint64_t conn, int64_t now)
{
    uint8_t ih[PROTO_ID_LEN], pid[PROTO_ID_LEN];
    make_id(ih, 'S', swarm);
    make_id(pid, 'P', peer);
    shard_remove(&sh, ih, pid, conn, now);
}

static void assert_scrape(unsigned swarm, int64_t now, uint32_t c, uint32_t i, uint32_t d)
{
    uint32_t gc = 99, gi = 99, gd = 99;
    scrape(swarm, now, &gc, &gi, &gd);
    assert_int_equal(gc, c);
    assert_int_equal(gi, i);
    assert_int_equal(gd, d);
}

/* The whole shard agrees with itself. */
static void check_shard(void)
{
    const char *why = shard_check(&sh);
    if (why)
        fail_msg("shard_check: %s", why);
}

/* Deliveries: count, distinct, not to skip, offer indexes 0..n-1 in order. */
static void check_offers(const struct shard_result *r, uint32_t want, uint64_t skip)
{
    assert_int_equal(r->n, want);
    for (uint32_t q = 0; q < r->n; q++) {
        assert_int_equal(r->d[q].kind, SHARD_OFFER);
        assert_int_equal(r->d[q].offer, q);
        assert_true(r->d[q].conn != skip);
        for (uint32_t j = 0; j < q; j++)
            assert_true(r->d[j].conn != r->d[q].conn);
    }
}

static uint32_t min3(uint32_t a, uint32_t b, uint32_t c)
{
    uint32_t m = a < b ? a : b;
    return m < c ? m : c;
}

/* ---- insert, refresh, seeders ---- */

static void test_insert_counts(void **state)
{
    (void)state;
    struct shard_result r;
    announce_left(1, 1, 101, 0, PROTO_LEFT_NONZERO, &r);
    assert_true(r.respond);
    assert_false(r.answer_dropped);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.complete, 0);
    assert_int_equal(r.incomplete, 1);

    announce_left(1, 2, 102, 1, PROTO_LEFT_ZERO, &r);
    assert_int_equal(r.complete, 1);
    assert_int_equal(r.incomplete, 1);

    announce_left(1, 3, 103, 2, PROTO_LEFT_ABSENT, &r); /* a new peer is a leecher */
    assert_int_equal(r.complete, 1);
    assert_int_equal(r.incomplete, 2);

    struct ann_opts o = PLAIN;
    o.ipv6 = true;
    announce_opts(1, 4, 104, 3, o, &r);
    assert_int_equal(r.incomplete, 3);
    check_shard();

    assert_int_equal(sh.counts.swarms, 1);
    assert_int_equal(sh.counts.active_swarms, 1);
    assert_int_equal(sh.counts.peers, 4);
    assert_int_equal(sh.counts.seeders, 1);
    assert_int_equal(sh.counts.leechers, 3);
    assert_int_equal(sh.counts.ipv6, 1);
    assert_int_equal(sh.counts.evicted, 0);
    assert_int_equal(sh.counts.expired, 0);
    assert_scrape(1, 4, 1, 3, 0);
    assert_int_equal(need_peer(1, 3)->conn, 103);

    /* Scraping an unknown swarm reports zeros and creates nothing. */
    assert_scrape(77, 4, 0, 0, 0);
    assert_int_equal(sh.counts.swarms, 1);
    assert_null(get_swarm(77));

    /* The same peer ipv6 again and then v4: counted once, moved between counts. */
    announce_opts(1, 4, 104, 5, o, &r);
    assert_int_equal(sh.counts.ipv6, 1);
    announce_opts(1, 4, 104, 6, PLAIN, &r);
    assert_int_equal(sh.counts.ipv6, 0);
    assert_int_equal(sh.counts.peers, 4);
    check_shard();
}

static void test_refresh_no_double_count(void **state)
{
    (void)state;
    struct shard_result r;
    announce_left(1, 1, 101, 0, PROTO_LEFT_NONZERO, &r);
    announce_left(1, 2, 102, 0, PROTO_LEFT_ZERO, &r);
    static const enum proto_event evs[] = {PROTO_EVENT_UPDATE, PROTO_EVENT_STARTED,
                                           PROTO_EVENT_PAUSED, PROTO_EVENT_UPDATE};
    for (int round = 0; round < 5; round++) {
        for (size_t e = 0; e < sizeof evs / sizeof evs[0]; e++) {
            announce_event(1, 1, 101, 10 + round, evs[e], &r);
            assert_int_equal(r.complete, 1);
            assert_int_equal(r.incomplete, 1);
            announce_event(1, 2, 102, 10 + round, evs[e], &r); /* left absent: stays a seeder */
            assert_int_equal(r.complete, 1);
            assert_int_equal(r.incomplete, 1);
        }
    }
    assert_int_equal(sh.counts.peers, 2);
    assert_int_equal(sh.counts.swarms, 1);
    assert_int_equal(need_peer(1, 1)->last_ms, 14);
    assert_scrape(1, 20, 1, 1, 0);
    check_shard();
    /* The same peer_id on another connection is refused while its own
     * connection holds it (issue 9: no takeover by a stranger). */
    announce_left(1, 1, 555, 30, PROTO_LEFT_NONZERO, &r);
    assert_int_equal(r.refused, PROTO_ERR_PEER_ID_IN_USE);
    assert_false(r.respond && r.n);
    assert_int_equal(r.n, 0);
    assert_int_equal(sh.counts.peers, 2);
    assert_int_equal(sh.counts.in_use, 1);
    assert_int_equal(need_peer(1, 1)->conn, 101);
    assert_int_equal(need_peer(1, 1)->last_ms, 14); /* not refreshed either */
    check_shard();
}

static void test_seeder_transitions(void **state)
{
    (void)state;
    struct shard_result r;
    /* Via left 0: a seeder, no download counted. */
    announce_left(1, 1, 101, 0, PROTO_LEFT_NONZERO, &r);
    announce_left(1, 1, 101, 1, PROTO_LEFT_ZERO, &r);
    assert_int_equal(r.complete, 1);
    assert_int_equal(r.incomplete, 0);
    assert_scrape(1, 1, 1, 0, 0);
    assert_true(need_peer(1, 1)->seeder);

    /* Via completed: a seeder, downloaded counted once. */
    announce_left(1, 2, 102, 2, PROTO_LEFT_NONZERO, &r);
    assert_int_equal(r.incomplete, 1);
    announce_event(1, 2, 102, 3, PROTO_EVENT_COMPLETED, &r);
    assert_int_equal(r.complete, 2);
    assert_int_equal(r.incomplete, 0);
    assert_scrape(1, 3, 2, 0, 1);
    announce_event(1, 2, 102, 4, PROTO_EVENT_COMPLETED, &r);
    assert_scrape(1, 4, 2, 0, 1);
    announce_event(1, 2, 102, 5, PROTO_EVENT_UPDATE, &r);
    assert_scrape(1, 5, 2, 0, 1);

    /* Back to leecher with left > 0; completing again is not a second download. */
    announce_left(1, 2, 102, 6, PROTO_LEFT_NONZERO, &r);
    assert_int_equal(r.complete, 1);
    assert_int_equal(r.incomplete, 1);
    assert_false(need_peer(1, 2)->seeder);
    assert_scrape(1, 6, 1, 1, 1);
    announce_event(1, 2, 102, 7, PROTO_EVENT_COMPLETED, &r);
    assert_scrape(1, 7, 2, 0, 1);

    /* completed with left 0 together: one download. */
    announce_left(1, 3, 103, 8, PROTO_LEFT_NONZERO, &r);
    struct ann_opts o = PLAIN;
    o.event = PROTO_EVENT_COMPLETED;
    o.left = PROTO_LEFT_ZERO;
    announce_opts(1, 3, 103, 9, o, &r);
    assert_scrape(1, 9, 3, 0, 2);

    /* A new peer whose first announce is completed. */
    announce_event(1, 4, 104, 10, PROTO_EVENT_COMPLETED, &r);
    assert_int_equal(r.complete, 4);
    assert_scrape(1, 10, 4, 0, 3);

    /* A new peer that starts as a seeder (left 0) downloaded nothing here. */
    announce_left(1, 5, 105, 11, PROTO_LEFT_ZERO, &r);
    assert_scrape(1, 11, 5, 0, 3);

    /* A seeder announcing without left stays a seeder; left absent never demotes. */
    announce_left(1, 5, 105, 12, PROTO_LEFT_ABSENT, &r);
    assert_true(need_peer(1, 5)->seeder);
    assert_int_equal(sh.counts.seeders, 5);
    assert_int_equal(sh.counts.leechers, 0);
    check_shard();
}

/* ---- stopped, remove, moved peers ---- */

static void test_stopped(void **state)
{
    (void)state;
    struct shard_result r;
    announce_left(1, 1, 101, 0, PROTO_LEFT_NONZERO, &r);
    announce_left(2, 1, 101, 0, PROTO_LEFT_NONZERO, &r); /* the same peer in swarm 2 */
    announce_left(1, 2, 102, 0, PROTO_LEFT_ZERO, &r);
    announce_left(2, 2, 102, 0, PROTO_LEFT_ZERO, &r);
    assert_int_equal(sh.counts.peers, 4);

    /* stopped from the wrong connection: nothing removed. */
    announce_event(1, 1, 999, 1, PROTO_EVENT_STOPPED, &r);
    assert_true(r.respond);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.complete, 1);
    assert_int_equal(r.incomplete, 1);
    assert_non_null(get_peer(1, 1));
    assert_int_equal(need_peer(1, 1)->conn, 101);

    /* stopped with offers: only (swarm 1, peer 1) goes; nothing forwarded. */
    struct ann_opts o = PLAIN;
    o.event = PROTO_EVENT_STOPPED;
    o.offers = 5;
    announce_opts(1, 1, 101, 2, o, &r);
    assert_true(r.respond);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.complete, 1);
    assert_int_equal(r.incomplete, 0);
    assert_null(get_peer(1, 1));
    assert_non_null(get_peer(1, 2));
    assert_non_null(get_peer(2, 1));
    assert_non_null(get_peer(2, 2));
    assert_int_equal(sh.counts.peers, 3);
    assert_scrape(2, 2, 1, 1, 0);
    check_shard();

    /* stopped again, or for a peer never seen: no change. */
    announce_event(1, 1, 101, 3, PROTO_EVENT_STOPPED, &r);
    announce_event(1, 42, 142, 3, PROTO_EVENT_STOPPED, &r);
    assert_int_equal(sh.counts.peers, 3);
    assert_int_equal(r.complete, 1);
    assert_int_equal(r.incomplete, 0);

    /* stopped for an unknown swarm: no swarm is created. */
    announce_event(9, 1, 101, 4, PROTO_EVENT_STOPPED, &r);
    assert_true(r.respond);
    assert_int_equal(r.complete, 0);
    assert_int_equal(r.incomplete, 0);
    assert_int_equal(sh.counts.swarms, 2);
    assert_null(get_swarm(9));

    /* The last peer stopping leaves an empty swarm that still scrapes. */
    announce_event(1, 2, 102, 5, PROTO_EVENT_STOPPED, &r);
    assert_int_equal(r.complete, 0);
    assert_int_equal(r.incomplete, 0);
    assert_int_equal(sh.counts.swarms, 2);
    assert_int_equal(sh.counts.active_swarms, 1);
    assert_non_null(get_swarm(1));
    check_shard();
}

static void test_remove_and_moved_peer(void **state)
{
    (void)state;
    struct shard_result r;
    announce_left(1, 1, 101, 0, PROTO_LEFT_NONZERO, &r);
    announce_left(1, 2, 102, 0, PROTO_LEFT_NONZERO, &r);

    /* Wrong connection: stays. */
    remove_peer(1, 1, 102, 1);
    remove_peer(1, 1, ROUTE_CONN_NONE, 1);
    assert_non_null(get_peer(1, 1));
    /* Unknown swarm / peer: nothing happens. */
    remove_peer(5, 1, 101, 1);
    remove_peer(1, 7, 101, 1);
    assert_int_equal(sh.counts.peers, 2);

    /* Connection 201 cannot take peer 1 while 101 holds it; once 101's close
     * has removed it, 201 announcing it is a new peer (a reconnect). */
    announce_left(1, 1, 201, 2, PROTO_LEFT_ABSENT, &r);
    assert_int_equal(r.refused, PROTO_ERR_PEER_ID_IN_USE);
    assert_int_equal(need_peer(1, 1)->conn, 101);
    remove_peer(1, 1, 101, 3);
    assert_null(get_peer(1, 1));
    announce_left(1, 1, 201, 3, PROTO_LEFT_ABSENT, &r);
    assert_int_equal(r.refused, PROTO_OK);
    assert_int_equal(sh.counts.peers, 2);
    assert_int_equal(need_peer(1, 1)->conn, 201);

    /* Offers to the reconnected peer go to its new connection. */
    struct ann_opts o = PLAIN;
    o.offers = 3;
    announce_opts(1, 2, 102, 4, o, &r);
    check_offers(&r, 1, 102);
    assert_int_equal(r.d[0].conn, 201);

    /* stopped from the old connection does not remove it either. */
    announce_event(1, 1, 101, 5, PROTO_EVENT_STOPPED, &r);
    assert_non_null(get_peer(1, 1));

    remove_peer(1, 1, 201, 6);
    assert_null(get_peer(1, 1));
    assert_int_equal(sh.counts.peers, 1);
    remove_peer(1, 2, 102, 6);
    assert_int_equal(sh.counts.peers, 0);
    assert_int_equal(sh.counts.swarms, 1);
    assert_int_equal(sh.counts.active_swarms, 0);
    check_shard();
}

/* ---- expiry ---- */

static void test_expiry(void **state)
{
    (void)state;
    struct shard_limits lim = default_lim;
    lim.peer_timeout_ms = 1000;
    reset(&lim);
    struct shard_result r;

    announce_left(1, 1, 101, 0, PROTO_LEFT_NONZERO, &r);
    announce_event(2, 3, 103, 200, PROTO_EVENT_COMPLETED, &r);
    announce_left(1, 2, 102, 500, PROTO_LEFT_ZERO, &r);
    check_shard();

    assert_int_equal(shard_expire_step(&sh, 999, 100), 0);
    assert_int_equal(sh.counts.peers, 3);
    assert_int_equal(shard_expire_step(&sh, 1000, 100), 1); /* peer 1: 1000 ms old */
    assert_null(get_peer(1, 1));
    assert_int_equal(sh.counts.expired, 1);
    assert_int_equal(sh.counts.peers, 2);
    check_shard();

    assert_int_equal(shard_expire_step(&sh, 1200, 100), 1); /* peer 3, swarm 2 empties */
    assert_int_equal(sh.counts.swarms, 2);
    assert_int_equal(sh.counts.active_swarms, 1);
    assert_scrape(2, 1200, 0, 0, 1); /* an empty swarm keeps its downloaded count */
    check_shard();

    assert_int_equal(shard_expire_step(&sh, 1500, 100), 1); /* peer 2, swarm 1 empties */
    assert_int_equal(sh.counts.peers, 0);
    assert_int_equal(sh.counts.swarms, 2);
    assert_int_equal(sh.counts.active_swarms, 0);
    assert_int_equal(sh.counts.expired, 3);

    assert_int_equal(shard_expire_step(&sh, 2199, 100), 0);
    assert_int_equal(sh.counts.swarms, 2);
    assert_int_equal(shard_expire_step(&sh, 2200, 100), 1); /* swarm 2 freed */
    assert_int_equal(sh.counts.swarms, 1);
    assert_null(get_swarm(2));
    assert_scrape(2, 2200, 0, 0, 0);
    assert_int_equal(shard_expire_step(&sh, 2499, 100), 0);
    assert_int_equal(shard_expire_step(&sh, 2500, 100), 1); /* swarm 1 freed */
    assert_int_equal(sh.counts.swarms, 0);
    assert_null(sh.swarms);
    assert_int_equal(shard_expire_step(&sh, 100000, 100), 0);
    check_shard();

    /* Re-announcing resets the clock. */
    announce_left(3, 1, 101, 10000, PROTO_LEFT_NONZERO, &r);
    announce_left(3, 1, 101, 10900, PROTO_LEFT_NONZERO, &r);
    assert_int_equal(shard_expire_step(&sh, 11000, 100), 0);
    assert_int_equal(shard_expire_step(&sh, 11899, 100), 0);
    assert_int_equal(shard_expire_step(&sh, 11900, 100), 1);
    check_shard();

    /* A swarm that gets a peer again leaves the empty list. */
    announce_left(3, 2, 102, 12000, PROTO_LEFT_NONZERO, &r);
    assert_int_equal(shard_expire_step(&sh, 12950, 100), 0);
    assert_int_equal(sh.counts.swarms, 1);
    assert_non_null(get_peer(3, 2));
    check_shard();
}

static void test_expiry_budget(void **state)
{
    (void)state;
    struct shard_limits lim = default_lim;
    lim.peer_timeout_ms = 1000;
    reset(&lim);
    struct shard_result r;
    for (unsigned k = 0; k < 10; k++)
        announce_left(k, k, 100 + k, (int64_t)k, PROTO_LEFT_NONZERO, &r);
    for (unsigned k = 0; k < 5; k++)
        announce_left(0, 100 + k, 200 + k, 20, PROTO_LEFT_NONZERO, &r);
    /* 15 peers expire at t=5000, 3 per step, oldest first. */
    for (int step = 0; step < 5; step++) {
        assert_int_equal(shard_expire_step(&sh, 5000, 3), 3);
        assert_int_equal(sh.counts.peers, 15 - 3 * (uint64_t)(step + 1));
        check_shard();
        if (step == 0) {
            assert_null(get_peer(0, 0));
            assert_null(get_peer(2, 2));
            assert_non_null(get_peer(3, 3));
        }
    }
    /* Swarms emptied at t=5000 are kept until t=6000. */
    assert_int_equal(shard_expire_step(&sh, 5000, 3), 0);
    assert_int_equal(shard_expire_step(&sh, 5999, 100), 0);
    assert_int_equal(sh.counts.swarms, 10);
    assert_int_equal(shard_expire_step(&sh, 6000, 4), 4);
    assert_int_equal(sh.counts.swarms, 6);
    assert_int_equal(shard_expire_step(&sh, 6000, 0), 0);
    assert_int_equal(shard_expire_step(&sh, 6000, 100), 6);
    assert_int_equal(sh.counts.swarms, 0);
    check_shard();
}

/* An expired peer is never an offer or answer target, even before the sweep. */
static void test_expired_never_target(void **state)
{
    (void)state;
    struct shard_limits lim = default_lim;
    lim.peer_timeout_ms = 1000;
    reset(&lim);
    struct shard_result r;
    for (unsigned k = 0; k < 20; k++)
        announce_left(1, k, 100 + k, 0, PROTO_LEFT_NONZERO, &r); /* expire at 1000 */
    for (unsigned k = 20; k < 25; k++)
        announce_left(1, k, 100 + k, 600, PROTO_LEFT_NONZERO, &r); /* expire at 1600 */
    struct ann_opts o = PLAIN;
    o.offers = 10;
    for (int run = 0; run < 200; run++) {
        announce_opts(1, 99, 199, 1100, o, &r);
        assert_true(r.respond);
        assert_int_equal(r.complete + r.incomplete, 6);
        check_offers(&r, 5, 199);
        for (uint32_t q = 0; q < r.n; q++)
            assert_true(r.d[q].conn >= 120 && r.d[q].conn < 125);
    }
    assert_int_equal(sh.counts.expired, 20);
    check_shard();

    /* An answer to an expired peer is dropped. */
    o = PLAIN;
    o.answer_to = 20;
    announce_opts(1, 99, 199, 1600, o, &r);
    assert_false(r.respond);
    assert_true(r.answer_dropped);
    assert_int_equal(r.n, 0);

    /* Scrape does not count expired peers either. */
    assert_scrape(1, 1600, 0, 1, 0);
    check_shard();
}

/* ---- the per-swarm cap ---- */

static void test_cap_evicts_least_recent(void **state)
{
    (void)state;
    struct shard_limits lim = default_lim;
    lim.max_peers_per_swarm = 5;
    reset(&lim);
    struct shard_result r;
    for (unsigned k = 0; k < 5; k++)
        announce_left(1, k, 100 + k, (int64_t)k, k == 1 ? PROTO_LEFT_ZERO : PROTO_LEFT_NONZERO, &r);
    announce_left(1, 0, 100, 5, PROTO_LEFT_ABSENT, &r); /* protects peer 0 */
    announce_left(1, 5, 105, 6, PROTO_LEFT_NONZERO, &r);
    assert_int_equal(sh.counts.evicted, 1);
    assert_non_null(get_peer(1, 0));
    assert_null(get_peer(1, 1));     /* the least recently announced */
    assert_int_equal(r.complete, 0); /* peer 1 was the seeder */
    assert_int_equal(r.incomplete, 5);
    assert_int_equal(need_swarm(1)->n, 5);
    check_shard();

    announce_left(1, 6, 106, 7, PROTO_LEFT_NONZERO, &r);
    assert_null(get_peer(1, 2));
    announce_left(1, 3, 103, 8, PROTO_LEFT_NONZERO, &r);
    announce_left(1, 7, 107, 9, PROTO_LEFT_NONZERO, &r);
    assert_null(get_peer(1, 4));
    assert_non_null(get_peer(1, 3));
    assert_int_equal(sh.counts.evicted, 3);
    assert_int_equal(sh.counts.peers, 5);

    /* The cap is per swarm: another swarm fills independently. */
    for (unsigned k = 0; k < 5; k++)
        announce_left(2, k, 300 + k, 10, PROTO_LEFT_NONZERO, &r);
    assert_int_equal(sh.counts.evicted, 3);
    assert_int_equal(sh.counts.peers, 10);
    check_shard();
}

/* Against a model of recency order, for caps 1..8 and random announce orders. */
static void test_cap_model(void **state)
{
    (void)state;
    uint64_t x = 42;
    for (uint32_t cap = 1; cap <= 8; cap++) {
        struct shard_limits lim = default_lim;
        lim.max_peers_per_swarm = cap;
        reset(&lim);
        unsigned model[8]; /* peer numbers, least recent first */
        uint32_t mn = 0;
        uint64_t evicted = 0;
        for (int step = 0; step < 400; step++) {
            struct shard_result r;
            unsigned peer = (unsigned)(shard_rand(&x) % 12);
            announce_left(1, peer, 1000 + peer, step, PROTO_LEFT_NONZERO, &r);
            uint32_t at = mn;
            for (uint32_t k = 0; k < mn; k++)
                if (model[k] == peer)
                    at = k;
            if (at < mn) {
                memmove(model + at, model + at + 1, (mn - at - 1) * sizeof model[0]);
                mn--;
            } else if (mn == cap) {
                memmove(model, model + 1, (mn - 1) * sizeof model[0]);
                mn--;
                evicted++;
            }
            model[mn++] = peer;
            assert_int_equal(need_swarm(1)->n, mn);
            assert_int_equal(sh.counts.evicted, evicted);
            for (uint32_t k = 0; k < mn; k++)
                assert_non_null(get_peer(1, model[k]));
            /* The swarm's recency list is the model's order. */
            uint32_t k = 0;
            struct list_node *head = &need_swarm(1)->by_age;
            for (struct list_node *n = head->next; n != head; n = n->next, k++) {
                const struct shard_peer *p = LIST_ENTRY(n, struct shard_peer, sw_link);
                uint8_t pid[PROTO_ID_LEN];
                make_id(pid, 'P', model[k]);
                assert_memory_equal(p->peer_id, pid, PROTO_ID_LEN);
            }
            assert_int_equal(k, mn);
        }
        check_shard();
    }
}

/* ---- offer targets ---- */

/* Every swarm size 1..50, offers 0..12 with max_offers 10, several senders. */
static void test_targets_all_sizes(void **state)
{
    (void)state;
    struct shard_result r;
    for (unsigned n = 1; n <= 50; n++) {
        for (unsigned k = 0; k < n; k++)
            announce_left(n, k, (uint64_t)n * 1000 + k, 2 * (int64_t)n, PROTO_LEFT_NONZERO, &r);
        const unsigned senders[] = {0, n / 2, n - 1};
        for (size_t s = 0; s < 3; s++) {
            unsigned sender = senders[s];
            uint64_t sconn = (uint64_t)n * 1000 + sender;
            for (uint32_t offers = 0; offers <= 12; offers++) {
                struct ann_opts o = PLAIN;
                o.offers = offers;
                announce_opts(n, sender, sconn, 2 * (int64_t)n + 1, o, &r);
                assert_true(r.respond);
                assert_false(r.answer_dropped);
                assert_int_equal(r.complete + r.incomplete, n);
                check_offers(&r, min3(offers, 10, n - 1), sconn);
                for (uint32_t q = 0; q < r.n; q++) {
                    /* a peer of this swarm */
                    assert_int_equal(r.d[q].conn / 1000, n);
                    assert_true(r.d[q].conn % 1000 < n);
                }
            }
        }
    }
    assert_int_equal(sh.counts.swarms, 50);
    assert_int_equal(sh.counts.peers, 50 * 51 / 2);
    check_shard();
}

/* A new sender (not yet in the swarm) and other max_offers values. */
static void test_targets_limits(void **state)
{
    (void)state;
    struct shard_result r;
    static const uint32_t maxes[] = {0, 1, 5, PROTO_OFFERS_MAX};
    for (size_t m = 0; m < sizeof maxes / sizeof maxes[0]; m++) {
        struct shard_limits lim = default_lim;
        lim.max_offers = maxes[m];
        reset(&lim);
        for (unsigned n = 0; n <= 40; n++) {
            /* n peers already there; the sender is new each time. */
            struct ann_opts o = PLAIN;
            o.offers = PROTO_OFFERS_MAX;
            announce_opts(1, 1000 + n, 5000 + n, 1, o, &r);
            check_offers(&r, min3(PROTO_OFFERS_MAX, maxes[m], n), 5000 + n);
            assert_int_equal(r.complete + r.incomplete, n + 1);
        }
        check_shard();
    }
}

static void test_targets_uniform(void **state)
{
    (void)state;
    struct shard_result r;
    struct ann_opts o = PLAIN;

    /* n = 10, 3 offers: each of the 9 others is chosen with probability 1/3. */
    for (unsigned k = 0; k < 10; k++)
        announce_left(1, k, k, 0, PROTO_LEFT_NONZERO, &r);
    unsigned hits[64] = {0};
    o.offers = 3;
    for (int run = 0; run < 9000; run++) {
        announce_opts(1, 0, 0, 1, o, &r);
        check_offers(&r, 3, 0);
        for (uint32_t q = 0; q < r.n; q++)
            hits[r.d[q].conn]++;
    }
    assert_int_equal(hits[0], 0);
    for (unsigned k = 1; k < 10; k++)
        assert_in_range(hits[k], 2700, 3300); /* mean 3000, sd 45 */

    /* n = 50, 1 offer: each of 49 others with probability 1/49. */
    for (unsigned k = 0; k < 50; k++)
        announce_left(2, k, k, 2, PROTO_LEFT_NONZERO, &r);
    memset(hits, 0, sizeof hits);
    o.offers = 1;
    for (int run = 0; run < 49000; run++) {
        announce_opts(2, 7, 7, 3, o, &r);
        check_offers(&r, 1, 7);
        hits[r.d[0].conn]++;
    }
    assert_int_equal(hits[7], 0);
    for (unsigned k = 0; k < 50; k++)
        if (k != 7)
            assert_in_range(hits[k], 800, 1200); /* mean 1000, sd 31 */

    /* n = 5, 2 offers: each of the 6 pairs of the 4 others equally likely. */
    for (unsigned k = 0; k < 5; k++)
        announce_left(3, k, k, 4, PROTO_LEFT_NONZERO, &r);
    unsigned pairs[5][5];
    memset(pairs, 0, sizeof pairs);
    o.offers = 2;
    for (int run = 0; run < 6000; run++) {
        announce_opts(3, 4, 4, 5, o, &r);
        check_offers(&r, 2, 4);
        uint64_t a = r.d[0].conn, b = r.d[1].conn;
        pairs[a < b ? a : b][a < b ? b : a]++;
    }
    for (unsigned a = 0; a < 4; a++)
        for (unsigned b = a + 1; b < 4; b++)
            assert_in_range(pairs[a][b], 850, 1150); /* mean 1000, sd 29 */

    /* n = 2: the only other peer, every time. */
    for (unsigned k = 0; k < 2; k++)
        announce_left(4, k, 10 + k, 6, PROTO_LEFT_NONZERO, &r);
    o.offers = 10;
    for (int run = 0; run < 100; run++) {
        announce_opts(4, 0, 10, 7, o, &r);
        check_offers(&r, 1, 10);
        assert_int_equal(r.d[0].conn, 11);
    }
    check_shard();
}

/* Removing peers from the middle (dense-array swaps, array shrink) keeps targets right. */
static void test_targets_after_removals(void **state)
{
    (void)state;
    struct shard_result r;
    for (unsigned k = 0; k < 100; k++)
        announce_left(1, k, k, 0, PROTO_LEFT_NONZERO, &r);
    for (unsigned k = 0; k < 100; k++)
        if (k % 10 != 3)
            remove_peer(1, k, k, 1);
    check_shard();
    assert_int_equal(need_swarm(1)->n, 10);
    struct ann_opts o = PLAIN;
    o.offers = 12;
    for (int run = 0; run < 50; run++) {
        announce_opts(1, 3, 3, 2, o, &r);
        check_offers(&r, 9, 3);
        for (uint32_t q = 0; q < r.n; q++)
            assert_int_equal(r.d[q].conn % 10, 3);
    }
    check_shard();
}

/* ---- answers ---- */

static void test_answers(void **state)
{
    (void)state;
    struct shard_result r;
    announce_left(1, 1, 101, 0, PROTO_LEFT_NONZERO, &r);
    announce_left(1, 2, 102, 0, PROTO_LEFT_ZERO, &r);
    announce_left(2, 3, 103, 0, PROTO_LEFT_NONZERO, &r); /* only in swarm 2 */

    struct ann_opts o = PLAIN;
    o.answer_to = 1;
    announce_opts(1, 2, 102, 1, o, &r);
    assert_false(r.respond);
    assert_false(r.answer_dropped);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.d[0].kind, SHARD_ANSWER);
    assert_int_equal(r.d[0].conn, 101);
    assert_int_equal(r.complete, 1);
    assert_int_equal(r.incomplete, 1);
    assert_int_equal(sh.counts.peers, 3);
    assert_int_equal(need_peer(1, 2)->last_ms, 1); /* the answerer is refreshed */

    /* Unknown target, self, a peer of another swarm: dropped. */
    static const int targets[] = {9, 2, 3};
    for (size_t t = 0; t < 3; t++) {
        o.answer_to = targets[t];
        announce_opts(1, 2, 102, 2, o, &r);
        assert_false(r.respond);
        assert_true(r.answer_dropped);
        assert_int_equal(r.n, 0);
    }

    /* The target reconnected (its old connection's close removed it): the
     * answer follows it to the new connection. */
    remove_peer(1, 1, 101, 3);
    announce_left(1, 1, 301, 3, PROTO_LEFT_ABSENT, &r);
    o.answer_to = 1;
    announce_opts(1, 2, 102, 4, o, &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.d[0].conn, 301);

    /* An answerer not yet in the swarm is inserted and its answer delivered. */
    announce_opts(1, 4, 104, 5, o, &r);
    assert_false(r.respond);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.d[0].conn, 301);
    assert_non_null(get_peer(1, 4));
    assert_int_equal(r.incomplete, 2);

    /* Offers and an answer in one message: the offers, then the answer. */
    o.offers = 10;
    announce_opts(1, 2, 102, 6, o, &r);
    assert_false(r.respond);
    assert_int_equal(r.n, 3);
    for (uint32_t q = 0; q < 2; q++) {
        assert_int_equal(r.d[q].kind, SHARD_OFFER);
        assert_int_equal(r.d[q].offer, q);
        assert_true(r.d[q].conn == 301 || r.d[q].conn == 104);
    }
    assert_true(r.d[0].conn != r.d[1].conn);
    assert_int_equal(r.d[2].kind, SHARD_ANSWER);
    assert_int_equal(r.d[2].conn, 301);

    /* A stopped announce carrying an answer: nothing forwarded. */
    o.event = PROTO_EVENT_STOPPED;
    announce_opts(1, 2, 102, 7, o, &r);
    assert_int_equal(r.n, 0);
    assert_null(get_peer(1, 2));
    check_shard();
}

/* ---- many swarms, random operations, destroy ---- */

static void test_two_swarms(void **state)
{
    (void)state;
    struct shard_result r;
    announce_left(1, 1, 101, 0, PROTO_LEFT_NONZERO, &r);
    announce_left(2, 1, 101, 0, PROTO_LEFT_ZERO, &r);
    announce_left(1, 7, 107, 0, PROTO_LEFT_NONZERO, &r);
    announce_left(2, 8, 108, 0, PROTO_LEFT_NONZERO, &r);
    assert_int_equal(sh.counts.peers, 4);
    assert_int_equal(sh.counts.swarms, 2);
    assert_false(need_peer(1, 1)->seeder);
    assert_true(need_peer(2, 1)->seeder);

    struct ann_opts o = PLAIN;
    o.offers = 10;
    for (int run = 0; run < 50; run++) {
        announce_opts(2, 8, 108, 1, o, &r);
        check_offers(&r, 1, 108);
        assert_int_equal(r.d[0].conn, 101);
        announce_opts(1, 7, 107, 1, o, &r);
        check_offers(&r, 1, 107);
        assert_int_equal(r.d[0].conn, 101);
    }
    remove_peer(1, 1, 101, 2);
    assert_null(get_peer(1, 1));
    assert_non_null(get_peer(2, 1));
    announce_opts(1, 7, 107, 3, o, &r);
    check_offers(&r, 0, 107);
    check_shard();
}

/* ---- top rooms (the /stats page) ---- */

static void test_top(void **state)
{
    (void)state;
    struct shard_result r;
    uint8_t h4[SHARD_TOP][4];
    uint32_t peers[SHARD_TOP], n;
    /* swarm k gets k peers, k = 1..15: the 10 largest are 15..6, largest first */
    for (unsigned k = 1; k <= 15; k++)
        for (unsigned p = 0; p < k; p++)
            announce_left(k, 100 * k + p, 1000 + p, 0, PROTO_LEFT_NONZERO, &r);
    check_shard();
    n = shard_top(&sh, h4, peers);
    assert_int_equal(n, SHARD_TOP);
    for (unsigned k = 0; k < n; k++) {
        assert_int_equal(peers[k], 15 - k);
        assert_int_equal(h4[k][0], 'S');
    }
    /* a small swarm that grows past the smallest candidate takes its place
     * at its next announce */
    for (unsigned p = 1; p < 20; p++)
        announce_left(1, 100 + p, 2000 + p, 1, PROTO_LEFT_NONZERO, &r);
    n = shard_top(&sh, h4, peers);
    assert_int_equal(n, SHARD_TOP);
    assert_int_equal(peers[0], 20);
    assert_int_equal(peers[SHARD_TOP - 1], 7);
    /* an emptied swarm is left out; once freed it is no candidate (check_shard) */
    for (unsigned p = 0; p < 15; p++)
        remove_peer(15, 1500 + p, 1000 + p, 2);
    n = shard_top(&sh, h4, peers);
    assert_int_equal(n, SHARD_TOP - 1);
    assert_int_equal(peers[0], 20);
    assert_int_equal(peers[1], 14);
    shard_expire_step(&sh, 2 + default_lim.peer_timeout_ms, 100000);
    check_shard();
    assert_int_equal(shard_top(&sh, h4, peers), 0);
    assert_int_equal(sh.n_top, 9); /* empty, not yet freed (swarm 15, emptied at 2, was) */
    shard_expire_step(&sh, 3 + 2 * default_lim.peer_timeout_ms, 100000);
    check_shard();
    assert_int_equal(sh.n_top, 0);
}

/* ---- process-wide caps (issue 9) ---- */

static void test_peer_cap(void **state)
{
    (void)state;
    struct shard_limits lim = default_lim;
    struct shard_result r;
    lim.max_peers = 5;
    lim.max_peers_per_swarm = 3;
    reset(&lim);
    for (unsigned p = 0; p < 3; p++)
        announce_left(1, p, 100 + p, 0, PROTO_LEFT_NONZERO, &r);
    announce_left(2, 0, 200, 0, PROTO_LEFT_NONZERO, &r);
    announce_left(2, 1, 201, 0, PROTO_LEFT_NONZERO, &r);
    assert_int_equal(sh.counts.peers, 5);
    /* A new peer in a swarm with room: refused, and no empty swarm is left. */
    announce_left(2, 2, 202, 1, PROTO_LEFT_NONZERO, &r);
    assert_int_equal(r.refused, PROTO_ERR_TRACKER_FULL_PEERS);
    assert_false(r.respond && r.refused == PROTO_OK);
    announce_left(3, 0, 300, 1, PROTO_LEFT_NONZERO, &r);
    assert_int_equal(r.refused, PROTO_ERR_TRACKER_FULL_PEERS);
    assert_null(get_swarm(3));
    assert_int_equal(sh.counts.peers_refused, 2);
    /* A known peer still refreshes; a full swarm still takes a newcomer by
     * evicting its oldest (the total stays at the cap). */
    announce_left(2, 1, 201, 2, PROTO_LEFT_ZERO, &r);
    assert_int_equal(r.refused, PROTO_OK);
    assert_int_equal(r.complete, 1);
    announce_left(1, 9, 109, 3, PROTO_LEFT_NONZERO, &r);
    assert_int_equal(r.refused, PROTO_OK);
    assert_null(get_peer(1, 0));
    assert_int_equal(sh.counts.peers, 5);
    /* Room again after a stop. */
    announce_event(2, 0, 200, 4, PROTO_EVENT_STOPPED, &r);
    announce_left(2, 2, 202, 5, PROTO_LEFT_NONZERO, &r);
    assert_int_equal(r.refused, PROTO_OK);
    check_shard();
}

static void test_swarm_cap_reclaims_empty(void **state)
{
    (void)state;
    struct shard_limits lim = default_lim;
    struct shard_result r;
    lim.max_swarms = 3;
    reset(&lim);
    for (unsigned s = 0; s < 3; s++)
        announce_left(s, 1, 100 + s, 0, PROTO_LEFT_NONZERO, &r);
    announce_left(3, 1, 103, 1, PROTO_LEFT_NONZERO, &r);
    assert_int_equal(r.refused, PROTO_ERR_TRACKER_FULL_SWARMS);
    assert_null(get_swarm(3));
    assert_int_equal(sh.counts.swarms_refused, 1);
    /* Swarm 1 empties: it lingers, but gives way to a new swarm at once. */
    announce_event(1, 1, 101, 2, PROTO_EVENT_STOPPED, &r);
    assert_int_equal(sh.counts.swarms, 3);
    announce_left(3, 1, 103, 3, PROTO_LEFT_NONZERO, &r);
    assert_int_equal(r.refused, PROTO_OK);
    assert_null(get_swarm(1));
    assert_non_null(get_swarm(3));
    assert_int_equal(sh.counts.reclaimed, 1);
    assert_int_equal(sh.counts.swarms, 3);
    /* A stopped announce for an unknown swarm creates nothing, cap or not. */
    announce_event(7, 1, 107, 4, PROTO_EVENT_STOPPED, &r);
    assert_int_equal(r.refused, PROTO_OK);
    assert_null(get_swarm(7));
    check_shard();
}

static void test_in_use_answer_not_forwarded(void **state)
{
    (void)state;
    struct shard_result r;
    struct ann_opts o = PLAIN;
    announce_left(1, 1, 101, 0, PROTO_LEFT_NONZERO, &r);
    announce_left(1, 2, 102, 0, PROTO_LEFT_NONZERO, &r);
    /* An impostor answering as peer 1 on its own connection: nothing sent. */
    o.answer_to = 2;
    announce_opts(1, 1, 666, 1, o, &r);
    assert_int_equal(r.refused, PROTO_ERR_PEER_ID_IN_USE);
    assert_int_equal(r.n, 0);
    /* The real peer 1 answering is forwarded to peer 2's connection. */
    announce_opts(1, 1, 101, 2, o, &r);
    assert_int_equal(r.refused, PROTO_OK);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.d[0].conn, 102);
    assert_int_equal(r.d[0].kind, SHARD_ANSWER);
    /* Offers from peer 2 go to 101, never to the impostor. */
    o = PLAIN;
    o.offers = 5;
    announce_opts(1, 2, 102, 3, o, &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.d[0].conn, 101);
    check_shard();
}

static void test_random_operations(void **state)
{
    (void)state;
    struct shard_limits lim = {.max_peers_per_swarm = 7,
                               .max_offers = 4,
                               .peer_timeout_ms = 50,
                               .max_peers = 20,
                               .max_swarms = 3};
    reset(&lim);
    uint64_t x = 7;
    int64_t now = 0;
    for (int step = 0; step < 20000; step++) {
        struct shard_result r;
        unsigned op = (unsigned)(shard_rand(&x) % 100);
        unsigned swarm = (unsigned)(shard_rand(&x) % 4);
        unsigned peer = (unsigned)(shard_rand(&x) % 12);
        uint64_t conn = 1 + (shard_rand(&x) % 3) * 100 + peer;
        now += (int64_t)(shard_rand(&x) % 3);
        if (op < 60) {
            struct ann_opts o = PLAIN;
            o.event = (enum proto_event)(shard_rand(&x) % 5);
            o.left = (enum proto_left)(shard_rand(&x) % 3);
            o.offers = (uint32_t)(shard_rand(&x) % 6);
            o.answer_to = shard_rand(&x) % 4 == 0 ? (int)(shard_rand(&x) % 12) : -1;
            o.ipv6 = shard_rand(&x) % 2;
            struct shard_swarm *before = get_swarm(swarm);
            struct shard_peer *held = before ? get_peer(swarm, peer) : NULL;
            bool was_held = held && held->conn != conn && now - held->last_ms < lim.peer_timeout_ms;
            announce_opts(swarm, peer, conn, now, o, &r);
            assert_true(sh.counts.peers <= lim.max_peers);
            assert_true(sh.counts.swarms <= lim.max_swarms);
            if (o.event == PROTO_EVENT_STOPPED) {
                assert_int_equal(r.n, 0);
            } else if (was_held) {
                assert_int_equal(r.refused, PROTO_ERR_PEER_ID_IN_USE);
                assert_int_equal(r.n, 0);
            } else if (r.refused != PROTO_OK) {
                assert_int_equal(r.n, 0);
                assert_true(r.refused == PROTO_ERR_TRACKER_FULL_PEERS ||
                            r.refused == PROTO_ERR_TRACKER_FULL_SWARMS);
            } else {
                uint32_t offers = r.n - (o.answer_to >= 0 && !r.answer_dropped ? 1u : 0u);
                struct shard_swarm *sw = need_swarm(swarm);
                assert_int_equal(offers, min3(o.offers, 4, sw->n - 1));
                for (uint32_t q = 0; q < r.n; q++)
                    assert_true(r.d[q].conn != conn);
            }
        } else if (op < 80) {
            remove_peer(swarm, peer, conn, now);
        } else if (op < 90) {
            uint32_t c, i, d;
            scrape(swarm, now, &c, &i, &d);
        } else {
            shard_expire_step(&sh, now, shard_rand(&x) % 5);
        }
        check_shard();
    }
}

static void test_destroy_frees_everything(void **state)
{
    (void)state;
    struct shard_limits lim = default_lim;
    lim.peer_timeout_ms = 100;
    reset(&lim);
    struct shard_result r;
    for (unsigned s = 0; s < 200; s++)
        for (unsigned p = 0; p < 25; p++)
            announce_left(s, p, p, s < 100 ? 0 : 1000, PROTO_LEFT_NONZERO, &r);
    /* Half the swarms lose their peers and wait empty (freed at 1100). */
    shard_expire_step(&sh, 1000, 100000);
    shard_expire_step(&sh, 1050, 100000);
    assert_int_equal(sh.counts.swarms, 200);
    assert_int_equal(sh.counts.active_swarms, 100);
    for (unsigned s = 200; s < 220; s++)
        announce_event(s, 1, 1, 1050, PROTO_EVENT_STOPPED, &r); /* no swarm created */
    check_shard();
    shard_destroy(&sh);
    assert_null(sh.swarms);
    assert_true(list_empty(&sh.by_age));
    assert_true(list_empty(&sh.empty));
    assert_int_equal(sh.counts.peers, 0);
    assert_int_equal(sh.counts.swarms, 0);
    /* Usable again after create; teardown destroys it once more. */
    shard_create(&sh, rt.key, &default_lim);
    announce_left(1, 1, 1, 0, PROTO_LEFT_NONZERO, &r);
    assert_int_equal(sh.counts.peers, 1);
    check_shard();
}

static void test_rand(void **state)
{
    (void)state;
    /* splitmix64 reference values for seed 0 (Vigna's splitmix64.c). */
    uint64_t s = 0;
    assert_true(shard_rand(&s) == 0xe220a8397b1dcdafull);
    assert_true(shard_rand(&s) == 0x6e789e6aa1b965f4ull);
    assert_true(shard_rand(&s) == 0x06c45d188009454full);
}

/* Rooms (PROTOCOL.md 10) at the shard: an evicted peer is neither listed nor
 * reachable by a directed offer; the list is freshest first, K long, and
 * leaves the sender out. */
static void test_room_eviction_list_directed(void **state)
{
    struct shard_limits lim = default_lim;
    struct shard_result res;
    struct ann_opts o = PLAIN;
    (void)state;
    lim.max_peers_per_swarm = 3;
    reset(&lim);
    for (unsigned p = 0; p < 4; p++) /* peer 0 is evicted by peer 3 */
        announce_opts(1, p, route_conn_make(0, p, 1), 1000 + p * 1000, o, &res);
    assert_null(get_peer(1, 0));

    /* Peer 3 asks for 50: peers 2 and 1 (not 0, not itself), freshest first. */
    memset(&ann, 0, sizeof ann);
    make_id(ann.info_hash, 'S', 1);
    make_id(ann.peer_id, 'P', 3);
    ann.want_peers = 50;
    ann.n_offers = 2;
    make_id(ann.offers[0].offer_id, 'O', 0);
    ann.offers[0].directed = true;
    make_id(ann.offers[0].to_peer_id, 'P', 0); /* evicted */
    make_id(ann.offers[1].offer_id, 'O', 1);
    ann.offers[1].directed = true;
    make_id(ann.offers[1].to_peer_id, 'P', 1); /* a member */
    shard_announce(&sh, &ann, route_conn_make(0, 3, 1), false, 9000, &rng, &res);
    assert_int_equal(res.refused, PROTO_OK);
    assert_int_equal(res.n_listed, 2);
    make_id(ann.peer_id, 'P', 2);
    assert_memory_equal(res.listed[0].peer_id, ann.peer_id, PROTO_ID_LEN);
    assert_int_equal(res.listed[0].age_s, 6); /* announced at 3 s */
    make_id(ann.peer_id, 'P', 1);
    assert_memory_equal(res.listed[1].peer_id, ann.peer_id, PROTO_ID_LEN);
    assert_int_equal(res.listed[1].age_s, 7);
    assert_true(res.not_in_room);
    assert_int_equal(res.n, 1); /* only the offer to peer 1 */
    assert_int_equal(res.d[0].conn, route_conn_make(0, 1, 1));
    assert_int_equal(res.d[0].offer, 1);

    /* K bounds the list; a directed offer to oneself is not in the room either. */
    make_id(ann.peer_id, 'P', 3);
    ann.want_peers = 1;
    ann.n_offers = 1;
    make_id(ann.offers[0].to_peer_id, 'P', 3);
    shard_announce(&sh, &ann, route_conn_make(0, 3, 1), false, 9500, &rng, &res);
    assert_int_equal(res.n_listed, 1);
    assert_true(res.not_in_room);
    assert_int_equal(res.n, 0);
    assert_null(shard_check(&sh));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    route_create(&rt, 4);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_room_eviction_list_directed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_insert_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_no_double_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seeder_transitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stopped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_and_moved_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_never_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_evicts_least_recent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_targets_all_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_targets_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_targets_uniform, setup, teardown),
        cmocka_unit_test_setup_teardown(test_targets_after_removals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_swarms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_top, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swarm_cap_reclaims_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_use_answer_not_forwarded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_operations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_frees_everything, setup, teardown),
        cmocka_unit_test(test_rand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
