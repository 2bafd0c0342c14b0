/* procstat.c - reads /proc for the process_* metrics; see procstat.h. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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
    p->open_fds = open_fds();
    p->max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (uint64_t)rl.rlim_cur : 0;
    p->have_proc = true;
}
