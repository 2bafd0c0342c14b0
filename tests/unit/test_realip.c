/* test_realip.c - unit tests of tracker/access/realip.c and ipcount.c: client
 * addresses, trusted proxies and the per-address connection count.
 *
 * Owns:   nothing; feeds the parsers hostile headers (spoofed entries, junk,
 *         obfuscated names, over-long chains, brackets and ports) and checks
 *         which address the per-IP cap counts, and that the count's sketch
 *         never lets an address past its cap.
 * Why:    a wrong walk lets a client name any address (and escape its cap or
 *         exhaust another's); these are the cases a proxy chain produces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ipcount.h"
#include "realip.h"

static struct ip_addr A(const char *s) {
    struct ip_addr a;
    if (ip_parse(s, strlen(s), &a) != 0)
        fail_msg("not an address: %s", s);
    return a;
}

static const char *
text(struct ip_addr a)
{
    static char buf[REALIP_TEXT_MAX];
    assert_true(ip_format(&a, buf, sizeof buf) > 0);
    return buf;
}

static void test_parse(void **state)
{
    static const char *const good[][2] = {
        {"1.2.3.4", "1.2.3.4"},
        {" 1.2.3.4 ", "1.2.3.4"},
        {"1.2.3.4:8080", "1.2.3.4"},
        {"::1", "::1"},
        {"[::1]", "::1"},
        {"[2001:db8::7]:443", "2001:db8::7"},
        {"::ffff:10.0.0.1", "10.0.0.1"},
        {"2001:DB8::A", "2001:db8::a"},
    };
    static const char *const bad[] = {
        "",          " ",
        "unknown",   "_hidden",
        "1.2.3",     "1.2.3.4.5",
        "256.1.1.1", "1.2.3.4:",
        "1.2.3.4:x", "[::1",
        "[::1]x",    "[]",
        "::1:80:x",  "host.example",
        "1.2.3.4 5", "fe80::1%eth0",
        "[1.2.3.4]", "1.2.3.4:80:90",
    };
    struct ip_addr a;
    (void)state;
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++)
        assert_string_equal(text(A(good[k][0])), good[k][1]);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        if (ip_parse(bad[k], strlen(bad[k]), &a) == 0)
            fail_msg("accepted %s as %s", bad[k], text(a));
    /* An embedded NUL is not part of any address. */
    assert_int_equal(ip_parse("1.2.3.4\0.5", 10, &a), -1);
    /* Longer than any address. */
    assert_int_equal(
        ip_parse("1111111111111111111111111111111111111111111111111111111111111111111", 67, &a),
        -1);
    a = A("9.9.9.9");
    assert_true(ip_is_v4(&a));
    a = A("::1");
    assert_false(ip_is_v4(&a));
    a = A("::ffff:9.9.9.9");
    assert_true(ip_is_v4(&a));
}

static void test_cidr(void **state)
{
    struct ip_cidr c;
    struct ip_addr a;
    (void)state;
    assert_int_equal(ip_cidr_parse("10.0.0.0/8", &c), 0);
    a = A("10.200.3.4");
    assert_true(ip_cidr_match(&c, &a));
    a = A("11.0.0.1");
    assert_false(ip_cidr_match(&c, &a));
    a = A("::ffff:10.1.1.1"); /* the same address, written as IPv6 */
    assert_true(ip_cidr_match(&c, &a));
    assert_int_equal(ip_cidr_parse("192.168.1.7", &c), 0); /* one address */
    a = A("192.168.1.7");
    assert_true(ip_cidr_match(&c, &a));
    a = A("192.168.1.8");
    assert_false(ip_cidr_match(&c, &a));
    assert_int_equal(ip_cidr_parse("2001:db8::/32", &c), 0);
    a = A("2001:db8:ffff::1");
    assert_true(ip_cidr_match(&c, &a));
    a = A("2001:db9::1");
    assert_false(ip_cidr_match(&c, &a));
    assert_int_equal(ip_cidr_parse("10.0.0.1/12", &c), 0); /* host bits are cleared */
    a = A("10.15.255.255");
    assert_true(ip_cidr_match(&c, &a));
    assert_int_equal(ip_cidr_parse("0.0.0.0/0", &c), 0);
    a = A("8.8.8.8");
    assert_true(ip_cidr_match(&c, &a));
    a = A("::1"); /* an IPv4 /0 is every IPv4 address, not every address */
    assert_false(ip_cidr_match(&c, &a));
    assert_int_equal(ip_cidr_parse("1.2.3.4/33", &c), -1);
    assert_int_equal(ip_cidr_parse("::/129", &c), -1);
    assert_int_equal(ip_cidr_parse("1.2.3.4/", &c), -1);
    assert_int_equal(ip_cidr_parse("1.2.3.4/8x", &c), -1);
    assert_int_equal(ip_cidr_parse("1.2.3.4/-1", &c), -1);
    assert_int_equal(ip_cidr_parse("[::1]/128", &c), -1);
    assert_int_equal(ip_cidr_parse("nonsense", &c), -1);
    assert_int_equal(ip_cidr_parse("10.0.0.1:80", &c), -1);    /* a port is not a range */
    assert_int_equal(ip_cidr_parse("::ffff:10.0.0.1", &c), 0); /* v4-mapped is fine */
}

/* The walk: trust the peer only when it is a proxy; then go right to left. */
static void test_realip(void **state)
{
    struct ip_cidr t[2];
    struct ip_addr peer = A("127.0.0.9"), stranger = A("198.51.100.1");
    (void)state;
    assert_int_equal(ip_cidr_parse("127.0.0.9", &t[0]), 0);
    assert_int_equal(ip_cidr_parse("10.0.0.0/8", &t[1]), 0);
#define WHO(p, x) text(realip(&(p), (x), t, 2))
    /* From a stranger the header is ignored. */
    assert_string_equal(WHO(stranger, "203.0.113.7"), "198.51.100.1");
    /* No trusted proxies configured: ignored too. */
    assert_string_equal(text(realip(&peer, "203.0.113.7", t, 0)), "127.0.0.9");
    /* From the proxy: the rightmost entry that is not a proxy itself. */
    assert_string_equal(WHO(peer, "203.0.113.7"), "203.0.113.7");
    assert_string_equal(WHO(peer, "6.6.6.6, 203.0.113.7"), "203.0.113.7");  /* spoofed left */
    assert_string_equal(WHO(peer, "203.0.113.7, 10.1.2.3"), "203.0.113.7"); /* via 10/8 */
    assert_string_equal(WHO(peer, "10.1.1.1, 10.2.2.2"), "10.1.1.1");       /* all proxies */
    assert_string_equal(WHO(peer, "203.0.113.7,10.1.2.3,"), "127.0.0.9");   /* empty hop */
    /* Two header lines, as lws joins them: the proxy's line is the last. */
    assert_string_equal(WHO(peer, "7.7.7.7,203.0.113.7"), "203.0.113.7");
    /* IPv6 entries, with and without brackets and ports. */
    assert_string_equal(WHO(peer, "[2001:db8::1]:4711"), "2001:db8::1");
    assert_string_equal(WHO(peer, "2001:db8::2"), "2001:db8::2");
    /* A hop that is not an address: that hop is as far as anyone knows. */
    assert_string_equal(WHO(peer, "203.0.113.7, unknown"), "127.0.0.9");
    assert_string_equal(WHO(peer, "203.0.113.7, garbage, 10.1.2.3"), "10.1.2.3");
    assert_string_equal(WHO(peer, "for=192.0.2.1"), "127.0.0.9"); /* Forwarded syntax: no */
    assert_string_equal(WHO(peer, ""), "127.0.0.9");
    assert_string_equal(WHO(peer, NULL), "127.0.0.9");
    /* More hops than REALIP_HOPS_MAX, all proxies: the walk stops there. */
    {
        char h[REALIP_HOPS_MAX * 12 + 32] = "203.0.113.7";
        for (int k = 0; k < REALIP_HOPS_MAX + 4; k++)
            strcat(h, ", 10.0.0.1");
        assert_string_equal(WHO(peer, h), "10.0.0.1");
    }
#undef WHO
}

static void test_cap_key(void **state)
{
    struct ip_addr a = A("2001:db8:1:2:aaaa::1"), b = A("2001:db8:1:2:bbbb::9"),
                   c = A("2001:db8:1:3::1"), v4 = A("1.2.3.4"), v4m = A("::ffff:1.2.3.4"),
                   v4b = A("1.2.3.5");
    (void)state;
    assert_true(ip_cap_key(&a) == ip_cap_key(&b)); /* one /64 */
    assert_true(ip_cap_key(&a) != ip_cap_key(&c));
    assert_true(ip_cap_key(&v4) == ip_cap_key(&v4m));
    assert_true(ip_cap_key(&v4) != ip_cap_key(&v4b));
    assert_true(ip_cap_key(&v4) != ip_cap_key(&a));
}

/* The sketch: an address gets exactly cap places, others are not touched,
 * giving back frees a place; collisions only ever over-count. */
static void test_ipcount(void **state)
{
    static struct ipcount c;
    static const uint8_t key[16] = "ipcount test key";
    struct ipcount_slots s1, s2;
    (void)state;
    ipcount_init(&c, key);
    s1 = ipcount_slots(&c, 1);
    s2 = ipcount_slots(&c, 2);
    assert_true(s1.a != s1.b);
    for (int k = 0; k < 64; k++)
        assert_true(ipcount_take(&c, s1, 64));
    assert_false(ipcount_take(&c, s1, 64));
    assert_int_equal(ipcount_get(&c, s1), 64); /* a refusal changes nothing */
    assert_true(ipcount_take(&c, s2, 64));     /* another address has its own */
    ipcount_give(&c, s1);
    assert_true(ipcount_take(&c, s1, 64));
    assert_false(ipcount_take(&c, s1, 64));
    /* Many addresses: no count is below what was taken for it. */
    for (uint64_t k = 100; k < 20100; k++)
        assert_true(ipcount_take(&c, ipcount_slots(&c, k), 1000));
    for (uint64_t k = 100; k < 20100; k++)
        assert_true(ipcount_get(&c, ipcount_slots(&c, k)) >= 1);
    assert_true(ipcount_get(&c, s1) >= 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),   cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_realip),  cmocka_unit_test(test_cap_key),
        cmocka_unit_test(test_ipcount),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
