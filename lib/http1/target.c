/*
 * Request-target and authority checks: RFC 9112 §3.2 (the four forms), RFC 3986 §3 (URI
 * syntax) and RFC 9110 §4.2 (http/https URIs). The per-byte scan in parse.c has already
 * refused bytes that can never appear in a URI (controls, SP, DQUOTE, "<", ">", "\", "^",
 * "`", "{", "|", "}", "#" and non-ASCII); here the structure is checked.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1_int.h"

/* "%" HEXDIG HEXDIG at a[i] (RFC 3986 §2.1). */
static bool pct_ok(const uint8_t *a, size_t n, size_t i)
{
    return i + 2 < n && cc_is(a[i + 1], CC_HEX) && cc_is(a[i + 2], CC_HEX);
}

/*
 * path / query characters from a[i] up to a stop byte: pchar, "/" and, when in_query, "?"
 * (RFC 3986 §3.3, §3.4). Returns the reason or NONE and the index of the stop in *end.
 */
static enum wd_http1_reason scan_path(const uint8_t *a, size_t n, size_t i, bool in_query,
                                      size_t *end)
{
    for (; i < n; i++) {
        uint8_t c = a[i];
        if (c == '?' && !in_query) {
            break;
        }
        if (c == '%') {
            if (!pct_ok(a, n, i)) {
                return WD_HTTP1_R_TARGET_PCT;
            }
            i += 2;
            continue;
        }
        if (!cc_is(c, CC_PCHAR) && c != '/' && c != '?') {
            /* "[", "]" are gen-delims allowed only inside an IP-literal authority. */
            return WD_HTTP1_R_TARGET_CHAR;
        }
    }
    *end = i;
    return WD_HTTP1_R_NONE;
}

/* IP-literal = "[" ( IPv6address / IPvFuture ) "]" (RFC 3986 §3.2.2), contents only. */
static bool ip_literal_ok(const uint8_t *a, size_t n)
{
    if (n == 0) {
        return false;
    }
    if (a[0] == 'v' || a[0] == 'V') {
        /* IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ) */
        size_t i = 1;
        while (i < n && cc_is(a[i], CC_HEX)) {
            i++;
        }
        if (i == 1 || i >= n || a[i] != '.' || i + 1 >= n) {
            return false;
        }
        for (i++; i < n; i++) {
            if (!cc_is(a[i], CC_REGNAME) && a[i] != ':') {
                return false;
            }
        }
        return true;
    }
    /*
     * IPv6address: hex groups, ":" and an optional dotted IPv4 tail. The full grammar is not
     * enforced (the address is not interpreted here) but only these characters pass, and at
     * least one ":" is required.
     */
    bool colon = false;
    for (size_t i = 0; i < n; i++) {
        if (a[i] == ':') {
            colon = true;
        } else if (!cc_is(a[i], CC_HEX) && a[i] != '.') {
            return false;
        }
    }
    return colon;
}

enum wd_http1_reason wd_http1_check_authority(const uint8_t *a, size_t n, bool require_host,
                                              bool require_port)
{
    size_t i = 0;
    for (size_t j = 0; j < n; j++) {
        /* RFC 9110 §4.2.4: userinfo is deprecated in http(s) URIs and treated as an error;
         * in Host and authority-form it is not part of the grammar at all. */
        if (a[j] == '@') {
            return WD_HTTP1_R_TARGET_USERINFO;
        }
    }
    if (n > 0 && a[0] == '[') {
        size_t close = 1;
        while (close < n && a[close] != ']') {
            close++;
        }
        if (close == n || !ip_literal_ok(a + 1, close - 1)) {
            return WD_HTTP1_R_TARGET_FORM;
        }
        i = close + 1;
    } else {
        /* reg-name / IPv4address = *( unreserved / pct-encoded / sub-delims ) */
        while (i < n && a[i] != ':') {
            if (a[i] == '%') {
                if (!pct_ok(a, n, i)) {
                    return WD_HTTP1_R_TARGET_PCT;
                }
                i += 3;
                continue;
            }
            if (!cc_is(a[i], CC_REGNAME)) {
                return WD_HTTP1_R_TARGET_CHAR;
            }
            i++;
        }
    }
    if (require_host && i == 0) {
        return WD_HTTP1_R_TARGET_FORM;
    }
    if (i == n) {
        return require_port ? WD_HTTP1_R_TARGET_FORM : WD_HTTP1_R_NONE;
    }
    if (a[i] != ':') {
        return WD_HTTP1_R_TARGET_FORM;
    }
    /* port = *DIGIT; warden wants it to be a real TCP port: at most 65535. */
    uint32_t port = 0;
    size_t digits = 0;
    for (i++; i < n; i++, digits++) {
        if (a[i] < '0' || a[i] > '9' || digits == 5) {
            return WD_HTTP1_R_TARGET_FORM;
        }
        port = port * 10 + (uint32_t)(a[i] - '0');
    }
    if (port > 65535 || (require_port && digits == 0)) {
        return WD_HTTP1_R_TARGET_FORM;
    }
    return WD_HTTP1_R_NONE;
}

static void set_span(struct wd_http1_parser *p, unsigned which, size_t off, size_t len)
{
    p->sp[which].off = (uint32_t)off;
    p->sp[which].len = (uint32_t)len;
}

/* origin-form = absolute-path [ "?" query ], or the path-abempty of an absolute-URI. */
static enum wd_http1_reason path_query(struct wd_http1_parser *p, const uint8_t *t, size_t n,
                                       size_t i, size_t base)
{
    size_t stop = i;
    enum wd_http1_reason r = scan_path(t, n, i, false, &stop);
    if (r != WD_HTTP1_R_NONE) {
        return r;
    }
    set_span(p, SP_PATH, base + i, stop - i);
    if (stop < n) {
        size_t qend = stop + 1;
        r = scan_path(t, n, stop + 1, true, &qend);
        if (r != WD_HTTP1_R_NONE) {
            return r;
        }
        set_span(p, SP_QUERY, base + stop + 1, n - stop - 1);
        p->msg.has_query = true;
    }
    return WD_HTTP1_R_NONE;
}

enum wd_http1_reason wd_http1_check_target(struct wd_http1_parser *p, const uint8_t *r,
                                           enum wd_http1_method m)
{
    size_t base = p->sp[SP_TARGET].off;
    size_t n = p->sp[SP_TARGET].len;
    const uint8_t *t = r + base;

    if (m == WD_HTTP1_CONNECT) {
        /* RFC 9112 §3.2.3: CONNECT takes authority-form = uri-host ":" port, only. */
        p->msg.form = WD_HTTP1_FORM_AUTHORITY;
        set_span(p, SP_AUTHORITY, base, n);
        return wd_http1_check_authority(t, n, true, true);
    }
    if (t[0] == '/') {
        p->msg.form = WD_HTTP1_FORM_ORIGIN;
        return path_query(p, t, n, 0, base);
    }
    if (n == 1 && t[0] == '*') {
        /* RFC 9112 §3.2.4: asterisk-form is only for a server-wide OPTIONS. */
        if (m != WD_HTTP1_OPTIONS) {
            return WD_HTTP1_R_TARGET_FORM;
        }
        p->msg.form = WD_HTTP1_FORM_ASTERISK;
        set_span(p, SP_PATH, base, 1);
        return WD_HTTP1_R_NONE;
    }
    /* RFC 9112 §3.2.2 absolute-form = absolute-URI = scheme ":" hier-part [ "?" query ] */
    p->msg.form = WD_HTTP1_FORM_ABSOLUTE;
    size_t i = 0;
    if (!((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z'))) {
        return WD_HTTP1_R_TARGET_FORM;
    }
    while (i < n && cc_is(t[i], CC_SCHEME)) {
        i++;
    }
    if (i == n || t[i] != ':') {
        return WD_HTTP1_R_TARGET_FORM;
    }
    set_span(p, SP_SCHEME, base, i);
    /*
     * absolute-URI allows any scheme, but warden forwards only http and https, and these
     * always have an authority with a non-empty host (RFC 9110 §4.2.1, §4.2.2). This also
     * keeps "host:443" (a valid absolute-URI with scheme "host") out of GET requests.
     */
    if (!wd_http1_ieq(t, i, "http") && !wd_http1_ieq(t, i, "https")) {
        return WD_HTTP1_R_TARGET_FORM;
    }
    i++;
    if (i + 1 >= n || t[i] != '/' || t[i + 1] != '/') {
        return WD_HTTP1_R_TARGET_FORM;
    }
    size_t a = i + 2, e = a;
    while (e < n && t[e] != '/' && t[e] != '?') {
        e++;
    }
    enum wd_http1_reason rr = wd_http1_check_authority(t + a, e - a, true, false);
    if (rr != WD_HTTP1_R_NONE) {
        return rr;
    }
    set_span(p, SP_AUTHORITY, base + a, e - a);
    return path_query(p, t, n, e, base);
}
