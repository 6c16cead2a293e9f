/*
 * Scanning a message with a loaded detector set (include/warden/detect.h): the prefilter
 * pass, the regexes it lets through, size and JSON field tests. The only allocations are
 * PCRE2's backtracking frames in the scratch's match data (kept between scans) and, for
 * json_field detectors on an unparsed JSON body, the document tree.
 */
#include <string.h>

#include "warden/alloc.h"
#include "warden/err.h"

#include "detect_int.h"

#define JIT_STACK_START ((size_t)32 * 1024)
#define JIT_STACK_MAX   ((size_t)1024 * 1024)

struct wd_detect_scratch {
    const struct wd_detect_set *set;
    atomic_bool oom;
    pcre2_general_context *gctx;
    pcre2_match_context *mctx;
    pcre2_match_data *md;
    pcre2_jit_stack *jstack;
};

void wd_detect_scratch_free(struct wd_detect_scratch *s)
{
    if (s == NULL) {
        return;
    }
    pcre2_jit_stack_free(s->jstack);
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mctx);
    pcre2_general_context_free(s->gctx);
    wd_free(s);
}

int wd_detect_scratch_new(const struct wd_detect_set *set, struct wd_detect_scratch **out)
{
    WD_ENSURE(out != NULL, WD_EINVAL);
    *out = NULL;
    WD_ENSURE(set != NULL, WD_EINVAL);
    int rc = WD_OK;
    struct wd_detect_scratch *s = wd_calloc(1, sizeof(*s));
    if (s == NULL) {
        return WD_ENOMEM;
    }
    s->set = set;
    atomic_init(&s->oom, false);
    /* Everything PCRE2 allocates while this thread scans goes through the scratch's own
     * context, so nothing shared is written during a scan. */
    s->gctx = pcre2_general_context_create(det_pcre2_malloc, det_pcre2_free, &s->oom);
    if (s->gctx == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    s->mctx = pcre2_match_context_create(s->gctx);
    /* One ovector pair: a scan asks only "does it match", never for captures. */
    s->md = pcre2_match_data_create(1, s->gctx);
    if (s->mctx == NULL || s->md == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    (void)pcre2_set_match_limit(s->mctx, set->match_limit);
    (void)pcre2_set_depth_limit(s->mctx, set->depth_limit);
    (void)pcre2_set_heap_limit(s->mctx, set->heap_limit_kib);
    if (set->jit_any) {
        /* A JIT stack of our own (the default is 32 KiB of the machine stack), so that
         * ordinary patterns on long bodies do not run out and fail closed needlessly. */
        s->jstack = pcre2_jit_stack_create(JIT_STACK_START, JIT_STACK_MAX, s->gctx);
        if (s->jstack == NULL) {
            rc = WD_ENOMEM;
            goto out;
        }
        pcre2_jit_stack_assign(s->mctx, NULL, s->jstack);
    }
    *out = s;
    s = NULL;
out:
    wd_detect_scratch_free(s);
    return rc;
}

bool wd_detect_bit(const uint64_t *words, size_t i)
{
    return i < WD_DETECT_MAX && (words[i / 64] >> (i % 64)) & 1u;
}

static void set_bit(uint64_t *words, size_t i)
{
    words[i / 64] |= (uint64_t)1 << (i % 64);
}

enum run_result { RUN_NOMATCH, RUN_MATCH, RUN_LIMIT, RUN_NOMEM };

/* One regex over p[0..len): match, no match, a limit (fail closed), or out of memory. */
static enum run_result run_regex(struct wd_detect_scratch *s, const pcre2_code *re,
                                 const uint8_t *p, size_t len)
{
    static const uint8_t empty[1];
    atomic_store_explicit(&s->oom, false, memory_order_relaxed);
    int rc = pcre2_match(re, p != NULL ? p : empty, len, 0, 0, s->md, s->mctx);
    if (rc >= 0) {
        return RUN_MATCH; /* 0: matched, the one-pair ovector was too small for captures */
    }
    if (rc == PCRE2_ERROR_NOMATCH) {
        return RUN_NOMATCH;
    }
    if (rc == PCRE2_ERROR_NOMEMORY && atomic_load_explicit(&s->oom, memory_order_relaxed)) {
        return RUN_NOMEM;
    }
    /* PCRE2_ERROR_MATCHLIMIT, DEPTHLIMIT, HEAPLIMIT, JIT_STACKLIMIT, and anything else that
     * stops the matcher: the body was not proven clean. */
    return RUN_LIMIT;
}

static const struct wd_node *json_lookup(const struct det *d, const struct wd_node *n)
{
    for (size_t k = 0; k < d->nsteps && n != NULL; k++) {
        const struct det_step *st = &d->steps[k];
        const struct wd_node *next = NULL;
        if (st->key != NULL) {
            if (n->type != WD_NODE_OBJ) {
                return NULL;
            }
            for (size_t j = 0; j < n->u.obj.n; j++) {
                const struct wd_member *m = &n->u.obj.members[j];
                if (m->key_len == st->key_len && memcmp(m->key, st->key, st->key_len) == 0) {
                    next = m->val;
                    break;
                }
            }
        } else {
            if (n->type != WD_NODE_ARR || st->index >= n->u.arr.n) {
                return NULL;
            }
            next = n->u.arr.items[st->index];
        }
        n = next;
    }
    return n;
}

static bool json_equals(const struct det *d, const struct wd_node *v)
{
    switch (d->eq_type) {
    case WD_NODE_STR:
        return v->type == WD_NODE_STR && v->u.s.len == d->eq_len
               && memcmp(v->u.s.p, d->eq_s, d->eq_len) == 0;
    case WD_NODE_INT:
        return (v->type == WD_NODE_INT && v->u.i == d->eq_i)
               || (v->type == WD_NODE_REAL && v->u.d == (double)d->eq_i);
    case WD_NODE_REAL:
        return (v->type == WD_NODE_REAL && v->u.d == d->eq_d)
               || (v->type == WD_NODE_INT && (double)v->u.i == d->eq_d);
    case WD_NODE_BOOL:
        return v->type == WD_NODE_BOOL && v->u.b == d->eq_b;
    default:
        return false;
    }
}

int wd_detect_scan(const struct wd_detect_set *set, struct wd_detect_scratch *s,
                   const struct wd_detect_input *in, struct wd_detect_result *res)
{
    WD_ENSURE(set != NULL && s != NULL && in != NULL && res != NULL, WD_EINVAL);
    WD_ENSURE(s->set == set, WD_EINVAL);
    WD_ENSURE(in->body != NULL || in->len == 0, WD_EINVAL);
    WD_ENSURE(in->len <= in->total, WD_EINVAL);
    WD_ENSURE(in->len >= WD_MIN(in->total, (uint64_t)set->max_scan), WD_EINVAL);
    memset(res, 0, sizeof(*res));
    const uint8_t *body = in->body;
    size_t len = WD_MIN(in->len, set->max_scan);
    if (in->total > set->max_scan) {
        res->truncated = true;
        if (set->oversize_idx != SIZE_MAX) {
            set_bit(res->hit, set->oversize_idx);
        }
    }

    uint64_t seen[WD_DETECT_WORDS] = {0};
    bool prefilter = set->ac != NULL && !(in->flags & WD_DETECT_NO_PREFILTER);
    if (prefilter) {
        (void)det_ac_scan(set->ac, body, len, seen, set->nlit);
    }

    int rc = WD_OK;
    struct wd_doc *doc = NULL;
    const struct wd_node *root = in->json;
    bool json_tried = in->json != NULL;
    for (size_t i = 0; i < set->n; i++) {
        const struct det *d = &set->dets[i];
        const pcre2_code *re = NULL;
        const uint8_t *subject = body;
        size_t slen = len;
        if (d->kind == DET_SIZE) {
            if (in->total > d->size_over) {
                set_bit(res->hit, i);
            }
            continue;
        }
        if (d->kind == DET_REGEX) {
            if (prefilter && d->lit != NULL && !wd_detect_bit(seen, i)) {
                continue; /* its required literal is absent: it cannot match */
            }
            re = d->re;
        } else if (d->kind == DET_JSON) {
            if (!in->is_json) {
                continue;
            }
            if (!json_tried) {
                json_tried = true;
                /* A prefix of a JSON text is not JSON: a truncated body is not parsed. */
                if (!res->truncated) {
                    struct wd_doc_limits lim = {.max_bytes = set->max_scan};
                    int prc = wd_json_parse(NULL, body, len, &lim, &doc, NULL);
                    if (prc == WD_ENOMEM) {
                        rc = WD_ENOMEM;
                        goto out;
                    }
                    root = prc == WD_OK ? wd_doc_root(doc) : NULL;
                }
                res->json_error = root == NULL;
            }
            const struct wd_node *v = root != NULL ? json_lookup(d, root) : NULL;
            if (v == NULL) {
                continue;
            }
            if (d->test == DET_PRESENT || (d->test == DET_EQUALS && json_equals(d, v))) {
                set_bit(res->hit, i);
                continue;
            }
            if (d->test != DET_MATCHES || v->type != WD_NODE_STR) {
                continue;
            }
            re = d->re;
            subject = (const uint8_t *)v->u.s.p;
            slen = v->u.s.len;
        } else {
            continue; /* DET_OVERSIZE: decided above */
        }
        switch (run_regex(s, re, subject, slen)) {
        case RUN_MATCH:
            set_bit(res->hit, i);
            break;
        case RUN_LIMIT:
            set_bit(res->hit, i);
            set_bit(res->limit, i);
            break;
        case RUN_NOMEM:
            rc = WD_ENOMEM;
            goto out;
        case RUN_NOMATCH:
            break;
        }
    }
out:
    wd_doc_free(doc);
    return rc;
}
