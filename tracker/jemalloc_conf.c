/* jemalloc_conf.c - the allocator settings the tracker runs with (jemalloc builds).
 *
 * Owns:   malloc_conf, which jemalloc reads at start (MALLOC_CONF in the
 *         environment still overrides it).
 * Thread: read once by jemalloc before main.
 * Why:    jemalloc returns freed pages to the kernel only while it allocates,
 *         so after a mass disconnect an idle tracker kept them: 15,000 idle
 *         connections closing left RSS at 41 MiB instead of 12. A background
 *         thread purges dirty pages on its own clock (dirty_decay_ms, 10 s).
 *         Linked only with jemalloc (CMakeLists.txt), not in sanitizer builds.
 */
const char *malloc_conf = "background_thread:true";
