/* cli.c - `wstracker keygen` and `wstracker token`: argument parsing, files, random bytes
 * and the clock around access/mint.c, which makes the keys and tokens. Main thread, instead
 * of the tracker (nothing else is started). Errors: one line on stderr, exit status 2. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "file.h"
#include "mint.h"

#define CLI_FILE_MAX    65536 /* a key, JWK or token file */
#define CLI_LIST_MAX    128   /* --ih, --room, --prefix, --aud, --chain each (mint checks less) */
#define CLI_TTL_DEFAULT "24h"

__attribute__((format(printf, 2, 3))) static int die(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "wstracker %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

/* Trim surrounding white space in place. */
static char *trim(char *s)
{
    size_t n = strlen(s);
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* An argument that is either the text itself (it starts with c0, or looks like a token)
 * or the path of a file holding it. *owned is what to free. */
static char *text_or_file(const char *cmd, const char *arg, bool is_text, char **owned, int *rc)
{
    char err[256];
    size_t n;
    *owned = NULL;
    if (is_text)
        return (char *)arg;
    if (!(*owned = read_file(arg, CLI_FILE_MAX, &n, err, sizeof err))) {
        *rc = die(cmd, "%s", err);
        return NULL;
    }
    return trim(*owned);
}

static bool looks_compact(const char *s)
{
    return strchr(s, '.') && !strchr(s, '/') && strncmp(s, "ey", 2) == 0;
}

/* ---- keygen ---- */

static void keygen_usage(FILE *f)
{
    fprintf(f,
            "usage: wstracker keygen --out FILE\n\n"
            "Makes an Ed25519 key pair. FILE (created, mode 0600; an existing file is not\n"
            "overwritten) gets the private key as a JWK; the public JWK goes to stdout: give it\n"
            "to the tracker (--auth-pubkey FILE, or an entry of --auth-jwks), or to a link\n"
            "(wstracker token --cnf). Its kid is its RFC 7638 thumbprint.\n");
}

static int keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    const char *out = NULL;
    struct mint_key k;
    uint8_t seed[32];
    char priv[MINT_JWK_MAX], pub[MINT_JWK_MAX];
    int c, fd;
    ssize_t w;
    size_t n;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'o') {
            out = optarg;
        } else if (c == 'h') {
            keygen_usage(stdout);
            return 0;
        } else {
            keygen_usage(stderr);
            return 2;
        }
    }
    if (optind != argc)
        return die("keygen", "unexpected argument '%s'", argv[optind]);
    if (!out)
        return die("keygen", "%s", "--out FILE is required (where the private key goes)");
    randombytes_buf(seed, sizeof seed);
    mint_key_from_seed(&k, seed);
    sodium_memzero(seed, sizeof seed);
    if (mint_key_jwk(&k, true, priv, sizeof priv) < 0 ||
        mint_key_jwk(&k, false, pub, sizeof pub) < 0)
        return die("keygen", "%s", "key does not fit its buffer");
    if ((fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        fprintf(stderr, "wstracker keygen: %s: %s%s\n", out, strerror(errno),
                errno == EEXIST ? " (not overwritten; remove it or choose another file)" : "");
        return 2;
    }
    n = strlen(priv);
    priv[n++] = '\n';
    w = write(fd, priv, n);
    sodium_memzero(priv, sizeof priv);
    sodium_memzero(&k, sizeof k);
    if (w != (ssize_t)n || fsync(fd) != 0 || close(fd) != 0) {
        fprintf(stderr, "wstracker keygen: %s: write failed: %s\n", out, strerror(errno));
        unlink(out);
        return 2;
    }
    printf("%s\n", pub);
    return 0;
}

/* ---- token ---- */

static void token_usage(FILE *f)
{
    fprintf(f,
            "usage: wstracker token --key FILE [--ttl DURATION] [--sub S] [--iss S] [--aud S]...\n"
            "                       [--jti S] [--ih HEX]... [--prefix HEX]... [--room NAME]...\n"
            "                       [--cnf PUBJWK] [--chain LINK]...\n\n"
            "Prints an EdDSA access token (a JWT) signed with the key FILE that wstracker keygen\n"
            "wrote. Without --ih, --prefix or --room it allows any info hash.\n\n"
            "  --key FILE       the private key (JWK, from wstracker keygen --out)\n"
            "  --ttl DURATION   lifetime: 90, 90s, 30m, 24h or 7d, at most 10 years (default %s)\n"
            "  --sub S          subject (who it is for)\n"
            "  --iss S          issuer (the tracker's --auth-issuer, when it has one)\n"
            "  --aud S          audience (repeatable; the tracker's --auth-audience)\n"
            "  --jti S          token id for --revoked (default: 32 random hex digits)\n"
            "  --ih HEX         an info hash it allows, 40 hex digits (repeatable)\n"
            "  --prefix HEX     info hashes starting with these 1..40 hex digits (repeatable)\n"
            "  --room NAME      a room it allows: the SHA-1 of NAME, as room.js computes it\n"
            "                   (repeatable)\n"
            "  --cnf PUBJWK     make a delegation link: it certifies this public key (a JWK, as\n"
            "                   text or a file), which may then sign tokens within its scope\n"
            "                   and lifetime without the tracker's key\n"
            "  --chain LINK     sign as a delegate: the link (text or a file) that certifies\n"
            "                   --key; repeat for a second link, nearest first (at most 2)\n",
            CLI_TTL_DEFAULT);
}

struct token_args {
    const char *key, *ttl, *sub, *iss, *jti, *cnf;
    const char *aud[CLI_LIST_MAX], *ih[CLI_LIST_MAX], *prefix[CLI_LIST_MAX], *rooms[CLI_LIST_MAX],
        *chain[CLI_LIST_MAX];
    unsigned n_aud, n_ih, n_prefix, n_rooms, n_chain;
};

static int push(const char **list, unsigned *n, const char *v, const char *flag)
{
    if (*n == CLI_LIST_MAX)
        return die("token", "too many %s", flag);
    list[(*n)++] = v;
    return 0;
}

static int token_parse(int argc, char **argv, struct token_args *a)
{
    static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
                                         {"ttl", required_argument, NULL, 't'},
                                         {"sub", required_argument, NULL, 's'},
                                         {"iss", required_argument, NULL, 'i'},
                                         {"aud", required_argument, NULL, 'a'},
                                         {"jti", required_argument, NULL, 'j'},
                                         {"ih", required_argument, NULL, 'H'},
                                         {"prefix", required_argument, NULL, 'p'},
                                         {"room", required_argument, NULL, 'r'},
                                         {"cnf", required_argument, NULL, 'c'},
                                         {"chain", required_argument, NULL, 'C'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    int c, rc = 0;
    a->ttl = CLI_TTL_DEFAULT;
    while (rc == 0 && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k': a->key = optarg; break;
        case 't': a->ttl = optarg; break;
        case 's': a->sub = optarg; break;
        case 'i': a->iss = optarg; break;
        case 'j': a->jti = optarg; break;
        case 'c': a->cnf = optarg; break;
        case 'a': rc = push(a->aud, &a->n_aud, optarg, "--aud"); break;
        case 'H': rc = push(a->ih, &a->n_ih, optarg, "--ih"); break;
        case 'p': rc = push(a->prefix, &a->n_prefix, optarg, "--prefix"); break;
        case 'r': rc = push(a->rooms, &a->n_rooms, optarg, "--room"); break;
        case 'C': rc = push(a->chain, &a->n_chain, optarg, "--chain"); break;
        case 'h': token_usage(stdout); return 1;
        default: token_usage(stderr); return 2;
        }
    }
    if (rc)
        return rc;
    if (optind != argc)
        return die("token", "unexpected argument '%s'", argv[optind]);
    if (!a->key)
        return die("token", "%s", "--key FILE is required (from wstracker keygen --out)");
    return 0;
}

static int token(int argc, char **argv)
{
    struct token_args a = {0};
    struct mint_claims c = {0};
    struct mint_key k;
    char err[JWT_ERR_LEN], jti[33], *keytext = NULL, *cnf_owned = NULL;
    char *chain_owned[CLI_LIST_MAX] = {0};
    char *out = malloc(MINT_TOKEN_MAX + 1);
    size_t n = 0;
    int64_t ttl;
    int rc = token_parse(argc, argv, &a);
    if (rc || !out) {
        free(out);
        return rc == 1 ? 0 : rc ? rc : die("token", "%s", "out of memory");
    }
    if ((ttl = mint_ttl(a.ttl)) < 0) {
        rc = die("token", "--ttl '%s': want 90, 90s, 30m, 24h or 7d, at most 10 years", a.ttl);
        goto done;
    }
    if (!(keytext = read_file(a.key, CLI_FILE_MAX, &n, err, sizeof err))) {
        rc = die("token", "%s", err);
        goto done;
    }
    if (mint_key_read(&k, keytext, n, err) != 0) {
        rc = die("token", "%s", err);
        goto done;
    }
    if (a.cnf && !(c.cnf = text_or_file("token", a.cnf, a.cnf[0] == '{', &cnf_owned, &rc)))
        goto done;
    for (unsigned i = 0; i < a.n_chain; i++)
        if (!(a.chain[i] = text_or_file("token", a.chain[i], looks_compact(a.chain[i]),
                                        &chain_owned[i], &rc)))
            goto done;
    if (!a.jti) {
        uint8_t r[16];
        randombytes_buf(r, sizeof r);
        sodium_bin2hex(jti, sizeof jti, r, sizeof r);
        a.jti = jti;
    }
    c.iat = (int64_t)time(NULL);
    c.exp = c.iat + ttl;
    c.sub = a.sub;
    c.iss = a.iss;
    c.jti = a.jti;
    c.aud = a.aud;
    c.n_aud = a.n_aud;
    c.scoped = a.n_ih || a.n_prefix || a.n_rooms;
    c.ih = a.ih;
    c.n_ih = a.n_ih;
    c.prefix = a.prefix;
    c.n_prefix = a.n_prefix;
    c.rooms = a.rooms;
    c.n_rooms = a.n_rooms;
    c.chain = a.chain;
    c.n_chain = a.n_chain;
    if (mint_token(&k, &c, out, MINT_TOKEN_MAX + 1, err) < 0)
        rc = die("token", "%s", err);
    else
        printf("%s\n", out);
done:
    sodium_memzero(&k, sizeof k);
    if (keytext) {
        sodium_memzero(keytext, n);
        free(keytext);
    }
    free(cnf_owned);
    for (unsigned i = 0; i < a.n_chain; i++)
        free(chain_owned[i]);
    free(out);
    return rc;
}

int cli_main(int argc, char **argv)
{
    if (argc < 2)
        return -1;
    if (strcmp(argv[1], "keygen") != 0 && strcmp(argv[1], "token") != 0)
        return -1;
    if (sodium_init() < 0) {
        fprintf(stderr, "wstracker: libsodium failed to initialise\n");
        return 1;
    }
    optind = 1;
    return strcmp(argv[1], "keygen") == 0 ? keygen(argc - 1, argv + 1) : token(argc - 1, argv + 1);
}
