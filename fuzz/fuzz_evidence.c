/*
 * Fuzz the TEE evidence CSR extension decoder. DER allows one encoding per value, so anything
 * the decoder accepts must encode back to exactly the input bytes, and its fields must keep
 * to the bounds of include/warden/evidence.h.
 */
#include <stdint.h>
#include <string.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/evidence.h"

#define EVIDENCE_INPUT_MAX (WD_EVIDENCE_DER_MAX + 16)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > EVIDENCE_INPUT_MAX) {
        return 0;
    }
    struct wd_evidence ev;
    const char *reason = NULL;
    int rc = wd_evidence_decode(data, size, &ev, &reason);
    if (rc != WD_OK) {
        WD_BUG_ON(rc != WD_EPROTO || reason == NULL);
        WD_BUG_ON(ev.evidence.p != NULL || ev.nonce.p != NULL || ev.has_chain);
        return 0;
    }
    WD_BUG_ON(ev.type != WD_ATTEST_SEV_SNP && ev.type != WD_ATTEST_SGX && ev.type != WD_ATTEST_SIM);
    WD_BUG_ON(ev.evidence.len < 1 || ev.evidence.len > WD_EVIDENCE_MAX);
    WD_BUG_ON(ev.nonce.len < WD_EVIDENCE_NONCE_MIN || ev.nonce.len > WD_EVIDENCE_NONCE_MAX);
    WD_BUG_ON(ev.has_chain && (ev.chain.len < 1 || ev.chain.len > WD_EVIDENCE_MAX));
    WD_BUG_ON(ev.evidence.p < data || ev.evidence.p + ev.evidence.len > data + size);
    WD_BUG_ON(ev.nonce.p < data || ev.nonce.p + ev.nonce.len > data + size);
    struct wd_buf again;
    wd_buf_init(&again, WD_EVIDENCE_DER_MAX);
    rc = wd_evidence_encode(&ev, &again);
    WD_BUG_ON(rc != WD_OK && rc != WD_ENOMEM);
    if (rc == WD_OK) {
        WD_BUG_ON(again.len != size || memcmp(again.p, data, size) != 0);
    }
    wd_buf_cleanup(&again);
    return 0;
}
