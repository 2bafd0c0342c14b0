/* capture.h - records client messages as fuzz corpus (WSTRACKER_CAPTURE builds).
 *
 * Owns:   nothing the tracker needs: with the option off both calls compile away.
 * Thread: any worker.
 * Why:    see capture.c; env WSTRACKER_CAPTURE_DIR names the directory.
 */
#ifndef WSTRACKER_CAPTURE_H
#define WSTRACKER_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#ifdef WSTRACKER_CAPTURE
void capture_message(uint64_t ref, const char *msg, size_t len);
void capture_close(uint64_t ref);
#else
static inline void capture_message(uint64_t ref, const char *msg, size_t len)
{
    (void)ref, (void)msg, (void)len;
}
static inline void capture_close(uint64_t ref)
{
    (void)ref;
}
#endif

#endif
