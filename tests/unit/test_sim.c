/*
 * Unit tests for the `sim` attestation backend (lib/attest/sim.c): sign and verify, the
 * strict report parser (every field, truncation and a flipped bit at every offset), wrong
 * keys and report data, and the flow with the CSR evidence extension and its key + nonce
 * binding (include/warden/evidence.h).
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/err.h"
#include "warden/evidence.h"
#include "warden/sim.h"

#include "harness.h"

static uint8_t meas[64], rdata[64];

static void fill(void)
{
    for (size_t i = 0; i < 64; i++) {
        meas[i] = (uint8_t)(0xa0 + i);
        rdata[i] = (uint8_t)i;
    }
}

static int sign(EVP_PKEY *key, size_t mlen, struct wd_buf *out)
{
    wd_buf_init(out, WD_SIM_REPORT_MAX);
    return wd_sim_report_sign(key, meas, mlen, rdata, out);
}

TEST(sign_verify)
{
    fill();
    EVP_PKEY *key = EVP_EC_gen("P-256");
    CHECK(key != NULL);
    const size_t lens[] = {32, 48, 64};
    for (size_t i = 0; i < WD_ARRAY_LEN(lens); i++) {
        struct wd_buf b;
        CHECK_OK(sign(key, lens[i], &b));
        CHECK_EQ(b.len, 11 + lens[i] + 64 + 64);
        CHECK_MEM(b.p, "WDSIMRPT\x00\x01", 10);
        CHECK_EQ(b.p[10], lens[i]);
        struct wd_sim_claims c;
        struct wd_diag d;
        CHECK_OK(wd_sim_verify(key, b.p, b.len, rdata, &c, &d));
        CHECK_EQ(c.attest, WD_ATTEST_SIM);
        CHECK_EQ(c.measurement_len, lens[i]);
        CHECK_MEM(c.measurement, meas, lens[i]);
        CHECK_MEM(c.report_data, rdata, 64);
        CHECK_OK(wd_sim_verify(key, b.p, b.len, NULL, &c, &d));
        struct wd_sim_report r;
        CHECK_OK(wd_sim_report_parse(b.p, b.len, &r, NULL));
        CHECK_EQ(r.version, 1);
        CHECK_EQ(r.signed_part.len, 11 + lens[i] + 64);
        CHECK(r.signed_part.p == b.p);
        wd_buf_cleanup(&b);
    }
    EVP_PKEY_free(key);
}

TEST(refusals)
{
    fill();
    EVP_PKEY *key = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
    EVP_PKEY *p384 = EVP_EC_gen("P-384");
    CHECK(key != NULL && other != NULL && p384 != NULL);
    struct wd_buf b;
    struct wd_sim_claims c;
    struct wd_diag d;
    CHECK_OK(sign(key, 32, &b));
    CHECK_ERR(wd_sim_verify(other, b.p, b.len, NULL, &c, &d), WD_ECRYPTO);
    CHECK_STR(d.msg, "sim report: signature does not verify");
    CHECK_ERR(wd_sim_verify(p384, b.p, b.len, NULL, &c, &d), WD_EPROTO);
    uint8_t rd2[64];
    memcpy(rd2, rdata, 64);
    rd2[63] ^= 1;
    CHECK_ERR(wd_sim_verify(key, b.p, b.len, rd2, &c, &d), WD_EDENIED);
    CHECK_STR(d.msg, "sim report: report data does not match");
    CHECK_ERR(wd_sim_verify(NULL, b.p, b.len, NULL, &c, &d), WD_EINVAL);
    /* A flipped bit anywhere is refused: a parse error or a bad signature. */
    uint8_t t[WD_SIM_REPORT_MAX + 1];
    for (size_t i = 0; i < b.len; i++) {
        for (unsigned bit = 0; bit < 8; bit += 3) {
            memcpy(t, b.p, b.len);
            t[i] ^= (uint8_t)(1u << bit);
            int rc = wd_sim_verify(key, t, b.len, NULL, &c, &d);
            CHECK(rc == WD_EPROTO || rc == WD_ECRYPTO);
        }
    }
    /* Truncation at every offset, and a trailing byte. */
    struct wd_sim_report r;
    for (size_t n = 0; n < b.len; n++) {
        const char *why = NULL;
        CHECK_ERR(wd_sim_report_parse(b.p, n, &r, &why), WD_EPROTO);
        CHECK(why != NULL);
        CHECK_ERR(wd_sim_verify(key, b.p, n, NULL, &c, &d), WD_EPROTO);
    }
    memcpy(t, b.p, b.len);
    t[b.len] = 0;
    const char *why = NULL;
    CHECK_ERR(wd_sim_report_parse(t, b.len + 1, &r, &why), WD_EPROTO);
    CHECK_STR(why, "trailing bytes");
    /* Each header rule. */
    memcpy(t, b.p, b.len);
    t[0] = 'X';
    CHECK_ERR(wd_sim_report_parse(t, b.len, &r, &why), WD_EPROTO);
    CHECK_STR(why, "bad magic");
    memcpy(t, b.p, b.len);
    t[9] = 2;
    CHECK_ERR(wd_sim_report_parse(t, b.len, &r, &why), WD_EPROTO);
    CHECK_STR(why, "unsupported version");
    memcpy(t, b.p, b.len);
    t[10] = 31;
    CHECK_ERR(wd_sim_report_parse(t, b.len, &r, &why), WD_EPROTO);
    CHECK_STR(why, "measurement must be 32 to 64 bytes");
    t[10] = 65;
    CHECK_ERR(wd_sim_report_parse(t, b.len, &r, &why), WD_EPROTO);
    CHECK_STR(why, "measurement must be 32 to 64 bytes");
    CHECK_ERR(wd_sim_report_parse(NULL, 0, &r, &why), WD_EPROTO);
    CHECK_STR(why, "truncated");
    /* Signing rules. */
    struct wd_buf o;
    wd_buf_init(&o, WD_SIM_REPORT_MAX);
    CHECK_ERR(wd_sim_report_sign(key, meas, 31, rdata, &o), WD_EINVAL);
    CHECK_ERR(wd_sim_report_sign(key, meas, 65, rdata, &o), WD_EINVAL);
    CHECK_ERR(wd_sim_report_sign(p384, meas, 32, rdata, &o), WD_EPROTO);
    CHECK_EQ(o.len, 0);
    wd_buf_cleanup(&o);
    wd_buf_cleanup(&b);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
    EVP_PKEY_free(p384);
}

/* The sim flow with the CSR evidence extension: workload key W, server nonce N. */
TEST(csr_evidence_flow)
{
    fill();
    EVP_PKEY *sim_key = EVP_EC_gen("P-256"), *w = EVP_EC_gen("P-256"), *w2 = EVP_EC_gen("P-256");
    CHECK(sim_key != NULL && w != NULL && w2 != NULL);
    uint8_t nonce[32], bind[64];
    memset(nonce, 0x42, sizeof(nonce));
    CHECK_OK(wd_evidence_binding(w, nonce, sizeof(nonce), bind));
    struct wd_buf rep, der;
    wd_buf_init(&rep, WD_SIM_REPORT_MAX);
    wd_buf_init(&der, WD_EVIDENCE_DER_MAX);
    CHECK_OK(wd_sim_report_sign(sim_key, meas, 48, bind, &rep));
    struct wd_evidence ev = {
            .type = WD_ATTEST_SIM,
            .evidence = {rep.p, rep.len},
            .nonce = {nonce, sizeof(nonce)},
    };
    X509_REQ *req = X509_REQ_new();
    CHECK(req != NULL);
    CHECK(X509_REQ_set_pubkey(req, w) == 1);
    CHECK_OK(wd_evidence_req_add(req, &ev, NULL));
    CHECK(X509_REQ_sign(req, w, EVP_sha256()) > 0);
    /* The relying party. */
    struct wd_evidence got;
    struct wd_sim_claims c;
    struct wd_diag d;
    CHECK_OK(wd_evidence_req_get(req, &der, &got, &d));
    CHECK_EQ(got.type, WD_ATTEST_SIM);
    CHECK_OK(wd_sim_verify(sim_key, got.evidence.p, got.evidence.len, NULL, &c, &d));
    EVP_PKEY *csr_key = X509_REQ_get0_pubkey(req);
    CHECK_OK(wd_evidence_check_binding(csr_key, &got, c.report_data, &d));
    CHECK_EQ(c.attest, WD_ATTEST_SIM);
    CHECK_MEM(c.measurement, meas, 48);
    /* The same evidence for another key, or with another nonce, is refused. */
    CHECK_ERR(wd_evidence_check_binding(w2, &got, c.report_data, &d), WD_EDENIED);
    uint8_t n2[32];
    memset(n2, 0x43, sizeof(n2));
    struct wd_evidence moved = got;
    moved.nonce = (struct wd_slice){n2, sizeof(n2)};
    CHECK_ERR(wd_evidence_check_binding(csr_key, &moved, c.report_data, &d), WD_EDENIED);
    /* Verifying with the expected binding directly does the same. */
    uint8_t bind2[64];
    CHECK_OK(wd_evidence_binding(w2, nonce, sizeof(nonce), bind2));
    CHECK_ERR(wd_sim_verify(sim_key, got.evidence.p, got.evidence.len, bind2, &c, &d), WD_EDENIED);
    X509_REQ_free(req);
    wd_buf_cleanup(&rep);
    wd_buf_cleanup(&der);
    EVP_PKEY_free(sim_key);
    EVP_PKEY_free(w);
    EVP_PKEY_free(w2);
}

static int sign_once(EVP_PKEY *key)
{
    struct wd_buf b;
    int rc = sign(key, 64, &b);
    wd_buf_cleanup(&b);
    return rc;
}

TEST(alloc_sweep)
{
    fill();
    EVP_PKEY *key = EVP_EC_gen("P-256");
    CHECK(key != NULL);
    CHECK_ALLOC_SWEEP(sign_once(key), (void)0);
    EVP_PKEY_free(key);
}

int main(void)
{
    RUN(sign_verify);
    RUN(refusals);
    RUN(csr_evidence_flow);
    RUN(alloc_sweep);
    return HARNESS_END("sim");
}
