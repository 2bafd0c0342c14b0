/* stats.h - counters per worker, merged on read; /stats.json.
 *
 * Owns:   struct stats (one per worker), the /stats.json writer and the
 *         metric description of every counter (/metrics: obs/metrics.c).
 * Thread: each worker writes only its own struct stats (single writer, relaxed
 *         atomics); any worker reads all of them to answer /stats.json and
 *         /metrics.
 * Why:    no shared mutable counter on the hot path, and no lock to read them.
 *
 * STATS_TABLE lists every counter once: X(name, json, metric, type, label, help):
 * its enum name; its /stats.json field (NULL for the gauges stats_write_json
 * writes under bittorrent-tracker's names itself, and for those only /metrics
 * shows); its Prometheus family without the wstracker_ prefix and _total
 * suffix; its type: C a counter (summed over workers), G a gauge (summed), W a
 * gauge per worker (label worker="N"); the label pair its series carries in a
 * family shared by several counters (NULL: none); the family's HELP (the first
 * entry of a family names it; the others' text documents their series).
 */
#ifndef WSTRACKER_STATS_H
#define STATS_TABLE(X)                                                                             \
    /* gauges, published by the owner */                                                           \
    X(CONNECTIONS, "connections", "connections", W, NULL, "Open WebSocket connections")            \
    X(SOCKETS, "sockets", "sockets", W, NULL,                                                      \
      "Open sockets of every kind (HTTP, handshakes, WebSockets)")                                 \
    X(SWARMS, NULL, "swarms", G, NULL, "Swarms held, empty ones kept for scrapes included")        \
    X(ACTIVE_SWARMS, NULL, "active_swarms", G, NULL, "Swarms with at least one peer")              \
    X(PEERS, NULL, "peers", G, NULL, "Peers in all swarms")                                        \
    X(SEEDERS, NULL, "seeders", G, NULL, "Peers that announced left 0")                            \
    X(LEECHERS, NULL, "leechers", G, NULL, "Peers that have not completed")                        \
    X(PEERS_IPV6, NULL, "peers_ipv6", G, NULL, "Peers connected over IPv6")                        \
    X(PEERS_REFUSED, "peersRefused", "peers_refused", C, NULL, "New peers refused at --max-peers") \
    X(SWARMS_REFUSED, "swarmsRefused", "swarms_refused", C, NULL,                                  \
      "New swarms refused at --max-swarms")                                                        \
    X(SWARMS_RECLAIMED, "swarmsReclaimed", "swarms_reclaimed", C, NULL,                            \
      "Empty swarms freed early at --max-swarms")                                                  \
    X(PEER_ID_IN_USE, "peerIdInUse", "peer_id_in_use", C, NULL,                                    \
      "Announces for a peer_id another connection holds")                                          \
    /* totals */                                                                                   \
    X(ANNOUNCES, "announces", "announces", C, NULL, "Announces accepted by the receiving worker")  \
    X(SCRAPES, "scrapes", "scrapes", C, NULL, "Scrapes accepted")                                  \
    X(OFFERS_FORWARDED, "offersForwarded", "responses", C, "type=\"offer\"",                       \
      "Frames the tracker made for clients, by type: announce and scrape replies, "                \
      "forwarded offers and answers, relay frames, failure replies (error)")                       \
    X(OFFERS_DROPPED, "offersDropped", "forwards_dropped", C, "type=\"offer\"",                    \
      "Forwards dropped: offers and relay frames at the recipient's full output queue "            \
      "(type offer), answers whose recipient is gone (type answer)")                               \
    X(OFFERS_INVALID, "offersInvalid", "offers_invalid", C, NULL,                                  \
      "Offer entries skipped (invalid offer skipped)")                                             \
    X(OFFERS_NOT_IN_ROOM, "offersNotInRoom", "offers_not_in_room", C, NULL,                        \
      "Announces with a directed offer to a non-member")                                           \
    X(OFFERS_RATE_LIMITED, "offersRateLimited", "offers_rate_limited", C, NULL,                    \
      "Offers not forwarded over --announce-rate")                                                 \
    X(ANSWERS_FORWARDED, "answersForwarded", "responses", C, "type=\"answer\"",                    \
      "Answers forwarded")                                                                         \
    X(ANSWERS_DROPPED, "answersDropped", "forwards_dropped", C, "type=\"answer\"",                 \
      "Answers whose recipient is gone")                                                           \
    X(RELAYS, "relays", "relays", C, NULL, "Relays accepted at their room's owner")                \
    X(RELAY_FRAMES, "relayFrames", "responses", C, "type=\"relay\"", "Frames relays sent")         \
    X(RELAYS_REFUSED, "relaysRefused", "relays_refused", C, NULL,                                  \
      "Relays answered with a failure reason")                                                     \
    X(ERRORS, "errors", "responses", C, "type=\"error\"", "Failure replies")                       \
    X(ANNOUNCES_REFUSED, "announcesRefused", "announces_refused", C, NULL,                         \
      "Announces refused by the swarm (peer_id in use, caps)")                                     \
    X(PEER_IDS_REFUSED, "peerIdsRefused", "peer_ids_refused", C, NULL,                             \
      "Announces over --max-peer-ids-per-swarm")                                                   \
    X(SCRAPES_REFUSED, "scrapesRefused", "scrapes_refused", C, NULL,                               \
      "Scrapes refused: scrape in progress")                                                       \
    X(RATE_LIMITED, "rateLimited", "messages_rate_limited", C, NULL,                               \
      "Messages refused over --msg-rate")                                                          \
    X(RATE_CLOSED, "rateClosed", "connections_rate_closed", C, NULL,                               \
      "Connections closed 10 s over --msg-rate")                                                   \
    X(HASH_REFUSED, "hashRefused", "hash_refused", C, NULL,                                        \
      "Requests for an info hash not allowed")                                                     \
    X(MAIL_DROPPED, "mailDropped", "mail_dropped", C, NULL,                                        \
      "Mails between workers dropped (backlog full, out of memory)")                               \
    X(CONNECTIONS_REFUSED, "connectionsRefused", "connections_refused", C, NULL,                   \
      "Sockets refused at --max-connections or the fd limit")                                      \
    X(HTTP_REFUSED, "httpRefused", "http_refused", C, NULL,                                        \
      "HTTP requests refused: bad method, upgrade or version")                                     \
    X(IP_REFUSED, "ipRefused", "ip_refused", C, NULL, "Upgrades past --max-conns-per-ip (429)")    \
    X(ORIGIN_REFUSED, "originRefused", "origin_refused", C, NULL,                                  \
      "Upgrades from an origin not allowed (403)")                                                 \
    X(TOKEN_REFUSED, "tokenRefused", "token_refused", C, NULL,                                     \
      "Upgrades and GET /turn without a valid token")                                              \
    X(TOKEN_SCOPE_REFUSED, "tokenScopeRefused", "token_scope_refused", C, NULL,                    \
      "Messages outside their token's scope")                                                      \
    X(TOKEN_EXPIRED, "tokenExpired", "token_expired", C, NULL,                                     \
      "Connections closed 4401 at their token's exp")                                              \
    X(SOCKETS_REAPED, "socketsReaped", "sockets_reaped", C, NULL,                                  \
      "Sockets closed by the handshake deadline")                                                  \
    /* /metrics (issue 13): requests, responses, connections by IP version, queues */              \
    X(CONNECTIONS_IPV4, NULL, "connections_by_ip", G, "ip=\"4\"",                                  \
      "Open WebSocket connections by IP version")                                                  \
    X(CONNECTIONS_IPV6, NULL, "connections_by_ip", G, "ip=\"6\"", "Over IPv6")                     \
    X(REQ_ANNOUNCE, NULL, "requests", C, "type=\"announce\"",                                      \
      "Messages received, by type: announce (no offers, no answer), offer (an announce with "      \
      "offers), answer, scrape, relay, invalid (did not scan)")                                    \
    X(REQ_OFFER, NULL, "requests", C, "type=\"offer\"", "Announces with offers")                   \
    X(REQ_ANSWER, NULL, "requests", C, "type=\"answer\"", "Announces with an answer")              \
    X(REQ_SCRAPE, NULL, "requests", C, "type=\"scrape\"", "Scrapes")                               \
    X(REQ_RELAY, NULL, "requests", C, "type=\"relay\"", "Relays")                                  \
    X(REQ_INVALID, NULL, "requests", C, "type=\"invalid\"", "Messages that did not scan")          \
    X(RESP_ANNOUNCE, NULL, "responses", C, "type=\"announce\"", "Announce replies")                \
    X(RESP_SCRAPE, NULL, "responses", C, "type=\"scrape\"", "Scrape replies")                      \
    X(MAILBOX_DEPTH, NULL, "mailbox_depth", W, NULL,                                               \
      "Mails waiting in the worker's mailbox, sampled every tick")                                 \
    X(MAIL_BACKLOG, NULL, "mail_backlog", W, NULL,                                                 \
      "Mails the worker parked for other workers' full rings, sampled every tick")                 \
    X(OUTQ_BYTES, NULL, "output_queue_bytes", W, NULL,                                             \
      "Bytes queued for the worker's connections (not yet handed to the socket)")
#define WSTRACKER_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "clients.h"
#include "history.h"

enum stats_counter {
#define STATS_ENUM(name, json, metric, type, label, help) STATS_##name,
    STATS_TABLE(STATS_ENUM)
#undef STATS_ENUM
        STATS_COUNT
};

#define STATS_REASONS_MAX 48 /* failure reasons counted one by one (proto's statuses) */

/* What a received message is (requests by type, the latency histograms'
 * action); STATS_REQ_ANNOUNCE + kind is its request counter. */
enum stats_kind {
    STATS_KIND_ANNOUNCE, /* an announce without offers or answer */
    STATS_KIND_OFFER,    /* an announce with offers */
    STATS_KIND_ANSWER,   /* an announce with an answer */
    STATS_KIND_SCRAPE,
    STATS_KIND_RELAY,
    STATS_KIND_INVALID, /* did not scan */
    STATS_KINDS
};
_Static_assert(STATS_REQ_INVALID - STATS_REQ_ANNOUNCE == STATS_KIND_INVALID,
               "the request counters follow enum stats_kind");

/* Latency histogram bucket bounds in ns (the last bucket, +Inf, has none). */
#define STATS_HIST_BOUNDS                                                                          \
    10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 25000000,    \
        100000000
#define STATS_HIST_BUCKETS 13 /* the bounds above, then +Inf */

/* One per worker, embedded in it. */
struct stats {
    _Atomic uint64_t v[STATS_COUNT];             /* {atomic} written by the owner only */
    _Atomic uint64_t reasons[STATS_REASONS_MAX]; /* {atomic} failure replies, by reason */
    /* {atomic} message handling time by kind: counts per bucket (not
     * cumulative: the writer adds them up) and the sum in ns. */
    _Atomic uint64_t hist[STATS_KINDS][STATS_HIST_BUCKETS];
    _Atomic uint64_t hist_sum_ns[STATS_KINDS];
    struct stats_clients clients; /* {atomic} current peers by client */
    struct stats_top top;         /* {atomic} largest swarms, at the tick */
};

extern const uint64_t stats_hist_bounds[STATS_HIST_BUCKETS - 1];

/* Owner only: one message of kind k took ns nanoseconds. */
static inline void stats_observe(struct stats *s, enum stats_kind k, uint64_t ns)
{
    unsigned b = 0;
    uint64_t cur;
    while (b < STATS_HIST_BUCKETS - 1 && ns > stats_hist_bounds[b])
        b++;
    cur = atomic_load_explicit(&s->hist[k][b], memory_order_relaxed);
    atomic_store_explicit(&s->hist[k][b], cur + 1, memory_order_relaxed);
    cur = atomic_load_explicit(&s->hist_sum_ns[k], memory_order_relaxed);
    atomic_store_explicit(&s->hist_sum_ns[k], cur + ns, memory_order_relaxed);
}

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
