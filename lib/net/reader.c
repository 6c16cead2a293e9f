/*
 * The server's request reader: received bytes in, whole requests out. It wraps the strict
 * lib/http1 parser, copies the head into NUL-terminated strings (so the receive buffer can
 * move on to the body and the next pipelined request) and collects the de-chunked body.
 * Pure: the server feeds it from a socket, fuzz/fuzz_net_request.c from a buffer.
 */
#include <string.h>

#include "net_int.h"

/* Which status to answer for a parser error: limits have their own codes (RFC 6585, RFC
   9110 §15.5.14), unknown things are "not implemented", the rest is a bad request. */
int wd_net_error_status(int rc, enum wd_http1_reason reason)
{
    if (rc == WD_ELIMIT) {
        switch (reason) {
        case WD_HTTP1_R_LIMIT_BODY:
        case WD_HTTP1_R_LIMIT_CHUNK_DIGITS: /* a chunk larger than any allowed body */
            return 413;
        case WD_HTTP1_R_LIMIT_LINE:
        case WD_HTTP1_R_LIMIT_HEAD:
        case WD_HTTP1_R_LIMIT_FIELDS:
            return 431; /* RFC 6585 §5 */
        default:
            return 400;
        }
    }
    switch (reason) {
    case WD_HTTP1_R_TE_UNKNOWN:     /* RFC 9112 §6.1: a transfer coding we do not know */
    case WD_HTTP1_R_METHOD_UNKNOWN: /* RFC 9110 §9.1 */
        return 501;
    case WD_HTTP1_R_VERSION_UNSUPP:
        return 505;
    default:
        return 400;
    }
}

/* The parser's defaults bound lines and heads; max_body bounds Content-Length and the sum
   of the chunks alike. */
void wd_net_reader_init(struct wd_net_reader *r, size_t max_body)
{
    memset(r, 0, sizeof(*r));
    struct wd_http1_config cfg;
    wd_http1_config_default(&cfg);
    cfg.max_body = max_body;
    wd_http1_init(&r->p, WD_HTTP1_REQUEST, &cfg, r->fields, WD_NET_FIELDS_MAX);
    wd_buf_init(&r->in, WD_NET_IN_MAX);
    /* The copies of a head are never longer than the head plus one NUL per string. */
    wd_buf_init(&r->head, cfg.max_head + (size_t)2 * WD_NET_FIELDS_MAX + 8);
    wd_buf_init(&r->body, max_body);
}

/* Accepts NULL. */
void wd_net_reader_cleanup(struct wd_net_reader *r)
{
    if (r == NULL) {
        return;
    }
    wd_buf_cleanup(&r->in);
    wd_buf_cleanup(&r->head);
    wd_buf_cleanup(&r->body);
}

/* For tests and the fuzz target; the server uses wd_net_reader_space/commit (no copy). */
int wd_net_reader_feed(struct wd_net_reader *r, const void *p, size_t n)
{
    return wd_buf_append(&r->in, p, n);
}

/* Never more than WD_NET_IN_MAX bytes are buffered: a head is at most 32 KiB and body
   bytes are consumed as they are parsed. */
int wd_net_reader_space(struct wd_net_reader *r, uint8_t **at, size_t *room)
{
    size_t n = WD_MIN((size_t)WD_NET_READ_CHUNK, r->in.max - r->in.len);
    WD_ENSURE(n > 0, WD_ELIMIT);
    WD_TRY(wd_buf_reserve(&r->in, n));
    *at = r->in.p + r->in.len;
    *room = n;
    return WD_OK;
}

/* Keep the buffer NUL-terminated as struct wd_buf promises. */
void wd_net_reader_commit(struct wd_net_reader *r, size_t n)
{
    WD_BUG_ON(r->in.len + n >= r->in.cap);
    r->in.len += n;
    r->in.p[r->in.len] = '\0';
}

/* Idle: the next byte read would start a new request (the keep-alive wait applies). */
bool wd_net_reader_idle(const struct wd_net_reader *r)
{
    return !r->in_msg && r->in.len == 0;
}

/* Free big buffers after a request; keep small ones for the next (no per-request churn). */
static void shrink(struct wd_buf *b)
{
    if (b->cap > WD_NET_KEEP_MAX && b->len == 0) {
        wd_buf_cleanup(b);
    } else {
        wd_buf_reset(b);
    }
}

/* After the response: the request's strings and body are no longer referenced. */
void wd_net_reader_release(struct wd_net_reader *r)
{
    wd_buf_reset(&r->head);
    wd_buf_reset(&r->body);
    shrink(&r->head);
    shrink(&r->body);
    if (r->in.len == 0) {
        shrink(&r->in);
    }
}

/* Append s and a NUL to the head copies; *off receives where it starts. */
static int copy_str(struct wd_net_reader *r, struct wd_slice s, size_t *off)
{
    *off = r->head.len;
    WD_TRY(wd_buf_append(&r->head, s.p, s.len));
    return wd_buf_append_byte(&r->head, 0);
}

/* EV_HEAD: copy what the handler sees, and refuse what this server does not serve. */
static int take_head(struct wd_net_reader *r, int *status)
{
    const struct wd_http1_msg *m = wd_http1_msg(&r->p);
    wd_buf_reset(&r->head);
    wd_buf_reset(&r->body);
    r->in_msg = true;
    r->want_continue = false;
    if (m->form == WD_HTTP1_FORM_AUTHORITY) {
        *status = 501; /* CONNECT: no tunnels here */
        return WD_EPROTO;
    }
    if (m->form == WD_HTTP1_FORM_ASTERISK) {
        *status = 400;
        return WD_EPROTO;
    }
    if (m->transfer_coded) {
        /* RFC 9112 §6.1: gzip/deflate/compress under chunked; we do not decode them. */
        *status = 501;
        return WD_EPROTO;
    }
    if (m->expect_other) {
        *status = 417; /* RFC 9110 §10.1.1 */
        return WD_EPROTO;
    }
    struct wd_slice path = m->path;
    if (path.len == 0) {
        path = wd_slice_from_str("/"); /* absolute-form without a path (RFC 9112 §3.2.2) */
    }
    struct wd_slice query = m->has_query ? m->query : wd_slice_from_str("");
    int rc = copy_str(r, m->method_name, &r->off_method);
    if (rc == WD_OK) {
        rc = copy_str(r, path, &r->off_path);
    }
    if (rc == WD_OK) {
        rc = copy_str(r, query, &r->off_query);
    }
    r->n_fields = 0;
    for (size_t i = 0; rc == WD_OK && i < m->nfields && i < WD_NET_FIELDS_MAX; i++) {
        struct wd_slice name, value;
        WD_BUG_ON(!wd_http1_field(&r->p, i, &name, &value));
        rc = copy_str(r, name, &r->off_names[i]);
        if (rc == WD_OK) {
            rc = copy_str(r, value, &r->off_values[i]);
        }
        r->n_fields = i + 1;
    }
    if (rc == WD_ELIMIT) {
        *status = 431;
        return WD_ELIMIT;
    }
    WD_TRY(rc);
    r->version = m->version;
    /* RFC 9112 §9.3: HTTP/1.0 closes; an upgrade is answered (not performed) and closes. */
    r->keep_alive = m->keep_alive && m->version == 11 && !m->upgrade;
    r->is_head = m->method == WD_HTTP1_HEAD;
    r->upgrade = m->upgrade;
    /* RFC 9110 §10.1.1: the client may wait for 100 before sending the body. */
    r->want_continue = m->expect_continue && m->body != WD_HTTP1_BODY_NONE
                       && !(m->body == WD_HTTP1_BODY_LENGTH && m->content_length == 0);
    return WD_OK;
}

/* Resolve the offsets into pointers only now: the head buffer may have moved while it
   grew. */
static void fill(struct wd_net_reader *r, struct wd_net_request *req)
{
    const char *base = (const char *)r->head.p;
    req->method = base + r->off_method;
    req->path = base + r->off_path;
    req->query = base + r->off_query;
    req->n_headers = r->n_fields;
    for (size_t i = 0; i < r->n_fields; i++) {
        req->headers[i].name = base + r->off_names[i];
        req->headers[i].value = base + r->off_values[i];
    }
    req->body = r->body.p != NULL ? r->body.p : (const uint8_t *)"";
    req->body_len = r->body.len;
    req->version = r->version;
    req->keep_alive = r->keep_alive;
    req->is_head = r->is_head;
}

/* Step the parser until a request ends, more bytes are needed, or it fails. */
int wd_net_reader_next(struct wd_net_reader *r, struct wd_net_request *req, int *status)
{
    *status = 0;
    for (;;) {
        struct wd_http1_step st;
        int rc = wd_http1_step(&r->p, r->in.p, r->in.len, &st);
        if (rc == WD_EAGAIN) {
            wd_buf_consume(&r->in, st.used);
            return WD_EAGAIN;
        }
        if (rc < 0) {
            *status = wd_net_error_status(rc, wd_http1_reason(&r->p));
            return rc;
        }
        switch (st.ev) {
        case WD_HTTP1_EV_HEAD:
            rc = take_head(r, status);
            break;
        case WD_HTTP1_EV_DATA:
            rc = wd_buf_append(&r->body, st.data.p, st.data.len);
            if (rc == WD_ELIMIT) {
                *status = 413; /* the parser enforces the same bound; belt and braces */
            }
            break;
        case WD_HTTP1_EV_TRAILERS:
            break; /* trailer fields are not passed to handlers */
        case WD_HTTP1_EV_END:
            wd_buf_consume(&r->in, st.used);
            r->in_msg = false;
            r->want_continue = false;
            fill(r, req);
            return WD_OK;
        }
        if (rc < 0) {
            return rc;
        }
        wd_buf_consume(&r->in, st.used);
    }
}
