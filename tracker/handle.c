/* handle.c - what the tracker does with a message; see handle.h.
 *
 * Owns:   the request flow from scanned message to frames on their way.
 * Thread: the worker passed in.
 * Why:    offers and answers are forwarded as the exact bytes received: the
 *         scanner returns spans into the message and the writer copies them once
 *         into the outgoing frame.
 */
#include <stdlib.h>
#include <string.h>

#include "../proto/write.h"
#include "capture.h"
#include "handle.h"

/* An error reply to connection conn, local or not. */
static void deliver_error(struct worker *w, uint64_t conn, enum proto_action action,
                          enum proto_status st, const uint8_t *info_hash)
{
    struct frame *f = frame_alloc(PROTO_ERROR_MAX);
    int n;
    stats_add(&w->stats, STATS_ERRORS, 1);
    if (!f)
        return;
    n = proto_write_error(frame_payload(f), PROTO_ERROR_MAX, action, st, info_hash);
    if (n < 0) {
        free(f);
        return;
    }
    f->len = (uint32_t)n;
    f->conn = conn;
    worker_deliver(w, f);
}

static void send_error(struct worker *w, struct conn *c, enum proto_action action,
                       enum proto_status st, const uint8_t *info_hash)
{
    deliver_error(w, c->ref, action, st, info_hash);
}

/* ---- registrations: which (info_hash, peer_id) a connection announced ---- */

/* Keyed with the process's SipHash key: a client choosing its own ids cannot
 * make its connection's table degrade into a list. */
static unsigned reg_hash(struct worker *w, const uint8_t key[2 * PROTO_ID_LEN])
{
    return (unsigned)route_hash(w->t->route.key, key, 2 * PROTO_ID_LEN);
}

static struct conn_reg *reg_find(struct worker *w, struct conn *c,
                                 const uint8_t key[2 * PROTO_ID_LEN])
{
    struct conn_reg *r = NULL;
    HASH_FIND_BYHASHVALUE(hh, c->regs, key, 2 * PROTO_ID_LEN, reg_hash(w, key), r);
    return r;
}

/* The connection's peer_ids in swarm ih: O(registrations), which
 * max_torrents_per_conn bounds; only a new registration pays it. */
static uint32_t regs_in_swarm(const struct conn *c, const uint8_t ih[PROTO_ID_LEN])
{
    const struct conn_reg *r, *tmp;
    uint32_t n = c->has_reg0 && memcmp(c->reg0, ih, PROTO_ID_LEN) == 0;
    HASH_ITER(hh, c->regs, r, tmp)
        n += memcmp(r->key, ih, PROTO_ID_LEN) == 0;
    return n;
}

/* Returns PROTO_OK, or the failure reason when the connection holds its maximum
 * of pairs, or of peer_ids in this swarm (one connection must not fill a room
 * with peer_ids of its own and evict everyone else: issue 9). The first pair
 * lives inline in struct conn: most connections announce one (browsers,
 * trystero) and a uthash table costs about 600 bytes (its bucket array) more. */
static enum proto_status reg_note(struct worker *w, struct conn *c, const struct proto_announce *a)
{
    uint8_t key[2 * PROTO_ID_LEN];
    struct conn_reg *r;
    bool inline_hit;
    memcpy(key, a->info_hash, PROTO_ID_LEN);
    memcpy(key + PROTO_ID_LEN, a->peer_id, PROTO_ID_LEN);
    inline_hit = c->has_reg0 && memcmp(c->reg0, key, sizeof key) == 0;
    r = inline_hit ? NULL : reg_find(w, c, key);
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
    if (c->n_regs >= w->t->cfg.max_torrents_per_conn)
        return PROTO_ERR_TOO_MANY_TORRENTS;
    if (c->n_regs && regs_in_swarm(c, a->info_hash) >= w->t->cfg.max_peer_ids_per_swarm)
        return PROTO_ERR_TOO_MANY_PEER_IDS;
    if (!c->has_reg0) {
        memcpy(c->reg0, key, sizeof key);
        c->has_reg0 = true;
    } else {
        if (!(r = malloc(sizeof *r)))
            return PROTO_ERR_TOO_MANY_TORRENTS;
        memcpy(r->key, key, sizeof key);
        HASH_ADD_BYHASHVALUE(hh, c->regs, key, sizeof r->key, reg_hash(w, key), r);
    }
    c->n_regs++;
    return PROTO_OK;
}

/* ---- announce ---- */

static void forward(struct worker *w, const struct proto_announce *a, const char *msg, uint64_t to,
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
    worker_deliver(w, f);
}

void handle_announce(struct worker *w, const struct proto_announce *a, const char *msg,
                     uint64_t conn, bool ipv6)
{
    struct shard_result res;
    shard_announce(&w->shard, a, conn, ipv6, w->now_ms, &w->rng, &res);

    if (res.refused != PROTO_OK) {
        stats_add(&w->stats, STATS_ANNOUNCES_REFUSED, 1);
        log_limited(&w->log, w->now_ms, res.refused, "announce refused: %s",
                    proto_status_reason(res.refused));
        deliver_error(w, conn, PROTO_ACTION_ANNOUNCE, res.refused, a->info_hash);
        return;
    }
    if (res.respond) {
        struct frame *f = frame_alloc(PROTO_RESPONSE_MAX);
        if (f) {
            int n = proto_write_response(frame_payload(f), PROTO_RESPONSE_MAX, a->info_hash,
                                         res.complete, res.incomplete, w->t->cfg.interval);
            if (n < 0) {
                free(f);
            } else {
                f->len = (uint32_t)n;
                f->conn = conn;
                worker_deliver(w, f);
            }
        }
    }
    for (uint32_t k = 0; k < res.n; k++) {
        if (res.d[k].kind == SHARD_OFFER) {
            const struct proto_offer *o = &a->offers[res.d[k].offer];
            forward(w, a, msg, res.d[k].conn, 0, o->offer_id, o->offer);
            stats_add(&w->stats, STATS_OFFERS_FORWARDED, 1);
        } else {
            forward(w, a, msg, res.d[k].conn, 1, a->offer_id, a->answer);
            stats_add(&w->stats, STATS_ANSWERS_FORWARDED, 1);
        }
    }
    if (res.answer_dropped)
        stats_add(&w->stats, STATS_ANSWERS_DROPPED, 1);
}

static void route_announce(struct worker *w, struct conn *c, const struct proto_announce *a,
                           const char *msg, size_t len)
{
    unsigned owner = route_owner(&w->t->route, a->info_hash);
    struct mail_announce *m;
    if (owner == w->idx) {
        handle_announce(w, a, msg, c->ref, c->ipv6);
        return;
    }
    m = malloc(sizeof *m + len);
    if (!m) {
        stats_add(&w->stats, STATS_MAIL_DROPPED, 1);
        return;
    }
    m->m.kind = MAIL_ANNOUNCE;
    m->conn = c->ref;
    m->ipv6 = c->ipv6;
    m->msg_len = (uint32_t)len;
    memcpy(&m->ann, a, offsetof(struct proto_announce, offers) + a->n_offers * sizeof a->offers[0]);
    memcpy(m->msg, msg, len);
    worker_send(w, owner, &m->m);
}

/* ---- scrape ---- */

/* The reply to a list scrape, sent to its connection. */
static void scrape_answer(struct worker *w, struct mail_scrape *s)
{
    size_t cap =
        PROTO_SCRAPE_OPEN_MAX + (size_t)s->n * PROTO_SCRAPE_ENTRY_MAX + PROTO_SCRAPE_CLOSE_MAX;
    struct frame *f = frame_alloc(cap);
    if (f) {
        char *p = frame_payload(f);
        size_t len = (size_t)proto_write_scrape_open(p, cap);
        for (uint32_t k = 0; k < s->n; k++) {
            const uint32_t *cnt = mail_scrape_counts(s) + 3 * k;
            len += (size_t)proto_write_scrape_entry(p + len, cap - len, k == 0,
                                                    mail_scrape_ids(s) + (size_t)k * PROTO_ID_LEN,
                                                    cnt[0], cnt[1], cnt[2]);
        }
        len += (size_t)proto_write_scrape_close(p + len, cap - len);
        f->len = (uint32_t)len;
        f->conn = s->conn;
        f->reply = FRAME_REPLY_SCRAPE;
        worker_deliver(w, f);
    }
    free(s);
}

void handle_scrape(struct worker *w, struct mail_scrape *s)
{
    unsigned next = w->t->n_workers;
    uint32_t *counts = mail_scrape_counts(s);
    uint8_t *done = mail_scrape_done(s);
    for (uint32_t k = 0; k < s->n; k++) {
        const uint8_t *ih = mail_scrape_ids(s) + (size_t)k * PROTO_ID_LEN;
        unsigned owner;
        if (done[k])
            continue;
        owner = route_owner(&w->t->route, ih);
        if (owner == w->idx) {
            shard_scrape(&w->shard, ih, w->now_ms, &counts[3 * k], &counts[3 * k + 1],
                         &counts[3 * k + 2]);
            done[k] = 1;
        } else if (next == w->t->n_workers) {
            next = owner;
        }
    }
    if (next == w->t->n_workers)
        scrape_answer(w, s);
    else
        worker_send(w, next, &s->m);
}

static void start_list_scrape(struct worker *w, struct conn *c, const struct proto_request *req)
{
    struct mail_scrape *s;
    if (c->scrapes >= HANDLE_SCRAPES_IN_FLIGHT) {
        if ((uint32_t)w->now_ms - c->scrape_ms < HANDLE_SCRAPE_LOST_MS) {
            stats_add(&w->stats, STATS_SCRAPES_REFUSED, 1);
            send_error(w, c, PROTO_ACTION_SCRAPE, PROTO_ERR_SCRAPE_IN_PROGRESS, NULL);
            return;
        }
        c->scrapes = 0; /* their replies were lost with a dropped mail */
    }
    s = mail_scrape_alloc(req->n_hashes);
    if (!s)
        return;
    s->conn = c->ref;
    memcpy(mail_scrape_ids(s), req->hashes, (size_t)s->n * PROTO_ID_LEN);
    c->scrapes++;
    c->scrape_ms = (uint32_t)w->now_ms;
    handle_scrape(w, s);
}

/* Full scrapes: one travel through every worker at a time per origin worker,
 * its result cached for HANDLE_FULL_SCRAPE_CACHE_MS and sent to every
 * connection that asked meanwhile (issue 9: 1,000 pipelined full scrapes cost
 * one travel, not 1,000). The reply is cut at half the output hard cap so it
 * always fits a connection's queue (PROTOCOL.md 3.2). */
static size_t full_scrape_budget(const struct worker *w)
{
    return (size_t)w->t->cfg.outq_hard_kib * 1024 / 2 - PROTO_SCRAPE_OPEN_MAX -
           PROTO_SCRAPE_CLOSE_MAX;
}

static void full_scrape_send(struct worker *w, uint64_t conn)
{
    const struct full_scrape *fs = &w->fs;
    struct frame *f = frame_alloc(fs->len);
    if (!f)
        return;
    memcpy(frame_payload(f), fs->body, fs->len);
    f->len = fs->len;
    f->conn = conn;
    f->reply = FRAME_REPLY_FULL_SCRAPE;
    worker_deliver(w, f);
}

/* The travel is back at its origin: cache the reply, answer the waiters. */
static void full_scrape_done(struct worker *w, struct mail_full_scrape *m)
{
    struct full_scrape *fs = &w->fs;
    size_t cap = PROTO_SCRAPE_OPEN_MAX + m->len + PROTO_SCRAPE_CLOSE_MAX;
    char *body = malloc(cap);
    if (body) {
        size_t len = (size_t)proto_write_scrape_open(body, cap);
        memcpy(body + len, m->text, m->len);
        len += m->len;
        len += (size_t)proto_write_scrape_close(body + len, cap - len);
        free(fs->body);
        fs->body = body;
        fs->len = (uint32_t)len;
        fs->made_ms = w->now_ms;
        for (uint32_t k = 0; k < fs->n_waiters; k++)
            full_scrape_send(w, fs->waiters[k]);
    }
    fs->n_waiters = 0; /* without memory for the body, they get nothing (as at a lost mail) */
    fs->in_flight = false;
    free(m);
}

void handle_full_scrape(struct worker *w, struct mail_full_scrape *m)
{
    size_t budget = full_scrape_budget(w);
    struct shard_swarm *sw, *tmp;
    if (m->next >= w->t->n_workers) {
        full_scrape_done(w, m);
        return;
    }
    HASH_ITER(hh, w->shard.swarms, sw, tmp) {
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
        shard_scrape(&w->shard, sw->info_hash, w->now_ms, &c, &i, &d);
        n = proto_write_scrape_entry(m->text + m->len, m->cap - m->len, m->entries == 0,
                                     sw->info_hash, c, i, d);
        if (n < 0)
            break;
        m->len += (uint32_t)n;
        m->entries++;
    }
    m->next = w->idx + 1;
    if (m->next < w->t->n_workers)
        worker_send(w, m->next, &m->m);
    else if (m->origin != w->idx)
        worker_send(w, m->origin, &m->m);
    else
        full_scrape_done(w, m);
}

static void start_full_scrape(struct worker *w, struct conn *c)
{
    struct full_scrape *fs = &w->fs;
    struct mail_full_scrape *m;
    if (fs->body && w->now_ms - fs->made_ms < HANDLE_FULL_SCRAPE_CACHE_MS) {
        full_scrape_send(w, c->ref);
        return;
    }
    if (c->full_waiting || fs->n_waiters >= HANDLE_FULL_SCRAPE_WAITERS) {
        stats_add(&w->stats, STATS_SCRAPES_REFUSED, 1);
        send_error(w, c, PROTO_ACTION_SCRAPE, PROTO_ERR_SCRAPE_IN_PROGRESS, NULL);
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
    if (fs->in_flight && w->now_ms - fs->started_ms < HANDLE_SCRAPE_LOST_MS)
        return; /* the travel under way answers this connection too */
    m = malloc(sizeof *m + HANDLE_FULL_SCRAPE_CHUNK);
    if (!m)
        return;
    memset(m, 0, sizeof *m);
    m->m.kind = MAIL_FULL_SCRAPE;
    m->origin = w->idx;
    m->cap = HANDLE_FULL_SCRAPE_CHUNK;
    fs->in_flight = true;
    fs->started_ms = w->now_ms;
    if (w->idx == 0)
        handle_full_scrape(w, m);
    else
        worker_send(w, 0, &m->m);
}

/* ---- messages ---- */

void handle_message(struct worker *w, struct conn *c, const char *msg, size_t len, bool text)
{
    struct proto_request *req = &w->req;
    enum proto_status st = proto_scan_request(msg, len, w->t->cfg.max_scrape_hashes, req);

    capture_message(c->ref, msg, len);
    if (st != PROTO_OK) {
        /* lws does not check UTF-8 (worker.c): an accepted message is valid
         * UTF-8 already, so only a rejected text message is checked, and
         * invalid UTF-8 still closes with 1007 as RFC 6455 section 8.1 asks. */
        if (text && !proto_utf8_valid(msg, len)) {
            net_conn_close(c, LWS_CLOSE_STATUS_INVALID_PAYLOAD);
            return;
        }
        send_error(w, c, req->action, st, req->has_info_hash ? req->info_hash : NULL);
        return;
    }
    if (req->action == PROTO_ACTION_SCRAPE) {
        if (req->scrape_kind == PROTO_SCRAPE_FULL && w->t->cfg.no_full_scrape) {
            send_error(w, c, req->action, PROTO_ERR_FULL_SCRAPE_DISABLED, NULL);
            return;
        }
        stats_add(&w->stats, STATS_SCRAPES, 1);
        if (req->scrape_kind == PROTO_SCRAPE_FULL)
            start_full_scrape(w, c);
        else
            start_list_scrape(w, c, req);
        return;
    }
    if ((st = reg_note(w, c, &req->ann)) != PROTO_OK) {
        if (st == PROTO_ERR_TOO_MANY_PEER_IDS)
            stats_add(&w->stats, STATS_PEER_IDS_REFUSED, 1);
        send_error(w, c, req->action, st, req->info_hash);
        return;
    }
    stats_add(&w->stats, STATS_ANNOUNCES, 1);
    route_announce(w, c, &req->ann, msg, len);
}

void handle_remove(struct worker *w, struct mail_remove *m)
{
    for (uint32_t k = 0; k < m->n; k++)
        shard_remove(&w->shard, m->pairs[k], m->pairs[k] + PROTO_ID_LEN, m->conn, w->now_ms);
    free(m);
}

void handle_mail(struct worker *w, struct mail *m)
{
    switch (m->kind) {
    case MAIL_FRAME: worker_deliver(w, (struct frame *)m); break;
    case MAIL_ANNOUNCE: {
        struct mail_announce *a = (struct mail_announce *)m;
        handle_announce(w, &a->ann, a->msg, a->conn, a->ipv6);
        free(a);
        break;
    }
    case MAIL_SCRAPE: handle_scrape(w, (struct mail_scrape *)m); break;
    case MAIL_FULL_SCRAPE: handle_full_scrape(w, (struct mail_full_scrape *)m); break;
    case MAIL_REMOVE: handle_remove(w, (struct mail_remove *)m); break;
    default: mail_free(m); break;
    }
}

void handle_conn_closed(struct worker *w, struct conn *c)
{
    unsigned nw = w->t->n_workers;
    uint32_t per[WORKER_MAX] = {0};
    struct mail_remove *out[WORKER_MAX] = {0};
    struct conn_reg *r, *tmp;

    capture_close(c->ref);
    if (c->has_reg0)
        per[route_owner(&w->t->route, c->reg0)]++;
    HASH_ITER(hh, c->regs, r, tmp)
        per[route_owner(&w->t->route, r->key)]++;
    for (unsigned k = 0; k < nw; k++) {
        if (!per[k])
            continue;
        out[k] = malloc(sizeof *out[k] + (size_t)per[k] * sizeof out[k]->pairs[0]);
        if (out[k]) {
            out[k]->m.kind = MAIL_REMOVE;
            out[k]->conn = c->ref;
            out[k]->n = 0;
        } else {
            stats_add(&w->stats, STATS_MAIL_DROPPED, 1);
        }
    }
    if (c->has_reg0) {
        struct mail_remove *m = out[route_owner(&w->t->route, c->reg0)];
        if (m)
            memcpy(m->pairs[m->n++], c->reg0, sizeof c->reg0);
        c->has_reg0 = false;
    }
    HASH_ITER(hh, c->regs, r, tmp) {
        struct mail_remove *m = out[route_owner(&w->t->route, r->key)];
        if (m)
            memcpy(m->pairs[m->n++], r->key, sizeof r->key);
        HASH_DEL(c->regs, r);
        free(r);
    }
    c->n_regs = 0;
    for (unsigned k = 0; k < nw; k++) {
        if (!out[k])
            continue;
        if (k == w->idx)
            handle_remove(w, out[k]);
        else
            worker_send(w, k, &out[k]->m);
    }
}
