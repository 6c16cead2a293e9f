/*
 * The REST dispatcher (docs/api.md): routing, caller classification and authorisation,
 * error bodies, and the public, deny-list and admin handlers. Attestation and node calls
 * are in api_attest.c, issuance in api_issue.c.
 */
#include "api.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/codec.h"
#include "warden/doc.h"
#include "warden/log.h"
#include "warden/names.h"
#include "warden/rand.h"

#include "api_int.h"

/* ---- small JSON helpers ---- */

int srv_json_kv(struct wd_buf *b, const char *key, const char *val, bool comma)
{
    WD_TRY(wd_buf_printf(b, "%s\"%s\":", comma ? "," : "", key));
    if (val == NULL) {
        return wd_buf_append_str(b, "null");
    }
    return wd_json_append_string(b, val, strlen(val));
}

int srv_json_time(struct wd_buf *b, const char *key, int64_t t, bool comma)
{
    char ts[21];
    if (t == 0) {
        return wd_buf_printf(b, "%s\"%s\":null", comma ? "," : "", key);
    }
    return wd_buf_printf(b, "%s\"%s\":\"%s\"", comma ? "," : "", key, wd_time_format(t, ts));
}

void srv_duration_format(int64_t s, char out[32])
{
    if (s > 0 && s % 86400 == 0) {
        (void)snprintf(out, 32, "%lldd", (long long)(s / 86400));
    } else if (s > 0 && s % 3600 == 0) {
        (void)snprintf(out, 32, "%lldh", (long long)(s / 3600));
    } else if (s > 0 && s % 60 == 0) {
        (void)snprintf(out, 32, "%lldm", (long long)(s / 60));
    } else {
        (void)snprintf(out, 32, "%llds", (long long)s);
    }
}

/* ---- errors ---- */

static const char *error_token(int status)
{
    switch (status) {
    case 400:
        return "bad-request";
    case 401:
        return "unauthenticated";
    case 403:
        return "denied";
    case 404:
        return "not-found";
    case 405:
        return "method-not-allowed";
    case 409:
        return "conflict";
    case 410:
        return "expired";
    case 413:
        return "too-large";
    case 503:
        return "unavailable";
    default:
        return "internal";
    }
}

int srv_rq_error(struct srv_rq *q, int status, const char *reason, const char *msg)
{
    struct wd_buf *b = &q->resp->body;
    wd_buf_reset(b);
    q->resp->status = status;
    int rc = wd_buf_printf(b, "{\"error\":\"%s\"", error_token(status));
    if (rc == WD_OK && reason != NULL) {
        rc = srv_json_kv(b, "reason", reason, true);
    }
    if (rc == WD_OK && msg != NULL) {
        rc = srv_json_kv(b, "message", msg, true);
    }
    if (rc == WD_OK) {
        rc = wd_buf_append_byte(b, '}');
    }
    if (rc != WD_OK) {
        /* the static fallback always fits */
        wd_buf_reset(b);
        q->resp->status = 500;
        if (wd_buf_append_str(b, "{\"error\":\"internal\"}") != WD_OK) {
            q->resp->close = true;
        }
    }
    return WD_OK;
}

int srv_rq_refuse(struct srv_rq *q, int status, const char *reason, const char *subject,
                  const char *msg)
{
    srv_metric_refusal(q->s, reason);
    struct wd_buf det;
    wd_buf_init(&det, 8192);
    int rc = wd_buf_printf(&det, "{\"route\":\"%s\",\"status\":%d", srv_route_name(q->route),
                           status);
    if (rc == WD_OK) {
        rc = srv_json_kv(&det, "peer", q->req->peer != NULL ? q->req->peer->addr : "", true);
    }
    if (rc == WD_OK && msg != NULL) {
        rc = srv_json_kv(&det, "message", msg, true);
    }
    if (rc == WD_OK) {
        rc = wd_buf_append_byte(&det, '}');
    }
    if (srv_audit(q->s, q->st, WD_AUDIT_REFUSAL, q->actor, subject, reason,
                  rc == WD_OK ? wd_buf_str(&det) : NULL)
        != WD_OK) {
        wd_log(WD_LOG_WARN, "refusal %s: audit record failed", reason != NULL ? reason : "-");
    }
    wd_buf_cleanup(&det);
    return srv_rq_error(q, status, reason, msg);
}

int srv_rq_bad_body(struct srv_rq *q, int rc, const struct wd_diag *d)
{
    if (rc == WD_ENOMEM) {
        return srv_rq_error(q, 500, NULL, "out of memory");
    }
    if (rc == WD_ELIMIT && d->msg[0] == '\0') {
        return srv_rq_error(q, 413, NULL, "body too large");
    }
    return srv_rq_error(q, 400, NULL, d->msg[0] != '\0' ? d->msg : "malformed body");
}

int srv_rq_store_failed(struct srv_rq *q, int rc)
{
    if (rc == WD_EDB) {
        q->st_bad = true;
        wd_log(WD_LOG_ERR, "store: %s", wd_store_error(q->st));
        return srv_rq_error(q, 503, NULL, "store unavailable");
    }
    wd_log(WD_LOG_ERR, "%s: %s", srv_route_name(q->route), wd_strerror(rc));
    return srv_rq_error(q, 500, NULL, "internal error");
}

/* ---- node helpers ---- */

int srv_node_id(const struct srv *s, const char *name, struct wd_spiffe_id *out)
{
    char path[WD_STORE_NAME_MAX + 32];
    (void)snprintf(path, sizeof(path), "/warden/node/%s", name);
    return wd_spiffe_id_make(&s->td, path, out, NULL, NULL);
}

int srv_node_revoked(struct srv_rq *q, const char *name, bool *out)
{
    struct wd_spiffe_id id;
    WD_TRY(srv_node_id(q->s, name, &id));
    /* the deny list holds one latest row per subject */
    struct wd_store_deny *d = NULL;
    size_t n = 0;
    WD_TRY(wd_store_deny_list_since(q->st, 0, WD_STORE_LIST_MAX, &d, &n, NULL));
    *out = false;
    for (size_t i = 0; i < n; i++) {
        if (d[i].kind == WD_DENY_SPIFFE_ID && strcmp(d[i].subject, id.str) == 0) {
            *out = d[i].active;
        }
    }
    wd_store_denies_free(d, n);
    return WD_OK;
}

/* ---- query strings ---- */

/* The value of key in the query (no percent-decoding: values here are numbers and names). */
static bool query_get(const char *query, const char *key, char *out, size_t outsz)
{
    size_t kl = strlen(key);
    const char *p = query;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            size_t vl = len - kl - 1;
            if (vl >= outsz) {
                return false;
            }
            memcpy(out, p + kl + 1, vl);
            out[vl] = '\0';
            return true;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return false;
}

/* A decimal number 0..max; -1 when absent, -2 when malformed. */
static int64_t query_num(const char *query, const char *key, int64_t max)
{
    char v[24];
    if (!query_get(query, key, v, sizeof(v))) {
        return strstr(query, key) != NULL && query[0] != '\0' ? -2 : -1;
    }
    if (v[0] == '\0') {
        return -2;
    }
    int64_t x = 0;
    for (const char *c = v; *c != '\0'; c++) {
        if (*c < '0' || *c > '9' || x > (max - (*c - '0')) / 10) {
            return -2;
        }
        x = x * 10 + (*c - '0');
    }
    return x;
}

/* ---- public ---- */

static int h_healthz(struct srv_rq *q)
{
    /* a cheap query, not PRAGMA integrity_check: this route is unauthenticated */
    int version = 0;
    int rc = wd_store_schema_version(q->st, &version);
    if (rc != WD_OK) {
        q->st_bad = true;
        return srv_rq_error(q, 503, NULL, "store unavailable");
    }
    q->resp->status = 200;
    return wd_buf_printf(&q->resp->body, "{\"status\":\"ok\",\"store\":\"%s\"}",
                         q->s->store_backend);
}

static int h_metrics(struct srv_rq *q)
{
    q->resp->status = 200;
    (void)snprintf(q->resp->content_type, sizeof(q->resp->content_type),
                   "text/plain; version=0.0.4");
    return srv_metrics_render(q->s, q->st, &q->resp->body);
}

static int h_bundle(struct srv_rq *q)
{
    struct wd_buf *b = &q->resp->body;
    q->resp->status = 200;
    WD_TRY(wd_buf_append_byte(b, '{'));
    WD_TRY(srv_json_kv(b, "trust_domain", q->s->td.name, false));
    WD_TRY(wd_buf_printf(b, ",\"sequence\":%lld", (long long)q->s->bundle_seq));
    WD_TRY(srv_json_kv(b, "pem", q->s->bundle_pem, true));
    WD_TRY(wd_buf_printf(b, ",\"spiffe_bundle\":%s}", q->s->bundle_json));
    return WD_OK;
}

/* ---- deny list ---- */

static int h_denylist(struct srv_rq *q)
{
    int64_t since = query_num(q->req->query, "since", INT64_MAX - 1);
    if (since == -2) {
        return srv_rq_error(q, 400, NULL, "'since' must be a decimal number");
    }
    if (since < 0) {
        since = 0;
    }
    struct wd_store_deny *d = NULL;
    size_t n = 0;
    int64_t cursor = 0;
    int rc = wd_store_deny_list_since(q->st, since, 10000, &d, &n, &cursor);
    if (rc != WD_OK) {
        return srv_rq_store_failed(q, rc);
    }
    struct wd_buf *b = &q->resp->body;
    rc = wd_buf_printf(b, "{\"sequence\":%lld,\"changes\":[", (long long)cursor);
    for (size_t i = 0; rc == WD_OK && i < n; i++) {
        rc = wd_buf_printf(b, "%s{\"seq\":%lld,\"kind\":\"%s\"", i > 0 ? "," : "",
                           (long long)d[i].seq, wd_deny_kind_name(d[i].kind));
        if (rc == WD_OK) {
            rc = srv_json_kv(b, "subject", d[i].subject, true);
        }
        if (rc == WD_OK) {
            rc = srv_json_kv(b, "reason", d[i].reason, true);
        }
        if (rc == WD_OK) {
            rc = wd_buf_printf(b, ",\"active\":%s", d[i].active ? "true" : "false");
        }
        if (rc == WD_OK) {
            rc = srv_json_time(b, "time", d[i].time, true);
        }
        if (rc == WD_OK) {
            rc = wd_buf_append_byte(b, '}');
        }
    }
    if (rc == WD_OK) {
        rc = wd_buf_append_str(b, "]}");
    }
    wd_store_denies_free(d, n);
    q->resp->status = 200;
    return rc;
}

/* ---- admin ---- */

static int node_json(struct wd_buf *b, const struct wd_store_node *n)
{
    WD_TRY(wd_buf_append_byte(b, '{'));
    WD_TRY(srv_json_kv(b, "name", n->name, false));
    WD_TRY(srv_json_kv(b, "attestation", n->attestation, true));
    WD_TRY(wd_buf_printf(b, ",\"trusted\":%s", n->trusted ? "true" : "false"));
    WD_TRY(srv_json_time(b, "last_attested", n->last_attested, true));
    if (n->has_ek_hash) {
        WD_TRY(wd_buf_append_str(b, ",\"ek_sha256\":\""));
        WD_TRY(wd_hex_encode(b, n->ek_hash, sizeof(n->ek_hash)));
        WD_TRY(wd_buf_append_byte(b, '"'));
    } else {
        WD_TRY(wd_buf_append_str(b, ",\"ek_sha256\":null"));
    }
    WD_TRY(srv_json_time(b, "created_at", n->created_at, true));
    return wd_buf_append_byte(b, '}');
}

static int entry_json(struct wd_buf *b, const struct wd_store_entry *e)
{
    char ttl[32];
    WD_TRY(wd_buf_append_byte(b, '{'));
    WD_TRY(srv_json_kv(b, "id", e->id, false));
    WD_TRY(srv_json_kv(b, "spiffe_id", e->spiffe_id, true));
    WD_TRY(srv_json_kv(b, "node", e->node, true));
    WD_TRY(wd_buf_append_str(b, ",\"selectors\":{"));
    bool comma = false;
    if (e->sel.has_uid) {
        WD_TRY(wd_buf_printf(b, "\"uid\":%lu", (unsigned long)e->sel.uid));
        comma = true;
    }
    if (e->sel.has_gid) {
        WD_TRY(wd_buf_printf(b, "%s\"gid\":%lu", comma ? "," : "", (unsigned long)e->sel.gid));
        comma = true;
    }
    if (e->sel.path != NULL) {
        WD_TRY(srv_json_kv(b, "path", e->sel.path, comma));
        comma = true;
    }
    if (e->sel.has_sha256) {
        WD_TRY(wd_buf_printf(b, "%s\"sha256\":\"", comma ? "," : ""));
        WD_TRY(wd_hex_encode(b, e->sel.sha256, sizeof(e->sel.sha256)));
        WD_TRY(wd_buf_append_byte(b, '"'));
    }
    srv_duration_format(e->ttl, ttl);
    WD_TRY(wd_buf_printf(b, "},\"ttl\":\"%s\"", ttl));
    WD_TRY(srv_json_time(b, "created_at", e->created_at, true));
    return wd_buf_append_byte(b, '}');
}

static int entries_answer(struct srv_rq *q, const char *node)
{
    struct wd_store_entry *v = NULL;
    size_t n = 0;
    int rc = wd_store_entry_list(q->st, node, &v, &n);
    if (rc != WD_OK) {
        return srv_rq_store_failed(q, rc);
    }
    struct wd_buf *b = &q->resp->body;
    rc = wd_buf_append_str(b, "{\"entries\":[");
    for (size_t i = 0; rc == WD_OK && i < n; i++) {
        if (i > 0) {
            rc = wd_buf_append_byte(b, ',');
        }
        if (rc == WD_OK) {
            rc = entry_json(b, &v[i]);
        }
    }
    if (rc == WD_OK) {
        rc = wd_buf_append_str(b, "]}");
    }
    wd_store_entries_free(v, n);
    q->resp->status = 200;
    return rc;
}

static int h_node_entries(struct srv_rq *q)
{
    return entries_answer(q, q->node);
}

static int h_admin_nodes(struct srv_rq *q)
{
    struct wd_store_node *v = NULL;
    size_t n = 0;
    int rc = wd_store_node_list(q->st, &v, &n);
    if (rc != WD_OK) {
        return srv_rq_store_failed(q, rc);
    }
    struct wd_buf *b = &q->resp->body;
    rc = wd_buf_append_str(b, "{\"nodes\":[");
    for (size_t i = 0; rc == WD_OK && i < n; i++) {
        if (i > 0) {
            rc = wd_buf_append_byte(b, ',');
        }
        if (rc == WD_OK) {
            rc = node_json(b, &v[i]);
        }
    }
    if (rc == WD_OK) {
        rc = wd_buf_append_str(b, "]}");
    }
    wd_store_nodes_free(v, n);
    q->resp->status = 200;
    return rc;
}

static int answer_node(struct srv_rq *q, const char *name)
{
    struct wd_store_node n;
    memset(&n, 0, sizeof(n));
    int rc = wd_store_node_get(q->st, name, &n);
    if (rc == WD_ENOENT) {
        return srv_rq_error(q, 404, NULL, "no such node");
    }
    if (rc != WD_OK) {
        return srv_rq_store_failed(q, rc);
    }
    q->resp->status = 200;
    rc = node_json(&q->resp->body, &n);
    wd_store_node_cleanup(&n);
    return rc;
}

/* Audit an admin change; a failure is logged (the change itself is done). */
static void admin_audit(struct srv_rq *q, const char *what, const char *subject,
                        const char *details)
{
    if (srv_audit(q->s, q->st, WD_AUDIT_ADMIN, q->actor, subject, what, details) != WD_OK) {
        wd_log(WD_LOG_WARN, "admin %s: audit record failed", what);
    }
}

static int h_admin_revoke(struct srv_rq *q, const char *name)
{
    struct srv_body body;
    struct wd_diag d = {{0}};
    srv_body_init(&body);
    int rc = srv_decode_revoke(q->req->body, q->req->body_len, &body, &d);
    if (rc != WD_OK) {
        rc = srv_rq_bad_body(q, rc, &d);
        goto out;
    }
    struct wd_spiffe_id id;
    int64_t now = wd_time_now();
    rc = srv_node_id(q->s, name, &id);
    if (rc != WD_OK) {
        rc = srv_rq_error(q, 404, NULL, "no such node");
        goto out;
    }
    rc = wd_store_node_set_trusted(q->st, name, false, "revoked", now, NULL);
    if (rc == WD_ENOENT) {
        rc = srv_rq_error(q, 404, NULL, "no such node");
        goto out;
    }
    if (rc == WD_OK) {
        /* the node's own SVID is denied too, and marks it as revoked (not just untrusted) */
        rc = wd_store_deny_add(q->st, WD_DENY_SPIFFE_ID, id.str, "revoked", now, NULL);
    }
    if (rc != WD_OK) {
        rc = srv_rq_store_failed(q, rc);
        goto out;
    }
    struct wd_buf det;
    wd_buf_init(&det, 4096);
    if (wd_buf_append_byte(&det, '{') == WD_OK
        && srv_json_kv(&det, "reason", body.reason, false) == WD_OK
        && wd_buf_append_byte(&det, '}') == WD_OK) {
        admin_audit(q, "node-revoke", name, wd_buf_str(&det));
    } else {
        admin_audit(q, "node-revoke", name, NULL);
    }
    wd_buf_cleanup(&det);
    wd_log(WD_LOG_NOTICE, "node %s revoked by %s", name, q->actor);
    rc = answer_node(q, name);
out:
    srv_body_cleanup(&body);
    return rc;
}

static int h_admin_tokens(struct srv_rq *q)
{
    struct srv_body body;
    struct wd_diag d = {{0}};
    uint8_t raw[24];
    struct wd_buf tok;
    wd_buf_init(&tok, 64);
    srv_body_init(&body);
    int rc = srv_decode_token(q->req->body, q->req->body_len, &body, &d);
    if (rc != WD_OK) {
        rc = srv_rq_bad_body(q, rc, &d);
        goto out;
    }
    int64_t now = wd_time_now();
    int64_t exp = now + (body.has_ttl ? body.ttl : SRV_TOKEN_TTL_DEFAULT);
    WD_CHECK(wd_rand_bytes(raw, sizeof(raw)));
    WD_CHECK(wd_hex_encode(&tok, raw, sizeof(raw)));
    rc = wd_store_token_create(q->st, tok.p, tok.len, body.node, exp, now);
    if (rc != WD_OK) {
        rc = srv_rq_store_failed(q, rc);
        goto out;
    }
    char det[96];
    char ts[21];
    (void)snprintf(det, sizeof(det), "{\"expires_at\":\"%s\"}", wd_time_format(exp, ts));
    admin_audit(q, "token-create", body.node, det);
    struct wd_buf *b = &q->resp->body;
    q->resp->status = 201;
    WD_CHECK(wd_buf_append_byte(b, '{'));
    WD_CHECK(srv_json_kv(b, "token", (const char *)tok.p, false));
    WD_CHECK(srv_json_time(b, "expires_at", exp, true));
    WD_CHECK(wd_buf_append_byte(b, '}'));
out:
    OPENSSL_cleanse(raw, sizeof(raw));
    wd_buf_cleanup_secret(&tok);
    srv_body_cleanup(&body);
    return rc;
}

static int h_admin_entry_create(struct srv_rq *q)
{
    struct srv_body body;
    struct wd_diag d = {{0}};
    struct wd_store_entry got;
    memset(&got, 0, sizeof(got));
    srv_body_init(&body);
    int rc = srv_decode_entry(q->req->body, q->req->body_len, &body, &d);
    if (rc != WD_OK) {
        rc = srv_rq_bad_body(q, rc, &d);
        goto out;
    }
    if (!wd_spiffe_id_member_of(&body.spiffe_id, &q->s->td)) {
        rc = srv_rq_error(q, 400, NULL, "'spiffe_id' is not in this trust domain");
        goto out;
    }
    const char *path = wd_spiffe_id_path(&body.spiffe_id);
    if (strncmp(path, "/warden/", 8) == 0 || strcmp(path, "/warden") == 0) {
        rc = srv_rq_error(q, 400, NULL, "'spiffe_id': /warden/... is reserved for warden itself");
        goto out;
    }
    struct wd_store_entry e;
    memset(&e, 0, sizeof(e));
    e.spiffe_id = body.spiffe_id.str;
    e.node = body.node;
    e.sel = body.sel;
    e.ttl = body.has_ttl ? body.ttl : q->s->cfg.workload_ttl;
    char id[WD_STORE_ID_LEN + 1];
    rc = wd_store_entry_create(q->st, &e, wd_time_now(), id);
    if (rc == WD_EEXIST) {
        rc = srv_rq_error(q, 409, NULL, "an entry with this spiffe_id and node exists");
        goto out;
    }
    if (rc == WD_OK) {
        rc = wd_store_entry_get(q->st, id, &got);
    }
    if (rc != WD_OK) {
        rc = srv_rq_store_failed(q, rc);
        goto out;
    }
    struct wd_buf det;
    wd_buf_init(&det, 16384);
    if (entry_json(&det, &got) == WD_OK) {
        admin_audit(q, "entry-create", got.spiffe_id, wd_buf_str(&det));
    }
    wd_buf_cleanup(&det);
    q->resp->status = 201;
    rc = entry_json(&q->resp->body, &got);
out:
    wd_store_entry_cleanup(&got);
    srv_body_cleanup(&body);
    return rc;
}

static int h_admin_entry_list(struct srv_rq *q)
{
    char node[WD_STORE_NAME_MAX + 1];
    if (query_get(q->req->query, "node", node, sizeof(node))) {
        if (!wd_node_name_valid(node, strlen(node))) {
            return srv_rq_error(q, 400, NULL, "'node' is not a valid node name");
        }
        return entries_answer(q, node);
    }
    if (q->req->query[0] != '\0' && strstr(q->req->query, "node") != NULL) {
        return srv_rq_error(q, 400, NULL, "'node' is not a valid node name");
    }
    return entries_answer(q, NULL);
}

static int h_admin_entry_delete(struct srv_rq *q, const char *id)
{
    if (!srv_id_valid(id, strlen(id))) {
        return srv_rq_error(q, 404, NULL, "no such entry");
    }
    struct wd_store_entry e;
    memset(&e, 0, sizeof(e));
    int rc = wd_store_entry_get(q->st, id, &e);
    if (rc == WD_OK) {
        rc = wd_store_entry_delete(q->st, id);
    }
    if (rc == WD_ENOENT) {
        wd_store_entry_cleanup(&e);
        return srv_rq_error(q, 404, NULL, "no such entry");
    }
    if (rc != WD_OK) {
        wd_store_entry_cleanup(&e);
        return srv_rq_store_failed(q, rc);
    }
    char det[WD_STORE_ID_LEN + 16];
    (void)snprintf(det, sizeof(det), "{\"id\":\"%.32s\"}", id);
    admin_audit(q, "entry-delete", e.spiffe_id, det);
    wd_store_entry_cleanup(&e);
    q->resp->status = 204;
    return WD_OK;
}

static int h_admin_audit(struct srv_rq *q)
{
    int64_t after = query_num(q->req->query, "after", INT64_MAX - 1);
    int64_t limit = query_num(q->req->query, "limit", 1000000);
    if (after == -2 || limit == -2 || limit == 0 || limit > 1000) {
        return srv_rq_error(q, 400, NULL, "'after' must be a number and 'limit' 1..1000");
    }
    struct wd_store_audit *v = NULL;
    size_t n = 0;
    int rc = wd_store_audit_list(q->st, after < 0 ? 0 : after, limit < 0 ? 100 : (size_t)limit, &v,
                                 &n);
    if (rc != WD_OK) {
        return srv_rq_store_failed(q, rc);
    }
    struct wd_buf *b = &q->resp->body;
    rc = wd_buf_append_str(b, "{\"events\":[");
    for (size_t i = 0; rc == WD_OK && i < n; i++) {
        if (i > 0) {
            rc = wd_buf_append_byte(b, ',');
        }
        if (rc == WD_OK) {
            rc = srv_audit_json(b, &v[i], true);
        }
    }
    if (rc == WD_OK) {
        rc = wd_buf_append_str(b, "]}");
    }
    wd_store_audits_free(v, n);
    q->resp->status = 200;
    return rc;
}

/* ---- routing ---- */

enum auth {
    A_ANY,   /* anyone */
    A_NODE,  /* a trusted node's SVID */
    A_NODEU, /* a node's SVID, trusted or not (challenge, heartbeat) */
    A_TD,    /* any SVID of the trust domain */
    A_ADMIN, /* the admin SVID */
};

struct route {
    const char *method;
    enum srv_route id;
    enum auth auth;
};

/*
 * Match the path: fills the route's parameter (node name or entry id) into param. Returns
 * the routes defined for that path (1 or 2, differing in method) or 0 for an unknown path.
 */
static size_t match(const char *path, struct route r[2], char *param, size_t psz)
{
    static const struct {
        const char *path;
        struct route r;
    } fixed[] = {
            {"/healthz", {"GET", SRV_R_HEALTHZ, A_ANY}},
            {"/metrics", {"GET", SRV_R_METRICS, A_ANY}},
            {"/v1/bundle", {"GET", SRV_R_BUNDLE, A_ANY}},
            {"/v1/attest/tpm/begin", {"POST", SRV_R_TPM_BEGIN, A_ANY}},
            {"/v1/attest/tpm/finish", {"POST", SRV_R_TPM_FINISH, A_ANY}},
            {"/v1/attest/join-token", {"POST", SRV_R_JOIN_TOKEN, A_ANY}},
            {"/v1/node/challenge", {"POST", SRV_R_NODE_CHALLENGE, A_NODEU}},
            {"/v1/node/heartbeat", {"POST", SRV_R_NODE_HEARTBEAT, A_NODEU}},
            {"/v1/node/renew", {"POST", SRV_R_NODE_RENEW, A_NODE}},
            {"/v1/node/entries", {"GET", SRV_R_NODE_ENTRIES, A_NODE}},
            {"/v1/node/svids", {"POST", SRV_R_NODE_SVIDS, A_NODE}},
            {"/v1/denylist", {"GET", SRV_R_DENYLIST, A_TD}},
            {"/v1/admin/nodes", {"GET", SRV_R_ADMIN_NODES, A_ADMIN}},
            {"/v1/admin/tokens", {"POST", SRV_R_ADMIN_TOKENS, A_ADMIN}},
            {"/v1/admin/audit", {"GET", SRV_R_ADMIN_AUDIT, A_ADMIN}},
            {"/v1/tee/challenge", {"POST", SRV_R_TEE_CHALLENGE, A_ANY}},
            {"/v1/tee/svid", {"POST", SRV_R_TEE_SVID, A_ANY}},
    };
    param[0] = '\0';
    for (size_t i = 0; i < WD_ARRAY_LEN(fixed); i++) {
        if (strcmp(path, fixed[i].path) == 0) {
            r[0] = fixed[i].r;
            return 1;
        }
    }
    if (strcmp(path, "/v1/admin/entries") == 0) {
        r[0] = (struct route){"POST", SRV_R_ADMIN_ENTRIES, A_ADMIN};
        r[1] = (struct route){"GET", SRV_R_ADMIN_ENTRIES, A_ADMIN};
        return 2;
    }
    static const char nodes[] = "/v1/admin/nodes/";
    static const char entries[] = "/v1/admin/entries/";
    if (strncmp(path, nodes, sizeof(nodes) - 1) == 0) {
        const char *rest = path + sizeof(nodes) - 1;
        const char *slash = strchr(rest, '/');
        size_t len = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
        if (len == 0 || len >= psz || !wd_node_name_valid(rest, len)) {
            return 0;
        }
        memcpy(param, rest, len);
        param[len] = '\0';
        if (slash == NULL) {
            r[0] = (struct route){"GET", SRV_R_ADMIN_NODE, A_ADMIN};
            return 1;
        }
        if (strcmp(slash, "/revoke") == 0) {
            r[0] = (struct route){"POST", SRV_R_ADMIN_REVOKE, A_ADMIN};
            return 1;
        }
        return 0;
    }
    if (strncmp(path, entries, sizeof(entries) - 1) == 0) {
        const char *rest = path + sizeof(entries) - 1;
        size_t len = strlen(rest);
        if (len == 0 || len >= psz || strchr(rest, '/') != NULL) {
            return 0;
        }
        memcpy(param, rest, len + 1);
        r[0] = (struct route){"DELETE", SRV_R_ADMIN_ENTRY, A_ADMIN};
        return 1;
    }
    return 0;
}

static void classify(struct srv_rq *q)
{
    const struct wd_net_peer *p = q->req->peer;
    q->who = SRV_C_ANON;
    q->actor = "anonymous";
    if (p == NULL || !p->has_id) {
        return;
    }
    q->actor = p->svid.id.str;
    if (!wd_spiffe_id_member_of(&p->svid.id, &q->s->td)) {
        q->who = SRV_C_FOREIGN;
        return;
    }
    const char *path = wd_spiffe_id_path(&p->svid.id);
    static const char node_prefix[] = "/warden/node/";
    if (strcmp(path, "/warden/admin") == 0) {
        q->who = SRV_C_ADMIN;
    } else if (strncmp(path, node_prefix, sizeof(node_prefix) - 1) == 0
               && wd_node_name_valid(path + sizeof(node_prefix) - 1,
                                     strlen(path + sizeof(node_prefix) - 1))) {
        q->who = SRV_C_NODE;
        (void)snprintf(q->node, sizeof(q->node), "%s", path + sizeof(node_prefix) - 1);
    } else {
        q->who = SRV_C_WORKLOAD;
    }
}

/* Check the caller against the route's rule; answers and returns false when refused. */
static bool authorise(struct srv_rq *q, enum auth a)
{
    if (a == A_ANY) {
        return true;
    }
    if (q->who == SRV_C_ANON) {
        (void)srv_rq_refuse(q, 401, "unauthenticated", NULL, "a client SVID is required");
        return false;
    }
    if (q->who == SRV_C_FOREIGN) {
        (void)srv_rq_refuse(q, 403, "not-in-trust-domain", NULL,
                            "the client SVID is not of this trust domain");
        return false;
    }
    switch (a) {
    case A_ADMIN:
        if (q->who != SRV_C_ADMIN) {
            (void)srv_rq_refuse(q, 403, "admin-only", NULL, "only the admin SVID may call this");
            return false;
        }
        return true;
    case A_NODE:
    case A_NODEU:
        if (q->who != SRV_C_NODE) {
            (void)srv_rq_refuse(q, 403, "node-only", NULL, "only a node SVID may call this");
            return false;
        }
        return true;
    default:
        return true;
    }
}

/* Node routes: load the caller's node and apply the trust rules. */
static int node_route(struct srv_rq *q, enum auth a)
{
    struct wd_store_node n;
    memset(&n, 0, sizeof(n));
    int rc = wd_store_node_get(q->st, q->node, &n);
    if (rc == WD_ENOENT) {
        return srv_rq_refuse(q, 403, "node-unknown", q->node, "no such node");
    }
    if (rc != WD_OK) {
        return srv_rq_store_failed(q, rc);
    }
    if (!n.trusted) {
        bool revoked = false;
        rc = srv_node_revoked(q, q->node, &revoked);
        if (rc != WD_OK) {
            rc = srv_rq_store_failed(q, rc);
        } else if (revoked) {
            rc = srv_rq_refuse(q, 403, "node-revoked", q->node, "the node was revoked");
        } else if (a == A_NODE) {
            rc = srv_rq_refuse(q, 403, "node-untrusted", q->node,
                               "the node is untrusted; attest again");
        } else {
            rc = 1; /* challenge and heartbeat may proceed */
        }
        if (rc != 1) {
            wd_store_node_cleanup(&n);
            return rc;
        }
    }
    switch (q->route) {
    case SRV_R_NODE_CHALLENGE:
        rc = srv_h_node_challenge(q, &n);
        break;
    case SRV_R_NODE_HEARTBEAT:
        rc = srv_h_node_heartbeat(q, &n);
        break;
    case SRV_R_NODE_RENEW:
        rc = srv_h_node_renew(q, &n);
        break;
    case SRV_R_NODE_ENTRIES:
        rc = h_node_entries(q);
        break;
    default:
        rc = srv_h_node_svids(q, &n);
        break;
    }
    wd_store_node_cleanup(&n);
    return rc;
}

/* Denylist callers that are nodes must be trusted ones. */
static int denylist_route(struct srv_rq *q)
{
    if (q->who == SRV_C_NODE) {
        struct wd_store_node n;
        memset(&n, 0, sizeof(n));
        int rc = wd_store_node_get(q->st, q->node, &n);
        bool ok = rc == WD_OK && n.trusted;
        wd_store_node_cleanup(&n);
        if (rc != WD_OK && rc != WD_ENOENT) {
            return srv_rq_store_failed(q, rc);
        }
        if (!ok) {
            return srv_rq_refuse(q, 403, "node-untrusted", q->node, "the node is untrusted");
        }
    }
    return h_denylist(q);
}

static int run(struct srv_rq *q, const char *param)
{
    switch (q->route) {
    case SRV_R_HEALTHZ:
        return h_healthz(q);
    case SRV_R_METRICS:
        return h_metrics(q);
    case SRV_R_BUNDLE:
        return h_bundle(q);
    case SRV_R_TPM_BEGIN:
        return srv_h_tpm_begin(q);
    case SRV_R_TPM_FINISH:
        return srv_h_tpm_finish(q);
    case SRV_R_JOIN_TOKEN:
        return srv_h_join(q);
    case SRV_R_NODE_CHALLENGE:
    case SRV_R_NODE_HEARTBEAT:
        return node_route(q, A_NODEU);
    case SRV_R_NODE_RENEW:
    case SRV_R_NODE_ENTRIES:
    case SRV_R_NODE_SVIDS:
        return node_route(q, A_NODE);
    case SRV_R_DENYLIST:
        return denylist_route(q);
    case SRV_R_ADMIN_NODES:
        return h_admin_nodes(q);
    case SRV_R_ADMIN_NODE:
        return answer_node(q, param);
    case SRV_R_ADMIN_REVOKE:
        return h_admin_revoke(q, param);
    case SRV_R_ADMIN_TOKENS:
        return h_admin_tokens(q);
    case SRV_R_ADMIN_ENTRIES:
        return strcmp(q->req->method, "POST") == 0 ? h_admin_entry_create(q)
                                                   : h_admin_entry_list(q);
    case SRV_R_ADMIN_ENTRY:
        return h_admin_entry_delete(q, param);
    case SRV_R_ADMIN_AUDIT:
        return h_admin_audit(q);
    case SRV_R_TEE_CHALLENGE:
        return srv_h_tee_challenge(q);
    case SRV_R_TEE_SVID:
        return srv_h_tee_svid(q);
    default:
        return srv_rq_error(q, 404, NULL, "no such route");
    }
}

int srv_api_handle(void *arg, const struct wd_http_req *req, struct wd_http_resp *resp)
{
    WD_ENSURE(arg != NULL && req != NULL && resp != NULL && req->method != NULL
                      && req->path != NULL,
              WD_EINVAL);
    struct srv_rq q;
    memset(&q, 0, sizeof(q));
    q.s = arg;
    q.req = req;
    q.resp = resp;
    q.route = SRV_R_OTHER;
    wd_buf_reset(&resp->body);
    resp->status = 500;
    classify(&q);
    struct wd_http_req fixed = *req;
    if (fixed.query == NULL) {
        fixed.query = "";
    }
    q.req = &fixed;

    struct route r[2];
    char param[WD_STORE_NAME_MAX + 1];
    size_t nr = match(req->path, r, param, sizeof(param));
    const struct route *hit = NULL;
    for (size_t i = 0; i < nr; i++) {
        if (strcmp(req->method, r[i].method) == 0) {
            hit = &r[i];
        }
    }
    int rc = WD_OK;
    if (nr == 0) {
        (void)srv_rq_error(&q, 404, NULL, "no such route");
        goto done;
    }
    if (hit == NULL) {
        q.route = r[0].id;
        (void)snprintf(resp->extra_headers, sizeof(resp->extra_headers), "Allow: %s%s%s\r\n",
                       r[0].method, nr > 1 ? ", " : "", nr > 1 ? r[1].method : "");
        (void)srv_rq_error(&q, 405, NULL, "method not allowed");
        goto done;
    }
    q.route = hit->id;
    rc = srv_store_get(q.s, &q.st);
    if (rc != WD_OK) {
        q.st = NULL;
        (void)srv_rq_error(&q, 503, NULL, "store unavailable");
        goto done;
    }
    if (!authorise(&q, hit->auth)) {
        goto done;
    }
    rc = run(&q, param);
    if (rc != WD_OK) {
        (void)srv_rq_store_failed(&q, rc);
    }
done:
    srv_metric_http(q.s, q.route, resp->status);
    srv_store_put(q.s, q.st, q.st_bad);
    return WD_OK;
}
