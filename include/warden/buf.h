/*
 * Bounded growable byte buffers, byte slices, and a bounds-checked reader for wire data.
 *
 * A struct wd_buf owns its bytes and never grows past the cap given at init: an append that
 * would exceed it returns WD_ELIMIT and leaves the buffer unchanged. The bytes are always
 * followed by a NUL that is not counted in len, so text can be handed to C APIs directly.
 * Not thread-safe; one owner at a time.
 */
#ifndef WD_BUF_H
#define WD_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/common.h"

/* A borrowed view of bytes; never owns p. */
struct wd_slice {
    const uint8_t *p;
    size_t len;
};

struct wd_buf {
    uint8_t *p; /* owned; NULL until the first append */
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated (including the trailing NUL) */
    size_t max; /* hard cap on len */
};

/* Start empty with a cap of max bytes. Infallible; allocates nothing. */
void wd_buf_init(struct wd_buf *b, size_t max);
/* Release the bytes; b can be reused after wd_buf_init. Accepts NULL. */
void wd_buf_cleanup(struct wd_buf *b);
/* As cleanup, but zero the bytes first (secrets). */
void wd_buf_cleanup_secret(struct wd_buf *b);
/* Forget the content, keep the allocation. */
void wd_buf_reset(struct wd_buf *b);

/* Append n bytes. WD_ELIMIT past the cap, WD_ENOMEM; on error b is unchanged. */
WD_MUST_USE int wd_buf_append(struct wd_buf *b, const void *p, size_t n);
/* Append a NUL-terminated string (without its NUL). */
WD_MUST_USE int wd_buf_append_str(struct wd_buf *b, const char *s);
WD_MUST_USE int wd_buf_append_byte(struct wd_buf *b, uint8_t c);
/* Append printf-formatted text. Same errors as wd_buf_append. */
WD_MUST_USE int wd_buf_printf(struct wd_buf *b, const char *fmt, ...) WD_PRINTF(2, 3);
WD_MUST_USE int wd_buf_vprintf(struct wd_buf *b, const char *fmt, va_list ap) WD_PRINTF(2, 0);
/* Make room for at least n more bytes without changing len. */
WD_MUST_USE int wd_buf_reserve(struct wd_buf *b, size_t n);
/* Drop the first n bytes (n <= len), moving the rest to the front. */
void wd_buf_consume(struct wd_buf *b, size_t n);

/* The content as text; "" for an empty buffer. Borrowed, valid until the next mutation. */
const char *wd_buf_str(const struct wd_buf *b);
/* The content as a slice. Borrowed as above. */
struct wd_slice wd_buf_slice(const struct wd_buf *b);
/*
 * Hand the bytes (NUL-terminated) to the caller, who frees them with wd_free; b is left
 * empty. Returns NULL only on WD_ENOMEM for an empty buffer that never allocated.
 */
WD_MUST_USE char *wd_buf_steal(struct wd_buf *b, size_t *len_out);

/* Slice helpers. */
struct wd_slice wd_slice_from_str(const char *s);
bool wd_slice_eq_str(struct wd_slice s, const char *str);

/*
 * A bounds-checked reader over borrowed bytes. Every read returns WD_EPROTO on short input
 * and then consumes nothing.
 */
struct wd_rd {
    const uint8_t *p;
    size_t len;
    size_t off;
};

void wd_rd_init(struct wd_rd *r, const void *p, size_t len);
size_t wd_rd_left(const struct wd_rd *r);
WD_MUST_USE int wd_rd_u8(struct wd_rd *r, uint8_t *out);
WD_MUST_USE int wd_rd_u16be(struct wd_rd *r, uint16_t *out);
WD_MUST_USE int wd_rd_u32be(struct wd_rd *r, uint32_t *out);
WD_MUST_USE int wd_rd_u64be(struct wd_rd *r, uint64_t *out);
WD_MUST_USE int wd_rd_u16le(struct wd_rd *r, uint16_t *out);
WD_MUST_USE int wd_rd_u32le(struct wd_rd *r, uint32_t *out);
WD_MUST_USE int wd_rd_u64le(struct wd_rd *r, uint64_t *out);
/* Borrow the next n bytes. */
WD_MUST_USE int wd_rd_bytes(struct wd_rd *r, size_t n, struct wd_slice *out);
/* Copy the next n bytes into dst. */
WD_MUST_USE int wd_rd_copy(struct wd_rd *r, void *dst, size_t n);
WD_MUST_USE int wd_rd_skip(struct wd_rd *r, size_t n);
/*
 * MQTT variable byte integer (MQTT 5.0 §1.5.5): 1-4 bytes, at most 268,435,455.
 * WD_EAGAIN when the input ends inside the integer (nothing consumed), WD_EPROTO when a
 * fourth byte still has its continuation bit set.
 */
WD_MUST_USE int wd_rd_varint(struct wd_rd *r, uint32_t *out);

#endif
