/* main.c - loadgen: a WebTorrent tracker load generator (flags, phases, report).
 *
 * Owns:   the run: parses flags into struct lg_config, builds the work pool,
 *         starts the load threads (in the relay modes each with whole rooms),
 *         moves them through warmup, measure and drain (or idle and hold),
 *         samples the server from /proc, and reports.
 * Thread: main; the load threads run loop_main (loop.c).
 * Why:    one bounded run per invocation: it always stops by itself.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "lg.h"
#include "probe.h"
#include "report.h"
#include "selftest.h"

#define DRAIN_QUIET_NS 300000000ull  /* drain ends after this long without a message */
#define DRAIN_MAX_NS   5000000000ull /* ... or after this long in any case */
#define POLL_NS        20000000ull   /* main's polling step */

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: loadgen [options]\n"
        "Load a WebTorrent WebSocket tracker on a loopback address with the\n"
        "aquatic_ws_load_test workload, then report. Every run stops by itself.\n"
        "\n"
        "  --url ws://127.0.0.1:8000/  tracker (loopback only: 127.0.0.0/8 or [::1]);\n"
        "                             wss:// for TLS (the certificate is not checked)\n"
        "  --threads N           load threads, each owning its connections (1)\n"
        "  --connections N       WebSocket connections in total (1000)\n"
        "  --offers N            offers per announce, <= %d (5; 10 = the aquatic mix)\n"
        "  --hashes N            info hashes, drawn by the Gamma(0.2, 100) rule (10000)\n"
        "  --rate R              open loop: R announces/s in total (default: closed loop,\n"
        "                        one announce in flight per connection)\n"
        "  --duration S          measured seconds (10)\n"
        "  --warmup S            seconds before measuring, after every connection is up (2)\n"
        "  --idle                idle-scale mode: each connection announces once, then idles\n"
        "  --swarms H            idle mode: info hashes, connection i joins swarm i %% H (100)\n"
        "  --hold S              idle mode: seconds to hold the connections (10)\n"
        "  --reannounce S        idle mode: announce again every S s (default: the\n"
        "                        interval the tracker sends, as clients do; 0 = never)\n"
        "  --source ADDR         bind connections to ADDR, ADDR+1, ... (IPv4; default\n"
        "                        127.0.0.2 in idle mode, none otherwise)\n"
        "  --per-source N        connections per source address (25000)\n"
        "  --connect-rate N      new connections per second in total (5000)\n"
        "  --connect-timeout S   give up waiting for connections after S (30, or more\n"
        "                        when --connections / --connect-rate needs it)\n"
        "  --mode M              closed, open (= --rate), idle (= --idle), relay-directed or\n"
        "                        relay-broadcast: rooms of --room-size connections, each\n"
        "                        announces once into its room, then relays in a closed loop\n"
        "                        to one other member (directed) or to the room (broadcast)\n"
        "  --room-size N         relay modes: members per room (50); --connections must be a\n"
        "                        multiple (default: one room)\n"
        "  --data-bytes N        relay modes: bytes of each relay's data, %d..%d (100)\n"
        "  --window W            relay modes: relays in flight per member, <= %d (directed\n"
        "                        16, broadcast 4); a relay is in flight until its every frame\n"
        "                        is read\n"
        "  --relay-timeout S     relay modes: give up a relay not complete after S (2)\n"
        "  --no-answer           do not answer forwarded offers\n"
        "  --busy-poll           spin on epoll_wait instead of sleeping: on loopback a\n"
        "                        sleeping reader makes the server pay for its wakeup,\n"
        "                        which a remote client's kernel would pay\n"
        "  --no-reconnect        do not reopen connections the server closed\n"
        "  --server-pid PID      report the server's CPU per announce cycle and its memory\n"
        "  --perf-control FIFO   write \"enable\" to FIFO when the measured phase starts and\n"
        "                        \"disable\" when it ends (perf stat -D -1 --control fifo:FIFO)\n"
        "  --tracker-stats       read wstracker's /stats.json before and after, cross-check\n"
        "  --check               judge the run (smoke); exit 1 with the reason if wrong\n"
        "  --json PATH           also write the report as JSON to PATH ('-' = stdout)\n"
        "  --label TEXT          name of the run in the report\n"
        "  --seed N              repeatable ids and draws (default: random)\n"
        "  --self-test           check loadgen's own framing, histogram and workload; exit\n",
        WORK_OFFERS_MAX, WORK_DATA_MIN, WORK_DATA_MAX, RELAY_WINDOW_MAX);
}

static int parse_uint(const char *s, unsigned long max, unsigned *out)
{
    char *e;
    errno = 0;
    unsigned long v = strtoul(s, &e, 10);
    if (errno || e == s || *e || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int parse_secs(const char *s, double *out)
{
    char *e;
    double v = strtod(s, &e);
    if (e == s || *e || v < 0 || v > 86400)
        return -1;
    *out = v;
    return 0;
}

/* ws://HOST[:PORT][/PATH] -> cfg->addr, host_hdr, path; loopback only. */
static int parse_url(struct lg_config *cfg, const char *url, char *err, size_t errlen)
{
    char host[128];
    const char *p = url, *port = "80";
    char portbuf[8];
    snprintf(cfg->url, sizeof cfg->url, "%s", url);
    int tls = strncmp(p, "wss://", 6) == 0;
    if (!tls && strncmp(p, "ws://", 5) != 0) {
        snprintf(err, errlen, "--url must start with ws:// or wss://");
        return -1;
    }
    p += tls ? 6 : 5;
    if (tls) {
        port = "443";
        /* One client context for every thread (SSL_new from it is thread-safe).
         * Partial writes, and a moved buffer on retry: loop.c queues what
         * SSL_write did not take, as it does for send(). */
        cfg->tls = SSL_CTX_new(TLS_client_method());
        if (!cfg->tls) {
            snprintf(err, errlen, "cannot make a TLS client context");
            return -1;
        }
        SSL_CTX_set_verify(cfg->tls, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_mode(cfg->tls,
                         SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
    const char *slash = strchr(p, '/');
    size_t hp_len = slash ? (size_t)(slash - p) : strlen(p);
    snprintf(cfg->path, sizeof cfg->path, "%s", slash ? slash : "/");
    if (hp_len == 0 || hp_len >= sizeof host) {
        snprintf(err, errlen, "bad host in --url");
        return -1;
    }
    memcpy(host, p, hp_len);
    host[hp_len] = '\0';
    snprintf(cfg->host_hdr, sizeof cfg->host_hdr, "%s", host);
    char *h = host;
    if (*h == '[') {
        char *rb = strchr(h, ']');
        if (!rb) {
            snprintf(err, errlen, "bad IPv6 host in --url");
            return -1;
        }
        *rb = '\0';
        if (rb[1] == ':')
            port = rb + 2;
        h++;
    } else {
        char *colon = strrchr(h, ':');
        if (colon) {
            *colon = '\0';
            port = colon + 1;
        }
    }
    snprintf(portbuf, sizeof portbuf, "%s", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int rc = getaddrinfo(h, portbuf, &hints, &ai);
    if (rc != 0 || !ai) {
        snprintf(err, errlen, "cannot resolve %s: %s", h, gai_strerror(rc));
        return -1;
    }
    int loop = 0;
    if (ai->ai_family == AF_INET) {
        struct sockaddr_in a;
        memcpy(&a, ai->ai_addr, sizeof a);
        loop = (ntohl(a.sin_addr.s_addr) >> 24) == 127;
    } else if (ai->ai_family == AF_INET6) {
        struct sockaddr_in6 a;
        memcpy(&a, ai->ai_addr, sizeof a);
        loop = IN6_IS_ADDR_LOOPBACK(&a.sin6_addr);
    }
    if (!loop) {
        freeaddrinfo(ai);
        snprintf(err, errlen, "%s is not a loopback address: loadgen only loads 127.0.0.0/8 or ::1",
                 h);
        return -1;
    }
    memcpy(&cfg->addr, ai->ai_addr, ai->ai_addrlen);
    cfg->addr_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

enum {
    OPT_URL = 256,
    OPT_THREADS,
    OPT_CONNECTIONS,
    OPT_OFFERS,
    OPT_HASHES,
    OPT_RATE,
    OPT_DURATION,
    OPT_WARMUP,
    OPT_IDLE,
    OPT_SWARMS,
    OPT_HOLD,
    OPT_SOURCE,
    OPT_PER_SOURCE,
    OPT_CONNECT_RATE,
    OPT_CONNECT_TIMEOUT,
    OPT_NO_ANSWER,
    OPT_BUSY_POLL,
    OPT_NO_RECONNECT,
    OPT_SERVER_PID,
    OPT_PERF_CONTROL,
    OPT_TRACKER_STATS,
    OPT_CHECK,
    OPT_JSON,
    OPT_LABEL,
    OPT_SEED,
    OPT_TIMELINE,
    OPT_REANNOUNCE,
    OPT_SELF_TEST,
    OPT_HELP,
    OPT_MODE,
    OPT_ROOM_SIZE,
    OPT_DATA_BYTES,
    OPT_WINDOW,
    OPT_RELAY_TIMEOUT,
};

static const struct option options[] = {
    {"url", required_argument, 0, OPT_URL},
    {"threads", required_argument, 0, OPT_THREADS},
    {"connections", required_argument, 0, OPT_CONNECTIONS},
    {"offers", required_argument, 0, OPT_OFFERS},
    {"hashes", required_argument, 0, OPT_HASHES},
    {"rate", required_argument, 0, OPT_RATE},
    {"duration", required_argument, 0, OPT_DURATION},
    {"warmup", required_argument, 0, OPT_WARMUP},
    {"idle", no_argument, 0, OPT_IDLE},
    {"swarms", required_argument, 0, OPT_SWARMS},
    {"hold", required_argument, 0, OPT_HOLD},
    {"source", required_argument, 0, OPT_SOURCE},
    {"per-source", required_argument, 0, OPT_PER_SOURCE},
    {"connect-rate", required_argument, 0, OPT_CONNECT_RATE},
    {"connect-timeout", required_argument, 0, OPT_CONNECT_TIMEOUT},
    {"no-answer", no_argument, 0, OPT_NO_ANSWER},
    {"busy-poll", no_argument, 0, OPT_BUSY_POLL},
    {"no-reconnect", no_argument, 0, OPT_NO_RECONNECT},
    {"server-pid", required_argument, 0, OPT_SERVER_PID},
    {"perf-control", required_argument, 0, OPT_PERF_CONTROL},
    {"tracker-stats", no_argument, 0, OPT_TRACKER_STATS},
    {"check", no_argument, 0, OPT_CHECK},
    {"json", required_argument, 0, OPT_JSON},
    {"label", required_argument, 0, OPT_LABEL},
    {"seed", required_argument, 0, OPT_SEED},
    {"timeline", no_argument, 0, OPT_TIMELINE},
    {"reannounce", required_argument, 0, OPT_REANNOUNCE},
    {"self-test", no_argument, 0, OPT_SELF_TEST},
    {"help", no_argument, 0, OPT_HELP},
    {"mode", required_argument, 0, OPT_MODE},
    {"room-size", required_argument, 0, OPT_ROOM_SIZE},
    {"data-bytes", required_argument, 0, OPT_DATA_BYTES},
    {"window", required_argument, 0, OPT_WINDOW},
    {"relay-timeout", required_argument, 0, OPT_RELAY_TIMEOUT},
    {0, 0, 0, 0},
};

static int parse_args(int argc, char **argv, struct lg_config *cfg)
{
    char err[256];
    const char *url = "ws://127.0.0.1:8000/", *source = NULL;
    unsigned u;
    int source_set = 0;

    *cfg = (struct lg_config){
        .mode = LG_MODE_CLOSED,
        .threads = 1,
        .connections = 1000,
        .offers = 5,
        .hashes = 10000,
        .swarms = 100,
        .duration = 10,
        .warmup = 2,
        .hold = 10,
        .reannounce = -1,
        .connect_timeout = 30,
        .connect_rate = 5000,
        .answer = 1,
        .reconnect = 1,
        .per_source = 25000,
        .room_size = 50,
        .data_bytes = 100,
        .relay_timeout = 2,
    };
    int offers_set = 0, connections_set = 0;
    for (;;) {
        int o = getopt_long(argc, argv, "", options, NULL);
        if (o == -1)
            break;
        int bad = 0;
        switch (o) {
        case OPT_URL: url = optarg; break;
        case OPT_THREADS:
            bad = parse_uint(optarg, LG_THREADS_MAX, &cfg->threads) || !cfg->threads;
            break;
        case OPT_CONNECTIONS:
            bad = parse_uint(optarg, 10000000, &cfg->connections);
            connections_set = 1;
            break;
        case OPT_OFFERS:
            bad = parse_uint(optarg, WORK_OFFERS_MAX, &cfg->offers);
            offers_set = 1;
            break;
        case OPT_HASHES: bad = parse_uint(optarg, 10000000, &cfg->hashes) || !cfg->hashes; break;
        case OPT_RATE:
            cfg->rate = strtod(optarg, NULL);
            bad = !(cfg->rate > 0 && cfg->rate <= 1e8);
            cfg->mode = LG_MODE_OPEN;
            break;
        case OPT_DURATION: bad = parse_secs(optarg, &cfg->duration) || cfg->duration <= 0; break;
        case OPT_WARMUP: bad = parse_secs(optarg, &cfg->warmup); break;
        case OPT_IDLE: cfg->mode = LG_MODE_IDLE; break;
        case OPT_SWARMS: bad = parse_uint(optarg, 10000000, &cfg->swarms) || !cfg->swarms; break;
        case OPT_HOLD: bad = parse_secs(optarg, &cfg->hold); break;
        case OPT_SOURCE:
            source = optarg;
            source_set = 1;
            break;
        case OPT_PER_SOURCE:
            bad = parse_uint(optarg, 1000000, &cfg->per_source) || !cfg->per_source;
            break;
        case OPT_CONNECT_RATE:
            bad = parse_uint(optarg, 10000000, &cfg->connect_rate) || !cfg->connect_rate;
            break;
        case OPT_CONNECT_TIMEOUT: bad = parse_secs(optarg, &cfg->connect_timeout); break;
        case OPT_NO_ANSWER: cfg->answer = 0; break;
        case OPT_BUSY_POLL: cfg->busy_poll = 1; break;
        case OPT_NO_RECONNECT: cfg->reconnect = 0; break;
        case OPT_SERVER_PID:
            bad = parse_uint(optarg, 1u << 30, &u);
            cfg->server_pid = (pid_t)u;
            break;
        case OPT_PERF_CONTROL: cfg->perf_ctl = optarg; break;
        case OPT_TRACKER_STATS: cfg->tracker_stats = 1; break;
        case OPT_CHECK: cfg->check = 1; break;
        case OPT_JSON: cfg->json_path = optarg; break;
        case OPT_LABEL: cfg->label = optarg; break;
        case OPT_SEED: cfg->seed = strtoull(optarg, NULL, 0); break;
        case OPT_TIMELINE: cfg->timeline = 1; break;
        case OPT_REANNOUNCE: bad = parse_secs(optarg, &cfg->reannounce); break;
        case OPT_SELF_TEST: exit(selftest_run());
        case OPT_HELP: usage(stdout); exit(0);
        case OPT_MODE:
            if (!strcmp(optarg, "closed"))
                cfg->mode = LG_MODE_CLOSED;
            else if (!strcmp(optarg, "open"))
                cfg->mode = LG_MODE_OPEN;
            else if (!strcmp(optarg, "idle"))
                cfg->mode = LG_MODE_IDLE;
            else if (!strcmp(optarg, "relay-directed"))
                cfg->mode = LG_MODE_RELAY_DIRECTED;
            else if (!strcmp(optarg, "relay-broadcast"))
                cfg->mode = LG_MODE_RELAY_BROADCAST;
            else
                bad = 1;
            break;
        case OPT_ROOM_SIZE:
            bad = parse_uint(optarg, RELAY_ROOM_MAX, &cfg->room_size) || cfg->room_size < 2;
            break;
        case OPT_DATA_BYTES:
            bad = parse_uint(optarg, WORK_DATA_MAX, &cfg->data_bytes) ||
                  cfg->data_bytes < WORK_DATA_MIN;
            break;
        case OPT_WINDOW:
            bad = parse_uint(optarg, RELAY_WINDOW_MAX, &cfg->window) || !cfg->window;
            break;
        case OPT_RELAY_TIMEOUT:
            bad = parse_secs(optarg, &cfg->relay_timeout) || cfg->relay_timeout <= 0;
            break;
        default: usage(stderr); return -1;
        }
        if (bad) {
            fprintf(stderr, "loadgen: bad value for --%s: %s\n", options[o - OPT_URL].name, optarg);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "loadgen: unexpected argument %s\n", argv[optind]);
        return -1;
    }
    if (parse_url(cfg, url, err, sizeof err) != 0) {
        fprintf(stderr, "loadgen: %s\n", err);
        return -1;
    }
    if (cfg->tls && cfg->tracker_stats) {
        fprintf(stderr,
                "loadgen: --tracker-stats reads /stats.json over plain HTTP: not with wss://\n");
        return -1;
    }
    if (cfg->mode == LG_MODE_OPEN && !(cfg->rate > 0)) {
        fprintf(stderr, "loadgen: --mode open needs --rate\n");
        return -1;
    }
    if (cfg->mode == LG_MODE_IDLE) {
        cfg->reconnect = 0;
        if (!offers_set)
            cfg->offers = 0;
        if (!source_set && cfg->addr.ss_family == AF_INET)
            source = "127.0.0.2";
    }
    if (LG_MODE_IS_RELAY(cfg->mode)) {
        /* A reopened connection would have to join its room again: none. */
        cfg->reconnect = 0;
        cfg->offers = 0;
        if (!connections_set)
            cfg->connections = cfg->room_size;
        if (!cfg->window)
            cfg->window = cfg->mode == LG_MODE_RELAY_DIRECTED ? 16 : 4;
        if (!cfg->connections || cfg->connections % cfg->room_size) {
            fprintf(stderr, "loadgen: --connections must be a multiple of --room-size (%u)\n",
                    cfg->room_size);
            return -1;
        }
        cfg->rooms = cfg->connections / cfg->room_size;
        if (cfg->threads > cfg->rooms)
            cfg->threads = cfg->rooms; /* each thread has whole rooms */
    }
    if (source) {
        struct in_addr a;
        if (inet_pton(AF_INET, source, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127 ||
            cfg->addr.ss_family != AF_INET) {
            fprintf(stderr,
                    "loadgen: --source must be an IPv4 loopback address, with an IPv4 --url\n");
            return -1;
        }
        cfg->src_first = ntohl(a.s_addr);
        uint64_t last =
            cfg->src_first + (cfg->connections ? cfg->connections - 1 : 0) / cfg->per_source;
        if ((last >> 24) != 127) {
            fprintf(stderr, "loadgen: the source addresses would leave 127.0.0.0/8\n");
            return -1;
        }
    }
    if (cfg->threads > cfg->connections && cfg->connections)
        cfg->threads = cfg->connections;
    double need = 2.0 * cfg->connections / cfg->connect_rate + 5;
    if (cfg->connect_timeout < need)
        cfg->connect_timeout = need;
    return 0;
}

/* Raise the soft open-file limit to the hard one; returns the soft limit. */
static rlim_t raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

struct sum {
    unsigned open, done, gone, inflight;
    uint64_t last_rx;
};

static struct sum sum_threads(struct lg_thread *th, unsigned n)
{
    struct sum s = {0};
    for (unsigned i = 0; i < n; i++) {
        s.open += atomic_load(&th[i].n_open);
        s.done += atomic_load(&th[i].n_done);
        s.gone += atomic_load(&th[i].n_gone);
        s.inflight += atomic_load(&th[i].inflight);
        uint64_t rx = atomic_load(&th[i].last_rx_ns);
        if (rx > s.last_rx)
            s.last_rx = rx;
    }
    return s;
}

/* Wait until every connection is open (load modes) or has its announce answered
 * (idle mode), or gave up, or the timeout passes. Returns the seconds waited. */
static double wait_connected(const struct lg_config *cfg, struct lg_thread *th)
{
    uint64_t t0 = lg_now_ns(), deadline = t0 + (uint64_t)(cfg->connect_timeout * 1e9);
    for (;;) {
        struct sum s = sum_threads(th, cfg->threads);
        unsigned ready = cfg->mode == LG_MODE_IDLE || LG_MODE_IS_RELAY(cfg->mode) ? s.done : s.open;
        if (ready + s.gone >= cfg->connections || lg_now_ns() >= deadline)
            break;
        sleep_ns(POLL_NS);
    }
    return (double)(lg_now_ns() - t0) / 1e9;
}

static void run_idle(const struct lg_config *cfg, struct lg_thread *th, struct report *r)
{
    pid_t pid = cfg->server_pid;
    r->connect_s = wait_connected(cfg, th);
    sleep_ns(1000000000ull); /* let the server finish its bookkeeping */
    struct sum s = sum_threads(th, cfg->threads);
    r->idle_done = s.done;
    r->idle_gone = s.gone;
    atomic_store(&th[0].run->phase, LG_PHASE_MEASURE);
    if (pid) {
        r->rss_after_kb = probe_status_kb(pid, "VmRSS");
        r->rss_min_kb = r->rss_max_kb = r->rss_after_kb;
    }
    r->tcp_mem_after = probe_tcp_mem_pages();
    r->slab_after_kb = probe_meminfo_kb("Slab");
    fprintf(stderr, "loadgen: %u connections announced and idle after %.1f s; holding %.0f s\n",
            s.done, r->connect_s, cfg->hold);
    int64_t srv0 = pid ? probe_cpu_ns(pid) : -1;
    uint64_t t0 = lg_now_ns();
    uint64_t end = t0 + (uint64_t)(cfg->hold * 1e9);
    while (lg_now_ns() < end) {
        uint64_t left = end - lg_now_ns();
        sleep_ns(left < 1000000000ull ? left : 1000000000ull);
        if (pid) {
            int64_t rss = probe_status_kb(pid, "VmRSS");
            if (rss >= 0 && rss < r->rss_min_kb)
                r->rss_min_kb = rss;
            if (rss > r->rss_max_kb)
                r->rss_max_kb = rss;
            r->rss_end_kb = rss;
        }
    }
    int64_t srv1 = pid ? probe_cpu_ns(pid) : -1;
    r->measured_s = (double)(lg_now_ns() - t0) / 1e9;
    r->server_cpu_ns = (srv0 >= 0 && srv1 >= 0) ? srv1 - srv0 : -1;
    if (pid) {
        if (r->rss_end_kb <= 0)
            r->rss_end_kb = probe_status_kb(pid, "VmRSS");
        r->server_rss_kb = r->rss_end_kb;
        r->server_hwm_kb = probe_status_kb(pid, "VmHWM");
    }
    s = sum_threads(th, cfg->threads);
    r->open_at_end = s.open;
}

/* --perf-control: one command ("enable\n" or "disable\n") to perf's control FIFO. */
static void perf_control(const struct lg_config *cfg, const char *cmd)
{
    if (!cfg->perf_ctl)
        return;
    int fd = open(cfg->perf_ctl, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 || write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
        fprintf(stderr, "loadgen: --perf-control %s: %s\n", cfg->perf_ctl, strerror(errno));
    if (fd >= 0)
        close(fd);
}

static void run_load(const struct lg_config *cfg, struct lg_thread *th, struct report *r)
{
    struct lg_run *run = th[0].run;
    pid_t pid = cfg->server_pid;
    r->connect_s = wait_connected(cfg, th);
    struct sum s = sum_threads(th, cfg->threads);
    if (s.open < cfg->connections)
        fprintf(stderr, "loadgen: only %u of %u connections open after %.1f s\n", s.open,
                cfg->connections, r->connect_s);
    if (LG_MODE_IS_RELAY(cfg->mode) && s.done < cfg->connections)
        fprintf(stderr, "loadgen: only %u of %u members announced after %.1f s\n", s.done,
                cfg->connections, r->connect_s);
    atomic_store(&run->go_ns, lg_now_ns());
    atomic_store(&run->go, 1);
    sleep_ns((uint64_t)(cfg->warmup * 1e9));

    struct probe_cpus cpus0, cpus1;
    int have_cpus = probe_cpus_read(&cpus0) == 0;
    int64_t srv0 = pid ? probe_cpu_ns(pid) : -1;
    int64_t wait0 = pid ? probe_runq_wait_ns(pid) : -1;
    int64_t self0 = probe_self_cpu_ns();
    perf_control(cfg, "enable\n");
    uint64_t t0 = lg_now_ns();
    atomic_store(&run->phase, LG_PHASE_MEASURE);
    r->open_at_start = sum_threads(th, cfg->threads).open;

    sleep_ns((uint64_t)(cfg->duration * 1e9));

    atomic_store(&run->phase, LG_PHASE_DRAIN);
    uint64_t t1 = lg_now_ns();
    perf_control(cfg, "disable\n");
    int64_t srv1 = pid ? probe_cpu_ns(pid) : -1;
    int64_t wait1 = pid ? probe_runq_wait_ns(pid) : -1;
    r->server_wait_ns = (wait0 >= 0 && wait1 >= 0) ? wait1 - wait0 : -1;
    int64_t self1 = probe_self_cpu_ns();
    if (have_cpus && probe_cpus_read(&cpus1) == 0) {
        r->n_cpus = cpus1.n < cpus0.n ? cpus1.n : cpus0.n;
        for (unsigned i = 0; i < r->n_cpus; i++) {
            uint64_t tot = cpus1.total[i] - cpus0.total[i];
            r->cpu_busy_pct[i] = tot ? 100.0 * (double)(cpus1.busy[i] - cpus0.busy[i]) / tot : 0;
        }
    }
    r->open_at_end = sum_threads(th, cfg->threads).open;
    r->measured_s = (double)(t1 - t0) / 1e9;
    r->self_cpu_ns = self1 - self0;
    r->server_cpu_ns = (srv0 >= 0 && srv1 >= 0) ? srv1 - srv0 : -1;
    if (pid) {
        r->server_rss_kb = probe_status_kb(pid, "VmRSS");
        r->server_hwm_kb = probe_status_kb(pid, "VmHWM");
    }

    /* Drain: no new announces; wait for the replies in flight and the last answers. */
    for (;;) {
        uint64_t now = lg_now_ns();
        s = sum_threads(th, cfg->threads);
        if (now - t1 >= DRAIN_MAX_NS)
            break;
        if (s.inflight == 0 && now > s.last_rx && now - s.last_rx >= DRAIN_QUIET_NS)
            break;
        sleep_ns(POLL_NS);
    }
}

/* --timeline: seconds since the load started; the measured phase is marked. */
static void print_timeline(const struct lg_config *cfg, struct lg_thread *th,
                           const struct report *r)
{
    unsigned last = 0;
    for (unsigned s = 0; s < LG_TIMELINE_MAX; s++)
        for (unsigned i = 0; i < cfg->threads; i++)
            if (th[i].timeline[s].announces || th[i].timeline[s].responses)
                last = s + 1;
    if (LG_MODE_IS_RELAY(cfg->mode))
        printf("timeline  s relays_out relays_done  frames_in  worst_ms\n");
    else
        printf("timeline  s  announces  responses  offers_in  worst_ms\n");
    for (unsigned s = 0; s < last; s++) {
        struct lg_tick sum = {0};
        for (unsigned i = 0; i < cfg->threads; i++) {
            const struct lg_tick *tk = &th[i].timeline[s];
            sum.announces += tk->announces;
            sum.responses += tk->responses;
            sum.offers_in += tk->offers_in;
            if (tk->max_us > sum.max_us)
                sum.max_us = tk->max_us;
        }
        int measured = s >= cfg->warmup && s < cfg->warmup + r->measured_s;
        printf("timeline %3u %10u %10u %10u %9.1f%s\n", s, sum.announces, sum.responses,
               sum.offers_in, sum.max_us / 1000.0, measured ? "" : "  (not measured)");
    }
}

int main(int argc, char **argv)
{
    struct lg_config cfg;
    struct lg_run run;
    struct work_pool *pool = calloc(1, sizeof *pool);
    struct lg_thread *th = NULL;
    struct report *r = calloc(1, sizeof *r);
    struct work_rng rng;
    int rc = 2;

    if (!pool || !r || parse_args(argc, argv, &cfg) != 0)
        goto out;
    rlim_t nofile = raise_nofile();
    if ((rlim_t)cfg.connections + 64 > nofile) {
        fprintf(stderr,
                "loadgen: %u connections need %u open files, the limit is %llu (ulimit -Hn);\n"
                "         run several loadgen processes with --source 127.0.1.1, 127.0.2.1, ...\n",
                cfg.connections, cfg.connections + 64, (unsigned long long)nofile);
        goto out;
    }
    work_rng_init(&rng, cfg.seed, 0);
    unsigned n_hashes = cfg.mode == LG_MODE_IDLE     ? cfg.swarms
                        : LG_MODE_IS_RELAY(cfg.mode) ? cfg.rooms
                                                     : cfg.hashes;
    if (work_pool_create(pool, n_hashes, &rng) != 0) {
        fprintf(stderr, "loadgen: out of memory\n");
        goto out;
    }
    th = calloc(cfg.threads, sizeof *th);
    if (!th)
        goto out;
    for (unsigned i = 0; i < cfg.threads; i++)
        th[i].ep = th[i].tfd = -1;
    atomic_init(&run.phase, LG_PHASE_WARMUP);
    atomic_init(&run.stop, 0);
    atomic_init(&run.go, 0);
    atomic_init(&run.go_ns, 0);
    r->cfg = &cfg;
    r->server_cpu_ns = -1;
    r->server_wait_ns = -1;
    r->server_rss_kb = r->server_hwm_kb = -1;
    r->rss_before_kb = r->rss_after_kb = r->rss_end_kb = -1;
    if (cfg.server_pid) {
        if (probe_cpu_ns(cfg.server_pid) < 0) {
            fprintf(stderr, "loadgen: cannot read /proc/%d/stat\n", (int)cfg.server_pid);
            goto out;
        }
        r->rss_before_kb = probe_status_kb(cfg.server_pid, "VmRSS");
    }
    r->tcp_mem_before = probe_tcp_mem_pages();
    r->slab_before_kb = probe_meminfo_kb("Slab");
    if (cfg.tracker_stats) {
        probe_tracker_stats((const struct sockaddr *)&cfg.addr, cfg.addr_len, cfg.host_hdr,
                            &r->ts_before);
        if (!r->ts_before.ok)
            fprintf(stderr, "loadgen: no /stats.json from the tracker; no cross-check\n");
    }

    /* Connections per thread; in the relay modes, whole rooms per thread. */
    unsigned unit = LG_MODE_IS_RELAY(cfg.mode) ? cfg.room_size : 1;
    unsigned units = cfg.connections / unit;
    unsigned started = 0, per = units / cfg.threads, extra = units % cfg.threads;
    unsigned first = 0;
    for (unsigned i = 0; i < cfg.threads; i++) {
        struct lg_thread *t = &th[i];
        t->idx = i;
        t->cfg = &cfg;
        t->pool = pool;
        t->run = &run;
        t->first = first;
        t->n_conns = (per + (i < extra)) * unit;
        first += t->n_conns;
        work_rng_init(&t->rng, cfg.seed, i + 1);
        if (loop_init(t) != 0) {
            fprintf(stderr, "loadgen: thread setup failed: %s\n", strerror(errno));
            goto stop;
        }
        if (pthread_create(&t->tid, NULL, loop_main, t) != 0) {
            fprintf(stderr, "loadgen: pthread_create failed\n");
            goto stop;
        }
        started++;
    }

    if (cfg.mode == LG_MODE_IDLE)
        run_idle(&cfg, th, r);
    else
        run_load(&cfg, th, r);
    if (cfg.tracker_stats && r->ts_before.ok)
        probe_tracker_stats((const struct sockaddr *)&cfg.addr, cfg.addr_len, cfg.host_hdr,
                            &r->ts_after);
    rc = 0;
stop:
    atomic_store(&run.stop, 1);
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i].tid, NULL);
    if (rc == 0) {
        for (unsigned i = 0; i < cfg.threads; i++) {
            lg_stats_merge(&r->meas, &th[i].st[LG_PHASE_MEASURE]);
            for (unsigned p = 0; p < LG_PHASES; p++)
                lg_stats_merge(&r->total, &th[i].st[p]);
            r->inflight_end += th[i].inflight_end;
        }
        if (cfg.mode == LG_MODE_IDLE)
            r->meas = r->total;
        if (cfg.check)
            report_check(r);
        if (cfg.timeline && cfg.mode != LG_MODE_IDLE)
            print_timeline(&cfg, th, r);
        report_text(stdout, r);
        fflush(stdout);
        if (cfg.json_path) {
            FILE *f = strcmp(cfg.json_path, "-") ? fopen(cfg.json_path, "w") : stdout;
            if (f) {
                report_json(f, r);
                if (f != stdout)
                    fclose(f);
            } else {
                fprintf(stderr, "loadgen: cannot write %s: %s\n", cfg.json_path, strerror(errno));
            }
        }
        if (cfg.check && !r->check_ok)
            rc = 1;
    } else {
        rc = 2;
    }
    for (unsigned i = 0; i < cfg.threads && th; i++)
        loop_destroy(&th[i]);
out:
    free(th);
    if (pool)
        work_pool_destroy(pool);
    free(pool);
    free(r);
    return rc;
}
