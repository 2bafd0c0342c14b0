/* mailbox.h - bounded lock-free queues between workers, and their wakeups.
 *
 * Owns:   struct mailbox (one per worker, the consumer) holding one single-
 *         producer ring per worker that may send to it; what moves through the
 *         rings is struct mail (swarm/mail.h).
 * Thread: mailbox_push(mb, src, m) only from worker src; mailbox_wake from any
 *         worker; mailbox_pop and mailbox_begin_drain only from the owner.
 * Why:    workers share no mutable table; work crosses threads as messages
 *         (docs/ARCHITECTURE.md, "Threads and ownership"). Each (producer,
 *         consumer) pair has its own Concurrency Kit ck_ring in SPSC mode, which
 *         is wait-free on both sides: a producer descheduled mid-push stalls no
 *         one (ck_ring's MPSC mode makes producers wait for each other), and
 *         order per producer is FIFO. A well-kept ring beats hand-written atomics.
 */
#ifndef WSTRACKER_MAILBOX_H
#define WSTRACKER_MAILBOX_H

#include <stdatomic.h>
#include <stdbool.h>

#include <ck_ring.h>

#include "mail.h"

#define MAILBOX_RING_SIZE 4096 /* slots per producer ring; power of two */
#define MAILBOX_CAP                                                                                \
    (MAILBOX_RING_SIZE - 1) /* mails in flight per producer (ck_ring keeps one slot free) */

struct mailbox_ring {
    struct ck_ring ring;          /* {SPSC} producer: worker src; consumer: the owner */
    struct ck_ring_buffer *slots; /* MAILBOX_RING_SIZE entries */
};

/* One per worker, allocated by the worker module. */
struct mailbox {
    struct mailbox_ring *from; /* n_src rings, indexed by producer */
    unsigned n_src;
    unsigned cursor;         /* owner only: next ring mailbox_pop looks at */
    atomic_int wake_pending; /* {atomic} 1 while a wakeup is on its way */
    void (*wake)(void *arg); /* interrupts the consumer's event loop */
    void *wake_arg;
};

int mailbox_create(struct mailbox *mb, unsigned n_src, void (*wake)(void *), void *wake_arg);
void mailbox_destroy(struct mailbox *mb);

/* Enqueue from producer src (< n_src); returns 0, or -1 when that producer's ring
 * is full (the caller keeps the mail). */
int mailbox_push(struct mailbox *mb, unsigned src, struct mail *m);

/* Wake the consumer unless a wakeup is already pending: many pushes, one wake. */
void mailbox_wake(struct mailbox *mb);

/* Consumer: call before draining, so a push that races the drain wakes again. */
void mailbox_begin_drain(struct mailbox *mb);

/* Consumer: dequeue one message (round robin over producers) or NULL. */
struct mail *mailbox_pop(struct mailbox *mb);

/* Consumer: mails waiting in all its rings (n_src loads; the tick's gauge). */
unsigned mailbox_depth(const struct mailbox *mb);

#endif
