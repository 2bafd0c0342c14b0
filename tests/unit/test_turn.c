/* test_turn.c - unit tests of tracker/access/turn.c, TURN REST API credentials.
 *
 * Owns:   nothing; calls the pure functions with known answers and hostile input.
 * Why:    a wrong credential only shows when a TURN server refuses it; the
 *         HMAC is checked against RFC 2202's published vector, the whole
 *         credential against Python's hmac module (an independent
 *         implementation), and the writers against their bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "turn.h"

/* RFC 2202 section 3, test case 2: HMAC-SHA1("Jefe", "what do ya want for
 * nothing?") = effcdf6ae5eb2fa2d27416d5f184df9c259a7c79, in base64. */
static void test_hmac_rfc2202(void **state)
{
    char out[TURN_CREDENTIAL_MAX];
    (void)state;
    assert_int_equal(turn_credential(out, sizeof out, "Jefe", 4, "what do ya want for nothing?"),
                     28);
    assert_string_equal(out, "7/zfauXrL6LSdBbV8YTfnCWafHk=");
    /* Too small an output buffer fails rather than truncating. */
    assert_int_equal(turn_credential(out, 28, "Jefe", 4, "what do ya want for nothing?"), -1);
}

/* The username coturn parses ("<expiry>:<user>") and its credential; the
 * expected value is python3 -c "import hmac,hashlib,base64;
 * print(base64.b64encode(hmac.new(b'north',u.encode(),hashlib.sha1).digest()))"
 * with u = '1700003600:' + '70' * 20. */
static void test_username_and_credential(void **state)
{
    uint8_t pid[20];
    char user[TURN_USERNAME_MAX], cred[TURN_CREDENTIAL_MAX];
    (void)state;
    memset(pid, 0x70, sizeof pid);
    assert_int_equal(turn_username(user, sizeof user, 1700003600, pid), 51);
    assert_string_equal(user, "1700003600:7070707070707070707070707070707070707070");
    assert_int_equal(turn_credential(cred, sizeof cred, "north", 5, user), 28);
    assert_string_equal(cred, "dxSyWOv89NhiOc7w6l1KATN/Gbw=");
    /* The largest expiry still fits TURN_USERNAME_MAX; a short buffer fails. */
    assert_true(turn_username(user, sizeof user, UINT64_MAX, pid) > 0);
    assert_int_equal(turn_username(user, 51, 1700003600, pid), -1);
    /* A secret with NUL bytes and binary content is used as bytes. */
    assert_int_equal(turn_credential(cred, sizeof cred, "a\0b\xff", 4, user), 28);
}

static void test_urls(void **state)
{
    char long_url[TURN_URL_MAX + 8];
    (void)state;
    assert_true(turn_url_ok("turn:127.0.0.1:3478"));
    assert_true(turn_url_ok("turns:turn.example.org:5349?transport=tcp"));
    assert_true(turn_url_ok("stun:stun.example.org"));
    assert_false(turn_url_ok(""));
    assert_false(turn_url_ok("http://x"));
    assert_false(turn_url_ok("turn:a\"b"));
    assert_false(turn_url_ok("turn:a\\b"));
    assert_false(turn_url_ok("turn:a b"));
    assert_false(turn_url_ok("turn:\x01"));
    assert_false(turn_url_ok("turn:\xc3\xa9"));
    memset(long_url, 'a', sizeof long_url);
    memcpy(long_url, "turn:", 5);
    long_url[TURN_URL_MAX] = '\0';
    assert_false(turn_url_ok(long_url));
    long_url[TURN_URL_MAX - 1] = '\0';
    assert_true(turn_url_ok(long_url));
}

static void test_reply(void **state)
{
    const char *urls[2] = {"turn:127.0.0.1:3478", "turn:127.0.0.1:3478?transport=tcp"};
    char buf[512];
    const char *want =
        "{\"iceServers\":[{\"urls\":[\"turn:127.0.0.1:3478\",\"turn:127.0.0.1:3478?"
        "transport=tcp\"],\"username\":\"1:ab\",\"credential\":\"c=\"}],\"ttl\":3600}";
    int n;
    (void)state;
    n = turn_write_reply(buf, sizeof buf, urls, 2, "1:ab", "c=", 3600);
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(buf, want);
    /* Every shorter buffer fails: the reply is never cut. */
    for (size_t cap = 0; cap <= (size_t)n; cap++)
        assert_int_equal(turn_write_reply(buf, cap, urls, 2, "1:ab", "c=", 3600), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_rfc2202),
        cmocka_unit_test(test_username_and_credential),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_reply),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
