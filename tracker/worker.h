/* worker.h - one thread = one lws context + its connections + its swarm shard.
 *
 * Owns:   struct tracker (the process-wide, read-only-after-start context),
 *         struct worker, the frames and mails that cross threads, connection
 *         slots, and delivery of frames to connections on any worker.
 * Thread: a worker's fields are touched by its own thread only, except those
 *         marked {atomic} or {mailbox}.
 * Why:    thread-per-core with sharded ownership (docs/ARCHITECTURE.md).
 */
#ifndef WSTRACKER_WORKER_H
#define WSTRACKER_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <libwebsockets.h>

#include "../proto/scan.h"
#include "config.h"
#include "list.h"
#include "log.h"
#include "mailbox.h"
#include "route.h"
#include "shard.h"
#include "stats.h"

#define WORKER_MAX          64   /* --threads upper bound; <= ROUTE_WORKER_MAX */
#define WORKER_DRAIN_BUDGET 4096 /* mails handled per wakeup before yielding */
#define WORKER_BACKLOG_MAX                                                                         \
    65536                         /* frames and announces parked per destination when its          \
                                     ring is full; past it they are dropped (mailDropped) */
#define WORKER_TICK_MS       100  /* housekeeping period */
#define WORKER_EXPIRE_BUDGET 2000 /* peers/swarms expired per tick */
#define WORKER_STOP_GRACE_MS 2000 /* time allowed for close frames at shutdown */
#define WORKER_ACCEPT_BATCH  256  /* connections accepted per listener wakeup */
#define WORKER_IDLE_BUDGET   2000 /* connection slots checked for idleness per tick */

_Static_assert(WORKER_MAX <= ROUTE_WORKER_MAX, "a worker index fits a connection reference");

struct worker;
struct conn;

/* One per process, owned by main; read-only once workers run, except {atomic}. */
struct tracker {
    struct config cfg;
    struct route route;
    struct worker *workers; /* cfg.threads entries */
    unsigned n_workers;
    uint64_t max_connections;        /* cap on open sockets of every kind */
    _Atomic uint64_t connections;    /* {atomic} open WebSocket connections */
    _Atomic uint64_t sockets;        /* {atomic} accepted sockets not yet destroyed */
    uint64_t max_peers, max_swarms;  /* process-wide caps, split between workers */
    int64_t started_ms;              /* ms, monotonic */
    atomic_bool down;                /* {atomic} workers stopped, contexts going */
    pthread_barrier_t start_barrier; /* main + every worker: all contexts exist */
    bool barrier_made;               /* main: start_barrier was initialised */
    unsigned n_created, n_started;   /* main: workers made / threads started */
};

enum worker_mail_kind {
    MAIL_FRAME,       /* struct frame: send to a connection of the receiving worker */
    MAIL_ANNOUNCE,    /* struct mail_announce: for a swarm of the receiving worker */
    MAIL_SCRAPE,      /* struct mail_scrape: fill in the receiving worker's swarms */
    MAIL_FULL_SCRAPE, /* struct mail_full_scrape: add this worker's swarms, or done */
    MAIL_REMOVE,      /* struct mail_remove: a closed connection's peers */
};

/* Every kind of mail is one allocation, so any mail, whatever its kind, is
 * freed (when dropped, or left over at shutdown) with this. */
static inline void mail_free(struct mail *m)
{
    free(m);
}

/* What a frame answers, so its connection can count its scrapes in flight. */
enum frame_reply { FRAME_REPLY_OTHER, FRAME_REPLY_SCRAPE, FRAME_REPLY_FULL_SCRAPE };

/* One outgoing WebSocket text frame; allocated by the builder, freed after
 * lws_write (or when dropped). data holds LWS_PRE bytes of headroom. */
struct frame {
    struct mail m;        /* kind MAIL_FRAME; m.next links the connection's queue */
    uint64_t conn;        /* destination connection */
    uint32_t len;         /* payload bytes after the headroom */
    bool droppable;       /* a forwarded offer: may be dropped past the soft cap */
    uint8_t reply;        /* enum frame_reply */
    unsigned char data[]; /* LWS_PRE + len */
};

static inline char *frame_payload(struct frame *f)
{
    return (char *)f->data + LWS_PRE;
}

/* Allocate a frame with room for cap payload bytes; NULL on failure. */
struct frame *frame_alloc(size_t cap);

/* An announce for a swarm owned by another worker: the scanned announce plus a
 * copy of the message bytes its spans point into. */
struct mail_announce {
    struct mail m;
    uint64_t conn;
    bool ipv6;
    uint32_t msg_len;
    struct proto_announce ann;
    char msg[]; /* msg_len bytes */
};

/* A list scrape travelling from worker to worker until every id is filled in,
 * then written and sent to conn. One allocation: after the struct come n ids
 * (20 bytes each), n * 3 counts (complete, incomplete, downloaded) and n done
 * flags, so whoever drops it frees it with free(). */
struct mail_scrape {
    struct mail m;
    uint64_t conn;
    uint32_t n;
    uint32_t data[]; /* see the accessors */
};

static inline uint32_t *mail_scrape_counts(struct mail_scrape *s)
{
    return s->data;
}
static inline uint8_t *mail_scrape_ids(struct mail_scrape *s)
{
    return (uint8_t *)(s->data + 3 * (size_t)s->n);
}
static inline uint8_t *mail_scrape_done(struct mail_scrape *s)
{
    return mail_scrape_ids(s) + (size_t)s->n * PROTO_ID_LEN;
}
/* n ids, counts zeroed, none done; NULL on failure. */
static inline struct mail_scrape *mail_scrape_alloc(uint32_t n)
{
    size_t size =
        sizeof(struct mail_scrape) + (size_t)n * (3 * sizeof(uint32_t) + PROTO_ID_LEN + 1);
    struct mail_scrape *s = calloc(1, size);
    if (s) {
        s->m.kind = MAIL_SCRAPE;
        s->n = n;
    }
    return s;
}

/* A full scrape visiting workers 0, 1, ... in turn, each appending its swarms'
 * entries as text, then going back to the origin worker (next == n_workers).
 * One allocation, grown by realloc up to the reply budget (handle.c). */
struct mail_full_scrape {
    struct mail m;
    unsigned origin;   /* the worker whose connections wait for it */
    unsigned next;     /* the next worker to visit; n_workers: done */
    uint32_t len, cap; /* text bytes used / allocated */
    uint32_t entries;  /* swarms listed so far */
    char text[];       /* the "files" entries, comma-separated */
};

/* A worker's full-scrape state: the cached reply and who waits for the travel. */
struct full_scrape {
    char *body; /* the last reply's payload, or NULL */
    uint32_t len;
    int64_t made_ms;    /* when body was made (ms, monotonic) */
    bool in_flight;     /* a travel started here is under way */
    int64_t started_ms; /* when it started */
    uint64_t *waiters;  /* connection refs to answer, <= HANDLE_FULL_SCRAPE_WAITERS */
    uint32_t n_waiters, cap_waiters;
};

/* A closed connection's (info_hash, peer_id) pairs owned by one worker. */
struct mail_remove {
    struct mail m;
    uint64_t conn;
    uint32_t n;
    uint8_t pairs[][2 * PROTO_ID_LEN];
};

/* One per worker thread; the array lives in struct tracker. */
struct worker {
    unsigned idx;
    struct tracker *t;
    pthread_t thread;
    struct lws_context *ctx;
    struct ev_loop *loop;   /* libev loop (epoll) the context runs on */
    void *foreign_loops[1]; /* { loop }, as lws_context_creation_info wants it */
    struct lws_vhost *vh;
    int listen_fds[CONFIG_LISTEN_MAX]; /* this worker's SO_REUSEPORT sockets */
    struct lws *listen_wsi[CONFIG_LISTEN_MAX];
    unsigned n_listen;
    int reserve_fd; /* closed to accept-and-drop when the fd limit is hit */

    struct mailbox mb; /* {mailbox} pushed to by every worker */
    struct {
        struct mail_queue q;
        uint32_t n; /* <= WORKER_BACKLOG_MAX */
    } * backlog;    /* per destination worker: mails its full ring refused */
    bool *wake;     /* per destination worker: pushed to during this pass */

    struct shard shard;
    struct full_scrape fs;
    struct stats stats;
    struct log_limit log; /* rate limits of this worker's log lines */
    uint64_t rng;         /* shard_rand state */
    int64_t now_ms;       /* ms, monotonic; refreshed at the start of each pass */

    struct conn **slots; /* connection by slot; NULL = free */
    uint32_t *gens;      /* generation per slot */
    uint32_t n_slots, cap_slots;
    uint32_t *free_slots;
    uint32_t n_free;

    uint32_t idle_cursor;              /* next slot the idle sweep looks at */
    struct list_node handshakes;       /* struct net_sock by deadline: sockets not yet WebSocket */
    uint64_t n_sockets;                /* sockets adopted and not yet destroyed */
    struct lws_protocols protocols[4]; /* net_worker_protocols(); NET_PROTOCOLS entries */
    char subprotocol[64];              /* the alias protocol's name (net.c) */
    struct proto_request req;          /* scratch for the scanner */
    lws_sorted_usec_list_t tick;

    atomic_bool stop; /* {atomic} set by main on SIGINT/SIGTERM */
    bool stopping;    /* closing connections */
    int64_t stop_deadline_ms;
    bool exit_loop;
    int start_err; /* set before the startup barrier */
};

/* A worker's shard limits: the process-wide caps split evenly between workers. */
static inline struct shard_limits tracker_shard_limits(const struct tracker *t)
{
    struct shard_limits lim = {
        .max_peers_per_swarm = t->cfg.max_peers_per_swarm,
        .max_offers = t->cfg.max_offers,
        .peer_timeout_ms = (int64_t)t->cfg.peer_timeout * 1000,
        .max_peers = (t->max_peers + t->n_workers - 1) / t->n_workers,
        .max_swarms = (t->max_swarms + t->n_workers - 1) / t->n_workers,
    };
    return lim;
}

/* Allocate the worker's own parts (mailbox, backlog arrays). */
int worker_create(struct worker *w, struct tracker *t, unsigned idx);
void worker_destroy(struct worker *w);
/* The thread body: creates the lws context, waits on barrier, serves. */
void *worker_main(void *arg);
/* From any thread: ask every worker to stop. */
void worker_stop_all(struct tracker *t);

/* Owner: refresh now_ms. */
void worker_clock(struct worker *w);

/* Connection slots. */
uint64_t worker_conn_register(struct worker *w, struct conn *c);
void worker_conn_unregister(struct worker *w, uint64_t ref);
struct conn *worker_conn_lookup(struct worker *w, uint64_t ref);

/* Send a mail to another worker (parks it if that ring is full). */
void worker_send(struct worker *w, unsigned dest, struct mail *m);
/* Hand a frame to its connection, on this worker or another. */
void worker_deliver(struct worker *w, struct frame *f);
/* End of an event pass: wake destinations pushed to, retry parked mails,
 * publish stats. */
void worker_end_pass(struct worker *w);
/* Mailbox drain, from LWS_CALLBACK_EVENT_WAIT_CANCELLED. */
void worker_on_wakeup(struct worker *w);
/* Accept every pending connection on a listening socket. */
void worker_accept(struct worker *w, int listen_fd);

#endif
