/* Command dispatch and usage text for every level of the CLI. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#ifndef WD_VERSION
#define WD_VERSION "0.1.0-dev"
#endif

static void usage(FILE *f, const char *prog, const struct cli_command *table, size_t n)
{
    (void)fprintf(f, "usage: %s COMMAND [ARGS...]\n\ncommands:\n", prog);
    for (size_t i = 0; i < n; i++) {
        (void)fprintf(f, "  %-10s %s\n", table[i].name, table[i].summary);
    }
    (void)fprintf(f, "\nRun '%s COMMAND --help' for a command's options.\n", prog);
}

int cli_dispatch(const char *prog, const struct cli_command *table, size_t n, int argc, char **argv)
{
    if (argc < 1) {
        usage(stderr, prog, table, n);
        return 2;
    }
    if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0
        || strcmp(argv[0], "help") == 0) {
        usage(stdout, prog, table, n);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(argv[0], table[i].name) == 0) {
            return table[i].run(argc - 1, argv + 1);
        }
    }
    (void)fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[0]);
    usage(stderr, prog, table, n);
    return 2;
}

int cli_cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("warden %s\n", WD_VERSION);
    return 0;
}
