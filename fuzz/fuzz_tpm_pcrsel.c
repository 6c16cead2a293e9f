/*
 * Fuzz the TPML_PCR_SELECTION parser (TPM 2.0 Part 2 §10.9.7). An accepted input is the
 * canonical encoding of what was parsed (marshalling gives the same bytes back), respects
 * every bound, and the selected-PCR count agrees with a count made here bit by bit.
 * A refusal is always WD_EPROTO with a reason.
 */
#include <stdint.h>
#include <string.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/tpm.h"

#define TPM_FUZZ_MAX 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > TPM_FUZZ_MAX) {
        return 0;
    }
    struct wd_tpm_pcr_selection sel;
    enum wd_tpm_reason why = WD_TPM_OK;
    int rc = wd_tpm_pcr_selection_parse(data, size, &sel, &why);
    if (rc != WD_OK) {
        WD_BUG_ON(rc != WD_EPROTO || why == WD_TPM_OK);
        return 0;
    }
    WD_BUG_ON(sel.count > WD_TPM_PCR_BANKS_MAX);
    size_t want_count = 0, want_bytes = 0;
    for (uint32_t i = 0; i < sel.count; i++) {
        const struct wd_tpm_pcr_bank *b = &sel.banks[i];
        WD_BUG_ON(wd_tpm_hash_size(b->hash) == 0);
        WD_BUG_ON(b->size_of_select < WD_TPM_PCR_SELECT_MIN
                  || b->size_of_select > WD_TPM_PCR_SELECT_MAX);
        for (uint32_t j = 0; j < i; j++) {
            WD_BUG_ON(sel.banks[j].hash == b->hash);
        }
        for (unsigned byte = 0; byte < b->size_of_select; byte++) {
            for (unsigned bit = 0; bit < 8; bit++) {
                bool on = (b->select[byte] >> bit) & 1u;
                WD_BUG_ON(on != wd_tpm_pcr_selected(b, byte * 8 + bit));
                if (on) {
                    want_count++;
                    want_bytes += wd_tpm_hash_size(b->hash);
                }
            }
        }
    }
    size_t count = 0, bytes = 0;
    wd_tpm_pcr_selection_size(&sel, &count, &bytes);
    WD_BUG_ON(count != want_count || bytes != want_bytes);
    struct wd_buf out;
    wd_buf_init(&out, TPM_FUZZ_MAX);
    rc = wd_tpm_pcr_selection_marshal(&sel, &out);
    WD_BUG_ON(rc != WD_OK && rc != WD_ENOMEM);
    WD_BUG_ON(rc == WD_OK && (out.len != size || memcmp(out.p, data, size) != 0));
    wd_buf_cleanup(&out);
    return 0;
}
