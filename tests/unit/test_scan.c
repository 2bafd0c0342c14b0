/* test_scan.c - unit tests for proto/scan.c, the JSON request scanner.
 *
 * Owns:   nothing; drives proto_scan_request over every request shape of
 *         PROTOCOL.md section 3 and every failure reason of section 5.
 * Thread: single-threaded cmocka test.
 * Why:    the scanner is the tracker's only parser of client bytes. Every input
 *         is copied into a heap buffer of its exact length, so ASan reports any
 *         read past the message; spans are checked byte for byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scan.h"

/* 20-character ASCII ids (trystero style) and their JSON spellings. */
#define IH   "infohash0123456789ab"
#define IH2  "infohash0123456789cd"
#define PID  "peerid0123456789abcd"
#define OID  "offerid0123456789abc"
#define TPID "topeer0123456789abcd"
#define Q(x) "\"" x "\""

#define ANN_HEAD "{\"action\":\"announce\",\"info_hash\":" Q(IH) ",\"peer_id\":" Q(PID)

static struct proto_request req; /* about 6 KiB: one, as the worker keeps one */

/* ---- helpers ---- */

/* Scan msg[0..len) from a heap copy of exactly len bytes. */
static enum proto_status scan_max(const char *msg, size_t len, uint32_t max)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, msg, len);
    enum proto_status st = proto_scan_request(copy, len, max, &req);
    free(copy);
    return st;
}

static enum proto_status scan_len(const char *msg, size_t len)
{
    return scan_max(msg, len, PROTO_SCRAPE_HASHES_MAX);
}

static enum proto_status scan(const char *msg)
{
    return scan_len(msg, strlen(msg));
}

/* The span must be exactly the one occurrence of want in msg. */
static void assert_span(const char *msg, struct proto_span sp, const char *want)
{
    const char *at = strstr(msg, want);
    assert_non_null(at);
    assert_null(strstr(at + 1, want)); /* the test's own sanity: want is unique */
    assert_int_equal(sp.off, (uint32_t)(at - msg));
    assert_int_equal(sp.len, (uint32_t)strlen(want));
}

/* Like assert_span, for a want that may repeat: the off-th occurrence is not
 * searched; the span is compared by position and content. */
static void assert_span_at(const char *msg, struct proto_span sp, size_t off, const char *want)
{
    assert_int_equal(sp.off, (uint32_t)off);
    assert_int_equal(sp.len, (uint32_t)strlen(want));
    assert_memory_equal(msg + off, want, strlen(want));
}

/* ---- announce ---- */

static void test_announce_all_fields(void **state)
{
    (void)state;
    const char *m = "{\"action\":\"announce\",\"info_hash\":" Q(IH) ",\"peer_id\":" Q(
        PID) ",\"event\":\"started\",\"left\":0,\"numwant\":50,\"uploaded\":10,"
             "\"downloaded\":20,\"trackerid\":\"tid\",\"offers\":[{\"offer\":{\"type\":"
             "\"offer\",\"sdp\":\"v=0\\r\\no=- 1 2 IN IP4 "
             "127.0.0.1\\r\\n\"},\"offer_id\":" Q(
                 OID) "}],\"answer\":{\"type\":\"answer\",\"sdp\":\"v=1\"},\"to_peer_"
                      "id\":" Q(TPID) ",\"offer_id\":\"answeroffer123456789\"}";
    assert_int_equal(scan(m), PROTO_OK);
    assert_int_equal(req.action, PROTO_ACTION_ANNOUNCE);
    assert_true(req.has_info_hash);
    assert_memory_equal(req.info_hash, IH, PROTO_ID_LEN);
    assert_memory_equal(req.ann.info_hash, IH, PROTO_ID_LEN);
    assert_memory_equal(req.ann.peer_id, PID, PROTO_ID_LEN);
    assert_int_equal(req.ann.event, PROTO_EVENT_STARTED);
    assert_int_equal(req.ann.left, PROTO_LEFT_ZERO);
    assert_int_equal(req.ann.n_offers, 1);
    assert_memory_equal(req.ann.offers[0].offer_id, OID, PROTO_ID_LEN);
    assert_span(m, req.ann.offers[0].offer,
                "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\no=- 1 2 IN IP4 127.0.0.1\\r\\n\"}");
    assert_true(req.ann.has_answer);
    assert_span(m, req.ann.answer, "{\"type\":\"answer\",\"sdp\":\"v=1\"}");
    assert_memory_equal(req.ann.to_peer_id, TPID, PROTO_ID_LEN);
    assert_memory_equal(req.ann.offer_id, "answeroffer123456789", PROTO_ID_LEN);
}

/* Binary ids with every kind of escape, decoded by the scanner. */
static void test_announce_binary_ids(void **state)
{
    (void)state;
    const char *m = "{\"action\":\"announce\","
                    "\"info_hash\":\"\\u0000\\b\\t\\n\\f\\r\\\"\\\\\\/\xc2\x80\xc3\xbf\\u00e9"
                    "\\u001F\x7f"
                    "abcdef\","
                    "\"peer_id\":\"\\u00ff\\u00FF\xc3\xbf\xc3\xbf"
                    "0123456789abcdef\"}";
    uint8_t ih[PROTO_ID_LEN] = {0x00, 0x08, 0x09, 0x0a, 0x0c, 0x0d, 0x22, 0x5c, 0x2f, 0x80,
                                0xff, 0xe9, 0x1f, 0x7f, 'a',  'b',  'c',  'd',  'e',  'f'};
    uint8_t pid[PROTO_ID_LEN] = {0xff, 0xff, 0xff, 0xff, '0', '1', '2', '3', '4', '5',
                                 '6',  '7',  '8',  '9',  'a', 'b', 'c', 'd', 'e', 'f'};
    assert_int_equal(scan(m), PROTO_OK);
    assert_true(req.has_info_hash);
    assert_memory_equal(req.info_hash, ih, PROTO_ID_LEN);
    assert_memory_equal(req.ann.info_hash, ih, PROTO_ID_LEN);
    assert_memory_equal(req.ann.peer_id, pid, PROTO_ID_LEN);
}

static void test_announce_minimal(void **state)
{
    (void)state;
    assert_int_equal(scan(ANN_HEAD "}"), PROTO_OK);
    assert_int_equal(req.action, PROTO_ACTION_ANNOUNCE);
    assert_int_equal(req.ann.event, PROTO_EVENT_UPDATE);
    assert_int_equal(req.ann.left, PROTO_LEFT_ABSENT);
    assert_int_equal(req.ann.n_offers, 0);
    assert_false(req.ann.has_answer);
}

static void test_announce_events(void **state)
{
    (void)state;
    static const struct {
        const char *field; /* text after the head, before '}' */
        enum proto_status st;
        enum proto_event ev;
    } cases[] = {
        {",\"event\":\"started\"", PROTO_OK, PROTO_EVENT_STARTED},
        {",\"event\":\"stopped\"", PROTO_OK, PROTO_EVENT_STOPPED},
        {",\"event\":\"completed\"", PROTO_OK, PROTO_EVENT_COMPLETED},
        {",\"event\":\"update\"", PROTO_OK, PROTO_EVENT_UPDATE},
        {",\"event\":\"paused\"", PROTO_OK, PROTO_EVENT_PAUSED},
        {",\"event\":\"empty\"", PROTO_OK, PROTO_EVENT_UPDATE},
        {",\"event\":\"\"", PROTO_OK, PROTO_EVENT_UPDATE},
        {"", PROTO_OK, PROTO_EVENT_UPDATE},
        {",\"event\":null", PROTO_OK, PROTO_EVENT_UPDATE},
        {",\"event\" : \"completed\" ", PROTO_OK, PROTO_EVENT_COMPLETED},
        {",\"event\":\"st\\u0061rted\"", PROTO_OK, PROTO_EVENT_STARTED},
        {",\"event\":\"\\u0073topped\"", PROTO_OK, PROTO_EVENT_STOPPED},
        {",\"\\u0065vent\":\"paused\"", PROTO_OK, PROTO_EVENT_PAUSED},
        {",\"event\":\"started\",\"event\":\"stopped\"", PROTO_OK, PROTO_EVENT_STOPPED},
        {",\"event\":\"bogus\",\"event\":\"completed\"", PROTO_OK, PROTO_EVENT_COMPLETED},
        {",\"event\":\"STARTED\"", PROTO_ERR_EVENT, 0},
        {",\"event\":\"start\"", PROTO_ERR_EVENT, 0},
        {",\"event\":\"startedx\"", PROTO_ERR_EVENT, 0},
        {",\"event\":\"started \"", PROTO_ERR_EVENT, 0},
        {",\"event\":\" \"", PROTO_ERR_EVENT, 0},
        {",\"event\":\"\\u0000\"", PROTO_ERR_EVENT, 0},
        {",\"event\":\"started\\u0000\"", PROTO_ERR_EVENT, 0},
        {",\"event\":\"d\xc3\xa9marr\xc3\xa9\"", PROTO_ERR_EVENT, 0},
        {",\"event\":\"a_very_long_event_name_that_is_longer_than_any_buffer\"", PROTO_ERR_EVENT,
         0},
        {",\"event\":\"a_very_long_event_\\u006eame_that_is_longer_than_any_buffer\"",
         PROTO_ERR_EVENT, 0},
        {",\"event\":1", PROTO_ERR_EVENT, 0},
        {",\"event\":0", PROTO_ERR_EVENT, 0},
        {",\"event\":true", PROTO_ERR_EVENT, 0},
        {",\"event\":false", PROTO_ERR_EVENT, 0},
        {",\"event\":{}", PROTO_ERR_EVENT, 0},
        {",\"event\":[]", PROTO_ERR_EVENT, 0},
        {",\"event\":[\"started\"]", PROTO_ERR_EVENT, 0},
        {",\"event\":\"completed\",\"event\":\"bogus\"", PROTO_ERR_EVENT, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char m[512];
        snprintf(m, sizeof m, "%s%s}", ANN_HEAD, cases[c].field);
        enum proto_status st = scan(m);
        if (st != cases[c].st)
            fail_msg("case %zu (%s): status %d, want %d", c, m, st, cases[c].st);
        assert_int_equal(req.action, PROTO_ACTION_ANNOUNCE);
        assert_true(req.has_info_hash);
        if (st == PROTO_OK)
            assert_int_equal(req.ann.event, cases[c].ev);
    }
}

static void test_announce_left(void **state)
{
    (void)state;
    static const struct {
        const char *field;
        enum proto_left left;
    } cases[] = {
        {",\"left\":0", PROTO_LEFT_ZERO},
        {",\"left\":\"0\"", PROTO_LEFT_ZERO},
        {",\"left\":0.0", PROTO_LEFT_ZERO},
        {",\"left\":-0", PROTO_LEFT_ZERO},
        {",\"left\":-0.0", PROTO_LEFT_ZERO},
        {",\"left\":0e10", PROTO_LEFT_ZERO},
        {",\"left\":0E-3", PROTO_LEFT_ZERO},
        {",\"left\":0.000", PROTO_LEFT_ZERO},
        {",\"left\" : 0 ", PROTO_LEFT_ZERO},
        {",\"left\":5", PROTO_LEFT_NONZERO},
        {",\"left\":\"5\"", PROTO_LEFT_NONZERO},
        {",\"left\":10", PROTO_LEFT_NONZERO},
        {",\"left\":100", PROTO_LEFT_NONZERO},
        {",\"left\":0.5", PROTO_LEFT_NONZERO},
        {",\"left\":1e-9", PROTO_LEFT_NONZERO},
        {",\"left\":-1", PROTO_LEFT_NONZERO},
        {",\"left\":123456789012345678901234567890", PROTO_LEFT_NONZERO},
        {"", PROTO_LEFT_ABSENT},
        {",\"left\":null", PROTO_LEFT_ABSENT},
        {",\"left\":0,\"left\":7", PROTO_LEFT_NONZERO},
        {",\"left\":7,\"left\":0", PROTO_LEFT_ZERO},
        {",\"left\":7,\"left\":null", PROTO_LEFT_ABSENT},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char m[512];
        snprintf(m, sizeof m, "%s%s}", ANN_HEAD, cases[c].field);
        assert_int_equal(scan(m), PROTO_OK);
        if (req.ann.left != cases[c].left)
            fail_msg("case %zu (%s): left %d, want %d", c, m, req.ann.left, cases[c].left);
    }
}

/* "left" as a numeric string is read after JSON decoding: "\u0030" is the string
 * "0" (JSON.parse gives "0", and Number("0") is 0), so the peer is a seeder. */
static void test_announce_left_escaped_string(void **state)
{
    (void)state;
    assert_int_equal(scan(ANN_HEAD ",\"left\":\"\\u0031\"}"), PROTO_OK);
    assert_int_equal(req.ann.left, PROTO_LEFT_NONZERO);
    assert_int_equal(scan(ANN_HEAD ",\"left\":\"\\u0030\"}"), PROTO_OK);
    assert_int_equal(req.ann.left, PROTO_LEFT_ZERO);
}

/* n offers, each {"offer":{"n":k,...},"offer_id":<id k>}, with whitespace around. */
static size_t build_offers(char *m, size_t cap, unsigned n, size_t *offer_off, const char *tail)
{
    size_t o = (size_t)snprintf(m, cap, "%s,\"offers\": [", ANN_HEAD);
    for (unsigned k = 0; k < n; k++) {
        o += (size_t)snprintf(m + o, cap - o, "%s { \"offer\" : ", k ? " ," : "");
        if (offer_off)
            offer_off[k] = o;
        o += (size_t)snprintf(m + o, cap - o,
                              "{\"type\":\"offer\",\"n\":%u,\"sdp\":\"x\\ny\"} , \"offer_id\":"
                              "\"offer%015u\" }",
                              k, k);
    }
    o += (size_t)snprintf(m + o, cap - o, "]%s}", tail);
    assert_true(o < cap);
    return o;
}

static void test_announce_offers_counts(void **state)
{
    (void)state;
    static char m[16384];
    size_t off[64];
    for (unsigned n = 0; n <= 40; n++) {
        size_t len = build_offers(m, sizeof m, n, off, "");
        assert_int_equal(scan_len(m, len), PROTO_OK);
        uint32_t want = n < PROTO_OFFERS_MAX ? n : PROTO_OFFERS_MAX;
        assert_int_equal(req.ann.n_offers, want);
        for (unsigned k = 0; k < want; k++) {
            char id[PROTO_ID_LEN + 1], val[128];
            snprintf(id, sizeof id, "offer%015u", k);
            snprintf(val, sizeof val, "{\"type\":\"offer\",\"n\":%u,\"sdp\":\"x\\ny\"}", k);
            assert_memory_equal(req.ann.offers[k].offer_id, id, PROTO_ID_LEN);
            assert_span_at(m, req.ann.offers[k].offer, off[k], val);
        }
    }
}

/* Offers past PROTO_OFFERS_MAX are not kept but are still looked at: a bad
 * entry past the cap is counted as skipped like one before it. */
static void test_announce_offers_all_validated(void **state)
{
    (void)state;
    static char m[16384];
    for (unsigned n = PROTO_OFFERS_MAX + 1; n <= PROTO_OFFERS_MAX + 4; n++) {
        size_t len = build_offers(m, sizeof m, n, NULL, "");
        /* Break the last offer_id (one character short). */
        char *last = strstr(m + len - 40, "\"offer0");
        assert_non_null(last);
        memmove(last + 1, last + 2, strlen(last + 2) + 1);
        assert_int_equal(scan_len(m, len - 1), PROTO_OK);
        assert_int_equal(req.ann.n_offers, PROTO_OFFERS_MAX);
        assert_int_equal(req.ann.n_invalid_offers, 1);
    }
    /* An entry that is not an object, after the cap. */
    build_offers(m, sizeof m, PROTO_OFFERS_MAX + 2, NULL, "");
    strcpy(strrchr(m, ']'), ",5]}");
    assert_int_equal(scan(m), PROTO_OK);
    assert_int_equal(req.ann.n_invalid_offers, 1);
    /* The same list without it has none. */
    build_offers(m, sizeof m, PROTO_OFFERS_MAX + 2, NULL, "");
    assert_int_equal(scan(m), PROTO_OK);
    assert_int_equal(req.ann.n_offers, PROTO_OFFERS_MAX);
    assert_int_equal(req.ann.n_invalid_offers, 0);
}

static void test_announce_offer_shapes(void **state)
{
    (void)state;
    static const struct {
        const char *field;
        enum proto_status st;
        uint32_t n;
        const char *offer; /* expected raw value of offers[0].offer */
        uint32_t invalid;  /* entries skipped */
    } cases[] = {
        {",\"offers\":[]", PROTO_OK, 0, NULL, 0},
        {",\"offers\":null", PROTO_OK, 0, NULL, 0},
        {",\"offers\":[{\"offer\":\"str\",\"offer_id\":" Q(OID) "}]", PROTO_OK, 1, "\"str\"", 0},
        {",\"offers\":[{\"offer\":null,\"offer_id\":" Q(OID) "}]", PROTO_OK, 1, "null", 0},
        {",\"offers\":[{\"offer\":-1.5e3,\"offer_id\":" Q(OID) "}]", PROTO_OK, 1, "-1.5e3", 0},
        {",\"offers\":[{\"offer\":[1,[2],{}],\"offer_id\":" Q(OID) "}]", PROTO_OK, 1, "[1,[2],{}]",
         0},
        {",\"offers\":[{\"offer_id\":" Q(OID) ",\"offer\":true}]", PROTO_OK, 1, "true", 0},
        {",\"offers\":[{\"\\u006fffer\":false,\"offer\\u005fid\":" Q(OID) "}]", PROTO_OK, 1,
         "false", 0},
        {",\"offers\":[{\"offer\":1,\"offer\":22,\"offer_id\":" Q(OID) "}]", PROTO_OK, 1, "22", 0},
        {",\"offers\":[{\"x\":{\"offer\":9},\"offer\":{\"offer\":3},\"offer_id\":" Q(OID) "}]",
         PROTO_OK, 1, "{\"offer\":3}", 0},
        {",\"offers\":[{\"offer\":7,\"offer_id\":\"bad\",\"offer_id\":" Q(OID) "}]", PROTO_OK, 1,
         "7", 0},
        {",\"offers\":{}", PROTO_ERR_OFFERS, 0, NULL, 0},
        {",\"offers\":\"x\"", PROTO_ERR_OFFERS, 0, NULL, 0},
        {",\"offers\":1", PROTO_ERR_OFFERS, 0, NULL, 0},
        {",\"offers\":true", PROTO_ERR_OFFERS, 0, NULL, 0},
        {",\"offers\":{\"offer\":1,\"offer_id\":" Q(OID) "}", PROTO_ERR_OFFERS, 0, NULL, 0},
        {",\"offers\":[1]", PROTO_OK, 0, NULL, 1},
        {",\"offers\":[null]", PROTO_OK, 0, NULL, 1},
        {",\"offers\":[\"x\"]", PROTO_OK, 0, NULL, 1},
        {",\"offers\":[[]]", PROTO_OK, 0, NULL, 1},
        {",\"offers\":[{}]", PROTO_OK, 0, NULL, 1},
        {",\"offers\":[{\"offer_id\":" Q(OID) "}]", PROTO_OK, 0, NULL, 1},
        {",\"offers\":[{\"Offer\":1,\"offer_id\":" Q(OID) "}]", PROTO_OK, 0, NULL, 1},
        {",\"offers\":[{\"offer\":1}]", PROTO_OK, 0, NULL, 1},
        {",\"offers\":[{\"offer\":1,\"offer_id\":null}]", PROTO_OK, 0, NULL, 1},
        {",\"offers\":[{\"offer\":1,\"offer_id\":5}]", PROTO_OK, 0, NULL, 1},
        {",\"offers\":[{\"offer\":1,\"offer_id\":\"offerid0123456789ab\"}]", PROTO_OK, 0, NULL, 1},
        {",\"offers\":[{\"offer\":1,\"offer_id\":\"offerid0123456789abcd\"}]", PROTO_OK, 0, NULL,
         1},
        {",\"offers\":[{\"offer\":1,\"offer_id\":" Q(OID) ",\"offer_id\":\"x\"}]", PROTO_OK, 0,
         NULL, 1},
        {",\"offers\":[{\"offer\":1,\"offer_id\":" Q(OID) "},{\"offer\":2}]", PROTO_OK, 1, "1", 1},
        {",\"offers\":[{\"offer\":1,\"offer_id\":" Q(OID) "},7]", PROTO_OK, 1, "1", 1},
        {",\"offers\":[7,{\"offer\":1,\"offer_id\":" Q(OID) "},{}]", PROTO_OK, 1, "1", 2},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char m[512];
        snprintf(m, sizeof m, "%s%s}", ANN_HEAD, cases[c].field);
        enum proto_status st = scan(m);
        if (st != cases[c].st)
            fail_msg("case %zu (%s): status %d, want %d", c, m, st, cases[c].st);
        assert_int_equal(req.action, PROTO_ACTION_ANNOUNCE);
        assert_true(req.has_info_hash);
        if (st != PROTO_OK)
            continue;
        assert_int_equal(req.ann.n_offers, cases[c].n);
        assert_int_equal(req.ann.n_invalid_offers, cases[c].invalid);
        if (cases[c].offer) {
            /* The offer value is the last occurrence of its text before "offer_id"
             * or the end; locate it from the key "offer" (raw or escaped). */
            const struct proto_span sp = req.ann.offers[0].offer;
            assert_int_equal(sp.len, strlen(cases[c].offer));
            assert_memory_equal(m + sp.off, cases[c].offer, sp.len);
            assert_memory_equal(req.ann.offers[0].offer_id, OID, PROTO_ID_LEN);
        }
    }
}

/* "peers": K, an integer 1..PROTO_PEERS_MAX in plain digits; anything else fails. */
static void test_announce_peers(void **state)
{
    (void)state;
    static const struct {
        const char *field;
        enum proto_status st;
        uint32_t k;
    } cases[] = {
        {"", PROTO_OK, 0},
        {",\"peers\":1", PROTO_OK, 1},
        {",\"peers\":7", PROTO_OK, 7},
        {",\"peers\":50", PROTO_OK, 50},
        {",\"peers\":0", PROTO_ERR_PEERS, 0},
        {",\"peers\":51", PROTO_ERR_PEERS, 0},
        {",\"peers\":100", PROTO_ERR_PEERS, 0},
        {",\"peers\":-1", PROTO_ERR_PEERS, 0},
        {",\"peers\":5.0", PROTO_ERR_PEERS, 0},
        {",\"peers\":5e0", PROTO_ERR_PEERS, 0},
        {",\"peers\":\"5\"", PROTO_ERR_PEERS, 0},
        {",\"peers\":null", PROTO_ERR_PEERS, 0},
        {",\"peers\":true", PROTO_ERR_PEERS, 0},
        {",\"peers\":[5]", PROTO_ERR_PEERS, 0},
        {",\"peers\":99999999999999999999", PROTO_ERR_PEERS, 0},
        {",\"peers\":3,\"peers\":4", PROTO_OK, 4}, /* the last one wins */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char m[512];
        enum proto_status st;
        snprintf(m, sizeof m, "%s%s}", ANN_HEAD, cases[c].field);
        st = scan(m);
        if (st != cases[c].st)
            fail_msg("case %zu (%s): status %d, want %d", c, m, st, cases[c].st);
        assert_int_equal(req.action, PROTO_ACTION_ANNOUNCE);
        if (st == PROTO_OK)
            assert_int_equal(req.ann.want_peers, cases[c].k);
    }
}

/* An offer entry's to_peer_id: kept with its entry; a bad one skips the entry. */
static void test_announce_directed_offers(void **state)
{
    (void)state;
    char m[1024];
    snprintf(
        m, sizeof m,
        "%s,\"offers\":[{\"offer\":1,\"offer_id\":" Q(OID) ",\"to_peer_id\":" Q(
            TPID) "},{\"offer\":2,\"offer_id\":" Q(OID) "},{\"offer\":3,\"offer_id\":" Q(OID) ",\"t"
                                                                                              "o_"
                                                                                              "peer"
                                                                                              "_id"
                                                                                              "\":"
                                                                                              "\"sh"
                                                                                              "ort"
                                                                                              "\"},"
                                                                                              "{\"o"
                                                                                              "ffer"
                                                                                              "\":"
                                                                                              "4,"
                                                                                              "\"of"
                                                                                              "fer_"
                                                                                              "id\""
                                                                                              ":" Q(
                                                                                                  OID) ",\"to_peer_id\":null}]}",
        ANN_HEAD);
    assert_int_equal(scan(m), PROTO_OK);
    assert_int_equal(req.ann.n_offers, 2);
    assert_int_equal(req.ann.n_invalid_offers, 2);
    assert_true(req.ann.offers[0].directed);
    assert_memory_equal(req.ann.offers[0].to_peer_id, TPID, PROTO_ID_LEN);
    assert_false(req.ann.offers[1].directed);
}

static void test_announce_answer(void **state)
{
    (void)state;
    const char *m = ANN_HEAD ",\"answer\" :\t{\"type\":\"answer\",\"sdp\":\"a=b\\r\\n\"}\n,"
                             "\"to_peer_id\":" Q(TPID) ",\"offer_id\":" Q(OID) "}";
    assert_int_equal(scan(m), PROTO_OK);
    assert_true(req.ann.has_answer);
    assert_span(m, req.ann.answer, "{\"type\":\"answer\",\"sdp\":\"a=b\\r\\n\"}");
    assert_memory_equal(req.ann.to_peer_id, TPID, PROTO_ID_LEN);
    assert_memory_equal(req.ann.offer_id, OID, PROTO_ID_LEN);
    assert_int_equal(req.ann.n_offers, 0);

    /* Fields in another order, and escaped keys. */
    const char *m2 =
        "{\"offer_id\":" Q(OID) ",\"to_peer_id\":" Q(TPID) ",\"answer\":\"raw\",\"peer_id\":" Q(
            PID) ",\"info_hash\":" Q(IH) ",\"action\":\"announce\"}";
    assert_int_equal(scan(m2), PROTO_OK);
    assert_true(req.ann.has_answer);
    assert_span(m2, req.ann.answer, "\"raw\"");

    static const struct {
        const char *field;
        enum proto_status st;
        bool has_answer;
    } cases[] = {
        {",\"answer\":{},\"to_peer_id\":" Q(TPID) ",\"offer_id\":" Q(OID), PROTO_OK, true},
        {",\"answer\":0,\"to_peer_id\":" Q(TPID) ",\"offer_id\":" Q(OID), PROTO_OK, true},
        {",\"answer\":false,\"to_peer_id\":" Q(TPID) ",\"offer_id\":" Q(OID), PROTO_OK, true},
        {",\"answer\":null", PROTO_OK, false},
        {",\"answer\":null,\"to_peer_id\":" Q(TPID) ",\"offer_id\":" Q(OID), PROTO_OK, false},
        {",\"answer\":null,\"to_peer_id\":\"bad\"", PROTO_OK, false},
        {",\"to_peer_id\":" Q(TPID) ",\"offer_id\":" Q(OID), PROTO_OK, false},
        {",\"answer\":{}", PROTO_ERR_TO_PEER_ID, false},
        {",\"answer\":{},\"offer_id\":" Q(OID), PROTO_ERR_TO_PEER_ID, false},
        {",\"answer\":{},\"to_peer_id\":null,\"offer_id\":" Q(OID), PROTO_ERR_TO_PEER_ID, false},
        {",\"answer\":{},\"to_peer_id\":\"short\",\"offer_id\":" Q(OID), PROTO_ERR_TO_PEER_ID,
         false},
        {",\"answer\":{},\"to_peer_id\":[" Q(TPID) "],\"offer_id\":" Q(OID), PROTO_ERR_TO_PEER_ID,
         false},
        {",\"answer\":{},\"to_peer_id\":" Q(TPID), PROTO_ERR_OFFER_ID, false},
        {",\"answer\":{},\"to_peer_id\":" Q(TPID) ",\"offer_id\":\"x\"", PROTO_ERR_OFFER_ID, false},
        {",\"answer\":{},\"to_peer_id\":" Q(TPID) ",\"offer_id\":\"\\u0100ferid0123456789abc\"",
         PROTO_ERR_OFFER_ID, false},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char mm[512];
        snprintf(mm, sizeof mm, "%s%s}", ANN_HEAD, cases[c].field);
        enum proto_status st = scan(mm);
        if (st != cases[c].st)
            fail_msg("case %zu (%s): status %d, want %d", c, mm, st, cases[c].st);
        assert_int_equal(req.action, PROTO_ACTION_ANNOUNCE);
        assert_true(req.has_info_hash);
        if (st == PROTO_OK)
            assert_int_equal(req.ann.has_answer, cases[c].has_answer);
    }
}

/* An announce may carry offers and an answer at once; both are kept. */
static void test_announce_offers_and_answer(void **state)
{
    (void)state;
    const char *m =
        ANN_HEAD ",\"offers\":[{\"offer\":\"o1\",\"offer_id\":\"offerAAAAAAAAAAAAAAA\"},"
                 "{\"offer\":\"o2\",\"offer_id\":\"offerBBBBBBBBBBBBBBB\"}],"
                 "\"answer\":\"ans\",\"to_peer_id\":" Q(TPID) ",\"offer_id\":" Q(OID) "}";
    assert_int_equal(scan(m), PROTO_OK);
    assert_int_equal(req.ann.n_offers, 2);
    assert_span(m, req.ann.offers[0].offer, "\"o1\"");
    assert_span(m, req.ann.offers[1].offer, "\"o2\"");
    assert_memory_equal(req.ann.offers[0].offer_id, "offerAAAAAAAAAAAAAAA", PROTO_ID_LEN);
    assert_memory_equal(req.ann.offers[1].offer_id, "offerBBBBBBBBBBBBBBB", PROTO_ID_LEN);
    assert_true(req.ann.has_answer);
    assert_span(m, req.ann.answer, "\"ans\"");
    assert_memory_equal(req.ann.offer_id, OID, PROTO_ID_LEN);
}

static void test_announce_id_errors(void **state)
{
    (void)state;
    static const struct {
        const char *m;
        enum proto_status st;
        bool has_ih;
    } cases[] = {
        {"{\"action\":\"announce\"}", PROTO_ERR_INFO_HASH, false},
        {"{\"action\":\"announce\",\"peer_id\":" Q(PID) "}", PROTO_ERR_INFO_HASH, false},
        {"{\"action\":\"announce\",\"info_hash\":null,\"peer_id\":" Q(PID) "}", PROTO_ERR_INFO_HASH,
         false},
        {"{\"action\":\"announce\",\"info_hash\":\"short\",\"peer_id\":" Q(PID) "}",
         PROTO_ERR_INFO_HASH, false},
        {"{\"action\":\"announce\",\"info_hash\":[" Q(IH) "],\"peer_id\":" Q(PID) "}",
         PROTO_ERR_INFO_HASH, false},
        {"{\"action\":\"announce\",\"info_hash\":12345678901234567890,\"peer_id\":" Q(PID) "}",
         PROTO_ERR_INFO_HASH, false},
        {"{\"action\":\"announce\",\"info_hash\":\"\\u0100nfohash0123456789ab\",\"peer_id\":" Q(
             PID) "}",
         PROTO_ERR_INFO_HASH, false},
        {"{\"action\":\"announce\",\"info_hash\":" Q(IH) "}", PROTO_ERR_PEER_ID, true},
        {"{\"action\":\"announce\",\"info_hash\":" Q(IH) ",\"peer_id\":null}", PROTO_ERR_PEER_ID,
         true},
        {"{\"action\":\"announce\",\"info_hash\":" Q(IH) ",\"peer_id\":\"peerid0123456789abc\"}",
         PROTO_ERR_PEER_ID, true},
        {"{\"action\":\"announce\",\"info_hash\":" Q(IH) ",\"peer_id\":\"peerid0123456789abcde\"}",
         PROTO_ERR_PEER_ID, true},
        {"{\"action\":\"announce\",\"info_hash\":" Q(IH) ",\"peer_id\":{}}", PROTO_ERR_PEER_ID,
         true},
        /* Last key wins, also for an id. */
        {"{\"action\":\"announce\",\"info_hash\":" Q(IH) ",\"info_hash\":\"x\",\"peer_id\":" Q(
             PID) "}",
         PROTO_ERR_INFO_HASH, false},
        {"{\"action\":\"announce\",\"info_hash\":\"x\",\"info_hash\":" Q(IH) ",\"peer_id\":" Q(
             PID) "}",
         PROTO_OK, true},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        enum proto_status st = scan(cases[c].m);
        if (st != cases[c].st)
            fail_msg("case %zu (%s): status %d, want %d", c, cases[c].m, st, cases[c].st);
        assert_int_equal(req.action, PROTO_ACTION_ANNOUNCE);
        assert_int_equal(req.has_info_hash, cases[c].has_ih);
        if (cases[c].has_ih)
            assert_memory_equal(req.info_hash, IH, PROTO_ID_LEN);
    }
}

/* ---- scrape ---- */

static size_t build_scrape(char *m, size_t cap, unsigned n)
{
    size_t o = (size_t)snprintf(m, cap, "{\"action\":\"scrape\",\"info_hash\":[");
    for (unsigned k = 0; k < n; k++)
        o += (size_t)snprintf(m + o, cap - o, "%s\"hash%016u\"", k ? "," : "", k);
    o += (size_t)snprintf(m + o, cap - o, "]}");
    assert_true(o < cap);
    return o;
}

static void test_scrape_single_and_full(void **state)
{
    (void)state;
    assert_int_equal(scan("{\"action\":\"scrape\",\"info_hash\":" Q(IH) "}"), PROTO_OK);
    assert_int_equal(req.action, PROTO_ACTION_SCRAPE);
    assert_int_equal(req.scrape_kind, PROTO_SCRAPE_LIST);
    assert_int_equal(req.n_hashes, 1);
    assert_memory_equal(req.hashes[0], IH, PROTO_ID_LEN);

    assert_int_equal(scan("{\"action\":\"scrape\",\"info_hash\":[" Q(IH) "," Q(IH2) "]}"),
                     PROTO_OK);
    assert_int_equal(req.scrape_kind, PROTO_SCRAPE_LIST);
    assert_int_equal(req.n_hashes, 2);
    assert_memory_equal(req.hashes[0], IH, PROTO_ID_LEN);
    assert_memory_equal(req.hashes[1], IH2, PROTO_ID_LEN);

    assert_int_equal(scan("{\"action\":\"scrape\",\"info_hash\":[]}"), PROTO_OK);
    assert_int_equal(req.scrape_kind, PROTO_SCRAPE_LIST);
    assert_int_equal(req.n_hashes, 0);

    assert_int_equal(scan("{\"action\":\"scrape\",\"info_hash\":[ \n ]}"), PROTO_OK);
    assert_int_equal(req.scrape_kind, PROTO_SCRAPE_LIST);
    assert_int_equal(req.n_hashes, 0);

    assert_int_equal(scan("{\"action\":\"scrape\"}"), PROTO_OK);
    assert_int_equal(req.action, PROTO_ACTION_SCRAPE);
    assert_int_equal(req.scrape_kind, PROTO_SCRAPE_FULL);
    assert_int_equal(req.n_hashes, 0);

    assert_int_equal(scan("{\"action\":\"scrape\",\"info_hash\":null}"), PROTO_OK);
    assert_int_equal(req.scrape_kind, PROTO_SCRAPE_FULL);

    /* Binary ids with escapes. */
    assert_int_equal(scan("{\"action\":\"scrape\",\"info_hash\":[\"\\u0000\\u0001\xc3\xbf"
                          "abcdefghijklmnopq\"]}"),
                     PROTO_OK);
    assert_int_equal(req.n_hashes, 1);
    assert_memory_equal(req.hashes[0],
                        "\x00\x01\xff"
                        "abcdefghijklmnopq",
                        PROTO_ID_LEN);

    /* Peer fields of an announce are ignored by a scrape. */
    assert_int_equal(scan("{\"action\":\"scrape\",\"peer_id\":5,\"offers\":7,\"event\":1,"
                          "\"info_hash\":" Q(IH) "}"),
                     PROTO_OK);
    assert_int_equal(req.n_hashes, 1);
}

/* Every list size up to the cap, the cap + 1, and a smaller max parameter. */
static void test_scrape_sizes(void **state)
{
    (void)state;
    static char m[32768];
    for (unsigned n = 0; n <= PROTO_SCRAPE_HASHES_MAX + 2; n++) {
        size_t len = build_scrape(m, sizeof m, n);
        enum proto_status st = scan_len(m, len);
        assert_int_equal(req.action, PROTO_ACTION_SCRAPE);
        if (n > PROTO_SCRAPE_HASHES_MAX) {
            assert_int_equal(st, PROTO_ERR_SCRAPE_TOO_MANY);
            continue;
        }
        assert_int_equal(st, PROTO_OK);
        assert_int_equal(req.scrape_kind, PROTO_SCRAPE_LIST);
        assert_int_equal(req.n_hashes, n);
        for (unsigned k = 0; k < n; k++) {
            char id[PROTO_ID_LEN + 1];
            snprintf(id, sizeof id, "hash%016u", k);
            assert_memory_equal(req.hashes[k], id, PROTO_ID_LEN);
        }
    }
    for (uint32_t max = 1; max <= 8; max++) {
        for (unsigned n = 0; n <= 10; n++) {
            size_t len = build_scrape(m, sizeof m, n);
            enum proto_status st = scan_max(m, len, max);
            assert_int_equal(st, n <= max ? PROTO_OK : PROTO_ERR_SCRAPE_TOO_MANY);
            if (st == PROTO_OK)
                assert_int_equal(req.n_hashes, n);
        }
    }
    /* A max above PROTO_SCRAPE_HASHES_MAX is clamped to it. */
    size_t len = build_scrape(m, sizeof m, PROTO_SCRAPE_HASHES_MAX);
    assert_int_equal(scan_max(m, len, 100000), PROTO_OK);
    assert_int_equal(req.n_hashes, PROTO_SCRAPE_HASHES_MAX);
    len = build_scrape(m, sizeof m, PROTO_SCRAPE_HASHES_MAX + 1);
    assert_int_equal(scan_max(m, len, UINT32_MAX), PROTO_ERR_SCRAPE_TOO_MANY);
}

static void test_scrape_bad_entries(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"action\":\"scrape\",\"info_hash\":\"short\"}",
        "{\"action\":\"scrape\",\"info_hash\":5}",
        "{\"action\":\"scrape\",\"info_hash\":true}",
        "{\"action\":\"scrape\",\"info_hash\":{}}",
        "{\"action\":\"scrape\",\"info_hash\":[null]}",
        "{\"action\":\"scrape\",\"info_hash\":[5]}",
        "{\"action\":\"scrape\",\"info_hash\":[\"short\"]}",
        "{\"action\":\"scrape\",\"info_hash\":[[" Q(IH) "]]}",
        "{\"action\":\"scrape\",\"info_hash\":[" Q(IH) ",\"infohash0123456789abc\"]}",
        "{\"action\":\"scrape\",\"info_hash\":[" Q(IH) "," Q(IH2) ",{}]}",
        "{\"action\":\"scrape\",\"info_hash\":[\"\\ud800nfohash0123456789a\"]}",
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        enum proto_status st = scan(bad[c]);
        if (st != PROTO_ERR_INFO_HASH)
            fail_msg("case %zu (%s): status %d", c, bad[c], st);
        assert_int_equal(req.action, PROTO_ACTION_SCRAPE);
        assert_false(req.has_info_hash);
    }
}

/* ---- object syntax: escaped keys, duplicates, unknown fields, whitespace ---- */

static void test_escaped_keys_and_values(void **state)
{
    (void)state;
    const char *m =
        "{\"act\\u0069on\":\"\\u0061nnounce\",\"info\\u005fhash\":" Q(IH) ",\"\\u0070eer_id\":" Q(
            PID) ",\"ev\\u0065nt\":\"completed\","
                 "\"l\\u0065ft\":0,\"\\u006f\\u0066fers\":[{\"offer\":1,\"offer_id\":" Q(OID) "}]}";
    assert_int_equal(scan(m), PROTO_OK);
    assert_int_equal(req.action, PROTO_ACTION_ANNOUNCE);
    assert_memory_equal(req.ann.peer_id, PID, PROTO_ID_LEN);
    assert_int_equal(req.ann.event, PROTO_EVENT_COMPLETED);
    assert_int_equal(req.ann.left, PROTO_LEFT_ZERO);
    assert_int_equal(req.ann.n_offers, 1);

    assert_int_equal(scan("{\"\\u0061\\u0063\\u0074\\u0069\\u006F\\u006E\":\"scr\\u0061pe\"}"),
                     PROTO_OK);
    assert_int_equal(req.action, PROTO_ACTION_SCRAPE);

    /* Near misses are unknown keys / invalid actions. */
    assert_int_equal(scan("{\"Action\":\"scrape\"}"), PROTO_ERR_NO_ACTION);
    assert_int_equal(scan("{\"action \":\"scrape\"}"), PROTO_ERR_NO_ACTION);
    assert_int_equal(scan("{\"actio\":\"scrape\"}"), PROTO_ERR_NO_ACTION);
    assert_int_equal(scan("{\"action\\u0000\":\"scrape\"}"), PROTO_ERR_NO_ACTION);
    assert_int_equal(scan("{\"\\/action\":\"scrape\"}"), PROTO_ERR_NO_ACTION);
    assert_int_equal(scan("{\"action\":\"Scrape\"}"), PROTO_ERR_ACTION);
    assert_int_equal(scan("{\"action\":\"scrape\\u0000\"}"), PROTO_ERR_ACTION);
    assert_int_equal(scan("{\"action\":\"scrapes\"}"), PROTO_ERR_ACTION);
    assert_int_equal(scan("{\"action\":\"\"}"), PROTO_ERR_ACTION);
    assert_int_equal(scan("{\"action\":\"\xc3\xa9\"}"), PROTO_ERR_ACTION);
    assert_int_equal(scan("{\"action\":\"announce_announce_announce_announce\"}"),
                     PROTO_ERR_ACTION);
    assert_int_equal(scan("{\"action\":\"\\u0061nnounce_announce_announce\"}"), PROTO_ERR_ACTION);
    assert_int_equal(scan("{\"action\":1}"), PROTO_ERR_ACTION);
    assert_int_equal(scan("{\"action\":null}"), PROTO_ERR_ACTION);
    assert_int_equal(scan("{\"action\":[\"scrape\"]}"), PROTO_ERR_ACTION);
    assert_int_equal(req.action, PROTO_ACTION_UNKNOWN);
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    assert_int_equal(scan("{\"action\":\"announce\",\"action\":\"scrape\"}"), PROTO_OK);
    assert_int_equal(req.action, PROTO_ACTION_SCRAPE);
    assert_int_equal(scan("{\"action\":\"scrape\",\"act\\u0069on\":\"announce\",\"info_hash\":" Q(
                         IH) ",\"peer_id\":" Q(PID) "}"),
                     PROTO_OK);
    assert_int_equal(req.action, PROTO_ACTION_ANNOUNCE);
    assert_int_equal(scan("{\"action\":\"scrape\",\"action\":\"bogus\"}"), PROTO_ERR_ACTION);
    assert_int_equal(scan("{\"action\":\"bogus\",\"action\":\"scrape\"}"), PROTO_OK);
    assert_int_equal(scan(ANN_HEAD ",\"peer_id\":\"peerid0123456789zzzz\"}"), PROTO_OK);
    assert_memory_equal(req.ann.peer_id, "peerid0123456789zzzz", PROTO_ID_LEN);
    const char *m = ANN_HEAD ",\"offers\":[{\"offer\":\"v1\",\"offer_id\":" Q(
        OID) "}],\"offers\":[{\"offer\":\"v2\",\"offer_id\":" Q(OID) "},{\"offer\":\"v3\",\"offer_"
                                                                     "id\":" Q(OID) "}]}";
    assert_int_equal(scan(m), PROTO_OK);
    assert_int_equal(req.ann.n_offers, 2);
    assert_span(m, req.ann.offers[0].offer, "\"v2\"");
    assert_span(m, req.ann.offers[1].offer, "\"v3\"");
    assert_int_equal(
        scan(ANN_HEAD ",\"offers\":[{\"offer\":1,\"offer_id\":" Q(OID) "}],\"offers\":null}"),
        PROTO_OK);
    assert_int_equal(req.ann.n_offers, 0);
}

static void test_unknown_fields(void **state)
{
    (void)state;
    const char *m =
        "{\"x\":{\"action\":\"scrape\",\"a\":[1,2.5e-3,{\"b\":null,\"c\":[[],{}]}],"
        "\"d\":\"}]\\\",\\\"action\\\":\\\"scrape\\\"\"},"
        "\"info_hash\\u0000\":\"zzz\",\"\":0,\"y\":[\"peer_id\",{\"peer_id\":1}],"
        "\"action\":\"announce\",\"z\":true,\"info_hash\":" Q(IH) ",\"w\":false,\"peer_id\":" Q(
            PID) ",\"v\":null,\"u\":-0.0e+0,"
                 "\"numwant\":\"lots\",\"uploaded\":[],\"downloaded\":{},\"trackerid\":9}";
    assert_int_equal(scan(m), PROTO_OK);
    assert_int_equal(req.action, PROTO_ACTION_ANNOUNCE);
    assert_memory_equal(req.ann.peer_id, PID, PROTO_ID_LEN);
    assert_int_equal(req.ann.n_offers, 0);
    assert_false(req.ann.has_answer);
}

/* JSON whitespace is exactly space, tab, LF and CR; anything else (NUL, FF, VT,
 * U+00A0) is a syntax error, and the length, not a NUL, ends the message. */
static void test_whitespace_binary_safe(void **state)
{
    (void)state;
    const char *m = " \t\r\n{ \t\r\n\"action\" \t\r\n: \t\r\n\"announce\" \t\r\n, \t\r\n"
                    "\"info_hash\"\n:\n" Q(IH) "\r,\r\"peer_id\"\t:\t" Q(
                        PID) " , \"offers\" : [ { \"offer\" : "
                             "[ 1 , 2 ] , \"offer_id\" : " Q(OID) " } ] , \"left\" : 0 "
                                                                  "\t\r\n} \t\r\n";
    assert_int_equal(scan(m), PROTO_OK);
    assert_int_equal(req.ann.n_offers, 1);
    assert_span(m, req.ann.offers[0].offer, "[ 1 , 2 ]");
    assert_int_equal(req.ann.left, PROTO_LEFT_ZERO);

    static const char bad_ws[] = {'\0', '\f', '\v', '\x1c', '\x85'};
    for (size_t k = 0; k < sizeof bad_ws; k++) {
        char b[256];
        size_t n;
        /* before the object, between tokens, after the object */
        n = (size_t)snprintf(b, sizeof b, "x{\"action\":\"scrape\"}");
        b[0] = bad_ws[k];
        assert_int_equal(scan_len(b, n), PROTO_ERR_JSON);
        n = (size_t)snprintf(b, sizeof b, "{\"action\":x\"scrape\"}");
        b[10] = bad_ws[k];
        assert_int_equal(scan_len(b, n), PROTO_ERR_JSON);
        n = (size_t)snprintf(b, sizeof b, "{\"action\":\"scrape\"}x");
        b[n - 1] = bad_ws[k];
        assert_int_equal(scan_len(b, n), PROTO_ERR_JSON);
    }
    assert_int_equal(scan("\xc2\xa0{\"action\":\"scrape\"}"), PROTO_ERR_JSON);
    assert_int_equal(scan("{\"action\":\"scrape\"}\xc2\xa0"), PROTO_ERR_JSON);

    /* A NUL inside a string is a raw control character; \u0000 is fine. */
    static const char nul_in_string[] = "{\"action\":\"scrape\",\"x\":\"a\0b\"}";
    assert_int_equal(scan_len(nul_in_string, sizeof nul_in_string - 1), PROTO_ERR_JSON);
    assert_int_equal(scan("{\"action\":\"scrape\",\"x\":\"a\\u0000b\"}"), PROTO_OK);

    /* Bytes after len are not looked at: a valid prefix of a longer buffer. */
    const char *longer = "{\"action\":\"scrape\"}garbage";
    assert_int_equal(proto_scan_request(longer, 19, 256, &req), PROTO_OK);
    assert_int_equal(req.action, PROTO_ACTION_SCRAPE);
}

/* ---- malformed input ---- */

static const char *const valid_msgs[] = {
    "{\"action\":\"announce\",\"info_hash\":\"\\u0000\\b\xc3\xbf"
    "abcdefghijklmnopq\","
    "\"peer_id\":" Q(PID) ",\"event\":\"started\",\"left\":-0.5e+3,\"numwant\":[true,false,null],"
                          "\"offers\":[{\"offer\":{\"type\":\"offer\",\"sdp\":\"v="
                          "0\\r\\n\xe2\x82\xac\xf0\x9f\x98\x80\"},"
                          "\"offer_id\":" Q(OID) "}],\"answer\":{\"a\":[1,{}]},\"to_peer_id\":" Q(
                              TPID) ",\"offer_id\":" Q(OID) "}",
    "{\"action\":\"scrape\",\"info_hash\":[" Q(IH) ",\"\\u00e9\\u00E9\\u0041\\/\\\\\\\""
                                                   "abcdefghijklmn\"]}",
    "{}",
    "{\"a\":[[[[{\"b\":{}}]]]],\"c\":\"\"}",
};

/* Where the top-level "action" value of m ends (its closing quote + 1), or 0. */
static size_t action_end(const char *m)
{
    const char *a = strstr(m, "{\"action\":\"");
    if (a != m)
        return 0;
    return (size_t)(strchr(m + 11, '"') - m) + 1;
}

static void test_truncated_prefixes(void **state)
{
    (void)state;
    static const enum proto_action actions[] = {PROTO_ACTION_ANNOUNCE, PROTO_ACTION_SCRAPE,
                                                PROTO_ACTION_UNKNOWN, PROTO_ACTION_UNKNOWN};
    for (size_t v = 0; v < sizeof valid_msgs / sizeof valid_msgs[0]; v++) {
        const char *m = valid_msgs[v];
        size_t len = strlen(m);
        size_t known = action_end(m);
        enum proto_status full = scan_len(m, len);
        assert_true(full != PROTO_ERR_JSON && full < PROTO_STATUS_COUNT);
        for (size_t l = 0; l < len; l++) {
            enum proto_status st = scan_len(m, l);
            if (st != PROTO_ERR_JSON)
                fail_msg("message %zu cut at %zu: status %d, want invalid JSON", v, l, st);
            /* PROTOCOL.md section 5: a message that is not valid JSON carries the
             * action read before the error, if any; never an info_hash. */
            enum proto_action want = known && l >= known ? actions[v] : PROTO_ACTION_UNKNOWN;
            if (req.action != want)
                fail_msg("message %zu cut at %zu: action %d, want %d", v, l, req.action, want);
            assert_false(req.has_info_hash);
        }
    }
    assert_int_equal(scan_len(valid_msgs[0], strlen(valid_msgs[0])), PROTO_OK);
    assert_int_equal(scan_len(valid_msgs[1], strlen(valid_msgs[1])), PROTO_OK);
}

/* Every single-byte change and deletion of the valid messages: any status, never a
 * crash, and OK results stay within bounds. */
static void test_mutations_never_crash(void **state)
{
    (void)state;
    static const unsigned char subst[] = {0x00, '"', '\\', '{', '}', '[', ']',  ',',  ':',  ' ',
                                          'n',  '0', '-',  'e', '.', 'u', 0x80, 0xC3, 0xED, 0xFF};
    char buf[1024];
    for (size_t v = 0; v < sizeof valid_msgs / sizeof valid_msgs[0]; v++) {
        const char *m = valid_msgs[v];
        size_t len = strlen(m);
        assert_true(len < sizeof buf);
        for (size_t i = 0; i < len; i++) {
            for (size_t k = 0; k <= sizeof subst; k++) {
                size_t n = len;
                memcpy(buf, m, len);
                if (k == sizeof subst) {
                    memmove(buf + i, buf + i + 1, len - i - 1); /* delete byte i */
                    n--;
                } else {
                    buf[i] = (char)subst[k];
                }
                enum proto_status st = scan_max(buf, n, 4);
                assert_true((unsigned)st < PROTO_STATUS_COUNT);
                assert_non_null(proto_status_reason(st));
                if (st != PROTO_OK)
                    continue;
                assert_true(req.action == PROTO_ACTION_ANNOUNCE ||
                            req.action == PROTO_ACTION_SCRAPE);
                assert_true(req.ann.n_offers <= PROTO_OFFERS_MAX);
                assert_true(req.n_hashes <= 4);
                for (uint32_t q = 0; q < req.ann.n_offers && req.action == PROTO_ACTION_ANNOUNCE;
                     q++)
                    assert_true((size_t)req.ann.offers[q].offer.off + req.ann.offers[q].offer.len <=
                                n);
                if (req.action == PROTO_ACTION_ANNOUNCE && req.ann.has_answer)
                    assert_true((size_t)req.ann.answer.off + req.ann.answer.len <= n);
            }
        }
    }
}

static void test_trailing_garbage(void **state)
{
    (void)state;
    static const struct {
        const char *m;
        enum proto_action action; /* read before the error (PROTOCOL.md section 5) */
    } bad[] = {
        {"{\"action\":\"scrape\"}x", PROTO_ACTION_SCRAPE},
        {"{\"action\":\"scrape\"}}", PROTO_ACTION_SCRAPE},
        {"{\"action\":\"scrape\"} {}", PROTO_ACTION_SCRAPE},
        {"{\"action\":\"scrape\"},", PROTO_ACTION_SCRAPE},
        {"{\"action\":\"scrape\"}0", PROTO_ACTION_SCRAPE},
        {"{\"action\":\"announce\"}\"\"", PROTO_ACTION_ANNOUNCE},
        {"{\"action\":\"scrape\",}", PROTO_ACTION_SCRAPE},
        {"{\"action\":\"scrape\" \"x\":1}", PROTO_ACTION_SCRAPE},
        {"{,\"action\":\"scrape\"}", PROTO_ACTION_UNKNOWN},
        {"{\"action\" \"scrape\"}", PROTO_ACTION_UNKNOWN},
        {"{\"action\"::\"scrape\"}", PROTO_ACTION_UNKNOWN},
        {"{\"action\":\"scrape\",,\"x\":1}", PROTO_ACTION_SCRAPE},
        {"{\"action\":\"scrape\",\"x\":[1,]}", PROTO_ACTION_SCRAPE},
        {"{\"action\":\"scrape\",\"x\":[,1]}", PROTO_ACTION_SCRAPE},
        {"{\"action\":\"scrape\",\"x\":{\"a\"}}", PROTO_ACTION_SCRAPE},
        {"{\"action\":\"scrape\",\"x\":{1:2}}", PROTO_ACTION_SCRAPE},
        {"{action:\"scrape\"}", PROTO_ACTION_UNKNOWN},
        {"{'action':'scrape'}", PROTO_ACTION_UNKNOWN},
        {"{\"action\":\"scrape\"", PROTO_ACTION_SCRAPE},
        {"{\"action\":\"scrape\",\"x\":[}", PROTO_ACTION_SCRAPE},
        {"{\"action\":\"scrape\",\"x\":{]}", PROTO_ACTION_SCRAPE},
        {"{\"action\":\"scrape\",\"x\":tru}", PROTO_ACTION_SCRAPE},
        {"{\"action\":\"scrape\",\"x\":True}", PROTO_ACTION_SCRAPE},
        {"{\"action\":\"scrape\",\"x\":nul}", PROTO_ACTION_SCRAPE},
        {"{\"action\":\"scrape\",\"x\":nulll}", PROTO_ACTION_SCRAPE},
        {"{\"action\":\"scrape\",\"x\":falsey}", PROTO_ACTION_SCRAPE},
        {"{\"action\":\"announce\",\"x\":undefined}", PROTO_ACTION_ANNOUNCE},
        {"{\"x\":undefined,\"action\":\"scrape\"}", PROTO_ACTION_UNKNOWN},
        {"{\"action\":\"scr\\u0061pe\",\"x\":-}", PROTO_ACTION_SCRAPE},
        {"{\"action\":\"bogus\",\"x\":-}", PROTO_ACTION_UNKNOWN},
        {"{\"action\":7,\"x\":-}", PROTO_ACTION_UNKNOWN},
        /* the last action read before the error counts */
        {"{\"action\":\"scrape\",\"action\":\"announce\",\"x\":-}", PROTO_ACTION_ANNOUNCE},
        {"{\"action\":\"scrape\",\"action\":\"bogus\",\"x\":-}", PROTO_ACTION_UNKNOWN},
        {"{\"action\":\"scrape\",\"x\":-,\"action\":\"announce\"}", PROTO_ACTION_SCRAPE},
        {"{\"info_hash\":" Q(IH) ",\"action\":\"announce\",\"x\":-}", PROTO_ACTION_ANNOUNCE},
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        enum proto_status st = scan(bad[c].m);
        if (st != PROTO_ERR_JSON)
            fail_msg("case %zu (%s): status %d, want invalid JSON", c, bad[c].m, st);
        if (req.action != bad[c].action)
            fail_msg("case %zu (%s): action %d, want %d", c, bad[c].m, req.action, bad[c].action);
        assert_false(req.has_info_hash); /* not valid JSON: no info_hash */
    }
    /* Too deep after the action: that action too. */
    char d[256];
    size_t o = (size_t)snprintf(d, sizeof d, "{\"action\":\"scrape\",\"y\":");
    memset(d + o, '[', 40);
    assert_int_equal(scan_len(d, o + 40), PROTO_ERR_DEPTH);
    assert_int_equal(req.action, PROTO_ACTION_SCRAPE);
    o = (size_t)snprintf(d, sizeof d, "{\"y\":");
    memset(d + o, '[', 40);
    assert_int_equal(scan_len(d, o + 40), PROTO_ERR_DEPTH);
    assert_int_equal(req.action, PROTO_ACTION_UNKNOWN);
    assert_int_equal(scan("{\"action\":\"scrape\"} \r\n\t"), PROTO_OK);
}

/* Put text as the value of an unknown field. */
static enum proto_status scan_value(const char *val, size_t val_len)
{
    char m[512];
    size_t o = (size_t)snprintf(m, sizeof m, "{\"action\":\"scrape\",\"x\":");
    memcpy(m + o, val, val_len);
    o += val_len;
    m[o++] = '}';
    return scan_len(m, o);
}

/* Raw string values (with quotes) the scanner accepts and rejects. */
static const char *const utf8_good[] = {
    "\"\"",
    "\"\x7f\"",
    "\"\xc2\x80\"",
    "\"\xdf\xbf\"",
    "\"\xe0\xa0\x80\"",
    "\"\xe2\x82\xac\"",
    "\"\xed\x9f\xbf\"",
    "\"\xee\x80\x80\"",
    "\"\xef\xbf\xbf\"",
    "\"\xf0\x90\x80\x80\"",
    "\"\xf0\x9f\x98\x80\"",
    "\"\xf4\x8f\xbf\xbf\"",
    "\"\\ud83d\\ude00\"",
    "\"\\ud800\"",
    "\"\\u0000\"",
    "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
    "\"\\uABCD\\uabcd\"",
};
static const char *const utf8_bad[] = {
    "\"\x80\"",
    "\"\xbf\"",
    "\"\xc0\x80\"",
    "\"\xc1\xbf\"",
    "\"\xc2\"",
    "\"\xc2\x41\"",
    "\"\xc2\xc0\"",
    "\"\xe0\x80\x80\"",
    "\"\xe0\x9f\xbf\"",
    "\"\xed\xa0\x80\"",
    "\"\xed\xbf\xbf\"",
    "\"\xe2\x82\"",
    "\"\xe2\x82\x41\"",
    "\"\xf0\x80\x80\x80\"",
    "\"\xf0\x8f\xbf\xbf\"",
    "\"\xf4\x90\x80\x80\"",
    "\"\xf5\x80\x80\x80\"",
    "\"\xf0\x9f\x98\"",
    "\"\xf0\x9f\x98\x41\"",
    "\"\xf8\x88\x80\x80\x80\"",
    "\"\xfe\"",
    "\"\xff\"",
    "\"\\x41\"",
    "\"\\a\"",
    "\"\\u12\"",
    "\"\\u12g4\"",
    "\"\\U0041\"",
    "\"\\'\"",
    "\"\\\"",
    "\"abc",
    "\"\\u\"",
};

static void test_strings_utf8(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof utf8_good / sizeof utf8_good[0]; c++) {
        enum proto_status st = scan_value(utf8_good[c], strlen(utf8_good[c]));
        if (st != PROTO_OK)
            fail_msg("good string %zu: status %d", c, st);
    }
    for (size_t c = 0; c < sizeof utf8_bad / sizeof utf8_bad[0]; c++) {
        enum proto_status st = scan_value(utf8_bad[c], strlen(utf8_bad[c]));
        if (st != PROTO_ERR_JSON)
            fail_msg("bad string %zu: status %d", c, st);
    }
    /* Invalid UTF-8 in a key, and in a known field's value. */
    assert_int_equal(scan("{\"action\":\"scrape\",\"\xc3\x28\":1}"), PROTO_ERR_JSON);
    assert_int_equal(scan("{\"action\":\"scr\xff"
                          "ape\"}"),
                     PROTO_ERR_JSON);
    assert_int_equal(req.action, PROTO_ACTION_UNKNOWN);
}

/* proto_utf8_valid on whole messages (handle.c: 1007 for a rejected text
 * message): the scanner's byte tables, each also inside a long ASCII run so
 * both the 8-byte skip and the sequence check meet it at every alignment. */
static void test_utf8_valid(void **state)
{
    (void)state;
    char m[128];
    const size_t pad = 40;
    for (int set = 0; set < 2; set++) {
        const char *const *t = set ? utf8_bad : utf8_good;
        size_t n =
            set ? sizeof utf8_bad / sizeof utf8_bad[0] : sizeof utf8_good / sizeof utf8_good[0];
        for (size_t c = 0; c < n; c++) {
            /* only the raw bytes matter: drop escapes, which are ASCII */
            size_t len = strlen(t[c]);
            bool raw_bad = false;
            for (size_t k = 0; k < len; k++)
                raw_bad |= (unsigned char)t[c][k] >= 0x80;
            if (set && !raw_bad)
                continue; /* bad only as JSON (escape, quote): valid UTF-8 */
            for (size_t shift = 0; shift < 9; shift++) {
                memset(m, 'a', sizeof m);
                memcpy(m + shift, t[c], len);
                if (proto_utf8_valid(m, shift + len + pad) != !set)
                    fail_msg("%s string %zu at offset %zu", set ? "bad" : "good", c, shift);
            }
        }
    }
    assert_true(proto_utf8_valid("", 0));
    assert_true(proto_utf8_valid("{\"action\":\"announce\"}", 22));
    /* a sequence cut by the end of the message */
    assert_false(proto_utf8_valid("abcdefgh\xe2\x82", 10));
    assert_true(proto_utf8_valid("abcdefgh\xe2\x82\xac", 11));
}

static void test_strings_raw_control(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 0x20; b++) {
        char v[3] = {'"', (char)b, '"'};
        assert_int_equal(scan_value(v, 3), PROTO_ERR_JSON);
        char key[64];
        size_t n = (size_t)snprintf(key, sizeof key, "{\"action\":\"scrape\",\"k?\":1}");
        key[21] = (char)b;
        assert_int_equal(scan_len(key, n), PROTO_ERR_JSON);
    }
    char v[3] = {'"', 0x7f, '"'};
    assert_int_equal(scan_value(v, 3), PROTO_OK);
}

static void test_numbers(void **state)
{
    (void)state;
    static const char *const good[] = {
        "0",
        "-0",
        "1",
        "-1",
        "10",
        "0.5",
        "-0.5",
        "1.25",
        "1e5",
        "1E5",
        "1e+5",
        "1e-5",
        "1.5e3",
        "-1.5E-3",
        "0e0",
        "0.0",
        "123456789012345678901234567890",
        "1e999",
        "-0.0e-0",
    };
    static const char *const bad[] = {
        "01",  "-01", "00",   "1.",   "-",        ".5",        "-.5",          "1e",   "1e+",
        "1E-", "+1",  "0x1",  "1.e5", "Infinity", "-Infinity", "NaN",          "1..2", "1e5.5",
        "--1", "1-",  "0.5.", "1 2",  "- 1",      "1e 5",      "\xef\xbc\x91",
    };
    for (size_t c = 0; c < sizeof good / sizeof good[0]; c++) {
        enum proto_status st = scan_value(good[c], strlen(good[c]));
        if (st != PROTO_OK)
            fail_msg("good number %s: status %d", good[c], st);
        char m[256];
        snprintf(m, sizeof m, "%s,\"left\":%s}", ANN_HEAD, good[c]);
        assert_int_equal(scan(m), PROTO_OK);
    }
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        enum proto_status st = scan_value(bad[c], strlen(bad[c]));
        if (st != PROTO_ERR_JSON)
            fail_msg("bad number %s: status %d", bad[c], st);
        char m[256];
        snprintf(m, sizeof m, "%s,\"left\":%s}", ANN_HEAD, bad[c]);
        assert_int_equal(scan(m), PROTO_ERR_JSON);
        /* As the whole message. */
        assert_int_equal(scan(bad[c]), PROTO_ERR_JSON);
    }
}

/* levels = arrays/objects in total, the top-level object counted. */
static enum proto_status scan_nested(unsigned levels, int objects, const char *field)
{
    static char m[4096];
    size_t o = (size_t)snprintf(m, sizeof m, "%s,\"%s\":", ANN_HEAD, field);
    for (unsigned k = 1; k < levels; k++)
        o += (size_t)snprintf(m + o, sizeof m - o, "%s", objects ? "{\"a\":" : "[");
    o += (size_t)snprintf(m + o, sizeof m - o, "1");
    for (unsigned k = 1; k < levels; k++)
        o += (size_t)snprintf(m + o, sizeof m - o, "%s", objects ? "}" : "]");
    o += (size_t)snprintf(m + o, sizeof m - o, "}");
    return scan_len(m, o);
}

static void test_depth(void **state)
{
    (void)state;
    for (int objects = 0; objects <= 1; objects++) {
        for (unsigned levels = 2; levels <= PROTO_DEPTH_MAX + 3; levels++) {
            enum proto_status want = levels <= PROTO_DEPTH_MAX ? PROTO_OK : PROTO_ERR_DEPTH;
            assert_int_equal(scan_nested(levels, objects, "unknown"), want);
            assert_int_equal(scan_nested(levels, objects, "left"), want);
        }
    }
    assert_int_equal(PROTO_DEPTH_MAX, 32);
    assert_int_equal(scan_nested(32, 0, "x"), PROTO_OK);
    assert_int_equal(scan_nested(33, 0, "x"), PROTO_ERR_DEPTH);

    /* Depth counted inside an offer too (top, offers, entry, value...). */
    char m[4096];
    for (unsigned levels = 3; levels <= PROTO_DEPTH_MAX + 2; levels++) {
        size_t o = (size_t)snprintf(m, sizeof m,
                                    "%s,\"offers\":[{\"offer_id\":" Q(OID) ",\"offer\":", ANN_HEAD);
        for (unsigned k = 3; k < levels; k++)
            m[o++] = '[';
        m[o++] = '7';
        for (unsigned k = 3; k < levels; k++)
            m[o++] = ']';
        o += (size_t)snprintf(m + o, sizeof m - o, "}]}");
        enum proto_status st = scan_len(m, o);
        assert_int_equal(st, levels <= PROTO_DEPTH_MAX ? PROTO_OK : PROTO_ERR_DEPTH);
        if (st == PROTO_OK) {
            assert_int_equal(req.ann.n_offers, 1);
            assert_int_equal(req.ann.offers[0].offer.len, 1 + 2 * (levels - 3));
        }
    }

    /* A non-object top level: 32 levels is "not an object", 33 too deep. */
    char a[128];
    memset(a, '[', 32);
    memset(a + 32, ']', 32);
    assert_int_equal(scan_len(a, 64), PROTO_ERR_NOT_OBJECT);
    memset(a, '[', 33);
    memset(a + 33, ']', 33);
    assert_int_equal(scan_len(a, 66), PROTO_ERR_DEPTH);
    /* Too deep and unterminated: the depth is reported as soon as it is reached. */
    memset(a, '[', 100);
    assert_int_equal(scan_len(a, 100), PROTO_ERR_DEPTH);
    /* A syntax error before the deep part wins. */
    char d[256];
    size_t o = (size_t)snprintf(d, sizeof d, "{\"action\":x,\"y\":");
    memset(d + o, '[', 40);
    o += 40;
    assert_int_equal(scan_len(d, o), PROTO_ERR_JSON);
}

static void test_not_object(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "[]",
        "[1,2]",
        "[{\"action\":\"scrape\"}]",
        "0",
        "-1.5",
        "\"str\"",
        "\"\"",
        "true",
        "false",
        "null",
        " null ",
        "\n[ ]\t",
        "\"{\\\"action\\\":\\\"scrape\\\"}\"",
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        enum proto_status st = scan(cases[c]);
        if (st != PROTO_ERR_NOT_OBJECT)
            fail_msg("case %zu (%s): status %d", c, cases[c], st);
        assert_int_equal(req.action, PROTO_ACTION_UNKNOWN);
        assert_false(req.has_info_hash);
    }
    /* Not valid JSON at all. */
    static const char *const bad[] = {
        "",      " ",   " \t\r\n", "\n\n\n", "[",         "]",     "}", "[1",
        "\"abc", "tru", "nul",     "[1]x",   "null null", "[] []", "x",
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        enum proto_status st = scan(bad[c]);
        if (st != PROTO_ERR_JSON)
            fail_msg("case %zu (%s): status %d", c, bad[c], st);
        assert_int_equal(req.action, PROTO_ACTION_UNKNOWN);
    }
}

/* Relays (PROTOCOL.md 10.4): the sender, the optional recipient, and "data"
 * kept as its raw JSON string; every other shape is refused by name. */
static void test_relay(void **state)
{
    static const char head[] = "{\"action\":\"relay\",\"info_hash\":" Q(IH) ",\"peer_id\":" Q(PID);
    static const struct {
        const char *rest;
        enum proto_status st;
        bool directed;
        const char *data;
    } cases[] = {
        {",\"data\":\"hi\"}", PROTO_OK, false, "\"hi\""},
        {",\"data\":\"\"}", PROTO_OK, false, "\"\""},
        {",\"data\":\"a\\\"b\\\\u00e9\"}", PROTO_OK, false, "\"a\\\"b\\\\u00e9\""},
        {",\"to_peer_id\":" Q(TPID) ",\"data\":\"x\"}", PROTO_OK, true, "\"x\""},
        {",\"to_peer_id\":null,\"data\":\"x\"}", PROTO_OK, false, "\"x\""},
        {",\"data\":\"x\",\"extra\":{\"any\":[1,2]}}", PROTO_OK, false, "\"x\""},
        {"}", PROTO_ERR_DATA, false, NULL},
        {",\"data\":null}", PROTO_ERR_DATA, false, NULL},
        {",\"data\":{\"o\":1}}", PROTO_ERR_DATA, false, NULL},
        {",\"data\":[\"x\"]}", PROTO_ERR_DATA, false, NULL},
        {",\"data\":17}", PROTO_ERR_DATA, false, NULL},
        {",\"to_peer_id\":\"short\",\"data\":\"x\"}", PROTO_ERR_TO_PEER_ID, false, NULL},
        {",\"to_peer_id\":5,\"data\":\"x\"}", PROTO_ERR_TO_PEER_ID, false, NULL},
    };
    (void)state;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char m[512];
        enum proto_status st;
        snprintf(m, sizeof m, "%s%s", head, cases[c].rest);
        st = scan(m);
        if (st != cases[c].st)
            fail_msg("case %zu (%s): status %d, want %d", c, m, st, cases[c].st);
        assert_int_equal(req.action, PROTO_ACTION_RELAY);
        assert_true(req.has_info_hash); /* an error reply can name the room */
        if (st != PROTO_OK)
            continue;
        assert_memory_equal(req.relay.peer_id, PID, PROTO_ID_LEN);
        assert_int_equal(req.relay.directed, cases[c].directed);
        if (cases[c].directed)
            assert_memory_equal(req.relay.to_peer_id, TPID, PROTO_ID_LEN);
        assert_span(m, req.relay.data, cases[c].data);
    }
    /* The sender and the room are required. */
    assert_int_equal(scan("{\"action\":\"relay\",\"info_hash\":" Q(IH) ",\"data\":\"x\"}"),
                     PROTO_ERR_PEER_ID);
    assert_int_equal(scan("{\"action\":\"relay\",\"peer_id\":" Q(PID) ",\"data\":\"x\"}"),
                     PROTO_ERR_INFO_HASH);
    assert_int_equal(req.action, PROTO_ACTION_RELAY);
}

/* ---- statuses, reasons and what an error reply can carry ---- */

static const struct {
    const char *m;
    enum proto_status st;
    enum proto_action action;
    bool has_ih;
} status_cases[] = {
    {ANN_HEAD "}", PROTO_OK, PROTO_ACTION_ANNOUNCE, true},
    {"{\"action\":\"announce\",\"info_hash\":" Q(IH) ",\"x\":}", PROTO_ERR_JSON,
     PROTO_ACTION_ANNOUNCE, false},
    {"{\"info_hash\":" Q(IH) ",\"x\":}", PROTO_ERR_JSON, PROTO_ACTION_UNKNOWN, false},
    {"{\"action\":\"announce\",\"info_hash\":" Q(IH) ",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                                                     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
     PROTO_ERR_DEPTH, PROTO_ACTION_ANNOUNCE, false},
    {"[\"announce\"]", PROTO_ERR_NOT_OBJECT, PROTO_ACTION_UNKNOWN, false},
    {"{\"info_hash\":\"x\"}", PROTO_ERR_NO_ACTION, PROTO_ACTION_UNKNOWN, false},
    {"{\"action\":\"stats\",\"info_hash\":" Q(IH) "}", PROTO_ERR_ACTION, PROTO_ACTION_UNKNOWN,
     true},
    {"{\"action\":\"stats\",\"info_hash\":\"x\"}", PROTO_ERR_ACTION, PROTO_ACTION_UNKNOWN, false},
    {"{\"action\":\"announce\",\"info_hash\":\"x\",\"peer_id\":" Q(PID) "}", PROTO_ERR_INFO_HASH,
     PROTO_ACTION_ANNOUNCE, false},
    {"{\"action\":\"scrape\",\"info_hash\":[" Q(IH) ",1]}", PROTO_ERR_INFO_HASH,
     PROTO_ACTION_SCRAPE, false},
    {"{\"action\":\"announce\",\"info_hash\":" Q(IH) ",\"peer_id\":\"x\"}", PROTO_ERR_PEER_ID,
     PROTO_ACTION_ANNOUNCE, true},
    {ANN_HEAD ",\"event\":\"x\"}", PROTO_ERR_EVENT, PROTO_ACTION_ANNOUNCE, true},
    {ANN_HEAD ",\"offers\":{}}", PROTO_ERR_OFFERS, PROTO_ACTION_ANNOUNCE, true},
    {ANN_HEAD ",\"peers\":0}", PROTO_ERR_PEERS, PROTO_ACTION_ANNOUNCE, true},
    {ANN_HEAD ",\"answer\":1,\"to_peer_id\":" Q(TPID) "}", PROTO_ERR_OFFER_ID,
     PROTO_ACTION_ANNOUNCE, true},
    {ANN_HEAD ",\"answer\":1,\"offer_id\":" Q(OID) "}", PROTO_ERR_TO_PEER_ID, PROTO_ACTION_ANNOUNCE,
     true},
    {"{\"action\":\"scrape\",\"info_hash\":[" Q(IH) "," Q(IH) "," Q(IH) "," Q(IH) "," Q(IH) "]}",
     PROTO_ERR_SCRAPE_TOO_MANY, PROTO_ACTION_SCRAPE, false},
    {"{\"action\":\"relay\",\"info_hash\":" Q(IH) ",\"peer_id\":" Q(PID) ",\"data\":1}",
     PROTO_ERR_DATA, PROTO_ACTION_RELAY, true},
};

static void test_every_status(void **state)
{
    (void)state;
    bool seen[PROTO_STATUS_COUNT] = {false};
    for (size_t c = 0; c < sizeof status_cases / sizeof status_cases[0]; c++) {
        /* First a fully valid announce, so stale state would show. */
        assert_int_equal(
            scan("{\"action\":\"announce\",\"info_hash\":" Q(IH2) ",\"peer_id\":" Q(
                PID) ",\"offers\":[{\"offer\":1,\"offer_id\":" Q(OID) "}],"
                                                                      "\"answer\":1,\"to_peer_"
                                                                      "id\":" Q(TPID) ",\"offer_"
                                                                                      "id\":" Q(
                                                                                          OID) "}"),
            PROTO_OK);
        enum proto_status st = scan_max(status_cases[c].m, strlen(status_cases[c].m), 4);
        if (st != status_cases[c].st)
            fail_msg("case %zu (%s): status %d, want %d", c, status_cases[c].m, st,
                     status_cases[c].st);
        seen[st] = true;
        assert_int_equal(req.action, status_cases[c].action);
        assert_int_equal(req.has_info_hash, status_cases[c].has_ih);
        if (req.has_info_hash)
            assert_memory_equal(req.info_hash, IH, PROTO_ID_LEN);
        /* Nothing from the previous message may survive into this one. */
        if (req.action != PROTO_ACTION_SCRAPE)
            assert_int_equal(req.n_hashes, 0);
        if (st != PROTO_OK && st < PROTO_ERR_OFFERS) {
            assert_int_equal(req.ann.n_offers, 0);
            assert_false(req.ann.has_answer);
        }
    }
    for (int st = PROTO_OK; st <= PROTO_ERR_DATA; st++) /* every status the scanner returns */
        if (!seen[st])
            fail_msg("status %d not reached", st);
}

/* "on error, req->action and req->has_info_hash/info_hash are still filled when
 * they could be read" (scan.h), and PROTOCOL.md section 5: an error reply has
 * info_hash "when the request carried a valid one". A message without action but
 * with a valid info_hash carried one. */
static void test_missing_action_keeps_info_hash(void **state)
{
    (void)state;
    assert_int_equal(scan("{\"info_hash\":" Q(IH) ",\"peer_id\":" Q(PID) "}"), PROTO_ERR_NO_ACTION);
    assert_int_equal(req.action, PROTO_ACTION_UNKNOWN);
    assert_true(req.has_info_hash);
    assert_memory_equal(req.info_hash, IH, PROTO_ID_LEN);
}

/* The request is reused: nothing of a previous message survives. */
static void test_request_reuse(void **state)
{
    (void)state;
    static char m[16384];
    size_t len = build_offers(m, sizeof m, 5, NULL,
                              ",\"answer\":1,\"to_peer_id\":" Q(TPID) ",\"offer_id\":" Q(OID));
    assert_int_equal(scan_len(m, len), PROTO_OK);
    assert_int_equal(req.ann.n_offers, 5);
    assert_true(req.ann.has_answer);
    assert_int_equal(scan(ANN_HEAD "}"), PROTO_OK);
    assert_int_equal(req.ann.n_offers, 0);
    assert_false(req.ann.has_answer);
    assert_int_equal(req.ann.event, PROTO_EVENT_UPDATE);
    assert_int_equal(req.ann.left, PROTO_LEFT_ABSENT);

    assert_int_equal(scan("{\"action\":\"scrape\",\"info_hash\":[" Q(IH) "," Q(IH2) "]}"),
                     PROTO_OK);
    assert_int_equal(req.n_hashes, 2);
    assert_int_equal(scan("{\"action\":\"scrape\"}"), PROTO_OK);
    assert_int_equal(req.n_hashes, 0);
    assert_int_equal(req.scrape_kind, PROTO_SCRAPE_FULL);
    assert_int_equal(scan(ANN_HEAD "}"), PROTO_OK);
    assert_int_equal(scan("{"), PROTO_ERR_JSON);
    assert_int_equal(req.action, PROTO_ACTION_UNKNOWN);
    assert_false(req.has_info_hash);
}

static void test_reason_texts(void **state)
{
    (void)state;
    static const char *const want[PROTO_STATUS_COUNT] = {
        [PROTO_OK] = "ok",
        [PROTO_ERR_JSON] = "invalid JSON",
        [PROTO_ERR_DEPTH] = "JSON nested too deeply",
        [PROTO_ERR_NOT_OBJECT] = "message must be a JSON object",
        [PROTO_ERR_NO_ACTION] = "missing action",
        [PROTO_ERR_ACTION] = "invalid action",
        [PROTO_ERR_INFO_HASH] = "invalid info_hash",
        [PROTO_ERR_PEER_ID] = "invalid peer_id",
        [PROTO_ERR_EVENT] = "invalid event",
        [PROTO_ERR_OFFERS] = "invalid offers",
        [PROTO_ERR_OFFER_ID] = "invalid offer_id",
        [PROTO_ERR_TO_PEER_ID] = "invalid to_peer_id",
        [PROTO_ERR_PEERS] = "invalid peers",
        [PROTO_ERR_SCRAPE_TOO_MANY] = "too many info_hash in scrape",
        [PROTO_ERR_DATA] = "invalid data",
        [PROTO_ERR_FULL_SCRAPE_DISABLED] = "full scrape disabled",
        [PROTO_ERR_TOO_MANY_TORRENTS] = "too many torrents on this connection",
        [PROTO_ERR_TOO_MANY_PEER_IDS] = "too many peer_ids for this info hash",
        [PROTO_ERR_PEER_ID_IN_USE] = "peer_id in use",
        [PROTO_ERR_TRACKER_FULL_PEERS] = "tracker full: too many peers",
        [PROTO_ERR_TRACKER_FULL_SWARMS] = "tracker full: too many swarms",
        [PROTO_ERR_SCRAPE_IN_PROGRESS] = "scrape in progress",
        [PROTO_ERR_RELAY_DISABLED] = "relay disabled",
        [PROTO_ERR_RELAY_TOO_LARGE] = "relay data too large",
        [PROTO_ERR_NOT_MEMBER] = "not a member of this room",
        [PROTO_ERR_RELAY_NO_PEER] = "peer not in room",
        [PROTO_ERR_RELAY_RATE] = "relay rate exceeded",
        [PROTO_ERR_RATE_LIMITED] = "rate limited",
        [PROTO_ERR_HASH_NOT_ALLOWED] = "info hash not allowed",
        [PROTO_ERR_TOKEN_SCOPE] = "info hash not allowed by token",
    };
    for (int st = 0; st < PROTO_STATUS_COUNT; st++) {
        assert_non_null(want[st]);
        assert_string_equal(proto_status_reason((enum proto_status)st), want[st]);
    }
    assert_string_equal(proto_status_reason(PROTO_STATUS_COUNT), "internal error");
    assert_string_equal(proto_status_reason((enum proto_status)1000), "internal error");
}

/* The reasons agree with the table in PROTOCOL.md section 5, read from the source
 * tree next to this file. */
static void test_reason_texts_match_protocol_md(void **state)
{
    (void)state;
    char path[4096];
    const char *self = __FILE__;
    const char *cut = strstr(self, "tests/unit/test_scan.c");
    if (!cut)
        skip(); /* built from a relative path: nothing to locate the document by */
    snprintf(path, sizeof path, "%.*sproto/PROTOCOL.md", (int)(cut - self), self);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    char doc[32][128];
    int n_doc = 0, in5 = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "## ", 3) == 0)
            in5 = strncmp(line, "## 5.", 5) == 0;
        if (!in5 || strncmp(line, "| `", 3) != 0)
            continue;
        char *end = strchr(line + 3, '`');
        assert_non_null(end);
        assert_true(n_doc < 32);
        snprintf(doc[n_doc++], sizeof doc[0], "%.*s", (int)(end - (line + 3)), line + 3);
    }
    fclose(f);
    assert_int_equal(n_doc, PROTO_STATUS_COUNT - 1);
    for (int st = PROTO_ERR_JSON; st < PROTO_STATUS_COUNT; st++) {
        const char *r = proto_status_reason((enum proto_status)st);
        int found = 0;
        for (int k = 0; k < n_doc; k++)
            found += strcmp(doc[k], r) == 0;
        if (found != 1)
            fail_msg("reason \"%s\" appears %d times in PROTOCOL.md section 5", r, found);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_announce_all_fields),
        cmocka_unit_test(test_relay),
        cmocka_unit_test(test_announce_binary_ids),
        cmocka_unit_test(test_announce_minimal),
        cmocka_unit_test(test_announce_events),
        cmocka_unit_test(test_announce_left),
        cmocka_unit_test(test_announce_left_escaped_string),
        cmocka_unit_test(test_announce_offers_counts),
        cmocka_unit_test(test_announce_offers_all_validated),
        cmocka_unit_test(test_announce_offer_shapes),
        cmocka_unit_test(test_announce_peers),
        cmocka_unit_test(test_announce_directed_offers),
        cmocka_unit_test(test_announce_answer),
        cmocka_unit_test(test_announce_offers_and_answer),
        cmocka_unit_test(test_announce_id_errors),
        cmocka_unit_test(test_scrape_single_and_full),
        cmocka_unit_test(test_scrape_sizes),
        cmocka_unit_test(test_scrape_bad_entries),
        cmocka_unit_test(test_escaped_keys_and_values),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_whitespace_binary_safe),
        cmocka_unit_test(test_truncated_prefixes),
        cmocka_unit_test(test_mutations_never_crash),
        cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_strings_utf8),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_strings_raw_control),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_not_object),
        cmocka_unit_test(test_every_status),
        cmocka_unit_test(test_missing_action_keeps_info_hash),
        cmocka_unit_test(test_request_reuse),
        cmocka_unit_test(test_reason_texts),
        cmocka_unit_test(test_reason_texts_match_protocol_md),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
