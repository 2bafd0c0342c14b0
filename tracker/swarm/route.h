/* route.h - which worker owns an info hash, and connection references.
 *
 * Owns:   the keyed hash that shards swarms over workers, and the packing of a
 *         connection reference (worker, slot, generation) into 64 bits.
 * Thread: route_create runs in main before workers start; afterwards the key is
 *         read-only and every function is safe from any thread.
 * Why:    one function decides ownership (aquatic's
 *         calculate_in_message_consumer_index); a keyed hash (SipHash, random per
 *         process) keeps chosen info hashes from piling onto one worker or one
 *         hash bucket.
 */
#ifndef WSTRACKER_ROUTE_H
#define WSTRACKER_ROUTE_H

#include <stdint.h>

#include <sodium.h>

#define ROUTE_KEY_LEN crypto_shorthash_KEYBYTES

/* One per process, owned by main. */
struct route {
    uint8_t key[ROUTE_KEY_LEN]; /* random per process */
    unsigned n_workers;         /* >= 1 */
};

void route_create(struct route *r, unsigned n_workers);

/* 64-bit keyed hash of a byte string (also the shard's hash-table hash). */
uint64_t route_hash(const uint8_t key[ROUTE_KEY_LEN], const void *data, size_t len);

/* The worker owning the swarm of this 20-byte info hash. */
unsigned route_owner(const struct route *r, const uint8_t info_hash[20]);

/* A connection reference: worker (8 bits), slot (24 bits), generation (32 bits).
 * A reference to a closed connection never matches a reused slot. */
#define ROUTE_CONN_NONE  0u
#define ROUTE_SLOT_BITS  24 /* connection slots per worker: 2^24 */
#define ROUTE_SLOT_MASK  ((1u << ROUTE_SLOT_BITS) - 1)
#define ROUTE_WORKER_MAX 256 /* the 8-bit worker field */

static inline uint64_t route_conn_make(unsigned worker, uint32_t slot, uint32_t gen)
{
    return ((uint64_t)worker << 56) | ((uint64_t)(slot & ROUTE_SLOT_MASK) << 32) | gen;
}
static inline unsigned route_conn_worker(uint64_t ref)
{
    return (unsigned)(ref >> 56);
}
static inline uint32_t route_conn_slot(uint64_t ref)
{
    return (uint32_t)(ref >> 32) & ROUTE_SLOT_MASK;
}
static inline uint32_t route_conn_gen(uint64_t ref)
{
    return (uint32_t)ref;
}

#endif
