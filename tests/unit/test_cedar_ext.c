/*
 * Unit tests for lib/cedar/ext.c (Cedar decimal, ipaddr, datetime, duration).
 *
 * Every expected value in these tables was checked with @cedar-policy/cedar-wasm 4.13.0
 * (Cedar language 4.5): tests/cedar/ext-diff.mjs --cases runs the same inputs through the
 * reference. Cases whose outcome is not obvious from the grammar carry "cedar-wasm:" notes.
 */
#include <stdint.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/err.h"

#include "cedar/ext.h"
#include "harness.h"

/* A string literal as (pointer, length), so cases may hold NUL bytes. */
#define S(x) x, sizeof(x) - 1

/* ---------------------------------------------------------------- decimal */

struct dec_case {
    const char *s;
    size_t n;
    int rc;
    int64_t v;
};

static const struct dec_case dec_cases[] = {
        {S("1.23"), WD_OK, 12300},
        {S("1.2300"), WD_OK, 12300}, /* cedar-wasm: decimal("1.23") == decimal("1.2300") */
        {S("0.0"), WD_OK, 0},
        {S("-0.0"), WD_OK, 0}, /* cedar-wasm: equals decimal("0.0") */
        {S("00.000"), WD_OK, 0},
        {S("0.0001"), WD_OK, 1},
        {S("-0.0001"), WD_OK, -1},
        {S("-0.5"), WD_OK, -5000}, /* cedar-wasm: negative (older Cedar lost the sign) */
        {S("-1.23"), WD_OK, -12300},
        {S("123.456"), WD_OK, 1234560},
        {S("55.1"), WD_OK, 551000},
        {S("0000000000000000000000001.5"), WD_OK, 15000},
        {S("-0000000000000000000000922337203685477.5808"), WD_OK, INT64_MIN},
        {S("922337203685477.5807"), WD_OK, INT64_MAX},
        {S("-922337203685477.5808"), WD_OK, INT64_MIN},
        /* overflow */
        {S("922337203685477.5808"), WD_ELIMIT, 0},
        {S("-922337203685477.5809"), WD_ELIMIT, 0},
        {S("922337203685478.0"), WD_ELIMIT, 0},
        {S("-922337203685478.0"), WD_ELIMIT, 0},
        {S("1000000000000000.0"), WD_ELIMIT, 0},
        {S("9223372036854775807.0"), WD_ELIMIT, 0},
        {S("9223372036854775808.0"), WD_ELIMIT, 0},
        {S("-9223372036854775808.0"), WD_ELIMIT, 0},
        {S("99999999999999999999999.0"), WD_ELIMIT, 0},
        /* cedar-wasm: an overflowing integer part wins over a too-long fraction ... */
        {S("922337203685478.00000"), WD_ELIMIT, 0},
        {S("99999999999999999999.00000"), WD_ELIMIT, 0},
        /* ... but a fitting one does not */
        {S("-922337203685477.58080"), WD_EPROTO, 0},
        /* malformed */
        {S("1.00000"), WD_EPROTO, 0}, /* more than 4 digits, even zeros */
        {S("0.00001"), WD_EPROTO, 0},
        {S("0.12345"), WD_EPROTO, 0},
        {S("1"), WD_EPROTO, 0},
        {S("1234"), WD_EPROTO, 0},
        {S("1."), WD_EPROTO, 0},
        {S(".1"), WD_EPROTO, 0},
        {S("-.5"), WD_EPROTO, 0},
        {S("-."), WD_EPROTO, 0},
        {S("."), WD_EPROTO, 0},
        {S("-"), WD_EPROTO, 0},
        {S(""), WD_EPROTO, 0},
        {S("+1.0"), WD_EPROTO, 0},
        {S("--1.0"), WD_EPROTO, 0},
        {S("-+1.0"), WD_EPROTO, 0},
        {S("1.0e1"), WD_EPROTO, 0},
        {S("1e1.0"), WD_EPROTO, 0},
        {S(" 1.0"), WD_EPROTO, 0},
        {S("1.0 "), WD_EPROTO, 0},
        {S("1.0\n"), WD_EPROTO, 0},
        {S("1.0."), WD_EPROTO, 0},
        {S("1..0"), WD_EPROTO, 0},
        {S("1.a"), WD_EPROTO, 0},
        {S("1,0"), WD_EPROTO, 0},
        {S("0x1.0"), WD_EPROTO, 0},
        {S("1.0\0"), WD_EPROTO, 0},
        {S("1\0.0"), WD_EPROTO, 0},
        /* Arabic-Indic digits: the reference's \d matches them and then reports an overflow;
         * warden reports malformed text. Both are errors. */
        {S("\xd9\xa1.\xd9\xa0"), WD_EPROTO, 0},
};

TEST(decimal_parse_table)
{
    for (size_t i = 0; i < WD_ARRAY_LEN(dec_cases); i++) {
        const struct dec_case *c = &dec_cases[i];
        int64_t v = 42;
        int rc = wd_cedar_decimal_parse(c->s, c->n, &v);
        if (rc != c->rc || (rc == WD_OK && v != c->v) || (rc != WD_OK && v != 42)) {
            printf("decimal case %zu \"%s\": rc %d v %lld\n", i, c->s, rc, (long long)v);
        }
        CHECK_EQ(rc, c->rc);
        CHECK_EQ(v, rc == WD_OK ? c->v : 42);
    }
}

struct dec_fmt_case {
    int64_t v;
    const char *text;
};

static const struct dec_fmt_case dec_fmt_cases[] = {
        {12300, "1.23"},
        {0, "0.0"},
        {10000, "1.0"},
        {-10000, "-1.0"},
        {-5000, "-0.5"},
        {1, "0.0001"},
        {-1, "-0.0001"},
        {1234560, "123.456"},
        {100, "0.01"},
        {INT64_MAX, "922337203685477.5807"},
        {INT64_MIN, "-922337203685477.5808"},
};

TEST(decimal_format_table)
{
    char out[32];
    for (size_t i = 0; i < WD_ARRAY_LEN(dec_fmt_cases); i++) {
        wd_cedar_decimal_format(dec_fmt_cases[i].v, out);
        CHECK_STR(out, dec_fmt_cases[i].text);
    }
}

/* A small deterministic generator for round-trip sweeps. */
static uint64_t lcg_next(uint64_t *st)
{
    *st = *st * 6364136223846793005u + 1442695040888963407u;
    return *st;
}

TEST(decimal_round_trip)
{
    uint64_t st = 1;
    char out[32];
    for (int i = 0; i < 20000; i++) {
        int64_t v;
        if (i < 2000) {
            v = i - 1000;
        } else if (i < 2100) {
            v = INT64_MAX - (i - 2000);
        } else if (i < 2200) {
            v = INT64_MIN + (i - 2100);
        } else {
            v = (int64_t)lcg_next(&st) >> (lcg_next(&st) % 64);
        }
        wd_cedar_decimal_format(v, out);
        CHECK(strlen(out) <= 21);
        int64_t back;
        CHECK_OK(wd_cedar_decimal_parse(out, strlen(out), &back));
        CHECK_EQ(back, v);
    }
}

/* ---------------------------------------------------------------- ipaddr */

struct ip_case {
    const char *s;
    size_t n;
    int rc;
    const char *text; /* wd_cedar_ip_format of the result */
    bool loopback;
    bool multicast;
};

static const struct ip_case ip_cases[] = {
        {S("1.2.3.4"), WD_OK, "1.2.3.4/32", false, false},
        {S("0.0.0.0"), WD_OK, "0.0.0.0/32", false, false},
        {S("0.0.0.0/0"), WD_OK, "0.0.0.0/0", false, false},
        {S("255.255.255.255"), WD_OK, "255.255.255.255/32", false, false},
        {S("255.255.255.255/32"), WD_OK, "255.255.255.255/32", false, false},
        {S("10.0.0.1/24"), WD_OK, "10.0.0.1/24", false, false}, /* host bits kept */
        {S("1.2.3.4/0"), WD_OK, "1.2.3.4/0", false, false},
        /* cedar-wasm: loopback needs 127/8 and prefix >= 8 */
        {S("127.0.0.1"), WD_OK, "127.0.0.1/32", true, false},
        {S("127.0.0.1/8"), WD_OK, "127.0.0.1/8", true, false},
        {S("127.0.0.0/8"), WD_OK, "127.0.0.0/8", true, false},
        {S("127.0.0.1/7"), WD_OK, "127.0.0.1/7", false, false},
        {S("127.255.255.255/0"), WD_OK, "127.255.255.255/0", false, false},
        {S("126.255.255.255"), WD_OK, "126.255.255.255/32", false, false},
        {S("128.0.0.1"), WD_OK, "128.0.0.1/32", false, false},
        /* cedar-wasm: multicast needs 224/4 and prefix >= 4 */
        {S("224.0.0.1"), WD_OK, "224.0.0.1/32", false, true},
        {S("224.0.0.0/4"), WD_OK, "224.0.0.0/4", false, true},
        {S("239.0.0.1/4"), WD_OK, "239.0.0.1/4", false, true},
        {S("239.0.0.1/3"), WD_OK, "239.0.0.1/3", false, false},
        {S("239.255.255.255"), WD_OK, "239.255.255.255/32", false, true},
        {S("240.0.0.0"), WD_OK, "240.0.0.0/32", false, false},
        {S("223.255.255.255"), WD_OK, "223.255.255.255/32", false, false},
        /* IPv6 */
        {S("::1"), WD_OK, "::1/128", true, false},
        {S("::1/128"), WD_OK, "::1/128", true, false},
        {S("::1/127"), WD_OK, "::1/127", false, false}, /* cedar-wasm: not loopback */
        {S("::"), WD_OK, "::/128", false, false},
        {S("::/0"), WD_OK, "::/0", false, false},
        /* cedar-wasm: IPv4-mapped addresses are plain IPv6: not loopback, not multicast */
        {S("::ffff:7f00:1"), WD_OK, "::ffff:7f00:1/128", false, false},
        {S("::ffff:e000:1"), WD_OK, "::ffff:e000:1/128", false, false},
        {S("::ffff:0102:0304"), WD_OK, "::ffff:102:304/128", false, false},
        {S("ff00::1/8"), WD_OK, "ff00::1/8", false, true},
        {S("ff00::/8"), WD_OK, "ff00::/8", false, true},
        {S("ff00::1/7"), WD_OK, "ff00::1/7", false, false},
        {S("FF02::1"), WD_OK, "ff02::1/128", false, true},
        {S("feff::"), WD_OK, "feff::/128", false, false},
        {S("1:2:3:4:5:6:7:8"), WD_OK, "1:2:3:4:5:6:7:8/128", false, false},
        {S("1:2:3:4:5:6:7::"), WD_OK, "1:2:3:4:5:6:7:0/128", false, false},
        {S("::1:2:3:4:5:6:7"), WD_OK, "0:1:2:3:4:5:6:7/128", false, false},
        {S("1::"), WD_OK, "1::/128", false, false},
        {S("0001::1"), WD_OK, "1::1/128", false, false},
        {S("0:0:1:0:0:1:0:0"), WD_OK, "::1:0:0:1:0:0/128", false, false},
        {S("1:0:0:1:0:0:0:1"), WD_OK, "1:0:0:1::1/128", false, false},
        {S("1:0:2:0:3:0:4:0"), WD_OK, "1:0:2:0:3:0:4:0/128", false, false},
        {S("0000:0000:0000:0000:0000:0000:0000:0000/128"), WD_OK, "::/128", false, false},
        {S("ABCD:EF01:2345:6789:ABCD:EF01:2345:6789/128"), WD_OK,
         "abcd:ef01:2345:6789:abcd:ef01:2345:6789/128", false, false},
        {S("fE80::A/64"), WD_OK, "fe80::a/64", false, false},
        /* IPv4 errors (Rust std::net: no leading zeros, exactly four octets) */
        {S("01.2.3.4"), WD_EPROTO, NULL, false, false},
        {S("1.2.3.004"), WD_EPROTO, NULL, false, false},
        {S("1.2.3.00"), WD_EPROTO, NULL, false, false},
        {S("256.0.0.1"), WD_EPROTO, NULL, false, false},
        {S("1.2.3.1000"), WD_EPROTO, NULL, false, false},
        {S("1.2.3"), WD_EPROTO, NULL, false, false},
        {S("1.2.3.4.5"), WD_EPROTO, NULL, false, false},
        {S("1.2.3."), WD_EPROTO, NULL, false, false},
        {S(".1.2.3"), WD_EPROTO, NULL, false, false},
        {S("1..2.3"), WD_EPROTO, NULL, false, false},
        {S("1.2.3.4 "), WD_EPROTO, NULL, false, false},
        {S(" 1.2.3.4"), WD_EPROTO, NULL, false, false},
        {S("1.2.3.4:80"), WD_EPROTO, NULL, false, false},
        {S("1.2.3.4\0"), WD_EPROTO, NULL, false, false},
        {S("+1.2.3.4"), WD_EPROTO, NULL, false, false},
        /* prefix errors (ipaddr.rs parse_prefix) */
        {S("1.2.3.4/"), WD_EPROTO, NULL, false, false},
        {S("1.2.3.4/33"), WD_EPROTO, NULL, false, false},
        {S("1.2.3.4/08"), WD_EPROTO, NULL, false, false},
        {S("1.2.3.4/00"), WD_EPROTO, NULL, false, false},
        {S("1.2.3.4/+8"), WD_EPROTO, NULL, false, false},
        {S("1.2.3.4/-1"), WD_EPROTO, NULL, false, false},
        {S("1.2.3.4/100"), WD_EPROTO, NULL, false, false},
        {S("1.2.3.4/8/8"), WD_EPROTO, NULL, false, false},
        {S("1.2.3.4/8 "), WD_EPROTO, NULL, false, false},
        {S("::/129"), WD_EPROTO, NULL, false, false},
        {S("::/0128"), WD_EPROTO, NULL, false, false},
        {S("::/012"), WD_EPROTO, NULL, false, false},
        {S("::1/"), WD_EPROTO, NULL, false, false},
        {S("/8"), WD_EPROTO, NULL, false, false},
        /* cedar-wasm: IPv4 embedded in IPv6 is rejected outright */
        {S("::ffff:1.2.3.4"), WD_EPROTO, NULL, false, false},
        {S("::1.2.3.4"), WD_EPROTO, NULL, false, false},
        {S("1:2:3:4:5:6:1.2.3.4"), WD_EPROTO, NULL, false, false},
        {S("::ffff:1.2.3.4/8"), WD_EPROTO, NULL, false, false},
        /* IPv6 errors */
        {S("fe80::1%eth0"), WD_EPROTO, NULL, false, false},
        {S("[::1]"), WD_EPROTO, NULL, false, false},
        {S("1:2:3:4:5:6:7::8"), WD_EPROTO, NULL, false, false}, /* "::" must hide >= 1 group */
        {S("::1:2:3:4:5:6:7:8"), WD_EPROTO, NULL, false, false},
        {S("1:2:3:4:5:6:7:8:9"), WD_EPROTO, NULL, false, false},
        {S("1:2:3:4:5:6:7:8::"), WD_EPROTO, NULL, false, false},
        {S("1:2:3:4:5:6:7"), WD_EPROTO, NULL, false, false},
        {S("00001::1"), WD_EPROTO, NULL, false, false},
        {S("1::2::3"), WD_EPROTO, NULL, false, false},
        {S(":1::2"), WD_EPROTO, NULL, false, false},
        {S("1::2:"), WD_EPROTO, NULL, false, false},
        {S(":::"), WD_EPROTO, NULL, false, false},
        {S(":"), WD_EPROTO, NULL, false, false},
        {S("g::1"), WD_EPROTO, NULL, false, false},
        {S("1:2"), WD_EPROTO, NULL, false, false},
        /* 44 bytes: over the reference's length cap */
        {S("0000:0000:0000:0000:0000:0000:0000:0000/0128"), WD_EPROTO, NULL, false, false},
        {S("0000:0000:0000:0000:0000:0000:0000:00000/12"), WD_EPROTO, NULL, false, false},
        {S(""), WD_EPROTO, NULL, false, false},
        {S("\xef\xbc\x91.2.3.4"), WD_EPROTO, NULL, false, false}, /* fullwidth digit one */
};

TEST(ip_parse_table)
{
    for (size_t i = 0; i < WD_ARRAY_LEN(ip_cases); i++) {
        const struct ip_case *c = &ip_cases[i];
        struct wd_cedar_ip ip;
        memset(&ip, 0xa5, sizeof(ip));
        int rc = wd_cedar_ip_parse(c->s, c->n, &ip);
        if (rc != c->rc) {
            printf("ip case %zu \"%s\": rc %d\n", i, c->s, rc);
        }
        CHECK_EQ(rc, c->rc);
        if (rc != WD_OK) {
            CHECK_EQ(ip.prefix, 0xa5); /* untouched on error */
            continue;
        }
        char out[64];
        wd_cedar_ip_format(&ip, out);
        CHECK_STR(out, c->text);
        CHECK_EQ(wd_cedar_ip_is_loopback(&ip), c->loopback);
        CHECK_EQ(wd_cedar_ip_is_multicast(&ip), c->multicast);
        CHECK_EQ(ip.v6, strchr(c->s, ':') != NULL);
        /* the format parses back to an equal value */
        struct wd_cedar_ip back;
        CHECK_OK(wd_cedar_ip_parse(out, strlen(out), &back));
        CHECK(wd_cedar_ip_eq(&ip, &back));
    }
}

struct ip_pair_case {
    const char *a;
    const char *b;
    bool result;
};

/* cedar-wasm: a.isInRange(b) */
static const struct ip_pair_case in_range_cases[] = {
        {"10.0.0.1/24", "10.0.0.0/24", true}, /* host bits of the left side are ignored */
        {"10.0.0.0/23", "10.0.0.0/24", false},
        {"10.0.1.0/24", "10.0.0.0/23", true},
        {"10.0.0.0/8", "10.0.0.0/32", false},
        {"10.0.0.5/32", "10.0.0.0/30", false},
        {"10.0.0.3", "10.0.0.0/30", true},
        {"10.0.0.4/32", "10.0.0.0/30", false},
        {"1.2.3.4/0", "0.0.0.0/0", true},
        {"0.0.0.0/0", "0.0.0.0/0", true},
        {"0.0.0.0/0", "255.255.255.255/1", false},
        {"128.0.0.0/1", "255.255.255.255/1", true},
        {"255.255.255.255/32", "255.255.255.0/24", true},
        {"127.0.0.1/8", "127.0.0.0/8", true},
        {"1.2.3.4", "1.2.3.4", true},
        {"1.2.3.4", "1.2.3.5", false},
        {"1.2.3.4", "::/0", false}, /* families never mix: false, not an error */
        {"::/0", "0.0.0.0/0", false},
        {"::ffff:102:304", "1.2.3.4", false},
        {"::/0", "::/0", true},
        {"::1", "::/127", true},
        {"::2", "::/127", false},
        {"2001:db8::1/64", "2001:db8::/32", true},
        {"2001:db8::/31", "2001:db8::/32", false},
        {"2001:db9::/32", "2001:db8::/31", true},
        {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ff00::/8", true},
};

/* cedar-wasm: a == b */
static const struct ip_pair_case eq_cases[] = {
        {"10.0.0.1/24", "10.0.0.0/24", false}, /* not normalised to the network */
        {"10.0.0.0/24", "10.0.0.0/24", true},
        {"10.0.0.1", "10.0.0.1/32", true},
        {"::1", "0:0::1/128", true},
        {"::1", "::1/127", false},
        {"::ffff:0102:0304", "1.2.3.4", false},
        {"1.2.3.4/0", "0.0.0.0/0", false},
        {"0.0.0.0", "::", false},
        {"0.0.0.0/0", "::/0", false},
        {"ABCD::", "abcd:0::0", true},
};

static bool parse_z(const char *s, struct wd_cedar_ip *ip)
{
    return wd_cedar_ip_parse(s, strlen(s), ip) == WD_OK;
}

TEST(ip_in_range_and_eq)
{
    struct wd_cedar_ip a, b;
    for (size_t i = 0; i < WD_ARRAY_LEN(in_range_cases); i++) {
        CHECK(parse_z(in_range_cases[i].a, &a));
        CHECK(parse_z(in_range_cases[i].b, &b));
        if (wd_cedar_ip_in_range(&a, &b) != in_range_cases[i].result) {
            printf("in_range case %zu\n", i);
        }
        CHECK_EQ(wd_cedar_ip_in_range(&a, &b), in_range_cases[i].result);
        CHECK(wd_cedar_ip_in_range(&a, &a));
    }
    for (size_t i = 0; i < WD_ARRAY_LEN(eq_cases); i++) {
        CHECK(parse_z(eq_cases[i].a, &a));
        CHECK(parse_z(eq_cases[i].b, &b));
        CHECK_EQ(wd_cedar_ip_eq(&a, &b), eq_cases[i].result);
        CHECK_EQ(wd_cedar_ip_eq(&b, &a), eq_cases[i].result);
    }
}

/* Every prefix length of an address against itself and its neighbours. */
TEST(ip_in_range_prefix_sweep)
{
    struct wd_cedar_ip a, b;
    CHECK(parse_z("2001:db8:85a3::8a2e:370:7334", &a));
    for (unsigned p = 0; p <= 128; p++) {
        b = a;
        b.prefix = (uint8_t)p;
        CHECK(wd_cedar_ip_in_range(&a, &b)); /* a /128 lies in every covering range */
        CHECK_EQ(wd_cedar_ip_in_range(&b, &a), p == 128);
        char out[64];
        wd_cedar_ip_format(&b, out);
        struct wd_cedar_ip back;
        CHECK(parse_z(out, &back));
        CHECK(wd_cedar_ip_eq(&back, &b));
    }
    CHECK(parse_z("192.168.1.77", &a));
    for (unsigned p = 0; p <= 32; p++) {
        b = a;
        b.prefix = (uint8_t)p;
        CHECK(wd_cedar_ip_in_range(&a, &b));
        CHECK_EQ(wd_cedar_ip_in_range(&b, &a), p == 32);
    }
}

/* ---------------------------------------------------------------- datetime */

struct dt_case {
    const char *s;
    size_t n;
    int rc;
    int64_t ms;
};

static const struct dt_case dt_cases[] = {
        {S("1970-01-01"), WD_OK, 0},
        {S("1969-12-31T23:59:59.999Z"), WD_OK, -1},
        {S("2024-10-15"), WD_OK, 1728950400000},
        {S("2024-10-15T11:38:02Z"), WD_OK, 1728992282000},
        {S("2024-10-15T11:38:02.101Z"), WD_OK, 1728992282101},
        {S("2024-10-15T11:38:02.101+1134"), WD_OK, 1728950642101}, /* = 00:04:02.101Z */
        {S("2024-10-15T11:38:02.101-1134"), WD_OK, 1729033922101}, /* = 23:12:02.101Z */
        {S("2024-10-15T11:38:02+1134"), WD_OK, 1728950642000},
        {S("2024-10-15T23:59:00+2359"), WD_OK, 1728950400000},
        {S("2024-10-15T00:00:00-2359"), WD_OK, 1729036740000},
        {S("2024-01-01T00:00:00-0000"), WD_OK, 1704067200000},
        {S("2024-01-01T00:00:00.000+0000"), WD_OK, 1704067200000},
        {S("1970-01-01T00:00:00.000-0001"), WD_OK, 60000},
        {S("2024-02-29"), WD_OK, 1709164800000},
        {S("2000-02-29"), WD_OK, 951782400000},
        {S("0000-02-29"), WD_OK, -62162121600000}, /* cedar-wasm: year 0 is a leap year */
        {S("0000-01-01"), WD_OK, -62167219200000},
        {S("0000-01-01T00:00:00+2359"), WD_OK, -62167305540000}, /* before year 0: fine */
        {S("9999-12-31T23:59:59.999Z"), WD_OK, 253402300799999},
        {S("9999-12-31T23:59:59.999-2359"), WD_OK, 253402387139999},
        {S("2024-12-31T23:59:59Z"), WD_OK, 1735689599000},
        /* invalid dates (pattern fine, value not) */
        {S("2023-02-29"), WD_EPROTO, 0},
        {S("1900-02-29"), WD_EPROTO, 0},
        {S("2024-00-01"), WD_EPROTO, 0},
        {S("2024-01-00"), WD_EPROTO, 0},
        {S("2024-02-30"), WD_EPROTO, 0},
        {S("2024-04-31"), WD_EPROTO, 0},
        {S("2024-13-01"), WD_EPROTO, 0},
        {S("2024-01-32"), WD_EPROTO, 0},
        {S("2024-01-99"), WD_EPROTO, 0},
        /* invalid times */
        {S("2024-01-01T24:00:00Z"), WD_EPROTO, 0},
        {S("2024-01-01T31:02:03Z"), WD_EPROTO, 0},
        {S("2024-01-01T01:60:03Z"), WD_EPROTO, 0},
        {S("2016-12-31T23:59:60Z"), WD_EPROTO, 0}, /* cedar-wasm: no leap seconds */
        {S("2016-12-31T23:59:61Z"), WD_EPROTO, 0},
        {S("2024-01-01T00:00:00+2400"), WD_EPROTO, 0},
        {S("2024-01-01T00:00:00+0060"), WD_EPROTO, 0},
        {S("2024-01-01T00:00:00-9999"), WD_EPROTO, 0},
        /* pattern errors */
        {S(""), WD_EPROTO, 0},
        {S("a"), WD_EPROTO, 0},
        {S("-"), WD_EPROTO, 0},
        {S("-1"), WD_EPROTO, 0},
        {S("11-12-13"), WD_EPROTO, 0},
        {S("1111-1x-20"), WD_EPROTO, 0},
        {S("0000-0a-01"), WD_EPROTO, 0},
        {S("10000-01-01"), WD_EPROTO, 0},
        {S("+2024-01-01"), WD_EPROTO, 0},
        {S("-2024-01-01"), WD_EPROTO, 0},
        {S("2024-1-01"), WD_EPROTO, 0},
        {S("2024-01-1"), WD_EPROTO, 0},
        {S("2024/01/01"), WD_EPROTO, 0},
        {S("2024-10-15Z"), WD_EPROTO, 0},
        {S("2024-01-01T"), WD_EPROTO, 0},
        {S("2024-01-01Ta"), WD_EPROTO, 0},
        {S("2024-01-01T01:"), WD_EPROTO, 0},
        {S("2024-01-01T01:02"), WD_EPROTO, 0},
        {S("2024-01-01T01:02:0b"), WD_EPROTO, 0},
        {S("2024-01-01T01::02:03"), WD_EPROTO, 0},
        {S("2024-01-01t00:00:00Z"), WD_EPROTO, 0},
        {S("2024-01-01 00:00:00Z"), WD_EPROTO, 0},
        {S("2024-01-01T00:00:00"), WD_EPROTO, 0}, /* a zone is required */
        {S("2024-01-01T00:00:00z"), WD_EPROTO, 0},
        {S("2024-01-01T00:00:00T"), WD_EPROTO, 0},
        {S("2024-01-01T00:00:00ZZ"), WD_EPROTO, 0},
        {S("2024-01-01T00:00:00x001Z"), WD_EPROTO, 0},
        {S("2024-01-01T00:00:00.001ZZ"), WD_EPROTO, 0},
        {S("2024-01-01T00:00:00.1Z"), WD_EPROTO, 0},
        {S("2024-01-01T00:00:00.01Z"), WD_EPROTO, 0},
        {S("2024-01-01T00:00:00.0001Z"), WD_EPROTO, 0},
        {S("2024-01-01T00:00:00.Z"), WD_EPROTO, 0},
        {S("2024-01-01T00:00:00+24:00"), WD_EPROTO, 0},
        {S("2024-01-01T00:00:00+00"), WD_EPROTO, 0},
        {S("2024-01-01T00:00:00+000"), WD_EPROTO, 0},
        {S("2024-01-01T00:00:00+00000"), WD_EPROTO, 0},
        {S("2024-01-01T00:00:00.001+00"), WD_EPROTO, 0},
        {S("2024-01-01T00:00:00\xe2\x9e\x95"
           "0000"),
         WD_EPROTO, 0}, /* U+2795 heavy plus */
        {S("2024-01-01T00:00:00Z\0"), WD_EPROTO, 0},
        {S("2024-01-01\0"), WD_EPROTO, 0},
        {S("2024-01-01 "), WD_EPROTO, 0},
};

TEST(datetime_parse_table)
{
    for (size_t i = 0; i < WD_ARRAY_LEN(dt_cases); i++) {
        const struct dt_case *c = &dt_cases[i];
        int64_t v = 42;
        int rc = wd_cedar_datetime_parse(c->s, c->n, &v);
        if (rc != c->rc || (rc == WD_OK && v != c->ms)) {
            printf("datetime case %zu \"%s\": rc %d v %lld\n", i, c->s, rc, (long long)v);
        }
        CHECK_EQ(rc, c->rc);
        CHECK_EQ(v, rc == WD_OK ? c->ms : 42);
    }
}

/* Every day of a few years parses to consecutive midnights (leap-year rules). */
TEST(datetime_calendar_sweep)
{
    static const unsigned years[] = {0, 1, 4, 100, 400, 1600, 1900, 1969, 1970, 2000, 2024, 9999};
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (size_t k = 0; k < WD_ARRAY_LEN(years); k++) {
        unsigned y = years[k];
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        int64_t prev = 0;
        bool first = true;
        for (unsigned m = 1; m <= 12; m++) {
            unsigned last = dim[m - 1] + (m == 2 && leap);
            for (unsigned d = 1; d <= last + 1; d++) {
                char buf[16];
                (void)snprintf(buf, sizeof(buf), "%04u-%02u-%02u", y, m, d);
                int64_t v;
                int rc = wd_cedar_datetime_parse(buf, strlen(buf), &v);
                if (d == last + 1) {
                    CHECK_ERR(rc, WD_EPROTO);
                    continue;
                }
                CHECK_OK(rc);
                CHECK(first || v == prev + 86400000);
                first = false;
                prev = v;
                char out[40];
                CHECK(wd_cedar_datetime_format(v, out));
                CHECK_STR(out, buf);
            }
        }
    }
}

/* ---------------------------------------------------------------- duration */

struct dur_case {
    const char *s;
    size_t n;
    int rc;
    int64_t ms;
};

static const struct dur_case dur_cases[] = {
        {S("1d2h3m4s5ms"), WD_OK, 93784005},
        {S("-1d2h3m4s5ms"), WD_OK, -93784005}, /* the sign applies to every unit */
        {S("1d"), WD_OK, 86400000},
        {S("1h"), WD_OK, 3600000},
        {S("1m"), WD_OK, 60000},
        {S("1s"), WD_OK, 1000},
        {S("1ms"), WD_OK, 1},
        {S("1m1ms"), WD_OK, 60001},
        {S("2h30m"), WD_OK, 9000000},
        {S("1d1ms"), WD_OK, 86400001},
        {S("0ms"), WD_OK, 0},
        {S("-0ms"), WD_OK, 0},
        {S("0d0h0m0s0ms"), WD_OK, 0},
        {S("00001d"), WD_OK, 86400000},
        {S("000000000000000000000000000001ms"), WD_OK, 1},
        {S("9223372036854775807ms"), WD_OK, INT64_MAX},
        {S("-9223372036854775808ms"), WD_OK, INT64_MIN}, /* cedar-wasm: accepted */
        {S("106751991167d"), WD_OK, 9223372036828800000},
        {S("106751991167d7h12m55s807ms"), WD_OK, INT64_MAX},
        {S("-106751991167d7h12m55s808ms"), WD_OK, INT64_MIN},
        {S("9223372036854775s807ms"), WD_OK, INT64_MAX},
        {S("-9223372036854775s808ms"), WD_OK, INT64_MIN},
        /* overflow */
        {S("9223372036854775808ms"), WD_ELIMIT, 0},
        {S("-9223372036854775809ms"), WD_ELIMIT, 0},
        {S("18446744073709551615ms"), WD_ELIMIT, 0},
        {S("18446744073709551616ms"), WD_ELIMIT, 0},
        {S("99999999999999999999999999d"), WD_ELIMIT, 0},
        {S("106751991168d"), WD_ELIMIT, 0},
        {S("106751991167d7h12m55s808ms"), WD_ELIMIT, 0},
        {S("-106751991167d7h12m55s809ms"), WD_ELIMIT, 0},
        {S("-106751991167d12h"), WD_ELIMIT, 0},
        {S("2562047788015216h"), WD_ELIMIT, 0},
        {S("153722867280912931m"), WD_ELIMIT, 0},
        /* malformed */
        {S(""), WD_EPROTO, 0},
        {S("-"), WD_EPROTO, 0},
        {S("--1d"), WD_EPROTO, 0},
        {S("+1d"), WD_EPROTO, 0},
        {S("1"), WD_EPROTO, 0},
        {S("d"), WD_EPROTO, 0},
        {S("ms"), WD_EPROTO, 0},
        {S("1D"), WD_EPROTO, 0},
        {S("1H"), WD_EPROTO, 0},
        {S("1h1d"), WD_EPROTO, 0}, /* units out of order */
        {S("1ms1m"), WD_EPROTO, 0},
        {S("1s1m"), WD_EPROTO, 0},
        {S("1d1d"), WD_EPROTO, 0}, /* each unit at most once */
        {S("1ms1ms"), WD_EPROTO, 0},
        {S("1.5h"), WD_EPROTO, 0},
        {S("1d "), WD_EPROTO, 0},
        {S(" 1d"), WD_EPROTO, 0},
        {S("1 d"), WD_EPROTO, 0},
        {S("1d-1h"), WD_EPROTO, 0},
        {S("1w"), WD_EPROTO, 0},
        {S("1us"), WD_EPROTO, 0},
        {S("1mss"), WD_EPROTO, 0},
        {S("1hms"), WD_EPROTO, 0},
        {S("1d\0"), WD_EPROTO, 0},
        /* a pattern error wins over an overflowing quantity */
        {S("99999999999999999999999999d1x"), WD_EPROTO, 0},
        {S("\xd9\xa1"
           "d"),
         WD_EPROTO, 0},
};

TEST(duration_parse_table)
{
    for (size_t i = 0; i < WD_ARRAY_LEN(dur_cases); i++) {
        const struct dur_case *c = &dur_cases[i];
        int64_t v = 42;
        int rc = wd_cedar_duration_parse(c->s, c->n, &v);
        if (rc != c->rc || (rc == WD_OK && v != c->ms)) {
            printf("duration case %zu \"%s\": rc %d v %lld\n", i, c->s, rc, (long long)v);
        }
        CHECK_EQ(rc, c->rc);
        CHECK_EQ(v, rc == WD_OK ? c->ms : 42);
    }
}

TEST(duration_conversions)
{
    /* cedar-wasm: truncation toward zero */
    CHECK_EQ(wd_cedar_duration_to_days(-86400000), -1);
    CHECK_EQ(wd_cedar_duration_to_days(-86399999), 0);
    CHECK_EQ(wd_cedar_duration_to_seconds(-1), 0);
    CHECK_EQ(wd_cedar_duration_to_seconds(-1999), -1);
    CHECK_EQ(wd_cedar_duration_to_days(93784005), 1);
    CHECK_EQ(wd_cedar_duration_to_hours(93784005), 26);
    CHECK_EQ(wd_cedar_duration_to_minutes(93784005), 1563);
    CHECK_EQ(wd_cedar_duration_to_seconds(93784005), 93784);
    CHECK_EQ(wd_cedar_duration_to_days(-93784005), -1);
    CHECK_EQ(wd_cedar_duration_to_hours(-93784005), -26);
    CHECK_EQ(wd_cedar_duration_to_minutes(-93784005), -1563);
    CHECK_EQ(wd_cedar_duration_to_seconds(-93784005), -93784);
    CHECK_EQ(wd_cedar_duration_to_days(INT64_MIN), -106751991167);
    CHECK_EQ(wd_cedar_duration_to_hours(INT64_MIN), -2562047788015);
    CHECK_EQ(wd_cedar_duration_to_minutes(INT64_MIN), -153722867280912);
    CHECK_EQ(wd_cedar_duration_to_seconds(INT64_MIN), -9223372036854775);
    CHECK_EQ(wd_cedar_duration_to_days(INT64_MAX), 106751991167);
    CHECK_EQ(wd_cedar_duration_to_hours(INT64_MAX), 2562047788015);
    CHECK_EQ(wd_cedar_duration_to_minutes(INT64_MAX), 153722867280912);
    CHECK_EQ(wd_cedar_duration_to_seconds(INT64_MAX), 9223372036854775);
    CHECK_EQ(wd_cedar_duration_to_days(0), 0);
}

/* ---------------------------------------------------------------- datetime arithmetic */

TEST(datetime_offset_since)
{
    int64_t v = 42;
    CHECK_OK(wd_cedar_datetime_offset(1704067200000, 3600000, &v));
    CHECK_EQ(v, 1704070800000);
    CHECK_OK(wd_cedar_datetime_offset(0, -1, &v));
    CHECK_EQ(v, -1);
    CHECK_OK(wd_cedar_datetime_offset(INT64_MAX, 0, &v));
    CHECK_EQ(v, INT64_MAX);
    CHECK_OK(wd_cedar_datetime_offset(INT64_MIN, INT64_MAX, &v));
    CHECK_EQ(v, -1);
    v = 42;
    /* cedar-wasm: "overflows when adding an offset" */
    CHECK_ERR(wd_cedar_datetime_offset(INT64_MAX, 1, &v), WD_ELIMIT);
    CHECK_ERR(wd_cedar_datetime_offset(INT64_MIN, -1, &v), WD_ELIMIT);
    CHECK_EQ(v, 42);

    CHECK_OK(wd_cedar_datetime_since(1704070800000, 1704067200000, &v));
    CHECK_EQ(v, 3600000);
    CHECK_OK(wd_cedar_datetime_since(0, 86400000, &v));
    CHECK_EQ(v, -86400000);
    CHECK_OK(wd_cedar_datetime_since(-1, INT64_MAX, &v));
    CHECK_EQ(v, INT64_MIN);
    v = 42;
    /* cedar-wasm: "overflows when computing the duration between ..." */
    CHECK_ERR(wd_cedar_datetime_since(INT64_MIN, 86400000, &v), WD_ELIMIT);
    CHECK_ERR(wd_cedar_datetime_since(INT64_MAX, -1, &v), WD_ELIMIT);
    CHECK_ERR(wd_cedar_datetime_since(0, INT64_MIN, &v), WD_ELIMIT);
    CHECK_EQ(v, 42);
}

struct date_case {
    int64_t dt;
    int rc; /* of to_date */
    int64_t date;
    int64_t time;
};

static const struct date_case date_cases[] = {
        {0, WD_OK, 0, 0},
        {1, WD_OK, 0, 1},
        {86399999, WD_OK, 0, 86399999},
        {86400000, WD_OK, 86400000, 0},
        {-1, WD_OK, -86400000, 86399999}, /* cedar-wasm: floor for negative values */
        {-86400000, WD_OK, -86400000, 0},
        {-86400001, WD_OK, -172800000, 86399999},
        {1728992282101, WD_OK, 1728950400000, 41882101},
        {-62167219200000, WD_OK, -62167219200000, 0},
        {INT64_MAX, WD_OK, 9223372036828800000, 25975807},
        {-9223372036828800000, WD_OK, -9223372036828800000, 0},
        {-9223372036800000000, WD_OK, -9223372036828800000, 28800000},
        /* cedar-wasm: toDate of the first partial day above INT64_MIN overflows; toTime works */
        {-9223372036828800001, WD_ELIMIT, 0, 86399999},
        {INT64_MIN, WD_ELIMIT, 0, 60424192},
};

TEST(datetime_to_date_time)
{
    for (size_t i = 0; i < WD_ARRAY_LEN(date_cases); i++) {
        const struct date_case *c = &date_cases[i];
        int64_t date = 42, tod = 42;
        CHECK_ERR(wd_cedar_datetime_to_date(c->dt, &date), c->rc);
        CHECK_EQ(date, c->rc == WD_OK ? c->date : 42);
        CHECK_OK(wd_cedar_datetime_to_time(c->dt, &tod));
        CHECK_EQ(tod, c->time);
        if (c->rc == WD_OK) {
            CHECK_EQ(date + tod, c->dt);
        }
    }
}

struct dt_fmt_case {
    int64_t ms;
    const char *text; /* NULL: no datetime() literal */
};

static const struct dt_fmt_case dt_fmt_cases[] = {
        {0, "1970-01-01"},
        {1, "1970-01-01T00:00:00.001Z"},
        {1000, "1970-01-01T00:00:01Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {1728992282101, "2024-10-15T11:38:02.101Z"},
        {1709164800000, "2024-02-29"},
        {-62167219200000, "0000-01-01"},
        {253402300799999, "9999-12-31T23:59:59.999Z"},
        {-62167219200001, NULL},
        {253402300800000, NULL},
        {INT64_MIN, NULL},
        {INT64_MAX, NULL},
};

TEST(datetime_and_duration_format)
{
    char out[48];
    for (size_t i = 0; i < WD_ARRAY_LEN(dt_fmt_cases); i++) {
        const struct dt_fmt_case *c = &dt_fmt_cases[i];
        bool ok = wd_cedar_datetime_format(c->ms, out);
        CHECK_EQ(ok, c->text != NULL);
        if (ok) {
            CHECK_STR(out, c->text);
        } else {
            CHECK_STR(out, "");
        }
    }
    /* round trips over the whole literal range, and every duration */
    uint64_t st = 7;
    for (int i = 0; i < 20000; i++) {
        int64_t v =
                (int64_t)(lcg_next(&st) % (253402300800000u + 62167219200000u)) - 62167219200000;
        if (i % 3 == 0) {
            v -= v % 1000;
        }
        CHECK(wd_cedar_datetime_format(v, out));
        int64_t back;
        CHECK_OK(wd_cedar_datetime_parse(out, strlen(out), &back));
        CHECK_EQ(back, v);

        int64_t d = (int64_t)lcg_next(&st) >> (lcg_next(&st) % 64);
        wd_cedar_duration_format(d, out);
        CHECK_OK(wd_cedar_duration_parse(out, strlen(out), &back));
        CHECK_EQ(back, d);
    }
    wd_cedar_duration_format(INT64_MIN, out);
    CHECK_STR(out, "-9223372036854775808ms");
    wd_cedar_duration_format(0, out);
    CHECK_STR(out, "0ms");
    wd_cedar_duration_format(-5, out);
    CHECK_STR(out, "-5ms");
}

/* ---------------------------------------------------------------- robustness */

/*
 * Every prefix of a set of valid inputs, copied into an exact-size heap block so ASan
 * catches any read past the slice; and the empty slice with a NULL pointer.
 */
TEST(truncation_every_offset)
{
    static const char *const samples[] = {
            "-922337203685477.5808",
            "1.2300",
            "255.255.255.255/32",
            "abcd:ef01:2345:6789:abcd:ef01:2345:6789/128",
            "1:2:3:4:5:6:7::",
            "::ffff:1.2.3.4",
            "2024-10-15T11:38:02.101+1134",
            "9999-12-31T23:59:59.999Z",
            "-106751991167d7h12m55s808ms",
            "1d2h3m4s5ms",
    };
    for (size_t k = 0; k < WD_ARRAY_LEN(samples); k++) {
        size_t len = strlen(samples[k]);
        for (size_t n = 0; n <= len; n++) {
            char *p = wd_malloc(n > 0 ? n : 1);
            CHECK(p != NULL);
            memcpy(p, samples[k], n);
            int64_t v;
            struct wd_cedar_ip ip;
            int r1 = wd_cedar_decimal_parse(p, n, &v);
            int r2 = wd_cedar_ip_parse(p, n, &ip);
            int r3 = wd_cedar_datetime_parse(p, n, &v);
            int r4 = wd_cedar_duration_parse(p, n, &v);
            wd_free(p);
            CHECK(r1 == WD_OK || r1 == WD_EPROTO || r1 == WD_ELIMIT);
            CHECK(r2 == WD_OK || r2 == WD_EPROTO);
            CHECK(r3 == WD_OK || r3 == WD_EPROTO);
            CHECK(r4 == WD_OK || r4 == WD_EPROTO || r4 == WD_ELIMIT);
        }
    }
    int64_t v;
    struct wd_cedar_ip ip;
    CHECK_ERR(wd_cedar_decimal_parse(NULL, 0, &v), WD_EPROTO);
    CHECK_ERR(wd_cedar_ip_parse(NULL, 0, &ip), WD_EPROTO);
    CHECK_ERR(wd_cedar_datetime_parse(NULL, 0, &v), WD_EPROTO);
    CHECK_ERR(wd_cedar_duration_parse(NULL, 0, &v), WD_EPROTO);
    /* a truncated valid datetime is never accepted except at the date boundary */
    const char *full = "2024-10-15T11:38:02.101Z";
    for (size_t n = 0; n < strlen(full); n++) {
        CHECK_ERR(wd_cedar_datetime_parse(full, n, &v), n == 10 ? WD_OK : WD_EPROTO);
    }
}

int main(void)
{
    RUN(decimal_parse_table);
    RUN(decimal_format_table);
    RUN(decimal_round_trip);
    RUN(ip_parse_table);
    RUN(ip_in_range_and_eq);
    RUN(ip_in_range_prefix_sweep);
    RUN(datetime_parse_table);
    RUN(datetime_calendar_sweep);
    RUN(duration_parse_table);
    RUN(duration_conversions);
    RUN(datetime_offset_since);
    RUN(datetime_to_date_time);
    RUN(datetime_and_duration_format);
    RUN(truncation_every_offset);
    return HARNESS_END("cedar_ext");
}
