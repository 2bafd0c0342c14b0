/* mailbox.c - bounded lock-free queues between workers; see mailbox.h. */
#include <stdlib.h>

#include "mailbox.h"

/* ck_ring publishes slots with inline-asm fences that ThreadSanitizer cannot see;
 * tell it what the ring guarantees: a mail's contents, written before its push,
 * are visible after its pop. Reports inside ck_ring.h's slot copy are the same
 * false positive, suppressed below. */
#if defined(__SANITIZE_THREAD__)
#define MAILBOX_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MAILBOX_TSAN 1
#endif
#endif
#ifdef MAILBOX_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
    return "race:ck_ring.h\n";
}
#define PUBLISH(m) __tsan_release(m)
#define RECEIVE(m) __tsan_acquire(m)
#else
#define PUBLISH(m) ((void)(m))
#define RECEIVE(m) ((void)(m))
#endif

int mailbox_create(struct mailbox *mb, unsigned n_src, void (*wake)(void *), void *wake_arg)
{
    mb->from = calloc(n_src, sizeof *mb->from);
    if (!mb->from)
        return -1;
    mb->n_src = n_src;
    for (unsigned k = 0; k < n_src; k++) {
        mb->from[k].slots = calloc(MAILBOX_RING_SIZE, sizeof *mb->from[k].slots);
        if (!mb->from[k].slots) {
            mailbox_destroy(mb);
            return -1;
        }
        ck_ring_init(&mb->from[k].ring, MAILBOX_RING_SIZE);
    }
    mb->cursor = 0;
    atomic_init(&mb->wake_pending, 0);
    mb->wake = wake;
    mb->wake_arg = wake_arg;
    return 0;
}

void mailbox_destroy(struct mailbox *mb)
{
    if (mb->from)
        for (unsigned k = 0; k < mb->n_src; k++)
            free(mb->from[k].slots);
    free(mb->from);
    mb->from = NULL;
    mb->n_src = 0;
}

int mailbox_push(struct mailbox *mb, unsigned src, struct mail *m)
{
    struct mailbox_ring *r = &mb->from[src];
    PUBLISH(m);
    return ck_ring_enqueue_spsc(&r->ring, r->slots, m) ? 0 : -1;
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
    for (unsigned n = 0; n < mb->n_src; n++) {
        struct mailbox_ring *r = &mb->from[mb->cursor];
        void *m;
        if (++mb->cursor == mb->n_src)
            mb->cursor = 0;
        if (ck_ring_dequeue_spsc(&r->ring, r->slots, &m)) {
            RECEIVE(m);
            return m;
        }
    }
    return NULL;
}

unsigned mailbox_depth(const struct mailbox *mb)
{
    unsigned n = 0;
    for (unsigned k = 0; k < mb->n_src; k++)
        n += ck_ring_size(&mb->from[k].ring);
    return n;
}
