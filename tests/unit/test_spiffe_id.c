/*
 * SPIFFE ID and trust domain parsing: one table row per rule of SPIFFE-ID §2, valid and
 * invalid, plus exhaustive character-set checks and the length limits. The table follows
 * the ideas of go-spiffe's spiffeid tests, written anew for warden's error codes.
 */
#include <string.h>

#include "warden/spiffe.h"

#include "harness.h"

struct id_case {
    const char *in;
    enum wd_spiffe_err want; /* WD_SPIFFE_OK: valid */
    const char *td;          /* expected trust domain when valid */
    const char *path;        /* expected path when valid */
};

static const struct id_case id_cases[] = {
        /* valid */
        {"spiffe://example.org", WD_SPIFFE_OK, "example.org", ""},
        {"spiffe://example.org/", WD_SPIFFE_PATH_TRAILING_SLASH, NULL, NULL},
        {"spiffe://example.org/a", WD_SPIFFE_OK, "example.org", "/a"},
        {"spiffe://example.org/ns/staging/sa/default", WD_SPIFFE_OK, "example.org",
         "/ns/staging/sa/default"},
        {"spiffe://a-b_c.9/Upper/lower/0.1/-_.", WD_SPIFFE_OK, "a-b_c.9", "/Upper/lower/0.1/-_."},
        {"spiffe://192.168.1.1/x", WD_SPIFFE_OK, "192.168.1.1", "/x"},
        {"spiffe://td/...", WD_SPIFFE_OK, "td", "/..."},
        {"spiffe://td/.a", WD_SPIFFE_OK, "td", "/.a"},
        {"spiffe://td/..a", WD_SPIFFE_OK, "td", "/..a"},
        {"spiffe://td/a.", WD_SPIFFE_OK, "td", "/a."},
        {"spiffe://_/_", WD_SPIFFE_OK, "_", "/_"},
        {"spiffe://./x", WD_SPIFFE_OK, ".", "/x"},
        /* empty and scheme */
        {"", WD_SPIFFE_EMPTY, NULL, NULL},
        {"example.org/a", WD_SPIFFE_BAD_SCHEME, NULL, NULL},
        {"SPIFFE://example.org/a", WD_SPIFFE_BAD_SCHEME, NULL, NULL},
        {"Spiffe://example.org/a", WD_SPIFFE_BAD_SCHEME, NULL, NULL},
        {"http://example.org/a", WD_SPIFFE_BAD_SCHEME, NULL, NULL},
        {"spiffe:/example.org/a", WD_SPIFFE_BAD_SCHEME, NULL, NULL},
        {"spiffe:example.org", WD_SPIFFE_BAD_SCHEME, NULL, NULL},
        {"spiffe", WD_SPIFFE_BAD_SCHEME, NULL, NULL},
        {" spiffe://example.org", WD_SPIFFE_BAD_SCHEME, NULL, NULL},
        {"192.168.2.2:6688", WD_SPIFFE_BAD_SCHEME, NULL, NULL},
        /* trust domain */
        {"spiffe://", WD_SPIFFE_TD_EMPTY, NULL, NULL},
        {"spiffe:///path/element", WD_SPIFFE_TD_EMPTY, NULL, NULL},
        {"spiffe://Example.org/a", WD_SPIFFE_TD_UPPER, NULL, NULL},
        {"spiffe://exAmple.org", WD_SPIFFE_TD_UPPER, NULL, NULL},
        {"spiffe://exa!mple.org/a", WD_SPIFFE_TD_BAD_CHAR, NULL, NULL},
        {"spiffe://exa mple.org", WD_SPIFFE_TD_BAD_CHAR, NULL, NULL},
        {"spiffe://[::1]/a", WD_SPIFFE_TD_BAD_CHAR, NULL, NULL},
        {"spiffe://example.org:8080/a", WD_SPIFFE_TD_PORT, NULL, NULL},
        {"spiffe://example.org:/a", WD_SPIFFE_TD_PORT, NULL, NULL},
        {"spiffe://user@example.org/a", WD_SPIFFE_TD_USERINFO, NULL, NULL},
        {"spiffe://user:password@test.org/path/element", WD_SPIFFE_TD_USERINFO, NULL, NULL},
        {"spiffe://ex%41mple.org/a", WD_SPIFFE_PERCENT, NULL, NULL},
        {"spiffe://example.org?x=1", WD_SPIFFE_QUERY, NULL, NULL},
        {"spiffe://example.org#frag", WD_SPIFFE_FRAGMENT, NULL, NULL},
        /* path */
        {"spiffe://example.org//a", WD_SPIFFE_PATH_EMPTY_SEGMENT, NULL, NULL},
        {"spiffe://example.org/a//b", WD_SPIFFE_PATH_EMPTY_SEGMENT, NULL, NULL},
        {"spiffe://example.org/a/", WD_SPIFFE_PATH_TRAILING_SLASH, NULL, NULL},
        {"spiffe://example.org/a/b/", WD_SPIFFE_PATH_TRAILING_SLASH, NULL, NULL},
        {"spiffe://example.org/.", WD_SPIFFE_PATH_DOT_SEGMENT, NULL, NULL},
        {"spiffe://example.org/..", WD_SPIFFE_PATH_DOT_SEGMENT, NULL, NULL},
        {"spiffe://example.org/a/./b", WD_SPIFFE_PATH_DOT_SEGMENT, NULL, NULL},
        {"spiffe://example.org/a/../b", WD_SPIFFE_PATH_DOT_SEGMENT, NULL, NULL},
        {"spiffe://example.org/a/..", WD_SPIFFE_PATH_DOT_SEGMENT, NULL, NULL},
        {"spiffe://example.org/path/elem%5uent", WD_SPIFFE_PERCENT, NULL, NULL},
        {"spiffe://example.org/a%2Fb", WD_SPIFFE_PERCENT, NULL, NULL},
        {"spiffe://example.org/a?query=1", WD_SPIFFE_QUERY, NULL, NULL},
        {"spiffe://example.org/a?#f", WD_SPIFFE_QUERY, NULL, NULL},
        {"spiffe://example.org/a#frag", WD_SPIFFE_FRAGMENT, NULL, NULL},
        {"spiffe://example.org/pa:th", WD_SPIFFE_PATH_BAD_CHAR, NULL, NULL},
        {"spiffe://example.org/pa@th", WD_SPIFFE_PATH_BAD_CHAR, NULL, NULL},
        {"spiffe://example.org/p!a$t&h'", WD_SPIFFE_PATH_BAD_CHAR, NULL, NULL},
        {"spiffe://example.org/elem[ent", WD_SPIFFE_PATH_BAD_CHAR, NULL, NULL},
        {"spiffe://example.org/a b", WD_SPIFFE_PATH_BAD_CHAR, NULL, NULL},
        {"spiffe://example.org/caf\xc3\xa9", WD_SPIFFE_PATH_BAD_CHAR, NULL, NULL},
        {"spiffe://example.org/spiffe://example.org/a", WD_SPIFFE_PATH_BAD_CHAR, NULL, NULL},
};

TEST(id_table)
{
    for (size_t i = 0; i < WD_ARRAY_LEN(id_cases); i++) {
        const struct id_case *c = &id_cases[i];
        struct wd_spiffe_id id;
        enum wd_spiffe_err why = WD_SPIFFE_TOO_LONG;
        struct wd_diag d = {{0}};
        int rc = wd_spiffe_id_parse(c->in, strlen(c->in), &id, &why, &d);
        if (why != c->want) {
            printf("case %zu \"%s\": got %s, want %s (%s)\n", i, c->in, wd_spiffe_err_name(why),
                   wd_spiffe_err_name(c->want), d.msg);
        }
        CHECK_EQ(why, c->want);
        if (c->want == WD_SPIFFE_OK) {
            CHECK_OK(rc);
            CHECK_STR(id.str, c->in);
            CHECK_EQ(id.len, strlen(c->in));
            struct wd_spiffe_td td;
            wd_spiffe_id_td(&id, &td);
            CHECK_STR(td.name, c->td);
            CHECK_STR(wd_spiffe_id_path(&id), c->path);
            CHECK(wd_spiffe_id_member_of(&id, &td));
        } else {
            CHECK_ERR(rc, WD_EPROTO);
            CHECK(strncmp(d.msg, "spiffe: ", 8) == 0);
        }
    }
}

TEST(messages_name_rule_and_offset)
{
    struct wd_spiffe_id id;
    struct wd_diag d;
    const char *in = "spiffe://exa!mple.org/a";
    CHECK_ERR(wd_spiffe_id_parse(in, strlen(in), &id, NULL, &d), WD_EPROTO);
    CHECK_STR(d.msg,
              "spiffe: trust domain contains an invalid character '!' at 12 (allowed: a-z 0-9 . "
              "- _)");
    in = "spiffe://td/a/../b";
    CHECK_ERR(wd_spiffe_id_parse(in, strlen(in), &id, NULL, &d), WD_EPROTO);
    CHECK_STR(d.msg, "spiffe: path contains a '.' or '..' segment at 14");
    in = "spiffe://td/a\nb";
    CHECK_ERR(wd_spiffe_id_parse(in, strlen(in), &id, NULL, &d), WD_EPROTO);
    CHECK_STR(d.msg, "spiffe: path segment contains an invalid character \\x0a at 13 (allowed: "
                     "a-z A-Z 0-9 . - _)");
    in = "spiffe://td:1";
    CHECK_ERR(wd_spiffe_id_parse(in, strlen(in), &id, NULL, &d), WD_EPROTO);
    CHECK_STR(d.msg, "spiffe: trust domain has a port (':' at 11); ports are not allowed");
    /* No diag and no why: still a clean error. */
    CHECK_ERR(wd_spiffe_id_parse(in, strlen(in), &id, NULL, NULL), WD_EPROTO);
    /* Every rule has a distinct name. */
    for (int a = WD_SPIFFE_OK; a <= WD_SPIFFE_TD_HAS_PATH; a++) {
        for (int b = a + 1; b <= WD_SPIFFE_TD_HAS_PATH; b++) {
            CHECK(strcmp(wd_spiffe_err_name((enum wd_spiffe_err)a),
                         wd_spiffe_err_name((enum wd_spiffe_err)b))
                  != 0);
        }
    }
    CHECK_STR(wd_spiffe_err_name((enum wd_spiffe_err)999), "unknown");
}

TEST(embedded_nul_rejected)
{
    struct wd_spiffe_id id;
    enum wd_spiffe_err why;
    static const char td_nul[] = "spiffe://exa\0mple.org/a";
    CHECK_ERR(wd_spiffe_id_parse(td_nul, sizeof(td_nul) - 1, &id, &why, NULL), WD_EPROTO);
    CHECK_EQ(why, WD_SPIFFE_TD_BAD_CHAR);
    static const char path_nul[] = "spiffe://example.org/a\0b";
    CHECK_ERR(wd_spiffe_id_parse(path_nul, sizeof(path_nul) - 1, &id, &why, NULL), WD_EPROTO);
    CHECK_EQ(why, WD_SPIFFE_PATH_BAD_CHAR);
}

/* Every byte value in the trust domain and in a path segment, against the spec's sets. */
TEST(every_character)
{
    for (int c = 0; c < 256; c++) {
        char buf[64];
        struct wd_spiffe_id id;
        enum wd_spiffe_err why;
        memcpy(buf, "spiffe://a", 10);
        buf[10] = (char)c;
        memcpy(buf + 11, "b/x", 3);
        int rc = wd_spiffe_id_parse(buf, 14, &id, &why, NULL);
        bool td_ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'
                     || c == '_';
        if (td_ok) {
            CHECK_OK(rc);
        } else if (c == '/') {
            /* "spiffe://a/b/x": the byte ends the trust domain instead. */
            CHECK_OK(rc);
            CHECK_STR(wd_spiffe_id_path(&id), "/b/x");
        } else {
            CHECK_ERR(rc, WD_EPROTO);
            enum wd_spiffe_err want = WD_SPIFFE_TD_BAD_CHAR;
            if (c >= 'A' && c <= 'Z') {
                want = WD_SPIFFE_TD_UPPER;
            } else if (c == ':') {
                want = WD_SPIFFE_TD_PORT;
            } else if (c == '@') {
                want = WD_SPIFFE_TD_USERINFO;
            } else if (c == '%') {
                want = WD_SPIFFE_PERCENT;
            } else if (c == '?') {
                want = WD_SPIFFE_QUERY;
            } else if (c == '#') {
                want = WD_SPIFFE_FRAGMENT;
            }
            CHECK_EQ(why, want);
        }

        memcpy(buf, "spiffe://td/a", 13);
        buf[13] = (char)c;
        buf[14] = 'b';
        rc = wd_spiffe_id_parse(buf, 15, &id, &why, NULL);
        bool seg_ok = td_ok || (c >= 'A' && c <= 'Z');
        if (seg_ok || c == '/') {
            CHECK_OK(rc);
        } else {
            CHECK_ERR(rc, WD_EPROTO);
            enum wd_spiffe_err want = WD_SPIFFE_PATH_BAD_CHAR;
            if (c == '%') {
                want = WD_SPIFFE_PERCENT;
            } else if (c == '?') {
                want = WD_SPIFFE_QUERY;
            } else if (c == '#') {
                want = WD_SPIFFE_FRAGMENT;
            }
            CHECK_EQ(why, want);
        }
    }
}

TEST(length_limits)
{
    static char buf[WD_SPIFFE_ID_MAX + 2];
    struct wd_spiffe_id id;
    enum wd_spiffe_err why;
    /* Exactly 2048 bytes: spiffe://td/ + 2036 'a'. */
    memcpy(buf, "spiffe://td/", 12);
    memset(buf + 12, 'a', WD_SPIFFE_ID_MAX - 12);
    CHECK_OK(wd_spiffe_id_parse(buf, WD_SPIFFE_ID_MAX, &id, &why, NULL));
    CHECK_EQ(id.len, WD_SPIFFE_ID_MAX);
    CHECK_EQ(strlen(id.str), WD_SPIFFE_ID_MAX);
    buf[WD_SPIFFE_ID_MAX] = 'a';
    CHECK_ERR(wd_spiffe_id_parse(buf, WD_SPIFFE_ID_MAX + 1, &id, &why, NULL), WD_EPROTO);
    CHECK_EQ(why, WD_SPIFFE_TOO_LONG);

    /* Trust domain of 255 bytes is fine, 256 is not. */
    memcpy(buf, "spiffe://", 9);
    memset(buf + 9, 'd', 255);
    memcpy(buf + 9 + 255, "/p", 2);
    CHECK_OK(wd_spiffe_id_parse(buf, 9 + 255 + 2, &id, &why, NULL));
    CHECK_EQ(id.td_len, 255);
    memset(buf + 9, 'd', 256);
    memcpy(buf + 9 + 256, "/p", 2);
    CHECK_ERR(wd_spiffe_id_parse(buf, 9 + 256 + 2, &id, &why, NULL), WD_EPROTO);
    CHECK_EQ(why, WD_SPIFFE_TD_TOO_LONG);
    struct wd_spiffe_td td;
    CHECK_OK(wd_spiffe_td_parse(buf + 9, 255, &td, &why, NULL));
    CHECK_EQ(td.len, 255);
    CHECK_ERR(wd_spiffe_td_parse(buf + 9, 256, &td, &why, NULL), WD_EPROTO);
    CHECK_EQ(why, WD_SPIFFE_TD_TOO_LONG);
}

TEST(trust_domain_parse)
{
    static const struct {
        const char *in;
        enum wd_spiffe_err want;
        const char *name;
    } cases[] = {
            {"example.org", WD_SPIFFE_OK, "example.org"},
            {"spiffe://example.org", WD_SPIFFE_OK, "example.org"},
            {"", WD_SPIFFE_EMPTY, NULL},
            {"spiffe://", WD_SPIFFE_TD_EMPTY, NULL},
            {"Example.org", WD_SPIFFE_TD_UPPER, NULL},
            {"spiffe://example.org/a", WD_SPIFFE_TD_HAS_PATH, NULL},
            {"spiffe://example.org/", WD_SPIFFE_TD_HAS_PATH, NULL},
            {"example.org/a", WD_SPIFFE_TD_HAS_PATH, NULL},
            {"SPIFFE://example.org", WD_SPIFFE_BAD_SCHEME, NULL},
            {"https://example.org", WD_SPIFFE_BAD_SCHEME, NULL},
            {"example.org:443", WD_SPIFFE_TD_PORT, NULL},
            {"u@example.org", WD_SPIFFE_TD_USERINFO, NULL},
            {"ex%61mple", WD_SPIFFE_PERCENT, NULL},
            {"example.org?q", WD_SPIFFE_QUERY, NULL},
            {"example.org#f", WD_SPIFFE_FRAGMENT, NULL},
            {"exa mple", WD_SPIFFE_TD_BAD_CHAR, NULL},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        struct wd_spiffe_td td;
        enum wd_spiffe_err why;
        int rc = wd_spiffe_td_parse(cases[i].in, strlen(cases[i].in), &td, &why, NULL);
        if (why != cases[i].want) {
            printf("td case \"%s\": got %s\n", cases[i].in, wd_spiffe_err_name(why));
        }
        CHECK_EQ(why, cases[i].want);
        if (cases[i].want == WD_SPIFFE_OK) {
            CHECK_OK(rc);
            CHECK_STR(td.name, cases[i].name);
        } else {
            CHECK_ERR(rc, WD_EPROTO);
        }
    }
}

TEST(make_and_compare)
{
    struct wd_spiffe_td td, other;
    struct wd_spiffe_id a, b;
    enum wd_spiffe_err why;
    CHECK_OK(wd_spiffe_td_parse("example.org", 11, &td, NULL, NULL));
    CHECK_OK(wd_spiffe_td_parse("example.com", 11, &other, NULL, NULL));
    CHECK(!wd_spiffe_td_eq(&td, &other));
    CHECK_OK(wd_spiffe_id_make(&td, "/warden/node/n1", &a, NULL, NULL));
    CHECK_STR(a.str, "spiffe://example.org/warden/node/n1");
    CHECK_OK(wd_spiffe_id_parse(a.str, a.len, &b, NULL, NULL));
    CHECK(wd_spiffe_id_eq(&a, &b));
    CHECK(wd_spiffe_id_member_of(&a, &td));
    CHECK(!wd_spiffe_id_member_of(&a, &other));
    CHECK_OK(wd_spiffe_id_make(&td, "", &b, NULL, NULL));
    CHECK_STR(b.str, "spiffe://example.org");
    CHECK(!wd_spiffe_id_eq(&a, &b));
    CHECK_ERR(wd_spiffe_id_make(&td, "x/y", &b, &why, NULL), WD_EPROTO);
    CHECK_EQ(why, WD_SPIFFE_PATH_BAD_CHAR);
    CHECK_ERR(wd_spiffe_id_make(&td, "/x/../y", &b, &why, NULL), WD_EPROTO);
    CHECK_EQ(why, WD_SPIFFE_PATH_DOT_SEGMENT);
    static char longpath[WD_SPIFFE_ID_MAX];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    CHECK_ERR(wd_spiffe_id_make(&td, longpath, &b, &why, NULL), WD_EPROTO);
    CHECK_EQ(why, WD_SPIFFE_TOO_LONG);
    /* A member of a trust domain that is a prefix of another is not a member of the other. */
    struct wd_spiffe_td pre;
    CHECK_OK(wd_spiffe_td_parse("example.or", 10, &pre, NULL, NULL));
    CHECK(!wd_spiffe_id_member_of(&a, &pre));
}

int main(void)
{
    RUN(id_table);
    RUN(messages_name_rule_and_offset);
    RUN(embedded_nul_rejected);
    RUN(every_character);
    RUN(length_limits);
    RUN(trust_domain_parse);
    RUN(make_and_compare);
    return HARNESS_END("spiffe_id");
}
