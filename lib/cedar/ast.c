/*
 * Cedar AST support: the arena, interning, structural equality, extension names, and the
 * policy-set accessors of include/warden/cedar.h. See lib/cedar/ast.h.
 */
#include "cedar/ast.h"

#include <stdalign.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/cedar.h"

/* ---- arena ---- */

struct wd_cedar_arena_chunk {
    struct wd_cedar_arena_chunk *next;
    size_t used;
    size_t cap;
    alignas(16) unsigned char data[];
};

#define ARENA_CHUNK_MIN ((size_t)16 * 1024)

void wd_cedar_arena_init(struct wd_cedar_arena *a, size_t max)
{
    a->head = NULL;
    a->total = 0;
    a->max = max;
}

void wd_cedar_arena_cleanup(struct wd_cedar_arena *a)
{
    if (a == NULL) {
        return;
    }
    struct wd_cedar_arena_chunk *c = a->head;
    while (c != NULL) {
        struct wd_cedar_arena_chunk *next = c->next;
        wd_free(c);
        c = next;
    }
    a->head = NULL;
    a->total = 0;
}

int wd_cedar_arena_alloc(struct wd_cedar_arena *a, size_t n, void **out)
{
    *out = NULL;
    /* Round up to 16 so every block stays aligned; guard the rounding against overflow. */
    WD_ENSURE(n <= SIZE_MAX / 2, WD_ELIMIT);
    size_t need = (n + 15u) & ~(size_t)15u;
    if (need == 0) {
        need = 16;
    }
    WD_ENSURE(a->max == 0 || (need <= a->max && a->total <= a->max - need), WD_ELIMIT);
    struct wd_cedar_arena_chunk *c = a->head;
    if (c == NULL || c->cap - c->used < need) {
        size_t cap = need > ARENA_CHUNK_MIN ? need : ARENA_CHUNK_MIN;
        /* Grow chunk sizes with the arena (up to 1 MiB) to keep the chunk count small. */
        if (c != NULL && c->cap * 2 > cap && c->cap < ((size_t)1 << 20)) {
            cap = c->cap * 2 > need ? c->cap * 2 : need;
        }
        struct wd_cedar_arena_chunk *nc = wd_malloc(sizeof(*nc) + cap);
        WD_ENSURE(nc != NULL, WD_ENOMEM);
        nc->used = 0;
        nc->cap = cap;
        nc->next = a->head;
        a->head = nc;
        c = nc;
    }
    void *p = c->data + c->used;
    memset(p, 0, need);
    c->used += need;
    a->total += need;
    *out = p;
    return WD_OK;
}

/* ---- hashing and interning ---- */

uint32_t wd_cedar_hash(const void *p, size_t len)
{
    /* FNV-1a, 32-bit. */
    const unsigned char *s = p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= s[i];
        h *= 16777619u;
    }
    return h;
}

int wd_cedar_ps_new(struct wd_cedar_policyset **out)
{
    struct wd_cedar_policyset *ps = wd_calloc(1, sizeof(*ps));
    *out = NULL;
    WD_ENSURE(ps != NULL, WD_ENOMEM);
    wd_cedar_arena_init(&ps->arena, WD_CEDAR_MAX_ARENA);
    ps->max_nodes = WD_CEDAR_MAX_NODES;
    *out = ps;
    return WD_OK;
}

void wd_cedar_policyset_free(struct wd_cedar_policyset *ps)
{
    if (ps == NULL) {
        return;
    }
    wd_cedar_arena_cleanup(&ps->arena);
    wd_free(ps->policies);
    wd_free(ps->templates);
    wd_free(ps->syms);
    wd_free(ps->euids);
    wd_free(ps);
}

int wd_cedar_ps_alloc(struct wd_cedar_policyset *ps, size_t n, void **out)
{
    return wd_cedar_arena_alloc(&ps->arena, n, out);
}

/* Grow an open-addressing table of pointers to twice its size (or 64). */
static int table_grow(void ***tab, uint32_t *cap, uint32_t (*hash_of)(const void *))
{
    uint32_t ncap = *cap == 0 ? 64 : *cap * 2;
    WD_ENSURE(ncap != 0 && ncap <= (1u << 30), WD_ELIMIT);
    void **nt = wd_calloc(ncap, sizeof(*nt));
    WD_ENSURE(nt != NULL, WD_ENOMEM);
    for (uint32_t i = 0; i < *cap; i++) {
        void *e = (*tab)[i];
        if (e == NULL) {
            continue;
        }
        uint32_t j = hash_of(e) & (ncap - 1);
        while (nt[j] != NULL) {
            j = (j + 1) & (ncap - 1);
        }
        nt[j] = e;
    }
    wd_free(*tab);
    *tab = nt;
    *cap = ncap;
    return WD_OK;
}

static uint32_t sym_hash_of(const void *e)
{
    return ((const struct wd_cedar_sym *)e)->hash;
}

static uint32_t euid_hash_of(const void *e)
{
    return ((const struct wd_cedar_euid *)e)->hash;
}

const struct wd_cedar_sym *wd_cedar_sym_find(const struct wd_cedar_policyset *ps, const char *p,
                                             size_t len)
{
    if (ps->cap_syms == 0 || len > UINT32_MAX) {
        return NULL;
    }
    uint32_t h = wd_cedar_hash(p, len);
    uint32_t j = h & (ps->cap_syms - 1);
    while (ps->syms[j] != NULL) {
        const struct wd_cedar_sym *s = ps->syms[j];
        if (s->hash == h && s->len == len && (len == 0 || memcmp(s->p, p, len) == 0)) {
            return s;
        }
        j = (j + 1) & (ps->cap_syms - 1);
    }
    return NULL;
}

int wd_cedar_intern(struct wd_cedar_policyset *ps, const char *p, size_t len,
                    const struct wd_cedar_sym **out)
{
    WD_ENSURE(len <= UINT32_MAX - 1, WD_ELIMIT);
    const struct wd_cedar_sym *found = wd_cedar_sym_find(ps, p, len);
    if (found != NULL) {
        *out = found;
        return WD_OK;
    }
    /* Keep the load factor at or below 1/2. */
    if ((ps->nsyms + 1) * 2 > ps->cap_syms) {
        WD_TRY(table_grow((void ***)&ps->syms, &ps->cap_syms, sym_hash_of));
    }
    void *mem;
    WD_TRY(wd_cedar_arena_alloc(&ps->arena, sizeof(struct wd_cedar_sym) + len + 1, &mem));
    struct wd_cedar_sym *s = mem;
    char *bytes = (char *)(s + 1);
    if (len > 0) {
        memcpy(bytes, p, len);
    }
    bytes[len] = '\0';
    s->p = bytes;
    s->len = (uint32_t)len;
    s->hash = wd_cedar_hash(p, len);
    uint32_t j = s->hash & (ps->cap_syms - 1);
    while (ps->syms[j] != NULL) {
        j = (j + 1) & (ps->cap_syms - 1);
    }
    ps->syms[j] = s;
    ps->nsyms++;
    *out = s;
    return WD_OK;
}

const struct wd_cedar_sym *wd_cedar_sym_find_sym(const struct wd_cedar_policyset *ps,
                                                 const struct wd_cedar_sym *sym)
{
    if (ps->cap_syms == 0) {
        return NULL;
    }
    uint32_t j = sym->hash & (ps->cap_syms - 1);
    while (ps->syms[j] != NULL) {
        const struct wd_cedar_sym *x = ps->syms[j];
        if (wd_cedar_sym_eq(x, sym)) {
            return x;
        }
        j = (j + 1) & (ps->cap_syms - 1);
    }
    return NULL;
}

const struct wd_cedar_euid *wd_cedar_euid_find(const struct wd_cedar_policyset *ps,
                                               const struct wd_cedar_euid *u)
{
    if (ps->cap_euids == 0) {
        return NULL;
    }
    uint32_t j = u->hash & (ps->cap_euids - 1);
    while (ps->euids[j] != NULL) {
        const struct wd_cedar_euid *x = ps->euids[j];
        if (x == u
            || (x->hash == u->hash && wd_cedar_sym_eq(x->id, u->id)
                && wd_cedar_sym_eq(x->type, u->type))) {
            return x;
        }
        j = (j + 1) & (ps->cap_euids - 1);
    }
    return NULL;
}

int wd_cedar_intern_euid(struct wd_cedar_policyset *ps, const struct wd_cedar_sym *type,
                         const struct wd_cedar_sym *id, const struct wd_cedar_euid **out)
{
    uint32_t h = wd_cedar_euid_hash_of(type->hash, id->hash);
    if (ps->cap_euids != 0) {
        uint32_t j = h & (ps->cap_euids - 1);
        while (ps->euids[j] != NULL) {
            const struct wd_cedar_euid *u = ps->euids[j];
            /* Syms are interned in the same set, so pointer equality is content equality. */
            if (u->type == type && u->id == id) {
                *out = u;
                return WD_OK;
            }
            j = (j + 1) & (ps->cap_euids - 1);
        }
    }
    if ((ps->neuids + 1) * 2 > ps->cap_euids) {
        WD_TRY(table_grow((void ***)&ps->euids, &ps->cap_euids, euid_hash_of));
    }
    void *mem;
    WD_TRY(wd_cedar_arena_alloc(&ps->arena, sizeof(struct wd_cedar_euid), &mem));
    struct wd_cedar_euid *u = mem;
    u->type = type;
    u->id = id;
    u->hash = h;
    u->idx = ps->neuids + 1;
    uint32_t j = h & (ps->cap_euids - 1);
    while (ps->euids[j] != NULL) {
        j = (j + 1) & (ps->cap_euids - 1);
    }
    ps->euids[j] = u;
    ps->neuids++;
    *out = u;
    return WD_OK;
}

static int push_policy(const struct wd_cedar_policy ***arr, uint32_t *n, uint32_t *cap,
                       const struct wd_cedar_policy *p)
{
    if (*n == *cap) {
        uint32_t ncap = *cap == 0 ? 16 : *cap * 2;
        WD_ENSURE(ncap > *cap && ncap <= (1u << 28), WD_ELIMIT);
        void *na = wd_reallocarray((void *)*arr, ncap, sizeof(void *));
        WD_ENSURE(na != NULL, WD_ENOMEM);
        *arr = na;
        *cap = ncap;
    }
    (*arr)[(*n)++] = p;
    return WD_OK;
}

int wd_cedar_ps_add(struct wd_cedar_policyset *ps, const struct wd_cedar_policy *p)
{
    if (p->is_template) {
        return push_policy(&ps->templates, &ps->ntemplates, &ps->cap_templates, p);
    }
    return push_policy(&ps->policies, &ps->npolicies, &ps->cap_policies, p);
}

/* ---- extension functions ---- */

static const struct {
    const char *name;
    bool function;
} ext_table[WD_CEDAR_EXT__COUNT] = {
        [WD_CEDAR_EXT_IP] = {"ip", true},
        [WD_CEDAR_EXT_DECIMAL] = {"decimal", true},
        [WD_CEDAR_EXT_DATETIME] = {"datetime", true},
        [WD_CEDAR_EXT_DURATION] = {"duration", true},
        [WD_CEDAR_EXT_LESS_THAN] = {"lessThan", false},
        [WD_CEDAR_EXT_LESS_THAN_OR_EQUAL] = {"lessThanOrEqual", false},
        [WD_CEDAR_EXT_GREATER_THAN] = {"greaterThan", false},
        [WD_CEDAR_EXT_GREATER_THAN_OR_EQUAL] = {"greaterThanOrEqual", false},
        [WD_CEDAR_EXT_IS_IPV4] = {"isIpv4", false},
        [WD_CEDAR_EXT_IS_IPV6] = {"isIpv6", false},
        [WD_CEDAR_EXT_IS_LOOPBACK] = {"isLoopback", false},
        [WD_CEDAR_EXT_IS_MULTICAST] = {"isMulticast", false},
        [WD_CEDAR_EXT_IS_IN_RANGE] = {"isInRange", false},
        [WD_CEDAR_EXT_OFFSET] = {"offset", false},
        [WD_CEDAR_EXT_DURATION_SINCE] = {"durationSince", false},
        [WD_CEDAR_EXT_TO_DATE] = {"toDate", false},
        [WD_CEDAR_EXT_TO_TIME] = {"toTime", false},
        [WD_CEDAR_EXT_TO_DAYS] = {"toDays", false},
        [WD_CEDAR_EXT_TO_HOURS] = {"toHours", false},
        [WD_CEDAR_EXT_TO_MINUTES] = {"toMinutes", false},
        [WD_CEDAR_EXT_TO_SECONDS] = {"toSeconds", false},
        [WD_CEDAR_EXT_TO_MILLISECONDS] = {"toMilliseconds", false},
};

const char *wd_cedar_ext_name(enum wd_cedar_ext fn)
{
    if ((unsigned)fn >= WD_CEDAR_EXT__COUNT) {
        return NULL;
    }
    return ext_table[fn].name;
}

bool wd_cedar_ext_is_function(enum wd_cedar_ext fn)
{
    return (unsigned)fn < WD_CEDAR_EXT__COUNT && ext_table[fn].function;
}

int wd_cedar_ext_lookup(const char *name, size_t len)
{
    for (int i = 0; i < WD_CEDAR_EXT__COUNT; i++) {
        if (strlen(ext_table[i].name) == len && memcmp(ext_table[i].name, name, len) == 0) {
            return i;
        }
    }
    return -1;
}

/* ---- structural equality ---- */

static bool sym_eq_opt(const struct wd_cedar_sym *a, const struct wd_cedar_sym *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return wd_cedar_sym_eq(a, b);
}

static bool euid_eq(const struct wd_cedar_euid *a, const struct wd_cedar_euid *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return wd_cedar_sym_eq(a->type, b->type) && wd_cedar_sym_eq(a->id, b->id);
}

static bool expr_eq_opt(const struct wd_cedar_expr *a, const struct wd_cedar_expr *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return wd_cedar_expr_equal(a, b);
}

bool wd_cedar_expr_equal(const struct wd_cedar_expr *a, const struct wd_cedar_expr *b)
{
    if (a->kind != b->kind || a->sub != b->sub) {
        return false;
    }
    switch ((enum wd_cedar_expr_kind)a->kind) {
    case WD_CEDAR_E_BOOL:
        return a->u.b == b->u.b;
    case WD_CEDAR_E_LONG:
        return a->u.i == b->u.i;
    case WD_CEDAR_E_STRING:
        return wd_cedar_sym_eq(a->u.s, b->u.s);
    case WD_CEDAR_E_ENTITY:
        return euid_eq(a->u.euid, b->u.euid);
    case WD_CEDAR_E_VAR:
        return true;
    case WD_CEDAR_E_NOT:
    case WD_CEDAR_E_NEG:
    case WD_CEDAR_E_IS_EMPTY:
        return wd_cedar_expr_equal(a->u.un.e, b->u.un.e);
    case WD_CEDAR_E_AND:
    case WD_CEDAR_E_OR:
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
        return wd_cedar_expr_equal(a->u.bin.l, b->u.bin.l)
               && wd_cedar_expr_equal(a->u.bin.r, b->u.bin.r);
    case WD_CEDAR_E_IF:
        return wd_cedar_expr_equal(a->u.ite.cond, b->u.ite.cond)
               && wd_cedar_expr_equal(a->u.ite.then_, b->u.ite.then_)
               && wd_cedar_expr_equal(a->u.ite.else_, b->u.ite.else_);
    case WD_CEDAR_E_GETATTR:
        return wd_cedar_sym_eq(a->u.attr.name, b->u.attr.name)
               && wd_cedar_expr_equal(a->u.attr.e, b->u.attr.e);
    case WD_CEDAR_E_HAS:
        if (a->u.has.n != b->u.has.n) {
            return false;
        }
        for (uint32_t i = 0; i < a->u.has.n; i++) {
            if (!wd_cedar_sym_eq(a->u.has.path[i], b->u.has.path[i])) {
                return false;
            }
        }
        return wd_cedar_expr_equal(a->u.has.e, b->u.has.e);
    case WD_CEDAR_E_LIKE: {
        const struct wd_cedar_pattern *pa = a->u.like.pat, *pb = b->u.like.pat;
        if (pa->n != pb->n) {
            return false;
        }
        for (uint32_t i = 0; i < pa->n; i++) {
            const struct wd_cedar_pat_part *x = &pa->parts[i], *y = &pb->parts[i];
            if ((x->p == NULL) != (y->p == NULL) || x->len != y->len
                || (x->len > 0 && x->p != NULL && y->p != NULL
                    && memcmp(x->p, y->p, x->len) != 0)) {
                return false;
            }
        }
        return wd_cedar_expr_equal(a->u.like.e, b->u.like.e);
    }
    case WD_CEDAR_E_IS:
        return wd_cedar_sym_eq(a->u.is.type, b->u.is.type)
               && wd_cedar_expr_equal(a->u.is.e, b->u.is.e) && expr_eq_opt(a->u.is.in, b->u.is.in);
    case WD_CEDAR_E_SET:
    case WD_CEDAR_E_EXT:
        if (a->u.list.n != b->u.list.n) {
            return false;
        }
        for (uint32_t i = 0; i < a->u.list.n; i++) {
            if (!wd_cedar_expr_equal(a->u.list.items[i], b->u.list.items[i])) {
                return false;
            }
        }
        return true;
    case WD_CEDAR_E_RECORD:
        if (a->u.rec.n != b->u.rec.n) {
            return false;
        }
        for (uint32_t i = 0; i < a->u.rec.n; i++) {
            if (!wd_cedar_sym_eq(a->u.rec.keys[i], b->u.rec.keys[i])
                || !wd_cedar_expr_equal(a->u.rec.vals[i], b->u.rec.vals[i])) {
                return false;
            }
        }
        return true;
    case WD_CEDAR_E__COUNT:
        break;
    }
    return false;
}

static bool scope_eq(const struct wd_cedar_scope *a, const struct wd_cedar_scope *b)
{
    if (a->op != b->op || a->slot != b->slot || a->n != b->n || !sym_eq_opt(a->type, b->type)
        || !euid_eq(a->euid, b->euid)) {
        return false;
    }
    for (uint32_t i = 0; i < a->n; i++) {
        if (!euid_eq(a->euids[i], b->euids[i])) {
            return false;
        }
    }
    return true;
}

bool wd_cedar_policy_equal(const struct wd_cedar_policy *a, const struct wd_cedar_policy *b)
{
    if (a->effect != b->effect || a->is_template != b->is_template || a->is_link != b->is_link
        || a->nannos != b->nannos || a->nconds != b->nconds || !wd_cedar_sym_eq(a->id, b->id)) {
        return false;
    }
    for (uint32_t i = 0; i < a->nannos; i++) {
        const struct wd_cedar_annotation *x = &a->annos[i], *y = &b->annos[i];
        if (x->has_value != y->has_value || !wd_cedar_sym_eq(x->key, y->key)
            || !wd_cedar_sym_eq(x->value, y->value)) {
            return false;
        }
    }
    if (!scope_eq(&a->principal, &b->principal) || !scope_eq(&a->action, &b->action)
        || !scope_eq(&a->resource, &b->resource)) {
        return false;
    }
    for (uint32_t i = 0; i < a->nconds; i++) {
        if (a->conds[i].unless != b->conds[i].unless
            || !wd_cedar_expr_equal(a->conds[i].expr, b->conds[i].expr)) {
            return false;
        }
    }
    return true;
}

bool wd_cedar_ast_equal(const struct wd_cedar_policyset *a, const struct wd_cedar_policyset *b)
{
    if (a->npolicies != b->npolicies || a->ntemplates != b->ntemplates) {
        return false;
    }
    for (uint32_t i = 0; i < a->npolicies; i++) {
        if (!wd_cedar_policy_equal(a->policies[i], b->policies[i])) {
            return false;
        }
    }
    for (uint32_t i = 0; i < a->ntemplates; i++) {
        if (!wd_cedar_policy_equal(a->templates[i], b->templates[i])) {
            return false;
        }
    }
    return true;
}

/* ---- public accessors ---- */

size_t wd_cedar_policyset_count(const struct wd_cedar_policyset *ps)
{
    return ps->npolicies;
}

size_t wd_cedar_policyset_template_count(const struct wd_cedar_policyset *ps)
{
    return ps->ntemplates;
}

const struct wd_cedar_policy *wd_cedar_policyset_policy(const struct wd_cedar_policyset *ps,
                                                        size_t i)
{
    return i < ps->npolicies ? ps->policies[i] : NULL;
}

const struct wd_cedar_policy *wd_cedar_policyset_template(const struct wd_cedar_policyset *ps,
                                                          size_t i)
{
    return i < ps->ntemplates ? ps->templates[i] : NULL;
}

const struct wd_cedar_policy *wd_cedar_policyset_find(const struct wd_cedar_policyset *ps,
                                                      const char *id)
{
    const struct wd_cedar_sym *s = wd_cedar_sym_find(ps, id, strlen(id));
    if (s == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < ps->npolicies; i++) {
        if (ps->policies[i]->id == s) {
            return ps->policies[i];
        }
    }
    for (uint32_t i = 0; i < ps->ntemplates; i++) {
        if (ps->templates[i]->id == s) {
            return ps->templates[i];
        }
    }
    return NULL;
}

const char *wd_cedar_policy_id(const struct wd_cedar_policy *p)
{
    return p->id->p;
}

bool wd_cedar_policy_is_forbid(const struct wd_cedar_policy *p)
{
    return p->effect == WD_CEDAR_FORBID;
}

bool wd_cedar_policy_is_template(const struct wd_cedar_policy *p)
{
    return p->is_template;
}

bool wd_cedar_policy_is_link(const struct wd_cedar_policy *p)
{
    return p->is_link;
}

unsigned wd_cedar_policy_line(const struct wd_cedar_policy *p)
{
    return p->is_link ? 0 : p->line;
}

const char *wd_cedar_policy_annotation(const struct wd_cedar_policy *p, const char *key,
                                       size_t *len_out)
{
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < p->nannos; i++) {
        const struct wd_cedar_annotation *a = &p->annos[i];
        if (a->key->len == klen && memcmp(a->key->p, key, klen) == 0) {
            if (len_out != NULL) {
                *len_out = a->value->len;
            }
            return a->value->p;
        }
    }
    return NULL;
}

bool wd_cedar_policy_is_observer(const struct wd_cedar_policy *p)
{
    return p != NULL && p->observer;
}

size_t wd_cedar_policyset_observer_count(const struct wd_cedar_policyset *ps)
{
    size_t n = 0;
    for (uint32_t i = 0; ps != NULL && i < ps->npolicies; i++) {
        n += ps->policies[i]->observer ? 1 : 0;
    }
    return n;
}

int wd_cedar_policy_observer(const struct wd_cedar_policy *p, struct wd_cedar_observer_info *out)
{
    WD_ENSURE(p != NULL && out != NULL && p->observer && p->obs != NULL, WD_EINVAL);
    const struct wd_cedar_observer *o = p->obs;
    memset(out, 0, sizeof(*out));
    out->tag = o->tag->p;
    out->tag_len = o->tag->len;
    out->ttl_ms = o->ttl_ms;
    switch (o->subject) {
    case WD_CEDAR_OBS_RESOURCE:
        out->subject = WD_CEDAR_SUBJECT_RESOURCE;
        break;
    case WD_CEDAR_OBS_LITERAL:
        out->subject = WD_CEDAR_SUBJECT_ENTITY;
        out->subject_type = o->subject_uid->type->p;
        out->subject_type_len = o->subject_uid->type->len;
        out->subject_id = o->subject_uid->id->p;
        out->subject_id_len = o->subject_uid->id->len;
        break;
    default:
        out->subject = WD_CEDAR_SUBJECT_PRINCIPAL;
        break;
    }
    return WD_OK;
}
