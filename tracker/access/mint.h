/* mint.h - making access tokens (the `wstracker keygen` and `wstracker token` commands):
 * Ed25519 key files as JWKs (RFC 8037), and EdDSA-signed JWTs with the "wst" scope, a
 * cnf.jwk (RFC 7800) for a delegation link, and a wst_chain header for a delegated token
 * (PROTOCOL.md section 11). Pure: no I/O, no threads; the caller reads and writes files
 * and draws the random bytes. The tracker itself never mints. */
#ifndef WSTRACKER_ACCESS_MINT_H
#define WSTRACKER_ACCESS_MINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jwt.h"

#define MINT_JWK_MAX   256 /* a private Ed25519 JWK with its kid, as written */
#define MINT_TOKEN_MAX JWS_TOKEN_MAX
#define MINT_TTL_MAX   (10LL * 366 * 86400) /* ten years */

struct mint_key {
    uint8_t pk[32];          /* Ed25519 public key */
    uint8_t sk[64];          /* libsodium secret key (seed || pk) */
    char kid[JWT_THUMB_LEN]; /* RFC 7638 thumbprint of the public JWK */
};

/* The key pair of a 32-byte seed (RFC 8032's private key), with its kid. */
void mint_key_from_seed(struct mint_key *k, const uint8_t seed[32]);

/* A private key file: one OKP/Ed25519 JWK with "d" (and "x", which must match it).
 * Returns 0, or -1 with err (JWT_ERR_LEN) saying why. */
int mint_key_read(struct mint_key *k, const char *text, size_t len, char *err);

/* The key as a one-line JWK with "kid" and "alg": EdDSA; with "d" when private.
 * Returns its length, or -1 when cap is too small. */
long mint_key_jwk(const struct mint_key *k, bool private, char *out, size_t cap);

struct mint_claims {
    int64_t iat, exp;            /* Unix seconds */
    const char *sub, *iss, *jti; /* NULL: left out */
    const char *const *aud;      /* n_aud audiences (1: a string, more: an array) */
    unsigned n_aud;
    bool scoped;           /* write a "wst" claim (false: any info hash) */
    const char *const *ih; /* 40-hex info hashes */
    unsigned n_ih;
    const char *const *prefix; /* 1..40 hex digits */
    unsigned n_prefix;
    const char *const *rooms; /* room names (UTF-8) */
    unsigned n_rooms;
    const char *cnf;          /* NULL, or the public JWK this link certifies */
    const char *const *chain; /* the links the signing key holds, nearest first */
    unsigned n_chain;
};

/* Sign c with k into out: a compact JWS, NUL-terminated. The claims are checked as the
 * tracker checks them (hex, counts, sizes, UTF-8), a cnf must be a public key the
 * tracker accepts for a link, and the nearest chain link must certify k and expire no
 * earlier than c->exp; then the token is read back by the tracker's parser and its
 * signature checked. Returns the length, or -1 with err (JWT_ERR_LEN) saying why. */
long mint_token(const struct mint_key *k, const struct mint_claims *c, char *out, size_t cap,
                char *err);

/* "90", "90s", "30m", "24h", "7d": seconds in 1..MINT_TTL_MAX, or -1. */
int64_t mint_ttl(const char *s);

#endif
