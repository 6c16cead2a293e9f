/*
 * TEE workloads (docs/api.md "TEE workloads", docs/attestation.md "warden-control: SVIDs
 * for TEE workloads"): a workload inside an SEV-SNP guest, an SGX enclave or the `sim`
 * backend asks for a nonce, binds it and a fresh key into its evidence, and sends a CSR
 * carrying that evidence (include/warden/evidence.h). The checks run in the documented
 * order and each refusal is answered with its reason token and audited (srv_rq_refuse).
 */
#include "api_tee.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/codec.h"
#include "warden/doc.h"
#include "warden/evidence.h"
#include "warden/log.h"
#include "warden/pki.h"
#include "warden/rand.h"
#include "warden/sgx.h"
#include "warden/sim.h"
#include "warden/snp.h"

#include "api_int.h"

/* Session state: this kind byte, then the enum wd_attest the challenge was made for. */
#define ST_TEE_CHALLENGE 0x10
#define TEE_NONCE_LEN    32

/* ---- bodies ---- */

static int parse_json(const uint8_t *p, size_t n, struct wd_doc **doc, struct wd_diag *d)
{
    struct wd_doc_limits lim = {SRV_BODY_MAX, 4, 64};
    if (n == 0) {
        p = (const uint8_t *)"{}";
        n = 2;
    }
    WD_ENSURE(n <= SRV_BODY_MAX, WD_ELIMIT);
    return wd_json_parse("<request>", p, n, &lim, doc, d);
}

int srv_tee_type_parse(const char *s, size_t n, enum wd_attest *out)
{
    if (n == 3 && memcmp(s, "snp", 3) == 0) {
        *out = WD_ATTEST_SEV_SNP;
        return WD_OK;
    }
    enum wd_attest a = WD_ATTEST_NONE;
    if (wd_attest_parse(s, n, &a) != WD_OK
        || (a != WD_ATTEST_SEV_SNP && a != WD_ATTEST_SGX && a != WD_ATTEST_SIM)) {
        return WD_EPROTO;
    }
    *out = a;
    return WD_OK;
}

int srv_tee_decode_challenge(const uint8_t *p, size_t n, enum wd_attest *type, struct wd_diag *diag)
{
    struct wd_doc *doc = NULL;
    WD_TRY(parse_json(p, n, &doc, diag));
    const struct wd_node *t;
    const struct wd_field f[] = {{"type", WD_NODE_STR, WD_FIELD_REQUIRED, &t}};
    int rc = wd_doc_read_object(doc, wd_doc_root(doc), f, WD_ARRAY_LEN(f), diag);
    if (rc == WD_OK && srv_tee_type_parse(t->u.s.p, t->u.s.len, type) != WD_OK) {
        rc = wd_doc_error(doc, t, diag, "'type': must be sev-snp (or snp), sgx or sim");
    }
    wd_doc_free(doc);
    return rc;
}

int srv_tee_decode_svid(const uint8_t *p, size_t n, struct srv_tee_body *b, struct wd_diag *diag)
{
    memset(b, 0, sizeof(*b));
    WD_TRY(parse_json(p, n, &b->doc, diag));
    const struct wd_node *session, *csr;
    const struct wd_field f[] = {
            {"session", WD_NODE_STR, WD_FIELD_REQUIRED, &session},
            {"csr", WD_NODE_STR, WD_FIELD_REQUIRED, &csr},
    };
    int rc = wd_doc_read_object(b->doc, wd_doc_root(b->doc), f, WD_ARRAY_LEN(f), diag);
    if (rc == WD_OK && !srv_id_valid(session->u.s.p, session->u.s.len)) {
        rc = wd_doc_error(b->doc, session, diag, "'session': must be 32 lower-case hex digits");
    }
    if (rc == WD_OK
        && (csr->u.s.len == 0 || csr->u.s.len > SRV_TEE_CSR_MAX
            || memchr(csr->u.s.p, '\0', csr->u.s.len) != NULL)) {
        rc = wd_doc_error(b->doc, csr, diag, "'csr': must be 1..%zu bytes without NUL",
                          SRV_TEE_CSR_MAX);
    }
    if (rc != WD_OK) {
        srv_tee_body_cleanup(b);
        return rc;
    }
    b->session = session->u.s.p;
    b->csr = csr->u.s.p;
    b->csr_len = csr->u.s.len;
    return WD_OK;
}

void srv_tee_body_cleanup(struct srv_tee_body *b)
{
    if (b != NULL) {
        wd_doc_free(b->doc);
        memset(b, 0, sizeof(*b));
    }
}

/* ---- POST /v1/tee/challenge ---- */

int srv_h_tee_challenge(struct srv_rq *q)
{
    struct srv *s = q->s;
    struct wd_diag d = {{0}};
    uint8_t nonce[TEE_NONCE_LEN];
    enum wd_attest a = WD_ATTEST_NONE;
    int rc = srv_tee_decode_challenge(q->req->body, q->req->body_len, &a, &d);
    if (rc != WD_OK) {
        rc = srv_rq_bad_body(q, rc, &d);
        goto out;
    }
    if (a == WD_ATTEST_SIM && !s->cfg.tee_allow_sim) {
        rc = srv_rq_refuse(q, 403, "sim-disabled", NULL,
                           "sim evidence is not accepted (tee.allow_sim is false)");
        goto out;
    }
    WD_CHECK(wd_rand_bytes(nonce, sizeof(nonce)));
    uint8_t state[2] = {ST_TEE_CHALLENGE, (uint8_t)a};
    int64_t now = wd_time_now();
    int64_t deadline = now + s->cfg.session_ttl;
    char sid[WD_STORE_ID_LEN + 1];
    rc = wd_store_session_create(q->st, NULL, nonce, sizeof(nonce), state, sizeof(state), deadline,
                                 now, sid);
    if (rc != WD_OK) {
        rc = srv_rq_store_failed(q, rc);
        goto out;
    }
    struct wd_buf *b = &q->resp->body;
    q->resp->status = 200;
    WD_CHECK(wd_buf_printf(b, "{\"session\":\"%s\"", sid));
    WD_CHECK(srv_json_kv(b, "type", wd_attest_name(a), true));
    WD_CHECK(wd_buf_append_str(b, ",\"nonce\":\""));
    WD_CHECK(wd_b64_encode(b, nonce, sizeof(nonce), WD_B64_STD));
    WD_CHECK(wd_buf_append_byte(b, '"'));
    WD_CHECK(srv_json_time(b, "deadline", deadline, true));
    WD_CHECK(wd_buf_append_byte(b, '}'));
out:
    return rc;
}

/* ---- POST /v1/tee/svid ---- */

/* What verified evidence says, whatever its type. */
struct tee_facts {
    enum wd_attest type;
    uint8_t report_data[WD_EVIDENCE_BINDING_LEN];
    uint8_t measurement[WD_CLAIMS_MEAS_MAX];
    size_t measurement_len;
    bool debug;
    /* SGX */
    uint8_t mrsigner[32];
    uint16_t isv_prod_id, isv_svn;
    enum wd_sgx_tcb_status tcb_status;
    /* SEV-SNP */
    bool migrate_ma;
    struct wd_snp_tcb tcb;
    enum wd_snp_product product;
};

int srv_tee_snp_split(struct wd_slice c, struct wd_slice *vcek, struct wd_slice *extra)
{
    if (c.len >= 2 && c.p[0] == 0x30) {
        size_t l = c.p[1], i = 2;
        if (l & 0x80) {
            size_t k = l & 0x7f;
            WD_ENSURE(k >= 1 && k <= 3 && 2 + k <= c.len, WD_EPROTO);
            l = 0;
            for (size_t j = 0; j < k; j++) {
                l = (l << 8) | c.p[i++];
            }
        }
        WD_ENSURE(l <= c.len - i, WD_EPROTO);
        *vcek = (struct wd_slice){c.p, i + l};
        *extra = (struct wd_slice){c.p + i + l, c.len - i - l};
        return WD_OK;
    }
    static const char end[] = "-----END CERTIFICATE-----";
    const size_t el = sizeof(end) - 1;
    for (size_t i = 0; i + el <= c.len; i++) {
        if (memcmp(c.p + i, end, el) == 0) {
            size_t e = i + el;
            while (e < c.len && (c.p[e] == '\r' || c.p[e] == '\n')) {
                e++;
            }
            *vcek = (struct wd_slice){c.p, e};
            *extra = (struct wd_slice){c.p + e, c.len - e};
            return WD_OK;
        }
    }
    return WD_EPROTO;
}

/*
 * Verify the evidence with its vendor's verifier, without any policy (binding, debug, TCB
 * and measurement are checked by the caller, in the documented order). WD_OK with *f
 * filled; WD_EDENIED with msg for evidence that does not verify; WD_ENOMEM / WD_ETLS.
 */
static int tee_verify(struct srv *s, const struct wd_evidence *ev, struct tee_facts *f, char *msg,
                      size_t msz)
{
    struct wd_diag d = {{0}};
    memset(f, 0, sizeof(*f));
    f->type = ev->type;
    int rc;
    if (ev->type == WD_ATTEST_SIM) {
        const uint8_t *kp = s->cfg.tee_sim_key;
        EVP_PKEY *pub = d2i_PUBKEY(NULL, &kp, (long)s->cfg.tee_sim_key_len);
        WD_ENSURE(pub != NULL, WD_ETLS);
        struct wd_sim_claims c;
        rc = wd_sim_verify(pub, ev->evidence.p, ev->evidence.len, NULL, &c, &d);
        EVP_PKEY_free(pub);
        if (rc == WD_ENOMEM || rc == WD_ETLS || rc == WD_EINVAL) {
            return rc;
        }
        if (rc != WD_OK) {
            (void)snprintf(msg, msz, "sim: %s", d.msg);
            return WD_EDENIED;
        }
        memcpy(f->report_data, c.report_data, sizeof(f->report_data));
        memcpy(f->measurement, c.measurement, c.measurement_len);
        f->measurement_len = c.measurement_len;
        return WD_OK;
    }
    if (ev->type == WD_ATTEST_SEV_SNP) {
        struct wd_slice vcek = {NULL, 0}, extra = {NULL, 0};
        if (!ev->has_chain || srv_tee_snp_split(ev->chain, &vcek, &extra) != WD_OK) {
            (void)snprintf(msg, msz,
                           "sev-snp: the evidence chain must start with the VCEK or VLEK "
                           "certificate");
            return WD_EDENIED;
        }
        struct wd_snp_policy pol;
        wd_snp_policy_init(&pol);
        pol.allow_debug = true;      /* checked after the binding */
        pol.allow_migrate_ma = true; /* likewise */
        pol.any_measurement = true;  /* the allow-list decides */
        struct wd_snp_result *res = wd_calloc(1, sizeof(*res));
        WD_ENSURE(res != NULL, WD_ENOMEM);
        rc = wd_snp_verify(NULL, ev->evidence.p, ev->evidence.len, vcek.p, vcek.len,
                           extra.len > 0 ? extra.p : NULL, extra.len, &pol, res, &d);
        if (rc == WD_OK) {
            memcpy(f->report_data, res->report.report_data, sizeof(f->report_data));
            memcpy(f->measurement, res->report.measurement, WD_SNP_MEASUREMENT_SIZE);
            f->measurement_len = WD_SNP_MEASUREMENT_SIZE;
            f->debug = res->debug;
            f->migrate_ma = res->migrate_ma;
            f->tcb = res->report.reported_tcb;
            f->product = res->product;
        } else if (rc != WD_ENOMEM && rc != WD_ETLS && rc != WD_EINVAL) {
            (void)snprintf(msg, msz, "sev-snp: %s", d.msg);
            rc = WD_EDENIED;
        }
        wd_free(res);
        return rc;
    }
    if (ev->has_chain) {
        (void)snprintf(msg, msz, "sgx: the quote carries its PCK chain; 'chain' must be absent");
        return WD_EDENIED;
    }
    struct wd_sgx_result *res = wd_calloc(1, sizeof(*res));
    WD_ENSURE(res != NULL, WD_ENOMEM);
    rc = wd_sgx_verify(ev->evidence.p, ev->evidence.len, NULL, NULL, res, &d);
    if (rc == WD_OK) {
        const struct wd_sgx_claims *c = &res->claims;
        memcpy(f->report_data, c->report_data, sizeof(f->report_data));
        memcpy(f->measurement, c->mrenclave, sizeof(c->mrenclave));
        f->measurement_len = sizeof(c->mrenclave);
        memcpy(f->mrsigner, c->mrsigner, sizeof(f->mrsigner));
        f->isv_prod_id = c->isv_prod_id;
        f->isv_svn = c->isv_svn;
        f->debug = c->debug;
        f->tcb_status = c->tcb_status;
    } else if (rc != WD_ENOMEM && rc != WD_ETLS && rc != WD_EINVAL) {
        (void)snprintf(msg, msz, "sgx: %s", d.msg);
        rc = WD_EDENIED;
    }
    wd_free(res);
    return rc;
}

/* Debug and TCB rules after the binding; NULL when admitted, else the refusal message. */
static const char *tee_policy(const struct srv_config *c, const struct tee_facts *f)
{
    if (f->debug) {
        return "the TEE allows debugging";
    }
    if (f->type == WD_ATTEST_SEV_SNP) {
        if (f->migrate_ma) {
            return "the guest policy allows a migration agent";
        }
        const uint8_t *m = c->tee_snp_min_tcb;
        if (c->tee_snp_check_min_tcb
            && (f->tcb.bootloader < m[0] || f->tcb.tee < m[1] || f->tcb.snp < m[2]
                || f->tcb.microcode < m[3] || (f->product == WD_SNP_TURIN && f->tcb.fmc < m[4]))) {
            return "the reported TCB is below tee.snp_min_tcb";
        }
    }
    if (f->type == WD_ATTEST_SGX && (c->tee_sgx_tcb_accept & WD_SGX_TCB_BIT(f->tcb_status)) == 0) {
        return "the SGX TCB status is not in tee.sgx_tcb_accept";
    }
    return NULL;
}

/* The first allow-list rule that admits f, or NULL. */
static const struct srv_tee_rule *tee_match(const struct srv_config *c, const struct tee_facts *f)
{
    for (size_t i = 0; i < c->n_tee_allow; i++) {
        const struct srv_tee_rule *r = &c->tee_allow[i];
        if (r->type != f->type) {
            continue;
        }
        if (r->signer) {
            if (f->type == WD_ATTEST_SGX && memcmp(r->mrsigner, f->mrsigner, 32) == 0
                && r->isv_prod_id == f->isv_prod_id && f->isv_svn >= r->min_isv_svn) {
                return r;
            }
        } else if (r->measurement_len == f->measurement_len
                   && memcmp(r->measurement, f->measurement, f->measurement_len) == 0) {
            return r;
        }
    }
    return NULL;
}

int srv_tee_csr(const char *text, size_t n, EVP_PKEY **pub, X509_REQ **req, struct wd_diag *d)
{
    struct wd_csr *csr = NULL;
    BIO *bio = NULL;
    *pub = NULL;
    *req = NULL;
    if (n > SRV_TEE_CSR_MAX) {
        return wd_diag_set(d, WD_EPROTO, NULL, 0, 0, "the CSR is too large");
    }
    int rc = wd_csr_parse("csr", text, n, &csr, d);
    if (rc != WD_OK) {
        goto out;
    }
    bio = BIO_new_mem_buf(text, (int)n);
    if (bio == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    *req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
    if (*req == NULL) {
        const uint8_t *p = (const uint8_t *)text;
        *req = d2i_X509_REQ(NULL, &p, (long)n);
    }
    EVP_PKEY *k = *req != NULL ? X509_REQ_get0_pubkey(*req) : NULL;
    if (k == NULL || EVP_PKEY_eq(k, wd_csr_pubkey(csr)) != 1) {
        rc = wd_diag_set(d, WD_EPROTO, NULL, 0, 0, "the CSR could not be read again");
        goto out;
    }
    if (EVP_PKEY_up_ref(k) != 1) {
        rc = WD_ETLS;
        goto out;
    }
    *pub = k;
out:
    BIO_free(bio);
    wd_csr_free(csr);
    return rc;
}

/* The TEE facts an issuance audit adds: ,"attestation":"...","measurement":"hex". */
static int tee_audit_extra(const struct tee_facts *f, struct wd_buf *b)
{
    int rc;
    WD_CHECK(srv_json_kv(b, "attestation", wd_attest_name(f->type), true));
    WD_CHECK(wd_buf_append_str(b, ",\"measurement\":\""));
    WD_CHECK(wd_hex_encode(b, f->measurement, f->measurement_len));
    WD_CHECK(wd_buf_append_byte(b, '"'));
out:
    return rc;
}

/* Issue, record (group commit) and answer. */
static int tee_answer(struct srv_rq *q, EVP_PKEY *pub, const struct srv_tee_rule *r,
                      const struct tee_facts *f)
{
    struct srv *s = q->s;
    struct wd_spiffe_id id;
    struct wd_claims cl;
    struct wd_diag d = {{0}};
    struct wd_buf der, pem, extra;
    struct wd_store_svid rec;
    struct wd_store_audit ev;
    char *details = NULL, *line = NULL;
    char node[32];
    wd_buf_init(&der, 65536);
    wd_buf_init(&pem, 65536);
    wd_buf_init(&extra, 1024);
    int rc;
    /* the svids table names a node for every SVID: the TEE type stands in for it */
    (void)snprintf(node, sizeof(node), "tee-%s", wd_attest_name(f->type));
    WD_CHECK(wd_spiffe_id_parse(r->spiffe_id, strlen(r->spiffe_id), &id, NULL, NULL));
    if (!wd_spiffe_id_member_of(&id, &s->td)) {
        rc = srv_rq_refuse(q, 403, "measurement-not-allowed", r->spiffe_id,
                           "the allow-list names a SPIFFE ID of another trust domain");
        goto out;
    }
    wd_claims_init(&cl);
    wd_claims_set_attest(&cl, f->type);
    WD_CHECK(wd_claims_set_measurement(&cl, f->measurement, f->measurement_len, &d));
    int64_t ttl = r->ttl > 0 ? r->ttl : s->cfg.workload_ttl;
    rc = srv_issue(s, pub, &id, ttl, &cl, node, NULL, &der, &rec);
    if (rc == WD_EPROTO) {
        rc = srv_rq_error(q, 400, "csr", "the CSR's key cannot be certified");
        goto out;
    }
    WD_CHECK(rc);
    WD_CHECK(tee_audit_extra(f, &extra));
    WD_CHECK(srv_issuance_audit(q, &rec, wd_buf_str(&extra), &ev, &details, &line));
    const char *lines[1] = {line};
    struct srv_commit_job job = {&rec, &ev, lines, 1, 0, false, NULL};
    rc = srv_commit(s, &job);
    if (rc != WD_OK) {
        rc = srv_rq_error(q, 503, NULL, "could not record the SVID");
        goto out;
    }
    atomic_fetch_add_explicit(&s->m.issued[1], 1, memory_order_relaxed);
    struct wd_buf *b = &q->resp->body;
    wd_buf_reset(b);
    q->resp->status = 200;
    WD_CHECK(wd_buf_append_byte(b, '{'));
    WD_CHECK(srv_json_kv(b, "spiffe_id", id.str, false));
    WD_CHECK(srv_json_kv(b, "attestation", wd_attest_name(f->type), true));
    WD_CHECK(wd_buf_append_str(b, ",\"measurement\":\""));
    WD_CHECK(wd_hex_encode(b, f->measurement, f->measurement_len));
    WD_CHECK(wd_buf_append_byte(b, '"'));
    WD_CHECK(wd_cert_der_to_pem(der.p, der.len, &pem));
    WD_CHECK(wd_buf_append_str(&pem, s->intermediate_pem));
    WD_CHECK(srv_json_kv(b, "svid_pem", wd_buf_str(&pem), true));
    WD_CHECK(srv_json_kv(b, "bundle_pem", s->bundle_pem, true));
    WD_CHECK(srv_json_time(b, "expires_at", rec.not_after, true));
    WD_CHECK(wd_buf_append_byte(b, '}'));
out:
    wd_free(details);
    wd_free(line);
    wd_buf_cleanup(&der);
    wd_buf_cleanup(&pem);
    wd_buf_cleanup(&extra);
    return rc;
}

int srv_h_tee_svid(struct srv_rq *q)
{
    struct srv *s = q->s;
    struct srv_tee_body body;
    struct wd_diag d = {{0}};
    struct wd_store_session sess;
    struct wd_buf evder;
    struct wd_evidence ev;
    struct tee_facts *f = NULL;
    EVP_PKEY *pub = NULL;
    X509_REQ *req = NULL;
    char msg[WD_DIAG_MAX + 64];
    memset(&sess, 0, sizeof(sess));
    wd_buf_init(&evder, WD_EVIDENCE_DER_MAX);
    int rc = srv_tee_decode_svid(q->req->body, q->req->body_len, &body, &d);
    if (rc != WD_OK) {
        rc = srv_rq_bad_body(q, rc, &d);
        goto out;
    }
    /* 1. the session: one use, before its deadline, made by /v1/tee/challenge */
    rc = wd_store_session_consume(q->st, body.session, wd_time_now(), &sess);
    if (rc == WD_ENOENT) {
        rc = srv_rq_refuse(q, 403, "session-unknown", NULL, "no such session");
        goto out;
    }
    if (rc == WD_EDENIED) {
        rc = srv_rq_refuse(q, 403, "session-replayed", NULL, "the session was used");
        goto out;
    }
    if (rc == WD_EEXPIRED) {
        rc = srv_rq_refuse(q, 410, "session-expired", NULL, "the session expired");
        goto out;
    }
    if (rc != WD_OK) {
        rc = srv_rq_store_failed(q, rc);
        goto out;
    }
    if (sess.state == NULL || sess.state_len != 2 || sess.state[0] != ST_TEE_CHALLENGE
        || sess.node != NULL) {
        rc = srv_rq_refuse(q, 403, "session-unknown", NULL, "not a TEE challenge session");
        goto out;
    }
    enum wd_attest want = (enum wd_attest)sess.state[1];
    /* 2. the CSR: lib/pki's rules and a valid self-signature */
    rc = srv_tee_csr(body.csr, body.csr_len, &pub, &req, &d);
    if (rc == WD_ENOMEM || rc == WD_ETLS) {
        goto out;
    }
    if (rc != WD_OK) {
        rc = srv_rq_error(q, 400, "csr", d.msg[0] != '\0' ? d.msg : "malformed CSR");
        goto out;
    }
    /* 3. the evidence extension */
    rc = wd_evidence_req_get(req, &evder, &ev, &d);
    if (rc == WD_ENOENT) {
        rc = srv_rq_refuse(q, 403, "evidence-missing", NULL,
                           "the CSR carries no TEE evidence extension");
        goto out;
    }
    if (rc == WD_EPROTO || rc == WD_ELIMIT) {
        rc = srv_rq_refuse(q, 403, "evidence-malformed", NULL,
                           d.msg[0] != '\0' ? d.msg : "the evidence extension is malformed");
        goto out;
    }
    WD_CHECK(rc);
    /* 4. the type: enabled, and the one the challenge was made for */
    if (ev.type == WD_ATTEST_SIM && !s->cfg.tee_allow_sim) {
        rc = srv_rq_refuse(q, 403, "sim-disabled", NULL,
                           "sim evidence is not accepted (tee.allow_sim is false)");
        goto out;
    }
    if (ev.type != want) {
        (void)snprintf(msg, sizeof(msg), "the challenge was for %s evidence, the CSR carries %s",
                       wd_attest_name(want), wd_attest_name(ev.type));
        rc = srv_rq_refuse(q, 403, "evidence-type", NULL, msg);
        goto out;
    }
    /* 5. the vendor's verification (pinned roots; the sim key for sim) */
    f = wd_calloc(1, sizeof(*f));
    if (f == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    msg[0] = '\0';
    rc = tee_verify(s, &ev, f, msg, sizeof(msg));
    if (rc == WD_EDENIED) {
        rc = srv_rq_refuse(q, 403, "evidence-invalid", NULL, msg);
        goto out;
    }
    WD_CHECK(rc);
    /* 6. the binding: this session's nonce and the CSR's key */
    if (ev.nonce.len != sess.nonce_len
        || CRYPTO_memcmp(ev.nonce.p, sess.nonce, sess.nonce_len) != 0) {
        rc = srv_rq_refuse(q, 403, "binding", NULL,
                           "the evidence names another nonce than this session's");
        goto out;
    }
    rc = wd_evidence_check_binding(pub, &ev, f->report_data, &d);
    if (rc == WD_EDENIED) {
        rc = srv_rq_refuse(q, 403, "binding", NULL, d.msg);
        goto out;
    }
    WD_CHECK(rc);
    /* 7. policy: debug, migration agent, minimum TCB / accepted TCB status */
    const char *why = tee_policy(&s->cfg, f);
    if (why != NULL) {
        rc = srv_rq_refuse(q, 403, "tee-policy", NULL, why);
        goto out;
    }
    /* 8. the allow-list */
    const struct srv_tee_rule *r = tee_match(&s->cfg, f);
    if (r == NULL) {
        struct wd_buf m;
        wd_buf_init(&m, 512);
        if (wd_buf_printf(&m, "%s measurement ", wd_attest_name(f->type)) == WD_OK
            && wd_hex_encode(&m, f->measurement, f->measurement_len) == WD_OK
            && wd_buf_append_str(&m, " is not in tee.allow") == WD_OK) {
            rc = srv_rq_refuse(q, 403, "measurement-not-allowed", NULL, wd_buf_str(&m));
        } else {
            rc = srv_rq_refuse(q, 403, "measurement-not-allowed", NULL,
                               "the measurement is not in tee.allow");
        }
        wd_buf_cleanup(&m);
        goto out;
    }
    rc = tee_answer(q, pub, r, f);
out:
    wd_free(f);
    X509_REQ_free(req);
    EVP_PKEY_free(pub);
    wd_buf_cleanup(&evder);
    wd_store_session_cleanup(&sess);
    srv_tee_body_cleanup(&body);
    return rc;
}
