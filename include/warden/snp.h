/*
 * AMD SEV-SNP attestation evidence on the verifier side: a strict parser for the
 * ATTESTATION_REPORT structure, and a verifier that checks its ECDSA P-384 signature with
 * the chip's VCEK (or the cloud provider's VLEK) certificate, that certificate's chain
 * VCEK -> ASK (VLEK -> ASVK) -> ARK up to AMD roots pinned in warden (one per product line:
 * Milan, Genoa, Turin), the VCEK's TCB and hardware-ID extensions against the report, and
 * a verifier policy (debug, measurement allow-list, minimum TCB, report_data binding, ...).
 *
 * References, cited in the code as [ABI] and [VCEK]:
 *   [ABI]  AMD "SEV Secure Nested Paging Firmware ABI Specification" (pub. 56860), rev 1.55+:
 *          §2.2 TCB_VERSION, §4.3 guest policy, §7.3 ATTESTATION_REPORT (Table 22/23),
 *          chapter 10 signature formats (Table 139/141: ECDSA P-384 with SHA-384).
 *   [VCEK] AMD "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface
 *          Specification" (pub. 57230): certificate chain, RSASSA-PSS, VCEK extensions.
 *
 * Refusals carry an enum wd_snp_reason: a stable number, a short token for audit records
 * (wd_snp_reason_name) and a sentence for people (wd_snp_reason_str). Functions are
 * thread-safe unless a comment says otherwise; a struct wd_snp_cache may be shared by
 * threads (it locks internally).
 */
#ifndef WD_SNP_H
#define WD_SNP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/common.h"
#include "warden/err.h"

/* [ABI] Table 22: the report is 0x4A0 bytes; the signature covers bytes 0x000..0x29F. */
#define WD_SNP_REPORT_SIZE      0x4A0
#define WD_SNP_SIGNED_SIZE      0x2A0
#define WD_SNP_REPORT_HEX_SIZE  0x940 /* 2 * WD_SNP_REPORT_SIZE hex digits */
#define WD_SNP_REPORT_DATA_SIZE 64
#define WD_SNP_MEASUREMENT_SIZE 48
#define WD_SNP_HOST_DATA_SIZE   32
#define WD_SNP_DIGEST_SIZE      48 /* ID_KEY_DIGEST, AUTHOR_KEY_DIGEST: SHA-384 */
#define WD_SNP_REPORT_ID_SIZE   32
#define WD_SNP_CHIP_ID_SIZE     64
/* Raw or hex report input (hex may contain whitespace) is at most this large. */
#define WD_SNP_INPUT_MAX 65536u
/* A --chain file may hold at most this many certificates. */
#define WD_SNP_CHAIN_MAX 8

/* Report versions this parser knows ([ABI] Table 22/23). */
#define WD_SNP_VERSION_MIN 2
#define WD_SNP_VERSION_MAX 5

/* SIGNATURE_ALGO ([ABI] Table 139): the only algorithm defined. */
#define WD_SNP_SIG_ALGO_ECDSA_P384_SHA384 1

/* Guest POLICY bits ([ABI] §4.3, Table 9). Bits 7:0 ABI_MINOR, 15:8 ABI_MAJOR. */
#define WD_SNP_POLICY_SMT               (1ull << 16)
#define WD_SNP_POLICY_RESERVED_ONE      (1ull << 17) /* reserved, must be one at launch */
#define WD_SNP_POLICY_MIGRATE_MA        (1ull << 18)
#define WD_SNP_POLICY_DEBUG             (1ull << 19)
#define WD_SNP_POLICY_SINGLE_SOCKET     (1ull << 20)
#define WD_SNP_POLICY_CXL_ALLOW         (1ull << 21)
#define WD_SNP_POLICY_MEM_AES_256_XTS   (1ull << 22)
#define WD_SNP_POLICY_RAPL_DIS          (1ull << 23)
#define WD_SNP_POLICY_CIPHERTEXT_HIDING (1ull << 24)
#define WD_SNP_POLICY_PAGE_SWAP_DISABLE (1ull << 25)

/* PLATFORM_INFO bits ([ABI] Table 23). Other bits are reported as they are. */
#define WD_SNP_PLATFORM_SMT_EN               (1ull << 0)
#define WD_SNP_PLATFORM_TSME_EN              (1ull << 1)
#define WD_SNP_PLATFORM_ECC_EN               (1ull << 2)
#define WD_SNP_PLATFORM_RAPL_DIS             (1ull << 3)
#define WD_SNP_PLATFORM_CIPHERTEXT_HIDING_EN (1ull << 4)
#define WD_SNP_PLATFORM_ALIAS_CHECK_COMPLETE (1ull << 5)

/* AMD product lines. The numbering is stable. */
enum wd_snp_product {
    WD_SNP_PRODUCT_UNKNOWN = 0,
    WD_SNP_MILAN = 1, /* EPYC 7003, CPUID family 19h model 00h-0Fh */
    WD_SNP_GENOA = 2, /* EPYC 9004/8004, family 19h model 10h-1Fh, A0h-AFh */
    WD_SNP_TURIN = 3, /* EPYC 9005, family 1Ah model 00h-1Fh */
};
#define WD_SNP_PRODUCT_COUNT 3

/* "Milan", "Genoa", "Turin" or "unknown"; never NULL. */
const char *wd_snp_product_name(enum wd_snp_product p);
/*
 * The product line of a CPUID family/model pair as reported in a version 3+ report, or
 * WD_SNP_PRODUCT_UNKNOWN for any other pair.
 */
enum wd_snp_product wd_snp_product_from_cpuid(uint8_t family, uint8_t model);

/* SIGNING_KEY values ([ABI] Table 22, bits 4:2 of the word at 0x48). */
enum wd_snp_signer {
    WD_SNP_SIGNER_VCEK = 0,
    WD_SNP_SIGNER_VLEK = 1,
    WD_SNP_SIGNER_NONE = 7,
};
/* "VCEK", "VLEK", "none" or "invalid"; never NULL. */
const char *wd_snp_signer_name(enum wd_snp_signer s);

/*
 * A TCB_VERSION ([ABI] §2.2), decoded for one product line. Milan and Genoa: byte 0 boot
 * loader, 1 TEE, 2-5 reserved, 6 SNP, 7 microcode. Turin: byte 0 FMC, 1 boot loader, 2 TEE,
 * 3 SNP, 4-6 reserved, 7 microcode. fmc is 0 outside Turin. raw is the little-endian word.
 */
struct wd_snp_tcb {
    uint64_t raw;
    uint8_t fmc;
    uint8_t bootloader;
    uint8_t tee;
    uint8_t snp;
    uint8_t microcode;
};

/* Decode raw for product p (Turin layout for WD_SNP_TURIN, Milan/Genoa layout otherwise). */
void wd_snp_tcb_decode(uint64_t raw, enum wd_snp_product p, struct wd_snp_tcb *out);

/*
 * A parsed report: every field of [ABI] Table 22/23 at its offset, copied out of the input
 * (nothing borrowed). Multi-byte integers are little-endian on the wire.
 */
struct wd_snp_report {
    uint32_t version;                                          /* 0x000 */
    uint32_t guest_svn;                                        /* 0x004 */
    uint64_t policy;                                           /* 0x008, WD_SNP_POLICY_* */
    uint8_t family_id[16];                                     /* 0x010 */
    uint8_t image_id[16];                                      /* 0x020 */
    uint32_t vmpl;                                             /* 0x030 */
    uint32_t sig_algo;                                         /* 0x034 */
    struct wd_snp_tcb current_tcb;                             /* 0x038 */
    uint64_t platform_info;                                    /* 0x040, WD_SNP_PLATFORM_* */
    bool author_key_en;                                        /* 0x048 bit 0 */
    bool mask_chip_key;                                        /* 0x048 bit 1 */
    enum wd_snp_signer signing_key;                            /* 0x048 bits 4:2 */
    uint8_t report_data[WD_SNP_REPORT_DATA_SIZE];              /* 0x050 */
    uint8_t measurement[WD_SNP_MEASUREMENT_SIZE];              /* 0x090 */
    uint8_t host_data[WD_SNP_HOST_DATA_SIZE];                  /* 0x0C0 */
    uint8_t id_key_digest[WD_SNP_DIGEST_SIZE];                 /* 0x0E0 */
    uint8_t author_key_digest[WD_SNP_DIGEST_SIZE];             /* 0x110 */
    uint8_t report_id[WD_SNP_REPORT_ID_SIZE];                  /* 0x140 */
    uint8_t report_id_ma[WD_SNP_REPORT_ID_SIZE];               /* 0x160 */
    struct wd_snp_tcb reported_tcb;                            /* 0x180 */
    bool has_cpuid;                                            /* version >= 3 */
    uint8_t cpuid_fam_id, cpuid_mod_id, cpuid_step;            /* 0x188..0x18A (version >= 3) */
    uint8_t chip_id[WD_SNP_CHIP_ID_SIZE];                      /* 0x1A0 */
    struct wd_snp_tcb committed_tcb;                           /* 0x1E0 */
    uint8_t current_build, current_minor, current_major;       /* 0x1E8..0x1EA */
    uint8_t committed_build, committed_minor, committed_major; /* 0x1EC..0x1EE */
    struct wd_snp_tcb launch_tcb;                              /* 0x1F0 */
    bool has_mit_vectors;                                      /* version >= 5 */
    uint64_t launch_mit_vector;                                /* 0x1F8 (version >= 5) */
    uint64_t current_mit_vector;                               /* 0x200 (version >= 5) */
    uint8_t sig_r[48], sig_s[48]; /* 0x2A0 / 0x2E8: ECDSA r and s, converted to big-endian */
    /*
     * The product line the TCB fields are decoded for: from CPUID for version 3+ (unknown
     * CPUIDs give WD_SNP_PRODUCT_UNKNOWN and the Milan/Genoa layout), unknown for version 2
     * (whose chips all use the Milan/Genoa layout). wd_snp_verify re-decodes the TCBs for
     * the product of the VCEK.
     */
    enum wd_snp_product product;
};

/*
 * Why a report was refused. The numbering is stable. Each reason maps to one status code,
 * given after the colon; verification runs the checks in the order listed.
 */
enum wd_snp_reason {
    WD_SNP_OK = 0,
    /* 1. report structure: WD_EPROTO */
    WD_SNP_R_REPORT_SIZE = 1, /* neither 1184 raw bytes nor 2368 hex digits */
    WD_SNP_R_VERSION = 2,     /* VERSION not 2..5 */
    WD_SNP_R_SIG_ALGO = 3,    /* SIGNATURE_ALGO not ECDSA P-384 with SHA-384 */
    WD_SNP_R_SIGNING_KEY = 4, /* SIGNING_KEY not 0 (VCEK), 1 (VLEK) or 7 (none) */
    WD_SNP_R_RESERVED = 5,    /* a reserved (must-be-zero) field is not zero */
    WD_SNP_R_SIG_FORMAT = 6,  /* signature r or s is zero or wider than 384 bits */
    /* 2. endorsement key certificate and --chain: WD_EPROTO */
    WD_SNP_R_VCEK_MALFORMED = 20,  /* not one DER (or PEM) X.509 certificate */
    WD_SNP_R_VCEK_TYPE = 21,       /* subject CN is neither SEV-VCEK nor SEV-VLEK */
    WD_SNP_R_VCEK_KEY = 22,        /* public key is not EC P-384 */
    WD_SNP_R_VCEK_EXTENSION = 23,  /* AMD extension missing, duplicated or malformed */
    WD_SNP_R_PRODUCT_UNKNOWN = 24, /* productName is not Milan, Genoa or Turin */
    WD_SNP_R_CHAIN_MALFORMED = 25, /* the extra chain is not PEM/DER certificates */
    /* 3. binding between report and key: WD_EDENIED */
    WD_SNP_R_UNSIGNED = 30,         /* SIGNING_KEY is 7: the report carries no signature */
    WD_SNP_R_SIGNER_MISMATCH = 31,  /* report says VLEK and the certificate is a VCEK, ... */
    WD_SNP_R_PRODUCT_MISMATCH = 32, /* report CPUID (or the policy) names another product */
    /* 4. certificate chain to the pinned ARK */
    WD_SNP_R_NO_ISSUER = 33,          /* no ASK/ASVK of the product issued the key: WD_EDENIED */
    WD_SNP_R_ROOT_INVALID = 34,       /* a pinned root fails its own checks: WD_ECRYPTO */
    WD_SNP_R_ASK_SIGNATURE = 35,      /* the intermediate is not signed by the ARK: WD_ECRYPTO */
    WD_SNP_R_VCEK_SIGNATURE = 36,     /* the VCEK/VLEK is not signed by its ASK: WD_ECRYPTO */
    WD_SNP_R_CERT_EXPIRED = 37,       /* a chain certificate's notAfter has passed: WD_EEXPIRED */
    WD_SNP_R_CERT_NOT_YET_VALID = 38, /* a chain certificate's notBefore is ahead */
    /* 5. the report's signature: WD_ECRYPTO */
    WD_SNP_R_REPORT_SIGNATURE = 40,
    /* 6. the VCEK's extensions against the report: WD_EDENIED */
    WD_SNP_R_TCB_MISMATCH = 41,     /* REPORTED_TCB differs from the certificate's SPLs */
    WD_SNP_R_CHIP_ID_MISMATCH = 42, /* CHIP_ID differs from the VCEK's hwID */
    /* 7. verifier policy: WD_EDENIED */
    WD_SNP_R_DEBUG = 50,            /* guest policy allows debugging */
    WD_SNP_R_MIGRATE_MA = 51,       /* guest policy allows a migration agent */
    WD_SNP_R_MEASUREMENT = 52,      /* MEASUREMENT not in the allow-list */
    WD_SNP_R_TCB_TOO_LOW = 53,      /* a REPORTED_TCB component below the minimum */
    WD_SNP_R_REPORT_DATA = 54,      /* REPORT_DATA differs from the expected bytes */
    WD_SNP_R_VMPL = 55,             /* VMPL is not the required one */
    WD_SNP_R_GUEST_SVN = 56,        /* GUEST_SVN below the minimum */
    WD_SNP_R_VLEK_NOT_ALLOWED = 57, /* signed with a VLEK and the policy wants a VCEK */
    /* operational failure (no verdict on the evidence): WD_ENOMEM / WD_ETLS / WD_EINVAL */
    WD_SNP_R_INTERNAL = 90,
};

/* Text for people ("report signature does not verify with the VCEK"); never NULL. */
const char *wd_snp_reason_str(enum wd_snp_reason r);
/* Short stable token for audit records ("report-signature"); never NULL. */
const char *wd_snp_reason_name(enum wd_snp_reason r);
/* The status code a reason is returned with (WD_OK for WD_SNP_OK). */
WD_MUST_USE int wd_snp_reason_err(enum wd_snp_reason r);

/*
 * Bring report input to its 1184 raw bytes: p[0..n) is either exactly 1184 bytes (raw) or
 * hex text (either case) of 2368 digits, possibly split by whitespace (as files and tools
 * write it). WD_EPROTO with *why (may be NULL) = WD_SNP_R_REPORT_SIZE for anything else,
 * including more than WD_SNP_INPUT_MAX bytes. No allocation.
 */
WD_MUST_USE int wd_snp_report_load(const uint8_t *p, size_t n, uint8_t out[WD_SNP_REPORT_SIZE],
                                   enum wd_snp_reason *why);

/*
 * Parse a report (raw or hex, as wd_snp_report_load) into *out, field by field. Rejects,
 * with WD_EPROTO and *why (may be NULL) set: the size (REPORT_SIZE), an unknown VERSION
 * (VERSION), SIGNATURE_ALGO other than 1 (SIG_ALGO), SIGNING_KEY 2..6 (SIGNING_KEY), a
 * non-zero reserved field (RESERVED: the reserved bits of the key-information word, the
 * reserved bytes of the body for the report's version, and the unused parts of the
 * signature, which the signature does not cover, so an accepted report has exactly one
 * byte form), and a signature whose r or s is zero or exceeds 384 bits (SIG_FORMAT). Does
 * not verify anything. *out is fully written on WD_OK and unspecified otherwise. No
 * allocation; pure.
 */
WD_MUST_USE int wd_snp_report_parse(const uint8_t *p, size_t n, struct wd_snp_report *out,
                                    enum wd_snp_reason *why);

/* Re-decode the four TCB fields of r for product p and set r->product to p. */
void wd_snp_report_set_product(struct wd_snp_report *r, enum wd_snp_product p);

/*
 * What a verified report must also satisfy. Initialise with wd_snp_policy_init (which
 * gives the strictest defaults) and set what applies. Everything is borrowed.
 */
struct wd_snp_policy {
    bool allow_debug;      /* default false: refuse when POLICY.DEBUG is set */
    bool allow_migrate_ma; /* default false: refuse when POLICY.MIGRATE_MA is set */
    bool allow_vlek;       /* default true: accept reports signed with a VLEK */
    /*
     * Allowed MEASUREMENTs, n_measurements entries of 48 bytes. With n_measurements == 0
     * every report is refused (WD_SNP_R_MEASUREMENT) unless any_measurement is true.
     */
    const uint8_t (*measurements)[WD_SNP_MEASUREMENT_SIZE];
    size_t n_measurements;
    bool any_measurement; /* default false */
    /* Minimum REPORTED_TCB, per component (fmc only counts for Turin); when check_min_tcb. */
    bool check_min_tcb;
    struct wd_snp_tcb min_tcb;
    /* Expected REPORT_DATA (64 bytes), compared in constant time; NULL: not checked. */
    const uint8_t *report_data;
    int32_t vmpl;                /* required VMPL 0..3, or -1 (default): any */
    uint32_t min_guest_svn;      /* default 0 */
    enum wd_snp_product product; /* required product line, or UNKNOWN (default): any */
};

/* The strictest policy: no debug, no migration agent, no measurement allowed yet. */
void wd_snp_policy_init(struct wd_snp_policy *p);

/* The outcome of wd_snp_verify, with the claims a caller may rely on when reason is OK. */
struct wd_snp_result {
    enum wd_snp_reason reason;
    enum wd_snp_product product; /* from the VCEK/VLEK (UNKNOWN until it is parsed) */
    enum wd_snp_signer signer;   /* the kind of certificate given */
    bool chain_cached;           /* the chain work was skipped thanks to the cache */
    /* The parsed report (TCBs decoded for product); valid once past the structure checks. */
    struct wd_snp_report report;
    char measurement_hex[2 * WD_SNP_MEASUREMENT_SIZE + 1];
    char report_data_hex[2 * WD_SNP_REPORT_DATA_SIZE + 1];
    char chip_id_hex[2 * WD_SNP_CHIP_ID_SIZE + 1];
    bool debug, migrate_ma, smt, single_socket; /* guest policy flags */
    int64_t verified_at; /* the wd_time_now() the certificates were checked against */
};

/*
 * A cache of the per-product chain work: the pinned ARK parsed, its fingerprint and
 * self-signature checked, the ASK/ASVK checked against it, and the last
 * WD_SNP_CACHE_SLOTS endorsement-key certificates that chained to them (keyed by the
 * SHA-256 of their DER bytes), so repeated verifications do one SHA-256 and one ECDSA
 * verification. Validity periods are still checked at every verification. Thread-safe.
 */
#define WD_SNP_CACHE_SLOTS 32
struct wd_snp_cache;

/* A new cache over warden's pinned AMD roots. *out owned by the caller. WD_ENOMEM. */
WD_MUST_USE int wd_snp_cache_new(struct wd_snp_cache **out);
/* Accepts NULL. */
void wd_snp_cache_free(struct wd_snp_cache *c);
/* Verifications that found their VCEK in the cache (hits) and that did not (misses). */
void wd_snp_cache_stats(struct wd_snp_cache *c, uint64_t *hits, uint64_t *misses);

/*
 * Verify an attestation report.
 *   cache      NULL to do all the chain work now, or a cache (see above) to reuse it;
 *   report     raw or hex (wd_snp_report_load), n_report bytes;
 *   vcek       the VCEK or VLEK certificate, DER or PEM (exactly one certificate);
 *   chain      NULL, or PEM/DER text with extra intermediates (an ASK or ASVK). It can only
 *              add candidate issuers: each must itself be signed by the pinned ARK of the
 *              product, and roots are never taken from it (an ARK in it is ignored);
 *   policy     required (wd_snp_policy_init + settings);
 *   res        required; receives the reason and, as far as they were reached, the claims;
 *   diag       may be NULL; receives one line: the reason text and the detail.
 * The checks run in the order of enum wd_snp_reason and stop at the first failure:
 *   1. the report parses (wd_snp_report_parse);
 *   2. the certificate parses: subject CN "SEV-VCEK"/"SEV-VLEK", EC P-384 key, the
 *      productName extension names Milan/Genoa/Turin, the SPL extensions (blSPL, teeSPL,
 *      snpSPL, ucodeSPL, fmcSPL on Turin) are DER INTEGERs 0..255, and a VCEK's hwID is 64
 *      bytes (8 on Turin), raw or wrapped in an OCTET STRING; the chain parses;
 *   3. SIGNING_KEY is not none, agrees with the certificate type, and the report's CPUID
 *      product (version 3+), the product the certificate's issuer CN names, and
 *      policy->product (if set) agree with the certificate's productName;
 *   4. the certificate's issuer is the product's ASK (VCEK) or ASVK (VLEK), pinned or from
 *      chain, which is signed by the pinned ARK (RSASSA-PSS), and every certificate of the
 *      path is within its validity period at wd_time_now();
 *   5. the report's ECDSA P-384/SHA-384 signature over bytes 0x000..0x29F verifies;
 *   6. REPORTED_TCB equals the certificate's SPLs, and for a VCEK, unless MASK_CHIP_KEY is
 *      set, CHIP_ID equals hwID (the first 8 bytes on Turin);
 *   7. policy: debug, migration agent, VLEK, measurement, minimum TCB, report_data
 *      (constant time), VMPL, guest SVN.
 * Returns WD_OK when verified (res->reason WD_SNP_OK), else wd_snp_reason_err(reason):
 * WD_EPROTO, WD_EDENIED, WD_ECRYPTO or WD_EEXPIRED. Operational failures: WD_EINVAL (a
 * NULL required argument, a policy vmpl outside -1..3, measurements NULL with a count),
 * WD_ENOMEM, WD_ETLS (OpenSSL failed for a reason unrelated to the evidence); then
 * res->reason is WD_SNP_R_INTERNAL.
 */
WD_MUST_USE int wd_snp_verify(struct wd_snp_cache *cache, const uint8_t *report, size_t n_report,
                              const uint8_t *vcek, size_t n_vcek, const uint8_t *chain,
                              size_t n_chain, const struct wd_snp_policy *policy,
                              struct wd_snp_result *res, struct wd_diag *diag);

#endif
