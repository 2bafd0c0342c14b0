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

#define FULL_SCRAPE_MAX 100000 /* swarms listed by one full scrape */

static void send_error(struct worker *w, struct conn *c, enum proto_action action,
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
    f->conn = c->ref;
    net_conn_enqueue(w, c, f);
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

/* Returns 0, or -1 when the connection holds its maximum already. The first
 * pair lives inline in struct conn: most connections announce one (browsers,
 * trystero) and a uthash table costs about 600 bytes (its bucket array) more. */
static int reg_note(struct worker *w, struct conn *c, const struct proto_announce *a)
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
        return 0;
    }
    if (inline_hit || r)
        return 0;
    if (c->n_regs >= w->t->cfg.max_torrents_per_conn)
        return -1;
    if (!c->has_reg0) {
        memcpy(c->reg0, key, sizeof key);
        c->has_reg0 = true;
    } else {
        if (!(r = malloc(sizeof *r)))
            return -1;
        memcpy(r->key, key, sizeof key);
        HASH_ADD_BYHASHVALUE(hh, c->regs, key, sizeof r->key, reg_hash(w, key), r);
    }
    c->n_regs++;
    return 0;
}

/* ---- announce ---- */

static void forward(struct worker *w, const struct proto_announce *a, const char *msg,
                    uint64_t to, int is_answer, const uint8_t offer_id[PROTO_ID_LEN],
                    struct proto_span payload)
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

static void scrape_free(struct mail_scrape *s)
{
    free(s->ids);
    free(s->counts);
    free(s->done);
    free(s);
}

static void scrape_answer(struct worker *w, struct mail_scrape *s)
{
    size_t cap = PROTO_SCRAPE_OPEN_MAX + (size_t)s->n * PROTO_SCRAPE_ENTRY_MAX +
                 PROTO_SCRAPE_CLOSE_MAX;
    struct frame *f = frame_alloc(cap);
    if (f) {
        char *p = frame_payload(f);
        size_t len = (size_t)proto_write_scrape_open(p, cap);
        for (uint32_t k = 0; k < s->n; k++) {
            const uint32_t *cnt = &s->counts[3 * k];
            len += (size_t)proto_write_scrape_entry(p + len, cap - len, k == 0,
                                                    s->ids + (size_t)k * PROTO_ID_LEN, cnt[0],
                                                    cnt[1], cnt[2]);
        }
        len += (size_t)proto_write_scrape_close(p + len, cap - len);
        f->len = (uint32_t)len;
        f->conn = s->conn;
        worker_deliver(w, f);
    }
    scrape_free(s);
}

static int scrape_grow(struct mail_scrape *s, uint32_t want)
{
    uint32_t cap = s->cap ? s->cap : 64;
    uint8_t *ids;
    uint32_t *counts;
    if (want <= s->cap)
        return 0;
    while (cap < want)
        cap *= 2;
    ids = realloc(s->ids, (size_t)cap * PROTO_ID_LEN);
    if (!ids)
        return -1;
    s->ids = ids;
    counts = realloc(s->counts, (size_t)cap * 3 * sizeof *counts);
    if (!counts)
        return -1;
    s->counts = counts;
    s->cap = cap;
    return 0;
}

static void scrape_full_step(struct worker *w, struct mail_scrape *s)
{
    struct shard_swarm *sw, *tmp;
    HASH_ITER(hh, w->shard.swarms, sw, tmp)
    {
        if (s->n >= FULL_SCRAPE_MAX || scrape_grow(s, s->n + 1) != 0)
            break;
        memcpy(s->ids + (size_t)s->n * PROTO_ID_LEN, sw->info_hash, PROTO_ID_LEN);
        shard_scrape(&w->shard, sw->info_hash, w->now_ms, &s->counts[3 * s->n],
                     &s->counts[3 * s->n + 1], &s->counts[3 * s->n + 2]);
        s->n++;
    }
    s->next = w->idx + 1;
    if (s->next >= w->t->n_workers)
        scrape_answer(w, s);
    else
        worker_send(w, s->next, &s->m);
}

void handle_scrape(struct worker *w, struct mail_scrape *s)
{
    unsigned next = w->t->n_workers;
    if (s->full) {
        scrape_full_step(w, s);
        return;
    }
    for (uint32_t k = 0; k < s->n; k++) {
        const uint8_t *ih = s->ids + (size_t)k * PROTO_ID_LEN;
        unsigned owner;
        if (s->done[k])
            continue;
        owner = route_owner(&w->t->route, ih);
        if (owner == w->idx) {
            shard_scrape(&w->shard, ih, w->now_ms, &s->counts[3 * k], &s->counts[3 * k + 1],
                         &s->counts[3 * k + 2]);
            s->done[k] = 1;
        } else if (next == w->t->n_workers) {
            next = owner;
        }
    }
    if (next == w->t->n_workers)
        scrape_answer(w, s);
    else
        worker_send(w, next, &s->m);
}

static void start_scrape(struct worker *w, struct conn *c, const struct proto_request *req)
{
    struct mail_scrape *s = calloc(1, sizeof *s);
    if (!s)
        return;
    s->m.kind = MAIL_SCRAPE;
    s->conn = c->ref;
    if (req->scrape_kind == PROTO_SCRAPE_FULL) {
        s->full = true;
        if (w->idx == 0)
            handle_scrape(w, s);
        else
            worker_send(w, 0, &s->m);
        return;
    }
    s->n = req->n_hashes;
    s->ids = malloc((size_t)s->n * PROTO_ID_LEN + 1);
    s->counts = calloc((size_t)s->n * 3 + 1, sizeof *s->counts);
    s->done = calloc((size_t)s->n + 1, 1);
    if (!s->ids || !s->counts || !s->done) {
        scrape_free(s);
        return;
    }
    memcpy(s->ids, req->hashes, (size_t)s->n * PROTO_ID_LEN);
    handle_scrape(w, s);
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
        start_scrape(w, c, req);
        return;
    }
    if (reg_note(w, c, &req->ann) != 0) {
        send_error(w, c, req->action, PROTO_ERR_TOO_MANY_TORRENTS, req->info_hash);
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
    case MAIL_REMOVE: handle_remove(w, (struct mail_remove *)m); break;
    default: free(m); break;
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
    HASH_ITER(hh, c->regs, r, tmp)
    {
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
