/* Renewal times and retry backoff (see sched.h). */
#include "sched.h"

int64_t agt_renew_at(int64_t not_before_ms, int64_t not_after_ms, uint32_t r)
{
    if (not_after_ms <= not_before_ms) {
        return not_before_ms;
    }
    int64_t half = (not_after_ms - not_before_ms) / 2;
    /* jitter in [-half * J, +half * J], J = AGT_JITTER_PERMILLE / 1000, uniform over r. */
    int64_t span = half / 1000 * AGT_JITTER_PERMILLE + (half % 1000) * AGT_JITTER_PERMILLE / 1000;
    int64_t jitter = 0;
    if (span > 0) {
        jitter = (int64_t)((uint64_t)r % (uint64_t)(2 * span + 1)) - span;
    }
    int64_t at = not_before_ms + half + jitter;
    int64_t latest = not_after_ms - AGT_RENEW_MARGIN_MS;
    if (at > latest) {
        at = latest;
    }
    if (at < not_before_ms) {
        at = not_before_ms;
    }
    return at;
}

int64_t agt_backoff_ms(unsigned attempt, int64_t base_ms, int64_t cap_ms, uint32_t r)
{
    if (base_ms < 1) {
        base_ms = 1;
    }
    if (cap_ms < 1) {
        cap_ms = 1;
    }
    int64_t step = base_ms;
    for (unsigned i = 0; i < attempt && step < cap_ms; i++) {
        step *= 2;
    }
    if (step > cap_ms) {
        step = cap_ms;
    }
    int64_t low = step / 2;
    return low + (int64_t)((uint64_t)r % (uint64_t)(step - low + 1));
}
