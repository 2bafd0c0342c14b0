/* handle.h - what the tracker does with a message: scan, route, apply, reply.
 *
 * Owns:   the request flow of docs/ARCHITECTURE.md "A message's way through":
 *         a connection's registrations, routing to the owning shard, frame
 *         building around forwarded bytes, scrape travel, close cleanup.
 * Thread: the worker passed in; it touches only its own shard and connections
 *         and reaches others through worker_send/worker_deliver.
 * Why:    handlers compute, loops send (aquatic): net.c stays a dispatcher.
 * Seam:   handle.c reaches sockets and other threads only through frame_alloc,
 *         worker_deliver, worker_send (worker.c), net_conn_enqueue and
 *         net_conn_close (net.c); tests/fuzz/fuzz_handle.c links handle.c with
 *         its own versions of those five and runs the handler in memory. Keep
 *         it that way.
 */
#ifndef WSTRACKER_HANDLE_H
#define WSTRACKER_HANDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"
#include "worker.h"

/* One complete message from connection c; text: it came in text frames. */
void handle_message(struct worker *w, struct conn *c, const char *msg, size_t len, bool text);

/* An announce for a swarm this worker owns (from a local connection or a mail). */
void handle_announce(struct worker *w, const struct proto_announce *a, const char *msg,
                     uint64_t conn, bool ipv6);

#define HANDLE_SCRAPES_IN_FLIGHT    4     /* list scrapes one connection may have travelling */
#define HANDLE_SCRAPE_LOST_MS       10000 /* a scrape not back by then is taken as lost */
#define HANDLE_FULL_SCRAPE_CACHE_MS 1000  /* a full scrape's reply is reused this long */
#define HANDLE_FULL_SCRAPE_WAITERS  4096  /* connections waiting on one worker's full scrape */
#define HANDLE_FULL_SCRAPE_CHUNK    4096  /* first allocation of a full scrape's text */

/* A list scrape arriving at this worker: fill in, forward or answer. Takes ownership. */
void handle_scrape(struct worker *w, struct mail_scrape *s);

/* A full scrape travelling through the workers, or back at its origin. Takes ownership. */
void handle_full_scrape(struct worker *w, struct mail_full_scrape *m);

/* A closed connection's peers owned by this worker. Takes ownership. */
void handle_remove(struct worker *w, struct mail_remove *m);

/* A mail from another worker, of any kind. Takes ownership. */
void handle_mail(struct worker *w, struct mail *m);

/* Connection c is closing: drop its peers everywhere, free its registrations. */
void handle_conn_closed(struct worker *w, struct conn *c);

#endif
