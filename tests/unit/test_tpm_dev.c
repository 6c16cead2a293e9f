/*
 * Unit tests for lib/tpmdev: the PCR selection text parser and formatter (every rule,
 * with the column the diagnostic names), and the TPM client's argument checks that need
 * no TPM. The client against a real TPM is tests/integration/031-tpm-dev-swtpm.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/err.h"
#include "warden/tpm.h"
#include "warden/tpm_dev.h"

#include "harness.h"

TEST(pcr_spec_one_bank)
{
    struct wd_tpm_pcr_selection s;
    struct wd_diag d = {{0}};
    CHECK_OK(wd_tpm_pcr_spec_parse("sha256:0,1,7", &s, &d));
    CHECK_EQ(s.count, 1);
    CHECK_EQ(s.banks[0].hash, WD_TPM_ALG_SHA256);
    CHECK_EQ(s.banks[0].size_of_select, WD_TPM_PCR_SELECT_MIN);
    CHECK_EQ(s.banks[0].select[0], 0x83);
    CHECK_EQ(s.banks[0].select[1], 0);
    CHECK_EQ(s.banks[0].select[2], 0);
    CHECK_EQ(s.banks[0].select[3], 0);
    /* order in the text does not matter: the selection is a bitmap */
    struct wd_tpm_pcr_selection t;
    CHECK_OK(wd_tpm_pcr_spec_parse("sha256:7,0,1", &t, NULL));
    CHECK_MEM(&s, &t, sizeof(s));
    CHECK_OK(wd_tpm_pcr_spec_parse("sha1:0", &s, NULL));
    CHECK_EQ(s.banks[0].hash, WD_TPM_ALG_SHA1);
    CHECK_EQ(s.banks[0].select[0], 0x01);
    CHECK_OK(wd_tpm_pcr_spec_parse("sha256:23,16,8", &s, NULL));
    CHECK_EQ(s.banks[0].size_of_select, 3);
    CHECK_EQ(s.banks[0].select[0], 0x00);
    CHECK_EQ(s.banks[0].select[1], 0x01);
    CHECK_EQ(s.banks[0].select[2], 0x81);
}

TEST(pcr_spec_banks_and_high_pcrs)
{
    struct wd_tpm_pcr_selection s;
    CHECK_OK(wd_tpm_pcr_spec_parse("sha256:0,1,7+sha1:0+sha384:23+sha512:31,24", &s, NULL));
    CHECK_EQ(s.count, 4);
    CHECK_EQ(s.banks[0].hash, WD_TPM_ALG_SHA256);
    CHECK_EQ(s.banks[1].hash, WD_TPM_ALG_SHA1);
    CHECK_EQ(s.banks[2].hash, WD_TPM_ALG_SHA384);
    CHECK_EQ(s.banks[3].hash, WD_TPM_ALG_SHA512);
    CHECK_EQ(s.banks[2].size_of_select, 3);
    CHECK_EQ(s.banks[2].select[2], 0x80);
    /* PCRs 24..31 need a fourth select byte */
    CHECK_EQ(s.banks[3].size_of_select, 4);
    CHECK_EQ(s.banks[3].select[3], 0x81);
    size_t n = 0, bytes = 0;
    wd_tpm_pcr_selection_size(&s, &n, &bytes);
    CHECK_EQ(n, 3 + 1 + 1 + 2);
    CHECK_EQ(bytes, 3 * 32 + 20 + 48 + 2 * 64);
    /* what the parser makes is a TPML_PCR_SELECTION the verifier's parser accepts */
    struct wd_buf b;
    wd_buf_init(&b, 256);
    struct wd_tpm_pcr_selection back;
    enum wd_tpm_reason why = WD_TPM_OK;
    CHECK_OK(wd_tpm_pcr_selection_marshal(&s, &b));
    int rc = wd_tpm_pcr_selection_parse(b.p, b.len, &back, &why);
    wd_buf_cleanup(&b);
    CHECK_OK(rc);
    CHECK_MEM(&back, &s, sizeof(s));
}

/* A refused spec: WD_EINVAL and a message that holds `want` (the column and the rule). */
struct bad_spec {
    const char *spec;
    const char *want;
};

static const struct bad_spec bad_specs[] = {
        {"", "empty"},
        {"sha256", "column 7: expected ':'"},
        {"sha256:", "column 8: expected a PCR number"},
        {"sha256:,1", "column 8: expected a PCR number"},
        {"sha256:1,", "column 10: expected a PCR number"},
        {"sha256:1,,2", "column 10: expected a PCR number"},
        {"sha256:01", "column 8: PCR number with a leading zero"},
        {"sha256:00", "leading zero"},
        {"sha256:32", "column 8: PCR number out of range"},
        {"sha256:100", "column 8: PCR number out of range"},
        {"sha256:99999999999999999999", "out of range"},
        {"sha256:1,1", "column 10: PCR listed twice"},
        {"sha256:1+sha256:2", "bank selected twice"},
        {"sha256:1+", "column 10: expected a bank name"},
        {"+sha256:1", "column 1: expected a bank name"},
        {":1", "column 1: expected a bank name"},
        {"md5:1", "column 1: unknown bank"},
        {"SHA256:1", "column 1: unknown bank"},
        {"sha2561:1", "unknown bank"},
        {" sha256:1", "column 1: unknown bank"},
        {"sha256:1 ", "column 9: expected ',' or '+'"},
        {"sha256: 1", "column 8: expected a PCR number"},
        {"sha256:a", "column 8: expected a PCR number"},
        {"sha256:-1", "column 8: expected a PCR number"},
        {"sha256;1", "unknown bank"},
        {"sha256:1:2", "column 9: expected ',' or '+'"},
        {"sha256:1,sha1:2", "column 10: expected a PCR number"},
        {"sha1:0+sha256:0+sha384:0+sha512:0+sha1:1", "column 35: more than 4 banks"},
        {"sha256,1", "column 7: expected ':'"},
};

TEST(pcr_spec_refusals)
{
    for (size_t i = 0; i < WD_ARRAY_LEN(bad_specs); i++) {
        struct wd_tpm_pcr_selection s;
        struct wd_diag d = {{0}};
        int rc = wd_tpm_pcr_spec_parse(bad_specs[i].spec, &s, &d);
        if (rc != WD_EINVAL || strstr(d.msg, bad_specs[i].want) == NULL) {
            printf("spec \"%s\": rc %d, diag \"%s\", want \"%s\"\n", bad_specs[i].spec, rc, d.msg,
                   bad_specs[i].want);
        }
        CHECK_ERR(rc, WD_EINVAL);
        CHECK(strstr(d.msg, bad_specs[i].want) != NULL);
        CHECK(strncmp(d.msg, "PCR selection", 13) == 0);
        /* a NULL diag is allowed */
        CHECK_ERR(wd_tpm_pcr_spec_parse(bad_specs[i].spec, &s, NULL), WD_EINVAL);
    }
}

TEST(pcr_spec_limits_and_args)
{
    struct wd_tpm_pcr_selection s;
    struct wd_diag d = {{0}};
    /* 511 characters are allowed, 512 are not */
    char spec[600];
    size_t n = (size_t)snprintf(spec, sizeof(spec), "sha256:0");
    while (n < 511) {
        spec[n++] = 'x';
    }
    spec[n] = '\0';
    CHECK_ERR(wd_tpm_pcr_spec_parse(spec, &s, &d), WD_EINVAL);
    CHECK(strstr(d.msg, "column 9: expected ','") != NULL);
    spec[n++] = 'x';
    spec[n] = '\0';
    CHECK_ERR(wd_tpm_pcr_spec_parse(spec, &s, &d), WD_EINVAL);
    CHECK(strstr(d.msg, "longer than 511") != NULL);
    /* the longest useful spec: every PCR of all four banks */
    char all[600];
    size_t off = 0;
    const char *names[] = {"sha1", "sha256", "sha384", "sha512"};
    for (size_t b = 0; b < 4; b++) {
        off += (size_t)snprintf(all + off, sizeof(all) - off, "%s%s:", b > 0 ? "+" : "", names[b]);
        for (unsigned p = 0; p < WD_TPM_PCR_MAX; p++) {
            off += (size_t)snprintf(all + off, sizeof(all) - off, "%s%u", p > 0 ? "," : "", p);
        }
    }
    CHECK(off <= 511);
    CHECK_OK(wd_tpm_pcr_spec_parse(all, &s, &d));
    size_t cnt = 0, bytes = 0;
    wd_tpm_pcr_selection_size(&s, &cnt, &bytes);
    CHECK_EQ(cnt, 4 * WD_TPM_PCR_MAX);
    CHECK_ERR(wd_tpm_pcr_spec_parse(NULL, &s, &d), WD_EINVAL);
    CHECK_ERR(wd_tpm_pcr_spec_parse("sha256:0", NULL, &d), WD_EINVAL);
}

TEST(pcr_spec_format_round_trip)
{
    static const struct {
        const char *in, *canon;
    } cases[] = {
            {"sha256:0,1,7", "sha256:0,1,7"},
            {"sha256:7,1,0", "sha256:0,1,7"},
            {"sha1:31,0+sha512:23", "sha1:0,31+sha512:23"},
            {"sha384:5+sha256:4+sha1:3+sha512:2", "sha384:5+sha256:4+sha1:3+sha512:2"},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        struct wd_tpm_pcr_selection s, t;
        struct wd_buf b;
        wd_buf_init(&b, 256);
        CHECK_OK(wd_tpm_pcr_spec_parse(cases[i].in, &s, NULL));
        int rc = wd_tpm_pcr_spec_format(&s, &b);
        if (rc == WD_OK) {
            rc = strcmp(wd_buf_str(&b), cases[i].canon) == 0 ? WD_OK : WD_EPROTO;
        }
        if (rc == WD_OK) {
            rc = wd_tpm_pcr_spec_parse(wd_buf_str(&b), &t, NULL);
        }
        wd_buf_cleanup(&b);
        CHECK_OK(rc);
        CHECK_MEM(&s, &t, sizeof(s));
    }
}

TEST(pcr_spec_format_refusals)
{
    struct wd_tpm_pcr_selection s;
    struct wd_buf b;
    wd_buf_init(&b, 256);
    CHECK_OK(wd_buf_append_str(&b, "keep"));
    memset(&s, 0, sizeof(s));
    int rc1 = wd_tpm_pcr_spec_format(&s, &b); /* no bank */
    CHECK_OK(wd_tpm_pcr_spec_parse("sha256:1+sha1:2", &s, NULL));
    s.banks[1].select[0] = 0; /* second bank selects nothing */
    int rc2 = wd_tpm_pcr_spec_format(&s, &b);
    CHECK_OK(wd_tpm_pcr_spec_parse("sha256:1", &s, NULL));
    s.banks[0].hash = WD_TPM_ALG_AES;
    int rc3 = wd_tpm_pcr_spec_format(&s, &b);
    s.banks[0].hash = WD_TPM_ALG_SHA256;
    s.banks[0].size_of_select = 5;
    int rc4 = wd_tpm_pcr_spec_format(&s, &b);
    s.banks[0].size_of_select = 3;
    /* a cap too small: WD_ELIMIT, nothing appended */
    struct wd_buf small;
    wd_buf_init(&small, 7);
    int rc5 = wd_tpm_pcr_spec_format(&s, &small);
    size_t small_len = small.len;
    wd_buf_cleanup(&small);
    bool kept = strcmp(wd_buf_str(&b), "keep") == 0;
    wd_buf_cleanup(&b);
    CHECK_ERR(rc1, WD_EINVAL);
    CHECK_ERR(rc2, WD_EINVAL);
    CHECK_ERR(rc3, WD_EINVAL);
    CHECK_ERR(rc4, WD_EINVAL);
    CHECK_ERR(rc5, WD_ELIMIT);
    CHECK_EQ(small_len, 0);
    CHECK(kept);
    CHECK_ERR(wd_tpm_pcr_spec_format(NULL, &b), WD_EINVAL);
}

TEST(pcr_spec_format_alloc_failures)
{
    struct wd_tpm_pcr_selection s;
    CHECK_OK(wd_tpm_pcr_spec_parse("sha256:0,1,2,3+sha1:7", &s, NULL));
    struct wd_buf b;
    wd_buf_init(&b, 256);
    CHECK_ALLOC_SWEEP(wd_tpm_pcr_spec_format(&s, &b), wd_buf_cleanup(&b); wd_buf_init(&b, 256));
}

TEST(dev_argument_checks)
{
    struct wd_diag d = {{0}};
    struct wd_buf a, b, c;
    wd_buf_init(&a, 64);
    wd_buf_init(&b, 64);
    wd_buf_init(&c, 64);
    uint8_t nonce[32] = {0};
    struct wd_tpm_pcr_selection sel;
    CHECK_OK(wd_tpm_pcr_spec_parse("sha256:0", &sel, NULL));
    CHECK_ERR(wd_tpm_dev_open("device:/nonexistent", NULL, &d), WD_EINVAL);
    CHECK_ERR(wd_tpm_dev_ek(NULL, false, &a, &b, &d), WD_EINVAL);
    CHECK_ERR(wd_tpm_dev_ak_create(NULL, &a, &b, &d), WD_EINVAL);
    CHECK_ERR(wd_tpm_dev_ak_load(NULL, wd_buf_slice(&a), wd_buf_slice(&b), &d), WD_EINVAL);
    CHECK_ERR(wd_tpm_dev_activate(NULL, wd_buf_slice(&a), wd_buf_slice(&b), &c, &d), WD_EINVAL);
    CHECK_ERR(wd_tpm_dev_quote(NULL, &sel, (struct wd_slice){nonce, sizeof(nonce)}, &a, &b, &c, &d),
              WD_EINVAL);
    CHECK_ERR(wd_tpm_dev_pcr_extend_sha256(NULL, 0, nonce, &d), WD_EINVAL);
    CHECK(strstr(d.msg, "PCR extend") != NULL);
    wd_tpm_dev_close(NULL);
    wd_buf_cleanup(&a);
    wd_buf_cleanup(&b);
    wd_buf_cleanup(&c);
}

TEST(dev_open_bad_tcti)
{
    struct wd_diag d = {{0}};
    struct wd_tpm_dev *dev = (struct wd_tpm_dev *)&d; /* must be reset to NULL */
    /* no TCTI library of that name: a configuration error, said in the TSS's words */
    CHECK_ERR(wd_tpm_dev_open("nosuchtcti:x", &dev, &d), WD_ECONFIG);
    CHECK(dev == NULL);
    CHECK(strstr(d.msg, "TCTI configuration refused") != NULL);
    /* a configuration string the TCTI cannot parse */
    CHECK_ERR(wd_tpm_dev_open("swtpm:port=notaport", &dev, &d), WD_ECONFIG);
    CHECK(dev == NULL);
    /* a device that does not exist: the TPM cannot be reached */
    CHECK_ERR(wd_tpm_dev_open("device:/nonexistent/tpmrm0", &dev, &d), WD_EIO);
    CHECK(dev == NULL);
    CHECK(strstr(d.msg, "TPM") != NULL);
}

int main(void)
{
    /* tpm2-tss logs expected TCTI failures to stderr; keep the test output readable. */
    (void)setenv("TSS2_LOG", "all+none", 0);
    RUN(pcr_spec_one_bank);
    RUN(pcr_spec_banks_and_high_pcrs);
    RUN(pcr_spec_refusals);
    RUN(pcr_spec_limits_and_args);
    RUN(pcr_spec_format_round_trip);
    RUN(pcr_spec_format_refusals);
    RUN(pcr_spec_format_alloc_failures);
    RUN(dev_argument_checks);
    RUN(dev_open_bad_tcti);
    return HARNESS_END("tpm_dev");
}
