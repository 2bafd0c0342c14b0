/* net.h - lws protocol callbacks: HTTP routes, WS upgrade, frames in/out.
 *
 * Owns:   struct conn (lws's per-session data of every socket) and its output
 *         queue, message reassembly and registration set.
 * Thread: a connection is touched only by the worker whose context serves it.
 * Why:    the lws callback only dispatches; each case is one call.
 */
#ifndef WSTRACKER_NET_H
#define WSTRACKER_NET_H

#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>
#include <uthash.h>

#include "../proto/id.h"
#include "worker.h"

/* lws's rx_buffer_size: the largest piece of a message handed to the callback
 * and the most lws reads from a socket per wakeup (so not smaller: at 1024 a
 * 3 KiB announce took three reads, -15 % announces/s at saturation). lws
 * allocates it per connection but touches it only for control frames and
 * unaligned payload; the page a close touches is given back by jemalloc's
 * background purge (jemalloc_conf.c). Longer messages are reassembled in
 * struct conn's rx, freed after each message. */
#define NET_RX_CHUNK      4096
#define NET_WRITES_PER_CB 16   /* frames written per writeable callback */
#define NET_CLOSE_GRACE_S 5    /* a closing connection that cannot take its close frame is cut */
#define NET_SWEEP_BUDGET  2000 /* sockets the handshake-deadline sweep closes per tick */
#define NET_PROTOCOLS     4    /* the tracker's, its subprotocol alias, the listener's, end */

/* One (info_hash, peer_id) this connection announced; freed with it. */
struct conn_reg {
    uint8_t key[2 * PROTO_ID_LEN]; /* info_hash then peer_id */
    UT_hash_handle hh;
};

/* One per socket (HTTP or WebSocket); allocated zeroed by lws, sized in
 * net_protocols[]; used by the serving worker only. */
struct conn {
    /* Ordered by alignment so the struct is 128 bytes (a jemalloc size class;
     * 152 with padding before), one per connection. */
    struct lws *wsi;
    uint64_t ref; /* route_conn_make(); ROUTE_CONN_NONE until established */
    union {
        char *rx;        /* WebSocket: reassembly of a fragmented message, <= max_message_size */
        char *http_body; /* HTTP: LWS_PRE + http_len, pending reply body */
    };
    struct mail_queue out; /* queued struct frame */
    int64_t last_msg_ms;   /* ms, monotonic: last complete message (idle check) */
    struct conn_reg *regs; /* uthash: registrations after the first */
    union {
        uint32_t rx_len;   /* WebSocket */
        uint32_t http_len; /* HTTP */
    };
    uint32_t rx_cap;
    uint32_t out_bytes;  /* payload bytes queued, <= outq_hard_kib KiB */
    uint32_t n_regs;     /* reg0 + regs, <= max_torrents_per_conn */
    uint32_t scrape_ms;  /* low 32 bits of now_ms when scrapes last changed */
    uint16_t close_code; /* nonzero: close with it at the next writeable */
    uint8_t scrapes;     /* list scrapes in flight, <= HANDLE_SCRAPES_IN_FLIGHT */
    bool full_waiting;   /* waits for its worker's full scrape */
    bool rx_paused;      /* reading stopped: output over the soft cap */
    bool ipv6;           /* peer address family (v4-mapped counts as IPv4) */
    bool has_reg0;
    uint8_t reg0[2 * PROTO_ID_LEN]; /* first registration, inline (see handle.c) */
};

/* The protocol of the adopted listening sockets. The space keeps a client
 * from naming it in Sec-WebSocket-Protocol (it is not a token). */
#define NET_PROTOCOL_LISTEN "wstracker listen"

/* Fill w->protocols for w's vhost: the tracker's protocol, an alias of it whose
 * name is the subprotocol the client being upgraded offered first (so lws
 * accepts and echoes it, as npm ws does), and the listener's. */
const struct lws_protocols *net_worker_protocols(struct worker *w);

/* A socket worker_accept adopted: count it and put it under the handshake
 * deadline until it becomes a WebSocket. */
void net_sock_adopted(struct worker *w, struct lws *wsi);
/* Close the sockets whose handshake deadline passed (a bounded number). */
void net_sock_sweep(struct worker *w);

/* A frame reached its connection: count down what it answers. */
static inline void net_conn_note_reply(struct conn *c, const struct frame *f, int64_t now_ms)
{
    if (f->reply == FRAME_REPLY_SCRAPE && c->scrapes) {
        c->scrapes--;
        c->scrape_ms = (uint32_t)now_ms;
    } else if (f->reply == FRAME_REPLY_FULL_SCRAPE) {
        c->full_waiting = false;
    }
}

/* Queue a frame on a local connection (takes ownership; may drop or close). */
void net_conn_enqueue(struct worker *w, struct conn *c, struct frame *f);
/* Ask for the connection to be closed with code at its next writeable. */
void net_conn_close(struct conn *c, uint16_t code);

#endif
