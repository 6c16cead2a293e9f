/*
 * Fuzz the TPMS_ATTEST parser (TPM 2.0 Part 2 §10.12.12, quotes) and the quote checks that
 * follow a good signature. An accepted input is canonical (marshalling gives it back).
 * It is then made into a quote that passes steps 1-2: its pcrDigest is replaced by the
 * SHA-256 of PCR values derived from the input, and it is signed here with a fixed P-256
 * key. Verifying that quote must never fail on the signature, and its outcome must agree
 * with the nonce, PCR policy and clock rules evaluated here independently.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/tpm.h"

#define TPM_FUZZ_MAX 4096
#define VALUES_MAX   (WD_TPM_PCR_BANKS_MAX * WD_TPM_PCR_MAX * WD_TPM_DIGEST_MAX)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A throwaway P-256 key, only ever used by this harness. */
static const char signer_pem[] =
        "-----BEGIN PRIVATE KEY-----\n"
        "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgWKiMdDtgUEQGgBjD\n"
        "Rpi0hCzsiWFbaf+bjLyohHVzYIWhRANCAATbMQmelvcz/ux6HwMLNPrICl4dwiyA\n"
        "yluHk3K3VLgtzaaPNVJ2l6wwq8kWdvp4iVfTF0v7EPge8jii0+1TtXwU\n"
        "-----END PRIVATE KEY-----\n";
static EVP_PKEY *signer;

static EVP_PKEY *load_signer(void)
{
    BIO *bio = BIO_new_mem_buf(signer_pem, (int)sizeof(signer_pem) - 1);
    WD_BUG_ON(bio == NULL);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    WD_BUG_ON(k == NULL);
    return k;
}

/* ECDSA-SHA256 over msg as a TPMT_SIGNATURE in out; false if OpenSSL fails (no memory). */
static bool sign(const struct wd_buf *msg, struct wd_buf *out)
{
    uint8_t der[128], r[32], s[32];
    size_t dl = sizeof(der);
    bool ok = false;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ECDSA_SIG *es = NULL;
    if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, signer) != 1
        || EVP_DigestSign(ctx, der, &dl, msg->p, msg->len) != 1) {
        goto out;
    }
    const unsigned char *q = der;
    es = d2i_ECDSA_SIG(NULL, &q, (long)dl);
    if (es == NULL || BN_bn2binpad(ECDSA_SIG_get0_r(es), r, 32) != 32
        || BN_bn2binpad(ECDSA_SIG_get0_s(es), s, 32) != 32) {
        goto out;
    }
    struct wd_tpm_signature sig = {
            WD_TPM_ALG_ECDSA, WD_TPM_ALG_SHA256, {NULL, 0}, {r, 32}, {s, 32},
    };
    ok = wd_tpm_signature_marshal(&sig, out) == WD_OK;
out:
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* The value of (bank hash, pcr) in values, found by walking the selection here. */
static const uint8_t *value_of(const struct wd_tpm_pcr_selection *sel, const uint8_t *values,
                               uint16_t hash, unsigned pcr)
{
    size_t off = 0;
    for (uint32_t i = 0; i < sel->count; i++) {
        size_t d = wd_tpm_hash_size(sel->banks[i].hash);
        for (unsigned p = 0; p < 8u * sel->banks[i].size_of_select; p++) {
            if (((sel->banks[i].select[p / 8] >> (p % 8)) & 1u) == 0) {
                continue;
            }
            if (sel->banks[i].hash == hash && p == pcr) {
                return values + off;
            }
            off += d;
        }
    }
    return NULL;
}

static void check_quote(const uint8_t *data, size_t size, struct wd_tpm_attest *a)
{
    static uint8_t values[VALUES_MAX];
    size_t bytes = 0;
    wd_tpm_pcr_selection_size(&a->pcr_select, NULL, &bytes);
    WD_BUG_ON(bytes > sizeof(values));
    for (size_t i = 0; i < bytes; i++) {
        values[i] = data[i % size];
    }
    uint8_t digest[32];
    unsigned int dl = 0;
    WD_BUG_ON(EVP_Digest(values, bytes, digest, &dl, EVP_sha256(), NULL) != 1);
    a->pcr_digest.p = digest;
    a->pcr_digest.len = dl;
    struct wd_buf msg, sig;
    wd_buf_init(&msg, 2 * TPM_FUZZ_MAX);
    wd_buf_init(&sig, 1024);
    if (wd_tpm_attest_marshal(a, &msg) != WD_OK || !sign(&msg, &sig)) {
        goto out;
    }
    /* Policy: SHA-256 PCR 0 must equal the first value the selection gives it, or zeros. */
    static const uint8_t zeros[32];
    const uint8_t *v0 = value_of(&a->pcr_select, values, WD_TPM_ALG_SHA256, 0);
    struct wd_tpm_pcr_rule rule = {WD_TPM_ALG_SHA256, 0, (data[0] & 1) ? zeros : v0, 1};
    if (rule.values == NULL) {
        rule.values = zeros;
    }
    struct wd_tpm_pcr_policy pol = {&rule, 1, (data[size - 1] & 1) != 0};
    struct wd_tpm_clock prev = {5000, 2, 1, true};
    static const uint8_t fixed_nonce[8] = "nonce-01";
    struct wd_tpm_quote_check chk = {
            .ak_key = signer,
            .sig_schemes = WD_TPM_SIG_ECDSA,
            .nonce = a->extra_data.len > 0 && a->extra_data.len <= WD_TPM_DIGEST_MAX
                             ? a->extra_data
                             : (struct wd_slice){fixed_nonce, sizeof(fixed_nonce)},
            .policy = &pol,
            .prev = &prev,
    };
    struct wd_slice pv = {values, bytes};
    enum wd_tpm_reason why = WD_TPM_OK;
    struct wd_tpm_attest got;
    int rc = wd_tpm_quote_verify(&chk, wd_buf_slice(&msg), wd_buf_slice(&sig), pv, &got, &why);

    /* The same checks, evaluated independently, in the same order. */
    enum wd_tpm_reason want = WD_TPM_OK;
    bool nonce_ok = a->extra_data.len == chk.nonce.len
                    && memcmp(a->extra_data.p, chk.nonce.p, chk.nonce.len) == 0;
    const uint8_t *v = value_of(&a->pcr_select, values, WD_TPM_ALG_SHA256, 0);
    bool unlisted = false;
    for (uint32_t i = 0; i < a->pcr_select.count; i++) {
        for (unsigned p = 0; p < WD_TPM_PCR_MAX; p++) {
            if (wd_tpm_pcr_selected(&a->pcr_select.banks[i], p)
                && !(a->pcr_select.banks[i].hash == WD_TPM_ALG_SHA256 && p == 0)) {
                unlisted = true;
            }
        }
    }
    const struct wd_tpm_clock *c = &a->clock;
    if (!nonce_ok) {
        want = WD_TPM_R_NONCE;
    } else if (v == NULL) {
        want = WD_TPM_R_PCR_MISSING;
    } else if (pol.only_listed && unlisted) {
        want = WD_TPM_R_PCR_UNLISTED;
    } else if (memcmp(v, rule.values, 32) != 0) {
        want = WD_TPM_R_PCR_VALUE;
    } else if (c->reset_count < prev.reset_count) {
        want = WD_TPM_R_RESET_BACKWARDS;
    } else if (c->reset_count == prev.reset_count && c->restart_count < prev.restart_count) {
        want = WD_TPM_R_RESTART_BACKWARDS;
    } else if (c->reset_count == prev.reset_count && c->clock <= prev.clock) {
        want = WD_TPM_R_CLOCK_BACKWARDS;
    }
    if (rc == WD_ENOMEM) {
        goto out;
    }
    WD_BUG_ON(why != want);
    WD_BUG_ON((rc == WD_OK) != (want == WD_TPM_OK));
    WD_BUG_ON(rc != WD_OK && rc != WD_EDENIED);
    WD_BUG_ON(rc == WD_OK
              && (got.clock.clock != c->clock || got.extra_data.len != a->extra_data.len));
out:
    wd_buf_cleanup(&msg);
    wd_buf_cleanup(&sig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > TPM_FUZZ_MAX) {
        return 0;
    }
    if (signer == NULL) {
        signer = load_signer();
    }
    struct wd_tpm_attest a;
    enum wd_tpm_reason why = WD_TPM_OK;
    int rc = wd_tpm_attest_parse(data, size, &a, &why);
    if (rc != WD_OK) {
        WD_BUG_ON(rc != WD_EPROTO || why == WD_TPM_OK);
        return 0;
    }
    WD_BUG_ON(a.magic != WD_TPM_GENERATED_VALUE || a.type != WD_TPM_ST_ATTEST_QUOTE);
    WD_BUG_ON(a.extra_data.len > WD_TPM_DATA_MAX || a.qualified_signer.len > WD_TPM_NAME_MAX);
    struct wd_buf out;
    wd_buf_init(&out, TPM_FUZZ_MAX);
    rc = wd_tpm_attest_marshal(&a, &out);
    WD_BUG_ON(rc != WD_OK && rc != WD_ENOMEM);
    WD_BUG_ON(rc == WD_OK && (out.len != size || memcmp(out.p, data, size) != 0));
    wd_buf_cleanup(&out);
    check_quote(data, size, &a);
    ERR_clear_error();
    return 0;
}
