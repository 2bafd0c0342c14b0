/* fuzz_jwt.c - libFuzzer target: token verification (tracker/access/jwt.c)
 * against a fixed trusted key set.
 *
 * Owns:   nothing. The keys are fixed here: an Ed25519 key (raw, from the
 *         seed below through crypto_sign_seed_keypair, checked at start), an
 *         HS256 secret, a P-256 and an RSA-2048 public JWK (made once with
 *         openssl; their private halves, for the seeds only, are in
 *         jwt-keys/), a revoked list (a jti and one more Ed25519 key's
 *         thumbprint), an issuer and an audience. The input is a mode byte, 4
 *         bytes (a little-endian int32 d: now = 1800000000 + 2 d,
 *         1891..2163), then by mode % 4: 0 the token as a client sends it;
 *         1 "header\nclaims" signed here by the trusted Ed25519 key, 2 the
 *         same by the HS256 secret, 3 "header\nclaims\nlink claims": a link
 *         signed by the trusted key is put in the header's wst_chain and the
 *         token is signed by a second Ed25519 key (from seed2), which the
 *         link must certify. Modes 1-3 let the fuzzer past the signatures,
 *         into the claims, scope and chain rules. Checks: every status is below JWT_STATUS_COUNT
 * with a reason; a JWT_OK verdict has exp + leeway > now, a well-formed scope (rooms already
 * hashed, counts within their caps, prefixes of 1..40 nibbles, containing itself), a NUL-terminated
 * sub, a grant that matches exactly what its scope matches; the same token verifies the same way
 * twice; an accepted token's signature or claims changed by one bit are refused (JWT_BAD_SIG for
 * the signature); the trusted element of an accepted token names the issuer and the audience and no
 * revoked jti. With FUZZ_JWT_EXPECT_OK=1 in the environment every input must give JWT_OK (run.sh
 * checks the seeds in corpus/jwt/ so).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "jwt.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_BASE 1800000000LL
#define LEEWAY   30
#define ISSUER   "https://auth.fuzz.example"
#define AUDIENCE "wstracker"

/* crypto_sign_seed_keypair(ED_SEED) gives ED_PK (checked at start). */
static const char ED_SEED[32] = "wstracker fuzz_jwt ed25519 seed1";
static const char ED_PK_HEX[] = "ef447bc895e53dad6a90dce1f54ebf616379f966cbe20a8e025b55351d951225";
/* Not trusted: what a mode-3 link certifies (its public JWK is in the seeds). */
static const char ED2_SEED[32] = "wstracker fuzz_jwt ed25519 seed2";
/* A trusted key whose thumbprint is revoked (seed "...seed3"). */
static const char ED_REVOKED_SEED[32] = "wstracker fuzz_jwt ed25519 seed3";
static const char HS_SECRET[] = "wstracker fuzz_jwt HS256 secret, 40 bytes";
static const char EC_JWK[] =
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec-fuzz\",\"alg\":\"ES256\","
    "\"x\":\"gnc5cLWGLqCEl9Zavwi9-jI7iLzi1lkufy7bXp471cM\","
    "\"y\":\"f7kaetCqnVxGQ8_3yzlTQLVT4dHDJ6HhI6OqwzqUuxU\"}";
static const char RSA_JWK[] =
    "{\"kty\":\"RSA\",\"kid\":\"rsa-fuzz\",\"e\":\"AQAB\",\"n\":"
    "\"0X81SJbPxOWgXGjv4CbSDAqr-HHGP_867r7PkileL_Mnif0SNQM0fHSMSGHlN9vgINGDOm_RxPpVKKD51m8aU5dxXO"
    "dvbC-gM00CuCl7ylF6MJtvdKdACvDeXbgLKchGZt8gmU9PqJAdQ1wVXo2dR5L8W1nMvHeF8Yt9bTkcFPkahU4XL17Rr2"
    "2zELGZMEcW_akvRmuh7BYDB9hr6qOGRCkr68td2IYKgYfA3hANpcACSPrXw8JG1NqX__MoeRaWVcCswuZRDNEmTDw7rl"
    "PAysOqipVSPLoRsyCrHcm_1xpv8OCtOtKXB2xDJORpPKoiKTrKlzEJThgJgstaevbVMQ\"}";

static struct jwt_keys keys;
static struct jwt_revoked revoked;
static struct jwt_policy pol;
static bool expect_ok;
static char tok[4 * JWS_TOKEN_MAX], mut[JWS_TOKEN_MAX + 1];
static uint8_t ed_sk[64], ed2_sk[64]; /* modes 1 and 3 sign with these */
static struct jwt_verdict v, v2;
static struct jws t;
static struct jwt_claims c;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[JWT_ERR_LEN], list[256], hex[65];
    uint8_t pk[32], sk[64];
    (void)argc;
    (void)argv;
    CHECK(sodium_init() >= 0);
    crypto_sign_seed_keypair(pk, ed_sk, (const uint8_t *)ED_SEED);
    sodium_bin2hex(hex, sizeof hex, pk, sizeof pk);
    CHECK(strcmp(hex, ED_PK_HEX) == 0);
    crypto_sign_seed_keypair(pk, ed2_sk, (const uint8_t *)ED2_SEED);
    CHECK(jwt_keys_add_pubkey(&keys, ED_PK_HEX, strlen(ED_PK_HEX), err) == 0);
    CHECK(jwt_keys_add_secret(&keys, (const uint8_t *)HS_SECRET, strlen(HS_SECRET), err) == 0);
    CHECK(jwt_keys_add_pubkey(&keys, EC_JWK, strlen(EC_JWK), err) == 0);
    CHECK(jwt_keys_add_pubkey(&keys, RSA_JWK, strlen(RSA_JWK), err) == 0);
    crypto_sign_seed_keypair(pk, sk, (const uint8_t *)ED_REVOKED_SEED);
    sodium_bin2hex(hex, sizeof hex, pk, sizeof pk);
    CHECK(jwt_keys_add_pubkey(&keys, hex, 64, err) == 0);
    CHECK(keys.n == 5 && keys.k[0].alg == JWS_ALG_EDDSA && keys.k[2].alg == JWS_ALG_ES256 &&
          keys.k[3].alg == JWS_ALG_RS256);
    snprintf(list, sizeof list, "revoked-jti\n%s # the seed3 key\n", keys.k[4].thumb);
    CHECK(jwt_revoked_parse(list, strlen(list), &revoked, err) == 0 && revoked.n == 2);
    pol.keys = &keys;
    pol.revoked = &revoked;
    pol.issuer = ISSUER;
    pol.audience = AUDIENCE;
    pol.leeway_s = LEEWAY;
    expect_ok = getenv("FUZZ_JWT_EXPECT_OK") != NULL;
    return 0;
}

static int b64_val(char ch)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *p = ch ? strchr(a, ch) : NULL;
    return p ? (int)(p - a) : -1;
}

/* tok with the top bit of the byte encoded by tok[at] flipped: at is the
 * first character of a part, whose 6 bits all belong to that part's first
 * decoded byte. */
static enum jwt_status verify_flipped(size_t len, size_t at, int64_t now)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int val = b64_val(tok[at]);
    CHECK(val >= 0);
    memcpy(mut, tok, len);
    mut[at] = a[val ^ 0x20];
    return jwt_verify(&pol, mut, len, now, &v2);
}

static void check_scope(const struct jwt_scope *s)
{
    struct jwt_grant *g;
    CHECK(s->n_rooms == 0); /* hashed into ih by the verifier */
    if (s->any) {
        CHECK(jwt_scope_has(s, (const uint8_t *)ED_SEED));
    } else {
        CHECK(s->n_ih <= JWT_SCOPE_MAX && s->n_prefix <= JWT_PREFIX_MAX);
        for (uint32_t k = 0; k < s->n_prefix; k++)
            CHECK(s->prefix[k].nibbles >= 1 && s->prefix[k].nibbles <= 40);
    }
    CHECK(jwt_scope_within(s, s));
    CHECK((g = jwt_grant_make(&v)) != NULL);
    CHECK(g->any == s->any && g->exp == v.exp);
    for (uint32_t k = 0; k < s->n_ih; k++)
        CHECK(jwt_grant_has(g, s->ih[k]) && jwt_scope_has(s, s->ih[k]));
    for (uint32_t k = 0; k < s->n_prefix; k++) {
        uint8_t ih[20];
        memcpy(ih, s->prefix[k].b, 20);
        CHECK(jwt_grant_has(g, ih) && jwt_scope_has(s, ih));
        ih[19] ^= 0x5a; /* past the prefix (at most 40 nibbles: the last ones) */
        CHECK(jwt_grant_has(g, ih) == jwt_scope_has(s, ih));
    }
    free(g);
}

/* What an accepted token's trusted element (the outermost link, or the
 * token when it has none) says. */
static void check_trusted_claims(size_t len)
{
    const char *p = tok;
    size_t l = len;
    bool aud = false;
    CHECK(jws_split(tok, len, &t) == JWS_OK);
    if (t.n_chain) {
        static char link[JWS_TOKEN_MAX];
        CHECK(t.chain[t.n_chain - 1].len < sizeof link);
        memcpy(link, t.chain[t.n_chain - 1].p, t.chain[t.n_chain - 1].len);
        p = link;
        l = t.chain[t.n_chain - 1].len;
        CHECK(jws_split(p, l, &t) == JWS_OK && t.n_chain == 0);
    }
    CHECK(jwt_claims_read(&t, &c) == JWT_CLAIMS_OK);
    CHECK(strcmp(c.iss, ISSUER) == 0);
    for (unsigned i = 0; i < c.n_aud; i++)
        aud = aud || strcmp(c.aud[i], AUDIENCE) == 0;
    CHECK(aud);
    CHECK(strcmp(c.jti, "revoked-jti") != 0);
    CHECK(c.has_exp && c.exp >= v.exp);
}

/* Append b64url(in[0..n)) to tok at *o. */
static void put_b64(size_t *o, const void *in, size_t n)
{
    long m = b64url_encode(in, n, tok + *o, sizeof tok - *o);
    CHECK(m >= 0);
    *o += (size_t)m;
}

/* Sign tok[0..o) (header "." claims) and append "." signature: Ed25519 with
 * sk, or HS256 when sk is NULL. */
static void put_sig(size_t *o, const uint8_t *sk)
{
    uint8_t sig[crypto_sign_BYTES];
    size_t n = sizeof sig;
    if (sk) {
        crypto_sign_detached(sig, NULL, (const uint8_t *)tok, *o, sk);
    } else {
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, (const uint8_t *)HS_SECRET, strlen(HS_SECRET));
        crypto_auth_hmacsha256_update(&st, (const uint8_t *)tok, *o);
        crypto_auth_hmacsha256_final(&st, sig);
        n = crypto_auth_hmacsha256_BYTES;
    }
    tok[(*o)++] = '.';
    put_b64(o, sig, n);
}

/* The token of modes 1-3 into tok: "header\nclaims" signed by the trusted
 * Ed25519 key (1) or the HS256 secret (2); "header\nclaims\nlink claims"
 * (3): a link {"alg":"EdDSA"} with those claims signed by the trusted
 * Ed25519 key, put first in the header's wst_chain, and the token signed by
 * the seed2 key (which a link must certify in its cnf.jwk). Returns the
 * length, or 0 when the input does not have the lines. */
static size_t build(unsigned mode, const uint8_t *in, size_t n)
{
    static char link[2 * JWS_TOKEN_MAX], hdr[3 * JWS_TOKEN_MAX];
    const uint8_t *nl = memchr(in, '\n', n), *nl2;
    size_t o = 0, hl, cl, ll = 0;
    if (!nl)
        return 0;
    hl = (size_t)(nl - in);
    cl = n - hl - 1;
    if (mode != 3) {
        put_b64(&o, in, hl);
        tok[o++] = '.';
        put_b64(&o, nl + 1, cl);
        put_sig(&o, mode == 1 ? ed_sk : NULL);
        return o;
    }
    if (!(nl2 = memchr(nl + 1, '\n', cl)) || hl < 2 || in[0] != '{')
        return 0;
    cl = (size_t)(nl2 - nl - 1);
    /* the link, in tok first, then kept */
    put_b64(&o, "{\"alg\":\"EdDSA\"}", 15);
    tok[o++] = '.';
    put_b64(&o, nl2 + 1, n - (size_t)(nl2 + 1 - in));
    put_sig(&o, ed_sk);
    if (o >= sizeof link)
        return 0;
    memcpy(link, tok, o);
    ll = o;
    /* {"wst_chain":["<link>"] then the rest of the fuzzer's header */
    o = (size_t)snprintf(hdr, sizeof hdr, "{\"wst_chain\":[\"%.*s\"]%s", (int)ll, link,
                         in[1] == '}' ? "" : ",");
    if (o + hl > sizeof hdr)
        return 0;
    memcpy(hdr + o, in + 1, hl - 1);
    hl = o + hl - 1;
    o = 0;
    put_b64(&o, hdr, hl);
    tok[o++] = '.';
    put_b64(&o, nl + 1, cl);
    put_sig(&o, ed2_sk);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int32_t d;
    int64_t now;
    size_t len;
    unsigned mode;
    enum jwt_status st, st2;
    const char *why;
    const char *d1, *d2;
    if (size < 5 || size - 5 > JWS_TOKEN_MAX + 16)
        return 0;
    mode = data[0] % 4;
    memcpy(&d, data + 1, 4);
    now = NOW_BASE + 2 * (int64_t)d;
    if (mode == 0) {
        len = size - 5;
        memcpy(tok, data + 5, len);
    } else if (!(len = build(mode, data + 5, size - 5))) {
        return 0;
    }
    if (len > JWS_TOKEN_MAX) { /* over the cap: refused */
        CHECK(jwt_verify(&pol, tok, len, now, &v) == JWT_MALFORMED);
        return 0;
    }
    tok[len] = '\0';
    memset(&v, 0xA5, sizeof v); /* a verdict must not depend on what was there */
    st = jwt_verify(&pol, tok, len, now, &v);
    CHECK((unsigned)st < JWT_STATUS_COUNT);
    why = jwt_status_reason(st);
    CHECK(why && why[0] && strcmp(why, "token invalid") != 0);
    if (expect_ok && st != JWT_OK) {
        fprintf(stderr, "fuzz_jwt: expected JWT_OK, got %s\n", why);
        abort();
    }
    if (st != JWT_OK)
        return 0;
    if (expect_ok)
        fprintf(stderr, "fuzz_jwt: JWT_OK (mode %u, %zu-byte token)\n", mode, len);
    CHECK(v.exp + LEEWAY > now);
    CHECK(memchr(v.sub, '\0', sizeof v.sub) != NULL);
    check_scope(&v.scope);
    /* the same again: the same answer (the verifier keeps no state) */
    st2 = jwt_verify(&pol, tok, len, now, &v2);
    CHECK(st2 == JWT_OK && v2.exp == v.exp && strcmp(v2.sub, v.sub) == 0 &&
          v2.scope.any == v.scope.any && v2.scope.n_ih == v.scope.n_ih &&
          memcmp(v2.scope.ih, v.scope.ih, v.scope.n_ih * 20) == 0);
    check_trusted_claims(len);
    /* one bit of the signature, then of the claims, changed: refused */
    d1 = memchr(tok, '.', len);
    CHECK(d1 != NULL);
    d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok));
    CHECK(d2 != NULL && d2 + 1 < tok + len && d1 + 1 < d2);
    CHECK(verify_flipped(len, (size_t)(d2 + 1 - tok), now) == JWT_BAD_SIG);
    CHECK(verify_flipped(len, (size_t)(d1 + 1 - tok), now) != JWT_OK);
    return 0;
}
