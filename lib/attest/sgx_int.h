/*
 * Private interfaces of the SGX DCAP verifier (lib/attest/sgx_*.c). Not part of any public
 * API; unit tests include it to reach the parts below the public entry points (a test trust
 * anchor instead of Intel's root, the PCK extension decoder, the collateral parsers).
 */
#ifndef WD_SGX_INT_H
#define WD_SGX_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/doc.h"
#include "warden/err.h"
#include "warden/sgx.h"

/* The Intel SGX Root CA certificate (DER), pinned (lib/attest/intel_roots.c). */
extern const uint8_t wd_sgx_intel_root_der[];
extern const size_t wd_sgx_intel_root_der_len;
/* Its SHA-256 fingerprint, as documented in docs/attestation.md. */
extern const uint8_t wd_sgx_intel_root_sha256[32];

/* Intel's QE vendor ID ([QL] A.4: 939A7233-F79C-4CA9-940A-0DB3957F0607). */
extern const uint8_t wd_sgx_intel_qe_vendor[16];

/*
 * A trust anchor: the root every PCK chain and every TCB Signing chain must lead to, with a
 * store holding only it (shared read-only by concurrent verifications) and the SHA-256 of
 * its DER, which is mixed into every cache key so entries never cross anchors.
 */
struct sgx_anchor {
    X509 *root;
    X509_STORE *store;
    uint8_t id[32];
};

/* The anchor for Intel's pinned root, decoded once. WD_ETLS if it cannot be decoded. */
int sgx_anchor_intel(const struct sgx_anchor **out);
/* Make an anchor from root (up-referenced; the caller keeps its reference). WD_ENOMEM/ETLS. */
int sgx_anchor_init(struct sgx_anchor *a, X509 *root);
void sgx_anchor_cleanup(struct sgx_anchor *a);

/*
 * The verification behind wd_sgx_verify_cached, against any anchor (tests pass their own
 * root; production code only ever passes sgx_anchor_intel()). Same contract otherwise.
 */
int sgx_verify_anchor(const struct sgx_anchor *anchor, struct wd_sgx_cache *cache, const uint8_t *p,
                      size_t len, const struct wd_sgx_collateral *collateral,
                      const struct wd_sgx_policy *policy, struct wd_sgx_result *result,
                      struct wd_diag *diag);

/* Fill diag with "<reason-name>: <fmt...>" and return the status code for reason r. */
int sgx_refuse(enum wd_sgx_reason r, enum wd_sgx_reason *why, struct wd_diag *diag, const char *fmt,
               ...) WD_PRINTF(4, 5);
/* The status code wd_sgx_verify returns for reason r (WD_EPROTO, WD_ECRYPTO, ...). */
int sgx_reason_rc(enum wd_sgx_reason r);

/* ---- the SGX extension of PCK certificates ([PCK] §1.3.5, OID 1.2.840.113741.1.13.1) ---- */

struct sgx_pck_ext {
    bool has_ppid;
    uint8_t ppid[16];
    uint8_t tcb_comp[16]; /* SGX TCB components 01..16 (.2.1 .. .2.16) */
    uint16_t pce_svn;     /* .2.17 */
    uint8_t cpu_svn[16];  /* .2.18 */
    uint8_t pce_id[2];    /* .3 */
    uint8_t fmspc[6];     /* .4 */
    uint8_t sgx_type;     /* .5: 0 Standard, 1 Scalable, 2 Scalable with integrity */
};

/*
 * Decode the DER extnValue of the SGX extension. Every mandatory member (PPID is optional
 * for robustness; TCB with all 18 entries, PCE-ID, FMSPC, SGX Type) must be present exactly
 * once with the right type and size; unknown members are skipped; lengths must be minimal
 * definite DER and nothing may trail. WD_OK or WD_EPROTO. Pure.
 */
int sgx_pck_ext_parse(const uint8_t *der, size_t len, struct sgx_pck_ext *out);

/* ---- verified objects (immutable once built, reference-counted, shared via the cache) ---- */

struct sgx_obj {
    atomic_long refs;
    void (*destroy)(struct sgx_obj *o);
};
/* Drop one reference; the last one destroys. Accepts NULL. */
void sgx_obj_release(struct sgx_obj *o);
/* Take one more reference. */
void sgx_obj_ref(struct sgx_obj *o);

/* A PCK chain verified to the anchor at some time inside [nb, na]. */
struct sgx_pck {
    struct sgx_obj obj;
    EVP_PKEY *key; /* the leaf's P-256 public key */
    struct sgx_pck_ext ext;
    int64_t nb, na;
};

/*
 * Parse the PCK chain of certification data (PEM, leaf first, optional trailing NUL bytes)
 * and verify it (RFC 5280, X509_V_FLAG_X509_STRICT) to anchor at time now: exactly leaf,
 * one intermediate and the anchor; when crls (may be NULL) is given, every certificate of
 * the chain must be covered by a CRL and not revoked. Decodes the leaf's SGX extension.
 * *out owned by the caller (sgx_obj_release). WD_OK or the code of the reason (*why, diag).
 */
int sgx_pck_verify(const struct sgx_anchor *anchor, struct wd_slice cert_data,
                   STACK_OF(X509_CRL) * crls, int64_t now, struct sgx_pck **out,
                   enum wd_sgx_reason *why, struct wd_diag *diag);

/*
 * Path-validate leaf + untrusted (may be NULL) to anchor at now, with crls (may be NULL:
 * no revocation check); the path built must have exactly `length` certificates, the anchor
 * included. *nb and *na receive the window in which every object that was checked
 * (certificates, CRLs) is valid. Failures map to reasons via the table `map` (see
 * sgx_pck.c). Shared by the PCK chain and the TCB Signing chain.
 */
struct sgx_chain_reasons {
    enum wd_sgx_reason untrusted, bad_sig, not_yet_valid, expired, revoked, other;
};
int sgx_chain_verify(const struct sgx_anchor *anchor, X509 *leaf, STACK_OF(X509) * untrusted,
                     STACK_OF(X509_CRL) * crls, int64_t now, int length,
                     const struct sgx_chain_reasons *map, const char *what, int64_t *nb,
                     int64_t *na, enum wd_sgx_reason *why, struct wd_diag *diag);

/*
 * Verify an ECDSA P-256 / SHA-256 signature given as raw r || s (32 bytes each, big-endian)
 * over msg. Returns 1 valid, 0 invalid, or WD_ENOMEM / WD_ETLS.
 */
int sgx_ecdsa_verify(EVP_PKEY *key, const uint8_t *msg, size_t len, const uint8_t sig[64]);

/* ---- collateral ---- */

/* Bounds on the collateral documents. */
#define SGX_TCB_LEVELS_MAX 256
#define SGX_ADVISORY_MAX   192 /* per level, comma-separated */

struct sgx_tcb_level {
    uint8_t comp[16];
    uint16_t pce_svn;
    enum wd_sgx_tcb_status status;
    int64_t date;
    char advisories[SGX_ADVISORY_MAX];
};

struct sgx_tcb_info {
    int version; /* 2 or 3 */
    uint8_t fmspc[6];
    uint8_t pce_id[2];
    int64_t issue_date, next_update;
    int64_t eval_number;
    size_t n_levels;
    struct sgx_tcb_level *levels; /* wd_calloc */
};

struct sgx_qe_level {
    uint16_t isv_svn;
    enum wd_sgx_tcb_status status;
    int64_t date;
    char advisories[SGX_ADVISORY_MAX];
};

struct sgx_qe_identity {
    int version; /* 2 */
    int64_t issue_date, next_update;
    int64_t eval_number;
    uint32_t miscselect, miscselect_mask;
    uint8_t attributes[16], attributes_mask[16];
    uint8_t mrsigner[32];
    uint16_t isv_prod_id;
    size_t n_levels;
    struct sgx_qe_level *levels; /* wd_calloc */
};

/*
 * A signed collateral document {"<body_key>": {...}, "signature": "<128 hex>"}: strict JSON,
 * exactly those two members. body is the exact bytes of the body object (what Intel signs).
 * doc owns the tree. WD_OK, WD_ENOMEM, or WD_EPROTO (WD_SGX_COLLATERAL_MALFORMED).
 */
struct sgx_signed_json {
    struct wd_doc *doc;
    const struct wd_node *body_node;
    struct wd_slice body;
    uint8_t sig[64];
};
int sgx_signed_json_parse(const char *name, struct wd_slice in, const char *body_key,
                          struct sgx_signed_json *out, enum wd_sgx_reason *why,
                          struct wd_diag *diag);
void sgx_signed_json_cleanup(struct sgx_signed_json *sj);

/*
 * Read a TCB info body (v2 or v3, id "SGX") / a QE identity body (v2, id "QE") into *out
 * (levels allocated; release with the cleanup functions). WD_OK, WD_ENOMEM, WD_EPROTO
 * (COLLATERAL_MALFORMED or COLLATERAL_WRONG_TYPE for TDX / TD_QE / QVE documents).
 */
int sgx_tcb_info_read(const struct sgx_signed_json *sj, struct sgx_tcb_info *out,
                      enum wd_sgx_reason *why, struct wd_diag *diag);
void sgx_tcb_info_cleanup(struct sgx_tcb_info *t);
int sgx_qe_identity_read(const struct sgx_signed_json *sj, struct sgx_qe_identity *out,
                         enum wd_sgx_reason *why, struct wd_diag *diag);
void sgx_qe_identity_cleanup(struct sgx_qe_identity *q);

/* Verified collateral. */
struct sgx_coll {
    struct sgx_obj obj;
    bool has_tcb, has_qe;
    struct sgx_tcb_info tcb;
    struct sgx_qe_identity qe;
    int64_t nb, na;
};

/*
 * Verify the TCB Signing chain of c to anchor at now (with crls, may be NULL), then the
 * signature and validity window of the TCB info and QE identity that c holds, and read them.
 * *out owned by the caller (sgx_obj_release). WD_OK or the code of the reason.
 */
int sgx_coll_verify(const struct sgx_anchor *anchor, const struct wd_sgx_collateral *c,
                    STACK_OF(X509_CRL) * crls, int64_t now, struct sgx_coll **out,
                    enum wd_sgx_reason *why, struct wd_diag *diag);

/*
 * Parse the CRLs of c (each DER, or PEM holding exactly one "X509 CRL" block). *out is NULL
 * when c has none; else owned by the caller (sk_X509_CRL_pop_free). WD_OK, WD_ENOMEM,
 * WD_ELIMIT (too many), WD_EPROTO (WD_SGX_CRL_MALFORMED).
 */
int sgx_crls_parse(const struct wd_sgx_collateral *c, STACK_OF(X509_CRL) * *out,
                   enum wd_sgx_reason *why, struct wd_diag *diag);

/* Status name <-> enum for the JSON spelling; -1 for an unknown name. */
int sgx_tcb_status_parse(const char *s, size_t n);

/*
 * Intel's convergence of the platform TCB status with the QE's
 * (QuoteVerifier.cpp convergeTcbStatusWithQeTcbStatus): an out-of-date QE makes an otherwise
 * current platform OutOfDate (OutOfDateConfigurationNeeded when configuration was needed).
 */
enum wd_sgx_tcb_status sgx_tcb_converge(enum wd_sgx_tcb_status platform, enum wd_sgx_tcb_status qe);

#endif
