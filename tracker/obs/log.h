/* log.h - the tracker's log: one line per event on stderr, as text or JSON,
 * filtered by level; and lines rate-limited per cause.
 *
 * Owns:   the log level and format (set once by main before any worker
 *         starts, read-only afterwards), log_format_line() (pure: a line into
 *         a buffer), log_msg()/log_event() (format and write one line with
 *         one write(2), so lines of different threads never interleave),
 *         struct log_limit and log_limited()/log_refused().
 * Thread: any; each worker has its own struct log_limit and logs from its own
 *         thread.
 * Why:    operators ship logs (--log-format json); a hostile client can
 *         trigger a refusal thousands of times a second, so the log says each
 *         cause at most once per interval, with the number of repeats it did
 *         not print (issue 9, log amplification). Text lines keep the form
 *         scripts parse ("wstracker: ...", "listening on ws://HOST:PORT").
 */
#ifndef WSTRACKER_LOG_H
#define WSTRACKER_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_CAUSES      64    /* cause numbers 0..63 (enum proto_status values) */
#define LOG_INTERVAL_MS 10000 /* default: one line per cause per this many ms */
#define LOG_LINE_MAX    2048  /* bytes of one line; longer text is cut */
#define LOG_TEXT_MAX    512   /* bytes of one field's text; longer is cut */

/* In the order of --log-level's words (error|warn|info|debug). */
enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };
/* In the order of --log-format's words (text|json). */
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON };

/* A field of a JSON line ("key": "str" or "key": num); text lines do not
 * show fields (their message says it all). */
struct log_field {
    const char *key;
    const char *str; /* NULL: num */
    long long num;
};

#define LOG_STR(k, v) ((struct log_field){(k), (v), 0})
#define LOG_NUM(k, v) ((struct log_field){(k), NULL, (long long)(v)})

/* Main, before any worker starts (default: info, text). */
void log_setup(enum log_level level, enum log_format format);
bool log_enabled(enum log_level level);

/* One line into buf (cap bytes, NUL terminated, ending in "\n"); returns its
 * length. text: (prefix ? "wstracker: " : "") msg, control bytes shown as
 * \xHH; json: {"ts":"<ISO 8601 UTC, ms>","level":"..","msg":"..",<fields>}
 * with every string escaped (control bytes, quotes, backslash; bytes that are
 * not UTF-8 as U+FFFD). */
size_t log_format_line(char *buf, size_t cap, enum log_format format, enum log_level level,
                       int64_t unix_ms, bool prefix, const char *msg, const struct log_field *f,
                       unsigned n);

/* Write one event at level, unless the level is filtered out. */
void log_event(enum log_level level, bool prefix, const char *msg, const struct log_field *f,
               unsigned n);
/* "wstracker: <fmt>" at level (no fields). */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "listening on URL": at every level (scripts wait for it), with a url field. */
void log_listening(const char *url);

struct log_limit {
    unsigned worker;                 /* printed in each line */
    int64_t interval_ms;             /* 0: LOG_INTERVAL_MS */
    int64_t next_ms[LOG_CAUSES];     /* ms, monotonic: when the cause may log again */
    uint64_t suppressed[LOG_CAUSES]; /* lines not printed since the last one */
};

/* Print "wstracker: worker N: <fmt>" (level warn) unless cause logged less than
 * the interval before now_ms. */
void log_limited(struct log_limit *l, int64_t now_ms, unsigned cause, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The line for log_limit_take's count n: "wstracker: worker N: <text> (n more
 * in the last S s)" (level warn; JSON with worker and suppressed fields). */
void log_limited_count(const struct log_limit *l, const char *text, uint64_t n);

/* Whether cause may log now (else it is counted as suppressed): for a caller
 * that must work to build its line (log_refused). */
bool log_limit_due(struct log_limit *l, int64_t now_ms, unsigned cause);

/* The count of cause's lines not printed, when there are some and its
 * interval is over (then it starts again: the count's line is the cause's
 * line for it); else 0. For a periodic flush, so a burst's count is said
 * within about an interval of its end, not at the cause's next line. */
uint64_t log_limit_take(struct log_limit *l, int64_t now_ms, unsigned cause);

/* The line for log_limit_take's count n of refused connections: "wstracker:
 * worker N: refused STATUS: REASON (n more in the last S s)"; JSON msg
 * "connections refused" with worker, status, reason and suppressed. */
void log_refused_count(const struct log_limit *l, unsigned status, const char *reason, uint64_t n);

/* A refused connection, after log_limit_due said yes: "wstracker: worker N:
 * refused STATUS to ADDR: REASON" (level warn; with " (origin 'O')" when
 * origin is not NULL, and "(M more in the last S s)" when lines were
 * suppressed); JSON msg "connection refused" with worker, status, addr,
 * reason, origin and suppressed fields. */
void log_refused(struct log_limit *l, int64_t now_ms, unsigned cause, unsigned status,
                 const char *addr, const char *reason, const char *origin);

#endif
