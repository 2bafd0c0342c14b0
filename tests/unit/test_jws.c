/* test_jws.c - unit tests of proto/json.c and proto/jws.c: the token parser.
 *
 * Owns:   nothing; tokens as jose and hostile clients write them: valid ones,
 *         bad base64url, truncated and over-long parts, alg none, crit,
 *         duplicate keys, chains too deep, claims of the wrong type, scopes.
 * Why:    every byte of a token is read here before any signature check; a
 *         parser that accepts a second meaning of a token is a forgery.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jws.h"

/* header.payload.sig, each part base64url-encoded from the given text. */
static char *make_token(const char *header, const char *payload, const char *sig)
{
    static char buf[4 * JWS_TOKEN_MAX];
    size_t o = 0;
    long n;
    const char *parts[3] = {header, payload, sig};
    for (int k = 0; k < 3; k++) {
        n = b64url_encode((const uint8_t *)parts[k], strlen(parts[k]), buf + o, sizeof buf - o);
        assert_true(n >= 0);
        o += (size_t)n;
        if (k < 2)
            buf[o++] = '.';
    }
    buf[o] = '\0';
    return buf;
}

static struct jws t; /* 11 KiB: not on the stack */

static enum jws_status split(const char *tok)
{
    return jws_split(tok, strlen(tok), &t);
}

static void test_b64url(void **state)
{
    uint8_t out[8];
    char enc[16];
    (void)state;
    assert_int_equal(b64url_encode((const uint8_t *)"f", 1, enc, sizeof enc), 2);
    assert_string_equal(enc, "Zg");
    assert_int_equal(b64url_encode((const uint8_t *)"\xfb\xff", 2, enc, sizeof enc), 3);
    assert_string_equal(enc, "-_8");
    assert_int_equal(b64url_decode("-_8", 3, out, sizeof out), 2);
    assert_memory_equal(out, "\xfb\xff", 2);
    assert_int_equal(b64url_decode("Zg", 2, out, sizeof out), 1);
    assert_int_equal(b64url_decode("Zg==", 4, out, sizeof out), -1); /* padding */
    assert_int_equal(b64url_decode("Zh", 2, out, sizeof out), -1);   /* stray low bits */
    assert_int_equal(b64url_decode("Z", 1, out, sizeof out), -1);    /* no whole byte */
    assert_int_equal(b64url_decode("Zm+v", 4, out, sizeof out), -1); /* '+' is base64, not url */
    assert_int_equal(b64url_decode("Zm9vYmFyYmF6", 12, out, 8), -1); /* 9 bytes into 8 */
    assert_int_equal(b64url_encode((const uint8_t *)"foo", 3, enc, 4), -1);
}

static void test_split_valid(void **state)
{
    const char *tok = make_token("{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"k1\"}",
                                 "{\"exp\":1900000000}", "0123456789");
    (void)state;
    assert_int_equal(split(tok), JWS_OK);
    assert_int_equal(t.alg, JWS_ALG_EDDSA);
    assert_string_equal(t.kid, "k1");
    assert_int_equal(t.sig_len, 10);
    assert_memory_equal(t.sig, "0123456789", 10);
    assert_int_equal(t.n_chain, 0);
    assert_ptr_equal(t.signing_input, tok);
    assert_int_equal(t.signing_input_len, (size_t)(strrchr(tok, '.') - tok));
    static const struct {
        const char *alg;
        enum jws_alg want;
    } algs[] = {{"HS256", JWS_ALG_HS256},
                {"ES256", JWS_ALG_ES256},
                {"RS256", JWS_ALG_RS256},
                {"Ed25519", JWS_ALG_EDDSA}};
    for (size_t k = 0; k < sizeof algs / sizeof algs[0]; k++) {
        char h[64];
        snprintf(h, sizeof h, "{\"alg\":\"%s\"}", algs[k].alg);
        assert_int_equal(split(make_token(h, "{}", "s")), JWS_OK);
        assert_int_equal(t.alg, algs[k].want);
        assert_string_equal(t.kid, "");
    }
}

static void test_split_hostile(void **state)
{
    static char big[JWS_TOKEN_MAX + 2];
    static char hdr[JWS_HEADER_MAX + 64];
    (void)state;
    /* alg none, absent, unknown, not a string, case-folded */
    assert_int_equal(split(make_token("{\"alg\":\"none\"}", "{}", "s")), JWS_ERR_ALG);
    assert_int_equal(split(make_token("{\"typ\":\"JWT\"}", "{}", "s")), JWS_ERR_ALG);
    assert_int_equal(split(make_token("{\"alg\":\"HS512\"}", "{}", "s")), JWS_ERR_ALG);
    assert_int_equal(split(make_token("{\"alg\":\"eddsa\"}", "{}", "s")), JWS_ERR_ALG);
    assert_int_equal(split(make_token("{\"alg\":1}", "{}", "s")), JWS_ERR_HEADER);
    /* two algs: which one was signed? refused */
    assert_int_equal(split(make_token("{\"alg\":\"HS256\",\"alg\":\"EdDSA\"}", "{}", "s")),
                     JWS_ERR_ALG);
    /* an escaped key is the same key: still a duplicate */
    assert_int_equal(split(make_token("{\"alg\":\"EdDSA\",\"\\u0061lg\":\"none\"}", "{}", "s")),
                     JWS_ERR_ALG);
    assert_int_equal(split(make_token("{\"alg\":\"EdDSA\",\"crit\":[\"exp\"]}", "{}", "s")),
                     JWS_ERR_CRIT);
    assert_int_equal(split(make_token("{\"alg\":\"EdDSA\",\"kid\":7}", "{}", "s")), JWS_ERR_KID);
    assert_int_equal(split(make_token("[\"alg\",\"EdDSA\"]", "{}", "s")), JWS_ERR_HEADER);
    assert_int_equal(split(make_token("{\"alg\":\"EdDSA\"", "{}", "s")), JWS_ERR_HEADER);
    assert_int_equal(split(make_token("{\"alg\":\"EdDSA\"} x", "{}", "s")), JWS_ERR_HEADER);
    /* form: parts missing, extra, empty, bad characters */
    assert_int_equal(split("eyJhbGciOiJFZERTQSJ9.e30"), JWS_ERR_FORM);
    assert_int_equal(split("eyJhbGciOiJFZERTQSJ9.e30.cw.cw"), JWS_ERR_FORM);
    assert_int_equal(split("eyJhbGciOiJFZERTQSJ9.e30."), JWS_ERR_FORM);
    assert_int_equal(split(".e30.cw"), JWS_ERR_FORM);
    assert_int_equal(split("eyJhbGciOiJFZERTQSJ9.e3 0.cw"), JWS_ERR_FORM);
    assert_int_equal(split("eyJhbGciOiJFZERTQSJ9=.e30.cw"), JWS_ERR_FORM);
    assert_int_equal(split(""), JWS_ERR_FORM);
    /* size: a whole token, and a header over its cap */
    memset(big, 'A', sizeof big - 1);
    assert_int_equal(jws_split(big, sizeof big - 1, &t), JWS_ERR_SIZE);
    snprintf(hdr, sizeof hdr, "{\"alg\":\"EdDSA\",\"x\":\"%0*d\"}", JWS_HEADER_MAX, 0);
    assert_int_equal(split(make_token(hdr, "{}", "s")), JWS_ERR_SIZE);
}

static void test_chain(void **state)
{
    char h[512];
    (void)state;
    assert_int_equal(split(make_token("{\"alg\":\"EdDSA\",\"wst_chain\":[\"a.b.c\"]}", "{}", "s")),
                     JWS_OK);
    assert_int_equal(t.n_chain, 1);
    assert_int_equal(t.chain[0].len, 5);
    assert_memory_equal(t.chain[0].p, "a.b.c", 5);
    snprintf(h, sizeof h, "{\"alg\":\"EdDSA\",\"wst_chain\":[\"a.b.c\",\"d.e.f\"]}");
    assert_int_equal(split(make_token(h, "{}", "s")), JWS_OK);
    assert_int_equal(t.n_chain, 2);
    snprintf(h, sizeof h, "{\"alg\":\"EdDSA\",\"wst_chain\":[\"a.b.c\",\"d.e.f\",\"g.h.i\"]}");
    assert_int_equal(split(make_token(h, "{}", "s")), JWS_ERR_DEPTH);
    assert_int_equal(split(make_token("{\"alg\":\"EdDSA\",\"wst_chain\":[]}", "{}", "s")),
                     JWS_ERR_CHAIN);
    assert_int_equal(split(make_token("{\"alg\":\"EdDSA\",\"wst_chain\":\"a.b.c\"}", "{}", "s")),
                     JWS_ERR_CHAIN);
    assert_int_equal(split(make_token("{\"alg\":\"EdDSA\",\"wst_chain\":[1]}", "{}", "s")),
                     JWS_ERR_CHAIN);
    assert_int_equal(
        split(make_token("{\"alg\":\"EdDSA\",\"wst_chain\":[\"a\\u002eb.c\"]}", "{}", "s")),
        JWS_ERR_CHAIN);
}

static struct jwt_claims c;

static enum jwt_claims_status claims(const char *payload)
{
    assert_int_equal(split(make_token("{\"alg\":\"EdDSA\"}", payload, "s")), JWS_OK);
    return jwt_claims_read(&t, &c);
}

static void test_claims(void **state)
{
    (void)state;
    assert_int_equal(claims("{\"exp\":1900000000,\"nbf\":1.5e9,\"iat\":1800000000.75,"
                            "\"iss\":\"https://auth.example\",\"sub\":\"al\\u00efce\","
                            "\"jti\":\"j-1\",\"aud\":\"wst\"}"),
                     JWT_CLAIMS_OK);
    assert_true(c.has_exp && c.has_nbf);
    assert_int_equal(c.exp, 1900000000);
    assert_int_equal(c.nbf, 1500000000);
    assert_string_equal(c.iss, "https://auth.example");
    assert_string_equal(c.sub, "al\xc3\xaf"
                               "ce");
    assert_string_equal(c.jti, "j-1");
    assert_int_equal(c.n_aud, 1);
    assert_string_equal(c.aud[0], "wst");
    assert_true(c.scope.any);
    assert_int_equal(c.cnf_jwk.type, JSON_NONE);

    assert_int_equal(claims("{\"aud\":[\"a\",\"b\"]}"), JWT_CLAIMS_OK);
    assert_false(c.has_exp); /* required: the verifier refuses it, not the reader */
    assert_int_equal(c.n_aud, 2);
    assert_string_equal(c.aud[1], "b");

    assert_int_equal(claims("{\"exp\":\"1900000000\"}"), JWT_CLAIMS_TYPE);
    assert_int_equal(claims("{\"exp\":1e300}"), JWT_CLAIMS_TYPE);
    assert_int_equal(claims("{\"exp\":1,\"exp\":2}"), JWT_CLAIMS_TYPE);
    assert_int_equal(claims("{\"iss\":1}"), JWT_CLAIMS_TYPE);
    assert_int_equal(claims("{\"sub\":\"a\\u0000b\"}"), JWT_CLAIMS_TYPE);
    assert_int_equal(claims("{\"aud\":[\"a\",2]}"), JWT_CLAIMS_TYPE);
    assert_int_equal(claims("{\"aud\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]}"),
                     JWT_CLAIMS_TYPE);
    assert_int_equal(claims("[]"), JWT_CLAIMS_TYPE);
    assert_int_equal(claims("{\"cnf\":{}}"), JWT_CLAIMS_CNF);
    assert_int_equal(claims("{\"cnf\":{\"jwk\":\"x\"}}"), JWT_CLAIMS_CNF);
    assert_int_equal(claims("{\"cnf\":{\"jwk\":{\"kty\":\"OKP\"}}}"), JWT_CLAIMS_OK);
    assert_int_equal(c.cnf_jwk.type, JSON_OBJECT);
}

static void id(const char *hex, uint8_t out[20])
{
    for (int k = 0; k < 20; k++) {
        unsigned v;
        sscanf(hex + 2 * k, "%2x", &v);
        out[k] = (uint8_t)v;
    }
}

#define IH_A "0123456789abcdef0123456789abcdef01234567"
#define IH_B "fedcba9876543210fedcba9876543210fedcba98"

static void test_scope(void **state)
{
    uint8_t a[20], b[20], c0[20];
    static struct jwt_claims outer;
    (void)state;
    id(IH_A, a);
    id(IH_B, b);
    id("fe00000000000000000000000000000000000000", c0);

    assert_int_equal(claims("{\"wst\":{\"ih\":[\"" IH_A "\"]}}"), JWT_CLAIMS_OK);
    assert_false(c.scope.any);
    assert_true(jwt_scope_has(&c.scope, a));
    assert_false(jwt_scope_has(&c.scope, b));

    /* an odd prefix: "fed" matches B, not fe0... */
    assert_int_equal(claims("{\"wst\":{\"prefix\":[\"FED\"]}}"), JWT_CLAIMS_OK);
    assert_true(jwt_scope_has(&c.scope, b));
    assert_false(jwt_scope_has(&c.scope, c0));
    assert_false(jwt_scope_has(&c.scope, a));

    /* an empty scope object allows nothing */
    assert_int_equal(claims("{\"wst\":{}}"), JWT_CLAIMS_OK);
    assert_false(c.scope.any);
    assert_false(jwt_scope_has(&c.scope, a));

    assert_int_equal(claims("{\"wst\":{\"rooms\":[\"lobby\",\"caf\\u00e9\"]}}"), JWT_CLAIMS_OK);
    assert_int_equal(c.scope.n_rooms, 2);

    /* malformed scopes */
    assert_int_equal(claims("{\"wst\":{\"ih\":[\"" IH_A "0\"]}}"), JWT_CLAIMS_SCOPE);
    assert_int_equal(claims("{\"wst\":{\"ih\":[\"0123\"]}}"), JWT_CLAIMS_SCOPE);
    assert_int_equal(claims("{\"wst\":{\"ih\":\"" IH_A "\"}}"), JWT_CLAIMS_SCOPE);
    assert_int_equal(claims("{\"wst\":{\"prefix\":[\"\"]}}"), JWT_CLAIMS_SCOPE);
    assert_int_equal(claims("{\"wst\":{\"prefix\":[\"xy\"]}}"), JWT_CLAIMS_SCOPE);
    assert_int_equal(claims("{\"wst\":{\"rooms\":[7]}}"), JWT_CLAIMS_SCOPE);
    assert_int_equal(claims("{\"wst\":[]}"), JWT_CLAIMS_SCOPE);
    assert_int_equal(claims("{\"wst\":{\"ih\":[],\"ih\":[]}}"), JWT_CLAIMS_SCOPE);

    /* within: narrower inside wider; widened refused */
    assert_int_equal(claims("{\"wst\":{\"prefix\":[\"fe\"],\"ih\":[\"" IH_A "\"]}}"),
                     JWT_CLAIMS_OK);
    outer = c;
    assert_int_equal(claims("{\"wst\":{\"ih\":[\"" IH_B "\"],\"prefix\":[\"fed\"]}}"),
                     JWT_CLAIMS_OK);
    assert_true(jwt_scope_within(&c.scope, &outer.scope));
    assert_false(jwt_scope_within(&outer.scope, &c.scope));
    assert_int_equal(claims("{}"), JWT_CLAIMS_OK); /* any */
    assert_false(jwt_scope_within(&c.scope, &outer.scope));
    assert_true(jwt_scope_within(&outer.scope, &c.scope));
    assert_int_equal(claims("{\"wst\":{\"prefix\":[\"f\"]}}"), JWT_CLAIMS_OK);
    assert_false(jwt_scope_within(&c.scope, &outer.scope)); /* f > fe */
}

static void test_json_reader(void **state)
{
    struct json_val v, m;
    struct json_iter it;
    char out[16];
    const char *text = " {\"a\" : [1, \"x\", {\"b\":null}] , \"s\":\"\\ud83d\\ude00\\ud800!\"} ";
    (void)state;
    assert_int_equal(json_parse(text, strlen(text), &v), 0);
    assert_int_equal(v.type, JSON_OBJECT);
    assert_int_equal(json_count(&v), 2);
    assert_int_equal(json_member(&v, "a", &m), 1);
    assert_int_equal(m.type, JSON_ARRAY);
    assert_int_equal(json_count(&m), 3);
    json_iter_init(&it, &m);
    assert_true(json_next(&it, &v));
    assert_int_equal(v.type, JSON_NUMBER);
    assert_int_equal(v.len, 1);
    assert_true(json_next(&it, &v));
    assert_true(json_string_is(&v, "x"));
    assert_true(json_next(&it, &v));
    assert_int_equal(v.type, JSON_OBJECT);
    assert_false(json_next(&it, &v));
    assert_int_equal(json_parse(text, strlen(text), &v), 0);
    assert_int_equal(json_member(&v, "s", &m), 1);
    /* a pair is one 4-byte character; a lone surrogate is U+FFFD */
    assert_int_equal(json_string(&m, out, sizeof out), 8);
    assert_memory_equal(out, "\xf0\x9f\x98\x80\xef\xbf\xbd!", 8);
    assert_int_equal(json_string(&m, out, 8), -1); /* no room for the NUL */
    assert_int_equal(json_member(&v, "missing", &m), 0);
    assert_int_equal(m.type, JSON_NONE);
    assert_int_equal(json_member(&m, "a", &m), -1); /* not an object */
    assert_int_equal(json_parse("{\"a\":1", 6, &v), -1);
    assert_int_equal(json_parse("", 0, &v), -1);
    assert_int_equal(json_parse("1 2", 3, &v), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url),        cmocka_unit_test(test_split_valid),
        cmocka_unit_test(test_split_hostile), cmocka_unit_test(test_chain),
        cmocka_unit_test(test_claims),        cmocka_unit_test(test_scope),
        cmocka_unit_test(test_json_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
