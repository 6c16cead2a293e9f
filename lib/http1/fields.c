/*
 * Field semantics for lib/http1: the fields that decide framing, routing and the
 * connection (Content-Length, Transfer-Encoding, Host, Connection, Upgrade, Expect), the
 * method table, and the reason table. Everything here works on complete field lines of a
 * head or trailer region that parse.c has already checked character by character.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "warden/http1.h"

#include "http1_int.h"

bool wd_http1_ieq(const uint8_t *p, size_t n, const char *lower)
{
    size_t i = 0;
    for (; i < n; i++) {
        uint8_t c = p[i];
        if (c >= 'A' && c <= 'Z') {
            c = (uint8_t)(c - 'A' + 'a');
        }
        if (lower[i] == '\0' || (uint8_t)lower[i] != c) {
            return false;
        }
    }
    return lower[i] == '\0';
}

/*
 * The IANA HTTP Method Registry (RFC 9110 §16.1), minus PRI: "PRI * HTTP/2.0" is the
 * HTTP/2 connection preface (RFC 9113 §3.4), never an HTTP/1.1 request. QUERY is the safe
 * method with content of draft-ietf-httpbis-safe-method-w-body. Methods are case-sensitive
 * (RFC 9110 §9.1). The common ones come first.
 */
static const struct {
    const char *name;
    enum wd_http1_method m;
} methods[] = {
        {"GET", WD_HTTP1_GET},
        {"POST", WD_HTTP1_POST},
        {"HEAD", WD_HTTP1_HEAD},
        {"PUT", WD_HTTP1_PUT},
        {"DELETE", WD_HTTP1_DELETE},
        {"OPTIONS", WD_HTTP1_OPTIONS},
        {"PATCH", WD_HTTP1_PATCH},
        {"CONNECT", WD_HTTP1_CONNECT},
        {"TRACE", WD_HTTP1_TRACE},
        {"ACL", WD_HTTP1_OTHER},
        {"BASELINE-CONTROL", WD_HTTP1_OTHER},
        {"BIND", WD_HTTP1_OTHER},
        {"CHECKIN", WD_HTTP1_OTHER},
        {"CHECKOUT", WD_HTTP1_OTHER},
        {"COPY", WD_HTTP1_OTHER},
        {"LABEL", WD_HTTP1_OTHER},
        {"LINK", WD_HTTP1_OTHER},
        {"LOCK", WD_HTTP1_OTHER},
        {"MERGE", WD_HTTP1_OTHER},
        {"MKACTIVITY", WD_HTTP1_OTHER},
        {"MKCALENDAR", WD_HTTP1_OTHER},
        {"MKCOL", WD_HTTP1_OTHER},
        {"MKREDIRECTREF", WD_HTTP1_OTHER},
        {"MKWORKSPACE", WD_HTTP1_OTHER},
        {"MOVE", WD_HTTP1_OTHER},
        {"ORDERPATCH", WD_HTTP1_OTHER},
        {"PROPFIND", WD_HTTP1_OTHER},
        {"PROPPATCH", WD_HTTP1_OTHER},
        {"QUERY", WD_HTTP1_OTHER},
        {"REBIND", WD_HTTP1_OTHER},
        {"REPORT", WD_HTTP1_OTHER},
        {"SEARCH", WD_HTTP1_OTHER},
        {"UNBIND", WD_HTTP1_OTHER},
        {"UNCHECKOUT", WD_HTTP1_OTHER},
        {"UNLINK", WD_HTTP1_OTHER},
        {"UNLOCK", WD_HTTP1_OTHER},
        {"UPDATE", WD_HTTP1_OTHER},
        {"UPDATEREDIRECTREF", WD_HTTP1_OTHER},
        {"VERSION-CONTROL", WD_HTTP1_OTHER},
};

bool wd_http1_method_lookup(const uint8_t *p, size_t n, enum wd_http1_method *out)
{
    for (size_t i = 0; i < WD_ARRAY_LEN(methods); i++) {
        if (strlen(methods[i].name) == n && memcmp(methods[i].name, p, n) == 0) {
            *out = methods[i].m;
            return true;
        }
    }
    *out = WD_HTTP1_OTHER;
    return false;
}

const char *wd_http1_method_str(enum wd_http1_method m)
{
    if (m == WD_HTTP1_OTHER) {
        return "";
    }
    for (size_t i = 0; i < WD_ARRAY_LEN(methods); i++) {
        if (methods[i].m == m) {
            return methods[i].name;
        }
    }
    return "";
}

static const struct {
    const char *name;
    const char *text;
} reasons[WD_HTTP1_R_COUNT_] = {
        [WD_HTTP1_R_NONE] = {"NONE", "no error"},
        [WD_HTTP1_R_METHOD_CHAR] = {"METHOD_CHAR", "method is not a token"},
        [WD_HTTP1_R_METHOD_UNKNOWN] = {"METHOD_UNKNOWN", "method is not registered"},
        [WD_HTTP1_R_REQUEST_LINE] = {"REQUEST_LINE", "malformed request line"},
        [WD_HTTP1_R_TARGET_CHAR] = {"TARGET_CHAR", "invalid character in request target"},
        [WD_HTTP1_R_TARGET_PCT] = {"TARGET_PCT", "invalid percent-encoding in target"},
        [WD_HTTP1_R_TARGET_FORM] = {"TARGET_FORM", "request target form not allowed"},
        [WD_HTTP1_R_TARGET_USERINFO] = {"TARGET_USERINFO", "userinfo in authority"},
        [WD_HTTP1_R_VERSION] = {"VERSION", "malformed HTTP version"},
        [WD_HTTP1_R_VERSION_UNSUPP] = {"VERSION_UNSUPP", "unsupported HTTP version"},
        [WD_HTTP1_R_STATUS] = {"STATUS", "invalid status code"},
        [WD_HTTP1_R_STATUS_LINE] = {"STATUS_LINE", "malformed status line"},
        [WD_HTTP1_R_REASON_CHAR] = {"REASON_CHAR", "invalid character in reason phrase"},
        [WD_HTTP1_R_BARE_CR] = {"BARE_CR", "CR not followed by LF"},
        [WD_HTTP1_R_BARE_LF] = {"BARE_LF", "LF not preceded by CR"},
        [WD_HTTP1_R_OBS_FOLD] = {"OBS_FOLD", "obsolete line folding"},
        [WD_HTTP1_R_FIELD_NAME] = {"FIELD_NAME", "invalid field name"},
        [WD_HTTP1_R_FIELD_WS_COLON] = {"FIELD_WS_COLON", "whitespace before field colon"},
        [WD_HTTP1_R_FIELD_NO_COLON] = {"FIELD_NO_COLON", "field line without colon"},
        [WD_HTTP1_R_FIELD_VALUE] = {"FIELD_VALUE", "invalid character in field value"},
        [WD_HTTP1_R_HOST_MISSING] = {"HOST_MISSING", "missing Host"},
        [WD_HTTP1_R_HOST_DUP] = {"HOST_DUP", "more than one Host"},
        [WD_HTTP1_R_HOST_INVALID] = {"HOST_INVALID", "invalid Host"},
        [WD_HTTP1_R_CL_INVALID] = {"CL_INVALID", "invalid Content-Length"},
        [WD_HTTP1_R_CL_LIST] = {"CL_LIST", "Content-Length with several values"},
        [WD_HTTP1_R_CL_DUP] = {"CL_DUP", "more than one Content-Length"},
        [WD_HTTP1_R_CL_OVERFLOW] = {"CL_OVERFLOW", "Content-Length overflow"},
        [WD_HTTP1_R_CL_AND_TE] = {"CL_AND_TE", "Content-Length with Transfer-Encoding"},
        [WD_HTTP1_R_TE_INVALID] = {"TE_INVALID", "invalid Transfer-Encoding"},
        [WD_HTTP1_R_TE_UNKNOWN] = {"TE_UNKNOWN", "unknown transfer coding"},
        [WD_HTTP1_R_TE_NOT_CHUNKED] = {"TE_NOT_CHUNKED", "request not chunked last"},
        [WD_HTTP1_R_TE_CHUNKED_TWICE] = {"TE_CHUNKED_TWICE", "chunked applied twice"},
        [WD_HTTP1_R_TE_CHUNKED_ORDER] = {"TE_CHUNKED_ORDER", "transfer coding after chunked"},
        [WD_HTTP1_R_TE_HTTP10] = {"TE_HTTP10", "Transfer-Encoding in HTTP/1.0"},
        [WD_HTTP1_R_BODY_FORBIDDEN] = {"BODY_FORBIDDEN", "framing where no body is allowed"},
        [WD_HTTP1_R_CONNECTION] = {"CONNECTION", "invalid Connection option"},
        [WD_HTTP1_R_CHUNK_SIZE] = {"CHUNK_SIZE", "invalid chunk size"},
        [WD_HTTP1_R_CHUNK_OVERFLOW] = {"CHUNK_OVERFLOW", "chunk size overflow"},
        [WD_HTTP1_R_CHUNK_EXT] = {"CHUNK_EXT", "invalid chunk extension"},
        [WD_HTTP1_R_CHUNK_DATA_CRLF] = {"CHUNK_DATA_CRLF", "chunk data not followed by CRLF"},
        [WD_HTTP1_R_TRAILER_FIELD] = {"TRAILER_FIELD", "field not allowed in trailers"},
        [WD_HTTP1_R_AFTER_CLOSE] = {"AFTER_CLOSE", "data after the last message"},
        [WD_HTTP1_R_TRUNCATED] = {"TRUNCATED", "connection closed inside a message"},
        [WD_HTTP1_R_LIMIT_LINE] = {"LIMIT_LINE", "line too long"},
        [WD_HTTP1_R_LIMIT_HEAD] = {"LIMIT_HEAD", "header section too large"},
        [WD_HTTP1_R_LIMIT_FIELDS] = {"LIMIT_FIELDS", "too many fields"},
        [WD_HTTP1_R_LIMIT_CHUNK_DIGITS] = {"LIMIT_CHUNK_DIGITS", "chunk size too long"},
        [WD_HTTP1_R_LIMIT_BODY] = {"LIMIT_BODY", "body too large"},
};

const char *wd_http1_reason_str(enum wd_http1_reason r)
{
    if ((unsigned)r >= WD_HTTP1_R_COUNT_ || reasons[r].text == NULL) {
        return "unknown reason";
    }
    return reasons[r].text;
}

const char *wd_http1_reason_name(enum wd_http1_reason r)
{
    if ((unsigned)r >= WD_HTTP1_R_COUNT_ || reasons[r].name == NULL) {
        return "UNKNOWN";
    }
    return reasons[r].name;
}

static bool ows(uint8_t c)
{
    return c == ' ' || c == '\t';
}

/*
 * Split a comma-separated list (RFC 9110 §5.6.1) and call fn on each member with its
 * surrounding OWS removed; empty members are passed too (fn decides). Stops at the first
 * reason fn returns.
 */
typedef enum wd_http1_reason (*member_fn)(struct wd_http1_parser *p, const uint8_t *m, size_t n);

static enum wd_http1_reason each_member(struct wd_http1_parser *p, const uint8_t *v, size_t n,
                                        member_fn fn)
{
    size_t i = 0;
    for (;;) {
        size_t s = i;
        while (i < n && v[i] != ',') {
            i++;
        }
        size_t a = s, b = i;
        while (a < b && ows(v[a])) {
            a++;
        }
        while (b > a && ows(v[b - 1])) {
            b--;
        }
        enum wd_http1_reason r = fn(p, v + a, b - a);
        if (r != WD_HTTP1_R_NONE || i == n) {
            return r;
        }
        i++;
    }
}

static bool is_token(const uint8_t *m, size_t n)
{
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!cc_is(m[i], CC_TCHAR)) {
            return false;
        }
    }
    return true;
}

/*
 * RFC 9112 §6.1 / §7: transfer-coding = token *( OWS ";" OWS transfer-parameter ). warden
 * accepts only the registered codings without parameters, chunked at most once and last.
 */
static enum wd_http1_reason te_member(struct wd_http1_parser *p, const uint8_t *m, size_t n)
{
    if (!is_token(m, n)) {
        /* Empty members, parameters and garbage: nothing a smuggler could hide in. */
        return WD_HTTP1_R_TE_INVALID;
    }
    if (wd_http1_ieq(m, n, "chunked")) {
        if (p->te_chunked) {
            return WD_HTTP1_R_TE_CHUNKED_TWICE;
        }
        p->te_chunked = true;
        p->te_chunked_last = true;
        return WD_HTTP1_R_NONE;
    }
    static const char *const known[] = {"gzip", "deflate", "compress", "x-gzip", "x-compress"};
    for (size_t i = 0; i < WD_ARRAY_LEN(known); i++) {
        if (wd_http1_ieq(m, n, known[i])) {
            if (p->te_chunked) {
                /* RFC 9112 §6.1: chunked, once applied, must stay the final coding. */
                return WD_HTTP1_R_TE_CHUNKED_ORDER;
            }
            p->te_other = true;
            p->te_chunked_last = false;
            return WD_HTTP1_R_NONE;
        }
    }
    return WD_HTTP1_R_TE_UNKNOWN;
}

/* RFC 9110 §7.6.1: Connection = #connection-option; connection-option = token. */
static enum wd_http1_reason conn_member(struct wd_http1_parser *p, const uint8_t *m, size_t n)
{
    if (n == 0) {
        return WD_HTTP1_R_NONE; /* RFC 9110 §5.6.1: empty list members are ignored */
    }
    if (!is_token(m, n)) {
        return WD_HTTP1_R_CONNECTION;
    }
    if (wd_http1_ieq(m, n, "close")) {
        p->conn_close = true;
    } else if (wd_http1_ieq(m, n, "keep-alive")) {
        p->conn_keep_alive = true;
    } else if (wd_http1_ieq(m, n, "upgrade")) {
        p->conn_upgrade = true;
    } else if (wd_http1_ieq(m, n, "content-length") || wd_http1_ieq(m, n, "transfer-encoding")
               || wd_http1_ieq(m, n, "host")) {
        /*
         * Naming a framing or routing field as hop-by-hop asks the next hop to drop it:
         * a known way to make a proxy and a server disagree on the message.
         */
        return WD_HTTP1_R_CONNECTION;
    }
    return WD_HTTP1_R_NONE;
}

/* RFC 9110 §10.1.1: Expect = #expectation; only 100-continue is defined. */
static enum wd_http1_reason expect_member(struct wd_http1_parser *p, const uint8_t *m, size_t n)
{
    if (n == 0) {
        return WD_HTTP1_R_NONE;
    }
    if (wd_http1_ieq(m, n, "100-continue")) {
        p->expect_continue = true;
    } else {
        p->expect_other = true;
    }
    return WD_HTTP1_R_NONE;
}

/* RFC 9110 §8.6: Content-Length = 1*DIGIT; one field line, one value. */
static enum wd_http1_reason content_length(struct wd_http1_parser *p, const uint8_t *v, size_t n)
{
    if (++p->cl_count > 1) {
        /* Even identical repeats are refused: two parsers that merge them differently are
         * how request smuggling starts. */
        return WD_HTTP1_R_CL_DUP;
    }
    if (p->te_count > 0) {
        return WD_HTTP1_R_CL_AND_TE; /* RFC 9112 §6.3 ¶3 */
    }
    if (memchr(v, ',', n) != NULL) {
        return WD_HTTP1_R_CL_LIST;
    }
    if (n == 0) {
        return WD_HTTP1_R_CL_INVALID;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') {
            return WD_HTTP1_R_CL_INVALID;
        }
        uint64_t d = (uint64_t)(v[i] - '0');
        if (x > (UINT64_MAX - d) / 10) {
            return WD_HTTP1_R_CL_OVERFLOW;
        }
        x = x * 10 + d;
    }
    p->msg.content_length = x;
    return WD_HTTP1_R_NONE;
}

/*
 * Trailer fields that must never come after the body (RFC 9110 §6.5.1: framing, routing and
 * connection control are needed before the content): refusing them keeps a merge of trailers
 * into headers by some later hop from changing the message.
 */
static bool trailer_forbidden(const uint8_t *n, size_t len)
{
    static const char *const names[] = {
            "content-length", "transfer-encoding", "host", "connection",
            "keep-alive",     "upgrade",           "te",   "trailer",
            "expect",
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(names); i++) {
        if (wd_http1_ieq(n, len, names[i])) {
            return true;
        }
    }
    return false;
}

enum wd_http1_reason wd_http1_on_field(struct wd_http1_parser *p, const uint8_t *r)
{
    const uint8_t *name = r + p->tok_start;
    size_t nlen = p->tok_end - p->tok_start;
    const uint8_t *val = r + p->val_start;
    size_t vlen = p->val_end - p->val_start;

    if (p->in_trailer) {
        return trailer_forbidden(name, nlen) ? WD_HTTP1_R_TRAILER_FIELD : WD_HTTP1_R_NONE;
    }
    /* Dispatch on length first: most fields are none of these. */
    switch (nlen) {
    case 4:
        if (p->kind == WD_HTTP1_REQUEST && wd_http1_ieq(name, nlen, "host")) {
            /* RFC 9112 §3.2: exactly one Host, and a valid one. */
            if (++p->host_count > 1) {
                return WD_HTTP1_R_HOST_DUP;
            }
            if (wd_http1_check_authority(val, vlen, false, false) != WD_HTTP1_R_NONE) {
                return WD_HTTP1_R_HOST_INVALID;
            }
        }
        break;
    case 6:
        if (p->kind == WD_HTTP1_REQUEST && wd_http1_ieq(name, nlen, "expect")) {
            return each_member(p, val, vlen, expect_member);
        }
        break;
    case 7:
        if (wd_http1_ieq(name, nlen, "upgrade") && vlen > 0) {
            p->has_upgrade = true;
        }
        break;
    case 10:
        if (wd_http1_ieq(name, nlen, "connection")) {
            return each_member(p, val, vlen, conn_member);
        }
        break;
    case 14:
        if (wd_http1_ieq(name, nlen, "content-length")) {
            return content_length(p, val, vlen);
        }
        break;
    case 17:
        if (wd_http1_ieq(name, nlen, "transfer-encoding")) {
            p->te_count++;
            if (p->cl_count > 0) {
                return WD_HTTP1_R_CL_AND_TE; /* RFC 9112 §6.3 ¶3 */
            }
            if (p->msg.version == 10) {
                /* RFC 9112 §6.1: HTTP/1.0 has no Transfer-Encoding; its framing is faulty. */
                return WD_HTTP1_R_TE_HTTP10;
            }
            return each_member(p, val, vlen, te_member);
        }
        break;
    default:
        break;
    }
    return WD_HTTP1_R_NONE;
}
