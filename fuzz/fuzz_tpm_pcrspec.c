/*
 * Fuzz the PCR selection text parser (wd_tpm_pcr_spec_parse, lib/tpmdev/pcr_spec.c). The
 * input is used as the text up to its first NUL. An accepted spec gives a selection the
 * verifier's TPML_PCR_SELECTION rules accept (1..4 distinct known banks, sizeofSelect 3 or
 * 4, at least one PCR per bank), and formatting it then parsing the text again gives the
 * same selection. A refusal is always WD_EINVAL with a "PCR selection" message.
 */
#include <stdint.h>
#include <string.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/tpm.h"
#include "warden/tpm_dev.h"

#define SPEC_FUZZ_MAX 600

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > SPEC_FUZZ_MAX) {
        return 0;
    }
    char text[SPEC_FUZZ_MAX + 1];
    memcpy(text, data, size);
    text[size] = '\0';
    struct wd_tpm_pcr_selection sel;
    struct wd_diag diag;
    diag.msg[0] = '\0';
    int rc = wd_tpm_pcr_spec_parse(text, &sel, &diag);
    if (rc != WD_OK) {
        WD_BUG_ON(rc != WD_EINVAL);
        WD_BUG_ON(strncmp(diag.msg, "PCR selection", 13) != 0);
        return 0;
    }
    WD_BUG_ON(sel.count < 1 || sel.count > WD_TPM_PCR_BANKS_MAX);
    for (uint32_t i = 0; i < sel.count; i++) {
        const struct wd_tpm_pcr_bank *b = &sel.banks[i];
        WD_BUG_ON(wd_tpm_hash_size(b->hash) == 0);
        WD_BUG_ON(b->size_of_select != WD_TPM_PCR_SELECT_MIN
                  && b->size_of_select != WD_TPM_PCR_SELECT_MAX);
        bool any = false, high = false;
        for (unsigned pcr = 0; pcr < WD_TPM_PCR_MAX; pcr++) {
            bool on = (b->select[pcr / 8] >> (pcr % 8)) & 1u;
            any = any || on;
            high = high || (on && pcr >= 8 * WD_TPM_PCR_SELECT_MIN);
        }
        WD_BUG_ON(!any);
        WD_BUG_ON(high != (b->size_of_select == WD_TPM_PCR_SELECT_MAX));
        for (uint32_t j = 0; j < i; j++) {
            WD_BUG_ON(sel.banks[j].hash == b->hash);
        }
    }
    /* The verifier's parser takes what we would send the TPM. */
    struct wd_buf bin;
    wd_buf_init(&bin, 256);
    rc = wd_tpm_pcr_selection_marshal(&sel, &bin);
    WD_BUG_ON(rc != WD_OK && rc != WD_ENOMEM);
    if (rc == WD_OK) {
        struct wd_tpm_pcr_selection back;
        enum wd_tpm_reason why = WD_TPM_OK;
        WD_BUG_ON(wd_tpm_pcr_selection_parse(bin.p, bin.len, &back, &why) != WD_OK);
        WD_BUG_ON(memcmp(&back, &sel, sizeof(sel)) != 0);
    }
    wd_buf_cleanup(&bin);
    /* Canonical text round-trips. */
    struct wd_buf txt;
    wd_buf_init(&txt, 1024);
    rc = wd_tpm_pcr_spec_format(&sel, &txt);
    WD_BUG_ON(rc != WD_OK && rc != WD_ENOMEM);
    if (rc == WD_OK) {
        struct wd_tpm_pcr_selection again;
        WD_BUG_ON(wd_tpm_pcr_spec_parse(wd_buf_str(&txt), &again, NULL) != WD_OK);
        WD_BUG_ON(memcmp(&again, &sel, sizeof(sel)) != 0);
    }
    wd_buf_cleanup(&txt);
    return 0;
}
