/* capture.c - records what clients send, as fuzz_handle input (capture builds).
 *
 * Owns:   the capture file of this process: one line per complete message
 *         ("<d><message>") or close ("x<d>"), d being a digit for the connection.
 * Thread: any worker; each record is one write() on an O_APPEND descriptor, so
 *         lines from different workers never interleave.
 * Why:    issue 5 wants the fuzz corpus seeded from real client traffic; the e2e
 *         suite runs a -DWSTRACKER_CAPTURE=ON tracker (tests/fuzz/capture.sh).
 *         Built only with that option: release binaries do not contain it.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"

#define CAPTURE_LINE_MAX 65536 /* longer messages are not recorded */

static int capture_fd = -1;
static pthread_once_t capture_once = PTHREAD_ONCE_INIT;

static void capture_open(void)
{
    const char *dir = getenv("WSTRACKER_CAPTURE_DIR");
    char path[4096];
    if (!dir || !*dir)
        return;
    snprintf(path, sizeof path, "%s/capture-%ld.txt", dir, (long)getpid());
    capture_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

/* Eight digits, as fuzz_handle has eight connections; the worker's low bit
 * keeps slot 0 of worker 0 and of worker 1 apart. */
static char digit(uint64_t ref)
{
    return (char)('0' + (((route_conn_slot(ref) << 1) | (route_conn_worker(ref) & 1)) & 7));
}

static void record(const char *head, size_t head_len, const char *body, size_t len)
{
    char *line;
    pthread_once(&capture_once, capture_open);
    if (capture_fd < 0 || len > CAPTURE_LINE_MAX || memchr(body, '\n', len))
        return;
    if (!(line = malloc(head_len + len + 1)))
        return;
    memcpy(line, head, head_len);
    memcpy(line + head_len, body, len);
    line[head_len + len] = '\n';
    if (write(capture_fd, line, head_len + len + 1) < 0) {
        /* best effort: a capture is a test aid */
    }
    free(line);
}

void capture_message(uint64_t ref, const char *msg, size_t len)
{
    char d = digit(ref);
    record(&d, 1, msg, len);
}

void capture_close(uint64_t ref)
{
    char x[2] = {'x', digit(ref)};
    record(x, 2, "", 0);
}
