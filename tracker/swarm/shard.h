/* shard.h - swarms and peers owned by one worker.
 *
 * Owns:   struct shard and everything reachable from it: swarms keyed by info
 *         hash, each holding its peers in recency order ("last N peers").
 * Thread: the owning worker only; other workers reach it through mailbox.c.
 * Why:    no lock on the hot path (docs/ARCHITECTURE.md, "Threads and
 *         ownership"). The shard never touches sockets: it takes the clock and the
 *         rng as arguments and reports who must receive what in a struct
 *         shard_result, so unit tests drive it directly (like aquatic's
 *         handle_announce_request).
 *
 * Every operation is O(1) in the swarm's size, offer fan-out O(k).
 */
#ifndef WSTRACKER_SHARD_H
#define WSTRACKER_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

#include "clients.h"
#include "scan.h"
#include "write.h"
#include "list.h"
#include "route.h"

struct shard_swarm;

/* One per (info_hash, peer_id); allocated and freed by the shard. */
struct shard_peer {
    uint8_t peer_id[PROTO_ID_LEN];
    UT_hash_handle hh;         /* in swarm->peers */
    struct shard_swarm *swarm; /* owning swarm */
    uint64_t conn;             /* route_conn_make() of the connection it announced on */
    int64_t last_ms;           /* ms, monotonic: last announce */
    uint32_t idx;              /* position in swarm->arr */
    bool seeder;
    bool ipv6;
    bool completed;           /* has counted its one "downloaded" */
    uint8_t client_slot;      /* its slot in shard->clients (stats_client_add) */
    struct list_node sw_link; /* in swarm->by_age */
    struct list_node sh_link; /* in shard->by_age */
};

/* One per info hash with peers, or emptied less than peer_timeout ago. */
struct shard_swarm {
    uint8_t info_hash[PROTO_ID_LEN];
    UT_hash_handle hh;        /* in shard->swarms */
    struct shard_peer *peers; /* uthash by peer_id */
    struct shard_peer **arr;  /* dense array of the peers, for O(1) random choice */
    uint32_t n;               /* peers, <= max_peers_per_swarm */
    uint32_t cap;             /* arr slots allocated */
    struct list_node by_age;  /* its peers by last announce, oldest first */
    uint32_t complete, incomplete, downloaded;
    int64_t emptied_ms;          /* ms, monotonic; valid while n == 0 */
    struct list_node empty_link; /* in shard->empty while n == 0 */
};

struct shard_limits {
    uint32_t max_peers_per_swarm;
    uint32_t max_offers; /* <= PROTO_OFFERS_MAX */
    int64_t peer_timeout_ms;
    uint64_t max_peers;  /* peers this shard may hold (its share of --max-peers) */
    uint64_t max_swarms; /* swarms this shard may hold, empty ones included */
};

#define SHARD_TOP 10 /* largest swarms tracked per shard (shard_top) */

/* Counters published to stats by the owner. */
struct shard_counts {
    uint64_t swarms, active_swarms;
    uint64_t peers, seeders, leechers, ipv6;
    uint64_t evicted, expired;
    uint64_t reclaimed;      /* empty swarms freed early to make room at max_swarms */
    uint64_t peers_refused;  /* new peers refused at max_peers */
    uint64_t swarms_refused; /* new swarms refused at max_swarms */
    uint64_t in_use;         /* announces refused: peer_id bound to another connection */
};

/* One per worker, embedded in it. */
struct shard {
    const uint8_t *key; /* route key, for table hashing */
    struct shard_limits lim;
    struct shard_swarm *swarms;
    struct list_node by_age; /* every peer (sh_link), by last announce, oldest first */
    struct list_node empty;  /* empty swarms (empty_link), by emptied_ms, oldest first */
    struct shard_counts counts;
    /* current peers by peer_id prefix (/stats.json "clients"), or NULL; set
     * after shard_create by its owner, updated as peers come and go */
    struct stats_clients *clients;
    /* candidates for the largest swarms (the /stats page's top rooms): a
     * swarm is checked against them each time one of its peers announces,
     * O(SHARD_TOP), so a swarm is considered within one announce interval;
     * a freed swarm leaves. Unordered; shard_top sorts a copy. */
    struct shard_swarm *top[SHARD_TOP];
    uint32_t n_top;
};

enum shard_delivery_kind { SHARD_OFFER, SHARD_ANSWER };

/* Who must receive what after one announce. */
struct shard_result {
    enum proto_status refused;     /* PROTO_OK, or the failure reason sent instead */
    bool respond;                  /* send the announce response to the sender */
    uint32_t complete, incomplete; /* swarm counts after the announce, sender counted */
    bool answer_dropped;           /* answer target not in the swarm */
    bool not_in_room;              /* a directed offer's target is not a live member */
    uint32_t n_listed;             /* entries of listed (announce with "peers": K) */
    struct proto_listed listed[PROTO_PEERS_MAX]; /* freshest first, sender left out */
    uint32_t n;                                  /* deliveries */
    struct {
        uint64_t conn; /* target connection */
        uint8_t kind;  /* enum shard_delivery_kind */
        uint8_t offer; /* index into the announce's offers (SHARD_OFFER) */
    } d[PROTO_OFFERS_MAX + 1];
};

void shard_create(struct shard *s, const uint8_t *key, const struct shard_limits *lim);
void shard_destroy(struct shard *s);

/* Apply one announce from connection conn. rng is the worker's generator state.
 * Offers: the first max_offers entries are used; a directed one (to_peer_id)
 * goes to that live member (else out->not_in_room), the undirected ones to
 * distinct random members other than the sender. With a->want_peers = K and
 * the sender added or refreshed, out->listed holds the K most recently
 * announced other members, freshest first: O(K).
 * An announce is refused (out->refused, nothing changed, nothing delivered) when
 * its peer_id is bound to another connection (a peer stays with the connection
 * that announced it until that connection's close removes it), or when a new
 * peer or swarm would pass max_peers / max_swarms; at max_swarms the oldest
 * empty swarm is freed first if there is one. */
void shard_announce(struct shard *s, const struct proto_announce *a, uint64_t conn, bool ipv6,
                    int64_t now_ms, uint64_t *rng, struct shard_result *out);

/* Remove (info_hash, peer_id) if it is still bound to conn (a closed
 * connection); a peer that moved to another connection stays. */
void shard_remove(struct shard *s, const uint8_t info_hash[PROTO_ID_LEN],
                  const uint8_t peer_id[PROTO_ID_LEN], uint64_t conn, int64_t now_ms);

/* Relays (PROTOCOL.md 10.4): the swarm in which (info_hash, peer_id) is a
 * live member bound to conn, its expired peers dropped first, and that member
 * in *self; NULL when there is none (evicted, expired, never announced, or
 * announced on another connection). O(1) plus the expiry it does. */
struct shard_swarm *shard_member(struct shard *s, const uint8_t info_hash[PROTO_ID_LEN],
                                 const uint8_t peer_id[PROTO_ID_LEN], uint64_t conn, int64_t now_ms,
                                 struct shard_peer **self);

/* A live member of sw by peer_id (after shard_member), or NULL. */
struct shard_peer *shard_peer_of(struct shard *s, struct shard_swarm *sw,
                                 const uint8_t peer_id[PROTO_ID_LEN]);

/* Scrape counts; zeros for an unknown swarm. */
void shard_scrape(struct shard *s, const uint8_t info_hash[PROTO_ID_LEN], int64_t now_ms,
                  uint32_t *complete, uint32_t *incomplete, uint32_t *downloaded);

/* Remove at most budget expired peers and empty swarms; returns how many. */
size_t shard_expire_step(struct shard *s, int64_t now_ms, size_t budget);

/* Up to SHARD_TOP of the largest non-empty swarms (among the candidates
 * shard->top), largest first: their info hashes' first 4 bytes and peers.
 * Returns how many. O(SHARD_TOP^2). */
uint32_t shard_top(const struct shard *s, uint8_t hash4[][4], uint32_t *peers);

/* For tests and fuzz targets: NULL when every count, hash table, dense array
 * and recency list of s agrees (and the caps hold), else the first broken
 * invariant. O(peers + swarms). */
const char *shard_check(const struct shard *s);

/* A small fast generator (splitmix64) for target choice. */
uint64_t shard_rand(uint64_t *state);

#endif
