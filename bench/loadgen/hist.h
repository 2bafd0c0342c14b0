/* hist.h - a log-linear latency histogram with a fixed array of counts.
 *
 * Owns:   struct hist (embedded in the caller's stats; no allocation).
 * Thread: one writer; merge after the writer has stopped.
 * Why:    percentiles over millions of samples without storing samples: a value
 *         lands in one of HIST_BUCKETS counters, 2^(HIST_SUB-1) per power of two,
 *         so a percentile is exact to within 1/2^(HIST_SUB-1) (0.8 %).
 */
#ifndef LG_HIST_H
#define LG_HIST_H

#include <stdint.h>

#define HIST_SUB     8  /* values below 2^HIST_SUB ns are exact */
#define HIST_MAX_BIT 40 /* values are clamped to 2^40 ns (18 min) */
#define HIST_BUCKETS ((HIST_MAX_BIT - HIST_SUB + 2) << (HIST_SUB - 1))

/* One distribution of nanosecond values. Zeroed = empty. */
struct hist {
    uint64_t n;                   /* samples */
    uint64_t max;                 /* largest sample, ns */
    uint64_t sum;                 /* sum of samples, ns (for the mean) */
    uint64_t count[HIST_BUCKETS]; /* samples per bucket */
};

/* Record one value (ns). */
void hist_add(struct hist *h, uint64_t ns);

/* Add every sample of src into dst. */
void hist_merge(struct hist *dst, const struct hist *src);

/* The value (ns) at quantile q (0..1): the midpoint of the bucket holding the
 * ceil(q*n)-th sample, or 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);

#endif
