/*
 * Fuzz the server's request reader (lib/net/reader.c): the bytes a connection receives
 * become whole requests, exactly as the server assembles them for a handler. The first
 * byte picks the body limit and the size of the pieces the stream is fed in; the rest is
 * the stream. Every input is read twice, whole and in pieces, and the transcripts (method,
 * path, query, header names and values, body, keep-alive, and the final status) must be
 * identical: WD_BUG_ON otherwise. Every string a handler would see must be NUL-terminated
 * within the reader's head copy, and every error must map to a status the server sends.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "warden/buf.h"
#include "warden/common.h"

#include "net/net_int.h"

#define FUZZ_MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void tr_bytes(struct wd_buf *t, const void *p, size_t n)
{
    uint64_t len = n;
    WD_BUG_ON(wd_buf_append(t, &len, sizeof(len)) < 0);
    WD_BUG_ON(wd_buf_append(t, p, n) < 0);
}

static void tr_str(struct wd_buf *t, const struct wd_net_reader *r, const char *s)
{
    /* Inside the head copy and NUL-terminated there. */
    const char *lo = (const char *)r->head.p, *hi = lo + r->head.len;
    WD_BUG_ON(s < lo || s >= hi);
    size_t n = strlen(s);
    WD_BUG_ON(s + n >= hi + 1);
    tr_bytes(t, s, n);
}

static void tr_request(struct wd_buf *t, const struct wd_net_reader *r,
                       const struct wd_net_request *q)
{
    tr_str(t, r, q->method);
    tr_str(t, r, q->path);
    tr_str(t, r, q->query);
    WD_BUG_ON(q->path[0] != '/');
    WD_BUG_ON(q->n_headers > WD_NET_FIELDS_MAX);
    for (size_t i = 0; i < q->n_headers; i++) {
        WD_BUG_ON(q->headers[i].name[0] == '\0');
        tr_str(t, r, q->headers[i].name);
        tr_str(t, r, q->headers[i].value);
    }
    WD_BUG_ON(q->body[q->body_len] != '\0');
    tr_bytes(t, q->body, q->body_len);
    uint8_t flags = (uint8_t)(q->keep_alive | q->is_head << 1 | (q->version == 11) << 2);
    tr_bytes(t, &flags, 1);
}

static bool known_status(int s)
{
    return s == 400 || s == 413 || s == 417 || s == 431 || s == 501 || s == 505;
}

/* Read in[0..len) fed piece bytes at a time (0: whole); the transcript goes to t. */
static void run(const uint8_t *in, size_t len, size_t piece, size_t max_body, struct wd_buf *t)
{
    struct wd_net_reader r;
    struct wd_net_request q;
    wd_net_reader_init(&r, max_body);
    size_t fed = 0;
    int rc = WD_EAGAIN, status = 0;
    for (;;) {
        size_t n = piece == 0 ? len - fed : WD_MIN(piece, len - fed);
        if (n > 0) {
            WD_BUG_ON(wd_net_reader_feed(&r, in + fed, n) < 0);
            fed += n;
        }
        while ((rc = wd_net_reader_next(&r, &q, &status)) == WD_OK) {
            tr_request(t, &r, &q);
            wd_net_reader_release(&r);
        }
        if (rc != WD_EAGAIN || fed == len) {
            break;
        }
    }
    if (rc == WD_EAGAIN) {
        WD_BUG_ON(status != 0);
    } else {
        WD_BUG_ON(rc != WD_EPROTO && rc != WD_ELIMIT);
        WD_BUG_ON(!known_status(status));
    }
    int64_t end[2] = {rc, status};
    WD_BUG_ON(wd_buf_append(t, end, sizeof(end)) < 0);
    wd_net_reader_cleanup(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_MAX_INPUT) {
        return 0;
    }
    static const size_t limits[4] = {0, 16, 1000, 1u << 20};
    size_t max_body = limits[data[0] & 3];
    size_t piece = 1 + (data[0] >> 2); /* 1..64 bytes at a time */
    struct wd_buf whole, pieces;
    wd_buf_init(&whole, 16u << 20);
    wd_buf_init(&pieces, 16u << 20);
    run(data + 1, size - 1, 0, max_body, &whole);
    run(data + 1, size - 1, piece, max_body, &pieces);
    WD_BUG_ON(whole.len != pieces.len || memcmp(whole.p, pieces.p, whole.len) != 0);
    wd_buf_cleanup(&whole);
    wd_buf_cleanup(&pieces);
    return 0;
}
