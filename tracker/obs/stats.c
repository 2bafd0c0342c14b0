/* stats.c - counters per worker, merged on read; see stats.h. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

uint64_t stats_sum(struct stats *const *all, unsigned n, enum stats_counter c)
{
    uint64_t sum = 0;
    for (unsigned k = 0; k < n; k++)
        sum += atomic_load_explicit(&all[k]->v[c], memory_order_relaxed);
    return sum;
}

static const char *const json_names[STATS_COUNT] = {
#define STATS_NAME(name, json) [STATS_##name] = json,
    STATS_TABLE(STATS_NAME)
#undef STATS_NAME
};

static bool put_ch(char *buf, size_t cap, size_t *len, char c)
{
    if (*len + 1 > cap)
        return false;
    buf[(*len)++] = c;
    return true;
}

/* One (client, version) with its peers, merged over workers. */
struct client_row {
    char client[CLIENT_NAME_MAX];
    char version[CLIENT_VERSION_MAX];
    uint64_t n;
};

static int row_cmp(const void *a, const void *b)
{
    const struct client_row *x = a, *y = b;
    int c = strcmp(x->client, y->client);
    return c ? c : strcmp(x->version, y->version);
}

/* s as a JSON string ("..."), at buf + *len; false when cap is short. */
static bool put_str(char *buf, size_t cap, size_t *len, const char *s)
{
    size_t n = *len;
    if (n + 2 > cap)
        return false;
    buf[n++] = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (n + 7 > cap)
            return false;
        if (c == '"' || c == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(buf + n, cap - n, "\\u%04x", c);
        } else {
            buf[n++] = (char)c;
        }
    }
    if (n + 1 > cap)
        return false;
    buf[n++] = '"';
    *len = n;
    return true;
}

/* ,"clients":{client:{version:count}} merged over n workers; 0 or -1 when
 * cap is short. Peers counted past a worker's table are "unknown" "other".
 * O(n * STATS_CLIENTS_MAX log). */
static int write_clients(char *buf, size_t cap, size_t *len, struct stats *const *all, unsigned n)
{
    struct client_row *rows = malloc(((size_t)n * STATS_CLIENTS_MAX + 1) * sizeof *rows);
    size_t m = 0, at = *len;
    uint64_t other = 0;
    int r = -1;
    bool first = true;
    if (!rows) { /* the field stays, empty */
        r = snprintf(buf + at, cap - at, ",\"clients\":{}");
        if (r < 0 || (size_t)r >= cap - at)
            return -1;
        *len = at + (size_t)r;
        return 0;
    }
    for (unsigned w = 0; w < n; w++) {
        const struct stats_clients *t = &all[w]->clients;
        other += atomic_load_explicit(&t->other, memory_order_relaxed);
        for (unsigned k = 0; k < STATS_CLIENTS_MAX; k++) {
            uint32_t c = atomic_load_explicit(&t->n[k], memory_order_acquire);
            uint64_t key;
            if (!c)
                continue;
            key = atomic_load_explicit(&t->key[k], memory_order_relaxed);
            client_name((const uint8_t *)&key, rows[m].client, rows[m].version);
            rows[m++].n = c;
        }
    }
    if (other) {
        snprintf(rows[m].client, CLIENT_NAME_MAX, "unknown");
        snprintf(rows[m].version, CLIENT_VERSION_MAX, "other");
        rows[m++].n = other;
    }
    qsort(rows, m, sizeof *rows, row_cmp);
    if (at + 12 > cap)
        goto out;
    memcpy(buf + at, ",\"clients\":{", 12);
    at += 12;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        if (!first && !put_ch(buf, cap, &at, ','))
            goto out;
        first = false;
        if (!put_str(buf, cap, &at, rows[i].client) || !put_ch(buf, cap, &at, ':') ||
            !put_ch(buf, cap, &at, '{'))
            goto out;
        for (; j < m && !strcmp(rows[j].client, rows[i].client);) {
            uint64_t sum = 0;
            size_t v = j;
            while (j < m && !row_cmp(&rows[j], &rows[v]))
                sum += rows[j++].n;
            if (v > i && !put_ch(buf, cap, &at, ','))
                goto out;
            if (!put_str(buf, cap, &at, rows[v].version))
                goto out;
            r = snprintf(buf + at, cap - at, ":%" PRIu64, sum);
            if (r < 0 || (size_t)r >= cap - at)
                goto out;
            at += (size_t)r;
        }
        if (!put_ch(buf, cap, &at, '}'))
            goto out;
        i = j;
    }
    if (!put_ch(buf, cap, &at, '}'))
        goto out;
    *len = at;
    r = 0;
out:
    free(rows);
    return r < 0 ? -1 : 0;
}

int stats_write_json(char *buf, size_t cap, struct stats *const *all, unsigned n, uint64_t uptime_s,
                     const char *const *reason_names, unsigned n_reasons)
{
    bool first = true;
    uint64_t peers = stats_sum(all, n, STATS_PEERS);
    uint64_t v6 = stats_sum(all, n, STATS_PEERS_IPV6);
    size_t len;
    int r = snprintf(buf, cap,
                     "{\"torrents\":%" PRIu64 ",\"activeTorrents\":%" PRIu64
                     ",\"peersAll\":%" PRIu64 ",\"peersSeederOnly\":%" PRIu64
                     ",\"peersLeecherOnly\":%" PRIu64 ",\"peersSeederAndLeecher\":0"
                     ",\"peersIPv4\":%" PRIu64 ",\"peersIPv6\":%" PRIu64 ",\"uptime\":%" PRIu64
                     ",\"workers\":%u",
                     stats_sum(all, n, STATS_SWARMS), stats_sum(all, n, STATS_ACTIVE_SWARMS), peers,
                     stats_sum(all, n, STATS_SEEDERS), stats_sum(all, n, STATS_LEECHERS),
                     peers - v6, v6, uptime_s, n);
    if (r < 0 || (size_t)r >= cap)
        return -1;
    len = (size_t)r;
    for (int c = 0; c < STATS_COUNT; c++) {
        if (!json_names[c])
            continue;
        r = snprintf(buf + len, cap - len, ",\"%s\":%" PRIu64, json_names[c],
                     stats_sum(all, n, (enum stats_counter)c));
        if (r < 0 || (size_t)r >= cap - len)
            return -1;
        len += (size_t)r;
    }
    if (write_clients(buf, cap, &len, all, n) < 0)
        return -1;
    r = snprintf(buf + len, cap - len, ",\"failureReasons\":{");
    if (r < 0 || (size_t)r >= cap - len)
        return -1;
    len += (size_t)r;
    for (unsigned k = 0; k < n_reasons && k < STATS_REASONS_MAX; k++) {
        uint64_t sum = 0;
        for (unsigned w = 0; w < n; w++)
            sum += atomic_load_explicit(&all[w]->reasons[k], memory_order_relaxed);
        if (!sum || !reason_names[k])
            continue;
        r = snprintf(buf + len, cap - len, "%s\"%s\":%" PRIu64, first ? "" : ",", reason_names[k],
                     sum);
        if (r < 0 || (size_t)r >= cap - len)
            return -1;
        len += (size_t)r;
        first = false;
    }
    if (len + 3 > cap)
        return -1;
    buf[len++] = '}';
    buf[len++] = '}';
    buf[len] = '\0';
    return (int)len;
}
