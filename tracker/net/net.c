/* net.c - lws on a worker's loop: context, protocols, the callback switch.
 *
 * Owns:   net_io (the network layer's struct worker_io): a worker's lws
 *         context and vhosts (ws://, and wss:// with --listen-tls: the same
 *         protocols, TLS from tls.c) on the worker's libev loop, its adopted listening
 *         sockets, the sweep timer; the two lws protocols (the tracker's
 *         HTTP+WebSocket protocol, first so upgrades without
 *         Sec-WebSocket-Protocol bind to it, and the raw protocol of the
 *         listening sockets) and their callbacks.
 * Thread: the worker serving the context (destroy: main, after it ended).
 * Why:    one callback, one switch; each case is one call into conn.c,
 *         http.c or sock.c.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "net.h"

/* ---- the callbacks ---- */

static int callback_tracker(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                            size_t len)
{
    struct net_worker *nw = net_of(wsi);
    struct conn *c = user;

    /* Reasons that come with or without per-session data. */
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: worker_drain(nw->w); return 0;
    case LWS_CALLBACK_WSI_DESTROY: sock_destroyed(nw, wsi); return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: return http_confirm_upgrade(nw, wsi);
    case LWS_CALLBACK_RAW_ADOPT: return http_refuse_connect(nw, wsi);
    case LWS_CALLBACK_RAW_RX:
        return -1; /* only after a refused CONNECT */
    /* The TLS vhost's SSL_CTX (user), made by lws_create_vhost. */
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS: return tls_vhost_init(nw, user);
    case LWS_CALLBACK_VHOST_CERT_AGING: /* user: lws's, not a conn */
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS: return 0;
    default: break;
    }
    /* lws calls some reasons (a connection closed before its request was
     * parsed) on a socket that has no per-session data yet. */
    if (!c)
        return lws_callback_http_dummy(wsi, reason, user, in, len);

    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED: return conn_established(nw, c, wsi);
    case LWS_CALLBACK_RECEIVE: return conn_receive(nw, c, wsi, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE: return conn_writeable(nw, c, wsi);
    case LWS_CALLBACK_CLOSED: conn_closed(nw, c); break;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: return conn_peer_close(in, len);
    case LWS_CALLBACK_HTTP: return http_request(nw, c, wsi, in);
    case LWS_CALLBACK_HTTP_WRITEABLE: return http_writeable(c, wsi);
    case LWS_CALLBACK_CLOSED_HTTP: http_closed(c); break;
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
    if (reason == LWS_CALLBACK_RAW_RX_FILE) /* adopted into the vhost of the listener */
        sock_accept(net_of(wsi), lws_get_vhost(wsi), lws_get_socket_fd(wsi));
    return 0;
}

/* The vhost's protocols: the tracker's protocol, an alias of it whose name is
 * the subprotocol the client being upgraded offered first (so lws accepts and
 * echoes it, as npm ws does), and the listener's. */
static const struct lws_protocols *net_protocols(struct net_worker *nw)
{
    /* tx_packet_size: the most lws_issue_raw hands the socket per call
     * (rx_buffer_size when 0): at least a batch, so a batch leaves in one send. */
    const struct lws_protocols tracker = {
        "wstracker", callback_tracker, sizeof(struct conn), NET_RX_CHUNK, 0, NULL, NET_TX_BATCH};
    const struct lws_protocols listen = {NET_PROTOCOL_LISTEN, callback_listen, 0, 0, 0, NULL, 0};
    _Static_assert(NET_PROTOCOLS == sizeof nw->protocols / sizeof nw->protocols[0],
                   "net_worker.protocols holds NET_PROTOCOLS entries");
    memset(nw->protocols, 0, sizeof nw->protocols);
    nw->subprotocol[0] = '\0';
    nw->protocols[0] = tracker;
    nw->protocols[1] = tracker;
    nw->protocols[1].name = nw->subprotocol; /* lws keeps the pointer: set per upgrade */
    nw->protocols[2] = listen;               /* after the alias: never matched by a client */
    return nw->protocols;
}

/* ---- net_io ---- */

/* --log-format json: lws's own lines become log events too ("lws: ..."), so
 * every line parses; as text they keep lws's format. */
static void lws_emit(int level, const char *line)
{
    char msg[LOG_TEXT_MAX];
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    snprintf(msg, sizeof msg, "lws: %.*s", (int)n, line);
    log_event(level & LLL_ERR    ? LOG_ERROR
              : level & LLL_WARN ? LOG_WARN
                                 : LOG_INFO,
              true, msg, NULL, 0);
}

void net_log_init(bool debug, bool json)
{
    lws_set_log_level(debug ? (LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_INFO) : LLL_ERR,
                      json ? lws_emit : NULL);
}

/* An lws timer, not the worker's loop's: what it does to sockets (kills,
 * closes) is then taken up by lws in the same pass. */
static void on_sweep(lws_sorted_usec_list_t *sul)
{
    struct net_worker *nw = LIST_ENTRY(sul, struct net_worker, sweep);
    worker_clock(nw->w);
    conn_idle_sweep(nw);
    sock_sweep(nw);
    net_log_flush(nw);
    tls_sweep(nw);
    worker_end_pass(nw->w);
    lws_sul_schedule(nw->ctx, 0, &nw->sweep, on_sweep, NET_SWEEP_MS * LWS_US_PER_MS);
}

/* No lws "validity" pings. lws 4.1 otherwise schedules a timer per WebSocket
 * (ping after 300 s without a PONG, hang up at 310 s) on one sorted linked list
 * per context, inserted by walking from its head: every connection's insert is
 * O(connections), so 10,000 idle connections per worker cost seconds of CPU
 * when they connect and again every 300 s (bench/results idle runs). Liveness
 * is the tracker's idle timeout instead: clients announce every interval. */
static const lws_retry_bo_t no_validity_timer = {
    .secs_since_valid_ping = 0,
    .secs_since_valid_hangup = 0,
};

/* lws 4.1.6's TLS global init (every context with
 * LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT) writes process globals (the SSL ex-data
 * indexes) and vhost creation reads them: workers make their contexts and
 * vhosts one at a time, all before any serves (the start barrier). Taken once
 * per worker, in net_start, and never while serving: the only lock of net/,
 * and off the hot path (messages, mail and frames take none). */
static pthread_mutex_t context_lock = PTHREAD_MUTEX_INITIALIZER;

/* The wss:// vhost: the same protocols, its own SSL_CTX (lws makes it, then
 * calls LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS: tls_vhost_init);
 * ALPN http/1.1 only (lws would offer h2 by default). */
static struct lws_vhost *create_tls_vhost(struct net_worker *nw)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = nw->protocols;
    info.vhost_name = "wstracker-tls";
    info.retry_and_idle_policy = &no_validity_timer;
    /* lws_context_init_server_ssl checks DO_SSL_GLOBAL_INIT in the vhost's
     * options too: without it the vhost is silently plain. */
    info.options = LWS_SERVER_OPTION_CREATE_VHOST_SSL_CTX | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.alpn = "http/1.1";
    /* lws 4.1.6 also makes a client SSL_CTX for a TLS vhost, loads the OS CA
     * store into it, and at destroy finds it again by an SSL_CTX ex-data index
     * that the next context's TLS init has replaced: it is never freed
     * (LeakSanitizer: 700 KB per tracker). The tracker makes no client
     * connections: lws gets an empty one of ours, freed in net_destroy. */
    if (!(nw->client_ctx = SSL_CTX_new(TLS_client_method())))
        return NULL;
    info.provided_client_ssl_ctx = nw->client_ctx;
    return lws_create_vhost(nw->ctx, &info);
}

static int create_context_locked(struct net_worker *nw)
{
    struct worker *w = nw->w;
    struct lws_context_creation_info info;
    bool tls = w->t->cfg.n_listen_tls > 0;
    memset(&info, 0, sizeof info);
    /* libev (epoll) instead of lws's default poll(): poll() walks every socket
     * on every wakeup, O(connections) per event (bench/results). The loop is
     * the worker's ("foreign" to lws), which also carries its wakeups and tick. */
    nw->foreign_loops[0] = w->loop;
    /* No LWS_SERVER_OPTION_VALIDATE_UTF8: lws checks text frames a byte at a
     * time (3-4 % of the server's CPU in a profile); the scanner checks every
     * string anyway, and the swarm layer checks what it rejects (1007). */
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS |
                   LWS_SERVER_OPTION_LIBEV | (tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0);
    info.foreign_loops = nw->foreign_loops;
    info.user = nw;
    info.count_threads = 1;
    info.timeout_secs = w->t->cfg.handshake_timeout;
    nw->ctx = lws_create_context(&info);
    if (!nw->ctx)
        return -1;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = net_protocols(nw);
    info.vhost_name = "wstracker";
    info.retry_and_idle_policy = &no_validity_timer;
    nw->vh = lws_create_vhost(nw->ctx, &info);
    if (!nw->vh)
        return -1;
    if (tls && !(nw->vh_tls = create_tls_vhost(nw)))
        return -1;
    return 0;
}

static int create_context(struct net_worker *nw)
{
    int r;
    pthread_mutex_lock(&context_lock);
    r = create_context_locked(nw);
    pthread_mutex_unlock(&context_lock);
    return r;
}

/* The end of a loop pass: libev calls prepare watchers just before it waits
 * for events, after every callback of the pass (lws's included), so frames
 * produced anywhere in the pass (receives, mail drains, sweeps) leave
 * together. What a failed send does (conn_close: a writeable request and a
 * grace timeout) is taken up by lws's idle watcher, which every serviced
 * socket starts and which re-arms lws's timer. */
static void on_pass_end(struct ev_loop *loop, ev_prepare *p, int revents)
{
    struct net_worker *nw = p->data;
    (void)loop;
    (void)revents;
    if (nw->n_pending)
        conn_flush_pass(nw);
}

static int net_start(struct worker *w)
{
    struct net_worker *nw = calloc(1, sizeof *nw);
    if (!nw)
        return -1;
    w->net = nw;
    nw->w = w;
    nw->refusals.worker = w->idx;
    nw->refusals.interval_ms = NET_REFUSAL_LOG_MS;
    if (w->t->cfg.msg_rate) {
        /* A message costs ceil(1000 / rate) ms; the burst holds msg_burst of them. */
        uint64_t cost = (1000u + w->t->cfg.msg_rate - 1) / w->t->cfg.msg_rate;
        nw->msg_rate = rate_limit_make(w->t->cfg.msg_rate, cost * w->t->cfg.msg_burst);
    }
    list_init(&nw->handshakes);
    nw->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    nw->tx = malloc(LWS_PRE + NET_TX_BATCH);
    if (!nw->tx)
        return -1;
    ev_prepare_init(&nw->flush, on_pass_end);
    nw->flush.data = nw;
    ev_prepare_start(w->loop, &nw->flush);
    if (create_context(nw) != 0)
        return -1;
    for (unsigned k = 0; k < w->n_listen; k++) {
        lws_sock_file_fd_type u;
        u.filefd = w->listen_fds[k];
        /* ws:// listeners first, then wss:// (worker.h); accept adopts a
         * socket into its listener's vhost. */
        struct lws_vhost *vh = k < w->t->cfg.n_listen ? nw->vh : nw->vh_tls;
        nw->listen_wsi[k] =
            lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, u, NET_PROTOCOL_LISTEN, NULL);
        if (!nw->listen_wsi[k]) {
            log_msg(LOG_ERROR, "worker %u could not adopt its listening socket", w->idx);
            return -1;
        }
        w->listen_fds[k] = -1; /* lws closes it now */
        nw->n_listen = k + 1;
    }
    lws_sul_schedule(nw->ctx, 0, &nw->sweep, on_sweep, NET_SWEEP_MS * LWS_US_PER_MS);
    return 0;
}

/* From any thread. A worker whose start failed has no context; one being
 * destroyed (by main, after every worker ended) has none any more. */
static void net_wake(struct worker *w)
{
    struct net_worker *nw = w->net;
    if (nw && nw->ctx)
        lws_cancel_service(nw->ctx);
}

static void net_deliver(struct worker *w, struct swarm_conn *c, struct frame *f)
{
    conn_enqueue(w->net, conn_of(c), f);
}

static void net_stop(struct worker *w)
{
    struct net_worker *nw = w->net;
    for (unsigned k = 0; k < nw->n_listen; k++)
        if (nw->listen_wsi[k])
            lws_set_timeout(nw->listen_wsi[k], PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
    for (uint32_t s = 0; s < w->slots.n; s++)
        if (w->slots.conn[s])
            conn_close(conn_of(w->slots.conn[s]), LWS_CLOSE_STATUS_GOINGAWAY);
}

static void net_destroy(struct worker *w)
{
    struct net_worker *nw = w->net;
    if (!nw)
        return;
    if (nw->ctx) {
        struct lws_context *ctx = nw->ctx;
        nw->ctx = NULL; /* closes in the destroy mail other workers: none wakes this one */
        lws_context_destroy(ctx);
    }
    ev_prepare_stop(w->loop, &nw->flush); /* the worker's thread has ended */
    SSL_CTX_free(nw->client_ctx);         /* after lws_context_destroy: lws only borrowed it */
    free(nw->pending);
    free(nw->tx);
    if (nw->reserve_fd >= 0)
        close(nw->reserve_fd);
    free(nw);
    w->net = NULL;
}

const struct worker_io net_io = {
    .start = net_start,
    .wake = net_wake,
    .deliver = net_deliver,
    .stop = net_stop,
    .destroy = net_destroy,
};
