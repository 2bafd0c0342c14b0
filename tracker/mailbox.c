/* mailbox.c - bounded lock-free queues between workers; see mailbox.h. */
#include <stdlib.h>

#include "mailbox.h"

int mailbox_create(struct mailbox *mb, void (*wake)(void *), void *wake_arg)
{
    mb->slots = calloc(MAILBOX_CAP, sizeof *mb->slots);
    if (!mb->slots)
        return -1;
    ck_ring_init(&mb->ring, MAILBOX_CAP);
    atomic_init(&mb->wake_pending, 0);
    mb->wake = wake;
    mb->wake_arg = wake_arg;
    return 0;
}

void mailbox_destroy(struct mailbox *mb)
{
    free(mb->slots);
    mb->slots = NULL;
}

int mailbox_push(struct mailbox *mb, struct mail *m)
{
    return ck_ring_enqueue_mpsc(&mb->ring, mb->slots, m) ? 0 : -1;
}

void mailbox_wake(struct mailbox *mb)
{
    /* A full-barrier exchange, not a relaxed read first: the ring write must be
     * ordered before the flag read, or a push racing the consumer's drain could
     * see a stale 1 and its message would wait for the next wakeup. Callers batch
     * (one wake per destination per event-loop pass), so this runs rarely. */
    if (atomic_exchange_explicit(&mb->wake_pending, 1, memory_order_seq_cst) == 0)
        mb->wake(mb->wake_arg);
}

void mailbox_begin_drain(struct mailbox *mb)
{
    atomic_store_explicit(&mb->wake_pending, 0, memory_order_seq_cst);
}

struct mail *mailbox_pop(struct mailbox *mb)
{
    void *m;
    return ck_ring_dequeue_mpsc(&mb->ring, mb->slots, &m) ? m : NULL;
}
