/* sock.c - accepting sockets, counting them, and their handshake deadlines.
 *
 * Owns:   accept on a worker's listening sockets (the --max-connections cap,
 *         the reserve descriptor for EMFILE), struct net_sock and the
 *         handshake-deadline list, the count of open sockets, and the place
 *         a WebSocket holds in its address's count (--max-conns-per-ip).
 * Thread: the worker owning the listener and the sockets.
 * Why:    lws keeps some states without a timeout of its own (issue 9: h2c
 *         and CONNECT sockets lived forever), so every socket that is not
 *         (yet) a WebSocket is on its worker's handshakes list, oldest
 *         deadline first, and the sweep closes it at the deadline whatever
 *         state lws has it in.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gate.h"
#include "net.h"

/* An accepted socket, for its whole life; the wsi's opaque user data. */
struct net_sock {
    struct list_node link; /* in net_worker.handshakes; unlinked once closed or WebSocket */
    struct lws *wsi;
    struct jwt_grant *grant; /* its token's expiry and scope (tokens on), owned */
    uint64_t addr;           /* ip_cap_key of the client's address, set at the upgrade */
    uint32_t deadline_ms;    /* low 32 bits of the monotonic ms deadline */
    struct ipcount_slots ip; /* its place in its address's count; a == b (zero): none */
};

/* One per socket for its whole life: keep it in jemalloc's 48-byte class
 * (issue 14, target 5: it was 56 bytes, the 64-byte class). */
_Static_assert(sizeof(struct net_sock) <= 48, "struct net_sock grew past 48 bytes");

/* It holds a place in its address's count (ipcount_slots never gives a == b). */
static bool ip_counted(const struct net_sock *ns)
{
    return ns->ip.a != ns->ip.b;
}

/* The opaque user data of an accepted socket whose net_sock could not be
 * made: counted, under lws's own timeouts only. */
static char ws_mark;

/* Put the socket's handshake deadline at now + handshake_timeout. */
static void touch(struct net_worker *nw, struct net_sock *ns)
{
    list_del(&ns->link);
    ns->deadline_ms = (uint32_t)nw->w->now_ms + nw->w->t->cfg.handshake_timeout * 1000u;
    list_append(&nw->handshakes, &ns->link);
}

static void count(struct net_worker *nw, int d)
{
    nw->n_sockets += (uint64_t)(int64_t)d;
    if (d > 0)
        atomic_fetch_add(&nw->w->t->sockets, 1);
    else
        atomic_fetch_sub(&nw->w->t->sockets, 1);
    stats_set(&nw->w->stats, STATS_SOCKETS, nw->n_sockets);
}

/* A socket adopted from accept: count it and put it under the handshake
 * deadline until it becomes a WebSocket. */
static void adopted(struct net_worker *nw, struct lws *wsi)
{
    struct net_sock *ns = calloc(1, sizeof *ns);
    count(nw, 1);
    if (!ns) {
        lws_set_opaque_user_data(wsi, &ws_mark); /* counted, no deadline: lws's timeout only */
        return;
    }
    ns->wsi = wsi;
    lws_set_opaque_user_data(wsi, ns);
    worker_clock(nw->w);
    touch(nw, ns);
}

void sock_established(struct net_worker *nw, struct lws *wsi)
{
    struct net_sock *ns = lws_get_opaque_user_data(wsi);
    (void)nw;
    if (ns && ns != (void *)&ws_mark)
        list_del(&ns->link); /* the idle timeout takes over from the handshake deadline */
}

bool sock_take_ip(struct net_worker *nw, struct lws *wsi, uint64_t key)
{
    struct net_sock *ns = lws_get_opaque_user_data(wsi);
    struct tracker *t = nw->w->t;
    struct ipcount_slots s;
    if (ns && ns != (void *)&ws_mark)
        ns->addr = key;
    if (!t->cfg.max_conns_per_ip || !ns || ns == (void *)&ws_mark || ip_counted(ns))
        return true; /* off; no place to remember it (out of memory); taken already */
    s = ipcount_slots(&t->ipcount, key);
    if (!ipcount_take(&t->ipcount, s, t->cfg.max_conns_per_ip))
        return false;
    ns->ip = s;
    return true;
}

bool sock_set_grant(struct lws *wsi, struct jwt_grant *g)
{
    struct net_sock *ns = lws_get_opaque_user_data(wsi);
    if (!ns || ns == (void *)&ws_mark) {
        free(g);
        return false;
    }
    free(ns->grant);
    ns->grant = g;
    return true;
}

const struct jwt_grant *sock_grant(struct lws *wsi)
{
    struct net_sock *ns = lws_get_opaque_user_data(wsi);
    return ns && ns != (void *)&ws_mark ? ns->grant : NULL;
}

uint64_t sock_addr(struct lws *wsi)
{
    struct net_sock *ns = lws_get_opaque_user_data(wsi);
    return ns && ns != (void *)&ws_mark ? ns->addr : 0;
}

void sock_touch_request(struct net_worker *nw, struct lws *wsi)
{
    struct net_sock *ns = lws_get_opaque_user_data(wsi);
    if (ns && ns != (void *)&ws_mark)
        touch(nw, ns);
}

/* LWS_CALLBACK_WSI_DESTROY, for every wsi of the vhost: release what
 * adopted() counted. Listening sockets have no opaque data. */
void sock_destroyed(struct net_worker *nw, struct lws *wsi)
{
    struct net_sock *ns = lws_get_opaque_user_data(wsi);
    if (!ns)
        return;
    if (ns != (void *)&ws_mark) {
        list_del(&ns->link);
        if (ip_counted(ns))
            ipcount_give(&nw->w->t->ipcount, ns->ip);
        free(ns->grant);
        free(ns);
    }
    lws_set_opaque_user_data(wsi, NULL);
    count(nw, -1);
}

void sock_sweep(struct net_worker *nw)
{
    for (unsigned k = 0; k < NET_SWEEP_BUDGET && !list_empty(&nw->handshakes); k++) {
        struct net_sock *ns = LIST_ENTRY(nw->handshakes.next, struct net_sock, link);
        if ((int32_t)(ns->deadline_ms - (uint32_t)nw->w->now_ms) > 0)
            break;           /* 32-bit ms wrap: deadlines are <= 3600 s away */
        list_del(&ns->link); /* freed at WSI_DESTROY */
        stats_add(&nw->w->stats, STATS_SOCKETS_REAPED, 1);
        lws_set_timeout(ns->wsi, PENDING_TIMEOUT_HOLDING_AH, LWS_TO_KILL_ASYNC);
    }
}

void net_refused(struct net_worker *nw, enum net_refusal cls, unsigned status, const char *reason)
{
    nw->refused_last[cls].status = status;
    nw->refused_last[cls].reason = reason;
}

void net_log_flush(struct net_worker *nw)
{
    for (unsigned k = 0; k < NET_REFUSAL_CLASSES; k++) {
        uint64_t n = log_limit_take(&nw->refusals, nw->w->now_ms, k);
        if (n)
            log_refused_count(&nw->refusals, nw->refused_last[k].status, nw->refused_last[k].reason,
                              n);
    }
}

void net_log_refused(struct net_worker *nw, enum net_refusal cls, int fd, const char *addr,
                     unsigned status, const char *reason, const char *origin)
{
    char text[REALIP_TEXT_MAX] = "?";
    if (!addr) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        struct ip_addr a;
        memset(&a, 0, sizeof a);
        if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
            if (ss.ss_family == AF_INET6) {
                memcpy(a.b, ((const struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr, 16);
                ip_format(&a, text, sizeof text);
            } else if (ss.ss_family == AF_INET) {
                a.b[10] = a.b[11] = 0xff;
                memcpy(a.b + 12, &((const struct sockaddr_in *)&ss)->sin_addr.s_addr, 4);
                ip_format(&a, text, sizeof text);
            }
        }
        addr = text;
    }
    log_refused(&nw->refusals, nw->w->now_ms, cls, status, addr, reason, origin);
}

/* Past the cap a new socket gets a one-line 503 and is closed: every socket
 * counts, whatever it is doing (issue 9). */
static void refuse_full(struct net_worker *nw, int fd)
{
    const struct proto_http_verdict v = {503, "too many connections", NULL, ""};
    char reply[PROTO_HTTP_REFUSAL_MAX];
    int n = proto_http_refusal(reply, sizeof reply, &v);
    if (n > 0)
        (void)send(fd, reply, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    worker_clock(nw->w);
    net_refused(nw, NET_REFUSED_CAPACITY, (unsigned)v.status, v.reason);
    if (log_limit_due(&nw->refusals, nw->w->now_ms, NET_REFUSED_CAPACITY))
        net_log_refused(nw, NET_REFUSED_CAPACITY, fd, NULL, v.status, v.reason, NULL);
    close(fd);
    stats_add(&nw->w->stats, STATS_CONNECTIONS_REFUSED, 1);
}

void sock_accept(struct net_worker *nw, struct lws_vhost *vh, int listen_fd)
{
    struct worker *w = nw->w;
    for (int k = 0; k < NET_ACCEPT_BATCH; k++) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct lws *wsi;
        if (fd < 0) {
            if ((errno == EMFILE || errno == ENFILE) && nw->reserve_fd >= 0) {
                /* Out of descriptors: free the reserve, accept and drop one
                 * connection, take the reserve back. Never spin on EMFILE. */
                close(nw->reserve_fd);
                fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd >= 0)
                    close(fd);
                nw->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                stats_add(&w->stats, STATS_CONNECTIONS_REFUSED, 1);
                continue;
            }
            return; /* EAGAIN, or an error of the pending connection */
        }
        if (w->stopping) {
            close(fd);
            continue;
        }
        if (atomic_load(&w->t->sockets) >= w->t->max_connections) {
            refuse_full(nw, fd);
            continue;
        }
        /* No Nagle: lws sets TCP_NODELAY only on sockets it accepts itself,
         * not on adopted ones. Without it a reply that follows an
         * unacknowledged one waits for the client's delayed ACK (40 ms on
         * Linux): a 42 ms worst case every second at 12,000 announces/s
         * (bench/results/2026-12-03-targets.md). */
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
        wsi = lws_adopt_socket_vhost(vh, fd); /* TLS when vh is the TLS vhost */
        if (!wsi) {
            stats_add(&w->stats, STATS_CONNECTIONS_REFUSED, 1);
            continue;
        }
        /* lws sets no timeout on adopted sockets: bound the time a client may
         * take to send its request (slowloris); cleared when the upgrade ends.
         * The handshake deadline covers the states lws keeps without one. */
        lws_set_timeout(wsi, PENDING_TIMEOUT_HOLDING_AH, (int)w->t->cfg.handshake_timeout);
        adopted(nw, wsi);
    }
}
