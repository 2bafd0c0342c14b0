/* selftest.h - loadgen --self-test (framing, histogram, workload, scanner).
 *
 * Owns:   nothing.
 * Thread: main.
 * Why:    see selftest.c.
 */
#ifndef LG_SELFTEST_H
#define LG_SELFTEST_H

/* Run every check; prints "self-test: ok" or the failures; returns 0 or 1. */
int selftest_run(void);

#endif
