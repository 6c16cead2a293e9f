/* Unit tests for warden-agent's configuration loader (src/agent/config.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "warden/alloc.h"
#include "warden/err.h"
#include "warden/log.h"

#include "../../src/agent/config.h"
#include "harness.h"

static const char full_cfg[] = "node: node-a\n"
                               "control:\n"
                               "  url: https://127.0.0.1:8443\n"
                               "  trust_bundle: /etc/warden/bundle.pem\n"
                               "state_dir: /var/lib/warden-agent\n"
                               "attestation:\n"
                               "  tpm:\n"
                               "    tcti: swtpm:host=127.0.0.1,port=2321\n"
                               "    ek: ecc\n"
                               "workload_api:\n"
                               "  socket: /tmp/agent.sock\n"
                               "  socket_mode: \"0660\"\n"
                               "  watch_max: 2m\n"
                               "heartbeat: 30s\n"
                               "log_level: debug\n"
                               "sinks:\n"
                               "  - spiffe_id: spiffe://example.org/web\n"
                               "    dir: /etc/web/tls\n"
                               "    cert: cert.pem\n"
                               "    key: key.pem\n"
                               "    bundle: ca.pem\n"
                               "    reload: [/usr/sbin/nginx, -s, reload]\n"
                               "    reload_timeout: 5s\n"
                               "  - spiffe_id: spiffe://example.org/mqtt\n"
                               "    dir: /etc/mosquitto/tls\n";

/* The minimal join-token configuration, with one line replaced/added by the negatives. */
#define BASE_HEAD                         \
    "node: node-b\n"                      \
    "control:\n"                          \
    "  url: https://127.0.0.1:8443\n"     \
    "  trust_bundle: /etc/warden/b.pem\n" \
    "state_dir: /var/lib/wa\n"

static int parse(const char *text, struct agt_config **out, struct wd_diag *d)
{
    return agt_config_parse("agent.yaml", text, strlen(text), out, d);
}

TEST(full_config)
{
    struct agt_config *c = NULL;
    struct wd_diag d;
    int rc = parse(full_cfg, &c, &d);
    if (rc != WD_OK) {
        printf("diag: %s\n", d.msg);
    }
    CHECK_OK(rc);
    CHECK_STR(c->node, "node-a");
    CHECK_STR(c->control_url, "https://127.0.0.1:8443");
    CHECK_STR(c->trust_bundle, "/etc/warden/bundle.pem");
    CHECK_STR(c->state_dir, "/var/lib/warden-agent");
    CHECK_EQ(c->attest, AGT_ATTEST_TPM);
    CHECK_STR(c->tcti, "swtpm:host=127.0.0.1,port=2321");
    CHECK(c->ek_ecc);
    CHECK(c->join_token == NULL);
    CHECK_STR(c->socket_path, "/tmp/agent.sock");
    CHECK_EQ(c->socket_mode, 0660);
    CHECK_EQ(c->watch_max_ms, 120000);
    CHECK_EQ(c->heartbeat_ms, 30000);
    CHECK_EQ(c->log_level, WD_LOG_DEBUG);
    CHECK_EQ(c->n_sinks, 2);
    CHECK_STR(c->sinks[0].id.str, "spiffe://example.org/web");
    CHECK_STR(c->sinks[0].dir, "/etc/web/tls");
    CHECK_STR(c->sinks[0].cert, "cert.pem");
    CHECK_STR(c->sinks[0].key, "key.pem");
    CHECK_STR(c->sinks[0].bundle, "ca.pem");
    CHECK_EQ(c->sinks[0].reload_argc, 3);
    CHECK_STR(c->sinks[0].reload_argv[0], "/usr/sbin/nginx");
    CHECK_STR(c->sinks[0].reload_argv[2], "reload");
    CHECK(c->sinks[0].reload_argv[3] == NULL);
    CHECK_EQ(c->sinks[0].reload_timeout_ms, 5000);
    /* Defaults of the second sink. */
    CHECK_STR(c->sinks[1].cert, "svid.pem");
    CHECK_STR(c->sinks[1].key, "svid.key");
    CHECK_STR(c->sinks[1].bundle, "bundle.pem");
    CHECK(c->sinks[1].reload_argv == NULL);
    CHECK_EQ(c->sinks[1].reload_timeout_ms, AGT_RELOAD_TIMEOUT_DEFAULT);
    agt_config_free(c);
}

TEST(minimal_join_token_defaults)
{
    struct agt_config *c = NULL;
    struct wd_diag d;
    CHECK_OK(parse(BASE_HEAD "attestation:\n  join_token: abc.def\n", &c, &d));
    CHECK_EQ(c->attest, AGT_ATTEST_JOIN_TOKEN);
    CHECK_STR(c->join_token, "abc.def");
    CHECK(c->join_token_file == NULL);
    CHECK_STR(c->socket_path, AGT_SOCKET_DEFAULT);
    CHECK_EQ(c->socket_mode, 0666);
    CHECK_EQ(c->watch_max_ms, AGT_WATCH_MAX_DEFAULT_MS);
    CHECK_EQ(c->heartbeat_ms, 0);
    CHECK_EQ(c->log_level, WD_LOG_INFO);
    CHECK_EQ(c->n_sinks, 0);
    agt_config_free(c);

    CHECK_OK(parse(BASE_HEAD "attestation:\n  join_token_file: /etc/warden/token\n", &c, &d));
    CHECK_STR(c->join_token_file, "/etc/warden/token");
    CHECK(c->join_token == NULL);
    agt_config_free(c);

    /* JSON is YAML too; an empty tpm object means default TCTI and an RSA EK. */
    const char *json =
            "{\"node\":\"n\",\"control\":{\"url\":\"https://[::1]:9\","
            "\"trust_bundle\":\"/b\"},\"state_dir\":\"/s\",\"attestation\":{\"tpm\":{}}}";
    CHECK_OK(parse(json, &c, &d));
    CHECK_EQ(c->attest, AGT_ATTEST_TPM);
    CHECK(c->tcti == NULL);
    CHECK(!c->ek_ecc);
    CHECK_STR(c->control_url, "https://[::1]:9");
    agt_config_free(c);
}

struct neg {
    const char *text;
    const char *diag; /* expected diagnostic, exactly */
};

static const struct neg negatives[] = {
        /* unknown keys at every level */
        {BASE_HEAD "attestation:\n  join_token: t\nbogus: 1\n",
         "agent.yaml:8:1: unknown key 'bogus'"},
        {"node: n\ncontrol:\n  url: https://h:1\n  trust_bundle: /b\n  extra: x\n"
         "state_dir: /s\nattestation:\n  join_token: t\n",
         "agent.yaml:5:3: unknown key 'extra'"},
        {BASE_HEAD "attestation:\n  tpm:\n    tcti: x\n    pcrs: 7\n",
         "agent.yaml:9:5: unknown key 'pcrs'"},
        {BASE_HEAD "attestation:\n  join_token: t\nsinks:\n  - spiffe_id: spiffe://a/b\n"
                   "    dir: /d\n    mode: 1\n",
         "agent.yaml:11:5: unknown key 'mode'"},
        {BASE_HEAD "attestation:\n  join_token: t\nworkload_api:\n  path: /x\n",
         "agent.yaml:9:3: unknown key 'path'"},
        /* missing keys */
        {"control:\n  url: https://h:1\n  trust_bundle: /b\nstate_dir: /s\n"
         "attestation:\n  join_token: t\n",
         "agent.yaml:1:1: missing key 'node'"},
        {"node: n\ncontrol:\n  url: https://h:1\nstate_dir: /s\nattestation:\n  join_token: t\n",
         "agent.yaml:3:3: missing key 'trust_bundle'"},
        {BASE_HEAD "heartbeat: 10s\n", "agent.yaml:1:1: missing key 'attestation'"},
        {BASE_HEAD "attestation:\n  join_token: t\nsinks:\n  - dir: /d\n",
         "agent.yaml:9:5: missing key 'spiffe_id'"},
        /* wrong types */
        {"node: 5\ncontrol:\n  url: https://h:1\n  trust_bundle: /b\nstate_dir: /s\n"
         "attestation:\n  join_token: t\n",
         "agent.yaml:1:7: 'node': expected string, got integer"},
        {BASE_HEAD "attestation:\n  join_token: t\nsinks: {}\n",
         "agent.yaml:8:8: 'sinks': expected array, got object"},
        {BASE_HEAD "attestation: [1]\n",
         "agent.yaml:6:14: 'attestation': expected object, got array"},
        {BASE_HEAD "attestation:\n  join_token: t\nsinks:\n  - spiffe_id: spiffe://a/b\n"
                   "    dir: /d\n    reload: [/bin/true, 3]\n",
         "agent.yaml:11:25: reload: expected string, got integer"},
        /* bad values */
        {"node: 'a b'\ncontrol:\n  url: https://h:1\n  trust_bundle: /b\nstate_dir: /s\n"
         "attestation:\n  join_token: t\n",
         "agent.yaml:1:7: node: 1 to 255 characters of A-Z a-z 0-9 '.' '_' '-' are required"},
        {"node: n\ncontrol:\n  url: http://h:1\n  trust_bundle: /b\nstate_dir: /s\n"
         "attestation:\n  join_token: t\n",
         "agent.yaml:3:8: url: expected https://HOST:PORT (e.g. https://127.0.0.1:8443)"},
        {"node: n\ncontrol:\n  url: https://h:99999\n  trust_bundle: /b\nstate_dir: /s\n"
         "attestation:\n  join_token: t\n",
         "agent.yaml:3:8: url: expected https://HOST:PORT (e.g. https://127.0.0.1:8443)"},
        {"node: n\ncontrol:\n  url: https://h\n  trust_bundle: /b\nstate_dir: /s\n"
         "attestation:\n  join_token: t\n",
         "agent.yaml:3:8: url: expected https://HOST:PORT (e.g. https://127.0.0.1:8443)"},
        {"node: n\ncontrol:\n  url: https://h:1\n  trust_bundle: b.pem\nstate_dir: /s\n"
         "attestation:\n  join_token: t\n",
         "agent.yaml:4:17: trust_bundle must be an absolute path"},
        {"node: n\ncontrol:\n  url: https://h:1\n  trust_bundle: /b\nstate_dir: state\n"
         "attestation:\n  join_token: t\n",
         "agent.yaml:5:12: state_dir must be an absolute path"},
        {BASE_HEAD "attestation:\n  join_token: ''\n",
         "agent.yaml:7:15: join_token must not be empty"},
        {BASE_HEAD "attestation: {}\n",
         "agent.yaml:6:14: attestation: exactly one of 'tpm' and 'join_token'/'join_token_file' "
         "is required"},
        {BASE_HEAD "attestation:\n  join_token: t\n  tpm: {}\n",
         "agent.yaml:7:3: attestation: exactly one of 'tpm' and 'join_token'/'join_token_file' "
         "is required"},
        {BASE_HEAD "attestation:\n  join_token: t\n  join_token_file: /t\n",
         "agent.yaml:8:20: attestation: 'join_token' and 'join_token_file' exclude each other"},
        {BASE_HEAD "attestation:\n  join_token_file: token.txt\n",
         "agent.yaml:7:20: join_token_file must be an absolute path"},
        {BASE_HEAD "attestation:\n  tpm:\n    ek: dsa\n",
         "agent.yaml:8:9: ek: expected \"rsa\" or \"ecc\""},
        {BASE_HEAD "attestation:\n  join_token: t\nheartbeat: 10\n",
         "agent.yaml:8:12: 'heartbeat': expected string, got integer"},
        {BASE_HEAD "attestation:\n  join_token: t\nheartbeat: soon\n",
         "agent.yaml:8:12: heartbeat: not a duration (e.g. \"90s\", \"10m\", \"1h\")"},
        {BASE_HEAD "attestation:\n  join_token: t\nheartbeat: 10ms\n",
         "agent.yaml:8:12: heartbeat must be between 1000 ms and 86400000 ms"},
        {BASE_HEAD "attestation:\n  join_token: t\nlog_level: loud\n",
         "agent.yaml:8:12: log_level: expected err, warn, notice, info or debug"},
        {BASE_HEAD "attestation:\n  join_token: t\nworkload_api:\n  socket: run/a.sock\n",
         "agent.yaml:9:11: socket must be an absolute path"},
        {BASE_HEAD "attestation:\n  join_token: t\nworkload_api:\n  socket_mode: '999'\n",
         "agent.yaml:9:16: socket_mode: expected octal permission bits such as \"0660\""},
        {BASE_HEAD "attestation:\n  join_token: t\nworkload_api:\n  watch_max: 2h\n",
         "agent.yaml:9:14: watch_max must be between 1000 ms and 3600000 ms"},
        {BASE_HEAD
         "attestation:\n  join_token: t\nsinks:\n  - spiffe_id: http://a/b\n    dir: /d\n",
         "agent.yaml:9:16: spiffe_id: spiffe: ID must start with \"spiffe://\" (scheme 'spiffe' in "
         "lower case)"},
        {BASE_HEAD
         "attestation:\n  join_token: t\nsinks:\n  - spiffe_id: spiffe://a\n    dir: /d\n",
         "agent.yaml:9:16: spiffe_id: a workload ID needs a path"},
        {BASE_HEAD "attestation:\n  join_token: t\nsinks:\n  - spiffe_id: spiffe://a/b\n"
                   "    dir: d\n",
         "agent.yaml:10:10: dir must be an absolute path"},
        {BASE_HEAD "attestation:\n  join_token: t\nsinks:\n  - spiffe_id: spiffe://a/b\n"
                   "    dir: /d\n    key: ../k.pem\n",
         "agent.yaml:11:10: key must be a plain file name (no '/')"},
        {BASE_HEAD "attestation:\n  join_token: t\nsinks:\n  - spiffe_id: spiffe://a/b\n"
                   "    dir: /d\n    cert: x.pem\n    key: x.pem\n",
         "agent.yaml:9:5: cert, key and bundle must be three different files"},
        {BASE_HEAD "attestation:\n  join_token: t\nsinks:\n  - spiffe_id: spiffe://a/b\n"
                   "    dir: /d\n    reload: [nginx, -s, reload]\n",
         "agent.yaml:11:14: reload: the program must be an absolute path (it is run with execve, "
         "without a shell)"},
        {BASE_HEAD "attestation:\n  join_token: t\nsinks:\n  - spiffe_id: spiffe://a/b\n"
                   "    dir: /d\n    reload: []\n",
         "agent.yaml:11:13: reload: the command list must not be empty"},
        {BASE_HEAD "attestation:\n  join_token: t\nsinks:\n  - spiffe_id: spiffe://a/b\n"
                   "    dir: /d\n    reload_timeout: 1ms\n",
         "agent.yaml:11:21: reload_timeout must be between 100 ms and 600000 ms"},
        {BASE_HEAD "attestation:\n  join_token: t\nsinks:\n  - spiffe_id: spiffe://a/b\n"
                   "    dir: /d\n  - spiffe_id: spiffe://a/b\n    dir: /e\n",
         "agent.yaml:11:5: sinks: a second sink for spiffe://a/b"},
        /* document-level */
        {"", "agent.yaml:1:1: empty document"},
        {"- 1\n", "agent.yaml:1:1: expected object, got array"},
};

TEST(negatives_with_positions)
{
    for (size_t i = 0; i < WD_ARRAY_LEN(negatives); i++) {
        struct agt_config *c = (struct agt_config *)1;
        struct wd_diag d;
        memset(&d, 0, sizeof(d));
        int rc = parse(negatives[i].text, &c, &d);
        if (rc == WD_OK || c != NULL || strcmp(d.msg, negatives[i].diag) != 0) {
            printf("negative %zu: rc %d, diag \"%s\"\n  expected \"%s\"\n", i, rc, d.msg,
                   negatives[i].diag);
            agt_config_free(rc == WD_OK ? c : NULL);
        }
        CHECK(rc == WD_ECONFIG || rc == WD_EPROTO);
        CHECK(c == NULL);
        CHECK_STR(d.msg, negatives[i].diag);
    }
}

TEST(token_not_in_diagnostics)
{
    struct agt_config *c = NULL;
    struct wd_diag d;
    /* A wrong type next to the token: the message must not carry the token's text. */
    CHECK_ERR(parse(BASE_HEAD "attestation:\n  join_token: s3cr3t-token\n  tpm: 1\n", &c, &d),
              WD_ECONFIG);
    CHECK(strstr(d.msg, "s3cr3t") == NULL);
}

TEST(load_file_and_missing)
{
    char path[] = "/tmp/agtcfgXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, full_cfg, strlen(full_cfg)), (long long)strlen(full_cfg));
    (void)close(fd);
    struct agt_config *c = NULL;
    struct wd_diag d;
    CHECK_OK(agt_config_load(path, &c, &d));
    CHECK_STR(c->node, "node-a");
    agt_config_free(c);
    (void)unlink(path);
    CHECK_ERR(agt_config_load(path, &c, &d), WD_ENOENT);
    CHECK(c == NULL);
    CHECK(strstr(d.msg, path) != NULL);
}

TEST(alloc_sweep)
{
    struct agt_config *c = NULL;
    struct wd_diag d;
    CHECK_ALLOC_SWEEP(parse(full_cfg, &c, &d), (agt_config_free(c), c = NULL));
}

int main(void)
{
    RUN(full_config);
    RUN(minimal_join_token_defaults);
    RUN(negatives_with_positions);
    RUN(token_not_in_diagnostics);
    RUN(load_file_and_missing);
    RUN(alloc_sweep);
    return HARNESS_END("agent_config");
}
