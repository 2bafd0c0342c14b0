/* config.c - the tracker's settings: embedded defaults < config file <
 * environment < flags.
 *
 * Owns:   the settings table, reading the --config file (Debian's libinih),
 *         --help, --version and the --check-config listing.
 * Thread: main thread, before workers start.
 * Why:    every option is in one table, which drives all four layers: its flag,
 *         its file key (the flag without "--"), its environment variable
 *         (WSTRACKER_<FLAG>, so a Docker user needs no file) and its default.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "config.h"
#include "scan.h"
#include "turn.h"

#ifndef WSTRACKER_VERSION
#define WSTRACKER_VERSION "0.0.0"
#endif

enum opt_type {
    OPT_CONFIG, /* --config itself: a path, not a key of the file */
    OPT_UINT,
    OPT_BOOL,
    OPT_LISTEN,
    OPT_LISTEN_TLS,
    OPT_SECRET,
    OPT_TURN_URL,
    OPT_CIDR,
    OPT_ORIGIN,
    OPT_PATH,
    OPT_ENUM /* one of the words; the field is the word's index */
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

/* OPT_ENUM values, in the order of enum log_level and enum log_format (obs/log.h). */
static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const log_formats[] = {"text", "json", NULL};

#define OFF(field) offsetof(struct config, field)

/* Every option, once: flag, environment variable, bounds, default and help.
 * config_load applies the defaults from here, --help prints them from here, and
 * tests/docs/options.sh checks the README's option table against --help. */
static const struct opt opts[] = {
    {"config", "WSTRACKER_CONFIG", OPT_CONFIG, OFF(config_file), 0, 0, NULL, "none",
     "INI file of options, one \"key = value\" a line, keys as the flags without \"--\""},
    {"listen", "WSTRACKER_LISTEN", OPT_LISTEN, 0, 0, 0, "127.0.0.1:8000", NULL,
     "HOST:PORT to serve (repeatable; [::1]:8000 for IPv6)"},
    {"listen-tls", "WSTRACKER_LISTEN_TLS", OPT_LISTEN_TLS, 0, 0, 0, NULL, "none",
     "HOST:PORT to serve wss:// on, next to --listen (repeatable; needs --tls-cert and --tls-key)"},
    {"tls-cert", "WSTRACKER_TLS_CERT", OPT_PATH, OFF(tls_cert), 0, 0, NULL, "none",
     "PEM certificate file, chain after it, for --listen-tls (reread on SIGHUP and on change)"},
    {"tls-key", "WSTRACKER_TLS_KEY", OPT_PATH, OFF(tls_key), 0, 0, NULL, "none",
     "PEM private key file of --tls-cert (reread with it)"},
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
    {"log-level", "WSTRACKER_LOG_LEVEL", OPT_ENUM, OFF(log_level), 0, 0, "info", NULL,
     "lines logged: error, warn (and refused connections), info (start, reloads, stop) or debug"},
    {"log-format", "WSTRACKER_LOG_FORMAT", OPT_ENUM, OFF(log_format), 0, 0, "text", NULL,
     "stderr lines as text, or json: one object a line with ts, level, msg and fields"},
};

#define N_OPTS (sizeof opts / sizeof opts[0])

/* An OPT_ENUM option's values, NULL-terminated. */
static const char *const *words_of(const struct opt *o)
{
    return o->offset == OFF(log_format) ? log_formats : log_levels;
}

_Static_assert(N_OPTS <= CONFIG_OPTS_MAX, "raise CONFIG_OPTS_MAX");

static int apply(struct config *cfg, const struct opt *o, const char *value, const char *subject,
                 const char *where, char *err);

/* The table's defaults; the listen default is applied last, only when no
 * listen address was given. */
static void defaults(struct config *cfg)
{
    char err[CONFIG_ERR_LEN];
    memset(cfg, 0, sizeof *cfg);
    for (size_t k = 0; k < N_OPTS; k++)
        if (opts[k].def && opts[k].type != OPT_LISTEN &&
            apply(cfg, &opts[k], opts[k].def, opts[k].flag, "", err) != 0)
            abort(); /* a default outside its own bounds: a bug in the table */
}

static void usage(FILE *f)
{
    fprintf(f, "usage: wstracker [options]\n\n"
               "A WebTorrent WebSocket tracker. With no options it serves ws://127.0.0.1:8000.\n"
               "Every option can also be set with its environment variable, or as\n"
               "\"key = value\" in the --config file (flags > environment > file > defaults).\n"
               "Access tokens: wstracker keygen --help, wstracker token --help.\n\n");
    for (size_t k = 0; k < N_OPTS; k++) {
        char left[64], words[48] = " ";
        const char *d = opts[k].def_text ? opts[k].def_text : opts[k].def;
        for (const char *const *w0 = words_of(&opts[k]), *const *w = w0;
             opts[k].type == OPT_ENUM && *w; w++)
            snprintf(words + strlen(words), sizeof words - strlen(words), "%s%s",
                     w == w0 ? "" : "|", *w);
        snprintf(left, sizeof left, "--%s%s", opts[k].flag,
                 opts[k].type == OPT_ENUM         ? words
                 : opts[k].type == OPT_BOOL       ? " [on|off]"
                 : opts[k].type == OPT_LISTEN_TLS ? " HOST:PORT"
                 : opts[k].type == OPT_LISTEN     ? " HOST:PORT"
                 : opts[k].type == OPT_SECRET     ? " S"
                 : opts[k].type == OPT_TURN_URL   ? " URL"
                 : opts[k].type == OPT_CIDR       ? " CIDR"
                 : opts[k].type == OPT_ORIGIN     ? " ORIGIN"
                 : opts[k].type == OPT_PATH       ? " FILE"
                 : opts[k].type == OPT_CONFIG     ? " FILE"
                                                  : " N");
        fprintf(f, "  %-30s %s (default %s)\n  %-30s   env %s\n", left, opts[k].help, d, "",
                opts[k].env);
    }
    fprintf(f, "  %-30s %s\n  %-30s %s\n  %-30s %s\n", "--check-config",
            "check the settings and the files they name, print them with where each came "
            "from, and exit (0: valid, 2: not)",
            "--help", "show this help", "--version", "show the version");
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
    case OPT_LISTEN_TLS: return &cfg->n_listen_tls;
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

static int add_listen_tls(struct config *cfg, const char *tok, char *err)
{
    if (parse_listen(tok, &cfg->listen_tls[cfg->n_listen_tls]) != 0) {
        snprintf(err, CONFIG_ERR_LEN,
                 "bad --listen-tls address '%.100s' (want HOST:PORT or [V6]:PORT)", tok);
        return -1;
    }
    cfg->n_listen_tls++;
    return 0;
}

static int add_turn_url(struct config *cfg, const char *tok, char *err)
{
    if (strlen(tok) >= CONFIG_TURN_URL) {
        snprintf(err, CONFIG_ERR_LEN, "TURN URL longer than %d bytes", CONFIG_TURN_URL - 1);
        return -1;
    }
    if (!turn_url_ok(tok)) {
        snprintf(err, CONFIG_ERR_LEN,
                 "bad --turn-url '%.100s' (want turn:, turns: or stun:, printable ASCII)", tok);
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

/* Set one option from value. A problem with a single value names subject
 * ("--interval", "WSTRACKER_INTERVAL", "PATH:LINE: interval"); one with a list
 * item is said after where ("", "WSTRACKER_LISTEN: ", "PATH:LINE: "). */
static int apply(struct config *cfg, const struct opt *o, const char *value, const char *subject,
                 const char *where, char *err)
{
    char *base = (char *)cfg;
    int rc = 0;
    switch (o->type) {
    case OPT_LISTEN:
        rc = add_items(cfg, value, err, list_count(cfg, o->type), CONFIG_LISTEN_MAX,
                       "listen addresses", add_listen);
        break;
    case OPT_LISTEN_TLS:
        rc = add_items(cfg, value, err, list_count(cfg, o->type), CONFIG_LISTEN_MAX,
                       "--listen-tls addresses", add_listen_tls);
        break;
    case OPT_TURN_URL:
        rc = add_items(cfg, value, err, list_count(cfg, o->type), CONFIG_TURN_URLS, "TURN URLs",
                       add_turn_url);
        break;
    case OPT_CIDR:
        rc = add_items(cfg, value, err, list_count(cfg, o->type), REALIP_TRUSTED_MAX,
                       "--trust-proxy ranges", add_cidr);
        break;
    case OPT_ORIGIN:
        rc = add_items(cfg, value, err, list_count(cfg, o->type), ORIGIN_LIST_MAX, "--allow-origin",
                       add_origin);
        break;
    case OPT_CONFIG:
    case OPT_PATH:
        if (value && *value && strlen(value) < CONFIG_PATH) {
            strcpy(base + o->offset, value);
            return 0;
        }
        snprintf(err, CONFIG_ERR_LEN, "%s: want a value of 1..%d bytes", subject, CONFIG_PATH - 1);
        return -1;
    case OPT_SECRET:
        if (value && *value && strlen(value) < CONFIG_SECRET) {
            strcpy(cfg->turn_secret, value);
            return 0;
        }
        snprintf(err, CONFIG_ERR_LEN, "%s: want 1..%d bytes", subject, CONFIG_SECRET - 1);
        return -1;
    case OPT_BOOL:
        if (parse_bool(value, (bool *)(void *)(base + o->offset)) == 0)
            return 0;
        snprintf(err, CONFIG_ERR_LEN, "%s: '%.100s' is not on or off (or yes/no, true/false, 1/0)",
                 subject, value ? value : "");
        return -1;
    case OPT_ENUM:
        for (unsigned k = 0; value && words_of(o)[k]; k++) {
            if (!strcmp(value, words_of(o)[k])) {
                *(unsigned *)(void *)(base + o->offset) = k;
                return 0;
            }
        }
        {
            char want[64] = "";
            for (unsigned k = 0; words_of(o)[k]; k++)
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", k ? ", " : "",
                         words_of(o)[k]);
            snprintf(err, CONFIG_ERR_LEN, "%s: '%.100s' is not one of %s", subject,
                     value ? value : "", want);
        }
        return -1;
    case OPT_UINT:
        if (parse_uint(value, o->min, o->max, (unsigned *)(void *)(base + o->offset)) == 0)
            return 0;
        snprintf(err, CONFIG_ERR_LEN, "%s: '%.100s' is not a number in %u..%u", subject,
                 value ? value : "", o->min, o->max);
        return -1;
    }
    if (rc != 0 && *where) {
        char tail[CONFIG_ERR_LEN];
        memcpy(tail, err, sizeof tail);
        snprintf(err, CONFIG_ERR_LEN, "%s%s", where, tail);
    }
    return rc;
}

/* Set option o at layer from value. A list given in a layer replaces the
 * list of the layers below (its items in that layer add up); a scalar given
 * twice in the file is an error, given twice as flags the last counts. In the
 * file an empty value means "none" for paths, the secret and lists. where is
 * "PATH:LINE: " for the file, "" otherwise. */
static int set_value(struct config *cfg, const struct opt *o, enum config_layer layer,
                     unsigned line, const char *value, const char *where, char *err)
{
    struct config_from *f = &cfg->from[o - opts];
    unsigned *count = list_count(cfg, o->type);
    char subject[CONFIG_PATH + 96], listwhere[CONFIG_PATH + 64];
    if (count) {
        if (f->layer != layer) {
            *count = 0;
            f->layer = (unsigned char)layer;
            f->line = line;
        }
    } else {
        if (layer == CONFIG_FROM_FILE && f->layer == CONFIG_FROM_FILE) {
            snprintf(err, CONFIG_ERR_LEN, "%sduplicate key '%s' (first on line %u)", where, o->flag,
                     f->line);
            return -1;
        }
        f->layer = (unsigned char)layer;
        f->line = line;
    }
    if (layer == CONFIG_FROM_FILE && value && !*value &&
        (count || o->type == OPT_PATH || o->type == OPT_SECRET)) {
        if (o->type == OPT_PATH)
            ((char *)cfg)[o->offset] = '\0';
        else if (o->type == OPT_SECRET)
            cfg->turn_secret[0] = '\0';
        return 0;
    }
    switch (layer) {
    case CONFIG_FROM_FILE:
        snprintf(subject, sizeof subject, "%s%s", where, o->flag);
        snprintf(listwhere, sizeof listwhere, "%s", where);
        break;
    case CONFIG_FROM_ENV:
        snprintf(subject, sizeof subject, "%s", o->env);
        snprintf(listwhere, sizeof listwhere, "%s: ", o->env);
        break;
    default:
        snprintf(subject, sizeof subject, "--%s", o->flag);
        listwhere[0] = '\0';
        break;
    }
    return apply(cfg, o, value, subject, listwhere, err);
}

static const struct opt *find_opt(const char *name, size_t n)
{
    for (size_t k = 0; k < N_OPTS; k++)
        if (strlen(opts[k].flag) == n && !strncmp(name, opts[k].flag, n))
            return &opts[k];
    return NULL;
}

/* ---- the --config file ---- */

struct file_ctx {
    struct config *cfg;
    const char *path;
    const char *p, *end; /* the text not yet handed to libinih */
    unsigned line;       /* the line last handed to it (it parses one at a time) */
    char *err;
    bool failed; /* err is set */
};

/* libinih's reader (an fgets over the text read): one line at a time, so
 * c->line is the line its handler is called for. A line longer than the
 * bound, a NUL byte or a [section] stops the parse with the reason (libinih
 * would cut a long line into two silently, and hide a section header). */
static char *file_line(char *str, int num, void *stream)
{
    struct file_ctx *c = stream;
    const char *s = c->p, *nl, *q;
    size_t n, content, limit;
    if (c->failed || s >= c->end)
        return NULL;
    nl = memchr(s, '\n', (size_t)(c->end - s));
    n = nl ? (size_t)(nl - s) + 1 : (size_t)(c->end - s);
    content = nl ? n - 1 : n;
    if (content && s[content - 1] == '\r')
        content--;
    c->line++;
    limit = num > 3 ? (size_t)num - 3 : 0; /* room for \r, \n and the NUL */
    if (limit > CONFIG_LINE_MAX)
        limit = CONFIG_LINE_MAX;
    if (content > limit) {
        snprintf(c->err, CONFIG_ERR_LEN, "%s:%u: line longer than %zu bytes", c->path, c->line,
                 limit);
        c->failed = true;
        return NULL;
    }
    if (memchr(s, '\0', n)) {
        snprintf(c->err, CONFIG_ERR_LEN, "%s:%u: NUL byte in the line", c->path, c->line);
        c->failed = true;
        return NULL;
    }
    q = s;
    if (c->line == 1 && n >= 3 && !memcmp(q, "\xEF\xBB\xBF", 3))
        q += 3;
    while (q < s + content && (*q == ' ' || *q == '\t'))
        q++;
    if (q < s + content && *q == '[') {
        snprintf(c->err, CONFIG_ERR_LEN,
                 "%s:%u: sections are not used: write keys without a [section] header", c->path,
                 c->line);
        c->failed = true;
        return NULL;
    }
    memcpy(str, s, n);
    str[n] = '\0';
    c->p = s + n;
    return str;
}

static int file_key(void *user, const char *section, const char *name, const char *value)
{
    struct file_ctx *c = user;
    const struct opt *o = find_opt(name, strlen(name));
    char where[CONFIG_PATH + 32];
    (void)section; /* always "": file_line refuses section headers */
    if (c->failed)
        return 0;
    snprintf(where, sizeof where, "%s:%u: ", c->path, c->line);
    if (!o) {
        snprintf(c->err, CONFIG_ERR_LEN, "%sunknown key '%.64s'", where, name);
        c->failed = true;
        return 0;
    }
    if (o->type == OPT_CONFIG) {
        snprintf(c->err, CONFIG_ERR_LEN,
                 "%s'config' is not a key of the file (give --config or WSTRACKER_CONFIG)", where);
        c->failed = true;
        return 0;
    }
    if (set_value(c->cfg, o, CONFIG_FROM_FILE, c->line, value, where, c->err) != 0) {
        c->failed = true;
        return 0;
    }
    return 1;
}

/* Read the whole file (at most CONFIG_FILE_MAX bytes), then parse it. */
static int load_file(struct config *cfg, const char *path, char *err)
{
    static char inline_comments[] = ";#";
    struct file_ctx c = {.cfg = cfg, .path = path, .err = err};
    FILE *f = fopen(path, "rb");
    char *text;
    size_t n;
    int rc;
    if (!f) {
        snprintf(err, CONFIG_ERR_LEN, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!(text = malloc(CONFIG_FILE_MAX + 1))) {
        fclose(f);
        snprintf(err, CONFIG_ERR_LEN, "%s: out of memory", path);
        return -1;
    }
    n = fread(text, 1, CONFIG_FILE_MAX + 1, f);
    if (ferror(f)) {
        snprintf(err, CONFIG_ERR_LEN, "%s: %s", path, strerror(errno));
        fclose(f);
        free(text);
        return -1;
    }
    fclose(f);
    if (n > CONFIG_FILE_MAX) {
        snprintf(err, CONFIG_ERR_LEN, "%s: larger than %u bytes", path, CONFIG_FILE_MAX);
        free(text);
        return -1;
    }
    c.p = text;
    c.end = text + n;
    /* Debian's libinih (built with INI_RUNTIME_OPTIONS) takes its options at
     * run time: no continuation lines (an indented line is a line of its own),
     * "; " and " #" start comments after a value too, lines up to the bound
     * (its line buffer is a VLA of ini_max_line bytes: \r, \n and NUL included),
     * the first error ends the parse. */
    ini_allow_multiline = false;
    ini_allow_inline_comments = true;
    ini_inline_comment_prefixes = inline_comments;
    ini_max_line = CONFIG_LINE_MAX + 3;
    ini_stop_on_first_error = true;
    rc = ini_parse_stream(file_line, &c, file_key, &c);
    free(text);
    if (c.failed)
        return -1;
    if (rc == -2) {
        snprintf(err, CONFIG_ERR_LEN, "%s: out of memory", path);
        return -1;
    }
    if (rc != 0) {
        snprintf(err, CONFIG_ERR_LEN, "%s:%d: not a \"key = value\" line", path, rc);
        return -1;
    }
    return 0;
}

/* ---- flags ---- */

enum flag_kind { FLAG_OPT, FLAG_HELP, FLAG_VERSION, FLAG_CHECK, FLAG_ERR };

/* The flag at argv[*i] (and its value, which may be the next word): an
 * option of the table with *value, an action, or an error in err. */
static enum flag_kind next_flag(int argc, char **argv, int *i, const struct opt **o,
                                const char **value, char *err)
{
    const char *a = argv[*i];
    *o = NULL;
    *value = NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h"))
        return FLAG_HELP;
    if (!strcmp(a, "--version") || !strcmp(a, "-V"))
        return FLAG_VERSION;
    if (!strcmp(a, "--check-config"))
        return FLAG_CHECK;
    if (strncmp(a, "--", 2) != 0) {
        snprintf(err, CONFIG_ERR_LEN, "unexpected argument '%.200s' (see --help)", a);
        return FLAG_ERR;
    }
    const char *eq = strchr(a, '=');
    if (!(*o = find_opt(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2)))) {
        snprintf(err, CONFIG_ERR_LEN, "unknown option '%.200s' (see --help)", a);
        return FLAG_ERR;
    }
    bool flag_word = false;
    if ((*o)->type == OPT_BOOL && !eq && *i + 1 < argc)
        flag_word = parse_bool(argv[*i + 1], &(bool){false}) == 0;
    if (eq) {
        *value = eq + 1;
    } else if (flag_word) {
        *value = argv[++*i]; /* "--relay off" as well as "--relay=off" */
    } else if ((*o)->type != OPT_BOOL) {
        if (*i + 1 >= argc) {
            snprintf(err, CONFIG_ERR_LEN, "option --%s needs a value", (*o)->flag);
            return FLAG_ERR;
        }
        *value = argv[++*i];
    }
    return FLAG_OPT;
}

/* What main used to check after loading: options that only make sense together. */
static int check_together(const struct config *cfg, char *err)
{
    if (cfg->n_listen_tls && (!cfg->tls_cert[0] || !cfg->tls_key[0])) {
        snprintf(err, CONFIG_ERR_LEN, "--listen-tls needs %s",
                 !cfg->tls_cert[0] && !cfg->tls_key[0] ? "--tls-cert and --tls-key"
                 : !cfg->tls_cert[0]                   ? "--tls-cert"
                                                       : "--tls-key");
        return -1;
    }
    if (!cfg->tls_cert[0] != !cfg->tls_key[0]) {
        snprintf(err, CONFIG_ERR_LEN, "--tls-cert and --tls-key go together (%s is missing)",
                 cfg->tls_cert[0] ? "--tls-key" : "--tls-cert");
        return -1;
    }
    if (cfg->tls_cert[0] && !cfg->n_listen_tls) {
        snprintf(err, CONFIG_ERR_LEN, "--tls-cert and --tls-key need a --listen-tls address");
        return -1;
    }
    if (!cfg->turn_secret[0] != !cfg->n_turn_urls) {
        snprintf(err, CONFIG_ERR_LEN, "--turn-secret and --turn-url go together");
        return -1;
    }
    if (!cfg->auth_jwks[0] && !cfg->auth_pubkey[0] && !cfg->auth_secret_file[0] &&
        (cfg->revoked[0] || cfg->auth_issuer[0] || cfg->auth_audience[0])) {
        snprintf(err, CONFIG_ERR_LEN,
                 "--revoked, --auth-issuer and --auth-audience need a key "
                 "(--auth-jwks, --auth-pubkey or --auth-hs256-secret-file)");
        return -1;
    }
    return 0;
}

static const char *real_getenv(const char *name)
{
    return getenv(name);
}

enum config_result config_load_env(struct config *cfg, int argc, char **argv, config_getenv_fn env,
                                   char *err)
{
    const struct opt *o, *listen = find_opt("listen", 6), *conf = find_opt("config", 6);
    const char *value, *file = NULL;
    bool check = false;
    if (!env)
        env = real_getenv;
    defaults(cfg);

    /* Flags first read for the actions and --config only; applied last. */
    for (int i = 1; i < argc; i++) {
        switch (next_flag(argc, argv, &i, &o, &value, err)) {
        case FLAG_HELP: usage(stdout); return CONFIG_EXIT_OK;
        case FLAG_VERSION: printf("wstracker %s\n", WSTRACKER_VERSION); return CONFIG_EXIT_OK;
        case FLAG_CHECK: check = true; break;
        case FLAG_ERR: return CONFIG_EXIT_ERR;
        case FLAG_OPT:
            if (o->type == OPT_CONFIG)
                file = value;
            break;
        }
    }
    if (file) {
        if (set_value(cfg, conf, CONFIG_FROM_FLAG, 0, file, "", err) != 0)
            return CONFIG_EXIT_ERR;
    } else if ((value = env(conf->env)) && *value) {
        if (set_value(cfg, conf, CONFIG_FROM_ENV, 0, value, "", err) != 0)
            return CONFIG_EXIT_ERR;
    }
    if (cfg->config_file[0] && load_file(cfg, cfg->config_file, err) != 0)
        return CONFIG_EXIT_ERR;

    for (size_t k = 0; k < N_OPTS; k++) {
        const char *v;
        if (opts[k].type == OPT_CONFIG || !(v = env(opts[k].env)) || !*v)
            continue;
        if (set_value(cfg, &opts[k], CONFIG_FROM_ENV, 0, v, "", err) != 0)
            return CONFIG_EXIT_ERR;
    }
    for (int i = 1; i < argc; i++) {
        if (next_flag(argc, argv, &i, &o, &value, err) != FLAG_OPT || o->type == OPT_CONFIG)
            continue;
        if (set_value(cfg, o, CONFIG_FROM_FLAG, 0, value, "", err) != 0)
            return CONFIG_EXIT_ERR;
    }
    /* The default ws:// address only when no address of either kind was given. */
    if (cfg->n_listen == 0 && cfg->n_listen_tls == 0) {
        if (apply(cfg, listen, listen->def, "listen", "", err) != 0)
            return CONFIG_EXIT_ERR;
        cfg->from[listen - opts] = (struct config_from){CONFIG_FROM_DEFAULT, 0};
    }
    if (cfg->outq_hard_kib < cfg->outq_soft_kib)
        cfg->outq_hard_kib = cfg->outq_soft_kib;
    if (check_together(cfg, err) != 0)
        return CONFIG_EXIT_ERR;
    return check ? CONFIG_CHECK : CONFIG_RUN;
}

enum config_result config_load(struct config *cfg, int argc, char **argv, char *err)
{
    return config_load_env(cfg, argc, argv, NULL, err);
}

/* ---- --check-config ---- */

static void print_list(const struct config *cfg, const struct opt *o, FILE *f)
{
    char a[REALIP_TEXT_MAX];
    switch (o->type) {
    case OPT_LISTEN:
    case OPT_LISTEN_TLS: {
        const struct config_listen *l = o->type == OPT_LISTEN ? cfg->listen : cfg->listen_tls;
        unsigned n = o->type == OPT_LISTEN ? cfg->n_listen : cfg->n_listen_tls;
        for (unsigned k = 0; k < n; k++)
            fprintf(f, strchr(l[k].host, ':') ? "%s[%s]:%u" : "%s%s:%u", k ? ", " : "", l[k].host,
                    l[k].port);
        break;
    }
    case OPT_TURN_URL:
        for (unsigned k = 0; k < cfg->n_turn_urls; k++)
            fprintf(f, "%s%s", k ? ", " : "", cfg->turn_urls[k]);
        break;
    case OPT_ORIGIN:
        for (unsigned k = 0; k < cfg->n_allow_origin; k++)
            fprintf(f, "%s%s", k ? ", " : "", cfg->allow_origin[k]);
        break;
    case OPT_CIDR:
        for (unsigned k = 0; k < cfg->n_trust_proxy; k++) {
            const struct ip_cidr *c = &cfg->trust_proxy[k];
            bool v4 = ip_is_v4(&c->a) && c->len >= 96;
            ip_format(&c->a, a, sizeof a);
            fprintf(f, "%s%s/%u", k ? ", " : "", a, v4 ? c->len - 96u : c->len);
        }
        break;
    default: break;
    }
}

void config_print(const struct config *cfg, FILE *f)
{
    const char *base = (const char *)cfg;
    for (size_t k = 0; k < N_OPTS; k++) {
        const struct opt *o = &opts[k];
        const struct config_from *from = &cfg->from[k];
        fprintf(f, "%s = ", o->flag);
        switch (o->type) {
        case OPT_UINT: fprintf(f, "%u", *(const unsigned *)(const void *)(base + o->offset)); break;
        case OPT_BOOL:
            fputs(*(const bool *)(const void *)(base + o->offset) ? "on" : "off", f);
            break;
        case OPT_CONFIG:
        case OPT_PATH: fputs(base + o->offset, f); break;
        case OPT_SECRET: fputs(cfg->turn_secret[0] ? "(set)" : "", f); break;
        case OPT_ENUM:
            fputs(words_of(o)[*(const unsigned *)(const void *)(base + o->offset)], f);
            break;
        case OPT_LISTEN:
        case OPT_LISTEN_TLS:
        case OPT_TURN_URL:
        case OPT_CIDR:
        case OPT_ORIGIN: print_list(cfg, o, f); break;
        }
        switch (from->layer) {
        case CONFIG_FROM_FILE:
            fprintf(f, "  # from file %s:%u\n", cfg->config_file, from->line);
            break;
        case CONFIG_FROM_ENV: fprintf(f, "  # from environment %s\n", o->env); break;
        case CONFIG_FROM_FLAG: fputs("  # from flag\n", f); break;
        default: fputs("  # from default\n", f); break;
        }
    }
}
