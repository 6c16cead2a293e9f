/*
 * Fuzz the attacker-facing parts of warden-control's TEE routes (src/control/api_tee.c).
 * The first byte picks: 0 the challenge body, 1 the /v1/tee/svid body, 2 a CSR read with its
 * evidence extension (then the SEV-SNP chain split of its chain), 3 the chain split alone.
 * Beyond "no crash, no leak": decoded values obey their documented forms.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "warden/common.h"
#include "warden/evidence.h"

#include "../src/control/api_decode.h"
#include "../src/control/api_tee.h"

#define INPUT_CAP (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void split(struct wd_slice c)
{
    struct wd_slice v, e;
    if (srv_tee_snp_split(c, &v, &e) == WD_OK) {
        WD_BUG_ON(v.p != c.p || v.len == 0 || v.len + e.len != c.len);
        WD_BUG_ON(e.len > 0 && e.p != c.p + v.len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > INPUT_CAP) {
        return 0;
    }
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    struct wd_diag d;
    switch (data[0] % 4) {
    case 0: {
        enum wd_attest a = WD_ATTEST_NONE;
        if (srv_tee_decode_challenge(p, n, &a, &d) == WD_OK) {
            WD_BUG_ON(a != WD_ATTEST_SEV_SNP && a != WD_ATTEST_SGX && a != WD_ATTEST_SIM);
        }
        break;
    }
    case 1: {
        struct srv_tee_body b;
        if (srv_tee_decode_svid(p, n, &b, &d) == WD_OK) {
            WD_BUG_ON(!srv_id_valid(b.session, strlen(b.session)));
            WD_BUG_ON(b.csr_len == 0 || b.csr_len > SRV_TEE_CSR_MAX);
            srv_tee_body_cleanup(&b);
        }
        break;
    }
    case 2: {
        EVP_PKEY *pub = NULL;
        X509_REQ *req = NULL;
        struct wd_buf der;
        struct wd_evidence ev;
        wd_buf_init(&der, WD_EVIDENCE_DER_MAX);
        if (srv_tee_csr((const char *)p, n, &pub, &req, &d) == WD_OK) {
            WD_BUG_ON(pub == NULL || req == NULL);
            if (wd_evidence_req_get(req, &der, &ev, &d) == WD_OK && ev.has_chain) {
                split(ev.chain);
            }
        }
        wd_buf_cleanup(&der);
        EVP_PKEY_free(pub);
        X509_REQ_free(req);
        break;
    }
    default:
        split((struct wd_slice){p, n});
        break;
    }
    return 0;
}
