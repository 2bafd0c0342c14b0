/* ihrate.c - offer budgets per (address, info hash); see ihrate.h. One table per worker,
 * touched only by that worker. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ihrate.h"

int ihrate_init(struct ihrate *r, uint32_t per_s, uint32_t burst, const uint8_t key[16])
{
    memset(r, 0, sizeof *r);
    if (!(r->b = calloc(IHRATE_BUCKETS, sizeof *r->b)))
        return -1;
    r->cost_ms = (1000u + per_s - 1) / per_s;
    r->lim = rate_limit_make(per_s, (uint64_t)r->cost_ms * burst);
    memcpy(r->key, key, sizeof r->key);
    return 0;
}

void ihrate_free(struct ihrate *r)
{
    free(r->b);
    r->b = NULL;
}

/* How far behind now a slot's budget is: a full budget (tat at or before now, or unset)
 * reads as the furthest behind. */
static uint32_t ahead_of(const struct ihrate *r, const struct ihrate_slot *s, uint32_t now)
{
    return r->lim.burst_ms - rate_available_ms(&r->lim, s->tat, now);
}

bool ihrate_take(struct ihrate *r, uint64_t addr, const uint8_t ih[20], uint32_t now)
{
    uint8_t in[28], h[crypto_shorthash_BYTES];
    uint64_t v;
    uint32_t tag;
    struct ihrate_slot *b, *s;
    memcpy(in, &addr, 8);
    memcpy(in + 8, ih, 20);
    crypto_shorthash(h, in, sizeof in, r->key);
    memcpy(&v, h, sizeof v);
    tag = (uint32_t)(v >> 32) | 1u; /* never 0, the empty tag */
    b = r->b[(uint32_t)v & (IHRATE_BUCKETS - 1)];
    if (b[0].tag == tag)
        s = &b[0];
    else if (b[1].tag == tag)
        s = &b[1];
    else {
        /* a new pair: an empty slot, else the one whose budget is least spent */
        s = !b[0].tag                                            ? &b[0]
            : !b[1].tag                                          ? &b[1]
            : ahead_of(r, &b[0], now) <= ahead_of(r, &b[1], now) ? &b[0]
                                                                 : &b[1];
        if (s->tag)
            r->reused++;
        s->tag = tag;
        s->tat = RATE_UNSET;
    }
    return rate_take(&r->lim, &s->tat, now, r->cost_ms);
}
