/*
 * TEE evidence carried in a CSR: a non-critical extension (in the PKCS#10 extensionRequest
 * attribute) with OID WD_TEE_EVIDENCE_OID (docs/oids.md) whose extnValue is the DER of
 *
 *   WardenTeeEvidence ::= SEQUENCE {
 *       version   INTEGER (1),
 *       type      UTF8String,                      -- "sev-snp" | "sgx" | "sim"
 *       evidence  OCTET STRING (SIZE (1..65536)),  -- SNP report, SGX quote, sim report
 *       nonce     OCTET STRING (SIZE (16..64)),    -- the server's fresh nonce
 *       chain     [0] IMPLICIT OCTET STRING (SIZE (1..65536)) OPTIONAL
 *                                                  -- e.g. VCEK DER + chain PEM for SNP
 *   }
 *
 * The decoder is strict DER: single-octet tags, definite minimal lengths, a minimal INTEGER,
 * the fields in this order, nothing unknown, no trailing bytes, bounded sizes; a decoded value
 * encodes back to the same bytes. Decoding never allocates and borrows from its input.
 *
 * Binding (docs/attestation.md "Evidence in CSRs"): the TEE report data must equal
 *
 *   SHA-512( "warden-tee-v1" || SHA-256(SubjectPublicKeyInfo DER of the CSR key) || nonce )
 *
 * (13 ASCII bytes without NUL, 32 bytes, the nonce bytes), so evidence made for one key and
 * one nonce cannot be replayed with another nonce or moved to another key.
 *
 * Every function is thread-safe.
 */
#ifndef WD_EVIDENCE_H
#define WD_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "warden/buf.h"
#include "warden/claims.h"
#include "warden/common.h"
#include "warden/err.h"

#define WD_EVIDENCE_VERSION   1
#define WD_EVIDENCE_MAX       ((size_t)64 * 1024) /* bytes of evidence, and of chain */
#define WD_EVIDENCE_NONCE_MIN 16
#define WD_EVIDENCE_NONCE_MAX 64
/* An encoding never needs more; longer input is rejected before parsing. */
#define WD_EVIDENCE_DER_MAX (2 * WD_EVIDENCE_MAX + 256)
/* The binding: the 64 bytes of report data the evidence must carry. */
#define WD_EVIDENCE_BINDING_LEN 64
/* The domain-separation label that starts the binding hash input (without NUL). */
#define WD_EVIDENCE_BINDING_LABEL "warden-tee-v1"

/*
 * Decoded (or to-be-encoded) evidence. Slices are BORROWED: from the decoded bytes, or from
 * the caller's buffers when encoding. type is WD_ATTEST_SEV_SNP, WD_ATTEST_SGX or
 * WD_ATTEST_SIM. chain is meaningful only when has_chain.
 */
struct wd_evidence {
    enum wd_attest type;
    struct wd_slice evidence;
    struct wd_slice nonce;
    bool has_chain;
    struct wd_slice chain;
};

/*
 * Append the DER of ev to out. WD_EINVAL when ev breaks a rule of the module above (type not
 * sev-snp/sgx/sim, evidence or chain empty or larger than WD_EVIDENCE_MAX, nonce not 16..64
 * bytes); WD_ENOMEM / WD_ELIMIT from out (on error out may hold part of the encoding: reset it).
 */
WD_MUST_USE int wd_evidence_encode(const struct wd_evidence *ev, struct wd_buf *out);

/*
 * Decode p[0..n) strictly (see above) into *out, whose slices borrow p. Returns WD_OK, or
 * WD_EPROTO with *reason (may be NULL; a static string such as "non-minimal length",
 * "trailing bytes", "unknown field", "nonce must be 16 to 64 bytes") saying which rule broke.
 * Pure; never allocates.
 */
WD_MUST_USE int wd_evidence_decode(const uint8_t *p, size_t n, struct wd_evidence *out,
                                   const char **reason);

/*
 * Add ev as the non-critical WD_TEE_EVIDENCE_OID extension to req, a request being built and
 * NOT YET SIGNED (sign it afterwards: adding changes what is signed). Extensions req already
 * requests (e.g. a subjectAltName) are kept, in one extensionRequest attribute.
 * WD_EINVAL (ev invalid as for wd_evidence_encode), WD_EEXIST (req already carries evidence),
 * WD_ENOMEM, WD_ETLS (OpenSSL failure); diag may be NULL.
 */
WD_MUST_USE int wd_evidence_req_add(X509_REQ *req, const struct wd_evidence *ev,
                                    struct wd_diag *diag);

/*
 * Find the evidence extension in req (a parsed request; its signature is the caller's
 * business, e.g. wd_csr_parse) and decode it: its value is copied into der (reset first;
 * the caller cleans it up) and *out borrows der. Returns WD_OK; WD_ENOENT when req carries no
 * evidence; WD_EPROTO with diag when the extension is critical, present twice, or its value
 * is malformed (the decoder's reason), or the extensionRequest attribute is malformed;
 * WD_ENOMEM; WD_ELIMIT (value larger than WD_EVIDENCE_DER_MAX). diag may be NULL.
 */
WD_MUST_USE int wd_evidence_req_get(X509_REQ *req, struct wd_buf *der, struct wd_evidence *out,
                                    struct wd_diag *diag);

/*
 * The expected report data for pub (the CSR's public key) and nonce[0..nonce_len):
 * SHA-512("warden-tee-v1" || SHA-256(SPKI DER of pub) || nonce), into out. WD_EINVAL
 * (NULL arguments, nonce not 16..64 bytes), WD_ENOMEM, WD_ETLS (OpenSSL failure).
 */
WD_MUST_USE int wd_evidence_binding(EVP_PKEY *pub, const uint8_t *nonce, size_t nonce_len,
                                    uint8_t out[WD_EVIDENCE_BINDING_LEN]);

/*
 * Whether report_data (the 64 bytes the verified evidence reports) binds ev's nonce to pub:
 * WD_OK when it equals wd_evidence_binding(pub, ev->nonce) (constant-time compare);
 * WD_EDENIED with diag "report data does not bind the CSR key and nonce" when not; errors as
 * wd_evidence_binding. The caller must still check the nonce is the fresh one it issued and
 * not used before. diag may be NULL.
 */
WD_MUST_USE int wd_evidence_check_binding(EVP_PKEY *pub, const struct wd_evidence *ev,
                                          const uint8_t report_data[WD_EVIDENCE_BINDING_LEN],
                                          struct wd_diag *diag);

#endif
