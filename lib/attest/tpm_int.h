/* Private helpers shared by lib/attest/tpm_*.c. Not part of any public API. */
#ifndef WD_TPM_INT_H
#define WD_TPM_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/tpm.h"

/* Set *why (when not NULL) to r and return rc: `return wd_tpm_fail(why, R, WD_EPROTO);`. */
static inline int wd_tpm_fail(enum wd_tpm_reason *why, enum wd_tpm_reason r, int rc)
{
    if (why != NULL) {
        *why = r;
    }
    return rc;
}

/* The OpenSSL digest for a hash TPM_ALG_ID (SHA-1/256/384/512), NULL for anything else. */
const EVP_MD *wd_tpm_md(uint16_t alg);

/* Curve size in bytes (32, 48, 66) and OpenSSL group name; 0 / NULL for unknown curves. */
size_t wd_tpm_curve_bytes(uint16_t curve);
const char *wd_tpm_curve_group(uint16_t curve);

/*
 * Reader-based parsers behind the public (p, len) ones: they consume one structure from r
 * and leave what follows. Same reasons as the public functions, without TRAILING.
 */
WD_MUST_USE int wd_tpm_rd_2b(struct wd_rd *r, size_t min, size_t max, struct wd_slice *out,
                             enum wd_tpm_reason *why);
WD_MUST_USE int wd_tpm_rd_pcr_selection(struct wd_rd *r, struct wd_tpm_pcr_selection *out,
                                        enum wd_tpm_reason *why);
WD_MUST_USE int wd_tpm_rd_public(struct wd_rd *r, struct wd_tpm_public *out,
                                 enum wd_tpm_reason *why);

/*
 * An EC public key from affine coordinates (each at most the curve size, left-padded),
 * checked to be on the curve. *out owned by the caller. WD_EPROTO (CURVE, SIZE,
 * KEY_INVALID), WD_ENOMEM, WD_ETLS.
 */
WD_MUST_USE int wd_tpm_ec_pkey(uint16_t curve, struct wd_slice x, struct wd_slice y, EVP_PKEY **out,
                               enum wd_tpm_reason *why);

/* Append big-endian integers and a TPM2B (size then bytes; WD_EINVAL over 65535 bytes). */
WD_MUST_USE int wd_tpm_put16(struct wd_buf *b, uint16_t v);
WD_MUST_USE int wd_tpm_put32(struct wd_buf *b, uint32_t v);
WD_MUST_USE int wd_tpm_put64(struct wd_buf *b, uint64_t v);
WD_MUST_USE int wd_tpm_put2b(struct wd_buf *b, const uint8_t *p, size_t n);

/*
 * KDFa (Part 1 §11.4.10.2, SP 800-108 counter mode with HMAC_hash):
 *   K(i) = HMAC(key, [i]32 || label || 0x00 || ctx_u || ctx_v || [bits]32), i = 1, 2, ...
 * The concatenation is cut to bits (a multiple of 8, at most out_len * 8) and written to
 * out. label is a C string without its NUL (the NUL is added here). WD_EINVAL, WD_ETLS.
 */
WD_MUST_USE int wd_tpm_kdfa(uint16_t hash, struct wd_slice key, const char *label,
                            struct wd_slice ctx_u, struct wd_slice ctx_v, uint32_t bits,
                            uint8_t *out, size_t out_len);

/*
 * KDFe (Part 1 §11.4.10.3, SP 800-56A concatenation KDF):
 *   K(i) = H([i]32 || z || use || 0x00 || party_u || party_v), i = 1, 2, ...
 * Same conventions and errors as wd_tpm_kdfa.
 */
WD_MUST_USE int wd_tpm_kdfe(uint16_t hash, struct wd_slice z, const char *use,
                            struct wd_slice party_u, struct wd_slice party_v, uint32_t bits,
                            uint8_t *out, size_t out_len);

#endif
