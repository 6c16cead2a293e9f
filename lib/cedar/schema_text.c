/*
 * The Cedar schema human format (.cedarschema): a recursive-descent parser producing the
 * raw schema of schema.h, which wd_cedar_schema_build then resolves.
 *
 * Grammar (cedar-policy-validator cedar_schema/grammar.lalrpop, Cedar 4):
 *   Schema     := {Namespace}
 *   Namespace  := Annotation* 'namespace' Path '{' {Annotation* Decl} '}'
 *               | Annotation* Decl                      (the empty namespace)
 *   Decl       := Entity | Action | TypeDecl
 *   Entity     := 'entity' Idents ['in' EntTypes] [['='] '{' [AttrDecls] '}'] ['tags' Type] ';'
 *               | 'entity' Idents 'enum' '[' STR {',' STR} ']' ';'
 *   Action     := 'action' Names ['in' QualNames] ['appliesTo' '{' AppDecls '}']
 *                 ['attributes' '{' '}'] ';'
 *   TypeDecl   := 'type' Ident '=' Type ';'
 *   AppDecls   := ('principal' | 'resource') ':' EntTypes [',' [AppDecls]]
 *               | 'context' ':' (Path | '{' [AttrDecls] '}') [',' [AppDecls]]
 *   Type       := Path | 'Set' '<' Type '>' | '{' [AttrDecls] '}'
 *   AttrDecls  := Annotation* Name ['?'] ':' Type [',' [AttrDecls]]
 *   EntTypes   := Path | '[' [Path {',' Path}] ']'
 *   QualNames  := QualName | '[' QualName {',' QualName} ']'
 *   QualName   := Path '::' STR | Name
 *   Annotation := '@' AnyIdent ['(' STR ')']
 *   Path       := Ident {'::' Ident};  Name := Ident | STR;  Idents / Names: comma lists
 * Ident is any identifier except the reserved words (true false if then else in is like
 * has); keywords of this grammar (entity, action, type, namespace, tags ...) are fine as
 * identifiers. Whitespace is any Unicode White_Space character; comments run from a double
 * slash to the end of the line. Strings take Cedar's escapes (\n \r \t \\ \0 \' \" \xHH up to 7F,
 * \u{1-6 hex digits, `_` allowed after the first}).
 *
 * Semantic checks made here (as the reference makes them while parsing): duplicate
 * annotations, duplicate or missing principal/resource/context in appliesTo, and empty
 * principal or resource lists. Everything about names is left to wd_cedar_schema_build.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/codec.h"

#include "cedar/schema.h"

#define TEXT_MAX_BYTES ((size_t)16 << 20)
#define TEXT_MAX_DEPTH 64

enum tok {
    T_EOF = 0,
    T_ERR, /* invalid token */
    T_IDENT,
    T_NUMBER,
    T_STR,
    T_COMMA,
    T_SEMI,
    T_COLON,
    T_COLON2,
    T_LBRACE,
    T_RBRACE,
    T_LBRACK,
    T_RBRACK,
    T_LT,
    T_GT,
    T_EQ,
    T_QMARK,
    T_AT,
    T_LPAREN,
    T_RPAREN,
};

struct token {
    enum tok t;
    size_t off, len;
    unsigned line, col;
};

struct parser {
    struct wd_cedar_schema *s;
    struct wd_cedar_raw_schema raw;
    struct wd_cedar_raw_ns *empty_ns; /* the empty namespace, once a top-level decl is seen */
    const char *text;
    size_t len;
    size_t pos;
    unsigned line;
    size_t line_start;
    struct token tok;  /* current */
    struct token tok2; /* one token of lookahead */
    bool have2;
    unsigned depth;
    struct wd_diag *diag;
};

/* ---------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------- */

static int perr_at(struct parser *p, int rc, unsigned line, unsigned col, const char *fmt, ...)
        WD_PRINTF(5, 6);
static int perr_at(struct parser *p, int rc, unsigned line, unsigned col, const char *fmt, ...)
{
    char msg[WD_DIAG_MAX];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    (void)wd_diag_set(p->diag, rc, p->s->file, line, col, "%s", msg);
    return rc;
}

/* "unexpected token `x`" for the current token (the text cut to 40 bytes). */
static int unexpected(struct parser *p)
{
    const struct token *t = &p->tok;
    if (t->t == T_EOF) {
        (void)perr_at(p, WD_EPROTO, t->line, t->col, "unexpected end of input");
    } else if (t->t == T_ERR) {
        (void)perr_at(p, WD_EPROTO, t->line, t->col, "invalid token");
    } else {
        int n = t->len > 40 ? 40 : (int)t->len;
        (void)perr_at(p, WD_EPROTO, t->line, t->col, "unexpected token `%.*s%s`", n,
                      p->text + t->off, t->len > 40 ? "..." : "");
    }
    /* Spelled out (perr_at returns its rc): the analyzer does not follow variadic calls. */
    return WD_EPROTO;
}

/* ---------------------------------------------------------------------------------------
 * Lexer
 * ------------------------------------------------------------------------------------- */

/* Decode one UTF-8 sequence at text[i]; the whole text was validated beforehand. */
static uint32_t utf8_at(const char *text, size_t len, size_t i, size_t *n)
{
    const unsigned char *s = (const unsigned char *)text + i;
    size_t left = len - i;
    if (s[0] < 0x80) {
        *n = 1;
        return s[0];
    }
    if ((s[0] & 0xe0) == 0xc0 && left >= 2) {
        *n = 2;
        return ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
    }
    if ((s[0] & 0xf0) == 0xe0 && left >= 3) {
        *n = 3;
        return ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
    }
    if (left >= 4) {
        *n = 4;
        return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12)
               | ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
    }
    *n = 1;
    return 0xfffd;
}

/* Strict UTF-8 (no overlongs, surrogates, or values past U+10FFFF). */
static bool utf8_valid(const char *text, size_t len, size_t *bad)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t min, cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 2;
            min = 0x80;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3;
            min = 0x800;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4;
            min = 0x10000;
            cp = c & 0x07;
        } else {
            *bad = i;
            return false;
        }
        if (len - i < n) {
            *bad = i;
            return false;
        }
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                *bad = i;
                return false;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            *bad = i;
            return false;
        }
        i += n;
    }
    return true;
}

/* Unicode White_Space (what Rust's regex `\s` matches). */
static bool is_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680
           || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f
           || c == 0x205f || c == 0x3000;
}

static bool ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool ident_char(char c)
{
    return ident_start(c) || (c >= '0' && c <= '9');
}

static void advance_bytes(struct parser *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p->text[p->pos] == '\n') {
            p->line++;
            p->line_start = p->pos + 1;
        }
        p->pos++;
    }
}

static void lex(struct parser *p, struct token *t)
{
    /* skip whitespace and comments */
    for (;;) {
        if (p->pos >= p->len) {
            break;
        }
        size_t n;
        uint32_t c = utf8_at(p->text, p->len, p->pos, &n);
        if (is_space(c)) {
            advance_bytes(p, n);
            continue;
        }
        if (c == '/' && p->pos + 1 < p->len && p->text[p->pos + 1] == '/') {
            while (p->pos < p->len && p->text[p->pos] != '\n' && p->text[p->pos] != '\r') {
                p->pos++;
            }
            continue;
        }
        break;
    }
    t->off = p->pos;
    t->line = p->line;
    t->col = (unsigned)(p->pos - p->line_start + 1);
    t->len = 0;
    if (p->pos >= p->len) {
        t->t = T_EOF;
        return;
    }
    char c = p->text[p->pos];
    if (ident_start(c)) {
        size_t e = p->pos + 1;
        while (e < p->len && ident_char(p->text[e])) {
            e++;
        }
        t->t = T_IDENT;
        t->len = e - p->pos;
        p->pos = e;
        return;
    }
    if (c >= '0' && c <= '9') {
        size_t e = p->pos + 1;
        while (e < p->len && p->text[e] >= '0' && p->text[e] <= '9') {
            e++;
        }
        t->t = T_NUMBER;
        t->len = e - p->pos;
        p->pos = e;
        return;
    }
    if (c == '"') {
        /* "(\\.|[^"\\])*" where `.` is any character but a newline */
        size_t e = p->pos + 1;
        for (;;) {
            if (e >= p->len) {
                t->t = T_ERR;
                return;
            }
            if (p->text[e] == '"') {
                break;
            }
            if (p->text[e] == '\\') {
                if (e + 1 >= p->len || p->text[e + 1] == '\n') {
                    t->t = T_ERR;
                    return;
                }
                size_t n;
                (void)utf8_at(p->text, p->len, e + 1, &n);
                e += 1 + n;
                continue;
            }
            e++;
        }
        t->t = T_STR;
        t->len = e + 1 - p->pos;
        advance_bytes(p, t->len); /* strings may span lines */
        return;
    }
    static const struct {
        char c;
        enum tok t;
    } punct[] = {
            {',', T_COMMA},  {';', T_SEMI},   {'{', T_LBRACE}, {'}', T_RBRACE}, {'[', T_LBRACK},
            {']', T_RBRACK}, {'<', T_LT},     {'>', T_GT},     {'=', T_EQ},     {'?', T_QMARK},
            {'@', T_AT},     {'(', T_LPAREN}, {')', T_RPAREN},
    };
    if (c == ':') {
        if (p->pos + 1 < p->len && p->text[p->pos + 1] == ':') {
            t->t = T_COLON2;
            t->len = 2;
        } else {
            t->t = T_COLON;
            t->len = 1;
        }
        p->pos += t->len;
        return;
    }
    for (size_t i = 0; i < WD_ARRAY_LEN(punct); i++) {
        if (punct[i].c == c) {
            t->t = punct[i].t;
            t->len = 1;
            p->pos++;
            return;
        }
    }
    t->t = T_ERR;
}

static void next(struct parser *p)
{
    if (p->have2) {
        p->tok = p->tok2;
        p->have2 = false;
    } else {
        lex(p, &p->tok);
    }
}

static const struct token *peek2(struct parser *p)
{
    if (!p->have2) {
        lex(p, &p->tok2);
        p->have2 = true;
    }
    return &p->tok2;
}

static bool is_kw(const struct parser *p, const struct token *t, const char *kw)
{
    size_t n = strlen(kw);
    return t->t == T_IDENT && t->len == n && memcmp(p->text + t->off, kw, n) == 0;
}

static int expect(struct parser *p, enum tok t)
{
    if (p->tok.t != t) {
        return unexpected(p);
    }
    next(p);
    return WD_OK;
}

/* ---------------------------------------------------------------------------------------
 * Strings
 * ------------------------------------------------------------------------------------- */

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Unescape the current T_STR token into the pool; advances. */
static int take_string(struct parser *p, const char **out, size_t *len, unsigned *line,
                       unsigned *col)
{
    const struct token t = p->tok;
    char *o;
    size_t n = 0;
    if (t.t != T_STR) {
        return unexpected(p);
    }
    const char *s = p->text + t.off + 1;
    size_t slen = t.len - 2;
    WD_TRY(wd_cedar_pool_alloc(&p->s->pool, slen + 1, (void **)&o));
    for (size_t i = 0; i < slen;) {
        if (s[i] != '\\') {
            o[n++] = s[i++];
            continue;
        }
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case 'n':
            o[n++] = '\n';
            break;
        case 'r':
            o[n++] = '\r';
            break;
        case 't':
            o[n++] = '\t';
            break;
        case '\\':
            o[n++] = '\\';
            break;
        case '0':
            o[n++] = '\0';
            break;
        case '\'':
            o[n++] = '\'';
            break;
        case '"':
            o[n++] = '"';
            break;
        case 'x': {
            int h = i < slen ? wd_hex_digit_value(s[i]) : -1;
            int l = i + 1 < slen ? wd_hex_digit_value(s[i + 1]) : -1;
            if (h < 0 || l < 0 || h > 7) {
                goto bad;
            }
            o[n++] = (char)(h * 16 + l);
            i += 2;
            break;
        }
        case 'u': {
            /* \u{X...}: 1-6 hex digits, `_` allowed after the first digit */
            uint32_t cp = 0;
            unsigned digits = 0;
            if (i >= slen || s[i] != '{') {
                goto bad;
            }
            i++;
            if (i >= slen || wd_hex_digit_value(s[i]) < 0) {
                goto bad;
            }
            while (i < slen && s[i] != '}') {
                if (s[i] == '_') {
                    i++;
                    continue;
                }
                int v = wd_hex_digit_value(s[i]);
                if (v < 0 || ++digits > 6) {
                    goto bad;
                }
                cp = cp * 16 + (uint32_t)v;
                i++;
            }
            if (i >= slen || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
                goto bad;
            }
            i++;
            /* the escape takes at least 5 source bytes and yields at most 4 */
            n += put_utf8(o + n, cp);
            break;
        }
        default:
            goto bad;
        }
    }
    o[n] = '\0';
    *out = o;
    *len = n;
    if (line != NULL) {
        *line = t.line;
        *col = t.col;
    }
    next(p);
    return WD_OK;
bad:
    return perr_at(p, WD_EPROTO, t.line, t.col, "invalid escape in string literal");
}

/* ---------------------------------------------------------------------------------------
 * Names
 * ------------------------------------------------------------------------------------- */

/* An Ident (any identifier but the reserved words); advances. */
static int take_ident(struct parser *p, const char **out, size_t *len)
{
    const struct token *t = &p->tok;
    if (t->t != T_IDENT) {
        (void)unexpected(p);
        return WD_EPROTO; /* spelled out so the analyzer sees *out is set on success */
    }
    if (wd_cedar_schema_is_reserved(p->text + t->off, t->len)) {
        (void)perr_at(p, WD_EPROTO, t->line, t->col, "`%.*s` is a reserved identifier", (int)t->len,
                      p->text + t->off);
        return WD_EPROTO; /* spelled out: the analyzer does not follow variadic perr_at */
    }
    *out = p->text + t->off;
    *len = t->len;
    next(p);
    return WD_OK;
}

/*
 * Path := Ident {'::' Ident}. With stop_at_string, a `::` followed by a string literal
 * ends the path without consuming the `::` (QualName). The canonical text "A::B" is built
 * in the pool.
 */
static int take_path(struct parser *p, bool stop_at_string, struct wd_cedar_raw_name *out)
{
    char *buf;
    size_t n = 0;
    out->line = p->tok.line;
    out->col = p->tok.col;
    if (p->tok.t != T_IDENT) {
        return unexpected(p);
    }
    /* First pass over the token stream is not possible with one lookahead, so grow a
       copy: components are appended as they are read. */
    size_t cap = 64;
    WD_TRY(wd_cedar_pool_alloc(&p->s->pool, cap, (void **)&buf));
    for (;;) {
        const char *id = NULL;
        size_t idlen = 0;
        WD_TRY(take_ident(p, &id, &idlen));
        if (n + idlen + 3 > cap) {
            char *nb;
            size_t ncap = (n + idlen + 3) * 2;
            WD_TRY(wd_cedar_pool_alloc(&p->s->pool, ncap, (void **)&nb));
            memcpy(nb, buf, n);
            buf = nb;
            cap = ncap;
        }
        if (n > 0) {
            memcpy(buf + n, "::", 2);
            n += 2;
        }
        memcpy(buf + n, id, idlen);
        n += idlen;
        if (p->tok.t != T_COLON2) {
            break;
        }
        const struct token *t2 = peek2(p);
        if (stop_at_string && t2->t == T_STR) {
            break;
        }
        next(p); /* :: */
    }
    buf[n] = '\0';
    out->p = buf;
    out->len = n;
    return WD_OK;
}

/* Name := Ident | STR */
static int take_name(struct parser *p, const char **out, size_t *len, unsigned *line, unsigned *col)
{
    *line = p->tok.line;
    *col = p->tok.col;
    if (p->tok.t == T_STR) {
        return take_string(p, out, len, NULL, NULL);
    }
    const char *id = NULL;
    WD_TRY(take_ident(p, &id, len));
    return wd_cedar_pool_strdup(&p->s->pool, id, *len, out);
}

/* ---------------------------------------------------------------------------------------
 * Annotations
 * ------------------------------------------------------------------------------------- */

struct annot {
    const char *key;
    size_t len;
};

/* Annotation* : checks for duplicates; the values are validated and dropped. */
static int annotations(struct parser *p)
{
    struct annot seen[64];
    size_t nseen = 0;
    struct annot *all = seen;
    size_t cap = WD_ARRAY_LEN(seen);
    while (p->tok.t == T_AT) {
        next(p);
        if (p->tok.t != T_IDENT) {
            return unexpected(p);
        }
        const struct token key = p->tok;
        const char *k = p->text + key.off;
        for (size_t i = 0; i < nseen; i++) {
            if (all[i].len == key.len && memcmp(all[i].key, k, key.len) == 0) {
                return perr_at(p, WD_EPROTO, key.line, key.col, "duplicate annotations: `%.*s`",
                               (int)key.len, k);
            }
        }
        if (nseen == cap) {
            struct annot *na;
            WD_TRY(wd_cedar_pool_alloc(&p->s->pool, cap * 2 * sizeof(*na), (void **)&na));
            memcpy(na, all, nseen * sizeof(*na));
            all = na;
            cap *= 2;
        }
        all[nseen].key = k;
        all[nseen].len = key.len;
        nseen++;
        next(p);
        if (p->tok.t == T_LPAREN) {
            const char *v;
            size_t vlen;
            next(p);
            WD_TRY(take_string(p, &v, &vlen, NULL, NULL));
            WD_TRY(expect(p, T_RPAREN));
        }
    }
    return WD_OK;
}

/* ---------------------------------------------------------------------------------------
 * Types
 * ------------------------------------------------------------------------------------- */

static int parse_type(struct parser *p, const struct wd_cedar_raw_type **out);

static int new_type(struct parser *p, uint8_t kind, unsigned line, unsigned col,
                    struct wd_cedar_raw_type **out)
{
    struct wd_cedar_raw_type *t;
    WD_TRY(wd_cedar_pool_alloc(&p->s->pool, sizeof(*t), (void **)&t));
    t->kind = kind;
    t->line = line;
    t->col = col;
    *out = t;
    return WD_OK;
}

/* After '{': [AttrDecls] '}' */
static int parse_record_body(struct parser *p, struct wd_cedar_raw_type *t)
{
    struct wd_cedar_raw_attr **tail = &t->attrs;
    while (p->tok.t != T_RBRACE) {
        struct wd_cedar_raw_attr *a;
        WD_TRY(annotations(p));
        WD_TRY(wd_cedar_pool_alloc(&p->s->pool, sizeof(*a), (void **)&a));
        WD_TRY(take_name(p, &a->name, &a->len, &a->line, &a->col));
        a->required = true;
        if (p->tok.t == T_QMARK) {
            a->required = false;
            next(p);
        }
        WD_TRY(expect(p, T_COLON));
        WD_TRY(parse_type(p, &a->type));
        *tail = a;
        tail = &a->next;
        t->nattrs++;
        if (p->tok.t != T_COMMA) {
            break;
        }
        next(p);
    }
    return expect(p, T_RBRACE);
}

static int parse_type(struct parser *p, const struct wd_cedar_raw_type **out)
{
    struct wd_cedar_raw_type *t;
    unsigned line = p->tok.line, col = p->tok.col;
    int rc;
    if (++p->depth > TEXT_MAX_DEPTH) {
        return perr_at(p, WD_ELIMIT, line, col, "types nested deeper than %d levels",
                       TEXT_MAX_DEPTH);
    }
    if (p->tok.t == T_LBRACE) {
        next(p);
        WD_CHECK(new_type(p, WD_CEDAR_RAW_RECORD, line, col, &t));
        WD_CHECK(parse_record_body(p, t));
    } else if (is_kw(p, &p->tok, "Set") && peek2(p)->t == T_LT) {
        next(p);
        next(p);
        WD_CHECK(new_type(p, WD_CEDAR_RAW_SET, line, col, &t));
        WD_CHECK(parse_type(p, &t->elem));
        WD_CHECK(expect(p, T_GT));
    } else {
        struct wd_cedar_raw_name nm;
        WD_CHECK(take_path(p, false, &nm));
        WD_CHECK(new_type(p, WD_CEDAR_RAW_REF, line, col, &t));
        t->name = nm.p;
        t->name_len = nm.len;
    }
    *out = t;
    rc = WD_OK;
out:
    p->depth--;
    return rc;
}

/* EntTypes := Path | '[' [Path {',' Path}] ']' ; *empty is set for `[]`. */
static int parse_ent_types(struct parser *p, struct wd_cedar_raw_name **list, bool *empty)
{
    struct wd_cedar_raw_name **tail = list;
    *empty = false;
    if (p->tok.t != T_LBRACK) {
        struct wd_cedar_raw_name *n;
        WD_TRY(wd_cedar_pool_alloc(&p->s->pool, sizeof(*n), (void **)&n));
        WD_TRY(take_path(p, false, n));
        *tail = n;
        return WD_OK;
    }
    next(p);
    if (p->tok.t == T_RBRACK) {
        next(p);
        *empty = true;
        return WD_OK;
    }
    for (;;) {
        struct wd_cedar_raw_name *n;
        WD_TRY(wd_cedar_pool_alloc(&p->s->pool, sizeof(*n), (void **)&n));
        WD_TRY(take_path(p, false, n));
        *tail = n;
        tail = &n->next;
        if (p->tok.t != T_COMMA) {
            break;
        }
        next(p);
    }
    return expect(p, T_RBRACK);
}

/* ---------------------------------------------------------------------------------------
 * Declarations
 * ------------------------------------------------------------------------------------- */

static int parse_entity(struct parser *p, struct wd_cedar_raw_ns *ns)
{
    struct wd_cedar_raw_entity *first = NULL, **tail = &first;
    size_t count = 0;
    next(p); /* entity */
    for (;;) {
        struct wd_cedar_raw_entity *e;
        const char *id = NULL;
        WD_TRY(wd_cedar_pool_alloc(&p->s->pool, sizeof(*e), (void **)&e));
        e->line = p->tok.line;
        e->col = p->tok.col;
        WD_TRY(take_ident(p, &id, &e->len));
        WD_TRY(wd_cedar_pool_strdup(&p->s->pool, id, e->len, &e->name));
        *tail = e;
        tail = &e->next;
        count++;
        if (p->tok.t != T_COMMA) {
            break;
        }
        next(p);
    }
    /* the shared definition, filled once and copied to every name */
    struct wd_cedar_raw_entity def = {0};
    if (is_kw(p, &p->tok, "enum")) {
        struct wd_cedar_raw_name **ct = &def.choices;
        def.is_enum = true;
        next(p);
        WD_TRY(expect(p, T_LBRACK));
        for (;;) {
            struct wd_cedar_raw_name *c;
            WD_TRY(wd_cedar_pool_alloc(&p->s->pool, sizeof(*c), (void **)&c));
            WD_TRY(take_string(p, &c->p, &c->len, &c->line, &c->col));
            *ct = c;
            ct = &c->next;
            if (p->tok.t != T_COMMA) {
                break;
            }
            next(p);
        }
        WD_TRY(expect(p, T_RBRACK));
    } else {
        if (is_kw(p, &p->tok, "in")) {
            bool empty;
            next(p);
            WD_TRY(parse_ent_types(p, &def.parents, &empty));
        }
        if (p->tok.t == T_EQ || p->tok.t == T_LBRACE) {
            struct wd_cedar_raw_type *t;
            if (p->tok.t == T_EQ) {
                next(p);
            }
            unsigned line = p->tok.line, col = p->tok.col;
            WD_TRY(expect(p, T_LBRACE));
            WD_TRY(new_type(p, WD_CEDAR_RAW_RECORD, line, col, &t));
            WD_TRY(parse_record_body(p, t));
            def.shape = t;
        }
        if (is_kw(p, &p->tok, "tags")) {
            next(p);
            WD_TRY(parse_type(p, &def.tags));
        }
    }
    WD_TRY(expect(p, T_SEMI));
    for (struct wd_cedar_raw_entity *e = first; e != NULL; e = e->next) {
        e->parents = def.parents;
        e->shape = def.shape;
        e->tags = def.tags;
        e->is_enum = def.is_enum;
        e->choices = def.choices;
    }
    *ns->entities_tail = first;
    ns->entities_tail = tail;
    (void)count;
    return WD_OK;
}

/* QualName := Path '::' STR | Name */
static int parse_qualname(struct parser *p, struct wd_cedar_raw_aref *r)
{
    r->line = p->tok.line;
    r->col = p->tok.col;
    if (p->tok.t == T_STR) {
        return take_string(p, &r->id, &r->id_len, NULL, NULL);
    }
    struct wd_cedar_raw_name path;
    WD_TRY(take_path(p, true, &path));
    if (p->tok.t == T_COLON2) {
        next(p);
        r->type = path.p;
        r->type_len = path.len;
        return take_string(p, &r->id, &r->id_len, NULL, NULL);
    }
    /* a bare Name must be a single identifier */
    for (size_t i = 0; i + 1 < path.len; i++) {
        if (path.p[i] == ':') {
            return unexpected(p);
        }
    }
    r->id = path.p;
    r->id_len = path.len;
    return WD_OK;
}

struct appdecl {
    bool seen_p, seen_r, seen_c;
    bool empty_p, empty_r;
    unsigned pline, pcol, rline, rcol;
};

static int parse_applies(struct parser *p, struct wd_cedar_raw_action *def, const char *aname,
                         size_t alen, struct appdecl *ad)
{
    WD_TRY(expect(p, T_LBRACE));
    if (p->tok.t == T_RBRACE) {
        return unexpected(p);
    }
    for (;;) {
        const struct token t = p->tok;
        if (is_kw(p, &t, "principal") || is_kw(p, &t, "resource")) {
            bool principal = is_kw(p, &t, "principal");
            bool empty;
            if (principal ? ad->seen_p : ad->seen_r) {
                return perr_at(p, WD_EPROTO, t.line, t.col,
                               "duplicate `%s` declaration in action `%.*s`",
                               principal ? "principal" : "resource", (int)alen, aname);
            }
            next(p);
            WD_TRY(expect(p, T_COLON));
            WD_TRY(parse_ent_types(p, principal ? &def->principals : &def->resources, &empty));
            if (principal) {
                ad->seen_p = true;
                ad->empty_p = empty;
                ad->pline = t.line;
                ad->pcol = t.col;
            } else {
                ad->seen_r = true;
                ad->empty_r = empty;
                ad->rline = t.line;
                ad->rcol = t.col;
            }
        } else if (is_kw(p, &t, "context")) {
            if (ad->seen_c) {
                return perr_at(p, WD_EPROTO, t.line, t.col,
                               "duplicate context declaration in action `%.*s`", (int)alen, aname);
            }
            next(p);
            WD_TRY(expect(p, T_COLON));
            if (p->tok.t == T_LBRACE) {
                WD_TRY(parse_type(p, &def->context));
            } else {
                struct wd_cedar_raw_type *ct;
                struct wd_cedar_raw_name nm;
                unsigned line = p->tok.line, col = p->tok.col;
                WD_TRY(take_path(p, false, &nm));
                WD_TRY(new_type(p, WD_CEDAR_RAW_REF, line, col, &ct));
                ct->name = nm.p;
                ct->name_len = nm.len;
                def->context = ct;
            }
            ad->seen_c = true;
        } else {
            return unexpected(p);
        }
        if (p->tok.t != T_COMMA) {
            break;
        }
        next(p);
        if (p->tok.t == T_RBRACE) {
            break;
        }
    }
    return expect(p, T_RBRACE);
}

static int parse_action(struct parser *p, struct wd_cedar_raw_ns *ns)
{
    struct wd_cedar_raw_action *first = NULL, **tail = &first;
    struct wd_cedar_raw_action def = {0};
    struct appdecl ad = {0};
    next(p); /* action */
    for (;;) {
        struct wd_cedar_raw_action *a;
        WD_TRY(wd_cedar_pool_alloc(&p->s->pool, sizeof(*a), (void **)&a));
        WD_TRY(take_name(p, &a->id, &a->len, &a->line, &a->col));
        *tail = a;
        tail = &a->next;
        if (p->tok.t != T_COMMA) {
            break;
        }
        next(p);
    }
    if (is_kw(p, &p->tok, "in")) {
        struct wd_cedar_raw_aref **pt = &def.parents;
        next(p);
        bool list = p->tok.t == T_LBRACK;
        if (list) {
            next(p);
        }
        for (;;) {
            struct wd_cedar_raw_aref *r;
            WD_TRY(wd_cedar_pool_alloc(&p->s->pool, sizeof(*r), (void **)&r));
            WD_TRY(parse_qualname(p, r));
            *pt = r;
            pt = &r->next;
            if (!list || p->tok.t != T_COMMA) {
                break;
            }
            next(p);
        }
        if (list) {
            WD_TRY(expect(p, T_RBRACK));
        }
    }
    if (is_kw(p, &p->tok, "appliesTo")) {
        def.applies = true;
        def.ap_line = p->tok.line;
        def.ap_col = p->tok.col;
        next(p);
        WD_TRY(parse_applies(p, &def, first->id, first->len, &ad));
    }
    if (is_kw(p, &p->tok, "attributes")) {
        next(p);
        WD_TRY(expect(p, T_LBRACE));
        WD_TRY(expect(p, T_RBRACE));
    }
    WD_TRY(expect(p, T_SEMI));
    if (def.applies) {
        /* Cedar requires both targets, each a non-empty list. */
        const char *an = first->id;
        int n = (int)first->len;
        if (!ad.seen_p || !ad.seen_r) {
            return perr_at(p, WD_EPROTO, first->line, first->col,
                           "missing `%s` declaration for `%.*s`",
                           !ad.seen_r ? "resource" : "principal", n, an);
        }
        if (ad.empty_p || ad.empty_r) {
            return perr_at(p, WD_EPROTO, ad.empty_p ? ad.pline : ad.rline,
                           ad.empty_p ? ad.pcol : ad.rcol,
                           "for action `%.*s`, `%s` is `[]`, which is invalid", n, an,
                           ad.empty_p ? "principal" : "resource");
        }
    }
    for (struct wd_cedar_raw_action *a = first; a != NULL; a = a->next) {
        a->parents = def.parents;
        a->applies = def.applies;
        a->ap_line = def.ap_line;
        a->ap_col = def.ap_col;
        a->principals = def.principals;
        a->resources = def.resources;
        a->context = def.context;
    }
    *ns->actions_tail = first;
    ns->actions_tail = tail;
    return WD_OK;
}

static int parse_typedecl(struct parser *p, struct wd_cedar_raw_ns *ns)
{
    struct wd_cedar_raw_common *c;
    const char *id = NULL;
    next(p); /* type */
    WD_TRY(wd_cedar_pool_alloc(&p->s->pool, sizeof(*c), (void **)&c));
    c->line = p->tok.line;
    c->col = p->tok.col;
    WD_TRY(take_ident(p, &id, &c->len));
    WD_TRY(wd_cedar_pool_strdup(&p->s->pool, id, c->len, &c->name));
    WD_TRY(expect(p, T_EQ));
    WD_TRY(parse_type(p, &c->type));
    WD_TRY(expect(p, T_SEMI));
    *ns->commons_tail = c;
    ns->commons_tail = &c->next;
    return WD_OK;
}

static int parse_decl(struct parser *p, struct wd_cedar_raw_ns *ns)
{
    if (is_kw(p, &p->tok, "entity")) {
        return parse_entity(p, ns);
    }
    if (is_kw(p, &p->tok, "action")) {
        return parse_action(p, ns);
    }
    if (is_kw(p, &p->tok, "type")) {
        return parse_typedecl(p, ns);
    }
    return unexpected(p);
}

static int parse_namespace(struct parser *p)
{
    struct wd_cedar_raw_name path = {0};
    struct wd_cedar_raw_ns *ns;
    next(p); /* namespace */
    WD_TRY(take_path(p, false, &path));
    WD_TRY(wd_cedar_raw_ns_add(p->s, &p->raw, path.p, path.len, path.line, path.col, &ns));
    WD_TRY(expect(p, T_LBRACE));
    while (p->tok.t != T_RBRACE) {
        WD_TRY(annotations(p));
        WD_TRY(parse_decl(p, ns));
    }
    next(p);
    return WD_OK;
}

static int parse_schema(struct parser *p)
{
    next(p);
    while (p->tok.t != T_EOF) {
        WD_TRY(annotations(p));
        if (is_kw(p, &p->tok, "namespace")) {
            WD_TRY(parse_namespace(p));
            continue;
        }
        if (p->empty_ns == NULL) {
            WD_TRY(wd_cedar_raw_ns_add(p->s, &p->raw, "", 0, p->tok.line, p->tok.col,
                                       &p->empty_ns));
        }
        WD_TRY(parse_decl(p, p->empty_ns));
    }
    return WD_OK;
}

int wd_cedar_schema_parse(const char *file, const char *text, size_t len,
                          struct wd_cedar_schema **out, struct wd_diag *diag)
{
    struct wd_cedar_schema *s = NULL;
    struct parser p;
    size_t bad;
    int rc;
    WD_ENSURE(out != NULL && (text != NULL || len == 0), WD_EINVAL);
    *out = NULL;
    if (text == NULL) {
        text = "";
    }
    const char *f = file != NULL ? file : "<schema>";
    if (len > TEXT_MAX_BYTES) {
        return wd_diag_set(diag, WD_ELIMIT, f, 0, 0, "schema larger than %zu bytes",
                           TEXT_MAX_BYTES);
    }
    if (!utf8_valid(text, len, &bad)) {
        unsigned line = 1;
        size_t ls = 0;
        for (size_t i = 0; i < bad; i++) {
            if (text[i] == '\n') {
                line++;
                ls = i + 1;
            }
        }
        return wd_diag_set(diag, WD_EPROTO, f, line, (unsigned)(bad - ls + 1), "invalid UTF-8");
    }
    WD_TRY(wd_cedar_schema_alloc(file, &s));
    memset(&p, 0, sizeof(p));
    p.s = s;
    p.text = text;
    p.len = len;
    p.line = 1;
    p.diag = diag;
    WD_CHECK(parse_schema(&p));
    WD_CHECK(wd_cedar_schema_build(s, &p.raw, diag));
    *out = s;
    s = NULL;
    rc = WD_OK;
out:
    wd_cedar_schema_free(s);
    return rc;
}
