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

/* The value of top-level counter "name" in json (before the nested
 * "clients", "perWorker", ... objects), or -1 when it is absent or appears
 * twice. */
static long long field(const char *json, const char *name)
{
    char key[64], head[4096];
    const char *p, *end = strstr(json, ",\"clients\":");
    long long v;
    size_t n = end ? (size_t)(end - json) : strlen(json);
    if (n >= sizeof head)
        return -1;
    memcpy(head, json, n);
    head[n] = '\0';
    json = head;
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

/* Every Azureus-style code of bittorrent-peerid's table is found (the
 * lookup is a binary search: this fails if the table is out of order). */
static void test_client_known(void **state)
{
    (void)state;
    static const char *const codes[] = {
        "#@", "7T", "AG", "AN", "AR", "AT", "AV", "AX", "AZ", "A~", "BB", "BC", "BE", "BF",
        "BG", "BR", "BS", "BT", "BW", "BX", "CB", "CD", "CT", "DE", "DP", "EB", "ES", "FC",
        "FG", "FT", "FX", "GR", "GS", "HL", "HN", "KG", "KT", "LC", "LH", "LK", "LP", "LT",
        "LW", "MO", "MP", "MR", "MT", "NE", "NX", "OS", "OT", "PC", "PD", "PE", "PT", "QD",
        "RM", "RT", "RZ", "SB", "SD", "SG", "SN", "SP", "SS", "ST", "SZ", "S~", "TG", "TN",
        "TR", "TS", "TT", "UE", "UL", "UM", "UT", "UW", "VG", "WD", "WT", "WW", "WY", "XC",
        "XF", "XL", "XT", "XX", "ZO", "ZT", "bk", "lt", "pX", "qB", "st"};
    char id[9], client[CLIENT_NAME_MAX], version[CLIENT_VERSION_MAX];
    assert_int_equal(sizeof codes / sizeof codes[0], 95);
    for (size_t k = 0; k < sizeof codes / sizeof codes[0]; k++) {
        snprintf(id, sizeof id, "-%s1234-", codes[k]);
        assert_true(client_known((const uint8_t *)id));
        client_name((const uint8_t *)id, client, version);
        assert_string_not_equal(client, "unknown");
    }
    assert_true(client_known((const uint8_t *)"M4-3-6--"));
    assert_true(client_known((const uint8_t *)"T03I----"));
    assert_false(client_known((const uint8_t *)"-ZZ1234-"));
    assert_false(client_known((const uint8_t *)"abcdefgh"));
    assert_false(client_known((const uint8_t *)"\0\0\0\0\0\0\0\0")); /* STATS_CLIENT_UNKNOWN */
    assert_false(client_known((const uint8_t *)"-WW\xff"
                                               "091-"));
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
    /* prefixes of no known client share one slot, whatever their bytes */
    memset(&t, 0, sizeof t);
    assert_int_equal(stats_client_add(&t, (const uint8_t *)"-WW0091-"), 0);
    assert_int_equal(stats_client_add(&t, (const uint8_t *)"abcdefgh"), 1);
    assert_int_equal(stats_client_add(&t, (const uint8_t *)"zyxwvuts"), 1);
    assert_int_equal(stats_client_add(&t, (const uint8_t *)"\x01\x02\x03\x04\x05\x06\x07\x08"), 1);
    assert_int_equal(atomic_load(&t.n[1]), 3);
    assert_true(atomic_load(&t.key[1]) == STATS_CLIENT_UNKNOWN);
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
    stats_client_add(&w1.clients, (const uint8_t *)"-WW0\"\\1-"); /* version ".\1, escaped */
    stats_client_add(&w0.clients, (const uint8_t *)"abcdefgh");   /* unknown */
    stats_client_add(&w1.clients, (const uint8_t *)"12345678");   /* unknown */
    atomic_store(&w1.clients.other, 2);
    assert_true(stats_write_json(buf, sizeof buf, all, 2, 1, reason_names, 3) > 0);
    assert_non_null(strstr(buf, ",\"clients\":{\"WebTorrent\":{\"\\\".\\\\1\":1,\"0.91\":3,"
                                "\"1.0\":1},\"qBittorrent\":{\"4.2.5\":1},"
                                "\"unknown\":{\"other\":4}},"));
    /* no peers: an empty object */
    memset(&w0, 0, sizeof w0);
    memset(&w1, 0, sizeof w1);
    assert_true(stats_write_json(buf, sizeof buf, all, 2, 1, reason_names, 3) > 0);
    assert_non_null(strstr(buf, ",\"clients\":{},"));
}

static struct stats_history hist;
static struct history_sample got[HISTORY_MAX];

/* The ring holds the newest HISTORY_MAX samples, oldest first, and its JSON
 * has one array per field with as many entries. */
static void test_history_wrap(void **state)
{
    (void)state;
    struct history_sample s;
    static char buf[64 * 1024];
    memset(&hist, 0, sizeof hist);
    assert_int_equal(history_read(&hist, got), 0);
    assert_int_equal(history_write_json(buf, sizeof buf, &hist, 10),
                     (int)strlen("{\"interval\":10,\"max\":360,\"samples\":0,\"t\":[],"
                                 "\"connections\":[],\"peers\":[],\"announces\":[],\"offers\":[],"
                                 "\"relays\":[],\"rss\":[]}"));
    for (unsigned k = 0; k < HISTORY_MAX + 25; k++) {
        for (unsigned f = 0; f < HIST_FIELDS; f++)
            s.v[f] = 1000 * f + k;
        history_push(&hist, &s);
        assert_int_equal(history_read(&hist, got), k + 1 < HISTORY_MAX ? k + 1 : HISTORY_MAX);
    }
    /* wrapped: the oldest kept is sample 25, the newest HISTORY_MAX + 24 */
    for (unsigned k = 0; k < HISTORY_MAX; k++)
        for (unsigned f = 0; f < HIST_FIELDS; f++)
            assert_int_equal(got[k].v[f], 1000 * f + 25 + k);
    int n = history_write_json(buf, sizeof buf, &hist, 1);
    assert_true(n > 0 && (size_t)n == strlen(buf));
    assert_non_null(strstr(buf, "{\"interval\":1,\"max\":360,\"samples\":360,\"t\":[25,26,"));
    assert_non_null(strstr(buf, ",384],\"connections\":[1025,"));
    assert_non_null(strstr(buf, ",\"rss\":[6025,"));
    assert_int_equal(history_write_json(buf, (size_t)n, &hist, 1), -1);
    assert_int_equal(history_write_json(buf, (size_t)n + 1, &hist, 1), n);
}

/* topRooms: the largest over every worker's published top, largest first,
 * STATS_TOP of them; perWorker: one object per worker. */
static void test_json_top_and_workers(void **state)
{
    (void)state;
    struct stats *all[2] = {&w0, &w1};
    struct top_entry e[STATS_TOP], back[STATS_TOP];
    char buf[8192];
    memset(&w0, 0, sizeof w0);
    memset(&w1, 0, sizeof w1);
    for (unsigned k = 0; k < STATS_TOP; k++) {
        e[k].hash4[0] = 0xa0;
        e[k].hash4[1] = 0;
        e[k].hash4[2] = 0;
        e[k].hash4[3] = (uint8_t)k;
        e[k].peers = 100 - 2 * k; /* worker 0: 100, 98, ... 82 */
    }
    top_publish(&w0.top, e, STATS_TOP);
    assert_int_equal(top_read(&w0.top, back), STATS_TOP);
    assert_memory_equal(back, e, sizeof e);
    for (unsigned k = 0; k < STATS_TOP; k++) {
        e[k].hash4[0] = 0xb1;
        e[k].peers = 99 - 2 * k; /* worker 1: 99, 97, ... 81 */
    }
    top_publish(&w1.top, e, 3);
    stats_set(&w1, STATS_CONNECTIONS, 4);
    stats_add(&w1, STATS_ANNOUNCES, 9);
    stats_set(&w0, STATS_PEERS, 7);
    stats_set(&w0, STATS_SWARMS, 2);
    assert_true(stats_write_json(buf, sizeof buf, all, 2, 1, reason_names, 3) > 0);
    assert_non_null(strstr(buf, ",\"perWorker\":[{\"connections\":0,\"announces\":0,"
                                "\"peers\":7,\"swarms\":2},{\"connections\":4,\"announces\":9,"
                                "\"peers\":0,\"swarms\":0}],"));
    assert_non_null(strstr(buf, ",\"topRooms\":[{\"room\":\"a0000000\",\"peers\":100},"
                                "{\"room\":\"b1000000\",\"peers\":99},"
                                "{\"room\":\"a0000001\",\"peers\":98},"
                                "{\"room\":\"b1000001\",\"peers\":97},"
                                "{\"room\":\"a0000002\",\"peers\":96},"
                                "{\"room\":\"b1000002\",\"peers\":95},"
                                "{\"room\":\"a0000003\",\"peers\":94},"
                                "{\"room\":\"a0000004\",\"peers\":92},"
                                "{\"room\":\"a0000005\",\"peers\":90},"
                                "{\"room\":\"a0000006\",\"peers\":88}],"));
}

/* bittorrent-tracker's HTML lines, with the numbers and escaped names. */
static void test_summary_html(void **state)
{
    (void)state;
    struct stats *all[2] = {&w0, &w1};
    char buf[4096];
    memset(&w0, 0, sizeof w0);
    memset(&w1, 0, sizeof w1);
    stats_set(&w0, STATS_SWARMS, 3);
    stats_set(&w1, STATS_ACTIVE_SWARMS, 2);
    stats_set(&w0, STATS_PEERS, 5);
    stats_set(&w1, STATS_PEERS_IPV6, 1);
    stats_set(&w0, STATS_SEEDERS, 2);
    stats_set(&w1, STATS_LEECHERS, 3);
    stats_client_add(&w0.clients, (const uint8_t *)"-WW0091-");
    stats_client_add(&w1.clients, (const uint8_t *)"-WW0091-");
    stats_client_add(&w1.clients, (const uint8_t *)"-WW0<&1-"); /* version <.&1 */
    int n = stats_write_summary_html(buf, sizeof buf, all, 2);
    assert_true(n > 0 && (size_t)n == strlen(buf));
    assert_string_equal(buf, "<h1>3 torrents (2 active)</h1>\n"
                             "<h2>Connected Peers: 5</h2>\n"
                             "<h3>Peers Seeding Only: 2</h3>\n"
                             "<h3>Peers Leeching Only: 3</h3>\n"
                             "<h3>Peers Seeding & Leeching: 0</h3>\n"
                             "<h3>IPv4 Peers: 4</h3>\n"
                             "<h3>IPv6 Peers: 1</h3>\n"
                             "<h3>Clients:</h3>\n"
                             "<ul>\n"
                             "<li><strong>WebTorrent</strong> 0.91 : 2</li>\n"
                             "<li><strong>WebTorrent</strong> &lt;.&amp;1 : 1</li>\n"
                             "</ul>");
    for (int cap = 0; cap <= n; cap += 7)
        assert_int_equal(stats_write_summary_html(buf, (size_t)cap, all, 2), -1);
    assert_int_equal(stats_write_summary_html(buf, (size_t)n + 1, all, 2), n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_and_add),  cmocka_unit_test(test_json),
        cmocka_unit_test(test_client_name),  cmocka_unit_test(test_client_known),
        cmocka_unit_test(test_client_table), cmocka_unit_test(test_json_clients),
        cmocka_unit_test(test_history_wrap), cmocka_unit_test(test_json_top_and_workers),
        cmocka_unit_test(test_summary_html),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
