/* test_rate.c - unit tests of tracker/access/rate.c, the per-client byte budget.
 *
 * Owns:   nothing; drives the pure GCRA functions with known answers and the
 *         hostile cases: costs that overflow, a zeroed state, the 32-bit
 *         clock wrapping, debt past the horizon, a client idle for weeks.
 * Why:    a budget that leaks lets one client flood a room through the relay;
 *         one that sticks silences a client for good. Both only show after
 *         hours or weeks, so every edge is pinned here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rate.h"

static const struct rate_limit r1000 = {1000, RATE_BURST_S * 1000}; /* 1000 bytes/s, 4 s */

static void test_cost(void **state)
{
    struct rate_limit fast = rate_limit_make(1u << 30, 4000);
    (void)state;
    assert_int_equal(rate_cost_ms(&r1000, 1000), 1000);
    assert_int_equal(rate_cost_ms(&r1000, 1001), 1001);
    assert_int_equal(rate_cost_ms(&r1000, 1), 1);
    assert_int_equal(rate_cost_ms(&r1000, 0), 1); /* every charge costs something */
    assert_int_equal(rate_cost_ms(&fast, 1), 1);  /* at most 1000 charges a second */
    assert_int_equal(rate_cost_ms(&r1000, UINT64_MAX), UINT32_MAX);
    assert_int_equal(rate_cost_ms(&r1000, (uint64_t)1 << 40), UINT32_MAX);
    assert_int_equal(rate_limit_make(0, 4000).bytes_per_s, 1); /* never a division by zero */
    assert_int_equal(rate_limit_make(5, 0).burst_ms, 1);
    assert_int_equal(rate_limit_make(5, UINT64_MAX).burst_ms, RATE_BURST_MAX_MS);
}

/* A new client (tat 0) has a full budget whatever the clock reads. */
static void test_new_client_is_full(void **state)
{
    static const uint32_t nows[] = {0,         1, 3999, 4000, 4001, 1u << 31, UINT32_MAX - 4000,
                                    UINT32_MAX};
    (void)state;
    for (size_t k = 0; k < sizeof nows / sizeof nows[0]; k++)
        assert_int_equal(rate_available_ms(&r1000, 0, nows[k]), 4000);
}

static void test_take_and_refill(void **state)
{
    uint32_t tat = 0, now = 123456;
    (void)state;
    assert_true(rate_take(&r1000, &tat, now, 4000)); /* the whole burst at once */
    assert_int_equal(rate_available_ms(&r1000, tat, now), 0);
    assert_false(rate_take(&r1000, &tat, now, 1)); /* nothing left: refused... */
    assert_int_equal(tat, now + 4000);             /* ...and nothing changed */
    assert_int_equal(rate_available_ms(&r1000, tat, now + 250), 250);
    assert_false(rate_take(&r1000, &tat, now + 250, 251));
    assert_true(rate_take(&r1000, &tat, now + 250, 250));
    /* Refills to the burst and no further. */
    assert_int_equal(rate_available_ms(&r1000, tat, now + 100000), 4000);
    /* A cost larger than the burst never fits. */
    assert_false(rate_take(&r1000, &tat, now + 100000, 4001));
}

/* The clock's low 32 bits wrap every 49.7 days; the budget must not notice. */
static void test_wrap(void **state)
{
    uint32_t tat = 0, now = UINT32_MAX - 1000;
    (void)state;
    assert_true(rate_take(&r1000, &tat, now, 3000)); /* tat wraps past zero */
    assert_int_equal(tat, (uint32_t)(now + 3000));
    assert_int_equal(rate_available_ms(&r1000, tat, now), 1000);
    assert_int_equal(rate_available_ms(&r1000, tat, now + 2000), 3000); /* now wrapped too */
    assert_int_equal(rate_available_ms(&r1000, tat, now + 3000), 4000);
    assert_int_equal(rate_available_ms(&r1000, tat, now + 5000), 4000);
}

/* Costs learnt afterwards (a relay settled by another worker) put the client
 * in debt, capped at RATE_HORIZON_BURSTS bursts; the debt is paid by time. */
static void test_debt(void **state)
{
    uint32_t tat = 0, now = 50000, horizon = 4000 * RATE_HORIZON_BURSTS + RATE_HORIZON_MS;
    (void)state;
    rate_charge(&r1000, &tat, now, 10000); /* 2.5 bursts */
    assert_int_equal(rate_available_ms(&r1000, tat, now), 0);
    assert_int_equal(rate_available_ms(&r1000, tat, now + 6000), 0); /* 4000 ahead */
    assert_int_equal(rate_available_ms(&r1000, tat, now + 6001), 1);
    assert_int_equal(rate_debt_ms(&r1000, tat, now), 6000);
    assert_int_equal(rate_debt_ms(&r1000, tat, now + 5000), 1000);
    assert_int_equal(rate_debt_ms(&r1000, tat, now + 6000), 0);
    assert_int_equal(rate_available_ms(&r1000, tat, now + 10000), 4000); /* paid */
    /* Charges pile up to the horizon, not past it (and never wrap tat into
     * something that reads as stale, i.e. full). */
    for (unsigned k = 0; k < 100; k++)
        rate_charge(&r1000, &tat, now, UINT32_MAX);
    assert_int_equal(tat, now + horizon);
    assert_int_equal(rate_available_ms(&r1000, tat, now), 0);
    assert_int_equal(rate_available_ms(&r1000, tat, now + horizon - 4000), 0);
    assert_int_equal(rate_available_ms(&r1000, tat, now + horizon - 3999), 1);
    assert_false(rate_take(&r1000, &tat, now + 1000, 1));
}

/* A client that used the relay and then went quiet for a long time finds a
 * full budget: a tat behind now by any amount up to 2^32 - horizon reads as
 * past. (Only a silence within the horizon of a multiple of 2^32 ms, 49.7
 * days, reads as debt: it is paid within the horizon, 48 s here.) */
static void test_long_idle(void **state)
{
    uint32_t tat = 0, now = 777;
    static const uint64_t idle[] = {
        4000, 3600000, 86400000, 86400000ull * 24, (1ull << 31), (1ull << 32) - 48001};
    (void)state;
    assert_true(rate_take(&r1000, &tat, now, 4000));
    for (size_t k = 0; k < sizeof idle / sizeof idle[0]; k++)
        assert_int_equal(rate_available_ms(&r1000, tat, (uint32_t)(now + idle[k])), 4000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cost),
        cmocka_unit_test(test_new_client_is_full),
        cmocka_unit_test(test_take_and_refill),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_debt),
        cmocka_unit_test(test_long_idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
