/* probe.c - /proc readers and the tracker's /stats.json; see probe.h. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

static const char *const stat_names[] = {
    "announces",      "offersForwarded", "offersDropped",      "answersForwarded",
    "answersDropped", "errors",          "mailDropped",        "connections",
    "peersAll",       "torrents",        "connectionsRefused", "relays",
    "relayFrames",    "relaysRefused",
};

static int read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (int)n;
}

int64_t probe_cpu_ns(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (read_file(path, buf, sizeof buf) < 0)
        return -1;
    /* comm may hold spaces and parentheses: fields start after the last ')'. */
    const char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    /* after ')': state(3) ... utime is field 14, stime 15 */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return (int64_t)((ut + st) * (1000000000ull / (unsigned long long)hz));
}

int64_t probe_runq_wait_ns(pid_t pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int64_t sum = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char p2[400];
        unsigned long long run, wait;
        snprintf(p2, sizeof p2, "%s/%s/schedstat", path, e->d_name);
        if (read_file(p2, buf, sizeof buf) > 0 && sscanf(buf, "%llu %llu", &run, &wait) == 2)
            sum += (int64_t)wait;
    }
    closedir(d);
    return sum;
}

int64_t probe_self_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ll +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ll;
}

static int64_t field_kb(const char *buf, const char *field)
{
    size_t fl = strlen(field);
    for (const char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (!strncmp(p, field, fl) && p[fl] == ':')
            return strtoll(p + fl + 1, NULL, 10);
    }
    return -1;
}

int64_t probe_status_kb(pid_t pid, const char *field)
{
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (read_file(path, buf, sizeof buf) < 0)
        return -1;
    return field_kb(buf, field);
}

int64_t probe_meminfo_kb(const char *field)
{
    char buf[8192];
    if (read_file("/proc/meminfo", buf, sizeof buf) < 0)
        return -1;
    return field_kb(buf, field);
}

int probe_cpus_read(struct probe_cpus *c)
{
    char buf[16384];
    memset(c, 0, sizeof *c);
    if (read_file("/proc/stat", buf, sizeof buf) < 0)
        return -1;
    for (const char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        unsigned cpu;
        unsigned long long v[8] = {0};
        if (strncmp(p, "cpu", 3) != 0 || p[3] < '0' || p[3] > '9')
            continue;
        if (sscanf(p, "cpu%u %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7]) < 5 ||
            cpu >= PROBE_CPUS_MAX)
            continue;
        uint64_t total = 0;
        for (unsigned i = 0; i < 8; i++)
            total += v[i];
        c->total[cpu] = total;
        c->busy[cpu] = total - v[3] - v[4];
        if (cpu + 1 > c->n)
            c->n = cpu + 1;
    }
    return c->n ? 0 : -1;
}

int64_t probe_tcp_mem_pages(void)
{
    char buf[2048];
    if (read_file("/proc/net/sockstat", buf, sizeof buf) < 0)
        return -1;
    const char *p = strstr(buf, "\nTCP:");
    if (!p)
        return -1;
    const char *e = strchr(p + 1, '\n');
    const char *m = strstr(p, " mem ");
    if (!m || (e && m > e))
        return -1;
    return strtoll(m + 5, NULL, 10);
}

static int64_t json_number(const char *body, const char *name)
{
    char key[48];
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *p = strstr(body, key);
    return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

void probe_tracker_stats(const struct sockaddr *addr, socklen_t len, const char *host_hdr,
                         struct probe_stats *out)
{
    char buf[16384];
    size_t got = 0;
    memset(out, 0, sizeof *out);
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, addr, len) != 0)
        goto done;
    int n = snprintf(buf, sizeof buf,
                     "GET /stats.json HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host_hdr);
    if (write(fd, buf, (size_t)n) != n)
        goto done;
    for (;;) {
        ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        buf[got] = '\0';
        const char *body = strstr(buf, "\r\n\r\n");
        if (body && strrchr(body, '}'))
            break;
        if (got == sizeof buf - 1)
            break;
    }
    buf[got] = '\0';
    if (strncmp(buf, "HTTP/1.1 200", 12) != 0)
        goto done;
    const char *body = strstr(buf, "\r\n\r\n");
    if (!body)
        goto done;
    for (unsigned i = 0; i < sizeof stat_names / sizeof stat_names[0] && i < PROBE_STATS_MAX; i++) {
        snprintf(out->name[out->n], sizeof out->name[0], "%s", stat_names[i]);
        out->v[out->n++] = json_number(body, stat_names[i]);
    }
    out->ok = 1;
done:
    close(fd);
}

int64_t probe_stat(const struct probe_stats *s, const char *name)
{
    for (unsigned i = 0; i < s->n; i++)
        if (!strcmp(s->name[i], name))
            return s->v[i];
    return -1;
}
