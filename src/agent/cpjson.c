/* Control-plane JSON: decoders for its answers and a small request writer (see cpjson.h). */
#include "cpjson.h"

#include <string.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/codec.h"
#include "warden/doc.h"

static const struct wd_doc_limits json_limits = {
        .max_bytes = AGT_JSON_MAX, .max_depth = 16, .max_nodes = 200000};

/* A member of obj with the given type; NULL when absent. *bad is set for a wrong type. */
static const struct wd_node *member(const struct wd_node *obj, const char *key,
                                    enum wd_node_type type, bool *bad)
{
    const struct wd_node *n = wd_node_get(obj, key);
    if (n != NULL && n->type != type) {
        *bad = true;
        return NULL;
    }
    return n;
}

static bool has_nul(const struct wd_node *s)
{
    return memchr(s->u.s.p, '\0', s->u.s.len) != NULL;
}

static int parse_root(const void *p, size_t n, struct wd_doc **doc)
{
    int rc = wd_json_parse("answer", p, n, &json_limits, doc, NULL);
    if (rc < 0) {
        return rc == WD_ENOMEM ? WD_ENOMEM : WD_EPROTO;
    }
    if (wd_doc_root(*doc)->type != WD_NODE_OBJ) {
        wd_doc_free(*doc);
        *doc = NULL;
        return WD_EPROTO;
    }
    return WD_OK;
}

static int get_time(const struct wd_node *s, int64_t *out)
{
    WD_ENSURE(!has_nul(s), WD_EPROTO);
    return wd_time_parse(s->u.s.p, out) < 0 ? WD_EPROTO : WD_OK;
}

static int get_duration(const struct wd_node *s, int64_t *out)
{
    WD_ENSURE(!has_nul(s), WD_EPROTO);
    int64_t ms = 0;
    WD_ENSURE(wd_duration_parse(s->u.s.p, &ms) == WD_OK && ms > 0, WD_EPROTO);
    *out = ms;
    return WD_OK;
}

static int get_spiffe(const struct wd_node *s, struct wd_spiffe_id *out)
{
    return wd_spiffe_id_parse(s->u.s.p, s->u.s.len, out, NULL, NULL) < 0 ? WD_EPROTO : WD_OK;
}

/* A PEM text: no NUL, and it must start with "-----BEGIN ". Parsed for real by the user. */
static int get_pem(const struct wd_node *s, char **out)
{
    static const char begin[] = "-----BEGIN ";
    WD_ENSURE(!has_nul(s) && s->u.s.len >= sizeof(begin) - 1, WD_EPROTO);
    WD_ENSURE(memcmp(s->u.s.p, begin, sizeof(begin) - 1) == 0, WD_EPROTO);
    *out = wd_strndup(s->u.s.p, s->u.s.len);
    return *out == NULL ? WD_ENOMEM : WD_OK;
}

static int get_b64(const struct wd_node *s, struct wd_buf *out)
{
    wd_buf_reset(out);
    int rc = wd_b64_decode(out, s->u.s.p, s->u.s.len, WD_B64_STD);
    if (rc == WD_ELIMIT) {
        return WD_EPROTO;
    }
    return rc;
}

/* A session token: 1..AGT_SESSION_MAX characters of [0-9A-Za-z_-]. */
static int get_token(const struct wd_node *s, char *out, size_t max)
{
    WD_ENSURE(s->u.s.len >= 1 && s->u.s.len <= max, WD_EPROTO);
    for (size_t i = 0; i < s->u.s.len; i++) {
        unsigned char c = (unsigned char)s->u.s.p[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                  || c == '-' || c == '_';
        WD_ENSURE(ok, WD_EPROTO);
    }
    memcpy(out, s->u.s.p, s->u.s.len);
    out[s->u.s.len] = '\0';
    return WD_OK;
}

/* An entry id: exactly 32 lower-case hex digits. */
static int get_entry_id(const struct wd_node *s, char out[AGT_ENTRY_ID_LEN + 1])
{
    WD_ENSURE(s->u.s.len == AGT_ENTRY_ID_LEN, WD_EPROTO);
    for (size_t i = 0; i < AGT_ENTRY_ID_LEN; i++) {
        char c = s->u.s.p[i];
        WD_ENSURE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'), WD_EPROTO);
    }
    memcpy(out, s->u.s.p, AGT_ENTRY_ID_LEN);
    out[AGT_ENTRY_ID_LEN] = '\0';
    return WD_OK;
}

/* A short non-empty printable-ASCII text copied into out[max] (pcr_selection, error codes). */
static int get_text(const struct wd_node *s, char *out, size_t max)
{
    WD_ENSURE(s->u.s.len > 0 && s->u.s.len < max, WD_EPROTO);
    for (size_t i = 0; i < s->u.s.len; i++) {
        unsigned char c = (unsigned char)s->u.s.p[i];
        WD_ENSURE(c >= 0x20 && c < 0x7f, WD_EPROTO);
    }
    memcpy(out, s->u.s.p, s->u.s.len);
    out[s->u.s.len] = '\0';
    return WD_OK;
}

/* ---- identity ---- */

void agt_identity_resp_cleanup(struct agt_identity_resp *r)
{
    if (r != NULL) {
        wd_free(r->svid_pem);
        wd_free(r->bundle_pem);
        memset(r, 0, sizeof(*r));
    }
}

int agt_decode_identity(const void *p, size_t n, struct agt_identity_resp *out)
{
    struct wd_doc *doc = NULL;
    int rc;
    bool bad = false;
    memset(out, 0, sizeof(*out));
    WD_TRY(parse_root(p, n, &doc));
    const struct wd_node *root = wd_doc_root(doc);
    const struct wd_node *id = member(root, "spiffe_id", WD_NODE_STR, &bad);
    const struct wd_node *svid = member(root, "svid_pem", WD_NODE_STR, &bad);
    const struct wd_node *bundle = member(root, "bundle_pem", WD_NODE_STR, &bad);
    const struct wd_node *exp = member(root, "expires_at", WD_NODE_STR, &bad);
    const struct wd_node *hb = member(root, "heartbeat", WD_NODE_STR, &bad);
    (void)member(root, "node", WD_NODE_STR, &bad);
    if (bad || id == NULL || svid == NULL || bundle == NULL || exp == NULL) {
        rc = WD_EPROTO;
        goto out;
    }
    WD_CHECK(get_spiffe(id, &out->id));
    WD_CHECK(get_time(exp, &out->expires_at));
    if (hb != NULL) {
        WD_CHECK(get_duration(hb, &out->heartbeat_ms));
    }
    WD_CHECK(get_pem(svid, &out->svid_pem));
    WD_CHECK(get_pem(bundle, &out->bundle_pem));
    rc = WD_OK;
out:
    if (rc < 0) {
        agt_identity_resp_cleanup(out);
    }
    wd_doc_free(doc);
    return rc;
}

/* ---- tpm begin ---- */

void agt_begin_resp_cleanup(struct agt_begin_resp *r)
{
    if (r != NULL) {
        wd_buf_cleanup(&r->credential_blob);
        wd_buf_cleanup(&r->encrypted_secret);
        wd_buf_cleanup(&r->nonce);
        memset(r, 0, sizeof(*r));
    }
}

int agt_decode_begin(const void *p, size_t n, struct agt_begin_resp *out)
{
    struct wd_doc *doc = NULL;
    int rc;
    bool bad = false;
    memset(out, 0, sizeof(*out));
    wd_buf_init(&out->credential_blob, AGT_BLOB_MAX);
    wd_buf_init(&out->encrypted_secret, AGT_BLOB_MAX);
    wd_buf_init(&out->nonce, 64);
    WD_CHECK(parse_root(p, n, &doc));
    const struct wd_node *root = wd_doc_root(doc);
    const struct wd_node *sess = member(root, "session", WD_NODE_STR, &bad);
    const struct wd_node *blob = member(root, "credential_blob", WD_NODE_STR, &bad);
    const struct wd_node *sec = member(root, "encrypted_secret", WD_NODE_STR, &bad);
    const struct wd_node *nonce = member(root, "nonce", WD_NODE_STR, &bad);
    const struct wd_node *pcr = member(root, "pcr_selection", WD_NODE_STR, &bad);
    const struct wd_node *dl = member(root, "deadline", WD_NODE_STR, &bad);
    if (bad || sess == NULL || blob == NULL || sec == NULL || nonce == NULL || pcr == NULL) {
        rc = WD_EPROTO;
        goto out;
    }
    WD_CHECK(get_token(sess, out->session, AGT_SESSION_MAX));
    WD_CHECK(get_b64(blob, &out->credential_blob));
    WD_CHECK(get_b64(sec, &out->encrypted_secret));
    WD_CHECK(get_b64(nonce, &out->nonce));
    if (out->nonce.len == 0 || out->credential_blob.len == 0 || out->encrypted_secret.len == 0) {
        rc = WD_EPROTO;
        goto out;
    }
    WD_CHECK(get_text(pcr, out->pcr_selection, sizeof(out->pcr_selection)));
    if (dl != NULL) {
        WD_CHECK(get_time(dl, &out->deadline));
    }
    rc = WD_OK;
out:
    if (rc < 0) {
        agt_begin_resp_cleanup(out);
    }
    wd_doc_free(doc);
    return rc;
}

/* ---- challenge ---- */

void agt_challenge_resp_cleanup(struct agt_challenge_resp *r)
{
    if (r != NULL) {
        wd_buf_cleanup(&r->nonce);
        memset(r, 0, sizeof(*r));
    }
}

int agt_decode_challenge(const void *p, size_t n, struct agt_challenge_resp *out)
{
    struct wd_doc *doc = NULL;
    int rc;
    bool bad = false;
    memset(out, 0, sizeof(*out));
    wd_buf_init(&out->nonce, 64);
    WD_CHECK(parse_root(p, n, &doc));
    const struct wd_node *root = wd_doc_root(doc);
    const struct wd_node *sess = member(root, "session", WD_NODE_STR, &bad);
    const struct wd_node *nonce = member(root, "nonce", WD_NODE_STR, &bad);
    const struct wd_node *pcr = member(root, "pcr_selection", WD_NODE_STR, &bad);
    const struct wd_node *dl = member(root, "deadline", WD_NODE_STR, &bad);
    if (bad || sess == NULL || (nonce != NULL && pcr == NULL)) {
        rc = WD_EPROTO;
        goto out;
    }
    WD_CHECK(get_token(sess, out->session, AGT_SESSION_MAX));
    if (nonce != NULL) {
        WD_CHECK(get_b64(nonce, &out->nonce));
        if (out->nonce.len == 0) {
            rc = WD_EPROTO;
            goto out;
        }
        out->has_nonce = true;
    }
    if (pcr != NULL) {
        WD_CHECK(get_text(pcr, out->pcr_selection, sizeof(out->pcr_selection)));
    }
    if (dl != NULL) {
        WD_CHECK(get_time(dl, &out->deadline));
    }
    rc = WD_OK;
out:
    if (rc < 0) {
        agt_challenge_resp_cleanup(out);
    }
    wd_doc_free(doc);
    return rc;
}

/* ---- heartbeat ---- */

int agt_decode_heartbeat(const void *p, size_t n, struct agt_heartbeat_resp *out)
{
    struct wd_doc *doc = NULL;
    int rc;
    bool bad = false;
    memset(out, 0, sizeof(*out));
    WD_TRY(parse_root(p, n, &doc));
    const struct wd_node *root = wd_doc_root(doc);
    const struct wd_node *tr = member(root, "trusted", WD_NODE_BOOL, &bad);
    const struct wd_node *hb = member(root, "heartbeat", WD_NODE_STR, &bad);
    if (bad || tr == NULL) {
        rc = WD_EPROTO;
        goto out;
    }
    out->trusted = tr->u.b;
    if (hb != NULL) {
        WD_CHECK(get_duration(hb, &out->heartbeat_ms));
    }
    rc = WD_OK;
out:
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
    }
    wd_doc_free(doc);
    return rc;
}

/* ---- entries ---- */

void agt_entries_cleanup(struct agt_entries *e)
{
    if (e != NULL) {
        wd_free(e->v);
        e->v = NULL;
        e->n = 0;
    }
}

int agt_decode_entries(const void *p, size_t n, struct agt_entries *out)
{
    struct wd_doc *doc = NULL;
    int rc;
    bool bad = false;
    memset(out, 0, sizeof(*out));
    WD_TRY(parse_root(p, n, &doc));
    const struct wd_node *arr = member(wd_doc_root(doc), "entries", WD_NODE_ARR, &bad);
    if (bad || arr == NULL || arr->u.arr.n > AGT_ENTRIES_MAX) {
        rc = WD_EPROTO;
        goto out;
    }
    if (arr->u.arr.n > 0) {
        out->v = wd_calloc(arr->u.arr.n, sizeof(*out->v));
        if (out->v == NULL) {
            rc = WD_ENOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < arr->u.arr.n; i++) {
        const struct wd_node *e = arr->u.arr.items[i];
        struct agt_entry *dst = &out->v[i];
        if (e->type != WD_NODE_OBJ) {
            rc = WD_EPROTO;
            goto out;
        }
        const struct wd_node *id = member(e, "id", WD_NODE_STR, &bad);
        const struct wd_node *sid = member(e, "spiffe_id", WD_NODE_STR, &bad);
        const struct wd_node *sel = member(e, "selectors", WD_NODE_OBJ, &bad);
        const struct wd_node *ttl = member(e, "ttl", WD_NODE_STR, &bad);
        if (bad || id == NULL || sid == NULL || sel == NULL) {
            rc = WD_EPROTO;
            goto out;
        }
        WD_CHECK(get_entry_id(id, dst->id));
        WD_CHECK(get_spiffe(sid, &dst->spiffe_id));
        WD_CHECK(agt_selectors_from_json(doc, sel, &dst->sel, NULL));
        if (ttl != NULL) {
            WD_CHECK(get_duration(ttl, &dst->ttl_ms));
        }
        /* Quadratic only for small lists; large ones are rare and bounded. */
        for (size_t k = 0; k < i && i < 2000; k++) {
            if (strcmp(out->v[k].id, dst->id) == 0) {
                rc = WD_EPROTO;
                goto out;
            }
        }
        out->n = i + 1;
    }
    rc = WD_OK;
out:
    if (rc < 0) {
        agt_entries_cleanup(out);
    }
    wd_doc_free(doc);
    return rc;
}

/* ---- svids ---- */

void agt_svids_resp_cleanup(struct agt_svids_resp *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n; i++) {
        wd_free(r->v[i].svid_pem);
    }
    wd_free(r->v);
    wd_free(r->bundle_pem);
    memset(r, 0, sizeof(*r));
}

int agt_decode_svids(const void *p, size_t n, struct agt_svids_resp *out)
{
    struct wd_doc *doc = NULL;
    int rc;
    bool bad = false;
    memset(out, 0, sizeof(*out));
    WD_TRY(parse_root(p, n, &doc));
    const struct wd_node *root = wd_doc_root(doc);
    const struct wd_node *arr = member(root, "svids", WD_NODE_ARR, &bad);
    const struct wd_node *bundle = member(root, "bundle_pem", WD_NODE_STR, &bad);
    if (bad || arr == NULL || bundle == NULL || arr->u.arr.n > AGT_BATCH_MAX) {
        rc = WD_EPROTO;
        goto out;
    }
    WD_CHECK(get_pem(bundle, &out->bundle_pem));
    if (arr->u.arr.n > 0) {
        out->v = wd_calloc(arr->u.arr.n, sizeof(*out->v));
        if (out->v == NULL) {
            rc = WD_ENOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < arr->u.arr.n; i++) {
        const struct wd_node *e = arr->u.arr.items[i];
        struct agt_svid_item *dst = &out->v[i];
        if (e->type != WD_NODE_OBJ) {
            rc = WD_EPROTO;
            goto out;
        }
        const struct wd_node *id = member(e, "entry_id", WD_NODE_STR, &bad);
        const struct wd_node *sid = member(e, "spiffe_id", WD_NODE_STR, &bad);
        const struct wd_node *pem = member(e, "svid_pem", WD_NODE_STR, &bad);
        const struct wd_node *exp = member(e, "expires_at", WD_NODE_STR, &bad);
        if (bad || id == NULL || sid == NULL || pem == NULL || exp == NULL) {
            rc = WD_EPROTO;
            goto out;
        }
        out->n = i + 1;
        WD_CHECK(get_entry_id(id, dst->entry_id));
        WD_CHECK(get_spiffe(sid, &dst->spiffe_id));
        WD_CHECK(get_time(exp, &dst->expires_at));
        WD_CHECK(get_pem(pem, &dst->svid_pem));
    }
    rc = WD_OK;
out:
    if (rc < 0) {
        agt_svids_resp_cleanup(out);
    }
    wd_doc_free(doc);
    return rc;
}

/* ---- errors ---- */

int agt_decode_error(const void *p, size_t n, struct agt_error_resp *out)
{
    struct wd_doc *doc = NULL;
    int rc;
    bool bad = false;
    memset(out, 0, sizeof(*out));
    WD_TRY(parse_root(p, n, &doc));
    const struct wd_node *root = wd_doc_root(doc);
    const struct wd_node *err = member(root, "error", WD_NODE_STR, &bad);
    const struct wd_node *reason = member(root, "reason", WD_NODE_STR, &bad);
    (void)member(root, "message", WD_NODE_STR, &bad);
    if (bad || err == NULL || err->u.s.len == 0) {
        rc = WD_EPROTO;
        goto out;
    }
    WD_CHECK(get_text(err, out->error, sizeof(out->error)));
    if (reason != NULL) {
        WD_CHECK(get_text(reason, out->reason, sizeof(out->reason)));
    }
    rc = WD_OK;
out:
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
    }
    wd_doc_free(doc);
    return rc;
}

/* ---- writer ---- */

void agt_jw_begin(struct agt_jw *w, struct wd_buf *out)
{
    w->out = out;
    w->start = out->len;
    w->first = true;
    w->rc = wd_buf_append_byte(out, '{');
}

static void jw_key(struct agt_jw *w, const char *key)
{
    if (w->rc < 0) {
        return;
    }
    if (!w->first) {
        w->rc = wd_buf_append_byte(w->out, ',');
    }
    w->first = false;
    if (w->rc == WD_OK) {
        w->rc = wd_json_append_string(w->out, key, strlen(key));
    }
    if (w->rc == WD_OK) {
        w->rc = wd_buf_append_byte(w->out, ':');
    }
}

void agt_jw_str(struct agt_jw *w, const char *key, const char *val)
{
    jw_key(w, key);
    if (w->rc == WD_OK) {
        w->rc = wd_json_append_string(w->out, val, strlen(val));
    }
}

void agt_jw_b64(struct agt_jw *w, const char *key, const void *p, size_t n)
{
    jw_key(w, key);
    if (w->rc == WD_OK) {
        w->rc = wd_buf_append_byte(w->out, '"');
    }
    if (w->rc == WD_OK) {
        w->rc = wd_b64_encode(w->out, p, n, WD_B64_STD);
    }
    if (w->rc == WD_OK) {
        w->rc = wd_buf_append_byte(w->out, '"');
    }
}

void agt_jw_open(struct agt_jw *w, const char *key)
{
    jw_key(w, key);
    if (w->rc == WD_OK) {
        w->rc = wd_buf_append_byte(w->out, '{');
    }
    w->first = true;
}

void agt_jw_close(struct agt_jw *w)
{
    if (w->rc == WD_OK) {
        w->rc = wd_buf_append_byte(w->out, '}');
    }
    w->first = false;
}

int agt_jw_end(struct agt_jw *w)
{
    if (w->rc == WD_OK) {
        w->rc = wd_buf_append_byte(w->out, '}');
    }
    if (w->rc < 0 && w->out->len > w->start) {
        w->out->len = w->start;
        if (w->out->p != NULL) {
            w->out->p[w->out->len] = '\0';
        }
    }
    return w->rc;
}
