/*
 * REST body decoders. Every body is one JSON object (an empty body counts as {}), read with
 * wd_doc_read_object so unknown members, missing members and wrong types are refused with
 * the member's position.
 */
#include "api_decode.h"

#include <string.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/codec.h"
#include "warden/names.h"

#include "config.h"

#define REQ_NAME "<request>"

void srv_body_init(struct srv_body *b)
{
    memset(b, 0, sizeof(*b));
    wd_buf_init(&b->ek_public, 4096);
    wd_buf_init(&b->ek_cert, 8192);
    wd_buf_init(&b->ak_public, 4096);
    wd_buf_init(&b->secret, 256);
    wd_buf_init(&b->attest, 4096);
    wd_buf_init(&b->sig, 4096);
    wd_buf_init(&b->pcr_values, 8192);
}

void srv_body_cleanup(struct srv_body *b)
{
    if (b == NULL) {
        return;
    }
    wd_doc_free(b->doc);
    wd_buf_cleanup(&b->ek_public);
    wd_buf_cleanup(&b->ek_cert);
    wd_buf_cleanup(&b->ak_public);
    wd_buf_cleanup_secret(&b->secret);
    wd_buf_cleanup(&b->attest);
    wd_buf_cleanup(&b->sig);
    wd_buf_cleanup(&b->pcr_values);
    wd_free(b->reqs);
    srv_body_init(b);
}

bool srv_id_valid(const char *s, size_t n)
{
    if (s == NULL || n != WD_STORE_ID_LEN) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

static int parse_body(const uint8_t *p, size_t n, struct srv_body *b, struct wd_diag *diag)
{
    struct wd_doc_limits lim = {SRV_BODY_MAX, 8, 20000};
    if (n == 0) {
        p = (const uint8_t *)"{}";
        n = 2;
    }
    WD_ENSURE(n <= SRV_BODY_MAX, WD_ELIMIT);
    return wd_json_parse(REQ_NAME, p, n, &lim, &b->doc, diag);
}

/* A string member without NUL bytes, 1..max bytes. */
static int text(const struct srv_body *b, const struct wd_node *v, const char *key, size_t max,
                const char **out, size_t *len_out, struct wd_diag *diag)
{
    if (v->u.s.len == 0 || v->u.s.len > max || memchr(v->u.s.p, '\0', v->u.s.len) != NULL) {
        return wd_doc_error(b->doc, v, diag, "'%s': must be 1..%zu bytes without NUL", key, max);
    }
    *out = v->u.s.p;
    if (len_out != NULL) {
        *len_out = v->u.s.len;
    }
    return WD_OK;
}

static int b64(const struct srv_body *b, const struct wd_node *v, const char *key,
               struct wd_buf *out, struct wd_diag *diag)
{
    int rc = wd_b64_decode(out, v->u.s.p, v->u.s.len, WD_B64_STD);
    if (rc == WD_ENOMEM) {
        return rc;
    }
    if (rc == WD_ELIMIT) {
        return wd_doc_error(b->doc, v, diag, "'%s': too large", key);
    }
    if (rc != WD_OK || out->len == 0) {
        return wd_doc_error(b->doc, v, diag, "'%s': must be non-empty standard base64", key);
    }
    return WD_OK;
}

static int node_name(struct srv_body *b, const struct wd_node *v, struct wd_diag *diag)
{
    if (!wd_node_name_valid(v->u.s.p, v->u.s.len) || strlen(v->u.s.p) != v->u.s.len) {
        return wd_doc_error(b->doc, v, diag,
                            "'node': must be 1..255 characters of A-Z a-z 0-9 . _ -");
    }
    b->node = v->u.s.p;
    return WD_OK;
}

static int session_id(struct srv_body *b, const struct wd_node *v, struct wd_diag *diag)
{
    if (!srv_id_valid(v->u.s.p, v->u.s.len)) {
        return wd_doc_error(b->doc, v, diag, "'session': must be 32 lower-case hex digits");
    }
    b->session = v->u.s.p;
    return WD_OK;
}

static int ttl_of(struct srv_body *b, const struct wd_node *v, int64_t max, struct wd_diag *diag)
{
    int64_t ms = 0;
    if (strlen(v->u.s.p) != v->u.s.len || wd_duration_parse(v->u.s.p, &ms) != WD_OK
        || ms % 1000 != 0 || ms / 1000 < 1 || ms / 1000 > max) {
        return wd_doc_error(b->doc, v, diag,
                            "'ttl': must be a duration of whole seconds, 1s..%llds (e.g. 10m)",
                            (long long)max);
    }
    b->has_ttl = true;
    b->ttl = ms / 1000;
    return WD_OK;
}

static int quote(struct srv_body *b, const struct wd_node *q, struct wd_diag *diag)
{
    const struct wd_node *attest, *sig, *pcrs;
    const struct wd_field f[] = {
            {"attest", WD_NODE_STR, WD_FIELD_REQUIRED, &attest},
            {"signature", WD_NODE_STR, WD_FIELD_REQUIRED, &sig},
            {"pcr_values", WD_NODE_STR, WD_FIELD_REQUIRED, &pcrs},
    };
    WD_TRY(wd_doc_read_object(b->doc, q, f, WD_ARRAY_LEN(f), diag));
    WD_TRY(b64(b, attest, "attest", &b->attest, diag));
    WD_TRY(b64(b, sig, "signature", &b->sig, diag));
    WD_TRY(b64(b, pcrs, "pcr_values", &b->pcr_values, diag));
    b->has_quote = true;
    return WD_OK;
}

int srv_decode_tpm_begin(const uint8_t *p, size_t n, struct srv_body *b, struct wd_diag *diag)
{
    const struct wd_node *node, *ek, *ekc, *ak;
    const struct wd_field f[] = {
            {"node", WD_NODE_STR, WD_FIELD_REQUIRED, &node},
            {"ek_public", WD_NODE_STR, WD_FIELD_REQUIRED, &ek},
            {"ek_cert", WD_NODE_STR, WD_FIELD_OPTIONAL, &ekc},
            {"ak_public", WD_NODE_STR, WD_FIELD_REQUIRED, &ak},
    };
    WD_TRY(parse_body(p, n, b, diag));
    WD_TRY(wd_doc_read_object(b->doc, wd_doc_root(b->doc), f, WD_ARRAY_LEN(f), diag));
    WD_TRY(node_name(b, node, diag));
    WD_TRY(b64(b, ek, "ek_public", &b->ek_public, diag));
    if (ekc != NULL) {
        WD_TRY(b64(b, ekc, "ek_cert", &b->ek_cert, diag));
        b->has_ek_cert = true;
    }
    return b64(b, ak, "ak_public", &b->ak_public, diag);
}

int srv_decode_tpm_finish(const uint8_t *p, size_t n, struct srv_body *b, struct wd_diag *diag)
{
    const struct wd_node *session, *secret, *q, *csr;
    const struct wd_field f[] = {
            {"session", WD_NODE_STR, WD_FIELD_REQUIRED, &session},
            {"secret", WD_NODE_STR, WD_FIELD_REQUIRED, &secret},
            {"quote", WD_NODE_OBJ, WD_FIELD_REQUIRED, &q},
            {"csr", WD_NODE_STR, WD_FIELD_REQUIRED, &csr},
    };
    WD_TRY(parse_body(p, n, b, diag));
    WD_TRY(wd_doc_read_object(b->doc, wd_doc_root(b->doc), f, WD_ARRAY_LEN(f), diag));
    WD_TRY(session_id(b, session, diag));
    WD_TRY(b64(b, secret, "secret", &b->secret, diag));
    WD_TRY(quote(b, q, diag));
    return text(b, csr, "csr", SRV_CSR_MAX, &b->csr, &b->csr_len, diag);
}

int srv_decode_join(const uint8_t *p, size_t n, struct srv_body *b, struct wd_diag *diag)
{
    const struct wd_node *node, *token, *csr;
    const struct wd_field f[] = {
            {"node", WD_NODE_STR, WD_FIELD_REQUIRED, &node},
            {"token", WD_NODE_STR, WD_FIELD_REQUIRED, &token},
            {"csr", WD_NODE_STR, WD_FIELD_REQUIRED, &csr},
    };
    WD_TRY(parse_body(p, n, b, diag));
    WD_TRY(wd_doc_read_object(b->doc, wd_doc_root(b->doc), f, WD_ARRAY_LEN(f), diag));
    WD_TRY(node_name(b, node, diag));
    WD_TRY(text(b, token, "token", SRV_TOKEN_MAX, &b->token, &b->token_len, diag));
    return text(b, csr, "csr", SRV_CSR_MAX, &b->csr, &b->csr_len, diag);
}

int srv_decode_challenge(const uint8_t *p, size_t n, struct srv_body *b, struct wd_diag *diag)
{
    WD_TRY(parse_body(p, n, b, diag));
    return wd_doc_read_object(b->doc, wd_doc_root(b->doc), NULL, 0, diag);
}

int srv_decode_heartbeat(const uint8_t *p, size_t n, struct srv_body *b, struct wd_diag *diag)
{
    const struct wd_node *session, *q;
    const struct wd_field f[] = {
            {"session", WD_NODE_STR, WD_FIELD_REQUIRED, &session},
            {"quote", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &q},
    };
    WD_TRY(parse_body(p, n, b, diag));
    WD_TRY(wd_doc_read_object(b->doc, wd_doc_root(b->doc), f, WD_ARRAY_LEN(f), diag));
    WD_TRY(session_id(b, session, diag));
    if (q != NULL) {
        WD_TRY(quote(b, q, diag));
    }
    return WD_OK;
}

int srv_decode_renew(const uint8_t *p, size_t n, struct srv_body *b, struct wd_diag *diag)
{
    const struct wd_node *csr;
    const struct wd_field f[] = {
            {"csr", WD_NODE_STR, WD_FIELD_REQUIRED, &csr},
    };
    WD_TRY(parse_body(p, n, b, diag));
    WD_TRY(wd_doc_read_object(b->doc, wd_doc_root(b->doc), f, WD_ARRAY_LEN(f), diag));
    return text(b, csr, "csr", SRV_CSR_MAX, &b->csr, &b->csr_len, diag);
}

int srv_decode_svids(const uint8_t *p, size_t n, struct srv_body *b, struct wd_diag *diag)
{
    const struct wd_node *reqs;
    const struct wd_field f[] = {
            {"requests", WD_NODE_ARR, WD_FIELD_REQUIRED, &reqs},
    };
    WD_TRY(parse_body(p, n, b, diag));
    WD_TRY(wd_doc_read_object(b->doc, wd_doc_root(b->doc), f, WD_ARRAY_LEN(f), diag));
    size_t k = reqs->u.arr.n;
    if (k == 0 || k > SRV_SVID_REQS_MAX) {
        return wd_doc_error(b->doc, reqs, diag, "'requests': must hold 1..%u requests",
                            SRV_SVID_REQS_MAX);
    }
    b->reqs = wd_calloc(k, sizeof(*b->reqs));
    WD_ENSURE(b->reqs != NULL, WD_ENOMEM);
    for (size_t i = 0; i < k; i++) {
        const struct wd_node *id, *csr;
        const struct wd_field g[] = {
                {"entry_id", WD_NODE_STR, WD_FIELD_REQUIRED, &id},
                {"csr", WD_NODE_STR, WD_FIELD_REQUIRED, &csr},
        };
        WD_TRY(wd_doc_read_object(b->doc, reqs->u.arr.items[i], g, WD_ARRAY_LEN(g), diag));
        if (!srv_id_valid(id->u.s.p, id->u.s.len)) {
            return wd_doc_error(b->doc, id, diag, "'entry_id': must be 32 lower-case hex digits");
        }
        b->reqs[i].entry_id = id->u.s.p;
        WD_TRY(text(b, csr, "csr", SRV_CSR_MAX, &b->reqs[i].csr, &b->reqs[i].csr_len, diag));
        b->n_reqs = i + 1;
    }
    return WD_OK;
}

int srv_decode_revoke(const uint8_t *p, size_t n, struct srv_body *b, struct wd_diag *diag)
{
    const struct wd_node *reason;
    const struct wd_field f[] = {
            {"reason", WD_NODE_STR, WD_FIELD_OPTIONAL, &reason},
    };
    WD_TRY(parse_body(p, n, b, diag));
    WD_TRY(wd_doc_read_object(b->doc, wd_doc_root(b->doc), f, WD_ARRAY_LEN(f), diag));
    if (reason != NULL) {
        WD_TRY(text(b, reason, "reason", SRV_REASON_TEXT_MAX, &b->reason, NULL, diag));
    }
    return WD_OK;
}

int srv_decode_token(const uint8_t *p, size_t n, struct srv_body *b, struct wd_diag *diag)
{
    const struct wd_node *node, *ttl;
    const struct wd_field f[] = {
            {"node", WD_NODE_STR, WD_FIELD_OPTIONAL, &node},
            {"ttl", WD_NODE_STR, WD_FIELD_OPTIONAL, &ttl},
    };
    WD_TRY(parse_body(p, n, b, diag));
    WD_TRY(wd_doc_read_object(b->doc, wd_doc_root(b->doc), f, WD_ARRAY_LEN(f), diag));
    if (node != NULL) {
        WD_TRY(node_name(b, node, diag));
    }
    if (ttl != NULL) {
        WD_TRY(ttl_of(b, ttl, SRV_TOKEN_TTL_MAX, diag));
    }
    return WD_OK;
}

static int sel_u32(struct srv_body *b, const struct wd_node *v, const char *key, uint32_t *out,
                   struct wd_diag *diag)
{
    if (v->u.i < 0 || v->u.i > (int64_t)UINT32_MAX) {
        return wd_doc_error(b->doc, v, diag, "'%s': must be 0..4294967295", key);
    }
    *out = (uint32_t)v->u.i;
    return WD_OK;
}

int srv_decode_entry(const uint8_t *p, size_t n, struct srv_body *b, struct wd_diag *diag)
{
    const struct wd_node *id, *node, *sel, *ttl;
    const struct wd_field f[] = {
            {"spiffe_id", WD_NODE_STR, WD_FIELD_REQUIRED, &id},
            {"node", WD_NODE_STR, WD_FIELD_REQUIRED, &node},
            {"selectors", WD_NODE_OBJ, WD_FIELD_REQUIRED, &sel},
            {"ttl", WD_NODE_STR, WD_FIELD_OPTIONAL, &ttl},
    };
    WD_TRY(parse_body(p, n, b, diag));
    WD_TRY(wd_doc_read_object(b->doc, wd_doc_root(b->doc), f, WD_ARRAY_LEN(f), diag));
    struct wd_diag d;
    if (wd_spiffe_id_parse(id->u.s.p, id->u.s.len, &b->spiffe_id, NULL, &d) != WD_OK) {
        return wd_doc_error(b->doc, id, diag, "'spiffe_id': %s", d.msg);
    }
    if (wd_spiffe_id_path(&b->spiffe_id)[0] == '\0') {
        return wd_doc_error(b->doc, id, diag, "'spiffe_id': a workload ID needs a path");
    }
    WD_TRY(node_name(b, node, diag));
    const struct wd_node *uid, *gid, *path, *sha;
    const struct wd_field g[] = {
            {"uid", WD_NODE_INT, WD_FIELD_OPTIONAL, &uid},
            {"gid", WD_NODE_INT, WD_FIELD_OPTIONAL, &gid},
            {"path", WD_NODE_STR, WD_FIELD_OPTIONAL, &path},
            {"sha256", WD_NODE_STR, WD_FIELD_OPTIONAL, &sha},
    };
    WD_TRY(wd_doc_read_object(b->doc, sel, g, WD_ARRAY_LEN(g), diag));
    if (uid == NULL && gid == NULL && path == NULL && sha == NULL) {
        return wd_doc_error(b->doc, sel, diag, "'selectors': at least one selector is required");
    }
    if (uid != NULL) {
        WD_TRY(sel_u32(b, uid, "uid", &b->sel.uid, diag));
        b->sel.has_uid = true;
    }
    if (gid != NULL) {
        WD_TRY(sel_u32(b, gid, "gid", &b->sel.gid, diag));
        b->sel.has_gid = true;
    }
    if (path != NULL) {
        if (path->u.s.len == 0 || path->u.s.p[0] != '/' || path->u.s.len > 4096
            || strlen(path->u.s.p) != path->u.s.len) {
            return wd_doc_error(b->doc, path, diag, "'path': must be an absolute path");
        }
        b->sel.path = path->u.s.p;
    }
    if (sha != NULL) {
        struct wd_buf h;
        wd_buf_init(&h, WD_STORE_SHA256_LEN);
        int rc = sha->u.s.len == 64 ? wd_hex_decode(&h, sha->u.s.p, sha->u.s.len) : WD_EPROTO;
        if (rc == WD_OK) {
            memcpy(b->sel.sha256, h.p, WD_STORE_SHA256_LEN);
            b->sel.has_sha256 = true;
        }
        wd_buf_cleanup(&h);
        if (rc == WD_ENOMEM) {
            return rc;
        }
        if (rc != WD_OK) {
            return wd_doc_error(b->doc, sha, diag, "'sha256': must be 64 hex digits");
        }
    }
    if (ttl != NULL) {
        WD_TRY(ttl_of(b, ttl, (int64_t)3650 * 86400, diag));
    }
    return WD_OK;
}
