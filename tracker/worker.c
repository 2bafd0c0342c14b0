/* worker.c - one thread = one lws context + its connections + its swarm shard.
 *
 * Owns:   the worker thread's lifecycle, its lws context and adopted listening
 *         sockets, connection slots, draining mail (handle_mail acts on it), frame delivery.
 * Thread: each function runs on the worker it is given, except worker_stop_all
 *         (main) and the mailbox wake callback (any worker).
 * Why:    lws on Debian is built with LWS_MAX_SMP=1, so one context per thread is
 *         the supported way to use every core; each worker makes its own
 *         SO_REUSEPORT listening socket (created by main) and adopts it as a raw
 *         file descriptor, accepting by hand (docs/ARCHITECTURE.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "../proto/gate.h"
#include "handle.h"
#include "net.h"
#include "worker.h"

struct frame *frame_alloc(size_t cap)
{
    struct frame *f = malloc(sizeof *f + LWS_PRE + cap);
    if (!f)
        return NULL;
    f->m.next = NULL;
    f->m.kind = MAIL_FRAME;
    f->conn = ROUTE_CONN_NONE;
    f->len = 0;
    f->droppable = false;
    f->reply = FRAME_REPLY_OTHER;
    return f;
}

void worker_clock(struct worker *w)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    w->now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wake_context(void *arg)
{
    struct worker *w = arg;
    if (!atomic_load(&w->t->down)) /* contexts are being destroyed: nobody to wake */
        lws_cancel_service(w->ctx);
}

int worker_create(struct worker *w, struct tracker *t, unsigned idx)
{
    struct shard_limits lim = tracker_shard_limits(t);
    memset(w, 0, sizeof *w);
    w->idx = idx;
    w->log.worker = idx;
    w->t = t;
    w->reserve_fd = -1;
    list_init(&w->handshakes);
    if (mailbox_create(&w->mb, t->n_workers, wake_context, w) != 0)
        goto fail;
    w->backlog = calloc(t->n_workers, sizeof *w->backlog);
    w->wake = calloc(t->n_workers, sizeof *w->wake);
    if (!w->backlog || !w->wake)
        goto fail;
    shard_create(&w->shard, t->route.key, &lim);
    randombytes_buf(&w->rng, sizeof w->rng);
    atomic_init(&w->stop, false);
    worker_clock(w);
    return 0;
fail:
    free(w->wake);
    free(w->backlog);
    mailbox_destroy(&w->mb);
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
    shard_destroy(&w->shard);
    free(w->fs.body);
    free(w->fs.waiters);
    mailbox_destroy(&w->mb);
    free(w->backlog);
    free(w->wake);
    free(w->slots);
    free(w->gens);
    free(w->free_slots);
    for (unsigned k = 0; k < w->n_listen; k++)
        if (w->listen_fds[k] >= 0 && !w->listen_wsi[k])
            close(w->listen_fds[k]);
    if (w->reserve_fd >= 0)
        close(w->reserve_fd);
}

/* ---- connection slots ---- */

uint64_t worker_conn_register(struct worker *w, struct conn *c)
{
    uint32_t slot;
    if (w->n_free) {
        slot = w->free_slots[--w->n_free];
    } else {
        if (w->n_slots == w->cap_slots) {
            uint32_t cap = w->cap_slots ? w->cap_slots * 2 : 1024;
            struct conn **slots;
            uint32_t *gens, *fr;
            if (cap > (1u << ROUTE_SLOT_BITS))
                return ROUTE_CONN_NONE;
            slots = realloc(w->slots, cap * sizeof *slots);
            if (!slots)
                return ROUTE_CONN_NONE;
            w->slots = slots;
            gens = realloc(w->gens, cap * sizeof *gens);
            if (!gens)
                return ROUTE_CONN_NONE;
            w->gens = gens;
            fr = realloc(w->free_slots, cap * sizeof *fr);
            if (!fr)
                return ROUTE_CONN_NONE;
            w->free_slots = fr;
            memset(w->gens + w->cap_slots, 0, (cap - w->cap_slots) * sizeof *gens);
            w->cap_slots = cap;
        }
        slot = w->n_slots++;
    }
    w->slots[slot] = c;
    if (++w->gens[slot] == 0)
        w->gens[slot] = 1; /* generation 0 is never used: ROUTE_CONN_NONE stays unique */
    return route_conn_make(w->idx, slot, w->gens[slot]);
}

void worker_conn_unregister(struct worker *w, uint64_t ref)
{
    uint32_t slot = route_conn_slot(ref);
    if (slot >= w->n_slots || w->gens[slot] != route_conn_gen(ref))
        return;
    w->slots[slot] = NULL;
    w->gens[slot]++; /* stale references stop matching at once */
    w->free_slots[w->n_free++] = slot;
}

struct conn *worker_conn_lookup(struct worker *w, uint64_t ref)
{
    uint32_t slot = route_conn_slot(ref);
    if (route_conn_worker(ref) != w->idx || slot >= w->n_slots ||
        w->gens[slot] != route_conn_gen(ref))
        return NULL;
    return w->slots[slot];
}

/* ---- mail ---- */

/* Past WORKER_BACKLOG_MAX only frames and announces are dropped (a client
 * retries those). Scrapes and removes are always kept: dropping one would
 * leave a client without its reply or a closed connection's peers in their
 * swarms, and they are bounded elsewhere (HANDLE_SCRAPES_IN_FLIGHT per
 * connection, one full-scrape travel per worker, one remove per closed
 * connection and worker). */
static void park(struct worker *w, unsigned dest, struct mail *m)
{
    if (w->backlog[dest].n >= WORKER_BACKLOG_MAX &&
        (m->kind == MAIL_FRAME || m->kind == MAIL_ANNOUNCE)) {
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
    w->wake[dest] = true;
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
            w->wake[dest] = true;
        }
    }
}

void worker_deliver(struct worker *w, struct frame *f)
{
    unsigned dest = route_conn_worker(f->conn);
    if (dest == w->idx) {
        struct conn *c = worker_conn_lookup(w, f->conn);
        if (c)
            net_conn_enqueue(w, c, f);
        else
            free(f); /* the connection closed meanwhile */
        return;
    }
    if (dest >= w->t->n_workers) {
        free(f);
        return;
    }
    worker_send(w, dest, &f->m);
}

static void publish_stats(struct worker *w)
{
    const struct shard_counts *sc = &w->shard.counts;
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
    stats_set(&w->stats, STATS_SOCKETS, w->n_sockets);
}

void worker_end_pass(struct worker *w)
{
    flush_backlogs(w);
    for (unsigned dest = 0; dest < w->t->n_workers; dest++) {
        if (!w->wake[dest])
            continue;
        w->wake[dest] = false;
        if (dest != w->idx)
            mailbox_wake(&w->t->workers[dest].mb);
    }
    publish_stats(w);
}

static void begin_stop(struct worker *w)
{
    w->stopping = true;
    w->stop_deadline_ms = w->now_ms + WORKER_STOP_GRACE_MS;
    for (unsigned k = 0; k < w->n_listen; k++)
        if (w->listen_wsi[k])
            lws_set_timeout(w->listen_wsi[k], PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
    for (uint32_t s = 0; s < w->n_slots; s++)
        if (w->slots[s])
            net_conn_close(w->slots[s], LWS_CLOSE_STATUS_GOINGAWAY);
}

void worker_on_wakeup(struct worker *w)
{
    struct mail *m;
    unsigned n = 0;
    worker_clock(w);
    if (atomic_load(&w->stop) && !w->stopping)
        begin_stop(w);
    mailbox_begin_drain(&w->mb);
    while (n < WORKER_DRAIN_BUDGET && (m = mailbox_pop(&w->mb)) != NULL) {
        handle_mail(w, m);
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
        if (t->workers[k].ctx)
            lws_cancel_service(t->workers[k].ctx);
    }
}

/* ---- accepting ---- */

void worker_accept(struct worker *w, int listen_fd)
{
    for (int k = 0; k < WORKER_ACCEPT_BATCH; k++) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if ((errno == EMFILE || errno == ENFILE) && w->reserve_fd >= 0) {
                /* Out of descriptors: free the reserve, accept and drop one
                 * connection, take the reserve back. Never spin on EMFILE. */
                close(w->reserve_fd);
                fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd >= 0)
                    close(fd);
                w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                stats_add(&w->stats, STATS_CONNECTIONS_REFUSED, 1);
                continue;
            }
            return; /* EAGAIN, or an error of the pending connection */
        }
        if (w->stopping) {
            close(fd);
            continue;
        }
        if (atomic_load(&w->t->sockets) >= w->t->max_connections) {
            /* Every socket counts, whatever it is doing (issue 9): past the
             * cap a new one gets a one-line 503 and is closed. */
            const struct proto_http_verdict v = {503, "too many connections", NULL, ""};
            char reply[PROTO_HTTP_REFUSAL_MAX];
            int n = proto_http_refusal(reply, sizeof reply, &v);
            if (n > 0)
                (void)send(fd, reply, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
            close(fd);
            stats_add(&w->stats, STATS_CONNECTIONS_REFUSED, 1);
            continue;
        }
        struct lws *wsi = lws_adopt_socket_vhost(w->vh, fd);
        if (!wsi) {
            stats_add(&w->stats, STATS_CONNECTIONS_REFUSED, 1);
            continue;
        }
        /* lws sets no timeout on adopted sockets: bound the time a client may
         * take to send its request (slowloris); cleared when the upgrade ends.
         * net.c's own deadline covers the states lws keeps without one. */
        lws_set_timeout(wsi, PENDING_TIMEOUT_HOLDING_AH, (int)w->t->cfg.handshake_timeout);
        net_sock_adopted(w, wsi);
    }
}

/* ---- the thread ---- */

/* Close connections without a complete message for idle_timeout: a bounded
 * number of slots per tick, so the whole table is covered every few seconds. */
static void idle_sweep(struct worker *w)
{
    int64_t limit = (int64_t)w->t->cfg.idle_timeout * 1000;
    for (uint32_t k = 0; k < WORKER_IDLE_BUDGET && w->n_slots; k++) {
        struct conn *c;
        if (w->idle_cursor >= w->n_slots)
            w->idle_cursor = 0;
        c = w->slots[w->idle_cursor++];
        if (c && !c->close_code && w->now_ms - c->last_msg_ms >= limit)
            net_conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY);
    }
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
    struct worker *w = (struct worker *)(void *)((char *)sul - offsetof(struct worker, tick));
    worker_clock(w);
    if (atomic_load(&w->stop) && !w->stopping)
        begin_stop(w);
    if (w->stopping && (w->now_ms >= w->stop_deadline_ms || w->n_slots == w->n_free)) {
        w->exit_loop = true;
        ev_break(w->loop, EVBREAK_ALL);
        return;
    }
    shard_expire_step(&w->shard, w->now_ms, WORKER_EXPIRE_BUDGET);
    idle_sweep(w);
    net_sock_sweep(w);
    worker_end_pass(w);
    lws_sul_schedule(w->ctx, 0, &w->tick, on_tick,
                     (w->stopping ? 20 : WORKER_TICK_MS) * LWS_US_PER_MS);
}

/* No lws "validity" pings. lws 4.1 otherwise schedules a timer per WebSocket
 * (ping after 300 s without a PONG, hang up at 310 s) on one sorted linked list
 * per context, inserted by walking from its head: every connection's insert is
 * O(connections), so 10,000 idle connections per worker cost seconds of CPU
 * when they connect and again every 300 s (bench/results idle runs). Liveness
 * is the tracker's idle timeout instead: clients announce every interval. */
static const lws_retry_bo_t no_validity_timer = {
    .secs_since_valid_ping = 0,
    .secs_since_valid_hangup = 0,
};

static int create_context(struct worker *w)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    /* libev (epoll) instead of lws's default poll(): poll() walks every socket
     * on every wakeup, O(connections) per event (bench/results). The loop is
     * ours ("foreign") so the worker can break it to stop. */
    w->loop = ev_loop_new(EVBACKEND_EPOLL);
    if (!w->loop)
        return -1;
    w->foreign_loops[0] = w->loop;
    /* No LWS_SERVER_OPTION_VALIDATE_UTF8: lws checks text frames a byte at a
     * time (3-4 % of the server's CPU in a profile); the scanner checks every
     * string anyway, and handle_message checks what it rejects (1007). */
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS |
                   LWS_SERVER_OPTION_LIBEV;
    info.foreign_loops = w->foreign_loops;
    info.user = w;
    info.count_threads = 1;
    info.timeout_secs = w->t->cfg.handshake_timeout;
    w->ctx = lws_create_context(&info);
    if (!w->ctx)
        return -1;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = net_worker_protocols(w);
    info.vhost_name = "wstracker";
    info.retry_and_idle_policy = &no_validity_timer;
    w->vh = lws_create_vhost(w->ctx, &info);
    return w->vh ? 0 : -1;
}

void *worker_main(void *arg)
{
    struct worker *w = arg;
    char name[16];
    snprintf(name, sizeof name, "worker-%02u", w->idx);
    pthread_setname_np(pthread_self(), name);

    w->start_err = create_context(w);
    w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pthread_barrier_wait(&w->t->start_barrier);
    if (w->start_err)
        goto out;
    for (unsigned k = 0; k < w->n_listen; k++) {
        lws_sock_file_fd_type u;
        u.filefd = w->listen_fds[k];
        w->listen_wsi[k] = lws_adopt_descriptor_vhost(w->vh, LWS_ADOPT_RAW_FILE_DESC, u,
                                                      NET_PROTOCOL_LISTEN, NULL);
        if (!w->listen_wsi[k]) {
            fprintf(stderr, "wstracker: worker %u could not adopt its listening socket\n", w->idx);
            w->start_err = -1;
            atomic_store(&w->stop, true);
        }
    }
    lws_sul_schedule(w->ctx, 0, &w->tick, on_tick, WORKER_TICK_MS * LWS_US_PER_MS);
    while (!w->exit_loop)
        ev_run(w->loop, 0);
out:
    return NULL; /* main destroys the context once every worker has stopped */
}
