/*
 * The Cedar schema JSON format, read through the strict document accessors of
 * include/warden/doc.h into the raw schema of schema.h (wd_cedar_schema_build resolves it).
 *
 *   { "<namespace>": { "commonTypes": {..}?, "entityTypes": {..}, "actions": {..},
 *                      "annotations": {..}? }, ... }
 *   entity type:  { "memberOfTypes": [name]?, "shape": type?, "tags": type?,
 *                   "annotations": {..}? }   or   { "enum": [string, ...], "annotations"? }
 *   action:       { "memberOf": [{"id": s, "type": name?}]?, "appliesTo": {
 *                     "principalTypes": [name], "resourceTypes": [name], "context": type? }
 *                   or null?, "annotations": {..}? }
 *   type:         {"type": "Long" | "String" | "Boolean"}
 *                 {"type": "Set", "element": type}
 *                 {"type": "Record", "attributes": {name: type + "required"?},
 *                  "additionalAttributes": false?}
 *                 {"type": "Entity" | "EntityOrCommon" | "Extension", "name": name}
 *                 {"type": "<common type name>"}
 * Unknown keys are errors everywhere (as in the reference), except that "annotations"
 * (an object of strings) is allowed on namespaces (not the empty one), entity types,
 * actions, common types and record attributes. Action "attributes" and
 * "additionalAttributes": true are rejected as unsupported, as the reference does.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "warden/doc.h"

#include "cedar/schema.h"

#define JSON_MAX_BYTES ((size_t)16 << 20)
#define JSON_MAX_DEPTH 128

struct jctx {
    struct wd_cedar_schema *s;
    const struct wd_doc *doc;
    struct wd_diag *diag;
};

static int jerr(struct jctx *j, const struct wd_node *n, int rc, const char *fmt, ...)
        WD_PRINTF(4, 5);
static int jerr(struct jctx *j, const struct wd_node *n, int rc, const char *fmt, ...)
{
    char msg[WD_DIAG_MAX];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    wd_doc_error(j->doc, n, j->diag, "%s", msg);
    return rc;
}

static int jdup(struct jctx *j, const char *p, size_t n, const char **out)
{
    return wd_cedar_pool_strdup(&j->s->pool, p, n, out);
}

/* A Cedar name "A::B::C": identifiers (reserved words excepted) joined by "::". */
static bool valid_name(const char *p, size_t n)
{
    size_t start = 0;
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i <= n; i++) {
        if (i == n || p[i] == ':') {
            if (i < n && (i + 1 >= n || p[i + 1] != ':')) {
                return false;
            }
            if (!wd_cedar_schema_is_ident(p + start, i - start)
                || wd_cedar_schema_is_reserved(p + start, i - start)) {
                return false;
            }
            start = i + 2;
            i++;
        }
    }
    return true;
}

static int annotations(struct jctx *j, const struct wd_node *n)
{
    if (n == NULL) {
        return WD_OK;
    }
    if (n->type != WD_NODE_OBJ) {
        return jerr(j, n, WD_ECONFIG, "annotations: expected an object");
    }
    for (size_t i = 0; i < n->u.obj.n; i++) {
        const struct wd_member *m = &n->u.obj.members[i];
        if (m->val->type != WD_NODE_STR) {
            return jerr(j, m->val, WD_ECONFIG, "annotation '%s': expected a string", m->key);
        }
        if (!wd_cedar_schema_is_ident(m->key, m->key_len)) {
            return jerr(j, m->val, WD_ECONFIG, "invalid annotation key '%s'", m->key);
        }
    }
    return WD_OK;
}

static int name_of(struct jctx *j, const struct wd_node *n, struct wd_cedar_raw_name **out)
{
    struct wd_cedar_raw_name *r;
    /* WD_ECONFIG spelled out: the analyzer does not follow variadic jerr. */
    if (n->type != WD_NODE_STR) {
        (void)jerr(j, n, WD_ECONFIG, "expected a type name (string)");
        return WD_ECONFIG;
    }
    if (!valid_name(n->u.s.p, n->u.s.len)) {
        (void)jerr(j, n, WD_ECONFIG, "invalid name '%s'", n->u.s.p);
        return WD_ECONFIG;
    }
    WD_TRY(wd_cedar_pool_alloc(&j->s->pool, sizeof(*r), (void **)&r));
    WD_TRY(jdup(j, n->u.s.p, n->u.s.len, &r->p));
    r->len = n->u.s.len;
    r->line = n->line;
    r->col = n->col;
    *out = r;
    return WD_OK;
}

static int name_list(struct jctx *j, const struct wd_node *n, struct wd_cedar_raw_name **list)
{
    struct wd_cedar_raw_name **tail = list;
    if (n->type != WD_NODE_ARR) {
        return jerr(j, n, WD_ECONFIG, "expected an array of type names");
    }
    for (size_t i = 0; i < n->u.arr.n; i++) {
        struct wd_cedar_raw_name *r = NULL;
        WD_TRY(name_of(j, n->u.arr.items[i], &r));
        *tail = r;
        tail = &r->next;
    }
    return WD_OK;
}

enum tpos { POS_PLAIN, POS_ATTR, POS_COMMON };

static int parse_type(struct jctx *j, const struct wd_node *n, enum tpos pos, unsigned depth,
                      const struct wd_cedar_raw_type **out, bool *required);

static int record_attrs(struct jctx *j, const struct wd_node *n, unsigned depth,
                        struct wd_cedar_raw_type *t)
{
    struct wd_cedar_raw_attr **tail = &t->attrs;
    if (n->type != WD_NODE_OBJ) {
        return jerr(j, n, WD_ECONFIG, "'attributes': expected an object");
    }
    for (size_t i = 0; i < n->u.obj.n; i++) {
        const struct wd_member *m = &n->u.obj.members[i];
        struct wd_cedar_raw_attr *a;
        WD_TRY(wd_cedar_pool_alloc(&j->s->pool, sizeof(*a), (void **)&a));
        WD_TRY(jdup(j, m->key, m->key_len, &a->name));
        a->len = m->key_len;
        a->line = m->line;
        a->col = m->col;
        WD_TRY(parse_type(j, m->val, POS_ATTR, depth + 1, &a->type, &a->required));
        *tail = a;
        tail = &a->next;
        t->nattrs++;
    }
    return WD_OK;
}

static int parse_type(struct jctx *j, const struct wd_node *n, enum tpos pos, unsigned depth,
                      const struct wd_cedar_raw_type **out, bool *required)
{
    const struct wd_node *type = NULL, *element = NULL, *attributes = NULL, *addl = NULL,
                         *name = NULL, *req = NULL, *annos = NULL;
    struct wd_field fields[7] = {
            {"type", WD_NODE_STR, WD_FIELD_REQUIRED, &type},
            {"element", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &element},
            {"attributes", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &attributes},
            {"additionalAttributes", WD_NODE_BOOL, WD_FIELD_OPTIONAL, &addl},
            {"name", WD_NODE_STR, WD_FIELD_OPTIONAL, &name},
            {"annotations", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &annos},
            {"required", WD_NODE_BOOL, WD_FIELD_OPTIONAL, &req},
    };
    size_t nf = pos == POS_ATTR ? 7 : (pos == POS_COMMON ? 6 : 5);
    struct wd_cedar_raw_type *t;
    if (depth > JSON_MAX_DEPTH) {
        return jerr(j, n, WD_ELIMIT, "types nested too deeply");
    }
    WD_TRY(wd_doc_read_object(j->doc, n, fields, nf, j->diag));
    WD_TRY(annotations(j, annos));
    if (required != NULL) {
        *required = req == NULL || req->u.b;
    }
    WD_TRY(wd_cedar_pool_alloc(&j->s->pool, sizeof(*t), (void **)&t));
    t->line = n->line;
    t->col = n->col;
    const char *ty = type->u.s.p;
    size_t tylen = type->u.s.len;
    /* Which of element / attributes / additionalAttributes / name the kind takes. */
    bool want_elem = false, want_attrs = false, want_name = false;
    if (strcmp(ty, "Long") == 0 && tylen == 4) {
        t->kind = WD_CEDAR_RAW_LONG;
    } else if (strcmp(ty, "String") == 0 && tylen == 6) {
        t->kind = WD_CEDAR_RAW_STRING;
    } else if (strcmp(ty, "Boolean") == 0 && tylen == 7) {
        t->kind = WD_CEDAR_RAW_BOOL;
    } else if (strcmp(ty, "Set") == 0 && tylen == 3) {
        t->kind = WD_CEDAR_RAW_SET;
        want_elem = true;
    } else if (strcmp(ty, "Record") == 0 && tylen == 6) {
        t->kind = WD_CEDAR_RAW_RECORD;
        want_attrs = true;
    } else if (strcmp(ty, "Entity") == 0 && tylen == 6) {
        t->kind = WD_CEDAR_RAW_ENTITY;
        want_name = true;
    } else if (strcmp(ty, "EntityOrCommon") == 0 && tylen == 14) {
        t->kind = WD_CEDAR_RAW_REF;
        want_name = true;
    } else if (strcmp(ty, "Extension") == 0 && tylen == 9) {
        t->kind = WD_CEDAR_RAW_EXT;
        want_name = true;
    } else {
        if (!valid_name(ty, tylen)) {
            return jerr(j, type, WD_ECONFIG, "invalid common type name '%s'", ty);
        }
        t->kind = WD_CEDAR_RAW_COMMON;
        t->name = ty;
        t->name_len = tylen;
    }
    if (element != NULL && !want_elem) {
        return jerr(j, element, WD_ECONFIG, "unexpected key 'element' for type %s", ty);
    }
    if ((attributes != NULL || addl != NULL) && !want_attrs) {
        return jerr(j, attributes != NULL ? attributes : addl, WD_ECONFIG,
                    "unexpected key 'attributes' for type %s", ty);
    }
    if (name != NULL && !want_name) {
        return jerr(j, name, WD_ECONFIG, "unexpected key 'name' for type %s", ty);
    }
    if (want_elem) {
        if (element == NULL) {
            return jerr(j, n, WD_ECONFIG, "missing key 'element'");
        }
        WD_TRY(parse_type(j, element, POS_PLAIN, depth + 1, &t->elem, NULL));
    }
    if (want_attrs) {
        if (attributes == NULL) {
            return jerr(j, n, WD_ECONFIG, "missing key 'attributes'");
        }
        if (addl != NULL && addl->u.b) {
            return jerr(j, addl, WD_ECONFIG,
                        "unsupported feature: records with `additionalAttributes`");
        }
        WD_TRY(record_attrs(j, attributes, depth, t));
    }
    if (want_name) {
        if (name == NULL) {
            return jerr(j, n, WD_ECONFIG, "missing key 'name'");
        }
        bool ok = t->kind == WD_CEDAR_RAW_EXT ? wd_cedar_schema_is_ident(name->u.s.p, name->u.s.len)
                                              : valid_name(name->u.s.p, name->u.s.len);
        if (!ok) {
            return jerr(j, name, WD_ECONFIG, "invalid name '%s'", name->u.s.p);
        }
        WD_TRY(jdup(j, name->u.s.p, name->u.s.len, &t->name));
        t->name_len = name->u.s.len;
    } else if (t->kind == WD_CEDAR_RAW_COMMON) {
        WD_TRY(jdup(j, ty, tylen, &t->name));
    }
    *out = t;
    return WD_OK;
}

static int parse_entity(struct jctx *j, struct wd_cedar_raw_ns *ns, const struct wd_member *m)
{
    const struct wd_node *member_of = NULL, *shape = NULL, *tags = NULL, *en = NULL, *annos = NULL;
    struct wd_field fields[] = {
            {"memberOfTypes", WD_NODE_ARR, WD_FIELD_OPTIONAL, &member_of},
            {"shape", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &shape},
            {"tags", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &tags},
            {"enum", WD_NODE_ARR, WD_FIELD_OPTIONAL, &en},
            {"annotations", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &annos},
    };
    struct wd_cedar_raw_entity *e;
    WD_TRY(wd_doc_read_object(j->doc, m->val, fields, WD_ARRAY_LEN(fields), j->diag));
    WD_TRY(annotations(j, annos));
    WD_TRY(wd_cedar_pool_alloc(&j->s->pool, sizeof(*e), (void **)&e));
    WD_TRY(jdup(j, m->key, m->key_len, &e->name));
    e->len = m->key_len;
    e->line = m->line;
    e->col = m->col;
    if (!wd_cedar_schema_is_ident(m->key, m->key_len)) {
        return jerr(j, m->val, WD_ECONFIG, "invalid entity type name '%s'", m->key);
    }
    if (en != NULL) {
        struct wd_cedar_raw_name **tail = &e->choices;
        const struct wd_node *extra = member_of != NULL ? member_of : shape != NULL ? shape : tags;
        if (extra != NULL) {
            return jerr(j, extra, WD_ECONFIG,
                        "an enumerated entity type has only 'enum' and 'annotations'");
        }
        if (en->u.arr.n == 0) {
            return jerr(j, en, WD_ECONFIG, "'enum' must not be empty");
        }
        e->is_enum = true;
        for (size_t i = 0; i < en->u.arr.n; i++) {
            const struct wd_node *c = en->u.arr.items[i];
            struct wd_cedar_raw_name *r;
            if (c->type != WD_NODE_STR) {
                return jerr(j, c, WD_ECONFIG, "'enum': expected strings");
            }
            WD_TRY(wd_cedar_pool_alloc(&j->s->pool, sizeof(*r), (void **)&r));
            WD_TRY(jdup(j, c->u.s.p, c->u.s.len, &r->p));
            r->len = c->u.s.len;
            r->line = c->line;
            r->col = c->col;
            *tail = r;
            tail = &r->next;
        }
    } else {
        if (member_of != NULL) {
            WD_TRY(name_list(j, member_of, &e->parents));
        }
        if (shape != NULL) {
            WD_TRY(parse_type(j, shape, POS_PLAIN, 0, &e->shape, NULL));
        }
        if (tags != NULL) {
            WD_TRY(parse_type(j, tags, POS_PLAIN, 0, &e->tags, NULL));
        }
    }
    *ns->entities_tail = e;
    ns->entities_tail = &e->next;
    return WD_OK;
}

static int parse_action(struct jctx *j, struct wd_cedar_raw_ns *ns, const struct wd_member *m)
{
    const struct wd_node *member_of = NULL, *applies = NULL, *attrs = NULL, *annos = NULL;
    struct wd_field fields[] = {
            {"memberOf", WD_NODE_ARR, WD_FIELD_OPTIONAL, &member_of},
            {"appliesTo", WD_NODE_NULL, WD_FIELD_OPTIONAL, &applies},
            {"attributes", WD_NODE_NULL, WD_FIELD_OPTIONAL, &attrs},
            {"annotations", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &annos},
    };
    struct wd_cedar_raw_action *a;
    WD_TRY(wd_doc_read_object(j->doc, m->val, fields, WD_ARRAY_LEN(fields), j->diag));
    WD_TRY(annotations(j, annos));
    if (attrs != NULL) {
        return jerr(j, attrs, WD_ECONFIG,
                    "unsupported feature: action '%s' declared with attributes", m->key);
    }
    WD_TRY(wd_cedar_pool_alloc(&j->s->pool, sizeof(*a), (void **)&a));
    WD_TRY(jdup(j, m->key, m->key_len, &a->id));
    a->len = m->key_len;
    a->line = m->line;
    a->col = m->col;
    if (member_of != NULL) {
        struct wd_cedar_raw_aref **tail = &a->parents;
        for (size_t i = 0; i < member_of->u.arr.n; i++) {
            const struct wd_node *it = member_of->u.arr.items[i], *id = NULL, *type = NULL;
            struct wd_field f2[] = {
                    {"id", WD_NODE_STR, WD_FIELD_REQUIRED, &id},
                    {"type", WD_NODE_STR, WD_FIELD_OPTIONAL, &type},
            };
            struct wd_cedar_raw_aref *r;
            WD_TRY(wd_doc_read_object(j->doc, it, f2, WD_ARRAY_LEN(f2), j->diag));
            WD_TRY(wd_cedar_pool_alloc(&j->s->pool, sizeof(*r), (void **)&r));
            WD_TRY(jdup(j, id->u.s.p, id->u.s.len, &r->id));
            r->id_len = id->u.s.len;
            r->line = it->line;
            r->col = it->col;
            if (type != NULL) {
                if (!valid_name(type->u.s.p, type->u.s.len)) {
                    return jerr(j, type, WD_ECONFIG, "invalid action type '%s'", type->u.s.p);
                }
                WD_TRY(jdup(j, type->u.s.p, type->u.s.len, &r->type));
                r->type_len = type->u.s.len;
            }
            *tail = r;
            tail = &r->next;
        }
    }
    if (applies != NULL && applies->type != WD_NODE_NULL) {
        const struct wd_node *pt = NULL, *rt = NULL, *ctx = NULL;
        struct wd_field f3[] = {
                {"principalTypes", WD_NODE_ARR, WD_FIELD_REQUIRED, &pt},
                {"resourceTypes", WD_NODE_ARR, WD_FIELD_REQUIRED, &rt},
                {"context", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &ctx},
        };
        WD_TRY(wd_doc_read_object(j->doc, applies, f3, WD_ARRAY_LEN(f3), j->diag));
        a->applies = true;
        a->ap_line = applies->line;
        a->ap_col = applies->col;
        WD_TRY(name_list(j, pt, &a->principals));
        WD_TRY(name_list(j, rt, &a->resources));
        if (ctx != NULL) {
            WD_TRY(parse_type(j, ctx, POS_PLAIN, 0, &a->context, NULL));
        }
    }
    *ns->actions_tail = a;
    ns->actions_tail = &a->next;
    return WD_OK;
}

static int parse_namespace(struct jctx *j, struct wd_cedar_raw_schema *raw,
                           const struct wd_member *m)
{
    const struct wd_node *commons = NULL, *etys = NULL, *acts = NULL, *annos = NULL;
    struct wd_field fields[] = {
            {"commonTypes", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &commons},
            {"entityTypes", WD_NODE_OBJ, WD_FIELD_REQUIRED, &etys},
            {"actions", WD_NODE_OBJ, WD_FIELD_REQUIRED, &acts},
            {"annotations", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &annos},
    };
    struct wd_cedar_raw_ns *ns;
    WD_TRY(wd_doc_read_object(j->doc, m->val, fields, WD_ARRAY_LEN(fields), j->diag));
    WD_TRY(annotations(j, annos));
    if (annos != NULL && m->key_len == 0) {
        return jerr(j, annos, WD_ECONFIG, "annotations are not allowed on the empty namespace");
    }
    if (m->key_len > 0 && !valid_name(m->key, m->key_len)) {
        return jerr(j, m->val, WD_ECONFIG, "invalid namespace '%s'", m->key);
    }
    WD_TRY(wd_cedar_raw_ns_add(j->s, raw, m->key, m->key_len, m->line, m->col, &ns));
    for (size_t i = 0; commons != NULL && i < commons->u.obj.n; i++) {
        const struct wd_member *c = &commons->u.obj.members[i];
        struct wd_cedar_raw_common *rc;
        WD_TRY(wd_cedar_pool_alloc(&j->s->pool, sizeof(*rc), (void **)&rc));
        WD_TRY(jdup(j, c->key, c->key_len, &rc->name));
        rc->len = c->key_len;
        rc->line = c->line;
        rc->col = c->col;
        if (!wd_cedar_schema_is_ident(c->key, c->key_len)) {
            return jerr(j, c->val, WD_ECONFIG, "invalid common type name '%s'", c->key);
        }
        WD_TRY(parse_type(j, c->val, POS_COMMON, 0, &rc->type, NULL));
        *ns->commons_tail = rc;
        ns->commons_tail = &rc->next;
    }
    for (size_t i = 0; i < etys->u.obj.n; i++) {
        WD_TRY(parse_entity(j, ns, &etys->u.obj.members[i]));
    }
    for (size_t i = 0; i < acts->u.obj.n; i++) {
        WD_TRY(parse_action(j, ns, &acts->u.obj.members[i]));
    }
    return WD_OK;
}

int wd_cedar_schema_parse_json(const char *file, const char *text, size_t len,
                               struct wd_cedar_schema **out, struct wd_diag *diag)
{
    struct wd_doc_limits lim = {.max_bytes = JSON_MAX_BYTES, .max_depth = JSON_MAX_DEPTH};
    struct wd_doc *doc = NULL;
    struct wd_cedar_schema *s = NULL;
    struct wd_cedar_raw_schema raw = {0};
    int rc;
    WD_ENSURE(out != NULL && (text != NULL || len == 0), WD_EINVAL);
    *out = NULL;
    if (text == NULL) {
        text = "";
    }
    WD_CHECK(wd_json_parse(file != NULL ? file : "<schema>", text, len, &lim, &doc, diag));
    WD_CHECK(wd_cedar_schema_alloc(file, &s));
    struct jctx j = {.s = s, .doc = doc, .diag = diag};
    const struct wd_node *root = wd_doc_root(doc);
    if (root->type != WD_NODE_OBJ) {
        rc = jerr(&j, root, WD_ECONFIG, "a schema is a JSON object of namespaces");
        goto out;
    }
    for (size_t i = 0; i < root->u.obj.n; i++) {
        WD_CHECK(parse_namespace(&j, &raw, &root->u.obj.members[i]));
    }
    WD_CHECK(wd_cedar_schema_build(s, &raw, diag));
    *out = s;
    s = NULL;
    rc = WD_OK;
out:
    wd_cedar_schema_free(s);
    wd_doc_free(doc);
    return rc;
}
