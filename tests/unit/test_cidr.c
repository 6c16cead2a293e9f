/* Unit tests for lib/cidr.c: address and prefix parsing (every refusal), matching across
 * IPv4, IPv6 and IPv4-mapped IPv6, canonical formatting. */
#include <string.h>

#include "warden/cidr.h"

#include "harness.h"

static int cp(const char *s, struct wd_cidr *c, const char **why)
{
    return wd_cidr_parse(s, strlen(s), c, why);
}

static bool in(const char *cidr, const char *addr)
{
    struct wd_cidr c;
    struct wd_ip ip;
    if (cp(cidr, &c, NULL) != WD_OK || wd_ip_parse(addr, strlen(addr), &ip) != WD_OK) {
        return false;
    }
    return wd_cidr_contains(&c, &ip);
}

TEST(parse_ok)
{
    struct wd_cidr c;
    char txt[WD_CIDR_TEXT_MAX + 1];
    CHECK_OK(cp("10.0.0.0/8", &c, NULL));
    CHECK_EQ(c.net.family, 4);
    CHECK_EQ(c.prefix, 8);
    CHECK_OK(wd_cidr_format(&c, txt, sizeof(txt)));
    CHECK_STR(txt, "10.0.0.0/8");
    CHECK_OK(cp("192.168.1.7", &c, NULL));
    CHECK_EQ(c.prefix, 32);
    CHECK_OK(cp("0.0.0.0/0", &c, NULL));
    CHECK_EQ(c.prefix, 0);
    CHECK_OK(cp("2001:db8::/32", &c, NULL));
    CHECK_EQ(c.net.family, 6);
    CHECK_EQ(c.prefix, 32);
    CHECK_OK(wd_cidr_format(&c, txt, sizeof(txt)));
    CHECK_STR(txt, "2001:db8::/32");
    CHECK_OK(cp("::1", &c, NULL));
    CHECK_EQ(c.prefix, 128);
    CHECK_OK(cp("::/0", &c, NULL));
    CHECK_OK(cp("::ffff:10.0.0.0/104", &c, NULL));
    CHECK_OK(cp("10.1.2.128/25", &c, NULL));
    /* format needs room */
    CHECK_OK(cp("10.0.0.0/8", &c, NULL));
    CHECK_ERR(wd_cidr_format(&c, txt, 5), WD_ELIMIT);
}

TEST(parse_refusals)
{
    static const struct {
        const char *in, *why;
    } bad[] = {
            {"", "bad address"},
            {"/8", "bad address"},
            {"10.0.0", "bad address"},
            {"010.0.0.0/8", "bad address"},
            {"10.0.0.0.0", "bad address"},
            {"256.0.0.0", "bad address"},
            {" 10.0.0.0/8", "bad address"},
            {"fe80::1%eth0", "bad address"},
            {"[::1]", "bad address"},
            {"1:2:3:4:5:6:7:8:9", "bad address"},
            {"10.0.0.0/", "bad prefix length"},
            {"10.0.0.0/08", "bad prefix length"},
            {"10.0.0.0/8 ", "bad prefix length"},
            {"10.0.0.0/+8", "bad prefix length"},
            {"10.0.0.0/1000", "bad prefix length"},
            {"10.0.0.0/8/8", "bad prefix length"},
            {"10.0.0.0/33", "prefix length too large"},
            {"::/129", "prefix length too large"},
            {"10.0.0.1/8", "address has bits set beyond the prefix length"},
            {"10.1.2.129/25", "address has bits set beyond the prefix length"},
            {"2001:db8::1/64", "address has bits set beyond the prefix length"},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(bad); i++) {
        struct wd_cidr c;
        const char *why = NULL;
        int rc = cp(bad[i].in, &c, &why);
        if (rc != WD_EPROTO || why == NULL || strcmp(why, bad[i].why) != 0) {
            printf("input '%s': rc %d why %s\n", bad[i].in, rc, why ? why : "(null)");
        }
        CHECK_ERR(rc, WD_EPROTO);
        CHECK_STR(why, bad[i].why);
    }
    /* an embedded NUL is refused, not cut short */
    struct wd_cidr c;
    CHECK_ERR(wd_cidr_parse("10.0.0.0\0/8", 11, &c, NULL), WD_EPROTO);
    /* too long */
    char longs[100];
    memset(longs, '1', sizeof(longs));
    CHECK_ERR(wd_cidr_parse(longs, sizeof(longs), &c, NULL), WD_EPROTO);
    CHECK_ERR(wd_cidr_parse(NULL, 3, &c, NULL), WD_EINVAL);
    CHECK_ERR(wd_cidr_parse("1.2.3.4", 7, NULL, NULL), WD_EINVAL);
    struct wd_ip ip;
    CHECK_ERR(wd_ip_parse("10.0.0.0/8", 10, &ip), WD_EPROTO);
}

TEST(matching)
{
    CHECK(in("10.0.0.0/8", "10.255.1.2"));
    CHECK(!in("10.0.0.0/8", "11.0.0.0"));
    CHECK(in("10.1.2.128/25", "10.1.2.200"));
    CHECK(!in("10.1.2.128/25", "10.1.2.127"));
    CHECK(in("0.0.0.0/0", "203.0.113.9"));
    CHECK(in("127.0.0.1", "127.0.0.1"));
    CHECK(!in("127.0.0.1", "127.0.0.2"));
    CHECK(in("2001:db8::/32", "2001:db8:1::5"));
    CHECK(!in("2001:db8::/32", "2001:db9::5"));
    CHECK(in("::1", "::1"));
    CHECK(in("::/0", "fe80::1"));
    /* IPv4-mapped IPv6 peers match IPv4 prefixes, and the reverse through ::ffff:0:0/96 */
    CHECK(in("10.0.0.0/8", "::ffff:10.2.3.4"));
    CHECK(!in("10.0.0.0/8", "::ffff:11.2.3.4"));
    CHECK(!in("10.0.0.0/8", "::10.2.3.4"));
    CHECK(in("::ffff:10.0.0.0/104", "10.9.9.9"));
    CHECK(!in("::ffff:10.0.0.0/104", "11.9.9.9"));
    CHECK(!in("2001:db8::/32", "10.0.0.1"));
    /* ::/0 covers every IPv6 address, hence also mapped IPv4 ones */
    CHECK(in("::/0", "10.0.0.1"));
    CHECK(!in("0.0.0.0/0", "2001:db8::1"));
    /* sets */
    struct wd_cidr set[2];
    struct wd_ip ip;
    CHECK_OK(cp("10.0.0.0/8", &set[0], NULL));
    CHECK_OK(cp("192.168.0.0/16", &set[1], NULL));
    CHECK_OK(wd_ip_parse("192.168.3.4", 11, &ip));
    CHECK(wd_cidr_set_contains(set, 2, &ip));
    CHECK(!wd_cidr_set_contains(set, 1, &ip));
    CHECK(!wd_cidr_set_contains(set, 0, &ip));
}

int main(void)
{
    RUN(parse_ok);
    RUN(parse_refusals);
    RUN(matching);
    return HARNESS_END("cidr");
}
