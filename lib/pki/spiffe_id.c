/*
 * SPIFFE ID and trust domain parsing (SPIFFE-ID §2). A single left-to-right scan; the first
 * rule broken is reported with its byte offset. The rules leave exactly one spelling for
 * each ID (lower-case scheme and trust domain, no percent-encoding, no dot segments), so
 * IDs compare as plain bytes.
 */
#include <stdint.h>
#include <string.h>

#include "warden/spiffe.h"

#define SCHEME     "spiffe://"
#define SCHEME_LEN 9

static const char *const err_names[] = {
        [WD_SPIFFE_OK] = "ok",
        [WD_SPIFFE_EMPTY] = "empty",
        [WD_SPIFFE_TOO_LONG] = "too-long",
        [WD_SPIFFE_BAD_SCHEME] = "bad-scheme",
        [WD_SPIFFE_TD_EMPTY] = "td-empty",
        [WD_SPIFFE_TD_TOO_LONG] = "td-too-long",
        [WD_SPIFFE_TD_UPPER] = "td-upper-case",
        [WD_SPIFFE_TD_BAD_CHAR] = "td-bad-char",
        [WD_SPIFFE_TD_PORT] = "td-port",
        [WD_SPIFFE_TD_USERINFO] = "td-userinfo",
        [WD_SPIFFE_PERCENT] = "percent-encoding",
        [WD_SPIFFE_QUERY] = "query",
        [WD_SPIFFE_FRAGMENT] = "fragment",
        [WD_SPIFFE_PATH_EMPTY_SEGMENT] = "path-empty-segment",
        [WD_SPIFFE_PATH_DOT_SEGMENT] = "path-dot-segment",
        [WD_SPIFFE_PATH_TRAILING_SLASH] = "path-trailing-slash",
        [WD_SPIFFE_PATH_BAD_CHAR] = "path-bad-char",
        [WD_SPIFFE_TD_HAS_PATH] = "td-has-path",
};

const char *wd_spiffe_err_name(enum wd_spiffe_err e)
{
    if ((size_t)e < WD_ARRAY_LEN(err_names) && err_names[e] != NULL) {
        return err_names[e];
    }
    return "unknown";
}

/* SPIFFE-ID §2.1: trust domain characters are [a-z0-9.-_]. */
static bool td_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

/* SPIFFE-ID §2.2: path segment characters are [a-zA-Z0-9.-_]. */
static bool seg_char(uint8_t c)
{
    return td_char(c) || (c >= 'A' && c <= 'Z');
}

/* Quote one byte for a message: 'x' when printable, else \xHH. */
static const char *show(uint8_t c, char out[8])
{
    static const char hex[] = "0123456789abcdef";
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
        out[0] = '\'';
        out[1] = (char)c;
        out[2] = '\'';
        out[3] = '\0';
    } else {
        out[0] = '\\';
        out[1] = 'x';
        out[2] = hex[c >> 4];
        out[3] = hex[c & 15];
        out[4] = '\0';
    }
    return out;
}

static int fail(enum wd_spiffe_err e, size_t pos, uint8_t c, enum wd_spiffe_err *why,
                struct wd_diag *diag)
{
    char q[8];
    if (why != NULL) {
        *why = e;
    }
    switch (e) {
    case WD_SPIFFE_EMPTY:
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "spiffe: ID is empty");
    case WD_SPIFFE_TOO_LONG:
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "spiffe: ID is %zu bytes, more than the %d-byte limit", pos,
                           WD_SPIFFE_ID_MAX);
    case WD_SPIFFE_BAD_SCHEME:
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "spiffe: ID must start with \"spiffe://\" (scheme 'spiffe' in lower "
                           "case)");
    case WD_SPIFFE_TD_EMPTY:
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "spiffe: trust domain is empty");
    case WD_SPIFFE_TD_TOO_LONG:
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "spiffe: trust domain is longer than %d bytes", WD_SPIFFE_TD_MAX);
    case WD_SPIFFE_TD_UPPER:
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "spiffe: trust domain contains an upper-case character %s at %zu "
                           "(trust domains are lower case)",
                           show(c, q), pos);
    case WD_SPIFFE_TD_BAD_CHAR:
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "spiffe: trust domain contains an invalid character %s at %zu "
                           "(allowed: a-z 0-9 . - _)",
                           show(c, q), pos);
    case WD_SPIFFE_TD_PORT:
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "spiffe: trust domain has a port (':' at %zu); ports are not allowed",
                           pos);
    case WD_SPIFFE_TD_USERINFO:
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "spiffe: trust domain has user info ('@' at %zu); user info is not "
                           "allowed",
                           pos);
    case WD_SPIFFE_PERCENT:
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "spiffe: percent-encoding ('%%' at %zu) is not allowed", pos);
    case WD_SPIFFE_QUERY:
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "spiffe: a query ('?' at %zu) is not allowed", pos);
    case WD_SPIFFE_FRAGMENT:
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "spiffe: a fragment ('#' at %zu) is not allowed", pos);
    case WD_SPIFFE_PATH_EMPTY_SEGMENT:
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "spiffe: path contains an empty segment ('//' at %zu)", pos);
    case WD_SPIFFE_PATH_DOT_SEGMENT:
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "spiffe: path contains a '.' or '..' segment at %zu", pos);
    case WD_SPIFFE_PATH_TRAILING_SLASH:
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "spiffe: path ends with a slash (at %zu)",
                           pos);
    case WD_SPIFFE_PATH_BAD_CHAR:
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "spiffe: path segment contains an invalid character %s at %zu "
                           "(allowed: a-z A-Z 0-9 . - _)",
                           show(c, q), pos);
    case WD_SPIFFE_TD_HAS_PATH:
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "spiffe: a trust domain name has no path ('/' at %zu)", pos);
    case WD_SPIFFE_OK:
        break;
    }
    WD_BUG_ON(1);
    return WD_EINVAL;
}

/*
 * Check the authority s[start..) up to the first '/' (or the end); returns its length via
 * *td_end. SPIFFE-ID §2.1: host only, non-empty, [a-z0-9.-_], no userinfo, no port, no
 * percent-encoding. '?' and '#' end an authority in RFC 3986 §3.2, so they are reported as a
 * query or a fragment.
 */
static int scan_td(const uint8_t *s, size_t n, size_t start, size_t *td_end,
                   enum wd_spiffe_err *why, struct wd_diag *diag)
{
    size_t end = start;
    while (end < n && s[end] != '/' && s[end] != '?' && s[end] != '#') {
        end++;
    }
    /* Userinfo is reported before anything else: "user:pw@host" is not a port problem. */
    for (size_t i = start; i < end; i++) {
        if (s[i] == '@') {
            return fail(WD_SPIFFE_TD_USERINFO, i, s[i], why, diag);
        }
    }
    for (size_t i = start; i < end; i++) {
        uint8_t c = s[i];
        if (td_char(c)) {
            continue;
        }
        if (c == ':') {
            return fail(WD_SPIFFE_TD_PORT, i, c, why, diag);
        }
        if (c == '%') {
            return fail(WD_SPIFFE_PERCENT, i, c, why, diag);
        }
        if (c >= 'A' && c <= 'Z') {
            return fail(WD_SPIFFE_TD_UPPER, i, c, why, diag);
        }
        return fail(WD_SPIFFE_TD_BAD_CHAR, i, c, why, diag);
    }
    if (end == start) {
        return fail(WD_SPIFFE_TD_EMPTY, start, 0, why, diag);
    }
    if (end - start > WD_SPIFFE_TD_MAX) {
        return fail(WD_SPIFFE_TD_TOO_LONG, start, 0, why, diag);
    }
    if (end < n && s[end] == '?') {
        return fail(WD_SPIFFE_QUERY, end, s[end], why, diag);
    }
    if (end < n && s[end] == '#') {
        return fail(WD_SPIFFE_FRAGMENT, end, s[end], why, diag);
    }
    *td_end = end;
    return WD_OK;
}

/* Check the path s[start..n): "" or one or more "/segment" (SPIFFE-ID §2.2). */
static int scan_path(const uint8_t *s, size_t n, size_t start, enum wd_spiffe_err *why,
                     struct wd_diag *diag)
{
    size_t i = start;
    while (i < n) {
        /* s[i] is '/' here: the authority scan and the segment loop both stop only there. */
        size_t seg = i + 1;
        size_t j = seg;
        while (j < n && s[j] != '/') {
            uint8_t c = s[j];
            if (!seg_char(c)) {
                if (c == '%') {
                    return fail(WD_SPIFFE_PERCENT, j, c, why, diag);
                }
                if (c == '?') {
                    return fail(WD_SPIFFE_QUERY, j, c, why, diag);
                }
                if (c == '#') {
                    return fail(WD_SPIFFE_FRAGMENT, j, c, why, diag);
                }
                return fail(WD_SPIFFE_PATH_BAD_CHAR, j, c, why, diag);
            }
            j++;
        }
        size_t len = j - seg;
        if (len == 0) {
            return fail(j == n ? WD_SPIFFE_PATH_TRAILING_SLASH : WD_SPIFFE_PATH_EMPTY_SEGMENT, i,
                        '/', why, diag);
        }
        if ((len == 1 && s[seg] == '.') || (len == 2 && s[seg] == '.' && s[seg + 1] == '.')) {
            return fail(WD_SPIFFE_PATH_DOT_SEGMENT, seg, '.', why, diag);
        }
        i = j;
    }
    return WD_OK;
}

int wd_spiffe_id_parse(const char *str, size_t n, struct wd_spiffe_id *out, enum wd_spiffe_err *why,
                       struct wd_diag *diag)
{
    const uint8_t *s = (const uint8_t *)str;
    if (why != NULL) {
        *why = WD_SPIFFE_OK;
    }
    if (n == 0) {
        return fail(WD_SPIFFE_EMPTY, 0, 0, why, diag);
    }
    if (n > WD_SPIFFE_ID_MAX) {
        return fail(WD_SPIFFE_TOO_LONG, n, 0, why, diag);
    }
    /* SPIFFE-ID §2: the scheme is "spiffe"; warden accepts only the lower-case spelling so
     * that every ID has a single byte representation. */
    if (n < SCHEME_LEN || memcmp(s, SCHEME, SCHEME_LEN) != 0) {
        return fail(WD_SPIFFE_BAD_SCHEME, 0, 0, why, diag);
    }
    size_t td_end = 0;
    WD_TRY(scan_td(s, n, SCHEME_LEN, &td_end, why, diag));
    WD_TRY(scan_path(s, n, td_end, why, diag));
    memcpy(out->str, s, n);
    out->str[n] = '\0';
    out->len = n;
    out->td_len = td_end - SCHEME_LEN;
    return WD_OK;
}

int wd_spiffe_td_parse(const char *str, size_t n, struct wd_spiffe_td *out, enum wd_spiffe_err *why,
                       struct wd_diag *diag)
{
    const uint8_t *s = (const uint8_t *)str;
    if (why != NULL) {
        *why = WD_SPIFFE_OK;
    }
    if (n == 0) {
        return fail(WD_SPIFFE_EMPTY, 0, 0, why, diag);
    }
    size_t start = 0;
    if (n >= SCHEME_LEN && memcmp(s, SCHEME, SCHEME_LEN) == 0) {
        start = SCHEME_LEN;
    } else {
        /* A bare name must not look like some other URI ("SPIFFE://x", "https://x"). */
        for (size_t i = 0; i + 2 < n; i++) {
            if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
                return fail(WD_SPIFFE_BAD_SCHEME, 0, 0, why, diag);
            }
        }
    }
    size_t td_end = 0;
    WD_TRY(scan_td(s, n, start, &td_end, why, diag));
    if (td_end < n) {
        return fail(WD_SPIFFE_TD_HAS_PATH, td_end, s[td_end], why, diag);
    }
    memcpy(out->name, s + start, td_end - start);
    out->name[td_end - start] = '\0';
    out->len = td_end - start;
    return WD_OK;
}

int wd_spiffe_id_make(const struct wd_spiffe_td *td, const char *path, struct wd_spiffe_id *out,
                      enum wd_spiffe_err *why, struct wd_diag *diag)
{
    size_t plen = strlen(path);
    /* Too long before concatenating: report the length the ID would have had. */
    if (SCHEME_LEN + td->len + plen > WD_SPIFFE_ID_MAX) {
        return fail(WD_SPIFFE_TOO_LONG, SCHEME_LEN + td->len + plen, 0, why, diag);
    }
    char tmp[WD_SPIFFE_ID_MAX + 1];
    memcpy(tmp, SCHEME, SCHEME_LEN);
    memcpy(tmp + SCHEME_LEN, td->name, td->len);
    memcpy(tmp + SCHEME_LEN + td->len, path, plen);
    if (plen > 0 && path[0] != '/') {
        /* "spiffe://tdpath" would silently change the trust domain. */
        return fail(WD_SPIFFE_PATH_BAD_CHAR, SCHEME_LEN + td->len, (uint8_t)path[0], why, diag);
    }
    return wd_spiffe_id_parse(tmp, SCHEME_LEN + td->len + plen, out, why, diag);
}

void wd_spiffe_id_td(const struct wd_spiffe_id *id, struct wd_spiffe_td *out)
{
    memcpy(out->name, id->str + SCHEME_LEN, id->td_len);
    out->name[id->td_len] = '\0';
    out->len = id->td_len;
}

const char *wd_spiffe_id_path(const struct wd_spiffe_id *id)
{
    return id->str + SCHEME_LEN + id->td_len;
}

bool wd_spiffe_id_member_of(const struct wd_spiffe_id *id, const struct wd_spiffe_td *td)
{
    return id->td_len == td->len && memcmp(id->str + SCHEME_LEN, td->name, td->len) == 0;
}

bool wd_spiffe_id_eq(const struct wd_spiffe_id *a, const struct wd_spiffe_id *b)
{
    return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
}

bool wd_spiffe_td_eq(const struct wd_spiffe_td *a, const struct wd_spiffe_td *b)
{
    return a->len == b->len && memcmp(a->name, b->name, a->len) == 0;
}
