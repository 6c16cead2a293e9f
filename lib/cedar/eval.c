/*
 * The Cedar evaluator: expressions, extension functions, scope constraints and policies.
 *
 * Semantics follow the Cedar specification (cedar-spec, Lean: Cedar/Spec/Evaluator.lean,
 * ExtFun.lean, Policy.lean) and cedar-policy-core 4.x, checked against
 * @cedar-policy/cedar-wasm 4.13. Notable rules:
 *   - binary operators evaluate both operands (left first), then check types;
 *   - && || and if-then-else short-circuit and require bool operands/conditions;
 *   - `==` never errors: values of different types are unequal;
 *   - < <= > >= take two longs, two datetimes or two durations (Cedar 4 datetime RFC);
 *   - `in` needs an entity on the left and an entity or a set of entities on the right
 *     (every element is checked before any is compared);
 *   - `has` on an entity missing from the store is false; `.attr` on it is an error;
 *   - hasTag on a missing entity is false; getTag on it, or of a missing tag, is an error.
 */
#include "cedar/eval.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "warden/err.h"

#include "cedar/ext.h"

/* ---- errors ---- */

static int fail(struct wd_cedar_env *env, enum wd_cedar_eval_err code)
{
    env->err.code = code;
    return WD_EDENIED;
}

static int fail_type(struct wd_cedar_env *env, const char *expected, enum wd_cedar_kind got)
{
    env->err.expected = expected;
    env->err.got = got;
    return fail(env, WD_CEDAR_ERR_TYPE);
}

static int fail_overflow(struct wd_cedar_env *env, char op, int64_t a, int64_t b)
{
    env->err.op = op;
    env->err.a = a;
    env->err.b = b;
    return fail(env, WD_CEDAR_ERR_OVERFLOW);
}

static int fail_named(struct wd_cedar_env *env, enum wd_cedar_eval_err code,
                      const struct wd_cedar_euid *uid, const char *name, size_t len)
{
    env->err.uid = uid;
    env->err.name = name;
    env->err.name_len = len;
    return fail(env, code);
}

/* Internal failures (memory, limits) are not Cedar errors: they abort the decision. */
static int internal(int rc)
{
    return rc == WD_ENOMEM ? WD_ENOMEM : WD_ELIMIT;
}

size_t wd_cedar_everr_format(const struct wd_cedar_everr *e, char *out, size_t max)
{
    char uid[160] = "";
    if (e->uid != NULL) {
        struct wd_cedar_value v = {.kind = WD_CV_ENTITY, .u.uid = e->uid};
        (void)wd_cedar_value_format(&v, uid, sizeof(uid));
    }
    int name_len = (int)WD_MIN(e->name_len, 100);
    const char *name = e->name != NULL ? e->name : "";
    int n = 0;
    switch (e->code) {
    case WD_CEDAR_ERR_TYPE:
        n = snprintf(out, max, "type error: expected %s, got %s", e->expected,
                     wd_cedar_kind_name(e->got));
        break;
    case WD_CEDAR_ERR_OVERFLOW: {
        const char *what = e->op == '+'   ? "add"
                           : e->op == '-' ? "subtract"
                           : e->op == '*' ? "multiply"
                                          : "negate";
        if (e->op == 'n') {
            n = snprintf(out, max,
                         "integer overflow while attempting to negate the value `%" PRId64 "`",
                         e->a);
        } else {
            n = snprintf(out, max,
                         "integer overflow while attempting to %s the values `%" PRId64
                         "` and `%" PRId64 "`",
                         what, e->a, e->b);
        }
        break;
    }
    case WD_CEDAR_ERR_NO_ENTITY:
        n = snprintf(out, max, "entity `%s` does not exist", uid);
        break;
    case WD_CEDAR_ERR_NO_ATTR:
        if (e->uid != NULL) {
            n = snprintf(out, max, "`%s` does not have the attribute `%.*s`", uid, name_len, name);
        } else {
            n = snprintf(out, max, "record does not have the attribute `%.*s`", name_len, name);
        }
        break;
    case WD_CEDAR_ERR_NO_TAG:
        n = snprintf(out, max, "`%s` does not have the tag `%.*s`", uid, name_len, name);
        break;
    case WD_CEDAR_ERR_EXTENSION:
        n = snprintf(out, max, "error while evaluating `%.*s` extension function", name_len, name);
        break;
    case WD_CEDAR_ERR_ARITY:
        n = snprintf(out, max,
                     "wrong number of arguments provided to extension function `%.*s`: "
                     "expected %u, got %u",
                     name_len, name, e->expected_args, e->got_args);
        break;
    case WD_CEDAR_ERR_LIMIT:
        n = snprintf(out, max, "evaluation limit exceeded");
        break;
    default:
        n = snprintf(out, max, "evaluation error");
        break;
    }
    if (n < 0) {
        return 0;
    }
    return (size_t)n < max ? (size_t)n : (max > 0 ? max - 1 : 0);
}

/* ---- like ---- */

/* First occurrence of needle (nn > 0 bytes) in hay[0..hn), or NULL (memmem is a GNU
 * extension). */
static const char *find_bytes(const char *hay, size_t hn, const char *needle, size_t nn)
{
    const char first = needle[0];
    while (hn >= nn) {
        const char *c = memchr(hay, first, hn - nn + 1);
        if (c == NULL) {
            return NULL;
        }
        if (memcmp(c, needle, nn) == 0) {
            return c;
        }
        hn -= (size_t)(c - hay) + 1;
        hay = c + 1;
    }
    return NULL;
}

bool wd_cedar_like_match(const char *s, size_t n, const struct wd_cedar_pattern *pat)
{
    /*
     * Parts alternate between literal runs and wildcards. A leading literal must be a
     * prefix, a trailing one (after some wildcard) a suffix, and each literal in between is
     * matched at its leftmost position, which is optimal for star-separated literals.
     * Byte-wise matching equals Cedar's per-character matching on valid UTF-8.
     */
    const struct wd_cedar_pat_part *p = pat->parts;
    size_t np = pat->n;
    size_t i = 0, pos = 0, end = n;
    if (np == 0) {
        return n == 0;
    }
    bool any_star = false;
    for (size_t k = 0; k < np; k++) {
        any_star = any_star || p[k].p == NULL;
    }
    if (!any_star) {
        /* Parts are merged runs, but be robust to several adjacent literal parts. */
        for (size_t k = 0; k < np; k++) {
            if (n - pos < p[k].len || memcmp(s + pos, p[k].p, p[k].len) != 0) {
                return false;
            }
            pos += p[k].len;
        }
        return pos == n;
    }
    while (i < np && p[i].p != NULL) {
        if (n - pos < p[i].len || memcmp(s + pos, p[i].p, p[i].len) != 0) {
            return false;
        }
        pos += p[i].len;
        i++;
    }
    size_t last = np;
    while (last > i && p[last - 1].p != NULL) {
        last--;
        if (end - pos < p[last].len || memcmp(s + end - p[last].len, p[last].p, p[last].len) != 0) {
            return false;
        }
        end -= p[last].len;
    }
    for (; i < last; i++) {
        if (p[i].p == NULL) {
            continue;
        }
        if (end - pos < p[i].len) {
            return false;
        }
        const char *f = find_bytes(s + pos, end - pos, p[i].p, p[i].len);
        if (f == NULL) {
            return false;
        }
        pos = (size_t)(f - s) + p[i].len;
    }
    return true;
}

/* ---- extension functions ---- */

struct ext_sig {
    uint8_t nargs;
    enum wd_cedar_kind arg[2];
};

static const struct ext_sig ext_sigs[WD_CEDAR_EXT__COUNT] = {
        [WD_CEDAR_EXT_IP] = {1, {WD_CV_STRING}},
        [WD_CEDAR_EXT_DECIMAL] = {1, {WD_CV_STRING}},
        [WD_CEDAR_EXT_DATETIME] = {1, {WD_CV_STRING}},
        [WD_CEDAR_EXT_DURATION] = {1, {WD_CV_STRING}},
        [WD_CEDAR_EXT_LESS_THAN] = {2, {WD_CV_DECIMAL, WD_CV_DECIMAL}},
        [WD_CEDAR_EXT_LESS_THAN_OR_EQUAL] = {2, {WD_CV_DECIMAL, WD_CV_DECIMAL}},
        [WD_CEDAR_EXT_GREATER_THAN] = {2, {WD_CV_DECIMAL, WD_CV_DECIMAL}},
        [WD_CEDAR_EXT_GREATER_THAN_OR_EQUAL] = {2, {WD_CV_DECIMAL, WD_CV_DECIMAL}},
        [WD_CEDAR_EXT_IS_IPV4] = {1, {WD_CV_IP}},
        [WD_CEDAR_EXT_IS_IPV6] = {1, {WD_CV_IP}},
        [WD_CEDAR_EXT_IS_LOOPBACK] = {1, {WD_CV_IP}},
        [WD_CEDAR_EXT_IS_MULTICAST] = {1, {WD_CV_IP}},
        [WD_CEDAR_EXT_IS_IN_RANGE] = {2, {WD_CV_IP, WD_CV_IP}},
        [WD_CEDAR_EXT_OFFSET] = {2, {WD_CV_DATETIME, WD_CV_DURATION}},
        [WD_CEDAR_EXT_DURATION_SINCE] = {2, {WD_CV_DATETIME, WD_CV_DATETIME}},
        [WD_CEDAR_EXT_TO_DATE] = {1, {WD_CV_DATETIME}},
        [WD_CEDAR_EXT_TO_TIME] = {1, {WD_CV_DATETIME}},
        [WD_CEDAR_EXT_TO_DAYS] = {1, {WD_CV_DURATION}},
        [WD_CEDAR_EXT_TO_HOURS] = {1, {WD_CV_DURATION}},
        [WD_CEDAR_EXT_TO_MINUTES] = {1, {WD_CV_DURATION}},
        [WD_CEDAR_EXT_TO_SECONDS] = {1, {WD_CV_DURATION}},
        [WD_CEDAR_EXT_TO_MILLISECONDS] = {1, {WD_CV_DURATION}},
};

static int ext_fail(struct wd_cedar_everr *err, enum wd_cedar_eval_err code, enum wd_cedar_ext fn)
{
    err->code = code;
    err->name = wd_cedar_ext_name(fn);
    err->name_len = err->name != NULL ? strlen(err->name) : 0;
    return WD_EDENIED;
}

int wd_cedar_ext_apply(enum wd_cedar_ext fn, const struct wd_cedar_value *args, size_t nargs,
                       struct wd_cedar_zone *zone, struct wd_cedar_value *out,
                       struct wd_cedar_everr *err)
{
    if ((unsigned)fn >= WD_CEDAR_EXT__COUNT) {
        return ext_fail(err, WD_CEDAR_ERR_ARITY, fn);
    }
    const struct ext_sig *sig = &ext_sigs[fn];
    if (nargs != sig->nargs) {
        err->expected_args = sig->nargs;
        err->got_args = (unsigned)nargs;
        return ext_fail(err, WD_CEDAR_ERR_ARITY, fn);
    }
    for (size_t i = 0; i < nargs; i++) {
        if (args[i].kind != sig->arg[i]) {
            err->code = WD_CEDAR_ERR_TYPE;
            err->expected = wd_cedar_kind_name(sig->arg[i]);
            err->got = args[i].kind;
            return WD_EDENIED;
        }
    }
    if (nargs == 0) {
        /* Cannot happen: every signature takes at least one argument (nargs == sig->nargs). */
        return ext_fail(err, WD_CEDAR_ERR_ARITY, fn);
    }
    /* b aliases a for unary functions, which never read it. */
    const struct wd_cedar_value *a = &args[0], *b = nargs > 1 ? &args[1] : a;
    int rc = WD_OK;
    switch (fn) {
    case WD_CEDAR_EXT_IP: {
        struct wd_cedar_ip ip;
        if (wd_cedar_ip_parse(a->u.s.p, a->u.s.len, &ip) != WD_OK) {
            return ext_fail(err, WD_CEDAR_ERR_EXTENSION, fn);
        }
        struct wd_cedar_ip *c = NULL;
        rc = wd_cedar_zone_alloc(zone, sizeof(*c), (void **)&c);
        if (rc < 0) {
            return internal(rc);
        }
        *c = ip;
        out->kind = WD_CV_IP;
        out->u.ip = c;
        return WD_OK;
    }
    case WD_CEDAR_EXT_DECIMAL:
        out->kind = WD_CV_DECIMAL;
        rc = wd_cedar_decimal_parse(a->u.s.p, a->u.s.len, &out->u.l);
        break;
    case WD_CEDAR_EXT_DATETIME:
        out->kind = WD_CV_DATETIME;
        rc = wd_cedar_datetime_parse(a->u.s.p, a->u.s.len, &out->u.l);
        break;
    case WD_CEDAR_EXT_DURATION:
        out->kind = WD_CV_DURATION;
        rc = wd_cedar_duration_parse(a->u.s.p, a->u.s.len, &out->u.l);
        break;
    case WD_CEDAR_EXT_LESS_THAN:
        out->kind = WD_CV_BOOL;
        out->u.b = a->u.l < b->u.l;
        break;
    case WD_CEDAR_EXT_LESS_THAN_OR_EQUAL:
        out->kind = WD_CV_BOOL;
        out->u.b = a->u.l <= b->u.l;
        break;
    case WD_CEDAR_EXT_GREATER_THAN:
        out->kind = WD_CV_BOOL;
        out->u.b = a->u.l > b->u.l;
        break;
    case WD_CEDAR_EXT_GREATER_THAN_OR_EQUAL:
        out->kind = WD_CV_BOOL;
        out->u.b = a->u.l >= b->u.l;
        break;
    case WD_CEDAR_EXT_IS_IPV4:
        out->kind = WD_CV_BOOL;
        out->u.b = !a->u.ip->v6;
        break;
    case WD_CEDAR_EXT_IS_IPV6:
        out->kind = WD_CV_BOOL;
        out->u.b = a->u.ip->v6;
        break;
    case WD_CEDAR_EXT_IS_LOOPBACK:
        out->kind = WD_CV_BOOL;
        out->u.b = wd_cedar_ip_is_loopback(a->u.ip);
        break;
    case WD_CEDAR_EXT_IS_MULTICAST:
        out->kind = WD_CV_BOOL;
        out->u.b = wd_cedar_ip_is_multicast(a->u.ip);
        break;
    case WD_CEDAR_EXT_IS_IN_RANGE:
        out->kind = WD_CV_BOOL;
        out->u.b = wd_cedar_ip_in_range(a->u.ip, b->u.ip);
        break;
    case WD_CEDAR_EXT_OFFSET:
        out->kind = WD_CV_DATETIME;
        rc = wd_cedar_datetime_offset(a->u.l, b->u.l, &out->u.l);
        break;
    case WD_CEDAR_EXT_DURATION_SINCE:
        out->kind = WD_CV_DURATION;
        rc = wd_cedar_datetime_since(a->u.l, b->u.l, &out->u.l);
        break;
    case WD_CEDAR_EXT_TO_DATE:
        out->kind = WD_CV_DATETIME;
        rc = wd_cedar_datetime_to_date(a->u.l, &out->u.l);
        break;
    case WD_CEDAR_EXT_TO_TIME:
        out->kind = WD_CV_DURATION;
        rc = wd_cedar_datetime_to_time(a->u.l, &out->u.l);
        break;
    case WD_CEDAR_EXT_TO_DAYS:
        out->kind = WD_CV_LONG;
        out->u.l = wd_cedar_duration_to_days(a->u.l);
        break;
    case WD_CEDAR_EXT_TO_HOURS:
        out->kind = WD_CV_LONG;
        out->u.l = wd_cedar_duration_to_hours(a->u.l);
        break;
    case WD_CEDAR_EXT_TO_MINUTES:
        out->kind = WD_CV_LONG;
        out->u.l = wd_cedar_duration_to_minutes(a->u.l);
        break;
    case WD_CEDAR_EXT_TO_SECONDS:
        out->kind = WD_CV_LONG;
        out->u.l = wd_cedar_duration_to_seconds(a->u.l);
        break;
    case WD_CEDAR_EXT_TO_MILLISECONDS:
        out->kind = WD_CV_LONG;
        out->u.l = a->u.l;
        break;
    case WD_CEDAR_EXT__COUNT:
        return ext_fail(err, WD_CEDAR_ERR_ARITY, fn);
    }
    if (rc != WD_OK) {
        return ext_fail(err, WD_CEDAR_ERR_EXTENSION, fn);
    }
    return WD_OK;
}

/* ---- expressions ---- */

static int eval(struct wd_cedar_env *env, const struct wd_cedar_expr *e,
                struct wd_cedar_value *out);

static int eval_bool(struct wd_cedar_env *env, const struct wd_cedar_expr *e, bool *out)
{
    struct wd_cedar_value v;
    WD_TRY(eval(env, e, &v));
    if (v.kind != WD_CV_BOOL) {
        return fail_type(env, "bool", v.kind);
    }
    *out = v.u.b;
    return WD_OK;
}

static void set_bool(struct wd_cedar_value *out, bool b)
{
    out->kind = WD_CV_BOOL;
    out->u.b = b;
}

/* The store's entity for uid (NULL: not in the store), cached for the request variables. */
static const struct wd_cedar_entity *entity_of(const struct wd_cedar_env *env,
                                               const struct wd_cedar_euid *uid)
{
    const struct wd_cedar_fast *f = env->fast;
    if (f != NULL) {
        for (size_t v = 0; v < WD_ARRAY_LEN(f->uid); v++) {
            if (uid == f->uid[v]) {
                return f->ent[v];
            }
        }
    }
    return wd_cedar_entities_get(env->ents, uid);
}

/* ---- observation overlay (docs/internals/observe.md) ---- */

struct wd_cedar_tag_sink {
    struct wd_cedar_zone *zone;
    struct wd_cedar_value *v; /* in the zone; doubled (and copied) when full */
    size_t n, cap;
};

int wd_cedar_tag_sink_add(struct wd_cedar_tag_sink *sink, const char *v, size_t len)
{
    WD_ENSURE(sink != NULL && (v != NULL || len == 0), WD_EINVAL);
    if (sink->n == sink->cap) {
        size_t ncap = sink->cap == 0 ? 8 : sink->cap * 2;
        struct wd_cedar_value *nv = NULL;
        WD_TRY(wd_cedar_zone_alloc(sink->zone, ncap * sizeof(*nv), (void **)&nv));
        if (sink->n > 0) {
            memcpy(nv, sink->v, sink->n * sizeof(*nv));
        }
        sink->v = nv;
        sink->cap = ncap;
    }
    const char *copy = NULL;
    WD_TRY(wd_cedar_zone_strdup(sink->zone, v != NULL ? v : "", len, &copy));
    sink->v[sink->n].kind = WD_CV_STRING;
    sink->v[sink->n].u.s.p = copy;
    sink->v[sink->n].u.s.len = len;
    sink->n++;
    return WD_OK;
}

/*
 * hasTag / getTag through env->tags. t: the stored tag value (NULL: none). Returns
 * WD_ENOENT when the overlay has nothing for the tag (the caller goes on with Cedar's
 * rules), WD_OK with *out set, or a negative error from the source.
 */
static int tag_overlay(struct wd_cedar_env *env, bool get, const struct wd_cedar_euid *uid,
                       const struct wd_cedar_value *name, const struct wd_cedar_value *t,
                       struct wd_cedar_value *out)
{
    const struct wd_cedar_tag_source *src = env->tags;
    if (src->lookup == NULL || (!get && t != NULL) || (get && t != NULL && t->kind != WD_CV_SET)) {
        return WD_ENOENT;
    }
    struct wd_cedar_tag_sink sink = {.zone = env->zone};
    int n = src->lookup(src->ctx, src->now_ms, uid->type->p, uid->type->len, uid->id->p,
                        uid->id->len, name->u.s.p, name->u.s.len, get ? &sink : NULL);
    if (n < 0) {
        return n;
    }
    if (!get) {
        if (n == 0) {
            return WD_ENOENT;
        }
        set_bool(out, true);
        return WD_OK;
    }
    if (sink.n == 0) {
        return WD_ENOENT;
    }
    size_t nstored = t != NULL ? t->u.set->n : 0;
    struct wd_cedar_set *set = NULL;
    WD_TRY(wd_cedar_zone_alloc(env->zone, sizeof(*set) + (sink.n + nstored) * sizeof(set->v[0]),
                               (void **)&set));
    memcpy(set->v, sink.v, sink.n * sizeof(set->v[0]));
    if (nstored > 0) {
        memcpy(set->v + sink.n, t->u.set->v, nstored * sizeof(set->v[0]));
    }
    set->n = wd_cedar_value_sort_unique(set->v, sink.n + nstored);
    out->kind = WD_CV_SET;
    out->u.set = set;
    return WD_OK;
}

/* uid == target or target is an ancestor of uid (ent: uid's entity, NULL if none). */
static bool descends(const struct wd_cedar_env *env, const struct wd_cedar_euid *uid,
                     const struct wd_cedar_entity *ent, const struct wd_cedar_euid *target)
{
    const struct wd_cedar_fast *f = env->fast;
    if (f != NULL && target->idx != 0 && target->idx < f->stride) {
        for (size_t v = 0; v < WD_ARRAY_LEN(f->uid); v++) {
            if (uid == f->uid[v]) {
                return f->mark[v * f->stride + target->idx] == f->gen;
            }
        }
    }
    return wd_cedar_euid_eq(uid, target)
           || (ent != NULL && wd_cedar_entity_has_ancestor(ent, target));
}

/* Whether uid's type is type (a sym of the policy set being evaluated). */
static bool is_type(const struct wd_cedar_env *env, const struct wd_cedar_euid *uid,
                    const struct wd_cedar_sym *type)
{
    const struct wd_cedar_fast *f = env->fast;
    if (f != NULL) {
        for (size_t v = 0; v < WD_ARRAY_LEN(f->uid); v++) {
            if (uid == f->uid[v]) {
                return type == f->type[v];
            }
        }
    }
    return wd_cedar_sym_eq(uid->type, type);
}

/* `uid in rhs` with rhs an entity or a set of entities (Cedar: inₑ / inₛ). */
static int eval_in(struct wd_cedar_env *env, const struct wd_cedar_euid *uid,
                   const struct wd_cedar_value *rhs, bool *out)
{
    if (rhs->kind == WD_CV_ENTITY) {
        *out = descends(env, uid, entity_of(env, uid), rhs->u.uid);
        return WD_OK;
    }
    if (rhs->kind != WD_CV_SET) {
        return fail_type(env, "set or entity", rhs->kind);
    }
    const struct wd_cedar_set *s = rhs->u.set;
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].kind != WD_CV_ENTITY) {
            return fail_type(env, "entity", s->v[i].kind);
        }
    }
    const struct wd_cedar_entity *ent = entity_of(env, uid);
    for (size_t i = 0; i < s->n; i++) {
        if (descends(env, uid, ent, s->v[i].u.uid)) {
            *out = true;
            return WD_OK;
        }
    }
    *out = false;
    return WD_OK;
}

/* Attributes of a record or an entity for `.` (missing entity: error) and `has` (empty). */
static int attrs_of(struct wd_cedar_env *env, const struct wd_cedar_value *v, bool for_has,
                    const struct wd_cedar_record **out)
{
    if (v->kind == WD_CV_RECORD) {
        *out = v->u.rec;
        return WD_OK;
    }
    if (v->kind != WD_CV_ENTITY) {
        return fail_type(env, "record or entity", v->kind);
    }
    const struct wd_cedar_entity *ent = entity_of(env, v->u.uid);
    if (ent == NULL) {
        if (for_has) {
            *out = &wd_cedar_empty_record;
            return WD_OK;
        }
        return fail_named(env, WD_CEDAR_ERR_NO_ENTITY, v->u.uid, NULL, 0);
    }
    *out = ent->attrs;
    return WD_OK;
}

static int eval_cmp(struct wd_cedar_env *env, enum wd_cedar_expr_kind k,
                    const struct wd_cedar_value *a, const struct wd_cedar_value *b,
                    struct wd_cedar_value *out)
{
    if (a->kind != WD_CV_LONG && a->kind != WD_CV_DATETIME && a->kind != WD_CV_DURATION) {
        return fail_type(env, "long, datetime or duration", a->kind);
    }
    if (b->kind != a->kind) {
        return fail_type(env, wd_cedar_kind_name(a->kind), b->kind);
    }
    int64_t x = a->u.l, y = b->u.l;
    bool r = k == WD_CEDAR_E_LT   ? x < y
             : k == WD_CEDAR_E_LE ? x <= y
             : k == WD_CEDAR_E_GT ? x > y
                                  : x >= y;
    set_bool(out, r);
    return WD_OK;
}

static int eval_arith(struct wd_cedar_env *env, enum wd_cedar_expr_kind k,
                      const struct wd_cedar_value *a, const struct wd_cedar_value *b,
                      struct wd_cedar_value *out)
{
    if (a->kind != WD_CV_LONG) {
        return fail_type(env, "long", a->kind);
    }
    if (b->kind != WD_CV_LONG) {
        return fail_type(env, "long", b->kind);
    }
    int64_t r;
    bool ovf;
    char op;
    if (k == WD_CEDAR_E_ADD) {
        ovf = __builtin_add_overflow(a->u.l, b->u.l, &r);
        op = '+';
    } else if (k == WD_CEDAR_E_SUB) {
        ovf = __builtin_sub_overflow(a->u.l, b->u.l, &r);
        op = '-';
    } else {
        ovf = __builtin_mul_overflow(a->u.l, b->u.l, &r);
        op = '*';
    }
    if (ovf) {
        return fail_overflow(env, op, a->u.l, b->u.l);
    }
    out->kind = WD_CV_LONG;
    out->u.l = r;
    return WD_OK;
}

static int eval_binary(struct wd_cedar_env *env, const struct wd_cedar_expr *e,
                       struct wd_cedar_value *out)
{
    struct wd_cedar_value a, b;
    WD_TRY(eval(env, e->u.bin.l, &a));
    WD_TRY(eval(env, e->u.bin.r, &b));
    enum wd_cedar_expr_kind k = (enum wd_cedar_expr_kind)e->kind;
    switch (k) {
    case WD_CEDAR_E_EQ:
        set_bool(out, wd_cedar_value_eq(&a, &b));
        return WD_OK;
    case WD_CEDAR_E_NE:
        set_bool(out, !wd_cedar_value_eq(&a, &b));
        return WD_OK;
    case WD_CEDAR_E_LT:
    case WD_CEDAR_E_LE:
    case WD_CEDAR_E_GT:
    case WD_CEDAR_E_GE:
        return eval_cmp(env, k, &a, &b, out);
    case WD_CEDAR_E_ADD:
    case WD_CEDAR_E_SUB:
    case WD_CEDAR_E_MUL:
        return eval_arith(env, k, &a, &b, out);
    case WD_CEDAR_E_IN: {
        if (a.kind != WD_CV_ENTITY) {
            return fail_type(env, "entity", a.kind);
        }
        bool r;
        WD_TRY(eval_in(env, a.u.uid, &b, &r));
        set_bool(out, r);
        return WD_OK;
    }
    case WD_CEDAR_E_CONTAINS:
        if (a.kind != WD_CV_SET) {
            return fail_type(env, "set", a.kind);
        }
        set_bool(out, wd_cedar_set_contains(a.u.set, &b));
        return WD_OK;
    case WD_CEDAR_E_CONTAINS_ALL:
    case WD_CEDAR_E_CONTAINS_ANY: {
        if (a.kind != WD_CV_SET) {
            return fail_type(env, "set", a.kind);
        }
        if (b.kind != WD_CV_SET) {
            return fail_type(env, "set", b.kind);
        }
        bool all = k == WD_CEDAR_E_CONTAINS_ALL;
        bool r = all;
        for (size_t i = 0; i < b.u.set->n; i++) {
            bool in = wd_cedar_set_contains(a.u.set, &b.u.set->v[i]);
            if (all && !in) {
                r = false;
                break;
            }
            if (!all && in) {
                r = true;
                break;
            }
        }
        set_bool(out, r);
        return WD_OK;
    }
    case WD_CEDAR_E_HAS_TAG:
    case WD_CEDAR_E_GET_TAG: {
        if (a.kind != WD_CV_ENTITY) {
            return fail_type(env, "entity", a.kind);
        }
        if (b.kind != WD_CV_STRING) {
            return fail_type(env, "string", b.kind);
        }
        const struct wd_cedar_entity *ent = entity_of(env, a.u.uid);
        const struct wd_cedar_value *t =
                ent != NULL ? wd_cedar_record_get(ent->tags, b.u.s.p, b.u.s.len) : NULL;
        if (env->tags != NULL) {
            int orc = tag_overlay(env, k == WD_CEDAR_E_GET_TAG, a.u.uid, &b, t, out);
            if (orc != WD_ENOENT) {
                return orc;
            }
        }
        if (k == WD_CEDAR_E_HAS_TAG) {
            set_bool(out, t != NULL);
            return WD_OK;
        }
        if (ent == NULL) {
            return fail_named(env, WD_CEDAR_ERR_NO_ENTITY, a.u.uid, NULL, 0);
        }
        if (t == NULL) {
            return fail_named(env, WD_CEDAR_ERR_NO_TAG, a.u.uid, b.u.s.p, b.u.s.len);
        }
        *out = *t;
        return WD_OK;
    }
    default:
        break;
    }
    return fail_type(env, "a known operator", a.kind);
}

static int eval_has(struct wd_cedar_env *env, const struct wd_cedar_expr *e,
                    struct wd_cedar_value *out)
{
    /* `e has a.b.c` is `e has a && e.a has b && e.a.b has c` (RFC 62). */
    struct wd_cedar_value v;
    WD_TRY(eval(env, e->u.has.e, &v));
    for (uint32_t i = 0; i < e->u.has.n; i++) {
        const struct wd_cedar_record *r = NULL;
        WD_TRY(attrs_of(env, &v, true, &r));
        const struct wd_cedar_sym *name = e->u.has.path[i];
        const struct wd_cedar_value *a = wd_cedar_record_get(r, name->p, name->len);
        if (a == NULL) {
            set_bool(out, false);
            return WD_OK;
        }
        v = *a;
    }
    set_bool(out, true);
    return WD_OK;
}

static int eval_set(struct wd_cedar_env *env, const struct wd_cedar_expr *e,
                    struct wd_cedar_value *out)
{
    uint32_t n = e->u.list.n;
    if (n == 0) {
        out->kind = WD_CV_SET;
        out->u.set = &wd_cedar_empty_set;
        return WD_OK;
    }
    struct wd_cedar_set *s = NULL;
    int rc = wd_cedar_zone_alloc(env->zone, sizeof(*s) + (size_t)n * sizeof(s->v[0]), (void **)&s);
    if (rc < 0) {
        return internal(rc);
    }
    for (uint32_t i = 0; i < n; i++) {
        WD_TRY(eval(env, e->u.list.items[i], &s->v[i]));
    }
    s->n = wd_cedar_value_sort_unique(s->v, n);
    out->kind = WD_CV_SET;
    out->u.set = s;
    return WD_OK;
}

static int eval_record(struct wd_cedar_env *env, const struct wd_cedar_expr *e,
                       struct wd_cedar_value *out)
{
    uint32_t n = e->u.rec.n;
    if (n == 0) {
        out->kind = WD_CV_RECORD;
        out->u.rec = &wd_cedar_empty_record;
        return WD_OK;
    }
    struct wd_cedar_record *r = NULL;
    int rc = wd_cedar_zone_alloc(env->zone, sizeof(*r) + (size_t)n * sizeof(r->a[0]), (void **)&r);
    if (rc < 0) {
        return internal(rc);
    }
    /* Evaluate in source order (the first error wins), insert sorted by key. */
    for (uint32_t i = 0; i < n; i++) {
        struct wd_cedar_value v;
        WD_TRY(eval(env, e->u.rec.vals[i], &v));
        const struct wd_cedar_sym *k = e->u.rec.keys[i];
        uint32_t j = i;
        while (j > 0) {
            const struct wd_cedar_attr *p = &r->a[j - 1];
            size_t m = WD_MIN(p->key_len, (size_t)k->len);
            int c = memcmp(p->key, k->p, m);
            if (c < 0 || (c == 0 && p->key_len <= k->len)) {
                break;
            }
            r->a[j] = r->a[j - 1];
            j--;
        }
        r->a[j].key = k->p;
        r->a[j].key_len = k->len;
        r->a[j].v = v;
    }
    r->n = n;
    out->kind = WD_CV_RECORD;
    out->u.rec = r;
    return WD_OK;
}

static int eval_ext(struct wd_cedar_env *env, const struct wd_cedar_expr *e,
                    struct wd_cedar_value *out)
{
    struct wd_cedar_value args[4] = {0};
    uint32_t n = e->u.list.n;
    if (n > WD_ARRAY_LEN(args)) {
        /* No extension function takes more than two; evaluate for errors, then fail. */
        for (uint32_t i = 0; i < n; i++) {
            WD_TRY(eval(env, e->u.list.items[i], &args[0]));
        }
        env->err.expected_args = e->sub < WD_CEDAR_EXT__COUNT ? ext_sigs[e->sub].nargs : 0;
        env->err.got_args = n;
        return ext_fail(&env->err, WD_CEDAR_ERR_ARITY, (enum wd_cedar_ext)e->sub);
    }
    for (uint32_t i = 0; i < n; i++) {
        WD_TRY(eval(env, e->u.list.items[i], &args[i]));
    }
    return wd_cedar_ext_apply((enum wd_cedar_ext)e->sub, args, n, env->zone, out, &env->err);
}

static int eval(struct wd_cedar_env *env, const struct wd_cedar_expr *e, struct wd_cedar_value *out)
{
    if (env->steps == 0) {
        env->err.code = WD_CEDAR_ERR_LIMIT;
        return WD_ELIMIT;
    }
    env->steps--;
    switch ((enum wd_cedar_expr_kind)e->kind) {
    case WD_CEDAR_E_BOOL:
        set_bool(out, e->u.b);
        return WD_OK;
    case WD_CEDAR_E_LONG:
        out->kind = WD_CV_LONG;
        out->u.l = e->u.i;
        return WD_OK;
    case WD_CEDAR_E_STRING:
        out->kind = WD_CV_STRING;
        out->u.s.p = e->u.s->p;
        out->u.s.len = e->u.s->len;
        return WD_OK;
    case WD_CEDAR_E_ENTITY:
        out->kind = WD_CV_ENTITY;
        out->u.uid = e->u.euid;
        return WD_OK;
    case WD_CEDAR_E_VAR:
        switch ((enum wd_cedar_var)e->sub) {
        case WD_CEDAR_VAR_PRINCIPAL:
            *out = env->principal;
            return WD_OK;
        case WD_CEDAR_VAR_ACTION:
            *out = env->action;
            return WD_OK;
        case WD_CEDAR_VAR_RESOURCE:
            *out = env->resource;
            return WD_OK;
        case WD_CEDAR_VAR_CONTEXT:
            *out = env->context;
            return WD_OK;
        }
        break;
    case WD_CEDAR_E_NOT: {
        bool b;
        WD_TRY(eval_bool(env, e->u.un.e, &b));
        set_bool(out, !b);
        return WD_OK;
    }
    case WD_CEDAR_E_NEG: {
        struct wd_cedar_value v;
        WD_TRY(eval(env, e->u.un.e, &v));
        if (v.kind != WD_CV_LONG) {
            return fail_type(env, "long", v.kind);
        }
        if (v.u.l == INT64_MIN) {
            return fail_overflow(env, 'n', v.u.l, 0);
        }
        out->kind = WD_CV_LONG;
        out->u.l = -v.u.l;
        return WD_OK;
    }
    case WD_CEDAR_E_AND:
    case WD_CEDAR_E_OR: {
        bool b;
        WD_TRY(eval_bool(env, e->u.bin.l, &b));
        bool is_and = e->kind == WD_CEDAR_E_AND;
        if (b != is_and) {
            set_bool(out, b);
            return WD_OK;
        }
        WD_TRY(eval_bool(env, e->u.bin.r, &b));
        set_bool(out, b);
        return WD_OK;
    }
    case WD_CEDAR_E_IF: {
        bool b;
        WD_TRY(eval_bool(env, e->u.ite.cond, &b));
        return eval(env, b ? e->u.ite.then_ : e->u.ite.else_, out);
    }
    case WD_CEDAR_E_EQ:
    case WD_CEDAR_E_NE:
    case WD_CEDAR_E_LT:
    case WD_CEDAR_E_LE:
    case WD_CEDAR_E_GT:
    case WD_CEDAR_E_GE:
    case WD_CEDAR_E_IN:
    case WD_CEDAR_E_ADD:
    case WD_CEDAR_E_SUB:
    case WD_CEDAR_E_MUL:
    case WD_CEDAR_E_CONTAINS:
    case WD_CEDAR_E_CONTAINS_ALL:
    case WD_CEDAR_E_CONTAINS_ANY:
    case WD_CEDAR_E_HAS_TAG:
    case WD_CEDAR_E_GET_TAG:
        return eval_binary(env, e, out);
    case WD_CEDAR_E_IS_EMPTY: {
        struct wd_cedar_value v;
        WD_TRY(eval(env, e->u.un.e, &v));
        if (v.kind != WD_CV_SET) {
            return fail_type(env, "set", v.kind);
        }
        set_bool(out, v.u.set->n == 0);
        return WD_OK;
    }
    case WD_CEDAR_E_GETATTR: {
        struct wd_cedar_value v;
        WD_TRY(eval(env, e->u.attr.e, &v));
        const struct wd_cedar_record *r = NULL;
        WD_TRY(attrs_of(env, &v, false, &r));
        const struct wd_cedar_sym *name = e->u.attr.name;
        const struct wd_cedar_value *a = wd_cedar_record_get(r, name->p, name->len);
        if (a == NULL) {
            return fail_named(env, WD_CEDAR_ERR_NO_ATTR, v.kind == WD_CV_ENTITY ? v.u.uid : NULL,
                              name->p, name->len);
        }
        *out = *a;
        return WD_OK;
    }
    case WD_CEDAR_E_HAS:
        return eval_has(env, e, out);
    case WD_CEDAR_E_LIKE: {
        struct wd_cedar_value v;
        WD_TRY(eval(env, e->u.like.e, &v));
        if (v.kind != WD_CV_STRING) {
            return fail_type(env, "string", v.kind);
        }
        set_bool(out, wd_cedar_like_match(v.u.s.p, v.u.s.len, e->u.like.pat));
        return WD_OK;
    }
    case WD_CEDAR_E_IS: {
        struct wd_cedar_value v;
        WD_TRY(eval(env, e->u.is.e, &v));
        if (v.kind != WD_CV_ENTITY) {
            return fail_type(env, "entity", v.kind);
        }
        bool r = is_type(env, v.u.uid, e->u.is.type);
        if (r && e->u.is.in != NULL) {
            struct wd_cedar_value rhs;
            WD_TRY(eval(env, e->u.is.in, &rhs));
            WD_TRY(eval_in(env, v.u.uid, &rhs, &r));
        }
        set_bool(out, r);
        return WD_OK;
    }
    case WD_CEDAR_E_SET:
        return eval_set(env, e, out);
    case WD_CEDAR_E_RECORD:
        return eval_record(env, e, out);
    case WD_CEDAR_E_EXT:
        /* A constructor with a valid literal, evaluated by the parser: the same value and
         * the same step count (the call and its argument) as evaluating it. */
        if (e->u.list.pre != NULL && env->steps > 0) {
            env->steps--;
            *out = *e->u.list.pre;
            return WD_OK;
        }
        return eval_ext(env, e, out);
    case WD_CEDAR_E__COUNT:
        break;
    }
    env->err.code = WD_CEDAR_ERR_LIMIT;
    return WD_ELIMIT;
}

int wd_cedar_eval_expr(struct wd_cedar_env *env, const struct wd_cedar_expr *e,
                       struct wd_cedar_value *out)
{
    memset(&env->err, 0, sizeof(env->err));
    return eval(env, e, out);
}

/* ---- scopes and policies ---- */

bool wd_cedar_scope_match(const struct wd_cedar_env *env, const struct wd_cedar_scope *sc,
                          const struct wd_cedar_euid *uid, const struct wd_cedar_euid *slot)
{
    const struct wd_cedar_euid *target = sc->slot ? slot : sc->euid;
    switch ((enum wd_cedar_scope_op)sc->op) {
    case WD_CEDAR_SCOPE_ANY:
        return true;
    case WD_CEDAR_SCOPE_EQ:
        return target != NULL && wd_cedar_euid_eq(uid, target);
    case WD_CEDAR_SCOPE_IN:
        return target != NULL && wd_cedar_entities_in(env->ents, uid, target);
    case WD_CEDAR_SCOPE_IS:
        return wd_cedar_sym_eq(uid->type, sc->type);
    case WD_CEDAR_SCOPE_IS_IN:
        return target != NULL && wd_cedar_sym_eq(uid->type, sc->type)
               && wd_cedar_entities_in(env->ents, uid, target);
    case WD_CEDAR_SCOPE_IN_SET: {
        const struct wd_cedar_entity *ent = wd_cedar_entities_get(env->ents, uid);
        for (uint32_t i = 0; i < sc->n; i++) {
            if (wd_cedar_euid_eq(uid, sc->euids[i])
                || (ent != NULL && wd_cedar_entity_has_ancestor(ent, sc->euids[i]))) {
                return true;
            }
        }
        return false;
    }
    }
    return false;
}

/* wd_cedar_scope_match on the resolutions of struct wd_cedar_fast (not for slots). */
static inline bool scope_fast(const struct wd_cedar_fast *f, const struct wd_cedar_scope *sc,
                              size_t var)
{
    const uint32_t *m = f->mark + var * f->stride;
    switch ((enum wd_cedar_scope_op)sc->op) {
    case WD_CEDAR_SCOPE_ANY:
        return true;
    case WD_CEDAR_SCOPE_EQ:
        return sc->euid == f->uid[var];
    case WD_CEDAR_SCOPE_IN:
        return m[sc->euid->idx] == f->gen;
    case WD_CEDAR_SCOPE_IS:
        return sc->type == f->type[var];
    case WD_CEDAR_SCOPE_IS_IN:
        return sc->type == f->type[var] && m[sc->euid->idx] == f->gen;
    case WD_CEDAR_SCOPE_IN_SET:
        for (uint32_t i = 0; i < sc->n; i++) {
            if (m[sc->euids[i]->idx] == f->gen) {
                return true;
            }
        }
        return false;
    }
    return false;
}

static bool scope_ok(const struct wd_cedar_env *env, const struct wd_cedar_scope *sc, size_t var,
                     const struct wd_cedar_euid *uid, const struct wd_cedar_euid *slot)
{
    if (env->fast != NULL && !sc->slot) {
        return scope_fast(env->fast, sc, var);
    }
    return wd_cedar_scope_match(env, sc, uid, slot);
}

int wd_cedar_eval_policy(struct wd_cedar_env *env, const struct wd_cedar_policy *p, bool *sat)
{
    /* Every error sets err.code (after any other field), so code 0 means still clear. */
    if (env->err.code != 0) {
        memset(&env->err, 0, sizeof(env->err));
    }
    *sat = false;
    const struct wd_cedar_fast *f = env->fast;
    if (f != NULL && !p->principal.slot && !p->resource.slot) {
        /* The authorizer's case: integer and pointer tests only. */
        if (!scope_fast(f, &p->principal, 0) || !scope_fast(f, &p->action, 1)
            || !scope_fast(f, &p->resource, 2)) {
            return WD_OK;
        }
    } else if (!scope_ok(env, &p->principal, 0, env->principal.u.uid, env->slot_principal)
               || !scope_ok(env, &p->action, 1, env->action.u.uid, NULL)
               || !scope_ok(env, &p->resource, 2, env->resource.u.uid, env->slot_resource)) {
        return WD_OK;
    }
    for (uint32_t i = 0; i < p->nconds; i++) {
        bool b;
        WD_TRY(eval_bool(env, p->conds[i].expr, &b));
        if (b == p->conds[i].unless) {
            return WD_OK;
        }
    }
    *sat = true;
    return WD_OK;
}
