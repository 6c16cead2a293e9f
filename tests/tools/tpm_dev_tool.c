/*
 * tpm_dev_tool: drives lib/tpmdev (warden/tpm_dev.h, the agent's TPM client) against a
 * real TPM and checks every result with the verifier side (warden/tpm.h), for
 * tests/integration/031-tpm-dev-swtpm.sh.
 *
 *   tpm_dev_tool --tcti CONF --ca-dir DIR [--ecc] [--pcap FILE]
 *
 * CONF is a tpm2-tss TCTI string ("swtpm:host=127.0.0.1,port=N"); DIR holds the PEM CA
 * certificates the EK certificate must chain to; --ecc uses the ECC P-256 EK instead of
 * RSA 2048. With --pcap, a last part runs ActivateCredential again through tpm2-tss's pcap
 * TCTI (writing FILE) and checks that the credential never crossed the bus in clear.
 * Prints one line per check, "ok NAME" or "FAIL NAME: why", then
 * "tpm_dev_tool: N passed, N failed"; exits 0 only when every check passed (1 otherwise,
 * 2 for bad usage). A check whose result later checks need stops the run.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "warden/buf.h"
#include "warden/err.h"
#include "warden/file.h"
#include "warden/rand.h"
#include "warden/tpm.h"
#include "warden/tpm_dev.h"

#define BLOB_MAX 8192

static int passed, failed;

static void ok(const char *name)
{
    printf("ok %s\n", name);
    passed++;
}

static void bad(const char *name, const char *fmt, ...) WD_PRINTF(2, 3);
static void bad(const char *name, const char *fmt, ...)
{
    va_list ap;
    printf("FAIL %s: ", name);
    va_start(ap, fmt);
    (void)vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    failed++;
}

/* Report a check that must return WD_OK; false when it did not. */
static bool expect_ok(const char *name, int rc, const struct wd_diag *d)
{
    if (rc == WD_OK) {
        ok(name);
        return true;
    }
    bad(name, "%s: %s", wd_strerror(rc), d->msg);
    return false;
}

/* Report a check that must fail with exactly want. */
static bool expect_err(const char *name, int rc, int want, const char *detail)
{
    if (rc == want) {
        ok(name);
        /* what a caller would tell its operator, for the test log */
        (void)fprintf(stderr, "tpm_dev_tool: %s: %s\n", name, detail);
        return true;
    }
    bad(name, "got %s, want %s (%s)", wd_strerror(rc), wd_strerror(want), detail);
    return false;
}

/* The loaded AK's public area and key, for verifying its quotes. */
struct ak {
    struct wd_buf pub, priv;
    struct wd_tpm_public parsed;
    struct wd_tpm_name name;
    EVP_PKEY *key;
};

static void ak_init(struct ak *a)
{
    memset(a, 0, sizeof(*a));
    wd_buf_init(&a->pub, BLOB_MAX);
    wd_buf_init(&a->priv, BLOB_MAX);
}

static void ak_cleanup(struct ak *a)
{
    wd_buf_cleanup(&a->pub);
    wd_buf_cleanup_secret(&a->priv);
    EVP_PKEY_free(a->key);
    a->key = NULL;
}

/* Create an AK with alg, then check it is an AK to the verifier and take its Name and key. */
static bool make_ak(const char *name, struct wd_tpm_dev *dev, enum wd_tpm_ak_alg alg, struct ak *a)
{
    struct wd_diag d = {{0}};
    enum wd_tpm_reason why = WD_TPM_OK;
    int rc = wd_tpm_dev_ak_create_alg(dev, alg, &a->pub, &a->priv, &d);
    if (rc != WD_OK) {
        bad(name, "%s: %s", wd_strerror(rc), d.msg);
        return false;
    }
    rc = wd_tpm_public_parse_2b(a->pub.p, a->pub.len, &a->parsed, &why);
    if (rc == WD_OK) {
        rc = wd_tpm_public_check_ak(&a->parsed, &why);
    }
    if (rc == WD_OK) {
        rc = wd_tpm_public_name(&a->parsed, &a->name);
    }
    if (rc == WD_OK) {
        rc = wd_tpm_public_to_pkey(&a->parsed, &a->key, &why);
    }
    if (rc != WD_OK) {
        bad(name, "the verifier refuses the AK: %s (%s)", wd_strerror(rc), wd_tpm_reason_str(why));
        return false;
    }
    ok(name);
    return true;
}

/* A quote and what it was made from. */
struct quote {
    struct wd_buf attest, sig, values;
    uint8_t nonce[32];
    struct wd_tpm_attest parsed;
};

static void quote_init(struct quote *q)
{
    memset(q, 0, sizeof(*q));
    wd_buf_init(&q->attest, BLOB_MAX);
    wd_buf_init(&q->sig, BLOB_MAX);
    wd_buf_init(&q->values, BLOB_MAX);
}

static void quote_cleanup(struct quote *q)
{
    wd_buf_cleanup(&q->attest);
    wd_buf_cleanup(&q->sig);
    wd_buf_cleanup(&q->values);
}

static int quote(struct wd_tpm_dev *dev, const char *spec, struct quote *q, struct wd_diag *d)
{
    struct wd_tpm_pcr_selection sel;
    WD_TRY(wd_tpm_pcr_spec_parse(spec, &sel, d));
    WD_TRY(wd_rand_bytes(q->nonce, sizeof(q->nonce)));
    return wd_tpm_dev_quote(dev, &sel, (struct wd_slice){q->nonce, sizeof(q->nonce)}, &q->attest,
                            &q->sig, &q->values, d);
}

/* wd_tpm_quote_verify of q with a's key and scheme, nonce (NULL: q's own), policy, prev. */
static int verify(const struct ak *a, struct quote *q, const uint8_t *nonce,
                  const struct wd_tpm_pcr_policy *policy, const struct wd_tpm_clock *prev,
                  enum wd_tpm_reason *why)
{
    static const struct wd_tpm_pcr_policy any = {NULL, 0, false};
    struct wd_tpm_quote_check chk = {
            .ak_key = a->key,
            .ak_public = &a->parsed,
            .nonce = {nonce != NULL ? nonce : q->nonce, sizeof(q->nonce)},
            .policy = policy != NULL ? policy : &any,
            .prev = prev,
    };
    *why = WD_TPM_OK;
    return wd_tpm_quote_verify(&chk, wd_buf_slice(&q->attest), wd_buf_slice(&q->sig),
                               wd_buf_slice(&q->values), &q->parsed, why);
}

static bool expect_verified(const char *name, const struct ak *a, struct quote *q,
                            const struct wd_tpm_pcr_policy *policy, const struct wd_tpm_clock *prev,
                            size_t want_values)
{
    enum wd_tpm_reason why;
    int rc = verify(a, q, NULL, policy, prev, &why);
    if (rc != WD_OK) {
        bad(name, "quote refused: %s (%s)", wd_strerror(rc), wd_tpm_reason_name(why));
        return false;
    }
    if (q->values.len != want_values) {
        bad(name, "%zu bytes of PCR values, want %zu", q->values.len, want_values);
        return false;
    }
    ok(name);
    return true;
}

static bool expect_refused(const char *name, int rc, enum wd_tpm_reason why, int want_rc,
                           enum wd_tpm_reason want_why)
{
    if (rc == want_rc && why == want_why) {
        ok(name);
        return true;
    }
    bad(name, "got %s (%s), want %s (%s)", wd_strerror(rc), wd_tpm_reason_name(why),
        wd_strerror(want_rc), wd_tpm_reason_name(want_why));
    return false;
}

/* MakeCredential for name, then ActivateCredential on the TPM; *rc_out its result. */
static int make_and_activate(struct wd_tpm_dev *dev, const struct wd_tpm_public *ek,
                             const struct wd_tpm_name *name, bool tamper, struct wd_buf *secret,
                             struct wd_buf *got, struct wd_diag *d)
{
    uint8_t cred[32];
    struct wd_buf id, enc;
    wd_buf_init(&id, BLOB_MAX);
    wd_buf_init(&enc, BLOB_MAX);
    enum wd_tpm_reason why = WD_TPM_OK;
    int rc = WD_OK;
    WD_CHECK(wd_rand_bytes(cred, sizeof(cred)));
    WD_CHECK(wd_buf_append(secret, cred, sizeof(cred)));
    rc = wd_tpm_make_credential(ek, (struct wd_slice){name->b, name->len},
                                (struct wd_slice){cred, sizeof(cred)}, &id, &enc, &why);
    if (rc != WD_OK) {
        (void)wd_diag_set(d, rc, NULL, 0, 0, "make credential: %s", wd_tpm_reason_str(why));
        goto out;
    }
    if (tamper) {
        /* a bit of the encrypted identity, after the size and the outer HMAC */
        id.p[id.len - 1] ^= 0x01;
    }
    rc = wd_tpm_dev_activate(dev, wd_buf_slice(&id), wd_buf_slice(&enc), got, d);
out:
    OPENSSL_cleanse(cred, sizeof(cred));
    wd_buf_cleanup(&id);
    wd_buf_cleanup(&enc);
    return rc;
}

/* Whether needle occurs in hay. */
static bool contains(struct wd_slice hay, struct wd_slice needle)
{
    for (size_t i = 0; needle.len > 0 && i + needle.len <= hay.len; i++) {
        if (memcmp(hay.p + i, needle.p, needle.len) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * ActivateCredential through the pcap TCTI (a capture of every command and response in
 * pcap_file), then look for the credential in the capture: the session ActivateCredential
 * uses is salted with the EK and encrypts its response. The AK public area, which Load
 * sends in clear, must be in the capture: the search itself works.
 */
static void bus_check(const char *tcti, const char *pcap_file, bool ecc, const struct ak *ak1,
                      const struct wd_tpm_public *ek)
{
    struct wd_diag d = {{0}};
    struct wd_tpm_dev *dev = NULL;
    struct wd_buf conf, pub, cert, secret, got, cap;
    wd_buf_init(&conf, 1024);
    wd_buf_init(&pub, BLOB_MAX);
    wd_buf_init(&cert, BLOB_MAX);
    wd_buf_init(&secret, 64);
    wd_buf_init(&got, 64);
    wd_buf_init(&cap, 1u << 24);
    int rc = wd_buf_printf(&conf, "pcap:%s", tcti);
    if (rc == WD_OK && setenv("TCTI_PCAP_FILE", pcap_file, 1) != 0) {
        rc = WD_EIO;
    }
    if (!expect_ok("bus-open-pcap", rc == WD_OK ? wd_tpm_dev_open(wd_buf_str(&conf), &dev, &d) : rc,
                   &d)) {
        goto out;
    }
    rc = wd_tpm_dev_ek(dev, ecc, &pub, &cert, &d);
    if (rc == WD_OK) {
        rc = wd_tpm_dev_ak_load(dev, wd_buf_slice(&ak1->pub), wd_buf_slice(&ak1->priv), &d);
    }
    if (rc == WD_OK) {
        rc = make_and_activate(dev, ek, &ak1->name, false, &secret, &got, &d);
    }
    if (rc == WD_OK && (got.len != secret.len || CRYPTO_memcmp(got.p, secret.p, got.len) != 0)) {
        bad("bus-activate", "the TPM returned another secret");
        goto out;
    }
    if (!expect_ok("bus-activate", rc, &d)) {
        goto out;
    }
    /* closing flushes the capture */
    wd_tpm_dev_close(dev);
    dev = NULL;
    if (!expect_ok("bus-capture-read", wd_file_read(pcap_file, cap.max, &cap, &d), &d)) {
        goto out;
    }
    if (!contains(wd_buf_slice(&cap), wd_buf_slice(&ak1->pub))) {
        bad("bus-capture", "the AK public area sent by Load is not in the capture");
    } else {
        ok("bus-capture");
    }
    if (contains(wd_buf_slice(&cap), wd_buf_slice(&secret))) {
        bad("bus-credential-encrypted", "the credential crossed the bus in clear");
    } else {
        ok("bus-credential-encrypted");
    }
out:
    wd_tpm_dev_close(dev);
    wd_buf_cleanup(&conf);
    wd_buf_cleanup(&pub);
    wd_buf_cleanup(&cert);
    wd_buf_cleanup_secret(&secret);
    wd_buf_cleanup_secret(&got);
    wd_buf_cleanup(&cap);
}

static int run(const char *tcti, const char *ca_dir, bool ecc, const char *pcap_file)
{
    struct wd_diag d = {{0}};
    struct wd_tpm_dev *dev = NULL, *dev2 = NULL;
    struct wd_buf ek_pub, ek_cert, secret, got;
    struct ak ak1, ak2, ak_rsa;
    struct quote q1, q_all, q_miss, q_rsa, q2, q3;
    X509_STORE *store = NULL;
    X509 *cert = NULL;
    struct wd_tpm_public ek;
    enum wd_tpm_reason why = WD_TPM_OK;
    wd_buf_init(&ek_pub, BLOB_MAX);
    wd_buf_init(&ek_cert, BLOB_MAX);
    wd_buf_init(&secret, 64);
    wd_buf_init(&got, 64);
    ak_init(&ak1);
    ak_init(&ak2);
    ak_init(&ak_rsa);
    quote_init(&q1);
    quote_init(&q_all);
    quote_init(&q_miss);
    quote_init(&q_rsa);
    quote_init(&q2);
    quote_init(&q3);
    int rc;

    /* --- opening --- */
    rc = wd_tpm_dev_open("nosuchtcti:x=y", &dev, &d);
    wd_tpm_dev_close(dev);
    dev = NULL;
    (void)expect_err("open-unknown-tcti", rc, WD_ECONFIG, d.msg);
    rc = wd_tpm_dev_open("swtpm:host=127.0.0.1,port=1", &dev, &d);
    wd_tpm_dev_close(dev);
    dev = NULL;
    (void)expect_err("open-unreachable", rc, WD_EIO, d.msg);
    if (!expect_ok("open", wd_tpm_dev_open(tcti, &dev, &d), &d)) {
        goto out;
    }
    rc = wd_tpm_dev_ak_create(dev, &ak1.pub, &ak1.priv, &d);
    (void)expect_err("ak-before-ek", rc, WD_EINVAL, d.msg);

    /* --- EK and its certificate --- */
    if (!expect_ok("ek", wd_tpm_dev_ek(dev, ecc, &ek_pub, &ek_cert, &d), &d)) {
        goto out;
    }
    rc = wd_tpm_public_parse_2b(ek_pub.p, ek_pub.len, &ek, &why);
    if (rc == WD_OK) {
        rc = wd_tpm_public_check_ek(&ek, &why);
    }
    if (rc != WD_OK || ek.type != (ecc ? WD_TPM_ALG_ECC : WD_TPM_ALG_RSA)) {
        bad("ek-public", "not an %s EK: %s (%s)", ecc ? "ECC" : "RSA", wd_strerror(rc),
            wd_tpm_reason_str(why));
        goto out;
    }
    ok("ek-public");
    if (ek_cert.len == 0) {
        bad("ek-cert", "no EK certificate in NV");
    } else {
        rc = wd_tpm_ca_store_load(ca_dir, &store, &d);
        if (rc == WD_OK) {
            rc = wd_tpm_ek_cert_parse(ek_cert.p, ek_cert.len, &cert, &why);
        }
        if (rc == WD_OK) {
            rc = wd_tpm_ek_cert_verify(store, cert, NULL, 0, &ek, &why, &d);
        }
        if (rc == WD_OK) {
            ok("ek-cert");
        } else {
            bad("ek-cert", "%s: %s %s", wd_strerror(rc), wd_tpm_reason_str(why), d.msg);
        }
    }
    {
        /* The EK is derived from the endorsement seed: asking again gives the same key. */
        struct wd_buf again, cert_again;
        wd_buf_init(&again, BLOB_MAX);
        wd_buf_init(&cert_again, BLOB_MAX);
        rc = wd_tpm_dev_ek(dev, ecc, &again, &cert_again, &d);
        if (rc == WD_OK
            && (again.len != ek_pub.len || memcmp(again.p, ek_pub.p, again.len) != 0
                || cert_again.len != ek_cert.len)) {
            bad("ek-stable", "a second EK differs from the first");
        } else {
            (void)expect_ok("ek-stable", rc, &d);
        }
        wd_buf_cleanup(&again);
        wd_buf_cleanup(&cert_again);
    }

    /* --- AK and credential activation --- */
    if (!make_ak("ak-create", dev, WD_TPM_AK_ECDSA_P256, &ak1)) {
        goto out;
    }
    if (ak1.parsed.type != WD_TPM_ALG_ECC || ak1.parsed.scheme != WD_TPM_ALG_ECDSA) {
        bad("ak-ecdsa", "the default AK is not ECDSA P-256");
    } else {
        ok("ak-ecdsa");
    }
    rc = make_and_activate(dev, &ek, &ak1.name, false, &secret, &got, &d);
    if (rc == WD_OK && (got.len != secret.len || CRYPTO_memcmp(got.p, secret.p, got.len) != 0)) {
        bad("activate", "the TPM returned another secret");
    } else {
        (void)expect_ok("activate", rc, &d);
    }
    wd_buf_reset(&secret);
    wd_buf_reset(&got);
    rc = make_and_activate(dev, &ek, &ak1.name, true, &secret, &got, &d);
    (void)expect_err("activate-tampered", rc, WD_ECRYPTO, d.msg);
    wd_buf_reset(&secret);
    wd_buf_reset(&got);
    /* A second AK replaces the first in dev; the first comes back from its blobs. */
    if (!make_ak("ak2-create", dev, WD_TPM_AK_ECDSA_P256, &ak2)) {
        goto out;
    }
    if (!expect_ok("ak-load-same-dev",
                   wd_tpm_dev_ak_load(dev, wd_buf_slice(&ak1.pub), wd_buf_slice(&ak1.priv), &d),
                   &d)) {
        goto out;
    }
    rc = make_and_activate(dev, &ek, &ak2.name, false, &secret, &got, &d);
    (void)expect_err("activate-other-ak-refused", rc, WD_ECRYPTO, d.msg);
    if (got.len != 0) {
        bad("activate-other-ak-nothing", "%zu bytes came back", got.len);
    } else {
        ok("activate-other-ak-nothing");
    }
    wd_buf_reset(&secret);
    wd_buf_reset(&got);
    rc = make_and_activate(dev, &ek, &ak1.name, false, &secret, &got, &d);
    if (rc == WD_OK && (got.len != secret.len || CRYPTO_memcmp(got.p, secret.p, got.len) != 0)) {
        bad("activate-reloaded-ak", "the TPM returned another secret");
    } else {
        (void)expect_ok("activate-reloaded-ak", rc, &d);
    }
    wd_buf_cleanup_secret(&secret);
    wd_buf_cleanup_secret(&got);

    /* --- quotes --- */
    rc = quote(dev, "sha256:0,1,2", &q1, &d);
    if (!expect_ok("quote", rc, &d)
        || !expect_verified("quote-verify", &ak1, &q1, NULL, NULL, 96)) {
        goto out;
    }
    {
        uint8_t other[32];
        memcpy(other, q1.nonce, sizeof(other));
        other[0] ^= 0x80;
        rc = verify(&ak1, &q1, other, NULL, NULL, &why);
        (void)expect_refused("quote-wrong-nonce", rc, why, WD_EDENIED, WD_TPM_R_NONCE);
        rc = verify(&ak2, &q1, NULL, NULL, NULL, &why);
        (void)expect_refused("quote-other-ak", rc, why, WD_ECRYPTO, WD_TPM_R_SIG_INVALID);
    }
    /* 24 PCRs: more than one TPM2_PCR_Read returns (8 each), so the read loops. */
    rc = quote(dev, "sha256:0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23", &q_all,
               &d);
    if (expect_ok("quote-24-pcrs", rc, &d)) {
        (void)expect_verified("quote-24-pcrs-verify", &ak1, &q_all, NULL, NULL, 24 * 32);
        if (q_all.values.len == 24 * 32 && q1.values.len == 96
            && memcmp(q_all.values.p, q1.values.p, 96) != 0) {
            bad("quote-24-pcrs-order", "PCRs 0..2 differ from the first quote's");
        } else {
            ok("quote-24-pcrs-order");
        }
    }
    /* swtpm_manufacture activates only the SHA-256 bank. */
    rc = quote(dev, "sha1:0", &q_miss, &d);
    (void)expect_err("quote-missing-bank", rc, WD_EIO, d.msg);
    if (q_miss.attest.len != 0 || q_miss.sig.len != 0 || q_miss.values.len != 0) {
        bad("quote-missing-bank-untouched", "buffers changed on error");
    } else {
        ok("quote-missing-bank-untouched");
    }
    /* An RSASSA AK, then back to the first AK. */
    if (make_ak("ak-rsassa-create", dev, WD_TPM_AK_RSASSA_2048, &ak_rsa)) {
        rc = quote(dev, "sha256:0,1,2", &q_rsa, &d);
        if (expect_ok("quote-rsassa", rc, &d)) {
            (void)expect_verified("quote-rsassa-verify", &ak_rsa, &q_rsa, NULL, NULL, 96);
        }
    }

    /* --- restart: a fresh handle, the EK again, the AK from its blobs --- */
    wd_tpm_dev_close(dev);
    dev = NULL;
    if (!expect_ok("reopen", wd_tpm_dev_open(tcti, &dev2, &d), &d)) {
        goto out;
    }
    {
        struct wd_buf pub2, cert2;
        wd_buf_init(&pub2, BLOB_MAX);
        wd_buf_init(&cert2, BLOB_MAX);
        rc = wd_tpm_dev_ek(dev2, ecc, &pub2, &cert2, &d);
        bool same =
                rc == WD_OK && pub2.len == ek_pub.len && memcmp(pub2.p, ek_pub.p, pub2.len) == 0;
        wd_buf_cleanup(&pub2);
        wd_buf_cleanup(&cert2);
        if (!same) {
            bad("reopen-ek", "%s: %s", wd_strerror(rc), rc == WD_OK ? "another EK" : d.msg);
            goto out;
        }
        ok("reopen-ek");
    }
    {
        /* A truncated public blob and a private blob that is not one are refused as such. */
        struct wd_slice pub = wd_buf_slice(&ak1.pub), priv = wd_buf_slice(&ak1.priv);
        rc = wd_tpm_dev_ak_load(dev2, (struct wd_slice){pub.p, pub.len - 1}, priv, &d);
        (void)expect_err("ak-load-truncated", rc, WD_EPROTO, d.msg);
        rc = wd_tpm_dev_ak_load(dev2, pub, (struct wd_slice){priv.p, priv.len - 1}, &d);
        (void)expect_err("ak-load-truncated-private", rc, WD_EPROTO, d.msg);
        /* The RSA AK's private blob does not belong to the ECC AK's public area. */
        rc = wd_tpm_dev_ak_load(dev2, pub, wd_buf_slice(&ak_rsa.priv), &d);
        (void)expect_err("ak-load-mismatched", rc, WD_EIO, d.msg);
    }
    rc = wd_tpm_dev_quote(dev2, &q1.parsed.pcr_select, (struct wd_slice){q1.nonce, 32}, &q2.attest,
                          &q2.sig, &q2.values, &d);
    (void)expect_err("quote-without-ak", rc, WD_EINVAL, d.msg);
    if (!expect_ok("ak-load",
                   wd_tpm_dev_ak_load(dev2, wd_buf_slice(&ak1.pub), wd_buf_slice(&ak1.priv), &d),
                   &d)) {
        goto out;
    }
    rc = quote(dev2, "sha256:0,1,2", &q2, &d);
    if (!expect_ok("quote-after-reload", rc, &d)
        || !expect_verified("quote-after-reload-verify", &ak1, &q2, NULL, &q1.parsed.clock, 96)) {
        goto out;
    }
    rc = verify(&ak1, &q1, NULL, NULL, &q2.parsed.clock, &why);
    (void)expect_refused("quote-replay-refused", rc, why, WD_EDENIED, WD_TPM_R_CLOCK_BACKWARDS);

    /* --- PCR extend: the old values no longer pass --- */
    {
        struct wd_tpm_pcr_rule rules[3];
        for (unsigned i = 0; i < 3; i++) {
            rules[i] = (struct wd_tpm_pcr_rule){WD_TPM_ALG_SHA256, (uint8_t)i, q2.values.p + 32 * i,
                                                1};
        }
        struct wd_tpm_pcr_policy old = {rules, 3, true};
        (void)expect_verified("policy-old-values", &ak1, &q2, &old, NULL, 96);
        uint8_t digest[32];
        unsigned dlen = 0;
        if (EVP_Digest("warden", 6, digest, &dlen, EVP_sha256(), NULL) != 1) {
            bad("pcr-extend", "hashing failed");
            goto out;
        }
        if (!expect_ok("pcr-extend", wd_tpm_dev_pcr_extend_sha256(dev2, 2, digest, &d), &d)) {
            goto out;
        }
        rc = quote(dev2, "sha256:0,1,2", &q3, &d);
        if (!expect_ok("quote-after-extend", rc, &d)
            || !expect_verified("quote-after-extend-verify", &ak1, &q3, NULL, &q2.parsed.clock,
                                96)) {
            goto out;
        }
        if (memcmp(q3.values.p, q2.values.p, 64) != 0
            || memcmp(q3.values.p + 64, q2.values.p + 64, 32) == 0) {
            bad("pcr-extend-changed", "want PCRs 0,1 unchanged and PCR 2 changed");
        } else {
            ok("pcr-extend-changed");
        }
        rc = verify(&ak1, &q3, NULL, &old, &q2.parsed.clock, &why);
        (void)expect_refused("policy-old-values-refused", rc, why, WD_EDENIED, WD_TPM_R_PCR_VALUE);
    }
    {
        static const uint8_t zero[32];
        rc = wd_tpm_dev_pcr_extend_sha256(dev2, WD_TPM_PCR_MAX, zero, &d);
    }
    (void)expect_err("pcr-extend-bad-index", rc, WD_EINVAL, d.msg);
    wd_tpm_dev_close(dev2);
    dev2 = NULL;
    if (pcap_file != NULL) {
        bus_check(tcti, pcap_file, ecc, &ak1, &ek);
    }

out:
    wd_tpm_dev_close(dev);
    wd_tpm_dev_close(dev2);
    X509_free(cert);
    X509_STORE_free(store);
    wd_buf_cleanup(&ek_pub);
    wd_buf_cleanup(&ek_cert);
    wd_buf_cleanup_secret(&secret);
    wd_buf_cleanup_secret(&got);
    ak_cleanup(&ak1);
    ak_cleanup(&ak2);
    ak_cleanup(&ak_rsa);
    quote_cleanup(&q1);
    quote_cleanup(&q_all);
    quote_cleanup(&q_miss);
    quote_cleanup(&q_rsa);
    quote_cleanup(&q2);
    quote_cleanup(&q3);
    printf("tpm_dev_tool: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *tcti = NULL, *ca_dir = NULL, *pcap_file = NULL;
    bool ecc = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tcti") == 0 && i + 1 < argc) {
            tcti = argv[++i];
        } else if (strcmp(argv[i], "--ca-dir") == 0 && i + 1 < argc) {
            ca_dir = argv[++i];
        } else if (strcmp(argv[i], "--pcap") == 0 && i + 1 < argc) {
            pcap_file = argv[++i];
        } else if (strcmp(argv[i], "--ecc") == 0) {
            ecc = true;
        } else {
            (void)fprintf(stderr,
                          "usage: tpm_dev_tool --tcti CONF --ca-dir DIR [--ecc] [--pcap FILE]\n");
            return 2;
        }
    }
    if (tcti == NULL || ca_dir == NULL) {
        (void)fprintf(stderr,
                      "usage: tpm_dev_tool --tcti CONF --ca-dir DIR [--ecc] [--pcap FILE]\n");
        return 2;
    }
    return run(tcti, ca_dir, ecc, pcap_file);
}
