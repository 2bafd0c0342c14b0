/* mail.h - the tracker's messages: frames for connections, mail for workers.
 *
 * Owns:   struct mail (the header every message starts with), struct
 *         mail_queue, struct frame, the four kinds of worker mail, mail_free.
 * Thread: a message belongs to one thread at a time: the one that made it,
 *         then the one it was handed to (rt/mailbox.c moves it between them).
 * Why:    the request logic (request.c) writes these into its outbox, the
 *         runtime (rt/) carries them and the network layer (net/) writes
 *         frames: they are defined in the lowest layer that makes them, so no
 *         layer needs a header from one above it.
 */
#ifndef WSTRACKER_MAIL_H
#define WSTRACKER_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "id.h"
#include "scan.h"

/* Bytes before a frame's payload, for the WebSocket header libwebsockets
 * writes in place (its LWS_PRE; net/ checks at compile time that it fits). */
#define FRAME_HEADROOM 16

enum mail_kind {
    MAIL_FRAME,       /* struct frame: send to a connection of the receiving worker */
    MAIL_ANNOUNCE,    /* struct mail_announce: for a swarm of the receiving worker */
    MAIL_SCRAPE,      /* struct mail_scrape: fill in the receiving worker's swarms */
    MAIL_FULL_SCRAPE, /* struct mail_full_scrape: add this worker's swarms, or done */
    MAIL_REMOVE,      /* struct mail_remove: a closed connection's peers */
    MAIL_RELAY,       /* struct mail_relay: for a swarm of the receiving worker */
    MAIL_KINDS
};

/* The first member of every message. */
struct mail {
    struct mail *next; /* owner-local queues only (struct mail_queue) */
    uint32_t kind;     /* enum mail_kind */
    uint32_t dest;     /* in an outbox: the worker it is for (not for frames) */
    /* CLOCK_MONOTONIC ns at which the client message this mail comes from
     * was complete, as the receiving worker read it; stamped by the outbox,
     * and handed on to the mail and frames its handling makes on any worker
     * (the latency histograms). 0: unknown. */
    uint64_t born_ns;
};

/* A FIFO of mails linked through mail.next, owned by one thread: an outbox, a
 * worker's backlog per destination, a connection's output queue. */
struct mail_queue {
    struct mail *head, *tail;
};

static inline void mail_queue_push(struct mail_queue *q, struct mail *m)
{
    m->next = NULL;
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
}

/* The oldest mail, removed; NULL when empty. */
static inline struct mail *mail_queue_pop(struct mail_queue *q)
{
    struct mail *m = q->head;
    if (m) {
        q->head = m->next;
        if (!q->head)
            q->tail = NULL;
    }
    return m;
}

/* Every kind of mail is one allocation, so any mail, whatever its kind, is
 * freed (when dropped, or left over at shutdown) with this. */
static inline void mail_free(struct mail *m)
{
    free(m);
}

/* What a frame answers, so its connection can count its scrapes and relays
 * in flight. A FRAME_REPLY_RELAY frame settles one relay that travelled to
 * another worker: it charges debit_ms to the connection's relay budget, and
 * with len 0 it is only that (nothing is written). */
enum frame_reply {
    FRAME_REPLY_OTHER,
    FRAME_REPLY_SCRAPE,
    FRAME_REPLY_FULL_SCRAPE,
    FRAME_REPLY_RELAY
};

/* One outgoing WebSocket text frame; allocated by the request logic, freed
 * after it is written (or when dropped). */
struct frame {
    struct mail m;        /* kind MAIL_FRAME; m.next links the connection's queue */
    uint64_t conn;        /* destination connection (route_conn_make) */
    uint32_t len;         /* payload bytes after the headroom */
    bool droppable;       /* a forwarded offer or relay: may be dropped past the soft cap */
    uint8_t reply;        /* enum frame_reply */
    uint16_t debit_ms;    /* FRAME_REPLY_RELAY: the relay's cost (rate.h), <= its budget */
    uint8_t timed;        /* 1 + enum stats_kind: the latency histogram it ends in (0: none) */
    unsigned char data[]; /* FRAME_HEADROOM + len */
};

static inline char *frame_payload(struct frame *f)
{
    return (char *)f->data + FRAME_HEADROOM;
}

/* A frame with room for cap payload bytes, for no connection yet; NULL on failure. */
struct frame *frame_alloc(size_t cap);

/* An announce for a swarm owned by another worker: the scanned announce plus a
 * copy of the message bytes its spans point into. */
struct mail_announce {
    struct mail m;
    uint64_t conn;
    uint64_t addr; /* the sender's address key (swarm.addr) */
    bool ipv6;
    uint32_t msg_len;
    struct proto_announce ann;
    char msg[]; /* msg_len bytes */
};

/* A list scrape travelling from worker to worker until every id is filled in,
 * then written and sent to conn. One allocation: after the struct come n * 3
 * counts (complete, incomplete, downloaded), n ids (20 bytes each) and n done
 * flags. */
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
struct mail_scrape *mail_scrape_alloc(uint32_t n);

/* A full scrape visiting workers 0, 1, ... in turn, each appending its swarms'
 * entries as text, then going back to the origin worker (next == n_workers).
 * One allocation, grown by realloc up to the reply budget (request.c). */
struct mail_full_scrape {
    struct mail m;
    unsigned origin;   /* the worker whose connections wait for it */
    unsigned next;     /* the next worker to visit; n_workers: done */
    uint32_t len, cap; /* text bytes used / allocated */
    uint32_t entries;  /* swarms listed so far */
    char text[];       /* the "files" entries, comma-separated */
};

/* A relay for a swarm owned by another worker (PROTOCOL.md 10.4): who sends
 * it to whom, the sender's relay budget when it left, and the raw "data". */
struct mail_relay {
    struct mail m;
    uint64_t conn;      /* the sender's connection */
    uint32_t budget_ms; /* broadcast: rate_available_ms at the sender; directed: its cost, paid */
    bool directed;
    uint8_t info_hash[PROTO_ID_LEN];
    uint8_t peer_id[PROTO_ID_LEN];
    uint8_t to_peer_id[PROTO_ID_LEN]; /* when directed */
    uint32_t data_len;
    char data[]; /* data_len bytes: the JSON string, quotes included */
};

/* A closed connection's (info_hash, peer_id) pairs owned by one worker. */
struct mail_remove {
    struct mail m;
    uint64_t conn;
    uint32_t n;
    uint8_t pairs[][2 * PROTO_ID_LEN];
};

#endif
