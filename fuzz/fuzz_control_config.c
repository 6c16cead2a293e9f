/*
 * Fuzz warden-control's configuration parser (src/control/config.c): YAML text in, a
 * configuration or a file:line:col diagnostic out, no leak either way.
 */
#include <stdint.h>
#include <string.h>

#include "warden/common.h"

#include "../src/control/config.h"

#define INPUT_CAP (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > INPUT_CAP) {
        return 0;
    }
    struct srv_config c;
    struct wd_diag d;
    srv_config_init(&c);
    int rc = srv_config_parse("fuzz.yaml", data, size, &c, &d);
    if (rc == WD_OK) {
        WD_BUG_ON(c.heartbeat < 1 || c.heartbeat_grace < c.heartbeat);
        WD_BUG_ON(c.batch_max < 1 || c.batch_max > SRV_BATCH_MAX_LIMIT);
        for (size_t i = 0; i < c.n_pcr_rules; i++) {
            WD_BUG_ON(c.pcr_rules[i].n_values == 0 || c.pcr_rules[i].values == NULL);
        }
    } else {
        WD_BUG_ON(strncmp(d.msg, "fuzz.yaml", 9) != 0);
    }
    srv_config_cleanup(&c);
    return 0;
}
