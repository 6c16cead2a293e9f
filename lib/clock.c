/* Wall and monotonic time, pinnable for tests; RFC 3339 and duration text. */
#include "warden/clock.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "warden/err.h"

static bool pinned;
static int64_t pinned_now;

int64_t wd_time_now(void)
{
    if (pinned) {
        return pinned_now;
    }
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

int64_t wd_time_now_ms(void)
{
    if (pinned) {
        return pinned_now * 1000;
    }
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t wd_time_mono_ms(void)
{
    if (pinned) {
        return pinned_now * 1000;
    }
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void wd_clock_pin(int64_t t)
{
    pinned = true;
    pinned_now = t;
}

void wd_clock_advance(int64_t seconds)
{
    pinned_now += seconds;
}

void wd_clock_unpin(void)
{
    pinned = false;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's method). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

char *wd_time_format(int64_t t, char out[21])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        memcpy(out, "0000-00-00T00:00:00Z", 21);
        return out;
    }
    /* Every field is range-checked above or by gmtime_r, so the text is exactly 20 bytes. */
    (void)snprintf(out, 21, "%04u-%02u-%02uT%02u:%02u:%02uZ",
                   (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
                   (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
                   (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u);
    return out;
}

/* Read exactly n decimal digits. */
static bool digits(const char **s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*s)[i];
        if (c < '0' || c > '9') {
            return false;
        }
        v = v * 10 + (c - '0');
    }
    *s += n;
    *out = v;
    return true;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int wd_time_parse(const char *s, int64_t *out)
{
    /* A plain integer is Unix seconds. */
    if (*s != '\0' && strspn(s, "0123456789") == strlen(s)) {
        if (strlen(s) > 12) {
            return WD_EPROTO;
        }
        int64_t v = 0;
        for (; *s; s++) {
            v = v * 10 + (*s - '0');
        }
        *out = v;
        return WD_OK;
    }
    /* RFC 3339 §5.6: full-date "T" full-time, time-offset "Z" or +hh:mm / -hh:mm. */
    int y, mo, d, h, mi, se;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) || *s++ != '-'
        || !digits(&s, 2, &d) || (*s != 'T' && *s != 't')) {
        return WD_EPROTO;
    }
    s++;
    if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi) || *s++ != ':'
        || !digits(&s, 2, &se)) {
        return WD_EPROTO;
    }
    if (*s == '.') {
        s++;
        size_t nd = strspn(s, "0123456789");
        if (nd == 0) {
            return WD_EPROTO;
        }
        s += nd; /* sub-second precision is accepted and dropped */
    }
    int off = 0;
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        int sign = *s++ == '-' ? -1 : 1;
        int oh, om;
        if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om) || oh > 23 || om > 59) {
            return WD_EPROTO;
        }
        off = sign * (oh * 3600 + om * 60);
    } else {
        return WD_EPROTO;
    }
    if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 60) {
        return WD_EPROTO;
    }
    int maxd = mdays[mo - 1] + (mo == 2 && is_leap(y) ? 1 : 0);
    if (d > maxd) {
        return WD_EPROTO;
    }
    if (se == 60) {
        se = 59; /* a leap second is read as the second before it */
    }
    *out = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + (int64_t)h * 3600
           + (int64_t)mi * 60 + se - off;
    return WD_OK;
}

int wd_duration_parse(const char *s, int64_t *ms_out)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
    int64_t total = 0;
    size_t next_unit = 0;
    bool any = false;
    while (*s != '\0') {
        size_t nd = strspn(s, "0123456789");
        if (nd == 0 || nd > 15) {
            return nd == 0 ? WD_EPROTO : WD_ELIMIT;
        }
        int64_t v = 0;
        for (size_t i = 0; i < nd; i++) {
            v = v * 10 + (s[i] - '0');
        }
        s += nd;
        size_t ul = strspn(s, "dhms");
        size_t k;
        for (k = next_unit; k < sizeof(units) / sizeof(units[0]); k++) {
            if (strlen(units[k].unit) == ul && strncmp(s, units[k].unit, ul) == 0) {
                break;
            }
        }
        if (ul == 0 || k == sizeof(units) / sizeof(units[0])) {
            return WD_EPROTO;
        }
        if (v > (INT64_MAX - total) / units[k].ms) {
            return WD_ELIMIT;
        }
        total += v * units[k].ms;
        next_unit = k + 1;
        s += ul;
        any = true;
    }
    if (!any) {
        return WD_EPROTO;
    }
    *ms_out = total;
    return WD_OK;
}
