/*
 * The HTTP/1.1 state machine (RFC 9112). See include/warden/http1.h for the API and
 * docs/internals/http1.md for the design.
 *
 * A head (start line + header section) or a trailer section is a "region": the caller keeps
 * it contiguous and passes it again, longer, until it is complete, so every position is an
 * offset from the region start and scanning resumes at p->scan. Bodies are consumed as they
 * are seen. Every decision depends only on the bytes, never on how they were split across
 * calls: that is what makes byte-at-a-time feeding equivalent to feeding a message whole.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "warden/codec.h"
#include "warden/err.h"
#include "warden/http1.h"

#include "http1_int.h"

void wd_http1_config_default(struct wd_http1_config *cfg)
{
    cfg->max_line = 8192;
    cfg->max_head = 32768;
    cfg->max_chunk_digits = 16;
    cfg->max_body = UINT64_MAX;
    cfg->any_method = false;
    cfg->allow_missing_host = false;
}

/* Per-message state back to "before a start line"; config, fields and closed survive. */
static void begin_message(struct wd_http1_parser *p)
{
    p->state = H_START;
    p->in_trailer = false;
    p->scan = 0;
    p->line_start = 0;
    p->tok_start = p->tok_end = 0;
    p->val_start = p->val_end = 0;
    p->digits = 0;
    memset(p->sp, 0, sizeof(p->sp));
    p->base = NULL;
    p->tbase = NULL;
    p->host_count = p->cl_count = p->te_count = 0;
    p->te_chunked = p->te_chunked_last = p->te_other = false;
    p->conn_close = p->conn_keep_alive = p->conn_upgrade = p->has_upgrade = false;
    p->expect_continue = p->expect_other = false;
    p->remaining = 0;
    p->body_total = 0;
    p->chunk_digits = 0;
    p->chunk_line = 0;
    memset(&p->msg, 0, sizeof(p->msg));
}

void wd_http1_init(struct wd_http1_parser *p, enum wd_http1_kind kind,
                   const struct wd_http1_config *cfg, struct wd_http1_field *fields, size_t nfields)
{
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    if (cfg != NULL) {
        p->cfg = *cfg;
    } else {
        wd_http1_config_default(&p->cfg);
    }
    /* Offsets are stored in 32 bits; a head cannot be larger than that anyway. */
    if (p->cfg.max_head > UINT32_MAX) {
        p->cfg.max_head = UINT32_MAX;
    }
    p->fields = fields;
    p->fields_cap = fields != NULL ? nfields : 0;
    p->req_method = WD_HTTP1_GET;
    begin_message(p);
}

void wd_http1_set_request_method(struct wd_http1_parser *p, enum wd_http1_method m)
{
    p->req_method = m;
}

void wd_http1_reset(struct wd_http1_parser *p)
{
    p->err = 0;
    p->reason = WD_HTTP1_R_NONE;
    p->closed = false;
    begin_message(p);
}

const struct wd_http1_msg *wd_http1_msg(const struct wd_http1_parser *p)
{
    return &p->msg;
}

enum wd_http1_reason wd_http1_reason(const struct wd_http1_parser *p)
{
    return p->reason;
}

static bool field_at(const uint8_t *base, const struct wd_http1_field *f, struct wd_slice *name,
                     struct wd_slice *value)
{
    if (name != NULL) {
        name->p = base + f->name_off;
        name->len = f->name_len;
    }
    if (value != NULL) {
        value->p = base + f->value_off;
        value->len = f->value_len;
    }
    return true;
}

bool wd_http1_field(const struct wd_http1_parser *p, size_t i, struct wd_slice *name,
                    struct wd_slice *value)
{
    if (p->base == NULL || i >= p->msg.nfields) {
        return false;
    }
    return field_at(p->base, &p->fields[i], name, value);
}

bool wd_http1_trailer(const struct wd_http1_parser *p, size_t i, struct wd_slice *name,
                      struct wd_slice *value)
{
    if (p->tbase == NULL || i >= p->msg.ntrailers) {
        return false;
    }
    return field_at(p->tbase, &p->fields[p->msg.nfields + i], name, value);
}

bool wd_http1_find(const struct wd_http1_parser *p, const char *name, size_t *from,
                   struct wd_slice *value)
{
    size_t want = strlen(name);
    for (size_t i = *from; i < p->msg.nfields; i++) {
        const struct wd_http1_field *f = &p->fields[i];
        if (f->name_len != want) {
            continue;
        }
        const uint8_t *n = p->base + f->name_off;
        size_t k = 0;
        for (; k < want; k++) {
            uint8_t a = n[k], b = (uint8_t)name[k];
            a = (a >= 'A' && a <= 'Z') ? (uint8_t)(a + 32) : a;
            b = (b >= 'A' && b <= 'Z') ? (uint8_t)(b + 32) : b;
            if (a != b) {
                break;
            }
        }
        if (k == want) {
            field_at(p->base, f, NULL, value);
            *from = i + 1;
            return true;
        }
    }
    return false;
}

static int fail(struct wd_http1_parser *p, int err, enum wd_http1_reason r)
{
    p->err = err;
    p->reason = r;
    return err;
}

/* The index of the first byte at or after i that is not of class cls (end if none). */
static size_t scan_class(const uint8_t *r, size_t i, size_t end, unsigned cls)
{
    while (i < end && cc_is(r[i], cls)) {
        i++;
    }
    return i;
}

/*
 * A request-line token (method, target) ended at byte c: a space goes on to the next one;
 * CR or LF means a request line with parts missing, anything else a bad character.
 */
static int request_token_end(struct wd_http1_parser *p, uint8_t c, enum wd_http1_reason bad_char)
{
    if (c == ' ') {
        return WD_OK;
    }
    return fail(p, WD_EPROTO, (c == '\r' || c == '\n') ? WD_HTTP1_R_REQUEST_LINE : bad_char);
}

static struct wd_slice span(const struct wd_http1_parser *p, const uint8_t *base, unsigned w)
{
    struct wd_slice s = {base + p->sp[w].off, p->sp[w].len};
    return s;
}

/* Record the completed field line (offsets in p) and apply its semantics. */
static int end_field(struct wd_http1_parser *p, const uint8_t *r)
{
    size_t used = p->msg.nfields + p->msg.ntrailers;
    if (used >= p->fields_cap) {
        return fail(p, WD_ELIMIT, WD_HTTP1_R_LIMIT_FIELDS);
    }
    enum wd_http1_reason why = wd_http1_on_field(p, r);
    if (why != WD_HTTP1_R_NONE) {
        return fail(p, WD_EPROTO, why);
    }
    struct wd_http1_field *f = &p->fields[used];
    f->name_off = (uint32_t)p->tok_start;
    f->name_len = (uint32_t)(p->tok_end - p->tok_start);
    f->value_off = (uint32_t)p->val_start;
    f->value_len = (uint32_t)(p->val_end - p->val_start);
    if (p->in_trailer) {
        p->msg.ntrailers++;
    } else {
        p->msg.nfields++;
    }
    return WD_OK;
}

/* The method token r[tok_start..i) is complete (RFC 9110 §9.1: method = token). */
static int end_method(struct wd_http1_parser *p, const uint8_t *r, size_t i)
{
    const uint8_t *m = r + p->tok_start;
    size_t n = i - p->tok_start;
    if (n == 0) {
        return fail(p, WD_EPROTO, WD_HTTP1_R_REQUEST_LINE);
    }
    if (!wd_http1_method_lookup(m, n, &p->msg.method) && !p->cfg.any_method) {
        return fail(p, WD_EPROTO, WD_HTTP1_R_METHOD_UNKNOWN);
    }
    p->sp[SP_METHOD].off = (uint32_t)p->tok_start;
    p->sp[SP_METHOD].len = (uint32_t)n;
    return WD_OK;
}

/*
 * One character of HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3), case-sensitive.
 * Returns false on a mismatch. At the last digit, records the version.
 */
static bool version_char(struct wd_http1_parser *p, uint8_t c)
{
    static const char pat[] = "HTTP/d.d";
    unsigned k = p->digits;
    if (pat[k] == 'd') {
        if (c < '0' || c > '9') {
            return false;
        }
        if (k == 5) {
            p->msg.version = (unsigned)(c - '0') * 10;
        } else {
            p->msg.version += (unsigned)(c - '0');
        }
    } else if ((uint8_t)pat[k] != c) {
        return false;
    }
    p->digits++;
    return true;
}

/* RFC 9112 §2.3: warden speaks HTTP/1.0 and HTTP/1.1; refused as soon as the digit is seen. */
static int check_version(struct wd_http1_parser *p)
{
    if (p->msg.version != 10 && p->msg.version != 11) {
        return fail(p, WD_EPROTO, WD_HTTP1_R_VERSION_UNSUPP);
    }
    return WD_OK;
}

/*
 * Scan the head or trailer region r[0..n) from p->scan. Returns WD_OK when the section is
 * complete (p->scan is then its length), WD_EAGAIN when more bytes are needed, or a sticky
 * error.
 */
static int scan_region(struct wd_http1_parser *p, const uint8_t *r, size_t n)
{
    const size_t max_head = p->cfg.max_head;
    const size_t max_line = p->cfg.max_line;
    size_t i = p->scan;
    int rc;

    while (i < n) {
        if (i >= max_head) {
            return fail(p, WD_ELIMIT, WD_HTTP1_R_LIMIT_HEAD);
        }
        if (i - p->line_start >= max_line) {
            return fail(p, WD_ELIMIT, WD_HTTP1_R_LIMIT_LINE);
        }
        /* Hot loops below stop at the limits so the checks above see every boundary. */
        size_t end = n;
        end = WD_MIN(end, max_head);
        end = WD_MIN(end, p->line_start + max_line);
        uint8_t c = r[i];

        switch (p->state) {
        case H_START:
            /* RFC 9112 §2.2: empty lines (CRLF) before a start line are ignored. */
            if (c == '\r') {
                p->state = H_START_LF;
                break;
            }
            if (c == '\n') {
                return fail(p, WD_EPROTO, WD_HTTP1_R_BARE_LF);
            }
            if (p->closed) {
                return fail(p, WD_EPROTO, WD_HTTP1_R_AFTER_CLOSE);
            }
            p->line_start = i;
            p->tok_start = i;
            p->digits = 0;
            p->state = p->kind == WD_HTTP1_REQUEST ? H_METHOD : H_SVERSION;
            continue; /* examine c again in its new state */
        case H_START_LF:
            if (c != '\n') {
                return fail(p, WD_EPROTO, WD_HTTP1_R_BARE_CR);
            }
            p->state = H_START;
            p->line_start = i + 1;
            break;

        case H_METHOD:
            i = scan_class(r, i, end, CC_TCHAR);
            if (i == end) {
                continue;
            }
            if ((rc = request_token_end(p, r[i], WD_HTTP1_R_METHOD_CHAR)) < 0) {
                return rc;
            }
            if ((rc = end_method(p, r, i)) < 0) {
                return rc;
            }
            p->tok_start = i + 1;
            p->state = H_TARGET;
            break;

        case H_TARGET:
            i = scan_class(r, i, end, CC_URI);
            if (i == end) {
                continue;
            }
            /* A CR or LF here is a request line without a version (HTTP/0.9). */
            if ((rc = request_token_end(p, r[i], WD_HTTP1_R_TARGET_CHAR)) < 0) {
                return rc;
            }
            if (i == p->tok_start) {
                return fail(p, WD_EPROTO, WD_HTTP1_R_REQUEST_LINE);
            }
            p->sp[SP_TARGET].off = (uint32_t)p->tok_start;
            p->sp[SP_TARGET].len = (uint32_t)(i - p->tok_start);
            {
                enum wd_http1_reason why = wd_http1_check_target(p, r, p->msg.method);
                if (why != WD_HTTP1_R_NONE) {
                    return fail(p, WD_EPROTO, why);
                }
            }
            p->digits = 0;
            p->state = H_RVERSION;
            break;

        case H_RVERSION:
            if (p->digits == 8) {
                if (c == '\n') {
                    return fail(p, WD_EPROTO, WD_HTTP1_R_BARE_LF);
                }
                if (c != '\r') {
                    return fail(p, WD_EPROTO, WD_HTTP1_R_VERSION);
                }
                p->state = H_LINE_LF;
                break;
            }
            if (!version_char(p, c)) {
                return fail(p, WD_EPROTO, WD_HTTP1_R_VERSION);
            }
            if (p->digits == 8 && (rc = check_version(p)) < 0) {
                return rc;
            }
            break;

        case H_SVERSION:
            if (p->digits == 8) {
                /* RFC 9112 §4: exactly one SP after the version. */
                if (c != ' ') {
                    return fail(p, WD_EPROTO, WD_HTTP1_R_VERSION);
                }
                p->digits = 0;
                p->state = H_STATUS;
                break;
            }
            if (!version_char(p, c)) {
                return fail(p, WD_EPROTO, WD_HTTP1_R_VERSION);
            }
            if (p->digits == 8 && (rc = check_version(p)) < 0) {
                return rc;
            }
            break;

        case H_STATUS:
            /* RFC 9112 §4: status-code = 3DIGIT; RFC 9110 §15: 100-599. */
            if (p->digits < 3) {
                if (c < '0' || c > '9') {
                    return fail(p, WD_EPROTO, WD_HTTP1_R_STATUS);
                }
                p->msg.status = p->msg.status * 10 + (unsigned)(c - '0');
                p->digits++;
                break;
            }
            if (c >= '0' && c <= '9') {
                return fail(p, WD_EPROTO, WD_HTTP1_R_STATUS);
            }
            if (c != ' ') {
                /* The SP before the (possibly empty) reason-phrase is not optional. */
                return fail(p, WD_EPROTO, WD_HTTP1_R_STATUS_LINE);
            }
            if (p->msg.status < 100 || p->msg.status > 599) {
                return fail(p, WD_EPROTO, WD_HTTP1_R_STATUS);
            }
            p->tok_start = i + 1;
            p->state = H_REASON;
            break;

        case H_REASON:
            /* reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ) */
            while (i < end && (cc_is(r[i], CC_VCHAR) || r[i] == ' ' || r[i] == '\t')) {
                i++;
            }
            if (i == end) {
                continue;
            }
            c = r[i];
            if (c == '\n') {
                return fail(p, WD_EPROTO, WD_HTTP1_R_BARE_LF);
            }
            if (c != '\r') {
                return fail(p, WD_EPROTO, WD_HTTP1_R_REASON_CHAR);
            }
            p->sp[SP_REASON].off = (uint32_t)p->tok_start;
            p->sp[SP_REASON].len = (uint32_t)(i - p->tok_start);
            p->state = H_LINE_LF;
            break;

        case H_LINE_LF:
            if (c != '\n') {
                return fail(p, WD_EPROTO, WD_HTTP1_R_BARE_CR);
            }
            p->line_start = i + 1;
            p->state = H_FIELD_START;
            break;

        case H_FIELD_START:
            if (c == '\r') {
                p->state = H_END_LF;
                break;
            }
            if (c == '\n') {
                return fail(p, WD_EPROTO, WD_HTTP1_R_BARE_LF);
            }
            if (c == ' ' || c == '\t') {
                /* RFC 9112 §5.2: obs-fold (and whitespace after the start line, §2.2). */
                return fail(p, WD_EPROTO, WD_HTTP1_R_OBS_FOLD);
            }
            if (!cc_is(c, CC_TCHAR)) {
                return fail(p, WD_EPROTO, WD_HTTP1_R_FIELD_NAME);
            }
            p->tok_start = i;
            p->state = H_FIELD_NAME;
            break;

        case H_FIELD_NAME:
            while (i < end && cc_is(r[i], CC_TCHAR)) {
                i++;
            }
            if (i == end) {
                continue;
            }
            c = r[i];
            if (c == ':') {
                p->tok_end = i;
                p->state = H_FIELD_OWS;
                break;
            }
            if (c == ' ' || c == '\t') {
                /* RFC 9112 §5.1: no whitespace between field name and colon; MUST reject. */
                return fail(p, WD_EPROTO, WD_HTTP1_R_FIELD_WS_COLON);
            }
            if (c == '\r' || c == '\n') {
                return fail(p, WD_EPROTO, WD_HTTP1_R_FIELD_NO_COLON);
            }
            return fail(p, WD_EPROTO, WD_HTTP1_R_FIELD_NAME);

        case H_FIELD_OWS:
            if (c == ' ' || c == '\t') {
                break;
            }
            p->val_start = p->val_end = i;
            if (c == '\r') {
                p->state = H_FIELD_LF;
                break;
            }
            p->state = H_FIELD_VALUE;
            continue;

        case H_FIELD_VALUE:
            /* RFC 9110 §5.5: field-value = *( VCHAR / obs-text / SP / HTAB ), trimmed. */
            for (; i < end; i++) {
                uint8_t b = r[i];
                if (cc_is(b, CC_VCHAR)) {
                    p->val_end = i + 1;
                } else if (b != ' ' && b != '\t') {
                    break;
                }
            }
            if (i == end) {
                continue;
            }
            c = r[i];
            if (c == '\n') {
                return fail(p, WD_EPROTO, WD_HTTP1_R_BARE_LF);
            }
            if (c != '\r') {
                return fail(p, WD_EPROTO, WD_HTTP1_R_FIELD_VALUE);
            }
            p->state = H_FIELD_LF;
            break;

        case H_FIELD_LF:
            if (c != '\n') {
                return fail(p, WD_EPROTO, WD_HTTP1_R_BARE_CR);
            }
            if ((rc = end_field(p, r)) < 0) {
                return rc;
            }
            p->line_start = i + 1;
            p->state = H_FIELD_START;
            break;

        case H_END_LF:
            if (c != '\n') {
                return fail(p, WD_EPROTO, WD_HTTP1_R_BARE_CR);
            }
            p->scan = i + 1;
            return WD_OK;

        default:
            WD_BUG_ON(1);
        }
        i++;
    }
    p->scan = i;
    return WD_EAGAIN;
}

/* RFC 9112 §6.3 for requests; sets body framing and the connection facts. */
static int finish_request(struct wd_http1_parser *p)
{
    struct wd_http1_msg *m = &p->msg;
    if (m->version == 11 && p->host_count == 0 && !p->cfg.allow_missing_host) {
        return fail(p, WD_EPROTO, WD_HTTP1_R_HOST_MISSING); /* RFC 9112 §3.2 */
    }
    m->tunnel = m->method == WD_HTTP1_CONNECT;
    if (m->tunnel && (p->cl_count > 0 || p->te_count > 0)) {
        /* RFC 9110 §9.3.6: CONNECT has no content; bytes after the head are the tunnel. */
        return fail(p, WD_EPROTO, WD_HTTP1_R_BODY_FORBIDDEN);
    }
    if (p->te_count > 0) {
        /* RFC 9112 §6.3 ¶4: a request whose final coding is not chunked gets 400. */
        if (!p->te_chunked_last) {
            return fail(p, WD_EPROTO, WD_HTTP1_R_TE_NOT_CHUNKED);
        }
        m->body = WD_HTTP1_BODY_CHUNKED;
        m->transfer_coded = p->te_other;
    } else if (p->cl_count > 0) {
        m->body = WD_HTTP1_BODY_LENGTH;
    } else {
        m->body = WD_HTTP1_BODY_NONE; /* RFC 9112 §6.3 ¶7 */
    }
    /* RFC 9112 §9.3: persistence by version and the close / keep-alive options. */
    m->keep_alive = m->version == 11 ? !p->conn_close : (p->conn_keep_alive && !p->conn_close);
    /* RFC 9110 §7.8: Upgrade needs the "upgrade" option; ignored in HTTP/1.0 requests. */
    m->upgrade = m->version == 11 && p->conn_upgrade && p->has_upgrade;
    /* RFC 9110 §10.1.1: a 100-continue expectation in HTTP/1.0 is ignored. */
    m->expect_continue = m->version == 11 && p->expect_continue && !p->expect_other;
    m->expect_other = p->expect_other;
    return WD_OK;
}

/* RFC 9112 §6.3 for responses, given the request method set by the caller. */
static int finish_response(struct wd_http1_parser *p)
{
    struct wd_http1_msg *m = &p->msg;
    unsigned st = m->status;
    bool informational = st < 200;
    m->method = p->req_method;
    if (informational || st == 204) {
        /*
         * RFC 9110 §8.6, RFC 9112 §6.1: no Transfer-Encoding and no Content-Length in 1xx
         * and 204; "Content-Length: 0" is tolerated since it frames the same (empty) body.
         */
        if (p->te_count > 0 || (p->cl_count > 0 && m->content_length != 0)) {
            return fail(p, WD_EPROTO, WD_HTTP1_R_BODY_FORBIDDEN);
        }
    }
    m->keep_alive = m->version == 11 ? !p->conn_close : (p->conn_keep_alive && !p->conn_close);
    if (informational) {
        m->upgrade = st == 101; /* RFC 9110 §15.2.2: the protocol switches after the head */
        m->interim = st != 101;
        m->body = WD_HTTP1_BODY_NONE;
        return WD_OK;
    }
    if (p->req_method == WD_HTTP1_CONNECT && st < 300) {
        /* RFC 9112 §6.3 ¶2: a tunnel starts after the head; CL/TE are ignored. */
        m->tunnel = true;
        m->body = WD_HTTP1_BODY_NONE;
        return WD_OK;
    }
    if (p->req_method == WD_HTTP1_HEAD || st == 204 || st == 304) {
        m->body = WD_HTTP1_BODY_NONE; /* RFC 9112 §6.3 ¶1 */
        return WD_OK;
    }
    if (p->te_count > 0) {
        if (p->te_chunked_last) {
            m->body = WD_HTTP1_BODY_CHUNKED;
            m->transfer_coded = p->te_other;
        } else {
            /* RFC 9112 §6.3 ¶4: otherwise read until the server closes. */
            m->body = WD_HTTP1_BODY_EOF;
            m->transfer_coded = true;
        }
    } else if (p->cl_count > 0) {
        m->body = WD_HTTP1_BODY_LENGTH;
    } else {
        m->body = WD_HTTP1_BODY_EOF; /* RFC 9112 §6.3 ¶8 */
    }
    if (m->body == WD_HTTP1_BODY_EOF) {
        m->keep_alive = false;
    }
    return WD_OK;
}

/* The head region in[0..p->scan) is complete: fill msg and choose the body state. */
static int finish_head(struct wd_http1_parser *p, const uint8_t *in)
{
    int rc = p->kind == WD_HTTP1_REQUEST ? finish_request(p) : finish_response(p);
    if (rc < 0) {
        return rc;
    }
    struct wd_http1_msg *m = &p->msg;
    if (m->body == WD_HTTP1_BODY_LENGTH && m->content_length > p->cfg.max_body) {
        return fail(p, WD_ELIMIT, WD_HTTP1_R_LIMIT_BODY);
    }
    p->base = in;
    if (p->kind == WD_HTTP1_REQUEST) {
        m->method_name = span(p, in, SP_METHOD);
        m->target = span(p, in, SP_TARGET);
        m->scheme = span(p, in, SP_SCHEME);
        m->authority = span(p, in, SP_AUTHORITY);
        m->path = span(p, in, SP_PATH);
        m->query = span(p, in, SP_QUERY);
    } else {
        m->reason = span(p, in, SP_REASON);
        m->method_name.p = (const uint8_t *)wd_http1_method_str(m->method);
        m->method_name.len = strlen(wd_http1_method_str(m->method));
    }
    switch (m->body) {
    case WD_HTTP1_BODY_LENGTH:
        p->remaining = m->content_length;
        p->state = p->remaining > 0 ? B_LENGTH : B_END;
        break;
    case WD_HTTP1_BODY_CHUNKED:
        p->state = C_SIZE;
        p->remaining = 0;
        p->chunk_digits = 0;
        p->chunk_line = 0;
        break;
    case WD_HTTP1_BODY_EOF:
        p->state = B_EOF;
        break;
    case WD_HTTP1_BODY_NONE:
        p->state = B_END;
        break;
    }
    return WD_OK;
}

/* Report EV_END and remember whether HTTP continues on this connection. */
static int end_message(struct wd_http1_parser *p, struct wd_http1_step *st, size_t used)
{
    const struct wd_http1_msg *m = &p->msg;
    if (!m->interim) {
        p->closed = !m->keep_alive || m->upgrade || m->tunnel;
    }
    p->state = S_DONE;
    st->used = used;
    st->ev = WD_HTTP1_EV_END;
    return WD_OK;
}

/*
 * Scan (part of) a trailer region starting at in[off]; off is where the region starts in
 * this call. Reports EV_TRAILERS or EV_END when the section is complete.
 */
static int trailer_step(struct wd_http1_parser *p, const uint8_t *in, size_t len, size_t off,
                        struct wd_http1_step *st)
{
    int rc = scan_region(p, in + off, len - off);
    if (rc == WD_EAGAIN) {
        st->used = off; /* the region itself must be passed again */
        return rc;
    }
    if (rc < 0) {
        return rc;
    }
    if (p->msg.ntrailers == 0) {
        return end_message(p, st, off + p->scan);
    }
    p->tbase = in + off;
    p->state = B_END;
    st->used = off + p->scan;
    st->ev = WD_HTTP1_EV_TRAILERS;
    return WD_OK;
}

/* RFC 9112 §7.1: the chunked body, from in[0]. */
static int chunked_step(struct wd_http1_parser *p, const uint8_t *in, size_t len,
                        struct wd_http1_step *st)
{
    size_t off = 0;
    while (off < len) {
        uint8_t c = in[off];
        if (p->state >= C_SIZE && p->state <= C_SIZE_LF) {
            if (++p->chunk_line > p->cfg.max_line) {
                return fail(p, WD_ELIMIT, WD_HTTP1_R_LIMIT_LINE);
            }
        }
        switch (p->state) {
        case C_SIZE: {
            /* chunk-size = 1*HEXDIG, with no whitespace around it (stricter than BWS). */
            int v = wd_hex_digit_value(c);
            if (v >= 0) {
                if (p->chunk_digits >= p->cfg.max_chunk_digits) {
                    return fail(p, WD_ELIMIT, WD_HTTP1_R_LIMIT_CHUNK_DIGITS);
                }
                if (p->remaining > (UINT64_MAX >> 4)) {
                    return fail(p, WD_EPROTO, WD_HTTP1_R_CHUNK_OVERFLOW);
                }
                p->remaining = (p->remaining << 4) | (uint64_t)v;
                p->chunk_digits++;
                break;
            }
            if (p->chunk_digits == 0) {
                return fail(p, WD_EPROTO, WD_HTTP1_R_CHUNK_SIZE);
            }
            if (c == ';') {
                p->state = C_EXT_START;
            } else if (c == '\r') {
                p->state = C_SIZE_LF;
            } else if (c == '\n') {
                return fail(p, WD_EPROTO, WD_HTTP1_R_BARE_LF);
            } else {
                return fail(p, WD_EPROTO, WD_HTTP1_R_CHUNK_SIZE);
            }
            break;
        }
        /* RFC 9112 §7.1.1: chunk-ext = *( ";" chunk-ext-name [ "=" chunk-ext-val ] ) */
        case C_EXT_START:
            if (!cc_is(c, CC_TCHAR)) {
                return fail(p, WD_EPROTO, WD_HTTP1_R_CHUNK_EXT);
            }
            p->state = C_EXT_NAME;
            break;
        case C_EXT_NAME:
        case C_EXT_TOKEN:
            if (cc_is(c, CC_TCHAR)) {
                break;
            }
            if (c == '=' && p->state == C_EXT_NAME) {
                p->state = C_EXT_VAL_START;
            } else if (c == ';') {
                p->state = C_EXT_START;
            } else if (c == '\r') {
                p->state = C_SIZE_LF;
            } else {
                return fail(p, WD_EPROTO, WD_HTTP1_R_CHUNK_EXT);
            }
            break;
        case C_EXT_VAL_START:
            /* chunk-ext-val = token / quoted-string */
            if (cc_is(c, CC_TCHAR)) {
                p->state = C_EXT_TOKEN;
            } else if (c == '"') {
                p->state = C_EXT_QS;
            } else {
                return fail(p, WD_EPROTO, WD_HTTP1_R_CHUNK_EXT);
            }
            break;
        case C_EXT_QS:
            if (c == '"') {
                p->state = C_EXT_QS_END;
            } else if (c == '\\') {
                p->state = C_EXT_QP;
            } else if (!cc_is(c, CC_QDTEXT)) {
                return fail(p, WD_EPROTO, WD_HTTP1_R_CHUNK_EXT);
            }
            break;
        case C_EXT_QP:
            /* quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) */
            if (!cc_is(c, CC_VCHAR) && c != ' ' && c != '\t') {
                return fail(p, WD_EPROTO, WD_HTTP1_R_CHUNK_EXT);
            }
            p->state = C_EXT_QS;
            break;
        case C_EXT_QS_END:
            if (c == ';') {
                p->state = C_EXT_START;
            } else if (c == '\r') {
                p->state = C_SIZE_LF;
            } else {
                return fail(p, WD_EPROTO, WD_HTTP1_R_CHUNK_EXT);
            }
            break;
        case C_SIZE_LF:
            if (c != '\n') {
                return fail(p, WD_EPROTO, WD_HTTP1_R_BARE_CR);
            }
            off++;
            if (p->remaining > p->cfg.max_body - p->body_total) {
                return fail(p, WD_ELIMIT, WD_HTTP1_R_LIMIT_BODY);
            }
            p->body_total += p->remaining;
            if (p->remaining == 0) {
                /* last-chunk: the trailer section follows (RFC 9112 §7.1.2). */
                p->in_trailer = true;
                p->state = H_FIELD_START;
                p->scan = 0;
                p->line_start = 0;
                return trailer_step(p, in, len, off, st);
            }
            p->state = C_DATA;
            continue;
        case C_DATA: {
            size_t n = (size_t)WD_MIN((uint64_t)(len - off), p->remaining);
            p->remaining -= n;
            if (p->remaining == 0) {
                p->state = C_DATA_CR;
            }
            st->data.p = in + off;
            st->data.len = n;
            st->used = off + n;
            st->ev = WD_HTTP1_EV_DATA;
            return WD_OK;
        }
        case C_DATA_CR:
            if (c != '\r') {
                return fail(p, WD_EPROTO, WD_HTTP1_R_CHUNK_DATA_CRLF);
            }
            p->state = C_DATA_LF;
            break;
        case C_DATA_LF:
            if (c != '\n') {
                return fail(p, WD_EPROTO, WD_HTTP1_R_CHUNK_DATA_CRLF);
            }
            p->state = C_SIZE;
            p->remaining = 0;
            p->chunk_digits = 0;
            p->chunk_line = 0;
            break;
        default:
            WD_BUG_ON(1);
        }
        off++;
    }
    st->used = len;
    return WD_EAGAIN;
}

int wd_http1_step(struct wd_http1_parser *p, const uint8_t *in, size_t len,
                  struct wd_http1_step *st)
{
    if (p == NULL || st == NULL || (in == NULL && len > 0)) {
        return WD_EINVAL;
    }
    st->used = 0;
    st->data.p = NULL;
    st->data.len = 0;
    if (p->err != 0) {
        return p->err;
    }
    if (p->state == S_DONE) {
        begin_message(p);
    }
    if (p->state <= H_LAST_) {
        /* The region starts at in[0] and must hold at least what was already scanned. */
        if (len < p->scan) {
            return WD_EINVAL;
        }
        if (p->in_trailer) {
            return trailer_step(p, in, len, 0, st);
        }
        int rc = scan_region(p, in, len);
        if (rc < 0) {
            return rc;
        }
        if ((rc = finish_head(p, in)) < 0) {
            return rc;
        }
        st->used = p->scan;
        st->ev = WD_HTTP1_EV_HEAD;
        return WD_OK;
    }
    switch (p->state) {
    case B_END:
        return end_message(p, st, 0);
    case B_LENGTH: {
        if (len == 0) {
            return WD_EAGAIN;
        }
        size_t n = (size_t)WD_MIN((uint64_t)len, p->remaining);
        p->remaining -= n;
        if (p->remaining == 0) {
            p->state = B_END;
        }
        st->data.p = in;
        st->data.len = n;
        st->used = n;
        st->ev = WD_HTTP1_EV_DATA;
        return WD_OK;
    }
    case B_EOF:
        if (len == 0) {
            return WD_EAGAIN;
        }
        if (p->body_total == p->cfg.max_body) {
            return fail(p, WD_ELIMIT, WD_HTTP1_R_LIMIT_BODY);
        }
        /* Deliver up to the bound and fail on the byte after it, however bytes arrive. */
        len = (size_t)WD_MIN((uint64_t)len, p->cfg.max_body - p->body_total);
        p->body_total += len;
        st->data.p = in;
        st->data.len = len;
        st->used = len;
        st->ev = WD_HTTP1_EV_DATA;
        return WD_OK;
    case S_TRUNCATED:
        return WD_EINVAL;
    default:
        return chunked_step(p, in, len, st);
    }
}

int wd_http1_finish(struct wd_http1_parser *p)
{
    if (p->err != 0) {
        return p->err;
    }
    switch (p->state) {
    case H_START:
    case H_START_LF:
    case S_DONE:
    case B_END:
        /* Between messages (blank lines at most), or complete but not yet reported. */
        return WD_OK;
    case B_EOF:
        /* RFC 9112 §6.3 ¶8: the close delimits the body; nothing may follow it. */
        p->closed = true;
        p->state = S_DONE;
        return WD_OK;
    default:
        p->state = S_TRUNCATED;
        return fail(p, WD_EPROTO, WD_HTTP1_R_TRUNCATED);
    }
}
