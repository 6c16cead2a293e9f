/*
 * Unit tests for warden-proxy's policy state and Cedar request mapping
 * (src/proxy/policy.c): synthetic HTTP messages are parsed with lib/http1, captured,
 * mapped to Cedar requests and decided against a small policy set.
 */
#include <stdio.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/cedar.h"
#include "warden/err.h"
#include "warden/http1.h"
#include "warden/log.h"

#include "../../src/proxy/policy.h"
#include "harness.h"

#define SELF  "spiffe://example.org/api"
#define ALICE "spiffe://example.org/alice"
#define BOB   "spiffe://example.org/bob"

static const char policies[] =
        "@id(\"alice-read\")\n"
        "permit (principal == Workload::\"" ALICE "\", action in [Action::\"http:GET\", "
        "Action::\"http:HEAD\"], resource == Workload::\"" SELF "\")\n"
        "when { context.path like \"/public/*\" || context.headers[\"x-role\"] == \"admin\" };\n"
        "@id(\"bob-all\")\n"
        "permit (principal == Workload::\"" BOB "\", action in Action::\"http\", resource)\n"
        "unless { context.query like \"*debug*\" };\n"
        "@id(\"no-big-posts\")\n"
        "forbid (principal, action == Action::\"http:POST\", resource)\n"
        "when { context.body.size > 100 };\n"
        "@id(\"tpm-tcp\")\n"
        "permit (principal, action == Action::\"tcp:connect\", resource)\n"
        "when { context.claims has attestation && context.claims.attestation == \"tpm\" &&\n"
        "       context.source_ip.isLoopback() };\n"
        "@id(\"resp\")\n"
        "forbid (principal, action == Action::\"http:response\", resource)\n"
        "when { context.status >= 500 || context.headers has \"x-secret\" };\n"
        "@id(\"resp-ok\")\n"
        "permit (principal, action == Action::\"http:response\", resource)\n"
        "when { context.route == \"\" && context.params == {} && context.detections.isEmpty() &&\n"
        "       context.request_headers has host };\n";

struct fixture {
    struct prx_policy *pol;
    struct wd_cedar_request *req;
    struct wd_cedar_scratch *scratch;
};

static int setup(struct fixture *f)
{
    struct prx_text t = {"p.cedar", policies, sizeof(policies) - 1};
    struct wd_diag d;
    memset(f, 0, sizeof(*f));
    int rc = prx_policy_build(&t, 1, NULL, NULL, &f->pol, &d);
    if (rc < 0) {
        printf("build: %s\n", d.msg);
        return rc;
    }
    WD_TRY(wd_cedar_request_new(&f->req));
    return wd_cedar_scratch_new(&f->scratch);
}

static void teardown(struct fixture *f)
{
    wd_cedar_scratch_free(f->scratch);
    wd_cedar_request_free(f->req);
    prx_policy_free(f->pol);
}

/* Parse one message of kind k from text into h (captured). */
static int capture(enum wd_http1_kind k, const char *text, struct prx_head *h)
{
    struct wd_http1_parser p;
    struct wd_http1_field fields[32];
    struct wd_http1_step st;
    wd_http1_init(&p, k, NULL, fields, 32);
    int rc = wd_http1_step(&p, (const uint8_t *)text, strlen(text), &st);
    if (rc < 0) {
        return rc;
    }
    if (st.ev != WD_HTTP1_EV_HEAD) {
        return WD_EPROTO;
    }
    return prx_head_capture(h, &p);
}

/* Decide an HTTP request from peer for text; -1 on a mapping error. */
static int decide(struct fixture *f, const char *peer, const char *text, uint64_t body,
                  const char **reason)
{
    struct prx_head h;
    struct prx_peer pe = {peer, strlen(peer), NULL, "127.0.0.1", 8443};
    struct wd_cedar_response resp;
    int out = -1;
    prx_head_init(&h, 32, 4096);
    if (capture(WD_HTTP1_REQUEST, text, &h) == WD_OK
        && prx_map_http_request(f->req, &pe, SELF, strlen(SELF), &h, body, 1764000000) == WD_OK
        && wd_cedar_authorize(f->pol->az, f->pol->ents, f->req, f->scratch, &resp) == WD_OK) {
        out = resp.allow ? 1 : 0;
        if (reason != NULL) {
            *reason = resp.nreasons > 0 ? resp.reasons[0] : "";
        }
    }
    prx_head_cleanup(&h);
    return out;
}

TEST(http_requests)
{
    struct fixture f;
    CHECK_OK(setup(&f));
    const char *why = NULL;
    CHECK_EQ(decide(&f, ALICE, "GET /public/x HTTP/1.1\r\nHost: a\r\n\r\n", 0, &why), 1);
    CHECK_STR(why, "alice-read");
    CHECK_EQ(decide(&f, ALICE, "HEAD /public/ HTTP/1.1\r\nHost: a\r\n\r\n", 0, NULL), 1);
    CHECK_EQ(decide(&f, ALICE, "GET /private HTTP/1.1\r\nHost: a\r\n\r\n", 0, NULL), 0);
    /* header names are lower-cased */
    CHECK_EQ(
            decide(&f, ALICE, "GET /private HTTP/1.1\r\nHost: a\r\nX-Role: admin\r\n\r\n", 0, NULL),
            1);
    /* repeated fields are joined, so "admin" alone no longer matches */
    CHECK_EQ(decide(&f, ALICE,
                    "GET /private HTTP/1.1\r\nHost: a\r\nX-Role: admin\r\nx-role: guest\r\n\r\n", 0,
                    NULL),
             0);
    CHECK_EQ(decide(&f, ALICE, "POST /public/x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 0,
                    NULL),
             0);
    /* Action::"http:DELETE" is in Action::"http" */
    CHECK_EQ(decide(&f, BOB, "DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n", 0, &why), 1);
    CHECK_STR(why, "bob-all");
    CHECK_EQ(decide(&f, BOB, "GET /x?a=1&debug=1 HTTP/1.1\r\nHost: a\r\n\r\n", 0, NULL), 0);
    CHECK_EQ(decide(&f, BOB, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n", 10, NULL),
             1);
    CHECK_EQ(decide(&f, BOB, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n", 101,
                    &why),
             0);
    CHECK_STR(why, "no-big-posts");
    CHECK_EQ(decide(&f, "spiffe://example.org/eve", "GET /public/x HTTP/1.1\r\nHost: a\r\n\r\n", 0,
                    NULL),
             0);
    teardown(&f);
}

TEST(http_response)
{
    struct fixture f;
    CHECK_OK(setup(&f));
    struct prx_head req, resp;
    struct prx_peer pe = {BOB, strlen(BOB), NULL, "127.0.0.1", 8443};
    struct wd_cedar_response r;
    prx_head_init(&req, 32, 4096);
    prx_head_init(&resp, 32, 4096);
    CHECK_OK(capture(WD_HTTP1_REQUEST, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n", &req));
    CHECK_OK(capture(WD_HTTP1_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", &resp));
    CHECK_EQ(resp.status, 200);
    CHECK_OK(prx_map_http_response(f.req, &pe, SELF, strlen(SELF), &req, 0, &resp, 2, 0));
    CHECK_OK(wd_cedar_authorize(f.pol->az, f.pol->ents, f.req, f.scratch, &r));
    CHECK(r.allow);
    CHECK_OK(capture(WD_HTTP1_RESPONSE, "HTTP/1.1 503 No\r\nContent-Length: 2\r\n\r\n", &resp));
    CHECK_OK(prx_map_http_response(f.req, &pe, SELF, strlen(SELF), &req, 0, &resp, 2, 0));
    CHECK_OK(wd_cedar_authorize(f.pol->az, f.pol->ents, f.req, f.scratch, &r));
    CHECK(!r.allow);
    CHECK_OK(capture(WD_HTTP1_RESPONSE, "HTTP/1.1 200 OK\r\nX-Secret: 1\r\n\r\n", &resp));
    CHECK_OK(prx_map_http_response(f.req, &pe, SELF, strlen(SELF), &req, 0, &resp, 0, 0));
    CHECK_OK(wd_cedar_authorize(f.pol->az, f.pol->ents, f.req, f.scratch, &r));
    CHECK(!r.allow);
    struct wd_slice v;
    CHECK(prx_head_get(&resp, "x-secret", &v));
    CHECK(v.len == 1 && v.p[0] == '1');
    CHECK(!prx_head_get(&resp, "X-Secret", &v));
    prx_head_cleanup(&req);
    prx_head_cleanup(&resp);
    teardown(&f);
}

TEST(tcp_connect)
{
    struct fixture f;
    CHECK_OK(setup(&f));
    struct wd_claims c;
    struct wd_cedar_response r;
    wd_claims_init(&c);
    struct prx_peer pe = {ALICE, strlen(ALICE), &c, "127.0.0.1", 9000};
    CHECK_OK(prx_map_tcp(f.req, &pe, SELF, strlen(SELF)));
    CHECK_OK(wd_cedar_authorize(f.pol->az, f.pol->ents, f.req, f.scratch, &r));
    CHECK(!r.allow);
    wd_claims_set_attest(&c, WD_ATTEST_TPM);
    CHECK_OK(prx_map_tcp(f.req, &pe, SELF, strlen(SELF)));
    CHECK_OK(wd_cedar_authorize(f.pol->az, f.pol->ents, f.req, f.scratch, &r));
    CHECK(r.allow);
    pe.ip = "10.1.2.3";
    CHECK_OK(prx_map_tcp(f.req, &pe, SELF, strlen(SELF)));
    CHECK_OK(wd_cedar_authorize(f.pol->az, f.pol->ents, f.req, f.scratch, &r));
    CHECK(!r.allow);
    /* an anonymous peer */
    pe.id = NULL;
    pe.ip = "127.0.0.1";
    CHECK_OK(prx_map_tcp(f.req, &pe, SELF, strlen(SELF)));
    CHECK_OK(wd_cedar_authorize(f.pol->az, f.pol->ents, f.req, f.scratch, &r));
    CHECK(r.allow);
    teardown(&f);
}

TEST(build_errors)
{
    struct prx_policy *p = NULL;
    struct wd_diag d;
    struct prx_text good = {"a.cedar", "permit(principal, action, resource);", 36};
    struct prx_text bad = {"b.cedar", "permit(principal,\n action, resource) when { 1 + };", 49};
    struct prx_text pair[2] = {good, bad};
    CHECK_ERR(prx_policy_build(pair, 2, NULL, NULL, &p, &d), WD_EPROTO);
    CHECK(p == NULL);
    CHECK(strncmp(d.msg, "b.cedar:2:", 10) == 0);
    struct prx_text ents = {"e.json", "[{\"uid\": {\"type\": \"X\"}}]", 25};
    CHECK(prx_policy_build(&good, 1, &ents, NULL, &p, &d) < 0);
    CHECK(strncmp(d.msg, "e.json:", 7) == 0);
    struct prx_text schema = {"s.cedarschema",
                              "entity Workload; action \"http:GET\" appliesTo { principal: "
                              "Workload, resource: Workload, context: {} };",
                              0};
    schema.len = strlen(schema.p);
    struct prx_text typo = {"c.cedar",
                            "permit(principal, action == Action::\"http:GET\", resource)\n"
                            "when { context.nope };",
                            0};
    typo.len = strlen(typo.p);
    CHECK_ERR(prx_policy_build(&typo, 1, NULL, &schema, &p, &d), WD_ECONFIG);
    CHECK(strncmp(d.msg, "c.cedar:2:", 10) == 0);
    CHECK_OK(prx_policy_build(&good, 1, NULL, &schema, &p, &d));
    prx_policy_free(p);
}

TEST(alloc_sweep)
{
    struct prx_policy *p = NULL;
    struct wd_diag d;
    struct prx_text t = {"p.cedar", policies, sizeof(policies) - 1};
    CHECK_ALLOC_SWEEP(prx_policy_build(&t, 1, NULL, NULL, &p, &d), (prx_policy_free(p), p = NULL));
}

int main(void)
{
    wd_log_set_level(WD_LOG_ERR);
    RUN(http_requests);
    RUN(http_response);
    RUN(tcp_connect);
    RUN(build_errors);
    RUN(alloc_sweep);
    return HARNESS_END("proxy_policy");
}
