/* fuzz_lists.c - libFuzzer target: the Origin allow list and the info-hash
 * list parser (access/origin.c, access/hashlist.c).
 *
 * Owns:   nothing. The input is an Origin header value (as a client sends
 *         it) and, whole, a list file (as an operator writes it). Checks:
 *         nothing crashes or reads past its input; no origin passes an empty
 *         list and the answer does not change when asked again; an input
 *         that is itself a valid exact pattern matches itself; a parsed list
 *         is sorted without duplicates and finds each of its ids; a refused
 *         file says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hashlist.h"
#include "origin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char patterns[4][ORIGIN_MAX] = {
    "https://app.example.org",
    "https://*.example.net",
    "http://127.0.0.1:8000",
    "https://*.a.b",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1), err[HASHLIST_ERR_LEN];
    struct hashlist *l;
    bool ok;
    if (!text)
        return 0;
    memcpy(text, data, size);
    ok = origin_allowed(text, size, patterns, 4);
    CHECK(!origin_allowed(text, size, patterns, 0));
    CHECK(origin_allowed(text, size, patterns, 4) == ok);
    if (size < ORIGIN_MAX) {
        char pat[ORIGIN_MAX];
        memcpy(pat, text, size);
        pat[size] = '\0';
        if (strlen(pat) == size && origin_pattern_check(pat) == 0 && !memchr(pat, '*', size))
            CHECK(origin_allowed(pat, size, (const char(*)[ORIGIN_MAX])pat, 1));
    }
    if (hashlist_parse(text, size, &l, err) == 0) {
        for (uint32_t k = 1; k < l->n; k++)
            CHECK(memcmp(l->ids[k - 1], l->ids[k], 20) < 0);
        for (uint32_t k = 0; k < l->n; k++)
            CHECK(hashlist_has(l, l->ids[k]));
        hashlist_free(l);
    } else {
        CHECK(err[0] != '\0');
    }
    free(text);
    return 0;
}
