/* fuzz_realip.c - libFuzzer target: client addresses from X-Forwarded-For
 * (access/realip.c).
 *
 * Owns:   nothing; the input is split at its first two NUL bytes into an
 *         X-Forwarded-For value, a second one (unused since Forwarded is
 *         not read; kept so the corpus stays valid) and an address/CIDR text.
 *         Checks: nothing crashes or reads past its input; from an untrusted
 *         peer the headers never change the answer; from a trusted one an
 *         answer other than the peer formats and parses back to itself; any
 *         address that parses formats and parses back to itself; a CIDR that
 *         parses matches its own address.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "realip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 3), *xff, *fwd, *addr;
    struct ip_cidr t[2];
    struct ip_addr peer, stranger, who, a, back;
    char txt[REALIP_TEXT_MAX];
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = buf[size + 1] = buf[size + 2] = '\0';
    xff = buf;
    fwd = xff + strlen(xff) + 1;
    if (fwd > buf + size)
        fwd = buf + size + 1;
    addr = fwd + strlen(fwd) + 1;
    if (addr > buf + size + 1)
        addr = buf + size + 2;
    CHECK(ip_cidr_parse("127.0.0.9", &t[0]) == 0 && ip_cidr_parse("10.0.0.0/8", &t[1]) == 0);
    CHECK(ip_parse("127.0.0.9", 9, &peer) == 0 && ip_parse("192.0.2.1", 9, &stranger) == 0);

    who = realip(&stranger, xff, t, 2);
    CHECK(memcmp(&who, &stranger, sizeof who) == 0);
    who = realip(&peer, xff, t, 2);
    (void)fwd;
    if (memcmp(&who, &peer, sizeof who) != 0) {
        CHECK(ip_format(&who, txt, sizeof txt) > 0);
        CHECK(ip_parse(txt, strlen(txt), &back) == 0 && memcmp(&back, &who, sizeof who) == 0);
    }
    (void)ip_cap_key(&who);

    if (ip_parse(addr, strlen(addr), &a) == 0) {
        CHECK(ip_format(&a, txt, sizeof txt) > 0);
        CHECK(ip_parse(txt, strlen(txt), &back) == 0 && memcmp(&a, &back, sizeof a) == 0);
    }
    if (ip_cidr_parse(addr, &t[0]) == 0) {
        CHECK(t[0].len <= 128);
        CHECK(ip_cidr_match(&t[0], &t[0].a));
    }
    free(buf);
    return 0;
}
