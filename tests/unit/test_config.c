/* test_config.c - unit tests of tracker/config.c: defaults < environment < flags.
 *
 * Owns:   nothing; runs config_load on argument vectors and environments and
 *         checks the settings and the error texts (which name the option).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    assert_int_equal(LOAD("--turn-secret", "s", "--turn-url", "a,b,c,d,e"), CONFIG_EXIT_ERR);
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
    assert_non_null(strstr(err, "environment interval"));
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
        cmocka_unit_test_setup_teardown(test_tls, clear_env, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
