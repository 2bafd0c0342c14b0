/* origin.h - the Origin allow list for browsers (--allow-origin).
 *
 * Owns:   matching a request's Origin header against the configured origins.
 * Thread: any; pure functions of their arguments.
 * Why:    a private tracker behind a web app should serve that app's pages,
 *         not every page on the web that points a WebSocket at it. Origin is
 *         the browser's word (other clients can send anything, or nothing),
 *         so this keeps other sites' pages out; tokens (issue 12) keep out
 *         everyone else.
 */
#ifndef WSTRACKER_ORIGIN_H
#define WSTRACKER_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>

#define ORIGIN_LIST_MAX 16  /* --allow-origin may repeat this many times */
#define ORIGIN_MAX      256 /* bytes of one origin, NUL included */

/* A pattern is "scheme://host[:port]" (matched exactly, case-insensitively)
 * or "scheme://" "*.domain[:port]" (any subdomain of domain, at any depth, but
 * not domain itself). Returns 0, or -1 when it is not such a pattern. */
int origin_pattern_check(const char *pattern);

/* Whether origin (the header's value, len bytes) matches one of the n
 * patterns. "null" and anything that is not scheme://host[:port] never do. */
bool origin_allowed(const char *origin, size_t len, const char (*patterns)[ORIGIN_MAX], unsigned n);

#endif
