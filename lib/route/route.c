/*
 * Route templates compiled into a segment trie (include/warden/route.h,
 * docs/internals/detect.md "Routes").
 *
 * Each trie node has a sorted array of literal children (binary search by decoded segment),
 * at most one parameter child, the route that ends at the node, and the catch-all route
 * that takes the rest of the path from the node. A template's shape (the sequence of
 * literal/parameter/catch-all segments) names exactly one end slot, so two templates that
 * would tie land on the same slot and the build reports the conflict.
 */
#include "warden/route.h"

#include <stdio.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/err.h"
#include "warden/log.h"

struct route {
    char *name;
    char *tmpl;
    size_t nparams;
    char **pnames; /* nparams names, in template order */
};

struct rnode;

struct rlit {
    char *s;
    size_t len;
    struct rnode *child;
};

struct rnode {
    struct rlit *lits; /* sorted by (len, bytes) */
    size_t nlits, caplits;
    struct rnode *param;
    const struct route *end;  /* template ends at this node */
    const struct route *rest; /* catch-all starting at this node's next segment */
};

struct wd_route_set {
    struct route *routes;
    size_t n;
    struct rnode *root;
};

/* ---------- characters ---------- */

/* RFC 3986 §3.3: pchar = unreserved / pct-encoded / sub-delims / ":" / "@" (without '%'). */
static bool is_pchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return strchr("-._~!$&'()*+,;=:@", c) != NULL && c != '\0';
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static bool name_valid(const char *s, size_t n)
{
    if (n == 0 || n > WD_ROUTE_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
              || c == '.' || c == '-')) {
            return false;
        }
    }
    return true;
}

/* Parameter names become Cedar record attributes (context.params.NAME): identifiers. */
static bool param_name_valid(const char *s, size_t n)
{
    if (n == 0 || n > WD_ROUTE_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && (i == 0 || !(c >= '0' && c <= '9'))) {
            return false;
        }
    }
    return true;
}

/* RFC 3629 well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF). */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        } else {
            return false;
        }
        if (n - i <= k) {
            return false;
        }
        if (s[i + 1] < lo || s[i + 1] > hi) {
            return false;
        }
        for (size_t j = 2; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) {
                return false;
            }
        }
        i += k + 1;
    }
    return true;
}

/* ---------- the trie ---------- */

static void node_free(struct rnode *n)
{
    if (n == NULL) {
        return;
    }
    for (size_t i = 0; i < n->nlits; i++) {
        wd_free(n->lits[i].s);
        node_free(n->lits[i].child);
    }
    wd_free(n->lits);
    node_free(n->param);
    wd_free(n);
}

static int lit_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen) {
        return alen < blen ? -1 : 1;
    }
    return memcmp(a, b, alen);
}

/* Index of the first literal not less than s (binary search). */
static size_t lit_lower(const struct rnode *n, const char *s, size_t len)
{
    size_t lo = 0, hi = n->nlits;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (lit_cmp(n->lits[mid].s, n->lits[mid].len, s, len) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* The literal child for s, created when absent. */
static int lit_child(struct rnode *n, const char *s, size_t len, struct rnode **out)
{
    size_t i = lit_lower(n, s, len);
    if (i < n->nlits && lit_cmp(n->lits[i].s, n->lits[i].len, s, len) == 0) {
        *out = n->lits[i].child;
        return WD_OK;
    }
    if (n->nlits == n->caplits) {
        size_t cap = n->caplits == 0 ? 4 : n->caplits * 2;
        struct rlit *l = wd_reallocarray(n->lits, cap, sizeof(*l));
        if (l == NULL) {
            return WD_ENOMEM;
        }
        n->lits = l;
        n->caplits = cap;
    }
    char *copy = wd_strndup(s, len);
    struct rnode *child = wd_calloc(1, sizeof(*child));
    if (copy == NULL || child == NULL) {
        wd_free(copy);
        wd_free(child);
        return WD_ENOMEM;
    }
    memmove(&n->lits[i + 1], &n->lits[i], (n->nlits - i) * sizeof(n->lits[0]));
    n->lits[i] = (struct rlit){.s = copy, .len = len, .child = child};
    n->nlits++;
    *out = child;
    return WD_OK;
}

/* ---------- building ---------- */

static int def_error(const struct wd_route_def *d, struct wd_diag *diag, int err, const char *what,
                     size_t off)
{
    char name[4 * WD_ROUTE_NAME_MAX + 8];
    (void)wd_log_escape(name, sizeof(name), d->name, strlen(d->name));
    if (off == (size_t)-1) {
        return wd_diag_set(diag, err, d->file, d->line, d->col, "route '%s': %s", name, what);
    }
    return wd_diag_set(diag, err, d->file, d->line, d->col,
                       "route '%s': template: %s (at byte %zu)", name, what, off + 1);
}

/*
 * Add one template to the trie: validate it segment by segment, walking (and growing) the
 * trie, then claim the end or catch-all slot of the last node.
 */
static int add_route(struct wd_route_set *set, const struct wd_route_def *d, struct route *r,
                     struct wd_diag *diag)
{
    const char *t = d->tmpl;
    size_t tlen = strlen(t);
    if (tlen == 0 || tlen > WD_ROUTE_TEMPLATE_MAX) {
        return def_error(d, diag, WD_ECONFIG, "template must be 1 to 1024 bytes", (size_t)-1);
    }
    if (t[0] != '/') {
        return def_error(d, diag, WD_ECONFIG, "must start with '/'", 0);
    }
    const char *pn[WD_ROUTE_MAX_PARAMS];
    size_t pl[WD_ROUTE_MAX_PARAMS];
    size_t np = 0, nseg = 0;
    struct rnode *node = set->root;
    bool catchall = false;
    size_t i = 1;
    while (tlen > 1 && i <= tlen) {
        size_t start = i;
        while (i < tlen && t[i] != '/') {
            i++;
        }
        const char *seg = t + start;
        size_t sl = i - start;
        i++;
        if (sl == 0) {
            return def_error(d, diag, WD_ECONFIG, "empty segment", start);
        }
        if (catchall) {
            return def_error(d, diag, WD_ECONFIG, "a catch-all must be the last segment", start);
        }
        if (++nseg > WD_ROUTE_MAX_SEGMENTS) {
            return def_error(d, diag, WD_ECONFIG, "more than 64 segments", start);
        }
        if (seg[0] == '{') {
            if (seg[sl - 1] != '}' || sl < 3) {
                return def_error(d, diag, WD_ECONFIG, "a parameter must be a whole segment {name}",
                                 start);
            }
            const char *name = seg + 1;
            size_t nl = sl - 2;
            if (nl > 3 && memcmp(name + nl - 3, "...", 3) == 0) {
                catchall = true;
                nl -= 3;
            }
            if (!param_name_valid(name, nl)) {
                return def_error(d, diag, WD_ECONFIG,
                                 "bad parameter name (expected [A-Za-z_][A-Za-z0-9_]*, at most 64)",
                                 start + 1);
            }
            for (size_t k = 0; k < np; k++) {
                if (pl[k] == nl && memcmp(pn[k], name, nl) == 0) {
                    return def_error(d, diag, WD_ECONFIG, "parameter name repeated", start + 1);
                }
            }
            if (np == WD_ROUTE_MAX_PARAMS) {
                return def_error(d, diag, WD_ECONFIG, "more than 16 parameters", start);
            }
            pn[np] = name;
            pl[np] = nl;
            np++;
            if (!catchall) {
                if (node->param == NULL) {
                    node->param = wd_calloc(1, sizeof(*node->param));
                    if (node->param == NULL) {
                        return WD_ENOMEM;
                    }
                }
                node = node->param;
            }
            continue;
        }
        for (size_t k = 0; k < sl; k++) {
            unsigned char c = (unsigned char)seg[k];
            if (c == '{' || c == '}') {
                return def_error(d, diag, WD_ECONFIG, "a parameter must be a whole segment {name}",
                                 start + k);
            }
            if (!is_pchar(c)) {
                return def_error(d, diag, WD_ECONFIG,
                                 "byte not allowed in a literal segment (RFC 3986 pchar, no '%')",
                                 start + k);
            }
        }
        if ((sl == 1 && seg[0] == '.') || (sl == 2 && seg[0] == '.' && seg[1] == '.')) {
            return def_error(d, diag, WD_ECONFIG, "'.' and '..' segments are not allowed", start);
        }
        WD_TRY(lit_child(node, seg, sl, &node));
    }

    r->name = wd_strdup(d->name);
    r->tmpl = wd_strdup(t);
    r->pnames = wd_calloc(np == 0 ? 1 : np, sizeof(char *));
    if (r->name == NULL || r->tmpl == NULL || r->pnames == NULL) {
        return WD_ENOMEM;
    }
    for (size_t k = 0; k < np; k++) {
        r->pnames[k] = wd_strndup(pn[k], pl[k]);
        if (r->pnames[k] == NULL) {
            return WD_ENOMEM;
        }
        r->nparams = k + 1;
    }
    const struct route **slot = catchall ? &node->rest : &node->end;
    if (*slot != NULL) {
        char other[4 * WD_ROUTE_NAME_MAX + 8];
        char msg[sizeof(other) + 96];
        (void)wd_log_escape(other, sizeof(other), (*slot)->name, strlen((*slot)->name));
        (void)snprintf(msg, sizeof(msg), "conflicts with route '%s' (same shape: %s)", other,
                       (*slot)->tmpl);
        return def_error(d, diag, WD_ECONFIG, msg, (size_t)-1);
    }
    *slot = r;
    return WD_OK;
}

static void route_cleanup(struct route *r)
{
    if (r->pnames != NULL) {
        for (size_t k = 0; k < r->nparams; k++) {
            wd_free(r->pnames[k]);
        }
    }
    wd_free(r->pnames);
    wd_free(r->name);
    wd_free(r->tmpl);
}

void wd_route_set_free(struct wd_route_set *set)
{
    if (set == NULL) {
        return;
    }
    node_free(set->root);
    for (size_t i = 0; set->routes != NULL && i < set->n; i++) {
        route_cleanup(&set->routes[i]);
    }
    wd_free(set->routes);
    wd_free(set);
}

size_t wd_route_set_count(const struct wd_route_set *set)
{
    return set == NULL ? 0 : set->n;
}

int wd_route_set_new(const struct wd_route_def *defs, size_t n, struct wd_route_set **out,
                     struct wd_diag *diag)
{
    WD_ENSURE(out != NULL, WD_EINVAL);
    *out = NULL;
    WD_ENSURE(defs != NULL || n == 0, WD_EINVAL);
    if (n > WD_ROUTE_MAX_ROUTES) {
        return wd_diag_set(diag, WD_ELIMIT, defs[WD_ROUTE_MAX_ROUTES].file,
                           defs[WD_ROUTE_MAX_ROUTES].line, defs[WD_ROUTE_MAX_ROUTES].col,
                           "more than %d routes", WD_ROUTE_MAX_ROUTES);
    }
    int rc = WD_OK;
    struct wd_route_set *set = wd_calloc(1, sizeof(*set));
    if (set == NULL) {
        return WD_ENOMEM;
    }
    set->root = wd_calloc(1, sizeof(*set->root));
    set->routes = wd_calloc(n == 0 ? 1 : n, sizeof(*set->routes));
    if (set->root == NULL || set->routes == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct wd_route_def *d = &defs[i];
        if (d->name == NULL || d->tmpl == NULL) {
            rc = WD_EINVAL;
            goto out;
        }
        if (!name_valid(d->name, strlen(d->name))) {
            rc = def_error(d, diag, WD_ECONFIG,
                           "bad route name (expected [A-Za-z0-9_.-], 1 to 64 bytes)", (size_t)-1);
            goto out;
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(defs[k].name, d->name) == 0) {
                rc = def_error(d, diag, WD_ECONFIG, "route name repeated", (size_t)-1);
                goto out;
            }
        }
        /* Count the route before adding it so that a half-built one is freed with the set. */
        set->n = i + 1;
        WD_CHECK(add_route(set, d, &set->routes[i], diag));
    }
    *out = set;
    set = NULL;
out:
    if (rc == WD_ENOMEM) {
        (void)wd_diag_set(diag, WD_ENOMEM, NULL, 0, 0, "out of memory");
    }
    wd_route_set_free(set);
    return rc;
}

int wd_route_set_from_doc(const struct wd_doc *doc, const struct wd_node *routes,
                          struct wd_route_set **out, struct wd_diag *diag)
{
    WD_ENSURE(out != NULL, WD_EINVAL);
    *out = NULL;
    WD_ENSURE(doc != NULL, WD_EINVAL);
    if (routes == NULL || routes->type != WD_NODE_OBJ) {
        return wd_doc_error(doc, routes, diag, "routes: expected object, got %s",
                            routes == NULL ? "nothing" : wd_node_type_name(routes->type));
    }
    size_t n = routes->u.obj.n;
    if (n > WD_ROUTE_MAX_ROUTES) {
        (void)wd_doc_error(doc, routes, diag, "routes: more than %d routes", WD_ROUTE_MAX_ROUTES);
        return WD_ELIMIT;
    }
    for (size_t i = 0; i < n; i++) {
        const struct wd_member *m = &routes->u.obj.members[i];
        if (m->val->type != WD_NODE_STR) {
            return wd_doc_error(doc, m->val, diag, "route: expected string, got %s",
                                wd_node_type_name(m->val->type));
        }
        if (strlen(m->key) != m->key_len || strlen(m->val->u.s.p) != m->val->u.s.len) {
            return wd_diag_set(diag, WD_ECONFIG, wd_doc_file(doc), m->line, m->col,
                               "route: NUL byte in name or template");
        }
    }
    struct wd_route_def *defs = wd_calloc(n == 0 ? 1 : n, sizeof(*defs));
    if (defs == NULL) {
        return wd_diag_set(diag, WD_ENOMEM, NULL, 0, 0, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const struct wd_member *m = &routes->u.obj.members[i];
        defs[i] = (struct wd_route_def){.name = m->key,
                                        .tmpl = m->val->u.s.p,
                                        .file = wd_doc_file(doc),
                                        .line = m->line,
                                        .col = m->col};
    }
    int rc = wd_route_set_new(defs, n, out, diag);
    wd_free(defs);
    return rc;
}

/* ---------- matching ---------- */

/*
 * Split and decode path into m's segments. false when the path is refused (see route.h for
 * the rules; RFC 3986 §3.3 pchar, §2.1 percent-encoding, §6.2.2.2 dot-segments).
 */
static bool split_path(const char *path, size_t len, struct wd_route_match *m, size_t *nseg)
{
    if (len == 0 || len > WD_ROUTE_PATH_MAX || path[0] != '/') {
        return false;
    }
    *nseg = 0;
    if (len == 1) {
        return true;
    }
    size_t o = 0, i = 1;
    while (i <= len) {
        if (*nseg == WD_ROUTE_MAX_SEGMENTS) {
            return false;
        }
        size_t start = o;
        while (i < len && path[i] != '/') {
            unsigned char c = (unsigned char)path[i];
            if (c == '%') {
                if (len - i < 3) {
                    return false;
                }
                int h = hexval((unsigned char)path[i + 1]), l = hexval((unsigned char)path[i + 2]);
                if (h < 0 || l < 0) {
                    return false;
                }
                c = (unsigned char)(h * 16 + l);
                if (c == '\0' || c == '/') {
                    return false;
                }
                i += 3;
            } else {
                if (!is_pchar(c)) {
                    return false;
                }
                i++;
            }
            m->buf_[o++] = (char)c;
        }
        i++;
        size_t sl = o - start;
        const char *s = m->buf_ + start;
        if (sl == 0 || (sl == 1 && s[0] == '.') || (sl == 2 && s[0] == '.' && s[1] == '.')
            || !utf8_valid((const unsigned char *)s, sl)) {
            return false;
        }
        m->buf_[o++] = '\0';
        m->seg_[*nseg].off = (unsigned short)start;
        m->seg_[*nseg].len = (unsigned short)sl;
        (*nseg)++;
    }
    return true;
}

struct walk {
    struct wd_route_match *m;
    size_t nseg;
    size_t pseg[WD_ROUTE_MAX_PARAMS]; /* segment index of each parameter so far */
    size_t np;
    const struct route *found;
    size_t rest_from; /* first segment of the catch-all, when found->rest */
    bool is_rest;
};

/*
 * Depth-first, most specific first: literal, then parameter, then catch-all. The first
 * success is the most specific match, because the trie orders the alternatives at the first
 * segment where two matching templates differ. Depth is bounded by WD_ROUTE_MAX_SEGMENTS.
 */
static bool walk(struct walk *w, const struct rnode *n, size_t i)
{
    if (i == w->nseg) {
        if (n->end != NULL) {
            w->found = n->end;
            w->is_rest = false;
            return true;
        }
        return false;
    }
    const char *s = w->m->buf_ + w->m->seg_[i].off;
    size_t sl = w->m->seg_[i].len;
    size_t k = lit_lower(n, s, sl);
    if (k < n->nlits && lit_cmp(n->lits[k].s, n->lits[k].len, s, sl) == 0
        && walk(w, n->lits[k].child, i + 1)) {
        return true;
    }
    if (n->param != NULL && w->np < WD_ROUTE_MAX_PARAMS) {
        w->pseg[w->np++] = i;
        if (walk(w, n->param, i + 1)) {
            return true;
        }
        w->np--;
    }
    if (n->rest != NULL) {
        w->found = n->rest;
        w->is_rest = true;
        w->rest_from = i;
        return true;
    }
    return false;
}

int wd_route_match(const struct wd_route_set *set, const char *path, size_t len,
                   struct wd_route_match *m)
{
    WD_ENSURE(m != NULL, WD_EINVAL);
    m->route = "";
    m->nparams = 0;
    m->bad_path = false;
    WD_ENSURE(set != NULL && (path != NULL || len == 0), WD_EINVAL);
    struct walk w = {.m = m};
    if (!split_path(path, len, m, &w.nseg)) {
        m->bad_path = true;
        return WD_ENOENT;
    }
    if (!walk(&w, set->root, 0)) {
        return WD_ENOENT;
    }
    const struct route *r = w.found;
    size_t np = w.np;
    if (w.is_rest) {
        /* Join the remaining decoded segments: they are contiguous, separated by NULs. */
        size_t first = w.rest_from, last = w.nseg - 1;
        for (size_t j = first; j < last; j++) {
            m->buf_[m->seg_[j].off + m->seg_[j].len] = '/';
        }
        w.pseg[np++] = first;
        m->seg_[first].len =
                (unsigned short)(m->seg_[last].off + m->seg_[last].len - m->seg_[first].off);
    }
    WD_BUG_ON(np != r->nparams);
    for (size_t k = 0; k < np; k++) {
        m->params[k].name = r->pnames[k];
        m->params[k].value = m->buf_ + m->seg_[w.pseg[k]].off;
        m->params[k].value_len = m->seg_[w.pseg[k]].len;
    }
    m->nparams = np;
    m->route = r->name;
    return WD_OK;
}
