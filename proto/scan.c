/* scan.c - JSON message scanner: one WebSocket message -> struct proto_request.
 *
 * Owns:   JSON validation (RFC 8259, UTF-8 checked inside strings, nesting bounded
 *         by PROTO_DEPTH_MAX) and the request semantics of PROTOCOL.md section 3.
 * Thread: pure functions, any thread; no allocation, no globals.
 * Why:    phase 1 validates the whole message and notes where the known top-level
 *         fields are; phase 2 interprets them. A syntax error anywhere is
 *         "invalid JSON", as JSON.parse would have it, before any field is judged.
 */
#include <string.h>

#include "scan.h"

struct cursor {
    const unsigned char *p;
    size_t len;
    size_t i;
};

enum { SCAN_OK = 0, SCAN_BAD = -1, SCAN_DEEP = -2 };

static void skip_ws(struct cursor *c)
{
    while (c->i < c->len) {
        unsigned char ch = c->p[c->i];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
            break;
        c->i++;
    }
}

static int is_hex(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* Length of the well-formed UTF-8 sequence at p[0..n), or 0 (RFC 3629 table). */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char b0 = p[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t need;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 3;
        if (b0 == 0xE0)
            lo = 0xA0;
        if (b0 == 0xED)
            hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 4;
        if (b0 == 0xF0)
            lo = 0x90;
        if (b0 == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k < need; k++)
        if ((p[k] & 0xC0) != 0x80)
            return 0;
    return need;
}

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

bool proto_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint64_t x;
        size_t n;
        if (len - i >= 8) {
            memcpy(&x, p + i, 8);
            if (!(x & HIGHS)) {
                i += 8;
                continue;
            }
        }
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        n = utf8_seq(p + i, len - i);
        if (!n)
            return false;
        i += n;
    }
    return true;
}

/* Nonzero when one of the 8 bytes of x ends or complicates a plain run of string
 * text: a control byte (< 0x20), '"', '\\' or a non-ASCII byte. SWAR tests
 * (exact as a yes/no answer), so long SDP strings are skipped 8 bytes a step. */
static uint64_t special_bytes(uint64_t x)
{
    uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');
    uint64_t ctl = (x - ONES * 0x20) & ~x;
    uint64_t quote = (q - ONES) & ~q;
    uint64_t bslash = (b - ONES) & ~b;
    return (ctl | quote | bslash | x) & HIGHS;
}

/* The index of the first special byte in a word special_bytes flagged. The
 * lowest flag is always a real one (a borrow only runs upward from a byte
 * that really matched), and memcpy loads the lowest address into the lowest
 * byte on a little-endian machine; elsewhere: 0, the byte-wise path finds it. */
static size_t first_special(uint64_t m)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (size_t)__builtin_ctzll(m) >> 3;
#else
    (void)m;
    return 0;
#endif
}

/* At '"': validate the string and move past its closing quote. */
static int scan_string(struct cursor *c)
{
    c->i++;
    while (c->i < c->len) {
        uint64_t word, m;
        while (c->len - c->i >= 8) {
            memcpy(&word, c->p + c->i, 8);
            if ((m = special_bytes(word)) != 0) {
                c->i += first_special(m); /* the plain bytes before it */
                break;
            }
            c->i += 8;
        }
        if (c->i >= c->len)
            break;
        unsigned char ch = c->p[c->i];
        if (ch == '"') {
            c->i++;
            return SCAN_OK;
        }
        if (ch == '\\') {
            if (c->i + 1 >= c->len)
                return SCAN_BAD;
            unsigned char e = c->p[c->i + 1];
            if (e == 'u') {
                if (c->i + 6 > c->len)
                    return SCAN_BAD;
                for (size_t k = 2; k < 6; k++)
                    if (!is_hex(c->p[c->i + k]))
                        return SCAN_BAD;
                c->i += 6;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                       e == 'r' || e == 't') {
                c->i += 2;
            } else {
                return SCAN_BAD;
            }
        } else if (ch < 0x20) {
            return SCAN_BAD;
        } else if (ch < 0x80) {
            c->i++;
        } else {
            size_t n = utf8_seq(c->p + c->i, c->len - c->i);
            if (n == 0)
                return SCAN_BAD;
            c->i += n;
        }
    }
    return SCAN_BAD;
}

static int scan_digits(struct cursor *c)
{
    size_t start = c->i;
    while (c->i < c->len && c->p[c->i] >= '0' && c->p[c->i] <= '9')
        c->i++;
    return c->i > start ? SCAN_OK : SCAN_BAD;
}

static int scan_number(struct cursor *c)
{
    if (c->p[c->i] == '-')
        c->i++;
    if (c->i >= c->len)
        return SCAN_BAD;
    if (c->p[c->i] == '0')
        c->i++;
    else if (scan_digits(c) != SCAN_OK)
        return SCAN_BAD;
    if (c->i < c->len && c->p[c->i] == '.') {
        c->i++;
        if (scan_digits(c) != SCAN_OK)
            return SCAN_BAD;
    }
    if (c->i < c->len && (c->p[c->i] == 'e' || c->p[c->i] == 'E')) {
        c->i++;
        if (c->i < c->len && (c->p[c->i] == '+' || c->p[c->i] == '-'))
            c->i++;
        if (scan_digits(c) != SCAN_OK)
            return SCAN_BAD;
    }
    return SCAN_OK;
}

static int scan_literal(struct cursor *c, const char *lit)
{
    size_t n = strlen(lit);
    if (c->len - c->i < n || memcmp(c->p + c->i, lit, n) != 0)
        return SCAN_BAD;
    c->i += n;
    return SCAN_OK;
}

static int scan_value(struct cursor *c, int depth);

/* At '{' or '[': validate the container (depth = its nesting level). */
static int scan_container(struct cursor *c, int depth)
{
    unsigned char close = c->p[c->i] == '{' ? '}' : ']';
    int is_object = close == '}';
    if (depth > PROTO_DEPTH_MAX)
        return SCAN_DEEP;
    c->i++;
    skip_ws(c);
    if (c->i < c->len && c->p[c->i] == close) {
        c->i++;
        return SCAN_OK;
    }
    for (;;) {
        int r;
        if (is_object) {
            skip_ws(c);
            if (c->i >= c->len || c->p[c->i] != '"')
                return SCAN_BAD;
            if ((r = scan_string(c)) != SCAN_OK)
                return r;
            skip_ws(c);
            if (c->i >= c->len || c->p[c->i] != ':')
                return SCAN_BAD;
            c->i++;
        }
        if ((r = scan_value(c, depth)) != SCAN_OK)
            return r;
        skip_ws(c);
        if (c->i >= c->len)
            return SCAN_BAD;
        if (c->p[c->i] == ',') {
            c->i++;
            continue;
        }
        if (c->p[c->i] == close) {
            c->i++;
            return SCAN_OK;
        }
        return SCAN_BAD;
    }
}

/* Validate one value; depth is the nesting level of the container holding it. */
static int scan_value(struct cursor *c, int depth)
{
    skip_ws(c);
    if (c->i >= c->len)
        return SCAN_BAD;
    switch (c->p[c->i]) {
    case '"': return scan_string(c);
    case '{':
    case '[': return scan_container(c, depth + 1);
    case 't': return scan_literal(c, "true");
    case 'f': return scan_literal(c, "false");
    case 'n': return scan_literal(c, "null");
    default: break;
    }
    if (c->p[c->i] == '-' || (c->p[c->i] >= '0' && c->p[c->i] <= '9'))
        return scan_number(c);
    return SCAN_BAD;
}

size_t proto_json_skip(const char *s, size_t len, size_t at)
{
    struct cursor c = {(const unsigned char *)s, len, at};
    if (scan_value(&c, 0) != SCAN_OK)
        return 0;
    skip_ws(&c);
    return c.i;
}

/* ---- phase 2: the known fields ---- */

enum field {
    F_ACTION,
    F_INFO_HASH,
    F_PEER_ID,
    F_EVENT,
    F_LEFT,
    F_OFFERS,
    F_ANSWER,
    F_TO_PEER_ID,
    F_OFFER_ID,
    F_PEERS,
    F_TURN,
    F_DATA,
    F_COUNT
};

static const char *const field_names[] = {
    "action", "info_hash",  "peer_id",  "event", "left", "offers",
    "answer", "to_peer_id", "offer_id", "peers", "turn", "data",
};
_Static_assert(sizeof field_names / sizeof field_names[0] == F_COUNT,
               "field_names names every field");

struct field_span {
    bool present;
    size_t off; /* first byte of the value */
    size_t len; /* bytes of the value */
};

/* Decode a short ASCII JSON string's contents (escapes allowed) into out, NUL
 * terminated. Returns 0, or -1 when it is longer than cap-1 or not ASCII. */
static int decode_short(const unsigned char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = s[i];
        if (o + 1 >= cap)
            return -1;
        if (ch == '\\') {
            unsigned char e = s[++i];
            if (e == 'u') {
                unsigned v = 0;
                for (int k = 1; k <= 4; k++) {
                    unsigned char h = s[i + (size_t)k];
                    v = v * 16 + (unsigned)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
                }
                if (v == 0 || v > 0x7F)
                    return -1;
                out[o++] = (char)v;
                i += 4;
                continue;
            }
            switch (e) {
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'n': ch = '\n'; break;
            case 'r': ch = '\r'; break;
            case 't': ch = '\t'; break;
            default: ch = e; break;
            }
        } else if (ch >= 0x80) {
            return -1;
        }
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    return 0;
}

/* Compare a validated string's raw contents with an ASCII word. */
static bool string_is(const unsigned char *s, size_t len, const char *word)
{
    char buf[24];
    if (memchr(s, '\\', len) == NULL)
        return len == strlen(word) && memcmp(s, word, len) == 0;
    return decode_short(s, len, buf, sizeof buf) == 0 && strcmp(buf, word) == 0;
}

/* The value at f is a string: decode it as an id. */
static int field_id(const unsigned char *msg, const struct field_span *f, uint8_t out[PROTO_ID_LEN])
{
    if (!f->present || msg[f->off] != '"')
        return -1;
    return proto_id_decode((const char *)msg + f->off + 1, f->len - 2, out);
}

static int field_key(const unsigned char *key, size_t len)
{
    for (int k = 0; k < F_COUNT; k++)
        if (string_is(key, len, field_names[k]))
            return k;
    return -1;
}

/* Iterate over a validated container ('{' or '['): each call fills the key span
 * (objects) and the value span, and returns 1 while an element exists. */
struct iter {
    struct cursor c;
    bool object;
    bool started;
};

static void iter_init(struct iter *it, const unsigned char *msg, size_t off, size_t len)
{
    it->c.p = msg;
    it->c.len = off + len;
    it->c.i = off + 1;
    it->object = msg[off] == '{';
    it->started = false;
}

static int iter_next(struct iter *it, size_t *key_off, size_t *key_len, size_t *val_off,
                     size_t *val_len)
{
    struct cursor *c = &it->c;
    skip_ws(c);
    if (it->started) {
        if (c->p[c->i] != ',')
            return 0;
        c->i++;
        skip_ws(c);
    } else if (c->p[c->i] == (it->object ? '}' : ']')) {
        return 0;
    }
    it->started = true;
    if (it->object) {
        size_t k0 = c->i;
        scan_string(c);
        *key_off = k0 + 1;
        *key_len = c->i - k0 - 2;
        skip_ws(c);
        c->i++; /* ':' */
        skip_ws(c);
    }
    *val_off = c->i;
    scan_value(c, 0); /* validated already: depth cannot exceed again */
    *val_len = c->i - *val_off;
    return 1;
}

/* offers: an array, else the whole announce fails. An entry that is not an
 * object, has no offer or has a bad offer_id is skipped and counted (the
 * peer is still registered and the other entries go out: bittorrent-tracker
 * does the same, and its own test suite sends such entries). */
static enum proto_status scan_offers(const unsigned char *msg, const struct field_span *f,
                                     struct proto_announce *req)
{
    struct iter it;
    size_t ko = 0, kl = 0, vo = 0, vl = 0;
    if (msg[f->off] == 'n')
        return PROTO_OK; /* null = no offers */
    if (msg[f->off] != '[')
        return PROTO_ERR_OFFERS;
    iter_init(&it, msg, f->off, f->len);
    while (iter_next(&it, &ko, &kl, &vo, &vl)) {
        struct iter inner;
        size_t iko = 0, ikl = 0, ivo = 0, ivl = 0;
        struct field_span offer = {0}, offer_id = {0}, to = {0};
        uint8_t id[PROTO_ID_LEN], to_id[PROTO_ID_LEN];
        if (msg[vo] != '{') {
            req->n_invalid_offers++;
            continue;
        }
        iter_init(&inner, msg, vo, vl);
        while (iter_next(&inner, &iko, &ikl, &ivo, &ivl)) {
            if (string_is(msg + iko, ikl, "offer"))
                offer = (struct field_span){true, ivo, ivl};
            else if (string_is(msg + iko, ikl, "offer_id"))
                offer_id = (struct field_span){true, ivo, ivl};
            else if (string_is(msg + iko, ikl, "to_peer_id"))
                to = (struct field_span){true, ivo, ivl};
        }
        if (!offer.present || field_id(msg, &offer_id, id) != 0 ||
            (to.present && field_id(msg, &to, to_id) != 0)) {
            req->n_invalid_offers++;
            continue;
        }
        if (req->n_offers < PROTO_OFFERS_MAX) {
            struct proto_offer *o = &req->offers[req->n_offers++];
            memcpy(o->offer_id, id, PROTO_ID_LEN);
            o->offer.off = (uint32_t)offer.off;
            o->offer.len = (uint32_t)offer.len;
            o->directed = to.present;
            if (to.present)
                memcpy(o->to_peer_id, to_id, PROTO_ID_LEN);
        }
    }
    return PROTO_OK;
}

static enum proto_status scan_event(const unsigned char *msg, const struct field_span *f,
                                    enum proto_event *ev)
{
    static const struct {
        const char *word;
        enum proto_event ev;
    } events[] = {
        {"", PROTO_EVENT_UPDATE},         {"update", PROTO_EVENT_UPDATE},
        {"empty", PROTO_EVENT_UPDATE},    {"started", PROTO_EVENT_STARTED},
        {"stopped", PROTO_EVENT_STOPPED}, {"completed", PROTO_EVENT_COMPLETED},
        {"paused", PROTO_EVENT_PAUSED},
    };
    *ev = PROTO_EVENT_UPDATE;
    if (!f->present || msg[f->off] == 'n')
        return PROTO_OK;
    if (msg[f->off] != '"')
        return PROTO_ERR_EVENT;
    for (size_t k = 0; k < sizeof events / sizeof events[0]; k++) {
        if (string_is(msg + f->off + 1, f->len - 2, events[k].word)) {
            *ev = events[k].ev;
            return PROTO_OK;
        }
    }
    return PROTO_ERR_EVENT;
}

/* A JSON number (or the text of one) whose digits are all zero. */
static bool number_is_zero(const unsigned char *s, size_t len)
{
    size_t i = 0;
    bool digit = false;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    for (; i < len; i++) {
        if (s[i] == 'e' || s[i] == 'E')
            break;
        if (s[i] == '.')
            continue;
        if (s[i] != '0')
            return false;
        digit = true;
    }
    return digit;
}

static enum proto_left scan_left(const unsigned char *msg, const struct field_span *f)
{
    if (!f->present || msg[f->off] == 'n')
        return PROTO_LEFT_ABSENT;
    if (msg[f->off] == '"') {
        /* The string's text, escapes decoded ("\u0030" is "0"), as Number() sees it. */
        char text[40];
        if (decode_short(msg + f->off + 1, f->len - 2, text, sizeof text) != 0)
            return PROTO_LEFT_NONZERO;
        return number_is_zero((const unsigned char *)text, strlen(text)) ? PROTO_LEFT_ZERO
                                                                         : PROTO_LEFT_NONZERO;
    }
    if (msg[f->off] == '-' || (msg[f->off] >= '0' && msg[f->off] <= '9'))
        return number_is_zero(msg + f->off, f->len) ? PROTO_LEFT_ZERO : PROTO_LEFT_NONZERO;
    return PROTO_LEFT_NONZERO;
}

/* "peers": a JSON integer 1..PROTO_PEERS_MAX, written in plain digits. */
static enum proto_status scan_peers(const unsigned char *msg, const struct field_span *f,
                                    uint32_t *k)
{
    uint32_t v = 0;
    if (f->len < 1 || f->len > 2)
        return PROTO_ERR_PEERS;
    for (size_t i = 0; i < f->len; i++) {
        unsigned char ch = msg[f->off + i];
        if (ch < '0' || ch > '9')
            return PROTO_ERR_PEERS;
        v = v * 10 + (uint32_t)(ch - '0');
    }
    if (v < 1 || v > PROTO_PEERS_MAX || msg[f->off] == '0')
        return PROTO_ERR_PEERS;
    *k = v;
    return PROTO_OK;
}

static enum proto_status scan_scrape_hashes(const unsigned char *msg, const struct field_span *f,
                                            uint32_t max, struct proto_request *req)
{
    struct iter it;
    size_t ko = 0, kl = 0, vo = 0, vl = 0;
    req->scrape_kind = PROTO_SCRAPE_LIST;
    if (msg[f->off] == '"') {
        if (field_id(msg, f, req->hashes[0]) != 0)
            return PROTO_ERR_INFO_HASH;
        req->n_hashes = 1;
        return PROTO_OK;
    }
    if (msg[f->off] != '[')
        return PROTO_ERR_INFO_HASH;
    iter_init(&it, msg, f->off, f->len);
    while (iter_next(&it, &ko, &kl, &vo, &vl)) {
        struct field_span e = {true, vo, vl};
        if (req->n_hashes >= max)
            return PROTO_ERR_SCRAPE_TOO_MANY;
        if (field_id(msg, &e, req->hashes[req->n_hashes]) != 0)
            return PROTO_ERR_INFO_HASH;
        req->n_hashes++;
    }
    return PROTO_OK;
}

static enum proto_status scan_announce(const unsigned char *msg, struct field_span *fs,
                                       struct proto_request *r)
{
    enum proto_status st;
    struct proto_announce *req = &r->ann;
    if (!r->has_info_hash)
        return PROTO_ERR_INFO_HASH;
    memcpy(req->info_hash, r->info_hash, PROTO_ID_LEN);
    if (field_id(msg, &fs[F_PEER_ID], req->peer_id) != 0)
        return PROTO_ERR_PEER_ID;
    if ((st = scan_event(msg, &fs[F_EVENT], &req->event)) != PROTO_OK)
        return st;
    req->left = scan_left(msg, &fs[F_LEFT]);
    if (fs[F_PEERS].present && (st = scan_peers(msg, &fs[F_PEERS], &req->want_peers)) != PROTO_OK)
        return st;
    req->want_turn = fs[F_TURN].present && msg[fs[F_TURN].off] == 't'; /* true; else ignored */
    if (fs[F_OFFERS].present && (st = scan_offers(msg, &fs[F_OFFERS], req)) != PROTO_OK)
        return st;
    if (fs[F_ANSWER].present && msg[fs[F_ANSWER].off] != 'n') {
        if (field_id(msg, &fs[F_TO_PEER_ID], req->to_peer_id) != 0)
            return PROTO_ERR_TO_PEER_ID;
        if (field_id(msg, &fs[F_OFFER_ID], req->offer_id) != 0)
            return PROTO_ERR_OFFER_ID;
        req->has_answer = true;
        req->answer.off = (uint32_t)fs[F_ANSWER].off;
        req->answer.len = (uint32_t)fs[F_ANSWER].len;
    }
    return PROTO_OK;
}

/* A relay: the sender, an optional recipient, and "data", a string kept as
 * its raw JSON text (never parsed: the server only forwards it). */
static enum proto_status scan_relay(const unsigned char *msg, struct field_span *fs,
                                    struct proto_request *r)
{
    struct proto_relay *req = &r->relay;
    if (!r->has_info_hash)
        return PROTO_ERR_INFO_HASH;
    if (field_id(msg, &fs[F_PEER_ID], req->peer_id) != 0)
        return PROTO_ERR_PEER_ID;
    req->directed = fs[F_TO_PEER_ID].present && msg[fs[F_TO_PEER_ID].off] != 'n';
    if (req->directed && field_id(msg, &fs[F_TO_PEER_ID], req->to_peer_id) != 0)
        return PROTO_ERR_TO_PEER_ID;
    if (!fs[F_DATA].present || msg[fs[F_DATA].off] != '"')
        return PROTO_ERR_DATA;
    req->data.off = (uint32_t)fs[F_DATA].off;
    req->data.len = (uint32_t)fs[F_DATA].len;
    return PROTO_OK;
}

static enum proto_action action_of(const unsigned char *m, const struct field_span *f)
{
    if (m[f->off] != '"')
        return PROTO_ACTION_UNKNOWN;
    if (string_is(m + f->off + 1, f->len - 2, "announce"))
        return PROTO_ACTION_ANNOUNCE;
    if (string_is(m + f->off + 1, f->len - 2, "scrape"))
        return PROTO_ACTION_SCRAPE;
    if (string_is(m + f->off + 1, f->len - 2, "relay"))
        return PROTO_ACTION_RELAY;
    return PROTO_ACTION_UNKNOWN;
}

enum proto_status proto_scan_request(const char *msg, size_t len, uint32_t max_scrape_hashes,
                                     struct proto_request *req)
{
    const unsigned char *m = (const unsigned char *)msg;
    struct cursor c = {m, len, 0};
    struct field_span fs[F_COUNT];
    int r;

    memset(fs, 0, sizeof fs);
    req->action = PROTO_ACTION_UNKNOWN;
    req->has_info_hash = false;
    req->ann.n_offers = 0;
    req->ann.n_invalid_offers = 0;
    req->ann.want_peers = 0;
    req->ann.want_turn = false;
    req->ann.has_answer = false;
    req->n_hashes = 0;
    req->scrape_kind = PROTO_SCRAPE_FULL;
    if (max_scrape_hashes > PROTO_SCRAPE_HASHES_MAX)
        max_scrape_hashes = PROTO_SCRAPE_HASHES_MAX;
    if (len > UINT32_MAX)
        return PROTO_ERR_JSON;

    /* Phase 1: validate, noting the top-level fields. */
    skip_ws(&c);
    if (c.i >= c.len)
        return PROTO_ERR_JSON;
    if (m[c.i] != '{') {
        r = scan_value(&c, 0);
        skip_ws(&c);
        if (r == SCAN_DEEP)
            return PROTO_ERR_DEPTH;
        return (r == SCAN_OK && c.i == c.len) ? PROTO_ERR_NOT_OBJECT : PROTO_ERR_JSON;
    }
    c.i++;
    skip_ws(&c);
    if (c.i < c.len && m[c.i] == '}') {
        c.i++;
    } else {
        for (;;) {
            size_t k0;
            int key;
            skip_ws(&c);
            if (c.i >= c.len || m[c.i] != '"')
                return PROTO_ERR_JSON;
            k0 = c.i;
            if (scan_string(&c) != SCAN_OK)
                return PROTO_ERR_JSON;
            key = field_key(m + k0 + 1, c.i - k0 - 2);
            skip_ws(&c);
            if (c.i >= c.len || m[c.i] != ':')
                return PROTO_ERR_JSON;
            c.i++;
            skip_ws(&c);
            size_t v0 = c.i;
            r = scan_value(&c, 1);
            if (r != SCAN_OK)
                return r == SCAN_DEEP ? PROTO_ERR_DEPTH : PROTO_ERR_JSON;
            if (key >= 0)
                fs[key] = (struct field_span){true, v0, c.i - v0};
            if (key == F_ACTION)
                req->action = action_of(m, &fs[F_ACTION]); /* known for later errors */
            skip_ws(&c);
            if (c.i >= c.len)
                return PROTO_ERR_JSON;
            if (m[c.i] == ',') {
                c.i++;
                continue;
            }
            if (m[c.i] == '}') {
                c.i++;
                break;
            }
            return PROTO_ERR_JSON;
        }
    }
    skip_ws(&c);
    if (c.i != c.len)
        return PROTO_ERR_JSON;

    /* Phase 2: semantics. */
    if (fs[F_INFO_HASH].present && field_id(m, &fs[F_INFO_HASH], req->info_hash) == 0)
        req->has_info_hash = true;
    if (!fs[F_ACTION].present)
        return PROTO_ERR_NO_ACTION;
    if (req->action == PROTO_ACTION_UNKNOWN)
        return PROTO_ERR_ACTION;
    if (req->action == PROTO_ACTION_ANNOUNCE)
        return scan_announce(m, fs, req);
    if (req->action == PROTO_ACTION_RELAY)
        return scan_relay(m, fs, req);
    if (!fs[F_INFO_HASH].present || m[fs[F_INFO_HASH].off] == 'n')
        return PROTO_OK;        /* full scrape */
    req->has_info_hash = false; /* a scrape's errors carry no info_hash */
    return scan_scrape_hashes(m, &fs[F_INFO_HASH], max_scrape_hashes, req);
}

const char *proto_status_reason(enum proto_status st)
{
    static const char *const reasons[PROTO_STATUS_COUNT] = {
        [PROTO_OK] = "ok",
        [PROTO_ERR_JSON] = "invalid JSON",
        [PROTO_ERR_DEPTH] = "JSON nested too deeply",
        [PROTO_ERR_NOT_OBJECT] = "message must be a JSON object",
        [PROTO_ERR_NO_ACTION] = "missing action",
        [PROTO_ERR_ACTION] = "invalid action",
        [PROTO_ERR_INFO_HASH] = "invalid info_hash",
        [PROTO_ERR_PEER_ID] = "invalid peer_id",
        [PROTO_ERR_EVENT] = "invalid event",
        [PROTO_ERR_OFFERS] = "invalid offers",
        [PROTO_ERR_OFFER_ID] = "invalid offer_id",
        [PROTO_ERR_TO_PEER_ID] = "invalid to_peer_id",
        [PROTO_ERR_PEERS] = "invalid peers",
        [PROTO_ERR_SCRAPE_TOO_MANY] = "too many info_hash in scrape",
        [PROTO_ERR_DATA] = "invalid data",
        [PROTO_ERR_FULL_SCRAPE_DISABLED] = "full scrape disabled",
        [PROTO_ERR_TOO_MANY_TORRENTS] = "too many torrents on this connection",
        [PROTO_ERR_TOO_MANY_PEER_IDS] = "too many peer_ids for this info hash",
        [PROTO_ERR_PEER_ID_IN_USE] = "peer_id in use",
        [PROTO_ERR_TRACKER_FULL_PEERS] = "tracker full: too many peers",
        [PROTO_ERR_TRACKER_FULL_SWARMS] = "tracker full: too many swarms",
        [PROTO_ERR_SCRAPE_IN_PROGRESS] = "scrape in progress",
        [PROTO_ERR_RELAY_DISABLED] = "relay disabled",
        [PROTO_ERR_RELAY_TOO_LARGE] = "relay data too large",
        [PROTO_ERR_NOT_MEMBER] = "not a member of this room",
        [PROTO_ERR_RELAY_NO_PEER] = "peer not in room",
        [PROTO_ERR_RELAY_RATE] = "relay rate exceeded",
        [PROTO_ERR_RATE_LIMITED] = "rate limited",
        [PROTO_ERR_HASH_NOT_ALLOWED] = "info hash not allowed",
        [PROTO_ERR_TOKEN_SCOPE] = "info hash not allowed by token",
    };
    if ((unsigned)st >= PROTO_STATUS_COUNT)
        return "internal error";
    return reasons[st];
}
