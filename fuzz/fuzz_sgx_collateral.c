/*
 * Fuzz the decoders of SGX DCAP collateral and PCK certificates. The first byte selects the
 * decoder, the rest is its input:
 *   0  the SGX extension of a PCK certificate (DER, sgx_pck_ext_parse)
 *   1  a signed TCB info document (JSON, sgx_signed_json_parse + sgx_tcb_info_read)
 *   2  a signed QE identity document (JSON, sgx_signed_json_parse + sgx_qe_identity_read)
 *   3  a CRL (DER or PEM, sgx_crls_parse)
 * Invariants: the signed body is an object inside the input; decoded levels are bounded;
 * nothing leaks.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/err.h>

#include "warden/common.h"
#include "warden/err.h"
#include "warden/sgx.h"

#include "attest/sgx_int.h"

#define SGX_COLL_FUZZ_MAX (32 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void json_doc(struct wd_slice in, const char *member)
{
    struct sgx_signed_json sj;
    enum wd_sgx_reason why = WD_SGX_OK;
    int rc = sgx_signed_json_parse("fuzz", in, member, &sj, &why, NULL);
    if (rc != WD_OK) {
        WD_BUG_ON(rc != WD_ENOMEM && (rc != WD_EPROTO || why != WD_SGX_COLLATERAL_MALFORMED));
        return;
    }
    WD_BUG_ON(sj.body.p < in.p || sj.body.p + sj.body.len > in.p + in.len);
    WD_BUG_ON(sj.body.len < 2 || sj.body.p[0] != '{' || sj.body.p[sj.body.len - 1] != '}');
    if (member[0] == 't') {
        struct sgx_tcb_info t;
        rc = sgx_tcb_info_read(&sj, &t, &why, NULL);
        WD_BUG_ON(rc == WD_OK && (t.n_levels == 0 || t.n_levels > SGX_TCB_LEVELS_MAX));
        WD_BUG_ON(rc == WD_OK && (t.version < 2 || t.version > 3));
        sgx_tcb_info_cleanup(&t);
    } else {
        struct sgx_qe_identity q;
        rc = sgx_qe_identity_read(&sj, &q, &why, NULL);
        WD_BUG_ON(rc == WD_OK && (q.n_levels == 0 || q.n_levels > SGX_TCB_LEVELS_MAX));
        sgx_qe_identity_cleanup(&q);
    }
    WD_BUG_ON(rc != WD_OK && rc != WD_ENOMEM && rc != WD_EPROTO);
    sgx_signed_json_cleanup(&sj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > SGX_COLL_FUZZ_MAX) {
        return 0;
    }
    struct wd_slice in = {data + 1, size - 1};
    switch (data[0] & 3) {
    case 0: {
        struct sgx_pck_ext e;
        int rc = sgx_pck_ext_parse(in.p, in.len, &e);
        WD_BUG_ON(rc != WD_OK && rc != WD_EPROTO);
        break;
    }
    case 1:
        json_doc(in, "tcbInfo");
        break;
    case 2:
        json_doc(in, "enclaveIdentity");
        break;
    default: {
        struct wd_sgx_collateral c = {.crls = &in, .n_crls = 1};
        STACK_OF(X509_CRL) *crls = NULL;
        enum wd_sgx_reason why = WD_SGX_OK;
        int rc = sgx_crls_parse(&c, &crls, &why, NULL);
        WD_BUG_ON(rc == WD_OK && (crls == NULL || sk_X509_CRL_num(crls) != 1));
        WD_BUG_ON(rc != WD_OK && rc != WD_ENOMEM && why != WD_SGX_CRL_MALFORMED);
        sk_X509_CRL_pop_free(crls, X509_CRL_free);
        break;
    }
    }
    ERR_clear_error();
    return 0;
}
