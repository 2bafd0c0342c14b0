/* ipcount.h - WebSocket connections per client address, for --max-conns-per-ip.
 *
 * Owns:   struct ipcount, a count-min sketch of open connections per address
 *         key (realip.h: an IPv4 address or an IPv6 /64) shared by every
 *         worker.
 * Thread: any worker, lock-free: each slot is an atomic counter.
 * Why:    a connection may be accepted on any worker, so the count must be
 *         shared, and taking it is on the upgrade path of every connection.
 *         A hash table keyed by address would need deletion across threads;
 *         a sketch needs none. Each key counts in two slots (keyed SipHash,
 *         so a client cannot aim at someone else's slots) and its count is
 *         the smaller one: never under-counted, over-counted only when both
 *         of its slots are shared with other busy addresses. Fixed memory:
 *         IPCOUNT_SLOTS x 4 bytes.
 */
#ifndef WSTRACKER_IPCOUNT_H
#define WSTRACKER_IPCOUNT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define IPCOUNT_SLOTS (1u << 16) /* 256 KiB of counters */

struct ipcount {
    uint8_t key[16]; /* SipHash key, random per process */
    _Atomic uint32_t n[IPCOUNT_SLOTS];
};

/* Where a key counts; kept by the caller to give the count back. */
struct ipcount_slots {
    uint16_t a, b; /* a != b */
};

void ipcount_init(struct ipcount *c, const uint8_t key[16]);
struct ipcount_slots ipcount_slots(const struct ipcount *c, uint64_t key);

/* Count one more connection for these slots unless that would pass cap
 * (then nothing changes and false is returned). */
bool ipcount_take(struct ipcount *c, struct ipcount_slots s, uint32_t cap);

/* Give back what ipcount_take counted. */
void ipcount_give(struct ipcount *c, struct ipcount_slots s);

/* The count of these slots (the smaller of the two). */
uint32_t ipcount_get(struct ipcount *c, struct ipcount_slots s);

#endif
