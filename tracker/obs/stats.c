/* stats.c - counters per worker, merged on read; see stats.h. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

const uint64_t stats_hist_bounds[STATS_HIST_BUCKETS - 1] = {STATS_HIST_BOUNDS};

uint64_t stats_sum(struct stats *const *all, unsigned n, enum stats_counter c)
{
    uint64_t sum = 0;
    for (unsigned k = 0; k < n; k++)
        sum += atomic_load_explicit(&all[k]->v[c], memory_order_relaxed);
    return sum;
}

static const char *const json_names[STATS_COUNT] = {
#define STATS_NAME(name, json, metric, type, label, help) [STATS_##name] = json,
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

/* The current peers by (client, version) merged over n workers, sorted by
 * client then version, each pair once; peers of no known client and peers
 * counted past a worker's table are "unknown" "other". NULL when out of
 * memory, else free() it. */
static struct client_row *client_rows(struct stats *const *all, unsigned n, size_t *count)
{
    struct client_row *rows = malloc(((size_t)n * STATS_CLIENTS_MAX + 1) * sizeof *rows);
    size_t m = 0, out = 0;
    uint64_t other = 0;
    *count = 0;
    if (!rows)
        return NULL;
    for (unsigned w = 0; w < n; w++) {
        const struct stats_clients *t = &all[w]->clients;
        other += atomic_load_explicit(&t->other, memory_order_relaxed);
        for (unsigned k = 0; k < STATS_CLIENTS_MAX; k++) {
            uint32_t c = atomic_load_explicit(&t->n[k], memory_order_acquire);
            uint64_t key;
            if (!c)
                continue;
            key = atomic_load_explicit(&t->key[k], memory_order_relaxed);
            if (key == STATS_CLIENT_UNKNOWN) {
                snprintf(rows[m].client, CLIENT_NAME_MAX, "unknown");
                snprintf(rows[m].version, CLIENT_VERSION_MAX, "other");
            } else {
                client_name((const uint8_t *)&key, rows[m].client, rows[m].version);
            }
            rows[m++].n = c;
        }
    }
    if (other) {
        snprintf(rows[m].client, CLIENT_NAME_MAX, "unknown");
        snprintf(rows[m].version, CLIENT_VERSION_MAX, "other");
        rows[m++].n = other;
    }
    qsort(rows, m, sizeof *rows, row_cmp);
    for (size_t k = 0; k < m; k++) { /* merge equal pairs (AG and AR are both Ares) */
        if (out && !row_cmp(&rows[out - 1], &rows[k]))
            rows[out - 1].n += rows[k].n;
        else
            rows[out++] = rows[k];
    }
    *count = out;
    return rows;
}

/* ,"clients":{client:{version:count}}; 0 or -1 when cap is short. Out of
 * memory, the field stays, empty. O(n * STATS_CLIENTS_MAX log). */
static int write_clients(char *buf, size_t cap, size_t *len, struct stats *const *all, unsigned n)
{
    size_t m, at = *len;
    struct client_row *rows = client_rows(all, n, &m);
    bool ok = at + 12 <= cap;
    if (ok) {
        memcpy(buf + at, ",\"clients\":{", 12);
        at += 12;
    }
    for (size_t i = 0; ok && i < m; i++) {
        bool first_version = i == 0 || strcmp(rows[i - 1].client, rows[i].client);
        bool last_version = i + 1 == m || strcmp(rows[i + 1].client, rows[i].client);
        int r;
        if (first_version)
            ok = (i == 0 || put_ch(buf, cap, &at, ',')) && put_str(buf, cap, &at, rows[i].client) &&
                 put_ch(buf, cap, &at, ':') && put_ch(buf, cap, &at, '{');
        else
            ok = put_ch(buf, cap, &at, ',');
        ok = ok && put_str(buf, cap, &at, rows[i].version);
        if (ok) {
            r = snprintf(buf + at, cap - at, ":%" PRIu64, rows[i].n);
            ok = r >= 0 && (size_t)r < cap - at;
            at += ok ? (size_t)r : 0;
        }
        if (ok && last_version)
            ok = put_ch(buf, cap, &at, '}');
    }
    ok = ok && put_ch(buf, cap, &at, '}');
    free(rows);
    if (!ok)
        return -1;
    *len = at;
    return 0;
}

/* s with <, >, & and " as HTML entities, at buf + *len. */
static bool put_html(char *buf, size_t cap, size_t *len, const char *s)
{
    for (; *s; s++) {
        const char *e = *s == '<'   ? "&lt;"
                        : *s == '>' ? "&gt;"
                        : *s == '&' ? "&amp;"
                        : *s == '"' ? "&quot;"
                                    : NULL;
        if (e) {
            for (; *e; e++)
                if (!put_ch(buf, cap, len, *e))
                    return false;
        } else if (!put_ch(buf, cap, len, *s)) {
            return false;
        }
    }
    return true;
}

int stats_write_summary_html(char *buf, size_t cap, struct stats *const *all, unsigned n)
{
    uint64_t peers = stats_sum(all, n, STATS_PEERS);
    uint64_t v6 = stats_sum(all, n, STATS_PEERS_IPV6);
    size_t m, at;
    struct client_row *rows;
    bool ok;
    int r = snprintf(buf, cap,
                     "<h1>%" PRIu64 " torrents (%" PRIu64 " active)</h1>\n"
                     "<h2>Connected Peers: %" PRIu64 "</h2>\n"
                     "<h3>Peers Seeding Only: %" PRIu64 "</h3>\n"
                     "<h3>Peers Leeching Only: %" PRIu64 "</h3>\n"
                     "<h3>Peers Seeding & Leeching: 0</h3>\n"
                     "<h3>IPv4 Peers: %" PRIu64 "</h3>\n"
                     "<h3>IPv6 Peers: %" PRIu64 "</h3>\n"
                     "<h3>Clients:</h3>\n"
                     "<ul>\n",
                     stats_sum(all, n, STATS_SWARMS), stats_sum(all, n, STATS_ACTIVE_SWARMS), peers,
                     stats_sum(all, n, STATS_SEEDERS), stats_sum(all, n, STATS_LEECHERS),
                     peers > v6 ? peers - v6 : 0, v6);
    if (r < 0 || (size_t)r >= cap)
        return -1;
    at = (size_t)r;
    rows = client_rows(all, n, &m);
    ok = true;
    for (size_t i = 0; ok && i < m; i++) {
        ok = at + 12 < cap;
        if (ok) {
            memcpy(buf + at, "<li><strong>", 12);
            at += 12;
        }
        ok = ok && put_html(buf, cap, &at, rows[i].client);
        if (ok) {
            r = snprintf(buf + at, cap - at, "</strong> ");
            ok = r >= 0 && (size_t)r < cap - at;
            at += ok ? (size_t)r : 0;
        }
        ok = ok && put_html(buf, cap, &at, rows[i].version);
        if (ok) {
            r = snprintf(buf + at, cap - at, " : %" PRIu64 "</li>\n", rows[i].n);
            ok = r >= 0 && (size_t)r < cap - at;
            at += ok ? (size_t)r : 0;
        }
    }
    free(rows);
    if (!ok || at + 6 > cap)
        return -1;
    memcpy(buf + at, "</ul>", 6); /* with its NUL */
    return (int)(at + 5);
}

/* ,"perWorker":[{"connections":C,"announces":A,"peers":P,"swarms":S},...],
 * one per worker in order; 0 or -1 when cap is short. */
static int write_workers(char *buf, size_t cap, size_t *len, struct stats *const *all, unsigned n)
{
    size_t at = *len;
    int r = snprintf(buf + at, cap - at, ",\"perWorker\":[");
    if (r < 0 || (size_t)r >= cap - at)
        return -1;
    at += (size_t)r;
    for (unsigned w = 0; w < n; w++) {
        r = snprintf(buf + at, cap - at,
                     "%s{\"connections\":%" PRIu64 ",\"announces\":%" PRIu64 ",\"peers\":%" PRIu64
                     ",\"swarms\":%" PRIu64 "}",
                     w ? "," : "", stats_sum(all + w, 1, STATS_CONNECTIONS),
                     stats_sum(all + w, 1, STATS_ANNOUNCES), stats_sum(all + w, 1, STATS_PEERS),
                     stats_sum(all + w, 1, STATS_SWARMS));
        if (r < 0 || (size_t)r >= cap - at)
            return -1;
        at += (size_t)r;
    }
    if (!put_ch(buf, cap, &at, ']'))
        return -1;
    *len = at;
    return 0;
}

static int top_cmp(const void *a, const void *b)
{
    const struct top_entry *x = a, *y = b;
    return x->peers < y->peers ? 1 : x->peers > y->peers ? -1 : memcmp(x->hash4, y->hash4, 4);
}

/* ,"topRooms":[{"room":"<first 8 hex digits of the info hash>","peers":N},...]:
 * the STATS_TOP largest of the workers' published tops, largest first; 0 or
 * -1 when cap is short. O(n * STATS_TOP log). */
static int write_top(char *buf, size_t cap, size_t *len, struct stats *const *all, unsigned n)
{
    struct top_entry *e = malloc(((size_t)n * STATS_TOP + 1) * sizeof *e);
    size_t m = 0, at = *len;
    int r = snprintf(buf + at, cap - at, ",\"topRooms\":[");
    if (r < 0 || (size_t)r >= cap - at) {
        free(e);
        return -1;
    }
    at += (size_t)r;
    for (unsigned w = 0; e && w < n; w++)
        m += top_read(&all[w]->top, e + m);
    if (e)
        qsort(e, m, sizeof *e, top_cmp);
    for (size_t k = 0; k < m && k < STATS_TOP; k++) {
        r = snprintf(buf + at, cap - at, "%s{\"room\":\"%02x%02x%02x%02x\",\"peers\":%u}",
                     k ? "," : "", e[k].hash4[0], e[k].hash4[1], e[k].hash4[2], e[k].hash4[3],
                     (unsigned)e[k].peers);
        if (r < 0 || (size_t)r >= cap - at) {
            free(e);
            return -1;
        }
        at += (size_t)r;
    }
    free(e);
    if (!put_ch(buf, cap, &at, ']'))
        return -1;
    *len = at;
    return 0;
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
                     peers > v6 ? peers - v6 : 0, v6, uptime_s, n);
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
    if (write_clients(buf, cap, &len, all, n) < 0 || write_workers(buf, cap, &len, all, n) < 0 ||
        write_top(buf, cap, &len, all, n) < 0)
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
