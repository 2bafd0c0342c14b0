/* write.c - reply, offer, answer, scrape and error writers.
 *
 * Owns:   the byte layout of every frame the tracker sends; see write.h.
 * Thread: pure functions, any thread.
 * Why:    one place that knows the wire format; bounds checked on every append.
 */
#include <string.h>

#include "write.h"

struct out {
    char *buf;
    size_t cap;
    size_t len;
    int overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->overflow || o->cap - o->len < n) {
        o->overflow = 1;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void puts_lit(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_u32(struct out *o, uint32_t v)
{
    char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char rev[10];
    for (size_t k = 0; k < n; k++)
        rev[k] = tmp[n - 1 - k];
    put(o, rev, n);
}

static void put_id(struct out *o, const uint8_t id[PROTO_ID_LEN])
{
    char enc[PROTO_ID_JSON_MAX];
    size_t n = proto_id_encode(id, enc);
    put(o, "\"", 1);
    put(o, enc, n);
    put(o, "\"", 1);
}

static int finish(const struct out *o)
{
    return o->overflow ? -1 : (int)o->len;
}

int proto_write_response(char *buf, size_t cap, const uint8_t info_hash[PROTO_ID_LEN],
                         uint32_t complete, uint32_t incomplete, uint32_t interval,
                         const struct proto_listed *list, uint32_t n_list, const char *ice_servers,
                         const char *warning)
{
    struct out o = {buf, cap, 0, 0};
    puts_lit(&o, "{\"action\":\"announce\",\"info_hash\":");
    put_id(&o, info_hash);
    puts_lit(&o, ",\"complete\":");
    put_u32(&o, complete);
    puts_lit(&o, ",\"incomplete\":");
    put_u32(&o, incomplete);
    puts_lit(&o, ",\"interval\":");
    put_u32(&o, interval);
    if (list) {
        puts_lit(&o, ",\"peers\":[");
        for (uint32_t k = 0; k < n_list; k++) {
            puts_lit(&o, k ? ",{\"peer_id\":" : "{\"peer_id\":");
            put_id(&o, list[k].peer_id);
            puts_lit(&o, ",\"age\":");
            put_u32(&o, list[k].age_s);
            puts_lit(&o, "}");
        }
        puts_lit(&o, "]");
    }
    if (ice_servers) {
        puts_lit(&o, ",\"ice_servers\":");
        puts_lit(&o, ice_servers);
    }
    if (warning) {
        puts_lit(&o, ",\"warning message\":\"");
        puts_lit(&o, warning);
        puts_lit(&o, "\"");
    }
    puts_lit(&o, "}");
    return finish(&o);
}

int proto_write_forward(char *buf, size_t cap, const uint8_t info_hash[PROTO_ID_LEN],
                        const uint8_t peer_id[PROTO_ID_LEN], const uint8_t offer_id[PROTO_ID_LEN],
                        int is_answer, const char *payload, size_t payload_len)
{
    struct out o = {buf, cap, 0, 0};
    puts_lit(&o, "{\"action\":\"announce\",\"info_hash\":");
    put_id(&o, info_hash);
    puts_lit(&o, ",\"peer_id\":");
    put_id(&o, peer_id);
    puts_lit(&o, ",\"offer_id\":");
    put_id(&o, offer_id);
    puts_lit(&o, is_answer ? ",\"answer\":" : ",\"offer\":");
    put(&o, payload, payload_len);
    puts_lit(&o, "}");
    return finish(&o);
}

int proto_write_relay(char *buf, size_t cap, const uint8_t info_hash[PROTO_ID_LEN],
                      const uint8_t from[PROTO_ID_LEN], const char *data, size_t data_len)
{
    struct out o = {buf, cap, 0, 0};
    puts_lit(&o, "{\"action\":\"relay\",\"info_hash\":");
    put_id(&o, info_hash);
    puts_lit(&o, ",\"peer_id\":");
    put_id(&o, from);
    puts_lit(&o, ",\"data\":");
    put(&o, data, data_len);
    puts_lit(&o, "}");
    return finish(&o);
}

int proto_write_error(char *buf, size_t cap, enum proto_action action, enum proto_status st,
                      const uint8_t *info_hash)
{
    struct out o = {buf, cap, 0, 0};
    puts_lit(&o, action == PROTO_ACTION_SCRAPE  ? "{\"action\":\"scrape\""
                 : action == PROTO_ACTION_RELAY ? "{\"action\":\"relay\""
                                                : "{\"action\":\"announce\"");
    puts_lit(&o, ",\"failure reason\":\"");
    puts_lit(&o, proto_status_reason(st)); /* plain ASCII, no escaping needed */
    puts_lit(&o, "\"");
    if (info_hash) {
        puts_lit(&o, ",\"info_hash\":");
        put_id(&o, info_hash);
    }
    puts_lit(&o, "}");
    return finish(&o);
}

int proto_write_scrape_open(char *buf, size_t cap)
{
    struct out o = {buf, cap, 0, 0};
    puts_lit(&o, "{\"action\":\"scrape\",\"files\":{");
    return finish(&o);
}

int proto_write_scrape_entry(char *buf, size_t cap, int first,
                             const uint8_t info_hash[PROTO_ID_LEN], uint32_t complete,
                             uint32_t incomplete, uint32_t downloaded)
{
    struct out o = {buf, cap, 0, 0};
    if (!first)
        puts_lit(&o, ",");
    put_id(&o, info_hash);
    puts_lit(&o, ":{\"complete\":");
    put_u32(&o, complete);
    puts_lit(&o, ",\"incomplete\":");
    put_u32(&o, incomplete);
    puts_lit(&o, ",\"downloaded\":");
    put_u32(&o, downloaded);
    puts_lit(&o, "}");
    return finish(&o);
}

int proto_write_scrape_close(char *buf, size_t cap, uint32_t min_request_interval)
{
    struct out o = {buf, cap, 0, 0};
    puts_lit(&o, "},\"flags\":{\"min_request_interval\":");
    put_u32(&o, min_request_interval);
    puts_lit(&o, "}}");
    return finish(&o);
}
