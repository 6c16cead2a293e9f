/*
 * Issuing: sign in the request thread (wd_svid_issue_der is thread-safe), then hand the
 * records to the group committer and answer only once they are in the store.
 */
#include <stdio.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/codec.h"
#include "warden/log.h"

#include "api_int.h"
#include "csr.h"

/* One DER tag-length header at r; the content is [*off, *off + *len). X.690 §8.1. */
static int der_hdr(const uint8_t *p, size_t n, size_t *off, uint8_t want_tag, size_t *len)
{
    WD_ENSURE(*off + 2 <= n && p[*off] == want_tag, WD_EPROTO);
    size_t i = *off + 1;
    size_t l = p[i++];
    if (l & 0x80) {
        size_t k = l & 0x7f;
        WD_ENSURE(k >= 1 && k <= 3 && i + k <= n, WD_EPROTO);
        l = 0;
        for (size_t j = 0; j < k; j++) {
            l = (l << 8) | p[i++];
        }
    }
    WD_ENSURE(l <= n - i, WD_EPROTO);
    *off = i;
    *len = l;
    return WD_OK;
}

int srv_der_serial(const uint8_t *p, size_t n, const uint8_t **serial, size_t *serial_len)
{
    /* RFC 5280 §4.1: Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version,
       serialNumber INTEGER, ... } ... } */
    size_t off = 0, len = 0;
    WD_TRY(der_hdr(p, n, &off, 0x30, &len));
    WD_TRY(der_hdr(p, n, &off, 0x30, &len));
    if (off < n && p[off] == 0xa0) {
        WD_TRY(der_hdr(p, n, &off, 0xa0, &len));
        off += len;
    }
    WD_TRY(der_hdr(p, n, &off, 0x02, &len));
    WD_ENSURE(len >= 1 && len <= WD_STORE_SERIAL_MAX, WD_EPROTO);
    *serial = p + off;
    *serial_len = len;
    return WD_OK;
}

int srv_issue(struct srv *s, EVP_PKEY *pub, const struct wd_spiffe_id *id, int64_t ttl,
              const struct wd_claims *claims, const char *node, const char *entry_id,
              struct wd_buf *der, struct wd_store_svid *rec)
{
    struct wd_diag d;
    int64_t now = wd_time_now();
    size_t start = der->len;
    int rc = wd_svid_issue_der(s->ca, pub, id, ttl, claims, der, &d);
    if (rc != WD_OK) {
        wd_log(WD_LOG_WARN, "issue %s: %s", id->str, d.msg);
        return rc;
    }
    const uint8_t *serial = NULL;
    size_t sl = 0;
    WD_TRY(srv_der_serial(der->p + start, der->len - start, &serial, &sl));
    memset(rec, 0, sizeof(*rec));
    memcpy(rec->serial, serial, sl);
    rec->serial_len = sl;
    rec->spiffe_id = id->str;
    rec->node = node;
    (void)snprintf(rec->entry_id, sizeof(rec->entry_id), "%s", entry_id != NULL ? entry_id : "");
    /* NotAfter = min(now + ttl, the intermediate's), as wd_svid_issue_der computes it */
    rec->not_after = now + ttl < s->ca_not_after ? now + ttl : s->ca_not_after;
    rec->issued_at = now;
    return WD_OK;
}

int srv_issuance_audit(const struct srv_rq *q, const struct wd_store_svid *rec, const char *extra,
                       struct wd_store_audit *ev, char **details, char **line)
{
    struct wd_buf b;
    wd_buf_init(&b, 8192);
    char ts[21];
    int rc;
    WD_CHECK(wd_buf_append_str(&b, "{\"serial\":\""));
    WD_CHECK(wd_hex_encode(&b, rec->serial, rec->serial_len));
    WD_CHECK(wd_buf_append_byte(&b, '"'));
    WD_CHECK(srv_json_kv(&b, "node", rec->node, true));
    if (rec->entry_id[0] != '\0') {
        WD_CHECK(srv_json_kv(&b, "entry_id", rec->entry_id, true));
    }
    if (extra != NULL) {
        WD_CHECK(wd_buf_append_str(&b, extra));
    }
    WD_CHECK(wd_buf_printf(&b, ",\"not_after\":\"%s\"}", wd_time_format(rec->not_after, ts)));
    *details = wd_buf_steal(&b, NULL);
    if (*details == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    memset(ev, 0, sizeof(*ev));
    ev->time_ms = wd_time_now_ms();
    ev->kind = WD_AUDIT_ISSUANCE;
    ev->actor = q->actor;
    ev->subject = rec->spiffe_id;
    ev->details = *details;
    rc = srv_audit_json(&b, ev, false);
    if (rc == WD_OK) {
        rc = wd_buf_append_byte(&b, '\n');
    }
    if (rc == WD_OK) {
        *line = wd_buf_steal(&b, NULL);
        rc = *line != NULL ? WD_OK : WD_ENOMEM;
    }
    if (rc != WD_OK) {
        WD_FREE(*details);
    }
out:
    wd_buf_cleanup(&b);
    return rc;
}

int srv_answer_node_svid(struct srv_rq *q, const char *name, const char *attest, EVP_PKEY *pub)
{
    struct srv *s = q->s;
    struct wd_spiffe_id id;
    struct wd_claims cl;
    struct wd_diag d;
    struct wd_buf der;
    struct wd_store_svid rec;
    struct wd_store_audit ev;
    char *details = NULL, *line = NULL;
    enum wd_attest a = WD_ATTEST_NONE;
    wd_buf_init(&der, 65536);
    int rc;
    WD_CHECK(srv_node_id(s, name, &id));
    wd_claims_init(&cl);
    WD_CHECK(wd_claims_set_node(&cl, name, &d));
    if (wd_attest_parse(attest, strlen(attest), &a) == WD_OK) {
        wd_claims_set_attest(&cl, a);
    }
    rc = srv_issue(s, pub, &id, s->cfg.node_ttl, &cl, name, NULL, &der, &rec);
    if (rc == WD_EPROTO) {
        rc = srv_rq_error(q, 400, "csr", "the CSR's key cannot be certified");
        goto out;
    }
    WD_CHECK(rc);
    WD_CHECK(srv_issuance_audit(q, &rec, NULL, &ev, &details, &line));
    const char *lines[1] = {line};
    struct srv_commit_job job = {&rec, &ev, lines, 1, 0, false, NULL};
    rc = srv_commit(s, &job);
    if (rc != WD_OK) {
        rc = srv_rq_error(q, 503, NULL, "could not record the SVID");
        goto out;
    }
    atomic_fetch_add_explicit(&s->m.issued[0], 1, memory_order_relaxed);
    struct wd_buf *b = &q->resp->body;
    char hb[32];
    wd_buf_reset(b);
    q->resp->status = 200;
    WD_CHECK(wd_buf_append_byte(b, '{'));
    WD_CHECK(srv_json_kv(b, "node", name, false));
    WD_CHECK(srv_json_kv(b, "spiffe_id", id.str, true));
    struct wd_buf pem;
    wd_buf_init(&pem, 65536);
    rc = wd_cert_der_to_pem(der.p, der.len, &pem);
    if (rc == WD_OK) {
        rc = wd_buf_append_str(&pem, s->intermediate_pem);
    }
    if (rc == WD_OK) {
        rc = srv_json_kv(b, "svid_pem", wd_buf_str(&pem), true);
    }
    wd_buf_cleanup(&pem);
    WD_CHECK(rc);
    WD_CHECK(srv_json_kv(b, "bundle_pem", s->bundle_pem, true));
    WD_CHECK(srv_json_time(b, "expires_at", rec.not_after, true));
    srv_duration_format(s->cfg.heartbeat, hb);
    WD_CHECK(srv_json_kv(b, "heartbeat", hb, true));
    WD_CHECK(wd_buf_append_byte(b, '}'));
out:
    wd_free(details);
    wd_free(line);
    wd_buf_cleanup(&der);
    return rc;
}

/* ---- POST /v1/node/svids ---- */

struct item {
    struct wd_store_entry e;
    EVP_PKEY *csr;
    struct wd_spiffe_id id;
    size_t der_off, der_len;
    char *details, *line;
};

int srv_h_node_svids(struct srv_rq *q, const struct wd_store_node *n)
{
    struct srv *s = q->s;
    struct srv_body body;
    struct wd_diag d = {{0}};
    struct item *items = NULL;
    struct wd_store_svid *recs = NULL;
    struct wd_store_audit *evs = NULL;
    const char **lines = NULL;
    struct wd_buf der;
    wd_buf_init(&der, (size_t)64 << 20);
    srv_body_init(&body);
    size_t k = 0;
    int rc = srv_decode_svids(q->req->body, q->req->body_len, &body, &d);
    if (rc != WD_OK) {
        rc = srv_rq_bad_body(q, rc, &d);
        goto out;
    }
    k = body.n_reqs;
    items = wd_calloc(k, sizeof(*items));
    recs = wd_calloc(k, sizeof(*recs));
    evs = wd_calloc(k, sizeof(*evs));
    lines = wd_calloc(k, sizeof(*lines));
    if (items == NULL || recs == NULL || evs == NULL || lines == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    enum wd_attest a = WD_ATTEST_NONE;
    if (wd_attest_parse(n->attestation, strlen(n->attestation), &a) != WD_OK) {
        a = WD_ATTEST_NONE;
    }
    /* check everything first: a request is answered whole or refused whole */
    for (size_t i = 0; i < k; i++) {
        rc = wd_store_entry_get(q->st, body.reqs[i].entry_id, &items[i].e);
        if (rc == WD_ENOENT || (rc == WD_OK && strcmp(items[i].e.node, n->name) != 0)) {
            rc = srv_rq_refuse(q, 403, "entry-not-on-node", body.reqs[i].entry_id,
                               "the entry does not belong to this node");
            goto out;
        }
        if (rc != WD_OK) {
            rc = srv_rq_store_failed(q, rc);
            goto out;
        }
        rc = srv_csr_key(body.reqs[i].csr, body.reqs[i].csr_len, &items[i].csr, &d);
        if (rc == WD_ENOMEM) {
            goto out;
        }
        if (rc != WD_OK) {
            char msg[WD_DIAG_MAX + 32];
            (void)snprintf(msg, sizeof(msg), "request %zu: %s", i, d.msg);
            rc = srv_rq_error(q, 400, "csr", msg);
            goto out;
        }
        if (wd_spiffe_id_parse(items[i].e.spiffe_id, strlen(items[i].e.spiffe_id), &items[i].id,
                               NULL, NULL)
            != WD_OK) {
            rc = WD_EINVAL;
            goto out;
        }
    }
    for (size_t i = 0; i < k; i++) {
        struct wd_claims cl;
        wd_claims_init(&cl);
        WD_CHECK(wd_claims_set_node(&cl, n->name, &d));
        wd_claims_set_attest(&cl, a);
        if (items[i].e.sel.has_sha256) {
            WD_CHECK(
                    wd_claims_set_measurement(&cl, items[i].e.sel.sha256, WD_STORE_SHA256_LEN, &d));
        }
        items[i].der_off = der.len;
        rc = srv_issue(s, items[i].csr, &items[i].id, items[i].e.ttl, &cl, n->name, items[i].e.id,
                       &der, &recs[i]);
        if (rc == WD_EPROTO) {
            rc = srv_rq_error(q, 400, "csr", "a CSR's key cannot be certified");
            goto out;
        }
        WD_CHECK(rc);
        items[i].der_len = der.len - items[i].der_off;
        WD_CHECK(srv_issuance_audit(q, &recs[i], NULL, &evs[i], &items[i].details, &items[i].line));
        lines[i] = items[i].line;
    }
    struct srv_commit_job job = {recs, evs, lines, k, 0, false, NULL};
    rc = srv_commit(s, &job);
    if (rc != WD_OK) {
        rc = srv_rq_error(q, 503, NULL, "could not record the SVIDs");
        goto out;
    }
    atomic_fetch_add_explicit(&s->m.issued[1], k, memory_order_relaxed);
    struct wd_buf *b = &q->resp->body;
    struct wd_buf pem;
    wd_buf_init(&pem, 65536);
    q->resp->status = 200;
    rc = wd_buf_append_str(b, "{\"svids\":[");
    for (size_t i = 0; rc == WD_OK && i < k; i++) {
        wd_buf_reset(&pem);
        rc = wd_buf_printf(b, "%s{\"entry_id\":\"%s\"", i > 0 ? "," : "", items[i].e.id);
        if (rc == WD_OK) {
            rc = srv_json_kv(b, "spiffe_id", items[i].e.spiffe_id, true);
        }
        if (rc == WD_OK) {
            rc = wd_cert_der_to_pem(der.p + items[i].der_off, items[i].der_len, &pem);
        }
        if (rc == WD_OK) {
            rc = wd_buf_append_str(&pem, s->intermediate_pem);
        }
        if (rc == WD_OK) {
            rc = srv_json_kv(b, "svid_pem", wd_buf_str(&pem), true);
        }
        if (rc == WD_OK) {
            rc = srv_json_time(b, "expires_at", recs[i].not_after, true);
        }
        if (rc == WD_OK) {
            rc = wd_buf_append_byte(b, '}');
        }
    }
    wd_buf_cleanup(&pem);
    if (rc == WD_OK) {
        rc = wd_buf_append_str(b, "],");
    }
    if (rc == WD_OK) {
        rc = srv_json_kv(b, "bundle_pem", s->bundle_pem, false);
    }
    if (rc == WD_OK) {
        rc = wd_buf_append_byte(b, '}');
    }
out:
    for (size_t i = 0; items != NULL && i < k; i++) {
        wd_store_entry_cleanup(&items[i].e);
        EVP_PKEY_free(items[i].csr);
        wd_free(items[i].details);
        wd_free(items[i].line);
    }
    wd_free(items);
    wd_free(recs);
    wd_free(evs);
    wd_free((void *)lines);
    wd_buf_cleanup(&der);
    srv_body_cleanup(&body);
    return rc;
}
