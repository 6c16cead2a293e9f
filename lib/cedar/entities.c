/*
 * The Cedar entity store: building entity by entity, duplicate detection, freezing (cycle
 * check and transitive ancestors) and lookups. See entities.h and warden/cedar.h.
 */
#include "cedar/entities.h"

#include <stdio.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/cedar.h"
#include "warden/err.h"

#include "cedar/value.h"

enum build_state {
    ST_IDLE = 0, /* between entities */
    ST_ATTRS,    /* inside begin(): the builder holds the attrs record */
    ST_TAGS,     /* after tags(): the builder holds the tags record */
    ST_FROZEN,
};

struct wd_cedar_entities {
    struct wd_cedar_zone zone;
    struct wd_cedar_vb vb;
    struct wd_cedar_entities_limits lim;
    struct wd_cedar_entity *ents;
    size_t n, cap;
    uint32_t *tab; /* open addressing: entity index + 1, 0 = empty; tab_cap a power of 2 */
    size_t tab_cap;
    const struct wd_cedar_euid **pbuf; /* parents of the entity being built */
    size_t pn, pcap;
    enum build_state state;
    const struct wd_cedar_euid *cur; /* uid of the entity being built */
    const struct wd_cedar_record *cur_attrs;
    size_t nanc_total;
};

#define DEFAULT_MAX_ENTITIES  1000000u
#define DEFAULT_MAX_ANCESTORS 16000000u
#define DEFAULT_MAX_BYTES     ((size_t)1 << 30)

int wd_cedar_entities_new(const struct wd_cedar_entities_limits *lim,
                          struct wd_cedar_entities **out)
{
    WD_ENSURE(out != NULL, WD_EINVAL);
    *out = NULL;
    struct wd_cedar_entities *e = wd_calloc(1, sizeof(*e));
    if (e == NULL) {
        return WD_ENOMEM;
    }
    if (lim != NULL) {
        e->lim = *lim;
    }
    if (e->lim.max_entities == 0) {
        e->lim.max_entities = DEFAULT_MAX_ENTITIES;
    }
    if (e->lim.max_ancestors == 0) {
        e->lim.max_ancestors = DEFAULT_MAX_ANCESTORS;
    }
    if (e->lim.max_bytes == 0) {
        e->lim.max_bytes = DEFAULT_MAX_BYTES;
    }
    wd_cedar_zone_init(&e->zone, 16384, e->lim.max_bytes);
    wd_cedar_vb_init(&e->vb, &e->zone);
    e->state = ST_IDLE;
    *out = e;
    return WD_OK;
}

void wd_cedar_entities_free(struct wd_cedar_entities *e)
{
    if (e == NULL) {
        return;
    }
    wd_cedar_vb_cleanup(&e->vb);
    wd_cedar_zone_cleanup(&e->zone);
    wd_free(e->ents);
    wd_free(e->tab);
    wd_free(e->pbuf);
    wd_free(e);
}

struct wd_cedar_zone *wd_cedar_entities_pool(struct wd_cedar_entities *e)
{
    return &e->zone;
}

struct wd_cedar_vb *wd_cedar_entities_vb(struct wd_cedar_entities *e)
{
    return &e->vb;
}

size_t wd_cedar_entities_count(const struct wd_cedar_entities *e)
{
    return e->n;
}

const struct wd_cedar_entity *wd_cedar_entities_at(const struct wd_cedar_entities *e, size_t i)
{
    return i < e->n ? &e->ents[i] : NULL;
}

/* ---- the uid table ---- */

static size_t tab_find(const struct wd_cedar_entities *e, const struct wd_cedar_euid *uid)
{
    /* Returns the slot holding uid, or the empty slot where it would go. */
    size_t mask = e->tab_cap - 1;
    size_t i = uid->hash & mask;
    for (;;) {
        uint32_t v = e->tab[i];
        if (v == 0 || wd_cedar_euid_eq(e->ents[v - 1].uid, uid)) {
            return i;
        }
        i = (i + 1) & mask;
    }
}

static int tab_grow(struct wd_cedar_entities *e)
{
    size_t ncap = e->tab_cap == 0 ? 64 : e->tab_cap * 2;
    uint32_t *nt = wd_calloc(ncap, sizeof(*nt));
    if (nt == NULL) {
        return WD_ENOMEM;
    }
    wd_free(e->tab);
    e->tab = nt;
    e->tab_cap = ncap;
    for (size_t k = 0; k < e->n; k++) {
        size_t i = tab_find(e, e->ents[k].uid);
        e->tab[i] = (uint32_t)(k + 1);
    }
    return WD_OK;
}

static long find_index(const struct wd_cedar_entities *e, const struct wd_cedar_euid *uid)
{
    if (e->tab_cap == 0) {
        return -1;
    }
    uint32_t v = e->tab[tab_find(e, uid)];
    return v == 0 ? -1 : (long)v - 1;
}

const struct wd_cedar_entity *wd_cedar_entities_get(const struct wd_cedar_entities *e,
                                                    const struct wd_cedar_euid *uid)
{
    long i = find_index(e, uid);
    return i < 0 ? NULL : &e->ents[i];
}

bool wd_cedar_entities_contains(const struct wd_cedar_entities *e, const char *type, size_t tn,
                                const char *id, size_t idn)
{
    if (e == NULL || tn > UINT32_MAX || idn > UINT32_MAX) {
        return false;
    }
    struct wd_cedar_euid u;
    struct wd_cedar_sym ts, is;
    wd_cedar_euid_view(&u, &ts, &is, type, tn, id, idn);
    return wd_cedar_entities_get(e, &u) != NULL;
}

/* ---- ancestors ---- */

static int anc_cmp(const struct wd_cedar_euid *a, const struct wd_cedar_euid *b)
{
    if (a->hash != b->hash) {
        return a->hash < b->hash ? -1 : 1;
    }
    return wd_cedar_euid_cmp(a, b);
}

bool wd_cedar_entity_has_ancestor(const struct wd_cedar_entity *ent,
                                  const struct wd_cedar_euid *uid)
{
    size_t lo = 0, hi = ent->nanc;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ent->anc[mid]->hash < uid->hash) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    for (size_t i = lo; i < ent->nanc && ent->anc[i]->hash == uid->hash; i++) {
        if (wd_cedar_euid_eq(ent->anc[i], uid)) {
            return true;
        }
    }
    return false;
}

bool wd_cedar_entities_in(const struct wd_cedar_entities *e, const struct wd_cedar_euid *a,
                          const struct wd_cedar_euid *b)
{
    if (wd_cedar_euid_eq(a, b)) {
        return true;
    }
    const struct wd_cedar_entity *ent = wd_cedar_entities_get(e, a);
    return ent != NULL && wd_cedar_entity_has_ancestor(ent, b);
}

/* Sort uid pointers with cmp and drop duplicates; returns the new count. No allocation. */
static size_t sort_uids(const struct wd_cedar_euid **v, size_t n,
                        int (*cmp)(const struct wd_cedar_euid *, const struct wd_cedar_euid *))
{
    static const size_t gaps[] = {1750, 701, 301, 132, 57, 23, 10, 4, 1};
    for (size_t g = 0; g < WD_ARRAY_LEN(gaps); g++) {
        size_t gap = gaps[g];
        for (size_t i = gap; i < n; i++) {
            const struct wd_cedar_euid *t = v[i];
            size_t j = i;
            while (j >= gap && cmp(v[j - gap], t) > 0) {
                v[j] = v[j - gap];
                j -= gap;
            }
            v[j] = t;
        }
    }
    if (n < 2) {
        return n;
    }
    size_t out = 1;
    for (size_t i = 1; i < n; i++) {
        if (cmp(v[out - 1], v[i]) != 0) {
            v[out++] = v[i];
        }
    }
    return out;
}

static int fmt_uid(char *buf, size_t n, const struct wd_cedar_euid *u)
{
    struct wd_cedar_value v = {.kind = WD_CV_ENTITY, .u.uid = u};
    return (int)wd_cedar_value_format(&v, buf, n);
}

/* ---- building ---- */

int wd_cedar_entities_begin(struct wd_cedar_entities *e, const char *type, size_t tn,
                            const char *id, size_t idn, struct wd_diag *diag)
{
    WD_ENSURE(e != NULL && e->state == ST_IDLE, WD_EINVAL);
    WD_ENSURE(tn <= UINT32_MAX && idn <= UINT32_MAX, WD_ELIMIT);
    if (!wd_cedar_name_valid(type, tn)) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "invalid entity type name '%.*s'",
                           (int)WD_MIN(tn, 100), type);
    }
    if (e->n >= e->lim.max_entities) {
        return wd_diag_set(diag, WD_ELIMIT, NULL, 0, 0, "more than %zu entities",
                           e->lim.max_entities);
    }
    WD_TRY(wd_cedar_zone_euid(&e->zone, type, tn, id, idn, &e->cur));
    wd_cedar_vb_reset(&e->vb);
    WD_TRY(wd_cedar_vb_begin(&e->vb, true));
    e->pn = 0;
    e->cur_attrs = NULL;
    e->state = ST_ATTRS;
    return WD_OK;
}

int wd_cedar_entities_parent(struct wd_cedar_entities *e, const char *type, size_t tn,
                             const char *id, size_t idn, struct wd_diag *diag)
{
    WD_ENSURE(e != NULL && (e->state == ST_ATTRS || e->state == ST_TAGS), WD_EINVAL);
    WD_ENSURE(tn <= UINT32_MAX && idn <= UINT32_MAX, WD_ELIMIT);
    if (!wd_cedar_name_valid(type, tn)) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "invalid entity type name '%.*s'",
                           (int)WD_MIN(tn, 100), type);
    }
    if (e->pn == e->pcap) {
        size_t ncap = e->pcap == 0 ? 8 : e->pcap * 2;
        const struct wd_cedar_euid **np =
                wd_reallocarray(e->pbuf, ncap, sizeof(const struct wd_cedar_euid *));
        if (np == NULL) {
            return WD_ENOMEM;
        }
        e->pbuf = np;
        e->pcap = ncap;
    }
    const struct wd_cedar_euid *u = NULL;
    WD_TRY(wd_cedar_zone_euid(&e->zone, type, tn, id, idn, &u));
    e->pbuf[e->pn++] = u;
    return WD_OK;
}

static int finish_record(struct wd_cedar_entities *e, const struct wd_cedar_record **out,
                         struct wd_diag *diag)
{
    int rc = wd_cedar_vb_end(&e->vb);
    if (rc == WD_EEXIST) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "duplicate key '%.*s'",
                           (int)WD_MIN(e->vb.dup_key_len, 100), e->vb.dup_key);
    }
    WD_TRY(rc);
    struct wd_cedar_value v;
    WD_TRY(wd_cedar_vb_take(&e->vb, &v));
    *out = v.u.rec;
    return WD_OK;
}

int wd_cedar_entities_tags(struct wd_cedar_entities *e, struct wd_diag *diag)
{
    WD_ENSURE(e != NULL && e->state == ST_ATTRS && e->vb.depth == 1, WD_EINVAL);
    WD_TRY(finish_record(e, &e->cur_attrs, diag));
    WD_TRY(wd_cedar_vb_begin(&e->vb, true));
    e->state = ST_TAGS;
    return WD_OK;
}

static bool same_entity(const struct wd_cedar_entity *a, const struct wd_cedar_entity *b)
{
    struct wd_cedar_value va = {.kind = WD_CV_RECORD, .u.rec = a->attrs};
    struct wd_cedar_value vb = {.kind = WD_CV_RECORD, .u.rec = b->attrs};
    if (!wd_cedar_value_eq(&va, &vb)) {
        return false;
    }
    va.u.rec = a->tags;
    vb.u.rec = b->tags;
    if (!wd_cedar_value_eq(&va, &vb) || a->nparents != b->nparents) {
        return false;
    }
    for (size_t i = 0; i < a->nparents; i++) {
        if (!wd_cedar_euid_eq(a->parents[i], b->parents[i])) {
            return false;
        }
    }
    return true;
}

int wd_cedar_entities_end(struct wd_cedar_entities *e, struct wd_diag *diag)
{
    WD_ENSURE(e != NULL && (e->state == ST_ATTRS || e->state == ST_TAGS) && e->vb.depth == 1,
              WD_EINVAL);
    struct wd_cedar_entity ent;
    memset(&ent, 0, sizeof(ent));
    ent.uid = e->cur;
    if (e->state == ST_ATTRS) {
        WD_TRY(finish_record(e, &ent.attrs, diag));
        ent.tags = &wd_cedar_empty_record;
    } else {
        ent.attrs = e->cur_attrs;
        WD_TRY(finish_record(e, &ent.tags, diag));
    }
    size_t np = sort_uids(e->pbuf, e->pn, wd_cedar_euid_cmp);
    if (np > 0) {
        const struct wd_cedar_euid **pp = NULL;
        WD_TRY(wd_cedar_zone_alloc(&e->zone, np * sizeof(const struct wd_cedar_euid *),
                                   (void **)&pp));
        memcpy(pp, e->pbuf, np * sizeof(const struct wd_cedar_euid *));
        ent.parents = pp;
    }
    ent.nparents = np;
    e->state = ST_IDLE;
    e->pn = 0;

    /* Cedar accepts an entity listed twice only when both entries are identical. */
    long dup = find_index(e, ent.uid);
    if (dup >= 0) {
        if (same_entity(&e->ents[dup], &ent)) {
            return WD_OK;
        }
        char u[160];
        (void)fmt_uid(u, sizeof(u), ent.uid);
        return wd_diag_set(diag, WD_EEXIST, NULL, 0, 0, "duplicate entity entry %s", u);
    }
    if ((e->n + 1) * 2 > e->tab_cap) {
        WD_TRY(tab_grow(e));
    }
    if (e->n == e->cap) {
        size_t ncap = e->cap == 0 ? 16 : e->cap * 2;
        struct wd_cedar_entity *ne = wd_reallocarray(e->ents, ncap, sizeof(*ne));
        if (ne == NULL) {
            return WD_ENOMEM;
        }
        e->ents = ne;
        e->cap = ncap;
    }
    e->ents[e->n] = ent;
    size_t slot = tab_find(e, ent.uid);
    e->tab[slot] = (uint32_t)(e->n + 1);
    e->n++;
    return WD_OK;
}

void wd_cedar_entities_abort(struct wd_cedar_entities *e)
{
    if (e != NULL && e->state != ST_FROZEN) {
        wd_cedar_vb_reset(&e->vb);
        e->state = ST_IDLE;
        e->pn = 0;
    }
}

/* ---- freezing ---- */

struct dfs_frame {
    size_t idx;  /* entity index */
    size_t next; /* next parent to visit */
};

struct anc_buf {
    const struct wd_cedar_euid **v;
    size_t n, cap;
};

static int anc_push(struct anc_buf *b, const struct wd_cedar_euid *u)
{
    if (b->n == b->cap) {
        size_t ncap = b->cap == 0 ? 64 : b->cap * 2;
        const struct wd_cedar_euid **nv =
                wd_reallocarray(b->v, ncap, sizeof(const struct wd_cedar_euid *));
        if (nv == NULL) {
            return WD_ENOMEM;
        }
        b->v = nv;
        b->cap = ncap;
    }
    b->v[b->n++] = u;
    return WD_OK;
}

/* All parents of ent are done: ancestors = parents plus their ancestors. */
static int compute_anc(struct wd_cedar_entities *e, struct wd_cedar_entity *ent,
                       struct anc_buf *buf, struct wd_diag *diag)
{
    buf->n = 0;
    for (size_t i = 0; i < ent->nparents; i++) {
        WD_TRY(anc_push(buf, ent->parents[i]));
        long p = find_index(e, ent->parents[i]);
        if (p >= 0) {
            const struct wd_cedar_entity *pe = &e->ents[p];
            for (size_t k = 0; k < pe->nanc; k++) {
                WD_TRY(anc_push(buf, pe->anc[k]));
            }
        }
    }
    size_t n = sort_uids(buf->v, buf->n, anc_cmp);
    if (n > e->lim.max_ancestors - e->nanc_total) {
        return wd_diag_set(diag, WD_ELIMIT, NULL, 0, 0,
                           "entity hierarchy too large (more than %zu ancestor entries)",
                           e->lim.max_ancestors);
    }
    e->nanc_total += n;
    if (n > 0) {
        /* sort_uids returns at most buf->n, and buf->v holds buf->n entries. */
        WD_BUG_ON(buf->v == NULL);
        const struct wd_cedar_euid **a = NULL;
        WD_TRY(wd_cedar_zone_alloc(&e->zone, n * sizeof(const struct wd_cedar_euid *),
                                   (void **)&a));
        memcpy(a, buf->v, n * sizeof(const struct wd_cedar_euid *));
        ent->anc = a;
    }
    ent->nanc = n;
    return WD_OK;
}

int wd_cedar_entities_freeze(struct wd_cedar_entities *e, struct wd_diag *diag)
{
    WD_ENSURE(e != NULL && e->state == ST_IDLE, WD_EINVAL);
    int rc = WD_OK;
    uint8_t *color = NULL; /* 0 white, 1 on the stack, 2 done */
    struct dfs_frame *stack = NULL;
    struct anc_buf buf = {0};
    if (e->n > 0) {
        color = wd_calloc(e->n, 1);
        stack = wd_calloc(e->n, sizeof(*stack));
        if (color == NULL || stack == NULL) {
            rc = WD_ENOMEM;
            goto out;
        }
    }
    e->nanc_total = 0;
    for (size_t root = 0; root < e->n; root++) {
        if (color[root] != 0) {
            continue;
        }
        size_t sp = 0;
        stack[sp++] = (struct dfs_frame){.idx = root, .next = 0};
        color[root] = 1;
        while (sp > 0) {
            struct dfs_frame *f = &stack[sp - 1];
            struct wd_cedar_entity *ent = &e->ents[f->idx];
            if (f->next < ent->nparents) {
                long p = find_index(e, ent->parents[f->next++]);
                if (p < 0 || color[p] == 2) {
                    continue;
                }
                if (color[p] == 1) {
                    char u[160];
                    (void)fmt_uid(u, sizeof(u), e->ents[p].uid);
                    rc = wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                                     "entity hierarchy has a cycle containing %s", u);
                    goto out;
                }
                color[p] = 1;
                /* sp < n: every entity is on the stack at most once. */
                stack[sp++] = (struct dfs_frame){.idx = (size_t)p, .next = 0};
                continue;
            }
            WD_CHECK(compute_anc(e, ent, &buf, diag));
            color[f->idx] = 2;
            sp--;
        }
    }
    wd_free(e->pbuf);
    e->pbuf = NULL;
    e->pcap = 0;
    wd_cedar_vb_cleanup(&e->vb);
    e->state = ST_FROZEN;
out:
    wd_free(buf.v);
    wd_free(stack);
    wd_free(color);
    return rc;
}

bool wd_cedar_entities_frozen(const struct wd_cedar_entities *e)
{
    return e != NULL && e->state == ST_FROZEN;
}
