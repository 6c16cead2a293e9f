/*
 * Fuzz the SEV-SNP attestation report loader and parser (raw or hex input). An accepted
 * report is canonical: writing its fields back at their offsets gives exactly the raw
 * bytes (the reserved ones are zero), and its hex form parses to the same fields. A refused
 * one says why with a structure reason.
 */
#include <stdint.h>
#include <string.h>

#include "warden/common.h"
#include "warden/err.h"
#include "warden/snp.h"

#define MAX_INPUT (WD_SNP_INPUT_MAX + 16)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* The inverse of the parser, field by field ([ABI] Table 22/23). */
static void encode(const struct wd_snp_report *r, const uint8_t *raw, uint8_t *out)
{
    memset(out, 0, WD_SNP_REPORT_SIZE);
    put(out + 0x000, r->version, 4);
    put(out + 0x004, r->guest_svn, 4);
    put(out + 0x008, r->policy, 8);
    memcpy(out + 0x010, r->family_id, 16);
    memcpy(out + 0x020, r->image_id, 16);
    put(out + 0x030, r->vmpl, 4);
    put(out + 0x034, r->sig_algo, 4);
    put(out + 0x038, r->current_tcb.raw, 8);
    put(out + 0x040, r->platform_info, 8);
    put(out + 0x048,
        (uint32_t)r->author_key_en | (uint32_t)r->mask_chip_key << 1
                | (uint32_t)r->signing_key << 2,
        4);
    memcpy(out + 0x050, r->report_data, 64);
    memcpy(out + 0x090, r->measurement, 48);
    memcpy(out + 0x0C0, r->host_data, 32);
    memcpy(out + 0x0E0, r->id_key_digest, 48);
    memcpy(out + 0x110, r->author_key_digest, 48);
    memcpy(out + 0x140, r->report_id, 32);
    memcpy(out + 0x160, r->report_id_ma, 32);
    put(out + 0x180, r->reported_tcb.raw, 8);
    if (r->has_cpuid) {
        out[0x188] = r->cpuid_fam_id;
        out[0x189] = r->cpuid_mod_id;
        out[0x18A] = r->cpuid_step;
    }
    memcpy(out + 0x1A0, r->chip_id, 64);
    put(out + 0x1E0, r->committed_tcb.raw, 8);
    out[0x1E8] = r->current_build;
    out[0x1E9] = r->current_minor;
    out[0x1EA] = r->current_major;
    out[0x1EC] = r->committed_build;
    out[0x1ED] = r->committed_minor;
    out[0x1EE] = r->committed_major;
    put(out + 0x1F0, r->launch_tcb.raw, 8);
    if (r->has_mit_vectors) {
        put(out + 0x1F8, r->launch_mit_vector, 8);
        put(out + 0x200, r->current_mit_vector, 8);
    } else if (r->version == 4) {
        /* Version 4's bytes there are kept as they are, not parsed. */
        memcpy(out + 0x1F8, raw + 0x1F8, 16);
    }
    for (size_t i = 0; i < 48; i++) {
        out[0x2A0 + i] = r->sig_r[47 - i];
        out[0x2E8 + i] = r->sig_s[47 - i];
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t raw[WD_SNP_REPORT_SIZE], again[WD_SNP_REPORT_SIZE];
    static char hex[WD_SNP_REPORT_HEX_SIZE];
    struct wd_snp_report r, r2;
    enum wd_snp_reason why = WD_SNP_OK;
    if (size > MAX_INPUT) {
        return 0;
    }
    int rc = wd_snp_report_parse(data, size, &r, &why);
    if (rc != WD_OK) {
        WD_BUG_ON(rc != WD_EPROTO);
        WD_BUG_ON(why == WD_SNP_OK || wd_snp_reason_err(why) != WD_EPROTO);
        WD_BUG_ON(strcmp(wd_snp_reason_name(why), "unknown") == 0);
        return 0;
    }
    WD_BUG_ON(r.version < WD_SNP_VERSION_MIN || r.version > WD_SNP_VERSION_MAX);
    WD_BUG_ON(r.sig_algo != WD_SNP_SIG_ALGO_ECDSA_P384_SHA384);
    WD_BUG_ON(r.has_cpuid != (r.version >= 3));
    WD_BUG_ON(r.has_mit_vectors != (r.version >= 5));
    WD_BUG_ON(wd_snp_report_load(data, size, raw, NULL) != WD_OK);
    encode(&r, raw, again);
    WD_BUG_ON(memcmp(raw, again, WD_SNP_REPORT_SIZE) != 0);

    /* The hex form of the raw bytes reads the same. */
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < WD_SNP_REPORT_SIZE; i++) {
        hex[2 * i] = digits[raw[i] >> 4];
        hex[2 * i + 1] = digits[raw[i] & 0x0F];
    }
    WD_BUG_ON(wd_snp_report_parse((const uint8_t *)hex, sizeof(hex), &r2, NULL) != WD_OK);
    WD_BUG_ON(memcmp(&r, &r2, sizeof(r)) != 0);

    /* Re-decoding for each product keeps the raw TCB words. */
    for (int p = WD_SNP_PRODUCT_UNKNOWN; p <= WD_SNP_TURIN; p++) {
        wd_snp_report_set_product(&r2, (enum wd_snp_product)p);
        WD_BUG_ON(r2.reported_tcb.raw != r.reported_tcb.raw);
        WD_BUG_ON(r2.product != (enum wd_snp_product)p);
    }
    return 0;
}
