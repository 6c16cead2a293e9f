/*
 * Fuzz warden-agent's configuration loader (src/agent/config.c): YAML text in, a config or a
 * "file:line:col: message" out. Beyond "no crash, no leak": a failure leaves no config and
 * names the input; a success has every required field and only absolute paths.
 */
#include <stdint.h>
#include <string.h>

#include "warden/common.h"
#include "warden/err.h"
#include "warden/names.h"

#include "../src/agent/config.h"

#define MAX_INPUT (32 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    struct agt_config *cfg = NULL;
    struct wd_diag diag;
    int rc = agt_config_parse("fuzz.yaml", data, size, &cfg, &diag);
    if (rc != WD_OK) {
        WD_BUG_ON(cfg != NULL);
        WD_BUG_ON(rc != WD_ECONFIG && rc != WD_EPROTO && rc != WD_ELIMIT && rc != WD_ENOMEM);
        WD_BUG_ON(strncmp(diag.msg, "fuzz.yaml", 9) != 0);
        return 0;
    }
    WD_BUG_ON(cfg->node == NULL || !wd_node_name_valid(cfg->node, strlen(cfg->node)));
    WD_BUG_ON(cfg->control_url == NULL || strncmp(cfg->control_url, "https://", 8) != 0);
    WD_BUG_ON(cfg->state_dir == NULL || cfg->state_dir[0] != '/');
    WD_BUG_ON(cfg->trust_bundle == NULL || cfg->trust_bundle[0] != '/');
    WD_BUG_ON(cfg->socket_path == NULL || cfg->socket_path[0] != '/');
    WD_BUG_ON(cfg->attest == AGT_ATTEST_JOIN_TOKEN
              && (cfg->join_token == NULL) == (cfg->join_token_file == NULL));
    for (size_t i = 0; i < cfg->n_sinks; i++) {
        const struct agt_sink *s = &cfg->sinks[i];
        WD_BUG_ON(s->dir[0] != '/' || strchr(s->cert, '/') != NULL || strchr(s->key, '/') != NULL);
        WD_BUG_ON(s->reload_argv != NULL
                  && (s->reload_argv[0][0] != '/' || s->reload_argv[s->reload_argc] != NULL));
    }
    agt_config_free(cfg);
    return 0;
}
