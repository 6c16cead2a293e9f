/*
 * Node attestation (TPM 2.0 begin/finish, join token) and the node calls (challenge,
 * heartbeat, renew), exactly as docs/api.md orders the checks. Every refusal is answered
 * with its reason token and audited (srv_rq_refuse).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "warden/alloc.h"
#include "warden/cidr.h"
#include "warden/clock.h"
#include "warden/codec.h"
#include "warden/log.h"
#include "warden/rand.h"
#include "warden/tpm.h"
#include "warden/tpm_dev.h"

#include "api_int.h"
#include "csr.h"

/* Session state kinds (first byte of the session's opaque state). */
enum {
    ST_TPM_ENROL = 1,     /* begin: SHA-256(secret) || EK hash || AK TPM2B_PUBLIC */
    ST_TPM_CHALLENGE = 2, /* challenge of a TPM node */
    ST_JOIN_CHALLENGE = 3 /* challenge of a join-token node */
};

#define NONCE_LEN  32
#define SECRET_LEN 32

/* The API's reason token for a TPM verification reason. */
static const char *tpm_reason(enum wd_tpm_reason r)
{
    switch (r) {
    case WD_TPM_R_SIG_NOT_ALLOWED:
        return "sig-not-allowed";
    case WD_TPM_R_SIG_MISMATCH:
        return "sig-mismatch";
    case WD_TPM_R_SIG_INVALID:
        return "sig-invalid";
    case WD_TPM_R_NONCE:
        return "nonce";
    case WD_TPM_R_PCR_VALUES:
        return "pcr-values";
    case WD_TPM_R_PCR_DIGEST:
        return "pcr-digest";
    case WD_TPM_R_PCR_MISSING:
        return "pcr-missing";
    case WD_TPM_R_PCR_UNLISTED:
        return "pcr-unlisted";
    case WD_TPM_R_PCR_VALUE:
        return "pcr-value";
    case WD_TPM_R_RESET_BACKWARDS:
        return "reset-backwards";
    case WD_TPM_R_RESTART_BACKWARDS:
        return "restart-backwards";
    case WD_TPM_R_CLOCK_BACKWARDS:
        return "clock-backwards";
    case WD_TPM_R_EK_ATTRIBUTES:
        return "ek-attributes";
    case WD_TPM_R_AK_ATTRIBUTES:
        return "ak-attributes";
    case WD_TPM_R_EK_CERT:
        return "ek-cert";
    case WD_TPM_R_EK_CHAIN:
        return "ek-chain";
    case WD_TPM_R_EK_KEY_MISMATCH:
        return "ek-key-mismatch";
    case WD_TPM_R_EK_NOT_ALLOWED:
        return "ek-not-allowed";
    default:
        return "quote-malformed";
    }
}

/* ---- helpers ---- */

static bool ip_fenced_out(struct srv_rq *q)
{
    const struct srv_config *c = &q->s->cfg;
    if (c->n_ip_fence == 0) {
        return false;
    }
    struct wd_ip ip;
    const char *a = q->req->peer != NULL ? q->req->peer->addr : "";
    if (wd_ip_parse(a, strlen(a), &ip) != WD_OK) {
        return true;
    }
    return !wd_cidr_set_contains(c->ip_fence, c->n_ip_fence, &ip);
}

static int b64_kv(struct wd_buf *b, const char *key, const void *p, size_t n)
{
    WD_TRY(wd_buf_printf(b, ",\"%s\":\"", key));
    WD_TRY(wd_b64_encode(b, p, n, WD_B64_STD));
    return wd_buf_append_byte(b, '"');
}

static int pcr_sel_text(const struct srv *s, struct wd_buf *out)
{
    return wd_tpm_pcr_spec_format(&s->cfg.pcr_sel, out);
}

/*
 * Trust-on-first-use PCR values, kept in the node's pcr_policy text:
 * "tofu:" then "HHHH:P=<hex>" items joined by ',' (HHHH the bank's TPM_ALG_ID in hex).
 */
static int tofu_make(const struct wd_tpm_attest *a, struct wd_slice vals, struct wd_buf *out)
{
    WD_TRY(wd_buf_append_str(out, "tofu:"));
    size_t off = 0;
    bool first = true;
    for (uint32_t b = 0; b < a->pcr_select.count; b++) {
        const struct wd_tpm_pcr_bank *bk = &a->pcr_select.banks[b];
        size_t dl = wd_tpm_hash_size(bk->hash);
        for (unsigned p = 0; p < WD_TPM_PCR_MAX; p++) {
            if (!wd_tpm_pcr_selected(bk, p)) {
                continue;
            }
            WD_ENSURE(off + dl <= vals.len, WD_EPROTO);
            WD_TRY(wd_buf_printf(out, "%s%04x:%u=", first ? "" : ",", bk->hash, p));
            WD_TRY(wd_hex_encode(out, vals.p + off, dl));
            off += dl;
            first = false;
        }
    }
    return WD_OK;
}

/* Parse tofu text into rules (values in vals; rules borrow vals, which must not grow). */
static int tofu_parse(const char *t, struct wd_tpm_pcr_rule *rules, size_t max, size_t *n,
                      struct wd_buf *vals)
{
    WD_ENSURE(strncmp(t, "tofu:", 5) == 0, WD_EPROTO);
    t += 5;
    size_t k = 0;
    size_t offs[WD_TPM_PCR_MAX * WD_TPM_PCR_BANKS_MAX];
    while (*t != '\0') {
        unsigned hash = 0, pcr = 0;
        int used = 0;
        WD_ENSURE(k < max && k < WD_ARRAY_LEN(offs), WD_EPROTO);
        WD_ENSURE(sscanf(t, "%4x:%u=%n", &hash, &pcr, &used) == 2 && used > 0, WD_EPROTO);
        t += used;
        const char *end = strchr(t, ',');
        size_t hl = end != NULL ? (size_t)(end - t) : strlen(t);
        size_t dl = wd_tpm_hash_size((uint16_t)hash);
        WD_ENSURE(dl != 0 && hl == 2 * dl && pcr < WD_TPM_PCR_MAX, WD_EPROTO);
        offs[k] = vals->len;
        WD_TRY(wd_hex_decode(vals, t, hl));
        rules[k].hash = (uint16_t)hash;
        rules[k].pcr = (uint8_t)pcr;
        rules[k].n_values = 1;
        k++;
        t += hl;
        if (*t == ',') {
            t++;
        }
    }
    for (size_t i = 0; i < k; i++) {
        rules[i].values = vals->p + offs[i];
    }
    *n = k;
    return WD_OK;
}

/*
 * Verify the body's quote against ak for nonce, with the PCR rules of the configuration or
 * (when it lists none) the node's trust-on-first-use values, and the node's last counters.
 * On failure *reason is the API token and the return is not WD_OK (WD_EDENIED for a refusal,
 * WD_ENOMEM / WD_ETLS for local failures).
 */
static int verify_quote(struct srv_rq *q, const struct srv_body *b, const struct wd_tpm_public *ak,
                        EVP_PKEY *ak_key, const uint8_t *nonce, size_t nonce_len,
                        const struct wd_store_node *node, struct wd_tpm_attest *att,
                        const char **reason)
{
    const struct srv_config *c = &q->s->cfg;
    struct wd_tpm_pcr_rule tofu[WD_TPM_PCR_MAX * WD_TPM_PCR_BANKS_MAX];
    struct wd_buf vals;
    wd_buf_init(&vals, (size_t)64 * 1024);
    struct wd_tpm_pcr_policy pol = {c->pcr_rules, c->n_pcr_rules, false};
    int rc = WD_OK;
    if (!b->has_quote) {
        *reason = "quote-missing";
        rc = WD_EDENIED;
        goto out;
    }
    /* reserve once so rules never see the buffer move */
    WD_CHECK(wd_buf_reserve(&vals, (size_t)32 * 1024));
    if (c->n_pcr_rules == 0 && node != NULL && node->pcr_policy != NULL) {
        size_t n = 0;
        if (tofu_parse(node->pcr_policy, tofu, WD_ARRAY_LEN(tofu), &n, &vals) != WD_OK) {
            wd_log(WD_LOG_ERR, "node %s: stored PCR policy unreadable", node->name);
            *reason = "internal";
            rc = WD_EDENIED;
            goto out;
        }
        pol.rules = tofu;
        pol.n_rules = n;
    }
    struct wd_tpm_clock prev;
    bool has_prev = node != NULL
                    && (node->clock != 0 || node->reset_count != 0 || node->restart_count != 0);
    if (has_prev) {
        prev.clock = node->clock;
        prev.reset_count = node->reset_count;
        prev.restart_count = node->restart_count;
        prev.safe = true;
    }
    struct wd_tpm_quote_check chk = {
            ak_key, ak, 0, 0, {nonce, nonce_len}, &pol, has_prev ? &prev : NULL};
    enum wd_tpm_reason why = WD_TPM_OK;
    rc = wd_tpm_quote_verify(&chk, wd_buf_slice(&b->attest), wd_buf_slice(&b->sig),
                             wd_buf_slice(&b->pcr_values), att, &why);
    if (rc == WD_ENOMEM || rc == WD_ETLS || rc == WD_EINVAL) {
        goto out;
    }
    if (rc != WD_OK) {
        *reason = tpm_reason(why);
        rc = WD_EDENIED;
        goto out;
    }
    /* the quote must cover every configured PCR, trust on first use included */
    for (uint32_t i = 0; i < c->pcr_sel.count; i++) {
        const struct wd_tpm_pcr_bank *want = &c->pcr_sel.banks[i];
        const struct wd_tpm_pcr_bank *have = NULL;
        for (uint32_t j = 0; j < att->pcr_select.count; j++) {
            if (att->pcr_select.banks[j].hash == want->hash) {
                have = &att->pcr_select.banks[j];
            }
        }
        for (unsigned p = 0; p < WD_TPM_PCR_MAX; p++) {
            if (wd_tpm_pcr_selected(want, p) && (have == NULL || !wd_tpm_pcr_selected(have, p))) {
                *reason = "pcr-missing";
                rc = WD_EDENIED;
                goto out;
            }
        }
    }
out:
    wd_buf_cleanup(&vals);
    return rc;
}

static int parse_ak(const struct wd_buf *raw, struct wd_tpm_public *ak, EVP_PKEY **key,
                    const char **reason)
{
    enum wd_tpm_reason why = WD_TPM_OK;
    if (wd_tpm_public_parse_2b(raw->p, raw->len, ak, &why) != WD_OK
        || wd_tpm_public_to_pkey(ak, key, &why) != WD_OK) {
        *reason = "tpm-public";
        return WD_EPROTO;
    }
    return WD_OK;
}

/* Refuse a TPM attestation (counted as a failed tpm attestation). */
static int tpm_refuse(struct srv_rq *q, int status, const char *reason, const char *node,
                      const char *msg)
{
    srv_metric_attest(q->s, 0, false);
    return srv_rq_refuse(q, status, reason, node, msg);
}

static int parse_csr(struct srv_rq *q, const struct srv_body *b, EVP_PKEY **csr, bool *done)
{
    struct wd_diag d = {{0}};
    int rc = srv_csr_key(b->csr, b->csr_len, csr, &d);
    *done = false;
    if (rc == WD_ENOMEM) {
        return rc;
    }
    if (rc != WD_OK) {
        *done = true;
        return srv_rq_error(q, 400, "csr", d.msg[0] != '\0' ? d.msg : "malformed CSR");
    }
    return WD_OK;
}

/* ---- POST /v1/attest/tpm/begin ---- */

int srv_h_tpm_begin(struct srv_rq *q)
{
    struct srv *s = q->s;
    struct srv_body body;
    struct wd_diag d = {{0}};
    struct wd_store_node old;
    EVP_PKEY *ek_key = NULL, *ak_key = NULL;
    X509 *ek_cert = NULL;
    struct wd_buf idobj, encsec, state, sel;
    uint8_t secret[SECRET_LEN], nonce[NONCE_LEN];
    memset(&old, 0, sizeof(old));
    wd_buf_init(&idobj, 4096);
    wd_buf_init(&encsec, 4096);
    wd_buf_init(&state, WD_STORE_BLOB_MAX);
    wd_buf_init(&sel, 512);
    srv_body_init(&body);
    int rc = srv_decode_tpm_begin(q->req->body, q->req->body_len, &body, &d);
    if (rc != WD_OK) {
        rc = srv_rq_bad_body(q, rc, &d);
        goto out;
    }
    const char *node = body.node;
    struct wd_tpm_public ek, ak;
    enum wd_tpm_reason why = WD_TPM_OK;
    if (wd_tpm_public_parse_2b(body.ek_public.p, body.ek_public.len, &ek, &why) != WD_OK) {
        rc = tpm_refuse(q, 400, "tpm-public", node, "ek_public is not a TPM2B_PUBLIC");
        goto out;
    }
    if (wd_tpm_public_check_ek(&ek, &why) != WD_OK) {
        rc = tpm_refuse(q, 403, "ek-attributes", node, "the EK is not a restricted decryption key");
        goto out;
    }
    if (wd_tpm_public_to_pkey(&ek, &ek_key, &why) != WD_OK) {
        rc = tpm_refuse(q, 400, "tpm-public", node, "the EK's key is invalid");
        goto out;
    }
    char ek_hex[65];
    WD_CHECK(wd_tpm_spki_sha256_hex(ek_key, ek_hex));
    uint8_t ek_hash[WD_STORE_SHA256_LEN];
    for (size_t i = 0; i < WD_STORE_SHA256_LEN; i++) {
        ek_hash[i] = (uint8_t)(wd_hex_digit_value((unsigned char)ek_hex[2 * i]) << 4
                               | wd_hex_digit_value((unsigned char)ek_hex[2 * i + 1]));
    }
    /* the EK: a certificate chaining to the EK CAs, or an allow-listed key */
    bool ek_ok = false;
    const char *ek_why = "ek-not-allowed";
    if (body.has_ek_cert && s->ek_store != NULL) {
        if (wd_tpm_ek_cert_parse(body.ek_cert.p, body.ek_cert.len, &ek_cert, &why) != WD_OK) {
            ek_why = "ek-cert";
        } else if (wd_tpm_ek_cert_verify(s->ek_store, ek_cert, NULL, 0, &ek, &why, &d) == WD_OK) {
            ek_ok = true;
        } else {
            ek_why = tpm_reason(why);
        }
    }
    if (!ek_ok && s->cfg.n_ek_allow > 0) {
        ek_ok = wd_tpm_ek_allowed(&ek, (const char *const *)s->cfg.ek_allow, s->cfg.n_ek_allow,
                                  &why)
                == WD_OK;
    }
    if (!ek_ok) {
        rc = tpm_refuse(q, 403, ek_why, node, "the EK is not trusted");
        goto out;
    }
    rc = wd_store_node_get(q->st, node, &old);
    if (rc == WD_OK
        && (!old.has_ek_hash || CRYPTO_memcmp(old.ek_hash, ek_hash, sizeof(ek_hash)) != 0)) {
        rc = tpm_refuse(q, 403, "ek-mismatch", node, "the node is enrolled with another EK");
        goto out;
    }
    if (rc != WD_OK && rc != WD_ENOENT) {
        rc = srv_rq_store_failed(q, rc);
        goto out;
    }
    wd_store_node_cleanup(&old);
    memset(&old, 0, sizeof(old));
    rc = wd_store_node_get_by_ek(q->st, ek_hash, &old);
    if (rc == WD_OK && strcmp(old.name, node) != 0) {
        rc = tpm_refuse(q, 403, "ek-in-use", node, "the EK is enrolled under another node name");
        goto out;
    }
    if (rc != WD_OK && rc != WD_ENOENT) {
        rc = srv_rq_store_failed(q, rc);
        goto out;
    }
    if (wd_tpm_public_parse_2b(body.ak_public.p, body.ak_public.len, &ak, &why) != WD_OK
        || wd_tpm_public_to_pkey(&ak, &ak_key, &why) != WD_OK) {
        rc = tpm_refuse(q, 400, "tpm-public", node, "ak_public is not a valid TPM2B_PUBLIC");
        goto out;
    }
    if (wd_tpm_public_check_ak(&ak, &why) != WD_OK) {
        rc = tpm_refuse(q, 403, "ak-attributes", node,
                        "the AK is not a restricted signing key fixed to its TPM");
        goto out;
    }
    struct wd_tpm_name ak_name;
    WD_CHECK(wd_tpm_public_name(&ak, &ak_name));
    WD_CHECK(wd_rand_bytes(secret, sizeof(secret)));
    WD_CHECK(wd_rand_bytes(nonce, sizeof(nonce)));
    struct wd_slice an = {ak_name.b, ak_name.len};
    struct wd_slice cs = {secret, sizeof(secret)};
    rc = wd_tpm_make_credential(&ek, an, cs, &idobj, &encsec, &why);
    if (rc == WD_EDENIED || rc == WD_EPROTO || rc == WD_EINVAL) {
        rc = tpm_refuse(q, 403, "ek-attributes", node, "MakeCredential refused the EK");
        goto out;
    }
    WD_CHECK(rc);
    uint8_t h[SHA256_DIGEST_LENGTH];
    WD_CHECK(EVP_Digest(secret, sizeof(secret), h, NULL, EVP_sha256(), NULL) == 1 ? WD_OK
                                                                                  : WD_ETLS);
    WD_CHECK(wd_buf_append_byte(&state, ST_TPM_ENROL));
    WD_CHECK(wd_buf_append(&state, h, sizeof(h)));
    WD_CHECK(wd_buf_append(&state, ek_hash, sizeof(ek_hash)));
    WD_CHECK(wd_buf_append(&state, body.ak_public.p, body.ak_public.len));
    int64_t now = wd_time_now();
    int64_t deadline = now + s->cfg.session_ttl;
    char sid[WD_STORE_ID_LEN + 1];
    rc = wd_store_session_create(q->st, node, nonce, sizeof(nonce), state.p, state.len, deadline,
                                 now, sid);
    if (rc != WD_OK) {
        rc = srv_rq_store_failed(q, rc);
        goto out;
    }
    WD_CHECK(pcr_sel_text(s, &sel));
    struct wd_buf *b = &q->resp->body;
    q->resp->status = 200;
    WD_CHECK(wd_buf_printf(b, "{\"session\":\"%s\"", sid));
    WD_CHECK(b64_kv(b, "credential_blob", idobj.p, idobj.len));
    WD_CHECK(b64_kv(b, "encrypted_secret", encsec.p, encsec.len));
    WD_CHECK(b64_kv(b, "nonce", nonce, sizeof(nonce)));
    WD_CHECK(srv_json_kv(b, "pcr_selection", wd_buf_str(&sel), true));
    WD_CHECK(srv_json_time(b, "deadline", deadline, true));
    WD_CHECK(wd_buf_append_byte(b, '}'));
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    wd_store_node_cleanup(&old);
    EVP_PKEY_free(ek_key);
    EVP_PKEY_free(ak_key);
    X509_free(ek_cert);
    wd_buf_cleanup(&idobj);
    wd_buf_cleanup(&encsec);
    wd_buf_cleanup(&state);
    wd_buf_cleanup(&sel);
    srv_body_cleanup(&body);
    return rc;
}

/* Consume a session and map the store's answer to a refusal (answered; *done true). */
static int take_session(struct srv_rq *q, const char *id, const char *subject,
                        struct wd_store_session *sess, bool tpm, bool *done)
{
    int rc = wd_store_session_consume(q->st, id, wd_time_now(), sess);
    *done = true;
    switch (rc) {
    case WD_OK:
        *done = false;
        return WD_OK;
    case WD_ENOENT:
        return tpm ? tpm_refuse(q, 403, "session-unknown", subject, "no such session")
                   : srv_rq_refuse(q, 403, "session-unknown", subject, "no such session");
    case WD_EDENIED:
        return tpm ? tpm_refuse(q, 403, "session-replayed", subject, "the session was used")
                   : srv_rq_refuse(q, 403, "session-replayed", subject, "the session was used");
    case WD_EEXPIRED:
        return tpm ? tpm_refuse(q, 410, "session-expired", subject, "the session expired")
                   : srv_rq_refuse(q, 410, "session-expired", subject, "the session expired");
    default:
        return srv_rq_store_failed(q, rc);
    }
}

/* ---- POST /v1/attest/tpm/finish ---- */

int srv_h_tpm_finish(struct srv_rq *q)
{
    struct srv *s = q->s;
    struct srv_body body;
    struct wd_diag d = {{0}};
    struct wd_store_session sess;
    struct wd_store_node old;
    EVP_PKEY *csr = NULL;
    EVP_PKEY *ak_key = NULL;
    struct wd_buf tofu, akpub;
    bool have_old = false, done = false;
    memset(&sess, 0, sizeof(sess));
    memset(&old, 0, sizeof(old));
    wd_buf_init(&tofu, WD_STORE_TEXT_MAX);
    wd_buf_init(&akpub, WD_STORE_BLOB_MAX);
    srv_body_init(&body);
    int rc = srv_decode_tpm_finish(q->req->body, q->req->body_len, &body, &d);
    if (rc != WD_OK) {
        rc = srv_rq_bad_body(q, rc, &d);
        goto out;
    }
    rc = take_session(q, body.session, NULL, &sess, true, &done);
    if (done) {
        goto out;
    }
    const size_t fixed = 1 + SHA256_DIGEST_LENGTH + WD_STORE_SHA256_LEN;
    if (sess.state == NULL || sess.state_len <= fixed || sess.state[0] != ST_TPM_ENROL
        || sess.node == NULL) {
        rc = tpm_refuse(q, 403, "session-unknown", NULL, "not an enrolment session");
        goto out;
    }
    const char *node = sess.node;
    uint8_t h[SHA256_DIGEST_LENGTH];
    WD_CHECK(EVP_Digest(body.secret.p, body.secret.len, h, NULL, EVP_sha256(), NULL) == 1
                     ? WD_OK
                     : WD_ETLS);
    if (CRYPTO_memcmp(h, sess.state + 1, sizeof(h)) != 0) {
        rc = tpm_refuse(q, 403, "ak-not-bound", node,
                        "the secret does not match: the AK is not bound to the EK");
        goto out;
    }
    const uint8_t *ek_hash = sess.state + 1 + SHA256_DIGEST_LENGTH;
    WD_CHECK(wd_buf_append(&akpub, sess.state + fixed, sess.state_len - fixed));
    struct wd_tpm_public ak;
    const char *reason = NULL;
    if (parse_ak(&akpub, &ak, &ak_key, &reason) != WD_OK) {
        rc = tpm_refuse(q, 403, reason, node, "stored AK unreadable");
        goto out;
    }
    rc = wd_store_node_get(q->st, node, &old);
    if (rc == WD_OK) {
        have_old = true;
    } else if (rc != WD_ENOENT) {
        rc = srv_rq_store_failed(q, rc);
        goto out;
    }
    struct wd_tpm_attest att;
    rc = verify_quote(q, &body, &ak, ak_key, sess.nonce, sess.nonce_len, have_old ? &old : NULL,
                      &att, &reason);
    if (rc == WD_EDENIED) {
        rc = tpm_refuse(q, 403, reason, node, "the quote was refused");
        goto out;
    }
    WD_CHECK(rc);
    if (ip_fenced_out(q)) {
        rc = tpm_refuse(q, 403, "ip-fence", node, "the source address is outside the IP fence");
        goto out;
    }
    WD_CHECK(parse_csr(q, &body, &csr, &done));
    if (done) {
        srv_metric_attest(s, 0, false);
        goto out;
    }
    bool revoked = false;
    WD_CHECK(srv_node_revoked(q, node, &revoked));
    if (revoked) {
        rc = tpm_refuse(q, 403, "node-revoked", node, "the node was revoked by an admin");
        goto out;
    }
    /* trust on first use: the first good quote's PCR values become the node's */
    const char *pcr_policy = have_old ? old.pcr_policy : NULL;
    if (s->cfg.n_pcr_rules == 0 && pcr_policy == NULL) {
        rc = tofu_make(&att, wd_buf_slice(&body.pcr_values), &tofu);
        if (rc == WD_ELIMIT) {
            rc = tpm_refuse(q, 403, "pcr-values", node, "too many PCRs to remember");
            goto out;
        }
        WD_CHECK(rc);
        pcr_policy = wd_buf_str(&tofu);
    }
    struct wd_tpm_name ak_name;
    WD_CHECK(wd_tpm_public_name(&ak, &ak_name));
    int64_t now = wd_time_now();
    struct wd_store_node nn;
    memset(&nn, 0, sizeof(nn));
    nn.name = node;
    nn.attestation = "tpm";
    nn.has_ek_hash = true;
    memcpy(nn.ek_hash, ek_hash, WD_STORE_SHA256_LEN);
    nn.ak_pub = akpub.p;
    nn.ak_pub_len = akpub.len;
    nn.ak_name = ak_name.b;
    nn.ak_name_len = ak_name.len;
    nn.clock = att.clock.clock;
    nn.reset_count = att.clock.reset_count;
    nn.restart_count = att.clock.restart_count;
    nn.trusted = true;
    nn.last_attested = now;
    nn.pcr_policy = pcr_policy;
    rc = wd_store_node_upsert(q->st, &nn, now);
    if (rc == WD_EEXIST) {
        rc = tpm_refuse(q, 403, "ek-in-use", node, "the EK or the name is enrolled elsewhere");
        goto out;
    }
    if (rc == WD_OK && have_old && !old.trusted) {
        rc = wd_store_node_set_trusted(q->st, node, true, NULL, now, NULL);
    }
    if (rc != WD_OK) {
        rc = srv_rq_store_failed(q, rc);
        goto out;
    }
    srv_metric_attest(s, 0, true);
    if (srv_audit(s, q->st, WD_AUDIT_ATTESTATION, q->actor, node, "tpm",
                  have_old ? "{\"enrolment\":\"again\"}" : "{\"enrolment\":\"first\"}")
        != WD_OK) {
        wd_log(WD_LOG_WARN, "node %s: audit record failed", node);
    }
    rc = srv_answer_node_svid(q, node, "tpm", csr);
out:
    wd_store_session_cleanup(&sess);
    wd_store_node_cleanup(&old);
    EVP_PKEY_free(csr);
    EVP_PKEY_free(ak_key);
    wd_buf_cleanup(&tofu);
    wd_buf_cleanup(&akpub);
    srv_body_cleanup(&body);
    return rc;
}

/* ---- POST /v1/attest/join-token ---- */

static int join_refuse(struct srv_rq *q, int status, const char *reason, const char *node,
                       const char *msg)
{
    srv_metric_attest(q->s, 1, false);
    return srv_rq_refuse(q, status, reason, node, msg);
}

int srv_h_join(struct srv_rq *q)
{
    struct srv *s = q->s;
    struct srv_body body;
    struct wd_diag d = {{0}};
    EVP_PKEY *csr = NULL;
    struct wd_store_token tok;
    struct wd_store_node old;
    bool done = false, have_old = false;
    memset(&tok, 0, sizeof(tok));
    memset(&old, 0, sizeof(old));
    srv_body_init(&body);
    int rc = srv_decode_join(q->req->body, q->req->body_len, &body, &d);
    if (rc != WD_OK) {
        rc = srv_rq_bad_body(q, rc, &d);
        goto out;
    }
    const char *node = body.node;
    /* a malformed CSR must not burn the token */
    WD_CHECK(parse_csr(q, &body, &csr, &done));
    if (done) {
        goto out;
    }
    int64_t now = wd_time_now();
    rc = wd_store_token_consume(q->st, (const uint8_t *)body.token, body.token_len, now, &tok);
    if (rc == WD_ENOENT || rc == WD_EINVAL) {
        rc = join_refuse(q, 403, "token-unknown", node, "unknown join token");
        goto out;
    }
    if (rc == WD_EDENIED) {
        rc = join_refuse(q, 403, "token-used", node, "the join token was used already");
        goto out;
    }
    if (rc == WD_EEXPIRED) {
        rc = join_refuse(q, 410, "token-expired", node, "the join token expired");
        goto out;
    }
    if (rc != WD_OK) {
        rc = srv_rq_store_failed(q, rc);
        goto out;
    }
    if (tok.node != NULL && strcmp(tok.node, node) != 0) {
        rc = join_refuse(q, 403, "token-node", node, "the join token was made for another node");
        goto out;
    }
    if (ip_fenced_out(q)) {
        rc = join_refuse(q, 403, "ip-fence", node, "the source address is outside the IP fence");
        goto out;
    }
    rc = wd_store_node_get(q->st, node, &old);
    if (rc == WD_OK) {
        have_old = true;
        if (old.has_ek_hash) {
            rc = join_refuse(q, 403, "node-conflict", node,
                             "a TPM node of this name exists; it cannot join with a token");
            goto out;
        }
    } else if (rc != WD_ENOENT) {
        rc = srv_rq_store_failed(q, rc);
        goto out;
    }
    bool revoked = false;
    WD_CHECK(srv_node_revoked(q, node, &revoked));
    if (revoked && tok.node == NULL) {
        rc = join_refuse(q, 403, "node-revoked", node,
                         "the node was revoked; only a token made for it can bring it back");
        goto out;
    }
    struct wd_store_node nn;
    memset(&nn, 0, sizeof(nn));
    nn.name = node;
    nn.attestation = "join-token";
    nn.trusted = true;
    nn.last_attested = now;
    rc = wd_store_node_upsert(q->st, &nn, now);
    if (rc == WD_EEXIST) {
        rc = join_refuse(q, 403, "node-conflict", node, "the node name is taken");
        goto out;
    }
    if (rc == WD_OK && revoked) {
        /* an admin made a token for this very node: that lifts the revocation */
        struct wd_spiffe_id id;
        rc = srv_node_id(s, node, &id);
        if (rc == WD_OK) {
            rc = wd_store_deny_remove(q->st, WD_DENY_SPIFFE_ID, id.str, now, NULL);
            rc = rc == WD_ENOENT ? WD_OK : rc;
        }
    }
    if (rc == WD_OK && have_old && !old.trusted) {
        rc = wd_store_node_set_trusted(q->st, node, true, NULL, now, NULL);
    }
    if (rc != WD_OK) {
        rc = srv_rq_store_failed(q, rc);
        goto out;
    }
    srv_metric_attest(s, 1, true);
    if (srv_audit(s, q->st, WD_AUDIT_ATTESTATION, q->actor, node, "join-token",
                  revoked ? "{\"revocation\":\"lifted\"}" : NULL)
        != WD_OK) {
        wd_log(WD_LOG_WARN, "node %s: audit record failed", node);
    }
    rc = srv_answer_node_svid(q, node, "join-token", csr);
out:
    wd_store_token_cleanup(&tok);
    wd_store_node_cleanup(&old);
    EVP_PKEY_free(csr);
    srv_body_cleanup(&body);
    return rc;
}

/* ---- node calls ---- */

static bool is_tpm(const struct wd_store_node *n)
{
    return strcmp(n->attestation, "tpm") == 0;
}

int srv_h_node_challenge(struct srv_rq *q, const struct wd_store_node *n)
{
    struct srv *s = q->s;
    struct srv_body body;
    struct wd_diag d = {{0}};
    struct wd_buf sel;
    uint8_t nonce[NONCE_LEN];
    wd_buf_init(&sel, 512);
    srv_body_init(&body);
    int rc = srv_decode_challenge(q->req->body, q->req->body_len, &body, &d);
    if (rc != WD_OK) {
        rc = srv_rq_bad_body(q, rc, &d);
        goto out;
    }
    bool tpm = is_tpm(n);
    uint8_t kind = tpm ? ST_TPM_CHALLENGE : ST_JOIN_CHALLENGE;
    WD_CHECK(wd_rand_bytes(nonce, sizeof(nonce)));
    int64_t now = wd_time_now();
    int64_t deadline = now + s->cfg.session_ttl;
    char sid[WD_STORE_ID_LEN + 1];
    rc = wd_store_session_create(q->st, n->name, nonce, sizeof(nonce), &kind, 1, deadline, now,
                                 sid);
    if (rc != WD_OK) {
        rc = srv_rq_store_failed(q, rc);
        goto out;
    }
    struct wd_buf *b = &q->resp->body;
    q->resp->status = 200;
    WD_CHECK(wd_buf_printf(b, "{\"session\":\"%s\"", sid));
    if (tpm) {
        WD_CHECK(b64_kv(b, "nonce", nonce, sizeof(nonce)));
        WD_CHECK(pcr_sel_text(s, &sel));
        WD_CHECK(srv_json_kv(b, "pcr_selection", wd_buf_str(&sel), true));
    }
    WD_CHECK(srv_json_time(b, "deadline", deadline, true));
    WD_CHECK(wd_buf_append_byte(b, '}'));
out:
    wd_buf_cleanup(&sel);
    srv_body_cleanup(&body);
    return rc;
}

/* A failed heartbeat: the node becomes untrusted and goes on the deny list. */
static int heartbeat_fail(struct srv_rq *q, const struct wd_store_node *n, const char *reason)
{
    int rc = wd_store_node_set_trusted(q->st, n->name, false, reason, wd_time_now(), NULL);
    if (rc != WD_OK) {
        wd_log(WD_LOG_ERR, "node %s: cannot mark untrusted: %s", n->name, wd_store_error(q->st));
    }
    wd_log(WD_LOG_WARN, "node %s: heartbeat refused (%s): untrusted", n->name, reason);
    srv_metric_attest(q->s, is_tpm(n) ? 0 : 1, false);
    return srv_rq_refuse(q, 403, reason, n->name, "heartbeat refused; the node is now untrusted");
}

int srv_h_node_heartbeat(struct srv_rq *q, const struct wd_store_node *n)
{
    struct srv *s = q->s;
    struct srv_body body;
    struct wd_diag d = {{0}};
    struct wd_store_session sess;
    EVP_PKEY *ak_key = NULL;
    struct wd_buf akpub;
    bool done = false;
    memset(&sess, 0, sizeof(sess));
    wd_buf_init(&akpub, WD_STORE_BLOB_MAX);
    srv_body_init(&body);
    int rc = srv_decode_heartbeat(q->req->body, q->req->body_len, &body, &d);
    if (rc != WD_OK) {
        rc = srv_rq_bad_body(q, rc, &d);
        goto out;
    }
    rc = take_session(q, body.session, n->name, &sess, false, &done);
    if (done) {
        goto out;
    }
    bool tpm = is_tpm(n);
    uint8_t want = tpm ? ST_TPM_CHALLENGE : ST_JOIN_CHALLENGE;
    if (sess.node == NULL || strcmp(sess.node, n->name) != 0 || sess.state == NULL
        || sess.state_len != 1 || sess.state[0] != want) {
        rc = srv_rq_refuse(q, 403, "session-unknown", n->name, "not this node's challenge");
        goto out;
    }
    int64_t now = wd_time_now();
    if (tpm) {
        struct wd_tpm_public ak;
        const char *reason = NULL;
        if (n->ak_pub == NULL) {
            rc = heartbeat_fail(q, n, "tpm-public");
            goto out;
        }
        WD_CHECK(wd_buf_append(&akpub, n->ak_pub, n->ak_pub_len));
        if (parse_ak(&akpub, &ak, &ak_key, &reason) != WD_OK) {
            rc = heartbeat_fail(q, n, reason);
            goto out;
        }
        struct wd_tpm_attest att;
        rc = verify_quote(q, &body, &ak, ak_key, sess.nonce, sess.nonce_len, n, &att, &reason);
        if (rc == WD_EDENIED) {
            rc = heartbeat_fail(q, n, reason);
            goto out;
        }
        WD_CHECK(rc);
        rc = wd_store_node_update_counters(q->st, n->name, att.clock.clock, att.clock.reset_count,
                                           att.clock.restart_count, now);
        if (rc == WD_EDENIED) {
            rc = heartbeat_fail(q, n, "clock-backwards");
            goto out;
        }
    } else {
        if (body.has_quote) {
            rc = srv_rq_error(q, 400, NULL, "a join-token node sends no quote");
            goto out;
        }
        /* no evidence to count: move last_attested forward through the counters */
        rc = wd_store_node_update_counters(q->st, n->name, n->clock + 1, n->reset_count,
                                           n->restart_count, now);
    }
    if (rc == WD_OK && !n->trusted) {
        rc = wd_store_node_set_trusted(q->st, n->name, true, NULL, now, NULL);
        if (rc == WD_OK
            && srv_audit(s, q->st, WD_AUDIT_ATTESTATION, q->actor, n->name, "trusted-again", NULL)
                       != WD_OK) {
            wd_log(WD_LOG_WARN, "node %s: audit record failed", n->name);
        }
    }
    if (rc != WD_OK) {
        rc = srv_rq_store_failed(q, rc);
        goto out;
    }
    srv_metric_attest(s, tpm ? 0 : 1, true);
    char hb[32];
    srv_duration_format(s->cfg.heartbeat, hb);
    q->resp->status = 200;
    rc = wd_buf_printf(&q->resp->body, "{\"trusted\":true,\"heartbeat\":\"%s\"}", hb);
out:
    wd_store_session_cleanup(&sess);
    EVP_PKEY_free(ak_key);
    wd_buf_cleanup(&akpub);
    srv_body_cleanup(&body);
    return rc;
}

int srv_h_node_renew(struct srv_rq *q, const struct wd_store_node *n)
{
    struct srv_body body;
    struct wd_diag d = {{0}};
    EVP_PKEY *csr = NULL;
    bool done = false;
    srv_body_init(&body);
    int rc = srv_decode_renew(q->req->body, q->req->body_len, &body, &d);
    if (rc != WD_OK) {
        rc = srv_rq_bad_body(q, rc, &d);
        goto out;
    }
    WD_CHECK(parse_csr(q, &body, &csr, &done));
    if (done) {
        goto out;
    }
    rc = srv_answer_node_svid(q, n->name, n->attestation, csr);
out:
    EVP_PKEY_free(csr);
    srv_body_cleanup(&body);
    return rc;
}
