/* Unit tests for the agent's renewal and backoff arithmetic (src/agent/sched.c). */
#include <stdint.h>

#include "../../src/agent/sched.h"
#include "harness.h"

TEST(renew_at_half_ttl_with_jitter_bounds)
{
    /* 1 h SVID: half is 1800 s, jitter at most ±180 s. */
    int64_t nb = 1000000, na = nb + 3600 * 1000;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (uint32_t r = 0; r < 20000; r++) {
        uint32_t rr = r * 2654435761u; /* spread over the whole 32-bit range */
        int64_t t = agt_renew_at(nb, na, rr);
        CHECK(t >= nb + 1620 * 1000);
        CHECK(t <= nb + 1980 * 1000);
        lo = t < lo ? t : lo;
        hi = t > hi ? t : hi;
    }
    /* The jitter really spreads: both ends of the window are approached. */
    CHECK(lo < nb + 1640 * 1000);
    CHECK(hi > nb + 1960 * 1000);
    /* Deterministic in r. */
    CHECK_EQ(agt_renew_at(nb, na, 12345), agt_renew_at(nb, na, 12345));
    /* r = span exactly gives the centre: jitter = r mod (2*span+1) - span. */
    CHECK_EQ(agt_renew_at(0, 3600 * 1000, 180 * 1000), 1800 * 1000);
    CHECK_EQ(agt_renew_at(0, 3600 * 1000, 0), 1620 * 1000);
    CHECK_EQ(agt_renew_at(0, 3600 * 1000, 360 * 1000), 1980 * 1000);
}

TEST(renew_at_edges)
{
    /* Zero or negative lifetime: renew now. */
    CHECK_EQ(agt_renew_at(5000, 5000, 7), 5000);
    CHECK_EQ(agt_renew_at(5000, 1000, 7), 5000);
    /* A lifetime shorter than twice the margin: never before not_before, never after expiry. */
    for (uint32_t r = 0; r < 1000; r++) {
        int64_t t = agt_renew_at(0, 6000, r * 7919u);
        CHECK(t >= 0);
        CHECK(t <= 6000 - AGT_RENEW_MARGIN_MS);
    }
    int64_t t = agt_renew_at(0, 2000, 99);
    CHECK_EQ(t, 0);
    /* 1 day node SVID. */
    int64_t day = 86400LL * 1000;
    t = agt_renew_at(0, day, 4000000000u);
    CHECK(t >= day / 2 - day / 20 && t <= day / 2 + day / 20);
}

TEST(backoff_exponential_capped)
{
    /* Without jitter spread (r = max of range), steps double: 1, 2, 4, 8 ... capped at 60 s. */
    int64_t expect[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000};
    for (unsigned a = 0; a < WD_ARRAY_LEN(expect); a++) {
        int64_t step = expect[a];
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        for (uint32_t r = 0; r < 5000; r++) {
            int64_t d = agt_backoff_ms(a, AGT_BACKOFF_BASE_MS, AGT_BACKOFF_CAP_MS, r * 2654435761u);
            CHECK(d >= step / 2);
            CHECK(d <= step);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        CHECK(lo < step / 2 + step / 10);
        CHECK(hi > step - step / 10);
    }
    /* Huge attempt counts do not overflow. */
    CHECK(agt_backoff_ms(1000000u, 1000, 60000, 5) <= 60000);
    CHECK(agt_backoff_ms(64, INT64_MAX / 4, INT64_MAX / 2, 5) <= INT64_MAX / 2);
    /* Degenerate parameters are clamped to 1 ms. */
    CHECK(agt_backoff_ms(3, 0, 0, 77) <= 1);
    CHECK(agt_backoff_ms(3, -5, 10, 77) <= 8);
}

int main(void)
{
    RUN(renew_at_half_ttl_with_jitter_bounds);
    RUN(renew_at_edges);
    RUN(backoff_exponential_capped);
    return HARNESS_END("agent_sched");
}
