/*
 * Fuzz harness for lib/cedar/ext.c: the input (at most 256 bytes) goes to every extension-type
 * parser, and each accepted value must survive format -> parse unchanged. When the input holds
 * a '\n', both halves are also parsed and combined (ipaddr equality / isInRange, datetime
 * arithmetic), and the first 16 bytes are read as two raw int64 values for the arithmetic,
 * checking the algebraic properties that must hold whatever the values. Any violation is a
 * WD_BUG_ON abort. Pure: no I/O, no allocation, no state between calls.
 */
#include <stdint.h>
#include <string.h>

#include "warden/common.h"
#include "warden/err.h"

#include "cedar/ext.h"

#define MAX_INPUT  256
#define MS_PER_DAY INT64_C(86400000)
/* 0000-01-01 and 9999-12-31T23:59:59.999Z: the range datetime() literals can express. */
#define DT_LITERAL_MIN INT64_C(-62167219200000)
#define DT_LITERAL_MAX INT64_C(253402300799999)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_decimal(const char *s, size_t n)
{
    int64_t v, back;
    if (wd_cedar_decimal_parse(s, n, &v) != WD_OK) {
        return;
    }
    char out[32];
    wd_cedar_decimal_format(v, out);
    WD_BUG_ON(strlen(out) > 21);
    WD_BUG_ON(wd_cedar_decimal_parse(out, strlen(out), &back) != WD_OK);
    WD_BUG_ON(back != v);
}

static bool check_ip(const char *s, size_t n, struct wd_cedar_ip *ip)
{
    if (wd_cedar_ip_parse(s, n, ip) != WD_OK) {
        return false;
    }
    WD_BUG_ON(ip->prefix > (ip->v6 ? 128 : 32));
    char out[64];
    wd_cedar_ip_format(ip, out);
    WD_BUG_ON(strlen(out) > 43);
    struct wd_cedar_ip back;
    WD_BUG_ON(wd_cedar_ip_parse(out, strlen(out), &back) != WD_OK);
    WD_BUG_ON(!wd_cedar_ip_eq(ip, &back));
    WD_BUG_ON(!wd_cedar_ip_in_range(ip, ip));
    /* loopback and multicast ranges are disjoint */
    WD_BUG_ON(wd_cedar_ip_is_loopback(ip) && wd_cedar_ip_is_multicast(ip));
    return true;
}

static void check_ip_pair(const struct wd_cedar_ip *a, const struct wd_cedar_ip *b)
{
    bool eq = wd_cedar_ip_eq(a, b);
    bool ab = wd_cedar_ip_in_range(a, b);
    bool ba = wd_cedar_ip_in_range(b, a);
    WD_BUG_ON(eq != wd_cedar_ip_eq(b, a));
    WD_BUG_ON(eq && !(ab && ba));
    /* mutual containment means the same range, hence the same prefix length */
    WD_BUG_ON(ab && ba && a->prefix != b->prefix);
    WD_BUG_ON((ab || ba) && a->v6 != b->v6);
}

static void check_time_value(int64_t ms)
{
    char out[48];
    int64_t back, date, tod;
    if (wd_cedar_datetime_format(ms, out)) {
        WD_BUG_ON(ms < DT_LITERAL_MIN || ms > DT_LITERAL_MAX);
        WD_BUG_ON(wd_cedar_datetime_parse(out, strlen(out), &back) != WD_OK);
        WD_BUG_ON(back != ms);
    } else {
        WD_BUG_ON(ms >= DT_LITERAL_MIN && ms <= DT_LITERAL_MAX);
    }
    wd_cedar_duration_format(ms, out);
    WD_BUG_ON(wd_cedar_duration_parse(out, strlen(out), &back) != WD_OK);
    WD_BUG_ON(back != ms);

    WD_BUG_ON(wd_cedar_datetime_to_time(ms, &tod) != WD_OK);
    WD_BUG_ON(tod < 0 || tod >= MS_PER_DAY);
    if (wd_cedar_datetime_to_date(ms, &date) == WD_OK) {
        WD_BUG_ON(date % MS_PER_DAY != 0);
        WD_BUG_ON(date + tod != ms);
    } else {
        WD_BUG_ON(ms >= INT64_MIN + MS_PER_DAY); /* only the first partial day overflows */
    }
    WD_BUG_ON(wd_cedar_duration_to_hours(ms) / 24 != wd_cedar_duration_to_days(ms));
    WD_BUG_ON(wd_cedar_duration_to_minutes(ms) / 60 != wd_cedar_duration_to_hours(ms));
    WD_BUG_ON(wd_cedar_duration_to_seconds(ms) / 60 != wd_cedar_duration_to_minutes(ms));
    WD_BUG_ON(ms / 1000 != wd_cedar_duration_to_seconds(ms));
}

static void check_time_pair(int64_t a, int64_t b)
{
    int64_t d, back;
    if (wd_cedar_datetime_since(a, b, &d) == WD_OK) {
        WD_BUG_ON(wd_cedar_datetime_offset(b, d, &back) != WD_OK);
        WD_BUG_ON(back != a);
    }
    if (wd_cedar_datetime_offset(a, b, &d) == WD_OK) {
        WD_BUG_ON(wd_cedar_datetime_since(d, a, &back) != WD_OK);
        WD_BUG_ON(back != b);
    } else {
        /* overflow only when both have the same sign */
        WD_BUG_ON((a < 0) != (b < 0));
    }
}

/* Parse one slice with every parser; returns the number of int64 values stored in ms[]. */
static size_t check_all(const char *s, size_t n, int64_t ms[2], struct wd_cedar_ip *ip, bool *ip_ok)
{
    size_t k = 0;
    int64_t v;
    check_decimal(s, n);
    *ip_ok = check_ip(s, n, ip);
    if (wd_cedar_datetime_parse(s, n, &v) == WD_OK) {
        WD_BUG_ON(v < DT_LITERAL_MIN - MS_PER_DAY || v > DT_LITERAL_MAX + MS_PER_DAY);
        check_time_value(v);
        ms[k++] = v;
    }
    if (wd_cedar_duration_parse(s, n, &v) == WD_OK) {
        check_time_value(v);
        ms[k++] = v;
    }
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    const char *s = (const char *)data;
    int64_t ms_a[2], ms_b[2];
    struct wd_cedar_ip ip_a, ip_b;
    bool ok_a, ok_b;

    (void)check_all(s, size, ms_a, &ip_a, &ok_a);

    const char *nl = size > 0 ? memchr(s, '\n', size) : NULL;
    if (nl != NULL) {
        size_t na = (size_t)(nl - s);
        size_t ka = check_all(s, na, ms_a, &ip_a, &ok_a);
        size_t kb = check_all(nl + 1, size - na - 1, ms_b, &ip_b, &ok_b);
        if (ok_a && ok_b) {
            check_ip_pair(&ip_a, &ip_b);
        }
        for (size_t i = 0; i < ka; i++) {
            for (size_t j = 0; j < kb; j++) {
                check_time_pair(ms_a[i], ms_b[j]);
            }
        }
    }

    if (size >= 16) {
        int64_t a, b;
        memcpy(&a, data, sizeof(a));
        memcpy(&b, data + 8, sizeof(b));
        check_time_value(a);
        check_time_value(b);
        check_time_pair(a, b);
        /* the raw bytes as an address, under two prefixes */
        struct wd_cedar_ip x, y;
        memset(&x, 0, sizeof(x));
        memset(&y, 0, sizeof(y));
        x.v6 = y.v6 = (data[0] & 1) != 0;
        memcpy(x.addr, data, x.v6 ? 16 : 4);
        x.prefix = (uint8_t)(data[15] % (x.v6 ? 129 : 33));
        char out[64];
        wd_cedar_ip_format(&x, out);
        WD_BUG_ON(!check_ip(out, strlen(out), &y) || !wd_cedar_ip_eq(&x, &y));
        /* the same address under another prefix */
        y.prefix = (uint8_t)(data[14] % (x.v6 ? 129 : 33));
        WD_BUG_ON(wd_cedar_ip_in_range(&x, &y) != (y.prefix <= x.prefix));
        check_ip_pair(&x, &y);
    }
    return 0;
}
