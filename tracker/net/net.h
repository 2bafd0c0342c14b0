/* net.h - the network layer: the only code that calls libwebsockets.
 *
 * Owns:   struct net_worker (a worker's lws context, listeners, socket
 *         deadlines), struct conn (lws's per-session data of every socket) and
 *         the functions the net/ files share; net_io, the struct worker_io
 *         main registers for the runtime.
 * Thread: a worker's net_worker and connections are touched only by that
 *         worker (net_io.destroy: by main, after the worker ended).
 * Why:    net.c starts lws on the worker's libev loop and dispatches its
 *         callbacks; conn.c is a WebSocket connection's input and output;
 *         http.c the HTTP side of the port; sock.c accepting and the deadline
 *         of every socket that is not (yet) a WebSocket; tls.c the wss://
 *         vhost's certificate. Each callback case
 *         is one call into one of them.
 */
#ifndef WSTRACKER_NET_H
#define WSTRACKER_NET_H

#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "list.h"
#include "mail.h"
#include "swarm.h"
#include "worker.h"

/* lws's rx_buffer_size: the largest piece of a message handed to the callback
 * and the most lws reads from a socket per wakeup (so not smaller: at 1024 a
 * 3 KiB announce took three reads, -15 % announces/s at saturation). lws
 * allocates it per connection but touches it only for control frames and
 * unaligned payload; the page a close touches is given back by jemalloc's
 * background purge (jemalloc_conf.c). Longer messages are reassembled in
 * struct conn's rx, freed after each message. */
#define NET_RX_CHUNK            4096
#define NET_WRITES_PER_CB       16    /* sends per connection per flush or writeable callback */
#define NET_TX_BATCH            65536 /* bytes of frames concatenated into one send */
#define NET_PENDING_FIRST       1024 /* first allocation of the pass's list of connections to flush */
#define NET_CLOSE_GRACE_S       5 /* a closing connection that cannot take its close frame is cut */
#define NET_SWEEP_MS            100  /* period of the idle and handshake-deadline sweeps */
#define NET_SWEEP_BUDGET        2000 /* sockets the handshake-deadline sweep closes per tick */
#define NET_IDLE_BUDGET         2000 /* connection slots checked for idleness per tick */
#define NET_ACCEPT_BATCH        256  /* connections accepted per listener wakeup */
#define NET_PROTOCOLS           4    /* the tracker's, its subprotocol alias, the listener's, end */
#define NET_RATE_CLOSE_MS       10000 /* refused messages worth this much of --msg-rate close 1008 */
#define NET_CLOSE_TOKEN_EXPIRED 4401  /* close code at the connection's token exp */

_Static_assert(FRAME_HEADROOM >= LWS_PRE, "a frame has room for lws's WebSocket header");
_Static_assert(SWARM_CLOSE_INVALID_UTF8 == LWS_CLOSE_STATUS_INVALID_PAYLOAD,
               "the swarm layer's close code is RFC 6455's");

/* The protocol of the adopted listening sockets. The space keeps a client
 * from naming it in Sec-WebSocket-Protocol (it is not a token). */
#define NET_PROTOCOL_LISTEN "wstracker listen"

/* The classes of refused connections, each logged at most once per
 * NET_REFUSAL_LOG_MS per worker (with the count of those not logged). */
enum net_refusal {
    NET_REFUSED_UPGRADE,  /* 400/405/426: not an HTTP/1.1 GET websocket upgrade (gate) */
    NET_REFUSED_ORIGIN,   /* 403: --allow-origin */
    NET_REFUSED_PER_IP,   /* 429: --max-conns-per-ip */
    NET_REFUSED_TOKEN,    /* 401: no valid access token (or 503: out of memory) */
    NET_REFUSED_CAPACITY, /* 503 at accept: --max-connections */
};
#define NET_REFUSAL_CLASSES 5
#define NET_REFUSAL_LOG_MS  1000

/* A worker's network side; w->net, the lws context's user data. */
struct net_worker {
    struct worker *w;
    struct lws_context *ctx;
    struct lws_vhost *vh;          /* ws:// */
    struct lws_vhost *vh_tls;      /* wss:// (--listen-tls), NULL when TLS is off */
    struct ssl_ctx_st *ssl_ctx;    /* vh_tls's SSL_CTX, touched by this worker only (tls.c) */
    struct ssl_ctx_st *client_ctx; /* an empty client SSL_CTX lent to vh_tls (net.c) */
    uint64_t tls_failed_gen; /* the t->tls generation install() last failed on (logged once) */
    void *foreign_loops[1];  /* { w->loop }, as lws_context_creation_info wants it */
    struct lws *listen_wsi[WORKER_LISTEN_MAX];
    unsigned n_listen;
    int reserve_fd;               /* closed to accept-and-drop when the fd limit is hit */
    struct list_node handshakes;  /* struct net_sock by deadline: sockets not yet WebSocket */
    uint64_t n_sockets;           /* sockets adopted and not yet destroyed */
    uint32_t idle_cursor;         /* next slot the idle sweep looks at */
    lws_sorted_usec_list_t sweep; /* idle and handshake-deadline sweeps */
    struct rate_limit msg_rate;   /* --msg-rate, --msg-burst (msg_rate.bytes_per_s: messages) */
    struct log_limit refusals;    /* one line per enum net_refusal per NET_REFUSAL_LOG_MS */
    struct {
        unsigned status;    /* of the class's last refusal, for the count's line */
        const char *reason; /* static text */
    } refused_last[NET_REFUSAL_CLASSES];
    /* The end of each loop pass (an ev_prepare on w->loop): the connections
     * that got frames during the pass, each listed once (struct conn.pending),
     * as slot refs so one closed meanwhile is skipped; <= this worker's
     * connections, doubling from NET_PENDING_FIRST. */
    ev_prepare flush;
    uint64_t *pending;
    uint32_t n_pending, cap_pending;
    unsigned char *tx; /* LWS_PRE + NET_TX_BATCH: one send's frames (conn.c send_some) */
    struct lws_protocols protocols[NET_PROTOCOLS]; /* see net_protocols() */
    char subprotocol[64];                          /* the alias protocol's name */
};

/* Log a refusal of class cls (status, one-line reason; origin or NULL) of
 * the socket fd's client (the peer address; or addr when not NULL). */
void net_log_refused(struct net_worker *nw, enum net_refusal cls, int fd, const char *addr,
                     unsigned status, const char *reason, const char *origin);
/* Record a refusal of class cls (every one, logged or not) for the count's line. */
void net_refused(struct net_worker *nw, enum net_refusal cls, unsigned status, const char *reason);
/* The sweep: say how many of each class were not logged, once their interval is over. */
void net_log_flush(struct net_worker *nw);
/* A loaded --tls-cert / --tls-key pair, immutable once made; t->tls (tls.c). */
struct net_tls {
    char *cert_pem, *key_pem; /* the files' text, NUL terminated */
    size_t cert_len, key_len;
    uint64_t gen;      /* 1, 2, ...: one per load */
    int64_t not_after; /* the certificate's expiry, unix s */
    int key_type;      /* EVP_PKEY_get_base_id of the key (OpenSSL keeps one slot per type) */
    char subject[256]; /* RFC 2253 */
};

/* One per socket (HTTP or WebSocket); allocated zeroed by lws, sized in the
 * protocol table; used by the serving worker only. */
struct conn {
    /* Ordered by alignment so the struct is 128 bytes (a jemalloc size class). */
    struct lws *wsi;
    union {
        char *rx;        /* WebSocket: reassembly of a fragmented message, <= max_message_size */
        char *http_body; /* HTTP: LWS_PRE + http_len, pending reply body */
    };
    struct mail_queue out; /* queued struct frame */
    uint32_t last_msg_ms;  /* low 32 bits of now_ms at the last complete message (idle check) */
    uint32_t msg_tat;      /* message budget (--msg-rate; access/rate.h) */
    union {
        uint32_t rx_len;   /* WebSocket */
        uint32_t http_len; /* HTTP */
    };
    uint32_t rx_cap;
    uint32_t out_bytes;   /* payload bytes queued, <= outq_hard_kib KiB */
    uint16_t close_code;  /* nonzero: close with it at the next writeable */
    bool rx_paused;       /* reading stopped: output over the soft cap */
    bool pending;         /* listed in net_worker.pending: sent at the end of this pass */
    struct swarm_conn sc; /* the request logic's part (ref, registrations) */
};

static inline struct conn *conn_of(struct swarm_conn *sc)
{
    return (struct conn *)(void *)((char *)sc - offsetof(struct conn, sc));
}

static inline struct net_worker *net_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* Before any worker starts: lws logs errors only, or also warnings,
 * notices and info with debug (env WSTRACKER_LWS_DEBUG); with json (--log-format
 * json) its lines go through the tracker's log (obs/log.h). */
void net_log_init(bool debug, bool json);

/* What main registers as t->io. */
extern const struct worker_io net_io;

/* conn.c: a WebSocket connection. */
int conn_established(struct net_worker *nw, struct conn *c, struct lws *wsi);
int conn_receive(struct net_worker *nw, struct conn *c, struct lws *wsi, const char *in,
                 size_t len);
int conn_writeable(struct net_worker *nw, struct conn *c, struct lws *wsi);
void conn_closed(struct net_worker *nw, struct conn *c);
int conn_peer_close(unsigned char *payload, size_t len);
/* Queue a frame (takes ownership; may drop it or close the connection); it
 * leaves at the end of the pass, with the connection's other frames. */
void conn_enqueue(struct net_worker *nw, struct conn *c, struct frame *f);
/* The end of a loop pass: send what each listed connection got during it. */
void conn_flush_pass(struct net_worker *nw);
/* Close with code at the next writeable. */
void conn_close(struct conn *c, uint16_t code);
/* Close connections idle for idle_timeout (a bounded number of slots). */
void conn_idle_sweep(struct net_worker *nw);

/* http.c: the HTTP side of the port. */
int http_confirm_upgrade(struct net_worker *nw, struct lws *wsi);
int http_refuse_connect(struct net_worker *nw, struct lws *wsi);
int http_request(struct net_worker *nw, struct conn *c, struct lws *wsi, const char *path);
int http_writeable(struct conn *c, struct lws *wsi);
void http_closed(struct conn *c);

/* tls.c. On main: parse and check a certificate (chain) and its key as PEM
 * text; NULL with OpenSSL's reason in err (cap bytes). */
struct net_tls *net_tls_make(const char *cert, size_t cert_len, const char *key, size_t key_len,
                             char *err, size_t cap);
void net_tls_free(struct net_tls *t);
/* A reload from old to n that changes the key's type (RSA, EC, Ed25519) is
 * refused: an SSL_CTX keeps one certificate per key type, so installing n
 * would leave old served to clients that prefer old's type. Returns true and
 * says so in err when it changes. */
bool net_tls_key_type_changed(const struct net_tls *old, const struct net_tls *n, char *err,
                              size_t cap);
/* On the worker, when lws made the TLS vhost's SSL_CTX: TLS 1.2+, the
 * ciphers, t->tls's certificate. 0 or -1. */
int tls_vhost_init(struct net_worker *nw, struct ssl_ctx_st *ctx);
/* Each sweep: install t->tls when its generation is new to this worker. */
void tls_sweep(struct net_worker *nw);

/* sock.c: accepting, and the deadline of every socket not (yet) a WebSocket. */
/* Accept on listen_fd and adopt into vh (the ws:// or the wss:// vhost). */
void sock_accept(struct net_worker *nw, struct lws_vhost *vh, int listen_fd);
/* The socket became a WebSocket: the idle timeout takes over. */
void sock_established(struct net_worker *nw, struct lws *wsi);
/* A keep-alive HTTP request: a full deadline again. */
void sock_touch_request(struct net_worker *nw, struct lws *wsi);
/* A place for this socket in its address's count (key: ip_cap_key); false
 * at --max-conns-per-ip. Given back when the socket is destroyed. The key is
 * kept (sock_addr) with or without the cap. */
bool sock_take_ip(struct net_worker *nw, struct lws *wsi, uint64_t key);
/* Keep a verified token's grant with the socket (takes ownership; false
 * when the socket has no place for it: it is freed). */
bool sock_set_grant(struct lws *wsi, struct jwt_grant *g);
/* The socket's grant, or NULL (tokens off, or none kept). */
const struct jwt_grant *sock_grant(struct lws *wsi);
/* The address key sock_take_ip was given (0: none). */
uint64_t sock_addr(struct lws *wsi);
void sock_destroyed(struct net_worker *nw, struct lws *wsi);
void sock_sweep(struct net_worker *nw);

#endif
