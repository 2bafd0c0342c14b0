/* jemalloc_conf.h - the allocator's figures for /metrics (jemalloc builds only).
 *
 * Owns:   the declaration of jemalloc_stats (jemalloc_conf.c).
 * Thread: any worker answering /metrics.
 * Why:    main registers it as tracker.alloc_stats when the executable is
 *         linked with jemalloc; obs/ and net/ never link jemalloc.
 */
#ifndef WSTRACKER_JEMALLOC_CONF_H
#define WSTRACKER_JEMALLOC_CONF_H

#include <stdbool.h>

#include "metrics.h"

/* Fill p's alloc_* figures; false when mallctl refused. */
bool jemalloc_stats(struct metrics_process *p);

#endif
