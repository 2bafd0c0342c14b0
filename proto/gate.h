/* gate.h - what the tracker admits at the HTTP/WebSocket layer.
 *
 * Owns:   the rules for an HTTP request on the tracker's port (method, upgrade,
 *         WebSocket version and subprotocol; PROTOCOL.md section 1) and for a
 *         client's close frame (RFC 6455 section 7.4).
 * Thread: pure functions, any thread; no I/O, no allocation.
 * Why:    issue 9: only `Upgrade: websocket` over HTTP/1.1 GET may become a
 *         WebSocket; every other request gets a clear HTTP status and a close.
 *         net/http.c reads the headers from libwebsockets and applies the verdict;
 *         the decision lives here so it is unit-tested and fuzzed.
 */
#ifndef WSTRACKER_PROTO_GATE_H
#define WSTRACKER_PROTO_GATE_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_SUBPROTOCOL_MAX  63  /* longest subprotocol token echoed (lws: 64 with NUL) */
#define PROTO_SUBPROTOCOLS_MAX 120 /* longest Sec-WebSocket-Protocol value accepted */

/* An HTTP request as net/http.c reads it; NULL = header absent. */
struct proto_http_req {
    const char *method;     /* "GET", "POST", ...; never NULL */
    const char *version;    /* request line's version, e.g. "HTTP/1.1" */
    const char *upgrade;    /* Upgrade */
    const char *connection; /* Connection */
    const char *ws_version; /* Sec-WebSocket-Version */
    const char *ws_key;     /* Sec-WebSocket-Key */
    const char *protocols;  /* Sec-WebSocket-Protocol */
    const char *host;       /* Host */
};

/* What to do with it. status 0: go ahead (a plain GET/HEAD, or a WebSocket
 * upgrade); otherwise reply status with the one-line reason and close. */
struct proto_http_verdict {
    unsigned status;    /* 0, 400, 405, 426 (or 401 / 403 / 429 / 503, set by the caller) */
    const char *reason; /* one line, no newline */
    const char *allow;  /* 405: the Allow header's value */
    char subprotocol[PROTO_SUBPROTOCOL_MAX + 1]; /* upgrade: first offered, or "" */
};

#define PROTO_HTTP_REFUSAL_MAX 512 /* bytes proto_http_refusal writes at most */

/* Write the whole HTTP/1.1 response for a refusal (status line, content-type,
 * content-length, connection: close, allow / sec-websocket-version when they
 * apply, and the reason as a one-line body). Returns bytes or -1. Statuses:
 * 400, 405, 426, 503. */
int proto_http_refusal(char *buf, size_t cap, const struct proto_http_verdict *v);

/* Check a request that is not a WebSocket upgrade attempt (no Upgrade header). */
void proto_http_check(const struct proto_http_req *r, struct proto_http_verdict *v);

/* Check a request that carries an Upgrade header. */
void proto_upgrade_check(const struct proto_http_req *r, struct proto_http_verdict *v);

enum proto_close_verdict {
    PROTO_CLOSE_ECHO,     /* a valid close: echo it (lws does) */
    PROTO_CLOSE_PROTOCOL, /* a bad code: answer with 1002 instead */
    PROTO_CLOSE_FAIL,     /* malformed payload: drop the connection */
};

/* Judge the payload of a client's close frame (RFC 6455 5.5.1, 7.4). */
enum proto_close_verdict proto_close_check(const uint8_t *payload, size_t len);

#endif
