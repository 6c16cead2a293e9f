/* Bounded growable buffers and the bounds-checked reader. */
#include "warden/buf.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "warden/alloc.h"
#include "warden/err.h"

void wd_buf_init(struct wd_buf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void wd_buf_cleanup(struct wd_buf *b)
{
    if (b == NULL) {
        return;
    }
    WD_FREE(b->p);
    b->len = 0;
    b->cap = 0;
}

void wd_buf_cleanup_secret(struct wd_buf *b)
{
    if (b == NULL) {
        return;
    }
    if (b->p != NULL) {
        OPENSSL_cleanse(b->p, b->cap);
    }
    wd_buf_cleanup(b);
}

void wd_buf_reset(struct wd_buf *b)
{
    b->len = 0;
    if (b->p != NULL) {
        b->p[0] = '\0';
    }
}

int wd_buf_reserve(struct wd_buf *b, size_t n)
{
    WD_ENSURE(n <= b->max && b->len <= b->max - n, WD_ELIMIT);
    size_t need = b->len + n + 1; /* + trailing NUL */
    if (b->p != NULL && need <= b->cap) {
        return WD_OK;
    }
    /* Grow geometrically, but never allocate more than the cap allows. */
    size_t cap = b->cap < 64 ? 64 : b->cap;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    if (cap > b->max + 1) {
        cap = b->max + 1;
    }
    uint8_t *p = wd_reallocarray(b->p, cap, 1);
    WD_ENSURE(p != NULL, WD_ENOMEM);
    b->p = p;
    b->cap = cap;
    return WD_OK;
}

int wd_buf_append(struct wd_buf *b, const void *p, size_t n)
{
    WD_TRY(wd_buf_reserve(b, n));
    if (n > 0) {
        memcpy(b->p + b->len, p, n);
    }
    b->len += n;
    b->p[b->len] = '\0';
    return WD_OK;
}

int wd_buf_append_str(struct wd_buf *b, const char *s)
{
    return wd_buf_append(b, s, strlen(s));
}

int wd_buf_append_byte(struct wd_buf *b, uint8_t c)
{
    return wd_buf_append(b, &c, 1);
}

int wd_buf_vprintf(struct wd_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    WD_ENSURE(n >= 0, WD_EINVAL);
    WD_TRY(wd_buf_reserve(b, (size_t)n));
    (void)vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return WD_OK;
}

int wd_buf_printf(struct wd_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = wd_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void wd_buf_consume(struct wd_buf *b, size_t n)
{
    WD_BUG_ON(n > b->len);
    if (n == 0) {
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
    b->p[b->len] = '\0';
}

const char *wd_buf_str(const struct wd_buf *b)
{
    return b->p != NULL ? (const char *)b->p : "";
}

struct wd_slice wd_buf_slice(const struct wd_buf *b)
{
    struct wd_slice s = {b->p, b->len};
    return s;
}

char *wd_buf_steal(struct wd_buf *b, size_t *len_out)
{
    if (b->p == NULL && wd_buf_reserve(b, 0) < 0) {
        return NULL;
    }
    b->p[b->len] = '\0';
    char *p = (char *)b->p;
    if (len_out != NULL) {
        *len_out = b->len;
    }
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

struct wd_slice wd_slice_from_str(const char *s)
{
    struct wd_slice sl = {(const uint8_t *)s, strlen(s)};
    return sl;
}

bool wd_slice_eq_str(struct wd_slice s, const char *str)
{
    size_t n = strlen(str);
    return s.len == n && (n == 0 || memcmp(s.p, str, n) == 0);
}

void wd_rd_init(struct wd_rd *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
}

size_t wd_rd_left(const struct wd_rd *r)
{
    return r->len - r->off;
}

int wd_rd_bytes(struct wd_rd *r, size_t n, struct wd_slice *out)
{
    WD_ENSURE(n <= wd_rd_left(r), WD_EPROTO);
    out->p = r->p + r->off;
    out->len = n;
    r->off += n;
    return WD_OK;
}

int wd_rd_copy(struct wd_rd *r, void *dst, size_t n)
{
    struct wd_slice s;
    WD_TRY(wd_rd_bytes(r, n, &s));
    if (n > 0) {
        memcpy(dst, s.p, n);
    }
    return WD_OK;
}

int wd_rd_skip(struct wd_rd *r, size_t n)
{
    struct wd_slice s;
    return wd_rd_bytes(r, n, &s);
}

/* Read n <= 8 bytes as an unsigned integer in the given byte order. */
static int rd_uint(struct wd_rd *r, size_t n, bool big_endian, uint64_t *out)
{
    struct wd_slice s;
    WD_TRY(wd_rd_bytes(r, n, &s));
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        size_t idx = big_endian ? i : n - 1 - i;
        v = (v << 8) | s.p[idx];
    }
    *out = v;
    return WD_OK;
}

int wd_rd_u8(struct wd_rd *r, uint8_t *out)
{
    uint64_t v;
    WD_TRY(rd_uint(r, 1, true, &v));
    *out = (uint8_t)v;
    return WD_OK;
}

int wd_rd_u16be(struct wd_rd *r, uint16_t *out)
{
    uint64_t v;
    WD_TRY(rd_uint(r, 2, true, &v));
    *out = (uint16_t)v;
    return WD_OK;
}

int wd_rd_u32be(struct wd_rd *r, uint32_t *out)
{
    uint64_t v;
    WD_TRY(rd_uint(r, 4, true, &v));
    *out = (uint32_t)v;
    return WD_OK;
}

int wd_rd_u64be(struct wd_rd *r, uint64_t *out)
{
    return rd_uint(r, 8, true, out);
}

int wd_rd_u16le(struct wd_rd *r, uint16_t *out)
{
    uint64_t v;
    WD_TRY(rd_uint(r, 2, false, &v));
    *out = (uint16_t)v;
    return WD_OK;
}

int wd_rd_u32le(struct wd_rd *r, uint32_t *out)
{
    uint64_t v;
    WD_TRY(rd_uint(r, 4, false, &v));
    *out = (uint32_t)v;
    return WD_OK;
}

int wd_rd_u64le(struct wd_rd *r, uint64_t *out)
{
    return rd_uint(r, 8, false, out);
}

int wd_rd_varint(struct wd_rd *r, uint32_t *out)
{
    /* MQTT 5.0 §1.5.5: 7 bits per byte, continuation in the high bit, at most 4 bytes. */
    uint32_t v = 0;
    for (size_t i = 0; i < 4; i++) {
        if (r->off + i >= r->len) {
            return WD_EAGAIN;
        }
        uint8_t c = r->p[r->off + i];
        v |= (uint32_t)(c & 0x7f) << (7 * i);
        if ((c & 0x80) == 0) {
            r->off += i + 1;
            *out = v;
            return WD_OK;
        }
    }
    return WD_EPROTO;
}
