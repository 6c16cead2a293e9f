/*
 * Intel SGX DCAP evidence on the verifier side: a strict parser for ECDSA quotes of version 3
 * and their verification against the pinned Intel SGX Root CA.
 *
 * References (cited in the code as [QL] and [PCK]):
 *  - [QL]  Intel SGX ECDSA Quote Library API, appendix A.4 "Version 3 Quote Format"
 *          (sgx_quote_3_t, sgx_ql_ecdsa_sig_data_t, sgx_ql_auth_data_t,
 *          sgx_ql_certification_data_t) and the SGX report body (sgx_report_body_t).
 *  - [PCK] Intel SGX PCK Certificate and Certificate Revocation List Profile Specification
 *          (the SGX extensions under OID 1.2.840.113741.1.13.1) and the Intel PCS API for
 *          the TCB info (v2/v3) and enclave identity (v2) JSON collateral.
 *
 * What verification checks, in order (each failure is its own enum wd_sgx_reason):
 *  1. the quote parses (version 3, ECDSA-256-with-P-256, tee_type SGX, Intel QE vendor,
 *     certification data type 5 = PCK certificate chain, no trailing bytes);
 *  2. the PCK chain (leaf, PCK Platform/Processor CA, optionally the root) leads to the
 *     pinned Intel SGX Root CA at wd_time_now(), with CRLs from the collateral when given;
 *  3. the QE report is signed by the PCK leaf key;
 *  4. the QE report data binds the attestation key:
 *     report_data = SHA-256(attestation key || QE authentication data) || 32 zero bytes;
 *  5. the quote header and ISV report body are signed by the attestation key;
 *  6. collateral, when given: the TCB Signing chain to the same root, then the signature,
 *     type (SGX) and issueDate..nextUpdate window of the TCB info and QE identity;
 *  7. the QE is Intel's: checked against the QE identity when given (and its TCB level),
 *     else against Intel's published QE MRSIGNER and ISVPRODID 1 (built in); never a debug QE;
 *  8. with TCB info: FMSPC and PCE-ID equal to the PCK certificate's, and the TCB level
 *     matching the PCK certificate's TCB components and PCESVN; "Revoked" refuses;
 *  9. the policy, when one is given (MRENCLAVE allow-list or MRSIGNER + ISVPRODID + minimum
 *     ISVSVN, debug, report data, accepted TCB statuses).
 *
 * Parsing is pure (no I/O, no allocation). Verification allocates through lib/alloc.c and
 * OpenSSL. Every function is thread-safe; a struct wd_sgx_cache may be shared by threads.
 */
#ifndef WD_SGX_H
#define WD_SGX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"

/* Quotes larger than this are refused before parsing (a v3 quote with its PEM chain is ~5 KiB). */
#define WD_SGX_QUOTE_MAX ((size_t)64 * 1024)
/* Each collateral document (TCB info, QE identity, signing chain, one CRL) is at most this. */
#define WD_SGX_COLLATERAL_MAX ((size_t)1 << 20)
/* At most this many CRLs in one collateral set. */
#define WD_SGX_CRLS_MAX 8

/* Sizes of the fixed structures of [QL] A.4. */
#define WD_SGX_HEADER_LEN      48
#define WD_SGX_REPORT_BODY_LEN 384

/* Attribute flag bits of the report body (SDM Vol. 3D §38.7.1 ATTRIBUTES). */
#define WD_SGX_FLAG_INIT         0x01u
#define WD_SGX_FLAG_DEBUG        0x02u
#define WD_SGX_FLAG_MODE64BIT    0x04u
#define WD_SGX_FLAG_PROVISIONKEY 0x10u
#define WD_SGX_FLAG_KSS          0x80u

/* Why evidence was refused. Stable: names (wd_sgx_reason_name) go to audit logs. */
enum wd_sgx_reason {
    WD_SGX_OK = 0,
    /* parsing */
    WD_SGX_TOO_LARGE,             /* quote longer than WD_SGX_QUOTE_MAX */
    WD_SGX_TRUNCATED,             /* the quote ends inside a structure */
    WD_SGX_TRAILING_BYTES,        /* bytes after the certification data */
    WD_SGX_TDX_QUOTE,             /* a TDX quote (v4/v5, tee_type 0x81): not supported */
    WD_SGX_UNSUPPORTED_VERSION,   /* version other than 3 (and not TDX) */
    WD_SGX_UNSUPPORTED_TEE_TYPE,  /* tee_type other than 0 (SGX) */
    WD_SGX_UNSUPPORTED_KEY_TYPE,  /* att_key_type other than 2 (ECDSA-256-with-P-256) */
    WD_SGX_UNKNOWN_QE_VENDOR,     /* qe_vendor_id is not Intel's QE */
    WD_SGX_UNSUPPORTED_CERT_TYPE, /* certification data type other than 5 (PCK chain) */
    /* PCK certificate chain */
    WD_SGX_PCK_CHAIN_MALFORMED, /* not 2-3 PEM certificates, or a malformed certificate */
    WD_SGX_PCK_UNTRUSTED,       /* no path to the pinned Intel SGX Root CA */
    WD_SGX_PCK_BAD_SIGNATURE,   /* a certificate signature in the chain does not verify */
    WD_SGX_PCK_NOT_YET_VALID,   /* a chain certificate's notBefore is ahead of now */
    WD_SGX_PCK_EXPIRED,         /* a chain certificate's notAfter is past */
    WD_SGX_PCK_REVOKED,         /* a chain certificate is on a CRL of the collateral */
    WD_SGX_PCK_INVALID,         /* another RFC 5280 path validation failure */
    WD_SGX_PCK_BAD_KEY,         /* the PCK leaf key is not EC P-256 */
    WD_SGX_PCK_BAD_EXTENSION,   /* the SGX extension of the PCK leaf is missing or malformed */
    /* quote signatures */
    WD_SGX_QE_REPORT_SIGNATURE, /* the QE report signature does not verify with the PCK key */
    WD_SGX_ATT_KEY_BINDING,     /* QE report data is not SHA-256(attestation key || auth data) */
    WD_SGX_ATT_KEY_INVALID,     /* the attestation key is not a point on P-256 */
    WD_SGX_ISV_SIGNATURE,       /* the header + ISV body signature does not verify */
    /* quoting enclave identity */
    WD_SGX_QE_IDENTITY_MISMATCH, /* QE MRSIGNER/ISVPRODID/MISCSELECT/ATTRIBUTES not Intel's */
    WD_SGX_QE_TCB_UNSUPPORTED,   /* the QE's ISVSVN is below every level of the QE identity */
    WD_SGX_QE_TCB_REVOKED,       /* the QE's TCB level is "Revoked" */
    /* collateral (TCB info, QE identity, CRLs) */
    WD_SGX_COLLATERAL_MALFORMED,     /* JSON or CRL that does not parse or lacks fields */
    WD_SGX_COLLATERAL_WRONG_TYPE,    /* TCB info / QE identity for another TEE (TDX, TD_QE) */
    WD_SGX_COLLATERAL_NO_SIGNER,     /* TCB info or QE identity given without its signing chain */
    WD_SGX_COLLATERAL_SIGNATURE,     /* the collateral signature does not verify */
    WD_SGX_COLLATERAL_SIGNER,        /* the TCB Signing chain does not lead to the root */
    WD_SGX_COLLATERAL_SIGNER_TIME,   /* a TCB Signing chain certificate is outside its validity */
    WD_SGX_COLLATERAL_NOT_YET_VALID, /* issueDate ahead of now */
    WD_SGX_COLLATERAL_EXPIRED,       /* nextUpdate past */
    WD_SGX_CRL_MALFORMED,            /* a CRL does not parse */
    WD_SGX_CRL_INVALID,              /* a CRL's signature or issuer does not verify */
    WD_SGX_CRL_EXPIRED,              /* a CRL is outside its thisUpdate..nextUpdate window */
    WD_SGX_CRL_MISSING,              /* CRLs were given, but none for a chain certificate */
    /* TCB */
    WD_SGX_FMSPC_MISMATCH, /* the TCB info is for another FMSPC than the PCK certificate */
    WD_SGX_PCEID_MISMATCH, /* the TCB info is for another PCE-ID than the PCK certificate */
    WD_SGX_PLATFORM_TCB_UNSUPPORTED, /* the PCK TCB is below every TCB level of the TCB info */
    WD_SGX_PLATFORM_TCB_REVOKED,     /* the platform's TCB level is "Revoked" */
    /* policy */
    WD_SGX_POLICY_DEBUG,       /* a debug enclave and the policy does not allow debug */
    WD_SGX_POLICY_MEASUREMENT, /* neither MRENCLAVE nor any MRSIGNER rule admits the enclave */
    WD_SGX_POLICY_REPORT_DATA, /* report_data differs from the expected 64 bytes */
    WD_SGX_POLICY_TCB_STATUS,  /* the TCB status is not among the accepted ones */
    WD_SGX_REASON_COUNT_,      /* not a reason: the number of values */
};

/* A short stable name ("att-key-binding", "tdx-quote", ...). Never NULL. */
const char *wd_sgx_reason_name(enum wd_sgx_reason r);

/*
 * TCB status of the platform (TCB info) or of the QE (QE identity), as Intel spells it.
 * UNKNOWN means no collateral told.
 */
enum wd_sgx_tcb_status {
    WD_SGX_TCB_UNKNOWN = 0,
    WD_SGX_TCB_UP_TO_DATE,
    WD_SGX_TCB_SW_HARDENING_NEEDED,
    WD_SGX_TCB_CONFIGURATION_NEEDED,
    WD_SGX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
    WD_SGX_TCB_OUT_OF_DATE,
    WD_SGX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
    WD_SGX_TCB_REVOKED,
    WD_SGX_TCB_STATUS_COUNT_,
};
/* The bit of a status in wd_sgx_policy.tcb_accept. */
#define WD_SGX_TCB_BIT(s) (1u << (unsigned)(s))

/* "UpToDate", "OutOfDate", ... (Intel's spelling); "Unknown" for WD_SGX_TCB_UNKNOWN. */
const char *wd_sgx_tcb_status_name(enum wd_sgx_tcb_status s);

/* ---- parsing ---- */

/* sgx_report_body_t ([QL] A.4, SDM Vol. 3D §38.15 REPORT): 384 bytes, little-endian fields. */
struct wd_sgx_report_body {
    uint8_t cpu_svn[16];         /* offset 0 */
    uint32_t misc_select;        /* 16 */
    uint8_t isv_ext_prod_id[16]; /* 32 (after 12 reserved bytes at 20) */
    uint64_t attr_flags;         /* 48: ATTRIBUTES.FLAGS (WD_SGX_FLAG_*) */
    uint64_t attr_xfrm;          /* 56: ATTRIBUTES.XFRM */
    uint8_t attributes[16];      /* 48..64 as raw bytes (compared against QE identity masks) */
    uint8_t mr_enclave[32];      /* 64 */
    uint8_t mr_signer[32];       /* 128 (after 32 reserved bytes at 96) */
    uint8_t config_id[64];       /* 192 (after 32 reserved bytes at 160) */
    uint16_t isv_prod_id;        /* 256 */
    uint16_t isv_svn;            /* 258 */
    uint16_t config_svn;         /* 260 */
    uint8_t isv_family_id[16];   /* 304 (after 42 reserved bytes at 262) */
    uint8_t report_data[64];     /* 320 */
    struct wd_slice raw;         /* the 384 bytes in the input (borrowed) */
};

/* A parsed version 3 quote. Slices BORROW from the parsed bytes, which must outlive it. */
struct wd_sgx_quote {
    /* header ([QL] A.4 sgx_quote_header_t, 48 bytes) */
    uint16_t version;      /* 3 */
    uint16_t att_key_type; /* 2 */
    uint32_t tee_type;     /* 0 */
    uint16_t qe_svn;
    uint16_t pce_svn;
    uint8_t qe_vendor_id[16];
    uint8_t user_data[20];
    struct wd_slice header;        /* the 48 header bytes */
    struct wd_sgx_report_body isv; /* the attested enclave */
    struct wd_slice signed_data;   /* header || ISV body: what the attestation key signs */
    uint32_t sig_data_len;         /* length of everything after it */
    uint8_t isv_signature[64];     /* ECDSA r || s, each 32 bytes big-endian */
    uint8_t att_key[64];           /* P-256 point x || y, big-endian */
    struct wd_sgx_report_body qe;  /* the quoting enclave's report */
    uint8_t qe_signature[64];      /* by the PCK key over qe.raw, r || s */
    struct wd_slice qe_auth_data;  /* sgx_ql_auth_data_t payload */
    uint16_t cert_type;            /* 5 */
    struct wd_slice cert_data;     /* PCK chain, PEM, leaf first (may end in NUL bytes) */
};

/*
 * Parse a version 3 SGX ECDSA quote from p[0..len). Pure and allocation-free; every field is
 * read through a bounds-checked little-endian reader. On success fills *out (slices borrow
 * p). Returns WD_OK, WD_EINVAL (p or out NULL with len > 0), or WD_EPROTO with *why (may be
 * NULL) set to a parsing reason: WD_SGX_TDX_QUOTE for a TDX quote, WD_SGX_TRUNCATED,
 * WD_SGX_TRAILING_BYTES, ... or WD_ELIMIT with WD_SGX_TOO_LARGE. Thread-safe.
 */
WD_MUST_USE int wd_sgx_quote_parse(const uint8_t *p, size_t len, struct wd_sgx_quote *out,
                                   enum wd_sgx_reason *why);

/*
 * A TDX quote (Intel TDX DCAP Quote Generation Library, quote v4 and v5 with tee_type 0x81):
 * the header and the TD report body, PARSED ONLY. warden does not verify TDX evidence (no
 * signature, chain or QE check is made); this exists so that tools can say what a refused
 * TDX quote claims. Offsets are those of the TD report body (TD 1.0: 584 bytes; TD 1.5: 648).
 */
struct wd_tdx_quote {
    uint16_t version;   /* 4 or 5 */
    uint16_t body_type; /* 2 = TD 1.0, 3 = TD 1.5 (v4 is always 2) */
    uint8_t tee_tcb_svn[16];
    uint8_t mr_seam[48];
    uint8_t mr_signer_seam[48];
    uint64_t seam_attributes;
    uint64_t td_attributes; /* bit 0: TUD.DEBUG */
    uint64_t xfam;
    uint8_t mr_td[48];
    uint8_t mr_config_id[48];
    uint8_t mr_owner[48];
    uint8_t mr_owner_config[48];
    uint8_t rtmr[4][48];
    uint8_t report_data[64];
    uint8_t tee_tcb_svn2[16]; /* TD 1.5 only, else zero */
    uint8_t mr_servicetd[48]; /* TD 1.5 only, else zero */
    bool debug;
    struct wd_slice sig_data; /* the signature data, not interpreted (borrowed) */
};

/*
 * Parse (never verify) a TDX quote from p[0..len): header, body descriptor (v5), TD report
 * body, and a signature data length that accounts for the rest exactly. WD_OK; WD_EINVAL;
 * WD_EPROTO with *why (may be NULL): WD_SGX_UNSUPPORTED_VERSION / _TEE_TYPE (not a TDX
 * quote), WD_SGX_UNSUPPORTED_KEY_TYPE, WD_SGX_UNKNOWN_QE_VENDOR, WD_SGX_TRUNCATED,
 * WD_SGX_TRAILING_BYTES; WD_ELIMIT (WD_SGX_TOO_LARGE). Pure; thread-safe.
 */
WD_MUST_USE int wd_tdx_quote_parse(const uint8_t *p, size_t len, struct wd_tdx_quote *out,
                                   enum wd_sgx_reason *why);

/* ---- verification ---- */

/*
 * Collateral fetched from Intel PCS (or carried with the evidence). Every member is optional
 * (an empty slice / zero count): what is given is checked, what is absent is reported as
 * unknown in the claims. All bytes are borrowed for the duration of the call.
 *  - tcb_info: {"tcbInfo":{...},"signature":"<hex r||s>"}, TCB info version 2 or 3, for SGX.
 *  - qe_identity: {"enclaveIdentity":{...},"signature":"..."}, version 2, id "QE".
 *  - signing_chain: the Intel SGX TCB Signing certificate (optionally followed by the root),
 *    PEM or one DER certificate; required when tcb_info or qe_identity is given.
 *  - crls: DER or PEM CRLs (the root CA CRL and the PCK Processor/Platform CA CRL). When any
 *    CRL is given, every certificate below the root must be covered by one.
 */
struct wd_sgx_collateral {
    struct wd_slice tcb_info;
    struct wd_slice qe_identity;
    struct wd_slice signing_chain;
    const struct wd_slice *crls;
    size_t n_crls;
};

/* An MRSIGNER rule: the enclave's signer, product and minimum security version. */
struct wd_sgx_signer_rule {
    uint8_t mrsigner[32];
    uint16_t isv_prod_id;
    uint16_t min_isv_svn;
};

/*
 * What the relying party accepts. The enclave is admitted when its MRENCLAVE is in
 * mrenclaves, or when some signer rule has its MRSIGNER and ISVPRODID and an ISVSVN at or
 * above min_isv_svn. Both lists empty admits nothing. All pointers are borrowed.
 */
struct wd_sgx_policy {
    const uint8_t *mrenclaves; /* n_mrenclaves values of 32 bytes, one after the other */
    size_t n_mrenclaves;
    const struct wd_sgx_signer_rule *signers;
    size_t n_signers;
    bool allow_debug;           /* admit enclaves with ATTRIBUTES.DEBUG set */
    const uint8_t *report_data; /* 64 expected bytes (constant-time compare), or NULL */
    /*
     * Accepted converged TCB statuses, WD_SGX_TCB_BIT(status) or-ed; 0 means UpToDate only.
     * Include WD_SGX_TCB_BIT(WD_SGX_TCB_UNKNOWN) to accept evidence without TCB info.
     */
    unsigned tcb_accept;
};

/* Room for the advisory IDs of the matched TCB levels, comma-separated. */
#define WD_SGX_ADVISORIES_MAX 512

/* What verified evidence says. Hex strings are lower-case and NUL-terminated. */
struct wd_sgx_claims {
    uint16_t quote_version;
    uint8_t mrenclave[32];
    uint8_t mrsigner[32];
    char mrenclave_hex[65];
    char mrsigner_hex[65];
    uint16_t isv_prod_id;
    uint16_t isv_svn;
    bool debug;
    uint64_t attr_flags;
    uint64_t attr_xfrm;
    uint32_t misc_select;
    uint8_t cpu_svn[16];
    uint8_t report_data[64];
    char report_data_hex[129];
    uint16_t qe_svn;  /* from the QE report */
    uint16_t pce_svn; /* from the PCK certificate */
    uint8_t fmspc[6];
    char fmspc_hex[13];
    uint16_t pce_id;
    enum wd_sgx_tcb_status tcb_status;          /* converged platform + QE status */
    enum wd_sgx_tcb_status platform_tcb_status; /* from TCB info */
    enum wd_sgx_tcb_status qe_tcb_status;       /* from QE identity */
    char advisories[WD_SGX_ADVISORIES_MAX];     /* e.g. "INTEL-SA-00615,INTEL-SA-00657" */
    bool tcb_info_checked;
    bool qe_identity_checked;
    bool crls_checked;
};

/*
 * The outcome. reason is WD_SGX_OK when verified, else why the evidence was refused; it is
 * also WD_SGX_OK when verification could not run (WD_EINVAL, WD_ENOMEM, WD_ETLS: no verdict).
 * claims are filled (has_claims) when the evidence itself verified: reason WD_SGX_OK or a
 * WD_SGX_POLICY_* reason, so that a policy refusal can name the enclave.
 */
struct wd_sgx_result {
    enum wd_sgx_reason reason;
    bool has_claims;
    struct wd_sgx_claims claims;
};

/*
 * A cache of verified PCK chains and verified collateral, keyed by a SHA-256 of the exact
 * bytes (and of the trust anchor), valid only inside the validity windows of everything that
 * was checked, so a hit gives the same answer as a fresh verification would. Bounded to
 * max_entries (oldest replaced first). Thread-safe (one mutex).
 */
struct wd_sgx_cache;

/* New cache for up to max_entries (1..4096) entries. WD_EINVAL, WD_ENOMEM. Owned by caller. */
WD_MUST_USE int wd_sgx_cache_new(size_t max_entries, struct wd_sgx_cache **out);
/* Accepts NULL. No verification may be running on the cache. */
void wd_sgx_cache_free(struct wd_sgx_cache *cache);
/* Lookups that were answered from the cache, and ones that were not. */
void wd_sgx_cache_stats(const struct wd_sgx_cache *cache, uint64_t *hits, uint64_t *misses);

/*
 * Verify a quote p[0..len) against the pinned Intel SGX Root CA at wd_time_now(), with
 * collateral (may be NULL) and policy (may be NULL: only the evidence is checked, no
 * measurement, debug, report-data or TCB-status rule is applied). Fills *result (required)
 * and diag (may be NULL) with "<reason-name>: <detail>". Returns:
 *  WD_OK        verified and admitted by the policy;
 *  WD_EPROTO    the quote or collateral is malformed (a parsing / *_MALFORMED reason);
 *  WD_ELIMIT    too large;
 *  WD_ECRYPTO   a signature, binding, chain or identity check failed;
 *  WD_EEXPIRED  a certificate, CRL or collateral is outside its validity window;
 *  WD_EDENIED   the policy refused (WD_SGX_POLICY_*), or a revoked TCB;
 *  WD_EINVAL    NULL arguments; WD_ENOMEM; WD_ETLS for an internal OpenSSL failure.
 * Thread-safe.
 */
WD_MUST_USE int wd_sgx_verify(const uint8_t *p, size_t len,
                              const struct wd_sgx_collateral *collateral,
                              const struct wd_sgx_policy *policy, struct wd_sgx_result *result,
                              struct wd_diag *diag);

/* As wd_sgx_verify, reusing verified chains and collateral from cache (may be NULL). */
WD_MUST_USE int wd_sgx_verify_cached(struct wd_sgx_cache *cache, const uint8_t *p, size_t len,
                                     const struct wd_sgx_collateral *collateral,
                                     const struct wd_sgx_policy *policy,
                                     struct wd_sgx_result *result, struct wd_diag *diag);

#endif
