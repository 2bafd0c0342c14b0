/* mail.c - allocation of the messages of mail.h.
 *
 * Owns:   frame_alloc and mail_scrape_alloc.
 * Thread: any; a message belongs to whoever allocated it.
 * Why:    each message is one allocation, freed with mail_free whatever its kind.
 */
#include <string.h>

#include "mail.h"

struct frame *frame_alloc(size_t cap)
{
    struct frame *f = malloc(sizeof *f + FRAME_HEADROOM + cap);
    if (!f)
        return NULL;
    memset(f, 0, sizeof *f);
    f->m.kind = MAIL_FRAME;
    f->reply = FRAME_REPLY_OTHER;
    return f;
}

struct mail_scrape *mail_scrape_alloc(uint32_t n)
{
    size_t size =
        sizeof(struct mail_scrape) + (size_t)n * (3 * sizeof(uint32_t) + PROTO_ID_LEN + 1);
    struct mail_scrape *s = calloc(1, size);
    if (s) {
        s->m.kind = MAIL_SCRAPE;
        s->n = n;
    }
    return s;
}
