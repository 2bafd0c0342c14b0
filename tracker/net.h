/* net.h - lws protocol callbacks: HTTP routes, WS upgrade, frames in/out.
 *
 * Owns:   struct conn (lws's per-session data of every socket) and its output
 *         queue, message reassembly and registration set.
 * Thread: a connection is touched only by the worker whose context serves it.
 * Why:    the lws callback only dispatches (STYLE.md); each case is one call.
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
#define NET_RX_CHUNK     4096
#define NET_WRITES_PER_CB 16  /* frames written per writeable callback */

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
    uint64_t ref;      /* route_conn_make(); ROUTE_CONN_NONE until established */
    char *rx;          /* reassembly of a fragmented message, <= max_message_size */
    struct mail *out_head, *out_tail; /* queued struct frame */
    int64_t last_msg_ms;              /* ms, monotonic: last complete message (idle check) */
    struct conn_reg *regs;            /* uthash: registrations after the first */
    char *http_body; /* LWS_PRE + http_len, pending HTTP reply body */
    uint32_t rx_len, rx_cap;
    uint32_t out_bytes;               /* payload bytes queued, <= outq_hard_kib KiB */
    uint32_t n_regs;                  /* reg0 + regs, <= max_torrents_per_conn */
    uint32_t http_len;
    uint16_t close_code;              /* nonzero: close with it at the next writeable */
    bool ipv6;         /* peer address family (v4-mapped counts as IPv4) */
    bool has_reg0;
    uint8_t reg0[2 * PROTO_ID_LEN];   /* first registration, inline (see handle.c) */
};

extern const struct lws_protocols net_protocols[];
#define NET_PROTOCOL_LISTEN "wstracker-listen"

/* Queue a frame on a local connection (takes ownership; may drop or close). */
void net_conn_enqueue(struct worker *w, struct conn *c, struct frame *f);
/* Ask for the connection to be closed with code at its next writeable. */
void net_conn_close(struct conn *c, uint16_t code);

#endif
