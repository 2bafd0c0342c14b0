/* fuzz_rate.c - libFuzzer target: the per-client byte budget (access/rate.c).
 *
 * Owns:   nothing; replays the input as a client's life (time passing, costs
 *         taken, costs charged afterwards) against a model of the same GCRA on
 *         a 64-bit clock that never wraps, and checks that the 32-bit budget
 *         reads exactly as the model at every step, that a refused take
 *         changes nothing and that nothing is ever more than a burst or less
 *         than zero. Time may run far past 2^32 ms, so the clock wraps.
 * Why:    the 32-bit state is where a budget would leak or stick; the model
 *         says what it must be. The one place they may differ is documented in
 *         rate.h (a silence within the horizon of a multiple of 2^32 ms reads
 *         as debt): there both are reset to a new client and the run goes on.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "rate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rate_limit r;
    uint64_t now = 0, tat = 0; /* the model: ms on a clock that never wraps; tat 0 = unset */
    uint32_t t32 = RATE_UNSET, horizon;
    if (size < 8)
        return 0;
    r = rate_limit_make(u32(data) % (1u << 30), data[4] % 2 ? 4000 : 1 + u32(data + 4) % 60000);
    now = u32(data + 4) >> 8;
    horizon = r.burst_ms * RATE_HORIZON_BURSTS + RATE_HORIZON_MS;
    for (size_t i = 8; i + 9 <= size; i += 9) {
        uint8_t op = data[i];
        uint32_t a = u32(data + i + 1), b = u32(data + i + 5);
        uint64_t ahead, avail;
        now += (op & 0x80) ? (uint64_t)a << 4 : a % 100000; /* sometimes days at once */
        if (tat && tat < now && now - tat >= (1ull << 32) - horizon &&
            (now - tat) % (1ull << 32) >= (1ull << 32) - horizon) {
            tat = 0; /* the documented window (rate.h): both start over */
            t32 = RATE_UNSET;
        }
        ahead = tat > now ? tat - now : 0;
        avail = ahead >= r.burst_ms ? 0 : r.burst_ms - ahead;
        CHECK(rate_available_ms(&r, t32, (uint32_t)now) == avail);
        CHECK(avail <= r.burst_ms);
        CHECK(rate_debt_ms(&r, t32, (uint32_t)now) ==
              (ahead > r.burst_ms ? ahead - r.burst_ms : 0));
        switch (op & 3) {
        case 0: { /* take */
            uint32_t cost = b % (2 * r.burst_ms + 2), before = t32;
            bool ok = rate_take(&r, &t32, (uint32_t)now, cost);
            CHECK(ok == (cost <= avail));
            if (ok) {
                tat = now + ahead + cost;
                if ((uint32_t)tat == RATE_UNSET)
                    tat++;
            } else {
                CHECK(t32 == before);
            }
            break;
        }
        case 1: { /* charge, learnt afterwards */
            uint64_t add = (op & 0x40) ? b : b % (r.burst_ms + 1);
            tat = now + (ahead + add < horizon ? ahead + add : horizon);
            if ((uint32_t)tat == RATE_UNSET)
                tat++;
            rate_charge(&r, &t32, (uint32_t)now, (uint32_t)add);
            break;
        }
        case 2: { /* a cost: rounded up, at least 1 ms, saturating */
            uint64_t ms = ((uint64_t)b * 1000 + r.bytes_per_s - 1) / r.bytes_per_s;
            ms = ms == 0 ? 1 : ms > UINT32_MAX ? UINT32_MAX : ms;
            CHECK(rate_cost_ms(&r, ((uint64_t)a << 32) | b) >= 1);
            CHECK(rate_cost_ms(&r, b) == ms);
            break;
        }
        default: break; /* time only */
        }
        CHECK((uint32_t)tat == t32 || (tat == 0 && t32 == RATE_UNSET));
    }
    return 0;
}
