/* test_slots.c - unit tests of tracker/rt/slots.c, the connection table.
 *
 * Owns:   a slot table driven through add, lookup and remove.
 * Why:    every frame finds its connection through it; a stale reference that
 *         matched a reused slot would send one client's replies to another.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "slots.h"

static void test_add_lookup_remove(void **state)
{
    struct slots s;
    struct swarm_conn a, b;
    uint64_t ra, rb, rb2;
    (void)state;
    memset(&s, 0, sizeof s);
    ra = slots_add(&s, 3, &a);
    rb = slots_add(&s, 3, &b);
    assert_int_not_equal(ra, ROUTE_CONN_NONE);
    assert_int_not_equal(ra, rb);
    assert_int_equal(route_conn_worker(ra), 3);
    assert_ptr_equal(slots_lookup(&s, 3, ra), &a);
    assert_ptr_equal(slots_lookup(&s, 3, rb), &b);
    assert_null(slots_lookup(&s, 2, ra)); /* another worker's reference */
    assert_int_equal(slots_live(&s), 2);

    slots_remove(&s, rb);
    assert_null(slots_lookup(&s, 3, rb));
    assert_int_equal(slots_live(&s), 1);
    /* The slot is reused with a new generation: the old reference stays dead. */
    rb2 = slots_add(&s, 3, &a);
    assert_int_equal(route_conn_slot(rb2), route_conn_slot(rb));
    assert_int_not_equal(rb2, rb);
    assert_null(slots_lookup(&s, 3, rb));
    assert_ptr_equal(slots_lookup(&s, 3, rb2), &a);
    slots_remove(&s, rb); /* stale: ignored */
    assert_ptr_equal(slots_lookup(&s, 3, rb2), &a);
    assert_int_equal(slots_live(&s), 2);
    assert_null(slots_lookup(&s, 0, ROUTE_CONN_NONE));
    slots_destroy(&s);
}

/* Past the first allocation the table grows; every reference still resolves. */
static void test_grows(void **state)
{
    static struct swarm_conn conns[3 * SLOTS_FIRST];
    static uint64_t refs[3 * SLOTS_FIRST];
    struct slots s;
    (void)state;
    memset(&s, 0, sizeof s);
    for (unsigned k = 0; k < 3 * SLOTS_FIRST; k++) {
        refs[k] = slots_add(&s, 0, &conns[k]);
        assert_int_not_equal(refs[k], ROUTE_CONN_NONE);
    }
    for (unsigned k = 0; k < 3 * SLOTS_FIRST; k++)
        assert_ptr_equal(slots_lookup(&s, 0, refs[k]), &conns[k]);
    assert_true(s.cap >= 3 * SLOTS_FIRST);
    slots_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_lookup_remove),
        cmocka_unit_test(test_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
