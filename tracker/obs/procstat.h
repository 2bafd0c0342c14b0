/* procstat.h - the process_* figures of /metrics, read from /proc.
 *
 * Owns:   procstat_read: CPU time, RSS, start time (/proc/self/stat,
 *         /proc/stat), open fds (/proc/self/fd), the fd limit (getrlimit).
 * Thread: any worker answering /metrics; keeps only the open-fd count (atomics).
 * Why:    this is the only file of obs/ that reads /proc, so the writer
 *         (obs/metrics.c) stays pure and unit-tested without it.
 */
#ifndef WSTRACKER_PROCSTAT_H
#define WSTRACKER_PROCSTAT_H

#include "metrics.h"

#define PROCSTAT_FDS_MS 10000 /* /proc/self/fd is counted at most this often (ms) */

/* Fill p's process_* part; p->have_proc is false when /proc could not be
 * read. Counting /proc/self/fd costs about 1 us per open fd, so the count is
 * kept for PROCSTAT_FDS_MS (process_open_fds may be that old). */
void procstat_read(struct metrics_process *p);

#endif
