/*
 * Unit tests of warden-control's TEE workload routes (src/control/api_tee.c), called through
 * the dispatcher with synthetic requests: POST /v1/tee/challenge and POST /v1/tee/svid with
 * sim evidence made by lib/attest/sim.c in a CSR evidence extension (admitted: an SVID whose
 * claims say sim + the measurement; refused: sim disabled, another key, a stale nonce, a
 * replayed / unknown / expired session, a measurement not in the allow-list, a CSR without
 * evidence, a type other than the challenge's, a bad sim signature, evidence for another
 * trust domain), each refusal audited with its reason; the real SEV-SNP and SGX vectors of
 * tests/data, which verify with the vendor roots and are then refused with `binding` (they
 * cannot carry a fresh nonce), while a flipped bit in them is refused earlier with
 * `evidence-invalid`, which proves the vendor verification runs; and the tee: section of the
 * configuration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/claims.h"
#include "warden/clock.h"
#include "warden/codec.h"
#include "warden/doc.h"
#include "warden/evidence.h"
#include "warden/file.h"
#include "warden/pki.h"
#include "warden/sgx.h"
#include "warden/sim.h"
#include "warden/store.h"
#include "warden/svid.h"

#include "../../src/control/api.h"
#include "../../src/control/api_int.h"
#include "../../src/control/config.h"
#include "../../src/control/init.h"
#include "../../src/control/server.h"
#include "harness.h"

#define TD "example.org"

static char dir[256];
static struct srv *S;
static EVP_PKEY *sim_key; /* the trusted sim signer */
static struct wd_net_peer peer_anon;

/* Allow-listed sim measurements: A (48 bytes) -> /enclave/a, B (32 bytes) -> /enclave/b. */
static uint8_t meas_a[48], meas_b[32], meas_c[48];

#define MEAS_A_HEX                                                                           \
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9ca" \
    "cbcccdcecf"
#define MEAS_B_HEX "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"

/* ---- requests ---- */

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

static int call(struct res *r, const char *path, const char *body)
{
    res_free(r);
    wd_buf_init(&r->resp.body, (size_t)64 << 20);
    struct wd_http_req req;
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.path = path;
    req.query = "";
    req.body = (const uint8_t *)body;
    req.body_len = strlen(body);
    req.peer = &peer_anon;
    int rc = srv_api_handle(S, &req, &r->resp);
    r->status = r->resp.status;
    if (rc == WD_OK && r->resp.body.len > 0 && r->resp.body.p[0] == '{') {
        struct wd_diag d;
        if (wd_json_parse("resp", r->resp.body.p, r->resp.body.len, NULL, &r->doc, &d) != WD_OK) {
            printf("answer is not JSON: %s\n", wd_buf_str(&r->resp.body));
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
static int last_audit(char *reason, size_t rsz, enum wd_audit_kind *kind, char *det, size_t dsz)
{
    struct wd_store *st = NULL;
    WD_TRY(srv_store_get(S, &st));
    struct wd_store_audit *v = NULL;
    size_t n = 0;
    int rc = wd_store_audit_list(st, 0, WD_STORE_LIST_MAX, &v, &n);
    if (rc == WD_OK && n > 0) {
        (void)snprintf(reason, rsz, "%s", v[n - 1].reason != NULL ? v[n - 1].reason : "");
        (void)snprintf(det, dsz, "%s", v[n - 1].details != NULL ? v[n - 1].details : "");
        *kind = v[n - 1].kind;
    }
    wd_store_audits_free(v, n);
    srv_store_put(S, st, false);
    return rc;
}

/* An error answer with this status and reason, audited as a refusal. */
#define CHECK_REFUSED(r, st, why)                                       \
    do {                                                                \
        CHECK_EQ((r)->status, (st));                                    \
        CHECK_STR(str((r), "reason"), (why));                           \
        char ar_[64] = "", ad_[1024] = "";                              \
        enum wd_audit_kind ak_ = WD_AUDIT_ADMIN;                        \
        CHECK_OK(last_audit(ar_, sizeof(ar_), &ak_, ad_, sizeof(ad_))); \
        CHECK_STR(ar_, (why));                                          \
        CHECK_EQ(ak_, WD_AUDIT_REFUSAL);                                \
    } while (0)

/* A challenge for type: session id (33 bytes) and nonce (32 bytes). */
static int challenge(const char *type, char sid[WD_STORE_ID_LEN + 1], uint8_t nonce[32])
{
    struct res r = {0};
    char body[64];
    (void)snprintf(body, sizeof(body), "{\"type\":\"%s\"}", type);
    int rc = call(&r, "/v1/tee/challenge", body);
    struct wd_buf nb;
    wd_buf_init(&nb, 64);
    if (rc == WD_OK && r.status != 200) {
        printf("challenge: %d %s\n", r.status, wd_buf_str(&r.resp.body));
        rc = WD_EDENIED;
    }
    const char *s = rc == WD_OK ? str(&r, "session") : NULL;
    const char *n = rc == WD_OK ? str(&r, "nonce") : NULL;
    if (rc == WD_OK && (s == NULL || n == NULL || strlen(s) != WD_STORE_ID_LEN)) {
        rc = WD_EPROTO;
    }
    if (rc == WD_OK) {
        rc = wd_b64_decode(&nb, n, strlen(n), WD_B64_STD);
    }
    if (rc == WD_OK && nb.len != 32) {
        rc = WD_EPROTO;
    }
    if (rc == WD_OK) {
        memcpy(sid, s, WD_STORE_ID_LEN + 1);
        memcpy(nonce, nb.p, 32);
    }
    wd_buf_cleanup(&nb);
    res_free(&r);
    return rc;
}

/*
 * A PEM CSR signed by key carrying evidence (type, evidence bytes, nonce, optional chain);
 * NULL evidence: a CSR without the extension. Owned by the caller.
 */
static char *csr_with(EVP_PKEY *key, enum wd_attest type, const uint8_t *evi, size_t evi_len,
                      const uint8_t *nonce, size_t nonce_len, const uint8_t *chain,
                      size_t chain_len)
{
    X509_REQ *req = X509_REQ_new();
    char *out = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    if (req == NULL || bio == NULL || X509_REQ_set_pubkey(req, key) != 1) {
        goto out;
    }
    if (evi != NULL) {
        struct wd_evidence ev = {
                .type = type,
                .evidence = {evi, evi_len},
                .nonce = {nonce, nonce_len},
                .has_chain = chain != NULL,
                .chain = {chain, chain_len},
        };
        if (wd_evidence_req_add(req, &ev, NULL) != WD_OK) {
            goto out;
        }
    }
    if (X509_REQ_sign(req, key, EVP_sha256()) <= 0 || PEM_write_bio_X509_REQ(bio, req) != 1) {
        goto out;
    }
    char *p = NULL;
    long n = BIO_get_mem_data(bio, &p);
    if (n > 0) {
        out = wd_strndup(p, (size_t)n);
    }
out:
    BIO_free(bio);
    X509_REQ_free(req);
    return out;
}

/* A sim report by signer for measurement m (mlen bytes) bound to bind_key and nonce. */
static int sim_report(EVP_PKEY *signer, const uint8_t *m, size_t mlen, EVP_PKEY *bind_key,
                      const uint8_t nonce[32], struct wd_buf *out)
{
    uint8_t bind[WD_EVIDENCE_BINDING_LEN];
    WD_TRY(wd_evidence_binding(bind_key, nonce, 32, bind));
    return wd_sim_report_sign(signer, m, mlen, bind, out);
}

/* The sim CSR of key for measurement m bound to key and nonce; NULL on failure. */
static char *sim_csr(EVP_PKEY *key, const uint8_t *m, size_t mlen, const uint8_t nonce[32])
{
    struct wd_buf rep;
    wd_buf_init(&rep, WD_SIM_REPORT_MAX);
    char *csr = NULL;
    if (sim_report(sim_key, m, mlen, key, nonce, &rep) == WD_OK) {
        csr = csr_with(key, WD_ATTEST_SIM, rep.p, rep.len, nonce, 32, NULL, 0);
    }
    wd_buf_cleanup(&rep);
    return csr;
}

static int svid(struct res *r, const char *sid, const char *csr)
{
    struct wd_buf b;
    wd_buf_init(&b, 1 << 20);
    int rc = wd_buf_printf(&b, "{\"session\":\"%s\",\"csr\":", sid);
    rc = rc == WD_OK ? wd_json_append_string(&b, csr, strlen(csr)) : rc;
    rc = rc == WD_OK ? wd_buf_append_byte(&b, '}') : rc;
    if (rc == WD_OK) {
        rc = call(r, "/v1/tee/svid", wd_buf_str(&b));
    }
    wd_buf_cleanup(&b);
    return rc;
}

static EVP_PKEY *new_key(void)
{
    EVP_PKEY *k = NULL;
    return wd_key_generate(&k, NULL) == WD_OK ? k : NULL;
}

/* ---- tests ---- */

TEST(sim_admitted)
{
    char sid[WD_STORE_ID_LEN + 1];
    uint8_t nonce[32];
    CHECK_OK(challenge("sim", sid, nonce));
    EVP_PKEY *k = new_key();
    CHECK(k != NULL);
    char *csr = sim_csr(k, meas_a, sizeof(meas_a), nonce);
    CHECK(csr != NULL);
    struct res r = {0};
    CHECK_OK(svid(&r, sid, csr));
    if (r.status != 200) {
        printf("%s\n", wd_buf_str(&r.resp.body));
    }
    CHECK_EQ(r.status, 200);
    CHECK_STR(str(&r, "spiffe_id"), "spiffe://" TD "/enclave/a");
    CHECK_STR(str(&r, "attestation"), "sim");
    CHECK_STR(str(&r, "measurement"), MEAS_A_HEX);
    CHECK(str(&r, "bundle_pem") != NULL && str(&r, "expires_at") != NULL);
    /* the SVID: for the CSR's key, with the claims sim + measurement A, chaining to the CA */
    const char *pem = str(&r, "svid_pem");
    CHECK(pem != NULL);
    STACK_OF(X509) *certs = NULL;
    CHECK_OK(wd_certs_parse("svid", pem, strlen(pem), &certs, NULL));
    CHECK_EQ(sk_X509_num(certs), 2);
    X509 *leaf = sk_X509_value(certs, 0);
    struct wd_spiffe_id id;
    CHECK_OK(wd_cert_spiffe_id(leaf, &id, NULL, NULL));
    CHECK_STR(id.str, "spiffe://" TD "/enclave/a");
    bool present = false;
    struct wd_claims cl;
    CHECK_OK(wd_cert_claims(leaf, &present, &cl, NULL));
    CHECK(present);
    CHECK_EQ(cl.attest, WD_ATTEST_SIM);
    CHECK((cl.present & WD_CLAIM_MEASUREMENT) != 0);
    CHECK_EQ(cl.measurement_len, sizeof(meas_a));
    CHECK_MEM(cl.measurement, meas_a, sizeof(meas_a));
    CHECK((cl.present & WD_CLAIM_NODE) == 0);
    CHECK(EVP_PKEY_eq(X509_get0_pubkey(leaf), k) == 1);
    /* rule ttl 10m */
    const ASN1_TIME *na = X509_get0_notAfter(leaf);
    int days = 0, secs = 0;
    ASN1_TIME *now = ASN1_TIME_set(NULL, (time_t)wd_time_now());
    CHECK(now != NULL && ASN1_TIME_diff(&days, &secs, now, na) == 1);
    ASN1_TIME_free(now);
    CHECK_EQ(days, 0);
    CHECK(secs <= 600 && secs >= 590);
    wd_certs_free(certs);
    /* recorded through the group commit, with an issuance audit naming sim + measurement */
    char ar[64] = "", ad[1024] = "";
    enum wd_audit_kind ak = WD_AUDIT_ADMIN;
    CHECK_OK(last_audit(ar, sizeof(ar), &ak, ad, sizeof(ad)));
    CHECK_EQ(ak, WD_AUDIT_ISSUANCE);
    CHECK(strstr(ad, "\"attestation\":\"sim\"") != NULL);
    CHECK(strstr(ad, MEAS_A_HEX) != NULL);
    CHECK(strstr(ad, "\"node\":\"tee-sim\"") != NULL);
    /* the second rule, a 32-byte measurement, with the default workload TTL */
    CHECK_OK(challenge("sim", sid, nonce));
    wd_free(csr);
    csr = sim_csr(k, meas_b, sizeof(meas_b), nonce);
    CHECK(csr != NULL);
    CHECK_OK(svid(&r, sid, csr));
    CHECK_EQ(r.status, 200);
    CHECK_STR(str(&r, "spiffe_id"), "spiffe://" TD "/enclave/b");
    CHECK_STR(str(&r, "measurement"), MEAS_B_HEX);
    /* the same session again: replayed */
    CHECK_OK(svid(&r, sid, csr));
    CHECK_REFUSED(&r, 403, "session-replayed");
    res_free(&r);
    wd_free(csr);
    EVP_PKEY_free(k);
}

TEST(sim_refusals)
{
    char sid[WD_STORE_ID_LEN + 1], sid2[WD_STORE_ID_LEN + 1];
    uint8_t nonce[32], nonce2[32];
    EVP_PKEY *k = new_key(), *k2 = new_key(), *rogue = new_key();
    CHECK(k != NULL && k2 != NULL && rogue != NULL);
    struct res r = {0};
    struct wd_buf rep;
    wd_buf_init(&rep, WD_SIM_REPORT_MAX);
    char *csr = NULL;

    /* changed key: evidence bound to key A in a CSR of key B */
    CHECK_OK(challenge("sim", sid, nonce));
    CHECK_OK(sim_report(sim_key, meas_a, sizeof(meas_a), k, nonce, &rep));
    csr = csr_with(k2, WD_ATTEST_SIM, rep.p, rep.len, nonce, 32, NULL, 0);
    CHECK(csr != NULL);
    CHECK_OK(svid(&r, sid, csr));
    CHECK_REFUSED(&r, 403, "binding");
    WD_FREE(csr);

    /* stale nonce: evidence (and its nonce field) from an older session, sent with a new one */
    CHECK_OK(challenge("sim", sid, nonce));
    csr = sim_csr(k, meas_a, sizeof(meas_a), nonce);
    CHECK(csr != NULL);
    CHECK_OK(challenge("sim", sid2, nonce2));
    CHECK_OK(svid(&r, sid2, csr));
    CHECK_REFUSED(&r, 403, "binding");
    /* the old session was not consumed by that: it still admits the CSR made for it */
    CHECK_OK(svid(&r, sid, csr));
    CHECK_EQ(r.status, 200);
    /* and a second use of it is a replay */
    CHECK_OK(svid(&r, sid, csr));
    CHECK_REFUSED(&r, 403, "session-replayed");
    WD_FREE(csr);

    /* stale nonce inside the evidence, the fresh nonce in the extension */
    CHECK_OK(challenge("sim", sid, nonce));
    CHECK_OK(challenge("sim", sid2, nonce2));
    wd_buf_reset(&rep);
    CHECK_OK(sim_report(sim_key, meas_a, sizeof(meas_a), k, nonce, &rep));
    csr = csr_with(k, WD_ATTEST_SIM, rep.p, rep.len, nonce2, 32, NULL, 0);
    CHECK(csr != NULL);
    CHECK_OK(svid(&r, sid2, csr));
    CHECK_REFUSED(&r, 403, "binding");
    WD_FREE(csr);

    /* measurement not in the allow-list */
    CHECK_OK(challenge("sim", sid, nonce));
    csr = sim_csr(k, meas_c, sizeof(meas_c), nonce);
    CHECK(csr != NULL);
    CHECK_OK(svid(&r, sid, csr));
    CHECK_REFUSED(&r, 403, "measurement-not-allowed");
    CHECK(strstr(str(&r, "message"), "is not in tee.allow") != NULL);
    WD_FREE(csr);

    /* a report signed by another key than tee.sim_key */
    CHECK_OK(challenge("sim", sid, nonce));
    wd_buf_reset(&rep);
    CHECK_OK(sim_report(rogue, meas_a, sizeof(meas_a), k, nonce, &rep));
    csr = csr_with(k, WD_ATTEST_SIM, rep.p, rep.len, nonce, 32, NULL, 0);
    CHECK(csr != NULL);
    CHECK_OK(svid(&r, sid, csr));
    CHECK_REFUSED(&r, 403, "evidence-invalid");
    WD_FREE(csr);

    /* a CSR without evidence */
    CHECK_OK(challenge("sim", sid, nonce));
    csr = csr_with(k, WD_ATTEST_SIM, NULL, 0, NULL, 0, NULL, 0);
    CHECK(csr != NULL);
    CHECK_OK(svid(&r, sid, csr));
    CHECK_REFUSED(&r, 403, "evidence-missing");
    WD_FREE(csr);

    /* sim evidence for a challenge made for SGX */
    CHECK_OK(challenge("sgx", sid, nonce));
    csr = sim_csr(k, meas_a, sizeof(meas_a), nonce);
    CHECK(csr != NULL);
    CHECK_OK(svid(&r, sid, csr));
    CHECK_REFUSED(&r, 403, "evidence-type");

    /* unknown session, expired session */
    CHECK_OK(svid(&r, "0123456789abcdef0123456789abcdef", csr));
    CHECK_REFUSED(&r, 403, "session-unknown");
    WD_FREE(csr);
    CHECK_OK(challenge("sim", sid, nonce));
    csr = sim_csr(k, meas_a, sizeof(meas_a), nonce);
    CHECK(csr != NULL);
    wd_clock_advance(S->cfg.session_ttl + 1);
    CHECK_OK(svid(&r, sid, csr));
    CHECK_REFUSED(&r, 410, "session-expired");
    WD_FREE(csr);

    /* a malformed CSR: 400 csr (the session is used up) */
    CHECK_OK(challenge("sim", sid, nonce));
    CHECK_OK(svid(&r, sid, "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"));
    CHECK_EQ(r.status, 400);
    CHECK_STR(str(&r, "reason"), "csr");
    /* a CSR whose self-signature does not verify */
    CHECK_OK(challenge("sim", sid, nonce));
    csr = sim_csr(k, meas_a, sizeof(meas_a), nonce);
    CHECK(csr != NULL);
    {
        /* flip one base64 character near the end (inside the signature) */
        char *end = strstr(csr, "-----END");
        CHECK(end != NULL && end - csr > 10);
        char *c = end - 6;
        *c = *c == 'A' ? 'B' : 'A';
    }
    CHECK_OK(svid(&r, sid, csr));
    CHECK_EQ(r.status, 400);
    CHECK_STR(str(&r, "reason"), "csr");
    WD_FREE(csr);

    /* sim disabled: refused at the challenge, and at /svid for a session made before */
    CHECK_OK(challenge("sim", sid, nonce));
    csr = sim_csr(k, meas_a, sizeof(meas_a), nonce);
    CHECK(csr != NULL);
    S->cfg.tee_allow_sim = false;
    CHECK_OK(call(&r, "/v1/tee/challenge", "{\"type\":\"sim\"}"));
    CHECK_REFUSED(&r, 403, "sim-disabled");
    CHECK_OK(svid(&r, sid, csr));
    S->cfg.tee_allow_sim = true;
    CHECK_REFUSED(&r, 403, "sim-disabled");
    WD_FREE(csr);

    res_free(&r);
    wd_buf_cleanup(&rep);
    EVP_PKEY_free(k);
    EVP_PKEY_free(k2);
    EVP_PKEY_free(rogue);
}

TEST(bodies)
{
    struct res r = {0};
    CHECK_OK(call(&r, "/v1/tee/challenge", "{\"type\":\"tpm\"}"));
    CHECK_EQ(r.status, 400);
    CHECK_OK(call(&r, "/v1/tee/challenge", "{}"));
    CHECK_EQ(r.status, 400);
    CHECK_OK(call(&r, "/v1/tee/challenge", "{\"type\":\"sim\",\"x\":1}"));
    CHECK_EQ(r.status, 400);
    CHECK_OK(call(&r, "/v1/tee/challenge", "[1]"));
    CHECK_EQ(r.status, 400);
    CHECK_OK(call(&r, "/v1/tee/challenge", "{\"type\":\"snp\"}"));
    CHECK_EQ(r.status, 200);
    CHECK_STR(str(&r, "type"), "sev-snp");
    CHECK(str(&r, "deadline") != NULL);
    CHECK_OK(call(&r, "/v1/tee/svid", "{\"session\":\"xyz\",\"csr\":\"a\"}"));
    CHECK_EQ(r.status, 400);
    CHECK_OK(call(&r, "/v1/tee/svid", "{\"session\":\"0123456789abcdef0123456789abcdef\"}"));
    CHECK_EQ(r.status, 400);
    CHECK_OK(call(&r, "/v1/tee/svid",
                  "{\"session\":\"0123456789abcdef0123456789abcdef\",\"csr\":\"\"}"));
    CHECK_EQ(r.status, 400);
    /* GET is not allowed */
    struct wd_http_req req;
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.path = "/v1/tee/svid";
    req.query = "";
    req.body = (const uint8_t *)"";
    req.peer = &peer_anon;
    res_free(&r);
    wd_buf_init(&r.resp.body, 4096);
    CHECK_OK(srv_api_handle(S, &req, &r.resp));
    CHECK_EQ(r.resp.status, 405);
    res_free(&r);
}

/* Read a test vector. */
static int vector(const char *path, struct wd_buf *out)
{
    wd_buf_init(out, (size_t)1 << 20);
    return wd_file_read(path, (size_t)1 << 20, out, NULL);
}

TEST(snp_vector)
{
    struct wd_buf rep, vcek;
    CHECK_OK(vector("tests/data/sev-snp/trustee-test-report.bin", &rep));
    CHECK_OK(vector("tests/data/sev-snp/trustee-test-vcek.der", &vcek));
    EVP_PKEY *k = new_key();
    CHECK(k != NULL);
    char sid[WD_STORE_ID_LEN + 1];
    uint8_t nonce[32];
    struct res r = {0};
    /* verified by the vendor path (pinned Milan ARK/ASK), then refused for the binding */
    CHECK_OK(challenge("sev-snp", sid, nonce));
    char *csr = csr_with(k, WD_ATTEST_SEV_SNP, rep.p, rep.len, nonce, 32, vcek.p, vcek.len);
    CHECK(csr != NULL);
    CHECK_OK(svid(&r, sid, csr));
    CHECK_REFUSED(&r, 403, "binding");
    WD_FREE(csr);
    /* a flipped bit in the signed report body: the vendor verification refuses it first */
    rep.p[0x90] ^= 1;
    CHECK_OK(challenge("snp", sid, nonce));
    csr = csr_with(k, WD_ATTEST_SEV_SNP, rep.p, rep.len, nonce, 32, vcek.p, vcek.len);
    CHECK(csr != NULL);
    CHECK_OK(svid(&r, sid, csr));
    CHECK_REFUSED(&r, 403, "evidence-invalid");
    CHECK(strstr(str(&r, "message"), "sev-snp") != NULL);
    WD_FREE(csr);
    rep.p[0x90] ^= 1;
    /* without the VCEK */
    CHECK_OK(challenge("snp", sid, nonce));
    csr = csr_with(k, WD_ATTEST_SEV_SNP, rep.p, rep.len, nonce, 32, NULL, 0);
    CHECK(csr != NULL);
    CHECK_OK(svid(&r, sid, csr));
    CHECK_REFUSED(&r, 403, "evidence-invalid");
    WD_FREE(csr);
    /* the VCEK as PEM followed by the extra chain: still verifies, still not bound */
    struct wd_buf chain, pem;
    CHECK_OK(vector("tests/data/sev-snp/trustee-milan_ask_ark_asvk.pem", &chain));
    wd_buf_init(&pem, 65536);
    CHECK_OK(wd_cert_der_to_pem(vcek.p, vcek.len, &pem));
    CHECK_OK(wd_buf_append(&pem, chain.p, chain.len));
    CHECK_OK(challenge("snp", sid, nonce));
    csr = csr_with(k, WD_ATTEST_SEV_SNP, rep.p, rep.len, nonce, 32, pem.p, pem.len);
    CHECK(csr != NULL);
    CHECK_OK(svid(&r, sid, csr));
    CHECK_REFUSED(&r, 403, "binding");
    WD_FREE(csr);
    res_free(&r);
    wd_buf_cleanup(&rep);
    wd_buf_cleanup(&vcek);
    wd_buf_cleanup(&chain);
    wd_buf_cleanup(&pem);
    EVP_PKEY_free(k);
}

TEST(sgx_vector)
{
    struct wd_buf q;
    CHECK_OK(vector("tests/data/sgx/trustee-occlum_quote.dat", &q));
    EVP_PKEY *k = new_key();
    CHECK(k != NULL);
    char sid[WD_STORE_ID_LEN + 1];
    uint8_t nonce[32];
    struct res r = {0};
    CHECK_OK(challenge("sgx", sid, nonce));
    char *csr = csr_with(k, WD_ATTEST_SGX, q.p, q.len, nonce, 32, NULL, 0);
    CHECK(csr != NULL);
    CHECK_OK(svid(&r, sid, csr));
    CHECK_REFUSED(&r, 403, "binding");
    WD_FREE(csr);
    /* a flipped bit in the ISV body (MRENCLAVE): isv-signature */
    q.p[48 + 64] ^= 1;
    CHECK_OK(challenge("sgx", sid, nonce));
    csr = csr_with(k, WD_ATTEST_SGX, q.p, q.len, nonce, 32, NULL, 0);
    CHECK(csr != NULL);
    CHECK_OK(svid(&r, sid, csr));
    CHECK_REFUSED(&r, 403, "evidence-invalid");
    CHECK(strstr(str(&r, "message"), "sgx") != NULL);
    WD_FREE(csr);
    res_free(&r);
    wd_buf_cleanup(&q);
    EVP_PKEY_free(k);
}

TEST(config_tee)
{
    struct srv_config c;
    struct wd_diag d;
    srv_config_init(&c);
    CHECK_EQ(c.tee_sgx_tcb_accept, WD_SGX_TCB_BIT(WD_SGX_TCB_UP_TO_DATE));
    const char *ok = "tee:\n"
                     "  sgx_tcb_accept: [UpToDate, SWHardeningNeeded, Unknown]\n"
                     "  snp_min_tcb: {bootloader: 3, snp: 8, microcode: 115}\n"
                     "  allow:\n"
                     "    - {type: sgx, mrsigner: \"" MEAS_B_HEX "\", isvprodid: 7, "
                     "min_isvsvn: 2, spiffe_id: \"spiffe://" TD "/e\"}\n"
                     "    - {type: snp, measurement: \"" MEAS_A_HEX "\", spiffe_id: "
                     "\"spiffe://" TD "/c\", ttl: 5m}\n";
    CHECK_OK(srv_config_parse("t.yaml", ok, strlen(ok), &c, &d));
    CHECK_EQ(c.n_tee_allow, 2);
    CHECK(c.tee_allow[0].signer && c.tee_allow[0].isv_prod_id == 7
          && c.tee_allow[0].min_isv_svn == 2 && c.tee_allow[0].type == WD_ATTEST_SGX);
    CHECK_MEM(c.tee_allow[0].mrsigner, meas_b, 32);
    CHECK_EQ(c.tee_allow[1].type, WD_ATTEST_SEV_SNP);
    CHECK_EQ(c.tee_allow[1].measurement_len, 48);
    CHECK_EQ(c.tee_allow[1].ttl, 300);
    CHECK(c.tee_snp_check_min_tcb && c.tee_snp_min_tcb[0] == 3 && c.tee_snp_min_tcb[1] == 0
          && c.tee_snp_min_tcb[2] == 8 && c.tee_snp_min_tcb[3] == 115);
    CHECK_EQ(c.tee_sgx_tcb_accept, WD_SGX_TCB_BIT(WD_SGX_TCB_UP_TO_DATE)
                                           | WD_SGX_TCB_BIT(WD_SGX_TCB_SW_HARDENING_NEEDED)
                                           | WD_SGX_TCB_BIT(WD_SGX_TCB_UNKNOWN));
    CHECK(!c.tee_allow_sim && c.tee_sim_key == NULL);
    srv_config_cleanup(&c);
    static const char *const bad[] = {
            "tee: {allow_sim: true}\n",
            "tee: {sim_key: \"not a key\"}\n",
            "tee: {unknown: 1}\n",
            "tee: {allow: [{type: tpm, measurement: \"" MEAS_B_HEX "\", spiffe_id: \"spiffe://"
            "a/b\"}]}\n",
            "tee: {allow: [{type: sgx, measurement: \"" MEAS_A_HEX "\", spiffe_id: \"spiffe://"
            "a/b\"}]}\n",
            "tee: {allow: [{type: sim, measurement: \"0102\", spiffe_id: \"spiffe://a/b\"}]}\n",
            "tee: {allow: [{type: sim, spiffe_id: \"spiffe://a/b\"}]}\n",
            "tee: {allow: [{type: snp, mrsigner: \"" MEAS_B_HEX "\", isvprodid: 1, "
            "spiffe_id: \"spiffe://a/b\"}]}\n",
            "tee: {allow: [{type: sgx, mrsigner: \"" MEAS_B_HEX
            "\", spiffe_id: \"spiffe://a/b\"}]}\n",
            "tee: {allow: [{type: sgx, mrsigner: \"" MEAS_B_HEX "\", isvprodid: 70000, "
            "spiffe_id: \"spiffe://a/b\"}]}\n",
            "tee: {allow: [{type: sim, measurement: \"" MEAS_B_HEX "\", spiffe_id: "
            "\"spiffe://a/warden/x\"}]}\n",
            "tee: {allow: [{type: sim, measurement: \"" MEAS_B_HEX
            "\", spiffe_id: \"spiffe://a\"}]}\n",
            "tee: {allow: [{type: sim, measurement: \"" MEAS_B_HEX
            "\", spiffe_id: \"http://a/b\"}]}\n",
            "tee: {allow: [{type: sim, measurement: \"zz" MEAS_B_HEX "\", spiffe_id: "
            "\"spiffe://a/b\"}]}\n",
            "tee: {allow: [7]}\n",
            "tee: {sgx_tcb_accept: [Fine]}\n",
            "tee: {sgx_tcb_accept: [Revoked]}\n",
            "tee: {sgx_tcb_accept: []}\n",
            "tee: {snp_min_tcb: {snp: 256}}\n",
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(bad); i++) {
        srv_config_init(&c);
        int rc = srv_config_parse("t.yaml", bad[i], strlen(bad[i]), &c, &d);
        if (rc == WD_OK) {
            printf("accepted: %s", bad[i]);
        }
        CHECK_ERR(rc, WD_ECONFIG);
        CHECK(strncmp(d.msg, "t.yaml:", 7) == 0);
        srv_config_cleanup(&c);
    }
    /* a P-384 sim key is refused */
    EVP_PKEY *k384 = EVP_EC_gen("P-384");
    CHECK(k384 != NULL);
    BIO *bio = BIO_new(BIO_s_mem());
    CHECK(bio != NULL && PEM_write_bio_PUBKEY(bio, k384) == 1);
    char *kp = NULL;
    long kn = BIO_get_mem_data(bio, &kp);
    struct wd_buf y;
    wd_buf_init(&y, 8192);
    CHECK_OK(wd_buf_printf(&y, "tee:\n  sim_key: \"%.*s\"\n", (int)kn, kp));
    srv_config_init(&c);
    CHECK_ERR(srv_config_parse("t.yaml", y.p, y.len, &c, &d), WD_ECONFIG);
    srv_config_cleanup(&c);
    wd_buf_cleanup(&y);
    BIO_free(bio);
    EVP_PKEY_free(k384);
}

/* The configuration of the test server: sim enabled with sim_key, two sim rules. */
static int tee_yaml(struct wd_buf *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL || PEM_write_bio_PUBKEY(bio, sim_key) != 1) {
        BIO_free(bio);
        return WD_ETLS;
    }
    char *p = NULL;
    long n = BIO_get_mem_data(bio, &p);
    int rc = wd_buf_append_str(out, "tee:\n  allow_sim: true\n  sim_key: |\n");
    /* indent every line of the PEM block */
    for (long i = 0; rc == WD_OK && i < n; i++) {
        if (i == 0 || p[i - 1] == '\n') {
            rc = wd_buf_append_str(out, "    ");
        }
        if (rc == WD_OK) {
            rc = wd_buf_append_byte(out, (uint8_t)p[i]);
        }
    }
    if (rc == WD_OK) {
        rc = wd_buf_append_str(out, "  sgx_tcb_accept: [UpToDate, Unknown]\n"
                                    "  allow:\n"
                                    "    - type: sim\n"
                                    "      measurement: " MEAS_A_HEX "\n"
                                    "      spiffe_id: spiffe://" TD "/enclave/a\n"
                                    "      ttl: 10m\n"
                                    "    - {type: sim, measurement: \"" MEAS_B_HEX
                                    "\", spiffe_id: \"spiffe://" TD "/enclave/b\"}\n");
    }
    BIO_free(bio);
    return rc;
}

int main(void)
{
    for (size_t i = 0; i < 48; i++) {
        meas_a[i] = (uint8_t)(0xa0 + i);
        meas_c[i] = (uint8_t)(0x10 + i);
    }
    for (size_t i = 0; i < 32; i++) {
        meas_b[i] = (uint8_t)(1 + i);
    }
    (void)snprintf(dir, sizeof(dir), "/tmp/wd-test-tee-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return 1;
    }
    char data[480];
    (void)snprintf(data, sizeof(data), "%.200s/d", dir);
    wd_clock_pin(1796000000); /* 2026-11-30: inside the SNP and SGX vectors' validity */
    struct wd_diag d = {{0}};
    if (srv_init_dir(data, TD, NULL, 3600, &d) != WD_OK) {
        printf("init: %s\n", d.msg);
        return 1;
    }
    (void)snprintf(dir, sizeof(dir), "%.250s", data);
    sim_key = EVP_EC_gen("P-256");
    struct wd_buf y;
    wd_buf_init(&y, 65536);
    struct srv_config cfg;
    srv_config_init(&cfg);
    if (sim_key == NULL || tee_yaml(&y) != WD_OK
        || srv_config_parse("tee.yaml", y.p, y.len, &cfg, &d) != WD_OK) {
        printf("config: %s\n%s", d.msg, wd_buf_str(&y));
        return 1;
    }
    wd_buf_cleanup(&y);
    char ca[512];
    (void)snprintf(ca, sizeof(ca), "%.250s/ca", dir);
    if (srv_config_finish(&cfg, dir) != WD_OK || srv_open(&cfg, ca, &S, &d) != WD_OK) {
        printf("open: %s\n", d.msg);
        return 1;
    }
    memset(&peer_anon, 0, sizeof(peer_anon));
    (void)snprintf(peer_anon.addr, sizeof(peer_anon.addr), "127.0.0.1");
    peer_anon.port = 40000;
    peer_anon.tls = true;
    /* open the store handles once so the pool does not grow inside a test */
    struct wd_store *warm = NULL;
    if (srv_store_get(S, &warm) != WD_OK) {
        return 1;
    }
    srv_store_put(S, warm, false);
    RUN(bodies);
    RUN(sim_admitted);
    RUN(sim_refusals);
    RUN(snp_vector);
    RUN(sgx_vector);
    RUN(config_tee);
    srv_close(S);
    srv_config_cleanup(&cfg);
    EVP_PKEY_free(sim_key);
    char parent[512];
    (void)snprintf(parent, sizeof(parent), "%.250s", dir);
    *strrchr(parent, '/') = '\0';
    srv_remove_tree(parent);
    return HARNESS_END("control_tee");
}
