/* warden-agent: the node agent. Argument parsing and signals only; the logic is in agent.c. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "warden/log.h"

#include "agent.h"
#include "config.h"

#ifndef WD_VERSION
#define WD_VERSION "0.1.0-dev"
#endif

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f)
{
    (void)fprintf(
            f, "usage: warden-agent --config FILE [--check-config]\n"
               "       warden-agent --help | --version\n"
               "\n"
               "  --config FILE    the agent's YAML configuration (docs/agent.md)\n"
               "  --check-config   validate the configuration, print the error if any, exit 0/1\n"
               "  --help           this text\n"
               "  --version        print the version\n");
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    bool check = false;
    struct wd_diag diag;
    struct agt_config *cfg = NULL;
    struct agt_agent agent;
    int status = 1;

    wd_log_set_ident("warden-agent");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("warden-agent %s\n", WD_VERSION);
            return 0;
        }
        if (strcmp(argv[i], "--check-config") == 0 || strcmp(argv[i], "-t") == 0) {
            check = true;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            config = argv[i] + 9;
        } else {
            (void)fprintf(stderr, "warden-agent: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (config == NULL) {
        (void)fprintf(stderr, "warden-agent: --config FILE is required\n");
        usage(stderr);
        return 2;
    }
    if (agt_config_load(config, &cfg, &diag) < 0) {
        (void)fprintf(stderr, "warden-agent: %s\n", diag.msg);
        return 1;
    }
    if (check) {
        /* Syntax and values only: files it names are read at start (so that shipped example
           configurations can be checked anywhere). */
        printf("warden-agent: %s: ok\n", config);
        agt_config_free(cfg);
        return 0;
    }
    wd_log_set_level((enum wd_log_level)cfg->log_level);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    (void)sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    (void)sigaction(SIGPIPE, &sa, NULL);

    if (agt_agent_init(&agent, cfg, &diag) < 0
        || agt_agent_run(&agent, &stop_requested, &diag) < 0) {
        wd_log(WD_LOG_ERR, "%s", diag.msg);
    } else {
        status = 0;
    }
    agt_agent_cleanup(&agent);
    agt_config_free(cfg);
    return status;
}
