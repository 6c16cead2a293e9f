/*
 * cedar_ext_probe: a line-oriented front end to lib/cedar/ext.c for tests/cedar/ext-diff.mjs
 * (the differential test against @cedar-policy/cedar-wasm) and for poking at values by hand.
 *
 * Each input line is "<op> <arg>..."; an argument is either "x<hex>" (the hex of arbitrary
 * bytes, so "x" alone is the empty string) or a literal token without spaces. Integer
 * arguments are decimal int64. One output line per input line:
 *   decimal S        ok <scaled int64> <format>            | error eproto|elimit
 *   ip S             ok <format> <4|6> <loopback 0|1> <multicast 0|1>  | error ...
 *   ipeq A B         true|false                             | error ...
 *   inrange A B      true|false                             | error ...
 *   datetime S       ok <ms> <format or ->                  | error ...
 *   duration S       ok <ms> <days> <hours> <minutes> <seconds> <format> | error ...
 *   offset DT DUR    ok <ms> | error elimit     (DT + DUR)
 *   since A B        ok <ms> | error elimit     (A - B)
 *   todate MS        ok <date ms> <time ms> | error elimit <time ms>
 *   dtfmt MS         <format> | -
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warden/err.h"

#include "cedar/ext.h"

#define MAX_ARGS 3
#define ARG_MAX  4096

struct arg {
    char b[ARG_MAX];
    size_t n;
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decode one token into a; false when malformed. */
static bool decode(const char *tok, struct arg *a)
{
    size_t len = strlen(tok);
    if (tok[0] != 'x') {
        if (len >= ARG_MAX) {
            return false;
        }
        memcpy(a->b, tok, len);
        a->n = len;
        return true;
    }
    tok++;
    len--;
    if (len % 2 != 0 || len / 2 >= ARG_MAX) {
        return false;
    }
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hexval(tok[2 * i]);
        int lo = hexval(tok[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        a->b[i] = (char)(hi << 4 | lo);
    }
    a->n = len / 2;
    return true;
}

static bool to_i64(const struct arg *a, int64_t *v)
{
    char tmp[32];
    if (a->n == 0 || a->n >= sizeof(tmp)) {
        return false;
    }
    memcpy(tmp, a->b, a->n);
    tmp[a->n] = '\0';
    char *end;
    errno = 0;
    long long x = strtoll(tmp, &end, 10);
    if (errno != 0 || *end != '\0') {
        return false;
    }
    *v = (int64_t)x;
    return true;
}

static const char *errname(int rc)
{
    return rc == WD_ELIMIT ? "elimit" : rc == WD_EPROTO ? "eproto" : "other";
}

static void run(const char *op, struct arg *args, int nargs)
{
    char f[64];
    int rc;
    if (strcmp(op, "decimal") == 0 && nargs == 1) {
        int64_t v;
        rc = wd_cedar_decimal_parse(args[0].b, args[0].n, &v);
        if (rc < 0) {
            printf("error %s\n", errname(rc));
            return;
        }
        wd_cedar_decimal_format(v, f);
        printf("ok %" PRId64 " %s\n", v, f);
    } else if (strcmp(op, "ip") == 0 && nargs == 1) {
        struct wd_cedar_ip ip;
        rc = wd_cedar_ip_parse(args[0].b, args[0].n, &ip);
        if (rc < 0) {
            printf("error %s\n", errname(rc));
            return;
        }
        wd_cedar_ip_format(&ip, f);
        printf("ok %s %d %d %d\n", f, ip.v6 ? 6 : 4, wd_cedar_ip_is_loopback(&ip),
               wd_cedar_ip_is_multicast(&ip));
    } else if ((strcmp(op, "ipeq") == 0 || strcmp(op, "inrange") == 0) && nargs == 2) {
        struct wd_cedar_ip a, b;
        rc = wd_cedar_ip_parse(args[0].b, args[0].n, &a);
        if (rc == WD_OK) {
            rc = wd_cedar_ip_parse(args[1].b, args[1].n, &b);
        }
        if (rc < 0) {
            printf("error %s\n", errname(rc));
            return;
        }
        bool r = op[0] == 'i' && op[1] == 'p' ? wd_cedar_ip_eq(&a, &b)
                                              : wd_cedar_ip_in_range(&a, &b);
        printf("%s\n", r ? "true" : "false");
    } else if (strcmp(op, "datetime") == 0 && nargs == 1) {
        int64_t v;
        rc = wd_cedar_datetime_parse(args[0].b, args[0].n, &v);
        if (rc < 0) {
            printf("error %s\n", errname(rc));
            return;
        }
        char d[40];
        bool ok = wd_cedar_datetime_format(v, d);
        printf("ok %" PRId64 " %s\n", v, ok ? d : "-");
    } else if (strcmp(op, "duration") == 0 && nargs == 1) {
        int64_t v;
        rc = wd_cedar_duration_parse(args[0].b, args[0].n, &v);
        if (rc < 0) {
            printf("error %s\n", errname(rc));
            return;
        }
        char d[48];
        wd_cedar_duration_format(v, d);
        printf("ok %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %s\n", v,
               wd_cedar_duration_to_days(v), wd_cedar_duration_to_hours(v),
               wd_cedar_duration_to_minutes(v), wd_cedar_duration_to_seconds(v), d);
    } else if ((strcmp(op, "offset") == 0 || strcmp(op, "since") == 0) && nargs == 2) {
        int64_t a, b, v;
        if (!to_i64(&args[0], &a) || !to_i64(&args[1], &b)) {
            printf("bad input\n");
            return;
        }
        rc = op[0] == 'o' ? wd_cedar_datetime_offset(a, b, &v) : wd_cedar_datetime_since(a, b, &v);
        if (rc < 0) {
            printf("error %s\n", errname(rc));
            return;
        }
        printf("ok %" PRId64 "\n", v);
    } else if (strcmp(op, "todate") == 0 && nargs == 1) {
        int64_t a, date, tod;
        if (!to_i64(&args[0], &a)) {
            printf("bad input\n");
            return;
        }
        if (wd_cedar_datetime_to_time(a, &tod) < 0) {
            printf("bad to_time\n");
            return;
        }
        rc = wd_cedar_datetime_to_date(a, &date);
        if (rc < 0) {
            printf("error %s %" PRId64 "\n", errname(rc), tod);
            return;
        }
        printf("ok %" PRId64 " %" PRId64 "\n", date, tod);
    } else if (strcmp(op, "dtfmt") == 0 && nargs == 1) {
        int64_t a;
        char d[40];
        if (!to_i64(&args[0], &a)) {
            printf("bad input\n");
            return;
        }
        printf("%s\n", wd_cedar_datetime_format(a, d) ? d : "-");
    } else {
        printf("bad input\n");
    }
}

int main(void)
{
    static char line[4 * ARG_MAX * MAX_ARGS];
    static struct arg args[MAX_ARGS];
    while (fgets(line, sizeof(line), stdin) != NULL) {
        size_t len = strlen(line);
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }
        char *save = NULL;
        char *op = strtok_r(line, " ", &save);
        if (op == NULL) {
            printf("bad input\n");
            continue;
        }
        int nargs = 0;
        bool ok = true;
        for (char *tok = strtok_r(NULL, " ", &save); tok != NULL;
             tok = strtok_r(NULL, " ", &save)) {
            if (nargs == MAX_ARGS || !decode(tok, &args[nargs])) {
                ok = false;
                break;
            }
            nargs++;
        }
        if (!ok) {
            printf("bad input\n");
        } else {
            run(op, args, nargs);
        }
        (void)fflush(stdout);
    }
    return 0;
}
