/*
 * Unit tests of warden-control's REST dispatcher (src/control/api*.c), called directly with
 * synthetic requests and peers: routing, authorisation per caller kind, every error status,
 * strict body decoding, the join-token flow end to end with real CSRs, the TPM begin/finish
 * flow with a software EK and AK (refusals: replayed, expired and unknown sessions, wrong
 * nonce, AK not bound, EK not allowed, each audited), heartbeats and the heartbeat grace,
 * revocation and the deny list, entries CRUD, and group commit from many threads.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/claims.h"
#include "warden/clock.h"
#include "warden/codec.h"
#include "warden/doc.h"
#include "warden/file.h"
#include "warden/pki.h"
#include "warden/store.h"
#include "warden/svid.h"
#include "warden/tpm.h"

#include "../../src/control/api.h"
#include "../../src/control/api_decode.h"
#include "../../src/control/api_int.h"
#include "../../src/control/config.h"
#include "../../src/control/init.h"
#include "../../src/control/server.h"
#include "harness.h"

#define TD   "example.org"
#define DATA "tests/data/tpm/swtpm/"

static char dir[256];
static struct srv *S;

/* ---- requests ---- */

static struct wd_net_peer peer_anon, peer_admin, peer_node, peer_node2, peer_tpm, peer_wl,
        peer_foreign;

static void make_peer(struct wd_net_peer *p, const char *id)
{
    memset(p, 0, sizeof(*p));
    (void)snprintf(p->addr, sizeof(p->addr), "127.0.0.1");
    p->port = 40000;
    p->tls = true;
    if (id != NULL) {
        p->has_id = true;
        int rc = wd_spiffe_id_parse(id, strlen(id), &p->svid.id, NULL, NULL);
        WD_BUG_ON(rc != WD_OK);
    }
}

struct res {
    int status;
    struct wd_http_resp resp;
    struct wd_doc *doc;
};

static void res_free(struct res *r)
{
    wd_buf_cleanup(&r->resp.body);
    wd_doc_free(r->doc);
    memset(r, 0, sizeof(*r));
}

/* Call the dispatcher; parse a JSON answer into r->doc. */
static int call(struct res *r, const struct wd_net_peer *peer, const char *method, const char *path,
                const char *query, const char *body)
{
    res_free(r);
    wd_buf_init(&r->resp.body, (size_t)64 << 20);
    struct wd_http_req req;
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.path = path;
    req.query = query != NULL ? query : "";
    req.body = (const uint8_t *)(body != NULL ? body : "");
    req.body_len = body != NULL ? strlen(body) : 0;
    req.peer = peer;
    int rc = srv_api_handle(S, &req, &r->resp);
    r->status = r->resp.status;
    if (rc == WD_OK && r->resp.body.len > 0 && r->resp.body.p[0] == '{') {
        struct wd_diag d;
        if (wd_json_parse("resp", r->resp.body.p, r->resp.body.len, NULL, &r->doc, &d) != WD_OK) {
            printf("answer is not JSON: %s: %s\n", d.msg, wd_buf_str(&r->resp.body));
            return WD_EPROTO;
        }
    }
    return rc;
}

static const char *str(const struct res *r, const char *key)
{
    const struct wd_node *n = r->doc != NULL ? wd_node_get(wd_doc_root(r->doc), key) : NULL;
    return n != NULL && n->type == WD_NODE_STR ? n->u.s.p : NULL;
}

/* The last audit record's reason and kind. */
static int last_audit(char *reason, size_t rsz, enum wd_audit_kind *kind)
{
    struct wd_store *st = NULL;
    WD_TRY(srv_store_get(S, &st));
    struct wd_store_audit *v = NULL;
    size_t n = 0;
    int rc = wd_store_audit_list(st, 0, WD_STORE_LIST_MAX, &v, &n);
    if (rc == WD_OK && n > 0) {
        (void)snprintf(reason, rsz, "%s", v[n - 1].reason != NULL ? v[n - 1].reason : "");
        *kind = v[n - 1].kind;
    }
    wd_store_audits_free(v, n);
    srv_store_put(S, st, false);
    return rc;
}

/* An error answer with this status and reason, audited as a refusal when audited. */
#define CHECK_REFUSED(r, st, why, audited)                \
    do {                                                  \
        CHECK_EQ((r)->status, (st));                      \
        CHECK_STR(str((r), "reason"), (why));             \
        if (audited) {                                    \
            char ar_[64] = "";                            \
            enum wd_audit_kind ak_ = WD_AUDIT_ADMIN;      \
            CHECK_OK(last_audit(ar_, sizeof(ar_), &ak_)); \
            CHECK_STR(ar_, (why));                        \
            CHECK_EQ(ak_, WD_AUDIT_REFUSAL);              \
        }                                                 \
    } while (0)

/* A CSR (PEM) for a fresh key; *key owned by the caller. */
static char *new_csr(EVP_PKEY **key)
{
    struct wd_buf b;
    wd_buf_init(&b, 65536);
    if (wd_key_generate(key, NULL) != WD_OK
        || wd_csr_create(*key, NULL, false, &b, NULL) != WD_OK) {
        wd_buf_cleanup(&b);
        return NULL;
    }
    return wd_buf_steal(&b, NULL);
}

/* JSON string literal of s into a new buffer text appended to out. */
static int jstr(struct wd_buf *out, const char *s)
{
    return wd_json_append_string(out, s, strlen(s));
}

static char *make_token(const char *node)
{
    struct res r = {0};
    char body[256];
    if (node != NULL) {
        (void)snprintf(body, sizeof(body), "{\"node\":\"%s\",\"ttl\":\"10m\"}", node);
    } else {
        (void)snprintf(body, sizeof(body), "{\"ttl\":\"10m\"}");
    }
    char *t = NULL;
    if (call(&r, &peer_admin, "POST", "/v1/admin/tokens", NULL, body) == WD_OK && r.status == 201
        && str(&r, "token") != NULL) {
        t = wd_strdup(str(&r, "token"));
    }
    res_free(&r);
    return t;
}

static int join(struct res *r, const char *node, const char *token, const char *csr)
{
    struct wd_buf b;
    wd_buf_init(&b, 1 << 20);
    int rc = wd_buf_printf(&b, "{\"node\":\"%s\",\"token\":", node);
    rc = rc == WD_OK ? jstr(&b, token) : rc;
    rc = rc == WD_OK ? wd_buf_append_str(&b, ",\"csr\":") : rc;
    rc = rc == WD_OK ? jstr(&b, csr) : rc;
    rc = rc == WD_OK ? wd_buf_append_byte(&b, '}') : rc;
    if (rc == WD_OK) {
        rc = call(r, &peer_anon, "POST", "/v1/attest/join-token", NULL, wd_buf_str(&b));
    }
    wd_buf_cleanup(&b);
    return rc;
}

/* Join node with a fresh token bound to it; 200 expected. */
static int enrol_join(const char *node)
{
    EVP_PKEY *k = NULL;
    char *csr = new_csr(&k);
    char *tok = make_token(node);
    struct res r = {0};
    int rc = csr != NULL && tok != NULL ? join(&r, node, tok, csr) : WD_ENOMEM;
    if (rc == WD_OK && r.status != 200) {
        printf("join %s: %d %s\n", node, r.status, wd_buf_str(&r.resp.body));
        rc = WD_EDENIED;
    }
    res_free(&r);
    wd_free(csr);
    wd_free(tok);
    EVP_PKEY_free(k);
    return rc;
}

/* Check an SVID PEM answer: its SPIFFE ID and claims. */
static int svid_check(const char *pem, const char *want_id, const char *node, enum wd_attest a,
                      bool measured)
{
    STACK_OF(X509) *certs = NULL;
    WD_TRY(wd_certs_parse("svid", pem, strlen(pem), &certs, NULL));
    int rc = WD_EPROTO;
    struct wd_spiffe_id id;
    bool present = false;
    struct wd_claims cl;
    if (sk_X509_num(certs) == 2
        && wd_cert_spiffe_id(sk_X509_value(certs, 0), &id, NULL, NULL) == WD_OK
        && strcmp(id.str, want_id) == 0
        && wd_cert_claims(sk_X509_value(certs, 0), &present, &cl, NULL) == WD_OK && present
        && strcmp(cl.node, node) == 0 && cl.attest == a
        && ((cl.present & WD_CLAIM_MEASUREMENT) != 0) == measured) {
        rc = WD_OK;
    }
    wd_certs_free(certs);
    return rc;
}

/* ---- tests: routing and authorisation ---- */

TEST(routing)
{
    struct res r = {0};
    CHECK_OK(call(&r, &peer_anon, "GET", "/healthz", NULL, NULL));
    CHECK_EQ(r.status, 200);
    CHECK_STR(str(&r, "status"), "ok");
    CHECK_STR(str(&r, "store"), "sqlite");
    CHECK_OK(call(&r, &peer_anon, "GET", "/nope", NULL, NULL));
    CHECK_EQ(r.status, 404);
    CHECK_STR(str(&r, "error"), "not-found");
    CHECK_OK(call(&r, &peer_anon, "POST", "/healthz", NULL, NULL));
    CHECK_EQ(r.status, 405);
    CHECK(strstr(r.resp.extra_headers, "Allow: GET") != NULL);
    CHECK_OK(call(&r, &peer_admin, "PUT", "/v1/admin/entries", NULL, NULL));
    CHECK_EQ(r.status, 405);
    CHECK(strstr(r.resp.extra_headers, "POST, GET") != NULL);
    CHECK_OK(call(&r, &peer_admin, "GET", "/v1/admin/nodes/bad%20name", NULL, NULL));
    CHECK_EQ(r.status, 404);
    CHECK_OK(call(&r, &peer_admin, "GET", "/v1/admin/nodes/x/y", NULL, NULL));
    CHECK_EQ(r.status, 404);
    CHECK_OK(call(&r, &peer_anon, "GET", "/v1/bundle", NULL, NULL));
    CHECK_EQ(r.status, 200);
    CHECK_STR(str(&r, "trust_domain"), TD);
    CHECK(strstr(str(&r, "pem"), "BEGIN CERTIFICATE") != NULL);
    CHECK(wd_node_get(wd_doc_root(r.doc), "spiffe_bundle")->type == WD_NODE_OBJ);
    CHECK_OK(call(&r, &peer_anon, "GET", "/metrics", NULL, NULL));
    CHECK_EQ(r.status, 200);
    CHECK_STR(r.resp.content_type, "text/plain; version=0.0.4");
    CHECK(strstr(wd_buf_str(&r.resp.body),
                 "warden_http_requests_total{route=\"healthz\",code=\"200\"}")
          != NULL);
    CHECK(strstr(wd_buf_str(&r.resp.body), "warden_build_info{version=") != NULL);
    /* NULL arguments */
    CHECK_ERR(srv_api_handle(NULL, NULL, NULL), WD_EINVAL);
    res_free(&r);
}

TEST(authorisation)
{
    struct res r = {0};
    static const char *admin_paths[] = {"/v1/admin/nodes", "/v1/admin/audit", "/v1/admin/entries"};
    for (size_t i = 0; i < WD_ARRAY_LEN(admin_paths); i++) {
        CHECK_OK(call(&r, &peer_anon, "GET", admin_paths[i], NULL, NULL));
        CHECK_REFUSED(&r, 401, "unauthenticated", true);
        CHECK_STR(str(&r, "error"), "unauthenticated");
        CHECK_OK(call(&r, &peer_node, "GET", admin_paths[i], NULL, NULL));
        CHECK_REFUSED(&r, 403, "admin-only", true);
        CHECK_STR(str(&r, "error"), "denied");
        CHECK_OK(call(&r, &peer_wl, "GET", admin_paths[i], NULL, NULL));
        CHECK_REFUSED(&r, 403, "admin-only", true);
        CHECK_OK(call(&r, &peer_foreign, "GET", admin_paths[i], NULL, NULL));
        CHECK_REFUSED(&r, 403, "not-in-trust-domain", true);
        CHECK_OK(call(&r, &peer_admin, "GET", admin_paths[i], NULL, NULL));
        CHECK_EQ(r.status, 200);
    }
    /* node routes refuse everyone but nodes */
    CHECK_OK(call(&r, &peer_admin, "GET", "/v1/node/entries", NULL, NULL));
    CHECK_REFUSED(&r, 403, "node-only", true);
    CHECK_OK(call(&r, &peer_anon, "POST", "/v1/node/challenge", NULL, "{}"));
    CHECK_REFUSED(&r, 401, "unauthenticated", true);
    CHECK_OK(call(&r, &peer_wl, "POST", "/v1/node/renew", NULL, "{}"));
    CHECK_REFUSED(&r, 403, "node-only", true);
    /* a node SVID of a node that is not enrolled */
    struct wd_net_peer ghost;
    make_peer(&ghost, "spiffe://" TD "/warden/node/ghost");
    CHECK_OK(call(&r, &ghost, "GET", "/v1/node/entries", NULL, NULL));
    CHECK_REFUSED(&r, 403, "node-unknown", true);
    /* the deny list: any SVID of the trust domain */
    CHECK_OK(call(&r, &peer_wl, "GET", "/v1/denylist", "since=0", NULL));
    CHECK_EQ(r.status, 200);
    CHECK_OK(call(&r, &peer_admin, "GET", "/v1/denylist", NULL, NULL));
    CHECK_EQ(r.status, 200);
    CHECK_OK(call(&r, &peer_anon, "GET", "/v1/denylist", NULL, NULL));
    CHECK_REFUSED(&r, 401, "unauthenticated", true);
    CHECK_OK(call(&r, &peer_foreign, "GET", "/v1/denylist", NULL, NULL));
    CHECK_REFUSED(&r, 403, "not-in-trust-domain", true);
    CHECK_OK(call(&r, &peer_wl, "GET", "/v1/denylist", "since=x", NULL));
    CHECK_EQ(r.status, 400);
    res_free(&r);
}

TEST(body_validation)
{
    struct res r = {0};
    static const struct {
        const char *path, *body, *needle;
    } bad[] = {
            {"/v1/admin/tokens", "{\"nodee\":\"a\"}", "unknown key 'nodee'"},
            {"/v1/admin/tokens", "{\"node\":1}", "expected string"},
            {"/v1/admin/tokens", "{\"node\":\"a b\"}", "'node'"},
            {"/v1/admin/tokens", "{\"ttl\":\"forever\"}", "'ttl'"},
            {"/v1/admin/tokens", "{\"ttl\":\"1000d\"}", "'ttl'"},
            {"/v1/admin/tokens", "[1]", "expected object"},
            {"/v1/admin/tokens", "{", "<request>:1:2"},
            {"/v1/admin/tokens", "{\"node\":\"a\",\"node\":\"b\"}", "duplicate"},
            {"/v1/admin/entries", "{\"spiffe_id\":\"spiffe://" TD "/x\",\"node\":\"n\"}",
             "missing key 'selectors'"},
            {"/v1/admin/entries",
             "{\"spiffe_id\":\"spiffe://" TD "/x\",\"node\":\"n\",\"selectors\":{}}",
             "at least one selector"},
            {"/v1/admin/entries",
             "{\"spiffe_id\":\"spiffe://" TD "/x\",\"node\":\"n\",\"selectors\":{\"uid\":-1}}",
             "'uid'"},
            {"/v1/admin/entries",
             "{\"spiffe_id\":\"spiffe://" TD
             "/x\",\"node\":\"n\",\"selectors\":{\"sha256\":\"ab\"}}",
             "'sha256'"},
            {"/v1/admin/entries",
             "{\"spiffe_id\":\"spiffe://" TD
             "/x\",\"node\":\"n\",\"selectors\":{\"path\":\"rel\"}}",
             "'path'"},
            {"/v1/admin/entries",
             "{\"spiffe_id\":\"spiffe://" TD "\",\"node\":\"n\",\"selectors\":{\"uid\":1}}",
             "needs a path"},
            {"/v1/admin/entries",
             "{\"spiffe_id\":\"spiffe://" TD "/x\",\"node\":\"n\",\"selectors\":{\"uid\":1},"
             "\"extra\":1}",
             "unknown key 'extra'"},
            {"/v1/admin/nodes/n1/revoke", "{\"reason\":\"\"}", "'reason'"},
            {"/v1/attest/join-token", "{\"node\":\"n\",\"token\":\"t\"}", "missing key 'csr'"},
            {"/v1/attest/tpm/begin", "{\"node\":\"n\",\"ek_public\":\"!!\",\"ak_public\":\"AA==\"}",
             "base64"},
            {"/v1/attest/tpm/finish",
             "{\"session\":\"XYZ\",\"secret\":\"AA==\",\"quote\":{},\"csr\":\"x\"}", "'session'"},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(bad); i++) {
        CHECK_OK(call(&r, &peer_admin, "POST", bad[i].path, NULL, bad[i].body));
        if (r.status != 400 || str(&r, "message") == NULL
            || strstr(str(&r, "message"), bad[i].needle) == NULL) {
            printf("case %zu: %d %s\n", i, r.status, wd_buf_str(&r.resp.body));
        }
        CHECK_EQ(r.status, 400);
        CHECK_STR(str(&r, "error"), "bad-request");
        CHECK(strstr(str(&r, "message"), bad[i].needle) != NULL);
    }
    /* too large a body */
    char *big = wd_malloc(SRV_BODY_MAX + 10);
    CHECK(big != NULL);
    memset(big, ' ', SRV_BODY_MAX + 9);
    big[SRV_BODY_MAX + 9] = '\0';
    CHECK_OK(call(&r, &peer_admin, "POST", "/v1/admin/tokens", NULL, big));
    wd_free(big);
    CHECK_EQ(r.status, 413);
    CHECK_STR(str(&r, "error"), "too-large");
    /* audit query validation */
    CHECK_OK(call(&r, &peer_admin, "GET", "/v1/admin/audit", "limit=0", NULL));
    CHECK_EQ(r.status, 400);
    CHECK_OK(call(&r, &peer_admin, "GET", "/v1/admin/audit", "after=-1", NULL));
    CHECK_EQ(r.status, 400);
    res_free(&r);
}

/* ---- join token ---- */

TEST(join_token_flow)
{
    struct res r = {0};
    EVP_PKEY *k = NULL;
    char *csr = new_csr(&k);
    CHECK(csr != NULL);
    char *tok = make_token("n1");
    CHECK(tok != NULL);
    CHECK(strlen(tok) == 48);
    /* the token is never in the audit log or the store's audit */
    CHECK_OK(join(&r, "n1", tok, csr));
    if (r.status != 200) {
        printf("%s\n", wd_buf_str(&r.resp.body));
    }
    CHECK_EQ(r.status, 200);
    CHECK_STR(str(&r, "spiffe_id"), "spiffe://" TD "/warden/node/n1");
    CHECK_STR(str(&r, "heartbeat"), "1m");
    CHECK_OK(svid_check(str(&r, "svid_pem"), "spiffe://" TD "/warden/node/n1", "n1",
                        WD_ATTEST_JOIN_TOKEN, false));
    /* the issued SVID's key is the CSR's */
    STACK_OF(X509) *certs = NULL;
    CHECK_OK(
            wd_certs_parse("svid", str(&r, "svid_pem"), strlen(str(&r, "svid_pem")), &certs, NULL));
    CHECK(wd_key_matches_cert(k, sk_X509_value(certs, 0)));
    wd_certs_free(certs);
    /* replay */
    CHECK_OK(join(&r, "n1", tok, csr));
    CHECK_REFUSED(&r, 403, "token-used", true);
    /* unknown */
    CHECK_OK(join(&r, "n1", "0123456789abcdef0123456789abcdef", csr));
    CHECK_REFUSED(&r, 403, "token-unknown", true);
    /* bound to another node */
    char *tok2 = make_token("other");
    CHECK(tok2 != NULL);
    CHECK_OK(join(&r, "n3", tok2, csr));
    CHECK_REFUSED(&r, 403, "token-node", true);
    /* expired: the clock is pinned, move it past the token's ten minutes */
    char *tok3 = make_token(NULL);
    CHECK(tok3 != NULL);
    wd_clock_advance(601);
    CHECK_OK(join(&r, "n3", tok3, csr));
    CHECK_REFUSED(&r, 410, "token-expired", true);
    CHECK_STR(str(&r, "error"), "expired");
    /* a malformed CSR does not burn a token */
    char *tok4 = make_token(NULL);
    CHECK(tok4 != NULL);
    CHECK_OK(join(&r, "n3", tok4, "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"));
    CHECK_EQ(r.status, 400);
    CHECK_STR(str(&r, "reason"), "csr");
    CHECK_OK(join(&r, "n3", tok4, csr));
    CHECK_EQ(r.status, 200);
    /* the audit file holds no token */
    struct wd_buf f;
    wd_buf_init(&f, 1 << 26);
    char path[512];
    (void)snprintf(path, sizeof(path), "%.200s/audit.jsonl", dir);
    CHECK_OK(wd_file_read(path, 1 << 26, &f, NULL));
    CHECK(strstr(wd_buf_str(&f), tok) == NULL);
    CHECK(strstr(wd_buf_str(&f), tok4) == NULL);
    CHECK(strstr(wd_buf_str(&f), "\"reason\":\"token-used\"") != NULL);
    wd_buf_cleanup(&f);
    /* metrics moved */
    CHECK_OK(call(&r, &peer_anon, "GET", "/metrics", NULL, NULL));
    CHECK(strstr(wd_buf_str(&r.resp.body),
                 "warden_attestations_total{method=\"join-token\",result=\"ok\"} 0")
          == NULL);
    CHECK(strstr(wd_buf_str(&r.resp.body), "warden_refusals_total{reason=\"token-used\"}") != NULL);
    wd_free(csr);
    wd_free(tok);
    wd_free(tok2);
    wd_free(tok3);
    wd_free(tok4);
    EVP_PKEY_free(k);
    res_free(&r);
}

/* ---- entries, workload SVIDs, revocation ---- */

static char *create_entry(const char *id, const char *node, const char *extra)
{
    struct res r = {0};
    char body[512];
    (void)snprintf(body, sizeof(body),
                   "{\"spiffe_id\":\"%s\",\"node\":\"%s\",\"selectors\":{\"uid\":1000%s}}", id,
                   node, extra);
    char *eid = NULL;
    if (call(&r, &peer_admin, "POST", "/v1/admin/entries", NULL, body) == WD_OK
        && r.status == 201) {
        eid = wd_strdup(str(&r, "id"));
    } else {
        printf("entry: %d %s\n", r.status, wd_buf_str(&r.resp.body));
    }
    res_free(&r);
    return eid;
}

static int svids_body(struct wd_buf *b, const char *const *eids, size_t n, const char *csr)
{
    WD_TRY(wd_buf_append_str(b, "{\"requests\":["));
    for (size_t i = 0; i < n; i++) {
        WD_TRY(wd_buf_printf(b, "%s{\"entry_id\":\"%s\",\"csr\":", i > 0 ? "," : "", eids[i]));
        WD_TRY(jstr(b, csr));
        WD_TRY(wd_buf_append_byte(b, '}'));
    }
    return wd_buf_append_str(b, "]}");
}

TEST(entries_and_svids)
{
    struct res r = {0};
    CHECK_OK(enrol_join("n2"));
    char *e1 = create_entry("spiffe://" TD "/web", "n2",
                            ",\"sha256\":\""
                            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"");
    CHECK(e1 != NULL);
    char *e2 = create_entry("spiffe://" TD "/db", "n-other", "");
    CHECK(e2 != NULL);
    /* duplicate, reserved and foreign IDs */
    CHECK_OK(call(&r, &peer_admin, "POST", "/v1/admin/entries", NULL,
                  "{\"spiffe_id\":\"spiffe://" TD
                  "/web\",\"node\":\"n2\",\"selectors\":{\"uid\":1}}"));
    CHECK_EQ(r.status, 409);
    CHECK_STR(str(&r, "error"), "conflict");
    CHECK_OK(call(&r, &peer_admin, "POST", "/v1/admin/entries", NULL,
                  "{\"spiffe_id\":\"spiffe://" TD "/warden/admin\",\"node\":\"n2\","
                  "\"selectors\":{\"uid\":1}}"));
    CHECK_EQ(r.status, 400);
    CHECK_OK(call(&r, &peer_admin, "POST", "/v1/admin/entries", NULL,
                  "{\"spiffe_id\":\"spiffe://other.org/web\",\"node\":\"n2\","
                  "\"selectors\":{\"uid\":1}}"));
    CHECK_EQ(r.status, 400);
    /* listing */
    CHECK_OK(call(&r, &peer_admin, "GET", "/v1/admin/entries", "node=n2", NULL));
    CHECK_EQ(r.status, 200);
    CHECK_EQ(wd_node_get(wd_doc_root(r.doc), "entries")->u.arr.n, 1);
    CHECK_OK(call(&r, &peer_admin, "GET", "/v1/admin/entries", "node=bad name", NULL));
    CHECK_EQ(r.status, 400);
    struct wd_net_peer n2;
    make_peer(&n2, "spiffe://" TD "/warden/node/n2");
    CHECK_OK(call(&r, &n2, "GET", "/v1/node/entries", NULL, NULL));
    CHECK_EQ(r.status, 200);
    CHECK_EQ(wd_node_get(wd_doc_root(r.doc), "entries")->u.arr.n, 1);
    /* SVIDs: an entry of another node refuses the whole request */
    EVP_PKEY *k = NULL;
    char *csr = new_csr(&k);
    CHECK(csr != NULL);
    struct wd_buf b;
    wd_buf_init(&b, 1 << 24);
    const char *both[2] = {e1, e2};
    CHECK_OK(svids_body(&b, both, 2, csr));
    CHECK_OK(call(&r, &n2, "POST", "/v1/node/svids", NULL, wd_buf_str(&b)));
    CHECK_REFUSED(&r, 403, "entry-not-on-node", true);
    wd_buf_reset(&b);
    const char *unknown[1] = {"0123456789abcdef0123456789abcdef"};
    CHECK_OK(svids_body(&b, unknown, 1, csr));
    CHECK_OK(call(&r, &n2, "POST", "/v1/node/svids", NULL, wd_buf_str(&b)));
    CHECK_REFUSED(&r, 403, "entry-not-on-node", true);
    wd_buf_reset(&b);
    CHECK_OK(svids_body(&b, both, 1, csr));
    CHECK_OK(call(&r, &n2, "POST", "/v1/node/svids", NULL, wd_buf_str(&b)));
    CHECK_EQ(r.status, 200);
    const struct wd_node *sv = wd_node_get(wd_doc_root(r.doc), "svids");
    CHECK(sv != NULL && sv->u.arr.n == 1);
    const struct wd_node *pem = wd_node_get(sv->u.arr.items[0], "svid_pem");
    CHECK(pem != NULL);
    CHECK_OK(svid_check(pem->u.s.p, "spiffe://" TD "/web", "n2", WD_ATTEST_JOIN_TOKEN, true));
    /* revoke: node calls stop, the deny list says so */
    CHECK_OK(call(&r, &peer_admin, "POST", "/v1/admin/nodes/n2/revoke", NULL,
                  "{\"reason\":\"disk stolen\"}"));
    CHECK_EQ(r.status, 200);
    CHECK_STR(str(&r, "name"), "n2");
    CHECK(wd_node_get(wd_doc_root(r.doc), "trusted")->u.b == false);
    CHECK_OK(call(&r, &peer_admin, "POST", "/v1/admin/nodes/nobody/revoke", NULL, "{}"));
    CHECK_EQ(r.status, 404);
    CHECK_OK(call(&r, &n2, "POST", "/v1/node/svids", NULL, wd_buf_str(&b)));
    CHECK_REFUSED(&r, 403, "node-revoked", true);
    CHECK_OK(call(&r, &n2, "POST", "/v1/node/challenge", NULL, "{}"));
    CHECK_REFUSED(&r, 403, "node-revoked", true);
    CHECK_OK(call(&r, &peer_wl, "GET", "/v1/denylist", "since=0", NULL));
    CHECK_EQ(r.status, 200);
    CHECK(strstr(wd_buf_str(&r.resp.body), "\"kind\":\"node\",\"subject\":\"n2\"") != NULL);
    CHECK(strstr(wd_buf_str(&r.resp.body),
                 "\"kind\":\"spiffe_id\",\"subject\":\"spiffe://" TD "/warden/node/n2\"")
          != NULL);
    /* an unbound token cannot bring it back, one made for it can */
    char *tok = make_token(NULL);
    CHECK(tok != NULL);
    CHECK_OK(join(&r, "n2", tok, csr));
    CHECK_REFUSED(&r, 403, "node-revoked", true);
    CHECK_OK(enrol_join("n2"));
    CHECK_OK(call(&r, &n2, "GET", "/v1/node/entries", NULL, NULL));
    CHECK_EQ(r.status, 200);
    /* delete */
    char path[128];
    (void)snprintf(path, sizeof(path), "/v1/admin/entries/%s", e2);
    CHECK_OK(call(&r, &peer_admin, "DELETE", path, NULL, NULL));
    CHECK_EQ(r.status, 204);
    CHECK_OK(call(&r, &peer_admin, "DELETE", path, NULL, NULL));
    CHECK_EQ(r.status, 404);
    CHECK_OK(call(&r, &peer_admin, "DELETE", "/v1/admin/entries/zz", NULL, NULL));
    CHECK_EQ(r.status, 404);
    /* admin node views */
    CHECK_OK(call(&r, &peer_admin, "GET", "/v1/admin/nodes/n2", NULL, NULL));
    CHECK_EQ(r.status, 200);
    CHECK_STR(str(&r, "attestation"), "join-token");
    CHECK_OK(call(&r, &peer_admin, "GET", "/v1/admin/nodes/zz", NULL, NULL));
    CHECK_EQ(r.status, 404);
    CHECK_OK(call(&r, &peer_admin, "GET", "/v1/admin/audit", "after=0&limit=2", NULL));
    CHECK_EQ(r.status, 200);
    CHECK_EQ(wd_node_get(wd_doc_root(r.doc), "events")->u.arr.n, 2);
    wd_buf_cleanup(&b);
    wd_free(csr);
    wd_free(tok);
    wd_free(e1);
    wd_free(e2);
    EVP_PKEY_free(k);
    res_free(&r);
}

/* ---- heartbeats ---- */

TEST(heartbeat_join_node)
{
    struct res r = {0};
    CHECK_OK(enrol_join("hb"));
    struct wd_net_peer hb;
    make_peer(&hb, "spiffe://" TD "/warden/node/hb");
    CHECK_OK(call(&r, &hb, "POST", "/v1/node/challenge", NULL, ""));
    CHECK_EQ(r.status, 200);
    CHECK(str(&r, "nonce") == NULL);
    char sid[64], body[128];
    (void)snprintf(sid, sizeof(sid), "%s", str(&r, "session"));
    (void)snprintf(body, sizeof(body), "{\"session\":\"%s\"}", sid);
    CHECK_OK(call(&r, &hb, "POST", "/v1/node/heartbeat", NULL, body));
    CHECK_EQ(r.status, 200);
    CHECK_OK(call(&r, &hb, "POST", "/v1/node/heartbeat", NULL, body));
    CHECK_REFUSED(&r, 403, "session-replayed", true);
    CHECK_OK(call(&r, &hb, "POST", "/v1/node/heartbeat", NULL,
                  "{\"session\":\"0123456789abcdef0123456789abcdef\"}"));
    CHECK_REFUSED(&r, 403, "session-unknown", true);
    /* another node's session */
    CHECK_OK(call(&r, &hb, "POST", "/v1/node/challenge", NULL, "{}"));
    (void)snprintf(body, sizeof(body), "{\"session\":\"%s\"}", str(&r, "session"));
    struct wd_net_peer other;
    make_peer(&other, "spiffe://" TD "/warden/node/n1");
    CHECK_OK(call(&r, &other, "POST", "/v1/node/heartbeat", NULL, body));
    CHECK_REFUSED(&r, 403, "session-unknown", true);
    /* no heartbeat for longer than the grace: untrusted, on the deny list */
    wd_clock_advance(S->cfg.heartbeat_grace + 5);
    CHECK_OK(srv_monitor_pass(S, wd_time_now()));
    CHECK_OK(call(&r, &peer_admin, "GET", "/v1/admin/nodes/hb", NULL, NULL));
    CHECK(wd_node_get(wd_doc_root(r.doc), "trusted")->u.b == false);
    CHECK_OK(call(&r, &hb, "GET", "/v1/node/entries", NULL, NULL));
    CHECK_REFUSED(&r, 403, "node-untrusted", true);
    CHECK_OK(call(&r, &peer_wl, "GET", "/v1/denylist", "since=0", NULL));
    CHECK(strstr(wd_buf_str(&r.resp.body), "\"subject\":\"hb\",\"reason\":\"heartbeat-missed\"")
          != NULL);
    /* a good heartbeat makes it trusted again */
    CHECK_OK(call(&r, &hb, "POST", "/v1/node/challenge", NULL, "{}"));
    CHECK_EQ(r.status, 200);
    (void)snprintf(body, sizeof(body), "{\"session\":\"%s\"}", str(&r, "session"));
    CHECK_OK(call(&r, &hb, "POST", "/v1/node/heartbeat", NULL, body));
    CHECK_EQ(r.status, 200);
    CHECK_OK(call(&r, &hb, "GET", "/v1/node/entries", NULL, NULL));
    CHECK_EQ(r.status, 200);
    /* an expired session */
    CHECK_OK(call(&r, &hb, "POST", "/v1/node/challenge", NULL, "{}"));
    (void)snprintf(body, sizeof(body), "{\"session\":\"%s\"}", str(&r, "session"));
    wd_clock_advance(S->cfg.session_ttl + 1);
    CHECK_OK(call(&r, &hb, "POST", "/v1/node/heartbeat", NULL, body));
    CHECK_REFUSED(&r, 410, "session-expired", true);
    /* renew */
    EVP_PKEY *k = NULL;
    char *csr = new_csr(&k);
    struct wd_buf rb;
    wd_buf_init(&rb, 1 << 20);
    CHECK_OK(wd_buf_append_str(&rb, "{\"csr\":"));
    CHECK_OK(jstr(&rb, csr));
    CHECK_OK(wd_buf_append_byte(&rb, '}'));
    CHECK_OK(call(&r, &hb, "POST", "/v1/node/renew", NULL, wd_buf_str(&rb)));
    CHECK_EQ(r.status, 200);
    CHECK_OK(svid_check(str(&r, "svid_pem"), "spiffe://" TD "/warden/node/hb", "hb",
                        WD_ATTEST_JOIN_TOKEN, false));
    wd_buf_cleanup(&rb);
    wd_free(csr);
    EVP_PKEY_free(k);
    res_free(&r);
}

/* ---- TPM ---- */

struct sw_tpm {
    struct wd_buf ekb;
    struct wd_tpm_public ek;
    EVP_PKEY *ek_priv;
    EVP_PKEY *ak_key;
    struct wd_buf akb; /* TPM2B_PUBLIC */
    struct wd_tpm_public ak;
    struct wd_tpm_name ak_name;
    uint64_t clock;
    uint8_t pcrs[5 * 32];
};

static EVP_PKEY *load_priv(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return NULL;
    }
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    (void)fclose(f);
    return k;
}

static int sw_tpm_init(struct sw_tpm *t, const char *ek_kind)
{
    char path[256];
    memset(t, 0, sizeof(*t));
    wd_buf_init(&t->ekb, 4096);
    wd_buf_init(&t->akb, 4096);
    (void)snprintf(path, sizeof(path), DATA "swek-%s.pub", ek_kind);
    WD_TRY(wd_file_read(path, 4096, &t->ekb, NULL));
    WD_TRY(wd_tpm_public_parse_2b(t->ekb.p, t->ekb.len, &t->ek, NULL));
    (void)snprintf(path, sizeof(path), DATA "swek-%s.pem", ek_kind);
    t->ek_priv = load_priv(path);
    WD_ENSURE(t->ek_priv != NULL, WD_EIO);
    /* an ECC AK: the swtpm AK's public area with a software key's point */
    struct wd_buf tmpl;
    wd_buf_init(&tmpl, 4096);
    WD_TRY(wd_file_read(DATA "akecc.pub", 4096, &tmpl, NULL));
    struct wd_tpm_public ak;
    int rc = wd_tpm_public_parse_2b(tmpl.p, tmpl.len, &ak, NULL);
    t->ak_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    BIGNUM *x = NULL, *y = NULL;
    uint8_t xb[32], yb[32];
    if (rc == WD_OK
        && (t->ak_key == NULL || EVP_PKEY_get_bn_param(t->ak_key, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1
            || EVP_PKEY_get_bn_param(t->ak_key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1
            || BN_bn2binpad(x, xb, 32) != 32 || BN_bn2binpad(y, yb, 32) != 32)) {
        rc = WD_ETLS;
    }
    BN_free(x);
    BN_free(y);
    struct wd_buf body;
    wd_buf_init(&body, 4096);
    if (rc == WD_OK) {
        ak.ecc_x.p = xb;
        ak.ecc_x.len = 32;
        ak.ecc_y.p = yb;
        ak.ecc_y.len = 32;
        rc = wd_tpm_public_marshal(&ak, &body);
    }
    if (rc == WD_OK) {
        uint8_t sz[2] = {(uint8_t)(body.len >> 8), (uint8_t)body.len};
        rc = wd_buf_append(&t->akb, sz, 2);
        rc = rc == WD_OK ? wd_buf_append(&t->akb, body.p, body.len) : rc;
    }
    if (rc == WD_OK) {
        rc = wd_tpm_public_parse_2b(t->akb.p, t->akb.len, &t->ak, NULL);
    }
    if (rc == WD_OK) {
        rc = wd_tpm_public_name(&t->ak, &t->ak_name);
    }
    wd_buf_cleanup(&body);
    wd_buf_cleanup(&tmpl);
    t->clock = 1000;
    for (size_t i = 0; i < sizeof(t->pcrs); i++) {
        t->pcrs[i] = (uint8_t)(i * 3);
    }
    return rc;
}

static void sw_tpm_free(struct sw_tpm *t)
{
    wd_buf_cleanup(&t->ekb);
    wd_buf_cleanup(&t->akb);
    EVP_PKEY_free(t->ek_priv);
    EVP_PKEY_free(t->ak_key);
}

/* A quote over PCRs 0,1,2,3,7 of SHA-256 for nonce, as JSON {"attest","signature","pcr_values"}. */
static int sw_quote(struct sw_tpm *t, const uint8_t *nonce, size_t nl, struct wd_buf *json)
{
    uint8_t digest[32];
    unsigned int dl = 0;
    WD_ENSURE(EVP_Digest(t->pcrs, sizeof(t->pcrs), digest, &dl, EVP_sha256(), NULL) == 1, WD_ETLS);
    struct wd_tpm_attest a;
    memset(&a, 0, sizeof(a));
    a.magic = WD_TPM_GENERATED_VALUE;
    a.type = WD_TPM_ST_ATTEST_QUOTE;
    a.qualified_signer.p = t->ak_name.b;
    a.qualified_signer.len = t->ak_name.len;
    a.extra_data.p = nonce;
    a.extra_data.len = nl;
    a.clock.clock = t->clock++;
    a.clock.reset_count = 1;
    a.clock.restart_count = 0;
    a.clock.safe = true;
    a.pcr_select.count = 1;
    a.pcr_select.banks[0].hash = WD_TPM_ALG_SHA256;
    a.pcr_select.banks[0].size_of_select = 3;
    a.pcr_select.banks[0].select[0] = 0x8f; /* 0,1,2,3,7 */
    a.pcr_digest.p = digest;
    a.pcr_digest.len = 32;
    struct wd_buf msg, sig;
    wd_buf_init(&msg, 4096);
    wd_buf_init(&sig, 4096);
    int rc = wd_tpm_attest_marshal(&a, &msg);
    uint8_t raw[256];
    size_t rl = sizeof(raw);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (rc == WD_OK
        && (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, t->ak_key) != 1
            || EVP_DigestSign(ctx, raw, &rl, msg.p, msg.len) != 1)) {
        rc = WD_ETLS;
    }
    EVP_MD_CTX_free(ctx);
    uint8_t r[32], s[32];
    if (rc == WD_OK) {
        const unsigned char *q = raw;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)rl);
        if (es == NULL || BN_bn2binpad(ECDSA_SIG_get0_r(es), r, 32) != 32
            || BN_bn2binpad(ECDSA_SIG_get0_s(es), s, 32) != 32) {
            rc = WD_ETLS;
        }
        ECDSA_SIG_free(es);
    }
    if (rc == WD_OK) {
        struct wd_tpm_signature ts = {
                WD_TPM_ALG_ECDSA, WD_TPM_ALG_SHA256, {NULL, 0}, {r, 32}, {s, 32}};
        rc = wd_tpm_signature_marshal(&ts, &sig);
    }
    if (rc == WD_OK) {
        rc = wd_buf_append_str(json, "{\"attest\":\"");
        rc = rc == WD_OK ? wd_b64_encode(json, msg.p, msg.len, WD_B64_STD) : rc;
        rc = rc == WD_OK ? wd_buf_append_str(json, "\",\"signature\":\"") : rc;
        rc = rc == WD_OK ? wd_b64_encode(json, sig.p, sig.len, WD_B64_STD) : rc;
        rc = rc == WD_OK ? wd_buf_append_str(json, "\",\"pcr_values\":\"") : rc;
        rc = rc == WD_OK ? wd_b64_encode(json, t->pcrs, sizeof(t->pcrs), WD_B64_STD) : rc;
        rc = rc == WD_OK ? wd_buf_append_str(json, "\"}") : rc;
    }
    wd_buf_cleanup(&msg);
    wd_buf_cleanup(&sig);
    ERR_clear_error();
    return rc;
}

static int b64_field(const struct res *r, const char *key, struct wd_buf *out)
{
    const char *s = str(r, key);
    WD_ENSURE(s != NULL, WD_ENOENT);
    return wd_b64_decode(out, s, strlen(s), WD_B64_STD);
}

/* begin for node: fills session, nonce and (unless wrong_secret) the activated secret. */
struct begun {
    char session[64];
    struct wd_buf nonce, secret;
};

static int tpm_begin(struct sw_tpm *t, const char *node, struct begun *bg, struct res *r)
{
    struct wd_buf body;
    wd_buf_init(&body, 1 << 16);
    wd_buf_init(&bg->nonce, 64);
    wd_buf_init(&bg->secret, 64);
    int rc = wd_buf_printf(&body, "{\"node\":\"%s\",\"ek_public\":\"", node);
    rc = rc == WD_OK ? wd_b64_encode(&body, t->ekb.p, t->ekb.len, WD_B64_STD) : rc;
    rc = rc == WD_OK ? wd_buf_append_str(&body, "\",\"ak_public\":\"") : rc;
    rc = rc == WD_OK ? wd_b64_encode(&body, t->akb.p, t->akb.len, WD_B64_STD) : rc;
    rc = rc == WD_OK ? wd_buf_append_str(&body, "\"}") : rc;
    rc = rc == WD_OK ? call(r, &peer_anon, "POST", "/v1/attest/tpm/begin", NULL, wd_buf_str(&body))
                     : rc;
    wd_buf_cleanup(&body);
    if (rc != WD_OK || r->status != 200) {
        return rc != WD_OK ? rc : WD_EDENIED;
    }
    (void)snprintf(bg->session, sizeof(bg->session), "%s", str(r, "session"));
    struct wd_buf idobj, sec;
    wd_buf_init(&idobj, 4096);
    wd_buf_init(&sec, 4096);
    rc = b64_field(r, "nonce", &bg->nonce);
    rc = rc == WD_OK ? b64_field(r, "credential_blob", &idobj) : rc;
    rc = rc == WD_OK ? b64_field(r, "encrypted_secret", &sec) : rc;
    if (rc == WD_OK) {
        struct wd_slice an = {t->ak_name.b, t->ak_name.len};
        rc = wd_tpm_activate_credential(&t->ek, t->ek_priv, an, wd_buf_slice(&idobj),
                                        wd_buf_slice(&sec), &bg->secret, NULL);
    }
    wd_buf_cleanup(&idobj);
    wd_buf_cleanup(&sec);
    return rc;
}

static void begun_free(struct begun *bg)
{
    wd_buf_cleanup(&bg->nonce);
    wd_buf_cleanup(&bg->secret);
}

static int tpm_finish(struct sw_tpm *t, struct begun *bg, const uint8_t *secret, size_t sl,
                      const uint8_t *nonce, size_t nl, const char *csr, struct res *r)
{
    struct wd_buf body;
    wd_buf_init(&body, 1 << 20);
    int rc = wd_buf_printf(&body, "{\"session\":\"%s\",\"secret\":\"", bg->session);
    rc = rc == WD_OK ? wd_b64_encode(&body, secret, sl, WD_B64_STD) : rc;
    rc = rc == WD_OK ? wd_buf_append_str(&body, "\",\"quote\":") : rc;
    rc = rc == WD_OK ? sw_quote(t, nonce, nl, &body) : rc;
    rc = rc == WD_OK ? wd_buf_append_str(&body, ",\"csr\":") : rc;
    rc = rc == WD_OK ? jstr(&body, csr) : rc;
    rc = rc == WD_OK ? wd_buf_append_byte(&body, '}') : rc;
    rc = rc == WD_OK ? call(r, &peer_anon, "POST", "/v1/attest/tpm/finish", NULL, wd_buf_str(&body))
                     : rc;
    wd_buf_cleanup(&body);
    return rc;
}

TEST(tpm_flow)
{
    struct sw_tpm t;
    struct res r = {0};
    struct begun bg;
    CHECK_OK(sw_tpm_init(&t, "rsa"));
    EVP_PKEY *k = NULL;
    char *csr = new_csr(&k);
    CHECK(csr != NULL);
    /* the good path */
    CHECK_OK(tpm_begin(&t, "t1", &bg, &r));
    CHECK_STR(str(&r, "pcr_selection"), "sha256:0,1,2,3,7");
    CHECK(str(&r, "deadline") != NULL);
    CHECK_OK(tpm_finish(&t, &bg, bg.secret.p, bg.secret.len, bg.nonce.p, bg.nonce.len, csr, &r));
    if (r.status != 200) {
        printf("%s\n", wd_buf_str(&r.resp.body));
    }
    CHECK_EQ(r.status, 200);
    CHECK_OK(svid_check(str(&r, "svid_pem"), "spiffe://" TD "/warden/node/t1", "t1", WD_ATTEST_TPM,
                        false));
    /* replayed session */
    CHECK_OK(tpm_finish(&t, &bg, bg.secret.p, bg.secret.len, bg.nonce.p, bg.nonce.len, csr, &r));
    CHECK_REFUSED(&r, 403, "session-replayed", true);
    begun_free(&bg);
    /* unknown session */
    memset(&bg, 0, sizeof(bg));
    (void)snprintf(bg.session, sizeof(bg.session), "0123456789abcdef0123456789abcdef");
    CHECK_OK(tpm_finish(&t, &bg, (const uint8_t *)"x", 1, (const uint8_t *)"n", 1, csr, &r));
    CHECK_REFUSED(&r, 403, "session-unknown", true);
    /* wrong nonce */
    CHECK_OK(tpm_begin(&t, "t1", &bg, &r));
    uint8_t other_nonce[32];
    memset(other_nonce, 0x5a, sizeof(other_nonce));
    CHECK_OK(tpm_finish(&t, &bg, bg.secret.p, bg.secret.len, other_nonce, 32, csr, &r));
    CHECK_REFUSED(&r, 403, "nonce", true);
    begun_free(&bg);
    /* AK not bound: the wrong secret */
    CHECK_OK(tpm_begin(&t, "t1", &bg, &r));
    uint8_t wrong[32];
    memset(wrong, 1, sizeof(wrong));
    CHECK_OK(tpm_finish(&t, &bg, wrong, sizeof(wrong), bg.nonce.p, bg.nonce.len, csr, &r));
    CHECK_REFUSED(&r, 403, "ak-not-bound", true);
    begun_free(&bg);
    /* expired session */
    CHECK_OK(tpm_begin(&t, "t1", &bg, &r));
    wd_clock_advance(S->cfg.session_ttl + 1);
    CHECK_OK(tpm_finish(&t, &bg, bg.secret.p, bg.secret.len, bg.nonce.p, bg.nonce.len, csr, &r));
    CHECK_REFUSED(&r, 410, "session-expired", true);
    begun_free(&bg);
    /* a PCR value other than the first one seen (trust on first use) */
    CHECK_OK(tpm_begin(&t, "t1", &bg, &r));
    t.pcrs[40] ^= 1;
    CHECK_OK(tpm_finish(&t, &bg, bg.secret.p, bg.secret.len, bg.nonce.p, bg.nonce.len, csr, &r));
    CHECK_REFUSED(&r, 403, "pcr-value", true);
    t.pcrs[40] ^= 1;
    begun_free(&bg);
    /* EK not on the allow-list */
    struct sw_tpm t2;
    CHECK_OK(sw_tpm_init(&t2, "ecc"));
    CHECK_ERR(tpm_begin(&t2, "t2", &bg, &r), WD_EDENIED);
    CHECK_REFUSED(&r, 403, "ek-not-allowed", true);
    begun_free(&bg);
    /* the same EK under another name, and the AK in place of the EK */
    CHECK_ERR(tpm_begin(&t, "t9", &bg, &r), WD_EDENIED);
    CHECK_REFUSED(&r, 403, "ek-in-use", true);
    begun_free(&bg);
    /* heartbeat: challenge, quote, then a bad quote makes the node untrusted */
    struct wd_net_peer tp;
    make_peer(&tp, "spiffe://" TD "/warden/node/t1");
    CHECK_OK(call(&r, &tp, "POST", "/v1/node/challenge", NULL, "{}"));
    CHECK_EQ(r.status, 200);
    struct wd_buf nonce, hbody;
    wd_buf_init(&nonce, 64);
    wd_buf_init(&hbody, 1 << 16);
    CHECK_OK(b64_field(&r, "nonce", &nonce));
    CHECK_OK(wd_buf_printf(&hbody, "{\"session\":\"%s\",\"quote\":", str(&r, "session")));
    CHECK_OK(sw_quote(&t, nonce.p, nonce.len, &hbody));
    CHECK_OK(wd_buf_append_byte(&hbody, '}'));
    CHECK_OK(call(&r, &tp, "POST", "/v1/node/heartbeat", NULL, wd_buf_str(&hbody)));
    if (r.status != 200) {
        printf("%s\n", wd_buf_str(&r.resp.body));
    }
    CHECK_EQ(r.status, 200);
    /* a heartbeat without a quote */
    CHECK_OK(call(&r, &tp, "POST", "/v1/node/challenge", NULL, "{}"));
    char hb2[128];
    (void)snprintf(hb2, sizeof(hb2), "{\"session\":\"%s\"}", str(&r, "session"));
    CHECK_OK(call(&r, &tp, "POST", "/v1/node/heartbeat", NULL, hb2));
    CHECK_REFUSED(&r, 403, "quote-missing", true);
    /* it is untrusted now; a good heartbeat brings it back, a changed PCR does not */
    CHECK_OK(call(&r, &tp, "GET", "/v1/node/entries", NULL, NULL));
    CHECK_REFUSED(&r, 403, "node-untrusted", true);
    wd_buf_reset(&nonce);
    wd_buf_reset(&hbody);
    CHECK_OK(call(&r, &tp, "POST", "/v1/node/challenge", NULL, "{}"));
    CHECK_OK(b64_field(&r, "nonce", &nonce));
    CHECK_OK(wd_buf_printf(&hbody, "{\"session\":\"%s\",\"quote\":", str(&r, "session")));
    t.pcrs[0] ^= 0xff;
    CHECK_OK(sw_quote(&t, nonce.p, nonce.len, &hbody));
    t.pcrs[0] ^= 0xff;
    CHECK_OK(wd_buf_append_byte(&hbody, '}'));
    CHECK_OK(call(&r, &tp, "POST", "/v1/node/heartbeat", NULL, wd_buf_str(&hbody)));
    CHECK_REFUSED(&r, 403, "pcr-value", true);
    CHECK_OK(call(&r, &peer_wl, "GET", "/v1/denylist", "since=0", NULL));
    /* the first refusal put it on the deny list; its reason stays */
    CHECK(strstr(wd_buf_str(&r.resp.body), "\"subject\":\"t1\",\"reason\":\"quote-missing\"")
          != NULL);
    wd_buf_reset(&nonce);
    wd_buf_reset(&hbody);
    CHECK_OK(call(&r, &tp, "POST", "/v1/node/challenge", NULL, "{}"));
    CHECK_OK(b64_field(&r, "nonce", &nonce));
    CHECK_OK(wd_buf_printf(&hbody, "{\"session\":\"%s\",\"quote\":", str(&r, "session")));
    CHECK_OK(sw_quote(&t, nonce.p, nonce.len, &hbody));
    CHECK_OK(wd_buf_append_byte(&hbody, '}'));
    CHECK_OK(call(&r, &tp, "POST", "/v1/node/heartbeat", NULL, wd_buf_str(&hbody)));
    CHECK_EQ(r.status, 200);
    CHECK_OK(call(&r, &tp, "GET", "/v1/node/entries", NULL, NULL));
    CHECK_EQ(r.status, 200);
    /* a replayed quote (same clock) on a fresh session: clock-backwards */
    t.clock--;
    wd_buf_reset(&nonce);
    wd_buf_reset(&hbody);
    CHECK_OK(call(&r, &tp, "POST", "/v1/node/challenge", NULL, "{}"));
    CHECK_OK(b64_field(&r, "nonce", &nonce));
    CHECK_OK(wd_buf_printf(&hbody, "{\"session\":\"%s\",\"quote\":", str(&r, "session")));
    CHECK_OK(sw_quote(&t, nonce.p, nonce.len, &hbody));
    CHECK_OK(wd_buf_append_byte(&hbody, '}'));
    CHECK_OK(call(&r, &tp, "POST", "/v1/node/heartbeat", NULL, wd_buf_str(&hbody)));
    CHECK_REFUSED(&r, 403, "clock-backwards", true);
    wd_buf_cleanup(&nonce);
    wd_buf_cleanup(&hbody);
    sw_tpm_free(&t);
    sw_tpm_free(&t2);
    wd_free(csr);
    EVP_PKEY_free(k);
    res_free(&r);
}

/* ---- group commit ---- */

struct worker {
    struct wd_net_peer *peer;
    const char *body;
    int ok;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 10; i++) {
        struct res r = {0};
        if (call(&r, w->peer, "POST", "/v1/node/svids", NULL, w->body) == WD_OK
            && r.status == 200) {
            w->ok++;
        } else {
            printf("worker: %d %s\n", r.status, wd_buf_str(&r.resp.body));
        }
        res_free(&r);
    }
    return NULL;
}

TEST(group_commit)
{
    CHECK_OK(enrol_join("gc"));
    struct wd_net_peer gc;
    make_peer(&gc, "spiffe://" TD "/warden/node/gc");
    char *e = create_entry("spiffe://" TD "/gc-web", "gc", "");
    CHECK(e != NULL);
    EVP_PKEY *k = NULL;
    char *csr = new_csr(&k);
    CHECK(csr != NULL);
    struct wd_buf b;
    wd_buf_init(&b, 1 << 24);
    const char *ids[5] = {e, e, e, e, e};
    CHECK_OK(svids_body(&b, ids, 5, csr));
    struct wd_store *st = NULL;
    CHECK_OK(srv_store_get(S, &st));
    int64_t before = 0, after = 0;
    CHECK_OK(wd_store_svid_count(st, &before));
    unsigned long long batches0 = atomic_load(&S->m.batch_count);
    enum { NT = 8 };
    pthread_t th[NT];
    struct worker w[NT];
    for (int i = 0; i < NT; i++) {
        w[i] = (struct worker){&gc, wd_buf_str(&b), 0};
        CHECK(pthread_create(&th[i], NULL, worker_main, &w[i]) == 0);
    }
    int ok = 0;
    for (int i = 0; i < NT; i++) {
        (void)pthread_join(th[i], NULL);
        ok += w[i].ok;
    }
    CHECK_EQ(ok, NT * 10);
    CHECK_OK(wd_store_svid_count(st, &after));
    CHECK_EQ(after - before, NT * 10 * 5);
    unsigned long long batches = atomic_load(&S->m.batch_count) - batches0;
    printf("group commit: %d requests, %d SVIDs, %llu commits\n", NT * 10, NT * 10 * 5, batches);
    CHECK(batches >= 1 && batches <= (unsigned long long)NT * 10);
    srv_store_put(S, st, false);
    wd_buf_cleanup(&b);
    wd_free(csr);
    wd_free(e);
    EVP_PKEY_free(k);
}

/* ---- IP fence ---- */

TEST(ip_fence)
{
    struct res r = {0};
    struct wd_cidr *saved = S->cfg.ip_fence;
    size_t nsaved = S->cfg.n_ip_fence;
    struct wd_cidr fence;
    CHECK_OK(wd_cidr_parse("10.0.0.0/8", 10, &fence, NULL));
    S->cfg.ip_fence = &fence;
    S->cfg.n_ip_fence = 1;
    EVP_PKEY *k = NULL;
    char *csr = new_csr(&k);
    char *tok = make_token("fenced");
    CHECK(csr != NULL && tok != NULL);
    CHECK_OK(join(&r, "fenced", tok, csr));
    CHECK_REFUSED(&r, 403, "ip-fence", true);
    char *tok2 = make_token("fenced");
    struct wd_net_peer inside = peer_anon;
    (void)snprintf(inside.addr, sizeof(inside.addr), "10.1.2.3");
    struct wd_buf body;
    wd_buf_init(&body, 1 << 20);
    CHECK_OK(wd_buf_printf(&body, "{\"node\":\"fenced\",\"token\":\"%s\",\"csr\":", tok2));
    CHECK_OK(jstr(&body, csr));
    CHECK_OK(wd_buf_append_byte(&body, '}'));
    CHECK_OK(call(&r, &inside, "POST", "/v1/attest/join-token", NULL, wd_buf_str(&body)));
    CHECK_EQ(r.status, 200);
    S->cfg.ip_fence = saved;
    S->cfg.n_ip_fence = nsaved;
    wd_buf_cleanup(&body);
    wd_free(csr);
    wd_free(tok);
    wd_free(tok2);
    EVP_PKEY_free(k);
    res_free(&r);
}

TEST(audit_reopen)
{
    char path[300], moved[310];
    (void)snprintf(path, sizeof(path), "%.200s/audit.jsonl", dir);
    (void)snprintf(moved, sizeof(moved), "%.200s/audit.jsonl.1", dir);
    CHECK(rename(path, moved) == 0);
    CHECK_OK(srv_audit_reopen(S));
    struct res r = {0};
    CHECK_OK(call(&r, &peer_anon, "GET", "/v1/admin/nodes", NULL, NULL));
    CHECK_EQ(r.status, 401);
    res_free(&r);
    struct wd_buf f;
    wd_buf_init(&f, 1 << 20);
    CHECK_OK(wd_file_read(path, 1 << 20, &f, NULL));
    /* exactly one line: the refusal just made, as the AUDIT object with its store id */
    CHECK(strchr(wd_buf_str(&f), '\n') == wd_buf_str(&f) + f.len - 1);
    CHECK(strstr(wd_buf_str(&f), "\"kind\":\"refusal\"") != NULL);
    CHECK(strncmp(wd_buf_str(&f), "{\"id\":", 6) == 0);
    wd_buf_cleanup(&f);
    CHECK(unlink(moved) == 0);
}

TEST(der_serial)
{
    const uint8_t *s = NULL;
    size_t n = 0;
    static const uint8_t bad[] = {0x30, 0x03, 0x30, 0x01, 0x02};
    CHECK_ERR(srv_der_serial(bad, sizeof(bad), &s, &n), WD_EPROTO);
    static const uint8_t ok[] = {0x30, 0x08, 0x30, 0x06, 0xa0, 0x01, 0x00, 0x02, 0x01, 0x07};
    CHECK_OK(srv_der_serial(ok, sizeof(ok), &s, &n));
    CHECK_EQ(n, 1);
    CHECK_EQ(s[0], 7);
    for (size_t i = 0; i < sizeof(ok); i++) {
        CHECK_ERR(srv_der_serial(ok, i, &s, &n), WD_EPROTO);
    }
}

int main(void)
{
    (void)snprintf(dir, sizeof(dir), "/tmp/wd-test-control-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return 1;
    }
    char data[480];
    (void)snprintf(data, sizeof(data), "%.200s/d", dir);
    wd_clock_pin(1796000000);
    struct wd_diag d = {{0}};
    if (srv_init_dir(data, TD, NULL, 3600, &d) != WD_OK) {
        printf("init: %s\n", d.msg);
        return 1;
    }
    (void)snprintf(dir, sizeof(dir), "%.250s", data);
    struct srv_config cfg;
    srv_config_init(&cfg);
    /* allow the software RSA EK */
    struct wd_buf ekb;
    struct wd_tpm_public ek;
    EVP_PKEY *ekk = NULL;
    char hex[65];
    wd_buf_init(&ekb, 4096);
    if (wd_file_read(DATA "swek-rsa.pub", 4096, &ekb, NULL) != WD_OK
        || wd_tpm_public_parse_2b(ekb.p, ekb.len, &ek, NULL) != WD_OK
        || wd_tpm_public_to_pkey(&ek, &ekk, NULL) != WD_OK
        || wd_tpm_spki_sha256_hex(ekk, hex) != WD_OK) {
        printf("cannot read the software EK\n");
        return 1;
    }
    EVP_PKEY_free(ekk);
    wd_buf_cleanup(&ekb);
    cfg.ek_allow = wd_calloc(1, sizeof(char *));
    cfg.ek_allow[0] = wd_strdup(hex);
    cfg.n_ek_allow = 1;
    char ca[512];
    (void)snprintf(ca, sizeof(ca), "%.250s/ca", dir);
    if (srv_config_finish(&cfg, dir) != WD_OK || srv_open(&cfg, ca, &S, &d) != WD_OK) {
        printf("open: %s\n", d.msg);
        return 1;
    }
    make_peer(&peer_anon, NULL);
    make_peer(&peer_admin, "spiffe://" TD "/warden/admin");
    make_peer(&peer_node, "spiffe://" TD "/warden/node/n1");
    make_peer(&peer_node2, "spiffe://" TD "/warden/node/n2");
    make_peer(&peer_tpm, "spiffe://" TD "/warden/node/t1");
    make_peer(&peer_wl, "spiffe://" TD "/web");
    make_peer(&peer_foreign, "spiffe://other.org/warden/admin");
    /* open the store handles the threads of group_commit use, so the pool does not grow
       inside a test (the harness would count the pooled handles as leaks) */
    struct wd_store *warm[16];
    for (size_t i = 0; i < 16; i++) {
        if (srv_store_get(S, &warm[i]) != WD_OK) {
            return 1;
        }
    }
    for (size_t i = 0; i < 16; i++) {
        srv_store_put(S, warm[i], false);
    }
    RUN(routing);
    RUN(authorisation);
    RUN(body_validation);
    RUN(join_token_flow);
    RUN(entries_and_svids);
    RUN(heartbeat_join_node);
    RUN(tpm_flow);
    RUN(group_commit);
    RUN(ip_fence);
    RUN(audit_reopen);
    RUN(der_serial);
    srv_close(S);
    srv_config_cleanup(&cfg);
    char parent[512];
    (void)snprintf(parent, sizeof(parent), "%.250s", dir);
    *strrchr(parent, '/') = '\0';
    srv_remove_tree(parent);
    return HARNESS_END("control_api");
}
