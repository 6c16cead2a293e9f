/*
 * Fuzz the `sim` report parser: whatever it accepts has the exact length its measurement
 * length implies and bounded fields; whatever it refuses names a reason and leaves the
 * output zeroed.
 */
#include <stdint.h>
#include <string.h>

#include "warden/common.h"
#include "warden/err.h"
#include "warden/sim.h"

#define SIM_INPUT_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > SIM_INPUT_MAX) {
        return 0;
    }
    struct wd_sim_report r;
    const char *reason = NULL;
    int rc = wd_sim_report_parse(data, size, &r, &reason);
    if (rc != WD_OK) {
        WD_BUG_ON(rc != WD_EPROTO || reason == NULL);
        WD_BUG_ON(r.measurement_len != 0 || r.signed_part.p != NULL);
        return 0;
    }
    WD_BUG_ON(r.version != WD_SIM_VERSION);
    WD_BUG_ON(r.measurement_len < WD_SIM_MEASUREMENT_MIN
              || r.measurement_len > WD_SIM_MEASUREMENT_MAX);
    WD_BUG_ON(size != 11 + r.measurement_len + WD_SIM_REPORT_DATA_LEN + WD_SIM_SIG_LEN);
    WD_BUG_ON(r.signed_part.p != data || r.signed_part.len + WD_SIM_SIG_LEN != size);
    WD_BUG_ON(memcmp(r.measurement, data + 11, r.measurement_len) != 0);
    WD_BUG_ON(memcmp(r.signature, data + size - WD_SIM_SIG_LEN, WD_SIM_SIG_LEN) != 0);
    return 0;
}
