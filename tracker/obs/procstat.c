/* procstat.c - reads /proc for the process_* metrics; see procstat.h. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "procstat.h"

/* Seconds since the epoch at boot ("btime" of /proc/stat), or 0. */
static unsigned long long boot_time(void)
{
    char line[256];
    unsigned long long bt = 0;
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "btime %llu", &bt) == 1)
            break;
    fclose(f);
    return bt;
}

/* Fields 14 (utime), 15 (stime), 22 (starttime) and 24 (rss) of
 * /proc/self/stat, counted after the command name's closing parenthesis
 * (the name may hold spaces and parentheses). */
static int read_stat(unsigned long long *ticks, unsigned long long *start, unsigned long long *rss)
{
    char buf[1024], *p;
    size_t n;
    unsigned long long v[22] = {0};
    FILE *f = fopen("/proc/self/stat", "re");
    if (!f)
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (!(p = strrchr(buf, ')')))
        return -1;
    p += 2; /* ") " then field 3, the state */
    if (*p)
        p++; /* the state is a letter */
    for (int k = 4; k <= 24; k++) {
        char *end;
        v[k - 4] = strtoull(p, &end, 10);
        if (end == p)
            return -1;
        p = end;
    }
    *ticks = v[14 - 4] + v[15 - 4];
    *start = v[22 - 4];
    *rss = v[24 - 4];
    return 0;
}

static unsigned long long open_fds(void)
{
    unsigned long long n = 0;
    struct dirent *e;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n ? n - 1 : 0; /* not the directory's own fd */
}

/* open_fds() at most once per PROCSTAT_FDS_MS: the walk costs about 1 us per
 * open fd (20 ms at 19,000), on the worker answering the scrape. One scrape
 * in a period walks (it wins the exchange), the others read the count. */
static uint64_t open_fds_cached(void)
{
    static _Atomic int64_t walked_ms = INT64_MIN / 2; /* {atomic} any worker */
    static _Atomic uint64_t count;                    /* {atomic} any worker */
    struct timespec ts;
    int64_t now, at;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    at = atomic_load_explicit(&walked_ms, memory_order_relaxed);
    if (now - at >= PROCSTAT_FDS_MS &&
        atomic_compare_exchange_strong_explicit(&walked_ms, &at, now, memory_order_relaxed,
                                                memory_order_relaxed))
        atomic_store_explicit(&count, open_fds(), memory_order_relaxed);
    else if (!atomic_load_explicit(&count, memory_order_relaxed))
        return open_fds(); /* the first walk is still under way on another worker */
    return atomic_load_explicit(&count, memory_order_relaxed);
}

void procstat_read(struct metrics_process *p)
{
    unsigned long long ticks, start, rss;
    long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    struct rlimit rl;
    p->have_proc = false;
    if (hz <= 0 || page <= 0 || read_stat(&ticks, &start, &rss) != 0)
        return;
    p->cpu_ns = (uint64_t)(ticks * (1000000000ull / (unsigned long long)hz));
    p->resident_bytes = (uint64_t)(rss * (unsigned long long)page);
    p->start_time_s = (uint64_t)(boot_time() + start / (unsigned long long)hz);
    p->open_fds = open_fds_cached();
    p->max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (uint64_t)rl.rlim_cur : 0;
    p->have_proc = true;
}
