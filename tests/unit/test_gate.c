/* test_gate.c - unit tests of proto/gate.c: what may become a WebSocket.
 *
 * Owns:   nothing; hostile requests and close frames against the rules of
 *         PROTOCOL.md section 1 (issue 9).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gate.h"

static struct proto_http_req good(void)
{
    struct proto_http_req r = {
        .method = "GET",
        .version = "HTTP/1.1",
        .upgrade = "websocket",
        .connection = "keep-alive, Upgrade",
        .ws_version = "13",
        .ws_key = "dGhlIHNhbXBsZSBub25jZQ==",
        .protocols = NULL,
        .host = "tracker.example:8000",
    };
    return r;
}

static unsigned upgrade_status(const struct proto_http_req *r, const char **reason)
{
    struct proto_http_verdict v;
    proto_upgrade_check(r, &v);
    if (reason)
        *reason = v.reason;
    return v.status;
}

static void test_good_upgrade(void **state)
{
    (void)state;
    struct proto_http_req r = good();
    struct proto_http_verdict v;
    proto_upgrade_check(&r, &v);
    assert_int_equal(v.status, 0);
    assert_string_equal(v.subprotocol, "");
    r.upgrade = "WebSocket"; /* case-insensitive, as browsers send it */
    r.connection = "Upgrade";
    assert_int_equal(upgrade_status(&r, NULL), 0);
}

static void test_refused_upgrades(void **state)
{
    (void)state;
    const char *why;
    struct proto_http_req r = good();
    r.upgrade = "h2c";
    assert_int_equal(upgrade_status(&r, &why), 400);
    assert_string_equal(why, "only Upgrade: websocket is supported");
    r = good();
    r.method = "POST";
    assert_int_equal(upgrade_status(&r, &why), 405);
    assert_string_equal(why, "WebSocket upgrade needs GET");
    r.method = "CONNECT";
    assert_int_equal(upgrade_status(&r, NULL), 405);
    r = good();
    r.version = "HTTP/1.0";
    assert_int_equal(upgrade_status(&r, &why), 400);
    assert_string_equal(why, "WebSocket upgrade needs HTTP/1.1");
    r.version = NULL;
    assert_int_equal(upgrade_status(&r, NULL), 400);
    r = good();
    r.ws_version = "8";
    assert_int_equal(upgrade_status(&r, &why), 426);
    assert_string_equal(why, "unsupported Sec-WebSocket-Version (want 13)");
    r.ws_version = "13, 8";
    assert_int_equal(upgrade_status(&r, NULL), 426);
    r.ws_version = NULL;
    assert_int_equal(upgrade_status(&r, NULL), 426);
    r = good();
    r.connection = "keep-alive";
    assert_int_equal(upgrade_status(&r, NULL), 400);
    r.connection = "upgraded"; /* a token, not a substring */
    assert_int_equal(upgrade_status(&r, NULL), 400);
    r = good();
    r.ws_key = "short";
    assert_int_equal(upgrade_status(&r, &why), 400);
    assert_string_equal(why, "invalid Sec-WebSocket-Key");
    r.ws_key = NULL;
    assert_int_equal(upgrade_status(&r, NULL), 400);
    r = good();
    r.host = NULL;
    assert_int_equal(upgrade_status(&r, &why), 400);
    assert_string_equal(why, "missing Host");
    r.host = "";
    assert_int_equal(upgrade_status(&r, NULL), 400);
}

static void test_subprotocols(void **state)
{
    (void)state;
    struct proto_http_req r = good();
    struct proto_http_verdict v;
    static const struct {
        const char *offered, *echoed; /* echoed NULL: refused with 400 */
    } cases[] = {
        {"chat", "chat"},
        {"foo, bar", "foo"},
        {"  v1.tracker-x_y~,wstracker", "v1.tracker-x_y~"},
        {"wstracker listen", NULL}, /* space inside: not a token list */
        {"", NULL},
        {",", NULL},
        {"a,,b", NULL},
        {"chat,", NULL},
        {"\"quoted\"", NULL},
        {"a/b", NULL},
        {"caf\xc3\xa9", NULL},
        {"0123456789012345678901234567890123456789012345678901234567890123", NULL}, /* 64 */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        r.protocols = cases[k].offered;
        proto_upgrade_check(&r, &v);
        if (cases[k].echoed) {
            assert_int_equal(v.status, 0);
            assert_string_equal(v.subprotocol, cases[k].echoed);
        } else {
            assert_int_equal(v.status, 400);
            assert_string_equal(v.reason, "invalid Sec-WebSocket-Protocol");
        }
    }
    /* 63 characters: the longest echoed. */
    r.protocols = "012345678901234567890123456789012345678901234567890123456789012";
    proto_upgrade_check(&r, &v);
    assert_int_equal(v.status, 0);
    assert_int_equal(strlen(v.subprotocol), PROTO_SUBPROTOCOL_MAX);
}

static void test_plain_http(void **state)
{
    (void)state;
    struct proto_http_req r = {.method = "GET"};
    struct proto_http_verdict v;
    proto_http_check(&r, &v);
    assert_int_equal(v.status, 0);
    r.method = "HEAD";
    proto_http_check(&r, &v);
    assert_int_equal(v.status, 0);
    static const char *const refused[] = {"POST",  "PUT",     "DELETE",   "OPTIONS",
                                          "PATCH", "CONNECT", "(unknown)"};
    for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++) {
        r.method = refused[k];
        proto_http_check(&r, &v);
        assert_int_equal(v.status, 405);
        assert_string_equal(v.allow, "GET, HEAD");
    }
}

static void test_refusal_text(void **state)
{
    (void)state;
    char buf[PROTO_HTTP_REFUSAL_MAX];
    struct proto_http_req r = good();
    struct proto_http_verdict v;
    r.ws_version = "7";
    proto_upgrade_check(&r, &v);
    int n = proto_http_refusal(buf, sizeof buf, &v);
    assert_true(n > 0);
    assert_string_equal(buf, "HTTP/1.1 426 Upgrade Required\r\ncontent-type: text/plain\r\n"
                             "content-length: 44\r\nconnection: close\r\n"
                             "sec-websocket-version: 13\r\n\r\n"
                             "unsupported Sec-WebSocket-Version (want 13)\n");
    r = good();
    r.method = "POST";
    proto_upgrade_check(&r, &v);
    n = proto_http_refusal(buf, sizeof buf, &v);
    assert_true(n > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 405 Method Not Allowed\r\n"));
    assert_non_null(strstr(buf, "\r\nallow: GET, HEAD\r\n"));
    struct proto_http_verdict full = {503, "too many connections", NULL, ""};
    n = proto_http_refusal(buf, sizeof buf, &full);
    assert_int_equal(n, (int)strlen(buf));
    assert_non_null(strstr(buf, "HTTP/1.1 503 Service Unavailable\r\n"));
    assert_non_null(strstr(buf, "\r\n\r\ntoo many connections\n"));
    assert_int_equal(proto_http_refusal(buf, 20, &full), -1); /* too small: nothing claimed */
}

static void test_close_frames(void **state)
{
    (void)state;
    static const struct {
        const char *payload;
        size_t len;
        enum proto_close_verdict want;
    } cases[] = {
        {"", 0, PROTO_CLOSE_ECHO},
        {"\x03\xe8", 2, PROTO_CLOSE_ECHO}, /* 1000 */
        {"\x03\xe8"
         "bye",
         5, PROTO_CLOSE_ECHO},
        {"\x03\xe9", 2, PROTO_CLOSE_ECHO},     /* 1001 */
        {"\x03\xf3", 2, PROTO_CLOSE_ECHO},     /* 1011 */
        {"\x0b\xb8", 2, PROTO_CLOSE_ECHO},     /* 3000 */
        {"\x13\x87", 2, PROTO_CLOSE_ECHO},     /* 4999 */
        {"\x13\x88", 2, PROTO_CLOSE_PROTOCOL}, /* 5000 */
        {"\xff\xff", 2, PROTO_CLOSE_PROTOCOL}, /* 65535 */
        {"\x03\xe7", 2, PROTO_CLOSE_PROTOCOL}, /* 999 */
        {"\x03\xed", 2, PROTO_CLOSE_PROTOCOL}, /* 1005: never on the wire */
        {"\x03\xee", 2, PROTO_CLOSE_PROTOCOL}, /* 1006 */
        {"\x03\xf4", 2, PROTO_CLOSE_PROTOCOL}, /* 1012 */
        {"\x07\xd0", 2, PROTO_CLOSE_PROTOCOL}, /* 2000 */
        {"\x03", 1, PROTO_CLOSE_FAIL},         /* a code needs two bytes */
        {"\x03\xe8\xff", 3, PROTO_CLOSE_FAIL}, /* reason not UTF-8 */
        {"\x03\xe8\xc3", 3, PROTO_CLOSE_FAIL}, /* truncated UTF-8 */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        assert_int_equal(proto_close_check((const uint8_t *)cases[k].payload, cases[k].len),
                         cases[k].want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_upgrade), cmocka_unit_test(test_refused_upgrades),
        cmocka_unit_test(test_subprotocols), cmocka_unit_test(test_plain_http),
        cmocka_unit_test(test_refusal_text), cmocka_unit_test(test_close_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
