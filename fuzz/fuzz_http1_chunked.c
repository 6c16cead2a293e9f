/*
 * Fuzz the chunked-body decoder (RFC 9112 §7.1). The input is the body of a request whose
 * head says "Transfer-Encoding: chunked". It is checked two ways:
 *   - whole vs byte-at-a-time through fuzz/http1_fuzz.h (identical transcripts);
 *   - against ref_decode() below, a second, deliberately plain (not resumable) decoder of
 *     the same strict grammar and limits: both must reach the same outcome (complete,
 *     incomplete, or the same error and reason), decode the same bytes, end at the same
 *     offset and see the same trailers.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http1_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char head[] = "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
#define HEAD_FIELDS 2

/* What a decoder made of the body. */
struct result {
    int rc; /* WD_OK (complete), WD_EAGAIN, WD_EPROTO or WD_ELIMIT */
    enum wd_http1_reason reason;
    size_t end; /* body bytes consumed when complete */
    struct wd_buf data;
    struct wd_buf trailers; /* "name\0value\0" per trailer */
};

/* ---- the reference decoder ---- */

struct ref {
    const uint8_t *p;
    size_t n, pos;
    size_t line_start;
    struct wd_http1_config cfg;
    struct result *out;
};

static bool tchar(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool vchar_obs(uint8_t c)
{
    return (c >= 0x21 && c <= 0x7e) || c >= 0x80;
}

static int hexv(uint8_t c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (uint8_t)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int ref_fail(struct ref *r, int rc, enum wd_http1_reason why)
{
    r->out->rc = rc;
    r->out->reason = why;
    return rc;
}

/* Next byte of a chunk-size line: WD_EAGAIN at the end, WD_ELIMIT past max_line. */
static int size_byte(struct ref *r, uint8_t *c)
{
    if (r->pos == r->n) {
        return ref_fail(r, WD_EAGAIN, WD_HTTP1_R_NONE);
    }
    if (r->pos - r->line_start + 1 > r->cfg.max_line) {
        return ref_fail(r, WD_ELIMIT, WD_HTTP1_R_LIMIT_LINE);
    }
    *c = r->p[r->pos++];
    return WD_OK;
}

/* chunk-size [ chunk-ext ] CRLF; sets *size. */
static int ref_size_line(struct ref *r, uint64_t *size)
{
    uint8_t c;
    unsigned digits = 0;
    *size = 0;
    r->line_start = r->pos;
    for (;;) {
        WD_TRY(size_byte(r, &c));
        int v = hexv(c);
        if (v < 0) {
            break;
        }
        if (digits == r->cfg.max_chunk_digits) {
            return ref_fail(r, WD_ELIMIT, WD_HTTP1_R_LIMIT_CHUNK_DIGITS);
        }
        *size = *size * 16 + (uint64_t)v;
        digits++;
    }
    if (digits == 0) {
        return ref_fail(r, WD_EPROTO, WD_HTTP1_R_CHUNK_SIZE);
    }
    if (c == '\n') {
        return ref_fail(r, WD_EPROTO, WD_HTTP1_R_BARE_LF);
    }
    while (c == ';') {
        /* chunk-ext-name = token */
        WD_TRY(size_byte(r, &c));
        if (!tchar(c)) {
            return ref_fail(r, WD_EPROTO, WD_HTTP1_R_CHUNK_EXT);
        }
        do {
            WD_TRY(size_byte(r, &c));
        } while (tchar(c));
        if (c == '=') {
            WD_TRY(size_byte(r, &c));
            if (tchar(c)) {
                do {
                    WD_TRY(size_byte(r, &c));
                } while (tchar(c));
            } else if (c == '"') {
                for (;;) {
                    WD_TRY(size_byte(r, &c));
                    if (c == '"') {
                        break;
                    }
                    if (c == '\\') {
                        WD_TRY(size_byte(r, &c));
                        if (!vchar_obs(c) && c != ' ' && c != '\t') {
                            return ref_fail(r, WD_EPROTO, WD_HTTP1_R_CHUNK_EXT);
                        }
                    } else if (c != '\t' && c != ' ' && c != 0x21 && !(c >= 0x23 && c <= 0x5b)
                               && !(c >= 0x5d && c <= 0x7e) && c < 0x80) {
                        return ref_fail(r, WD_EPROTO, WD_HTTP1_R_CHUNK_EXT);
                    }
                }
                WD_TRY(size_byte(r, &c));
            } else {
                return ref_fail(r, WD_EPROTO, WD_HTTP1_R_CHUNK_EXT);
            }
        }
        if (c != ';' && c != '\r') {
            return ref_fail(r, WD_EPROTO, WD_HTTP1_R_CHUNK_EXT);
        }
    }
    if (c != '\r') {
        return ref_fail(r, WD_EPROTO, WD_HTTP1_R_CHUNK_SIZE);
    }
    WD_TRY(size_byte(r, &c));
    if (c != '\n') {
        return ref_fail(r, WD_EPROTO, WD_HTTP1_R_BARE_CR);
    }
    return WD_OK;
}

/* Next byte of the trailer section starting at r0: limits first, as the parser does. */
static int tr_byte(struct ref *r, size_t r0, uint8_t *c)
{
    if (r->pos == r->n) {
        return ref_fail(r, WD_EAGAIN, WD_HTTP1_R_NONE);
    }
    if (r->pos - r0 >= r->cfg.max_head) {
        return ref_fail(r, WD_ELIMIT, WD_HTTP1_R_LIMIT_HEAD);
    }
    if (r->pos - r->line_start >= r->cfg.max_line) {
        return ref_fail(r, WD_ELIMIT, WD_HTTP1_R_LIMIT_LINE);
    }
    *c = r->p[r->pos++];
    return WD_OK;
}

static int ref_trailers(struct ref *r)
{
    static const char *const forbidden[] = {
            "content-length", "transfer-encoding", "host", "connection",
            "keep-alive",     "upgrade",           "te",   "trailer",
            "expect",
    };
    size_t r0 = r->pos, count = 0;
    uint8_t c;
    for (;;) {
        r->line_start = r->pos;
        WD_TRY(tr_byte(r, r0, &c));
        if (c == '\r') {
            WD_TRY(tr_byte(r, r0, &c));
            return c == '\n' ? WD_OK : ref_fail(r, WD_EPROTO, WD_HTTP1_R_BARE_CR);
        }
        if (c == '\n') {
            return ref_fail(r, WD_EPROTO, WD_HTTP1_R_BARE_LF);
        }
        if (c == ' ' || c == '\t') {
            return ref_fail(r, WD_EPROTO, WD_HTTP1_R_OBS_FOLD);
        }
        if (!tchar(c)) {
            return ref_fail(r, WD_EPROTO, WD_HTTP1_R_FIELD_NAME);
        }
        size_t ns = r->pos - 1;
        do {
            WD_TRY(tr_byte(r, r0, &c));
        } while (tchar(c));
        size_t ne = r->pos - 1;
        if (c == ' ' || c == '\t') {
            return ref_fail(r, WD_EPROTO, WD_HTTP1_R_FIELD_WS_COLON);
        }
        if (c == '\r' || c == '\n') {
            return ref_fail(r, WD_EPROTO, WD_HTTP1_R_FIELD_NO_COLON);
        }
        if (c != ':') {
            return ref_fail(r, WD_EPROTO, WD_HTTP1_R_FIELD_NAME);
        }
        size_t vs = 0, ve = 0;
        bool started = false;
        for (;;) {
            WD_TRY(tr_byte(r, r0, &c));
            if (c == '\r') {
                break;
            }
            if (c == '\n') {
                return ref_fail(r, WD_EPROTO, WD_HTTP1_R_BARE_LF);
            }
            if (c == ' ' || c == '\t') {
                continue;
            }
            if (!vchar_obs(c)) {
                return ref_fail(r, WD_EPROTO, WD_HTTP1_R_FIELD_VALUE);
            }
            if (!started) {
                vs = r->pos - 1;
                started = true;
            }
            ve = r->pos;
        }
        WD_TRY(tr_byte(r, r0, &c));
        if (c != '\n') {
            return ref_fail(r, WD_EPROTO, WD_HTTP1_R_BARE_CR);
        }
        if (HEAD_FIELDS + count >= FUZZ_FIELDS) {
            return ref_fail(r, WD_ELIMIT, WD_HTTP1_R_LIMIT_FIELDS);
        }
        for (size_t i = 0; i < WD_ARRAY_LEN(forbidden); i++) {
            size_t fl = strlen(forbidden[i]);
            bool eq = fl == ne - ns;
            for (size_t k = 0; eq && k < fl; k++) {
                uint8_t a = r->p[ns + k];
                eq = (a >= 'A' && a <= 'Z' ? (uint8_t)(a | 0x20) : a) == (uint8_t)forbidden[i][k];
            }
            if (eq) {
                return ref_fail(r, WD_EPROTO, WD_HTTP1_R_TRAILER_FIELD);
            }
        }
        WD_BUG_ON(wd_buf_append(&r->out->trailers, r->p + ns, ne - ns) < 0);
        WD_BUG_ON(wd_buf_append_byte(&r->out->trailers, 0) < 0);
        if (started) {
            WD_BUG_ON(wd_buf_append(&r->out->trailers, r->p + vs, ve - vs) < 0);
        }
        WD_BUG_ON(wd_buf_append_byte(&r->out->trailers, 0) < 0);
        count++;
    }
}

static void ref_decode(const uint8_t *p, size_t n, struct result *out)
{
    struct ref r = {.p = p, .n = n, .out = out};
    wd_http1_config_default(&r.cfg);
    out->rc = WD_OK;
    out->reason = WD_HTTP1_R_NONE;
    uint64_t total = 0;
    for (;;) {
        uint64_t size;
        if (ref_size_line(&r, &size) < 0) {
            return;
        }
        /* The decoded total must stay within max_body (UINT64_MAX: it must not wrap). */
        if (size > r.cfg.max_body - total) {
            out->rc = WD_ELIMIT;
            out->reason = WD_HTTP1_R_LIMIT_BODY;
            return;
        }
        total += size;
        if (size == 0) {
            if (ref_trailers(&r) == WD_OK) {
                out->end = r.pos;
            }
            return;
        }
        size_t take = (size_t)WD_MIN(size, (uint64_t)(n - r.pos));
        WD_BUG_ON(wd_buf_append(&out->data, p + r.pos, take) < 0);
        r.pos += take;
        if (take < size || r.pos == n) {
            out->rc = WD_EAGAIN;
            return;
        }
        if (p[r.pos] != '\r') {
            out->rc = WD_EPROTO;
            out->reason = WD_HTTP1_R_CHUNK_DATA_CRLF;
            return;
        }
        if (++r.pos == n) {
            out->rc = WD_EAGAIN;
            return;
        }
        if (p[r.pos++] != '\n') {
            out->rc = WD_EPROTO;
            out->reason = WD_HTTP1_R_CHUNK_DATA_CRLF;
            return;
        }
    }
}

/* ---- warden's parser ---- */

static void parser_decode(const uint8_t *in, size_t len, size_t body_off, struct result *out)
{
    struct wd_http1_field fields[FUZZ_FIELDS];
    struct wd_http1_parser p;
    wd_http1_init(&p, WD_HTTP1_REQUEST, NULL, fields, FUZZ_FIELDS);
    size_t pos = 0;
    for (;;) {
        struct wd_http1_step st;
        int rc = wd_http1_step(&p, in + pos, len - pos, &st);
        if (rc < 0) {
            out->rc = rc;
            out->reason = wd_http1_reason(&p);
            return;
        }
        pos += st.used;
        if (st.ev == WD_HTTP1_EV_HEAD) {
            WD_BUG_ON(pos != body_off || wd_http1_msg(&p)->body != WD_HTTP1_BODY_CHUNKED);
        } else if (st.ev == WD_HTTP1_EV_DATA) {
            WD_BUG_ON(wd_buf_append(&out->data, st.data.p, st.data.len) < 0);
        } else if (st.ev == WD_HTTP1_EV_TRAILERS) {
            for (size_t i = 0; i < wd_http1_msg(&p)->ntrailers; i++) {
                struct wd_slice n, v;
                WD_BUG_ON(!wd_http1_trailer(&p, i, &n, &v));
                WD_BUG_ON(wd_buf_append(&out->trailers, n.p, n.len) < 0);
                WD_BUG_ON(wd_buf_append_byte(&out->trailers, 0) < 0);
                WD_BUG_ON(wd_buf_append(&out->trailers, v.p, v.len) < 0);
                WD_BUG_ON(wd_buf_append_byte(&out->trailers, 0) < 0);
            }
        } else {
            out->rc = WD_OK;
            out->reason = WD_HTTP1_R_NONE;
            out->end = pos - body_off;
            return;
        }
    }
}

static bool buf_same(const struct wd_buf *a, const struct wd_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT) {
        return 0;
    }
    size_t hl = sizeof(head) - 1;
    struct wd_buf msg;
    wd_buf_init(&msg, FUZZ_MAX_INPUT + sizeof(head));
    WD_BUG_ON(wd_buf_append(&msg, head, hl) < 0);
    WD_BUG_ON(wd_buf_append(&msg, data, size) < 0);

    struct fuzz_run r;
    r.kind = WD_HTTP1_REQUEST;
    wd_http1_config_default(&r.cfg);
    r.req_method = WD_HTTP1_GET;
    r.finish = false;
    (void)fuzz_both(&r, msg.p, msg.len);

    struct result a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    wd_buf_init(&a.data, FUZZ_MAX_INPUT);
    wd_buf_init(&b.data, FUZZ_MAX_INPUT);
    wd_buf_init(&a.trailers, 2 * FUZZ_MAX_INPUT);
    wd_buf_init(&b.trailers, 2 * FUZZ_MAX_INPUT);
    parser_decode(msg.p, msg.len, hl, &a);
    ref_decode(data, size, &b);
    WD_BUG_ON(a.rc != b.rc);
    WD_BUG_ON(a.reason != b.reason);
    WD_BUG_ON(!buf_same(&a.data, &b.data));
    WD_BUG_ON(a.rc == WD_OK && (a.end != b.end || !buf_same(&a.trailers, &b.trailers)));
    wd_buf_cleanup(&a.data);
    wd_buf_cleanup(&b.data);
    wd_buf_cleanup(&a.trailers);
    wd_buf_cleanup(&b.trailers);
    wd_buf_cleanup(&msg);
    return 0;
}
