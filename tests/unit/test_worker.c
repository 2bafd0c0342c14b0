/* test_worker.c - unit tests of tracker/worker.c's mail between workers.
 *
 * Owns:   two workers made with worker_create, run by hand on this thread,
 *         and a recording struct worker_io in place of the network layer; mail from worker 0 to
 * worker 1 that worker 1 does not drain, until its ring and backlog are full; an announce whose
 * swarm is on the other worker, from message to reply. Why:    issue 10: a dropped scrape mail
 * leaked its arrays and its client never got a reply; a dropped remove mail left a closed
 * connection's peers in their swarms. Now every mail is one allocation (mail_free), and past the
 * backlog cap only frames and announces are dropped. The sanitizer suite runs this under ASan: what
 * is left at worker_destroy must be freed whatever its kind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "worker.h"

static struct tracker t;
static struct worker ws[2];

/* The network layer's side, recorded: frames handed to local connections. */
static struct {
    unsigned woken[2]; /* worker_io.wake calls per worker */
    unsigned n;
    unsigned worker;
    struct swarm_conn *conn;
    char text[512];
} delivered;

static int io_start(struct worker *w)
{
    (void)w;
    return 0;
}
static void io_wake(struct worker *w)
{
    delivered.woken[w->idx]++;
}
static void io_deliver(struct worker *w, struct swarm_conn *c, struct frame *f)
{
    size_t n = f->len < sizeof delivered.text - 1 ? f->len : sizeof delivered.text - 1;
    assert_int_equal(f->conn, c->ref); /* the slot table found the frame's connection */
    delivered.n++;
    delivered.worker = w->idx;
    delivered.conn = c;
    memcpy(delivered.text, frame_payload(f), n);
    delivered.text[n] = '\0';
    mail_free(&f->m);
}
static void io_stop(struct worker *w)
{
    (void)w;
}
static const struct worker_io test_io = {io_start, io_wake, io_deliver, io_stop, NULL};

static int setup(void **state)
{
    (void)state;
    memset(&t, 0, sizeof t);
    t.cfg.max_peers_per_swarm = 10;
    t.cfg.max_offers = 5;
    t.cfg.peer_timeout = 60;
    t.n_workers = 2;
    t.workers = ws;
    t.cfg.interval = 120;
    t.cfg.max_torrents_per_conn = 10;
    t.cfg.max_peer_ids_per_swarm = 2;
    t.cfg.max_scrape_hashes = 8;
    t.cfg.outq_hard_kib = 1024;
    t.cfg.relay = true;
    t.cfg.relay_max_bytes = 64;
    t.cfg.relay_rate_kib = 64;
    t.max_peers = t.max_swarms = 100;
    t.io = &test_io;
    memset(&delivered, 0, sizeof delivered);
    route_create(&t.route, 2);
    assert_int_equal(worker_create(&ws[0], &t, 0), 0);
    assert_int_equal(worker_create(&ws[1], &t, 1), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    worker_destroy(&ws[0]);
    worker_destroy(&ws[1]);
    return 0;
}

static struct mail *frame_mail(void)
{
    struct frame *f = frame_alloc(8);
    assert_non_null(f);
    f->conn = route_conn_make(1, 0, 1);
    return &f->m;
}

static struct mail *remove_mail(void)
{
    struct mail_remove *m = calloc(1, sizeof *m + sizeof m->pairs[0]);
    assert_non_null(m);
    m->m.kind = MAIL_REMOVE;
    m->n = 1;
    return &m->m;
}

static struct mail *scrape_mail(void)
{
    struct mail_scrape *s = mail_scrape_alloc(3);
    assert_non_null(s);
    return &s->m;
}

static struct mail *full_scrape_mail(void)
{
    struct mail_full_scrape *m = calloc(1, sizeof *m + 64);
    assert_non_null(m);
    m->m.kind = MAIL_FULL_SCRAPE;
    m->cap = 64;
    return &m->m;
}

static struct mail *relay_mail(void)
{
    struct mail_relay *m = calloc(1, sizeof *m + 3);
    assert_non_null(m);
    m->m.kind = MAIL_RELAY;
    m->data_len = 3;
    memcpy(m->data, "\"x\"", 3);
    return &m->m;
}

/* A relay's settlement: a frame with nothing to write. */
static struct mail *settle_mail(void)
{
    struct frame *f = frame_alloc(0);
    assert_non_null(f);
    f->conn = route_conn_make(1, 0, 1);
    f->reply = FRAME_REPLY_RELAY;
    f->debit_ms = 5;
    return &f->m;
}

static uint64_t dropped(void)
{
    return atomic_load(&ws[0].stats.v[STATS_MAIL_DROPPED]);
}

/* Fill worker 1's ring from worker 0 and worker 0's backlog for it. */
static void fill(void)
{
    for (unsigned k = 0; k < MAILBOX_CAP + WORKER_BACKLOG_MAX; k++)
        worker_send(&ws[0], 1, frame_mail());
    assert_int_equal(dropped(), 0);
    assert_int_equal(ws[0].backlog[1].n, WORKER_BACKLOG_MAX);
}

static void test_full_backlog_drops_frames_only(void **state)
{
    (void)state;
    fill();
    for (unsigned k = 0; k < 10; k++)
        worker_send(&ws[0], 1, frame_mail());
    assert_int_equal(dropped(), 10);
    {
        struct mail *m = relay_mail(); /* a directed relay: paid for, droppable like an offer */
        ((struct mail_relay *)m)->directed = true;
        worker_send(&ws[0], 1, m);
        assert_int_equal(dropped(), 11);
    }
    /* a relay's settlement, a remove, both scrapes and a relay are kept past the cap */
    worker_send(&ws[0], 1, settle_mail());
    worker_send(&ws[0], 1, remove_mail());
    worker_send(&ws[0], 1, scrape_mail());
    worker_send(&ws[0], 1, full_scrape_mail());
    worker_send(&ws[0], 1, relay_mail());
    assert_int_equal(dropped(), 11);
    assert_int_equal(ws[0].backlog[1].n, WORKER_BACKLOG_MAX + 5);

    /* Worker 1 drains; worker 0's passes move the backlog over, in order. */
    unsigned got = 0, frames = 0, last_kind = MAIL_FRAME;
    bool seen[MAIL_KINDS] = {false};
    for (unsigned pass = 0; pass < 1000 && got < MAILBOX_CAP + WORKER_BACKLOG_MAX + 5; pass++) {
        struct mail *m;
        mailbox_begin_drain(&ws[1].mb);
        while ((m = mailbox_pop(&ws[1].mb)) != NULL) {
            assert_true(m->kind < MAIL_KINDS);
            seen[m->kind] = true;
            frames += m->kind == MAIL_FRAME;
            if (m->kind == MAIL_FRAME)
                assert_int_equal(last_kind, MAIL_FRAME); /* the four others come last */
            last_kind = m->kind;
            got++;
            mail_free(m);
        }
        worker_end_pass(&ws[0]);
    }
    assert_int_equal(got, MAILBOX_CAP + WORKER_BACKLOG_MAX + 5);
    assert_int_equal(frames, MAILBOX_CAP + WORKER_BACKLOG_MAX + 1);
    assert_true(seen[MAIL_REMOVE] && seen[MAIL_SCRAPE] && seen[MAIL_FULL_SCRAPE] &&
                seen[MAIL_RELAY]);
    assert_int_equal(last_kind, MAIL_RELAY);
    assert_int_equal(ws[0].backlog[1].n, 0);
}

/* Mails of every kind left in the ring and the backlog: worker_destroy frees
 * them (LeakSanitizer, in tests/sanitize.sh, checks nothing is left). */
static void test_destroy_frees_every_kind(void **state)
{
    (void)state;
    fill();
    worker_send(&ws[0], 1, remove_mail());
    worker_send(&ws[0], 1, scrape_mail());
    worker_send(&ws[0], 1, full_scrape_mail());
    worker_send(&ws[1], 0, scrape_mail()); /* in worker 0's own ring */
    worker_send(&ws[1], 0, full_scrape_mail());
    worker_send(&ws[1], 0, remove_mail());
    worker_send(&ws[0], 1, relay_mail());
    worker_send(&ws[1], 0, relay_mail());
    worker_send(&ws[0], 1, settle_mail());
}

/* A 20-character info hash whose swarm worker `owner` holds. */
static void hash_owned_by(unsigned owner, char ih[21])
{
    for (unsigned k = 0; k < 1000; k++) {
        snprintf(ih, 21, "%020u", k);
        if (route_owner(&t.route, (const uint8_t *)ih) == owner)
            return;
    }
    fail_msg("no info hash owned by worker %u in 1000 tries", owner);
}

/* An announce on worker 0 for a swarm of worker 1: nothing is sent at once,
 * the announce goes by mail, worker 1's wakeup applies it and mails the
 * response back, and worker 0's wakeup hands it to the connection. */
static void test_announce_crosses_workers(void **state)
{
    struct swarm_conn c;
    char ih[21], msg[256];
    int n;
    (void)state;
    memset(&c, 0, sizeof c);
    hash_owned_by(1, ih);
    assert_int_not_equal(worker_conn_open(&ws[0], &c), ROUTE_CONN_NONE);
    n = snprintf(msg, sizeof msg,
                 "{\"action\":\"announce\",\"info_hash\":\"%s\","
                 "\"peer_id\":\"-WT0001-abcdefghijkl\",\"numwant\":0,\"left\":1}",
                 ih);
    worker_clock(&ws[0]);
    assert_int_equal(worker_message(&ws[0], &c, msg, (size_t)n, true, NULL, 0), 0);
    assert_int_equal(delivered.n, 0);
    assert_int_equal(ws[1].sw.shard.counts.peers, 0); /* not applied before worker 1 runs */
    worker_end_pass(&ws[0]);
    assert_int_equal(delivered.woken[1], 1); /* one wakeup for the mail */
    worker_drain(&ws[1]);                    /* applies it, mails the reply back */
    assert_int_equal(ws[1].sw.shard.counts.peers, 1);
    assert_int_equal(delivered.n, 0);
    assert_int_equal(delivered.woken[0], 1);
    worker_drain(&ws[0]); /* hands the reply to the connection */
    assert_int_equal(delivered.n, 1);
    assert_int_equal(delivered.worker, 0);
    assert_ptr_equal(delivered.conn, &c);
    assert_non_null(strstr(delivered.text, "\"action\":\"announce\""));
    assert_non_null(strstr(delivered.text, "\"incomplete\":1"));

    /* A relay to a room of worker 1 with no one else in it: it travels, is
     * settled by a frame with nothing to write, and the connection sees no
     * frame while its relay count goes back to 0. */
    n = snprintf(msg, sizeof msg,
                 "{\"action\":\"relay\",\"info_hash\":\"%s\","
                 "\"peer_id\":\"-WT0001-abcdefghijkl\",\"data\":\"hi\"}",
                 ih);
    assert_int_equal(worker_message(&ws[0], &c, msg, (size_t)n, true, NULL, 0), 0);
    assert_int_equal(c.relays, 1);
    worker_end_pass(&ws[0]);
    worker_drain(&ws[1]);
    worker_drain(&ws[0]);
    assert_int_equal(c.relays, 0);
    assert_int_equal(delivered.n, 1); /* still only the announce reply */

    /* Closing the connection removes its peer on worker 1, by mail. */
    worker_conn_closed(&ws[0], &c);
    assert_int_equal(c.ref, ROUTE_CONN_NONE);
    worker_end_pass(&ws[0]);
    assert_int_equal(delivered.woken[1], 3);
    assert_int_equal(ws[1].sw.shard.counts.peers, 1); /* not before worker 1 drains */
    worker_drain(&ws[1]);
    assert_int_equal(ws[1].sw.shard.counts.peers, 0);
}

/* Invalid UTF-8 in a rejected text message: the close code comes back to the
 * network layer, and nothing is sent. */
static void test_invalid_utf8_closes(void **state)
{
    struct swarm_conn c;
    const char bad[] = "{\"action\":\"\xff\"}";
    (void)state;
    memset(&c, 0, sizeof c);
    assert_int_not_equal(worker_conn_open(&ws[0], &c), ROUTE_CONN_NONE);
    assert_int_equal(worker_message(&ws[0], &c, bad, sizeof bad - 1, true, NULL, 0),
                     SWARM_CLOSE_INVALID_UTF8);
    assert_int_equal(worker_message(&ws[0], &c, bad, sizeof bad - 1, false, NULL, 0),
                     0);              /* binary */
    assert_int_equal(delivered.n, 1); /* the binary one got its failure reason */
    assert_non_null(strstr(delivered.text, "failure reason"));
    worker_conn_closed(&ws[0], &c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_backlog_drops_frames_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_frees_every_kind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_announce_crosses_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_utf8_closes, setup, teardown),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
