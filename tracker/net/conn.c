/* conn.c - a WebSocket connection: reassembly in, frames out.
 *
 * Owns:   struct conn's WebSocket lifecycle (established, receive, writeable,
 *         closed), message reassembly, the output queue and its caps, the
 *         end-of-pass flush (one send per connection per loop pass), the
 *         idle sweep.
 * Thread: the worker serving the connection.
 * Why:    a message is handed whole to the runtime (worker_message), which
 *         returns what the swarm layer decided; frames come back through
 *         net_io.deliver into conn_enqueue.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "gate.h"
#include "net.h"

/* One struct conn per socket: keep it in jemalloc's 128-byte class (issue 4,
 * target 5: memory per idle connection). */
_Static_assert(sizeof(struct conn) <= 128, "struct conn grew past 128 bytes");

/* ---- output ---- */

/* The worker's output-queue gauge (/metrics) follows every change of a
 * connection's out_bytes: a relaxed store when a frame is queued and one when
 * it is sent (every frame waits at least for the end of its pass). */
static void outq_add(struct net_worker *nw, int64_t d)
{
    stats_add(&nw->w->stats, STATS_OUTQ_BYTES, d);
}

static void free_out(struct conn *c)
{
    struct mail *m;
    while ((m = mail_queue_pop(&c->out)) != NULL)
        mail_free(m);
    if (c->out_bytes)
        outq_add(net_of(c->wsi), -(int64_t)c->out_bytes);
    c->out_bytes = 0;
}

void conn_close(struct conn *c, uint16_t code)
{
    if (c->close_code)
        return;
    c->close_code = code;
    free_out(c); /* nothing but the close frame goes out now */
    lws_callback_on_writable(c->wsi);
    /* A client that does not read never makes the socket writeable: cut it
     * after a grace period instead of waiting for a callback that never comes. */
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, NET_CLOSE_GRACE_S);
}

/* Stop reading from a connection whose output is over the soft cap, so a
 * client that does not read cannot make the tracker do more work for it
 * (PROTOCOL.md 6); read again once it has taken half of it. */
static void rx_pace(struct net_worker *nw, struct conn *c)
{
    uint32_t soft = nw->w->t->cfg.outq_soft_kib * 1024u;
    if (!c->rx_paused && c->out_bytes > soft) {
        c->rx_paused = true;
        lws_rx_flow_control(c->wsi, 0);
    } else if (c->rx_paused && c->out_bytes <= soft / 2) {
        c->rx_paused = false;
        lws_rx_flow_control(c->wsi, 1);
    }
}

/* A timed frame (an announce or scrape reply, a forwarded offer or answer, a
 * relay frame) reaches its connection's worker and is handed to lws: the time
 * since the client message it comes from was complete (struct mail.born_ns,
 * read by the worker that received it, carried through mail to the owner and
 * back) goes to this worker's histogram of its kind. One clock read per timed
 * frame (CLOCK_MONOTONIC, vDSO, about 17 ns here). */
static void observe(struct worker *w, const struct frame *f)
{
    struct timespec ts;
    uint64_t now;
    if (!f->timed || !f->m.born_ns)
        return;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    stats_observe(&w->stats, (enum stats_kind)(f->timed - 1),
                  now > f->m.born_ns ? now - f->m.born_ns : 0);
}

/* The unmasked server header of a text frame of len bytes (RFC 6455 5.2):
 * 2, 4 or 10 bytes. */
static size_t frame_header(unsigned char *h, uint32_t len)
{
    h[0] = 0x81; /* FIN, text */
    if (len < 126) {
        h[1] = (unsigned char)len;
        return 2;
    }
    if (len < 65536) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        return 4;
    }
    h[1] = 127;
    memset(h + 2, 0, 4); /* len < 2^32 */
    h[6] = (unsigned char)(len >> 24);
    h[7] = (unsigned char)(len >> 16);
    h[8] = (unsigned char)(len >> 8);
    h[9] = (unsigned char)len;
    return 10;
}

static struct frame *pop_frame(struct net_worker *nw, struct conn *c)
{
    struct frame *f = (struct frame *)mail_queue_pop(&c->out);
    c->out_bytes -= f->len;
    outq_add(nw, -(int64_t)f->len);
    return f;
}

/* One send of what c has queued: the frames that fit NET_TX_BATCH, framed
 * and concatenated into the worker's buffer and handed to lws as raw bytes
 * (LWS_WRITE_RAW on a WebSocket goes straight to the socket, or to SSL_write,
 * lws_issue_raw in 4.1.6); a lone frame, or one too big for the batch, goes
 * as it is (lws writes its header into the frame's headroom: no copy). If
 * the socket takes only part, lws keeps the rest (lws_partial_buffered) and
 * arms POLLOUT. Returns lws_write's result: < 0 means the connection is
 * unusable. */
static int send_some(struct net_worker *nw, struct conn *c, struct lws *wsi)
{
    unsigned char *buf = nw->tx + LWS_PRE;
    struct frame *f = (struct frame *)c->out.head;
    size_t used = 0;
    int n;
    if (!f->m.next || f->len + 10u > NET_TX_BATCH) {
        f = pop_frame(nw, c);
        n = lws_write(wsi, (unsigned char *)frame_payload(f), f->len, LWS_WRITE_TEXT);
        mail_free(&f->m);
        return n;
    }
    while ((f = (struct frame *)c->out.head) != NULL && used + f->len + 10u <= NET_TX_BATCH) {
        f = pop_frame(nw, c);
        used += frame_header(buf + used, f->len);
        memcpy(buf + used, frame_payload(f), f->len);
        used += f->len;
        mail_free(&f->m);
    }
    return lws_write(wsi, buf, used, LWS_WRITE_RAW);
}

/* Write what c has queued while the socket takes it whole, at most
 * NET_WRITES_PER_CB sends; whatever is left waits for the writeable callback.
 * Returns -1 when the connection is unusable. */
static int send_queued(struct net_worker *nw, struct conn *c, struct lws *wsi)
{
    for (int k = 0; k < NET_WRITES_PER_CB && c->out.head; k++) {
        if (lws_partial_buffered(wsi) || (k > 0 && lws_send_pipe_choked(wsi)))
            break;
        if (send_some(nw, c, wsi) < 0)
            return -1;
    }
    rx_pace(nw, c);
    if (c->out.head)
        lws_callback_on_writable(wsi);
    return 0;
}

void conn_enqueue(struct net_worker *nw, struct conn *c, struct frame *f)
{
    struct worker *w = nw->w;
    const struct config *cfg = &w->t->cfg;
    if (c->close_code) {
        mail_free(&f->m);
        return;
    }
    if (f->droppable && c->out_bytes + f->len > cfg->outq_soft_kib * 1024u) {
        stats_add(&w->stats, STATS_OFFERS_DROPPED, 1);
        mail_free(&f->m);
        return;
    }
    if (c->out_bytes + f->len > cfg->outq_hard_kib * 1024u) {
        mail_free(&f->m);
        conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION);
        return;
    }
    observe(w, f); /* handed to lws at the end of this pass or from the writeable callback */
    mail_queue_push(&c->out, &f->m);
    c->out_bytes += f->len;
    outq_add(nw, f->len);
    rx_pace(nw, c);
    if (c->pending)
        return; /* already listed for this pass's flush */
    if (lws_partial_buffered(c->wsi) || c->out.head != &f->m) {
        /* lws holds part of an earlier send, or frames wait for the
         * writeable callback: this one joins them. */
        lws_callback_on_writable(c->wsi);
        return;
    }
    /* The first frame for c in this pass: list c for the flush at the end
     * of the pass (conn_flush_pass), so the frames it gets meanwhile (the
     * reply to its announce, the answers to its offers, offers from other
     * peers) leave together in one send. */
    if (nw->n_pending == nw->cap_pending) {
        uint32_t cap = nw->cap_pending ? 2 * nw->cap_pending : NET_PENDING_FIRST;
        uint64_t *p = cap > nw->cap_pending ? realloc(nw->pending, cap * sizeof *p) : NULL;
        if (!p) {
            lws_callback_on_writable(c->wsi); /* no room to list it: the writeable callback sends */
            return;
        }
        nw->pending = p;
        nw->cap_pending = cap;
    }
    nw->pending[nw->n_pending++] = c->sc.ref;
    c->pending = true;
}

void conn_flush_pass(struct net_worker *nw)
{
    struct worker *w = nw->w;
    /* A connection closed since it was listed is no longer in the slot
     * table (a reused slot has a new generation): its ref finds nothing. */
    for (uint32_t k = 0; k < nw->n_pending; k++) {
        struct swarm_conn *sc = slots_lookup(&w->slots, w->idx, nw->pending[k]);
        struct conn *c;
        if (!sc)
            continue;
        c = conn_of(sc);
        c->pending = false;
        if (c->close_code || !c->out.head)
            continue;
        if (send_queued(nw, c, c->wsi) < 0)
            conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION);
    }
    nw->n_pending = 0;
}

int conn_writeable(struct net_worker *nw, struct conn *c, struct lws *wsi)
{
    if (c->close_code) {
        lws_close_reason(wsi, (enum lws_close_status)c->close_code, NULL, 0);
        return -1;
    }
    if (c->pending)
        return 0; /* the end of this pass sends it */
    return send_queued(nw, c, wsi);
}

/* ---- lifecycle ---- */

int conn_established(struct net_worker *nw, struct conn *c, struct lws *wsi)
{
    struct worker *w = nw->w;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = lws_get_socket_fd(wsi);

    memset(c, 0, sizeof *c);
    c->wsi = wsi;
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0); /* the handshake timeout is over */
    sock_established(nw, wsi);
    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
        c->sc.ipv6 = !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr);
    }
    atomic_fetch_add(&w->t->connections, 1);
    worker_clock(w);
    c->last_msg_ms = (uint32_t)w->now_ms;
    if (worker_conn_open(w, &c->sc) == ROUTE_CONN_NONE) {
        atomic_fetch_sub(&w->t->connections, 1);
        return -1;
    }
    stats_add(&w->stats, STATS_CONNECTIONS, 1);
    stats_add(&w->stats, c->sc.ipv6 ? STATS_CONNECTIONS_IPV6 : STATS_CONNECTIONS_IPV4, 1);
    if (w->stopping)
        conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY);
    return 0;
}

void conn_closed(struct net_worker *nw, struct conn *c)
{
    struct worker *w = nw->w;
    if (c->sc.ref == ROUTE_CONN_NONE)
        return;
    worker_clock(w);
    worker_conn_closed(w, &c->sc);
    free_out(c);
    free(c->rx);
    c->rx = NULL;
    atomic_fetch_sub(&w->t->connections, 1);
    stats_add(&w->stats, STATS_CONNECTIONS, -1);
    stats_add(&w->stats, c->sc.ipv6 ? STATS_CONNECTIONS_IPV6 : STATS_CONNECTIONS_IPV4, -1);
    worker_end_pass(w);
}

/* ---- input ---- */

static int too_big(struct lws *wsi)
{
    static const char why[] = "message too big";
    lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)why, sizeof why - 1);
    return -1;
}

/* The message budget (--msg-rate, --msg-burst): true when the message may be
 * acted on. A message past the budget is refused ("rate limited") and still
 * counted, so a client that keeps sending faster than the rate runs into
 * debt; NET_RATE_CLOSE_MS of it (ten seconds' worth of messages beyond the
 * budget) closes the connection with 1008. */
static bool within_budget(struct net_worker *nw, struct conn *c, const char *msg, size_t len)
{
    struct worker *w = nw->w;
    const struct rate_limit *rl = &nw->msg_rate;
    uint32_t now = (uint32_t)w->now_ms, cost;
    if (!w->t->cfg.msg_rate)
        return true;
    cost = rate_cost_ms(rl, 1);
    if (rate_take(rl, &c->msg_tat, now, cost))
        return true;
    rate_charge(rl, &c->msg_tat, now, cost);
    if (rate_debt_ms(rl, c->msg_tat, now) >= NET_RATE_CLOSE_MS) {
        stats_add(&w->stats, STATS_RATE_CLOSED, 1);
        conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION);
        return false;
    }
    stats_add(&w->stats, STATS_RATE_LIMITED, 1);
    worker_refuse(w, &c->sc, msg, len, PROTO_ERR_RATE_LIMITED);
    return false;
}

/* A connection whose token has expired is closed with 4401 (checked at each
 * message and by the idle sweep). */
static bool token_expired(struct net_worker *nw, struct conn *c, const struct jwt_grant *g)
{
    if (!g || g->exp > nw->w->sw.wall_s)
        return false;
    stats_add(&nw->w->stats, STATS_TOKEN_EXPIRED, 1);
    conn_close(c, NET_CLOSE_TOKEN_EXPIRED);
    return true;
}

static void message(struct net_worker *nw, struct conn *c, const char *msg, size_t len, bool text)
{
    const struct jwt_grant *g = sock_grant(c->wsi);
    uint16_t code;
    if (token_expired(nw, c, g) || !within_budget(nw, c, msg, len))
        return;
    code = worker_message(nw->w, &c->sc, msg, len, text, g, sock_addr(c->wsi));
    if (code)
        conn_close(c, code);
}

int conn_receive(struct net_worker *nw, struct conn *c, struct lws *wsi, const char *in, size_t len)
{
    struct worker *w = nw->w;
    size_t max = w->t->cfg.max_message_size;
    size_t remaining = lws_remaining_packet_payload(wsi);
    bool complete = lws_is_final_fragment(wsi) && remaining == 0;
    bool text = !lws_frame_is_binary(wsi);

    if (c->sc.ref == ROUTE_CONN_NONE || c->close_code)
        return 0;
    worker_clock(w);
    if (c->rx_len + len + remaining > max)
        return too_big(wsi);
    if (complete)
        c->last_msg_ms = (uint32_t)w->now_ms;
    if (c->rx_len == 0 && complete) {
        message(nw, c, in, len, text); /* whole message in one piece: no copy */
    } else {
        if (c->rx_len + len > c->rx_cap) {
            /* Room for the rest of this frame at once: one allocation for an
             * unfragmented message; doubling across fragments. */
            size_t cap = c->rx_len + len + remaining;
            if (cap < 2 * (size_t)c->rx_cap)
                cap = 2 * (size_t)c->rx_cap;
            if (cap > max)
                cap = max;
            char *rx = realloc(c->rx, cap);
            if (!rx)
                return -1;
            c->rx = rx;
            c->rx_cap = (uint32_t)cap;
        }
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += (uint32_t)len;
        if (complete) {
            message(nw, c, c->rx, c->rx_len, text);
            c->rx_len = 0;
            free(c->rx); /* an idle connection keeps no buffer */
            c->rx = NULL;
            c->rx_cap = 0;
        }
    }
    worker_end_pass(w);
    return 0;
}

/* The client's close frame: lws echoes it after this callback and maps most
 * bad codes to 1002 itself; the rest (5000 and up, a 1-byte payload, a reason
 * that is not UTF-8) are handled here (proto/gate.c). */
int conn_peer_close(unsigned char *payload, size_t len)
{
    switch (proto_close_check(payload, len)) {
    case PROTO_CLOSE_ECHO: return 0;
    case PROTO_CLOSE_PROTOCOL:
        payload[0] = (unsigned char)(LWS_CLOSE_STATUS_PROTOCOL_ERR >> 8);
        payload[1] = (unsigned char)(LWS_CLOSE_STATUS_PROTOCOL_ERR & 0xff);
        return 0;
    case PROTO_CLOSE_FAIL: break;
    }
    return -1;
}

/* Close connections without a complete message for idle_timeout: a bounded
 * number of slots per tick, so the whole table is covered every few seconds. */
void conn_idle_sweep(struct net_worker *nw)
{
    struct worker *w = nw->w;
    uint32_t limit = w->t->cfg.idle_timeout * 1000u; /* <= 86,400,000: no wrap */
    for (uint32_t k = 0; k < NET_IDLE_BUDGET && w->slots.n; k++) {
        struct swarm_conn *sc;
        if (nw->idle_cursor >= w->slots.n)
            nw->idle_cursor = 0;
        sc = w->slots.conn[nw->idle_cursor++];
        if (sc) {
            struct conn *c = conn_of(sc);
            if (!c->close_code && (uint32_t)w->now_ms - c->last_msg_ms >= limit)
                conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY);
            else if (!c->close_code)
                (void)token_expired(nw, c, sock_grant(c->wsi));
        }
    }
}
