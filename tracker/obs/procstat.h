/* procstat.h - the process_* figures of /metrics, read from /proc.
 *
 * Owns:   procstat_read: CPU time, RSS, start time (/proc/self/stat,
 *         /proc/stat), open fds (/proc/self/fd), the fd limit (getrlimit).
 * Thread: any worker answering /metrics; reads only, keeps nothing.
 * Why:    this is the only file of obs/ that reads /proc, so the writer
 *         (obs/metrics.c) stays pure and unit-tested without it.
 */
#ifndef WSTRACKER_PROCSTAT_H
#define WSTRACKER_PROCSTAT_H

#include "metrics.h"

/* Fill p's process_* part; p->have_proc is false when /proc could not be
 * read. Counting /proc/self/fd costs one directory entry per open fd. */
void procstat_read(struct metrics_process *p);

#endif
