/*
 * Cedar's JSON formats: values, entity uids, entities files and requests.
 *
 * Value format (Cedar "JSON value" / restricted expressions):
 *   true/false -> bool; integers -> long (numbers with a fraction or exponent, and null,
 *   are rejected); strings -> string; arrays -> sets; objects -> records, except
 *     {"__entity": {"type": T, "id": I}}              an entity reference
 *     {"__extn": {"fn": F, "arg": A}}                  an extension call, A a JSON value
 *     {"__extn": {"fn": F, "args": [A, ...]}}          (any extension function or method)
 *   and "__expr" (removed in Cedar 4) is an error.
 * With a schema (struct wd_cedar_json_schema) the expected type also allows the implicit
 * forms Cedar accepts: {"type", "id"} for an entity, {"fn", "arg"} or a bare string for an
 * extension value.
 *
 * Strictness beyond Cedar (documented in docs/internals/cedar-eval.md): unknown keys in an
 * entity object, a uid object or an escape are errors (Cedar ignores them), and an escape
 * key with a malformed value is an error (Cedar would read it as a record).
 */
#include "cedar/json_io.h"

#include <string.h>

#include "warden/alloc.h"
#include "warden/codec.h"
#include "warden/doc.h"
#include "warden/err.h"

#include "cedar/entities.h"
#include "cedar/eval.h"
#include "cedar/value.h"

#define MAX_EXT_ARGS 4

static bool key_is(const struct wd_member *m, const char *k)
{
    size_t n = strlen(k);
    return m->key_len == n && memcmp(m->key, k, n) == 0;
}

static enum wd_cedar_jtype jkind(const struct wd_cedar_jctx *jc, const void *type)
{
    if (type == NULL || jc->schema == NULL || jc->schema->kind == NULL) {
        return WD_CEDAR_JT_UNKNOWN;
    }
    return jc->schema->kind(jc->schema->ctx, type);
}

/* {"type": "...", "id": "..."} with nothing else. */
static int read_type_id(const struct wd_cedar_jctx *jc, const struct wd_node *n,
                        struct wd_cedar_juid *out)
{
    const struct wd_node *t = NULL, *i = NULL;
    const struct wd_field fields[] = {
            {"type", WD_NODE_STR, WD_FIELD_REQUIRED, &t},
            {"id", WD_NODE_STR, WD_FIELD_REQUIRED, &i},
    };
    WD_TRY(wd_doc_read_object(jc->doc, n, fields, WD_ARRAY_LEN(fields), jc->diag));
    if (!wd_cedar_name_valid(t->u.s.p, t->u.s.len)) {
        return wd_doc_error(jc->doc, t, jc->diag, "invalid entity type name \"%.*s\"",
                            (int)WD_MIN(t->u.s.len, 100), t->u.s.p);
    }
    out->type = t->u.s.p;
    out->tlen = t->u.s.len;
    out->id = i->u.s.p;
    out->idlen = i->u.s.len;
    return WD_OK;
}

static bool is_escape(const struct wd_node *n, const char *k)
{
    return n->type == WD_NODE_OBJ && n->u.obj.n == 1 && key_is(&n->u.obj.members[0], k);
}

static int put_utf8(struct wd_buf *b, uint32_t cp)
{
    uint8_t u[4];
    return wd_buf_append(b, u, wd_utf8_encode(cp, u));
}

int wd_cedar_uid_text_parse(const char *s, size_t n, struct wd_buf *idbuf,
                            struct wd_cedar_juid *out)
{
    const char *q = memchr(s, '"', n);
    WD_ENSURE(q != NULL, WD_EPROTO);
    size_t tn = (size_t)(q - s);
    WD_ENSURE(tn >= 3 && s[tn - 1] == ':' && s[tn - 2] == ':', WD_EPROTO);
    tn -= 2;
    WD_ENSURE(wd_cedar_name_valid(s, tn), WD_EPROTO);
    WD_ENSURE(n - (size_t)(q - s) >= 2 && s[n - 1] == '"', WD_EPROTO);
    wd_buf_reset(idbuf);
    size_t i = (size_t)(q - s) + 1, end = n - 1;
    while (i < end) {
        unsigned char c = (unsigned char)s[i++];
        if (c == '"') {
            return WD_EPROTO;
        }
        if (c != '\\') {
            WD_TRY(wd_buf_append_byte(idbuf, c));
            continue;
        }
        WD_ENSURE(i < end, WD_EPROTO);
        c = (unsigned char)s[i++];
        switch (c) {
        case 'n':
            WD_TRY(wd_buf_append_byte(idbuf, '\n'));
            break;
        case 'r':
            WD_TRY(wd_buf_append_byte(idbuf, '\r'));
            break;
        case 't':
            WD_TRY(wd_buf_append_byte(idbuf, '\t'));
            break;
        case '0':
            WD_TRY(wd_buf_append_byte(idbuf, '\0'));
            break;
        case '\\':
        case '\'':
        case '"':
            WD_TRY(wd_buf_append_byte(idbuf, c));
            break;
        case 'u': {
            WD_ENSURE(i < end && s[i] == '{', WD_EPROTO);
            i++;
            uint32_t cp = 0;
            size_t digits = 0;
            while (i < end && s[i] != '}') {
                int d = wd_hex_digit_value((unsigned char)s[i++]);
                WD_ENSURE(d >= 0 && digits < 6, WD_EPROTO);
                cp = cp * 16 + (uint32_t)d;
                digits++;
            }
            WD_ENSURE(i < end && digits > 0, WD_EPROTO);
            i++;
            WD_ENSURE(cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff), WD_EPROTO);
            WD_TRY(put_utf8(idbuf, cp));
            break;
        }
        default:
            return WD_EPROTO;
        }
    }
    out->type = s;
    out->tlen = tn;
    out->id = wd_buf_str(idbuf);
    out->idlen = idbuf->len;
    return WD_OK;
}

int wd_cedar_json_uid(const struct wd_cedar_jctx *jc, const struct wd_node *n, bool allow_text,
                      struct wd_buf *idbuf, struct wd_cedar_juid *out)
{
    if (n->type == WD_NODE_STR && allow_text) {
        int rc = wd_cedar_uid_text_parse(n->u.s.p, n->u.s.len, idbuf, out);
        if (rc == WD_EPROTO) {
            return wd_doc_error(jc->doc, n, jc->diag,
                                "expected an entity uid such as User::\"alice\"");
        }
        return rc;
    }
    if (n->type != WD_NODE_OBJ) {
        return wd_doc_error(jc->doc, n, jc->diag,
                            "expected an entity uid ({\"type\": ..., \"id\": ...}), got %s",
                            wd_node_type_name(n->type));
    }
    if (is_escape(n, "__entity")) {
        return read_type_id(jc, n->u.obj.members[0].val, out);
    }
    return read_type_id(jc, n, out);
}

/* ---- values ---- */

static int json_value_depth(const struct wd_cedar_jctx *jc, const struct wd_node *n,
                            const void *type, struct wd_cedar_vb *vb, unsigned depth);

static int vb_error(const struct wd_cedar_jctx *jc, const struct wd_node *n, struct wd_cedar_vb *vb,
                    int rc)
{
    switch (rc) {
    case WD_OK:
    case WD_ENOMEM:
        return rc;
    case WD_EEXIST:
        return wd_doc_error(jc->doc, n, jc->diag, "duplicate key \"%.*s\"",
                            (int)WD_MIN(vb->dup_key_len, 100), vb->dup_key);
    case WD_ELIMIT:
        return wd_doc_error(jc->doc, n, jc->diag, "value nested too deeply or too large");
    default:
        return wd_doc_error(jc->doc, n, jc->diag, "invalid value (%s)", wd_strerror(rc));
    }
}

/* Constructor by schema extension type name ("ipaddr" is built by "ip"). */
static int ext_from_string(const struct wd_cedar_jctx *jc, const struct wd_node *n, const char *ext,
                           struct wd_cedar_vb *vb)
{
    const char *fn = strcmp(ext, "ipaddr") == 0 ? "ip" : ext;
    int rc = wd_cedar_vb_ext(vb, fn, n->u.s.p, n->u.s.len);
    if (rc == WD_EPROTO) {
        return wd_doc_error(jc->doc, n, jc->diag, "invalid %s value \"%.*s\"", ext,
                            (int)WD_MIN(n->u.s.len, 100), n->u.s.p);
    }
    return vb_error(jc, n, vb, rc);
}

/* {"fn": F, "arg": A} or {"fn": F, "args": [...]}: evaluate the call. */
static int ext_call(const struct wd_cedar_jctx *jc, const struct wd_node *n, struct wd_cedar_vb *vb,
                    unsigned depth)
{
    const struct wd_node *fn = NULL, *arg = NULL, *args = NULL;
    const struct wd_field fields[] = {
            {"fn", WD_NODE_STR, WD_FIELD_REQUIRED, &fn},
            {"arg", WD_NODE_NULL, WD_FIELD_OPTIONAL, &arg},
            {"args", WD_NODE_ARR, WD_FIELD_OPTIONAL, &args},
    };
    WD_TRY(wd_doc_read_object(jc->doc, n, fields, WD_ARRAY_LEN(fields), jc->diag));
    if ((arg == NULL) == (args == NULL)) {
        return wd_doc_error(jc->doc, n, jc->diag, "expected exactly one of \"arg\", \"args\"");
    }
    int f = wd_cedar_ext_lookup(fn->u.s.p, fn->u.s.len);
    if (f < 0) {
        return wd_doc_error(jc->doc, fn, jc->diag, "unknown extension function \"%.*s\"",
                            (int)WD_MIN(fn->u.s.len, 100), fn->u.s.p);
    }
    const struct wd_node *const *items = arg != NULL ? &arg : args->u.arr.items;
    size_t nitems = arg != NULL ? 1 : args->u.arr.n;
    if (nitems > MAX_EXT_ARGS) {
        return wd_doc_error(jc->doc, n, jc->diag, "too many arguments");
    }
    /* Arguments are converted on a private builder (same zone), then applied. */
    struct wd_cedar_vb tmp;
    wd_cedar_vb_init(&tmp, vb->zone);
    int rc = WD_OK;
    for (size_t i = 0; i < nitems; i++) {
        WD_CHECK(json_value_depth(jc, items[i], NULL, &tmp, depth + 1));
    }
    struct wd_cedar_value argv[MAX_EXT_ARGS];
    for (size_t i = 0; i < nitems; i++) {
        argv[i] = tmp.items[i].v;
    }
    struct wd_cedar_value res;
    struct wd_cedar_everr err;
    memset(&err, 0, sizeof(err));
    rc = wd_cedar_ext_apply((enum wd_cedar_ext)f, argv, nitems, vb->zone, &res, &err);
    if (rc == WD_EDENIED) {
        char msg[200];
        (void)wd_cedar_everr_format(&err, msg, sizeof(msg));
        rc = wd_doc_error(jc->doc, n, jc->diag, "%s", msg);
        goto out;
    }
    WD_CHECK(rc);
    rc = vb_error(jc, n, vb, wd_cedar_vb_push(vb, &res));
out:
    wd_cedar_vb_cleanup(&tmp);
    return rc;
}

static int json_object(const struct wd_cedar_jctx *jc, const struct wd_node *n, const void *type,
                       struct wd_cedar_vb *vb, unsigned depth)
{
    enum wd_cedar_jtype k = jkind(jc, type);
    if (is_escape(n, "__entity")) {
        struct wd_cedar_juid u = {0};
        WD_TRY(read_type_id(jc, n->u.obj.members[0].val, &u));
        return vb_error(jc, n, vb, wd_cedar_vb_entity(vb, u.type, u.tlen, u.id, u.idlen));
    }
    if (is_escape(n, "__extn")) {
        return ext_call(jc, n->u.obj.members[0].val, vb, depth);
    }
    for (size_t i = 0; i < n->u.obj.n; i++) {
        if (key_is(&n->u.obj.members[i], "__expr")) {
            return wd_doc_error(jc->doc, n, jc->diag,
                                "the \"__expr\" escape is no longer supported");
        }
    }
    if (k == WD_CEDAR_JT_ENTITY && wd_node_get(n, "type") != NULL && wd_node_get(n, "id") != NULL
        && n->u.obj.n == 2) {
        struct wd_cedar_juid u = {0};
        WD_TRY(read_type_id(jc, n, &u));
        return vb_error(jc, n, vb, wd_cedar_vb_entity(vb, u.type, u.tlen, u.id, u.idlen));
    }
    if (k == WD_CEDAR_JT_EXT && wd_node_get(n, "fn") != NULL) {
        return ext_call(jc, n, vb, depth);
    }
    WD_TRY(vb_error(jc, n, vb, wd_cedar_vb_begin(vb, true)));
    for (size_t i = 0; i < n->u.obj.n; i++) {
        const struct wd_member *m = &n->u.obj.members[i];
        const void *ft = NULL;
        if (k == WD_CEDAR_JT_RECORD && jc->schema != NULL && jc->schema->attr_type != NULL) {
            ft = jc->schema->attr_type(jc->schema->ctx, type, m->key, m->key_len);
        }
        WD_TRY(vb_error(jc, n, vb, wd_cedar_vb_key(vb, m->key, m->key_len)));
        WD_TRY(json_value_depth(jc, m->val, ft, vb, depth + 1));
    }
    return vb_error(jc, n, vb, wd_cedar_vb_end(vb));
}

static int json_value_depth(const struct wd_cedar_jctx *jc, const struct wd_node *n,
                            const void *type, struct wd_cedar_vb *vb, unsigned depth)
{
    if (depth >= WD_CEDAR_VB_MAX_DEPTH) {
        return wd_doc_error(jc->doc, n, jc->diag, "value nested too deeply");
    }
    enum wd_cedar_jtype k = jkind(jc, type);
    switch (n->type) {
    case WD_NODE_NULL:
        return wd_doc_error(jc->doc, n, jc->diag, "null is not a Cedar value");
    case WD_NODE_BOOL:
        return vb_error(jc, n, vb, wd_cedar_vb_bool(vb, n->u.b));
    case WD_NODE_INT:
        return vb_error(jc, n, vb, wd_cedar_vb_long(vb, n->u.i));
    case WD_NODE_REAL:
        return wd_doc_error(jc->doc, n, jc->diag,
                            "number is not an integer in the range of a Cedar long");
    case WD_NODE_STR:
        if (k == WD_CEDAR_JT_EXT && jc->schema != NULL && jc->schema->ext_name != NULL) {
            const char *ext = jc->schema->ext_name(jc->schema->ctx, type);
            if (ext != NULL) {
                return ext_from_string(jc, n, ext, vb);
            }
        }
        return vb_error(jc, n, vb, wd_cedar_vb_string(vb, n->u.s.p, n->u.s.len));
    case WD_NODE_ARR: {
        const void *et = NULL;
        if (k == WD_CEDAR_JT_SET && jc->schema != NULL && jc->schema->elem_type != NULL) {
            et = jc->schema->elem_type(jc->schema->ctx, type);
        }
        WD_TRY(vb_error(jc, n, vb, wd_cedar_vb_begin(vb, false)));
        for (size_t i = 0; i < n->u.arr.n; i++) {
            WD_TRY(json_value_depth(jc, n->u.arr.items[i], et, vb, depth + 1));
        }
        return vb_error(jc, n, vb, wd_cedar_vb_end(vb));
    }
    case WD_NODE_OBJ:
        return json_object(jc, n, type, vb, depth);
    }
    return wd_doc_error(jc->doc, n, jc->diag, "unexpected JSON value");
}

int wd_cedar_json_value(const struct wd_cedar_jctx *jc, const struct wd_node *n, const void *type,
                        struct wd_cedar_vb *vb)
{
    return json_value_depth(jc, n, type, vb, vb->depth);
}

/* ---- entities ---- */

static int entity_error(const struct wd_cedar_jctx *jc, const struct wd_node *n, int rc,
                        const struct wd_diag *inner)
{
    /* Store errors carry no position: add the entity's. */
    if (rc == WD_ENOMEM) {
        return rc;
    }
    int r2 = wd_doc_error(jc->doc, n, jc->diag, "%s", inner->msg);
    return rc == WD_EEXIST ? WD_EEXIST : r2;
}

static int add_entity(struct wd_cedar_entities *e, const struct wd_cedar_jctx *jc,
                      const struct wd_node *n, struct wd_buf *idbuf)
{
    const struct wd_node *uid = NULL, *attrs = NULL, *parents = NULL, *tags = NULL;
    const struct wd_field fields[] = {
            {"uid", WD_NODE_OBJ, WD_FIELD_REQUIRED, &uid},
            {"attrs", WD_NODE_OBJ, WD_FIELD_REQUIRED, &attrs},
            {"parents", WD_NODE_ARR, WD_FIELD_REQUIRED, &parents},
            {"tags", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &tags},
    };
    WD_TRY(wd_doc_read_object(jc->doc, n, fields, WD_ARRAY_LEN(fields), jc->diag));
    struct wd_cedar_juid u = {0};
    WD_TRY(wd_cedar_json_uid(jc, uid, false, idbuf, &u));
    struct wd_diag inner;
    int rc = wd_cedar_entities_begin(e, u.type, u.tlen, u.id, u.idlen, &inner);
    if (rc < 0) {
        return entity_error(jc, uid, rc, &inner);
    }
    const struct wd_cedar_json_schema *sch = jc->schema;
    const void *atype = NULL, *ttype = NULL;
    if (sch != NULL && sch->attrs_type != NULL) {
        atype = sch->attrs_type(sch->ctx, u.type, u.tlen);
    }
    if (sch != NULL && sch->tags_type != NULL) {
        ttype = sch->tags_type(sch->ctx, u.type, u.tlen);
    }
    struct wd_cedar_vb *vb = wd_cedar_entities_vb(e);
    for (size_t i = 0; i < attrs->u.obj.n; i++) {
        const struct wd_member *m = &attrs->u.obj.members[i];
        const void *ft = NULL;
        if (atype != NULL && sch->attr_type != NULL) {
            ft = sch->attr_type(sch->ctx, atype, m->key, m->key_len);
        }
        WD_CHECK(vb_error(jc, attrs, vb, wd_cedar_vb_key(vb, m->key, m->key_len)));
        WD_CHECK(wd_cedar_json_value(jc, m->val, ft, vb));
    }
    for (size_t i = 0; i < parents->u.arr.n; i++) {
        struct wd_cedar_juid p = {0};
        WD_CHECK(wd_cedar_json_uid(jc, parents->u.arr.items[i], false, idbuf, &p));
        rc = wd_cedar_entities_parent(e, p.type, p.tlen, p.id, p.idlen, &inner);
        if (rc < 0) {
            rc = entity_error(jc, parents->u.arr.items[i], rc, &inner);
            goto out;
        }
    }
    if (tags != NULL) {
        rc = wd_cedar_entities_tags(e, &inner);
        if (rc < 0) {
            rc = entity_error(jc, attrs, rc, &inner);
            goto out;
        }
        for (size_t i = 0; i < tags->u.obj.n; i++) {
            const struct wd_member *m = &tags->u.obj.members[i];
            WD_CHECK(vb_error(jc, tags, vb, wd_cedar_vb_key(vb, m->key, m->key_len)));
            WD_CHECK(wd_cedar_json_value(jc, m->val, ttype, vb));
        }
    }
    rc = wd_cedar_entities_end(e, &inner);
    if (rc < 0) {
        rc = entity_error(jc, n, rc, &inner);
    }
out:
    if (rc < 0) {
        wd_cedar_entities_abort(e);
    }
    return rc;
}

int wd_cedar_entities_add_json(struct wd_cedar_entities *e, const struct wd_doc *doc,
                               const struct wd_node *node,
                               const struct wd_cedar_json_schema *schema, struct wd_diag *diag)
{
    WD_ENSURE(e != NULL && doc != NULL && node != NULL, WD_EINVAL);
    struct wd_cedar_jctx jc = {.doc = doc, .schema = schema, .diag = diag};
    if (node->type != WD_NODE_ARR) {
        return wd_doc_error(doc, node, diag, "expected an array of entities, got %s",
                            wd_node_type_name(node->type));
    }
    struct wd_buf idbuf;
    wd_buf_init(&idbuf, (size_t)1 << 24);
    int rc = WD_OK;
    for (size_t i = 0; i < node->u.arr.n; i++) {
        WD_CHECK(add_entity(e, &jc, node->u.arr.items[i], &idbuf));
    }
out:
    wd_buf_cleanup(&idbuf);
    return rc;
}

int wd_cedar_entities_load_json(const char *file, const char *text, size_t len,
                                const struct wd_cedar_json_schema *schema,
                                const struct wd_cedar_entities_limits *lim,
                                struct wd_cedar_entities **out, struct wd_diag *diag)
{
    WD_ENSURE(out != NULL && (text != NULL || len == 0), WD_EINVAL);
    *out = NULL;
    struct wd_doc *doc = NULL;
    struct wd_cedar_entities *e = NULL;
    int rc = WD_OK;
    WD_CHECK(wd_json_parse(file, text, len, NULL, &doc, diag));
    WD_CHECK(wd_cedar_entities_new(lim, &e));
    WD_CHECK(wd_cedar_entities_add_json(e, doc, wd_doc_root(doc), schema, diag));
    if (schema != NULL && schema->add_actions != NULL) {
        WD_CHECK(schema->add_actions(schema->ctx, e, diag));
    }
    rc = wd_cedar_entities_freeze(e, diag);
    if (rc < 0 && rc != WD_ENOMEM && diag != NULL) {
        /* Prefix the file name: freeze diagnostics carry no position. */
        struct wd_diag tmp = *diag;
        (void)wd_diag_set(diag, rc, file, 0, 0, "%s", tmp.msg);
    }
    WD_CHECK(rc);
    *out = e;
    e = NULL;
out:
    wd_cedar_entities_free(e);
    wd_doc_free(doc);
    return rc;
}
