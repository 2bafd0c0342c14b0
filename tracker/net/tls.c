/* tls.c - wss://: the certificate and key, checked by main, installed by each worker.
 *
 * Owns:   struct net_tls (a loaded --tls-cert / --tls-key pair as immutable PEM
 *         text, with its subject, expiry and generation), the TLS settings of
 *         a worker's TLS vhost (TLS 1.2+, the cipher list) and installing a new
 *         generation into that vhost's SSL_CTX.
 * Thread: net_tls_make / net_tls_free: main. tls_vhost_init and tls_sweep:
 *         the worker owning the SSL_CTX, the only thread that touches it.
 * Why:    each worker has its own lws context, vhost and SSL_CTX; OpenSSL lets
 *         an SSL_CTX change while SSLs made from it live (SSL_new copies the
 *         certificate and key references), but not from two threads at once.
 *         So main only parses and checks (its own OpenSSL objects, freed at
 *         once) and publishes the PEM text; each worker parses it again into
 *         objects of its own and swaps them into its SSL_CTX between events.
 *         New handshakes then get the new certificate; established
 *         connections keep theirs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <sodium.h>

#include "net.h"

/* Mozilla's "intermediate" TLS 1.2 suites without DHE (ECDHE with AES-GCM or
 * ChaCha20-Poly1305); TLS 1.3 keeps OpenSSL's default suites. */
#define TLS_CIPHERS_12                                                                             \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* OpenSSL's reason for the last error of this thread, after what. */
static void ossl_err(char *err, size_t cap, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    char why[256];
    if (e)
        ERR_error_string_n(e, why, sizeof why);
    else
        snprintf(why, sizeof why, "no PEM data");
    snprintf(err, cap, "%s: %s", what, why);
    ERR_clear_error();
}

/* An encrypted key is refused (no passphrase prompt on a terminal). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

/* The PEM text as OpenSSL objects: the first certificate, the rest of the
 * chain, the key; checked to belong together. 0, or -1 with err. */
static int parse(const struct net_tls *t, X509 **cert, STACK_OF(X509) * *chain, EVP_PKEY **key,
                 char *err, size_t cap)
{
    BIO *b;
    X509 *x;
    *cert = NULL;
    *chain = NULL;
    *key = NULL;
    ERR_clear_error();
    if (!(b = BIO_new_mem_buf(t->cert_pem, (int)t->cert_len)))
        goto oom;
    *cert = PEM_read_bio_X509_AUX(b, NULL, no_passphrase, NULL);
    if (!*cert) {
        BIO_free(b);
        ossl_err(err, cap, "certificate");
        return -1;
    }
    if (!(*chain = sk_X509_new_null())) {
        BIO_free(b);
        goto oom;
    }
    while ((x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)) != NULL) {
        if (!sk_X509_push(*chain, x)) {
            X509_free(x);
            BIO_free(b);
            goto oom;
        }
    }
    BIO_free(b);
    if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
        ossl_err(err, cap, "certificate chain");
        goto fail;
    }
    ERR_clear_error(); /* the end of the text */
    if (!(b = BIO_new_mem_buf(t->key_pem, (int)t->key_len)))
        goto oom;
    *key = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
    BIO_free(b);
    if (!*key) {
        ossl_err(err, cap, "private key");
        goto fail;
    }
    if (X509_check_private_key(*cert, *key) != 1) {
        ossl_err(err, cap, "private key does not match the certificate");
        goto fail;
    }
    return 0;
oom:
    snprintf(err, cap, "out of memory");
fail:
    X509_free(*cert);
    sk_X509_pop_free(*chain, X509_free);
    EVP_PKEY_free(*key);
    *cert = NULL;
    *chain = NULL;
    *key = NULL;
    return -1;
}

static void drop(X509 *cert, STACK_OF(X509) * chain, EVP_PKEY *key)
{
    X509_free(cert);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
}

void net_tls_free(struct net_tls *t)
{
    if (!t)
        return;
    if (t->key_pem)
        sodium_memzero(t->key_pem, t->key_len);
    free(t->key_pem);
    free(t->cert_pem);
    free(t);
}

struct net_tls *net_tls_make(const char *cert, size_t cert_len, const char *key, size_t key_len,
                             char *err, size_t cap)
{
    static uint64_t generation; /* main only */
    struct net_tls *t = calloc(1, sizeof *t);
    X509 *x = NULL;
    STACK_OF(X509) *chain = NULL;
    EVP_PKEY *pk = NULL;
    struct tm tm;
    BIO *b;
    if (!t || !(t->cert_pem = malloc(cert_len + 1)) || !(t->key_pem = malloc(key_len + 1))) {
        snprintf(err, cap, "out of memory");
        net_tls_free(t);
        return NULL;
    }
    memcpy(t->cert_pem, cert, cert_len);
    t->cert_pem[cert_len] = '\0';
    t->cert_len = cert_len;
    memcpy(t->key_pem, key, key_len);
    t->key_pem[key_len] = '\0';
    t->key_len = key_len;
    if (parse(t, &x, &chain, &pk, err, cap) != 0) {
        net_tls_free(t);
        return NULL;
    }
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
        t->not_after = (int64_t)timegm(&tm);
    if ((b = BIO_new(BIO_s_mem())) != NULL) {
        int n = X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
        if (n > 0) {
            n = BIO_read(b, t->subject, (int)sizeof t->subject - 1);
            t->subject[n > 0 ? n : 0] = '\0';
        }
        BIO_free(b);
    }
    if (!t->subject[0])
        snprintf(t->subject, sizeof t->subject, "(no subject)");
    t->key_type = EVP_PKEY_get_base_id(pk);
    drop(x, chain, pk);
    ERR_clear_error();
    t->gen = ++generation;
    return t;
}

static const char *key_type_name(int id)
{
    const char *n = OBJ_nid2sn(id);
    return n ? n : "unknown";
}

bool net_tls_key_type_changed(const struct net_tls *old, const struct net_tls *n, char *err,
                              size_t cap)
{
    if (old->key_type == n->key_type)
        return false;
    snprintf(err, cap, "the key type changed (%s to %s): restart the tracker to switch",
             key_type_name(old->key_type), key_type_name(n->key_type));
    return true;
}

/* Put t's certificate, chain and key into ctx. 0, or -1 with err. */
static int install(SSL_CTX *ctx, const struct net_tls *t, char *err, size_t cap)
{
    X509 *x;
    STACK_OF(X509) * chain;
    EVP_PKEY *pk;
    int ok;
    if (parse(t, &x, &chain, &pk, err, cap) != 0)
        return -1;
    /* In this order no handshake can see a mismatched pair: this thread runs
     * every handshake of ctx, and none runs until these return. */
    ok = SSL_CTX_use_certificate(ctx, x) == 1 && SSL_CTX_set1_chain(ctx, chain) == 1 &&
         SSL_CTX_use_PrivateKey(ctx, pk) == 1 && SSL_CTX_check_private_key(ctx) == 1;
    if (!ok)
        ossl_err(err, cap, "installing the certificate");
    drop(x, chain, pk); /* ctx holds its own references */
    return ok ? 0 : -1;
}

int tls_vhost_init(struct net_worker *nw, struct ssl_ctx_st *ctx)
{
    struct worker *w = nw->w;
    struct net_tls *t = atomic_load_explicit(&w->t->tls, memory_order_seq_cst);
    char err[512];
    if (!t)
        return -1;
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1) {
        ossl_err(err, sizeof err, "TLS settings");
        log_msg(LOG_ERROR, "worker %u: %s", w->idx, err);
        return -1;
    }
    /* Mozilla intermediate: the client's order (it knows whether it has AES
     * in hardware); lws sets the server's. */
    SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (install(ctx, t, err, sizeof err) != 0) {
        log_msg(LOG_ERROR, "worker %u: %s", w->idx, err);
        return -1;
    }
    nw->ssl_ctx = ctx;
    atomic_store_explicit(&w->tls_gen, t->gen, memory_order_seq_cst);
    return 0;
}

void tls_sweep(struct net_worker *nw)
{
    struct worker *w = nw->w;
    struct net_tls *t;
    char err[512];
    if (!nw->ssl_ctx)
        return;
    /* seq_cst, as the lists' loads: once main sees tls_gen move to the new
     * generation, this worker no longer reads the old struct net_tls. */
    t = atomic_load_explicit(&w->t->tls, memory_order_seq_cst);
    if (!t || t->gen == atomic_load_explicit(&w->tls_gen, memory_order_relaxed))
        return;
    if (t->gen == nw->tls_failed_gen)
        return; /* failed before: main says so, and keeps the old pair for the others */
    if (install(nw->ssl_ctx, t, err, sizeof err) != 0) {
        /* tls_gen stays: main sees this worker did not take it (its 5 s wait) */
        log_msg(LOG_ERROR, "worker %u: TLS certificate not installed: %s", w->idx, err);
        nw->tls_failed_gen = t->gen;
        return;
    }
    atomic_store_explicit(&w->tls_gen, t->gen, memory_order_seq_cst);
}
