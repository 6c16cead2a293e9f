/*
 * Cedar schemas: the pool, the type model, lookups, and wd_cedar_schema_build, which turns
 * the raw declarations of either schema format into the resolved model of schema.h.
 *
 * Name resolution follows Cedar 4 (RFC 24 "referring to types in the empty namespace" and
 * the schema documentation, checked against @cedar-policy/cedar-wasm 4.13):
 *   - a type name written without `::` inside namespace NS means NS::name if NS declares
 *     it (common type first, then entity type), else name in the empty namespace (common,
 *     then entity), else the builtin __cedar::name (Long String Bool ipaddr decimal
 *     datetime duration);
 *   - a qualified name A::B is taken as written (common, then entity, then __cedar::X);
 *   - positions that need an entity type (memberOfTypes, appliesTo) only look at entity
 *     types, JSON {"type": "X"} only at common types and builtins;
 *   - action references resolve like names: Action::"x" / "x" inside NS mean
 *     NS::Action::"x" if declared, else Action::"x".
 * A declaration in a namespace may not shadow one of the same name in the empty namespace,
 * common types may not use the names of builtin type keywords, entity types may not be
 * called Action, and no name may use the reserved __cedar namespace.
 */
#include "cedar/schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/file.h"

/* ---------------------------------------------------------------------------------------
 * Pool
 * ------------------------------------------------------------------------------------- */

struct wd_cedar_pool_chunk {
    struct wd_cedar_pool_chunk *next;
    size_t size; /* usable bytes after the header */
    size_t off;
    /* data follows, 16-byte aligned */
};

#define POOL_HDR   ((sizeof(struct wd_cedar_pool_chunk) + 15u) & ~(size_t)15u)
#define POOL_CHUNK ((size_t)16384)

void wd_cedar_pool_init(struct wd_cedar_pool *p, size_t max)
{
    p->head = NULL;
    p->used = 0;
    p->max = max;
}

void wd_cedar_pool_cleanup(struct wd_cedar_pool *p)
{
    if (p == NULL) {
        return;
    }
    struct wd_cedar_pool_chunk *c = p->head;
    while (c != NULL) {
        struct wd_cedar_pool_chunk *next = c->next;
        wd_free(c);
        c = next;
    }
    p->head = NULL;
    p->used = 0;
}

void wd_cedar_pool_reset(struct wd_cedar_pool *p)
{
    if (p == NULL || p->head == NULL) {
        return;
    }
    struct wd_cedar_pool_chunk *c = p->head->next;
    while (c != NULL) {
        struct wd_cedar_pool_chunk *next = c->next;
        wd_free(c);
        c = next;
    }
    p->head->next = NULL;
    p->head->off = 0;
    p->used = 0;
}

int wd_cedar_pool_alloc(struct wd_cedar_pool *p, size_t n, void **out)
{
    size_t need = (n + 15u) & ~(size_t)15u;
    if (need < n) {
        return WD_ELIMIT;
    }
    if (need == 0) {
        need = 16;
    }
    if (p->max != 0 && (need > p->max || p->used > p->max - need)) {
        return WD_ELIMIT;
    }
    struct wd_cedar_pool_chunk *c = p->head;
    if (c == NULL || c->size - c->off < need) {
        size_t size = need > POOL_CHUNK / 2 ? need : POOL_CHUNK;
        if (size > SIZE_MAX - POOL_HDR) {
            return WD_ELIMIT;
        }
        c = wd_malloc(POOL_HDR + size);
        if (c == NULL) {
            return WD_ENOMEM;
        }
        c->size = size;
        c->off = 0;
        if (need > POOL_CHUNK / 2 && p->head != NULL) {
            /* A big block gets its own chunk behind the current one, which keeps its
               free space for the small blocks that follow. */
            c->next = p->head->next;
            p->head->next = c;
        } else {
            c->next = p->head;
            p->head = c;
        }
    }
    void *r = (char *)c + POOL_HDR + c->off;
    c->off += need;
    p->used += need;
    memset(r, 0, need);
    *out = r;
    return WD_OK;
}

int wd_cedar_pool_strdup(struct wd_cedar_pool *p, const char *s, size_t n, const char **out)
{
    char *d;
    WD_ENSURE(n < SIZE_MAX, WD_ELIMIT);
    WD_TRY(wd_cedar_pool_alloc(p, n + 1, (void **)&d));
    if (n > 0) {
        memcpy(d, s, n);
    }
    d[n] = '\0';
    *out = d;
    return WD_OK;
}

/* ---------------------------------------------------------------------------------------
 * Types
 * ------------------------------------------------------------------------------------- */

const struct wd_cedar_type wd_cedar_type_bool = {.kind = WD_CEDAR_T_BOOL};
const struct wd_cedar_type wd_cedar_type_true = {.kind = WD_CEDAR_T_TRUE};
const struct wd_cedar_type wd_cedar_type_false = {.kind = WD_CEDAR_T_FALSE};
const struct wd_cedar_type wd_cedar_type_long = {.kind = WD_CEDAR_T_LONG};
const struct wd_cedar_type wd_cedar_type_string = {.kind = WD_CEDAR_T_STRING};
const struct wd_cedar_type wd_cedar_type_ipaddr = {.kind = WD_CEDAR_T_IPADDR};
const struct wd_cedar_type wd_cedar_type_decimal = {.kind = WD_CEDAR_T_DECIMAL};
const struct wd_cedar_type wd_cedar_type_datetime = {.kind = WD_CEDAR_T_DATETIME};
const struct wd_cedar_type wd_cedar_type_duration = {.kind = WD_CEDAR_T_DURATION};
const struct wd_cedar_type wd_cedar_type_empty_record = {.kind = WD_CEDAR_T_RECORD};

/* Byte-wise order of two names (shorter first on a common prefix), as records sort. */
static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n > 0 ? memcmp(a, b, n) : 0;
    if (c != 0) {
        return c;
    }
    return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

static bool bytes_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

const struct wd_cedar_rattr *wd_cedar_type_attr(const struct wd_cedar_type *rec, const char *name,
                                                size_t len)
{
    if (rec == NULL || rec->kind != WD_CEDAR_T_RECORD) {
        return NULL;
    }
    size_t lo = 0, hi = rec->nattrs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct wd_cedar_rattr *a = &rec->attrs[mid];
        int c = name_cmp(a->name, a->len, name, len);
        if (c == 0) {
            return a;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

bool wd_cedar_type_eq(const struct wd_cedar_type *a, const struct wd_cedar_type *b)
{
    if (a == b) {
        return true;
    }
    if (a->kind != b->kind) {
        return false;
    }
    switch (a->kind) {
    case WD_CEDAR_T_ENTITY:
        return bytes_eq(a->name, a->name_len, b->name, b->name_len);
    case WD_CEDAR_T_SET:
        return wd_cedar_type_eq(a->elem, b->elem);
    case WD_CEDAR_T_RECORD:
        if (a->nattrs != b->nattrs) {
            return false;
        }
        for (uint32_t i = 0; i < a->nattrs; i++) {
            const struct wd_cedar_rattr *x = &a->attrs[i], *y = &b->attrs[i];
            if (x->required != y->required || !bytes_eq(x->name, x->len, y->name, y->len)
                || !wd_cedar_type_eq(x->type, y->type)) {
                return false;
            }
        }
        return true;
    default:
        return true;
    }
}

static int print_name(struct wd_buf *out, const char *p, size_t n)
{
    /* Attribute names that are not identifiers are quoted, as Cedar prints them. */
    if (wd_cedar_schema_is_ident(p, n)) {
        return wd_buf_append(out, p, n);
    }
    WD_TRY(wd_buf_append_byte(out, '"'));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') {
            WD_TRY(wd_buf_append_byte(out, '\\'));
            WD_TRY(wd_buf_append_byte(out, c));
        } else if (c < 0x20 || c == 0x7f) {
            WD_TRY(wd_buf_printf(out, "\\u{%x}", c));
        } else {
            WD_TRY(wd_buf_append_byte(out, c));
        }
    }
    return wd_buf_append_byte(out, '"');
}

int wd_cedar_type_print(const struct wd_cedar_type *t, struct wd_buf *out)
{
    switch (t->kind) {
    case WD_CEDAR_T_BOOL:
        return wd_buf_append_str(out, "Bool");
    case WD_CEDAR_T_TRUE:
        return wd_buf_append_str(out, "__cedar::internal::True");
    case WD_CEDAR_T_FALSE:
        return wd_buf_append_str(out, "__cedar::internal::False");
    case WD_CEDAR_T_LONG:
        return wd_buf_append_str(out, "Long");
    case WD_CEDAR_T_STRING:
        return wd_buf_append_str(out, "String");
    case WD_CEDAR_T_ENTITY:
        return wd_buf_append(out, t->name, t->name_len);
    case WD_CEDAR_T_SET:
        WD_TRY(wd_buf_append_str(out, "Set<"));
        WD_TRY(wd_cedar_type_print(t->elem, out));
        return wd_buf_append_byte(out, '>');
    case WD_CEDAR_T_RECORD:
        WD_TRY(wd_buf_append_byte(out, '{'));
        for (uint32_t i = 0; i < t->nattrs; i++) {
            const struct wd_cedar_rattr *a = &t->attrs[i];
            if (i > 0) {
                WD_TRY(wd_buf_append_str(out, ", "));
            }
            WD_TRY(print_name(out, a->name, a->len));
            WD_TRY(wd_buf_append_str(out, a->required ? ": " : "?: "));
            WD_TRY(wd_cedar_type_print(a->type, out));
        }
        return wd_buf_append_byte(out, '}');
    case WD_CEDAR_T_IPADDR:
        return wd_buf_append_str(out, "ipaddr");
    case WD_CEDAR_T_DECIMAL:
        return wd_buf_append_str(out, "decimal");
    case WD_CEDAR_T_DATETIME:
        return wd_buf_append_str(out, "datetime");
    case WD_CEDAR_T_DURATION:
        return wd_buf_append_str(out, "duration");
    default:
        return wd_buf_append_str(out, "?");
    }
}

/* ---------------------------------------------------------------------------------------
 * Names
 * ------------------------------------------------------------------------------------- */

bool wd_cedar_schema_is_ident(const char *p, size_t n)
{
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9')) {
            return false;
        }
    }
    return true;
}

bool wd_cedar_schema_is_reserved(const char *p, size_t n)
{
    static const char *const words[] = {"true", "false", "if",   "then", "else",
                                        "in",   "is",    "like", "has"};
    for (size_t i = 0; i < WD_ARRAY_LEN(words); i++) {
        if (bytes_eq(p, n, words[i], strlen(words[i]))) {
            return true;
        }
    }
    return false;
}

bool wd_cedar_name_is_action(const char *name, size_t len)
{
    /* the last `::`-separated component is "Action" */
    if (len < 6 || memcmp(name + len - 6, "Action", 6) != 0) {
        return false;
    }
    return len == 6 || (len >= 8 && name[len - 7] == ':' && name[len - 8] == ':');
}

static bool has_qualifier(const char *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] == ':' && p[i + 1] == ':') {
            return true;
        }
    }
    return false;
}

/* Whether any `::` component of p is exactly "__cedar". */
static bool uses_cedar_ns(const char *p, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || (p[i] == ':' && i + 1 < n && p[i + 1] == ':')) {
            if (bytes_eq(p + start, i - start, "__cedar", 7)) {
                return true;
            }
            start = i + 2;
            i++;
        }
    }
    return false;
}

/* ---------------------------------------------------------------------------------------
 * Lookups on a built schema
 * ------------------------------------------------------------------------------------- */

static uint32_t hash_bytes(uint32_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
}

static uint32_t hash2(const char *a, size_t alen, const char *b, size_t blen)
{
    uint32_t h = hash_bytes(2166136261u, a, alen);
    h ^= 0xffu; /* separator that no name byte sequence can imitate position-wise */
    h *= 16777619u;
    return hash_bytes(h, b, blen);
}

const struct wd_cedar_ety *wd_cedar_schema_ety(const struct wd_cedar_schema *s, const char *name,
                                               size_t len)
{
    if (s == NULL || s->ety_cap == 0) {
        return NULL;
    }
    uint32_t mask = s->ety_cap - 1;
    for (uint32_t i = hash2(name, len, "", 0) & mask;; i = (i + 1) & mask) {
        const struct wd_cedar_ety *e = s->ety_tab[i];
        if (e == NULL) {
            return NULL;
        }
        if (bytes_eq(e->name, e->name_len, name, len)) {
            return e;
        }
    }
}

const struct wd_cedar_act *wd_cedar_schema_act(const struct wd_cedar_schema *s, const char *type,
                                               size_t tlen, const char *id, size_t idlen)
{
    if (s == NULL || s->act_cap == 0) {
        return NULL;
    }
    uint32_t mask = s->act_cap - 1;
    for (uint32_t i = hash2(type, tlen, id, idlen) & mask;; i = (i + 1) & mask) {
        const struct wd_cedar_act *a = s->act_tab[i];
        if (a == NULL) {
            return NULL;
        }
        if (bytes_eq(a->type, a->type_len, type, tlen) && bytes_eq(a->id, a->id_len, id, idlen)) {
            return a;
        }
    }
}

bool wd_cedar_schema_is_action_type(const struct wd_cedar_schema *s, const char *type, size_t tlen)
{
    for (uint32_t i = 0; s != NULL && i < s->nact; i++) {
        if (bytes_eq(s->acts[i]->type, s->acts[i]->type_len, type, tlen)) {
            return true;
        }
    }
    return false;
}

bool wd_cedar_ety_has_ancestor(const struct wd_cedar_ety *a, const struct wd_cedar_ety *anc)
{
    for (uint32_t i = 0; i < a->nancestors; i++) {
        if (a->ancestors[i] == anc) {
            return true;
        }
    }
    return false;
}

bool wd_cedar_act_has_ancestor(const struct wd_cedar_act *a, const struct wd_cedar_act *anc)
{
    for (uint32_t i = 0; i < a->nancestors; i++) {
        if (a->ancestors[i] == anc) {
            return true;
        }
    }
    return false;
}

bool wd_cedar_ety_valid_id(const struct wd_cedar_ety *e, const char *id, size_t len)
{
    if (!e->is_enum) {
        return true;
    }
    for (uint32_t i = 0; i < e->nchoices; i++) {
        if (bytes_eq(e->choices[i], e->choice_lens[i], id, len)) {
            return true;
        }
    }
    return false;
}

/* ---------------------------------------------------------------------------------------
 * Public accessors
 * ------------------------------------------------------------------------------------- */

void wd_cedar_schema_free(struct wd_cedar_schema *s)
{
    if (s == NULL) {
        return;
    }
    struct wd_cedar_pool pool = s->pool; /* s itself lives in its pool */
    wd_cedar_pool_cleanup(&pool);
}

size_t wd_cedar_schema_entity_type_count(const struct wd_cedar_schema *s)
{
    return s == NULL ? 0 : s->nety;
}

const char *wd_cedar_schema_entity_type_name(const struct wd_cedar_schema *s, size_t i)
{
    return s == NULL || i >= s->nety ? NULL : s->etys[i]->name;
}

size_t wd_cedar_schema_action_count(const struct wd_cedar_schema *s)
{
    return s == NULL ? 0 : s->nact;
}

const char *wd_cedar_schema_action_type(const struct wd_cedar_schema *s, size_t i, size_t *len_out)
{
    if (s == NULL || i >= s->nact) {
        return NULL;
    }
    if (len_out != NULL) {
        *len_out = s->acts[i]->type_len;
    }
    return s->acts[i]->type;
}

const char *wd_cedar_schema_action_id(const struct wd_cedar_schema *s, size_t i, size_t *len_out)
{
    if (s == NULL || i >= s->nact) {
        return NULL;
    }
    if (len_out != NULL) {
        *len_out = s->acts[i]->id_len;
    }
    return s->acts[i]->id;
}

size_t wd_cedar_schema_action_parent_count(const struct wd_cedar_schema *s, size_t i)
{
    return s == NULL || i >= s->nact ? 0 : s->acts[i]->nparents;
}

size_t wd_cedar_schema_action_parent(const struct wd_cedar_schema *s, size_t i, size_t j)
{
    if (s == NULL || i >= s->nact || j >= s->acts[i]->nparents) {
        return 0;
    }
    return s->acts[i]->parents[j]->index;
}

/* ---------------------------------------------------------------------------------------
 * Raw-schema helpers for the parsers
 * ------------------------------------------------------------------------------------- */

/* A schema's whole input is bounded by the parsers (16 MiB); the pool gets a cap well
   above what that can produce. */
#define SCHEMA_POOL_MAX ((size_t)512 << 20)

int wd_cedar_schema_alloc(const char *file, struct wd_cedar_schema **out)
{
    struct wd_cedar_pool pool;
    struct wd_cedar_schema *s;
    wd_cedar_pool_init(&pool, SCHEMA_POOL_MAX);
    int rc = wd_cedar_pool_alloc(&pool, sizeof(*s), (void **)&s);
    if (rc < 0) {
        wd_cedar_pool_cleanup(&pool);
        return rc;
    }
    s->pool = pool;
    const char *f = file != NULL ? file : "<schema>";
    rc = wd_cedar_pool_strdup(&s->pool, f, strlen(f), &s->file);
    if (rc < 0) {
        wd_cedar_schema_free(s);
        return rc;
    }
    *out = s;
    return WD_OK;
}

int wd_cedar_raw_ns_add(struct wd_cedar_schema *s, struct wd_cedar_raw_schema *raw,
                        const char *name, size_t len, unsigned line, unsigned col,
                        struct wd_cedar_raw_ns **out)
{
    struct wd_cedar_raw_ns *ns;
    WD_TRY(wd_cedar_pool_alloc(&s->pool, sizeof(*ns), (void **)&ns));
    WD_TRY(wd_cedar_pool_strdup(&s->pool, name, len, &ns->name));
    ns->len = len;
    ns->line = line;
    ns->col = col;
    ns->entities_tail = &ns->entities;
    ns->actions_tail = &ns->actions;
    ns->commons_tail = &ns->commons;
    if (raw->nss_tail == NULL) {
        raw->nss_tail = &raw->nss;
    }
    *raw->nss_tail = ns;
    raw->nss_tail = &ns->next;
    *out = ns;
    return WD_OK;
}

/* ---------------------------------------------------------------------------------------
 * Build
 * ------------------------------------------------------------------------------------- */

enum { DECL_COMMON = 1, DECL_ENTITY, DECL_ACTION };

/* A declaration during the build: a common type, an entity type or an action. */
struct decl {
    uint8_t kind;
    uint8_t state; /* commons: 0 unresolved, 1 resolving, 2 done */
    const char *a; /* full name (entity, common) or action type */
    size_t alen;
    const char *b; /* action id */
    size_t blen;
    const struct wd_cedar_raw_ns *ns;
    const void *raw;                  /* wd_cedar_raw_common / _entity / _action */
    const struct wd_cedar_type *type; /* common: resolved type; entity: its ENTITY type */
    struct wd_cedar_ety *ety;
    struct wd_cedar_act *act;
};

struct bctx {
    struct wd_cedar_schema *s;
    struct wd_diag *diag;
    struct decl **tab;
    uint32_t cap, n;
};

/* Maximum recursion while resolving types (nesting plus chains of common types). */
#define RESOLVE_MAX_DEPTH 256

static int berr(struct bctx *b, unsigned line, unsigned col, const char *fmt, ...) WD_PRINTF(4, 5);
static int berr(struct bctx *b, unsigned line, unsigned col, const char *fmt, ...)
{
    char msg[WD_DIAG_MAX];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return wd_diag_set(b->diag, WD_ECONFIG, b->s->file, line, col, "%s", msg);
}
/* berr's result spelled out at each use: the analyzer does not follow variadic calls,
   and would otherwise assume a failed resolution can return WD_OK without setting *out. */
#define BERR(...) ((void)berr(__VA_ARGS__), WD_ECONFIG)

/* Printable form of (possibly binary) name bytes for messages: cut, NULs shown as \0. */
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

static uint32_t decl_hash(uint8_t kind, const char *a, size_t alen, const char *b, size_t blen)
{
    return hash2(a, alen, b, blen) ^ ((uint32_t)kind * 0x9e3779b1u);
}

static struct decl *decl_find(const struct bctx *b, uint8_t kind, const char *a, size_t alen,
                              const char *id, size_t idlen)
{
    if (b->cap == 0) {
        return NULL;
    }
    uint32_t mask = b->cap - 1;
    for (uint32_t i = decl_hash(kind, a, alen, id, idlen) & mask;; i = (i + 1) & mask) {
        struct decl *d = b->tab[i];
        if (d == NULL) {
            return NULL;
        }
        if (d->kind == kind && bytes_eq(d->a, d->alen, a, alen)
            && bytes_eq(d->b, d->blen, id, idlen)) {
            return d;
        }
    }
}

static int decl_grow(struct bctx *b)
{
    uint32_t ncap = b->cap == 0 ? 64 : b->cap * 2;
    struct decl **nt;
    WD_ENSURE(ncap != 0 && ncap <= (1u << 28), WD_ELIMIT);
    WD_TRY(wd_cedar_pool_alloc(&b->s->pool, (size_t)ncap * sizeof(struct decl *), (void **)&nt));
    for (uint32_t i = 0; i < b->cap; i++) {
        struct decl *d = b->tab[i];
        if (d == NULL) {
            continue;
        }
        uint32_t j = decl_hash(d->kind, d->a, d->alen, d->b, d->blen) & (ncap - 1);
        while (nt[j] != NULL) {
            j = (j + 1) & (ncap - 1);
        }
        nt[j] = d;
    }
    b->tab = nt;
    b->cap = ncap;
    return WD_OK;
}

static int decl_add(struct bctx *b, struct decl *d)
{
    if ((b->n + 1) * 2 > b->cap) {
        WD_TRY(decl_grow(b));
    }
    uint32_t mask = b->cap - 1;
    uint32_t i = decl_hash(d->kind, d->a, d->alen, d->b, d->blen) & mask;
    while (b->tab[i] != NULL) {
        i = (i + 1) & mask;
    }
    b->tab[i] = d;
    b->n++;
    return WD_OK;
}

/* ns::base (or base in the empty namespace) as a pool string. */
static int qualify(struct bctx *b, const char *ns, size_t nslen, const char *base, size_t blen,
                   const char **out, size_t *len)
{
    char *p;
    size_t n = nslen == 0 ? blen : nslen + 2 + blen;
    WD_TRY(wd_cedar_pool_alloc(&b->s->pool, n + 1, (void **)&p));
    if (nslen > 0) {
        memcpy(p, ns, nslen);
        memcpy(p + nslen, "::", 2);
        memcpy(p + nslen + 2, base, blen);
    } else if (blen > 0) {
        memcpy(p, base, blen);
    }
    p[n] = '\0';
    *out = p;
    *len = n;
    return WD_OK;
}

static struct decl *find_qualified(const struct bctx *b, uint8_t kind, const char *ns, size_t nslen,
                                   const char *name, size_t len, char *tmp, size_t tmpcap)
{
    if (nslen + 2 + len > tmpcap) {
        return NULL; /* longer than any declared name could be */
    }
    memcpy(tmp, ns, nslen);
    memcpy(tmp + nslen, "::", 2);
    memcpy(tmp + nslen + 2, name, len);
    return decl_find(b, kind, tmp, nslen + 2 + len, "", 0);
}

/* Builtin type by (unqualified) name, or NULL. */
static const struct wd_cedar_type *builtin(const char *p, size_t n)
{
    static const struct {
        const char *name;
        const struct wd_cedar_type *t;
    } tab[] = {
            {"Long", &wd_cedar_type_long},         {"String", &wd_cedar_type_string},
            {"Bool", &wd_cedar_type_bool},         {"ipaddr", &wd_cedar_type_ipaddr},
            {"decimal", &wd_cedar_type_decimal},   {"datetime", &wd_cedar_type_datetime},
            {"duration", &wd_cedar_type_duration},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(tab); i++) {
        if (bytes_eq(p, n, tab[i].name, strlen(tab[i].name))) {
            return tab[i].t;
        }
    }
    return NULL;
}

static const struct wd_cedar_type *builtin_name(const char *p, size_t n)
{
    if (!has_qualifier(p, n)) {
        return builtin(p, n);
    }
    if (n > 9 && memcmp(p, "__cedar::", 9) == 0 && !has_qualifier(p + 9, n - 9)) {
        return builtin(p + 9, n - 9);
    }
    return NULL;
}

static const struct wd_cedar_type *ext_type(const char *p, size_t n)
{
    const struct wd_cedar_type *t = builtin(p, n);
    if (t == NULL || t->kind < WD_CEDAR_T_IPADDR) {
        return NULL;
    }
    return t;
}

/*
 * Look a name up with Cedar's precedence: in namespace ns first (unqualified names only),
 * then as written; commons before entities when both are wanted.
 */
static struct decl *lookup_name(const struct bctx *b, const struct wd_cedar_raw_ns *ns,
                                const char *p, size_t n, bool commons, bool entities)
{
    char tmp[1024];
    if (!has_qualifier(p, n) && ns->len > 0) {
        struct decl *d = NULL;
        if (commons) {
            d = find_qualified(b, DECL_COMMON, ns->name, ns->len, p, n, tmp, sizeof(tmp));
        }
        if (d == NULL && entities) {
            d = find_qualified(b, DECL_ENTITY, ns->name, ns->len, p, n, tmp, sizeof(tmp));
        }
        if (d != NULL) {
            return d;
        }
    }
    struct decl *d = commons ? decl_find(b, DECL_COMMON, p, n, "", 0) : NULL;
    if (d == NULL && entities) {
        d = decl_find(b, DECL_ENTITY, p, n, "", 0);
    }
    return d;
}

static int resolve_type(struct bctx *b, const struct wd_cedar_raw_ns *ns,
                        const struct wd_cedar_raw_type *rt, unsigned depth,
                        const struct wd_cedar_type **out);

static int resolve_common(struct bctx *b, struct decl *d, unsigned depth,
                          const struct wd_cedar_type **out)
{
    const struct wd_cedar_raw_common *c = d->raw;
    char nb[128];
    if (d->state == 2) {
        *out = d->type;
        return WD_OK;
    }
    if (d->state == 1) {
        return BERR(b, c->line, c->col, "cycle in common type references containing `%s`",
                    show(nb, sizeof(nb), d->a, d->alen));
    }
    d->state = 1;
    WD_TRY(resolve_type(b, d->ns, c->type, depth + 1, &d->type));
    d->state = 2;
    *out = d->type;
    return WD_OK;
}

static int attr_cmp(const void *x, const void *y)
{
    const struct wd_cedar_rattr *a = x, *b = y;
    return name_cmp(a->name, a->len, b->name, b->len);
}

static int resolve_record(struct bctx *b, const struct wd_cedar_raw_ns *ns,
                          const struct wd_cedar_raw_type *rt, unsigned depth,
                          const struct wd_cedar_type **out)
{
    struct wd_cedar_type *t;
    struct wd_cedar_rattr *attrs = NULL;
    size_t n = 0;
    WD_TRY(wd_cedar_pool_alloc(&b->s->pool, sizeof(*t), (void **)&t));
    if (rt->nattrs > 0) {
        WD_TRY(wd_cedar_pool_alloc(&b->s->pool, rt->nattrs * sizeof(*attrs), (void **)&attrs));
    }
    for (const struct wd_cedar_raw_attr *a = rt->attrs; a != NULL; a = a->next) {
        const struct wd_cedar_type *at = NULL;
        WD_TRY(resolve_type(b, ns, a->type, depth + 1, &at));
        /* A repeated attribute name replaces the earlier declaration (as Cedar does). */
        size_t k = 0;
        while (k < n && !bytes_eq(attrs[k].name, attrs[k].len, a->name, a->len)) {
            k++;
        }
        if (k == n) {
            WD_BUG_ON(n >= rt->nattrs);
            n++;
        }
        attrs[k].name = a->name;
        attrs[k].len = (uint32_t)a->len;
        attrs[k].required = a->required;
        attrs[k].type = at;
    }
    if (n > 1) {
        qsort(attrs, n, sizeof(*attrs), attr_cmp);
    }
    t->kind = WD_CEDAR_T_RECORD;
    t->attrs = attrs;
    t->nattrs = (uint32_t)n;
    *out = t;
    return WD_OK;
}

static int resolve_type(struct bctx *b, const struct wd_cedar_raw_ns *ns,
                        const struct wd_cedar_raw_type *rt, unsigned depth,
                        const struct wd_cedar_type **out)
{
    char nb[128];
    if (depth > RESOLVE_MAX_DEPTH) {
        (void)berr(b, rt->line, rt->col, "type definitions nested deeper than %d levels",
                   RESOLVE_MAX_DEPTH);
        return WD_ELIMIT;
    }
    switch (rt->kind) {
    case WD_CEDAR_RAW_LONG:
        *out = &wd_cedar_type_long;
        return WD_OK;
    case WD_CEDAR_RAW_STRING:
        *out = &wd_cedar_type_string;
        return WD_OK;
    case WD_CEDAR_RAW_BOOL:
        *out = &wd_cedar_type_bool;
        return WD_OK;
    case WD_CEDAR_RAW_SET: {
        struct wd_cedar_type *t;
        const struct wd_cedar_type *e = NULL;
        WD_TRY(resolve_type(b, ns, rt->elem, depth + 1, &e));
        WD_TRY(wd_cedar_pool_alloc(&b->s->pool, sizeof(*t), (void **)&t));
        t->kind = WD_CEDAR_T_SET;
        t->elem = e;
        *out = t;
        return WD_OK;
    }
    case WD_CEDAR_RAW_RECORD:
        return resolve_record(b, ns, rt, depth, out);
    case WD_CEDAR_RAW_EXT: {
        const struct wd_cedar_type *t = ext_type(rt->name, rt->name_len);
        if (t == NULL) {
            return BERR(b, rt->line, rt->col, "unknown extension type `%s`",
                        show(nb, sizeof(nb), rt->name, rt->name_len));
        }
        *out = t;
        return WD_OK;
    }
    case WD_CEDAR_RAW_ENTITY: {
        struct decl *d = lookup_name(b, ns, rt->name, rt->name_len, false, true);
        if (d == NULL) {
            return BERR(b, rt->line, rt->col,
                        "failed to resolve type: %s (not declared as an entity type)",
                        show(nb, sizeof(nb), rt->name, rt->name_len));
        }
        *out = d->type;
        return WD_OK;
    }
    default: { /* REF, COMMON */
        bool entities = rt->kind == WD_CEDAR_RAW_REF;
        struct decl *d = lookup_name(b, ns, rt->name, rt->name_len, true, entities);
        if (d != NULL && d->kind == DECL_COMMON) {
            return resolve_common(b, d, depth, out);
        }
        if (d != NULL) {
            *out = d->type;
            return WD_OK;
        }
        const struct wd_cedar_type *t = builtin_name(rt->name, rt->name_len);
        if (t == NULL) {
            return BERR(b, rt->line, rt->col,
                        entities ? "failed to resolve type: %s (not declared as a common or "
                                   "entity type)"
                                 : "failed to resolve type: %s (not declared as a common type)",
                        show(nb, sizeof(nb), rt->name, rt->name_len));
        }
        *out = t;
        return WD_OK;
    }
    }
}

/* Resolve an entity-type reference (memberOfTypes, appliesTo). */
static int resolve_ety(struct bctx *b, const struct wd_cedar_raw_ns *ns,
                       const struct wd_cedar_raw_name *nm, struct wd_cedar_ety **out)
{
    char nb[128];
    struct decl *d = lookup_name(b, ns, nm->p, nm->len, false, true);
    if (d == NULL) {
        return BERR(b, nm->line, nm->col, "undeclared entity type `%s`",
                    show(nb, sizeof(nb), nm->p, nm->len));
    }
    *out = d->ety;
    return WD_OK;
}

static size_t list_len_names(const struct wd_cedar_raw_name *n)
{
    size_t k = 0;
    for (; n != NULL; n = n->next) {
        k++;
    }
    return k;
}

/* Resolve a list of entity type references, dropping duplicates. */
static int resolve_ety_list(struct bctx *b, const struct wd_cedar_raw_ns *ns,
                            const struct wd_cedar_raw_name *list,
                            const struct wd_cedar_ety *const **out, uint32_t *nout)
{
    size_t cap = list_len_names(list);
    const struct wd_cedar_ety **v = NULL;
    uint32_t n = 0;
    if (cap == 0) {
        *out = NULL;
        *nout = 0;
        return WD_OK;
    }
    WD_TRY(wd_cedar_pool_alloc(&b->s->pool, cap * sizeof(const struct wd_cedar_ety *),
                               (void **)&v));
    for (const struct wd_cedar_raw_name *nm = list; nm != NULL; nm = nm->next) {
        struct wd_cedar_ety *e = NULL;
        WD_TRY(resolve_ety(b, ns, nm, &e));
        uint32_t k = 0;
        while (k < n && v[k] != e) {
            k++;
        }
        if (k == n) {
            v[n++] = e;
        }
    }
    *out = v;
    *nout = n;
    return WD_OK;
}

/* Check a declared basename (entity or common type). */
static int check_decl_name(struct bctx *b, const char *name, size_t len, unsigned line,
                           unsigned col)
{
    char nb[128];
    if (bytes_eq(name, len, "__cedar", 7)) {
        return BERR(b, line, col, "use of the reserved `__cedar` namespace");
    }
    if (!wd_cedar_schema_is_ident(name, len) || wd_cedar_schema_is_reserved(name, len)) {
        return BERR(b, line, col, "invalid name `%s`", show(nb, sizeof(nb), name, len));
    }
    return WD_OK;
}

static int check_ns_name(struct bctx *b, const struct wd_cedar_raw_ns *ns)
{
    char nb[128];
    size_t start = 0;
    if (ns->len == 0) {
        return WD_OK;
    }
    for (size_t i = 0; i <= ns->len; i++) {
        if (i == ns->len || (ns->name[i] == ':' && i + 1 < ns->len && ns->name[i + 1] == ':')) {
            const char *c = ns->name + start;
            size_t n = i - start;
            if (!wd_cedar_schema_is_ident(c, n) || wd_cedar_schema_is_reserved(c, n)) {
                return BERR(b, ns->line, ns->col, "invalid namespace `%s`",
                            show(nb, sizeof(nb), ns->name, ns->len));
            }
            start = i + 2;
            i++;
        }
    }
    if (uses_cedar_ns(ns->name, ns->len)) {
        return BERR(b, ns->line, ns->col, "use of the reserved `__cedar` namespace");
    }
    return WD_OK;
}

/* The common type names Cedar reserves (builtin type keywords of the JSON format). */
static bool reserved_common_name(const char *p, size_t n)
{
    static const char *const names[] = {"Bool", "Boolean", "Entity", "Extension",
                                        "Long", "Record",  "Set",    "String"};
    for (size_t i = 0; i < WD_ARRAY_LEN(names); i++) {
        if (bytes_eq(p, n, names[i], strlen(names[i]))) {
            return true;
        }
    }
    return false;
}

static int declare(struct bctx *b, const struct wd_cedar_raw_schema *raw)
{
    char nb[128], nb2[128];
    for (const struct wd_cedar_raw_ns *ns = raw->nss; ns != NULL; ns = ns->next) {
        WD_TRY(check_ns_name(b, ns));
        for (const struct wd_cedar_raw_ns *o = raw->nss; o != ns; o = o->next) {
            if (bytes_eq(o->name, o->len, ns->name, ns->len)) {
                return BERR(b, ns->line, ns->col, "duplicate namespace id: `%s`",
                            show(nb, sizeof(nb), ns->name, ns->len));
            }
        }
        for (const struct wd_cedar_raw_common *c = ns->commons; c != NULL; c = c->next) {
            struct decl *d;
            WD_TRY(check_decl_name(b, c->name, c->len, c->line, c->col));
            if (reserved_common_name(c->name, c->len)) {
                return BERR(b, c->line, c->col,
                            "this uses a reserved schema keyword: `%s` (not allowed as a "
                            "common type name)",
                            show(nb, sizeof(nb), c->name, c->len));
            }
            WD_TRY(wd_cedar_pool_alloc(&b->s->pool, sizeof(*d), (void **)&d));
            d->kind = DECL_COMMON;
            d->b = "";
            d->ns = ns;
            d->raw = c;
            WD_TRY(qualify(b, ns->name, ns->len, c->name, c->len, &d->a, &d->alen));
            if (decl_find(b, DECL_COMMON, d->a, d->alen, "", 0) != NULL) {
                return BERR(b, c->line, c->col, "`%s` is declared twice",
                            show(nb, sizeof(nb), d->a, d->alen));
            }
            WD_TRY(decl_add(b, d));
        }
        for (const struct wd_cedar_raw_entity *e = ns->entities; e != NULL; e = e->next) {
            struct decl *d;
            WD_TRY(check_decl_name(b, e->name, e->len, e->line, e->col));
            if (bytes_eq(e->name, e->len, "Action", 6)) {
                return BERR(b, e->line, e->col,
                            "entity type `Action` declared in `entityTypes` list");
            }
            WD_TRY(wd_cedar_pool_alloc(&b->s->pool, sizeof(*d), (void **)&d));
            d->kind = DECL_ENTITY;
            d->b = "";
            d->ns = ns;
            d->raw = e;
            WD_TRY(qualify(b, ns->name, ns->len, e->name, e->len, &d->a, &d->alen));
            if (decl_find(b, DECL_ENTITY, d->a, d->alen, "", 0) != NULL) {
                return BERR(b, e->line, e->col, "`%s` is declared twice",
                            show(nb, sizeof(nb), d->a, d->alen));
            }
            WD_TRY(decl_add(b, d));
        }
        for (const struct wd_cedar_raw_action *a = ns->actions; a != NULL; a = a->next) {
            struct decl *d;
            WD_TRY(wd_cedar_pool_alloc(&b->s->pool, sizeof(*d), (void **)&d));
            d->kind = DECL_ACTION;
            d->ns = ns;
            d->raw = a;
            d->b = a->id;
            d->blen = a->len;
            WD_TRY(qualify(b, ns->name, ns->len, "Action", 6, &d->a, &d->alen));
            if (decl_find(b, DECL_ACTION, d->a, d->alen, d->b, d->blen) != NULL) {
                return BERR(b, a->line, a->col, "action `%s::\"%s\"` is declared twice",
                            show(nb, sizeof(nb), d->a, d->alen),
                            show(nb2, sizeof(nb2), a->id, a->len));
            }
            WD_TRY(decl_add(b, d));
        }
    }
    /* A namespace may not shadow a declaration of the empty namespace (Cedar 4). */
    for (const struct wd_cedar_raw_ns *ns = raw->nss; ns != NULL; ns = ns->next) {
        if (ns->len == 0) {
            continue;
        }
        for (const struct wd_cedar_raw_common *c = ns->commons; c != NULL; c = c->next) {
            if (decl_find(b, DECL_COMMON, c->name, c->len, "", 0) != NULL
                || decl_find(b, DECL_ENTITY, c->name, c->len, "", 0) != NULL) {
                return BERR(b, c->line, c->col,
                            "definition of `%s::%s` illegally shadows the existing definition "
                            "of `%s`",
                            show(nb, sizeof(nb), ns->name, ns->len),
                            show(nb2, sizeof(nb2), c->name, c->len), c->name);
            }
        }
        for (const struct wd_cedar_raw_entity *e = ns->entities; e != NULL; e = e->next) {
            if (decl_find(b, DECL_COMMON, e->name, e->len, "", 0) != NULL
                || decl_find(b, DECL_ENTITY, e->name, e->len, "", 0) != NULL) {
                return BERR(b, e->line, e->col,
                            "definition of `%s::%s` illegally shadows the existing definition "
                            "of `%s`",
                            show(nb, sizeof(nb), ns->name, ns->len),
                            show(nb2, sizeof(nb2), e->name, e->len), e->name);
            }
        }
        for (const struct wd_cedar_raw_action *a = ns->actions; a != NULL; a = a->next) {
            if (decl_find(b, DECL_ACTION, "Action", 6, a->id, a->len) != NULL) {
                return BERR(b, a->line, a->col,
                            "definition of `%s::Action::\"%s\"` illegally shadows the existing "
                            "definition of `Action::\"%s\"`",
                            show(nb, sizeof(nb), ns->name, ns->len),
                            show(nb2, sizeof(nb2), a->id, a->len), nb2);
            }
        }
    }
    return WD_OK;
}

/* Create the entity type and action objects (declaration order) so references can point. */
static int create_objects(struct bctx *b, const struct wd_cedar_raw_schema *raw)
{
    struct wd_cedar_schema *s = b->s;
    size_t nety = 0, nact = 0;
    for (const struct wd_cedar_raw_ns *ns = raw->nss; ns != NULL; ns = ns->next) {
        for (const struct wd_cedar_raw_entity *e = ns->entities; e != NULL; e = e->next) {
            nety++;
        }
        for (const struct wd_cedar_raw_action *a = ns->actions; a != NULL; a = a->next) {
            nact++;
        }
    }
    WD_ENSURE(nety < (1u << 24) && nact < (1u << 24), WD_ELIMIT);
    if (nety > 0) {
        WD_TRY(wd_cedar_pool_alloc(&s->pool, nety * sizeof(struct wd_cedar_ety *),
                                   (void **)&s->etys));
    }
    if (nact > 0) {
        WD_TRY(wd_cedar_pool_alloc(&s->pool, nact * sizeof(struct wd_cedar_act *),
                                   (void **)&s->acts));
    }
    for (const struct wd_cedar_raw_ns *ns = raw->nss; ns != NULL; ns = ns->next) {
        char tmp[1024];
        for (const struct wd_cedar_raw_entity *e = ns->entities; e != NULL; e = e->next) {
            struct decl *d;
            if (ns->len > 0) {
                d = find_qualified(b, DECL_ENTITY, ns->name, ns->len, e->name, e->len, tmp,
                                   sizeof(tmp));
            } else {
                d = decl_find(b, DECL_ENTITY, e->name, e->len, "", 0);
            }
            WD_BUG_ON(d == NULL);
            struct wd_cedar_ety *ety;
            struct wd_cedar_type *t;
            WD_TRY(wd_cedar_pool_alloc(&s->pool, sizeof(*ety), (void **)&ety));
            WD_TRY(wd_cedar_pool_alloc(&s->pool, sizeof(*t), (void **)&t));
            ety->name = d->a;
            ety->name_len = (uint32_t)d->alen;
            ety->index = s->nety;
            ety->line = e->line;
            ety->col = e->col;
            ety->is_enum = e->is_enum;
            ety->shape = &wd_cedar_type_empty_record;
            t->kind = WD_CEDAR_T_ENTITY;
            t->name = d->a;
            t->name_len = (uint32_t)d->alen;
            d->ety = ety;
            d->type = t;
            s->etys[s->nety++] = ety;
        }
        for (const struct wd_cedar_raw_action *a = ns->actions; a != NULL; a = a->next) {
            struct wd_cedar_act *act;
            const char *type;
            size_t tlen;
            WD_TRY(qualify(b, ns->name, ns->len, "Action", 6, &type, &tlen));
            struct decl *d = decl_find(b, DECL_ACTION, type, tlen, a->id, a->len);
            WD_BUG_ON(d == NULL);
            WD_TRY(wd_cedar_pool_alloc(&s->pool, sizeof(*act), (void **)&act));
            act->type = d->a;
            act->type_len = (uint32_t)d->alen;
            act->id = a->id;
            act->id_len = (uint32_t)a->len;
            act->index = s->nact;
            act->line = a->line;
            act->col = a->col;
            act->context = &wd_cedar_type_empty_record;
            d->act = act;
            s->acts[s->nact++] = act;
        }
    }
    return WD_OK;
}

static int resolve_entities(struct bctx *b, const struct wd_cedar_raw_schema *raw)
{
    char nb[128];
    for (const struct wd_cedar_raw_ns *ns = raw->nss; ns != NULL; ns = ns->next) {
        for (const struct wd_cedar_raw_entity *e = ns->entities; e != NULL; e = e->next) {
            char tmp[1024];
            struct decl *d;
            if (ns->len > 0) {
                d = find_qualified(b, DECL_ENTITY, ns->name, ns->len, e->name, e->len, tmp,
                                   sizeof(tmp));
            } else {
                d = decl_find(b, DECL_ENTITY, e->name, e->len, "", 0);
            }
            struct wd_cedar_ety *ety = d->ety;
            if (e->is_enum) {
                size_t cap = list_len_names(e->choices);
                const char **ch;
                uint32_t *lens;
                uint32_t n = 0;
                WD_TRY(wd_cedar_pool_alloc(&b->s->pool, (cap + 1) * sizeof(*ch), (void **)&ch));
                WD_TRY(wd_cedar_pool_alloc(&b->s->pool, (cap + 1) * sizeof(*lens), (void **)&lens));
                for (const struct wd_cedar_raw_name *c = e->choices; c != NULL; c = c->next) {
                    uint32_t k = 0;
                    while (k < n && !bytes_eq(ch[k], lens[k], c->p, c->len)) {
                        k++;
                    }
                    if (k == n) {
                        ch[n] = c->p;
                        lens[n] = (uint32_t)c->len;
                        n++;
                    }
                }
                ety->choices = ch;
                ety->choice_lens = lens;
                ety->nchoices = n;
                continue;
            }
            WD_TRY(resolve_ety_list(b, ns, e->parents, &ety->parents, &ety->nparents));
            if (e->shape != NULL) {
                const struct wd_cedar_type *t;
                WD_TRY(resolve_type(b, ns, e->shape, 0, &t));
                if (t->kind != WD_CEDAR_T_RECORD) {
                    return BERR(b, e->shape->line, e->shape->col,
                                "shape for entity type `%s` is declared with a type other than "
                                "`Record`",
                                show(nb, sizeof(nb), ety->name, ety->name_len));
                }
                ety->shape = t;
            }
            if (e->tags != NULL) {
                WD_TRY(resolve_type(b, ns, e->tags, 0, &ety->tags));
            }
        }
    }
    return WD_OK;
}

static int resolve_commons(struct bctx *b, const struct wd_cedar_raw_schema *raw)
{
    for (const struct wd_cedar_raw_ns *ns = raw->nss; ns != NULL; ns = ns->next) {
        for (const struct wd_cedar_raw_common *c = ns->commons; c != NULL; c = c->next) {
            char tmp[1024];
            struct decl *d;
            const struct wd_cedar_type *t;
            if (ns->len > 0) {
                d = find_qualified(b, DECL_COMMON, ns->name, ns->len, c->name, c->len, tmp,
                                   sizeof(tmp));
            } else {
                d = decl_find(b, DECL_COMMON, c->name, c->len, "", 0);
            }
            WD_TRY(resolve_common(b, d, 0, &t));
        }
    }
    return WD_OK;
}

static int resolve_aref(struct bctx *b, const struct wd_cedar_raw_ns *ns,
                        const struct wd_cedar_raw_aref *r, struct wd_cedar_act **out)
{
    char nb[128], nb2[128], tmp[1024];
    const char *type = r->type != NULL ? r->type : "Action";
    size_t tlen = r->type != NULL ? r->type_len : 6;
    struct decl *d = NULL;
    if (!has_qualifier(type, tlen) && ns->len > 0 && ns->len + 2 + tlen <= sizeof(tmp)) {
        memcpy(tmp, ns->name, ns->len);
        memcpy(tmp + ns->len, "::", 2);
        memcpy(tmp + ns->len + 2, type, tlen);
        d = decl_find(b, DECL_ACTION, tmp, ns->len + 2 + tlen, r->id, r->id_len);
    }
    if (d == NULL) {
        d = decl_find(b, DECL_ACTION, type, tlen, r->id, r->id_len);
    }
    if (d == NULL) {
        return BERR(b, r->line, r->col, "undeclared action: %s::\"%s\"",
                    show(nb, sizeof(nb), type, tlen), show(nb2, sizeof(nb2), r->id, r->id_len));
    }
    *out = d->act;
    return WD_OK;
}

static int resolve_actions(struct bctx *b, const struct wd_cedar_raw_schema *raw)
{
    char nb[128];
    uint32_t idx = 0;
    for (const struct wd_cedar_raw_ns *ns = raw->nss; ns != NULL; ns = ns->next) {
        for (const struct wd_cedar_raw_action *a = ns->actions; a != NULL; a = a->next) {
            struct wd_cedar_act *act = b->s->acts[idx++];
            size_t cap = 0;
            for (const struct wd_cedar_raw_aref *r = a->parents; r != NULL; r = r->next) {
                cap++;
            }
            const struct wd_cedar_act **ps = NULL;
            uint32_t n = 0;
            if (cap > 0) {
                WD_TRY(wd_cedar_pool_alloc(&b->s->pool, cap * sizeof(const struct wd_cedar_act *),
                                           (void **)&ps));
            }
            for (const struct wd_cedar_raw_aref *r = a->parents; r != NULL; r = r->next) {
                struct wd_cedar_act *p = NULL;
                WD_TRY(resolve_aref(b, ns, r, &p));
                uint32_t k = 0;
                while (k < n && ps[k] != p) {
                    k++;
                }
                if (k == n) {
                    ps[n++] = p;
                }
            }
            act->parents = ps;
            act->nparents = n;
            if (!a->applies) {
                continue;
            }
            WD_TRY(resolve_ety_list(b, ns, a->principals, &act->principals, &act->nprincipals));
            WD_TRY(resolve_ety_list(b, ns, a->resources, &act->resources, &act->nresources));
            if (a->context != NULL) {
                const struct wd_cedar_type *t = NULL;
                WD_TRY(resolve_type(b, ns, a->context, 0, &t));
                if (t->kind != WD_CEDAR_T_RECORD) {
                    return BERR(b, a->context->line, a->context->col,
                                "context for action `%s` is declared with a type other than "
                                "`Record`",
                                show(nb, sizeof(nb), act->id, act->id_len));
                }
                act->context = t;
            }
        }
    }
    return WD_OK;
}

/*
 * Transitive closure by iterative depth-first search from each node. mark[] holds, per
 * node, the id of the last search that reached it. For actions, reaching the start node
 * again is a cycle (an error); entity types may be their own ancestors.
 */
static int closure_acts(struct bctx *b)
{
    struct wd_cedar_schema *s = b->s;
    uint32_t n = s->nact;
    uint32_t *mark = NULL, *stack = NULL;
    const struct wd_cedar_act **buf = NULL;
    char nb[128];
    if (n == 0) {
        return WD_OK;
    }
    WD_TRY(wd_cedar_pool_alloc(&s->pool, n * sizeof(*mark), (void **)&mark));
    WD_TRY(wd_cedar_pool_alloc(&s->pool, n * sizeof(*stack), (void **)&stack));
    WD_TRY(wd_cedar_pool_alloc(&s->pool, n * sizeof(const struct wd_cedar_act *), (void **)&buf));
    for (uint32_t i = 0; i < n; i++) {
        mark[i] = UINT32_MAX;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct wd_cedar_act *a = s->acts[i];
        uint32_t sp = 0, nb_anc = 0;
        stack[sp++] = i;
        while (sp > 0) {
            const struct wd_cedar_act *x = s->acts[stack[--sp]];
            for (uint32_t k = 0; k < x->nparents; k++) {
                uint32_t p = x->parents[k]->index;
                if (p == i) {
                    return BERR(b, a->line, a->col,
                                "cycle in action hierarchy containing `%s::\"%s\"`", a->type,
                                show(nb, sizeof(nb), a->id, a->id_len));
                }
                if (mark[p] != i) {
                    mark[p] = i;
                    buf[nb_anc++] = s->acts[p];
                    stack[sp++] = p;
                }
            }
        }
        const struct wd_cedar_act **anc = NULL;
        if (nb_anc > 0) {
            WD_TRY(wd_cedar_pool_alloc(&s->pool, nb_anc * sizeof(const struct wd_cedar_act *),
                                       (void **)&anc));
            memcpy(anc, buf, nb_anc * sizeof(const struct wd_cedar_act *));
        }
        a->ancestors = anc;
        a->nancestors = nb_anc;
    }
    return WD_OK;
}

static int closure_etys(struct bctx *b)
{
    struct wd_cedar_schema *s = b->s;
    uint32_t n = s->nety;
    uint32_t *mark = NULL, *stack = NULL;
    const struct wd_cedar_ety **buf = NULL;
    if (n == 0) {
        return WD_OK;
    }
    WD_TRY(wd_cedar_pool_alloc(&s->pool, n * sizeof(*mark), (void **)&mark));
    WD_TRY(wd_cedar_pool_alloc(&s->pool, n * sizeof(*stack), (void **)&stack));
    WD_TRY(wd_cedar_pool_alloc(&s->pool, n * sizeof(const struct wd_cedar_ety *), (void **)&buf));
    for (uint32_t i = 0; i < n; i++) {
        mark[i] = UINT32_MAX;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct wd_cedar_ety *e = s->etys[i];
        uint32_t sp = 0, na = 0;
        stack[sp++] = i;
        while (sp > 0) {
            const struct wd_cedar_ety *x = s->etys[stack[--sp]];
            for (uint32_t k = 0; k < x->nparents; k++) {
                uint32_t p = x->parents[k]->index;
                if (mark[p] != i) {
                    mark[p] = i;
                    buf[na++] = s->etys[p];
                    stack[sp++] = p;
                }
            }
        }
        const struct wd_cedar_ety **anc = NULL;
        if (na > 0) {
            WD_TRY(wd_cedar_pool_alloc(&s->pool, na * sizeof(const struct wd_cedar_ety *),
                                       (void **)&anc));
            memcpy(anc, buf, na * sizeof(const struct wd_cedar_ety *));
        }
        e->ancestors = anc;
        e->nancestors = na;
    }
    return WD_OK;
}

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t c = 16;
    while (c < n) {
        c *= 2;
    }
    return c;
}

static int build_indexes(struct bctx *b)
{
    struct wd_cedar_schema *s = b->s;
    s->ety_cap = pow2_at_least(s->nety * 2 + 1);
    WD_TRY(wd_cedar_pool_alloc(&s->pool, s->ety_cap * sizeof(struct wd_cedar_ety *),
                               (void **)&s->ety_tab));
    for (uint32_t i = 0; i < s->nety; i++) {
        struct wd_cedar_ety *e = s->etys[i];
        uint32_t mask = s->ety_cap - 1;
        uint32_t j = hash2(e->name, e->name_len, "", 0) & mask;
        while (s->ety_tab[j] != NULL) {
            j = (j + 1) & mask;
        }
        s->ety_tab[j] = e;
    }
    s->act_cap = pow2_at_least(s->nact * 2 + 1);
    WD_TRY(wd_cedar_pool_alloc(&s->pool, s->act_cap * sizeof(struct wd_cedar_act *),
                               (void **)&s->act_tab));
    for (uint32_t i = 0; i < s->nact; i++) {
        struct wd_cedar_act *a = s->acts[i];
        uint32_t mask = s->act_cap - 1;
        uint32_t j = hash2(a->type, a->type_len, a->id, a->id_len) & mask;
        while (s->act_tab[j] != NULL) {
            j = (j + 1) & mask;
        }
        s->act_tab[j] = a;
    }
    return WD_OK;
}

int wd_cedar_schema_build(struct wd_cedar_schema *s, const struct wd_cedar_raw_schema *raw,
                          struct wd_diag *diag)
{
    struct bctx b = {.s = s, .diag = diag};
    WD_TRY(declare(&b, raw));
    WD_TRY(create_objects(&b, raw));
    WD_TRY(resolve_commons(&b, raw));
    WD_TRY(resolve_entities(&b, raw));
    WD_TRY(resolve_actions(&b, raw));
    WD_TRY(closure_acts(&b));
    WD_TRY(closure_etys(&b));
    WD_TRY(build_indexes(&b));
    return WD_OK;
}

/* ---------------------------------------------------------------------------------------
 * Loading files
 * ------------------------------------------------------------------------------------- */

int wd_cedar_schema_load_file(const char *path, struct wd_cedar_schema **out, struct wd_diag *diag)
{
    struct wd_buf buf;
    int rc;
    WD_ENSURE(path != NULL && out != NULL, WD_EINVAL);
    *out = NULL;
    wd_buf_init(&buf, (size_t)16 << 20);
    rc = wd_file_read(path, (size_t)16 << 20, &buf, diag);
    if (rc == WD_OK) {
        size_t n = strlen(path);
        bool json = n >= 5 && strcmp(path + n - 5, ".json") == 0;
        const char *text = (const char *)buf.p;
        if (json) {
            rc = wd_cedar_schema_parse_json(path, text, buf.len, out, diag);
        } else {
            rc = wd_cedar_schema_parse(path, text, buf.len, out, diag);
        }
    }
    wd_buf_cleanup(&buf);
    return rc;
}
