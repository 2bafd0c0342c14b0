/* rate.h - a byte-rate budget per client: GCRA over a 32-bit millisecond clock.
 *
 * Owns:   the budget arithmetic for --relay-rate (PROTOCOL.md 10) and
 *         --msg-rate (section 6); per-IP limits (issue 12) are meant to reuse it.
 * Thread: any; pure functions of their arguments (no clock, no I/O).
 * Why:    the generic cell rate algorithm (a token bucket kept as one number)
 *         needs 4 bytes of state per client: its "theoretical arrival time"
 *         tat, in the low 32 bits of the monotonic clock in ms. A budget of
 *         bytes_per_s (or messages: any unit) with a burst of burst_ms worth
 *         is available while tat is less than burst_ms ahead of now. Costs are whole ms
 *         (rounded up), so a client gets at most 1000 charges a second at any
 *         rate. A cost learnt only afterwards (rate_charge) may put tat
 *         further ahead, a debt paid off before the budget is available again,
 *         but never more than RATE_HORIZON_BURSTS bursts + RATE_HORIZON_MS ahead. A tat further
 *         ahead than that cannot be live: it was left alone across a wrap of
 *         the clock (49.7 days), and reads as a full budget. A zeroed tat (a
 *         new client: RATE_UNSET, never stored otherwise) is a full budget.
 */
#ifndef WSTRACKER_RATE_H
#define WSTRACKER_RATE_H

#include <stdbool.h>
#include <stdint.h>

#define RATE_BURST_S        4     /* the relay's burst: this many seconds of its rate */
#define RATE_HORIZON_BURSTS 8     /* debt (rate_charge) is capped at this many bursts... */
#define RATE_HORIZON_MS     16000 /* ...plus this, so even a small burst can owe 16 s */
#define RATE_UNSET          0     /* the tat of a client that has spent nothing yet */

struct rate_limit {
    uint64_t bytes_per_s; /* > 0 */
    uint32_t burst_ms;    /* > 0, at most RATE_BURST_MAX_MS */
};

#define RATE_BURST_MAX_MS (UINT32_MAX / (4 * RATE_HORIZON_BURSTS)) /* the horizon never wraps */

/* A rate of per_s units a second with a burst of burst_ms worth of it. */
static inline struct rate_limit rate_limit_make(uint64_t per_s, uint64_t burst_ms)
{
    struct rate_limit r = {per_s ? per_s : 1,
                           (uint32_t)(burst_ms == 0                  ? 1
                                      : burst_ms > RATE_BURST_MAX_MS ? RATE_BURST_MAX_MS
                                                                     : burst_ms)};
    return r;
}

/* The cost of sending bytes, in ms of the budget (rounded up, at least 1;
 * saturates at UINT32_MAX). */
uint32_t rate_cost_ms(const struct rate_limit *r, uint64_t bytes);

/* Budget available at now, in ms (0..burst_ms; 0 while in debt). */
uint32_t rate_available_ms(const struct rate_limit *r, uint32_t tat, uint32_t now);

/* Spend cost_ms if that much is available (true), else change nothing (false). */
bool rate_take(const struct rate_limit *r, uint32_t *tat, uint32_t now, uint32_t cost_ms);

/* Spend cost_ms learnt after the fact, or refused but still counted,
 * available or not (the debt is capped at RATE_HORIZON_BURSTS bursts). */
void rate_charge(const struct rate_limit *r, uint32_t *tat, uint32_t now, uint32_t cost_ms);

/* How far past its burst the client is, in ms of the rate (0 when not in debt). */
uint32_t rate_debt_ms(const struct rate_limit *r, uint32_t tat, uint32_t now);

#endif
