/* relay.h - the relay modes' book: each sender's window of relays in flight.
 *
 * Owns:   struct relay_book (one per load thread) and its slots: for each relay
 *         in flight, its sequence number, when it was sent and which members of
 *         the room have read their frame.
 * Thread: the owning load thread only.
 * Why:    the tracker sends nothing back for a relay it accepts, so the only sign
 *         a relay is done is the frames its recipients read. main gives each
 *         thread whole rooms, so a sender and every recipient of its relays are
 *         on the same thread and the book needs no locks.
 */
#ifndef LG_RELAY_H
#define LG_RELAY_H

#include <stdint.h>

#define RELAY_WINDOW_MAX 64   /* relays in flight per sender */
#define RELAY_ROOM_MAX   1000 /* members of a room (wstracker's --max-peers-per-swarm default) */

/* One relay in flight (left > 0) or a free slot (left == 0). */
struct relay_slot {
    uint32_t seq;     /* the relay's number on its sender */
    uint16_t left;    /* frames not delivered yet */
    uint64_t sent_ns; /* when it was written */
};

struct relay_book {
    unsigned n_senders;      /* connections of the thread */
    unsigned window;         /* slots per sender, <= RELAY_WINDOW_MAX */
    unsigned words;          /* uint64_t words of one slot's member bitmap */
    struct relay_slot *slot; /* [n_senders * window] */
    uint64_t *got;           /* [n_senders * window * words]: bit m = member m has its frame */
    uint32_t *next_seq;      /* [n_senders] */
    uint16_t *inflight;      /* [n_senders] */
};

/* What one delivered frame meant for the book. */
enum relay_arrival {
    RELAY_PART, /* a frame of a relay in flight; more to come */
    RELAY_DONE, /* its last frame: the slot is free again */
    RELAY_LATE, /* no such relay in flight (it expired, or was never sent) */
    RELAY_DUP,  /* this member already had its frame of that relay */
};

/* 0 or -1 (no memory). room_size <= RELAY_ROOM_MAX. */
int relay_book_init(struct relay_book *b, unsigned n_senders, unsigned window, unsigned room_size);
void relay_book_free(struct relay_book *b);

/* Put the next relay of sender s in flight, expecting `frames` frames (> 0).
 * Returns its seq, or -1 when the sender's window is full. */
int64_t relay_book_start(struct relay_book *b, unsigned s, unsigned frames, uint64_t now);

/* Member `member` (its index in the room) read its frame of relay (s, seq).
 * On RELAY_DONE, *lat_ns = now - sent. */
enum relay_arrival relay_book_arrive(struct relay_book *b, unsigned s, uint32_t seq,
                                     unsigned member, uint64_t now, uint64_t *lat_ns);

/* Free sender s's relays sent before `before`: returns how many, and adds the
 * frames they still missed to *missing. */
unsigned relay_book_expire(struct relay_book *b, unsigned s, uint64_t before, uint64_t *missing);

#endif
