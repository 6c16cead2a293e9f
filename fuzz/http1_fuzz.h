/*
 * Shared by the HTTP/1.1 fuzz harnesses: run a byte stream through a parser, either whole or
 * growing the input one byte at a time whenever the parser asks for more, and record a
 * canonical transcript (heads, fields, body bytes per message, trailers, ends, the final
 * status and reason). Both feeding modes must give the same transcript; the harnesses
 * WD_BUG_ON a difference. The checks on every step (used <= len, DATA inside the input and
 * non-empty, used == 0 on errors, only the documented codes) run in both modes.
 */
#ifndef WD_FUZZ_HTTP1_H
#define WD_FUZZ_HTTP1_H

#include <stdint.h>
#include <string.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/http1.h"

#define FUZZ_MAX_INPUT (64 * 1024)
#define FUZZ_FIELDS    32

struct fuzz_run {
    enum wd_http1_kind kind;
    struct wd_http1_config cfg;
    enum wd_http1_method req_method;
    bool finish; /* call wd_http1_finish() when the input is used up */
};

static inline void tr_u64(struct wd_buf *t, uint64_t v)
{
    WD_BUG_ON(wd_buf_append(t, &v, sizeof(v)) < 0);
}

static inline void tr_bytes(struct wd_buf *t, const void *p, size_t n)
{
    tr_u64(t, n);
    WD_BUG_ON(wd_buf_append(t, p, n) < 0);
}

static inline void tr_slice(struct wd_buf *t, struct wd_slice s)
{
    tr_bytes(t, s.p, s.len);
}

static inline void tr_head(struct wd_buf *t, const struct wd_http1_parser *p)
{
    const struct wd_http1_msg *m = wd_http1_msg(p);
    tr_u64(t, 'H');
    tr_u64(t, m->version);
    tr_u64(t, m->method);
    tr_slice(t, m->method_name);
    tr_u64(t, m->form);
    tr_slice(t, m->target);
    tr_slice(t, m->scheme);
    tr_slice(t, m->authority);
    tr_slice(t, m->path);
    tr_slice(t, m->query);
    tr_u64(t, m->has_query);
    tr_u64(t, m->status);
    tr_slice(t, m->reason);
    tr_u64(t, m->body);
    tr_u64(t, m->content_length);
    tr_u64(t, (uint64_t)m->transfer_coded | (uint64_t)m->keep_alive << 1 | (uint64_t)m->upgrade << 2
                      | (uint64_t)m->tunnel << 3 | (uint64_t)m->interim << 4
                      | (uint64_t)m->expect_continue << 5 | (uint64_t)m->expect_other << 6);
    tr_u64(t, m->nfields);
    for (size_t i = 0; i < m->nfields; i++) {
        struct wd_slice n, v;
        WD_BUG_ON(!wd_http1_field(p, i, &n, &v));
        tr_slice(t, n);
        tr_slice(t, v);
        /* Values are trimmed; names are never empty. */
        WD_BUG_ON(n.len == 0);
        WD_BUG_ON(v.len > 0
                  && (v.p[0] == ' ' || v.p[0] == '\t' || v.p[v.len - 1] == ' '
                      || v.p[v.len - 1] == '\t'));
    }
}

/*
 * Parse in[0..len) as a stream of messages. Returns the final status (WD_OK only if the
 * stream ended cleanly per wd_http1_finish(), else WD_EAGAIN or the error) and leaves the
 * transcript in t. Body bytes are recorded per message, so the split points do not matter.
 */
static inline int fuzz_parse(const struct fuzz_run *r, const uint8_t *in, size_t len, bool bytewise,
                             struct wd_buf *t)
{
    struct wd_http1_field fields[FUZZ_FIELDS];
    struct wd_http1_parser p;
    struct wd_buf body;
    wd_buf_init(&body, FUZZ_MAX_INPUT + 1);
    wd_http1_init(&p, r->kind, &r->cfg, fields, FUZZ_FIELDS);
    wd_http1_set_request_method(&p, r->req_method);
    size_t pos = 0, avail = bytewise ? 0 : len;
    int rc;
    for (;;) {
        struct wd_http1_step st;
        rc = wd_http1_step(&p, in + pos, avail - pos, &st);
        WD_BUG_ON(st.used > avail - pos);
        if (rc == WD_EAGAIN) {
            pos += st.used;
            if (avail < len) {
                avail++;
                continue;
            }
            break;
        }
        if (rc < 0) {
            WD_BUG_ON(rc != WD_EPROTO && rc != WD_ELIMIT);
            WD_BUG_ON(st.used != 0);
            WD_BUG_ON(wd_http1_reason(&p) == WD_HTTP1_R_NONE);
            /* Sticky. */
            WD_BUG_ON(wd_http1_step(&p, in + pos, avail - pos, &st) != rc);
            break;
        }
        switch (st.ev) {
        case WD_HTTP1_EV_HEAD:
            tr_head(t, &p);
            break;
        case WD_HTTP1_EV_DATA:
            WD_BUG_ON(st.data.len == 0 || st.data.p < in + pos
                      || st.data.p + st.data.len > in + pos + st.used);
            WD_BUG_ON(wd_buf_append(&body, st.data.p, st.data.len) < 0);
            break;
        case WD_HTTP1_EV_TRAILERS:
            tr_u64(t, 'T');
            tr_u64(t, wd_http1_msg(&p)->ntrailers);
            for (size_t i = 0; i < wd_http1_msg(&p)->ntrailers; i++) {
                struct wd_slice n, v;
                WD_BUG_ON(!wd_http1_trailer(&p, i, &n, &v));
                tr_slice(t, n);
                tr_slice(t, v);
            }
            break;
        case WD_HTTP1_EV_END:
            tr_u64(t, 'E');
            tr_bytes(t, body.p, body.len);
            wd_buf_reset(&body);
            break;
        }
        pos += st.used;
    }
    if (rc == WD_EAGAIN && r->finish) {
        rc = wd_http1_finish(&p);
        if (rc == WD_OK) {
            /* A read-until-close body is complete now. */
            tr_u64(t, 'F');
        }
    }
    tr_u64(t, 'Z');
    tr_u64(t, (uint64_t)(int64_t)rc);
    tr_u64(t, wd_http1_reason(&p));
    tr_bytes(t, body.p, body.len); /* body of an unfinished message */
    wd_buf_cleanup(&body);
    return rc;
}

/* Both feeding modes, compared. Returns the final status. */
static inline int fuzz_both(const struct fuzz_run *r, const uint8_t *in, size_t len)
{
    struct wd_buf a, b;
    wd_buf_init(&a, (size_t)64 << 20);
    wd_buf_init(&b, (size_t)64 << 20);
    int rc = fuzz_parse(r, in, len, false, &a);
    int rc2 = fuzz_parse(r, in, len, true, &b);
    WD_BUG_ON(rc != rc2);
    WD_BUG_ON(a.len != b.len || (a.len > 0 && memcmp(a.p, b.p, a.len) != 0));
    wd_buf_cleanup(&a);
    wd_buf_cleanup(&b);
    return rc;
}

/* A configuration picked by one byte, so small limits get exercised too. */
static inline void fuzz_config(uint8_t sel, struct wd_http1_config *cfg)
{
    wd_http1_config_default(cfg);
    cfg->any_method = (sel & 1) != 0;
    cfg->allow_missing_host = (sel & 2) != 0;
    if (sel & 4) {
        cfg->max_line = 64;
        cfg->max_head = 256;
        cfg->max_chunk_digits = 4;
        cfg->max_body = 100;
    }
}

#endif
