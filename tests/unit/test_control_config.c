/*
 * Unit tests of warden-control's configuration loader (src/control/config.c): a full file,
 * defaults, every refusal with its file:line:col, and allocation failures.
 */
#include <string.h>

#include "warden/log.h"

#include "../../src/control/config.h"
#include "harness.h"

static int parse(const char *text, struct srv_config *c, struct wd_diag *d)
{
    srv_config_init(c);
    memset(d, 0, sizeof(*d));
    return srv_config_parse("control.yaml", text, strlen(text), c, d);
}

TEST(full)
{
    static const char text[] =
            "listen: \"[::1]:9443\"\n"
            "store: sqlite:/var/lib/w/c.db\n"
            "audit_log: /var/log/w/audit.jsonl\n"
            "log_level: debug\n"
            "max_conns: 64\n"
            "svid:\n"
            "  node_ttl: 12h\n"
            "  workload_ttl: 30m\n"
            "  control_ttl: 2h\n"
            "  admin_ttl: 7d\n"
            "heartbeat: 30s\n"
            "session_ttl: 2m\n"
            "tpm:\n"
            "  ek_ca_dir: /etc/w/ek\n"
            "  ek_allow:\n"
            "    - 00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\n"
            "  pcrs: \"sha256:0,7\"\n"
            "  allowed_pcrs:\n"
            "    \"7\": [\""
            "1111111111111111111111111111111111111111111111111111111111111111\","
            " \"2222222222222222222222222222222222222222222222222222222222222222\"]\n"
            "    sha256:0: [\"3333333333333333333333333333333333333333333333333333333333333333\"]\n"
            "ip_fence: [10.0.0.0/8, \"fd00::/8\"]\n"
            "issue:\n"
            "  batch_max: 100\n";
    struct srv_config c;
    struct wd_diag d;
    int rc = parse(text, &c, &d);
    if (rc != WD_OK) {
        printf("%s\n", d.msg);
    }
    CHECK_OK(rc);
    CHECK_STR(c.listen, "[::1]:9443");
    CHECK_STR(c.store, "sqlite:/var/lib/w/c.db");
    CHECK_EQ(c.log_level, WD_LOG_DEBUG);
    CHECK_EQ(c.max_conns, 64);
    CHECK_EQ(c.node_ttl, 12 * 3600);
    CHECK_EQ(c.workload_ttl, 1800);
    CHECK_EQ(c.control_ttl, 7200);
    CHECK_EQ(c.admin_ttl, 7 * 86400);
    CHECK_EQ(c.heartbeat, 30);
    CHECK_EQ(c.heartbeat_grace, 90);
    CHECK_EQ(c.session_ttl, 120);
    CHECK_STR(c.ek_ca_dir, "/etc/w/ek");
    CHECK_EQ(c.n_ek_allow, 1);
    CHECK_STR(c.ek_allow[0], "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    CHECK_EQ(c.pcr_sel.count, 1);
    CHECK_EQ(c.n_pcr_rules, 2);
    CHECK_EQ(c.pcr_rules[0].pcr, 7);
    CHECK_EQ(c.pcr_rules[0].n_values, 2);
    CHECK_EQ(c.pcr_rules[0].values[32], 0x22);
    CHECK_EQ(c.pcr_rules[1].pcr, 0);
    CHECK_EQ(c.n_ip_fence, 2);
    CHECK_EQ(c.batch_max, 100);
    CHECK_OK(srv_config_finish(&c, "/d"));
    CHECK_STR(c.store, "sqlite:/var/lib/w/c.db");
    srv_config_cleanup(&c);
    CHECK_ALLOC_SWEEP((srv_config_init(&c), srv_config_parse("f", text, strlen(text), &c, NULL)),
                      srv_config_cleanup(&c));
}

TEST(defaults)
{
    struct srv_config c;
    struct wd_diag d;
    CHECK_OK(parse("# only a comment\n\n   # another\n", &c, &d));
    CHECK_OK(parse("", &c, &d));
    CHECK_OK(parse("heartbeat: 10s\n", &c, &d));
    CHECK_EQ(c.heartbeat_grace, 30);
    CHECK_OK(srv_config_finish(&c, "/data"));
    CHECK_STR(c.listen, SRV_LISTEN_DEFAULT);
    CHECK_STR(c.store, "sqlite:/data/control.db");
    CHECK_STR(c.audit_log, "/data/audit.jsonl");
    CHECK_EQ(c.node_ttl, SRV_NODE_TTL_DEFAULT);
    CHECK_EQ(c.workload_ttl, SRV_WORKLOAD_TTL_DEFAULT);
    CHECK_EQ(c.session_ttl, 60);
    CHECK_EQ(c.batch_max, SRV_BATCH_MAX_DEFAULT);
    CHECK_EQ(c.pcr_sel.count, 1);
    srv_config_cleanup(&c);
    /* the default text init writes parses */
    const char *t = srv_config_default_text();
    CHECK_OK(parse(t, &c, &d));
    srv_config_cleanup(&c);
}

TEST(refusals)
{
    static const struct {
        const char *text, *want;
    } bad[] = {
            {"listen: 1\n", "control.yaml:1:9: 'listen': expected string, got integer"},
            {"lisen: x\n", "control.yaml:1:1: unknown key 'lisen'"},
            {"heartbeat: 60\n", "control.yaml:1:12: 'heartbeat': expected string"},
            {"heartbeat: soon\n", "control.yaml:1:12: 'heartbeat': not a duration"},
            {"heartbeat: 1500ms\n", "control.yaml:1:12: 'heartbeat': must be whole seconds"},
            {"heartbeat: 2d\n", "control.yaml:1:12: 'heartbeat': must be between"},
            {"heartbeat: 60s\nheartbeat_grace: 30s\n", "control.yaml:2:18: 'heartbeat_grace'"},
            {"log_level: loud\n", "control.yaml:1:12: 'log_level'"},
            {"max_conns: 0\n", "control.yaml:1:12: 'max_conns'"},
            {"svid:\n  node_ttl: 1s\n", "control.yaml:2:13: 'node_ttl': must be between"},
            {"svid:\n  nodettl: 1h\n", "control.yaml:2:3: unknown key 'nodettl'"},
            {"tpm:\n  pcrs: \"sha256:0,0\"\n", "control.yaml:2:9: 'pcrs':"},
            {"tpm:\n  ek_allow: [abc]\n", "control.yaml:2:14: 'ek_allow'"},
            {"tpm:\n  allowed_pcrs:\n    x7: [\"00\"]\n", "control.yaml:3:5: 'allowed_pcrs': key"},
            {"tpm:\n  allowed_pcrs:\n    \"7\": [\"00\"]\n",
             "control.yaml:3:11: 'allowed_pcrs': a value"},
            {"tpm:\n  allowed_pcrs:\n    \"7\": []\n",
             "control.yaml:3:10: 'allowed_pcrs': each PCR"},
            {"tpm:\n  allowed_pcrs:\n    \"9\": [\""
             "1111111111111111111111111111111111111111111111111111111111111111\"]\n",
             "control.yaml:3:5: 'allowed_pcrs': PCR 9 is not in the 'pcrs' selection"},
            {"ip_fence: [10.0.0.1/8]\n",
             "control.yaml:1:12: 'ip_fence': address has bits set beyond the prefix length"},
            {"ip_fence: [\"not an ip\"]\n", "control.yaml:1:12: 'ip_fence': bad address"},
            {"issue:\n  batch_max: 0\n", "control.yaml:2:14: 'batch_max'"},
            {"store: \"\"\n", "control.yaml:1:8: 'store': must be a non-empty string"},
            {"- a\n", "control.yaml:1:1: expected object"},
            {"a: [\n", "control.yaml:"},
            {"listen: x\nlisten: y\n", "control.yaml:2:1:"},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(bad); i++) {
        struct srv_config c;
        struct wd_diag d;
        int rc = parse(bad[i].text, &c, &d);
        if (rc == WD_OK || strncmp(d.msg, bad[i].want, strlen(bad[i].want)) != 0) {
            printf("case %zu: rc %d: %s\n", i, rc, d.msg);
        }
        CHECK(rc != WD_OK);
        CHECK(strncmp(d.msg, bad[i].want, strlen(bad[i].want)) == 0);
        /* a failed parse leaves the defaults and nothing allocated */
        CHECK(c.listen == NULL && c.n_ip_fence == 0 && c.n_pcr_rules == 0);
        srv_config_cleanup(&c);
    }
    struct srv_config c;
    srv_config_init(&c);
    struct wd_diag d;
    CHECK_ERR(srv_config_load("/nonexistent/control.yaml", &c, &d), WD_ENOENT);
    CHECK(strstr(d.msg, "/nonexistent/control.yaml") != NULL);
}

int main(void)
{
    RUN(full);
    RUN(defaults);
    RUN(refusals);
    return HARNESS_END("control_config");
}
