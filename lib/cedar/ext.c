/*
 * Cedar extension types: decimal, ipaddr, datetime, duration. Every rule here mirrors the
 * reference implementation (cedar-policy-core src/extensions/{decimal,ipaddr,datetime}.rs,
 * which delegates IP address text to Rust's std::net parser and dates to chrono); behaviour
 * that is not obvious from the source was checked with @cedar-policy/cedar-wasm 4.13.0 and
 * is recorded in docs/internals/cedar-ext.md and tests/unit/test_cedar_ext.c.
 */
#include "cedar/ext.h"

#include <stdio.h>
#include <string.h>

#include "warden/codec.h"
#include "warden/err.h"

#define MS_PER_DAY INT64_C(86400000)

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/*
 * Accumulate the ASCII digits s[from..to) into *v; false when the value exceeds UINT64_MAX
 * (Rust's u64/i64 FromStr: leading zeros are fine, only the value counts).
 */
static bool digits_u64(const char *s, size_t from, size_t to, uint64_t *v)
{
    uint64_t acc = 0;
    for (size_t i = from; i < to; i++) {
        if (__builtin_mul_overflow(acc, 10u, &acc)
            || __builtin_add_overflow(acc, (uint64_t)(s[i] - '0'), &acc)) {
            return false;
        }
    }
    *v = acc;
    return true;
}

/* Apply a sign to a magnitude; false when the result does not fit int64. */
static bool signed_from_mag(bool neg, uint64_t mag, int64_t *out)
{
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1u) {
            return false;
        }
        *out = mag == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)mag;
        return true;
    }
    if (mag > (uint64_t)INT64_MAX) {
        return false;
    }
    *out = (int64_t)mag;
    return true;
}

/* |v| without overflow for INT64_MIN. */
static uint64_t mag_of(int64_t v)
{
    return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

/* ---- decimal ---- */

int wd_cedar_decimal_parse(const char *s, size_t n, int64_t *out)
{
    static const int64_t pow10[] = {1, 10, 100, 1000, 10000};
    size_t i = 0;
    bool neg = false;

    /* Grammar ^(-?\d+)\.(\d+)$ (decimal.rs DECIMAL_REGEX). Rust's \d also matches non-ASCII
     * digits, which then fail i64 parsing with an overflow error; we reject them as malformed
     * (both are errors; only the message differs). */
    if (i < n && s[i] == '-') {
        neg = true;
        i++;
    }
    size_t int_from = i;
    while (i < n && is_digit(s[i])) {
        i++;
    }
    size_t int_to = i;
    WD_ENSURE(int_to > int_from, WD_EPROTO);
    WD_ENSURE(i < n && s[i] == '.', WD_EPROTO);
    i++;
    size_t frac_from = i;
    while (i < n && is_digit(s[i])) {
        i++;
    }
    WD_ENSURE(i == n && i > frac_from, WD_EPROTO);

    /* Same order of checks as the reference: the integer part (an i64) and its scaling by
     * 10^4 can overflow before the fraction length is looked at. */
    uint64_t int_mag;
    int64_t l;
    WD_ENSURE(digits_u64(s, int_from, int_to, &int_mag), WD_ELIMIT);
    WD_ENSURE(signed_from_mag(neg, int_mag, &l), WD_ELIMIT);
    WD_ENSURE(!__builtin_mul_overflow(l, pow10[4], &l), WD_ELIMIT);

    size_t frac_len = n - frac_from;
    WD_ENSURE(frac_len <= 4, WD_EPROTO);
    uint64_t frac;
    WD_ENSURE(digits_u64(s, frac_from, n, &frac), WD_ELIMIT);
    int64_t r = (int64_t)frac * pow10[4 - frac_len];

    /* The sign of the text applies to the fraction too: "-0.5" is -5000. */
    int64_t v;
    if (neg) {
        WD_ENSURE(!__builtin_sub_overflow(l, r, &v), WD_ELIMIT);
    } else {
        WD_ENSURE(!__builtin_add_overflow(l, r, &v), WD_ELIMIT);
    }
    *out = v;
    return WD_OK;
}

void wd_cedar_decimal_format(int64_t v, char out[32])
{
    uint64_t mag = mag_of(v);
    unsigned frac = (unsigned)(mag % 10000u);
    char fdig[5];
    (void)snprintf(fdig, sizeof(fdig), "%04u", frac);
    size_t flen = 4;
    while (flen > 1 && fdig[flen - 1] == '0') {
        flen--;
    }
    fdig[flen] = '\0';
    (void)snprintf(out, 32, "%s%llu.%s", v < 0 ? "-" : "", (unsigned long long)(mag / 10000u),
                   fdig);
}

/* ---- ipaddr ---- */

#define IP_STR_MAX_LEN 43 /* len("ABCD:EF01:2345:6789:ABCD:EF01:2345:6789/128"), ipaddr.rs */

/*
 * Rust std::net Ipv4Addr::from_str: exactly four '.'-separated decimal octets, each 1..3
 * ASCII digits, value <= 255, no leading zero unless the octet is "0".
 */
static bool parse_ipv4(const char *s, size_t n, uint8_t addr[4])
{
    size_t i = 0;
    for (int k = 0; k < 4; k++) {
        if (k > 0) {
            if (i >= n || s[i] != '.') {
                return false;
            }
            i++;
        }
        size_t from = i;
        unsigned v = 0;
        while (i < n && is_digit(s[i])) {
            v = v * 10u + (unsigned)(s[i] - '0');
            i++;
            if (i - from > 3) {
                return false;
            }
        }
        if (i == from || v > 255 || (s[from] == '0' && i - from > 1)) {
            return false;
        }
        addr[k] = (uint8_t)v;
    }
    return i == n;
}

/*
 * Read up to `limit` ':'-separated groups of 1..4 hex digits starting at *pos (a separator
 * precedes every group but the first). A group that cannot be read (not a hex digit, or a
 * fifth digit) ends the run without consuming its separator, as Rust's read_groups does.
 * Returns the number of groups read.
 */
static size_t read_groups(const char *s, size_t n, size_t *pos, uint16_t *groups, size_t limit)
{
    size_t i = *pos;
    size_t count = 0;
    while (count < limit) {
        size_t j = i;
        if (count > 0) {
            if (j >= n || s[j] != ':') {
                break;
            }
            j++;
        }
        size_t from = j;
        unsigned v = 0;
        while (j < n && wd_hex_digit_value(s[j]) >= 0) {
            v = v * 16u + (unsigned)wd_hex_digit_value(s[j]);
            j++;
        }
        if (j == from || j - from > 4) {
            break;
        }
        groups[count++] = (uint16_t)v;
        i = j;
    }
    *pos = i;
    return count;
}

/*
 * Rust std::net Ipv6Addr::from_str without the embedded-IPv4 tail (Cedar rejects every string
 * with two ':' and two '.', which covers all of them). "::" stands for at least one zero
 * group, so "1:2:3:4:5:6:7::8" is invalid while "1:2:3:4:5:6:7::" is valid.
 */
static bool parse_ipv6(const char *s, size_t n, uint8_t addr[16])
{
    uint16_t head[8] = {0};
    uint16_t tail[7] = {0};
    size_t i = 0;
    size_t head_n = read_groups(s, n, &i, head, 8);
    size_t tail_n = 0;
    if (head_n < 8) {
        if (i + 1 >= n || s[i] != ':' || s[i + 1] != ':') {
            return false;
        }
        i += 2;
        tail_n = read_groups(s, n, &i, tail, 8 - (head_n + 1));
    }
    if (i != n) {
        return false;
    }
    uint16_t g[8] = {0};
    memcpy(g, head, head_n * sizeof(uint16_t));
    memcpy(g + (8 - tail_n), tail, tail_n * sizeof(uint16_t));
    for (size_t k = 0; k < 8; k++) {
        addr[2 * k] = (uint8_t)(g[k] >> 8);
        addr[2 * k + 1] = (uint8_t)(g[k] & 0xff);
    }
    return true;
}

/* IpAddr::from_str: IPv4 first, then IPv6. */
static bool parse_addr(const char *s, size_t n, struct wd_cedar_ip *ip)
{
    if (parse_ipv4(s, n, ip->addr)) {
        ip->v6 = false;
        return true;
    }
    memset(ip->addr, 0, sizeof(ip->addr));
    if (parse_ipv6(s, n, ip->addr)) {
        ip->v6 = true;
        return true;
    }
    return false;
}

/* ipaddr.rs parse_prefix: length cap, ASCII digits only, no leading zero, <= max. */
static bool parse_prefix(const char *s, size_t n, unsigned max, size_t max_len, uint8_t *out)
{
    if (n == 0 || n > max_len || (s[0] == '0' && n > 1)) {
        return false;
    }
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) {
            return false;
        }
        v = v * 10u + (unsigned)(s[i] - '0');
    }
    if (v > max) {
        return false;
    }
    *out = (uint8_t)v;
    return true;
}

/* True when c occurs at least twice in s[0..n). */
static bool occurs_twice(const char *s, size_t n, char c)
{
    const char *first = n > 0 ? memchr(s, c, n) : NULL;
    if (first == NULL) {
        return false;
    }
    size_t rest = n - (size_t)(first - s) - 1;
    return rest > 0 && memchr(first + 1, c, rest) != NULL;
}

int wd_cedar_ip_parse(const char *s, size_t n, struct wd_cedar_ip *out)
{
    struct wd_cedar_ip ip;
    memset(&ip, 0, sizeof(ip));
    WD_ENSURE(n <= IP_STR_MAX_LEN, WD_EPROTO);
    /* "We do not accept IPv4 embedded in IPv6" (ipaddr.rs str_contains_colons_and_dots). */
    WD_ENSURE(!(occurs_twice(s, n, ':') && occurs_twice(s, n, '.')), WD_EPROTO);

    const char *slash = n > 0 ? memchr(s, '/', n) : NULL;
    size_t addr_len = slash != NULL ? (size_t)(slash - s) : n;
    WD_ENSURE(parse_addr(s, addr_len, &ip), WD_EPROTO);
    if (slash == NULL) {
        ip.prefix = ip.v6 ? 128 : 32;
    } else {
        const char *p = slash + 1;
        size_t plen = n - addr_len - 1;
        WD_ENSURE(ip.v6 ? parse_prefix(p, plen, 128, 3, &ip.prefix)
                        : parse_prefix(p, plen, 32, 2, &ip.prefix),
                  WD_EPROTO);
    }
    *out = ip;
    return WD_OK;
}

static size_t ip_len(const struct wd_cedar_ip *a)
{
    return a->v6 ? 16 : 4;
}

bool wd_cedar_ip_eq(const struct wd_cedar_ip *a, const struct wd_cedar_ip *b)
{
    return a->v6 == b->v6 && a->prefix == b->prefix && memcmp(a->addr, b->addr, ip_len(a)) == 0;
}

bool wd_cedar_ip_is_loopback(const struct wd_cedar_ip *a)
{
    if (!a->v6) {
        return a->addr[0] == 127 && a->prefix >= 8;
    }
    static const uint8_t one[16] = {[15] = 1};
    return memcmp(a->addr, one, 16) == 0 && a->prefix == 128;
}

bool wd_cedar_ip_is_multicast(const struct wd_cedar_ip *a)
{
    if (!a->v6) {
        return (a->addr[0] & 0xf0) == 0xe0 && a->prefix >= 4;
    }
    return a->addr[0] == 0xff && a->prefix >= 8;
}

/* First (network) and last (broadcast) address of a's range, big-endian. */
/* Big-endian load of 8 bytes. */
static uint64_t load_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return v;
#else
    return __builtin_bswap64(v);
#endif
}

/* The network mask of the first `bits` bits of a 64-bit word (bits may exceed 64). */
static uint64_t mask64(unsigned bits)
{
    return bits >= 64 ? ~(uint64_t)0 : bits == 0 ? 0 : ~(uint64_t)0 << (64 - bits);
}

/* An address as a 128-bit big-endian number (IPv4: its 32 bits at the top) and the mask
 * of its prefix, as two 64-bit halves each: the same order as comparing the bytes. */
static void ip_num(const struct wd_cedar_ip *a, uint64_t v[2], uint64_t m[2])
{
    v[0] = load_be64(a->addr);
    v[1] = a->v6 ? load_be64(a->addr + 8) : 0;
    unsigned p = a->prefix;
    m[0] = mask64(p);
    m[1] = mask64(p > 64 ? p - 64 : 0);
    if (!a->v6) {
        /* addr[4..15] are zero for IPv4; only the 32 address bits count. */
        m[0] |= ~mask64(32);
        m[1] = ~(uint64_t)0;
    }
}

bool wd_cedar_ip_in_range(const struct wd_cedar_ip *a, const struct wd_cedar_ip *b)
{
    if (a->v6 != b->v6) {
        return false;
    }
    /* a's range [alo, ahi] inside b's range [blo, bhi], as 128-bit numbers. */
    uint64_t av[2], am[2], bv[2], bm[2];
    ip_num(a, av, am);
    ip_num(b, bv, bm);
    uint64_t alo0 = av[0] & am[0], alo1 = av[1] & am[1];
    uint64_t ahi0 = av[0] | ~am[0], ahi1 = av[1] | ~am[1];
    uint64_t blo0 = bv[0] & bm[0], blo1 = bv[1] & bm[1];
    uint64_t bhi0 = bv[0] | ~bm[0], bhi1 = bv[1] | ~bm[1];
    bool lo_ok = blo0 < alo0 || (blo0 == alo0 && blo1 <= alo1);
    bool hi_ok = ahi0 < bhi0 || (ahi0 == bhi0 && ahi1 <= bhi1);
    return lo_ok && hi_ok;
}

void wd_cedar_ip_format(const struct wd_cedar_ip *a, char out[64])
{
    if (!a->v6) {
        (void)snprintf(out, 64, "%u.%u.%u.%u/%u", a->addr[0], a->addr[1], a->addr[2], a->addr[3],
                       a->prefix);
        return;
    }
    unsigned g[8];
    for (size_t k = 0; k < 8; k++) {
        g[k] = (unsigned)a->addr[2 * k] << 8 | a->addr[2 * k + 1];
    }
    /* RFC 5952 §4.2: compress the longest run of two or more zero groups, the first on a tie. */
    size_t best_at = 8, best_len = 0;
    for (size_t k = 0; k < 8;) {
        if (g[k] != 0) {
            k++;
            continue;
        }
        size_t run = k;
        while (run < 8 && g[run] == 0) {
            run++;
        }
        if (run - k > best_len) {
            best_at = k;
            best_len = run - k;
        }
        k = run;
    }
    if (best_len < 2) {
        best_at = 8;
        best_len = 0;
    }
    size_t o = 0;
    for (size_t k = 0; k < 8; k++) {
        if (k == best_at) {
            o += (size_t)snprintf(out + o, 64 - o, "::");
            k += best_len - 1;
            continue;
        }
        bool sep = k > 0 && k != best_at + best_len;
        o += (size_t)snprintf(out + o, 64 - o, "%s%x", sep ? ":" : "", g[k]);
    }
    (void)snprintf(out + o, 64 - o, "/%u", a->prefix);
}

/* ---- datetime and duration ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Read exactly `count` ASCII digits at s[at..]; false when short or not digits. */
static bool fixed_digits(const char *s, size_t n, size_t at, size_t count, unsigned *v)
{
    if (at + count > n) {
        return false;
    }
    unsigned acc = 0;
    for (size_t i = at; i < at + count; i++) {
        if (!is_digit(s[i])) {
            return false;
        }
        acc = acc * 10u + (unsigned)(s[i] - '0');
    }
    *v = acc;
    return true;
}

int wd_cedar_datetime_parse(const char *s, size_t n, int64_t *ms_out)
{
    unsigned year, mon, day, hh = 0, mi = 0, ss = 0, ms = 0, oh = 0, om = 0;
    bool neg_off = false;

    /* datetime.rs DATE_PATTERN ^([0-9]{4})-([0-9]{2})-([0-9]{2}) */
    WD_ENSURE(fixed_digits(s, n, 0, 4, &year) && n > 4 && s[4] == '-', WD_EPROTO);
    WD_ENSURE(fixed_digits(s, n, 5, 2, &mon) && n > 7 && s[7] == '-', WD_EPROTO);
    WD_ENSURE(fixed_digits(s, n, 8, 2, &day), WD_EPROTO);
    if (n > 10) {
        /* HMS_PATTERN ^T([0-9]{2}):([0-9]{2}):([0-9]{2}) */
        WD_ENSURE(s[10] == 'T', WD_EPROTO);
        WD_ENSURE(fixed_digits(s, n, 11, 2, &hh) && n > 13 && s[13] == ':', WD_EPROTO);
        WD_ENSURE(fixed_digits(s, n, 14, 2, &mi) && n > 16 && s[16] == ':', WD_EPROTO);
        WD_ENSURE(fixed_digits(s, n, 17, 2, &ss), WD_EPROTO);
        /* MS_AND_OFFSET_PATTERN ^(\.([0-9]{3}))?(Z|((\+|-)([0-9]{2})([0-9]{2})))$ */
        size_t i = 19;
        if (i < n && s[i] == '.') {
            WD_ENSURE(fixed_digits(s, n, i + 1, 3, &ms), WD_EPROTO);
            i += 4;
        }
        WD_ENSURE(i < n, WD_EPROTO);
        if (s[i] == 'Z') {
            WD_ENSURE(i + 1 == n, WD_EPROTO);
        } else {
            WD_ENSURE(s[i] == '+' || s[i] == '-', WD_EPROTO);
            neg_off = s[i] == '-';
            WD_ENSURE(i + 5 == n, WD_EPROTO);
            WD_ENSURE(fixed_digits(s, n, i + 1, 2, &oh), WD_EPROTO);
            WD_ENSURE(fixed_digits(s, n, i + 3, 2, &om), WD_EPROTO);
        }
    }

    /* chrono NaiveDate::from_ymd_opt and NaiveTime::from_hms_milli_opt: no 24:00, no leap
     * second 60; UTCOffset::is_valid: hours < 24, minutes < 60. */
    WD_ENSURE(mon >= 1 && mon <= 12 && day >= 1 && day <= days_in_month(year, mon), WD_EPROTO);
    WD_ENSURE(hh < 24 && mi < 60 && ss < 60, WD_EPROTO);
    WD_ENSURE(oh < 24 && om < 60, WD_EPROTO);

    int64_t secs =
            days_from_civil(year, mon, day) * 86400 + (int64_t)hh * 3600 + (int64_t)mi * 60 + ss;
    int64_t off = (int64_t)oh * 3600 + (int64_t)om * 60;
    secs += neg_off ? off : -off;
    *ms_out = secs * 1000 + ms;
    return WD_OK;
}

int wd_cedar_duration_parse(const char *s, size_t n, int64_t *ms_out)
{
    /* datetime.rs DURATION_PATTERN
     * ^-?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$ with "" and "-"
     * rejected. Units are ranked d < h < m < s < ms and must strictly increase. */
    static const uint64_t unit_ms[5] = {86400000u, 3600000u, 60000u, 1000u, 1u};
    uint64_t qty[5] = {0};
    size_t i = 0;
    int last = -1;
    bool neg = false;

    if (i < n && s[i] == '-') {
        neg = true;
        i++;
    }
    WD_ENSURE(i < n, WD_EPROTO);
    bool overflow = false;
    while (i < n) {
        size_t from = i;
        while (i < n && is_digit(s[i])) {
            i++;
        }
        WD_ENSURE(i > from && i < n, WD_EPROTO);
        int unit;
        size_t ulen = 1;
        switch (s[i]) {
        case 'd':
            unit = 0;
            break;
        case 'h':
            unit = 1;
            break;
        case 'm':
            if (i + 1 < n && s[i + 1] == 's') {
                unit = 4;
                ulen = 2;
            } else {
                unit = 2;
            }
            break;
        case 's':
            unit = 3;
            break;
        default:
            return WD_EPROTO;
        }
        WD_ENSURE(unit > last, WD_EPROTO);
        /* A quantity beyond u64 is an overflow error, but only once the whole text has
         * matched the pattern (the reference checks the pattern first). */
        if (!digits_u64(s, from, i, &qty[unit])) {
            overflow = true;
        }
        last = unit;
        i += ulen;
    }
    WD_ENSURE(!overflow, WD_ELIMIT);

    /* All terms share one sign, so the reference's step-by-step checked arithmetic fails
     * exactly when the total magnitude leaves int64 (no term alone can be 2^63 except ms,
     * which it handles through i128). */
    uint64_t total = 0;
    for (size_t u = 0; u < 5; u++) {
        uint64_t term;
        WD_ENSURE(!__builtin_mul_overflow(qty[u], unit_ms[u], &term), WD_ELIMIT);
        WD_ENSURE(!__builtin_add_overflow(total, term, &total), WD_ELIMIT);
    }
    int64_t v;
    WD_ENSURE(signed_from_mag(neg, total, &v), WD_ELIMIT);
    *ms_out = v;
    return WD_OK;
}

int wd_cedar_datetime_offset(int64_t dt, int64_t dur, int64_t *out)
{
    int64_t v;
    WD_ENSURE(!__builtin_add_overflow(dt, dur, &v), WD_ELIMIT);
    *out = v;
    return WD_OK;
}

int wd_cedar_datetime_since(int64_t dt, int64_t other, int64_t *out)
{
    int64_t v;
    WD_ENSURE(!__builtin_sub_overflow(dt, other, &v), WD_ELIMIT);
    *out = v;
    return WD_OK;
}

int wd_cedar_datetime_to_date(int64_t dt, int64_t *out)
{
    int64_t q = dt / MS_PER_DAY;
    if (dt % MS_PER_DAY != 0 && dt < 0) {
        q--;
    }
    int64_t v;
    WD_ENSURE(!__builtin_mul_overflow(q, MS_PER_DAY, &v), WD_ELIMIT);
    *out = v;
    return WD_OK;
}

int wd_cedar_datetime_to_time(int64_t dt, int64_t *out)
{
    int64_t r = dt % MS_PER_DAY;
    *out = r < 0 ? r + MS_PER_DAY : r;
    return WD_OK;
}

int64_t wd_cedar_duration_to_days(int64_t dur)
{
    return dur / MS_PER_DAY;
}

int64_t wd_cedar_duration_to_hours(int64_t dur)
{
    return dur / INT64_C(3600000);
}

int64_t wd_cedar_duration_to_minutes(int64_t dur)
{
    return dur / INT64_C(60000);
}

int64_t wd_cedar_duration_to_seconds(int64_t dur)
{
    return dur / INT64_C(1000);
}

bool wd_cedar_datetime_format(int64_t ms, char out[40])
{
    int64_t date;
    int64_t tod;
    out[0] = '\0';
    if (wd_cedar_datetime_to_date(ms, &date) < 0 || wd_cedar_datetime_to_time(ms, &tod) < 0) {
        return false;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(date / MS_PER_DAY, &y, &m, &d);
    if (y < 0 || y > 9999) {
        return false;
    }
    unsigned msec = (unsigned)(tod % 1000);
    unsigned sec = (unsigned)(tod / 1000 % 60);
    unsigned min = (unsigned)(tod / 60000 % 60);
    unsigned hour = (unsigned)(tod / 3600000);
    if (tod == 0) {
        (void)snprintf(out, 40, "%04u-%02u-%02u", (unsigned)y, m, d);
    } else if (msec == 0) {
        (void)snprintf(out, 40, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)y, m, d, hour, min,
                       sec);
    } else {
        (void)snprintf(out, 40, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", (unsigned)y, m, d, hour, min,
                       sec, msec);
    }
    return true;
}

void wd_cedar_duration_format(int64_t ms, char out[48])
{
    (void)snprintf(out, 48, "%lldms", (long long)ms);
}
