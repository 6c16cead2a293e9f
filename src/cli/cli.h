/* Shared pieces of the warden CLI: the command table type and dispatch. */
#ifndef CLI_H
#define CLI_H

#include <stddef.h>

#include "warden/common.h"

/* A command handler gets the arguments after its own name; returns the exit status. */
typedef int (*cli_handler_fn)(int argc, char **argv);

struct cli_command {
    const char *name;
    const char *summary;
    cli_handler_fn run;
};

/*
 * Run the command argv[0] from table under the name `prog` ("warden cert"); prints usage
 * listing the table for --help/-h/no arguments, and an error plus usage for an unknown
 * command. Returns the exit status: 0 ok, 1 failure, 2 usage error.
 */
int cli_dispatch(const char *prog, const struct cli_command *table, size_t n, int argc,
                 char **argv);

int cli_cmd_version(int argc, char **argv);

#endif
