/* worker.c - the runtime: worker threads, their loops, mail, the outbox; see worker.h.
 *
 * Owns:   the worker thread's lifecycle and libev loop, mail between workers
 *         (send, park when a ring is full, drain), the drain of the swarm
 *         layer's outbox, frame delivery, the tick (expiry, stopping, the
 *         /stats page's top rooms and, on worker 0, its history samples).
 * Thread: each function runs on the worker it is given, except worker_stop_all
 *         (main), the mailbox wake callback (any worker) and worker_create /
 *         worker_destroy (main, before the thread starts / after it ended).
 * Why:    lws on Debian is built with LWS_MAX_SMP=1, so one lws context per
 *         thread is the supported way to use every core; the network layer
 *         puts its context on this thread's libev loop (docs/ARCHITECTURE.md).
 *         The tick is an ev_timer on that loop. A wakeup goes through the
 *         network layer (worker_io.wake, then worker_drain from inside its
 *         callback): lws re-arms its own timers only from its callbacks, so
 *         what a drain does to connections (a close, its grace timeout) must
 *         run inside one.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "worker.h"

void worker_clock(struct worker *w)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    w->now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    w->clock_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct swarm_limits tracker_swarm_limits(const struct tracker *t)
{
    struct swarm_limits lim = {
        .shard =
            {
                .max_peers_per_swarm = t->cfg.max_peers_per_swarm,
                .max_offers = t->cfg.max_offers,
                .peer_timeout_ms = (int64_t)t->cfg.peer_timeout * 1000,
                .max_peers = (t->max_peers + t->n_workers - 1) / t->n_workers,
                .max_swarms = (t->max_swarms + t->n_workers - 1) / t->n_workers,
            },
        .interval = t->cfg.interval,
        .max_torrents_per_conn = t->cfg.max_torrents_per_conn,
        .max_peer_ids_per_swarm = t->cfg.max_peer_ids_per_swarm,
        .max_scrape_hashes = t->cfg.max_scrape_hashes,
        /* half the output hard cap, so a full scrape reply always fits a
         * connection's queue (PROTOCOL.md 3.2) */
        .full_scrape_max = t->cfg.outq_hard_kib * 1024u / 2,
        .no_full_scrape = t->cfg.no_full_scrape,
        .relay = t->cfg.relay,
        .relay_max_bytes = t->cfg.relay_max_bytes,
        .relay_rate =
            rate_limit_make((uint64_t)t->cfg.relay_rate_kib * 1024u, RATE_BURST_S * 1000u),
        .announce_rate = t->cfg.announce_rate,
        .announce_burst = t->cfg.announce_burst,
        .turn_secret = t->cfg.turn_secret[0] ? t->cfg.turn_secret : NULL,
        .n_turn_urls = t->cfg.n_turn_urls,
        .turn_ttl = t->cfg.turn_ttl,
    };
    _Static_assert(CONFIG_TURN_URLS == TURN_URLS_MAX, "one bound for the TURN URLs");
    for (unsigned k = 0; k < t->cfg.n_turn_urls; k++)
        lim.turn_urls[k] = t->cfg.turn_urls[k];
    return lim;
}

/* The mailbox's wake callback, from any worker. */
static void wake_loop(void *arg)
{
    struct worker *w = arg;
    if (w->t->io)
        w->t->io->wake(w);
}

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents);

int worker_create(struct worker *w, struct tracker *t, unsigned idx)
{
    struct swarm_limits lim = tracker_swarm_limits(t);
    uint64_t seed;
    memset(w, 0, sizeof *w);
    w->idx = idx;
    w->t = t;
    for (unsigned k = 0; k < WORKER_LISTEN_MAX; k++)
        w->listen_fds[k] = -1;
    w->loop = ev_loop_new(EVBACKEND_EPOLL);
    if (!w->loop)
        return -1;
    ev_timer_init(&w->tick, on_tick, WORKER_TICK_MS / 1000.0, WORKER_TICK_MS / 1000.0);
    w->tick.data = w;
    ev_timer_start(w->loop, &w->tick);
    if (mailbox_create(&w->mb, t->n_workers, wake_loop, w) != 0)
        goto fail;
    w->backlog = calloc(t->n_workers, sizeof *w->backlog);
    w->pushed = calloc(t->n_workers, sizeof *w->pushed);
    if (!w->backlog || !w->pushed)
        goto fail;
    randombytes_buf(&seed, sizeof seed);
    if (swarm_create(&w->sw, idx, &t->route, &lim, &w->stats, seed) != 0) {
        swarm_destroy(&w->sw);
        goto fail;
    }
    w->sw.wall_s = (int64_t)time(NULL);
    atomic_init(&w->stop, false);
    worker_clock(w);
    return 0;
fail:
    free(w->pushed);
    free(w->backlog);
    mailbox_destroy(&w->mb);
    ev_loop_destroy(w->loop);
    w->loop = NULL;
    return -1;
}

void worker_destroy(struct worker *w)
{
    struct mail *m;
    /* Mails still queued to this worker are freed, whatever their kind. */
    while ((m = mailbox_pop(&w->mb)) != NULL)
        mail_free(m);
    for (unsigned d = 0; d < w->t->n_workers; d++)
        while ((m = mail_queue_pop(&w->backlog[d].q)) != NULL)
            mail_free(m);
    swarm_destroy(&w->sw);
    mailbox_destroy(&w->mb);
    free(w->backlog);
    free(w->pushed);
    slots_destroy(&w->slots);
    for (unsigned k = 0; k < w->n_listen; k++)
        if (w->listen_fds[k] >= 0) /* never handed to the network layer */
            close(w->listen_fds[k]);
    if (w->loop)
        ev_loop_destroy(w->loop);
}

/* ---- mail ---- */

/* Past WORKER_BACKLOG_MAX only frames, announces and directed relays are
 * dropped (a client retries those; a directed relay is paid for and never
 * settled, like a forwarded offer). Scrapes, broadcasts, relay settlements
 * and removes are always kept: dropping one would leave a client without its
 * reply, a connection's broadcasts unsettled, or a closed connection's peers
 * in their swarms, and they are bounded elsewhere (SWARM_SCRAPES_IN_FLIGHT and
 * SWARM_RELAYS_IN_FLIGHT per connection, one full-scrape travel per worker,
 * one remove per closed connection and worker). */
static bool droppable_mail(const struct mail *m)
{
    return m->kind == MAIL_ANNOUNCE ||
           (m->kind == MAIL_RELAY && ((const struct mail_relay *)m)->directed) ||
           (m->kind == MAIL_FRAME && ((const struct frame *)m)->reply != FRAME_REPLY_RELAY);
}

static void park(struct worker *w, unsigned dest, struct mail *m)
{
    if (w->backlog[dest].n >= WORKER_BACKLOG_MAX && droppable_mail(m)) {
        stats_add(&w->stats, STATS_MAIL_DROPPED, 1);
        mail_free(m);
        return;
    }
    mail_queue_push(&w->backlog[dest].q, m);
    w->backlog[dest].n++;
}

void worker_send(struct worker *w, unsigned dest, struct mail *m)
{
    struct worker *d = &w->t->workers[dest];
    w->pushed[dest] = true;
    if (w->backlog[dest].q.head || mailbox_push(&d->mb, w->idx, m) != 0)
        park(w, dest, m); /* keep order behind mails already parked */
}

static void flush_backlogs(struct worker *w)
{
    for (unsigned dest = 0; dest < w->t->n_workers; dest++) {
        struct worker *d = &w->t->workers[dest];
        while (w->backlog[dest].q.head) {
            if (mailbox_push(&d->mb, w->idx, w->backlog[dest].q.head) != 0)
                break;
            mail_queue_pop(&w->backlog[dest].q);
            w->backlog[dest].n--;
            w->pushed[dest] = true;
        }
    }
}

void worker_deliver(struct worker *w, struct frame *f)
{
    unsigned dest = route_conn_worker(f->conn);
    if (dest == w->idx) {
        struct swarm_conn *c = slots_lookup(&w->slots, w->idx, f->conn);
        if (c && swarm_conn_note_reply(&w->sw, c, f, w->now_ms) && w->t->io)
            w->t->io->deliver(w, c, f);
        else
            mail_free(&f->m); /* the connection closed meanwhile, or nothing to write */
        return;
    }
    if (dest >= w->t->n_workers) {
        mail_free(&f->m);
        return;
    }
    worker_send(w, dest, &f->m);
}

static void publish_stats(struct worker *w)
{
    const struct shard_counts *sc = &w->sw.shard.counts;
    stats_set(&w->stats, STATS_SWARMS, sc->swarms);
    stats_set(&w->stats, STATS_ACTIVE_SWARMS, sc->active_swarms);
    stats_set(&w->stats, STATS_PEERS, sc->peers);
    stats_set(&w->stats, STATS_SEEDERS, sc->seeders);
    stats_set(&w->stats, STATS_LEECHERS, sc->leechers);
    stats_set(&w->stats, STATS_PEERS_IPV6, sc->ipv6);
    stats_set(&w->stats, STATS_PEERS_REFUSED, sc->peers_refused);
    stats_set(&w->stats, STATS_SWARMS_REFUSED, sc->swarms_refused);
    stats_set(&w->stats, STATS_SWARMS_RECLAIMED, sc->reclaimed);
    stats_set(&w->stats, STATS_PEER_ID_IN_USE, sc->in_use);
}

/* The queue gauges of /metrics, sampled by the tick (after its pass flushed
 * what it could): mails waiting in this worker's mailbox, mails it parked for
 * others. n_workers loads and additions every WORKER_TICK_MS. */
static void publish_queues(struct worker *w)
{
    uint64_t parked = 0;
    for (unsigned d = 0; d < w->t->n_workers; d++)
        parked += w->backlog[d].n;
    stats_set(&w->stats, STATS_MAILBOX_DEPTH, mailbox_depth(&w->mb));
    stats_set(&w->stats, STATS_MAIL_BACKLOG, parked);
}

/* Carry out what the swarm layer wrote: frames to their connections, mail to
 * its workers. Mail for this worker (the swarm layer does its own work in
 * place, so only by mistake) is handled here, and what it writes goes out too. The gauges are
 * published before any reply leaves: a client that has its announce reply and then reads
 * /stats.json (through any worker) must see its own peer counted. Ten relaxed stores per message.
 */
static void drain_outbox(struct worker *w, struct outbox *ob)
{
    struct mail *m;
    publish_stats(w);
    while ((m = mail_queue_pop(&ob->q)) != NULL) {
        if (m->kind == MAIL_FRAME)
            worker_deliver(w, (struct frame *)m);
        else if (m->dest == w->idx) {
            swarm_mail(&w->sw, m, w->now_ms, ob);
            publish_stats(w);
        } else if (m->dest < w->t->n_workers)
            worker_send(w, m->dest, m);
        else
            mail_free(m);
    }
}

uint64_t worker_conn_open(struct worker *w, struct swarm_conn *c)
{
    c->ref = slots_add(&w->slots, w->idx, c);
    return c->ref;
}

uint16_t worker_message(struct worker *w, struct swarm_conn *c, const char *msg, size_t len,
                        bool text, const struct jwt_grant *grant, uint64_t addr)
{
    struct outbox ob = {{NULL, NULL}, 0, w->clock_ns}; /* the time conn_receive read */
    /* seq_cst with main's exchange and its reads of ticks: if main sees this
     * worker's tick move, this load comes after main's swap (a Dekker pair;
     * acquire/release alone would allow both to read old values). */
    w->sw.allow = atomic_load_explicit(&w->t->allow_hashes, memory_order_seq_cst);
    w->sw.deny = atomic_load_explicit(&w->t->deny_hashes, memory_order_seq_cst);
    w->sw.grant = grant;
    w->sw.addr = addr;
    swarm_message(&w->sw, c, msg, len, text, w->now_ms, &ob);
    drain_outbox(w, &ob);
    return ob.close;
}

void worker_refuse(struct worker *w, struct swarm_conn *c, const char *msg, size_t len,
                   enum proto_status st)
{
    struct outbox ob = {{NULL, NULL}, 0, 0}; /* not timed */
    swarm_refuse(&w->sw, c, msg, len, st, w->now_ms, &ob);
    drain_outbox(w, &ob);
}

void worker_conn_closed(struct worker *w, struct swarm_conn *c)
{
    struct outbox ob = {{NULL, NULL}, 0, 0}; /* not timed */
    swarm_conn_closed(&w->sw, c, w->now_ms, &ob);
    drain_outbox(w, &ob);
    slots_remove(&w->slots, c->ref);
    c->ref = ROUTE_CONN_NONE;
}

void worker_end_pass(struct worker *w)
{
    publish_stats(w); /* for what timers and sweeps changed without an outbox */
    flush_backlogs(w);
    for (unsigned dest = 0; dest < w->t->n_workers; dest++) {
        if (!w->pushed[dest])
            continue;
        w->pushed[dest] = false;
        if (dest != w->idx)
            mailbox_wake(&w->t->workers[dest].mb);
    }
}

static void begin_stop(struct worker *w)
{
    w->stopping = true;
    w->stop_deadline_ms = w->now_ms + WORKER_STOP_GRACE_MS;
    if (w->t->io)
        w->t->io->stop(w);
    w->tick.repeat = WORKER_STOP_TICK_MS / 1000.0;
    ev_timer_again(w->loop, &w->tick);
}

void worker_drain(struct worker *w)
{
    struct mail *m;
    unsigned n = 0;
    worker_clock(w);
    if (atomic_load(&w->stop) && !w->stopping)
        begin_stop(w);
    mailbox_begin_drain(&w->mb);
    while (n < WORKER_DRAIN_BUDGET && (m = mailbox_pop(&w->mb)) != NULL) {
        if (m->kind == MAIL_FRAME) {
            worker_deliver(w, (struct frame *)m);
        } else {
            struct outbox ob = {{NULL, NULL}, 0, m->born_ns}; /* the origin's time, carried on */
            swarm_mail(&w->sw, m, w->now_ms, &ob);
            drain_outbox(w, &ob);
        }
        n++;
    }
    if (n == WORKER_DRAIN_BUDGET)
        mailbox_wake(&w->mb); /* more to do: come back after serving sockets */
    worker_end_pass(w);
}

void worker_stop_all(struct tracker *t)
{
    for (unsigned k = 0; k < t->n_workers; k++) {
        atomic_store(&t->workers[k].stop, true);
        if (t->io)
            t->io->wake(&t->workers[k]);
    }
}

/* ---- the /stats page's data ---- */

/* Owner, at each tick: its largest swarms, for the page's top rooms.
 * O(SHARD_TOP^2), whatever the number of swarms. */
static void publish_top(struct worker *w)
{
    uint8_t hash4[SHARD_TOP][4];
    uint32_t peers[SHARD_TOP];
    struct top_entry e[STATS_TOP];
    uint32_t n = shard_top(&w->sw.shard, hash4, peers);
    _Static_assert(SHARD_TOP == STATS_TOP, "one bound for the top rooms");
    for (uint32_t k = 0; k < n; k++) {
        memcpy(e[k].hash4, hash4[k], 4);
        e[k].peers = peers[k];
    }
    top_publish(&w->stats.top, e, n);
}

/* Resident memory in bytes (/proc/self/statm), 0 when unreadable. */
static uint64_t rss_bytes(void)
{
    unsigned long long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Worker 0, at the tick when --stats-interval has passed: one history
 * sample of the process totals (the other workers' counters are read with
 * relaxed loads, as /stats.json reads them). Worker 0 because main blocks in
 * sigwait; one writer, so the ring needs no lock (obs/history.h). */
static void take_sample(struct worker *w)
{
    struct tracker *t = w->t;
    struct stats *all[WORKER_MAX];
    struct history_sample s;
    for (unsigned k = 0; k < t->n_workers; k++)
        all[k] = &t->workers[k].stats;
    s.v[HIST_T] = (uint64_t)(w->now_ms - t->started_ms) / 1000;
    s.v[HIST_CONNECTIONS] = stats_sum(all, t->n_workers, STATS_CONNECTIONS);
    s.v[HIST_PEERS] = stats_sum(all, t->n_workers, STATS_PEERS);
    s.v[HIST_ANNOUNCES] = stats_sum(all, t->n_workers, STATS_ANNOUNCES);
    s.v[HIST_OFFERS] = stats_sum(all, t->n_workers, STATS_OFFERS_FORWARDED);
    s.v[HIST_RELAYS] = stats_sum(all, t->n_workers, STATS_RELAYS);
    s.v[HIST_RSS] = rss_bytes();
    history_push(&t->history, &s);
    w->next_sample_ms = w->now_ms + (int64_t)t->cfg.stats_interval * 1000;
}

/* ---- the thread ---- */

static void on_tick(struct ev_loop *loop, ev_timer *tm, int revents)
{
    struct worker *w = tm->data;
    (void)revents;
    /* Between events: no message is being handled, so no info-hash list
     * pointer loaded for one is still in use (main frees old lists once
     * every worker's count has moved). */
    atomic_fetch_add_explicit(&w->ticks, 1, memory_order_seq_cst);
    worker_clock(w);
    /* The wall clock only dates TURN credentials (seconds, valid for an hour
     * or so): read once per tick, not once per message. */
    w->sw.wall_s = (int64_t)time(NULL);
    if (w->stopping && (w->now_ms >= w->stop_deadline_ms || slots_live(&w->slots) == 0)) {
        w->exit_loop = true;
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    shard_expire_step(&w->sw.shard, w->now_ms, WORKER_EXPIRE_BUDGET);
    swarm_log_flush(&w->sw, w->now_ms);
    publish_top(w);
    if (w->idx == 0 && w->now_ms >= w->next_sample_ms)
        take_sample(w);
    worker_end_pass(w);
    publish_queues(w);
}

void *worker_main(void *arg)
{
    struct worker *w = arg;
    char name[16];
    snprintf(name, sizeof name, "worker-%02u", w->idx);
    pthread_setname_np(pthread_self(), name);

    w->start_err = w->t->io ? w->t->io->start(w) : 0;
    pthread_barrier_wait(&w->t->start_barrier);
    if (w->start_err)
        return NULL;
    while (!w->exit_loop)
        ev_run(w->loop, 0);
    return NULL; /* main destroys the network part, then the loop */
}
