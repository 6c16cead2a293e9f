/* Unit tests for the agent's decoding of control-plane answers (src/agent/cpjson.c). */
#include <string.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/err.h"

#include "../../src/agent/cpjson.h"
#include "harness.h"

#define PEM "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n"

static const char identity_ok[] =
        "{\"node\":\"node-a\",\"spiffe_id\":\"spiffe://example.org/warden/node/node-a\","
        "\"svid_pem\":\"" PEM "\",\"bundle_pem\":\"" PEM "\","
        "\"expires_at\":\"2026-11-26T18:00:00Z\",\"heartbeat\":\"60s\",\"future\":[1,2]}";

TEST(identity)
{
    struct agt_identity_resp r;
    CHECK_OK(agt_decode_identity(identity_ok, strlen(identity_ok), &r));
    CHECK_STR(r.id.str, "spiffe://example.org/warden/node/node-a");
    CHECK(strncmp(r.svid_pem, "-----BEGIN CERTIFICATE-----\nMIIB\n", 33) == 0);
    CHECK_EQ(r.expires_at, 1795716000);
    CHECK_EQ(r.heartbeat_ms, 60000);
    agt_identity_resp_cleanup(&r);

    const char *bad[] = {
            "",
            "[]",
            "{}",
            /* wrong types */
            "{\"spiffe_id\":1,\"svid_pem\":\"" PEM "\",\"bundle_pem\":\"" PEM
            "\",\"expires_at\":\"2026-11-26T18:00:00Z\"}",
            "{\"spiffe_id\":\"spiffe://a/b\",\"svid_pem\":\"" PEM "\",\"bundle_pem\":\"" PEM
            "\",\"expires_at\":\"2026-11-26T18:00:00Z\",\"node\":5}",
            /* not a SPIFFE ID / not PEM / bad time / bad duration */
            "{\"spiffe_id\":\"https://a/b\",\"svid_pem\":\"" PEM "\",\"bundle_pem\":\"" PEM
            "\",\"expires_at\":\"2026-11-26T18:00:00Z\"}",
            "{\"spiffe_id\":\"spiffe://a/b\",\"svid_pem\":\"MIIB\",\"bundle_pem\":\"" PEM
            "\",\"expires_at\":\"2026-11-26T18:00:00Z\"}",
            "{\"spiffe_id\":\"spiffe://a/b\",\"svid_pem\":\"" PEM "\",\"bundle_pem\":\"" PEM
            "\",\"expires_at\":\"tomorrow\"}",
            "{\"spiffe_id\":\"spiffe://a/b\",\"svid_pem\":\"" PEM "\",\"bundle_pem\":\"" PEM
            "\",\"expires_at\":\"2026-11-26T18:00:00Z\",\"heartbeat\":\"0s\"}",
            /* a NUL byte inside a PEM string */
            "{\"spiffe_id\":\"spiffe://a/b\",\"svid_pem\":\"-----BEGIN \\u0000\",\"bundle_pem\":"
            "\"" PEM "\",\"expires_at\":\"2026-11-26T18:00:00Z\"}",
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(bad); i++) {
        int rc = agt_decode_identity(bad[i], strlen(bad[i]), &r);
        if (rc != WD_EPROTO) {
            printf("bad identity %zu accepted (%d)\n", i, rc);
        }
        CHECK_ERR(rc, WD_EPROTO);
        CHECK(r.svid_pem == NULL && r.bundle_pem == NULL);
    }
    CHECK_ALLOC_SWEEP(agt_decode_identity(identity_ok, strlen(identity_ok), &r),
                      agt_identity_resp_cleanup(&r));
}

TEST(begin)
{
    const char *ok =
            "{\"session\":\"0123456789abcdef0123456789abcdef\",\"credential_blob\":"
            "\"AAQBAgME\",\"encrypted_secret\":\"AAIBAg==\",\"nonce\":\"AAECAwQFBgc=\","
            "\"pcr_selection\":\"sha256:0,1,2,3,7\",\"deadline\":\"2026-11-25T18:01:00Z\"}";
    struct agt_begin_resp r;
    CHECK_OK(agt_decode_begin(ok, strlen(ok), &r));
    CHECK_STR(r.session, "0123456789abcdef0123456789abcdef");
    CHECK_EQ(r.credential_blob.len, 6);
    CHECK_EQ(r.encrypted_secret.len, 4);
    CHECK_EQ(r.nonce.len, 8);
    CHECK_EQ(r.nonce.p[7], 7);
    CHECK_STR(r.pcr_selection, "sha256:0,1,2,3,7");
    CHECK_EQ(r.deadline, 1795629660);
    agt_begin_resp_cleanup(&r);

    const char *bad[] = {
            "{\"session\":\"s\",\"credential_blob\":\"AA==\",\"encrypted_secret\":\"AA==\","
            "\"nonce\":\"AA=\",\"pcr_selection\":\"sha256:0\"}", /* bad base64 */
            "{\"session\":\"s s\",\"credential_blob\":\"AA==\",\"encrypted_secret\":\"AA==\","
            "\"nonce\":\"AA==\",\"pcr_selection\":\"sha256:0\"}", /* bad session */
            "{\"session\":\"s\",\"credential_blob\":\"\",\"encrypted_secret\":\"AA==\","
            "\"nonce\":\"AA==\",\"pcr_selection\":\"sha256:0\"}", /* empty blob */
            "{\"session\":\"s\",\"credential_blob\":\"AA==\",\"encrypted_secret\":\"AA==\","
            "\"nonce\":\"AA==\"}", /* no selection */
            "{\"session\":\"s\",\"credential_blob\":\"AA==\",\"encrypted_secret\":\"AA==\","
            "\"nonce\":\"AA==\",\"pcr_selection\":\"sha256:0\\n\"}", /* control char */
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(bad); i++) {
        CHECK_ERR(agt_decode_begin(bad[i], strlen(bad[i]), &r), WD_EPROTO);
    }
    CHECK_ALLOC_SWEEP(agt_decode_begin(ok, strlen(ok), &r), agt_begin_resp_cleanup(&r));
}

TEST(challenge_and_heartbeat)
{
    struct agt_challenge_resp c;
    const char *tpm = "{\"session\":\"abc\",\"nonce\":\"AAECAw==\",\"pcr_selection\":\"sha256:7\","
                      "\"deadline\":\"2026-11-25T18:01:00Z\"}";
    CHECK_OK(agt_decode_challenge(tpm, strlen(tpm), &c));
    CHECK(c.has_nonce);
    CHECK_EQ(c.nonce.len, 4);
    CHECK_STR(c.pcr_selection, "sha256:7");
    agt_challenge_resp_cleanup(&c);
    const char *jt = "{\"session\":\"abc\",\"deadline\":\"2026-11-25T18:01:00Z\"}";
    CHECK_OK(agt_decode_challenge(jt, strlen(jt), &c));
    CHECK(!c.has_nonce);
    CHECK_STR(c.pcr_selection, "");
    agt_challenge_resp_cleanup(&c);
    /* A nonce without a selection cannot be quoted. */
    const char *bad = "{\"session\":\"abc\",\"nonce\":\"AAECAw==\"}";
    CHECK_ERR(agt_decode_challenge(bad, strlen(bad), &c), WD_EPROTO);

    struct agt_heartbeat_resp h;
    const char *hb = "{\"trusted\":true,\"heartbeat\":\"90s\"}";
    CHECK_OK(agt_decode_heartbeat(hb, strlen(hb), &h));
    CHECK(h.trusted);
    CHECK_EQ(h.heartbeat_ms, 90000);
    CHECK_ERR(agt_decode_heartbeat("{\"trusted\":1}", 13, &h), WD_EPROTO);
    CHECK_ERR(agt_decode_heartbeat("{}", 2, &h), WD_EPROTO);
}

static const char entries_ok[] =
        "{\"entries\":[{\"id\":\"0123456789abcdef0123456789abcdef\",\"spiffe_id\":"
        "\"spiffe://example.org/web\",\"node\":\"node-a\",\"selectors\":{\"uid\":1000,\"path\":"
        "\"/usr/bin/web\"},\"ttl\":\"1h\",\"created_at\":\"2026-11-25T18:00:00Z\"},"
        "{\"id\":\"fedcba9876543210fedcba9876543210\",\"spiffe_id\":\"spiffe://example.org/db\","
        "\"selectors\":{\"gid\":5}}]}";

TEST(entries)
{
    struct agt_entries e;
    CHECK_OK(agt_decode_entries(entries_ok, strlen(entries_ok), &e));
    CHECK_EQ(e.n, 2);
    CHECK_STR(e.v[0].id, "0123456789abcdef0123456789abcdef");
    CHECK_STR(e.v[0].spiffe_id.str, "spiffe://example.org/web");
    CHECK(e.v[0].sel.has_uid && e.v[0].sel.uid == 1000);
    CHECK(e.v[0].sel.has_path && !e.v[0].sel.has_gid);
    CHECK_EQ(e.v[0].ttl_ms, 3600000);
    CHECK_EQ(e.v[1].ttl_ms, 0);
    CHECK(e.v[1].sel.has_gid && e.v[1].sel.gid == 5);
    agt_entries_cleanup(&e);

    CHECK_OK(agt_decode_entries("{\"entries\":[]}", 14, &e));
    CHECK_EQ(e.n, 0);
    agt_entries_cleanup(&e);

    const char *bad[] = {
            "{\"entries\":{}}",
            "{\"entries\":[1]}",
            /* id not 32 lower-case hex */
            "{\"entries\":[{\"id\":\"0123456789ABCDEF0123456789abcdef\",\"spiffe_id\":"
            "\"spiffe://a/b\",\"selectors\":{\"uid\":1}}]}",
            /* no selector */
            "{\"entries\":[{\"id\":\"0123456789abcdef0123456789abcdef\",\"spiffe_id\":"
            "\"spiffe://a/b\",\"selectors\":{}}]}",
            /* unknown selector */
            "{\"entries\":[{\"id\":\"0123456789abcdef0123456789abcdef\",\"spiffe_id\":"
            "\"spiffe://a/b\",\"selectors\":{\"pid\":1}}]}",
            /* duplicate id */
            "{\"entries\":[{\"id\":\"0123456789abcdef0123456789abcdef\",\"spiffe_id\":"
            "\"spiffe://a/"
            "b\",\"selectors\":{\"uid\":1}},{\"id\":\"0123456789abcdef0123456789abcdef\","
            "\"spiffe_id\":\"spiffe://a/c\",\"selectors\":{\"uid\":2}}]}",
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(bad); i++) {
        CHECK_ERR(agt_decode_entries(bad[i], strlen(bad[i]), &e), WD_EPROTO);
        CHECK(e.v == NULL && e.n == 0);
    }
    CHECK_ALLOC_SWEEP(agt_decode_entries(entries_ok, strlen(entries_ok), &e),
                      agt_entries_cleanup(&e));
}

static const char svids_ok[] =
        "{\"svids\":[{\"entry_id\":\"0123456789abcdef0123456789abcdef\",\"spiffe_id\":"
        "\"spiffe://example.org/web\",\"svid_pem\":\"" PEM "\",\"expires_at\":"
        "\"2026-11-25T19:00:00Z\"}],\"bundle_pem\":\"" PEM "\"}";

TEST(svids)
{
    struct agt_svids_resp r;
    CHECK_OK(agt_decode_svids(svids_ok, strlen(svids_ok), &r));
    CHECK_EQ(r.n, 1);
    CHECK_STR(r.v[0].entry_id, "0123456789abcdef0123456789abcdef");
    CHECK_STR(r.v[0].spiffe_id.str, "spiffe://example.org/web");
    CHECK_EQ(r.v[0].expires_at, 1795633200);
    CHECK(r.bundle_pem != NULL);
    agt_svids_resp_cleanup(&r);
    const char *nob = "{\"svids\":[]}";
    CHECK_ERR(agt_decode_svids(nob, strlen(nob), &r), WD_EPROTO);
    const char *badexp = "{\"svids\":[{\"entry_id\":\"0123456789abcdef0123456789abcdef\","
                         "\"spiffe_id\":\"spiffe://a/b\",\"svid_pem\":\"" PEM "\",\"expires_at\":"
                         "5}],\"bundle_pem\":\"" PEM "\"}";
    CHECK_ERR(agt_decode_svids(badexp, strlen(badexp), &r), WD_EPROTO);
    CHECK(r.v == NULL && r.bundle_pem == NULL);
    CHECK_ALLOC_SWEEP(agt_decode_svids(svids_ok, strlen(svids_ok), &r), agt_svids_resp_cleanup(&r));
}

TEST(errors)
{
    struct agt_error_resp e;
    const char *ok = "{\"error\":\"denied\",\"reason\":\"node-untrusted\",\"message\":\"no\"}";
    CHECK_OK(agt_decode_error(ok, strlen(ok), &e));
    CHECK_STR(e.error, "denied");
    CHECK_STR(e.reason, "node-untrusted");
    CHECK_OK(agt_decode_error("{\"error\":\"internal\"}", 20, &e));
    CHECK_STR(e.reason, "");
    CHECK_ERR(agt_decode_error("{\"message\":\"x\"}", 15, &e), WD_EPROTO);
    CHECK_ERR(agt_decode_error("<html>", 6, &e), WD_EPROTO);
    /* Found by fuzz_agent_json: an empty error code is not an error answer. */
    CHECK_ERR(agt_decode_error("{\"error\":\"\"}", 12, &e), WD_EPROTO);
}

TEST(writer)
{
    struct wd_buf b;
    struct agt_jw w;
    wd_buf_init(&b, 1024);
    CHECK_OK(wd_buf_append_str(&b, "X"));
    agt_jw_begin(&w, &b);
    agt_jw_str(&w, "node", "a\"b");
    agt_jw_b64(&w, "blob", "\x01\x02\x03", 3);
    agt_jw_open(&w, "quote");
    agt_jw_str(&w, "k", "v");
    agt_jw_b64(&w, "e", "", 0);
    agt_jw_close(&w);
    agt_jw_str(&w, "z", "");
    CHECK_OK(agt_jw_end(&w));
    CHECK_STR(wd_buf_str(&b), "X{\"node\":\"a\\\"b\",\"blob\":\"AQID\",\"quote\":{\"k\":\"v\","
                              "\"e\":\"\"},\"z\":\"\"}");
    wd_buf_cleanup(&b);
    /* A cap hit rolls back to the state before begin. */
    wd_buf_init(&b, 12);
    CHECK_OK(wd_buf_append_str(&b, "X"));
    agt_jw_begin(&w, &b);
    agt_jw_str(&w, "node", "long value");
    CHECK_ERR(agt_jw_end(&w), WD_ELIMIT);
    CHECK_STR(wd_buf_str(&b), "X");
    wd_buf_cleanup(&b);
}

int main(void)
{
    RUN(identity);
    RUN(begin);
    RUN(challenge_and_heartbeat);
    RUN(entries);
    RUN(svids);
    RUN(errors);
    RUN(writer);
    return HARNESS_END("agent_cpjson");
}
