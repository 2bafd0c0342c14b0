/* config.c - the tracker's settings: embedded defaults < environment < flags.
 *
 * Owns:   the settings table, --help and --version.
 * Thread: main thread, before workers start.
 * Why:    every flag has an environment variable (WSTRACKER_<FLAG>) so a Docker
 *         user configures the tracker without a config file.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "scan.h"

#ifndef WSTRACKER_VERSION
#define WSTRACKER_VERSION "0.0.0"
#endif

enum opt_type {
    OPT_UINT,
    OPT_BOOL,
    OPT_LISTEN,
    OPT_SECRET,
    OPT_TURN_URL,
    OPT_CIDR,
    OPT_ORIGIN,
    OPT_PATH
};

struct opt {
    const char *flag; /* without the leading "--" */
    const char *env;
    enum opt_type type;
    size_t offset; /* into struct config */
    unsigned min, max;
    const char *def;      /* the default, as a value of this option would be written; NULL: none */
    const char *def_text; /* how --help and the README say the default, when not def itself */
    const char *help;
};

#define OFF(field) offsetof(struct config, field)

/* Every option, once: flag, environment variable, bounds, default and help.
 * config_load applies the defaults from here, --help prints them from here, and
 * tests/docs/options.sh checks the README's option table against --help. */
static const struct opt opts[] = {
    {"listen", "WSTRACKER_LISTEN", OPT_LISTEN, 0, 0, 0, "127.0.0.1:8000", NULL,
     "HOST:PORT to serve (repeatable; [::1]:8000 for IPv6)"},
    {"threads", "WSTRACKER_THREADS", OPT_UINT, OFF(threads), 0, 64, "0", "cores",
     "worker threads (0: one per core)"},
    {"interval", "WSTRACKER_INTERVAL", OPT_UINT, OFF(interval), 1, 86400, "120", NULL,
     "announce interval in seconds sent to clients"},
    {"max-offers", "WSTRACKER_MAX_OFFERS", OPT_UINT, OFF(max_offers), 0, PROTO_OFFERS_MAX, "10",
     NULL, "offers forwarded per announce"},
    {"max-peers-per-swarm", "WSTRACKER_MAX_PEERS_PER_SWARM", OPT_UINT, OFF(max_peers_per_swarm), 1,
     1000000, "1000", NULL, "peers kept per swarm, most recent first"},
    {"peer-timeout", "WSTRACKER_PEER_TIMEOUT", OPT_UINT, OFF(peer_timeout), 1, 86400, "180", NULL,
     "seconds without an announce before a peer expires"},
    {"max-message-size", "WSTRACKER_MAX_MESSAGE_SIZE", OPT_UINT, OFF(max_message_size), 256,
     16u << 20, "65536", NULL, "largest accepted message in bytes; larger closes with 1009"},
    {"max-scrape-hashes", "WSTRACKER_MAX_SCRAPE_HASHES", OPT_UINT, OFF(max_scrape_hashes), 1,
     PROTO_SCRAPE_HASHES_MAX, "256", NULL, "info hashes per scrape"},
    {"no-full-scrape", "WSTRACKER_NO_FULL_SCRAPE", OPT_BOOL, OFF(no_full_scrape), 0, 1, "off", NULL,
     "refuse scrapes without info_hash"},
    {"max-torrents-per-conn", "WSTRACKER_MAX_TORRENTS_PER_CONN", OPT_UINT,
     OFF(max_torrents_per_conn), 1, 1000000, "4096", NULL,
     "(info_hash, peer_id) pairs one connection may hold"},
    {"max-peer-ids-per-swarm", "WSTRACKER_MAX_PEER_IDS_PER_SWARM", OPT_UINT,
     OFF(max_peer_ids_per_swarm), 1, 1000000, "2", NULL,
     "peer_ids one connection may hold in one swarm"},
    {"max-peers", "WSTRACKER_MAX_PEERS", OPT_UINT, OFF(max_peers), 0, 4000000000u, "0",
     "physical memory / 4 KiB", "peers held by the whole tracker (0: from memory)"},
    {"max-swarms", "WSTRACKER_MAX_SWARMS", OPT_UINT, OFF(max_swarms), 0, 4000000000u, "0",
     "as --max-peers", "swarms held by the whole tracker, empty ones included"},
    {"max-connections", "WSTRACKER_MAX_CONNECTIONS", OPT_UINT, OFF(max_connections), 0, 100000000,
     "0", "open-file limit - 64",
     "sockets open at once, of every kind (0: from the open-file limit)"},
    {"outq-soft-kib", "WSTRACKER_OUTQ_SOFT_KIB", OPT_UINT, OFF(outq_soft_kib), 1, 1u << 20, "256",
     NULL, "KiB queued to one connection before offers to it are dropped and reading stops"},
    {"outq-hard-kib", "WSTRACKER_OUTQ_HARD_KIB", OPT_UINT, OFF(outq_hard_kib), 1, 1u << 20, "1024",
     NULL, "KiB queued to one connection before it is closed with 1008"},
    {"idle-timeout", "WSTRACKER_IDLE_TIMEOUT", OPT_UINT, OFF(idle_timeout), 1, 86400, "300", NULL,
     "seconds a WebSocket may go without a complete message before it is closed"},
    {"handshake-timeout", "WSTRACKER_HANDSHAKE_TIMEOUT", OPT_UINT, OFF(handshake_timeout), 1, 3600,
     "10", NULL,
     "seconds a socket that is not a WebSocket may stay, from accept or its last request"},
    {"relay", "WSTRACKER_RELAY", OPT_BOOL, OFF(relay), 0, 1, "on", NULL,
     "forward \"action\":\"relay\" messages between members of a room (off: \"relay disabled\")"},
    {"relay-max-bytes", "WSTRACKER_RELAY_MAX_BYTES", OPT_UINT, OFF(relay_max_bytes), 1, 16u << 20,
     "16384", NULL, "bytes of a relay's data; longer: \"relay data too large\""},
    {"relay-rate", "WSTRACKER_RELAY_RATE", OPT_UINT, OFF(relay_rate_kib), 1, 1u << 20, "64", NULL,
     "KiB/s of relay data x recipients per connection, burst 4 s' worth"},
    {"msg-rate", "WSTRACKER_MSG_RATE", OPT_UINT, OFF(msg_rate), 0, 100000, "20", NULL,
     "messages/s one connection may send (0: no limit); past it: \"rate limited\""},
    {"msg-burst", "WSTRACKER_MSG_BURST", OPT_UINT, OFF(msg_burst), 1, 1000000, "100", NULL,
     "messages one connection may send at once before --msg-rate applies"},
    {"announce-rate", "WSTRACKER_ANNOUNCE_RATE", OPT_UINT, OFF(announce_rate), 0, 1000, "10", NULL,
     "announces with offers/s from one address (IPv6: /64) into one swarm (0: no limit); past "
     "it their offers are not forwarded"},
    {"announce-burst", "WSTRACKER_ANNOUNCE_BURST", OPT_UINT, OFF(announce_burst), 1, 100000, "60",
     NULL, "such announces one address may send into one swarm at once"},
    {"max-conns-per-ip", "WSTRACKER_MAX_CONNS_PER_IP", OPT_UINT, OFF(max_conns_per_ip), 0, 1000000,
     "64", NULL, "WebSocket connections from one address (IPv6: one /64; 0: no cap); more get 429"},
    {"trust-proxy", "WSTRACKER_TRUST_PROXY", OPT_CIDR, 0, 0, 0, NULL, "none",
     "CIDR of a reverse proxy whose X-Forwarded-For names the client (repeatable)"},
    {"allow-origin", "WSTRACKER_ALLOW_ORIGIN", OPT_ORIGIN, 0, 0, 0, NULL, "any",
     "browser Origin allowed to connect, https://app.example.org or https://*.example.org "
     "(repeatable, up to 16); others get 403"},
    {"allow-hashes", "WSTRACKER_ALLOW_HASHES", OPT_PATH, OFF(allow_hashes), 0, 0, NULL, "none",
     "file of 40-hex info hashes served, one per line; others: \"info hash not allowed\" "
     "(reread on SIGHUP)"},
    {"deny-hashes", "WSTRACKER_DENY_HASHES", OPT_PATH, OFF(deny_hashes), 0, 0, NULL, "none",
     "file of 40-hex info hashes refused, one per line (reread on SIGHUP)"},
    {"auth-jwks", "WSTRACKER_AUTH_JWKS", OPT_PATH, OFF(auth_jwks), 0, 0, NULL, "none",
     "JWK Set file of keys that sign access tokens; turns tokens on (reread on SIGHUP)"},
    {"auth-pubkey", "WSTRACKER_AUTH_PUBKEY", OPT_PATH, OFF(auth_pubkey), 0, 0, NULL, "none",
     "public key file (PEM, a JWK, or raw Ed25519 in hex/base64url) that signs tokens; turns "
     "tokens on"},
    {"auth-hs256-secret-file", "WSTRACKER_AUTH_HS256_SECRET_FILE", OPT_PATH, OFF(auth_secret_file),
     0, 0, NULL, "none",
     "file holding an HS256 secret (>= 32 bytes; one final newline dropped); turns tokens on"},
    {"auth-issuer", "WSTRACKER_AUTH_ISSUER", OPT_PATH, OFF(auth_issuer), 0, 0, NULL, "any",
     "iss a token must carry"},
    {"auth-audience", "WSTRACKER_AUTH_AUDIENCE", OPT_PATH, OFF(auth_audience), 0, 0, NULL, "any",
     "aud a token must name"},
    {"auth-leeway", "WSTRACKER_AUTH_LEEWAY", OPT_UINT, OFF(auth_leeway), 0, 3600, "30", NULL,
     "seconds of clock skew allowed on a token's exp and nbf"},
    {"revoked", "WSTRACKER_REVOKED", OPT_PATH, OFF(revoked), 0, 0, NULL, "none",
     "file of revoked token jti values or key thumbprints, one per line (reread on SIGHUP)"},
    {"turn-secret", "WSTRACKER_TURN_SECRET", OPT_SECRET, 0, 0, 0, NULL, "none",
     "TURN static-auth-secret: GET /turn hands out credentials for it (prefer the environment)"},
    {"turn-url", "WSTRACKER_TURN_URL", OPT_TURN_URL, 0, 0, 0, NULL, "none",
     "TURN/STUN URL put in GET /turn replies (repeatable, up to 4; needs --turn-secret)"},
    {"turn-ttl", "WSTRACKER_TURN_TTL", OPT_UINT, OFF(turn_ttl), 60, 86400 * 7, "3600", NULL,
     "seconds a TURN credential from GET /turn stays valid"},
    {"stats-interval", "WSTRACKER_STATS_INTERVAL", OPT_UINT, OFF(stats_interval), 1, 3600, "10",
     NULL, "seconds between the samples of the /stats page's history (360 kept)"},
};

#define N_OPTS (sizeof opts / sizeof opts[0])

static int apply(struct config *cfg, const struct opt *o, const char *value, const char *origin,
                 char *err);

/* The table's defaults; the listen default is applied last, only when no
 * listen address was given. */
static void defaults(struct config *cfg)
{
    char err[CONFIG_ERR_LEN];
    memset(cfg, 0, sizeof *cfg);
    for (size_t k = 0; k < N_OPTS; k++)
        if (opts[k].def && opts[k].type != OPT_LISTEN &&
            apply(cfg, &opts[k], opts[k].def, "default", err) != 0)
            abort(); /* a default outside its own bounds: a bug in the table */
}

static void usage(FILE *f)
{
    fprintf(f, "usage: wstracker [options]\n\n"
               "A WebTorrent WebSocket tracker. With no options it serves ws://127.0.0.1:8000.\n"
               "Every option can also be set with its environment variable.\n"
               "Access tokens: wstracker keygen --help, wstracker token --help.\n\n");
    for (size_t k = 0; k < N_OPTS; k++) {
        char left[64];
        const char *d = opts[k].def_text ? opts[k].def_text : opts[k].def;
        snprintf(left, sizeof left, "--%s%s", opts[k].flag,
                 opts[k].type == OPT_BOOL       ? " [on|off]"
                 : opts[k].type == OPT_LISTEN   ? " HOST:PORT"
                 : opts[k].type == OPT_SECRET   ? " S"
                 : opts[k].type == OPT_TURN_URL ? " URL"
                 : opts[k].type == OPT_CIDR     ? " CIDR"
                 : opts[k].type == OPT_ORIGIN   ? " ORIGIN"
                 : opts[k].type == OPT_PATH     ? " FILE"
                                                : " N");
        fprintf(f, "  %-30s %s (default %s)\n  %-30s   env %s\n", left, opts[k].help, d, "",
                opts[k].env);
    }
    fprintf(f, "  %-30s %s\n  %-30s %s\n", "--help", "show this help", "--version",
            "show the version");
}

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    char *end;
    unsigned long v;
    if (!s || !*s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    if (!s || !strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")) {
        *out = true;
        return 0;
    }
    if (!strcmp(s, "0") || !strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")) {
        *out = false;
        return 0;
    }
    return -1;
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT" (all IPv4 interfaces). */
static int parse_listen(const char *s, struct config_listen *l)
{
    const char *colon;
    size_t hl;
    unsigned port;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return -1;
        hl = (size_t)(rb - s - 1);
        if (hl == 0 || hl >= sizeof l->host)
            return -1;
        memcpy(l->host, s + 1, hl);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -1;
        hl = (size_t)(colon - s);
        if (hl >= sizeof l->host)
            return -1;
        memcpy(l->host, s, hl);
        if (hl == 0)
            strcpy(l->host, "0.0.0.0"), hl = 7;
    }
    l->host[hl] = '\0';
    if (parse_uint(colon + 1, 0, 65535, &port) != 0)
        return -1;
    l->port = (uint16_t)port;
    return 0;
}

/* The item count of a repeatable option's list, or NULL for other types. */
static unsigned *list_count(struct config *cfg, enum opt_type t)
{
    switch (t) {
    case OPT_LISTEN: return &cfg->n_listen;
    case OPT_TURN_URL: return &cfg->n_turn_urls;
    case OPT_CIDR: return &cfg->n_trust_proxy;
    case OPT_ORIGIN: return &cfg->n_allow_origin;
    default: return NULL;
    }
}

/* One item of a repeatable option: add tok to cfg (counting it), or say why not in err. */
typedef int (*add_item_fn)(struct config *cfg, const char *tok, char *err);

/* A repeatable option's value: one or more items, comma- or space-separated
 * (the environment gives them all in one variable), at most max in all. */
static int add_items(struct config *cfg, const char *value, char *err, const unsigned *count,
                     unsigned max, const char *what, add_item_fn add)
{
    char buf[4096];
    char *save = NULL;
    if (strlen(value ? value : "") >= sizeof buf) {
        snprintf(err, CONFIG_ERR_LEN, "%s: value longer than %zu bytes", what, sizeof buf - 1);
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", value ? value : "");
    for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (*count >= max) {
            snprintf(err, CONFIG_ERR_LEN, "at most %u %s", max, what);
            return -1;
        }
        if (add(cfg, tok, err) != 0)
            return -1;
    }
    return 0;
}

static int add_listen(struct config *cfg, const char *tok, char *err)
{
    if (parse_listen(tok, &cfg->listen[cfg->n_listen]) != 0) {
        snprintf(err, CONFIG_ERR_LEN, "bad listen address '%.100s' (want HOST:PORT or [V6]:PORT)",
                 tok);
        return -1;
    }
    cfg->n_listen++;
    return 0;
}

static int add_turn_url(struct config *cfg, const char *tok, char *err)
{
    if (strlen(tok) >= CONFIG_TURN_URL) {
        snprintf(err, CONFIG_ERR_LEN, "TURN URL longer than %d bytes", CONFIG_TURN_URL - 1);
        return -1;
    }
    strcpy(cfg->turn_urls[cfg->n_turn_urls++], tok);
    return 0;
}

static int add_cidr(struct config *cfg, const char *tok, char *err)
{
    if (ip_cidr_parse(tok, &cfg->trust_proxy[cfg->n_trust_proxy]) != 0) {
        snprintf(err, CONFIG_ERR_LEN,
                 "bad --trust-proxy '%.100s' (want an address or CIDR: 10.0.0.0/8, ::1)", tok);
        return -1;
    }
    cfg->n_trust_proxy++;
    return 0;
}

static int add_origin(struct config *cfg, const char *tok, char *err)
{
    if (strlen(tok) >= ORIGIN_MAX || origin_pattern_check(tok) != 0) {
        snprintf(err, CONFIG_ERR_LEN,
                 "bad --allow-origin '%.80s' (want scheme://host[:port] or "
                 "scheme://*.domain[:port])",
                 tok);
        return -1;
    }
    strcpy(cfg->allow_origin[cfg->n_allow_origin++], tok);
    return 0;
}

static int apply(struct config *cfg, const struct opt *o, const char *value, const char *origin,
                 char *err)
{
    char *base = (char *)cfg;
    switch (o->type) {
    case OPT_LISTEN:
        return add_items(cfg, value, err, list_count(cfg, o->type), CONFIG_LISTEN_MAX,
                         "listen addresses", add_listen);
    case OPT_TURN_URL:
        return add_items(cfg, value, err, list_count(cfg, o->type), CONFIG_TURN_URLS, "TURN URLs",
                         add_turn_url);
    case OPT_CIDR:
        return add_items(cfg, value, err, list_count(cfg, o->type), REALIP_TRUSTED_MAX,
                         "--trust-proxy ranges", add_cidr);
    case OPT_ORIGIN:
        return add_items(cfg, value, err, list_count(cfg, o->type), ORIGIN_LIST_MAX,
                         "--allow-origin", add_origin);
    case OPT_PATH:
        if (value && *value && strlen(value) < CONFIG_PATH) {
            strcpy(base + o->offset, value);
            return 0;
        }
        snprintf(err, CONFIG_ERR_LEN, "%s %s: want a value of 1..%d bytes", origin, o->flag,
                 CONFIG_PATH - 1);
        return -1;
    case OPT_SECRET:
        if (value && *value && strlen(value) < CONFIG_SECRET) {
            strcpy(cfg->turn_secret, value);
            return 0;
        }
        snprintf(err, CONFIG_ERR_LEN, "%s %s: want 1..%d bytes", origin, o->flag,
                 CONFIG_SECRET - 1);
        return -1;
    case OPT_BOOL:
        if (parse_bool(value, (bool *)(void *)(base + o->offset)) == 0)
            return 0;
        break;
    case OPT_UINT:
        if (parse_uint(value, o->min, o->max, (unsigned *)(void *)(base + o->offset)) == 0)
            return 0;
        snprintf(err, CONFIG_ERR_LEN, "%s %s: '%s' is not a number in %u..%u", origin, o->flag,
                 value ? value : "", o->min, o->max);
        return -1;
    }
    snprintf(err, CONFIG_ERR_LEN, "%s %s: bad value '%s'", origin, o->flag, value ? value : "");
    return -1;
}

enum config_result config_load(struct config *cfg, int argc, char **argv, char *err)
{
    unsigned from_flags = 0; /* bit t: a flag of list type t has replaced the environment's */
    defaults(cfg);

    for (size_t k = 0; k < N_OPTS; k++) {
        const char *v = getenv(opts[k].env);
        if (v && *v && apply(cfg, &opts[k], v, "environment", err) != 0)
            return CONFIG_EXIT_ERR;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *value = NULL;
        const struct opt *o = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CONFIG_EXIT_OK;
        }
        if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
            printf("wstracker %s\n", WSTRACKER_VERSION);
            return CONFIG_EXIT_OK;
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, CONFIG_ERR_LEN, "unexpected argument '%s' (see --help)", a);
            return CONFIG_EXIT_ERR;
        }
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        for (size_t k = 0; k < N_OPTS; k++)
            if (strlen(opts[k].flag) == nl && !strncmp(a + 2, opts[k].flag, nl))
                o = &opts[k];
        if (!o) {
            snprintf(err, CONFIG_ERR_LEN, "unknown option '%s' (see --help)", a);
            return CONFIG_EXIT_ERR;
        }
        bool flag_word = false;
        if (o->type == OPT_BOOL && !eq && i + 1 < argc)
            flag_word = parse_bool(argv[i + 1], &(bool){false}) == 0;
        if (eq) {
            value = eq + 1;
        } else if (flag_word) {
            value = argv[++i]; /* "--relay off" as well as "--relay=off" */
        } else if (o->type != OPT_BOOL) {
            if (i + 1 >= argc) {
                snprintf(err, CONFIG_ERR_LEN, "option --%s needs a value", o->flag);
                return CONFIG_EXIT_ERR;
            }
            value = argv[++i];
        }
        unsigned *count = list_count(cfg, o->type);
        if (count && !(from_flags & (1u << o->type))) {
            *count = 0; /* flags replace the environment's list */
            from_flags |= 1u << o->type;
        }
        if (apply(cfg, o, value, "option", err) != 0)
            return CONFIG_EXIT_ERR;
    }
    if (cfg->n_listen == 0 && apply(cfg, &opts[0], opts[0].def, "default", err) != 0)
        return CONFIG_EXIT_ERR;
    if (cfg->outq_hard_kib < cfg->outq_soft_kib)
        cfg->outq_hard_kib = cfg->outq_soft_kib;
    if (!cfg->turn_secret[0] != !cfg->n_turn_urls) {
        snprintf(err, CONFIG_ERR_LEN, "--turn-secret and --turn-url go together");
        return CONFIG_EXIT_ERR;
    }
    return CONFIG_RUN;
}
