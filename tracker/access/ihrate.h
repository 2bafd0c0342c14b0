/* ihrate.h - how often one address may send offers into one swarm (--announce-rate,
 * --announce-burst; PROTOCOL.md section 6).
 *
 * Owns:   a fixed table of GCRA budgets (rate.h) keyed by (client address, info hash):
 *         IHRATE_BUCKETS buckets of two 8-byte slots (a 32-bit tag of a keyed SipHash
 *         of the pair, and the budget's tat), allocated once.
 * Thread: the worker that owns the swarms (every announce of an info hash reaches its
 *         owner, so one table per worker sees all of a pair's announces); pure besides
 *         that one allocation: no clock, no I/O.
 * Why:    the per-connection message budget does not stop one address with many
 *         connections (up to --max-conns-per-ip) from filling a room's members' queues
 *         with offers. The table is bounded: when both slots of a bucket are taken by
 *         other pairs, the one with more budget left (the least spent) is
 *         reused and its pair starts again with a full budget, so a flood of distinct
 *         pairs can reset a budget but never grows memory; the key is random per
 *         process, so which pairs share a bucket cannot be chosen from outside.
 */
#ifndef WSTRACKER_IHRATE_H
#define WSTRACKER_IHRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "rate.h"

#define IHRATE_BUCKETS 16384 /* x 2 slots x 8 bytes = 256 KiB per worker */

struct ihrate_slot {
    uint32_t tag; /* 0: empty */
    uint32_t tat; /* rate.h */
};

struct ihrate {
    struct ihrate_slot (*b)[2]; /* IHRATE_BUCKETS */
    struct rate_limit lim;
    uint32_t cost_ms; /* one announce */
    uint8_t key[16];  /* SipHash key */
    uint64_t reused;  /* slots taken over from another pair (for tests and stats) */
};

/* per_s announces a second with a burst of burst of them; key: 16 random bytes.
 * Returns 0, or -1 when out of memory. */
int ihrate_init(struct ihrate *r, uint32_t per_s, uint32_t burst, const uint8_t key[16]);
void ihrate_free(struct ihrate *r);

/* Charge one announce of (addr, info hash) at now (ms, low 32 bits): true when its
 * budget had room, false (nothing charged) when not. */
bool ihrate_take(struct ihrate *r, uint64_t addr, const uint8_t ih[20], uint32_t now);

#endif
