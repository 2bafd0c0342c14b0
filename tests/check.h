/* check.h - CHECK(cond): a test's check that aborts in every build type.
 *
 * Owns:   the CHECK macro the fuzz targets and C test helpers use.
 * Why:    assert() disappears under NDEBUG (the default RelWithDebInfo build),
 *         so a hand-built fuzz target would check nothing; CHECK never does.
 */
#ifndef WSTRACKER_TESTS_CHECK_H
#define WSTRACKER_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
            abort();                                                                   \
        }                                                                              \
    } while (0)

#endif
