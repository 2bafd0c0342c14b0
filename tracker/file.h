/* file.h - reading a small whole file (key files, lists, tokens) for main.c and cli.c, on
 * the main thread, at start and on SIGHUP. */
#ifndef WSTRACKER_FILE_H
#define WSTRACKER_FILE_H

#include <stddef.h>

/* A whole file of at most max bytes, NUL terminated (*len without it); NULL with a
 * reason in err (cap bytes). The caller frees it. */
char *read_file(const char *path, size_t max, size_t *len, char *err, size_t cap);

#endif
