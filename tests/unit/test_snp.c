/*
 * Unit tests for lib/attest/snp*: the ATTESTATION_REPORT parser, and the verifier against
 * the real AMD vectors in tests/data/sev-snp (see its README.md for what each one is and
 * at which pinned time it verifies) and against a throwaway chain made here (ARK/ASK/ASVK
 * and VCEKs with OpenSSL, reports signed with the VCEK key), which reaches every branch a
 * real AMD report cannot (debug policy, TCB and chip mismatches, Turin, version 5, ...).
 * The throwaway roots go in through the internal wd_snp_cache_new_anchors only.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/clock.h"
#include "warden/file.h"
#include "warden/pki.h"
#include "warden/snp.h"

#include "attest/snp_int.h"
#include "harness.h"

#define DATA "tests/data/sev-snp/"
/* 2025-06-01T00:00:00Z: inside the validity of every vector's certificates. */
#define T_VECTORS 1748736000
#define DAY       86400

static int slurp(const char *name, struct wd_buf *b)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "%s%s", DATA, name);
    wd_buf_init(b, 1u << 20);
    return wd_file_read(path, 1u << 20, b, NULL);
}

/* The vectors, read once in main. */
static struct wd_buf v_report, v_vcek, v_vlek_report, v_vlek, v_virtee_hex, v_virtee_vcek,
        v_virtee_chain, v_turin_vcek, v_turin_chain, v_steward_report, v_steward_vcek,
        v_milan_chain, v_vcek_legacy, v_vcek_new, v_milan_ark;

static int load_vectors(void)
{
    static const struct {
        struct wd_buf *b;
        const char *name;
    } files[] = {
            {&v_report, "trustee-test-report.bin"},
            {&v_vcek, "trustee-test-vcek.der"},
            {&v_vlek_report, "trustee-test-vlek-report.bin"},
            {&v_vlek, "trustee-test-vlek.der"},
            {&v_virtee_hex, "virtee-report_milan.hex"},
            {&v_virtee_vcek, "virtee-vcek_milan.der"},
            {&v_virtee_chain, "virtee-cert_chain_milan"},
            {&v_turin_vcek, "virtee-vcek_turin.der"},
            {&v_turin_chain, "virtee-cert_chain_turin"},
            {&v_steward_report, "steward-milan-report.bin"},
            {&v_steward_vcek, "steward-milan-vcek.der"},
            {&v_milan_chain, "trustee-milan_ask_ark_asvk.pem"},
            {&v_vcek_legacy, "trustee-test-vcek-invalid-legacy.der"},
            {&v_vcek_new, "trustee-test-vcek-invalid-new.der"},
            {&v_milan_ark, "amd-milan-ark.pem"},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(files); i++) {
        if (slurp(files[i].name, files[i].b) != WD_OK) {
            printf("cannot read %s%s\n", DATA, files[i].name);
            return -1;
        }
    }
    return 0;
}

static void free_vectors(void)
{
    struct wd_buf *all[] = {&v_report,      &v_vcek,           &v_vlek_report,  &v_vlek,
                            &v_virtee_hex,  &v_virtee_vcek,    &v_virtee_chain, &v_turin_vcek,
                            &v_turin_chain, &v_steward_report, &v_steward_vcek, &v_milan_chain,
                            &v_vcek_legacy, &v_vcek_new,       &v_milan_ark};
    for (size_t i = 0; i < WD_ARRAY_LEN(all); i++) {
        wd_buf_cleanup(all[i]);
    }
}

static struct wd_snp_policy any_policy(void)
{
    struct wd_snp_policy p;
    wd_snp_policy_init(&p);
    p.any_measurement = true;
    return p;
}

/* Verify with the pinned AMD roots, uncached; returns the reason. */
static enum wd_snp_reason verify_amd(const struct wd_buf *rep, const uint8_t *vcek, size_t n_vcek,
                                     const struct wd_buf *chain, const struct wd_snp_policy *pol,
                                     struct wd_snp_result *res)
{
    struct wd_diag d;
    int rc = wd_snp_verify(NULL, rep->p, rep->len, vcek, n_vcek, chain ? chain->p : NULL,
                           chain ? chain->len : 0, pol, res, &d);
    if (rc != wd_snp_reason_err(res->reason)) {
        printf("rc %d does not match reason %s\n", rc, wd_snp_reason_name(res->reason));
        return WD_SNP_R_INTERNAL;
    }
    return res->reason;
}

static void hex_to(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        (void)sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

/* ---- reasons, products, TCB ---- */

TEST(reason_table)
{
    static const enum wd_snp_reason all[] = {
            WD_SNP_OK,
            WD_SNP_R_REPORT_SIZE,
            WD_SNP_R_VERSION,
            WD_SNP_R_SIG_ALGO,
            WD_SNP_R_SIGNING_KEY,
            WD_SNP_R_RESERVED,
            WD_SNP_R_SIG_FORMAT,
            WD_SNP_R_VCEK_MALFORMED,
            WD_SNP_R_VCEK_TYPE,
            WD_SNP_R_VCEK_KEY,
            WD_SNP_R_VCEK_EXTENSION,
            WD_SNP_R_PRODUCT_UNKNOWN,
            WD_SNP_R_CHAIN_MALFORMED,
            WD_SNP_R_UNSIGNED,
            WD_SNP_R_SIGNER_MISMATCH,
            WD_SNP_R_PRODUCT_MISMATCH,
            WD_SNP_R_NO_ISSUER,
            WD_SNP_R_ROOT_INVALID,
            WD_SNP_R_ASK_SIGNATURE,
            WD_SNP_R_VCEK_SIGNATURE,
            WD_SNP_R_CERT_EXPIRED,
            WD_SNP_R_CERT_NOT_YET_VALID,
            WD_SNP_R_REPORT_SIGNATURE,
            WD_SNP_R_TCB_MISMATCH,
            WD_SNP_R_CHIP_ID_MISMATCH,
            WD_SNP_R_DEBUG,
            WD_SNP_R_MIGRATE_MA,
            WD_SNP_R_MEASUREMENT,
            WD_SNP_R_TCB_TOO_LOW,
            WD_SNP_R_REPORT_DATA,
            WD_SNP_R_VMPL,
            WD_SNP_R_GUEST_SVN,
            WD_SNP_R_VLEK_NOT_ALLOWED,
            WD_SNP_R_INTERNAL,
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(all); i++) {
        CHECK(strcmp(wd_snp_reason_name(all[i]), "unknown") != 0);
        CHECK(strcmp(wd_snp_reason_str(all[i]), "unknown reason") != 0);
        for (size_t j = 0; j < i; j++) {
            CHECK(strcmp(wd_snp_reason_name(all[i]), wd_snp_reason_name(all[j])) != 0);
        }
        int err = wd_snp_reason_err(all[i]);
        CHECK(i == 0 ? err == WD_OK : err < 0);
    }
    CHECK_STR(wd_snp_reason_name(WD_SNP_R_REPORT_SIGNATURE), "report-signature");
    CHECK_EQ(wd_snp_reason_err(WD_SNP_R_REPORT_SIZE), WD_EPROTO);
    CHECK_EQ(wd_snp_reason_err(WD_SNP_R_VCEK_SIGNATURE), WD_ECRYPTO);
    CHECK_EQ(wd_snp_reason_err(WD_SNP_R_CERT_EXPIRED), WD_EEXPIRED);
    CHECK_EQ(wd_snp_reason_err(WD_SNP_R_DEBUG), WD_EDENIED);
    CHECK_STR(wd_snp_reason_name((enum wd_snp_reason)77), "unknown");
    CHECK_STR(wd_snp_reason_str((enum wd_snp_reason)77), "unknown reason");
}

TEST(products_and_tcb)
{
    CHECK_EQ(wd_snp_product_from_cpuid(0x19, 0x01), WD_SNP_MILAN);
    CHECK_EQ(wd_snp_product_from_cpuid(0x19, 0x0F), WD_SNP_MILAN);
    CHECK_EQ(wd_snp_product_from_cpuid(0x19, 0x11), WD_SNP_GENOA);
    CHECK_EQ(wd_snp_product_from_cpuid(0x19, 0xA0), WD_SNP_GENOA);
    CHECK_EQ(wd_snp_product_from_cpuid(0x19, 0x20), WD_SNP_PRODUCT_UNKNOWN);
    CHECK_EQ(wd_snp_product_from_cpuid(0x1A, 0x02), WD_SNP_TURIN);
    CHECK_EQ(wd_snp_product_from_cpuid(0x1A, 0x20), WD_SNP_PRODUCT_UNKNOWN);
    CHECK_EQ(wd_snp_product_from_cpuid(0x17, 0x01), WD_SNP_PRODUCT_UNKNOWN);
    CHECK_STR(wd_snp_product_name(WD_SNP_GENOA), "Genoa");
    CHECK_STR(wd_snp_product_name((enum wd_snp_product)9), "unknown");
    CHECK_STR(wd_snp_signer_name(WD_SNP_SIGNER_VLEK), "VLEK");
    CHECK_STR(wd_snp_signer_name((enum wd_snp_signer)3), "invalid");

    /* The trustee report's REPORTED_TCB bytes 03 00 00 00 00 00 08 73 (Milan layout). */
    struct wd_snp_tcb t;
    wd_snp_tcb_decode(0x7308000000000003ull, WD_SNP_MILAN, &t);
    CHECK_EQ(t.bootloader, 3);
    CHECK_EQ(t.tee, 0);
    CHECK_EQ(t.snp, 8);
    CHECK_EQ(t.microcode, 0x73);
    CHECK_EQ(t.fmc, 0);
    CHECK_EQ(wd_snp_tcb_encode(&t, WD_SNP_MILAN), 0x7308000000000003ull);
    /* The same word read as Turin: FMC, BL, TEE, SNP in bytes 0-3. */
    wd_snp_tcb_decode(0x7308000000000003ull, WD_SNP_TURIN, &t);
    CHECK_EQ(t.fmc, 3);
    CHECK_EQ(t.bootloader, 0);
    CHECK_EQ(t.snp, 0);
    CHECK_EQ(t.microcode, 0x73);
    struct wd_snp_tcb u = {.fmc = 1, .bootloader = 2, .tee = 3, .snp = 4, .microcode = 5};
    uint64_t raw = wd_snp_tcb_encode(&u, WD_SNP_TURIN);
    CHECK_EQ(raw, 0x0500000004030201ull);
    wd_snp_tcb_decode(raw, WD_SNP_TURIN, &t);
    CHECK(t.fmc == 1 && t.bootloader == 2 && t.tee == 3 && t.snp == 4 && t.microcode == 5);
}

/* ---- parsing the vectors ---- */

TEST(parse_trustee_v2)
{
    struct wd_snp_report r;
    enum wd_snp_reason why = WD_SNP_R_INTERNAL;
    CHECK_OK(wd_snp_report_parse(v_report.p, v_report.len, &r, &why));
    CHECK_EQ(why, WD_SNP_OK);
    CHECK_EQ(r.version, 2);
    CHECK_EQ(r.guest_svn, 4);
    CHECK_EQ(r.policy, 0x3001f);
    CHECK_EQ(r.policy & 0xff, 31); /* ABI minor */
    CHECK(r.policy & WD_SNP_POLICY_SMT);
    CHECK(!(r.policy & WD_SNP_POLICY_DEBUG));
    CHECK(!(r.policy & WD_SNP_POLICY_MIGRATE_MA));
    CHECK_EQ(r.family_id[0], 1);
    CHECK_EQ(r.image_id[0], 2);
    CHECK_EQ(r.vmpl, 0);
    CHECK_EQ(r.sig_algo, 1);
    CHECK_EQ(r.current_tcb.raw, 0xce08000000000003ull);
    CHECK_EQ(r.current_tcb.microcode, 0xce);
    CHECK_EQ(r.platform_info, WD_SNP_PLATFORM_SMT_EN);
    CHECK(!r.author_key_en);
    CHECK(!r.mask_chip_key);
    CHECK_EQ(r.signing_key, WD_SNP_SIGNER_VCEK);
    uint8_t rd[32];
    hex_to("ec6c52d7533cc2c4f45be7849cf112ab82b2009fe7bd43e71ed08c14400ad7e2", rd, 32);
    CHECK_MEM(r.report_data, rd, 32);
    uint8_t m[48];
    hex_to("a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9"
           "050"
           "d3d38c",
           m, 48);
    CHECK_MEM(r.measurement, m, 48);
    CHECK_EQ(r.id_key_digest[0], 0x03);
    CHECK_EQ(r.report_id[0], 0x38);
    CHECK_EQ(r.report_id_ma[0], 0xff);
    CHECK_EQ(r.report_id_ma[31], 0xff);
    CHECK_EQ(r.reported_tcb.bootloader, 3);
    CHECK_EQ(r.reported_tcb.snp, 8);
    CHECK_EQ(r.reported_tcb.microcode, 0x73);
    CHECK(!r.has_cpuid);
    CHECK_EQ(r.product, WD_SNP_PRODUCT_UNKNOWN);
    CHECK_EQ(r.chip_id[0], 0xc3);
    CHECK_EQ(r.chip_id[63], 0x4e);
    CHECK_EQ(r.committed_tcb.raw, r.reported_tcb.raw);
    CHECK_EQ(r.launch_tcb.raw, r.reported_tcb.raw);
    CHECK_EQ(r.current_build, 4);
    CHECK_EQ(r.current_minor, 0x34);
    CHECK_EQ(r.current_major, 1);
    CHECK_EQ(r.committed_build, 4);
    CHECK_EQ(r.committed_minor, 0x34);
    CHECK_EQ(r.committed_major, 1);
    CHECK(!r.has_mit_vectors);
    /* r and s come out big-endian: the last stored (little-endian) byte is the first. */
    CHECK_EQ(r.sig_r[47], 0x06);
    CHECK_EQ(r.sig_r[0], 0x50);
    CHECK_EQ(r.sig_s[47], 0x40);
}

TEST(parse_vlek_v3_and_hex)
{
    struct wd_snp_report r;
    CHECK_OK(wd_snp_report_parse(v_vlek_report.p, v_vlek_report.len, &r, NULL));
    CHECK_EQ(r.version, 3);
    CHECK(r.has_cpuid);
    CHECK_EQ(r.cpuid_fam_id, 0x19);
    CHECK_EQ(r.cpuid_mod_id, 0x01);
    CHECK_EQ(r.cpuid_step, 0x01);
    CHECK_EQ(r.product, WD_SNP_MILAN);
    CHECK_EQ(r.signing_key, WD_SNP_SIGNER_VLEK);
    CHECK_EQ(r.vmpl, 1);
    CHECK_EQ(r.platform_info, 0x27);
    CHECK(r.platform_info & WD_SNP_PLATFORM_ALIAS_CHECK_COMPLETE);
    CHECK_EQ(r.reported_tcb.bootloader, 4);
    CHECK_EQ(r.reported_tcb.snp, 0x18);
    CHECK_EQ(r.reported_tcb.microcode, 0xd9);
    CHECK_EQ(r.committed_tcb.microcode, 0xdb);

    /* virtee's vector is hex text; with upper/lower case and whitespace it reads the same. */
    struct wd_snp_report h, h2;
    CHECK_EQ(v_virtee_hex.len, WD_SNP_REPORT_HEX_SIZE);
    CHECK_OK(wd_snp_report_parse(v_virtee_hex.p, v_virtee_hex.len, &h, NULL));
    CHECK_EQ(h.version, 2);
    CHECK_EQ(h.measurement[0], 0x7a);
    CHECK_EQ(h.measurement[47], 0x1f);
    CHECK_EQ(h.chip_id[0], 0xd4);
    struct wd_buf spaced;
    wd_buf_init(&spaced, 8192);
    for (size_t i = 0; i < v_virtee_hex.len; i++) {
        uint8_t c = v_virtee_hex.p[i];
        if (c >= 'A' && c <= 'F' && (i % 3) == 0) {
            c = (uint8_t)(c - 'A' + 'a');
        }
        CHECK_OK(wd_buf_append_byte(&spaced, c));
        if (i % 64 == 63) {
            CHECK_OK(wd_buf_append_str(&spaced, i % 128 == 127 ? "\r\n" : " \t"));
        }
    }
    CHECK_OK(wd_buf_append_str(&spaced, "\n"));
    int rc = wd_snp_report_parse(spaced.p, spaced.len, &h2, NULL);
    wd_buf_cleanup(&spaced);
    CHECK_OK(rc);
    CHECK_MEM(&h, &h2, sizeof(h));

    /* The Steward CSR's report: version 2 with AUTHOR_KEY_EN. */
    CHECK_OK(wd_snp_report_parse(v_steward_report.p, v_steward_report.len, &r, NULL));
    CHECK(r.author_key_en);
    CHECK_EQ(r.policy, 0x30133);
}

/* ---- parser negatives ---- */

static enum wd_snp_reason parse_why(const uint8_t *p, size_t n)
{
    struct wd_snp_report r;
    enum wd_snp_reason why = WD_SNP_OK;
    int rc = wd_snp_report_parse(p, n, &r, &why);
    if (rc == WD_OK) {
        return WD_SNP_OK;
    }
    if (rc != WD_EPROTO) {
        return WD_SNP_R_INTERNAL;
    }
    return why;
}

TEST(parse_truncated_everywhere)
{
    uint8_t buf[WD_SNP_REPORT_SIZE + 1];
    memcpy(buf, v_report.p, WD_SNP_REPORT_SIZE);
    buf[WD_SNP_REPORT_SIZE] = 0;
    for (size_t n = 0; n < WD_SNP_REPORT_SIZE; n++) {
        CHECK_EQ(parse_why(buf, n), WD_SNP_R_REPORT_SIZE);
    }
    CHECK_EQ(parse_why(buf, WD_SNP_REPORT_SIZE + 1), WD_SNP_R_REPORT_SIZE);
    CHECK_EQ(parse_why(NULL, 0), WD_SNP_R_REPORT_SIZE);
    CHECK_EQ(parse_why(buf, WD_SNP_REPORT_SIZE), WD_SNP_OK);

    /* Hex: every shorter digit count, an odd digit, a foreign character, trailing digits. */
    uint8_t hex[WD_SNP_REPORT_HEX_SIZE + 4];
    memcpy(hex, v_virtee_hex.p, WD_SNP_REPORT_HEX_SIZE);
    for (size_t n = WD_SNP_REPORT_SIZE + 1; n < WD_SNP_REPORT_HEX_SIZE; n++) {
        CHECK_EQ(parse_why(hex, n), WD_SNP_R_REPORT_SIZE);
    }
    memcpy(hex + WD_SNP_REPORT_HEX_SIZE, "0 \n", 3);
    CHECK_EQ(parse_why(hex, WD_SNP_REPORT_HEX_SIZE + 1), WD_SNP_R_REPORT_SIZE);
    CHECK_EQ(parse_why(hex, WD_SNP_REPORT_HEX_SIZE + 3), WD_SNP_R_REPORT_SIZE);
    memcpy(hex + WD_SNP_REPORT_HEX_SIZE, " \n", 2);
    CHECK_EQ(parse_why(hex, WD_SNP_REPORT_HEX_SIZE + 2), WD_SNP_OK);
    hex[100] = 'g';
    CHECK_EQ(parse_why(hex, WD_SNP_REPORT_HEX_SIZE), WD_SNP_R_REPORT_SIZE);
    hex[100] = ':';
    CHECK_EQ(parse_why(hex, WD_SNP_REPORT_HEX_SIZE), WD_SNP_R_REPORT_SIZE);
    /* Over the input cap, even when it is all whitespace and digits. */
    uint8_t *big = wd_malloc(WD_SNP_INPUT_MAX + 1);
    CHECK(big != NULL);
    memset(big, ' ', WD_SNP_INPUT_MAX + 1);
    memcpy(big, v_virtee_hex.p, WD_SNP_REPORT_HEX_SIZE);
    enum wd_snp_reason a = parse_why(big, WD_SNP_INPUT_MAX);
    enum wd_snp_reason b = parse_why(big, WD_SNP_INPUT_MAX + 1);
    wd_free(big);
    CHECK_EQ(a, WD_SNP_OK);
    CHECK_EQ(b, WD_SNP_R_REPORT_SIZE);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (size_t i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put64(uint8_t *p, uint64_t v)
{
    for (size_t i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

TEST(parse_field_rules)
{
    uint8_t b[WD_SNP_REPORT_SIZE];
    static const uint32_t bad_versions[] = {0, 1, 6, 0x100, 0xffffffffu};
    for (size_t i = 0; i < WD_ARRAY_LEN(bad_versions); i++) {
        memcpy(b, v_report.p, sizeof(b));
        put32(b, bad_versions[i]);
        CHECK_EQ(parse_why(b, sizeof(b)), WD_SNP_R_VERSION);
    }
    static const uint32_t bad_algos[] = {0, 2, 0x101};
    for (size_t i = 0; i < WD_ARRAY_LEN(bad_algos); i++) {
        memcpy(b, v_report.p, sizeof(b));
        put32(b + 0x34, bad_algos[i]);
        CHECK_EQ(parse_why(b, sizeof(b)), WD_SNP_R_SIG_ALGO);
    }
    for (uint32_t k = 0; k < 8; k++) {
        memcpy(b, v_report.p, sizeof(b));
        put32(b + 0x48, k << 2);
        CHECK_EQ(parse_why(b, sizeof(b)), (k <= 1 || k == 7) ? WD_SNP_OK : WD_SNP_R_SIGNING_KEY);
    }
    /* A signing key of none parses (verification refuses it). */
    struct wd_snp_report r;
    memcpy(b, v_report.p, sizeof(b));
    put32(b + 0x48, 7u << 2 | 3u);
    CHECK_OK(wd_snp_report_parse(b, sizeof(b), &r, NULL));
    CHECK_EQ(r.signing_key, WD_SNP_SIGNER_NONE);
    CHECK(r.author_key_en && r.mask_chip_key);

    /* Every reserved byte of a version 2 report, and the unsigned tail of the signature. */
    static const size_t v2_reserved[] = {0x4C,  0x4F,  0x188, 0x18A, 0x19F, 0x1EB, 0x1EF,
                                         0x1F8, 0x207, 0x208, 0x29F, 0x330, 0x400, 0x49F};
    for (size_t i = 0; i < WD_ARRAY_LEN(v2_reserved); i++) {
        memcpy(b, v_report.p, sizeof(b));
        b[v2_reserved[i]] = 0x01;
        CHECK_EQ(parse_why(b, sizeof(b)), WD_SNP_R_RESERVED);
    }
    memcpy(b, v_report.p, sizeof(b));
    put32(b + 0x48, 1u << 5);
    CHECK_EQ(parse_why(b, sizeof(b)), WD_SNP_R_RESERVED);
    /* Version 3: 0x188..0x18A are the CPUID bytes, 0x18B on is reserved. */
    memcpy(b, v_vlek_report.p, sizeof(b));
    b[0x18A] = 0x02;
    CHECK_EQ(parse_why(b, sizeof(b)), WD_SNP_OK);
    b[0x18B] = 0x01;
    CHECK_EQ(parse_why(b, sizeof(b)), WD_SNP_R_RESERVED);
    memcpy(b, v_vlek_report.p, sizeof(b));
    b[0x1F8] = 0x01;
    CHECK_EQ(parse_why(b, sizeof(b)), WD_SNP_R_RESERVED);
    /* Version 4: 0x1F8..0x207 are taken as they are, 0x208 on is reserved. */
    put32(b, 4);
    b[0x200] = 0x80;
    CHECK_OK(wd_snp_report_parse(b, sizeof(b), &r, NULL));
    CHECK(r.has_cpuid && !r.has_mit_vectors);
    b[0x208] = 0x01;
    CHECK_EQ(parse_why(b, sizeof(b)), WD_SNP_R_RESERVED);
    /* Version 5: the mitigation vectors. */
    memcpy(b, v_vlek_report.p, sizeof(b));
    put32(b, 5);
    put64(b + 0x1F8, 0x1122334455667788ull);
    put64(b + 0x200, 0x0102ull);
    CHECK_OK(wd_snp_report_parse(b, sizeof(b), &r, NULL));
    CHECK(r.has_mit_vectors);
    CHECK_EQ(r.launch_mit_vector, 0x1122334455667788ull);
    CHECK_EQ(r.current_mit_vector, 0x0102ull);
    b[0x29F] = 0x01;
    CHECK_EQ(parse_why(b, sizeof(b)), WD_SNP_R_RESERVED);

    /* r and s: 48 significant bytes of 72, never zero. */
    memcpy(b, v_report.p, sizeof(b));
    b[0x2A0 + 48] = 0x01;
    CHECK_EQ(parse_why(b, sizeof(b)), WD_SNP_R_SIG_FORMAT);
    memcpy(b, v_report.p, sizeof(b));
    b[0x2E8 + 71] = 0x80;
    CHECK_EQ(parse_why(b, sizeof(b)), WD_SNP_R_SIG_FORMAT);
    memcpy(b, v_report.p, sizeof(b));
    memset(b + 0x2A0, 0, 72);
    CHECK_EQ(parse_why(b, sizeof(b)), WD_SNP_R_SIG_FORMAT);
    memcpy(b, v_report.p, sizeof(b));
    memset(b + 0x2E8, 0, 48);
    CHECK_EQ(parse_why(b, sizeof(b)), WD_SNP_R_SIG_FORMAT);
    /* Check order: version before algorithm before reserved. */
    memcpy(b, v_report.p, sizeof(b));
    put32(b, 9);
    put32(b + 0x34, 9);
    b[0x4C] = 1;
    CHECK_EQ(parse_why(b, sizeof(b)), WD_SNP_R_VERSION);
    put32(b, 2);
    CHECK_EQ(parse_why(b, sizeof(b)), WD_SNP_R_SIG_ALGO);
}

/* ---- the vectors, verified ---- */

TEST(vectors_verify)
{
    struct wd_snp_policy pol = any_policy();
    struct wd_snp_result res;
    wd_clock_pin(T_VECTORS);

    /* trustee: Milan VCEK, report version 2; pinned ASK, and with its chain file. */
    CHECK_EQ(verify_amd(&v_report, v_vcek.p, v_vcek.len, NULL, &pol, &res), WD_SNP_OK);
    CHECK_EQ(res.product, WD_SNP_MILAN);
    CHECK_EQ(res.signer, WD_SNP_SIGNER_VCEK);
    CHECK_STR(res.measurement_hex, "a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef8"
                                   "27c23500644e0e692e6be917f9050d3d38c");
    CHECK_EQ(res.report.reported_tcb.snp, 8);
    CHECK(!res.debug && !res.migrate_ma && res.smt && !res.single_socket);
    CHECK(!res.chain_cached);
    CHECK_EQ(res.verified_at, T_VECTORS);
    CHECK(strncmp(res.chip_id_hex, "c38427a30d4c7af9", 16) == 0);
    CHECK(strncmp(res.report_data_hex, "ec6c52d7533cc2c4", 16) == 0);
    CHECK_EQ(verify_amd(&v_report, v_vcek.p, v_vcek.len, &v_milan_chain, &pol, &res), WD_SNP_OK);

    /* trustee: VLEK (AWS), report version 3, through the pinned ASVK and the chain file. */
    CHECK_EQ(verify_amd(&v_vlek_report, v_vlek.p, v_vlek.len, NULL, &pol, &res), WD_SNP_OK);
    CHECK_EQ(res.signer, WD_SNP_SIGNER_VLEK);
    CHECK_EQ(res.product, WD_SNP_MILAN);
    CHECK_EQ(res.report.vmpl, 1);
    CHECK_EQ(verify_amd(&v_vlek_report, v_vlek.p, v_vlek.len, &v_milan_chain, &pol, &res),
             WD_SNP_OK);

    /* virtee: hex report, Milan VCEK, with and without its chain file. */
    CHECK_EQ(verify_amd(&v_virtee_hex, v_virtee_vcek.p, v_virtee_vcek.len, NULL, &pol, &res),
             WD_SNP_OK);
    CHECK_EQ(verify_amd(&v_virtee_hex, v_virtee_vcek.p, v_virtee_vcek.len, &v_virtee_chain, &pol,
                        &res),
             WD_SNP_OK);
    CHECK(strncmp(res.measurement_hex, "7a1e5c266c0108db", 16) == 0);

    /* Steward: the report and VCEK carried in its CSR. */
    CHECK_EQ(verify_amd(&v_steward_report, v_steward_vcek.p, v_steward_vcek.len, NULL, &pol, &res),
             WD_SNP_OK);
    CHECK(res.report.author_key_en);

    /* The VCEK given as PEM works as well as DER. */
    struct wd_buf pem;
    wd_buf_init(&pem, 1u << 16);
    CHECK_OK(wd_cert_der_to_pem(v_vcek.p, v_vcek.len, &pem));
    enum wd_snp_reason r = verify_amd(&v_report, pem.p, pem.len, NULL, &pol, &res);
    wd_buf_cleanup(&pem);
    CHECK_EQ(r, WD_SNP_OK);

    /* Without a pinned time the trustee and virtee VCEKs (valid to 2030) still verify. */
    wd_clock_pin(1798761600); /* 2027-01-01 */
    CHECK_EQ(verify_amd(&v_report, v_vcek.p, v_vcek.len, NULL, &pol, &res), WD_SNP_OK);
    /* ... the VLEK (notAfter 2025-12-10) does not. */
    CHECK_EQ(verify_amd(&v_vlek_report, v_vlek.p, v_vlek.len, NULL, &pol, &res),
             WD_SNP_R_CERT_EXPIRED);
    /* Before the VCEK's notBefore (2023-01-24). */
    wd_clock_pin(1672531200); /* 2023-01-01 */
    CHECK_EQ(verify_amd(&v_report, v_vcek.p, v_vcek.len, NULL, &pol, &res),
             WD_SNP_R_CERT_NOT_YET_VALID);
    wd_clock_unpin();
}

TEST(vectors_tampered)
{
    struct wd_snp_policy pol = any_policy();
    struct wd_snp_result res;
    struct wd_buf b;
    wd_buf_init(&b, 1u << 16);
    wd_clock_pin(T_VECTORS);

    /* A flipped bit anywhere in the signed body: the signature no longer verifies. */
    static const size_t body[] = {0x04, 0x08, 0x10,  0x38,  0x50,  0x8F,  0x90,
                                  0xBF, 0xC0, 0x140, 0x180, 0x1A0, 0x1E0, 0x1F0};
    for (size_t i = 0; i < WD_ARRAY_LEN(body); i++) {
        wd_buf_reset(&b);
        CHECK_OK(wd_buf_append(&b, v_report.p, v_report.len));
        b.p[body[i]] ^= 0x01;
        CHECK_EQ(verify_amd(&b, v_vcek.p, v_vcek.len, NULL, &pol, &res), WD_SNP_R_REPORT_SIGNATURE);
    }
    /* ... and in the signature's r and s. */
    static const size_t sig[] = {0x2A0, 0x2A0 + 47, 0x2E8, 0x2E8 + 20};
    for (size_t i = 0; i < WD_ARRAY_LEN(sig); i++) {
        wd_buf_reset(&b);
        CHECK_OK(wd_buf_append(&b, v_vlek_report.p, v_vlek_report.len));
        b.p[sig[i]] ^= 0x10;
        CHECK_EQ(verify_amd(&b, v_vlek.p, v_vlek.len, NULL, &pol, &res), WD_SNP_R_REPORT_SIGNATURE);
    }

    /* A flipped bit in the VCEK's signed part (its hwID) or its signature. */
    static const size_t vcek_off[] = {720, 1300};
    for (size_t i = 0; i < WD_ARRAY_LEN(vcek_off); i++) {
        wd_buf_reset(&b);
        CHECK_OK(wd_buf_append(&b, v_vcek.p, v_vcek.len));
        b.p[vcek_off[i]] ^= 0x01;
        CHECK_EQ(verify_amd(&v_report, b.p, b.len, NULL, &pol, &res), WD_SNP_R_VCEK_SIGNATURE);
    }
    /* A VCEK byte that breaks the DER, and garbage. */
    wd_buf_reset(&b);
    CHECK_OK(wd_buf_append(&b, v_vcek.p, v_vcek.len));
    b.p[1] ^= 0x40;
    CHECK_EQ(verify_amd(&v_report, b.p, b.len, NULL, &pol, &res), WD_SNP_R_VCEK_MALFORMED);
    CHECK_EQ(verify_amd(&v_report, (const uint8_t *)"hello", 5, NULL, &pol, &res),
             WD_SNP_R_VCEK_MALFORMED);
    CHECK_EQ(verify_amd(&v_report, v_vcek.p, 0, NULL, &pol, &res), WD_SNP_R_VCEK_MALFORMED);
    CHECK_EQ(verify_amd(&v_report, v_vcek.p, v_vcek.len - 1, NULL, &pol, &res),
             WD_SNP_R_VCEK_MALFORMED);
    /* Two certificates where one is expected; the ARK is not a VCEK. */
    CHECK_EQ(verify_amd(&v_report, v_milan_chain.p, v_milan_chain.len, NULL, &pol, &res),
             WD_SNP_R_VCEK_MALFORMED);
    CHECK_EQ(verify_amd(&v_report, v_milan_ark.p, v_milan_ark.len, NULL, &pol, &res),
             WD_SNP_R_VCEK_TYPE);
    /* A chain that is not certificates. */
    wd_buf_reset(&b);
    CHECK_OK(wd_buf_append_str(&b,
                               "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
    CHECK_EQ(verify_amd(&v_report, v_vcek.p, v_vcek.len, &b, &pol, &res), WD_SNP_R_CHAIN_MALFORMED);
    wd_buf_cleanup(&b);
    wd_clock_unpin();
}

TEST(vectors_invalid_vceks)
{
    /*
     * trustee's two "invalid" VCEKs carry made-up content (hwID 00 01 .. 3f, other SPLs):
     * the legacy one stores hwID as the raw 64 bytes, the new one as a DER OCTET STRING
     * inside the extension. Both parse, and both fail AMD's signature (they were edited
     * after signing), which is why they are invalid.
     */
    static const struct {
        struct wd_buf *b;
        uint8_t snp, ucode;
    } cases[] = {{&v_vcek_legacy, 10, 0xA9}, {&v_vcek_new, 0, 30}};
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        const unsigned char *q = cases[i].b->p;
        X509 *x = d2i_X509(NULL, &q, (long)cases[i].b->len);
        CHECK(x != NULL);
        struct wd_snp_vek vek;
        enum wd_snp_reason why;
        int rc = wd_snp_vek_parse(x, &vek, &why, NULL);
        X509_free(x);
        CHECK_OK(rc);
        CHECK_EQ(vek.signer, WD_SNP_SIGNER_VCEK);
        CHECK_EQ(vek.product, WD_SNP_MILAN);
        CHECK_EQ(vek.tcb.snp, cases[i].snp);
        CHECK_EQ(vek.tcb.microcode, cases[i].ucode);
        CHECK_EQ(vek.hwid_len, 64);
        for (size_t k = 0; k < 64; k++) {
            CHECK_EQ(vek.hwid[k], k);
        }
    }
    struct wd_snp_policy pol = any_policy();
    struct wd_snp_result res;
    wd_clock_pin(T_VECTORS);
    CHECK_EQ(verify_amd(&v_report, v_vcek_legacy.p, v_vcek_legacy.len, NULL, &pol, &res),
             WD_SNP_R_VCEK_SIGNATURE);
    CHECK_EQ(verify_amd(&v_report, v_vcek_new.p, v_vcek_new.len, &v_milan_chain, &pol, &res),
             WD_SNP_R_VCEK_SIGNATURE);
    wd_clock_unpin();
}

TEST(vectors_cross_product_and_signer)
{
    struct wd_snp_policy pol = any_policy();
    struct wd_snp_result res;
    wd_clock_pin(T_VECTORS);
    /*
     * A Turin VCEK with Milan reports. The version 2 report carries no CPUID, so the Turin
     * chain is checked in full (it verifies up to the pinned Turin ARK) and the report's
     * signature is what fails; a policy naming Milan refuses it first.
     */
    CHECK_EQ(verify_amd(&v_virtee_hex, v_turin_vcek.p, v_turin_vcek.len, NULL, &pol, &res),
             WD_SNP_R_REPORT_SIGNATURE);
    CHECK_EQ(res.product, WD_SNP_TURIN);
    CHECK_EQ(
            verify_amd(&v_virtee_hex, v_turin_vcek.p, v_turin_vcek.len, &v_turin_chain, &pol, &res),
            WD_SNP_R_REPORT_SIGNATURE);
    pol.product = WD_SNP_MILAN;
    CHECK_EQ(verify_amd(&v_virtee_hex, v_turin_vcek.p, v_turin_vcek.len, NULL, &pol, &res),
             WD_SNP_R_PRODUCT_MISMATCH);
    pol.product = WD_SNP_GENOA;
    CHECK_EQ(verify_amd(&v_report, v_vcek.p, v_vcek.len, NULL, &pol, &res),
             WD_SNP_R_PRODUCT_MISMATCH);
    pol.product = WD_SNP_PRODUCT_UNKNOWN;
    /* A version 3 report's CPUID (Milan) against the Turin VCEK. */
    struct wd_buf b;
    wd_buf_init(&b, 4096);
    CHECK_OK(wd_buf_append(&b, v_vlek_report.p, v_vlek_report.len));
    b.p[0x48] = 0; /* SIGNING_KEY VCEK, so that the signer check passes */
    CHECK_EQ(verify_amd(&b, v_turin_vcek.p, v_turin_vcek.len, NULL, &pol, &res),
             WD_SNP_R_PRODUCT_MISMATCH);
    /* The same report named VCEK with the Milan VCEK: it reaches the signature. */
    CHECK_EQ(verify_amd(&b, v_vcek.p, v_vcek.len, NULL, &pol, &res), WD_SNP_R_REPORT_SIGNATURE);
    /* SIGNING_KEY none. */
    b.p[0x48] = 7 << 2;
    CHECK_EQ(verify_amd(&b, v_vcek.p, v_vcek.len, NULL, &pol, &res), WD_SNP_R_UNSIGNED);
    wd_buf_cleanup(&b);
    /* VCEK report with the VLEK, VLEK report with a VCEK. */
    CHECK_EQ(verify_amd(&v_report, v_vlek.p, v_vlek.len, NULL, &pol, &res),
             WD_SNP_R_SIGNER_MISMATCH);
    CHECK_EQ(verify_amd(&v_vlek_report, v_vcek.p, v_vcek.len, NULL, &pol, &res),
             WD_SNP_R_SIGNER_MISMATCH);
    /* The report of one Milan chip with another Milan chip's VCEK. */
    CHECK_EQ(verify_amd(&v_report, v_virtee_vcek.p, v_virtee_vcek.len, NULL, &pol, &res),
             WD_SNP_R_REPORT_SIGNATURE);
    wd_clock_unpin();
}

TEST(vectors_policy)
{
    struct wd_snp_policy pol;
    struct wd_snp_result res;
    struct wd_snp_report r;
    CHECK_OK(wd_snp_report_parse(v_report.p, v_report.len, &r, NULL));
    wd_clock_pin(T_VECTORS);

    /* The default policy admits no measurement. */
    wd_snp_policy_init(&pol);
    CHECK_EQ(verify_amd(&v_report, v_vcek.p, v_vcek.len, NULL, &pol, &res), WD_SNP_R_MEASUREMENT);
    uint8_t list[2][WD_SNP_MEASUREMENT_SIZE];
    memset(list[0], 0x5a, sizeof(list[0]));
    memcpy(list[1], r.measurement, sizeof(list[1]));
    pol.measurements = list;
    pol.n_measurements = 1;
    CHECK_EQ(verify_amd(&v_report, v_vcek.p, v_vcek.len, NULL, &pol, &res), WD_SNP_R_MEASUREMENT);
    pol.n_measurements = 2;
    CHECK_EQ(verify_amd(&v_report, v_vcek.p, v_vcek.len, NULL, &pol, &res), WD_SNP_OK);

    /* report_data binding. */
    uint8_t rd[WD_SNP_REPORT_DATA_SIZE];
    memcpy(rd, r.report_data, sizeof(rd));
    pol.report_data = rd;
    CHECK_EQ(verify_amd(&v_report, v_vcek.p, v_vcek.len, NULL, &pol, &res), WD_SNP_OK);
    rd[63] ^= 1;
    CHECK_EQ(verify_amd(&v_report, v_vcek.p, v_vcek.len, NULL, &pol, &res), WD_SNP_R_REPORT_DATA);
    rd[63] ^= 1;

    /* Minimum TCB (report: bl 3, tee 0, snp 8, ucode 115), per component. */
    pol.check_min_tcb = true;
    pol.min_tcb = (struct wd_snp_tcb){.bootloader = 3, .tee = 0, .snp = 8, .microcode = 115};
    CHECK_EQ(verify_amd(&v_report, v_vcek.p, v_vcek.len, NULL, &pol, &res), WD_SNP_OK);
    uint8_t *fields[] = {&pol.min_tcb.bootloader, &pol.min_tcb.tee, &pol.min_tcb.snp,
                         &pol.min_tcb.microcode};
    for (size_t i = 0; i < WD_ARRAY_LEN(fields); i++) {
        (*fields[i])++;
        CHECK_EQ(verify_amd(&v_report, v_vcek.p, v_vcek.len, NULL, &pol, &res),
                 WD_SNP_R_TCB_TOO_LOW);
        (*fields[i])--;
    }
    /* fmc counts on Turin only. */
    pol.min_tcb.fmc = 9;
    CHECK_EQ(verify_amd(&v_report, v_vcek.p, v_vcek.len, NULL, &pol, &res), WD_SNP_OK);

    /* VMPL and guest SVN (4). */
    pol.vmpl = 0;
    CHECK_EQ(verify_amd(&v_report, v_vcek.p, v_vcek.len, NULL, &pol, &res), WD_SNP_OK);
    pol.vmpl = 1;
    CHECK_EQ(verify_amd(&v_report, v_vcek.p, v_vcek.len, NULL, &pol, &res), WD_SNP_R_VMPL);
    pol.vmpl = -1;
    pol.min_guest_svn = 4;
    CHECK_EQ(verify_amd(&v_report, v_vcek.p, v_vcek.len, NULL, &pol, &res), WD_SNP_OK);
    pol.min_guest_svn = 5;
    CHECK_EQ(verify_amd(&v_report, v_vcek.p, v_vcek.len, NULL, &pol, &res), WD_SNP_R_GUEST_SVN);

    /* VLEKs can be refused; the VLEK report runs at VMPL 1. */
    pol = any_policy();
    pol.allow_vlek = false;
    CHECK_EQ(verify_amd(&v_vlek_report, v_vlek.p, v_vlek.len, NULL, &pol, &res),
             WD_SNP_R_VLEK_NOT_ALLOWED);
    pol.allow_vlek = true;
    pol.vmpl = 0;
    CHECK_EQ(verify_amd(&v_vlek_report, v_vlek.p, v_vlek.len, NULL, &pol, &res), WD_SNP_R_VMPL);

    /* Invalid arguments. */
    struct wd_diag d;
    pol = any_policy();
    pol.vmpl = 4;
    CHECK_ERR(wd_snp_verify(NULL, v_report.p, v_report.len, v_vcek.p, v_vcek.len, NULL, 0, &pol,
                            &res, &d),
              WD_EINVAL);
    CHECK_EQ(res.reason, WD_SNP_R_INTERNAL);
    pol.vmpl = -1;
    CHECK_ERR(wd_snp_verify(NULL, v_report.p, v_report.len, NULL, 0, NULL, 0, &pol, &res, &d),
              WD_EINVAL);
    CHECK_ERR(wd_snp_verify(NULL, v_report.p, v_report.len, v_vcek.p, v_vcek.len, NULL, 0, NULL,
                            &res, &d),
              WD_EINVAL);
    CHECK_ERR(wd_snp_verify(NULL, v_report.p, v_report.len, v_vcek.p, v_vcek.len, NULL, 0, &pol,
                            NULL, &d),
              WD_EINVAL);
    pol.n_measurements = 1;
    pol.any_measurement = false;
    CHECK_ERR(wd_snp_verify(NULL, v_report.p, v_report.len, v_vcek.p, v_vcek.len, NULL, 0, &pol,
                            &res, &d),
              WD_EINVAL);
    /* A malformed report is refused before the certificate is looked at. */
    pol = any_policy();
    CHECK_ERR(
            wd_snp_verify(NULL, v_report.p, 100, (const uint8_t *)"x", 1, NULL, 0, &pol, &res, &d),
            WD_EPROTO);
    CHECK_EQ(res.reason, WD_SNP_R_REPORT_SIZE);
    CHECK(strstr(d.msg, "1184") != NULL);
    wd_clock_unpin();
}

TEST(vectors_cache)
{
    struct wd_snp_cache *c = NULL;
    struct wd_snp_policy pol = any_policy();
    struct wd_snp_result res;
    struct wd_diag d;
    uint64_t hits, misses;
    CHECK_OK(wd_snp_cache_new(&c));
    wd_clock_pin(T_VECTORS);
    int rc = wd_snp_verify(c, v_report.p, v_report.len, v_vcek.p, v_vcek.len, NULL, 0, &pol, &res,
                           &d);
    CHECK(rc == WD_OK && !res.chain_cached);
    rc = wd_snp_verify(c, v_report.p, v_report.len, v_vcek.p, v_vcek.len, NULL, 0, &pol, &res, &d);
    CHECK(rc == WD_OK && res.chain_cached);
    rc = wd_snp_verify(c, v_vlek_report.p, v_vlek_report.len, v_vlek.p, v_vlek.len, NULL, 0, &pol,
                       &res, &d);
    CHECK(rc == WD_OK && !res.chain_cached);
    wd_snp_cache_stats(c, &hits, &misses);
    CHECK_EQ(hits, 1);
    CHECK_EQ(misses, 2);
    /* A cached key still has its report signature and validity checked. */
    struct wd_buf b;
    wd_buf_init(&b, 4096);
    CHECK_OK(wd_buf_append(&b, v_report.p, v_report.len));
    b.p[0x90] ^= 0x80;
    rc = wd_snp_verify(c, b.p, b.len, v_vcek.p, v_vcek.len, NULL, 0, &pol, &res, &d);
    wd_buf_cleanup(&b);
    CHECK(rc == WD_ECRYPTO && res.chain_cached && res.reason == WD_SNP_R_REPORT_SIGNATURE);
    wd_clock_pin(1798761600); /* 2027: the VLEK has expired */
    rc = wd_snp_verify(c, v_vlek_report.p, v_vlek_report.len, v_vlek.p, v_vlek.len, NULL, 0, &pol,
                       &res, &d);
    CHECK(rc == WD_EEXPIRED && res.chain_cached && res.reason == WD_SNP_R_CERT_EXPIRED);
    CHECK(strstr(d.msg, "2025-12-10") != NULL);
    /* A key that failed its chain is not cached. */
    wd_clock_pin(T_VECTORS);
    for (int i = 0; i < 2; i++) {
        rc = wd_snp_verify(c, v_report.p, v_report.len, v_vcek_legacy.p, v_vcek_legacy.len, NULL, 0,
                           &pol, &res, &d);
        CHECK(rc == WD_ECRYPTO && !res.chain_cached);
    }
    wd_snp_cache_free(c);
    wd_snp_cache_free(NULL);
    wd_snp_cache_stats(NULL, &hits, &misses);
    CHECK_EQ(hits + misses, 0);
    wd_clock_unpin();
}

static int sweep_uncached(void)
{
    struct wd_snp_policy pol = any_policy();
    struct wd_snp_result res;
    return wd_snp_verify(NULL, v_vlek_report.p, v_vlek_report.len, v_vlek.p, v_vlek.len,
                         v_milan_chain.p, v_milan_chain.len, &pol, &res, NULL);
}

static int sweep_cached(void)
{
    struct wd_snp_cache *c = NULL;
    struct wd_snp_policy pol = any_policy();
    struct wd_snp_result res;
    int rc = wd_snp_cache_new(&c);
    for (int i = 0; i < 2 && rc == WD_OK; i++) {
        rc = wd_snp_verify(c, v_report.p, v_report.len, v_vcek.p, v_vcek.len, NULL, 0, &pol, &res,
                           NULL);
    }
    wd_snp_cache_free(c);
    return rc;
}

TEST(alloc_sweep)
{
    wd_clock_pin(T_VECTORS);
    CHECK_ALLOC_SWEEP(sweep_uncached(), (void)0);
    CHECK_ALLOC_SWEEP(sweep_cached(), (void)0);
    wd_clock_unpin();
}

/* ---- a throwaway chain: every branch the AMD vectors cannot reach ---- */

static EVP_PKEY *fk_ark_key, *fk_ask_key, *fk_asvk_key;
static X509 *fk_ark, *fk_ask, *fk_asvk;
static struct wd_buf fk_ark_pem, fk_ask_pem, fk_asvk_pem;
static long fk_serial = 1;

static X509_NAME *amd_name(const char *cn)
{
    X509_NAME *n = X509_NAME_new();
    if (n != NULL) {
        (void)X509_NAME_add_entry_by_txt(
                n, "O", MBSTRING_ASC, (const unsigned char *)"Advanced Micro Devices", -1, -1, 0);
        (void)X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                         0);
    }
    return n;
}

static int add_raw_ext(X509 *x, const char *oid, const uint8_t *der, size_t n)
{
    ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *e = NULL;
    int ok = o != NULL && os != NULL && ASN1_OCTET_STRING_set(os, der, (int)n) == 1
             && (e = X509_EXTENSION_create_by_OBJ(NULL, o, 0, os)) != NULL
             && X509_add_ext(x, e, -1) == 1;
    X509_EXTENSION_free(e);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(o);
    return ok ? 0 : -1;
}

static int sign_cert(X509 *x, EVP_PKEY *key, bool pss)
{
    if (!pss) {
        return X509_sign(x, key, EVP_sha384()) > 0 ? 0 : -1;
    }
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok = mctx != NULL && EVP_DigestSignInit(mctx, &pctx, EVP_sha384(), NULL, key) == 1
             && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1
             && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) == 1
             && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) == 1 && X509_sign_ctx(x, mctx) > 0;
    EVP_MD_CTX_free(mctx);
    return ok ? 0 : -1;
}

/* A certificate named cn, issued by issuer (NULL: self) and signed with sign_key. */
static X509 *mk_cert(const char *cn, X509 *issuer, EVP_PKEY *pub, EVP_PKEY *sign_key, bool ca,
                     int64_t nb, int64_t na)
{
    X509 *x = X509_new();
    X509_NAME *n = amd_name(cn);
    X509_EXTENSION *bc = NULL;
    int ok = x != NULL && n != NULL && X509_set_version(x, 2) == 1
             && ASN1_INTEGER_set(X509_get_serialNumber(x), fk_serial++) == 1
             && X509_set_subject_name(x, n) == 1
             && X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : n) == 1
             && ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb) != NULL
             && ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na) != NULL
             && X509_set_pubkey(x, pub) == 1;
    if (ok && ca) {
        bc = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
        ok = bc != NULL && X509_add_ext(x, bc, -1) == 1;
    }
    if (ok && sign_key != NULL) {
        ok = sign_cert(x, sign_key, true) == 0;
    }
    X509_EXTENSION_free(bc);
    X509_NAME_free(n);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static int fake_roots_make(void)
{
    int64_t nb = T_VECTORS - 3650 * (int64_t)DAY, na = T_VECTORS + 3650 * (int64_t)DAY;
    fk_ark_key = EVP_RSA_gen(2048);
    fk_ask_key = EVP_RSA_gen(2048);
    fk_asvk_key = EVP_RSA_gen(2048);
    if (fk_ark_key == NULL || fk_ask_key == NULL || fk_asvk_key == NULL) {
        return -1;
    }
    fk_ark = mk_cert("ARK-Milan", NULL, fk_ark_key, fk_ark_key, true, nb, na);
    if (fk_ark == NULL) {
        return -1;
    }
    fk_ask = mk_cert("SEV-Milan", fk_ark, fk_ask_key, fk_ark_key, true, nb, na);
    fk_asvk = mk_cert("SEV-VLEK-Milan", fk_ark, fk_asvk_key, fk_ark_key, true, nb, na);
    wd_buf_init(&fk_ark_pem, 1u << 16);
    wd_buf_init(&fk_ask_pem, 1u << 16);
    wd_buf_init(&fk_asvk_pem, 1u << 16);
    if (fk_ask == NULL || fk_asvk == NULL || wd_cert_to_pem(fk_ark, &fk_ark_pem) != WD_OK
        || wd_cert_to_pem(fk_ask, &fk_ask_pem) != WD_OK
        || wd_cert_to_pem(fk_asvk, &fk_asvk_pem) != WD_OK) {
        return -1;
    }
    return 0;
}

static void fake_roots_free(void)
{
    X509_free(fk_ark);
    X509_free(fk_ask);
    X509_free(fk_asvk);
    EVP_PKEY_free(fk_ark_key);
    EVP_PKEY_free(fk_ask_key);
    EVP_PKEY_free(fk_asvk_key);
    wd_buf_cleanup(&fk_ark_pem);
    wd_buf_cleanup(&fk_ask_pem);
    wd_buf_cleanup(&fk_asvk_pem);
}

/* A cache over the throwaway roots, all of them "Milan" (and also registered as Turin). */
static struct wd_snp_anchor_src fk_src[2];

static struct wd_snp_cache *fake_cache(bool with_asvk)
{
    struct wd_snp_cache *c = NULL;
    fk_src[0] = (struct wd_snp_anchor_src){WD_SNP_MILAN, wd_buf_str(&fk_ark_pem),
                                           wd_buf_str(&fk_ask_pem),
                                           with_asvk ? wd_buf_str(&fk_asvk_pem) : NULL, NULL};
    return wd_snp_cache_new_anchors(fk_src, 1, &c) == WD_OK ? c : NULL;
}

/* What goes into a throwaway VCEK/VLEK. */
struct vek_opts {
    const char *cn;             /* "SEV-VCEK" */
    const char *issuer;         /* "milan" (fk_ask), "vlek" (fk_asvk), "turin": a Turin ASK */
    const char *product;        /* productName, e.g. "Milan-B0"; NULL: none */
    int spl[5];                 /* bl, tee, snp, ucode, fmc; -1: leave out */
    int hwid_len;               /* bytes of hwID (pattern i*7); -1: none */
    bool hwid_wrapped;          /* as an OCTET STRING inside the extension */
    bool p256;                  /* EC P-256 key instead of P-384 */
    bool pkcs1;                 /* sign with RSA PKCS#1 v1.5 instead of PSS */
    bool dup_snp;               /* a second snpSPL */
    const uint8_t *raw_spl_der; /* when set, the snpSPL's DER content */
    size_t raw_spl_len;
    int64_t nb, na;
};

static struct vek_opts vek_defaults(void)
{
    struct vek_opts o = {"SEV-VCEK",
                         "milan",
                         "Milan-B0",
                         {3, 0, 8, 115, -1},
                         64,
                         false,
                         false,
                         false,
                         false,
                         NULL,
                         0,
                         T_VECTORS - 365 * (int64_t)DAY,
                         T_VECTORS + 365 * (int64_t)DAY};
    return o;
}

struct fake_vek {
    EVP_PKEY *key;
    X509 *cert;
    uint8_t der[4096];
    size_t der_len;
};

static int spl_der(int v, uint8_t out[4])
{
    out[0] = 0x02;
    if (v < 0x80) {
        out[1] = 1;
        out[2] = (uint8_t)v;
        return 3;
    }
    out[1] = 2;
    out[2] = 0;
    out[3] = (uint8_t)v;
    return 4;
}

static void fake_vek_free(struct fake_vek *f)
{
    EVP_PKEY_free(f->key);
    X509_free(f->cert);
    memset(f, 0, sizeof(*f));
}

static int fake_vek_make(const struct vek_opts *o, struct fake_vek *f)
{
    static const char *const spl_oid[5] = {"1.3.6.1.4.1.3704.1.3.1", "1.3.6.1.4.1.3704.1.3.2",
                                           "1.3.6.1.4.1.3704.1.3.3", "1.3.6.1.4.1.3704.1.3.8",
                                           "1.3.6.1.4.1.3704.1.3.9"};
    memset(f, 0, sizeof(*f));
    f->key = EVP_EC_gen(o->p256 ? "prime256v1" : "secp384r1");
    if (f->key == NULL) {
        return -1;
    }
    X509 *issuer = fk_ask;
    EVP_PKEY *ikey = fk_ask_key;
    if (strcmp(o->issuer, "vlek") == 0) {
        issuer = fk_asvk;
        ikey = fk_asvk_key;
    }
    f->cert = mk_cert(o->cn, issuer, f->key, NULL, false, o->nb, o->na);
    if (f->cert == NULL) {
        return -1;
    }
    if (strcmp(o->issuer, "turin") == 0) {
        X509_NAME *n = amd_name("SEV-Turin");
        int ok = n != NULL && X509_set_issuer_name(f->cert, n) == 1;
        X509_NAME_free(n);
        if (!ok) {
            return -1;
        }
    }
    uint8_t buf[80];
    if (o->product != NULL) {
        size_t n = strlen(o->product);
        buf[0] = 0x16;
        buf[1] = (uint8_t)n;
        memcpy(buf + 2, o->product, n);
        if (add_raw_ext(f->cert, "1.3.6.1.4.1.3704.1.2", buf, n + 2) != 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < 5; i++) {
        if (o->spl[i] < 0) {
            continue;
        }
        int n = spl_der(o->spl[i], buf);
        if (i == 2 && o->raw_spl_der != NULL) {
            memcpy(buf, o->raw_spl_der, o->raw_spl_len);
            n = (int)o->raw_spl_len;
        }
        if (add_raw_ext(f->cert, spl_oid[i], buf, (size_t)n) != 0
            || (i == 2 && o->dup_snp && add_raw_ext(f->cert, spl_oid[i], buf, (size_t)n) != 0)) {
            return -1;
        }
    }
    if (o->hwid_len >= 0) {
        size_t off = o->hwid_wrapped ? 2 : 0;
        buf[0] = 0x04;
        buf[1] = (uint8_t)o->hwid_len;
        for (int i = 0; i < o->hwid_len; i++) {
            buf[off + (size_t)i] = (uint8_t)(i * 7);
        }
        if (add_raw_ext(f->cert, "1.3.6.1.4.1.3704.1.4", buf, off + (size_t)o->hwid_len) != 0) {
            return -1;
        }
    }
    if (sign_cert(f->cert, ikey, !o->pkcs1) != 0) {
        return -1;
    }
    unsigned char *p = f->der;
    int len = i2d_X509(f->cert, NULL);
    if (len <= 0 || (size_t)len > sizeof(f->der)) {
        return -1;
    }
    f->der_len = (size_t)i2d_X509(f->cert, &p);
    return 0;
}

/* What goes into a synthetic report. */
struct rep_opts {
    uint32_t version;
    uint64_t policy;
    uint32_t key_info; /* AUTHOR_KEY_EN | MASK_CHIP_KEY | SIGNING_KEY << 2 */
    struct wd_snp_tcb tcb;
    enum wd_snp_product layout;
    uint8_t fam, mod;
    uint32_t vmpl, svn;
    int chip_len; /* bytes of CHIP_ID set to the hwID pattern; the rest stay zero */
    uint8_t measurement[48];
    uint8_t report_data[64];
};

static struct rep_opts rep_defaults(void)
{
    struct rep_opts o;
    memset(&o, 0, sizeof(o));
    o.version = 2;
    o.policy = 0x30000;
    o.tcb = (struct wd_snp_tcb){.bootloader = 3, .tee = 0, .snp = 8, .microcode = 115};
    o.layout = WD_SNP_MILAN;
    o.chip_len = 64;
    memset(o.measurement, 0x11, sizeof(o.measurement));
    memset(o.report_data, 0x22, sizeof(o.report_data));
    return o;
}

static int rep_make(const struct rep_opts *o, EVP_PKEY *key, uint8_t out[WD_SNP_REPORT_SIZE])
{
    memset(out, 0, WD_SNP_REPORT_SIZE);
    put32(out + 0x00, o->version);
    put32(out + 0x04, o->svn);
    put64(out + 0x08, o->policy);
    put32(out + 0x30, o->vmpl);
    put32(out + 0x34, 1);
    uint64_t tcb = wd_snp_tcb_encode(&o->tcb, o->layout);
    put64(out + 0x38, tcb);
    put32(out + 0x48, o->key_info);
    memcpy(out + 0x50, o->report_data, 64);
    memcpy(out + 0x90, o->measurement, 48);
    put64(out + 0x180, tcb);
    if (o->version >= 3) {
        out[0x188] = o->fam;
        out[0x189] = o->mod;
    }
    for (int i = 0; i < o->chip_len; i++) {
        out[0x1A0 + i] = (uint8_t)(i * 7);
    }
    put64(out + 0x1E0, tcb);
    put64(out + 0x1F0, tcb);
    uint8_t sig[160];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, EVP_sha384(), NULL, key) == 1
             && EVP_DigestSign(ctx, sig, &sig_len, out, WD_SNP_SIGNED_SIZE) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        return -1;
    }
    const unsigned char *q = sig;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)sig_len);
    if (es == NULL) {
        return -1;
    }
    ok = BN_bn2lebinpad(ECDSA_SIG_get0_r(es), out + 0x2A0, 72) == 72
         && BN_bn2lebinpad(ECDSA_SIG_get0_s(es), out + 0x2E8, 72) == 72;
    ECDSA_SIG_free(es);
    return ok ? 0 : -1;
}

/* Verify a synthetic report against the throwaway roots; returns the reason. */
static enum wd_snp_reason fake_verify(struct wd_snp_cache *c, const uint8_t *rep,
                                      const struct fake_vek *f, const uint8_t *chain,
                                      size_t n_chain, const struct wd_snp_policy *pol,
                                      struct wd_snp_result *res)
{
    struct wd_diag d;
    int rc = wd_snp_verify(c, rep, WD_SNP_REPORT_SIZE, f->der, f->der_len, chain, n_chain, pol, res,
                           &d);
    if (rc != wd_snp_reason_err(res->reason)) {
        return WD_SNP_R_INTERNAL;
    }
    return res->reason;
}

TEST(fake_baseline_and_public_api)
{
    struct wd_snp_cache *c = fake_cache(true);
    CHECK(c != NULL);
    struct vek_opts vo = vek_defaults();
    struct fake_vek f;
    uint8_t rep[WD_SNP_REPORT_SIZE];
    struct rep_opts ro = rep_defaults();
    struct wd_snp_policy pol = any_policy();
    struct wd_snp_result res;
    wd_clock_pin(T_VECTORS);
    CHECK(fake_vek_make(&vo, &f) == 0);
    CHECK(rep_make(&ro, f.key, rep) == 0);
    enum wd_snp_reason a = fake_verify(c, rep, &f, NULL, 0, &pol, &res);
    /*
     * The public API (pinned AMD roots) never accepts the throwaway chain: AMD's ASK has
     * another name, and a look-alike ASK in the extra chain is not signed by AMD's ARK.
     */
    enum wd_snp_reason b = fake_verify(NULL, rep, &f, NULL, 0, &pol, &res);

    struct wd_buf chain;
    wd_buf_init(&chain, 1u << 16);
    CHECK_OK(wd_buf_append(&chain, fk_ask_pem.p, fk_ask_pem.len));
    CHECK_OK(wd_buf_append(&chain, fk_ark_pem.p, fk_ark_pem.len));
    enum wd_snp_reason cr = fake_verify(NULL, rep, &f, chain.p, chain.len, &pol, &res);
    wd_buf_cleanup(&chain);
    fake_vek_free(&f);
    wd_snp_cache_free(c);
    wd_clock_unpin();
    CHECK_EQ(a, WD_SNP_OK);
    CHECK_EQ(b, WD_SNP_R_NO_ISSUER);
    CHECK_EQ(cr, WD_SNP_R_ASK_SIGNATURE);
}

TEST(fake_policy_branches)
{
    struct wd_snp_cache *c = fake_cache(true);
    CHECK(c != NULL);
    struct vek_opts vo = vek_defaults();
    struct fake_vek f;
    uint8_t rep[WD_SNP_REPORT_SIZE];
    struct wd_snp_policy pol = any_policy();
    struct wd_snp_result res;
    wd_clock_pin(T_VECTORS);
    CHECK(fake_vek_make(&vo, &f) == 0);

    struct rep_opts ro = rep_defaults();
    ro.policy |= WD_SNP_POLICY_DEBUG;
    CHECK(rep_make(&ro, f.key, rep) == 0);
    CHECK_EQ(fake_verify(c, rep, &f, NULL, 0, &pol, &res), WD_SNP_R_DEBUG);
    CHECK(res.debug);
    pol.allow_debug = true;
    CHECK_EQ(fake_verify(c, rep, &f, NULL, 0, &pol, &res), WD_SNP_OK);

    ro = rep_defaults();
    ro.policy |= WD_SNP_POLICY_MIGRATE_MA;
    CHECK(rep_make(&ro, f.key, rep) == 0);
    CHECK_EQ(fake_verify(c, rep, &f, NULL, 0, &pol, &res), WD_SNP_R_MIGRATE_MA);
    pol.allow_migrate_ma = true;
    CHECK_EQ(fake_verify(c, rep, &f, NULL, 0, &pol, &res), WD_SNP_OK);

    /* REPORTED_TCB not the VCEK's: each component. */
    pol = any_policy();
    for (size_t i = 0; i < 4; i++) {
        ro = rep_defaults();
        uint8_t *comp[] = {&ro.tcb.bootloader, &ro.tcb.tee, &ro.tcb.snp, &ro.tcb.microcode};
        (*comp[i])++;
        CHECK(rep_make(&ro, f.key, rep) == 0);
        CHECK_EQ(fake_verify(c, rep, &f, NULL, 0, &pol, &res), WD_SNP_R_TCB_MISMATCH);
    }
    /* CHIP_ID not the hwID, unless MASK_CHIP_KEY (then the firmware zeroes CHIP_ID). */
    ro = rep_defaults();
    ro.chip_len = 63;
    CHECK(rep_make(&ro, f.key, rep) == 0);
    CHECK_EQ(fake_verify(c, rep, &f, NULL, 0, &pol, &res), WD_SNP_R_CHIP_ID_MISMATCH);
    ro.chip_len = 0;
    ro.key_info = 2;
    CHECK(rep_make(&ro, f.key, rep) == 0);
    CHECK_EQ(fake_verify(c, rep, &f, NULL, 0, &pol, &res), WD_SNP_OK);
    /* SIGNING_KEY none, and a report that says VLEK. */
    ro = rep_defaults();
    ro.key_info = 7u << 2;
    CHECK(rep_make(&ro, f.key, rep) == 0);
    CHECK_EQ(fake_verify(c, rep, &f, NULL, 0, &pol, &res), WD_SNP_R_UNSIGNED);
    ro.key_info = 1u << 2;
    CHECK(rep_make(&ro, f.key, rep) == 0);
    CHECK_EQ(fake_verify(c, rep, &f, NULL, 0, &pol, &res), WD_SNP_R_SIGNER_MISMATCH);
    /* Version 5 with mitigation vectors, CPUID Milan. */
    ro = rep_defaults();
    ro.version = 5;
    ro.fam = 0x19;
    ro.mod = 0x01;
    CHECK(rep_make(&ro, f.key, rep) == 0);
    CHECK_EQ(fake_verify(c, rep, &f, NULL, 0, &pol, &res), WD_SNP_OK);
    CHECK(res.report.has_mit_vectors);
    /* ... and CPUID Genoa with the Milan VCEK. */
    ro.mod = 0x11;
    CHECK(rep_make(&ro, f.key, rep) == 0);
    CHECK_EQ(fake_verify(c, rep, &f, NULL, 0, &pol, &res), WD_SNP_R_PRODUCT_MISMATCH);
    /* An unknown CPUID leaves the product to the certificate. */
    ro.mod = 0x70;
    CHECK(rep_make(&ro, f.key, rep) == 0);
    CHECK_EQ(fake_verify(c, rep, &f, NULL, 0, &pol, &res), WD_SNP_OK);

    fake_vek_free(&f);
    wd_snp_cache_free(c);
    wd_clock_unpin();
}

TEST(fake_turin)
{
    /* The throwaway roots registered as Turin's. */
    struct wd_snp_cache *c = NULL;
    fk_src[1] = (struct wd_snp_anchor_src){WD_SNP_TURIN, wd_buf_str(&fk_ark_pem),
                                           wd_buf_str(&fk_ask_pem), NULL, NULL};
    CHECK_OK(wd_snp_cache_new_anchors(&fk_src[1], 1, &c));
    struct vek_opts vo = vek_defaults();
    vo.product = "Turin";
    vo.issuer = "milan"; /* signed by fk_ask, but named below */
    vo.spl[4] = 2;       /* fmcSPL */
    vo.hwid_len = 8;
    struct fake_vek f;
    uint8_t rep[WD_SNP_REPORT_SIZE];
    struct wd_snp_policy pol = any_policy();
    struct wd_snp_result res;
    wd_clock_pin(T_VECTORS);
    /* fk_ask is "SEV-Milan": a Turin productName under it is a product mismatch. */
    CHECK(fake_vek_make(&vo, &f) == 0);
    struct rep_opts ro = rep_defaults();
    ro.version = 3;
    ro.fam = 0x1A;
    ro.mod = 0x02;
    ro.layout = WD_SNP_TURIN;
    ro.tcb.fmc = 2;
    ro.chip_len = 8;
    CHECK(rep_make(&ro, f.key, rep) == 0);
    CHECK_EQ(fake_verify(c, rep, &f, NULL, 0, &pol, &res), WD_SNP_R_PRODUCT_MISMATCH);
    fake_vek_free(&f);
    wd_snp_cache_free(c);

    /* A "SEV-Turin" ASK under the throwaway ARK, registered as Turin's. */
    X509 *turin_ask = mk_cert("SEV-Turin", fk_ark, fk_ask_key, fk_ark_key, true,
                              T_VECTORS - 3650 * (int64_t)DAY, T_VECTORS + 3650 * (int64_t)DAY);
    CHECK(turin_ask != NULL);
    struct wd_buf pem;
    wd_buf_init(&pem, 1u << 16);
    int rc = wd_cert_to_pem(turin_ask, &pem);
    X509_free(turin_ask);
    CHECK_OK(rc);
    fk_src[1].ask_pem = wd_buf_str(&pem);
    c = NULL;
    rc = wd_snp_cache_new_anchors(&fk_src[1], 1, &c);
    vo.issuer = "turin";
    enum wd_snp_reason r[8] = {WD_SNP_R_INTERNAL};
    if (rc == WD_OK && fake_vek_make(&vo, &f) == 0 && rep_make(&ro, f.key, rep) == 0) {
        r[0] = fake_verify(c, rep, &f, NULL, 0, &pol, &res);
        bool fmc_ok = res.report.reported_tcb.fmc == 2 && res.report.reported_tcb.snp == 8;
        /* fmc is part of the TCB binding and of the minimum. */
        ro.tcb.fmc = 3;
        r[1] = rep_make(&ro, f.key, rep) == 0 ? fake_verify(c, rep, &f, NULL, 0, &pol, &res)
                                              : WD_SNP_R_INTERNAL;
        ro.tcb.fmc = 2;
        r[2] = rep_make(&ro, f.key, rep) == 0 ? WD_SNP_OK : WD_SNP_R_INTERNAL;
        pol.check_min_tcb = true;
        pol.min_tcb = (struct wd_snp_tcb){.fmc = 3};
        r[3] = fake_verify(c, rep, &f, NULL, 0, &pol, &res);
        pol = any_policy();
        /* Only the first 8 bytes of CHIP_ID are the hwID on Turin. */
        ro.chip_len = 64;
        r[7] = rep_make(&ro, f.key, rep) == 0 ? fake_verify(c, rep, &f, NULL, 0, &pol, &res)
                                              : WD_SNP_R_INTERNAL;
        ro.chip_len = 7;
        r[4] = rep_make(&ro, f.key, rep) == 0 ? fake_verify(c, rep, &f, NULL, 0, &pol, &res)
                                              : WD_SNP_R_INTERNAL;
        fake_vek_free(&f);
        /* A Turin VCEK without fmcSPL, or with a 64-byte hwID. */
        vo.spl[4] = -1;
        r[5] = fake_vek_make(&vo, &f) == 0 ? fake_verify(c, rep, &f, NULL, 0, &pol, &res)
                                           : WD_SNP_R_INTERNAL;
        fake_vek_free(&f);
        vo.spl[4] = 2;
        vo.hwid_len = 64;
        r[6] = fake_vek_make(&vo, &f) == 0 ? fake_verify(c, rep, &f, NULL, 0, &pol, &res)
                                           : WD_SNP_R_INTERNAL;
        fake_vek_free(&f);
        CHECK(fmc_ok);
    } else {
        fake_vek_free(&f);
        r[0] = WD_SNP_R_INTERNAL;
    }
    wd_snp_cache_free(c);
    wd_buf_cleanup(&pem);
    wd_clock_unpin();
    CHECK_EQ(r[0], WD_SNP_OK);
    CHECK_EQ(r[1], WD_SNP_R_TCB_MISMATCH);
    CHECK_EQ(r[2], WD_SNP_OK);
    CHECK_EQ(r[3], WD_SNP_R_TCB_TOO_LOW);
    CHECK_EQ(r[4], WD_SNP_R_CHIP_ID_MISMATCH);
    CHECK_EQ(r[5], WD_SNP_R_VCEK_EXTENSION);
    CHECK_EQ(r[6], WD_SNP_R_VCEK_EXTENSION);
    CHECK_EQ(r[7], WD_SNP_OK);
}

/* Make a VCEK with the options and say what verification thinks of a default report. */
static enum wd_snp_reason vek_case(struct wd_snp_cache *c, const struct vek_opts *vo)
{
    struct fake_vek f;
    uint8_t rep[WD_SNP_REPORT_SIZE];
    struct wd_snp_policy pol = any_policy();
    struct wd_snp_result res;
    struct rep_opts ro = rep_defaults();
    if (strcmp(vo->cn, "SEV-VLEK") == 0) {
        ro.key_info = 1u << 2;
    }
    enum wd_snp_reason r = WD_SNP_R_INTERNAL;
    if (fake_vek_make(vo, &f) == 0 && rep_make(&ro, f.key, rep) == 0) {
        r = fake_verify(c, rep, &f, NULL, 0, &pol, &res);
    }
    fake_vek_free(&f);
    return r;
}

TEST(fake_certificate_rules)
{
    struct wd_snp_cache *c = fake_cache(true);
    CHECK(c != NULL);
    wd_clock_pin(T_VECTORS);
    struct vek_opts vo;
#define CASE(mutation, want)                \
    do {                                    \
        vo = vek_defaults();                \
        mutation;                           \
        CHECK_EQ(vek_case(c, &vo), (want)); \
    } while (0)
    CASE((void)0, WD_SNP_OK);
    CASE(vo.hwid_wrapped = true, WD_SNP_OK);
    CASE(vo.cn = "SEV-VCEK2", WD_SNP_R_VCEK_TYPE);
    CASE(vo.p256 = true, WD_SNP_R_VCEK_KEY);
    CASE(vo.product = NULL, WD_SNP_R_VCEK_EXTENSION);
    CASE(vo.product = "Rome-B0", WD_SNP_R_PRODUCT_UNKNOWN);
    CASE(vo.product = "MilanX", WD_SNP_R_PRODUCT_UNKNOWN);
    CASE(vo.product = "Milan", WD_SNP_OK);
    CASE(vo.spl[0] = -1, WD_SNP_R_VCEK_EXTENSION);
    CASE(vo.spl[1] = -1, WD_SNP_R_VCEK_EXTENSION);
    CASE(vo.spl[2] = -1, WD_SNP_R_VCEK_EXTENSION);
    CASE(vo.spl[3] = -1, WD_SNP_R_VCEK_EXTENSION);
    CASE(vo.dup_snp = true, WD_SNP_R_VCEK_EXTENSION);
    CASE(vo.hwid_len = -1, WD_SNP_R_VCEK_EXTENSION);
    CASE(vo.hwid_len = 63, WD_SNP_R_VCEK_EXTENSION);
    CASE(vo.hwid_len = 8, WD_SNP_R_VCEK_EXTENSION);
    /* SPLs: a DER INTEGER 0..255 in minimal form, nothing else. */
    static const struct {
        uint8_t der[5];
        size_t len;
        enum wd_snp_reason want;
    } spls[] = {
            {{0x02, 0x01, 0x08}, 3, WD_SNP_OK},
            {{0x02, 0x01, 0x80}, 3, WD_SNP_R_VCEK_EXTENSION},       /* negative */
            {{0x02, 0x02, 0x00, 0x08}, 4, WD_SNP_R_VCEK_EXTENSION}, /* not minimal */
            {{0x02, 0x02, 0x01, 0x00}, 4, WD_SNP_R_VCEK_EXTENSION}, /* 256 */
            {{0x02, 0x01, 0x08, 0x00}, 4, WD_SNP_R_VCEK_EXTENSION}, /* trailing byte */
            {{0x04, 0x01, 0x08}, 3, WD_SNP_R_VCEK_EXTENSION},       /* OCTET STRING */
            {{0x02, 0x00}, 2, WD_SNP_R_VCEK_EXTENSION},             /* empty */
            {{0x02, 0x03, 0x00, 0x00, 0x08}, 5, WD_SNP_R_VCEK_EXTENSION},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(spls); i++) {
        CASE((vo.raw_spl_der = spls[i].der, vo.raw_spl_len = spls[i].len), spls[i].want);
    }
    /* Chain: PKCS#1 v1.5 instead of PSS, issuer of another product, expiry. */
    CASE(vo.pkcs1 = true, WD_SNP_R_VCEK_SIGNATURE);
    CASE(vo.issuer = "turin", WD_SNP_R_PRODUCT_MISMATCH);
    CASE(vo.issuer = "vlek", WD_SNP_R_NO_ISSUER);
    CASE(vo.na = T_VECTORS - 1, WD_SNP_R_CERT_EXPIRED);
    CASE(vo.nb = T_VECTORS + 1, WD_SNP_R_CERT_NOT_YET_VALID);
    /* A VLEK: issued by the ASVK, no hwID needed. */
    CASE((vo.cn = "SEV-VLEK", vo.issuer = "vlek", vo.hwid_len = -1), WD_SNP_OK);
    CASE((vo.cn = "SEV-VLEK", vo.issuer = "milan", vo.hwid_len = -1), WD_SNP_R_NO_ISSUER);
#undef CASE
    wd_snp_cache_free(c);
    wd_clock_unpin();
}

TEST(fake_extra_chain_and_roots)
{
    /* Without a pinned ASVK, a VLEK needs its ASVK from the extra chain. */
    struct wd_snp_cache *c = fake_cache(false);
    CHECK(c != NULL);
    wd_clock_pin(T_VECTORS);
    struct vek_opts vo = vek_defaults();
    vo.cn = "SEV-VLEK";
    vo.issuer = "vlek";
    vo.hwid_len = -1;
    struct fake_vek f;
    uint8_t rep[WD_SNP_REPORT_SIZE];
    struct rep_opts ro = rep_defaults();
    ro.key_info = 1u << 2;
    struct wd_snp_policy pol = any_policy();
    struct wd_snp_result res;
    CHECK(fake_vek_make(&vo, &f) == 0);
    CHECK(rep_make(&ro, f.key, rep) == 0);
    enum wd_snp_reason r[7] = {WD_SNP_R_INTERNAL, WD_SNP_R_INTERNAL, WD_SNP_R_INTERNAL,
                               WD_SNP_R_INTERNAL};
    r[0] = fake_verify(c, rep, &f, NULL, 0, &pol, &res);
    r[1] = fake_verify(c, rep, &f, fk_asvk_pem.p, fk_asvk_pem.len, &pol, &res);
    /* An "ASVK" with the right name that the ARK did not sign. */
    EVP_PKEY *rogue_key = EVP_RSA_gen(2048);
    X509 *rogue = rogue_key != NULL ? mk_cert("SEV-VLEK-Milan", fk_ark, rogue_key, rogue_key, true,
                                              T_VECTORS - DAY, T_VECTORS + DAY)
                                    : NULL;
    struct wd_buf pem;
    wd_buf_init(&pem, 1u << 16);
    if (rogue != NULL && wd_cert_to_pem(rogue, &pem) == WD_OK) {
        /* A fresh key, so the cache from r[1] does not answer. */
        fake_vek_free(&f);
        if (fake_vek_make(&vo, &f) == 0 && rep_make(&ro, f.key, rep) == 0) {
            r[2] = fake_verify(c, rep, &f, pem.p, pem.len, &pol, &res);
            /* The rogue first, then the real one: the real one is found. */
            CHECK_OK(wd_buf_append(&pem, fk_asvk_pem.p, fk_asvk_pem.len));
            r[3] = fake_verify(c, rep, &f, pem.p, pem.len, &pol, &res);
        }
    }
    X509_free(rogue);
    EVP_PKEY_free(rogue_key);
    wd_buf_cleanup(&pem);
    fake_vek_free(&f);
    wd_snp_cache_free(c);

    /* A root that does not match its pinned fingerprint is refused. */
    static const uint8_t zero[32];
    c = NULL;
    fk_src[0] = (struct wd_snp_anchor_src){WD_SNP_MILAN, wd_buf_str(&fk_ark_pem),
                                           wd_buf_str(&fk_ask_pem), NULL, zero};
    CHECK_OK(wd_snp_cache_new_anchors(fk_src, 1, &c));
    vo = vek_defaults();
    r[4] = vek_case(c, &vo);
    wd_snp_cache_free(c);
    /* A pinned ASK the ARK did not sign, or an unreadable ASVK, make the root unusable. */
    rogue_key = EVP_RSA_gen(2048);
    rogue = rogue_key != NULL ? mk_cert("SEV-Milan", fk_ark, rogue_key, rogue_key, true,
                                        T_VECTORS - DAY, T_VECTORS + DAY)
                              : NULL;
    wd_buf_init(&pem, 1u << 16);
    r[5] = r[6] = WD_SNP_R_INTERNAL;
    if (rogue != NULL && wd_cert_to_pem(rogue, &pem) == WD_OK) {
        fk_src[0] = (struct wd_snp_anchor_src){WD_SNP_MILAN, wd_buf_str(&fk_ark_pem),
                                               wd_buf_str(&pem), NULL, NULL};
        c = NULL;
        if (wd_snp_cache_new_anchors(fk_src, 1, &c) == WD_OK) {
            r[5] = vek_case(c, &vo);
        }
        wd_snp_cache_free(c);
    }
    X509_free(rogue);
    EVP_PKEY_free(rogue_key);
    wd_buf_cleanup(&pem);
    fk_src[0] = (struct wd_snp_anchor_src){WD_SNP_MILAN, wd_buf_str(&fk_ark_pem),
                                           wd_buf_str(&fk_ask_pem), "not a certificate", NULL};
    c = NULL;
    CHECK_OK(wd_snp_cache_new_anchors(fk_src, 1, &c));
    r[6] = vek_case(c, &vo);
    wd_snp_cache_free(c);
    wd_clock_unpin();
    CHECK_EQ(r[0], WD_SNP_R_NO_ISSUER);
    CHECK_EQ(r[1], WD_SNP_OK);
    CHECK_EQ(r[2], WD_SNP_R_ASK_SIGNATURE);
    CHECK_EQ(r[3], WD_SNP_OK);
    CHECK_EQ(r[4], WD_SNP_R_ROOT_INVALID);
    CHECK_EQ(r[5], WD_SNP_R_ROOT_INVALID);
    CHECK_EQ(r[6], WD_SNP_R_ROOT_INVALID);

    /* Bad anchor sets. */
    CHECK_ERR(wd_snp_cache_new_anchors(NULL, 1, &c), WD_EINVAL);
    CHECK_ERR(wd_snp_cache_new_anchors(fk_src, 0, &c), WD_EINVAL);
    struct wd_snp_anchor_src two[2] = {fk_src[0], fk_src[0]};
    CHECK_ERR(wd_snp_cache_new_anchors(two, 2, &c), WD_EINVAL);
    two[1].product = (enum wd_snp_product)7;
    CHECK_ERR(wd_snp_cache_new_anchors(two, 2, &c), WD_EINVAL);
}

TEST(fake_cache_eviction)
{
    struct wd_snp_cache *c = fake_cache(true);
    CHECK(c != NULL);
    wd_clock_pin(T_VECTORS);
    struct vek_opts vo = vek_defaults();
    struct wd_snp_policy pol = any_policy();
    struct wd_snp_result res;
    struct rep_opts ro = rep_defaults();
    uint8_t rep[WD_SNP_REPORT_SIZE];
    struct fake_vek *fs = wd_calloc(WD_SNP_CACHE_SLOTS + 1, sizeof(*fs));
    CHECK(fs != NULL);
    bool ok = true;
    for (size_t i = 0; i <= WD_SNP_CACHE_SLOTS && ok; i++) {
        ok = fake_vek_make(&vo, &fs[i]) == 0 && rep_make(&ro, fs[i].key, rep) == 0
             && fake_verify(c, rep, &fs[i], NULL, 0, &pol, &res) == WD_SNP_OK && !res.chain_cached;
    }
    /* The newest is cached; the oldest was evicted by the 33rd. */
    bool newest = ok && rep_make(&ro, fs[WD_SNP_CACHE_SLOTS].key, rep) == 0
                  && fake_verify(c, rep, &fs[WD_SNP_CACHE_SLOTS], NULL, 0, &pol, &res) == WD_SNP_OK
                  && res.chain_cached;
    bool oldest = ok && rep_make(&ro, fs[0].key, rep) == 0
                  && fake_verify(c, rep, &fs[0], NULL, 0, &pol, &res) == WD_SNP_OK
                  && !res.chain_cached;
    for (size_t i = 0; i <= WD_SNP_CACHE_SLOTS; i++) {
        fake_vek_free(&fs[i]);
    }
    wd_free(fs);
    uint64_t hits, misses;
    wd_snp_cache_stats(c, &hits, &misses);
    wd_snp_cache_free(c);
    wd_clock_unpin();
    CHECK(ok);
    CHECK(newest);
    CHECK(oldest);
    CHECK_EQ(hits, 1);
    CHECK_EQ(misses, WD_SNP_CACHE_SLOTS + 2);
}

TEST(amd_roots_pinned)
{
    /* Every pinned ARK matches its fingerprint and signs its ASK and ASVK. */
    for (size_t i = 0; i < WD_SNP_PRODUCT_COUNT; i++) {
        const struct wd_snp_anchor_src *a = &wd_snp_amd_anchors[i];
        CHECK_EQ(a->product, (enum wd_snp_product)(i + 1));
        CHECK(a->ark_sha256 != NULL && a->asvk_pem != NULL);
        BIO *bio = BIO_new_mem_buf(a->ark_pem, -1);
        X509 *ark = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        CHECK(ark != NULL);
        uint8_t md[32];
        unsigned len = 0;
        int ok = X509_digest(ark, EVP_sha256(), md, &len);
        char cn[64] = "";
        (void)X509_NAME_get_text_by_NID(X509_get_subject_name(ark), NID_commonName, cn, sizeof(cn));
        X509_free(ark);
        CHECK(ok == 1 && len == 32);
        CHECK_MEM(md, a->ark_sha256, 32);
        char want[32];
        (void)snprintf(want, sizeof(want), "ARK-%s", wd_snp_product_name(a->product));
        CHECK_STR(cn, want);
    }
    /* The Milan ARK fingerprint, as docs/attestation.md records it. */
    uint8_t milan[32];
    hex_to("69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd", milan, 32);
    CHECK_MEM(wd_snp_amd_anchors[0].ark_sha256, milan, 32);
}

int main(void)
{
    if (load_vectors() != 0 || fake_roots_make() != 0) {
        free_vectors();
        fake_roots_free();
        printf("snp: setup failed\n");
        return 1;
    }
    RUN(reason_table);
    RUN(products_and_tcb);
    RUN(parse_trustee_v2);
    RUN(parse_vlek_v3_and_hex);
    RUN(parse_truncated_everywhere);
    RUN(parse_field_rules);
    RUN(vectors_verify);
    RUN(vectors_tampered);
    RUN(vectors_invalid_vceks);
    RUN(vectors_cross_product_and_signer);
    RUN(vectors_policy);
    RUN(vectors_cache);
    RUN(alloc_sweep);
    RUN(fake_baseline_and_public_api);
    RUN(fake_policy_branches);
    RUN(fake_turin);
    RUN(fake_certificate_rules);
    RUN(fake_extra_chain_and_roots);
    RUN(fake_cache_eviction);
    RUN(amd_roots_pinned);
    free_vectors();
    fake_roots_free();
    return HARNESS_END("snp");
}
