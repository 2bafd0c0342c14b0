/* origin.c - the Origin allow list; see origin.h.
 *
 * Owns:   origin syntax and matching.
 * Thread: any (pure).
 * Why:    matching is on the host's labels, not on substrings, so
 *         "https://app.example.org.evil.net" never passes for
 *         "https://[*].example.org" (tests/unit/test_origin.c; [*] is a star).
 */
#include <ctype.h>
#include <string.h>

#include "origin.h"

/* scheme://host[:port] split; false unless the text has exactly that shape
 * (no path, no userinfo, no spaces). */
struct parts {
    const char *scheme, *host, *port; /* port may be NULL */
    size_t scheme_len, host_len, port_len;
};

static bool split(const char *s, size_t n, struct parts *p)
{
    const char *sep, *h, *end = s + n, *colon;
    memset(p, 0, sizeof *p);
    if (n == 0 || n >= ORIGIN_MAX)
        return false;
    for (size_t k = 0; k < n; k++)
        if (!isgraph((unsigned char)s[k]))
            return false;
    sep = NULL;
    for (const char *q = s; q + 3 <= end && !sep; q++)
        if (q[0] == ':' && q[1] == '/' && q[2] == '/')
            sep = q;
    if (!sep || sep == s)
        return false;
    for (const char *q = s; q < sep; q++)
        if (!isalnum((unsigned char)*q) && *q != '+' && *q != '-' && *q != '.')
            return false;
    h = sep + 3;
    if (h >= end || memchr(h, '@', (size_t)(end - h)) || memchr(h, '/', (size_t)(end - h)))
        return false;
    colon = memchr(h, ':', (size_t)(end - h));
    p->scheme = s;
    p->scheme_len = (size_t)(sep - s);
    p->host = h;
    p->host_len = (size_t)((colon ? colon : end) - h);
    if (p->host_len == 0)
        return false;
    if (colon) {
        p->port = colon + 1;
        p->port_len = (size_t)(end - p->port);
        if (p->port_len == 0 || p->port_len > 5)
            return false;
        for (size_t k = 0; k < p->port_len; k++)
            if (!isdigit((unsigned char)p->port[k]))
                return false;
    }
    return true;
}

static bool same(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn)
        return false;
    for (size_t k = 0; k < an; k++)
        if (tolower((unsigned char)a[k]) != tolower((unsigned char)b[k]))
            return false;
    return true;
}

int origin_pattern_check(const char *pattern)
{
    struct parts p;
    if (!split(pattern, strlen(pattern), &p))
        return -1;
    if (memchr(p.host, '*', p.host_len) &&
        (p.host_len < 3 || p.host[0] != '*' || p.host[1] != '.' ||
         memchr(p.host + 1, '*', p.host_len - 1)))
        return -1; /* a wildcard only as the whole first label */
    return 0;
}

static bool match(const struct parts *o, const char *pattern)
{
    struct parts p;
    if (!split(pattern, strlen(pattern), &p))
        return false;
    if (!same(o->scheme, o->scheme_len, p.scheme, p.scheme_len) ||
        !same(o->port ? o->port : "", o->port_len, p.port ? p.port : "", p.port_len))
        return false;
    if (p.host_len >= 2 && p.host[0] == '*' && p.host[1] == '.') {
        size_t dl = p.host_len - 1; /* ".domain" */
        return o->host_len > dl && !memchr(o->host, '*', o->host_len) &&
               same(o->host + o->host_len - dl, dl, p.host + 1, dl);
    }
    return same(o->host, o->host_len, p.host, p.host_len);
}

bool origin_allowed(const char *origin, size_t len, const char (*patterns)[ORIGIN_MAX], unsigned n)
{
    struct parts o;
    if (!split(origin, len, &o))
        return false;
    for (unsigned k = 0; k < n; k++)
        if (match(&o, patterns[k]))
            return true;
    return false;
}
