/* probe.h - what loadgen reads about the server and the machine.
 *
 * Owns:   nothing (reads /proc, and the tracker's /stats.json over HTTP).
 * Thread: main only.
 * Why:    CPU per announce and memory per connection are the figures users
 *         compare trackers by, and they come from outside the tracker.
 */
#ifndef LG_PROBE_H
#define LG_PROBE_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define PROBE_STATS_MAX 16 /* /stats.json counters kept */

/* utime + stime of process pid (all its threads), ns; -1 if unreadable. */
int64_t probe_cpu_ns(pid_t pid);

/* Time the threads of pid spent runnable but waiting for a CPU (the second
 * field of /proc/pid/task/TID/schedstat, summed), ns; -1 if unreadable. When
 * it grows, other processes took the server's core. */
int64_t probe_runq_wait_ns(pid_t pid);

/* This process's user + system CPU time, ns (getrusage). */
int64_t probe_self_cpu_ns(void);

/* A "Name:   N kB" field of /proc/pid/status (VmRSS, VmHWM), KiB; -1 if absent. */
int64_t probe_status_kb(pid_t pid, const char *field);

#define PROBE_CPUS_MAX 64

/* Per-CPU time from /proc/stat, in clock ticks. */
struct probe_cpus {
    unsigned n;                    /* CPUs read, <= PROBE_CPUS_MAX */
    uint64_t busy[PROBE_CPUS_MAX]; /* all but idle and iowait */
    uint64_t total[PROBE_CPUS_MAX];
};

/* Read /proc/stat's cpuN lines; returns 0 or -1. */
int probe_cpus_read(struct probe_cpus *c);

/* The kernel's TCP socket buffer memory, /proc/net/sockstat "TCP: ... mem N", pages. */
int64_t probe_tcp_mem_pages(void);

/* A /proc/meminfo field (Slab, MemAvailable), KiB; -1 if absent. */
int64_t probe_meminfo_kb(const char *field);

/* The tracker's /stats.json counters. */
struct probe_stats {
    int ok; /* 1 = read and parsed */
    unsigned n;
    char name[PROBE_STATS_MAX][32];
    int64_t v[PROBE_STATS_MAX];
};

/* GET /stats.json from the tracker at addr (blocking, 2 s timeout) and keep the
 * counters loadgen cross-checks. */
void probe_tracker_stats(const struct sockaddr *addr, socklen_t len, const char *host_hdr,
                         struct probe_stats *out);

/* A counter by name, or -1. */
int64_t probe_stat(const struct probe_stats *s, const char *name);

#endif
