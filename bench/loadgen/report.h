/* report.h - a finished run's figures, as text and as JSON, and the smoke check.
 *
 * Owns:   struct report (one, filled by main after the threads are joined).
 * Thread: main only.
 * Why:    one place decides what each figure means, so the text, the JSON that
 *         compare.sh reads and the smoke check cannot disagree.
 */
#ifndef LG_REPORT_H
#define LG_REPORT_H

#include <stdio.h>

#include "lg.h"
#include "probe.h"

#define REPORT_WHY_MAX 256

struct report {
    const struct lg_config *cfg;
    double connect_s;       /* s until every connection was open (or the timeout) */
    double measured_s;      /* s of the measured phase, wall clock */
    unsigned open_at_start; /* connections open when measuring began */
    unsigned open_at_end;   /* ... and when it ended */
    struct lg_stats meas;   /* the measured phase */
    struct lg_stats total;  /* every phase */
    uint64_t inflight_end;  /* announces unanswered when loadgen stopped */
    int64_t self_cpu_ns;    /* loadgen's CPU during the measured phase */
    int64_t server_cpu_ns;  /* server's CPU during the measured phase, -1 = unknown */
    int64_t server_wait_ns; /* server's run-queue wait in the measured phase, -1 = unknown */
    int64_t server_rss_kb;  /* VmRSS at the end, -1 = unknown */
    int64_t server_hwm_kb;  /* VmHWM (peak RSS) at the end */
    unsigned n_cpus;        /* CPUs in cpu_busy_pct */
    double cpu_busy_pct[PROBE_CPUS_MAX]; /* each CPU's busy time during the measured phase */
    struct probe_stats ts_before;        /* tracker /stats.json before connecting */
    struct probe_stats ts_after;         /* ... after the drain */
    /* idle mode */
    unsigned idle_done; /* connections whose one announce was answered */
    unsigned idle_gone; /* connections that failed */
    int64_t rss_before_kb, rss_after_kb, rss_end_kb, rss_min_kb, rss_max_kb;
    int64_t tcp_mem_before, tcp_mem_after; /* pages */
    int64_t slab_before_kb, slab_after_kb;
    /* --check */
    int check_ok;
    char check_why[REPORT_WHY_MAX];
};

/* Judge the run as bench/smoke.sh needs (fills check_ok and check_why). */
void report_check(struct report *r);

void report_text(FILE *f, const struct report *r);
void report_json(FILE *f, const struct report *r);

#endif
