/*
 * Cedar policy lexer. Token rules: cedar-policy-core src/parser/grammar.lalrpop (`match`
 * block). See lexer.h.
 */
#include "cedar/lexer.h"

#include <string.h>

#include "warden/common.h"

void wd_cedar_lex_init(struct wd_cedar_lexer *lx, const char *text, size_t len)
{
    lx->text = text;
    lx->len = len;
    lx->pos = 0;
    lx->line = 1;
    lx->line_start = 0;
}

/* Decode one UTF-8 sequence at text[i] (already validated); returns its length. */
static size_t utf8_decode(const unsigned char *s, size_t left, uint32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80 || left < 2) {
        *cp = c;
        return 1;
    }
    if (c < 0xE0) {
        *cp = ((uint32_t)(c & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if (c < 0xF0 || left < 4) {
        if (left < 3) {
            *cp = c;
            return 1;
        }
        *cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return 3;
    }
    *cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12)
          | ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    return 4;
}

bool wd_cedar_utf8_valid(const char *text, size_t len, size_t *bad)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
            cp = c & 0x1F;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            cp = c & 0x0F;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            goto fail;
        }
        if (len - i < n) {
            goto fail;
        }
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) {
                goto fail;
            }
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        /* RFC 3629 §3: no overlongs, no surrogates, nothing past U+10FFFF. */
        if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
            goto fail;
        }
        i += n;
    }
    return true;
fail:
    if (bad != NULL) {
        *bad = i;
    }
    return false;
}

/* Unicode White_Space (the `\s` of the Rust regex in Cedar's lexer). */
static bool is_unicode_space(uint32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680
           || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F
           || cp == 0x205F || cp == 0x3000;
}

static bool is_ident_start(unsigned char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_ident_char(unsigned char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

bool wd_cedar_is_ident(const char *s, size_t len)
{
    if (len == 0 || !is_ident_start((unsigned char)s[0])) {
        return false;
    }
    for (size_t i = 1; i < len; i++) {
        if (!is_ident_char((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

static const struct {
    const char *s;
    uint8_t kw;
} kws[] = {
        {"true", WD_CEDAR_KW_TRUE},       {"false", WD_CEDAR_KW_FALSE},
        {"if", WD_CEDAR_KW_IF},           {"then", WD_CEDAR_KW_THEN},
        {"else", WD_CEDAR_KW_ELSE},       {"in", WD_CEDAR_KW_IN},
        {"has", WD_CEDAR_KW_HAS},         {"like", WD_CEDAR_KW_LIKE},
        {"is", WD_CEDAR_KW_IS},           {"permit", WD_CEDAR_KW_PERMIT},
        {"forbid", WD_CEDAR_KW_FORBID},   {"when", WD_CEDAR_KW_WHEN},
        {"unless", WD_CEDAR_KW_UNLESS},   {"principal", WD_CEDAR_KW_PRINCIPAL},
        {"action", WD_CEDAR_KW_ACTION},   {"resource", WD_CEDAR_KW_RESOURCE},
        {"context", WD_CEDAR_KW_CONTEXT},
};

static uint8_t keyword(const char *s, size_t len)
{
    for (size_t i = 0; i < WD_ARRAY_LEN(kws); i++) {
        if (strlen(kws[i].s) == len && memcmp(kws[i].s, s, len) == 0) {
            return kws[i].kw;
        }
    }
    return WD_CEDAR_KW_NONE;
}

bool wd_cedar_is_reserved(const char *s, size_t len)
{
    uint8_t kw = keyword(s, len);
    /* Cedar 4 reserved identifiers: true false if then else in is like has (plus __cedar,
     * which the parser checks separately because it applies to every name component). */
    return kw >= WD_CEDAR_KW_TRUE && kw <= WD_CEDAR_KW_IS;
}

/* Advance over one byte, tracking lines. */
static void adv(struct wd_cedar_lexer *lx)
{
    if (lx->text[lx->pos] == '\n') {
        lx->line++;
        lx->line_start = lx->pos + 1;
    }
    lx->pos++;
}

static void skip_space_and_comments(struct wd_cedar_lexer *lx)
{
    while (lx->pos < lx->len) {
        const unsigned char *s = (const unsigned char *)lx->text + lx->pos;
        size_t left = lx->len - lx->pos;
        if (s[0] == '/' && left >= 2 && s[1] == '/') {
            /* `//[^\n\r]*` then the line break(s), skipped as whitespace. */
            while (lx->pos < lx->len && lx->text[lx->pos] != '\n' && lx->text[lx->pos] != '\r') {
                adv(lx);
            }
            continue;
        }
        uint32_t cp;
        size_t n = utf8_decode(s, left, &cp);
        if (!is_unicode_space(cp)) {
            return;
        }
        for (size_t k = 0; k < n; k++) {
            adv(lx);
        }
    }
}

void wd_cedar_lex_next(struct wd_cedar_lexer *lx, struct wd_cedar_token *tok)
{
    skip_space_and_comments(lx);
    memset(tok, 0, sizeof(*tok));
    tok->off = lx->pos;
    tok->line = lx->line;
    tok->col = (uint32_t)(lx->pos - lx->line_start + 1);
    if (lx->pos >= lx->len) {
        tok->type = WD_CEDAR_T_EOF;
        return;
    }
    const unsigned char *s = (const unsigned char *)lx->text + lx->pos;
    size_t left = lx->len - lx->pos;
    unsigned char c = s[0];
    unsigned char c1 = left >= 2 ? s[1] : 0;
    size_t n = 1;
    uint8_t type = WD_CEDAR_T_ERROR;

    if (is_ident_start(c)) {
        while (n < left && is_ident_char(s[n])) {
            n++;
        }
        type = WD_CEDAR_T_IDENT;
        tok->kw = keyword((const char *)s, n);
    } else if (c >= '0' && c <= '9') {
        while (n < left && s[n] >= '0' && s[n] <= '9') {
            n++;
        }
        type = WD_CEDAR_T_INT;
    } else if (c == '"') {
        /* `"(\\.|[^"\\])*"`: `.` is any character but a newline. */
        for (;;) {
            if (n >= left) {
                tok->type = WD_CEDAR_T_ERROR;
                tok->msg = "unterminated string literal";
                tok->len = 1;
                return;
            }
            if (s[n] == '"') {
                n++;
                break;
            }
            if (s[n] == '\\') {
                if (n + 1 >= left || s[n + 1] == '\n') {
                    tok->type = WD_CEDAR_T_ERROR;
                    tok->msg = "unterminated string literal";
                    tok->len = 1;
                    return;
                }
                n += 2;
                continue;
            }
            n++;
        }
        type = WD_CEDAR_T_STRING;
    } else if (c == '?') {
        if (left >= 2 && is_ident_start(c1)) {
            while (n < left && is_ident_char(s[n])) {
                n++;
            }
            type = WD_CEDAR_T_SLOT;
        }
    } else {
        switch (c) {
        case '@':
            type = WD_CEDAR_T_AT;
            break;
        case '.':
            type = WD_CEDAR_T_DOT;
            break;
        case ',':
            type = WD_CEDAR_T_COMMA;
            break;
        case ';':
            type = WD_CEDAR_T_SEMI;
            break;
        case ':':
            type = c1 == ':' ? WD_CEDAR_T_COLON2 : WD_CEDAR_T_COLON;
            n = c1 == ':' ? 2 : 1;
            break;
        case '(':
            type = WD_CEDAR_T_LPAREN;
            break;
        case ')':
            type = WD_CEDAR_T_RPAREN;
            break;
        case '{':
            type = WD_CEDAR_T_LBRACE;
            break;
        case '}':
            type = WD_CEDAR_T_RBRACE;
            break;
        case '[':
            type = WD_CEDAR_T_LBRACKET;
            break;
        case ']':
            type = WD_CEDAR_T_RBRACKET;
            break;
        case '=':
            type = c1 == '=' ? WD_CEDAR_T_EQ : WD_CEDAR_T_ASSIGN;
            n = c1 == '=' ? 2 : 1;
            break;
        case '!':
            type = c1 == '=' ? WD_CEDAR_T_NE : WD_CEDAR_T_BANG;
            n = c1 == '=' ? 2 : 1;
            break;
        case '<':
            type = c1 == '=' ? WD_CEDAR_T_LE : WD_CEDAR_T_LT;
            n = c1 == '=' ? 2 : 1;
            break;
        case '>':
            type = c1 == '=' ? WD_CEDAR_T_GE : WD_CEDAR_T_GT;
            n = c1 == '=' ? 2 : 1;
            break;
        case '|':
            if (c1 == '|') {
                type = WD_CEDAR_T_OR;
                n = 2;
            }
            break;
        case '&':
            if (c1 == '&') {
                type = WD_CEDAR_T_AND;
                n = 2;
            }
            break;
        case '+':
            type = WD_CEDAR_T_PLUS;
            break;
        case '-':
            type = WD_CEDAR_T_MINUS;
            break;
        case '*':
            type = WD_CEDAR_T_STAR;
            break;
        case '/':
            type = WD_CEDAR_T_SLASH;
            break;
        case '%':
            type = WD_CEDAR_T_PERCENT;
            break;
        default:
            break;
        }
    }
    tok->type = type;
    if (type == WD_CEDAR_T_ERROR) {
        uint32_t cp;
        tok->msg = "unexpected character";
        tok->len = utf8_decode(s, left, &cp);
        return;
    }
    tok->len = n;
    for (size_t k = 0; k < n; k++) {
        adv(lx);
    }
}
