/*
 * The warden claims extension: golden DER, round trips, every strict-DER rule of the decoder,
 * truncation at every offset, single-bit corruption, and allocation failure in the encoder.
 */
#include <string.h>

#include "warden/buf.h"
#include "warden/claims.h"

#include "harness.h"

static struct wd_claims full_claims(void)
{
    struct wd_claims c;
    uint8_t m[32];
    for (size_t i = 0; i < sizeof(m); i++) {
        m[i] = (uint8_t)i;
    }
    wd_claims_init(&c);
    if (wd_claims_set_node(&c, "node-1", NULL) < 0 || wd_claims_set_party(&c, "hospital", NULL) < 0
        || wd_claims_set_measurement(&c, m, sizeof(m), NULL) < 0) {
        wd_claims_init(&c);
    }
    wd_claims_set_attest(&c, WD_ATTEST_TPM);
    wd_claims_set_manifest_version(&c, 300);
    return c;
}

static int decode_bytes(const uint8_t *p, size_t n, struct wd_claims *out, const char **why)
{
    return wd_claims_decode(p, n, out, why);
}

TEST(golden_encoding)
{
    struct wd_claims c = full_claims();
    CHECK_EQ(c.present, WD_CLAIM_NODE | WD_CLAIM_ATTEST | WD_CLAIM_MEASUREMENT | WD_CLAIM_MANIFEST
                                | WD_CLAIM_PARTY);
    struct wd_buf b;
    wd_buf_init(&b, 4096);
    CHECK_OK(wd_claims_encode(&c, &b));
    static const uint8_t want_head[] = {
            0x30, 0x40,                                /* SEQUENCE, 64 bytes */
            0x02, 0x01, 0x01,                          /* version 1 */
            0x80, 0x06, 'n',  'o', 'd', 'e', '-', '1', /* [0] node */
            0x81, 0x03, 't',  'p', 'm',                /* [1] attestation */
            0x82, 0x20,                                /* [2] measurement, 32 bytes */
    };
    static const uint8_t want_tail[] = {
            0x83, 0x02, 0x01, 0x2c,                               /* [3] 300 */
            0x84, 0x08, 'h',  'o',  's', 'p', 'i', 't', 'a', 'l', /* [4] party */
    };
    CHECK_EQ(b.len, sizeof(want_head) + 32 + sizeof(want_tail));
    CHECK_MEM(b.p, want_head, sizeof(want_head));
    for (size_t i = 0; i < 32; i++) {
        CHECK_EQ(b.p[sizeof(want_head) + i], i);
    }
    CHECK_MEM(b.p + sizeof(want_head) + 32, want_tail, sizeof(want_tail));

    struct wd_claims d;
    CHECK_OK(decode_bytes(b.p, b.len, &d, NULL));
    CHECK_EQ(d.present, c.present);
    CHECK_STR(d.node, "node-1");
    CHECK_STR(d.party, "hospital");
    CHECK_EQ(d.attest, WD_ATTEST_TPM);
    CHECK_EQ(d.manifest_version, 300);
    CHECK_EQ(d.measurement_len, 32);
    CHECK_MEM(d.measurement, c.measurement, 32);
    wd_buf_cleanup(&b);
}

TEST(empty_and_single_fields)
{
    struct wd_claims c, d;
    struct wd_buf b;
    wd_buf_init(&b, 4096);
    wd_claims_init(&c);
    CHECK_OK(wd_claims_encode(&c, &b));
    static const uint8_t empty[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    CHECK_EQ(b.len, sizeof(empty));
    CHECK_MEM(b.p, empty, sizeof(empty));
    CHECK_OK(decode_bytes(b.p, b.len, &d, NULL));
    CHECK_EQ(d.present, 0);

    static const uint64_t versions[] = {
            0, 1, 127, 128, 255, 256, 0x7fffffffffffffffULL, 0x8000000000000000ULL, UINT64_MAX};
    for (size_t i = 0; i < WD_ARRAY_LEN(versions); i++) {
        wd_buf_reset(&b);
        wd_claims_init(&c);
        wd_claims_set_manifest_version(&c, versions[i]);
        CHECK_OK(wd_claims_encode(&c, &b));
        CHECK_OK(decode_bytes(b.p, b.len, &d, NULL));
        CHECK_EQ(d.present, WD_CLAIM_MANIFEST);
        CHECK(d.manifest_version == versions[i]);
    }
    for (int a = WD_ATTEST_TPM; a <= WD_ATTEST_NONE; a++) {
        wd_buf_reset(&b);
        wd_claims_init(&c);
        wd_claims_set_attest(&c, (enum wd_attest)a);
        CHECK_OK(wd_claims_encode(&c, &b));
        CHECK_OK(decode_bytes(b.p, b.len, &d, NULL));
        CHECK_EQ(d.attest, a);
        enum wd_attest back;
        const char *name = wd_attest_name((enum wd_attest)a);
        CHECK(name != NULL);
        CHECK_OK(wd_attest_parse(name, strlen(name), &back));
        CHECK_EQ(back, a);
    }
    uint8_t m[64];
    memset(m, 0xab, sizeof(m));
    static const size_t mlens[] = {32, 48, 64};
    for (size_t i = 0; i < WD_ARRAY_LEN(mlens); i++) {
        wd_buf_reset(&b);
        wd_claims_init(&c);
        CHECK_OK(wd_claims_set_measurement(&c, m, mlens[i], NULL));
        CHECK_OK(wd_claims_encode(&c, &b));
        CHECK_OK(decode_bytes(b.p, b.len, &d, NULL));
        CHECK_EQ(d.measurement_len, mlens[i]);
    }
    /* A 255-byte node name takes the long length form 0x81 0xff. */
    char longname[256];
    memset(longname, 'n', 255);
    longname[255] = '\0';
    wd_buf_reset(&b);
    wd_claims_init(&c);
    CHECK_OK(wd_claims_set_node(&c, longname, NULL));
    CHECK_OK(wd_claims_encode(&c, &b));
    CHECK_EQ(b.p[0], 0x30);
    CHECK_EQ(b.p[1], 0x82); /* 3 + 3 + 255 = 261 bytes of content */
    CHECK_EQ(b.p[4], 0x02);
    CHECK_EQ(b.p[7], 0x80);
    CHECK_EQ(b.p[8], 0x81);
    CHECK_EQ(b.p[9], 0xff);
    CHECK_OK(decode_bytes(b.p, b.len, &d, NULL));
    CHECK_STR(d.node, longname);
    /* Non-ASCII UTF-8 is fine. */
    wd_claims_init(&c);
    CHECK_OK(wd_claims_set_party(&c, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92", NULL));
    wd_buf_cleanup(&b);
}

TEST(setters_reject)
{
    struct wd_claims c;
    struct wd_diag d;
    wd_claims_init(&c);
    CHECK_ERR(wd_claims_set_node(&c, "", &d), WD_EPROTO);
    CHECK_STR(d.msg, "claims: node: empty text");
    CHECK_ERR(wd_claims_set_node(&c, "a\nb", &d), WD_EPROTO);
    CHECK_STR(d.msg, "claims: node: control character in text");
    CHECK_ERR(wd_claims_set_party(&c, "\xc3\x28", &d), WD_EPROTO);
    CHECK_STR(d.msg, "claims: party: invalid UTF-8");
    CHECK_ERR(wd_claims_set_party(&c, "\xc2\x85", &d), WD_EPROTO); /* C1 NEL */
    char big[300];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_ERR(wd_claims_set_party(&c, big, &d), WD_EPROTO);
    CHECK_STR(d.msg, "claims: party: text too long (at most 255 bytes)");
    uint8_t m[64] = {0};
    CHECK_ERR(wd_claims_set_measurement(&c, m, 31, &d), WD_EPROTO);
    CHECK_STR(d.msg, "claims: measurement is 31 bytes; it must be 32, 48 or 64");
    CHECK_ERR(wd_claims_set_measurement(&c, m, 0, NULL), WD_EPROTO);
    CHECK_EQ(c.present, 0);
    enum wd_attest a;
    CHECK_ERR(wd_attest_parse("TPM", 3, &a), WD_EPROTO);
    CHECK_ERR(wd_attest_parse("tp", 2, &a), WD_EPROTO);
    CHECK_ERR(wd_attest_parse("tpmx", 4, &a), WD_EPROTO);
    CHECK(wd_attest_name((enum wd_attest)0) == NULL);
    CHECK(wd_attest_name((enum wd_attest)99) == NULL);
    /* Encoding refuses a struct filled by hand with an invalid field. */
    struct wd_buf b;
    wd_buf_init(&b, 4096);
    wd_claims_init(&c);
    c.present = WD_CLAIM_ATTEST;
    c.attest = (enum wd_attest)42;
    CHECK_ERR(wd_claims_encode(&c, &b), WD_EINVAL);
    wd_claims_init(&c);
    c.present = WD_CLAIM_MEASUREMENT;
    c.measurement_len = 20;
    CHECK_ERR(wd_claims_encode(&c, &b), WD_EINVAL);
    wd_claims_init(&c);
    c.present = WD_CLAIM_NODE;
    CHECK_ERR(wd_claims_encode(&c, &b), WD_EINVAL);
    CHECK_EQ(b.len, 0);
    wd_buf_cleanup(&b);
}

struct bad_case {
    const char *name;
    const uint8_t *der;
    size_t len;
    const char *reason;
};

#define BAD(name, reason, ...)                                                               \
    {                                                                                        \
        name, (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}), reason \
    }

TEST(decoder_rules)
{
    const struct bad_case cases[] = {
            BAD("not a sequence", "not a SEQUENCE", 0x31, 0x03, 0x02, 0x01, 0x01),
            BAD("trailing", "trailing bytes", 0x30, 0x03, 0x02, 0x01, 0x01, 0x00),
            BAD("indefinite", "indefinite length", 0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00),
            BAD("non-minimal 0x81", "non-minimal length", 0x30, 0x81, 0x03, 0x02, 0x01, 0x01),
            BAD("non-minimal 0x82", "non-minimal length", 0x30, 0x82, 0x00, 0x03, 0x02, 0x01, 0x01),
            BAD("0x83 length", "length too large", 0x30, 0x83, 0x00, 0x00, 0x03, 0x02, 0x01, 0x01),
            BAD("high tag", "multi-octet tag", 0x30, 0x05, 0x02, 0x01, 0x01, 0x9f, 0x00),
            BAD("no version", "version missing", 0x30, 0x03, 0x80, 0x01, 'a'),
            BAD("empty sequence", "truncated", 0x30, 0x00),
            BAD("version 2", "unsupported version", 0x30, 0x03, 0x02, 0x01, 0x02),
            BAD("version 0", "unsupported version", 0x30, 0x03, 0x02, 0x01, 0x00),
            BAD("version padded", "non-minimal integer", 0x30, 0x04, 0x02, 0x02, 0x00, 0x01),
            BAD("version empty", "empty integer", 0x30, 0x02, 0x02, 0x00),
            BAD("unknown [5]", "unknown field", 0x30, 0x06, 0x02, 0x01, 0x01, 0x85, 0x01, 'x'),
            BAD("unknown [30]", "unknown field", 0x30, 0x06, 0x02, 0x01, 0x01, 0x9e, 0x01, 'x'),
            BAD("constructed [0]", "unexpected tag", 0x30, 0x06, 0x02, 0x01, 0x01, 0xa0, 0x01, 'x'),
            BAD("universal field", "unexpected tag", 0x30, 0x06, 0x02, 0x01, 0x01, 0x0c, 0x01, 'x'),
            BAD("out of order", "fields out of order or repeated", 0x30, 0x09, 0x02, 0x01, 0x01,
                0x84, 0x01, 'p', 0x80, 0x01, 'n'),
            BAD("repeated", "fields out of order or repeated", 0x30, 0x09, 0x02, 0x01, 0x01, 0x80,
                0x01, 'a', 0x80, 0x01, 'b'),
            BAD("empty node", "empty text", 0x30, 0x05, 0x02, 0x01, 0x01, 0x80, 0x00),
            BAD("overlong utf8", "invalid UTF-8", 0x30, 0x07, 0x02, 0x01, 0x01, 0x80, 0x02, 0xc0,
                0x80),
            BAD("surrogate", "invalid UTF-8", 0x30, 0x08, 0x02, 0x01, 0x01, 0x80, 0x03, 0xed, 0xa0,
                0x80),
            BAD("above U+10FFFF", "invalid UTF-8", 0x30, 0x09, 0x02, 0x01, 0x01, 0x80, 0x04, 0xf4,
                0x90, 0x80, 0x80),
            BAD("cut utf8", "invalid UTF-8", 0x30, 0x07, 0x02, 0x01, 0x01, 0x80, 0x02, 'a', 0xc3),
            BAD("nul in text", "control character in text", 0x30, 0x07, 0x02, 0x01, 0x01, 0x84,
                0x02, 'a', 0x00),
            BAD("DEL in text", "control character in text", 0x30, 0x06, 0x02, 0x01, 0x01, 0x84,
                0x01, 0x7f),
            BAD("unknown attestation", "unknown attestation type", 0x30, 0x08, 0x02, 0x01, 0x01,
                0x81, 0x03, 'T', 'P', 'M'),
            BAD("short measurement", "measurement must be 32, 48 or 64 bytes", 0x30, 0x06, 0x02,
                0x01, 0x01, 0x82, 0x01, 0x00),
            BAD("negative manifest", "negative integer", 0x30, 0x06, 0x02, 0x01, 0x01, 0x83, 0x01,
                0xff),
            BAD("padded manifest", "non-minimal integer", 0x30, 0x07, 0x02, 0x01, 0x01, 0x83, 0x02,
                0x00, 0x7f),
            BAD("empty manifest", "empty integer", 0x30, 0x05, 0x02, 0x01, 0x01, 0x83, 0x00),
            BAD("manifest 2^64", "integer too large", 0x30, 0x0e, 0x02, 0x01, 0x01, 0x83, 0x09,
                0x01, 0, 0, 0, 0, 0, 0, 0, 0),
            BAD("manifest 10 bytes", "non-minimal integer", 0x30, 0x0f, 0x02, 0x01, 0x01, 0x83,
                0x0a, 0x00, 0x00, 0xff, 0, 0, 0, 0, 0, 0, 0),
            BAD("field runs past end", "truncated", 0x30, 0x07, 0x02, 0x01, 0x01, 0x80, 0x05, 'a',
                'b'),
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        struct wd_claims d;
        const char *why = NULL;
        int rc = decode_bytes(cases[i].der, cases[i].len, &d, &why);
        if (rc != WD_EPROTO || why == NULL || strcmp(why, cases[i].reason) != 0) {
            printf("case '%s': rc %d reason '%s'\n", cases[i].name, rc, why ? why : "(null)");
        }
        CHECK_ERR(rc, WD_EPROTO);
        CHECK_STR(why, cases[i].reason);
    }
    /* The largest manifest version, 2^64-1, is 9 bytes with a leading zero. */
    static const uint8_t max_manifest[] = {0x30, 0x0e, 0x02, 0x01, 0x01, 0x83, 0x09, 0x00,
                                           0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    struct wd_claims d;
    CHECK_OK(decode_bytes(max_manifest, sizeof(max_manifest), &d, NULL));
    CHECK(d.manifest_version == UINT64_MAX);
    /* Oversized input is rejected before parsing. */
    static uint8_t huge[WD_CLAIMS_DER_MAX + 1];
    const char *why = NULL;
    CHECK_ERR(decode_bytes(huge, sizeof(huge), &d, &why), WD_EPROTO);
    CHECK_STR(why, "too long");
    CHECK_ERR(decode_bytes(NULL, 0, &d, NULL), WD_EPROTO);
}

TEST(truncation_and_bit_flips)
{
    struct wd_claims c = full_claims(), d;
    struct wd_buf b, again;
    wd_buf_init(&b, 4096);
    wd_buf_init(&again, 4096);
    CHECK_OK(wd_claims_encode(&c, &b));
    for (size_t n = 0; n < b.len; n++) {
        CHECK_ERR(decode_bytes(b.p, n, &d, NULL), WD_EPROTO);
    }
    /* DER has one encoding per value: a corrupted input either fails or is itself canonical. */
    uint8_t copy[256];
    CHECK(b.len <= sizeof(copy));
    for (size_t i = 0; i < b.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, b.p, b.len);
            copy[i] ^= (uint8_t)(1u << bit);
            if (decode_bytes(copy, b.len, &d, NULL) == WD_OK) {
                wd_buf_reset(&again);
                CHECK_OK(wd_claims_encode(&d, &again));
                CHECK_EQ(again.len, b.len);
                CHECK_MEM(again.p, copy, b.len);
            }
        }
    }
    wd_buf_cleanup(&b);
    wd_buf_cleanup(&again);
}

TEST(encode_limits_and_alloc)
{
    struct wd_claims c = full_claims();
    struct wd_buf b;
    wd_buf_init(&b, 10);
    CHECK_ERR(wd_claims_encode(&c, &b), WD_ELIMIT);
    CHECK_EQ(b.len, 0);
    wd_buf_cleanup(&b);
    CHECK_ALLOC_SWEEP((wd_buf_init(&b, 4096), wd_claims_encode(&c, &b)), wd_buf_cleanup(&b));
    CHECK_ALLOC_SWEEP((wd_buf_init(&b, 4096), wd_claims_to_json(&c, &b)), wd_buf_cleanup(&b));
}

TEST(json_form)
{
    struct wd_claims c = full_claims();
    struct wd_buf b;
    wd_buf_init(&b, 4096);
    CHECK_OK(wd_claims_to_json(&c, &b));
    CHECK_STR(wd_buf_str(&b),
              "{\"node\":\"node-1\",\"attestation\":\"tpm\",\"measurement\":"
              "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\","
              "\"manifest_version\":300,\"party\":\"hospital\"}");
    wd_buf_reset(&b);
    wd_claims_init(&c);
    CHECK_OK(wd_claims_to_json(&c, &b));
    CHECK_STR(wd_buf_str(&b), "{}");
    wd_buf_reset(&b);
    CHECK_OK(wd_claims_set_party(&c, "a\"b\\c", NULL));
    CHECK_OK(wd_claims_to_json(&c, &b));
    CHECK_STR(wd_buf_str(&b), "{\"party\":\"a\\\"b\\\\c\"}");
    wd_buf_reset(&b);
    wd_claims_init(&c);
    wd_claims_set_manifest_version(&c, 7);
    CHECK_OK(wd_claims_to_json(&c, &b));
    CHECK_STR(wd_buf_str(&b), "{\"manifest_version\":7}");
    wd_buf_cleanup(&b);
}

int main(void)
{
    RUN(golden_encoding);
    RUN(empty_and_single_fields);
    RUN(setters_reject);
    RUN(decoder_rules);
    RUN(truncation_and_bit_flips);
    RUN(encode_limits_and_alloc);
    RUN(json_form);
    return HARNESS_END("claims");
}
