/* Unit tests for hex and base64 (RFC 4648), strict decoding included. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/codec.h"
#include "warden/err.h"

#include "harness.h"

/* RFC 4648 §10 test vectors. */
static const struct {
    const char *in;
    const char *b64;
    const char *b64url; /* unpadded */
    const char *hex;
} rfc[] = {
        {"", "", "", ""},
        {"f", "Zg==", "Zg", "66"},
        {"fo", "Zm8=", "Zm8", "666f"},
        {"foo", "Zm9v", "Zm9v", "666f6f"},
        {"foob", "Zm9vYg==", "Zm9vYg", "666f6f62"},
        {"fooba", "Zm9vYmE=", "Zm9vYmE", "666f6f6261"},
        {"foobar", "Zm9vYmFy", "Zm9vYmFy", "666f6f626172"},
};

static int decodes_to(int hex, enum wd_b64_alphabet alpha, const char *in, const void *want,
                      size_t want_len)
{
    struct wd_buf b;
    wd_buf_init(&b, 1 << 16);
    int rc = hex ? wd_hex_decode(&b, in, strlen(in)) : wd_b64_decode(&b, in, strlen(in), alpha);
    int ok =
            rc == WD_OK && b.len == want_len && (want_len == 0 || memcmp(b.p, want, want_len) == 0);
    if (!ok) {
        printf("  decoding \"%s\": rc %d len %zu\n", in, rc, b.len);
    }
    wd_buf_cleanup(&b);
    return ok;
}

/* Decoding fails with WD_EPROTO and leaves what the buffer held untouched. */
static int rejects(int hex, enum wd_b64_alphabet alpha, const char *in, size_t n)
{
    struct wd_buf b;
    wd_buf_init(&b, 1 << 16);
    int rc = wd_buf_append_str(&b, "keep");
    if (rc == WD_OK) {
        rc = hex ? wd_hex_decode(&b, in, n) : wd_b64_decode(&b, in, n, alpha);
    }
    int ok = rc == WD_EPROTO && strcmp(wd_buf_str(&b), "keep") == 0;
    if (!ok) {
        printf("  \"%.*s\" (alphabet %d): rc %d, buffer \"%s\"\n", (int)n, in, (int)alpha, rc,
               wd_buf_str(&b));
    }
    wd_buf_cleanup(&b);
    return ok;
}

#define HEX_REJECTS(s) CHECK(rejects(1, WD_B64_STD, (s), strlen(s)))
#define B64_REJECTS(s) CHECK(rejects(0, WD_B64_STD, (s), strlen(s)))
#define URL_REJECTS(s) CHECK(rejects(0, WD_B64_URL, (s), strlen(s)))

TEST(rfc4648_vectors)
{
    for (size_t k = 0; k < WD_ARRAY_LEN(rfc); k++) {
        struct wd_buf b;
        size_t n = strlen(rfc[k].in);
        wd_buf_init(&b, 1 << 16);
        CHECK_OK(wd_b64_encode(&b, rfc[k].in, n, WD_B64_STD));
        CHECK_STR(wd_buf_str(&b), rfc[k].b64);
        wd_buf_reset(&b);
        CHECK_OK(wd_b64_encode(&b, rfc[k].in, n, WD_B64_URL));
        CHECK_STR(wd_buf_str(&b), rfc[k].b64url);
        wd_buf_reset(&b);
        CHECK_OK(wd_hex_encode(&b, rfc[k].in, n));
        CHECK_STR(wd_buf_str(&b), rfc[k].hex);
        wd_buf_cleanup(&b);
        CHECK(decodes_to(0, WD_B64_STD, rfc[k].b64, rfc[k].in, n));
        /* base64url decodes with or without padding. */
        CHECK(decodes_to(0, WD_B64_URL, rfc[k].b64url, rfc[k].in, n));
        CHECK(decodes_to(0, WD_B64_URL, rfc[k].b64, rfc[k].in, n));
        CHECK(decodes_to(1, WD_B64_STD, rfc[k].hex, rfc[k].in, n));
    }
    /* RFC 4648 §10 spells BASE16 in upper case; decoding takes either case. */
    CHECK(decodes_to(1, WD_B64_STD, "666F6F626172", "foobar", 6));
    CHECK(decodes_to(1, WD_B64_STD, "DeadBeef", "\xde\xad\xbe\xef", 4));
}

TEST(alphabets_differ)
{
    /* 0xfb 0xff 0xbf uses both of the characters where the alphabets differ. */
    static const uint8_t raw[] = {0xfb, 0xff, 0xbf, 0xfe};
    struct wd_buf b;
    wd_buf_init(&b, 64);
    CHECK_OK(wd_b64_encode(&b, raw, sizeof(raw), WD_B64_STD));
    CHECK_STR(wd_buf_str(&b), "+/+//g==");
    wd_buf_reset(&b);
    CHECK_OK(wd_b64_encode(&b, raw, sizeof(raw), WD_B64_URL));
    CHECK_STR(wd_buf_str(&b), "-_-__g");
    wd_buf_cleanup(&b);
    CHECK(decodes_to(0, WD_B64_STD, "+/+//g==", raw, sizeof(raw)));
    CHECK(decodes_to(0, WD_B64_URL, "-_-__g", raw, sizeof(raw)));
    CHECK(decodes_to(0, WD_B64_URL, "-_-__g==", raw, sizeof(raw)));
    /* Each alphabet refuses the other's two characters, and mixing them. */
    B64_REJECTS("-_-__g==");
    URL_REJECTS("+/+//g");
    B64_REJECTS("+/-_");
    URL_REJECTS("+/-_");
}

TEST(base64_strict)
{
    /* Padding: required for the standard alphabet, exact for both. */
    B64_REJECTS("Zg");
    B64_REJECTS("Zg=");
    B64_REJECTS("Zm8");
    B64_REJECTS("Zg===");
    URL_REJECTS("Zg=");
    URL_REJECTS("Zg===");
    URL_REJECTS("Zm8==");
    /* Padding only at the end, only as much as needed. */
    B64_REJECTS("Zg==Zg==");
    B64_REJECTS("Z===");
    B64_REJECTS("====");
    B64_REJECTS("=");
    B64_REJECTS("==");
    B64_REJECTS("Zm9v====");
    B64_REJECTS("Zg=a");
    B64_REJECTS("Z=g=");
    B64_REJECTS("Zm=v");
    URL_REJECTS("Zg=a");
    URL_REJECTS("====");
    /* A lone final character encodes no whole byte. */
    B64_REJECTS("Zm9vY");
    URL_REJECTS("Z");
    URL_REJECTS("Zm9vY");
    /* RFC 4648 §3.5: non-zero bits after the last byte have no canonical meaning. */
    B64_REJECTS("Zh==");
    B64_REJECTS("Zv==");
    B64_REJECTS("Zm9=");
    B64_REJECTS("Zm+=");
    URL_REJECTS("Zh");
    URL_REJECTS("Zm9");
    CHECK(decodes_to(0, WD_B64_STD, "Zm8=", "fo", 2));
    CHECK(decodes_to(0, WD_B64_STD, "AA==", "\0", 1));
    CHECK(decodes_to(0, WD_B64_STD, "AAA=", "\0\0", 2));
    /* No whitespace, no line breaks, nothing outside the alphabet. */
    B64_REJECTS("Zm9v\n");
    B64_REJECTS(" Zm9v");
    B64_REJECTS("Zm 9v");
    B64_REJECTS("Zm9v\r\nYmFy");
    B64_REJECTS("Zm9v.mFy");
    B64_REJECTS("Zm9v\x80mFy");
    URL_REJECTS("Zm9v Y");
    CHECK(rejects(0, WD_B64_STD, "Zm\0v", 4));
}

TEST(hex_strict)
{
    HEX_REJECTS("abc");
    HEX_REJECTS("0");
    HEX_REJECTS("zz");
    HEX_REJECTS("0x12");
    HEX_REJECTS(" 12");
    HEX_REJECTS("12 ");
    HEX_REJECTS("12:34");
    HEX_REJECTS("1g");
    HEX_REJECTS("\xff\xff");
    CHECK(rejects(1, WD_B64_STD, "1\0", 2));
    CHECK(decodes_to(1, WD_B64_STD, "", "", 0));
    CHECK(decodes_to(1, WD_B64_STD, "00ff10", "\x00\xff\x10", 3));
}

TEST(round_trips)
{
    /* Every length 0..700 over all byte values (several output blocks). */
    uint8_t raw[700];
    for (size_t i = 0; i < sizeof(raw); i++) {
        raw[i] = (uint8_t)(i * 131 + 7);
    }
    struct wd_buf enc, dec;
    wd_buf_init(&enc, 1 << 16);
    wd_buf_init(&dec, 1 << 16);
    for (size_t n = 0; n <= sizeof(raw); n++) {
        for (int a = 0; a < 3; a++) {
            wd_buf_reset(&enc);
            wd_buf_reset(&dec);
            if (a == 2) {
                CHECK_OK(wd_hex_encode(&enc, raw, n));
                CHECK_EQ(enc.len, 2 * n);
                CHECK_OK(wd_hex_decode(&dec, (const char *)wd_buf_str(&enc), enc.len));
            } else {
                enum wd_b64_alphabet alpha = a == 0 ? WD_B64_STD : WD_B64_URL;
                CHECK_OK(wd_b64_encode(&enc, raw, n, alpha));
                CHECK_EQ(enc.len, a == 0 ? (n + 2) / 3 * 4 : (n * 4 + 2) / 3);
                CHECK_OK(wd_b64_decode(&dec, wd_buf_str(&enc), enc.len, alpha));
            }
            CHECK_EQ(dec.len, n);
            CHECK(n == 0 || memcmp(dec.p, raw, n) == 0);
        }
    }
    wd_buf_cleanup(&enc);
    wd_buf_cleanup(&dec);
}

TEST(limits_and_appending)
{
    struct wd_buf b;
    wd_buf_init(&b, 8);
    CHECK_OK(wd_buf_append_str(&b, "x:"));
    /* Output appends after existing content. */
    CHECK_OK(wd_hex_encode(&b, "\x01\x02", 2));
    CHECK_STR(wd_buf_str(&b), "x:0102");
    /* Past the cap: WD_ELIMIT and nothing appended. */
    CHECK_ERR(wd_hex_encode(&b, "\x01\x02", 2), WD_ELIMIT);
    CHECK_ERR(wd_b64_encode(&b, "ab", 2, WD_B64_STD), WD_ELIMIT);
    CHECK_STR(wd_buf_str(&b), "x:0102");
    CHECK_OK(wd_b64_encode(&b, "a", 1, WD_B64_URL));
    CHECK_STR(wd_buf_str(&b), "x:0102YQ");
    CHECK_ERR(wd_b64_decode(&b, "YQ==", 4, WD_B64_STD), WD_ELIMIT);
    CHECK_ERR(wd_hex_decode(&b, "00", 2), WD_ELIMIT);
    CHECK_STR(wd_buf_str(&b), "x:0102YQ");
    wd_buf_cleanup(&b);
}

TEST(alloc_sweeps)
{
    static const char text[] = "Zm9vYmFyIGJheiBxdXV4IHF1dXggcXV1eCBxdXV4IHF1dXggcXV1eA==";
    struct wd_buf b;
    wd_buf_init(&b, 1 << 16);
    CHECK_ALLOC_SWEEP(wd_b64_decode(&b, text, strlen(text), WD_B64_STD), wd_buf_cleanup(&b));
    CHECK_ALLOC_SWEEP(wd_b64_encode(&b, text, strlen(text), WD_B64_URL), wd_buf_cleanup(&b));
    CHECK_ALLOC_SWEEP(wd_hex_encode(&b, text, strlen(text)), wd_buf_cleanup(&b));
    CHECK_ALLOC_SWEEP(wd_hex_decode(&b, "0123456789abcdef", 16), wd_buf_cleanup(&b));
    wd_buf_cleanup(&b);
}

int main(void)
{
    RUN(rfc4648_vectors);
    RUN(alphabets_differ);
    RUN(base64_strict);
    RUN(hex_strict);
    RUN(round_trips);
    RUN(limits_and_appending);
    RUN(alloc_sweeps);
    return HARNESS_END("codec");
}
