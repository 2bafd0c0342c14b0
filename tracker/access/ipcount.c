/* ipcount.c - connections per client address (count-min sketch); see ipcount.h.
 *
 * Owns:   the slots' arithmetic.
 * Thread: any; atomic adds only.
 * Why:    take adds first and checks after, so two workers racing for the
 *         last place of one address see each other's adds; as the two slots
 *         are added to one after the other, each may see only one of them,
 *         and both may get in: the cap can be passed by at most one
 *         connection per other worker (as the socket cap can, PROTOCOL.md 9).
 */
#include <string.h>

#include <sodium.h>

#include "ipcount.h"

void ipcount_init(struct ipcount *c, const uint8_t key[16])
{
    memcpy(c->key, key, sizeof c->key);
    for (uint32_t k = 0; k < IPCOUNT_SLOTS; k++)
        atomic_init(&c->n[k], 0);
}

struct ipcount_slots ipcount_slots(const struct ipcount *c, uint64_t key)
{
    uint8_t in[8], h[crypto_shorthash_BYTES];
    struct ipcount_slots s;
    for (int i = 0; i < 8; i++)
        in[i] = (uint8_t)(key >> (8 * i));
    crypto_shorthash(h, in, sizeof in, c->key);
    s.a = (uint16_t)(h[0] | h[1] << 8);
    s.b = (uint16_t)(h[2] | h[3] << 8);
    if (s.b == s.a)
        s.b ^= 1;
    return s;
}

bool ipcount_take(struct ipcount *c, struct ipcount_slots s, uint32_t cap)
{
    uint32_t a = atomic_fetch_add_explicit(&c->n[s.a], 1, memory_order_acq_rel);
    uint32_t b = atomic_fetch_add_explicit(&c->n[s.b], 1, memory_order_acq_rel);
    if ((a < b ? a : b) + 1 <= cap)
        return true;
    ipcount_give(c, s);
    return false;
}

void ipcount_give(struct ipcount *c, struct ipcount_slots s)
{
    atomic_fetch_sub_explicit(&c->n[s.a], 1, memory_order_acq_rel);
    atomic_fetch_sub_explicit(&c->n[s.b], 1, memory_order_acq_rel);
}

uint32_t ipcount_get(struct ipcount *c, struct ipcount_slots s)
{
    uint32_t a = atomic_load_explicit(&c->n[s.a], memory_order_acquire);
    uint32_t b = atomic_load_explicit(&c->n[s.b], memory_order_acquire);
    return a < b ? a : b;
}
