/* rate.h - a byte-rate budget per client: GCRA over a 32-bit millisecond clock.
 *
 * Owns:   the budget arithmetic for --relay-rate (PROTOCOL.md 10.4); per-IP
 *         limits (issue 12) are meant to reuse it.
 * Thread: any; pure functions of their arguments (no clock, no I/O).
 * Why:    the generic cell rate algorithm (a token bucket kept as one number)
 *         needs 4 bytes of state per client: its "theoretical arrival time"
 *         tat, in the low 32 bits of the monotonic clock in ms. A budget of
 *         bytes_per_s with a burst of RATE_BURST_S seconds' worth is available
 *         while tat is less than burst_ms ahead of now. Costs are whole ms
 *         (rounded up), so a client gets at most 1000 charges a second at any
 *         rate. A cost learnt only afterwards (rate_charge) may put tat
 *         further ahead, a debt paid off before the budget is available again,
 *         but never more than RATE_HORIZON_BURSTS bursts ahead. A tat further
 *         ahead than that cannot be live: it was left alone across a wrap of
 *         the clock (49.7 days), and reads as a full budget. A zeroed tat (a
 *         new client: RATE_UNSET, never stored otherwise) is a full budget.
 */
#ifndef WSTRACKER_RATE_H
#define WSTRACKER_RATE_H

#include <stdbool.h>
#include <stdint.h>

#define RATE_BURST_S        4 /* the burst is this many seconds of the rate */
#define RATE_HORIZON_BURSTS 8 /* debt (rate_charge) is capped at this many bursts */
#define RATE_UNSET          0 /* the tat of a client that has spent nothing yet */

struct rate_limit {
    uint64_t bytes_per_s; /* > 0 */
    uint32_t burst_ms;    /* RATE_BURST_S * 1000 */
};

static inline struct rate_limit rate_limit_make(uint64_t bytes_per_s)
{
    struct rate_limit r = {bytes_per_s ? bytes_per_s : 1, RATE_BURST_S * 1000u};
    return r;
}

/* The cost of sending bytes, in ms of the budget (rounded up, at least 1;
 * saturates at UINT32_MAX). */
uint32_t rate_cost_ms(const struct rate_limit *r, uint64_t bytes);

/* Budget available at now, in ms (0..burst_ms; 0 while in debt). */
uint32_t rate_available_ms(const struct rate_limit *r, uint32_t tat, uint32_t now);

/* Spend cost_ms if that much is available (true), else change nothing (false). */
bool rate_take(const struct rate_limit *r, uint32_t *tat, uint32_t now, uint32_t cost_ms);

/* Spend cost_ms learnt after the fact, available or not (the debt is capped
 * at RATE_HORIZON_BURSTS bursts). */
void rate_charge(const struct rate_limit *r, uint32_t *tat, uint32_t now, uint32_t cost_ms);

#endif
