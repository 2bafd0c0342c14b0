/* log.c - the tracker's log lines, text or JSON, and their rate limits; see log.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static enum log_level log_level = LOG_INFO;
static enum log_format log_format = LOG_FORMAT_TEXT;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_setup(enum log_level level, enum log_format format)
{
    log_level = level;
    log_format = format;
}

bool log_enabled(enum log_level level)
{
    return level <= log_level;
}

/* An output buffer that stops at its capacity (one byte kept for the NUL). */
struct out {
    char *p;
    size_t n, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->n + 1 >= o->cap)
        return;
    if (n > o->cap - 1 - o->n)
        n = o->cap - 1 - o->n;
    memcpy(o->p + o->n, s, n);
    o->n += n;
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* The length of the UTF-8 sequence at s (of at most n bytes), or 0 when it is
 * not one (overlong forms, surrogates and code points past U+10FFFF are not). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0], need, cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        need = 2, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 3, cp = c & 0x07;
    else
        return 0;
    if (n < need + 1)
        return 0;
    for (unsigned k = 1; k <= need; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[k] & 0x3F);
    }
    if ((need == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return need + 1;
}

/* s (at most max bytes of it) as the inside of a JSON string. */
static void put_json_str(struct out *o, const char *s, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strnlen(s, max), i = 0;
    char esc[8];
    while (i < n) {
        unsigned char c = u[i];
        size_t l;
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c;
            put(o, esc, 2);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            puts_(o, esc);
            i++;
        } else if ((l = utf8_len(u + i, n - i)) > 0) {
            put(o, s + i, l);
            i += l;
        } else {
            puts_(o, "\\ufffd");
            i++;
        }
    }
}

/* s as text: control bytes and DEL as \xHH, so no client text can start a
 * line of its own. */
static void put_text(struct out *o, const char *s)
{
    char esc[8];
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        if (*u < 0x20 || *u == 0x7F) {
            snprintf(esc, sizeof esc, "\\x%02x", *u);
            puts_(o, esc);
        } else {
            put(o, (const char *)u, 1);
        }
    }
}

size_t log_format_line(char *buf, size_t cap, enum log_format format, enum log_level level,
                       int64_t unix_ms, bool prefix, const char *msg, const struct log_field *f,
                       unsigned n)
{
    struct out o = {buf, 0, cap};
    if (cap == 0)
        return 0;
    if (format == LOG_FORMAT_JSON) {
        char ts[96], num[32];
        struct tm tm;
        time_t secs = (time_t)(unix_ms / 1000);
        gmtime_r(&secs, &tm);
        snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(unix_ms % 1000));
        puts_(&o, "{\"ts\":\"");
        puts_(&o, ts);
        puts_(&o, "\",\"level\":\"");
        puts_(&o, level_names[level <= LOG_DEBUG ? level : LOG_DEBUG]);
        puts_(&o, "\",\"msg\":\"");
        put_json_str(&o, msg, LOG_LINE_MAX); /* the line bounds it */
        put(&o, "\"", 1);
        for (unsigned k = 0; k < n; k++) {
            puts_(&o, ",\"");
            put_json_str(&o, f[k].key, LOG_TEXT_MAX);
            puts_(&o, "\":");
            if (f[k].str) {
                put(&o, "\"", 1);
                put_json_str(&o, f[k].str, LOG_TEXT_MAX);
                put(&o, "\"", 1);
            } else {
                snprintf(num, sizeof num, "%lld", f[k].num);
                puts_(&o, num);
            }
        }
        /* a line cut at the buffer's end would not parse: room for "}\n" is kept */
        if (o.n + 3 > cap) {
            o.n = 0;
            puts_(&o, "{\"ts\":\"");
            puts_(&o, ts);
            puts_(&o, "\",\"level\":\"error\",\"msg\":\"log line too long\"");
        }
        puts_(&o, "}");
    } else {
        if (prefix)
            puts_(&o, "wstracker: ");
        put_text(&o, msg);
    }
    if (o.n + 1 >= cap) /* keep the newline */
        o.n = cap - 2;
    buf[o.n++] = '\n';
    buf[o.n] = '\0';
    return o.n;
}

static int64_t unix_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void emit(enum log_level level, bool prefix, const char *msg, const struct log_field *f,
                 unsigned n)
{
    char line[LOG_LINE_MAX];
    size_t len =
        log_format_line(line, sizeof line, log_format, level, unix_now_ms(), prefix, msg, f, n);
    ssize_t w = write(STDERR_FILENO, line, len); /* one write: lines never interleave */
    (void)w;
}

void log_event(enum log_level level, bool prefix, const char *msg, const struct log_field *f,
               unsigned n)
{
    if (log_enabled(level))
        emit(level, prefix, msg, f, n);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char msg[LOG_LINE_MAX];
    va_list ap;
    if (!log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    emit(level, true, msg, NULL, 0);
}

void log_listening(const char *url)
{
    char msg[LOG_TEXT_MAX];
    const struct log_field f[] = {LOG_STR("url", url)};
    snprintf(msg, sizeof msg, "listening on %s", url);
    emit(LOG_INFO, false, msg, f, 1);
}

static int64_t interval(const struct log_limit *l)
{
    return l->interval_ms > 0 ? l->interval_ms : LOG_INTERVAL_MS;
}

bool log_limit_due(struct log_limit *l, int64_t now_ms, unsigned cause)
{
    if (cause >= LOG_CAUSES)
        cause = LOG_CAUSES - 1;
    if (now_ms < l->next_ms[cause]) {
        l->suppressed[cause]++;
        return false;
    }
    return true;
}

/* The cause has logged: start its interval again. Returns the lines it did
 * not print since the last. */
static uint64_t logged(struct log_limit *l, int64_t now_ms, unsigned cause)
{
    uint64_t s;
    if (cause >= LOG_CAUSES)
        cause = LOG_CAUSES - 1;
    s = l->suppressed[cause];
    l->suppressed[cause] = 0;
    l->next_ms[cause] = now_ms + interval(l);
    return s;
}

void log_limited(struct log_limit *l, int64_t now_ms, unsigned cause, const char *fmt, ...)
{
    va_list ap;
    char line[256], msg[LOG_LINE_MAX];
    uint64_t s;
    if (!log_limit_due(l, now_ms, cause))
        return;
    s = logged(l, now_ms, cause);
    if (!log_enabled(LOG_WARN))
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (s)
        snprintf(msg, sizeof msg, "worker %u: %s (%llu more in the last %d s)", l->worker, line,
                 (unsigned long long)s, (int)(interval(l) / 1000));
    else
        snprintf(msg, sizeof msg, "worker %u: %s", l->worker, line);
    {
        const struct log_field f[] = {LOG_NUM("worker", l->worker), LOG_NUM("suppressed", s)};
        emit(LOG_WARN, true, msg, f, 2);
    }
}

uint64_t log_limit_take(struct log_limit *l, int64_t now_ms, unsigned cause)
{
    if (cause >= LOG_CAUSES)
        cause = LOG_CAUSES - 1;
    if (!l->suppressed[cause] || now_ms < l->next_ms[cause])
        return 0;
    return logged(l, now_ms, cause);
}

void log_limited_count(const struct log_limit *l, const char *text, uint64_t n)
{
    char msg[LOG_LINE_MAX];
    const struct log_field f[] = {LOG_NUM("worker", l->worker), LOG_NUM("suppressed", n)};
    if (!log_enabled(LOG_WARN))
        return;
    snprintf(msg, sizeof msg, "worker %u: %s (%llu more in the last %d s)", l->worker, text,
             (unsigned long long)n, (int)(interval(l) / 1000));
    emit(LOG_WARN, true, msg, f, 2);
}

void log_refused_count(const struct log_limit *l, unsigned status, const char *reason, uint64_t n)
{
    char msg[LOG_LINE_MAX];
    const struct log_field f[] = {LOG_NUM("worker", l->worker), LOG_NUM("status", status),
                                  LOG_STR("reason", reason), LOG_NUM("suppressed", n)};
    if (!log_enabled(LOG_WARN))
        return;
    snprintf(msg, sizeof msg, "worker %u: refused %u: %s (%llu more in the last %d s)", l->worker,
             status, reason, (unsigned long long)n, (int)(interval(l) / 1000));
    emit(LOG_WARN, true, log_format == LOG_FORMAT_JSON ? "connections refused" : msg, f, 4);
}

void log_refused(struct log_limit *l, int64_t now_ms, unsigned cause, unsigned status,
                 const char *addr, const char *reason, const char *origin)
{
    char msg[LOG_LINE_MAX], more[64] = "", org[LOG_TEXT_MAX + 16] = "";
    uint64_t s = logged(l, now_ms, cause);
    struct log_field f[6];
    unsigned n = 0;
    if (!log_enabled(LOG_WARN))
        return;
    if (s)
        snprintf(more, sizeof more, " (%llu more in the last %d s)", (unsigned long long)s,
                 (int)(interval(l) / 1000));
    if (origin)
        snprintf(org, sizeof org, " (origin '%.*s')", LOG_TEXT_MAX, origin);
    snprintf(msg, sizeof msg, "worker %u: refused %u to %s: %s%s%s", l->worker, status, addr,
             reason, org, more);
    f[n++] = LOG_NUM("worker", l->worker);
    f[n++] = LOG_NUM("status", status);
    f[n++] = LOG_STR("addr", addr);
    f[n++] = LOG_STR("reason", reason);
    if (origin)
        f[n++] = LOG_STR("origin", origin);
    f[n++] = LOG_NUM("suppressed", s);
    if (log_format == LOG_FORMAT_JSON)
        emit(LOG_WARN, true, "connection refused", f, n);
    else
        emit(LOG_WARN, true, msg, f, n);
}
