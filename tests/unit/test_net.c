/*
 * lib/net: the address parsers, the request reader and message heads (pure), then the
 * server and client over real sockets on 127.0.0.1 and a unix socket in a temporary
 * directory: plaintext and mutual TLS with SVIDs from a test CA, keep-alive and reconnects,
 * limits and malformed input, unix peer credentials, stopping with idle clients, many
 * concurrent clients, certificate rotation, and allocation failures.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "warden/alloc.h"
#include "warden/bundle.h"
#include "warden/log.h"
#include "warden/net.h"
#include "warden/pki.h"
#include "warden/svid.h"

#include "harness.h"
#include "net/net_int.h"
#include "pki_testutil.h"

/* ---- fixtures ---- */

struct ident {
    EVP_PKEY *key;
    X509 *cert;
    STACK_OF(X509) * chain;
};

struct pki {
    struct wd_ca *ca;
    struct wd_bundle *bundle;
    struct ident server, server2, client;
};

static struct pki pki;     /* example.org */
static struct pki other;   /* another CA for example.org */
static struct pki foreign; /* other.org */

static int make_ident(struct wd_ca *ca, const char *id_str, struct ident *out)
{
    struct wd_spiffe_id id;
    memset(out, 0, sizeof(*out));
    if (wd_spiffe_id_parse(id_str, strlen(id_str), &id, NULL, NULL) < 0
        || wd_key_generate(&out->key, NULL) < 0
        || wd_svid_issue(ca, out->key, &id, 3600, NULL, &out->cert, NULL) < 0) {
        return -1;
    }
    out->chain = tu_stack(wd_ca_intermediate(ca), NULL);
    return out->chain != NULL ? 0 : -1;
}

static void free_ident(struct ident *i)
{
    EVP_PKEY_free(i->key);
    X509_free(i->cert);
    wd_certs_free(i->chain);
}

static int make_pki(struct pki *p, const char *td_name, const char *prefix)
{
    struct wd_spiffe_td td;
    char a[128], b[128], c[128];
    memset(p, 0, sizeof(*p));
    if (wd_spiffe_td_parse(td_name, strlen(td_name), &td, NULL, NULL) < 0
        || wd_ca_create(&td, 86400, 86400, &p->ca, NULL) < 0
        || wd_ca_bundle(p->ca, &p->bundle) < 0) {
        return -1;
    }
    (void)snprintf(a, sizeof(a), "spiffe://%s/%s/control", td_name, prefix);
    (void)snprintf(b, sizeof(b), "spiffe://%s/%s/control2", td_name, prefix);
    (void)snprintf(c, sizeof(c), "spiffe://%s/%s/agent", td_name, prefix);
    return make_ident(p->ca, a, &p->server) < 0 || make_ident(p->ca, b, &p->server2) < 0
                           || make_ident(p->ca, c, &p->client) < 0
                   ? -1
                   : 0;
}

static void free_pki(struct pki *p)
{
    free_ident(&p->server);
    free_ident(&p->server2);
    free_ident(&p->client);
    wd_bundle_free(p->bundle);
    wd_ca_free(p->ca);
}

static int server_tls(const struct ident *id, const struct wd_bundle *bundle, bool require,
                      struct wd_tls_ctx **out)
{
    struct wd_tls_config c = {.role = WD_TLS_SERVER,
                              .cert = id->cert,
                              .chain = id->chain,
                              .key = id->key,
                              .bundle = bundle,
                              .require_peer = require};
    return wd_tls_ctx_new(&c, out, NULL);
}

static int client_tls(const struct ident *id, const struct wd_bundle *bundle, const char *expect,
                      struct wd_tls_ctx **out)
{
    struct wd_tls_config c = {.role = WD_TLS_CLIENT,
                              .cert = id != NULL ? id->cert : NULL,
                              .chain = id != NULL ? id->chain : NULL,
                              .key = id != NULL ? id->key : NULL,
                              .bundle = bundle,
                              .expect_peer_id = expect};
    return wd_tls_ctx_new(&c, out, NULL);
}

/* The number in a query such as "250" (milliseconds). */
static long atoi_ms(const char *q)
{
    return strtol(q, NULL, 10);
}

/* The test handler: echoes what it saw; some paths change the response. */
static atomic_int handled;

static int echo(void *arg, const struct wd_http_req *req, struct wd_http_resp *resp)
{
    (void)arg;
    atomic_fetch_add(&handled, 1);
    if (strcmp(req->path, "/fail") == 0) {
        return WD_EIO;
    }
    if (strncmp(req->path, "/sleep", 6) == 0) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = atoi_ms(req->query) * 1000000L};
        (void)nanosleep(&ts, NULL);
    }
    if (strncmp(req->path, "/status/", 8) == 0) {
        resp->status = (int)strtol(req->path + 8, NULL, 10);
    } else {
        resp->status = 200;
    }
    resp->close = strcmp(req->path, "/close") == 0;
    if (strcmp(req->path, "/hdr") == 0) {
        (void)snprintf(resp->extra_headers, sizeof(resp->extra_headers), "X-Test: yes\r\n");
    }
    if (strcmp(req->path, "/badhdr") == 0) {
        (void)snprintf(resp->extra_headers, sizeof(resp->extra_headers), "Content-Length: 1\r\n");
    }
    (void)snprintf(resp->content_type, sizeof(resp->content_type), "text/plain");
    const char *ua = wd_http_req_header(req, "user-agent");
    int rc = wd_buf_printf(&resp->body,
                           "m=%s p=%s q=%s ua=%s tls=%d id=%s cred=%d uid=%u pid=%d len=%zu|",
                           req->method, req->path, req->query, ua ? ua : "-", req->peer->tls,
                           req->peer->has_id ? req->peer->svid.id.str : "-", req->peer->has_cred,
                           (unsigned)req->peer->uid, (int)req->peer->pid, req->body_len);
    if (rc == WD_OK) {
        rc = wd_buf_append(&resp->body, req->body, req->body_len);
    }
    if (rc == WD_OK && strcmp(req->path, "/big") == 0) {
        for (int i = 0; rc == WD_OK && i < 10000; i++) {
            rc = wd_buf_append_str(&resp->body, "0123456789");
        }
    }
    return rc;
}

static struct wd_http_server *start(const char *listen, struct wd_tls_ctx *tls, size_t max_body,
                                    int idle_ms, size_t max_conns)
{
    struct wd_http_server_config c = {.listen = listen,
                                      .tls = tls,
                                      .handler = echo,
                                      .max_body = max_body,
                                      .idle_timeout_ms = idle_ms,
                                      .io_timeout_ms = 3000,
                                      .max_conns = max_conns};
    struct wd_http_server *s = NULL;
    struct wd_diag d;
    if (wd_http_server_start(&c, &s, &d) < 0) {
        printf("  server start: %s\n", d.msg);
        return NULL;
    }
    return s;
}

static struct wd_http_client *client(const char *scheme, struct wd_http_server *s,
                                     struct wd_tls_ctx *tls, int timeout_ms)
{
    char url[128];
    (void)snprintf(url, sizeof(url), "%s://127.0.0.1:%u", scheme, wd_http_server_port(s));
    struct wd_http_client_config c = {.url = url, .tls = tls, .timeout_ms = timeout_ms};
    struct wd_http_client *cli = NULL;
    struct wd_diag d;
    if (wd_http_client_new(&c, &cli, &d) < 0) {
        printf("  client: %s\n", d.msg);
        return NULL;
    }
    return cli;
}

static bool has(const char *s, const char *needle)
{
    if (strstr(s, needle) == NULL) {
        printf("  \"%s\" lacks \"%s\"\n", s, needle);
        return false;
    }
    return true;
}

/* A raw TCP connection to the server, for bytes the client would never send. */
static int raw_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd == -1 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
        if (fd != -1) {
            (void)close(fd);
        }
        return -1;
    }
    return fd;
}

/* Send s, then read until the peer closes (or 3 s pass) into out. Returns bytes read. */
static size_t raw_exchange(uint16_t port, const char *s, size_t n, char *out, size_t cap)
{
    int fd = raw_connect(port);
    if (fd == -1) {
        return 0;
    }
    if (n > 0 && send(fd, s, n, MSG_NOSIGNAL) != (ssize_t)n) {
        (void)close(fd);
        return 0;
    }
    size_t got = 0;
    while (got + 1 < cap) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 3000) != 1) {
            break;
        }
        ssize_t r = recv(fd, out + got, cap - 1 - got, 0);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    out[got] = '\0';
    (void)close(fd);
    return got;
}

/* ---- pure parts ---- */

TEST(parse_listen)
{
    struct wd_net_addr a;
    struct wd_diag d;
    CHECK_OK(wd_net_parse_listen("127.0.0.1:8443", 14, &a, &d));
    CHECK_EQ(a.kind, WD_NET_TCP);
    CHECK_STR(a.host, "127.0.0.1");
    CHECK_EQ(a.port, 8443);
    CHECK_OK(wd_net_parse_listen("[::1]:0", 7, &a, &d));
    CHECK_STR(a.host, "::1");
    CHECK(a.host_v6);
    CHECK_EQ(a.port, 0);
    CHECK_OK(wd_net_parse_listen("localhost:65535", 15, &a, &d));
    CHECK_EQ(a.port, 65535);
    CHECK_OK(wd_net_parse_listen("unix:/run/warden/agent.sock", 27, &a, &d));
    CHECK_EQ(a.kind, WD_NET_UNIX);
    CHECK_STR(a.path, "/run/warden/agent.sock");
    static const char *const bad[] = {
            "",       "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:8x", ":80",
            "::1:80", "[::1]",     "[::1]80",    "[zz]:80",         "[]:80",        "[1.2.3.4]:1",
            "unix:",  "unix:/a b", "h o:1",      "1:123456",        "a\n:1",        "[::1:80",
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(bad); i++) {
        if (wd_net_parse_listen(bad[i], strlen(bad[i]), &a, &d) != WD_ECONFIG) {
            printf("  accepted \"%s\"\n", bad[i]);
            CHECK(0);
        }
    }
    char longp[200];
    memset(longp, 'a', sizeof(longp));
    memcpy(longp, "unix:/", 6);
    CHECK_ERR(wd_net_parse_listen(longp, sizeof(longp), &a, &d), WD_ECONFIG);
    CHECK(has(d.msg, "sun_path"));
    /* A NUL inside is a control byte, not an end. */
    CHECK_ERR(wd_net_parse_listen("unix:/a\0b", 9, &a, &d), WD_ECONFIG);
}

TEST(parse_url)
{
    struct wd_net_addr a;
    struct wd_diag d;
    CHECK_OK(wd_net_parse_url("https://control.example:8443", 28, &a, &d));
    CHECK(a.tls);
    CHECK_STR(a.host, "control.example");
    CHECK_EQ(a.port, 8443);
    CHECK_OK(wd_net_parse_url("http://127.0.0.1/", 17, &a, &d));
    CHECK(!a.tls);
    CHECK_EQ(a.port, 80);
    CHECK_OK(wd_net_parse_url("https://[::1]", 13, &a, &d));
    CHECK_EQ(a.port, 443);
    CHECK_STR(a.host, "::1");
    CHECK_OK(wd_net_parse_url("unix:/tmp/x.sock", 16, &a, &d));
    CHECK_EQ(a.kind, WD_NET_UNIX);
    static const char *const bad[] = {"",
                                      "ftp://h:1",
                                      "https://",
                                      "https://h:0",
                                      "https://h:1/api",
                                      "https://u@h:1",
                                      "https://h:1?x",
                                      "http//h:1",
                                      "HTTPS://h:1",
                                      "https://h:99999",
                                      "unix:"};
    for (size_t i = 0; i < WD_ARRAY_LEN(bad); i++) {
        if (wd_net_parse_url(bad[i], strlen(bad[i]), &a, &d) != WD_ECONFIG) {
            printf("  accepted \"%s\"\n", bad[i]);
            CHECK(0);
        }
    }
}

TEST(message_heads)
{
    struct wd_buf b;
    wd_buf_init(&b, 4096);
    CHECK_OK(wd_net_response_head(&b, 200, "application/json", 2, false, "X-A: 1\r\n", 0));
    CHECK_STR(wd_buf_str(&b), "HTTP/1.1 200 OK\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
                              "Content-Type: application/json\r\nContent-Length: 2\r\n"
                              "X-A: 1\r\n\r\n");
    wd_buf_reset(&b);
    CHECK_OK(wd_net_response_head(&b, 204, "application/json", 0, true, "", 1700000000));
    CHECK_STR(wd_buf_str(&b), "HTTP/1.1 204 No Content\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\n"
                              "Connection: close\r\n\r\n");
    wd_buf_reset(&b);
    CHECK_OK(wd_net_request_head(&b, "POST", "/v1/x?a=b", "h:1", "application/json", 3, true));
    CHECK_STR(wd_buf_str(&b), "POST /v1/x?a=b HTTP/1.1\r\nHost: h:1\r\nUser-Agent: warden\r\n"
                              "Content-Type: application/json\r\nContent-Length: 3\r\n\r\n");
    wd_buf_reset(&b);
    CHECK_OK(wd_net_request_head(&b, "GET", "/", "h:1", NULL, 0, false));
    CHECK_STR(wd_buf_str(&b), "GET / HTTP/1.1\r\nHost: h:1\r\nUser-Agent: warden\r\n\r\n");
    /* Request splitting and smuggling attempts are caller bugs. */
    CHECK_ERR(wd_net_request_head(&b, "GET", "/a b", "h", NULL, 0, false), WD_EINVAL);
    CHECK_ERR(wd_net_request_head(&b, "GET", "/a\r\nX: y", "h", NULL, 0, false), WD_EINVAL);
    CHECK_ERR(wd_net_request_head(&b, "GE T", "/", "h", NULL, 0, false), WD_EINVAL);
    CHECK_ERR(wd_net_request_head(&b, "GET", "a", "h", NULL, 0, false), WD_EINVAL);
    CHECK_ERR(wd_net_request_head(&b, "GET", "/", "h", "a\r\nb", 1, true), WD_EINVAL);
    wd_buf_cleanup(&b);
    CHECK(wd_net_extra_headers_ok(""));
    CHECK(wd_net_extra_headers_ok("X-A: 1\r\nRetry-After: 5\r\n"));
    CHECK(!wd_net_extra_headers_ok("X-A: 1"));
    CHECK(!wd_net_extra_headers_ok("X-A: 1\n"));
    CHECK(!wd_net_extra_headers_ok("X-A: 1\r\nX-B: \r\r\n"));
    CHECK(!wd_net_extra_headers_ok("content-length: 5\r\n"));
    CHECK(!wd_net_extra_headers_ok("Transfer-Encoding: chunked\r\n"));
    CHECK(!wd_net_extra_headers_ok(": x\r\n"));
    CHECK(!wd_net_extra_headers_ok("X A: x\r\n"));
    CHECK_STR(wd_net_reason_phrase(431), "Request Header Fields Too Large");
    CHECK_STR(wd_net_reason_phrase(299), "Unknown");
}

/* Feed in to a fresh reader, byte by byte when bytewise; return the first result. */
static int read_one(const char *in, size_t n, bool bytewise, size_t max_body,
                    struct wd_net_reader *r, struct wd_net_request *req, int *status)
{
    wd_net_reader_init(r, max_body);
    size_t fed = 0;
    for (;;) {
        size_t step = bytewise ? 1 : n - fed;
        if (step > 0 && wd_net_reader_feed(r, in + fed, step) < 0) {
            return WD_ENOMEM;
        }
        fed += step;
        int rc = wd_net_reader_next(r, req, status);
        if (rc != WD_EAGAIN || fed == n) {
            return rc;
        }
    }
}

TEST(reader_requests)
{
    struct wd_net_reader r;
    struct wd_net_request q;
    int st;
    for (int bw = 0; bw < 2; bw++) {
        static const char get[] = "GET /v1/nodes?limit=5 HTTP/1.1\r\nHost: x\r\nX-A:  b \r\n\r\n";
        CHECK_OK(read_one(get, sizeof(get) - 1, bw, 100, &r, &q, &st));
        CHECK_STR(q.method, "GET");
        CHECK_STR(q.path, "/v1/nodes");
        CHECK_STR(q.query, "limit=5");
        CHECK_EQ(q.n_headers, 2);
        CHECK_STR(q.headers[1].name, "X-A");
        CHECK_STR(q.headers[1].value, "b");
        CHECK_EQ(q.body_len, 0);
        CHECK(q.keep_alive);
        CHECK(wd_net_reader_idle(&r));
        wd_net_reader_cleanup(&r);

        static const char chunked[] =
                "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                "\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-T: 1\r\n\r\n";
        CHECK_OK(read_one(chunked, sizeof(chunked) - 1, bw, 100, &r, &q, &st));
        CHECK_EQ(q.body_len, 5);
        CHECK_MEM(q.body, "abcde", 6); /* NUL-terminated */
        wd_net_reader_cleanup(&r);

        static const char http10[] = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
        CHECK_OK(read_one(http10, sizeof(http10) - 1, bw, 100, &r, &q, &st));
        CHECK(!q.keep_alive);
        wd_net_reader_cleanup(&r);

        static const char closing[] = "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        CHECK_OK(read_one(closing, sizeof(closing) - 1, bw, 100, &r, &q, &st));
        CHECK(!q.keep_alive);
        CHECK(q.is_head);
        wd_net_reader_cleanup(&r);

        static const char cont[] = "PUT /p HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                                   "Content-Length: 2\r\n\r\n";
        CHECK_ERR(read_one(cont, sizeof(cont) - 1, bw, 100, &r, &q, &st), WD_EAGAIN);
        CHECK(r.want_continue);
        CHECK(!wd_net_reader_idle(&r));
        CHECK_OK(wd_net_reader_feed(&r, "hi", 2));
        CHECK_OK(wd_net_reader_next(&r, &q, &st));
        CHECK_MEM(q.body, "hi", 2);
        wd_net_reader_cleanup(&r);
    }
    /* Two pipelined requests come out one after the other. */
    static const char two[] = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nA"
                              "GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK_OK(read_one(two, sizeof(two) - 1, false, 100, &r, &q, &st));
    CHECK_STR(q.path, "/a");
    CHECK_MEM(q.body, "A", 1);
    CHECK(!wd_net_reader_idle(&r));
    wd_net_reader_release(&r);
    CHECK_OK(wd_net_reader_next(&r, &q, &st));
    CHECK_STR(q.path, "/b");
    CHECK_EQ(q.body_len, 0);
    CHECK(wd_net_reader_idle(&r));
    CHECK_ERR(wd_net_reader_next(&r, &q, &st), WD_EAGAIN);
    wd_net_reader_cleanup(&r);
}

TEST(reader_errors)
{
    struct {
        const char *in;
        int status;
    } cases[] = {
            {"GARBAGE\r\n\r\n", 400},
            {"GET / HTTP/1.1\r\n\r\n", 400}, /* no Host */
            {"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400},
            {"GET / HTTP/1.1\nHost: x\n\n", 400},
            {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400},
            {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n"
             "\r\n",
             400},
            {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", 413},
            {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n", 413},
            {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
            {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
            {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: zstd2, chunked\r\n\r\n", 501},
            {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
            {"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501},
            {"CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n\r\n", 501},
            {"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 400},
            {"GET / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n", 417},
    };
    struct wd_net_reader r;
    struct wd_net_request q;
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        int st = 0;
        int rc = read_one(cases[i].in, strlen(cases[i].in), false, 100, &r, &q, &st);
        wd_net_reader_cleanup(&r);
        if (rc >= 0 || st != cases[i].status) {
            printf("  case %zu: rc %d status %d, want %d\n", i, rc, st, cases[i].status);
            CHECK(0);
        }
    }
    /* More header lines than the reader keeps: 431. */
    struct wd_buf b;
    wd_buf_init(&b, 1 << 16);
    CHECK_OK(wd_buf_append_str(&b, "GET / HTTP/1.1\r\nHost: x\r\n"));
    for (int i = 0; i < 70; i++) {
        CHECK_OK(wd_buf_printf(&b, "X-%d: v\r\n", i));
    }
    CHECK_OK(wd_buf_append_str(&b, "\r\n"));
    int st = 0;
    CHECK_ERR(read_one((const char *)b.p, b.len, false, 100, &r, &q, &st), WD_ELIMIT);
    CHECK_EQ(st, 431);
    wd_net_reader_cleanup(&r);
    /* A head larger than the parser allows: 431 too. */
    wd_buf_reset(&b);
    CHECK_OK(wd_buf_append_str(&b, "GET / HTTP/1.1\r\nHost: x\r\n"));
    for (int i = 0; i < 10; i++) {
        CHECK_OK(wd_buf_printf(&b, "X-%d: %04000d\r\n", i, 0));
    }
    CHECK_OK(wd_buf_append_str(&b, "\r\n"));
    CHECK_ERR(read_one((const char *)b.p, b.len, false, 100, &r, &q, &st), WD_ELIMIT);
    CHECK_EQ(st, 431);
    wd_net_reader_cleanup(&r);
    wd_buf_cleanup(&b);
}

/* ---- plaintext server and client ---- */

TEST(plain_roundtrip)
{
    struct wd_http_server *s = start("127.0.0.1:0", NULL, 0, 0, 0);
    CHECK(s != NULL);
    CHECK(wd_http_server_port(s) != 0);
    struct wd_http_client *c = client("http", s, NULL, 3000);
    CHECK(c != NULL);
    struct wd_http_result res = {0};
    struct wd_diag d;
    CHECK_OK(wd_http_client_request(c, "GET", "/v1/x?y=1", NULL, NULL, 0, &res, &d));
    CHECK_EQ(res.status, 200);
    CHECK_STR(res.content_type, "text/plain");
    CHECK(has(wd_buf_str(&res.body), "m=GET p=/v1/x q=y=1 ua=warden tls=0 id=- cred=0"));
    CHECK_OK(wd_http_client_request(c, "POST", "/p", "application/json", "{\"a\":1}", 7, &res, &d));
    CHECK(has(wd_buf_str(&res.body), "m=POST p=/p q= "));
    CHECK(has(wd_buf_str(&res.body), "len=7|{\"a\":1}"));
    /* An empty POST still carries Content-Length: 0. */
    CHECK_OK(wd_http_client_request(c, "POST", "/e", NULL, NULL, 0, &res, &d));
    CHECK(has(wd_buf_str(&res.body), "len=0|"));
    /* HEAD: the head a GET would get, no content. */
    CHECK_OK(wd_http_client_request(c, "HEAD", "/h", NULL, NULL, 0, &res, &d));
    CHECK_EQ(res.status, 200);
    CHECK_EQ(res.body.len, 0);
    /* A large response (two writes) and a large request body (two writes). */
    CHECK_OK(wd_http_client_request(c, "GET", "/big", NULL, NULL, 0, &res, &d));
    CHECK(res.body.len > 100000);
    char *big = wd_malloc(200000);
    CHECK(big != NULL);
    memset(big, 'z', 200000);
    int rc = wd_http_client_request(c, "PUT", "/put", "application/octet-stream", big, 200000, &res,
                                    &d);
    wd_free(big);
    CHECK_OK(rc);
    CHECK(has(wd_buf_str(&res.body), "len=200000|zzz"));
    /* Status codes, extra headers, handler failures. */
    CHECK_OK(wd_http_client_request(c, "GET", "/status/404", NULL, NULL, 0, &res, &d));
    CHECK_EQ(res.status, 404);
    CHECK_OK(wd_http_client_request(c, "GET", "/status/204", NULL, NULL, 0, &res, &d));
    CHECK_EQ(res.status, 204);
    CHECK_EQ(res.body.len, 0);
    CHECK_OK(wd_http_client_request(c, "GET", "/hdr", NULL, NULL, 0, &res, &d));
    CHECK_EQ(res.status, 200);
    CHECK_OK(wd_http_client_request(c, "GET", "/badhdr", NULL, NULL, 0, &res, &d));
    CHECK_EQ(res.status, 500);
    CHECK_OK(wd_http_client_request(c, "GET", "/fail", NULL, NULL, 0, &res, &d));
    CHECK_EQ(res.status, 500);
    CHECK_OK(wd_http_client_request(c, "GET", "/status/99", NULL, NULL, 0, &res, &d));
    CHECK_EQ(res.status, 500);
    /* Caller bugs. */
    CHECK_ERR(wd_http_client_request(c, "GET", "/a b", NULL, NULL, 0, &res, &d), WD_EINVAL);
    CHECK_ERR(wd_http_client_request(c, "GET", "/", NULL, NULL, 5, &res, &d), WD_EINVAL);
    wd_http_result_cleanup(&res);
    wd_http_client_free(c);
    wd_http_server_stop(s);
}

TEST(keepalive_reuse)
{
    struct wd_http_server *s = start("127.0.0.1:0", NULL, 0, 0, 0);
    CHECK(s != NULL);
    struct wd_http_client *c = client("http", s, NULL, 3000);
    CHECK(c != NULL);
    struct wd_http_result res;
    wd_http_result_init(&res);
    for (int i = 0; i < 100; i++) {
        CHECK_OK(wd_http_client_request(c, i % 2 ? "GET" : "POST", "/k", NULL, "x", 1, &res, NULL));
        CHECK_EQ(res.status, 200);
    }
    CHECK_EQ(wd_http_server_accepted(s), 1);
    /* Connection: close from the handler: the next request opens a new connection. */
    CHECK_OK(wd_http_client_request(c, "GET", "/close", NULL, NULL, 0, &res, NULL));
    CHECK_OK(wd_http_client_request(c, "GET", "/after", NULL, NULL, 0, &res, NULL));
    CHECK_EQ(wd_http_server_accepted(s), 2);
    wd_http_result_cleanup(&res);
    wd_http_client_free(c);
    wd_http_server_stop(s);
}

TEST(idle_close_reconnects)
{
    struct wd_http_server *s = start("127.0.0.1:0", NULL, 0, 150, 0);
    CHECK(s != NULL);
    struct wd_http_client *c = client("http", s, NULL, 3000);
    CHECK(c != NULL);
    struct wd_http_result res = {0};
    CHECK_OK(wd_http_client_request(c, "GET", "/1", NULL, NULL, 0, &res, NULL));
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 400 * 1000000L};
    (void)nanosleep(&ts, NULL); /* the server closes the idle connection */
    CHECK_OK(wd_http_client_request(c, "GET", "/2", NULL, NULL, 0, &res, NULL));
    CHECK(has(wd_buf_str(&res.body), "p=/2"));
    CHECK_EQ(wd_http_server_accepted(s), 2);
    wd_http_result_cleanup(&res);
    wd_http_client_free(c);
    wd_http_server_stop(s);
}

/*
 * A server that answers the first request on each connection with keep-alive, then reads
 * the second request and closes without answering: a reused connection that fails before
 * any response byte. The client must resend once on a new connection.
 */
struct rude {
    int lfd;
    int accepts;
};

static void *rude_main(void *arg)
{
    struct rude *r = arg;
    for (int conn = 0; conn < 2; conn++) {
        int fd = accept(r->lfd, NULL, NULL);
        if (fd == -1) {
            return NULL;
        }
        r->accepts++;
        char buf[4096];
        for (int req = 0; req < 2; req++) {
            ssize_t n = recv(fd, buf, sizeof(buf), 0);
            if (n <= 0) {
                break;
            }
            if (req == 1 && conn == 0) {
                break; /* close without a response */
            }
            static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            (void)send(fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL);
        }
        (void)close(fd);
    }
    return NULL;
}

TEST(reused_connection_resend)
{
    struct rude r = {.lfd = socket(AF_INET, SOCK_STREAM, 0)};
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    CHECK(bind(r.lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    CHECK(listen(r.lfd, 4) == 0);
    CHECK(getsockname(r.lfd, (struct sockaddr *)&sa, &len) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, rude_main, &r) == 0);
    char url[64];
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u", ntohs(sa.sin_port));
    struct wd_http_client_config cc = {.url = url, .timeout_ms = 3000};
    struct wd_http_client *c = NULL;
    CHECK_OK(wd_http_client_new(&cc, &c, NULL));
    struct wd_http_result res = {0};
    struct wd_diag d;
    CHECK_OK(wd_http_client_request(c, "GET", "/1", NULL, NULL, 0, &res, &d));
    int rc = wd_http_client_request(c, "POST", "/2", NULL, "b", 1, &res, &d);
    if (rc != WD_OK) {
        printf("  %s\n", d.msg);
    }
    CHECK_OK(rc);
    CHECK_STR(wd_buf_str(&res.body), "ok");
    wd_http_result_cleanup(&res);
    wd_http_client_free(c);
    (void)pthread_join(t, NULL);
    (void)close(r.lfd);
    CHECK_EQ(r.accepts, 2);
}

TEST(limits_and_garbage)
{
    struct wd_http_server *s = start("127.0.0.1:0", NULL, 1000, 0, 0);
    CHECK(s != NULL);
    uint16_t port = wd_http_server_port(s);
    struct wd_http_client *c = client("http", s, NULL, 3000);
    CHECK(c != NULL);
    struct wd_http_result res = {0};
    char body[2000];
    memset(body, 'b', sizeof(body));
    CHECK_OK(wd_http_client_request(c, "POST", "/big", NULL, body, sizeof(body), &res, NULL));
    CHECK_EQ(res.status, 413);
    CHECK_OK(wd_http_client_request(c, "POST", "/ok", NULL, body, 1000, &res, NULL));
    CHECK_EQ(res.status, 200);
    wd_http_result_cleanup(&res);
    wd_http_client_free(c);

    char out[4096];
    static const char garbage[] = "GARBAGE\r\n\r\n";
    CHECK(raw_exchange(port, garbage, sizeof(garbage) - 1, out, sizeof(out)) > 0);
    CHECK(has(out, "HTTP/1.1 400 Bad Request\r\n"));
    CHECK(has(out, "Connection: close\r\n"));
    static const char te[] = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: br, chunked\r\n\r\n";
    CHECK(raw_exchange(port, te, sizeof(te) - 1, out, sizeof(out)) > 0);
    CHECK(has(out, "HTTP/1.1 501 "));
    /* A chunked body, then a second request on the same connection, then close. */
    static const char chunked[] =
            "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n"
            "GET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    CHECK(raw_exchange(port, chunked, sizeof(chunked) - 1, out, sizeof(out)) > 0);
    CHECK(has(out, "len=9|wikipedia"));
    CHECK(has(out, "p=/second"));
    /* Expect: 100-continue is answered before the body is sent. */
    int fd = raw_connect(port);
    CHECK(fd >= 0);
    static const char head[] = "PUT /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                               "Content-Length: 2\r\nConnection: close\r\n\r\n";
    CHECK(send(fd, head, sizeof(head) - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof(head) - 1));
    ssize_t n = recv(fd, out, sizeof(out) - 1, 0);
    CHECK(n > 0);
    out[n] = '\0';
    CHECK_STR(out, "HTTP/1.1 100 Continue\r\n\r\n");
    CHECK(send(fd, "hi", 2, MSG_NOSIGNAL) == 2);
    n = recv(fd, out, sizeof(out) - 1, 0);
    CHECK(n > 0);
    out[n] = '\0';
    CHECK(has(out, "len=2|hi"));
    (void)close(fd);
    /* Too many header lines: 431. */
    char many[4096];
    size_t off = (size_t)snprintf(many, sizeof(many), "GET / HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 70; i++) {
        off += (size_t)snprintf(many + off, sizeof(many) - off, "X-%d: v\r\n", i);
    }
    off += (size_t)snprintf(many + off, sizeof(many) - off, "\r\n");
    CHECK(raw_exchange(port, many, off, out, sizeof(out)) > 0);
    CHECK(has(out, "HTTP/1.1 431 Request Header Fields Too Large\r\n"));
    /* The handler's extra header lines reach the wire; HEAD has no content. */
    static const char hdr[] = "HEAD /hdr HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    CHECK(raw_exchange(port, hdr, sizeof(hdr) - 1, out, sizeof(out)) > 0);
    CHECK(has(out, "\r\nX-Test: yes\r\n"));
    CHECK(has(out, "\r\nContent-Length: "));
    CHECK(strstr(out, "m=HEAD") == NULL);
    /* HTTP/1.0 closes after the response. */
    static const char v10[] = "GET /old HTTP/1.0\r\n\r\n";
    CHECK(raw_exchange(port, v10, sizeof(v10) - 1, out, sizeof(out)) > 0);
    CHECK(has(out, "HTTP/1.1 200 OK\r\n"));
    CHECK(has(out, "Connection: close\r\n"));
    wd_http_server_stop(s);
}

/* The handler's view of the peer over a unix socket: SO_PEERCRED. */
TEST(unix_socket)
{
    char dir[64], listen[128];
    CHECK(tu_tmpdir(dir) == 0);
    (void)snprintf(listen, sizeof(listen), "unix:%s/agent.sock", dir);
    /* A stale socket file is replaced; a regular file is not. */
    struct wd_http_server *s = start(listen, NULL, 0, 0, 0);
    CHECK(s != NULL);
    wd_http_server_stop(s);
    char path[128];
    (void)snprintf(path, sizeof(path), "%s/agent.sock", dir);
    s = start(listen, NULL, 0, 0, 0);
    CHECK(s != NULL);
    CHECK_EQ(wd_http_server_port(s), 0);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK_EQ(st.st_mode & 0777, 0600);
    struct wd_http_client_config cc = {.url = listen};
    struct wd_http_client *c = NULL;
    CHECK_OK(wd_http_client_new(&cc, &c, NULL));
    struct wd_http_result res = {0};
    CHECK_OK(wd_http_client_request(c, "GET", "/who", NULL, NULL, 0, &res, NULL));
    char want[128];
    (void)snprintf(want, sizeof(want), "cred=1 uid=%u pid=%d ", (unsigned)getuid(), (int)getpid());
    CHECK(has(wd_buf_str(&res.body), want));
    wd_http_result_cleanup(&res);
    wd_http_client_free(c);
    wd_http_server_stop(s);
    CHECK(stat(path, &st) == -1); /* removed by stop */
    CHECK(tu_write(path, "x", 1) == 0);
    struct wd_http_server_config sc = {.listen = listen, .handler = echo};
    struct wd_diag d;
    CHECK_ERR(wd_http_server_start(&sc, &s, &d), WD_EIO);
    CHECK(has(d.msg, "not a socket"));
    tu_rm_rf(dir);
}

TEST(server_config_errors)
{
    struct wd_http_server *s = NULL;
    struct wd_diag d;
    struct wd_http_server_config sc = {.listen = "127.0.0.1", .handler = echo};
    CHECK_ERR(wd_http_server_start(&sc, &s, &d), WD_ECONFIG);
    sc.listen = "127.0.0.1:0";
    sc.handler = NULL;
    CHECK_ERR(wd_http_server_start(&sc, &s, &d), WD_ECONFIG);
    /* A port in use. */
    struct wd_http_server *a = start("127.0.0.1:0", NULL, 0, 0, 0);
    CHECK(a != NULL);
    char listen[32];
    (void)snprintf(listen, sizeof(listen), "127.0.0.1:%u", wd_http_server_port(a));
    sc.listen = listen;
    sc.handler = echo;
    CHECK_ERR(wd_http_server_start(&sc, &s, &d), WD_EIO);
    wd_http_server_stop(a);
    wd_http_server_stop(NULL);
    struct wd_http_client *c = NULL;
    struct wd_http_client_config cc = {.url = "https://127.0.0.1:1"};
    CHECK_ERR(wd_http_client_new(&cc, &c, &d), WD_ECONFIG);
    cc.url = "ftp://x";
    CHECK_ERR(wd_http_client_new(&cc, &c, &d), WD_ECONFIG);
    /* Nothing listens: connect fails with WD_EIO. */
    cc.url = "http://127.0.0.1:1";
    CHECK_OK(wd_http_client_new(&cc, &c, &d));
    struct wd_http_result res = {0};
    CHECK_ERR(wd_http_client_request(c, "GET", "/", NULL, NULL, 0, &res, &d), WD_EIO);
    CHECK(has(d.msg, "connect"));
    wd_http_result_cleanup(&res);
    wd_http_client_free(c);
}

/* max_conns: a second connection waits in the backlog until the first one ends. */
TEST(max_conns)
{
    struct wd_http_server *s = start("127.0.0.1:0", NULL, 0, 0, 1);
    CHECK(s != NULL);
    struct wd_http_client *a = client("http", s, NULL, 3000);
    struct wd_http_client *b = client("http", s, NULL, 300);
    CHECK(a != NULL && b != NULL);
    struct wd_http_result res = {0};
    CHECK_OK(wd_http_client_request(a, "GET", "/a", NULL, NULL, 0, &res, NULL));
    struct wd_diag d;
    CHECK_ERR(wd_http_client_request(b, "GET", "/b", NULL, NULL, 0, &res, &d), WD_EIO);
    CHECK(has(d.msg, "timed out"));
    wd_http_client_free(a); /* frees the slot */
    wd_http_client_set_tls(b, NULL);
    CHECK_OK(wd_http_client_request(b, "GET", "/b", NULL, NULL, 0, &res, &d));
    CHECK_EQ(res.status, 200);
    wd_http_result_cleanup(&res);
    wd_http_client_free(b);
    wd_http_server_stop(s);
}

static double now_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

TEST(stop_with_idle_clients)
{
    struct wd_http_server *s = start("127.0.0.1:0", NULL, 0, 60000, 0);
    CHECK(s != NULL);
    struct wd_http_client *c[5];
    struct wd_http_result res = {0};
    for (int i = 0; i < 5; i++) {
        c[i] = client("http", s, NULL, 3000);
        CHECK(c[i] != NULL);
        CHECK_OK(wd_http_client_request(c[i], "GET", "/", NULL, NULL, 0, &res, NULL));
    }
    /* Also a connection that sent half a request, and one that sent nothing. */
    int half = raw_connect(wd_http_server_port(s));
    int mute = raw_connect(wd_http_server_port(s));
    CHECK(half >= 0 && mute >= 0);
    CHECK(send(half, "GET / HT", 8, MSG_NOSIGNAL) == 8);
    double t0 = now_s();
    wd_http_server_stop(s);
    double took = now_s() - t0;
    if (took > 1.0) {
        printf("  stop took %.3f s\n", took);
        CHECK(0);
    }
    (void)close(half);
    (void)close(mute);
    for (int i = 0; i < 5; i++) {
        wd_http_client_free(c[i]);
    }
    wd_http_result_cleanup(&res);
}

/* stop() waits for a handler that is running and its response is delivered. */
struct slow_call {
    struct wd_http_client *c;
    int rc;
    int status;
};

static void *slow_main(void *arg)
{
    struct slow_call *sc = arg;
    struct wd_http_result res = {0};
    sc->rc = wd_http_client_request(sc->c, "GET", "/sleep?300", NULL, NULL, 0, &res, NULL);
    sc->status = res.status;
    wd_http_result_cleanup(&res);
    return NULL;
}

TEST(stop_waits_for_handler)
{
    struct wd_http_server *s = start("127.0.0.1:0", NULL, 0, 0, 0);
    CHECK(s != NULL);
    char url[64];
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u", wd_http_server_port(s));
    struct slow_call sc = {.rc = -100};
    struct wd_http_client_config cc = {.url = url, .timeout_ms = 5000};
    CHECK_OK(wd_http_client_new(&cc, &sc.c, NULL));
    int before = atomic_load(&handled);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, slow_main, &sc) == 0);
    while (atomic_load(&handled) == before) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 1000000L};
        (void)nanosleep(&ts, NULL);
    }
    wd_http_server_stop(s); /* the handler is sleeping: stop waits, the response goes out */
    (void)pthread_join(t, NULL);
    CHECK_OK(sc.rc);
    CHECK_EQ(sc.status, 200);
    wd_http_client_free(sc.c);
}

/* A handler blocked in a "watch" is woken by on_stop, and its response still arrives. */
struct watch {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool waiting, woken;
};

static int watch_handler(void *arg, const struct wd_http_req *req, struct wd_http_resp *resp)
{
    struct watch *w = arg;
    (void)req;
    (void)pthread_mutex_lock(&w->mu);
    w->waiting = true;
    (void)pthread_cond_broadcast(&w->cond);
    while (!w->woken) {
        (void)pthread_cond_wait(&w->cond, &w->mu);
    }
    (void)pthread_mutex_unlock(&w->mu);
    resp->status = 200;
    return wd_buf_append_str(&resp->body, "woken");
}

static void watch_stop(void *arg)
{
    struct watch *w = arg;
    (void)pthread_mutex_lock(&w->mu);
    w->woken = true;
    (void)pthread_cond_broadcast(&w->cond);
    (void)pthread_mutex_unlock(&w->mu);
}

struct watch_call {
    uint16_t port;
    int rc;
    char body[32];
};

static void *watch_call_main(void *arg)
{
    struct watch_call *wc = arg;
    char url[64];
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u", wc->port);
    struct wd_http_client_config cc = {.url = url, .timeout_ms = 5000};
    struct wd_http_client *c = NULL;
    wc->rc = wd_http_client_new(&cc, &c, NULL);
    if (wc->rc == WD_OK) {
        struct wd_http_result res = {0};
        wc->rc = wd_http_client_request(c, "GET", "/v1/svid?watch=1", NULL, NULL, 0, &res, NULL);
        (void)snprintf(wc->body, sizeof(wc->body), "%s", wd_buf_str(&res.body));
        wd_http_result_cleanup(&res);
    }
    wd_http_client_free(c);
    return NULL;
}

TEST(stop_wakes_watch)
{
    struct watch w = {.waiting = false, .woken = false};
    (void)pthread_mutex_init(&w.mu, NULL);
    (void)pthread_cond_init(&w.cond, NULL);
    struct wd_http_server_config sc = {.listen = "127.0.0.1:0",
                                       .handler = watch_handler,
                                       .handler_arg = &w,
                                       .on_stop = watch_stop};
    struct wd_http_server *s = NULL;
    CHECK_OK(wd_http_server_start(&sc, &s, NULL));
    struct watch_call wc = {.port = wd_http_server_port(s), .rc = -100};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, watch_call_main, &wc) == 0);
    (void)pthread_mutex_lock(&w.mu);
    while (!w.waiting) {
        (void)pthread_cond_wait(&w.cond, &w.mu);
    }
    (void)pthread_mutex_unlock(&w.mu);
    wd_http_server_stop(s);
    (void)pthread_join(t, NULL);
    CHECK_OK(wc.rc);
    CHECK_STR(wc.body, "woken");
    (void)pthread_cond_destroy(&w.cond);
    (void)pthread_mutex_destroy(&w.mu);
}

struct hammer {
    uint16_t port;
    const char *scheme;
    struct wd_tls_ctx *tls;
    int n;
    int ok;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    char url[64];
    (void)snprintf(url, sizeof(url), "%s://127.0.0.1:%u", h->scheme, h->port);
    struct wd_http_client_config cc = {.url = url, .tls = h->tls, .timeout_ms = 10000};
    struct wd_http_client *c = NULL;
    if (wd_http_client_new(&cc, &c, NULL) < 0) {
        return NULL;
    }
    struct wd_http_result res = {0};
    char body[32];
    for (int i = 0; i < h->n; i++) {
        int n = snprintf(body, sizeof(body), "req-%d", i);
        if (wd_http_client_request(c, "POST", "/h", "text/plain", body, (size_t)n, &res, NULL)
                    == WD_OK
            && res.status == 200 && strstr(wd_buf_str(&res.body), body) != NULL) {
            h->ok++;
        }
        /* Now and then a new connection. */
        if (i % 50 == 49) {
            wd_http_client_set_tls(c, h->tls);
        }
    }
    wd_http_result_cleanup(&res);
    wd_http_client_free(c);
    return NULL;
}

static int hammer(uint16_t port, const char *scheme, struct wd_tls_ctx *tls, int threads, int n)
{
    pthread_t t[8];
    struct hammer h[8];
    int ok = 0;
    for (int i = 0; i < threads; i++) {
        h[i] = (struct hammer){.port = port, .scheme = scheme, .tls = tls, .n = n};
        if (pthread_create(&t[i], NULL, hammer_main, &h[i]) != 0) {
            return -1;
        }
    }
    for (int i = 0; i < threads; i++) {
        (void)pthread_join(t[i], NULL);
        ok += h[i].ok;
    }
    return ok;
}

TEST(concurrent_clients)
{
    struct wd_http_server *s = start("127.0.0.1:0", NULL, 0, 0, 0);
    CHECK(s != NULL);
    CHECK_EQ(hammer(wd_http_server_port(s), "http", NULL, 8, 200), 8 * 200);
    CHECK_EQ(wd_http_server_accepted(s), 8 * 4);
    wd_http_server_stop(s);
}

/* stop() while clients hammer the server: no hang, no crash, every thread joined. */
struct load {
    uint16_t port;
    atomic_int *ok;
    atomic_bool *done;
};

static void *load_main(void *arg)
{
    struct load *l = arg;
    char url[64];
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u", l->port);
    struct wd_http_client_config cc = {.url = url, .timeout_ms = 2000};
    struct wd_http_client *c = NULL;
    if (wd_http_client_new(&cc, &c, NULL) < 0) {
        return NULL;
    }
    struct wd_http_result res = {0};
    while (!atomic_load(l->done)) {
        if (wd_http_client_request(c, "POST", "/l", NULL, "x", 1, &res, NULL) == WD_OK) {
            atomic_fetch_add(l->ok, 1);
        }
    }
    wd_http_result_cleanup(&res);
    wd_http_client_free(c);
    return NULL;
}

TEST(stop_under_load)
{
    struct wd_http_server *s = start("127.0.0.1:0", NULL, 0, 0, 0);
    CHECK(s != NULL);
    atomic_int ok = 0;
    atomic_bool done = false;
    struct load l = {.port = wd_http_server_port(s), .ok = &ok, .done = &done};
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        CHECK(pthread_create(&t[i], NULL, load_main, &l) == 0);
    }
    while (atomic_load(&ok) < 200) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 1000000L};
        (void)nanosleep(&ts, NULL);
    }
    double t0 = now_s();
    wd_http_server_stop(s);
    double took = now_s() - t0;
    atomic_store(&done, true);
    for (int i = 0; i < 4; i++) {
        (void)pthread_join(t[i], NULL);
    }
    if (took > 2.0) {
        printf("  stop took %.3f s\n", took);
        CHECK(0);
    }
}

/* A write to a peer that is gone gives an error, not SIGPIPE. */
TEST(no_sigpipe)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    (void)close(sv[1]);
    struct wd_net_io io;
    wd_net_io_init(&io, sv[0], 1000);
    struct wd_diag d;
    CHECK_ERR(wd_net_io_write(&io, "abc", 3, &d), WD_EIO);
    CHECK_ERR(wd_net_io_write(&io, "abc", 3, &d), WD_EIO);
    wd_net_io_close(&io, 0);
    CHECK_EQ(io.fd, -1);
}

/* A scripted server: answers the request on each connection with the next canned bytes. */
struct script {
    int lfd;
    uint16_t port;
    const char *const *resp;
    int n;
};

static void *script_main(void *arg)
{
    struct script *sc = arg;
    for (int i = 0; sc->n < 0 || i < sc->n; i++) {
        int fd = accept(sc->lfd, NULL, NULL);
        if (fd == -1) {
            return NULL;
        }
        char buf[8192];
        size_t got = 0;
        while (got + 1 < sizeof(buf)) {
            ssize_t r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
            if (r <= 0) {
                break;
            }
            got += (size_t)r;
            buf[got] = '\0';
            if (strstr(buf, "\r\n\r\n") != NULL) {
                break;
            }
        }
        const char *r = sc->resp[sc->n < 0 ? 0 : i];
        (void)send(fd, r, strlen(r), MSG_NOSIGNAL);
        (void)shutdown(fd, SHUT_WR);
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        while (poll(&pf, 1, 2000) == 1 && recv(fd, buf, sizeof(buf), 0) > 0) {
        }
        (void)close(fd);
    }
    return NULL;
}

static int script_start(struct script *sc, pthread_t *t)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    sc->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (sc->lfd == -1 || bind(sc->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0
        || listen(sc->lfd, 8) != 0 || getsockname(sc->lfd, (struct sockaddr *)&sa, &len) != 0) {
        return -1;
    }
    sc->port = ntohs(sa.sin_port);
    return pthread_create(t, NULL, script_main, sc) == 0 ? 0 : -1;
}

TEST(client_responses)
{
    static const char *const resp[] = {
            /* 0: chunked, with a trailer */
            ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
             "\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\nX-T: 1\r\n\r\n"),
            /* 1: an interim 100, then the answer */
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
            /* 2: body delimited by the end of the connection */
            "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-eof",
            /* 3: malformed */
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            /* 4: too large for max_body */
            "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n",
            /* 5: closed without an answer (fresh connection: no resend) */
            "",
            /* 6: truncated body */
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
    };
    struct script sc = {.resp = resp, .n = (int)WD_ARRAY_LEN(resp)};
    pthread_t t;
    CHECK(script_start(&sc, &t) == 0);
    char url[64];
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u", sc.port);
    struct wd_http_client_config cc = {.url = url, .timeout_ms = 3000, .max_body = 4096};
    struct wd_http_client *c = NULL;
    CHECK_OK(wd_http_client_new(&cc, &c, NULL));
    struct wd_http_result res = {0};
    struct wd_diag d;
    CHECK_OK(wd_http_client_request(c, "GET", "/0", NULL, NULL, 0, &res, &d));
    CHECK_EQ(res.status, 200);
    CHECK_STR(res.content_type, "application/json");
    CHECK_STR(wd_buf_str(&res.body), "{\"a\":1}");
    CHECK_OK(wd_http_client_request(c, "GET", "/1", NULL, NULL, 0, &res, &d));
    CHECK_EQ(res.status, 201);
    CHECK_STR(wd_buf_str(&res.body), "ok");
    CHECK_OK(wd_http_client_request(c, "GET", "/2", NULL, NULL, 0, &res, &d));
    CHECK_STR(wd_buf_str(&res.body), "until-eof");
    CHECK_ERR(wd_http_client_request(c, "GET", "/3", NULL, NULL, 0, &res, &d), WD_EPROTO);
    CHECK(has(d.msg, "malformed response"));
    CHECK_ERR(wd_http_client_request(c, "GET", "/4", NULL, NULL, 0, &res, &d), WD_ELIMIT);
    CHECK_ERR(wd_http_client_request(c, "GET", "/5", NULL, NULL, 0, &res, &d), WD_EIO);
    CHECK(has(d.msg, "before the response"));
    CHECK_ERR(wd_http_client_request(c, "GET", "/6", NULL, NULL, 0, &res, &d), WD_EPROTO);
    CHECK(has(d.msg, "inside the response"));
    wd_http_result_cleanup(&res);
    wd_http_client_free(c);
    (void)pthread_join(t, NULL);
    (void)close(sc.lfd);
}

/* One client, one request: every allocation failure gives WD_ENOMEM and leaks nothing. */
static int one_request(const char *url)
{
    struct wd_http_client_config cc = {.url = url, .timeout_ms = 3000};
    struct wd_http_client *c = NULL;
    int rc = wd_http_client_new(&cc, &c, NULL);
    if (rc < 0) {
        return rc;
    }
    struct wd_http_result res = {0};
    rc = wd_http_client_request(c, "POST", "/sweep", "text/plain", "body", 4, &res, NULL);
    if (rc == WD_OK && (res.status != 200 || strcmp(wd_buf_str(&res.body), "ok") != 0)) {
        rc = WD_EPROTO;
    }
    wd_http_result_cleanup(&res);
    wd_http_client_free(c);
    return rc;
}

TEST(client_alloc_sweep)
{
    static const char *const resp[] = {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"};
    struct script sc = {.resp = resp, .n = -1};
    pthread_t t;
    CHECK(script_start(&sc, &t) == 0);
    char url[64];
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u", sc.port);
    CHECK_ALLOC_SWEEP(one_request(url), (void)0);
    (void)shutdown(sc.lfd, SHUT_RDWR); /* ends the script's accept loop */
    (void)pthread_join(t, NULL);
    (void)close(sc.lfd);
}

/* An upload far over the limit still gets its 413 (the server answers before the body). */
TEST(large_upload_413)
{
    struct wd_http_server *s = start("127.0.0.1:0", NULL, 1000, 0, 0);
    CHECK(s != NULL);
    struct wd_http_client *c = client("http", s, NULL, 5000);
    CHECK(c != NULL);
    size_t n = 4u << 20;
    char *big = wd_malloc(n);
    CHECK(big != NULL);
    memset(big, 'u', n);
    struct wd_http_result res = {0};
    struct wd_diag d;
    int rc = wd_http_client_request(c, "POST", "/up", NULL, big, n, &res, &d);
    wd_free(big);
    if (rc != WD_OK) {
        printf("  %s\n", d.msg);
    }
    CHECK_OK(rc);
    CHECK_EQ(res.status, 413);
    /* The client reconnects for the next request. */
    CHECK_OK(wd_http_client_request(c, "GET", "/next", NULL, NULL, 0, &res, &d));
    CHECK_EQ(res.status, 200);
    wd_http_result_cleanup(&res);
    wd_http_client_free(c);
    wd_http_server_stop(s);
}

TEST(ipv6_loopback)
{
    struct wd_http_server_config sc = {.listen = "[::1]:0", .handler = echo};
    struct wd_http_server *s = NULL;
    struct wd_diag d;
    if (wd_http_server_start(&sc, &s, &d) < 0) {
        printf("  (no IPv6 loopback here: %s)\n", d.msg);
        return;
    }
    char url[64];
    (void)snprintf(url, sizeof(url), "http://[::1]:%u", wd_http_server_port(s));
    struct wd_http_client_config cc = {.url = url};
    struct wd_http_client *c = NULL;
    CHECK_OK(wd_http_client_new(&cc, &c, NULL));
    struct wd_http_result res = {0};
    CHECK_OK(wd_http_client_request(c, "GET", "/six", NULL, NULL, 0, &res, &d));
    CHECK(has(wd_buf_str(&res.body), "p=/six"));
    wd_http_result_cleanup(&res);
    wd_http_client_free(c);
    wd_http_server_stop(s);
}

/* ---- TLS ---- */

TEST(tls_config)
{
    struct wd_tls_ctx *t = NULL;
    struct wd_diag d;
    struct wd_tls_config c = {.role = WD_TLS_CLIENT};
    CHECK_ERR(wd_tls_ctx_new(&c, &t, &d), WD_ECONFIG); /* client without bundle */
    CHECK(has(d.msg, "bundle"));
    c = (struct wd_tls_config){.role = WD_TLS_SERVER, .bundle = pki.bundle};
    CHECK_ERR(wd_tls_ctx_new(&c, &t, &d), WD_ECONFIG); /* server without certificate */
    c = (struct wd_tls_config){
            .role = WD_TLS_SERVER, .cert = pki.server.cert, .key = pki.client.key};
    CHECK_ERR(wd_tls_ctx_new(&c, &t, &d), WD_ECONFIG); /* key of another certificate */
    CHECK(has(d.msg, "does not match"));
    c = (struct wd_tls_config){.role = WD_TLS_SERVER,
                               .cert = pki.server.cert,
                               .key = pki.server.key,
                               .require_peer = true};
    CHECK_ERR(wd_tls_ctx_new(&c, &t, &d), WD_ECONFIG); /* require_peer without bundle */
    c = (struct wd_tls_config){.role = WD_TLS_CLIENT, .key = pki.client.key, .bundle = pki.bundle};
    CHECK_ERR(wd_tls_ctx_new(&c, &t, &d), WD_ECONFIG); /* key without certificate */
    c = (struct wd_tls_config){
            .role = WD_TLS_CLIENT, .bundle = pki.bundle, .expect_peer_id = "spiffe://x/../y"};
    CHECK_ERR(wd_tls_ctx_new(&c, &t, &d), WD_ECONFIG);
    c = (struct wd_tls_config){
            .role = WD_TLS_SERVER, .cert_file = "/nonexistent.pem", .key_file = "/nonexistent"};
    CHECK_ERR(wd_tls_ctx_new(&c, &t, &d), WD_ECONFIG);
    /* From PEM files, leaf then chain. */
    char dir[64], cert[96], key[96];
    CHECK(tu_tmpdir(dir) == 0);
    (void)snprintf(cert, sizeof(cert), "%s/svid.pem", dir);
    (void)snprintf(key, sizeof(key), "%s/svid.key", dir);
    struct wd_buf b;
    wd_buf_init(&b, 1 << 16);
    CHECK_OK(wd_cert_to_pem(pki.server.cert, &b));
    CHECK_OK(wd_cert_to_pem(wd_ca_intermediate(pki.ca), &b));
    CHECK(tu_write(cert, b.p, b.len) == 0);
    wd_buf_reset(&b);
    CHECK_OK(wd_key_to_pem(pki.server.key, &b));
    CHECK(tu_write(key, b.p, b.len) == 0);
    wd_buf_cleanup_secret(&b);
    c = (struct wd_tls_config){
            .role = WD_TLS_SERVER, .cert_file = cert, .key_file = key, .bundle = pki.bundle};
    CHECK_OK(wd_tls_ctx_new(&c, &t, &d));
    struct wd_http_server *s = start("127.0.0.1:0", t, 0, 0, 0);
    CHECK(s != NULL);
    wd_tls_ctx_unref(t); /* the server holds its own reference */
    struct wd_tls_ctx *ct = NULL;
    CHECK_OK(client_tls(NULL, pki.bundle, "spiffe://example.org/a/control", &ct));
    struct wd_http_client *cl = client("https", s, ct, 3000);
    wd_tls_ctx_unref(ct);
    CHECK(cl != NULL);
    struct wd_http_result res = {0};
    CHECK_OK(wd_http_client_request(cl, "GET", "/", NULL, NULL, 0, &res, &d));
    CHECK(has(wd_buf_str(&res.body), "tls=1 id=- "));
    wd_http_result_cleanup(&res);
    wd_http_client_free(cl);
    wd_http_server_stop(s);
    tu_rm_rf(dir);
    CHECK(wd_tls_ctx_ref(NULL) == NULL);
    wd_tls_ctx_unref(NULL);
}

TEST(tls_mutual)
{
    struct wd_tls_ctx *st = NULL, *ct = NULL;
    CHECK_OK(server_tls(&pki.server, pki.bundle, true, &st));
    CHECK_OK(client_tls(&pki.client, pki.bundle, "spiffe://example.org/a/control", &ct));
    struct wd_http_server *s = start("127.0.0.1:0", st, 0, 0, 0);
    CHECK(s != NULL);
    struct wd_http_client *c = client("https", s, ct, 3000);
    CHECK(c != NULL);
    struct wd_http_result res = {0};
    struct wd_diag d;
    for (int i = 0; i < 5; i++) {
        int rc = wd_http_client_request(c, "POST", "/m", "application/json", "{}", 2, &res, &d);
        if (rc != WD_OK) {
            printf("  %s\n", d.msg);
        }
        CHECK_OK(rc);
        CHECK(has(wd_buf_str(&res.body), "tls=1 id=spiffe://example.org/a/agent "));
        CHECK_STR(res.server_id.str, "spiffe://example.org/a/control");
    }
    CHECK_EQ(wd_http_server_accepted(s), 1);
    /* Plain HTTP to a TLS port fails (the server answers nothing HTTP). */
    char out[256];
    static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    (void)raw_exchange(wd_http_server_port(s), get, sizeof(get) - 1, out, sizeof(out));
    CHECK(strstr(out, "HTTP/1.1 200") == NULL);
    wd_http_result_cleanup(&res);
    wd_http_client_free(c);
    wd_http_server_stop(s);
    wd_tls_ctx_unref(st);
    wd_tls_ctx_unref(ct);
}

/* One request from a client with identity id (may be NULL) and expectation; returns rc. */
static int tls_try(struct wd_http_server *s, const struct ident *id, const struct wd_bundle *bundle,
                   const char *expect, char *body, size_t cap, struct wd_diag *d)
{
    struct wd_tls_ctx *ct = NULL;
    int rc = client_tls(id, bundle, expect, &ct);
    if (rc < 0) {
        return rc;
    }
    struct wd_http_client *c = client("https", s, ct, 3000);
    wd_tls_ctx_unref(ct);
    if (c == NULL) {
        return WD_EINVAL;
    }
    struct wd_http_result res = {0};
    rc = wd_http_client_request(c, "GET", "/t", NULL, NULL, 0, &res, d);
    if (body != NULL) {
        (void)snprintf(body, cap, "%s", wd_buf_str(&res.body));
    }
    wd_http_result_cleanup(&res);
    wd_http_client_free(c);
    return rc;
}

TEST(tls_require_peer)
{
    struct wd_tls_ctx *st = NULL;
    CHECK_OK(server_tls(&pki.server, pki.bundle, true, &st));
    /* Capture the server's debug log: refusals are logged with the reason. */
    char logpath[] = "/tmp/wd-net-log-XXXXXX";
    int logfd = mkstemp(logpath);
    CHECK(logfd >= 0);
    wd_log_set_fd(logfd);
    wd_log_set_level(WD_LOG_DEBUG);
    struct wd_http_server *s = start("127.0.0.1:0", st, 0, 0, 0);
    CHECK(s != NULL);
    struct wd_diag d;
    char body[512];
    CHECK_OK(tls_try(s, &pki.client, pki.bundle, NULL, body, sizeof(body), &d));
    /* No client certificate: the server refuses during the handshake. */
    int rc = tls_try(s, NULL, pki.bundle, NULL, NULL, 0, &d);
    CHECK_ERR(rc, WD_ETLS);
    /* A certificate from another CA of the same trust domain, and from another domain. */
    rc = tls_try(s, &other.client, pki.bundle, NULL, NULL, 0, &d);
    CHECK_ERR(rc, WD_ETLS);
    rc = tls_try(s, &foreign.client, pki.bundle, NULL, NULL, 0, &d);
    CHECK_ERR(rc, WD_ETLS);
    /* The client refuses a server whose SVID its bundle does not vouch for. */
    rc = tls_try(s, &pki.client, other.bundle, NULL, NULL, 0, &d);
    CHECK_ERR(rc, WD_ETLS);
    CHECK(has(d.msg, "untrusted"));
    rc = tls_try(s, &pki.client, foreign.bundle, NULL, NULL, 0, &d);
    CHECK_ERR(rc, WD_ETLS);
    CHECK(has(d.msg, "trust domain"));
    wd_http_server_stop(s);
    wd_tls_ctx_unref(st);
    wd_log_set_level(WD_LOG_ERR);
    wd_log_set_fd(2);
    struct wd_buf log;
    int rr = tu_read(logpath, &log);
    (void)close(logfd);
    (void)unlink(logpath);
    CHECK(rr == 0);
    bool ok = has(wd_buf_str(&log), "TLS handshake with 127.0.0.1:")
              && has(wd_buf_str(&log), "untrusted")
              && has(wd_buf_str(&log), "trust domain other.org differs");
    if (getenv("NET_SHOW_LOG") != NULL) {
        printf("%s", wd_buf_str(&log));
    }
    wd_buf_cleanup(&log);
    CHECK(ok);
}

TEST(tls_optional_peer)
{
    struct wd_tls_ctx *st = NULL;
    CHECK_OK(server_tls(&pki.server, pki.bundle, false, &st));
    struct wd_http_server *s = start("127.0.0.1:0", st, 0, 0, 0);
    CHECK(s != NULL);
    struct wd_diag d;
    char body[512];
    CHECK_OK(tls_try(s, NULL, pki.bundle, NULL, body, sizeof(body), &d));
    CHECK(has(body, "tls=1 id=- "));
    CHECK_OK(tls_try(s, &pki.client, pki.bundle, NULL, body, sizeof(body), &d));
    CHECK(has(body, "id=spiffe://example.org/a/agent "));
    /* A certificate that does not verify is refused even when none is required. */
    CHECK_ERR(tls_try(s, &other.client, pki.bundle, NULL, NULL, 0, &d), WD_ETLS);
    wd_http_server_stop(s);
    wd_tls_ctx_unref(st);
    /* A server without bundle neither asks for nor sees client certificates. */
    CHECK_OK(server_tls(&pki.server, NULL, false, &st));
    s = start("127.0.0.1:0", st, 0, 0, 0);
    CHECK(s != NULL);
    CHECK_OK(tls_try(s, &pki.client, pki.bundle, NULL, body, sizeof(body), &d));
    CHECK(has(body, "tls=1 id=- "));
    wd_http_server_stop(s);
    wd_tls_ctx_unref(st);
}

TEST(tls_expect_peer_id)
{
    struct wd_tls_ctx *st = NULL;
    CHECK_OK(server_tls(&pki.server, pki.bundle, false, &st));
    struct wd_http_server *s = start("127.0.0.1:0", st, 0, 0, 0);
    CHECK(s != NULL);
    struct wd_diag d;
    CHECK_OK(tls_try(s, &pki.client, pki.bundle, "spiffe://example.org/a/control", NULL, 0, &d));
    CHECK_ERR(tls_try(s, &pki.client, pki.bundle, "spiffe://example.org/a/control2", NULL, 0, &d),
              WD_ETLS);
    CHECK(has(d.msg, "not the expected spiffe://example.org/a/control2"));
    wd_http_server_stop(s);
    wd_tls_ctx_unref(st);
}

/* A TLS connection the server closed while idle (close_notify) is replaced transparently. */
TEST(tls_idle_reconnect)
{
    struct wd_tls_ctx *st = NULL, *ct = NULL;
    CHECK_OK(server_tls(&pki.server, pki.bundle, true, &st));
    CHECK_OK(client_tls(&pki.client, pki.bundle, NULL, &ct));
    struct wd_http_server *s = start("127.0.0.1:0", st, 0, 100, 0);
    CHECK(s != NULL);
    struct wd_http_client *c = client("https", s, ct, 3000);
    CHECK(c != NULL);
    struct wd_http_result res = {0};
    struct wd_diag d;
    CHECK_OK(wd_http_client_request(c, "GET", "/1", NULL, NULL, 0, &res, &d));
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 300 * 1000000L};
    (void)nanosleep(&ts, NULL);
    CHECK_OK(wd_http_client_request(c, "GET", "/2", NULL, NULL, 0, &res, &d));
    CHECK(has(wd_buf_str(&res.body), "p=/2 "));
    CHECK_EQ(wd_http_server_accepted(s), 2);
    wd_http_result_cleanup(&res);
    wd_http_client_free(c);
    wd_http_server_stop(s);
    wd_tls_ctx_unref(st);
    wd_tls_ctx_unref(ct);
}

/* A kept-alive connection does not outlive the client SVID that authenticated it. */
TEST(tls_expired_peer)
{
    struct ident shortlived;
    CHECK(make_ident(pki.ca, "spiffe://example.org/a/brief", &shortlived) == 0);
    X509_free(shortlived.cert);
    shortlived.cert = NULL;
    struct wd_spiffe_id id;
    CHECK_OK(wd_spiffe_id_parse("spiffe://example.org/a/brief", 28, &id, NULL, NULL));
    /* Long enough for the first handshake even under emulation (qemu in CI), then waited out. */
    CHECK_OK(wd_svid_issue(pki.ca, shortlived.key, &id, 5, NULL, &shortlived.cert, NULL));
    int64_t not_after = 0;
    CHECK_OK(wd_cert_not_after(shortlived.cert, &not_after));
    struct wd_tls_ctx *st = NULL, *ct = NULL;
    CHECK_OK(server_tls(&pki.server, pki.bundle, true, &st));
    CHECK_OK(client_tls(&shortlived, pki.bundle, NULL, &ct));
    free_ident(&shortlived);
    struct wd_http_server *s = start("127.0.0.1:0", st, 0, 0, 0);
    CHECK(s != NULL);
    struct wd_http_client *c = client("https", s, ct, 3000);
    CHECK(c != NULL);
    struct wd_http_result res = {0};
    struct wd_diag d;
    CHECK_OK(wd_http_client_request(c, "GET", "/1", NULL, NULL, 0, &res, &d));
    CHECK(has(wd_buf_str(&res.body), "id=spiffe://example.org/a/brief "));
    while (time(NULL) <= not_after) { /* the SVID expires */
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 200 * 1000 * 1000};
        (void)nanosleep(&ts, NULL);
    }
    /* The server closes the connection instead of serving it; the client reconnects and
       its expired certificate is refused. */
    CHECK_ERR(wd_http_client_request(c, "GET", "/2", NULL, NULL, 0, &res, &d), WD_ETLS);
    CHECK_EQ(wd_http_server_accepted(s), 2);
    wd_http_result_cleanup(&res);
    wd_http_client_free(c);
    wd_http_server_stop(s);
    wd_tls_ctx_unref(st);
    wd_tls_ctx_unref(ct);
}

TEST(tls_rotation)
{
    struct wd_tls_ctx *st = NULL, *st2 = NULL, *ct = NULL;
    CHECK_OK(server_tls(&pki.server, pki.bundle, true, &st));
    CHECK_OK(server_tls(&pki.server2, pki.bundle, true, &st2));
    CHECK_OK(client_tls(&pki.client, pki.bundle, NULL, &ct));
    struct wd_http_server *s = start("127.0.0.1:0", st, 0, 0, 0);
    CHECK(s != NULL);
    wd_tls_ctx_unref(st);
    struct wd_http_client *old = client("https", s, ct, 3000);
    struct wd_http_client *c = client("https", s, ct, 3000);
    CHECK(old != NULL && c != NULL);
    struct wd_http_result res = {0};
    CHECK_OK(wd_http_client_request(old, "GET", "/", NULL, NULL, 0, &res, NULL));
    CHECK_STR(res.server_id.str, "spiffe://example.org/a/control");
    wd_http_server_set_tls(s, st2);
    wd_tls_ctx_unref(st2);
    CHECK_OK(wd_http_client_request(c, "GET", "/", NULL, NULL, 0, &res, NULL));
    CHECK_STR(res.server_id.str, "spiffe://example.org/a/control2");
    /* The connection made before the swap keeps its certificate. */
    CHECK_OK(wd_http_client_request(old, "GET", "/", NULL, NULL, 0, &res, NULL));
    CHECK_STR(res.server_id.str, "spiffe://example.org/a/control");
    CHECK_EQ(wd_http_server_accepted(s), 2);
    /* Wrong kinds of context are ignored (never a switch to plaintext); logged as errors. */
    wd_log_set_level((enum wd_log_level)(WD_LOG_ERR - 1));
    wd_http_server_set_tls(s, NULL);
    wd_http_server_set_tls(s, ct);
    wd_http_client_set_tls(c, NULL);
    wd_log_set_level(WD_LOG_ERR);
    struct wd_diag d;
    CHECK_ERR(wd_http_client_request(c, "GET", "/", NULL, NULL, 0, &res, &d), WD_ECONFIG);
    wd_http_client_set_tls(c, ct);
    CHECK_OK(wd_http_client_request(c, "GET", "/", NULL, NULL, 0, &res, &d));
    CHECK_STR(res.server_id.str, "spiffe://example.org/a/control2");
    wd_http_result_cleanup(&res);
    wd_http_client_free(old);
    wd_http_client_free(c);
    wd_http_server_stop(s);
    wd_tls_ctx_unref(ct);
}

TEST(tls_concurrent)
{
    struct wd_tls_ctx *st = NULL, *ct = NULL;
    CHECK_OK(server_tls(&pki.server, pki.bundle, true, &st));
    CHECK_OK(client_tls(&pki.client, pki.bundle, NULL, &ct));
    struct wd_http_server *s = start("127.0.0.1:0", st, 0, 0, 0);
    CHECK(s != NULL);
    CHECK_EQ(hammer(wd_http_server_port(s), "https", ct, 8, 100), 8 * 100);
    wd_http_server_stop(s);
    wd_tls_ctx_unref(st);
    wd_tls_ctx_unref(ct);
}

/* ---- allocation failures ---- */

TEST(alloc_sweeps)
{
    struct wd_tls_ctx *t = NULL;
    struct wd_tls_config sc = {.role = WD_TLS_SERVER,
                               .cert = pki.server.cert,
                               .chain = pki.server.chain,
                               .key = pki.server.key,
                               .bundle = pki.bundle};
    CHECK_ALLOC_SWEEP(wd_tls_ctx_new(&sc, &t, NULL), (wd_tls_ctx_unref(t), t = NULL));
    struct wd_http_client *c = NULL;
    struct wd_http_client_config cc = {.url = "http://127.0.0.1:1"};
    CHECK_ALLOC_SWEEP(wd_http_client_new(&cc, &c, NULL), (wd_http_client_free(c), c = NULL));
    struct wd_http_server *s = NULL;
    struct wd_http_server_config hc = {.listen = "127.0.0.1:0", .handler = echo};
    CHECK_ALLOC_SWEEP(wd_http_server_start(&hc, &s, NULL), (wd_http_server_stop(s), s = NULL));
    /* The reader: every allocation of a request with a body. */
    static const char req[] = "POST /a?b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
    struct wd_net_reader r;
    struct wd_net_request q;
    int status;
    CHECK_ALLOC_SWEEP(read_one(req, sizeof(req) - 1, false, 100, &r, &q, &status),
                      wd_net_reader_cleanup(&r));
}

int main(void)
{
    (void)signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill the test: none may happen */
    wd_log_set_level(WD_LOG_ERR);
    if (make_pki(&pki, "example.org", "a") < 0 || make_pki(&other, "example.org", "b") < 0
        || make_pki(&foreign, "other.org", "c") < 0) {
        printf("cannot make the test PKI\n");
        return 1;
    }
    RUN(parse_listen);
    RUN(parse_url);
    RUN(message_heads);
    RUN(reader_requests);
    RUN(reader_errors);
    RUN(plain_roundtrip);
    RUN(keepalive_reuse);
    RUN(idle_close_reconnects);
    RUN(reused_connection_resend);
    RUN(limits_and_garbage);
    RUN(unix_socket);
    RUN(server_config_errors);
    RUN(max_conns);
    RUN(stop_with_idle_clients);
    RUN(stop_waits_for_handler);
    RUN(stop_wakes_watch);
    RUN(concurrent_clients);
    RUN(stop_under_load);
    RUN(no_sigpipe);
    RUN(client_responses);
    RUN(large_upload_413);
    RUN(client_alloc_sweep);
    RUN(ipv6_loopback);
    RUN(tls_config);
    RUN(tls_mutual);
    RUN(tls_require_peer);
    RUN(tls_optional_peer);
    RUN(tls_expect_peer_id);
    RUN(tls_idle_reconnect);
    RUN(tls_expired_peer);
    RUN(tls_rotation);
    RUN(tls_concurrent);
    RUN(alloc_sweeps);
    free_pki(&pki);
    free_pki(&other);
    free_pki(&foreign);
    return HARNESS_END("net");
}
