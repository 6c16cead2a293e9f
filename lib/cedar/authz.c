/*
 * The Cedar authorizer: a scope index over a policy set, per-thread scratch memory, and
 * the decision procedure (default deny; a satisfied forbid denies; else a satisfied permit
 * allows; erroring policies are skipped and reported).
 *
 * Index. Every policy is filed under the keys of ONE of its three scope constraints:
 *   principal/resource `== E`, `in E`, `is T in E`  -> key (var, uid E)
 *   principal/resource `is T`                      -> key (var, type T)
 *   action `== E`, `in E`                          -> key (action, uid E)
 *   action `in [E1, E2, ...]`                      -> keys (action, Ei) for each i
 * choosing the constraint whose keys are shared by the fewest policies (so a mesh where
 * every policy names the same action is indexed by principal or resource instead).
 * Policies without any constraint go on the "always" list. A request probes, for each
 * variable with value V: the uid V, every ancestor of V in the entity store, and the type
 * of V; the union of the lists found (deduplicated with a generation stamp) plus the
 * always list are the candidates, which are then evaluated in full (scope first). A
 * decision therefore costs O(ancestors x probes + candidates), not O(policies).
 *
 * Memory. The authz is immutable after wd_cedar_authz_new. The scratch holds the
 * evaluation zone, the stamp array, the candidate list and the response arrays; all are
 * reused, so once a scratch has served the largest request it will see, a decision makes
 * no heap allocation.
 */
#include <stdio.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/cedar.h"
#include "warden/err.h"

#include "cedar/ast.h"
#include "cedar/entities.h"
#include "cedar/eval.h"
#include "cedar/request.h"
#include "cedar/value.h"

enum { KEY_UID = 0, KEY_TYPE = 1 };
enum { NVARS = 3 };

struct ikey {
    const void *key; /* struct wd_cedar_euid (KEY_UID) or struct wd_cedar_sym (KEY_TYPE) */
    uint32_t hash;
    uint8_t var;
    uint8_t kind;
    uint32_t count;  /* policies with this key on any variable (selectivity estimate) */
    uint32_t fcount; /* policies filed under this key */
    uint32_t start;  /* first index in lists[] */
};

struct wd_cedar_authz {
    const struct wd_cedar_policyset *ps;
    uint32_t npol;
    struct ikey *tab; /* open addressing; key == NULL: empty */
    size_t tab_cap;   /* power of two */
    uint32_t *lists;
    size_t nlists;
    uint32_t *always;
    uint32_t nalways;
    uint32_t nkeys_var[NVARS]; /* filed keys per variable: skip probing when 0 */
    bool probe_type[NVARS];    /* some policy filed under a type key of this variable */
};

struct wd_cedar_scratch {
    struct wd_cedar_zone zone;
    uint32_t *stamp; /* per policy: generation that last saw it */
    size_t nstamp;
    uint32_t gen;
    uint32_t *cand;
    size_t ncand, capcand;
    const char **reasons;
    size_t capreasons;
    struct wd_cedar_policy_error *errors;
    size_t caperrors;
};

/* ---- keys of a policy ---- */

static const struct wd_cedar_scope *scope_of(const struct wd_cedar_policy *p, unsigned var)
{
    return var == 0 ? &p->principal : var == 1 ? &p->action : &p->resource;
}

/*
 * Calls fn for each index key of one scope constraint. Returns the number of keys (0: the
 * constraint cannot be indexed: ANY, or a slot).
 */
typedef int (*key_fn)(struct wd_cedar_authz *az, uint32_t pol, uint8_t var, uint8_t kind,
                      const void *key, uint32_t hash, void *arg);

static int for_keys(struct wd_cedar_authz *az, uint32_t pol, uint8_t var,
                    const struct wd_cedar_scope *sc, key_fn fn, void *arg, size_t *nkeys)
{
    *nkeys = 0;
    if (sc->slot) {
        return WD_OK;
    }
    switch ((enum wd_cedar_scope_op)sc->op) {
    case WD_CEDAR_SCOPE_ANY:
        return WD_OK;
    case WD_CEDAR_SCOPE_EQ:
    case WD_CEDAR_SCOPE_IN:
    case WD_CEDAR_SCOPE_IS_IN:
        *nkeys = 1;
        return fn(az, pol, var, KEY_UID, sc->euid, sc->euid->hash, arg);
    case WD_CEDAR_SCOPE_IS:
        *nkeys = 1;
        return fn(az, pol, var, KEY_TYPE, sc->type, sc->type->hash, arg);
    case WD_CEDAR_SCOPE_IN_SET:
        for (uint32_t i = 0; i < sc->n; i++) {
            bool seen = false;
            for (uint32_t j = 0; j < i && !seen; j++) {
                seen = wd_cedar_euid_eq(sc->euids[j], sc->euids[i]);
            }
            if (!seen) {
                (*nkeys)++;
                WD_TRY(fn(az, pol, var, KEY_UID, sc->euids[i], sc->euids[i]->hash, arg));
            }
        }
        /* An empty action list matches nothing: file it under no key at all. */
        if (sc->n == 0) {
            *nkeys = SIZE_MAX;
        }
        return WD_OK;
    }
    return WD_OK;
}

static bool key_eq(const struct ikey *k, uint8_t var, uint8_t kind, const void *key, uint32_t hash)
{
    if (k->var != var || k->kind != kind || k->hash != hash) {
        return false;
    }
    if (kind == KEY_UID) {
        return wd_cedar_euid_eq(k->key, key);
    }
    return wd_cedar_sym_eq(k->key, key);
}

static struct ikey *tab_slot(const struct wd_cedar_authz *az, uint8_t var, uint8_t kind,
                             const void *key, uint32_t hash)
{
    size_t mask = az->tab_cap - 1;
    size_t i = (hash ^ ((uint32_t)var * 0x9e3779b1u) ^ kind) & mask;
    for (;;) {
        struct ikey *k = &az->tab[i];
        if (k->key == NULL || key_eq(k, var, kind, key, hash)) {
            return k;
        }
        i = (i + 1) & mask;
    }
}

static const struct ikey *tab_get(const struct wd_cedar_authz *az, uint8_t var, uint8_t kind,
                                  const void *key, uint32_t hash)
{
    if (az->tab_cap == 0) {
        return NULL;
    }
    const struct ikey *k = tab_slot(az, var, kind, key, hash);
    return k->key == NULL ? NULL : k;
}

static int count_key(struct wd_cedar_authz *az, uint32_t pol, uint8_t var, uint8_t kind,
                     const void *key, uint32_t hash, void *arg)
{
    (void)pol;
    (void)arg;
    struct ikey *k = tab_slot(az, var, kind, key, hash);
    if (k->key == NULL) {
        k->key = key;
        k->hash = hash;
        k->var = var;
        k->kind = kind;
    }
    k->count++;
    return WD_OK;
}

static int sum_key(struct wd_cedar_authz *az, uint32_t pol, uint8_t var, uint8_t kind,
                   const void *key, uint32_t hash, void *arg)
{
    (void)pol;
    const struct ikey *k = tab_get(az, var, kind, key, hash);
    *(uint64_t *)arg += k != NULL ? k->count : 0;
    return WD_OK;
}

static int file_key(struct wd_cedar_authz *az, uint32_t pol, uint8_t var, uint8_t kind,
                    const void *key, uint32_t hash, void *arg)
{
    struct ikey *k = tab_slot(az, var, kind, key, hash);
    if (arg == NULL) {
        k->fcount++;
    } else {
        az->lists[k->start + k->fcount++] = pol;
    }
    return WD_OK;
}

/* The variable to file policy p under (NVARS: always list, NVARS+1: matches nothing). */
static unsigned choose_var(struct wd_cedar_authz *az, uint32_t pol, const struct wd_cedar_policy *p)
{
    unsigned best = NVARS;
    uint64_t best_cost = UINT64_MAX;
    for (unsigned v = 0; v < NVARS; v++) {
        size_t nk = 0;
        uint64_t cost = 0;
        (void)for_keys(az, pol, (uint8_t)v, scope_of(p, v), sum_key, &cost, &nk);
        if (nk == SIZE_MAX) {
            return NVARS + 1;
        }
        if (nk > 0 && cost < best_cost) {
            best = v;
            best_cost = cost;
        }
    }
    return best;
}

int wd_cedar_authz_new(const struct wd_cedar_policyset *ps, struct wd_cedar_authz **out)
{
    WD_ENSURE(ps != NULL && out != NULL, WD_EINVAL);
    *out = NULL;
    int rc = WD_OK;
    uint8_t *chosen = NULL;
    struct wd_cedar_authz *az = wd_calloc(1, sizeof(*az));
    if (az == NULL) {
        return WD_ENOMEM;
    }
    az->ps = ps;
    az->npol = ps->npolicies;
    size_t nkeys = 0;
    for (uint32_t i = 0; i < az->npol; i++) {
        const struct wd_cedar_policy *p = ps->policies[i];
        for (unsigned v = 0; v < NVARS; v++) {
            const struct wd_cedar_scope *sc = scope_of(p, v);
            nkeys += sc->op == WD_CEDAR_SCOPE_IN_SET ? sc->n : 1;
        }
    }
    az->tab_cap = 16;
    while (az->tab_cap < 2 * nkeys + 2) {
        az->tab_cap *= 2;
    }
    az->tab = wd_calloc(az->tab_cap, sizeof(*az->tab));
    chosen = wd_calloc(az->npol + 1, 1);
    if (az->tab == NULL || chosen == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    size_t nk;
    for (uint32_t i = 0; i < az->npol; i++) {
        for (unsigned v = 0; v < NVARS; v++) {
            WD_CHECK(for_keys(az, i, (uint8_t)v, scope_of(ps->policies[i], v), count_key, NULL,
                              &nk));
        }
    }
    for (uint32_t i = 0; i < az->npol; i++) {
        const struct wd_cedar_policy *p = ps->policies[i];
        unsigned v = choose_var(az, i, p);
        chosen[i] = (uint8_t)v;
        if (v < NVARS) {
            WD_CHECK(for_keys(az, i, (uint8_t)v, scope_of(p, v), file_key, NULL, &nk));
        } else if (v == NVARS) {
            az->nalways++;
        }
    }
    size_t total = 0;
    for (size_t k = 0; k < az->tab_cap; k++) {
        struct ikey *key = &az->tab[k];
        if (key->key != NULL && key->fcount > 0) {
            key->start = (uint32_t)total;
            total += key->fcount;
            key->fcount = 0;
            az->nkeys_var[key->var]++;
            if (key->kind == KEY_TYPE) {
                az->probe_type[key->var] = true;
            }
        }
    }
    az->lists = wd_calloc(total + 1, sizeof(*az->lists));
    az->always = wd_calloc(az->nalways + 1, sizeof(*az->always));
    if (az->lists == NULL || az->always == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    az->nlists = total;
    uint32_t na = 0;
    for (uint32_t i = 0; i < az->npol; i++) {
        unsigned v = chosen[i];
        if (v < NVARS) {
            WD_CHECK(for_keys(az, i, (uint8_t)v, scope_of(ps->policies[i], v), file_key, az, &nk));
        } else if (v == NVARS) {
            az->always[na++] = i;
        }
    }
    *out = az;
    az = NULL;
out:
    wd_free(chosen);
    wd_cedar_authz_free(az);
    return rc;
}

void wd_cedar_authz_free(struct wd_cedar_authz *az)
{
    if (az == NULL) {
        return;
    }
    wd_free(az->tab);
    wd_free(az->lists);
    wd_free(az->always);
    wd_free(az);
}

/* ---- scratch ---- */

int wd_cedar_scratch_new(struct wd_cedar_scratch **out)
{
    WD_ENSURE(out != NULL, WD_EINVAL);
    struct wd_cedar_scratch *s = wd_calloc(1, sizeof(*s));
    if (s == NULL) {
        *out = NULL;
        return WD_ENOMEM;
    }
    wd_cedar_zone_init(&s->zone, 16384, (size_t)256 << 20);
    *out = s;
    return WD_OK;
}

void wd_cedar_scratch_free(struct wd_cedar_scratch *s)
{
    if (s == NULL) {
        return;
    }
    wd_cedar_zone_cleanup(&s->zone);
    wd_free(s->stamp);
    wd_free(s->cand);
    wd_free(s->reasons);
    wd_free(s->errors);
    wd_free(s);
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) {
        return WD_OK;
    }
    size_t ncap = *cap == 0 ? 16 : *cap;
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

static int scratch_prepare(struct wd_cedar_scratch *s, uint32_t npol)
{
    if (s->nstamp < npol) {
        uint32_t *ns = wd_calloc(npol, sizeof(*ns));
        if (ns == NULL) {
            return WD_ENOMEM;
        }
        wd_free(s->stamp);
        s->stamp = ns;
        s->nstamp = npol;
        s->gen = 0;
    }
    WD_TRY(grow((void **)&s->cand, &s->capcand, (size_t)npol + 1, sizeof(*s->cand)));
    WD_TRY(grow((void **)&s->reasons, &s->capreasons, (size_t)npol + 1, sizeof(*s->reasons)));
    WD_TRY(grow((void **)&s->errors, &s->caperrors, (size_t)npol + 1, sizeof(*s->errors)));
    s->gen++;
    if (s->gen == 0) {
        memset(s->stamp, 0, s->nstamp * sizeof(*s->stamp));
        s->gen = 1;
    }
    s->ncand = 0;
    wd_cedar_zone_reset(&s->zone);
    return WD_OK;
}

static void add_list(struct wd_cedar_scratch *s, const uint32_t *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t p = list[i];
        if (s->stamp[p] != s->gen) {
            s->stamp[p] = s->gen;
            s->cand[s->ncand++] = p;
        }
    }
}

static void probe(const struct wd_cedar_authz *az, struct wd_cedar_scratch *s, uint8_t var,
                  uint8_t kind, const void *key, uint32_t hash)
{
    const struct ikey *k = tab_get(az, var, kind, key, hash);
    if (k != NULL && k->fcount > 0) {
        add_list(s, az->lists + k->start, k->fcount);
    }
}

static void collect(const struct wd_cedar_authz *az, const struct wd_cedar_entities *ents,
                    const struct wd_cedar_euid *const uids[NVARS], struct wd_cedar_scratch *s)
{
    add_list(s, az->always, az->nalways);
    for (size_t v = 0; v < NVARS; v++) {
        if (az->nkeys_var[v] == 0) {
            continue;
        }
        const struct wd_cedar_euid *u = uids[v];
        probe(az, s, (uint8_t)v, KEY_UID, u, u->hash);
        const struct wd_cedar_entity *ent = wd_cedar_entities_get(ents, u);
        if (ent != NULL) {
            for (size_t i = 0; i < ent->nanc; i++) {
                probe(az, s, (uint8_t)v, KEY_UID, ent->anc[i], ent->anc[i]->hash);
            }
        }
        if (az->probe_type[v]) {
            probe(az, s, (uint8_t)v, KEY_TYPE, u->type, u->type->hash);
        }
    }
}

static void sort_u32(uint32_t *v, size_t n)
{
    static const size_t gaps[] = {1750, 701, 301, 132, 57, 23, 10, 4, 1};
    for (size_t g = 0; g < WD_ARRAY_LEN(gaps); g++) {
        size_t gap = gaps[g];
        for (size_t i = gap; i < n; i++) {
            uint32_t t = v[i];
            size_t j = i;
            while (j >= gap && v[j - gap] > t) {
                v[j] = v[j - gap];
                j -= gap;
            }
            v[j] = t;
        }
    }
}

/* Candidates in policy-set order: sort a short list, or scan the stamps for a long one. */
static void order_candidates(const struct wd_cedar_authz *az, struct wd_cedar_scratch *s)
{
    if (s->ncand <= 64 || s->ncand * 8 < az->npol) {
        sort_u32(s->cand, s->ncand);
        return;
    }
    size_t n = 0;
    for (uint32_t i = 0; i < az->npol; i++) {
        if (s->stamp[i] == s->gen) {
            s->cand[n++] = i;
        }
    }
    s->ncand = n;
}

static const char *error_message(struct wd_cedar_scratch *s, const struct wd_cedar_everr *err)
{
    char *m = NULL;
    if (wd_cedar_zone_alloc(&s->zone, 256, (void **)&m) < 0) {
        return "evaluation error";
    }
    (void)wd_cedar_everr_format(err, m, 256);
    return m;
}

int wd_cedar_authorize(const struct wd_cedar_authz *az, const struct wd_cedar_entities *ents,
                       const struct wd_cedar_request *req, struct wd_cedar_scratch *s,
                       struct wd_cedar_response *resp)
{
    WD_ENSURE(resp != NULL, WD_EINVAL);
    memset(resp, 0, sizeof(*resp));
    WD_ENSURE(az != NULL && ents != NULL && req != NULL && s != NULL, WD_EINVAL);
    WD_ENSURE(wd_cedar_entities_frozen(ents), WD_EINVAL);
    WD_ENSURE(req->principal != NULL && req->action != NULL && req->resource != NULL, WD_EINVAL);
    WD_ENSURE(!req->in_context, WD_EINVAL);
    WD_TRY(scratch_prepare(s, az->npol));

    const struct wd_cedar_euid *const uids[NVARS] = {req->principal, req->action, req->resource};
    collect(az, ents, uids, s);
    order_candidates(az, s);

    struct wd_cedar_env env;
    memset(&env, 0, sizeof(env));
    env.ents = ents;
    env.zone = &s->zone;
    env.principal.kind = WD_CV_ENTITY;
    env.principal.u.uid = req->principal;
    env.action.kind = WD_CV_ENTITY;
    env.action.u.uid = req->action;
    env.resource.kind = WD_CV_ENTITY;
    env.resource.u.uid = req->resource;
    env.context = req->context;

    /* Satisfied forbids fill reasons from the front, satisfied permits from the back
     * (reversed at the end), so both keep policy-set order without a second array. */
    size_t nforbid = 0, npermit = 0, nerr = 0;
    size_t cap = s->capreasons;
    for (size_t c = 0; c < s->ncand; c++) {
        const struct wd_cedar_policy *p = az->ps->policies[s->cand[c]];
        env.steps = WD_CEDAR_EVAL_STEPS;
        bool sat = false;
        int rc = wd_cedar_eval_policy(&env, p, &sat);
        if (rc == WD_EDENIED) {
            s->errors[nerr].policy_id = p->id->p;
            s->errors[nerr].code = env.err.code;
            s->errors[nerr].message = error_message(s, &env.err);
            nerr++;
            continue;
        }
        if (rc < 0) {
            /* Out of memory or over a limit: no decision can be trusted; deny. */
            memset(resp, 0, sizeof(*resp));
            return rc;
        }
        if (!sat) {
            continue;
        }
        if (p->effect == WD_CEDAR_FORBID) {
            s->reasons[nforbid++] = p->id->p;
        } else {
            s->reasons[cap - 1 - npermit++] = p->id->p;
        }
    }
    if (nforbid > 0) {
        resp->allow = false;
        resp->reasons = s->reasons;
        resp->nreasons = nforbid;
    } else if (npermit > 0) {
        const char **r = s->reasons + cap - npermit;
        for (size_t i = 0; i < npermit / 2; i++) {
            const char *t = r[i];
            r[i] = r[npermit - 1 - i];
            r[npermit - 1 - i] = t;
        }
        resp->allow = true;
        resp->reasons = r;
        resp->nreasons = npermit;
    }
    resp->errors = s->errors;
    resp->nerrors = nerr;
    return WD_OK;
}
