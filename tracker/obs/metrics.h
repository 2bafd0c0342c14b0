/* metrics.h - GET /metrics: the Prometheus text exposition format 0.0.4.
 *
 * Owns:   the /metrics writer (obs/metrics.c) and struct metrics_process, the
 *         figures of the process it is given (read by obs/procstat.c and, with
 *         jemalloc, by main's allocator hook).
 * Thread: any worker answering /metrics; the writer reads the workers'
 *         struct stats (relaxed atomics) and writes only the caller's buffer.
 * Why:    Debian 12 has no C Prometheus client; the format is simple enough
 *         to write from the stats table (STATS_TABLE names every family). The
 *         writer does no I/O, so it is unit-tested byte for byte.
 */
#ifndef WSTRACKER_METRICS_H
#define WSTRACKER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* What the process looks like, filled by the caller; a part whose flag is
 * false is left out of the output. */
struct metrics_process {
    bool have_proc;             /* the process_* figures (/proc) were read */
    uint64_t cpu_ns;            /* user + system CPU time */
    uint64_t resident_bytes;    /* RSS */
    uint64_t open_fds, max_fds; /* /proc/self/fd entries, RLIMIT_NOFILE soft limit */
    uint64_t start_time_s;      /* process start, seconds since the Unix epoch */
    bool have_alloc;            /* the jemalloc figures were read (mallctl) */
    uint64_t alloc_allocated, alloc_active, alloc_resident; /* bytes */
};

struct metrics_input {
    struct stats *const *all; /* n workers' stats */
    unsigned n;
    const char *const *reason_names; /* n_reasons names (NULL: none), plain text */
    unsigned n_reasons;
    const char *version;                /* wstracker_build_info's label */
    uint64_t uptime_ms;                 /* wstracker_uptime_seconds */
    const struct metrics_process *proc; /* NULL: no process figures */
    int64_t tls_cert_expiry_s;          /* the served certificate's notAfter, unix s; 0: no TLS */
};

/* Write the exposition into buf; returns its length, or -1 when cap is short
 * (the caller retries with more). */
int metrics_write(char *buf, size_t cap, const struct metrics_input *in);

/* The names the histograms' action label takes, by enum stats_kind. */
extern const char *const metrics_kind_names[STATS_KINDS];

#endif
