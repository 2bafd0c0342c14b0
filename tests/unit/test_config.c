/* test_config.c - unit tests of tracker/conf/config.c: defaults < config file <
 * environment < flags.
 *
 * Owns:   nothing; runs config_load on argument vectors, config files (written to
 *         a temporary directory) and environments (the process's, or a table
 *         through config_load_env) and checks the settings, the error texts
 *         (which name the option, and the file and line) and the --check-config
 *         listing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static struct config cfg;
static char err[CONFIG_ERR_LEN];

#define LOAD(...)                                                                                  \
    ({                                                                                             \
        char *argv_[] = {"wstracker", __VA_ARGS__, NULL};                                          \
        config_load(&cfg, (int)(sizeof argv_ / sizeof argv_[0]) - 1, argv_, err);                  \
    })

static int clear_env(void **state)
{
    (void)state;
    unsetenv("WSTRACKER_INTERVAL");
    unsetenv("WSTRACKER_LISTEN");
    unsetenv("WSTRACKER_NO_FULL_SCRAPE");
    unsetenv("WSTRACKER_MAX_PEERS");
    unsetenv("WSTRACKER_TURN_SECRET");
    unsetenv("WSTRACKER_TURN_URL");
    unsetenv("WSTRACKER_RELAY");
    unsetenv("WSTRACKER_TRUST_PROXY");
    unsetenv("WSTRACKER_LISTEN_TLS");
    unsetenv("WSTRACKER_TLS_CERT");
    unsetenv("WSTRACKER_TLS_KEY");
    return 0;
}

static void test_defaults(void **state)
{
    (void)state;
    char *argv[] = {"wstracker", NULL};
    assert_int_equal(config_load(&cfg, 1, argv, err), CONFIG_RUN);
    assert_int_equal(cfg.n_listen, 1);
    assert_string_equal(cfg.listen[0].host, "127.0.0.1");
    assert_int_equal(cfg.listen[0].port, 8000);
    assert_int_equal(cfg.interval, 120);
    assert_int_equal(cfg.max_offers, 10);
    assert_int_equal(cfg.max_peers_per_swarm, 1000);
    assert_int_equal(cfg.peer_timeout, 180);
    assert_int_equal(cfg.max_message_size, 65536);
    assert_int_equal(cfg.max_scrape_hashes, 256);
    assert_int_equal(cfg.max_torrents_per_conn, 4096);
    assert_int_equal(cfg.max_peer_ids_per_swarm, 2);
    assert_int_equal(cfg.max_peers, 0); /* 0: from physical memory (main.c) */
    assert_int_equal(cfg.max_swarms, 0);
    assert_int_equal(cfg.max_connections, 0);
    assert_int_equal(cfg.outq_soft_kib, 256);
    assert_int_equal(cfg.outq_hard_kib, 1024);
    assert_int_equal(cfg.idle_timeout, 300);
    assert_int_equal(cfg.handshake_timeout, 10);
    assert_false(cfg.no_full_scrape);
    assert_string_equal(cfg.turn_secret, "");
    assert_int_equal(cfg.n_turn_urls, 0);
    assert_int_equal(cfg.turn_ttl, 3600);
    assert_true(cfg.relay);
    assert_int_equal(cfg.relay_max_bytes, 16384);
    assert_int_equal(cfg.relay_rate_kib, 64);
    assert_int_equal(cfg.msg_rate, 20);
    assert_int_equal(cfg.msg_burst, 100);
    assert_int_equal(cfg.max_conns_per_ip, 64);
    assert_int_equal(cfg.n_trust_proxy, 0);
}

/* --trust-proxy: CIDRs or addresses, repeatable, comma-separated in the
 * environment (which flags replace); a bad one names itself. */
static void test_trust_proxy(void **state)
{
    struct ip_addr a;
    (void)state;
    assert_int_equal(LOAD("--trust-proxy", "10.0.0.0/8", "--trust-proxy", "::1"), CONFIG_RUN);
    assert_int_equal(cfg.n_trust_proxy, 2);
    assert_int_equal(ip_parse("10.9.8.7", 8, &a), 0);
    assert_true(ip_cidr_match(&cfg.trust_proxy[0], &a));
    assert_int_equal(ip_parse("::1", 3, &a), 0);
    assert_true(ip_cidr_match(&cfg.trust_proxy[1], &a));
    setenv("WSTRACKER_TRUST_PROXY", "192.168.0.0/16,172.16.0.1", 1);
    assert_int_equal(LOAD("--threads", "1"), CONFIG_RUN);
    assert_int_equal(cfg.n_trust_proxy, 2);
    assert_int_equal(LOAD("--trust-proxy", "127.0.0.1"), CONFIG_RUN);
    assert_int_equal(cfg.n_trust_proxy, 1); /* flags replace the environment's list */
    unsetenv("WSTRACKER_TRUST_PROXY");
    assert_int_equal(LOAD("--trust-proxy", "10.0.0.0/33"), CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, "bad --trust-proxy '10.0.0.0/33'"));
    assert_int_equal(LOAD("--trust-proxy", "proxy.example"), CONFIG_EXIT_ERR);
    assert_int_equal(LOAD("--max-conns-per-ip", "0"), CONFIG_RUN);
    assert_int_equal(cfg.max_conns_per_ip, 0);
    assert_int_equal(LOAD("--allow-origin", "https://app.example.org", "--allow-origin",
                          "https://*.example.net"),
                     CONFIG_RUN);
    assert_int_equal(cfg.n_allow_origin, 2);
    assert_string_equal(cfg.allow_origin[1], "https://*.example.net");
    assert_int_equal(LOAD("--allow-origin", "app.example.org"), CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, "bad --allow-origin 'app.example.org'"));
    assert_int_equal(LOAD("--allow-origin", "https://a.*.example.org"), CONFIG_EXIT_ERR);
}

/* A switch takes "--relay off", "--relay=off", or stands alone for on; the
 * word after it is taken only when it is an on/off word. */
static void test_switches(void **state)
{
    (void)state;
    assert_int_equal(LOAD("--relay", "off"), CONFIG_RUN);
    assert_false(cfg.relay);
    assert_int_equal(LOAD("--relay=no", "--relay-rate", "8"), CONFIG_RUN);
    assert_false(cfg.relay);
    assert_int_equal(cfg.relay_rate_kib, 8);
    setenv("WSTRACKER_RELAY", "off", 1);
    assert_int_equal(LOAD("--relay", "--interval", "7"), CONFIG_RUN); /* flag alone: on */
    assert_true(cfg.relay);
    assert_int_equal(cfg.interval, 7);
    assert_int_equal(LOAD("--threads", "1"), CONFIG_RUN);
    assert_false(cfg.relay); /* from the environment */
    assert_int_equal(LOAD("--no-full-scrape", "on"), CONFIG_RUN);
    assert_true(cfg.no_full_scrape);
    assert_int_equal(LOAD("--relay", "maybe"), CONFIG_EXIT_ERR); /* not a switch word */
    assert_non_null(strstr(err, "unexpected argument 'maybe'"));
    assert_int_equal(LOAD("--relay-rate", "0"), CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, "relay-rate"));
    assert_int_equal(LOAD("--relay-max-bytes", "0"), CONFIG_EXIT_ERR);
}

/* TURN: secret and URLs go together; URLs repeat up to CONFIG_TURN_URLS; the
 * environment's comma-separated list is replaced by flags. */
static void test_turn(void **state)
{
    (void)state;
    assert_int_equal(LOAD("--turn-url", "turn:a:3478"), CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, "go together"));
    assert_int_equal(LOAD("--turn-secret", "s"), CONFIG_EXIT_ERR);
    assert_int_equal(LOAD("--turn-secret", ""), CONFIG_EXIT_ERR);
    assert_int_equal(LOAD("--turn-secret", "s", "--turn-url", "turn:a:1", "--turn-url", "turn:b:2",
                          "--turn-ttl", "60"),
                     CONFIG_RUN);
    assert_string_equal(cfg.turn_secret, "s");
    assert_int_equal(cfg.n_turn_urls, 2);
    assert_string_equal(cfg.turn_urls[1], "turn:b:2");
    assert_int_equal(cfg.turn_ttl, 60);
    assert_int_equal(LOAD("--turn-secret", "s", "--turn-url", "turn:a", "--turn-ttl", "59"),
                     CONFIG_EXIT_ERR);
    assert_int_equal(LOAD("--turn-secret", "s", "--turn-url", "turn:a,turn:b,turn:c,turn:d,turn:e"),
                     CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, "at most 4"));
    setenv("WSTRACKER_TURN_SECRET", "from-env", 1);
    setenv("WSTRACKER_TURN_URL", "turn:x:1,turn:y:2", 1);
    assert_int_equal(LOAD("--interval", "120"), CONFIG_RUN);
    assert_string_equal(cfg.turn_secret, "from-env");
    assert_int_equal(cfg.n_turn_urls, 2);
    assert_int_equal(LOAD("--turn-url", "turn:z:3"), CONFIG_RUN);
    assert_int_equal(cfg.n_turn_urls, 1);
    assert_string_equal(cfg.turn_urls[0], "turn:z:3");
    char long_url[CONFIG_TURN_URL + 1];
    memset(long_url, 'u', sizeof long_url - 1);
    long_url[sizeof long_url - 1] = '\0';
    assert_int_equal(LOAD("--turn-url", long_url), CONFIG_EXIT_ERR);
    unsetenv("WSTRACKER_TURN_SECRET");
    unsetenv("WSTRACKER_TURN_URL");
}

static void test_precedence(void **state)
{
    (void)state;
    setenv("WSTRACKER_INTERVAL", "60", 1);
    assert_int_equal(LOAD("--threads", "2"), CONFIG_RUN);
    assert_int_equal(cfg.interval, 60); /* environment over the default */
    assert_int_equal(cfg.threads, 2);
    assert_int_equal(LOAD("--interval=30"), CONFIG_RUN);
    assert_int_equal(cfg.interval, 30); /* flag over the environment */
    setenv("WSTRACKER_LISTEN", "127.0.0.1:1,[::1]:2", 1);
    assert_int_equal(LOAD("--interval", "5"), CONFIG_RUN);
    assert_int_equal(cfg.n_listen, 2);
    assert_string_equal(cfg.listen[1].host, "::1");
    assert_int_equal(cfg.listen[1].port, 2);
    assert_int_equal(LOAD("--listen", ":9"), CONFIG_RUN); /* flags replace the env list */
    assert_int_equal(cfg.n_listen, 1);
    assert_string_equal(cfg.listen[0].host, "0.0.0.0");
    assert_int_equal(cfg.listen[0].port, 9);
    setenv("WSTRACKER_NO_FULL_SCRAPE", "yes", 1);
    setenv("WSTRACKER_MAX_PEERS", "4000000000", 1);
    assert_int_equal(LOAD("--max-swarms", "7"), CONFIG_RUN);
    assert_true(cfg.no_full_scrape);
    assert_int_equal(cfg.max_peers, 4000000000u);
    assert_int_equal(cfg.max_swarms, 7);
}

static void test_errors_name_the_option(void **state)
{
    (void)state;
    assert_int_equal(LOAD("--interval", "0"), CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, "interval"));
    assert_non_null(strstr(err, "1..86400"));
    assert_int_equal(LOAD("--max-offers", "33"), CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, "max-offers"));
    assert_int_equal(LOAD("--threads", "-1"), CONFIG_EXIT_ERR);
    assert_int_equal(LOAD("--threads", "2x"), CONFIG_EXIT_ERR);
    assert_int_equal(LOAD("--max-peer-ids-per-swarm", "0"), CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, "max-peer-ids-per-swarm"));
    assert_int_equal(LOAD("--nope"), CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, "unknown option '--nope'"));
    assert_int_equal(LOAD("stray"), CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, "unexpected argument 'stray'"));
    assert_int_equal(LOAD("--interval"), CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, "needs a value"));
    assert_int_equal(LOAD("--listen", "nocolon"), CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, "bad listen address 'nocolon'"));
    assert_int_equal(LOAD("--listen", "[::1:80"), CONFIG_EXIT_ERR);
    assert_int_equal(LOAD("--listen", "h:70000"), CONFIG_EXIT_ERR);
    assert_int_equal(LOAD("--no-full-scrape=maybe"), CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, "no-full-scrape"));
    setenv("WSTRACKER_INTERVAL", "soon", 1);
    assert_int_equal(LOAD("--threads", "1"), CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, "WSTRACKER_INTERVAL: 'soon' is not a number in 1..86400"));
}

/* --log-level and --log-format: one of their words, stored as its index
 * (enum log_level, enum log_format); another word names the choices. */
static void test_log_options(void **state)
{
    (void)state;
    assert_int_equal(LOAD("--threads", "1"), CONFIG_RUN);
    assert_int_equal(cfg.log_level, 2);  /* info */
    assert_int_equal(cfg.log_format, 0); /* text */
    assert_int_equal(LOAD("--log-level", "error", "--log-format=json"), CONFIG_RUN);
    assert_int_equal(cfg.log_level, 0);
    assert_int_equal(cfg.log_format, 1);
    assert_int_equal(LOAD("--log-level", "debug"), CONFIG_RUN);
    assert_int_equal(cfg.log_level, 3);
    assert_int_equal(LOAD("--log-level", "loud"), CONFIG_EXIT_ERR);
    assert_string_equal(err, "--log-level: 'loud' is not one of error, warn, info, debug");
    assert_int_equal(LOAD("--log-format", "JSON"), CONFIG_EXIT_ERR);
    assert_string_equal(err, "--log-format: 'JSON' is not one of text, json");
}

/* --listen-tls needs --tls-cert and --tls-key, each error naming what is
 * missing; alone it adds no ws:// default address. */
static void test_tls(void **state)
{
    (void)state;
    assert_int_equal(LOAD("--listen-tls", "127.0.0.1:8443"), CONFIG_EXIT_ERR);
    assert_string_equal(err, "--listen-tls needs --tls-cert and --tls-key");
    assert_int_equal(LOAD("--listen-tls", "127.0.0.1:8443", "--tls-cert", "c.pem"),
                     CONFIG_EXIT_ERR);
    assert_string_equal(err, "--listen-tls needs --tls-key");
    assert_int_equal(LOAD("--listen-tls", "127.0.0.1:8443", "--tls-key", "k.pem"), CONFIG_EXIT_ERR);
    assert_string_equal(err, "--listen-tls needs --tls-cert");
    assert_int_equal(LOAD("--tls-cert", "c.pem"), CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, "--tls-key is missing"));
    assert_int_equal(LOAD("--tls-cert", "c.pem", "--tls-key", "k.pem"), CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, "need a --listen-tls address"));
    assert_int_equal(LOAD("--listen-tls", "nocolon", "--tls-cert", "c", "--tls-key", "k"),
                     CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, "bad --listen-tls address 'nocolon'"));

    assert_int_equal(LOAD("--listen-tls", "[::1]:8443", "--listen-tls", ":9443", "--tls-cert",
                          "c.pem", "--tls-key", "k.pem"),
                     CONFIG_RUN);
    assert_int_equal(cfg.n_listen, 0); /* no ws:// default next to wss:// only */
    assert_int_equal(cfg.n_listen_tls, 2);
    assert_string_equal(cfg.listen_tls[0].host, "::1");
    assert_int_equal(cfg.listen_tls[1].port, 9443);
    assert_string_equal(cfg.tls_cert, "c.pem");
    assert_string_equal(cfg.tls_key, "k.pem");

    setenv("WSTRACKER_LISTEN_TLS", "127.0.0.1:1,127.0.0.1:2", 1);
    setenv("WSTRACKER_TLS_CERT", "/e/c.pem", 1);
    setenv("WSTRACKER_TLS_KEY", "/e/k.pem", 1);
    assert_int_equal(LOAD("--listen", "127.0.0.1:8000"), CONFIG_RUN);
    assert_int_equal(cfg.n_listen, 1);
    assert_int_equal(cfg.n_listen_tls, 2);
    assert_string_equal(cfg.tls_key, "/e/k.pem");
    assert_int_equal(LOAD("--listen-tls", "127.0.0.1:3"), CONFIG_RUN); /* flags replace the list */
    assert_int_equal(cfg.n_listen_tls, 1);
    assert_int_equal(cfg.listen_tls[0].port, 3);
}

static void test_outq_caps_ordered(void **state)
{
    (void)state;
    assert_int_equal(LOAD("--outq-soft-kib", "512", "--outq-hard-kib", "64"), CONFIG_RUN);
    assert_int_equal(cfg.outq_soft_kib, 512);
    assert_int_equal(cfg.outq_hard_kib, 512); /* hard is never below soft */
}

/* ---- the --config file, through config_load_env and a table environment ---- */

static char dir[64];
static char path[128];
static const char *fake_env[][2] = {{NULL, NULL}, {NULL, NULL}, {NULL, NULL}, {NULL, NULL}};

static const char *table_env(const char *name)
{
    for (size_t k = 0; k < sizeof fake_env / sizeof fake_env[0]; k++)
        if (fake_env[k][0] && !strcmp(fake_env[k][0], name))
            return fake_env[k][1];
    return NULL;
}

static void set_env(unsigned k, const char *name, const char *value)
{
    fake_env[k][0] = name;
    fake_env[k][1] = value;
}

/* Write text (n bytes) to the test's config file. */
static void write_conf_n(const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void write_conf(const char *text)
{
    write_conf_n(text, strlen(text));
}

#define FLOAD(...)                                                                                 \
    ({                                                                                             \
        char *argv_[] = {"wstracker", "--config", path, __VA_ARGS__, NULL};                        \
        config_load_env(&cfg, (int)(sizeof argv_ / sizeof argv_[0]) - 1, argv_, table_env, err);   \
    })

/* The --check-config listing of cfg, malloc'd. */
static char *listing(void)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    assert_non_null(f);
    config_print(&cfg, f);
    assert_int_equal(fclose(f), 0);
    return buf;
}

/* The listing's line for option name, copied into line (without its newline). */
static const char *listing_line(const char *name, char *line, size_t cap)
{
    char *all = listing(), *p = all, key[80];
    snprintf(key, sizeof key, "%s = ", name);
    line[0] = '\0';
    for (char *nl; p && *p; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (!strncmp(p, key, strlen(key))) {
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            snprintf(line, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
            break;
        }
    }
    free(all);
    return line;
}

static int file_setup(void **state)
{
    (void)state;
    clear_env(NULL);
    memset(fake_env, 0, sizeof fake_env);
    snprintf(dir, sizeof dir, "/tmp/wstracker-test-config-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/wstracker.conf", dir);
    return 0;
}

static int file_teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

/* defaults < file < environment < flags, on a scalar; the listing says where
 * each value came from. */
static void test_file_precedence_scalar(void **state)
{
    char line[512], want[512];
    (void)state;
    write_conf("interval = 10\nmax-offers = 3\n");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_RUN);
    assert_int_equal(cfg.interval, 10); /* file over the default */
    assert_int_equal(cfg.max_offers, 3);
    assert_int_equal(cfg.peer_timeout, 180); /* not in the file: the default */
    snprintf(want, sizeof want, "interval = 10  # from file %s:1", path);
    assert_string_equal(listing_line("interval", line, sizeof line), want);
    assert_string_equal(listing_line("peer-timeout", line, sizeof line),
                        "peer-timeout = 180  # from default");
    snprintf(want, sizeof want, "config = %s  # from flag", path);
    assert_string_equal(listing_line("config", line, sizeof line), want);
    set_env(0, "WSTRACKER_INTERVAL", "20");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_RUN);
    assert_int_equal(cfg.interval, 20); /* environment over the file */
    assert_int_equal(cfg.max_offers, 3);
    assert_string_equal(listing_line("interval", line, sizeof line),
                        "interval = 20  # from environment WSTRACKER_INTERVAL");
    assert_int_equal(FLOAD("--interval", "30"), CONFIG_RUN);
    assert_int_equal(cfg.interval, 30); /* flag over the environment */
    assert_string_equal(listing_line("interval", line, sizeof line), "interval = 30  # from flag");
    assert_string_equal(listing_line("threads", line, sizeof line), "threads = 0  # from default");
    /* the file named by the environment when no flag names one */
    set_env(1, "WSTRACKER_CONFIG", path);
    {
        char *argv[] = {"wstracker", NULL};
        assert_int_equal(config_load_env(&cfg, 1, argv, table_env, err), CONFIG_RUN);
    }
    assert_int_equal(cfg.max_offers, 3);
    snprintf(want, sizeof want, "config = %s  # from environment WSTRACKER_CONFIG", path);
    assert_string_equal(listing_line("config", line, sizeof line), want);
    /* a flag's file replaces the environment's */
    set_env(1, "WSTRACKER_CONFIG", "/nonexistent/wstracker.conf");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_RUN);
    assert_int_equal(cfg.max_offers, 3);
    {
        char *argv[] = {"wstracker", NULL};
        assert_int_equal(config_load_env(&cfg, 1, argv, table_env, err), CONFIG_EXIT_ERR);
        assert_string_equal(err, "/nonexistent/wstracker.conf: No such file or directory");
    }
}

/* A list: each line of the file adds items; a higher layer's list replaces
 * the lower's whole. */
static void test_file_precedence_list(void **state)
{
    char line[512], want[512];
    (void)state;
    write_conf("listen = 127.0.0.1:1\n"
               "interval = 60\n"
               "listen = [::1]:2, 127.0.0.1:3\n"
               "trust-proxy = 10.0.0.0/8\n"
               "trust-proxy = ::1\n"
               "trust-proxy = 192.168.1.7\n");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_RUN);
    assert_int_equal(cfg.n_listen, 3);
    assert_string_equal(cfg.listen[1].host, "::1");
    assert_int_equal(cfg.listen[2].port, 3);
    snprintf(want, sizeof want, "listen = 127.0.0.1:1, [::1]:2, 127.0.0.1:3  # from file %s:1",
             path);
    assert_string_equal(listing_line("listen", line, sizeof line), want);
    snprintf(want, sizeof want,
             "trust-proxy = 10.0.0.0/8, ::1/128, 192.168.1.7/32  # from file %s:4", path);
    assert_string_equal(listing_line("trust-proxy", line, sizeof line), want);
    set_env(0, "WSTRACKER_LISTEN", "127.0.0.1:4,127.0.0.1:5");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_RUN);
    assert_int_equal(cfg.n_listen, 2); /* the environment's list replaces the file's */
    assert_int_equal(cfg.listen[0].port, 4);
    assert_int_equal(cfg.n_trust_proxy, 3); /* not given there: the file's */
    assert_string_equal(listing_line("listen", line, sizeof line),
                        "listen = 127.0.0.1:4, 127.0.0.1:5  # from environment WSTRACKER_LISTEN");
    assert_int_equal(FLOAD("--listen", "127.0.0.1:6", "--trust-proxy", "10.1.0.0/16"), CONFIG_RUN);
    assert_int_equal(cfg.n_listen, 1); /* the flags' list replaces the environment's */
    assert_int_equal(cfg.listen[0].port, 6);
    assert_int_equal(cfg.n_trust_proxy, 1);
    assert_string_equal(listing_line("listen", line, sizeof line),
                        "listen = 127.0.0.1:6  # from flag");
    /* an empty value in the file: none (so every line of deploy/wstracker.conf
     * can be uncommented as it is) */
    write_conf("trust-proxy =\nallow-hashes =\nturn-secret =\nturn-url =\nauth-issuer =\n");
    set_env(0, NULL, NULL);
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_RUN);
    assert_int_equal(cfg.n_trust_proxy, 0);
    assert_string_equal(cfg.allow_hashes, "");
    assert_int_equal(cfg.n_listen, 1); /* no listen anywhere: the default */
    assert_string_equal(listing_line("listen", line, sizeof line),
                        "listen = 127.0.0.1:8000  # from default");
    /* lists over their caps, in the file */
    write_conf("allow-origin = https://a.example\nallow-origin = nope\n");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_EXIT_ERR);
    snprintf(want, sizeof want, "%s:2: bad --allow-origin 'nope'", path);
    assert_non_null(strstr(err, want));
}

/* Errors name the file, the line and the key. */
static void test_file_errors(void **state)
{
    char want[512];
    (void)state;
    write_conf("# tuned for the big box\ninterval = 60\n\n\n\n\n\n\n\n\n\nintervall = 120\n");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_EXIT_ERR);
    snprintf(want, sizeof want, "%s:12: unknown key 'intervall'", path);
    assert_string_equal(err, want);
    write_conf("\n\ninterval = 0\n");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_EXIT_ERR);
    snprintf(want, sizeof want, "%s:3: interval: '0' is not a number in 1..86400", path);
    assert_string_equal(err, want);
    write_conf("log-level = warn\nlog-format = xml\n");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_EXIT_ERR);
    snprintf(want, sizeof want, "%s:2: log-format: 'xml' is not one of text, json", path);
    assert_string_equal(err, want);
    write_conf("relay = maybe\n");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_EXIT_ERR);
    snprintf(want, sizeof want,
             "%s:1: relay: 'maybe' is not on or off (or yes/no, true/false, 1/0)", path);
    assert_string_equal(err, want);
    write_conf("interval = 60 seconds\n");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, ":1: interval: '60 seconds' is not a number"));
    write_conf("interval\n");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_EXIT_ERR);
    snprintf(want, sizeof want, "%s:1: not a \"key = value\" line", path);
    assert_string_equal(err, want);
    write_conf("interval = 5\n[wstracker]\nthreads = 2\n");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_EXIT_ERR);
    snprintf(want, sizeof want,
             "%s:2: sections are not used: write keys without a [section] header", path);
    assert_string_equal(err, want);
    write_conf("config = /etc/other.conf\n");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, ":1: 'config' is not a key of the file"));
    write_conf("--interval = 5\n");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, ":1: unknown key '--interval'"));
    write_conf("Interval = 5\n"); /* keys are the flags' spelling */
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, ":1: unknown key 'Interval'"));
    write_conf_n("interval = 5\nthreads\0 = 2\n", 25);
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_EXIT_ERR);
    snprintf(want, sizeof want, "%s:2: NUL byte in the line", path);
    assert_string_equal(err, want);
    /* the options that go together are checked over all layers */
    write_conf("turn-url = turn:t.example:3478\n");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_EXIT_ERR);
    assert_string_equal(err, "--turn-secret and --turn-url go together");
    write_conf("turn-url = http://t.example\n");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, ":1: bad --turn-url 'http://t.example'"));
    write_conf("auth-issuer = me\n");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_EXIT_ERR);
    assert_non_null(strstr(err, "need a key"));
    /* an unreadable file names itself and errno's text */
    assert_int_equal(chmod(path, 0), 0);
    if (access(path, R_OK) != 0) { /* root reads it anyway */
        assert_int_equal(FLOAD("--threads", "1"), CONFIG_EXIT_ERR);
        snprintf(want, sizeof want, "%s: Permission denied", path);
        assert_string_equal(err, want);
    }
    assert_int_equal(chmod(path, 0600), 0);
    {
        char *argv[] = {"wstracker", "--config", dir, NULL};
        assert_int_equal(config_load_env(&cfg, 3, argv, table_env, err), CONFIG_EXIT_ERR);
        snprintf(want, sizeof want, "%s: Is a directory", dir);
        assert_string_equal(err, want);
    }
    {
        char *argv[] = {"wstracker", "--config", NULL};
        assert_int_equal(config_load_env(&cfg, 2, argv, table_env, err), CONFIG_EXIT_ERR);
        assert_non_null(strstr(err, "needs a value"));
    }
}

/* A line longer than CONFIG_LINE_MAX is an error (libinih alone would cut it
 * in two); one of exactly that length is read whole. A file over
 * CONFIG_FILE_MAX is refused. */
static void test_file_bounds(void **state)
{
    char want[512];
    size_t n = CONFIG_LINE_MAX + 64;
    char *text = malloc(CONFIG_FILE_MAX + 2);
    (void)state;
    assert_non_null(text);
    /* "auth-issuer = iii...i" of exactly CONFIG_LINE_MAX bytes: too long a value
     * for the option (CONFIG_PATH), but read whole: the error is the option's */
    strcpy(text, "interval = 5\nauth-issuer = ");
    n = strlen(text);
    memset(text + n, 'i', CONFIG_LINE_MAX - (n - 13));
    n += CONFIG_LINE_MAX - (n - 13);
    memcpy(text + n, "\r\n", 2);
    write_conf_n(text, n + 2);
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_EXIT_ERR);
    snprintf(want, sizeof want, "%s:2: auth-issuer: want a value of 1..%d bytes", path,
             CONFIG_PATH - 1);
    assert_string_equal(err, want);
    /* one byte more */
    memcpy(text + n, "i\n", 2);
    write_conf_n(text, n + 2);
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_EXIT_ERR);
    snprintf(want, sizeof want, "%s:2: line longer than %d bytes", path, CONFIG_LINE_MAX);
    assert_string_equal(err, want);
    /* the same without a final newline */
    write_conf_n(text, n + 1);
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_EXIT_ERR);
    assert_string_equal(err, want);
    /* a file of comments, one byte over the cap */
    memset(text, '\n', CONFIG_FILE_MAX + 1);
    text[0] = '#';
    write_conf_n(text, CONFIG_FILE_MAX + 1);
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_EXIT_ERR);
    snprintf(want, sizeof want, "%s: larger than %u bytes", path, CONFIG_FILE_MAX);
    assert_string_equal(err, want);
    write_conf_n(text, CONFIG_FILE_MAX); /* at the cap: read */
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_RUN);
    free(text);
}

/* Empty files, comments (; and #, whole-line and after a value), blank lines,
 * white space around keys and values, CRLF, a UTF-8 BOM, "key: value". */
static void test_file_syntax(void **state)
{
    char line[512];
    (void)state;
    write_conf("");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_RUN);
    assert_int_equal(cfg.interval, 120);
    assert_string_equal(listing_line("interval", line, sizeof line),
                        "interval = 120  # from default");
    write_conf("\n\n   \n\t\n");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_RUN);
    write_conf("\xEF\xBB\xBF; a comment\r\n"
               "# another\r\n"
               "   interval   =   61   \r\n"
               "\tmax-offers=4 ; four\r\n"
               "peer-timeout = 99 # ninety-nine\r\n"
               "relay: off\r\n"
               "deny-hashes = /srv/lists/deny#1.txt\r\n"
               "   ; indented comment\r\n"
               "msg-rate = 7");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_RUN);
    assert_int_equal(cfg.interval, 61);
    assert_int_equal(cfg.max_offers, 4);
    assert_int_equal(cfg.peer_timeout, 99);
    assert_false(cfg.relay);
    assert_int_equal(cfg.msg_rate, 7);
    /* "#" starts a comment only after white space */
    assert_string_equal(cfg.deny_hashes, "/srv/lists/deny#1.txt");
    /* an indented line after a key is a key of its own, not a continuation */
    write_conf("interval = 9\n  max-offers = 2\n");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_RUN);
    assert_int_equal(cfg.interval, 9);
    assert_int_equal(cfg.max_offers, 2);
}

/* A scalar given twice in the file is an error naming both lines; a list's
 * lines add up (test_file_precedence_list); flags may repeat (last wins). */
static void test_file_duplicates(void **state)
{
    char want[512];
    (void)state;
    write_conf("interval = 60\nthreads = 2\ninterval = 90\n");
    assert_int_equal(FLOAD("--threads", "1"), CONFIG_EXIT_ERR);
    snprintf(want, sizeof want, "%s:3: duplicate key 'interval' (first on line 1)", path);
    assert_string_equal(err, want);
    write_conf("interval = 60\n");
    assert_int_equal(FLOAD("--interval", "1", "--interval", "2"), CONFIG_RUN);
    assert_int_equal(cfg.interval, 2);
}

/* --check-config: the listing never holds the TURN secret; the action is
 * returned for main (which checks the named files, then prints). */
static void test_check_config(void **state)
{
    char line[512], want[512], *all;
    (void)state;
    write_conf("turn-secret = hunter2-file\nturn-url = turn:t.example:3478\nrelay = no\n");
    assert_int_equal(FLOAD("--check-config"), CONFIG_CHECK);
    all = listing();
    assert_null(strstr(all, "hunter2"));
    free(all);
    snprintf(want, sizeof want, "turn-secret = (set)  # from file %s:1", path);
    assert_string_equal(listing_line("turn-secret", line, sizeof line), want);
    snprintf(want, sizeof want, "relay = off  # from file %s:3", path);
    assert_string_equal(listing_line("relay", line, sizeof line), want);
    assert_string_equal(listing_line("log-level", line, sizeof line),
                        "log-level = info  # from default");
    set_env(0, "WSTRACKER_TURN_SECRET", "hunter2-env");
    assert_int_equal(FLOAD("--check-config", "--turn-ttl", "600"), CONFIG_CHECK);
    all = listing();
    assert_null(strstr(all, "hunter2"));
    free(all);
    assert_string_equal(listing_line("turn-secret", line, sizeof line),
                        "turn-secret = (set)  # from environment WSTRACKER_TURN_SECRET");
    assert_int_equal(FLOAD("--turn-secret", "hunter2-flag", "--check-config"), CONFIG_CHECK);
    all = listing();
    assert_null(strstr(all, "hunter2"));
    free(all);
    assert_string_equal(listing_line("turn-ttl", line, sizeof line),
                        "turn-ttl = 3600  # from default");
    /* every option has its line, in the order of --help */
    all = listing();
    assert_true(strstr(all, "config = ") == all);
    assert_non_null(strstr(all, "\nturn-ttl = "));
    free(all);
    /* an invalid setting is an error with --check-config too */
    assert_int_equal(FLOAD("--check-config", "--interval", "0"), CONFIG_EXIT_ERR);
    assert_string_equal(err, "--interval: '0' is not a number in 1..86400");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_turn, clear_env, clear_env),
        cmocka_unit_test_setup(test_defaults, clear_env),
        cmocka_unit_test_setup_teardown(test_switches, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_trust_proxy, clear_env, clear_env),
        cmocka_unit_test_setup(test_precedence, clear_env),
        cmocka_unit_test_setup(test_errors_name_the_option, clear_env),
        cmocka_unit_test_setup(test_outq_caps_ordered, clear_env),
        cmocka_unit_test_setup(test_log_options, clear_env),
        cmocka_unit_test_setup_teardown(test_file_precedence_scalar, file_setup, file_teardown),
        cmocka_unit_test_setup_teardown(test_file_precedence_list, file_setup, file_teardown),
        cmocka_unit_test_setup_teardown(test_file_errors, file_setup, file_teardown),
        cmocka_unit_test_setup_teardown(test_file_bounds, file_setup, file_teardown),
        cmocka_unit_test_setup_teardown(test_file_syntax, file_setup, file_teardown),
        cmocka_unit_test_setup_teardown(test_file_duplicates, file_setup, file_teardown),
        cmocka_unit_test_setup_teardown(test_check_config, file_setup, file_teardown),
        cmocka_unit_test_setup_teardown(test_tls, clear_env, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
