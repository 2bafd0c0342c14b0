/* history.h - what the /stats page draws: a ring of samples and the top rooms.
 *
 * Owns:   struct stats_history (the last HISTORY_MAX samples of a few process
 *         totals, one every --stats-interval seconds) and struct stats_top (a
 *         worker's STATS_TOP largest swarms), with their JSON writers.
 * Thread: each has one writer: the ring worker 0's tick, a stats_top its
 *         owner worker's tick. Readers on any worker copy them under a
 *         seqlock (every field an atomic, so a torn read is only retried,
 *         never undefined): the writer makes seq odd, stores, makes it even
 *         (release); a reader retries while seq is odd or moved, at most
 *         HISTORY_READ_TRIES times, then uses its last copy.
 * Why:    the page shows the last hour without a database, and top rooms
 *         without a walk over every swarm per request.
 */
#ifndef WSTRACKER_HISTORY_H
#define WSTRACKER_HISTORY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HISTORY_MAX        360 /* samples kept: 1 hour at the default 10 s */
#define HISTORY_READ_TRIES 8   /* seqlock retries before a reader keeps its copy */
#define STATS_TOP          10  /* largest swarms published per worker and shown */

/* One sample: process totals at time t. */
enum history_field {
    HIST_T,           /* seconds since start */
    HIST_CONNECTIONS, /* open WebSocket connections */
    HIST_PEERS,       /* peers (registrations) */
    HIST_ANNOUNCES,   /* announces so far (a total: the page draws its rate) */
    HIST_OFFERS,      /* offers forwarded so far */
    HIST_RELAYS,      /* relays accepted so far */
    HIST_RSS,         /* resident memory, bytes */
    HIST_FIELDS
};

struct history_sample {
    uint64_t v[HIST_FIELDS];
};

struct stats_history {
    _Atomic uint64_t seq;                         /* {atomic} odd while written */
    _Atomic uint64_t n;                           /* {atomic} samples written so far */
    _Atomic uint64_t v[HISTORY_MAX][HIST_FIELDS]; /* {atomic} slot n % HISTORY_MAX */
};

/* Writer only: append one sample, the oldest dropped past HISTORY_MAX. */
void history_push(struct stats_history *h, const struct history_sample *s);

/* Any thread: copy the newest samples, oldest first, into out (room for
 * HISTORY_MAX); returns how many (<= HISTORY_MAX). */
unsigned history_read(struct stats_history *h, struct history_sample *out);

/* /stats/history.json: {"interval":S,"samples":N,"t":[...],"connections":[...],
 * "peers":[...],"announces":[...],"offers":[...],"relays":[...],"rss":[...]}.
 * Returns bytes or -1 if cap is short. */
int history_write_json(char *buf, size_t cap, struct stats_history *h, unsigned interval_s);

/* A worker's largest swarms, published by its owner. */
struct stats_top {
    _Atomic uint64_t seq;              /* {atomic} odd while written */
    _Atomic uint32_t n;                /* {atomic} entries used, <= STATS_TOP */
    _Atomic uint32_t hash4[STATS_TOP]; /* {atomic} the info hash's first 4 bytes */
    _Atomic uint32_t peers[STATS_TOP]; /* {atomic} its peers */
};

struct top_entry {
    uint8_t hash4[4];
    uint32_t peers;
};

/* Owner only: publish n (<= STATS_TOP) entries. */
void top_publish(struct stats_top *t, const struct top_entry *e, unsigned n);

/* Any thread: copy t's entries into out (room for STATS_TOP); returns how
 * many. */
unsigned top_read(struct stats_top *t, struct top_entry *out);

#endif
