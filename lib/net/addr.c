/*
 * Listen strings and client URLs. Pure and strict: an operator's typo must fail at start-up
 * with a message naming the rule, not as a connect error later.
 */
#include <string.h>

#include "net_int.h"

/* Host names: letters, digits, '.', '-', '_' (a superset of RFC 1123 labels; the resolver
   has the last word). Nothing that could smuggle a port, path or userinfo. */
static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
           || c == '-' || c == '_';
}

/* Inside brackets: hex digits, ':' and '.' (an embedded IPv4). Zone ids ('%') are not
   supported: they would need percent-decoding (RFC 6874). */
static bool is_v6_char(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':'
           || c == '.';
}

/* "unix:PATH": PATH must fit sun_path with its NUL and hold only visible bytes. */
static int parse_unix(const char *s, size_t n, struct wd_net_addr *out, struct wd_diag *diag)
{
    const char *p = s + 5;
    size_t len = n - 5;
    if (len == 0) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "unix socket path is empty");
    }
    if (len >= sizeof(out->path)) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0,
                           "unix socket path is %zu bytes; at most %zu fit in sun_path", len,
                           sizeof(out->path) - 1);
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c == 0x7f) {
            return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0,
                               "unix socket path has a space or control byte at %zu", i);
        }
    }
    out->kind = WD_NET_UNIX;
    memcpy(out->path, p, len);
    out->path[len] = '\0';
    return WD_OK;
}

/*
 * "HOST[:PORT]" in s[0..n). HOST is a name (letters, digits, . - _) or a bracketed IPv6
 * literal. need_port: the port is mandatory; zero_ok: port 0 is allowed (listen: pick one).
 */
static int parse_hostport(const char *s, size_t n, bool need_port, bool zero_ok,
                          uint16_t default_port, struct wd_net_addr *out, struct wd_diag *diag)
{
    size_t i = 0;
    const char *host;
    size_t host_len;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL) {
            return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "'[' without ']' in address");
        }
        host = s + 1;
        host_len = (size_t)(close - host);
        for (size_t k = 0; k < host_len; k++) {
            if (!is_v6_char(host[k])) {
                return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0,
                                   "invalid character in IPv6 address at %zu", k + 1);
            }
        }
        if (host_len == 0 || memchr(host, ':', host_len) == NULL) {
            return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "bracketed host is not IPv6");
        }
        out->host_v6 = true;
        i = (size_t)(close - s) + 1;
    } else {
        while (i < n && s[i] != ':') {
            if (!is_name_char(s[i])) {
                return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0,
                                   "invalid character in host at %zu (IPv6 needs [brackets])", i);
            }
            i++;
        }
        host = s;
        host_len = i;
        if (host_len == 0) {
            return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "host is empty");
        }
    }
    if (host_len >= sizeof(out->host)) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "host is too long");
    }
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    if (i == n) {
        if (need_port) {
            return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "missing :PORT");
        }
        out->port = default_port;
        return WD_OK;
    }
    if (s[i] != ':') {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "unexpected character after host");
    }
    i++;
    if (i == n) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "empty port");
    }
    uint32_t port = 0;
    size_t digits = 0;
    for (; i < n; i++, digits++) {
        if (s[i] < '0' || s[i] > '9' || digits >= 5) {
            return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "port is not a number 0-65535");
        }
        port = port * 10 + (uint32_t)(s[i] - '0');
    }
    /* Five digits at most (leading zeros included), so the sum cannot overflow. */
    if (port > 65535 || (port == 0 && !zero_ok)) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "port %u is out of range", port);
    }
    out->port = (uint16_t)port;
    return WD_OK;
}

/* Listen strings always name a port (0 asks the kernel to pick one). */
int wd_net_parse_listen(const char *s, size_t n, struct wd_net_addr *out, struct wd_diag *diag)
{
    memset(out, 0, sizeof(*out));
    if (s == NULL || n == 0) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "listen address is empty");
    }
    if (n >= 5 && memcmp(s, "unix:", 5) == 0) {
        return parse_unix(s, n, out, diag);
    }
    out->kind = WD_NET_TCP;
    return parse_hostport(s, n, true, true, 0, out, diag);
}

/* URLs default the port by scheme and refuse port 0 (nothing listens there). */
int wd_net_parse_url(const char *s, size_t n, struct wd_net_addr *out, struct wd_diag *diag)
{
    memset(out, 0, sizeof(*out));
    if (s == NULL || n == 0) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "URL is empty");
    }
    if (n >= 5 && memcmp(s, "unix:", 5) == 0) {
        return parse_unix(s, n, out, diag);
    }
    size_t skip;
    uint16_t port;
    if (n >= 8 && memcmp(s, "https://", 8) == 0) {
        out->tls = true;
        skip = 8;
        port = 443;
    } else if (n >= 7 && memcmp(s, "http://", 7) == 0) {
        skip = 7;
        port = 80;
    } else {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0,
                           "URL must start with https://, http:// or unix:");
    }
    out->kind = WD_NET_TCP;
    n -= skip;
    s += skip;
    /* One trailing "/" is tolerated; a path prefix is not supported. */
    if (n > 0 && s[n - 1] == '/') {
        n--;
    }
    if (memchr(s, '/', n) != NULL || memchr(s, '@', n) != NULL || memchr(s, '?', n) != NULL) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0,
                           "URL may hold only scheme, host and port (no path or userinfo)");
    }
    return parse_hostport(s, n, false, false, port, out, diag);
}
