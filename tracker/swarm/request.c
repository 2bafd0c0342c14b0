/* request.c - what the tracker does with a message; see swarm.h.
 *
 * Owns:   the request flow from scanned message to frames and mail in the
 *         outbox: registrations, announces, list and full scrape travel,
 *         close cleanup.
 * Thread: the worker owning the struct swarm passed in.
 * Why:    offers and answers are forwarded as the exact bytes received: the
 *         scanner returns spans into the message and the writer copies them once
 *         into the outgoing frame.
 */
#include <string.h>

#include "capture.h"
#include "swarm.h"
#include "write.h"

_Static_assert(PROTO_STATUS_COUNT <= STATS_REASONS_MAX, "every failure reason has a counter");
_Static_assert(PROTO_STATUS_COUNT <= LOG_CAUSES, "every failure reason has its own log cause");

int swarm_create(struct swarm *s, unsigned idx, const struct route *r,
                 const struct swarm_limits *lim, struct stats *stats, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->idx = idx;
    s->route = r;
    s->lim = *lim;
    s->stats = stats;
    s->log.worker = idx;
    s->rng = seed;
    shard_create(&s->shard, r->key, &lim->shard);
    s->shard.clients = stats ? &stats->clients : NULL;
    if (lim->announce_rate &&
        ihrate_init(&s->ihrate, lim->announce_rate, lim->announce_burst, r->key) != 0)
        return -1;
    return 0;
}

void swarm_log_flush(struct swarm *s, int64_t now_ms)
{
    for (unsigned k = 1; k < PROTO_STATUS_COUNT; k++) {
        uint64_t n = log_limit_take(&s->log, now_ms, k);
        if (n) {
            char text[160];
            snprintf(text, sizeof text, "announce refused: %s",
                     proto_status_reason((enum proto_status)k));
            log_limited_count(&s->log, text, n);
        }
    }
}

void swarm_destroy(struct swarm *s)
{
    shard_destroy(&s->shard);
    ihrate_free(&s->ihrate);
    free(s->fs.body);
    free(s->fs.waiters);
    s->fs.body = NULL;
    s->fs.waiters = NULL;
}

/* An error reply to connection conn, local or not; returns it (in the
 * outbox already) so a caller can mark what it answers, or NULL. */
static struct frame *send_error(struct swarm *s, struct outbox *ob, uint64_t conn,
                                enum proto_action action, enum proto_status st,
                                const uint8_t *info_hash)
{
    struct frame *f = frame_alloc(PROTO_ERROR_MAX);
    int n;
    stats_add(s->stats, STATS_ERRORS, 1);
    stats_reason(s->stats, (unsigned)st);
    if (!f)
        return NULL;
    n = proto_write_error(frame_payload(f), PROTO_ERROR_MAX, action, st, info_hash);
    if (n < 0) {
        free(f);
        return NULL;
    }
    f->len = (uint32_t)n;
    f->conn = conn;
    outbox_frame(ob, f);
    return f;
}

/* ---- registrations: which (info_hash, peer_id) a connection announced ---- */

/* Keyed with the process's SipHash key: a client choosing its own ids cannot
 * make its connection's table degrade into a list. */
/* A registration's uthash value: of its info_hash only, so the pairs one
 * connection holds in one swarm share a bucket (regs_in_swarm walks that
 * bucket). At most max_peer_ids_per_swarm pairs share a value. */
static unsigned reg_hash(const struct swarm *s, const uint8_t ih[PROTO_ID_LEN])
{
    return (unsigned)route_hash(s->route->key, ih, PROTO_ID_LEN);
}

static struct swarm_reg *reg_find(const struct swarm *s, const struct swarm_conn *c,
                                  const uint8_t key[2 * PROTO_ID_LEN])
{
    struct swarm_reg *r = NULL;
    HASH_FIND_BYHASHVALUE(hh, c->regs, key, 2 * PROTO_ID_LEN, reg_hash(s, key),
                          r); /* key: ih first */
    return r;
}

/* Whether connection c announced (info_hash, peer_id) = key. */
static bool reg_holds(const struct swarm *s, const struct swarm_conn *c,
                      const uint8_t key[2 * PROTO_ID_LEN])
{
    return (c->has_reg0 && memcmp(c->reg0, key, 2 * PROTO_ID_LEN) == 0) || reg_find(s, c, key);
}

/* The connection's peer_ids in swarm ih (only a new registration asks): the
 * pairs with ih are in one uthash bucket (reg_hash), so this walks that
 * bucket's chain (uthash.h's documented UT_hash_bucket / hh_next), not every
 * registration: it was O(registrations), up to max_torrents_per_conn, and a
 * client announcing many torrents paid it at each new one (11 % of the
 * server's CPU in bench/results/2026-12-03-targets.md's profile). */
static uint32_t regs_in_swarm(const struct swarm *s, const struct swarm_conn *c,
                              const uint8_t ih[PROTO_ID_LEN])
{
    uint32_t n = c->has_reg0 && memcmp(c->reg0, ih, PROTO_ID_LEN) == 0;
    if (c->regs) {
        const UT_hash_table *tbl = c->regs->hh.tbl;
        unsigned hv = reg_hash(s, ih), b;
        HASH_TO_BKT(hv, tbl->num_buckets, b);
        for (const UT_hash_handle *h = tbl->buckets[b].hh_head; h; h = h->hh_next)
            n += h->hashv == hv && memcmp(h->key, ih, PROTO_ID_LEN) == 0;
    }
    return n;
}

/* Returns PROTO_OK, or the failure reason when the connection holds its maximum
 * of pairs, or of peer_ids in this swarm (one connection must not fill a room
 * with peer_ids of its own and evict everyone else: issue 9). The first pair
 * lives inline in struct swarm_conn: most connections announce one (browsers,
 * trystero) and a uthash table costs about 600 bytes (its bucket array) more. */
static enum proto_status reg_note(struct swarm *s, struct swarm_conn *c,
                                  const struct proto_announce *a)
{
    uint8_t key[2 * PROTO_ID_LEN];
    struct swarm_reg *r;
    bool inline_hit;
    memcpy(key, a->info_hash, PROTO_ID_LEN);
    memcpy(key + PROTO_ID_LEN, a->peer_id, PROTO_ID_LEN);
    inline_hit = c->has_reg0 && memcmp(c->reg0, key, sizeof key) == 0;
    r = inline_hit ? NULL : reg_find(s, c, key);
    if (a->event == PROTO_EVENT_STOPPED) {
        if (inline_hit) {
            c->has_reg0 = false;
            c->n_regs--;
        } else if (r) {
            HASH_DEL(c->regs, r);
            free(r);
            c->n_regs--;
        }
        return PROTO_OK;
    }
    if (inline_hit || r)
        return PROTO_OK;
    if (c->n_regs >= s->lim.max_torrents_per_conn)
        return PROTO_ERR_TOO_MANY_TORRENTS;
    if (c->n_regs && regs_in_swarm(s, c, a->info_hash) >= s->lim.max_peer_ids_per_swarm)
        return PROTO_ERR_TOO_MANY_PEER_IDS;
    if (!c->has_reg0) {
        memcpy(c->reg0, key, sizeof key);
        c->has_reg0 = true;
    } else {
        if (!(r = malloc(sizeof *r)))
            return PROTO_ERR_TOO_MANY_TORRENTS;
        memcpy(r->key, key, sizeof key);
        HASH_ADD_BYHASHVALUE(hh, c->regs, key, sizeof r->key, reg_hash(s, key), r);
    }
    c->n_regs++;
    return PROTO_OK;
}

/* ---- announce ---- */

static void forward(struct outbox *ob, const struct proto_announce *a, const char *msg, uint64_t to,
                    int is_answer, const uint8_t offer_id[PROTO_ID_LEN], struct proto_span payload)
{
    size_t cap = PROTO_FORWARD_MAX(payload.len);
    struct frame *f = frame_alloc(cap);
    int n;
    if (!f)
        return;
    n = proto_write_forward(frame_payload(f), cap, a->info_hash, a->peer_id, offer_id, is_answer,
                            msg + payload.off, payload.len);
    if (n < 0) {
        free(f);
        return;
    }
    f->len = (uint32_t)n;
    f->conn = to;
    f->droppable = !is_answer;
    f->timed = 1 + (is_answer ? STATS_KIND_ANSWER : STATS_KIND_OFFER);
    outbox_frame(ob, f);
}

/* "turn": true: TURN credentials for this peer_id, as GET /turn gives them
 * (access/turn.c); false when TURN is not configured. */
static bool ice_servers(const struct swarm *s, const uint8_t peer_id[PROTO_ID_LEN], char *buf,
                        size_t cap)
{
    char user[TURN_USERNAME_MAX], cred[TURN_CREDENTIAL_MAX];
    if (!s->lim.turn_secret)
        return false;
    return turn_username(user, sizeof user, (uint64_t)s->wall_s + s->lim.turn_ttl, peer_id) > 0 &&
           turn_credential(cred, sizeof cred, s->lim.turn_secret, strlen(s->lim.turn_secret),
                           user) > 0 &&
           turn_write_servers(buf, cap, s->lim.turn_urls, s->lim.n_turn_urls, user, cred) > 0;
}

/* --announce-rate: an announce with offers from addr past its (address, info hash)
 * budget is applied without them (a copy with no offers; its sender stays a member and
 * still gets its reply). Answers, which only reply to offers, are not charged. */
static const struct proto_announce *paced(struct swarm *s, const struct proto_announce *a,
                                          uint64_t addr, struct proto_announce *copy)
{
    if (!s->lim.announce_rate || !a->n_offers ||
        ihrate_take(&s->ihrate, addr, a->info_hash, (uint32_t)s->now_ms))
        return a;
    memcpy(copy, a, offsetof(struct proto_announce, offers));
    copy->n_offers = 0;
    stats_add(s->stats, STATS_OFFERS_RATE_LIMITED, a->n_offers);
    return copy;
}

/* An announce for a swarm this worker owns (from a local connection or a mail). */
static void announce(struct swarm *s, struct outbox *ob, const struct proto_announce *a,
                     const char *msg, uint64_t conn, bool ipv6, uint64_t addr)
{
    struct shard_result res;
    struct proto_announce copy;
    const struct proto_announce *full = a;
    a = paced(s, a, addr, &copy);
    shard_announce(&s->shard, a, conn, ipv6, s->now_ms, &s->rng, &res);

    if (res.refused != PROTO_OK) {
        stats_add(s->stats, STATS_ANNOUNCES_REFUSED, 1);
        log_limited(&s->log, s->now_ms, res.refused, "announce refused: %s",
                    proto_status_reason(res.refused));
        send_error(s, ob, conn, PROTO_ACTION_ANNOUNCE, res.refused, a->info_hash);
        return;
    }
    if (res.respond) {
        size_t cap = PROTO_RESPONSE_LIST_MAX(res.n_listed) +
                     (a->want_turn ? 16 + TURN_SERVERS_MAX(TURN_URLS_MAX) : 0);
        struct frame *f = frame_alloc(cap);
        const char *warning = NULL;
        if (a != full)
            warning = PROTO_WARN_OFFER_RATE;
        else if (a->n_invalid_offers)
            warning = res.not_in_room ? PROTO_WARN_BOTH : PROTO_WARN_INVALID_OFFER;
        else if (res.not_in_room)
            warning = PROTO_WARN_NOT_IN_ROOM;
        if (f) {
            /* A list only for an announce that added or refreshed the sender
             * (to read the room you must be in it): not for "stopped". */
            bool list = a->want_peers && a->event != PROTO_EVENT_STOPPED;
            char ice[TURN_SERVERS_MAX(TURN_URLS_MAX)];
            bool turn = a->want_turn && a->event != PROTO_EVENT_STOPPED &&
                        ice_servers(s, a->peer_id, ice, sizeof ice);
            int n = proto_write_response(frame_payload(f), cap, a->info_hash, res.complete,
                                         res.incomplete, s->lim.interval, list ? res.listed : NULL,
                                         res.n_listed, turn ? ice : NULL, warning);
            if (n < 0) {
                free(f);
            } else {
                f->len = (uint32_t)n;
                f->conn = conn;
                f->timed = 1 + STATS_KIND_ANNOUNCE;
                outbox_frame(ob, f);
                stats_add(s->stats, STATS_RESP_ANNOUNCE, 1);
            }
        }
    }
    for (uint32_t k = 0; k < res.n; k++) {
        if (res.d[k].kind == SHARD_OFFER) {
            const struct proto_offer *o = &a->offers[res.d[k].offer];
            forward(ob, a, msg, res.d[k].conn, 0, o->offer_id, o->offer);
            stats_add(s->stats, STATS_OFFERS_FORWARDED, 1);
        } else {
            forward(ob, a, msg, res.d[k].conn, 1, a->offer_id, a->answer);
            stats_add(s->stats, STATS_ANSWERS_FORWARDED, 1);
        }
    }
    if (res.answer_dropped)
        stats_add(s->stats, STATS_ANSWERS_DROPPED, 1);
    if (a->n_invalid_offers)
        stats_add(s->stats, STATS_OFFERS_INVALID, a->n_invalid_offers);
    if (res.not_in_room)
        stats_add(s->stats, STATS_OFFERS_NOT_IN_ROOM, 1);
}

/* Apply the announce here if this worker owns its swarm, else mail it (with a
 * copy of the message its spans point into) to the owner. */
static void route_announce(struct swarm *s, struct outbox *ob, struct swarm_conn *c,
                           const struct proto_announce *a, const char *msg, size_t len)
{
    unsigned owner = route_owner(s->route, a->info_hash);
    struct mail_announce *m;
    if (owner == s->idx) {
        announce(s, ob, a, msg, c->ref, c->ipv6, s->addr);
        return;
    }
    m = malloc(sizeof *m + len);
    if (!m) {
        stats_add(s->stats, STATS_MAIL_DROPPED, 1);
        return;
    }
    m->m.kind = MAIL_ANNOUNCE;
    m->conn = c->ref;
    m->ipv6 = c->ipv6;
    m->addr = s->addr;
    m->msg_len = (uint32_t)len;
    memcpy(&m->ann, a, offsetof(struct proto_announce, offers) + a->n_offers * sizeof a->offers[0]);
    memcpy(m->msg, msg, len);
    outbox_mail(ob, owner, &m->m);
}

/* ---- list scrape ---- */

/* The reply to a list scrape, sent to its connection. Frees the scrape. */
static void scrape_answer(const struct swarm *s, struct outbox *ob, struct mail_scrape *sc)
{
    size_t cap =
        PROTO_SCRAPE_OPEN_MAX + (size_t)sc->n * PROTO_SCRAPE_ENTRY_MAX + PROTO_SCRAPE_CLOSE_MAX;
    struct frame *f = frame_alloc(cap);
    if (f) {
        char *p = frame_payload(f);
        size_t len = (size_t)proto_write_scrape_open(p, cap);
        for (uint32_t k = 0; k < sc->n; k++) {
            const uint32_t *cnt = mail_scrape_counts(sc) + 3 * k;
            len += (size_t)proto_write_scrape_entry(p + len, cap - len, k == 0,
                                                    mail_scrape_ids(sc) + (size_t)k * PROTO_ID_LEN,
                                                    cnt[0], cnt[1], cnt[2]);
        }
        len += (size_t)proto_write_scrape_close(p + len, cap - len, s->lim.interval);
        f->len = (uint32_t)len;
        f->conn = sc->conn;
        f->reply = FRAME_REPLY_SCRAPE;
        f->timed = 1 + STATS_KIND_SCRAPE;
        outbox_frame(ob, f);
        stats_add(s->stats, STATS_RESP_SCRAPE, 1);
    }
    mail_free(&sc->m);
}

/* A list scrape at this worker: fill in its swarms, then pass it to the owner
 * of the first id still missing, or answer. Takes ownership. */
static void scrape_step(struct swarm *s, struct outbox *ob, struct mail_scrape *sc)
{
    unsigned nw = s->route->n_workers, next = nw;
    uint32_t *counts = mail_scrape_counts(sc);
    uint8_t *done = mail_scrape_done(sc);
    for (uint32_t k = 0; k < sc->n; k++) {
        const uint8_t *ih = mail_scrape_ids(sc) + (size_t)k * PROTO_ID_LEN;
        unsigned owner;
        if (done[k])
            continue;
        owner = route_owner(s->route, ih);
        if (owner == s->idx) {
            shard_scrape(&s->shard, ih, s->now_ms, &counts[3 * k], &counts[3 * k + 1],
                         &counts[3 * k + 2]);
            done[k] = 1;
        } else if (next == nw) {
            next = owner;
        }
    }
    if (next == nw)
        scrape_answer(s, ob, sc);
    else
        outbox_mail(ob, next, &sc->m);
}

static void start_list_scrape(struct swarm *s, struct outbox *ob, struct swarm_conn *c,
                              const struct proto_request *req)
{
    struct mail_scrape *sc;
    if (c->scrapes >= SWARM_SCRAPES_IN_FLIGHT) {
        if ((uint32_t)s->now_ms - c->scrape_ms < SWARM_SCRAPE_LOST_MS) {
            stats_add(s->stats, STATS_SCRAPES_REFUSED, 1);
            send_error(s, ob, c->ref, PROTO_ACTION_SCRAPE, PROTO_ERR_SCRAPE_IN_PROGRESS, NULL);
            return;
        }
        c->scrapes = 0; /* their replies were lost with a dropped mail */
    }
    sc = mail_scrape_alloc(req->n_hashes);
    if (!sc)
        return;
    sc->conn = c->ref;
    memcpy(mail_scrape_ids(sc), req->hashes, (size_t)sc->n * PROTO_ID_LEN);
    c->scrapes++;
    c->scrape_ms = (uint32_t)s->now_ms;
    scrape_step(s, ob, sc);
}

/* ---- full scrape ---- */

/* Full scrapes: one travel through every worker at a time per origin worker,
 * its result cached for SWARM_FULL_SCRAPE_CACHE_MS and sent to every
 * connection that asked meanwhile (issue 9: 1,000 pipelined full scrapes cost
 * one travel, not 1,000). The reply is cut at lim.full_scrape_max (half the
 * output hard cap) so it always fits a connection's queue (PROTOCOL.md 3.2). */
static void full_scrape_send(const struct swarm *s, struct outbox *ob, uint64_t conn)
{
    const struct full_scrape *fs = &s->fs;
    struct frame *f = frame_alloc(fs->len);
    if (!f)
        return;
    memcpy(frame_payload(f), fs->body, fs->len);
    f->len = fs->len;
    f->conn = conn;
    f->reply = FRAME_REPLY_FULL_SCRAPE;
    f->timed = 1 + STATS_KIND_SCRAPE;
    outbox_frame(ob, f);
    stats_add(s->stats, STATS_RESP_SCRAPE, 1);
}

/* The travel is back at its origin: cache the reply, answer the waiters. */
static void full_scrape_done(struct swarm *s, struct outbox *ob, struct mail_full_scrape *m)
{
    struct full_scrape *fs = &s->fs;
    size_t cap = PROTO_SCRAPE_OPEN_MAX + m->len + PROTO_SCRAPE_CLOSE_MAX;
    char *body = malloc(cap);
    if (body) {
        size_t len = (size_t)proto_write_scrape_open(body, cap);
        memcpy(body + len, m->text, m->len);
        len += m->len;
        len += (size_t)proto_write_scrape_close(body + len, cap - len, s->lim.interval);
        free(fs->body);
        fs->body = body;
        fs->len = (uint32_t)len;
        fs->made_ms = s->now_ms;
        for (uint32_t k = 0; k < fs->n_waiters; k++)
            full_scrape_send(s, ob, fs->waiters[k]);
    }
    fs->n_waiters = 0; /* without memory for the body, they get nothing (as at a lost mail) */
    fs->in_flight = false;
    mail_free(&m->m);
}

/* A full scrape at this worker: add its swarms, pass it on. Takes ownership. */
static void full_scrape_step(struct swarm *s, struct outbox *ob, struct mail_full_scrape *m)
{
    size_t budget = s->lim.full_scrape_max - PROTO_SCRAPE_OPEN_MAX - PROTO_SCRAPE_CLOSE_MAX;
    unsigned nw = s->route->n_workers;
    struct shard_swarm *sw, *tmp;
    if (m->next >= nw) {
        full_scrape_done(s, ob, m);
        return;
    }
    HASH_ITER(hh, s->shard.swarms, sw, tmp) {
        uint32_t c, i, d;
        int n;
        if (m->len + PROTO_SCRAPE_ENTRY_MAX > budget)
            break;
        if (m->len + PROTO_SCRAPE_ENTRY_MAX > m->cap) {
            size_t cap = 2 * (size_t)m->cap < budget ? 2 * (size_t)m->cap : budget;
            struct mail_full_scrape *g = realloc(m, sizeof *m + cap);
            if (!g)
                break;
            m = g;
            m->cap = (uint32_t)cap;
        }
        shard_scrape(&s->shard, sw->info_hash, s->now_ms, &c, &i, &d);
        n = proto_write_scrape_entry(m->text + m->len, m->cap - m->len, m->entries == 0,
                                     sw->info_hash, c, i, d);
        if (n < 0)
            break;
        m->len += (uint32_t)n;
        m->entries++;
    }
    m->next = s->idx + 1;
    if (m->next < nw)
        outbox_mail(ob, m->next, &m->m);
    else if (m->origin != s->idx)
        outbox_mail(ob, m->origin, &m->m);
    else
        full_scrape_done(s, ob, m);
}

static void start_full_scrape(struct swarm *s, struct outbox *ob, struct swarm_conn *c)
{
    struct full_scrape *fs = &s->fs;
    struct mail_full_scrape *m;
    if (fs->body && s->now_ms - fs->made_ms < SWARM_FULL_SCRAPE_CACHE_MS) {
        full_scrape_send(s, ob, c->ref);
        return;
    }
    if (c->full_waiting || fs->n_waiters >= SWARM_FULL_SCRAPE_WAITERS) {
        stats_add(s->stats, STATS_SCRAPES_REFUSED, 1);
        send_error(s, ob, c->ref, PROTO_ACTION_SCRAPE, PROTO_ERR_SCRAPE_IN_PROGRESS, NULL);
        return;
    }
    if (fs->n_waiters == fs->cap_waiters) {
        uint32_t cap = fs->cap_waiters ? 2 * fs->cap_waiters : 16;
        uint64_t *wt = realloc(fs->waiters, cap * sizeof *wt);
        if (!wt)
            return;
        fs->waiters = wt;
        fs->cap_waiters = cap;
    }
    fs->waiters[fs->n_waiters++] = c->ref;
    c->full_waiting = true;
    if (fs->in_flight && s->now_ms - fs->started_ms < SWARM_SCRAPE_LOST_MS)
        return; /* the travel under way answers this connection too */
    m = malloc(sizeof *m + SWARM_FULL_SCRAPE_CHUNK);
    if (!m)
        return;
    memset(m, 0, sizeof *m);
    m->m.kind = MAIL_FULL_SCRAPE;
    m->origin = s->idx;
    m->cap = SWARM_FULL_SCRAPE_CHUNK;
    fs->in_flight = true;
    fs->started_ms = s->now_ms;
    if (s->idx == 0)
        full_scrape_step(s, ob, m);
    else
        outbox_mail(ob, 0, &m->m);
}

/* ---- relay (PROTOCOL.md 10.4) ---- */

/* A relay at the worker owning its swarm. The sender must be a live member
 * bound to conn; the recipients are the named member or every other member,
 * each charged the data's length plus SWARM_RELAY_OVERHEAD bytes, and the
 * whole relay goes out only if it fits budget_ms (what the sender's budget
 * held when it left). Returns PROTO_OK with its cost in *cost_ms, or why
 * nothing was sent. The fan-out is bounded by the room's size, its bytes by
 * the budget. */
static enum proto_status relay_apply(struct swarm *s, struct outbox *ob, uint64_t conn,
                                     const uint8_t info_hash[PROTO_ID_LEN],
                                     const uint8_t from[PROTO_ID_LEN], bool directed,
                                     const uint8_t to[PROTO_ID_LEN], const char *data,
                                     uint32_t data_len, uint32_t budget_ms, uint32_t *cost_ms)
{
    struct shard_peer *self, *target = NULL;
    struct shard_swarm *sw = shard_member(&s->shard, info_hash, from, conn, s->now_ms, &self);
    uint64_t unit = (uint64_t)(data_len - 2) + SWARM_RELAY_OVERHEAD;
    size_t cap = PROTO_RELAY_MAX(data_len);
    const struct frame *first = NULL;
    uint32_t n, sent = 0, cost;

    *cost_ms = 0;
    if (!sw)
        return PROTO_ERR_NOT_MEMBER;
    if (directed) {
        target = shard_peer_of(&s->shard, sw, to);
        if (!target || target == self)
            return PROTO_ERR_RELAY_NO_PEER;
        n = 1;
    } else {
        n = sw->n - 1;
    }
    cost = n ? rate_cost_ms(&s->lim.relay_rate, unit * n) : 0;
    if (cost > budget_ms)
        return PROTO_ERR_RELAY_RATE;
    stats_add(s->stats, STATS_RELAYS, 1);
    for (uint32_t k = 0; k < sw->n && sent < n; k++) {
        const struct shard_peer *q = directed ? target : sw->arr[k];
        struct frame *f;
        if (q == self)
            continue;
        if (!(f = frame_alloc(cap)))
            break;
        if (first) {
            memcpy(frame_payload(f), frame_payload((struct frame *)first), first->len);
            f->len = first->len;
        } else {
            int len = proto_write_relay(frame_payload(f), cap, info_hash, from, data, data_len);
            if (len < 0) {
                free(f);
                break;
            }
            f->len = (uint32_t)len;
            first = f; /* stays allocated: the outbox holds it until this call returns */
        }
        f->conn = q->conn;
        f->droppable = true;
        f->timed = 1 + STATS_KIND_RELAY;
        outbox_frame(ob, f);
        sent++;
    }
    stats_add(s->stats, STATS_RELAY_FRAMES, sent);
    *cost_ms = cost;
    return PROTO_OK;
}

static struct frame *relay_refused(struct swarm *s, struct outbox *ob, uint64_t conn,
                                   enum proto_status st, const uint8_t info_hash[PROTO_ID_LEN])
{
    stats_add(s->stats, STATS_RELAYS_REFUSED, 1);
    return send_error(s, ob, conn, PROTO_ACTION_RELAY, st, info_hash);
}

/* A relay that travelled, at its owner: apply it; a broadcast is settled with
 * the sender's worker (swarm_conn_note_reply charges the cost there). */
static void relay_mail(struct swarm *s, struct outbox *ob, struct mail_relay *m)
{
    uint32_t cost = 0;
    enum proto_status st = relay_apply(s, ob, m->conn, m->info_hash, m->peer_id, m->directed,
                                       m->to_peer_id, m->data, m->data_len, m->budget_ms, &cost);
    struct frame *f;
    if (m->directed) { /* paid for at the sender: nothing to settle */
        if (st != PROTO_OK)
            relay_refused(s, ob, m->conn, st, m->info_hash);
        mail_free(&m->m);
        return;
    }
    if (st != PROTO_OK)
        f = relay_refused(s, ob, m->conn, st, m->info_hash);
    else if ((f = frame_alloc(0)) != NULL) {
        f->conn = m->conn; /* len 0: a settlement only, nothing is written */
        outbox_frame(ob, f);
    }
    if (f) {
        f->reply = FRAME_REPLY_RELAY;
        f->debit_ms = (uint16_t)cost; /* cost <= budget_ms <= the burst (rate.h) */
    }
    mail_free(&m->m);
}

/* A relay from connection c: the checks that need no swarm here (enabled,
 * size, the sender announced on this connection, budget left, broadcasts in
 * flight), then apply it here or mail it to the swarm's owner. A directed
 * relay's cost (one recipient) is known here and taken at once, delivered or
 * not; a broadcast's depends on the room, so it travels with the budget left
 * and is charged when it is settled. */
static void start_relay(struct swarm *s, struct outbox *ob, struct swarm_conn *c,
                        const struct proto_request *req, const char *msg)
{
    const struct proto_relay *r = &req->relay;
    const struct rate_limit *rl = &s->lim.relay_rate;
    uint32_t now = (uint32_t)s->now_ms, budget = 0, cost;
    uint32_t data_len = r->data.len - 2; /* the JSON text between the quotes */
    uint8_t key[2 * PROTO_ID_LEN];
    enum proto_status st = PROTO_OK;
    unsigned owner = route_owner(s->route, req->info_hash);
    struct mail_relay *m;

    uint32_t one = rate_cost_ms(rl, (uint64_t)data_len + SWARM_RELAY_OVERHEAD);

    memcpy(key, req->info_hash, PROTO_ID_LEN);
    memcpy(key + PROTO_ID_LEN, r->peer_id, PROTO_ID_LEN);
    /* Their settlements were lost (no memory for them). The stamp is 8 bits of
     * seconds: after a silence of 256 s or more the reset may come up to 256 s
     * late, never early. */
    if (c->relays >= SWARM_RELAYS_IN_FLIGHT &&
        (uint8_t)(s->now_ms / 1000 - c->relay_s) >= SWARM_RELAY_LOST_S)
        c->relays = 0;
    if (!s->lim.relay)
        st = PROTO_ERR_RELAY_DISABLED;
    else if (data_len > s->lim.relay_max_bytes)
        st = PROTO_ERR_RELAY_TOO_LARGE;
    else if (!reg_holds(s, c, key))
        st = PROTO_ERR_NOT_MEMBER;
    else if (r->directed ? !rate_take(rl, &c->relay_tat, now, one)
                         : (budget = rate_available_ms(rl, c->relay_tat, now)) < one ||
                               c->relays >= SWARM_RELAYS_IN_FLIGHT)
        st = PROTO_ERR_RELAY_RATE;
    if (st != PROTO_OK) {
        relay_refused(s, ob, c->ref, st, req->info_hash);
        return;
    }
    if (r->directed)
        budget = one; /* one recipient: its cost is known here and already taken */
    if (owner == s->idx) {
        st = relay_apply(s, ob, c->ref, req->info_hash, r->peer_id, r->directed, r->to_peer_id,
                         msg + r->data.off, r->data.len, budget, &cost);
        if (st != PROTO_OK)
            relay_refused(s, ob, c->ref, st, req->info_hash);
        else if (!r->directed)
            rate_take(rl, &c->relay_tat, now, cost); /* cost <= budget: always taken */
        return;
    }
    if (!(m = malloc(sizeof *m + r->data.len))) {
        stats_add(s->stats, STATS_MAIL_DROPPED, 1);
        return;
    }
    m->m.kind = MAIL_RELAY;
    m->conn = c->ref;
    m->budget_ms = budget;
    m->directed = r->directed;
    memcpy(m->info_hash, req->info_hash, PROTO_ID_LEN);
    memcpy(m->peer_id, r->peer_id, PROTO_ID_LEN);
    memcpy(m->to_peer_id, r->to_peer_id, PROTO_ID_LEN);
    m->data_len = r->data.len;
    memcpy(m->data, msg + r->data.off, r->data.len);
    if (!r->directed) { /* a broadcast is settled back with its cost */
        c->relays++;
        c->relay_s = (uint8_t)(s->now_ms / 1000);
    }
    outbox_mail(ob, owner, &m->m);
}

/* ---- messages ---- */

static bool hash_allowed(const struct swarm *s, const uint8_t ih[PROTO_ID_LEN])
{
    return (!s->allow || hashlist_has(s->allow, ih)) && !hashlist_has(s->deny, ih);
}

/* --allow-hashes / --deny-hashes: the info hash of an announce or relay, and
 * every one of a list scrape (a full scrape lists only swarms that exist). */
static bool hashes_allowed(const struct swarm *s, const struct proto_request *req)
{
    if (!s->allow && !s->deny)
        return true;
    if (req->action != PROTO_ACTION_SCRAPE)
        return hash_allowed(s, req->info_hash);
    for (uint32_t k = 0; k < req->n_hashes; k++)
        if (!hash_allowed(s, req->hashes[k]))
            return false;
    return true;
}

/* The connection's token scope (wst): the info hash of an announce or
 * relay, every one of a list scrape; a full scrape would list swarms outside
 * it, so a scoped token may not ask for one. */
static bool grant_allows(const struct jwt_grant *g, const struct proto_request *req)
{
    if (g->any)
        return true;
    if (req->action != PROTO_ACTION_SCRAPE)
        return jwt_grant_has(g, req->info_hash);
    if (req->scrape_kind == PROTO_SCRAPE_FULL)
        return false;
    for (uint32_t k = 0; k < req->n_hashes; k++)
        if (!jwt_grant_has(g, req->hashes[k]))
            return false;
    return true;
}

/* What a scanned message is, counted in requests by type. */
static void count_request(struct swarm *s, enum proto_status st, const struct proto_request *req)
{
    enum stats_kind k = STATS_KIND_INVALID;
    if (st == PROTO_OK && req->action == PROTO_ACTION_SCRAPE)
        k = STATS_KIND_SCRAPE;
    else if (st == PROTO_OK && req->action == PROTO_ACTION_RELAY)
        k = STATS_KIND_RELAY;
    else if (st == PROTO_OK)
        k = req->ann.has_answer                              ? STATS_KIND_ANSWER
            : req->ann.n_offers || req->ann.n_invalid_offers ? STATS_KIND_OFFER
                                                             : STATS_KIND_ANNOUNCE;
    stats_add(s->stats, (enum stats_counter)(STATS_REQ_ANNOUNCE + k), 1);
}

void swarm_message(struct swarm *s, struct swarm_conn *c, const char *msg, size_t len, bool text,
                   int64_t now_ms, struct outbox *ob)
{
    struct proto_request *req = &s->req;
    enum proto_status st = proto_scan_request(msg, len, s->lim.max_scrape_hashes, req);

    s->now_ms = now_ms;
    count_request(s, st, req);
    capture_message(c->ref, msg, len);
    if (st != PROTO_OK) {
        /* lws does not check UTF-8 (net/net.c): an accepted message is valid
         * UTF-8 already, so only a rejected text message is checked, and
         * invalid UTF-8 still closes with 1007 as RFC 6455 section 8.1 asks. */
        if (text && !proto_utf8_valid(msg, len)) {
            ob->close = SWARM_CLOSE_INVALID_UTF8;
            return;
        }
        send_error(s, ob, c->ref, req->action, st, req->has_info_hash ? req->info_hash : NULL);
        return;
    }
    if (!hashes_allowed(s, req)) {
        stats_add(s->stats, STATS_HASH_REFUSED, 1);
        send_error(s, ob, c->ref, req->action, PROTO_ERR_HASH_NOT_ALLOWED,
                   req->action == PROTO_ACTION_SCRAPE ? NULL : req->info_hash);
        return;
    }
    if (s->grant && !grant_allows(s->grant, req)) {
        stats_add(s->stats, STATS_TOKEN_SCOPE_REFUSED, 1);
        send_error(s, ob, c->ref, req->action, PROTO_ERR_TOKEN_SCOPE,
                   req->action == PROTO_ACTION_SCRAPE ? NULL : req->info_hash);
        return;
    }
    if (req->action == PROTO_ACTION_SCRAPE) {
        if (req->scrape_kind == PROTO_SCRAPE_FULL && s->lim.no_full_scrape) {
            send_error(s, ob, c->ref, req->action, PROTO_ERR_FULL_SCRAPE_DISABLED, NULL);
            return;
        }
        stats_add(s->stats, STATS_SCRAPES, 1);
        if (req->scrape_kind == PROTO_SCRAPE_FULL)
            start_full_scrape(s, ob, c);
        else
            start_list_scrape(s, ob, c, req);
        return;
    }
    if (req->action == PROTO_ACTION_RELAY) {
        start_relay(s, ob, c, req, msg);
        return;
    }
    if ((st = reg_note(s, c, &req->ann)) != PROTO_OK) {
        if (st == PROTO_ERR_TOO_MANY_PEER_IDS)
            stats_add(s->stats, STATS_PEER_IDS_REFUSED, 1);
        send_error(s, ob, c->ref, req->action, st, req->info_hash);
        return;
    }
    stats_add(s->stats, STATS_ANNOUNCES, 1);
    route_announce(s, ob, c, &req->ann, msg, len);
}

void swarm_refuse(struct swarm *s, struct swarm_conn *c, const char *msg, size_t len,
                  enum proto_status st, int64_t now_ms, struct outbox *ob)
{
    struct proto_request *req = &s->req;
    s->now_ms = now_ms;
    count_request(s, proto_scan_request(msg, len, s->lim.max_scrape_hashes, req), req);
    send_error(s, ob, c->ref, req->action, st,
               req->has_info_hash && req->action != PROTO_ACTION_SCRAPE ? req->info_hash : NULL);
}

static void remove_pairs(struct swarm *s, struct mail_remove *m)
{
    for (uint32_t k = 0; k < m->n; k++)
        shard_remove(&s->shard, m->pairs[k], m->pairs[k] + PROTO_ID_LEN, m->conn, s->now_ms);
    mail_free(&m->m);
}

void swarm_mail(struct swarm *s, struct mail *m, int64_t now_ms, struct outbox *ob)
{
    s->now_ms = now_ms;
    switch (m->kind) {
    case MAIL_ANNOUNCE: {
        struct mail_announce *a = (struct mail_announce *)m;
        announce(s, ob, &a->ann, a->msg, a->conn, a->ipv6, a->addr);
        mail_free(m);
        break;
    }
    case MAIL_SCRAPE: scrape_step(s, ob, (struct mail_scrape *)m); break;
    case MAIL_FULL_SCRAPE: full_scrape_step(s, ob, (struct mail_full_scrape *)m); break;
    case MAIL_REMOVE: remove_pairs(s, (struct mail_remove *)m); break;
    case MAIL_RELAY: relay_mail(s, ob, (struct mail_relay *)m); break;
    default: mail_free(m); break; /* frames are the runtime's to deliver */
    }
}

void swarm_conn_closed(struct swarm *s, struct swarm_conn *c, int64_t now_ms, struct outbox *ob)
{
    unsigned nw = s->route->n_workers;
    uint32_t per[SWARM_WORKERS_MAX] = {0};
    struct mail_remove *out[SWARM_WORKERS_MAX] = {0};
    struct swarm_reg *r, *tmp;

    s->now_ms = now_ms;
    capture_close(c->ref);
    if (c->has_reg0)
        per[route_owner(s->route, c->reg0)]++;
    HASH_ITER(hh, c->regs, r, tmp)
        per[route_owner(s->route, r->key)]++;
    for (unsigned k = 0; k < nw; k++) {
        if (!per[k])
            continue;
        out[k] = malloc(sizeof *out[k] + (size_t)per[k] * sizeof out[k]->pairs[0]);
        if (out[k]) {
            out[k]->m.kind = MAIL_REMOVE;
            out[k]->conn = c->ref;
            out[k]->n = 0;
        } else {
            stats_add(s->stats, STATS_MAIL_DROPPED, 1);
        }
    }
    if (c->has_reg0) {
        struct mail_remove *m = out[route_owner(s->route, c->reg0)];
        if (m)
            memcpy(m->pairs[m->n++], c->reg0, sizeof c->reg0);
        c->has_reg0 = false;
    }
    HASH_ITER(hh, c->regs, r, tmp) {
        struct mail_remove *m = out[route_owner(s->route, r->key)];
        if (m)
            memcpy(m->pairs[m->n++], r->key, sizeof r->key);
        HASH_DEL(c->regs, r);
        free(r);
    }
    c->n_regs = 0;
    for (unsigned k = 0; k < nw; k++) {
        if (!out[k])
            continue;
        if (k == s->idx)
            remove_pairs(s, out[k]);
        else
            outbox_mail(ob, k, &out[k]->m);
    }
}
