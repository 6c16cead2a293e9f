/*
 * Trust bundles: the go-spiffe spiffebundle vectors, PEM and SPIFFE JSON round trips (P-256,
 * P-384 and RSA authorities), every JSON rule, trust-domain inference, allocation failures.
 */
#include "warden/alloc.h"
#include "warden/bundle.h"
#include "warden/clock.h"
#include "warden/pki.h"
#include "warden/svid.h"

#include "harness.h"
#include "pki_testutil.h"

#define SB SPIFFE_DATA "/spiffebundle/"

static bool has(const char *msg, const char *needle)
{
    if (strstr(msg, needle) == NULL) {
        printf("  message \"%s\" lacks \"%s\"\n", msg, needle);
        return false;
    }
    return true;
}

static struct wd_spiffe_td td_of(const char *name)
{
    struct wd_spiffe_td td;
    if (wd_spiffe_td_parse(name, strlen(name), &td, NULL, NULL) < 0) {
        memset(&td, 0, sizeof(td));
    }
    return td;
}

TEST(go_spiffe_bundle_vectors)
{
    struct {
        const char *file;
        int rc;
        uint64_t seq; /* 0: none */
        int64_t hint; /* -1: none */
        const char *msg;
    } cases[] = {
            {SB "spiffebundle_valid_1.json", WD_OK, 0, -1, NULL},
            {SB "spiffebundle_valid_2.json", WD_OK, 1, 60, NULL},
            {SB "spiffebundle_valid_with_wit.json", WD_OK, 1, 60, NULL},
            {SB "spiffebundle_missing_kid.json", WD_ECONFIG, 0, -1,
             "spiffebundle_missing_kid.json:13:9: jwt-svid key 1: 'kid' is missing or empty"},
            {SB "spiffebundle_no_keys.json", WD_ECONFIG, 0, -1,
             "spiffebundle_no_keys.json:1:1: missing key 'keys'"},
            {SB "spiffebundle_multiple_x509.json", WD_ECONFIG, 0, -1,
             "expected exactly one certificate in 'x5c', got 2"},
            {SB "does-not-exist.json", WD_ENOENT, 0, -1, "does-not-exist.json"},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        struct wd_bundle *b = NULL;
        struct wd_diag d;
        int rc = wd_bundle_load(cases[i].file, NULL, &b, &d);
        if (rc != cases[i].rc) {
            printf("%s: rc %d (%s)\n", cases[i].file, rc, d.msg);
        }
        CHECK_ERR(rc, cases[i].rc);
        if (rc < 0) {
            CHECK(b == NULL);
            CHECK(has(d.msg, cases[i].msg));
            continue;
        }
        /* One x509-svid authority (the P-384 root of spiffe://local); JWT keys ignored. */
        CHECK_EQ(wd_bundle_count(b), 1);
        CHECK(wd_bundle_trust_domain(b) != NULL);
        CHECK_STR(wd_bundle_trust_domain(b)->name, "local");
        uint64_t seq = 0;
        int64_t hint = 0;
        CHECK_EQ(wd_bundle_sequence(b, &seq), cases[i].seq != 0);
        CHECK_EQ(seq, cases[i].seq);
        CHECK_EQ(wd_bundle_refresh_hint(b, &hint), cases[i].hint >= 0);
        if (cases[i].hint >= 0) {
            CHECK_EQ(hint, cases[i].hint);
        }
        wd_bundle_free(b);
    }
    /* A trust domain given by the caller wins over the authorities' URI SANs. */
    struct wd_spiffe_td td = td_of("example.org");
    struct wd_bundle *b = NULL;
    CHECK_OK(wd_bundle_load(SB "spiffebundle_valid_1.json", &td, &b, NULL));
    CHECK_STR(wd_bundle_trust_domain(b)->name, "example.org");
    wd_bundle_free(b);
}

static int json_roundtrip(struct wd_bundle *b, struct wd_bundle **back)
{
    struct wd_buf out;
    wd_buf_init(&out, 1 << 20);
    int rc = wd_bundle_to_json(b, &out);
    if (rc == WD_OK) {
        rc = wd_bundle_parse("rt.json", out.p, out.len, NULL, back, NULL);
    }
    wd_buf_cleanup(&out);
    return rc;
}

TEST(json_and_pem_round_trips)
{
    wd_clock_pin(1700000000);
    struct wd_spiffe_td td = td_of("example.org");
    struct wd_ca *ca = NULL;
    struct wd_bundle *b = NULL, *back = NULL;
    struct wd_diag d;
    CHECK_OK(wd_ca_create(&td, 86400, 3600, &ca, &d));
    CHECK_OK(wd_ca_bundle(ca, &b));
    wd_bundle_set_sequence(b, 42);
    wd_bundle_set_refresh_hint(b, 300);
    /* Adding the same authority twice keeps one. */
    CHECK_OK(wd_bundle_add(b, wd_ca_root(ca)));
    CHECK_EQ(wd_bundle_count(b), 1);
    struct wd_buf out;
    wd_buf_init(&out, 1 << 20);
    CHECK_OK(wd_bundle_to_json(b, &out));
    const char *s = wd_buf_str(&out);
    CHECK(has(s, "\"use\": \"x509-svid\""));
    CHECK(has(s, "\"kty\": \"EC\""));
    CHECK(has(s, "\"crv\": \"P-256\""));
    CHECK(has(s, "\"spiffe_sequence\": 42"));
    CHECK(has(s, "\"spiffe_refresh_hint\": 300"));
    CHECK(strstr(s, "\"kid\"") == NULL);
    CHECK_OK(wd_bundle_parse("rt.json", out.p, out.len, NULL, &back, &d));
    CHECK_EQ(wd_bundle_count(back), 1);
    CHECK(X509_cmp(wd_bundle_cert(back, 0), wd_ca_root(ca)) == 0);
    CHECK_STR(wd_bundle_trust_domain(back)->name, "example.org");
    uint64_t seq = 0;
    int64_t hint = 0;
    CHECK(wd_bundle_sequence(back, &seq) && seq == 42);
    CHECK(wd_bundle_refresh_hint(back, &hint) && hint == 300);
    wd_bundle_free(back);
    back = NULL;
    /* PEM. */
    wd_buf_reset(&out);
    CHECK_OK(wd_bundle_to_pem(b, &out));
    CHECK_OK(wd_bundle_parse("b.pem", out.p, out.len, NULL, &back, &d));
    CHECK_EQ(wd_bundle_count(back), 1);
    CHECK_STR(wd_bundle_trust_domain(back)->name, "example.org");
    CHECK(!wd_bundle_sequence(back, &seq));
    wd_bundle_free(back);
    back = NULL;
    /* A P-384 authority (the go-spiffe root) and an RSA one (a go-spiffe leaf) round-trip
     * with their own JWK parameters. */
    struct wd_bundle *mixed = NULL;
    CHECK_OK(wd_bundle_load(SB "spiffebundle_valid_1.json", &td, &mixed, &d));
    STACK_OF(X509) *rsa = NULL;
    CHECK_OK(wd_certs_load(SPIFFE_DATA "/x509svid/good-leaf-only.pem", &rsa, &d));
    CHECK_OK(wd_bundle_add(mixed, sk_X509_value(rsa, 0)));
    CHECK_OK(wd_bundle_add(mixed, wd_ca_root(ca)));
    wd_buf_reset(&out);
    CHECK_OK(wd_bundle_to_json(mixed, &out));
    CHECK(has(wd_buf_str(&out), "\"crv\": \"P-384\""));
    CHECK(has(wd_buf_str(&out), "\"kty\": \"RSA\""));
    CHECK(has(wd_buf_str(&out), "\"e\": \"AQAB\""));
    CHECK_OK(wd_bundle_parse("mixed.json", out.p, out.len, &td, &back, &d));
    CHECK_EQ(wd_bundle_count(back), 3);
    for (size_t i = 0; i < 3; i++) {
        CHECK(X509_cmp(wd_bundle_cert(back, i), wd_bundle_cert(mixed, i)) == 0);
    }
    wd_bundle_free(back);
    back = NULL;
    /* Without a given trust domain, the authorities disagree (local vs example.org). */
    CHECK_ERR(wd_bundle_parse("mixed.json", out.p, out.len, NULL, &back, &d), WD_EPROTO);
    CHECK_STR(d.msg, "mixed.json: authorities name different trust domains (local and "
                     "example.org)");
    /* Allocation failures. */
    CHECK_ALLOC_SWEEP(wd_bundle_to_json(mixed, &out), wd_buf_reset(&out));
    CHECK_ALLOC_SWEEP(wd_bundle_to_pem(mixed, &out), wd_buf_reset(&out));
    CHECK_ALLOC_SWEEP(json_roundtrip(b, &back), (wd_bundle_free(back), back = NULL));
    CHECK_ALLOC_SWEEP(wd_bundle_load(SB "spiffebundle_valid_2.json", NULL, &back, NULL),
                      (wd_bundle_free(back), back = NULL));
    CHECK_ALLOC_SWEEP(wd_bundle_new(&td, &back), (wd_bundle_free(back), back = NULL));
    CHECK_ALLOC_SWEEP(wd_ca_bundle(ca, &back), (wd_bundle_free(back), back = NULL));
    wd_buf_reset(&out);
    CHECK_OK(wd_bundle_to_pem(mixed, &out));
    CHECK_ALLOC_SWEEP(wd_bundle_parse("p", out.p, out.len, &td, &back, NULL),
                      (wd_bundle_free(back), back = NULL));
    wd_certs_free(rsa);
    wd_bundle_free(mixed);
    wd_buf_cleanup(&out);
    wd_bundle_free(b);
    wd_ca_free(ca);
    wd_clock_unpin();
}

/* A bundle JSON with one x509-svid key built from the go-spiffe root, with edits. */
static const char *root_x5c(void)
{
    return "MIIBzDCCAVOgAwIBAgIJAJM4DhRH0vmuMAoGCCqGSM49BAMEMB4xCzAJBgNVBAYTAlVTMQ8wDQYDVQQKDAZ"
           "TUElGRkUwHhcNMTgwNTEzMTkzMzQ3WhcNMjMwNTEyMTkzMzQ3WjAeMQswCQYDVQQGEwJVUzEPMA0GA1UECgw"
           "GU1BJRkZFMHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEWjB+nSGSxIYiznb84xu5WGDZj80nL7W1c3zf48Why0"
           "ma7Y7mCBKzfQkrgDguI4j0Z+0/tDH/r8gtOtLLrIpuMwWHoe4vbVBFte1vj6Xt6WeE8lXwcCvLs/mcmvPq"
           "VK9jo10wWzAdBgNVHQ4EFgQUh6XzV6LwNazA+GTEVOdu07o5yOgwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8"
           "BAf8EBAMCAQYwGQYDVR0RBBIwEIYOc3BpZmZlOi8vbG9jYWwwCgYIKoZIzj0EAwQDZwAwZAIwE4Me13qMC9"
           "i6Fkx0h26y09QZIbuRqA9puLg9AeeAAyo5tBzRl1YL0KNEp02VKSYJAjBdeJvqjJ9wW55OGj1JQwDFD7kWe"
           "EB6oMlwPbI/5hEY3azJi16I0uN1JSYTSWGSqWc=";
}

#define X_OK_ "WjB-nSGSxIYiznb84xu5WGDZj80nL7W1c3zf48Why0ma7Y7mCBKzfQkrgDguI4j0"
#define Y_OK_ "Z-0_tDH_r8gtOtLLrIpuMwWHoe4vbVBFte1vj6Xt6WeE8lXwcCvLs_mcmvPqVK9j"

static int parse_key_json(const char *key_members, const char *extra, struct wd_diag *d)
{
    struct wd_buf j;
    wd_buf_init(&j, 1 << 16);
    int rc = wd_buf_printf(&j, "{\"keys\":[{%s}]%s}", key_members, extra);
    if (rc == WD_OK) {
        struct wd_bundle *b = NULL;
        rc = wd_bundle_parse("b.json", j.p, j.len, NULL, &b, d);
        wd_bundle_free(b);
    }
    wd_buf_cleanup(&j);
    return rc;
}

TEST(json_rules)
{
    char good[2048];
    (void)snprintf(good, sizeof(good),
                   "\"use\":\"x509-svid\",\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" X_OK_
                   "\",\"y\":\"" Y_OK_ "\",\"x5c\":[\"%s\"]",
                   root_x5c());
    struct wd_diag d;
    CHECK_OK(parse_key_json(good, "", &d));
    CHECK_OK(parse_key_json(good, ",\"spiffe_sequence\":0,\"spiffe_refresh_hint\":0,\"other\":1",
                            &d));
    struct {
        const char *members; /* %s: the x5c value */
        const char *extra;
        const char *msg;
    } cases[] = {
            {"\"kty\":\"EC\",\"x5c\":[\"%s\"]", "", "key 0: 'use' is missing"},
            {"\"use\":1,\"kty\":\"EC\"", "", "key 0: 'use' is missing or not a string"},
            {"\"use\":\"x509-svid\",\"x5c\":[\"%s\"]", "", "key 0: 'kty' is missing"},
            {"\"use\":\"x509-svid\",\"kty\":\"EC\",\"kid\":\"k\",\"x5c\":[\"%s\"]", "",
             "must not have a 'kid'"},
            {"\"use\":\"x509-svid\",\"kty\":\"EC\"", "", "'x5c' must be an array"},
            {"\"use\":\"x509-svid\",\"kty\":\"EC\",\"x5c\":\"%s\"", "", "'x5c' must be an array"},
            {"\"use\":\"x509-svid\",\"kty\":\"EC\",\"x5c\":[]", "",
             "expected exactly one certificate in 'x5c', got 0"},
            {"\"use\":\"x509-svid\",\"kty\":\"EC\",\"x5c\":[1]", "", "x5c entry must be a string"},
            {"\"use\":\"x509-svid\",\"kty\":\"EC\",\"x5c\":[\"@@@@\"]", "",
             "x5c entry is not valid base64"},
            {"\"use\":\"x509-svid\",\"kty\":\"EC\",\"x5c\":[\"AAAA\"]", "",
             "x5c entry is not a DER certificate"},
            {"\"use\":\"x509-svid\",\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" X_OK_
             "\",\"y\":\"" Y_OK_ "\",\"x5c\":[\"%s\"]",
             "", "'crv' is missing or does not match the x5c certificate (P-384)"},
            {"\"use\":\"x509-svid\",\"kty\":\"EC\",\"crv\":\"P-384\",\"y\":\"" Y_OK_
             "\",\"x5c\":[\"%s\"]",
             "", "'x': missing or not a string"},
            {"\"use\":\"x509-svid\",\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" Y_OK_
             "\",\"y\":\"" Y_OK_ "\",\"x5c\":[\"%s\"]",
             "", "'x' does not match the public key of the certificate in x5c"},
            {"\"use\":\"x509-svid\",\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" X_OK_
             "\",\"y\":\"!!\",\"x5c\":[\"%s\"]",
             "", "'y': not base64url"},
            {"\"use\":\"x509-svid\",\"kty\":\"RSA\",\"x5c\":[\"%s\"]", "",
             "kty is RSA but the x5c certificate's key is not"},
            {"\"use\":\"x509-svid\",\"kty\":\"OKP\",\"x5c\":[\"%s\"]", "",
             "this kty is not supported"},
            {"\"use\":\"jwt-svid\",\"kty\":\"EC\"", "", "jwt-svid key 0: 'kid' is missing"},
            {"\"use\":\"jwt-svid\",\"kty\":\"EC\",\"kid\":\"\"", "",
             "jwt-svid key 0: 'kid' is missing or empty"},
            {"\"use\":\"jwt-svid\",\"kty\":\"EC\",\"kid\":\"k1\"", "",
             "no x509-svid authorities in the bundle"},
            {"\"use\":\"wit-svid\",\"kty\":\"EC\",\"kid\":\"k1\"", "",
             "no x509-svid authorities in the bundle"},
            {"%s", ",\"spiffe_sequence\":-1", "'spiffe_sequence' must be an integer >= 0"},
            {"%s", ",\"spiffe_sequence\":\"1\"", "'spiffe_sequence' must be an integer >= 0"},
            {"%s", ",\"spiffe_refresh_hint\":1.5", "'spiffe_refresh_hint' must be an integer"},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        /* Put the certificate (or, for a bare "%s", all of good) where "%s" stands. */
        char members[4096];
        const char *hole = strstr(cases[i].members, "%s");
        const char *fill = strcmp(cases[i].members, "%s") == 0 ? good : root_x5c();
        if (hole == NULL) {
            (void)snprintf(members, sizeof(members), "%s", cases[i].members);
        } else {
            (void)snprintf(members, sizeof(members), "%.*s%s%s", (int)(hole - cases[i].members),
                           cases[i].members, fill, hole + 2);
        }
        int rc = parse_key_json(members, cases[i].extra, &d);
        if (rc >= 0 || strstr(d.msg, cases[i].msg) == NULL) {
            printf("case %zu: rc %d: %s\n", i, rc, rc < 0 ? d.msg : "");
        }
        CHECK(rc < 0);
        CHECK(has(d.msg, cases[i].msg));
        CHECK(strncmp(d.msg, "b.json:1:", 9) == 0);
    }
    /* Whole-document problems. */
    struct {
        const char *json;
        const char *msg;
    } docs[] = {
            {"[]", "a SPIFFE bundle is a JSON object"},
            {"{\"keys\":{}}", "'keys': expected array, got object"},
            {"{\"keys\":[1]}", "key 0: expected object, got integer"},
            {"{\"keys\":[]}", "no x509-svid authorities in the bundle"},
            {"{\"keys\":[]} x", "b.json:1:"},
            {"{\"keys\":[],\"keys\":[]}", "b.json:1:"},
            {"", "not a certificate (neither PEM nor DER)"},
            {"garbage", "not a certificate"},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(docs); i++) {
        struct wd_bundle *b = NULL;
        int rc = wd_bundle_parse("b.json", docs[i].json, strlen(docs[i].json), NULL, &b, &d);
        CHECK(rc < 0);
        CHECK(b == NULL);
        CHECK(has(d.msg, docs[i].msg));
    }
}

TEST(pem_bundle_from_ca_dir_files)
{
    /* Two roots of two trust domains in one PEM file: usable with a given trust domain,
     * refused without one. */
    wd_clock_pin(1700000000);
    struct wd_spiffe_td a = td_of("a.test"), b = td_of("b.test");
    struct wd_ca *ca = NULL, *cb = NULL;
    CHECK_OK(wd_ca_create(&a, 86400, 3600, &ca, NULL));
    CHECK_OK(wd_ca_create(&b, 86400, 3600, &cb, NULL));
    struct wd_buf pem;
    wd_buf_init(&pem, 1 << 20);
    CHECK_OK(wd_cert_to_pem(wd_ca_root(ca), &pem));
    CHECK_OK(wd_cert_to_pem(wd_ca_root(cb), &pem));
    struct wd_bundle *bundle = NULL;
    struct wd_diag d;
    CHECK_ERR(wd_bundle_parse("two.pem", pem.p, pem.len, NULL, &bundle, &d), WD_EPROTO);
    CHECK_STR(d.msg, "two.pem: authorities name different trust domains (a.test and b.test)");
    CHECK_OK(wd_bundle_parse("two.pem", pem.p, pem.len, &a, &bundle, &d));
    CHECK_EQ(wd_bundle_count(bundle), 2);
    CHECK(wd_bundle_store(bundle) != NULL);
    wd_bundle_free(bundle);
    bundle = NULL;
    /* Leading blank lines before JSON are still detected as JSON. */
    static const char ws[] = "\n\n  {\"keys\":[]}";
    CHECK_ERR(wd_bundle_parse("ws.json", ws, sizeof(ws) - 1, NULL, &bundle, &d), WD_ECONFIG);
    CHECK(has(d.msg, "no x509-svid authorities"));
    wd_buf_cleanup(&pem);
    wd_ca_free(ca);
    wd_ca_free(cb);
    wd_clock_unpin();
}

int main(void)
{
    RUN(go_spiffe_bundle_vectors);
    RUN(json_and_pem_round_trips);
    RUN(json_rules);
    RUN(pem_bundle_from_ca_dir_files);
    return HARNESS_END("bundle");
}
