/* fuzz_jws.c - libFuzzer target: the token parser (proto/jws.c, proto/json.c).
 *
 * Owns:   nothing. The input is used twice: as a compact token as a client
 *         sends it, and, split at its first newline, as a JOSE header and a
 *         claims object that are base64url-encoded into a token (so the
 *         fuzzer explores the JSON without having to learn base64). Checks:
 *         nothing crashes or reads past its input; every part stays within
 *         its cap and every chain link inside the decoded header; base64url
 *         decodes back to what it encoded; a scope contains itself and each of
 *         its own info hashes; every string the reader decodes fits its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct jws t;
static struct jwt_claims c;
static char tok[3 * JWS_TOKEN_MAX];

/* Walk every value of v (depth-bounded by the validator), decoding strings. */
static void walk(const struct json_val *v, int depth)
{
    struct json_iter it;
    struct json_val item;
    char buf[64];
    long n;
    CHECK(depth <= 64);
    if (v->type == JSON_STRING) {
        n = json_string(v, buf, sizeof buf);
        CHECK(n < (long)sizeof buf);
        CHECK(n < 0 || buf[n] == '\0');
        return;
    }
    json_iter_init(&it, v);
    while (json_next(&it, &item))
        walk(&item, depth + 1);
}

static void check_token(const char *s, size_t len)
{
    if (jws_split(s, len, &t) != JWS_OK)
        return;
    CHECK(t.header_len <= JWS_HEADER_MAX && t.payload_len <= JWS_PAYLOAD_MAX);
    CHECK(t.sig_len >= 1 && t.sig_len <= JWS_SIG_MAX);
    CHECK(t.alg != JWS_ALG_NONE);
    CHECK(t.n_chain <= JWS_CHAIN_MAX);
    CHECK(t.signing_input == s && t.signing_input_len < len);
    for (unsigned k = 0; k < t.n_chain; k++)
        CHECK(t.chain[k].p > t.header && t.chain[k].p + t.chain[k].len < t.header + t.header_len);
    if (jwt_claims_read(&t, &c) != JWT_CLAIMS_OK)
        return;
    CHECK(c.n_aud <= JWT_AUD_MAX);
    CHECK(c.scope.n_ih + c.scope.n_rooms <= JWT_SCOPE_MAX && c.scope.n_prefix <= JWT_PREFIX_MAX);
    CHECK(jwt_scope_within(&c.scope, &c.scope));
    for (uint32_t k = 0; k < c.scope.n_ih; k++)
        CHECK(jwt_scope_has(&c.scope, c.scope.ih[k]));
    for (uint32_t k = 0; k < c.scope.n_prefix; k++)
        CHECK(c.scope.prefix[k].nibbles >= 1 && c.scope.prefix[k].nibbles <= 40);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t back[JWS_TOKEN_MAX];
    const uint8_t *nl;
    struct json_val v;
    long n, m;
    size_t o = 0;

    if (size > JWS_TOKEN_MAX)
        return 0;
    check_token((const char *)data, size);

    /* base64url: what decodes re-encodes to the same text */
    n = b64url_decode((const char *)data, size, back, sizeof back);
    if (n >= 0) {
        m = b64url_encode(back, (size_t)n, tok, sizeof tok);
        CHECK(m == (long)size && memcmp(tok, data, size) == 0);
    }

    if (json_parse((const char *)data, size, &v) == 0)
        walk(&v, 0);

    /* header "\n" claims, encoded into a token with a fixed signature */
    nl = memchr(data, '\n', size);
    if (!nl)
        return 0;
    n = b64url_encode(data, (size_t)(nl - data), tok, sizeof tok);
    CHECK(n >= 0);
    o = (size_t)n;
    tok[o++] = '.';
    n = b64url_encode(nl + 1, size - (size_t)(nl + 1 - data), tok + o, sizeof tok - o);
    CHECK(n >= 0);
    o += (size_t)n;
    memcpy(tok + o, ".c2ln", 5);
    check_token(tok, o + 5);
    return 0;
}
