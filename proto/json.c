/* json.c - a small JSON reader over text the scanner's validator accepted.
 *
 * Owns:   member lookup, iteration, string decoding and integers of
 *         proto/json.h.
 * Thread: pure functions, any thread; no allocation, no globals.
 * Why:    json_parse validates everything once, so the walkers below may
 *         assume well-formed text (every string closed, every container
 *         balanced) and stay short.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "scan.h"

static size_t ws(const char *s, size_t len, size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

static enum json_type type_of(char ch)
{
    switch (ch) {
    case '{': return JSON_OBJECT;
    case '[': return JSON_ARRAY;
    case '"': return JSON_STRING;
    case 't': return JSON_TRUE;
    case 'f': return JSON_FALSE;
    case 'n': return JSON_NULL;
    default: return JSON_NUMBER;
    }
}

/* The value at s[i] (validated text): its span, and the index past it. */
static size_t value_at(const char *s, size_t len, size_t i, struct json_val *out)
{
    size_t end = proto_json_skip(s, len, i), stop;
    i = ws(s, len, i);
    stop = end;
    while (stop > i && (s[stop - 1] == ' ' || s[stop - 1] == '\t' || s[stop - 1] == '\n' ||
                        s[stop - 1] == '\r'))
        stop--;
    out->type = type_of(s[i]);
    out->p = s + i;
    out->len = stop - i;
    return end;
}

int json_parse(const char *s, size_t len, struct json_val *out)
{
    memset(out, 0, sizeof *out);
    if (!len || proto_json_skip(s, len, 0) != len)
        return -1;
    (void)value_at(s, len, 0, out);
    return 0;
}

void json_iter_init(struct json_iter *it, const struct json_val *c)
{
    it->s = c->p;
    it->len = c->len;
    it->i = 1; /* past '{' or '[' */
    it->object = c->type == JSON_OBJECT;
    if (c->type != JSON_OBJECT && c->type != JSON_ARRAY)
        it->i = it->len; /* nothing to iterate */
}

/* The next member (object: key too) or item. */
static bool next(struct json_iter *it, struct json_val *key, struct json_val *out)
{
    size_t i = ws(it->s, it->len, it->i);
    if (i >= it->len || it->s[i] == ']' || it->s[i] == '}') {
        it->i = it->len;
        return false;
    }
    if (it->object) {
        i = value_at(it->s, it->len, i, key);
        i = ws(it->s, it->len, i) + 1; /* past ':' */
    }
    i = value_at(it->s, it->len, i, out);
    i = ws(it->s, it->len, i);
    it->i = i < it->len && it->s[i] == ',' ? i + 1 : i;
    return true;
}

bool json_next(struct json_iter *it, struct json_val *out)
{
    struct json_val key;
    return next(it, &key, out);
}

size_t json_count(const struct json_val *c)
{
    struct json_iter it;
    struct json_val v;
    size_t n = 0;
    json_iter_init(&it, c);
    while (json_next(&it, &v))
        n++;
    return n;
}

int json_member(const struct json_val *obj, const char *key, struct json_val *out)
{
    struct json_iter it;
    struct json_val k, v;
    int found = 0;
    memset(out, 0, sizeof *out);
    if (obj->type != JSON_OBJECT)
        return -1;
    json_iter_init(&it, obj);
    while (next(&it, &k, &v)) {
        if (!json_string_is(&k, key))
            continue;
        if (found)
            return -1;
        *out = v;
        found = 1;
    }
    return found;
}

static unsigned hex4(const char *p)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char h = (unsigned char)p[k];
        v = v * 16 + (unsigned)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
    }
    return v;
}

/* Append code point cp as UTF-8; false when it does not fit. */
static bool put_utf8(char *out, size_t cap, size_t *o, unsigned cp)
{
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | cp >> 6);
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | cp >> 12);
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | cp >> 18);
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    if (*o + n >= cap)
        return false;
    memcpy(out + *o, b, n);
    *o += n;
    return true;
}

long json_string(const struct json_val *v, char *out, size_t cap)
{
    size_t o = 0;
    if (v->type != JSON_STRING || !cap)
        return -1;
    for (size_t i = 1; i + 1 < v->len; i++) {
        char ch = v->p[i];
        unsigned cp;
        if (ch != '\\') {
            if (o + 1 >= cap)
                return -1;
            out[o++] = ch;
            continue;
        }
        ch = v->p[++i];
        switch (ch) {
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            cp = hex4(v->p + i + 1);
            i += 4;
            /* A high surrogate takes the low one after it; a lone one is
             * written as U+FFFD, as JSON.parse + TextEncoder would. */
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 < v->len && v->p[i + 1] == '\\' &&
                v->p[i + 2] == 'u') {
                unsigned lo = hex4(v->p + i + 3);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
            }
            if (cp >= 0xD800 && cp <= 0xDFFF)
                cp = 0xFFFD;
            break;
        default: cp = (unsigned char)ch; break;
        }
        if (cp == 0 || !put_utf8(out, cap, &o, cp))
            return -1;
    }
    out[o] = '\0';
    return (long)o;
}

bool json_string_is(const struct json_val *v, const char *s)
{
    char buf[256];
    size_t n = strlen(s);
    long got;
    if (v->type != JSON_STRING || n >= sizeof buf)
        return false;
    /* the common case: no escapes, compare in place */
    if (v->len == n + 2 && memcmp(v->p + 1, s, n) == 0)
        return true;
    if (!memchr(v->p, '\\', v->len))
        return false;
    got = json_string(v, buf, sizeof buf);
    return got == (long)n && memcmp(buf, s, n) == 0;
}

int json_int(const struct json_val *v, int64_t *out)
{
    char buf[64];
    double d;
    if (v->type != JSON_NUMBER || v->len >= sizeof buf)
        return -1;
    memcpy(buf, v->p, v->len);
    buf[v->len] = '\0';
    d = strtod(buf, NULL);
    if (!isfinite(d) || d > 9007199254740992.0 || d < -9007199254740992.0)
        return -1;
    *out = (int64_t)d; /* truncates toward zero */
    return 0;
}
