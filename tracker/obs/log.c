/* log.c - log lines rate-limited per cause; see log.h. */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

void log_limited(struct log_limit *l, int64_t now_ms, unsigned cause, const char *fmt, ...)
{
    va_list ap;
    char line[256];
    if (cause >= LOG_CAUSES)
        cause = LOG_CAUSES - 1;
    if (now_ms < l->next_ms[cause]) {
        l->suppressed[cause]++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (l->suppressed[cause])
        fprintf(stderr, "wstracker: worker %u: %s (%llu more in the last %d s)\n", l->worker, line,
                (unsigned long long)l->suppressed[cause], LOG_INTERVAL_MS / 1000);
    else
        fprintf(stderr, "wstracker: worker %u: %s\n", l->worker, line);
    l->suppressed[cause] = 0;
    l->next_ms[cause] = now_ms + LOG_INTERVAL_MS;
}
