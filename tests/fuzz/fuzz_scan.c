/* fuzz_scan.c - libFuzzer target: the message scanner and the writers after it.
 *
 * Owns:   nothing; checks invariants of proto_scan_request on any input.
 * Why:    the scanner faces every byte a hostile client sends (issue 5).
 *
 * Invariants: never reads outside the input (ASan), every span lies inside it,
 * a status always has a reason, and a successful announce's forwarded frames can
 * be written within the documented worst case.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "id.h"
#include "scan.h"
#include "write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct proto_request req;

static void check_span(struct proto_span s, size_t size)
{
    CHECK((size_t)s.off + s.len <= size);
    CHECK(s.len > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Copy into an exact-size heap buffer so ASan sees any over-read. */
    char *msg = malloc(size ? size : 1);
    enum proto_status st;
    if (!msg)
        return 0;
    memcpy(msg, data, size);
    st = proto_scan_request(msg, size, PROTO_SCRAPE_HASHES_MAX, &req);
    CHECK(proto_status_reason(st) != NULL);
    /* handle_message relies on it: lws no longer checks UTF-8 itself. */
    if (st == PROTO_OK)
        CHECK(proto_utf8_valid(msg, size));
    if (st == PROTO_OK && req.action == PROTO_ACTION_ANNOUNCE) {
        const struct proto_announce *a = &req.ann;
        CHECK(a->n_offers <= PROTO_OFFERS_MAX);
        for (uint32_t k = 0; k < a->n_offers; k++) {
            size_t cap = PROTO_FORWARD_MAX(a->offers[k].offer.len);
            char *out = malloc(cap);
            check_span(a->offers[k].offer, size);
            if (out) {
                int n =
                    proto_write_forward(out, cap, a->info_hash, a->peer_id, a->offers[k].offer_id,
                                        0, msg + a->offers[k].offer.off, a->offers[k].offer.len);
                CHECK(n > 0);
                free(out);
            }
        }
        if (a->has_answer)
            check_span(a->answer, size);
    }
    if (st == PROTO_OK && req.action == PROTO_ACTION_SCRAPE)
        CHECK(req.n_hashes <= PROTO_SCRAPE_HASHES_MAX);
    if (st != PROTO_OK) {
        char out[PROTO_ERROR_MAX];
        CHECK(proto_write_error(out, sizeof out, req.action, st,
                                req.has_info_hash ? req.info_hash : NULL) > 0);
    }
    free(msg);
    return 0;
}
