/* clients.h - current peers by client (peer_id prefix), for /stats.json "clients".
 *
 * Owns:   struct stats_clients (one per worker, in its struct stats): a fixed
 *         table of STATS_CLIENTS_MAX peer_id prefixes (the first 8 bytes, as
 *         -WW0091-) of known clients with the number of current peers
 *         announcing each, one more slot (key 0) for every peer whose prefix
 *         names no known client, and "other" for peers whose prefix found no
 *         free slot; and the pure mapping of a prefix to bittorrent-peerid's
 *         {client, version}.
 * Thread: the owner worker writes its table (single writer: its shard adds and
 *         removes peers), relaxed atomics; any worker reads all tables to
 *         answer /stats.json (stats_write_json).
 * Why:    bittorrent-tracker's /stats.json has a "clients" breakdown that
 *         tools read; walking every peer per request would not scale, so the
 *         count is kept where peers come and go, bounded per worker.
 */
#ifndef WSTRACKER_CLIENTS_H
#define WSTRACKER_CLIENTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define STATS_CLIENTS_MAX  64   /* distinct prefixes counted per worker; past it: "other" */
#define STATS_CLIENT_OTHER 0xff /* slot of a peer counted in "other" */
#define CLIENT_NAME_MAX    64   /* longest client name (bytes, UTF-8) + NUL */
#define CLIENT_VERSION_MAX 64   /* longest version + NUL */

_Static_assert(STATS_CLIENTS_MAX < STATS_CLIENT_OTHER, "a slot index fits a byte");

struct stats_clients {
    /* A slot is in use while its count is not 0; its key (the prefix's 8
     * bytes) is stored before the count that makes it used (release), and a
     * reader loads the count (acquire) before the key. A slot is reused only
     * once its count is 0, so a reader racing that reuse may count one peer
     * under the new prefix for that one read. */
    _Atomic uint64_t key[STATS_CLIENTS_MAX]; /* {atomic} owner writes */
    _Atomic uint32_t n[STATS_CLIENTS_MAX];   /* {atomic} owner writes */
    _Atomic uint64_t other;                  /* {atomic} owner writes */
};

#define STATS_CLIENT_UNKNOWN 0 /* the key of the prefixes naming no known client */

/* A prefix bittorrent-peerid names (client_name gives it a client other than
 * "unknown"). Pure; O(log 95). No known prefix has the bytes of
 * STATS_CLIENT_UNKNOWN (8 zero bytes). */
bool client_known(const uint8_t prefix[8]);

/* Owner only: one more peer with this peer_id (first 8 bytes read): counted
 * under its prefix if it names a known client, else under
 * STATS_CLIENT_UNKNOWN, so random peer_ids (p2pt, trystero) take one slot,
 * not one each. Returns the slot to give back to stats_client_drop.
 * O(STATS_CLIENTS_MAX). */
static inline uint8_t stats_client_add(struct stats_clients *t, const uint8_t *peer_id)
{
    uint64_t k = STATS_CLIENT_UNKNOWN;
    unsigned free_slot = STATS_CLIENTS_MAX;
    if (client_known(peer_id))
        memcpy(&k, peer_id, sizeof k);
    for (unsigned i = 0; i < STATS_CLIENTS_MAX; i++) {
        uint32_t n = atomic_load_explicit(&t->n[i], memory_order_relaxed);
        if (!n) {
            if (free_slot == STATS_CLIENTS_MAX)
                free_slot = i;
        } else if (atomic_load_explicit(&t->key[i], memory_order_relaxed) == k) {
            atomic_store_explicit(&t->n[i], n + 1, memory_order_relaxed);
            return (uint8_t)i;
        }
    }
    if (free_slot == STATS_CLIENTS_MAX) {
        uint64_t o = atomic_load_explicit(&t->other, memory_order_relaxed);
        atomic_store_explicit(&t->other, o + 1, memory_order_relaxed);
        return STATS_CLIENT_OTHER;
    }
    atomic_store_explicit(&t->key[free_slot], k, memory_order_relaxed);
    atomic_store_explicit(&t->n[free_slot], 1, memory_order_release);
    return (uint8_t)free_slot;
}

/* Owner only: a peer counted in slot (stats_client_add's result) is gone. */
static inline void stats_client_drop(struct stats_clients *t, uint8_t slot)
{
    if (slot < STATS_CLIENTS_MAX) {
        uint32_t n = atomic_load_explicit(&t->n[slot], memory_order_relaxed);
        if (n)
            atomic_store_explicit(&t->n[slot], n - 1, memory_order_relaxed);
    } else {
        uint64_t o = atomic_load_explicit(&t->other, memory_order_relaxed);
        if (o)
            atomic_store_explicit(&t->other, o - 1, memory_order_relaxed);
    }
}

/* bittorrent-peerid 3.x's {client, version} for a peer_id whose first 8
 * bytes are prefix, as bittorrent-tracker's /stats.json groups them: the
 * Azureus-style table (-XXnnnn-, every code and version format of
 * bittorrent-peerid), Shadow and Mainline styles (no version), else
 * "unknown"; a client without a version gets the prefix itself as its version
 * (as bittorrent-tracker does). client and version are NUL-terminated UTF-8
 * (a byte >= 0x80 of the prefix is written as U+FFFD). Pure. */
void client_name(const uint8_t prefix[8], char client[CLIENT_NAME_MAX],
                 char version[CLIENT_VERSION_MAX]);

#endif
