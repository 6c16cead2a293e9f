/*
 * Strict JSON (RFC 8259) into the document tree, and JSON string output.
 *
 * The parser is iterative: nesting lives in the builder's frame stack (bounded by
 * max_depth), never on the C stack, so hostile input cannot overflow it. Every value and
 * key carries the line and byte column where it starts; errors point at the offending byte.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "warden/codec.h"
#include "warden/doc.h"

#include "doc_int.h"

struct jp {
    const uint8_t *p;
    size_t len;
    size_t pos;
    unsigned line;
    size_t line_start; /* offset of the first byte of the current line */
    struct wd_docb *b;
};

static unsigned jp_col(const struct jp *j, size_t pos)
{
    size_t c = pos - j->line_start + 1;
    return c > UINT_MAX ? UINT_MAX : (unsigned)c;
}

/*
 * An error at pos on the current line. Tokens never span lines (raw control characters
 * inside strings are themselves errors), so this holds for every position inside the
 * token being read; an earlier token must be reported with its saved line and column.
 */
static int jp_err(struct jp *j, size_t pos, const char *fmt, ...) WD_PRINTF(3, 4);
static int jp_err(struct jp *j, size_t pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = wd_docb_vfail(j->b, WD_EPROTO, j->line, jp_col(j, pos), fmt, ap);
    va_end(ap);
    return rc;
}

static int jp_unexpected(struct jp *j, const char *what)
{
    if (j->pos >= j->len) {
        return jp_err(j, j->pos, "expected %s, got end of input", what);
    }
    uint8_t c = j->p[j->pos];
    if (c > 0x20 && c < 0x7f) {
        return jp_err(j, j->pos, "expected %s, got '%c'", what, c);
    }
    return jp_err(j, j->pos, "expected %s, got byte 0x%02x", what, c);
}

/* RFC 8259 §2: ws = *( %x20 / %x09 / %x0A / %x0D ). */
static void jp_ws(struct jp *j)
{
    while (j->pos < j->len) {
        uint8_t c = j->p[j->pos];
        if (c == '\n') {
            if (j->line < UINT_MAX) {
                j->line++;
            }
            j->line_start = j->pos + 1;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            return;
        }
        j->pos++;
    }
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* Four hex digits at p[at..at+4) within [.., end); -1 if not. */
static long hex4(const uint8_t *p, size_t at, size_t end)
{
    if (at > end || end - at < 4) {
        return -1;
    }
    long v = 0;
    for (size_t i = 0; i < 4; i++) {
        int h = wd_hex_digit_value(p[at + i]);
        if (h < 0) {
            return -1;
        }
        v = v * 16 + h;
    }
    return v;
}

static void esc_char(char *out, size_t outsz, uint8_t c)
{
    if (c > 0x20 && c < 0x7f) {
        (void)snprintf(out, outsz, "'\\%c'", c);
    } else {
        (void)snprintf(out, outsz, "byte 0x%02x", c);
    }
}

/*
 * A string starting at the '"' at j->pos (RFC 8259 §7), decoded into the arena.
 * First find the closing quote (stepping over "\x" pairs), so the decoded text can go
 * straight into one arena block no longer than the raw text; then decode and validate.
 */
static int jp_string(struct jp *j, const char **out, size_t *out_len)
{
    const uint8_t *p = j->p;
    size_t start = j->pos;
    size_t end = start + 1;
    while (end < j->len && p[end] != '"') {
        end += p[end] == '\\' ? 2 : 1;
    }
    bool closed = end < j->len;
    if (end > j->len) {
        end = j->len;
    }
    size_t span = end - (start + 1);
    uint8_t *dst = wd_doc_alloc(j->b->doc, span + 1, 1);
    if (dst == NULL) {
        return wd_docb_fail(j->b, WD_ENOMEM, 0, 0, "out of memory");
    }
    size_t o = 0;
    size_t k = start + 1;
    while (k < end) {
        uint8_t c = p[k];
        if (c == '\\') {
            uint8_t e = k + 1 < end ? p[k + 1] : 0;
            static const char from[] = "\"\\/bfnrt";
            static const char to[] = "\"\\/\b\f\n\r\t";
            const char *hit = e != 0 ? strchr(from, e) : NULL;
            if (hit != NULL) {
                dst[o++] = (uint8_t)to[hit - from];
                k += 2;
                continue;
            }
            if (e != 'u') {
                if (k + 1 >= end) {
                    return jp_err(j, k, "unterminated escape sequence");
                }
                char what[16];
                esc_char(what, sizeof(what), e);
                return jp_err(j, k, "invalid escape %s in string", what);
            }
            long cp = hex4(p, k + 2, end);
            if (cp < 0) {
                return jp_err(j, k, "invalid \\u escape: expected 4 hex digits");
            }
            size_t used = 6;
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                return jp_err(j, k, "lone surrogate \\u%04lX in string", (unsigned long)cp);
            }
            if (cp >= 0xd800 && cp <= 0xdbff) {
                /* RFC 8259 §7: a pair of escapes for a character outside the BMP. */
                long lo = k + 7 < end && p[k + 6] == '\\' && p[k + 7] == 'u' ? hex4(p, k + 8, end)
                                                                             : -1;
                if (lo < 0xdc00 || lo > 0xdfff) {
                    return jp_err(j, k, "lone surrogate \\u%04lX in string", (unsigned long)cp);
                }
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                used = 12;
            }
            o += wd_utf8_encode((uint32_t)cp, dst + o);
            k += used;
        } else if (c < 0x20) {
            /* RFC 8259 §7: U+0000..U+001F must be escaped. */
            return jp_err(j, k, "control character 0x%02x in string (must be escaped)", c);
        } else if (c < 0x80) {
            dst[o++] = c;
            k++;
        } else {
            size_t n = wd_doc_utf8_len(p + k, end - k);
            if (n == 0) {
                return jp_err(j, k, "invalid UTF-8 in string");
            }
            memcpy(dst + o, p + k, n);
            o += n;
            k += n;
        }
    }
    if (!closed) {
        return jp_err(j, start, "unterminated string");
    }
    dst[o] = '\0';
    wd_doc_trim(j->b->doc, dst, span + 1, o + 1);
    j->pos = end + 1;
    *out = (const char *)dst;
    *out_len = o;
    return WD_OK;
}

/* RFC 8259 §6: number = [ minus ] int [ frac ] [ exp ]; int = zero / ( digit1-9 *DIGIT ). */
static int jp_number(struct jp *j)
{
    const uint8_t *p = j->p;
    size_t start = j->pos, i = start;
    bool neg = false, real = false;
    if (p[i] == '-') {
        neg = true;
        i++;
    }
    if (i >= j->len || !is_digit(p[i])) {
        return jp_err(j, i, "invalid number: expected a digit");
    }
    if (p[i] == '0') {
        i++;
        if (i < j->len && is_digit(p[i])) {
            return jp_err(j, start, "invalid number: leading zeros are not allowed");
        }
    } else {
        while (i < j->len && is_digit(p[i])) {
            i++;
        }
    }
    size_t int_end = i;
    if (i < j->len && p[i] == '.') {
        real = true;
        i++;
        if (i >= j->len || !is_digit(p[i])) {
            return jp_err(j, i, "invalid number: expected a digit after '.'");
        }
        while (i < j->len && is_digit(p[i])) {
            i++;
        }
    }
    if (i < j->len && (p[i] == 'e' || p[i] == 'E')) {
        real = true;
        i++;
        if (i < j->len && (p[i] == '+' || p[i] == '-')) {
            i++;
        }
        if (i >= j->len || !is_digit(p[i])) {
            return jp_err(j, i, "invalid number: expected a digit in the exponent");
        }
        while (i < j->len && is_digit(p[i])) {
            i++;
        }
    }
    unsigned col = jp_col(j, start);
    struct wd_node *n;
    if (!real) {
        /* Exact int64 or an error: silently rounding an integer is worse than refusing it. */
        uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        uint64_t mag = 0;
        for (size_t k = neg ? start + 1 : start; k < int_end; k++) {
            uint64_t d = (uint64_t)(p[k] - '0');
            if (mag > (limit - d) / 10) {
                return jp_err(j, start, "integer out of range");
            }
            mag = mag * 10 + d;
        }
        WD_TRY(wd_docb_value(j->b, WD_NODE_INT, j->line, col, &n));
        n->u.i = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
    } else {
        double d;
        int rc = wd_doc_strtod(j->b->doc, (const char *)p + start, i - start, &d);
        if (rc == WD_ENOMEM) {
            return wd_docb_fail(j->b, WD_ENOMEM, 0, 0, "out of memory");
        }
        if (rc < 0) {
            return jp_err(j, start, "number out of range");
        }
        WD_TRY(wd_docb_value(j->b, WD_NODE_REAL, j->line, col, &n));
        n->u.d = d;
    }
    j->pos = i;
    return WD_OK;
}

static int jp_literal(struct jp *j)
{
    static const struct {
        const char *text;
        enum wd_node_type type;
        bool b;
    } lits[] = {
            {"true", WD_NODE_BOOL, true},
            {"false", WD_NODE_BOOL, false},
            {"null", WD_NODE_NULL, false},
    };
    for (size_t k = 0; k < WD_ARRAY_LEN(lits); k++) {
        size_t n = strlen(lits[k].text);
        if (j->len - j->pos >= n && memcmp(j->p + j->pos, lits[k].text, n) == 0) {
            struct wd_node *node;
            WD_TRY(wd_docb_value(j->b, lits[k].type, j->line, jp_col(j, j->pos), &node));
            node->u.b = lits[k].b;
            j->pos += n;
            return WD_OK;
        }
    }
    return jp_unexpected(j, "a value");
}

/* member = string name-separator value: read the key and the ':' (RFC 8259 §4). */
static int jp_key(struct jp *j)
{
    jp_ws(j);
    if (j->pos >= j->len || j->p[j->pos] != '"') {
        return jp_unexpected(j, "a string key");
    }
    unsigned line = j->line, col = jp_col(j, j->pos);
    const char *key = NULL;
    size_t key_len = 0;
    WD_TRY(jp_string(j, &key, &key_len));
    jp_ws(j);
    if (j->pos >= j->len || j->p[j->pos] != ':') {
        return jp_unexpected(j, "':'");
    }
    j->pos++;
    wd_docb_key(j->b, key, key_len, line, col);
    return WD_OK;
}

/*
 * One value, then as many closing brackets and separators as follow it. Returns 1 when the
 * next thing to read is a value, 0 when the document is complete.
 */
static int jp_after_value(struct jp *j)
{
    struct wd_docb *b = j->b;
    for (;;) {
        jp_ws(j);
        if (wd_docb_depth(b) == 0) {
            if (j->pos < j->len) {
                return jp_err(j, j->pos, "unexpected data after the value");
            }
            return 0;
        }
        bool obj = wd_docb_top(b) == WD_NODE_OBJ;
        if (j->pos < j->len && j->p[j->pos] == ',') {
            /* Remember where the comma is: the whitespace after it may end lines. */
            unsigned comma_line = j->line, comma_col = jp_col(j, j->pos);
            j->pos++;
            jp_ws(j);
            if (j->pos < j->len && (j->p[j->pos] == ']' || j->p[j->pos] == '}')) {
                return wd_docb_fail(b, WD_EPROTO, comma_line, comma_col, "trailing comma");
            }
            if (obj) {
                WD_TRY(jp_key(j));
            }
            return 1;
        }
        if (j->pos < j->len && j->p[j->pos] == (obj ? '}' : ']')) {
            j->pos++;
            WD_TRY(wd_docb_close(b));
            continue;
        }
        return jp_unexpected(j, obj ? "',' or '}'" : "',' or ']'");
    }
}

static int jp_run(struct jp *j)
{
    struct wd_docb *b = j->b;
    for (;;) {
        jp_ws(j);
        if (j->pos >= j->len) {
            return jp_unexpected(j, "a value");
        }
        uint8_t c = j->p[j->pos];
        unsigned line = j->line, col = jp_col(j, j->pos);
        bool opened = false;
        if (c == '{' || c == '[') {
            bool obj = c == '{';
            WD_TRY(wd_docb_open(b, obj ? WD_NODE_OBJ : WD_NODE_ARR, line, col));
            j->pos++;
            jp_ws(j);
            if (j->pos < j->len && j->p[j->pos] == (obj ? '}' : ']')) {
                j->pos++;
                WD_TRY(wd_docb_close(b));
            } else {
                opened = true;
                if (obj) {
                    WD_TRY(jp_key(j));
                }
            }
        } else if (c == '"') {
            const char *s = NULL;
            size_t n = 0;
            WD_TRY(jp_string(j, &s, &n));
            struct wd_node *node;
            WD_TRY(wd_docb_value(b, WD_NODE_STR, line, col, &node));
            node->u.s.p = s;
            node->u.s.len = n;
        } else if (c == '-' || is_digit(c)) {
            WD_TRY(jp_number(j));
        } else if (c == 't' || c == 'f' || c == 'n') {
            WD_TRY(jp_literal(j));
        } else {
            return jp_unexpected(j, "a value");
        }
        if (opened) {
            continue;
        }
        int more = jp_after_value(j);
        if (more <= 0) {
            return more;
        }
    }
}

int wd_json_parse(const char *file, const void *p, size_t len, const struct wd_doc_limits *lim,
                  struct wd_doc **out, struct wd_diag *diag)
{
    struct wd_docb b;
    *out = NULL;
    int rc = wd_docb_init(&b, file, lim, diag);
    WD_CHECK(rc);
    if (len > b.lim.max_bytes) {
        rc = wd_docb_fail(&b, WD_ELIMIT, 0, 0, "input larger than %zu bytes", b.lim.max_bytes);
        goto out;
    }
    struct jp j = {.p = p, .len = len, .pos = 0, .line = 1, .line_start = 0, .b = &b};
    WD_CHECK(jp_run(&j));
    wd_docb_finish(&b, out);
out:
    wd_docb_cleanup(&b);
    return rc;
}

int wd_json_load_file(const char *path, const struct wd_doc_limits *lim, struct wd_doc **out,
                      struct wd_diag *diag)
{
    return wd_doc_load_file(path, lim, out, diag, wd_json_parse);
}

/* Output. */

static const char hexdig[] = "0123456789abcdef";

/* Bytes the escaped form of s[i] takes and how many input bytes it covers (*adv). */
static size_t out_len_at(const uint8_t *s, size_t n, size_t i, size_t *adv)
{
    uint8_t c = s[i];
    *adv = 1;
    if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') {
        return 2;
    }
    if (c < 0x20) {
        return 6;
    }
    if (c < 0x80) {
        return 1;
    }
    size_t u = wd_doc_utf8_len(s + i, n - i);
    if (u == 0) {
        return 3; /* U+FFFD */
    }
    *adv = u;
    return u;
}

int wd_json_append_string(struct wd_buf *out, const char *str, size_t n)
{
    const uint8_t *s = n > 0 ? (const uint8_t *)str : (const uint8_t *)"";
    /* Size first and reserve it all, so the appends below cannot fail half-way. */
    size_t total = 2;
    for (size_t i = 0, adv; i < n; i += adv) {
        size_t add = out_len_at(s, n, i, &adv);
        WD_ENSURE(total <= SIZE_MAX - add, WD_ELIMIT);
        total += add;
    }
    WD_TRY(wd_buf_reserve(out, total));
    WD_TRY(wd_buf_append_byte(out, '"'));
    size_t run = 0; /* start of bytes copied as they are */
    for (size_t i = 0, adv; i < n; i += adv) {
        size_t add = out_len_at(s, n, i, &adv);
        if (add == adv) {
            continue; /* copied as it is, with the rest of the run */
        }
        WD_TRY(wd_buf_append(out, s + run, i - run));
        run = i + adv;
        uint8_t c = s[i];
        char e[6] = {'\\', 0, 0, 0, 0, 0};
        size_t elen = 2;
        switch (c) {
        case '"':
        case '\\':
            e[1] = (char)c;
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        default:
            if (c < 0x20) {
                memcpy(e, "\\u00", 4);
                e[4] = hexdig[c >> 4];
                e[5] = hexdig[c & 0xf];
                elen = 6;
            } else {
                memcpy(e, "\xef\xbf\xbd", 3); /* U+FFFD REPLACEMENT CHARACTER */
                elen = 3;
            }
            break;
        }
        WD_TRY(wd_buf_append(out, e, elen));
    }
    WD_TRY(wd_buf_append(out, s + run, n - run));
    return wd_buf_append_byte(out, '"');
}
