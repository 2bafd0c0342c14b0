/* fuzz_turn.c - libFuzzer target: TURN credentials and the GET /turn reply
 * (access/turn.c).
 *
 * Owns:   nothing. The input is split into a secret, a peer_id (20 bytes), an
 *         expiry and up to 4 candidate URLs. Checks: nothing crashes or writes
 *         past its buffer; the username is "<expiry>:<40 hex>"; the credential
 *         is 28 base64 characters and the same for the same input; only URLs
 *         that turn_url_ok accepts are written, and the reply written within
 *         TURN_SERVERS_MAX is a JSON text the project's scanner reads without
 *         a syntax error (wrapped as a message), whose bytes are printable
 *         ASCII.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "scan.h"
#include "turn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char user[TURN_USERNAME_MAX], cred[TURN_CREDENTIAL_MAX], cred2[TURN_CREDENTIAL_MAX];
    char urlbuf[TURN_URLS_MAX][TURN_URL_MAX + 8];
    const char *urls[TURN_URLS_MAX];
    unsigned n_urls = 0;
    uint8_t pid[20] = {0};
    uint64_t expiry = 0;
    size_t slen, off;
    char *reply;
    int n;
    if (size < 29)
        return 0;
    memcpy(pid, data, 20);
    memcpy(&expiry, data + 20, 8);
    slen = data[28] % 64;
    off = 29;
    if (off + slen > size)
        slen = size - off;
    n = turn_username(user, sizeof user, expiry, pid);
    CHECK(n > 41 && (size_t)n == strlen(user) && user[n - 41] == ':');
    for (int k = n - 40; k < n; k++)
        CHECK((user[k] >= '0' && user[k] <= '9') || (user[k] >= 'a' && user[k] <= 'f'));
    CHECK(turn_credential(cred, sizeof cred, (const char *)data + off, slen, user) == 28);
    CHECK(turn_credential(cred2, sizeof cred2, (const char *)data + off, slen, user) == 28);
    CHECK(strcmp(cred, cred2) == 0);
    off += slen;
    /* The rest: candidate URLs separated by NUL bytes. */
    while (off < size && n_urls < TURN_URLS_MAX) {
        const uint8_t *e = memchr(data + off, 0, size - off);
        size_t len = e ? (size_t)(e - (data + off)) : size - off;
        if (len < sizeof urlbuf[0]) {
            memcpy(urlbuf[n_urls], data + off, len);
            urlbuf[n_urls][len] = '\0';
            if (turn_url_ok(urlbuf[n_urls])) {
                for (size_t k = 0; k < len; k++)
                    CHECK(urlbuf[n_urls][k] >= 0x20 && urlbuf[n_urls][k] < 0x7f &&
                          urlbuf[n_urls][k] != '"' && urlbuf[n_urls][k] != '\\');
                urls[n_urls] = urlbuf[n_urls];
                n_urls++;
            }
        }
        off += len + 1;
    }
    reply = malloc(TURN_SERVERS_MAX(TURN_URLS_MAX) + 64);
    if (!reply)
        return 0;
    n = turn_write_servers(reply, TURN_SERVERS_MAX(n_urls), urls, n_urls, user, cred);
    CHECK(n > 0 && (size_t)n < TURN_SERVERS_MAX(n_urls) && reply[0] == '[' && reply[n - 1] == ']');
    for (int k = 0; k < n; k++)
        CHECK(reply[k] >= 0x20 && reply[k] < 0x7f);
    {
        /* As JSON: wrapped in a message, the scanner finds no syntax error. */
        static struct proto_request req;
        size_t cap = (size_t)n + 64;
        char *msg = malloc(cap);
        int m;
        if (msg) {
            m = snprintf(msg, cap, "{\"action\":\"announce\",\"x\":%.*s}", n, reply);
            CHECK(m > 0 && (size_t)m < cap);
            CHECK(proto_scan_request(msg, (size_t)m, 1, &req) != PROTO_ERR_JSON);
            free(msg);
        }
    }
    CHECK(turn_write_servers(reply, (size_t)n, urls, n_urls, user, cred) == -1); /* no room: -1 */
    n = turn_write_reply(reply, TURN_SERVERS_MAX(n_urls) + 64, urls, n_urls, user, cred, 3600);
    CHECK(n > 0 && reply[0] == '{' && reply[n - 1] == '}');
    free(reply);
    return 0;
}
