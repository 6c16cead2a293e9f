/*
 * Cedar requests: principal, action, resource and a context record, built programmatically
 * or from JSON. Everything lives in the request's zone, which reset empties without
 * returning memory, so a reused request is filled without heap allocation.
 */
#include "cedar/request.h"

#include <string.h>

#include "warden/alloc.h"
#include "warden/cedar.h"
#include "warden/doc.h"
#include "warden/err.h"

#include "cedar/json_io.h"
#include "cedar/value.h"

int wd_cedar_request_new(struct wd_cedar_request **out)
{
    WD_ENSURE(out != NULL, WD_EINVAL);
    struct wd_cedar_request *r = wd_calloc(1, sizeof(*r));
    if (r == NULL) {
        *out = NULL;
        return WD_ENOMEM;
    }
    wd_cedar_zone_init(&r->zone, 4096, (size_t)64 << 20);
    wd_cedar_vb_init(&r->vb, &r->zone);
    wd_cedar_request_reset(r);
    *out = r;
    return WD_OK;
}

void wd_cedar_request_free(struct wd_cedar_request *r)
{
    if (r == NULL) {
        return;
    }
    wd_cedar_vb_cleanup(&r->vb);
    wd_cedar_zone_cleanup(&r->zone);
    wd_free(r);
}

void wd_cedar_request_reset(struct wd_cedar_request *r)
{
    wd_cedar_zone_reset(&r->zone);
    wd_cedar_vb_reset(&r->vb);
    r->principal = NULL;
    r->action = NULL;
    r->resource = NULL;
    r->context.kind = WD_CV_RECORD;
    r->context.u.rec = &wd_cedar_empty_record;
    r->in_context = false;
}

void wd_cedar_request_borrow_strings(struct wd_cedar_request *r, bool on)
{
    r->borrow = on;
    r->vb.copy_strings = !on;
}

static int set_uid(struct wd_cedar_request *r, const struct wd_cedar_euid **slot, const char *type,
                   size_t tn, const char *id, size_t idn)
{
    WD_ENSURE(r != NULL && (type != NULL || tn == 0) && (id != NULL || idn == 0), WD_EINVAL);
    WD_ENSURE(tn <= UINT32_MAX && idn <= UINT32_MAX, WD_ELIMIT);
    WD_ENSURE(wd_cedar_name_valid(type, tn), WD_EPROTO);
    if (!r->borrow) {
        return wd_cedar_zone_euid(&r->zone, type, tn, id, idn, slot);
    }
    struct {
        struct wd_cedar_euid u;
        struct wd_cedar_sym t, i;
    } *m = NULL;
    WD_TRY(wd_cedar_zone_alloc(&r->zone, sizeof(*m), (void **)&m));
    wd_cedar_euid_view(&m->u, &m->t, &m->i, type, tn, id, idn);
    *slot = &m->u;
    return WD_OK;
}

int wd_cedar_request_principal(struct wd_cedar_request *r, const char *type, size_t tlen,
                               const char *id, size_t idlen)
{
    WD_ENSURE(r != NULL, WD_EINVAL);
    return set_uid(r, &r->principal, type, tlen, id, idlen);
}

int wd_cedar_request_action(struct wd_cedar_request *r, const char *type, size_t tlen,
                            const char *id, size_t idlen)
{
    WD_ENSURE(r != NULL, WD_EINVAL);
    return set_uid(r, &r->action, type, tlen, id, idlen);
}

int wd_cedar_request_resource(struct wd_cedar_request *r, const char *type, size_t tlen,
                              const char *id, size_t idlen)
{
    WD_ENSURE(r != NULL, WD_EINVAL);
    return set_uid(r, &r->resource, type, tlen, id, idlen);
}

struct wd_cedar_vb *wd_cedar_request_context(struct wd_cedar_request *r)
{
    if (r == NULL) {
        return NULL;
    }
    wd_cedar_vb_reset(&r->vb);
    /* Opening a frame on an empty builder cannot fail. */
    int rc = wd_cedar_vb_begin(&r->vb, true);
    WD_BUG_ON(rc != WD_OK);
    r->in_context = true;
    return &r->vb;
}

int wd_cedar_request_context_end(struct wd_cedar_request *r)
{
    WD_ENSURE(r != NULL && r->in_context && r->vb.depth == 1, WD_EINVAL);
    WD_TRY(wd_cedar_vb_end(&r->vb));
    WD_TRY(wd_cedar_vb_take(&r->vb, &r->context));
    r->in_context = false;
    return WD_OK;
}

/* ---- JSON ---- */

static int json_uid(struct wd_cedar_request *r, const struct wd_cedar_jctx *jc,
                    const struct wd_node *obj, const char *key, struct wd_buf *idbuf,
                    const struct wd_cedar_euid **slot)
{
    const struct wd_node *n = wd_node_get(obj, key);
    if (n == NULL) {
        return wd_doc_error(jc->doc, obj, jc->diag, "missing key '%s'", key);
    }
    struct wd_cedar_juid u;
    WD_TRY(wd_cedar_json_uid(jc, n, true, idbuf, &u));
    /* JSON strings die with the document: always copy. */
    bool borrow = r->borrow;
    r->borrow = false;
    int rc = set_uid(r, slot, u.type, u.tlen, u.id, u.idlen);
    r->borrow = borrow;
    if (rc == WD_EPROTO) {
        return wd_doc_error(jc->doc, n, jc->diag, "invalid entity uid");
    }
    return rc;
}

int wd_cedar_request_set_json(struct wd_cedar_request *r, const struct wd_doc *doc,
                              const struct wd_node *node, const struct wd_cedar_json_schema *schema,
                              bool allow_other_keys, struct wd_diag *diag)
{
    WD_ENSURE(r != NULL && doc != NULL && node != NULL, WD_EINVAL);
    struct wd_cedar_jctx jc = {.doc = doc, .schema = schema, .diag = diag};
    if (node->type != WD_NODE_OBJ) {
        return wd_doc_error(doc, node, diag, "expected a request object, got %s",
                            wd_node_type_name(node->type));
    }
    if (!allow_other_keys) {
        const struct wd_node *p, *a, *res, *c;
        const struct wd_field fields[] = {
                {"principal", WD_NODE_NULL, WD_FIELD_REQUIRED, &p},
                {"action", WD_NODE_NULL, WD_FIELD_REQUIRED, &a},
                {"resource", WD_NODE_NULL, WD_FIELD_REQUIRED, &res},
                {"context", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &c},
        };
        WD_TRY(wd_doc_read_object(doc, node, fields, WD_ARRAY_LEN(fields), diag));
    }
    struct wd_buf idbuf;
    wd_buf_init(&idbuf, (size_t)1 << 20);
    bool saved_copy = r->vb.copy_strings;
    int rc = WD_OK;
    WD_CHECK(json_uid(r, &jc, node, "principal", &idbuf, &r->principal));
    WD_CHECK(json_uid(r, &jc, node, "action", &idbuf, &r->action));
    WD_CHECK(json_uid(r, &jc, node, "resource", &idbuf, &r->resource));
    const struct wd_node *ctx = wd_node_get(node, "context");
    if (ctx != NULL) {
        if (ctx->type != WD_NODE_OBJ) {
            rc = wd_doc_error(doc, ctx, diag, "'context': expected object, got %s",
                              wd_node_type_name(ctx->type));
            goto out;
        }
        const void *ctype = NULL;
        if (schema != NULL && schema->context_type != NULL) {
            ctype = schema->context_type(schema->ctx, r->action->type->p, r->action->type->len,
                                         r->action->id->p, r->action->id->len);
        }
        struct wd_cedar_vb *vb = wd_cedar_request_context(r);
        vb->copy_strings = true;
        for (size_t i = 0; i < ctx->u.obj.n; i++) {
            const struct wd_member *m = &ctx->u.obj.members[i];
            const void *ft = NULL;
            if (ctype != NULL && schema->attr_type != NULL) {
                ft = schema->attr_type(schema->ctx, ctype, m->key, m->key_len);
            }
            rc = wd_cedar_vb_key(vb, m->key, m->key_len);
            if (rc < 0 && rc != WD_ENOMEM) {
                rc = wd_doc_error(doc, ctx, diag, "invalid context");
            }
            WD_CHECK(rc);
            WD_CHECK(wd_cedar_json_value(&jc, m->val, ft, vb));
        }
        rc = wd_cedar_request_context_end(r);
        if (rc < 0 && rc != WD_ENOMEM) {
            rc = wd_doc_error(doc, ctx, diag, "invalid context (%s)", wd_strerror(rc));
        }
        WD_CHECK(rc);
    }
out:
    r->vb.copy_strings = saved_copy;
    wd_buf_cleanup(&idbuf);
    return rc;
}

int wd_cedar_request_load_json(struct wd_cedar_request *r, const char *file, const char *text,
                               size_t len, const struct wd_cedar_json_schema *schema,
                               struct wd_diag *diag)
{
    WD_ENSURE(r != NULL && (text != NULL || len == 0), WD_EINVAL);
    struct wd_doc *doc = NULL;
    int rc = WD_OK;
    WD_CHECK(wd_json_parse(file, text, len, NULL, &doc, diag));
    WD_CHECK(wd_cedar_request_set_json(r, doc, wd_doc_root(doc), schema, false, diag));
out:
    wd_doc_free(doc);
    return rc;
}
