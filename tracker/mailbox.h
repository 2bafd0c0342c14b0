/* mailbox.h - bounded lock-free queues between workers, and their wakeups.
 *
 * Owns:   struct mailbox (one per worker: many producers, one consumer) and
 *         struct mail, the header every cross-thread message starts with.
 * Thread: mailbox_push and mailbox_wake from any worker; mailbox_pop and
 *         mailbox_begin_drain only from the owning worker.
 * Why:    workers share no mutable table; work crosses threads as messages
 *         (docs/ARCHITECTURE.md, "Threads and ownership"). The ring is
 *         Concurrency Kit's ck_ring in MPSC mode: a well-kept implementation
 *         beats hand-written atomics.
 */
#ifndef WSTRACKER_MAILBOX_H
#define WSTRACKER_MAILBOX_H

#include <stdatomic.h>
#include <stdbool.h>

#include <ck_ring.h>

#define MAILBOX_CAP 16384 /* messages in flight to one worker; power of two */

/* The first member of every message that crosses threads. */
struct mail {
    struct mail *next; /* owner-local lists only (backlogs, output queues) */
    unsigned kind;     /* enum worker_mail_kind */
};

/* One per worker, allocated by the worker module. */
struct mailbox {
    struct ck_ring ring;
    struct ck_ring_buffer *slots; /* MAILBOX_CAP entries */
    atomic_int wake_pending;      /* {atomic} 1 while a wakeup is on its way */
    void (*wake)(void *arg);      /* interrupts the consumer's event loop */
    void *wake_arg;
};

int mailbox_create(struct mailbox *mb, void (*wake)(void *), void *wake_arg);
void mailbox_destroy(struct mailbox *mb);

/* Enqueue; returns 0, or -1 when the ring is full (the caller keeps the mail). */
int mailbox_push(struct mailbox *mb, struct mail *m);

/* Wake the consumer unless a wakeup is already pending: many pushes, one wake. */
void mailbox_wake(struct mailbox *mb);

/* Consumer: call before draining, so a push that races the drain wakes again. */
void mailbox_begin_drain(struct mailbox *mb);

/* Consumer: dequeue one message or NULL. */
struct mail *mailbox_pop(struct mailbox *mb);

#endif
