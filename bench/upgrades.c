/* upgrades.c - WebSocket upgrades per second: open, upgrade, close, repeat.
 *
 * Owns:   the upgrade-churn client of bench/token-upgrades.sh: --parallel
 *         connections in flight (epoll, one thread); each connects, sends the
 *         HTTP upgrade (with --token T as ?token=T, or as "Authorization:
 *         Bearer T" with --bearer), reads the response head, counts a 101 as
 *         an upgrade and anything else as a refusal (the first status line is
 *         printed), sends a close frame and closes; then the slot starts over.
 *         Bounded by --count upgrades and --duration seconds, whichever ends
 *         first. With --server-pid: the server's CPU time per upgrade.
 * Why:    loadgen holds connections open and measures announces; what a token
 *         costs is paid once per connection, at the upgrade. Loopback only
 *         (127.0.0.0/8), like loadgen.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SLOTS_MAX 256
#define REQ_MAX   (16 << 10)

struct slot {
    int fd;
    size_t got;
    char buf[1024];
};

static struct sockaddr_in addr;
static char req[REQ_MAX];
static size_t req_len;
static struct slot slots[SLOTS_MAX];
static unsigned long started, ok, refused, failed;
static char first_refusal[128];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* utime + stime of pid in seconds, or -1. */
static double cpu_of(long pid)
{
    char path[64], buf[1024], *p;
    unsigned long ut = 0, st = 0;
    FILE *f;
    size_t n;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if (!(f = fopen(path, "r")))
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (!(p = strrchr(buf, ')')) ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int open_slot(int ep, struct slot *s)
{
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = s};
    int one = 1;
    s->got = 0;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (s->fd < 0)
        return -1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(s->fd, (struct sockaddr *)&addr, sizeof addr) != 0 && errno != EINPROGRESS) {
        close(s->fd);
        s->fd = -1;
        return -1;
    }
    started++;
    return epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
}

static void close_slot(struct slot *s, int sent_upgrade)
{
    /* a masked close frame (code 1000), then the socket */
    static const unsigned char close_frame[] = {0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2};
    if (sent_upgrade && write(s->fd, close_frame, sizeof close_frame) < 0) {
        /* the server may have gone already: nothing to do */
    }
    close(s->fd);
    s->fd = -1;
}

/* One event on s: 1 when the slot is done (closed), 0 to wait more. */
static int step(int ep, struct slot *s, unsigned events)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
    char *end;
    ssize_t n;
    if (events & EPOLLOUT) {
        int err = 0;
        socklen_t l = sizeof err;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0 || err ||
            write(s->fd, req, req_len) != (ssize_t)req_len ||
            epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev) != 0) {
            failed++;
            close_slot(s, 0);
            return 1;
        }
        return 0;
    }
    n = read(s->fd, s->buf + s->got, sizeof s->buf - 1 - s->got);
    if (n <= 0) {
        if (n < 0 && errno == EAGAIN)
            return 0;
        failed++;
        close_slot(s, 0);
        return 1;
    }
    s->got += (size_t)n;
    s->buf[s->got] = '\0';
    if (!(end = strstr(s->buf, "\r\n\r\n"))) {
        if (s->got == sizeof s->buf - 1) {
            failed++;
            close_slot(s, 0);
            return 1;
        }
        return 0;
    }
    if (strncmp(s->buf, "HTTP/1.1 101 ", 13) == 0) {
        ok++;
        close_slot(s, 1);
    } else {
        if (!refused++) {
            char *eol = strstr(s->buf, "\r\n");
            snprintf(first_refusal, sizeof first_refusal, "%.*s", (int)(eol - s->buf), s->buf);
        }
        close_slot(s, 0);
    }
    return 1;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: upgrades --url ws://127.0.0.1:PORT/[PATH] [--token T | --token-file F]\n"
            "                [--bearer] [--parallel P (16)] [--count N (20000)]\n"
            "                [--duration S (10)] [--server-pid PID] [--label TEXT]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *url = NULL, *token = NULL, *label = "", *path = "/";
    static char tokbuf[REQ_MAX / 2], host[64];
    unsigned parallel = 16, port = 0;
    unsigned long count = 20000;
    double duration = 10, t0, t1, c0 = -1, c1 = -1;
    long server_pid = 0;
    int bearer = 0, ep, active = 0;
    struct epoll_event evs[64];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--bearer")) {
            bearer = 1;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (!strcmp(a, "--url"))
            url = v;
        else if (!strcmp(a, "--token"))
            token = v;
        else if (!strcmp(a, "--token-file")) {
            FILE *f = fopen(v, "r");
            size_t n = f ? fread(tokbuf, 1, sizeof tokbuf - 1, f) : 0;
            if (f)
                fclose(f);
            while (n && (tokbuf[n - 1] == '\n' || tokbuf[n - 1] == '\r'))
                n--;
            tokbuf[n] = '\0';
            if (!n) {
                fprintf(stderr, "upgrades: no token in %s\n", v);
                return 2;
            }
            token = tokbuf;
        } else if (!strcmp(a, "--parallel"))
            parallel = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--count"))
            count = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--duration"))
            duration = strtod(v, NULL);
        else if (!strcmp(a, "--server-pid"))
            server_pid = strtol(v, NULL, 10);
        else if (!strcmp(a, "--label"))
            label = v;
        else
            return usage();
    }
    if (!url || parallel < 1 || parallel > SLOTS_MAX || count < 1 || duration <= 0 ||
        duration > 600)
        return usage();
    if (sscanf(url, "ws://%63[0-9.]:%u", host, &port) != 2 || port < 1 || port > 65535) {
        fprintf(stderr, "upgrades: --url must be ws://<IPv4>:<port>/...\n");
        return 2;
    }
    if ((path = strchr(url + 5, '/')) == NULL)
        path = "/";
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1 ||
        (ntohl(addr.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "upgrades: loopback only (127.0.0.0/8)\n");
        return 2;
    }
    {
        int n = snprintf(req, sizeof req,
                         "GET %s%s%s%s HTTP/1.1\r\nHost: %s:%u\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                         path, token && !bearer ? (strchr(path, '?') ? "&" : "?") : "",
                         token && !bearer ? "token=" : "", token && !bearer ? token : "", host,
                         port, token && bearer ? "Authorization: Bearer " : "",
                         token && bearer ? token : "", token && bearer ? "\r\n" : "");
        if (n < 0 || (size_t)n >= sizeof req) {
            fprintf(stderr, "upgrades: token too long\n");
            return 2;
        }
        req_len = (size_t)n;
    }
    if ((ep = epoll_create1(0)) < 0)
        return 1;
    if (server_pid)
        c0 = cpu_of(server_pid);
    t0 = now_s();
    for (unsigned i = 0; i < parallel; i++) {
        slots[i].fd = -1;
        if (started < count && open_slot(ep, &slots[i]) == 0)
            active++;
    }
    while (active > 0) {
        double t = now_s();
        int n;
        if (t - t0 > duration + 5) /* in flight too long: stop anyway */
            break;
        n = epoll_wait(ep, evs, 64, 1000);
        for (int k = 0; k < n; k++) {
            struct slot *s = evs[k].data.ptr;
            if (step(ep, s, evs[k].events)) {
                active--;
                if (started < count && now_s() - t0 < duration) {
                    if (open_slot(ep, s) == 0)
                        active++;
                    else
                        failed++;
                }
            }
        }
    }
    t1 = now_s();
    if (server_pid)
        c1 = cpu_of(server_pid);
    printf("upgrades%s%s: %lu ok, %lu refused, %lu failed, %lu in flight at the end, in %.2f s: "
           "%.0f upgrades/s",
           label[0] ? " " : "", label, ok, refused, failed, (unsigned long)active, t1 - t0,
           (double)ok / (t1 - t0));
    if (c0 >= 0 && c1 >= 0 && ok + refused)
        printf("; server cpu %.1f us per request (%.0f %% of a core)",
               (c1 - c0) * 1e6 / (double)(ok + refused), (c1 - c0) * 100 / (t1 - t0));
    printf("\n");
    if (refused)
        printf("first refusal: %s\n", first_refusal);
    return failed || active ? 1 : 0;
}
