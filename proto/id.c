/* id.c - 20-byte binary-string ids <-> JSON string contents.
 *
 * Owns:   the Latin-1 id codec; see id.h and PROTOCOL.md section 2.
 * Thread: pure functions, any thread.
 * Why:    one exact codec, fuzzed and tested on all 256 byte values.
 */
#include "id.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode one code point starting at s[*i]; returns it or -1. */
static long next_code_point(const char *s, size_t len, size_t *i)
{
    unsigned char c = (unsigned char)s[*i];
    if (c == '\\') {
        if (*i + 1 >= len)
            return -1;
        char e = s[*i + 1];
        *i += 2;
        switch (e) {
        case '"': return '"';
        case '\\': return '\\';
        case '/': return '/';
        case 'b': return 0x08;
        case 'f': return 0x0c;
        case 'n': return 0x0a;
        case 'r': return 0x0d;
        case 't': return 0x09;
        case 'u': break;
        default: return -1;
        }
        if (*i + 4 > len)
            return -1;
        long v = 0;
        for (int k = 0; k < 4; k++) {
            int h = hexval(s[*i + (size_t)k]);
            if (h < 0)
                return -1;
            v = v * 16 + h;
        }
        *i += 4;
        return v; /* a surrogate half is > 0xFF and rejected by the caller */
    }
    if (c < 0x20)
        return -1; /* raw control characters are not valid JSON */
    if (c < 0x80) {
        *i += 1;
        return c;
    }
    /* Only U+0080..U+00FF can be part of an id: two-byte UTF-8 led by C2 or C3. */
    if ((c == 0xC2 || c == 0xC3) && *i + 1 < len) {
        unsigned char c2 = (unsigned char)s[*i + 1];
        if ((c2 & 0xC0) != 0x80)
            return -1;
        *i += 2;
        return ((long)(c & 0x1F) << 6) | (long)(c2 & 0x3F);
    }
    return -1;
}

int proto_id_decode(const char *s, size_t len, uint8_t out[PROTO_ID_LEN])
{
    size_t i = 0;
    int n = 0;
    while (i < len) {
        if (n == PROTO_ID_LEN)
            return -1;
        long cp = next_code_point(s, len, &i);
        if (cp < 0 || cp > 0xFF)
            return -1;
        out[n++] = (uint8_t)cp;
    }
    return n == PROTO_ID_LEN ? 0 : -1;
}

size_t proto_id_encode(const uint8_t id[PROTO_ID_LEN], char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int k = 0; k < PROTO_ID_LEN; k++) {
        uint8_t b = id[k];
        switch (b) {
        case 0x08:
            out[o++] = '\\';
            out[o++] = 'b';
            continue;
        case 0x09:
            out[o++] = '\\';
            out[o++] = 't';
            continue;
        case 0x0a:
            out[o++] = '\\';
            out[o++] = 'n';
            continue;
        case 0x0c:
            out[o++] = '\\';
            out[o++] = 'f';
            continue;
        case 0x0d:
            out[o++] = '\\';
            out[o++] = 'r';
            continue;
        case '"':
            out[o++] = '\\';
            out[o++] = '"';
            continue;
        case '\\':
            out[o++] = '\\';
            out[o++] = '\\';
            continue;
        default: break;
        }
        if (b < 0x20) {
            out[o++] = '\\';
            out[o++] = 'u';
            out[o++] = '0';
            out[o++] = '0';
            out[o++] = hex[b >> 4];
            out[o++] = hex[b & 0x0f];
        } else if (b < 0x80) {
            out[o++] = (char)b;
        } else {
            out[o++] = (char)(0xC0 | (b >> 6));
            out[o++] = (char)(0x80 | (b & 0x3F));
        }
    }
    return o;
}
