/*
 * The observation store: striped, read-mostly (see warden/observe.h and
 * docs/internals/observe.md).
 *
 * Layout. NSTRIPES stripes chosen by the entity's hash; each has a read-write lock, a
 * chained hash table of entities and its own counters. An entity holds a small array of
 * tags (linear search: at most max_tags_per_entity), a tag an array of values with their
 * expiry (linear search: at most max_values_per_tag). The number of entities is one
 * atomic counter over all stripes (the max_entities bound is global).
 *
 * Memory. An entity is one allocation (struct + type and id bytes); a tag's name and a
 * value's bytes are one allocation each; arrays grow by doubling. Lookups never allocate.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/doc.h"
#include "warden/file.h"
#include "warden/observe.h"

#define NSTRIPES 16

struct obs_val {
    char *s;
    size_t len;
    int64_t exp; /* ms since the epoch; live while now < exp */
};

struct obs_tag {
    char *name;
    size_t len;
    struct obs_val *v;
    size_t n, cap;
};

struct obs_ent {
    struct obs_ent *next;
    uint32_t hash;
    size_t tlen, idlen;
    const char *type, *id; /* point after the struct */
    struct obs_tag *tags;
    size_t ntags, cap;
};

struct stripe {
    pthread_rwlock_t lock;
    struct obs_ent **b; /* buckets, power of two */
    size_t nb;
    size_t nents, ntags, nvals;
    uint64_t recorded, refreshed, refused, expired;
};

struct wd_obs_store {
    struct wd_obs_limits lim;
    atomic_size_t nentities;
    _Atomic int64_t last_full_purge; /* now_ms of the last purge forced by a full store */
    struct stripe *s; /* NSTRIPES, in the same allocation (not const in a const store) */
};

static uint32_t hash_uid(const char *t, size_t tl, const char *id, size_t il)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < tl; i++) {
        h = (h ^ (uint8_t)t[i]) * 16777619u;
    }
    h = (h ^ 0xffu) * 16777619u;
    for (size_t i = 0; i < il; i++) {
        h = (h ^ (uint8_t)id[i]) * 16777619u;
    }
    return h ^ (h >> 15);
}

static pthread_rwlock_t *lock_of(const struct wd_obs_store *st, size_t i)
{
    /* The lock is the one mutable part of a const store. */
    return &st->s[i].lock;
}

int wd_obs_store_new(const struct wd_obs_limits *lim, struct wd_obs_store **out)
{
    WD_ENSURE(out != NULL, WD_EINVAL);
    *out = NULL;
    WD_ENSURE(lim == NULL || lim->max_ttl_ms >= 0, WD_EINVAL);
    struct wd_obs_store *st = wd_calloc(1, sizeof(*st) + NSTRIPES * sizeof(struct stripe));
    if (st == NULL) {
        return WD_ENOMEM;
    }
    st->s = (struct stripe *)(void *)(st + 1);
    if (lim != NULL) {
        st->lim = *lim;
    }
    if (st->lim.max_entities == 0) {
        st->lim.max_entities = 100000;
    }
    if (st->lim.max_tags_per_entity == 0) {
        st->lim.max_tags_per_entity = 32;
    }
    if (st->lim.max_values_per_tag == 0) {
        st->lim.max_values_per_tag = 1024;
    }
    if (st->lim.max_string == 0) {
        st->lim.max_string = 1024;
    }
    if (st->lim.max_ttl_ms == 0) {
        st->lim.max_ttl_ms = (int64_t)30 * 24 * 3600 * 1000;
    }
    atomic_init(&st->nentities, 0);
    atomic_init(&st->last_full_purge, INT64_MIN);
    size_t i = 0;
    int rc = WD_OK;
    for (; i < NSTRIPES; i++) {
        if (pthread_rwlock_init(&st->s[i].lock, NULL) != 0) {
            rc = WD_ENOMEM;
            break;
        }
        st->s[i].nb = 16;
        st->s[i].b = wd_calloc(st->s[i].nb, sizeof(struct obs_ent *));
        if (st->s[i].b == NULL) {
            (void)pthread_rwlock_destroy(&st->s[i].lock);
            rc = WD_ENOMEM;
            break;
        }
    }
    if (rc < 0) {
        while (i-- > 0) {
            wd_free(st->s[i].b);
            (void)pthread_rwlock_destroy(&st->s[i].lock);
        }
        wd_free(st);
        return rc;
    }
    *out = st;
    return WD_OK;
}

static void tag_free(struct obs_tag *t)
{
    for (size_t i = 0; i < t->n; i++) {
        wd_free(t->v[i].s);
    }
    wd_free(t->v);
    wd_free(t->name);
}

static void ent_free(struct obs_ent *e)
{
    for (size_t i = 0; i < e->ntags; i++) {
        tag_free(&e->tags[i]);
    }
    wd_free(e->tags);
    wd_free(e);
}

void wd_obs_store_free(struct wd_obs_store *st)
{
    if (st == NULL) {
        return;
    }
    for (size_t i = 0; i < NSTRIPES; i++) {
        struct stripe *s = &st->s[i];
        for (size_t j = 0; j < s->nb; j++) {
            struct obs_ent *e = s->b[j];
            while (e != NULL) {
                struct obs_ent *nx = e->next;
                ent_free(e);
                e = nx;
            }
        }
        wd_free(s->b);
        (void)pthread_rwlock_destroy(&s->lock);
    }
    wd_free(st);
}

static struct obs_ent **find_ent(const struct stripe *s, uint32_t h, const char *t, size_t tl,
                                 const char *id, size_t il)
{
    struct obs_ent **pp = &s->b[h & (s->nb - 1)];
    while (*pp != NULL) {
        const struct obs_ent *e = *pp;
        if (e->hash == h && e->tlen == tl && e->idlen == il && memcmp(e->type, t, tl) == 0
            && memcmp(e->id, id, il) == 0) {
            return pp;
        }
        pp = &(*pp)->next;
    }
    return pp;
}

static struct obs_tag *find_tag(const struct obs_ent *e, const char *tag, size_t len)
{
    for (size_t i = 0; i < e->ntags; i++) {
        if (e->tags[i].len == len && memcmp(e->tags[i].name, tag, len) == 0) {
            return &e->tags[i];
        }
    }
    return NULL;
}

/* Drop expired values of t; returns how many. */
static size_t prune_tag(struct stripe *s, struct obs_tag *t, int64_t now)
{
    size_t k = 0, gone = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].exp > now) {
            t->v[k++] = t->v[i];
        } else {
            wd_free(t->v[i].s);
            gone++;
        }
    }
    t->n = k;
    s->nvals -= gone;
    s->expired += gone;
    return gone;
}

/* Drop expired values of e, and its tags left empty; returns the values dropped. */
static size_t prune_ent(struct stripe *s, struct obs_ent *e, int64_t now)
{
    size_t gone = 0, k = 0;
    for (size_t i = 0; i < e->ntags; i++) {
        gone += prune_tag(s, &e->tags[i], now);
        if (e->tags[i].n == 0) {
            tag_free(&e->tags[i]);
            s->ntags--;
        } else {
            e->tags[k++] = e->tags[i];
        }
    }
    e->ntags = k;
    return gone;
}

/* Purge one stripe (write-locked by the caller). */
static size_t purge_stripe(struct wd_obs_store *st, struct stripe *s, int64_t now)
{
    size_t gone = 0;
    for (size_t j = 0; j < s->nb; j++) {
        struct obs_ent **pp = &s->b[j];
        while (*pp != NULL) {
            struct obs_ent *e = *pp;
            gone += prune_ent(s, e, now);
            if (e->ntags == 0) {
                *pp = e->next;
                ent_free(e);
                s->nents--;
                atomic_fetch_sub(&st->nentities, 1);
            } else {
                pp = &e->next;
            }
        }
    }
    return gone;
}

/* Double the bucket array when entities outnumber buckets (failure is harmless). */
static void maybe_rehash(struct stripe *s)
{
    if (s->nents < s->nb || s->nb > ((size_t)1 << 24)) {
        return;
    }
    size_t nnb = s->nb * 2;
    struct obs_ent **nb = wd_calloc(nnb, sizeof(struct obs_ent *));
    if (nb == NULL) {
        return;
    }
    for (size_t j = 0; j < s->nb; j++) {
        struct obs_ent *e = s->b[j];
        while (e != NULL) {
            struct obs_ent *nx = e->next;
            e->next = nb[e->hash & (nnb - 1)];
            nb[e->hash & (nnb - 1)] = e;
            e = nx;
        }
    }
    wd_free(s->b);
    s->b = nb;
    s->nb = nnb;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) {
        return WD_OK;
    }
    size_t ncap = *cap == 0 ? 4 : *cap * 2;
    while (ncap < need) {
        ncap *= 2;
    }
    void *np = wd_reallocarray(*p, ncap, size);
    if (np == NULL) {
        return WD_ENOMEM;
    }
    *p = np;
    *cap = ncap;
    return WD_OK;
}

/* Reserve one entity slot against max_entities. */
static bool take_entity_slot(struct wd_obs_store *st)
{
    size_t cur = atomic_load(&st->nentities);
    while (cur < st->lim.max_entities) {
        if (atomic_compare_exchange_weak(&st->nentities, &cur, cur + 1)) {
            return true;
        }
    }
    return false;
}

/* record_locked: the store has max_entities entities (the caller may purge and retry). */
#define WD_ENOSPC_ENTITIES 1

/* The record itself, with the stripe write-locked. */
static int record_locked(struct wd_obs_store *st, struct stripe *s, uint32_t h, const char *type,
                         size_t tlen, const char *id, size_t idlen, const char *tag, size_t taglen,
                         const char *v, size_t vlen, int64_t exp, int64_t now)
{
    int rc = WD_OK;
    char *vcopy = NULL, *tcopy = NULL;
    struct obs_ent *fresh = NULL;
    struct obs_ent *e = *find_ent(s, h, type, tlen, id, idlen);
    if (e == NULL) {
        if (!take_entity_slot(st)) {
            (void)purge_stripe(st, s, now);
            if (!take_entity_slot(st)) {
                return WD_ENOSPC_ENTITIES;
            }
        }
        fresh = wd_calloc(1, sizeof(*fresh) + tlen + idlen + 2);
        if (fresh == NULL) {
            atomic_fetch_sub(&st->nentities, 1);
            return WD_ENOMEM;
        }
        char *kb = (char *)(fresh + 1);
        memcpy(kb, type, tlen);
        memcpy(kb + tlen + 1, id, idlen);
        fresh->type = kb;
        fresh->id = kb + tlen + 1;
        fresh->tlen = tlen;
        fresh->idlen = idlen;
        fresh->hash = h;
        e = fresh;
    } else {
        (void)prune_ent(s, e, now);
    }
    struct obs_tag *t = find_tag(e, tag, taglen);
    if (t != NULL) {
        for (size_t i = 0; i < t->n; i++) {
            if (t->v[i].len == vlen && memcmp(t->v[i].s, v, vlen) == 0) {
                if (exp > t->v[i].exp) {
                    t->v[i].exp = exp;
                }
                s->refreshed++;
                return WD_OK;
            }
        }
        if (t->n >= st->lim.max_values_per_tag) {
            s->refused++;
            return WD_ELIMIT;
        }
    } else if (e->ntags >= st->lim.max_tags_per_entity) {
        s->refused++;
        rc = WD_ELIMIT;
        goto out;
    }
    vcopy = wd_malloc(vlen + 1);
    if (vcopy == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    if (vlen > 0) {
        memcpy(vcopy, v, vlen);
    }
    vcopy[vlen] = '\0';
    if (t == NULL) {
        tcopy = wd_strndup(tag, taglen);
        if (tcopy == NULL) {
            rc = WD_ENOMEM;
            goto out;
        }
        WD_CHECK(grow((void **)&e->tags, &e->cap, e->ntags + 1, sizeof(*e->tags)));
        t = &e->tags[e->ntags];
        memset(t, 0, sizeof(*t));
        WD_CHECK(grow((void **)&t->v, &t->cap, 1, sizeof(*t->v)));
        t->name = tcopy;
        t->len = taglen;
        tcopy = NULL;
        e->ntags++;
        s->ntags++;
    } else {
        WD_CHECK(grow((void **)&t->v, &t->cap, t->n + 1, sizeof(*t->v)));
    }
    t->v[t->n].s = vcopy;
    t->v[t->n].len = vlen;
    t->v[t->n].exp = exp;
    t->n++;
    vcopy = NULL;
    s->nvals++;
    s->recorded++;
    if (fresh != NULL) {
        /* At the bucket's head: pp may be stale after a purge of the stripe. */
        struct obs_ent **head = &s->b[h & (s->nb - 1)];
        fresh->next = *head;
        *head = fresh;
        fresh = NULL;
        s->nents++;
        maybe_rehash(s);
    }
out:
    wd_free(vcopy);
    wd_free(tcopy);
    if (fresh != NULL) {
        /* Only reached before the fresh entity got a tag. */
        ent_free(fresh);
        atomic_fetch_sub(&st->nentities, 1);
    }
    return rc;
}

int wd_obs_record(struct wd_obs_store *st, const char *type, size_t tlen, const char *id,
                  size_t idlen, const char *tag, size_t taglen, const char *v, size_t vlen,
                  int64_t ttl_ms, int64_t now_ms)
{
    WD_ENSURE(st != NULL && type != NULL && id != NULL && tag != NULL, WD_EINVAL);
    WD_ENSURE(v != NULL || vlen == 0, WD_EINVAL);
    WD_ENSURE(tlen > 0 && idlen > 0 && taglen > 0 && ttl_ms > 0, WD_EINVAL);
    uint32_t h = hash_uid(type, tlen, id, idlen);
    struct stripe *s = &st->s[h % NSTRIPES];
    size_t max = st->lim.max_string;
    if (tlen > max || idlen > max || taglen > max || vlen > max) {
        (void)pthread_rwlock_wrlock(&s->lock);
        s->refused++;
        (void)pthread_rwlock_unlock(&s->lock);
        return WD_ELIMIT;
    }
    if (ttl_ms > st->lim.max_ttl_ms) {
        ttl_ms = st->lim.max_ttl_ms;
    }
    int64_t exp = now_ms > INT64_MAX - ttl_ms ? INT64_MAX : now_ms + ttl_ms;
    (void)pthread_rwlock_wrlock(&s->lock);
    int rc = record_locked(st, s, h, type, tlen, id, idlen, tag, taglen, v, vlen, exp, now_ms);
    (void)pthread_rwlock_unlock(&s->lock);
    if (rc == WD_ENOSPC_ENTITIES) {
        /*
         * Full of entities, and the own stripe had no expired one: purge the whole store
         * (at most once a second of `now`, so a store full of live entities does not turn
         * every refused record into a full scan), then try once more.
         */
        int64_t last = atomic_load(&st->last_full_purge);
        if ((last == INT64_MIN || now_ms - last >= 1000 || now_ms < last)
            && atomic_compare_exchange_strong(&st->last_full_purge, &last, now_ms)) {
            (void)wd_obs_purge(st, now_ms);
            (void)pthread_rwlock_wrlock(&s->lock);
            rc = record_locked(st, s, h, type, tlen, id, idlen, tag, taglen, v, vlen, exp, now_ms);
            (void)pthread_rwlock_unlock(&s->lock);
        }
        if (rc == WD_ENOSPC_ENTITIES) {
            (void)pthread_rwlock_wrlock(&s->lock);
            s->refused++;
            (void)pthread_rwlock_unlock(&s->lock);
            rc = WD_ELIMIT;
        }
    }
    return rc;
}

int wd_obs_record_all(struct wd_obs_store *st, const struct wd_cedar_observations *obs,
                      int64_t now_ms, size_t *nrefused)
{
    if (nrefused != NULL) {
        *nrefused = 0;
    }
    WD_ENSURE(st != NULL && obs != NULL, WD_EINVAL);
    for (size_t i = 0; i < obs->n; i++) {
        const struct wd_cedar_observation *o = &obs->items[i];
        int rc = wd_obs_record(st, o->type, o->type_len, o->id, o->id_len, o->tag, o->tag_len,
                               o->value, o->value_len, o->ttl_ms, now_ms);
        if (rc == WD_ELIMIT || rc == WD_EINVAL) {
            if (nrefused != NULL) {
                (*nrefused)++;
            }
            continue;
        }
        WD_TRY(rc);
    }
    return WD_OK;
}

int wd_obs_lookup(const struct wd_obs_store *st, const char *type, size_t tlen, const char *id,
                  size_t idlen, const char *tag, size_t taglen, int64_t now_ms,
                  int (*fn)(void *arg, const char *v, size_t len), void *arg)
{
    if (st == NULL || type == NULL || id == NULL || tag == NULL) {
        return 0;
    }
    uint32_t h = hash_uid(type, tlen, id, idlen);
    const struct stripe *s = &st->s[h % NSTRIPES];
    int n = 0;
    (void)pthread_rwlock_rdlock(lock_of(st, h % NSTRIPES));
    const struct obs_ent *e = *find_ent(s, h, type, tlen, id, idlen);
    const struct obs_tag *t = e != NULL ? find_tag(e, tag, taglen) : NULL;
    for (size_t i = 0; t != NULL && i < t->n; i++) {
        if (t->v[i].exp <= now_ms) {
            continue;
        }
        if (fn != NULL) {
            int rc = fn(arg, t->v[i].s, t->v[i].len);
            if (rc < 0) {
                n = rc;
                break;
            }
        }
        n++;
    }
    (void)pthread_rwlock_unlock(lock_of(st, h % NSTRIPES));
    return n;
}

static int sink_add(void *arg, const char *v, size_t len)
{
    return wd_cedar_tag_sink_add(arg, v, len);
}

static int tag_lookup(const void *ctx, int64_t now_ms, const char *type, size_t tlen,
                      const char *id, size_t idlen, const char *tag, size_t taglen,
                      struct wd_cedar_tag_sink *sink)
{
    return wd_obs_lookup(ctx, type, tlen, id, idlen, tag, taglen, now_ms,
                         sink != NULL ? sink_add : NULL, sink);
}

void wd_obs_tag_source(const struct wd_obs_store *st, int64_t now_ms,
                       struct wd_cedar_tag_source *out)
{
    if (out == NULL) {
        return;
    }
    out->ctx = st;
    out->now_ms = now_ms;
    out->lookup = tag_lookup;
}

size_t wd_obs_purge(struct wd_obs_store *st, int64_t now_ms)
{
    size_t gone = 0;
    for (size_t i = 0; st != NULL && i < NSTRIPES; i++) {
        (void)pthread_rwlock_wrlock(&st->s[i].lock);
        gone += purge_stripe(st, &st->s[i], now_ms);
        (void)pthread_rwlock_unlock(&st->s[i].lock);
    }
    return gone;
}

void wd_obs_stats(const struct wd_obs_store *st, struct wd_obs_stats *out)
{
    if (out == NULL) {
        return;
    }
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; st != NULL && i < NSTRIPES; i++) {
        const struct stripe *s = &st->s[i];
        (void)pthread_rwlock_rdlock(lock_of(st, i));
        out->entities += s->nents;
        out->tags += s->ntags;
        out->values += s->nvals;
        out->recorded += s->recorded;
        out->refreshed += s->refreshed;
        out->refused += s->refused;
        out->expired += s->expired;
        (void)pthread_rwlock_unlock(lock_of(st, i));
    }
}

/* ---- export / import ---- */

static int export_value(struct wd_buf *out, const struct obs_ent *e, const struct obs_tag *t,
                        const struct obs_val *v)
{
    WD_TRY(wd_buf_append_str(out, "{\"type\":"));
    WD_TRY(wd_json_append_string(out, e->type, e->tlen));
    WD_TRY(wd_buf_append_str(out, ",\"id\":"));
    WD_TRY(wd_json_append_string(out, e->id, e->idlen));
    WD_TRY(wd_buf_append_str(out, ",\"tag\":"));
    WD_TRY(wd_json_append_string(out, t->name, t->len));
    WD_TRY(wd_buf_append_str(out, ",\"value\":"));
    WD_TRY(wd_json_append_string(out, v->s, v->len));
    return wd_buf_printf(out, ",\"expires_ms\":%lld}\n", (long long)v->exp);
}

int wd_obs_export(const struct wd_obs_store *st, int64_t now_ms, struct wd_buf *out)
{
    WD_ENSURE(st != NULL && out != NULL, WD_EINVAL);
    int rc = WD_OK;
    for (size_t i = 0; i < NSTRIPES && rc == WD_OK; i++) {
        const struct stripe *s = &st->s[i];
        (void)pthread_rwlock_rdlock(lock_of(st, i));
        for (size_t j = 0; j < s->nb && rc == WD_OK; j++) {
            for (const struct obs_ent *e = s->b[j]; e != NULL && rc == WD_OK; e = e->next) {
                for (size_t k = 0; k < e->ntags && rc == WD_OK; k++) {
                    const struct obs_tag *t = &e->tags[k];
                    for (size_t m = 0; m < t->n && rc == WD_OK; m++) {
                        if (t->v[m].exp <= now_ms) {
                            continue;
                        }
                        size_t mark = out->len;
                        rc = export_value(out, e, t, &t->v[m]);
                        if (rc < 0) {
                            out->len = mark; /* whole lines only */
                        }
                    }
                }
            }
        }
        (void)pthread_rwlock_unlock(lock_of(st, i));
    }
    return rc;
}

/* One line of an export; WD_EPROTO with diag at (lineno, col of the JSON error). */
static int import_line(struct wd_obs_store *st, const char *file, unsigned lineno, const char *p,
                       size_t n, int64_t now, size_t *nloaded, struct wd_diag *diag)
{
    struct wd_doc *doc = NULL;
    struct wd_diag d;
    const struct wd_node *ty, *id, *tag, *val, *exp;
    int rc = wd_json_parse(NULL, p, n, NULL, &doc, &d);
    if (rc == WD_ENOMEM) {
        return rc;
    }
    if (rc < 0) {
        return wd_diag_set(diag, WD_EPROTO, file, lineno, 0, "%s", d.msg);
    }
    const struct wd_field fields[] = {
            {"type", WD_NODE_STR, WD_FIELD_REQUIRED, &ty},
            {"id", WD_NODE_STR, WD_FIELD_REQUIRED, &id},
            {"tag", WD_NODE_STR, WD_FIELD_REQUIRED, &tag},
            {"value", WD_NODE_STR, WD_FIELD_REQUIRED, &val},
            {"expires_ms", WD_NODE_INT, WD_FIELD_REQUIRED, &exp},
    };
    rc = wd_doc_read_object(doc, wd_doc_root(doc), fields, WD_ARRAY_LEN(fields), &d);
    if (rc == WD_ENOMEM) {
        goto out;
    }
    if (rc < 0) {
        rc = wd_diag_set(diag, WD_EPROTO, file, lineno, 0, "%s", d.msg);
        goto out;
    }
    if (exp->u.i <= now) {
        rc = WD_OK;
        goto out;
    }
    rc = wd_obs_record(st, ty->u.s.p, ty->u.s.len, id->u.s.p, id->u.s.len, tag->u.s.p, tag->u.s.len,
                       val->u.s.p, val->u.s.len, exp->u.i - now, now);
    if (rc == WD_ELIMIT) {
        rc = WD_OK; /* refused by a bound: counted by the store */
    } else if (rc == WD_EINVAL) {
        rc = wd_diag_set(diag, WD_EPROTO, file, lineno, 0, "empty type, id or tag");
    } else if (rc == WD_OK && nloaded != NULL) {
        (*nloaded)++;
    }
out:
    wd_doc_free(doc);
    return rc;
}

int wd_obs_import(struct wd_obs_store *st, const char *file, const char *text, size_t len,
                  int64_t now_ms, size_t *nloaded, struct wd_diag *diag)
{
    if (nloaded != NULL) {
        *nloaded = 0;
    }
    WD_ENSURE(st != NULL && (text != NULL || len == 0), WD_EINVAL);
    size_t pos = 0;
    unsigned lineno = 0;
    while (pos < len) {
        lineno++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        bool blank = true;
        for (size_t i = pos; i < end && blank; i++) {
            blank = text[i] == ' ' || text[i] == '\t' || text[i] == '\r';
        }
        if (!blank) {
            WD_TRY(import_line(st, file, lineno, text + pos, end - pos, now_ms, nloaded, diag));
        }
        pos = end + 1;
    }
    return WD_OK;
}

int wd_obs_save(const struct wd_obs_store *st, const char *path, int64_t now_ms,
                struct wd_diag *diag)
{
    WD_ENSURE(st != NULL && path != NULL, WD_EINVAL);
    struct wd_buf b;
    wd_buf_init(&b, (size_t)256 << 20);
    int rc = wd_obs_export(st, now_ms, &b);
    if (rc == WD_OK) {
        rc = wd_file_write_atomic(path, b.len > 0 ? (const void *)b.p : (const void *)"", b.len,
                                  0600, diag);
    } else {
        (void)wd_diag_set(diag, rc, path, 0, 0, "cannot export observations: %s", wd_strerror(rc));
    }
    wd_buf_cleanup(&b);
    return rc;
}

int wd_obs_load(struct wd_obs_store *st, const char *path, int64_t now_ms, size_t *nloaded,
                struct wd_diag *diag)
{
    if (nloaded != NULL) {
        *nloaded = 0;
    }
    WD_ENSURE(st != NULL && path != NULL, WD_EINVAL);
    struct wd_buf b;
    wd_buf_init(&b, (size_t)256 << 20);
    int rc = wd_file_read(path, (size_t)256 << 20, &b, diag);
    if (rc == WD_OK) {
        rc = wd_obs_import(st, path, (const char *)b.p, b.len, now_ms, nloaded, diag);
    }
    wd_buf_cleanup(&b);
    return rc;
}
