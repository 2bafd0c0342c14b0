/* write.h - reply, offer, answer, scrape and error writers.
 *
 * Owns:   the byte layout of every frame the tracker sends (PROTOCOL.md 3-5).
 * Thread: pure functions, any thread; write into caller buffers only.
 * Why:    frames are built once, directly into the buffer that is sent, around
 *         the offer/answer bytes copied as received.
 *
 * Every writer takes (buf, cap) and returns the bytes written, or -1 when the
 * output would not fit; the *_MAX macros give the worst case.
 */
#ifndef WSTRACKER_PROTO_WRITE_H
#define WSTRACKER_PROTO_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "id.h"
#include "scan.h"

#define PROTO_ID_FIELD_MAX             (PROTO_ID_JSON_MAX + 16) /* ,"to_peer_id":"<id>" */
#define PROTO_WARNING_MAX              64 /* a "warning message" text, ASCII */
#define PROTO_RESPONSE_MAX             (96 + PROTO_ID_FIELD_MAX + 3 * 20 + PROTO_WARNING_MAX)
#define PROTO_FORWARD_MAX(payload_len) (48 + 3 * PROTO_ID_FIELD_MAX + (size_t)(payload_len))
#define PROTO_RELAY_MAX(data_len)      (48 + 2 * PROTO_ID_FIELD_MAX + (size_t)(data_len))
#define PROTO_ERROR_MAX                (96 + PROTO_ID_FIELD_MAX)
#define PROTO_SCRAPE_OPEN_MAX          32
#define PROTO_SCRAPE_ENTRY_MAX         (PROTO_ID_JSON_MAX + 96)
#define PROTO_SCRAPE_CLOSE_MAX         48

/* The "warning message" texts (PROTOCOL.md 3.1 and 10). */
#define PROTO_WARN_INVALID_OFFER "invalid offer skipped"
#define PROTO_WARN_NOT_IN_ROOM   "peer not in room"
#define PROTO_WARN_BOTH          "invalid offer skipped; peer not in room"
#define PROTO_WARN_OFFER_RATE    "offers not forwarded: rate limited"

/* One entry of an announce response's "peers" list (PROTOCOL.md 10). */
struct proto_listed {
    uint8_t peer_id[PROTO_ID_LEN];
    uint32_t age_s; /* whole seconds since that peer's last announce */
};
#define PROTO_LISTED_MAX           (32 + PROTO_ID_JSON_MAX) /* ,{"peer_id":…,"age":n} */
#define PROTO_RESPONSE_LIST_MAX(n) (PROTO_RESPONSE_MAX + 16 + (size_t)(n)*PROTO_LISTED_MAX)

/* {"action":"announce","info_hash":…,"complete":c,"incomplete":i,"interval":n}
 * then ,"peers":[{"peer_id":…,"age":a},…] when list is not NULL (n_list
 * entries, possibly none), then ,"ice_servers":<ice_servers> (raw JSON) unless
 * it is NULL, then ,"warning message":<warning> unless warning is
 * NULL (plain ASCII without quotes or backslashes, < PROTO_WARNING_MAX bytes). */
int proto_write_response(char *buf, size_t cap, const uint8_t info_hash[PROTO_ID_LEN],
                         uint32_t complete, uint32_t incomplete, uint32_t interval,
                         const struct proto_listed *list, uint32_t n_list, const char *ice_servers,
                         const char *warning);

/* {"action":"announce","info_hash":…,"peer_id":…,"offer_id":…,"offer":<payload>}
 * or with "answer" when is_answer; payload is copied byte for byte. */
int proto_write_forward(char *buf, size_t cap, const uint8_t info_hash[PROTO_ID_LEN],
                        const uint8_t peer_id[PROTO_ID_LEN], const uint8_t offer_id[PROTO_ID_LEN],
                        int is_answer, const char *payload, size_t payload_len);

/* {"action":"relay","info_hash":…,"peer_id":<from>,"data":<data>}; data is
 * the raw JSON string as received, copied byte for byte. */
int proto_write_relay(char *buf, size_t cap, const uint8_t info_hash[PROTO_ID_LEN],
                      const uint8_t from[PROTO_ID_LEN], const char *data, size_t data_len);

/* {"action":<action>,"failure reason":<reason>[,"info_hash":…]}; info_hash may be NULL. */
int proto_write_error(char *buf, size_t cap, enum proto_action action, enum proto_status st,
                      const uint8_t *info_hash);

/* {"action":"scrape","files":{ … },"flags":{"min_request_interval":n}} written
 * in three steps; entry writes a leading comma unless first; close writes the
 * flags (as bittorrent-tracker, n = the announce interval). */
int proto_write_scrape_open(char *buf, size_t cap);
int proto_write_scrape_entry(char *buf, size_t cap, int first,
                             const uint8_t info_hash[PROTO_ID_LEN], uint32_t complete,
                             uint32_t incomplete, uint32_t downloaded);
int proto_write_scrape_close(char *buf, size_t cap, uint32_t min_request_interval);

#endif
