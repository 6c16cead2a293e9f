/* Shared pieces of the warden CLI: the command table type and dispatch. */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
/* `warden attest ...` (cmd_attest.c): verify TEE evidence offline. */
int cli_cmd_attest(int argc, char **argv);
/* `warden ca ...` (cmd_ca.c) and `warden cert ...` (cmd_cert.c). */
int cli_cmd_ca(int argc, char **argv);
int cli_cmd_cert(int argc, char **argv);
/* `warden policy ...` (cmd_policy.c): check, eval and fmt Cedar policies. */
int cli_cmd_policy(int argc, char **argv);
/* `warden node|entry|token ...` (cmd_admin.c): admin calls to warden-control. */
int cli_cmd_node(int argc, char **argv);
int cli_cmd_entry(int argc, char **argv);
int cli_cmd_token(int argc, char **argv);
/* `warden svid fetch` (cmd_svid.c): SVIDs from the local agent's Workload API to files. */
int cli_cmd_svid(int argc, char **argv);

/*
 * Option parsing shared by every command (opts.c). A command describes its options in a
 * table; cli_parse accepts "--name value", "--name=value", flags "--name", repeated list
 * options, "--" to end the options, and -h / --help anywhere before "--".
 */
enum cli_opt_kind {
    CLI_FLAG,  /* out: bool *; "--name" sets it */
    CLI_VALUE, /* out: const char **; given at most once */
    CLI_LIST,  /* out: struct cli_list *; may be repeated */
};

#define CLI_LIST_MAX 32
struct cli_list {
    const char *v[CLI_LIST_MAX];
    size_t n;
};

struct cli_opt {
    const char *name; /* without the leading "--" */
    enum cli_opt_kind kind;
    void *out;
};

/* cli_parse results; a command returns 0 for CLI_PARSE_HELP and 2 for CLI_PARSE_USAGE. */
enum { CLI_PARSE_OK = 0, CLI_PARSE_HELP = 1, CLI_PARSE_USAGE = 2 };

/*
 * Parse argv[0..argc) (the arguments after the command's name) against opts. Positional
 * arguments go to pos[0..max_pos), their number to *npos. On --help prints usage (a text
 * starting "usage: ") to stdout and returns CLI_PARSE_HELP. On an unknown option, a missing
 * value, a repeated single-value option or too many positionals, prints one line on stderr
 * ("<prog>: <problem> (see '<prog> --help')") and returns CLI_PARSE_USAGE. Values and
 * positionals point into argv (borrowed).
 */
int cli_parse(const char *prog, const char *usage, const struct cli_opt *opts, size_t nopts,
              int argc, char **argv, char **pos, size_t max_pos, size_t *npos);

/* Print "<prog>: <message> (see '<prog> --help')" on stderr; returns 2 (usage error). */
int cli_usage_error(const char *prog, const char *fmt, ...) WD_PRINTF(2, 3);

/*
 * Print "warden: <message>" on stderr as exactly one line (control characters in the text
 * are shown as \xHH so that input cannot break the line); returns 1 (failure).
 */
int cli_error(const char *fmt, ...) WD_PRINTF(1, 2);

/*
 * Parse a duration option ("90s", "1h", "30d"; see wd_duration_parse) into whole seconds,
 * at least 1. Prints the error (naming the option and the value) and returns 1, else 0.
 */
int cli_duration_secs(const char *opt, const char *value, int64_t *out);

#endif
