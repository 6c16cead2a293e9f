/*
 * warden-proxy: the mTLS data plane. Usage:
 *
 *   warden-proxy -c FILE            run
 *   warden-proxy -c FILE -t         check the configuration and every file it names
 *   warden-proxy -c FILE --check-syntax   check the configuration file alone
 *
 * Signals: SIGHUP reloads identity, policy, routes, detectors and audit sink (a bad new set
 * is refused and the old one stays); SIGTERM / SIGINT stop accepting, let in-flight requests
 * finish (at most limits.drain_timeout) and exit 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "warden/log.h"

#include "config.h"
#include "proxy.h"

static void usage(FILE *f)
{
    (void)fprintf(f,
                  "usage: warden-proxy -c CONFIG [-t|--check-config|--check-syntax]\n"
                  "  -c, --config FILE     the proxy's YAML configuration (docs/proxy.md)\n"
                  "  -t, --check-config    load everything the configuration names, then exit\n"
                  "  --check-syntax        check only the configuration file itself, then exit\n");
}

/* SIGHUP: build a new generation from the (re-read) configuration; keep the old on error. */
static void reload(const char *path)
{
    struct prx_config *cfg = NULL;
    struct prx_gen *g = NULL;
    struct wd_diag diag;
    diag.msg[0] = '\0';
    int rc = prx_config_load(path, &cfg, &diag);
    if (rc == WD_OK) {
        rc = prx_gen_build(cfg, &g, &diag);
    }
    if (rc < 0) {
        atomic_fetch_add_explicit(&prx_m.reload_fail, 1, memory_order_relaxed);
        wd_log(WD_LOG_ERR, "reload refused, keeping the running configuration: %s", diag.msg);
    } else {
        prx_gen_install(g);
        atomic_fetch_add_explicit(&prx_m.reload_ok, 1, memory_order_relaxed);
        wd_log(WD_LOG_NOTICE,
               "reloaded identity %s, policy, routes and detectors (listeners, limits "
               "and workers change only with a restart)",
               g->self.str);
    }
    prx_config_free(cfg);
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    bool check = false;
    bool syntax = false;
    struct prx_config *cfg = NULL;
    struct prx_gen *g = NULL;
    struct wd_diag diag;
    int status = 1;
    wd_log_set_ident("warden-proxy");
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "--check-config") == 0) {
            check = true;
        } else if (strcmp(argv[i], "--check-syntax") == 0) {
            syntax = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (path == NULL) {
        usage(stderr);
        return 2;
    }
    diag.msg[0] = '\0';
    if (syntax) {
        if (prx_config_load(path, &cfg, &diag) < 0) {
            (void)fprintf(stderr, "warden-proxy: %s\n", diag.msg);
            goto out;
        }
        printf("warden-proxy: %s: syntax ok (%zu listener(s))\n", path, cfg->n_listeners);
        status = 0;
        goto out;
    }
    if (prx_config_load(path, &cfg, &diag) < 0 || prx_gen_build(cfg, &g, &diag) < 0) {
        (void)fprintf(stderr, "warden-proxy: %s\n", diag.msg);
        goto out;
    }
    if (check) {
        printf("warden-proxy: %s: ok (identity %s, %zu listener(s))\n", path, g->self.str,
               cfg->n_listeners);
        prx_gen_put(g);
        g = NULL;
        status = 0;
        goto out;
    }
    wd_log_set_level((enum wd_log_level)cfg->log_level);
    prx_gen_install(g);
    g = NULL;

    /* Signals are taken synchronously by this thread; workers inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    (void)signal(SIGPIPE, SIG_IGN);

    unsigned nw = cfg->workers;
    if (nw == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        nw = n < 1 ? 1 : n > PRX_WORKERS_MAX ? PRX_WORKERS_MAX : (unsigned)n;
    }
    if (prx_engine_init(cfg, nw, &diag) < 0) {
        (void)fprintf(stderr, "warden-proxy: %s\n", diag.msg);
        goto stop;
    }
    if (prx_engine_start() < 0) {
        prx_engine_stop();
        prx_engine_join();
        goto stop;
    }
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        const struct prx_listener_conf *l = &cfg->listeners[i];
        wd_log(WD_LOG_NOTICE, "listener %s: %s %s on %s -> %s", l->name,
               l->mode == PRX_INBOUND ? "inbound" : "outbound",
               l->proto == PRX_HTTP   ? "http"
               : l->proto == PRX_MQTT ? "mqtt"
                                      : "tcp",
               l->listen.text, l->upstream.text);
    }
    wd_log(WD_LOG_NOTICE, "ready: %u worker(s)%s%s", nw, cfg->has_admin ? ", admin on " : "",
           cfg->has_admin ? cfg->admin.text : "");
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) {
            continue;
        }
        if (sig == SIGHUP) {
            reload(path);
            continue;
        }
        wd_log(WD_LOG_NOTICE, "signal %d: draining (at most %lld ms)", sig,
               (long long)cfg->limits.drain_ms);
        break;
    }
    prx_engine_stop();
    prx_engine_join();
    wd_log(WD_LOG_NOTICE, "stopped");
    status = 0;
stop:
    prx_engine_cleanup();
    prx_gen_install(NULL);
out:
    prx_gen_put(g);
    prx_config_free(cfg);
    return status;
}
