/* test_origin.c - unit tests of tracker/access/origin.c, the Origin allow list.
 *
 * Owns:   nothing; hostile origins against exact and wildcard patterns.
 * Why:    an origin check done on substrings lets "app.example.org.evil.net"
 *         in; these pin label-wise matching, ports, schemes and junk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "origin.h"

static const char list[3][ORIGIN_MAX] = {
    "https://app.example.org",
    "https://*.example.net",
    "http://127.0.0.1:8000",
};

static bool ok(const char *o)
{
    return origin_allowed(o, strlen(o), list, 3);
}

static void test_patterns(void **state)
{
    (void)state;
    assert_int_equal(origin_pattern_check("https://app.example.org"), 0);
    assert_int_equal(origin_pattern_check("https://*.example.org"), 0);
    assert_int_equal(origin_pattern_check("http://localhost:8080"), 0);
    assert_int_equal(origin_pattern_check("app.example.org"), -1);          /* no scheme */
    assert_int_equal(origin_pattern_check("https://app.example.org/"), -1); /* a path */
    assert_int_equal(origin_pattern_check("https://*"), -1);
    assert_int_equal(origin_pattern_check("https://a.*.example.org"), -1);
    assert_int_equal(origin_pattern_check("https://*.*.example.org"), -1);
    assert_int_equal(origin_pattern_check("https://*example.org"), -1);
    assert_int_equal(origin_pattern_check("https://user@example.org"), -1);
    assert_int_equal(origin_pattern_check("https://example.org:"), -1);
    assert_int_equal(origin_pattern_check("https://example.org:123456"), -1);
    assert_int_equal(origin_pattern_check("https://exa mple.org"), -1);
    assert_int_equal(origin_pattern_check(""), -1);
}

static void test_match(void **state)
{
    (void)state;
    assert_true(ok("https://app.example.org"));
    assert_true(ok("HTTPS://APP.Example.ORG"));      /* case does not matter */
    assert_false(ok("http://app.example.org"));      /* scheme does */
    assert_false(ok("https://app.example.org:444")); /* and port */
    assert_false(ok("https://app.example.org.evil.net"));
    assert_false(ok("https://evilapp.example.org"));
    assert_false(ok("https://app.example.org/"));
    assert_false(ok("https://app.example.org@evil.net"));
    assert_true(ok("https://a.example.net"));
    assert_true(ok("https://a.b.example.net"));
    assert_false(ok("https://example.net")); /* the domain itself is not a subdomain */
    assert_false(ok("https://badexample.net"));
    assert_false(ok("https://a.example.net.evil"));
    assert_false(ok("https://*.example.net")); /* a literal star is no subdomain */
    assert_true(ok("http://127.0.0.1:8000"));
    assert_false(ok("http://127.0.0.1"));
    assert_false(ok("http://127.0.0.1:80000"));
    assert_false(ok("null"));
    assert_false(ok(""));
    assert_false(ok("https://"));
    assert_false(ok("https://app.example.org\r\nx: y"));
    /* The length given counts, not a NUL. */
    assert_true(origin_allowed("https://app.example.orgXYZ", 23, list, 3));
    assert_false(origin_allowed("https://app.example.org", 22, list, 3));
    assert_false(origin_allowed("https://app.example.org", 23, list, 0)); /* empty list */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
