/* scan.h - JSON message scanner: one WebSocket message -> struct proto_request.
 *
 * Owns:   the request grammar of PROTOCOL.md section 3 and the failure reasons of
 *         section 5.
 * Thread: pure functions, any thread; no allocation, no globals.
 * Why:    the scanner validates the whole message as JSON (as JSON.parse would),
 *         decodes the ids and returns spans into the caller's buffer for the parts
 *         that are forwarded byte for byte (offers, answers).
 */
#ifndef WSTRACKER_PROTO_SCAN_H
#define WSTRACKER_PROTO_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "id.h"

#define PROTO_OFFERS_MAX        32  /* offers kept per announce; max_offers <= this */
#define PROTO_SCRAPE_HASHES_MAX 256 /* ids kept per scrape; max_scrape_hashes <= this */
#define PROTO_DEPTH_MAX         32  /* nesting levels of arrays/objects accepted */
#define PROTO_PEERS_MAX         50  /* "peers": K, 1..this (PROTOCOL.md, Extensions) */

/* A byte range of the scanned message. */
struct proto_span {
    uint32_t off; /* bytes from the start of the message */
    uint32_t len; /* bytes */
};

enum proto_action {
    PROTO_ACTION_UNKNOWN = 0,
    PROTO_ACTION_ANNOUNCE,
    PROTO_ACTION_SCRAPE,
    PROTO_ACTION_RELAY, /* extension: PROTOCOL.md section 10.4 */
};

enum proto_event {
    PROTO_EVENT_UPDATE = 0, /* absent, "", "empty", "update" */
    PROTO_EVENT_STARTED,
    PROTO_EVENT_STOPPED,
    PROTO_EVENT_COMPLETED,
    PROTO_EVENT_PAUSED,
};

enum proto_left {
    PROTO_LEFT_ABSENT = 0, /* keep the peer's state */
    PROTO_LEFT_ZERO,       /* seeder */
    PROTO_LEFT_NONZERO,    /* leecher */
};

/* Scan results; each non-OK value has a failure reason (proto_status_reason). */
enum proto_status {
    PROTO_OK = 0,
    PROTO_ERR_JSON,
    PROTO_ERR_DEPTH,
    PROTO_ERR_NOT_OBJECT,
    PROTO_ERR_NO_ACTION,
    PROTO_ERR_ACTION,
    PROTO_ERR_INFO_HASH,
    PROTO_ERR_PEER_ID,
    PROTO_ERR_EVENT,
    PROTO_ERR_OFFERS,
    PROTO_ERR_OFFER_ID,
    PROTO_ERR_TO_PEER_ID,
    PROTO_ERR_PEERS,
    PROTO_ERR_SCRAPE_TOO_MANY,
    PROTO_ERR_DATA, /* a relay without a string "data" */
    /* Raised by the tracker, not the scanner; listed here so every wire error
     * text lives in one table. */
    PROTO_ERR_FULL_SCRAPE_DISABLED,
    PROTO_ERR_TOO_MANY_TORRENTS,
    PROTO_ERR_TOO_MANY_PEER_IDS,   /* per (connection, info hash) */
    PROTO_ERR_PEER_ID_IN_USE,      /* bound to another live connection */
    PROTO_ERR_TRACKER_FULL_PEERS,  /* --max-peers reached */
    PROTO_ERR_TRACKER_FULL_SWARMS, /* --max-swarms reached, no empty swarm to reclaim */
    PROTO_ERR_SCRAPE_IN_PROGRESS,  /* this connection's scrapes in flight at their cap */
    PROTO_ERR_RELAY_DISABLED,      /* --relay off */
    PROTO_ERR_RELAY_TOO_LARGE,     /* data longer than --relay-max-bytes */
    PROTO_ERR_NOT_MEMBER,          /* relay sender not bound to this connection in the room */
    PROTO_ERR_RELAY_NO_PEER,       /* directed relay to a peer that is not a live member */
    PROTO_ERR_RELAY_RATE,          /* the connection's relay budget (--relay-rate) is spent */
    PROTO_ERR_RATE_LIMITED,        /* the connection's message budget (--msg-rate) is spent */
    PROTO_ERR_HASH_NOT_ALLOWED,    /* outside --allow-hashes, or in --deny-hashes */
    PROTO_ERR_TOKEN_SCOPE,         /* outside the connection's token scope (wst) */
    PROTO_STATUS_COUNT
};

struct proto_offer {
    uint8_t offer_id[PROTO_ID_LEN];
    struct proto_span offer; /* the raw JSON value of "offer" */
    bool directed;           /* the entry named to_peer_id */
    uint8_t to_peer_id[PROTO_ID_LEN];
};

enum proto_scrape_kind {
    PROTO_SCRAPE_FULL = 0, /* info_hash absent */
    PROTO_SCRAPE_LIST,     /* one id or an array of ids (possibly empty) */
};

/* The announce part of a request; offers[] comes last so a copy can stop at
 * offers[n_offers]. */
struct proto_announce {
    uint8_t info_hash[PROTO_ID_LEN];
    uint8_t peer_id[PROTO_ID_LEN];
    enum proto_event event;
    enum proto_left left;
    bool has_answer;
    struct proto_span answer; /* the raw JSON value of "answer" */
    uint8_t to_peer_id[PROTO_ID_LEN];
    uint8_t offer_id[PROTO_ID_LEN]; /* with answer */
    uint32_t want_peers;            /* "peers": K (1..PROTO_PEERS_MAX), or 0 */
    bool want_turn;                 /* "turn": true */
    uint32_t n_invalid_offers;      /* entries skipped: not an object, no offer, bad offer_id */
    uint32_t n_offers;              /* offers kept, <= PROTO_OFFERS_MAX (more are validated) */
    struct proto_offer offers[PROTO_OFFERS_MAX];
};

/* The relay part of a request (PROTOCOL.md 10.4); info_hash is the request's. */
struct proto_relay {
    uint8_t peer_id[PROTO_ID_LEN]; /* the sender */
    bool directed;                 /* to_peer_id given (not null) */
    uint8_t to_peer_id[PROTO_ID_LEN];
    struct proto_span data; /* the raw JSON string "data", quotes included */
};

/* One scanned message. About 6 KiB: keep one per worker, not one per message. */
struct proto_request {
    enum proto_action action;
    bool has_info_hash; /* info_hash was a valid id (also set for error replies) */
    uint8_t info_hash[PROTO_ID_LEN];

    struct proto_announce ann; /* action == PROTO_ACTION_ANNOUNCE */
    struct proto_relay relay;  /* action == PROTO_ACTION_RELAY */

    /* scrape */
    enum proto_scrape_kind scrape_kind;
    uint32_t n_hashes; /* <= max_scrape_hashes */
    uint8_t hashes[PROTO_SCRAPE_HASHES_MAX][PROTO_ID_LEN];
};

/* Scan msg[0..len) into req. max_scrape_hashes (<= PROTO_SCRAPE_HASHES_MAX) bounds
 * a scrape's list. Returns PROTO_OK or the status whose failure reason the client
 * gets; on error, req->action and req->has_info_hash/info_hash are still filled
 * when they could be read, so the error reply can carry them. */
enum proto_status proto_scan_request(const char *msg, size_t len, uint32_t max_scrape_hashes,
                                     struct proto_request *req);

/* True when s[0..len) is well-formed UTF-8 (RFC 3629). A message that
 * proto_scan_request accepted always is: it checks every string, and JSON
 * outside strings is ASCII. */
bool proto_utf8_valid(const char *s, size_t len);

/* Validate one JSON value at s[at..len) (leading whitespace allowed, nesting
 * bounded by PROTO_DEPTH_MAX). Returns the index past it and any whitespace
 * after it, or 0 when it is not a valid value. The reader of proto/json.h
 * walks tokens and keys with it. */
size_t proto_json_skip(const char *s, size_t len, size_t at);

/* The failure reason text of a status (PROTOCOL.md section 5). */
const char *proto_status_reason(enum proto_status st);

#endif
