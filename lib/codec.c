/*
 * Hex and base64 (RFC 4648). Decoders are strict, so every encoded value has exactly one
 * accepted spelling (apart from hex case and optional base64url padding, which the header
 * allows): this matters wherever encoded text is compared or hashed.
 *
 * Every function sizes its output first and reserves it in one go, so the appends that
 * follow cannot fail and a failing call leaves out unchanged.
 */
#include "warden/codec.h"

#include <string.h>

#include "warden/err.h"

static const char hex_lower[] = "0123456789abcdef";

int wd_hex_digit_value(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

size_t wd_utf8_encode(uint32_t cp, uint8_t out[4])
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xc0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xe0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

int wd_hex_encode(struct wd_buf *out, const void *p, size_t n)
{
    const uint8_t *s = p;
    WD_ENSURE(n <= SIZE_MAX / 2, WD_ELIMIT);
    WD_TRY(wd_buf_reserve(out, n * 2));
    char block[256];
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        block[o++] = hex_lower[s[i] >> 4];
        block[o++] = hex_lower[s[i] & 0xf];
        if (o == sizeof(block)) {
            WD_TRY(wd_buf_append(out, block, o));
            o = 0;
        }
    }
    return wd_buf_append(out, block, o);
}

int wd_hex_decode(struct wd_buf *out, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    WD_ENSURE(n % 2 == 0, WD_EPROTO);
    for (size_t i = 0; i < n; i++) {
        WD_ENSURE(wd_hex_digit_value(u[i]) >= 0, WD_EPROTO);
    }
    WD_TRY(wd_buf_reserve(out, n / 2));
    uint8_t block[256];
    size_t o = 0;
    for (size_t i = 0; i < n; i += 2) {
        block[o++] = (uint8_t)(wd_hex_digit_value(u[i]) << 4 | wd_hex_digit_value(u[i + 1]));
        if (o == sizeof(block)) {
            WD_TRY(wd_buf_append(out, block, o));
            o = 0;
        }
    }
    return wd_buf_append(out, block, o);
}

/* RFC 4648 §4 Table 1 and §5 Table 2: they differ only in the last two characters. */
static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64_val(unsigned char c, enum wd_b64_alphabet alpha)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == (alpha == WD_B64_URL ? '-' : '+')) {
        return 62;
    }
    if (c == (alpha == WD_B64_URL ? '_' : '/')) {
        return 63;
    }
    return -1;
}

int wd_b64_encode(struct wd_buf *out, const void *p, size_t n, enum wd_b64_alphabet alpha)
{
    const uint8_t *s = p;
    const char *tab = alpha == WD_B64_URL ? b64_url : b64_std;
    bool pad = alpha != WD_B64_URL;
    WD_ENSURE(n / 3 < SIZE_MAX / 4 - 1, WD_ELIMIT);
    size_t rem = n % 3;
    size_t total = n / 3 * 4 + (rem == 0 ? 0 : (pad ? 4 : rem + 1));
    WD_TRY(wd_buf_reserve(out, total));
    char block[256];
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        block[o++] = tab[v >> 18];
        block[o++] = tab[(v >> 12) & 0x3f];
        block[o++] = tab[(v >> 6) & 0x3f];
        block[o++] = tab[v & 0x3f];
        if (o == sizeof(block)) {
            WD_TRY(wd_buf_append(out, block, o));
            o = 0;
        }
    }
    /* RFC 4648 §4: a final group of 1 or 2 bytes gives 2 or 3 characters (+ padding). */
    if (rem > 0) {
        uint32_t v = (uint32_t)s[i] << 16 | (rem == 2 ? (uint32_t)s[i + 1] << 8 : 0);
        block[o++] = tab[v >> 18];
        block[o++] = tab[(v >> 12) & 0x3f];
        if (rem == 2) {
            block[o++] = tab[(v >> 6) & 0x3f];
        }
        if (pad) {
            block[o++] = '=';
            if (rem == 1) {
                block[o++] = '=';
            }
        }
    }
    return wd_buf_append(out, block, o);
}

/*
 * Check s[0..n) and return the number of data characters (without padding) in *data, or
 * WD_EPROTO. Padding: required and exact for the standard alphabet; for base64url either
 * absent or exact (RFC 4648 §3.2 lets a specification drop it; §5 keeps '=' as the pad).
 */
static int b64_check(const unsigned char *s, size_t n, enum wd_b64_alphabet alpha, size_t *data)
{
    size_t d = n;
    if (n % 4 == 0 && n > 0 && s[n - 1] == '=') {
        d = s[n - 2] == '=' ? n - 2 : n - 1;
    } else if (alpha == WD_B64_STD) {
        WD_ENSURE(n % 4 == 0, WD_EPROTO);
    }
    /* One leftover character cannot encode a whole byte. */
    WD_ENSURE(d % 4 != 1, WD_EPROTO);
    for (size_t i = 0; i < d; i++) {
        WD_ENSURE(b64_val(s[i], alpha) >= 0, WD_EPROTO);
    }
    /* RFC 4648 §3.5: the bits after the last whole byte must be zero (canonical form). */
    if (d % 4 == 2) {
        WD_ENSURE((b64_val(s[d - 1], alpha) & 0x0f) == 0, WD_EPROTO);
    } else if (d % 4 == 3) {
        WD_ENSURE((b64_val(s[d - 1], alpha) & 0x03) == 0, WD_EPROTO);
    }
    *data = d;
    return WD_OK;
}

int wd_b64_decode(struct wd_buf *out, const char *str, size_t n, enum wd_b64_alphabet alpha)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t d;
    WD_TRY(b64_check(s, n, alpha, &d));
    size_t total = d / 4 * 3 + (d % 4 == 0 ? 0 : d % 4 - 1);
    WD_TRY(wd_buf_reserve(out, total));
    uint8_t block[255];
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < d; i++) {
        acc = (acc << 6) | (uint32_t)b64_val(s[i], alpha);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            block[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
        if (o == sizeof(block)) {
            WD_TRY(wd_buf_append(out, block, o));
            o = 0;
        }
    }
    return wd_buf_append(out, block, o);
}
