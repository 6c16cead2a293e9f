/*
 * Unit tests for lib/attest/tpm_*.c: the TPM 2.0 structure parsers (every negative rule,
 * truncation at every offset, trailing bytes), quote verification with real swtpm output
 * (tests/data/tpm/swtpm, made by tests/integration/030-tpm-swtpm.sh) and the trustee
 * vector, every verification reason and the order the checks run in (with quotes signed
 * here by software keys), KDFa/KDFe against OpenSSL's KBKDF/SSKDF, MakeCredential against
 * credentials made by swtpm and by tpm2-tools, and the EK certificate checks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/codec.h"
#include "warden/doc.h"
#include "warden/err.h"
#include "warden/file.h"
#include "warden/pki.h"
#include "warden/tpm.h"

#include "attest/tpm_int.h"
#include "harness.h"

#define DATA "tests/data/tpm/swtpm/"

/* A time after the swtpm CA and EK certificates' notBefore (2026-11-25). */
#define EK_TIME ((int64_t)1796000000)

/* ---- helpers ---- */

static int load(const char *path, struct wd_buf *b)
{
    struct wd_diag d;
    wd_buf_init(b, 1u << 20);
    int rc = wd_file_read(path, 1u << 20, b, &d);
    if (rc < 0) {
        printf("%s\n", d.msg);
    }
    return rc;
}

static struct wd_slice sl(const struct wd_buf *b)
{
    return wd_buf_slice(b);
}

/* An exact-size heap copy of p[0..n) plus extra bytes of value fill (so ASan sees over-reads). */
static uint8_t *copy_of(const uint8_t *p, size_t n, size_t extra, uint8_t fill)
{
    uint8_t *c = wd_malloc(n + extra);
    if (c != NULL) {
        if (n > 0) {
            memcpy(c, p, n);
        }
        memset(c + n, fill, extra);
    }
    return c;
}

/* Adapters so one sweep can drive every parser. */
static int parse_sel(const uint8_t *p, size_t n, enum wd_tpm_reason *why)
{
    struct wd_tpm_pcr_selection s;
    return wd_tpm_pcr_selection_parse(p, n, &s, why);
}
static int parse_attest(const uint8_t *p, size_t n, enum wd_tpm_reason *why)
{
    struct wd_tpm_attest a;
    return wd_tpm_attest_parse(p, n, &a, why);
}
static int parse_sig(const uint8_t *p, size_t n, enum wd_tpm_reason *why)
{
    struct wd_tpm_signature s;
    return wd_tpm_signature_parse(p, n, &s, why);
}
static int parse_pub(const uint8_t *p, size_t n, enum wd_tpm_reason *why)
{
    struct wd_tpm_public s;
    return wd_tpm_public_parse(p, n, &s, why);
}
static int parse_pub2b(const uint8_t *p, size_t n, enum wd_tpm_reason *why)
{
    struct wd_tpm_public s;
    return wd_tpm_public_parse_2b(p, n, &s, why);
}

/*
 * Every proper prefix of a valid encoding is refused as truncated, and a trailing byte as
 * trailing. Returns the failing length + 1, or 0 when all behave.
 */
static size_t sweep(int (*parse)(const uint8_t *, size_t, enum wd_tpm_reason *), const uint8_t *p,
                    size_t len)
{
    for (size_t n = 0; n <= len + 1; n++) {
        uint8_t *c = copy_of(p, WD_MIN(n, len), n > len ? 1 : 0, 0x00);
        if (c == NULL) {
            return n + 1;
        }
        enum wd_tpm_reason why = WD_TPM_OK;
        int rc = parse(c, n, &why);
        wd_free(c);
        enum wd_tpm_reason want = n < len    ? WD_TPM_R_TRUNCATED
                                  : n == len ? WD_TPM_OK
                                             : WD_TPM_R_TRAILING;
        if ((want == WD_TPM_OK && rc != WD_OK)
            || (want != WD_TPM_OK && (rc != WD_EPROTO || why != want))) {
            printf("length %zu of %zu: rc %d, reason %s\n", n, len, rc, wd_tpm_reason_name(why));
            return n + 1;
        }
    }
    return 0;
}

static EVP_PKEY *load_priv(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return NULL;
    }
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    (void)fclose(f);
    return k;
}

/* Load a TPM2B_PUBLIC file into buf and parse it into pub. */
static int load_pub(const char *path, struct wd_buf *buf, struct wd_tpm_public *pub)
{
    WD_TRY(load(path, buf));
    return wd_tpm_public_parse_2b(buf->p, buf->len, pub, NULL);
}

/* ---- reasons and algorithms ---- */

TEST(reason_texts)
{
    static const enum wd_tpm_reason all[] = {
            WD_TPM_OK,
            WD_TPM_R_TRUNCATED,
            WD_TPM_R_TRAILING,
            WD_TPM_R_SIZE,
            WD_TPM_R_VALUE,
            WD_TPM_R_HASH_ALG,
            WD_TPM_R_SIG_ALG,
            WD_TPM_R_KEY_TYPE,
            WD_TPM_R_SCHEME,
            WD_TPM_R_SYMMETRIC,
            WD_TPM_R_KDF,
            WD_TPM_R_CURVE,
            WD_TPM_R_KEY_BITS,
            WD_TPM_R_ATTRIBUTES,
            WD_TPM_R_PCR_BANKS,
            WD_TPM_R_PCR_SELECT_SIZE,
            WD_TPM_R_PCR_BANK_DUP,
            WD_TPM_R_NAME,
            WD_TPM_R_KEY_INVALID,
            WD_TPM_R_MAGIC,
            WD_TPM_R_ATTEST_TYPE,
            WD_TPM_R_SIG_NOT_ALLOWED,
            WD_TPM_R_SIG_MISMATCH,
            WD_TPM_R_SIG_INVALID,
            WD_TPM_R_NONCE,
            WD_TPM_R_PCR_VALUES,
            WD_TPM_R_PCR_DIGEST,
            WD_TPM_R_PCR_MISSING,
            WD_TPM_R_PCR_UNLISTED,
            WD_TPM_R_PCR_VALUE,
            WD_TPM_R_RESET_BACKWARDS,
            WD_TPM_R_RESTART_BACKWARDS,
            WD_TPM_R_CLOCK_BACKWARDS,
            WD_TPM_R_AK_ATTRIBUTES,
            WD_TPM_R_EK_ATTRIBUTES,
            WD_TPM_R_CREDENTIAL_SIZE,
            WD_TPM_R_CRED_INTEGRITY,
            WD_TPM_R_SECRET,
            WD_TPM_R_EK_CERT,
            WD_TPM_R_EK_CHAIN,
            WD_TPM_R_EK_KEY_MISMATCH,
            WD_TPM_R_EK_NOT_ALLOWED,
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(all); i++) {
        CHECK(strcmp(wd_tpm_reason_name(all[i]), "unknown") != 0);
        CHECK(strcmp(wd_tpm_reason_str(all[i]), "unknown reason") != 0);
        for (size_t j = 0; j < i; j++) {
            CHECK(strcmp(wd_tpm_reason_name(all[i]), wd_tpm_reason_name(all[j])) != 0);
            CHECK(strcmp(wd_tpm_reason_str(all[i]), wd_tpm_reason_str(all[j])) != 0);
        }
    }
    CHECK_STR(wd_tpm_reason_name((enum wd_tpm_reason)999), "unknown");
    CHECK_STR(wd_tpm_reason_str((enum wd_tpm_reason)999), "unknown reason");
    CHECK_STR(wd_tpm_reason_name(WD_TPM_R_SIG_INVALID), "sig-invalid");
}

TEST(hash_sizes)
{
    CHECK_EQ(wd_tpm_hash_size(WD_TPM_ALG_SHA1), 20);
    CHECK_EQ(wd_tpm_hash_size(WD_TPM_ALG_SHA256), 32);
    CHECK_EQ(wd_tpm_hash_size(WD_TPM_ALG_SHA384), 48);
    CHECK_EQ(wd_tpm_hash_size(WD_TPM_ALG_SHA512), 64);
    CHECK_EQ(wd_tpm_hash_size(0x0012), 0); /* SM3_256 */
    CHECK_EQ(wd_tpm_hash_size(WD_TPM_ALG_NULL), 0);
    CHECK_EQ(wd_tpm_hash_size(0x0027), 0); /* SHA3_256 */
}

TEST(tpm2b_unwrap_and_names)
{
    static const uint8_t ok[] = {0x00, 0x02, 0xaa, 0xbb};
    struct wd_slice s;
    enum wd_tpm_reason why = WD_TPM_OK;
    CHECK_OK(wd_tpm_2b_unwrap(ok, sizeof(ok), 2, &s, &why));
    CHECK_EQ(s.len, 2);
    CHECK(s.p == ok + 2);
    CHECK_ERR(wd_tpm_2b_unwrap(ok, sizeof(ok), 1, &s, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_SIZE);
    CHECK_ERR(wd_tpm_2b_unwrap(ok, 3, 2, &s, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_TRUNCATED);
    CHECK_ERR(wd_tpm_2b_unwrap(ok, 1, 2, &s, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_TRUNCATED);
    CHECK_ERR(wd_tpm_2b_unwrap(NULL, 0, 2, &s, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_TRUNCATED);
    static const uint8_t empty[] = {0x00, 0x00};
    CHECK_ERR(wd_tpm_2b_unwrap(empty, sizeof(empty), 2, &s, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_SIZE);
    static const uint8_t trail[] = {0x00, 0x01, 0xaa, 0xbb};
    CHECK_ERR(wd_tpm_2b_unwrap(trail, sizeof(trail), 2, &s, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_TRAILING);
    CHECK_ERR(wd_tpm_2b_unwrap(ok, sizeof(ok), 2, NULL, &why), WD_EINVAL);

    uint8_t name[2 + 64];
    memset(name, 0x42, sizeof(name));
    name[0] = 0x00;
    name[1] = 0x0b;
    CHECK_OK(wd_tpm_name_check(name, 34, &why));
    CHECK_ERR(wd_tpm_name_check(name, 33, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_NAME);
    CHECK_ERR(wd_tpm_name_check(name, 35, &why), WD_EPROTO);
    CHECK_ERR(wd_tpm_name_check(name, 1, &why), WD_EPROTO);
    CHECK_ERR(wd_tpm_name_check(NULL, 34, &why), WD_EPROTO);
    name[1] = 0x0d;
    CHECK_OK(wd_tpm_name_check(name, 66, NULL));
    name[1] = 0x04;
    CHECK_OK(wd_tpm_name_check(name, 22, NULL));
    name[1] = 0x12; /* SM3 */
    CHECK_ERR(wd_tpm_name_check(name, 34, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_NAME);
}

/* ---- TPML_PCR_SELECTION ---- */

/* sha256 {0,1,2,7} and sha1 {16}: two banks. */
static const uint8_t sel_two[] = {
        0x00, 0x00, 0x00, 0x02, 0x00, 0x0b, 0x03, 0x87,
        0x00, 0x00, 0x00, 0x04, 0x03, 0x00, 0x00, 0x01,
};

TEST(pcr_selection_parse)
{
    struct wd_tpm_pcr_selection sel;
    enum wd_tpm_reason why = WD_TPM_OK;
    CHECK_OK(wd_tpm_pcr_selection_parse(sel_two, sizeof(sel_two), &sel, &why));
    CHECK_EQ(sel.count, 2);
    CHECK_EQ(sel.banks[0].hash, WD_TPM_ALG_SHA256);
    CHECK_EQ(sel.banks[0].size_of_select, 3);
    CHECK_EQ(sel.banks[1].hash, WD_TPM_ALG_SHA1);
    unsigned want0[] = {0, 1, 2, 7};
    for (unsigned p = 0; p < WD_TPM_PCR_MAX; p++) {
        bool in = false;
        for (size_t i = 0; i < WD_ARRAY_LEN(want0); i++) {
            in = in || want0[i] == p;
        }
        CHECK_EQ(wd_tpm_pcr_selected(&sel.banks[0], p), in);
        CHECK_EQ(wd_tpm_pcr_selected(&sel.banks[1], p), p == 16);
    }
    CHECK(!wd_tpm_pcr_selected(NULL, 0));
    size_t count = 0, bytes = 0;
    wd_tpm_pcr_selection_size(&sel, &count, &bytes);
    CHECK_EQ(count, 5);
    CHECK_EQ(bytes, 4 * 32 + 20);
    struct wd_buf b;
    wd_buf_init(&b, 1024);
    CHECK_OK(wd_tpm_pcr_selection_marshal(&sel, &b));
    CHECK_EQ(b.len, sizeof(sel_two));
    CHECK_MEM(b.p, sel_two, sizeof(sel_two));
    wd_buf_cleanup(&b);
    CHECK_EQ(sweep(parse_sel, sel_two, sizeof(sel_two)), 0);

    /* empty selection: valid, selects nothing */
    static const uint8_t none[] = {0, 0, 0, 0};
    CHECK_OK(wd_tpm_pcr_selection_parse(none, sizeof(none), &sel, &why));
    wd_tpm_pcr_selection_size(&sel, &count, &bytes);
    CHECK_EQ(count, 0);
    CHECK_EQ(bytes, 0);
    /* 32 PCRs (sizeofSelect 4) */
    static const uint8_t four[] = {0, 0, 0, 1, 0x00, 0x0c, 4, 0, 0, 0, 0x80};
    CHECK_OK(wd_tpm_pcr_selection_parse(four, sizeof(four), &sel, &why));
    CHECK(wd_tpm_pcr_selected(&sel.banks[0], 31));
    wd_tpm_pcr_selection_size(&sel, &count, &bytes);
    CHECK_EQ(bytes, 48);
}

TEST(pcr_selection_negative)
{
    struct wd_tpm_pcr_selection sel;
    enum wd_tpm_reason why = WD_TPM_OK;
    static const struct {
        uint8_t b[24];
        size_t n;
        enum wd_tpm_reason r;
    } bad[] = {
            /* count 5: more banks than hashes */
            {{0, 0, 0, 5}, 4, WD_TPM_R_PCR_BANKS},
            /* count 2^32-1 with little data: the bound comes first */
            {{0xff, 0xff, 0xff, 0xff, 0, 0x0b}, 6, WD_TPM_R_PCR_BANKS},
            /* SM3_256 bank */
            {{0, 0, 0, 1, 0x00, 0x12, 3, 0xff, 0xff, 0xff}, 10, WD_TPM_R_HASH_ALG},
            /* TPM_ALG_NULL bank */
            {{0, 0, 0, 1, 0x00, 0x10, 3, 0xff, 0xff, 0xff}, 10, WD_TPM_R_HASH_ALG},
            /* sha256 twice */
            {{0, 0, 0, 2, 0, 0x0b, 3, 1, 0, 0, 0, 0x0b, 3, 2, 0, 0}, 16, WD_TPM_R_PCR_BANK_DUP},
            /* sizeofSelect 2 (below PCR_SELECT_MIN) and 5 (above PCR_SELECT_MAX) and 0 */
            {{0, 0, 0, 1, 0, 0x0b, 2, 0xff, 0xff}, 9, WD_TPM_R_PCR_SELECT_SIZE},
            {{0, 0, 0, 1, 0, 0x0b, 5, 1, 2, 3, 4, 5}, 12, WD_TPM_R_PCR_SELECT_SIZE},
            {{0, 0, 0, 1, 0, 0x0b, 0}, 7, WD_TPM_R_PCR_SELECT_SIZE},
            /* sizeofSelect 255 with short data: bound first */
            {{0, 0, 0, 1, 0, 0x0b, 255, 0}, 8, WD_TPM_R_PCR_SELECT_SIZE},
            /* trailing byte */
            {{0, 0, 0, 0, 0}, 5, WD_TPM_R_TRAILING},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(bad); i++) {
        uint8_t *c = copy_of(bad[i].b, bad[i].n, 0, 0);
        CHECK(c != NULL);
        why = WD_TPM_OK;
        int rc = wd_tpm_pcr_selection_parse(c, bad[i].n, &sel, &why);
        wd_free(c);
        if (rc != WD_EPROTO || why != bad[i].r) {
            printf("case %zu: rc %d reason %s\n", i, rc, wd_tpm_reason_name(why));
        }
        CHECK_ERR(rc, WD_EPROTO);
        CHECK_EQ(why, bad[i].r);
    }
    CHECK_ERR(wd_tpm_pcr_selection_parse(sel_two, sizeof(sel_two), NULL, &why), WD_EINVAL);
    CHECK_ERR(wd_tpm_pcr_selection_parse(NULL, 4, &sel, &why), WD_EINVAL);
}

/* ---- TPMS_ATTEST ---- */

/* Marshal a, parse it again; returns the parse result. */
static int reparse_attest(const struct wd_tpm_attest *a, enum wd_tpm_reason *why)
{
    struct wd_buf b;
    wd_buf_init(&b, 4096);
    struct wd_tpm_attest out;
    int rc = wd_tpm_attest_marshal(a, &b);
    if (rc == WD_OK) {
        rc = wd_tpm_attest_parse(b.p, b.len, &out, why);
    }
    wd_buf_cleanup(&b);
    return rc;
}

TEST(attest_parse_swtpm)
{
    struct wd_buf msg, nonce, out;
    struct wd_tpm_attest a;
    enum wd_tpm_reason why = WD_TPM_OK;
    wd_buf_init(&out, 4096);
    CHECK_OK(load(DATA "q1.msg", &msg));
    CHECK_OK(load(DATA "q1.nonce", &nonce));
    CHECK_OK(wd_tpm_attest_parse(msg.p, msg.len, &a, &why));
    CHECK_EQ(why, WD_TPM_OK);
    CHECK_EQ(a.magic, WD_TPM_GENERATED_VALUE);
    CHECK_EQ(a.type, WD_TPM_ST_ATTEST_QUOTE);
    CHECK_EQ(a.qualified_signer.len, 34);
    CHECK_EQ(a.extra_data.len, nonce.len);
    CHECK_MEM(a.extra_data.p, nonce.p, nonce.len);
    CHECK(a.clock.clock > 0);
    CHECK(a.clock.safe);
    CHECK_EQ(a.pcr_select.count, 1);
    CHECK_EQ(a.pcr_select.banks[0].hash, WD_TPM_ALG_SHA256);
    CHECK_EQ(a.pcr_select.banks[0].select[0], 0x87);
    CHECK_EQ(a.pcr_digest.len, 32);
    /* canonical: marshalling the parse gives the input back */
    CHECK_OK(wd_tpm_attest_marshal(&a, &out));
    CHECK_EQ(out.len, msg.len);
    CHECK_MEM(out.p, msg.p, msg.len);
    size_t bad = sweep(parse_attest, msg.p, msg.len);
    CHECK_EQ(bad, 0);
    wd_buf_cleanup(&out);
    wd_buf_cleanup(&msg);
    wd_buf_cleanup(&nonce);
}

TEST(attest_negative)
{
    struct wd_buf msg;
    struct wd_tpm_attest a, m;
    enum wd_tpm_reason why = WD_TPM_OK;
    CHECK_OK(load(DATA "q1.msg", &msg));
    CHECK_OK(wd_tpm_attest_parse(msg.p, msg.len, &a, NULL));
    uint8_t big[80];
    memset(big, 0x11, sizeof(big));
    big[0] = 0x00;
    big[1] = 0x0b;

    m = a;
    m.magic = 0xff544348;
    CHECK_ERR(reparse_attest(&m, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_MAGIC);
    m = a;
    m.type = 0x8017; /* TPM_ST_ATTEST_CERTIFY */
    CHECK_ERR(reparse_attest(&m, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_ATTEST_TYPE);
    /* qualifiedSigner: too long, malformed, a handle (accepted), empty */
    m = a;
    m.qualified_signer.p = big;
    m.qualified_signer.len = 67;
    CHECK_ERR(reparse_attest(&m, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_SIZE);
    m.qualified_signer.len = 33;
    CHECK_ERR(reparse_attest(&m, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_NAME);
    m.qualified_signer.len = 4;
    CHECK_OK(reparse_attest(&m, &why));
    m.qualified_signer.len = 0;
    CHECK_ERR(reparse_attest(&m, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_NAME);
    /* extraData: 66 is the TPM2B_DATA maximum */
    m = a;
    m.extra_data.p = big;
    m.extra_data.len = 66;
    CHECK_OK(reparse_attest(&m, &why));
    m.extra_data.len = 67;
    CHECK_ERR(reparse_attest(&m, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_SIZE);
    m.extra_data.len = 0;
    CHECK_OK(reparse_attest(&m, &why));
    /* pcrDigest sizes */
    m = a;
    m.pcr_digest.p = big;
    static const size_t bad_digest[] = {0, 1, 31, 33, 65};
    for (size_t i = 0; i < WD_ARRAY_LEN(bad_digest); i++) {
        m.pcr_digest.len = bad_digest[i];
        CHECK_ERR(reparse_attest(&m, &why), WD_EPROTO);
        CHECK_EQ(why, WD_TPM_R_SIZE);
    }
    m.pcr_digest.len = 48;
    CHECK_OK(reparse_attest(&m, &why));
    /* a bad selection inside the quote info */
    m = a;
    m.pcr_select.banks[0].hash = 0x0012;
    CHECK_ERR(reparse_attest(&m, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_HASH_ALG);
    /* safe must be 0 or 1: patch the byte in place */
    uint8_t *c = copy_of(msg.p, msg.len, 0, 0);
    CHECK(c != NULL);
    size_t safe_off = 4 + 2 + 2 + a.qualified_signer.len + 2 + a.extra_data.len + 8 + 4 + 4;
    CHECK_EQ(c[safe_off], 1);
    c[safe_off] = 2;
    int rc = wd_tpm_attest_parse(c, msg.len, &m, &why);
    c[safe_off] = 0;
    int rc0 = wd_tpm_attest_parse(c, msg.len, &m, NULL);
    wd_free(c);
    CHECK_ERR(rc, WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_VALUE);
    CHECK_OK(rc0);
    CHECK(!m.clock.safe);
    CHECK_ERR(wd_tpm_attest_parse(msg.p, msg.len, NULL, &why), WD_EINVAL);
    wd_buf_cleanup(&msg);
}

/* ---- TPMT_SIGNATURE ---- */

TEST(signature_parse)
{
    static const char *const files[] = {DATA "q1.sig", DATA "qp.sig", DATA "qe.sig"};
    static const uint16_t algs[] = {WD_TPM_ALG_RSASSA, WD_TPM_ALG_RSAPSS, WD_TPM_ALG_ECDSA};
    for (size_t i = 0; i < WD_ARRAY_LEN(files); i++) {
        struct wd_buf b, out;
        struct wd_tpm_signature s;
        wd_buf_init(&out, 4096);
        CHECK_OK(load(files[i], &b));
        CHECK_OK(wd_tpm_signature_parse(b.p, b.len, &s, NULL));
        CHECK_EQ(s.sig_alg, algs[i]);
        CHECK_EQ(s.hash, WD_TPM_ALG_SHA256);
        if (algs[i] == WD_TPM_ALG_ECDSA) {
            CHECK(s.ecc_r.len > 0 && s.ecc_r.len <= 32 && s.ecc_s.len > 0 && s.ecc_s.len <= 32);
            CHECK_EQ(s.rsa.len, 0);
        } else {
            CHECK_EQ(s.rsa.len, 256);
        }
        CHECK_OK(wd_tpm_signature_marshal(&s, &out));
        CHECK_EQ(out.len, b.len);
        CHECK_MEM(out.p, b.p, b.len);
        CHECK_EQ(sweep(parse_sig, b.p, b.len), 0);
        wd_buf_cleanup(&out);
        wd_buf_cleanup(&b);
    }
}

static int reparse_sig(const struct wd_tpm_signature *s, enum wd_tpm_reason *why)
{
    struct wd_buf b;
    wd_buf_init(&b, 4096);
    struct wd_tpm_signature out;
    int rc = wd_tpm_signature_marshal(s, &b);
    if (rc == WD_OK) {
        rc = wd_tpm_signature_parse(b.p, b.len, &out, why);
    }
    wd_buf_cleanup(&b);
    return rc;
}

TEST(signature_negative)
{
    uint8_t big[600];
    memset(big, 0x5a, sizeof(big));
    struct wd_tpm_signature s = {WD_TPM_ALG_RSASSA, WD_TPM_ALG_SHA256, {big, 256}, {0}, {0}};
    enum wd_tpm_reason why = WD_TPM_OK;
    CHECK_OK(reparse_sig(&s, &why));
    static const uint16_t bad_algs[] = {
            0x001A /* ECDAA */,
            0x001B /* SM2 */,
            0x001C /* ECSCHNORR */,
            WD_TPM_ALG_HMAC,
            WD_TPM_ALG_NULL,
            WD_TPM_ALG_RSAES,
            0x0000,
            0xffff,
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(bad_algs); i++) {
        s.sig_alg = bad_algs[i];
        CHECK_ERR(reparse_sig(&s, &why), WD_EPROTO);
        CHECK_EQ(why, WD_TPM_R_SIG_ALG);
    }
    s.sig_alg = WD_TPM_ALG_RSAPSS;
    static const uint16_t bad_hashes[] = {WD_TPM_ALG_SHA1, 0x0012, WD_TPM_ALG_NULL, 0x0027};
    for (size_t i = 0; i < WD_ARRAY_LEN(bad_hashes); i++) {
        s.hash = bad_hashes[i];
        CHECK_ERR(reparse_sig(&s, &why), WD_EPROTO);
        CHECK_EQ(why, WD_TPM_R_HASH_ALG);
    }
    s.hash = WD_TPM_ALG_SHA512;
    s.rsa.len = 512;
    CHECK_OK(reparse_sig(&s, &why));
    s.rsa.len = 513;
    CHECK_ERR(reparse_sig(&s, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_SIZE);
    s.rsa.len = 0;
    CHECK_ERR(reparse_sig(&s, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_SIZE);
    struct wd_tpm_signature e = {WD_TPM_ALG_ECDSA, WD_TPM_ALG_SHA384, {0}, {big, 66}, {big, 66}};
    CHECK_OK(reparse_sig(&e, &why));
    e.ecc_r.len = 67;
    CHECK_ERR(reparse_sig(&e, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_SIZE);
    e.ecc_r.len = 32;
    e.ecc_s.len = 0;
    CHECK_ERR(reparse_sig(&e, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_SIZE);
    struct wd_tpm_signature out;
    CHECK_ERR(wd_tpm_signature_parse(big, 4, NULL, &why), WD_EINVAL);
    CHECK_ERR(wd_tpm_signature_parse(NULL, 4, &out, &why), WD_EINVAL);
}

/* ---- TPMT_PUBLIC ---- */

TEST(public_parse_swtpm)
{
    static const struct {
        const char *file;
        uint16_t type, scheme, curve_or_bits;
        uint32_t attrs;
    } keys[] = {
            {DATA "ak.pub", WD_TPM_ALG_RSA, WD_TPM_ALG_RSASSA, 2048, 0x00050072},
            {DATA "akpss.pub", WD_TPM_ALG_RSA, WD_TPM_ALG_RSAPSS, 2048, 0x00050072},
            {DATA "akecc.pub", WD_TPM_ALG_ECC, WD_TPM_ALG_ECDSA, WD_TPM_ECC_NIST_P256, 0x00050072},
            {DATA "ek.pub", WD_TPM_ALG_RSA, WD_TPM_ALG_NULL, 2048, 0x000300b2},
            {DATA "ekecc.pub", WD_TPM_ALG_ECC, WD_TPM_ALG_NULL, WD_TPM_ECC_NIST_P256, 0x000300b2},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(keys); i++) {
        struct wd_buf b, out;
        struct wd_tpm_public pub;
        enum wd_tpm_reason why = WD_TPM_OK;
        wd_buf_init(&out, 4096);
        CHECK_OK(load(keys[i].file, &b));
        CHECK_OK(wd_tpm_public_parse_2b(b.p, b.len, &pub, &why));
        CHECK_EQ(pub.type, keys[i].type);
        CHECK_EQ(pub.scheme, keys[i].scheme);
        CHECK_EQ(pub.attributes, keys[i].attrs);
        CHECK_EQ(pub.name_alg, WD_TPM_ALG_SHA256);
        if (pub.type == WD_TPM_ALG_RSA) {
            CHECK_EQ(pub.rsa_bits, keys[i].curve_or_bits);
            CHECK_EQ(pub.rsa_n.len, 256);
            CHECK_EQ(pub.rsa_exponent, 0);
        } else {
            CHECK_EQ(pub.curve, keys[i].curve_or_bits);
            CHECK_EQ(pub.kdf, WD_TPM_ALG_NULL);
            CHECK_EQ(pub.ecc_x.len, 32);
            CHECK_EQ(pub.ecc_y.len, 32);
        }
        if (keys[i].scheme == WD_TPM_ALG_NULL) {
            /* EK template: AES-128-CFB, 32-byte policy */
            CHECK_EQ(pub.sym_alg, WD_TPM_ALG_AES);
            CHECK_EQ(pub.sym_bits, 128);
            CHECK_EQ(pub.sym_mode, WD_TPM_ALG_CFB);
            CHECK_EQ(pub.auth_policy.len, 32);
        } else {
            CHECK_EQ(pub.sym_alg, WD_TPM_ALG_NULL);
            CHECK_EQ(pub.scheme_hash, WD_TPM_ALG_SHA256);
        }
        CHECK_EQ(pub.raw.len, b.len - 2);
        CHECK(pub.raw.p == b.p + 2);
        CHECK_OK(wd_tpm_public_marshal(&pub, &out));
        CHECK_EQ(out.len, b.len - 2);
        CHECK_MEM(out.p, b.p + 2, out.len);
        CHECK_EQ(sweep(parse_pub, b.p + 2, b.len - 2), 0);
        CHECK_EQ(sweep(parse_pub2b, b.p, b.len), 0);
        wd_buf_cleanup(&out);
        wd_buf_cleanup(&b);
    }
}

static int reparse_pub(const struct wd_tpm_public *p, enum wd_tpm_reason *why)
{
    struct wd_buf b;
    wd_buf_init(&b, 4096);
    struct wd_tpm_public out;
    int rc = wd_tpm_public_marshal(p, &b);
    if (rc == WD_OK) {
        rc = wd_tpm_public_parse(b.p, b.len, &out, why);
    }
    wd_buf_cleanup(&b);
    return rc;
}

#define CHECK_PUB_REASON(pub, reason)                      \
    do {                                                   \
        enum wd_tpm_reason w_ = WD_TPM_OK;                 \
        CHECK_ERR(reparse_pub((pub), &w_), WD_EPROTO);     \
        if (w_ != (reason)) {                              \
            printf("reason %s\n", wd_tpm_reason_name(w_)); \
        }                                                  \
        CHECK_EQ(w_, (reason));                            \
    } while (0)

TEST(public_negative)
{
    struct wd_buf rb, eb;
    struct wd_tpm_public rsa, ecc, m;
    enum wd_tpm_reason why = WD_TPM_OK;
    CHECK_OK(load_pub(DATA "ek.pub", &rb, &rsa));
    CHECK_OK(load_pub(DATA "akecc.pub", &eb, &ecc));
    uint8_t big[600];
    memset(big, 0x77, sizeof(big));

    m = rsa;
    m.type = WD_TPM_ALG_KEYEDHASH;
    CHECK_PUB_REASON(&m, WD_TPM_R_KEY_TYPE);
    m.type = WD_TPM_ALG_SYMCIPHER;
    CHECK_PUB_REASON(&m, WD_TPM_R_KEY_TYPE);
    m = rsa;
    m.name_alg = WD_TPM_ALG_NULL;
    CHECK_PUB_REASON(&m, WD_TPM_R_HASH_ALG);
    m.name_alg = 0x0012;
    CHECK_PUB_REASON(&m, WD_TPM_R_HASH_ALG);
    static const uint32_t reserved[] = {1u << 0,  1u << 3,  1u << 8,  1u << 9,
                                        1u << 12, 1u << 15, 1u << 20, 1u << 31};
    for (size_t i = 0; i < WD_ARRAY_LEN(reserved); i++) {
        m = rsa;
        m.attributes |= reserved[i];
        CHECK_PUB_REASON(&m, WD_TPM_R_ATTRIBUTES);
    }
    m = rsa;
    m.auth_policy.len = 31;
    CHECK_PUB_REASON(&m, WD_TPM_R_SIZE);
    m.auth_policy.p = big;
    m.auth_policy.len = 65;
    CHECK_PUB_REASON(&m, WD_TPM_R_SIZE);
    m.auth_policy.len = 0;
    CHECK_OK(reparse_pub(&m, &why));
    m = rsa;
    m.sym_alg = 0x0013; /* SM4 */
    CHECK_PUB_REASON(&m, WD_TPM_R_SYMMETRIC);
    m = rsa;
    m.sym_bits = 64;
    CHECK_PUB_REASON(&m, WD_TPM_R_SYMMETRIC);
    m = rsa;
    m.sym_mode = 0x0045;
    CHECK_PUB_REASON(&m, WD_TPM_R_SYMMETRIC);
    m.sym_mode = WD_TPM_ALG_NULL;
    CHECK_PUB_REASON(&m, WD_TPM_R_SYMMETRIC);
    m = rsa;
    m.sym_bits = 256;
    m.sym_mode = WD_TPM_ALG_CBC;
    CHECK_OK(reparse_pub(&m, &why));
    /* RSA schemes */
    m = rsa;
    m.scheme = WD_TPM_ALG_ECDSA;
    m.scheme_hash = WD_TPM_ALG_SHA256;
    CHECK_PUB_REASON(&m, WD_TPM_R_SCHEME);
    m.scheme = WD_TPM_ALG_OAEP;
    CHECK_OK(reparse_pub(&m, &why));
    m.scheme_hash = 0x0012;
    CHECK_PUB_REASON(&m, WD_TPM_R_HASH_ALG);
    m.scheme = WD_TPM_ALG_RSAES;
    CHECK_OK(reparse_pub(&m, &why));
    m = rsa;
    m.rsa_bits = 1024;
    CHECK_PUB_REASON(&m, WD_TPM_R_KEY_BITS);
    m.rsa_bits = 2047;
    CHECK_PUB_REASON(&m, WD_TPM_R_KEY_BITS);
    m = rsa;
    m.rsa_n.len = 255;
    CHECK_PUB_REASON(&m, WD_TPM_R_SIZE);
    m.rsa_n.len = 0;
    CHECK_PUB_REASON(&m, WD_TPM_R_SIZE);
    m.rsa_n.p = big;
    m.rsa_n.len = 384;
    m.rsa_bits = 3072;
    CHECK_OK(reparse_pub(&m, &why));
    /* ECC schemes, curves, KDFs, coordinates */
    m = ecc;
    m.scheme = 0x001A; /* ECDAA */
    CHECK_PUB_REASON(&m, WD_TPM_R_SCHEME);
    m.scheme = WD_TPM_ALG_RSASSA;
    CHECK_PUB_REASON(&m, WD_TPM_R_SCHEME);
    m.scheme = WD_TPM_ALG_ECDH;
    CHECK_OK(reparse_pub(&m, &why));
    m = ecc;
    m.curve = 0x0010; /* BN P256 */
    CHECK_PUB_REASON(&m, WD_TPM_R_CURVE);
    m.curve = 0x0020; /* SM2 P256 */
    CHECK_PUB_REASON(&m, WD_TPM_R_CURVE);
    m = ecc;
    m.kdf = 0x0030;
    m.kdf_hash = WD_TPM_ALG_SHA256;
    CHECK_PUB_REASON(&m, WD_TPM_R_KDF);
    m.kdf = WD_TPM_ALG_KDF1_SP800_108;
    CHECK_OK(reparse_pub(&m, &why));
    m.kdf_hash = WD_TPM_ALG_NULL;
    CHECK_PUB_REASON(&m, WD_TPM_R_HASH_ALG);
    m = ecc;
    m.ecc_x.p = big;
    m.ecc_x.len = 33;
    CHECK_PUB_REASON(&m, WD_TPM_R_SIZE);
    m.ecc_x.len = 0;
    CHECK_PUB_REASON(&m, WD_TPM_R_SIZE);
    m = ecc;
    m.curve = WD_TPM_ECC_NIST_P521;
    m.ecc_x.p = big;
    m.ecc_x.len = 66;
    CHECK_OK(reparse_pub(&m, &why));
    /* TPM2B_PUBLIC: wrong outer size */
    uint8_t *c = copy_of(rb.p, rb.len, 0, 0);
    CHECK(c != NULL);
    c[1]--; /* size one short: the last byte trails */
    int rc1 = wd_tpm_public_parse_2b(c, rb.len, &m, &why);
    enum wd_tpm_reason w1 = why;
    c[0] = 0x04; /* size over WD_TPM_PUBLIC_MAX */
    int rc2 = wd_tpm_public_parse_2b(c, rb.len, &m, &why);
    wd_free(c);
    CHECK_ERR(rc1, WD_EPROTO);
    CHECK_EQ(w1, WD_TPM_R_TRAILING);
    CHECK_ERR(rc2, WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_SIZE);
    CHECK_ERR(wd_tpm_public_parse(rb.p, rb.len, NULL, &why), WD_EINVAL);
    wd_buf_cleanup(&rb);
    wd_buf_cleanup(&eb);
}

/* ---- keys: OpenSSL conversion, Names, roles ---- */

TEST(public_keys_and_names)
{
    static const char *const pubs[] = {DATA "ak.pub", DATA "akpss.pub", DATA "akecc.pub"};
    static const char *const names[] = {DATA "ak.name", DATA "akpss.name", DATA "akecc.name"};
    for (size_t i = 0; i < WD_ARRAY_LEN(pubs); i++) {
        struct wd_buf b, n;
        struct wd_tpm_public pub;
        struct wd_tpm_name name;
        EVP_PKEY *k = NULL;
        CHECK_OK(load_pub(pubs[i], &b, &pub));
        CHECK_OK(load(names[i], &n));
        CHECK_OK(wd_tpm_public_name(&pub, &name));
        CHECK_EQ(name.len, n.len);
        CHECK_MEM(name.b, n.p, n.len);
        CHECK_OK(wd_tpm_public_to_pkey(&pub, &k, NULL));
        CHECK_EQ(EVP_PKEY_get_base_id(k), pub.type == WD_TPM_ALG_RSA ? EVP_PKEY_RSA : EVP_PKEY_EC);
        CHECK_EQ(EVP_PKEY_get_bits(k), pub.type == WD_TPM_ALG_RSA ? 2048 : 256);
        EVP_PKEY_free(k);
        wd_buf_cleanup(&b);
        wd_buf_cleanup(&n);
    }
    struct wd_tpm_public empty;
    struct wd_tpm_name nm;
    memset(&empty, 0, sizeof(empty));
    CHECK_ERR(wd_tpm_public_name(&empty, &nm), WD_EINVAL);
}

TEST(public_keys_invalid)
{
    struct wd_buf rb, eb;
    struct wd_tpm_public rsa, ecc, m;
    enum wd_tpm_reason why = WD_TPM_OK;
    EVP_PKEY *k = NULL;
    CHECK_OK(load_pub(DATA "ak.pub", &rb, &rsa));
    CHECK_OK(load_pub(DATA "akecc.pub", &eb, &ecc));
    uint8_t n[256], y[32];
    /* even exponent, exponent 1 */
    m = rsa;
    m.rsa_exponent = 65536;
    CHECK_ERR(wd_tpm_public_to_pkey(&m, &k, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_KEY_INVALID);
    m.rsa_exponent = 1;
    CHECK_ERR(wd_tpm_public_to_pkey(&m, &k, &why), WD_EPROTO);
    m.rsa_exponent = 3;
    CHECK_OK(wd_tpm_public_to_pkey(&m, &k, &why));
    EVP_PKEY_free(k);
    k = NULL;
    /* a modulus with its top bit clear is not a 2048-bit key; an even one is no modulus */
    memcpy(n, rsa.rsa_n.p, sizeof(n));
    n[0] = 0x01;
    m = rsa;
    m.rsa_n.p = n;
    CHECK_ERR(wd_tpm_public_to_pkey(&m, &k, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_KEY_INVALID);
    memcpy(n, rsa.rsa_n.p, sizeof(n));
    n[255] &= 0xfe;
    CHECK_ERR(wd_tpm_public_to_pkey(&m, &k, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_KEY_INVALID);
    /* a point off the curve */
    memcpy(y, ecc.ecc_y.p, sizeof(y));
    y[31] ^= 1;
    m = ecc;
    m.ecc_y.p = y;
    CHECK_ERR(wd_tpm_public_to_pkey(&m, &k, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_KEY_INVALID);
    CHECK(k == NULL);
    /* the point at infinity cannot even be written; x = y = 0 is not on P-256 */
    static const uint8_t zero[32];
    m.ecc_x.p = zero;
    m.ecc_y.p = zero;
    CHECK_ERR(wd_tpm_public_to_pkey(&m, &k, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_KEY_INVALID);
    m = ecc;
    m.type = WD_TPM_ALG_KEYEDHASH;
    CHECK_ERR(wd_tpm_public_to_pkey(&m, &k, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_KEY_TYPE);
    CHECK_ERR(wd_tpm_public_to_pkey(NULL, &k, &why), WD_EINVAL);
    wd_buf_cleanup(&rb);
    wd_buf_cleanup(&eb);
}

TEST(key_roles)
{
    struct wd_buf b1, b2, b3, b4;
    struct wd_tpm_public ak, akecc, ek, ekecc, m;
    enum wd_tpm_reason why = WD_TPM_OK;
    CHECK_OK(load_pub(DATA "ak.pub", &b1, &ak));
    CHECK_OK(load_pub(DATA "akecc.pub", &b2, &akecc));
    CHECK_OK(load_pub(DATA "ek.pub", &b3, &ek));
    CHECK_OK(load_pub(DATA "ekecc.pub", &b4, &ekecc));
    CHECK_OK(wd_tpm_public_check_ak(&ak, &why));
    CHECK_OK(wd_tpm_public_check_ak(&akecc, &why));
    CHECK_OK(wd_tpm_public_check_ek(&ek, &why));
    CHECK_OK(wd_tpm_public_check_ek(&ekecc, &why));
    CHECK_ERR(wd_tpm_public_check_ak(&ek, &why), WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_AK_ATTRIBUTES);
    CHECK_ERR(wd_tpm_public_check_ek(&ak, &why), WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_EK_ATTRIBUTES);
    /* AK: each required attribute, each forbidden one, scheme and hash */
    static const uint32_t need_ak[] = {WD_TPMA_RESTRICTED, WD_TPMA_SIGN_ENCRYPT, WD_TPMA_FIXED_TPM,
                                       WD_TPMA_FIXED_PARENT, WD_TPMA_SENSITIVE_DATA_ORIGIN};
    for (size_t i = 0; i < WD_ARRAY_LEN(need_ak); i++) {
        m = ak;
        m.attributes &= ~need_ak[i];
        CHECK_ERR(wd_tpm_public_check_ak(&m, &why), WD_EDENIED);
    }
    m = ak;
    m.attributes |= WD_TPMA_DECRYPT;
    CHECK_ERR(wd_tpm_public_check_ak(&m, &why), WD_EDENIED);
    m = ak;
    m.attributes |= WD_TPMA_X509_SIGN;
    CHECK_ERR(wd_tpm_public_check_ak(&m, &why), WD_EDENIED);
    m = ak;
    m.scheme_hash = WD_TPM_ALG_SHA1;
    CHECK_ERR(wd_tpm_public_check_ak(&m, &why), WD_EDENIED);
    m = ak;
    m.scheme = WD_TPM_ALG_NULL;
    CHECK_ERR(wd_tpm_public_check_ak(&m, &why), WD_EDENIED);
    m = ak;
    m.scheme = WD_TPM_ALG_OAEP;
    CHECK_ERR(wd_tpm_public_check_ak(&m, &why), WD_EDENIED);
    m = ak;
    m.name_alg = WD_TPM_ALG_SHA1;
    CHECK_ERR(wd_tpm_public_check_ak(&m, &why), WD_EDENIED);
    m = akecc;
    m.scheme = WD_TPM_ALG_ECDH;
    CHECK_ERR(wd_tpm_public_check_ak(&m, &why), WD_EDENIED);
    m = ak;
    m.scheme = WD_TPM_ALG_RSAPSS;
    m.scheme_hash = WD_TPM_ALG_SHA384;
    CHECK_OK(wd_tpm_public_check_ak(&m, &why));
    /* EK */
    static const uint32_t need_ek[] = {WD_TPMA_RESTRICTED, WD_TPMA_DECRYPT, WD_TPMA_FIXED_TPM,
                                       WD_TPMA_FIXED_PARENT};
    for (size_t i = 0; i < WD_ARRAY_LEN(need_ek); i++) {
        m = ek;
        m.attributes &= ~need_ek[i];
        CHECK_ERR(wd_tpm_public_check_ek(&m, &why), WD_EDENIED);
        CHECK_EQ(why, WD_TPM_R_EK_ATTRIBUTES);
    }
    m = ek;
    m.attributes |= WD_TPMA_SIGN_ENCRYPT;
    CHECK_ERR(wd_tpm_public_check_ek(&m, &why), WD_EDENIED);
    m = ek;
    m.sym_alg = WD_TPM_ALG_NULL;
    CHECK_ERR(wd_tpm_public_check_ek(&m, &why), WD_EDENIED);
    m = ek;
    m.sym_mode = WD_TPM_ALG_CBC;
    CHECK_ERR(wd_tpm_public_check_ek(&m, &why), WD_EDENIED);
    m = ek;
    m.scheme = WD_TPM_ALG_OAEP;
    CHECK_ERR(wd_tpm_public_check_ek(&m, &why), WD_EDENIED);
    m = ek;
    m.name_alg = WD_TPM_ALG_SHA1;
    CHECK_ERR(wd_tpm_public_check_ek(&m, &why), WD_EDENIED);
    m = ekecc;
    m.kdf = WD_TPM_ALG_KDF1_SP800_108;
    CHECK_ERR(wd_tpm_public_check_ek(&m, &why), WD_EDENIED);
    m = ek;
    m.sym_bits = 256;
    CHECK_OK(wd_tpm_public_check_ek(&m, &why));
    wd_buf_cleanup(&b1);
    wd_buf_cleanup(&b2);
    wd_buf_cleanup(&b3);
    wd_buf_cleanup(&b4);
}

/* ---- quote verification: real swtpm quotes ---- */

/* One swtpm quote as files: AK, message, signature, PCR values, nonce. */
struct quote {
    struct wd_buf akb, msg, sig, pcrs, nonce;
    struct wd_tpm_public ak;
    EVP_PKEY *key;
};

static int quote_load(struct quote *q, const char *ak, const char *stem)
{
    char path[256];
    memset(q, 0, sizeof(*q));
    WD_TRY(load_pub(ak, &q->akb, &q->ak));
    (void)snprintf(path, sizeof(path), DATA "%s.msg", stem);
    WD_TRY(load(path, &q->msg));
    (void)snprintf(path, sizeof(path), DATA "%s.sig", stem);
    WD_TRY(load(path, &q->sig));
    (void)snprintf(path, sizeof(path), DATA "%s.pcrs", stem);
    WD_TRY(load(path, &q->pcrs));
    (void)snprintf(path, sizeof(path), DATA "%s.nonce", stem);
    WD_TRY(load(path, &q->nonce));
    return wd_tpm_public_to_pkey(&q->ak, &q->key, NULL);
}

static void quote_free(struct quote *q)
{
    EVP_PKEY_free(q->key);
    wd_buf_cleanup(&q->akb);
    wd_buf_cleanup(&q->msg);
    wd_buf_cleanup(&q->sig);
    wd_buf_cleanup(&q->pcrs);
    wd_buf_cleanup(&q->nonce);
}

/* Rules allowing exactly the sha256 values of pcrs[] as quoted (in order) in vals. */
static void rules_from(struct wd_tpm_pcr_rule *rules, const unsigned *pcrs, size_t n,
                       const uint8_t *vals)
{
    for (size_t i = 0; i < n; i++) {
        rules[i].hash = WD_TPM_ALG_SHA256;
        rules[i].pcr = (uint8_t)pcrs[i];
        rules[i].values = vals + 32 * i;
        rules[i].n_values = 1;
    }
}

static const unsigned q_pcrs[] = {0, 1, 2, 7};

TEST(quote_swtpm_ok)
{
    struct quote q1, q2, q3, qp, qe;
    CHECK_OK(quote_load(&q1, DATA "ak.pub", "q1"));
    CHECK_OK(quote_load(&q2, DATA "ak.pub", "q2"));
    CHECK_OK(quote_load(&q3, DATA "ak.pub", "q3"));
    CHECK_OK(quote_load(&qp, DATA "akpss.pub", "qp"));
    CHECK_OK(quote_load(&qe, DATA "akecc.pub", "qe"));
    struct wd_tpm_pcr_rule rules[4];
    rules_from(rules, q_pcrs, 4, q1.pcrs.p);
    struct wd_tpm_pcr_policy pol = {rules, 4, true}, any = {NULL, 0, false};
    struct wd_tpm_quote_check chk = {q1.key, &q1.ak, 0, 0, sl(&q1.nonce), &pol, NULL};
    struct wd_tpm_attest a1, a2;
    enum wd_tpm_reason why = WD_TPM_R_SIG_INVALID;
    CHECK_OK(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), &a1, &why));
    CHECK_EQ(why, WD_TPM_OK);
    CHECK(a1.clock.clock > 0);
    /* the next quote after the first: clock moved on */
    chk.nonce = sl(&q2.nonce);
    chk.prev = &a1.clock;
    CHECK_OK(wd_tpm_quote_verify(&chk, sl(&q2.msg), sl(&q2.sig), sl(&q2.pcrs), &a2, &why));
    CHECK(a2.clock.clock > a1.clock.clock);
    CHECK_EQ(a2.clock.reset_count, a1.clock.reset_count);
    /* ... but not the first again after the second (a replay) */
    chk.nonce = sl(&q1.nonce);
    chk.prev = &a2.clock;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why),
              WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_CLOCK_BACKWARDS);
    /* q3 came after tpm2_pcrextend 7: the old values are refused, PCR 7's new one accepted */
    chk.nonce = sl(&q3.nonce);
    chk.prev = &a2.clock;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q3.msg), sl(&q3.sig), sl(&q3.pcrs), NULL, &why),
              WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_PCR_VALUE);
    uint8_t two[64];
    memcpy(two, q1.pcrs.p + 96, 32);
    memcpy(two + 32, q3.pcrs.p + 96, 32);
    rules[3].values = two;
    rules[3].n_values = 2;
    CHECK_OK(wd_tpm_quote_verify(&chk, sl(&q3.msg), sl(&q3.sig), sl(&q3.pcrs), NULL, &why));
    /* RSAPSS and ECDSA AKs */
    struct wd_tpm_quote_check cp = {qp.key, &qp.ak, 0, 0, sl(&qp.nonce), &any, NULL};
    CHECK_OK(wd_tpm_quote_verify(&cp, sl(&qp.msg), sl(&qp.sig), sl(&qp.pcrs), NULL, &why));
    struct wd_tpm_quote_check ce = {qe.key, &qe.ak, 0, 0, sl(&qe.nonce), &any, NULL};
    CHECK_OK(wd_tpm_quote_verify(&ce, sl(&qe.msg), sl(&qe.sig), sl(&qe.pcrs), NULL, &why));
    /* without the AK public area (only its key, as with an SPKI) */
    ce.ak_public = NULL;
    CHECK_OK(wd_tpm_quote_verify(&ce, sl(&qe.msg), sl(&qe.sig), sl(&qe.pcrs), NULL, &why));
    quote_free(&q1);
    quote_free(&q2);
    quote_free(&q3);
    quote_free(&qp);
    quote_free(&qe);
}

/* Verify q (with nonce and policy) after flipping one byte of msg, sig or pcrs. */
static int verify_flipped(struct quote *q, const struct wd_tpm_pcr_policy *pol, int which,
                          size_t off, enum wd_tpm_reason *why)
{
    struct wd_buf *b = which == 0 ? &q->msg : which == 1 ? &q->sig : &q->pcrs;
    struct wd_tpm_quote_check chk = {q->key, &q->ak, 0, 0, sl(&q->nonce), pol, NULL};
    b->p[off] ^= 0x01;
    int rc = wd_tpm_quote_verify(&chk, sl(&q->msg), sl(&q->sig), sl(&q->pcrs), NULL, why);
    b->p[off] ^= 0x01;
    return rc;
}

TEST(quote_swtpm_refusals)
{
    struct quote q1, qe;
    struct wd_buf ak2b;
    struct wd_tpm_public ak2;
    EVP_PKEY *k2 = NULL;
    CHECK_OK(quote_load(&q1, DATA "ak.pub", "q1"));
    CHECK_OK(quote_load(&qe, DATA "akecc.pub", "qe"));
    CHECK_OK(load_pub(DATA "ak2.pub", &ak2b, &ak2));
    CHECK_OK(wd_tpm_public_to_pkey(&ak2, &k2, NULL));
    struct wd_tpm_pcr_rule rules[5];
    rules_from(rules, q_pcrs, 4, q1.pcrs.p);
    struct wd_tpm_pcr_policy pol = {rules, 4, false};
    enum wd_tpm_reason why = WD_TPM_OK;
    /* every byte of the message and of the RSA signature value matters */
    for (size_t off = 0; off < q1.msg.len; off++) {
        CHECK_ERR(verify_flipped(&q1, &pol, 0, off, &why), WD_ECRYPTO);
        CHECK_EQ(why, WD_TPM_R_SIG_INVALID);
    }
    for (size_t off = 6; off < q1.sig.len; off++) {
        CHECK_ERR(verify_flipped(&q1, &pol, 1, off, &why), WD_ECRYPTO);
        CHECK_EQ(why, WD_TPM_R_SIG_INVALID);
    }
    /* the signature's header: algorithm, hash, size */
    CHECK_ERR(verify_flipped(&q1, &pol, 1, 1, &why), WD_EPROTO); /* 0x0015 RSAES */
    CHECK_EQ(why, WD_TPM_R_SIG_ALG);
    CHECK_ERR(verify_flipped(&q1, &pol, 1, 3, &why), WD_EPROTO); /* 0x000a */
    CHECK_EQ(why, WD_TPM_R_HASH_ALG);
    CHECK_ERR(verify_flipped(&q1, &pol, 1, 5, &why), WD_EPROTO); /* size 257 */
    CHECK_EQ(why, WD_TPM_R_TRUNCATED);
    /* every PCR value byte enters the digest */
    for (size_t off = 0; off < q1.pcrs.len; off++) {
        CHECK_ERR(verify_flipped(&q1, &pol, 2, off, &why), WD_EDENIED);
        CHECK_EQ(why, WD_TPM_R_PCR_DIGEST);
    }
    /* ECDSA: r and s */
    struct wd_tpm_pcr_policy any = {NULL, 0, false};
    for (size_t off = 6; off < qe.sig.len; off++) {
        if (off == 6 + 32 || off == 6 + 33) {
            continue; /* s's size field */
        }
        CHECK_ERR(verify_flipped(&qe, &any, 1, off, &why), WD_ECRYPTO);
        CHECK_EQ(why, WD_TPM_R_SIG_INVALID);
    }
    struct wd_tpm_quote_check chk = {q1.key, &q1.ak, 0, 0, sl(&q1.nonce), &pol, NULL};
    /* another AK of the same kind */
    chk.ak_key = k2;
    chk.ak_public = &ak2;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why),
              WD_ECRYPTO);
    CHECK_EQ(why, WD_TPM_R_SIG_INVALID);
    /* an ECC AK for an RSA signature, and the other way round */
    chk.ak_key = qe.key;
    chk.ak_public = NULL;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why),
              WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_SIG_MISMATCH);
    chk.ak_key = q1.key;
    chk.ak_public = &qe.ak;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why),
              WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_SIG_MISMATCH);
    /* the AK's scheme is RSASSA-SHA256: another hash or scheme in it does not match */
    struct wd_tpm_public other = q1.ak;
    other.scheme_hash = WD_TPM_ALG_SHA384;
    chk.ak_public = &other;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why),
              WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_SIG_MISMATCH);
    other = q1.ak;
    other.scheme = WD_TPM_ALG_RSAPSS;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why),
              WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_SIG_MISMATCH);
    other.scheme = WD_TPM_ALG_NULL; /* an unrestricted key without a scheme signs with any */
    CHECK_OK(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why));
    chk.ak_public = &q1.ak;
    /* allowed schemes and hashes */
    chk.sig_schemes = WD_TPM_SIG_RSAPSS | WD_TPM_SIG_ECDSA;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why),
              WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_SIG_NOT_ALLOWED);
    chk.sig_schemes = WD_TPM_SIG_RSASSA;
    chk.sig_hashes = WD_TPM_HASH_SHA384 | WD_TPM_HASH_SHA512;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why),
              WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_SIG_NOT_ALLOWED);
    chk.sig_hashes = WD_TPM_HASH_SHA256;
    CHECK_OK(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why));
    /* nonce: another one, a prefix, one byte longer */
    uint8_t nn[WD_TPM_DIGEST_MAX];
    memcpy(nn, q1.nonce.p, q1.nonce.len);
    nn[q1.nonce.len - 1] ^= 0x80;
    chk.nonce.p = nn;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why),
              WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_NONCE);
    nn[q1.nonce.len - 1] ^= 0x80;
    chk.nonce.len = q1.nonce.len - 1;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why),
              WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_NONCE);
    chk.nonce.len = q1.nonce.len + 1;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why),
              WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_NONCE);
    chk.nonce = sl(&q1.nonce);
    /* PCR values of the wrong length */
    struct wd_slice pv = sl(&q1.pcrs);
    pv.len -= 32;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), pv, NULL, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_PCR_VALUES);
    pv.len = 0;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), pv, NULL, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_PCR_VALUES);
    /* policy: a required PCR not quoted, an unlisted one, a value not allowed */
    static const uint8_t zeros[32];
    rules[4].hash = WD_TPM_ALG_SHA256;
    rules[4].pcr = 8;
    rules[4].values = zeros;
    rules[4].n_values = 1;
    pol.n_rules = 5;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why),
              WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_PCR_MISSING);
    rules[4].hash = WD_TPM_ALG_SHA1;
    rules[4].pcr = 7;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why),
              WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_PCR_MISSING);
    pol.n_rules = 3;
    pol.only_listed = true;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why),
              WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_PCR_UNLISTED);
    pol.only_listed = false;
    CHECK_OK(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why));
    uint8_t v7[32];
    memcpy(v7, q1.pcrs.p + 96, 32);
    v7[0] ^= 1;
    pol.n_rules = 4;
    rules[3].values = v7;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why),
              WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_PCR_VALUE);
    rules[3].values = q1.pcrs.p + 96;
    /* two rules for one PCR must both hold */
    rules[4] = rules[3];
    rules[4].values = v7;
    pol.n_rules = 5;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why),
              WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_PCR_VALUE);
    pol.n_rules = 4;
    /* clock and counters against a previous quote */
    struct wd_tpm_attest a;
    CHECK_OK(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), &a, &why));
    struct wd_tpm_clock prev = a.clock;
    chk.prev = &prev;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why),
              WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_CLOCK_BACKWARDS);
    prev.clock = a.clock.clock - 1;
    CHECK_OK(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why));
    prev.restart_count = a.clock.restart_count + 1;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why),
              WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_RESTART_BACKWARDS);
    prev.reset_count = a.clock.reset_count + 1;
    prev.restart_count = 0;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why),
              WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_RESET_BACKWARDS);
    /* after a TPM reset, the clock may be anything */
    prev.reset_count = a.clock.reset_count - 1;
    prev.restart_count = 99;
    prev.clock = UINT64_MAX;
    CHECK_OK(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why));
    EVP_PKEY_free(k2);
    wd_buf_cleanup(&ak2b);
    quote_free(&q1);
    quote_free(&qe);
}

TEST(quote_bad_inputs)
{
    struct quote q1;
    CHECK_OK(quote_load(&q1, DATA "ak.pub", "q1"));
    struct wd_tpm_pcr_rule rule = {WD_TPM_ALG_SHA256, 0, q1.pcrs.p, 1};
    struct wd_tpm_pcr_policy pol = {&rule, 1, false};
    struct wd_tpm_quote_check chk = {q1.key, &q1.ak, 0, 0, sl(&q1.nonce), &pol, NULL};
    enum wd_tpm_reason why = WD_TPM_OK;
    CHECK_OK(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why));
#define VERIFY_EINVAL()                                                                      \
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why), \
              WD_EINVAL)
    CHECK_ERR(wd_tpm_quote_verify(NULL, sl(&q1.msg), sl(&q1.sig), sl(&q1.pcrs), NULL, &why),
              WD_EINVAL);
    chk.ak_key = NULL;
    VERIFY_EINVAL();
    chk.ak_key = q1.key;
    chk.policy = NULL;
    VERIFY_EINVAL();
    chk.policy = &pol;
    chk.nonce.len = 0;
    VERIFY_EINVAL();
    chk.nonce.len = 65;
    VERIFY_EINVAL();
    chk.nonce = sl(&q1.nonce);
    chk.sig_schemes = 1u << 5;
    VERIFY_EINVAL();
    chk.sig_schemes = 0;
    chk.sig_hashes = 1u << 7;
    VERIFY_EINVAL();
    chk.sig_hashes = 0;
    rule.pcr = 32;
    VERIFY_EINVAL();
    rule.pcr = 0;
    rule.n_values = 0;
    VERIFY_EINVAL();
    rule.n_values = 1;
    rule.hash = 0x0012;
    VERIFY_EINVAL();
    rule.hash = WD_TPM_ALG_SHA256;
    rule.values = NULL;
    VERIFY_EINVAL();
    rule.values = q1.pcrs.p;
    pol.rules = NULL;
    VERIFY_EINVAL();
#undef VERIFY_EINVAL
    quote_free(&q1);
}

/* ---- quote verification: software-signed quotes, for the order of the checks ---- */

struct synth {
    EVP_PKEY *key;
    uint16_t alg; /* signature scheme */
    struct wd_tpm_attest a;
    uint8_t signer[34], nonce[32], pcrs[4 * 32], digest[64];
    struct wd_buf msg, sig;
    struct wd_tpm_pcr_rule rules[4];
    struct wd_tpm_pcr_policy pol;
    struct wd_tpm_clock prev;
    struct wd_tpm_quote_check chk;
};

static void synth_init(struct synth *s, EVP_PKEY *key, uint16_t alg)
{
    memset(s, 0, sizeof(*s));
    s->key = key;
    s->alg = alg;
    wd_buf_init(&s->msg, 4096);
    wd_buf_init(&s->sig, 4096);
    s->signer[0] = 0x00;
    s->signer[1] = 0x0b;
    memset(s->signer + 2, 0x11, 32);
    for (size_t i = 0; i < sizeof(s->nonce); i++) {
        s->nonce[i] = (uint8_t)(0xa0 + i);
    }
    for (size_t i = 0; i < sizeof(s->pcrs); i++) {
        s->pcrs[i] = (uint8_t)(i * 7);
    }
    unsigned int n = 0;
    (void)EVP_Digest(s->pcrs, sizeof(s->pcrs), s->digest, &n, EVP_sha256(), NULL);
    struct wd_tpm_attest *a = &s->a;
    a->magic = WD_TPM_GENERATED_VALUE;
    a->type = WD_TPM_ST_ATTEST_QUOTE;
    a->qualified_signer.p = s->signer;
    a->qualified_signer.len = sizeof(s->signer);
    a->extra_data.p = s->nonce;
    a->extra_data.len = sizeof(s->nonce);
    a->clock.clock = 100000;
    a->clock.reset_count = 5;
    a->clock.restart_count = 2;
    a->clock.safe = true;
    a->firmware_version = 0x2019102300163636ull;
    a->pcr_select.count = 1;
    a->pcr_select.banks[0].hash = WD_TPM_ALG_SHA256;
    a->pcr_select.banks[0].size_of_select = 3;
    a->pcr_select.banks[0].select[0] = 0x87;
    a->pcr_digest.p = s->digest;
    a->pcr_digest.len = n;
    rules_from(s->rules, q_pcrs, 4, s->pcrs);
    s->pol.rules = s->rules;
    s->pol.n_rules = 4;
    s->prev.clock = 99999;
    s->prev.reset_count = 5;
    s->prev.restart_count = 2;
    s->chk.ak_key = key;
    s->chk.nonce.p = s->nonce;
    s->chk.nonce.len = sizeof(s->nonce);
    s->chk.policy = &s->pol;
    s->chk.prev = &s->prev;
}

/* Sign s->msg as it is into s->sig (TPMT_SIGNATURE) with s->key. */
static int synth_sign_msg(struct synth *s, uint16_t hash, int pss_salt)
{
    wd_buf_reset(&s->sig);
    const EVP_MD *md = wd_tpm_md(hash);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    uint8_t raw[1024];
    size_t rl = sizeof(raw);
    int rc = WD_ETLS;
    if (ctx == NULL || EVP_DigestSignInit(ctx, &pctx, md, NULL, s->key) != 1) {
        goto out;
    }
    if (s->alg == WD_TPM_ALG_RSAPSS
        && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss_salt) != 1)) {
        goto out;
    }
    if (EVP_DigestSign(ctx, raw, &rl, s->msg.p, s->msg.len) != 1) {
        goto out;
    }
    struct wd_tpm_signature sig = {s->alg, hash, {raw, rl}, {NULL, 0}, {NULL, 0}};
    uint8_t r[66], sv[66];
    if (s->alg == WD_TPM_ALG_ECDSA) {
        const unsigned char *q = raw;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)rl);
        if (es == NULL) {
            goto out;
        }
        /* TPMs pad r and s to the curve size */
        int ok = BN_bn2binpad(ECDSA_SIG_get0_r(es), r, 32) == 32
                 && BN_bn2binpad(ECDSA_SIG_get0_s(es), sv, 32) == 32;
        ECDSA_SIG_free(es);
        if (!ok) {
            goto out;
        }
        sig.rsa.len = 0;
        sig.ecc_r.p = r;
        sig.ecc_r.len = 32;
        sig.ecc_s.p = sv;
        sig.ecc_s.len = 32;
    }
    rc = wd_tpm_signature_marshal(&sig, &s->sig);
out:
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

/* Marshal s->a into s->msg and sign it. */
static int synth_sign(struct synth *s, uint16_t hash, int pss_salt)
{
    wd_buf_reset(&s->msg);
    WD_TRY(wd_tpm_attest_marshal(&s->a, &s->msg));
    return synth_sign_msg(s, hash, pss_salt);
}

static int synth_verify(struct synth *s, enum wd_tpm_reason *why)
{
    struct wd_slice pv = {s->pcrs, sizeof(s->pcrs)};
    return wd_tpm_quote_verify(&s->chk, sl(&s->msg), sl(&s->sig), pv, NULL, why);
}

static void synth_free(struct synth *s)
{
    wd_buf_cleanup(&s->msg);
    wd_buf_cleanup(&s->sig);
}

/*
 * Break every check at once, then repair them one by one in the documented order: the
 * verifier must always report the earliest broken check.
 */
TEST(quote_check_order)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    CHECK(key != NULL && other != NULL);
    struct synth s;
    enum wd_tpm_reason why = WD_TPM_OK;
    synth_init(&s, key, WD_TPM_ALG_ECDSA);
    CHECK_OK(synth_sign(&s, WD_TPM_ALG_SHA256, 0));
    CHECK_OK(synth_verify(&s, &why));
    CHECK_EQ(why, WD_TPM_OK);

    /* all broken: clock, policy, digest, nonce, magic; signature by another key; scheme */
    s.a.clock.clock = 1;
    uint8_t wrong[32];
    memset(wrong, 0xee, sizeof(wrong));
    s.rules[2].values = wrong;
    s.digest[0] ^= 1;
    s.nonce[0] ^= 1; /* extraData and the expected nonce are the same buffer: fix below */
    s.a.extra_data.p = wrong;
    s.a.magic = 0x12345678;
    s.key = other;
    CHECK_OK(synth_sign(&s, WD_TPM_ALG_SHA256, 0));
    s.chk.sig_schemes = WD_TPM_SIG_RSASSA;
    CHECK_ERR(synth_verify(&s, &why), WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_SIG_NOT_ALLOWED);
    s.chk.sig_schemes = 0;
    CHECK_ERR(synth_verify(&s, &why), WD_ECRYPTO);
    CHECK_EQ(why, WD_TPM_R_SIG_INVALID);
    s.key = key;
    CHECK_OK(synth_sign(&s, WD_TPM_ALG_SHA256, 0));
    CHECK_ERR(synth_verify(&s, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_MAGIC);
    s.a.magic = WD_TPM_GENERATED_VALUE;
    s.a.type = 0x8014; /* TPM_ST_ATTEST_NV */
    CHECK_OK(synth_sign(&s, WD_TPM_ALG_SHA256, 0));
    CHECK_ERR(synth_verify(&s, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_ATTEST_TYPE);
    s.a.type = WD_TPM_ST_ATTEST_QUOTE;
    CHECK_OK(synth_sign(&s, WD_TPM_ALG_SHA256, 0));
    CHECK_ERR(synth_verify(&s, &why), WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_NONCE);
    s.nonce[0] ^= 1;
    s.a.extra_data.p = s.nonce;
    CHECK_OK(synth_sign(&s, WD_TPM_ALG_SHA256, 0));
    CHECK_ERR(synth_verify(&s, &why), WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_PCR_DIGEST);
    s.digest[0] ^= 1;
    CHECK_OK(synth_sign(&s, WD_TPM_ALG_SHA256, 0));
    CHECK_ERR(synth_verify(&s, &why), WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_PCR_VALUE);
    s.rules[2].values = s.pcrs + 64;
    CHECK_ERR(synth_verify(&s, &why), WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_CLOCK_BACKWARDS);
    s.a.clock.clock = 100000;
    CHECK_OK(synth_sign(&s, WD_TPM_ALG_SHA256, 0));
    CHECK_OK(synth_verify(&s, &why));
    CHECK_EQ(why, WD_TPM_OK);

    /* a signed attest with a broken body: refused only after the signature passed */
    CHECK_OK(synth_sign(&s, WD_TPM_ALG_SHA256, 0));
    size_t count_off = 4 + 2 + 2 + 34 + 2 + 32 + 17 + 8 + 3; /* low byte of the count */
    CHECK_EQ(s.msg.p[count_off], 1);
    s.msg.p[count_off] = 9;
    CHECK_OK(synth_sign_msg(&s, WD_TPM_ALG_SHA256, 0));
    CHECK_ERR(synth_verify(&s, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_PCR_BANKS);
    s.msg.p[count_off] = 1;
    /* SHA-384 signature: the PCR digest must then be SHA-384 as well */
    CHECK_OK(synth_sign(&s, WD_TPM_ALG_SHA384, 0));
    CHECK_ERR(synth_verify(&s, &why), WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_PCR_DIGEST);
    unsigned int n = 0;
    CHECK(EVP_Digest(s.pcrs, sizeof(s.pcrs), s.digest, &n, EVP_sha384(), NULL) == 1);
    s.a.pcr_digest.len = n;
    CHECK_OK(synth_sign(&s, WD_TPM_ALG_SHA384, 0));
    CHECK_OK(synth_verify(&s, &why));
    /* an RSA signature with an EC key */
    wd_buf_reset(&s.sig);
    static uint8_t fake[256];
    struct wd_tpm_signature rs = {WD_TPM_ALG_RSASSA, WD_TPM_ALG_SHA384, {fake, 256}, {0}, {0}};
    CHECK_OK(wd_tpm_signature_marshal(&rs, &s.sig));
    CHECK_ERR(synth_verify(&s, &why), WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_SIG_MISMATCH);
    synth_free(&s);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

TEST(quote_rsa_pss_salts)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    CHECK(key != NULL);
    struct synth s;
    enum wd_tpm_reason why = WD_TPM_OK;
    synth_init(&s, key, WD_TPM_ALG_RSAPSS);
    /* the salt of newer TPMs (the hash size) and of older ones (as large as possible) */
    CHECK_OK(synth_sign(&s, WD_TPM_ALG_SHA256, RSA_PSS_SALTLEN_DIGEST));
    CHECK_OK(synth_verify(&s, &why));
    CHECK_OK(synth_sign(&s, WD_TPM_ALG_SHA256, RSA_PSS_SALTLEN_MAX));
    CHECK_OK(synth_verify(&s, &why));
    /* a PSS signature presented as RSASSA does not verify */
    s.sig.p[1] = (uint8_t)WD_TPM_ALG_RSASSA;
    CHECK_ERR(synth_verify(&s, &why), WD_ECRYPTO);
    CHECK_EQ(why, WD_TPM_R_SIG_INVALID);
    s.alg = WD_TPM_ALG_RSASSA;
    CHECK_OK(synth_sign(&s, WD_TPM_ALG_SHA512, 0));
    unsigned int n = 0;
    CHECK(EVP_Digest(s.pcrs, sizeof(s.pcrs), s.digest, &n, EVP_sha512(), NULL) == 1);
    s.a.pcr_digest.len = n;
    CHECK_OK(synth_sign(&s, WD_TPM_ALG_SHA512, 0));
    CHECK_OK(synth_verify(&s, &why));
    synth_free(&s);
    EVP_PKEY_free(key);
}

/* ---- the trustee vector (Confidential Containers trustee, Apache-2.0) ---- */

static int json_b64(const struct wd_node *obj, const char *key, struct wd_buf *out)
{
    const struct wd_node *n = wd_node_get(obj, key);
    wd_buf_init(out, 1u << 16);
    if (n == NULL || n->type != WD_NODE_STR) {
        return WD_EPROTO;
    }
    return wd_b64_decode(out, n->u.s.p, n->u.s.len, WD_B64_STD);
}

TEST(quote_trustee_vector)
{
    struct wd_doc *doc = NULL;
    struct wd_diag d;
    struct wd_buf spki, msg, sig, pcrs;
    wd_buf_init(&pcrs, 4096);
    CHECK_OK(wd_json_load_file("tests/data/tpm/trustee-tpm_evidence.json", NULL, &doc, &d));
    const struct wd_node *root = wd_doc_root(doc);
    const struct wd_node *quote = wd_node_get(root, "tpm_quote");
    CHECK_OK(json_b64(root, "ak_public", &spki));
    CHECK_OK(json_b64(quote, "message", &msg));
    CHECK_OK(json_b64(quote, "signature", &sig));
    const struct wd_node *list = wd_node_get(quote, "pcrs");
    CHECK(list != NULL && list->type == WD_NODE_ARR && list->u.arr.n == 24);
    for (size_t i = 0; i < list->u.arr.n; i++) {
        const struct wd_node *v = list->u.arr.items[i];
        CHECK(v->type == WD_NODE_STR);
        CHECK_OK(wd_hex_decode(&pcrs, v->u.s.p, v->u.s.len));
    }
    CHECK_EQ(pcrs.len, 24 * 32);
    /* The AK is given as an SPKI; the quote selects all 24 SHA-256 PCRs. */
    const unsigned char *q = spki.p;
    EVP_PKEY *ak = d2i_PUBKEY(NULL, &q, (long)spki.len);
    CHECK(ak != NULL);
    struct wd_tpm_attest a;
    CHECK_OK(wd_tpm_attest_parse(msg.p, msg.len, &a, NULL));
    CHECK_EQ(a.pcr_select.count, 1);
    size_t count = 0;
    wd_tpm_pcr_selection_size(&a.pcr_select, &count, NULL);
    CHECK_EQ(count, 24);
    /* The nonce the verifier sent is not in the file; it is what extraData holds. */
    uint8_t nonce[64];
    size_t nl = a.extra_data.len;
    CHECK(nl > 0 && nl <= sizeof(nonce));
    memcpy(nonce, a.extra_data.p, nl);
    uint8_t v17[32];
    memset(v17, 0xff, sizeof(v17));
    struct wd_tpm_pcr_rule rule = {WD_TPM_ALG_SHA256, 17, v17, 1};
    struct wd_tpm_pcr_policy pol = {&rule, 1, false};
    struct wd_tpm_quote_check chk = {ak,   NULL, WD_TPM_SIG_RSASSA, WD_TPM_HASH_SHA256, {nonce, nl},
                                     &pol, NULL};
    enum wd_tpm_reason why = WD_TPM_OK;
    CHECK_OK(wd_tpm_quote_verify(&chk, sl(&msg), sl(&sig), sl(&pcrs), NULL, &why));
    /* PCR 17 is all ones in this quote; demanding zeros is refused */
    memset(v17, 0, sizeof(v17));
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&msg), sl(&sig), sl(&pcrs), NULL, &why), WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_PCR_VALUE);
    pcrs.p[0] ^= 1;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&msg), sl(&sig), sl(&pcrs), NULL, &why), WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_PCR_DIGEST);
    nonce[0] ^= 1;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&msg), sl(&sig), sl(&pcrs), NULL, &why), WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_NONCE);
    msg.p[msg.len - 1] ^= 1;
    CHECK_ERR(wd_tpm_quote_verify(&chk, sl(&msg), sl(&sig), sl(&pcrs), NULL, &why), WD_ECRYPTO);
    CHECK_EQ(why, WD_TPM_R_SIG_INVALID);
    EVP_PKEY_free(ak);
    wd_doc_free(doc);
    wd_buf_cleanup(&spki);
    wd_buf_cleanup(&msg);
    wd_buf_cleanup(&sig);
    wd_buf_cleanup(&pcrs);
}

/* ---- KDFa / KDFe against OpenSSL's SP 800-108 KBKDF and SP 800-56C single-step KDF ---- */

static int ossl_kbkdf(const char *md, struct wd_slice key, const char *label,
                      const uint8_t *context, size_t clen, uint8_t *out, size_t n)
{
    char mac[] = "HMAC";
    char mdn[16];
    (void)snprintf(mdn, sizeof(mdn), "%s", md);
    uint8_t k[128];
    char lab[32];
    memcpy(k, key.p, key.len);
    (void)snprintf(lab, sizeof(lab), "%s", label);
    uint8_t ctx_copy[256];
    memcpy(ctx_copy, context, clen);
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "KBKDF", NULL);
    EVP_KDF_CTX *c = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM p[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, mac, 0),
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, mdn, 0),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, k, key.len),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, lab, strlen(lab)),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, ctx_copy, clen),
            OSSL_PARAM_construct_end(),
    };
    int ok = c != NULL && EVP_KDF_derive(c, out, n, p) == 1;
    EVP_KDF_CTX_free(c);
    EVP_KDF_free(kdf);
    return ok ? 0 : -1;
}

static int ossl_sskdf(const char *md, const uint8_t *z, size_t zl, const uint8_t *info, size_t il,
                      uint8_t *out, size_t n)
{
    char mdn[16];
    (void)snprintf(mdn, sizeof(mdn), "%s", md);
    uint8_t zc[128], ic[256];
    memcpy(zc, z, zl);
    memcpy(ic, info, il);
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SSKDF", NULL);
    EVP_KDF_CTX *c = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM p[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, mdn, 0),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, zc, zl),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, ic, il),
            OSSL_PARAM_construct_end(),
    };
    int ok = c != NULL && EVP_KDF_derive(c, out, n, p) == 1;
    EVP_KDF_CTX_free(c);
    EVP_KDF_free(kdf);
    return ok ? 0 : -1;
}

TEST(kdfa_matches_kbkdf)
{
    uint8_t key[48], u[34], v[20], got[200], want[200];
    for (size_t i = 0; i < sizeof(key); i++) {
        key[i] = (uint8_t)(i * 13 + 1);
    }
    for (size_t i = 0; i < sizeof(u); i++) {
        u[i] = (uint8_t)(0x80 + i);
    }
    memset(v, 0x3c, sizeof(v));
    uint8_t uv[sizeof(u) + sizeof(v)];
    memcpy(uv, u, sizeof(u));
    memcpy(uv + sizeof(u), v, sizeof(v));
    static const struct {
        uint16_t alg;
        const char *md;
    } hs[] = {{WD_TPM_ALG_SHA256, "SHA256"},
              {WD_TPM_ALG_SHA384, "SHA384"},
              {WD_TPM_ALG_SHA1, "SHA1"}};
    static const size_t lens[] = {16, 32, 33, 64, 100, 200};
    for (size_t h = 0; h < WD_ARRAY_LEN(hs); h++) {
        for (size_t l = 0; l < WD_ARRAY_LEN(lens); l++) {
            struct wd_slice k = {key, 32}, us = {u, sizeof(u)}, vs = {v, sizeof(v)}, none = {0};
            CHECK_OK(wd_tpm_kdfa(hs[h].alg, k, "STORAGE", us, vs, (uint32_t)lens[l] * 8, got,
                                 sizeof(got)));
            CHECK_EQ(ossl_kbkdf(hs[h].md, k, "STORAGE", uv, sizeof(uv), want, lens[l]), 0);
            CHECK_MEM(got, want, lens[l]);
            CHECK_OK(wd_tpm_kdfa(hs[h].alg, k, "INTEGRITY", none, none, (uint32_t)lens[l] * 8, got,
                                 sizeof(got)));
            CHECK_EQ(ossl_kbkdf(hs[h].md, k, "INTEGRITY", uv, 0, want, lens[l]), 0);
            CHECK_MEM(got, want, lens[l]);
        }
    }
    struct wd_slice k = {key, 32}, none = {0};
    CHECK_ERR(wd_tpm_kdfa(WD_TPM_ALG_SHA256, k, "X", none, none, 12, got, sizeof(got)), WD_EINVAL);
    CHECK_ERR(wd_tpm_kdfa(WD_TPM_ALG_SHA256, k, "X", none, none, 8 * 201, got, 200), WD_EINVAL);
    CHECK_ERR(wd_tpm_kdfa(0x0012, k, "X", none, none, 128, got, sizeof(got)), WD_EINVAL);
    CHECK_ERR(wd_tpm_kdfa(WD_TPM_ALG_SHA256, none, "X", none, none, 128, got, sizeof(got)),
              WD_EINVAL);
}

TEST(kdfe_matches_sskdf)
{
    uint8_t z[66], pu[66], pv[66], info[256], got[200], want[200];
    for (size_t i = 0; i < sizeof(z); i++) {
        z[i] = (uint8_t)(i * 5 + 3);
        pu[i] = (uint8_t)(0x40 + i);
        pv[i] = (uint8_t)(0xc0 - i);
    }
    static const size_t cbs[] = {32, 48, 66};
    static const size_t lens[] = {20, 32, 64, 150};
    for (size_t c = 0; c < WD_ARRAY_LEN(cbs); c++) {
        size_t cb = cbs[c];
        /* FixedInfo = use (with NUL) || party U || party V */
        size_t il = 0;
        memcpy(info, "IDENTITY", 9);
        il = 9;
        memcpy(info + il, pu, cb);
        il += cb;
        memcpy(info + il, pv, cb);
        il += cb;
        for (size_t l = 0; l < WD_ARRAY_LEN(lens); l++) {
            struct wd_slice zs = {z, cb}, us = {pu, cb}, vs = {pv, cb};
            CHECK_OK(wd_tpm_kdfe(WD_TPM_ALG_SHA256, zs, "IDENTITY", us, vs, (uint32_t)lens[l] * 8,
                                 got, sizeof(got)));
            CHECK_EQ(ossl_sskdf("SHA256", z, cb, info, il, want, lens[l]), 0);
            CHECK_MEM(got, want, lens[l]);
            CHECK_OK(wd_tpm_kdfe(WD_TPM_ALG_SHA512, zs, "IDENTITY", us, vs, (uint32_t)lens[l] * 8,
                                 got, sizeof(got)));
            CHECK_EQ(ossl_sskdf("SHA512", z, cb, info, il, want, lens[l]), 0);
            CHECK_MEM(got, want, lens[l]);
        }
    }
    struct wd_slice none = {0};
    CHECK_ERR(wd_tpm_kdfe(WD_TPM_ALG_SHA256, none, "IDENTITY", none, none, 256, got, sizeof(got)),
              WD_EINVAL);
}

/* ---- MakeCredential / ActivateCredential ---- */

/* A software EK (private key + TPM2B_PUBLIC in the EK template's layout). */
struct sw_ek {
    struct wd_buf pubb;
    struct wd_tpm_public pub;
    EVP_PKEY *priv;
};

static int sw_ek_load(struct sw_ek *e, const char *kind)
{
    char path[256];
    memset(e, 0, sizeof(*e));
    (void)snprintf(path, sizeof(path), DATA "swek-%s.pub", kind);
    WD_TRY(load_pub(path, &e->pubb, &e->pub));
    (void)snprintf(path, sizeof(path), DATA "swek-%s.pem", kind);
    e->priv = load_priv(path);
    return e->priv != NULL ? WD_OK : WD_EIO;
}

static void sw_ek_free(struct sw_ek *e)
{
    EVP_PKEY_free(e->priv);
    wd_buf_cleanup(&e->pubb);
}

/* Split a tpm2_makecredential file (header, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET). */
static int split_cred_file(const struct wd_buf *f, struct wd_slice *id, struct wd_slice *sec)
{
    static const uint8_t hdr[8] = {0xba, 0xdc, 0xc0, 0xde, 0, 0, 0, 1};
    if (f->len < 12 || memcmp(f->p, hdr, 8) != 0) {
        return WD_EPROTO;
    }
    size_t idl = 2 + (((size_t)f->p[8] << 8) | f->p[9]);
    if (8 + idl + 2 > f->len) {
        return WD_EPROTO;
    }
    id->p = f->p + 8;
    id->len = idl;
    sec->p = f->p + 8 + idl;
    sec->len = f->len - 8 - idl;
    return WD_OK;
}

/* Credentials made by swtpm's TPM2_MakeCredential and by tpm2-tools (software) open here. */
TEST(activate_foreign_credentials)
{
    struct wd_buf name, secret;
    CHECK_OK(load(DATA "ak.name", &name));
    CHECK_OK(load(DATA "cred.secret", &secret));
    static const char *const kinds[] = {"rsa", "ecc"};
    static const char *const makers[] = {"tpmcred", "toolscred"};
    for (size_t k = 0; k < WD_ARRAY_LEN(kinds); k++) {
        struct sw_ek ek;
        CHECK_OK(sw_ek_load(&ek, kinds[k]));
        CHECK_OK(wd_tpm_public_check_ek(&ek.pub, NULL));
        for (size_t m = 0; m < WD_ARRAY_LEN(makers); m++) {
            char path[256];
            struct wd_buf f, out;
            struct wd_slice id, sec;
            enum wd_tpm_reason why = WD_TPM_R_SECRET;
            (void)snprintf(path, sizeof(path), DATA "%s-%s.out", makers[m], kinds[k]);
            CHECK_OK(load(path, &f));
            CHECK_OK(split_cred_file(&f, &id, &sec));
            wd_buf_init(&out, 1024);
            CHECK_OK(wd_tpm_activate_credential(&ek.pub, ek.priv, sl(&name), id, sec, &out, &why));
            CHECK_EQ(why, WD_TPM_OK);
            CHECK_EQ(out.len, secret.len);
            CHECK_MEM(out.p, secret.p, secret.len);
            /* the TPM pads ECC secrets to the curve size, like warden */
            if (k == 1 && m == 0) {
                CHECK_EQ(sec.len, 2 + 4 + 64);
            }
            wd_buf_cleanup(&out);
            wd_buf_cleanup(&f);
        }
        sw_ek_free(&ek);
    }
    wd_buf_cleanup(&name);
    wd_buf_cleanup(&secret);
}

TEST(make_credential_round_trip)
{
    struct wd_buf name, pname;
    CHECK_OK(load(DATA "ak.name", &name));
    CHECK_OK(load(DATA "akpss.name", &pname));
    static const char *const kinds[] = {"rsa", "ecc"};
    for (size_t k = 0; k < WD_ARRAY_LEN(kinds); k++) {
        struct sw_ek ek;
        CHECK_OK(sw_ek_load(&ek, kinds[k]));
        for (size_t len = 1; len <= 32; len += 31) {
            uint8_t cred[32];
            memset(cred, (int)(0x30 + len), sizeof(cred));
            struct wd_slice cs = {cred, len};
            struct wd_buf id, sec, out;
            enum wd_tpm_reason why = WD_TPM_R_SECRET;
            wd_buf_init(&id, 1024);
            wd_buf_init(&sec, 1024);
            wd_buf_init(&out, 1024);
            CHECK_OK(wd_tpm_make_credential(&ek.pub, sl(&name), cs, &id, &sec, &why));
            CHECK_EQ(why, WD_TPM_OK);
            /* TPM2B_ID_OBJECT: size, TPM2B_DIGEST(HMAC-SHA256), encrypted TPM2B_DIGEST */
            CHECK_EQ(id.len, 2 + 2 + 32 + 2 + len);
            CHECK_EQ(((size_t)id.p[0] << 8) | id.p[1], id.len - 2);
            CHECK_EQ(id.p[2], 0);
            CHECK_EQ(id.p[3], 32);
            CHECK_EQ(sec.len, k == 0 ? 2 + 256u : 2 + 4 + 64u);
            CHECK_OK(wd_tpm_activate_credential(&ek.pub, ek.priv, sl(&name), sl(&id), sl(&sec),
                                                &out, &why));
            CHECK_EQ(out.len, len);
            CHECK_MEM(out.p, cred, len);
            /* bound to the AK's Name */
            CHECK_ERR(wd_tpm_activate_credential(&ek.pub, ek.priv, sl(&pname), sl(&id), sl(&sec),
                                                 &out, &why),
                      WD_ECRYPTO);
            CHECK_EQ(why, WD_TPM_R_CRED_INTEGRITY);
            /* every byte of the blob is covered by the HMAC */
            for (size_t off = 4; off < id.len; off++) {
                id.p[off] ^= 0x04;
                int rc = wd_tpm_activate_credential(&ek.pub, ek.priv, sl(&name), sl(&id), sl(&sec),
                                                    &out, &why);
                id.p[off] ^= 0x04;
                CHECK_ERR(rc, WD_ECRYPTO);
                CHECK_EQ(why, WD_TPM_R_CRED_INTEGRITY);
            }
            /* a damaged secret does not decrypt (RSA), or gives another seed (ECC) */
            sec.p[20] ^= 0x01;
            int rc = wd_tpm_activate_credential(&ek.pub, ek.priv, sl(&name), sl(&id), sl(&sec),
                                                &out, &why);
            sec.p[20] ^= 0x01;
            CHECK_ERR(rc, WD_ECRYPTO);
            CHECK(why == WD_TPM_R_SECRET || why == WD_TPM_R_CRED_INTEGRITY);
            /* truncated blobs */
            struct wd_slice cut = sl(&id);
            cut.len--;
            CHECK_ERR(wd_tpm_activate_credential(&ek.pub, ek.priv, sl(&name), cut, sl(&sec), &out,
                                                 &why),
                      WD_EPROTO);
            CHECK_EQ(why, WD_TPM_R_TRUNCATED);
            cut = sl(&sec);
            cut.len--;
            CHECK_ERR(wd_tpm_activate_credential(&ek.pub, ek.priv, sl(&name), sl(&id), cut, &out,
                                                 &why),
                      WD_EPROTO);
            CHECK_EQ(out.len, len);
            wd_buf_cleanup(&id);
            wd_buf_cleanup(&sec);
            wd_buf_cleanup(&out);
        }
        sw_ek_free(&ek);
    }
    wd_buf_cleanup(&name);
    wd_buf_cleanup(&pname);
}

TEST(make_credential_refusals)
{
    struct wd_buf name, akb;
    struct wd_tpm_public ak;
    struct sw_ek ek, ecc;
    CHECK_OK(load(DATA "ak.name", &name));
    CHECK_OK(load_pub(DATA "ak.pub", &akb, &ak));
    CHECK_OK(sw_ek_load(&ek, "rsa"));
    CHECK_OK(sw_ek_load(&ecc, "ecc"));
    uint8_t cred[40];
    memset(cred, 7, sizeof(cred));
    struct wd_slice c32 = {cred, 32}, c33 = {cred, 33}, c0 = {cred, 0};
    struct wd_buf id, sec, small;
    enum wd_tpm_reason why = WD_TPM_OK;
    wd_buf_init(&id, 1024);
    wd_buf_init(&sec, 1024);
    wd_buf_init(&small, 100);
    CHECK_OK(wd_buf_append_str(&id, "keep"));
    CHECK_ERR(wd_tpm_make_credential(&ek.pub, sl(&name), c33, &id, &sec, &why), WD_EINVAL);
    CHECK_EQ(why, WD_TPM_R_CREDENTIAL_SIZE);
    CHECK_ERR(wd_tpm_make_credential(&ek.pub, sl(&name), c0, &id, &sec, &why), WD_EINVAL);
    CHECK_EQ(why, WD_TPM_R_CREDENTIAL_SIZE);
    struct wd_slice bad_name = {name.p, name.len - 1};
    CHECK_ERR(wd_tpm_make_credential(&ek.pub, bad_name, c32, &id, &sec, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_NAME);
    CHECK_ERR(wd_tpm_make_credential(&ak, sl(&name), c32, &id, &sec, &why), WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_EK_ATTRIBUTES);
    /* a full output buffer: both outputs stay as they were */
    CHECK_ERR(wd_tpm_make_credential(&ek.pub, sl(&name), c32, &id, &small, &why), WD_ELIMIT);
    CHECK_STR(wd_buf_str(&id), "keep");
    CHECK_EQ(small.len, 0);
    CHECK_EQ(sec.len, 0);
    /* an ECC secret whose point is not on the curve */
    wd_buf_reset(&id);
    CHECK_OK(wd_tpm_make_credential(&ecc.pub, sl(&name), c32, &id, &sec, &why));
    struct wd_buf out;
    wd_buf_init(&out, 100);
    sec.p[2 + 2 + 31] ^= 1; /* last byte of x */
    CHECK_ERR(wd_tpm_activate_credential(&ecc.pub, ecc.priv, sl(&name), sl(&id), sl(&sec), &out,
                                         &why),
              WD_ECRYPTO);
    CHECK_EQ(why, WD_TPM_R_SECRET);
    sec.p[2 + 2 + 31] ^= 1;
    /* activation needs a private key of the EK's type */
    CHECK_ERR(
            wd_tpm_activate_credential(&ecc.pub, ek.priv, sl(&name), sl(&id), sl(&sec), &out, &why),
            WD_EINVAL);
    CHECK_ERR(
            wd_tpm_activate_credential(&ek.pub, ecc.priv, sl(&name), sl(&id), sl(&sec), &out, &why),
            WD_EINVAL);
    CHECK_OK(wd_tpm_activate_credential(&ecc.pub, ecc.priv, sl(&name), sl(&id), sl(&sec), &out,
                                        &why));
    CHECK_EQ(out.len, 32);
    wd_buf_reset(&out);
    CHECK_EQ(out.len, 0);
    wd_buf_cleanup(&out);
    wd_buf_cleanup(&id);
    wd_buf_cleanup(&sec);
    wd_buf_cleanup(&small);
    wd_buf_cleanup(&name);
    wd_buf_cleanup(&akb);
    sw_ek_free(&ek);
    sw_ek_free(&ecc);
}

TEST(make_credential_alloc_sweep)
{
    struct wd_buf name;
    struct sw_ek ek;
    CHECK_OK(load(DATA "ak.name", &name));
    CHECK_OK(sw_ek_load(&ek, "ecc"));
    uint8_t cred[16];
    memset(cred, 9, sizeof(cred));
    struct wd_slice cs = {cred, sizeof(cred)};
    struct wd_buf id, sec, out;
    wd_buf_init(&id, 1024);
    wd_buf_init(&sec, 1024);
    wd_buf_init(&out, 1024);
    CHECK_ALLOC_SWEEP(wd_tpm_make_credential(&ek.pub, sl(&name), cs, &id, &sec, NULL),
                      (wd_buf_cleanup(&id), wd_buf_cleanup(&sec)));
    CHECK_OK(wd_tpm_make_credential(&ek.pub, sl(&name), cs, &id, &sec, NULL));
    CHECK_ALLOC_SWEEP(
            wd_tpm_activate_credential(&ek.pub, ek.priv, sl(&name), sl(&id), sl(&sec), &out, NULL),
            wd_buf_cleanup(&out));
    wd_buf_cleanup(&id);
    wd_buf_cleanup(&sec);
    wd_buf_cleanup(&name);
    sw_ek_free(&ek);
}

/* ---- marshalling allocations ---- */

TEST(marshal_alloc_sweep)
{
    struct wd_buf msg, out;
    struct wd_tpm_attest a;
    CHECK_OK(load(DATA "q1.msg", &msg));
    CHECK_OK(wd_tpm_attest_parse(msg.p, msg.len, &a, NULL));
    wd_buf_init(&out, 4096);
    CHECK_ALLOC_SWEEP(wd_tpm_attest_marshal(&a, &out), wd_buf_cleanup(&out));
    CHECK_ALLOC_SWEEP(wd_tpm_pcr_selection_marshal(&a.pcr_select, &out), wd_buf_cleanup(&out));
    /* a failing marshal leaves out unchanged */
    struct wd_buf tiny;
    wd_buf_init(&tiny, 10);
    CHECK_OK(wd_buf_append_str(&tiny, "abc"));
    CHECK_ERR(wd_tpm_attest_marshal(&a, &tiny), WD_ELIMIT);
    CHECK_STR(wd_buf_str(&tiny), "abc");
    a.qualified_signer.len = 70000;
    CHECK_ERR(wd_tpm_attest_marshal(&a, &out), WD_EINVAL);
    CHECK_EQ(out.len, 0);
    wd_buf_cleanup(&tiny);
    wd_buf_cleanup(&out);
    wd_buf_cleanup(&msg);
}

/* ---- endorsement key ---- */

TEST(ek_certificate)
{
    struct wd_buf der, ekb, eccb;
    struct wd_tpm_public ek, ekecc;
    struct wd_diag d;
    enum wd_tpm_reason why = WD_TPM_OK;
    X509_STORE *store = NULL, *other = NULL;
    X509 *cert = NULL;
    CHECK_OK(load(DATA "ekcert.der", &der));
    CHECK_OK(load_pub(DATA "ek.pub", &ekb, &ek));
    CHECK_OK(load_pub(DATA "ekecc.pub", &eccb, &ekecc));
    CHECK_OK(wd_tpm_ca_store_load(DATA "ca", &store, &d));
    CHECK_OK(wd_tpm_ca_store_load("tests/data/tpm/other-ca", &other, &d));
    CHECK_OK(wd_tpm_ek_cert_parse(der.p, der.len, &cert, &why));
    CHECK_OK(wd_tpm_ek_cert_verify(store, cert, NULL, EK_TIME, &ek, &why, &d));
    CHECK_EQ(why, WD_TPM_OK);
    /* another CA */
    CHECK_ERR(wd_tpm_ek_cert_verify(other, cert, NULL, EK_TIME, &ek, &why, &d), WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_EK_CHAIN);
    CHECK(strstr(d.msg, "EK certificate: ") == d.msg);
    /* before the certificate was valid */
    CHECK_ERR(wd_tpm_ek_cert_verify(store, cert, NULL, 1700000000, &ek, &why, &d), WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_EK_CHAIN);
    CHECK(strstr(d.msg, "not yet valid") != NULL);
    /* the certificate is fine but names another key */
    CHECK_ERR(wd_tpm_ek_cert_verify(store, cert, NULL, EK_TIME, &ekecc, &why, &d), WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_EK_KEY_MISMATCH);
    /* the root alone cannot reach the leaf without the intermediate; given as untrusted, yes */
    X509_STORE *root_only = X509_STORE_new();
    STACK_OF(X509) *certs = NULL, *inter = NULL;
    CHECK_OK(wd_certs_load(DATA "ca/swtpm-localca-rootca-cert.pem", &certs, &d));
    CHECK(X509_STORE_add_cert(root_only, sk_X509_value(certs, 0)) == 1);
    CHECK_ERR(wd_tpm_ek_cert_verify(root_only, cert, NULL, EK_TIME, &ek, &why, &d), WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_EK_CHAIN);
    CHECK_OK(wd_certs_load(DATA "ca/issuercert.pem", &inter, &d));
    CHECK_OK(wd_tpm_ek_cert_verify(root_only, cert, inter, EK_TIME, &ek, &why, &d));
    X509_free(cert);
    cert = NULL;
    /* NV padding: zeros or ones are fine, mixed or other bytes are not */
    uint8_t *c = copy_of(der.p, der.len, 32, 0x00);
    CHECK_OK(wd_tpm_ek_cert_parse(c, der.len + 32, &cert, &why));
    X509_free(cert);
    cert = NULL;
    memset(c + der.len, 0xff, 32);
    CHECK_OK(wd_tpm_ek_cert_parse(c, der.len + 32, &cert, &why));
    X509_free(cert);
    cert = NULL;
    c[der.len + 5] = 0x00;
    CHECK_ERR(wd_tpm_ek_cert_parse(c, der.len + 32, &cert, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_EK_CERT);
    memset(c + der.len, 0x30, 32);
    CHECK_ERR(wd_tpm_ek_cert_parse(c, der.len + 32, &cert, &why), WD_EPROTO);
    CHECK_ERR(wd_tpm_ek_cert_parse(c, der.len - 1, &cert, &why), WD_EPROTO);
    CHECK_EQ(why, WD_TPM_R_EK_CERT);
    CHECK_ERR(wd_tpm_ek_cert_parse(c, 0, &cert, &why), WD_EPROTO);
    c[0] = 0x04;
    CHECK_ERR(wd_tpm_ek_cert_parse(c, der.len, &cert, &why), WD_EPROTO);
    CHECK(cert == NULL);
    wd_free(c);
    wd_certs_free(certs);
    wd_certs_free(inter);
    X509_STORE_free(root_only);
    X509_STORE_free(store);
    X509_STORE_free(other);
    wd_buf_cleanup(&der);
    wd_buf_cleanup(&ekb);
    wd_buf_cleanup(&eccb);
}

TEST(ek_ca_store_errors)
{
    struct wd_diag d;
    X509_STORE *s = NULL;
    CHECK_ERR(wd_tpm_ca_store_load("tests/data/tpm/no-such-dir", &s, &d), WD_ENOENT);
    CHECK(strstr(d.msg, "no-such-dir") != NULL);
    char dir[] = "/tmp/wd-test-tpm-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK_ERR(wd_tpm_ca_store_load(dir, &s, &d), WD_ECONFIG);
    CHECK(strstr(d.msg, "no CA certificate") != NULL);
    char path[128];
    (void)snprintf(path, sizeof(path), "%s/junk.pem", dir);
    CHECK_OK(wd_file_write_atomic(path, "not pem\n", 8, 0644, &d));
    CHECK_ERR(wd_tpm_ca_store_load(dir, &s, &d), WD_ECONFIG);
    CHECK(strstr(d.msg, "junk.pem") != NULL);
    CHECK(s == NULL);
    CHECK(unlink(path) == 0);
    /* files not named *.pem are ignored */
    (void)snprintf(path, sizeof(path), "%s/README", dir);
    CHECK_OK(wd_file_write_atomic(path, "x", 1, 0644, &d));
    CHECK_ERR(wd_tpm_ca_store_load(dir, &s, &d), WD_ECONFIG);
    CHECK(unlink(path) == 0);
    CHECK(rmdir(dir) == 0);
    CHECK_ALLOC_SWEEP(wd_tpm_ca_store_load(DATA "ca", &s, &d), (X509_STORE_free(s), s = NULL));
}

TEST(ek_allow_list)
{
    struct wd_buf ekb, eccb, der;
    struct wd_tpm_public ek, ekecc;
    enum wd_tpm_reason why = WD_TPM_OK;
    CHECK_OK(load_pub(DATA "ek.pub", &ekb, &ek));
    CHECK_OK(load_pub(DATA "ekecc.pub", &eccb, &ekecc));
    CHECK_OK(load(DATA "ekcert.der", &der));
    /* the hash of the EK public area's key is the hash of the certificate's SPKI */
    const unsigned char *q = der.p;
    X509 *cert = d2i_X509(NULL, &q, (long)der.len);
    CHECK(cert != NULL);
    unsigned char *spki = NULL;
    int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &spki);
    CHECK(n > 0);
    uint8_t md[32];
    unsigned int ml = 0;
    CHECK(EVP_Digest(spki, (size_t)n, md, &ml, EVP_sha256(), NULL) == 1);
    OPENSSL_free(spki);
    char want[65];
    for (size_t i = 0; i < 32; i++) {
        (void)snprintf(want + 2 * i, 3, "%02x", md[i]);
    }
    char got[65];
    CHECK_OK(wd_tpm_spki_sha256_hex(X509_get0_pubkey(cert), got));
    CHECK_STR(got, want);
    X509_free(cert);
    char upper[65];
    for (size_t i = 0; i < 65; i++) {
        upper[i] = (want[i] >= 'a' && want[i] <= 'f') ? (char)(want[i] - 32) : want[i];
    }
    char short_one[65];
    memcpy(short_one, want, 65);
    short_one[63] = '\0';
    const char *list1[] = {"00", short_one, want};
    const char *list2[] = {upper};
    const char *list3[] = {short_one, NULL};
    CHECK_OK(wd_tpm_ek_allowed(&ek, list1, 3, &why));
    CHECK_EQ(why, WD_TPM_OK);
    CHECK_OK(wd_tpm_ek_allowed(&ek, list2, 1, &why));
    CHECK_ERR(wd_tpm_ek_allowed(&ek, list3, 2, &why), WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_EK_NOT_ALLOWED);
    CHECK_ERR(wd_tpm_ek_allowed(&ekecc, list1, 3, &why), WD_EDENIED);
    CHECK_EQ(why, WD_TPM_R_EK_NOT_ALLOWED);
    CHECK_ERR(wd_tpm_ek_allowed(&ek, NULL, 0, &why), WD_EDENIED);
    wd_buf_cleanup(&ekb);
    wd_buf_cleanup(&eccb);
    wd_buf_cleanup(&der);
}

int main(void)
{
    RUN(reason_texts);
    RUN(hash_sizes);
    RUN(tpm2b_unwrap_and_names);
    RUN(pcr_selection_parse);
    RUN(pcr_selection_negative);
    RUN(attest_parse_swtpm);
    RUN(attest_negative);
    RUN(signature_parse);
    RUN(signature_negative);
    RUN(public_parse_swtpm);
    RUN(public_negative);
    RUN(public_keys_and_names);
    RUN(public_keys_invalid);
    RUN(key_roles);
    RUN(quote_swtpm_ok);
    RUN(quote_swtpm_refusals);
    RUN(quote_bad_inputs);
    RUN(quote_check_order);
    RUN(quote_rsa_pss_salts);
    RUN(quote_trustee_vector);
    RUN(kdfa_matches_kbkdf);
    RUN(kdfe_matches_sskdf);
    RUN(activate_foreign_credentials);
    RUN(make_credential_round_trip);
    RUN(make_credential_refusals);
    RUN(make_credential_alloc_sweep);
    RUN(marshal_alloc_sweep);
    RUN(ek_certificate);
    RUN(ek_ca_store_errors);
    RUN(ek_allow_list);
    return HARNESS_END("tpm");
}
