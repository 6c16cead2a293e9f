/*
 * cedar_validate_corpus: check the validation outcome ("shouldValidate") of Cedar's
 * integration-test files with warden's schema parser and validator.
 *
 *   cedar_validate_corpus [-v] [-q] [-r] ROOT [SUBDIR...]
 *
 * ROOT is the directory the test files' paths are relative to (the extracted corpus, whose
 * tests live in corpus-tests/, or tests/data/cedar with tests/<topic>/<n>.json). Every
 * *.json file under ROOT/SUBDIR (default: ROOT) that is an object with "policies",
 * "schema" and "shouldValidate" is a test; other JSON files (entities) are skipped. A test
 * passes when the schema parses, the policies parse, and the policy set is valid exactly
 * when shouldValidate is true. One line per failure (with the first validation error, or
 * with every issue under -v); the last line is
 *   cedar-validate: N passed, N failed
 * Exit status 0 when nothing failed. -q prints only the last line. With -r every request
 * with "validateRequest": true is also read (with the schema's JSON guidance) and checked
 * with wd_cedar_schema_validate_request; a test then also fails when one of its requests
 * does not conform (the corpus only has conforming requests).
 */
#include <dirent.h>
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

#define MAX_FILE ((size_t)64 << 20)

struct opts {
    bool verbose, quiet, requests;
    unsigned long passed, failed;
};

struct paths {
    char **v;
    size_t n, cap;
};

static int paths_add(struct paths *p, const char *s)
{
    if (p->n == p->cap) {
        size_t ncap = p->cap == 0 ? 256 : p->cap * 2;
        char **nv = wd_reallocarray(p->v, ncap, sizeof(*nv));
        if (nv == NULL) {
            return WD_ENOMEM;
        }
        p->v = nv;
        p->cap = ncap;
    }
    p->v[p->n] = wd_strdup(s);
    if (p->v[p->n] == NULL) {
        return WD_ENOMEM;
    }
    p->n++;
    return WD_OK;
}

static void paths_free(struct paths *p)
{
    for (size_t i = 0; i < p->n; i++) {
        wd_free(p->v[i]);
    }
    wd_free(p->v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Collect test files (*.json but not *.entities.json) under dir, recursively. */
static int collect(const char *dir, struct paths *out, unsigned depth)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = WD_OK;
    if (d == NULL || depth > 8) {
        if (d != NULL) {
            closedir(d);
        }
        fprintf(stderr, "cedar-validate: cannot read directory %s\n", dir);
        return WD_EIO;
    }
    while ((e = readdir(d)) != NULL && rc == WD_OK) {
        char path[4096];
        struct stat st;
        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            rc = collect(path, out, depth + 1);
        } else if (ends_with(e->d_name, ".json") && !ends_with(e->d_name, ".entities.json")) {
            rc = paths_add(out, path);
        }
    }
    closedir(d);
    return rc;
}

static int read_file(const char *root, const char *rel, struct wd_buf *b, struct wd_diag *diag)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    wd_buf_reset(b);
    return wd_file_read(path, MAX_FILE, b, diag);
}

static void fail(struct opts *o, const char *file, const char *what, const char *detail)
{
    o->failed++;
    if (!o->quiet) {
        printf("FAIL %s: %s%s\n", file, what, detail);
    }
}

/* Every request with validateRequest must conform to the schema. */
static bool check_requests(struct opts *o, const char *file, const struct wd_doc *doc,
                           const struct wd_cedar_schema *schema)
{
    const struct wd_node *reqs = wd_node_get(wd_doc_root(doc), "requests");
    struct wd_cedar_json_schema guide;
    struct wd_cedar_request *r = NULL;
    bool ok = true;
    if (reqs == NULL || reqs->type != WD_NODE_ARR) {
        return true;
    }
    wd_cedar_schema_json_guide(schema, &guide);
    if (wd_cedar_request_new(&r) != WD_OK) {
        fail(o, file, "out of memory", "");
        return false;
    }
    for (size_t i = 0; i < reqs->u.arr.n && ok; i++) {
        const struct wd_node *q = reqs->u.arr.items[i];
        const struct wd_node *vr = wd_node_get(q, "validateRequest");
        struct wd_diag diag = {{0}};
        char what[64];
        if (vr == NULL || vr->type != WD_NODE_BOOL || !vr->u.b) {
            continue;
        }
        wd_cedar_request_reset(r);
        snprintf(what, sizeof(what), "request %zu: ", i);
        if (wd_cedar_request_set_json(r, doc, q, &guide, true, &diag) != WD_OK) {
            char m[600];
            snprintf(m, sizeof(m), "%sdoes not load: %s", what, diag.msg);
            fail(o, file, m, "");
            ok = false;
        } else if (wd_cedar_schema_validate_request(schema, r, &diag) != WD_OK) {
            char m[600];
            snprintf(m, sizeof(m), "%sdoes not conform: %s", what, diag.msg);
            fail(o, file, m, "");
            ok = false;
        }
    }
    wd_cedar_request_free(r);
    return ok;
}

static void run_test(struct opts *o, const char *root, const char *file)
{
    struct wd_buf b;
    struct wd_diag diag = {{0}};
    struct wd_doc *doc = NULL;
    struct wd_cedar_schema *schema = NULL;
    struct wd_cedar_policyset *ps = NULL;
    struct wd_cedar_validation *val = NULL;
    wd_buf_init(&b, MAX_FILE);
    if (wd_file_read(file, MAX_FILE, &b, &diag) != WD_OK
        || wd_json_parse(file, b.p, b.len, NULL, &doc, &diag) != WD_OK) {
        fail(o, file, "cannot read test: ", diag.msg);
        goto out;
    }
    const struct wd_node *root_node = wd_doc_root(doc);
    const struct wd_node *pol = wd_node_get(root_node, "policies");
    const struct wd_node *sch = wd_node_get(root_node, "schema");
    const struct wd_node *sv = wd_node_get(root_node, "shouldValidate");
    if (pol == NULL || sch == NULL || sv == NULL || pol->type != WD_NODE_STR
        || sch->type != WD_NODE_STR || sv->type != WD_NODE_BOOL) {
        goto out; /* not a validation test */
    }
    if (read_file(root, sch->u.s.p, &b, &diag) != WD_OK) {
        fail(o, file, "cannot read schema: ", diag.msg);
        goto out;
    }
    int rc = ends_with(sch->u.s.p, ".json")
                     ? wd_cedar_schema_parse_json(sch->u.s.p, (const char *)b.p, b.len, &schema,
                                                  &diag)
                     : wd_cedar_schema_parse(sch->u.s.p, (const char *)b.p, b.len, &schema, &diag);
    if (rc != WD_OK) {
        fail(o, file, "schema does not load: ", diag.msg);
        goto out;
    }
    if (read_file(root, pol->u.s.p, &b, &diag) != WD_OK) {
        fail(o, file, "cannot read policies: ", diag.msg);
        goto out;
    }
    if (wd_cedar_policyset_parse(pol->u.s.p, (const char *)b.p, b.len, &ps, &diag) != WD_OK) {
        fail(o, file, "policies do not parse: ", diag.msg);
        goto out;
    }
    if (wd_cedar_validate(schema, ps, &val) != WD_OK) {
        fail(o, file, "validator failed (out of memory?)", "");
        goto out;
    }
    if (o->requests && !check_requests(o, file, doc, schema)) {
        goto out;
    }
    bool valid = wd_cedar_validation_error_count(val) == 0;
    if (valid == sv->u.b) {
        o->passed++;
    } else {
        char detail[400] = "no errors";
        for (size_t i = 0; i < wd_cedar_validation_count(val); i++) {
            const struct wd_cedar_vissue *is = wd_cedar_validation_issue(val, i);
            if (!is->warning) {
                snprintf(detail, sizeof(detail), "%u:%u: %s", is->line, is->col, is->msg);
                break;
            }
        }
        char head[600];
        snprintf(head, sizeof(head), "shouldValidate is %s but got %s (%s)",
                 sv->u.b ? "true" : "false", valid ? "valid" : "invalid", detail);
        fail(o, file, head, "");
    }
    if (o->verbose) {
        for (size_t i = 0; i < wd_cedar_validation_count(val); i++) {
            const struct wd_cedar_vissue *is = wd_cedar_validation_issue(val, i);
            printf("  %s %s:%u:%u: %s\n", is->warning ? "warning" : "error", pol->u.s.p, is->line,
                   is->col, is->msg);
        }
    }
out:
    wd_cedar_validation_free(val);
    wd_cedar_policyset_free(ps);
    wd_cedar_schema_free(schema);
    wd_doc_free(doc);
    wd_buf_cleanup(&b);
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    struct paths files = {0};
    const char *root = NULL;
    int i = 1, rc = WD_OK;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            o.verbose = true;
        } else if (strcmp(argv[i], "-q") == 0) {
            o.quiet = true;
        } else if (strcmp(argv[i], "-r") == 0) {
            o.requests = true;
        } else {
            fprintf(stderr, "usage: cedar_validate_corpus [-v] [-q] [-r] ROOT [SUBDIR...]\n");
            return 2;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "usage: cedar_validate_corpus [-v] [-q] [-r] ROOT [SUBDIR...]\n");
        return 2;
    }
    root = argv[i++];
    if (i == argc) {
        rc = collect(root, &files, 0);
    }
    for (; i < argc && rc == WD_OK; i++) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/%s", root, argv[i]);
        rc = collect(dir, &files, 0);
    }
    if (rc != WD_OK) {
        paths_free(&files);
        return 2;
    }
    qsort(files.v, files.n, sizeof(*files.v), cmp_str);
    for (size_t k = 0; k < files.n; k++) {
        run_test(&o, root, files.v[k]);
    }
    paths_free(&files);
    printf("cedar-validate: %lu passed, %lu failed\n", o.passed, o.failed);
    return o.failed == 0 ? 0 : 1;
}
