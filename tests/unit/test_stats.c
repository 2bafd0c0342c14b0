/* test_stats.c - unit tests of tracker/stats.c: sums over workers and /stats.json.
 *
 * Owns:   nothing; checks the merged counters, that every named counter appears
 *         once in the JSON with its value, and that a short buffer is refused;
 *         the peer_id prefix to {client, version} mapping against what
 *         bittorrent-peerid 3.x returns (the expected values were printed by
 *         it), the bounded per-worker client table and its "clients" JSON.
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
#define NAME(name, json) json,
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

/* Expected: node -e "peerid(prefix + 12 bytes)" with bittorrent-tracker's
 * fallback (version || the first 8 characters). */
static const char *const peerid_cases[][3] = {
    {"-WW0091-", "WebTorrent", "0.91"},
    {"-WW1234-", "WebTorrent", "12.34"},
    {"-WD0107-", "WebTorrent Desktop", "1.7"},
    {"-qB4250-", "qBittorrent", "4.2.5"},
    {"-qB42A0-", "qBittorrent", "4.2.10"},
    {"-TR4050-", "Transmission", "4.05"},
    {"-TR000Z-", "Transmission", "0.Z"},
    {"-TR0012-", "Transmission", "0.12"},
    {"-TR123Z-", "Transmission", "1.23+"},
    {"-UT355B-", "\xc2\xb5Torrent", "3.5.5 Beta"},
    {"-UT3550-", "\xc2\xb5Torrent", "3.5.5 "},
    {"-LT1234-", "libtorrent (Rasterbar)", "-LT1234-"},
    {"-lt0D80-", "libTorrent (Rakshasa) / rTorrent*", "-lt0D80-"},
    {"-DE13F0-", "Deluge", "1.3.1-1"},
    {"-AZ5770-", "Vuze", "5.7.7.0"},
    {"-BC0120-", "BitComet", "1.20"},
    {"-XX1234-", "XTorrent", "-XX1234-"},
    {"M4-3-6--", "Mainline", "M4-3-6--"},
    {"T03I----", "BitTornado", "T03I----"},
    {"-ZZ1234-", "unknown", "-ZZ1234-"},
    {"abcdefgh", "unknown", "abcdefgh"},
    {"-AR1234-", "Ares", "1.2.3.4"},
    {"-BT7a1A-", "BitTorrent", "7.a.1 Alpha"},
};

static void test_client_name(void **state)
{
    (void)state;
    char client[CLIENT_NAME_MAX], version[CLIENT_VERSION_MAX];
    for (size_t k = 0; k < sizeof peerid_cases / sizeof peerid_cases[0]; k++) {
        client_name((const uint8_t *)peerid_cases[k][0], client, version);
        assert_string_equal(client, peerid_cases[k][1]);
        assert_string_equal(version, peerid_cases[k][2]);
    }
    /* a byte >= 0x80 reads as U+FFFD, as bittorrent-tracker's toString() has it */
    client_name((const uint8_t *)"-WW\xff"
                                 "091-",
                client, version);
    assert_string_equal(client, "unknown");
    assert_string_equal(version, "-WW\xef\xbf\xbd"
                                 "091-");
}

static void test_client_table(void **state)
{
    (void)state;
    static struct stats_clients t;
    uint8_t slots[STATS_CLIENTS_MAX + 3];
    uint8_t id[20] = "-WW0091-abcdefghijkl";
    memset(&t, 0, sizeof t);
    /* the same prefix shares a slot */
    assert_int_equal(stats_client_add(&t, id), 0);
    assert_int_equal(stats_client_add(&t, id), 0);
    assert_int_equal(atomic_load(&t.n[0]), 2);
    stats_client_drop(&t, 0);
    stats_client_drop(&t, 0);
    assert_int_equal(atomic_load(&t.n[0]), 0);
    /* STATS_CLIENTS_MAX distinct prefixes fill the table; more go to "other" */
    for (unsigned k = 0; k < STATS_CLIENTS_MAX + 3; k++) {
        snprintf((char *)id, 9, "-XX%04u-", k);
        slots[k] = stats_client_add(&t, id);
        assert_int_equal(slots[k], k < STATS_CLIENTS_MAX ? k : STATS_CLIENT_OTHER);
    }
    assert_int_equal(atomic_load(&t.other), 3);
    /* a slot whose count went to 0 is reused by the next new prefix */
    stats_client_drop(&t, slots[5]);
    memcpy(id, "-qB4250-", 8);
    assert_int_equal(stats_client_add(&t, id), 5);
    stats_client_drop(&t, STATS_CLIENT_OTHER);
    assert_int_equal(atomic_load(&t.other), 2);
}

static void test_json_clients(void **state)
{
    (void)state;
    struct stats *all[2] = {&w0, &w1};
    char buf[4096];
    memset(&w0, 0, sizeof w0);
    memset(&w1, 0, sizeof w1);
    stats_client_add(&w0.clients, (const uint8_t *)"-WW0091-");
    stats_client_add(&w0.clients, (const uint8_t *)"-WW0091-");
    stats_client_add(&w1.clients, (const uint8_t *)"-WW0091-");
    stats_client_add(&w1.clients, (const uint8_t *)"-WW0100-");
    stats_client_add(&w1.clients, (const uint8_t *)"-qB4250-");
    stats_client_add(&w1.clients, (const uint8_t *)"ab\"\\cdef"); /* escaped */
    atomic_store(&w1.clients.other, 2);
    assert_true(stats_write_json(buf, sizeof buf, all, 2, 1, reason_names, 3) > 0);
    assert_non_null(strstr(buf, ",\"clients\":{\"WebTorrent\":{\"0.91\":3,\"1.0\":1},"
                                "\"qBittorrent\":{\"4.2.5\":1},"
                                "\"unknown\":{\"ab\\\"\\\\cdef\":1,\"other\":2}},"));
    /* no peers: an empty object */
    memset(&w0, 0, sizeof w0);
    memset(&w1, 0, sizeof w1);
    assert_true(stats_write_json(buf, sizeof buf, all, 2, 1, reason_names, 3) > 0);
    assert_non_null(strstr(buf, ",\"clients\":{},"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_and_add),  cmocka_unit_test(test_json),
        cmocka_unit_test(test_client_name),  cmocka_unit_test(test_client_table),
        cmocka_unit_test(test_json_clients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
