/* Unit tests for warden-proxy's configuration loader (src/proxy/config.c). */
#include <stdio.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/err.h"
#include "warden/log.h"

#include "../../src/proxy/config.h"
#include "harness.h"

static const char full_cfg[] = "identity:\n"
                               "  cert: /etc/warden/svid.pem\n"
                               "  key: svid.key\n"
                               "  bundle: /etc/warden/bundle.pem\n"
                               "listeners:\n"
                               "  - name: api\n"
                               "    mode: inbound\n"
                               "    protocol: http\n"
                               "    listen: 127.0.0.1:8443\n"
                               "    upstream: 127.0.0.1:8080\n"
                               "  - name: to-db\n"
                               "    mode: outbound\n"
                               "    protocol: tcp\n"
                               "    listen: 127.0.0.1:15432\n"
                               "    upstream: 10.0.0.7:5432\n"
                               "    expect_peer: spiffe://example.org/db\n"
                               "    enforce: true\n"
                               "policy:\n"
                               "  policies: [a.cedar, /etc/warden/b.cedar]\n"
                               "  entities: /etc/warden/entities.json\n"
                               "audit:\n"
                               "  path: /var/log/warden/audit.log\n"
                               "  sample_allow: 0.25\n"
                               "admin:\n"
                               "  listen: 127.0.0.1:9901\n"
                               "limits:\n"
                               "  handshake_timeout: 5s\n"
                               "  header_timeout: 2s\n"
                               "  idle_timeout: 1m\n"
                               "  body_timeout: 20s\n"
                               "  upstream_timeout: 15s\n"
                               "  drain_timeout: 3s\n"
                               "  max_header_bytes: 8192\n"
                               "  max_header_count: 50\n"
                               "  max_body: 65536\n"
                               "  max_connections: 500\n"
                               "workers: 3\n"
                               "log_level: debug\n";

#define BASE                       \
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

static int parse(const char *text, struct prx_config **out, struct wd_diag *d)
{
    return prx_config_parse("/etc/warden/proxy.yaml", text, strlen(text), out, d);
}

TEST(full_config)
{
    struct prx_config *c = NULL;
    struct wd_diag d;
    int rc = parse(full_cfg, &c, &d);
    if (rc != WD_OK) {
        printf("diag: %s\n", d.msg);
    }
    CHECK_OK(rc);
    if (c == NULL) {
        return;
    }
    CHECK_STR(c->cert, "/etc/warden/svid.pem");
    CHECK_STR(c->key, "/etc/warden/svid.key"); /* relative to the config file */
    CHECK_EQ(c->n_policies, 2);
    CHECK_STR(c->policies[0], "/etc/warden/a.cedar");
    CHECK_STR(c->policies[1], "/etc/warden/b.cedar");
    CHECK_STR(c->entities, "/etc/warden/entities.json");
    CHECK(c->schema == NULL);
    CHECK_STR(c->audit_path, "/var/log/warden/audit.log");
    CHECK(c->sample_allow > 0.24 && c->sample_allow < 0.26);
    CHECK(c->has_admin);
    CHECK_STR(c->admin.text, "127.0.0.1:9901");
    CHECK_EQ(c->n_listeners, 2);
    CHECK_STR(c->listeners[0].name, "api");
    CHECK_EQ(c->listeners[0].mode, PRX_INBOUND);
    CHECK_EQ(c->listeners[0].proto, PRX_HTTP);
    CHECK(c->listeners[0].enforce);
    CHECK_EQ(ntohs(c->listeners[0].listen.sin.sin_port), 8443);
    CHECK_EQ(c->listeners[1].mode, PRX_OUTBOUND);
    CHECK_EQ(c->listeners[1].proto, PRX_TCP);
    CHECK(c->listeners[1].has_expect_peer);
    CHECK_STR(c->listeners[1].expect_peer.str, "spiffe://example.org/db");
    CHECK(c->listeners[1].enforce);
    CHECK_STR(c->listeners[1].upstream.text, "10.0.0.7:5432");
    CHECK_EQ(c->limits.handshake_ms, 5000);
    CHECK_EQ(c->limits.header_ms, 2000);
    CHECK_EQ(c->limits.idle_ms, 60000);
    CHECK_EQ(c->limits.body_ms, 20000);
    CHECK_EQ(c->limits.upstream_ms, 15000);
    CHECK_EQ(c->limits.drain_ms, 3000);
    CHECK_EQ(c->limits.max_header_bytes, 8192);
    CHECK_EQ(c->limits.max_header_count, 50);
    CHECK_EQ(c->limits.max_body, 65536);
    CHECK_EQ(c->limits.max_connections, 500);
    CHECK_EQ(c->workers, 3);
    CHECK_EQ(c->log_level, WD_LOG_DEBUG);
    prx_config_free(c);
}

TEST(defaults)
{
    struct prx_config *c = NULL;
    struct wd_diag d;
    CHECK_OK(parse(BASE, &c, &d));
    if (c == NULL) {
        return;
    }
    CHECK_EQ(c->n_policies, 1);
    CHECK(c->audit_path == NULL);
    CHECK(!c->has_admin);
    CHECK_EQ(c->workers, 0);
    CHECK_EQ(c->limits.header_ms, 10000);
    CHECK_EQ(c->limits.max_body, 1u << 20);
    CHECK_EQ(c->log_level, WD_LOG_INFO);
    prx_config_free(c);
}

static void negative(const char *text, const char *want)
{
    struct prx_config *c = NULL;
    struct wd_diag d;
    d.msg[0] = '\0';
    int rc = parse(text, &c, &d);
    CHECK(rc == WD_ECONFIG || rc == WD_EPROTO);
    CHECK(c == NULL);
    if (strstr(d.msg, want) == NULL) {
        printf("  want '%s' in '%s'\n", want, d.msg);
        CHECK(0);
    }
    prx_config_free(c);
}

TEST(negatives)
{
    negative(BASE "bogus: 1\n", "proxy.yaml:13:1: unknown key 'bogus'");
    negative(BASE "workers: -1\n", "proxy.yaml:13:10: workers must be between");
    negative(BASE "log_level: loud\n", "proxy.yaml:13:12: log_level");
    negative(BASE "limits:\n  header_timeout: soon\n",
             "proxy.yaml:14:19: header_timeout: not a duration");
    negative(BASE "limits:\n  max_header_count: 0\n", "proxy.yaml:14:21: max_header_count must be");
    negative(BASE "audit:\n  path: /a\n  sample_allow: 1.5\n", "proxy.yaml:15:17: sample_allow");
    negative(BASE "admin:\n  listen: 127.0.0.1:8443\n", "proxy.yaml:14:11: listen: listener 'web'");
    negative(BASE "admin:\n  listen: localhost:1\n", "proxy.yaml:14:11: listen: expected");
    negative(BASE "  - name: web\n    mode: inbound\n    protocol: tcp\n"
                  "    listen: 127.0.0.1:1\n    upstream: 127.0.0.1:2\n",
             "proxy.yaml:13:5: listeners: a second listener named 'web'");
    negative(BASE "  - name: w2\n    mode: inbound\n    protocol: tcp\n"
                  "    listen: 127.0.0.1:8443\n    upstream: 127.0.0.1:2\n",
             "proxy.yaml:13:5: listeners: 'w2' listens on 127.0.0.1:8443");
    negative(BASE "  - name: w2\n    mode: sideways\n    protocol: tcp\n"
                  "    listen: 127.0.0.1:1\n    upstream: 127.0.0.1:2\n",
             "proxy.yaml:14:11: mode: expected");
    negative(BASE "  - name: w2\n    mode: inbound\n    protocol: amqp\n"
                  "    listen: 127.0.0.1:1\n    upstream: 127.0.0.1:2\n",
             "proxy.yaml:15:15: protocol: expected");
    negative(BASE "  - name: w2\n    mode: outbound\n    protocol: tcp\n"
                  "    listen: 127.0.0.1:1\n    upstream: 127.0.0.1:2\n",
             "proxy.yaml:13:5: missing key 'expect_peer'");
    negative(BASE "  - name: w2\n    mode: outbound\n    protocol: tcp\n"
                  "    listen: 127.0.0.1:1\n    upstream: 127.0.0.1:2\n"
                  "    expect_peer: spiffe://Example.org/x\n",
             "proxy.yaml:18:18: expect_peer: ");
    negative(BASE "  - name: w2\n    mode: inbound\n    protocol: tcp\n"
                  "    listen: 127.0.0.1:1\n    upstream: 127.0.0.1:2\n"
                  "    expect_peer: spiffe://example.org/x\n",
             "proxy.yaml:18:18: expect_peer: only for outbound");
    negative(BASE "  - name: w2\n    mode: inbound\n    protocol: tcp\n"
                  "    listen: 127.0.0.1:99999\n    upstream: 127.0.0.1:2\n",
             "proxy.yaml:16:13: listen: expected");
    negative(BASE "  - name: 'a b'\n    mode: inbound\n    protocol: tcp\n"
                  "    listen: 127.0.0.1:1\n    upstream: 127.0.0.1:2\n",
             "proxy.yaml:13:11: name:");
    negative("identity:\n  cert: /c\n  key: /k\n  bundle: /b\n"
             "policy:\n  policies: []\nlisteners: []\n",
             "proxy.yaml:7:12: listeners: at least one");
    negative("identity:\n  cert: /c\n  key: /k\n"
             "policy:\n  policies: /p\nlisteners: []\n",
             "proxy.yaml:2:3: missing key 'bundle'");
    negative("identity: [1\n", "proxy.yaml:");
}

TEST(addr_parse)
{
    struct prx_addr a;
    CHECK_OK(prx_addr_parse("127.0.0.1:80", 12, &a));
    CHECK_STR(a.text, "127.0.0.1:80");
    CHECK_ERR(prx_addr_parse("127.0.0.1:0", 11, &a), WD_EPROTO);
    CHECK_ERR(prx_addr_parse("127.0.0.1", 9, &a), WD_EPROTO);
    CHECK_ERR(prx_addr_parse("127.0.0.256:1", 13, &a), WD_EPROTO);
    CHECK_ERR(prx_addr_parse("127.0.0.1:1x", 12, &a), WD_EPROTO);
    CHECK_ERR(prx_addr_parse("[::1]:1", 7, &a), WD_EPROTO);
}

TEST(alloc_sweep)
{
    struct prx_config *c = NULL;
    struct wd_diag d;
    CHECK_ALLOC_SWEEP(parse(full_cfg, &c, &d), (prx_config_free(c), c = NULL));
}

int main(void)
{
    wd_log_set_level(WD_LOG_ERR);
    RUN(full_config);
    RUN(defaults);
    RUN(negatives);
    RUN(addr_parse);
    RUN(alloc_sweep);
    return HARNESS_END("proxy_config");
}
