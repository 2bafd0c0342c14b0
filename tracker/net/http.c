/* http.c - the HTTP side of the tracker's port: admission and routes.
 *
 * Owns:   reading a request's headers out of lws for proto/gate.c, refusals
 *         (written raw), the token check shared by the upgrade and the
 *         token routes, the route table {path, content type, writer, cors,
 *         token} and the reply body of an HTTP request.
 * Thread: the worker serving the socket.
 * Why:    the rules are pure (proto/gate.c); this file only copies headers in
 *         and writes the verdict or the body out.
 */
#define _GNU_SOURCE /* strcasestr */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <time.h>

#include <sodium.h>

#include "assets.h"
#include "gate.h"
#include "net.h"
#include "jwt.h"
#include "metrics.h"
#include "procstat.h"
#include "turn.h"

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
static int http_refuse(struct net_worker *nw, struct lws *wsi, const struct proto_http_verdict *v)
{
    unsigned char buf[LWS_PRE + PROTO_HTTP_REFUSAL_MAX];
    int n = proto_http_refusal((char *)buf + LWS_PRE, PROTO_HTTP_REFUSAL_MAX, v);
    stats_add(&nw->w->stats, STATS_HTTP_REFUSED, 1);
    if (n > 0)
        (void)lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_RAW);
    return -1;
}

/* The client's address: the socket's peer, or what a trusted proxy says
 * (access/realip.c). */
static struct ip_addr client_ip(struct net_worker *nw, struct lws *wsi)
{
    const struct config *cfg = &nw->w->t->cfg;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    struct ip_addr peer, who;
    char *xff;
    int fd = lws_get_socket_fd(wsi), total;
    memset(&peer, 0, sizeof peer);
    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET6) {
            memcpy(peer.b, ((const struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr, 16);
        } else if (ss.ss_family == AF_INET) {
            peer.b[10] = peer.b[11] = 0xff;
            memcpy(peer.b + 12, &((const struct sockaddr_in *)&ss)->sin_addr.s_addr, 4);
        }
    }
    total = lws_hdr_total_length(wsi, WSI_TOKEN_X_FORWARDED_FOR);
    if (!cfg->n_trust_proxy || total <= 0)
        return peer;
    /* The whole header (lws joins repeated ones with commas, so a proxy's
     * own line comes last); a copy lws refuses leaves the peer, never a
     * guess. Forwarded is not read: lws 4.1 shows only its first line,
     * which the client may have written. */
    xff = malloc(2 * (size_t)total + 2);
    if (!xff)
        return peer;
    who = lws_hdr_copy(wsi, xff, 2 * total + 2, WSI_TOKEN_X_FORWARDED_FOR) > 0
              ? realip(&peer, xff, cfg->trust_proxy, cfg->n_trust_proxy)
              : peer;
    free(xff);
    return who;
}

/* A refused upgrade of class cls: logged (rate-limited per class; the
 * client's address and, for 403, its Origin are read only for a line that
 * is printed), then refused. Returns -1. */
static int refuse_logged(struct net_worker *nw, struct lws *wsi, enum net_refusal cls,
                         const struct proto_http_verdict *v)
{
    net_refused(nw, cls, (unsigned)v->status, v->reason);
    if (log_limit_due(&nw->refusals, nw->w->now_ms, cls)) {
        struct ip_addr ip = client_ip(nw, wsi);
        char addr[REALIP_TEXT_MAX], origin[ORIGIN_MAX] = "";
        ip_format(&ip, addr, sizeof addr);
        if (cls == NET_REFUSED_ORIGIN &&
            lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) < 0)
            strcpy(origin, "?");
        net_log_refused(nw, cls, -1, addr, (unsigned)v->status, v->reason,
                        cls == NET_REFUSED_ORIGIN ? origin : NULL);
    }
    return http_refuse(nw, wsi, v);
}

/* --allow-origin: a browser's upgrade from another origin is refused; a
 * request without Origin (not a browser) is not judged by it. */
static bool origin_ok(struct net_worker *nw, struct lws *wsi)
{
    const struct config *cfg = &nw->w->t->cfg;
    char origin[ORIGIN_MAX];
    int n;
    if (!cfg->n_allow_origin || lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) <= 0)
        return true;
    n = lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN);
    return n > 0 && origin_allowed(origin, (size_t)n, cfg->allow_origin, cfg->n_allow_origin);
}

/* The client's token: "Authorization: Bearer T" or the URL's "token=T".
 * Returns its length, 0 when there is none, -1 when it is longer than cap-1. */
static int token_of(struct lws *wsi, char *buf, int cap)
{
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n > 0) {
        if (n >= cap || lws_hdr_copy(wsi, buf, cap, WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
            return -1;
        if (n > 7 && strncasecmp(buf, "Bearer ", 7) == 0) {
            memmove(buf, buf + 7, (size_t)n - 6);
            return n - 7;
        }
    }
    for (int i = 0; (n = lws_hdr_copy_fragment(wsi, buf, cap, WSI_TOKEN_HTTP_URI_ARGS, i)) > 0;
         i++) {
        if (n > 6 && strncmp(buf, "token=", 6) == 0) {
            memmove(buf, buf + 6, (size_t)n - 5);
            return n - 6;
        }
    }
    return n < 0 && lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) >= cap ? -1 : 0;
}

/* The value of URL argument name ("peer_id=") copied into buf; NULL when it
 * is absent or does not fit. Unlike lws_get_urlarg_by_name, which ends its
 * search at the first argument longer than buf, an argument that does not fit
 * (a token before peer_id=) is skipped. */
static const char *url_arg(struct lws *wsi, const char *name, char *buf, int cap)
{
    size_t sl = strlen(name);
    for (int i = 0;; i++) {
        if (lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i) >= cap)
            continue; /* exists (longer than 0) and is not the one */
        if (lws_hdr_copy_fragment(wsi, buf, cap, WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
            return NULL; /* it fits, so -1 means there is no argument i */
        if (!strncmp(buf, name, sl))
            return buf + sl;
    }
}

/* token_verify's scratch: one allocation for the token and its verdict. */
struct token_scratch {
    char tok[JWS_TOKEN_MAX + 8];
    struct jwt_verdict v;
};

/* Tokens on: verify the client's token (token_of), for the upgrade and for
 * the routes that need one. Returns 0 when tokens are off or the token
 * verifies, with its grant in *grant when grant is not NULL (NULL when tokens
 * are off); otherwise the status to refuse with (401, or 503 out of memory)
 * with the one-line reason in *reason, counted in tokenRefused. */
static unsigned token_verify(struct worker *w, struct lws *wsi, struct jwt_grant **grant,
                             const char **reason)
{
    struct jwt_auth *a = atomic_load_explicit(&w->t->auth, memory_order_seq_cst);
    struct token_scratch *s;
    unsigned status = 401;
    enum jwt_status st = JWT_OK;
    bool oom = false;
    int n;
    if (grant)
        *grant = NULL;
    if (!a)
        return 0;
    *reason = "token missing";
    if (!(s = malloc(sizeof *s)))
        oom = true;
    else if ((n = token_of(wsi, s->tok, JWS_TOKEN_MAX + 1)) < 0)
        *reason = jwt_status_reason(JWT_MALFORMED);
    else if (n > 0 &&
             (st = jwt_verify(&a->policy, s->tok, (size_t)n, (int64_t)time(NULL), &s->v)) != JWT_OK)
        *reason = jwt_status_reason(st);
    else if (n > 0 && grant && !(*grant = jwt_grant_make(&s->v)))
        oom = true;
    else if (n > 0)
        status = 0;
    if (oom) {
        status = 503;
        *reason = "out of memory";
    }
    free(s);
    if (status)
        stats_add(&w->stats, STATS_TOKEN_REFUSED, 1);
    return status;
}

/* The upgrade with tokens on: the token verified once, here, and its grant
 * kept with the socket. Returns 0, or the refusal (401 with the reason). */
static int token_check(struct net_worker *nw, struct lws *wsi)
{
    struct proto_http_verdict no = {0, NULL, NULL, ""};
    struct jwt_grant *g;
    no.status = token_verify(nw->w, wsi, &g, &no.reason);
    if (!no.status && (!g || sock_set_grant(wsi, g)))
        return 0;
    if (!no.status) { /* sock_set_grant freed g */
        no.status = 503;
        no.reason = "out of memory";
    }
    return refuse_logged(nw, wsi, NET_REFUSED_TOKEN, &no);
}

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: only websocket over HTTP/1.1 GET, with
 * version 13, goes on (proto/gate.c), from an allowed origin (403), and only while the client's
 * address holds fewer than --max-conns-per-ip WebSockets (429). Binds the subprotocol alias to the
 * first subprotocol offered so lws accepts and echoes it. */
int http_confirm_upgrade(struct net_worker *nw, struct lws *wsi)
{
    struct http_req_buf b;
    struct proto_http_verdict v;
    read_request(wsi, &b);
    proto_upgrade_check(&b.r, &v);
    if (v.status)
        return refuse_logged(nw, wsi, NET_REFUSED_UPGRADE, &v);
    if (!origin_ok(nw, wsi)) {
        const struct proto_http_verdict no = {403, "origin not allowed", NULL, ""};
        stats_add(&nw->w->stats, STATS_ORIGIN_REFUSED, 1);
        return refuse_logged(nw, wsi, NET_REFUSED_ORIGIN, &no);
    }
    {
        /* the address key is kept for --announce-rate even without a per-IP cap */
        struct ip_addr ip = client_ip(nw, wsi);
        if (!sock_take_ip(nw, wsi, ip_cap_key(&ip))) {
            const struct proto_http_verdict busy = {429, "too many connections from this address",
                                                    NULL, ""};
            stats_add(&nw->w->stats, STATS_IP_REFUSED, 1);
            return refuse_logged(nw, wsi, NET_REFUSED_PER_IP, &busy);
        }
    }
    if (token_check(nw, wsi) != 0)
        return -1;
    snprintf(nw->subprotocol, sizeof nw->subprotocol, "%s", v.subprotocol);
    return 0;
}

/* CONNECT: lws hands the socket to the raw role before any HTTP callback
 * (issue 9: such sockets were never closed). Refuse it with 405 and close. */
int http_refuse_connect(struct net_worker *nw, struct lws *wsi)
{
    const struct proto_http_verdict v = {405, "method not allowed", "GET, HEAD", ""};
    return refuse_logged(nw, wsi, NET_REFUSED_UPGRADE, &v);
}

/* ---- routes ---- */

/* One HTTP request being answered: what a route's writer may read and set. */
struct http_call {
    struct worker *w;
    struct lws *wsi;
    int status;         /* HTTP_STATUS_OK unless the writer sets another */
    const char *type;   /* content-type; the route's unless the writer sets another */
    const char *reason; /* a refused token's one-line reason (write_refusal) */
};

/* A route's body writer: writes into buf[0..cap) and returns the length, or -1
 * when cap is too small (the caller doubles it and calls again). */
typedef int (*http_writer)(struct http_call *call, char *buf, size_t cap);

static int write_text(struct http_call *call, int status, const char *text, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s", text);
    call->status = status;
    call->type = "text/plain";
    return n < (int)cap ? n : -1;
}

static int write_health(struct http_call *call, char *buf, size_t cap)
{
    (void)call;
    return snprintf(buf, cap, "ok") < (int)cap ? 2 : -1;
}

static int write_stats(struct http_call *call, char *buf, size_t cap)
{
    const struct tracker *t = call->w->t;
    struct stats *all[WORKER_MAX];
    const char *reasons[PROTO_STATUS_COUNT];
    for (unsigned k = 0; k < t->n_workers; k++)
        all[k] = &t->workers[k].stats;
    for (unsigned k = 0; k < PROTO_STATUS_COUNT; k++)
        reasons[k] = k ? proto_status_reason((enum proto_status)k) : NULL;
    int n = stats_write_json(buf, cap, all, t->n_workers,
                             (uint64_t)(call->w->now_ms - t->started_ms) / 1000, reasons,
                             PROTO_STATUS_COUNT);
    /* With TLS: the served certificate's expiry, unix s, as the last field
     * (tls.c: t->tls is read between this worker's sweeps, as the lists are). */
    const struct net_tls *tls = atomic_load_explicit(&t->tls, memory_order_seq_cst);
    if (n > 0 && tls && buf[n - 1] == '}') {
        int m = snprintf(buf + n - 1, cap - (size_t)n + 1, ",\"tlsCertExpiry\":%lld}",
                         (long long)tls->not_after);
        n = m > 0 && (size_t)m < cap - (size_t)n + 1 ? n - 1 + m : -1;
    }
    return n;
}

#define HTTP_METRICS_FIRST 32768 /* /metrics is about 17 KiB with 2 workers */

/* GET /metrics (obs/metrics.c): the stats of every worker, the process's
 * figures (/proc: obs/procstat.c; the allocator's when main registered it). The
 * figures are read again if the body needs a larger buffer: a retry reads
 * fresh values, as a second scrape would. */
static int write_metrics(struct http_call *call, char *buf, size_t cap)
{
    const struct tracker *t = call->w->t;
    struct stats *all[WORKER_MAX];
    const char *reasons[PROTO_STATUS_COUNT];
    struct metrics_process proc;
    struct metrics_input in;
    if (cap < HTTP_METRICS_FIRST)
        return -1; /* the body is larger: skip reading /proc for a buffer too small */
    for (unsigned k = 0; k < t->n_workers; k++)
        all[k] = &t->workers[k].stats;
    for (unsigned k = 0; k < PROTO_STATUS_COUNT; k++)
        reasons[k] = k ? proto_status_reason((enum proto_status)k) : NULL;
    memset(&proc, 0, sizeof proc);
    procstat_read(&proc);
    proc.have_alloc = t->alloc_stats && t->alloc_stats(&proc);
    in.all = all;
    in.n = t->n_workers;
    in.reason_names = reasons;
    in.n_reasons = PROTO_STATUS_COUNT;
    in.version = WSTRACKER_VERSION;
    in.uptime_ms = (uint64_t)(call->w->now_ms - t->started_ms);
    in.proc = &proc;
    {
        /* read between this worker's sweeps, as write_stats does */
        const struct net_tls *tls = atomic_load_explicit(&t->tls, memory_order_seq_cst);
        in.tls_cert_expiry_s = tls ? tls->not_after : 0;
    }
    return metrics_write(buf, cap, &in);
}

/* The request's Accept header asks for JSON: it names application/json and
 * not text/html (a browser's Accept names text/html; bittorrent-tracker
 * answers JSON for exactly "application/json"). */
static bool accept_json(struct lws *wsi)
{
    char accept[512];
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_ACCEPT);
    if (n <= 0 || n >= (int)sizeof accept ||
        lws_hdr_copy(wsi, accept, sizeof accept, WSI_TOKEN_HTTP_ACCEPT) < 0)
        return false;
    return strcasestr(accept, "application/json") && !strcasestr(accept, "text/html");
}

#define STATS_PAGE_MARK "<!--SUMMARY-->" /* where web/stats.html takes the summary */

/* GET /stats: the page (web/stats.html) with bittorrent-tracker's summary
 * lines written in at its mark, or /stats.json's body for an Accept that asks
 * for JSON. */
static int write_stats_page(struct http_call *call, char *buf, size_t cap)
{
    const struct tracker *t = call->w->t;
    struct stats *all[WORKER_MAX];
    const char *page = (const char *)asset_stats_html;
    const char *mark = strstr(page, STATS_PAGE_MARK);
    size_t head, tail_at, tail;
    int n;
    if (accept_json(call->wsi)) {
        call->type = "application/json";
        return write_stats(call, buf, cap);
    }
    if (!mark)
        return write_text(call, HTTP_STATUS_INTERNAL_SERVER_ERROR, "stats page missing", buf, cap);
    for (unsigned k = 0; k < t->n_workers; k++)
        all[k] = &t->workers[k].stats;
    head = (size_t)(mark - page);
    tail_at = head + strlen(STATS_PAGE_MARK);
    tail = asset_stats_html_len - tail_at;
    if (head >= cap)
        return -1;
    memcpy(buf, page, head);
    n = stats_write_summary_html(buf + head, cap - head, all, t->n_workers);
    if (n < 0 || head + (size_t)n + tail > cap)
        return -1;
    memcpy(buf + head + (size_t)n, page + tail_at, tail);
    return (int)(head + (size_t)n + tail);
}

/* GET /stats/history.json: the sample ring (obs/history.h). */
static int write_history(struct http_call *call, char *buf, size_t cap)
{
    struct tracker *t = call->w->t;
    return history_write_json(buf, cap, &t->history, t->cfg.stats_interval);
}

static int write_not_found(struct http_call *call, char *buf, size_t cap)
{
    return write_text(call, HTTP_STATUS_NOT_FOUND, "not found", buf, cap);
}

/* A token route's refusal (call->status 401 or 503, set by http_request):
 * the reason as one line, as the upgrade's refusal has it. */
static int write_refusal(struct http_call *call, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s\n", call->reason);
    call->type = "text/plain";
    return n < (int)cap ? n : -1;
}

/* GET /turn?peer_id=<40 hex digits>: TURN credentials valid for --turn-ttl
 * (access/turn.c); 404 without --turn-secret, 400 for a bad peer_id. With
 * tokens on, http_request has verified the token first (any valid token: the
 * request names no info hash to hold against its scope). */
static int write_turn(struct http_call *call, char *buf, size_t cap)
{
    const struct config *cfg = &call->w->t->cfg;
    const char *urls[CONFIG_TURN_URLS];
    char arg[96], user[TURN_USERNAME_MAX], cred[TURN_CREDENTIAL_MAX];
    uint8_t pid[20];
    size_t pid_len = 0;
    const char *hex;
    if (!cfg->turn_secret[0])
        return write_not_found(call, buf, cap);
    hex = url_arg(call->wsi, "peer_id=", arg, (int)sizeof arg);
    if (!hex || strlen(hex) != 40 ||
        sodium_hex2bin(pid, sizeof pid, hex, 40, NULL, &pid_len, NULL) != 0 || pid_len != 20)
        return write_text(call, HTTP_STATUS_BAD_REQUEST, "invalid peer_id", buf, cap);
    if (turn_username(user, sizeof user, (uint64_t)time(NULL) + cfg->turn_ttl, pid) < 0 ||
        turn_credential(cred, sizeof cred, cfg->turn_secret, strlen(cfg->turn_secret), user) < 0)
        return -1;
    for (unsigned k = 0; k < cfg->n_turn_urls; k++)
        urls[k] = cfg->turn_urls[k];
    return turn_write_reply(buf, cap, urls, cfg->n_turn_urls, user, cred, cfg->turn_ttl);
}

static int write_asset(const unsigned char *data, unsigned len, char *buf, size_t cap)
{
    if (len > cap)
        return -1;
    memcpy(buf, data, len);
    return (int)len;
}

static int write_room_js(struct http_call *call, char *buf, size_t cap)
{
    (void)call;
    return write_asset(asset_room_js, asset_room_js_len, buf, cap);
}

static int write_demo(struct http_call *call, char *buf, size_t cap)
{
    (void)call;
    return write_asset(asset_demo_html, asset_demo_html_len, buf, cap);
}

/* The HTTP routes of the tracker's port (PROTOCOL.md section 8). */
static const struct http_route {
    const char *path;
    const char *type; /* content-type */
    http_writer write;
    bool cors;  /* readable from pages of any origin */
    bool token; /* tokens on: refused with 401 without a valid token */
} http_routes[] = {
    {"/health", "text/plain", write_health, false, false},
    {"/stats.json", "application/json", write_stats, false, false},
    {"/stats", "text/html; charset=utf-8", write_stats_page, false, false},
    {"/stats/history.json", "application/json", write_history, false, false},
    {"/metrics", METRICS_CONTENT_TYPE, write_metrics, false, false},
    {"/turn", "application/json", write_turn, true, true},
    {"/room.js", "text/javascript; charset=utf-8", write_room_js, true, false},
    {"/demo", "text/html; charset=utf-8", write_demo, false, false},
};

#define HTTP_BODY_FIRST 4096      /* first allocation of a reply body */
#define HTTP_BODY_MAX   (1 << 20) /* largest reply body */

/* The route's body in a buffer with LWS_PRE bytes of headroom; NULL on failure. */
static char *http_body(struct http_call *call, http_writer write, int *len)
{
    for (size_t cap = HTTP_BODY_FIRST; cap <= HTTP_BODY_MAX; cap *= 2) {
        char *buf = malloc(LWS_PRE + cap);
        if (!buf)
            return NULL;
        if ((*len = write(call, buf + LWS_PRE, cap)) >= 0)
            return buf;
        free(buf);
    }
    return NULL;
}

int http_request(struct net_worker *nw, struct conn *c, struct lws *wsi, const char *path)
{
    unsigned char hdr_buf[LWS_PRE + 512], *start = hdr_buf + LWS_PRE, *p = start,
                                          *end = hdr_buf + sizeof hdr_buf;
    const struct http_route *route = NULL;
    struct http_call call;
    http_writer write;
    struct http_req_buf b;
    struct proto_http_verdict v;
    int n;

    read_request(wsi, &b);
    proto_http_check(&b.r, &v);
    if (v.status)
        return http_refuse(nw, wsi, &v);
    worker_clock(nw->w);
    sock_touch_request(nw, wsi); /* a keep-alive client gets a full deadline per request */
    for (size_t k = 0; k < sizeof http_routes / sizeof http_routes[0]; k++)
        if (!strcmp(path, http_routes[k].path))
            route = &http_routes[k];
    call.w = nw->w;
    call.wsi = wsi;
    call.status = HTTP_STATUS_OK;
    call.type = route ? route->type : "text/plain";
    call.reason = NULL;
    write = route ? route->write : write_not_found;
    if (route && route->token) {
        unsigned no = token_verify(nw->w, wsi, NULL, &call.reason);
        if (no) {
            call.status = (int)no;
            write = write_refusal;
        }
    }
    c->http_body = http_body(&call, write, &n);
    if (!c->http_body)
        return -1;
    c->http_len = strcmp(b.r.method, "HEAD") ? (uint32_t)n : 0; /* HEAD: headers only */
    if (lws_add_http_common_headers(wsi, (unsigned)call.status, call.type, (lws_filepos_t)n, &p,
                                    end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        (route && route->write == write_stats_page &&
         lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_VARY, (const unsigned char *)"Accept", 6,
                                      &p, end)) ||
        (call.status == HTTP_STATUS_UNAUTHORIZED &&
         lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_WWW_AUTHENTICATE,
                                      (const unsigned char *)"Bearer", 6, &p, end)) ||
        (route && route->cors &&
         lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_ACCESS_CONTROL_ALLOW_ORIGIN,
                                      (const unsigned char *)"*", 1, &p, end)) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

int http_writeable(struct conn *c, struct lws *wsi)
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

void http_closed(struct conn *c)
{
    free(c->http_body);
    c->http_body = NULL;
}
