/*
 * Loading a detector set from a doc.h tree (include/warden/detect.h): strict reading of the
 * `detectors` mapping and the `scan` settings, PCRE2 compilation with JIT, literal
 * extraction, and the prefilter automaton.
 */
#include <stdio.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/err.h"
#include "warden/log.h"

#include "detect_int.h"

#define DEF_MAX_SCAN    ((size_t)1 << 20)
#define DEF_MATCH_LIMIT 100000u
#define DEF_DEPTH_LIMIT 10000u
#define DEF_HEAP_LIMIT  8192u
#define LIMIT_MAX       100000000
#define HEAP_LIMIT_MAX  1048576
#define JSON_INDEX_MAX  1000000
#define DEF_OVERSIZE    "oversize"

/*
 * PCRE2_UTF with PCRE2_MATCH_INVALID_UTF: bodies are not validated first; an invalid
 * sequence never matches and splits the subject, so a hostile sender cannot hide a match
 * (or make the scan fail) by adding a stray byte. \C is refused: it could split a
 * character.
 */
#define COMPILE_OPTS (PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C)

void *det_pcre2_malloc(PCRE2_SIZE n, void *data)
{
    void *p = wd_malloc(n);
    if (p == NULL && data != NULL) {
        atomic_store_explicit((atomic_bool *)data, true, memory_order_relaxed);
    }
    return p;
}

void det_pcre2_free(void *p, void *data)
{
    (void)data;
    wd_free(p);
}

static void det_cleanup(struct det *d)
{
    wd_free(d->name);
    pcre2_code_free(d->re);
    wd_free(d->lit);
    for (size_t k = 0; k < d->nsteps; k++) {
        wd_free(d->steps[k].key);
    }
    wd_free(d->eq_s);
}

void wd_detect_set_free(struct wd_detect_set *set)
{
    if (set == NULL) {
        return;
    }
    for (size_t i = 0; i < set->n; i++) {
        det_cleanup(&set->dets[i]);
    }
    wd_free(set->dets);
    det_ac_free(set->ac);
    pcre2_compile_context_free(set->cctx);
    pcre2_general_context_free(set->gctx);
    wd_free(set);
}

static bool name_valid(const char *s, size_t n)
{
    if (n == 0 || n > WD_DETECT_NAME_MAX || strlen(s) != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
              || c == '.' || c == ':' || c == '-')) {
            return false;
        }
    }
    return true;
}

/*
 * Compile pattern (a string node) into *re. PCRE2's message and error offset go into diag
 * at the node; an allocation failure inside PCRE2 (seen through the oom flag) is WD_ENOMEM.
 */
static int compile_regex(struct wd_detect_set *set, const struct wd_doc *doc,
                         const struct wd_node *n, const char *dname, const char *what,
                         pcre2_code **re, struct wd_diag *diag)
{
    if (n->u.s.len == 0) {
        return wd_doc_error(doc, n, diag, "detector '%s': %s: must not be empty", dname, what);
    }
    if (n->u.s.len > WD_DETECT_PATTERN_MAX) {
        return wd_doc_error(doc, n, diag, "detector '%s': %s: longer than %d bytes", dname, what,
                            WD_DETECT_PATTERN_MAX);
    }
    int err = 0;
    PCRE2_SIZE off = 0;
    atomic_store(&set->oom, false);
    *re = pcre2_compile((PCRE2_SPTR)n->u.s.p, n->u.s.len, COMPILE_OPTS, &err, &off, set->cctx);
    if (*re == NULL) {
        if (atomic_load(&set->oom)) {
            return WD_ENOMEM;
        }
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(err, msg, sizeof(msg)) < 0) {
            (void)snprintf((char *)msg, sizeof(msg), "error %d", err);
        }
        return wd_doc_error(doc, n, diag, "detector '%s': %s: %s at offset %zu", dname, what,
                            (const char *)msg, (size_t)off);
    }
    if (set->jit) {
        atomic_store(&set->oom, false);
        int jrc = pcre2_jit_compile(*re, PCRE2_JIT_COMPLETE);
        if (jrc == 0) {
            set->jit_any = true;
        } else if (atomic_load(&set->oom)) {
            return WD_ENOMEM;
        }
        /* Any other JIT failure (no JIT on this platform, no executable memory): the
         * interpreter runs the same pattern with the same limits. */
    }
    return WD_OK;
}

/* `$` followed by `.name` and `[index]` steps. */
static int parse_path(const struct wd_doc *doc, const struct wd_node *n, const char *dname,
                      struct det *d, struct wd_diag *diag)
{
    const char *p = n->u.s.p;
    size_t len = n->u.s.len, i = 1;
    if (len == 0 || p[0] != '$' || strlen(p) != len) {
        return wd_doc_error(doc, n, diag, "detector '%s': json_field: must start with '$'", dname);
    }
    while (i < len) {
        if (d->nsteps == WD_DETECT_PATH_MAX) {
            return wd_doc_error(doc, n, diag, "detector '%s': json_field: more than %d steps",
                                dname, WD_DETECT_PATH_MAX);
        }
        struct det_step *st = &d->steps[d->nsteps];
        if (p[i] == '.') {
            size_t start = ++i;
            while (i < len && p[i] != '.' && p[i] != '[' && p[i] != ']') {
                i++;
            }
            if (i == start) {
                return wd_doc_error(doc, n, diag,
                                    "detector '%s': json_field: empty name at byte %zu", dname,
                                    start + 1);
            }
            st->key = wd_strndup(p + start, i - start);
            if (st->key == NULL) {
                return WD_ENOMEM;
            }
            st->key_len = i - start;
            d->nsteps++;
        } else if (p[i] == '[') {
            size_t start = ++i, v = 0;
            while (i < len && p[i] >= '0' && p[i] <= '9' && v <= JSON_INDEX_MAX) {
                v = v * 10 + (size_t)(p[i] - '0');
                i++;
            }
            if (i == start || i >= len || p[i] != ']' || v > JSON_INDEX_MAX) {
                return wd_doc_error(doc, n, diag,
                                    "detector '%s': json_field: expected [index] (0 to %d) at "
                                    "byte %zu",
                                    dname, JSON_INDEX_MAX, start + 1);
            }
            i++;
            st->index = v;
            d->nsteps++;
        } else {
            return wd_doc_error(doc, n, diag,
                                "detector '%s': json_field: expected '.' or '[' at byte %zu", dname,
                                i + 1);
        }
    }
    return WD_OK;
}

static int load_detector(struct wd_detect_set *set, const struct wd_doc *doc,
                         const struct wd_member *m, struct det *d, struct wd_diag *diag)
{
    char dname[4 * WD_DETECT_NAME_MAX + 8];
    (void)wd_log_escape(dname, sizeof(dname), m->key, m->key_len);
    if (!name_valid(m->key, m->key_len)) {
        return wd_diag_set(diag, WD_ECONFIG, wd_doc_file(doc), m->line, m->col,
                           "detector '%s': bad name (expected [A-Za-z0-9_.:-], 1 to %d bytes)",
                           dname, WD_DETECT_NAME_MAX);
    }
    const struct wd_node *regex, *hint, *size, *jf, *eq, *matches;
    const struct wd_field fields[] = {
            {"regex", WD_NODE_STR, WD_FIELD_OPTIONAL, &regex},
            {"literal_hint", WD_NODE_STR, WD_FIELD_OPTIONAL, &hint},
            {"size_over", WD_NODE_INT, WD_FIELD_OPTIONAL, &size},
            {"json_field", WD_NODE_STR, WD_FIELD_OPTIONAL, &jf},
            {"equals", WD_NODE_NULL, WD_FIELD_OPTIONAL, &eq},
            {"matches", WD_NODE_STR, WD_FIELD_OPTIONAL, &matches},
    };
    WD_TRY(wd_doc_read_object(doc, m->val, fields, WD_ARRAY_LEN(fields), diag));
    d->name = wd_strndup(m->key, m->key_len);
    if (d->name == NULL) {
        return WD_ENOMEM;
    }
    int kinds = (regex != NULL) + (size != NULL) + (jf != NULL);
    if (kinds != 1) {
        return wd_doc_error(doc, m->val, diag,
                            "detector '%s': needs exactly one of regex, size_over, json_field",
                            dname);
    }
    if (hint != NULL && regex == NULL) {
        return wd_doc_error(doc, hint, diag, "detector '%s': literal_hint needs regex", dname);
    }
    if ((eq != NULL || matches != NULL) && jf == NULL) {
        return wd_doc_error(doc, eq != NULL ? eq : matches, diag,
                            "detector '%s': equals and matches need json_field", dname);
    }
    if (eq != NULL && matches != NULL) {
        return wd_doc_error(doc, matches, diag,
                            "detector '%s': equals and matches exclude each other", dname);
    }
    if (regex != NULL) {
        d->kind = DET_REGEX;
        WD_TRY(compile_regex(set, doc, regex, dname, "regex", &d->re, diag));
        char lit[DET_LIT_MAX];
        size_t ll;
        if (hint != NULL) {
            if (hint->u.s.len == 0 || hint->u.s.len > WD_DETECT_HINT_MAX) {
                return wd_doc_error(doc, hint, diag,
                                    "detector '%s': literal_hint: must be 1 to %d bytes", dname,
                                    WD_DETECT_HINT_MAX);
            }
            ll = WD_MIN(hint->u.s.len, (size_t)DET_LIT_MAX);
            memcpy(lit, hint->u.s.p, ll);
        } else {
            ll = det_required_literal(regex->u.s.p, regex->u.s.len, lit);
        }
        if (ll > 0) {
            d->lit = wd_malloc(ll);
            if (d->lit == NULL) {
                return WD_ENOMEM;
            }
            memcpy(d->lit, lit, ll);
            d->lit_len = ll;
        }
        return WD_OK;
    }
    if (size != NULL) {
        if (size->u.i < 0) {
            return wd_doc_error(doc, size, diag, "detector '%s': size_over must not be negative",
                                dname);
        }
        d->kind = DET_SIZE;
        d->size_over = (uint64_t)size->u.i;
        return WD_OK;
    }
    d->kind = DET_JSON;
    set->has_json = true;
    WD_TRY(parse_path(doc, jf, dname, d, diag));
    d->test = DET_PRESENT;
    if (matches != NULL) {
        d->test = DET_MATCHES;
        WD_TRY(compile_regex(set, doc, matches, dname, "matches", &d->re, diag));
    } else if (eq != NULL) {
        d->test = DET_EQUALS;
        d->eq_type = eq->type;
        switch (eq->type) {
        case WD_NODE_STR:
            d->eq_s = wd_malloc(eq->u.s.len + 1);
            if (d->eq_s == NULL) {
                return WD_ENOMEM;
            }
            memcpy(d->eq_s, eq->u.s.p, eq->u.s.len + 1);
            d->eq_len = eq->u.s.len;
            break;
        case WD_NODE_INT:
            d->eq_i = eq->u.i;
            break;
        case WD_NODE_REAL:
            d->eq_d = eq->u.d;
            break;
        case WD_NODE_BOOL:
            d->eq_b = eq->u.b;
            break;
        default:
            return wd_doc_error(doc, eq, diag,
                                "detector '%s': equals: expected string, number or boolean, got %s",
                                dname, wd_node_type_name(eq->type));
        }
    }
    return WD_OK;
}

/* An integer setting in [lo, hi]. */
static int get_int(const struct wd_doc *doc, const struct wd_node *n, const char *what, int64_t lo,
                   int64_t hi, int64_t *out, struct wd_diag *diag)
{
    if (n == NULL) {
        return WD_OK;
    }
    if (n->u.i < lo || n->u.i > hi) {
        return wd_doc_error(doc, n, diag, "scan: %s must be between %lld and %lld", what,
                            (long long)lo, (long long)hi);
    }
    *out = n->u.i;
    return WD_OK;
}

static int load_scan(struct wd_detect_set *set, const struct wd_doc *doc,
                     const struct wd_node *scan, bool *report, const struct wd_node **oversize_name,
                     struct wd_diag *diag)
{
    set->max_scan = DEF_MAX_SCAN;
    set->match_limit = DEF_MATCH_LIMIT;
    set->depth_limit = DEF_DEPTH_LIMIT;
    set->heap_limit_kib = DEF_HEAP_LIMIT;
    set->jit = true;
    *report = true;
    *oversize_name = NULL;
    if (scan == NULL) {
        return WD_OK;
    }
    const struct wd_node *max, *mode, *oname, *ml, *dl, *hl, *jit;
    const struct wd_field fields[] = {
            {"max_bytes", WD_NODE_INT, WD_FIELD_OPTIONAL, &max},
            {"oversize", WD_NODE_STR, WD_FIELD_OPTIONAL, &mode},
            {"oversize_detector", WD_NODE_STR, WD_FIELD_OPTIONAL, &oname},
            {"match_limit", WD_NODE_INT, WD_FIELD_OPTIONAL, &ml},
            {"depth_limit", WD_NODE_INT, WD_FIELD_OPTIONAL, &dl},
            {"heap_limit_kib", WD_NODE_INT, WD_FIELD_OPTIONAL, &hl},
            {"jit", WD_NODE_BOOL, WD_FIELD_OPTIONAL, &jit},
    };
    WD_TRY(wd_doc_read_object(doc, scan, fields, WD_ARRAY_LEN(fields), diag));
    int64_t v = (int64_t)set->max_scan;
    WD_TRY(get_int(doc, max, "max_bytes", 1, WD_DETECT_SCAN_MAX, &v, diag));
    set->max_scan = (size_t)v;
    v = set->match_limit;
    WD_TRY(get_int(doc, ml, "match_limit", 1, LIMIT_MAX, &v, diag));
    set->match_limit = (uint32_t)v;
    v = set->depth_limit;
    WD_TRY(get_int(doc, dl, "depth_limit", 1, LIMIT_MAX, &v, diag));
    set->depth_limit = (uint32_t)v;
    v = set->heap_limit_kib;
    WD_TRY(get_int(doc, hl, "heap_limit_kib", 1, HEAP_LIMIT_MAX, &v, diag));
    set->heap_limit_kib = (uint32_t)v;
    if (jit != NULL) {
        set->jit = jit->u.b;
    }
    bool prefix = false;
    if (mode != NULL) {
        if (strcmp(mode->u.s.p, "prefix") == 0 && mode->u.s.len == 6) {
            prefix = true;
        } else if (!(strcmp(mode->u.s.p, "report") == 0 && mode->u.s.len == 6)) {
            return wd_doc_error(doc, mode, diag, "scan: oversize must be \"report\" or \"prefix\"");
        }
    }
    if (prefix && oname != NULL) {
        return wd_doc_error(doc, oname, diag, "scan: oversize_detector needs oversize: report");
    }
    if (oname != NULL && !name_valid(oname->u.s.p, oname->u.s.len)) {
        return wd_doc_error(doc, oname, diag,
                            "scan: oversize_detector: bad name (expected [A-Za-z0-9_.:-], 1 to "
                            "%d bytes)",
                            WD_DETECT_NAME_MAX);
    }
    *report = !prefix;
    *oversize_name = oname;
    return WD_OK;
}

static int build_prefilter(struct wd_detect_set *set)
{
    const char *lits[WD_DETECT_MAX];
    size_t lens[WD_DETECT_MAX];
    uint16_t ids[WD_DETECT_MAX];
    size_t n = 0;
    for (size_t i = 0; i < set->n; i++) {
        if (set->dets[i].lit != NULL) {
            lits[n] = set->dets[i].lit;
            lens[n] = set->dets[i].lit_len;
            ids[n] = (uint16_t)i;
            n++;
        }
    }
    /* With a single literal the automaton would only repeat the search PCRE2's own
     * start-of-match optimisations (first code unit, required code unit) already do, and the
     * benchmark shows it costs more than it saves: no prefilter then. */
    if (n < 2) {
        return WD_OK;
    }
    set->nlit = n;
    return det_ac_build(lits, lens, ids, n, &set->ac);
}

int wd_detect_set_load(const struct wd_doc *doc, const struct wd_node *detectors,
                       const struct wd_node *scan, struct wd_detect_set **out, struct wd_diag *diag)
{
    WD_ENSURE(out != NULL, WD_EINVAL);
    *out = NULL;
    WD_ENSURE(doc != NULL, WD_EINVAL);
    if (detectors == NULL || detectors->type != WD_NODE_OBJ) {
        return wd_doc_error(doc, detectors, diag, "detectors: expected object, got %s",
                            detectors == NULL ? "nothing" : wd_node_type_name(detectors->type));
    }
    int rc = WD_OK;
    struct wd_detect_set *set = wd_calloc(1, sizeof(*set));
    if (set == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    atomic_init(&set->oom, false);
    const struct wd_node *oname = NULL;
    bool report = true;
    WD_CHECK(load_scan(set, doc, scan, &report, &oname, diag));
    size_t nd = detectors->u.obj.n;
    /* The oversize detector takes one more slot unless it reuses a detector's name. */
    size_t extra = 0;
    const char *oversize = oname != NULL ? oname->u.s.p : DEF_OVERSIZE;
    if (report) {
        extra = 1;
        for (size_t i = 0; i < nd; i++) {
            if (strcmp(detectors->u.obj.members[i].key, oversize) == 0) {
                extra = 0;
                set->oversize_idx = i;
            }
        }
        if (extra == 1) {
            set->oversize_idx = nd;
        }
    } else {
        set->oversize_idx = SIZE_MAX;
    }
    if (nd + extra > WD_DETECT_MAX) {
        rc = wd_doc_error(doc, detectors, diag, "detectors: more than %d (oversize included)",
                          WD_DETECT_MAX);
        goto out;
    }
    set->dets = wd_calloc(nd + extra == 0 ? 1 : nd + extra, sizeof(*set->dets));
    set->gctx = pcre2_general_context_create(det_pcre2_malloc, det_pcre2_free, &set->oom);
    if (set->dets == NULL || set->gctx == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    set->cctx = pcre2_compile_context_create(set->gctx);
    if (set->cctx == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nd; i++) {
        set->n = i + 1;
        WD_CHECK(load_detector(set, doc, &detectors->u.obj.members[i], &set->dets[i], diag));
    }
    if (extra == 1) {
        struct det *d = &set->dets[nd];
        set->n = nd + 1;
        d->kind = DET_OVERSIZE;
        d->name = wd_strdup(oversize);
        if (d->name == NULL) {
            rc = WD_ENOMEM;
            goto out;
        }
    }
    WD_CHECK(build_prefilter(set));
    *out = set;
    set = NULL;
out:
    if (rc == WD_ENOMEM) {
        (void)wd_diag_set(diag, WD_ENOMEM, NULL, 0, 0, "out of memory");
    }
    wd_detect_set_free(set);
    return rc;
}

int wd_detect_set_parse_yaml(const char *file, const void *p, size_t len,
                             struct wd_detect_set **out, struct wd_diag *diag)
{
    WD_ENSURE(out != NULL, WD_EINVAL);
    *out = NULL;
    struct wd_doc *doc = NULL;
    WD_TRY(wd_yaml_parse(file, p, len, NULL, &doc, diag));
    const struct wd_node *dets, *scan;
    const struct wd_field fields[] = {
            {"detectors", WD_NODE_OBJ, WD_FIELD_REQUIRED, &dets},
            {"scan", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &scan},
    };
    int rc = wd_doc_read_object(doc, wd_doc_root(doc), fields, WD_ARRAY_LEN(fields), diag);
    if (rc == WD_OK) {
        rc = wd_detect_set_load(doc, dets, scan, out, diag);
    }
    wd_doc_free(doc);
    return rc;
}

size_t wd_detect_count(const struct wd_detect_set *set)
{
    return set == NULL ? 0 : set->n;
}

const char *wd_detect_name(const struct wd_detect_set *set, size_t i)
{
    return set == NULL || i >= set->n ? NULL : set->dets[i].name;
}

size_t wd_detect_max_scan(const struct wd_detect_set *set)
{
    return set == NULL ? 0 : set->max_scan;
}

bool wd_detect_literal(const struct wd_detect_set *set, size_t i, char *lit, size_t litsz)
{
    if (set == NULL || i >= set->n || set->dets[i].lit == NULL) {
        return false;
    }
    if (lit != NULL && litsz > 0) {
        size_t n = WD_MIN(set->dets[i].lit_len, litsz - 1);
        memcpy(lit, set->dets[i].lit, n);
        lit[n] = '\0';
    }
    return true;
}

bool wd_detect_jit(const struct wd_detect_set *set)
{
    return set != NULL && set->jit_any;
}
