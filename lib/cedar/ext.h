/*
 * Cedar extension types as pure functions over plain C values, so the evaluator, the entity
 * loader and the validator share one exact implementation of each:
 *   decimal   - int64 scaled by 10^4 (Cedar: at most 4 fractional digits)
 *   ipaddr    - struct wd_cedar_ip (IPv4 or IPv6 address with a prefix length)
 *   datetime  - int64 milliseconds since the Unix epoch (UTC, no leap seconds)
 *   duration  - int64 milliseconds (may be negative)
 * Semantics follow the Cedar reference implementation (cedar-policy-core 4.x, checked
 * against @cedar-policy/cedar-wasm 4.13.0, language version 4.5); docs/internals/cedar-ext.md
 * lists every rule and the reference behaviour it was checked against.
 *
 * Parsers take a byte slice (not NUL-terminated; s may be NULL only when n is 0; any byte
 * value is allowed and non-ASCII bytes are simply rejected) and return WD_OK, WD_EPROTO for
 * text the Cedar constructor rejects as malformed, or WD_ELIMIT for well-formed text whose
 * value overflows (Cedar reports "overflow" there). Arithmetic returns WD_ELIMIT on int64
 * overflow, where Cedar reports an overflow error. On error *out is left unchanged.
 * All functions are pure: thread-safe, no allocation, no I/O, no globals.
 */
#ifndef WD_CEDAR_EXT_H
#define WD_CEDAR_EXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/common.h"

/* ---- decimal ---- */

/*
 * decimal(s): s must match -?[0-9]+\.[0-9]+ exactly (no '+', no whitespace, no exponent,
 * at least one digit on each side of the point, leading zeros allowed). More than 4
 * fractional digits (even zeros) -> WD_EPROTO. The value s*10^4 must fit int64, i.e.
 * -922337203685477.5808 .. 922337203685477.5807, else WD_ELIMIT ("-0.0" is 0). An integer
 * part that overflows is WD_ELIMIT even when the fraction is also too long (Cedar checks
 * in that order). out: caller-owned.
 */
WD_MUST_USE int wd_cedar_decimal_parse(const char *s, size_t n, int64_t *out);

/*
 * Canonical text of a decimal: the shortest form decimal() parses back to v, with at least
 * one fractional digit: 12300 -> "1.23", 0 -> "0.0", -5000 -> "-0.5", INT64_MIN ->
 * "-922337203685477.5808". (The reference prints decimal values by their constructor
 * argument, so this form is never compared against it.) Always NUL-terminated, <= 22 bytes.
 */
void wd_cedar_decimal_format(int64_t v, char out[32]);

/* ---- ipaddr ---- */
struct wd_cedar_ip {
    bool v6;          /* false: IPv4 (addr[0..3] used, addr[4..15] zero) */
    uint8_t prefix;   /* 0..32 for IPv4, 0..128 for IPv6 */
    uint8_t addr[16]; /* network byte order, as written: NOT masked to the prefix */
};

/*
 * ip(s): "ADDR" or "ADDR/PREFIX", s at most 43 bytes.
 * ADDR is an IPv4 dotted quad (four decimal octets 0..255, no leading zeros, 1..3 digits)
 * or an IPv6 address (1..8 groups of 1..4 hex digits in either case, at most one "::"
 * standing for one or more zero groups). IPv4-embedded IPv6 ("::ffff:1.2.3.4"), zone ids,
 * brackets and whitespace are rejected. PREFIX is ASCII decimal without leading zeros
 * ("0" is fine), at most 2 characters and <= 32 for IPv4, at most 3 and <= 128 for IPv6.
 * Without a prefix the prefix is 32 / 128. The address is kept as written, so
 * ip("10.0.0.1/24") != ip("10.0.0.0/24"). Returns WD_OK or WD_EPROTO. out: caller-owned.
 */
WD_MUST_USE int wd_cedar_ip_parse(const char *s, size_t n, struct wd_cedar_ip *out);

/* Cedar equality of two ipaddr values: same family, same address bytes, same prefix. */
bool wd_cedar_ip_eq(const struct wd_cedar_ip *a, const struct wd_cedar_ip *b);

/* isLoopback(): IPv4 in 127.0.0.0/8 with prefix >= 8, or exactly ::1/128 (IPv4-mapped
 * ::ffff:7f00:1 is NOT loopback). */
bool wd_cedar_ip_is_loopback(const struct wd_cedar_ip *a);

/* isMulticast(): IPv4 in 224.0.0.0/4 with prefix >= 4, or IPv6 in ff00::/8 with prefix >= 8
 * (IPv4-mapped addresses are not multicast). */
bool wd_cedar_ip_is_multicast(const struct wd_cedar_ip *a);

/*
 * a.isInRange(b): a's whole range [network, broadcast] lies inside b's range. Host bits of
 * either operand are ignored for that computation. Different families give false (not an
 * error).
 */
bool wd_cedar_ip_in_range(const struct wd_cedar_ip *a, const struct wd_cedar_ip *b);

/*
 * Text form "ADDR/PREFIX" (the reference's Display shape): IPv4 dotted quad, IPv6 per
 * RFC 5952 (lower case, longest run of two or more zero groups compressed, first on a tie).
 * Unlike Rust's Display, an IPv4-mapped IPv6 address is printed in hex ("::ffff:102:304/128"),
 * so the text always parses back to an equal value. Always NUL-terminated, <= 44 bytes.
 */
void wd_cedar_ip_format(const struct wd_cedar_ip *a, char out[64]);

/* ---- datetime and duration ---- */

/*
 * datetime(s): exactly one of
 *   YYYY-MM-DD
 *   YYYY-MM-DDThh:mm:ssZ          YYYY-MM-DDThh:mm:ss.SSSZ
 *   YYYY-MM-DDThh:mm:ss(+|-)hhmm  YYYY-MM-DDThh:mm:ss.SSS(+|-)hhmm
 * with ASCII digits, a 4-digit year 0000..9999 (proleptic Gregorian), a valid month/day
 * (leap years), hh < 24, mm < 60, ss < 60 (no leap second 60), exactly 3 millisecond digits,
 * upper-case 'T' and 'Z', offset hours < 24 and minutes < 60. The offset is subtracted
 * (local time minus offset = UTC). Returns WD_OK or WD_EPROTO (never overflows).
 */
WD_MUST_USE int wd_cedar_datetime_parse(const char *s, size_t n, int64_t *ms_out);

/*
 * duration(s): -?(Nd)?(Nh)?(Nm)?(Ns)?(Nms)? with at least one unit, units in that order and
 * each at most once, N one or more ASCII digits (leading zeros allowed). A leading '-'
 * negates the whole value. "" and "-" -> WD_EPROTO. A total outside int64 (including a
 * quantity that does not fit uint64) -> WD_ELIMIT.
 */
WD_MUST_USE int wd_cedar_duration_parse(const char *s, size_t n, int64_t *ms_out);

/* dt.offset(dur) = dt + dur; WD_ELIMIT on overflow. */
WD_MUST_USE int wd_cedar_datetime_offset(int64_t dt, int64_t dur, int64_t *out);

/* dt.durationSince(other) = dt - other; WD_ELIMIT on overflow. */
WD_MUST_USE int wd_cedar_datetime_since(int64_t dt, int64_t other, int64_t *out);

/*
 * dt.toDate(): midnight UTC of dt's day (floor for negative values). WD_ELIMIT when that
 * midnight is below INT64_MIN (dt within the first partial day above INT64_MIN).
 */
WD_MUST_USE int wd_cedar_datetime_to_date(int64_t dt, int64_t *out);

/* dt.toTime(): duration since that midnight, 0 .. 86399999. Always returns WD_OK. */
WD_MUST_USE int wd_cedar_datetime_to_time(int64_t dt, int64_t *out);

/*
 * dur.toDays() .toHours() .toMinutes() .toSeconds(): division truncating toward zero
 * (duration("-1ms").toSeconds() == 0); toMilliseconds is the value itself.
 */
int64_t wd_cedar_duration_to_days(int64_t dur);
int64_t wd_cedar_duration_to_hours(int64_t dur);
int64_t wd_cedar_duration_to_minutes(int64_t dur);
int64_t wd_cedar_duration_to_seconds(int64_t dur);

/*
 * Text that datetime() parses back to ms, the shortest of "YYYY-MM-DD",
 * "YYYY-MM-DDThh:mm:ssZ" and "YYYY-MM-DDThh:mm:ss.SSSZ". Returns false (out = "") when ms
 * lies outside years 0000..9999 and no datetime() literal can express it; the reference
 * prints such computed values as datetime("1970-01-01").offset(duration("<ms>ms")) (see
 * wd_cedar_duration_format), and that form works for every value.
 */
bool wd_cedar_datetime_format(int64_t ms, char out[40]);

/* "<ms>ms" exactly as the reference prints a computed duration ("-5ms", "0ms"); it parses
 * back to ms for every int64. Always NUL-terminated, <= 23 bytes. */
void wd_cedar_duration_format(int64_t ms, char out[48]);

#endif
