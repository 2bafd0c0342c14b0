/* stats.c - counters per worker, merged on read; see stats.h. */
#include <inttypes.h>
#include <stdio.h>

#include "stats.h"

uint64_t stats_sum(struct stats *const *all, unsigned n, enum stats_counter c)
{
    uint64_t sum = 0;
    for (unsigned k = 0; k < n; k++)
        sum += atomic_load_explicit(&all[k]->v[c], memory_order_relaxed);
    return sum;
}

int stats_write_json(char *buf, size_t cap, struct stats *const *all, unsigned n,
                     uint64_t uptime_s)
{
    uint64_t peers = stats_sum(all, n, STATS_PEERS);
    uint64_t v6 = stats_sum(all, n, STATS_PEERS_IPV6);
    int r = snprintf(buf, cap,
                     "{\"torrents\":%" PRIu64 ",\"activeTorrents\":%" PRIu64
                     ",\"peersAll\":%" PRIu64 ",\"peersSeederOnly\":%" PRIu64
                     ",\"peersLeecherOnly\":%" PRIu64 ",\"peersSeederAndLeecher\":0"
                     ",\"peersIPv4\":%" PRIu64 ",\"peersIPv6\":%" PRIu64
                     ",\"connections\":%" PRIu64 ",\"uptime\":%" PRIu64 ",\"workers\":%u"
                     ",\"announces\":%" PRIu64 ",\"scrapes\":%" PRIu64
                     ",\"offersForwarded\":%" PRIu64 ",\"offersDropped\":%" PRIu64
                     ",\"answersForwarded\":%" PRIu64 ",\"answersDropped\":%" PRIu64
                     ",\"errors\":%" PRIu64 ",\"mailDropped\":%" PRIu64
                     ",\"connectionsRefused\":%" PRIu64 "}",
                     stats_sum(all, n, STATS_SWARMS), stats_sum(all, n, STATS_ACTIVE_SWARMS),
                     peers, stats_sum(all, n, STATS_SEEDERS), stats_sum(all, n, STATS_LEECHERS),
                     peers - v6, v6, stats_sum(all, n, STATS_CONNECTIONS), uptime_s, n,
                     stats_sum(all, n, STATS_ANNOUNCES), stats_sum(all, n, STATS_SCRAPES),
                     stats_sum(all, n, STATS_OFFERS_FORWARDED),
                     stats_sum(all, n, STATS_OFFERS_DROPPED),
                     stats_sum(all, n, STATS_ANSWERS_FORWARDED),
                     stats_sum(all, n, STATS_ANSWERS_DROPPED), stats_sum(all, n, STATS_ERRORS),
                     stats_sum(all, n, STATS_MAIL_DROPPED),
                     stats_sum(all, n, STATS_CONNECTIONS_REFUSED));
    return (r < 0 || (size_t)r >= cap) ? -1 : r;
}
