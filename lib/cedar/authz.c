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
 * Resolution. Keys are the policy set's interned uids and type names, compared by pointer.
 * Per decision, each request uid and each of its store ancestors is looked up once in the
 * set's intern table (a hash probe and one byte comparison on a hit); the results (struct
 * wd_cedar_fast: the set's uid pointer, a mark per set uid it equals or descends from, the
 * store entity) let scope constraints and `in` / attribute reads on the request variables
 * run without comparing bytes or searching the store again.
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
    uint32_t *obs; /* observer policies (never candidates for decisions), set order */
    uint32_t nobs;
    uint32_t nkeys_var[NVARS]; /* filed keys per variable: skip probing when 0 */
    bool probe_type[NVARS];    /* some policy filed under a type key of this variable */
};

struct wd_cedar_scratch {
    struct wd_cedar_zone zone;
    uint32_t *mark; /* NVARS rows of (set uids + 1) generation marks: struct wd_cedar_fast */
    size_t nmark;
    struct wd_cedar_fast fast;
    uint32_t *stamp; /* per policy: generation that last saw it */
    size_t nstamp;
    uint32_t gen;
    uint32_t *cand;
    size_t ncand, capcand;
    const char **reasons;
    size_t capreasons;
    struct wd_cedar_policy_error *errors;
    size_t caperrors;
    uint32_t *sel; /* policy indexes: satisfied forbids from the front, permits from the back */
    size_t capsel;
    uint32_t *eidx; /* policy index of each entry of errors[] */
    size_t capeidx;
    struct wd_cedar_observation *obs; /* wd_cedar_observe results */
    size_t capobs;
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
    /* Both are interned in the set (keys come from its scopes, probes are resolved). */
    return k->key == key;
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
        if (ps->policies[i]->observer) {
            az->nobs++;
            continue;
        }
        for (unsigned v = 0; v < NVARS; v++) {
            WD_CHECK(for_keys(az, i, (uint8_t)v, scope_of(ps->policies[i], v), count_key, NULL,
                              &nk));
        }
    }
    for (uint32_t i = 0; i < az->npol; i++) {
        const struct wd_cedar_policy *p = ps->policies[i];
        /* Observers are filed nowhere: wd_cedar_authorize never sees them. */
        unsigned v = p->observer ? NVARS + 1 : choose_var(az, i, p);
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
    az->obs = wd_calloc(az->nobs + 1, sizeof(*az->obs));
    if (az->lists == NULL || az->always == NULL || az->obs == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    az->nlists = total;
    uint32_t na = 0, no = 0;
    for (uint32_t i = 0; i < az->npol; i++) {
        unsigned v = chosen[i];
        if (ps->policies[i]->observer) {
            az->obs[no++] = i;
            continue;
        }
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
    wd_free(az->obs);
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
    wd_free(s->mark);
    wd_free(s->cand);
    wd_free(s->reasons);
    wd_free(s->errors);
    wd_free(s->sel);
    wd_free(s->eidx);
    wd_free(s->obs);
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

static int scratch_prepare(struct wd_cedar_scratch *s, uint32_t npol, size_t nmark)
{
    if (s->nmark < nmark) {
        uint32_t *nm = wd_calloc(nmark, sizeof(*nm));
        if (nm == NULL) {
            return WD_ENOMEM;
        }
        wd_free(s->mark);
        s->mark = nm;
        s->nmark = nmark;
    }
    if (s->nstamp < npol) {
        uint32_t *ns = wd_calloc(npol, sizeof(*ns));
        if (ns == NULL) {
            return WD_ENOMEM;
        }
        wd_free(s->stamp);
        s->stamp = ns;
        s->nstamp = npol;
        /* gen goes on: zeroes never equal a current generation, and the marks (which
           are not cleared here) must not see an old generation again. */
    }
    WD_TRY(grow((void **)&s->cand, &s->capcand, (size_t)npol + 1, sizeof(*s->cand)));
    WD_TRY(grow((void **)&s->reasons, &s->capreasons, (size_t)npol + 1, sizeof(*s->reasons)));
    WD_TRY(grow((void **)&s->errors, &s->caperrors, (size_t)npol + 1, sizeof(*s->errors)));
    WD_TRY(grow((void **)&s->sel, &s->capsel, (size_t)npol + 1, sizeof(*s->sel)));
    WD_TRY(grow((void **)&s->eidx, &s->capeidx, (size_t)npol + 1, sizeof(*s->eidx)));
    s->gen++;
    if (s->gen == 0) {
        if (s->nstamp > 0) {
            memset(s->stamp, 0, s->nstamp * sizeof(*s->stamp));
        }
        if (s->nmark > 0) {
            memset(s->mark, 0, s->nmark * sizeof(*s->mark));
        }
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

/*
 * Resolve request variable v (uid u) against the set and the store into s->fast and the
 * marks, and add the policies filed under its keys to the candidates.
 */
static void resolve(const struct wd_cedar_authz *az, const struct wd_cedar_entities *ents,
                    const struct wd_cedar_euid *u, uint8_t v, struct wd_cedar_scratch *s)
{
    struct wd_cedar_fast *f = &s->fast;
    uint32_t *m = s->mark + (size_t)v * f->stride;
    bool index = az->nkeys_var[v] != 0;
    const struct wd_cedar_euid *pu = wd_cedar_euid_find(az->ps, u);
    const struct wd_cedar_entity *ent = wd_cedar_entities_get(ents, u);
    f->uid[v] = pu != NULL ? pu : u;
    f->type[v] = pu != NULL ? pu->type : wd_cedar_sym_find_sym(az->ps, u->type);
    f->ent[v] = ent;
    if (pu != NULL) {
        m[pu->idx] = s->gen;
        if (index) {
            probe(az, s, v, KEY_UID, pu, pu->hash);
        }
    }
    if (ent != NULL) {
        for (size_t i = 0; i < ent->nanc; i++) {
            const struct wd_cedar_euid *a = wd_cedar_euid_find(az->ps, ent->anc[i]);
            if (a != NULL) {
                m[a->idx] = s->gen;
                if (index) {
                    probe(az, s, v, KEY_UID, a, a->hash);
                }
            }
        }
    }
    if (index && az->probe_type[v] && f->type[v] != NULL) {
        probe(az, s, v, KEY_TYPE, f->type[v], f->type[v]->hash);
    }
}

static void collect(const struct wd_cedar_authz *az, const struct wd_cedar_entities *ents,
                    const struct wd_cedar_euid *const uids[NVARS], struct wd_cedar_scratch *s)
{
    add_list(s, az->always, az->nalways);
    s->fast.ps = az->ps;
    s->fast.mark = s->mark;
    s->fast.gen = s->gen;
    s->fast.stride = az->ps->neuids + 1;
    for (size_t v = 0; v < NVARS; v++) {
        resolve(az, ents, uids[v], (uint8_t)v, s);
    }
}

/* Insertion sort (the lists sorted here are the few satisfied or failed policies). */
static void sort_u32(uint32_t *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint32_t t = v[i];
        size_t j = i;
        while (j > 0 && v[j - 1] > t) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = t;
    }
}

/* errors[0..n) into policy-set order, by their policy indexes eidx[0..n). */
static void sort_errors(struct wd_cedar_scratch *s, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint32_t t = s->eidx[i];
        struct wd_cedar_policy_error e = s->errors[i];
        size_t j = i;
        while (j > 0 && s->eidx[j - 1] > t) {
            s->eidx[j] = s->eidx[j - 1];
            s->errors[j] = s->errors[j - 1];
            j--;
        }
        s->eidx[j] = t;
        s->errors[j] = e;
    }
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

/* Check the arguments, prepare the scratch, collect the candidates and fill *env. */
static int begin(const struct wd_cedar_authz *az, const struct wd_cedar_entities *ents,
                 const struct wd_cedar_tag_source *tags, const struct wd_cedar_request *req,
                 struct wd_cedar_scratch *s, struct wd_cedar_env *env)
{
    WD_ENSURE(az != NULL && ents != NULL && req != NULL && s != NULL, WD_EINVAL);
    WD_ENSURE(wd_cedar_entities_frozen(ents), WD_EINVAL);
    WD_ENSURE(req->principal != NULL && req->action != NULL && req->resource != NULL, WD_EINVAL);
    WD_ENSURE(!req->in_context, WD_EINVAL);
    WD_TRY(scratch_prepare(s, az->npol, (size_t)NVARS * ((size_t)az->ps->neuids + 1)));

    const struct wd_cedar_euid *const uids[NVARS] = {req->principal, req->action, req->resource};
    collect(az, ents, uids, s);

    memset(env, 0, sizeof(*env));
    env->ents = ents;
    env->zone = &s->zone;
    env->principal.kind = WD_CV_ENTITY;
    env->principal.u.uid = s->fast.uid[0];
    env->action.kind = WD_CV_ENTITY;
    env->action.u.uid = s->fast.uid[1];
    env->resource.kind = WD_CV_ENTITY;
    env->resource.u.uid = s->fast.uid[2];
    env->context = req->context;
    env->fast = &s->fast;
    env->tags = tags;
    return WD_OK;
}

int wd_cedar_authorize(const struct wd_cedar_authz *az, const struct wd_cedar_entities *ents,
                       const struct wd_cedar_request *req, struct wd_cedar_scratch *s,
                       struct wd_cedar_response *resp)
{
    return wd_cedar_authorize_ex(az, ents, NULL, req, s, resp);
}

int wd_cedar_authorize_ex(const struct wd_cedar_authz *az, const struct wd_cedar_entities *ents,
                          const struct wd_cedar_tag_source *tags,
                          const struct wd_cedar_request *req, struct wd_cedar_scratch *s,
                          struct wd_cedar_response *resp)
{
    WD_ENSURE(resp != NULL, WD_EINVAL);
    memset(resp, 0, sizeof(*resp));
    struct wd_cedar_env env;
    WD_TRY(begin(az, ents, tags, req, s, &env));

    /*
     * Candidates are evaluated in the order they were collected (every one is evaluated:
     * the order changes nothing but the order of the results). Satisfied forbids fill sel
     * from the front, satisfied permits from the back; they and the errors are put in
     * policy-set order at the end.
     */
    size_t nforbid = 0, npermit = 0, nerr = 0;
    size_t cap = s->capsel;
    for (size_t c = 0; c < s->ncand; c++) {
        uint32_t pi = s->cand[c];
        const struct wd_cedar_policy *p = az->ps->policies[pi];
        env.steps = WD_CEDAR_EVAL_STEPS;
        bool sat = false;
        int rc = wd_cedar_eval_policy(&env, p, &sat);
        if (rc == WD_EDENIED) {
            s->errors[nerr].policy_id = p->id->p;
            s->errors[nerr].code = env.err.code;
            s->errors[nerr].message = error_message(s, &env.err);
            s->eidx[nerr] = pi;
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
            s->sel[nforbid++] = pi;
        } else {
            s->sel[cap - 1 - npermit++] = pi;
        }
    }
    uint32_t *sel = NULL;
    size_t nsel = 0;
    if (nforbid > 0) {
        sel = s->sel;
        nsel = nforbid;
    } else if (npermit > 0) {
        sel = s->sel + cap - npermit;
        nsel = npermit;
        resp->allow = true;
    }
    if (nsel > 0) {
        sort_u32(sel, nsel);
        for (size_t i = 0; i < nsel; i++) {
            s->reasons[i] = az->ps->policies[sel[i]]->id->p;
        }
        resp->reasons = s->reasons;
        resp->nreasons = nsel;
    }
    sort_errors(s, nerr);
    resp->errors = s->errors;
    resp->nerrors = nerr;
    return WD_OK;
}

/* ---- observers ---- */

int wd_cedar_observe(const struct wd_cedar_authz *az, const struct wd_cedar_entities *ents,
                     const struct wd_cedar_tag_source *tags, const struct wd_cedar_request *req,
                     struct wd_cedar_scratch *s, struct wd_cedar_observations *out)
{
    WD_ENSURE(out != NULL, WD_EINVAL);
    memset(out, 0, sizeof(*out));
    struct wd_cedar_env env;
    WD_TRY(begin(az, ents, tags, req, s, &env));
    WD_TRY(grow((void **)&s->obs, &s->capobs, (size_t)az->nobs + 1, sizeof(*s->obs)));
    size_t n = 0, nerr = 0;
    for (uint32_t i = 0; i < az->nobs; i++) {
        uint32_t pi = az->obs[i];
        const struct wd_cedar_policy *p = az->ps->policies[pi];
        const struct wd_cedar_observer *o = p->obs;
        env.steps = WD_CEDAR_EVAL_STEPS;
        bool sat = false;
        struct wd_cedar_value v = {0};
        int rc = wd_cedar_eval_policy(&env, p, &sat);
        if (rc == WD_OK && sat) {
            rc = wd_cedar_eval_expr(&env, o->value, &v);
            if (rc == WD_OK && v.kind != WD_CV_STRING && v.kind != WD_CV_LONG) {
                env.err.expected = "string or long";
                env.err.got = v.kind;
                env.err.code = WD_CEDAR_ERR_TYPE;
                rc = WD_EDENIED;
            }
        }
        if (rc == WD_EDENIED) {
            s->errors[nerr].policy_id = p->id->p;
            s->errors[nerr].code = env.err.code;
            s->errors[nerr].message = error_message(s, &env.err);
            nerr++;
            memset(&env.err, 0, sizeof(env.err));
            continue;
        }
        if (rc < 0) {
            return rc;
        }
        if (!sat) {
            continue;
        }
        struct wd_cedar_observation *ob = &s->obs[n];
        const struct wd_cedar_euid *subj =
                o->subject == WD_CEDAR_OBS_PRINCIPAL  ? env.principal.u.uid
                : o->subject == WD_CEDAR_OBS_RESOURCE ? env.resource.u.uid
                                                      : o->subject_uid;
        ob->policy_id = p->id->p;
        ob->type = subj->type->p;
        ob->type_len = subj->type->len;
        ob->id = subj->id->p;
        ob->id_len = subj->id->len;
        ob->tag = o->tag->p;
        ob->tag_len = o->tag->len;
        ob->ttl_ms = o->ttl_ms;
        if (v.kind == WD_CV_STRING) {
            ob->value = v.u.s.p;
            ob->value_len = v.u.s.len;
        } else {
            char *m = NULL;
            WD_TRY(wd_cedar_zone_alloc(&s->zone, 24, (void **)&m));
            int k = snprintf(m, 24, "%lld", (long long)v.u.l);
            ob->value = m;
            ob->value_len = k > 0 ? (size_t)k : 0;
        }
        n++;
    }
    out->items = s->obs;
    out->n = n;
    out->errors = s->errors;
    out->nerrors = nerr;
    return WD_OK;
}
