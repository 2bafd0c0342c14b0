/* ws.c - RFC 6455 client framing: upgrade request, accept check, frames.
 *
 * Owns:   a small SHA-1 and base64 (only for Sec-WebSocket-Accept).
 * Thread: any; no state.
 * Why:    see ws.h.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ws.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* SHA-1 (FIPS 180-4) of a short message: enough for key + GUID (60 bytes). */
static uint32_t rol(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
    uint32_t w[80];
    for (unsigned i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (unsigned i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (unsigned i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDC;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6;
        }
        uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

/* len must be below 120 bytes (two blocks with padding); the caller's is 60. */
static void sha1(const uint8_t *msg, size_t len, uint8_t out[20])
{
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    uint8_t buf[128] = {0};
    memcpy(buf, msg, len);
    buf[len] = 0x80;
    size_t total = len + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (unsigned i = 0; i < 8; i++)
        buf[total - 1 - i] = (uint8_t)(bits >> (8 * i));
    for (size_t off = 0; off < total; off += 64)
        sha1_block(h, buf + off);
    for (unsigned i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

static void base64(const uint8_t *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

void ws_make_key(const uint8_t rnd[16], char key[WS_KEY_LEN + 1])
{
    base64(rnd, 16, key);
}

void ws_accept_for(const char *key, char accept[WS_ACCEPT_LEN + 1])
{
    uint8_t msg[WS_KEY_LEN + sizeof WS_GUID];
    uint8_t dig[20];
    size_t kl = strlen(key);
    memcpy(msg, key, kl);
    memcpy(msg + kl, WS_GUID, sizeof WS_GUID - 1);
    sha1(msg, kl + sizeof WS_GUID - 1, dig);
    base64(dig, 20, accept);
}

int ws_write_upgrade(char *buf, size_t cap, const char *host, const char *path, const char *key)
{
    int n = snprintf(buf, cap,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "\r\n",
                     path, host, key);
    return (n < 0 || (size_t)n >= cap) ? -1 : n;
}

/* Find header name (case-insensitive) at the start of a line in head; returns its
 * value (leading blanks skipped) and its length up to CR, or NULL. */
static const char *header_value(const char *head, size_t len, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *end = head + len;
    const char *p = memchr(head, '\n', len);
    while (p && p + 1 < end) {
        const char *line = p + 1;
        if ((size_t)(end - line) > nl && !strncasecmp(line, name, nl) && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            const char *e = v;
            while (e < end && *e != '\r' && *e != '\n')
                e++;
            while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            *vlen = (size_t)(e - v);
            return v;
        }
        p = memchr(line, '\n', (size_t)(end - line));
    }
    return NULL;
}

/* Does the comma-separated list v contain token tok (case-insensitive)? */
static int has_token(const char *v, size_t vlen, const char *tok)
{
    size_t tl = strlen(tok);
    for (size_t i = 0; i + tl <= vlen; i++) {
        if (!strncasecmp(v + i, tok, tl) && (i == 0 || v[i - 1] == ',' || v[i - 1] == ' ') &&
            (i + tl == vlen || v[i + tl] == ',' || v[i + tl] == ' '))
            return 1;
    }
    return 0;
}

int ws_check_upgrade(const char *head, size_t len, const char *key, const char **why)
{
    char want[WS_ACCEPT_LEN + 1];
    size_t vl;
    const char *v;

    if (len < 12 || strncmp(head, "HTTP/1.1 101", 12) != 0) {
        *why = "status is not 101";
        return -1;
    }
    v = header_value(head, len, "Upgrade", &vl);
    if (!v || !has_token(v, vl, "websocket")) {
        *why = "no Upgrade: websocket";
        return -1;
    }
    v = header_value(head, len, "Connection", &vl);
    if (!v || !has_token(v, vl, "upgrade")) {
        *why = "no Connection: Upgrade";
        return -1;
    }
    ws_accept_for(key, want);
    v = header_value(head, len, "Sec-WebSocket-Accept", &vl);
    if (!v || vl != WS_ACCEPT_LEN || memcmp(v, want, WS_ACCEPT_LEN) != 0) {
        *why = "bad Sec-WebSocket-Accept";
        return -1;
    }
    return 0;
}

enum ws_parse ws_parse_frame(const uint8_t *buf, size_t len, uint64_t max_payload,
                             struct ws_frame *f)
{
    f->hdr_len = 0;
    f->len = 0;
    if (len < 2)
        return WS_PARSE_MORE;
    uint8_t b0 = buf[0], b1 = buf[1];
    f->fin = b0 >> 7;
    f->opcode = b0 & 0x0F;
    if (b0 & 0x70)
        return WS_PARSE_ERROR; /* RSV bits: no extension was negotiated */
    if (b1 & 0x80)
        return WS_PARSE_ERROR; /* a server must not mask */
    switch (f->opcode) {
    case WS_OP_CONT:
    case WS_OP_TEXT:
    case WS_OP_BINARY:
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG: break;
    default: return WS_PARSE_ERROR;
    }
    uint64_t n = b1 & 0x7F;
    size_t hl = 2;
    if (n == 126) {
        if (len < 4)
            return WS_PARSE_MORE;
        n = (uint64_t)buf[2] << 8 | buf[3];
        hl = 4;
    } else if (n == 127) {
        if (len < 10)
            return WS_PARSE_MORE;
        n = 0;
        for (unsigned i = 0; i < 8; i++)
            n = n << 8 | buf[2 + i];
        hl = 10;
    }
    if (f->opcode >= WS_OP_CLOSE && (!f->fin || n > WS_CTRL_MAX))
        return WS_PARSE_ERROR;
    if (n > max_payload)
        return WS_PARSE_ERROR;
    f->len = n;
    f->hdr_len = hl;
    return len - hl >= n ? WS_PARSE_OK : WS_PARSE_MORE;
}

size_t ws_write_header(uint8_t *hdr, enum ws_opcode op, uint64_t len, uint32_t mask)
{
    size_t h = 0;
    hdr[h++] = (uint8_t)(0x80 | op);
    if (len < 126) {
        hdr[h++] = (uint8_t)(0x80 | len);
    } else if (len <= 0xFFFF) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (uint8_t)(len >> 8);
        hdr[h++] = (uint8_t)len;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (uint8_t)(len >> (8 * i));
    }
    hdr[h++] = (uint8_t)(mask >> 24);
    hdr[h++] = (uint8_t)(mask >> 16);
    hdr[h++] = (uint8_t)(mask >> 8);
    hdr[h++] = (uint8_t)mask;
    return h;
}

void ws_mask(uint8_t *payload, size_t len, uint32_t mask)
{
    uint8_t k[8] = {(uint8_t)(mask >> 24), (uint8_t)(mask >> 16), (uint8_t)(mask >> 8),
                    (uint8_t)mask};
    memcpy(k + 4, k, 4);
    uint64_t k64;
    memcpy(&k64, k, 8);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, payload + i, 8);
        v ^= k64;
        memcpy(payload + i, &v, 8);
    }
    for (; i < len; i++)
        payload[i] ^= k[i & 3];
}
