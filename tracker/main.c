/* main.c - flags, config, start/stop workers, signals.
 *
 * Owns:   struct tracker, the listening sockets, the process's signal handling.
 * Thread: main; it starts the workers, then waits for SIGINT/SIGTERM.
 * Why:    every listening socket is made here (SO_REUSEPORT, one per worker and
 *         address) so a port chosen by the kernel (port 0) is shared by all
 *         workers, and startup errors surface before "listening on".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "config.h"
#include "file.h"
#include "log.h"
#include "net.h"
#include "route.h"
#include "worker.h"
#ifdef WSTRACKER_JEMALLOC_LINKED
#include "jemalloc_conf.h"
#endif

#define LISTEN_BACKLOG   1024
#define FD_RESERVE       64   /* descriptors kept for listeners, pipes, logs */
#define MEM_PER_PEER_CAP 4096 /* bytes of physical memory per peer of the default cap */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Raise the soft open-file limit to the hard one (as nginx does) and derive the
 * connection capacity from it. */
static uint64_t connection_capacity(const struct config *cfg)
{
    struct rlimit rl;
    uint64_t cap;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    cap = rl.rlim_cur > FD_RESERVE * 2 ? (uint64_t)rl.rlim_cur - FD_RESERVE : FD_RESERVE;
    if (cfg->max_connections && cfg->max_connections < cap)
        cap = cfg->max_connections;
    log_msg(LOG_INFO, "open-file limit %llu, connection capacity %llu",
            (unsigned long long)rl.rlim_cur, (unsigned long long)cap);
    return cap;
}

/* One listening socket; *port is filled in when it was 0. */
static int open_listener(const struct config_listen *l, uint16_t *port, char *err, size_t errlen)
{
    struct addrinfo hints, *ai = NULL;
    char ports[8];
    int fd = -1, one = 1, rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(ports, sizeof ports, "%u", *port);
    if ((rc = getaddrinfo(l->host, ports, &hints, &ai)) != 0) {
        snprintf(err, errlen, "%s: %s", l->host, gai_strerror(rc));
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        goto fail;
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0)
        goto fail;
    if (*port == 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        getsockname(fd, (struct sockaddr *)&ss, &sl);
        *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    }
    freeaddrinfo(ai);
    return fd;
fail:
    snprintf(err, errlen, "%s:%u: %s", l->host, *port, strerror(errno));
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return -1;
}

/* The process-wide peer and swarm caps: as configured, or one per 4 KiB of
 * physical memory (a peer costs about 1 KiB with its registration, so the
 * default cap keeps peers within a quarter of the machine). */
static void peer_caps(struct tracker *t)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    uint64_t mem = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 1ull << 30;
    uint64_t def = mem / MEM_PER_PEER_CAP;
    t->max_peers = t->cfg.max_peers ? t->cfg.max_peers : def;
    t->max_swarms = t->cfg.max_swarms ? t->cfg.max_swarms : t->max_peers;
    log_msg(LOG_INFO, "peer cap %llu, swarm cap %llu", (unsigned long long)t->max_peers,
            (unsigned long long)t->max_swarms);
}

static unsigned default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > WORKER_MAX ? WORKER_MAX : (unsigned)n;
}

/* ---- init / start / stop / deinit: main's one error path ---- */

/* Caps, routing, workers and their listening sockets. On failure what was made
 * stays recorded in t (n_created, listen fds) for tracker_deinit. */
static int tracker_init(struct tracker *t, uint16_t ports[WORKER_LISTEN_MAX])
{
    t->n_workers = t->cfg.threads ? t->cfg.threads : default_threads();
    t->max_connections = connection_capacity(&t->cfg);
    peer_caps(t);
    t->started_ms = now_ms();
    atomic_init(&t->connections, 0);
    atomic_init(&t->sockets, 0);
    t->io = &net_io;
#ifdef WSTRACKER_JEMALLOC_LINKED
    t->alloc_stats = jemalloc_stats; /* /metrics: jemalloc_*_bytes */
#endif
    route_create(&t->route, t->n_workers);
    {
        uint8_t key[16];
        randombytes_buf(key, sizeof key); /* so no client can aim at another's slots */
        ipcount_init(&t->ipcount, key);
    }
    t->workers = calloc(t->n_workers, sizeof *t->workers);
    if (!t->workers) {
        log_msg(LOG_ERROR, "out of memory");
        return -1;
    }
    for (; t->n_created < t->n_workers; t->n_created++) {
        if (worker_create(&t->workers[t->n_created], t, t->n_created) != 0) {
            log_msg(LOG_ERROR, "out of memory");
            return -1;
        }
    }
    /* ws:// addresses, then wss:// ones: the order each worker adopts them in. */
    for (unsigned l = 0; l < t->cfg.n_listen + t->cfg.n_listen_tls; l++) {
        const struct config_listen *cl =
            l < t->cfg.n_listen ? &t->cfg.listen[l] : &t->cfg.listen_tls[l - t->cfg.n_listen];
        ports[l] = cl->port;
        for (unsigned k = 0; k < t->n_workers; k++) {
            char e[256];
            int fd = open_listener(cl, &ports[l], e, sizeof e);
            if (fd < 0) {
                log_msg(LOG_ERROR, "cannot listen on %s", e);
                return -1;
            }
            t->workers[k].listen_fds[t->workers[k].n_listen++] = fd;
        }
    }
    return 0;
}

/* Start every worker thread and wait until each has started its network side. */
static int tracker_start(struct tracker *t)
{
    pthread_barrier_init(&t->start_barrier, NULL, t->n_workers + 1);
    t->barrier_made = true;
    for (; t->n_started < t->n_workers; t->n_started++) {
        if (pthread_create(&t->workers[t->n_started].thread, NULL, worker_main,
                           &t->workers[t->n_started])) {
            /* The threads already started wait at the barrier for this one:
             * nothing can be unwound in order, so leave at once. */
            log_msg(LOG_ERROR, "cannot start worker %u", t->n_started);
            exit(1);
        }
    }
    pthread_barrier_wait(&t->start_barrier);
    for (unsigned k = 0; k < t->n_workers; k++) {
        if (t->workers[k].start_err) {
            log_msg(LOG_ERROR, "a worker failed to start");
            return -1;
        }
    }
    return 0;
}

/* ---- info-hash lists (--allow-hashes, --deny-hashes) ---- */

/* Read and parse one list file; NULL with a reason in err. */
static struct hashlist *read_list(const char *path, char *err, size_t cap)
{
    char why[HASHLIST_ERR_LEN];
    struct hashlist *l = NULL;
    size_t n;
    char *text = read_file(path, HASHLIST_FILE_MAX, &n, err, cap);
    if (text && hashlist_parse(text, n, &l, why) != 0) {
        snprintf(err, cap, "%s: %s", path, why);
        l = NULL;
    }
    free(text);
    return l;
}

/* Wait (at most 5 s) until every running worker has ticked since now: none
 * of them still holds a list pointer it loaded before. */
static bool workers_quiesced(struct tracker *t)
{
    uint64_t seen[64];
    unsigned n = t->n_started < 64 ? t->n_started : 64;
    for (unsigned k = 0; k < n; k++)
        seen[k] = atomic_load_explicit(&t->workers[k].ticks, memory_order_seq_cst);
    for (int tries = 0; tries < 500; tries++) {
        unsigned done = 0;
        for (unsigned k = 0; k < n; k++)
            done += atomic_load_explicit(&t->workers[k].ticks, memory_order_seq_cst) != seen[k];
        if (done == n)
            return true;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    return false;
}

/* Load both lists (at start: any error stops the tracker; on SIGHUP the old
 * lists stay when either file is bad). Returns 0 or -1. */
static int load_lists(struct tracker *t, bool at_start)
{
    char err[CONFIG_PATH + HASHLIST_ERR_LEN + 64];
    struct hashlist *allow = NULL, *deny = NULL, *old_allow, *old_deny;
    if (t->cfg.allow_hashes[0] && !(allow = read_list(t->cfg.allow_hashes, err, sizeof err)))
        goto bad;
    if (t->cfg.deny_hashes[0] && !(deny = read_list(t->cfg.deny_hashes, err, sizeof err)))
        goto bad;
    old_allow = atomic_exchange_explicit(&t->allow_hashes, allow, memory_order_seq_cst);
    old_deny = atomic_exchange_explicit(&t->deny_hashes, deny, memory_order_seq_cst);
    if (t->cfg.allow_hashes[0] || t->cfg.deny_hashes[0])
        log_msg(LOG_INFO, "info-hash lists: allow %s (%u), deny %s (%u)",
                allow ? t->cfg.allow_hashes : "-", allow ? allow->n : 0,
                deny ? t->cfg.deny_hashes : "-", deny ? deny->n : 0);
    if (old_allow || old_deny) {
        if (workers_quiesced(t)) {
            hashlist_free(old_allow);
            hashlist_free(old_deny);
        } else {
            log_msg(LOG_WARN, "a worker did not tick within 5 s: old lists kept");
        }
    }
    return 0;
bad:
    log_msg(LOG_ERROR, at_start ? "%s" : "SIGHUP: %s; lists unchanged", err);
    hashlist_free(allow);
    return -1;
}

/* ---- access tokens (--auth-jwks, --auth-pubkey, --auth-hs256-secret-file, --revoked) ---- */

#define AUTH_FILE_MAX (1u << 20) /* bytes of a key or revoked-list file */

static bool auth_on(const struct config *c)
{
    return c->auth_jwks[0] || c->auth_pubkey[0] || c->auth_secret_file[0];
}

/* Read one key or list file into a with add(); 0 or -1 with err. */
static int auth_file(struct jwt_auth *a, const char *path, int kind, char *err, size_t cap)
{
    char why[JWT_ERR_LEN];
    size_t n;
    char *text = read_file(path, AUTH_FILE_MAX, &n, err, cap);
    int r = -1;
    if (!text)
        return -1;
    switch (kind) {
    case 0: r = jwt_keys_add_jwks(&a->keys, text, n, why); break;
    case 1: r = jwt_keys_add_pubkey(&a->keys, text, n, why); break;
    case 2: /* a secret written by echo or an editor ends in one newline */
        if (n && text[n - 1] == '\n')
            n--;
        if (n && text[n - 1] == '\r')
            n--;
        r = jwt_keys_add_secret(&a->keys, (const uint8_t *)text, n, why);
        sodium_memzero(text, n);
        break;
    default: r = jwt_revoked_parse(text, n, &a->revoked, why); break;
    }
    if (r != 0)
        snprintf(err, cap, "%s: %s", path, why);
    free(text);
    return r;
}

/* Build the token settings (at start: an error stops the tracker; on SIGHUP
 * the old ones stay when any file is bad). Returns 0 or -1. */
static int load_auth(struct tracker *t, bool at_start)
{
    char err[CONFIG_PATH + JWT_ERR_LEN + 64];
    const struct config *c = &t->cfg;
    struct jwt_auth *a, *old;
    if (!auth_on(c)) /* --revoked etc. without a key: config_load refused them */
        return 0;
    if (!(a = calloc(1, sizeof *a)))
        return -1;
    if ((c->auth_jwks[0] && auth_file(a, c->auth_jwks, 0, err, sizeof err) != 0) ||
        (c->auth_pubkey[0] && auth_file(a, c->auth_pubkey, 1, err, sizeof err) != 0) ||
        (c->auth_secret_file[0] && auth_file(a, c->auth_secret_file, 2, err, sizeof err) != 0) ||
        (c->revoked[0] && auth_file(a, c->revoked, 3, err, sizeof err) != 0)) {
        log_msg(LOG_ERROR, at_start ? "%s" : "SIGHUP: %s; token keys unchanged", err);
        jwt_auth_free(a);
        return -1;
    }
    a->policy.keys = &a->keys;
    a->policy.revoked = &a->revoked;
    a->policy.issuer = c->auth_issuer;
    a->policy.audience = c->auth_audience;
    a->policy.leeway_s = c->auth_leeway;
    old = atomic_exchange_explicit(&t->auth, a, memory_order_seq_cst);
    log_msg(LOG_INFO, "access tokens required: %u trusted keys, %u revoked", a->keys.n,
            a->revoked.n);
    if (old) {
        if (workers_quiesced(t))
            jwt_auth_free(old);
        else
            log_msg(LOG_WARN, "a worker did not tick within 5 s: old token keys kept");
    }
    return 0;
}

/* ---- TLS certificate (--tls-cert, --tls-key) ---- */

#define TLS_FILE_MAX (1u << 20) /* bytes of a certificate (chain) or key file */
#define TLS_POLL_S   2          /* seconds between checks of the files for a change */

/* What a file looked like when last loaded (or tried): a change of any of
 * these is a new file (certbot renames a new one in; Caddy rewrites in place). */
struct file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    bool exists;
};

static struct file_id file_id_of(const char *path)
{
    struct stat st;
    struct file_id id;
    memset(&id, 0, sizeof id);
    if (stat(path, &st) == 0) {
        id.dev = st.st_dev;
        id.ino = st.st_ino;
        id.size = st.st_size;
        id.mtime = st.st_mtim;
        id.exists = true;
    }
    return id;
}

static bool file_id_eq(const struct file_id *a, const struct file_id *b)
{
    return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static struct file_id tls_cert_id, tls_key_id; /* main only */

/* Wait (at most 5 s) until every running worker serves generation gen: none
 * of them still reads the struct net_tls before it. */
static bool workers_serve_tls(struct tracker *t, uint64_t gen)
{
    for (int tries = 0; tries < 500; tries++) {
        unsigned done = 0;
        for (unsigned k = 0; k < t->n_started; k++)
            done += atomic_load_explicit(&t->workers[k].tls_gen, memory_order_seq_cst) == gen;
        if (done == t->n_started)
            return true;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    return false;
}

/* Load and check the certificate and key (at start: an error stops the
 * tracker; later the old pair stays when either file is bad). why: "" at
 * start, else what asked ("SIGHUP", "file change"). Returns 0 or -1. */
static int load_tls(struct tracker *t, const char *why)
{
    char err[2 * CONFIG_PATH + 600], date[64];
    const struct config *c = &t->cfg;
    size_t cn = 0, kn = 0;
    char *cert, *key = NULL;
    struct net_tls *n = NULL, *old;
    struct tm tm;
    time_t exp;
    if (!c->tls_cert[0])
        return 0;
    tls_cert_id = file_id_of(c->tls_cert);
    tls_key_id = file_id_of(c->tls_key);
    cert = read_file(c->tls_cert, TLS_FILE_MAX, &cn, err, sizeof err);
    if (cert)
        key = read_file(c->tls_key, TLS_FILE_MAX, &kn, err, sizeof err);
    if (cert && key) {
        char e[512];
        if (!(n = net_tls_make(cert, cn, key, kn, e, sizeof e)))
            snprintf(err, sizeof err, "%s, %s: %s", c->tls_cert, c->tls_key, e);
        else if ((old = atomic_load_explicit(&t->tls, memory_order_seq_cst)) &&
                 net_tls_key_type_changed(old, n, e, sizeof e)) {
            snprintf(err, sizeof err, "%s, %s: %s", c->tls_cert, c->tls_key, e);
            net_tls_free(n);
            n = NULL;
        }
    }
    free(cert);
    if (key) {
        sodium_memzero(key, kn);
        free(key);
    }
    if (!n) {
        if (!why[0])
            log_msg(LOG_ERROR, "TLS: %s", err);
        else
            log_msg(LOG_ERROR, "%s: TLS: %s; certificate unchanged", why, err);
        return -1;
    }
    exp = (time_t)n->not_after;
    gmtime_r(&exp, &tm);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
    old = atomic_exchange_explicit(&t->tls, n, memory_order_seq_cst);
    if (!old) {
        log_msg(LOG_INFO, "TLS certificate: %s, expires %s", n->subject, date);
        return 0;
    }
    if (workers_serve_tls(t, n->gen)) {
        net_tls_free(old);
        log_msg(LOG_INFO, "TLS certificate reloaded: %s, expires %s", n->subject, date);
    } else {
        log_msg(LOG_WARN, "a worker did not take the new TLS certificate within 5 s");
    }
    return 0;
}

/* Every TLS_POLL_S: reload when either file changed since the last try. */
static void poll_tls(struct tracker *t)
{
    struct file_id c = file_id_of(t->cfg.tls_cert), k = file_id_of(t->cfg.tls_key);
    if (!file_id_eq(&c, &tls_cert_id) || !file_id_eq(&k, &tls_key_id))
        (void)load_tls(t, "file change");
}

/* Say where it listens, then wait for SIGINT or SIGTERM; SIGHUP rereads
 * the info-hash lists, token keys and TLS certificate; with TLS, the
 * certificate files are checked for a change every TLS_POLL_S. */
static void tracker_serve(struct tracker *t, const uint16_t ports[WORKER_LISTEN_MAX],
                          const sigset_t *sigs)
{
    const struct timespec poll = {TLS_POLL_S, 0};
    int sig = 0;
    for (unsigned l = 0; l < t->cfg.n_listen + t->cfg.n_listen_tls; l++) {
        bool tls = l >= t->cfg.n_listen;
        const char *h = tls ? t->cfg.listen_tls[l - t->cfg.n_listen].host : t->cfg.listen[l].host;
        char url[128];
        snprintf(url, sizeof url, strchr(h, ':') ? "%s://[%s]:%u" : "%s://%s:%u",
                 tls ? "wss" : "ws", h, ports[l]);
        log_listening(url);
    }
    log_msg(LOG_INFO, "%u worker threads", t->n_workers);
    for (;;) {
        if (t->cfg.tls_cert[0]) {
            sig = sigtimedwait(sigs, NULL, &poll);
            if (sig < 0) {
                if (errno == EAGAIN)
                    poll_tls(t);
                continue;
            }
        } else if (sigwait(sigs, &sig) != 0) {
            break;
        }
        if (sig == SIGINT || sig == SIGTERM)
            break;
        if (sig != SIGHUP)
            continue;
        if (t->cfg.tls_cert[0])
            (void)load_tls(t, "SIGHUP");
        if (t->cfg.allow_hashes[0] || t->cfg.deny_hashes[0])
            (void)load_lists(t, false);
        if (auth_on(&t->cfg))
            (void)load_auth(t, false);
        if (!t->cfg.allow_hashes[0] && !t->cfg.deny_hashes[0] && !auth_on(&t->cfg) &&
            !t->cfg.tls_cert[0])
            log_msg(LOG_INFO, "SIGHUP: nothing to reload");
    }
    log_msg(LOG_INFO, "signal %d, closing connections", sig);
}

/* Ask the started workers to close their connections and wait for them. */
static void tracker_stop(struct tracker *t)
{
    worker_stop_all(t);
    for (unsigned k = 0; k < t->n_started; k++)
        pthread_join(t->workers[k].thread, NULL);
}

/* Free what tracker_init and tracker_start made, however far they got. */
static void tracker_deinit(struct tracker *t)
{
    /* Every network side first: closing a context's connections mails their
     * peers' removal to other workers, whose mailboxes must still exist. */
    for (unsigned k = 0; k < t->n_created; k++)
        t->io->destroy(&t->workers[k]);
    for (unsigned k = 0; k < t->n_created; k++)
        worker_destroy(&t->workers[k]);
    free(t->workers);
    hashlist_free(atomic_load(&t->allow_hashes));
    hashlist_free(atomic_load(&t->deny_hashes));
    jwt_auth_free(atomic_load(&t->auth));
    net_tls_free(atomic_load(&t->tls));
    if (t->barrier_made)
        pthread_barrier_destroy(&t->start_barrier);
}

int main(int argc, char **argv)
{
    static struct tracker t;
    char err[CONFIG_ERR_LEN];
    uint16_t ports[WORKER_LISTEN_MAX];
    sigset_t sigs;
    int rc = cli_main(argc, argv);

    if (rc >= 0) /* wstracker keygen, wstracker token */
        return rc;
    rc = 1;
    enum config_result cr = config_load(&t.cfg, argc, argv, err);
    switch (cr) {
    case CONFIG_EXIT_OK: return 0;
    case CONFIG_EXIT_ERR: fprintf(stderr, "wstracker: %s\n", err); return 2;
    case CONFIG_RUN:
    case CONFIG_CHECK: break;
    }
    /* From here every line goes through the log (configuration errors above
     * are plain text: the format is not known before the configuration is). */
    log_setup((enum log_level)t.cfg.log_level, (enum log_format)t.cfg.log_format);
    if (sodium_init() < 0) {
        log_msg(LOG_ERROR, "libsodium failed to initialise");
        return 1;
    }
    if (cr == CONFIG_CHECK) { /* the files it names too; no socket, no worker */
        rc = load_lists(&t, true) == 0 && load_auth(&t, true) == 0 && load_tls(&t, "") == 0 ? 0 : 2;
        if (rc == 0)
            config_print(&t.cfg, stdout);
        net_tls_free(atomic_load(&t.tls));
        hashlist_free(atomic_load(&t.allow_hashes));
        hashlist_free(atomic_load(&t.deny_hashes));
        jwt_auth_free(atomic_load(&t.auth));
        return rc;
    }
    /* Workers inherit this mask; main takes the signals with sigwait. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    net_log_init(getenv("WSTRACKER_LWS_DEBUG") != NULL, t.cfg.log_format == LOG_FORMAT_JSON);
    /* lws calls mktime() in every worker as it starts a TLS vhost (its
     * certificate lifetime check). Without TZ, glibc's tzset (inside mktime)
     * frees and copies its cached zone name on every call, under a lock of
     * its own that TSan cannot see (it reported two workers racing there).
     * With TZ set to what glibc reads anyway, it keeps the cache. Before any
     * thread exists, so setenv is safe. */
    if (!getenv("TZ"))
        setenv("TZ", ":/etc/localtime", 0);
    tzset();

    if (load_lists(&t, true) == 0 && load_auth(&t, true) == 0 && load_tls(&t, "") == 0 &&
        tracker_init(&t, ports) == 0 && tracker_start(&t) == 0) {
        tracker_serve(&t, ports, &sigs);
        rc = 0;
    }
    tracker_stop(&t);
    tracker_deinit(&t);
    return rc;
}
