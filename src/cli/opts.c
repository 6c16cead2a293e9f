/* Option parsing and one-line error reporting shared by every CLI command. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "warden/clock.h"
#include "warden/err.h"

#include "cli.h"

int cli_usage_error(const char *prog, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 false positive */
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    (void)fprintf(stderr, "%s: %s (see '%s --help')\n", prog, msg, prog);
    return 2;
}

int cli_error(const char *fmt, ...)
{
    char msg[2048];
    char line[4 * sizeof(msg)];
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 false positive */
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* Inputs (paths, IDs) end up in messages: keep the report on one line whatever they hold. */
    size_t o = 0;
    for (size_t i = 0; msg[i] != '\0' && o + 5 < sizeof(line); i++) {
        unsigned char c = (unsigned char)msg[i];
        if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(line + o, sizeof(line) - o, "\\x%02x", c);
        } else {
            line[o++] = (char)c;
        }
    }
    line[o] = '\0';
    (void)fprintf(stderr, "warden: %s\n", line);
    return 1;
}

int cli_duration_secs(const char *opt, const char *value, int64_t *out)
{
    int64_t ms = 0;
    if (wd_duration_parse(value, &ms) < 0) {
        return cli_error("--%s \"%s\": not a duration (use e.g. 90s, 15m, 1h, 30d)", opt, value);
    }
    if (ms < 1000) {
        return cli_error("--%s \"%s\": must be at least 1s", opt, value);
    }
    *out = ms / 1000;
    return 0;
}

static const struct cli_opt *find_opt(const struct cli_opt *opts, size_t nopts, const char *name,
                                      size_t len)
{
    for (size_t i = 0; i < nopts; i++) {
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0) {
            return &opts[i];
        }
    }
    return NULL;
}

int cli_parse(const char *prog, const char *usage, const struct cli_opt *opts, size_t nopts,
              int argc, char **argv, char **pos, size_t max_pos, size_t *npos)
{
    *npos = 0;
    bool only_pos = false;
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            (void)fputs(usage, stdout);
            return CLI_PARSE_HELP;
        }
    }
    for (int i = 0; i < argc; i++) {
        char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            if (*npos >= max_pos) {
                return cli_usage_error(prog, "unexpected argument '%s'", a);
            }
            pos[(*npos)++] = a;
            continue;
        }
        if (a[1] != '-') {
            return cli_usage_error(prog, "unknown option '%s'", a);
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
        const struct cli_opt *o = find_opt(opts, nopts, name, nlen);
        if (o == NULL) {
            return cli_usage_error(prog, "unknown option '--%.*s'", (int)nlen, name);
        }
        if (o->kind == CLI_FLAG) {
            if (eq != NULL) {
                return cli_usage_error(prog, "--%s takes no value", o->name);
            }
            *(bool *)o->out = true;
            continue;
        }
        const char *value;
        if (eq != NULL) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return cli_usage_error(prog, "--%s needs a value", o->name);
        }
        if (o->kind == CLI_VALUE) {
            const char **slot = o->out;
            if (*slot != NULL) {
                return cli_usage_error(prog, "--%s given more than once", o->name);
            }
            *slot = value;
        } else {
            struct cli_list *l = o->out;
            if (l->n >= CLI_LIST_MAX) {
                return cli_usage_error(prog, "--%s given more than %d times", o->name,
                                       CLI_LIST_MAX);
            }
            l->v[l->n++] = value;
        }
    }
    return CLI_PARSE_OK;
}
