/* slots.h - a worker's connection table: reference -> connection.
 *
 * Owns:   struct slots: one entry per open connection of a worker, each with
 *         a generation so a reference to a closed connection never matches
 *         the connection that reuses its slot.
 * Thread: the owning worker only.
 * Why:    frames and mail carry 64-bit references (swarm/route.h), never
 *         pointers: a reference can cross threads and outlive its connection
 *         safely; only the owner turns it back into a connection.
 */
#ifndef WSTRACKER_SLOTS_H
#define WSTRACKER_SLOTS_H

#include <stdint.h>

#include "route.h"
#include "swarm.h"

#define SLOTS_FIRST 1024 /* first allocation; doubles up to 2^ROUTE_SLOT_BITS */

struct slots {
    struct swarm_conn **conn; /* by slot; NULL = free */
    uint32_t *gens;           /* generation per slot, never 0 */
    uint32_t *free;           /* free slots, n_free of them */
    uint32_t n, cap, n_free;  /* slots used so far / allocated / free among n */
};

/* A reference for c on worker w, or ROUTE_CONN_NONE when the table is full. */
uint64_t slots_add(struct slots *s, unsigned worker, struct swarm_conn *c);
/* Free ref's slot; a stale ref is ignored. */
void slots_remove(struct slots *s, uint64_t ref);
/* The live connection ref names on worker, or NULL. */
struct swarm_conn *slots_lookup(const struct slots *s, unsigned worker, uint64_t ref);
/* Open connections. */
static inline uint32_t slots_live(const struct slots *s)
{
    return s->n - s->n_free;
}
void slots_destroy(struct slots *s);

#endif
