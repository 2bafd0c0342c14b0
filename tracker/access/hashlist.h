/* hashlist.h - info-hash allow and deny lists (--allow-hashes, --deny-hashes).
 *
 * Owns:   the list file format and struct hashlist, an immutable sorted set
 *         of info hashes.
 * Thread: parsing is pure (main, at start and on SIGHUP); a built list is
 *         read-only, so every worker may look it up at once.
 * Why:    a private tracker serves only its own content. The file is what an
 *         operator writes by hand or a script generates: one 40-hex info hash
 *         per line, '#' starts a comment, blank lines and surrounding spaces
 *         are ignored; anything else names its line and nothing is replaced.
 */
#ifndef WSTRACKER_HASHLIST_H
#define WSTRACKER_HASHLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HASHLIST_FILE_MAX (256u << 20) /* bytes of a list file */
#define HASHLIST_ERR_LEN  128

struct hashlist {
    uint32_t n;
    uint8_t ids[][20]; /* sorted, no duplicates */
};

/* Parse text[0..len) into a new list (*out, free with hashlist_free); 0, or
 * -1 with a one-line reason in err ("line 7: not a 40-hex info hash"). */
int hashlist_parse(const char *text, size_t len, struct hashlist **out, char *err);

bool hashlist_has(const struct hashlist *l, const uint8_t ih[20]);

void hashlist_free(struct hashlist *l);

#endif
