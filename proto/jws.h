/* jws.h - JWS compact serialization (RFC 7515 section 7.1) and base64url.
 *
 * Owns:   splitting "header.payload.signature", base64url without padding
 *         (RFC 7515 section 2), and reading the JOSE header and JWT claims
 *         the tracker uses into plain structs (PROTOCOL.md section 11).
 * Thread: pure functions, any thread; no allocation, no globals.
 * Why:    everything a client writes in a token is parsed here, before any
 *         signature is checked, so this is the part that is fuzzed hardest
 *         (tests/fuzz/fuzz_jws.c). Signatures and key rules live in
 *         tracker/access/jwt.c.
 */
#ifndef WSTRACKER_PROTO_JWS_H
#define WSTRACKER_PROTO_JWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define JWS_TOKEN_MAX   8192 /* bytes of one compact token (URL-sized) */
#define JWS_HEADER_MAX  6144 /* decoded header bytes (it may carry a chain) */
#define JWS_PAYLOAD_MAX 4096 /* decoded claims bytes */
#define JWS_SIG_MAX     512  /* decoded signature bytes (RSA-4096) */
#define JWS_CHAIN_MAX   2    /* links in "wst_chain" */
#define JWS_KID_MAX     128  /* bytes of "kid" */

enum jws_alg {
    JWS_ALG_NONE = 0, /* absent or unsupported: refused */
    JWS_ALG_EDDSA,
    JWS_ALG_HS256,
    JWS_ALG_ES256,
    JWS_ALG_RS256,
};

/* A split token: spans of the caller's text, and the decoded parts in the
 * caller's struct. */
struct jws {
    const char *signing_input; /* header "." payload, as signed */
    size_t signing_input_len;
    char header[JWS_HEADER_MAX + 1]; /* decoded, NUL terminated */
    size_t header_len;
    char payload[JWS_PAYLOAD_MAX + 1];
    size_t payload_len;
    uint8_t sig[JWS_SIG_MAX];
    size_t sig_len;
    /* From the header. */
    enum jws_alg alg;
    char kid[JWS_KID_MAX + 1]; /* "" when absent */
    unsigned n_chain;          /* links in "wst_chain" */
    struct {
        const char *p; /* into header[]: the link's compact text */
        size_t len;
    } chain[JWS_CHAIN_MAX];
};

enum jws_status {
    JWS_OK = 0,
    JWS_ERR_SIZE,   /* longer than JWS_TOKEN_MAX or a part over its cap */
    JWS_ERR_FORM,   /* not three base64url parts */
    JWS_ERR_HEADER, /* header not a JSON object, or a key twice */
    JWS_ERR_ALG,    /* alg absent, "none" or not one of enum jws_alg */
    JWS_ERR_CRIT,   /* "crit" present: no extension is understood */
    JWS_ERR_KID,    /* kid not a string or too long */
    JWS_ERR_CHAIN,  /* wst_chain not an array of strings */
    JWS_ERR_DEPTH,  /* more than JWS_CHAIN_MAX links */
    JWS_ERR_CLAIMS, /* payload not a JSON object, or a key twice */
};

/* Split and decode tok[0..len). */
enum jws_status jws_split(const char *tok, size_t len, struct jws *out);

/* base64url (no padding; '=' refused, as are bits set past the last byte).
 * Returns the decoded length, or -1 on a bad character or when it does not
 * fit in cap. */
long b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap);
/* Encode in[0..len) into out (NUL terminated). Returns the length, or -1
 * when out (cap bytes) is too small. */
long b64url_encode(const uint8_t *in, size_t len, char *out, size_t cap);

/* The JWT claims the tracker reads (RFC 7519 section 4.1, RFC 7800, and the
 * "wst" scope of PROTOCOL.md section 11). */
#define JWT_SCOPE_MAX    128 /* "ih" + "rooms" entries */
#define JWT_PREFIX_MAX   16  /* "prefix" entries */
#define JWT_CLAIM_STRMAX 256 /* bytes of iss, sub, jti and each aud */
#define JWT_AUD_MAX      8   /* entries of an "aud" array */
#define JWT_ROOM_MAX     256 /* bytes of one room name */

struct jwt_prefix {
    uint8_t b[20];
    uint8_t nibbles; /* 1..40 */
};

/* A scope: any == true, or the info hashes and prefixes listed. Rooms are
 * their SHA-1, which the caller (access/jwt.c) adds to ih. */
struct jwt_scope {
    bool any;
    uint32_t n_ih, n_prefix, n_rooms;
    uint8_t ih[JWT_SCOPE_MAX][20];
    struct jwt_prefix prefix[JWT_PREFIX_MAX];
    struct json_val rooms[JWT_SCOPE_MAX]; /* room names, in the payload */
};

struct jwt_claims {
    bool has_exp, has_nbf;
    int64_t exp, nbf; /* Unix seconds */
    char iss[JWT_CLAIM_STRMAX], sub[JWT_CLAIM_STRMAX], jti[JWT_CLAIM_STRMAX];
    unsigned n_aud;
    char aud[JWT_AUD_MAX][JWT_CLAIM_STRMAX];
    struct json_val cnf_jwk; /* "cnf": {"jwk": {...}}, JSON_NONE when absent */
    struct jwt_scope scope;
};

enum jwt_claims_status {
    JWT_CLAIMS_OK = 0,
    JWT_CLAIMS_TYPE,  /* a registered claim of the wrong type */
    JWT_CLAIMS_SCOPE, /* "wst" malformed: not an object, bad hex, too many */
    JWT_CLAIMS_CNF,   /* "cnf" without a "jwk" object */
};

/* Read the claims of a split token (its payload). */
enum jwt_claims_status jwt_claims_read(const struct jws *t, struct jwt_claims *out);

/* True when the first nibbles hex digits of b start with prefix p. */
bool jwt_prefix_covers(const struct jwt_prefix *p, const uint8_t b[20], unsigned nibbles);
/* True when info hash ih is any of list[0..n_ih) or starts with any of
 * prefix[0..n_prefix): the one scope match, shared by jwt_scope_has and
 * access/jwt.c's jwt_grant_has (a grant keeps the same lists). */
bool jwt_ih_listed(const uint8_t (*list)[20], uint32_t n_ih, const struct jwt_prefix *prefix,
                   uint32_t n_prefix, const uint8_t ih[20]);
/* True when info hash ih lies within scope s. */
bool jwt_scope_has(const struct jwt_scope *s, const uint8_t ih[20]);
/* True when every info hash inner allows is allowed by outer. */
bool jwt_scope_within(const struct jwt_scope *inner, const struct jwt_scope *outer);

#endif
