/* turn.h - TURN credentials in the TURN REST API scheme (coturn's use-auth-secret).
 *
 * Owns:   the username, the credential and the iceServers JSON that GET /turn
 *         returns (PROTOCOL.md section 8).
 * Thread: any; pure functions of their arguments (no clock, no I/O).
 * Why:    a TURN server configured with static-auth-secret S accepts username
 *         "<expiry>:<anything>" with password base64(HMAC-SHA1(S, username))
 *         until expiry (Unix seconds); the tracker hands these out so peers
 *         that WebRTC cannot connect directly can relay through TURN. HMAC-SHA1
 *         comes from OpenSSL's libcrypto (libsodium has no SHA-1; libwebsockets
 *         links libcrypto already), base64 from libsodium.
 */
#ifndef WSTRACKER_TURN_H
#define WSTRACKER_TURN_H

#include <stddef.h>
#include <stdint.h>

#define TURN_USERNAME_MAX   64  /* "<20 digits>:<40 hex>" and a NUL */
#define TURN_CREDENTIAL_MAX 32  /* base64 of 20 bytes (28) and a NUL */
#define TURN_URLS_MAX       4   /* --turn-url may repeat this many times */
#define TURN_URL_MAX        256 /* bytes of one URL */

/* "<expiry>:<peer_id as 40 hex digits>" into out; returns its length, or -1
 * when cap is too small. */
int turn_username(char *out, size_t cap, uint64_t expiry, const uint8_t peer_id[20]);

/* base64(HMAC-SHA1(secret, username)) into out (NUL-terminated); returns its
 * length, or -1 on failure. */
int turn_credential(char *out, size_t cap, const char *secret, size_t secret_len,
                    const char *username);

/* True when url can go into JSON as it is and is a TURN/STUN URL: it starts
 * with "turn:", "turns:" or "stun:", is printable ASCII without '"' or '\\',
 * and shorter than TURN_URL_MAX. */
int turn_url_ok(const char *url);

/* [{"urls":[<urls>],"username":<u>,"credential":<c>}] into buf (the value of
 * an announce response's "ice_servers"); returns its length, or -1 when cap is
 * too small. */
int turn_write_servers(char *buf, size_t cap, const char *const *urls, unsigned n_urls,
                       const char *username, const char *credential);
/* The most turn_write_servers writes for n_urls URLs. */
#define TURN_SERVERS_MAX(n_urls)                                                                   \
    (64 + (size_t)(n_urls) * (TURN_URL_MAX + 3) + TURN_USERNAME_MAX + TURN_CREDENTIAL_MAX)

/* {"iceServers":[{"urls":[<urls>],"username":<u>,"credential":<c>}],"ttl":<ttl>}
 * into buf; returns its length, or -1 when cap is too small. urls must pass
 * turn_url_ok; username and credential are what the functions above wrote. */
int turn_write_reply(char *buf, size_t cap, const char *const *urls, unsigned n_urls,
                     const char *username, const char *credential, unsigned ttl);

#endif
