/*
 * TPM2_Quote verification (Part 3 §18.4 says what the TPM signs; Part 2 §10.12 how it is
 * laid out). The checks run in the order DESIGN.md §4 fixes, cheapest trust first: the
 * signature algorithm, the signature, the structure, the nonce, the PCR digest against
 * the PCR values the agent sent, those values against the allowed ones, and finally that
 * the TPM's clock and reset counters did not go backwards since the last accepted quote.
 * Each refusal carries a distinct enum wd_tpm_reason, which the control plane audits.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "warden/err.h"
#include "warden/tpm.h"

#include "attest/tpm_int.h"

#define SIG_ALL  (WD_TPM_SIG_RSASSA | WD_TPM_SIG_RSAPSS | WD_TPM_SIG_ECDSA)
#define HASH_ALL (WD_TPM_HASH_SHA256 | WD_TPM_HASH_SHA384 | WD_TPM_HASH_SHA512)

static unsigned scheme_bit(uint16_t alg)
{
    switch (alg) {
    case WD_TPM_ALG_RSASSA:
        return WD_TPM_SIG_RSASSA;
    case WD_TPM_ALG_RSAPSS:
        return WD_TPM_SIG_RSAPSS;
    case WD_TPM_ALG_ECDSA:
        return WD_TPM_SIG_ECDSA;
    default:
        return 0;
    }
}

static unsigned hash_bit(uint16_t alg)
{
    switch (alg) {
    case WD_TPM_ALG_SHA256:
        return WD_TPM_HASH_SHA256;
    case WD_TPM_ALG_SHA384:
        return WD_TPM_HASH_SHA384;
    case WD_TPM_ALG_SHA512:
        return WD_TPM_HASH_SHA512;
    default:
        return 0;
    }
}

/* The verifier's inputs must make sense before any evidence is looked at (caller bugs). */
static int check_inputs(const struct wd_tpm_quote_check *chk)
{
    WD_ENSURE(chk != NULL && chk->ak_key != NULL && chk->policy != NULL, WD_EINVAL);
    WD_ENSURE(chk->nonce.p != NULL && chk->nonce.len > 0 && chk->nonce.len <= WD_TPM_DIGEST_MAX,
              WD_EINVAL);
    WD_ENSURE((chk->sig_schemes & ~(unsigned)SIG_ALL) == 0, WD_EINVAL);
    WD_ENSURE((chk->sig_hashes & ~(unsigned)HASH_ALL) == 0, WD_EINVAL);
    const struct wd_tpm_pcr_policy *pol = chk->policy;
    WD_ENSURE(pol->rules != NULL || pol->n_rules == 0, WD_EINVAL);
    for (size_t i = 0; i < pol->n_rules; i++) {
        const struct wd_tpm_pcr_rule *rule = &pol->rules[i];
        WD_ENSURE(wd_tpm_hash_size(rule->hash) != 0 && rule->pcr < WD_TPM_PCR_MAX, WD_EINVAL);
        WD_ENSURE(rule->values != NULL && rule->n_values > 0, WD_EINVAL);
    }
    return WD_OK;
}

/* Step 1: the scheme and hash are allowed, and fit the AK. */
static int check_sig_alg(const struct wd_tpm_quote_check *chk, const struct wd_tpm_signature *s,
                         enum wd_tpm_reason *why)
{
    unsigned schemes = chk->sig_schemes != 0 ? chk->sig_schemes : SIG_ALL;
    unsigned hashes = chk->sig_hashes != 0 ? chk->sig_hashes : HASH_ALL;
    if ((schemes & scheme_bit(s->sig_alg)) == 0 || (hashes & hash_bit(s->hash)) == 0) {
        return wd_tpm_fail(why, WD_TPM_R_SIG_NOT_ALLOWED, WD_EDENIED);
    }
    bool rsa_sig = s->sig_alg != WD_TPM_ALG_ECDSA;
    int key_id = EVP_PKEY_get_base_id(chk->ak_key);
    if ((rsa_sig && key_id != EVP_PKEY_RSA) || (!rsa_sig && key_id != EVP_PKEY_EC)) {
        return wd_tpm_fail(why, WD_TPM_R_SIG_MISMATCH, WD_EDENIED);
    }
    const struct wd_tpm_public *ak = chk->ak_public;
    if (ak != NULL) {
        /* A key with a scheme signs only with that scheme and hash (Part 3 §18.4: TPM_RC_SCHEME
         * otherwise). */
        bool type_ok = ak->type == (rsa_sig ? WD_TPM_ALG_RSA : WD_TPM_ALG_ECC);
        bool scheme_ok = ak->scheme == WD_TPM_ALG_NULL
                         || (ak->scheme == s->sig_alg && ak->scheme_hash == s->hash);
        if (!type_ok || !scheme_ok) {
            return wd_tpm_fail(why, WD_TPM_R_SIG_MISMATCH, WD_EDENIED);
        }
    }
    return WD_OK;
}

/* TPMS_SIGNATURE_ECC r and s as the DER ECDSA-Sig-Value OpenSSL verifies. */
static int ecdsa_der(const struct wd_tpm_signature *s, unsigned char **der, int *der_len)
{
    int rc = WD_ENOMEM;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(s->ecc_r.p, (int)s->ecc_r.len, NULL);
    BIGNUM *sv = BN_bin2bn(s->ecc_s.p, (int)s->ecc_s.len, NULL);
    if (es == NULL || r == NULL || sv == NULL || ECDSA_SIG_set0(es, r, sv) != 1) {
        BN_free(r);
        BN_free(sv);
        goto out;
    }
    *der = NULL;
    *der_len = i2d_ECDSA_SIG(es, der);
    rc = *der_len > 0 ? WD_OK : WD_ENOMEM;
out:
    ECDSA_SIG_free(es);
    return rc;
}

/* Step 2: the signature over the attest bytes, with the scheme's hash. */
static int check_signature(EVP_PKEY *key, const struct wd_tpm_signature *s, struct wd_slice attest,
                           enum wd_tpm_reason *why)
{
    int rc;
    unsigned char *der = NULL;
    int der_len = 0;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        return WD_ENOMEM;
    }
    if (EVP_DigestVerifyInit(mctx, &pctx, wd_tpm_md(s->hash), NULL, key) != 1) {
        rc = WD_ETLS;
        goto out;
    }
    const uint8_t *sig = s->rsa.p;
    size_t sig_len = s->rsa.len;
    if (s->sig_alg == WD_TPM_ALG_RSAPSS) {
        /*
         * TPMs use MGF1 with the signing hash; the salt is the hash size on TPMs that follow
         * FIPS 186-4 and the largest possible one on older ones, so it is recovered.
         */
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1) {
            rc = WD_ETLS;
            goto out;
        }
    } else if (s->sig_alg == WD_TPM_ALG_ECDSA) {
        WD_CHECK(ecdsa_der(s, &der, &der_len));
        sig = der;
        sig_len = (size_t)der_len;
    }
    /* Anything but 1 (a wrong length, a value out of range, a mismatch) is a bad signature. */
    if (EVP_DigestVerify(mctx, sig, sig_len, attest.p, attest.len) != 1) {
        rc = wd_tpm_fail(why, WD_TPM_R_SIG_INVALID, WD_ECRYPTO);
        goto out;
    }
    rc = WD_OK;
out:
    OPENSSL_free(der);
    EVP_MD_CTX_free(mctx);
    ERR_clear_error();
    return rc;
}

/* Step 5: pcrDigest = H_signHash(PCR values in selection order) (Part 3 §18.4). */
static int check_pcr_digest(const struct wd_tpm_attest *a, uint16_t hash, struct wd_slice values,
                            enum wd_tpm_reason *why)
{
    size_t bytes = 0;
    wd_tpm_pcr_selection_size(&a->pcr_select, NULL, &bytes);
    if (bytes != values.len) {
        return wd_tpm_fail(why, WD_TPM_R_PCR_VALUES, WD_EPROTO);
    }
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    /* EVP_Digest wants a non-NULL pointer even for no data. */
    static const uint8_t none[1];
    if (EVP_Digest(values.len > 0 ? values.p : none, values.len, md, &mdlen, wd_tpm_md(hash), NULL)
        != 1) {
        ERR_clear_error();
        return WD_ETLS;
    }
    if (a->pcr_digest.len != mdlen || CRYPTO_memcmp(md, a->pcr_digest.p, mdlen) != 0) {
        return wd_tpm_fail(why, WD_TPM_R_PCR_DIGEST, WD_EDENIED);
    }
    return WD_OK;
}

/* The value of PCR pcr in bank hash within values, if the quote selected it. */
static bool pcr_value(const struct wd_tpm_pcr_selection *sel, struct wd_slice values, uint16_t hash,
                      unsigned pcr, struct wd_slice *out)
{
    size_t off = 0;
    for (uint32_t i = 0; i < sel->count; i++) {
        const struct wd_tpm_pcr_bank *b = &sel->banks[i];
        size_t dsz = wd_tpm_hash_size(b->hash);
        for (unsigned p = 0; p < WD_TPM_PCR_MAX; p++) {
            if (!wd_tpm_pcr_selected(b, p)) {
                continue;
            }
            if (b->hash == hash && p == pcr) {
                out->p = values.p + off;
                out->len = dsz;
                return true;
            }
            off += dsz;
        }
    }
    return false;
}

static bool has_rule(const struct wd_tpm_pcr_policy *pol, uint16_t hash, unsigned pcr)
{
    for (size_t i = 0; i < pol->n_rules; i++) {
        if (pol->rules[i].hash == hash && pol->rules[i].pcr == pcr) {
            return true;
        }
    }
    return false;
}

/* Step 6: every rule's PCR is quoted, nothing unlisted is (if asked), every value allowed. */
static int check_pcr_policy(const struct wd_tpm_pcr_policy *pol,
                            const struct wd_tpm_pcr_selection *sel, struct wd_slice values,
                            enum wd_tpm_reason *why)
{
    struct wd_slice v;
    for (size_t i = 0; i < pol->n_rules; i++) {
        if (!pcr_value(sel, values, pol->rules[i].hash, pol->rules[i].pcr, &v)) {
            return wd_tpm_fail(why, WD_TPM_R_PCR_MISSING, WD_EDENIED);
        }
    }
    if (pol->only_listed) {
        for (uint32_t i = 0; i < sel->count; i++) {
            for (unsigned p = 0; p < WD_TPM_PCR_MAX; p++) {
                if (wd_tpm_pcr_selected(&sel->banks[i], p)
                    && !has_rule(pol, sel->banks[i].hash, p)) {
                    return wd_tpm_fail(why, WD_TPM_R_PCR_UNLISTED, WD_EDENIED);
                }
            }
        }
    }
    for (size_t i = 0; i < pol->n_rules; i++) {
        const struct wd_tpm_pcr_rule *rule = &pol->rules[i];
        bool found = pcr_value(sel, values, rule->hash, rule->pcr, &v);
        WD_BUG_ON(!found);
        bool ok = false;
        for (size_t j = 0; j < rule->n_values && !ok; j++) {
            ok = memcmp(rule->values + j * v.len, v.p, v.len) == 0;
        }
        if (!ok) {
            return wd_tpm_fail(why, WD_TPM_R_PCR_VALUE, WD_EDENIED);
        }
    }
    return WD_OK;
}

/*
 * Step 7 (Part 2 §10.11.1): resetCount only grows (TPM Reset, or TPM2_Clear which also
 * restarts clock); within one resetCount, restartCount only grows and clock, which
 * advances while the TPM is powered, must have moved on since the last accepted quote.
 */
static int check_clock(const struct wd_tpm_clock *prev, const struct wd_tpm_clock *cur,
                       enum wd_tpm_reason *why)
{
    if (prev == NULL) {
        return WD_OK;
    }
    if (cur->reset_count < prev->reset_count) {
        return wd_tpm_fail(why, WD_TPM_R_RESET_BACKWARDS, WD_EDENIED);
    }
    if (cur->reset_count == prev->reset_count) {
        if (cur->restart_count < prev->restart_count) {
            return wd_tpm_fail(why, WD_TPM_R_RESTART_BACKWARDS, WD_EDENIED);
        }
        if (cur->clock <= prev->clock) {
            return wd_tpm_fail(why, WD_TPM_R_CLOCK_BACKWARDS, WD_EDENIED);
        }
    }
    return WD_OK;
}

int wd_tpm_quote_verify(const struct wd_tpm_quote_check *chk, struct wd_slice attest,
                        struct wd_slice sig, struct wd_slice pcr_values, struct wd_tpm_attest *out,
                        enum wd_tpm_reason *why)
{
    WD_TRY(check_inputs(chk));
    WD_ENSURE(attest.p != NULL || attest.len == 0, WD_EINVAL);
    WD_ENSURE(pcr_values.p != NULL || pcr_values.len == 0, WD_EINVAL);
    ERR_clear_error();
    struct wd_tpm_signature s;
    struct wd_tpm_attest a;
    WD_TRY(wd_tpm_signature_parse(sig.p, sig.len, &s, why));
    WD_TRY(check_sig_alg(chk, &s, why));
    /* Only bytes the AK signed are parsed further. */
    static const uint8_t none[1];
    struct wd_slice tbs = {attest.len > 0 ? attest.p : none, attest.len};
    WD_TRY(check_signature(chk->ak_key, &s, tbs, why));
    WD_TRY(wd_tpm_attest_parse(attest.p, attest.len, &a, why));
    /* The nonce is compared in constant time; only its length may leak. */
    if (a.extra_data.len != chk->nonce.len
        || CRYPTO_memcmp(a.extra_data.p, chk->nonce.p, chk->nonce.len) != 0) {
        return wd_tpm_fail(why, WD_TPM_R_NONCE, WD_EDENIED);
    }
    WD_TRY(check_pcr_digest(&a, s.hash, pcr_values, why));
    WD_TRY(check_pcr_policy(chk->policy, &a.pcr_select, pcr_values, why));
    WD_TRY(check_clock(chk->prev, &a.clock, why));
    if (out != NULL) {
        *out = a;
    }
    if (why != NULL) {
        *why = WD_TPM_OK;
    }
    return WD_OK;
}
