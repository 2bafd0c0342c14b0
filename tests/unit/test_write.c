/* test_write.c - unit tests for proto/write.c, the frame writers.
 *
 * Owns:   nothing; drives every proto_write_* function.
 * Thread: single-threaded cmocka test.
 * Why:    each frame is compared whole against the bytes PROTOCOL.md sections 3-5
 *         prescribe; every writer must refuse (-1) a buffer one byte short without
 *         touching a byte past cap; and the *_MAX macros must cover the worst case,
 *         because the tracker sizes its frames with them.
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
#include "write.h"

/* An id with escapes, a DEL, and two-byte UTF-8, and its JSON spelling. */
static const uint8_t IH[PROTO_ID_LEN] = {0x00, 0x08, '"', '\\', 'A', 0x7f, 0x80, 0xff, 'a', 'b',
                                         'c',  'd',  'e', 'f',  'g', 'h',  'i',  'j',  'k', 'l'};
#define IH_JSON                                                                                    \
    "\"\\u0000\\b\\\"\\\\A\x7f\xc2\x80\xc3\xbf"                                                    \
    "abcdefghijkl\""

static const uint8_t PID[PROTO_ID_LEN] = {'-', 'W',  'W', '0', '0', '0', '1', '-', 0x1f, 0x0a,
                                          '/', 0xe9, '1', '2', '3', '4', '5', '6', '7',  '8'};
#define PID_JSON                                                                                   \
    "\"-WW0001-\\u001f\\n/\xc3\xa9"                                                                \
    "12345678\""

static const uint8_t OID[PROTO_ID_LEN] = {'o', 'f', 'f', 'e', 'r', 'i', 'd', '0', '1', '2',
                                          '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c'};
#define OID_JSON "\"offerid0123456789abc\""

static struct proto_request req;

/* ---- one description per writer call, so every check runs on every writer ---- */

enum writer { W_RESPONSE, W_FORWARD, W_ERROR, W_SCRAPE_OPEN, W_SCRAPE_ENTRY, W_SCRAPE_CLOSE };

struct wcase {
    enum writer w;
    const uint8_t *ih, *pid, *oid;
    uint32_t a, b, c; /* counts / interval */
    int flag;         /* is_answer, first */
    enum proto_action action;
    enum proto_status st;
    const char *payload;
    size_t payload_len;
    const char *want; /* exact output, or NULL (then only lengths are checked) */
};

static int call(const struct wcase *k, char *buf, size_t cap)
{
    switch (k->w) {
    case W_RESPONSE:
        return proto_write_response(buf, cap, k->ih, k->a, k->b, k->c, NULL, 0, NULL, k->payload);
    case W_FORWARD:
        return proto_write_forward(buf, cap, k->ih, k->pid, k->oid, k->flag, k->payload,
                                   k->payload_len);
    case W_ERROR: return proto_write_error(buf, cap, k->action, k->st, k->ih);
    case W_SCRAPE_OPEN: return proto_write_scrape_open(buf, cap);
    case W_SCRAPE_ENTRY:
        return proto_write_scrape_entry(buf, cap, k->flag, k->ih, k->a, k->b, k->c);
    case W_SCRAPE_CLOSE: return proto_write_scrape_close(buf, cap, k->a);
    }
    fail();
    return -2;
}

static const struct wcase cases[] = {
    {W_RESPONSE, IH, NULL, NULL, 3, 4, 120, 0, 0, 0, NULL, 0,
     "{\"action\":\"announce\",\"info_hash\":" IH_JSON
     ",\"complete\":3,\"incomplete\":4,\"interval\":120}"},
    {W_RESPONSE, OID, NULL, NULL, 0, 0, 0, 0, 0, 0, NULL, 0,
     "{\"action\":\"announce\",\"info_hash\":" OID_JSON
     ",\"complete\":0,\"incomplete\":0,\"interval\":0}"},
    {W_RESPONSE, OID, NULL, NULL, 4294967295u, 1000000000u, 10, 0, 0, 0, NULL, 0,
     "{\"action\":\"announce\",\"info_hash\":" OID_JSON
     ",\"complete\":4294967295,\"incomplete\":1000000000,\"interval\":10}"},
    {W_RESPONSE, OID, NULL, NULL, 9, 99, 999999999u, 0, 0, 0, NULL, 0,
     "{\"action\":\"announce\",\"info_hash\":" OID_JSON
     ",\"complete\":9,\"incomplete\":99,\"interval\":999999999}"},
    {W_RESPONSE, IH, NULL, NULL, 1, 2, 120, 0, 0, 0, PROTO_WARN_INVALID_OFFER, 0,
     "{\"action\":\"announce\",\"info_hash\":" IH_JSON
     ",\"complete\":1,\"incomplete\":2,\"interval\":120,\"warning message\":\"invalid offer "
     "skipped\"}"},
    {W_FORWARD, IH, PID, OID, 0, 0, 0, 0, 0, 0, "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}", 32,
     "{\"action\":\"announce\",\"info_hash\":" IH_JSON ",\"peer_id\":" PID_JSON
     ",\"offer_id\":" OID_JSON ",\"offer\":{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}}"},
    {W_FORWARD, IH, PID, OID, 0, 0, 0, 1, 0, 0, "{\"type\":\"answer\"}", 17,
     "{\"action\":\"announce\",\"info_hash\":" IH_JSON ",\"peer_id\":" PID_JSON
     ",\"offer_id\":" OID_JSON ",\"answer\":{\"type\":\"answer\"}}"},
    {W_FORWARD, OID, OID, OID, 0, 0, 0, 0, 0, 0, "null", 4,
     "{\"action\":\"announce\",\"info_hash\":" OID_JSON ",\"peer_id\":" OID_JSON
     ",\"offer_id\":" OID_JSON ",\"offer\":null}"},
    {W_FORWARD, OID, OID, OID, 0, 0, 0, 0, 0, 0, "", 0,
     "{\"action\":\"announce\",\"info_hash\":" OID_JSON ",\"peer_id\":" OID_JSON
     ",\"offer_id\":" OID_JSON ",\"offer\":}"},
    {W_ERROR, IH, NULL, NULL, 0, 0, 0, 0, PROTO_ACTION_ANNOUNCE, PROTO_ERR_PEER_ID, NULL, 0,
     "{\"action\":\"announce\",\"failure reason\":\"invalid peer_id\",\"info_hash\":" IH_JSON "}"},
    {W_ERROR, NULL, NULL, NULL, 0, 0, 0, 0, PROTO_ACTION_UNKNOWN, PROTO_ERR_JSON, NULL, 0,
     "{\"action\":\"announce\",\"failure reason\":\"invalid JSON\"}"},
    {W_ERROR, NULL, NULL, NULL, 0, 0, 0, 0, PROTO_ACTION_SCRAPE, PROTO_ERR_SCRAPE_TOO_MANY, NULL, 0,
     "{\"action\":\"scrape\",\"failure reason\":\"too many info_hash in scrape\"}"},
    {W_ERROR, OID, NULL, NULL, 0, 0, 0, 0, PROTO_ACTION_SCRAPE, PROTO_ERR_FULL_SCRAPE_DISABLED,
     NULL, 0,
     "{\"action\":\"scrape\",\"failure reason\":\"full scrape disabled\",\"info_hash\":" OID_JSON
     "}"},
    {W_ERROR, OID, NULL, NULL, 0, 0, 0, 0, PROTO_ACTION_ANNOUNCE, PROTO_ERR_TOO_MANY_TORRENTS, NULL,
     0,
     "{\"action\":\"announce\",\"failure reason\":\"too many torrents on this connection\","
     "\"info_hash\":" OID_JSON "}"},
    {W_ERROR, NULL, NULL, NULL, 0, 0, 0, 0, PROTO_ACTION_UNKNOWN, PROTO_ERR_ACTION, NULL, 0,
     "{\"action\":\"announce\",\"failure reason\":\"invalid action\"}"},
    {W_SCRAPE_OPEN, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, NULL, 0,
     "{\"action\":\"scrape\",\"files\":{"},
    {W_SCRAPE_ENTRY, IH, NULL, NULL, 1, 2, 3, 1, 0, 0, NULL, 0,
     IH_JSON ":{\"complete\":1,\"incomplete\":2,\"downloaded\":3}"},
    {W_SCRAPE_ENTRY, OID, NULL, NULL, 0, 4294967295u, 10, 0, 0, 0, NULL, 0,
     "," OID_JSON ":{\"complete\":0,\"incomplete\":4294967295,\"downloaded\":10}"},
    {W_SCRAPE_CLOSE, NULL, NULL, NULL, 120, 0, 0, 0, 0, 0, NULL, 0,
     "},\"flags\":{\"min_request_interval\":120}}"},
    {W_SCRAPE_CLOSE, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, NULL, 0,
     "},\"flags\":{\"min_request_interval\":0}}"},
};

#define N_CASES (sizeof cases / sizeof cases[0])

/* ---- exact output ---- */

static void test_exact_output(void **state)
{
    (void)state;
    for (size_t k = 0; k < N_CASES; k++) {
        char buf[2048];
        int n = call(&cases[k], buf, sizeof buf);
        size_t wn = strlen(cases[k].want);
        if (n != (int)wn || memcmp(buf, cases[k].want, wn) != 0)
            fail_msg("case %zu: got %d bytes \"%.*s\", want %zu bytes \"%s\"", k, n, n > 0 ? n : 0,
                     buf, wn, cases[k].want);
    }
}

/* Every status text, for each action and with or without an info_hash. */
static void test_error_all_statuses(void **state)
{
    (void)state;
    static const enum proto_action actions[] = {PROTO_ACTION_UNKNOWN, PROTO_ACTION_ANNOUNCE,
                                                PROTO_ACTION_SCRAPE};
    for (int st = 0; st <= PROTO_STATUS_COUNT; st++) {
        for (size_t a = 0; a < 3; a++) {
            for (int with_ih = 0; with_ih <= 1; with_ih++) {
                char buf[512], want[512];
                int n = proto_write_error(buf, sizeof buf, actions[a], (enum proto_status)st,
                                          with_ih ? IH : NULL);
                int wn =
                    snprintf(want, sizeof want, "{\"action\":\"%s\",\"failure reason\":\"%s\"%s}",
                             actions[a] == PROTO_ACTION_SCRAPE ? "scrape" : "announce",
                             proto_status_reason((enum proto_status)st),
                             with_ih ? ",\"info_hash\":" IH_JSON : "");
                assert_int_equal(n, wn);
                assert_memory_equal(buf, want, (size_t)n);
            }
        }
    }
}

/* The payload is copied byte for byte, whatever it holds. */
static void test_forward_payload_verbatim(void **state)
{
    (void)state;
    char payload[300];
    for (size_t k = 0; k < sizeof payload; k++)
        payload[k] = (char)(k * 7);
    for (size_t len = 0; len <= sizeof payload; len += 13) {
        static char buf[1024];
        int n = proto_write_forward(buf, sizeof buf, IH, PID, OID, (int)(len & 1), payload, len);
        const char *head = "{\"action\":\"announce\",\"info_hash\":" IH_JSON
                           ",\"peer_id\":" PID_JSON ",\"offer_id\":" OID_JSON;
        const char *key = (len & 1) ? ",\"answer\":" : ",\"offer\":";
        size_t hl = strlen(head), kl = strlen(key);
        assert_int_equal(n, (int)(hl + kl + len + 1));
        assert_memory_equal(buf, head, hl);
        assert_memory_equal(buf + hl, key, kl);
        if (len)
            assert_memory_equal(buf + hl + kl, payload, len);
        assert_int_equal(buf[n - 1], '}');
    }
}

/* The frames are valid JSON that our own scanner reads back to the same ids. */
static void test_frames_scan_back(void **state)
{
    (void)state;
    char buf[4096];
    int n = proto_write_response(buf, sizeof buf, IH, 1, 2, 120, NULL, 0, NULL,
                                 PROTO_WARN_INVALID_OFFER);
    assert_true(n > 0);
    /* An announce without peer_id: valid JSON, the info_hash read back. */
    assert_int_equal(proto_scan_request(buf, (size_t)n, 256, &req), PROTO_ERR_PEER_ID);
    assert_true(req.has_info_hash);
    assert_memory_equal(req.info_hash, IH, PROTO_ID_LEN);

    n = proto_write_forward(buf, sizeof buf, IH, PID, OID, 0, "{\"sdp\":\"x\"}", 11);
    assert_true(n > 0);
    assert_int_equal(proto_scan_request(buf, (size_t)n, 256, &req), PROTO_OK);
    assert_memory_equal(req.ann.info_hash, IH, PROTO_ID_LEN);
    assert_memory_equal(req.ann.peer_id, PID, PROTO_ID_LEN);

    n = proto_write_error(buf, sizeof buf, PROTO_ACTION_SCRAPE, PROTO_ERR_INFO_HASH, IH);
    assert_true(n > 0);
    assert_int_equal(proto_scan_request(buf, (size_t)n, 256, &req), PROTO_OK);
    assert_int_equal(req.action, PROTO_ACTION_SCRAPE);
    assert_int_equal(req.scrape_kind, PROTO_SCRAPE_LIST);
    assert_int_equal(req.n_hashes, 1);
    assert_memory_equal(req.hashes[0], IH, PROTO_ID_LEN);

    /* A scrape reply of 0..5 entries assembled from its three parts. */
    for (int entries = 0; entries <= 5; entries++) {
        size_t o = 0;
        n = proto_write_scrape_open(buf, sizeof buf);
        assert_true(n > 0);
        o += (size_t)n;
        for (int e = 0; e < entries; e++) {
            uint8_t id[PROTO_ID_LEN];
            memcpy(id, IH, sizeof id);
            id[19] = (uint8_t)e;
            n = proto_write_scrape_entry(buf + o, sizeof buf - o, e == 0, id, (uint32_t)e, 2, 3);
            assert_true(n > 0);
            o += (size_t)n;
        }
        n = proto_write_scrape_close(buf + o, sizeof buf - o, 120);
        assert_int_equal(n, 39);
        o += 39;
        assert_int_equal(proto_scan_request(buf, o, 256, &req), PROTO_OK);
        assert_int_equal(req.action, PROTO_ACTION_SCRAPE);
        assert_int_equal(req.scrape_kind, PROTO_SCRAPE_FULL);
    }
}

/* ---- bounds ---- */

/* For cap = 0 .. exact: -1 below exact, nothing written at or past cap; exact and
 * larger caps give the full frame. The buffer is a heap block of exactly cap bytes
 * (ASan), and separately a larger block with a guard pattern. */
static void check_caps(const struct wcase *k, size_t *exact_out)
{
    static char ref[70000];
    int exact = call(k, ref, sizeof ref);
    assert_true(exact > 0);
    for (size_t cap = 0; cap <= (size_t)exact + 2; cap++) {
        char *tight = malloc(cap ? cap : 1);
        assert_non_null(tight);
        int n = call(k, tight, cap);
        if (cap < (size_t)exact) {
            if (n != -1)
                fail_msg("writer %d: cap %zu (exact %d) returned %d", k->w, cap, exact, n);
        } else {
            assert_int_equal(n, exact);
            assert_memory_equal(tight, ref, (size_t)exact);
        }
        free(tight);

        char *guarded = malloc((size_t)exact + 64);
        assert_non_null(guarded);
        memset(guarded, 0xA5, (size_t)exact + 64);
        n = call(k, guarded, cap);
        assert_int_equal(n, cap < (size_t)exact ? -1 : exact);
        for (size_t b = cap < (size_t)exact ? cap : (size_t)exact; b < (size_t)exact + 64; b++)
            if ((unsigned char)guarded[b] != 0xA5)
                fail_msg("writer %d: cap %zu wrote byte %zu", k->w, cap, b);
        free(guarded);
    }
    if (exact_out)
        *exact_out = (size_t)exact;
}

static void test_cap_one_short(void **state)
{
    (void)state;
    for (size_t k = 0; k < N_CASES; k++)
        check_caps(&cases[k], NULL);
}

/* ---- worst cases against the *_MAX macros ---- */

static void test_max_macros(void **state)
{
    (void)state;
    uint8_t worst[PROTO_ID_LEN];
    memset(worst, 0x01, sizeof worst); /* every byte "\u0001": 6 bytes each */
    size_t n;

    char enc[PROTO_ID_JSON_MAX];
    assert_int_equal(proto_id_encode(worst, enc), PROTO_ID_JSON_MAX);

    struct wcase k = {W_RESPONSE, worst, worst, worst, UINT32_MAX, UINT32_MAX, UINT32_MAX,
                      0,          0,     0,     NULL,  0,          NULL};
    check_caps(&k, &n);
    assert_int_equal(n, 224);
    assert_true(n <= PROTO_RESPONSE_MAX);
    k.payload = PROTO_WARN_INVALID_OFFER; /* the longest warning */
    check_caps(&k, &n);
    assert_int_equal(n, 224 + 42);
    assert_true(n <= PROTO_RESPONSE_MAX);
    assert_true(n <= PROTO_RESPONSE_MAX);

    static char payload[65536];
    memset(payload, 'x', sizeof payload);
    static const size_t plens[] = {0, 1, 100, 4096, 65536};
    for (int ans = 0; ans <= 1; ans++) {
        for (size_t p = 0; p < sizeof plens / sizeof plens[0]; p++) {
            struct wcase f = {W_FORWARD, worst, worst, worst,   0,        0,   0,
                              ans,       0,     0,     payload, plens[p], NULL};
            if (plens[p] <= 100) {
                check_caps(&f, &n);
            } else {
                static char big[70000];
                int r = call(&f, big, sizeof big);
                assert_true(r > 0);
                n = (size_t)r;
                assert_int_equal(call(&f, big, n - 1), -1);
                assert_int_equal(call(&f, big, n), (int)n);
            }
            assert_int_equal(n, (ans ? 433u : 432u) + plens[p]);
            assert_true(n <= PROTO_FORWARD_MAX(plens[p]));
        }
    }

    size_t err_worst = 0;
    for (int st = 0; st <= PROTO_STATUS_COUNT; st++) {
        for (int a = PROTO_ACTION_UNKNOWN; a <= PROTO_ACTION_SCRAPE; a++) {
            struct wcase e = {
                W_ERROR, worst, NULL, NULL, 0, 0, 0, 0, (enum proto_action)a, (enum proto_status)st,
                NULL,    0,     NULL};
            check_caps(&e, &n);
            assert_true(n <= PROTO_ERROR_MAX);
            if (n > err_worst)
                err_worst = n;
        }
    }
    assert_int_equal(err_worst, 212); /* "too many torrents on this connection" + id */

    struct wcase o = {W_SCRAPE_OPEN, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, NULL, 0, NULL};
    check_caps(&o, &n);
    assert_true(n <= PROTO_SCRAPE_OPEN_MAX);

    for (int first = 0; first <= 1; first++) {
        struct wcase s = {W_SCRAPE_ENTRY, worst, NULL, NULL, UINT32_MAX, UINT32_MAX, UINT32_MAX,
                          first,          0,     0,    NULL, 0,          NULL};
        check_caps(&s, &n);
        assert_int_equal(n, first ? 194u : 195u);
        assert_true(n <= PROTO_SCRAPE_ENTRY_MAX);
    }

    struct wcase c = {W_SCRAPE_CLOSE, NULL, NULL, NULL, UINT32_MAX, 0, 0, 0, 0, 0, NULL, 0, NULL};
    check_caps(&c, &n);
    assert_true(n <= PROTO_SCRAPE_CLOSE_MAX);

    /* No id spelling is longer than all-0x01: every byte value's encoding is at
     * most 6 bytes, so PROTO_ID_JSON_MAX bounds every id. */
    for (unsigned b = 0; b < 256; b++) {
        uint8_t id[PROTO_ID_LEN];
        memset(id, (int)b, sizeof id);
        assert_true(proto_id_encode(id, enc) <= PROTO_ID_JSON_MAX);
    }
}

/* The rooms' peer list (PROTOCOL.md 10): exact text, and the worst case of
 * PROTO_PEERS_MAX entries of the longest id spelling within its bound. */
static void test_response_peer_list(void **state)
{
    (void)state;
    static char buf[PROTO_RESPONSE_LIST_MAX(PROTO_PEERS_MAX)];
    static struct proto_listed list[PROTO_PEERS_MAX];
    int n;
    memcpy(list[0].peer_id, PID, PROTO_ID_LEN);
    list[0].age_s = 0;
    memcpy(list[1].peer_id, OID, PROTO_ID_LEN);
    list[1].age_s = 4294967295u;
    n = proto_write_response(buf, sizeof buf, IH, 1, 2, 120, list, 2, NULL, PROTO_WARN_NOT_IN_ROOM);
    assert_true(n > 0);
    const char *want =
        "{\"action\":\"announce\",\"info_hash\":" IH_JSON
        ",\"complete\":1,\"incomplete\":2,\"interval\":120,\"peers\":[{\"peer_id\":" PID_JSON
        ",\"age\":0},{\"peer_id\":" OID_JSON ",\"age\":4294967295}],\"warning message\":"
        "\"peer not in room\"}";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, (size_t)n);
    /* An empty list is written as [] */
    n = proto_write_response(buf, sizeof buf, IH, 0, 1, 120, list, 0, NULL, NULL);
    assert_true(n > 0);
    assert_non_null(strstr(buf, ",\"peers\":[]}"));
    /* The worst case fits its bound, and one byte less does not. */
    uint8_t worst[PROTO_ID_LEN];
    memset(worst, 0x01, sizeof worst);
    for (unsigned k = 0; k < PROTO_PEERS_MAX; k++) {
        memcpy(list[k].peer_id, worst, PROTO_ID_LEN);
        list[k].age_s = UINT32_MAX;
    }
    n = proto_write_response(buf, sizeof buf, worst, UINT32_MAX, UINT32_MAX, UINT32_MAX, list,
                             PROTO_PEERS_MAX, NULL, PROTO_WARN_BOTH);
    assert_true(n > 0);
    assert_true((size_t)n <= PROTO_RESPONSE_LIST_MAX(PROTO_PEERS_MAX));
    assert_int_equal(proto_write_response(buf, (size_t)n - 1, worst, UINT32_MAX, UINT32_MAX,
                                          UINT32_MAX, list, PROTO_PEERS_MAX, NULL, PROTO_WARN_BOTH),
                     -1);
    /* It reads back as JSON: the scanner sees an announce without peer_id. */
    assert_int_equal(proto_scan_request(buf, (size_t)n, 256, &req), PROTO_ERR_PEER_ID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_response_peer_list), cmocka_unit_test(test_exact_output),
        cmocka_unit_test(test_error_all_statuses), cmocka_unit_test(test_forward_payload_verbatim),
        cmocka_unit_test(test_frames_scan_back),   cmocka_unit_test(test_cap_one_short),
        cmocka_unit_test(test_max_macros),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
