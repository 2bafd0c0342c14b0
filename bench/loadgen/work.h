/* work.h - the workload: what loadgen sends and how it reads what comes back.
 *
 * Owns:   struct work_pool (info hashes, SDPs and the relay filler, built once,
 *         then read-only), struct work_rng (one per thread), the message writers
 *         (announce, answer, relay), the scanner and the id decoder.
 * Thread: a pool is shared read-only by every thread; an rng belongs to one thread.
 * Why:    the aquatic_ws_load_test workload (aquatic's load tester: offers per
 *         announce, Gamma(0.2, 100) info hash choice) with browser-like SDPs, so
 *         trackers are compared on the same bytes.
 */
#ifndef LG_WORK_H
#define LG_WORK_H

#include <stddef.h>
#include <stdint.h>

#define WORK_ID_LEN      20  /* bytes in a binary-string id */
#define WORK_ID_JSON_MAX 120 /* JSON string content of an id: 6 chars per byte at worst */
#define WORK_SDP_POOL    256 /* distinct offer SDPs (and as many answer SDPs) */
#define WORK_SDP_MIN     300 /* SDP text length range, bytes, before JSON escaping */
#define WORK_SDP_MAX     600
#define WORK_SDP_JSON    (WORK_SDP_MAX + 64) /* escaped SDP: CRLF becomes \r\n (+1 per line) */
#define WORK_OFFERS_MAX  32                  /* offers per announce */
#define WORK_DATA_TAG    19    /* relay data starts "R<sender, 8 hex>:<seq, 8 hex>:" */
#define WORK_DATA_MIN    24    /* --data-bytes range */
#define WORK_DATA_MAX    60000 /* (an outgoing message is built in LG_SCRATCH, 64 KiB) */
#define WORK_FILLER_LEN  (WORK_DATA_MAX + 26)

/* xoshiro256** state; one per thread. */
struct work_rng {
    uint64_t s[4];
};

/* An id as the JSON string content JSON.stringify writes (no quotes), and its bytes. */
struct work_id {
    uint8_t len; /* <= WORK_ID_JSON_MAX */
    char s[WORK_ID_JSON_MAX];
    uint8_t raw[WORK_ID_LEN];
};

/* An SDP already escaped for a JSON string (no quotes). */
struct work_sdp {
    uint16_t len;     /* <= WORK_SDP_JSON */
    uint16_t raw_len; /* SDP text bytes, WORK_SDP_MIN..WORK_SDP_MAX */
    char s[WORK_SDP_JSON];
};

/* One per process, built by work_pool_create before the threads start. */
struct work_pool {
    unsigned n_hashes;      /* info hashes to draw from (--hashes) */
    struct work_id *hashes; /* [n_hashes] */
    struct work_sdp offer[WORK_SDP_POOL];
    struct work_sdp answer[WORK_SDP_POOL];
    char filler[WORK_FILLER_LEN]; /* "abc...z" repeated: relay data after its tag */
};

/* Seed an rng from getrandom() (or seed+stream when seed != 0, for repeatable runs). */
void work_rng_init(struct work_rng *r, uint64_t seed, uint64_t stream);
uint64_t work_rng_next(struct work_rng *r);
/* Uniform in [0, 1). */
double work_rng_unit(struct work_rng *r);

/* Build the pool; returns 0 or -1 (out of memory). */
int work_pool_create(struct work_pool *p, unsigned n_hashes, struct work_rng *r);
void work_pool_destroy(struct work_pool *p);

/* A random id: WORK_ID_LEN random bytes (prefix, if not NULL, replaces the first
 * bytes), JSON-encoded as JSON.stringify encodes a Latin-1 string. */
void work_id_random(struct work_rng *r, const char *prefix, struct work_id *id);

/* Index of the info hash for one announce: floor((min(p,101)-1)/100 * (n-1)) with
 * p ~ Gamma(shape 0.2, scale 100), clamped to 0 (aquatic_ws_load_test). */
unsigned work_pick_hash(struct work_rng *r, unsigned n_hashes);

/* Write an announce into buf: info hash ih, peer peer_id, 25 % `completed` with
 * left 0 (seeder) else `started` with left 50, and n_offers offers with random
 * offer_ids and pool SDPs. Returns bytes, or -1 if cap is short. */
int work_write_announce(char *buf, size_t cap, struct work_rng *r, const struct work_pool *p,
                        const struct work_id *ih, const struct work_id *peer_id, unsigned n_offers);

/* Write the answer to an offer: ih, to_peer_id and offer_id are the JSON string
 * contents as received (copied, not re-encoded). Returns bytes, or -1. */
int work_write_answer(char *buf, size_t cap, struct work_rng *r, const struct work_pool *p,
                      const char *ih, size_t ih_len, const struct work_id *peer_id,
                      const char *to_peer, size_t to_peer_len, const char *offer_id,
                      size_t offer_id_len);

/* Write a relay: sender peer_id in room ih, to member `to` (NULL: a broadcast,
 * no to_peer_id), with `data` of exactly data_bytes ASCII bytes: the tag
 * "R<sender>:<seq>:" (8 hex digits each) and then pool filler starting at
 * seq % 26, so the receiver can check every byte. Returns bytes, or -1. */
int work_write_relay(char *buf, size_t cap, const struct work_pool *p, const struct work_id *ih,
                     const struct work_id *peer_id, const struct work_id *to, uint32_t sender,
                     uint32_t seq, unsigned data_bytes);

/* Check relay data as received (the JSON string content): data_bytes long, a
 * tag, and the filler work_write_relay writes after it. Returns 0 with the
 * sender and seq from the tag, or -1. */
int work_check_relay_data(const struct work_pool *p, const char *s, size_t n, unsigned data_bytes,
                          uint32_t *sender, uint32_t *seq);

/* Decode an id's JSON string content (escapes as JSON allows, code points up
 * to U+00FF as raw two-byte UTF-8 or as a u00xx escape) into its WORK_ID_LEN bytes.
 * Returns 0, or -1 if it is not exactly WORK_ID_LEN such code points. */
int work_id_decode(const char *s, size_t n, uint8_t out[WORK_ID_LEN]);

/* A span of a received message: JSON string content (between the quotes, escapes
 * kept) for strings, the raw text for other values. */
struct work_span {
    const char *p;
    size_t len;
};

/* What loadgen needs from a message the tracker sent: the top-level keys. A key
 * absent from the message has p == NULL. */
struct work_msg {
    struct work_span action;
    struct work_span info_hash;
    struct work_span peer_id;
    struct work_span offer_id;
    struct work_span offer;    /* object text */
    struct work_span answer;   /* object text */
    struct work_span failure;  /* "failure reason" string content */
    struct work_span interval; /* number text */
    struct work_span complete;
    struct work_span data; /* relay: "data" string content */
};

/* Scan one JSON object's top-level keys. Returns 0, or -1 if it is not an object
 * (nested values are skipped, not validated). */
int work_scan(const char *p, size_t n, struct work_msg *m);

#endif
