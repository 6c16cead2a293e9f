/*
 * Hex and base64 (RFC 4648 §4 standard and §5 URL-safe alphabets). Pure functions, safe to
 * call from any thread. Every function appends to out and, on any error, leaves it as it
 * was: WD_ELIMIT when the result would pass out's cap, WD_ENOMEM.
 */
#ifndef WD_CODEC_H
#define WD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "warden/buf.h"
#include "warden/common.h"

/* The value 0..15 of one hex digit of either case, or -1 for any other byte. Pure. */
WD_MUST_USE int wd_hex_digit_value(unsigned char c);

/*
 * Write code point cp (at most 0x10FFFF; the caller has excluded surrogates where they are
 * not allowed) as UTF-8 into out and return its length, 1 to 4. Pure.
 */
size_t wd_utf8_encode(uint32_t cp, uint8_t out[4]);

/* Append the lower-case hex of p[0..n) to out. WD_ELIMIT / WD_ENOMEM from the buffer. */
WD_MUST_USE int wd_hex_encode(struct wd_buf *out, const void *p, size_t n);
/*
 * Decode hex text (either case, even length, no separators or spaces) into out.
 * WD_EPROTO for an odd length or a non-hex character.
 */
WD_MUST_USE int wd_hex_decode(struct wd_buf *out, const char *s, size_t n);

enum wd_b64_alphabet {
    WD_B64_STD, /* RFC 4648 §4, padded with '=' */
    WD_B64_URL, /* RFC 4648 §5, unpadded on encode; padding optional on decode */
};
WD_MUST_USE int wd_b64_encode(struct wd_buf *out, const void *p, size_t n,
                              enum wd_b64_alphabet alpha);
/*
 * Strict decode: no whitespace, no characters outside the alphabet, padding only at the end
 * and only as much as needed (required for WD_B64_STD), and the unused low bits of the last
 * character must be zero (RFC 4648 §3.5), so every input has one decoding. WD_EPROTO else.
 */
WD_MUST_USE int wd_b64_decode(struct wd_buf *out, const char *s, size_t n,
                              enum wd_b64_alphabet alpha);

#endif
