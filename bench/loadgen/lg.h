/* lg.h - loadgen's run: configuration, per-thread state and counters.
 *
 * Owns:   struct lg_config (one, filled by main before the threads start, then
 *         read-only), struct lg_run (one, shared), struct lg_thread (one per
 *         --threads, each owning its connections; in the relay modes, whole
 *         rooms), struct lg_stats.
 * Thread: main writes lg_run's phase and stop flag; a load thread touches only its
 *         own struct lg_thread, except the {atomic} gauges main polls. Main reads a
 *         thread's stats only after joining it.
 * Why:    each thread owns its connections, epoll set and counters, so the hot
 *         path shares nothing (the tracker's own rule, applied to its load).
 */
#ifndef LG_H
#define LG_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "hist.h"
#include "relay.h"
#include "work.h"

#define LG_THREADS_MAX   64
#define LG_ERR_KINDS     32         /* distinct error texts kept per stats; more go to "other" */
#define LG_ERR_TEXT      72         /* bytes of one error text, NUL included */
#define LG_MSG_MAX       (1 << 20)  /* largest message accepted from the server */
#define LG_WBUF_MAX      (8 << 20)  /* output queued to one connection before it is dropped */
#define LG_SCRATCH       (64 << 10) /* one outgoing message, built in place */
#define LG_CONNECT_BURST 256        /* connections in progress at once, per thread */
#define LG_RECONNECT_MS  200        /* delay before reopening a connection the server closed */
#define LG_TIMELINE_MAX  3600       /* seconds of --timeline kept */
#define LG_EXPIRE_MS     50         /* relay modes: ms between looks for expired relays */

enum lg_mode {
    LG_MODE_CLOSED, /* one announce in flight per connection */
    LG_MODE_OPEN,   /* --rate announces/s, spread over idle connections */
    LG_MODE_IDLE,   /* announce once, then hold */
    /* rooms of --room-size; each member relays to another member, or to its room */
    LG_MODE_RELAY_DIRECTED,
    LG_MODE_RELAY_BROADCAST,
};

/* The relay modes: every connection announces into its room once, then relays. */
#define LG_MODE_IS_RELAY(m) ((m) == LG_MODE_RELAY_DIRECTED || (m) == LG_MODE_RELAY_BROADCAST)

enum lg_phase {
    LG_PHASE_WARMUP,  /* connecting and --warmup; not reported */
    LG_PHASE_MEASURE, /* --duration; the reported figures */
    LG_PHASE_DRAIN,   /* no new announces; offers still answered, replies still read */
    LG_PHASES
};

enum lg_err_class {
    LG_ERR_FAILURE,   /* a "failure reason" from the tracker */
    LG_ERR_CLOSE,     /* the server closed a connection (close frame, EOF, reset) */
    LG_ERR_CONNECT,   /* connect() failed */
    LG_ERR_HANDSHAKE, /* the upgrade did not complete */
    LG_ERR_PROTOCOL,  /* a bad frame or message from the server */
    LG_ERR_LOCAL,     /* loadgen's own limits (send buffer full, no memory) */
    LG_ERR_CLASSES
};

/* The whole run's settings; one, written by main before any thread starts. */
struct lg_config {
    enum lg_mode mode;
    struct sockaddr_storage addr; /* the tracker (loopback only) */
    socklen_t addr_len;
    char host_hdr[128];     /* Host: header */
    char path[256];         /* request path */
    char url[300];          /* as given, for the report */
    struct ssl_ctx_st *tls; /* wss://: the TLS client context (no certificate check:
                               loopback bench), shared by the threads; NULL for ws:// */
    unsigned threads;       /* load threads, <= LG_THREADS_MAX */
    unsigned connections;   /* total, over all threads */
    unsigned offers;        /* per announce, <= WORK_OFFERS_MAX */
    unsigned hashes;        /* info hashes to draw from (load modes) */
    unsigned swarms;        /* info hashes in idle mode */
    double rate;            /* announces/s in total (open loop) */
    double duration;        /* s, measured */
    double warmup;          /* s, before measuring */
    double hold;            /* s, idle mode */
    double reannounce; /* s between idle-mode announces; <0 = the tracker's interval, 0 = never */
    double connect_timeout; /* s, to wait for every connection */
    unsigned connect_rate;  /* new connections/s in total */
    int answer;             /* 1 = answer every offer */
    int busy_poll;          /* 1 = epoll_wait with timeout 0: threads never sleep */
    int reconnect;          /* 1 = reopen connections the server closed */
    uint32_t src_first;     /* first source address (host order), 0 = let the kernel pick */
    unsigned per_source;    /* connections per source address */
    pid_t server_pid;       /* 0 = none */
    const char *perf_ctl;   /* --perf-control FIFO, or NULL */
    int tracker_stats;      /* 1 = read the tracker's /stats.json around the run */
    int check;              /* 1 = judge the run (smoke) and exit non-zero if wrong */
    const char *json_path;  /* NULL, "-" (stdout) or a file */
    const char *label;      /* name of the run in reports */
    int timeline;           /* 1 = print per-second counts and the worst latency */
    uint64_t seed;          /* 0 = random */
    /* relay modes */
    unsigned room_size;   /* members per room; connection i is member i % room_size */
    unsigned rooms;       /* connections / room_size */
    unsigned data_bytes;  /* bytes of each relay's data */
    unsigned window;      /* relays in flight per sender */
    double relay_timeout; /* s: a relay not complete by then is given up (expired) */
};

/* One error text and its count. */
struct lg_err {
    uint8_t cls; /* enum lg_err_class */
    char text[LG_ERR_TEXT];
    uint64_t n;
};

/* Counters of one thread in one phase (and, merged, of the run). */
struct lg_stats {
    uint64_t announces;                 /* announce requests sent */
    uint64_t offers_out;                /* offers inside them */
    uint64_t answers_out;               /* answers sent */
    uint64_t responses;                 /* announce responses received */
    uint64_t failed_replies;            /* failure replies that ended an announce in flight */
    uint64_t offers_in;                 /* forwarded offers received */
    uint64_t answers_in;                /* forwarded answers received */
    uint64_t other_in;                  /* messages of no known kind */
    uint64_t unmatched;                 /* announce responses with no announce in flight */
    uint64_t msgs_in;                   /* all messages received */
    uint64_t bytes_in, bytes_out;       /* socket bytes */
    uint64_t pings;                     /* pings answered */
    uint64_t connects;                  /* upgrades completed */
    uint64_t lost;                      /* announces in flight on a connection that closed */
    uint64_t rate_missed;               /* open loop: send slots with no idle connection */
    uint64_t err_class[LG_ERR_CLASSES]; /* errors by class */
    unsigned n_err;                     /* <= LG_ERR_KINDS */
    struct lg_err err[LG_ERR_KINDS];
    uint64_t err_other; /* errors whose text did not fit in err[] */
    struct hist lat;    /* announce -> announce response, ns */
    /* relay modes */
    uint64_t relays_out;     /* relays sent */
    uint64_t relays_refused; /* failure replies with "action":"relay" */
    uint64_t relays_done;    /* relays whose every frame was delivered */
    uint64_t relays_expired; /* relays given up after --relay-timeout */
    uint64_t frames_missing; /* frames the expired relays had not delivered */
    uint64_t frames_in;      /* relayed frames received ("action":"relay" with data) */
    uint64_t frames_bad;     /* ... that failed a check (sender, room, recipient, data) */
    uint64_t frames_late;    /* ... good, but for no relay in flight (expired) */
    uint64_t frames_dup;     /* ... good, but a second copy to the same member */
    uint64_t data_in;        /* data bytes of the relayed frames received */
    uint64_t frame_bytes_in; /* message bytes of the relayed frames received */
    struct hist relay_lat;   /* relay written -> its last frame read, ns */
};

/* One second of --timeline, per thread (merged by main). */
struct lg_tick {
    uint32_t announces; /* sent (relay modes: relays sent) */
    uint32_t responses; /* announce responses received (relay modes: relays done) */
    uint32_t offers_in; /* forwarded offers received (relay modes: relayed frames) */
    uint32_t max_us;    /* worst announce -> response latency, us (relay modes: relay) */
};

/* Shared between main and the load threads. */
struct lg_run {
    _Atomic uint64_t go_ns; /* {atomic} when go was set (monotonic ns); timeline origin */
    _Atomic int phase;      /* {atomic} enum lg_phase, written by main */
    _Atomic int stop;       /* {atomic} 1 = close everything and return */
    _Atomic int go;         /* {atomic} 1 = every connection is up: start announcing */
};

struct lg_conn;

/* One load thread and everything it owns. */
struct lg_thread {
    unsigned idx; /* 0..threads-1 */
    pthread_t tid;
    const struct lg_config *cfg;
    const struct work_pool *pool;
    struct lg_run *run;
    struct work_rng rng;
    int ep;                /* epoll fd */
    int tfd;               /* timerfd for the open loop, -1 otherwise */
    struct lg_conn *conns; /* [n_conns] */
    unsigned n_conns;
    unsigned first;        /* global index of conns[0] */
    unsigned next_open;    /* conns[next_open..] have not been opened yet */
    unsigned opening;      /* connections between connect() and the upgrade */
    uint64_t next_open_ns; /* pacing of new connections */
    uint64_t open_every_ns;
    uint64_t next_send_ns; /* open loop: the next announce is due then */
    uint64_t send_every_ns;
    uint64_t next_reconnect_scan_ns;
    uint64_t next_reannounce_scan_ns; /* idle mode: when to look for due re-announces */
    uint64_t next_expire_scan_ns;     /* relay modes: when to look for expired relays */
    struct relay_book book;           /* relay modes: relays in flight, per sender */
    unsigned *refill;                 /* relay modes: connections to send relays from */
    unsigned refill_n;                /* entries in refill */
    unsigned *idle;                   /* open loop: FIFO of idle connection indices */
    unsigned idle_head, idle_n;
    uint8_t *scratch; /* LG_SCRATCH + WS_HDR_MAX */
    struct lg_stats st[LG_PHASES];
    struct lg_tick *timeline;    /* [LG_TIMELINE_MAX] with --timeline, else NULL */
    uint64_t inflight_end;       /* announces (relay modes: relays) in flight at the stop */
    int going;                   /* the thread has seen run->go */
    _Atomic unsigned n_open;     /* {atomic} connections upgraded and open */
    _Atomic unsigned n_done;     /* {atomic} idle mode: connections whose announce was answered */
    _Atomic unsigned inflight;   /* {atomic} announces (and relays) in flight */
    _Atomic uint64_t last_rx_ns; /* {atomic} when a message was last received */
    _Atomic unsigned n_gone;     /* {atomic} connections given up (failed, not reopened) */
};

/* The load thread's body (loop.c): arg is a struct lg_thread. */
void *loop_main(void *arg);

/* Set up a thread's connections and epoll set; 0 or -1 (errno). */
int loop_init(struct lg_thread *t);
void loop_destroy(struct lg_thread *t);

/* Monotonic clock, ns. */
uint64_t lg_now_ns(void);

/* Count an error of class cls with text into st. */
void lg_stats_error(struct lg_stats *st, enum lg_err_class cls, const char *text);

/* Add src into dst (error texts merged by text). */
void lg_stats_merge(struct lg_stats *dst, const struct lg_stats *src);

#endif
