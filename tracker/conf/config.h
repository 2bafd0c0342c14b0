/* config.h - the tracker's settings: embedded defaults < config file <
 * environment < flags.
 *
 * Owns:   struct config, its parsing and the --check-config listing.
 * Thread: filled by main before any worker starts; read-only afterwards.
 * Why:    one table lists every setting with its flag (and file key), its
 *         environment variable (for Docker), its bounds and its help text, so
 *         the four sources stay in step.
 */
#ifndef WSTRACKER_CONFIG_H
#define WSTRACKER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "origin.h"
#include "realip.h"

#define CONFIG_LISTEN_MAX 8    /* --listen, and --listen-tls, may each repeat this many times */
#define CONFIG_ERR_LEN    1400 /* size of the caller's error buffer (a path fits) */
#define CONFIG_TURN_URLS  4    /* --turn-url may repeat up to this many times */
#define CONFIG_TURN_URL   256  /* bytes of one --turn-url, NUL included */
#define CONFIG_SECRET     256  /* bytes of --turn-secret, NUL included */
#define CONFIG_PATH       1024 /* bytes of a file path option, NUL included */
#define CONFIG_OPTS_MAX   96   /* options in the table (config.c checks) */
#define CONFIG_FILE_MAX   (1u << 20) /* bytes of the --config file */
#define CONFIG_LINE_MAX   4096       /* bytes of one line of it, line end excluded */

/* Where an option's value came from (--check-config says). */
enum config_layer { CONFIG_FROM_DEFAULT = 0, CONFIG_FROM_FILE, CONFIG_FROM_ENV, CONFIG_FROM_FLAG };

struct config_from {
    unsigned char layer; /* enum config_layer */
    unsigned line;       /* CONFIG_FROM_FILE: the line (a list's first) */
};

struct config_listen {
    char host[64]; /* as given, without brackets: "127.0.0.1", "::1", "0.0.0.0" */
    uint16_t port; /* 0 = let the kernel choose (tests) */
};

/* One per process, owned by main. */
struct config {
    char config_file[CONFIG_PATH]; /* --config: the file read; "" = none */
    struct config_listen listen[CONFIG_LISTEN_MAX];
    unsigned n_listen;
    struct config_listen listen_tls[CONFIG_LISTEN_MAX]; /* --listen-tls: wss:// */
    unsigned n_listen_tls;
    char tls_cert[CONFIG_PATH];      /* PEM certificate (chain) file; "" = none */
    char tls_key[CONFIG_PATH];       /* PEM private key file; "" = none */
    unsigned threads;                /* worker threads, 1..64; 0 = number of cores */
    unsigned interval;               /* s, announce interval sent to clients */
    unsigned max_offers;             /* <= PROTO_OFFERS_MAX */
    unsigned max_peers_per_swarm;    /* peers kept per swarm ("last N") */
    unsigned peer_timeout;           /* s without announce before a peer expires */
    unsigned max_message_size;       /* bytes; larger messages close with 1009 */
    unsigned max_scrape_hashes;      /* <= PROTO_SCRAPE_HASHES_MAX */
    unsigned max_torrents_per_conn;  /* (info_hash, peer_id) pairs per connection */
    unsigned max_peer_ids_per_swarm; /* peer_ids one connection may hold in one swarm */
    unsigned max_peers;              /* process-wide; 0 = from physical memory */
    unsigned max_swarms;             /* process-wide; 0 = from physical memory */
    unsigned max_connections;        /* 0 = from RLIMIT_NOFILE */
    unsigned outq_soft_kib;          /* KiB queued per connection before offers drop */
    unsigned outq_hard_kib;          /* KiB queued per connection before it is closed */
    unsigned idle_timeout;           /* s without a complete message before a close */
    unsigned handshake_timeout;      /* s allowed for the HTTP upgrade */
    bool no_full_scrape;
    bool relay;                /* relays allowed */
    unsigned relay_max_bytes;  /* bytes of a relay's data */
    unsigned relay_rate_kib;   /* KiB/s of relayed bytes x recipients per connection */
    unsigned msg_rate;         /* messages/s per connection; 0 = no limit */
    unsigned msg_burst;        /* messages a connection may send at once */
    unsigned announce_rate;    /* announces with offers/s per (address, info hash); 0 = off */
    unsigned announce_burst;   /* such announces at once */
    unsigned max_conns_per_ip; /* WebSocket connections per address (IPv6: /64); 0 = off */
    struct ip_cidr trust_proxy[REALIP_TRUSTED_MAX]; /* whose X-Forwarded-For / Forwarded count */
    unsigned n_trust_proxy;
    char allow_origin[ORIGIN_LIST_MAX][ORIGIN_MAX]; /* browser origins served; none = any */
    unsigned n_allow_origin;
    char allow_hashes[CONFIG_PATH];     /* info-hash allow list file; "" = any */
    char deny_hashes[CONFIG_PATH];      /* info-hash deny list file; "" = none */
    char auth_jwks[CONFIG_PATH];        /* JWK Set file of trusted token keys; "" = none */
    char auth_pubkey[CONFIG_PATH];      /* PEM / JWK / raw Ed25519 public key file; "" = none */
    char auth_secret_file[CONFIG_PATH]; /* HS256 secret file; "" = none */
    char auth_issuer[CONFIG_PATH];      /* required iss; "" = not checked */
    char auth_audience[CONFIG_PATH];    /* required aud; "" = not checked */
    unsigned auth_leeway;               /* s, on exp and nbf */
    char revoked[CONFIG_PATH];          /* revoked jti / thumbprint file; "" = none */
    char turn_secret[CONFIG_SECRET];    /* "" = GET /turn is off */
    char turn_urls[CONFIG_TURN_URLS][CONFIG_TURN_URL]; /* turn:, turns: or stun: URLs */
    unsigned n_turn_urls;
    unsigned turn_ttl;       /* s a TURN credential is valid */
    unsigned stats_interval; /* s between /stats history samples */
    unsigned log_level;      /* enum log_level (obs/log.h): error, warn, info, debug */
    unsigned log_format;     /* enum log_format: text, json */
    struct config_from from[CONFIG_OPTS_MAX]; /* per option, in table order */
};

enum config_result {
    CONFIG_RUN = 0,      /* start the tracker */
    CONFIG_EXIT_OK = 1,  /* --help or --version was printed */
    CONFIG_EXIT_ERR = 2, /* err says why */
    CONFIG_CHECK = 3     /* --check-config: valid; main checks the files it names, then
                          * prints config_print and exits */
};

/* How config_load reads the environment: getenv, or a test's table. */
typedef const char *(*config_getenv_fn)(const char *name);

/* Fill cfg from defaults, the --config file, the environment and argv, in
 * that order of precedence (lowest first). Prints --help/--version output
 * itself; on an error fills err (CONFIG_ERR_LEN bytes), naming the option and,
 * for the file, "PATH:LINE:". */
enum config_result config_load(struct config *cfg, int argc, char **argv, char *err);

/* The same with the environment read through env (NULL: getenv). */
enum config_result config_load_env(struct config *cfg, int argc, char **argv, config_getenv_fn env,
                                   char *err);

/* The effective settings, one line per option in table order:
 * "name = value  # from default|file PATH:LINE|environment WSTRACKER_X|flag";
 * the TURN secret shows as "(set)", never its value. */
void config_print(const struct config *cfg, FILE *f);

#endif
