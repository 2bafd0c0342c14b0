/* test_stats.c - unit tests of tracker/stats.c: sums over workers and /stats.json.
 *
 * Owns:   nothing; checks the merged counters, that every named counter appears
 *         once in the JSON with its value, and that a short buffer is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "stats.h"

static struct stats w0, w1;

static void test_sum_and_add(void **state)
{
    (void)state;
    struct stats *all[2] = {&w0, &w1};
    memset(&w0, 0, sizeof w0);
    memset(&w1, 0, sizeof w1);
    stats_add(&w0, STATS_ANNOUNCES, 5);
    stats_add(&w1, STATS_ANNOUNCES, 7);
    stats_add(&w1, STATS_CONNECTIONS, 3);
    stats_add(&w1, STATS_CONNECTIONS, -1);
    stats_set(&w0, STATS_PEERS, 10);
    stats_set(&w0, STATS_PEERS, 4);
    assert_int_equal(stats_sum(all, 2, STATS_ANNOUNCES), 12);
    assert_int_equal(stats_sum(all, 2, STATS_CONNECTIONS), 2);
    assert_int_equal(stats_sum(all, 2, STATS_PEERS), 4);
    assert_int_equal(stats_sum(all, 1, STATS_ANNOUNCES), 5);
}

/* The value of "name" in json, or -1 when it is absent or appears twice. */
static long long field(const char *json, const char *name)
{
    char key[64];
    const char *p;
    long long v;
    snprintf(key, sizeof key, "\"%s\":", name);
    p = strstr(json, key);
    if (!p || strstr(p + 1, key))
        return -1;
    if (sscanf(p + strlen(key), "%lld", &v) != 1)
        return -1;
    return v;
}

static const char *const reason_names[3] = {NULL, "invalid JSON", "invalid action"};

static void test_json(void **state)
{
    (void)state;
    struct stats *all[2] = {&w0, &w1};
    char buf[4096];
    memset(&w0, 0, sizeof w0);
    memset(&w1, 0, sizeof w1);
    stats_set(&w0, STATS_SWARMS, 3);
    stats_set(&w1, STATS_SWARMS, 2);
    stats_set(&w0, STATS_PEERS, 9);
    stats_set(&w0, STATS_PEERS_IPV6, 2);
    stats_set(&w0, STATS_SEEDERS, 4);
    stats_set(&w0, STATS_LEECHERS, 5);
    stats_add(&w1, STATS_HTTP_REFUSED, 11);
    stats_add(&w0, STATS_PEER_ID_IN_USE, 1);
    stats_add(&w1, STATS_PEER_ID_IN_USE, 2);
    stats_reason(&w0, 1);
    stats_reason(&w1, 1);
    stats_reason(&w1, 2);
    stats_reason(&w1, STATS_REASONS_MAX); /* out of range: ignored */
    int n = stats_write_json(buf, sizeof buf, all, 2, 77, reason_names, 3);
    assert_true(n > 0 && (size_t)n == strlen(buf));
    assert_true(buf[0] == '{' && buf[n - 1] == '}');
    assert_int_equal(field(buf, "torrents"), 5);
    assert_int_equal(field(buf, "peersAll"), 9);
    assert_int_equal(field(buf, "peersIPv4"), 7);
    assert_int_equal(field(buf, "peersIPv6"), 2);
    assert_int_equal(field(buf, "peersSeederOnly"), 4);
    assert_int_equal(field(buf, "peersLeecherOnly"), 5);
    assert_int_equal(field(buf, "peersSeederAndLeecher"), 0);
    assert_int_equal(field(buf, "uptime"), 77);
    assert_int_equal(field(buf, "workers"), 2);
    assert_int_equal(field(buf, "httpRefused"), 11);
    assert_int_equal(field(buf, "peerIdInUse"), 3);
    /* Failure reasons by name, only those counted, summed over workers. */
    assert_non_null(strstr(buf, ",\"failureReasons\":{\"invalid JSON\":2,\"invalid action\":1}}"));
    /* every counter of the table with a JSON name is there exactly once */
    static const char *const names[] = {
#define NAME(name, json, metric, type, label, help) json,
        STATS_TABLE(NAME)
#undef NAME
    };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (names[k])
            assert_true(field(buf, names[k]) >= 0);
    /* too short: -1, for every length below the full one */
    for (int cap = 0; cap <= n; cap += 37)
        assert_int_equal(stats_write_json(buf, (size_t)cap, all, 2, 77, reason_names, 3), -1);
    assert_int_equal(stats_write_json(buf, (size_t)n, all, 2, 77, reason_names, 3), -1);
    assert_int_equal(stats_write_json(buf, (size_t)n + 1, all, 2, 77, reason_names, 3), n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_and_add),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
