/* log.h - log lines rate-limited per cause.
 *
 * Owns:   struct log_limit and log_limited().
 * Thread: each worker has its own struct log_limit and logs from its own thread.
 * Why:    a hostile client can trigger a refusal thousands of times a second;
 *         the log says each cause at most once per LOG_INTERVAL_MS, with the
 *         number of repeats it did not print (issue 9, log amplification).
 */
#ifndef WSTRACKER_LOG_H
#define WSTRACKER_LOG_H

#include <stdint.h>

#define LOG_CAUSES      32    /* cause numbers 0..31 (enum proto_status values) */
#define LOG_INTERVAL_MS 10000 /* one line per cause per this many ms */

struct log_limit {
    unsigned worker;                 /* printed in each line */
    int64_t next_ms[LOG_CAUSES];     /* ms, monotonic: when the cause may log again */
    uint64_t suppressed[LOG_CAUSES]; /* lines not printed since the last one */
};

/* Print "wstracker: worker N: <fmt>" to stderr unless cause logged less than
 * LOG_INTERVAL_MS before now_ms. */
void log_limited(struct log_limit *l, int64_t now_ms, unsigned cause, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
