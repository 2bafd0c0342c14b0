/* stats.h - counters per worker, merged on read; /stats.json.
 *
 * Owns:   struct stats (one per worker) and the /stats.json writer.
 * Thread: each worker writes only its own struct stats (single writer, relaxed
 *         atomics); any worker reads all of them to answer /stats.json.
 * Why:    no shared mutable counter on the hot path, and no lock to read them.
 */
#ifndef WSTRACKER_STATS_H
#define WSTRACKER_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum stats_counter {
    /* gauges, published by the owner */
    STATS_CONNECTIONS,
    STATS_SWARMS,
    STATS_ACTIVE_SWARMS,
    STATS_PEERS,
    STATS_SEEDERS,
    STATS_LEECHERS,
    STATS_PEERS_IPV6,
    /* totals */
    STATS_ANNOUNCES,
    STATS_SCRAPES,
    STATS_OFFERS_FORWARDED,
    STATS_OFFERS_DROPPED,
    STATS_ANSWERS_FORWARDED,
    STATS_ANSWERS_DROPPED,
    STATS_ERRORS,
    STATS_MAIL_DROPPED,
    STATS_CONNECTIONS_REFUSED,
    STATS_COUNT
};

/* One per worker, embedded in it. */
struct stats {
    _Atomic uint64_t v[STATS_COUNT]; /* {atomic} written by the owner only */
};

/* Owner only: add d (may be negative) to a counter. */
static inline void stats_add(struct stats *s, enum stats_counter c, int64_t d)
{
    uint64_t cur = atomic_load_explicit(&s->v[c], memory_order_relaxed);
    atomic_store_explicit(&s->v[c], cur + (uint64_t)d, memory_order_relaxed);
}

/* Owner only: set a gauge. */
static inline void stats_set(struct stats *s, enum stats_counter c, uint64_t v)
{
    atomic_store_explicit(&s->v[c], v, memory_order_relaxed);
}

/* Sum of one counter over n workers' stats. */
uint64_t stats_sum(struct stats *const *all, unsigned n, enum stats_counter c);

/* Write /stats.json for n workers into buf; returns bytes or -1 if cap is short. */
int stats_write_json(char *buf, size_t cap, struct stats *const *all, unsigned n,
                     uint64_t uptime_s);

#endif
