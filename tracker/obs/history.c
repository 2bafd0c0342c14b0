/* history.c - the /stats page's sample ring and top rooms; see history.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"

/* ---- the seqlock ---- */

static void write_begin(_Atomic uint64_t *seq)
{
    uint64_t s = atomic_load_explicit(seq, memory_order_relaxed);
    atomic_store_explicit(seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release); /* odd seq before the stores */
}

static void write_end(_Atomic uint64_t *seq)
{
    uint64_t s = atomic_load_explicit(seq, memory_order_relaxed);
    atomic_store_explicit(seq, s + 1, memory_order_release); /* the stores before even seq */
}

static uint64_t read_begin(_Atomic uint64_t *seq)
{
    return atomic_load_explicit(seq, memory_order_acquire);
}

/* The copy made since read_begin returned s is whole. */
static bool read_ok(_Atomic uint64_t *seq, uint64_t s)
{
    atomic_thread_fence(memory_order_acquire); /* the loads before the second seq load */
    return !(s & 1) && atomic_load_explicit(seq, memory_order_relaxed) == s;
}

/* ---- the ring ---- */

void history_push(struct stats_history *h, const struct history_sample *s)
{
    uint64_t n = atomic_load_explicit(&h->n, memory_order_relaxed);
    unsigned slot = (unsigned)(n % HISTORY_MAX);
    write_begin(&h->seq);
    for (unsigned f = 0; f < HIST_FIELDS; f++)
        atomic_store_explicit(&h->v[slot][f], s->v[f], memory_order_relaxed);
    atomic_store_explicit(&h->n, n + 1, memory_order_relaxed);
    write_end(&h->seq);
}

unsigned history_read(struct stats_history *h, struct history_sample *out)
{
    unsigned got = 0;
    for (unsigned tries = 0; tries < HISTORY_READ_TRIES; tries++) {
        uint64_t s = read_begin(&h->seq);
        uint64_t n = atomic_load_explicit(&h->n, memory_order_relaxed);
        uint64_t first = n > HISTORY_MAX ? n - HISTORY_MAX : 0;
        got = (unsigned)(n - first);
        for (unsigned k = 0; k < got; k++) {
            unsigned slot = (unsigned)((first + k) % HISTORY_MAX);
            for (unsigned f = 0; f < HIST_FIELDS; f++)
                out[k].v[f] = atomic_load_explicit(&h->v[slot][f], memory_order_relaxed);
        }
        if (read_ok(&h->seq, s))
            break;
    }
    return got;
}

int history_write_json(char *buf, size_t cap, struct stats_history *h, unsigned interval_s)
{
    static const char *const names[HIST_FIELDS] = {
        [HIST_T] = "t",           [HIST_CONNECTIONS] = "connections",
        [HIST_PEERS] = "peers",   [HIST_ANNOUNCES] = "announces",
        [HIST_OFFERS] = "offers", [HIST_RELAYS] = "relays",
        [HIST_RSS] = "rss",
    };
    struct history_sample *s = NULL;
    size_t len;
    unsigned n;
    int r;
    /* HISTORY_MAX * HIST_FIELDS * 8 = 20 KiB: on the heap, not the worker's stack */
    s = calloc(HISTORY_MAX, sizeof *s);
    if (!s)
        return -1;
    n = history_read(h, s);
    r = snprintf(buf, cap, "{\"interval\":%u,\"max\":%u,\"samples\":%u", interval_s, HISTORY_MAX,
                 n);
    if (r < 0 || (size_t)r >= cap)
        goto short_buf;
    len = (size_t)r;
    for (unsigned f = 0; f < HIST_FIELDS; f++) {
        r = snprintf(buf + len, cap - len, ",\"%s\":[", names[f]);
        if (r < 0 || (size_t)r >= cap - len)
            goto short_buf;
        len += (size_t)r;
        for (unsigned k = 0; k < n; k++) {
            r = snprintf(buf + len, cap - len, "%s%" PRIu64, k ? "," : "", s[k].v[f]);
            if (r < 0 || (size_t)r >= cap - len)
                goto short_buf;
            len += (size_t)r;
        }
        if (len + 1 >= cap)
            goto short_buf;
        buf[len++] = ']';
    }
    if (len + 2 > cap)
        goto short_buf;
    buf[len++] = '}';
    buf[len] = '\0';
    free(s);
    return (int)len;
short_buf:
    free(s);
    return -1;
}

/* ---- top rooms ---- */

void top_publish(struct stats_top *t, const struct top_entry *e, unsigned n)
{
    if (n > STATS_TOP)
        n = STATS_TOP;
    write_begin(&t->seq);
    for (unsigned k = 0; k < n; k++) {
        uint32_t h;
        memcpy(&h, e[k].hash4, 4);
        atomic_store_explicit(&t->hash4[k], h, memory_order_relaxed);
        atomic_store_explicit(&t->peers[k], e[k].peers, memory_order_relaxed);
    }
    atomic_store_explicit(&t->n, n, memory_order_relaxed);
    write_end(&t->seq);
}

unsigned top_read(struct stats_top *t, struct top_entry *out)
{
    unsigned n = 0;
    for (unsigned tries = 0; tries < HISTORY_READ_TRIES; tries++) {
        uint64_t s = read_begin(&t->seq);
        n = atomic_load_explicit(&t->n, memory_order_relaxed);
        if (n > STATS_TOP)
            n = STATS_TOP;
        for (unsigned k = 0; k < n; k++) {
            uint32_t h = atomic_load_explicit(&t->hash4[k], memory_order_relaxed);
            memcpy(out[k].hash4, &h, 4);
            out[k].peers = atomic_load_explicit(&t->peers[k], memory_order_relaxed);
        }
        if (read_ok(&t->seq, s))
            break;
    }
    return n;
}
