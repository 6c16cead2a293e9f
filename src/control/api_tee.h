/*
 * The pure parts of the TEE workload routes (api_tee.c; docs/api.md "TEE workloads"): body
 * decoding and reading the CSR with its evidence, apart from the store and the server so
 * that fuzz/fuzz_control_tee.c can drive them. Thread-safe.
 */
#ifndef SRV_API_TEE_H
#define SRV_API_TEE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "warden/buf.h"
#include "warden/claims.h"
#include "warden/common.h"
#include "warden/doc.h"
#include "warden/err.h"

/* A CSR with evidence: up to 2 x 64 KiB of evidence and chain, in base64 and PEM framing. */
#define SRV_TEE_CSR_MAX ((size_t)192 * 1024)

/* The evidence type names "sev-snp" (alias "snp"), "sgx", "sim". WD_EPROTO for others. */
WD_MUST_USE int srv_tee_type_parse(const char *s, size_t n, enum wd_attest *out);

/*
 * Decode the body of POST /v1/tee/challenge, {"type": NAME}, strictly (unknown members and
 * wrong types refused with their position). WD_OK with *type; WD_ECONFIG / WD_EPROTO with
 * diag; WD_ELIMIT (over SRV_BODY_MAX); WD_ENOMEM.
 */
WD_MUST_USE int srv_tee_decode_challenge(const uint8_t *p, size_t n, enum wd_attest *type,
                                         struct wd_diag *diag);

/* The decoded body of POST /v1/tee/svid; session and csr borrow from doc. */
struct srv_tee_body {
    struct wd_doc *doc;  /* owned */
    const char *session; /* 32 lower-case hex digits */
    const char *csr;     /* 1..SRV_TEE_CSR_MAX bytes, no NUL */
    size_t csr_len;
};

/*
 * Decode {"session": ID, "csr": PEM} into *b (filled on WD_OK only; srv_tee_body_cleanup it
 * then). Errors as srv_tee_decode_challenge.
 */
WD_MUST_USE int srv_tee_decode_svid(const uint8_t *p, size_t n, struct srv_tee_body *b,
                                    struct wd_diag *diag);
/* Release b; accepts NULL and a cleaned body. */
void srv_tee_body_cleanup(struct srv_tee_body *b);

/*
 * Read the CSR text[0..n) (PEM or DER) with lib/pki's rules (wd_csr_parse: P-256 key, valid
 * self-signature) and again as an X509_REQ for its extensions. *pub and *req owned by the
 * caller (EVP_PKEY_free, X509_REQ_free; *req may be set even on error). WD_EPROTO /
 * WD_ECRYPTO with diag; WD_ENOMEM; WD_ETLS.
 */
WD_MUST_USE int srv_tee_csr(const char *text, size_t n, EVP_PKEY **pub, X509_REQ **req,
                            struct wd_diag *d);

/*
 * Split the SEV-SNP evidence chain c into the VCEK/VLEK certificate (the first DER
 * certificate, or the first PEM block with its line ends) and the extra intermediates after
 * it (*extra may be empty). Slices borrow c. WD_EPROTO when c starts with neither.
 */
WD_MUST_USE int srv_tee_snp_split(struct wd_slice c, struct wd_slice *vcek, struct wd_slice *extra);

#endif
