/* gate.c - what the tracker admits at the HTTP/WebSocket layer; see gate.h. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gate.h"
#include "scan.h"

static void verdict(struct proto_http_verdict *v, unsigned status, const char *reason)
{
    v->status = status;
    v->reason = reason;
}

/* RFC 7230 tchar. */
static bool tchar(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool ows(char c)
{
    return c == ' ' || c == '\t';
}

/* True when list (a header value) holds token, comma-separated, any case. */
static bool list_has(const char *list, const char *token)
{
    size_t tl = strlen(token);
    const char *p = list;
    while (*p) {
        const char *start;
        while (ows(*p) || *p == ',')
            p++;
        start = p;
        while (*p && *p != ',' && !ows(*p))
            p++;
        if ((size_t)(p - start) == tl && strncasecmp(start, token, tl) == 0)
            return true;
        while (*p && *p != ',')
            p++;
    }
    return false;
}

/* Sec-WebSocket-Protocol: 1#token (RFC 6455 4.1). Copies the first token into
 * first; returns false when the value is not such a list or too long. */
static bool first_subprotocol(const char *list, char first[PROTO_SUBPROTOCOL_MAX + 1])
{
    const char *p = list;
    size_t n = 0;
    first[0] = '\0';
    if (strlen(list) > PROTO_SUBPROTOCOLS_MAX)
        return false;
    for (;;) {
        const char *start;
        while (ows(*p))
            p++;
        start = p;
        while (tchar(*p))
            p++;
        if (p == start || (size_t)(p - start) > PROTO_SUBPROTOCOL_MAX)
            return false;
        if (n++ == 0) {
            memcpy(first, start, (size_t)(p - start));
            first[p - start] = '\0';
        }
        while (ows(*p))
            p++;
        if (*p == '\0')
            return true;
        if (*p++ != ',')
            return false;
    }
}

void proto_http_check(const struct proto_http_req *r, struct proto_http_verdict *v)
{
    memset(v, 0, sizeof *v);
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        verdict(v, 405, "method not allowed");
        v->allow = "GET, HEAD";
    }
}

void proto_upgrade_check(const struct proto_http_req *r, struct proto_http_verdict *v)
{
    memset(v, 0, sizeof *v);
    if (!r->upgrade || strcasecmp(r->upgrade, "websocket") != 0) {
        verdict(v, 400, "only Upgrade: websocket is supported");
    } else if (strcmp(r->method, "GET") != 0) {
        verdict(v, 405, "WebSocket upgrade needs GET");
        v->allow = "GET, HEAD";
    } else if (!r->version || strcmp(r->version, "HTTP/1.1") != 0) {
        verdict(v, 400, "WebSocket upgrade needs HTTP/1.1");
    } else if (!r->host || !*r->host) {
        verdict(v, 400, "missing Host");
    } else if (!r->connection || !list_has(r->connection, "upgrade")) {
        verdict(v, 400, "WebSocket upgrade needs Connection: Upgrade");
    } else if (!r->ws_version || strcmp(r->ws_version, "13") != 0) {
        verdict(v, 426, "unsupported Sec-WebSocket-Version (want 13)");
    } else if (!r->ws_key || strlen(r->ws_key) != 24) {
        /* 16 random bytes in base64 (RFC 6455 4.1) */
        verdict(v, 400, "invalid Sec-WebSocket-Key");
    } else if (r->protocols && !first_subprotocol(r->protocols, v->subprotocol)) {
        verdict(v, 400, "invalid Sec-WebSocket-Protocol");
    }
}

int proto_http_refusal(char *buf, size_t cap, const struct proto_http_verdict *v)
{
    const char *text = v->status == 400   ? "Bad Request"
                       : v->status == 401 ? "Unauthorized"
                       : v->status == 403 ? "Forbidden"
                       : v->status == 405 ? "Method Not Allowed"
                       : v->status == 426 ? "Upgrade Required"
                       : v->status == 429 ? "Too Many Requests"
                       : v->status == 503 ? "Service Unavailable"
                                          : "Error";
    const char *reason = v->reason ? v->reason : text;
    int n = snprintf(buf, cap,
                     "HTTP/1.1 %u %s\r\ncontent-type: text/plain\r\ncontent-length: %zu\r\n"
                     "connection: close\r\n%s%s%s%s%s\r\n%s\n",
                     v->status, text, strlen(reason) + 1, v->allow ? "allow: " : "",
                     v->allow ? v->allow : "", v->allow ? "\r\n" : "",
                     v->status == 426 ? "sec-websocket-version: 13\r\n" : "",
                     v->status == 401 ? "www-authenticate: Bearer\r\n" : "", reason);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

enum proto_close_verdict proto_close_check(const uint8_t *payload, size_t len)
{
    unsigned code;
    if (len == 0)
        return PROTO_CLOSE_ECHO;
    if (len == 1 || len > 125)
        return PROTO_CLOSE_FAIL;
    if (!proto_utf8_valid((const char *)payload + 2, len - 2))
        return PROTO_CLOSE_FAIL;
    code = (unsigned)payload[0] << 8 | payload[1];
    /* RFC 6455 7.4.1/7.4.2: codes a peer may send. */
    if ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
        (code >= 3000 && code <= 4999))
        return PROTO_CLOSE_ECHO;
    return PROTO_CLOSE_PROTOCOL;
}
