/* Private helpers shared by the lib/attest/snp*.c and amd_roots.c files. Not a public API. */
#ifndef WD_SNP_INT_H
#define WD_SNP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "warden/common.h"
#include "warden/err.h"
#include "warden/snp.h"

/*
 * The trust anchors of one product line, as PEM text: the ARK (the root, self-signed) and
 * the intermediates it signs, ASK (issues VCEKs) and ASVK (issues VLEKs; may be NULL).
 * ark_sha256 is the SHA-256 of the ARK's DER encoding; the cache refuses an ARK that does
 * not match it. It is NULL only for the throwaway roots unit tests make, which reach the
 * verifier solely through wd_snp_cache_new_anchors below, never through the public API.
 */
struct wd_snp_anchor_src {
    enum wd_snp_product product;
    const char *ark_pem;
    const char *ask_pem;
    const char *asvk_pem;
    const uint8_t *ark_sha256;
};

/* AMD's ARK/ASK/ASVK for Milan, Genoa and Turin (amd_roots.c), indexed by product - 1. */
extern const struct wd_snp_anchor_src wd_snp_amd_anchors[WD_SNP_PRODUCT_COUNT];

/*
 * A cache over the given anchors instead of AMD's (n at most WD_SNP_PRODUCT_COUNT, each
 * product at most once). For unit tests that sign reports with their own chain. WD_EINVAL,
 * WD_ENOMEM. The anchors' strings must outlive the cache.
 */
WD_MUST_USE int wd_snp_cache_new_anchors(const struct wd_snp_anchor_src *src, size_t n,
                                         struct wd_snp_cache **out);

/*
 * What warden reads from a VCEK/VLEK ([VCEK] §3): its kind (from the subject CN), product
 * line (productName), the SPLs as a TCB, and for a VCEK its hwID.
 */
struct wd_snp_vek {
    enum wd_snp_signer signer;
    enum wd_snp_product product;
    struct wd_snp_tcb tcb; /* raw is the report encoding of the SPLs for product */
    uint8_t hwid[WD_SNP_CHIP_ID_SIZE];
    size_t hwid_len; /* 64, 8 on Turin, 0 for a VLEK */
};

/*
 * Read the AMD fields of cert into *out. WD_EPROTO with *why: VCEK_TYPE, VCEK_KEY,
 * VCEK_EXTENSION, PRODUCT_UNKNOWN; diag (may be NULL) says which extension. No allocation
 * outside OpenSSL.
 */
WD_MUST_USE int wd_snp_vek_parse(X509 *cert, struct wd_snp_vek *out, enum wd_snp_reason *why,
                                 struct wd_diag *diag);

/*
 * wd_snp_report_parse on exactly WD_SNP_REPORT_SIZE raw bytes (no hex), for callers that
 * keep the raw bytes for the signature check.
 */
WD_MUST_USE int wd_snp_report_parse_raw(const uint8_t raw[WD_SNP_REPORT_SIZE],
                                        struct wd_snp_report *out, enum wd_snp_reason *why);

/* Encode a TCB back to the report's 64-bit form for product p (inverse of the decode). */
uint64_t wd_snp_tcb_encode(const struct wd_snp_tcb *t, enum wd_snp_product p);

/* Lower-case hex of p[0..n) into out (2n + 1 bytes, NUL-terminated). */
void wd_snp_hex(const uint8_t *p, size_t n, char *out);

#endif
