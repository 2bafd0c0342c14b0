/* jws.c - JWS compact serialization, base64url, and the JWT claims read.
 *
 * Owns:   jws_split, b64url_*, jwt_claims_read and the scope rules of
 *         proto/jws.h.
 * Thread: pure functions, any thread; no allocation, no globals.
 * Why:    every byte of a client's token passes through here before any
 *         signature check, so each part is bounded before it is decoded and
 *         the JSON is read only through proto/json.h.
 */
#include <string.h>

#include "jws.h"

static int b64_val(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '-')
        return 62;
    if (ch == '_')
        return 63;
    return -1;
}

long b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    if (len % 4 == 1)
        return -1; /* no whole byte in a lone trailing character */
    for (size_t i = 0; i < len; i++) {
        int v = b64_val((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc) /* bits set past the last byte: not the canonical encoding */
        return -1;
    return (long)o;
}

long b64url_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t need = (len * 4 + 2) / 3, o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    if (need + 1 > cap)
        return -1;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = tab[(acc >> bits) & 63];
        }
        acc &= (1u << bits) - 1;
    }
    if (bits)
        out[o++] = tab[(acc << (6 - bits)) & 63];
    out[o] = '\0';
    return (long)o;
}

static enum jws_alg alg_of(const struct json_val *v)
{
    static const struct {
        const char *name;
        enum jws_alg alg;
    } algs[] = {
        {"EdDSA", JWS_ALG_EDDSA}, {"Ed25519", JWS_ALG_EDDSA}, /* RFC 9864's fully specified name */
        {"HS256", JWS_ALG_HS256}, {"ES256", JWS_ALG_ES256},   {"RS256", JWS_ALG_RS256},
    };
    for (size_t k = 0; k < sizeof algs / sizeof algs[0]; k++)
        if (json_string_is(v, algs[k].name))
            return algs[k].alg;
    return JWS_ALG_NONE;
}

/* The header's members: alg, kid, crit, wst_chain. */
static enum jws_status read_header(struct jws *t)
{
    struct json_val h, v, item;
    struct json_iter it;
    if (json_parse(t->header, t->header_len, &h) != 0 || h.type != JSON_OBJECT)
        return JWS_ERR_HEADER;
    if (json_member(&h, "alg", &v) != 1 || (t->alg = alg_of(&v)) == JWS_ALG_NONE)
        return v.type == JSON_NONE || v.type == JSON_STRING ? JWS_ERR_ALG : JWS_ERR_HEADER;
    if (json_member(&h, "crit", &v) != 0)
        return JWS_ERR_CRIT;
    switch (json_member(&h, "kid", &v)) {
    case 1:
        if (json_string(&v, t->kid, sizeof t->kid) < 0)
            return JWS_ERR_KID;
        break;
    case 0: t->kid[0] = '\0'; break;
    default: return JWS_ERR_HEADER;
    }
    switch (json_member(&h, "wst_chain", &v)) {
    case 0: return JWS_OK;
    case 1: break;
    default: return JWS_ERR_HEADER;
    }
    if (v.type != JSON_ARRAY)
        return JWS_ERR_CHAIN;
    json_iter_init(&it, &v);
    while (json_next(&it, &item)) {
        if (item.type != JSON_STRING || memchr(item.p, '\\', item.len))
            return JWS_ERR_CHAIN; /* a compact JWS never needs an escape */
        if (t->n_chain == JWS_CHAIN_MAX)
            return JWS_ERR_DEPTH;
        t->chain[t->n_chain].p = item.p + 1;
        t->chain[t->n_chain].len = item.len - 2;
        t->n_chain++;
    }
    return t->n_chain ? JWS_OK : JWS_ERR_CHAIN;
}

enum jws_status jws_split(const char *tok, size_t len, struct jws *out)
{
    const char *d1, *d2;
    long n;
    memset(out, 0, offsetof(struct jws, header));
    out->header[0] = out->payload[0] = '\0';
    out->header_len = out->payload_len = out->sig_len = 0;
    out->alg = JWS_ALG_NONE;
    out->kid[0] = '\0';
    out->n_chain = 0;
    if (len > JWS_TOKEN_MAX)
        return JWS_ERR_SIZE;
    if (!(d1 = memchr(tok, '.', len)) ||
        !(d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok))) ||
        memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)))
        return JWS_ERR_FORM;
    if ((size_t)(d1 - tok) > (JWS_HEADER_MAX * 4 + 2) / 3 ||
        (size_t)(d2 - d1 - 1) > (JWS_PAYLOAD_MAX * 4 + 2) / 3 ||
        (size_t)(tok + len - d2 - 1) > (JWS_SIG_MAX * 4 + 2) / 3)
        return JWS_ERR_SIZE;
    if ((n = b64url_decode(tok, (size_t)(d1 - tok), (uint8_t *)out->header, JWS_HEADER_MAX)) <= 0)
        return JWS_ERR_FORM;
    out->header_len = (size_t)n;
    out->header[n] = '\0';
    if ((n = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), (uint8_t *)out->payload,
                           JWS_PAYLOAD_MAX)) <= 0)
        return JWS_ERR_FORM;
    out->payload_len = (size_t)n;
    out->payload[n] = '\0';
    if ((n = b64url_decode(d2 + 1, (size_t)(tok + len - d2 - 1), out->sig, JWS_SIG_MAX)) <= 0)
        return JWS_ERR_FORM;
    out->sig_len = (size_t)n;
    out->signing_input = tok;
    out->signing_input_len = (size_t)(d2 - tok);
    return read_header(out);
}

/* ---- claims ---- */

static int hex_val(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* A string of 1..40 hex digits into b (nibbles set high first). Returns the
 * number of digits, or -1. */
static int read_hex(const struct json_val *v, uint8_t b[20])
{
    int n = 0;
    memset(b, 0, 20);
    if (v->type != JSON_STRING || v->len < 3 || v->len > 42)
        return -1;
    for (size_t i = 1; i + 1 < v->len; i++, n++) {
        int h = hex_val((unsigned char)v->p[i]);
        if (h < 0)
            return -1;
        b[n / 2] |= (uint8_t)(n % 2 ? h : h << 4);
    }
    return n;
}

static enum jwt_claims_status read_scope(const struct json_val *wst, struct jwt_scope *s)
{
    struct json_val v, item;
    struct json_iter it;
    int r;
    s->any = wst->type == JSON_NONE;
    s->n_ih = s->n_prefix = s->n_rooms = 0;
    if (s->any)
        return JWT_CLAIMS_OK;
    if (wst->type != JSON_OBJECT)
        return JWT_CLAIMS_SCOPE;
    if ((r = json_member(wst, "ih", &v)) < 0 || (r && v.type != JSON_ARRAY))
        return JWT_CLAIMS_SCOPE;
    json_iter_init(&it, &v);
    while (json_next(&it, &item)) {
        if (s->n_ih == JWT_SCOPE_MAX || read_hex(&item, s->ih[s->n_ih]) != 40)
            return JWT_CLAIMS_SCOPE;
        s->n_ih++;
    }
    if ((r = json_member(wst, "prefix", &v)) < 0 || (r && v.type != JSON_ARRAY))
        return JWT_CLAIMS_SCOPE;
    json_iter_init(&it, &v);
    while (json_next(&it, &item)) {
        struct jwt_prefix *p = &s->prefix[s->n_prefix];
        if (s->n_prefix == JWT_PREFIX_MAX || (r = read_hex(&item, p->b)) < 1)
            return JWT_CLAIMS_SCOPE;
        p->nibbles = (uint8_t)r;
        s->n_prefix++;
    }
    if ((r = json_member(wst, "rooms", &v)) < 0 || (r && v.type != JSON_ARRAY))
        return JWT_CLAIMS_SCOPE;
    json_iter_init(&it, &v);
    while (json_next(&it, &item)) {
        char name[JWT_ROOM_MAX];
        if (s->n_ih + s->n_rooms == JWT_SCOPE_MAX || json_string(&item, name, sizeof name) < 0)
            return JWT_CLAIMS_SCOPE;
        s->rooms[s->n_rooms++] = item;
    }
    return JWT_CLAIMS_OK;
}

/* A string claim into out; absent leaves "". Returns false on a wrong type. */
static bool string_claim(const struct json_val *c, const char *key, char *out, size_t cap)
{
    struct json_val v;
    int r = json_member(c, key, &v);
    out[0] = '\0';
    return r == 0 || (r == 1 && json_string(&v, out, cap) >= 0);
}

static bool time_claim(const struct json_val *c, const char *key, bool *has, int64_t *out)
{
    struct json_val v;
    int r = json_member(c, key, &v);
    *has = r == 1;
    return r == 0 || (r == 1 && json_int(&v, out) == 0);
}

enum jwt_claims_status jwt_claims_read(const struct jws *t, struct jwt_claims *out)
{
    struct json_val c, v, item;
    struct json_iter it;
    int r;
    bool has_iat;
    int64_t iat;
    memset(out, 0, offsetof(struct jwt_claims, scope));
    if (json_parse(t->payload, t->payload_len, &c) != 0 || c.type != JSON_OBJECT)
        return JWT_CLAIMS_TYPE;
    if (!time_claim(&c, "exp", &out->has_exp, &out->exp) ||
        !time_claim(&c, "nbf", &out->has_nbf, &out->nbf) ||
        !time_claim(&c, "iat", &has_iat, &iat) ||
        !string_claim(&c, "iss", out->iss, sizeof out->iss) ||
        !string_claim(&c, "sub", out->sub, sizeof out->sub) ||
        !string_claim(&c, "jti", out->jti, sizeof out->jti))
        return JWT_CLAIMS_TYPE;
    switch (json_member(&c, "aud", &v)) { /* a string or an array of strings */
    case 0: break;
    case 1:
        if (v.type == JSON_STRING) {
            if (json_string(&v, out->aud[0], sizeof out->aud[0]) < 0)
                return JWT_CLAIMS_TYPE;
            out->n_aud = 1;
            break;
        }
        if (v.type != JSON_ARRAY)
            return JWT_CLAIMS_TYPE;
        json_iter_init(&it, &v);
        while (json_next(&it, &item)) {
            if (out->n_aud == JWT_AUD_MAX ||
                json_string(&item, out->aud[out->n_aud], sizeof out->aud[0]) < 0)
                return JWT_CLAIMS_TYPE;
            out->n_aud++;
        }
        break;
    default: return JWT_CLAIMS_TYPE;
    }
    if ((r = json_member(&c, "cnf", &v)) < 0)
        return JWT_CLAIMS_TYPE;
    if (r && (json_member(&v, "jwk", &out->cnf_jwk) != 1 || out->cnf_jwk.type != JSON_OBJECT))
        return JWT_CLAIMS_CNF;
    if (json_member(&c, "wst", &v) < 0)
        return JWT_CLAIMS_TYPE;
    return read_scope(&v, &out->scope);
}

/* ---- scope ---- */

bool jwt_prefix_covers(const struct jwt_prefix *p, const uint8_t b[20], unsigned nibbles)
{
    unsigned whole = p->nibbles / 2u;
    if (nibbles < p->nibbles || memcmp(p->b, b, whole) != 0)
        return false;
    return !(p->nibbles % 2) || (p->b[whole] & 0xF0) == (b[whole] & 0xF0);
}

bool jwt_ih_listed(const uint8_t (*list)[20], uint32_t n_ih, const struct jwt_prefix *prefix,
                   uint32_t n_prefix, const uint8_t ih[20])
{
    for (uint32_t k = 0; k < n_ih; k++)
        if (memcmp(list[k], ih, 20) == 0)
            return true;
    for (uint32_t k = 0; k < n_prefix; k++)
        if (jwt_prefix_covers(&prefix[k], ih, 40))
            return true;
    return false;
}

bool jwt_scope_has(const struct jwt_scope *s, const uint8_t ih[20])
{
    return s->any || jwt_ih_listed(s->ih, s->n_ih, s->prefix, s->n_prefix, ih);
}

bool jwt_scope_within(const struct jwt_scope *inner, const struct jwt_scope *outer)
{
    if (outer->any)
        return true;
    if (inner->any)
        return false;
    for (uint32_t k = 0; k < inner->n_ih; k++)
        if (!jwt_scope_has(outer, inner->ih[k]))
            return false;
    for (uint32_t k = 0; k < inner->n_prefix; k++) {
        bool covered = false;
        for (uint32_t j = 0; j < outer->n_prefix && !covered; j++)
            covered =
                jwt_prefix_covers(&outer->prefix[j], inner->prefix[k].b, inner->prefix[k].nibbles);
        if (!covered)
            return false;
    }
    return true;
}
