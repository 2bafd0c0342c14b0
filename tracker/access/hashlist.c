/* hashlist.c - info-hash allow and deny lists; see hashlist.h.
 *
 * Owns:   the file parser, the sorted array, binary search.
 * Thread: any (pure; a list is never changed once built).
 * Why:    a sorted array is one allocation, O(log n) per lookup, and needs no
 *         locking to share; reloads build a new one (main.c swaps them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashlist.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int cmp(const void *a, const void *b)
{
    return memcmp(a, b, 20);
}

int hashlist_parse(const char *text, size_t len, struct hashlist **out, char *err)
{
    size_t n = 0;
    unsigned line = 0;
    struct hashlist *l;
    const char *p = text, *end = text + len;
    *out = NULL;
    if (len > HASHLIST_FILE_MAX) {
        snprintf(err, HASHLIST_ERR_LEN, "file larger than %u bytes", HASHLIST_FILE_MAX);
        return -1;
    }
    l = malloc(sizeof *l + (len / 40 + 1) * 20); /* an id takes 40 characters */
    if (!l) {
        snprintf(err, HASHLIST_ERR_LEN, "out of memory");
        return -1;
    }
    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p)), *b = p, *q;
        if (!e)
            e = end;
        line++;
        p = e + 1;
        q = memchr(b, '#', (size_t)(e - b));
        if (q)
            e = q;
        while (b < e && (*b == ' ' || *b == '\t' || *b == '\r'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        if (b == e)
            continue;
        if (e - b != 40) {
            snprintf(err, HASHLIST_ERR_LEN, "line %u: not a 40-hex info hash", line);
            free(l);
            return -1;
        }
        for (int k = 0; k < 20; k++) {
            int hi = hexval(b[2 * k]), lo = hexval(b[2 * k + 1]);
            if (hi < 0 || lo < 0) {
                snprintf(err, HASHLIST_ERR_LEN, "line %u: not a 40-hex info hash", line);
                free(l);
                return -1;
            }
            l->ids[n][k] = (uint8_t)(hi << 4 | lo);
        }
        n++;
    }
    qsort(l->ids, n, 20, cmp);
    l->n = 0;
    for (size_t k = 0; k < n; k++) /* drop duplicates */
        if (l->n == 0 || memcmp(l->ids[l->n - 1], l->ids[k], 20) != 0)
            memmove(l->ids[l->n++], l->ids[k], 20);
    *out = l;
    return 0;
}

bool hashlist_has(const struct hashlist *l, const uint8_t ih[20])
{
    return l && bsearch(ih, l->ids, l->n, 20, cmp) != NULL;
}

void hashlist_free(struct hashlist *l)
{
    free(l);
}
