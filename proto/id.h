/* id.h - 20-byte binary-string ids <-> JSON string contents.
 *
 * Owns:   the Latin-1 id codec (info_hash, peer_id, offer_id, to_peer_id).
 * Thread: pure functions, any thread.
 * Why:    ids travel as JSON strings of 20 code points U+0000..U+00FF
 *         (code point = byte); the tracker must decode every JSON escape and
 *         write ids back exactly as JSON.stringify does (PROTOCOL.md section 2).
 */
#ifndef WSTRACKER_PROTO_ID_H
#define WSTRACKER_PROTO_ID_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_ID_LEN 20
/* Worst case of one encoded id without quotes: 20 x "\u00xx". */
#define PROTO_ID_JSON_MAX (PROTO_ID_LEN * 6)

/* Decode the raw contents of a JSON string (the bytes between the quotes, escapes
 * not yet decoded) into 20 bytes. Returns 0, or -1 when the string is not exactly
 * 20 code points each <= U+00FF or is not valid JSON string content. */
int proto_id_decode(const char *s, size_t len, uint8_t out[PROTO_ID_LEN]);

/* Encode 20 bytes as JSON string contents (no quotes) into out, which must hold
 * PROTO_ID_JSON_MAX bytes. Returns the number of bytes written. */
size_t proto_id_encode(const uint8_t id[PROTO_ID_LEN], char *out);

#endif
