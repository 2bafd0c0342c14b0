/* swarm.h - what the tracker does with a message: decide, and say what must happen.
 *
 * Owns:   struct swarm (one worker's shard, full-scrape state, limits and
 *         scratch), struct swarm_conn (what the request logic keeps per
 *         connection: its ref, registrations, scrapes in flight) and struct
 *         outbox (what must happen after a call: frames for connection refs,
 *         mail for other workers, a close of the sending connection).
 * Thread: the worker owning the struct swarm passed in; it touches only that
 *         swarm and the swarm_conn it is given.
 * Why:    handlers compute, loops send (aquatic's out-messages): this layer
 *         does no I/O and knows no thread. It writes into the outbox and
 *         returns; rt/worker.c drains the outbox (frames to connections, mail
 *         to mailboxes). Unit tests and the fuzz target drive it directly.
 *         Work for this worker's own swarms is done at once, in place (an
 *         announce's spans still point into the received message); only work
 *         for other workers becomes mail.
 */
#ifndef WSTRACKER_SWARM_H
#define WSTRACKER_SWARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

#include "log.h"
#include "hashlist.h"
#include "ihrate.h"
#include "jwt.h"
#include "mail.h"
#include "rate.h"
#include "route.h"
#include "scan.h"
#include "shard.h"
#include "stats.h"
#include "turn.h"

#define SWARM_SCRAPES_IN_FLIGHT    4     /* list scrapes one connection may have travelling */
#define SWARM_SCRAPE_LOST_MS       10000 /* a scrape not back by then is taken as lost */
#define SWARM_FULL_SCRAPE_CACHE_MS 1000  /* a full scrape's reply is reused this long */
#define SWARM_FULL_SCRAPE_WAITERS  4096  /* connections waiting on one worker's full scrape */
#define SWARM_FULL_SCRAPE_CHUNK    4096  /* first allocation of a full scrape's text */
#define SWARM_CLOSE_INVALID_UTF8   1007  /* RFC 6455 7.4.1: a text message not UTF-8 */
#define SWARM_WORKERS_MAX          64    /* workers a swarm can address (rt's WORKER_MAX) */
#define SWARM_RELAYS_IN_FLIGHT     4     /* broadcasts one connection may have at other workers */
#define SWARM_RELAY_LOST_S         10    /* broadcasts not settled by then are taken as lost */
#define SWARM_RELAY_OVERHEAD       128   /* bytes charged per recipient besides the data */

/* What the request logic enforces (from the configuration; rt/ fills it in). */
struct swarm_limits {
    struct shard_limits shard;       /* this worker's share of the caps */
    uint32_t interval;               /* seconds, sent in announce responses */
    uint32_t max_torrents_per_conn;  /* (info_hash, peer_id) pairs per connection */
    uint32_t max_peer_ids_per_swarm; /* peer_ids per (connection, swarm) */
    uint32_t max_scrape_hashes;      /* info hashes per list scrape */
    uint32_t full_scrape_max;        /* bytes of a full scrape reply, >= 512 */
    bool no_full_scrape;             /* refuse scrapes without info_hash */
    bool relay;                      /* relays allowed (--relay) */
    uint32_t relay_max_bytes;        /* bytes of a relay's data (--relay-max-bytes) */
    struct rate_limit relay_rate;    /* per connection (--relay-rate) */
    uint32_t announce_rate;          /* offers' announces/s per (address, info hash); 0: off */
    uint32_t announce_burst;
    /* TURN credentials for "turn": true (none when turn_secret is NULL). */
    const char *turn_secret;
    const char *turn_urls[TURN_URLS_MAX];
    unsigned n_turn_urls;
    unsigned turn_ttl; /* s */
};

/* One (info_hash, peer_id) a connection announced after its first; freed with it. */
struct swarm_reg {
    uint8_t key[2 * PROTO_ID_LEN]; /* info_hash then peer_id */
    UT_hash_handle hh;
};

/* The request logic's part of a connection, embedded in the network layer's
 * struct conn; zeroed when the connection opens. 72 bytes. */
struct swarm_conn {
    uint64_t ref;           /* route_conn_make(); ROUTE_CONN_NONE until established */
    struct swarm_reg *regs; /* uthash: registrations after the first */
    uint32_t n_regs;        /* has_reg0 + regs, <= max_torrents_per_conn */
    uint32_t scrape_ms;     /* low 32 bits of now_ms when scrapes last changed */
    uint8_t scrapes;        /* list scrapes in flight, <= SWARM_SCRAPES_IN_FLIGHT */
    uint8_t relays;         /* broadcasts at other workers, <= SWARM_RELAYS_IN_FLIGHT */
    bool full_waiting : 1;  /* waits for its worker's full scrape */
    bool ipv6 : 1;          /* peer address family (v4-mapped counts as IPv4) */
    bool has_reg0 : 1;
    uint8_t relay_s; /* low 8 bits of now in s when broadcasts in flight last changed */
    uint8_t reg0[2 * PROTO_ID_LEN]; /* first registration, inline (see request.c) */
    uint32_t relay_tat;             /* relay budget (rate.h; ms, low 32 bits) */
};

/* A worker's full-scrape state: the cached reply and who waits for the travel. */
struct full_scrape {
    char *body; /* the last reply's payload, or NULL */
    uint32_t len;
    int64_t made_ms;    /* when body was made (ms, monotonic) */
    bool in_flight;     /* a travel started here is under way */
    int64_t started_ms; /* when it started */
    uint64_t *waiters;  /* connection refs to answer, <= SWARM_FULL_SCRAPE_WAITERS */
    uint32_t n_waiters, cap_waiters;
};

/* One per worker, embedded in it. */
struct swarm {
    unsigned idx;              /* this worker */
    const struct route *route; /* who owns what; route->n_workers workers */
    struct swarm_limits lim;
    struct shard shard;
    struct full_scrape fs;
    struct stats *stats;  /* the worker's counters */
    struct log_limit log; /* rate limits of this worker's log lines */
    uint64_t rng;         /* shard_rand state */
    int64_t now_ms;       /* ms, monotonic: the time of the call under way */
    int64_t wall_s;       /* Unix seconds, refreshed by the runtime's tick: TURN expiry */
    /* Info-hash lists for the message under way, set by the runtime before
     * each swarm_message (NULL: not configured); never kept across calls. */
    const struct hashlist *allow, *deny;
    /* The token grant of the connection whose message is under way (NULL:
     * tokens off); set like the lists, never kept. */
    const struct jwt_grant *grant;
    /* The sending connection's address key (ip_cap_key; 0 unknown), set like the grant. */
    uint64_t addr;
    struct ihrate ihrate;     /* --announce-rate budgets of the swarms this worker owns */
    struct proto_request req; /* scratch for the scanner */
};

/* What must happen after a call, in order. Frames go to f->conn (on any
 * worker), other mail to m->dest (never this worker). */
struct outbox {
    struct mail_queue q;
    uint16_t close;   /* nonzero: close the sending connection with this code */
    uint64_t born_ns; /* set by the caller: stamped on every item (struct mail.born_ns) */
};

static inline void outbox_frame(struct outbox *ob, struct frame *f)
{
    f->m.born_ns = ob->born_ns;
    mail_queue_push(&ob->q, &f->m);
}
static inline void outbox_mail(struct outbox *ob, unsigned dest, struct mail *m)
{
    m->dest = dest;
    m->born_ns = ob->born_ns;
    mail_queue_push(&ob->q, m);
}

/* Returns 0, or -1 when the --announce-rate table cannot be allocated. */
int swarm_create(struct swarm *s, unsigned idx, const struct route *r,
                 const struct swarm_limits *lim, struct stats *stats, uint64_t seed);
void swarm_destroy(struct swarm *s);

/* The worker's tick: for each refusal cause whose interval is over with lines
 * not printed, say how many (obs/log.h log_limited_count), so a burst's count
 * is known within a tick of its interval's end. */
void swarm_log_flush(struct swarm *s, int64_t now_ms);

/* One complete message from connection c; text: it came in text frames. */
void swarm_message(struct swarm *s, struct swarm_conn *c, const char *msg, size_t len, bool text,
                   int64_t now_ms, struct outbox *ob);

/* A message from connection c refused with status st before it is acted on
 * (the network layer's message budget): the failure reason goes out with the
 * message's action and info_hash as far as they can be read. */
void swarm_refuse(struct swarm *s, struct swarm_conn *c, const char *msg, size_t len,
                  enum proto_status st, int64_t now_ms, struct outbox *ob);

/* Mail from another worker, of any kind but MAIL_FRAME. Takes ownership. */
void swarm_mail(struct swarm *s, struct mail *m, int64_t now_ms, struct outbox *ob);

/* Connection c is closing: its peers are removed here and, by mail, on their
 * owners; its registrations are freed. */
void swarm_conn_closed(struct swarm *s, struct swarm_conn *c, int64_t now_ms, struct outbox *ob);

/* A frame reached connection c on its own worker s: count down what it
 * answers, charge a settled relay's cost. Returns false when the frame has
 * nothing to write (a relay's settlement only). */
static inline bool swarm_conn_note_reply(const struct swarm *s, struct swarm_conn *c,
                                         const struct frame *f, int64_t now_ms)
{
    if (f->reply == FRAME_REPLY_SCRAPE && c->scrapes) {
        c->scrapes--;
        c->scrape_ms = (uint32_t)now_ms;
    } else if (f->reply == FRAME_REPLY_FULL_SCRAPE) {
        c->full_waiting = false;
    } else if (f->reply == FRAME_REPLY_RELAY) {
        if (c->relays)
            c->relays--;
        c->relay_s = (uint8_t)(now_ms / 1000);
        rate_charge(&s->lim.relay_rate, &c->relay_tat, (uint32_t)now_ms, f->debit_ms);
    }
    return f->len > 0;
}

#endif
