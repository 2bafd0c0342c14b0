/* ws.h - the client side of RFC 6455, as bytes in and bytes out.
 *
 * Owns:   nothing; every function works on buffers the caller provides.
 * Thread: any (no state, no globals).
 * Why:    the load generator must not depend on libwebsockets (the thing it
 *         measures), and a client needs only the upgrade request, masked
 *         frames out and unmasked frames in.
 */
#ifndef LG_WS_H
#define LG_WS_H

#include <stddef.h>
#include <stdint.h>

#define WS_KEY_LEN    24  /* base64 of 16 random bytes */
#define WS_ACCEPT_LEN 28  /* base64 of a SHA-1 digest */
#define WS_HDR_MAX    14  /* largest client frame header: 2 + 8 length + 4 mask */
#define WS_CTRL_MAX   125 /* largest control frame payload */

enum ws_opcode {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

/* One frame header as read from the server. */
struct ws_frame {
    uint8_t fin;    /* 1 = last fragment of its message */
    uint8_t opcode; /* enum ws_opcode */
    uint64_t len;   /* payload bytes */
    size_t hdr_len; /* bytes before the payload */
};

enum ws_parse {
    WS_PARSE_OK = 0,     /* a whole frame (header and payload) is in the buffer */
    WS_PARSE_MORE = 1,   /* need more bytes */
    WS_PARSE_ERROR = -1, /* protocol violation by the server */
};

/* Fill key (WS_KEY_LEN chars + NUL) from 16 random bytes. */
void ws_make_key(const uint8_t rnd[16], char key[WS_KEY_LEN + 1]);

/* The Sec-WebSocket-Accept value the server must send for key (WS_ACCEPT_LEN + NUL). */
void ws_accept_for(const char *key, char accept[WS_ACCEPT_LEN + 1]);

/* Write the HTTP upgrade request into buf; returns bytes, or -1 if cap is short. */
int ws_write_upgrade(char *buf, size_t cap, const char *host, const char *path, const char *key);

/* Check an HTTP response head (up to and including the blank line): status 101,
 * Upgrade/Connection headers and the accept value for key. Returns 0, or -1 with a
 * short reason in why. */
int ws_check_upgrade(const char *head, size_t len, const char *key, const char **why);

/* Parse one server frame header at buf. Servers never mask: a masked frame, a set
 * RSV bit, an unknown opcode or a bad control frame is WS_PARSE_ERROR. */
enum ws_parse ws_parse_frame(const uint8_t *buf, size_t len, uint64_t max_payload,
                             struct ws_frame *f);

/* Write a masked client frame header for a payload of len bytes into hdr (at most
 * WS_HDR_MAX bytes); returns the header length. The caller masks the payload with
 * ws_mask(payload, len, mask). */
size_t ws_write_header(uint8_t *hdr, enum ws_opcode op, uint64_t len, uint32_t mask);

/* XOR payload with the 4-byte mask in network order, as RFC 6455 5.3 says. */
void ws_mask(uint8_t *payload, size_t len, uint32_t mask);

#endif
