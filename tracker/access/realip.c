/* realip.c - client addresses from the socket and trusted proxies; see realip.h.
 *
 * Owns:   the parsers and the rightmost-untrusted walk.
 * Thread: any (pure).
 * Why:    every header byte here comes from a client or a proxy, so each
 *         parser is bounded, unit-tested with hostile input
 *         (tests/unit/test_realip.c) and fuzzed (tests/fuzz/fuzz_realip.c).
 */
#include <arpa/inet.h>
#include <string.h>

#include "realip.h"

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool ip_is_v4(const struct ip_addr *a)
{
    return memcmp(a->b, v4_prefix, sizeof v4_prefix) == 0;
}

int ip_parse(const char *s, size_t n, struct ip_addr *out)
{
    char buf[REALIP_TEXT_MAX];
    const char *p = s, *end = s + n;
    size_t len;
    struct in_addr v4;
    struct in6_addr v6;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (p < end && *p == '[') { /* [v6] or [v6]:port */
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb || (rb + 1 != end && rb[1] != ':'))
            return -1;
        p++;
        len = (size_t)(rb - p);
        if (len == 0 || len >= sizeof buf)
            return -1;
        memcpy(buf, p, len);
        buf[len] = '\0';
        if (inet_pton(AF_INET6, buf, &v6) != 1)
            return -1;
        memcpy(out->b, v6.s6_addr, 16);
        return 0;
    }
    len = (size_t)(end - p);
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    if (memchr(buf, '\0', len))
        return -1;
    if (inet_pton(AF_INET6, buf, &v6) == 1) {
        memcpy(out->b, v6.s6_addr, 16);
        return 0;
    }
    /* IPv4, maybe with :port */
    {
        char *colon = strchr(buf, ':');
        if (colon) {
            const char *q = colon + 1;
            if (!*q || strchr(q, ':'))
                return -1;
            for (; *q; q++)
                if (*q < '0' || *q > '9')
                    return -1;
            *colon = '\0';
        }
    }
    if (inet_pton(AF_INET, buf, &v4) != 1)
        return -1;
    memcpy(out->b, v4_prefix, sizeof v4_prefix);
    memcpy(out->b + 12, &v4.s_addr, 4);
    return 0;
}

int ip_cidr_parse(const char *s, struct ip_cidr *out)
{
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    unsigned bits = 0, max;
    bool v4;
    if (ip_parse(s, n, &out->a) != 0 || memchr(s, ']', n))
        return -1;
    for (size_t k = 0, dot = 0; k < n; k++) { /* "10.0.0.1:80" has a port: not a range */
        if (s[k] == '.')
            dot = k + 1;
        else if (s[k] == ':' && dot)
            return -1;
    }
    v4 = ip_is_v4(&out->a);
    max = v4 ? 32 : 128;
    if (slash) {
        const char *q = slash + 1;
        if (!*q || strlen(q) > 3)
            return -1;
        for (; *q; q++) {
            if (*q < '0' || *q > '9')
                return -1;
            bits = bits * 10 + (unsigned)(*q - '0');
        }
        if (bits > max)
            return -1;
    } else {
        bits = max;
    }
    out->len = (uint8_t)(v4 ? 96 + bits : bits);
    for (unsigned k = out->len; k < 128; k++)
        out->a.b[k / 8] &= (uint8_t) ~(0x80u >> (k % 8));
    return 0;
}

bool ip_cidr_match(const struct ip_cidr *c, const struct ip_addr *a)
{
    unsigned full = c->len / 8, rest = c->len % 8;
    if (memcmp(c->a.b, a->b, full) != 0)
        return false;
    if (rest) {
        uint8_t mask = (uint8_t)(0xffu << (8 - rest));
        if ((c->a.b[full] & mask) != (a->b[full] & mask))
            return false;
    }
    return true;
}

static bool trusted_addr(const struct ip_addr *a, const struct ip_cidr *t, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        if (ip_cidr_match(&t[k], a))
            return true;
    return false;
}

/* The entries of a comma-separated header, right to left: the next one
 * before *end (exclusive). Returns false when there is none. */
static bool prev_entry(const char *h, const char **end, const char **b, const char **e)
{
    const char *p = *end;
    if (p <= h)
        return false;
    *e = p;
    while (p > h && p[-1] != ',')
        p--;
    *b = p;
    *end = p > h ? p - 1 : h;
    return true;
}

struct ip_addr realip(const struct ip_addr *peer, const char *xff, const struct ip_cidr *trusted,
                      unsigned n_trusted)
{
    struct ip_addr who = *peer;
    const char *end, *b, *e;
    if (!xff || !*xff || !trusted_addr(peer, trusted, n_trusted))
        return who;
    end = xff + strlen(xff);
    for (unsigned hops = 0; hops < REALIP_HOPS_MAX && prev_entry(xff, &end, &b, &e); hops++) {
        struct ip_addr a;
        if (ip_parse(b, (size_t)(e - b), &a) != 0)
            return who;
        who = a;
        if (!trusted_addr(&a, trusted, n_trusted))
            return who;
    }
    return who;
}

uint64_t ip_cap_key(const struct ip_addr *a)
{
    uint64_t k = 0;
    if (ip_is_v4(a)) {
        for (int i = 12; i < 16; i++)
            k = k << 8 | a->b[i];
        return k | (1ull << 63) | (1ull << 62); /* no global IPv6 /64 starts with 11 */
    }
    for (int i = 0; i < 8; i++)
        k = k << 8 | a->b[i];
    return k;
}

int ip_format(const struct ip_addr *a, char *out, size_t cap)
{
    struct in6_addr v6;
    if (ip_is_v4(a)) {
        struct in_addr v4;
        memcpy(&v4.s_addr, a->b + 12, 4);
        if (!inet_ntop(AF_INET, &v4, out, (socklen_t)cap))
            return -1;
    } else {
        memcpy(v6.s6_addr, a->b, 16);
        if (!inet_ntop(AF_INET6, &v6, out, (socklen_t)cap))
            return -1;
    }
    return (int)strlen(out);
}
