/* worker.h - the runtime: one thread = one event loop + its connections + its swarm.
 *
 * Owns:   struct tracker (the process-wide, read-only-after-start context),
 *         struct worker, the worker threads and their libev loops, mail
 *         between workers (send, park, drain), draining the swarm layer's
 *         outbox, the connection slot table, the housekeeping tick.
 * Thread: a worker's fields are touched by its own thread only, except those
 *         marked {atomic} or {mailbox}.
 * Why:    thread-per-core with sharded ownership (docs/ARCHITECTURE.md). The
 *         runtime knows no sockets: the network layer (net/) registers a
 *         struct worker_io and is called through it for what only it can do
 *         (start its part on the loop, interrupt the loop, write a frame to a
 *         connection, close everything at shutdown).
 */
#ifndef WSTRACKER_WORKER_H
#define WSTRACKER_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "config.h"
#include "hashlist.h"
#include "jwt.h"
#include "ipcount.h"
#include "mailbox.h"
#include "metrics.h"
#include "route.h"
#include "slots.h"
#include "stats.h"
#include "swarm.h"

#define WORKER_MAX          SWARM_WORKERS_MAX /* --threads upper bound */
#define WORKER_DRAIN_BUDGET 4096              /* mails handled per wakeup before yielding */
#define WORKER_BACKLOG_MAX                                                                         \
    65536                         /* frames and announces parked per destination when its          \
                                     ring is full; past it they are dropped (mailDropped) */
#define WORKER_TICK_MS       100  /* housekeeping period */
#define WORKER_STOP_TICK_MS  20   /* housekeeping period while stopping */
#define WORKER_EXPIRE_BUDGET 2000 /* peers/swarms expired per tick */
#define WORKER_STOP_GRACE_MS 2000 /* time allowed for close frames at shutdown */

#define WORKER_LISTEN_MAX (2 * CONFIG_LISTEN_MAX) /* --listen, then --listen-tls */

_Static_assert(WORKER_MAX <= ROUTE_WORKER_MAX, "a worker index fits a connection reference");

struct worker;
struct net_tls; /* the network layer's loaded certificate and key (net/net.h) */

/* What the network layer does for a worker (net/net.h: net_io). */
struct worker_io {
    /* On the worker's thread, before the start barrier: set up its sockets on
     * w->loop (w->net); returns 0 or -1. */
    int (*start)(struct worker *w);
    /* From any thread: make the worker call worker_drain soon, from inside
     * the network layer's own callback (lws re-arms its timers only there). */
    void (*wake)(struct worker *w);
    /* A frame for a live connection of this worker. Takes ownership. */
    void (*deliver)(struct worker *w, struct swarm_conn *c, struct frame *f);
    /* Stop accepting and close every connection (with 1001). */
    void (*stop)(struct worker *w);
    /* On main, once every worker thread has ended: free what start made. */
    void (*destroy)(struct worker *w);
};

/* One per process, owned by main; read-only once workers run, except {atomic}. */
struct tracker {
    struct config cfg;
    struct route route;
    const struct worker_io *io;
    struct worker *workers; /* cfg.threads entries */
    unsigned n_workers;
    uint64_t max_connections;       /* cap on open sockets of every kind */
    _Atomic uint64_t connections;   /* {atomic} open WebSocket connections */
    _Atomic uint64_t sockets;       /* {atomic} accepted sockets not yet destroyed */
    uint64_t max_peers, max_swarms; /* process-wide caps, split between workers */
    struct ipcount ipcount;         /* {atomic} WebSocket connections per address */
    /* {atomic} info-hash lists, NULL when not configured; main swaps them on
     * SIGHUP and frees the old ones once every worker has ticked since. */
    _Atomic(struct hashlist *) allow_hashes, deny_hashes;
    /* {atomic} token keys and revoked list (--auth-*, --revoked), NULL when
     * tokens are off; swapped and freed like the lists. */
    _Atomic(struct jwt_auth *) auth;
    /* {atomic} the TLS certificate and key (--tls-cert, --tls-key), NULL when
     * TLS is off; main swaps it on SIGHUP or a file change and frees the old
     * one like the lists; each worker installs it in its own SSL_CTX. */
    _Atomic(struct net_tls *) tls;
    /* {atomic} the /stats page's samples, one every --stats-interval:
     * written by worker 0's tick only, read under its seqlock (obs/history.h) */
    struct stats_history history;
    int64_t started_ms; /* ms, monotonic */
    /* The allocator's figures for /metrics (jemalloc builds: main sets it
     * before workers start); NULL: none. Called from any worker. */
    bool (*alloc_stats)(struct metrics_process *p);
    pthread_barrier_t start_barrier; /* main + every worker: all have started */
    bool barrier_made;               /* main: start_barrier was initialised */
    unsigned n_created, n_started;   /* main: workers made / threads started */
};

/* One per worker thread; the array lives in struct tracker. */
struct worker {
    unsigned idx;
    struct tracker *t;
    pthread_t thread;
    struct ev_loop *loop; /* libev loop (epoll): the worker's one event loop */
    ev_timer tick;        /* housekeeping, every WORKER_TICK_MS */
    void *net;            /* the network layer's part of this worker (worker_io) */
    /* this worker's SO_REUSEPORT sockets (main): cfg.n_listen ws:// ones,
     * then cfg.n_listen_tls wss:// ones */
    int listen_fds[WORKER_LISTEN_MAX];
    unsigned n_listen;

    struct mailbox mb; /* {mailbox} pushed to by every worker */
    struct {
        struct mail_queue q;
        uint32_t n; /* <= WORKER_BACKLOG_MAX */
    } * backlog;    /* per destination worker: mails its full ring refused */
    bool *pushed;   /* per destination worker: pushed to during this pass */

    struct swarm sw;
    struct stats stats;
    int64_t now_ms;    /* ms, monotonic; refreshed at the start of each pass */
    uint64_t clock_ns; /* ns, monotonic: the same reading (the latency histograms) */
    struct slots slots;

    atomic_bool stop;       /* {atomic} set by main on SIGINT/SIGTERM */
    _Atomic uint64_t ticks; /* {atomic} ticks run: past one, no list pointer is held */
    /* {atomic} generation of t->tls its TLS vhost serves (net/tls.c writes it,
     * main waits for it after a reload); 0: none */
    _Atomic uint64_t tls_gen;
    bool stopping;  /* closing connections */
    bool exit_loop; /* the tick found the worker done */
    int64_t stop_deadline_ms;
    int64_t next_sample_ms; /* worker 0: when the tick takes the next history sample */
    int start_err;          /* set before the startup barrier */
};

/* The request logic's limits for one worker: the configuration, the caps
 * split evenly between workers. */
struct swarm_limits tracker_swarm_limits(const struct tracker *t);

/* Allocate the worker's own parts (loop, mailbox, backlog, swarm). */
int worker_create(struct worker *w, struct tracker *t, unsigned idx);
/* Free them, and any mail still queued. The loop must not be running. */
void worker_destroy(struct worker *w);
/* The thread body: t->io->start, the start barrier, then the loop until stopped. */
void *worker_main(void *arg);
/* From any thread: ask every worker to stop. */
void worker_stop_all(struct tracker *t);

/* Owner: refresh now_ms and clock_ns. */
void worker_clock(struct worker *w);

/* A connection became a WebSocket: its reference (c->ref), or ROUTE_CONN_NONE
 * when the slot table is full. */
uint64_t worker_conn_open(struct worker *w, struct swarm_conn *c);
/* A message refused with st before it is acted on (swarm_refuse). */
void worker_refuse(struct worker *w, struct swarm_conn *c, const char *msg, size_t len,
                   enum proto_status st);

/* One complete message from c: decided by the swarm layer, its outbox
 * drained; grant: c's token (NULL: tokens off); addr: c's address key
 * (ip_cap_key, for --announce-rate). Returns 0, or the close
 * code c must be closed with. */
uint16_t worker_message(struct worker *w, struct swarm_conn *c, const char *msg, size_t len,
                        bool text, const struct jwt_grant *grant, uint64_t addr);
/* c closed: its peers go, its slot is freed. */
void worker_conn_closed(struct worker *w, struct swarm_conn *c);

/* Send a mail to another worker (parks it if that ring is full). */
void worker_send(struct worker *w, unsigned dest, struct mail *m);
/* Hand a frame to its connection, on this worker or another. */
void worker_deliver(struct worker *w, struct frame *f);
/* Mail arrived (worker_io.wake): handle a bounded number of mails, then let
 * the loop serve sockets; begins stopping once worker_stop_all asked. */
void worker_drain(struct worker *w);
/* End of an event pass: wake destinations pushed to, retry parked mails,
 * publish stats. */
void worker_end_pass(struct worker *w);

#endif
