/* file.c - reading a small whole file; see file.h. Main thread only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"

char *read_file(const char *path, size_t max, size_t *len, char *err, size_t cap)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    long n;
    if (!f) {
        snprintf(err, cap, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        (unsigned long)n > max) {
        snprintf(err, cap, "%s: cannot read, or larger than %zu bytes", path, max);
    } else if (!(text = malloc((size_t)n + 1)) || fread(text, 1, (size_t)n, f) != (size_t)n) {
        snprintf(err, cap, "%s: cannot read", path);
        free(text);
        text = NULL;
    } else {
        text[n] = '\0';
        *len = (size_t)n;
    }
    fclose(f);
    return text;
}
