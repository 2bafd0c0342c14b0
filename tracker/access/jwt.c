/* jwt.c - access tokens: keys, signatures, claims and delegation chains.
 *
 * Owns:   the trusted key set, the revoked list and jwt_verify (jwt.h).
 * Thread: key sets and revoked lists are built by main and only read after;
 *         jwt_verify may run on any worker at once (its scratch is its own).
 * Why:    a token is parsed by proto/jws.c; here each part is checked in an
 *         order that never trusts an unverified byte for a decision other
 *         than which key to try: the outermost signature (a trusted key's)
 *         first, then each link inward with the key its outer link certified.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "jwt.h"

static int fail(char *err, const char *msg)
{
    snprintf(err, JWT_ERR_LEN, "%s", msg);
    ERR_clear_error();
    return -1;
}

/* ---- keys ---- */

/* The thumbprint of a key given its RFC 7638 member text. */
static void thumb_of(struct jwt_key *k, const char *members)
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const uint8_t *)members, strlen(members));
    (void)b64url_encode(h, sizeof h, k->thumb, sizeof k->thumb);
}

/* A base64url member of a JWK into out (exactly want bytes, or 1..cap when
 * want is 0); its text (as given) into txt. Returns the length or -1. */
static long member_b64(const struct json_val *jwk, const char *name, uint8_t *out, size_t cap,
                       size_t want, char *txt, size_t txt_cap)
{
    struct json_val v;
    long n, t;
    if (json_member(jwk, name, &v) != 1 || (t = json_string(&v, txt, txt_cap)) <= 0)
        return -1;
    n = b64url_decode(txt, (size_t)t, out, cap);
    if (n <= 0 || (want && (size_t)n != want))
        return -1;
    return n;
}

static EVP_PKEY *evp_from(const char *type, OSSL_PARAM_BLD *b)
{
    OSSL_PARAM *params = b ? OSSL_PARAM_BLD_to_param(b) : NULL;
    EVP_PKEY_CTX *ctx = params ? EVP_PKEY_CTX_new_from_name(NULL, type, NULL) : NULL;
    EVP_PKEY_CTX *chk = NULL;
    EVP_PKEY *pkey = NULL;
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    if (pkey && (!(chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) ||
                 EVP_PKEY_public_check(chk) != 1)) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(chk);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    return pkey;
}

static EVP_PKEY *ec_key(const uint8_t x[32], const uint8_t y[32])
{
    uint8_t pub[65];
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    pub[0] = 4;
    memcpy(pub + 1, x, 32);
    memcpy(pub + 33, y, 32);
    if (b && (!OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
              !OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub))) {
        OSSL_PARAM_BLD_free(b);
        return NULL;
    }
    return evp_from("EC", b);
}

static EVP_PKEY *rsa_key(const uint8_t *n, size_t nl, const uint8_t *e, size_t el)
{
    BIGNUM *bn = BN_bin2bn(n, (int)nl, NULL), *be = BN_bin2bn(e, (int)el, NULL);
    OSSL_PARAM_BLD *b = bn && be ? OSSL_PARAM_BLD_new() : NULL;
    EVP_PKEY *k = NULL;
    if (b && OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be))
        k = evp_from("RSA", b);
    else
        OSSL_PARAM_BLD_free(b);
    BN_free(bn);
    BN_free(be);
    if (k && EVP_PKEY_get_bits(k) < JWT_RSA_MIN) {
        EVP_PKEY_free(k);
        k = NULL;
    }
    return k;
}

/* Every member jwt_key_from_jwk (or a JWK Set's reader) looks at. */
static const char *const jwk_members[] = {"kty", "kid", "alg", "use", "crv",
                                          "x",   "y",   "n",   "e",   "k"};

int jwt_key_from_jwk(const struct json_val *jwk, struct jwt_key *k, char *err)
{
    uint8_t nbuf[1024]; /* RSA-8192 at most */
    char a[1400], b[64], members[1600];
    uint8_t x[32], y[32], e[8];
    struct json_val v;
    long n, el;
    memset(k, 0, sizeof *k);
    if (jwk->type != JSON_OBJECT)
        return fail(err, "a JWK must be an object");
    /* json_member gives -1 for a member named twice: refused here, or a
     * second "alg" or "kid" would be read as absent and its check skipped */
    for (size_t i = 0; i < sizeof jwk_members / sizeof *jwk_members; i++)
        if (json_member(jwk, jwk_members[i], &v) < 0) {
            snprintf(err, JWT_ERR_LEN, "JWK member \"%s\" appears more than once", jwk_members[i]);
            return -1;
        }
    if (json_member(jwk, "kid", &v) == 1 && json_string(&v, k->kid, sizeof k->kid) < 0)
        return fail(err, "JWK kid: not a string of at most 128 bytes");
    if (json_member(jwk, "kty", &v) != 1)
        return fail(err, "JWK without kty");
    /* a public key's JWK has no "d": one that has is a private key file given where
     * the public half belongs (a tracker needs only that; a link must not carry it) */
    if (!json_string_is(&v, "oct") && json_member(jwk, "d", &v) != 0)
        return fail(err, "JWK holds a private key (d): give the public JWK");
    (void)json_member(jwk, "kty", &v);
    if (json_string_is(&v, "OKP")) {
        if (json_member(jwk, "crv", &v) != 1 || !json_string_is(&v, "Ed25519"))
            return fail(err, "OKP JWK: only crv Ed25519 is accepted");
        if (member_b64(jwk, "x", k->ed, sizeof k->ed, 32, a, sizeof a) < 0)
            return fail(err, "Ed25519 JWK: x must be 32 bytes of base64url");
        k->alg = JWS_ALG_EDDSA;
        snprintf(members, sizeof members, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}", a);
    } else if (json_string_is(&v, "EC")) {
        if (json_member(jwk, "crv", &v) != 1 || !json_string_is(&v, "P-256"))
            return fail(err, "EC JWK: only crv P-256 is accepted");
        if (member_b64(jwk, "x", x, 32, 32, a, 64) < 0 ||
            member_b64(jwk, "y", y, 32, 32, b, 64) < 0)
            return fail(err, "P-256 JWK: x and y must be 32 bytes of base64url each");
        if (!(k->pkey = ec_key(x, y)))
            return fail(err, "P-256 JWK: not a point on the curve");
        k->alg = JWS_ALG_ES256;
        snprintf(members, sizeof members,
                 "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", a, b);
    } else if (json_string_is(&v, "RSA")) {
        if ((n = member_b64(jwk, "n", nbuf, sizeof nbuf, 0, a, sizeof a)) < 0 ||
            (el = member_b64(jwk, "e", e, sizeof e, 0, b, sizeof b)) < 0)
            return fail(err, "RSA JWK: n and e must be base64url (n at most 8192 bits)");
        if (!(k->pkey = rsa_key(nbuf, (size_t)n, e, (size_t)el)))
            return fail(err, "RSA JWK: not a valid key of at least 2048 bits");
        k->alg = JWS_ALG_RS256;
        snprintf(members, sizeof members, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", b, a);
    } else if (json_string_is(&v, "oct")) {
        if ((n = member_b64(jwk, "k", nbuf, sizeof nbuf, 0, a, sizeof a)) < JWT_HS256_MIN)
            return fail(err, "oct JWK: k must be at least 32 bytes of base64url");
        if (!(k->secret = malloc((size_t)n)))
            return fail(err, "out of memory");
        memcpy(k->secret, nbuf, (size_t)n);
        k->secret_len = (size_t)n;
        k->alg = JWS_ALG_HS256;
        snprintf(members, sizeof members, "{\"k\":\"%s\",\"kty\":\"oct\"}", a);
    } else {
        return fail(err, "JWK kty must be OKP, EC, RSA or oct");
    }
    thumb_of(k, members);
    if (json_member(jwk, "alg", &v) == 1) {
        static const char *const names[] = {[JWS_ALG_EDDSA] = "EdDSA",
                                            [JWS_ALG_HS256] = "HS256",
                                            [JWS_ALG_ES256] = "ES256",
                                            [JWS_ALG_RS256] = "RS256"};
        if (!json_string_is(&v, names[k->alg]) &&
            !(k->alg == JWS_ALG_EDDSA && json_string_is(&v, "Ed25519"))) {
            jwt_key_free(k);
            return fail(err, "JWK alg does not match its key type");
        }
    }
    return 0;
}

void jwt_key_free(struct jwt_key *k)
{
    EVP_PKEY_free(k->pkey);
    if (k->secret)
        sodium_memzero(k->secret, k->secret_len);
    free(k->secret);
    memset(k, 0, sizeof *k);
}

void jwt_keys_free(struct jwt_keys *ks)
{
    for (unsigned i = 0; i < ks->n; i++)
        jwt_key_free(&ks->k[i]);
    ks->n = 0;
}

static struct jwt_key *next_slot(struct jwt_keys *ks, char *err)
{
    if (ks->n == JWT_KEYS_MAX) {
        (void)fail(err, "more than 64 trusted keys");
        return NULL;
    }
    return &ks->k[ks->n];
}

int jwt_keys_add_jwks(struct jwt_keys *ks, const char *text, size_t len, char *err)
{
    struct json_val set, keys, jwk, use;
    struct json_iter it;
    char why[JWT_ERR_LEN];
    unsigned idx = 0;
    if (json_parse(text, len, &set) != 0 || json_member(&set, "keys", &keys) != 1 ||
        keys.type != JSON_ARRAY)
        return fail(err, "not a JWK Set (an object with a \"keys\" array)");
    json_iter_init(&it, &keys);
    while (json_next(&it, &jwk)) {
        struct jwt_key *k = next_slot(ks, err);
        idx++;
        if (!k)
            return -1;
        /* keys for encryption are not ours to judge: skipped */
        if (json_member(&jwk, "use", &use) == 1 && !json_string_is(&use, "sig"))
            continue;
        if (jwt_key_from_jwk(&jwk, k, why) != 0) {
            snprintf(err, JWT_ERR_LEN, "key %u: %.120s", idx, why);
            return -1;
        }
        ks->n++;
    }
    return ks->n ? 0 : fail(err, "no signing key in the JWK Set");
}

static int pem_key(struct jwt_key *k, const char *text, size_t len, char *err)
{
    BIO *bio = BIO_new_mem_buf(text, (int)len);
    EVP_PKEY *p = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    char members[1600], a[1400], b[64];
    uint8_t buf[1024];
    size_t rl = 32;
    BIGNUM *x = NULL, *y = NULL;
    char group[32];
    int ok = 0;
    BIO_free(bio);
    memset(k, 0, sizeof *k);
    if (!p)
        return fail(err, "not a PEM public key");
    switch (EVP_PKEY_get_base_id(p)) {
    case EVP_PKEY_ED25519:
        if (EVP_PKEY_get_raw_public_key(p, k->ed, &rl) == 1 && rl == 32) {
            k->alg = JWS_ALG_EDDSA;
            (void)b64url_encode(k->ed, 32, a, sizeof a);
            snprintf(members, sizeof members, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}",
                     a);
            ok = 1;
        }
        EVP_PKEY_free(p);
        break;
    case EVP_PKEY_EC:
        if (EVP_PKEY_get_utf8_string_param(p, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                           NULL) == 1 &&
            strcmp(group, "prime256v1") == 0 &&
            EVP_PKEY_get_bn_param(p, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
            EVP_PKEY_get_bn_param(p, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1 &&
            BN_bn2binpad(x, buf, 32) == 32 && BN_bn2binpad(y, buf + 32, 32) == 32) {
            (void)b64url_encode(buf, 32, a, sizeof a);
            (void)b64url_encode(buf + 32, 32, b, sizeof b);
            snprintf(members, sizeof members,
                     "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", a, b);
            k->alg = JWS_ALG_ES256;
            k->pkey = p;
            ok = 1;
        } else {
            EVP_PKEY_free(p);
        }
        break;
    case EVP_PKEY_RSA:
        if (EVP_PKEY_get_bits(p) >= JWT_RSA_MIN &&
            EVP_PKEY_get_bn_param(p, OSSL_PKEY_PARAM_RSA_N, &x) == 1 &&
            EVP_PKEY_get_bn_param(p, OSSL_PKEY_PARAM_RSA_E, &y) == 1 && BN_num_bytes(x) <= 1024 &&
            BN_num_bytes(y) <= 8) {
            int nl = BN_bn2bin(x, buf);
            (void)b64url_encode(buf, (size_t)nl, a, sizeof a);
            nl = BN_bn2bin(y, buf);
            (void)b64url_encode(buf, (size_t)nl, b, sizeof b);
            snprintf(members, sizeof members, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", b, a);
            k->alg = JWS_ALG_RS256;
            k->pkey = p;
            ok = 1;
        } else {
            EVP_PKEY_free(p);
        }
        break;
    default: EVP_PKEY_free(p); break;
    }
    BN_free(x);
    BN_free(y);
    if (!ok)
        return fail(err, "PEM key: only Ed25519, P-256 and RSA (>= 2048 bits) are accepted");
    thumb_of(k, members);
    return 0;
}

int jwt_keys_add_pubkey(struct jwt_keys *ks, const char *text, size_t len, char *err)
{
    struct jwt_key *k = next_slot(ks, err);
    struct json_val jwk;
    uint8_t raw[48];
    char a[64], members[160];
    size_t b = 0, e = len;
    if (!k)
        return -1;
    while (b < e && isspace((unsigned char)text[b]))
        b++;
    while (e > b && isspace((unsigned char)text[e - 1]))
        e--;
    if (e - b > 11 && memcmp(text + b, "-----BEGIN ", 11) == 0) {
        if (pem_key(k, text, len, err) != 0)
            return -1;
    } else if (e > b && text[b] == '{') {
        if (json_parse(text + b, e - b, &jwk) != 0)
            return fail(err, "not valid JSON");
        if (jwt_key_from_jwk(&jwk, k, err) != 0)
            return -1;
    } else {
        memset(k, 0, sizeof *k);
        if (e - b == 64) {
            for (size_t i = 0; i < 32; i++) {
                unsigned v;
                if (!isxdigit((unsigned char)text[b + 2 * i]) ||
                    !isxdigit((unsigned char)text[b + 2 * i + 1]) ||
                    sscanf(text + b + 2 * i, "%2x", &v) != 1)
                    return fail(err, "not a PEM key, a JWK, or 32 bytes in hex or base64url");
                raw[i] = (uint8_t)v;
            }
        } else if (e - b != 43 || b64url_decode(text + b, 43, raw, sizeof raw) != 32) {
            return fail(err, "not a PEM key, a JWK, or 32 bytes in hex or base64url");
        }
        memcpy(k->ed, raw, 32);
        k->alg = JWS_ALG_EDDSA;
        (void)b64url_encode(raw, 32, a, sizeof a);
        snprintf(members, sizeof members, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}", a);
        thumb_of(k, members);
    }
    ks->n++;
    return 0;
}

int jwt_keys_add_secret(struct jwt_keys *ks, const uint8_t *secret, size_t len, char *err)
{
    struct jwt_key *k = next_slot(ks, err);
    if (!k)
        return -1;
    if (len < JWT_HS256_MIN)
        return fail(err, "an HS256 secret must be at least 32 bytes");
    memset(k, 0, sizeof *k);
    if (!(k->secret = malloc(len)))
        return fail(err, "out of memory");
    memcpy(k->secret, secret, len);
    k->secret_len = len;
    k->alg = JWS_ALG_HS256;
    ks->n++;
    return 0;
}

/* ---- revoked ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int jwt_revoked_parse(const char *text, size_t len, struct jwt_revoked *out, char *err)
{
    size_t i = 0, cap = 0;
    unsigned line = 0;
    memset(out, 0, sizeof *out);
    while (i < len) {
        size_t s = i, e;
        char **grown;
        line++;
        while (i < len && text[i] != '\n')
            i++;
        e = i++;
        for (size_t h = s; h < e; h++)
            if (text[h] == '#')
                e = h;
        while (s < e && isspace((unsigned char)text[s]))
            s++;
        while (e > s && isspace((unsigned char)text[e - 1]))
            e--;
        if (s == e)
            continue;
        if (e - s >= JWT_CLAIM_STRMAX || memchr(text + s, '\0', e - s)) {
            jwt_revoked_free(out);
            snprintf(err, JWT_ERR_LEN, "line %u: longer than %d bytes", line, JWT_CLAIM_STRMAX - 1);
            return -1;
        }
        if (out->n == cap) {
            cap = cap ? 2 * cap : 16;
            if (!(grown = realloc(out->items, cap * sizeof *grown))) {
                jwt_revoked_free(out);
                return fail(err, "out of memory");
            }
            out->items = grown;
        }
        if (!(out->items[out->n] = strndup(text + s, e - s))) {
            jwt_revoked_free(out);
            return fail(err, "out of memory");
        }
        out->n++;
    }
    if (out->n)
        qsort(out->items, out->n, sizeof *out->items, cmp_str);
    return 0;
}

bool jwt_revoked_has(const struct jwt_revoked *r, const char *s)
{
    if (!r || !r->n || !s[0])
        return false;
    return bsearch(&s, r->items, r->n, sizeof *r->items, cmp_str) != NULL;
}

void jwt_revoked_free(struct jwt_revoked *r)
{
    for (unsigned i = 0; i < r->n; i++)
        free(r->items[i]);
    free(r->items);
    memset(r, 0, sizeof *r);
}

/* ---- verification ---- */

const char *jwt_status_reason(enum jwt_status st)
{
    static const char *const reasons[JWT_STATUS_COUNT] = {
        [JWT_OK] = "ok",
        [JWT_MALFORMED] = "token malformed",
        [JWT_ALG] = "token algorithm not accepted",
        [JWT_NO_KEY] = "token key not trusted",
        [JWT_BAD_SIG] = "token signature invalid",
        [JWT_NO_EXP] = "token has no exp",
        [JWT_EXPIRED] = "token expired",
        [JWT_NOT_YET] = "token not yet valid",
        [JWT_ISSUER] = "token issuer not accepted",
        [JWT_AUDIENCE] = "token audience not accepted",
        [JWT_REVOKED] = "token revoked",
        [JWT_CHAIN] = "token chain invalid",
        [JWT_CHAIN_DEPTH] = "token chain too long",
        [JWT_CHAIN_SCOPE] = "token scope wider than its chain",
        [JWT_CHAIN_EXP] = "token outlives its chain",
    };
    return (unsigned)st < JWT_STATUS_COUNT ? reasons[st] : "token invalid";
}

static bool evp_verify(EVP_PKEY *k, const uint8_t *sig, size_t sl, const char *msg, size_t ml)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    bool ok = m && EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, k) == 1 &&
              EVP_DigestVerify(m, sig, sl, (const unsigned char *)msg, ml) == 1;
    EVP_MD_CTX_free(m);
    ERR_clear_error();
    return ok;
}

/* JWS ES256 signatures are r || s (RFC 7518 3.4); EVP wants DER. */
static bool es256_verify(EVP_PKEY *k, const uint8_t *sig, size_t sl, const char *msg, size_t ml)
{
    ECDSA_SIG *s;
    BIGNUM *r, *ss;
    unsigned char *der = NULL;
    int dl;
    bool ok = false;
    if (sl != 64 || !(s = ECDSA_SIG_new()))
        return false;
    r = BN_bin2bn(sig, 32, NULL);
    ss = BN_bin2bn(sig + 32, 32, NULL);
    if (r && ss && ECDSA_SIG_set0(s, r, ss) == 1) {
        r = ss = NULL; /* owned by s */
        if ((dl = i2d_ECDSA_SIG(s, &der)) > 0)
            ok = evp_verify(k, der, (size_t)dl, msg, ml);
    }
    BN_free(r);
    BN_free(ss);
    ECDSA_SIG_free(s);
    OPENSSL_free(der);
    ERR_clear_error();
    return ok;
}

static bool key_verifies(const struct jwt_key *k, const struct jws *t)
{
    if (k->alg != t->alg)
        return false;
    switch (t->alg) {
    case JWS_ALG_EDDSA:
        return t->sig_len == crypto_sign_BYTES &&
               crypto_sign_verify_detached(t->sig, (const uint8_t *)t->signing_input,
                                           t->signing_input_len, k->ed) == 0;
    case JWS_ALG_HS256: {
        uint8_t mac[crypto_auth_hmacsha256_BYTES];
        crypto_auth_hmacsha256_state st;
        if (t->sig_len != sizeof mac)
            return false;
        crypto_auth_hmacsha256_init(&st, k->secret, k->secret_len);
        crypto_auth_hmacsha256_update(&st, (const uint8_t *)t->signing_input, t->signing_input_len);
        crypto_auth_hmacsha256_final(&st, mac);
        return sodium_memcmp(mac, t->sig, sizeof mac) == 0;
    }
    case JWS_ALG_ES256:
        return es256_verify(k->pkey, t->sig, t->sig_len, t->signing_input, t->signing_input_len);
    case JWS_ALG_RS256:
        return t->sig_len == (size_t)EVP_PKEY_get_size(k->pkey) &&
               evp_verify(k->pkey, t->sig, t->sig_len, t->signing_input, t->signing_input_len);
    default: return false;
    }
}

/* The trusted key that signed t, or NULL with the status why not. */
static const struct jwt_key *trusted_signer(const struct jwt_keys *ks, const struct jws *t,
                                            enum jwt_status *st)
{
    bool candidate = false;
    for (unsigned i = 0; i < ks->n; i++) {
        const struct jwt_key *k = &ks->k[i];
        if (k->alg != t->alg || (t->kid[0] && k->kid[0] && strcmp(k->kid, t->kid) != 0))
            continue;
        candidate = true;
        if (key_verifies(k, t))
            return k;
    }
    *st = candidate ? JWT_BAD_SIG : JWT_NO_KEY;
    return NULL;
}

/* Rooms are their SHA-1 (as room.js names its info hash): into ih. */
static void hash_rooms(struct jwt_scope *s)
{
    for (uint32_t r = 0; r < s->n_rooms; r++) {
        char name[JWT_ROOM_MAX];
        long n = json_string(&s->rooms[r], name, sizeof name); /* checked by the reader */
        unsigned int ml = 0;
        if (n >= 0 && EVP_Digest(name, (size_t)n, s->ih[s->n_ih], &ml, EVP_sha1(), NULL) == 1 &&
            ml == 20)
            s->n_ih++;
    }
    s->n_rooms = 0;
}

static bool aud_names(const struct jwt_claims *c, const char *aud)
{
    for (unsigned i = 0; i < c->n_aud; i++)
        if (strcmp(c->aud[i], aud) == 0)
            return true;
    return false;
}

/* One element of a token: [0] the token itself, [i] its i-th link. A
 * token with no chain (the usual one) needs one element (~20 KB); the
 * links' elements are allocated only when the header lists them, instead of
 * a fixed 1 + JWS_CHAIN_MAX (60 KB) per call. */
struct verify_elem {
    struct jws j;
    struct jwt_claims c;
    struct jwt_key cnf; /* the key this link certifies (links only) */
};

static enum jwt_status check_times(const struct jwt_claims *c, int64_t now, unsigned leeway)
{
    if (!c->has_exp)
        return JWT_NO_EXP;
    if (c->exp + (int64_t)leeway <= now)
        return JWT_EXPIRED;
    if (c->has_nbf && c->nbf - (int64_t)leeway > now)
        return JWT_NOT_YET;
    return JWT_OK;
}

/* e[0] is split and read; e[1..n] are the links (n = e[0]->j.n_chain). */
static enum jwt_status verify(const struct jwt_policy *p, struct verify_elem **e, unsigned n,
                              int64_t now, struct jwt_verdict *out)
{
    enum jws_status js;
    enum jwt_status st = JWT_OK;
    const struct jwt_key *root;
    char why[JWT_ERR_LEN];
    for (unsigned i = 1; i <= n; i++) {
        js = jws_split(e[0]->j.chain[i - 1].p, e[0]->j.chain[i - 1].len, &e[i]->j);
        if (js == JWS_ERR_ALG)
            return JWT_ALG;
        /* links carry no chain of their own: the token's header lists them all */
        if (js != JWS_OK || e[i]->j.n_chain ||
            jwt_claims_read(&e[i]->j, &e[i]->c) != JWT_CLAIMS_OK ||
            e[i]->c.cnf_jwk.type != JSON_OBJECT ||
            jwt_key_from_jwk(&e[i]->c.cnf_jwk, &e[i]->cnf, why) != 0 ||
            e[i]->cnf.alg == JWS_ALG_HS256) /* a delegated key is public */
            return JWT_CHAIN;
    }
    /* signatures, outermost first: e[n] by a trusted key, e[i] by e[i+1]'s cnf */
    if (!(root = trusted_signer(p->keys, &e[n]->j, &st)))
        return st;
    for (unsigned i = n; i-- > 0;)
        if (!key_verifies(&e[i + 1]->cnf, &e[i]->j))
            return JWT_BAD_SIG;
    /* claims of every element */
    for (unsigned i = 0; i <= n; i++) {
        if ((st = check_times(&e[i]->c, now, p->leeway_s)) != JWT_OK)
            return st;
        if (jwt_revoked_has(p->revoked, e[i]->c.jti) ||
            (i && jwt_revoked_has(p->revoked, e[i]->cnf.thumb)))
            return JWT_REVOKED;
        hash_rooms(&e[i]->c.scope);
    }
    if (jwt_revoked_has(p->revoked, root->thumb))
        return JWT_REVOKED;
    /* iss and aud are the trusted signer's statements */
    if (p->issuer && p->issuer[0] && strcmp(e[n]->c.iss, p->issuer) != 0)
        return JWT_ISSUER;
    if (p->audience && p->audience[0] && !aud_names(&e[n]->c, p->audience))
        return JWT_AUDIENCE;
    for (unsigned i = 0; i < n; i++) {
        if (!jwt_scope_within(&e[i]->c.scope, &e[i + 1]->c.scope))
            return JWT_CHAIN_SCOPE;
        if (e[i]->c.exp > e[i + 1]->c.exp)
            return JWT_CHAIN_EXP;
    }
    out->exp = e[0]->c.exp;
    memcpy(out->sub, e[0]->c.sub, sizeof out->sub);
    out->scope = e[0]->c.scope;
    return JWT_OK;
}

enum jwt_status jwt_verify(const struct jwt_policy *p, const char *tok, size_t len, int64_t now_s,
                           struct jwt_verdict *out)
{
    /* malloc, not calloc: jws_split and jwt_claims_read set every field they
     * leave valid; only the cnf keys (freed below) must start zeroed */
    struct verify_elem *e[1 + JWS_CHAIN_MAX] = {malloc(sizeof **e)}, *links = NULL;
    enum jws_status js;
    enum jwt_status st;
    unsigned n = 0;
    if (!e[0])
        return JWT_MALFORMED;
    memset(&e[0]->cnf, 0, sizeof e[0]->cnf);
    js = jws_split(tok, len, &e[0]->j);
    if (js == JWS_ERR_ALG)
        st = JWT_ALG;
    else if (js == JWS_ERR_DEPTH)
        st = JWT_CHAIN_DEPTH;
    else if (js != JWS_OK || jwt_claims_read(&e[0]->j, &e[0]->c) != JWT_CLAIMS_OK)
        st = JWT_MALFORMED;
    else if ((n = e[0]->j.n_chain) > JWS_CHAIN_MAX) /* jws_split's bound, kept local */
        st = JWT_CHAIN_DEPTH;
    else if (n && !(links = malloc(n * sizeof *links)))
        st = JWT_MALFORMED;
    else {
        for (unsigned i = 1; i <= n; i++) {
            e[i] = &links[i - 1];
            memset(&e[i]->cnf, 0, sizeof e[i]->cnf);
        }
        st = verify(p, e, n, now_s, out);
    }
    for (unsigned i = 1; i <= n && links; i++)
        jwt_key_free(&e[i]->cnf);
    free(links);
    free(e[0]);
    return st;
}

/* ---- grants ---- */

struct jwt_grant *jwt_grant_make(const struct jwt_verdict *v)
{
    const struct jwt_scope *s = &v->scope;
    size_t np = s->any ? 0 : s->n_prefix, ni = s->any ? 0 : s->n_ih;
    struct jwt_grant *g = malloc(sizeof *g + np * sizeof *g->prefix + ni * 20);
    if (!g)
        return NULL;
    g->exp = v->exp;
    g->any = s->any;
    g->n_prefix = (uint32_t)np;
    g->n_ih = (uint32_t)ni;
    g->prefix = (struct jwt_prefix *)(void *)(g + 1);
    g->ih = (uint8_t(*)[20])(void *)(g->prefix + np);
    memcpy(g->prefix, s->prefix, np * sizeof *g->prefix);
    memcpy(g->ih, s->ih, ni * 20);
    return g;
}

bool jwt_grant_has(const struct jwt_grant *g, const uint8_t ih[20])
{
    return g->any ||
           jwt_ih_listed((const uint8_t(*)[20])g->ih, g->n_ih, g->prefix, g->n_prefix, ih);
}

void jwt_auth_free(struct jwt_auth *a)
{
    if (!a)
        return;
    jwt_keys_free(&a->keys);
    jwt_revoked_free(&a->revoked);
    free(a);
}
