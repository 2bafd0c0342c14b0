/* cli.h - the command-line tools `wstracker keygen` and `wstracker token` (README "Private
 * tracker: access tokens"). Run instead of the tracker, on the main thread, before anything
 * starts. */
#ifndef WSTRACKER_CLI_H
#define WSTRACKER_CLI_H

/* When argv[1] names a command: run it and return its exit status (0, or 2 on an error
 * with the reason on stderr). Otherwise -1: start the tracker. */
int cli_main(int argc, char **argv);

#endif
