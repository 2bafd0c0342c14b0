/* selftest.c - loadgen --self-test: checks of its own parts, without a server.
 *
 * Owns:   nothing.
 * Thread: main.
 * Why:    a load generator that miscounts or mis-frames makes every figure wrong;
 *         bench/smoke.sh runs these before the smoke run.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hist.h"
#include "relay.h"
#include "selftest.h"
#include "work.h"
#include "ws.h"

static int failures;

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "self-test: %s:%d: ", __FILE__, __LINE__);                             \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
        }                                                                                          \
    } while (0)

static void test_accept(void)
{
    /* RFC 6455 section 1.3's example. */
    char acc[WS_ACCEPT_LEN + 1];
    ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", acc);
    EXPECT(!strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "accept value %s", acc);
    const char *ok =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    const char *why = NULL;
    EXPECT(ws_check_upgrade(ok, strlen(ok), "dGhlIHNhbXBsZSBub25jZQ==", &why) == 0, "101 refused");
    const char *bad =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Accept: xxxxLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    EXPECT(ws_check_upgrade(bad, strlen(bad), "dGhlIHNhbXBsZSBub25jZQ==", &why) != 0,
           "bad accept taken");
}

static void test_frames(void)
{
    /* Unmasked server frames: "Hel" (text, not FIN) + "lo" (continuation, FIN), with a
     * ping between them (RFC 6455 5.7's fragmented example plus a control frame). */
    const uint8_t in[] = {0x01, 0x03, 'H', 'e', 'l', 0x89, 0x00, 0x80, 0x02, 'l', 'o'};
    struct ws_frame f;
    size_t off = 0;
    EXPECT(ws_parse_frame(in, sizeof in, 1 << 20, &f) == WS_PARSE_OK && !f.fin &&
               f.opcode == WS_OP_TEXT && f.len == 3,
           "first fragment");
    off += f.hdr_len + f.len;
    EXPECT(ws_parse_frame(in + off, sizeof in - off, 1 << 20, &f) == WS_PARSE_OK && f.fin &&
               f.opcode == WS_OP_PING && f.len == 0,
           "ping");
    off += f.hdr_len + f.len;
    EXPECT(ws_parse_frame(in + off, sizeof in - off, 1 << 20, &f) == WS_PARSE_OK && f.fin &&
               f.opcode == WS_OP_CONT && f.len == 2,
           "continuation");
    EXPECT(ws_parse_frame(in + off, 3, 1 << 20, &f) == WS_PARSE_MORE && f.hdr_len == 2,
           "partial frame");
    const uint8_t masked[] = {0x81, 0x81, 1, 2, 3, 4, 'x'};
    EXPECT(ws_parse_frame(masked, sizeof masked, 1 << 20, &f) == WS_PARSE_ERROR,
           "masked server frame taken");
    const uint8_t long_ping[] = {0x89, 126, 0, 200};
    EXPECT(ws_parse_frame(long_ping, sizeof long_ping, 1 << 20, &f) == WS_PARSE_ERROR,
           "126-byte ping taken");
    const uint8_t len16[] = {0x81, 126, 0x01, 0x00};
    EXPECT(ws_parse_frame(len16, sizeof len16, 1 << 20, &f) == WS_PARSE_MORE && f.len == 256 &&
               f.hdr_len == 4,
           "16-bit length");

    /* A masked client frame unmasks back to its payload (RFC 6455 5.7's "Hello"). */
    uint8_t hdr[WS_HDR_MAX], pl[5] = {'H', 'e', 'l', 'l', 'o'};
    size_t hl = ws_write_header(hdr, WS_OP_TEXT, 5, 0x37fa213d);
    ws_mask(pl, 5, 0x37fa213d);
    const uint8_t want[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    EXPECT(hl == 6 && !memcmp(hdr, want, 6) && !memcmp(pl, want + 6, 5), "masked Hello");
    EXPECT(ws_write_header(hdr, WS_OP_TEXT, 300, 0) == 8 && hdr[1] == (0x80 | 126), "len 300");
    EXPECT(ws_write_header(hdr, WS_OP_TEXT, 70000, 0) == 14 && hdr[1] == (0x80 | 127), "len 70000");
}

static void test_hist(void)
{
    static struct hist h;
    memset(&h, 0, sizeof h);
    for (uint64_t v = 1; v <= 100000; v++)
        hist_add(&h, v * 1000); /* 1 us .. 100 ms, uniform */
    double p50 = (double)hist_quantile(&h, 0.5), p99 = (double)hist_quantile(&h, 0.99);
    EXPECT(fabs(p50 - 50e6) / 50e6 < 0.01, "p50 %.0f", p50);
    EXPECT(fabs(p99 - 99e6) / 99e6 < 0.01, "p99 %.0f", p99);
    EXPECT(hist_quantile(&h, 1.0) == 100000000ull, "max");
    struct hist one = {0};
    hist_add(&one, 7);
    EXPECT(hist_quantile(&one, 0.5) == 7, "exact small values");
}

static void test_workload(void)
{
    struct work_rng r;
    work_rng_init(&r, 42, 0);
    unsigned zero = 0, last = 0, n = 200000;
    for (unsigned i = 0; i < n; i++) {
        unsigned k = work_pick_hash(&r, 10000);
        zero += k == 0;
        last += k == 9999;
    }
    /* aquatic_ws_load_test's Gamma(0.2, 100) rule: 43.4 % at index 0, 5.2 % at 9999. */
    EXPECT(fabs(100.0 * zero / n - 43.4) < 1.0, "index 0: %.1f %%", 100.0 * zero / n);
    EXPECT(fabs(100.0 * last / n - 5.2) < 0.7, "index 9999: %.1f %%", 100.0 * last / n);

    /* Ids: every byte value encodes as JSON.stringify would. */
    struct work_id id;
    work_id_random(&r, "-LG0001-", &id);
    EXPECT(!memcmp(id.s, "-LG0001-", 8), "peer_id prefix");

    static struct work_pool p;
    EXPECT(work_pool_create(&p, 16, &r) == 0, "pool");
    for (unsigned i = 0; i < WORK_SDP_POOL; i++)
        EXPECT(p.offer[i].raw_len >= WORK_SDP_MIN && p.offer[i].raw_len <= WORK_SDP_MAX &&
                   p.answer[i].raw_len >= WORK_SDP_MIN && p.answer[i].raw_len <= WORK_SDP_MAX,
               "sdp length %u", p.offer[i].raw_len);

    char buf[16384];
    int len = work_write_announce(buf, sizeof buf, &r, &p, &p.hashes[0], &id, 5);
    struct work_msg m;
    EXPECT(len > 0 && work_scan(buf, (size_t)len, &m) == 0 && m.action.len == 8 &&
               m.info_hash.len == p.hashes[0].len && m.peer_id.len == id.len,
           "announce scans back");
    EXPECT(len > 5 * WORK_SDP_MIN, "announce carries 5 SDPs (%d bytes)", len);

    const char *offer = "{\"action\":\"announce\",\"info_hash\":\"\\u0000a\\\"b\",\"peer_id\":"
                        "\"\\u00ff\xc3\xbf\",\"offer_id\":\"x\\\\\",\"offer\":{\"type\":\"offer\","
                        "\"sdp\":\"v=0\\r\\n}\"}}";
    EXPECT(work_scan(offer, strlen(offer), &m) == 0 && m.offer.p && m.offer_id.len == 3 &&
               m.info_hash.len == 10 && !m.failure.p,
           "offer scan");
    len = work_write_answer(buf, sizeof buf, &r, &p, m.info_hash.p, m.info_hash.len, &id,
                            m.peer_id.p, m.peer_id.len, m.offer_id.p, m.offer_id.len);
    struct work_msg a;
    EXPECT(len > 0 && work_scan(buf, (size_t)len, &a) == 0 && a.answer.p && a.offer_id.len == 3 &&
               !memcmp(a.offer_id.p, "x\\\\", 3),
           "answer echoes the ids");
    const char *fail = "{\"action\":\"announce\",\"failure reason\":\"invalid peer_id\"}";
    EXPECT(work_scan(fail, strlen(fail), &m) == 0 && m.failure.len == 15, "failure scan");
    EXPECT(work_scan("[1]", 3, &m) != 0, "non-object refused");
    work_pool_destroy(&p);
}

/* Relays: the writer's message scans back, its data checks, ids decode, and the
 * book frees a slot on the last member's frame or on expiry. */
static void test_relay(void)
{
    struct work_rng r;
    work_rng_init(&r, 7, 0);
    static struct work_pool p;
    EXPECT(work_pool_create(&p, 2, &r) == 0, "pool");
    struct work_id a, b;
    work_id_random(&r, "-LG0001-", &a);
    work_id_random(&r, "-LG0001-", &b);
    uint8_t raw[WORK_ID_LEN];
    EXPECT(work_id_decode(a.s, a.len, raw) == 0 && !memcmp(raw, a.raw, WORK_ID_LEN),
           "peer_id decodes to its bytes");
    for (unsigned i = 0; i < 2; i++)
        EXPECT(work_id_decode(p.hashes[i].s, p.hashes[i].len, raw) == 0 &&
                   !memcmp(raw, p.hashes[i].raw, WORK_ID_LEN),
               "info_hash %u decodes to its bytes", i);
    const char *esc = "\\u0000\\u001f\\\"\\\\\\/\\b\\f\\n\\r\\t\x7f\xc2\x80\xc3\xbf"
                      "\\u00ffabcde";
    static const uint8_t esc_raw[WORK_ID_LEN] = {0,    0x1f, '"',  '\\', '/',  '\b', '\f',
                                                 '\n', '\r', '\t', 0x7f, 0x80, 0xff, 0xff,
                                                 'a',  'b',  'c',  'd',  'e'};
    EXPECT(work_id_decode(esc, strlen(esc), raw) != 0, "19 code points are not an id");
    char esc20[128];
    snprintf(esc20, sizeof esc20, "%sf", esc);
    uint8_t want[WORK_ID_LEN];
    memcpy(want, esc_raw, WORK_ID_LEN - 1);
    want[WORK_ID_LEN - 1] = 'f';
    EXPECT(work_id_decode(esc20, strlen(esc20), raw) == 0 && !memcmp(raw, want, WORK_ID_LEN),
           "escapes decode");
    EXPECT(work_id_decode("\\u0100aaaaaaaaaaaaaaaaaaa", 25, raw) != 0, "U+0100 refused");

    char buf[4096];
    uint32_t from = 0, seq = 0;
    struct work_msg m;
    int len = work_write_relay(buf, sizeof buf, &p, &p.hashes[1], &a, &b, 1234, 77, 100);
    EXPECT(len > 0 && work_scan(buf, (size_t)len, &m) == 0 && m.action.len == 5 &&
               m.data.len == 100 && m.info_hash.len == p.hashes[1].len,
           "directed relay scans back");
    EXPECT(strstr(buf, "\"to_peer_id\":") != NULL, "directed relay names its recipient");
    EXPECT(work_check_relay_data(&p, m.data.p, m.data.len, 100, &from, &seq) == 0 && from == 1234 &&
               seq == 77,
           "relay data checks (%u, %u)", from, seq);
    EXPECT(work_check_relay_data(&p, m.data.p, m.data.len, 101, &from, &seq) != 0,
           "wrong data length taken");
    ((char *)m.data.p)[50] ^= 1;
    EXPECT(work_check_relay_data(&p, m.data.p, m.data.len, 100, &from, &seq) != 0,
           "corrupt data taken");
    len = work_write_relay(buf, sizeof buf, &p, &p.hashes[0], &a, NULL, 1, 2, 1000);
    EXPECT(len > 1000 && work_scan(buf, (size_t)len, &m) == 0 && m.data.len == 1000 &&
               !strstr(buf, "to_peer_id") &&
               work_check_relay_data(&p, m.data.p, m.data.len, 1000, &from, &seq) == 0,
           "broadcast relay");
    EXPECT(work_write_relay(buf, 200, &p, &p.hashes[0], &a, NULL, 1, 2, 1000) < 0,
           "short buffer refused");

    struct relay_book bk;
    uint64_t lat = 0, missing = 0;
    EXPECT(relay_book_init(&bk, 3, 2, 70) == 0, "book");
    int64_t s0 = relay_book_start(&bk, 1, 2, 100), s1 = relay_book_start(&bk, 1, 2, 200);
    EXPECT(s0 == 0 && s1 == 1 && relay_book_start(&bk, 1, 2, 300) < 0, "window of 2");
    EXPECT(relay_book_arrive(&bk, 1, 1, 65, 250, &lat) == RELAY_PART, "first frame");
    EXPECT(relay_book_arrive(&bk, 1, 1, 65, 260, &lat) == RELAY_DUP, "duplicate frame");
    EXPECT(relay_book_arrive(&bk, 1, 1, 3, 270, &lat) == RELAY_DONE && lat == 70, "last frame");
    EXPECT(relay_book_arrive(&bk, 1, 1, 4, 280, &lat) == RELAY_LATE, "frame after done");
    EXPECT(relay_book_start(&bk, 1, 2, 300) == 2, "slot reused");
    EXPECT(relay_book_expire(&bk, 1, 250, &missing) == 1 && missing == 2 && bk.inflight[1] == 1,
           "expiry frees the old relay only");
    EXPECT(relay_book_arrive(&bk, 1, 0, 3, 400, &lat) == RELAY_LATE, "frame of an expired relay");
    relay_book_free(&bk);
    work_pool_destroy(&p);
}

int selftest_run(void)
{
    failures = 0;
    test_accept();
    test_frames();
    test_hist();
    test_workload();
    test_relay();
    printf("self-test: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
