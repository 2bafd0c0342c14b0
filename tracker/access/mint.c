/* mint.c - Ed25519 key files and EdDSA tokens for `wstracker keygen` and `wstracker token`
 * (see mint.h). Pure: the caller does the I/O. Runs only in the command-line tools, never
 * in a worker. What it writes is read back by the tracker's own parser and verifier before
 * it is handed out, so a token it prints is one the tracker accepts. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mint.h"

__attribute__((format(printf, 2, 3))) static int fail(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, JWT_ERR_LEN, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- a bounded string builder ---- */

struct sb {
    char *p;
    size_t len, cap;
    bool over;
};

static void sb_put(struct sb *b, const char *s, size_t n)
{
    if (b->over || n >= b->cap - b->len) {
        b->over = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sb *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_int(struct sb *b, int64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%" PRId64, v);
    sb_put(b, t, (size_t)n);
}

static void sb_b64(struct sb *b, const uint8_t *in, size_t n)
{
    long w;
    if (b->over || (w = b64url_encode(in, n, b->p + b->len, b->cap - b->len)) < 0) {
        b->over = true;
        return;
    }
    b->len += (size_t)w;
}

/* A JSON string: quotes, backslashes and control characters escaped; s must be UTF-8. */
static void sb_json_str(struct sb *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char e[8];
        if (c == '"' || c == '\\') {
            e[0] = '\\';
            e[1] = (char)c;
            sb_put(b, e, 2);
        } else if (c < 0x20) {
            snprintf(e, sizeof e, "\\u%04x", c);
            sb_put(b, e, 6);
        } else {
            sb_put(b, s, 1);
        }
    }
    sb_put(b, "\"", 1);
}

/* Strict UTF-8 (no overlong forms, no surrogates, at most U+10FFFF). */
static bool utf8_ok(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        uint32_t cp;
        unsigned n;
        if (s[0] < 0x80) {
            s++;
            continue;
        }
        if ((s[0] & 0xe0) == 0xc0) {
            n = 1;
            cp = s[0] & 0x1fu;
        } else if ((s[0] & 0xf0) == 0xe0) {
            n = 2;
            cp = s[0] & 0x0fu;
        } else if ((s[0] & 0xf8) == 0xf0) {
            n = 3;
            cp = s[0] & 0x07u;
        } else {
            return false;
        }
        for (unsigned i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i] & 0x3fu);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        s += n + 1;
    }
    return true;
}

static bool hex_ok(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    return true;
}

/* ---- keys ---- */

/* RFC 7638: SHA-256 over the required members in lexical order. */
static void key_kid(struct mint_key *k)
{
    char x[48], members[128];
    uint8_t h[crypto_hash_sha256_BYTES];
    (void)b64url_encode(k->pk, sizeof k->pk, x, sizeof x);
    snprintf(members, sizeof members, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}", x);
    crypto_hash_sha256(h, (const unsigned char *)members, strlen(members));
    (void)b64url_encode(h, sizeof h, k->kid, sizeof k->kid);
}

void mint_key_from_seed(struct mint_key *k, const uint8_t seed[32])
{
    crypto_sign_seed_keypair(k->pk, k->sk, seed);
    key_kid(k);
}

/* The 32 bytes of a base64url member of jwk into out; 1 read, 0 absent, -1 bad. */
static int member32(const struct json_val *jwk, const char *name, uint8_t out[32])
{
    struct json_val v;
    char s[64];
    int r = json_member(jwk, name, &v);
    if (r <= 0)
        return r;
    long n = json_string(&v, s, sizeof s);
    if (n < 0 || b64url_decode(s, (size_t)n, out, 32) != 32)
        return -1;
    return 1;
}

int mint_key_read(struct mint_key *k, const char *text, size_t len, char *err)
{
    struct json_val jwk, v;
    uint8_t seed[32], x[32];
    int r;
    if (json_parse(text, len, &jwk) != 0 || jwk.type != JSON_OBJECT)
        return fail(err, "key file: not a JSON object (want the JWK `wstracker keygen` wrote)");
    if (json_member(&jwk, "kty", &v) != 1 || !json_string_is(&v, "OKP") ||
        json_member(&jwk, "crv", &v) != 1 || !json_string_is(&v, "Ed25519"))
        return fail(err, "key file: want an Ed25519 key (kty OKP, crv Ed25519)");
    if ((r = member32(&jwk, "d", seed)) <= 0)
        return fail(err, r ? "key file: d is not 32 bytes of base64url"
                           : "key file: no private part d (this is a public key)");
    if ((r = member32(&jwk, "x", x)) < 0)
        return fail(err, "key file: x is not 32 bytes of base64url");
    mint_key_from_seed(k, seed);
    sodium_memzero(seed, sizeof seed);
    if (r == 1 && sodium_memcmp(x, k->pk, 32) != 0) {
        sodium_memzero(k->sk, sizeof k->sk);
        return fail(err, "key file: x is not the public key of d");
    }
    return 0;
}

long mint_key_jwk(const struct mint_key *k, bool private, char *out, size_t cap)
{
    struct sb b = {out, 0, cap, cap == 0};
    if (cap)
        out[0] = '\0';
    sb_str(&b, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"");
    sb_b64(&b, k->pk, sizeof k->pk);
    if (private) {
        sb_str(&b, "\",\"d\":\"");
        sb_b64(&b, k->sk, 32); /* libsodium's secret key starts with the seed */
    }
    sb_str(&b, "\",\"alg\":\"EdDSA\",\"use\":\"sig\",\"kid\":\"");
    sb_str(&b, k->kid);
    sb_str(&b, "\"}");
    return b.over ? -1 : (long)b.len;
}

/* ---- tokens ---- */

static bool compact_ok(const char *s)
{
    size_t dots = 0, n = strlen(s);
    if (n == 0 || n > JWS_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.')
            dots++;
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_'))
            return false;
    }
    return dots == 2;
}

static int check_claims(const struct mint_claims *c, char *err)
{
    const char *strs[3] = {c->sub, c->iss, c->jti};
    if (c->exp <= c->iat)
        return fail(err, "exp must come after iat");
    for (unsigned i = 0; i < 3; i++)
        if (strs[i] && (!utf8_ok(strs[i]) || strlen(strs[i]) >= JWT_CLAIM_STRMAX))
            return fail(err, "sub, iss and jti: UTF-8 of at most %d bytes", JWT_CLAIM_STRMAX - 1);
    if (c->n_aud > JWT_AUD_MAX)
        return fail(err, "at most %d audiences", JWT_AUD_MAX);
    for (unsigned i = 0; i < c->n_aud; i++)
        if (!utf8_ok(c->aud[i]) || strlen(c->aud[i]) >= JWT_CLAIM_STRMAX)
            return fail(err, "aud: UTF-8 of at most %d bytes", JWT_CLAIM_STRMAX - 1);
    if (c->n_ih + c->n_rooms > JWT_SCOPE_MAX)
        return fail(err, "at most %d info hashes and rooms together", JWT_SCOPE_MAX);
    if (c->n_prefix > JWT_PREFIX_MAX)
        return fail(err, "at most %d prefixes", JWT_PREFIX_MAX);
    for (unsigned i = 0; i < c->n_ih; i++)
        if (!hex_ok(c->ih[i], 40, 40))
            return fail(err, "info hash '%.48s' is not 40 hex digits", c->ih[i]);
    for (unsigned i = 0; i < c->n_prefix; i++)
        if (!hex_ok(c->prefix[i], 1, 40))
            return fail(err, "prefix '%.48s' is not 1 to 40 hex digits", c->prefix[i]);
    for (unsigned i = 0; i < c->n_rooms; i++)
        if (!c->rooms[i][0] || !utf8_ok(c->rooms[i]) || strlen(c->rooms[i]) >= JWT_ROOM_MAX)
            return fail(err, "room names: UTF-8 of 1 to %d bytes", JWT_ROOM_MAX - 1);
    if (c->n_chain > JWS_CHAIN_MAX)
        return fail(err, "at most %d chain links", JWS_CHAIN_MAX);
    for (unsigned i = 0; i < c->n_chain; i++)
        if (!compact_ok(c->chain[i]))
            return fail(err, "chain link %u is not a compact JWT", i + 1);
    return 0;
}

/* --cnf: a public key the tracker accepts in a link (not oct, no private part). */
static int check_cnf(const char *text, char *err)
{
    struct json_val jwk, v;
    struct jwt_key key;
    char why[JWT_ERR_LEN];
    if (json_parse(text, strlen(text), &jwk) != 0 || jwk.type != JSON_OBJECT)
        return fail(err, "cnf: not a JSON object (want a public JWK)");
    if (json_member(&jwk, "d", &v) != 0)
        return fail(err, "cnf: this JWK has a private part d; give its public JWK");
    memset(&key, 0, sizeof key);
    if (jwt_key_from_jwk(&jwk, &key, why) != 0)
        return fail(err, "cnf: %s", why);
    enum jws_alg alg = key.alg;
    jwt_key_free(&key);
    if (alg == JWS_ALG_HS256)
        return fail(err, "cnf: a link certifies a public key, not a shared secret");
    return 0;
}

/* The nearest link must certify k and outlive the token. */
static int check_link(const struct mint_key *k, const char *link, int64_t exp, char *err)
{
    struct jws *j = malloc(sizeof *j);
    struct jwt_claims *c = malloc(sizeof *c);
    struct jwt_key key;
    char why[JWT_ERR_LEN];
    int rc = -1;
    memset(&key, 0, sizeof key);
    if (!j || !c)
        fail(err, "out of memory");
    else if (jws_split(link, strlen(link), j) != JWS_OK || jwt_claims_read(j, c) != JWT_CLAIMS_OK)
        fail(err, "chain link 1: the tracker would not read it");
    else if (c->cnf_jwk.type != JSON_OBJECT || jwt_key_from_jwk(&c->cnf_jwk, &key, why) != 0)
        fail(err, "chain link 1: no usable cnf.jwk");
    else if (key.alg != JWS_ALG_EDDSA || sodium_memcmp(key.ed, k->pk, 32) != 0)
        fail(err, "chain link 1 certifies another key, not --key");
    else if (!c->has_exp || c->exp < exp)
        fail(err, "the token would outlive chain link 1 (exp %" PRId64 "): shorten --ttl",
             c->has_exp ? c->exp : 0);
    else
        rc = 0;
    jwt_key_free(&key);
    free(j);
    free(c);
    return rc;
}

static void write_header(struct sb *b, const struct mint_key *k, const struct mint_claims *c)
{
    sb_str(b, "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"");
    sb_str(b, k->kid);
    sb_str(b, "\"");
    if (c->n_chain) {
        sb_str(b, ",\"wst_chain\":[");
        for (unsigned i = 0; i < c->n_chain; i++) {
            sb_str(b, i ? ",\"" : "\"");
            sb_str(b, c->chain[i]);
            sb_str(b, "\"");
        }
        sb_str(b, "]");
    }
    sb_str(b, "}");
}

static void write_list(struct sb *b, const char *name, const char *const *v, unsigned n,
                       bool *first)
{
    if (!n)
        return;
    sb_str(b, *first ? "\"" : ",\"");
    sb_str(b, name);
    sb_str(b, "\":[");
    for (unsigned i = 0; i < n; i++) {
        if (i)
            sb_str(b, ",");
        sb_json_str(b, v[i]);
    }
    sb_str(b, "]");
    *first = false;
}

static void write_claims(struct sb *b, const struct mint_claims *c)
{
    const char *names[3] = {"sub", "iss", "jti"};
    const char *strs[3] = {c->sub, c->iss, c->jti};
    sb_str(b, "{\"iat\":");
    sb_int(b, c->iat);
    sb_str(b, ",\"exp\":");
    sb_int(b, c->exp);
    for (unsigned i = 0; i < 3; i++) {
        if (!strs[i])
            continue;
        sb_str(b, ",\"");
        sb_str(b, names[i]);
        sb_str(b, "\":");
        sb_json_str(b, strs[i]);
    }
    if (c->n_aud == 1) {
        sb_str(b, ",\"aud\":");
        sb_json_str(b, c->aud[0]);
    } else if (c->n_aud > 1) {
        bool first = false;
        write_list(b, "aud", c->aud, c->n_aud, &first);
    }
    if (c->scoped) {
        bool first = true;
        sb_str(b, ",\"wst\":{");
        write_list(b, "ih", c->ih, c->n_ih, &first);
        write_list(b, "prefix", c->prefix, c->n_prefix, &first);
        write_list(b, "rooms", c->rooms, c->n_rooms, &first);
        sb_str(b, "}");
    }
    if (c->cnf) {
        sb_str(b, ",\"cnf\":{\"jwk\":");
        sb_str(b, c->cnf);
        sb_str(b, "}");
    }
    sb_str(b, "}");
}

/* Read the token back as the tracker does: parsed, and (without a chain, whose root the
 * tools do not know) verified against k alone at iat. */
static int read_back(const struct mint_key *k, const struct mint_claims *c, const char *tok,
                     size_t len, char *err)
{
    struct jws *j = malloc(sizeof *j);
    struct jwt_claims *cl = malloc(sizeof *cl);
    struct jwt_keys *ks = calloc(1, sizeof *ks);
    struct jwt_verdict *v = malloc(sizeof *v);
    char hex[65], why[JWT_ERR_LEN];
    int rc = -1;
    enum jwt_status st;
    sodium_bin2hex(hex, sizeof hex, k->pk, sizeof k->pk);
    if (!j || !cl || !ks || !v)
        fail(err, "out of memory");
    else if (jws_split(tok, len, j) != JWS_OK || jwt_claims_read(j, cl) != JWT_CLAIMS_OK)
        fail(err, "the token is too large or not readable (fewer hashes, rooms or links)");
    else if (c->n_chain)
        rc = 0;
    else if (jwt_keys_add_pubkey(ks, hex, 64, why) != 0)
        fail(err, "%s", why);
    else if ((st = jwt_verify(&(struct jwt_policy){ks, NULL, NULL, NULL, 0}, tok, len, c->iat,
                              v)) != JWT_OK)
        fail(err, "the token does not verify: %s", jwt_status_reason(st));
    else
        rc = 0;
    if (ks)
        jwt_keys_free(ks);
    free(j);
    free(cl);
    free(ks);
    free(v);
    return rc;
}

long mint_token(const struct mint_key *k, const struct mint_claims *c, char *out, size_t cap,
                char *err)
{
    char *hdr = malloc(JWS_HEADER_MAX + 1), *pay = malloc(JWS_PAYLOAD_MAX + 1);
    struct sb h = {hdr, 0, JWS_HEADER_MAX + 1, false}, p = {pay, 0, JWS_PAYLOAD_MAX + 1, false};
    struct sb t = {out, 0, cap, cap == 0};
    uint8_t sig[crypto_sign_BYTES];
    long rc = -1;
    if (cap)
        out[0] = '\0';
    if (!hdr || !pay) {
        fail(err, "out of memory");
        goto done;
    }
    if (check_claims(c, err) != 0 || (c->cnf && check_cnf(c->cnf, err) != 0) ||
        (c->n_chain && check_link(k, c->chain[0], c->exp, err) != 0))
        goto done;
    write_header(&h, k, c);
    write_claims(&p, c);
    if (h.over || p.over) {
        fail(err, "the token is too large (fewer hashes, rooms or links)");
        goto done;
    }
    sb_b64(&t, (const uint8_t *)hdr, h.len);
    sb_put(&t, ".", 1);
    sb_b64(&t, (const uint8_t *)pay, p.len);
    if (t.over) {
        fail(err, "the token is too large (fewer hashes, rooms or links)");
        goto done;
    }
    crypto_sign_detached(sig, NULL, (const unsigned char *)out, t.len, k->sk);
    sb_put(&t, ".", 1);
    sb_b64(&t, sig, sizeof sig);
    if (t.over || t.len > MINT_TOKEN_MAX) {
        fail(err, "the token is too large (fewer hashes, rooms or links)");
        goto done;
    }
    if (read_back(k, c, out, t.len, err) == 0)
        rc = (long)t.len;
done:
    if (rc < 0 && cap)
        out[0] = '\0';
    free(hdr);
    free(pay);
    return rc;
}

int64_t mint_ttl(const char *s)
{
    char *end;
    long long v;
    int64_t unit = 1;
    if (!s || *s < '0' || *s > '9')
        return -1;
    v = strtoll(s, &end, 10);
    if (*end && end[1])
        return -1;
    switch (*end) {
    case '\0':
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return -1;
    }
    if (v <= 0 || v > MINT_TTL_MAX / unit)
        return -1;
    return (int64_t)v * unit;
}
