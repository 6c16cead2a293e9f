/*
 * The `sim` attestation backend: a strict parser, a signer (for development and tests) and a
 * verifier for software-signed reports (format in include/warden/sim.h). The signature is a
 * fixed 64-byte r || s, so the format has no variable-length field but the measurement.
 */
#include "warden/sim.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>

#include "warden/pki.h"

#define HDR_LEN       11 /* magic, version, measurement length */
#define ECDSA_DER_MAX 80 /* a P-256 ECDSA-Sig-Value is at most 72 bytes */

int wd_sim_report_parse(const uint8_t *p, size_t n, struct wd_sim_report *out, const char **reason)
{
    const char *dummy = NULL;
    const char **why = reason != NULL ? reason : &dummy;
    if (out == NULL) {
        *why = "no output";
        return WD_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    struct wd_rd r;
    struct wd_slice magic;
    uint8_t mlen = 0;
    wd_rd_init(&r, p, p != NULL ? n : 0);
    if (wd_rd_bytes(&r, 8, &magic) < 0 || wd_rd_u16be(&r, &out->version) < 0
        || wd_rd_u8(&r, &mlen) < 0) {
        *why = "truncated";
        goto bad;
    }
    if (memcmp(magic.p, WD_SIM_MAGIC, 8) != 0) {
        *why = "bad magic";
        goto bad;
    }
    if (out->version != WD_SIM_VERSION) {
        *why = "unsupported version";
        goto bad;
    }
    if (mlen < WD_SIM_MEASUREMENT_MIN || mlen > WD_SIM_MEASUREMENT_MAX) {
        *why = "measurement must be 32 to 64 bytes";
        goto bad;
    }
    out->measurement_len = mlen;
    if (wd_rd_copy(&r, out->measurement, mlen) < 0
        || wd_rd_copy(&r, out->report_data, WD_SIM_REPORT_DATA_LEN) < 0) {
        *why = "truncated";
        goto bad;
    }
    out->signed_part = (struct wd_slice){p, HDR_LEN + (size_t)mlen + WD_SIM_REPORT_DATA_LEN};
    if (wd_rd_copy(&r, out->signature, WD_SIM_SIG_LEN) < 0) {
        *why = "truncated";
        goto bad;
    }
    if (wd_rd_left(&r) != 0) {
        *why = "trailing bytes";
        goto bad;
    }
    return WD_OK;
bad:
    memset(out, 0, sizeof(*out));
    return WD_EPROTO;
}

int wd_sim_report_sign(EVP_PKEY *key, const uint8_t *measurement, size_t mlen,
                       const uint8_t report_data[WD_SIM_REPORT_DATA_LEN], struct wd_buf *out)
{
    WD_ENSURE(key != NULL && measurement != NULL && report_data != NULL && out != NULL, WD_EINVAL);
    WD_ENSURE(mlen >= WD_SIM_MEASUREMENT_MIN && mlen <= WD_SIM_MEASUREMENT_MAX, WD_EINVAL);
    WD_TRY(wd_key_check_p256(key, NULL, "private key", NULL));
    int rc = WD_ETLS;
    uint8_t body[WD_SIM_REPORT_MAX];
    uint8_t der[ECDSA_DER_MAX];
    size_t len = 0, derlen = sizeof(der);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ECDSA_SIG *sig = NULL;
    memcpy(body, WD_SIM_MAGIC, 8);
    body[8] = 0;
    body[9] = WD_SIM_VERSION;
    body[10] = (uint8_t)mlen;
    memcpy(body + HDR_LEN, measurement, mlen);
    memcpy(body + HDR_LEN + mlen, report_data, WD_SIM_REPORT_DATA_LEN);
    len = HDR_LEN + mlen + WD_SIM_REPORT_DATA_LEN;
    if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1
        || EVP_DigestSign(ctx, der, &derlen, body, len) != 1) {
        goto out;
    }
    const uint8_t *dp = der;
    sig = d2i_ECDSA_SIG(NULL, &dp, (long)derlen);
    if (sig == NULL || BN_bn2binpad(ECDSA_SIG_get0_r(sig), body + len, 32) != 32
        || BN_bn2binpad(ECDSA_SIG_get0_s(sig), body + len + 32, 32) != 32) {
        goto out;
    }
    len += WD_SIM_SIG_LEN;
    rc = wd_buf_append(out, body, len);
out:
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* Verify r || s over msg with pub. WD_OK, WD_ECRYPTO (does not verify), WD_ETLS. */
static int verify_sig(EVP_PKEY *pub, const uint8_t sig64[WD_SIM_SIG_LEN], struct wd_slice msg)
{
    int rc = WD_ETLS;
    uint8_t der[ECDSA_DER_MAX];
    uint8_t *w = der;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig64, 32, NULL), *s = BN_bin2bn(sig64 + 32, 32, NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (sig == NULL || r == NULL || s == NULL || ctx == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
        goto out;
    }
    r = s = NULL; /* owned by sig */
    int dl = i2d_ECDSA_SIG(sig, NULL);
    if (dl <= 0 || dl > (int)sizeof(der) || i2d_ECDSA_SIG(sig, &w) != dl
        || EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub) != 1) {
        goto out;
    }
    rc = EVP_DigestVerify(ctx, der, (size_t)dl, msg.p, msg.len) == 1 ? WD_OK : WD_ECRYPTO;
out:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(ctx);
    return rc;
}

int wd_sim_verify(EVP_PKEY *pub, const uint8_t *p, size_t n, const uint8_t *expected_report_data,
                  struct wd_sim_claims *out, struct wd_diag *diag)
{
    WD_ENSURE(pub != NULL && out != NULL, WD_EINVAL);
    WD_TRY(wd_key_check_p256(pub, "sim", "public key", diag));
    struct wd_sim_report rep;
    const char *why = NULL;
    if (wd_sim_report_parse(p, n, &rep, &why) != WD_OK) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "sim report: malformed: %s", why);
    }
    int rc = verify_sig(pub, rep.signature, rep.signed_part);
    if (rc == WD_ECRYPTO) {
        return wd_diag_set(diag, rc, NULL, 0, 0, "sim report: signature does not verify");
    }
    if (rc != WD_OK) {
        return wd_diag_set(diag, rc, NULL, 0, 0, "sim report: OpenSSL failure");
    }
    if (expected_report_data != NULL
        && CRYPTO_memcmp(rep.report_data, expected_report_data, WD_SIM_REPORT_DATA_LEN) != 0) {
        return wd_diag_set(diag, WD_EDENIED, NULL, 0, 0, "sim report: report data does not match");
    }
    memset(out, 0, sizeof(*out));
    out->attest = WD_ATTEST_SIM;
    memcpy(out->measurement, rep.measurement, rep.measurement_len);
    out->measurement_len = rep.measurement_len;
    memcpy(out->report_data, rep.report_data, WD_SIM_REPORT_DATA_LEN);
    return WD_OK;
}
