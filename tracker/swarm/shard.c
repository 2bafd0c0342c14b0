/* shard.c - swarms and peers owned by one worker; see shard.h.
 *
 * Owns:   every struct shard_swarm and struct shard_peer of one worker.
 * Thread: the owning worker only.
 * Why:    each peer sits on two recency lists (its swarm's and the shard's), so
 *         the per-swarm cap evicts the least recently announced peer in O(1), a
 *         swarm drops its expired peers before choosing offer targets, and the
 *         incremental sweep always finds the globally oldest peer at the head.
 */
#include <stdlib.h>
#include <string.h>

#include "shard.h"

/* A new uthash table (a swarm's peers, the shard's swarms) starts with 8
 * buckets, 128 bytes, instead of uthash 2.3.0's 32 (512 bytes, its own
 * allocation per swarm): most swarms hold a few peers (issue 14, target 5:
 * memory per idle connection). uthash doubles a table when a chain reaches 10
 * items either way. uthash.h defines these unconditionally; they expand where
 * HASH_ADD is used, so this affects the tables of this file only. */
#undef HASH_INITIAL_NUM_BUCKETS
#undef HASH_INITIAL_NUM_BUCKETS_LOG2
#define HASH_INITIAL_NUM_BUCKETS      8U
#define HASH_INITIAL_NUM_BUCKETS_LOG2 3U

#define SWARM_ARR_MIN 4 /* first allocation of a swarm's peer array */

uint64_t shard_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static unsigned table_hash(const struct shard *s, const uint8_t id[PROTO_ID_LEN])
{
    return (unsigned)route_hash(s->key, id, PROTO_ID_LEN);
}

void shard_create(struct shard *s, const uint8_t *key, const struct shard_limits *lim)
{
    memset(s, 0, sizeof *s);
    s->key = key;
    s->lim = *lim;
    list_init(&s->by_age);
    list_init(&s->empty);
}

static struct shard_swarm *find_swarm(struct shard *s, const uint8_t ih[PROTO_ID_LEN])
{
    struct shard_swarm *sw = NULL;
    HASH_FIND_BYHASHVALUE(hh, s->swarms, ih, PROTO_ID_LEN, table_hash(s, ih), sw);
    return sw;
}

static struct shard_peer *find_peer(struct shard *s, struct shard_swarm *sw,
                                    const uint8_t pid[PROTO_ID_LEN])
{
    struct shard_peer *p = NULL;
    HASH_FIND_BYHASHVALUE(hh, sw->peers, pid, PROTO_ID_LEN, table_hash(s, pid), p);
    return p;
}

/* ---- the two peer recency lists and the empty-swarm list (list.h) ---- */

static struct shard_peer *swarm_oldest(const struct shard_swarm *sw)
{
    return list_empty(&sw->by_age) ? NULL : LIST_ENTRY(sw->by_age.next, struct shard_peer, sw_link);
}

static struct shard_peer *shard_oldest(const struct shard *s)
{
    return list_empty(&s->by_age) ? NULL : LIST_ENTRY(s->by_age.next, struct shard_peer, sh_link);
}

static struct shard_swarm *oldest_empty(const struct shard *s)
{
    return list_empty(&s->empty) ? NULL : LIST_ENTRY(s->empty.next, struct shard_swarm, empty_link);
}

/* The peer announced now: to the fresh end of both lists. */
static void touch_peer(struct shard *s, struct shard_swarm *sw, struct shard_peer *p)
{
    list_del(&p->sw_link);
    list_append(&sw->by_age, &p->sw_link);
    list_del(&p->sh_link);
    list_append(&s->by_age, &p->sh_link);
}

/* ---- swarms ---- */

static struct shard_swarm *create_swarm(struct shard *s, const uint8_t ih[PROTO_ID_LEN],
                                        int64_t now_ms)
{
    struct shard_swarm *sw = calloc(1, sizeof *sw);
    if (!sw)
        return NULL;
    memcpy(sw->info_hash, ih, PROTO_ID_LEN);
    list_init(&sw->by_age);
    HASH_ADD_BYHASHVALUE(hh, s->swarms, info_hash, PROTO_ID_LEN, table_hash(s, ih), sw);
    s->counts.swarms++;
    sw->emptied_ms = now_ms;
    list_append(&s->empty, &sw->empty_link); /* empty until its first peer arrives */
    return sw;
}

/* sw had a peer announce: it becomes a top candidate if there is room, or in
 * place of the smallest candidate when it is larger. O(SHARD_TOP). */
static void top_note(struct shard *s, struct shard_swarm *sw)
{
    uint32_t min = 0;
    for (uint32_t k = 0; k < s->n_top; k++) {
        if (s->top[k] == sw)
            return;
        if (s->top[k]->n < s->top[min]->n)
            min = k;
    }
    if (s->n_top < SHARD_TOP)
        s->top[s->n_top++] = sw;
    else if (sw->n > s->top[min]->n)
        s->top[min] = sw;
}

static void top_forget(struct shard *s, struct shard_swarm *sw)
{
    for (uint32_t k = 0; k < s->n_top; k++) {
        if (s->top[k] == sw) {
            s->top[k] = s->top[--s->n_top];
            return;
        }
    }
}

uint32_t shard_top(const struct shard *s, uint8_t hash4[][4], uint32_t *peers)
{
    const struct shard_swarm *v[SHARD_TOP];
    uint32_t n = 0;
    for (uint32_t k = 0; k < s->n_top; k++) {
        const struct shard_swarm *sw = s->top[k];
        uint32_t at = n++;
        if (!sw->n) {
            n--;
            continue;
        }
        while (at > 0 && v[at - 1]->n < sw->n) { /* insertion, largest first */
            v[at] = v[at - 1];
            at--;
        }
        v[at] = sw;
    }
    for (uint32_t k = 0; k < n; k++) {
        memcpy(hash4[k], v[k]->info_hash, 4);
        peers[k] = v[k]->n;
    }
    return n;
}

static void free_swarm(struct shard *s, struct shard_swarm *sw)
{
    /* Only empty swarms are freed. */
    top_forget(s, sw);
    list_del(&sw->empty_link);
    HASH_DELETE(hh, s->swarms, sw);
    s->counts.swarms--;
    free(sw->arr);
    free(sw);
}

static int swarm_reserve(struct shard_swarm *sw)
{
    if (sw->n < sw->cap)
        return 0;
    uint32_t cap = sw->cap ? sw->cap * 2 : SWARM_ARR_MIN;
    struct shard_peer **arr = realloc(sw->arr, cap * sizeof *arr);
    if (!arr)
        return -1;
    sw->arr = arr;
    sw->cap = cap;
    return 0;
}

static void swarm_maybe_shrink(struct shard_swarm *sw)
{
    if (sw->cap > 4 * SWARM_ARR_MIN && sw->n < sw->cap / 4) {
        struct shard_peer **arr = realloc(sw->arr, (sw->cap / 2) * sizeof *arr);
        if (arr) {
            sw->arr = arr;
            sw->cap /= 2;
        }
    }
}

/* ---- peers ---- */

static void count_peer(struct shard *s, struct shard_swarm *sw, const struct shard_peer *p, int d)
{
    if (p->seeder) {
        sw->complete = (uint32_t)((int64_t)sw->complete + d);
        s->counts.seeders = (uint64_t)((int64_t)s->counts.seeders + d);
    } else {
        sw->incomplete = (uint32_t)((int64_t)sw->incomplete + d);
        s->counts.leechers = (uint64_t)((int64_t)s->counts.leechers + d);
    }
    if (p->ipv6)
        s->counts.ipv6 = (uint64_t)((int64_t)s->counts.ipv6 + d);
}

static void remove_peer(struct shard *s, struct shard_peer *p, int64_t now_ms)
{
    struct shard_swarm *sw = p->swarm;
    HASH_DELETE(hh, sw->peers, p);
    uint32_t last = sw->n - 1;
    if (p->idx != last) {
        sw->arr[p->idx] = sw->arr[last];
        sw->arr[p->idx]->idx = p->idx;
    }
    sw->n--;
    list_del(&p->sw_link);
    list_del(&p->sh_link);
    count_peer(s, sw, p, -1);
    s->counts.peers--;
    if (s->clients)
        stats_client_drop(s->clients, p->client_slot);
    free(p);
    if (sw->n == 0) {
        s->counts.active_swarms--;
        sw->emptied_ms = now_ms;
        list_append(&s->empty, &sw->empty_link);
    }
    swarm_maybe_shrink(sw);
}

static struct shard_peer *add_peer(struct shard *s, struct shard_swarm *sw,
                                   const uint8_t pid[PROTO_ID_LEN], uint64_t conn, bool ipv6)
{
    struct shard_peer *p;
    if (swarm_reserve(sw) != 0 || !(p = calloc(1, sizeof *p)))
        return NULL;
    memcpy(p->peer_id, pid, PROTO_ID_LEN);
    p->swarm = sw;
    p->conn = conn;
    p->ipv6 = ipv6;
    HASH_ADD_BYHASHVALUE(hh, sw->peers, peer_id, PROTO_ID_LEN, table_hash(s, pid), p);
    p->idx = sw->n;
    sw->arr[sw->n++] = p;
    if (sw->n == 1) {
        list_del(&sw->empty_link);
        s->counts.active_swarms++;
    }
    list_append(&sw->by_age, &p->sw_link);
    list_append(&s->by_age, &p->sh_link);
    count_peer(s, sw, p, +1);
    s->counts.peers++;
    if (s->clients)
        p->client_slot = stats_client_add(s->clients, pid);
    return p;
}

static bool expired(const struct shard *s, const struct shard_peer *p, int64_t now_ms)
{
    return now_ms - p->last_ms >= s->lim.peer_timeout_ms;
}

/* Drop the swarm's expired peers; the swarm itself stays (maybe empty). */
static void expire_swarm(struct shard *s, struct shard_swarm *sw, int64_t now_ms)
{
    struct shard_peer *p;
    while ((p = swarm_oldest(sw)) && expired(s, p, now_ms)) {
        remove_peer(s, p, now_ms);
        s->counts.expired++;
    }
}

/* Pick k distinct peers other than self (which may be NULL) uniformly at random:
 * Robert Floyd's sampling over the n-1 candidates, O(k^2) with k <= 32. */
static uint32_t pick_targets(struct shard_swarm *sw, const struct shard_peer *self, uint32_t k,
                             uint64_t *rng, uint32_t *out)
{
    uint32_t m = sw->n - (self ? 1u : 0u);
    uint32_t got = 0;
    if (k > m)
        k = m;
    for (uint32_t j = m - k; j < m; j++) {
        uint32_t t = (uint32_t)(shard_rand(rng) % ((uint64_t)j + 1));
        for (uint32_t q = 0; q < got; q++) {
            if (out[q] == t) {
                t = j;
                break;
            }
        }
        out[got++] = t;
    }
    if (self)
        for (uint32_t q = 0; q < got; q++)
            if (out[q] >= self->idx)
                out[q]++;
    return got;
}

void shard_announce(struct shard *s, const struct proto_announce *a, uint64_t conn, bool ipv6,
                    int64_t now_ms, uint64_t *rng, struct shard_result *out)
{
    struct shard_swarm *sw = find_swarm(s, a->info_hash);
    struct shard_peer *p = NULL;

    out->refused = PROTO_OK;
    out->respond = !a->has_answer;
    out->answer_dropped = false;
    out->not_in_room = false;
    out->n_listed = 0;
    out->n = 0;
    out->complete = out->incomplete = 0;

    if (a->event == PROTO_EVENT_STOPPED) {
        if (sw) {
            expire_swarm(s, sw, now_ms);
            p = find_peer(s, sw, a->peer_id);
            if (p && p->conn == conn)
                remove_peer(s, p, now_ms);
            out->complete = sw->complete;
            out->incomplete = sw->incomplete;
        }
        return;
    }

    if (sw) {
        expire_swarm(s, sw, now_ms);
        p = find_peer(s, sw, a->peer_id);
    }
    if (p && p->conn != conn) {
        /* Not a takeover: the peer's own connection is still open (its close
         * would have removed the peer). */
        s->counts.in_use++;
        out->refused = PROTO_ERR_PEER_ID_IN_USE;
        return;
    }
    if (!p && s->counts.peers >= s->lim.max_peers && !(sw && sw->n >= s->lim.max_peers_per_swarm)) {
        s->counts.peers_refused++;
        out->refused = PROTO_ERR_TRACKER_FULL_PEERS;
        return;
    }
    if (!sw) {
        if (s->counts.swarms >= s->lim.max_swarms) {
            if (!oldest_empty(s)) {
                s->counts.swarms_refused++;
                out->refused = PROTO_ERR_TRACKER_FULL_SWARMS;
                return;
            }
            free_swarm(s, oldest_empty(s)); /* it only waited to be freed */
            s->counts.reclaimed++;
        }
        if (!(sw = create_swarm(s, a->info_hash, now_ms)))
            return;
    }
    if (p) {
        touch_peer(s, sw, p);
        if (p->ipv6 != ipv6) {
            count_peer(s, sw, p, -1);
            p->ipv6 = ipv6;
            count_peer(s, sw, p, +1);
        }
    } else {
        if (sw->n >= s->lim.max_peers_per_swarm && swarm_oldest(sw)) {
            remove_peer(s, swarm_oldest(sw), now_ms);
            s->counts.evicted++;
        }
        p = add_peer(s, sw, a->peer_id, conn, ipv6);
    }
    if (p) {
        bool seeder = p->seeder;
        p->last_ms = now_ms;
        if (a->left == PROTO_LEFT_ZERO || a->event == PROTO_EVENT_COMPLETED)
            seeder = true;
        else if (a->left == PROTO_LEFT_NONZERO)
            seeder = false;
        if (seeder != p->seeder) {
            count_peer(s, sw, p, -1);
            p->seeder = seeder;
            count_peer(s, sw, p, +1);
        }
        if (a->event == PROTO_EVENT_COMPLETED && !p->completed) {
            p->completed = true;
            sw->downloaded++;
        }
        top_note(s, sw);
    }
    out->complete = sw->complete;
    out->incomplete = sw->incomplete;

    if (a->n_offers > 0 && p) {
        uint32_t idx[PROTO_OFFERS_MAX], undirected[PROTO_OFFERS_MAX], n_und = 0, got;
        uint32_t k = a->n_offers < s->lim.max_offers ? a->n_offers : s->lim.max_offers;
        for (uint32_t q = 0; q < k; q++) {
            struct shard_peer *t;
            if (!a->offers[q].directed) {
                undirected[n_und++] = q;
                continue;
            }
            t = find_peer(s, sw, a->offers[q].to_peer_id);
            if (!t || t == p) {
                out->not_in_room = true;
                continue;
            }
            out->d[out->n].conn = t->conn;
            out->d[out->n].kind = SHARD_OFFER;
            out->d[out->n].offer = (uint8_t)q;
            out->n++;
        }
        got = n_und ? pick_targets(sw, p, n_und, rng, idx) : 0;
        for (uint32_t q = 0; q < got; q++) {
            out->d[out->n].conn = sw->arr[idx[q]]->conn;
            out->d[out->n].kind = SHARD_OFFER;
            out->d[out->n].offer = (uint8_t)undirected[q];
            out->n++;
        }
    }
    if (a->want_peers && p) {
        /* The swarm's recency list is oldest first: walk from its fresh end. */
        for (struct list_node *n = sw->by_age.prev;
             n != &sw->by_age && out->n_listed < a->want_peers; n = n->prev) {
            const struct shard_peer *q = LIST_ENTRY(n, struct shard_peer, sw_link);
            struct proto_listed *e;
            if (q == p)
                continue;
            e = &out->listed[out->n_listed++];
            memcpy(e->peer_id, q->peer_id, PROTO_ID_LEN);
            e->age_s = (uint32_t)((now_ms - q->last_ms) / 1000);
        }
    }
    if (a->has_answer) {
        struct shard_peer *t = find_peer(s, sw, a->to_peer_id);
        if (t && t != p) {
            out->d[out->n].conn = t->conn;
            out->d[out->n].kind = SHARD_ANSWER;
            out->d[out->n].offer = 0;
            out->n++;
        } else {
            out->answer_dropped = true;
        }
    }
}

void shard_remove(struct shard *s, const uint8_t info_hash[PROTO_ID_LEN],
                  const uint8_t peer_id[PROTO_ID_LEN], uint64_t conn, int64_t now_ms)
{
    struct shard_swarm *sw = find_swarm(s, info_hash);
    struct shard_peer *p;
    if (!sw)
        return;
    p = find_peer(s, sw, peer_id);
    if (p && p->conn == conn)
        remove_peer(s, p, now_ms);
}

struct shard_swarm *shard_member(struct shard *s, const uint8_t info_hash[PROTO_ID_LEN],
                                 const uint8_t peer_id[PROTO_ID_LEN], uint64_t conn, int64_t now_ms,
                                 struct shard_peer **self)
{
    struct shard_swarm *sw = find_swarm(s, info_hash);
    struct shard_peer *p;
    *self = NULL;
    if (!sw)
        return NULL;
    expire_swarm(s, sw, now_ms);
    p = find_peer(s, sw, peer_id);
    if (!p || p->conn != conn)
        return NULL;
    *self = p;
    return sw;
}

struct shard_peer *shard_peer_of(struct shard *s, struct shard_swarm *sw,
                                 const uint8_t peer_id[PROTO_ID_LEN])
{
    return find_peer(s, sw, peer_id);
}

void shard_scrape(struct shard *s, const uint8_t info_hash[PROTO_ID_LEN], int64_t now_ms,
                  uint32_t *complete, uint32_t *incomplete, uint32_t *downloaded)
{
    struct shard_swarm *sw = find_swarm(s, info_hash);
    *complete = *incomplete = *downloaded = 0;
    if (!sw)
        return;
    expire_swarm(s, sw, now_ms);
    *complete = sw->complete;
    *incomplete = sw->incomplete;
    *downloaded = sw->downloaded;
}

size_t shard_expire_step(struct shard *s, int64_t now_ms, size_t budget)
{
    size_t done = 0;
    struct shard_peer *p;
    struct shard_swarm *sw;
    while (done < budget && (p = shard_oldest(s)) && expired(s, p, now_ms)) {
        remove_peer(s, p, now_ms);
        s->counts.expired++;
        done++;
    }
    while (done < budget && (sw = oldest_empty(s)) &&
           now_ms - sw->emptied_ms >= s->lim.peer_timeout_ms) {
        free_swarm(s, sw);
        done++;
    }
    return done;
}

void shard_destroy(struct shard *s)
{
    struct shard_swarm *sw, *tmp;
    HASH_ITER(hh, s->swarms, sw, tmp) {
        struct shard_peer *p, *ptmp;
        HASH_ITER(hh, sw->peers, p, ptmp) {
            HASH_DELETE(hh, sw->peers, p);
            free(p);
        }
        HASH_DELETE(hh, s->swarms, sw);
        free(sw->arr);
        free(sw);
    }
    memset(&s->counts, 0, sizeof s->counts);
    list_init(&s->by_age);
    list_init(&s->empty);
    s->n_top = 0;
}

/* ---- structural self-check (tests and fuzz targets) ---- */

#define SHARD_REQUIRE(cond, why)                                                                   \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return why;                                                                            \
    } while (0)

static const char *check_swarm(const struct shard *s, const struct shard_swarm *sw, uint64_t *ipv6)
{
    uint32_t c = 0, walked = 0;
    const struct shard_peer *hp, *htmp, *prev = NULL;
    SHARD_REQUIRE(HASH_COUNT(sw->peers) == sw->n, "swarm: table count != n");
    SHARD_REQUIRE(sw->n <= s->lim.max_peers_per_swarm, "swarm: more than max_peers_per_swarm");
    SHARD_REQUIRE(sw->n <= sw->cap || (sw->n == 0 && sw->cap == 0), "swarm: n > cap");
    HASH_ITER(hh, sw->peers, hp, htmp)
        SHARD_REQUIRE(hp->idx < sw->n && sw->arr[hp->idx] == hp, "swarm: table entry not in arr");
    for (uint32_t k = 0; k < sw->n; k++) {
        const struct shard_peer *p = sw->arr[k];
        SHARD_REQUIRE(p->idx == k && p->swarm == sw, "swarm: arr entry's idx or swarm wrong");
        c += p->seeder;
        *ipv6 += p->ipv6;
    }
    SHARD_REQUIRE(sw->complete == c && sw->incomplete == sw->n - c, "swarm: seeder counts");
    for (const struct list_node *n = sw->by_age.next; n != &sw->by_age; n = n->next) {
        const struct shard_peer *p = LIST_ENTRY(n, const struct shard_peer, sw_link);
        SHARD_REQUIRE(n->next && n->next->prev == n && p->swarm == sw, "swarm list: broken link");
        SHARD_REQUIRE(!prev || prev->last_ms <= p->last_ms, "swarm list: not by last announce");
        prev = p;
        SHARD_REQUIRE(++walked <= sw->n, "swarm list: longer than n");
    }
    SHARD_REQUIRE(walked == sw->n, "swarm list: wrong length");
    return NULL;
}

const char *shard_check(const struct shard *s)
{
    const struct shard_swarm *sw, *tmp, *eprev = NULL;
    const struct shard_peer *prev = NULL;
    uint64_t swarms = 0, active = 0, peers = 0, seeders = 0, ipv6 = 0, walked = 0, ewalked = 0;
    const char *why;
    HASH_ITER(hh, s->swarms, sw, tmp) {
        if ((why = check_swarm(s, sw, &ipv6)) != NULL)
            return why;
        swarms++;
        active += sw->n > 0;
        peers += sw->n;
        seeders += sw->complete;
    }
    SHARD_REQUIRE(s->counts.swarms == swarms && s->counts.active_swarms == active,
                  "counts: swarms");
    SHARD_REQUIRE(s->counts.peers == peers && s->counts.seeders == seeders &&
                      s->counts.leechers == peers - seeders && s->counts.ipv6 == ipv6,
                  "counts: peers");
    SHARD_REQUIRE(swarms <= s->lim.max_swarms && peers <= s->lim.max_peers, "counts: over a cap");
    for (uint32_t k = 0; k < s->n_top; k++) {
        const struct shard_swarm *f = NULL;
        HASH_FIND_BYHASHVALUE(hh, s->swarms, s->top[k]->info_hash, PROTO_ID_LEN,
                              table_hash(s, s->top[k]->info_hash), f);
        SHARD_REQUIRE(f == s->top[k], "top: a candidate is not a held swarm");
        for (uint32_t j = 0; j < k; j++)
            SHARD_REQUIRE(s->top[j] != s->top[k], "top: a candidate twice");
    }
    if (s->clients) {
        uint64_t by_client = atomic_load_explicit(&s->clients->other, memory_order_relaxed);
        for (unsigned k = 0; k < STATS_CLIENTS_MAX; k++)
            by_client += atomic_load_explicit(&s->clients->n[k], memory_order_relaxed);
        SHARD_REQUIRE(by_client == peers, "counts: peers by client");
    }
    for (const struct list_node *n = s->by_age.next; n != &s->by_age; n = n->next) {
        const struct shard_peer *p = LIST_ENTRY(n, const struct shard_peer, sh_link);
        SHARD_REQUIRE(n->next && n->next->prev == n, "shard list: broken link");
        SHARD_REQUIRE(p->idx < p->swarm->n && p->swarm->arr[p->idx] == p,
                      "shard list: peer not in its swarm");
        SHARD_REQUIRE(!prev || prev->last_ms <= p->last_ms, "shard list: not by last announce");
        prev = p;
        SHARD_REQUIRE(++walked <= peers, "shard list: longer than the peer count");
    }
    SHARD_REQUIRE(walked == peers, "shard list: wrong length");
    for (const struct list_node *n = s->empty.next; n != &s->empty; n = n->next) {
        const struct shard_swarm *e = LIST_ENTRY(n, const struct shard_swarm, empty_link);
        SHARD_REQUIRE(n->next && n->next->prev == n && e->n == 0,
                      "empty list: broken link or not empty");
        SHARD_REQUIRE(!eprev || eprev->emptied_ms <= e->emptied_ms, "empty list: not by time");
        eprev = e;
        SHARD_REQUIRE(++ewalked <= swarms, "empty list: longer than the swarm count");
    }
    SHARD_REQUIRE(ewalked == swarms - active, "empty list: not exactly the empty swarms");
    return NULL;
}
