/*
 * Unit tests for lib/http1. Every message goes through run(), which parses it twice, whole
 * and one byte at a time, and fails the test if the two differ in any way (events, fields,
 * body bytes, bytes consumed, error and reason). Valid messages are also cut at every byte
 * offset: each prefix must ask for more bytes, never fail.
 */
#include <stdint.h>
#include <string.h>

#include "warden/http1.h"

#include "harness.h"

#define MAXF 32

/* What one message parse produced. */
struct out {
    int rc; /* WD_OK once EV_END was seen, else the last return code */
    enum wd_http1_reason reason;
    size_t used; /* bytes consumed through EV_END */
    struct wd_http1_msg msg;
    bool head;
    char fields[2048]; /* "name=value|" for each field */
    char trailers[512];
    uint8_t body[4096];
    size_t body_len;
};

static void append(char *dst, size_t cap, struct wd_slice a, const char *sep, struct wd_slice b)
{
    size_t n = strlen(dst);
    (void)snprintf(dst + n, cap - n, "%.*s%s%.*s|", (int)a.len, (const char *)a.p, sep, (int)b.len,
                   (const char *)b.p);
}

/*
 * Parse one message from in[0..len): whole, or growing the input one byte whenever the
 * parser asks for more. Stops at EV_END, an error, or EAGAIN with all bytes given.
 */
static void parse1(enum wd_http1_kind kind, const struct wd_http1_config *cfg,
                   enum wd_http1_method req, const uint8_t *in, size_t len, bool bytewise,
                   struct out *o)
{
    struct wd_http1_field fields[MAXF];
    struct wd_http1_parser p;
    memset(o, 0, sizeof(*o));
    wd_http1_init(&p, kind, cfg, fields, MAXF);
    wd_http1_set_request_method(&p, req);
    size_t pos = 0, avail = bytewise ? 0 : len;
    for (;;) {
        struct wd_http1_step st;
        int rc = wd_http1_step(&p, in + pos, avail - pos, &st);
        o->rc = rc;
        if (rc == WD_EAGAIN) {
            pos += st.used;
            if (avail < len) {
                avail++;
                continue;
            }
            break;
        }
        if (rc < 0) {
            o->reason = wd_http1_reason(&p);
            WD_BUG_ON(st.used != 0);
            break;
        }
        pos += st.used;
        if (st.ev == WD_HTTP1_EV_HEAD) {
            o->head = true;
            o->msg = *wd_http1_msg(&p);
            for (size_t i = 0; i < o->msg.nfields; i++) {
                struct wd_slice n, v;
                WD_BUG_ON(!wd_http1_field(&p, i, &n, &v));
                append(o->fields, sizeof(o->fields), n, "=", v);
            }
        } else if (st.ev == WD_HTTP1_EV_DATA) {
            WD_BUG_ON(st.data.len == 0 || o->body_len + st.data.len > sizeof(o->body));
            memcpy(o->body + o->body_len, st.data.p, st.data.len);
            o->body_len += st.data.len;
        } else if (st.ev == WD_HTTP1_EV_TRAILERS) {
            o->msg.ntrailers = wd_http1_msg(&p)->ntrailers;
            for (size_t i = 0; i < o->msg.ntrailers; i++) {
                struct wd_slice n, v;
                WD_BUG_ON(!wd_http1_trailer(&p, i, &n, &v));
                append(o->trailers, sizeof(o->trailers), n, "=", v);
            }
        } else {
            o->used = pos;
            o->rc = WD_OK;
            break;
        }
    }
}

static bool slice_eq(struct wd_slice a, struct wd_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static bool same(const struct out *a, const struct out *b)
{
    const struct wd_http1_msg *x = &a->msg, *y = &b->msg;
    return a->rc == b->rc && a->reason == b->reason && a->used == b->used && a->head == b->head
           && strcmp(a->fields, b->fields) == 0 && strcmp(a->trailers, b->trailers) == 0
           && a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0
           && x->version == y->version && x->method == y->method && x->status == y->status
           && x->body == y->body && x->content_length == y->content_length
           && x->keep_alive == y->keep_alive && x->upgrade == y->upgrade && x->tunnel == y->tunnel
           && x->interim == y->interim && x->expect_continue == y->expect_continue
           && x->nfields == y->nfields && slice_eq(x->target, y->target)
           && slice_eq(x->path, y->path) && slice_eq(x->query, y->query)
           && slice_eq(x->reason, y->reason) && slice_eq(x->authority, y->authority)
           && slice_eq(x->scheme, y->scheme);
}

/* Whole and byte-at-a-time must agree; returns false (and says why) when they do not. */
static bool run(enum wd_http1_kind kind, const struct wd_http1_config *cfg,
                enum wd_http1_method req, const char *s, size_t len, struct out *o)
{
    static struct out b;
    parse1(kind, cfg, req, (const uint8_t *)s, len, false, o);
    parse1(kind, cfg, req, (const uint8_t *)s, len, true, &b);
    if (!same(o, &b)) {
        printf("whole vs byte-at-a-time differ: rc %d/%d reason %s/%s used %zu/%zu\n", o->rc, b.rc,
               wd_http1_reason_name(o->reason), wd_http1_reason_name(b.reason), o->used, b.used);
        return false;
    }
    return true;
}

#define REQ(s, o)  run(WD_HTTP1_REQUEST, NULL, WD_HTTP1_GET, (s), sizeof(s) - 1, (o))
#define RESP(s, o) run(WD_HTTP1_RESPONSE, NULL, WD_HTTP1_GET, (s), sizeof(s) - 1, (o))

/* Every proper prefix of a valid message must return WD_EAGAIN, never an error or END. */
static bool prefixes_wait(enum wd_http1_kind kind, const char *s, size_t len)
{
    static struct out o;
    for (size_t k = 0; k < len; k++) {
        parse1(kind, NULL, WD_HTTP1_GET, (const uint8_t *)s, k, false, &o);
        if (o.rc != WD_EAGAIN) {
            printf("prefix %zu of %zu gave %d (%s)\n", k, len, o.rc,
                   wd_http1_reason_name(o.reason));
            return false;
        }
    }
    return true;
}

static bool sl(struct wd_slice s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

/* An invalid request must fail with err and reason, whole and byte by byte. */
#define REQ_ERR(s, err, why)        \
    do {                            \
        struct out o_;              \
        CHECK(REQ(s, &o_));         \
        CHECK_ERR(o_.rc, (err));    \
        CHECK_EQ(o_.reason, (why)); \
    } while (0)
#define RESP_ERR(s, err, why)       \
    do {                            \
        struct out o_;              \
        CHECK(RESP(s, &o_));        \
        CHECK_ERR(o_.rc, (err));    \
        CHECK_EQ(o_.reason, (why)); \
    } while (0)
#define BAD_REQ(s, why)  REQ_ERR(s, WD_EPROTO, why)
#define BAD_RESP(s, why) RESP_ERR(s, WD_EPROTO, why)

/* ---- valid requests ---- */

TEST(simple_get)
{
    static const char m[] = "GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\n"
                            "Accept: */*\r\nX-Empty:\r\nX-Ws: \t padded value \t\r\n\r\n";
    struct out o;
    CHECK(REQ(m, &o));
    CHECK_OK(o.rc);
    CHECK_EQ(o.used, sizeof(m) - 1);
    CHECK_EQ(o.msg.method, WD_HTTP1_GET);
    CHECK(sl(o.msg.method_name, "GET"));
    CHECK_EQ(o.msg.form, WD_HTTP1_FORM_ORIGIN);
    CHECK(sl(o.msg.target, "/a/b?x=1&y=%20"));
    CHECK(sl(o.msg.path, "/a/b"));
    CHECK(o.msg.has_query);
    CHECK(sl(o.msg.query, "x=1&y=%20"));
    CHECK_EQ(o.msg.version, 11);
    CHECK_EQ(o.msg.body, WD_HTTP1_BODY_NONE);
    CHECK(o.msg.keep_alive);
    CHECK(!o.msg.upgrade && !o.msg.tunnel && !o.msg.expect_continue);
    CHECK_STR(o.fields, "Host=example.com|Accept=*/*|X-Empty=|X-Ws=padded value|");
    CHECK(prefixes_wait(WD_HTTP1_REQUEST, m, sizeof(m) - 1));
}

TEST(find_is_case_insensitive)
{
    static const char m[] = "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\nOther: 3\r\n"
                            "X-A: 4\r\n\r\n";
    struct wd_http1_field f[8];
    struct wd_http1_parser p;
    struct wd_http1_step st;
    wd_http1_init(&p, WD_HTTP1_REQUEST, NULL, f, 8);
    CHECK_OK(wd_http1_step(&p, (const uint8_t *)m, sizeof(m) - 1, &st));
    CHECK_EQ(st.ev, WD_HTTP1_EV_HEAD);
    size_t from = 0;
    struct wd_slice v;
    const char *want[] = {"1", "2", "4"};
    for (int i = 0; i < 3; i++) {
        CHECK(wd_http1_find(&p, "x-A", &from, &v));
        CHECK(sl(v, want[i]));
    }
    CHECK(!wd_http1_find(&p, "x-a", &from, &v));
    from = 0;
    CHECK(!wd_http1_find(&p, "X-", &from, &v));
    CHECK(!wd_http1_field(&p, 5, NULL, &v));
    CHECK(wd_http1_field(&p, 4, NULL, &v) && sl(v, "4"));
}

TEST(http10)
{
    struct out o;
    CHECK(REQ("GET / HTTP/1.0\r\n\r\n", &o));
    CHECK_OK(o.rc);
    CHECK_EQ(o.msg.version, 10);
    CHECK(!o.msg.keep_alive); /* HTTP/1.0 closes unless asked (RFC 9112 §9.3) */
    CHECK(REQ("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &o));
    CHECK(o.msg.keep_alive);
    CHECK(REQ("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", &o));
    CHECK(!o.msg.keep_alive);
    CHECK(REQ("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, , Close\r\n\r\n", &o));
    CHECK_OK(o.rc);
    CHECK(!o.msg.keep_alive);
    /* 100-continue is ignored in HTTP/1.0 (RFC 9110 §10.1.1). */
    CHECK(REQ("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx", &o));
    CHECK_OK(o.rc);
    CHECK(!o.msg.expect_continue);
}

TEST(content_length_body)
{
    static const char m[] =
            "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 0011\r\n\r\nhello world";
    struct out o;
    CHECK(REQ(m, &o));
    CHECK_OK(o.rc);
    CHECK_EQ(o.msg.body, WD_HTTP1_BODY_LENGTH);
    CHECK_EQ(o.msg.content_length, 11);
    CHECK_EQ(o.body_len, 11);
    CHECK_MEM(o.body, "hello world", 11);
    CHECK_EQ(o.used, sizeof(m) - 1);
    CHECK(prefixes_wait(WD_HTTP1_REQUEST, m, sizeof(m) - 1));
    CHECK(REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", &o));
    CHECK_OK(o.rc);
    CHECK_EQ(o.body_len, 0);
}

TEST(chunked_body_trailers)
{
    static const char m[] = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "5;name=val;q=\"a \\\"b\\\" c\";flag\r\nhello\r\n"
                            "0A\r\n0123456789\r\n"
                            "000;last\r\nX-Sum: abc\r\nX-Other:  v \r\n\r\n";
    struct out o;
    CHECK(REQ(m, &o));
    CHECK_OK(o.rc);
    CHECK_EQ(o.msg.body, WD_HTTP1_BODY_CHUNKED);
    CHECK(!o.msg.transfer_coded);
    CHECK_EQ(o.body_len, 15);
    CHECK_MEM(o.body, "hello0123456789", 15);
    CHECK_EQ(o.msg.ntrailers, 2);
    CHECK_STR(o.trailers, "X-Sum=abc|X-Other=v|");
    CHECK_EQ(o.used, sizeof(m) - 1);
    CHECK(prefixes_wait(WD_HTTP1_REQUEST, m, sizeof(m) - 1));
    /* Without trailers the END follows the last chunk directly. */
    static const char m2[] = "PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "1\r\nA\r\n0\r\n\r\n";
    CHECK(REQ(m2, &o));
    CHECK_OK(o.rc);
    CHECK_EQ(o.msg.ntrailers, 0);
    CHECK_EQ(o.used, sizeof(m2) - 1);
    CHECK(prefixes_wait(WD_HTTP1_REQUEST, m2, sizeof(m2) - 1));
}

TEST(te_gzip_chunked)
{
    struct out o;
    CHECK(REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n0\r\n\r\n",
              &o));
    CHECK_OK(o.rc);
    CHECK_EQ(o.msg.body, WD_HTTP1_BODY_CHUNKED);
    CHECK(o.msg.transfer_coded);
}

TEST(te_split_lines)
{
    struct out o;
    CHECK(REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: deflate\r\n"
              "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
              &o));
    CHECK_OK(o.rc);
    CHECK_EQ(o.msg.body, WD_HTTP1_BODY_CHUNKED);
    CHECK_EQ(o.body_len, 2);
}

TEST(target_forms)
{
    struct out o;
    CHECK(REQ("GET http://Example.com:8080/p/q?a=b HTTP/1.1\r\nHost: example.com\r\n\r\n", &o));
    CHECK_OK(o.rc);
    CHECK_EQ(o.msg.form, WD_HTTP1_FORM_ABSOLUTE);
    CHECK(sl(o.msg.scheme, "http"));
    CHECK(sl(o.msg.authority, "Example.com:8080"));
    CHECK(sl(o.msg.path, "/p/q"));
    CHECK(sl(o.msg.query, "a=b"));
    CHECK(REQ("GET https://h HTTP/1.1\r\nHost: h\r\n\r\n", &o));
    CHECK_OK(o.rc);
    CHECK(sl(o.msg.path, "") && !o.msg.has_query);
    CHECK(REQ("GET http://[::1]:80/?q HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", &o));
    CHECK_OK(o.rc);
    CHECK(sl(o.msg.authority, "[::1]:80"));
    CHECK(o.msg.has_query && sl(o.msg.query, "q"));
    CHECK(REQ("GET /? HTTP/1.1\r\nHost: h\r\n\r\n", &o));
    CHECK(o.msg.has_query && o.msg.query.len == 0);
    CHECK(REQ("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", &o));
    CHECK_OK(o.rc);
    CHECK_EQ(o.msg.form, WD_HTTP1_FORM_ASTERISK);
    CHECK(sl(o.msg.path, "*"));
    CHECK(REQ("CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n", &o));
    CHECK_OK(o.rc);
    CHECK_EQ(o.msg.form, WD_HTTP1_FORM_AUTHORITY);
    CHECK(sl(o.msg.authority, "db.internal:5432"));
    CHECK(o.msg.tunnel);
    CHECK_EQ(o.msg.body, WD_HTTP1_BODY_NONE);
    /* Every RFC 3986 character class that origin-form allows. */
    CHECK(REQ("GET /az09-._~!$&'()*+,;=:@%2F/?/?:@ HTTP/1.1\r\nHost: h\r\n\r\n", &o));
    CHECK_OK(o.rc);
    CHECK(REQ("GET HTTPS://h/ HTTP/1.1\r\nHost: h\r\n\r\n", &o));
    CHECK_OK(o.rc);
    CHECK(sl(o.msg.scheme, "HTTPS"));
}

TEST(host_values)
{
    struct out o;
    /* reg-name allows sub-delims; an empty Host is allowed (RFC 9112 §3.2). */
    CHECK(REQ("GET / HTTP/1.1\r\nHost: 0.0.0.0=5000\r\n\r\n", &o));
    CHECK_OK(o.rc);
    CHECK(REQ("GET / HTTP/1.1\r\nHost:\r\n\r\n", &o));
    CHECK_OK(o.rc);
    CHECK(REQ("GET / HTTP/1.1\r\nhOsT: [v1.fe]\r\n\r\n", &o));
    CHECK_OK(o.rc);
    BAD_REQ("GET / HTTP/1.1\r\n\r\n", WD_HTTP1_R_HOST_MISSING);
    BAD_REQ("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", WD_HTTP1_R_HOST_DUP);
    BAD_REQ("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", WD_HTTP1_R_HOST_DUP);
    BAD_REQ("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", WD_HTTP1_R_HOST_INVALID);
    BAD_REQ("GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", WD_HTTP1_R_HOST_INVALID);
    BAD_REQ("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", WD_HTTP1_R_HOST_INVALID);
    BAD_REQ("GET / HTTP/1.1\r\nHost: h:99999\r\n\r\n", WD_HTTP1_R_HOST_INVALID);
    BAD_REQ("GET / HTTP/1.1\r\nHost: h:8x\r\n\r\n", WD_HTTP1_R_HOST_INVALID);
    BAD_REQ("GET / HTTP/1.1\r\nHost: h/p\r\n\r\n", WD_HTTP1_R_HOST_INVALID);
    /* The relaxation exists for callers that check Host themselves. */
    struct wd_http1_config cfg;
    wd_http1_config_default(&cfg);
    cfg.allow_missing_host = true;
    static const char m[] = "GET / HTTP/1.1\r\n\r\n";
    CHECK(run(WD_HTTP1_REQUEST, &cfg, WD_HTTP1_GET, m, sizeof(m) - 1, &o));
    CHECK_OK(o.rc);
}

TEST(leading_empty_lines)
{
    static const char m[] = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
    struct out o;
    CHECK(REQ(m, &o));
    CHECK_OK(o.rc);
    CHECK_EQ(o.used, sizeof(m) - 1);
    CHECK(prefixes_wait(WD_HTTP1_REQUEST, m, sizeof(m) - 1));
    BAD_REQ("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_BARE_LF);
    BAD_REQ("\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_BARE_CR);
    BAD_REQ(" GET / HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_REQUEST_LINE);
}

TEST(expectations)
{
    struct out o;
    CHECK(REQ("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nok",
              &o));
    CHECK_OK(o.rc);
    CHECK(o.msg.expect_continue && !o.msg.expect_other);
    CHECK(REQ("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n", &o));
    CHECK_OK(o.rc);
    CHECK(!o.msg.expect_continue && o.msg.expect_other);
}

TEST(any_method_option)
{
    struct wd_http1_config cfg;
    wd_http1_config_default(&cfg);
    static const char m[] = "BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n";
    struct out o;
    CHECK(run(WD_HTTP1_REQUEST, &cfg, WD_HTTP1_GET, m, sizeof(m) - 1, &o));
    CHECK_ERR(o.rc, WD_EPROTO);
    CHECK_EQ(o.reason, WD_HTTP1_R_METHOD_UNKNOWN);
    cfg.any_method = true;
    CHECK(run(WD_HTTP1_REQUEST, &cfg, WD_HTTP1_GET, m, sizeof(m) - 1, &o));
    CHECK_OK(o.rc);
    CHECK_EQ(o.msg.method, WD_HTTP1_OTHER);
    CHECK(sl(o.msg.method_name, "BREW"));
    /* Registered extension methods are OTHER too; the standard ones have values. */
    CHECK(REQ("PROPFIND / HTTP/1.1\r\nHost: h\r\n\r\n", &o));
    CHECK_OK(o.rc);
    CHECK_EQ(o.msg.method, WD_HTTP1_OTHER);
    CHECK(REQ("PATCH / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", &o));
    CHECK_EQ(o.msg.method, WD_HTTP1_PATCH);
    CHECK_STR(wd_http1_method_str(WD_HTTP1_DELETE), "DELETE");
    CHECK_STR(wd_http1_method_str(WD_HTTP1_OTHER), "");
}

/* ---- request smuggling shapes and character rules: each has its own reason ---- */

TEST(cl_and_te)
{
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            WD_HTTP1_R_CL_AND_TE);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            WD_HTTP1_R_CL_AND_TE);
    BAD_RESP("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
             WD_HTTP1_R_CL_AND_TE);
}

TEST(content_length_rules)
{
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            WD_HTTP1_R_CL_DUP);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
            WD_HTTP1_R_CL_DUP);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", WD_HTTP1_R_CL_LIST);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5,\r\n\r\n", WD_HTTP1_R_CL_LIST);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", WD_HTTP1_R_CL_INVALID);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", WD_HTTP1_R_CL_INVALID);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\n", WD_HTTP1_R_CL_INVALID);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4 2\r\n\r\n", WD_HTTP1_R_CL_INVALID);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", WD_HTTP1_R_CL_INVALID);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n",
            WD_HTTP1_R_CL_OVERFLOW);
    /* 2^64-1 fits; it is then a body limit question. */
    struct out o;
    CHECK(REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n", &o));
    CHECK_ERR(o.rc, WD_EAGAIN);
    CHECK_EQ(o.msg.content_length, UINT64_MAX);
}

TEST(transfer_encoding_rules)
{
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
            WD_HTTP1_R_TE_NOT_CHUNKED);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            WD_HTTP1_R_TE_CHUNKED_ORDER);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
            "Transfer-Encoding: gzip\r\n\r\n",
            WD_HTTP1_R_TE_CHUNKED_ORDER);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            WD_HTTP1_R_TE_CHUNKED_TWICE);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
            "Transfer-Encoding: chunked\r\n\r\n",
            WD_HTTP1_R_TE_CHUNKED_TWICE);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: pigeons, chunked\r\n\r\n",
            WD_HTTP1_R_TE_UNKNOWN);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n",
            WD_HTTP1_R_TE_UNKNOWN);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunkedchunked\r\n\r\n",
            WD_HTTP1_R_TE_UNKNOWN);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
            WD_HTTP1_R_TE_INVALID);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , chunked\r\n\r\n",
            WD_HTTP1_R_TE_INVALID);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", WD_HTTP1_R_TE_INVALID);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n",
            WD_HTTP1_R_TE_INVALID);
    BAD_REQ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", WD_HTTP1_R_TE_HTTP10);
    BAD_RESP("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", WD_HTTP1_R_TE_HTTP10);
}

TEST(obs_fold)
{
    BAD_REQ("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", WD_HTTP1_R_OBS_FOLD);
    BAD_REQ("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", WD_HTTP1_R_OBS_FOLD);
    BAD_REQ("GET / HTTP/1.1\r\n Host: h\r\n\r\n", WD_HTTP1_R_OBS_FOLD);
    BAD_RESP("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", WD_HTTP1_R_OBS_FOLD);
}

TEST(bare_cr_lf)
{
    BAD_REQ("GET / HTTP/1.1\nHost: h\r\n\r\n", WD_HTTP1_R_BARE_LF);
    BAD_REQ("GET / HTTP/1.1\rHost: h\r\n\r\n", WD_HTTP1_R_BARE_CR);
    BAD_REQ("GET / HTTP/1.1\r\nHost: h\n\r\n", WD_HTTP1_R_BARE_LF);
    BAD_REQ("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", WD_HTTP1_R_BARE_CR);
    BAD_REQ("GET / HTTP/1.1\r\nHost: h\r\n\n", WD_HTTP1_R_BARE_LF);
    BAD_REQ("GET / HTTP/1.1\r\nHost: h\r\n\rX", WD_HTTP1_R_BARE_CR);
    BAD_REQ("GET / HTTP/1.1\r\nHost:\n\r\n", WD_HTTP1_R_BARE_LF);
    BAD_REQ("GET / HTTP/1.1\r\nHost: a\nb\r\n\r\n", WD_HTTP1_R_BARE_LF);
    BAD_RESP("HTTP/1.1 200 OK\nX: y\r\n\r\n", WD_HTTP1_R_BARE_LF);
    BAD_RESP("HTTP/1.1 200 OK\r\rX: y\r\n\r\n", WD_HTTP1_R_BARE_CR);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\nA\r\n0\r\n\r\n",
            WD_HTTP1_R_BARE_LF);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\rA\r\n0\r\n\r\n",
            WD_HTTP1_R_BARE_CR);
    BAD_REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\n",
            WD_HTTP1_R_BARE_LF);
}

TEST(field_names)
{
    BAD_REQ("GET / HTTP/1.1\r\nHost : h\r\n\r\n", WD_HTTP1_R_FIELD_WS_COLON);
    BAD_REQ("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", WD_HTTP1_R_FIELD_WS_COLON);
    BAD_REQ("GET / HTTP/1.1\r\nHost: h\r\nContent-Length : 5\r\n\r\n", WD_HTTP1_R_FIELD_WS_COLON);
    BAD_REQ("GET / HTTP/1.1\r\nHost: h\r\nFo@: x\r\n\r\n", WD_HTTP1_R_FIELD_NAME);
    BAD_REQ("GET / HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n", WD_HTTP1_R_FIELD_NAME);
    BAD_REQ("GET / HTTP/1.1\r\nHost: h\r\nA(b: x\r\n\r\n", WD_HTTP1_R_FIELD_NAME);
    BAD_REQ("GET / HTTP/1.1\r\nHost: h\r\n\xc3\xa9: x\r\n\r\n", WD_HTTP1_R_FIELD_NAME);
    BAD_REQ("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", WD_HTTP1_R_FIELD_NO_COLON);
    struct out o;
    CHECK(REQ("GET / HTTP/1.1\r\nHost: h\r\n!#$%&'*+-.^_`|~09az: x\r\n\r\n", &o));
    CHECK_OK(o.rc);
}

TEST(field_values)
{
    REQ_ERR("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", WD_EPROTO, WD_HTTP1_R_FIELD_VALUE);
    BAD_REQ("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01\r\n\r\n", WD_HTTP1_R_FIELD_VALUE);
    BAD_REQ("GET / HTTP/1.1\r\nHost: h\r\nX: \x7f\r\n\r\n", WD_HTTP1_R_FIELD_VALUE);
    BAD_REQ("GET / HTTP/1.1\r\nHost: h\r\nX: a\fb\r\n\r\n", WD_HTTP1_R_FIELD_VALUE);
    BAD_REQ("GET / HTTP/1.1\r\nHost: h\r\nX:\x1b\r\n\r\n", WD_HTTP1_R_FIELD_VALUE);
    struct out o;
    /* obs-text is allowed (RFC 9110 §5.5); HTAB inside a value too. */
    CHECK(REQ("GET / HTTP/1.1\r\nHost: h\r\nX: D\xc3\xbcsseldorf\t\xff x\r\n\r\n", &o));
    CHECK_OK(o.rc);
    CHECK_STR(o.fields, "Host=h|X=D\xc3\xbcsseldorf\t\xff x|");
}

TEST(method_rules)
{
    BAD_REQ("GE\x01T / HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_METHOD_CHAR);
    BAD_REQ("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_METHOD_CHAR);
    BAD_REQ("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_METHOD_CHAR);
    BAD_REQ("get / HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_METHOD_UNKNOWN);
    BAD_REQ("MKCOLA / HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_METHOD_UNKNOWN);
    BAD_REQ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", WD_HTTP1_R_METHOD_UNKNOWN);
    BAD_REQ("GET\r\n\r\n", WD_HTTP1_R_REQUEST_LINE);
    BAD_REQ("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_REQUEST_LINE);
    BAD_REQ("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", WD_HTTP1_R_VERSION);
    BAD_REQ("GET /\r\n\r\n", WD_HTTP1_R_REQUEST_LINE);
}

TEST(target_rules)
{
    BAD_REQ("GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_CHAR);
    BAD_REQ("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_CHAR);
    BAD_REQ("GET /a|b HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_CHAR);
    BAD_REQ("GET /\"q\" HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_CHAR);
    BAD_REQ("GET /\xce\xb4 HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_CHAR);
    BAD_REQ("GET /a[1] HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_CHAR);
    BAD_REQ("GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_PCT);
    BAD_REQ("GET /%4 HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_PCT);
    BAD_REQ("GET /?%g0 HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_PCT);
    BAD_REQ("GET * HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_FORM);
    BAD_REQ("CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_CHAR);
    BAD_REQ("CONNECT host HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_FORM);
    BAD_REQ("CONNECT host: HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_FORM);
    BAD_REQ("CONNECT :443 HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_FORM);
    BAD_REQ("GET host:443 HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_FORM);
    BAD_REQ("GET http://u:p@h/ HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_USERINFO);
    BAD_REQ("GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_FORM);
    BAD_REQ("GET http:/x HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_FORM);
    BAD_REQ("GET http://h:65536/ HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_FORM);
    BAD_REQ("GET http://[zz]/ HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_FORM);
    BAD_REQ("GET 1http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_FORM);
    BAD_REQ("GET urn:example:x HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_FORM);
    BAD_REQ("GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n", WD_HTTP1_R_TARGET_FORM);
}

TEST(version_rules)
{
    BAD_REQ("GET / HTTP/1.2\r\nHost: h\r\n\r\n", WD_HTTP1_R_VERSION_UNSUPP);
    BAD_REQ("GET / HTTP/2.0\r\n\r\n", WD_HTTP1_R_VERSION_UNSUPP);
    BAD_REQ("GET / HTTP/0.9\r\n\r\n", WD_HTTP1_R_VERSION_UNSUPP);
    BAD_REQ("GET / http/1.1\r\n\r\n", WD_HTTP1_R_VERSION);
    BAD_REQ("GET / HTTP/11\r\n\r\n", WD_HTTP1_R_VERSION);
    BAD_REQ("GET / HTTP/1.10\r\n\r\n", WD_HTTP1_R_VERSION);
    BAD_REQ("GET / ICE/1.0\r\n\r\n", WD_HTTP1_R_VERSION);
    /* Refused as soon as the minor digit is seen, without waiting for the CRLF. */
    BAD_REQ("GET / HTTP/5.6", WD_HTTP1_R_VERSION_UNSUPP);
    BAD_RESP("HTTP/1.2 200 OK\r\n\r\n", WD_HTTP1_R_VERSION_UNSUPP);
    BAD_RESP("HTTP/1.1\t200 OK\r\n\r\n", WD_HTTP1_R_VERSION);
    BAD_RESP("HTTPS/1.1 200 OK\r\n\r\n", WD_HTTP1_R_VERSION);
}

TEST(chunk_size_rules)
{
#define CH(body) "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" body
    BAD_REQ(CH("x\r\n"), WD_HTTP1_R_CHUNK_SIZE);
    BAD_REQ(CH("\r\n"), WD_HTTP1_R_CHUNK_SIZE);
    BAD_REQ(CH("-1\r\n"), WD_HTTP1_R_CHUNK_SIZE);
    BAD_REQ(CH("+1\r\n"), WD_HTTP1_R_CHUNK_SIZE);
    BAD_REQ(CH(" 5\r\nhello\r\n"), WD_HTTP1_R_CHUNK_SIZE);
    BAD_REQ(CH("5 \r\nhello\r\n"), WD_HTTP1_R_CHUNK_SIZE);
    BAD_REQ(CH("5\t;a\r\nhello\r\n"), WD_HTTP1_R_CHUNK_SIZE);
    BAD_REQ(CH("0x5\r\nhello\r\n"), WD_HTTP1_R_CHUNK_SIZE);
    BAD_REQ(CH("3\r\nfoo\r\n\r\n"), WD_HTTP1_R_CHUNK_SIZE); /* missing last-chunk */
    REQ_ERR(CH("00000000000000001\r\n"), WD_ELIMIT, WD_HTTP1_R_LIMIT_CHUNK_DIGITS);
    REQ_ERR(CH("10000000000000000\r\n"), WD_ELIMIT, WD_HTTP1_R_LIMIT_CHUNK_DIGITS);
    BAD_REQ(CH("5\r\nhelloX\r\n0\r\n\r\n"), WD_HTTP1_R_CHUNK_DATA_CRLF);
    BAD_REQ(CH("5\r\nhello\rX0\r\n\r\n"), WD_HTTP1_R_CHUNK_DATA_CRLF);
    /* With a looser digit bound the value itself overflows. */
    struct wd_http1_config cfg;
    wd_http1_config_default(&cfg);
    cfg.max_chunk_digits = 40;
    static const char m[] = CH("10000000000000000\r\n");
    struct out o;
    CHECK(run(WD_HTTP1_REQUEST, &cfg, WD_HTTP1_GET, m, sizeof(m) - 1, &o));
    CHECK_ERR(o.rc, WD_EPROTO);
    CHECK_EQ(o.reason, WD_HTTP1_R_CHUNK_OVERFLOW);
    /* Leading zeros within the bound are fine: "0000000000000001" has 16 digits. */
    CHECK(REQ(CH("0000000000000001\r\nA\r\n0\r\n\r\n"), &o));
    CHECK_OK(o.rc);
    CHECK_EQ(o.body_len, 1);
}

TEST(chunk_ext_rules)
{
    BAD_REQ(CH("5;\r\nhello\r\n"), WD_HTTP1_R_CHUNK_EXT);
    BAD_REQ(CH("5;=x\r\nhello\r\n"), WD_HTTP1_R_CHUNK_EXT);
    BAD_REQ(CH("5;a=\r\nhello\r\n"), WD_HTTP1_R_CHUNK_EXT);
    BAD_REQ(CH("5;a b\r\nhello\r\n"), WD_HTTP1_R_CHUNK_EXT);
    BAD_REQ(CH("5;a =b\r\nhello\r\n"), WD_HTTP1_R_CHUNK_EXT);
    BAD_REQ(CH("5;a=b=c\r\nhello\r\n"), WD_HTTP1_R_CHUNK_EXT);
    BAD_REQ(CH("5;a=\"x\r\nhello\r\n"), WD_HTTP1_R_CHUNK_EXT);
    BAD_REQ(CH("5;a=\"\x01\"\r\nhello\r\n"), WD_HTTP1_R_CHUNK_EXT);
    BAD_REQ(CH("5;a=\"x\"y\r\nhello\r\n"), WD_HTTP1_R_CHUNK_EXT);
    BAD_REQ(CH("5;a=\"\\\x01\"\r\nhello\r\n"), WD_HTTP1_R_CHUNK_EXT);
    BAD_REQ(CH("5;a@\r\nhello\r\n"), WD_HTTP1_R_CHUNK_EXT);
    struct out o;
    CHECK(REQ(CH("5;a;b=c;d=\"e;\\\"f\\\\\";g=\"\"\r\nhello\r\n0;z\r\n\r\n"), &o));
    CHECK_OK(o.rc);
    CHECK_EQ(o.body_len, 5);
}

TEST(trailer_rules)
{
    BAD_REQ(CH("0\r\nContent-Length: 5\r\n\r\n"), WD_HTTP1_R_TRAILER_FIELD);
    BAD_REQ(CH("0\r\ntransfer-encoding: chunked\r\n\r\n"), WD_HTTP1_R_TRAILER_FIELD);
    BAD_REQ(CH("0\r\nHost: evil\r\n\r\n"), WD_HTTP1_R_TRAILER_FIELD);
    BAD_REQ(CH("0\r\nX : y\r\n\r\n"), WD_HTTP1_R_FIELD_WS_COLON);
    BAD_REQ(CH("0\r\nX: y\r\n z\r\n\r\n"), WD_HTTP1_R_OBS_FOLD);
#undef CH
}

TEST(connect_and_connection_rules)
{
    BAD_REQ("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\nContent-Length: 10\r\n\r\n",
            WD_HTTP1_R_BODY_FORBIDDEN);
    BAD_REQ("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\nTransfer-Encoding: chunked\r\n\r\n",
            WD_HTTP1_R_BODY_FORBIDDEN);
    BAD_REQ("GET / HTTP/1.1\r\nHost: h\r\nConnection: close, Content-Length\r\n\r\n",
            WD_HTTP1_R_CONNECTION);
    BAD_REQ("GET / HTTP/1.1\r\nHost: h\r\nConnection: transfer-encoding\r\n\r\n",
            WD_HTTP1_R_CONNECTION);
    BAD_REQ("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep alive\r\n\r\n", WD_HTTP1_R_CONNECTION);
}

/* ---- connection-level behaviour ---- */

TEST(pipelining)
{
    static const char m[] = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nAAA"
                            "\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"
                            "PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "1\r\nC\r\n0\r\n\r\n";
    struct wd_http1_field f[8];
    struct wd_http1_parser p;
    wd_http1_init(&p, WD_HTTP1_REQUEST, NULL, f, 8);
    const uint8_t *in = (const uint8_t *)m;
    size_t len = sizeof(m) - 1, pos = 0, ends = 0;
    const char *paths[] = {"/a", "/b", "/c"};
    size_t end_at[3];
    while (ends < 3) {
        struct wd_http1_step st;
        int rc = wd_http1_step(&p, in + pos, len - pos, &st);
        CHECK_OK(rc);
        pos += st.used;
        if (st.ev == WD_HTTP1_EV_HEAD) {
            CHECK(sl(wd_http1_msg(&p)->target, paths[ends]));
        } else if (st.ev == WD_HTTP1_EV_END) {
            end_at[ends++] = pos;
        }
    }
    /* The parser stops exactly at each message's last byte. */
    CHECK_EQ(end_at[0], strstr(m, "\r\nGET") - m);
    CHECK_EQ(end_at[1], strstr(m, "PUT") - m);
    CHECK_EQ(end_at[2], len);
    struct wd_http1_step st;
    CHECK_ERR(wd_http1_step(&p, in + pos, 0, &st), WD_EAGAIN);
    CHECK_OK(wd_http1_finish(&p));
}

TEST(after_close)
{
    static const char m[] = "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                            "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
    struct wd_http1_field f[8];
    struct wd_http1_parser p;
    struct wd_http1_step st;
    wd_http1_init(&p, WD_HTTP1_REQUEST, NULL, f, 8);
    const uint8_t *in = (const uint8_t *)m;
    size_t len = sizeof(m) - 1, pos = 0;
    CHECK_OK(wd_http1_step(&p, in, len, &st));
    CHECK_EQ(st.ev, WD_HTTP1_EV_HEAD);
    CHECK(!wd_http1_msg(&p)->keep_alive);
    pos += st.used;
    CHECK_OK(wd_http1_step(&p, in + pos, len - pos, &st));
    CHECK_EQ(st.ev, WD_HTTP1_EV_END);
    pos += st.used;
    /* Blank lines are still skipped, but a new request is refused. */
    CHECK_ERR(wd_http1_step(&p, in + pos, 4, &st), WD_EAGAIN);
    CHECK_ERR(wd_http1_step(&p, in + pos, len - pos, &st), WD_EPROTO);
    CHECK_EQ(wd_http1_reason(&p), WD_HTTP1_R_AFTER_CLOSE);
    CHECK_EQ(st.used, 0);
    /* Sticky. */
    CHECK_ERR(wd_http1_step(&p, in + pos, len - pos, &st), WD_EPROTO);
    CHECK_ERR(wd_http1_finish(&p), WD_EPROTO);
    /* After a reset (say the caller decided to continue) parsing resumes. */
    wd_http1_reset(&p);
    CHECK_EQ(wd_http1_reason(&p), WD_HTTP1_R_NONE);
    CHECK_OK(wd_http1_step(&p, in + pos, len - pos, &st));
    CHECK_EQ(st.ev, WD_HTTP1_EV_HEAD);
}

TEST(upgrade_stops_http)
{
    static const char m[] = "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
                            "Upgrade: websocket\r\n\r\n\x81\x05hello";
    struct wd_http1_field f[8];
    struct wd_http1_parser p;
    struct wd_http1_step st;
    wd_http1_init(&p, WD_HTTP1_REQUEST, NULL, f, 8);
    const uint8_t *in = (const uint8_t *)m;
    size_t len = sizeof(m) - 1;
    CHECK_OK(wd_http1_step(&p, in, len, &st));
    CHECK(wd_http1_msg(&p)->upgrade);
    size_t pos = st.used;
    CHECK_OK(wd_http1_step(&p, in + pos, len - pos, &st));
    CHECK_EQ(st.ev, WD_HTTP1_EV_END);
    CHECK_EQ(st.used, 0);
    CHECK_ERR(wd_http1_step(&p, in + pos, len - pos, &st), WD_EPROTO);
    CHECK_EQ(wd_http1_reason(&p), WD_HTTP1_R_AFTER_CLOSE);
    /* Upgrade without the connection option, or in HTTP/1.0, is no upgrade. */
    struct out o;
    CHECK(REQ("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n", &o));
    CHECK(!o.msg.upgrade);
    CHECK(REQ("GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", &o));
    CHECK(!o.msg.upgrade);
}

TEST(finish_rules)
{
    struct wd_http1_field f[8];
    struct wd_http1_parser p;
    struct wd_http1_step st;
    /* Idle: fine. Inside a head or a length body: truncated. */
    wd_http1_init(&p, WD_HTTP1_REQUEST, NULL, f, 8);
    CHECK_OK(wd_http1_finish(&p));
    CHECK_ERR(wd_http1_step(&p, (const uint8_t *)"GET / HT", 8, &st), WD_EAGAIN);
    CHECK_ERR(wd_http1_finish(&p), WD_EPROTO);
    CHECK_EQ(wd_http1_reason(&p), WD_HTTP1_R_TRUNCATED);
    static const char m[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab";
    wd_http1_init(&p, WD_HTTP1_REQUEST, NULL, f, 8);
    CHECK_OK(wd_http1_step(&p, (const uint8_t *)m, sizeof(m) - 1, &st));
    CHECK_OK(wd_http1_step(&p, (const uint8_t *)m + st.used, 2, &st));
    CHECK_EQ(st.ev, WD_HTTP1_EV_DATA);
    CHECK_ERR(wd_http1_finish(&p), WD_EPROTO);
    /* A response read until close ends cleanly at the close. */
    static const char r[] = "HTTP/1.1 200 OK\r\n\r\nsome bytes";
    wd_http1_init(&p, WD_HTTP1_RESPONSE, NULL, f, 8);
    CHECK_OK(wd_http1_step(&p, (const uint8_t *)r, sizeof(r) - 1, &st));
    CHECK_EQ(wd_http1_msg(&p)->body, WD_HTTP1_BODY_EOF);
    CHECK(!wd_http1_msg(&p)->keep_alive);
    size_t pos = st.used;
    CHECK_OK(wd_http1_step(&p, (const uint8_t *)r + pos, sizeof(r) - 1 - pos, &st));
    CHECK_EQ(st.ev, WD_HTTP1_EV_DATA);
    CHECK_EQ(st.data.len, 10);
    CHECK_ERR(wd_http1_step(&p, NULL, 0, &st), WD_EAGAIN);
    CHECK_OK(wd_http1_finish(&p));
    CHECK_ERR(wd_http1_step(&p, (const uint8_t *)"H", 1, &st), WD_EPROTO);
    CHECK_EQ(wd_http1_reason(&p), WD_HTTP1_R_AFTER_CLOSE);
}

TEST(api_misuse)
{
    struct wd_http1_field f[4];
    struct wd_http1_parser p;
    struct wd_http1_step st;
    wd_http1_init(&p, WD_HTTP1_REQUEST, NULL, f, 4);
    CHECK_ERR(wd_http1_step(NULL, NULL, 0, &st), WD_EINVAL);
    CHECK_ERR(wd_http1_step(&p, NULL, 0, NULL), WD_EINVAL);
    CHECK_ERR(wd_http1_step(&p, NULL, 3, &st), WD_EINVAL);
    /* The head must be passed again from its start, never shorter. */
    CHECK_ERR(wd_http1_step(&p, (const uint8_t *)"GET / HT", 8, &st), WD_EAGAIN);
    CHECK_EQ(st.used, 0);
    CHECK_ERR(wd_http1_step(&p, (const uint8_t *)"GET", 3, &st), WD_EINVAL);
    CHECK_STR(wd_http1_reason_name(WD_HTTP1_R_CL_DUP), "CL_DUP");
    CHECK_STR(wd_http1_reason_str(WD_HTTP1_R_OBS_FOLD), "obsolete line folding");
    CHECK_STR(wd_http1_reason_name(WD_HTTP1_R_COUNT_), "UNKNOWN");
    for (int r = 0; r < WD_HTTP1_R_COUNT_; r++) {
        CHECK(strcmp(wd_http1_reason_name((enum wd_http1_reason)r), "UNKNOWN") != 0);
    }
}

TEST(head_buffer_may_move)
{
    /* Fields are offsets: growing the buffer (realloc) between calls is fine. */
    static const char m[] = "GET /x HTTP/1.1\r\nHost: h\r\nA: 1\r\n\r\n";
    struct wd_http1_field f[4];
    struct wd_http1_parser p;
    struct wd_http1_step st;
    wd_http1_init(&p, WD_HTTP1_REQUEST, NULL, f, 4);
    uint8_t one[64], two[64];
    memcpy(one, m, 20);
    CHECK_ERR(wd_http1_step(&p, one, 20, &st), WD_EAGAIN);
    memcpy(two, m, sizeof(m) - 1);
    memset(one, 'z', sizeof(one));
    CHECK_OK(wd_http1_step(&p, two, sizeof(m) - 1, &st));
    struct wd_slice n, v;
    CHECK(wd_http1_field(&p, 1, &n, &v));
    CHECK(sl(n, "A") && sl(v, "1"));
    CHECK(sl(wd_http1_msg(&p)->target, "/x"));
}

/* ---- responses ---- */

TEST(response_basic)
{
    static const char m[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello";
    struct out o;
    CHECK(RESP(m, &o));
    CHECK_OK(o.rc);
    CHECK_EQ(o.msg.status, 200);
    CHECK(sl(o.msg.reason, "OK"));
    CHECK(o.msg.keep_alive);
    CHECK_EQ(o.body_len, 5);
    CHECK_EQ(o.used, sizeof(m) - 1);
    CHECK(prefixes_wait(WD_HTTP1_RESPONSE, m, sizeof(m) - 1));
    CHECK(RESP("HTTP/1.1 500 Ori\xc3\xabntatie  probleem\t\r\nContent-Length: 0\r\n\r\n", &o));
    CHECK_OK(o.rc);
    CHECK(sl(o.msg.reason, "Ori\xc3\xabntatie  probleem\t"));
    CHECK(RESP("HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", &o));
    CHECK_OK(o.rc);
    CHECK_EQ(o.msg.reason.len, 0);
    static const char c[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n";
    CHECK(RESP(c, &o));
    CHECK_OK(o.rc);
    CHECK_STR(o.trailers, "X-T=1|");
    CHECK(prefixes_wait(WD_HTTP1_RESPONSE, c, sizeof(c) - 1));
}

TEST(response_no_body_rules)
{
    struct out o;
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    CHECK(run(WD_HTTP1_RESPONSE, NULL, WD_HTTP1_HEAD, head, sizeof(head) - 1, &o));
    CHECK_OK(o.rc);
    CHECK_EQ(o.msg.body, WD_HTTP1_BODY_NONE);
    CHECK_EQ(o.msg.content_length, 1000);
    CHECK_EQ(o.used, sizeof(head) - 1);
    CHECK(RESP("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", &o));
    CHECK_OK(o.rc);
    CHECK_EQ(o.msg.body, WD_HTTP1_BODY_NONE);
    CHECK(RESP("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", &o));
    CHECK_OK(o.rc);
    CHECK(RESP("HTTP/1.1 204 No Content\r\n\r\n", &o));
    CHECK_OK(o.rc);
    CHECK(RESP("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", &o));
    CHECK_OK(o.rc);
    BAD_RESP("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", WD_HTTP1_R_BODY_FORBIDDEN);
    BAD_RESP("HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n",
             WD_HTTP1_R_BODY_FORBIDDEN);
    BAD_RESP("HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n", WD_HTTP1_R_BODY_FORBIDDEN);
    BAD_RESP("HTTP/1.1 101 Switching\r\nTransfer-Encoding: chunked\r\n\r\n",
             WD_HTTP1_R_BODY_FORBIDDEN);
    /* A 2xx to CONNECT starts a tunnel; its CL/TE are ignored (RFC 9112 §6.3 ¶2). */
    static const char t[] = "HTTP/1.1 200 Connection established\r\nContent-Length: 9\r\n\r\n";
    CHECK(run(WD_HTTP1_RESPONSE, NULL, WD_HTTP1_CONNECT, t, sizeof(t) - 1, &o));
    CHECK_OK(o.rc);
    CHECK(o.msg.tunnel);
    CHECK_EQ(o.msg.body, WD_HTTP1_BODY_NONE);
    /* A refused CONNECT is an ordinary response. */
    static const char t2[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno";
    CHECK(run(WD_HTTP1_RESPONSE, NULL, WD_HTTP1_CONNECT, t2, sizeof(t2) - 1, &o));
    CHECK_OK(o.rc);
    CHECK(!o.msg.tunnel);
    CHECK_EQ(o.body_len, 2);
}

TEST(response_interim_and_switch)
{
    static const char m[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
                            "Link: </s.css>; rel=preload\r\n\r\n"
                            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    struct wd_http1_field f[8];
    struct wd_http1_parser p;
    struct wd_http1_step st;
    wd_http1_init(&p, WD_HTTP1_RESPONSE, NULL, f, 8);
    wd_http1_set_request_method(&p, WD_HTTP1_POST);
    const uint8_t *in = (const uint8_t *)m;
    size_t len = sizeof(m) - 1, pos = 0;
    unsigned statuses[3], n = 0;
    while (n < 3) {
        CHECK_OK(wd_http1_step(&p, in + pos, len - pos, &st));
        pos += st.used;
        if (st.ev == WD_HTTP1_EV_HEAD) {
            statuses[n] = wd_http1_msg(&p)->status;
            CHECK_EQ(wd_http1_msg(&p)->interim, n < 2);
        } else if (st.ev == WD_HTTP1_EV_END) {
            n++;
        }
    }
    CHECK_EQ(statuses[0], 100);
    CHECK_EQ(statuses[1], 103);
    CHECK_EQ(statuses[2], 200);
    CHECK_EQ(pos, len);
    /* 101 switches protocols: the bytes after it are not HTTP. */
    static const char s[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            "Connection: upgrade\r\n\r\n\x81\x00";
    wd_http1_init(&p, WD_HTTP1_RESPONSE, NULL, f, 8);
    CHECK_OK(wd_http1_step(&p, (const uint8_t *)s, sizeof(s) - 1, &st));
    CHECK(wd_http1_msg(&p)->upgrade);
    pos = st.used;
    CHECK_OK(wd_http1_step(&p, (const uint8_t *)s + pos, sizeof(s) - 1 - pos, &st));
    CHECK_EQ(st.ev, WD_HTTP1_EV_END);
    CHECK_ERR(wd_http1_step(&p, (const uint8_t *)s + pos, sizeof(s) - 1 - pos, &st), WD_EPROTO);
}

TEST(response_framing)
{
    struct out o;
    /* Read until close: no framing, or a final coding other than chunked. */
    CHECK(RESP("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz", &o));
    CHECK_ERR(o.rc, WD_EAGAIN);
    CHECK_EQ(o.msg.body, WD_HTTP1_BODY_EOF);
    CHECK(o.msg.transfer_coded && !o.msg.keep_alive);
    CHECK_EQ(o.body_len, 3);
    CHECK(RESP("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx", &o));
    CHECK_OK(o.rc);
    CHECK(o.msg.keep_alive);
    CHECK(RESP("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", &o));
    CHECK(!o.msg.keep_alive);
    BAD_RESP("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
             WD_HTTP1_R_TE_CHUNKED_ORDER);
    BAD_RESP("HTTP/1.1 200 OK\r\nTransfer-Encoding: br\r\n\r\n", WD_HTTP1_R_TE_UNKNOWN);
    BAD_RESP("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
             WD_HTTP1_R_CL_DUP);
}

TEST(status_line_rules)
{
    BAD_RESP("HTTP/1.1 99 Low\r\n\r\n", WD_HTTP1_R_STATUS);
    BAD_RESP("HTTP/1.1 099 Low\r\n\r\n", WD_HTTP1_R_STATUS);
    BAD_RESP("HTTP/1.1 600 High\r\n\r\n", WD_HTTP1_R_STATUS);
    BAD_RESP("HTTP/1.1 2000 OK\r\n\r\n", WD_HTTP1_R_STATUS);
    BAD_RESP("HTTP/1.1 20x OK\r\n\r\n", WD_HTTP1_R_STATUS);
    BAD_RESP("HTTP/1.1  200 OK\r\n\r\n", WD_HTTP1_R_STATUS);
    BAD_RESP("HTTP/1.1 200\r\n\r\n", WD_HTTP1_R_STATUS_LINE);
    BAD_RESP("HTTP/1.1 200 O\x01K\r\n\r\n", WD_HTTP1_R_REASON_CHAR);
    BAD_RESP("HTTP/1.1 200 OK\x7f\r\n\r\n", WD_HTTP1_R_REASON_CHAR);
    BAD_RESP("HTTP/1.1 200 OK\n\r\n", WD_HTTP1_R_BARE_LF);
    struct out o;
    CHECK(RESP("HTTP/1.1 599 x\r\nContent-Length: 0\r\n\r\n", &o));
    CHECK_OK(o.rc);
    CHECK(RESP("HTTP/1.1 100 x\r\n\r\n", &o));
    CHECK_OK(o.rc);
}

/* ---- limits ---- */

TEST(limits_line_and_head)
{
    struct wd_http1_config cfg;
    wd_http1_config_default(&cfg);
    cfg.max_line = 32;
    cfg.max_head = 96;
    struct out o;
    /* 32 bytes including CRLF is the largest line allowed. */
    static const char ok[] = "GET /aaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: h\r\n\r\n";
    CHECK(run(WD_HTTP1_REQUEST, &cfg, WD_HTTP1_GET, ok, sizeof(ok) - 1, &o));
    CHECK_OK(o.rc);
    static const char longer[] = "GET /aaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: h\r\n\r\n";
    CHECK(run(WD_HTTP1_REQUEST, &cfg, WD_HTTP1_GET, longer, sizeof(longer) - 1, &o));
    CHECK_ERR(o.rc, WD_ELIMIT);
    CHECK_EQ(o.reason, WD_HTTP1_R_LIMIT_LINE);
    static const char field[] = "GET / HTTP/1.1\r\nHost: hhhhhhhhhhhhhhhhhhhhhhhhh\r\n\r\n";
    CHECK(run(WD_HTTP1_REQUEST, &cfg, WD_HTTP1_GET, field, sizeof(field) - 1, &o));
    CHECK_ERR(o.rc, WD_ELIMIT);
    CHECK_EQ(o.reason, WD_HTTP1_R_LIMIT_LINE);
    /* No CRLF at all: refused once the line is too long, without waiting for more. */
    static const char endless[] = "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    CHECK(run(WD_HTTP1_REQUEST, &cfg, WD_HTTP1_GET, endless, sizeof(endless) - 1, &o));
    CHECK_ERR(o.rc, WD_ELIMIT);
    static const char big[] = "GET / HTTP/1.1\r\nHost: h\r\nA: 1234567890\r\nB: 1234567890\r\n"
                              "C: 1234567890\r\nD: 1234567890\r\nE: 1234567890\r\n\r\n";
    CHECK(run(WD_HTTP1_REQUEST, &cfg, WD_HTTP1_GET, big, sizeof(big) - 1, &o));
    CHECK_ERR(o.rc, WD_ELIMIT);
    CHECK_EQ(o.reason, WD_HTTP1_R_LIMIT_HEAD);
    /* Blank lines before the request line count towards the head. */
    char blanks[200];
    for (size_t i = 0; i < 50; i++) {
        memcpy(blanks + 2 * i, "\r\n", 2);
    }
    CHECK(run(WD_HTTP1_REQUEST, &cfg, WD_HTTP1_GET, blanks, 100, &o));
    CHECK_ERR(o.rc, WD_ELIMIT);
    CHECK_EQ(o.reason, WD_HTTP1_R_LIMIT_HEAD);
}

TEST(limits_chunk_line)
{
    struct wd_http1_config cfg;
    wd_http1_config_default(&cfg);
    /* The chunk-size line, extensions included, is bounded by max_line (26 bytes + CRLF). */
    static const char m[] = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "1;aaaaaaaaaaaaaaaaaaaaaa\r\nA\r\n0\r\n\r\n";
    struct out o;
    cfg.max_line = 30;
    CHECK(run(WD_HTTP1_REQUEST, &cfg, WD_HTTP1_GET, m, sizeof(m) - 1, &o));
    CHECK_OK(o.rc);
    cfg.max_line = 26;
    CHECK(run(WD_HTTP1_REQUEST, &cfg, WD_HTTP1_GET, m, sizeof(m) - 1, &o));
    CHECK_ERR(o.rc, WD_ELIMIT);
    CHECK_EQ(o.reason, WD_HTTP1_R_LIMIT_LINE);
}

TEST(limits_fields)
{
    static const char m[] = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n";
    struct wd_http1_field f[3];
    struct wd_http1_parser p;
    struct wd_http1_step st;
    wd_http1_init(&p, WD_HTTP1_REQUEST, NULL, f, 3);
    CHECK_OK(wd_http1_step(&p, (const uint8_t *)m, sizeof(m) - 1, &st));
    CHECK_EQ(wd_http1_msg(&p)->nfields, 3);
    wd_http1_init(&p, WD_HTTP1_REQUEST, NULL, f, 2);
    CHECK_ERR(wd_http1_step(&p, (const uint8_t *)m, sizeof(m) - 1, &st), WD_ELIMIT);
    CHECK_EQ(wd_http1_reason(&p), WD_HTTP1_R_LIMIT_FIELDS);
    /* Trailers share the array with the header fields. */
    static const char c[] = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "0\r\nT1: a\r\nT2: b\r\n\r\n";
    wd_http1_init(&p, WD_HTTP1_REQUEST, NULL, f, 3);
    CHECK_OK(wd_http1_step(&p, (const uint8_t *)c, sizeof(c) - 1, &st));
    size_t pos = st.used;
    CHECK_ERR(wd_http1_step(&p, (const uint8_t *)c + pos, sizeof(c) - 1 - pos, &st), WD_ELIMIT);
    CHECK_EQ(wd_http1_reason(&p), WD_HTTP1_R_LIMIT_FIELDS);
    /* No array at all: any field is one too many. */
    wd_http1_init(&p, WD_HTTP1_REQUEST, NULL, NULL, 0);
    CHECK_ERR(wd_http1_step(&p, (const uint8_t *)m, sizeof(m) - 1, &st), WD_ELIMIT);
}

TEST(limits_body)
{
    struct wd_http1_config cfg;
    wd_http1_config_default(&cfg);
    cfg.max_body = 4;
    struct out o;
    static const char cl[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    CHECK(run(WD_HTTP1_REQUEST, &cfg, WD_HTTP1_GET, cl, sizeof(cl) - 1, &o));
    CHECK_ERR(o.rc, WD_ELIMIT);
    CHECK_EQ(o.reason, WD_HTTP1_R_LIMIT_BODY);
    CHECK(!o.head); /* refused before the head is handed out */
    static const char ch[] = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n";
    CHECK(run(WD_HTTP1_REQUEST, &cfg, WD_HTTP1_GET, ch, sizeof(ch) - 1, &o));
    CHECK_ERR(o.rc, WD_ELIMIT);
    CHECK_EQ(o.reason, WD_HTTP1_R_LIMIT_BODY);
    CHECK_EQ(o.body_len, 2);
    static const char eof[] = "HTTP/1.1 200 OK\r\n\r\nhello";
    CHECK(run(WD_HTTP1_RESPONSE, &cfg, WD_HTTP1_GET, eof, sizeof(eof) - 1, &o));
    CHECK_ERR(o.rc, WD_ELIMIT);
    CHECK_EQ(o.body_len, 4); /* up to the bound, then the error */
    /* Without a bound the decoded total still may not wrap around 64 bits. */
    static const char wrap[] = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "1\r\nx\r\nffffffffffffffff\r\nabc";
    CHECK(REQ(wrap, &o));
    CHECK_ERR(o.rc, WD_ELIMIT);
    CHECK_EQ(o.reason, WD_HTTP1_R_LIMIT_BODY);
    cfg.max_body = 5;
    CHECK(run(WD_HTTP1_REQUEST, &cfg, WD_HTTP1_GET, cl, sizeof(cl) - 1, &o));
    CHECK_OK(o.rc);
    CHECK(run(WD_HTTP1_REQUEST, &cfg, WD_HTTP1_GET, ch, sizeof(ch) - 1, &o));
    CHECK_OK(o.rc);
}

/* ---- every valid message: byte-at-a-time equivalence and truncation at each offset ---- */

static const struct {
    enum wd_http1_kind kind;
    const char *m;
} valid[] = {
        {WD_HTTP1_REQUEST, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"},
        {WD_HTTP1_REQUEST, "\r\nOPTIONS * HTTP/1.1\r\nHost: a\r\nX:\r\n\r\n"},
        {WD_HTTP1_REQUEST, "POST /x?y HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"},
        {WD_HTTP1_REQUEST,
         "PUT /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n"
         "\r\n3;e=\"q\\\"\"\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: 1\r\n\r\n"},
        {WD_HTTP1_REQUEST, "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"},
        {WD_HTTP1_REQUEST, "GET http://h/p HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"},
        {WD_HTTP1_REQUEST, "PATCH /a HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                           "Content-Length: 1\r\n\r\nz"},
        {WD_HTTP1_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
        {WD_HTTP1_RESPONSE, "HTTP/1.1 204 \r\n\r\n"},
        {WD_HTTP1_RESPONSE, "HTTP/1.0 301 Moved\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n"},
        {WD_HTTP1_RESPONSE, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "1\r\na\r\n0\r\n\r\n"},
        {WD_HTTP1_RESPONSE, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n"
                            "Connection: upgrade\r\n\r\n"},
};

TEST(all_valid_messages)
{
    for (size_t i = 0; i < WD_ARRAY_LEN(valid); i++) {
        struct out o;
        size_t len = strlen(valid[i].m);
        CHECK(run(valid[i].kind, NULL, WD_HTTP1_GET, valid[i].m, len, &o));
        if (o.rc != WD_OK || o.used != len) {
            printf("valid[%zu]: rc %d (%s) used %zu of %zu\n", i, o.rc,
                   wd_http1_reason_name(o.reason), o.used, len);
        }
        CHECK_OK(o.rc);
        CHECK_EQ(o.used, len);
        CHECK(prefixes_wait(valid[i].kind, valid[i].m, len));
    }
}

int main(void)
{
    RUN(simple_get);
    RUN(find_is_case_insensitive);
    RUN(http10);
    RUN(content_length_body);
    RUN(chunked_body_trailers);
    RUN(te_gzip_chunked);
    RUN(te_split_lines);
    RUN(target_forms);
    RUN(host_values);
    RUN(leading_empty_lines);
    RUN(expectations);
    RUN(any_method_option);
    RUN(cl_and_te);
    RUN(content_length_rules);
    RUN(transfer_encoding_rules);
    RUN(obs_fold);
    RUN(bare_cr_lf);
    RUN(field_names);
    RUN(field_values);
    RUN(method_rules);
    RUN(target_rules);
    RUN(version_rules);
    RUN(chunk_size_rules);
    RUN(chunk_ext_rules);
    RUN(trailer_rules);
    RUN(connect_and_connection_rules);
    RUN(pipelining);
    RUN(after_close);
    RUN(upgrade_stops_http);
    RUN(finish_rules);
    RUN(api_misuse);
    RUN(head_buffer_may_move);
    RUN(response_basic);
    RUN(response_no_body_rules);
    RUN(response_interim_and_switch);
    RUN(response_framing);
    RUN(status_line_rules);
    RUN(limits_line_and_head);
    RUN(limits_chunk_line);
    RUN(limits_fields);
    RUN(limits_body);
    RUN(all_valid_messages);
    return HARNESS_END("http1");
}
