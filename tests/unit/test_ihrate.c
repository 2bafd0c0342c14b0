/* test_ihrate.c - unit tests of tracker/access/ihrate.c: offer budgets per (address,
 * info hash).
 *
 * Owns:   nothing; a table at 2/s with a burst of 4, driven by a fake clock.
 * Why:    the budget decides whether a room's members get an address's offers; it
 *         must be per pair, refill at its rate, and stay bounded under a flood of
 *         distinct pairs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ihrate.h"

static const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void ih_of(uint8_t ih[20], uint32_t n)
{
    memset(ih, 0x5a, 20);
    memcpy(ih, &n, sizeof n);
}

static void test_budget_per_pair(void **state)
{
    struct ihrate r;
    uint8_t a[20], b[20];
    uint32_t t = 1000;
    (void)state;
    assert_int_equal(ihrate_init(&r, 2, 4, key), 0);
    ih_of(a, 1);
    ih_of(b, 2);
    /* the burst: 4 at once, then refused */
    for (int k = 0; k < 4; k++)
        assert_true(ihrate_take(&r, 7, a, t));
    assert_false(ihrate_take(&r, 7, a, t));
    assert_false(ihrate_take(&r, 7, a, t + 499));
    /* other pairs are not touched: another address, another info hash */
    assert_true(ihrate_take(&r, 8, a, t));
    assert_true(ihrate_take(&r, 7, b, t));
    /* 2/s: one more every 500 ms */
    assert_true(ihrate_take(&r, 7, a, t + 500));
    assert_false(ihrate_take(&r, 7, a, t + 500));
    assert_true(ihrate_take(&r, 7, a, t + 1000));
    /* after 2 s idle the whole burst is back */
    t += 3000;
    for (int k = 0; k < 4; k++)
        assert_true(ihrate_take(&r, 7, a, t));
    assert_false(ihrate_take(&r, 7, a, t));
    /* the clock wraps (32-bit ms) */
    for (int k = 0; k < 4; k++)
        assert_true(ihrate_take(&r, 9, a, UINT32_MAX - 100));
    assert_false(ihrate_take(&r, 9, a, UINT32_MAX - 100));
    assert_true(ihrate_take(&r, 9, a, 400)); /* 501 ms later */
    assert_int_equal(r.reused, 0);
    ihrate_free(&r);
    ihrate_free(&r); /* idempotent */
}

/* A flood of distinct pairs reuses slots (the table never grows); a pair that keeps
 * spending holds its slot against pairs that spent less. */
static void test_bounded_under_flood(void **state)
{
    struct ihrate r;
    uint8_t a[20], x[20];
    uint32_t t = 5000;
    unsigned refused = 0;
    (void)state;
    assert_int_equal(ihrate_init(&r, 1, 3, key), 0);
    ih_of(a, 0);
    for (int k = 0; k < 3; k++)
        assert_true(ihrate_take(&r, 1, a, t));
    assert_false(ihrate_take(&r, 1, a, t));
    /* 4 x IHRATE_BUCKETS other pairs, once each: each gets its first announce */
    for (uint32_t n = 1; n <= 4 * IHRATE_BUCKETS; n++) {
        ih_of(x, n);
        refused += !ihrate_take(&r, 2, x, t);
    }
    assert_int_equal(refused, 0);
    assert_true(r.reused >= 2 * IHRATE_BUCKETS); /* at most 2 x IHRATE_BUCKETS were empty */
    /* the spent pair kept its slot: each rival had spent one of its three */
    assert_false(ihrate_take(&r, 1, a, t));
    ihrate_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_per_pair),
        cmocka_unit_test(test_bounded_under_flood),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
