/* test_worker.c - unit tests of tracker/worker.c's mail between workers.
 *
 * Owns:   two workers made with worker_create and no lws context (t.down keeps
 *         the wake callback from calling lws); mail from worker 0 to worker 1
 *         that worker 1 does not drain, until its ring and backlog are full.
 * Why:    issue 10: a dropped scrape mail leaked its arrays and its client never
 *         got a reply; a dropped remove mail left a closed connection's peers
 *         in their swarms. Now every mail is one allocation (mail_free), and
 *         past the backlog cap only frames and announces are dropped. The
 *         sanitizer suite runs this under ASan: what is left at worker_destroy
 *         must be freed whatever its kind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../tracker/worker.h"

static struct tracker t;
static struct worker ws[2];

static int setup(void **state)
{
    (void)state;
    memset(&t, 0, sizeof t);
    t.cfg.max_peers_per_swarm = 10;
    t.cfg.max_offers = 5;
    t.cfg.peer_timeout = 60;
    t.n_workers = 2;
    t.workers = ws;
    t.max_peers = t.max_swarms = 100;
    atomic_init(&t.down, true); /* no lws contexts to wake */
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
    /* a remove and both scrapes are kept past the cap */
    worker_send(&ws[0], 1, remove_mail());
    worker_send(&ws[0], 1, scrape_mail());
    worker_send(&ws[0], 1, full_scrape_mail());
    assert_int_equal(dropped(), 10);
    assert_int_equal(ws[0].backlog[1].n, WORKER_BACKLOG_MAX + 3);

    /* Worker 1 drains; worker 0's passes move the backlog over, in order. */
    unsigned got = 0, frames = 0, last_kind = MAIL_FRAME;
    bool seen[MAIL_REMOVE + 1] = {false};
    for (unsigned pass = 0; pass < 1000 && got < MAILBOX_CAP + WORKER_BACKLOG_MAX + 3; pass++) {
        struct mail *m;
        mailbox_begin_drain(&ws[1].mb);
        while ((m = mailbox_pop(&ws[1].mb)) != NULL) {
            assert_true(m->kind <= MAIL_REMOVE);
            seen[m->kind] = true;
            frames += m->kind == MAIL_FRAME;
            if (m->kind == MAIL_FRAME)
                assert_int_equal(last_kind, MAIL_FRAME); /* the three come last */
            last_kind = m->kind;
            got++;
            mail_free(m);
        }
        worker_end_pass(&ws[0]);
    }
    assert_int_equal(got, MAILBOX_CAP + WORKER_BACKLOG_MAX + 3);
    assert_int_equal(frames, MAILBOX_CAP + WORKER_BACKLOG_MAX);
    assert_true(seen[MAIL_REMOVE] && seen[MAIL_SCRAPE] && seen[MAIL_FULL_SCRAPE]);
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
    worker_send(&ws[1], 0, scrape_mail());       /* in worker 0's own ring */
    worker_send(&ws[1], 0, full_scrape_mail());
    worker_send(&ws[1], 0, remove_mail());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_backlog_drops_frames_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_frees_every_kind, setup, teardown),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
