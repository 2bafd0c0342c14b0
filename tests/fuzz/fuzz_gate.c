/* fuzz_gate.c - libFuzzer target: the HTTP/WebSocket admission rules (proto/gate.c).
 *
 * Owns:   nothing; feeds hostile header values to proto_upgrade_check,
 *         proto_http_check, proto_http_refusal and proto_close_check.
 * Why:    issue 9: these rules decide what becomes a WebSocket; they must never
 *         crash, read past a header, or admit what PROTOCOL.md section 1 refuses.
 *
 * Input: up to 8 fields separated by '\n': method, version, upgrade,
 * connection, ws_version, ws_key, protocols, host; a field "-" is an absent
 * header. The whole input is also judged as a close-frame payload.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gate.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[4096], *fields[8] = {0}, *p = buf;
    struct proto_http_req r;
    struct proto_http_verdict v;
    char out[PROTO_HTTP_REFUSAL_MAX];
    unsigned n = 0;
    enum proto_close_verdict cv = proto_close_check(data, size);
    CHECK(cv == PROTO_CLOSE_ECHO || cv == PROTO_CLOSE_PROTOCOL || cv == PROTO_CLOSE_FAIL);
    CHECK(size != 1 || cv == PROTO_CLOSE_FAIL);

    if (size >= sizeof buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (strlen(buf) != size)
        return 0; /* header values never hold NUL */
    while (n < 8) {
        char *nl = strchr(p, '\n');
        fields[n++] = p;
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    for (unsigned k = 0; k < 8; k++)
        if (fields[k] && strcmp(fields[k], "-") == 0)
            fields[k] = NULL;
    memset(&r, 0, sizeof r);
    r.method = fields[0] ? fields[0] : "GET";
    r.version = fields[1];
    r.upgrade = fields[2];
    r.connection = fields[3];
    r.ws_version = fields[4];
    r.ws_key = fields[5];
    r.protocols = fields[6];
    r.host = fields[7];

    proto_upgrade_check(&r, &v);
    CHECK(v.status == 0 || v.status == 400 || v.status == 405 || v.status == 426);
    if (v.status == 0) {
        size_t sl = strlen(v.subprotocol);
        /* admitted: exactly the rules of PROTOCOL.md section 1 */
        CHECK(strcmp(r.method, "GET") == 0);
        CHECK(r.version && strcmp(r.version, "HTTP/1.1") == 0);
        CHECK(r.upgrade && strcasecmp(r.upgrade, "websocket") == 0);
        CHECK(r.ws_version && strcmp(r.ws_version, "13") == 0);
        CHECK(r.ws_key && strlen(r.ws_key) == 24);
        CHECK(r.host && *r.host);
        CHECK(sl <= PROTO_SUBPROTOCOL_MAX);
        if (r.protocols) {
            const char *q = r.protocols;
            CHECK(sl > 0);
            for (size_t k = 0; k < sl; k++)
                CHECK(is_tchar(v.subprotocol[k]));
            while (*q == ' ' || *q == '\t')
                q++;
            CHECK(strncmp(q, v.subprotocol, sl) == 0 && !is_tchar(q[sl]));
        } else {
            CHECK(sl == 0);
        }
    } else {
        int len = proto_http_refusal(out, sizeof out, &v);
        CHECK(v.reason && !strchr(v.reason, '\n'));
        CHECK(len > 0 && (size_t)len < sizeof out);
        CHECK(strncmp(out, "HTTP/1.1 ", 9) == 0);
    }
    proto_http_check(&r, &v);
    CHECK(v.status == 0 || v.status == 405);
    CHECK((v.status == 0) == (!strcmp(r.method, "GET") || !strcmp(r.method, "HEAD")));
    return 0;
}
