/* jwt.h - access tokens: trusted keys, signature checks, claims and
 * delegation chains (PROTOCOL.md section 11).
 *
 * Owns:   struct jwt_keys (keys from JWKs, PEM, raw Ed25519 or an HS256
 *         secret), struct jwt_revoked, and jwt_verify: one token -> a verdict
 *         with its expiry and scope.
 * Thread: keys and revoked lists are built by main and read-only afterwards;
 *         jwt_verify is reentrant (any worker, at the HTTP upgrade).
 * Why:    the parse is pure (proto/jws.c); this file adds what needs
 *         crypto: Ed25519 and HMAC-SHA-256 through libsodium, ES256 and RS256
 *         through OpenSSL's EVP. A key verifies one algorithm only, so an
 *         HS256 token can never be checked against a public key.
 */
#ifndef WSTRACKER_ACCESS_JWT_H
#define WSTRACKER_ACCESS_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jws.h"

#define JWT_KEYS_MAX  64  /* trusted keys */
#define JWT_ERR_LEN   160 /* a load error's text */
#define JWT_THUMB_LEN 44  /* RFC 7638 SHA-256 thumbprint, base64url, + NUL */
#define JWT_HS256_MIN 32  /* bytes of an HS256 secret (RFC 7518 section 3.2) */
#define JWT_RSA_MIN   2048

struct jwt_key {
    enum jws_alg alg;          /* the one algorithm it verifies */
    char kid[JWS_KID_MAX + 1]; /* "" : tried for every token of its algorithm */
    char thumb[JWT_THUMB_LEN]; /* RFC 7638 thumbprint ("" for HS256 secrets) */
    uint8_t ed[32];            /* EdDSA public key */
    uint8_t *secret;           /* HS256 */
    size_t secret_len;
    void *pkey; /* EVP_PKEY for ES256 and RS256 */
};

struct jwt_keys {
    unsigned n;
    struct jwt_key k[JWT_KEYS_MAX];
};

/* Each returns 0, or -1 with a reason in err (JWT_ERR_LEN). */
int jwt_keys_add_jwks(struct jwt_keys *ks, const char *text, size_t len, char *err);
/* A PEM public key, one JWK, or a raw Ed25519 key (32 bytes as 43
 * base64url or 64 hex characters). */
int jwt_keys_add_pubkey(struct jwt_keys *ks, const char *text, size_t len, char *err);
int jwt_keys_add_secret(struct jwt_keys *ks, const uint8_t *secret, size_t len, char *err);
/* One public JWK (a JWKS entry or a cnf.jwk) into k. */
int jwt_key_from_jwk(const struct json_val *jwk, struct jwt_key *k, char *err);
void jwt_key_free(struct jwt_key *k);
void jwt_keys_free(struct jwt_keys *ks);

/* Revoked jti values and key thumbprints, sorted. */
struct jwt_revoked {
    unsigned n;
    char **items;
};
int jwt_revoked_parse(const char *text, size_t len, struct jwt_revoked *out, char *err);
bool jwt_revoked_has(const struct jwt_revoked *r, const char *s);
void jwt_revoked_free(struct jwt_revoked *r);

/* What a token is checked against. */
struct jwt_policy {
    const struct jwt_keys *keys;
    const struct jwt_revoked *revoked; /* NULL: none */
    const char *issuer;                /* NULL or "": iss not checked */
    const char *audience;              /* NULL or "": aud not checked */
    unsigned leeway_s;                 /* on exp and nbf */
};

enum jwt_status {
    JWT_OK = 0,
    JWT_MALFORMED,   /* not a compact JWS, or bad header or claims */
    JWT_ALG,         /* alg none or unknown */
    JWT_NO_KEY,      /* no trusted key of its kid and algorithm */
    JWT_BAD_SIG,     /* no candidate key verifies it */
    JWT_NO_EXP,      /* exp absent */
    JWT_EXPIRED,     /* exp + leeway <= now */
    JWT_NOT_YET,     /* nbf - leeway > now */
    JWT_ISSUER,      /* iss is not --auth-issuer */
    JWT_AUDIENCE,    /* aud does not name --auth-audience */
    JWT_REVOKED,     /* a jti or key thumbprint is in --revoked */
    JWT_CHAIN,       /* a link is malformed or its cnf.jwk unusable */
    JWT_CHAIN_DEPTH, /* more than JWS_CHAIN_MAX links */
    JWT_CHAIN_SCOPE, /* the scope is wider than its link's */
    JWT_CHAIN_EXP,   /* it expires after its link */
    JWT_STATUS_COUNT
};

/* The one-line reason of a status (the 401 body). */
const char *jwt_status_reason(enum jwt_status st);

/* A verified token: when it ends and what it may touch (rooms already
 * hashed into ih). */
struct jwt_verdict {
    int64_t exp;
    char sub[JWT_CLAIM_STRMAX];
    struct jwt_scope scope;
};

/* Verify tok[0..len) at Unix time now_s. */
enum jwt_status jwt_verify(const struct jwt_policy *p, const char *tok, size_t len, int64_t now_s,
                           struct jwt_verdict *out);

/* What a connection keeps of its token: one allocation, sized to its scope
 * (a one-hash scope: 48 bytes). */
struct jwt_grant {
    int64_t exp; /* Unix seconds: the connection is closed with 4401 then */
    bool any;
    uint32_t n_ih, n_prefix;
    struct jwt_prefix *prefix; /* into the same allocation */
    uint8_t (*ih)[20];
};
struct jwt_grant *jwt_grant_make(const struct jwt_verdict *v); /* NULL: out of memory */
/* True when the grant covers info hash ih: O(1) for a one-hash scope,
 * at most JWT_SCOPE_MAX + JWT_PREFIX_MAX comparisons. */
bool jwt_grant_has(const struct jwt_grant *g, const uint8_t ih[20]);

/* The tracker's token settings, built by main from the files named by the
 * --auth-* options and --revoked; immutable once built. */
struct jwt_auth {
    struct jwt_keys keys;
    struct jwt_revoked revoked;
    struct jwt_policy policy; /* points into this struct */
};
void jwt_auth_free(struct jwt_auth *a);

#endif
