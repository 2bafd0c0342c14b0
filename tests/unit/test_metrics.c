/* test_metrics.c - unit tests of tracker/obs/metrics.c: the /metrics text.
 *
 * Owns:   nothing; checks the families' HELP and TYPE lines (once each, before
 *         their samples), counters summed over workers with _total, gauges per
 *         worker, label escaping, cumulative histogram buckets with _sum and
 *         _count, the process and allocator parts present only when given,
 *         and that a short buffer is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static struct stats w0, w1;
static char buf[1 << 16];

/* How many lines of text are exactly line. */
static int lines_equal(const char *text, const char *line)
{
    size_t n = strlen(line);
    int count = 0;
    for (const char *p = text; (p = strstr(p, line)) != NULL; p += n)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            count++;
    return count;
}

static int write_all(const struct metrics_process *proc, const char *const *reasons,
                     unsigned n_reasons)
{
    struct stats *all[2] = {&w0, &w1};
    struct metrics_input in = {all, 2, reasons, n_reasons, "1.2.3", 12345, proc, 0};
    int n = metrics_write(buf, sizeof buf, &in);
    assert_true(n > 0 && (size_t)n == strlen(buf));
    assert_true(buf[n - 1] == '\n');
    return n;
}

static void reset(void)
{
    memset(&w0, 0, sizeof w0);
    memset(&w1, 0, sizeof w1);
}

static void test_families(void **state)
{
    (void)state;
    reset();
    stats_add(&w0, STATS_ANNOUNCES, 5);
    stats_add(&w1, STATS_ANNOUNCES, 7);
    stats_add(&w0, STATS_CONNECTIONS, 3);
    stats_add(&w1, STATS_CONNECTIONS, 1);
    stats_add(&w0, STATS_OFFERS_FORWARDED, 4);
    stats_add(&w1, STATS_RESP_ANNOUNCE, 2);
    stats_add(&w1, STATS_ERRORS, 1);
    stats_set(&w0, STATS_PEERS, 9);
    stats_add(&w1, STATS_CONNECTIONS_IPV6, 1);
    stats_add(&w0, STATS_CONNECTIONS_IPV4, 3);
    stats_add(&w1, STATS_REQ_OFFER, 6);
    write_all(NULL, NULL, 0);
    assert_int_equal(lines_equal(buf, "wstracker_build_info{version=\"1.2.3\"} 1"), 1);
    assert_int_equal(lines_equal(buf, "wstracker_uptime_seconds 12.345"), 1);
    assert_int_equal(lines_equal(buf, "wstracker_workers 2"), 1);
    assert_int_equal(lines_equal(buf, "# TYPE wstracker_announces_total counter"), 1);
    assert_int_equal(lines_equal(buf, "wstracker_announces_total 12"), 1);
    assert_int_equal(lines_equal(buf, "# TYPE wstracker_connections gauge"), 1);
    assert_int_equal(lines_equal(buf, "wstracker_connections{worker=\"0\"} 3"), 1);
    assert_int_equal(lines_equal(buf, "wstracker_connections{worker=\"1\"} 1"), 1);
    assert_int_equal(lines_equal(buf, "wstracker_connections_by_ip{ip=\"4\"} 3"), 1);
    assert_int_equal(lines_equal(buf, "wstracker_connections_by_ip{ip=\"6\"} 1"), 1);
    assert_int_equal(lines_equal(buf, "wstracker_peers 9"), 1);
    assert_int_equal(lines_equal(buf, "wstracker_requests_total{type=\"offer\"} 6"), 1);
    assert_int_equal(lines_equal(buf, "wstracker_requests_total{type=\"relay\"} 0"), 1);
    /* one family from entries spread over the table: one HELP and TYPE, first */
    assert_int_equal(lines_equal(buf, "# TYPE wstracker_responses_total counter"), 1);
    {
        const char *type = strstr(buf, "# TYPE wstracker_responses_total counter");
        const char *help = strstr(buf, "# HELP wstracker_responses_total ");
        const char *types[] = {"offer", "answer", "relay", "error", "announce", "scrape"};
        assert_non_null(help);
        assert_true(help < type);
        for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
            char key[64];
            snprintf(key, sizeof key, "wstracker_responses_total{type=\"%s\"} ", types[k]);
            assert_non_null(strstr(buf, key));
            assert_true(strstr(buf, key) > type);
            assert_null(strstr(strstr(buf, key) + 1, key));
        }
    }
    assert_int_equal(lines_equal(buf, "wstracker_responses_total{type=\"offer\"} 4"), 1);
    assert_int_equal(lines_equal(buf, "wstracker_responses_total{type=\"announce\"} 2"), 1);
    assert_int_equal(lines_equal(buf, "wstracker_responses_total{type=\"error\"} 1"), 1);
    /* no process or allocator figures given: none written */
    assert_null(strstr(buf, "process_"));
    assert_null(strstr(buf, "jemalloc"));
}

/* Every sample's family has had its HELP and TYPE lines before it, and every
 * family appears once. */
static void test_every_sample_typed(void **state)
{
    (void)state;
    char *copy, *line, *save = NULL, family[128] = "";
    int families = 0;
    reset();
    write_all(NULL, NULL, 0);
    copy = strdup(buf);
    assert_non_null(copy);
    for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "# HELP ", 7)) {
            size_t n = strcspn(line + 7, " ");
            char again[160];
            assert_true(n < sizeof family);
            memcpy(family, line + 7, n);
            family[n] = '\0';
            snprintf(again, sizeof again, "# HELP %s ", family);
            assert_null(strstr(strstr(buf, again) + 1, again)); /* once */
            families++;
        } else if (!strncmp(line, "# TYPE ", 7)) {
            assert_int_equal(strncmp(line + 7, family, strlen(family)), 0);
        } else {
            size_t n = strlen(family);
            assert_true(n > 0);
            assert_int_equal(strncmp(line, family, n), 0);
            assert_true(line[n] == ' ' || line[n] == '{' || line[n] == '_');
        }
    }
    free(copy);
    assert_true(families > 30);
}

static void test_escaping(void **state)
{
    (void)state;
    static const char *const reasons[4] = {NULL, "invalid JSON", "a \"quoted\\path\"\nline", NULL};
    reset();
    stats_reason(&w0, 1);
    stats_reason(&w1, 1);
    stats_reason(&w1, 2);
    write_all(NULL, reasons, 4);
    assert_int_equal(lines_equal(buf, "# TYPE wstracker_failures_total counter"), 1);
    assert_int_equal(lines_equal(buf, "wstracker_failures_total{reason=\"invalid JSON\"} 2"), 1);
    assert_int_equal(
        lines_equal(buf, "wstracker_failures_total{reason=\"a \\\"quoted\\\\path\\\"\\nline\"} 1"),
        1);
    assert_null(strstr(buf, "reason=\"(null)\""));
}

static void test_histogram(void **state)
{
    (void)state;
    reset();
    stats_observe(&w0, STATS_KIND_ANNOUNCE, 5000);      /* <= 10us */
    stats_observe(&w1, STATS_KIND_ANNOUNCE, 10000);     /* <= 10us: bounds are inclusive */
    stats_observe(&w0, STATS_KIND_ANNOUNCE, 10001);     /* <= 25us */
    stats_observe(&w1, STATS_KIND_ANNOUNCE, 3000000);   /* <= 5ms */
    stats_observe(&w0, STATS_KIND_ANNOUNCE, 200000000); /* +Inf */
    stats_observe(&w0, STATS_KIND_SCRAPE, 1500000000);  /* +Inf, 1.5 s */
    write_all(NULL, NULL, 0);
    assert_int_equal(lines_equal(buf, "# TYPE wstracker_request_duration_seconds histogram"), 1);
#define B(le, v)                                                                                   \
    assert_int_equal(lines_equal(buf, "wstracker_request_duration_seconds_bucket{action="          \
                                      "\"announce\",le=\"" le "\"} " v),                           \
                     1)
    B("0.00001", "2");
    B("0.000025", "3");
    B("0.00005", "3");
    B("0.0025", "3");
    B("0.005", "4");
    B("0.1", "4");
    B("+Inf", "5");
#undef B
    assert_int_equal(
        lines_equal(buf, "wstracker_request_duration_seconds_sum{action=\"announce\"} 0.203025001"),
        1);
    assert_int_equal(
        lines_equal(buf, "wstracker_request_duration_seconds_count{action=\"announce\"} 5"), 1);
    assert_int_equal(
        lines_equal(buf, "wstracker_request_duration_seconds_sum{action=\"scrape\"} 1.5"), 1);
    assert_int_equal(lines_equal(buf, "wstracker_request_duration_seconds_bucket{action="
                                      "\"scrape\",le=\"0.1\"} 0"),
                     1);
    assert_int_equal(
        lines_equal(buf, "wstracker_request_duration_seconds_count{action=\"relay\"} 0"), 1);
    assert_int_equal(lines_equal(buf, "wstracker_request_duration_seconds_sum{action=\"relay\"} 0"),
                     1);
}

static void test_process(void **state)
{
    (void)state;
    struct metrics_process p;
    memset(&p, 0, sizeof p);
    p.have_proc = true;
    p.cpu_ns = 2500000000u;
    p.resident_bytes = 4096 * 10;
    p.open_fds = 17;
    p.max_fds = 1024;
    p.start_time_s = 1700000000;
    reset();
    write_all(&p, NULL, 0);
    assert_int_equal(lines_equal(buf, "# TYPE process_cpu_seconds_total counter"), 1);
    assert_int_equal(lines_equal(buf, "process_cpu_seconds_total 2.5"), 1);
    assert_int_equal(lines_equal(buf, "process_resident_memory_bytes 40960"), 1);
    assert_int_equal(lines_equal(buf, "process_open_fds 17"), 1);
    assert_int_equal(lines_equal(buf, "process_max_fds 1024"), 1);
    assert_int_equal(lines_equal(buf, "process_start_time_seconds 1700000000"), 1);
    assert_null(strstr(buf, "jemalloc"));
    p.have_proc = false;
    p.have_alloc = true;
    p.alloc_allocated = 1;
    p.alloc_active = 2;
    p.alloc_resident = 3;
    write_all(&p, NULL, 0);
    assert_null(strstr(buf, "process_"));
    assert_int_equal(lines_equal(buf, "# TYPE wstracker_jemalloc_allocated_bytes gauge"), 1);
    assert_int_equal(lines_equal(buf, "wstracker_jemalloc_allocated_bytes 1"), 1);
    assert_int_equal(lines_equal(buf, "wstracker_jemalloc_active_bytes 2"), 1);
    assert_int_equal(lines_equal(buf, "wstracker_jemalloc_resident_bytes 3"), 1);
}

static void test_short_buffer(void **state)
{
    (void)state;
    struct stats *all[2] = {&w0, &w1};
    struct metrics_input in = {all, 2, NULL, 0, "1", 0, NULL, 0};
    int n;
    reset();
    n = metrics_write(buf, sizeof buf, &in);
    assert_true(n > 0);
    for (size_t cap = 0; cap <= (size_t)n; cap += (cap < 64 ? 1 : 997))
        assert_int_equal(metrics_write(buf, cap, &in), -1);
    assert_int_equal(metrics_write(buf, (size_t)n, &in), -1); /* no room for the NUL */
    assert_int_equal(metrics_write(buf, (size_t)n + 1, &in), n);
}

/* The certificate's expiry only with TLS: a gauge in Unix seconds. */
static void test_tls_expiry(void **state)
{
    (void)state;
    struct stats *all[2] = {&w0, &w1};
    struct metrics_input in = {all, 2, NULL, 0, "1", 0, NULL, 0};
    reset();
    assert_true(metrics_write(buf, sizeof buf, &in) > 0);
    assert_null(strstr(buf, "tls_cert_expiry"));
    in.tls_cert_expiry_s = 1798761600;
    assert_true(metrics_write(buf, sizeof buf, &in) > 0);
    assert_int_equal(lines_equal(buf, "# TYPE wstracker_tls_cert_expiry_timestamp_seconds gauge"),
                     1);
    assert_int_equal(lines_equal(buf, "wstracker_tls_cert_expiry_timestamp_seconds 1798761600"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_families),   cmocka_unit_test(test_every_sample_typed),
        cmocka_unit_test(test_escaping),   cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_process),    cmocka_unit_test(test_short_buffer),
        cmocka_unit_test(test_tls_expiry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
