/* hist.c - log-linear latency histogram; see hist.h. */
#include <math.h>

#include "hist.h"

static unsigned bucket_of(uint64_t v)
{
    if (v >= (1ull << HIST_MAX_BIT))
        v = (1ull << HIST_MAX_BIT) - 1;
    if (v < (1u << HIST_SUB))
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - HIST_SUB + 1;
    return (shift << (HIST_SUB - 1)) + (unsigned)(v >> shift);
}

/* Midpoint of the values that land in bucket b. */
static uint64_t value_of(unsigned b)
{
    if (b < (1u << HIST_SUB))
        return b;
    unsigned shift = (b >> (HIST_SUB - 1)) - 1;
    uint64_t top = b - ((uint64_t)shift << (HIST_SUB - 1));
    return (top << shift) + ((1ull << shift) >> 1);
}

void hist_add(struct hist *h, uint64_t ns)
{
    h->count[bucket_of(ns)]++;
    h->n++;
    h->sum += ns;
    if (ns > h->max)
        h->max = ns;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    for (unsigned b = 0; b < HIST_BUCKETS; b++)
        dst->count[b] += src->count[b];
    dst->n += src->n;
    dst->sum += src->sum;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
    if (!h->n)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->n);
    if (rank < 1)
        rank = 1;
    if (rank >= h->n)
        return h->max; /* the last sample is known exactly */
    uint64_t seen = 0;
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        seen += h->count[b];
        if (seen >= rank) {
            uint64_t v = value_of(b);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}
