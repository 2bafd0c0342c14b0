/* jemalloc_conf.c - the allocator settings the tracker runs with (jemalloc builds).
 *
 * Owns:   malloc_conf, which jemalloc reads at start (MALLOC_CONF in the
 *         environment still overrides it); jemalloc_stats, the allocator's
 *         figures for /metrics.
 * Thread: malloc_conf: read once by jemalloc before main; jemalloc_stats: any
 *         worker answering /metrics.
 * Why:    jemalloc returns freed pages to the kernel only while it allocates,
 *         so after a mass disconnect an idle tracker kept them: 15,000 idle
 *         connections closing left RSS at 41 MiB instead of 12. A background
 *         thread purges dirty pages on its own clock (dirty_decay_ms, 10 s).
 *         Bigger slabs for the two size classes every WebSocket takes from
 *         lws (slab_sizes): fewer slab headers (issue 14, target 5).
 *         Linked only with jemalloc (CMakeLists.txt), not in sanitizer builds.
 */
#include <stdbool.h>
#include <stdint.h>

#include <jemalloc/jemalloc.h>

#include "jemalloc_conf.h"

/* slab_sizes: lws 4.1.6 allocates two blocks per WebSocket that land in
 * jemalloc size classes with small slabs: its struct lws (1024-byte class; a
 * slab is 1 page of 4) and its rx buffer (rx_buffer_size NET_RX_CHUNK + LWS_PRE
 * + 4: the 5120-byte class; a slab is 5 pages of 4). jemalloc keeps a slab
 * header (its extent, about 128 bytes, plus radix-tree leaves) per slab, about
 * 64 bytes per connection for these two. The rx buffer is hardly ever written
 * (lws hands a whole frame over from its per-thread read buffer), so its pages
 * mostly stay unfaulted: only the headers cost. 16- and 20-page slabs (64 and
 * 16 regions) make that about 4 bytes (bench/results/2026-12-03-idle.md). */
const char *malloc_conf = "background_thread:true,slab_sizes:1024-1024:16|5120-5120:20";

/* The allocator's figures for /metrics (main registers it as
 * tracker.alloc_stats): "epoch" refreshes jemalloc's cached statistics, then
 * stats.allocated, stats.active and stats.resident are read. Any thread
 * (mallctl locks what it needs). */
bool jemalloc_stats(struct metrics_process *p)
{
    uint64_t epoch = 1;
    size_t len = sizeof epoch, v[3], vl;
    static const char *const names[3] = {"stats.allocated", "stats.active", "stats.resident"};
    if (mallctl("epoch", &epoch, &len, &epoch, len) != 0)
        return false;
    for (int k = 0; k < 3; k++) {
        vl = sizeof v[k];
        if (mallctl(names[k], &v[k], &vl, NULL, 0) != 0)
            return false;
    }
    p->alloc_allocated = v[0];
    p->alloc_active = v[1];
    p->alloc_resident = v[2];
    return true;
}
