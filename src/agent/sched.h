/*
 * Timing decisions of the agent, as pure functions so they can be tested exactly: when to
 * renew an SVID (half of its lifetime, with jitter so that a fleet does not renew in step),
 * and how long to wait before retrying a failed call (exponential backoff, capped, jittered).
 */
#ifndef AGT_SCHED_H
#define AGT_SCHED_H

#include <stdint.h>

#include "warden/common.h"

#define AGT_JITTER_PERMILLE 100   /* ±10 % of the half-life */
#define AGT_RENEW_MARGIN_MS 5000  /* never schedule a renewal later than expiry - 5 s */
#define AGT_BACKOFF_BASE_MS 1000  /* first retry after about 1 s */
#define AGT_BACKOFF_CAP_MS  60000 /* never wait more than a minute between retries */

/*
 * When to renew a certificate valid from not_before_ms to not_after_ms (milliseconds, any
 * common origin): not_before + half the lifetime, moved by a jitter of up to
 * ±AGT_JITTER_PERMILLE/1000 of that half, chosen by r (any 32-bit random value; the same r
 * gives the same answer). Never later than not_after - AGT_RENEW_MARGIN_MS when the lifetime
 * allows it, and never before not_before. A lifetime <= 0 gives not_before (renew now).
 * Pure.
 */
int64_t agt_renew_at(int64_t not_before_ms, int64_t not_after_ms, uint32_t r);

/*
 * Delay before retry number attempt (0 for the first retry) after a failure: the
 * exponential step min(cap, base * 2^attempt), then "equal jitter": a value in
 * [step/2, step] chosen by r. base and cap > 0 (else treated as 1 ms). Pure.
 */
int64_t agt_backoff_ms(unsigned attempt, int64_t base_ms, int64_t cap_ms, uint32_t r);

#endif
