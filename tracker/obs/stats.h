/* stats.h - counters per worker, merged on read; /stats.json.
 *
 * Owns:   struct stats (one per worker) and the /stats.json writer.
 * Thread: each worker writes only its own struct stats (single writer, relaxed
 *         atomics); any worker reads all of them to answer /stats.json.
 * Why:    no shared mutable counter on the hot path, and no lock to read them.
 *
 * STATS_TABLE lists every counter once: its enum name and its /stats.json
 * field (NULL for the gauges stats_write_json writes under bittorrent-tracker's
 * names itself).
 */
#ifndef WSTRACKER_STATS_H
#define STATS_TABLE(X)                                                                             \
    /* gauges, published by the owner */                                                           \
    X(CONNECTIONS, "connections") /* open WebSocket connections */                                 \
    X(SOCKETS, "sockets")         /* open sockets of every kind (HTTP, handshakes) */              \
    X(SWARMS, NULL)                                                                                \
    X(ACTIVE_SWARMS, NULL)                                                                         \
    X(PEERS, NULL)                                                                                 \
    X(SEEDERS, NULL)                                                                               \
    X(LEECHERS, NULL)                                                                              \
    X(PEERS_IPV6, NULL)                                                                            \
    X(PEERS_REFUSED, "peersRefused")       /* new peers refused at --max-peers */                  \
    X(SWARMS_REFUSED, "swarmsRefused")     /* new swarms refused at --max-swarms */                \
    X(SWARMS_RECLAIMED, "swarmsReclaimed") /* empty swarms freed early at --max-swarms */          \
    X(PEER_ID_IN_USE, "peerIdInUse")       /* announces for another connection's peer */           \
    /* totals */                                                                                   \
    X(ANNOUNCES, "announces")                                                                      \
    X(SCRAPES, "scrapes")                                                                          \
    X(OFFERS_FORWARDED, "offersForwarded")                                                         \
    X(OFFERS_DROPPED, "offersDropped")                                                             \
    X(OFFERS_INVALID, "offersInvalid")       /* offer entries skipped: "invalid offer skipped" */  \
    X(OFFERS_NOT_IN_ROOM, "offersNotInRoom") /* announces with a directed offer to a non-member */ \
    X(OFFERS_RATE_LIMITED, "offersRateLimited") /* offers not forwarded: --announce-rate */        \
    X(ANSWERS_FORWARDED, "answersForwarded")                                                       \
    X(ANSWERS_DROPPED, "answersDropped")                                                           \
    X(RELAYS, "relays")                /* relays accepted at their room's owner */                 \
    X(RELAY_FRAMES, "relayFrames")     /* frames those relays sent */                              \
    X(RELAYS_REFUSED, "relaysRefused") /* relays answered with a failure reason */                 \
    X(ERRORS, "errors")                                                                            \
    X(ANNOUNCES_REFUSED, "announcesRefused") /* by the swarm: in use, caps */                      \
    X(PEER_IDS_REFUSED, "peerIdsRefused")    /* over --max-peer-ids-per-swarm */                   \
    X(SCRAPES_REFUSED, "scrapesRefused")     /* "scrape in progress" */                            \
    X(RATE_LIMITED, "rateLimited")           /* messages refused over --msg-rate */                \
    X(RATE_CLOSED, "rateClosed")             /* connections closed 10 s over --msg-rate */         \
    X(HASH_REFUSED, "hashRefused")           /* "info hash not allowed" */                         \
    X(MAIL_DROPPED, "mailDropped")                                                                 \
    X(CONNECTIONS_REFUSED, "connectionsRefused") /* at --max-connections or fd limit */            \
    X(HTTP_REFUSED, "httpRefused")               /* bad method, upgrade or version */              \
    X(IP_REFUSED, "ipRefused")                   /* upgrades past --max-conns-per-ip (429) */      \
    X(ORIGIN_REFUSED, "originRefused")           /* upgrades from an origin not allowed (403) */   \
    X(TOKEN_REFUSED, "tokenRefused")             /* upgrades, GET /turn without a valid token */   \
    X(TOKEN_SCOPE_REFUSED, "tokenScopeRefused")  /* messages outside the token's scope */          \
    X(TOKEN_EXPIRED, "tokenExpired")   /* connections closed 4401 at their token's exp */          \
    X(SOCKETS_REAPED, "socketsReaped") /* closed by the handshake deadline */
#define WSTRACKER_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "clients.h"
#include "history.h"

enum stats_counter {
#define STATS_ENUM(name, json) STATS_##name,
    STATS_TABLE(STATS_ENUM)
#undef STATS_ENUM
        STATS_COUNT
};

#define STATS_REASONS_MAX 48 /* failure reasons counted one by one (proto's statuses) */

/* One per worker, embedded in it. */
struct stats {
    _Atomic uint64_t v[STATS_COUNT];             /* {atomic} written by the owner only */
    _Atomic uint64_t reasons[STATS_REASONS_MAX]; /* {atomic} failure replies, by reason */
    struct stats_clients clients;                /* {atomic} current peers by client */
    struct stats_top top;                        /* {atomic} largest swarms, at the tick */
};

/* Owner only: count one failure reply with reason number r (< STATS_REASONS_MAX). */
static inline void stats_reason(struct stats *s, unsigned r)
{
    if (r < STATS_REASONS_MAX) {
        uint64_t cur = atomic_load_explicit(&s->reasons[r], memory_order_relaxed);
        atomic_store_explicit(&s->reasons[r], cur + 1, memory_order_relaxed);
    }
}

/* Owner only: add d (may be negative) to a counter. */
static inline void stats_add(struct stats *s, enum stats_counter c, int64_t d)
{
    uint64_t cur = atomic_load_explicit(&s->v[c], memory_order_relaxed);
    atomic_store_explicit(&s->v[c], cur + (uint64_t)d, memory_order_relaxed);
}

/* Owner only: set a gauge. */
static inline void stats_set(struct stats *s, enum stats_counter c, uint64_t v)
{
    atomic_store_explicit(&s->v[c], v, memory_order_relaxed);
}

/* Sum of one counter over n workers' stats. */
uint64_t stats_sum(struct stats *const *all, unsigned n, enum stats_counter c);

/* Write /stats.json for n workers into buf; returns bytes or -1 if cap is
 * short. reason_names[r] (n_reasons of them, plain ASCII without quotes) name
 * the failure reasons, written as "failureReasons":{name: count}, those
 * counted at least once. The current peers by client are written as
 * bittorrent-tracker's "clients":{client:{version: count}} (clients.h). */
int stats_write_json(char *buf, size_t cap, struct stats *const *all, unsigned n, uint64_t uptime_s,
                     const char *const *reason_names, unsigned n_reasons);

/* bittorrent-tracker's /stats HTML lines for n workers (its server.js, one
 * per line: "<h1>N torrents (M active)</h1>", "<h2>Connected Peers: N</h2>",
 * "<h3>Peers Seeding Only: N</h3>", ... "<h3>Clients:</h3>", then
 * "<ul>" with "<li><strong>client</strong> version : N</li>" lines and
 * "</ul>"), client names and versions HTML-escaped. Returns bytes or -1 if cap
 * is short. */
int stats_write_summary_html(char *buf, size_t cap, struct stats *const *all, unsigned n);

#endif
