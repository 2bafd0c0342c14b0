/* route.c - which worker owns an info hash; see route.h. */
#include <string.h>

#include "route.h"

void route_create(struct route *r, unsigned n_workers)
{
    crypto_shorthash_keygen(r->key);
    r->n_workers = n_workers ? n_workers : 1;
}

uint64_t route_hash(const uint8_t key[ROUTE_KEY_LEN], const void *data, size_t len)
{
    uint8_t out[crypto_shorthash_BYTES];
    uint64_t h;
    crypto_shorthash(out, data, len, key);
    memcpy(&h, out, sizeof h);
    return h;
}

unsigned route_owner(const struct route *r, const uint8_t info_hash[20])
{
    /* The high half picks the worker; the shard's table uses the low half. */
    return (unsigned)((route_hash(r->key, info_hash, 20) >> 32) % r->n_workers);
}
