/* fuzz_config.c - libFuzzer target: the --config file (tracker/conf/config.c
 * over Debian's libinih, as the tracker links them).
 *
 * Owns:   nothing. The input is a whole config file, written to a memfd and
 *         read by config_load_env through /proc/self/fd (no environment, no
 *         other flags). Checks: nothing crashes or reads past its input; a
 *         refused file says why in one line that names the file; an accepted
 *         one holds settings within their bounds (1..8 listen addresses, each
 *         list within its cap, outq-hard-kib >= outq-soft-kib, every value
 *         that came from the file names a line of it) and lists them with
 *         config_print, whose listing never shows the TURN secret; the same
 *         file loads the same way twice.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *no_env(const char *name)
{
    (void)name;
    return NULL;
}

static struct config cfg, again;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], err[CONFIG_ERR_LEN], err2[CONFIG_ERR_LEN];
    char *argv[] = {"wstracker", "--config", path, NULL};
    unsigned lines = 1;
    enum config_result r;
    int fd = memfd_create("wstracker.conf", MFD_CLOEXEC);
    CHECK(fd >= 0);
    CHECK(write(fd, data, size) == (ssize_t)size);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    for (size_t k = 0; k < size; k++)
        lines += data[k] == '\n';

    err[0] = '\0';
    r = config_load_env(&cfg, 3, argv, no_env, err);
    CHECK(r == CONFIG_RUN || r == CONFIG_EXIT_ERR);
    if (r == CONFIG_EXIT_ERR) {
        CHECK(memchr(err, '\0', sizeof err) != NULL);
        CHECK(err[0] != '\0');
        CHECK(strchr(err, '\n') == NULL);
        /* every error of this input is the file's (it starts with the path) or one
         * the options make together (check_together: it starts with the option's
         * flag, e.g. "--listen-tls needs --tls-cert and --tls-key") */
        CHECK(!strncmp(err, path, strlen(path)) || !strncmp(err, "--", 2));
    } else {
        char *listing = NULL;
        size_t n = 0;
        FILE *f;
        CHECK(cfg.n_listen >= 1 && cfg.n_listen <= CONFIG_LISTEN_MAX);
        CHECK(cfg.n_turn_urls <= CONFIG_TURN_URLS);
        CHECK(cfg.n_trust_proxy <= REALIP_TRUSTED_MAX);
        CHECK(cfg.n_allow_origin <= ORIGIN_LIST_MAX);
        CHECK(cfg.outq_hard_kib >= cfg.outq_soft_kib);
        CHECK(cfg.interval >= 1 && cfg.interval <= 86400);
        CHECK(cfg.log_level <= 3 && cfg.log_format <= 1);
        for (unsigned k = 0; k < CONFIG_OPTS_MAX; k++)
            CHECK(cfg.from[k].layer != CONFIG_FROM_FILE ||
                  (cfg.from[k].line >= 1 && cfg.from[k].line <= lines));
        f = open_memstream(&listing, &n);
        CHECK(f != NULL);
        config_print(&cfg, f);
        CHECK(fclose(f) == 0);
        CHECK(strncmp(listing, "config = ", 9) == 0);
        if (cfg.turn_secret[0])
            CHECK(strstr(listing, "turn-secret = (set)  # from file") != NULL);
        free(listing);
    }
    err2[0] = '\0';
    CHECK(config_load_env(&again, 3, argv, no_env, err2) == r);
    CHECK(strcmp(err, err2) == 0);
    close(fd);
    return 0;
}
