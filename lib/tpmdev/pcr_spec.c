/*
 * PCR selection text ("sha256:0,1,7+sha1:0") to a TPML_PCR_SELECTION and back. Pure: the
 * parser allocates nothing and touches no global, so it is fuzzed directly
 * (fuzz/fuzz_tpm_pcrspec.c).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "warden/buf.h"
#include "warden/err.h"
#include "warden/tpm.h"
#include "warden/tpm_dev.h"

/* Longest selection text accepted: 4 banks of all 32 PCRs take 371 characters. */
#define SPEC_MAX 511

/* PCR_SELECT_MIN (Part 2 §10.6.2, PC Client profile): 3 bytes cover PCRs 0..23. */
#define PCRS_IN_MIN_SELECT (8 * WD_TPM_PCR_SELECT_MIN)

static const struct {
    const char *name;
    uint16_t alg;
} banks[] = {
        {"sha1", WD_TPM_ALG_SHA1},
        {"sha256", WD_TPM_ALG_SHA256},
        {"sha384", WD_TPM_ALG_SHA384},
        {"sha512", WD_TPM_ALG_SHA512},
};

static int bad(struct wd_diag *diag, size_t off, const char *what)
{
    return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "PCR selection, column %zu: %s", off + 1, what);
}

/* The bank name spec[off..off+n): its TPM_ALG_ID, or 0. */
static uint16_t bank_alg(const char *p, size_t n)
{
    for (size_t i = 0; i < WD_ARRAY_LEN(banks); i++) {
        if (strlen(banks[i].name) == n && memcmp(banks[i].name, p, n) == 0) {
            return banks[i].alg;
        }
    }
    return 0;
}

static const char *bank_name(uint16_t alg)
{
    for (size_t i = 0; i < WD_ARRAY_LEN(banks); i++) {
        if (banks[i].alg == alg) {
            return banks[i].name;
        }
    }
    return NULL;
}

/* One "BANK:PCR,..." starting at *off, ending at '+' or the end; *off moves past it. */
static int parse_bank(const char *spec, size_t len, size_t *off, struct wd_tpm_pcr_bank *b,
                      struct wd_diag *diag)
{
    size_t start = *off, i = *off;
    while (i < len && spec[i] != ':' && spec[i] != '+' && spec[i] != ',') {
        i++;
    }
    if (i == start) {
        return bad(diag, start, "expected a bank name (sha1, sha256, sha384, sha512)");
    }
    b->hash = bank_alg(spec + start, i - start);
    if (b->hash == 0) {
        return bad(diag, start, "unknown bank (want sha1, sha256, sha384 or sha512)");
    }
    if (i == len || spec[i] != ':') {
        return bad(diag, i, "expected ':' after the bank name");
    }
    i++;
    b->size_of_select = WD_TPM_PCR_SELECT_MIN;
    memset(b->select, 0, sizeof(b->select));
    for (;;) {
        size_t num = i;
        unsigned v = 0;
        while (i < len && spec[i] >= '0' && spec[i] <= '9' && i - num < 3) {
            v = v * 10 + (unsigned)(spec[i] - '0');
            i++;
        }
        if (i == num) {
            return bad(diag, num, "expected a PCR number");
        }
        if (i - num > 1 && spec[num] == '0') {
            return bad(diag, num, "PCR number with a leading zero");
        }
        if (v >= WD_TPM_PCR_MAX || (i < len && spec[i] >= '0' && spec[i] <= '9')) {
            return bad(diag, num, "PCR number out of range (0..31)");
        }
        if (wd_tpm_pcr_selected(b, v)) {
            return bad(diag, num, "PCR listed twice in the bank");
        }
        b->select[v / 8] |= (uint8_t)(1u << (v % 8));
        if (v >= PCRS_IN_MIN_SELECT) {
            b->size_of_select = WD_TPM_PCR_SELECT_MAX;
        }
        if (i == len || spec[i] == '+') {
            break;
        }
        if (spec[i] != ',') {
            return bad(diag, i, "expected ',' or '+' after a PCR number");
        }
        i++;
    }
    *off = i;
    return WD_OK;
}

int wd_tpm_pcr_spec_parse(const char *spec, struct wd_tpm_pcr_selection *out, struct wd_diag *diag)
{
    if (spec == NULL || out == NULL) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "PCR selection: missing argument");
    }
    size_t len = strnlen(spec, SPEC_MAX + 1);
    if (len == 0) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "PCR selection: empty");
    }
    if (len > SPEC_MAX) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "PCR selection: longer than %d characters",
                           SPEC_MAX);
    }
    memset(out, 0, sizeof(*out));
    size_t off = 0;
    for (;;) {
        if (out->count == WD_TPM_PCR_BANKS_MAX) {
            return bad(diag, off, "more than 4 banks");
        }
        struct wd_tpm_pcr_bank *b = &out->banks[out->count];
        int rc = parse_bank(spec, len, &off, b, diag);
        if (rc != WD_OK) {
            return rc;
        }
        /* TPML_PCR_SELECTION (Part 2 §10.9.7): a bank at most once, or the TPM refuses. */
        for (uint32_t j = 0; j < out->count; j++) {
            if (out->banks[j].hash == b->hash) {
                return bad(diag, off, "bank selected twice");
            }
        }
        out->count++;
        if (off == len) {
            return WD_OK;
        }
        off++; /* the '+' */
    }
}

int wd_tpm_pcr_spec_format(const struct wd_tpm_pcr_selection *sel, struct wd_buf *out)
{
    WD_ENSURE(sel != NULL && out != NULL, WD_EINVAL);
    WD_ENSURE(sel->count >= 1 && sel->count <= WD_TPM_PCR_BANKS_MAX, WD_EINVAL);
    /* Built aside so that out is untouched on error. */
    struct wd_buf tmp;
    wd_buf_init(&tmp, out->max);
    int rc = WD_OK;
    for (uint32_t i = 0; i < sel->count; i++) {
        const struct wd_tpm_pcr_bank *b = &sel->banks[i];
        const char *name = bank_name(b->hash);
        if (name == NULL || b->size_of_select < WD_TPM_PCR_SELECT_MIN
            || b->size_of_select > WD_TPM_PCR_SELECT_MAX) {
            rc = WD_EINVAL;
            goto out;
        }
        WD_CHECK(wd_buf_printf(&tmp, "%s%s:", i > 0 ? "+" : "", name));
        bool first = true;
        for (unsigned pcr = 0; pcr < 8u * b->size_of_select; pcr++) {
            if (wd_tpm_pcr_selected(b, pcr)) {
                WD_CHECK(wd_buf_printf(&tmp, "%s%u", first ? "" : ",", pcr));
                first = false;
            }
        }
        if (first) {
            rc = WD_EINVAL;
            goto out;
        }
    }
    WD_CHECK(wd_buf_append(out, tmp.p, tmp.len));
out:
    wd_buf_cleanup(&tmp);
    return rc;
}
