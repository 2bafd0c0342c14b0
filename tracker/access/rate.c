/* rate.c - a byte-rate budget per client (GCRA); see rate.h.
 *
 * Owns:   nothing but arithmetic.
 * Thread: any (pure).
 * Why:    kept apart from its callers so the wrap-around cases are unit-tested
 *         and fuzzed on their own (tests/unit/test_rate.c, fuzz_rate.c).
 */
#include "rate.h"

uint32_t rate_cost_ms(const struct rate_limit *r, uint64_t bytes)
{
    uint64_t ms;
    if (bytes > UINT64_MAX / 1000u - r->bytes_per_s)
        return UINT32_MAX;
    ms = (bytes * 1000u + r->bytes_per_s - 1) / r->bytes_per_s;
    if (ms == 0)
        ms = 1;
    return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

static uint32_t horizon(const struct rate_limit *r)
{
    return r->burst_ms * RATE_HORIZON_BURSTS + RATE_HORIZON_MS;
}

/* How far tat is ahead of now: 0 when behind, unset or stale (see rate.h). */
static uint32_t ahead(const struct rate_limit *r, uint32_t tat, uint32_t now)
{
    uint32_t d = tat - now; /* mod 2^32 */
    return tat != RATE_UNSET && d <= horizon(r) ? d : 0;
}

/* tat as stored: never RATE_UNSET (one ms later instead). */
static uint32_t stored(uint32_t tat)
{
    return tat == RATE_UNSET ? tat + 1 : tat;
}

uint32_t rate_available_ms(const struct rate_limit *r, uint32_t tat, uint32_t now)
{
    uint32_t a = ahead(r, tat, now);
    return a >= r->burst_ms ? 0 : r->burst_ms - a;
}

bool rate_take(const struct rate_limit *r, uint32_t *tat, uint32_t now, uint32_t cost_ms)
{
    if (cost_ms > rate_available_ms(r, *tat, now))
        return false;
    *tat = stored(now + ahead(r, *tat, now) + cost_ms);
    return true;
}

void rate_charge(const struct rate_limit *r, uint32_t *tat, uint32_t now, uint32_t cost_ms)
{
    uint32_t a = ahead(r, *tat, now);
    uint32_t room = horizon(r) - a;
    *tat = stored(now + a + (cost_ms < room ? cost_ms : room));
}

uint32_t rate_debt_ms(const struct rate_limit *r, uint32_t tat, uint32_t now)
{
    uint32_t a = ahead(r, tat, now);
    return a > r->burst_ms ? a - r->burst_ms : 0;
}
