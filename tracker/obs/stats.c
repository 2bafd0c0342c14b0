/* stats.c - counters per worker, merged on read; see stats.h. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "stats.h"

const uint64_t stats_hist_bounds[STATS_HIST_BUCKETS - 1] = {STATS_HIST_BOUNDS};

uint64_t stats_sum(struct stats *const *all, unsigned n, enum stats_counter c)
{
    uint64_t sum = 0;
    for (unsigned k = 0; k < n; k++)
        sum += atomic_load_explicit(&all[k]->v[c], memory_order_relaxed);
    return sum;
}

static const char *const json_names[STATS_COUNT] = {
#define STATS_NAME(name, json, metric, type, label, help) [STATS_##name] = json,
    STATS_TABLE(STATS_NAME)
#undef STATS_NAME
};

int stats_write_json(char *buf, size_t cap, struct stats *const *all, unsigned n, uint64_t uptime_s,
                     const char *const *reason_names, unsigned n_reasons)
{
    bool first = true;
    uint64_t peers = stats_sum(all, n, STATS_PEERS);
    uint64_t v6 = stats_sum(all, n, STATS_PEERS_IPV6);
    size_t len;
    int r = snprintf(buf, cap,
                     "{\"torrents\":%" PRIu64 ",\"activeTorrents\":%" PRIu64
                     ",\"peersAll\":%" PRIu64 ",\"peersSeederOnly\":%" PRIu64
                     ",\"peersLeecherOnly\":%" PRIu64 ",\"peersSeederAndLeecher\":0"
                     ",\"peersIPv4\":%" PRIu64 ",\"peersIPv6\":%" PRIu64 ",\"uptime\":%" PRIu64
                     ",\"workers\":%u",
                     stats_sum(all, n, STATS_SWARMS), stats_sum(all, n, STATS_ACTIVE_SWARMS), peers,
                     stats_sum(all, n, STATS_SEEDERS), stats_sum(all, n, STATS_LEECHERS),
                     peers - v6, v6, uptime_s, n);
    if (r < 0 || (size_t)r >= cap)
        return -1;
    len = (size_t)r;
    for (int c = 0; c < STATS_COUNT; c++) {
        if (!json_names[c])
            continue;
        r = snprintf(buf + len, cap - len, ",\"%s\":%" PRIu64, json_names[c],
                     stats_sum(all, n, (enum stats_counter)c));
        if (r < 0 || (size_t)r >= cap - len)
            return -1;
        len += (size_t)r;
    }
    r = snprintf(buf + len, cap - len, ",\"failureReasons\":{");
    if (r < 0 || (size_t)r >= cap - len)
        return -1;
    len += (size_t)r;
    for (unsigned k = 0; k < n_reasons && k < STATS_REASONS_MAX; k++) {
        uint64_t sum = 0;
        for (unsigned w = 0; w < n; w++)
            sum += atomic_load_explicit(&all[w]->reasons[k], memory_order_relaxed);
        if (!sum || !reason_names[k])
            continue;
        r = snprintf(buf + len, cap - len, "%s\"%s\":%" PRIu64, first ? "" : ",", reason_names[k],
                     sum);
        if (r < 0 || (size_t)r >= cap - len)
            return -1;
        len += (size_t)r;
        first = false;
    }
    if (len + 3 > cap)
        return -1;
    buf[len++] = '}';
    buf[len++] = '}';
    buf[len] = '\0';
    return (int)len;
}
