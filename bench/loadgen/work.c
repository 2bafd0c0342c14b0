/* work.c - the aquatic_ws_load_test workload; see work.h. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "work.h"

/* ---- rng: xoshiro256** seeded through splitmix64 ---- */

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void work_rng_init(struct work_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed;
    if (!seed && getrandom(&x, sizeof x, 0) != (ssize_t)sizeof x)
        x = (uint64_t)(uintptr_t)r ^ 0x5DEECE66Dull;
    x ^= stream * 0xD1B54A32D192ED03ull;
    for (unsigned i = 0; i < 4; i++)
        r->s[i] = splitmix(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t work_rng_next(struct work_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double work_rng_unit(struct work_rng *r)
{
    return (double)(work_rng_next(r) >> 11) * 0x1.0p-53;
}

static unsigned below(struct work_rng *r, unsigned n)
{
    return (unsigned)(((work_rng_next(r) >> 32) * n) >> 32);
}

/* ---- Gamma(shape, scale): Marsaglia and Tsang, with the shape < 1 boost ---- */

static double normal(struct work_rng *r)
{
    double u1 = work_rng_unit(r), u2 = work_rng_unit(r);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

static double gamma_draw(struct work_rng *r, double shape, double scale)
{
    double boost = 1.0;
    if (shape < 1.0) {
        /* Gamma(a) = Gamma(a + 1) * U^(1/a) */
        boost = pow(1.0 - work_rng_unit(r), 1.0 / shape);
        shape += 1.0;
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = normal(r), v = 1.0 + c * x;
        if (v <= 0.0)
            continue;
        v = v * v * v;
        double u = work_rng_unit(r);
        if (u < 1.0 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
            return d * v * scale * boost;
    }
}

unsigned work_pick_hash(struct work_rng *r, unsigned n_hashes)
{
    double p = gamma_draw(r, 0.2, 100.0);
    if (p > 101.0)
        p = 101.0;
    double x = (p - 1.0) / 100.0 * (double)(n_hashes - 1);
    if (x <= 0.0)
        return 0;
    unsigned i = (unsigned)x;
    return i >= n_hashes ? n_hashes - 1 : i;
}

/* ---- ids ---- */

/* Append byte b as JSON.stringify writes the code point U+00b; returns chars. */
static size_t json_latin1(char *o, uint8_t b)
{
    static const char hex[] = "0123456789abcdef";
    switch (b) {
    case '\b':
        o[0] = '\\';
        o[1] = 'b';
        return 2;
    case '\t':
        o[0] = '\\';
        o[1] = 't';
        return 2;
    case '\n':
        o[0] = '\\';
        o[1] = 'n';
        return 2;
    case '\f':
        o[0] = '\\';
        o[1] = 'f';
        return 2;
    case '\r':
        o[0] = '\\';
        o[1] = 'r';
        return 2;
    case '"':
        o[0] = '\\';
        o[1] = '"';
        return 2;
    case '\\':
        o[0] = '\\';
        o[1] = '\\';
        return 2;
    default: break;
    }
    if (b < 0x20) {
        memcpy(o, "\\u00", 4);
        o[4] = hex[b >> 4];
        o[5] = hex[b & 15];
        return 6;
    }
    if (b < 0x80) {
        o[0] = (char)b;
        return 1;
    }
    o[0] = (char)(0xC0 | (b >> 6));
    o[1] = (char)(0x80 | (b & 0x3F));
    return 2;
}

void work_id_random(struct work_rng *r, const char *prefix, struct work_id *id)
{
    uint8_t raw[WORK_ID_LEN];
    for (unsigned i = 0; i < WORK_ID_LEN; i += 8) {
        uint64_t v = work_rng_next(r);
        memcpy(raw + i, &v, WORK_ID_LEN - i < 8 ? WORK_ID_LEN - i : 8);
    }
    if (prefix) {
        size_t pl = strlen(prefix);
        memcpy(raw, prefix, pl < WORK_ID_LEN ? pl : WORK_ID_LEN);
    }
    size_t n = 0;
    for (unsigned i = 0; i < WORK_ID_LEN; i++)
        n += json_latin1(id->s + n, raw[i]);
    id->len = (uint8_t)n;
    memcpy(id->raw, raw, WORK_ID_LEN);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int work_id_decode(const char *s, size_t n, uint8_t out[WORK_ID_LEN])
{
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    unsigned k = 0;
    while (p < e) {
        unsigned cp;
        if (*p == '\\') {
            if (e - p < 2)
                return -1;
            switch (p[1]) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u': {
                if (e - p < 6)
                    return -1;
                cp = 0;
                for (unsigned i = 2; i < 6; i++) {
                    int d = hex_digit((char)p[i]);
                    if (d < 0)
                        return -1;
                    cp = cp << 4 | (unsigned)d;
                }
                p += 4;
                break;
            }
            default: return -1;
            }
            p += 2;
        } else if (*p < 0x80) {
            if (*p < 0x20)
                return -1; /* raw control characters are not JSON */
            cp = *p++;
        } else if ((*p == 0xC2 || *p == 0xC3) && e - p >= 2 && (p[1] & 0xC0) == 0x80) {
            cp = (unsigned)(*p & 0x1F) << 6 | (p[1] & 0x3F);
            p += 2;
        } else {
            return -1; /* above U+00FF, or bad UTF-8 */
        }
        if (cp > 0xFF || k == WORK_ID_LEN)
            return -1;
        out[k++] = (uint8_t)cp;
    }
    return k == WORK_ID_LEN ? 0 : -1;
}

/* ---- SDPs: Chrome-shaped data-channel offers and answers, trickle off ---- */

static void rand_chars(struct work_rng *r, char *o, size_t n, const char *set)
{
    size_t sl = strlen(set);
    for (size_t i = 0; i < n; i++)
        o[i] = set[below(r, (unsigned)sl)];
    o[n] = '\0';
}

/* Write one SDP into out (cap WORK_SDP_MAX + 1); returns its length. */
static size_t sdp_text(struct work_rng *r, int answer, char *out)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char ufrag[8], pwd[32], fp[32 * 3];
    char tmp[WORK_SDP_MAX * 2];
    size_t n = 0;
    rand_chars(r, ufrag, 4, b64);
    rand_chars(r, pwd, 24, b64);
    for (unsigned i = 0; i < 32; i++)
        snprintf(fp + 3 * i, 4, "%02X%s", (unsigned)below(r, 256), i < 31 ? ":" : "");
#define ADD(...) n += (size_t)snprintf(tmp + n, sizeof tmp - n, __VA_ARGS__)
    ADD("v=0\r\no=- %llu 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n",
        (unsigned long long)(work_rng_next(r) >> 2));
    if (below(r, 2))
        ADD("a=extmap-allow-mixed\r\n");
    if (below(r, 2))
        ADD("a=msid-semantic: WMS\r\n");
    ADD("m=application %u UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n",
        below(r, 2) ? 9 : 40000 + below(r, 20000));
    unsigned cands = below(r, 3);
    for (unsigned i = 0; i < cands; i++)
        ADD("a=candidate:%u 1 udp %u 192.168.%u.%u %u typ host generation 0 network-id %u\r\n",
            (unsigned)(work_rng_next(r) >> 33), 2122260223u - i * 256, below(r, 256),
            1 + below(r, 254), 40000 + below(r, 20000), 1 + i);
    ADD("a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", ufrag, pwd);
    if (below(r, 2))
        ADD("a=ice-options:trickle\r\n");
    ADD("a=fingerprint:sha-256 %s\r\na=setup:%s\r\na=mid:0\r\na=sctp-port:5000\r\n", fp,
        answer ? "active" : "actpass");
    if (below(r, 2))
        ADD("a=max-message-size:262144\r\n");
#undef ADD
    if (n > WORK_SDP_MAX)
        return 0;
    memcpy(out, tmp, n);
    out[n] = '\0';
    return n;
}

static void sdp_make(struct work_rng *r, int answer, struct work_sdp *s)
{
    char raw[WORK_SDP_MAX + 1];
    size_t n;
    do
        n = sdp_text(r, answer, raw);
    while (n < WORK_SDP_MIN || n > WORK_SDP_MAX);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (raw[i] == '\r') {
            s->s[o++] = '\\';
            s->s[o++] = 'r';
        } else if (raw[i] == '\n') {
            s->s[o++] = '\\';
            s->s[o++] = 'n';
        } else {
            s->s[o++] = raw[i];
        }
    }
    s->len = (uint16_t)o;
    s->raw_len = (uint16_t)n;
}

int work_pool_create(struct work_pool *p, unsigned n_hashes, struct work_rng *r)
{
    p->n_hashes = n_hashes;
    p->hashes = calloc(n_hashes, sizeof *p->hashes);
    if (!p->hashes)
        return -1;
    for (unsigned i = 0; i < n_hashes; i++)
        work_id_random(r, NULL, &p->hashes[i]);
    for (unsigned i = 0; i < WORK_SDP_POOL; i++) {
        sdp_make(r, 0, &p->offer[i]);
        sdp_make(r, 1, &p->answer[i]);
    }
    for (unsigned i = 0; i < WORK_FILLER_LEN; i++)
        p->filler[i] = (char)('a' + i % 26);
    return 0;
}

void work_pool_destroy(struct work_pool *p)
{
    free(p->hashes);
    p->hashes = NULL;
}

/* ---- writers ---- */

/* An output cursor: appends fail (and stay failed) once cap would be passed. */
struct out {
    char *p;
    size_t n, cap;
    int bad;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->bad || o->n + n > o->cap) {
        o->bad = 1;
        return;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
}

#define PUTS(o, lit) put(o, lit, sizeof lit - 1)

int work_write_announce(char *buf, size_t cap, struct work_rng *r, const struct work_pool *p,
                        const struct work_id *ih, const struct work_id *peer_id, unsigned n_offers)
{
    struct out o = {buf, 0, cap, 0};
    char num[16];
    int seeder = below(r, 4) == 0;

    PUTS(&o, "{\"action\":\"announce\",\"info_hash\":\"");
    put(&o, ih->s, ih->len);
    PUTS(&o, "\",\"peer_id\":\"");
    put(&o, peer_id->s, peer_id->len);
    PUTS(&o, "\",\"numwant\":");
    put(&o, num, (size_t)snprintf(num, sizeof num, "%u", n_offers));
    PUTS(&o, ",\"uploaded\":0,\"downloaded\":0");
    if (seeder)
        PUTS(&o, ",\"left\":0,\"event\":\"completed\"");
    else
        PUTS(&o, ",\"left\":50,\"event\":\"started\"");
    if (n_offers) {
        PUTS(&o, ",\"offers\":[");
        for (unsigned i = 0; i < n_offers; i++) {
            const struct work_sdp *s = &p->offer[below(r, WORK_SDP_POOL)];
            struct work_id oid;
            work_id_random(r, NULL, &oid);
            if (i)
                PUTS(&o, ",");
            PUTS(&o, "{\"offer\":{\"type\":\"offer\",\"sdp\":\"");
            put(&o, s->s, s->len);
            PUTS(&o, "\"},\"offer_id\":\"");
            put(&o, oid.s, oid.len);
            PUTS(&o, "\"}");
        }
        PUTS(&o, "]");
    }
    PUTS(&o, "}");
    return o.bad ? -1 : (int)o.n;
}

int work_write_answer(char *buf, size_t cap, struct work_rng *r, const struct work_pool *p,
                      const char *ih, size_t ih_len, const struct work_id *peer_id,
                      const char *to_peer, size_t to_peer_len, const char *offer_id,
                      size_t offer_id_len)
{
    struct out o = {buf, 0, cap, 0};
    const struct work_sdp *s = &p->answer[below(r, WORK_SDP_POOL)];

    PUTS(&o, "{\"action\":\"announce\",\"info_hash\":\"");
    put(&o, ih, ih_len);
    PUTS(&o, "\",\"peer_id\":\"");
    put(&o, peer_id->s, peer_id->len);
    PUTS(&o, "\",\"to_peer_id\":\"");
    put(&o, to_peer, to_peer_len);
    PUTS(&o, "\",\"offer_id\":\"");
    put(&o, offer_id, offer_id_len);
    PUTS(&o, "\",\"answer\":{\"type\":\"answer\",\"sdp\":\"");
    put(&o, s->s, s->len);
    PUTS(&o, "\"}}");
    return o.bad ? -1 : (int)o.n;
}

/* The relay data tag: "R" + 8 hex digits of sender + ":" + 8 of seq + ":". */
static void put_tag(char *o, uint32_t sender, uint32_t seq)
{
    static const char hex[] = "0123456789abcdef";
    o[0] = 'R';
    for (unsigned i = 0; i < 8; i++) {
        o[1 + i] = hex[(sender >> (28 - 4 * i)) & 15];
        o[10 + i] = hex[(seq >> (28 - 4 * i)) & 15];
    }
    o[9] = ':';
    o[18] = ':';
}

int work_write_relay(char *buf, size_t cap, const struct work_pool *p, const struct work_id *ih,
                     const struct work_id *peer_id, const struct work_id *to, uint32_t sender,
                     uint32_t seq, unsigned data_bytes)
{
    struct out o = {buf, 0, cap, 0};
    char tag[WORK_DATA_TAG];

    if (data_bytes < WORK_DATA_MIN || data_bytes > WORK_DATA_MAX)
        return -1;
    PUTS(&o, "{\"action\":\"relay\",\"info_hash\":\"");
    put(&o, ih->s, ih->len);
    PUTS(&o, "\",\"peer_id\":\"");
    put(&o, peer_id->s, peer_id->len);
    if (to) {
        PUTS(&o, "\",\"to_peer_id\":\"");
        put(&o, to->s, to->len);
    }
    PUTS(&o, "\",\"data\":\"");
    put_tag(tag, sender, seq);
    put(&o, tag, WORK_DATA_TAG);
    put(&o, p->filler + seq % 26, data_bytes - WORK_DATA_TAG);
    PUTS(&o, "\"}");
    return o.bad ? -1 : (int)o.n;
}

int work_check_relay_data(const struct work_pool *p, const char *s, size_t n, unsigned data_bytes,
                          uint32_t *sender, uint32_t *seq)
{
    uint32_t v[2] = {0, 0};
    if (n != data_bytes || n < WORK_DATA_TAG || s[0] != 'R' || s[9] != ':' || s[18] != ':')
        return -1;
    for (unsigned i = 0; i < 16; i++) {
        int d = hex_digit(s[1 + i + i / 8]);
        if (d < 0)
            return -1;
        v[i / 8] = v[i / 8] << 4 | (uint32_t)d;
    }
    if (memcmp(s + WORK_DATA_TAG, p->filler + v[1] % 26, n - WORK_DATA_TAG) != 0)
        return -1;
    *sender = v[0];
    *seq = v[1];
    return 0;
}

/* ---- scanner ---- */

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p at an opening quote; returns the closing quote or NULL. A quote closes the
 * string when an even number of backslashes precede it. */
static const char *string_end(const char *p, const char *e)
{
    const char *s = p + 1;
    for (;;) {
        const char *q = memchr(s, '"', (size_t)(e - s));
        if (!q)
            return NULL;
        size_t bs = 0;
        while (q - bs > p + 1 && q[-1 - (ptrdiff_t)bs] == '\\')
            bs++;
        if (!(bs & 1))
            return q;
        s = q + 1;
    }
}

/* p at a value; returns the first char after it, or NULL. */
static const char *value_end(const char *p, const char *e)
{
    if (*p == '"') {
        const char *q = string_end(p, e);
        return q ? q + 1 : NULL;
    }
    if (*p == '{' || *p == '[') {
        int depth = 0;
        for (; p < e; p++) {
            if (*p == '"') {
                p = string_end(p, e);
                if (!p)
                    return NULL;
            } else if (*p == '{' || *p == '[') {
                depth++;
            } else if (*p == '}' || *p == ']') {
                if (--depth == 0)
                    return p + 1;
            }
        }
        return NULL;
    }
    while (p < e && *p != ',' && *p != '}' && *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t')
        p++;
    return p;
}

static int key_is(const char *k, size_t kl, const char *lit)
{
    return strlen(lit) == kl && !memcmp(k, lit, kl);
}

int work_scan(const char *p, size_t n, struct work_msg *m)
{
    const char *e = p + n;
    memset(m, 0, sizeof *m);
    p = skip_ws(p, e);
    if (p >= e || *p != '{')
        return -1;
    p = skip_ws(p + 1, e);
    if (p < e && *p == '}')
        return 0;
    while (p < e) {
        if (*p != '"')
            return -1;
        const char *kq = string_end(p, e);
        if (!kq)
            return -1;
        const char *k = p + 1;
        size_t kl = (size_t)(kq - k);
        p = skip_ws(kq + 1, e);
        if (p >= e || *p != ':')
            return -1;
        p = skip_ws(p + 1, e);
        if (p >= e)
            return -1;
        const char *v = p;
        const char *ve = value_end(p, e);
        if (!ve)
            return -1;
        struct work_span sp = {v, (size_t)(ve - v)};
        if (*v == '"') {
            sp.p = v + 1;
            sp.len = (size_t)(ve - v) - 2;
        }
        if (key_is(k, kl, "action"))
            m->action = sp;
        else if (key_is(k, kl, "info_hash"))
            m->info_hash = sp;
        else if (key_is(k, kl, "peer_id"))
            m->peer_id = sp;
        else if (key_is(k, kl, "offer_id"))
            m->offer_id = sp;
        else if (key_is(k, kl, "offer"))
            m->offer = sp;
        else if (key_is(k, kl, "answer"))
            m->answer = sp;
        else if (key_is(k, kl, "failure reason"))
            m->failure = sp;
        else if (key_is(k, kl, "interval"))
            m->interval = sp;
        else if (key_is(k, kl, "complete"))
            m->complete = sp;
        else if (key_is(k, kl, "data"))
            m->data = sp;
        p = skip_ws(ve, e);
        if (p >= e)
            return -1;
        if (*p == '}')
            return 0;
        if (*p != ',')
            return -1;
        p = skip_ws(p + 1, e);
    }
    return -1;
}
