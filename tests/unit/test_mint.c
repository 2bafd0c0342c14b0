/* test_mint.c - unit tests of tracker/access/mint.c: key files and tokens made for
 * `wstracker keygen` and `wstracker token`.
 *
 * Owns:   nothing; keys from fixed seeds, tokens judged by the tracker's own verifier
 *         (access/jwt.c): plain and scoped tokens, a two-step delegation, and the
 *         hostile inputs a user can type (bad hex, too many entries, bad UTF-8, a link
 *         for another key or shorter-lived, a private or secret cnf, a public key file).
 * Why:    a tool that prints a token the tracker then refuses, or signs what the user
 *         did not ask for, is worse than none.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "mint.h"

#define NOW 1900000000LL

static struct mint_key root, app;
static char tok[MINT_TOKEN_MAX + 1];
static char err[JWT_ERR_LEN];

static void seed_key(struct mint_key *k, uint8_t fill)
{
    uint8_t seed[32];
    memset(seed, fill, sizeof seed);
    mint_key_from_seed(k, seed);
}

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    seed_key(&root, 1);
    seed_key(&app, 2);
    return 0;
}

/* The tracker's verdict on tok, trusting only k's public JWK. */
static enum jwt_status judge(const struct mint_key *k, int64_t now, struct jwt_verdict *v)
{
    static struct jwt_keys ks;
    char pub[MINT_JWK_MAX];
    enum jwt_status st;
    assert_true(mint_key_jwk(k, false, pub, sizeof pub) > 0);
    assert_int_equal(jwt_keys_add_pubkey(&ks, pub, strlen(pub), err), 0);
    st = jwt_verify(&(struct jwt_policy){&ks, NULL, NULL, NULL, 0}, tok, strlen(tok), now, v);
    jwt_keys_free(&ks);
    return st;
}

static struct mint_claims base(void)
{
    return (struct mint_claims){.iat = NOW, .exp = NOW + 3600, .jti = "j1"};
}

static void test_key_files(void **state)
{
    char priv[MINT_JWK_MAX], pub[MINT_JWK_MAX], bad[MINT_JWK_MAX];
    struct mint_key back;
    struct jwt_keys ks = {0};
    (void)state;
    assert_true(mint_key_jwk(&root, true, priv, sizeof priv) > 0);
    assert_true(mint_key_jwk(&root, false, pub, sizeof pub) > 0);
    assert_non_null(strstr(priv, "\"d\":"));
    assert_null(strstr(pub, "\"d\":"));
    assert_int_equal(mint_key_read(&back, priv, strlen(priv), err), 0);
    assert_memory_equal(back.pk, root.pk, 32);
    assert_memory_equal(back.sk, root.sk, 64);
    /* the kid is the thumbprint the tracker computes for the same key */
    assert_int_equal(jwt_keys_add_pubkey(&ks, pub, strlen(pub), err), 0);
    assert_string_equal(ks.k[0].thumb, root.kid);
    assert_string_equal(ks.k[0].kid, root.kid);
    jwt_keys_free(&ks);
    /* the private key file given to the tracker as its trusted key: refused */
    assert_int_equal(jwt_keys_add_pubkey(&ks, priv, strlen(priv), err), -1);
    assert_non_null(strstr(err, "private key"));
    jwt_keys_free(&ks);
    /* too small a buffer */
    assert_int_equal(mint_key_jwk(&root, true, bad, 40), -1);

    /* hostile key files */
    assert_int_equal(mint_key_read(&back, pub, strlen(pub), err), -1);
    assert_non_null(strstr(err, "no private part d"));
    assert_int_equal(mint_key_read(&back, "not json", 8, err), -1);
    const char *ec = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"d\":\"AAAA\"}";
    assert_int_equal(mint_key_read(&back, ec, strlen(ec), err), -1);
    assert_non_null(strstr(err, "Ed25519"));
    const char *shortd = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"AAAA\"}";
    assert_int_equal(mint_key_read(&back, shortd, strlen(shortd), err), -1);
    /* x of another key: refused */
    char apub[MINT_JWK_MAX], mixed[2 * MINT_JWK_MAX];
    assert_true(mint_key_jwk(&app, false, apub, sizeof apub) > 0);
    const char *ax = strstr(apub, "\"x\":\"") + 5, *rd = strstr(priv, "\"d\":\"") + 5;
    snprintf(mixed, sizeof mixed,
             "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%.43s\",\"d\":\"%.43s\"}", ax, rd);
    assert_int_equal(mint_key_read(&back, mixed, strlen(mixed), err), -1);
    assert_non_null(strstr(err, "not the public key of d"));
    /* d alone (no x) is enough */
    snprintf(mixed, sizeof mixed, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"%.43s\"}", rd);
    assert_int_equal(mint_key_read(&back, mixed, strlen(mixed), err), 0);
    assert_memory_equal(back.pk, root.pk, 32);
}

static void test_plain_and_scoped(void **state)
{
    struct mint_claims c = base();
    struct jwt_verdict v;
    const char *ih[] = {"0123456789ABCDEF0123456789abcdef01234567"};
    const char *rooms[] = {"lobby"};
    const char *prefix[] = {"ab"};
    uint8_t want[20], lobby[20];
    (void)state;
    /* no scope: any info hash */
    assert_true(mint_token(&root, &c, tok, sizeof tok, err) > 0);
    assert_int_equal(judge(&root, NOW, &v), JWT_OK);
    assert_true(v.scope.any);
    assert_int_equal(v.exp, NOW + 3600);
    /* expired an hour later, signed by root only */
    assert_int_equal(judge(&root, NOW + 3600, &v), JWT_EXPIRED);
    assert_int_equal(judge(&app, NOW, &v), JWT_NO_KEY); /* its kid names root */

    c.scoped = true;
    c.ih = ih;
    c.n_ih = 1;
    c.rooms = rooms;
    c.n_rooms = 1;
    c.prefix = prefix;
    c.n_prefix = 1;
    c.sub = "al\"ice\\\x01é";
    assert_true(mint_token(&root, &c, tok, sizeof tok, err) > 0);
    assert_int_equal(judge(&root, NOW, &v), JWT_OK);
    assert_false(v.scope.any);
    assert_string_equal(v.sub, "al\"ice\\\x01é");
    assert_int_equal(v.scope.n_ih, 2); /* the hash and the room's SHA-1 */
    assert_int_equal(sodium_hex2bin(want, 20, ih[0], 40, NULL, NULL, NULL), 0);
    assert_true(jwt_scope_has(&v.scope, want));
    /* SHA-1("lobby"), as room.js names the room */
    assert_int_equal(
        sodium_hex2bin(lobby, 20, "6dc57172bc0a4be0aca7c20783625d72fce90b5e", 40, NULL, NULL, NULL),
        0);
    assert_true(jwt_scope_has(&v.scope, lobby));
    memset(want, 0xab, sizeof want);
    assert_true(jwt_scope_has(&v.scope, want)); /* by prefix */
    want[0] = 0xac;
    assert_false(jwt_scope_has(&v.scope, want));

    /* scoped with nothing: allows nothing, but is a valid token */
    c = base();
    c.scoped = true;
    assert_true(mint_token(&root, &c, tok, sizeof tok, err) > 0);
    assert_int_equal(judge(&root, NOW, &v), JWT_OK);
    assert_false(v.scope.any);
    assert_int_equal(v.scope.n_ih + v.scope.n_prefix, 0);

    /* audiences: one is a string, two an array */
    const char *aud[] = {"a", "b"};
    c = base();
    c.aud = aud;
    c.n_aud = 2;
    c.iss = "me";
    assert_true(mint_token(&root, &c, tok, sizeof tok, err) > 0);
    assert_int_equal(judge(&root, NOW, &v), JWT_OK);
}

static void test_delegation(void **state)
{
    char apub[MINT_JWK_MAX], link[MINT_TOKEN_MAX + 1];
    const char *prefix[] = {"ab"};
    const char *inside[] = {"ab23456789abcdef0123456789abcdef01234567"};
    const char *outside[] = {"cd23456789abcdef0123456789abcdef01234567"};
    const char *chain[1];
    struct mint_claims c = base();
    struct jwt_verdict v;
    (void)state;
    assert_true(mint_key_jwk(&app, false, apub, sizeof apub) > 0);
    /* root certifies app for prefix ab, for a day */
    c.exp = NOW + 86400;
    c.scoped = true;
    c.prefix = prefix;
    c.n_prefix = 1;
    c.cnf = apub;
    assert_true(mint_token(&root, &c, link, sizeof link, err) > 0);
    chain[0] = link;

    /* app signs a token inside the link: the tracker, trusting root alone, accepts it */
    c = base();
    c.scoped = true;
    c.ih = inside;
    c.n_ih = 1;
    c.chain = chain;
    c.n_chain = 1;
    assert_true(mint_token(&app, &c, tok, sizeof tok, err) > 0);
    assert_int_equal(judge(&root, NOW, &v), JWT_OK);
    assert_int_equal(v.scope.n_ih, 1);
    /* the outermost link names root's kid: app's key alone is no trusted signer */
    assert_int_equal(judge(&app, NOW, &v), JWT_NO_KEY);
    /* outside the link's scope: minted (the tool does not judge scopes), refused */
    c.ih = outside;
    assert_true(mint_token(&app, &c, tok, sizeof tok, err) > 0);
    assert_int_equal(judge(&root, NOW, &v), JWT_CHAIN_SCOPE);

    /* hostile: outliving the link; a link for another key; a cnf with d; a secret cnf */
    c.ih = inside;
    c.exp = NOW + 86401;
    assert_int_equal(mint_token(&app, &c, tok, sizeof tok, err), -1);
    assert_non_null(strstr(err, "outlive"));
    assert_string_equal(tok, "");
    c.exp = NOW + 60;
    assert_int_equal(mint_token(&root, &c, tok, sizeof tok, err), -1);
    assert_non_null(strstr(err, "another key"));
    chain[0] = "eyJhbGciOiJFZERTQSJ9.e30.AAAA";
    assert_int_equal(mint_token(&app, &c, tok, sizeof tok, err), -1);
    chain[0] = "not a token";
    assert_int_equal(mint_token(&app, &c, tok, sizeof tok, err), -1);
    assert_non_null(strstr(err, "compact"));

    char apriv[MINT_JWK_MAX];
    c = base();
    assert_true(mint_key_jwk(&app, true, apriv, sizeof apriv) > 0);
    c.cnf = apriv;
    assert_int_equal(mint_token(&root, &c, tok, sizeof tok, err), -1);
    assert_non_null(strstr(err, "private part"));
    c.cnf = "{\"kty\":\"oct\",\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}";
    assert_int_equal(mint_token(&root, &c, tok, sizeof tok, err), -1);
    assert_non_null(strstr(err, "shared secret"));
    c.cnf = "{\"kty\":";
    assert_int_equal(mint_token(&root, &c, tok, sizeof tok, err), -1);
    c.cnf = "{\"kty\":\"RSA\"}";
    assert_int_equal(mint_token(&root, &c, tok, sizeof tok, err), -1);

    const char *three[] = {link, link, link};
    c = base();
    c.chain = three;
    c.n_chain = 3;
    assert_int_equal(mint_token(&app, &c, tok, sizeof tok, err), -1);
    assert_non_null(strstr(err, "at most 2"));
}

static void test_hostile_claims(void **state)
{
    static const char *many[JWT_SCOPE_MAX + 1];
    static char big[JWT_SCOPE_MAX][JWT_ROOM_MAX];
    const char *bad_hex[] = {"0123456789abcdef0123456789abcdef0123456g"};
    const char *short_hex[] = {"0123"};
    const char *long_prefix[] = {"0123456789abcdef0123456789abcdef012345678"};
    const char *empty_room[] = {""};
    const char *bad_utf8[] = {"\xc0\xaf"}; /* overlong '/' */
    const char *surrogate[] = {"\xed\xa0\x80"};
    struct mint_claims c = base();
    (void)state;
    c.scoped = true;
    c.ih = bad_hex;
    c.n_ih = 1;
    assert_int_equal(mint_token(&root, &c, tok, sizeof tok, err), -1);
    assert_non_null(strstr(err, "40 hex"));
    c.ih = short_hex;
    assert_int_equal(mint_token(&root, &c, tok, sizeof tok, err), -1);
    c.n_ih = 0;
    c.prefix = long_prefix;
    c.n_prefix = 1;
    assert_int_equal(mint_token(&root, &c, tok, sizeof tok, err), -1);
    c.n_prefix = 0;
    c.rooms = empty_room;
    c.n_rooms = 1;
    assert_int_equal(mint_token(&root, &c, tok, sizeof tok, err), -1);
    c.rooms = bad_utf8;
    assert_int_equal(mint_token(&root, &c, tok, sizeof tok, err), -1);
    c.rooms = surrogate;
    assert_int_equal(mint_token(&root, &c, tok, sizeof tok, err), -1);
    for (unsigned i = 0; i <= JWT_SCOPE_MAX; i++)
        many[i] = "0123456789abcdef0123456789abcdef01234567";
    c.n_rooms = 0;
    c.ih = many;
    c.n_ih = JWT_SCOPE_MAX + 1;
    assert_int_equal(mint_token(&root, &c, tok, sizeof tok, err), -1);
    assert_non_null(strstr(err, "at most 128"));
    c.n_ih = 0;
    c.prefix = many;
    c.n_prefix = JWT_PREFIX_MAX + 1;
    assert_int_equal(mint_token(&root, &c, tok, sizeof tok, err), -1);
    /* each room fits, together they do not fit a token */
    for (unsigned i = 0; i < JWT_SCOPE_MAX; i++) {
        memset(big[i], 'r', JWT_ROOM_MAX - 1);
        big[i][JWT_ROOM_MAX - 1] = '\0';
        many[i] = big[i];
    }
    c.n_prefix = 0;
    c.rooms = many;
    c.n_rooms = JWT_SCOPE_MAX;
    assert_int_equal(mint_token(&root, &c, tok, sizeof tok, err), -1);
    assert_non_null(strstr(err, "too large"));
    /* times, and a buffer too small */
    c = base();
    c.exp = c.iat;
    assert_int_equal(mint_token(&root, &c, tok, sizeof tok, err), -1);
    c = base();
    assert_int_equal(mint_token(&root, &c, tok, 64, err), -1);
    c.sub = "\xff";
    assert_int_equal(mint_token(&root, &c, tok, sizeof tok, err), -1);
}

static void test_ttl(void **state)
{
    (void)state;
    assert_int_equal(mint_ttl("90"), 90);
    assert_int_equal(mint_ttl("90s"), 90);
    assert_int_equal(mint_ttl("30m"), 1800);
    assert_int_equal(mint_ttl("24h"), 86400);
    assert_int_equal(mint_ttl("7d"), 7 * 86400);
    assert_int_equal(mint_ttl("3660d"), 3660LL * 86400);
    assert_int_equal(mint_ttl("3661d"), -1);
    assert_int_equal(mint_ttl("0"), -1);
    assert_int_equal(mint_ttl("-5"), -1);
    assert_int_equal(mint_ttl("5x"), -1);
    assert_int_equal(mint_ttl("5hh"), -1);
    assert_int_equal(mint_ttl(""), -1);
    assert_int_equal(mint_ttl("h"), -1);
    assert_int_equal(mint_ttl("99999999999999999999d"), -1);
    assert_int_equal(mint_ttl(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_files),  cmocka_unit_test(test_plain_and_scoped),
        cmocka_unit_test(test_delegation), cmocka_unit_test(test_hostile_claims),
        cmocka_unit_test(test_ttl),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
