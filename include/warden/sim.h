/*
 * The `sim` attestation backend, for development on machines without a TEE: software-signed
 * reports that flow like SEV-SNP or SGX evidence (e.g. in the CSR evidence extension with type
 * "sim") and verify to claims marked attestation type WD_ATTEST_SIM, so that a policy can tell
 * them apart and refuse them. A sim report proves nothing about hardware: whoever holds the
 * signing key can claim any measurement. Relying parties must accept sim evidence only when
 * explicitly configured to (warden-control refuses it by default).
 *
 * Report format (all integers big-endian; no padding, no trailing bytes):
 *
 *   offset  size   field
 *   0       8      magic "WDSIMRPT"
 *   8       2      version = 1
 *   10      1      measurement length m, 32..64
 *   11      m      measurement
 *   11+m    64     report_data (e.g. the CSR binding of warden/evidence.h)
 *   75+m    64     signature: ECDSA P-256 over SHA-256 of bytes [0, 75+m), r || s, each 32
 *                  bytes big-endian
 *
 * The verifier is given the P-256 public key it trusts. Parsing is pure and allocation-free;
 * every function is thread-safe.
 */
#ifndef WD_SIM_H
#define WD_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "warden/buf.h"
#include "warden/claims.h"
#include "warden/common.h"
#include "warden/err.h"

#define WD_SIM_MAGIC           "WDSIMRPT"
#define WD_SIM_VERSION         1
#define WD_SIM_MEASUREMENT_MIN 32
#define WD_SIM_MEASUREMENT_MAX 64
#define WD_SIM_REPORT_DATA_LEN 64
#define WD_SIM_SIG_LEN         64
/* The largest report: 11 + 64 + 64 + 64 bytes. */
#define WD_SIM_REPORT_MAX (11 + WD_SIM_MEASUREMENT_MAX + WD_SIM_REPORT_DATA_LEN + WD_SIM_SIG_LEN)

/* A parsed report. signed_part borrows the parsed bytes. */
struct wd_sim_report {
    uint16_t version;
    uint8_t measurement[WD_SIM_MEASUREMENT_MAX];
    size_t measurement_len;
    uint8_t report_data[WD_SIM_REPORT_DATA_LEN];
    uint8_t signature[WD_SIM_SIG_LEN];
    struct wd_slice signed_part; /* bytes [0, 75+m): what the signature covers */
};

/*
 * Parse p[0..n) strictly (format above). WD_OK; WD_EPROTO with *reason (may be NULL; a
 * static string: "truncated", "bad magic", "unsupported version", "measurement must be 32 to
 * 64 bytes", "trailing bytes"); WD_EINVAL when out is NULL. Pure, never allocates.
 */
WD_MUST_USE int wd_sim_report_parse(const uint8_t *p, size_t n, struct wd_sim_report *out,
                                    const char **reason);

/*
 * Make a sim report for measurement[0..mlen) (32..64 bytes) and report_data (64 bytes),
 * signed with key (an EC P-256 private key), and append it to out. WD_EINVAL (bad lengths
 * or NULL), WD_EPROTO (key not P-256), WD_ETLS (signing failed), WD_ENOMEM, WD_ELIMIT.
 */
WD_MUST_USE int wd_sim_report_sign(EVP_PKEY *key, const uint8_t *measurement, size_t mlen,
                                   const uint8_t report_data[WD_SIM_REPORT_DATA_LEN],
                                   struct wd_buf *out);

/* What a verified sim report says. attest is always WD_ATTEST_SIM. */
struct wd_sim_claims {
    enum wd_attest attest;
    uint8_t measurement[WD_SIM_MEASUREMENT_MAX];
    size_t measurement_len;
    uint8_t report_data[WD_SIM_REPORT_DATA_LEN];
};

/*
 * Verify the sim report p[0..n) with pub (the trusted EC P-256 public key) and, when
 * expected_report_data is not NULL, that its report data equals those 64 bytes (constant
 * time). Fills *out only on WD_OK. Returns WD_OK; WD_EPROTO (malformed report, or pub not
 * P-256) with diag; WD_ECRYPTO ("signature does not verify"); WD_EDENIED ("report data does
 * not match"); WD_EINVAL (NULL arguments); WD_ENOMEM; WD_ETLS. diag may be NULL.
 */
WD_MUST_USE int wd_sim_verify(EVP_PKEY *pub, const uint8_t *p, size_t n,
                              const uint8_t *expected_report_data, struct wd_sim_claims *out,
                              struct wd_diag *diag);

#endif
