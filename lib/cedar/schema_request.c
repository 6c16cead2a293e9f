/*
 * The schema at run time: request validation (Cedar's `validateRequest`), value
 * conformance, the JSON-guidance callbacks of include/warden/cedar.h section 2, and the
 * action entities a schema implies.
 *
 * Request validation follows Cedar 4 (cedar-policy-core validator/request_validation):
 * the action must be declared; the principal and resource must have entity types listed
 * in the action's appliesTo (for an enumerated type, an id among its ids); the context
 * must conform to the action's context record type: every required attribute present, no
 * undeclared attribute, every value of its declared type (entities of the declared type,
 * sets element by element, records recursively, extension values of the declared
 * extension).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cedar/request.h"
#include "cedar/schema.h"
#include "cedar/value.h"

static bool bytes_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static void why_set(char *why, size_t len, const char *fmt, ...) WD_PRINTF(3, 4);
static void why_set(char *why, size_t len, const char *fmt, ...)
{
    if (why == NULL || len == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(why, len, fmt, ap);
    va_end(ap);
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

static bool conforms(const struct wd_cedar_schema *s, const struct wd_cedar_type *t,
                     const struct wd_cedar_value *v, char *why, size_t why_len, unsigned depth)
{
    char b1[96], b2[96];
    if (depth > WD_CEDAR_VB_MAX_DEPTH + 2) {
        why_set(why, why_len, "value nested too deeply");
        return false;
    }
    switch (t->kind) {
    case WD_CEDAR_T_BOOL:
    case WD_CEDAR_T_TRUE:
    case WD_CEDAR_T_FALSE:
        if (v->kind != WD_CV_BOOL) {
            break;
        }
        return true;
    case WD_CEDAR_T_LONG:
        if (v->kind != WD_CV_LONG) {
            break;
        }
        return true;
    case WD_CEDAR_T_STRING:
        if (v->kind != WD_CV_STRING) {
            break;
        }
        return true;
    case WD_CEDAR_T_IPADDR:
        if (v->kind != WD_CV_IP) {
            break;
        }
        return true;
    case WD_CEDAR_T_DECIMAL:
        if (v->kind != WD_CV_DECIMAL) {
            break;
        }
        return true;
    case WD_CEDAR_T_DATETIME:
        if (v->kind != WD_CV_DATETIME) {
            break;
        }
        return true;
    case WD_CEDAR_T_DURATION:
        if (v->kind != WD_CV_DURATION) {
            break;
        }
        return true;
    case WD_CEDAR_T_ENTITY: {
        if (v->kind != WD_CV_ENTITY) {
            break;
        }
        const struct wd_cedar_euid *u = v->u.uid;
        if (!bytes_eq(u->type->p, u->type->len, t->name, t->name_len)) {
            why_set(why, why_len, "entity of type `%s` where `%s` is expected",
                    show(b1, sizeof(b1), u->type->p, u->type->len),
                    show(b2, sizeof(b2), t->name, t->name_len));
            return false;
        }
        const struct wd_cedar_ety *e = wd_cedar_schema_ety(s, t->name, t->name_len);
        if (e != NULL && !wd_cedar_ety_valid_id(e, u->id->p, u->id->len)) {
            why_set(why, why_len, "`%s::\"%s\"` is not one of the ids of enumerated type `%s`", b2,
                    show(b1, sizeof(b1), u->id->p, u->id->len), b2);
            return false;
        }
        return true;
    }
    case WD_CEDAR_T_SET:
        if (v->kind != WD_CV_SET) {
            break;
        }
        for (size_t i = 0; i < v->u.set->n; i++) {
            if (!conforms(s, t->elem, &v->u.set->v[i], why, why_len, depth + 1)) {
                return false;
            }
        }
        return true;
    case WD_CEDAR_T_RECORD: {
        if (v->kind != WD_CV_RECORD) {
            break;
        }
        const struct wd_cedar_record *r = v->u.rec;
        for (uint32_t i = 0; i < t->nattrs; i++) {
            const struct wd_cedar_rattr *a = &t->attrs[i];
            const struct wd_cedar_value *av = wd_cedar_record_get(r, a->name, a->len);
            if (av == NULL) {
                if (a->required) {
                    why_set(why, why_len, "required attribute `%s` is missing",
                            show(b1, sizeof(b1), a->name, a->len));
                    return false;
                }
                continue;
            }
            if (!conforms(s, a->type, av, why, why_len, depth + 1)) {
                return false;
            }
        }
        for (size_t i = 0; i < r->n; i++) {
            if (wd_cedar_type_attr(t, r->a[i].key, r->a[i].key_len) == NULL) {
                why_set(why, why_len, "attribute `%s` is not declared",
                        show(b1, sizeof(b1), r->a[i].key, r->a[i].key_len));
                return false;
            }
        }
        return true;
    }
    default:
        break;
    }
    struct wd_buf tb;
    wd_buf_init(&tb, 90);
    if (wd_cedar_type_print(t, &tb) < 0) {
        wd_buf_reset(&tb);
    }
    why_set(why, why_len, "a %s where %s is expected", wd_cedar_kind_name(v->kind),
            wd_buf_str(&tb));
    wd_buf_cleanup(&tb);
    return false;
}

bool wd_cedar_schema_value_conforms(const struct wd_cedar_schema *s, const struct wd_cedar_type *t,
                                    const struct wd_cedar_value *v, char *why, size_t why_len)
{
    return conforms(s, t, v, why, why_len, 0);
}

static bool listed(const struct wd_cedar_ety *const *v, uint32_t n, const struct wd_cedar_ety *e)
{
    for (uint32_t i = 0; i < n; i++) {
        if (v[i] == e) {
            return true;
        }
    }
    return false;
}

/* Check the principal or resource of a request against the action's appliesTo. */
static int check_target(const struct wd_cedar_schema *s, const struct wd_cedar_act *a,
                        const struct wd_cedar_euid *u, bool principal, struct wd_diag *diag)
{
    char b1[128], b2[128], b3[128];
    const char *what = principal ? "principal" : "resource";
    const struct wd_cedar_ety *e = wd_cedar_schema_ety(s, u->type->p, u->type->len);
    show(b1, sizeof(b1), u->type->p, u->type->len);
    if (e == NULL) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "%s type `%s` is not declared in the schema", what, b1);
    }
    if (!listed(principal ? a->principals : a->resources,
                principal ? a->nprincipals : a->nresources, e)) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "%s type `%s` is not valid for action `%s::\"%s\"`", what, b1,
                           show(b2, sizeof(b2), a->type, a->type_len),
                           show(b3, sizeof(b3), a->id, a->id_len));
    }
    if (!wd_cedar_ety_valid_id(e, u->id->p, u->id->len)) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "%s `%s::\"%s\"` is not one of the ids of enumerated type `%s`", what,
                           b1, show(b2, sizeof(b2), u->id->p, u->id->len), b1);
    }
    return WD_OK;
}

int wd_cedar_schema_check_request(const struct wd_cedar_schema *s,
                                  const struct wd_cedar_euid *principal,
                                  const struct wd_cedar_euid *action,
                                  const struct wd_cedar_euid *resource,
                                  const struct wd_cedar_value *context, struct wd_diag *diag)
{
    char b1[128], b2[128], why[200] = "";
    WD_ENSURE(s != NULL && principal != NULL && action != NULL && resource != NULL, WD_EINVAL);
    const struct wd_cedar_act *a = wd_cedar_schema_act(s, action->type->p, action->type->len,
                                                       action->id->p, action->id->len);
    if (a == NULL) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "request's action `%s::\"%s\"` is not declared in the schema",
                           show(b1, sizeof(b1), action->type->p, action->type->len),
                           show(b2, sizeof(b2), action->id->p, action->id->len));
    }
    WD_TRY(check_target(s, a, principal, true, diag));
    WD_TRY(check_target(s, a, resource, false, diag));
    struct wd_cedar_value empty = {.kind = WD_CV_RECORD, .u.rec = &wd_cedar_empty_record};
    if (!conforms(s, a->context, context != NULL ? context : &empty, why, sizeof(why), 0)) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "context is not valid for action `%s::\"%s\"`: %s",
                           show(b1, sizeof(b1), a->type, a->type_len),
                           show(b2, sizeof(b2), a->id, a->id_len), why);
    }
    return WD_OK;
}

int wd_cedar_schema_validate_request(const struct wd_cedar_schema *s,
                                     const struct wd_cedar_request *r, struct wd_diag *diag)
{
    WD_ENSURE(s != NULL && r != NULL, WD_EINVAL);
    WD_ENSURE(r->principal != NULL && r->action != NULL && r->resource != NULL, WD_EINVAL);
    return wd_cedar_schema_check_request(s, r->principal, r->action, r->resource, &r->context,
                                         diag);
}

/* ---------------------------------------------------------------------------------------
 * JSON guidance (struct wd_cedar_json_schema)
 * ------------------------------------------------------------------------------------- */

static const void *g_attrs_type(const void *ctx, const char *etype, size_t len)
{
    const struct wd_cedar_ety *e = wd_cedar_schema_ety(ctx, etype, len);
    return e != NULL ? e->shape : NULL;
}

static const void *g_tags_type(const void *ctx, const char *etype, size_t len)
{
    const struct wd_cedar_ety *e = wd_cedar_schema_ety(ctx, etype, len);
    return e != NULL ? e->tags : NULL;
}

static const void *g_context_type(const void *ctx, const char *atype, size_t alen, const char *aid,
                                  size_t idlen)
{
    const struct wd_cedar_act *a = wd_cedar_schema_act(ctx, atype, alen, aid, idlen);
    return a != NULL ? a->context : NULL;
}

static enum wd_cedar_jtype g_kind(const void *ctx, const void *type)
{
    const struct wd_cedar_type *t = type;
    (void)ctx;
    switch (t->kind) {
    case WD_CEDAR_T_BOOL:
    case WD_CEDAR_T_TRUE:
    case WD_CEDAR_T_FALSE:
        return WD_CEDAR_JT_BOOL;
    case WD_CEDAR_T_LONG:
        return WD_CEDAR_JT_LONG;
    case WD_CEDAR_T_STRING:
        return WD_CEDAR_JT_STRING;
    case WD_CEDAR_T_ENTITY:
        return WD_CEDAR_JT_ENTITY;
    case WD_CEDAR_T_SET:
        return WD_CEDAR_JT_SET;
    case WD_CEDAR_T_RECORD:
        return WD_CEDAR_JT_RECORD;
    default:
        return WD_CEDAR_JT_EXT;
    }
}

static const void *g_elem_type(const void *ctx, const void *set_type)
{
    const struct wd_cedar_type *t = set_type;
    (void)ctx;
    return t->kind == WD_CEDAR_T_SET ? t->elem : NULL;
}

static const void *g_attr_type(const void *ctx, const void *record_type, const char *key,
                               size_t len)
{
    const struct wd_cedar_rattr *a = wd_cedar_type_attr(record_type, key, len);
    (void)ctx;
    return a != NULL ? a->type : NULL;
}

static const char *g_ext_name(const void *ctx, const void *ext_type)
{
    const struct wd_cedar_type *t = ext_type;
    (void)ctx;
    switch (t->kind) {
    case WD_CEDAR_T_IPADDR:
        return "ipaddr";
    case WD_CEDAR_T_DECIMAL:
        return "decimal";
    case WD_CEDAR_T_DATETIME:
        return "datetime";
    case WD_CEDAR_T_DURATION:
        return "duration";
    default:
        return NULL;
    }
}

/* Add every schema action that the store does not have, with its memberOf parents. */
static int g_add_actions(const void *ctx, struct wd_cedar_entities *ents, struct wd_diag *diag)
{
    const struct wd_cedar_schema *s = ctx;
    for (uint32_t i = 0; i < s->nact; i++) {
        const struct wd_cedar_act *a = s->acts[i];
        if (wd_cedar_entities_contains(ents, a->type, a->type_len, a->id, a->id_len)) {
            continue;
        }
        int rc = wd_cedar_entities_begin(ents, a->type, a->type_len, a->id, a->id_len, diag);
        for (uint32_t k = 0; rc == WD_OK && k < a->nparents; k++) {
            const struct wd_cedar_act *p = a->parents[k];
            rc = wd_cedar_entities_parent(ents, p->type, p->type_len, p->id, p->id_len, diag);
        }
        if (rc == WD_OK) {
            rc = wd_cedar_entities_end(ents, diag);
        }
        if (rc != WD_OK) {
            wd_cedar_entities_abort(ents);
            return rc;
        }
    }
    return WD_OK;
}

void wd_cedar_schema_json_guide(const struct wd_cedar_schema *s, struct wd_cedar_json_schema *out)
{
    memset(out, 0, sizeof(*out));
    out->ctx = s;
    out->attrs_type = g_attrs_type;
    out->tags_type = g_tags_type;
    out->context_type = g_context_type;
    out->kind = g_kind;
    out->elem_type = g_elem_type;
    out->attr_type = g_attr_type;
    out->ext_name = g_ext_name;
    out->add_actions = g_add_actions;
}
