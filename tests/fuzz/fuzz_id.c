/* fuzz_id.c - libFuzzer target: the id codec.
 *
 * Owns:   nothing; checks that decode(encode(x)) == x for any 20 bytes, and that
 *         any string that decodes re-encodes to a string that decodes the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "id.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t id[PROTO_ID_LEN], back[PROTO_ID_LEN];
    char enc[PROTO_ID_JSON_MAX];
    size_t n;

    if (size >= PROTO_ID_LEN) {
        memcpy(id, data, PROTO_ID_LEN);
        n = proto_id_encode(id, enc);
        CHECK(n <= PROTO_ID_JSON_MAX);
        CHECK(proto_id_decode(enc, n, back) == 0);
        CHECK(memcmp(id, back, PROTO_ID_LEN) == 0);
    }
    /* Arbitrary bytes as JSON string contents. */
    char *s = malloc(size ? size : 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    if (proto_id_decode(s, size, id) == 0) {
        n = proto_id_encode(id, enc);
        CHECK(proto_id_decode(enc, n, back) == 0);
        CHECK(memcmp(id, back, PROTO_ID_LEN) == 0);
    }
    free(s);
    return 0;
}
