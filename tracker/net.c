/* net.c - lws protocol callbacks: HTTP routes, WS upgrade, frames in/out.
 *
 * Owns:   the two lws protocols (the tracker's HTTP+WebSocket protocol, first so
 *         upgrades without Sec-WebSocket-Protocol bind to it, and the raw
 *         protocol of the adopted listening sockets), struct conn's lifecycle,
 *         message reassembly and the per-connection output queue.
 * Thread: the worker serving the connection.
 * Why:    one callback, one switch; each case is one call.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../proto/gate.h"
#include "handle.h"
#include "net.h"

/* A socket that is not (yet) a WebSocket: HTTP, or mid-handshake. lws keeps
 * some such states without a timeout of its own (issue 9: h2c and CONNECT
 * sockets lived forever), so each one is on its worker's handshakes list,
 * oldest deadline first, and the tick closes it at the deadline whatever
 * state lws has it in. Set as the wsi's opaque user data. */
struct net_sock {
    struct list_node link; /* in worker.handshakes; unlinked once closed or WebSocket */
    struct lws *wsi;
    int64_t deadline_ms; /* ms, monotonic */
};

/* The opaque user data of an accepted socket that became a WebSocket: it has
 * no net_sock, the idle timeout covers it. */
static char ws_mark;

/* One struct conn per socket: keep it in jemalloc's 128-byte class (issue 4,
 * target 5: memory per idle connection). */
_Static_assert(sizeof(struct conn) <= 128, "struct conn grew past 128 bytes");

static struct worker *worker_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* ---- output ---- */

static void free_out(struct conn *c);

void net_conn_close(struct conn *c, uint16_t code)
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
static void rx_pace(struct worker *w, struct conn *c)
{
    uint32_t soft = w->t->cfg.outq_soft_kib * 1024u;
    if (!c->rx_paused && c->out_bytes > soft) {
        c->rx_paused = true;
        lws_rx_flow_control(c->wsi, 0);
    } else if (c->rx_paused && c->out_bytes <= soft / 2) {
        c->rx_paused = false;
        lws_rx_flow_control(c->wsi, 1);
    }
}

void net_conn_enqueue(struct worker *w, struct conn *c, struct frame *f)
{
    const struct config *cfg = &w->t->cfg;
    net_conn_note_reply(c, f, w->now_ms);
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
    if (!c->out.head && !lws_partial_buffered(c->wsi)) {
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
    mail_queue_push(&c->out, &f->m);
    c->out_bytes += f->len;
    rx_pace(w, c);
    lws_callback_on_writable(c->wsi);
}

static void free_out(struct conn *c)
{
    struct mail *m;
    while ((m = mail_queue_pop(&c->out)) != NULL)
        free(m);
    c->out_bytes = 0;
}

static int on_writeable(struct worker *w, struct conn *c, struct lws *wsi)
{
    if (c->close_code) {
        lws_close_reason(wsi, (enum lws_close_status)c->close_code, NULL, 0);
        return -1;
    }
    for (int k = 0; k < NET_WRITES_PER_CB && c->out.head; k++) {
        struct frame *f;
        int n;
        if (k > 0 && lws_send_pipe_choked(wsi))
            break;
        f = (struct frame *)mail_queue_pop(&c->out);
        c->out_bytes -= f->len;
        n = lws_write(wsi, (unsigned char *)frame_payload(f), f->len, LWS_WRITE_TEXT);
        free(f);
        if (n < 0)
            return -1;
    }
    rx_pace(w, c);
    if (c->out.head)
        lws_callback_on_writable(wsi);
    return 0;
}

/* ---- input ---- */

static int on_established(struct worker *w, struct conn *c, struct lws *wsi)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = lws_get_socket_fd(wsi);

    struct net_sock *ns = lws_get_opaque_user_data(wsi);

    memset(c, 0, sizeof *c);
    c->wsi = wsi;
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0); /* the handshake timeout is over */
    if (ns && ns != (void *)&ws_mark) {
        /* the idle timeout takes over from the handshake deadline */
        list_del(&ns->link);
        free(ns);
        lws_set_opaque_user_data(wsi, &ws_mark);
    }
    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
        c->ipv6 = !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr);
    }
    atomic_fetch_add(&w->t->connections, 1);
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
    lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)why, sizeof why - 1);
    return -1;
}

static int on_receive(struct worker *w, struct conn *c, struct lws *wsi, const char *in, size_t len)
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

/* A request's headers as proto/gate.c judges them, copied out of lws. */
struct http_req_buf {
    struct proto_http_req r;
    char version[16], upgrade[32], connection[128], ws_version[8], ws_key[64],
        protocols[PROTO_SUBPROTOCOLS_MAX + 2], host[256];
};

/* Copy one header; a missing one stays NULL, an over-long one reads as "?",
 * which no rule accepts. */
static const char *hdr(struct lws *wsi, enum lws_token_indexes t, char *buf, int cap)
{
    if (lws_hdr_total_length(wsi, t) <= 0)
        return NULL;
    if (lws_hdr_copy(wsi, buf, cap, t) < 0)
        strcpy(buf, "?");
    return buf;
}

static void read_request(struct lws *wsi, struct http_req_buf *b)
{
    static const char *const methods[] = {
        [LWSHUMETH_GET] = "GET",          [LWSHUMETH_POST] = "POST",
        [LWSHUMETH_OPTIONS] = "OPTIONS",  [LWSHUMETH_PUT] = "PUT",
        [LWSHUMETH_PATCH] = "PATCH",      [LWSHUMETH_DELETE] = "DELETE",
        [LWSHUMETH_CONNECT] = "CONNECT",  [LWSHUMETH_HEAD] = "HEAD",
        [LWSHUMETH_COLON_PATH] = ":path",
    };
    char *uri;
    int ulen, m = lws_http_get_uri_and_method(wsi, &uri, &ulen);
    memset(&b->r, 0, sizeof b->r);
    b->r.method = m >= 0 && (size_t)m < sizeof methods / sizeof methods[0] && methods[m]
                      ? methods[m]
                      : "(unknown)";
    b->r.version = hdr(wsi, WSI_TOKEN_HTTP, b->version, sizeof b->version);
    b->r.upgrade = hdr(wsi, WSI_TOKEN_UPGRADE, b->upgrade, sizeof b->upgrade);
    b->r.connection = hdr(wsi, WSI_TOKEN_CONNECTION, b->connection, sizeof b->connection);
    b->r.ws_version = hdr(wsi, WSI_TOKEN_VERSION, b->ws_version, sizeof b->ws_version);
    b->r.ws_key = hdr(wsi, WSI_TOKEN_KEY, b->ws_key, sizeof b->ws_key);
    b->r.protocols = hdr(wsi, WSI_TOKEN_PROTOCOL, b->protocols, sizeof b->protocols);
    b->r.host = hdr(wsi, WSI_TOKEN_HOST, b->host, sizeof b->host);
}

/* A refusal: the gate's status and one-line reason, written on the socket as
 * it is (lws would write the status line with the request's version, and
 * HTTP/1.0 for an upgrade refused before lws reads it). Returns -1: lws then
 * closes the socket. */
static int http_refuse(struct worker *w, struct lws *wsi, const struct proto_http_verdict *v)
{
    unsigned char buf[LWS_PRE + PROTO_HTTP_REFUSAL_MAX];
    int n = proto_http_refusal((char *)buf + LWS_PRE, PROTO_HTTP_REFUSAL_MAX, v);
    stats_add(&w->stats, STATS_HTTP_REFUSED, 1);
    if (n > 0)
        (void)lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_RAW);
    return -1;
}

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: only websocket over HTTP/1.1 GET, with
 * version 13, goes on (proto/gate.c). Binds the subprotocol alias to the first
 * subprotocol offered so lws accepts and echoes it. */
static int on_confirm_upgrade(struct worker *w, struct lws *wsi)
{
    struct http_req_buf b;
    struct proto_http_verdict v;
    read_request(wsi, &b);
    proto_upgrade_check(&b.r, &v);
    if (v.status)
        return http_refuse(w, wsi, &v);
    snprintf(w->subprotocol, sizeof w->subprotocol, "%s", v.subprotocol);
    return 0;
}

/* CONNECT: lws hands the socket to the raw role before any HTTP callback
 * (issue 9: such sockets were never closed). Refuse it with 405 and close. */
static int on_raw_adopt(struct worker *w, struct lws *wsi)
{
    const struct proto_http_verdict v = {405, "method not allowed", "GET, HEAD", ""};
    return http_refuse(w, wsi, &v);
}

/* The client's close frame: lws echoes it after this callback and maps most
 * bad codes to 1002 itself; the rest (5000 and up, a 1-byte payload, a reason
 * that is not UTF-8) are handled here (proto/gate.c). */
static int on_peer_close(unsigned char *payload, size_t len)
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

/* Put the socket's handshake deadline at now + handshake_timeout. */
static void sock_touch(struct worker *w, struct net_sock *ns)
{
    list_del(&ns->link);
    ns->deadline_ms = w->now_ms + (int64_t)w->t->cfg.handshake_timeout * 1000;
    list_append(&w->handshakes, &ns->link);
}

void net_sock_adopted(struct worker *w, struct lws *wsi)
{
    struct net_sock *ns = calloc(1, sizeof *ns);
    w->n_sockets++;
    atomic_fetch_add(&w->t->sockets, 1);
    if (!ns) {
        lws_set_opaque_user_data(wsi, &ws_mark); /* counted, no deadline: lws's timeout only */
        return;
    }
    ns->wsi = wsi;
    lws_set_opaque_user_data(wsi, ns);
    worker_clock(w);
    sock_touch(w, ns);
}

/* LWS_CALLBACK_WSI_DESTROY, for every wsi of the vhost: release what
 * net_sock_adopted counted. Listening sockets have no opaque data. */
static void on_wsi_destroy(struct worker *w, struct lws *wsi)
{
    struct net_sock *ns = lws_get_opaque_user_data(wsi);
    if (!ns)
        return;
    if (ns != (void *)&ws_mark) {
        list_del(&ns->link);
        free(ns);
    }
    lws_set_opaque_user_data(wsi, NULL);
    w->n_sockets--;
    atomic_fetch_sub(&w->t->sockets, 1);
}

void net_sock_sweep(struct worker *w)
{
    for (unsigned k = 0; k < NET_SWEEP_BUDGET && !list_empty(&w->handshakes); k++) {
        struct net_sock *ns = LIST_ENTRY(w->handshakes.next, struct net_sock, link);
        if (ns->deadline_ms > w->now_ms)
            break;
        list_del(&ns->link); /* freed at WSI_DESTROY */
        stats_add(&w->stats, STATS_SOCKETS_REAPED, 1);
        lws_set_timeout(ns->wsi, PENDING_TIMEOUT_HOLDING_AH, LWS_TO_KILL_ASYNC);
    }
}

/* ---- HTTP routes ---- */

/* A route's body writer: writes into buf[0..cap) and returns the length, or -1
 * when cap is too small (the caller doubles it and calls again). */
typedef int (*http_writer)(struct worker *w, char *buf, size_t cap);

static int write_health(struct worker *w, char *buf, size_t cap)
{
    (void)w;
    return snprintf(buf, cap, "ok") < (int)cap ? 2 : -1;
}

static int write_stats(struct worker *w, char *buf, size_t cap)
{
    struct stats *all[WORKER_MAX];
    for (unsigned k = 0; k < w->t->n_workers; k++)
        all[k] = &w->t->workers[k].stats;
    return stats_write_json(buf, cap, all, w->t->n_workers,
                            (uint64_t)(w->now_ms - w->t->started_ms) / 1000);
}

static int write_not_found(struct worker *w, char *buf, size_t cap)
{
    (void)w;
    return snprintf(buf, cap, "not found") < (int)cap ? 9 : -1;
}

/* The HTTP routes of the tracker's port (PROTOCOL.md section 8). */
static const struct http_route {
    const char *path;
    const char *type; /* content-type */
    http_writer write;
} http_routes[] = {
    {"/health", "text/plain", write_health},
    {"/stats.json", "application/json", write_stats},
    {"/stats", "application/json", write_stats},
};

#define HTTP_BODY_FIRST 4096      /* first allocation of a reply body */
#define HTTP_BODY_MAX   (1 << 20) /* largest reply body */

/* The route's body in a buffer with LWS_PRE bytes of headroom; NULL on failure. */
static char *http_body(struct worker *w, http_writer write, int *len)
{
    for (size_t cap = HTTP_BODY_FIRST; cap <= HTTP_BODY_MAX; cap *= 2) {
        char *buf = malloc(LWS_PRE + cap);
        if (!buf)
            return NULL;
        if ((*len = write(w, buf + LWS_PRE, cap)) >= 0)
            return buf;
        free(buf);
    }
    return NULL;
}

static int on_http(struct worker *w, struct conn *c, struct lws *wsi, const char *path)
{
    unsigned char hdr_buf[LWS_PRE + 512], *start = hdr_buf + LWS_PRE, *p = start,
                                          *end = hdr_buf + sizeof hdr_buf;
    const struct http_route *route = NULL;
    struct net_sock *ns = lws_get_opaque_user_data(wsi);
    struct http_req_buf b;
    struct proto_http_verdict v;
    int n;

    read_request(wsi, &b);
    proto_http_check(&b.r, &v);
    if (v.status)
        return http_refuse(w, wsi, &v);
    worker_clock(w);
    if (ns && ns != (void *)&ws_mark)
        sock_touch(w, ns); /* a keep-alive client gets a full deadline per request */
    for (size_t k = 0; k < sizeof http_routes / sizeof http_routes[0]; k++)
        if (!strcmp(path, http_routes[k].path))
            route = &http_routes[k];
    c->http_body = http_body(w, route ? route->write : write_not_found, &n);
    if (!c->http_body)
        return -1;
    c->http_len = strcmp(b.r.method, "HEAD") ? (uint32_t)n : 0; /* HEAD: headers only */
    if (lws_add_http_common_headers(wsi, route ? HTTP_STATUS_OK : HTTP_STATUS_NOT_FOUND,
                                    route ? route->type : "text/plain", (lws_filepos_t)n, &p,
                                    end) ||
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

static int callback_tracker(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                            size_t len)
{
    struct worker *w = worker_of(wsi);
    struct conn *c = user;

    /* Reasons that come with or without per-session data. */
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: worker_on_wakeup(w); return 0;
    case LWS_CALLBACK_WSI_DESTROY: on_wsi_destroy(w, wsi); return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: return on_confirm_upgrade(w, wsi);
    case LWS_CALLBACK_RAW_ADOPT: return on_raw_adopt(w, wsi);
    case LWS_CALLBACK_RAW_RX: return -1; /* only after a refused CONNECT */
    default: break;
    }
    /* lws calls some reasons (a connection closed before its request was
     * parsed) on a socket that has no per-session data yet. */
    if (!c)
        return lws_callback_http_dummy(wsi, reason, user, in, len);

    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED: return on_established(w, c, wsi);
    case LWS_CALLBACK_RECEIVE: return on_receive(w, c, wsi, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE: return on_writeable(w, c, wsi);
    case LWS_CALLBACK_CLOSED: on_closed(w, c); break;
    case LWS_CALLBACK_HTTP: return on_http(w, c, wsi, in);
    case LWS_CALLBACK_HTTP_WRITEABLE: return on_http_writeable(c, wsi);
    case LWS_CALLBACK_CLOSED_HTTP: on_http_closed(c); break;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: return on_peer_close(in, len);
    default: break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static int callback_listen(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                           size_t len)
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

const struct lws_protocols *net_worker_protocols(struct worker *w)
{
    const struct lws_protocols tracker = {
        "wstracker", callback_tracker, sizeof(struct conn), NET_RX_CHUNK, 0, NULL, 0};
    const struct lws_protocols listen = {NET_PROTOCOL_LISTEN, callback_listen, 0, 0, 0, NULL, 0};
    _Static_assert(NET_PROTOCOLS == sizeof w->protocols / sizeof w->protocols[0],
                   "worker.protocols holds NET_PROTOCOLS entries");
    memset(w->protocols, 0, sizeof w->protocols);
    w->subprotocol[0] = '\0';
    w->protocols[0] = tracker;
    w->protocols[1] = tracker;
    w->protocols[1].name = w->subprotocol; /* lws keeps the pointer: set per upgrade */
    w->protocols[2] = listen;              /* after the alias: never matched by a client */
    return w->protocols;
}
