/*
 * The Cedar validator, strict mode: every policy is type-checked in every request
 * environment (principal type, action, resource type) that the schema allows.
 *
 * The type rules are those of Cedar's formal model (cedar-spec, cedar-lean
 * Cedar/Validation/Typechecker.lean and Validator.lean), which Cedar's differential tests
 * keep equivalent to the Rust validator:
 *   - a policy is the conjunction  principalScope && actionScope && resourceScope &&
 *     cond1 && ... && condN  (`unless` conditions negated), with `action` replaced by the
 *     environment's action entity literal;
 *   - Boolean types are refined to True/False singletons, && || and if-then-else
 *     short-circuit on them (the skipped operand is not type-checked);
 *   - "capabilities" record what `e has a` / `e.hasTag(t)` proved, flowing through &&, ||
 *     and if-then-else, so an optional attribute or a tag may be read only under a guard;
 *   - strict mode: the operands of ==, the elements of a set, the branches of an
 *     if-then-else and the arguments of contains* need a least upper bound (records: the
 *     same attribute names, each required in both or optional in both; entities: the same
 *     type); == between different entity types
 *     is False, not an error;
 *   - extension constructors need one string literal that parses; empty set literals are
 *     errors.
 * Before type checking, as the Rust validator does in separate passes (rbac.rs), every
 * entity type named in the policy must be declared, every action entity must be declared,
 * the ids of enumerated entity types must be valid, and some action must apply to the
 * principal and resource types the scope allows ("unable to find an applicable action
 * given the policy scope constraints" - an error in the Cedar version that generated the
 * conformance corpus, a warning in later ones).
 * A policy that is False in every environment gets an "impossible policy" warning.
 *
 * Every error is reported, as Cedar's validator does: a type error is recorded as an issue
 * of the policy when found (tc_fail; duplicates from other environments are dropped), and
 * checking goes on around it with the failed expression's recovery type (recovery_type,
 * tc), so the sibling operands, the later conjuncts and the other environments are still
 * checked.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/buf.h"

#include "cedar/ast.h"
#include "cedar/ext.h"
#include "cedar/schema.h"

/* Returned by the type checker after it recorded a type error (never escapes this file). */
#define TC_ERR 1

struct cap {
    const struct wd_cedar_expr *e;
    const struct wd_cedar_sym *attr; /* attribute key, or NULL */
    const char *attr_p;              /* for synthesized keys: bytes of attr */
    const struct wd_cedar_expr *tag; /* tag key expression, or NULL */
};

struct caps {
    const struct cap *v;
    uint32_t n;
};

struct wd_cedar_validation {
    struct wd_cedar_vissue *issues;
    size_t n, cap;
    size_t nerrors;
};

struct vctx {
    const struct wd_cedar_schema *s;
    const struct wd_cedar_policy *pol;
    struct wd_cedar_pool ppool; /* per policy: the synthesized expressions */
    struct wd_cedar_pool epool; /* per environment: types and capabilities */
    /* the environment */
    const struct wd_cedar_ety *principal, *resource;
    const struct wd_cedar_act *action;
    const struct wd_cedar_type *ptype, *atype, *rtype;
    int nomem;    /* WD_ENOMEM when recording an error failed (checked after each environment) */
    size_t nfail; /* type errors recorded so far (tc_fail calls, duplicates included) */
    struct wd_cedar_validation *out;
    size_t first_issue; /* index of this policy's first issue (for deduplication) */
};

/* ---------------------------------------------------------------------------------------
 * Issues
 * ------------------------------------------------------------------------------------- */

static int add_issue(struct vctx *v, enum wd_cedar_vkind kind, bool warning, unsigned line,
                     unsigned col, const char *msg)
{
    struct wd_cedar_validation *r = v->out;
    const char *pid = wd_cedar_policy_id(v->pol);
    char full[sizeof(r->issues[0].msg)];
    (void)snprintf(full, sizeof(full), "for policy `%s`, %s", pid, msg);
    for (size_t i = v->first_issue; i < r->n; i++) {
        const struct wd_cedar_vissue *x = &r->issues[i];
        if (x->kind == kind && x->line == line && x->col == col && strcmp(x->msg, full) == 0) {
            return WD_OK;
        }
    }
    if (r->n == r->cap) {
        size_t ncap = r->cap == 0 ? 8 : r->cap * 2;
        struct wd_cedar_vissue *n = wd_reallocarray(r->issues, ncap, sizeof(*n));
        if (n == NULL) {
            return WD_ENOMEM;
        }
        r->issues = n;
        r->cap = ncap;
    }
    struct wd_cedar_vissue *x = &r->issues[r->n++];
    memset(x, 0, sizeof(*x));
    x->kind = kind;
    x->warning = warning;
    x->policy_id = pid;
    x->line = line;
    x->col = col;
    memcpy(x->msg, full, sizeof(full));
    if (!warning) {
        r->nerrors++;
    }
    return WD_OK;
}

/* Printable, cut copy of bytes for messages. */
static const char *show(char *buf, size_t cap, const char *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    if (o + 8 >= cap) {
        memcpy(buf + o, "...", 4);
    } else {
        buf[o] = '\0';
    }
    return buf;
}

/*
 * Record a type error of the current environment as an issue of the policy (deduplicated
 * per policy, as Cedar does over its environments); returns TC_ERR. The checker goes on
 * with the rest of the policy, so every error is reported, not only the first.
 */
static int tc_fail(struct vctx *v, enum wd_cedar_vkind kind, const struct wd_cedar_expr *at,
                   const char *fmt, ...) WD_PRINTF(4, 5);
static int tc_fail(struct vctx *v, enum wd_cedar_vkind kind, const struct wd_cedar_expr *at,
                   const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    v->nfail++;
    int rc = add_issue(v, kind, false, at != NULL ? at->line : 0, at != NULL ? at->col : 0, msg);
    if (rc < 0) {
        v->nomem = rc;
    }
    return TC_ERR;
}
/* tc_fail's result spelled out at each use: the analyzer does not follow variadic calls,
   and would otherwise assume a failed check can return WD_OK without setting *ty. */
#define TC_FAIL(...) ((void)tc_fail(__VA_ARGS__), TC_ERR)

/* A type as text for messages (cut to fit). */
static const char *tname(const struct wd_cedar_type *t, char *buf, size_t cap)
{
    struct wd_buf b;
    wd_buf_init(&b, cap - 1);
    if (wd_cedar_type_print(t, &b) < 0 && b.len == 0) {
        (void)snprintf(buf, cap, "(type)");
    } else {
        (void)snprintf(buf, cap, "%s", wd_buf_str(&b));
    }
    wd_buf_cleanup(&b);
    return buf;
}

static int unexpected(struct vctx *v, const struct wd_cedar_expr *at, const char *expected,
                      const struct wd_cedar_type *saw)
{
    char b[128];
    return TC_FAIL(v, WD_CEDAR_V_UNEXPECTED_TYPE, at, "unexpected type: expected %s but saw %s",
                   expected, tname(saw, b, sizeof(b)));
}

static int incompatible(struct vctx *v, const struct wd_cedar_expr *at,
                        const struct wd_cedar_type *a, const struct wd_cedar_type *b)
{
    char x[120], y[120];
    return TC_FAIL(v, WD_CEDAR_V_INCOMPATIBLE_TYPES, at, "the types %s and %s are not compatible",
                   tname(a, x, sizeof(x)), tname(b, y, sizeof(y)));
}

/* ---------------------------------------------------------------------------------------
 * Types
 * ------------------------------------------------------------------------------------- */

static bool is_boolish(const struct wd_cedar_type *t)
{
    return t->kind == WD_CEDAR_T_BOOL || t->kind == WD_CEDAR_T_TRUE || t->kind == WD_CEDAR_T_FALSE;
}

static bool bytes_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static int ent_type(struct vctx *v, const char *name, size_t len, const struct wd_cedar_type **out)
{
    struct wd_cedar_type *t;
    WD_TRY(wd_cedar_pool_alloc(&v->epool, sizeof(*t), (void **)&t));
    t->kind = WD_CEDAR_T_ENTITY;
    t->name = name;
    t->name_len = (uint32_t)len;
    *out = t;
    return WD_OK;
}

static int set_type(struct vctx *v, const struct wd_cedar_type *elem,
                    const struct wd_cedar_type **out)
{
    struct wd_cedar_type *t;
    WD_TRY(wd_cedar_pool_alloc(&v->epool, sizeof(*t), (void **)&t));
    t->kind = WD_CEDAR_T_SET;
    t->elem = elem;
    *out = t;
    return WD_OK;
}

/* Strict least upper bound (cedar-lean Subtyping.lean): *out NULL when there is none. */
static int lub(struct vctx *v, const struct wd_cedar_type *a, const struct wd_cedar_type *b,
               const struct wd_cedar_type **out)
{
    *out = NULL;
    if (is_boolish(a) && is_boolish(b)) {
        *out = a->kind == b->kind ? a : &wd_cedar_type_bool;
        return WD_OK;
    }
    if (a->kind == WD_CEDAR_T_SET && b->kind == WD_CEDAR_T_SET) {
        const struct wd_cedar_type *e;
        WD_TRY(lub(v, a->elem, b->elem, &e));
        if (e != NULL) {
            WD_TRY(set_type(v, e, out));
        }
        return WD_OK;
    }
    if (a->kind == WD_CEDAR_T_RECORD && b->kind == WD_CEDAR_T_RECORD) {
        if (a->nattrs != b->nattrs) {
            return WD_OK;
        }
        struct wd_cedar_type *t;
        struct wd_cedar_rattr *attrs = NULL;
        if (a->nattrs > 0) {
            WD_TRY(wd_cedar_pool_alloc(&v->epool, a->nattrs * sizeof(*attrs), (void **)&attrs));
        }
        for (uint32_t i = 0; i < a->nattrs; i++) {
            const struct wd_cedar_rattr *x = &a->attrs[i], *y = &b->attrs[i];
            const struct wd_cedar_type *e;
            /* same names; optional and required never join (the current cedar-lean
               Subtyping.lean and the Rust validator's strict mode) */
            if (!bytes_eq(x->name, x->len, y->name, y->len) || x->required != y->required) {
                return WD_OK;
            }
            WD_TRY(lub(v, x->type, y->type, &e));
            if (e == NULL) {
                return WD_OK;
            }
            attrs[i].name = x->name;
            attrs[i].len = x->len;
            attrs[i].required = x->required;
            attrs[i].type = e;
        }
        WD_TRY(wd_cedar_pool_alloc(&v->epool, sizeof(*t), (void **)&t));
        t->kind = WD_CEDAR_T_RECORD;
        t->attrs = attrs;
        t->nattrs = a->nattrs;
        *out = t;
        return WD_OK;
    }
    if (wd_cedar_type_eq(a, b)) {
        *out = a;
    }
    return WD_OK;
}

/* ---------------------------------------------------------------------------------------
 * Expressions: literals after substituting the action, equality, capabilities
 * ------------------------------------------------------------------------------------- */

/* The entity uid an expression is after substituting `action`, or false. */
static bool lit_euid(const struct vctx *v, const struct wd_cedar_expr *x, const char **type,
                     size_t *tlen, const char **id, size_t *idlen)
{
    if (x->kind == WD_CEDAR_E_ENTITY) {
        *type = x->u.euid->type->p;
        *tlen = x->u.euid->type->len;
        *id = x->u.euid->id->p;
        *idlen = x->u.euid->id->len;
        return true;
    }
    if (x->kind == WD_CEDAR_E_VAR && x->sub == WD_CEDAR_VAR_ACTION && v->action != NULL) {
        *type = v->action->type;
        *tlen = v->action->type_len;
        *id = v->action->id;
        *idlen = v->action->id_len;
        return true;
    }
    return false;
}

static bool is_lit(const struct vctx *v, const struct wd_cedar_expr *x)
{
    return x->kind == WD_CEDAR_E_BOOL || x->kind == WD_CEDAR_E_LONG || x->kind == WD_CEDAR_E_STRING
           || x->kind == WD_CEDAR_E_ENTITY
           || (x->kind == WD_CEDAR_E_VAR && x->sub == WD_CEDAR_VAR_ACTION && v->action != NULL);
}

/* Equality of two literals (is_lit both). */
static bool lit_eq(const struct vctx *v, const struct wd_cedar_expr *a,
                   const struct wd_cedar_expr *b)
{
    const char *t1, *i1, *t2, *i2;
    size_t tl1, il1, tl2, il2;
    if (lit_euid(v, a, &t1, &tl1, &i1, &il1)) {
        return lit_euid(v, b, &t2, &tl2, &i2, &il2) && bytes_eq(t1, tl1, t2, tl2)
               && bytes_eq(i1, il1, i2, il2);
    }
    if (a->kind != b->kind) {
        return false;
    }
    switch (a->kind) {
    case WD_CEDAR_E_BOOL:
        return a->u.b == b->u.b;
    case WD_CEDAR_E_LONG:
        return a->u.i == b->u.i;
    case WD_CEDAR_E_STRING:
        return wd_cedar_sym_eq(a->u.s, b->u.s);
    default:
        return false;
    }
}

static bool sym_eq(const struct wd_cedar_sym *a, const struct wd_cedar_sym *b)
{
    return wd_cedar_sym_eq(a, b);
}

/* Structural equality after substituting `action` (source positions ignored). */
static bool xeq(const struct vctx *v, const struct wd_cedar_expr *a, const struct wd_cedar_expr *b)
{
    if (a == b) {
        return true;
    }
    bool la = is_lit(v, a), lb = is_lit(v, b);
    if (la || lb) {
        return la && lb && lit_eq(v, a, b);
    }
    if (a->kind != b->kind || a->sub != b->sub) {
        return false;
    }
    switch (a->kind) {
    case WD_CEDAR_E_VAR:
        return true;
    case WD_CEDAR_E_NOT:
    case WD_CEDAR_E_NEG:
    case WD_CEDAR_E_IS_EMPTY:
        return xeq(v, a->u.un.e, b->u.un.e);
    case WD_CEDAR_E_IF:
        return xeq(v, a->u.ite.cond, b->u.ite.cond) && xeq(v, a->u.ite.then_, b->u.ite.then_)
               && xeq(v, a->u.ite.else_, b->u.ite.else_);
    case WD_CEDAR_E_GETATTR:
        return sym_eq(a->u.attr.name, b->u.attr.name) && xeq(v, a->u.attr.e, b->u.attr.e);
    case WD_CEDAR_E_HAS:
        if (a->u.has.n != b->u.has.n || !xeq(v, a->u.has.e, b->u.has.e)) {
            return false;
        }
        for (uint32_t i = 0; i < a->u.has.n; i++) {
            if (!sym_eq(a->u.has.path[i], b->u.has.path[i])) {
                return false;
            }
        }
        return true;
    case WD_CEDAR_E_LIKE: {
        const struct wd_cedar_pattern *p = a->u.like.pat, *q = b->u.like.pat;
        if (p->n != q->n || !xeq(v, a->u.like.e, b->u.like.e)) {
            return false;
        }
        for (uint32_t i = 0; i < p->n; i++) {
            if (!bytes_eq(p->parts[i].p, p->parts[i].len, q->parts[i].p, q->parts[i].len)
                || (p->parts[i].p == NULL) != (q->parts[i].p == NULL)) {
                return false;
            }
        }
        return true;
    }
    case WD_CEDAR_E_IS:
        if (!sym_eq(a->u.is.type, b->u.is.type) || !xeq(v, a->u.is.e, b->u.is.e)) {
            return false;
        }
        if (a->u.is.in == NULL || b->u.is.in == NULL) {
            return a->u.is.in == b->u.is.in;
        }
        return xeq(v, a->u.is.in, b->u.is.in);
    case WD_CEDAR_E_SET:
    case WD_CEDAR_E_EXT:
        if (a->u.list.n != b->u.list.n) {
            return false;
        }
        for (uint32_t i = 0; i < a->u.list.n; i++) {
            if (!xeq(v, a->u.list.items[i], b->u.list.items[i])) {
                return false;
            }
        }
        return true;
    case WD_CEDAR_E_RECORD:
        if (a->u.rec.n != b->u.rec.n) {
            return false;
        }
        for (uint32_t i = 0; i < a->u.rec.n; i++) {
            if (!sym_eq(a->u.rec.keys[i], b->u.rec.keys[i])
                || !xeq(v, a->u.rec.vals[i], b->u.rec.vals[i])) {
                return false;
            }
        }
        return true;
    default: /* binary operators */
        if (a->kind >= WD_CEDAR_E__COUNT) {
            return false;
        }
        return xeq(v, a->u.bin.l, b->u.bin.l) && xeq(v, a->u.bin.r, b->u.bin.r);
    }
}

static bool cap_eq(const struct vctx *v, const struct cap *a, const struct cap *b)
{
    if ((a->attr == NULL) != (b->attr == NULL)) {
        return false;
    }
    if (a->attr != NULL) {
        if (!sym_eq(a->attr, b->attr)) {
            return false;
        }
    } else if (!xeq(v, a->tag, b->tag)) {
        return false;
    }
    return xeq(v, a->e, b->e);
}

static bool caps_has(const struct vctx *v, struct caps c, const struct cap *k)
{
    for (uint32_t i = 0; i < c.n; i++) {
        if (cap_eq(v, &c.v[i], k)) {
            return true;
        }
    }
    return false;
}

static int caps_union(struct vctx *v, struct caps a, struct caps b, struct caps *out)
{
    struct cap *r;
    if (b.n == 0) {
        *out = a;
        return WD_OK;
    }
    if (a.n == 0) {
        *out = b;
        return WD_OK;
    }
    WD_TRY(wd_cedar_pool_alloc(&v->epool, ((size_t)a.n + b.n) * sizeof(*r), (void **)&r));
    memcpy(r, a.v, a.n * sizeof(*r));
    uint32_t n = a.n;
    for (uint32_t i = 0; i < b.n; i++) {
        if (!caps_has(v, a, &b.v[i])) {
            r[n++] = b.v[i];
        }
    }
    out->v = r;
    out->n = n;
    return WD_OK;
}

static int caps_inter(struct vctx *v, struct caps a, struct caps b, struct caps *out)
{
    struct cap *r;
    uint32_t n = 0;
    if (a.n == 0 || b.n == 0) {
        out->v = NULL;
        out->n = 0;
        return WD_OK;
    }
    WD_TRY(wd_cedar_pool_alloc(&v->epool, a.n * sizeof(*r), (void **)&r));
    for (uint32_t i = 0; i < a.n; i++) {
        if (caps_has(v, b, &a.v[i])) {
            r[n++] = a.v[i];
        }
    }
    out->v = r;
    out->n = n;
    return WD_OK;
}

static int caps_one(struct vctx *v, const struct cap *k, struct caps *out)
{
    struct cap *r;
    WD_TRY(wd_cedar_pool_alloc(&v->epool, sizeof(*r), (void **)&r));
    *r = *k;
    out->v = r;
    out->n = 1;
    return WD_OK;
}

/* ---------------------------------------------------------------------------------------
 * Synthesized expressions (scopes, `has` paths, `is ... in`)
 * ------------------------------------------------------------------------------------- */

static int mk(struct vctx *v, uint8_t kind, const struct wd_cedar_expr *at,
              struct wd_cedar_expr **out)
{
    struct wd_cedar_expr *x;
    WD_TRY(wd_cedar_pool_alloc(&v->ppool, sizeof(*x), (void **)&x));
    x->kind = kind;
    if (at != NULL) {
        x->line = at->line;
        x->col = at->col;
    }
    *out = x;
    return WD_OK;
}

/* ---------------------------------------------------------------------------------------
 * The type checker
 * ------------------------------------------------------------------------------------- */

static const struct caps no_caps = {NULL, 0};

static int tc(struct vctx *v, const struct wd_cedar_expr *x, struct caps c,
              const struct wd_cedar_type **ty, struct caps *co);

static const char *entity_name(const struct wd_cedar_type *t, char *buf, size_t cap)
{
    return show(buf, cap, t->name, t->name_len);
}

static int tc_lit_entity(struct vctx *v, const struct wd_cedar_expr *x,
                         const struct wd_cedar_type **ty)
{
    const struct wd_cedar_euid *u = x->u.euid;
    const struct wd_cedar_ety *e = wd_cedar_schema_ety(v->s, u->type->p, u->type->len);
    char b1[128], b2[128];
    if ((e != NULL && wd_cedar_ety_valid_id(e, u->id->p, u->id->len))
        || wd_cedar_schema_act(v->s, u->type->p, u->type->len, u->id->p, u->id->len) != NULL) {
        return ent_type(v, u->type->p, u->type->len, ty);
    }
    if (e != NULL) {
        return TC_FAIL(v, WD_CEDAR_V_INVALID_ENUM_ENTITY, x,
                       "entity `%s::\"%s\"` is not one of the ids of enumerated type `%s`",
                       show(b1, sizeof(b1), u->type->p, u->type->len),
                       show(b2, sizeof(b2), u->id->p, u->id->len), b1);
    }
    if (wd_cedar_name_is_action(u->type->p, u->type->len)) {
        return TC_FAIL(v, WD_CEDAR_V_UNRECOGNIZED_ACTION, x, "unrecognized action `%s::\"%s\"`",
                       show(b1, sizeof(b1), u->type->p, u->type->len),
                       show(b2, sizeof(b2), u->id->p, u->id->len));
    }
    return TC_FAIL(v, WD_CEDAR_V_UNRECOGNIZED_ENTITY_TYPE, x, "unrecognized entity type `%s`",
                   show(b1, sizeof(b1), u->type->p, u->type->len));
}

/* x₁ in x₂ where x₁ has entity type t1 and x₂ entity type t2 (or a set of them). */
static bool act_descends(const struct vctx *v, const char *t1, size_t tl1, const char *i1,
                         size_t il1, const char *t2, size_t tl2, const char *i2, size_t il2)
{
    if (bytes_eq(t1, tl1, t2, tl2) && bytes_eq(i1, il1, i2, il2)) {
        return true;
    }
    const struct wd_cedar_act *a = wd_cedar_schema_act(v->s, t1, tl1, i1, il1);
    const struct wd_cedar_act *b = wd_cedar_schema_act(v->s, t2, tl2, i2, il2);
    return a != NULL && b != NULL && wd_cedar_act_has_ancestor(a, b);
}

/* TypeEnv.descendentOf: whether entities of type t1 may be in entities of type t2. */
static bool type_descends(const struct vctx *v, const struct wd_cedar_type *t1,
                          const struct wd_cedar_type *t2)
{
    if (bytes_eq(t1->name, t1->name_len, t2->name, t2->name_len)) {
        return true;
    }
    const struct wd_cedar_ety *e1 = wd_cedar_schema_ety(v->s, t1->name, t1->name_len);
    if (e1 != NULL) {
        const struct wd_cedar_ety *e2 = wd_cedar_schema_ety(v->s, t2->name, t2->name_len);
        return e2 != NULL && wd_cedar_ety_has_ancestor(e1, e2);
    }
    /* ActionSchema.maybeDescendentOf */
    for (uint32_t i = 0; i < v->s->nact; i++) {
        const struct wd_cedar_act *a = v->s->acts[i];
        if (!bytes_eq(a->type, a->type_len, t1->name, t1->name_len)) {
            continue;
        }
        for (uint32_t k = 0; k < a->nancestors; k++) {
            const struct wd_cedar_act *p = a->ancestors[k];
            if (bytes_eq(p->type, p->type_len, t2->name, t2->name_len)) {
                return true;
            }
        }
    }
    return false;
}

static bool action_literal(const struct vctx *v, const struct wd_cedar_expr *x, const char **t,
                           size_t *tl, const char **id, size_t *il)
{
    return lit_euid(v, x, t, tl, id, il) && wd_cedar_schema_act(v->s, *t, *tl, *id, *il) != NULL;
}

static int tc_in(struct vctx *v, const struct wd_cedar_expr *x, const struct wd_cedar_type *t1,
                 const struct wd_cedar_type *t2, const struct wd_cedar_type **ty)
{
    const struct wd_cedar_expr *l = x->u.bin.l, *r = x->u.bin.r;
    const char *at, *aid, *bt, *bid;
    size_t atl, ail, btl, bil;
    if (t1->kind != WD_CEDAR_T_ENTITY) {
        return unexpected(v, l, "an entity", t1);
    }
    if (t2->kind == WD_CEDAR_T_ENTITY) {
        if (action_literal(v, l, &at, &atl, &aid, &ail) && lit_euid(v, r, &bt, &btl, &bid, &bil)) {
            *ty = act_descends(v, at, atl, aid, ail, bt, btl, bid, bil) ? &wd_cedar_type_true
                                                                        : &wd_cedar_type_false;
            return WD_OK;
        }
        *ty = type_descends(v, t1, t2) ? &wd_cedar_type_bool : &wd_cedar_type_false;
        return WD_OK;
    }
    if (t2->kind == WD_CEDAR_T_SET && t2->elem->kind == WD_CEDAR_T_ENTITY) {
        if (action_literal(v, l, &at, &atl, &aid, &ail) && r->kind == WD_CEDAR_E_SET) {
            bool all = true, any = false;
            for (uint32_t i = 0; i < r->u.list.n && all; i++) {
                if (!lit_euid(v, r->u.list.items[i], &bt, &btl, &bid, &bil)) {
                    all = false;
                } else if (act_descends(v, at, atl, aid, ail, bt, btl, bid, bil)) {
                    any = true;
                }
            }
            if (all) {
                *ty = any ? &wd_cedar_type_true : &wd_cedar_type_false;
                return WD_OK;
            }
        }
        *ty = type_descends(v, t1, t2->elem) ? &wd_cedar_type_bool : &wd_cedar_type_false;
        return WD_OK;
    }
    return unexpected(v, l, "an entity and an entity or a set of entities", t2);
}

/* `e has a` for one attribute name. */
static int tc_has_attr(struct vctx *v, const struct wd_cedar_expr *x, const struct wd_cedar_expr *e,
                       const struct wd_cedar_type *t, const struct wd_cedar_sym *a, struct caps c,
                       const struct wd_cedar_type **ty, struct caps *co)
{
    const struct wd_cedar_type *rec;
    bool known = true;
    char b[128];
    *co = no_caps;
    if (t->kind == WD_CEDAR_T_RECORD) {
        rec = t;
    } else if (t->kind == WD_CEDAR_T_ENTITY) {
        const struct wd_cedar_ety *ety = wd_cedar_schema_ety(v->s, t->name, t->name_len);
        if (ety == NULL) {
            if (wd_cedar_schema_is_action_type(v->s, t->name, t->name_len)) {
                *ty = &wd_cedar_type_false; /* actions have no attributes */
                return WD_OK;
            }
            return TC_FAIL(v, WD_CEDAR_V_UNRECOGNIZED_ENTITY_TYPE, x,
                           "unrecognized entity type `%s`", entity_name(t, b, sizeof(b)));
        }
        rec = ety->shape;
        known = false;
    } else {
        return unexpected(v, e, "an entity or a record", t);
    }
    const struct wd_cedar_rattr *ra = wd_cedar_type_attr(rec, a->p, a->len);
    if (ra == NULL) {
        *ty = &wd_cedar_type_false;
        return WD_OK;
    }
    struct cap k = {.e = e, .attr = a};
    if (caps_has(v, c, &k) || (ra->required && known)) {
        *ty = &wd_cedar_type_true;
        return WD_OK;
    }
    *ty = &wd_cedar_type_bool;
    return caps_one(v, &k, co);
}

static int tc_get_attr(struct vctx *v, const struct wd_cedar_expr *x, struct caps c,
                       const struct wd_cedar_type **ty)
{
    const struct wd_cedar_expr *e = x->u.attr.e;
    const struct wd_cedar_sym *a = x->u.attr.name;
    const struct wd_cedar_type *t, *rec;
    struct caps ignore;
    char b1[128], b2[128];
    int rc = tc(v, e, c, &t, &ignore);
    if (rc < 0 || t == NULL) {
        return rc;
    }
    if (t->kind == WD_CEDAR_T_RECORD) {
        rec = t;
    } else if (t->kind == WD_CEDAR_T_ENTITY) {
        const struct wd_cedar_ety *ety = wd_cedar_schema_ety(v->s, t->name, t->name_len);
        if (ety == NULL) {
            if (wd_cedar_schema_is_action_type(v->s, t->name, t->name_len)) {
                return TC_FAIL(v, WD_CEDAR_V_ATTR_NOT_FOUND, x,
                               "attribute `%s` on entity type `%s` not found",
                               show(b1, sizeof(b1), a->p, a->len), entity_name(t, b2, sizeof(b2)));
            }
            return TC_FAIL(v, WD_CEDAR_V_UNRECOGNIZED_ENTITY_TYPE, x,
                           "unrecognized entity type `%s`", entity_name(t, b2, sizeof(b2)));
        }
        rec = ety->shape;
    } else {
        return unexpected(v, e, "an entity or a record", t);
    }
    const struct wd_cedar_rattr *ra = wd_cedar_type_attr(rec, a->p, a->len);
    if (ra != NULL && ra->required) {
        *ty = ra->type;
        return WD_OK;
    }
    if (ra != NULL) {
        struct cap k = {.e = e, .attr = a};
        if (caps_has(v, c, &k)) {
            *ty = ra->type;
            return WD_OK;
        }
        /* The recovery type: the attribute's (Cedar goes on with it). */
        *ty = ra->type;
        if (t->kind == WD_CEDAR_T_ENTITY) {
            return TC_FAIL(v, WD_CEDAR_V_UNSAFE_OPTIONAL_ATTR, x,
                           "unable to guarantee safety of access to optional attribute `%s` on "
                           "entity type `%s`",
                           show(b1, sizeof(b1), a->p, a->len), entity_name(t, b2, sizeof(b2)));
        }
        return TC_FAIL(v, WD_CEDAR_V_UNSAFE_OPTIONAL_ATTR, x,
                       "unable to guarantee safety of access to optional attribute `%s`",
                       show(b1, sizeof(b1), a->p, a->len));
    }
    if (t->kind == WD_CEDAR_T_ENTITY) {
        return TC_FAIL(v, WD_CEDAR_V_ATTR_NOT_FOUND, x,
                       "attribute `%s` on entity type `%s` not found",
                       show(b1, sizeof(b1), a->p, a->len), entity_name(t, b2, sizeof(b2)));
    }
    return TC_FAIL(v, WD_CEDAR_V_ATTR_NOT_FOUND, x, "attribute `%s` not found in %s",
                   show(b1, sizeof(b1), a->p, a->len), tname(t, b2, sizeof(b2)));
}

/* e has a₁.a₂...aₙ  ==  e has a₁ && e.a₁ has a₂ && ... (RFC 62) */
static int tc_has(struct vctx *v, const struct wd_cedar_expr *x, struct caps c,
                  const struct wd_cedar_type **ty, struct caps *co)
{
    const struct wd_cedar_expr *e = x->u.has.e;
    const struct wd_cedar_type *t;
    struct caps ignore;
    int rc = tc(v, e, c, &t, &ignore);
    if (rc < 0 || t == NULL) {
        return rc;
    }
    if (x->u.has.n == 1) {
        return tc_has_attr(v, x, e, t, x->u.has.path[0], c, ty, co);
    }
    /* Build the desugared conjunction once and check it as an ordinary expression. */
    struct wd_cedar_expr *conj = NULL;
    const struct wd_cedar_expr *base = e;
    for (uint32_t i = 0; i < x->u.has.n; i++) {
        struct wd_cedar_expr *h;
        const struct wd_cedar_sym **path;
        WD_TRY(mk(v, WD_CEDAR_E_HAS, x, &h));
        WD_TRY(wd_cedar_pool_alloc(&v->ppool, sizeof(const struct wd_cedar_sym *), (void **)&path));
        path[0] = x->u.has.path[i];
        h->u.has.e = base;
        h->u.has.path = path;
        h->u.has.n = 1;
        if (conj == NULL) {
            conj = h;
        } else {
            struct wd_cedar_expr *a;
            WD_TRY(mk(v, WD_CEDAR_E_AND, x, &a));
            a->u.bin.l = conj;
            a->u.bin.r = h;
            conj = a;
        }
        struct wd_cedar_expr *g;
        WD_TRY(mk(v, WD_CEDAR_E_GETATTR, x, &g));
        g->u.attr.e = base;
        g->u.attr.name = x->u.has.path[i];
        base = g;
    }
    /* The parser never builds `has` with an empty path, and n == 1 returned above. */
    WD_BUG_ON(conj == NULL);
    return tc(v, conj, c, ty, co);
}

static int tc_tag(struct vctx *v, const struct wd_cedar_expr *x, const struct wd_cedar_type *t1,
                  const struct wd_cedar_type *t2, struct caps c, const struct wd_cedar_type **ty,
                  struct caps *co)
{
    const struct wd_cedar_expr *e = x->u.bin.l, *key = x->u.bin.r;
    bool has = x->kind == WD_CEDAR_E_HAS_TAG;
    char b[128];
    *co = no_caps;
    if (t1->kind != WD_CEDAR_T_ENTITY) {
        return unexpected(v, e, "an entity", t1);
    }
    if (t2->kind != WD_CEDAR_T_STRING) {
        return unexpected(v, key, "String", t2);
    }
    const struct wd_cedar_ety *ety = wd_cedar_schema_ety(v->s, t1->name, t1->name_len);
    if (ety == NULL) {
        if (wd_cedar_schema_is_action_type(v->s, t1->name, t1->name_len)) {
            if (has) {
                *ty = &wd_cedar_type_false; /* actions have no tags */
                return WD_OK;
            }
            return TC_FAIL(v, WD_CEDAR_V_UNSAFE_TAG, x, "entity type `%s` has no tags",
                           entity_name(t1, b, sizeof(b)));
        }
        return TC_FAIL(v, WD_CEDAR_V_UNRECOGNIZED_ENTITY_TYPE, x, "unrecognized entity type `%s`",
                       entity_name(t1, b, sizeof(b)));
    }
    if (ety->tags == NULL) {
        if (has) {
            *ty = &wd_cedar_type_false;
            return WD_OK;
        }
        return TC_FAIL(v, WD_CEDAR_V_UNSAFE_TAG, x, "entity type `%s` has no tags",
                       entity_name(t1, b, sizeof(b)));
    }
    struct cap k = {.e = e, .tag = key};
    if (caps_has(v, c, &k)) {
        *ty = has ? &wd_cedar_type_true : ety->tags;
        return WD_OK;
    }
    if (!has) {
        char kb[96] = "";
        if (key->kind == WD_CEDAR_E_STRING) {
            show(kb, sizeof(kb), key->u.s->p, key->u.s->len);
        }
        return TC_FAIL(v, WD_CEDAR_V_UNSAFE_TAG, x,
                       "unable to guarantee safety of access to tag `%s` on entity type `%s`", kb,
                       entity_name(t1, b, sizeof(b)));
    }
    *ty = &wd_cedar_type_bool;
    return caps_one(v, &k, co);
}

/* Extension constructors: one string literal that the constructor accepts. */
static int tc_ctor(struct vctx *v, const struct wd_cedar_expr *x, const struct wd_cedar_type *res,
                   const struct wd_cedar_type **ty)
{
    char b[128];
    if (x->u.list.n != 1) {
        return TC_FAIL(v, WD_CEDAR_V_EXT_CALL, x,
                       "wrong number of arguments in extension function application. Expected "
                       "1, got %u",
                       (unsigned)x->u.list.n);
    }
    const struct wd_cedar_expr *arg = x->u.list.items[0];
    if (arg->kind != WD_CEDAR_E_STRING) {
        return TC_FAIL(v, WD_CEDAR_V_EXT_NONLITERAL, x,
                       "extension constructors may not be called with non-literal expressions");
    }
    const char *s = arg->u.s->p;
    size_t n = arg->u.s->len;
    int rc;
    const char *what;
    switch (x->sub) {
    case WD_CEDAR_EXT_IP: {
        struct wd_cedar_ip ip;
        rc = wd_cedar_ip_parse(s, n, &ip);
        what = "IP address";
        break;
    }
    case WD_CEDAR_EXT_DECIMAL: {
        int64_t d;
        rc = wd_cedar_decimal_parse(s, n, &d);
        what = "a decimal value";
        break;
    }
    case WD_CEDAR_EXT_DATETIME: {
        int64_t d;
        rc = wd_cedar_datetime_parse(s, n, &d);
        what = "a datetime value";
        break;
    }
    default: {
        int64_t d;
        rc = wd_cedar_duration_parse(s, n, &d);
        what = "a duration value";
        break;
    }
    }
    if (rc != WD_OK) {
        return TC_FAIL(v, WD_CEDAR_V_EXT_ARG, arg,
                       "error during extension function argument validation: failed to parse "
                       "as %s: `%s`",
                       what, show(b, sizeof(b), s, n));
    }
    *ty = res;
    return WD_OK;
}

static int tc_ext(struct vctx *v, const struct wd_cedar_expr *x, struct caps c,
                  const struct wd_cedar_type **ty)
{
    const struct wd_cedar_type *args[4];
    struct caps ignore;
    uint32_t n = x->u.list.n;
    bool unknown = false;
    for (uint32_t i = 0; i < n; i++) {
        const struct wd_cedar_type *t = NULL;
        int rc = tc(v, x->u.list.items[i], c, &t, &ignore);
        if (rc < 0) {
            return rc;
        }
        unknown = unknown || t == NULL;
        if (i < WD_ARRAY_LEN(args)) {
            args[i] = t;
        }
    }
    if (unknown) {
        return TC_ERR;
    }
    /* (function, result, arity, argument kinds) */
    static const struct {
        const struct wd_cedar_type *res; /* first: no padding between the uint8_t fields */
        uint8_t fn;
        uint8_t arity;
        uint8_t a0, a1;
    } sig[] = {
            {&wd_cedar_type_bool, WD_CEDAR_EXT_LESS_THAN, 2, WD_CEDAR_T_DECIMAL,
             WD_CEDAR_T_DECIMAL},
            {&wd_cedar_type_bool, WD_CEDAR_EXT_LESS_THAN_OR_EQUAL, 2, WD_CEDAR_T_DECIMAL,
             WD_CEDAR_T_DECIMAL},
            {&wd_cedar_type_bool, WD_CEDAR_EXT_GREATER_THAN, 2, WD_CEDAR_T_DECIMAL,
             WD_CEDAR_T_DECIMAL},
            {&wd_cedar_type_bool, WD_CEDAR_EXT_GREATER_THAN_OR_EQUAL, 2, WD_CEDAR_T_DECIMAL,
             WD_CEDAR_T_DECIMAL},
            {&wd_cedar_type_bool, WD_CEDAR_EXT_IS_IPV4, 1, WD_CEDAR_T_IPADDR, 0},
            {&wd_cedar_type_bool, WD_CEDAR_EXT_IS_IPV6, 1, WD_CEDAR_T_IPADDR, 0},
            {&wd_cedar_type_bool, WD_CEDAR_EXT_IS_LOOPBACK, 1, WD_CEDAR_T_IPADDR, 0},
            {&wd_cedar_type_bool, WD_CEDAR_EXT_IS_MULTICAST, 1, WD_CEDAR_T_IPADDR, 0},
            {&wd_cedar_type_bool, WD_CEDAR_EXT_IS_IN_RANGE, 2, WD_CEDAR_T_IPADDR,
             WD_CEDAR_T_IPADDR},
            {&wd_cedar_type_datetime, WD_CEDAR_EXT_OFFSET, 2, WD_CEDAR_T_DATETIME,
             WD_CEDAR_T_DURATION},
            {&wd_cedar_type_duration, WD_CEDAR_EXT_DURATION_SINCE, 2, WD_CEDAR_T_DATETIME,
             WD_CEDAR_T_DATETIME},
            {&wd_cedar_type_datetime, WD_CEDAR_EXT_TO_DATE, 1, WD_CEDAR_T_DATETIME, 0},
            {&wd_cedar_type_duration, WD_CEDAR_EXT_TO_TIME, 1, WD_CEDAR_T_DATETIME, 0},
            {&wd_cedar_type_long, WD_CEDAR_EXT_TO_DAYS, 1, WD_CEDAR_T_DURATION, 0},
            {&wd_cedar_type_long, WD_CEDAR_EXT_TO_HOURS, 1, WD_CEDAR_T_DURATION, 0},
            {&wd_cedar_type_long, WD_CEDAR_EXT_TO_MINUTES, 1, WD_CEDAR_T_DURATION, 0},
            {&wd_cedar_type_long, WD_CEDAR_EXT_TO_SECONDS, 1, WD_CEDAR_T_DURATION, 0},
            {&wd_cedar_type_long, WD_CEDAR_EXT_TO_MILLISECONDS, 1, WD_CEDAR_T_DURATION, 0},
    };
    switch (x->sub) {
    case WD_CEDAR_EXT_IP:
        return tc_ctor(v, x, &wd_cedar_type_ipaddr, ty);
    case WD_CEDAR_EXT_DECIMAL:
        return tc_ctor(v, x, &wd_cedar_type_decimal, ty);
    case WD_CEDAR_EXT_DATETIME:
        return tc_ctor(v, x, &wd_cedar_type_datetime, ty);
    case WD_CEDAR_EXT_DURATION:
        return tc_ctor(v, x, &wd_cedar_type_duration, ty);
    default:
        break;
    }
    for (size_t i = 0; i < WD_ARRAY_LEN(sig); i++) {
        if (sig[i].fn != x->sub) {
            continue;
        }
        const char *name = wd_cedar_ext_name((enum wd_cedar_ext)x->sub);
        if (n != sig[i].arity) {
            return TC_FAIL(v, WD_CEDAR_V_EXT_CALL, x,
                           "wrong number of arguments in extension function application. "
                           "Expected %u, got %u",
                           (unsigned)sig[i].arity, (unsigned)n);
        }
        uint8_t want[2] = {sig[i].a0, sig[i].a1};
        bool wrong = false;
        for (uint32_t k = 0; k < n; k++) {
            if (args[k]->kind != want[k]) {
                const struct wd_cedar_type *w;
                switch (want[k]) {
                case WD_CEDAR_T_DECIMAL:
                    w = &wd_cedar_type_decimal;
                    break;
                case WD_CEDAR_T_IPADDR:
                    w = &wd_cedar_type_ipaddr;
                    break;
                case WD_CEDAR_T_DATETIME:
                    w = &wd_cedar_type_datetime;
                    break;
                default:
                    w = &wd_cedar_type_duration;
                    break;
                }
                char b[64];
                (void)name;
                (void)unexpected(v, x->u.list.items[k], tname(w, b, sizeof(b)), args[k]);
                wrong = true;
            }
        }
        if (wrong) {
            return TC_ERR;
        }
        *ty = sig[i].res;
        return WD_OK;
    }
    return TC_FAIL(v, WD_CEDAR_V_EXT_CALL, x, "unknown extension function");
}

static int tc_and(struct vctx *v, const struct wd_cedar_expr *x, struct caps c,
                  const struct wd_cedar_type **ty, struct caps *co)
{
    const struct wd_cedar_type *t1, *t2;
    struct caps c1, c2, cc;
    *co = no_caps;
    /*
     * A failed operand with a (recovery) type is used as that type, as Cedar does; one
     * with no type counts as some Bool. Either way the wrapper tc() reports the whole
     * expression as failed.
     */
    int rc = tc(v, x->u.bin.l, c, &t1, &c1);
    if (rc < 0) {
        return rc;
    }
    if (t1 != NULL && t1->kind == WD_CEDAR_T_FALSE) {
        *ty = t1;
        return WD_OK;
    }
    if (t1 != NULL && !is_boolish(t1)) {
        (void)unexpected(v, x->u.bin.l, "Bool", t1);
        t1 = NULL;
    }
    if (rc == WD_OK) {
        WD_TRY(caps_union(v, c, c1, &cc));
    } else {
        cc = c;
    }
    int rc2 = tc(v, x->u.bin.r, cc, &t2, &c2);
    if (rc2 < 0 || t2 == NULL) {
        return rc2;
    }
    if (!is_boolish(t2)) {
        return unexpected(v, x->u.bin.r, "Bool", t2);
    }
    if (t2->kind == WD_CEDAR_T_FALSE) {
        *ty = t2;
        return WD_OK;
    }
    if (t1 == NULL) {
        *ty = &wd_cedar_type_bool;
        return TC_ERR;
    }
    *ty = t2->kind == WD_CEDAR_T_TRUE ? t1 : &wd_cedar_type_bool;
    if (rc != WD_OK || rc2 != WD_OK) {
        return WD_OK; /* failed: tc() says so, and the capabilities are dropped */
    }
    return caps_union(v, c1, c2, co);
}

static int tc_or(struct vctx *v, const struct wd_cedar_expr *x, struct caps c,
                 const struct wd_cedar_type **ty, struct caps *co)
{
    const struct wd_cedar_type *t1, *t2;
    struct caps c1, c2;
    *co = no_caps;
    /* Failed operands as in tc_and. */
    int rc = tc(v, x->u.bin.l, c, &t1, &c1);
    if (rc < 0) {
        return rc;
    }
    if (t1 != NULL && t1->kind == WD_CEDAR_T_TRUE) {
        *ty = t1;
        return WD_OK;
    }
    if (t1 != NULL && !is_boolish(t1)) {
        (void)unexpected(v, x->u.bin.l, "Bool", t1);
        t1 = NULL;
    }
    int rc2 = tc(v, x->u.bin.r, c, &t2, &c2);
    if (rc2 < 0 || t2 == NULL) {
        return rc2;
    }
    if (!is_boolish(t2)) {
        return unexpected(v, x->u.bin.r, "Bool", t2);
    }
    if (t1 == NULL) {
        *ty = t2->kind == WD_CEDAR_T_TRUE ? t2 : &wd_cedar_type_bool;
        return TC_ERR;
    }
    if (t1->kind == WD_CEDAR_T_FALSE) {
        *ty = t2;
        *co = c2;
        return WD_OK;
    }
    if (t2->kind == WD_CEDAR_T_TRUE) {
        *ty = t2;
        return WD_OK;
    }
    *ty = &wd_cedar_type_bool;
    if (rc != WD_OK || rc2 != WD_OK) {
        return WD_OK;
    }
    if (t2->kind == WD_CEDAR_T_FALSE) {
        *co = c1;
        return WD_OK;
    }
    return caps_inter(v, c1, c2, co);
}

static int tc_if(struct vctx *v, const struct wd_cedar_expr *x, struct caps c,
                 const struct wd_cedar_type **ty, struct caps *co)
{
    const struct wd_cedar_type *t1, *t2, *t3;
    struct caps c1, c2, c3, cc;
    *co = no_caps;
    int rc = tc(v, x->u.ite.cond, c, &t1, &c1);
    if (rc < 0) {
        return rc;
    }
    if (t1 != NULL && !is_boolish(t1)) {
        (void)unexpected(v, x->u.ite.cond, "Bool", t1);
        t1 = NULL;
    }
    if (t1 != NULL && t1->kind == WD_CEDAR_T_FALSE) {
        return tc(v, x->u.ite.else_, c, ty, co);
    }
    if (t1 != NULL && rc == WD_OK) {
        WD_TRY(caps_union(v, c, c1, &cc));
    } else {
        cc = c;
    }
    int r2 = tc(v, x->u.ite.then_, cc, &t2, &c2);
    if (r2 < 0) {
        return r2;
    }
    if (t1 != NULL && t1->kind == WD_CEDAR_T_TRUE) {
        *ty = t2;
        if (rc != WD_OK || r2 != WD_OK) {
            return r2 == WD_OK ? WD_OK : TC_ERR;
        }
        return caps_union(v, c1, c2, co);
    }
    /* A failed condition counts as some Bool: both branches are checked and joined. */
    int r3 = tc(v, x->u.ite.else_, c, &t3, &c3);
    if (r3 < 0) {
        return r3;
    }
    if (t2 == NULL || t3 == NULL) {
        return TC_ERR;
    }
    WD_TRY(lub(v, t2, t3, ty));
    if (*ty == NULL) {
        return incompatible(v, x, t2, t3);
    }
    if (t1 == NULL || rc != WD_OK || r2 != WD_OK || r3 != WD_OK) {
        return t1 == NULL ? TC_ERR : WD_OK;
    }
    WD_TRY(caps_union(v, c1, c2, &cc));
    return caps_inter(v, cc, c3, co);
}

static int tc_set(struct vctx *v, const struct wd_cedar_expr *x, struct caps c,
                  const struct wd_cedar_type **ty)
{
    const struct wd_cedar_type *acc = NULL;
    struct caps ignore;
    if (x->u.list.n == 0) {
        return TC_FAIL(v, WD_CEDAR_V_EMPTY_SET, x, "empty set literals are forbidden in policies");
    }
    /* every element is checked before their types are joined */
    const struct wd_cedar_type **ts;
    WD_TRY(wd_cedar_pool_alloc(&v->epool, x->u.list.n * sizeof(const struct wd_cedar_type *),
                               (void **)&ts));
    bool unknown = false;
    for (uint32_t i = 0; i < x->u.list.n; i++) {
        int rc = tc(v, x->u.list.items[i], c, &ts[i], &ignore);
        if (rc < 0) {
            return rc;
        }
        unknown = unknown || ts[i] == NULL;
    }
    if (unknown) {
        return TC_ERR;
    }
    acc = ts[0];
    for (uint32_t i = 1; i < x->u.list.n; i++) {
        const struct wd_cedar_type *j;
        WD_TRY(lub(v, acc, ts[i], &j));
        if (j == NULL) {
            return incompatible(v, x->u.list.items[i], acc, ts[i]);
        }
        acc = j;
    }
    return set_type(v, acc, ty);
}

static int rattr_cmp(const struct wd_cedar_rattr *a, const struct wd_cedar_rattr *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n > 0 ? memcmp(a->name, b->name, n) : 0;
    if (c != 0) {
        return c;
    }
    return a->len < b->len ? -1 : (a->len > b->len ? 1 : 0);
}

static int tc_record(struct vctx *v, const struct wd_cedar_expr *x, struct caps c,
                     const struct wd_cedar_type **ty)
{
    struct wd_cedar_type *t;
    struct wd_cedar_rattr *attrs = NULL;
    struct caps ignore;
    uint32_t n = x->u.rec.n;
    if (n > 0) {
        WD_TRY(wd_cedar_pool_alloc(&v->epool, n * sizeof(*attrs), (void **)&attrs));
    }
    bool bad = false;
    for (uint32_t i = 0; i < n; i++) {
        const struct wd_cedar_type *at = NULL;
        int rc = tc(v, x->u.rec.vals[i], c, &at, &ignore);
        if (rc < 0) {
            return rc;
        }
        if (at == NULL) {
            bad = true;
            continue;
        }
        /* insertion sort by name: records are small */
        struct wd_cedar_rattr a = {.name = x->u.rec.keys[i]->p,
                                   .len = x->u.rec.keys[i]->len,
                                   .required = true,
                                   .type = at};
        uint32_t k = i;
        while (k > 0 && rattr_cmp(&attrs[k - 1], &a) > 0) {
            attrs[k] = attrs[k - 1];
            k--;
        }
        attrs[k] = a;
    }
    if (bad) {
        return TC_ERR;
    }
    WD_TRY(wd_cedar_pool_alloc(&v->epool, sizeof(*t), (void **)&t));
    t->kind = WD_CEDAR_T_RECORD;
    t->attrs = attrs;
    t->nattrs = n;
    *ty = t;
    return WD_OK;
}

static bool cmp_ok(const struct wd_cedar_type *a, const struct wd_cedar_type *b)
{
    return a->kind == b->kind
           && (a->kind == WD_CEDAR_T_LONG || a->kind == WD_CEDAR_T_DATETIME
               || a->kind == WD_CEDAR_T_DURATION);
}

static int tc_binary(struct vctx *v, const struct wd_cedar_expr *x, struct caps c,
                     const struct wd_cedar_type **ty, struct caps *co)
{
    const struct wd_cedar_type *t1 = NULL, *t2 = NULL, *j = NULL;
    struct caps ignore;
    *co = no_caps;
    /* Both operands are checked, whatever happens to the first. */
    int rc = tc(v, x->u.bin.l, c, &t1, &ignore);
    if (rc < 0) {
        return rc;
    }
    int rc2 = tc(v, x->u.bin.r, c, &t2, &ignore);
    if (rc2 < 0) {
        return rc2;
    }
    if (t1 != NULL && t2 == NULL
        && (x->kind == WD_CEDAR_E_GET_TAG || x->kind == WD_CEDAR_E_HAS_TAG)) {
        /* A failed key (a string, or an error) still lets the tag access be checked. */
        int r = tc_tag(v, x, t1, &wd_cedar_type_string, c, ty, co);
        *co = no_caps;
        return r < 0 ? r : TC_ERR;
    }
    if (t1 == NULL || t2 == NULL) {
        return TC_ERR;
    }
    switch (x->kind) {
    case WD_CEDAR_E_EQ:
    case WD_CEDAR_E_NE: {
        bool ne = x->kind == WD_CEDAR_E_NE;
        if (is_lit(v, x->u.bin.l) && is_lit(v, x->u.bin.r)) {
            bool eq = lit_eq(v, x->u.bin.l, x->u.bin.r);
            *ty = eq != ne ? &wd_cedar_type_true : &wd_cedar_type_false;
            return WD_OK;
        }
        WD_TRY(lub(v, t1, t2, &j));
        if (j != NULL) {
            *ty = &wd_cedar_type_bool;
            return WD_OK;
        }
        if (t1->kind == WD_CEDAR_T_ENTITY && t2->kind == WD_CEDAR_T_ENTITY) {
            *ty = ne ? &wd_cedar_type_true : &wd_cedar_type_false;
            return WD_OK;
        }
        return incompatible(v, x, t1, t2);
    }
    case WD_CEDAR_E_LT:
    case WD_CEDAR_E_LE:
    case WD_CEDAR_E_GT:
    case WD_CEDAR_E_GE:
        if (!cmp_ok(t1, t2)) {
            bool first = !(t1->kind == WD_CEDAR_T_LONG || t1->kind == WD_CEDAR_T_DATETIME
                           || t1->kind == WD_CEDAR_T_DURATION);
            return unexpected(v, first ? x->u.bin.l : x->u.bin.r,
                              first ? "Long, datetime or duration" : "the left operand's type",
                              first ? t1 : t2);
        }
        *ty = &wd_cedar_type_bool;
        return WD_OK;
    case WD_CEDAR_E_ADD:
    case WD_CEDAR_E_SUB:
    case WD_CEDAR_E_MUL:
        if (t1->kind != WD_CEDAR_T_LONG || t2->kind != WD_CEDAR_T_LONG) {
            if (t1->kind != WD_CEDAR_T_LONG) {
                (void)unexpected(v, x->u.bin.l, "Long", t1);
            }
            if (t2->kind != WD_CEDAR_T_LONG) {
                (void)unexpected(v, x->u.bin.r, "Long", t2);
            }
            return TC_ERR;
        }
        *ty = &wd_cedar_type_long;
        return WD_OK;
    case WD_CEDAR_E_IN:
        return tc_in(v, x, t1, t2, ty);
    case WD_CEDAR_E_CONTAINS:
        if (t1->kind != WD_CEDAR_T_SET) {
            return unexpected(v, x->u.bin.l, "a set", t1);
        }
        WD_TRY(lub(v, t2, t1->elem, &j));
        if (j == NULL) {
            return incompatible(v, x, t1->elem, t2);
        }
        *ty = &wd_cedar_type_bool;
        return WD_OK;
    case WD_CEDAR_E_CONTAINS_ALL:
    case WD_CEDAR_E_CONTAINS_ANY:
        if (t1->kind != WD_CEDAR_T_SET || t2->kind != WD_CEDAR_T_SET) {
            if (t1->kind != WD_CEDAR_T_SET) {
                (void)unexpected(v, x->u.bin.l, "a set", t1);
            }
            if (t2->kind != WD_CEDAR_T_SET) {
                (void)unexpected(v, x->u.bin.r, "a set", t2);
            }
            return TC_ERR;
        }
        WD_TRY(lub(v, t1->elem, t2->elem, &j));
        if (j == NULL) {
            return incompatible(v, x, t1, t2);
        }
        *ty = &wd_cedar_type_bool;
        return WD_OK;
    case WD_CEDAR_E_HAS_TAG:
    case WD_CEDAR_E_GET_TAG:
        return tc_tag(v, x, t1, t2, c, ty, co);
    default:
        return TC_FAIL(v, WD_CEDAR_V_UNEXPECTED_TYPE, x, "unsupported expression");
    }
}

static int tc_kind(struct vctx *v, const struct wd_cedar_expr *x, struct caps c,
                   const struct wd_cedar_type **ty, struct caps *co)
{
    const struct wd_cedar_type *t = NULL;
    struct caps ignore;
    int rc;
    *co = no_caps;
    switch (x->kind) {
    case WD_CEDAR_E_BOOL:
        *ty = x->u.b ? &wd_cedar_type_true : &wd_cedar_type_false;
        return WD_OK;
    case WD_CEDAR_E_LONG:
        *ty = &wd_cedar_type_long;
        return WD_OK;
    case WD_CEDAR_E_STRING:
        *ty = &wd_cedar_type_string;
        return WD_OK;
    case WD_CEDAR_E_ENTITY:
        return tc_lit_entity(v, x, ty);
    case WD_CEDAR_E_VAR:
        switch (x->sub) {
        case WD_CEDAR_VAR_PRINCIPAL:
            *ty = v->ptype;
            break;
        case WD_CEDAR_VAR_ACTION:
            *ty = v->atype;
            break;
        case WD_CEDAR_VAR_RESOURCE:
            *ty = v->rtype;
            break;
        default:
            *ty = v->action->context;
            break;
        }
        return WD_OK;
    case WD_CEDAR_E_NOT:
        rc = tc(v, x->u.un.e, c, &t, &ignore);
        if (rc < 0 || t == NULL) {
            return rc;
        }
        if (t->kind == WD_CEDAR_T_TRUE) {
            *ty = &wd_cedar_type_false;
        } else if (t->kind == WD_CEDAR_T_FALSE) {
            *ty = &wd_cedar_type_true;
        } else if (t->kind == WD_CEDAR_T_BOOL) {
            *ty = t;
        } else {
            return unexpected(v, x->u.un.e, "Bool", t);
        }
        return WD_OK;
    case WD_CEDAR_E_NEG:
        rc = tc(v, x->u.un.e, c, &t, &ignore);
        if (rc < 0 || t == NULL) {
            return rc;
        }
        if (t->kind != WD_CEDAR_T_LONG) {
            return unexpected(v, x->u.un.e, "Long", t);
        }
        *ty = t;
        return WD_OK;
    case WD_CEDAR_E_IS_EMPTY:
        rc = tc(v, x->u.un.e, c, &t, &ignore);
        if (rc < 0 || t == NULL) {
            return rc;
        }
        if (t->kind != WD_CEDAR_T_SET) {
            return unexpected(v, x->u.un.e, "a set", t);
        }
        *ty = &wd_cedar_type_bool;
        return WD_OK;
    case WD_CEDAR_E_AND:
        return tc_and(v, x, c, ty, co);
    case WD_CEDAR_E_OR:
        return tc_or(v, x, c, ty, co);
    case WD_CEDAR_E_IF:
        return tc_if(v, x, c, ty, co);
    case WD_CEDAR_E_GETATTR:
        return tc_get_attr(v, x, c, ty);
    case WD_CEDAR_E_HAS:
        return tc_has(v, x, c, ty, co);
    case WD_CEDAR_E_LIKE:
        rc = tc(v, x->u.like.e, c, &t, &ignore);
        if (rc < 0 || t == NULL) {
            return rc;
        }
        if (t->kind != WD_CEDAR_T_STRING) {
            return unexpected(v, x->u.like.e, "String", t);
        }
        *ty = &wd_cedar_type_bool;
        return WD_OK;
    case WD_CEDAR_E_IS:
        if (x->u.is.in != NULL) {
            /* e is T in y  ==  (e is T) && (e in y) */
            struct wd_cedar_expr *is, *in, *conj;
            WD_TRY(mk(v, WD_CEDAR_E_IS, x, &is));
            is->u.is.e = x->u.is.e;
            is->u.is.type = x->u.is.type;
            WD_TRY(mk(v, WD_CEDAR_E_IN, x, &in));
            in->u.bin.l = x->u.is.e;
            in->u.bin.r = x->u.is.in;
            WD_TRY(mk(v, WD_CEDAR_E_AND, x, &conj));
            conj->u.bin.l = is;
            conj->u.bin.r = in;
            return tc(v, conj, c, ty, co);
        }
        rc = tc(v, x->u.is.e, c, &t, &ignore);
        if (rc < 0 || t == NULL) {
            return rc;
        }
        if (t->kind != WD_CEDAR_T_ENTITY) {
            return unexpected(v, x->u.is.e, "an entity", t);
        }
        *ty = bytes_eq(t->name, t->name_len, x->u.is.type->p, x->u.is.type->len)
                      ? &wd_cedar_type_true
                      : &wd_cedar_type_false;
        return WD_OK;
    case WD_CEDAR_E_SET:
        return tc_set(v, x, c, ty);
    case WD_CEDAR_E_RECORD:
        return tc_record(v, x, c, ty);
    case WD_CEDAR_E_EXT:
        return tc_ext(v, x, c, ty);
    default:
        return tc_binary(v, x, c, ty, co);
    }
}

/*
 * The type a failed expression is given so that checking can go on around it (Cedar's
 * "recovery" types): its result type when that does not depend on the failed operands
 * (Bool for tests, Long for arithmetic, an extension function's result type); NULL
 * (unknown: the parent fails without further checks) otherwise.
 */
static const struct wd_cedar_type *recovery_type(const struct wd_cedar_expr *x)
{
    switch (x->kind) {
    case WD_CEDAR_E_NOT:
    case WD_CEDAR_E_AND:
    case WD_CEDAR_E_OR:
    case WD_CEDAR_E_EQ:
    case WD_CEDAR_E_NE:
    case WD_CEDAR_E_LT:
    case WD_CEDAR_E_LE:
    case WD_CEDAR_E_GT:
    case WD_CEDAR_E_GE:
    case WD_CEDAR_E_IN:
    case WD_CEDAR_E_CONTAINS:
    case WD_CEDAR_E_CONTAINS_ALL:
    case WD_CEDAR_E_CONTAINS_ANY:
    case WD_CEDAR_E_HAS_TAG:
    case WD_CEDAR_E_IS_EMPTY:
    case WD_CEDAR_E_HAS:
    case WD_CEDAR_E_LIKE:
    case WD_CEDAR_E_IS:
        return &wd_cedar_type_bool;
    case WD_CEDAR_E_NEG:
    case WD_CEDAR_E_ADD:
    case WD_CEDAR_E_SUB:
    case WD_CEDAR_E_MUL:
        return &wd_cedar_type_long;
    case WD_CEDAR_E_EXT:
        switch (x->sub) {
        case WD_CEDAR_EXT_IP:
            return &wd_cedar_type_ipaddr;
        case WD_CEDAR_EXT_DECIMAL:
            return &wd_cedar_type_decimal;
        case WD_CEDAR_EXT_DATETIME:
        case WD_CEDAR_EXT_OFFSET:
        case WD_CEDAR_EXT_TO_DATE:
            return &wd_cedar_type_datetime;
        case WD_CEDAR_EXT_DURATION:
        case WD_CEDAR_EXT_DURATION_SINCE:
        case WD_CEDAR_EXT_TO_TIME:
            return &wd_cedar_type_duration;
        case WD_CEDAR_EXT_TO_DAYS:
        case WD_CEDAR_EXT_TO_HOURS:
        case WD_CEDAR_EXT_TO_MINUTES:
        case WD_CEDAR_EXT_TO_SECONDS:
        case WD_CEDAR_EXT_TO_MILLISECONDS:
            return &wd_cedar_type_long;
        default:
            return &wd_cedar_type_bool;
        }
    default:
        return NULL;
    }
}

/*
 * Type-check x. WD_OK with *ty set; TC_ERR when x or a subexpression has a type error
 * (recorded with tc_fail), with *ty its recovery type or NULL, and no capabilities;
 * < 0 for WD_ENOMEM. Checking continues around errors so that all of them are reported:
 * the callee functions use a failed operand's recovery type as its type, and this wrapper
 * turns their result into TC_ERR whenever an error was recorded inside x.
 */
static int tc(struct vctx *v, const struct wd_cedar_expr *x, struct caps c,
              const struct wd_cedar_type **ty, struct caps *co)
{
    size_t before = v->nfail;
    *ty = NULL;
    int rc = tc_kind(v, x, c, ty, co);
    if (rc < 0) {
        return rc;
    }
    if (rc == TC_ERR || v->nfail != before) {
        if (rc == TC_ERR && *ty == NULL) {
            *ty = recovery_type(x);
        }
        *co = no_caps;
        return TC_ERR;
    }
    return WD_OK;
}

/* ---------------------------------------------------------------------------------------
 * Policies
 * ------------------------------------------------------------------------------------- */

/* The scope constraint of var as an expression (NULL: no constraint, i.e. `true`). */
static int scope_expr(struct vctx *v, const struct wd_cedar_scope *sc, enum wd_cedar_var var,
                      const struct wd_cedar_expr **out)
{
    struct wd_cedar_expr *vx, *lit = NULL, *x = NULL;
    *out = NULL;
    if (sc->op == WD_CEDAR_SCOPE_ANY) {
        return WD_OK;
    }
    struct wd_cedar_expr at = {.line = sc->line, .col = sc->col};
    WD_TRY(mk(v, WD_CEDAR_E_VAR, &at, &vx));
    vx->sub = (uint8_t)var;
    if (sc->euid != NULL) {
        WD_TRY(mk(v, WD_CEDAR_E_ENTITY, &at, &lit));
        lit->u.euid = sc->euid;
    }
    switch (sc->op) {
    case WD_CEDAR_SCOPE_EQ:
    case WD_CEDAR_SCOPE_IN:
        if (sc->slot) {
            /* A template slot can be linked to any entity: the constraint is some Bool. */
            *out = NULL;
            return WD_OK;
        }
        WD_TRY(mk(v, sc->op == WD_CEDAR_SCOPE_EQ ? WD_CEDAR_E_EQ : WD_CEDAR_E_IN, &at, &x));
        x->u.bin.l = vx;
        x->u.bin.r = lit;
        break;
    case WD_CEDAR_SCOPE_IS:
    case WD_CEDAR_SCOPE_IS_IN:
        WD_TRY(mk(v, WD_CEDAR_E_IS, &at, &x));
        x->u.is.e = vx;
        x->u.is.type = sc->type;
        if (sc->op == WD_CEDAR_SCOPE_IS_IN && !sc->slot) {
            x->u.is.in = lit;
        }
        break;
    case WD_CEDAR_SCOPE_IN_SET: {
        struct wd_cedar_expr *set;
        const struct wd_cedar_expr **items = NULL;
        WD_TRY(mk(v, WD_CEDAR_E_SET, &at, &set));
        if (sc->n > 0) {
            WD_TRY(wd_cedar_pool_alloc(&v->ppool, sc->n * sizeof(const struct wd_cedar_expr *),
                                       (void **)&items));
        }
        for (uint32_t i = 0; i < sc->n; i++) {
            struct wd_cedar_expr *e;
            WD_TRY(mk(v, WD_CEDAR_E_ENTITY, &at, &e));
            e->u.euid = sc->euids[i];
            items[i] = e;
        }
        set->u.list.items = items;
        set->u.list.n = sc->n;
        WD_TRY(mk(v, WD_CEDAR_E_IN, &at, &x));
        x->u.bin.l = vx;
        x->u.bin.r = set;
        break;
    }
    default:
        return WD_OK;
    }
    *out = x;
    return WD_OK;
}

/*
 * The policy as the list of its conjuncts: scopes, then conditions (`unless` negated).
 * The conjunction is checked iteratively (tc_chain), so a policy with very many
 * conditions does not recurse deeply.
 */
struct chain {
    const struct wd_cedar_expr **x;
    uint32_t n;
};

static int policy_chain(struct vctx *v, const struct wd_cedar_policy *p, struct chain *out)
{
    const struct wd_cedar_expr **x;
    uint32_t n = 0;
    WD_TRY(wd_cedar_pool_alloc(&v->ppool,
                               ((size_t)p->nconds + 3) * sizeof(const struct wd_cedar_expr *),
                               (void **)&x));
    const struct wd_cedar_scope *sc[3] = {&p->principal, &p->action, &p->resource};
    const enum wd_cedar_var vars[3] = {WD_CEDAR_VAR_PRINCIPAL, WD_CEDAR_VAR_ACTION,
                                       WD_CEDAR_VAR_RESOURCE};
    for (int i = 0; i < 3; i++) {
        const struct wd_cedar_expr *e;
        WD_TRY(scope_expr(v, sc[i], vars[i], &e));
        if (e != NULL) {
            x[n++] = e;
        }
    }
    for (uint32_t i = 0; i < p->nconds; i++) {
        const struct wd_cedar_cond *cd = &p->conds[i];
        if (cd->unless) {
            struct wd_cedar_expr *neg;
            WD_TRY(mk(v, WD_CEDAR_E_NOT, cd->expr, &neg));
            neg->u.un.e = cd->expr;
            x[n++] = neg;
        } else {
            x[n++] = cd->expr;
        }
    }
    out->x = x;
    out->n = n;
    return WD_OK;
}

/*
 * x₁ && (x₂ && (... && true)): False as soon as a conjunct is False (later ones unchecked);
 * otherwise True when all are True, else Bool. Capabilities accumulate left to right.
 */
static int tc_chain(struct vctx *v, const struct chain *ch, const struct wd_cedar_type **ty)
{
    struct caps c = no_caps;
    bool all_true = true, bad = false;
    for (uint32_t i = 0; i < ch->n; i++) {
        const struct wd_cedar_type *t = NULL;
        struct caps ci;
        int rc = tc(v, ch->x[i], c, &t, &ci);
        if (rc < 0) {
            return rc;
        }
        /* A failed conjunct is used with its recovery type if it has one (False still
           ends the chain, as in Cedar), else counts as some Bool; the later conjuncts are
           still checked. */
        if (rc != WD_OK) {
            bad = true;
            all_true = false;
            if (t != NULL && t->kind == WD_CEDAR_T_FALSE) {
                return TC_ERR;
            }
            if (t != NULL && !is_boolish(t)) {
                (void)unexpected(v, ch->x[i], "Bool", t);
            }
            continue;
        }
        if (!is_boolish(t)) {
            (void)unexpected(v, ch->x[i], "Bool", t);
            bad = true;
            continue;
        }
        if (t->kind == WD_CEDAR_T_FALSE) {
            if (bad) {
                return TC_ERR;
            }
            *ty = t;
            return WD_OK;
        }
        if (t->kind != WD_CEDAR_T_TRUE) {
            all_true = false;
        }
        WD_TRY(caps_union(v, c, ci, &c));
    }
    if (bad) {
        return TC_ERR;
    }
    *ty = all_true ? &wd_cedar_type_true : &wd_cedar_type_bool;
    return WD_OK;
}

/* ---- the separate passes (entity types, action ids, enum ids, action application) ---- */

typedef int (*euid_fn)(struct vctx *v, const struct wd_cedar_euid *u, unsigned line, unsigned col);
typedef int (*type_fn)(struct vctx *v, const struct wd_cedar_sym *type, unsigned line,
                       unsigned col);

static int walk_expr(struct vctx *v, const struct wd_cedar_expr *x, euid_fn fe, type_fn ft)
{
    switch (x->kind) {
    case WD_CEDAR_E_ENTITY:
        return fe(v, x->u.euid, x->line, x->col);
    case WD_CEDAR_E_BOOL:
    case WD_CEDAR_E_LONG:
    case WD_CEDAR_E_STRING:
    case WD_CEDAR_E_VAR:
        return WD_OK;
    case WD_CEDAR_E_NOT:
    case WD_CEDAR_E_NEG:
    case WD_CEDAR_E_IS_EMPTY:
        return walk_expr(v, x->u.un.e, fe, ft);
    case WD_CEDAR_E_IF:
        WD_TRY(walk_expr(v, x->u.ite.cond, fe, ft));
        WD_TRY(walk_expr(v, x->u.ite.then_, fe, ft));
        return walk_expr(v, x->u.ite.else_, fe, ft);
    case WD_CEDAR_E_GETATTR:
        return walk_expr(v, x->u.attr.e, fe, ft);
    case WD_CEDAR_E_HAS:
        return walk_expr(v, x->u.has.e, fe, ft);
    case WD_CEDAR_E_LIKE:
        return walk_expr(v, x->u.like.e, fe, ft);
    case WD_CEDAR_E_IS:
        WD_TRY(walk_expr(v, x->u.is.e, fe, ft));
        if (ft != NULL) {
            WD_TRY(ft(v, x->u.is.type, x->line, x->col));
        }
        return x->u.is.in != NULL ? walk_expr(v, x->u.is.in, fe, ft) : WD_OK;
    case WD_CEDAR_E_SET:
    case WD_CEDAR_E_EXT:
        for (uint32_t i = 0; i < x->u.list.n; i++) {
            WD_TRY(walk_expr(v, x->u.list.items[i], fe, ft));
        }
        return WD_OK;
    case WD_CEDAR_E_RECORD:
        for (uint32_t i = 0; i < x->u.rec.n; i++) {
            WD_TRY(walk_expr(v, x->u.rec.vals[i], fe, ft));
        }
        return WD_OK;
    default:
        WD_TRY(walk_expr(v, x->u.bin.l, fe, ft));
        return walk_expr(v, x->u.bin.r, fe, ft);
    }
}

static int walk_policy(struct vctx *v, const struct wd_cedar_policy *p, euid_fn fe, type_fn ft)
{
    const struct wd_cedar_scope *sc[3] = {&p->principal, &p->action, &p->resource};
    for (int i = 0; i < 3; i++) {
        if (sc[i]->euid != NULL) {
            WD_TRY(fe(v, sc[i]->euid, sc[i]->line, sc[i]->col));
        }
        for (uint32_t k = 0; k < sc[i]->n; k++) {
            WD_TRY(fe(v, sc[i]->euids[k], sc[i]->line, sc[i]->col));
        }
        if (sc[i]->type != NULL && ft != NULL) {
            WD_TRY(ft(v, sc[i]->type, sc[i]->line, sc[i]->col));
        }
    }
    for (uint32_t i = 0; i < p->nconds; i++) {
        WD_TRY(walk_expr(v, p->conds[i].expr, fe, ft));
    }
    return WD_OK;
}

/* UnrecognizedEntityType: a non-action entity type the schema does not declare. */
static int check_type_name(struct vctx *v, const struct wd_cedar_sym *type, unsigned line,
                           unsigned col)
{
    char b[128], m[200];
    if (wd_cedar_name_is_action(type->p, type->len)
        || wd_cedar_schema_ety(v->s, type->p, type->len) != NULL) {
        return WD_OK;
    }
    (void)snprintf(m, sizeof(m), "unrecognized entity type `%s`",
                   show(b, sizeof(b), type->p, type->len));
    return add_issue(v, WD_CEDAR_V_UNRECOGNIZED_ENTITY_TYPE, false, line, col, m);
}

/* The three uid passes: entity type known, action declared, enumerated id valid. */
static int check_euid(struct vctx *v, const struct wd_cedar_euid *u, unsigned line, unsigned col)
{
    char b1[128], b2[128], m[512];
    WD_TRY(check_type_name(v, u->type, line, col));
    if (wd_cedar_name_is_action(u->type->p, u->type->len)) {
        if (wd_cedar_schema_act(v->s, u->type->p, u->type->len, u->id->p, u->id->len) == NULL) {
            (void)snprintf(m, sizeof(m), "unrecognized action `%s::\"%s\"`",
                           show(b1, sizeof(b1), u->type->p, u->type->len),
                           show(b2, sizeof(b2), u->id->p, u->id->len));
            return add_issue(v, WD_CEDAR_V_UNRECOGNIZED_ACTION, false, line, col, m);
        }
        return WD_OK;
    }
    const struct wd_cedar_ety *e = wd_cedar_schema_ety(v->s, u->type->p, u->type->len);
    if (e != NULL && !wd_cedar_ety_valid_id(e, u->id->p, u->id->len)) {
        (void)snprintf(m, sizeof(m),
                       "entity `%s::\"%s\"` is not one of the ids of enumerated entity type `%s`",
                       show(b1, sizeof(b1), u->type->p, u->type->len),
                       show(b2, sizeof(b2), u->id->p, u->id->len), b1);
        return add_issue(v, WD_CEDAR_V_INVALID_ENUM_ENTITY, false, line, col, m);
    }
    return WD_OK;
}

/* The entity types a principal/resource scope admits (Rust validator, rbac.rs). */
static bool scope_admits(const struct vctx *v, const struct wd_cedar_scope *sc,
                         const struct wd_cedar_ety *e)
{
    switch (sc->op) {
    case WD_CEDAR_SCOPE_ANY:
        return true;
    case WD_CEDAR_SCOPE_EQ:
        return sc->slot || bytes_eq(e->name, e->name_len, sc->euid->type->p, sc->euid->type->len);
    case WD_CEDAR_SCOPE_IN:
    case WD_CEDAR_SCOPE_IS_IN: {
        if (sc->op == WD_CEDAR_SCOPE_IS_IN
            && !bytes_eq(e->name, e->name_len, sc->type->p, sc->type->len)) {
            return false;
        }
        if (sc->slot) {
            return true;
        }
        /* the scope's entity type itself, or a type that can be a descendant of it */
        const struct wd_cedar_sym *t = sc->euid->type;
        if (bytes_eq(e->name, e->name_len, t->p, t->len)) {
            return true;
        }
        const struct wd_cedar_ety *te = wd_cedar_schema_ety(v->s, t->p, t->len);
        return te != NULL && wd_cedar_ety_has_ancestor(e, te);
    }
    case WD_CEDAR_SCOPE_IS:
        return bytes_eq(e->name, e->name_len, sc->type->p, sc->type->len);
    default:
        return false;
    }
}

/* Whether action a satisfies the action scope (== a, in a group, in a list of groups). */
static bool action_admitted(const struct vctx *v, const struct wd_cedar_scope *sc,
                            const struct wd_cedar_act *a)
{
    switch (sc->op) {
    case WD_CEDAR_SCOPE_ANY:
        return true;
    case WD_CEDAR_SCOPE_EQ:
    case WD_CEDAR_SCOPE_IN: {
        const struct wd_cedar_euid *u = sc->euid;
        const struct wd_cedar_act *g =
                wd_cedar_schema_act(v->s, u->type->p, u->type->len, u->id->p, u->id->len);
        if (g == NULL) {
            return false;
        }
        return a == g || (sc->op == WD_CEDAR_SCOPE_IN && wd_cedar_act_has_ancestor(a, g));
    }
    case WD_CEDAR_SCOPE_IN_SET: {
        /* every listed action must be declared, else nothing is admitted */
        bool hit = false;
        for (uint32_t i = 0; i < sc->n; i++) {
            const struct wd_cedar_euid *u = sc->euids[i];
            const struct wd_cedar_act *g =
                    wd_cedar_schema_act(v->s, u->type->p, u->type->len, u->id->p, u->id->len);
            if (g == NULL) {
                return false;
            }
            if (a == g || wd_cedar_act_has_ancestor(a, g)) {
                hit = true;
            }
        }
        return hit;
    }
    default:
        return false;
    }
}

static int check_application(struct vctx *v, const struct wd_cedar_policy *p)
{
    for (uint32_t i = 0; i < v->s->nact; i++) {
        const struct wd_cedar_act *a = v->s->acts[i];
        if (!action_admitted(v, &p->action, a)) {
            continue;
        }
        bool pok = false, rok = false;
        for (uint32_t k = 0; k < a->nprincipals && !pok; k++) {
            pok = scope_admits(v, &p->principal, a->principals[k]);
        }
        for (uint32_t k = 0; k < a->nresources && !rok; k++) {
            rok = scope_admits(v, &p->resource, a->resources[k]);
        }
        if (pok && rok) {
            return WD_OK;
        }
    }
    return add_issue(v, WD_CEDAR_V_INVALID_ACTION_APPLICATION, false, p->line, p->col,
                     "unable to find an applicable action given the policy scope constraints");
}

static int validate_policy(struct vctx *v, const struct wd_cedar_policy *p)
{
    struct chain ch = {NULL, 0};
    bool any_env = false, all_false = true;
    int rc;
    v->pol = p;
    v->first_issue = v->out->n;
    v->action = NULL;
    WD_CHECK(walk_policy(v, p, check_euid, check_type_name));
    WD_CHECK(check_application(v, p));
    WD_CHECK(policy_chain(v, p, &ch));
    for (uint32_t i = 0; i < v->s->nact; i++) {
        const struct wd_cedar_act *a = v->s->acts[i];
        for (uint32_t pi = 0; pi < a->nprincipals; pi++) {
            for (uint32_t ri = 0; ri < a->nresources; ri++) {
                const struct wd_cedar_type *t = NULL;
                wd_cedar_pool_reset(&v->epool);
                v->action = a;
                v->principal = a->principals[pi];
                v->resource = a->resources[ri];
                WD_CHECK(ent_type(v, v->principal->name, v->principal->name_len, &v->ptype));
                WD_CHECK(ent_type(v, v->resource->name, v->resource->name_len, &v->rtype));
                WD_CHECK(ent_type(v, a->type, a->type_len, &v->atype));
                any_env = true;
                rc = tc_chain(v, &ch, &t);
                if (v->nomem < 0) {
                    rc = v->nomem;
                    goto out;
                }
                if (rc == TC_ERR) {
                    all_false = false;
                    continue;
                }
                WD_CHECK(rc);
                if (t->kind != WD_CEDAR_T_FALSE) {
                    all_false = false;
                }
            }
        }
    }
    if (all_false || !any_env) {
        WD_CHECK(add_issue(v, WD_CEDAR_V_IMPOSSIBLE_POLICY, true, p->line, p->col,
                           "policy is impossible: the policy expression evaluates to false for "
                           "all valid requests"));
    }
    rc = WD_OK;
out:
    wd_cedar_pool_reset(&v->ppool);
    wd_cedar_pool_reset(&v->epool);
    return rc;
}

int wd_cedar_validate(const struct wd_cedar_schema *s, const struct wd_cedar_policyset *ps,
                      struct wd_cedar_validation **out)
{
    struct wd_cedar_validation *r;
    struct vctx v;
    int rc;
    WD_ENSURE(s != NULL && ps != NULL && out != NULL, WD_EINVAL);
    *out = NULL;
    r = wd_calloc(1, sizeof(*r));
    if (r == NULL) {
        return WD_ENOMEM;
    }
    memset(&v, 0, sizeof(v));
    v.s = s;
    v.out = r;
    wd_cedar_pool_init(&v.ppool, 0);
    wd_cedar_pool_init(&v.epool, 0);
    for (size_t i = 0; i < wd_cedar_policyset_count(ps); i++) {
        WD_CHECK(validate_policy(&v, wd_cedar_policyset_policy(ps, i)));
    }
    for (size_t i = 0; i < wd_cedar_policyset_template_count(ps); i++) {
        WD_CHECK(validate_policy(&v, wd_cedar_policyset_template(ps, i)));
    }
    *out = r;
    r = NULL;
    rc = WD_OK;
out:
    wd_cedar_pool_cleanup(&v.ppool);
    wd_cedar_pool_cleanup(&v.epool);
    wd_cedar_validation_free(r);
    return rc;
}

size_t wd_cedar_validation_count(const struct wd_cedar_validation *v)
{
    return v == NULL ? 0 : v->n;
}

size_t wd_cedar_validation_error_count(const struct wd_cedar_validation *v)
{
    return v == NULL ? 0 : v->nerrors;
}

const struct wd_cedar_vissue *wd_cedar_validation_issue(const struct wd_cedar_validation *v,
                                                        size_t i)
{
    return v == NULL || i >= v->n ? NULL : &v->issues[i];
}

void wd_cedar_validation_free(struct wd_cedar_validation *v)
{
    if (v == NULL) {
        return;
    }
    wd_free(v->issues);
    wd_free(v);
}
