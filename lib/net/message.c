/*
 * Building message heads: the server's response head and the client's request head. Pure
 * (time is passed in), so unit tests compare exact bytes.
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "net_int.h"

struct reason {
    int status;
    const char *text;
};

/* RFC 9110 §15 (and RFC 6585 for 428/429/431). */
static const struct reason reasons[] = {
        {100, "Continue"},
        {101, "Switching Protocols"},
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {204, "No Content"},
        {206, "Partial Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {304, "Not Modified"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {406, "Not Acceptable"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {411, "Length Required"},
        {412, "Precondition Failed"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {417, "Expectation Failed"},
        {422, "Unprocessable Content"},
        {425, "Too Early"},
        {426, "Upgrade Required"},
        {428, "Precondition Required"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
};

/* A linear search: the table is short and this runs once per response. */
const char *wd_net_reason_phrase(int status)
{
    for (size_t i = 0; i < WD_ARRAY_LEN(reasons); i++) {
        if (reasons[i].status == status) {
            return reasons[i].text;
        }
    }
    return "Unknown";
}

/* RFC 9110 §5.6.7 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT". */
void wd_net_http_date(int64_t t, char out[30])
{
    /* Fixed English names: strftime's %a and %b follow the locale. */
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL) {
        memset(&tm, 0, sizeof(tm));
        tm.tm_year = 70;
        tm.tm_mday = 1;
        tm.tm_wday = 4;
    }
    /* Years outside 0..9999 cannot be written in the format; clamp (never happens now). */
    int year = tm.tm_year + 1900;
    year = year < 0 ? 0 : year > 9999 ? 9999 : year;
    /* gcc cannot see that the fields are two digits wide, so format into room it accepts. */
    char buf[128];
    (void)snprintf(buf, sizeof(buf), "%s, %02u %s %04u %02u:%02u:%02u GMT",
                   days[(unsigned)tm.tm_wday % 7], (unsigned)tm.tm_mday % 32,
                   months[(unsigned)tm.tm_mon % 12], (unsigned)year, (unsigned)tm.tm_hour % 24,
                   (unsigned)tm.tm_min % 60, (unsigned)tm.tm_sec % 61);
    memcpy(out, buf, 29);
    out[29] = '\0';
}

static bool is_tchar(unsigned char c)
{
    /* RFC 9110 §5.6.2 */
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_vchar_or_ws(unsigned char c)
{
    /* RFC 9110 §5.5: field-vchar, SP, HTAB (obs-text allowed) */
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Handler-provided values must not break the head (CR/LF injection). */
bool wd_net_field_value_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != 0; p++) {
        if (!is_vchar_or_ws(*p)) {
            return false;
        }
    }
    return true;
}

/* Fields the server or client writes itself: a handler must not add a second copy. */
static bool reserved_field(const char *name, size_t len)
{
    static const char *const names[] = {
            "content-length", "transfer-encoding", "connection", "date",
            "content-type",   "upgrade",           "keep-alive", "trailer"};
    for (size_t i = 0; i < WD_ARRAY_LEN(names); i++) {
        if (strlen(names[i]) == len && strncasecmp(names[i], name, len) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * A handler's extra lines are pasted into the head as they are, so they are checked as
 * strictly as a received head: token names, field-value bytes, CRLF after each line.
 */
bool wd_net_extra_headers_ok(const char *extra)
{
    const char *p = extra;
    while (*p != '\0') {
        const char *name = p;
        while (is_tchar((unsigned char)*p)) {
            p++;
        }
        size_t name_len = (size_t)(p - name);
        if (name_len == 0 || *p != ':' || reserved_field(name, name_len)) {
            return false;
        }
        p++;
        while (*p != '\0' && *p != '\r') {
            if (!is_vchar_or_ws((unsigned char)*p)) {
                return false;
            }
            p++;
        }
        if (p[0] != '\r' || p[1] != '\n') {
            return false;
        }
        p += 2;
    }
    return true;
}

static bool no_body_status(int status)
{
    /* RFC 9110 §8.6: no Content-Length in 1xx and 204; 304 keeps the framing of a 200 we
     * do not know, so none is sent. */
    return status < 200 || status == 204 || status == 304;
}

/* The response head: everything the handler cannot set itself comes from here. */
int wd_net_response_head(struct wd_buf *out, int status, const char *content_type, size_t body_len,
                         bool close, const char *extra, int64_t now)
{
    char date[30];
    wd_net_http_date(now, date);
    WD_TRY(wd_buf_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status,
                         wd_net_reason_phrase(status), date));
    if (!no_body_status(status)) {
        if (content_type != NULL && content_type[0] != '\0' && body_len > 0) {
            WD_TRY(wd_buf_printf(out, "Content-Type: %s\r\n", content_type));
        }
        WD_TRY(wd_buf_printf(out, "Content-Length: %zu\r\n", body_len));
    }
    WD_TRY(wd_buf_append_str(out, close ? "Connection: close\r\n" : ""));
    if (extra != NULL) {
        WD_TRY(wd_buf_append_str(out, extra));
    }
    return wd_buf_append_str(out, "\r\n");
}

/*
 * The request head of the client. Every byte of method and target is checked, since a
 * caller passing user input must not be able to add header lines (request splitting).
 */
int wd_net_request_head(struct wd_buf *out, const char *method, const char *target,
                        const char *host, const char *content_type, size_t body_len, bool has_body)
{
    WD_ENSURE(method != NULL && method[0] != '\0' && target != NULL && target[0] == '/', WD_EINVAL);
    for (const unsigned char *p = (const unsigned char *)method; *p != 0; p++) {
        WD_ENSURE(is_tchar(*p), WD_EINVAL);
    }
    /* No space, control byte or DEL: they would split or smuggle the request line. */
    for (const unsigned char *p = (const unsigned char *)target; *p != 0; p++) {
        WD_ENSURE(*p > 0x20 && *p != 0x7f && *p != '#', WD_EINVAL);
    }
    WD_ENSURE(content_type == NULL || wd_net_field_value_ok(content_type), WD_EINVAL);
    WD_TRY(wd_buf_printf(out, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: warden\r\n", method,
                         target, host));
    if (content_type != NULL && content_type[0] != '\0' && has_body) {
        WD_TRY(wd_buf_printf(out, "Content-Type: %s\r\n", content_type));
    }
    bool wants_length = strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0
                        || strcmp(method, "PATCH") == 0;
    if (has_body || wants_length) {
        WD_TRY(wd_buf_printf(out, "Content-Length: %zu\r\n", body_len));
    }
    return wd_buf_append_str(out, "\r\n");
}
