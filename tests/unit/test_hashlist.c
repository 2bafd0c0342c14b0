/* test_hashlist.c - unit tests of tracker/access/hashlist.c, the info-hash lists.
 *
 * Owns:   nothing; list files as operators and scripts write them, and broken
 *         ones (each must name its line and build nothing).
 * Why:    a list that silently drops a bad line serves what it should refuse
 *         (allow list) or refuses what it should serve (deny list).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hashlist.h"

static void id(const char *hex, uint8_t out[20])
{
    for (int k = 0; k < 20; k++) {
        unsigned v;
        sscanf(hex + 2 * k, "%2x", &v);
        out[k] = (uint8_t)v;
    }
}

static void test_parse_and_lookup(void **state)
{
    static const char text[] =
        "# my torrents\n"
        "0123456789abcdef0123456789abcdef01234567\n"
        "  FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF  # upper case, spaces\r\n"
        "\n"
        "\t\n"
        "0123456789abcdef0123456789abcdef01234567\n" /* a duplicate */
        "0000000000000000000000000000000000000000";  /* no newline */
    struct hashlist *l;
    char err[HASHLIST_ERR_LEN];
    uint8_t a[20], b[20], c[20], d[20];
    (void)state;
    assert_int_equal(hashlist_parse(text, sizeof text - 1, &l, err), 0);
    assert_int_equal(l->n, 3);
    id("0123456789abcdef0123456789abcdef01234567", a);
    id("ffffffffffffffffffffffffffffffffffffffff", b);
    id("0000000000000000000000000000000000000000", c);
    id("0123456789abcdef0123456789abcdef01234568", d);
    assert_true(hashlist_has(l, a));
    assert_true(hashlist_has(l, b));
    assert_true(hashlist_has(l, c));
    assert_false(hashlist_has(l, d));
    assert_false(hashlist_has(NULL, a));
    hashlist_free(l);
    /* Empty and comment-only files are empty lists. */
    assert_int_equal(hashlist_parse("", 0, &l, err), 0);
    assert_int_equal(l->n, 0);
    assert_false(hashlist_has(l, a));
    hashlist_free(l);
    assert_int_equal(hashlist_parse("# none\n\n", 8, &l, err), 0);
    assert_int_equal(l->n, 0);
    hashlist_free(l);
}

static void test_bad_lines(void **state)
{
    static const struct {
        const char *text;
        const char *err;
    } cases[] = {
        {"0123456789abcdef0123456789abcdef0123456\n", "line 1: not a 40-hex info hash"},
        {"\n\n0123456789abcdef0123456789abcdef012345678\n", "line 3: not a 40-hex info hash"},
        {"0123456789abcdef0123456789abcdef0123456g\n", "line 1: not a 40-hex info hash"},
        {"0123456789abcdef 123456789abcdef01234567\n", "line 1: not a 40-hex info hash"},
        {"magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567", "line 1: not a 40-hex"},
        {"0123456789abcdef0123456789abcdef01234567,0123456789abcdef0123456789abcdef01234567",
         "line 1: not a 40-hex"},
    };
    (void)state;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct hashlist *l = (struct hashlist *)1;
        char err[HASHLIST_ERR_LEN] = "";
        assert_int_equal(hashlist_parse(cases[k].text, strlen(cases[k].text), &l, err), -1);
        assert_null(l);
        if (!strstr(err, cases[k].err))
            fail_msg("case %zu: %s", k, err);
    }
}

/* Many ids, in any order: all found, none invented; a file of nothing but
 * newlines costs no more memory than its ids could need. */
static void test_many(void **state)
{
    enum { N = 5000 };
    char *text = malloc(N * 41 + 1), *p = text;
    struct hashlist *l;
    char err[HASHLIST_ERR_LEN];
    uint8_t want[20];
    (void)state;
    for (unsigned k = N; k-- > 0;)
        p += sprintf(p, "%08x%032x\n", k * 2654435761u, k);
    assert_int_equal(hashlist_parse(text, (size_t)(p - text), &l, err), 0);
    assert_int_equal(l->n, N);
    for (unsigned k = 0; k < N; k += 7) {
        char hex[41];
        snprintf(hex, sizeof hex, "%08x%032x", k * 2654435761u, k);
        id(hex, want);
        assert_true(hashlist_has(l, want));
        want[19] ^= 0x80; /* k's prefix, another k's suffix: the prefix is a bijection of k */
        assert_false(hashlist_has(l, want));
    }
    hashlist_free(l);
    memset(text, '\n', N * 41);
    assert_int_equal(hashlist_parse(text, N * 41, &l, err), 0);
    assert_int_equal(l->n, 0);
    hashlist_free(l);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_lookup),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
