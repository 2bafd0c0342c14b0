/* list.h - an intrusive doubly linked list with a sentinel head.
 *
 * Owns:   struct list_node and its O(1) operations.
 * Thread: whoever owns the list; no locking.
 * Why:    one list implementation for the lists a worker keeps (sockets waiting
 *         for their handshake deadline today); a node sits inside the struct it
 *         links and LIST_ENTRY gets the struct back.
 */
#ifndef WSTRACKER_LIST_H
#define WSTRACKER_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list_node {
    struct list_node *prev, *next; /* both NULL: not on a list */
};

#define LIST_ENTRY(node, type, member) ((type *)(void *)((char *)(node)-offsetof(type, member)))

static inline void list_init(struct list_node *head)
{
    head->prev = head->next = head;
}

static inline bool list_empty(const struct list_node *head)
{
    return head->next == head;
}

static inline bool list_linked(const struct list_node *n)
{
    return n->next != NULL;
}

/* Append n at the tail (newest end). */
static inline void list_append(struct list_node *head, struct list_node *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}

/* Unlink n if it is on a list. */
static inline void list_del(struct list_node *n)
{
    if (!n->next)
        return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
}

#endif
