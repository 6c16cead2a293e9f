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

#include "../../src/proxy/config.h"
#include "../../src/proxy/mqtt.h"
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

/* ---- routes and detectors (config sections, mapping into the Cedar context) ---- */

#define CFG_BASE                   \
    "identity:\n"                  \
    "  cert: /c.pem\n"             \
    "  key: /k.pem\n"              \
    "  bundle: /b.pem\n"           \
    "policy:\n"                    \
    "  policies: /p.cedar\n"       \
    "listeners:\n"                 \
    "  - name: web\n"              \
    "    mode: inbound\n"          \
    "    protocol: http\n"         \
    "    listen: 127.0.0.1:8443\n" \
    "    upstream: 127.0.0.1:8080\n"

static const char found_cfg[] = CFG_BASE "routes:\n"
                                         "  patient: /patients/{id}\n"
                                         "  vitals: /patients/{pid}/vitals/{kind}\n"
                                         "  files: /files/{path...}\n"
                                         "detectors:\n"
                                         "  patient-id: { regex: \"\\\\bPID-[0-9]{6}\\\\b\" }\n"
                                         "  admin-flag: { json_field: \"$.role\", equals: admin }\n"
                                         "  big: { size_over: 1000 }\n"
                                         "scan:\n"
                                         "  max_bytes: 4096\n";

static const char found_policies[] =
        "@id(\"patient-42\")\n"
        "permit (principal, action == Action::\"http:GET\", resource)\n"
        "when { context.route == \"patient\" && context.params.id == \"42\" };\n"
        "@id(\"vitals\")\n"
        "permit (principal, action == Action::\"http:GET\", resource)\n"
        "when { context.route == \"vitals\" && context.params == {pid: \"7\", kind: \"bp\"} };\n"
        "@id(\"files\")\n"
        "permit (principal, action == Action::\"http:GET\", resource)\n"
        "when { context.route == \"files\" && context.params.path == \"a/b c\" };\n"
        "@id(\"uploads\")\n"
        "permit (principal, action == Action::\"http:POST\", resource)\n"
        "when { context.route == \"\" && context.params == {} };\n"
        "@id(\"no-pid-up\")\n"
        "forbid (principal, action == Action::\"http:POST\", resource)\n"
        "when { context.detections.contains(\"patient-id\") };\n"
        "@id(\"no-admin\")\n"
        "forbid (principal, action == Action::\"http:POST\", resource)\n"
        "when { context.detections.contains(\"admin-flag\") };\n"
        "@id(\"responses\")\n"
        "permit (principal, action == Action::\"http:response\", resource)\n"
        "when { context.route == \"patient\" && context.params.id == \"42\" };\n"
        "@id(\"no-pid-out\")\n"
        "forbid (principal, action == Action::\"http:response\", resource)\n"
        "when { context.detections.contains(\"patient-id\") };\n"
        "@id(\"mqtt\")\n"
        "permit (principal, action in Action::\"mqtt\", resource)\n"
        "unless { context has detections && context.detections.containsAny([\"patient-id\", "
        "\"big\"]) };\n";

struct ffix {
    struct fixture f;
    struct prx_config *cfg;
    struct wd_detect_scratch *ds;
    struct wd_route_match m;
};

static int ffix_setup(struct ffix *x)
{
    struct prx_text t = {"found.cedar", found_policies, sizeof(found_policies) - 1};
    struct wd_diag d;
    memset(x, 0, sizeof(*x));
    int rc = prx_config_parse("proxy.yaml", found_cfg, sizeof(found_cfg) - 1, &x->cfg, &d);
    if (rc < 0) {
        printf("config: %s\n", d.msg);
        return rc;
    }
    rc = prx_policy_build(&t, 1, NULL, NULL, &x->f.pol, &d);
    if (rc < 0) {
        printf("build: %s\n", d.msg);
        return rc;
    }
    WD_TRY(wd_cedar_request_new(&x->f.req));
    WD_TRY(wd_cedar_scratch_new(&x->f.scratch));
    return wd_detect_scratch_new(x->cfg->detect, &x->ds);
}

static void ffix_teardown(struct ffix *x)
{
    wd_detect_scratch_free(x->ds);
    teardown(&x->f);
    prx_config_free(x->cfg);
}

/* Decide a request (head text, then body), with its route and its body's detections the
 * way http.c finds them; -1 on an error. */
static int decide_found(struct ffix *x, const char *text, const char *body, bool json,
                        const char **why)
{
    struct prx_head h;
    struct prx_peer pe = {ALICE, strlen(ALICE), NULL, "127.0.0.1", 8443};
    struct wd_cedar_response resp;
    struct wd_detect_result hits;
    struct prx_found found = {&x->m, x->cfg->detect, &hits};
    struct wd_detect_input in = {body, strlen(body), strlen(body), json, NULL, 0};
    int out = -1;
    prx_head_init(&h, 32, 4096);
    if (capture(WD_HTTP1_REQUEST, text, &h) != WD_OK) {
        goto out;
    }
    if (wd_route_match(x->cfg->routes, (const char *)h.b.p + h.po, h.pl, &x->m) != WD_OK) {
        x->m.route = "";
        x->m.nparams = 0;
    }
    if (wd_detect_scan(x->cfg->detect, x->ds, &in, &hits) == WD_OK
        && prx_map_http_request_ex(x->f.req, &pe, SELF, strlen(SELF), &h, strlen(body), &found,
                                   1764000000)
                   == WD_OK
        && wd_cedar_authorize(x->f.pol->az, x->f.pol->ents, x->f.req, x->f.scratch, &resp)
                   == WD_OK) {
        out = resp.allow ? 1 : 0;
        if (why != NULL) {
            *why = resp.nreasons > 0 ? resp.reasons[0] : "";
        }
    }
out:
    prx_head_cleanup(&h);
    return out;
}

TEST(routes_and_params)
{
    struct ffix x;
    CHECK_OK(ffix_setup(&x));
    CHECK_EQ(wd_route_set_count(x.cfg->routes), 3);
    const char *why = NULL;
    CHECK_EQ(decide_found(&x, "GET /patients/42 HTTP/1.1\r\nHost: a\r\n\r\n", "", false, &why), 1);
    CHECK_STR(why, "patient-42");
    CHECK_EQ(decide_found(&x, "GET /patients/43 HTTP/1.1\r\nHost: a\r\n\r\n", "", false, NULL), 0);
    /* the path is matched before the query, and decoded */
    CHECK_EQ(decide_found(&x, "GET /patients/4%32?id=43 HTTP/1.1\r\nHost: a\r\n\r\n", "", false,
                          NULL),
             1);
    CHECK_EQ(decide_found(&x, "GET /patients/42/x HTTP/1.1\r\nHost: a\r\n\r\n", "", false, NULL),
             0);
    CHECK_EQ(decide_found(&x, "GET /patients/7/vitals/bp HTTP/1.1\r\nHost: a\r\n\r\n", "", false,
                          &why),
             1);
    CHECK_STR(why, "vitals");
    CHECK_EQ(decide_found(&x, "GET /patients/7/vitals/hr HTTP/1.1\r\nHost: a\r\n\r\n", "", false,
                          NULL),
             0);
    CHECK_EQ(decide_found(&x, "GET /files/a/b%20c HTTP/1.1\r\nHost: a\r\n\r\n", "", false, &why),
             1);
    CHECK_STR(why, "files");
    /* a refused path (a "..") has no route, like an unknown one */
    CHECK_EQ(decide_found(&x, "POST /files/a/../b HTTP/1.1\r\nHost: a\r\n\r\n", "", false, &why),
             1);
    CHECK_STR(why, "uploads");
    CHECK_EQ(decide_found(&x, "POST /files/a HTTP/1.1\r\nHost: a\r\n\r\n", "", false, NULL), 0);
    ffix_teardown(&x);
}

TEST(request_detections)
{
    struct ffix x;
    CHECK_OK(ffix_setup(&x));
    /* the three configured, then the implicit oversize detector */
    CHECK_EQ(wd_detect_count(x.cfg->detect), 4);
    CHECK_STR(wd_detect_name(x.cfg->detect, 3), "oversize");
    CHECK_EQ(wd_detect_max_scan(x.cfg->detect), 4096);
    const char *post = "POST /upload HTTP/1.1\r\nHost: a\r\n\r\n";
    const char *why = NULL;
    CHECK_EQ(decide_found(&x, post, "clean text", false, &why), 1);
    CHECK_STR(why, "uploads");
    CHECK_EQ(decide_found(&x, post, "note for PID-123456 today", false, &why), 0);
    CHECK_STR(why, "no-pid-up");
    CHECK_EQ(decide_found(&x, post, "PID-1234567", false, NULL), 1);
    /* json_field detectors apply only when the body is declared JSON */
    CHECK_EQ(decide_found(&x, post, "{\"role\": \"admin\"}", false, NULL), 1);
    CHECK_EQ(decide_found(&x, post, "{\"role\": \"admin\"}", true, &why), 0);
    CHECK_STR(why, "no-admin");
    CHECK_EQ(decide_found(&x, post, "{\"role\": \"user\"}", true, NULL), 1);
    ffix_teardown(&x);
}

TEST(response_detections)
{
    struct ffix x;
    CHECK_OK(ffix_setup(&x));
    struct prx_head req, resp;
    struct prx_peer pe = {BOB, strlen(BOB), NULL, "127.0.0.1", 8443};
    struct wd_cedar_response r;
    struct wd_detect_result hits;
    struct prx_found found = {&x.m, x.cfg->detect, &hits};
    prx_head_init(&req, 32, 4096);
    prx_head_init(&resp, 32, 4096);
    CHECK_OK(capture(WD_HTTP1_REQUEST, "GET /patients/42 HTTP/1.1\r\nHost: a\r\n\r\n", &req));
    CHECK_OK(wd_route_match(x.cfg->routes, (const char *)req.b.p + req.po, req.pl, &x.m));
    CHECK_OK(capture(WD_HTTP1_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", &resp));
    static const char *const bodies[] = {"name: Ann", "PID-123456"};
    for (size_t i = 0; i < 2; i++) {
        struct wd_detect_input in = {bodies[i], strlen(bodies[i]), strlen(bodies[i]), false, NULL,
                                     0};
        CHECK_OK(wd_detect_scan(x.cfg->detect, x.ds, &in, &hits));
        CHECK_OK(prx_map_http_response_ex(x.f.req, &pe, SELF, strlen(SELF), &req, 0, &resp,
                                          in.total, &found, 0));
        CHECK_OK(wd_cedar_authorize(x.f.pol->az, x.f.pol->ents, x.f.req, x.f.scratch, &r));
        /* the response keeps the request's route and params; its own body is scanned */
        CHECK_EQ(r.allow, i == 0);
        CHECK_STR(r.nreasons > 0 ? r.reasons[0] : "", i == 0 ? "responses" : "no-pid-out");
    }
    /* without found (the old entry point) the response has no route: denied */
    CHECK_OK(prx_map_http_response(x.f.req, &pe, SELF, strlen(SELF), &req, 0, &resp, 9, 0));
    CHECK_OK(wd_cedar_authorize(x.f.pol->az, x.f.pol->ents, x.f.req, x.f.scratch, &r));
    CHECK(!r.allow);
    prx_head_cleanup(&req);
    prx_head_cleanup(&resp);
    ffix_teardown(&x);
}

TEST(mqtt_detections)
{
    struct ffix x;
    CHECK_OK(ffix_setup(&x));
    struct prx_peer pe = {ALICE, strlen(ALICE), NULL, "127.0.0.1", 8883};
    struct wd_cedar_response r;
    struct wd_detect_result hits;
    struct prx_found found = {NULL, x.cfg->detect, &hits};
    char big[1200];
    memset(big, 'x', sizeof(big));
    struct {
        enum prx_mqtt_action a;
        const char *p;
        size_t n;
        bool allow;
    } cases[] = {
            {PRX_MQTT_A_PUBLISH, "21.5", 4, true},
            {PRX_MQTT_A_PUBLISH, "PID-654321", 10, false},
            {PRX_MQTT_A_RECEIVE, "PID-654321", 10, false},
            {PRX_MQTT_A_RECEIVE, big, sizeof(big), false}, /* size_over 1000 */
            {PRX_MQTT_A_RECEIVE, big, 999, true},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        struct prx_mqtt_ask ask;
        memset(&ask, 0, sizeof(ask));
        ask.action = cases[i].a;
        ask.topic.p = (const uint8_t *)"t/1";
        ask.topic.len = 3;
        ask.payload.p = (const uint8_t *)cases[i].p;
        ask.payload.len = cases[i].n;
        struct wd_detect_input in = {cases[i].p, cases[i].n, cases[i].n, false, NULL, 0};
        CHECK_OK(wd_detect_scan(x.cfg->detect, x.ds, &in, &hits));
        CHECK_OK(prx_map_mqtt_ex(x.f.req, &pe, SELF, strlen(SELF), &ask, &found, 1764000000));
        CHECK_OK(wd_cedar_authorize(x.f.pol->az, x.f.pol->ents, x.f.req, x.f.scratch, &r));
        CHECK_EQ(r.allow, cases[i].allow);
    }
    ffix_teardown(&x);
}

/* parse a config of CFG_BASE + extra; returns the error code, diag in d */
static int parse_extra(const char *extra, struct wd_diag *d)
{
    char text[2048];
    struct prx_config *cfg = NULL;
    int n = snprintf(text, sizeof(text), "%s%s", CFG_BASE, extra);
    if (n < 0 || (size_t)n >= sizeof(text)) {
        return WD_ELIMIT;
    }
    int rc = prx_config_parse("proxy.yaml", text, (size_t)n, &cfg, d);
    if (rc == WD_OK && (cfg->routes != NULL || cfg->detect != NULL) == (extra[0] == '\0')) {
        rc = WD_EINVAL;
    }
    prx_config_free(cfg);
    return rc;
}

TEST(config_sections)
{
    struct wd_diag d;
    /* absent sections: no sets */
    CHECK_OK(parse_extra("", &d));
    CHECK_OK(parse_extra("routes: {}\n", &d));
    CHECK_OK(parse_extra("routes:\n  a: /\ndetectors:\n  x: { size_over: 5 }\n", &d));
    /* errors keep the library's message and the configuration's file:line:col */
    CHECK_ERR(parse_extra("routes:\n  a: /x/\n", &d), WD_ECONFIG);
    CHECK(strncmp(d.msg, "proxy.yaml:14:3: route 'a'", 26) == 0);
    CHECK_ERR(parse_extra("routes:\n  a: /x/{id}\n  b: /x/{other}\n", &d), WD_ECONFIG);
    CHECK(strncmp(d.msg, "proxy.yaml:15:3:", 16) == 0);
    CHECK_ERR(parse_extra("routes: [/x]\n", &d), WD_ECONFIG);
    CHECK(strncmp(d.msg, "proxy.yaml:13:", 14) == 0);
    CHECK_ERR(parse_extra("detectors:\n  x: { regex: \"a(\" }\n", &d), WD_ECONFIG);
    CHECK(strncmp(d.msg, "proxy.yaml:14:", 14) == 0);
    CHECK(strstr(d.msg, "regex") != NULL);
    CHECK_ERR(parse_extra("detectors:\n  x: { size_over: 5, bogus: 1 }\n", &d), WD_ECONFIG);
    CHECK(strncmp(d.msg, "proxy.yaml:14:", 14) == 0);
    CHECK_ERR(parse_extra("detectors:\n  x: { size_over: 5 }\nscan:\n  oversize: drop\n", &d),
              WD_ECONFIG);
    CHECK(strncmp(d.msg, "proxy.yaml:16:", 14) == 0);
    CHECK_ERR(parse_extra("scan:\n  max_bytes: 10\n", &d), WD_ECONFIG);
    CHECK(strncmp(d.msg, "proxy.yaml:14:3: scan: only with a detectors section", 52) == 0);
}

TEST(found_alloc_sweep)
{
    struct prx_config *cfg = NULL;
    struct wd_diag d;
    CHECK_ALLOC_SWEEP(prx_config_parse("proxy.yaml", found_cfg, sizeof(found_cfg) - 1, &cfg, &d),
                      (prx_config_free(cfg), cfg = NULL));
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
    RUN(routes_and_params);
    RUN(request_detections);
    RUN(response_detections);
    RUN(mqtt_detections);
    RUN(config_sections);
    RUN(found_alloc_sweep);
    return HARNESS_END("proxy_policy");
}
