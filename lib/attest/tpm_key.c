/*
 * TPM public areas as keys: conversion to OpenSSL, the object Name, and the attribute
 * checks that decide whether a key may serve as an attestation key (AK) or as the
 * endorsement key (EK) a credential is protected with.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "warden/err.h"
#include "warden/tpm.h"

#include "attest/tpm_int.h"

/* Check an EC key OpenSSL built: the point is on the curve and not the point at infinity. */
static int pkey_public_check(EVP_PKEY *pk, enum wd_tpm_reason *why)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    if (c == NULL) {
        return WD_ENOMEM;
    }
    int ok = EVP_PKEY_public_check(c);
    EVP_PKEY_CTX_free(c);
    if (ok != 1) {
        ERR_clear_error();
        return wd_tpm_fail(why, WD_TPM_R_KEY_INVALID, WD_EPROTO);
    }
    return WD_OK;
}

static int rsa_to_pkey(const struct wd_tpm_public *pub, EVP_PKEY **out, enum wd_tpm_reason *why)
{
    int rc;
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;
    /* Part 2 §12.2.3.5: an exponent of zero means the default, 2^16 + 1. */
    uint32_t exp = pub->rsa_exponent == 0 ? 65537u : pub->rsa_exponent;
    if (exp < 3 || (exp & 1u) == 0) {
        return wd_tpm_fail(why, WD_TPM_R_KEY_INVALID, WD_EPROTO);
    }
    n = BN_bin2bn(pub->rsa_n.p, (int)pub->rsa_n.len, NULL);
    e = BN_new();
    bld = OSSL_PARAM_BLD_new();
    if (n == NULL || e == NULL || bld == NULL || BN_set_word(e, exp) != 1) {
        rc = WD_ENOMEM;
        goto out;
    }
    /* A modulus of keyBits bits has its top bit set; an odd modulus is required too. */
    if (BN_num_bits(n) != (int)pub->rsa_bits || !BN_is_odd(n)) {
        rc = wd_tpm_fail(why, WD_TPM_R_KEY_INVALID, WD_EPROTO);
        goto out;
    }
    if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1
        || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1) {
        rc = WD_ETLS;
        goto out;
    }
    /*
     * No EVP_PKEY_public_check here: for RSA it runs a Miller-Rabin test on n (about 8 ms
     * for 2048 bits), and a malformed modulus only makes signatures fail to verify. Keys
     * whose secrecy matters to warden (the EK a credential is encrypted to) are vouched
     * for by a certificate or an allow-list before they are used.
     */
    if (EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        rc = wd_tpm_fail(why, WD_TPM_R_KEY_INVALID, WD_EPROTO);
        goto out;
    }
    *out = pk;
    pk = NULL;
    rc = WD_OK;
out:
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(e);
    BN_free(n);
    ERR_clear_error();
    return rc;
}

int wd_tpm_ec_pkey(uint16_t curve, struct wd_slice x, struct wd_slice y, EVP_PKEY **out,
                   enum wd_tpm_reason *why)
{
    size_t cb = wd_tpm_curve_bytes(curve);
    const char *group = wd_tpm_curve_group(curve);
    if (cb == 0 || group == NULL) {
        return wd_tpm_fail(why, WD_TPM_R_CURVE, WD_EPROTO);
    }
    if (x.len == 0 || y.len == 0 || x.len > cb || y.len > cb) {
        return wd_tpm_fail(why, WD_TPM_R_SIZE, WD_EPROTO);
    }
    /* SEC 1 §2.3.3 uncompressed point: 0x04 || X || Y, each left-padded to the field size. */
    uint8_t pt[1 + 2 * WD_TPM_ECC_BYTES_MAX];
    memset(pt, 0, sizeof(pt));
    pt[0] = 0x04;
    memcpy(pt + 1 + (cb - x.len), x.p, x.len);
    memcpy(pt + 1 + cb + (cb - y.len), y.p, y.len);
    char gname[16];
    (void)snprintf(gname, sizeof(gname), "%s", group);
    OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, gname, 0),
            OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * cb),
            OSSL_PARAM_construct_end(),
    };
    int rc;
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1) {
        rc = WD_ETLS;
        goto out;
    }
    if (EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        rc = wd_tpm_fail(why, WD_TPM_R_KEY_INVALID, WD_EPROTO);
        goto out;
    }
    WD_CHECK(pkey_public_check(pk, why));
    *out = pk;
    pk = NULL;
    rc = WD_OK;
out:
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

int wd_tpm_public_to_pkey(const struct wd_tpm_public *pub, EVP_PKEY **out, enum wd_tpm_reason *why)
{
    WD_ENSURE(pub != NULL && out != NULL, WD_EINVAL);
    *out = NULL;
    ERR_clear_error();
    if (pub->type == WD_TPM_ALG_RSA) {
        WD_ENSURE(pub->rsa_n.p != NULL && pub->rsa_n.len * 8 == pub->rsa_bits, WD_EINVAL);
        return rsa_to_pkey(pub, out, why);
    }
    if (pub->type == WD_TPM_ALG_ECC) {
        return wd_tpm_ec_pkey(pub->curve, pub->ecc_x, pub->ecc_y, out, why);
    }
    return wd_tpm_fail(why, WD_TPM_R_KEY_TYPE, WD_EPROTO);
}

int wd_tpm_public_name(const struct wd_tpm_public *pub, struct wd_tpm_name *out)
{
    WD_ENSURE(pub != NULL && out != NULL && pub->raw.p != NULL && pub->raw.len > 0, WD_EINVAL);
    const EVP_MD *md = wd_tpm_md(pub->name_alg);
    WD_ENSURE(md != NULL, WD_EINVAL);
    /* Part 1 §16: Name = nameAlg || H_nameAlg(marshalled TPMT_PUBLIC). */
    out->b[0] = (uint8_t)(pub->name_alg >> 8);
    out->b[1] = (uint8_t)pub->name_alg;
    unsigned int n = 0;
    if (EVP_Digest(pub->raw.p, pub->raw.len, out->b + 2, &n, md, NULL) != 1) {
        ERR_clear_error();
        out->len = 0;
        return WD_ETLS;
    }
    out->len = 2 + (size_t)n;
    return WD_OK;
}

static bool has_all(uint32_t attrs, uint32_t bits)
{
    return (attrs & bits) == bits;
}

int wd_tpm_public_check_ak(const struct wd_tpm_public *pub, enum wd_tpm_reason *why)
{
    WD_ENSURE(pub != NULL, WD_EINVAL);
    /*
     * An AK signs only TPM-generated data (a restricted signing key, Part 1): it cannot sign a
     * forged TPMS_ATTEST, because the TPM refuses to sign external data that starts with
     * TPM_GENERATED_VALUE. fixedTPM and fixedParent keep it in this TPM, which is what
     * MakeCredential against the EK then proves.
     */
    const uint32_t need = WD_TPMA_RESTRICTED | WD_TPMA_SIGN_ENCRYPT | WD_TPMA_FIXED_TPM
                          | WD_TPMA_FIXED_PARENT | WD_TPMA_SENSITIVE_DATA_ORIGIN;
    bool ok = has_all(pub->attributes, need)
              && (pub->attributes & (WD_TPMA_DECRYPT | WD_TPMA_X509_SIGN)) == 0
              && pub->name_alg != WD_TPM_ALG_SHA1;
    if (ok && pub->type == WD_TPM_ALG_RSA) {
        ok = pub->scheme == WD_TPM_ALG_RSASSA || pub->scheme == WD_TPM_ALG_RSAPSS;
    } else if (ok && pub->type == WD_TPM_ALG_ECC) {
        ok = pub->scheme == WD_TPM_ALG_ECDSA;
    } else {
        ok = false;
    }
    ok = ok
         && (pub->scheme_hash == WD_TPM_ALG_SHA256 || pub->scheme_hash == WD_TPM_ALG_SHA384
             || pub->scheme_hash == WD_TPM_ALG_SHA512);
    if (!ok) {
        return wd_tpm_fail(why, WD_TPM_R_AK_ATTRIBUTES, WD_EDENIED);
    }
    return WD_OK;
}

int wd_tpm_public_check_ek(const struct wd_tpm_public *pub, enum wd_tpm_reason *why)
{
    WD_ENSURE(pub != NULL, WD_EINVAL);
    /*
     * A storage key in the sense of Part 1 §24 (Credential Protection): restricted and
     * decrypt, with a symmetric definition for the credential's inner encryption, which
     * the TPM uses in CFB mode (Part 1 §24.4). The TCG EK templates (EK Credential Profile
     * §B.3) set exactly these, with AES-128 (low range) or AES-256 (high range).
     */
    const uint32_t need =
            WD_TPMA_RESTRICTED | WD_TPMA_DECRYPT | WD_TPMA_FIXED_TPM | WD_TPMA_FIXED_PARENT;
    bool ok = has_all(pub->attributes, need) && (pub->attributes & WD_TPMA_SIGN_ENCRYPT) == 0
              && pub->sym_alg == WD_TPM_ALG_AES && pub->sym_mode == WD_TPM_ALG_CFB
              && pub->scheme == WD_TPM_ALG_NULL
              && (pub->name_alg == WD_TPM_ALG_SHA256 || pub->name_alg == WD_TPM_ALG_SHA384
                  || pub->name_alg == WD_TPM_ALG_SHA512);
    if (ok && pub->type == WD_TPM_ALG_ECC) {
        ok = pub->kdf == WD_TPM_ALG_NULL && wd_tpm_curve_bytes(pub->curve) != 0;
    } else if (ok) {
        ok = pub->type == WD_TPM_ALG_RSA;
    }
    if (!ok) {
        return wd_tpm_fail(why, WD_TPM_R_EK_ATTRIBUTES, WD_EDENIED);
    }
    return WD_OK;
}
