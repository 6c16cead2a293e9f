/*
 * TPM 2.0 evidence on the verifier side: strict parsers for the wire structures of a quote
 * and of TPM keys, quote verification, software MakeCredential (and its inverse, for
 * tests), and endorsement-key (EK) checks. Structure and section numbers are those of the
 * TCG "Trusted Platform Module Library" specification, Family 2.0, Part 1 (Architecture)
 * and Part 2 (Structures).
 *
 * Parsing is pure: bytes in, a struct out, no I/O, no allocation. Parsed structs hold
 * struct wd_slice views that BORROW from the input bytes, so the input must outlive them.
 * Every length is bounded, every algorithm identifier must be one warden knows, and no
 * trailing byte is accepted. A failure returns WD_EPROTO and, through the optional
 * `enum wd_tpm_reason *why` out-parameter (may be NULL), says which rule was broken.
 * Reasons are also what the control plane writes to its audit log (wd_tpm_reason_name).
 *
 * All functions are thread-safe (they share nothing) unless a comment says otherwise.
 * OpenSSL objects passed in are borrowed; OpenSSL objects returned are owned by the caller.
 */
#ifndef WD_TPM_H
#define WD_TPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"

/* TPM_ALG_ID values (Part 2 §6.3) that warden recognises. */
#define WD_TPM_ALG_RSA            0x0001
#define WD_TPM_ALG_SHA1           0x0004
#define WD_TPM_ALG_HMAC           0x0005
#define WD_TPM_ALG_AES            0x0006
#define WD_TPM_ALG_KEYEDHASH      0x0008
#define WD_TPM_ALG_SHA256         0x000B
#define WD_TPM_ALG_SHA384         0x000C
#define WD_TPM_ALG_SHA512         0x000D
#define WD_TPM_ALG_NULL           0x0010
#define WD_TPM_ALG_RSASSA         0x0014
#define WD_TPM_ALG_RSAES          0x0015
#define WD_TPM_ALG_RSAPSS         0x0016
#define WD_TPM_ALG_OAEP           0x0017
#define WD_TPM_ALG_ECDSA          0x0018
#define WD_TPM_ALG_ECDH           0x0019
#define WD_TPM_ALG_MGF1           0x0007
#define WD_TPM_ALG_KDF1_SP800_56A 0x0020
#define WD_TPM_ALG_KDF2           0x0021
#define WD_TPM_ALG_KDF1_SP800_108 0x0022
#define WD_TPM_ALG_ECC            0x0023
#define WD_TPM_ALG_SYMCIPHER      0x0025
#define WD_TPM_ALG_CTR            0x0040
#define WD_TPM_ALG_OFB            0x0041
#define WD_TPM_ALG_CBC            0x0042
#define WD_TPM_ALG_CFB            0x0043
#define WD_TPM_ALG_ECB            0x0044

/* TPM_ECC_CURVE values (Part 2 §6.4). */
#define WD_TPM_ECC_NIST_P256 0x0003
#define WD_TPM_ECC_NIST_P384 0x0004
#define WD_TPM_ECC_NIST_P521 0x0005

/* TPM_GENERATED_VALUE (Part 2 §6.2) and TPM_ST_ATTEST_QUOTE (Part 2 §6.9). */
#define WD_TPM_GENERATED_VALUE 0xff544347u
#define WD_TPM_ST_ATTEST_QUOTE 0x8018

/* TPMA_OBJECT bits (Part 2 §8.3). */
#define WD_TPMA_FIXED_TPM             (1u << 1)
#define WD_TPMA_ST_CLEAR              (1u << 2)
#define WD_TPMA_FIXED_PARENT          (1u << 4)
#define WD_TPMA_SENSITIVE_DATA_ORIGIN (1u << 5)
#define WD_TPMA_USER_WITH_AUTH        (1u << 6)
#define WD_TPMA_ADMIN_WITH_POLICY     (1u << 7)
#define WD_TPMA_NO_DA                 (1u << 10)
#define WD_TPMA_ENCRYPTED_DUPLICATION (1u << 11)
#define WD_TPMA_RESTRICTED            (1u << 16)
#define WD_TPMA_DECRYPT               (1u << 17)
#define WD_TPMA_SIGN_ENCRYPT          (1u << 18)
#define WD_TPMA_X509_SIGN             (1u << 19)
/* Bits 0, 3, 8-9, 12-15 and 20-31 are reserved and must be zero. */
#define WD_TPMA_RESERVED 0xFFF0F309u

/* Bounds. Digests are at most SHA-512; a Name is a hash algorithm plus a digest. */
#define WD_TPM_DIGEST_MAX     64
#define WD_TPM_NAME_MAX       (2 + WD_TPM_DIGEST_MAX)
#define WD_TPM_DATA_MAX       (2 + WD_TPM_DIGEST_MAX) /* TPM2B_DATA: sizeof(TPMT_HA) */
#define WD_TPM_RSA_BYTES_MAX  512                     /* 4096-bit keys */
#define WD_TPM_ECC_BYTES_MAX  66                      /* P-521 */
#define WD_TPM_PCR_BANKS_MAX  4                       /* SHA-1, SHA-256, SHA-384, SHA-512 */
#define WD_TPM_PCR_SELECT_MIN 3                       /* PCR_SELECT_MIN: 24 PCRs */
#define WD_TPM_PCR_SELECT_MAX 4                       /* up to 32 PCRs */
#define WD_TPM_PCR_MAX        (8 * WD_TPM_PCR_SELECT_MAX)
/* A TPM2B_PUBLIC is at most this large (RSA-4096 unique + 64-byte policy + fields). */
#define WD_TPM_PUBLIC_MAX 1024

/*
 * Why a structure or a piece of evidence was refused. The numbering is stable; the names
 * (wd_tpm_reason_name) are short tokens for audit records, the texts (wd_tpm_reason_str)
 * are for people.
 */
enum wd_tpm_reason {
    WD_TPM_OK = 0,
    /* structure (parsers): WD_EPROTO */
    WD_TPM_R_TRUNCATED = 1,        /* input ends inside a structure */
    WD_TPM_R_TRAILING = 2,         /* bytes left after the structure */
    WD_TPM_R_SIZE = 3,             /* a size field is out of its bounds or inconsistent */
    WD_TPM_R_VALUE = 4,            /* a field holds a value outside its range */
    WD_TPM_R_HASH_ALG = 5,         /* hash algorithm not SHA-1/256/384/512 (where allowed) */
    WD_TPM_R_SIG_ALG = 6,          /* signature algorithm not RSASSA, RSAPSS or ECDSA */
    WD_TPM_R_KEY_TYPE = 7,         /* public area is not an RSA or ECC key */
    WD_TPM_R_SCHEME = 8,           /* key scheme unknown or unsupported */
    WD_TPM_R_SYMMETRIC = 9,        /* symmetric definition unknown or unsupported */
    WD_TPM_R_KDF = 10,             /* KDF scheme unknown */
    WD_TPM_R_CURVE = 11,           /* ECC curve not P-256/384/521 */
    WD_TPM_R_KEY_BITS = 12,        /* RSA key size not 2048/3072/4096 */
    WD_TPM_R_ATTRIBUTES = 13,      /* reserved TPMA_OBJECT bits set */
    WD_TPM_R_PCR_BANKS = 14,       /* TPML_PCR_SELECTION count out of bounds */
    WD_TPM_R_PCR_SELECT_SIZE = 15, /* sizeofSelect out of bounds */
    WD_TPM_R_PCR_BANK_DUP = 16,    /* the same bank selected twice */
    WD_TPM_R_NAME = 17,            /* a TPM2B_NAME is neither a handle nor alg+digest */
    WD_TPM_R_KEY_INVALID = 18,     /* key material rejected (point not on curve, bad RSA) */
    WD_TPM_R_MAGIC = 19,           /* TPMS_ATTEST magic is not TPM_GENERATED_VALUE */
    WD_TPM_R_ATTEST_TYPE = 20,     /* TPMS_ATTEST type is not TPM_ST_ATTEST_QUOTE */
    /* quote verification, in the order the checks run */
    WD_TPM_R_SIG_NOT_ALLOWED = 30, /* 1: scheme or hash not in the allowed set: WD_EDENIED */
    WD_TPM_R_SIG_MISMATCH = 31,    /* 1: differs from the AK's type or scheme: WD_EDENIED */
    WD_TPM_R_SIG_INVALID = 32,     /* 2: signature does not verify: WD_ECRYPTO */
    /* 3: WD_TPM_R_MAGIC, WD_TPM_R_ATTEST_TYPE and other structure reasons: WD_EPROTO */
    WD_TPM_R_NONCE = 33,             /* 4: extraData is not the nonce: WD_EDENIED */
    WD_TPM_R_PCR_VALUES = 34,        /* 5: PCR values do not fit the selection: WD_EPROTO */
    WD_TPM_R_PCR_DIGEST = 35,        /* 5: pcrDigest is not H(PCR values): WD_EDENIED */
    WD_TPM_R_PCR_MISSING = 36,       /* 6: a PCR the policy names is not quoted: WD_EDENIED */
    WD_TPM_R_PCR_UNLISTED = 37,      /* 6: a quoted PCR has no rule (only_listed) */
    WD_TPM_R_PCR_VALUE = 38,         /* 6: a PCR value is not an allowed one: WD_EDENIED */
    WD_TPM_R_RESET_BACKWARDS = 39,   /* 7: resetCount decreased: WD_EDENIED */
    WD_TPM_R_RESTART_BACKWARDS = 40, /* 7: restartCount decreased, same resetCount */
    WD_TPM_R_CLOCK_BACKWARDS = 41,   /* 7: clock did not increase, same resetCount */
    /* key roles */
    WD_TPM_R_AK_ATTRIBUTES = 50, /* not a restricted signing key bound to its TPM */
    WD_TPM_R_EK_ATTRIBUTES = 51, /* not a restricted decryption (storage) key */
    /* credential protection */
    WD_TPM_R_CREDENTIAL_SIZE = 60, /* credential empty or longer than the nameAlg digest */
    WD_TPM_R_CRED_INTEGRITY = 61,  /* credential blob HMAC does not verify */
    WD_TPM_R_SECRET = 62,          /* encrypted secret does not decrypt */
    /* endorsement key */
    WD_TPM_R_EK_CERT = 70,         /* EK certificate is not a DER certificate */
    WD_TPM_R_EK_CHAIN = 71,        /* EK certificate does not chain to a trusted CA */
    WD_TPM_R_EK_KEY_MISMATCH = 72, /* EK certificate key is not the EK public area's */
    WD_TPM_R_EK_NOT_ALLOWED = 73,  /* EK public-key hash is not on the allow-list */
};

/* Text for people ("signature does not verify"); never NULL. */
const char *wd_tpm_reason_str(enum wd_tpm_reason r);
/* Short stable token for audit records ("sig-invalid"); never NULL. */
const char *wd_tpm_reason_name(enum wd_tpm_reason r);

/* Digest size of a hash TPM_ALG_ID (SHA-1/256/384/512), or 0 for any other value. */
size_t wd_tpm_hash_size(uint16_t alg);

/* ---- structures ---- */

/* TPMS_PCR_SELECTION (Part 2 §10.6.2): one bank. */
struct wd_tpm_pcr_bank {
    uint16_t hash;                         /* bank hash algorithm */
    uint8_t size_of_select;                /* WD_TPM_PCR_SELECT_MIN..MAX */
    uint8_t select[WD_TPM_PCR_SELECT_MAX]; /* bit (i % 8) of byte i / 8 selects PCR i */
};

/* TPML_PCR_SELECTION (Part 2 §10.9.7). */
struct wd_tpm_pcr_selection {
    uint32_t count; /* 0..WD_TPM_PCR_BANKS_MAX */
    struct wd_tpm_pcr_bank banks[WD_TPM_PCR_BANKS_MAX];
};

/* TPMS_CLOCK_INFO (Part 2 §10.11.1). */
struct wd_tpm_clock {
    uint64_t clock;         /* milliseconds the TPM has been powered since TPM2_Clear */
    uint32_t reset_count;   /* TPM resets since TPM2_Clear */
    uint32_t restart_count; /* restarts/resumes since the last reset */
    bool safe;              /* no clock value was reported before being saved to NV */
};

/* TPMS_ATTEST (Part 2 §10.12.12) with TPMS_QUOTE_INFO (§10.12). Slices borrow input. */
struct wd_tpm_attest {
    uint32_t magic;
    uint16_t type;
    struct wd_slice qualified_signer; /* TPM2B_NAME content */
    struct wd_slice extra_data;       /* TPM2B_DATA content: the verifier's nonce */
    struct wd_tpm_clock clock;
    uint64_t firmware_version;
    struct wd_tpm_pcr_selection pcr_select;
    struct wd_slice pcr_digest; /* TPM2B_DIGEST content */
};

/* TPMT_SIGNATURE (Part 2 §11.3.4) for RSASSA, RSAPSS and ECDSA. Slices borrow input. */
struct wd_tpm_signature {
    uint16_t sig_alg;      /* WD_TPM_ALG_RSASSA, _RSAPSS or _ECDSA */
    uint16_t hash;         /* WD_TPM_ALG_SHA256, _SHA384 or _SHA512 */
    struct wd_slice rsa;   /* RSA: TPM2B_PUBLIC_KEY_RSA content */
    struct wd_slice ecc_r; /* ECDSA: TPM2B_ECC_PARAMETER contents */
    struct wd_slice ecc_s;
};

/* TPMT_PUBLIC (Part 2 §12.2.4) for RSA and ECC keys. Slices borrow input. */
struct wd_tpm_public {
    uint16_t type;     /* WD_TPM_ALG_RSA or WD_TPM_ALG_ECC */
    uint16_t name_alg; /* SHA-1/256/384/512 */
    uint32_t attributes;
    struct wd_slice auth_policy;
    /* TPMT_SYM_DEF_OBJECT (§11.1.7): sym_alg NULL or AES (then bits and mode are set) */
    uint16_t sym_alg, sym_bits, sym_mode;
    /* TPMT_RSA_SCHEME / TPMT_ECC_SCHEME (§11.2.4, §11.2.5); hash 0 for NULL/RSAES */
    uint16_t scheme, scheme_hash;
    /* RSA (§12.2.3.5): keyBits, exponent (0 means 65537), modulus */
    uint16_t rsa_bits;
    uint32_t rsa_exponent;
    struct wd_slice rsa_n;
    /* ECC (§12.2.3.6): curve, KDF (§11.2.3; hash 0 for NULL), point */
    uint16_t curve, kdf, kdf_hash;
    struct wd_slice ecc_x, ecc_y;
    /* the whole TPMT_PUBLIC as parsed, which the Name is computed over */
    struct wd_slice raw;
};

/* A TPM Name (Part 1 §16): nameAlg (big-endian) followed by H_nameAlg(TPMT_PUBLIC). */
struct wd_tpm_name {
    uint8_t b[WD_TPM_NAME_MAX];
    size_t len;
};

/* ---- parsers: WD_OK, or WD_EPROTO with *why (may be NULL) set; WD_EINVAL for NULL args ---- */

/*
 * Strip a TPM2B wrapper: p[0..len) must be a big-endian uint16 size followed by exactly
 * that many bytes, with 0 < size <= max. *out borrows p. Reasons: TRUNCATED, SIZE, TRAILING.
 */
WD_MUST_USE int wd_tpm_2b_unwrap(const uint8_t *p, size_t len, size_t max, struct wd_slice *out,
                                 enum wd_tpm_reason *why);

/*
 * TPML_PCR_SELECTION: count <= WD_TPM_PCR_BANKS_MAX (PCR_BANKS), each bank hash SHA-1/256/
 * 384/512 (HASH_ALG) at most once (PCR_BANK_DUP), sizeofSelect in
 * [WD_TPM_PCR_SELECT_MIN, WD_TPM_PCR_SELECT_MAX] (PCR_SELECT_SIZE); TRUNCATED, TRAILING.
 */
WD_MUST_USE int wd_tpm_pcr_selection_parse(const uint8_t *p, size_t len,
                                           struct wd_tpm_pcr_selection *out,
                                           enum wd_tpm_reason *why);

/*
 * TPMS_ATTEST of a quote (the bytes TPM2_Quote signs; TPM2B_ATTEST's content). Checks, in
 * order: magic (MAGIC), type (ATTEST_TYPE), qualifiedSigner (NAME), extraData <= 66 bytes
 * (SIZE), safe is 0 or 1 (VALUE), the PCR selection as above, pcrDigest 1..64 bytes
 * (SIZE); TRUNCATED, TRAILING.
 */
WD_MUST_USE int wd_tpm_attest_parse(const uint8_t *p, size_t len, struct wd_tpm_attest *out,
                                    enum wd_tpm_reason *why);

/*
 * TPMT_SIGNATURE: sigAlg RSASSA, RSAPSS or ECDSA (SIG_ALG), hash SHA-256/384/512
 * (HASH_ALG), RSA signature 1..512 bytes, ECDSA r and s 1..66 bytes each (SIZE);
 * TRUNCATED, TRAILING.
 */
WD_MUST_USE int wd_tpm_signature_parse(const uint8_t *p, size_t len, struct wd_tpm_signature *out,
                                       enum wd_tpm_reason *why);

/*
 * TPMT_PUBLIC of an RSA or ECC key (KEY_TYPE): nameAlg SHA-1/256/384/512 (HASH_ALG), no
 * reserved attribute bit (ATTRIBUTES), authPolicy empty or of the nameAlg's digest size
 * (SIZE), symmetric NULL or AES-128/192/256 with a known mode (SYMMETRIC), scheme NULL,
 * RSASSA, RSAPSS, OAEP or RSAES for RSA and NULL, ECDSA or ECDH for ECC with a SHA-1/256/
 * 384/512 hash (SCHEME / HASH_ALG), RSA keyBits 2048/3072/4096 (KEY_BITS) with a modulus of
 * exactly keyBits/8 bytes (SIZE), ECC curve P-256/384/521 (CURVE), KDF NULL, MGF1, KDF1
 * SP800-56A, KDF2 or KDF1 SP800-108 (KDF), each coordinate at most the curve size (SIZE);
 * TRUNCATED, TRAILING. This checks form only: whether the key is a valid RSA modulus or a
 * point on the curve is wd_tpm_public_to_pkey's job.
 */
WD_MUST_USE int wd_tpm_public_parse(const uint8_t *p, size_t len, struct wd_tpm_public *out,
                                    enum wd_tpm_reason *why);
/* TPM2B_PUBLIC: wd_tpm_2b_unwrap (max WD_TPM_PUBLIC_MAX) then wd_tpm_public_parse. */
WD_MUST_USE int wd_tpm_public_parse_2b(const uint8_t *p, size_t len, struct wd_tpm_public *out,
                                       enum wd_tpm_reason *why);

/*
 * Whether n[0..len) is a well-formed TPM2B_NAME content holding a digest: a supported
 * hash algorithm followed by a digest of exactly its size. WD_OK or WD_EPROTO (NAME).
 */
WD_MUST_USE int wd_tpm_name_check(const uint8_t *n, size_t len, enum wd_tpm_reason *why);

/* ---- marshalling (the inverse of the parsers; used by tests, tools and fuzzers) ---- */

/* Append the canonical encoding of each structure to out. WD_ENOMEM, WD_ELIMIT, WD_EINVAL. */
WD_MUST_USE int wd_tpm_pcr_selection_marshal(const struct wd_tpm_pcr_selection *sel,
                                             struct wd_buf *out);
WD_MUST_USE int wd_tpm_attest_marshal(const struct wd_tpm_attest *a, struct wd_buf *out);
WD_MUST_USE int wd_tpm_signature_marshal(const struct wd_tpm_signature *s, struct wd_buf *out);
WD_MUST_USE int wd_tpm_public_marshal(const struct wd_tpm_public *pub, struct wd_buf *out);

/* ---- PCR selections ---- */

/* Whether bank b selects PCR pcr. */
bool wd_tpm_pcr_selected(const struct wd_tpm_pcr_bank *b, unsigned pcr);
/*
 * The number of selected PCRs and the byte length of their values back to back, in
 * selection order (each bank in turn, PCRs ascending): what wd_tpm_quote_verify expects.
 */
void wd_tpm_pcr_selection_size(const struct wd_tpm_pcr_selection *sel, size_t *count,
                               size_t *bytes);

/* ---- keys ---- */

/*
 * Convert an RSA or ECC public area to an OpenSSL key. *out is owned by the caller
 * (EVP_PKEY_free). WD_EPROTO (KEY_INVALID: OpenSSL refused the modulus or point, or
 * the exponent is even or 1), WD_ENOMEM, WD_ETLS.
 */
WD_MUST_USE int wd_tpm_public_to_pkey(const struct wd_tpm_public *pub, EVP_PKEY **out,
                                      enum wd_tpm_reason *why);

/*
 * The Name of a public area: nameAlg followed by H_nameAlg(pub->raw) (Part 1 §16).
 * WD_EINVAL if pub was not filled by the parser, WD_ETLS if hashing fails.
 */
WD_MUST_USE int wd_tpm_public_name(const struct wd_tpm_public *pub, struct wd_tpm_name *out);

/*
 * Whether pub may be an attestation key: a restricted signing key (sign set, decrypt and
 * x509sign clear) that cannot leave its TPM (fixedTPM, fixedParent) and was generated in
 * it (sensitiveDataOrigin), with a scheme RSASSA, RSAPSS or ECDSA over SHA-256/384/512.
 * WD_OK, or WD_EDENIED with AK_ATTRIBUTES.
 */
WD_MUST_USE int wd_tpm_public_check_ak(const struct wd_tpm_public *pub, enum wd_tpm_reason *why);

/*
 * Whether pub is a storage key MakeCredential can target, such as an EK made from the TCG
 * EK templates: restricted, decrypt set, sign clear, fixedTPM and fixedParent set,
 * symmetric AES-128 or AES-256 in CFB mode, scheme NULL, nameAlg SHA-256/384/512, and
 * for ECC curve P-256/384/521 with KDF NULL. WD_OK, or WD_EDENIED with EK_ATTRIBUTES.
 */
WD_MUST_USE int wd_tpm_public_check_ek(const struct wd_tpm_public *pub, enum wd_tpm_reason *why);

/* ---- quote verification ---- */

/* Signature schemes and hashes a verifier allows (struct wd_tpm_quote_check). */
#define WD_TPM_SIG_RSASSA  (1u << 0)
#define WD_TPM_SIG_RSAPSS  (1u << 1)
#define WD_TPM_SIG_ECDSA   (1u << 2)
#define WD_TPM_HASH_SHA256 (1u << 0)
#define WD_TPM_HASH_SHA384 (1u << 1)
#define WD_TPM_HASH_SHA512 (1u << 2)

/* The allowed values of one PCR. */
struct wd_tpm_pcr_rule {
    uint16_t hash;         /* bank: WD_TPM_ALG_SHA1/256/384/512 */
    uint8_t pcr;           /* index, below WD_TPM_PCR_MAX */
    const uint8_t *values; /* n_values digests of the bank's size, back to back (borrowed) */
    size_t n_values;       /* at least 1 */
};

/*
 * Allowed PCR values: every rule's PCR must be quoted and hold one of its values. Several
 * rules for the same PCR must all be met. With only_listed, every quoted PCR must also
 * have a rule. No rules (and only_listed false) accepts any PCR values.
 */
struct wd_tpm_pcr_policy {
    const struct wd_tpm_pcr_rule *rules; /* borrowed */
    size_t n_rules;
    bool only_listed;
};

/* What a quote is checked against. Everything is borrowed. */
struct wd_tpm_quote_check {
    EVP_PKEY *ak_key;                       /* the AK's public key: required */
    const struct wd_tpm_public *ak_public;  /* ak_key's public area, optional; its scheme,
                                               unless NULL, is the only one accepted */
    unsigned sig_schemes;                   /* WD_TPM_SIG_* allowed; 0 means all three */
    unsigned sig_hashes;                    /* WD_TPM_HASH_* allowed; 0 means all three */
    struct wd_slice nonce;                  /* the nonce the verifier issued: 1..64 bytes */
    const struct wd_tpm_pcr_policy *policy; /* required (may have no rules) */
    const struct wd_tpm_clock *prev;        /* the last accepted quote's clock, or NULL */
};

/*
 * Verify a quote: attest is the TPMS_ATTEST bytes the TPM signed, sig its TPMT_SIGNATURE,
 * pcr_values the PCR values the agent reports, back to back in selection order (as
 * `tpm2_quote -o FILE -F values` writes them). The checks run in this order and the first
 * failure is returned with *why (may be NULL) set:
 *   0. sig parses (WD_EPROTO with a structure reason);
 *   1. the signature scheme and hash are allowed (SIG_NOT_ALLOWED), fit the AK's key
 *      type and, when ak_public is given, its scheme (SIG_MISMATCH): WD_EDENIED;
 *   2. the signature verifies over attest with ak_key (SIG_INVALID): WD_ECRYPTO;
 *   3. attest parses, magic then type first (MAGIC, ATTEST_TYPE, ...): WD_EPROTO;
 *   4. extraData equals the nonce, compared in constant time (NONCE): WD_EDENIED;
 *   5. pcr_values has one digest per selected PCR (PCR_VALUES: WD_EPROTO) and pcrDigest
 *      equals H_sighash(pcr_values) (PCR_DIGEST: WD_EDENIED);
 *   6. the values meet the policy (PCR_MISSING, PCR_UNLISTED, PCR_VALUE): WD_EDENIED;
 *   7. against prev: resetCount did not decrease (RESET_BACKWARDS); with the same
 *      resetCount, restartCount did not decrease (RESTART_BACKWARDS) and clock increased
 *      strictly (CLOCK_BACKWARDS): WD_EDENIED. A higher resetCount accepts any clock.
 * On WD_OK *out (may be NULL) holds the parsed attest (borrowing attest's bytes); its
 * clock is what the caller stores as prev for the next quote. WD_EINVAL for a missing
 * ak_key or policy, an empty or oversized nonce, or a malformed policy rule; WD_ENOMEM and
 * WD_ETLS when OpenSSL fails for reasons other than the evidence.
 */
WD_MUST_USE int wd_tpm_quote_verify(const struct wd_tpm_quote_check *chk, struct wd_slice attest,
                                    struct wd_slice sig, struct wd_slice pcr_values,
                                    struct wd_tpm_attest *out, enum wd_tpm_reason *why);

/* ---- credential protection (Part 1 §24) ---- */

/*
 * TPM2_MakeCredential in software, as the control plane runs it to bind an AK to an EK:
 * ek must pass wd_tpm_public_check_ek (else WD_EDENIED, EK_ATTRIBUTES), ak_name must pass
 * wd_tpm_name_check (WD_EPROTO, NAME) and credential must be 1..digest-size(ek nameAlg)
 * bytes (WD_EINVAL, CREDENTIAL_SIZE). A fresh seed is shared with the EK: for RSA, the
 * seed (digest-size bytes from wd_rand_bytes) encrypted with RSA-OAEP(nameAlg, label
 * "IDENTITY\0"); for ECC, KDFe over an ephemeral ECDH exchange. Then
 * symKey = KDFa(nameAlg, seed, "STORAGE", ak_name, "", EK symmetric key bits),
 * encIdentity = AES-CFB(symKey, IV 0, TPM2B_DIGEST(credential)),
 * HMACkey = KDFa(nameAlg, seed, "INTEGRITY", "", "", digest bits),
 * outerHMAC = HMAC(HMACkey, encIdentity || ak_name).
 * Appends TPM2B_ID_OBJECT (size || TPM2B_DIGEST(outerHMAC) || encIdentity) to id_object and
 * TPM2B_ENCRYPTED_SECRET (size || RSA ciphertext or TPMS_ECC_POINT) to enc_secret, exactly as
 * tpm2_makecredential does, so that TPM2_ActivateCredential(AK, EK) on the TPM returns the
 * credential. WD_ENOMEM, WD_ELIMIT (buffers), WD_ECRYPTO (RNG), WD_ETLS; on error both
 * buffers are left as they were.
 */
WD_MUST_USE int wd_tpm_make_credential(const struct wd_tpm_public *ek, struct wd_slice ak_name,
                                       struct wd_slice credential, struct wd_buf *id_object,
                                       struct wd_buf *enc_secret, enum wd_tpm_reason *why);

/*
 * TPM2_ActivateCredential in software, given the EK's private key (tests and tools only:
 * a real EK's private key never leaves its TPM). id_object and enc_secret are the
 * TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET as wd_tpm_make_credential writes them.
 * Appends the credential to out. Errors: WD_EINVAL (ek_private is not of ek's key type),
 * WD_EDENIED (EK_ATTRIBUTES), WD_EPROTO (NAME, or a
 * structure reason for the two blobs), WD_ECRYPTO (SECRET: the seed does not decrypt;
 * CRED_INTEGRITY: the HMAC does not verify), WD_ENOMEM, WD_ELIMIT, WD_ETLS.
 */
WD_MUST_USE int wd_tpm_activate_credential(const struct wd_tpm_public *ek, EVP_PKEY *ek_private,
                                           struct wd_slice ak_name, struct wd_slice id_object,
                                           struct wd_slice enc_secret, struct wd_buf *out,
                                           enum wd_tpm_reason *why);

/* ---- endorsement key ---- */

/*
 * Load every "*.pem" file in directory dir (not recursive; each may hold several
 * certificates) into a new trust store for EK certificates. *out is owned by the caller
 * (X509_STORE_free). WD_ENOENT (no such directory), WD_EIO, WD_ECONFIG (a file is not PEM
 * certificates, or no certificate at all), WD_ENOMEM; diag (may be NULL) names the file.
 */
WD_MUST_USE int wd_tpm_ca_store_load(const char *dir, X509_STORE **out, struct wd_diag *diag);

/*
 * Parse an EK certificate as read from the TPM's NV index (0x01c00002 for RSA, 0x01c0000a
 * for ECC): one DER certificate, optionally followed by 0x00 or 0xff padding bytes up to
 * the index size. *out owned by the caller (X509_free). WD_EPROTO (EK_CERT), WD_ENOMEM.
 */
WD_MUST_USE int wd_tpm_ek_cert_parse(const uint8_t *der, size_t len, X509 **out,
                                     enum wd_tpm_reason *why);

/*
 * Check an EK certificate against store (wd_tpm_ca_store_load), with optional untrusted
 * intermediates, at Unix time at (0 means now), then that its public key equals ek's.
 * EK certificates carry TCG extensions OpenSSL does not know (a critical
 * subjectAltName with directoryName, a subjectDirectoryAttributes); those are accepted.
 * WD_EDENIED with EK_CHAIN (diag says OpenSSL's verification error) or EK_KEY_MISMATCH;
 * WD_EPROTO (KEY_INVALID) when ek is not a valid key; WD_ENOMEM, WD_ETLS.
 */
WD_MUST_USE int wd_tpm_ek_cert_verify(X509_STORE *store, X509 *cert, STACK_OF(X509) * untrusted,
                                      int64_t at, const struct wd_tpm_public *ek,
                                      enum wd_tpm_reason *why, struct wd_diag *diag);

/*
 * The EK allow-list form of a key: lower-case hex of SHA-256 over its DER
 * SubjectPublicKeyInfo, NUL-terminated in out. WD_ENOMEM, WD_ETLS.
 */
WD_MUST_USE int wd_tpm_spki_sha256_hex(EVP_PKEY *key, char out[65]);

/*
 * Whether ek's public key is on allow-list hashes[0..n) (hex as above; upper-case hex is
 * accepted too). WD_OK, WD_EDENIED (EK_NOT_ALLOWED), WD_EPROTO (KEY_INVALID), WD_ENOMEM,
 * WD_ETLS.
 */
WD_MUST_USE int wd_tpm_ek_allowed(const struct wd_tpm_public *ek, const char *const *hashes,
                                  size_t n, enum wd_tpm_reason *why);

#endif
