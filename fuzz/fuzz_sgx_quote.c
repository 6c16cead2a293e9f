/*
 * Fuzz the SGX DCAP quote parser, then the whole verifier on the same bytes (evidence only,
 * at a pinned time, against the pinned Intel root): the PEM chain, path validation, the
 * signatures and the attestation key binding all see hostile input. Invariants: a parsed
 * quote's slices lie inside the input and account for every byte; a refusal always names a
 * reason; claims exist only for verified evidence.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/err.h>

#include "warden/clock.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/sgx.h"

#define SGX_FUZZ_MAX (16 * 1024)
#define SGX_FUZZ_NOW 1748736000 /* 2025-06-01: the Occlum seed's PCK chain is valid */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(struct wd_slice s, const uint8_t *data, size_t size)
{
    return s.len == 0 || (s.p >= data && s.len <= size && s.p + s.len <= data + size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > SGX_FUZZ_MAX) {
        return 0;
    }
    struct wd_sgx_quote q;
    enum wd_sgx_reason why = WD_SGX_OK;
    int rc = wd_sgx_quote_parse(data, size, &q, &why);
    if (rc == WD_OK) {
        WD_BUG_ON(why != WD_SGX_OK);
        WD_BUG_ON(q.version != 3 || q.att_key_type != 2 || q.tee_type != 0 || q.cert_type != 5);
        WD_BUG_ON(q.signed_data.p != data || q.signed_data.len != 432);
        WD_BUG_ON(q.isv.raw.p != data + 48 || q.qe.raw.p != data + 436 + 128);
        WD_BUG_ON(!inside(q.qe_auth_data, data, size) || !inside(q.cert_data, data, size));
        WD_BUG_ON((size_t)q.sig_data_len + 436 != size);
        WD_BUG_ON(q.cert_data.p + q.cert_data.len != data + size);
        WD_BUG_ON(578 + q.qe_auth_data.len + 6 + q.cert_data.len != q.sig_data_len);
    } else {
        WD_BUG_ON(rc != WD_EPROTO && rc != WD_ELIMIT);
        WD_BUG_ON(why == WD_SGX_OK || why >= WD_SGX_REASON_COUNT_);
    }

    /* The TDX parser (claims only) on the same bytes. */
    struct wd_tdx_quote t;
    enum wd_sgx_reason twhy = WD_SGX_OK;
    int trc = wd_tdx_quote_parse(data, size, &t, &twhy);
    WD_BUG_ON(trc == WD_OK && rc == WD_OK); /* never both an SGX and a TDX quote */
    WD_BUG_ON(trc == WD_OK
              && (!inside(t.sig_data, data, size) || (t.version != 4 && t.version != 5)));
    WD_BUG_ON(trc == WD_OK && t.sig_data.len > 0 && t.sig_data.p + t.sig_data.len != data + size);
    WD_BUG_ON(trc != WD_OK && (twhy == WD_SGX_OK || (trc != WD_EPROTO && trc != WD_ELIMIT)));

    wd_clock_pin(SGX_FUZZ_NOW);
    struct wd_sgx_result res;
    struct wd_diag diag;
    int vrc = wd_sgx_verify(data, size, NULL, NULL, &res, &diag);
    if (vrc == WD_OK) {
        WD_BUG_ON(rc != WD_OK || res.reason != WD_SGX_OK || !res.has_claims);
    } else if (vrc != WD_ENOMEM && vrc != WD_ETLS) {
        WD_BUG_ON(res.reason == WD_SGX_OK || res.has_claims);
        WD_BUG_ON(strncmp(diag.msg, wd_sgx_reason_name(res.reason),
                          strlen(wd_sgx_reason_name(res.reason)))
                  != 0);
        /* a parse failure is reported by the verifier with the same reason */
        WD_BUG_ON(rc != WD_OK && res.reason != why);
    }
    wd_clock_unpin();
    ERR_clear_error();
    return 0;
}
