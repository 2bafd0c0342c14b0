/* test_id.c - unit tests for proto/id.c, the 20-byte id <-> JSON string codec.
 *
 * Owns:   nothing; drives proto_id_encode/proto_id_decode on all 256 byte values.
 * Thread: single-threaded cmocka test.
 * Why:    an id must be written exactly as JSON.stringify writes the Latin-1 string
 *         and every JSON spelling of it must decode back (PROTOCOL.md section 2).
 *         The expected strings below were produced by Node's JSON.stringify, not by
 *         the code under test. Inputs are copied into buffers of their exact size so
 *         ASan catches any read past the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "id.h"

/* ---- helpers ---- */

/* Decode s[0..len) from a heap copy of exactly len bytes. */
static int decode_exact(const char *s, size_t len, uint8_t out[PROTO_ID_LEN])
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, s, len);
    int r = proto_id_decode(copy, len, out);
    free(copy);
    return r;
}

static int decode_str(const char *s, uint8_t out[PROTO_ID_LEN])
{
    return decode_exact(s, strlen(s), out);
}

/* JSON.stringify's spelling of one Latin-1 code point, written out by the rules of
 * PROTOCOL.md section 2 (independently of id.c). */
static size_t expect_byte(uint8_t b, char *out)
{
    switch (b) {
    case 0x08: memcpy(out, "\\b", 2); return 2;
    case 0x09: memcpy(out, "\\t", 2); return 2;
    case 0x0a: memcpy(out, "\\n", 2); return 2;
    case 0x0c: memcpy(out, "\\f", 2); return 2;
    case 0x0d: memcpy(out, "\\r", 2); return 2;
    case 0x22: memcpy(out, "\\\"", 2); return 2;
    case 0x5c: memcpy(out, "\\\\", 2); return 2;
    default: break;
    }
    if (b < 0x20) {
        char tmp[8];
        snprintf(tmp, sizeof tmp, "\\u%04x", (unsigned)b);
        memcpy(out, tmp, 6);
        return 6;
    }
    if (b < 0x80) {
        out[0] = (char)b;
        return 1;
    }
    out[0] = (char)(b < 0xC0 ? 0xC2 : 0xC3);
    out[1] = (char)(0x80 | (b & 0x3F));
    return 2;
}

static size_t expect_id(const uint8_t id[PROTO_ID_LEN], char *out)
{
    size_t n = 0;
    for (int k = 0; k < PROTO_ID_LEN; k++)
        n += expect_byte(id[k], out + n);
    return n;
}

/* Encode into a buffer of exactly PROTO_ID_JSON_MAX bytes (ASan checks the bound). */
static size_t encode_exact(const uint8_t id[PROTO_ID_LEN], char *out)
{
    char *buf = malloc(PROTO_ID_JSON_MAX);
    assert_non_null(buf);
    size_t n = proto_id_encode(id, buf);
    assert_true(n <= PROTO_ID_JSON_MAX);
    memcpy(out, buf, n);
    free(buf);
    return n;
}

/* JSON.stringify(Buffer.from(bytes(k*20 .. k*20+19 mod 256)).toString('binary')),
 * without the quotes, as printed by Node 20. */
static const char *const node_mixed[13] = {
    "\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f"
    "\\u0010\\u0011\\u0012\\u0013",
    "\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f "
    "!\\\"#$%&'",
    "()*+,-./0123456789:;",
    "<=>?@ABCDEFGHIJKLMNO",
    "PQRSTUVWXYZ[\\\\]^_`abc",
    "defghijklmnopqrstuvw",
    "xyz{|}~\177\302\200\302\201\302\202\302\203\302\204\302\205\302\206\302\207\302\210\302\211"
    "\302\212\302\213",
    "\302\214\302\215\302\216\302\217\302\220\302\221\302\222\302\223\302\224\302\225\302\226\302"
    "\227\302\230\302\231\302\232\302\233\302\234\302\235\302\236\302\237",
    "\302\240\302\241\302\242\302\243\302\244\302\245\302\246\302\247\302\250\302\251\302\252\302"
    "\253\302\254\302\255\302\256\302\257\302\260\302\261\302\262\302\263",
    "\302\264\302\265\302\266\302\267\302\270\302\271\302\272\302\273\302\274\302\275\302\276\302"
    "\277\303\200\303\201\303\202\303\203\303\204\303\205\303\206\303\207",
    "\303\210\303\211\303\212\303\213\303\214\303\215\303\216\303\217\303\220\303\221\303\222\303"
    "\223\303\224\303\225\303\226\303\227\303\230\303\231\303\232\303\233",
    "\303\234\303\235\303\236\303\237\303\240\303\241\303\242\303\243\303\244\303\245\303\246\303"
    "\247\303\250\303\251\303\252\303\253\303\254\303\255\303\256\303\257",
    "\303\260\303\261\303\262\303\263\303\264\303\265\303\266\303\267\303\270\303\271\303\272\303"
    "\273\303\274\303\275\303\276\303\277\\u0000\\u0001\\u0002\\u0003",
};

/* ---- encode ---- */

/* Spot checks of the rules, spelled out by hand. */
static void test_encode_rules(void **state)
{
    (void)state;
    static const struct {
        uint8_t b;
        const char *one; /* JSON.stringify of the one-character string, no quotes */
    } cases[] = {
        {0x00, "\\u0000"},  {0x01, "\\u0001"},  {0x07, "\\u0007"},  {0x08, "\\b"},
        {0x09, "\\t"},      {0x0a, "\\n"},      {0x0b, "\\u000b"},  {0x0c, "\\f"},
        {0x0d, "\\r"},      {0x0e, "\\u000e"},  {0x1f, "\\u001f"},  {0x20, " "},
        {0x21, "!"},        {0x22, "\\\""},     {0x27, "'"},        {0x2f, "/"},
        {0x3c, "<"},        {0x41, "A"},        {0x5c, "\\\\"},     {0x7e, "~"},
        {0x7f, "\x7f"},     {0x80, "\xc2\x80"}, {0xa0, "\xc2\xa0"}, {0xbf, "\xc2\xbf"},
        {0xc0, "\xc3\x80"}, {0xe9, "\xc3\xa9"}, {0xff, "\xc3\xbf"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t id[PROTO_ID_LEN];
        char got[PROTO_ID_JSON_MAX + 1];
        char want[PROTO_ID_JSON_MAX + 1];
        size_t one = strlen(cases[c].one);
        memset(id, cases[c].b, sizeof id);
        for (int k = 0; k < PROTO_ID_LEN; k++)
            memcpy(want + (size_t)k * one, cases[c].one, one);
        size_t n = encode_exact(id, got);
        assert_int_equal(n, one * PROTO_ID_LEN);
        assert_memory_equal(got, want, n);
    }
}

/* Every byte value: 20 copies encode as JSON.stringify would, and decode back. */
static void test_all_bytes_repeated(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 256; b++) {
        uint8_t id[PROTO_ID_LEN], back[PROTO_ID_LEN];
        char got[PROTO_ID_JSON_MAX], want[PROTO_ID_JSON_MAX];
        memset(id, (int)b, sizeof id);
        size_t wn = expect_id(id, want);
        size_t n = encode_exact(id, got);
        assert_int_equal(n, wn);
        assert_memory_equal(got, want, n);
        memset(back, 0xAA ^ (int)b, sizeof back);
        assert_int_equal(decode_exact(got, n, back), 0);
        assert_memory_equal(back, id, PROTO_ID_LEN);
    }
}

/* Ids mixing all 256 values (13 ids cover 0..255) match Node's output exactly. */
static void test_all_bytes_mixed_node(void **state)
{
    (void)state;
    for (unsigned k = 0; k < 13; k++) {
        uint8_t id[PROTO_ID_LEN], back[PROTO_ID_LEN];
        char got[PROTO_ID_JSON_MAX];
        for (unsigned j = 0; j < PROTO_ID_LEN; j++)
            id[j] = (uint8_t)((k * 20 + j) & 0xff);
        size_t n = encode_exact(id, got);
        assert_int_equal(n, strlen(node_mixed[k]));
        assert_memory_equal(got, node_mixed[k], n);
        assert_int_equal(decode_exact(got, n, back), 0);
        assert_memory_equal(back, id, PROTO_ID_LEN);
    }
}

/* Pseudo-random ids (every position sees every value): round trip and reference. */
static void test_random_roundtrip(void **state)
{
    (void)state;
    uint32_t x = 0x12345678;
    for (int iter = 0; iter < 20000; iter++) {
        uint8_t id[PROTO_ID_LEN], back[PROTO_ID_LEN];
        char got[PROTO_ID_JSON_MAX], want[PROTO_ID_JSON_MAX];
        for (int k = 0; k < PROTO_ID_LEN; k++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            id[k] = (uint8_t)(x >> 7);
        }
        size_t n = encode_exact(id, got);
        size_t wn = expect_id(id, want);
        assert_int_equal(n, wn);
        assert_memory_equal(got, want, n);
        assert_int_equal(decode_exact(got, n, back), 0);
        assert_memory_equal(back, id, PROTO_ID_LEN);
    }
}

/* ---- decode: accepted spellings ---- */

/* \u00XX for every byte value, lowercase and uppercase hex, and mixed with literals. */
static void test_decode_u_escapes(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 256; b++) {
        char s[PROTO_ID_LEN * 6 + 1];
        uint8_t out[PROTO_ID_LEN], want[PROTO_ID_LEN];
        memset(want, (int)b, sizeof want);

        for (int k = 0; k < PROTO_ID_LEN; k++)
            snprintf(s + k * 6, 7, "\\u%04x", b);
        assert_int_equal(decode_str(s, out), 0);
        assert_memory_equal(out, want, PROTO_ID_LEN);

        for (int k = 0; k < PROTO_ID_LEN; k++)
            snprintf(s + k * 6, 7, "\\u%04X", b);
        assert_int_equal(decode_str(s, out), 0);
        assert_memory_equal(out, want, PROTO_ID_LEN);

        /* One escape among 19 'x': the escape may sit at any position. */
        for (int pos = 0; pos < PROTO_ID_LEN; pos++) {
            char m[19 + 6 + 1];
            size_t o = 0;
            for (int k = 0; k < PROTO_ID_LEN; k++) {
                if (k == pos) {
                    snprintf(m + o, 7, "\\u%04X", b);
                    o += 6;
                } else {
                    m[o++] = 'x';
                }
            }
            m[o] = '\0';
            memset(want, 'x', sizeof want);
            want[pos] = (uint8_t)b;
            assert_int_equal(decode_str(m, out), 0);
            assert_memory_equal(out, want, PROTO_ID_LEN);
        }
    }
    /* Mixed case within one escape. */
    uint8_t out[PROTO_ID_LEN];
    assert_int_equal(decode_str("\\u00aB\\u00Ab\\u00AB\\u00ab"
                                "abcdefghijklmnop",
                                out),
                     0);
    assert_int_equal(out[0], 0xab);
    assert_int_equal(out[3], 0xab);
    assert_memory_equal(out + 4, "abcdefghijklmnop", 16);
}

static void test_decode_short_escapes(void **state)
{
    (void)state;
    static const struct {
        const char *esc;
        uint8_t b;
    } cases[] = {
        {"\\\"", 0x22}, {"\\\\", 0x5c}, {"\\/", 0x2f}, {"\\b", 0x08},
        {"\\f", 0x0c},  {"\\n", 0x0a},  {"\\r", 0x0d}, {"\\t", 0x09},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char s[64] = "";
        uint8_t out[PROTO_ID_LEN], want[PROTO_ID_LEN];
        for (int k = 0; k < PROTO_ID_LEN; k++)
            strcat(s, cases[c].esc);
        memset(want, cases[c].b, sizeof want);
        assert_int_equal(decode_str(s, out), 0);
        assert_memory_equal(out, want, PROTO_ID_LEN);
    }
    /* "/" literal and "\/" decode to the same byte. */
    uint8_t a[PROTO_ID_LEN], b[PROTO_ID_LEN];
    assert_int_equal(decode_str("a/b/c/d/e/f/g/h/i/j/", a), 0);
    assert_int_equal(decode_str("a\\/b\\/c\\/d\\/e\\/f\\/g\\/h\\/i\\/j\\/", b), 0);
    assert_memory_equal(a, b, PROTO_ID_LEN);
    assert_memory_equal(a, "a/b/c/d/e/f/g/h/i/j/", PROTO_ID_LEN);
}

static void test_decode_ascii(void **state)
{
    (void)state;
    uint8_t out[PROTO_ID_LEN];
    /* trystero-style 20 ASCII characters. */
    assert_int_equal(decode_str("abcdefghijABCDEFGHIJ", out), 0);
    assert_memory_equal(out, "abcdefghijABCDEFGHIJ", PROTO_ID_LEN);
    assert_int_equal(decode_str("-WW0001-123456789012", out), 0);
    assert_memory_equal(out, "-WW0001-123456789012", PROTO_ID_LEN);
    assert_int_equal(decode_str("                    ", out), 0);
    assert_memory_equal(out, "                    ", PROTO_ID_LEN);
    /* 0x7f is a valid raw character in JSON. */
    assert_int_equal(decode_str("\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f"
                                "\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f",
                                out),
                     0);
    for (int k = 0; k < PROTO_ID_LEN; k++)
        assert_int_equal(out[k], 0x7f);
}

/* ---- decode: rejected input ---- */

/* Build a string of n code points from one spelling and decode it. */
static int decode_n_of(const char *unit, int n)
{
    char s[512] = "";
    uint8_t out[PROTO_ID_LEN];
    for (int k = 0; k < n; k++)
        strcat(s, unit);
    return decode_str(s, out);
}

static void test_reject_length(void **state)
{
    (void)state;
    static const char *const units[] = {
        "a", "\\u0041", "\\u00ff", "\xc3\xbf", "\xc2\x80", "\\n", "\\\"", "\\/",
    };
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        for (int n = 0; n <= 40; n++) {
            int want = n == PROTO_ID_LEN ? 0 : -1;
            assert_int_equal(decode_n_of(units[u], n), want);
        }
    }
    uint8_t out[PROTO_ID_LEN];
    assert_int_equal(decode_exact("", 0, out), -1);
    /* 19 ASCII + one 2-byte char = 20 code points (21 bytes): accepted. */
    assert_int_equal(decode_str("abcdefghijklmnopqrs\xc3\xa9", out), 0);
    assert_int_equal(out[19], 0xe9);
    /* 20 bytes but 19 code points: rejected. */
    assert_int_equal(decode_str("abcdefghijklmnopq\xc3\xa9r", out), -1);
    assert_int_equal(decode_str("abcdefghijklmnopq\xc3\xa9rs", out), 0);
}

/* Put bad at each position of an otherwise valid 19-'x' id. */
static void reject_everywhere(const char *bad, size_t bad_len)
{
    for (int pos = 0; pos < PROTO_ID_LEN; pos++) {
        char s[64];
        size_t o = 0;
        uint8_t out[PROTO_ID_LEN];
        for (int k = 0; k < PROTO_ID_LEN; k++) {
            if (k == pos) {
                memcpy(s + o, bad, bad_len);
                o += bad_len;
            } else {
                s[o++] = 'x';
            }
        }
        if (decode_exact(s, o, out) != -1)
            fail_msg("accepted bad unit at position %d (first byte 0x%02x, %zu bytes)", pos,
                     (unsigned char)bad[0], bad_len);
    }
}

static void test_reject_above_ff(void **state)
{
    (void)state;
    reject_everywhere("\xc4\x80", 2);         /* U+0100 raw */
    reject_everywhere("\xdf\xbf", 2);         /* U+07FF raw */
    reject_everywhere("\xe2\x82\xac", 3);     /* U+20AC raw */
    reject_everywhere("\xef\xbf\xbf", 3);     /* U+FFFF raw */
    reject_everywhere("\xf0\x9f\x98\x80", 4); /* U+1F600 raw */
    reject_everywhere("\\u0100", 6);
    reject_everywhere("\\u0101", 6);
    reject_everywhere("\\u1000", 6);
    reject_everywhere("\\u20ac", 6);
    reject_everywhere("\\uFFFF", 6);
    reject_everywhere("\\uffff", 6);
    /* Every \uXXXX above U+00FF in steps. */
    for (unsigned v = 0x100; v <= 0xFFFF; v += 0x37) {
        char e[8];
        snprintf(e, sizeof e, "\\u%04x", v);
        reject_everywhere(e, 6);
    }
}

static void test_reject_surrogates(void **state)
{
    (void)state;
    reject_everywhere("\\ud83d\\ude00", 12); /* a pair: U+1F600 */
    reject_everywhere("\\uD83D\\uDE00", 12);
    reject_everywhere("\\ud800", 6); /* lone high */
    reject_everywhere("\\udbff", 6);
    reject_everywhere("\\udc00", 6); /* lone low */
    reject_everywhere("\\udfff", 6);
    reject_everywhere("\xed\xa0\x80", 3); /* surrogate in raw UTF-8 (invalid) */
    /* 19 code points + a pair (2 UTF-16 units): not 20 Latin-1 code points. */
    uint8_t out[PROTO_ID_LEN];
    assert_int_equal(decode_str("abcdefghijklmnopqr\\ud83d\\ude00", out), -1);
    assert_int_equal(decode_str("abcdefghijklmnopqrs\\ud83d\\ude00", out), -1);
}

static void test_reject_raw_control(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 0x20; b++) {
        char c = (char)b;
        reject_everywhere(&c, 1);
    }
}

static void test_reject_truncated_escapes(void **state)
{
    (void)state;
    static const char *const tails[] = {"\\", "\\u", "\\u0", "\\u00", "\\u004"};
    uint8_t out[PROTO_ID_LEN];
    for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
        for (int n = 0; n <= PROTO_ID_LEN; n++) {
            char s[64];
            memset(s, 'x', (size_t)n);
            strcpy(s + n, tails[t]);
            assert_int_equal(decode_exact(s, strlen(s), out), -1);
        }
    }
    /* A valid id cut at every length is rejected (and never read past the cut). */
    const char *full = "\\u0000\\b\\\"\\\\\xc3\xbf\\u00FFabc\\/\\n\\r\\t\\f\xc2\x80"
                       "defgh";
    size_t fl = strlen(full);
    assert_int_equal(decode_exact(full, fl, out), 0);
    for (size_t l = 0; l < fl; l++)
        assert_int_equal(decode_exact(full, l, out), -1);
}

static void test_reject_bad_escape_letters(void **state)
{
    (void)state;
    for (unsigned e = 0; e < 256; e++) {
        if (strchr("\"\\/bfnrtu", (int)e) && e != 0)
            continue;
        char esc[2] = {'\\', (char)e};
        reject_everywhere(esc, 2);
    }
    /* Bad hex digits in \u. */
    static const char *const bad_hex[] = {
        "\\u004g", "\\u00g1", "\\u0x41", "\\u 041", "\\u-041", "\\U0041", "\\u00\xc3\xa9",
    };
    for (size_t k = 0; k < sizeof bad_hex / sizeof bad_hex[0]; k++)
        reject_everywhere(bad_hex[k], strlen(bad_hex[k]));
}

static void test_reject_bad_utf8(void **state)
{
    (void)state;
    /* Lone continuation bytes. */
    for (unsigned b = 0x80; b <= 0xBF; b++) {
        char c = (char)b;
        reject_everywhere(&c, 1);
    }
    /* Overlong leads C0/C1 (C0 80 would be an overlong NUL). */
    reject_everywhere("\xc0\x80", 2);
    reject_everywhere("\xc0\xbf", 2);
    reject_everywhere("\xc1\x81", 2);
    /* C2/C3 followed by a non-continuation byte, or at the end. */
    for (unsigned lead = 0xC2; lead <= 0xC3; lead++) {
        static const unsigned seconds[] = {0x00, 0x41, 0x7f, 0xC0, 0xC3, 0xFF};
        for (size_t k = 0; k < sizeof seconds / sizeof seconds[0]; k++) {
            char two[2] = {(char)lead, (char)seconds[k]};
            reject_everywhere(two, 2);
        }
        uint8_t out[PROTO_ID_LEN];
        char s[21];
        memset(s, 'x', 19);
        s[19] = (char)lead;
        assert_int_equal(decode_exact(s, 20, out), -1); /* lead byte at the end */
    }
    /* Any other lead byte, even with valid continuations after it. */
    for (unsigned lead = 0xC4; lead <= 0xFF; lead++) {
        char seq[4] = {(char)lead, (char)0x80, (char)0x80, (char)0x80};
        reject_everywhere(seq, 2);
        reject_everywhere(seq, 3);
        reject_everywhere(seq, 4);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_rules),
        cmocka_unit_test(test_all_bytes_repeated),
        cmocka_unit_test(test_all_bytes_mixed_node),
        cmocka_unit_test(test_random_roundtrip),
        cmocka_unit_test(test_decode_u_escapes),
        cmocka_unit_test(test_decode_short_escapes),
        cmocka_unit_test(test_decode_ascii),
        cmocka_unit_test(test_reject_length),
        cmocka_unit_test(test_reject_above_ff),
        cmocka_unit_test(test_reject_surrogates),
        cmocka_unit_test(test_reject_raw_control),
        cmocka_unit_test(test_reject_truncated_escapes),
        cmocka_unit_test(test_reject_bad_escape_letters),
        cmocka_unit_test(test_reject_bad_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
