/* test_jwt.c - unit tests of tracker/access/jwt.c: token verification.
 *
 * Owns:   nothing; tokens signed here with real keys (Ed25519 and HMAC by
 *         libsodium, P-256 and RSA-2048 made and signed by OpenSSL), and the
 *         hostile ones of issue 12: expired, not yet valid, forged, alg none,
 *         HS256 signed with a public key, wrong kid, bad base64, truncated,
 *         huge header, wrong issuer or audience, revoked jti, and chains
 *         (valid, expired link, widened scope, wrong cnf, depth 3); JWKs
 *         with a member named twice; grants matching as scopes do.
 * Why:    a verifier that accepts one of these lets anyone into a private
 *         tracker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "jwt.h"

#define NOW 1900000000LL

static uint8_t ed_pk[32], ed_sk[64], ed2_pk[32], ed2_sk[64], ed3_pk[32], ed3_sk[64];
static const uint8_t hs_secret[] = "0123456789abcdef0123456789abcdef-secret";
static EVP_PKEY *ec, *rsa;
static char ecx[64], ecy[64]; /* the P-256 key's JWK coordinates */
static char tok[3 * JWS_TOKEN_MAX];

static long b64(const void *in, size_t len, char *out, size_t cap)
{
    long n = b64url_encode(in, len, out, cap);
    assert_true(n >= 0);
    return n;
}

static size_t evp_sign(EVP_PKEY *k, const char *msg, size_t ml, uint8_t *sig, size_t cap)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    size_t sl = cap;
    assert_int_equal(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestSign(m, sig, &sl, (const unsigned char *)msg, ml), 1);
    EVP_MD_CTX_free(m);
    return sl;
}

/* Sign header.payload with alg under key (an Ed25519 secret key, the HS256
 * secret, or an EVP_PKEY); returns the token in tok. */
static const char *sign(const char *alg, const void *key, const char *header_extra,
                        const char *payload)
{
    char header[JWS_HEADER_MAX];
    uint8_t sig[512];
    size_t o, sl = 0;
    snprintf(header, sizeof header, "{\"alg\":\"%s\"%s}", alg, header_extra ? header_extra : "");
    o = (size_t)b64(header, strlen(header), tok, sizeof tok);
    tok[o++] = '.';
    o += (size_t)b64(payload, strlen(payload), tok + o, sizeof tok - o);
    if (!strcmp(alg, "EdDSA")) {
        crypto_sign_detached(sig, NULL, (const uint8_t *)tok, o, key);
        sl = 64;
    } else if (!strcmp(alg, "HS256")) {
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, key, strlen(key));
        crypto_auth_hmacsha256_update(&st, (const uint8_t *)tok, o);
        crypto_auth_hmacsha256_final(&st, sig);
        sl = 32;
    } else if (!strcmp(alg, "RS256")) {
        sl = evp_sign((EVP_PKEY *)key, tok, o, sig, sizeof sig);
    } else if (!strcmp(alg, "ES256")) {
        uint8_t der[128];
        const unsigned char *p = der;
        size_t dl = evp_sign((EVP_PKEY *)key, tok, o, der, sizeof der);
        ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)dl);
        assert_non_null(s);
        BN_bn2binpad(ECDSA_SIG_get0_r(s), sig, 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(s), sig + 32, 32);
        ECDSA_SIG_free(s);
        sl = 64;
    } else {
        memcpy(sig, "x", 1);
        sl = 1;
    }
    tok[o++] = '.';
    b64(sig, sl, tok + o, sizeof tok - o);
    return tok;
}

static struct jwt_keys keys;
static struct jwt_revoked revoked;
static struct jwt_policy pol;
static struct jwt_verdict verdict;

static enum jwt_status check(const char *t)
{
    return jwt_verify(&pol, t, strlen(t), NOW, &verdict);
}

static void okp_jwk(const uint8_t pk[32], const char *kid, char *out, size_t cap)
{
    char x[64];
    b64(pk, 32, x, sizeof x);
    snprintf(out, cap, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"%s%s%s}", x,
             kid ? ",\"kid\":\"" : "", kid ? kid : "", kid ? "\"" : "");
}

static int setup(void **state)
{
    char err[JWT_ERR_LEN], jwks[4096], j1[256], rn[400], re[16];
    uint8_t buf[256];
    BIGNUM *x = NULL, *y = NULL;
    (void)state;
    assert_true(sodium_init() >= 0);
    crypto_sign_keypair(ed_pk, ed_sk);
    crypto_sign_keypair(ed2_pk, ed2_sk);
    crypto_sign_keypair(ed3_pk, ed3_sk);
    ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    assert_non_null(ec);
    assert_non_null(rsa);
    EVP_PKEY_get_bn_param(ec, OSSL_PKEY_PARAM_EC_PUB_X, &x);
    EVP_PKEY_get_bn_param(ec, OSSL_PKEY_PARAM_EC_PUB_Y, &y);
    BN_bn2binpad(x, buf, 32);
    b64(buf, 32, ecx, sizeof ecx);
    BN_bn2binpad(y, buf, 32);
    b64(buf, 32, ecy, sizeof ecy);
    BN_free(x);
    BN_free(y);
    x = y = NULL;
    EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_N, &x);
    EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_E, &y);
    b64(buf, (size_t)BN_bn2bin(x, buf), rn, sizeof rn);
    b64(buf, (size_t)BN_bn2bin(y, buf), re, sizeof re);
    BN_free(x);
    BN_free(y);
    okp_jwk(ed_pk, "ed-1", j1, sizeof j1);
    snprintf(jwks, sizeof jwks,
             "{\"keys\":[%s,"
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"ec-1\","
             "\"alg\":\"ES256\",\"use\":\"sig\"},"
             "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\",\"kid\":\"rsa-1\"},"
             "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\",\"use\":\"enc\"}]}",
             j1, ecx, ecy, rn, re, rn, re);
    assert_int_equal(jwt_keys_add_jwks(&keys, jwks, strlen(jwks), err), 0);
    assert_int_equal(keys.n, 3); /* the "enc" key is skipped */
    assert_int_equal(jwt_keys_add_secret(&keys, hs_secret, strlen((const char *)hs_secret), err),
                     0);
    {
        static const char list[] = "# revoked\nbad-jti\n  other  # comment\n";
        assert_int_equal(jwt_revoked_parse(list, strlen(list), &revoked, err), 0);
        assert_int_equal(revoked.n, 2);
    }
    pol.keys = &keys;
    pol.revoked = &revoked;
    pol.leeway_s = 30;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    jwt_keys_free(&keys);
    jwt_revoked_free(&revoked);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(rsa);
    return 0;
}

#define EXP_OK "{\"exp\":1900003600,\"sub\":\"alice\"}"

static void test_each_algorithm(void **state)
{
    (void)state;
    assert_int_equal(check(sign("EdDSA", ed_sk, ",\"kid\":\"ed-1\"", EXP_OK)), JWT_OK);
    assert_int_equal(verdict.exp, 1900003600);
    assert_string_equal(verdict.sub, "alice");
    assert_true(verdict.scope.any);
    assert_int_equal(check(sign("EdDSA", ed_sk, NULL, EXP_OK)), JWT_OK); /* no kid: tried */
    assert_int_equal(check(sign("ES256", ec, ",\"kid\":\"ec-1\"", EXP_OK)), JWT_OK);
    assert_int_equal(check(sign("RS256", rsa, ",\"kid\":\"rsa-1\"", EXP_OK)), JWT_OK);
    assert_int_equal(check(sign("HS256", hs_secret, NULL, EXP_OK)), JWT_OK);
}

static void test_times(void **state)
{
    (void)state;
    assert_int_equal(check(sign("EdDSA", ed_sk, NULL, "{\"exp\":1899999990}")),
                     JWT_OK); /* leeway */
    assert_int_equal(check(sign("EdDSA", ed_sk, NULL, "{\"exp\":1899999970}")), JWT_EXPIRED);
    assert_int_equal(check(sign("EdDSA", ed_sk, NULL, "{\"sub\":\"x\"}")), JWT_NO_EXP);
    assert_int_equal(check(sign("EdDSA", ed_sk, NULL, "{\"exp\":1900003600,\"nbf\":1900000020}")),
                     JWT_OK);
    assert_int_equal(check(sign("EdDSA", ed_sk, NULL, "{\"exp\":1900003600,\"nbf\":1900000031}")),
                     JWT_NOT_YET);
}

static void test_forged(void **state)
{
    char *dot;
    size_t n;
    (void)state;
    /* a flipped signature character */
    sign("EdDSA", ed_sk, NULL, EXP_OK);
    n = strlen(tok);
    tok[n - 2] = tok[n - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(check(tok), JWT_BAD_SIG);
    /* claims swapped under a valid signature */
    sign("EdDSA", ed_sk, NULL, EXP_OK);
    {
        char other[4 * JWS_TOKEN_MAX], sig[200];
        strcpy(sig, strrchr(tok, '.'));
        sign("EdDSA", ed2_sk, NULL, "{\"exp\":1900009999}");
        dot = strrchr(tok, '.');
        *dot = '\0';
        snprintf(other, sizeof other, "%s%s", tok, sig);
        assert_int_equal(check(other), JWT_BAD_SIG);
    }
    /* signed by a key nobody trusts */
    assert_int_equal(check(sign("EdDSA", ed2_sk, NULL, EXP_OK)), JWT_BAD_SIG);
    /* alg none, with and without a signature part */
    assert_int_equal(check(sign("none", NULL, NULL, EXP_OK)), JWT_ALG);
    /* algorithm confusion: HS256 keyed with the trusted Ed25519 public key */
    {
        char pk[33];
        struct jwt_keys only_ed = {0};
        struct jwt_policy p2 = pol;
        char err[JWT_ERR_LEN], jwk[256];
        okp_jwk(ed_pk, NULL, jwk, sizeof jwk);
        assert_int_equal(jwt_keys_add_pubkey(&only_ed, jwk, strlen(jwk), err), 0);
        p2.keys = &only_ed;
        memcpy(pk, ed_pk, 32);
        pk[32] = '\0';
        sign("HS256", pk, NULL, EXP_OK); /* strlen may stop early: still not an Ed25519 key */
        assert_int_equal(jwt_verify(&p2, tok, strlen(tok), NOW, &verdict), JWT_NO_KEY);
        jwt_keys_free(&only_ed);
    }
    /* wrong kid: the EdDSA key is "ed-1" */
    assert_int_equal(check(sign("EdDSA", ed_sk, ",\"kid\":\"ed-2\"", EXP_OK)), JWT_NO_KEY);
    /* ES256 token claiming the RSA key's kid */
    assert_int_equal(check(sign("ES256", ec, ",\"kid\":\"rsa-1\"", EXP_OK)), JWT_NO_KEY);
}

static void test_malformed(void **state)
{
    static char huge[JWS_HEADER_MAX + 100];
    (void)state;
    assert_int_equal(check("not a token"), JWT_MALFORMED);
    assert_int_equal(check("eyJhbGciOiJFZERTQSJ9.e30"), JWT_MALFORMED);     /* truncated */
    assert_int_equal(check("eyJhbGciOiJFZERTQSJ9=.e30.AA"), JWT_MALFORMED); /* bad base64 */
    sign("EdDSA", ed_sk, NULL, EXP_OK);
    strchr(tok, '.')[5] = '\0'; /* cut inside the claims: two parts */
    assert_int_equal(check(tok), JWT_MALFORMED);
    sign("EdDSA", ed_sk, NULL, EXP_OK);
    tok[strlen(tok) - 4] = '\0'; /* a signature cut short (3 bytes off): never valid */
    assert_true(check(tok) == JWT_MALFORMED || check(tok) == JWT_BAD_SIG);
    snprintf(huge, sizeof huge, ",\"pad\":\"%0*d\"", JWS_HEADER_MAX, 0);
    assert_int_equal(check(sign("EdDSA", ed_sk, huge, EXP_OK)), JWT_MALFORMED);
    assert_int_equal(check(sign("EdDSA", ed_sk, NULL, "{\"exp\":\"tomorrow\"}")), JWT_MALFORMED);
}

static void test_issuer_audience_revoked(void **state)
{
    struct jwt_policy saved = pol;
    (void)state;
    pol.issuer = "https://auth.example";
    pol.audience = "tracker";
    assert_int_equal(check(sign("EdDSA", ed_sk, NULL,
                                "{\"exp\":1900003600,\"iss\":\"https://auth.example\","
                                "\"aud\":[\"x\",\"tracker\"]}")),
                     JWT_OK);
    assert_int_equal(
        check(sign("EdDSA", ed_sk, NULL,
                   "{\"exp\":1900003600,\"iss\":\"https://evil.example\",\"aud\":\"tracker\"}")),
        JWT_ISSUER);
    assert_int_equal(
        check(sign("EdDSA", ed_sk, NULL, "{\"exp\":1900003600,\"iss\":\"https://auth.example\"}")),
        JWT_AUDIENCE);
    pol = saved;
    assert_int_equal(check(sign("EdDSA", ed_sk, NULL, "{\"exp\":1900003600,\"jti\":\"bad-jti\"}")),
                     JWT_REVOKED);
    assert_int_equal(check(sign("EdDSA", ed_sk, NULL, "{\"exp\":1900003600,\"jti\":\"good\"}")),
                     JWT_OK);
}

/* A chain link: signed by signer_sk (trusted key when trusted), certifying
 * the Ed25519 key pk, with the given extra claims. Copied into out. */
static void link(const uint8_t *signer_sk, const uint8_t pk[32], const char *claims, char *out,
                 size_t cap)
{
    char jwk[256], payload[1024];
    okp_jwk(pk, NULL, jwk, sizeof jwk);
    snprintf(payload, sizeof payload, "{%s,\"cnf\":{\"jwk\":%s}}", claims, jwk);
    snprintf(out, cap, "%s", sign("EdDSA", signer_sk, NULL, payload));
}

#define IH_A "0123456789abcdef0123456789abcdef01234567"

static void test_chains(void **state)
{
    char l1[2048], l2[2048], extra[3 * 2048 + 64];
    uint8_t ih[20];
    (void)state;
    sodium_hex2bin(ih, 20, IH_A, 40, NULL, NULL, NULL);
    /* trusted -> ed2: ed2 signs a narrower, shorter token */
    link(ed_sk, ed2_pk, "\"exp\":1900007200,\"wst\":{\"prefix\":[\"0123\"]}", l1, sizeof l1);
    snprintf(extra, sizeof extra, ",\"wst_chain\":[\"%s\"]", l1);
    assert_int_equal(
        check(sign("EdDSA", ed2_sk, extra, "{\"exp\":1900003600,\"wst\":{\"ih\":[\"" IH_A "\"]}}")),
        JWT_OK);
    assert_true(jwt_scope_has(&verdict.scope, ih));
    assert_int_equal(verdict.exp, 1900003600);
    /* widened scope */
    assert_int_equal(check(sign("EdDSA", ed2_sk, extra, "{\"exp\":1900003600}")), JWT_CHAIN_SCOPE);
    /* outlives the link */
    assert_int_equal(
        check(sign("EdDSA", ed2_sk, extra, "{\"exp\":1900009000,\"wst\":{\"ih\":[\"" IH_A "\"]}}")),
        JWT_CHAIN_EXP);
    /* wrong cnf: signed by ed3, which the link does not certify */
    assert_int_equal(
        check(sign("EdDSA", ed3_sk, extra, "{\"exp\":1900003600,\"wst\":{\"ih\":[\"" IH_A "\"]}}")),
        JWT_BAD_SIG);
    /* expired link */
    link(ed_sk, ed2_pk, "\"exp\":1899990000", l1, sizeof l1);
    snprintf(extra, sizeof extra, ",\"wst_chain\":[\"%s\"]", l1);
    assert_int_equal(check(sign("EdDSA", ed2_sk, extra, "{\"exp\":1899990000}")), JWT_EXPIRED);
    /* link not signed by a trusted key */
    link(ed3_sk, ed2_pk, "\"exp\":1900007200", l1, sizeof l1);
    snprintf(extra, sizeof extra, ",\"wst_chain\":[\"%s\"]", l1);
    assert_int_equal(check(sign("EdDSA", ed2_sk, extra, "{\"exp\":1900003600}")), JWT_BAD_SIG);
    /* two links: trusted -> ed3 -> ed2 -> token; rooms hash to SHA-1 */
    link(ed_sk, ed3_pk, "\"exp\":1900007200,\"wst\":{\"rooms\":[\"lobby\"]}", l2, sizeof l2);
    link(ed3_sk, ed2_pk, "\"exp\":1900007000,\"wst\":{\"rooms\":[\"lobby\"]}", l1, sizeof l1);
    snprintf(extra, sizeof extra, ",\"wst_chain\":[\"%s\",\"%s\"]", l1, l2);
    assert_int_equal(
        check(sign("EdDSA", ed2_sk, extra, "{\"exp\":1900003600,\"wst\":{\"rooms\":[\"lobby\"]}}")),
        JWT_OK);
    {
        uint8_t want[20];
        unsigned int ml = 0;
        EVP_Digest("lobby", 5, want, &ml, EVP_sha1(), NULL);
        assert_true(jwt_scope_has(&verdict.scope, want));
        assert_false(jwt_scope_has(&verdict.scope, ih));
    }
    /* depth 3 */
    snprintf(extra, sizeof extra, ",\"wst_chain\":[\"%s\",\"%s\",\"%s\"]", l1, l2, l2);
    assert_int_equal(check(sign("EdDSA", ed2_sk, extra, "{\"exp\":1900003600}")), JWT_CHAIN_DEPTH);
    /* a link without cnf */
    snprintf(l1, sizeof l1, "%s", sign("EdDSA", ed_sk, NULL, "{\"exp\":1900007200}"));
    snprintf(extra, sizeof extra, ",\"wst_chain\":[\"%s\"]", l1);
    assert_int_equal(check(sign("EdDSA", ed2_sk, extra, "{\"exp\":1900003600}")), JWT_CHAIN);
}

/* A JWK naming a member twice is refused with the member's name: json_member
 * reads a duplicate as -1, which the old code took for "absent" (kid, alg:
 * the alg check skipped) or blamed on the wrong thing (x). */
static void test_jwk_duplicates(void **state)
{
    static const char *const dup[] = {
        ",\"kid\":\"a\",\"kid\":\"b\"",
        ",\"alg\":\"EdDSA\",\"alg\":\"RS256\"",
        NULL, /* x again */
        ",\"kty\":\"EC\"",
    };
    static const char *const names[] = {"\"kid\"", "\"alg\"", "\"x\"", "\"kty\""};
    char x[64], extra[128], jwk[512], jwks[700], err[JWT_ERR_LEN];
    struct jwt_keys ks = {0};
    (void)state;
    b64(ed_pk, 32, x, sizeof x);
    for (size_t i = 0; i < sizeof dup / sizeof *dup; i++) {
        snprintf(extra, sizeof extra, ",\"x\":\"%s\"", x);
        snprintf(jwk, sizeof jwk, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"%s}", x,
                 dup[i] ? dup[i] : extra);
        err[0] = '\0';
        assert_int_equal(jwt_keys_add_pubkey(&ks, jwk, strlen(jwk), err), -1);
        assert_non_null(strstr(err, "appears more than once"));
        assert_non_null(strstr(err, names[i]));
        snprintf(jwks, sizeof jwks, "{\"keys\":[%s]}", jwk);
        assert_int_equal(jwt_keys_add_jwks(&ks, jwks, strlen(jwks), err), -1);
        assert_non_null(strstr(err, "appears more than once"));
        assert_int_equal(ks.n, 0);
    }
    /* "use" twice: neither skipped as "enc" nor taken as "sig" */
    snprintf(jwks, sizeof jwks,
             "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\",\"use\":\"enc\","
             "\"use\":\"sig\"}]}",
             x);
    assert_int_equal(jwt_keys_add_jwks(&ks, jwks, strlen(jwks), err), -1);
    assert_non_null(strstr(err, "\"use\" appears more than once"));
    /* the same JWK with each member once is taken */
    snprintf(jwk, sizeof jwk, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\",\"kid\":\"a\"}",
             x);
    assert_int_equal(jwt_keys_add_pubkey(&ks, jwk, strlen(jwk), err), 0);
    assert_string_equal(ks.k[0].kid, "a");
    jwt_keys_free(&ks);
    /* a chain link whose cnf.jwk names alg twice: the chain is refused */
    {
        char l1[2048], hdr[2200], payload[1024];
        (void)b64(ed2_pk, 32, x, sizeof x);
        snprintf(payload, sizeof payload,
                 "{\"exp\":1900007200,\"cnf\":{\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                 "\"x\":\"%s\",\"alg\":\"EdDSA\",\"alg\":\"HS256\"}}}",
                 x);
        snprintf(l1, sizeof l1, "%s", sign("EdDSA", ed_sk, NULL, payload));
        snprintf(hdr, sizeof hdr, ",\"wst_chain\":[\"%s\"]", l1);
        assert_int_equal(check(sign("EdDSA", ed2_sk, hdr, "{\"exp\":1900003600}")), JWT_CHAIN);
    }
}

/* A grant matches exactly as the scope it was made from (one helper now):
 * odd-length prefixes compare the high nibble only, an exact hash all 20
 * bytes, and an empty non-any scope matches nothing. */
static void test_grant_matches_scope(void **state)
{
    static const char *const probe[] = {
        IH_A,
        "0123456789abcdef0123456789abcdef01234566", /* last byte differs */
        "abc0000000000000000000000000000000000000", /* prefix "abc" */
        "abcf000000000000000000000000000000000000", /* low nibble after it: still "abc" */
        "abd0000000000000000000000000000000000000", /* third nibble differs */
        "ab00000000000000000000000000000000000000",
        "ffffffffffffffffffffffffffffffffffffffff",
    };
    static const bool want[] = {true, false, true, true, false, false, false};
    uint8_t ih[20];
    struct jwt_grant *g;
    (void)state;
    assert_int_equal(
        check(sign("EdDSA", ed_sk, NULL,
                   "{\"exp\":1900003600,\"wst\":{\"ih\":[\"" IH_A "\"],\"prefix\":[\"abc\"]}}")),
        JWT_OK);
    assert_non_null(g = jwt_grant_make(&verdict));
    assert_int_equal(g->n_ih, 1);
    assert_int_equal(g->n_prefix, 1);
    for (size_t i = 0; i < sizeof probe / sizeof *probe; i++) {
        sodium_hex2bin(ih, 20, probe[i], 40, NULL, NULL, NULL);
        assert_int_equal(jwt_grant_has(g, ih), want[i]);
        assert_int_equal(jwt_scope_has(&verdict.scope, ih), want[i]);
    }
    free(g);
    /* "wst":{} lists nothing: nothing is granted */
    assert_int_equal(check(sign("EdDSA", ed_sk, NULL, "{\"exp\":1900003600,\"wst\":{}}")), JWT_OK);
    assert_false(verdict.scope.any);
    assert_non_null(g = jwt_grant_make(&verdict));
    for (size_t i = 0; i < sizeof probe / sizeof *probe; i++) {
        sodium_hex2bin(ih, 20, probe[i], 40, NULL, NULL, NULL);
        assert_false(jwt_grant_has(g, ih));
    }
    free(g);
    /* no "wst": any */
    assert_int_equal(check(sign("EdDSA", ed_sk, NULL, EXP_OK)), JWT_OK);
    assert_non_null(g = jwt_grant_make(&verdict));
    assert_true(jwt_grant_has(g, ih));
    free(g);
}

/* Links are allocated per call now: a link that certifies a P-256 key (an
 * EVP_PKEY to free) followed by a malformed one is refused and frees what
 * it made (LeakSanitizer in tests/sanitize.sh); the same first link alone,
 * used, verifies. */
static void test_chain_scratch(void **state)
{
    char payload[512], l1[2048], extra[3 * 2048 + 64];
    (void)state;
    snprintf(payload, sizeof payload,
             "{\"exp\":1900007200,\"cnf\":{\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\","
             "\"x\":\"%s\",\"y\":\"%s\"}}}",
             ecx, ecy);
    snprintf(l1, sizeof l1, "%s", sign("EdDSA", ed_sk, NULL, payload));
    snprintf(extra, sizeof extra, ",\"wst_chain\":[\"%s\"]", l1);
    assert_int_equal(check(sign("ES256", ec, extra, "{\"exp\":1900003600,\"sub\":\"bob\"}")),
                     JWT_OK);
    assert_string_equal(verdict.sub, "bob");
    snprintf(extra, sizeof extra, ",\"wst_chain\":[\"%s\",\"eyJhbGciOiJFZERTQSJ9.e30.AA\"]", l1);
    assert_int_equal(check(sign("ES256", ec, extra, "{\"exp\":1900003600}")), JWT_CHAIN);
    /* the longest chain verifies as before (two links) and a third is refused */
    snprintf(extra, sizeof extra, ",\"wst_chain\":[\"%s\",\"%s\",\"%s\"]", l1, l1, l1);
    assert_int_equal(check(sign("ES256", ec, extra, "{\"exp\":1900003600}")), JWT_CHAIN_DEPTH);
}

static void test_key_files(void **state)
{
    struct jwt_keys ks = {0};
    char err[JWT_ERR_LEN], hex[65], pem[4096];
    BIO *bio = BIO_new(BIO_s_mem());
    long n;
    (void)state;
    sodium_bin2hex(hex, sizeof hex, ed_pk, 32);
    assert_int_equal(jwt_keys_add_pubkey(&ks, hex, 64, err), 0);
    assert_int_equal(ks.k[0].alg, JWS_ALG_EDDSA);
    PEM_write_bio_PUBKEY(bio, ec);
    n = BIO_read(bio, pem, sizeof pem - 1);
    pem[n] = '\0';
    assert_int_equal(jwt_keys_add_pubkey(&ks, pem, (size_t)n, err), 0);
    assert_int_equal(ks.k[1].alg, JWS_ALG_ES256);
    assert_int_equal(jwt_keys_add_pubkey(&ks, "nonsense", 8, err), -1);
    assert_int_equal(jwt_keys_add_secret(&ks, (const uint8_t *)"short", 5, err), -1);
    {
        static const char p384[] = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\"}]}";
        assert_int_equal(jwt_keys_add_jwks(&ks, p384, strlen(p384), err), -1);
    }
    assert_non_null(strstr(err, "P-256"));
    {
        struct jwt_policy p2 = {.keys = &ks, .leeway_s = 0};
        sign("ES256", ec, ",\"kid\":\"whatever\"", EXP_OK); /* a PEM key has no kid: tried */
        assert_int_equal(jwt_verify(&p2, tok, strlen(tok), NOW, &verdict), JWT_OK);
    }
    BIO_free(bio);
    jwt_keys_free(&ks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_algorithm),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_forged),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_issuer_audience_revoked),
        cmocka_unit_test(test_chains),
        cmocka_unit_test(test_key_files),
        cmocka_unit_test(test_jwk_duplicates),
        cmocka_unit_test(test_grant_matches_scope),
        cmocka_unit_test(test_chain_scratch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
