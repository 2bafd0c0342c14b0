/* test_request.c - unit tests of tracker/swarm/request.c: the right replies and forwards.
 *
 * Owns:   two struct swarm (two workers) and a few struct swarm_conn, driven
 *         with real JSON messages; what each call wrote into its outbox is
 *         checked byte for byte: which connection gets which frame, and which
 *         worker gets which mail.
 * Why:    issue 10: the fuzz target checks that replies parse and the shard
 *         stays whole; this checks that they are the right replies, in the
 *         right order, to the right connections.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "swarm.h"

#define IH_LEN 20

static struct route route;
static struct swarm sw[2];
static struct stats stats[2];
static struct swarm_conn c1, c2, c3;
static const int64_t now = 5000000;

static const struct swarm_limits lim = {
    .shard = {.max_peers_per_swarm = 10,
              .max_offers = 5,
              .peer_timeout_ms = 120000,
              .max_peers = 100,
              .max_swarms = 100},
    .interval = 120,
    .max_torrents_per_conn = 10,
    .max_peer_ids_per_swarm = 2,
    .max_scrape_hashes = 8,
    .full_scrape_max = 4096,
    .no_full_scrape = false,
    .relay = true,
    .relay_max_bytes = 64,
    /* 1000 bytes/s, burst 4000 ms: one recipient of 64 bytes of data costs
     * 192 ms (64 + SWARM_RELAY_OVERHEAD bytes). */
    .relay_rate = {.bytes_per_s = 1000, .burst_ms = RATE_BURST_S * 1000},
};

static int setup(void **state)
{
    (void)state;
    route_create(&route, 2);
    memset(stats, 0, sizeof stats);
    swarm_create(&sw[0], 0, &route, &lim, &stats[0], 1);
    swarm_create(&sw[1], 1, &route, &lim, &stats[1], 2);
    memset(&c1, 0, sizeof c1);
    memset(&c2, 0, sizeof c2);
    memset(&c3, 0, sizeof c3);
    c1.ref = route_conn_make(0, 1, 1);
    c2.ref = route_conn_make(0, 2, 1);
    c3.ref = route_conn_make(1, 3, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    swarm_destroy(&sw[0]);
    swarm_destroy(&sw[1]);
    return 0;
}

/* A 20-character info hash whose swarm worker `owner` holds. */
static void hash_owned_by(unsigned owner, char ih[IH_LEN + 1])
{
    for (unsigned k = 0; k < 1000; k++) {
        snprintf(ih, IH_LEN + 1, "ih%018u", k);
        if (route_owner(&route, (const uint8_t *)ih) == owner)
            return;
    }
    fail_msg("no info hash owned by worker %u in 1000 tries", owner);
}

static void send_msg(unsigned w, struct swarm_conn *c, const char *msg, struct outbox *ob)
{
    memset(ob, 0, sizeof *ob);
    swarm_message(&sw[w], c, msg, strlen(msg), true, now, ob);
}

/* The next item of the outbox must be a frame for conn with exactly this text. */
static void expect_frame(struct outbox *ob, uint64_t conn, const char *text, bool droppable)
{
    struct mail *m = mail_queue_pop(&ob->q);
    struct frame *f = (struct frame *)m;
    assert_non_null(m);
    assert_int_equal(m->kind, MAIL_FRAME);
    assert_int_equal(f->conn, conn);
    assert_int_equal(f->droppable, droppable);
    if (f->len != strlen(text) || memcmp(frame_payload(f), text, f->len) != 0)
        fail_msg("frame  %.*s\nwanted %s", (int)f->len, frame_payload(f), text);
    mail_free(m);
}

static void expect_empty(struct outbox *ob)
{
    struct mail *m = mail_queue_pop(&ob->q);
    if (m) {
        if (m->kind == MAIL_FRAME)
            fail_msg("unexpected frame %.*s", (int)((struct frame *)m)->len,
                     frame_payload((struct frame *)m));
        fail_msg("unexpected mail of kind %u", m->kind);
    }
    assert_int_equal(ob->close, 0);
}

/* Announce, offer, answer: the three messages of a WebRTC connection between
 * two peers of one swarm, each frame checked. */
static void test_offer_answer(void **state)
{
    char ih[IH_LEN + 1], msg[512], want[512];
    struct outbox ob;
    (void)state;
    hash_owned_by(0, ih);

    snprintf(msg, sizeof msg,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"peer-one-0000000000a\","
             "\"left\":1,\"numwant\":0}",
             ih);
    send_msg(0, &c1, msg, &ob);
    snprintf(want, sizeof want,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"complete\":0,\"incomplete\":1,"
             "\"interval\":120}",
             ih);
    expect_frame(&ob, c1.ref, want, false);
    expect_empty(&ob);

    /* The second peer, a seeder, offers: one offer reaches the one other
     * peer, byte for byte; the second offer has no one left to go to. */
    snprintf(
        msg, sizeof msg,
        "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"peer-two-0000000000b\","
        "\"left\":0,\"numwant\":2,\"offers\":["
        "{\"offer_id\":\"offer-id-00000000001\",\"offer\":{\"type\":\"offer\",\"sdp\":\"v=0 1\"}},"
        "{\"offer_id\":\"offer-id-00000000002\",\"offer\":{\"type\":\"offer\",\"sdp\":\"v=0 "
        "2\"}}]}",
        ih);
    send_msg(0, &c2, msg, &ob);
    snprintf(want, sizeof want,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"complete\":1,\"incomplete\":1,"
             "\"interval\":120}",
             ih);
    expect_frame(&ob, c2.ref, want, false);
    snprintf(
        want, sizeof want,
        "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"peer-two-0000000000b\","
        "\"offer_id\":\"offer-id-00000000001\",\"offer\":{\"type\":\"offer\",\"sdp\":\"v=0 1\"}}",
        ih);
    expect_frame(&ob, c1.ref, want, true); /* an offer may be dropped under pressure */
    expect_empty(&ob);

    /* The first peer answers: the answer goes to the offerer only, and the
     * answering announce gets no response of its own. */
    snprintf(msg, sizeof msg,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"peer-one-0000000000a\","
             "\"to_peer_id\":\"peer-two-0000000000b\",\"offer_id\":\"offer-id-00000000001\","
             "\"answer\":{\"type\":\"answer\",\"sdp\":\"v=0 a\"}}",
             ih);
    send_msg(0, &c1, msg, &ob);
    snprintf(
        want, sizeof want,
        "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"peer-one-0000000000a\","
        "\"offer_id\":\"offer-id-00000000001\",\"answer\":{\"type\":\"answer\",\"sdp\":\"v=0 a\"}}",
        ih);
    expect_frame(&ob, c2.ref, want, false); /* an answer is never dropped */
    expect_empty(&ob);
    assert_int_equal(atomic_load(&stats[0].v[STATS_OFFERS_FORWARDED]), 1);
    assert_int_equal(atomic_load(&stats[0].v[STATS_ANSWERS_FORWARDED]), 1);

    /* A scrape of that swarm and of an unknown one: the exact counts. */
    snprintf(msg, sizeof msg, "{\"action\":\"scrape\",\"info_hash\":[\"%s\"]}", ih);
    send_msg(0, &c1, msg, &ob);
    snprintf(want, sizeof want,
             "{\"action\":\"scrape\",\"files\":{\"%s\":{\"complete\":1,\"incomplete\":1,"
             "\"downloaded\":0}},\"flags\":{\"min_request_interval\":120}}",
             ih);
    expect_frame(&ob, c1.ref, want, false);
    expect_empty(&ob);
    assert_int_equal(c1.scrapes, 1); /* until the reply reaches the connection */
}

/* The latency histograms' stamps (/metrics): every item of an outbox carries
 * its born_ns, a mail carries it to the owner, and the frames it leads to
 * there carry it on; replies and forwards are marked with their kind, failure
 * replies are not timed. The requests are counted by kind. */
static void test_timed_frames(void **state)
{
    char ih[IH_LEN + 1], msg[512];
    struct outbox ob, ob2;
    struct mail *m;
    struct frame *f;
    (void)state;
    hash_owned_by(1, ih);

    /* c1 (worker 0) announces into worker 1's swarm: mailed, stamped */
    memset(&ob, 0, sizeof ob);
    ob.born_ns = 1111;
    snprintf(msg, sizeof msg,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"peer-one-0000000000a\","
             "\"left\":1,\"numwant\":0}",
             ih);
    swarm_message(&sw[0], &c1, msg, strlen(msg), true, now, &ob);
    m = mail_queue_pop(&ob.q);
    assert_non_null(m);
    assert_int_equal(m->kind, MAIL_ANNOUNCE);
    assert_int_equal(m->born_ns, 1111);
    expect_empty(&ob);
    memset(&ob2, 0, sizeof ob2);
    ob2.born_ns = m->born_ns; /* as worker_drain does */
    swarm_mail(&sw[1], m, now, &ob2);
    f = (struct frame *)mail_queue_pop(&ob2.q);
    assert_non_null(f);
    assert_int_equal(f->m.kind, MAIL_FRAME);
    assert_int_equal(f->conn, c1.ref);
    assert_int_equal(f->timed, 1 + STATS_KIND_ANNOUNCE);
    assert_int_equal(f->m.born_ns, 1111);
    mail_free(&f->m);
    expect_empty(&ob2);

    /* c3 (worker 1) offers in its own worker's swarm: its reply and the
     * forward to c1 carry its stamp */
    memset(&ob, 0, sizeof ob);
    ob.born_ns = 2222;
    snprintf(
        msg, sizeof msg,
        "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"peer-two-0000000000b\","
        "\"left\":1,\"numwant\":1,\"offers\":["
        "{\"offer_id\":\"offer-id-00000000001\",\"offer\":{\"type\":\"offer\",\"sdp\":\"v=0\"}}]}",
        ih);
    swarm_message(&sw[1], &c3, msg, strlen(msg), true, now, &ob);
    for (int k = 0; k < 2; k++) {
        f = (struct frame *)mail_queue_pop(&ob.q);
        assert_non_null(f);
        assert_int_equal(f->m.born_ns, 2222);
        assert_int_equal(f->timed,
                         f->conn == c3.ref ? 1 + STATS_KIND_ANNOUNCE : 1 + STATS_KIND_OFFER);
        mail_free(&f->m);
    }
    expect_empty(&ob);

    /* a failure reply is not timed; it is counted as an invalid request */
    memset(&ob, 0, sizeof ob);
    ob.born_ns = 3333;
    snprintf(msg, sizeof msg, "{\"action\":\"bogus\"}");
    swarm_message(&sw[1], &c3, msg, strlen(msg), true, now, &ob);
    f = (struct frame *)mail_queue_pop(&ob.q);
    assert_non_null(f);
    assert_int_equal(f->timed, 0);
    mail_free(&f->m);
    expect_empty(&ob);

    assert_int_equal(atomic_load(&stats[0].v[STATS_REQ_ANNOUNCE]), 1);
    assert_int_equal(atomic_load(&stats[1].v[STATS_REQ_OFFER]), 1);
    assert_int_equal(atomic_load(&stats[1].v[STATS_REQ_INVALID]), 1);
    assert_int_equal(atomic_load(&stats[1].v[STATS_RESP_ANNOUNCE]), 2);
    assert_int_equal(atomic_load(&stats[1].v[STATS_OFFERS_FORWARDED]), 1);
}

static void send_at(unsigned w, struct swarm_conn *c, const char *msg, int64_t t, struct outbox *ob)
{
    memset(ob, 0, sizeof *ob);
    swarm_message(&sw[w], c, msg, strlen(msg), true, t, ob);
}

static void drop_all(struct outbox *ob)
{
    struct mail *m;
    while ((m = mail_queue_pop(&ob->q)) != NULL)
        mail_free(m);
}

/* Rooms (PROTOCOL.md 10): the peer list, freshest first, only for members;
 * directed offers to members only; expired peers are in neither. */
static void test_room_list_and_directed(void **state)
{
    static const char *const pid[4] = {"room-peer-aaaaaaaaaa", "room-peer-bbbbbbbbbb",
                                       "room-peer-cccccccccc", "room-peer-dddddddddd"};
    struct swarm_conn c[4];
    char ih[IH_LEN + 1], msg[768], want[768];
    struct outbox ob;
    (void)state;
    hash_owned_by(0, ih);
    for (unsigned k = 0; k < 3; k++) {
        memset(&c[k], 0, sizeof c[k]);
        c[k].ref = route_conn_make(0, 10 + k, 1);
        snprintf(msg, sizeof msg,
                 "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"%s\",\"left\":1}", ih,
                 pid[k]);
        send_at(0, &c[k], msg, now + (int64_t)k * 2500, &ob); /* a at 0 s, b at 2.5 s, c at 5 s */
        drop_all(&ob);
    }
    memset(&c[3], 0, sizeof c[3]);
    c[3].ref = route_conn_make(0, 13, 1);

    /* d joins at 7 s asking for 2: c (2 s old) then b (4.5 s, whole seconds: 4). */
    snprintf(msg, sizeof msg,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"%s\",\"left\":1,"
             "\"peers\":2}",
             ih, pid[3]);
    send_at(0, &c[3], msg, now + 7000, &ob);
    snprintf(want, sizeof want,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"complete\":0,\"incomplete\":4,"
             "\"interval\":120,\"peers\":[{\"peer_id\":\"%s\",\"age\":2},{\"peer_id\":\"%s\","
             "\"age\":4}]}",
             ih, pid[2], pid[1]);
    expect_frame(&ob, c[3].ref, want, false);
    expect_empty(&ob);

    /* Asking for more than there are: the three others, never d itself. */
    snprintf(msg, sizeof msg,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"%s\",\"peers\":50}", ih,
             pid[3]);
    send_at(0, &c[3], msg, now + 8000, &ob);
    snprintf(want, sizeof want,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"complete\":0,\"incomplete\":4,"
             "\"interval\":120,\"peers\":[{\"peer_id\":\"%s\",\"age\":3},{\"peer_id\":\"%s\","
             "\"age\":5},{\"peer_id\":\"%s\",\"age\":8}]}",
             ih, pid[2], pid[1], pid[0]);
    expect_frame(&ob, c[3].ref, want, false);
    expect_empty(&ob);

    /* Directed offers: to a, and to an id that is not in the room. */
    snprintf(msg, sizeof msg,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"%s\",\"offers\":["
             "{\"offer_id\":\"offer-id-00000000001\",\"offer\":{\"sdp\":\"to-a\"},\"to_peer_id\":"
             "\"%s\"},"
             "{\"offer_id\":\"offer-id-00000000002\",\"offer\":{\"sdp\":\"to-x\"},"
             "\"to_peer_id\":\"not-a-member-xxxxxxx\"}]}",
             ih, pid[3], pid[0]);
    send_at(0, &c[3], msg, now + 9000, &ob);
    snprintf(want, sizeof want,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"complete\":0,\"incomplete\":4,"
             "\"interval\":120,\"warning message\":\"peer not in room\"}",
             ih);
    expect_frame(&ob, c[3].ref, want, false);
    snprintf(want, sizeof want,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"%s\","
             "\"offer_id\":\"offer-id-00000000001\",\"offer\":{\"sdp\":\"to-a\"}}",
             ih, pid[3]);
    expect_frame(&ob, c[0].ref, want, true);
    expect_empty(&ob);
    assert_int_equal(atomic_load(&stats[0].v[STATS_OFFERS_NOT_IN_ROOM]), 1);

    /* stopped: no list, even when asked. */
    snprintf(msg, sizeof msg,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"%s\",\"event\":"
             "\"stopped\",\"peers\":5}",
             ih, pid[1]);
    send_at(0, &c[1], msg, now + 9000, &ob);
    snprintf(want, sizeof want,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"complete\":0,\"incomplete\":3,"
             "\"interval\":120}",
             ih);
    expect_frame(&ob, c[1].ref, want, false);
    expect_empty(&ob);

    /* 130 s after d's last announce the others have expired (peer timeout
     * 120 s): d's list is empty and a directed offer to a goes nowhere. */
    snprintf(
        msg, sizeof msg,
        "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"%s\",\"peers\":5,"
        "\"offers\":[{\"offer_id\":\"offer-id-00000000003\",\"offer\":1,\"to_peer_id\":\"%s\"}]}",
        ih, pid[3], pid[0]);
    send_at(0, &c[3], msg, now + 139000, &ob);
    snprintf(want, sizeof want,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"complete\":0,\"incomplete\":1,"
             "\"interval\":120,\"peers\":[],\"warning message\":\"peer not in room\"}",
             ih);
    expect_frame(&ob, c[3].ref, want, false);
    expect_empty(&ob);
    for (unsigned k = 0; k < 4; k++) {
        memset(&ob, 0, sizeof ob);
        swarm_conn_closed(&sw[0], &c[k], now + 139000, &ob);
        expect_empty(&ob);
    }
}

/* "turn": true (PROTOCOL.md 10): the response carries TURN credentials for the
 * sender's peer_id, valid until wall_s + turn_ttl; the credential was computed
 * with Python's hmac (an independent implementation). Without TURN configured,
 * or for "stopped", none. */
static void test_turn_in_announce(void **state)
{
    struct swarm_limits tl = lim;
    struct swarm st;
    struct stats sst;
    char ih[IH_LEN + 1], msg[512], want[1024];
    struct outbox ob;
    (void)state;
    tl.turn_secret = "north";
    tl.turn_urls[0] = "turn:127.0.0.1:3478";
    tl.n_turn_urls = 1;
    tl.turn_ttl = 600;
    memset(&sst, 0, sizeof sst);
    route.n_workers = 1; /* one worker owns every swarm */
    swarm_create(&st, 0, &route, &tl, &sst, 3);
    st.wall_s = 1700000000;
    snprintf(ih, sizeof ih, "ih-turn-000000000000");
    snprintf(msg, sizeof msg,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"peer-one-0000000000a\","
             "\"turn\":true}",
             ih);
    memset(&ob, 0, sizeof ob);
    swarm_message(&st, &c1, msg, strlen(msg), true, now, &ob);
    snprintf(want, sizeof want,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"complete\":0,\"incomplete\":1,"
             "\"interval\":120,\"ice_servers\":[{\"urls\":[\"turn:127.0.0.1:3478\"],\"username\":"
             "\"1700000600:706565722d6f6e652d3030303030303030303061\",\"credential\":"
             "\"TwI1GBNmAisyKrulbhSp07w+NvE=\"}]}",
             ih);
    expect_frame(&ob, c1.ref, want, false);
    expect_empty(&ob);
    /* "turn" other than true is ignored. */
    snprintf(msg, sizeof msg,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"peer-one-0000000000a\","
             "\"turn\":1}",
             ih);
    memset(&ob, 0, sizeof ob);
    swarm_message(&st, &c1, msg, strlen(msg), true, now, &ob);
    snprintf(want, sizeof want,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"complete\":0,\"incomplete\":1,"
             "\"interval\":120}",
             ih);
    expect_frame(&ob, c1.ref, want, false);
    expect_empty(&ob);
    memset(&ob, 0, sizeof ob);
    swarm_conn_closed(&st, &c1, now, &ob);
    expect_empty(&ob);
    swarm_destroy(&st);
    route.n_workers = 2;

    /* sw[0] has no TURN configured: no ice_servers. */
    hash_owned_by(0, ih);
    snprintf(msg, sizeof msg,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"peer-one-0000000000a\","
             "\"turn\":true}",
             ih);
    send_msg(0, &c2, msg, &ob);
    snprintf(want, sizeof want,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"complete\":0,\"incomplete\":1,"
             "\"interval\":120}",
             ih);
    expect_frame(&ob, c2.ref, want, false);
    expect_empty(&ob);
}

/* Bad offer entries cost only themselves: the peer is registered, the valid
 * entry goes out, the response warns and the skipped ones are counted. */
static void test_bad_offer_entries(void **state)
{
    char ih[IH_LEN + 1], msg[512], want[512];
    struct outbox ob;
    struct mail *m;
    (void)state;
    hash_owned_by(0, ih);
    snprintf(msg, sizeof msg,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"peer-one-0000000000a\"}",
             ih);
    send_msg(0, &c1, msg, &ob);
    while ((m = mail_queue_pop(&ob.q)) != NULL)
        mail_free(m);
    snprintf(msg, sizeof msg,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"peer-two-0000000000b\","
             "\"offers\":[7,{\"fake_offer\":1,\"offer_id\":\"offer-id-00000000009\"},"
             "{\"offer_id\":\"offer-id-00000000001\",\"offer\":{\"sdp\":\"v\"}},"
             "{\"offer\":1,\"offer_id\":\"short\"}]}",
             ih);
    send_msg(0, &c2, msg, &ob);
    snprintf(want, sizeof want,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"complete\":0,\"incomplete\":2,"
             "\"interval\":120,\"warning message\":\"invalid offer skipped\"}",
             ih);
    expect_frame(&ob, c2.ref, want, false);
    snprintf(want, sizeof want,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"peer-two-0000000000b\","
             "\"offer_id\":\"offer-id-00000000001\",\"offer\":{\"sdp\":\"v\"}}",
             ih);
    expect_frame(&ob, c1.ref, want, true);
    expect_empty(&ob);
    assert_int_equal(sw[0].shard.counts.peers, 2);
    assert_int_equal(atomic_load(&stats[0].v[STATS_OFFERS_INVALID]), 3);
}

/* An announce for another worker's swarm: no frame, one mail to its owner
 * carrying its own copy of the message; there it is applied and the response
 * is addressed to the connection on the first worker. */
static void test_announce_for_other_worker(void **state)
{
    char ih[IH_LEN + 1], msg[512], want[512];
    struct outbox ob, ob2;
    struct mail *m;
    (void)state;
    hash_owned_by(1, ih);
    snprintf(msg, sizeof msg,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"peer-one-0000000000a\","
             "\"left\":1}",
             ih);
    send_msg(0, &c1, msg, &ob);
    memset(msg, 'x', strlen(msg)); /* the mail must not point into the message */
    m = mail_queue_pop(&ob.q);
    assert_non_null(m);
    assert_int_equal(m->kind, MAIL_ANNOUNCE);
    assert_int_equal(m->dest, 1);
    expect_empty(&ob);
    assert_int_equal(sw[0].shard.counts.peers, 0);
    assert_int_equal(c1.n_regs, 1); /* registered where the connection is */

    memset(&ob2, 0, sizeof ob2);
    swarm_mail(&sw[1], m, now, &ob2);
    assert_int_equal(sw[1].shard.counts.peers, 1);
    snprintf(want, sizeof want,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"complete\":0,\"incomplete\":1,"
             "\"interval\":120}",
             ih);
    expect_frame(&ob2, c1.ref, want, false);
    expect_empty(&ob2);

    /* Its close mails the removal to the owner. */
    memset(&ob, 0, sizeof ob);
    swarm_conn_closed(&sw[0], &c1, now, &ob);
    m = mail_queue_pop(&ob.q);
    assert_non_null(m);
    assert_int_equal(m->kind, MAIL_REMOVE);
    assert_int_equal(m->dest, 1);
    expect_empty(&ob);
    assert_int_equal(c1.n_regs, 0);
    swarm_mail(&sw[1], m, now, &ob2);
    expect_empty(&ob2);
    assert_int_equal(sw[1].shard.counts.peers, 0);
}

/* A list scrape of swarms on both workers travels to the other worker and
 * comes back answered in the order asked. */
static void test_scrape_travels(void **state)
{
    char ih0[IH_LEN + 1], ih1[IH_LEN + 1], msg[512], want[512];
    struct outbox ob, ob2;
    struct mail *m;
    (void)state;
    hash_owned_by(0, ih0);
    hash_owned_by(1, ih1);
    snprintf(msg, sizeof msg,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"peer-three-00000000c\","
             "\"left\":0}",
             ih1);
    send_msg(1, &c3, msg, &ob);
    while ((m = mail_queue_pop(&ob.q)) != NULL)
        mail_free(m);

    snprintf(msg, sizeof msg, "{\"action\":\"scrape\",\"info_hash\":[\"%s\",\"%s\"]}", ih1, ih0);
    send_msg(0, &c1, msg, &ob);
    m = mail_queue_pop(&ob.q);
    assert_non_null(m);
    assert_int_equal(m->kind, MAIL_SCRAPE);
    assert_int_equal(m->dest, 1);
    expect_empty(&ob);
    memset(&ob2, 0, sizeof ob2);
    swarm_mail(&sw[1], m, now, &ob2);
    snprintf(want, sizeof want,
             "{\"action\":\"scrape\",\"files\":{\"%s\":{\"complete\":1,\"incomplete\":0,"
             "\"downloaded\":0},\"%s\":{\"complete\":0,\"incomplete\":0,\"downloaded\":0}},"
             "\"flags\":{\"min_request_interval\":120}}",
             ih1, ih0);
    expect_frame(&ob2, c1.ref, want, false);
    expect_empty(&ob2);
}

/* Refusals: each with its failure reason, to the sender only, and nothing
 * else changes. */
static void test_refusals(void **state)
{
    char ih[IH_LEN + 1], msg[512], want[512];
    struct outbox ob;
    (void)state;
    hash_owned_by(0, ih);
    for (unsigned k = 0; k < 3; k++) {
        snprintf(msg, sizeof msg,
                 "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"peer-id-%012u\","
                 "\"left\":1}",
                 ih, k);
        send_msg(0, &c1, msg, &ob);
        if (k < 2) {
            snprintf(want, sizeof want,
                     "{\"action\":\"announce\",\"info_hash\":\"%s\",\"complete\":0,"
                     "\"incomplete\":%u,\"interval\":120}",
                     ih, k + 1);
        } else { /* a third peer_id of one connection in one swarm */
            snprintf(want, sizeof want,
                     "{\"action\":\"announce\",\"failure reason\":\"%s\",\"info_hash\":\"%s\"}",
                     proto_status_reason(PROTO_ERR_TOO_MANY_PEER_IDS), ih);
        }
        expect_frame(&ob, c1.ref, want, false);
        expect_empty(&ob);
    }
    assert_int_equal(sw[0].shard.counts.peers, 2);
    assert_int_equal(atomic_load(&stats[0].v[STATS_PEER_IDS_REFUSED]), 1);

    /* Another connection may not take over a peer_id that is in use. */
    snprintf(msg, sizeof msg,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"peer-id-000000000000\","
             "\"left\":1}",
             ih);
    send_msg(0, &c2, msg, &ob);
    snprintf(want, sizeof want,
             "{\"action\":\"announce\",\"failure reason\":\"%s\",\"info_hash\":\"%s\"}",
             proto_status_reason(PROTO_ERR_PEER_ID_IN_USE), ih);
    expect_frame(&ob, c2.ref, want, false);
    expect_empty(&ob);

    /* Not JSON: a failure reason; invalid UTF-8 in a text message: close 1007. */
    send_msg(0, &c2, "{\"action\":", &ob);
    snprintf(want, sizeof want, "{\"action\":\"announce\",\"failure reason\":\"%s\"}",
             proto_status_reason(PROTO_ERR_JSON));
    expect_frame(&ob, c2.ref, want, false);
    expect_empty(&ob);
    send_msg(0, &c2, "{\"action\":\"\xc3\x28\"}", &ob);
    assert_null(ob.q.head);
    assert_int_equal(ob.close, SWARM_CLOSE_INVALID_UTF8);

    /* Four list scrapes in flight: the fifth is refused. */
    snprintf(msg, sizeof msg, "{\"action\":\"scrape\",\"info_hash\":\"%s\"}", ih);
    for (unsigned k = 0; k < SWARM_SCRAPES_IN_FLIGHT; k++) {
        struct mail *m;
        send_msg(0, &c2, msg, &ob);
        m = mail_queue_pop(&ob.q);
        assert_non_null(m);
        assert_int_equal(m->kind, MAIL_FRAME);
        mail_free(m); /* never reaches c2: its scrapes stay in flight */
    }
    send_msg(0, &c2, msg, &ob);
    snprintf(want, sizeof want, "{\"action\":\"scrape\",\"failure reason\":\"%s\"}",
             proto_status_reason(PROTO_ERR_SCRAPE_IN_PROGRESS));
    expect_frame(&ob, c2.ref, want, false);
    expect_empty(&ob);

    memset(&ob, 0, sizeof ob);
    swarm_conn_closed(&sw[0], &c1, now, &ob);
    expect_empty(&ob); /* its peers were on this worker: removed in place */
    assert_int_equal(sw[0].shard.counts.peers, 0);
}

/* The peer_id cap counts only the swarm's pairs, however many other swarms
 * the connection is in (issue 14: the count walks the swarm's uthash bucket,
 * not every registration, so it must still see both pairs after the table
 * has grown and been rehashed). */
static void test_peer_ids_cap_many_regs(void **state)
{
    char msg[512];
    struct outbox ob;
    const unsigned n = 90; /* under the test shard's 100 swarms */
    (void)state;
    sw[0].lim.max_torrents_per_conn = 200;
    for (unsigned k = 0; k < n; k++) {
        snprintf(msg, sizeof msg,
                 "{\"action\":\"announce\",\"info_hash\":\"ih-many-%012u\","
                 "\"peer_id\":\"peer-id-A00000000000\",\"left\":1}",
                 k);
        send_msg(0, &c1, msg, &ob);
        drop_all(&ob);
    }
    assert_int_equal(c1.n_regs, n);
    /* A second peer_id in swarm 50 and in swarm 89: taken; a third in 50: refused. */
    const char *more[][2] = {{"50", "B"}, {"89", "B"}, {"50", "C"}};
    for (unsigned k = 0; k < 3; k++) {
        snprintf(msg, sizeof msg,
                 "{\"action\":\"announce\",\"info_hash\":\"ih-many-0000000000%s\","
                 "\"peer_id\":\"peer-id-%s00000000000\",\"left\":1}",
                 more[k][0], more[k][1]);
        send_msg(0, &c1, msg, &ob);
        drop_all(&ob);
        assert_int_equal(atomic_load(&stats[0].v[STATS_PEER_IDS_REFUSED]), k == 2 ? 1 : 0);
    }
    assert_int_equal(c1.n_regs, n + 2);
    swarm_conn_closed(&sw[0], &c1, now, &ob); /* frees the registrations */
    drop_all(&ob);
    assert_int_equal(c1.n_regs, 0);
}

/* ---- relay (PROTOCOL.md 10.4) ---- */

static void join_at(unsigned w, struct swarm_conn *c, const char *ih, const char *pid, int64_t t)
{
    char msg[512];
    struct outbox ob;
    snprintf(msg, sizeof msg,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"%s\",\"left\":1}", ih,
             pid);
    send_at(w, c, msg, t, &ob);
    drop_all(&ob);
}

static void relay_at(unsigned w, struct swarm_conn *c, const char *ih, const char *from,
                     const char *to, const char *data, int64_t t, struct outbox *ob)
{
    char msg[512];
    if (to)
        snprintf(msg, sizeof msg,
                 "{\"action\":\"relay\",\"info_hash\":\"%s\",\"peer_id\":\"%s\",\"to_peer_id\":"
                 "\"%s\",\"data\":\"%s\"}",
                 ih, from, to, data);
    else
        snprintf(msg, sizeof msg,
                 "{\"action\":\"relay\",\"info_hash\":\"%s\",\"peer_id\":\"%s\",\"data\":\"%s\"}",
                 ih, from, data);
    send_at(w, c, msg, t, ob);
}

static void expect_relayed(struct outbox *ob, uint64_t conn, const char *ih, const char *from,
                           const char *data)
{
    char want[512];
    snprintf(want, sizeof want,
             "{\"action\":\"relay\",\"info_hash\":\"%s\",\"peer_id\":\"%s\",\"data\":\"%s\"}", ih,
             from, data);
    expect_frame(ob, conn, want, true);
}

static void expect_relay_failure(struct outbox *ob, uint64_t conn, const char *ih,
                                 enum proto_status st)
{
    char want[256];
    snprintf(want, sizeof want,
             "{\"action\":\"relay\",\"failure reason\":\"%s\",\"info_hash\":\"%s\"}",
             proto_status_reason(st), ih);
    expect_frame(ob, conn, want, false);
}

/* Who may relay, to whom: only a live member bound to the sending
 * connection; directed to one live member, or to every other one. */
static void test_relay_membership(void **state)
{
    static const char *const A = "relay-peer-aaaaaaaaa", *const B = "relay-peer-bbbbbbbbb",
                             *const C = "relay-peer-ccccccccc";
    char ih[IH_LEN + 1];
    struct outbox ob;
    (void)state;
    hash_owned_by(0, ih);
    join_at(0, &c1, ih, A, now);
    join_at(0, &c2, ih, B, now);

    /* Directed: to B's connection only, byte for byte, droppable. */
    relay_at(0, &c1, ih, A, B, "hello b", now, &ob);
    expect_relayed(&ob, c2.ref, ih, A, "hello b");
    expect_empty(&ob);
    /* Broadcast: every other member (B), never the sender. */
    relay_at(0, &c1, ih, A, NULL, "hello all", now, &ob);
    expect_relayed(&ob, c2.ref, ih, A, "hello all");
    expect_empty(&ob);

    /* Speaking for a peer this connection did not announce, or for one in a
     * room it is not in: refused, nothing sent. */
    relay_at(0, &c1, ih, B, NULL, "spoof", now, &ob);
    expect_relay_failure(&ob, c1.ref, ih, PROTO_ERR_NOT_MEMBER);
    expect_empty(&ob);
    relay_at(1, &c3, ih, C, NULL, "stranger", now, &ob);
    expect_relay_failure(&ob, c3.ref, ih, PROTO_ERR_NOT_MEMBER);
    expect_empty(&ob);

    /* To a peer that is not in the room, or to oneself. */
    relay_at(0, &c1, ih, A, C, "anyone?", now, &ob);
    expect_relay_failure(&ob, c1.ref, ih, PROTO_ERR_RELAY_NO_PEER);
    expect_empty(&ob);
    relay_at(0, &c1, ih, A, A, "me", now, &ob);
    expect_relay_failure(&ob, c1.ref, ih, PROTO_ERR_RELAY_NO_PEER);
    expect_empty(&ob);

    /* After "stopped", A's connection still holds no registration: refused. */
    {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"%s\","
                 "\"event\":\"stopped\"}",
                 ih, A);
        send_at(0, &c1, msg, now, &ob);
        drop_all(&ob);
    }
    relay_at(0, &c1, ih, A, B, "gone", now, &ob);
    expect_relay_failure(&ob, c1.ref, ih, PROTO_ERR_NOT_MEMBER);
    expect_empty(&ob);
    assert_int_equal(atomic_load(&stats[0].v[STATS_RELAYS]), 2);
    assert_int_equal(atomic_load(&stats[0].v[STATS_RELAY_FRAMES]), 2);
    assert_int_equal(atomic_load(&stats[0].v[STATS_RELAYS_REFUSED]), 4);
    assert_int_equal(atomic_load(&stats[1].v[STATS_RELAYS_REFUSED]), 1); /* c3's, on worker 1 */
}

/* Evicted (the room keeps its last N) and expired peers neither receive
 * relays nor may send them, though their connection still holds the pair. */
static void test_relay_evicted_expired(void **state)
{
    struct swarm_conn c[11];
    char ih[IH_LEN + 1], pid[11][IH_LEN + 1];
    struct outbox ob;
    uint32_t n = 0;
    struct mail *m;
    (void)state;
    hash_owned_by(0, ih);
    for (unsigned k = 0; k < 11; k++) {
        memset(&c[k], 0, sizeof c[k]);
        c[k].ref = route_conn_make(0, 20 + k, 1);
        snprintf(pid[k], sizeof pid[k], "evict-peer-%09u", k);
    }
    /* Ten members at 0 s (the room's cap), then an eleventh evicts peer 0. */
    for (unsigned k = 0; k < 10; k++)
        join_at(0, &c[k], ih, pid[k], now);
    join_at(0, &c[10], ih, pid[10], now + 1000);
    relay_at(0, &c[0], ih, pid[0], NULL, "evicted", now + 1000, &ob);
    expect_relay_failure(&ob, c[0].ref, ih, PROTO_ERR_NOT_MEMBER);
    expect_empty(&ob);
    relay_at(0, &c[1], ih, pid[1], pid[0], "to the evicted", now + 1000, &ob);
    expect_relay_failure(&ob, c[1].ref, ih, PROTO_ERR_RELAY_NO_PEER);
    expect_empty(&ob);

    /* A broadcast goes to the nine other members: the fan-out is the room. */
    relay_at(0, &c[10], ih, pid[10], NULL, "x", now + 1000, &ob);
    while ((m = mail_queue_pop(&ob.q)) != NULL) {
        struct frame *f = (struct frame *)m;
        assert_int_equal(m->kind, MAIL_FRAME);
        assert_true(f->conn != c[10].ref && f->conn != c[0].ref);
        n++;
        mail_free(m);
    }
    assert_int_equal(n, 9);

    /* At 120 s (the peer timeout) peers 1..9 have expired, 10 (1 s later) not. */
    relay_at(0, &c[1], ih, pid[1], pid[10], "expired", now + 120000, &ob);
    expect_relay_failure(&ob, c[1].ref, ih, PROTO_ERR_NOT_MEMBER);
    expect_empty(&ob);
    relay_at(0, &c[10], ih, pid[10], pid[2], "to the expired", now + 120000, &ob);
    expect_relay_failure(&ob, c[10].ref, ih, PROTO_ERR_RELAY_NO_PEER);
    expect_empty(&ob);
    relay_at(0, &c[10], ih, pid[10], NULL, "alone", now + 120000, &ob);
    expect_empty(&ob); /* no one else is left: nothing to send, no failure */
    assert_int_equal(sw[0].shard.counts.peers, 1);
}

/* Size and rate: data longer than relay_max_bytes is refused; each
 * recipient costs (data + SWARM_RELAY_OVERHEAD) bytes of the per-connection
 * budget, a relay that does not fit is refused whole, and the budget comes
 * back with time. */
static void test_relay_limits(void **state)
{
    static const char data64[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char ih[IH_LEN + 1], pid[10][IH_LEN + 1], big[66];
    struct swarm_conn c[10];
    struct outbox ob;
    struct swarm off;
    struct swarm_limits lim_off = lim;
    (void)state;
    hash_owned_by(0, ih);
    for (unsigned k = 0; k < 10; k++) {
        memset(&c[k], 0, sizeof c[k]);
        c[k].ref = route_conn_make(0, 40 + k, 1);
        snprintf(pid[k], sizeof pid[k], "limit-peer-%09u", k);
        join_at(0, &c[k], ih, pid[k], now);
    }
    memset(big, 'z', 65);
    big[65] = '\0';
    relay_at(0, &c[0], ih, pid[0], pid[1], big, now, &ob);
    expect_relay_failure(&ob, c[0].ref, ih, PROTO_ERR_RELAY_TOO_LARGE);
    expect_empty(&ob);

    /* 9 recipients x 192 bytes = 1728 ms of a 4000 ms budget: two go out
     * whole, the third would pass it and is refused with nothing sent. */
    for (unsigned round = 0; round < 3; round++) {
        uint32_t n = 0;
        struct mail *m;
        relay_at(0, &c[0], ih, pid[0], NULL, data64, now, &ob);
        if (round == 2) {
            expect_relay_failure(&ob, c[0].ref, ih, PROTO_ERR_RELAY_RATE);
            expect_empty(&ob);
            break;
        }
        while ((m = mail_queue_pop(&ob.q)) != NULL) {
            n++;
            mail_free(m);
        }
        assert_int_equal(n, 9);
    }
    assert_int_equal(rate_available_ms(&lim.relay_rate, c[0].relay_tat, (uint32_t)now),
                     4000 - 2 * 1728);
    /* A directed relay (192 ms) still fits the 544 ms left; another
     * connection's budget is its own. */
    relay_at(0, &c[0], ih, pid[0], pid[1], data64, now, &ob);
    expect_relayed(&ob, c[1].ref, ih, pid[0], data64);
    expect_empty(&ob);
    relay_at(0, &c[2], ih, pid[2], NULL, data64, now, &ob);
    drop_all(&ob);
    /* 1.2 s later 1200 ms have come back: 352 + 1200 < 1728, still refused;
     * at 2 s (2000 + 352 >= 1728) the broadcast goes out. */
    relay_at(0, &c[0], ih, pid[0], NULL, data64, now + 1200, &ob);
    expect_relay_failure(&ob, c[0].ref, ih, PROTO_ERR_RELAY_RATE);
    expect_empty(&ob);
    relay_at(0, &c[0], ih, pid[0], NULL, data64, now + 2000, &ob);
    assert_non_null(ob.q.head);
    assert_int_equal(((struct frame *)ob.q.head)->droppable, true);
    drop_all(&ob);

    /* --relay off. */
    lim_off.relay = false;
    swarm_create(&off, 0, &route, &lim_off, &stats[0], 3);
    memset(&ob, 0, sizeof ob);
    {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "{\"action\":\"relay\",\"info_hash\":\"%s\",\"peer_id\":\"%s\",\"data\":\"x\"}",
                 ih, pid[0]);
        swarm_message(&off, &c[0], msg, strlen(msg), true, now, &ob);
    }
    expect_relay_failure(&ob, c[0].ref, ih, PROTO_ERR_RELAY_DISABLED);
    expect_empty(&ob);
    swarm_destroy(&off);
}

/* A relay for a room on another worker travels as mail with the sender's
 * budget; the owner sends it and settles it back with its cost, which is
 * charged when the settlement reaches the sender's worker. */
static void test_relay_travels(void **state)
{
    static const char *const A = "travel-peer-aaaaaaaa", *const B = "travel-peer-bbbbbbbb";
    char ih[IH_LEN + 1];
    struct outbox ob, ob2;
    struct mail *m;
    struct frame *f;
    (void)state;
    hash_owned_by(0, ih);
    join_at(0, &c1, ih, A, now);
    /* c3 lives on worker 1: its announce travels to worker 0. */
    {
        char msg[256];
        struct outbox a;
        snprintf(msg, sizeof msg,
                 "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"%s\",\"left\":1}", ih,
                 B);
        send_at(1, &c3, msg, now, &a);
        while ((m = mail_queue_pop(&a.q)) != NULL) {
            memset(&ob2, 0, sizeof ob2);
            assert_int_equal(m->kind, MAIL_ANNOUNCE);
            swarm_mail(&sw[0], m, now, &ob2);
            drop_all(&ob2);
        }
    }
    /* Directed: its cost (one recipient, 10 + 128 bytes at 1000 bytes/s) is
     * taken at once on the sender's worker; it travels, and nothing comes
     * back but the frame at its recipient. */
    relay_at(1, &c3, ih, B, A, "over there", now, &ob);
    m = mail_queue_pop(&ob.q);
    assert_non_null(m);
    assert_int_equal(m->kind, MAIL_RELAY);
    assert_int_equal(m->dest, 0);
    assert_int_equal(((struct mail_relay *)m)->budget_ms, 138);
    expect_empty(&ob);
    assert_int_equal(c3.relays, 0);
    assert_int_equal(rate_available_ms(&lim.relay_rate, c3.relay_tat, (uint32_t)now), 4000 - 138);
    memset(&ob2, 0, sizeof ob2);
    swarm_mail(&sw[0], m, now, &ob2);
    expect_relayed(&ob2, c1.ref, ih, B, "over there");
    expect_empty(&ob2);

    /* Broadcast: the cost depends on the room, so it travels with the budget
     * left and is settled by a frame with nothing to write, charged when it
     * reaches the sender's worker. */
    relay_at(1, &c3, ih, B, NULL, "to all", now, &ob);
    m = mail_queue_pop(&ob.q);
    assert_non_null(m);
    assert_int_equal(((struct mail_relay *)m)->budget_ms, 4000 - 138);
    expect_empty(&ob);
    assert_int_equal(c3.relays, 1);
    memset(&ob2, 0, sizeof ob2);
    swarm_mail(&sw[0], m, now, &ob2);
    expect_relayed(&ob2, c1.ref, ih, B, "to all");
    m = mail_queue_pop(&ob2.q);
    assert_non_null(m);
    f = (struct frame *)m;
    assert_int_equal(f->conn, c3.ref);
    assert_int_equal(f->len, 0);
    assert_int_equal(f->reply, FRAME_REPLY_RELAY);
    assert_int_equal(f->debit_ms, 134); /* 6 + 128 bytes, one other member */
    expect_empty(&ob2);
    assert_false(swarm_conn_note_reply(&sw[1], &c3, f, now)); /* nothing to write */
    mail_free(m);
    assert_int_equal(c3.relays, 0);
    assert_int_equal(rate_available_ms(&lim.relay_rate, c3.relay_tat, (uint32_t)now),
                     4000 - 138 - 134);

    /* SWARM_RELAYS_IN_FLIGHT unsettled broadcasts: the next is refused until
     * they settle, or until SWARM_RELAY_LOST_MS says they were lost; directed
     * relays are not held up by them. */
    for (unsigned k = 0; k < SWARM_RELAYS_IN_FLIGHT; k++) {
        relay_at(1, &c3, ih, B, NULL, "x", now, &ob);
        drop_all(&ob);
    }
    relay_at(1, &c3, ih, B, NULL, "x", now, &ob);
    expect_relay_failure(&ob, c3.ref, ih, PROTO_ERR_RELAY_RATE);
    expect_empty(&ob);
    relay_at(1, &c3, ih, B, A, "x", now, &ob);
    m = mail_queue_pop(&ob.q);
    assert_non_null(m);
    assert_int_equal(m->kind, MAIL_RELAY);
    mail_free(m);
    relay_at(1, &c3, ih, B, NULL, "x", now + SWARM_RELAY_LOST_S * 1000, &ob);
    m = mail_queue_pop(&ob.q);
    assert_non_null(m);
    assert_int_equal(m->kind, MAIL_RELAY);
    mail_free(m);

    /* A directed relay refused at the owner: the failure reason, no settlement. */
    relay_at(1, &c3, ih, B, "travel-peer-nobodyxx", "hello?", now + SWARM_RELAY_LOST_S * 1000, &ob);
    m = mail_queue_pop(&ob.q);
    assert_non_null(m);
    memset(&ob2, 0, sizeof ob2);
    swarm_mail(&sw[0], m, now, &ob2);
    m = mail_queue_pop(&ob2.q);
    assert_non_null(m);
    assert_int_equal(((struct frame *)m)->reply, FRAME_REPLY_OTHER);
    mail_free(m);
    expect_empty(&ob2);

    /* A broadcast refused at the owner settles too, with no cost: the
     * failure reason is the settlement. */
    memset(&c3, 0, sizeof c3);
    c3.ref = route_conn_make(1, 3, 1);
    join_at(1, &c3, ih, "travel-peer-cccccccc", now); /* announce mail dropped: never joins */
    relay_at(1, &c3, ih, "travel-peer-cccccccc", NULL, "in?", now, &ob);
    m = mail_queue_pop(&ob.q);
    assert_non_null(m);
    memset(&ob2, 0, sizeof ob2);
    swarm_mail(&sw[0], m, now, &ob2);
    m = mail_queue_pop(&ob2.q);
    assert_non_null(m);
    f = (struct frame *)m;
    assert_int_equal(f->reply, FRAME_REPLY_RELAY);
    assert_int_equal(f->debit_ms, 0);
    assert_true(swarm_conn_note_reply(&sw[1], &c3, f, now));
    assert_int_equal(c3.relays, 0);
    mail_free(m);
    expect_empty(&ob2);
}

/* A message refused before it is acted on (the network layer's budget): its
 * action and info_hash as far as they can be read, nothing else happens. */
static void test_refuse(void **state)
{
    char ih[IH_LEN + 1], msg[256], want[256];
    struct outbox ob;
    (void)state;
    hash_owned_by(0, ih);
    snprintf(msg, sizeof msg,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"refused-peer-0000000\"}",
             ih);
    memset(&ob, 0, sizeof ob);
    swarm_refuse(&sw[0], &c1, msg, strlen(msg), PROTO_ERR_RATE_LIMITED, now, &ob);
    snprintf(want, sizeof want,
             "{\"action\":\"announce\",\"failure reason\":\"rate limited\",\"info_hash\":\"%s\"}",
             ih);
    expect_frame(&ob, c1.ref, want, false);
    expect_empty(&ob);
    assert_int_equal(sw[0].shard.counts.peers, 0); /* not registered */
    assert_int_equal(c1.n_regs, 0);

    snprintf(msg, sizeof msg, "{\"action\":\"scrape\",\"info_hash\":\"%s\"}", ih);
    memset(&ob, 0, sizeof ob);
    swarm_refuse(&sw[0], &c1, msg, strlen(msg), PROTO_ERR_RATE_LIMITED, now, &ob);
    expect_frame(&ob, c1.ref, "{\"action\":\"scrape\",\"failure reason\":\"rate limited\"}", false);
    expect_empty(&ob);
    assert_int_equal(c1.scrapes, 0);

    snprintf(msg, sizeof msg,
             "{\"action\":\"relay\",\"info_hash\":\"%s\",\"peer_id\":\"refused-peer-0000000\","
             "\"data\":\"x\"}",
             ih);
    memset(&ob, 0, sizeof ob);
    swarm_refuse(&sw[0], &c1, msg, strlen(msg), PROTO_ERR_RATE_LIMITED, now, &ob);
    snprintf(want, sizeof want,
             "{\"action\":\"relay\",\"failure reason\":\"rate limited\",\"info_hash\":\"%s\"}", ih);
    expect_frame(&ob, c1.ref, want, false);
    expect_empty(&ob);

    /* Not even JSON: still a failure reason, with the default action. */
    memset(&ob, 0, sizeof ob);
    swarm_refuse(&sw[0], &c1, "{{{", 3, PROTO_ERR_RATE_LIMITED, now, &ob);
    expect_frame(&ob, c1.ref, "{\"action\":\"announce\",\"failure reason\":\"rate limited\"}",
                 false);
    expect_empty(&ob);
}

/* --announce-rate: announces with offers from one address into one swarm, 1/s with a
 * burst of 2, counted on the owner (also for an announce that travels by mail); past
 * the budget the announce is applied without its offers and says so. */
static void test_announce_rate(void **state)
{
    struct swarm_limits paced = lim;
    struct swarm p[2];
    struct stats ps[2];
    char ih[IH_LEN + 1], msg[512], want[512];
    struct outbox ob;
    struct mail *m;
    (void)state;
    paced.announce_rate = 1;
    paced.announce_burst = 2;
    memset(ps, 0, sizeof ps);
    assert_int_equal(swarm_create(&p[0], 0, &route, &paced, &ps[0], 5), 0);
    assert_int_equal(swarm_create(&p[1], 1, &route, &paced, &ps[1], 6), 0);
    hash_owned_by(0, ih);
    snprintf(msg, sizeof msg,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"pace-member-00000000\","
             "\"left\":1}",
             ih);
    memset(&ob, 0, sizeof ob);
    p[0].addr = 1;
    swarm_message(&p[0], &c1, msg, strlen(msg), true, now, &ob);
    drop_all(&ob);

    snprintf(msg, sizeof msg,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"pace-flooder-0000000\","
             "\"left\":1,\"numwant\":1,\"offers\":[{\"offer_id\":\"offer-id-00000000001\","
             "\"offer\":{\"type\":\"offer\",\"sdp\":\"x\"}}]}",
             ih);
    snprintf(want, sizeof want,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"complete\":0,\"incomplete\":2,"
             "\"interval\":120}",
             ih);
    /* address 2, the burst: both offers reach the member */
    for (int k = 0; k < 2; k++) {
        memset(&ob, 0, sizeof ob);
        p[0].addr = 2;
        swarm_message(&p[0], &c2, msg, strlen(msg), true, now, &ob);
        expect_frame(&ob, c2.ref, want, false);
        assert_non_null(ob.q.head);
        assert_int_equal(((struct frame *)ob.q.head)->conn, c1.ref);
        drop_all(&ob);
    }
    /* the third: applied (the reply), no offer, the warning */
    snprintf(want, sizeof want,
             "{\"action\":\"announce\",\"info_hash\":\"%s\",\"complete\":0,\"incomplete\":2,"
             "\"interval\":120,\"warning message\":\"offers not forwarded: rate limited\"}",
             ih);
    memset(&ob, 0, sizeof ob);
    swarm_message(&p[0], &c2, msg, strlen(msg), true, now, &ob);
    expect_frame(&ob, c2.ref, want, false);
    expect_empty(&ob);
    assert_int_equal(atomic_load(&ps[0].v[STATS_OFFERS_RATE_LIMITED]), 1);
    /* from worker 1 the same address travels by mail: still refused on the owner */
    memset(&ob, 0, sizeof ob);
    p[1].addr = 2;
    swarm_message(&p[1], &c3, msg, strlen(msg), true, now, &ob);
    m = mail_queue_pop(&ob.q);
    assert_non_null(m);
    assert_int_equal(m->kind, MAIL_ANNOUNCE);
    expect_empty(&ob);
    memset(&ob, 0, sizeof ob);
    swarm_mail(&p[0], m, now, &ob);
    assert_non_null(ob.q.head);
    assert_int_equal(((struct frame *)ob.q.head)->conn, c3.ref);
    assert_null(ob.q.head->next); /* the reply only */
    drop_all(&ob);
    assert_int_equal(atomic_load(&ps[0].v[STATS_OFFERS_RATE_LIMITED]), 2);
    /* another address is not limited; a second later address 2 has one again */
    memset(&ob, 0, sizeof ob);
    p[0].addr = 3;
    swarm_message(&p[0], &c2, msg, strlen(msg), true, now, &ob);
    assert_non_null(ob.q.head);
    assert_non_null(ob.q.head->next); /* reply and offer */
    drop_all(&ob);
    memset(&ob, 0, sizeof ob);
    p[0].addr = 2;
    swarm_message(&p[0], &c2, msg, strlen(msg), true, now + 1000, &ob);
    assert_non_null(ob.q.head);
    assert_non_null(ob.q.head->next);
    drop_all(&ob);
    swarm_destroy(&p[0]);
    swarm_destroy(&p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_offer_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timed_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_offer_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_turn_in_announce, setup, teardown),
        cmocka_unit_test_setup_teardown(test_room_list_and_directed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_announce_for_other_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scrape_travels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_ids_cap_many_regs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relay_membership, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relay_evicted_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relay_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relay_travels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_announce_rate, setup, teardown),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
