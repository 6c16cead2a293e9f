/*
 * Fuzz warden-proxy's configuration loader (src/proxy/config.c): YAML text in, a config or
 * a "file:line:col: message" out. Beyond "no crash, no leak": a failure leaves no config and
 * names the input; a success has at least one listener, valid addresses, an expected peer
 * for every outbound listener, sane limits and absolute paths.
 */
#include <stdint.h>
#include <string.h>

#include "warden/common.h"
#include "warden/err.h"

#include "../src/proxy/config.h"

#define MAX_INPUT (32 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    struct prx_config *cfg = NULL;
    struct wd_diag diag;
    int rc = prx_config_parse("/fuzz/proxy.yaml", data, size, &cfg, &diag);
    if (rc != WD_OK) {
        WD_BUG_ON(cfg != NULL);
        WD_BUG_ON(rc != WD_ECONFIG && rc != WD_EPROTO && rc != WD_ELIMIT && rc != WD_ENOMEM);
        WD_BUG_ON(strncmp(diag.msg, "/fuzz/proxy.yaml", 16) != 0);
        return 0;
    }
    WD_BUG_ON(cfg->n_listeners == 0 || cfg->n_policies == 0);
    WD_BUG_ON(cfg->cert[0] != '/' || cfg->key[0] != '/' || cfg->bundle[0] != '/');
    WD_BUG_ON(cfg->sample_allow < 0.0 || cfg->sample_allow > 1.0);
    WD_BUG_ON(cfg->limits.max_header_count == 0 || cfg->limits.max_header_bytes < 256);
    for (size_t i = 0; i < cfg->n_policies; i++) {
        WD_BUG_ON(cfg->policies[i][0] != '/' && strcmp(cfg->policies[i], "-") != 0);
    }
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        const struct prx_listener_conf *l = &cfg->listeners[i];
        WD_BUG_ON(l->name == NULL || l->name[0] == '\0');
        WD_BUG_ON(l->listen.sin.sin_port == 0 || l->upstream.sin.sin_port == 0);
        WD_BUG_ON(l->mode == PRX_OUTBOUND && !l->has_expect_peer);
        WD_BUG_ON(l->mode == PRX_INBOUND && (l->has_expect_peer || !l->enforce));
        for (size_t k = 0; k < i; k++) {
            WD_BUG_ON(strcmp(l->name, cfg->listeners[k].name) == 0);
        }
    }
    prx_config_free(cfg);
    return 0;
}
