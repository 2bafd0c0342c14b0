/* realip.h - who the client is: addresses, CIDR lists, X-Forwarded-For from
 * trusted proxies only.
 *
 * Owns:   struct ip_addr, struct ip_cidr, parsing them, and the choice of the
 *         client's address for the per-IP cap (PROTOCOL.md section 1).
 * Thread: any; pure functions of their arguments (no I/O).
 * Why:    behind a reverse proxy every client has the proxy's address; the
 *         proxy says who the client is in X-Forwarded-For. That header is
 *         believed only from --trust-proxy addresses: from anyone else it is
 *         ignored, or a client could name any address it likes and escape
 *         its cap (or exhaust someone else's).
 */
#ifndef WSTRACKER_REALIP_H
#define WSTRACKER_REALIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REALIP_HOPS_MAX    32 /* X-Forwarded-For entries looked at, rightmost first */
#define REALIP_TRUSTED_MAX 16 /* --trust-proxy may repeat this many times */
#define REALIP_TEXT_MAX    64 /* an address as text, with brackets and port */

/* An IPv4 address is kept as IPv4-mapped IPv6 (::ffff:a.b.c.d). */
struct ip_addr {
    uint8_t b[16];
};

struct ip_cidr {
    struct ip_addr a; /* bits past len are zero */
    uint8_t len;      /* prefix length in IPv6 terms: IPv4 /n is 96 + n */
};

/* "1.2.3.4", "::1", "[::1]", "1.2.3.4:80", "[::1]:80": 0, or -1 when it is
 * not an address (names, "unknown", "_hidden" and garbage included). */
int ip_parse(const char *s, size_t n, struct ip_addr *out);

/* "10.0.0.0/8", "::1/128", "192.168.1.7" (a single address): 0 or -1. */
int ip_cidr_parse(const char *s, struct ip_cidr *out);

bool ip_cidr_match(const struct ip_cidr *c, const struct ip_addr *a);
bool ip_is_v4(const struct ip_addr *a);

/* The client's address: the TCP peer, unless the peer is one of the trusted
 * proxies; then the rightmost address in X-Forwarded-For (the whole header,
 * repeated lines joined by commas) that is not itself trusted, or the
 * leftmost when all are. An entry that is not an address stops the walk at
 * the hop that added it (that hop is the client as far as anyone can tell).
 * xff may be NULL. (Forwarded, RFC 7239, is not read: libwebsockets 4.1
 * shows only its first line, which the client may have written.) */
struct ip_addr realip(const struct ip_addr *peer, const char *xff, const struct ip_cidr *trusted,
                      unsigned n_trusted);

/* What the per-IP cap counts: an IPv4 address, or an IPv6 address's /64. */
uint64_t ip_cap_key(const struct ip_addr *a);

/* The address as text ("1.2.3.4", "2001:db8::1"); returns its length. */
int ip_format(const struct ip_addr *a, char *out, size_t cap);

#endif
