/*
 * Strict parsers for the TPM 2.0 wire structures a verifier receives (TPM 2.0 Library
 * Part 2, "Structures"): TPML_PCR_SELECTION, TPMS_ATTEST of a quote, TPMT_SIGNATURE and
 * TPMT_PUBLIC; plus their canonical marshalling and the reason texts.
 *
 * The TPM marshals everything big-endian with no padding . Every TPM2B is a
 * uint16 size and that many bytes; each one is bounded here by the size of the union or
 * array it stands for in Part 2, and every enumerated field is checked against the values
 * warden supports, so that each refusal has a specific reason. The parsers never
 * allocate; the results borrow the input.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "warden/buf.h"
#include "warden/err.h"
#include "warden/tpm.h"

#include "attest/tpm_int.h"

/* Read a fixed-size field; running out of input is always "truncated". */
#define RD(call)                                                    \
    do {                                                            \
        if ((call) < 0) {                                           \
            return wd_tpm_fail(why, WD_TPM_R_TRUNCATED, WD_EPROTO); \
        }                                                           \
    } while (0)

/* One byte to point empty inputs at, so a NULL pointer never reaches the reader. */
static const uint8_t tpm_empty[1];

static void rd_init(struct wd_rd *r, const uint8_t *p, size_t len)
{
    wd_rd_init(r, p != NULL ? p : tpm_empty, p != NULL ? len : 0);
}

/* ---- reasons ---- */

struct reason_text {
    enum wd_tpm_reason r;
    const char *name;
    const char *text;
};

static const struct reason_text reason_texts[] = {
        {WD_TPM_OK, "ok", "ok"},
        {WD_TPM_R_TRUNCATED, "truncated", "structure is truncated"},
        {WD_TPM_R_TRAILING, "trailing-bytes", "bytes follow the structure"},
        {WD_TPM_R_SIZE, "bad-size", "a size field is out of bounds"},
        {WD_TPM_R_VALUE, "bad-value", "a field value is out of range"},
        {WD_TPM_R_HASH_ALG, "unsupported-hash", "unsupported hash algorithm"},
        {WD_TPM_R_SIG_ALG, "unsupported-sig-alg", "unsupported signature algorithm"},
        {WD_TPM_R_KEY_TYPE, "unsupported-key-type", "public area is not an RSA or ECC key"},
        {WD_TPM_R_SCHEME, "unsupported-scheme", "unsupported key scheme"},
        {WD_TPM_R_SYMMETRIC, "unsupported-symmetric", "unsupported symmetric algorithm"},
        {WD_TPM_R_KDF, "unsupported-kdf", "unsupported key derivation scheme"},
        {WD_TPM_R_CURVE, "unsupported-curve", "unsupported ECC curve"},
        {WD_TPM_R_KEY_BITS, "unsupported-key-size", "unsupported RSA key size"},
        {WD_TPM_R_ATTRIBUTES, "reserved-attributes", "reserved object attribute bits are set"},
        {WD_TPM_R_PCR_BANKS, "pcr-bank-count", "too many PCR banks in the selection"},
        {WD_TPM_R_PCR_SELECT_SIZE, "pcr-select-size", "PCR sizeofSelect out of range"},
        {WD_TPM_R_PCR_BANK_DUP, "pcr-bank-duplicate", "a PCR bank is selected twice"},
        {WD_TPM_R_NAME, "bad-name", "malformed TPM name"},
        {WD_TPM_R_KEY_INVALID, "invalid-key", "public key material is invalid"},
        {WD_TPM_R_MAGIC, "bad-magic", "attestation is not TPM-generated (bad magic)"},
        {WD_TPM_R_ATTEST_TYPE, "not-a-quote", "attestation is not a quote"},
        {WD_TPM_R_SIG_NOT_ALLOWED, "sig-alg-not-allowed", "signature algorithm not allowed"},
        {WD_TPM_R_SIG_MISMATCH, "sig-alg-mismatch",
         "signature algorithm does not match the attestation key"},
        {WD_TPM_R_SIG_INVALID, "sig-invalid", "quote signature does not verify"},
        {WD_TPM_R_NONCE, "nonce-mismatch", "quote extraData is not the nonce"},
        {WD_TPM_R_PCR_VALUES, "pcr-values-malformed", "PCR values do not fit the selection"},
        {WD_TPM_R_PCR_DIGEST, "pcr-digest-mismatch", "PCR digest does not match the PCR values"},
        {WD_TPM_R_PCR_MISSING, "pcr-not-quoted", "a required PCR is not in the quote"},
        {WD_TPM_R_PCR_UNLISTED, "pcr-not-in-policy", "a quoted PCR is not in the policy"},
        {WD_TPM_R_PCR_VALUE, "pcr-value-not-allowed", "a PCR value is not an allowed value"},
        {WD_TPM_R_RESET_BACKWARDS, "reset-count-backwards", "TPM resetCount went backwards"},
        {WD_TPM_R_RESTART_BACKWARDS, "restart-count-backwards", "TPM restartCount went backwards"},
        {WD_TPM_R_CLOCK_BACKWARDS, "clock-backwards", "TPM clock did not advance"},
        {WD_TPM_R_AK_ATTRIBUTES, "ak-attributes",
         "key is not a restricted signing key bound to its TPM"},
        {WD_TPM_R_EK_ATTRIBUTES, "ek-attributes", "key is not a restricted decryption key"},
        {WD_TPM_R_CREDENTIAL_SIZE, "credential-size", "credential size out of range"},
        {WD_TPM_R_CRED_INTEGRITY, "credential-integrity", "credential blob integrity check failed"},
        {WD_TPM_R_SECRET, "secret-undecryptable", "encrypted secret does not decrypt"},
        {WD_TPM_R_EK_CERT, "ek-cert-malformed", "EK certificate is malformed"},
        {WD_TPM_R_EK_CHAIN, "ek-cert-untrusted", "EK certificate does not chain to a trusted CA"},
        {WD_TPM_R_EK_KEY_MISMATCH, "ek-cert-key-mismatch",
         "EK certificate key differs from the EK public area"},
        {WD_TPM_R_EK_NOT_ALLOWED, "ek-not-allowed", "EK public key is not on the allow-list"},
};

static const struct reason_text *reason_find(enum wd_tpm_reason r)
{
    for (size_t i = 0; i < WD_ARRAY_LEN(reason_texts); i++) {
        if (reason_texts[i].r == r) {
            return &reason_texts[i];
        }
    }
    return NULL;
}

const char *wd_tpm_reason_str(enum wd_tpm_reason r)
{
    const struct reason_text *t = reason_find(r);
    return t != NULL ? t->text : "unknown reason";
}

const char *wd_tpm_reason_name(enum wd_tpm_reason r)
{
    const struct reason_text *t = reason_find(r);
    return t != NULL ? t->name : "unknown";
}

/* ---- algorithms ---- */

size_t wd_tpm_hash_size(uint16_t alg)
{
    switch (alg) {
    case WD_TPM_ALG_SHA1:
        return 20;
    case WD_TPM_ALG_SHA256:
        return 32;
    case WD_TPM_ALG_SHA384:
        return 48;
    case WD_TPM_ALG_SHA512:
        return 64;
    default:
        return 0;
    }
}

const EVP_MD *wd_tpm_md(uint16_t alg)
{
    switch (alg) {
    case WD_TPM_ALG_SHA1:
        return EVP_sha1();
    case WD_TPM_ALG_SHA256:
        return EVP_sha256();
    case WD_TPM_ALG_SHA384:
        return EVP_sha384();
    case WD_TPM_ALG_SHA512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

size_t wd_tpm_curve_bytes(uint16_t curve)
{
    switch (curve) {
    case WD_TPM_ECC_NIST_P256:
        return 32;
    case WD_TPM_ECC_NIST_P384:
        return 48;
    case WD_TPM_ECC_NIST_P521:
        return 66;
    default:
        return 0;
    }
}

const char *wd_tpm_curve_group(uint16_t curve)
{
    switch (curve) {
    case WD_TPM_ECC_NIST_P256:
        return "prime256v1";
    case WD_TPM_ECC_NIST_P384:
        return "secp384r1";
    case WD_TPM_ECC_NIST_P521:
        return "secp521r1";
    default:
        return NULL;
    }
}

/* Signature hashes: SHA-1 is refused for anything that is signed (Part 2 §11.3.4). */
static bool sig_hash_ok(uint16_t alg)
{
    return alg == WD_TPM_ALG_SHA256 || alg == WD_TPM_ALG_SHA384 || alg == WD_TPM_ALG_SHA512;
}

/* ---- building blocks ---- */

int wd_tpm_rd_2b(struct wd_rd *r, size_t min, size_t max, struct wd_slice *out,
                 enum wd_tpm_reason *why)
{
    uint16_t n;
    RD(wd_rd_u16be(r, &n));
    /* The bound is checked before the bytes, so an absurd size is "bad size", not "short". */
    if (n < min || n > max) {
        return wd_tpm_fail(why, WD_TPM_R_SIZE, WD_EPROTO);
    }
    RD(wd_rd_bytes(r, n, out));
    return WD_OK;
}

int wd_tpm_2b_unwrap(const uint8_t *p, size_t len, size_t max, struct wd_slice *out,
                     enum wd_tpm_reason *why)
{
    WD_ENSURE(out != NULL && (p != NULL || len == 0), WD_EINVAL);
    struct wd_rd r;
    rd_init(&r, p, len);
    WD_TRY(wd_tpm_rd_2b(&r, 1, max, out, why));
    if (wd_rd_left(&r) != 0) {
        return wd_tpm_fail(why, WD_TPM_R_TRAILING, WD_EPROTO);
    }
    return WD_OK;
}

int wd_tpm_name_check(const uint8_t *n, size_t len, enum wd_tpm_reason *why)
{
    /* A digest Name (Part 1 §16): TPMI_ALG_HASH followed by exactly one digest. */
    if (n == NULL || len < 2) {
        return wd_tpm_fail(why, WD_TPM_R_NAME, WD_EPROTO);
    }
    uint16_t alg = (uint16_t)((n[0] << 8) | n[1]);
    size_t dsz = wd_tpm_hash_size(alg);
    if (dsz == 0 || len != 2 + dsz) {
        return wd_tpm_fail(why, WD_TPM_R_NAME, WD_EPROTO);
    }
    return WD_OK;
}

/* ---- TPML_PCR_SELECTION (Part 2 §10.9.7, TPMS_PCR_SELECTION §10.6.2) ---- */

int wd_tpm_rd_pcr_selection(struct wd_rd *r, struct wd_tpm_pcr_selection *out,
                            enum wd_tpm_reason *why)
{
    memset(out, 0, sizeof(*out));
    uint32_t count;
    RD(wd_rd_u32be(r, &count));
    /* count is bounded by HASH_COUNT; warden knows four hashes, each may appear once. */
    if (count > WD_TPM_PCR_BANKS_MAX) {
        return wd_tpm_fail(why, WD_TPM_R_PCR_BANKS, WD_EPROTO);
    }
    for (uint32_t i = 0; i < count; i++) {
        struct wd_tpm_pcr_bank *b = &out->banks[i];
        RD(wd_rd_u16be(r, &b->hash));
        if (wd_tpm_hash_size(b->hash) == 0) {
            return wd_tpm_fail(why, WD_TPM_R_HASH_ALG, WD_EPROTO);
        }
        for (uint32_t j = 0; j < i; j++) {
            if (out->banks[j].hash == b->hash) {
                return wd_tpm_fail(why, WD_TPM_R_PCR_BANK_DUP, WD_EPROTO);
            }
        }
        RD(wd_rd_u8(r, &b->size_of_select));
        /* sizeofSelect {PCR_SELECT_MIN:} and pcrSelect [sizeofSelect] {:PCR_SELECT_MAX}. */
        if (b->size_of_select < WD_TPM_PCR_SELECT_MIN
            || b->size_of_select > WD_TPM_PCR_SELECT_MAX) {
            return wd_tpm_fail(why, WD_TPM_R_PCR_SELECT_SIZE, WD_EPROTO);
        }
        RD(wd_rd_copy(r, b->select, b->size_of_select));
    }
    out->count = count;
    return WD_OK;
}

int wd_tpm_pcr_selection_parse(const uint8_t *p, size_t len, struct wd_tpm_pcr_selection *out,
                               enum wd_tpm_reason *why)
{
    WD_ENSURE(out != NULL && (p != NULL || len == 0), WD_EINVAL);
    struct wd_rd r;
    rd_init(&r, p, len);
    WD_TRY(wd_tpm_rd_pcr_selection(&r, out, why));
    if (wd_rd_left(&r) != 0) {
        return wd_tpm_fail(why, WD_TPM_R_TRAILING, WD_EPROTO);
    }
    return WD_OK;
}

bool wd_tpm_pcr_selected(const struct wd_tpm_pcr_bank *b, unsigned pcr)
{
    if (b == NULL || pcr / 8 >= b->size_of_select || pcr / 8 >= WD_TPM_PCR_SELECT_MAX) {
        return false;
    }
    return (b->select[pcr / 8] >> (pcr % 8)) & 1u;
}

void wd_tpm_pcr_selection_size(const struct wd_tpm_pcr_selection *sel, size_t *count, size_t *bytes)
{
    size_t n = 0, total = 0;
    for (uint32_t i = 0; sel != NULL && i < sel->count && i < WD_TPM_PCR_BANKS_MAX; i++) {
        for (unsigned pcr = 0; pcr < WD_TPM_PCR_MAX; pcr++) {
            if (wd_tpm_pcr_selected(&sel->banks[i], pcr)) {
                n++;
                total += wd_tpm_hash_size(sel->banks[i].hash);
            }
        }
    }
    if (count != NULL) {
        *count = n;
    }
    if (bytes != NULL) {
        *bytes = total;
    }
}

/* ---- TPMS_ATTEST (Part 2 §10.12.12) of type TPM_ST_ATTEST_QUOTE ---- */

/* TPM2B_NAME content of a signer (Part 2 §10.5.3): a handle (4 bytes) or a digest Name. */
static bool signer_name_ok(struct wd_slice n)
{
    return n.len == 4 || wd_tpm_name_check(n.p, n.len, NULL) == WD_OK;
}

int wd_tpm_attest_parse(const uint8_t *p, size_t len, struct wd_tpm_attest *out,
                        enum wd_tpm_reason *why)
{
    WD_ENSURE(out != NULL && (p != NULL || len == 0), WD_EINVAL);
    memset(out, 0, sizeof(*out));
    struct wd_rd r;
    rd_init(&r, p, len);
    /* magic and type come first so that foreign data is named as such before anything. */
    RD(wd_rd_u32be(&r, &out->magic));
    if (out->magic != WD_TPM_GENERATED_VALUE) {
        return wd_tpm_fail(why, WD_TPM_R_MAGIC, WD_EPROTO);
    }
    RD(wd_rd_u16be(&r, &out->type));
    if (out->type != WD_TPM_ST_ATTEST_QUOTE) {
        return wd_tpm_fail(why, WD_TPM_R_ATTEST_TYPE, WD_EPROTO);
    }
    WD_TRY(wd_tpm_rd_2b(&r, 0, WD_TPM_NAME_MAX, &out->qualified_signer, why));
    if (!signer_name_ok(out->qualified_signer)) {
        return wd_tpm_fail(why, WD_TPM_R_NAME, WD_EPROTO);
    }
    WD_TRY(wd_tpm_rd_2b(&r, 0, WD_TPM_DATA_MAX, &out->extra_data, why));
    /* TPMS_CLOCK_INFO (§10.11.1); safe is a TPMI_YES_NO, which is 0 or 1 (§9.2). */
    uint8_t safe;
    RD(wd_rd_u64be(&r, &out->clock.clock));
    RD(wd_rd_u32be(&r, &out->clock.reset_count));
    RD(wd_rd_u32be(&r, &out->clock.restart_count));
    RD(wd_rd_u8(&r, &safe));
    if (safe > 1) {
        return wd_tpm_fail(why, WD_TPM_R_VALUE, WD_EPROTO);
    }
    out->clock.safe = safe == 1;
    RD(wd_rd_u64be(&r, &out->firmware_version));
    /* TPMU_ATTEST for a quote: TPMS_QUOTE_INFO (§10.12). */
    WD_TRY(wd_tpm_rd_pcr_selection(&r, &out->pcr_select, why));
    WD_TRY(wd_tpm_rd_2b(&r, 1, WD_TPM_DIGEST_MAX, &out->pcr_digest, why));
    /* pcrDigest is a digest of the signing hash, so it must have a digest's size. */
    size_t dl = out->pcr_digest.len;
    if (dl != 20 && dl != 32 && dl != 48 && dl != 64) {
        return wd_tpm_fail(why, WD_TPM_R_SIZE, WD_EPROTO);
    }
    if (wd_rd_left(&r) != 0) {
        return wd_tpm_fail(why, WD_TPM_R_TRAILING, WD_EPROTO);
    }
    return WD_OK;
}

/* ---- TPMT_SIGNATURE (Part 2 §11.3.4) ---- */

int wd_tpm_signature_parse(const uint8_t *p, size_t len, struct wd_tpm_signature *out,
                           enum wd_tpm_reason *why)
{
    WD_ENSURE(out != NULL && (p != NULL || len == 0), WD_EINVAL);
    memset(out, 0, sizeof(*out));
    struct wd_rd r;
    rd_init(&r, p, len);
    RD(wd_rd_u16be(&r, &out->sig_alg));
    if (out->sig_alg != WD_TPM_ALG_RSASSA && out->sig_alg != WD_TPM_ALG_RSAPSS
        && out->sig_alg != WD_TPM_ALG_ECDSA) {
        /* ECDAA, SM2, ECSCHNORR, HMAC and NULL signatures cannot be checked here. */
        return wd_tpm_fail(why, WD_TPM_R_SIG_ALG, WD_EPROTO);
    }
    RD(wd_rd_u16be(&r, &out->hash));
    if (!sig_hash_ok(out->hash)) {
        return wd_tpm_fail(why, WD_TPM_R_HASH_ALG, WD_EPROTO);
    }
    if (out->sig_alg == WD_TPM_ALG_ECDSA) {
        /* TPMS_SIGNATURE_ECC (§11.3): two TPM2B_ECC_PARAMETERs. */
        WD_TRY(wd_tpm_rd_2b(&r, 1, WD_TPM_ECC_BYTES_MAX, &out->ecc_r, why));
        WD_TRY(wd_tpm_rd_2b(&r, 1, WD_TPM_ECC_BYTES_MAX, &out->ecc_s, why));
    } else {
        /* TPMS_SIGNATURE_RSA (§11.3): a TPM2B_PUBLIC_KEY_RSA. */
        WD_TRY(wd_tpm_rd_2b(&r, 1, WD_TPM_RSA_BYTES_MAX, &out->rsa, why));
    }
    if (wd_rd_left(&r) != 0) {
        return wd_tpm_fail(why, WD_TPM_R_TRAILING, WD_EPROTO);
    }
    return WD_OK;
}

/* ---- TPMT_PUBLIC (Part 2 §12.2.4) ---- */

/* TPMT_SYM_DEF_OBJECT (§11.1.7): NULL, or AES with its key size and block mode. */
static int rd_sym_def(struct wd_rd *r, struct wd_tpm_public *out, enum wd_tpm_reason *why)
{
    RD(wd_rd_u16be(r, &out->sym_alg));
    if (out->sym_alg == WD_TPM_ALG_NULL) {
        return WD_OK;
    }
    if (out->sym_alg != WD_TPM_ALG_AES) {
        return wd_tpm_fail(why, WD_TPM_R_SYMMETRIC, WD_EPROTO);
    }
    RD(wd_rd_u16be(r, &out->sym_bits));
    if (out->sym_bits != 128 && out->sym_bits != 192 && out->sym_bits != 256) {
        return wd_tpm_fail(why, WD_TPM_R_SYMMETRIC, WD_EPROTO);
    }
    RD(wd_rd_u16be(r, &out->sym_mode));
    if (out->sym_mode < WD_TPM_ALG_CTR || out->sym_mode > WD_TPM_ALG_ECB) {
        return wd_tpm_fail(why, WD_TPM_R_SYMMETRIC, WD_EPROTO);
    }
    return WD_OK;
}

/* The hash of a scheme or KDF (TPMS_SCHEME_HASH): any supported hash. */
static int rd_scheme_hash(struct wd_rd *r, uint16_t *out, enum wd_tpm_reason *why)
{
    RD(wd_rd_u16be(r, out));
    if (wd_tpm_hash_size(*out) == 0) {
        return wd_tpm_fail(why, WD_TPM_R_HASH_ALG, WD_EPROTO);
    }
    return WD_OK;
}

/* TPMS_RSA_PARMS (§12.2.3.5) after the symmetric part, then TPM2B_PUBLIC_KEY_RSA. */
static int rd_rsa(struct wd_rd *r, struct wd_tpm_public *out, enum wd_tpm_reason *why)
{
    /* TPMT_RSA_SCHEME (§11.2.4): RSAES has no details, the others a hash. */
    RD(wd_rd_u16be(r, &out->scheme));
    switch (out->scheme) {
    case WD_TPM_ALG_NULL:
    case WD_TPM_ALG_RSAES:
        break;
    case WD_TPM_ALG_RSASSA:
    case WD_TPM_ALG_RSAPSS:
    case WD_TPM_ALG_OAEP:
        WD_TRY(rd_scheme_hash(r, &out->scheme_hash, why));
        break;
    default:
        return wd_tpm_fail(why, WD_TPM_R_SCHEME, WD_EPROTO);
    }
    RD(wd_rd_u16be(r, &out->rsa_bits));
    if (out->rsa_bits != 2048 && out->rsa_bits != 3072 && out->rsa_bits != 4096) {
        return wd_tpm_fail(why, WD_TPM_R_KEY_BITS, WD_EPROTO);
    }
    RD(wd_rd_u32be(r, &out->rsa_exponent));
    /* The modulus of a created key fills its key size exactly. */
    size_t nb = out->rsa_bits / 8u;
    return wd_tpm_rd_2b(r, nb, nb, &out->rsa_n, why);
}

/* TPMS_ECC_PARMS (§12.2.3.6) after the symmetric part, then TPMS_ECC_POINT (§11.2.5). */
static int rd_ecc(struct wd_rd *r, struct wd_tpm_public *out, enum wd_tpm_reason *why)
{
    /* TPMT_ECC_SCHEME (§11.2.5). ECDAA (with its count), SM2, ECSCHNORR and ECMQV are
     * not supported by warden's verifier, so they are refused rather than skipped. */
    RD(wd_rd_u16be(r, &out->scheme));
    switch (out->scheme) {
    case WD_TPM_ALG_NULL:
        break;
    case WD_TPM_ALG_ECDSA:
    case WD_TPM_ALG_ECDH:
        WD_TRY(rd_scheme_hash(r, &out->scheme_hash, why));
        break;
    default:
        return wd_tpm_fail(why, WD_TPM_R_SCHEME, WD_EPROTO);
    }
    RD(wd_rd_u16be(r, &out->curve));
    size_t cb = wd_tpm_curve_bytes(out->curve);
    if (cb == 0) {
        return wd_tpm_fail(why, WD_TPM_R_CURVE, WD_EPROTO);
    }
    /* TPMT_KDF_SCHEME (§11.2.3). */
    RD(wd_rd_u16be(r, &out->kdf));
    switch (out->kdf) {
    case WD_TPM_ALG_NULL:
        break;
    case WD_TPM_ALG_MGF1:
    case WD_TPM_ALG_KDF1_SP800_56A:
    case WD_TPM_ALG_KDF2:
    case WD_TPM_ALG_KDF1_SP800_108:
        WD_TRY(rd_scheme_hash(r, &out->kdf_hash, why));
        break;
    default:
        return wd_tpm_fail(why, WD_TPM_R_KDF, WD_EPROTO);
    }
    WD_TRY(wd_tpm_rd_2b(r, 1, cb, &out->ecc_x, why));
    WD_TRY(wd_tpm_rd_2b(r, 1, cb, &out->ecc_y, why));
    return WD_OK;
}

int wd_tpm_rd_public(struct wd_rd *r, struct wd_tpm_public *out, enum wd_tpm_reason *why)
{
    memset(out, 0, sizeof(*out));
    size_t start = r->off;
    RD(wd_rd_u16be(r, &out->type));
    if (out->type != WD_TPM_ALG_RSA && out->type != WD_TPM_ALG_ECC) {
        return wd_tpm_fail(why, WD_TPM_R_KEY_TYPE, WD_EPROTO);
    }
    RD(wd_rd_u16be(r, &out->name_alg));
    size_t dsz = wd_tpm_hash_size(out->name_alg);
    if (dsz == 0) {
        /* nameAlg NULL would give the object no Name; MakeCredential needs one. */
        return wd_tpm_fail(why, WD_TPM_R_HASH_ALG, WD_EPROTO);
    }
    RD(wd_rd_u32be(r, &out->attributes));
    if ((out->attributes & WD_TPMA_RESERVED) != 0) {
        return wd_tpm_fail(why, WD_TPM_R_ATTRIBUTES, WD_EPROTO);
    }
    /* authPolicy is empty or a digest of nameAlg (Part 3 §12.1 TPM_RC_SIZE rule). */
    WD_TRY(wd_tpm_rd_2b(r, 0, WD_TPM_DIGEST_MAX, &out->auth_policy, why));
    if (out->auth_policy.len != 0 && out->auth_policy.len != dsz) {
        return wd_tpm_fail(why, WD_TPM_R_SIZE, WD_EPROTO);
    }
    WD_TRY(rd_sym_def(r, out, why));
    if (out->type == WD_TPM_ALG_RSA) {
        WD_TRY(rd_rsa(r, out, why));
    } else {
        WD_TRY(rd_ecc(r, out, why));
    }
    out->raw.p = r->p + start;
    out->raw.len = r->off - start;
    return WD_OK;
}

int wd_tpm_public_parse(const uint8_t *p, size_t len, struct wd_tpm_public *out,
                        enum wd_tpm_reason *why)
{
    WD_ENSURE(out != NULL && (p != NULL || len == 0), WD_EINVAL);
    struct wd_rd r;
    rd_init(&r, p, len);
    WD_TRY(wd_tpm_rd_public(&r, out, why));
    if (wd_rd_left(&r) != 0) {
        return wd_tpm_fail(why, WD_TPM_R_TRAILING, WD_EPROTO);
    }
    return WD_OK;
}

int wd_tpm_public_parse_2b(const uint8_t *p, size_t len, struct wd_tpm_public *out,
                           enum wd_tpm_reason *why)
{
    struct wd_slice inner;
    WD_TRY(wd_tpm_2b_unwrap(p, len, WD_TPM_PUBLIC_MAX, &inner, why));
    return wd_tpm_public_parse(inner.p, inner.len, out, why);
}

/* ---- marshalling ---- */

int wd_tpm_put16(struct wd_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return wd_buf_append(b, x, sizeof(x));
}

int wd_tpm_put32(struct wd_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return wd_buf_append(b, x, sizeof(x));
}

int wd_tpm_put64(struct wd_buf *b, uint64_t v)
{
    WD_TRY(wd_tpm_put32(b, (uint32_t)(v >> 32)));
    return wd_tpm_put32(b, (uint32_t)v);
}

int wd_tpm_put2b(struct wd_buf *b, const uint8_t *p, size_t n)
{
    WD_ENSURE(n <= UINT16_MAX && (p != NULL || n == 0), WD_EINVAL);
    WD_TRY(wd_tpm_put16(b, (uint16_t)n));
    return n == 0 ? WD_OK : wd_buf_append(b, p, n);
}

/*
 * Marshal obj with put into a scratch buffer, then append the whole encoding to out, so
 * that out is unchanged on any error. Structures are far below 64 KiB.
 */
static int marshal_via(struct wd_buf *out, const void *obj,
                       int (*put)(struct wd_buf *b, const void *obj))
{
    WD_ENSURE(out != NULL && obj != NULL, WD_EINVAL);
    struct wd_buf tmp;
    wd_buf_init(&tmp, 1u << 16);
    int rc = put(&tmp, obj);
    if (rc == WD_OK) {
        rc = wd_buf_append(out, tmp.p, tmp.len);
    }
    wd_buf_cleanup(&tmp);
    return rc;
}

static int put_selection(struct wd_buf *out, const void *obj)
{
    const struct wd_tpm_pcr_selection *sel = obj;
    WD_ENSURE(sel->count <= WD_TPM_PCR_BANKS_MAX, WD_EINVAL);
    WD_TRY(wd_tpm_put32(out, sel->count));
    for (uint32_t i = 0; i < sel->count; i++) {
        const struct wd_tpm_pcr_bank *bk = &sel->banks[i];
        WD_ENSURE(bk->size_of_select <= WD_TPM_PCR_SELECT_MAX, WD_EINVAL);
        WD_TRY(wd_tpm_put16(out, bk->hash));
        WD_TRY(wd_buf_append_byte(out, bk->size_of_select));
        if (bk->size_of_select > 0) {
            WD_TRY(wd_buf_append(out, bk->select, bk->size_of_select));
        }
    }
    return WD_OK;
}

int wd_tpm_pcr_selection_marshal(const struct wd_tpm_pcr_selection *sel, struct wd_buf *out)
{
    return marshal_via(out, sel, put_selection);
}

static int put_attest(struct wd_buf *out, const void *obj)
{
    const struct wd_tpm_attest *a = obj;
    WD_TRY(wd_tpm_put32(out, a->magic));
    WD_TRY(wd_tpm_put16(out, a->type));
    WD_TRY(wd_tpm_put2b(out, a->qualified_signer.p, a->qualified_signer.len));
    WD_TRY(wd_tpm_put2b(out, a->extra_data.p, a->extra_data.len));
    WD_TRY(wd_tpm_put64(out, a->clock.clock));
    WD_TRY(wd_tpm_put32(out, a->clock.reset_count));
    WD_TRY(wd_tpm_put32(out, a->clock.restart_count));
    WD_TRY(wd_buf_append_byte(out, a->clock.safe ? 1 : 0));
    WD_TRY(wd_tpm_put64(out, a->firmware_version));
    WD_TRY(put_selection(out, &a->pcr_select));
    return wd_tpm_put2b(out, a->pcr_digest.p, a->pcr_digest.len);
}

int wd_tpm_attest_marshal(const struct wd_tpm_attest *a, struct wd_buf *out)
{
    return marshal_via(out, a, put_attest);
}

static int put_signature(struct wd_buf *out, const void *obj)
{
    const struct wd_tpm_signature *s = obj;
    WD_TRY(wd_tpm_put16(out, s->sig_alg));
    WD_TRY(wd_tpm_put16(out, s->hash));
    if (s->sig_alg == WD_TPM_ALG_ECDSA) {
        WD_TRY(wd_tpm_put2b(out, s->ecc_r.p, s->ecc_r.len));
        return wd_tpm_put2b(out, s->ecc_s.p, s->ecc_s.len);
    }
    return wd_tpm_put2b(out, s->rsa.p, s->rsa.len);
}

int wd_tpm_signature_marshal(const struct wd_tpm_signature *s, struct wd_buf *out)
{
    return marshal_via(out, s, put_signature);
}

static int put_public(struct wd_buf *out, const void *obj)
{
    const struct wd_tpm_public *pub = obj;
    WD_TRY(wd_tpm_put16(out, pub->type));
    WD_TRY(wd_tpm_put16(out, pub->name_alg));
    WD_TRY(wd_tpm_put32(out, pub->attributes));
    WD_TRY(wd_tpm_put2b(out, pub->auth_policy.p, pub->auth_policy.len));
    WD_TRY(wd_tpm_put16(out, pub->sym_alg));
    if (pub->sym_alg != WD_TPM_ALG_NULL) {
        WD_TRY(wd_tpm_put16(out, pub->sym_bits));
        WD_TRY(wd_tpm_put16(out, pub->sym_mode));
    }
    WD_TRY(wd_tpm_put16(out, pub->scheme));
    /* Every scheme but NULL and RSAES carries a hash (TPMU_ASYM_SCHEME, §11.2.3). */
    if (pub->scheme != WD_TPM_ALG_NULL && pub->scheme != WD_TPM_ALG_RSAES) {
        WD_TRY(wd_tpm_put16(out, pub->scheme_hash));
    }
    if (pub->type == WD_TPM_ALG_RSA) {
        WD_TRY(wd_tpm_put16(out, pub->rsa_bits));
        WD_TRY(wd_tpm_put32(out, pub->rsa_exponent));
        return wd_tpm_put2b(out, pub->rsa_n.p, pub->rsa_n.len);
    }
    WD_TRY(wd_tpm_put16(out, pub->curve));
    WD_TRY(wd_tpm_put16(out, pub->kdf));
    if (pub->kdf != WD_TPM_ALG_NULL) {
        WD_TRY(wd_tpm_put16(out, pub->kdf_hash));
    }
    WD_TRY(wd_tpm_put2b(out, pub->ecc_x.p, pub->ecc_x.len));
    return wd_tpm_put2b(out, pub->ecc_y.p, pub->ecc_y.len);
}

int wd_tpm_public_marshal(const struct wd_tpm_public *pub, struct wd_buf *out)
{
    return marshal_via(out, pub, put_public);
}
