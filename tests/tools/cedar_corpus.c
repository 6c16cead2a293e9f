/*
 * cedar_corpus: run Cedar's integration-test files (the cedar-integration-tests format)
 * through warden's parser, entity loader and authorizer.
 *
 *   cedar_corpus [-v] [--max-fail N] ROOT [SUBDIR...]
 *
 * ROOT is the directory the test files' paths are relative to (the extracted corpus, whose
 * tests live in corpus-tests/, or tests/data/cedar with tests/<topic>/<n>.json). Every
 * *.json file under ROOT/SUBDIR (default: ROOT) that is an object with "policies" and
 * "requests" is a test; other JSON files (entities) are skipped. For each request the
 * decision, the set of reason policy ids and the set of erroring policy ids must equal the
 * expected ones. One line per failure (file, request description, expected vs got); the
 * last lines are
 *   cedar-corpus: F files (L could not be loaded, S without a schema)
 *   cedar-corpus: decisions N passed, N failed; shouldValidate N passed, N failed; ...
 *   cedar-corpus: N passed, N failed
 * where the last counts checks: one per request (decision, reasons, errors), one per file
 * (shouldValidate), plus one failure per valid request that request validation rejected.
 * Exit status 0 when nothing failed.
 *
 * Schemas: each test file names a schema (human or JSON format). It is loaded with the
 * schema module and used (1) to guide entities and request JSON (Cedar's implicit forms,
 * and the schema's action entities added to the store, as Cedar's test harness does),
 * (2) to check "shouldValidate" against the validator (one check per file, counted with
 * the requests), and (3) to validate each request marked "validateRequest" (the corpus
 * only has valid requests, so a rejection is a failure). --no-validate skips (2) and (3).
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

struct stats {
    unsigned long files, unloadable, no_schema;
    unsigned long passed, failed;
    unsigned long dec_passed, dec_failed; /* decisions (per request) */
    unsigned long val_passed, val_failed; /* shouldValidate (per file) */
    unsigned long reqval_failed;          /* valid requests rejected by validation */
    unsigned long max_fail;
    bool verbose;
    bool validate;
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

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Collect ROOT-relative paths of *.json files (not *.entities.json) under rel. */
static int walk(const char *root, const char *rel, struct paths *out, unsigned depth)
{
    char dir[4096];
    (void)snprintf(dir, sizeof(dir), "%s/%s", root, rel);
    DIR *d = opendir(dir);
    if (d == NULL) {
        return WD_OK;
    }
    int rc = WD_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        char sub[4096];
        if (rel[0] == '\0') {
            (void)snprintf(sub, sizeof(sub), "%s", de->d_name);
        } else {
            (void)snprintf(sub, sizeof(sub), "%s/%s", rel, de->d_name);
        }
        char full[8192];
        (void)snprintf(full, sizeof(full), "%s/%s", root, sub);
        struct stat st;
        if (stat(full, &st) != 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (depth < 8) {
                rc = walk(root, sub, out, depth + 1);
            }
        } else if (ends_with(de->d_name, ".json") && !ends_with(de->d_name, ".entities.json")) {
            rc = paths_add(out, sub);
        }
        if (rc < 0) {
            break;
        }
    }
    (void)closedir(d);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_rel(const char *root, const char *rel, struct wd_buf *b, struct wd_diag *diag)
{
    char full[8192];
    (void)snprintf(full, sizeof(full), "%s/%s", root, rel);
    wd_buf_reset(b);
    return wd_file_read(full, MAX_FILE, b, diag);
}

/* ---- schemas ---- */

/* Load the test's schema (NULL path: none). WD_OK with *out NULL when there is none. */
static int load_schema(const char *root, const char *rel, struct wd_buf *b,
                       struct wd_cedar_schema **out, struct wd_diag *diag)
{
    *out = NULL;
    if (rel == NULL) {
        return WD_OK;
    }
    WD_TRY(read_rel(root, rel, b, diag));
    if (ends_with(rel, ".json")) {
        return wd_cedar_schema_parse_json(rel, (const char *)b->p, b->len, out, diag);
    }
    return wd_cedar_schema_parse(rel, (const char *)b->p, b->len, out, diag);
}

static void fail_line(struct stats *st, const char *test, const char *desc, const char *what,
                      const char *a, const char *b);

/* shouldValidate: one check per file. */
static void check_validation(struct stats *st, const char *test, const struct wd_node *should,
                             const struct wd_cedar_schema *schema,
                             const struct wd_cedar_policyset *ps)
{
    if (!st->validate || schema == NULL || should == NULL || should->type != WD_NODE_BOOL) {
        return;
    }
    struct wd_cedar_validation *v = NULL;
    if (wd_cedar_validate(schema, ps, &v) < 0) {
        st->val_failed++;
        fail_line(st, test, "shouldValidate", "validator failed", "", "");
        return;
    }
    bool valid = wd_cedar_validation_error_count(v) == 0;
    if (valid == should->u.b) {
        st->val_passed++;
        st->passed++;
    } else {
        st->val_failed++;
        const struct wd_cedar_vissue *first = NULL;
        for (size_t i = 0; i < wd_cedar_validation_count(v) && first == NULL; i++) {
            if (!wd_cedar_validation_issue(v, i)->warning) {
                first = wd_cedar_validation_issue(v, i);
            }
        }
        char got[400];
        (void)snprintf(got, sizeof(got), "%s%s%s", valid ? "valid" : "invalid",
                       first != NULL ? ": " : "", first != NULL ? first->msg : "");
        fail_line(st, test, "shouldValidate", "validation", should->u.b ? "valid" : "invalid", got);
    }
    wd_cedar_validation_free(v);
}

/* ---- comparing results ---- */

/* Sorted, NUL-separated list of the strings of a JSON array (ids). */
static int expected_ids(const struct wd_node *arr, const char **ids, size_t max, size_t *n)
{
    *n = 0;
    if (arr == NULL || arr->type != WD_NODE_ARR) {
        return arr == NULL ? WD_OK : WD_EPROTO;
    }
    for (size_t i = 0; i < arr->u.arr.n && *n < max; i++) {
        const struct wd_node *it = arr->u.arr.items[i];
        if (it->type == WD_NODE_STR) {
            ids[(*n)++] = it->u.s.p;
        } else if (it->type == WD_NODE_OBJ && wd_node_get(it, "policyId") != NULL) {
            ids[(*n)++] = wd_node_get(it, "policyId")->u.s.p;
        } else {
            return WD_EPROTO;
        }
    }
    qsort(ids, *n, sizeof(*ids), cmp_str);
    return WD_OK;
}

static void fmt_ids(char *out, size_t max, const char **ids, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    len += (size_t)snprintf(out + len, max - len, "[");
    for (size_t i = 0; i < n && len < max; i++) {
        len += (size_t)snprintf(out + len, max - len, "%s%s", i > 0 ? "," : "", ids[i]);
    }
    if (len < max) {
        (void)snprintf(out + len, max - len, "]");
    }
}

static bool same_ids(const char **a, size_t na, const char **b, size_t nb)
{
    if (na != nb) {
        return false;
    }
    for (size_t i = 0; i < na; i++) {
        if (strcmp(a[i], b[i]) != 0) {
            return false;
        }
    }
    return true;
}

static void fail_line(struct stats *st, const char *test, const char *desc, const char *what,
                      const char *a, const char *b)
{
    st->failed++;
    if (st->max_fail == 0 || st->failed <= st->max_fail) {
        printf("FAIL %s [%s]: %s%s%s%s%s\n", test, desc, what, a[0] ? ": expected " : "", a,
               b[0] ? ", got " : "", b);
    }
}

#define MAX_IDS 4096

static void run_request(struct stats *st, const char *test, const struct wd_doc *doc,
                        const struct wd_node *rq, const struct wd_cedar_schema *sch,
                        const struct wd_cedar_json_schema *schema, const struct wd_cedar_authz *az,
                        const struct wd_cedar_entities *ents, struct wd_cedar_request *req,
                        struct wd_cedar_scratch *scratch)
{
    static const char *exp_r[MAX_IDS], *exp_e[MAX_IDS], *got_r[MAX_IDS], *got_e[MAX_IDS];
    const struct wd_node *dn = wd_node_get(rq, "description");
    const char *desc = dn != NULL && dn->type == WD_NODE_STR ? dn->u.s.p : "?";
    struct wd_diag diag;
    wd_cedar_request_reset(req);
    int rc = wd_cedar_request_set_json(req, doc, rq, schema, true, &diag);
    if (rc < 0) {
        st->dec_failed++;
        fail_line(st, test, desc, "request not loaded", "", diag.msg);
        return;
    }
    const struct wd_node *vr = wd_node_get(rq, "validateRequest");
    if (st->validate && sch != NULL && vr != NULL && vr->type == WD_NODE_BOOL && vr->u.b
        && wd_cedar_schema_validate_request(sch, req, &diag) < 0) {
        /* Cedar's harness builds only valid requests; still decide, but report it. */
        st->reqval_failed++;
        fail_line(st, test, desc, "request validation rejected a valid request", "", diag.msg);
    }
    struct wd_cedar_response resp;
    rc = wd_cedar_authorize(az, ents, req, scratch, &resp);
    if (rc < 0) {
        st->dec_failed++;
        fail_line(st, test, desc, "authorize failed", "", wd_strerror(rc));
        return;
    }
    const struct wd_node *dec = wd_node_get(rq, "decision");
    size_t ner, nee;
    if (dec == NULL || dec->type != WD_NODE_STR
        || expected_ids(wd_node_get(rq, "reason"), exp_r, MAX_IDS, &ner) < 0
        || expected_ids(wd_node_get(rq, "errors"), exp_e, MAX_IDS, &nee) < 0) {
        st->dec_failed++;
        fail_line(st, test, desc, "malformed expectations", "", "");
        return;
    }
    bool exp_allow = strcmp(dec->u.s.p, "allow") == 0 || strcmp(dec->u.s.p, "Allow") == 0;
    size_t ngr = WD_MIN(resp.nreasons, (size_t)MAX_IDS);
    size_t nge = WD_MIN(resp.nerrors, (size_t)MAX_IDS);
    for (size_t i = 0; i < ngr; i++) {
        got_r[i] = resp.reasons[i];
    }
    for (size_t i = 0; i < nge; i++) {
        got_e[i] = resp.errors[i].policy_id;
    }
    qsort(got_r, ngr, sizeof(*got_r), cmp_str);
    qsort(got_e, nge, sizeof(*got_e), cmp_str);
    char a[1024], b[1024];
    if (exp_allow != resp.allow) {
        st->dec_failed++;
        fail_line(st, test, desc, "decision", exp_allow ? "allow" : "deny",
                  resp.allow ? "allow" : "deny");
        if (st->verbose) {
            for (size_t i = 0; i < resp.nerrors; i++) {
                printf("  error %s: %s\n", resp.errors[i].policy_id, resp.errors[i].message);
            }
        }
        return;
    }
    if (!same_ids(exp_r, ner, got_r, ngr)) {
        fmt_ids(a, sizeof(a), exp_r, ner);
        fmt_ids(b, sizeof(b), got_r, ngr);
        st->dec_failed++;
        fail_line(st, test, desc, "reasons", a, b);
        return;
    }
    if (!same_ids(exp_e, nee, got_e, nge)) {
        fmt_ids(a, sizeof(a), exp_e, nee);
        fmt_ids(b, sizeof(b), got_e, nge);
        st->dec_failed++;
        fail_line(st, test, desc, "errors", a, b);
        if (st->verbose) {
            for (size_t i = 0; i < resp.nerrors; i++) {
                printf("  error %s: %s\n", resp.errors[i].policy_id, resp.errors[i].message);
            }
        }
        return;
    }
    st->passed++;
    st->dec_passed++;
}

static const char *str_field(const struct wd_node *obj, const char *key)
{
    const struct wd_node *n = wd_node_get(obj, key);
    return n != NULL && n->type == WD_NODE_STR ? n->u.s.p : NULL;
}

static void run_test(struct stats *st, const char *root, const char *test, struct wd_buf *b,
                     struct wd_cedar_request *req, struct wd_cedar_scratch *scratch)
{
    struct wd_diag diag;
    struct wd_doc *doc = NULL;
    struct wd_cedar_policyset *ps = NULL;
    struct wd_cedar_entities *ents = NULL;
    struct wd_cedar_authz *az = NULL;
    struct wd_cedar_schema *sch = NULL;
    struct wd_cedar_json_schema guide;
    const struct wd_cedar_json_schema *schema = NULL;
    const char *why = NULL;

    if (read_rel(root, test, b, &diag) < 0
        || wd_json_parse(test, b->p, b->len, NULL, &doc, &diag) < 0) {
        printf("SKIP %s: %s\n", test, diag.msg);
        goto out;
    }
    const struct wd_node *top = wd_doc_root(doc);
    const struct wd_node *requests = wd_node_get(top, "requests");
    const char *pol = str_field(top, "policies");
    const char *ent = str_field(top, "entities");
    if (top->type != WD_NODE_OBJ || requests == NULL || requests->type != WD_NODE_ARR
        || pol == NULL) {
        goto out; /* not a test file */
    }
    st->files++;
    if (read_rel(root, pol, b, &diag) < 0
        || wd_cedar_policyset_parse(pol, (const char *)b->p, b->len, &ps, &diag) < 0) {
        why = diag.msg;
        goto unloadable;
    }
    if (load_schema(root, str_field(top, "schema"), b, &sch, &diag) < 0) {
        why = diag.msg;
        goto unloadable;
    }
    if (sch != NULL) {
        wd_cedar_schema_json_guide(sch, &guide);
        schema = &guide;
    } else {
        st->no_schema++;
    }
    check_validation(st, test, wd_node_get(top, "shouldValidate"), sch, ps);
    if (ent != NULL) {
        if (read_rel(root, ent, b, &diag) < 0
            || wd_cedar_entities_load_json(ent, (const char *)b->p, b->len, schema, NULL, &ents,
                                           &diag)
                       < 0) {
            why = diag.msg;
            goto unloadable;
        }
    } else if (wd_cedar_entities_new(NULL, &ents) < 0 || wd_cedar_entities_freeze(ents, NULL) < 0) {
        why = "out of memory";
        goto unloadable;
    }
    if (wd_cedar_authz_new(ps, &az) < 0) {
        why = "out of memory";
        goto unloadable;
    }
    for (size_t i = 0; i < requests->u.arr.n; i++) {
        run_request(st, test, doc, requests->u.arr.items[i], sch, schema, az, ents, req, scratch);
    }
    goto out;
unloadable:
    st->unloadable++;
    for (size_t i = 0; i < requests->u.arr.n; i++) {
        const struct wd_node *dn = wd_node_get(requests->u.arr.items[i], "description");
        st->dec_failed++;
        fail_line(st, test, dn != NULL && dn->type == WD_NODE_STR ? dn->u.s.p : "?",
                  "test not loaded", "", why);
    }
out:
    wd_cedar_authz_free(az);
    wd_cedar_entities_free(ents);
    wd_cedar_policyset_free(ps);
    wd_cedar_schema_free(sch);
    wd_doc_free(doc);
}

int main(int argc, char **argv)
{
    struct stats st;
    memset(&st, 0, sizeof(st));
    st.validate = true;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            st.verbose = true;
        } else if (strcmp(argv[i], "--no-validate") == 0) {
            st.validate = false;
        } else if (strcmp(argv[i], "--max-fail") == 0 && i + 1 < argc) {
            st.max_fail = strtoul(argv[++i], NULL, 10);
        } else {
            break;
        }
    }
    if (i >= argc) {
        (void)fprintf(stderr,
                      "usage: cedar_corpus [-v] [--no-validate] [--max-fail N] ROOT [SUBDIR...]\n");
        return 2;
    }
    const char *root = argv[i++];
    struct paths tests = {0};
    int rc = WD_OK;
    if (i >= argc) {
        rc = walk(root, "", &tests, 0);
    }
    for (; i < argc && rc == WD_OK; i++) {
        rc = walk(root, argv[i], &tests, 0);
    }
    if (rc < 0) {
        (void)fprintf(stderr, "cedar_corpus: out of memory\n");
        paths_free(&tests);
        return 2;
    }
    qsort(tests.v, tests.n, sizeof(*tests.v), cmp_str);

    struct wd_buf b;
    wd_buf_init(&b, MAX_FILE);
    struct wd_cedar_request *req = NULL;
    struct wd_cedar_scratch *scratch = NULL;
    if (wd_cedar_request_new(&req) < 0 || wd_cedar_scratch_new(&scratch) < 0) {
        (void)fprintf(stderr, "cedar_corpus: out of memory\n");
        return 2;
    }
    for (size_t k = 0; k < tests.n; k++) {
        run_test(&st, root, tests.v[k], &b, req, scratch);
    }
    if (st.max_fail != 0 && st.failed > st.max_fail) {
        printf("(%lu more failures not shown)\n", st.failed - st.max_fail);
    }
    printf("cedar-corpus: %lu files (%lu could not be loaded, %lu without a schema)\n", st.files,
           st.unloadable, st.no_schema);
    printf("cedar-corpus: decisions %lu passed, %lu failed; shouldValidate %lu passed, %lu "
           "failed%s; valid requests rejected by request validation: %lu\n",
           st.dec_passed, st.dec_failed, st.val_passed, st.val_failed,
           st.validate ? "" : " (not checked)", st.reqval_failed);
    /* Totals count checks: each request's decision, each file's shouldValidate, and each
     * valid request that request validation rejected (a failure on its own). */
    printf("cedar-corpus: %lu passed, %lu failed\n", st.passed, st.failed);
    wd_cedar_scratch_free(scratch);
    wd_cedar_request_free(req);
    wd_buf_cleanup(&b);
    paths_free(&tests);
    return st.failed == 0 && st.files > 0 ? 0 : 1;
}
