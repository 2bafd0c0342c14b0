/* json.h - a small JSON reader: members of objects, items of arrays, strings
 * and numbers, for the token and key formats (JWS headers, JWT claims, JWKs).
 *
 * Owns:   reading validated JSON text by key, without a tree.
 * Thread: pure functions, any thread; no allocation, no globals.
 * Why:    a token's header and claims are small JSON objects read a few keys
 *         at a time; json_parse validates the whole text once (through the
 *         scanner's own validator, proto_json_skip) and every later call walks
 *         spans of it. A key that appears twice in one object makes
 *         json_member fail: a token must not mean two things (RFC 7515 5.2).
 */
#ifndef WSTRACKER_PROTO_JSON_H
#define WSTRACKER_PROTO_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type {
    JSON_NONE = 0, /* absent */
    JSON_OBJECT,
    JSON_ARRAY,
    JSON_STRING,
    JSON_NUMBER,
    JSON_TRUE,
    JSON_FALSE,
    JSON_NULL,
};

/* One value: p[0..len) is its raw text (a string's with its quotes). */
struct json_val {
    enum json_type type;
    const char *p;
    size_t len;
};

/* Validate s[0..len) as exactly one JSON value (whitespace around it
 * allowed). Returns 0, or -1 when it is not. */
int json_parse(const char *s, size_t len, struct json_val *out);

/* The member named key of object obj: 1 found (in *out), 0 absent (out->type
 * JSON_NONE), -1 when obj is not an object or key appears more than once. */
int json_member(const struct json_val *obj, const char *key, struct json_val *out);

/* The items of an array (or the members' values of an object). */
struct json_iter {
    const char *s;
    size_t len, i;
    bool object;
};
void json_iter_init(struct json_iter *it, const struct json_val *container);
/* The next item, or false at the end. */
bool json_next(struct json_iter *it, struct json_val *out);
/* Items in an array (or members in an object). */
size_t json_count(const struct json_val *container);

/* A string's contents, escapes decoded (UTF-8), NUL terminated, into
 * out[0..cap). Returns the length, or -1 when v is not a string, does not
 * fit, or holds U+0000. */
long json_string(const struct json_val *v, char *out, size_t cap);

/* True when v is the string s (decoded contents compared). */
bool json_string_is(const struct json_val *v, const char *s);

/* A number's integer part (a fraction is dropped; JWT NumericDate may have
 * one). Returns 0, or -1 when v is not a number or lies outside +-2^53. */
int json_int(const struct json_val *v, int64_t *out);

#endif
