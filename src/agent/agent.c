/* The warden-agent runtime: identity, attestation, control loop, Workload API (agent.h). */
#include "agent.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/file.h"
#include "warden/log.h"
#include "warden/pki.h"
#include "warden/rand.h"
#include "warden/svid.h"

#include "cpjson.h"
#include "sched.h"
#include "sink.h"

#define STATE_PATH_MAX 4352
#define TOKEN_FILE_MAX 4096
#define BODY_MAX       (4u << 20)
#define REQ_MAX        ((size_t)256 * 1024) /* one request body */
#define SMALL_MAX      ((size_t)64 * 1024)  /* a CSR or a key in PEM */

/* ---- small helpers ---- */

static uint32_t rand32(void)
{
    uint32_t r = 0;
    if (wd_rand_bytes(&r, sizeof(r)) < 0) {
        r = (uint32_t)wd_time_mono_ms();
    }
    return r;
}

static void state_path(const struct agt_agent *a, const char *name, char out[STATE_PATH_MAX])
{
    (void)snprintf(out, STATE_PATH_MAX, "%s/%s", a->cfg->state_dir, name);
}

static int state_write(const struct agt_agent *a, const char *name, const void *p, size_t n,
                       struct wd_diag *diag)
{
    char path[STATE_PATH_MAX];
    state_path(a, name, path);
    return wd_file_write_atomic(path, p, n, 0600, diag);
}

static int state_read(const struct agt_agent *a, const char *name, struct wd_buf *out)
{
    char path[STATE_PATH_MAX];
    state_path(a, name, path);
    return wd_file_read(path, WD_PKI_FILE_MAX, out, NULL);
}

/* ---- node identity ---- */

static void identity_clear(struct agt_agent *a)
{
    EVP_PKEY_free(a->node_key);
    a->node_key = NULL;
    wd_certs_free(a->node_chain);
    a->node_chain = NULL;
    a->node_not_before = a->node_not_after = 0;
}

/*
 * Check a chain and key for the node identity: the key matches the leaf, the leaf is a
 * valid SVID of this node under the current bundle at now. fresh: just received (else
 * loaded from the state directory). On success takes ownership of both (into a); on
 * failure leaves them with the caller.
 */
static int identity_adopt(struct agt_agent *a, STACK_OF(X509) * chain, EVP_PKEY *key, bool fresh,
                          struct wd_diag *diag)
{
    int rc;
    STACK_OF(X509) *inter = NULL;
    struct wd_svid_info info;
    enum wd_svid_reason why = WD_SVID_VALID;
    X509 *leaf = sk_X509_num(chain) > 0 ? sk_X509_value(chain, 0) : NULL;
    if (leaf == NULL) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "node SVID: no certificate");
    }
    if (!wd_key_matches_cert(key, leaf)) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "node SVID: the certificate is not for the node key");
    }
    inter = sk_X509_new_null();
    if (inter == NULL) {
        return WD_ENOMEM;
    }
    for (int i = 1; i < sk_X509_num(chain); i++) {
        if (sk_X509_push(inter, sk_X509_value(chain, i)) <= 0) {
            rc = WD_ENOMEM;
            goto out;
        }
    }
    WD_CHECK(wd_svid_verify(a->bundle, leaf, inter, &info, &why, diag));
    if (!wd_spiffe_id_eq(&info.id, &a->node_id)) {
        rc = wd_diag_set(diag, WD_EDENIED, NULL, 0, 0, "node SVID: it names %s, not %s",
                         info.id.str, a->node_id.str);
        goto out;
    }
    identity_clear(a);
    a->node_chain = chain;
    a->node_key = key;
    a->node_not_before = info.not_before;
    a->node_not_after = info.not_after;
    /* Issuers backdate notBefore (clock skew): count the lifetime from when the SVID was
       received, so that a short TTL is not renewed at once. */
    int64_t start = fresh ? WD_MAX(info.not_before, wd_time_now()) : info.not_before;
    a->node_renew_at_ms = agt_renew_at(start * 1000, info.not_after * 1000, rand32());
    rc = WD_OK;
out:
    sk_X509_free(inter); /* the certificates stay in chain */
    return rc;
}

/* Load node.key + node.pem from the state directory; WD_ENOENT when absent or invalid. */
static int identity_load(struct agt_agent *a)
{
    char kp[STATE_PATH_MAX], cp[STATE_PATH_MAX];
    EVP_PKEY *key = NULL;
    STACK_OF(X509) *chain = NULL;
    struct wd_diag d;
    state_path(a, AGT_STATE_NODE_KEY, kp);
    state_path(a, AGT_STATE_NODE_CERT, cp);
    if (wd_key_load(kp, &key, &d) < 0 || wd_certs_load(cp, &chain, &d) < 0) {
        EVP_PKEY_free(key);
        wd_certs_free(chain);
        return WD_ENOENT;
    }
    int rc = identity_adopt(a, chain, key, false, &d);
    if (rc < 0) {
        wd_log(WD_LOG_NOTICE, "stored node SVID not usable (%s); attesting again", d.msg);
        EVP_PKEY_free(key);
        wd_certs_free(chain);
        return WD_ENOENT;
    }
    return WD_OK;
}

/* Replace the bundle with bundle_pem (trust domain must stay the same) and persist it. */
static int bundle_update(struct agt_agent *a, const char *bundle_pem, struct wd_diag *diag)
{
    struct wd_bundle *b = NULL;
    /* Every answer carries the bundle; parse and persist it only when it changed. */
    if (agt_store_bundle_is(&a->store, bundle_pem)) {
        return WD_OK;
    }
    WD_TRY(wd_bundle_parse("control plane bundle", bundle_pem, strlen(bundle_pem), &a->td, &b,
                           diag));
    wd_bundle_free(a->bundle);
    a->bundle = b;
    WD_TRY(agt_store_set_bundle(&a->store, bundle_pem));
    return state_write(a, AGT_STATE_BUNDLE, bundle_pem, strlen(bundle_pem), diag);
}

/* Build the mTLS context and client with the current node SVID. */
static int client_rebuild(struct agt_agent *a, struct wd_diag *diag)
{
    struct wd_tls_ctx *tls = NULL;
    STACK_OF(X509) *inter = NULL;
    int rc;
    inter = sk_X509_new_null();
    if (inter == NULL) {
        return WD_ENOMEM;
    }
    for (int i = 1; i < sk_X509_num(a->node_chain); i++) {
        if (sk_X509_push(inter, sk_X509_value(a->node_chain, i)) <= 0) {
            rc = WD_ENOMEM;
            goto out;
        }
    }
    struct wd_tls_config tc = {
            .role = WD_TLS_CLIENT,
            .cert = sk_X509_value(a->node_chain, 0),
            .chain = inter,
            .key = a->node_key,
            .bundle = a->bundle,
            .expect_peer_id = a->control_id.str,
    };
    WD_CHECK(wd_tls_ctx_new(&tc, &tls, diag));
    if (a->cli == NULL) {
        struct wd_http_client_config cc = {
                .url = a->cfg->control_url, .tls = tls, .max_body = BODY_MAX};
        WD_CHECK(wd_http_client_new(&cc, &a->cli, diag));
    } else {
        wd_http_client_set_tls(a->cli, tls);
    }
    wd_tls_ctx_unref(a->tls);
    a->tls = tls;
    tls = NULL;
    rc = WD_OK;
out:
    wd_tls_ctx_unref(tls);
    sk_X509_free(inter);
    return rc;
}

/* A client for the unauthenticated attestation calls (server-authenticated TLS only). */
static int anon_client(struct agt_agent *a, struct wd_http_client **out, struct wd_diag *diag)
{
    struct wd_tls_ctx *tls = NULL;
    struct wd_tls_config tc = {
            .role = WD_TLS_CLIENT, .bundle = a->bundle, .expect_peer_id = a->control_id.str};
    WD_TRY(wd_tls_ctx_new(&tc, &tls, diag));
    struct wd_http_client_config cc = {
            .url = a->cfg->control_url, .tls = tls, .max_body = BODY_MAX};
    int rc = wd_http_client_new(&cc, out, diag);
    wd_tls_ctx_unref(tls);
    return rc;
}

/*
 * One call to the control plane. WD_OK for a 2xx answer (in res). Otherwise logs the error
 * and returns WD_EIO (transport, 5xx), WD_EDENIED (403), WD_EEXPIRED (410) or WD_EPROTO (other
 * 4xx); reason (may be NULL, 64 bytes) gets the answer's reason token.
 */
static int call(struct wd_http_client *cli, const char *method, const char *path,
                const struct wd_buf *body, struct wd_http_result *res, char *reason)
{
    struct wd_diag d;
    if (reason != NULL) {
        reason[0] = '\0';
    }
    int rc = wd_http_client_request(cli, method, path, body != NULL ? "application/json" : NULL,
                                    body != NULL ? body->p : NULL, body != NULL ? body->len : 0,
                                    res, &d);
    if (rc < 0) {
        wd_log(WD_LOG_WARN, "control plane: %s %s: %s", method, path, d.msg);
        return rc == WD_ENOMEM ? WD_ENOMEM : WD_EIO;
    }
    if (res->status >= 200 && res->status < 300) {
        return WD_OK;
    }
    struct agt_error_resp er;
    if (agt_decode_error(res->body.p, res->body.len, &er) < 0) {
        (void)snprintf(er.error, sizeof(er.error), "?");
        er.reason[0] = '\0';
    }
    if (reason != NULL) {
        (void)snprintf(reason, 64, "%s", er.reason);
    }
    wd_log(WD_LOG_WARN, "control plane: %s %s: %d %s%s%s", method, path, res->status, er.error,
           er.reason[0] != '\0' ? " " : "", er.reason);
    if (res->status == 403) {
        return WD_EDENIED;
    }
    if (res->status == 410) {
        return WD_EEXPIRED;
    }
    if (res->status >= 400 && res->status < 500) {
        return WD_EPROTO;
    }
    return WD_EIO;
}

/* A fresh P-256 key and a CSR (PEM) for it. */
static int new_key_csr(const struct wd_spiffe_id *id, EVP_PKEY **key, struct wd_buf *csr,
                       struct wd_diag *diag)
{
    WD_TRY(wd_key_generate(key, diag));
    int rc = wd_csr_create(*key, id, false, csr, diag);
    if (rc < 0) {
        EVP_PKEY_free(*key);
        *key = NULL;
    }
    return rc;
}

/*
 * Install an identity answer for *key: parse and verify the chain, persist key, chain and
 * bundle, rebuild the mTLS client. Once the key is adopted *key is set to NULL (a owns it),
 * even if a later step fails.
 */
static int identity_install(struct agt_agent *a, const struct agt_identity_resp *r, EVP_PKEY **key,
                            struct wd_diag *diag)
{
    STACK_OF(X509) *chain = NULL;
    struct wd_buf kpem;
    int rc;
    wd_buf_init(&kpem, SMALL_MAX);
    WD_CHECK(bundle_update(a, r->bundle_pem, diag));
    WD_CHECK(wd_certs_parse("node SVID", r->svid_pem, strlen(r->svid_pem), &chain, diag));
    WD_CHECK(identity_adopt(a, chain, *key, true, diag));
    chain = NULL; /* owned by a now, and the key too */
    *key = NULL;
    WD_CHECK(wd_key_to_pem(a->node_key, &kpem));
    WD_CHECK(state_write(a, AGT_STATE_NODE_KEY, kpem.p, kpem.len, diag));
    WD_CHECK(state_write(a, AGT_STATE_NODE_CERT, r->svid_pem, strlen(r->svid_pem), diag));
    if (r->heartbeat_ms > 0 && a->cfg->heartbeat_ms == 0) {
        a->heartbeat_ms = r->heartbeat_ms;
    }
    WD_CHECK(client_rebuild(a, diag));
    char t[21];
    wd_log(WD_LOG_NOTICE, "node SVID %s valid until %s", a->node_id.str,
           wd_time_format(a->node_not_after, t));
    rc = WD_OK;
out:
    wd_certs_free(chain);
    wd_buf_cleanup_secret(&kpem);
    return rc;
}

/* ---- attestation ---- */

static int attest_join_token(struct agt_agent *a, struct wd_diag *diag)
{
    struct wd_http_client *cli = NULL;
    struct wd_http_result res;
    struct wd_buf tok, csr, body;
    struct agt_identity_resp ir;
    EVP_PKEY *key = NULL;
    int rc;
    memset(&res, 0, sizeof(res));
    memset(&ir, 0, sizeof(ir));
    wd_buf_init(&tok, TOKEN_FILE_MAX);
    wd_buf_init(&csr, SMALL_MAX);
    wd_buf_init(&body, REQ_MAX);
    wd_buf_init(&res.body, BODY_MAX);
    if (a->cfg->join_token != NULL) {
        WD_CHECK(wd_buf_append_str(&tok, a->cfg->join_token));
    } else {
        WD_CHECK(wd_file_read(a->cfg->join_token_file, TOKEN_FILE_MAX, &tok, diag));
        /* A token file usually ends with a newline. */
        while (tok.len > 0
               && (tok.p[tok.len - 1] == '\n' || tok.p[tok.len - 1] == '\r'
                   || tok.p[tok.len - 1] == ' ')) {
            tok.p[--tok.len] = '\0';
        }
        if (tok.len == 0) {
            rc = wd_diag_set(diag, WD_ECONFIG, a->cfg->join_token_file, 0, 0,
                             "the join token file is empty");
            goto out;
        }
    }
    WD_CHECK(new_key_csr(&a->node_id, &key, &csr, diag));
    struct agt_jw w;
    agt_jw_begin(&w, &body);
    agt_jw_str(&w, "node", a->cfg->node);
    agt_jw_str(&w, "token", wd_buf_str(&tok));
    agt_jw_str(&w, "csr", wd_buf_str(&csr));
    WD_CHECK(agt_jw_end(&w));
    WD_CHECK(anon_client(a, &cli, diag));
    char reason[64];
    rc = call(cli, "POST", "/v1/attest/join-token", &body, &res, reason);
    if (rc < 0) {
        rc = wd_diag_set(diag, rc, NULL, 0, 0, "join-token attestation failed%s%s",
                         reason[0] != '\0' ? ": " : "", reason);
        goto out;
    }
    if (agt_decode_identity(res.body.p, res.body.len, &ir) < 0) {
        rc = wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "join-token attestation: bad answer");
        goto out;
    }
    WD_CHECK(identity_install(a, &ir, &key, diag));
    wd_log(WD_LOG_NOTICE, "attested with a join token as %s", a->node_id.str);
    rc = WD_OK;
out:
    EVP_PKEY_free(key);
    agt_identity_resp_cleanup(&ir);
    wd_http_result_cleanup(&res);
    wd_http_client_free(cli);
    wd_buf_cleanup_secret(&tok);
    wd_buf_cleanup_secret(&body);
    wd_buf_cleanup(&csr);
    return rc;
}

/* Quote over nonce with the PCR selection text sel_text; appends the "quote" object to w. */
static int quote_into(struct agt_agent *a, const char *sel_text, struct wd_slice nonce,
                      struct agt_jw *w, struct wd_diag *diag)
{
    struct wd_tpm_pcr_selection sel;
    struct wd_buf att, sig, pcrs;
    int rc;
    wd_buf_init(&att, 4096);
    wd_buf_init(&sig, 4096);
    wd_buf_init(&pcrs, SMALL_MAX);
    WD_CHECK(wd_tpm_pcr_spec_parse(sel_text, &sel, diag));
    WD_CHECK(wd_tpm_dev_quote(a->tpm, &sel, nonce, &att, &sig, &pcrs, diag));
    agt_jw_open(w, "quote");
    agt_jw_b64(w, "attest", att.p, att.len);
    agt_jw_b64(w, "signature", sig.p, sig.len);
    agt_jw_b64(w, "pcr_values", pcrs.p, pcrs.len);
    agt_jw_close(w);
    rc = w->rc;
out:
    wd_buf_cleanup(&att);
    wd_buf_cleanup(&sig);
    wd_buf_cleanup(&pcrs);
    return rc;
}

static int attest_tpm(struct agt_agent *a, struct wd_diag *diag)
{
    struct wd_http_client *cli = NULL;
    struct wd_http_result res;
    struct wd_buf body, ak_priv, secret, csr;
    struct agt_begin_resp br;
    struct agt_identity_resp ir;
    EVP_PKEY *key = NULL;
    char reason[64];
    int rc;
    memset(&res, 0, sizeof(res));
    memset(&br, 0, sizeof(br));
    memset(&ir, 0, sizeof(ir));
    wd_buf_init(&res.body, BODY_MAX);
    wd_buf_init(&body, REQ_MAX);
    wd_buf_init(&ak_priv, 8192);
    wd_buf_init(&secret, 1024);
    wd_buf_init(&csr, SMALL_MAX);

    if (!a->ak_loaded) {
        wd_buf_reset(&a->ak_public);
        WD_CHECK(wd_tpm_dev_ak_create(a->tpm, &a->ak_public, &ak_priv, diag));
        WD_CHECK(state_write(a, AGT_STATE_AK_PUB, a->ak_public.p, a->ak_public.len, diag));
        WD_CHECK(state_write(a, AGT_STATE_AK_PRIV, ak_priv.p, ak_priv.len, diag));
        a->ak_loaded = true;
    }
    struct agt_jw w;
    agt_jw_begin(&w, &body);
    agt_jw_str(&w, "node", a->cfg->node);
    agt_jw_b64(&w, "ek_public", a->ek_public.p, a->ek_public.len);
    if (a->ek_cert.len > 0) {
        agt_jw_b64(&w, "ek_cert", a->ek_cert.p, a->ek_cert.len);
    }
    agt_jw_b64(&w, "ak_public", a->ak_public.p, a->ak_public.len);
    WD_CHECK(agt_jw_end(&w));
    WD_CHECK(anon_client(a, &cli, diag));
    rc = call(cli, "POST", "/v1/attest/tpm/begin", &body, &res, reason);
    if (rc < 0) {
        rc = wd_diag_set(diag, rc, NULL, 0, 0, "TPM attestation (begin) failed%s%s",
                         reason[0] != '\0' ? ": " : "", reason);
        goto out;
    }
    if (agt_decode_begin(res.body.p, res.body.len, &br) < 0) {
        rc = wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "TPM attestation (begin): bad answer");
        goto out;
    }
    WD_CHECK(wd_tpm_dev_activate(a->tpm, wd_buf_slice(&br.credential_blob),
                                 wd_buf_slice(&br.encrypted_secret), &secret, diag));
    WD_CHECK(new_key_csr(&a->node_id, &key, &csr, diag));
    wd_buf_reset(&body);
    agt_jw_begin(&w, &body);
    agt_jw_str(&w, "session", br.session);
    agt_jw_b64(&w, "secret", secret.p, secret.len);
    WD_CHECK(w.rc);
    WD_CHECK(quote_into(a, br.pcr_selection, wd_buf_slice(&br.nonce), &w, diag));
    agt_jw_str(&w, "csr", wd_buf_str(&csr));
    WD_CHECK(agt_jw_end(&w));
    rc = call(cli, "POST", "/v1/attest/tpm/finish", &body, &res, reason);
    if (rc < 0) {
        rc = wd_diag_set(diag, rc, NULL, 0, 0, "TPM attestation (finish) failed%s%s",
                         reason[0] != '\0' ? ": " : "", reason);
        goto out;
    }
    if (agt_decode_identity(res.body.p, res.body.len, &ir) < 0) {
        rc = wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "TPM attestation (finish): bad answer");
        goto out;
    }
    WD_CHECK(identity_install(a, &ir, &key, diag));
    wd_log(WD_LOG_NOTICE, "attested with the TPM as %s", a->node_id.str);
    rc = WD_OK;
out:
    EVP_PKEY_free(key);
    agt_identity_resp_cleanup(&ir);
    agt_begin_resp_cleanup(&br);
    wd_http_result_cleanup(&res);
    wd_http_client_free(cli);
    wd_buf_cleanup_secret(&body);
    wd_buf_cleanup_secret(&ak_priv);
    wd_buf_cleanup_secret(&secret);
    wd_buf_cleanup(&csr);
    return rc;
}

static int attest(struct agt_agent *a, struct wd_diag *diag)
{
    if (a->cfg->attest == AGT_ATTEST_TPM) {
        return attest_tpm(a, diag);
    }
    return attest_join_token(a, diag);
}

/* ---- init ---- */

int agt_agent_init(struct agt_agent *a, const struct agt_config *cfg, struct wd_diag *diag)
{
    int rc;
    memset(a, 0, sizeof(*a));
    a->cfg = cfg;
    wd_buf_init(&a->ek_public, 4096);
    wd_buf_init(&a->ek_cert, WD_TPM_DEV_CERT_MAX);
    wd_buf_init(&a->ak_public, 4096);
    a->heartbeat_ms = cfg->heartbeat_ms > 0 ? cfg->heartbeat_ms : AGT_HEARTBEAT_DEFAULT_MS;
    WD_TRY(agt_store_init(&a->store));
    WD_TRY(agt_wapi_init(&a->wapi, &a->store, cfg->watch_max_ms));

    WD_TRY(wd_file_mkdir(cfg->state_dir, 0700, diag));
    if (chmod(cfg->state_dir, 0700) == -1) {
        return wd_diag_set(diag, WD_EIO, cfg->state_dir, 0, 0, "chmod: %s", strerror(errno));
    }
    WD_TRY(wd_bundle_load(cfg->trust_bundle, NULL, &a->bundle, diag));
    const struct wd_spiffe_td *td = wd_bundle_trust_domain(a->bundle);
    if (td == NULL) {
        return wd_diag_set(diag, WD_ECONFIG, cfg->trust_bundle, 0, 0,
                           "the trust bundle does not name its trust domain (no spiffe:// URI "
                           "SAN in its authorities)");
    }
    a->td = *td;
    char path[300];
    (void)snprintf(path, sizeof(path), "/warden/node/%s", cfg->node);
    WD_TRY(wd_spiffe_id_make(&a->td, path, &a->node_id, NULL, diag));
    WD_TRY(wd_spiffe_id_make(&a->td, "/warden/control", &a->control_id, NULL, diag));

    /* A bundle received from the control plane earlier is newer than the bootstrap one. */
    struct wd_buf b;
    wd_buf_init(&b, WD_PKI_FILE_MAX);
    if (state_read(a, AGT_STATE_BUNDLE, &b) == WD_OK) {
        struct wd_bundle *nb = NULL;
        struct wd_diag d;
        if (wd_bundle_parse(AGT_STATE_BUNDLE, b.p, b.len, &a->td, &nb, &d) == WD_OK) {
            wd_bundle_free(a->bundle);
            a->bundle = nb;
            rc = agt_store_set_bundle(&a->store, wd_buf_str(&b));
            if (rc < 0) {
                wd_buf_cleanup(&b);
                return rc;
            }
        } else {
            wd_log(WD_LOG_WARN, "state: %s; using the configured trust bundle", d.msg);
        }
    }
    wd_buf_cleanup(&b);
    if (identity_load(a) == WD_OK) {
        char t[21];
        wd_log(WD_LOG_INFO, "state: node SVID %s valid until %s", a->node_id.str,
               wd_time_format(a->node_not_after, t));
    }

    if (cfg->attest == AGT_ATTEST_TPM) {
        WD_TRY(wd_tpm_dev_open(cfg->tcti, &a->tpm, diag));
        WD_TRY(wd_tpm_dev_ek(a->tpm, cfg->ek_ecc, &a->ek_public, &a->ek_cert, diag));
        struct wd_buf priv;
        wd_buf_init(&priv, 8192);
        if (state_read(a, AGT_STATE_AK_PUB, &a->ak_public) == WD_OK
            && state_read(a, AGT_STATE_AK_PRIV, &priv) == WD_OK) {
            struct wd_diag d;
            if (wd_tpm_dev_ak_load(a->tpm, wd_buf_slice(&a->ak_public), wd_buf_slice(&priv), &d)
                == WD_OK) {
                a->ak_loaded = true;
            } else {
                wd_log(WD_LOG_WARN, "state: stored AK not loadable (%s); enrolling again", d.msg);
            }
        }
        wd_buf_cleanup_secret(&priv);
        if (!a->ak_loaded) {
            wd_buf_reset(&a->ak_public);
            /* The control plane knows the old AK: a node SVID without it is no use. */
            identity_clear(a);
        }
    }
    return WD_OK;
}

void agt_agent_cleanup(struct agt_agent *a)
{
    if (a == NULL) {
        return;
    }
    agt_store_stop(&a->store);
    wd_http_server_stop(a->wapi_srv);
    a->wapi_srv = NULL;
    wd_http_client_free(a->cli);
    wd_tls_ctx_unref(a->tls);
    wd_tpm_dev_close(a->tpm);
    identity_clear(a);
    wd_bundle_free(a->bundle);
    wd_buf_cleanup(&a->ek_public);
    wd_buf_cleanup(&a->ek_cert);
    wd_buf_cleanup(&a->ak_public);
    agt_wapi_cleanup(&a->wapi);
    agt_store_cleanup(&a->store);
    memset(a, 0, sizeof(*a));
}

/* ---- the control loop ---- */

static int heartbeat(struct agt_agent *a)
{
    struct wd_http_result res;
    struct wd_buf body;
    struct agt_challenge_resp cr;
    struct agt_heartbeat_resp hr;
    struct wd_diag d;
    char reason[64];
    int rc;
    memset(&res, 0, sizeof(res));
    memset(&cr, 0, sizeof(cr));
    wd_buf_init(&res.body, BODY_MAX);
    wd_buf_init(&body, REQ_MAX);
    WD_CHECK(wd_buf_append_str(&body, "{}"));
    WD_CHECK(call(a->cli, "POST", "/v1/node/challenge", &body, &res, reason));
    if (agt_decode_challenge(res.body.p, res.body.len, &cr) < 0) {
        wd_log(WD_LOG_WARN, "heartbeat: malformed challenge answer");
        rc = WD_EPROTO;
        goto out;
    }
    wd_buf_reset(&body);
    struct agt_jw w;
    agt_jw_begin(&w, &body);
    agt_jw_str(&w, "session", cr.session);
    WD_CHECK(w.rc);
    if (cr.has_nonce) {
        if (a->tpm == NULL) {
            wd_log(WD_LOG_ERR, "heartbeat: the control plane asks for a quote; no TPM is "
                               "configured");
            rc = WD_ECONFIG;
            goto out;
        }
        rc = quote_into(a, cr.pcr_selection, wd_buf_slice(&cr.nonce), &w, &d);
        if (rc < 0) {
            wd_log(WD_LOG_ERR, "heartbeat: quote: %s", d.msg);
            goto out;
        }
    }
    WD_CHECK(agt_jw_end(&w));
    WD_CHECK(call(a->cli, "POST", "/v1/node/heartbeat", &body, &res, reason));
    if (agt_decode_heartbeat(res.body.p, res.body.len, &hr) < 0) {
        wd_log(WD_LOG_WARN, "heartbeat: malformed answer");
        rc = WD_EPROTO;
        goto out;
    }
    if (!hr.trusted) {
        wd_log(WD_LOG_WARN, "heartbeat: the control plane does not trust this node");
    }
    if (hr.heartbeat_ms > 0 && a->cfg->heartbeat_ms == 0) {
        a->heartbeat_ms = hr.heartbeat_ms;
    }
    wd_log(WD_LOG_DEBUG, "heartbeat ok");
    rc = WD_OK;
out:
    agt_challenge_resp_cleanup(&cr);
    wd_http_result_cleanup(&res);
    wd_buf_cleanup(&body);
    return rc;
}

static int renew_node(struct agt_agent *a)
{
    struct wd_http_result res;
    struct wd_buf body, csr;
    struct agt_identity_resp ir;
    EVP_PKEY *key = NULL;
    struct wd_diag d;
    int rc;
    memset(&res, 0, sizeof(res));
    memset(&ir, 0, sizeof(ir));
    wd_buf_init(&res.body, BODY_MAX);
    wd_buf_init(&body, REQ_MAX);
    wd_buf_init(&csr, SMALL_MAX);
    rc = new_key_csr(&a->node_id, &key, &csr, &d);
    if (rc < 0) {
        wd_log(WD_LOG_ERR, "node renewal: %s", d.msg);
        goto out;
    }
    struct agt_jw w;
    agt_jw_begin(&w, &body);
    agt_jw_str(&w, "csr", wd_buf_str(&csr));
    WD_CHECK(agt_jw_end(&w));
    WD_CHECK(call(a->cli, "POST", "/v1/node/renew", &body, &res, NULL));
    if (agt_decode_identity(res.body.p, res.body.len, &ir) < 0) {
        wd_log(WD_LOG_WARN, "node renewal: malformed answer");
        rc = WD_EPROTO;
        goto out;
    }
    rc = identity_install(a, &ir, &key, &d);
    if (rc < 0) {
        wd_log(WD_LOG_ERR, "node renewal: %s", d.msg);
        goto out;
    }
out:
    EVP_PKEY_free(key);
    agt_identity_resp_cleanup(&ir);
    wd_http_result_cleanup(&res);
    wd_buf_cleanup(&body);
    wd_buf_cleanup(&csr);
    return rc;
}

static int refresh_entries(struct agt_agent *a)
{
    struct wd_http_result res;
    struct agt_entries e;
    int rc;
    memset(&res, 0, sizeof(res));
    memset(&e, 0, sizeof(e));
    wd_buf_init(&res.body, BODY_MAX);
    WD_CHECK(call(a->cli, "GET", "/v1/node/entries", NULL, &res, NULL));
    if (agt_decode_entries(res.body.p, res.body.len, &e) < 0) {
        wd_log(WD_LOG_WARN, "entries: malformed answer");
        rc = WD_EPROTO;
        goto out;
    }
    WD_CHECK(agt_store_set_entries(&a->store, &e));
    if (!a->entries_loaded) {
        wd_log(WD_LOG_INFO, "%zu registration entries for this node", e.n);
    }
    a->entries_loaded = true;
    rc = WD_OK;
out:
    agt_entries_cleanup(&e);
    wd_http_result_cleanup(&res);
    return rc;
}

/* Write the SVID of entry id to every sink configured for spiffe_id, and run its reload. */
static void run_sinks(struct agt_agent *a, const char *id, const struct wd_spiffe_id *spiffe_id)
{
    for (size_t i = 0; i < a->cfg->n_sinks; i++) {
        const struct agt_sink *s = &a->cfg->sinks[i];
        if (!wd_spiffe_id_eq(&s->id, spiffe_id)) {
            continue;
        }
        char *chain = NULL, *key = NULL, *bundle = NULL;
        struct wd_diag d;
        if (agt_store_get_svid(&a->store, id, &chain, &key, &bundle) < 0) {
            continue;
        }
        if (agt_sink_write(s, chain, key, bundle, &d) < 0) {
            wd_log(WD_LOG_ERR, "sink %s: %s", s->id.str, d.msg);
        } else {
            wd_log(WD_LOG_INFO, "sink %s: wrote %s/%s", s->id.str, s->dir, s->cert);
            if (s->reload_argv != NULL
                && agt_run_command(s->reload_argv, s->reload_timeout_ms, NULL, &d) < 0) {
                wd_log(WD_LOG_WARN, "sink %s: reload: %s", s->id.str, d.msg);
            }
        }
        wd_free(chain);
        wd_free_secret(key, strlen(key));
        wd_free(bundle);
    }
}

struct pending {
    char id[AGT_ENTRY_ID_LEN + 1];
    EVP_PKEY *key;
};

/* Install one issued SVID; WD_OK or an error (the entry then backs off). */
static int accept_svid(struct agt_agent *a, const struct agt_svid_item *it, EVP_PKEY *key)
{
    STACK_OF(X509) *chain = NULL;
    struct wd_buf kpem;
    struct wd_diag d;
    struct wd_spiffe_id sid;
    int64_t nb = 0, na = 0;
    int rc;
    wd_buf_init(&kpem, SMALL_MAX);
    rc = wd_certs_parse("workload SVID", it->svid_pem, strlen(it->svid_pem), &chain, &d);
    if (rc < 0) {
        wd_log(WD_LOG_WARN, "svid %s: %s", it->entry_id, d.msg);
        goto out;
    }
    X509 *leaf = sk_X509_value(chain, 0);
    if (!wd_key_matches_cert(key, leaf) || wd_cert_spiffe_id(leaf, &sid, NULL, &d) < 0
        || !wd_spiffe_id_eq(&sid, &it->spiffe_id) || wd_cert_not_before(leaf, &nb) < 0
        || wd_cert_not_after(leaf, &na) < 0) {
        wd_log(WD_LOG_WARN, "svid %s: the certificate does not match the request", it->entry_id);
        rc = WD_EPROTO;
        goto out;
    }
    WD_CHECK(wd_key_to_pem(key, &kpem));
    /* notBefore is backdated by the issuer: half the TTL counts from receipt. */
    int64_t renew = agt_renew_at(WD_MAX(nb, wd_time_now()) * 1000, na * 1000, rand32());
    rc = agt_store_put_svid(&a->store, it->entry_id, it->svid_pem, wd_buf_str(&kpem), nb, na,
                            renew);
    if (rc < 0) {
        goto out;
    }
    char t[21];
    wd_log(WD_LOG_INFO, "svid %s for %s valid until %s", it->entry_id, it->spiffe_id.str,
           wd_time_format(na, t));
    run_sinks(a, it->entry_id, &it->spiffe_id);
out:
    wd_certs_free(chain);
    wd_buf_cleanup_secret(&kpem);
    return rc;
}

/* Request SVIDs for every due entry (one batch of at most AGT_BATCH_MAX). */
static void sync_svids(struct agt_agent *a)
{
    char(*ids)[AGT_ENTRY_ID_LEN + 1] = NULL;
    struct pending *pend = NULL;
    struct wd_http_result res;
    struct agt_svids_resp sr;
    struct wd_buf body, csr;
    struct wd_diag d;
    size_t n = 0;
    int rc;
    memset(&res, 0, sizeof(res));
    memset(&sr, 0, sizeof(sr));
    wd_buf_init(&res.body, BODY_MAX);
    wd_buf_init(&body, BODY_MAX);
    wd_buf_init(&csr, SMALL_MAX);
    int64_t now = wd_time_now_ms();
    ids = wd_calloc(AGT_BATCH_MAX, sizeof(*ids));
    pend = wd_calloc(AGT_BATCH_MAX, sizeof(*pend));
    if (ids == NULL || pend == NULL) {
        goto out;
    }
    n = agt_store_due(&a->store, now, ids, NULL, AGT_BATCH_MAX);
    if (n == 0) {
        goto out;
    }
    WD_CHECK(wd_buf_append_str(&body, "{\"requests\":["));
    for (size_t i = 0; i < n; i++) {
        memcpy(pend[i].id, ids[i], sizeof(pend[i].id));
        wd_buf_reset(&csr);
        rc = new_key_csr(NULL, &pend[i].key, &csr, &d);
        if (rc < 0) {
            wd_log(WD_LOG_ERR, "svid: %s", d.msg);
            goto out;
        }
        WD_CHECK(wd_buf_printf(&body, "%s{\"entry_id\":\"%s\",\"csr\":", i > 0 ? "," : "",
                               pend[i].id));
        WD_CHECK(wd_json_append_string(&body, wd_buf_str(&csr), csr.len));
        WD_CHECK(wd_buf_append_byte(&body, '}'));
    }
    WD_CHECK(wd_buf_append_str(&body, "]}"));
    WD_CHECK(call(a->cli, "POST", "/v1/node/svids", &body, &res, NULL));
    if (agt_decode_svids(res.body.p, res.body.len, &sr) < 0) {
        wd_log(WD_LOG_WARN, "svids: malformed answer");
        rc = WD_EPROTO;
        goto out;
    }
    rc = bundle_update(a, sr.bundle_pem, &d);
    if (rc < 0) {
        wd_log(WD_LOG_WARN, "svids: bundle: %s", d.msg);
    }
    for (size_t k = 0; k < sr.n; k++) {
        for (size_t i = 0; i < n; i++) {
            if (pend[i].key != NULL && strcmp(pend[i].id, sr.v[k].entry_id) == 0) {
                if (accept_svid(a, &sr.v[k], pend[i].key) == WD_OK) {
                    pend[i].id[0] = '\0'; /* done */
                }
                break;
            }
        }
    }
    rc = WD_OK;
out:
    /* Every due entry that did not get an SVID waits, with exponential backoff. */
    for (size_t i = 0; pend != NULL && i < n; i++) {
        if (pend[i].id[0] != '\0') {
            unsigned att = agt_store_attempts(&a->store, pend[i].id);
            int64_t delay = agt_backoff_ms(att, AGT_BACKOFF_BASE_MS, AGT_BACKOFF_CAP_MS, rand32());
            agt_store_failed(&a->store, pend[i].id, now + delay);
        }
        EVP_PKEY_free(pend[i].key);
    }
    (void)rc;
    agt_svids_resp_cleanup(&sr);
    wd_http_result_cleanup(&res);
    wd_buf_cleanup(&body);
    wd_buf_cleanup(&csr);
    wd_free(ids);
    wd_free(pend);
}

/* Sleep until the wall-clock time until_ms, at most 250 ms at a time, or until *stop. */
static void nap(volatile sig_atomic_t *stop, int64_t until_ms)
{
    while (!*stop) {
        int64_t left = until_ms - wd_time_now_ms();
        if (left <= 0) {
            return;
        }
        int64_t step = WD_MIN(left, 250);
        struct timespec ts = {(time_t)(step / 1000), (long)(step % 1000) * 1000000L};
        (void)nanosleep(&ts, NULL);
    }
}

int agt_agent_run(struct agt_agent *a, volatile sig_atomic_t *stop, struct wd_diag *diag)
{
    unsigned attest_failures = 0;
    /* 1. A node identity: from the state directory, or by attesting (retried). */
    while (a->node_key == NULL && !*stop) {
        int rc = attest(a, diag);
        if (rc == WD_OK) {
            break;
        }
        /* A refused join token will not become acceptable by retrying. */
        if (a->cfg->attest == AGT_ATTEST_JOIN_TOKEN
            && (rc == WD_EDENIED || rc == WD_EEXPIRED || rc == WD_EPROTO || rc == WD_ECONFIG)) {
            return rc;
        }
        if (rc == WD_ECONFIG || rc == WD_EINVAL) {
            return rc;
        }
        int64_t delay = agt_backoff_ms(attest_failures++, AGT_BACKOFF_BASE_MS, AGT_BACKOFF_CAP_MS,
                                       rand32());
        wd_log(WD_LOG_WARN, "%s; retrying in %lld ms", diag->msg, (long long)delay);
        nap(stop, wd_time_now_ms() + delay);
    }
    if (*stop) {
        return WD_OK;
    }
    if (a->cli == NULL) {
        WD_TRY(client_rebuild(a, diag));
    }

    /* 2. The Workload API. */
    /* The socket's directory (e.g. /run/warden) may not exist after a reboot. */
    char sdir[WD_NET_ADDR_MAX + 8];
    (void)snprintf(sdir, sizeof(sdir), "%s", a->cfg->socket_path);
    char *slash = strrchr(sdir, '/');
    if (slash != NULL && slash != sdir) {
        *slash = '\0';
        WD_TRY(wd_file_mkdir(sdir, 0755, diag));
    }
    char listen[WD_NET_ADDR_MAX + 8];
    (void)snprintf(listen, sizeof(listen), "unix:%s", a->cfg->socket_path);
    struct wd_http_server_config sc = {
            .listen = listen,
            .handler = agt_wapi_handle,
            .handler_arg = &a->wapi,
            .unix_mode = a->cfg->socket_mode,
    };
    WD_TRY(wd_http_server_start(&sc, &a->wapi_srv, diag));
    wd_log(WD_LOG_NOTICE, "workload api on %s", a->cfg->socket_path);

    /* 3. The loop. */
    int64_t now = wd_time_now_ms();
    a->hb_due_ms = now;
    a->entries_due_ms = now;
    while (!*stop) {
        now = wd_time_now_ms();
        if (now >= a->hb_due_ms) {
            if (heartbeat(a) == WD_OK) {
                a->hb_failures = 0;
                a->hb_due_ms = now + a->heartbeat_ms;
            } else {
                int64_t d = agt_backoff_ms(a->hb_failures++, AGT_BACKOFF_BASE_MS,
                                           WD_MIN(AGT_BACKOFF_CAP_MS, a->heartbeat_ms), rand32());
                a->hb_due_ms = now + d;
            }
        }
        if (now >= a->node_renew_at_ms) {
            if (now >= a->node_not_after * 1000 && a->cfg->attest == AGT_ATTEST_TPM) {
                struct wd_diag d;
                if (attest(a, &d) < 0) {
                    wd_log(WD_LOG_ERR, "node SVID expired; re-attestation failed: %s", d.msg);
                    a->node_renew_at_ms = now
                                          + agt_backoff_ms(a->renew_failures++, AGT_BACKOFF_BASE_MS,
                                                           AGT_BACKOFF_CAP_MS, rand32());
                } else {
                    a->renew_failures = 0;
                }
            } else if (renew_node(a) == WD_OK) {
                a->renew_failures = 0;
            } else {
                if (now >= a->node_not_after * 1000) {
                    wd_log(WD_LOG_ERR, "node SVID expired; %s",
                           a->cfg->attest == AGT_ATTEST_TPM ? "re-attesting"
                                                            : "a new join token "
                                                              "is needed");
                }
                a->node_renew_at_ms = now
                                      + agt_backoff_ms(a->renew_failures++, AGT_BACKOFF_BASE_MS,
                                                       AGT_BACKOFF_CAP_MS, rand32());
            }
        }
        if (now >= a->entries_due_ms) {
            if (refresh_entries(a) == WD_OK) {
                a->entries_failures = 0;
                a->entries_due_ms = now + a->heartbeat_ms;
            } else {
                a->entries_due_ms = now
                                    + agt_backoff_ms(a->entries_failures++, AGT_BACKOFF_BASE_MS,
                                                     AGT_BACKOFF_CAP_MS, rand32());
            }
        }
        if (a->entries_loaded) {
            sync_svids(a);
        }
        int64_t next = WD_MIN(a->hb_due_ms, a->entries_due_ms);
        next = WD_MIN(next, a->node_renew_at_ms);
        next = WD_MIN(next, agt_store_next_due(&a->store));
        /* Wake at least every few seconds so entry changes and stops are seen promptly. */
        now = wd_time_now_ms();
        next = WD_MIN(next, now + 5000);
        next = WD_MAX(next, now + 50);
        nap(stop, next);
    }
    wd_log(WD_LOG_NOTICE, "stopping");
    return WD_OK;
}
