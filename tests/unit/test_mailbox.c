/* test_mailbox.c - unit tests for tracker/mailbox.c, the cross-worker queues.
 *
 * Owns:   nothing; drives one mailbox from the test thread, then from two and
 *         three producer threads and one consumer thread.
 * Thread: the threaded tests start their own pthreads; cmocka asserts run only
 *         on the test thread (threads record what they saw, the test checks it
 *         after joining them).
 * Why:    every mail must arrive exactly once and in order per producer, the ring
 *         must hold MAILBOX_CAP mails, and the wake protocol (wake after push,
 *         begin_drain before draining) must never lose a wakeup. Run under TSan.
 *
 * TSan and ck_ring: Concurrency Kit publishes ring slots with inline-asm stores
 * and fences (ck_pr), which TSan cannot see. mailbox.c itself tells TSan that a
 * mail is published by its push and received by its pop and suppresses reports
 * inside ck_ring.h; this file marks its mails the same way (harmless twice).
 * wake_pending, the wake callback and everything in this file stay checked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "mailbox.h"

#if defined(__SANITIZE_THREAD__)
#define TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_TSAN 1
#endif
#endif

#ifdef TEST_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define MAIL_PUBLISHED(m) __tsan_release(m)
#define MAIL_RECEIVED(m)  __tsan_acquire(m)
#else
#define MAIL_PUBLISHED(m) ((void)(m))
#define MAIL_RECEIVED(m)  ((void)(m))
#endif

#define N_PER_PRODUCER 200000u
#define MAX_PRODUCERS  3

/* One test message: the mail header first, as every cross-thread message. */
struct tmail {
    struct mail hdr;
    uint32_t producer;
    uint32_t seq;
};

/* ---- single thread ---- */

static atomic_int wake_calls;

static void count_wake(void *arg)
{
    atomic_fetch_add(&wake_calls, 1);
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void test_push_pop_order(void **state)
{
    (void)state;
    struct mailbox mb;
    atomic_int mine = 0;
    static struct tmail m[1000];
    assert_int_equal(mailbox_create(&mb, 1, count_wake, &mine), 0);
    assert_null(mailbox_pop(&mb));
    for (int round = 0; round < 3; round++) {
        for (uint32_t k = 0; k < 1000; k++) {
            m[k].seq = k;
            assert_int_equal(mailbox_push(&mb, 0, &m[k].hdr), 0);
        }
        for (uint32_t k = 0; k < 1000; k++) {
            struct mail *got = mailbox_pop(&mb);
            assert_ptr_equal(got, &m[k].hdr);
            assert_int_equal(((struct tmail *)got)->seq, k);
        }
        assert_null(mailbox_pop(&mb));
    }
    /* Interleaved push/pop keeps FIFO order across the ring's wrap. */
    uint32_t next_push = 0, next_pop = 0;
    for (int step = 0; step < 3 * MAILBOX_CAP; step++) {
        if (step % 3 != 2) {
            m[next_push % 1000].seq = next_push;
            if (mailbox_push(&mb, 0, &m[next_push % 1000].hdr) == 0)
                next_push++;
        } else {
            struct mail *got = mailbox_pop(&mb);
            if (next_pop < next_push) {
                assert_non_null(got);
                assert_int_equal(((struct tmail *)got)->seq, next_pop);
                next_pop++;
            } else {
                assert_null(got);
            }
        }
        if (next_push - next_pop >= 900) { /* keep slots of m[] unaliased */
            while (next_pop < next_push) {
                struct mail *got = mailbox_pop(&mb);
                assert_non_null(got);
                assert_int_equal(((struct tmail *)got)->seq, next_pop);
                next_pop++;
            }
        }
    }
    assert_int_equal(atomic_load(&mine), 0); /* push never wakes by itself */
    mailbox_destroy(&mb);
}

/* "MAILBOX_CAP: mails in flight per producer": that many pushes
 * succeed, the next one fails, and one pop makes room for exactly one more. */
static void test_capacity(void **state)
{
    (void)state;
    struct mailbox mb;
    atomic_int mine = 0;
    struct tmail *m = calloc(MAILBOX_CAP + 1, sizeof *m);
    assert_non_null(m);
    assert_int_equal(mailbox_create(&mb, 1, count_wake, &mine), 0);
    uint32_t pushed = 0;
    while (pushed <= MAILBOX_CAP && mailbox_push(&mb, 0, &m[pushed].hdr) == 0)
        pushed++;
    /* Whatever the capacity, a full ring gives back everything in order. */
    uint32_t cap = pushed;
    assert_int_equal(mailbox_push(&mb, 0, &m[MAILBOX_CAP].hdr), -1);
    struct mail *first = mailbox_pop(&mb);
    assert_ptr_equal(first, &m[0].hdr);
    assert_int_equal(mailbox_push(&mb, 0, &m[0].hdr), 0);
    assert_int_equal(mailbox_push(&mb, 0, &m[MAILBOX_CAP].hdr), -1);
    for (uint32_t k = 1; k < cap; k++)
        assert_ptr_equal(mailbox_pop(&mb), &m[k].hdr);
    assert_ptr_equal(mailbox_pop(&mb), &m[0].hdr);
    assert_null(mailbox_pop(&mb));
    mailbox_destroy(&mb);
    free(m);
    if (cap != MAILBOX_CAP)
        fail_msg("the mailbox holds %u mails, MAILBOX_CAP is %u", cap, (unsigned)MAILBOX_CAP);
}

static void test_wake_coalescing(void **state)
{
    (void)state;
    struct mailbox mb;
    atomic_int mine = 0;
    struct tmail m = {{NULL, 0, 0, 0}, 0, 0};
    assert_int_equal(mailbox_create(&mb, 1, count_wake, &mine), 0);
    for (int k = 0; k < 100; k++)
        mailbox_wake(&mb);
    assert_int_equal(atomic_load(&mine), 1);
    mailbox_begin_drain(&mb);
    assert_int_equal(atomic_load(&mine), 1); /* begin_drain does not wake */
    mailbox_wake(&mb);
    assert_int_equal(atomic_load(&mine), 2);
    for (int k = 0; k < 10; k++) {
        assert_int_equal(mailbox_push(&mb, 0, &m.hdr), 0);
        mailbox_wake(&mb);
        assert_ptr_equal(mailbox_pop(&mb), &m.hdr);
    }
    assert_int_equal(atomic_load(&mine), 2); /* popping is not begin_drain */
    mailbox_begin_drain(&mb);
    mailbox_begin_drain(&mb);
    mailbox_wake(&mb);
    mailbox_wake(&mb);
    assert_int_equal(atomic_load(&mine), 3);
    /* One wake per drain cycle. */
    for (int k = 0; k < 50; k++) {
        mailbox_begin_drain(&mb);
        mailbox_wake(&mb);
        mailbox_wake(&mb);
    }
    assert_int_equal(atomic_load(&mine), 53);
    mailbox_destroy(&mb);

    /* The callback gets its own argument; two mailboxes keep separate flags. */
    struct mailbox a, b;
    atomic_int wa = 0, wb = 0;
    assert_int_equal(mailbox_create(&a, 1, count_wake, &wa), 0);
    assert_int_equal(mailbox_create(&b, 1, count_wake, &wb), 0);
    mailbox_wake(&a);
    mailbox_wake(&a);
    mailbox_wake(&b);
    mailbox_begin_drain(&a);
    mailbox_wake(&b);
    mailbox_wake(&a);
    assert_int_equal(atomic_load(&wa), 2);
    assert_int_equal(atomic_load(&wb), 1);
    mailbox_destroy(&a);
    mailbox_destroy(&b);
}

/* ---- producers and a consumer ---- */

struct run {
    struct mailbox mb;
    sem_t wakeups; /* posted by the wake callback */
    atomic_int wakes;
    unsigned n_producers;
    struct tmail *mails[MAX_PRODUCERS];
    /* written by the consumer, read by the test after joining */
    uint64_t received;
    uint64_t out_of_order, bad_producer, duplicates;
    uint64_t lost_wakeups; /* waits that timed out with mail queued */
    uint64_t drains;
    /* written by producers */
    uint64_t full[MAX_PRODUCERS];
};

struct producer_arg {
    struct run *run;
    uint32_t id;
};

static void sem_wake(void *arg)
{
    struct run *run = arg;
    atomic_fetch_add_explicit(&run->wakes, 1, memory_order_relaxed);
    sem_post(&run->wakeups);
}

static void *producer(void *p)
{
    struct producer_arg *a = p;
    struct run *run = a->run;
    struct tmail *m = run->mails[a->id];
    /* Producer 0 wakes after every push, the others in batches (as workers do:
     * one wake per destination per loop pass). */
    uint32_t batch = a->id == 0 ? 1 : (a->id == 1 ? 64 : 1000);
    for (uint32_t seq = 0; seq < N_PER_PRODUCER; seq++) {
        m[seq].producer = a->id;
        m[seq].seq = seq;
        MAIL_PUBLISHED(&m[seq]);
        while (mailbox_push(&run->mb, a->id, &m[seq].hdr) != 0) {
            run->full[a->id]++;
            mailbox_wake(&run->mb); /* the consumer must run to make room */
            sched_yield();
        }
        if ((seq + 1) % batch == 0)
            mailbox_wake(&run->mb);
    }
    mailbox_wake(&run->mb);
    return NULL;
}

static void *consumer(void *p)
{
    struct run *run = p;
    uint64_t total = (uint64_t)run->n_producers * N_PER_PRODUCER;
    uint32_t next[MAX_PRODUCERS] = {0};
    while (run->received < total) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (run->lost_wakeups == 0) {
            ts.tv_sec += 10;
        } else {
            /* Wakeups are broken (the test fails): poll, to end quickly. */
            ts.tv_nsec += 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
        }
        int r;
        while ((r = sem_timedwait(&run->wakeups, &ts)) != 0 && errno == EINTR)
            ;
        mailbox_begin_drain(&run->mb);
        run->drains++;
        struct mail *got;
        uint64_t before = run->received;
        while ((got = mailbox_pop(&run->mb)) != NULL) {
            struct tmail *t = (struct tmail *)got;
            MAIL_RECEIVED(t);
            run->received++;
            if (t->producer >= run->n_producers) {
                run->bad_producer++;
                continue;
            }
            if (t->seq < next[t->producer])
                run->duplicates++;
            else if (t->seq != next[t->producer])
                run->out_of_order++;
            next[t->producer] = t->seq + 1;
        }
        if (r != 0 && run->received > before)
            run->lost_wakeups++; /* mail was waiting, but no wake came for 10 s */
        if (r != 0 && run->received == before && run->lost_wakeups == 0)
            break; /* nothing arrives at all: give up rather than hang */
    }
    return NULL;
}

static void run_producers(unsigned n_producers)
{
    struct run *run = calloc(1, sizeof *run);
    assert_non_null(run);
    run->n_producers = n_producers;
    assert_int_equal(sem_init(&run->wakeups, 0, 0), 0);
    assert_int_equal(mailbox_create(&run->mb, n_producers, sem_wake, run), 0);
    for (unsigned k = 0; k < n_producers; k++) {
        run->mails[k] = calloc(N_PER_PRODUCER, sizeof(struct tmail));
        assert_non_null(run->mails[k]);
    }

    pthread_t cons, prod[MAX_PRODUCERS];
    struct producer_arg args[MAX_PRODUCERS];
    assert_int_equal(pthread_create(&cons, NULL, consumer, run), 0);
    for (unsigned k = 0; k < n_producers; k++) {
        args[k] = (struct producer_arg){run, k};
        assert_int_equal(pthread_create(&prod[k], NULL, producer, &args[k]), 0);
    }
    for (unsigned k = 0; k < n_producers; k++)
        assert_int_equal(pthread_join(prod[k], NULL), 0);
    assert_int_equal(pthread_join(cons, NULL), 0);

    assert_int_equal(run->received, (uint64_t)n_producers * N_PER_PRODUCER);
    assert_int_equal(run->bad_producer, 0);
    assert_int_equal(run->duplicates, 0);
    assert_int_equal(run->out_of_order, 0);
    assert_int_equal(run->lost_wakeups, 0);
    assert_null(mailbox_pop(&run->mb));
    /* Every mail was popped exactly once: each slot of each producer array was
     * seen in order, so the counts above cover it; also check the payloads. */
    for (unsigned k = 0; k < n_producers; k++)
        for (uint32_t s = 0; s < N_PER_PRODUCER; s++)
            if (run->mails[k][s].seq != s || run->mails[k][s].producer != k)
                fail_msg("producer %u mail %u corrupted", k, s);
    int wakes = atomic_load(&run->wakes);
    assert_true(wakes >= 1);
    assert_true((uint64_t)wakes <= run->drains + 1);
    print_message("%u producers: %u mails, %d wakes, %llu drains, %llu/%llu/%llu full retries\n",
                  n_producers, n_producers * N_PER_PRODUCER, wakes, (unsigned long long)run->drains,
                  (unsigned long long)run->full[0], (unsigned long long)run->full[1],
                  (unsigned long long)run->full[2]);

    mailbox_destroy(&run->mb);
    sem_destroy(&run->wakeups);
    for (unsigned k = 0; k < n_producers; k++)
        free(run->mails[k]);
    free(run);
}

static void test_two_producers(void **state)
{
    (void)state;
    run_producers(2);
}

static void test_three_producers(void **state)
{
    (void)state;
    run_producers(3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_pop_order),  cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_wake_coalescing), cmocka_unit_test(test_two_producers),
        cmocka_unit_test(test_three_producers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
