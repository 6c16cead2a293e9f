/*
 * bench/cedar_bench: Cedar decisions per second in-process, the warden side of bench/cedar
 * (bench/cedar/run.sh runs it next to cedar-wasm on the same files, bench/cedar/wasm.cjs).
 *
 *   cedar_bench gen DIR
 *       Write the synthetic service-mesh sets mesh-10, mesh-100, mesh-1000 and mesh-10000
 *       (policies, entities, 1,000 requests each) into DIR as Cedar integration-test files:
 *       DIR/mesh-N.json naming DIR/mesh-N.cedar and DIR/mesh-N.entities.json.
 *   cedar_bench run [--seconds S] [--reps R] [--samples N] [--every E] [--requests Q]
 *                   [--count K] NAME ROOT PATH...
 *       Decide the requests of every test file under ROOT/PATH (a file, or a directory
 *       searched for *.json test files; with --every E only every E-th of them in name
 *       order; with --requests Q only the first Q requests of each file) and print one
 *       line:
 *         cedar_bench: set=NAME files=F policies=P requests=Q decisions=N seconds=S
 *         rate=R median_us=M p99_us=X heap_per_policy=B allow=A deny=D reasons=RS errors=ES
 *         expected=OK/T
 *       Per file: load the policies (authz index), the entities and the requests (all
 *       outside the timing; with the file's schema, as Cedar's test harness does), decide
 *       every request once (warm-up; counts allow/deny/reasons/errors and compares with the
 *       file's expected decisions when it has them), then time blocks of passes over the
 *       requests: at least R passes (default 10) and, when S > 0, until S seconds of CPU
 *       time (throughput: rate = decisions / CPU seconds, so that time the scheduler gives
 *       to other processes does not count), then time each decision of further passes
 *       on its own with the wall clock (N samples over the whole run, default 20,000, but
 *       at least one pass per file and, after it, no more than the file's share of S) for
 *       the median and p99. heap_per_policy is the heap still in use after loading the
 *       policy set and its index, divided by the number of policies (glibc mallinfo2).
 *       With --count K: only the warm-up pass and then K decisions cycling over the
 *       requests of the first file, no timing (for callgrind: wd_cedar_authorize is called
 *       requests + K times; the line says calls=N).
 *
 * Only wd_cedar_authorize is timed: the request objects are filled before. One thread.
 */
#include <dirent.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/cedar.h"
#include "warden/doc.h"
#include "warden/err.h"
#include "warden/file.h"

#define MAX_FILE ((size_t)64 << 20)

/* ---------- small helpers ---------- */

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    (void)clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wall clock, for single decisions (a vDSO call, ~20 ns). */
static uint64_t now_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

/* CPU time of the process, for blocks of decisions: time given to other processes on a
 * shared machine does not count. */
static uint64_t cpu_ns(void)
{
    return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

struct strv {
    char **v;
    size_t n, cap;
};

static int strv_add(struct strv *p, const char *s)
{
    if (p->n == p->cap) {
        size_t ncap = p->cap == 0 ? 64 : p->cap * 2;
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

static void strv_free(struct strv *p)
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

/* Collect ROOT-relative paths of test files (*.json but not *.entities.json) under rel. */
static int walk(const char *root, const char *rel, struct strv *out, unsigned depth)
{
    char full[8192];
    struct stat st;
    (void)snprintf(full, sizeof(full), "%s/%s", root, rel);
    if (stat(full, &st) != 0) {
        (void)fprintf(stderr, "cedar_bench: %s: not found\n", full);
        return WD_ENOENT;
    }
    if (!S_ISDIR(st.st_mode)) {
        return ends_with(rel, ".json") && !ends_with(rel, ".entities.json") ? strv_add(out, rel)
                                                                            : WD_OK;
    }
    if (depth > 8) {
        return WD_OK;
    }
    DIR *d = opendir(full);
    if (d == NULL) {
        return WD_OK;
    }
    int rc = WD_OK;
    struct dirent *de;
    while (rc == WD_OK && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        char sub[4096];
        (void)snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] != '\0' ? "/" : "", de->d_name);
        rc = walk(root, sub, out, depth + 1);
    }
    (void)closedir(d);
    return rc;
}

/* ---------- one test file, loaded ---------- */

struct tfile {
    struct wd_doc *doc;
    struct wd_cedar_schema *schema;
    struct wd_cedar_json_schema guide;
    struct wd_cedar_policyset *ps;
    struct wd_cedar_authz *az;
    struct wd_cedar_entities *ents;
    struct wd_cedar_request **reqs;
    const char **expected; /* "allow"/"deny" or NULL, per request */
    size_t nreq;
    size_t heap; /* heap held by the policy set and index */
};

static void tfile_free(struct tfile *t)
{
    for (size_t i = 0; i < t->nreq; i++) {
        wd_cedar_request_free(t->reqs[i]);
    }
    wd_free(t->reqs);
    wd_free(t->expected);
    wd_cedar_authz_free(t->az);
    wd_cedar_entities_free(t->ents);
    wd_cedar_policyset_free(t->ps);
    wd_cedar_schema_free(t->schema);
    wd_doc_free(t->doc);
    memset(t, 0, sizeof(*t));
}

static const char *str_field(const struct wd_node *obj, const char *key)
{
    const struct wd_node *n = wd_node_get(obj, key);
    return n != NULL && n->type == WD_NODE_STR ? n->u.s.p : NULL;
}

static int read_rel(const char *root, const char *rel, struct wd_buf *b, struct wd_diag *d)
{
    char full[8192];
    (void)snprintf(full, sizeof(full), "%s/%s", root, rel);
    wd_buf_reset(b);
    return wd_file_read(full, MAX_FILE, b, d);
}

/* Load a test file; WD_ENOENT when it is not a test file (skipped). Errors printed. */
static int tfile_load(const char *root, const char *rel, size_t max_req, struct wd_buf *b,
                      struct tfile *t)
{
    struct wd_diag d = {{0}};
    static const struct wd_doc_limits lim = {.max_bytes = MAX_FILE, .max_nodes = 50000000};
    int rc;
    memset(t, 0, sizeof(*t));
    WD_CHECK(read_rel(root, rel, b, &d));
    WD_CHECK(wd_json_parse(rel, b->p, b->len, &lim, &t->doc, &d));
    const struct wd_node *top = wd_doc_root(t->doc);
    const struct wd_node *rqs = wd_node_get(top, "requests");
    const char *pol = str_field(top, "policies"), *ent = str_field(top, "entities");
    const char *sch = str_field(top, "schema");
    if (top->type != WD_NODE_OBJ || rqs == NULL || rqs->type != WD_NODE_ARR || pol == NULL) {
        rc = WD_ENOENT;
        goto out;
    }
    const struct wd_cedar_json_schema *g = NULL;
    if (sch != NULL) {
        WD_CHECK(read_rel(root, sch, b, &d));
        if (ends_with(sch, ".json")) {
            rc = wd_cedar_schema_parse_json(sch, (const char *)b->p, b->len, &t->schema, &d);
        } else {
            rc = wd_cedar_schema_parse(sch, (const char *)b->p, b->len, &t->schema, &d);
        }
        WD_CHECK(rc);
        wd_cedar_schema_json_guide(t->schema, &t->guide);
        g = &t->guide;
    }
    WD_CHECK(read_rel(root, pol, b, &d));
    size_t h0 = heap_in_use();
    WD_CHECK(wd_cedar_policyset_parse(pol, (const char *)b->p, b->len, &t->ps, &d));
    WD_CHECK(wd_cedar_authz_new(t->ps, &t->az));
    size_t h1 = heap_in_use();
    t->heap = h1 > h0 ? h1 - h0 : 0;
    if (ent != NULL) {
        WD_CHECK(read_rel(root, ent, b, &d));
        static const struct wd_cedar_entities_limits elim = {0};
        struct wd_doc *edoc = NULL;
        rc = wd_json_parse(ent, b->p, b->len, &lim, &edoc, &d);
        if (rc == WD_OK) {
            rc = wd_cedar_entities_new(&elim, &t->ents);
        }
        if (rc == WD_OK) {
            rc = wd_cedar_entities_add_json(t->ents, edoc, wd_doc_root(edoc), g, &d);
        }
        if (rc == WD_OK && g != NULL && g->add_actions != NULL) {
            rc = g->add_actions(g->ctx, t->ents, &d);
        }
        if (rc == WD_OK) {
            rc = wd_cedar_entities_freeze(t->ents, &d);
        }
        wd_doc_free(edoc);
        WD_CHECK(rc);
    } else {
        WD_CHECK(wd_cedar_entities_new(NULL, &t->ents));
        if (g != NULL && g->add_actions != NULL) {
            WD_CHECK(g->add_actions(g->ctx, t->ents, &d));
        }
        WD_CHECK(wd_cedar_entities_freeze(t->ents, &d));
    }
    size_t n = rqs->u.arr.n;
    if (max_req > 0 && n > max_req) {
        n = max_req;
    }
    t->reqs = wd_calloc(n == 0 ? 1 : n, sizeof(struct wd_cedar_request *));
    t->expected = wd_calloc(n == 0 ? 1 : n, sizeof(*t->expected));
    if (t->reqs == NULL || t->expected == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct wd_node *rq = rqs->u.arr.items[i];
        WD_CHECK(wd_cedar_request_new(&t->reqs[i]));
        t->nreq++;
        WD_CHECK(wd_cedar_request_set_json(t->reqs[i], t->doc, rq, g, true, &d));
        t->expected[i] = str_field(rq, "decision");
    }
    rc = WD_OK;
out:
    if (rc < 0 && rc != WD_ENOENT) {
        (void)fprintf(stderr, "cedar_bench: %s: %s\n", rel,
                      d.msg[0] != '\0' ? d.msg : wd_strerror(rc));
    }
    if (rc < 0) {
        tfile_free(t);
    }
    return rc;
}

/* ---------- measuring ---------- */

struct results {
    unsigned long files, policies, requests;
    unsigned long long decisions; /* timed, throughput blocks */
    uint64_t ns;                  /* their time */
    double *samples;              /* per-decision ns */
    size_t nsamples, capsamples;
    unsigned long allow, deny, reasons, errors, exp_ok, exp_total;
    size_t heap;
    unsigned long long calls;
};

static int add_sample(struct results *r, double ns)
{
    if (r->nsamples == r->capsamples) {
        size_t ncap = r->capsamples == 0 ? 65536 : r->capsamples * 2;
        double *nv = wd_reallocarray(r->samples, ncap, sizeof(*nv));
        if (nv == NULL) {
            return WD_ENOMEM;
        }
        r->samples = nv;
        r->capsamples = ncap;
    }
    r->samples[r->nsamples++] = ns;
    return WD_OK;
}

static int decide(const struct tfile *t, size_t i, struct wd_cedar_scratch *s,
                  struct wd_cedar_response *resp)
{
    return wd_cedar_authorize(t->az, t->ents, t->reqs[i], s, resp);
}

struct opts {
    double seconds;
    unsigned long reps;
    unsigned long long count;
    unsigned long samples;
    unsigned long every;
    unsigned long requests;
    bool counting;
};

static int measure(const struct tfile *t, const struct opts *o, size_t nfiles,
                   struct wd_cedar_scratch *s, struct results *r)
{
    struct wd_cedar_response resp;
    if (t->nreq == 0) {
        return WD_OK;
    }
    /* Warm-up pass: counts and expectations. */
    for (size_t i = 0; i < t->nreq; i++) {
        int rc = decide(t, i, s, &resp);
        if (rc < 0) {
            (void)fprintf(stderr, "cedar_bench: authorize failed: %s\n", wd_strerror(rc));
            return rc;
        }
        r->calls++;
        if (resp.allow) {
            r->allow++;
        } else {
            r->deny++;
        }
        r->reasons += resp.nreasons;
        r->errors += resp.nerrors;
        if (t->expected[i] != NULL) {
            r->exp_total++;
            if ((strcmp(t->expected[i], "allow") == 0) == resp.allow) {
                r->exp_ok++;
            }
        }
    }
    if (o->counting) {
        for (unsigned long long k = 0; k < o->count; k++) {
            WD_TRY(decide(t, (size_t)(k % t->nreq), s, &resp));
            r->calls++;
        }
        return WD_OK;
    }
    /* Throughput: whole passes, at least reps of them and (seconds > 0) until the time is
     * up; the per-file time budget is the total divided among the files. */
    uint64_t budget = (uint64_t)(o->seconds * 1e9 / (double)nfiles);
    uint64_t t0 = cpu_ns(), el = 0;
    unsigned long passes = 0;
    while (passes < o->reps || el < budget) {
        for (size_t i = 0; i < t->nreq; i++) {
            WD_TRY(decide(t, i, s, &resp));
        }
        passes++;
        el = cpu_ns() - t0;
    }
    r->ns += el;
    r->decisions += (unsigned long long)passes * t->nreq;
    /* Latency: each decision timed on its own. */
    size_t want = o->samples / nfiles + 1;
    size_t got = 0;
    uint64_t l0 = now_ns();
    do {
        for (size_t i = 0; i < t->nreq; i++) {
            uint64_t a = now_ns();
            WD_TRY(decide(t, i, s, &resp));
            uint64_t b = now_ns();
            WD_TRY(add_sample(r, (double)(b - a)));
            got++;
        }
    } while (got < want && now_ns() - l0 < budget);
    return WD_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

static double quantile(const double *v, size_t n, double q)
{
    if (n == 0) {
        return 0;
    }
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static int cmd_run(int argc, char **argv)
{
    struct opts o = {.seconds = 0, .reps = 10, .samples = 20000, .every = 1};
    int i = 0;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (i + 1 >= argc) {
            return WD_EINVAL;
        }
        char *end = NULL;
        if (strcmp(argv[i], "--seconds") == 0) {
            o.seconds = strtod(argv[++i], &end);
            WD_ENSURE(*end == '\0' && o.seconds >= 0 && o.seconds <= 600, WD_EINVAL);
        } else if (strcmp(argv[i], "--reps") == 0) {
            o.reps = strtoul(argv[++i], &end, 10);
            WD_ENSURE(*end == '\0' && o.reps >= 1, WD_EINVAL);
        } else if (strcmp(argv[i], "--every") == 0) {
            o.every = strtoul(argv[++i], &end, 10);
            WD_ENSURE(*end == '\0' && o.every >= 1, WD_EINVAL);
        } else if (strcmp(argv[i], "--requests") == 0) {
            o.requests = strtoul(argv[++i], &end, 10);
            WD_ENSURE(*end == '\0', WD_EINVAL);
        } else if (strcmp(argv[i], "--samples") == 0) {
            o.samples = strtoul(argv[++i], &end, 10);
            WD_ENSURE(*end == '\0', WD_EINVAL);
        } else if (strcmp(argv[i], "--count") == 0) {
            o.count = strtoull(argv[++i], &end, 10);
            WD_ENSURE(*end == '\0', WD_EINVAL);
            o.counting = true;
        } else {
            return WD_EINVAL;
        }
    }
    WD_ENSURE(argc - i >= 3, WD_EINVAL);
    const char *name = argv[i], *root = argv[i + 1];
    struct strv files = {0};
    int rc = WD_OK;
    for (int k = i + 2; k < argc && rc == WD_OK; k++) {
        rc = walk(root, argv[k], &files, 0);
    }
    if (rc < 0) {
        strv_free(&files);
        return rc;
    }
    if (files.n > 1) {
        qsort(files.v, files.n, sizeof(*files.v), cmp_str);
    }
    size_t kept = 0;
    for (size_t k = 0; k < files.n; k++) {
        if (k % o.every == 0) {
            files.v[kept++] = files.v[k];
        } else {
            wd_free(files.v[k]);
        }
    }
    files.n = kept;
    struct results r = {0};
    struct wd_buf b;
    wd_buf_init(&b, MAX_FILE);
    struct wd_cedar_scratch *s = NULL;
    WD_CHECK(wd_cedar_scratch_new(&s));
    for (size_t k = 0; k < files.n; k++) {
        struct tfile t;
        rc = tfile_load(root, files.v[k], o.requests, &b, &t);
        if (rc == WD_ENOENT) {
            continue;
        }
        WD_CHECK(rc);
        r.files++;
        r.policies += wd_cedar_policyset_count(t.ps);
        r.requests += t.nreq;
        r.heap += t.heap;
        rc = measure(&t, &o, files.n, s, &r);
        tfile_free(&t);
        WD_CHECK(rc);
        if (o.counting) {
            break;
        }
    }
    if (o.counting) {
        printf("cedar_bench: set=%s calls=%llu\n", name, r.calls);
        rc = WD_OK;
        goto out;
    }
    WD_ENSURE(r.files > 0 && r.decisions > 0, WD_ENOENT);
    qsort(r.samples, r.nsamples, sizeof(*r.samples), cmp_double);
    double secs = (double)r.ns / 1e9;
    printf("cedar_bench: set=%s files=%lu policies=%lu requests=%lu decisions=%llu seconds=%.3f "
           "rate=%.0f median_us=%.3f p99_us=%.3f heap_per_policy=%.0f allow=%lu deny=%lu "
           "reasons=%lu errors=%lu expected=%lu/%lu\n",
           name, r.files, r.policies, r.requests, r.decisions, secs, (double)r.decisions / secs,
           quantile(r.samples, r.nsamples, 0.5) / 1e3, quantile(r.samples, r.nsamples, 0.99) / 1e3,
           r.policies > 0 ? (double)r.heap / (double)r.policies : 0.0, r.allow, r.deny, r.reasons,
           r.errors, r.exp_ok, r.exp_total);
    rc = WD_OK;
out:
    wd_cedar_scratch_free(s);
    wd_buf_cleanup(&b);
    wd_free(r.samples);
    strv_free(&files);
    return rc;
}

/* ---------- the synthetic mesh ---------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rnd(uint32_t n)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)(((rng_state * 0x2545f4914f6cdd1du) >> 32) % n);
}

#define NGROUPS   4
#define NFORBIDS  4
#define NREQUESTS 1000

static const char *const groups[NGROUPS] = {"pci", "frontend-tier", "backend-tier", "batch"};

struct mesh {
    unsigned npol, nwl, napps;
    /* per permit: shape and parameters */
    struct mpol {
        unsigned shape, a, b, app;
    } * pol;
};

static void wl_id(char *out, size_t n, unsigned i)
{
    (void)snprintf(out, n, "spiffe://mesh.example/ns/ns%u/sa/svc%u", i % 8, i);
}

static unsigned wl_app(const struct mesh *m, unsigned i)
{
    return i % m->napps;
}

static int gen_policies(const struct mesh *m, struct wd_buf *o)
{
    char pa[96], pb[96];
    WD_TRY(wd_buf_printf(o, "// synthetic service mesh: %u policies, %u workloads, %u apps\n\n",
                         m->npol, m->nwl, m->napps));
    for (unsigned k = 0; k < m->npol - NFORBIDS; k++) {
        const struct mpol *p = &m->pol[k];
        wl_id(pa, sizeof(pa), p->a);
        wl_id(pb, sizeof(pb), p->b);
        switch (p->shape) {
        case 0:
            WD_TRY(wd_buf_printf(o,
                                 "permit (\n  principal == Workload::\"%s\",\n  action in "
                                 "[Action::\"http:GET\", Action::\"http:PUT\"],\n  resource == "
                                 "Workload::\"%s\"\n)\nwhen { context.route like \"/api/v%u/*\" "
                                 "&& context.method != \"DELETE\" };\n\n",
                                 pa, pb, k % 3 + 1));
            break;
        case 1:
            WD_TRY(wd_buf_printf(o,
                                 "permit (\n  principal in App::\"app%u\",\n  action == "
                                 "Action::\"http:POST\",\n  resource == Workload::\"%s\"\n)\nwhen "
                                 "{ context.route == \"orders\" && context.params has id && "
                                 "context.body.size < 1048576 };\n\n",
                                 p->app, pb));
            break;
        case 2:
            WD_TRY(wd_buf_printf(o,
                                 "permit (\n  principal == Workload::\"%s\",\n  action in "
                                 "Action::\"http\",\n  resource in App::\"app%u\"\n)\nwhen { "
                                 "principal.party == resource.party && context.claims has node "
                                 "&& context.claims.node == principal.node };\n\n",
                                 pa, p->app));
            break;
        default:
            WD_TRY(wd_buf_printf(o,
                                 "permit (\n  principal == Workload::\"%s\",\n  action == "
                                 "Action::\"tcp:connect\",\n  resource == Workload::\"%s\"\n)\n"
                                 "when { context.port == 8443 && "
                                 "principal.labels.contains(\"mtls\") };\n\n",
                                 pa, pb));
            break;
        }
    }
    return wd_buf_append_str(
            o, "forbid (principal, action, resource)\nunless { context.claims has attestation && "
               "context.claims.attestation != \"none\" };\n\n"
               "forbid (principal, action in Action::\"http\", resource in Group::\"pci\")\n"
               "when { context.detections.contains(\"card-number\") }\n"
               "unless { principal in Group::\"pci\" };\n\n"
               "forbid (principal, action, resource)\n"
               "when { context.source_ip.isInRange(ip(\"192.168.0.0/16\")) };\n\n"
               "forbid (principal, action in Action::\"http\", resource)\n"
               "when { context.headers.contains(\"x-debug\") && !(principal in "
               "Group::\"backend-tier\") };\n");
}

static int gen_entities(const struct mesh *m, struct wd_buf *o)
{
    char id[96];
    WD_TRY(wd_buf_append_str(o, "[\n"));
    for (unsigned g = 0; g < NGROUPS; g++) {
        WD_TRY(wd_buf_printf(o,
                             "{\"uid\":{\"type\":\"Group\",\"id\":\"%s\"},\"attrs\":{},"
                             "\"parents\":[]},\n",
                             groups[g]));
    }
    for (unsigned a = 0; a < m->napps; a++) {
        WD_TRY(wd_buf_printf(o,
                             "{\"uid\":{\"type\":\"App\",\"id\":\"app%u\"},\"attrs\":{\"team\":"
                             "\"team%u\"},\"parents\":[{\"type\":\"Group\",\"id\":\"%s\"}]},\n",
                             a, a % 7, groups[a % NGROUPS]));
    }
    static const char *const acts[] = {"http:GET", "http:POST", "http:PUT", "http:DELETE"};
    WD_TRY(wd_buf_append_str(o, "{\"uid\":{\"type\":\"Action\",\"id\":\"http\"},\"attrs\":{},"
                                "\"parents\":[]},\n"));
    WD_TRY(wd_buf_append_str(o, "{\"uid\":{\"type\":\"Action\",\"id\":\"tcp:connect\"},"
                                "\"attrs\":{},\"parents\":[]},\n"));
    for (size_t k = 0; k < WD_ARRAY_LEN(acts); k++) {
        WD_TRY(wd_buf_printf(o,
                             "{\"uid\":{\"type\":\"Action\",\"id\":\"%s\"},\"attrs\":{},"
                             "\"parents\":[{\"type\":\"Action\",\"id\":\"http\"}]},\n",
                             acts[k]));
    }
    for (unsigned i = 0; i < m->nwl; i++) {
        wl_id(id, sizeof(id), i);
        WD_TRY(wd_buf_printf(
                o,
                "{\"uid\":{\"type\":\"Workload\",\"id\":\"%s\"},\"attrs\":{\"party\":"
                "\"%s\",\"node\":\"node-%u\",\"namespace\":\"ns%u\",\"labels\":["
                "\"tier-%u\"%s]},\"parents\":[{\"type\":\"App\",\"id\":\"app%u\"}]}%s\n",
                id, i % 5 == 0 ? "partner" : "shop", i % 16, i % 8, i % 3,
                i % 4 != 3 ? ",\"mtls\"" : "", wl_app(m, i), i + 1 < m->nwl ? "," : ""));
    }
    return wd_buf_append_str(o, "]\n");
}

/* One request, aimed at permit k (or random), in Cedar's request JSON. */
static int gen_request(const struct mesh *m, struct wd_buf *o)
{
    unsigned nperm = m->npol - NFORBIDS;
    const struct mpol *p = &m->pol[rnd(nperm)];
    bool random = rnd(10) < 2;
    unsigned a = random ? rnd(m->nwl) : p->a;
    unsigned b = random ? rnd(m->nwl) : p->b;
    const char *action;
    char route[64];
    bool tcp = false;
    (void)snprintf(route, sizeof(route), "/api/v%u/items", rnd(3) + 1);
    switch (p->shape) {
    case 0:
        action = rnd(2) ? "http:GET" : "http:PUT";
        break;
    case 1:
        action = "http:POST";
        (void)snprintf(route, sizeof(route), "orders");
        if (!random) {
            /* a workload of the app */
            a = p->app + m->napps * rnd((m->nwl - p->app + m->napps - 1) / m->napps);
            a = a < m->nwl ? a : p->app;
        }
        break;
    case 2:
        action = rnd(2) ? "http:GET" : "http:DELETE";
        if (!random) {
            b = p->app;
        }
        break;
    default:
        action = "tcp:connect";
        tcp = true;
        break;
    }
    char pa[96], pb[96];
    wl_id(pa, sizeof(pa), a);
    wl_id(pb, sizeof(pb), b);
    WD_TRY(wd_buf_printf(
            o,
            "{\"principal\":{\"type\":\"Workload\",\"id\":\"%s\"},\"action\":{\"type\":"
            "\"Action\",\"id\":\"%s\"},\"resource\":{\"type\":\"Workload\",\"id\":"
            "\"%s\"},\"context\":{",
            pa, action, pb));
    unsigned r = rnd(100);
    const char *att = r < 3 ? "none" : "tpm";
    const char *src = r >= 3 && r < 5 ? "192.168.1.20" : "10.0.3.4";
    WD_TRY(wd_buf_printf(o,
                         "\"source_ip\":{\"__extn\":{\"fn\":\"ip\",\"arg\":\"%s\"}},\"port\":%u,"
                         "\"claims\":{\"attestation\":\"%s\",\"node\":\"node-%u\",\"party\":"
                         "\"shop\"}",
                         src, rnd(10) < 9 ? 8443u : 80u, att, rnd(10) < 8 ? a % 16 : rnd(16)));
    if (!tcp) {
        WD_TRY(wd_buf_printf(
                o,
                ",\"method\":\"%s\",\"path\":\"%s/%u\",\"route\":\"%s\",\"params\":{%s},"
                "\"headers\":[\"content-type\",\"user-agent\"%s],\"body\":{\"size\":%u},"
                "\"detections\":[%s],\"time\":{\"__extn\":{\"fn\":\"datetime\",\"arg\":"
                "\"2024-06-03T10:%02u:00Z\"}}",
                action + 5, route, rnd(1000), route, rnd(10) < 9 ? "\"id\":\"42\"" : "",
                r >= 5 && r < 7 ? ",\"x-debug\"" : "", rnd(2000000),
                r >= 7 && r < 10 ? "\"card-number\"" : "", rnd(60)));
    }
    return wd_buf_append_str(o, "}}");
}

static int gen_set(const char *dir, unsigned npol)
{
    struct mesh m = {.npol = npol};
    m.nwl = npol / 4 < 8 ? 8 : npol / 4;
    m.napps = m.nwl / 5 < 4 ? 4 : m.nwl / 5;
    m.pol = wd_calloc(npol, sizeof(*m.pol));
    struct wd_buf o;
    struct wd_diag d;
    char path[4096], name[64];
    int rc;
    wd_buf_init(&o, (size_t)256 << 20);
    WD_ENSURE(m.pol != NULL, WD_ENOMEM);
    rng_state = 0x9e3779b97f4a7c15u ^ npol;
    for (unsigned k = 0; k + NFORBIDS < npol; k++) {
        m.pol[k].shape = k % 4;
        m.pol[k].a = rnd(m.nwl);
        m.pol[k].b = rnd(m.nwl);
        m.pol[k].app = rnd(m.napps);
    }
    (void)snprintf(name, sizeof(name), "mesh-%u", npol);
    WD_CHECK(gen_policies(&m, &o));
    (void)snprintf(path, sizeof(path), "%s/%s.cedar", dir, name);
    WD_CHECK(wd_file_write_atomic(path, o.p, o.len, 0644, &d));
    wd_buf_reset(&o);
    WD_CHECK(gen_entities(&m, &o));
    (void)snprintf(path, sizeof(path), "%s/%s.entities.json", dir, name);
    WD_CHECK(wd_file_write_atomic(path, o.p, o.len, 0644, &d));
    wd_buf_reset(&o);
    WD_CHECK(wd_buf_printf(&o,
                           "{\n\"policies\": \"%s.cedar\",\n\"entities\": \"%s.entities.json\",\n"
                           "\"requests\": [\n",
                           name, name));
    for (unsigned i = 0; i < NREQUESTS; i++) {
        WD_CHECK(gen_request(&m, &o));
        WD_CHECK(wd_buf_append_str(&o, i + 1 < NREQUESTS ? ",\n" : "\n"));
    }
    WD_CHECK(wd_buf_append_str(&o, "]\n}\n"));
    (void)snprintf(path, sizeof(path), "%s/%s.json", dir, name);
    WD_CHECK(wd_file_write_atomic(path, o.p, o.len, 0644, &d));
    rc = WD_OK;
out:
    if (rc < 0) {
        (void)fprintf(stderr, "cedar_bench: gen %s: %s\n", name, wd_strerror(rc));
    }
    wd_buf_cleanup(&o);
    wd_free(m.pol);
    return rc;
}

static int cmd_gen(const char *dir)
{
    static const unsigned sizes[] = {10, 100, 1000, 10000};
    for (size_t i = 0; i < WD_ARRAY_LEN(sizes); i++) {
        WD_TRY(gen_set(dir, sizes[i]));
    }
    return WD_OK;
}

int main(int argc, char **argv)
{
    int rc = WD_EINVAL;
    if (argc == 3 && strcmp(argv[1], "gen") == 0) {
        rc = cmd_gen(argv[2]);
    } else if (argc >= 2 && strcmp(argv[1], "run") == 0) {
        rc = cmd_run(argc - 2, argv + 2);
    }
    if (rc == WD_EINVAL) {
        (void)fprintf(stderr, "usage: cedar_bench gen DIR\n"
                              "       cedar_bench run [--seconds S] [--reps R] [--samples N] "
                              "[--every E] [--requests Q] [--count K] NAME ROOT PATH...\n");
        return 2;
    }
    if (rc < 0) {
        (void)fprintf(stderr, "cedar_bench: %s\n", wd_strerror(rc));
        return 1;
    }
    return 0;
}
