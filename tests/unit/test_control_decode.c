/*
 * Unit tests of warden-control's REST body decoders (src/control/api_decode.c) on their own:
 * every decoder's good body, each refusal, truncation at every byte, and allocation failures.
 */
#include <string.h>

#include "../../src/control/api_decode.h"
#include "harness.h"

typedef int (*decoder)(const uint8_t *, size_t, struct srv_body *, struct wd_diag *);

static int dec(decoder f, const char *text, struct srv_body *b, struct wd_diag *d)
{
    srv_body_init(b);
    memset(d, 0, sizeof(*d));
    return f((const uint8_t *)text, strlen(text), b, d);
}

static const char entry_ok[] =
        "{\"spiffe_id\":\"spiffe://example.org/web\",\"node\":\"n1\",\"selectors\":{\"uid\":1000,"
        "\"gid\":0,\"path\":\"/usr/bin/web\",\"sha256\":"
        "\"00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\"},\"ttl\":\"90m\"}";
static const char finish_ok[] =
        "{\"session\":\"0123456789abcdef0123456789abcdef\",\"secret\":\"AAECAw==\",\"quote\":"
        "{\"attest\":\"AQ==\",\"signature\":\"Ag==\",\"pcr_values\":\"Aw==\"},\"csr\":\"x\"}";
static const char svids_ok[] =
        "{\"requests\":[{\"entry_id\":\"0123456789abcdef0123456789abcdef\",\"csr\":\"a\"},"
        "{\"entry_id\":\"fedcba9876543210fedcba9876543210\",\"csr\":\"bb\"}]}";

TEST(good_bodies)
{
    struct srv_body b;
    struct wd_diag d;
    CHECK_OK(dec(srv_decode_entry, entry_ok, &b, &d));
    CHECK_STR(b.spiffe_id.str, "spiffe://example.org/web");
    CHECK_STR(b.node, "n1");
    CHECK(b.sel.has_uid && b.sel.uid == 1000);
    CHECK(b.sel.has_gid && b.sel.gid == 0);
    CHECK_STR(b.sel.path, "/usr/bin/web");
    CHECK(b.sel.has_sha256 && b.sel.sha256[5] == 0x55 && b.sel.sha256[31] == 0xff);
    CHECK(b.has_ttl && b.ttl == 5400);
    srv_body_cleanup(&b);
    CHECK_OK(dec(srv_decode_tpm_finish, finish_ok, &b, &d));
    CHECK_EQ(b.secret.len, 4);
    CHECK(b.has_quote && b.attest.len == 1 && b.sig.p[0] == 2 && b.pcr_values.p[0] == 3);
    srv_body_cleanup(&b);
    CHECK_OK(dec(srv_decode_svids, svids_ok, &b, &d));
    CHECK_EQ(b.n_reqs, 2);
    CHECK_EQ(b.reqs[1].csr_len, 2);
    srv_body_cleanup(&b);
    CHECK_OK(dec(srv_decode_challenge, "", &b, &d));
    srv_body_cleanup(&b);
    CHECK_OK(dec(srv_decode_heartbeat, "{\"session\":\"0123456789abcdef0123456789abcdef\"}", &b,
                 &d));
    CHECK(!b.has_quote);
    srv_body_cleanup(&b);
    CHECK_OK(dec(srv_decode_token, "{}", &b, &d));
    CHECK(b.node == NULL && !b.has_ttl);
    srv_body_cleanup(&b);
    CHECK_OK(dec(
            srv_decode_tpm_begin,
            "{\"node\":\"n\",\"ek_public\":\"AAE=\",\"ek_cert\":\"AAI=\",\"ak_public\":\"AAM=\"}",
            &b, &d));
    CHECK(b.has_ek_cert && b.ek_cert.p[1] == 2 && b.ak_public.p[1] == 3);
    srv_body_cleanup(&b);
    CHECK(srv_id_valid("0123456789abcdef0123456789abcdef", 32));
    CHECK(!srv_id_valid("0123456789ABCDEF0123456789abcdef", 32));
    CHECK(!srv_id_valid("0123", 4));
}

TEST(refusals)
{
    static const struct {
        decoder f;
        const char *body, *needle;
    } bad[] = {
            {srv_decode_challenge, "{\"x\":1}", "<request>:1:2: unknown key 'x'"},
            {srv_decode_challenge, "null", "expected object"},
            {srv_decode_heartbeat, "{\"session\":\"0123\"}", "'session'"},
            {srv_decode_heartbeat,
             "{\"session\":\"0123456789abcdef0123456789abcdef\",\"quote\":{\"attest\":\"AQ==\"}}",
             "missing key 'signature'"},
            {srv_decode_renew, "{\"csr\":\"\"}", "'csr'"},
            {srv_decode_renew, "{\"csr\":\"a\\u0000b\"}", "'csr'"},
            {srv_decode_svids, "{\"requests\":[]}", "1..1000"},
            {srv_decode_svids, "{\"requests\":[{\"entry_id\":\"x\",\"csr\":\"a\"}]}", "'entry_id'"},
            {srv_decode_svids, "{\"requests\":[{\"csr\":\"a\"}]}", "missing key 'entry_id'"},
            {srv_decode_join, "{\"node\":\"\",\"token\":\"t\",\"csr\":\"c\"}", "'node'"},
            {srv_decode_join, "{\"node\":\"n\",\"token\":\"\",\"csr\":\"c\"}", "'token'"},
            {srv_decode_tpm_begin, "{\"node\":\"n\",\"ek_public\":\"\",\"ak_public\":\"AA==\"}",
             "'ek_public'"},
            {srv_decode_tpm_begin, "{\"node\":\"n\",\"ek_public\":\"AA\",\"ak_public\":\"AA==\"}",
             "'ek_public'"},
            {srv_decode_tpm_finish,
             "{\"session\":\"0123456789abcdef0123456789abcdef\",\"secret\":\"AA==\",\"quote\":[],"
             "\"csr\":\"x\"}",
             "'quote': expected object"},
            {srv_decode_token, "{\"ttl\":\"1500ms\"}", "'ttl'"},
            {srv_decode_token, "{\"ttl\":\"0s\"}", "'ttl'"},
            {srv_decode_revoke, "{\"reason\":1}", "expected string"},
            {srv_decode_entry,
             "{\"spiffe_id\":\"spiffe://Example.org/"
             "web\",\"node\":\"n\",\"selectors\":{\"uid\":1}}",
             "'spiffe_id'"},
            {srv_decode_entry,
             "{\"spiffe_id\":\"spiffe://example.org/web\",\"node\":\"n\",\"selectors\":{\"gid\":"
             "4294967296}}",
             "'gid'"},
            {srv_decode_entry,
             "{\"spiffe_id\":\"spiffe://example.org/web\",\"node\":\"n\",\"selectors\":{\"uid\":1},"
             "\"ttl\":\"11000d\"}",
             "'ttl'"},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(bad); i++) {
        struct srv_body b;
        struct wd_diag d;
        int rc = dec(bad[i].f, bad[i].body, &b, &d);
        if (rc == WD_OK || strstr(d.msg, bad[i].needle) == NULL) {
            printf("case %zu: rc %d: %s\n", i, rc, d.msg);
        }
        CHECK(rc != WD_OK);
        CHECK(strstr(d.msg, bad[i].needle) != NULL);
        srv_body_cleanup(&b);
    }
}

/* Every proper prefix of a good body is refused, without a leak. */
TEST(truncation)
{
    static const struct {
        decoder f;
        const char *body;
    } good[] = {{srv_decode_entry, entry_ok},
                {srv_decode_tpm_finish, finish_ok},
                {srv_decode_svids, svids_ok}};
    for (size_t g = 0; g < WD_ARRAY_LEN(good); g++) {
        size_t n = strlen(good[g].body);
        for (size_t k = 1; k < n; k++) {
            struct srv_body b;
            struct wd_diag d;
            srv_body_init(&b);
            CHECK(good[g].f((const uint8_t *)good[g].body, k, &b, &d) != WD_OK);
            srv_body_cleanup(&b);
        }
    }
}

TEST(alloc_sweep)
{
    struct srv_body b;
    struct wd_diag d;
    srv_body_init(&b);
    CHECK_ALLOC_SWEEP(srv_decode_entry((const uint8_t *)entry_ok, strlen(entry_ok), &b, &d),
                      srv_body_cleanup(&b));
    CHECK_ALLOC_SWEEP(srv_decode_tpm_finish((const uint8_t *)finish_ok, strlen(finish_ok), &b, &d),
                      srv_body_cleanup(&b));
    CHECK_ALLOC_SWEEP(srv_decode_svids((const uint8_t *)svids_ok, strlen(svids_ok), &b, &d),
                      srv_body_cleanup(&b));
}

int main(void)
{
    RUN(good_bodies);
    RUN(refusals);
    RUN(truncation);
    RUN(alloc_sweep);
    return HARNESS_END("control_decode");
}
