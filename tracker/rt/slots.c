/* slots.c - a worker's connection table; see slots.h. */
#include <stdlib.h>
#include <string.h>

#include "slots.h"

static int grow(struct slots *s)
{
    uint32_t cap = s->cap ? s->cap * 2 : SLOTS_FIRST;
    struct swarm_conn **conn;
    uint32_t *gens, *fr;
    if (cap > (1u << ROUTE_SLOT_BITS))
        return -1;
    if (!(conn = realloc(s->conn, cap * sizeof *conn)))
        return -1;
    s->conn = conn;
    if (!(gens = realloc(s->gens, cap * sizeof *gens)))
        return -1;
    s->gens = gens;
    if (!(fr = realloc(s->free, cap * sizeof *fr)))
        return -1;
    s->free = fr;
    memset(s->gens + s->cap, 0, (cap - s->cap) * sizeof *gens);
    s->cap = cap;
    return 0;
}

uint64_t slots_add(struct slots *s, unsigned worker, struct swarm_conn *c)
{
    uint32_t slot;
    if (s->n_free) {
        slot = s->free[--s->n_free];
    } else {
        if (s->n == s->cap && grow(s) != 0)
            return ROUTE_CONN_NONE;
        slot = s->n++;
    }
    s->conn[slot] = c;
    if (++s->gens[slot] == 0)
        s->gens[slot] = 1; /* generation 0 is never used: ROUTE_CONN_NONE stays unique */
    return route_conn_make(worker, slot, s->gens[slot]);
}

void slots_remove(struct slots *s, uint64_t ref)
{
    uint32_t slot = route_conn_slot(ref);
    if (slot >= s->n || s->gens[slot] != route_conn_gen(ref) || !s->conn[slot])
        return;
    s->conn[slot] = NULL;
    s->gens[slot]++; /* stale references stop matching at once */
    s->free[s->n_free++] = slot;
}

struct swarm_conn *slots_lookup(const struct slots *s, unsigned worker, uint64_t ref)
{
    uint32_t slot = route_conn_slot(ref);
    if (route_conn_worker(ref) != worker || slot >= s->n || s->gens[slot] != route_conn_gen(ref))
        return NULL;
    return s->conn[slot];
}

void slots_destroy(struct slots *s)
{
    free(s->conn);
    free(s->gens);
    free(s->free);
    memset(s, 0, sizeof *s);
}
