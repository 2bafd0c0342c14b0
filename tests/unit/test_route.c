/* test_route.c - unit tests of tracker/route.c: swarm ownership and connection refs.
 *
 * Owns:   nothing; checks that ownership is stable, in range and spread, that the
 *         key matters, and that a connection reference packs and unpacks exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "route.h"

static void id_of(uint8_t id[20], uint32_t n)
{
    memset(id, 0, 20);
    memcpy(id, &n, sizeof n);
}

static void test_owner_stable_and_in_range(void **state)
{
    (void)state;
    struct route r;
    uint8_t id[20];
    route_create(&r, 3);
    for (uint32_t n = 0; n < 1000; n++) {
        id_of(id, n);
        unsigned o = route_owner(&r, id);
        assert_true(o < 3);
        assert_int_equal(route_owner(&r, id), o);
    }
    route_create(&r, 0); /* 0 workers means 1 */
    assert_int_equal(r.n_workers, 1);
    assert_int_equal(route_owner(&r, id), 0);
}

static void test_owner_spread(void **state)
{
    (void)state;
    struct route r;
    unsigned per[4] = {0};
    uint8_t id[20];
    route_create(&r, 4);
    /* 40,000 consecutive ids (a client choosing them cannot aim: the key is random):
     * each worker within 5 % of a quarter. */
    for (uint32_t n = 0; n < 40000; n++) {
        id_of(id, n);
        per[route_owner(&r, id)]++;
    }
    for (unsigned k = 0; k < 4; k++)
        assert_true(per[k] > 9500 && per[k] < 10500);
}

static void test_key_matters(void **state)
{
    (void)state;
    struct route a, b;
    uint8_t id[20];
    unsigned same = 0;
    route_create(&a, 2);
    route_create(&b, 2);
    assert_memory_not_equal(a.key, b.key, ROUTE_KEY_LEN);
    for (uint32_t n = 0; n < 2000; n++) {
        id_of(id, n);
        same += route_owner(&a, id) == route_owner(&b, id);
        assert_true(route_hash(a.key, id, 20) != route_hash(b.key, id, 20));
    }
    assert_true(same > 800 && same < 1200); /* independent keys: agree about half the time */
}

static void test_conn_refs(void **state)
{
    (void)state;
    static const struct {
        unsigned worker;
        uint32_t slot, gen;
    } cases[] = {{0, 0, 1}, {1, 2, 3}, {63, 0xFFFFFF, 0xFFFFFFFF}, {255, 12345, 7}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint64_t ref = route_conn_make(cases[k].worker, cases[k].slot, cases[k].gen);
        assert_int_equal(route_conn_worker(ref), cases[k].worker);
        assert_int_equal(route_conn_slot(ref), cases[k].slot);
        assert_int_equal(route_conn_gen(ref), cases[k].gen);
        assert_true(ref != ROUTE_CONN_NONE); /* generation 0 is never used */
    }
    /* a slot past 24 bits does not spill into the worker field */
    assert_int_equal(route_conn_worker(route_conn_make(1, 0x1FFFFFF, 1)), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_owner_stable_and_in_range),
        cmocka_unit_test(test_owner_spread),
        cmocka_unit_test(test_key_matters),
        cmocka_unit_test(test_conn_refs),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
