/*
 * All of warden reads time here, so tests can pin it. Wall time is for certificates and
 * audit records; monotonic time is for timeouts and rates.
 */
#ifndef WD_CLOCK_H
#define WD_CLOCK_H

#include <stdint.h>

#include "warden/common.h"

/* Seconds since the Unix epoch (UTC), or the pinned value when one is set. */
int64_t wd_time_now(void);
/* Milliseconds since the Unix epoch (UTC), or pinned * 1000 when pinned. */
int64_t wd_time_now_ms(void);
/* Monotonic milliseconds (arbitrary origin); advances with the pinned clock when pinned. */
int64_t wd_time_mono_ms(void);

/*
 * Pin wall time at t seconds (tests, and `--at TIME` for verifying old evidence); a later
 * wd_clock_advance moves it. wd_clock_unpin returns to the real clock. Not thread-safe:
 * call before threads start.
 */
void wd_clock_pin(int64_t t);
void wd_clock_advance(int64_t seconds);
void wd_clock_unpin(void);

/*
 * Format t as RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ" into out (at least 21 bytes). Returns out.
 */
char *wd_time_format(int64_t t, char out[21]);
/*
 * Parse an RFC 3339 time with "Z" or a numeric offset, or a plain integer of Unix seconds.
 * WD_EPROTO when malformed or out of range.
 */
WD_MUST_USE int wd_time_parse(const char *s, int64_t *out);
/*
 * Parse a duration such as "90s", "15m", "1h30m", "7d" (units d h m s ms; at least one;
 * each unit at most once, in that order). Returns milliseconds. WD_EPROTO when malformed,
 * WD_ELIMIT on overflow.
 */
WD_MUST_USE int wd_duration_parse(const char *s, int64_t *ms_out);

#endif
