/* relay.c - the relay modes' window of relays in flight; see relay.h. */
#include <stdlib.h>
#include <string.h>

#include "relay.h"

int relay_book_init(struct relay_book *b, unsigned n_senders, unsigned window, unsigned room_size)
{
    size_t slots = (size_t)(n_senders ? n_senders : 1) * window;
    memset(b, 0, sizeof *b);
    if (!window || window > RELAY_WINDOW_MAX || room_size > RELAY_ROOM_MAX)
        return -1;
    b->n_senders = n_senders;
    b->window = window;
    b->words = (room_size + 63) / 64;
    b->slot = calloc(slots, sizeof *b->slot);
    b->got = calloc(slots * b->words, sizeof *b->got);
    b->next_seq = calloc(n_senders ? n_senders : 1, sizeof *b->next_seq);
    b->inflight = calloc(n_senders ? n_senders : 1, sizeof *b->inflight);
    if (!b->slot || !b->got || !b->next_seq || !b->inflight) {
        relay_book_free(b);
        return -1;
    }
    return 0;
}

void relay_book_free(struct relay_book *b)
{
    free(b->slot);
    free(b->got);
    free(b->next_seq);
    free(b->inflight);
    memset(b, 0, sizeof *b);
}

int64_t relay_book_start(struct relay_book *b, unsigned s, unsigned frames, uint64_t now)
{
    if (b->inflight[s] >= b->window || !frames || frames > UINT16_MAX)
        return -1;
    struct relay_slot *sl = &b->slot[(size_t)s * b->window];
    for (unsigned i = 0; i < b->window; i++) {
        if (sl[i].left)
            continue;
        sl[i].seq = b->next_seq[s]++;
        sl[i].left = (uint16_t)frames;
        sl[i].sent_ns = now;
        memset(&b->got[((size_t)s * b->window + i) * b->words], 0, b->words * sizeof *b->got);
        b->inflight[s]++;
        return sl[i].seq;
    }
    return -1;
}

enum relay_arrival relay_book_arrive(struct relay_book *b, unsigned s, uint32_t seq,
                                     unsigned member, uint64_t now, uint64_t *lat_ns)
{
    if (s >= b->n_senders || member >= b->words * 64)
        return RELAY_LATE;
    struct relay_slot *sl = &b->slot[(size_t)s * b->window];
    for (unsigned i = 0; i < b->window; i++) {
        if (!sl[i].left || sl[i].seq != seq)
            continue;
        uint64_t *w = &b->got[((size_t)s * b->window + i) * b->words + member / 64];
        uint64_t bit = 1ull << (member % 64);
        if (*w & bit)
            return RELAY_DUP;
        *w |= bit;
        if (--sl[i].left)
            return RELAY_PART;
        b->inflight[s]--;
        *lat_ns = now - sl[i].sent_ns;
        return RELAY_DONE;
    }
    return RELAY_LATE;
}

unsigned relay_book_expire(struct relay_book *b, unsigned s, uint64_t before, uint64_t *missing)
{
    struct relay_slot *sl = &b->slot[(size_t)s * b->window];
    unsigned n = 0;
    if (!b->inflight[s])
        return 0;
    for (unsigned i = 0; i < b->window; i++) {
        if (!sl[i].left || sl[i].sent_ns >= before)
            continue;
        *missing += sl[i].left;
        sl[i].left = 0;
        b->inflight[s]--;
        n++;
    }
    return n;
}
