/* metrics.c - the /metrics writer; see metrics.h.
 *
 * Every family gets a HELP and a TYPE line; counters end in _total; times in
 * seconds, sizes in bytes. Families of STATS_TABLE are grouped by metric name
 * (entries of one family need not be adjacent in the table). Pure: no I/O.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"

#define PREFIX "wstracker_"

enum stats_mtype { STATS_MT_C, STATS_MT_G, STATS_MT_W };

static const struct metric_desc {
    const char *name, *label, *help;
    enum stats_mtype type;
} descs[STATS_COUNT] = {
#define STATS_DESC(n, json, metric, type, label, help)                                             \
    [STATS_##n] = {metric, label, help, STATS_MT_##type},
    STATS_TABLE(STATS_DESC)
#undef STATS_DESC
};

const char *const metrics_kind_names[STATS_KINDS] = {
    [STATS_KIND_ANNOUNCE] = "announce", [STATS_KIND_OFFER] = "offer",
    [STATS_KIND_ANSWER] = "answer",     [STATS_KIND_SCRAPE] = "scrape",
    [STATS_KIND_RELAY] = "relay",       [STATS_KIND_INVALID] = "invalid",
};

struct out {
    char *buf;
    size_t cap, len;
    bool short_;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int r;
    if (o->short_)
        return;
    va_start(ap, fmt);
    r = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (r < 0 || (size_t)r >= o->cap - o->len)
        o->short_ = true;
    else
        o->len += (size_t)r;
}

static void put_char(struct out *o, char c)
{
    if (o->short_ || o->len + 1 >= o->cap) {
        o->short_ = true;
        return;
    }
    o->buf[o->len++] = c;
    o->buf[o->len] = '\0';
}

/* A label value: backslash, double quote and newline escaped (0.0.4). */
static void put_label_value(struct out *o, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') {
            put_char(o, '\\');
            put_char(o, *s);
        } else if (*s == '\n') {
            put_char(o, '\\');
            put_char(o, 'n');
        } else {
            put_char(o, *s);
        }
    }
}

/* HELP text: backslash and newline escaped (0.0.4). */
static void put_help(struct out *o, const char *name, const char *help, const char *type)
{
    put(o, "# HELP %s ", name);
    for (const char *s = help; *s; s++) {
        if (*s == '\\') {
            put_char(o, '\\');
            put_char(o, '\\');
        } else if (*s == '\n') {
            put_char(o, '\\');
            put_char(o, 'n');
        } else {
            put_char(o, *s);
        }
    }
    put(o, "\n# TYPE %s %s\n", name, type);
}

/* ns as seconds in decimal, exactly, without trailing zeros ("0.00001", "2"). */
static void put_seconds(struct out *o, uint64_t ns)
{
    char frac[16];
    int n;
    if (ns % 1000000000u == 0) {
        put(o, "%" PRIu64, ns / 1000000000u);
        return;
    }
    n = snprintf(frac, sizeof frac, "%09" PRIu64, ns % 1000000000u);
    while (n > 0 && frac[n - 1] == '0')
        frac[--n] = '\0';
    put(o, "%" PRIu64 ".%s", ns / 1000000000u, frac);
}

static uint64_t load(const _Atomic uint64_t *p)
{
    return atomic_load_explicit(p, memory_order_relaxed);
}

static void write_table(struct out *o, const struct metrics_input *in)
{
    char name[96];
    for (int c = 0; c < STATS_COUNT; c++) {
        const struct metric_desc *d = &descs[c];
        bool seen = false;
        for (int j = 0; j < c && !seen; j++)
            seen = !strcmp(descs[j].name, d->name);
        if (seen)
            continue;
        snprintf(name, sizeof name, PREFIX "%s%s", d->name, d->type == STATS_MT_C ? "_total" : "");
        put_help(o, name, d->help, d->type == STATS_MT_C ? "counter" : "gauge");
        for (int j = c; j < STATS_COUNT; j++) {
            const struct metric_desc *e = &descs[j];
            if (strcmp(e->name, d->name))
                continue;
            if (e->type == STATS_MT_W) {
                for (unsigned k = 0; k < in->n; k++)
                    put(o, "%s{%s%sworker=\"%u\"} %" PRIu64 "\n", name, e->label ? e->label : "",
                        e->label ? "," : "", k, load(&in->all[k]->v[j]));
            } else if (e->label) {
                put(o, "%s{%s} %" PRIu64 "\n", name, e->label,
                    stats_sum(in->all, in->n, (enum stats_counter)j));
            } else {
                put(o, "%s %" PRIu64 "\n", name, stats_sum(in->all, in->n, (enum stats_counter)j));
            }
        }
    }
}

static void write_reasons(struct out *o, const struct metrics_input *in)
{
    put_help(o, PREFIX "failures_total", "Failure replies, by failure reason", "counter");
    for (unsigned r = 0; r < in->n_reasons && r < STATS_REASONS_MAX; r++) {
        uint64_t sum = 0;
        if (!in->reason_names[r])
            continue;
        for (unsigned k = 0; k < in->n; k++)
            sum += load(&in->all[k]->reasons[r]);
        put(o, PREFIX "failures_total{reason=\"");
        put_label_value(o, in->reason_names[r]);
        put(o, "\"} %" PRIu64 "\n", sum);
    }
}

static void write_histograms(struct out *o, const struct metrics_input *in)
{
    const char *name = PREFIX "request_duration_seconds";
    put_help(o, name,
             "Time from a complete client message to each frame it causes being handed to "
             "the socket layer (written or queued): announce and scrape replies, forwarded "
             "offers and answers, relay frames; by action",
             "histogram");
    for (unsigned k = 0; k < STATS_KIND_INVALID; k++) { /* an invalid message has no reply */
        uint64_t cum = 0, sum_ns = 0;
        for (unsigned w = 0; w < in->n; w++)
            sum_ns += load(&in->all[w]->hist_sum_ns[k]);
        for (unsigned b = 0; b < STATS_HIST_BUCKETS; b++) {
            for (unsigned w = 0; w < in->n; w++)
                cum += load(&in->all[w]->hist[k][b]);
            put(o, "%s_bucket{action=\"%s\",le=\"", name, metrics_kind_names[k]);
            if (b < STATS_HIST_BUCKETS - 1)
                put_seconds(o, stats_hist_bounds[b]);
            else
                put(o, "+Inf");
            put(o, "\"} %" PRIu64 "\n", cum);
        }
        put(o, "%s_sum{action=\"%s\"} ", name, metrics_kind_names[k]);
        put_seconds(o, sum_ns);
        put(o, "\n%s_count{action=\"%s\"} %" PRIu64 "\n", name, metrics_kind_names[k], cum);
    }
}

static void write_process(struct out *o, const struct metrics_process *p)
{
    if (p->have_proc) {
        put_help(o, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                 "counter");
        put(o, "process_cpu_seconds_total ");
        put_seconds(o, p->cpu_ns);
        put(o, "\n");
        put_help(o, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge");
        put(o, "process_resident_memory_bytes %" PRIu64 "\n", p->resident_bytes);
        put_help(o, "process_open_fds", "Number of open file descriptors.", "gauge");
        put(o, "process_open_fds %" PRIu64 "\n", p->open_fds);
        put_help(o, "process_max_fds", "Maximum number of open file descriptors.", "gauge");
        put(o, "process_max_fds %" PRIu64 "\n", p->max_fds);
        put_help(o, "process_start_time_seconds",
                 "Start time of the process since unix epoch in seconds.", "gauge");
        put(o, "process_start_time_seconds %" PRIu64 "\n", p->start_time_s);
    }
    if (p->have_alloc) {
        put_help(o, PREFIX "jemalloc_allocated_bytes",
                 "Bytes allocated by the application (jemalloc stats.allocated)", "gauge");
        put(o, PREFIX "jemalloc_allocated_bytes %" PRIu64 "\n", p->alloc_allocated);
        put_help(o, PREFIX "jemalloc_active_bytes",
                 "Bytes in active pages allocated by the application (jemalloc stats.active)",
                 "gauge");
        put(o, PREFIX "jemalloc_active_bytes %" PRIu64 "\n", p->alloc_active);
        put_help(o, PREFIX "jemalloc_resident_bytes",
                 "Bytes in physically resident data pages mapped by jemalloc (stats.resident)",
                 "gauge");
        put(o, PREFIX "jemalloc_resident_bytes %" PRIu64 "\n", p->alloc_resident);
    }
}

int metrics_write(char *buf, size_t cap, const struct metrics_input *in)
{
    struct out o = {buf, cap, 0, cap == 0};
    if (cap)
        buf[0] = '\0';
    put_help(&o, PREFIX "build_info", "The running wstracker's version; always 1", "gauge");
    put(&o, PREFIX "build_info{version=\"");
    put_label_value(&o, in->version);
    put(&o, "\"} 1\n");
    put_help(&o, PREFIX "uptime_seconds", "Seconds since the tracker started", "gauge");
    put(&o, PREFIX "uptime_seconds ");
    put_seconds(&o, in->uptime_ms * 1000000u);
    put(&o, "\n");
    put_help(&o, PREFIX "workers", "Worker threads (--threads)", "gauge");
    put(&o, PREFIX "workers %u\n", in->n);
    if (in->tls_cert_expiry_s) {
        put_help(&o, PREFIX "tls_cert_expiry_timestamp_seconds",
                 "notAfter of the certificate served on --listen-tls, Unix seconds", "gauge");
        put(&o, PREFIX "tls_cert_expiry_timestamp_seconds %lld\n",
            (long long)in->tls_cert_expiry_s);
    }
    write_table(&o, in);
    write_reasons(&o, in);
    write_histograms(&o, in);
    if (in->proc)
        write_process(&o, in->proc);
    return o.short_ ? -1 : (int)o.len;
}
