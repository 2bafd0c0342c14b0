/* net.c - lws protocol callbacks: HTTP routes, WS upgrade, frames in/out.
 *
 * Owns:   the two lws protocols (the tracker's HTTP+WebSocket protocol, first so
 *         upgrades without Sec-WebSocket-Protocol bind to it, and the raw
 *         protocol of the adopted listening sockets), struct conn's lifecycle,
 *         message reassembly and the per-connection output queue.
 * Thread: the worker serving the connection.
 * Why:    one callback, one switch; each case is one call (STYLE.md).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "handle.h"
#include "net.h"

/* One struct conn per socket: keep it in jemalloc's 128-byte class (issue 4,
 * target 5: memory per idle connection). */
_Static_assert(sizeof(struct conn) <= 128, "struct conn grew past 128 bytes");

static struct worker *worker_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* ---- output ---- */

void net_conn_close(struct conn *c, uint16_t code)
{
    if (!c->close_code)
        c->close_code = code;
    lws_callback_on_writable(c->wsi);
}

void net_conn_enqueue(struct worker *w, struct conn *c, struct frame *f)
{
    const struct config *cfg = &w->t->cfg;
    if (c->close_code) {
        free(f);
        return;
    }
    if (f->droppable && c->out_bytes + f->len > cfg->outq_soft_kib * 1024u) {
        stats_add(&w->stats, STATS_OFFERS_DROPPED, 1);
        free(f);
        return;
    }
    if (c->out_bytes + f->len > cfg->outq_hard_kib * 1024u) {
        free(f);
        net_conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION);
        return;
    }
    if (!c->out_head && !lws_partial_buffered(c->wsi)) {
        /* Nothing waits before this frame: write it now. Going through the
         * writeable callback would cost two epoll_ctl calls and a loop turn
         * per frame. If the socket takes only part of it, lws keeps the rest
         * and arms POLLOUT; later frames then queue until it has drained. */
        int n = lws_write(c->wsi, (unsigned char *)frame_payload(f), f->len, LWS_WRITE_TEXT);
        free(f);
        if (n < 0)
            net_conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION);
        return;
    }
    f->m.next = NULL;
    if (c->out_tail)
        c->out_tail->next = &f->m;
    else
        c->out_head = &f->m;
    c->out_tail = &f->m;
    c->out_bytes += f->len;
    lws_callback_on_writable(c->wsi);
}

static void free_out(struct conn *c)
{
    while (c->out_head) {
        struct mail *m = c->out_head;
        c->out_head = m->next;
        free(m);
    }
    c->out_tail = NULL;
    c->out_bytes = 0;
}

static int on_writeable(struct worker *w, struct conn *c, struct lws *wsi)
{
    (void)w;
    if (c->close_code) {
        lws_close_reason(wsi, (enum lws_close_status)c->close_code, NULL, 0);
        return -1;
    }
    for (int k = 0; k < NET_WRITES_PER_CB && c->out_head; k++) {
        struct frame *f = (struct frame *)c->out_head;
        int n;
        if (k > 0 && lws_send_pipe_choked(wsi))
            break;
        c->out_head = f->m.next;
        if (!c->out_head)
            c->out_tail = NULL;
        c->out_bytes -= f->len;
        n = lws_write(wsi, (unsigned char *)frame_payload(f), f->len, LWS_WRITE_TEXT);
        free(f);
        if (n < 0)
            return -1;
    }
    if (c->out_head)
        lws_callback_on_writable(wsi);
    return 0;
}

/* ---- input ---- */

static int on_established(struct worker *w, struct conn *c, struct lws *wsi)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = lws_get_socket_fd(wsi);

    memset(c, 0, sizeof *c);
    c->wsi = wsi;
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0); /* the handshake timeout is over */
    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
        c->ipv6 = !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr);
    }
    if (atomic_fetch_add(&w->t->connections, 1) >= w->t->max_connections) {
        atomic_fetch_sub(&w->t->connections, 1);
        stats_add(&w->stats, STATS_CONNECTIONS_REFUSED, 1);
        lws_close_reason(wsi, (enum lws_close_status)1013 /* try again later */, NULL, 0);
        return -1;
    }
    worker_clock(w);
    c->last_msg_ms = w->now_ms;
    c->ref = worker_conn_register(w, c);
    if (c->ref == ROUTE_CONN_NONE) {
        atomic_fetch_sub(&w->t->connections, 1);
        return -1;
    }
    stats_add(&w->stats, STATS_CONNECTIONS, 1);
    if (w->stopping)
        net_conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY);
    return 0;
}

static void on_closed(struct worker *w, struct conn *c)
{
    if (c->ref == ROUTE_CONN_NONE)
        return;
    handle_conn_closed(w, c);
    free_out(c);
    free(c->rx);
    c->rx = NULL;
    worker_conn_unregister(w, c->ref);
    c->ref = ROUTE_CONN_NONE;
    atomic_fetch_sub(&w->t->connections, 1);
    stats_add(&w->stats, STATS_CONNECTIONS, -1);
    worker_end_pass(w);
}

static int too_big(struct lws *wsi)
{
    static const char why[] = "message too big";
    lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)why,
                     sizeof why - 1);
    return -1;
}

static int on_receive(struct worker *w, struct conn *c, struct lws *wsi, const char *in,
                      size_t len)
{
    size_t max = w->t->cfg.max_message_size;
    size_t remaining = lws_remaining_packet_payload(wsi);
    bool complete = lws_is_final_fragment(wsi) && remaining == 0;
    bool text = !lws_frame_is_binary(wsi);

    if (c->ref == ROUTE_CONN_NONE || c->close_code)
        return 0;
    worker_clock(w);
    if (c->rx_len + len + remaining > max)
        return too_big(wsi);
    if (complete)
        c->last_msg_ms = w->now_ms;
    if (c->rx_len == 0 && complete) {
        handle_message(w, c, in, len, text); /* whole message in one piece: no copy */
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
            handle_message(w, c, c->rx, c->rx_len, text);
            c->rx_len = 0;
            free(c->rx); /* an idle connection keeps no buffer */
            c->rx = NULL;
            c->rx_cap = 0;
        }
    }
    worker_end_pass(w);
    return 0;
}

/* ---- HTTP on the same port ---- */

static int on_http(struct worker *w, struct conn *c, struct lws *wsi, const char *path)
{
    unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr;
    unsigned status = HTTP_STATUS_OK;
    const char *type = "text/plain";
    char body[2048];
    int n;

    if (!strcmp(path, "/health")) {
        n = snprintf(body, sizeof body, "ok");
    } else if (!strcmp(path, "/stats.json") || !strcmp(path, "/stats")) {
        struct stats *all[WORKER_MAX];
        for (unsigned k = 0; k < w->t->n_workers; k++)
            all[k] = &w->t->workers[k].stats;
        worker_clock(w);
        n = stats_write_json(body, sizeof body, all, w->t->n_workers,
                             (uint64_t)(w->now_ms - w->t->started_ms) / 1000);
        type = "application/json";
    } else {
        status = HTTP_STATUS_NOT_FOUND;
        n = snprintf(body, sizeof body, "not found");
    }
    if (n < 0)
        return -1;
    c->http_body = malloc(LWS_PRE + (size_t)n);
    if (!c->http_body)
        return -1;
    memcpy(c->http_body + LWS_PRE, body, (size_t)n);
    c->http_len = (uint32_t)n;
    if (lws_add_http_common_headers(wsi, status, type, (lws_filepos_t)n, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

static int on_http_writeable(struct conn *c, struct lws *wsi)
{
    int n;
    if (!c->http_body)
        return 0;
    n = lws_write(wsi, (unsigned char *)c->http_body + LWS_PRE, c->http_len, LWS_WRITE_HTTP_FINAL);
    free(c->http_body);
    c->http_body = NULL;
    if (n < 0)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static void on_http_closed(struct conn *c)
{
    free(c->http_body);
    c->http_body = NULL;
}

/* ---- the callbacks ---- */

static int callback_tracker(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                            void *in, size_t len)
{
    struct worker *w = worker_of(wsi);
    struct conn *c = user;

    /* lws calls some reasons (a connection closed before its request was
     * parsed) on a socket that has no per-session data yet. */
    if (!c && reason != LWS_CALLBACK_EVENT_WAIT_CANCELLED)
        return lws_callback_http_dummy(wsi, reason, user, in, len);

    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED: return on_established(w, c, wsi);
    case LWS_CALLBACK_RECEIVE: return on_receive(w, c, wsi, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE: return on_writeable(w, c, wsi);
    case LWS_CALLBACK_CLOSED: on_closed(w, c); break;
    case LWS_CALLBACK_HTTP: return on_http(w, c, wsi, in);
    case LWS_CALLBACK_HTTP_WRITEABLE: return on_http_writeable(c, wsi);
    case LWS_CALLBACK_CLOSED_HTTP: on_http_closed(c); break;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: worker_on_wakeup(w); break;
    default: break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static int callback_listen(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                           void *in, size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE: worker_accept(worker_of(wsi), lws_get_socket_fd(wsi)); break;
    default: break;
    }
    return 0;
}

const struct lws_protocols net_protocols[] = {
    {"wstracker", callback_tracker, sizeof(struct conn), NET_RX_CHUNK, 0, NULL, 0},
    {NET_PROTOCOL_LISTEN, callback_listen, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};
