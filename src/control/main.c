/*
 * warden-control: the control plane (docs/control.md).
 *
 *   warden-control init --dir DIR --trust-domain TD [--store URL] [--admin-ttl DUR]
 *   warden-control run --dir DIR [--config FILE] [--listen ADDR] [--store URL]
 *                      [--port-file FILE]
 *   warden-control check-config [--dir DIR] [--config FILE]
 *   warden-control --help | --version
 *
 * Exit status: 0 success, 1 failure (one line on stderr says why), 2 usage error.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/x509.h>

#include "warden/alloc.h"
#include "warden/bundle.h"
#include "warden/clock.h"
#include "warden/file.h"
#include "warden/log.h"
#include "warden/net.h"
#include "warden/pki.h"
#include "warden/svid.h"

#include "api.h"
#include "api_decode.h"
#include "config.h"
#include "init.h"
#include "server.h"

static const char usage_text[] =
        "usage: warden-control COMMAND [OPTIONS]\n"
        "\n"
        "commands:\n"
        "  init --dir DIR --trust-domain TD [--store URL] [--admin-ttl DURATION]\n"
        "        create a data directory: CA, admin SVID (admin.pem/admin.key),\n"
        "        bundle.pem, control.yaml and the store\n"
        "  run --dir DIR [--config FILE] [--listen ADDR] [--store URL] [--port-file FILE]\n"
        "        serve the REST API (docs/api.md) until SIGTERM or SIGINT; SIGHUP reopens\n"
        "        the audit log\n"
        "  check-config [--dir DIR] [--config FILE]\n"
        "        check a configuration file and exit\n"
        "  --help, --version\n";

static int usage(const char *msg)
{
    if (msg != NULL) {
        (void)fprintf(stderr, "warden-control: %s (see --help)\n", msg);
    }
    return 2;
}

struct opts {
    const char *dir, *td, *store, *config, *listen, *port_file, *admin_ttl;
};

static int parse_opts(int argc, char **argv, struct opts *o, const char *allowed)
{
    memset(o, 0, sizeof(*o));
    for (int i = 2; i < argc; i++) {
        static const struct {
            const char *name;
            size_t off;
        } tab[] = {
                {"--dir", offsetof(struct opts, dir)},
                {"--trust-domain", offsetof(struct opts, td)},
                {"--store", offsetof(struct opts, store)},
                {"--config", offsetof(struct opts, config)},
                {"--listen", offsetof(struct opts, listen)},
                {"--port-file", offsetof(struct opts, port_file)},
                {"--admin-ttl", offsetof(struct opts, admin_ttl)},
        };
        bool found = false;
        for (size_t k = 0; k < WD_ARRAY_LEN(tab); k++) {
            if (strcmp(argv[i], tab[k].name) != 0) {
                continue;
            }
            found = true;
            if (strstr(allowed, tab[k].name) == NULL) {
                (void)fprintf(stderr,
                              "warden-control %s: option %s not allowed here (see --help)\n",
                              argv[1], argv[i]);
                return 2;
            }
            if (i + 1 >= argc) {
                (void)fprintf(stderr, "warden-control %s: %s needs a value\n", argv[1], argv[i]);
                return 2;
            }
            const char **slot = (const char **)(void *)((char *)o + tab[k].off);
            *slot = argv[++i];
        }
        if (!found) {
            (void)fprintf(stderr, "warden-control %s: unknown argument '%s' (see --help)\n",
                          argv[1], argv[i]);
            return 2;
        }
    }
    return 0;
}

static int cmd_init(int argc, char **argv)
{
    struct opts o;
    int u = parse_opts(argc, argv, &o, "--dir --trust-domain --store --admin-ttl");
    if (u != 0) {
        return u;
    }
    if (o.dir == NULL || o.td == NULL) {
        return usage("init needs --dir and --trust-domain");
    }
    int64_t ttl = SRV_ADMIN_TTL_DEFAULT;
    if (o.admin_ttl != NULL) {
        int64_t ms = 0;
        if (wd_duration_parse(o.admin_ttl, &ms) != WD_OK || ms < 60000) {
            return usage("--admin-ttl must be a duration of at least 1m (e.g. 720h)");
        }
        ttl = ms / 1000;
    }
    struct wd_diag d = {{0}};
    int rc = srv_init_dir(o.dir, o.td, o.store, ttl, &d);
    if (rc != WD_OK) {
        (void)fprintf(stderr, "warden-control init: %s\n", d.msg[0] ? d.msg : wd_strerror(rc));
        return 1;
    }
    (void)printf("initialised %s for trust domain %s\n"
                 "  admin SVID: %s/admin.pem, %s/admin.key\n"
                 "  trust bundle: %s/bundle.pem\n"
                 "  start with: warden-control run --dir %s\n",
                 o.td, o.td, o.dir, o.dir, o.dir, o.dir);
    return 0;
}

/* Load the configuration: --config, else DIR/control.yaml when it exists, else defaults. */
static int load_config(const struct opts *o, struct srv_config *cfg)
{
    char path[4096];
    const char *file = o->config;
    struct stat sb;
    if (file == NULL && o->dir != NULL) {
        (void)snprintf(path, sizeof(path), "%s/control.yaml", o->dir);
        if (stat(path, &sb) == 0) {
            file = path;
        }
    }
    if (file == NULL) {
        return WD_OK;
    }
    struct wd_diag d = {{0}};
    int rc = srv_config_load(file, cfg, &d);
    if (rc != WD_OK) {
        (void)fprintf(stderr, "%s\n", d.msg[0] ? d.msg : wd_strerror(rc));
    }
    return rc;
}

static int cmd_check(int argc, char **argv)
{
    struct opts o;
    int u = parse_opts(argc, argv, &o, "--dir --config");
    if (u != 0) {
        return u;
    }
    if (o.dir == NULL && o.config == NULL) {
        return usage("check-config needs --dir or --config");
    }
    struct srv_config cfg;
    srv_config_init(&cfg);
    int rc = load_config(&o, &cfg);
    srv_config_cleanup(&cfg);
    if (rc != WD_OK) {
        return 1;
    }
    (void)printf("configuration ok\n");
    return 0;
}

/* ---- run ---- */

struct runner {
    struct srv *s;
    struct wd_http_server *http;
};

/* A fresh serving SVID spiffe://TD/warden/control and a TLS context around it. */
static int make_tls(struct srv *s, struct wd_tls_ctx **out, struct wd_diag *diag)
{
    EVP_PKEY *key = NULL;
    X509 *leaf = NULL;
    STACK_OF(X509) *chain = NULL;
    struct wd_bundle *bundle = NULL;
    struct wd_spiffe_id id;
    int rc;
    WD_CHECK(wd_spiffe_id_make(&s->td, "/warden/control", &id, NULL, diag));
    WD_CHECK(wd_key_generate(&key, diag));
    WD_CHECK(wd_svid_issue(s->ca, key, &id, s->cfg.control_ttl, NULL, &leaf, diag));
    chain = sk_X509_new_null();
    if (chain == NULL || X509_up_ref(wd_ca_intermediate(s->ca)) != 1) {
        rc = WD_ENOMEM;
        goto out;
    }
    if (sk_X509_push(chain, wd_ca_intermediate(s->ca)) <= 0) {
        X509_free(wd_ca_intermediate(s->ca));
        rc = WD_ENOMEM;
        goto out;
    }
    WD_CHECK(wd_ca_bundle(s->ca, &bundle));
    struct wd_tls_config tc;
    memset(&tc, 0, sizeof(tc));
    tc.role = WD_TLS_SERVER;
    tc.cert = leaf;
    tc.chain = chain;
    tc.key = key;
    tc.bundle = bundle;
    tc.require_peer = false;
    WD_CHECK(wd_tls_ctx_new(&tc, out, diag));
    int64_t ttl = s->cfg.control_ttl;
    s->renew_at = wd_time_now() + ttl / 2;
out:
    EVP_PKEY_free(key);
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    wd_bundle_free(bundle);
    return rc;
}

static int renew_tls(struct srv *s, void *arg)
{
    struct runner *r = arg;
    struct wd_tls_ctx *ctx = NULL;
    struct wd_diag d = {{0}};
    int rc = make_tls(s, &ctx, &d);
    if (rc != WD_OK) {
        wd_log(WD_LOG_ERR, "serving certificate: %s", d.msg);
        s->renew_at = wd_time_now() + 60;
        return rc;
    }
    wd_http_server_set_tls(r->http, ctx);
    wd_tls_ctx_unref(ctx);
    wd_log(WD_LOG_INFO, "serving certificate renewed");
    return WD_OK;
}

static int write_port_file(const char *path, uint16_t port)
{
    char txt[16];
    int n = snprintf(txt, sizeof(txt), "%u\n", (unsigned)port);
    struct wd_diag d;
    int rc = wd_file_write_atomic(path, txt, (size_t)n, 0644, &d);
    if (rc != WD_OK) {
        (void)fprintf(stderr, "warden-control: %s\n", d.msg);
    }
    return rc;
}

static int cmd_run(int argc, char **argv)
{
    struct opts o;
    int u = parse_opts(argc, argv, &o, "--dir --config --listen --store --port-file");
    if (u != 0) {
        return u;
    }
    if (o.dir == NULL) {
        return usage("run needs --dir");
    }
    struct srv_config cfg;
    srv_config_init(&cfg);
    struct srv *s = NULL;
    struct wd_tls_ctx *tls = NULL;
    struct runner r = {NULL, NULL};
    struct wd_diag d = {{0}};
    int status = 1;
    if (load_config(&o, &cfg) != WD_OK) {
        goto out;
    }
    if (o.listen != NULL) {
        wd_free(cfg.listen);
        cfg.listen = wd_strdup(o.listen);
    }
    if (o.store != NULL) {
        wd_free(cfg.store);
        cfg.store = wd_strdup(o.store);
    }
    if ((o.listen != NULL && cfg.listen == NULL) || (o.store != NULL && cfg.store == NULL)
        || srv_config_finish(&cfg, o.dir) != WD_OK) {
        (void)fprintf(stderr, "warden-control: out of memory\n");
        goto out;
    }
    wd_log_set_level((enum wd_log_level)cfg.log_level);
    /* every thread started from here on inherits the blocked signals; main waits for them */
    sigset_t sigs;
    (void)sigemptyset(&sigs);
    (void)sigaddset(&sigs, SIGTERM);
    (void)sigaddset(&sigs, SIGINT);
    (void)sigaddset(&sigs, SIGHUP);
    (void)sigaddset(&sigs, SIGPIPE);
    (void)pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    char ca_dir[4096];
    (void)snprintf(ca_dir, sizeof(ca_dir), "%s/ca", o.dir);
    size_t max_conns = cfg.max_conns;
    if (srv_open(&cfg, ca_dir, &s, &d) != WD_OK) {
        (void)fprintf(stderr, "warden-control: %s\n", d.msg);
        goto out;
    }
    if (make_tls(s, &tls, &d) != WD_OK) {
        (void)fprintf(stderr, "warden-control: serving certificate: %s\n", d.msg);
        goto out;
    }
    struct wd_http_server_config hc;
    memset(&hc, 0, sizeof(hc));
    hc.listen = s->cfg.listen;
    hc.tls = tls;
    hc.handler = srv_api_handle;
    hc.handler_arg = s;
    hc.max_conns = max_conns;
    hc.max_body = SRV_BODY_MAX;
    r.s = s;
    if (wd_http_server_start(&hc, &r.http, &d) != WD_OK) {
        (void)fprintf(stderr, "warden-control: %s\n", d.msg);
        goto out;
    }
    s->renew_cb = renew_tls;
    s->renew_arg = &r;
    if (srv_monitor_start(s) != WD_OK) {
        (void)fprintf(stderr, "warden-control: cannot start the monitor thread\n");
        goto out;
    }
    uint16_t port = wd_http_server_port(r.http);
    if (o.port_file != NULL && write_port_file(o.port_file, port) != WD_OK) {
        goto out;
    }
    wd_log(WD_LOG_NOTICE, "serving spiffe://%s/warden/control on %s (port %u), store %s",
           s->td.name, s->cfg.listen, (unsigned)port, s->store_backend);
    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0) {
            continue;
        }
        if (sig == SIGHUP) {
            if (srv_audit_reopen(s) == WD_OK) {
                wd_log(WD_LOG_NOTICE, "audit log reopened");
            }
            continue;
        }
        if (sig == SIGTERM || sig == SIGINT) {
            wd_log(WD_LOG_NOTICE, "signal %d: stopping", sig);
            break;
        }
    }
    status = 0;
out:
    /* stop order: no new requests, then the committer drains, then the store closes */
    wd_http_server_stop(r.http);
    wd_tls_ctx_unref(tls);
    srv_close(s);
    srv_config_cleanup(&cfg);
    return status;
}

int main(int argc, char **argv)
{
    wd_log_set_ident("warden-control");
    if (argc < 2) {
        (void)fputs(usage_text, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        (void)fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        (void)printf("warden-control %s\n", WD_CONTROL_VERSION);
        return 0;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            (void)fputs(usage_text, stdout);
            return 0;
        }
    }
    if (strcmp(cmd, "init") == 0) {
        return cmd_init(argc, argv);
    }
    if (strcmp(cmd, "run") == 0) {
        return cmd_run(argc, argv);
    }
    if (strcmp(cmd, "check-config") == 0 || strcmp(cmd, "-t") == 0) {
        return cmd_check(argc, argv);
    }
    (void)fprintf(stderr, "warden-control: unknown command '%s' (see --help)\n", cmd);
    return 2;
}
