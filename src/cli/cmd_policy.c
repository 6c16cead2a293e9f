/*
 * `warden policy`: check (parse + validate), evaluate and format Cedar policy files with
 * lib/cedar, the same engine the proxy runs.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/cedar.h"
#include "warden/doc.h"
#include "warden/err.h"
#include "warden/file.h"

#include "cli.h"

/* Inputs larger than this are refused (the JSON loaders stop at 16 MiB as well). */
#define POLICY_MAX_FILE ((size_t)16 << 20)
/* Output of `fmt` for one file: the text plus comments and layout. */
#define POLICY_MAX_OUT   ((size_t)64 << 20)
#define POLICY_MAX_FILES 256

/*
 * Print s as one line on f, control characters shown as \xHH, so that text taken from the
 * input (identifiers, strings) cannot break the line structure of the output.
 */
static void put_line(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            (void)fprintf(f, "\\x%02x", *p);
        } else {
            (void)fputc(*p, f);
        }
    }
    (void)fputc('\n', f);
}

/* Read a whole input file into b (reset first); prints the error and returns 1 on failure. */
static int read_input(const char *path, struct wd_buf *b)
{
    struct wd_diag d;
    wd_buf_reset(b);
    int rc = wd_file_read(path, POLICY_MAX_FILE, b, &d);
    if (rc == WD_ELIMIT) {
        return cli_error("%s: larger than %zu MiB", path, POLICY_MAX_FILE >> 20);
    }
    if (rc < 0) {
        return cli_error("%s", d.msg);
    }
    return 0;
}

/* Load a schema: format "cedar", "json" or NULL (by extension). Prints errors; 0 / 1. */
static int load_schema(const char *path, const char *format, struct wd_cedar_schema **out)
{
    struct wd_diag d;
    struct wd_buf b;
    int rc;
    *out = NULL;
    if (format == NULL) {
        rc = wd_cedar_schema_load_file(path, out, &d);
        return rc < 0 ? cli_error("%s", d.msg) : 0;
    }
    wd_buf_init(&b, POLICY_MAX_FILE);
    if (read_input(path, &b) != 0) {
        wd_buf_cleanup(&b);
        return 1;
    }
    if (strcmp(format, "json") == 0) {
        rc = wd_cedar_schema_parse_json(path, (const char *)b.p, b.len, out, &d);
    } else {
        rc = wd_cedar_schema_parse(path, (const char *)b.p, b.len, out, &d);
    }
    wd_buf_cleanup(&b);
    return rc < 0 ? cli_error("%s", d.msg) : 0;
}

/* Validate --schema-format's value (NULL is fine). Returns 0 or the usage status 2. */
static int check_schema_format(const char *prog, const char *format)
{
    if (format != NULL && strcmp(format, "cedar") != 0 && strcmp(format, "json") != 0) {
        return cli_usage_error(prog, "--schema-format must be 'cedar' or 'json', not '%s'", format);
    }
    return 0;
}

/* Parse one policy file (already in b). Prints the diagnostic; 0 / 1. */
static int parse_policies(const char *path, const struct wd_buf *b, struct wd_cedar_policyset **out)
{
    struct wd_diag d;
    int rc = wd_cedar_policyset_parse(path, (const char *)b->p, b->len, out, &d);
    if (rc == WD_ENOMEM) {
        return cli_error("%s: out of memory", path);
    }
    if (rc < 0) {
        put_line(stderr, d.msg);
        return 1;
    }
    return 0;
}

/* ---- check ---- */

static const char check_usage[] =
        "usage: warden policy check FILE... [--schema S] [--schema-format cedar|json]\n"
        "\n"
        "Parse each Cedar policy file and, with --schema, validate it against the schema in\n"
        "Cedar's strict mode. Prints \"FILE: ok (N policies)\" for each good file and, on\n"
        "stderr, one line \"file:line:col: error: message\" for every error the validator\n"
        "finds (all of them, in every policy; validation warnings are printed as\n"
        "\"warning: \" lines too but do not fail the check).\n"
        "\n"
        "options:\n"
        "  --schema S            a Cedar schema, human format (.cedarschema) or JSON (.json)\n"
        "  --schema-format F     read the schema as 'cedar' (human) or 'json' whatever its name\n"
        "\n"
        "exit status: 0 every file is ok, 1 a file has errors, 2 usage error\n";

/* Print one validation issue as "file:line:col: error: message" (or "warning: "). */
static void print_issue(const char *path, const struct wd_cedar_vissue *is)
{
    char line[sizeof(is->msg) + PATH_MAX + 64];
    const char *kind = is->warning ? "warning: " : "error: ";
    if (is->line > 0 && is->col > 0) {
        (void)snprintf(line, sizeof(line), "%s:%u:%u: %s%s", path, is->line, is->col, kind,
                       is->msg);
    } else if (is->line > 0) {
        (void)snprintf(line, sizeof(line), "%s:%u: %s%s", path, is->line, kind, is->msg);
    } else {
        (void)snprintf(line, sizeof(line), "%s: %s%s", path, kind, is->msg);
    }
    put_line(stderr, line);
}

/* Check one file; returns 0 when it is ok, 1 otherwise (diagnostics printed). */
static int check_file(const char *path, const struct wd_cedar_schema *schema, struct wd_buf *b)
{
    struct wd_cedar_policyset *ps = NULL;
    struct wd_cedar_validation *v = NULL;
    int status = 1;
    if (read_input(path, b) != 0 || parse_policies(path, b, &ps) != 0) {
        goto out;
    }
    if (schema != NULL) {
        if (wd_cedar_validate(schema, ps, &v) < 0) {
            (void)cli_error("%s: out of memory while validating", path);
            goto out;
        }
        for (size_t i = 0; i < wd_cedar_validation_count(v); i++) {
            print_issue(path, wd_cedar_validation_issue(v, i));
        }
        if (wd_cedar_validation_error_count(v) > 0) {
            goto out;
        }
    }
    size_t n = wd_cedar_policyset_count(ps), nt = wd_cedar_policyset_template_count(ps);
    char line[PATH_MAX + 96];
    if (nt > 0) {
        (void)snprintf(line, sizeof(line), "%s: ok (%zu %s, %zu %s)", path, n,
                       n == 1 ? "policy" : "policies", nt, nt == 1 ? "template" : "templates");
    } else {
        (void)snprintf(line, sizeof(line), "%s: ok (%zu %s)", path, n,
                       n == 1 ? "policy" : "policies");
    }
    put_line(stdout, line);
    status = 0;
out:
    wd_cedar_validation_free(v);
    wd_cedar_policyset_free(ps);
    return status;
}

static int policy_check(int argc, char **argv)
{
    static const char prog[] = "warden policy check";
    const char *schema_path = NULL, *schema_format = NULL;
    const struct cli_opt opts[] = {
            {"schema", CLI_VALUE, &schema_path},
            {"schema-format", CLI_VALUE, &schema_format},
    };
    char *files[POLICY_MAX_FILES];
    size_t nfiles = 0;
    int rc = cli_parse(prog, check_usage, opts, WD_ARRAY_LEN(opts), argc, argv, files,
                       WD_ARRAY_LEN(files), &nfiles);
    if (rc != CLI_PARSE_OK) {
        return rc == CLI_PARSE_HELP ? 0 : 2;
    }
    if (nfiles == 0) {
        return cli_usage_error(prog, "no policy file given");
    }
    if (check_schema_format(prog, schema_format) != 0) {
        return 2;
    }
    if (schema_format != NULL && schema_path == NULL) {
        return cli_usage_error(prog, "--schema-format needs --schema");
    }
    struct wd_cedar_schema *schema = NULL;
    if (schema_path != NULL && load_schema(schema_path, schema_format, &schema) != 0) {
        return 1;
    }
    struct wd_buf b;
    wd_buf_init(&b, POLICY_MAX_FILE);
    int status = 0;
    for (size_t i = 0; i < nfiles; i++) {
        if (check_file(files[i], schema, &b) != 0) {
            status = 1;
        }
    }
    wd_buf_cleanup(&b);
    wd_cedar_schema_free(schema);
    return status;
}

/* ---- eval ---- */

static const char eval_usage[] =
        "usage: warden policy eval --policies P --request R.json [--entities E.json]\n"
        "                          [--schema S] [--schema-format cedar|json]\n"
        "\n"
        "Decide one Cedar request against a policy set and print the answer as one line of\n"
        "JSON on stdout:\n"
        "  {\"decision\":\"allow\"|\"deny\",\"reasons\":[POLICY...],\n"
        "   \"errors\":[{\"policy\":POLICY,\"message\":TEXT}...]}\n"
        "Policies are named policy0, policy1, ... in file order, as Cedar names them.\n"
        "\n"
        "options:\n"
        "  --policies P       Cedar policy file\n"
        "  --request R.json   {\"principal\": {\"type\": T, \"id\": I}, \"action\": ...,\n"
        "                     \"resource\": ..., \"context\": {...}}\n"
        "  --entities E.json  Cedar entities JSON (an array; default: no entities)\n"
        "  --schema S         a schema: entities and the request are read with its types and\n"
        "                     the request must conform to it (actions come from the schema)\n"
        "  --schema-format F  read the schema as 'cedar' (human) or 'json' whatever its name\n"
        "\n"
        "exit status: 0 the request was decided (allow or deny), 1 an input is invalid,\n"
        "2 usage error\n";

/* Append the decision as one JSON line. */
static int response_json(const struct wd_cedar_response *r, struct wd_buf *out)
{
    WD_TRY(wd_buf_append_str(out, r->allow ? "{\"decision\":\"allow\",\"reasons\":["
                                           : "{\"decision\":\"deny\",\"reasons\":["));
    for (size_t i = 0; i < r->nreasons; i++) {
        if (i > 0) {
            WD_TRY(wd_buf_append_byte(out, ','));
        }
        WD_TRY(wd_json_append_string(out, r->reasons[i], strlen(r->reasons[i])));
    }
    WD_TRY(wd_buf_append_str(out, "],\"errors\":["));
    for (size_t i = 0; i < r->nerrors; i++) {
        const struct wd_cedar_policy_error *e = &r->errors[i];
        WD_TRY(wd_buf_append_str(out, i > 0 ? ",{\"policy\":" : "{\"policy\":"));
        WD_TRY(wd_json_append_string(out, e->policy_id, strlen(e->policy_id)));
        WD_TRY(wd_buf_append_str(out, ",\"message\":"));
        WD_TRY(wd_json_append_string(out, e->message, strlen(e->message)));
        WD_TRY(wd_buf_append_byte(out, '}'));
    }
    return wd_buf_append_str(out, "]}\n");
}

static int policy_eval(int argc, char **argv)
{
    static const char prog[] = "warden policy eval";
    const char *pol_path = NULL, *ent_path = NULL, *req_path = NULL, *schema_path = NULL,
               *schema_format = NULL;
    const struct cli_opt opts[] = {
            {"policies", CLI_VALUE, &pol_path},
            {"entities", CLI_VALUE, &ent_path},
            {"request", CLI_VALUE, &req_path},
            {"schema", CLI_VALUE, &schema_path},
            {"schema-format", CLI_VALUE, &schema_format},
    };
    char *pos[1];
    size_t npos = 0;
    int rc = cli_parse(prog, eval_usage, opts, WD_ARRAY_LEN(opts), argc, argv, pos, 0, &npos);
    if (rc != CLI_PARSE_OK) {
        return rc == CLI_PARSE_HELP ? 0 : 2;
    }
    if (pol_path == NULL) {
        return cli_usage_error(prog, "--policies is required");
    }
    if (req_path == NULL) {
        return cli_usage_error(prog, "--request is required");
    }
    if (check_schema_format(prog, schema_format) != 0) {
        return 2;
    }
    if (schema_format != NULL && schema_path == NULL) {
        return cli_usage_error(prog, "--schema-format needs --schema");
    }

    int status = 1;
    struct wd_diag d;
    struct wd_buf b, out;
    struct wd_cedar_schema *schema = NULL;
    struct wd_cedar_json_schema guide;
    const struct wd_cedar_json_schema *g = NULL;
    struct wd_cedar_policyset *ps = NULL;
    struct wd_cedar_entities *ents = NULL;
    struct wd_cedar_request *req = NULL;
    struct wd_cedar_authz *az = NULL;
    struct wd_cedar_scratch *scratch = NULL;
    wd_buf_init(&b, POLICY_MAX_FILE);
    wd_buf_init(&out, POLICY_MAX_OUT);

    if (schema_path != NULL) {
        if (load_schema(schema_path, schema_format, &schema) != 0) {
            goto out;
        }
        wd_cedar_schema_json_guide(schema, &guide);
        g = &guide;
    }
    if (read_input(pol_path, &b) != 0) {
        goto out;
    }
    rc = wd_cedar_policyset_parse(pol_path, (const char *)b.p, b.len, &ps, &d);
    if (rc < 0) {
        (void)cli_error("%s", rc == WD_ENOMEM ? "out of memory" : d.msg);
        goto out;
    }
    if (ent_path != NULL) {
        if (read_input(ent_path, &b) != 0) {
            goto out;
        }
        rc = wd_cedar_entities_load_json(ent_path, (const char *)b.p, b.len, g, NULL, &ents, &d);
    } else {
        rc = wd_cedar_entities_new(NULL, &ents);
        if (rc == WD_OK && g != NULL && g->add_actions != NULL) {
            rc = g->add_actions(g->ctx, ents, &d);
        }
        if (rc == WD_OK) {
            rc = wd_cedar_entities_freeze(ents, &d);
        }
    }
    if (rc < 0) {
        (void)cli_error("%s", rc == WD_ENOMEM ? "out of memory" : d.msg);
        goto out;
    }
    if (read_input(req_path, &b) != 0) {
        goto out;
    }
    if (wd_cedar_request_new(&req) < 0) {
        (void)cli_error("out of memory");
        goto out;
    }
    rc = wd_cedar_request_load_json(req, req_path, (const char *)b.p, b.len, g, &d);
    if (rc < 0) {
        (void)cli_error("%s", rc == WD_ENOMEM ? "out of memory" : d.msg);
        goto out;
    }
    if (schema != NULL && wd_cedar_schema_validate_request(schema, req, &d) < 0) {
        (void)cli_error("%s: the request does not conform to the schema: %s", req_path, d.msg);
        goto out;
    }
    if (wd_cedar_authz_new(ps, &az) < 0 || wd_cedar_scratch_new(&scratch) < 0) {
        (void)cli_error("out of memory");
        goto out;
    }
    struct wd_cedar_response resp;
    rc = wd_cedar_authorize(az, ents, req, scratch, &resp);
    if (rc < 0) {
        (void)cli_error("%s: the request could not be decided (%s)", req_path,
                        rc == WD_ELIMIT ? "a policy exceeded the evaluation bounds"
                                        : wd_strerror(rc));
        goto out;
    }
    if (response_json(&resp, &out) < 0) {
        (void)cli_error("out of memory");
        goto out;
    }
    if (fwrite(out.p, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        (void)cli_error("cannot write to stdout");
        goto out;
    }
    status = 0;
out:
    wd_cedar_scratch_free(scratch);
    wd_cedar_authz_free(az);
    wd_cedar_request_free(req);
    wd_cedar_entities_free(ents);
    wd_cedar_policyset_free(ps);
    wd_cedar_schema_free(schema);
    wd_buf_cleanup(&out);
    wd_buf_cleanup(&b);
    return status;
}

/* ---- fmt ---- */

static const char fmt_usage[] =
        "usage: warden policy fmt FILE... [--check | --write]\n"
        "\n"
        "Print each Cedar policy file in the canonical layout on stdout. Comments between\n"
        "policies are kept (above the policy that follows, or after a policy on its last\n"
        "line); a comment inside a policy cannot be kept and is reported.\n"
        "\n"
        "options:\n"
        "  --check   print nothing on stdout; name every file that is not formatted on\n"
        "            stderr and exit 1 if there is one\n"
        "  --write   rewrite the files that are not formatted, in place and atomically\n"
        "            (a file with a comment inside a policy is left alone: exit 1)\n"
        "\n"
        "exit status: 0 ok, 1 a file does not parse, is not formatted (--check) or could not\n"
        "be rewritten, 2 usage error\n";

/* A `//` comment of a policy file: bytes [start, end) (end: the line break or the end). */
struct fmt_comment {
    size_t start, end;
    unsigned line, col;
};

/* Where the statements and comments of a policy file are. */
struct fmt_scan {
    size_t *semis; /* offsets of the ';' that end each policy or template */
    size_t nsemis;
    struct fmt_comment *comments;
    size_t ncomments;
};

static void fmt_scan_free(struct fmt_scan *s)
{
    wd_free(s->semis);
    wd_free(s->comments);
}

static int push_size(size_t **v, size_t *n, size_t x)
{
    /* Grow at powers of two. */
    if ((*n & (*n - 1)) == 0) {
        size_t *nv = wd_reallocarray(*v, *n == 0 ? 8 : *n * 2, sizeof(**v));
        if (nv == NULL) {
            return WD_ENOMEM;
        }
        *v = nv;
    }
    (*v)[(*n)++] = x;
    return WD_OK;
}

static int push_comment(struct fmt_scan *s, const struct fmt_comment *c)
{
    size_t n = s->ncomments;
    if ((n & (n - 1)) == 0) {
        struct fmt_comment *nv =
                wd_reallocarray(s->comments, n == 0 ? 8 : n * 2, sizeof(*s->comments));
        if (nv == NULL) {
            return WD_ENOMEM;
        }
        s->comments = nv;
    }
    s->comments[s->ncomments++] = *c;
    return WD_OK;
}

/*
 * Find the top-level ';' and the `//` comments of Cedar text that parses. Cedar strings
 * are the only literals ("..." with backslash escapes); ';' appears only at the end of a
 * policy; comments run to the end of the line (lexer.c).
 */
static int fmt_scan(const char *t, size_t len, struct fmt_scan *s)
{
    unsigned line = 1;
    size_t line_start = 0;
    memset(s, 0, sizeof(*s));
    for (size_t i = 0; i < len;) {
        char c = t[i];
        if (c == '"') {
            for (i++; i < len && t[i] != '"'; i++) {
                if (t[i] == '\\' && i + 1 < len) {
                    i++;
                }
                if (t[i] == '\n') {
                    line++;
                    line_start = i + 1;
                }
            }
            i++;
        } else if (c == '/' && i + 1 < len && t[i + 1] == '/') {
            struct fmt_comment cm = {
                    .start = i, .line = line, .col = (unsigned)(i - line_start + 1)};
            while (i < len && t[i] != '\n' && t[i] != '\r') {
                i++;
            }
            cm.end = i;
            WD_TRY(push_comment(s, &cm));
        } else {
            if (c == ';') {
                WD_TRY(push_size(&s->semis, &s->nsemis, i));
            } else if (c == '\n') {
                line++;
                line_start = i + 1;
            }
            i++;
        }
    }
    return WD_OK;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Whether t[a, b) holds an empty line (two line breaks with only blanks between). */
static bool has_empty_line(const char *t, size_t a, size_t b)
{
    int nl = 0;
    for (size_t i = a; i < b; i++) {
        if (t[i] == '\n') {
            if (++nl == 2) {
                return true;
            }
        }
    }
    return false;
}

static bool has_newline(const char *t, size_t a, size_t b)
{
    return memchr(t + a, '\n', b - a) != NULL;
}

/* Append a comment without trailing blanks. */
static int put_comment(struct wd_buf *out, const char *t, const struct fmt_comment *c)
{
    size_t end = c->end;
    while (end > c->start && is_blank(t[end - 1])) {
        end--;
    }
    return wd_buf_append(out, t + c->start, end - c->start);
}

/*
 * Append the comments c[0..n), one per line, keeping one empty line where the source had
 * at least one between two of them, and (when code_at is not 0) between the last one and
 * the code that follows at offset code_at.
 */
static int put_comment_block(struct wd_buf *out, const char *t, const struct fmt_comment *c,
                             size_t n, size_t code_at)
{
    for (size_t k = 0; k < n; k++) {
        if (k > 0 && has_empty_line(t, c[k - 1].end, c[k].start)) {
            WD_TRY(wd_buf_append_byte(out, '\n'));
        }
        WD_TRY(put_comment(out, t, &c[k]));
        WD_TRY(wd_buf_append_byte(out, '\n'));
    }
    if (n > 0 && code_at != 0 && has_empty_line(t, c[n - 1].end, code_at)) {
        WD_TRY(wd_buf_append_byte(out, '\n'));
    }
    return WD_OK;
}

/* Print text[a, b) (exactly one policy or template) in the canonical layout, no final \n. */
static int put_policy(struct wd_buf *out, const char *path, const char *t, size_t a, size_t b)
{
    struct wd_cedar_policyset *one = NULL;
    struct wd_diag d;
    int rc = wd_cedar_policyset_parse(path, t + a, b - a, &one, &d);
    if (rc < 0) {
        return rc;
    }
    if (wd_cedar_policyset_count(one) + wd_cedar_policyset_template_count(one) != 1) {
        wd_cedar_policyset_free(one);
        return WD_EPROTO;
    }
    size_t before = out->len;
    rc = wd_cedar_policyset_print(one, out);
    wd_cedar_policyset_free(one);
    while (rc == WD_OK && out->len > before && out->p[out->len - 1] == '\n') {
        out->len--;
    }
    return rc;
}

/*
 * Format a policy file (text that parses into ps) with its comments into out. Comments
 * inside a policy are counted in *inner (and the first one's position kept in *first);
 * they are not in the output. Returns WD_EPROTO when the text cannot be split into its
 * policies (the caller then prints the set without comments), or an error of the buffer.
 */
static int fmt_with_comments(const char *path, const char *t, size_t len,
                             const struct wd_cedar_policyset *ps, struct wd_buf *out, size_t *inner,
                             struct fmt_comment *first)
{
    struct fmt_scan s;
    int rc = fmt_scan(t, len, &s);
    *inner = 0;
    WD_CHECK(rc);
    if (s.nsemis != wd_cedar_policyset_count(ps) + wd_cedar_policyset_template_count(ps)) {
        rc = WD_EPROTO;
        goto out;
    }
    size_t ci = 0; /* next comment */
    size_t prev_end = 0;
    for (size_t k = 0; k <= s.nsemis; k++) {
        size_t end = k < s.nsemis ? s.semis[k] : len;
        /* A comment on the line of the previous ';' belongs to that policy. */
        if (k > 0 && ci < s.ncomments && s.comments[ci].start < end
            && !has_newline(t, prev_end, s.comments[ci].start)) {
            WD_CHECK(wd_buf_append_byte(out, ' '));
            WD_CHECK(put_comment(out, t, &s.comments[ci]));
            prev_end = s.comments[ci].end;
            ci++;
        }
        if (k > 0) {
            WD_CHECK(wd_buf_append_byte(out, '\n'));
        }
        if (k == s.nsemis) {
            /* After the last policy: comments only (every one left, whatever precedes it). */
            if (ci < s.ncomments && out->len > 0) {
                WD_CHECK(wd_buf_append_byte(out, '\n'));
            }
            WD_CHECK(put_comment_block(out, t, s.comments + ci, s.ncomments - ci, 0));
            break;
        }
        /* The code of this policy starts at the first byte that is neither blank nor in
         * a comment. */
        size_t code = prev_end, lead = ci;
        while (code < end) {
            if (lead < s.ncomments && s.comments[lead].start == code) {
                code = s.comments[lead++].end;
            } else if (is_blank(t[code])) {
                code++;
            } else {
                break;
            }
        }
        if (k > 0) {
            WD_CHECK(wd_buf_append_byte(out, '\n'));
        }
        WD_CHECK(put_comment_block(out, t, s.comments + ci, lead - ci, code));
        ci = lead;
        while (ci < s.ncomments && s.comments[ci].start < end) {
            if (*inner == 0) {
                *first = s.comments[ci];
            }
            (*inner)++;
            ci++;
        }
        rc = put_policy(out, path, t, code, end + 1);
        if (rc == WD_EPROTO || rc == WD_ELIMIT) {
            rc = WD_EPROTO; /* cannot split: print without comments */
        }
        WD_CHECK(rc);
        prev_end = end + 1;
    }
    rc = WD_OK;
out:
    fmt_scan_free(&s);
    return rc;
}

enum fmt_mode { FMT_PRINT, FMT_CHECK, FMT_WRITE };

/* Write out over path atomically, keeping the file's mode; follows a symlink. */
static int rewrite(const char *path, const struct wd_buf *out)
{
    char real[PATH_MAX];
    struct stat st;
    struct wd_diag d;
    if (realpath(path, real) == NULL || stat(real, &st) != 0) {
        return cli_error("%s: cannot resolve the path to rewrite it", path);
    }
    if (wd_file_write_atomic(real, out->p, out->len, st.st_mode & 07777, &d) < 0) {
        return cli_error("%s", d.msg);
    }
    return 0;
}

static int fmt_file(const char *path, enum fmt_mode mode, struct wd_buf *b)
{
    struct wd_cedar_policyset *ps = NULL;
    struct wd_buf out;
    int status = 1;
    wd_buf_init(&out, POLICY_MAX_OUT);
    if (read_input(path, b) != 0 || parse_policies(path, b, &ps) != 0) {
        goto out;
    }
    size_t inner = 0;
    struct fmt_comment first = {0};
    int rc = fmt_with_comments(path, (const char *)b->p, b->len, ps, &out, &inner, &first);
    if (rc == WD_EPROTO) {
        /* Not splittable by policy (should not happen): the whole set, without comments. */
        struct fmt_scan s;
        wd_buf_reset(&out);
        rc = fmt_scan((const char *)b->p, b->len, &s);
        if (rc == WD_OK && s.ncomments > 0) {
            inner = s.ncomments;
            first = s.comments[0];
        }
        fmt_scan_free(&s);
        if (rc == WD_OK) {
            rc = wd_cedar_policyset_print(ps, &out);
        }
    }
    if (rc < 0) {
        (void)cli_error("%s: cannot format: %s", path, wd_strerror(rc));
        goto out;
    }
    bool same = out.len == b->len && (out.len == 0 || memcmp(out.p, b->p, out.len) == 0);
    char msg[PATH_MAX + 160];
    if (inner > 0) {
        (void)snprintf(msg, sizeof(msg),
                       "%s:%u:%u: %s%zu comment%s inside a policy cannot be kept by fmt; move "
                       "%s above the policy",
                       path, first.line, first.col, mode == FMT_PRINT ? "warning: " : "", inner,
                       inner == 1 ? "" : "s", inner == 1 ? "it" : "them");
        put_line(stderr, msg);
    }
    switch (mode) {
    case FMT_PRINT:
        if (out.len > 0 && fwrite(out.p, 1, out.len, stdout) != out.len) {
            (void)cli_error("cannot write to stdout");
            goto out;
        }
        status = 0;
        break;
    case FMT_CHECK:
        if (same && inner == 0) {
            status = 0;
        } else {
            (void)snprintf(msg, sizeof(msg), "%s: not formatted", path);
            put_line(stderr, msg);
        }
        break;
    case FMT_WRITE:
        if (inner > 0) {
            (void)snprintf(msg, sizeof(msg), "%s: not rewritten", path);
            put_line(stderr, msg);
        } else if (same) {
            status = 0;
        } else if (rewrite(path, &out) == 0) {
            (void)snprintf(msg, sizeof(msg), "%s: formatted", path);
            put_line(stdout, msg);
            status = 0;
        }
        break;
    }
out:
    wd_cedar_policyset_free(ps);
    wd_buf_cleanup(&out);
    return status;
}

static int policy_fmt(int argc, char **argv)
{
    static const char prog[] = "warden policy fmt";
    bool check = false, write = false;
    const struct cli_opt opts[] = {
            {"check", CLI_FLAG, &check},
            {"write", CLI_FLAG, &write},
    };
    char *files[POLICY_MAX_FILES];
    size_t nfiles = 0;
    int rc = cli_parse(prog, fmt_usage, opts, WD_ARRAY_LEN(opts), argc, argv, files,
                       WD_ARRAY_LEN(files), &nfiles);
    if (rc != CLI_PARSE_OK) {
        return rc == CLI_PARSE_HELP ? 0 : 2;
    }
    if (nfiles == 0) {
        return cli_usage_error(prog, "no policy file given");
    }
    if (check && write) {
        return cli_usage_error(prog, "--check and --write exclude each other");
    }
    enum fmt_mode mode = check ? FMT_CHECK : write ? FMT_WRITE : FMT_PRINT;
    struct wd_buf b;
    wd_buf_init(&b, POLICY_MAX_FILE);
    int status = 0;
    for (size_t i = 0; i < nfiles; i++) {
        if (fmt_file(files[i], mode, &b) != 0) {
            status = 1;
        }
    }
    wd_buf_cleanup(&b);
    if (mode == FMT_PRINT && fflush(stdout) != 0) {
        return cli_error("cannot write to stdout");
    }
    return status;
}

static const struct cli_command policy_commands[] = {
        {"check", "parse Cedar policy files and validate them against a schema", policy_check},
        {"eval", "decide a request against a policy set (JSON answer)", policy_eval},
        {"fmt", "print, check or rewrite policy files in the canonical layout", policy_fmt},
};

int cli_cmd_policy(int argc, char **argv)
{
    return cli_dispatch("warden policy", policy_commands, WD_ARRAY_LEN(policy_commands), argc,
                        argv);
}
