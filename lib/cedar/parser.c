/*
 * Cedar (language version 4) policy parser: text -> AST (lib/cedar/ast.h).
 *
 * A hand-written recursive-descent parser for the grammar of cedar-policy-core
 * src/parser/grammar.lalrpop, folding in the checks that Cedar makes when it converts its
 * concrete syntax tree to an AST (cst_to_ast.rs): scope shape, reserved identifiers,
 * known functions and methods, builtin method arity, literal-only operands of `like`,
 * `has` and `[...]`, integer range, escapes, duplicate record keys and annotations.
 * Grammar rules are quoted in the comments as "Cedar grammar: ...".
 *
 * The first error stops the parse and is reported as "file:line:col: message" at the token
 * that caused it. Nesting depth, tree height and node count are bounded.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/cedar.h"
#include "warden/codec.h"
#include "warden/err.h"

#include "cedar/ast.h"
#include "cedar/ext.h"
#include "cedar/lexer.h"
#include "cedar/value.h"

/* A template slot in a scope operand, before the scope check consumes it (never escapes). */
#define E_SLOT         ((uint8_t)WD_CEDAR_E__COUNT)
#define SLOT_PRINCIPAL 0
#define SLOT_RESOURCE  1
#define SLOT_OTHER     2

#define LOOKAHEAD 4

struct parser {
    const char *file;
    const char *text;
    size_t len;
    struct wd_cedar_lexer lx;
    struct wd_cedar_token la[LOOKAHEAD];
    unsigned nla;
    struct wd_cedar_token prev; /* last consumed token */
    struct wd_cedar_policyset *ps;
    struct wd_diag *diag;
    bool diag_set;
    unsigned depth;
    bool in_scope;    /* slots allowed (scope operands) */
    bool cond_unless; /* for the slot error message */
    const void **stk; /* scratch stack for lists under construction */
    size_t nstk, capstk;
    struct wd_buf sbuf; /* scratch for unescaping */
};

/* ---- errors ---- */

static void report(struct parser *p, int err, uint32_t line, uint32_t col, const char *fmt, ...)
        WD_PRINTF(5, 6);

/* Record the first error only; later ones are consequences of it. */
static void report(struct parser *p, int err, uint32_t line, uint32_t col, const char *fmt, ...)
{
    if (!p->diag_set) {
        char msg[WD_DIAG_MAX];
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        (void)wd_diag_set(p->diag, err, p->file, line, col, "%s", msg);
        p->diag_set = true;
    }
}

/*
 * Report and evaluate to the (constant, negative) code, so that static analysis sees
 * every error path return an error.
 */
#define FAIL_POS(p, err, line, col, ...) (report((p), (err), (line), (col), __VA_ARGS__), (err))
#define FAIL(p, tok, ...)                FAIL_POS((p), WD_EPROTO, (tok)->line, (tok)->col, __VA_ARGS__)
#define FAIL_LIM(p, tok, ...)            FAIL_POS((p), WD_ELIMIT, (tok)->line, (tok)->col, __VA_ARGS__)

/* Memory errors carry no position; limits do. A macro so the analyzer sees rc pass through. */
#define FAIL_RC(p, rc, t) ((rc) == WD_ELIMIT ? FAIL_LIM((p), (t), "policy set too large") : (rc))

/* A short printable description of a token for "found X" messages. */
static void describe(const struct parser *p, const struct wd_cedar_token *t, char *out, size_t n)
{
    switch (t->type) {
    case WD_CEDAR_T_EOF:
        (void)snprintf(out, n, "end of input");
        return;
    case WD_CEDAR_T_STRING:
        (void)snprintf(out, n, "string literal");
        return;
    case WD_CEDAR_T_INT:
        (void)snprintf(out, n, "number %.*s", (int)WD_MIN(t->len, 24), p->text + t->off);
        return;
    case WD_CEDAR_T_ERROR:
        (void)snprintf(out, n, "invalid character");
        return;
    default:
        (void)snprintf(out, n, "'%.*s'", (int)WD_MIN(t->len, 40), p->text + t->off);
        return;
    }
}

/* ---- tokens ---- */

static const struct wd_cedar_token *peek_n(struct parser *p, unsigned k)
{
    while (p->nla <= k) {
        wd_cedar_lex_next(&p->lx, &p->la[p->nla]);
        p->nla++;
    }
    return &p->la[k];
}

static const struct wd_cedar_token *peek(struct parser *p)
{
    return peek_n(p, 0);
}

static const struct wd_cedar_token *advance(struct parser *p)
{
    (void)peek(p);
    p->prev = p->la[0];
    memmove(&p->la[0], &p->la[1], sizeof(p->la[0]) * (p->nla - 1));
    p->nla--;
    return &p->prev;
}

static bool at(struct parser *p, uint8_t type)
{
    return peek(p)->type == type;
}

static bool at_kw(struct parser *p, uint8_t kw)
{
    const struct wd_cedar_token *t = peek(p);
    return t->type == WD_CEDAR_T_IDENT && t->kw == kw;
}

/* Report "expected WHAT, found X" at the next token (or the lexer's own error). */
static void report_unexpected(struct parser *p, const char *what)
{
    const struct wd_cedar_token *t = peek(p);
    if (t->type == WD_CEDAR_T_ERROR) {
        if (t->msg != NULL && t->msg[0] == 'u' && t->msg[2] == 't') {
            /* "unterminated string literal" */
            (void)FAIL(p, t, "%s", t->msg);
            return;
        }
        if (p->text[t->off] == '\'') {
            (void)FAIL(p, t, "unexpected character '''; strings use double quotes");
            return;
        }
        if ((unsigned char)p->text[t->off] < 0x20 || (unsigned char)p->text[t->off] >= 0x7F) {
            (void)FAIL(p, t, "unexpected character (byte 0x%02x)", (unsigned char)p->text[t->off]);
            return;
        }
        (void)FAIL(p, t, "unexpected character '%.*s'", (int)t->len, p->text + t->off);
        return;
    }
    char d[64];
    describe(p, t, d, sizeof(d));
    (void)FAIL(p, t, "expected %s, found %s", what, d);
}

/* An error code the analyzer can see (the report itself is out of line). */
#define unexpected(p, what) (report_unexpected((p), (what)), WD_EPROTO)

static int expect(struct parser *p, uint8_t type, const char *what)
{
    if (!at(p, type)) {
        return unexpected(p, what);
    }
    (void)advance(p);
    return WD_OK;
}

/* Tokens that would continue an `Add` (so a literal operand is not alone). */
static bool continues_add(uint8_t type)
{
    switch (type) {
    case WD_CEDAR_T_DOT:
    case WD_CEDAR_T_LBRACKET:
    case WD_CEDAR_T_LPAREN:
    case WD_CEDAR_T_COLON2:
    case WD_CEDAR_T_PLUS:
    case WD_CEDAR_T_MINUS:
    case WD_CEDAR_T_STAR:
    case WD_CEDAR_T_SLASH:
    case WD_CEDAR_T_PERCENT:
        return true;
    default:
        return false;
    }
}

/* ---- scratch stack ---- */

static int push(struct parser *p, const void *v)
{
    if (p->nstk == p->capstk) {
        size_t ncap = p->capstk == 0 ? 64 : p->capstk * 2;
        const void **ns = wd_reallocarray((void *)p->stk, ncap, sizeof(*ns));
        WD_ENSURE(ns != NULL, WD_ENOMEM);
        p->stk = ns;
        p->capstk = ncap;
    }
    p->stk[p->nstk++] = v;
    return WD_OK;
}

/* Move the top n scratch entries into a new arena array (in push order) and pop them. */
static int pop_array(struct parser *p, size_t base, const void ***out)
{
    size_t n = p->nstk - base;
    void *mem;
    *out = NULL;
    WD_TRY(wd_cedar_ps_alloc(p->ps, n * sizeof(void *), &mem));
    if (n > 0) {
        memcpy(mem, p->stk + base, n * sizeof(void *));
    }
    p->nstk = base;
    *out = mem;
    return WD_OK;
}

/* ---- nodes ---- */

static int new_node(struct parser *p, uint8_t kind, const struct wd_cedar_token *t,
                    struct wd_cedar_expr **out)
{
    void *mem;
    *out = NULL;
    if (p->ps->nnodes >= p->ps->max_nodes) {
        return FAIL_LIM(p, t, "too many expression nodes in the policy set (limit %zu)",
                        p->ps->max_nodes);
    }
    int rc = wd_cedar_ps_alloc(p->ps, sizeof(struct wd_cedar_expr), &mem);
    if (rc < 0) {
        return FAIL_RC(p, rc, t);
    }
    p->ps->nnodes++;
    struct wd_cedar_expr *e = mem;
    e->kind = kind;
    e->line = t->line;
    e->col = t->col;
    e->height = 1;
    *out = e;
    return WD_OK;
}

static unsigned h_of(const struct wd_cedar_expr *e)
{
    return e == NULL ? 0 : e->height;
}

/* Set e's height from its children; WD_ELIMIT past WD_CEDAR_MAX_HEIGHT. */
static int finish(struct parser *p, struct wd_cedar_expr *e)
{
    unsigned h = 0;
    switch (e->kind) {
    case WD_CEDAR_E_NOT:
    case WD_CEDAR_E_NEG:
    case WD_CEDAR_E_IS_EMPTY:
        h = h_of(e->u.un.e);
        break;
    case WD_CEDAR_E_AND:
    case WD_CEDAR_E_OR:
    case WD_CEDAR_E_EQ:
    case WD_CEDAR_E_NE:
    case WD_CEDAR_E_LT:
    case WD_CEDAR_E_LE:
    case WD_CEDAR_E_GT:
    case WD_CEDAR_E_GE:
    case WD_CEDAR_E_IN:
    case WD_CEDAR_E_ADD:
    case WD_CEDAR_E_SUB:
    case WD_CEDAR_E_MUL:
    case WD_CEDAR_E_CONTAINS:
    case WD_CEDAR_E_CONTAINS_ALL:
    case WD_CEDAR_E_CONTAINS_ANY:
    case WD_CEDAR_E_HAS_TAG:
    case WD_CEDAR_E_GET_TAG:
        h = WD_MAX(h_of(e->u.bin.l), h_of(e->u.bin.r));
        break;
    case WD_CEDAR_E_IF:
        h = WD_MAX(h_of(e->u.ite.cond), WD_MAX(h_of(e->u.ite.then_), h_of(e->u.ite.else_)));
        break;
    case WD_CEDAR_E_GETATTR:
        h = h_of(e->u.attr.e);
        break;
    case WD_CEDAR_E_HAS:
        h = h_of(e->u.has.e);
        break;
    case WD_CEDAR_E_LIKE:
        h = h_of(e->u.like.e);
        break;
    case WD_CEDAR_E_IS:
        h = WD_MAX(h_of(e->u.is.e), h_of(e->u.is.in));
        break;
    case WD_CEDAR_E_SET:
    case WD_CEDAR_E_EXT:
        for (uint32_t i = 0; i < e->u.list.n; i++) {
            h = WD_MAX(h, h_of(e->u.list.items[i]));
        }
        break;
    case WD_CEDAR_E_RECORD:
        for (uint32_t i = 0; i < e->u.rec.n; i++) {
            h = WD_MAX(h, h_of(e->u.rec.vals[i]));
        }
        break;
    default:
        break;
    }
    if (h + 1 > WD_CEDAR_MAX_HEIGHT) {
        return FAIL_POS(p, WD_ELIMIT, e->line, e->col,
                        "expression nested too deeply (more than %d levels)", WD_CEDAR_MAX_HEIGHT);
    }
    e->height = (uint16_t)(h + 1);
    return WD_OK;
}

static int mk_un(struct parser *p, uint8_t kind, const struct wd_cedar_token *t,
                 const struct wd_cedar_expr *a, struct wd_cedar_expr **out)
{
    struct wd_cedar_expr *e;
    WD_TRY(new_node(p, kind, t, &e));
    e->u.un.e = a;
    WD_TRY(finish(p, e));
    *out = e;
    return WD_OK;
}

/* Binary node positioned at its left operand. */
static int mk_bin(struct parser *p, uint8_t kind, const struct wd_cedar_expr *l,
                  const struct wd_cedar_expr *r, struct wd_cedar_expr **out)
{
    struct wd_cedar_expr *e;
    struct wd_cedar_token t = {.line = l->line, .col = l->col};
    WD_TRY(new_node(p, kind, &t, &e));
    e->u.bin.l = l;
    e->u.bin.r = r;
    WD_TRY(finish(p, e));
    *out = e;
    return WD_OK;
}

static int intern(struct parser *p, const struct wd_cedar_token *t, const char *s, size_t n,
                  const struct wd_cedar_sym **out)
{
    int rc = wd_cedar_intern(p->ps, s, n, out);
    return rc < 0 ? FAIL_RC(p, rc, t) : WD_OK;
}

/* ---- strings ---- */

static int put_utf8(struct wd_buf *b, uint32_t cp)
{
    uint8_t u[4];
    return wd_buf_append(b, u, wd_utf8_encode(cp, u));
}

/* Byte that stands for an unescaped `*` wildcard in a pattern's scratch form (never valid
 * UTF-8, so it cannot collide with literal text). */
#define WILDCARD_BYTE 0xFF

/*
 * Unescape the string token t into p->sbuf. Escapes are Rust's, as Cedar uses them
 * (cedar-policy-core parser/unescape.rs over rustc_lexer): \n \r \t \\ \0 \' \" \xHH (at
 * most 0x7F) and \u{H..} (1-6 hex digits, `_` allowed after the first, a Unicode scalar
 * value); a bare carriage return is an error. In a pattern `\*` is a literal star and any
 * other `*` (even one written as \u{2a}) is a wildcard.
 */
static int unescape(struct parser *p, const struct wd_cedar_token *t, bool pattern)
{
    const char *s = p->text + t->off + 1;
    size_t n = t->len - 2;
    size_t i = 0;
    wd_buf_reset(&p->sbuf);
    while (i < n) {
        /* Position of the current character, for messages: strings may span lines. */
        size_t start = i;
        char c = s[i];
        uint32_t cp;
        int rc;
        if (c == '\r') {
            return FAIL(p, t, "bare carriage return in string literal (write \\r)");
        }
        if (c != '\\') {
            if (pattern && c == '*') {
                rc = wd_buf_append_byte(&p->sbuf, WILDCARD_BYTE);
            } else {
                rc = wd_buf_append_byte(&p->sbuf, (uint8_t)c);
            }
            if (rc < 0) {
                return FAIL_RC(p, rc, t);
            }
            i++;
            continue;
        }
        /* The lexer guarantees a character after every backslash. */
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case '\\':
            cp = '\\';
            break;
        case '0':
            cp = 0;
            break;
        case '\'':
            cp = '\'';
            break;
        case '"':
            cp = '"';
            break;
        case '*':
            if (!pattern) {
                goto bad;
            }
            rc = wd_buf_append_byte(&p->sbuf, '*');
            if (rc < 0) {
                return FAIL_RC(p, rc, t);
            }
            continue;
        case 'x': {
            int h1 = i < n ? wd_hex_digit_value(s[i]) : -1;
            int h2 = i + 1 < n ? wd_hex_digit_value(s[i + 1]) : -1;
            if (h1 < 0 || h2 < 0 || h1 > 7) {
                i = WD_MIN(i + 2, n);
                goto bad;
            }
            cp = (uint32_t)(h1 * 16 + h2);
            i += 2;
            break;
        }
        case 'u': {
            if (i >= n || s[i] != '{') {
                goto bad;
            }
            i++;
            unsigned digits = 0;
            cp = 0;
            bool closed = false;
            while (i < n) {
                char d = s[i];
                if (d == '}') {
                    closed = true;
                    i++;
                    break;
                }
                if (d == '_' && digits > 0) {
                    i++;
                    continue;
                }
                int v = wd_hex_digit_value(d);
                if (v < 0) {
                    break;
                }
                if (++digits > 6) {
                    break;
                }
                cp = cp * 16 + (uint32_t)v;
                i++;
            }
            if (!closed || digits == 0 || digits > 6 || cp > 0x10FFFF
                || (cp >= 0xD800 && cp <= 0xDFFF)) {
                goto bad;
            }
            break;
        }
        default:
            goto bad;
        }
        if (pattern && cp == '*') {
            rc = wd_buf_append_byte(&p->sbuf, WILDCARD_BYTE);
        } else {
            rc = put_utf8(&p->sbuf, cp);
        }
        if (rc < 0) {
            return FAIL_RC(p, rc, t);
        }
        continue;
    bad : {
        /* Point at the backslash: count lines and columns inside the literal. */
        uint32_t line = t->line, col = t->col + 1;
        for (size_t k = 0; k < start; k++) {
            if (s[k] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        size_t shown = WD_MIN(i - start, 16);
        return FAIL_POS(p, WD_EPROTO, line, col, "invalid escape '%.*s' in string literal",
                        (int)shown, s + start);
    }
    }
    return WD_OK;
}

static int string_sym(struct parser *p, const struct wd_cedar_token *t,
                      const struct wd_cedar_sym **out)
{
    WD_TRY(unescape(p, t, false));
    return intern(p, t, (const char *)p->sbuf.p, p->sbuf.len, out);
}

/* Split the unescaped pattern in sbuf into parts (see struct wd_cedar_pattern). */
static int build_pattern(struct parser *p, const struct wd_cedar_token *t,
                         const struct wd_cedar_pattern **out)
{
    const uint8_t *b = p->sbuf.p;
    size_t n = p->sbuf.len;
    uint32_t nparts = 0;
    size_t nlit = 0;
    for (size_t i = 0; i < n;) {
        if (b[i] == WILDCARD_BYTE) {
            nparts++;
            i++;
            continue;
        }
        nparts++;
        while (i < n && b[i] != WILDCARD_BYTE) {
            i++;
            nlit++;
        }
    }
    void *mem;
    size_t sz =
            sizeof(struct wd_cedar_pattern) + nparts * sizeof(struct wd_cedar_pat_part) + nlit + 1;
    int rc = wd_cedar_ps_alloc(p->ps, sz, &mem);
    if (rc < 0) {
        return FAIL_RC(p, rc, t);
    }
    struct wd_cedar_pattern *pat = mem;
    struct wd_cedar_pat_part *parts = (struct wd_cedar_pat_part *)(pat + 1);
    char *lit = (char *)(parts + nparts);
    uint32_t k = 0;
    for (size_t i = 0; i < n;) {
        if (b[i] == WILDCARD_BYTE) {
            parts[k].p = NULL;
            parts[k].len = 0;
            k++;
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && b[j] != WILDCARD_BYTE) {
            j++;
        }
        memcpy(lit, b + i, j - i);
        parts[k].p = lit;
        parts[k].len = (uint32_t)(j - i);
        lit += j - i;
        k++;
        i = j;
    }
    pat->parts = parts;
    pat->n = nparts;
    *out = pat;
    return WD_OK;
}

/* ---- names ---- */

static bool is_cedar_reserved_component(const char *s, size_t n)
{
    return n == 7 && memcmp(s, "__cedar", 7) == 0;
}

/* An identifier used as an attribute / record key / name component: not reserved. */
static int check_ident(struct parser *p, const struct wd_cedar_token *t)
{
    const char *s = p->text + t->off;
    if (wd_cedar_is_reserved(s, t->len)) {
        return FAIL(p, t, "'%.*s' is a reserved identifier and cannot be used here", (int)t->len,
                    s);
    }
    if (is_cedar_reserved_component(s, t->len)) {
        return FAIL(p, t, "'__cedar' is reserved and cannot be used as an identifier");
    }
    return WD_OK;
}

/*
 * A path IDENT {'::' IDENT} that does not end in '::' STRING, joined canonically into
 * p->sbuf. The first identifier is already consumed (first). Stops before '::' STRING and
 * before anything that is not '::' IDENT.
 */
static int name_path(struct parser *p, const struct wd_cedar_token *first, size_t *ncomp)
{
    wd_buf_reset(&p->sbuf);
    *ncomp = 1;
    WD_TRY(check_ident(p, first));
    int rc = wd_buf_append(&p->sbuf, p->text + first->off, first->len);
    if (rc < 0) {
        return FAIL_RC(p, rc, first);
    }
    while (at(p, WD_CEDAR_T_COLON2) && peek_n(p, 1)->type == WD_CEDAR_T_IDENT) {
        (void)advance(p);
        const struct wd_cedar_token *t = advance(p);
        WD_TRY(check_ident(p, t));
        rc = wd_buf_append(&p->sbuf, "::", 2);
        if (rc == WD_OK) {
            rc = wd_buf_append(&p->sbuf, p->text + t->off, t->len);
        }
        if (rc < 0) {
            return FAIL_RC(p, rc, t);
        }
        (*ncomp)++;
    }
    return WD_OK;
}

/* Cedar: the type of an action entity is `Action` or `<namespace>::Action`. */
static bool is_action_type(const struct wd_cedar_sym *type)
{
    return (type->len == 6 && memcmp(type->p, "Action", 6) == 0)
           || (type->len > 8 && memcmp(type->p + type->len - 8, "::Action", 8) == 0);
}

/* ---- expressions ---- */

static int parse_expr(struct parser *p, const struct wd_cedar_expr **out);
static int parse_add(struct parser *p, const struct wd_cedar_expr **out);

/* Comma-separated expressions up to `close` (trailing comma allowed), pushed on the stack. */
static int parse_list(struct parser *p, uint8_t close, const char *what)
{
    while (!at(p, close)) {
        const struct wd_cedar_expr *e;
        WD_TRY(parse_expr(p, &e));
        WD_TRY(push(p, e));
        if (at(p, WD_CEDAR_T_COMMA)) {
            (void)advance(p);
            continue;
        }
        if (!at(p, close)) {
            return unexpected(p, what);
        }
    }
    (void)advance(p);
    return WD_OK;
}

static int mk_list(struct parser *p, uint8_t kind, uint8_t sub, const struct wd_cedar_token *t,
                   size_t base, const struct wd_cedar_expr **out)
{
    struct wd_cedar_expr *e;
    const void **items;
    size_t n = p->nstk - base;
    WD_TRY(new_node(p, kind, t, &e));
    int rc = pop_array(p, base, &items);
    if (rc < 0) {
        return FAIL_RC(p, rc, t);
    }
    e->sub = sub;
    e->u.list.items = (const struct wd_cedar_expr *const *)items;
    e->u.list.n = (uint32_t)n;
    WD_TRY(finish(p, e));
    *out = e;
    return WD_OK;
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (const void *const *)a, y = (uintptr_t) * (const void *const *)b;
    return x < y ? -1 : x > y;
}

/* Whether n interned syms (pointers) contain a duplicate; *dup gets one. */
static int find_dup(const void *const *syms, size_t n, size_t stride,
                    const struct wd_cedar_sym **dup)
{
    *dup = NULL;
    if (n <= 32) {
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < i; j++) {
                if (syms[i * stride] == syms[j * stride]) {
                    *dup = syms[i * stride];
                    return WD_OK;
                }
            }
        }
        return WD_OK;
    }
    const void **tmp = wd_reallocarray(NULL, n, sizeof(*tmp));
    WD_ENSURE(tmp != NULL, WD_ENOMEM);
    for (size_t i = 0; i < n; i++) {
        tmp[i] = syms[i * stride];
    }
    qsort(tmp, n, sizeof(*tmp), cmp_ptr);
    for (size_t i = 1; i < n; i++) {
        if (tmp[i] == tmp[i - 1]) {
            *dup = tmp[i];
            break;
        }
    }
    wd_free((void *)tmp);
    return WD_OK;
}

/* Cedar grammar: '{' [RecInit {',' RecInit}] [','] '}', RecInit := (IDENT | STR) ':' Expr. */
static int parse_record(struct parser *p, const struct wd_cedar_token *open,
                        const struct wd_cedar_expr **out)
{
    size_t base = p->nstk;
    struct wd_cedar_token at_tok = *open;
    while (!at(p, WD_CEDAR_T_RBRACE)) {
        const struct wd_cedar_token *k = peek(p);
        const struct wd_cedar_sym *key;
        if ((k->type != WD_CEDAR_T_IDENT && k->type != WD_CEDAR_T_STRING)
            || peek_n(p, 1)->type != WD_CEDAR_T_COLON) {
            if (k->type != WD_CEDAR_T_IDENT && k->type != WD_CEDAR_T_STRING
                && k->type != WD_CEDAR_T_INT && k->type != WD_CEDAR_T_LPAREN) {
                return unexpected(p, "a record key (identifier or string) or '}'");
            }
            return FAIL(p, k,
                        "invalid record key: keys must be identifiers or string literals, "
                        "followed by ':'");
        }
        k = advance(p);
        if (k->type == WD_CEDAR_T_IDENT) {
            WD_TRY(check_ident(p, k));
            WD_TRY(intern(p, k, p->text + k->off, k->len, &key));
        } else {
            WD_TRY(string_sym(p, k, &key));
        }
        (void)advance(p); /* ':' */
        const struct wd_cedar_expr *v;
        WD_TRY(parse_expr(p, &v));
        int rc = push(p, key);
        if (rc == WD_OK) {
            rc = push(p, v);
        }
        if (rc < 0) {
            return rc;
        }
        if (at(p, WD_CEDAR_T_COMMA)) {
            (void)advance(p);
            continue;
        }
        if (!at(p, WD_CEDAR_T_RBRACE)) {
            return unexpected(p, "',' or '}' in record literal");
        }
    }
    (void)advance(p);
    size_t n = (p->nstk - base) / 2;
    const struct wd_cedar_sym *dup = NULL;
    if (n > 1) {
        WD_TRY(find_dup(p->stk + base, n, 2, &dup));
    }
    if (dup != NULL) {
        return FAIL(p, &at_tok, "duplicate key \"%.*s\" in record literal",
                    (int)WD_MIN(dup->len, 64), dup->p);
    }
    struct wd_cedar_expr *e;
    WD_TRY(new_node(p, WD_CEDAR_E_RECORD, &at_tok, &e));
    void *km = NULL, *vm = NULL;
    int rc = wd_cedar_ps_alloc(p->ps, n * sizeof(void *), &km);
    if (rc == WD_OK) {
        rc = wd_cedar_ps_alloc(p->ps, n * sizeof(void *), &vm);
    }
    if (rc != WD_OK) {
        return FAIL_RC(p, rc, &at_tok);
    }
    const struct wd_cedar_sym **keys = km;
    const struct wd_cedar_expr **vals = vm;
    for (size_t i = 0; i < n; i++) {
        keys[i] = p->stk[base + 2 * i];
        vals[i] = p->stk[base + 2 * i + 1];
    }
    p->nstk = base;
    e->u.rec.keys = keys;
    e->u.rec.vals = vals;
    e->u.rec.n = (uint32_t)n;
    WD_TRY(finish(p, e));
    *out = e;
    return WD_OK;
}

/* An integer token's value; > UINT64_MAX is an error now, > INT64_MAX is checked later. */
static int int_value(struct parser *p, const struct wd_cedar_token *t, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < t->len; i++) {
        unsigned d = (unsigned)(p->text[t->off + i] - '0');
        if (x > (UINT64_MAX - d) / 10) {
            return FAIL(p, t, "integer literal %.*s is too large (maximum 9223372036854775807)",
                        (int)WD_MIN(t->len, 40), p->text + t->off);
        }
        x = x * 10 + d;
    }
    *v = x;
    return WD_OK;
}

#define too_large(p, t)                                                               \
    FAIL((p), (t), "integer literal %.*s is too large (maximum 9223372036854775807)", \
         (int)WD_MIN((t)->len, 40), (p)->text + (t)->off)

/* What parse_primary saw, for the negative-literal rule in parse_unary. */
struct prim_info {
    bool is_int;
    struct wd_cedar_expr *lit; /* the literal node when is_int */
    uint64_t v;
    struct wd_cedar_token tok;
};

/*
 * Pre-evaluate an extension constructor call with one string literal argument, once, so
 * that the evaluator does not re-parse `ip("10.0.0.0/8")` on every decision. Only a
 * literal the constructor accepts gets a value: for any other call pre stays NULL and the
 * evaluator calls the constructor, reporting exactly the error it always did.
 */
static int pre_eval_ctor(struct parser *p, const struct wd_cedar_token *t, struct wd_cedar_expr *e)
{
    if (e->u.list.n != 1 || e->u.list.items[0]->kind != WD_CEDAR_E_STRING) {
        return WD_OK;
    }
    const struct wd_cedar_sym *arg = e->u.list.items[0]->u.s;
    struct wd_cedar_value v;
    struct wd_cedar_ip ip;
    memset(&v, 0, sizeof(v));
    memset(&ip, 0, sizeof(ip));
    int ok = WD_EPROTO;
    switch ((enum wd_cedar_ext)e->sub) {
    case WD_CEDAR_EXT_IP:
        v.kind = WD_CV_IP;
        ok = wd_cedar_ip_parse(arg->p, arg->len, &ip);
        break;
    case WD_CEDAR_EXT_DECIMAL:
        v.kind = WD_CV_DECIMAL;
        ok = wd_cedar_decimal_parse(arg->p, arg->len, &v.u.l);
        break;
    case WD_CEDAR_EXT_DATETIME:
        v.kind = WD_CV_DATETIME;
        ok = wd_cedar_datetime_parse(arg->p, arg->len, &v.u.l);
        break;
    case WD_CEDAR_EXT_DURATION:
        v.kind = WD_CV_DURATION;
        ok = wd_cedar_duration_parse(arg->p, arg->len, &v.u.l);
        break;
    default:
        return WD_OK;
    }
    if (ok != WD_OK) {
        return WD_OK;
    }
    struct wd_cedar_value *pv = NULL;
    int rc = wd_cedar_ps_alloc(p->ps, sizeof(*pv), (void **)&pv);
    if (rc == WD_OK && v.kind == WD_CV_IP) {
        struct wd_cedar_ip *pip = NULL;
        rc = wd_cedar_ps_alloc(p->ps, sizeof(*pip), (void **)&pip);
        if (rc == WD_OK) {
            *pip = ip;
            v.u.ip = pip;
        }
    }
    if (rc < 0) {
        return FAIL_RC(p, rc, t);
    }
    *pv = v;
    e->u.list.pre = pv;
    return WD_OK;
}

static int parse_call_name(struct parser *p, const struct wd_cedar_token *first, size_t ncomp,
                           const struct wd_cedar_expr **out)
{
    /* Cedar 4 has only the four extension constructors as functions; a namespaced name or
     * any other name is an error (cst_to_ast: "is not a valid function"). */
    int fn = ncomp == 1 ? wd_cedar_ext_lookup((const char *)p->sbuf.p, p->sbuf.len) : -1;
    if (fn < 0) {
        return FAIL(p, first, "'%.*s' is not a valid function", (int)WD_MIN(p->sbuf.len, 64),
                    (const char *)p->sbuf.p);
    }
    if (!wd_cedar_ext_is_function((enum wd_cedar_ext)fn)) {
        return FAIL(p, first, "'%s' is a method, not a function: write e.%s(...)",
                    wd_cedar_ext_name((enum wd_cedar_ext)fn),
                    wd_cedar_ext_name((enum wd_cedar_ext)fn));
    }
    (void)advance(p); /* '(' */
    size_t base = p->nstk;
    WD_TRY(parse_list(p, WD_CEDAR_T_RPAREN, "',' or ')' in argument list"));
    WD_TRY(mk_list(p, WD_CEDAR_E_EXT, (uint8_t)fn, first, base, out));
    /* The node was just made by mk_list in this set's arena: writable. */
    return pre_eval_ctor(p, first, (struct wd_cedar_expr *)(uintptr_t)*out);
}

/*
 * Cedar grammar: Primary := LITERAL | Ref | Name | Slot | '(' Expr ')' | '[' [ExprList] ']'
 *                         | '{' [RecInits] '}';  Ref := Name '::' STR;  plus Name '(' args ')'
 * (a function call, which the grammar spells as a MemAccess on a Name).
 */
static int parse_primary(struct parser *p, struct prim_info *info, const struct wd_cedar_expr **out)
{
    const struct wd_cedar_token *t = peek(p);
    struct wd_cedar_token tok = *t;
    struct wd_cedar_expr *e;
    info->is_int = false;
    switch (t->type) {
    case WD_CEDAR_T_INT: {
        uint64_t v;
        (void)advance(p);
        WD_TRY(int_value(p, &tok, &v));
        WD_TRY(new_node(p, WD_CEDAR_E_LONG, &tok, &e));
        e->u.i = v <= INT64_MAX ? (int64_t)v : 0;
        info->is_int = true;
        info->lit = e;
        info->v = v;
        info->tok = tok;
        *out = e;
        return WD_OK;
    }
    case WD_CEDAR_T_STRING: {
        const struct wd_cedar_sym *s;
        (void)advance(p);
        WD_TRY(string_sym(p, &tok, &s));
        WD_TRY(new_node(p, WD_CEDAR_E_STRING, &tok, &e));
        e->u.s = s;
        *out = e;
        return WD_OK;
    }
    case WD_CEDAR_T_SLOT: {
        const char *s = p->text + t->off;
        uint8_t which = SLOT_OTHER;
        if (t->len == 10 && memcmp(s, "?principal", 10) == 0) {
            which = SLOT_PRINCIPAL;
        } else if (t->len == 9 && memcmp(s, "?resource", 9) == 0) {
            which = SLOT_RESOURCE;
        }
        if (!p->in_scope) {
            if (which == SLOT_OTHER) {
                return FAIL(p, t,
                            "'%.*s' is not a valid template slot (only ?principal and "
                            "?resource)",
                            (int)WD_MIN(t->len, 64), s);
            }
            return FAIL(p, t, "template slot %.*s cannot appear in a '%s' condition", (int)t->len,
                        s, p->cond_unless ? "unless" : "when");
        }
        (void)advance(p);
        WD_TRY(new_node(p, E_SLOT, &tok, &e));
        e->sub = which;
        *out = e;
        return WD_OK;
    }
    case WD_CEDAR_T_LPAREN: {
        (void)advance(p);
        WD_TRY(parse_expr(p, out));
        return expect(p, WD_CEDAR_T_RPAREN, "')'");
    }
    case WD_CEDAR_T_LBRACKET: {
        size_t base = p->nstk;
        (void)advance(p);
        WD_TRY(parse_list(p, WD_CEDAR_T_RBRACKET, "',' or ']' in set literal"));
        return mk_list(p, WD_CEDAR_E_SET, 0, &tok, base, out);
    }
    case WD_CEDAR_T_LBRACE:
        (void)advance(p);
        return parse_record(p, &tok, out);
    case WD_CEDAR_T_IDENT:
        break;
    default:
        return unexpected(p, "an expression");
    }

    /* Identifiers: literals, variables, entity uids, function calls. */
    if (t->kw == WD_CEDAR_KW_TRUE || t->kw == WD_CEDAR_KW_FALSE) {
        if (peek_n(p, 1)->type != WD_CEDAR_T_COLON2) {
            (void)advance(p);
            WD_TRY(new_node(p, WD_CEDAR_E_BOOL, &tok, &e));
            e->u.b = tok.kw == WD_CEDAR_KW_TRUE;
            *out = e;
            return WD_OK;
        }
    }
    if (t->kw == WD_CEDAR_KW_IF) {
        return FAIL(p, t, "an 'if' expression must be parenthesized here");
    }
    (void)advance(p);
    size_t ncomp;
    WD_TRY(name_path(p, &tok, &ncomp));
    if (at(p, WD_CEDAR_T_COLON2)) {
        /* Ref := Name '::' STR */
        const struct wd_cedar_token *n1 = peek_n(p, 1);
        if (n1->type == WD_CEDAR_T_STRING) {
            const struct wd_cedar_sym *type, *id;
            const struct wd_cedar_euid *uid;
            (void)advance(p);
            struct wd_cedar_token st = *advance(p);
            WD_TRY(intern(p, &tok, (const char *)p->sbuf.p, p->sbuf.len, &type));
            WD_TRY(string_sym(p, &st, &id));
            int rc = wd_cedar_intern_euid(p->ps, type, id, &uid);
            if (rc < 0) {
                return FAIL_RC(p, rc, &tok);
            }
            WD_TRY(new_node(p, WD_CEDAR_E_ENTITY, &tok, &e));
            e->u.euid = uid;
            *out = e;
            return WD_OK;
        }
        if (n1->type == WD_CEDAR_T_LBRACE) {
            return FAIL(p, &tok, "invalid entity literal: write Type::\"id\"");
        }
        (void)advance(p);
        return unexpected(p, "an identifier or string literal after '::'");
    }
    if (at(p, WD_CEDAR_T_LPAREN)) {
        return parse_call_name(p, &tok, ncomp, out);
    }
    if (ncomp == 1) {
        static const uint8_t vars[][2] = {
                {WD_CEDAR_KW_PRINCIPAL, WD_CEDAR_VAR_PRINCIPAL},
                {WD_CEDAR_KW_ACTION, WD_CEDAR_VAR_ACTION},
                {WD_CEDAR_KW_RESOURCE, WD_CEDAR_VAR_RESOURCE},
                {WD_CEDAR_KW_CONTEXT, WD_CEDAR_VAR_CONTEXT},
        };
        for (size_t i = 0; i < WD_ARRAY_LEN(vars); i++) {
            if (tok.kw == vars[i][0]) {
                WD_TRY(new_node(p, WD_CEDAR_E_VAR, &tok, &e));
                e->sub = vars[i][1];
                *out = e;
                return WD_OK;
            }
        }
    }
    return FAIL(p, &tok,
                "invalid variable '%.*s': the variables are principal, action, resource and "
                "context (string literals need double quotes)",
                (int)WD_MIN(p->sbuf.len, 64), (const char *)p->sbuf.p);
}

static const struct {
    const char *name;
    uint8_t kind;
    uint8_t nargs;
} builtin_methods[] = {
        {"contains", WD_CEDAR_E_CONTAINS, 1},        {"containsAll", WD_CEDAR_E_CONTAINS_ALL, 1},
        {"containsAny", WD_CEDAR_E_CONTAINS_ANY, 1}, {"isEmpty", WD_CEDAR_E_IS_EMPTY, 0},
        {"hasTag", WD_CEDAR_E_HAS_TAG, 1},           {"getTag", WD_CEDAR_E_GET_TAG, 1},
};

/* recv.name(args): args are on the stack from base. */
static int make_method(struct parser *p, const struct wd_cedar_token *name,
                       const struct wd_cedar_token *dot, const struct wd_cedar_expr *recv,
                       size_t base, const struct wd_cedar_expr **out)
{
    const char *s = p->text + name->off;
    size_t nargs = p->nstk - base;
    struct wd_cedar_token pos = {.line = recv->line, .col = recv->col};
    (void)dot;
    for (size_t i = 0; i < WD_ARRAY_LEN(builtin_methods); i++) {
        if (strlen(builtin_methods[i].name) != name->len
            || memcmp(builtin_methods[i].name, s, name->len) != 0) {
            continue;
        }
        if (nargs != builtin_methods[i].nargs) {
            return FAIL(p, name, "call to '%s' requires exactly %u argument%s, but got %zu",
                        builtin_methods[i].name, builtin_methods[i].nargs,
                        builtin_methods[i].nargs == 1 ? "" : "s", nargs);
        }
        struct wd_cedar_expr *e;
        WD_TRY(new_node(p, builtin_methods[i].kind, &pos, &e));
        if (nargs == 0) {
            e->u.un.e = recv;
        } else {
            e->u.bin.l = recv;
            e->u.bin.r = p->stk[base];
        }
        p->nstk = base;
        WD_TRY(finish(p, e));
        *out = e;
        return WD_OK;
    }
    int fn = wd_cedar_ext_lookup(s, name->len);
    if (fn < 0) {
        return FAIL(p, name, "'%.*s' is not a valid method", (int)WD_MIN(name->len, 64), s);
    }
    if (wd_cedar_ext_is_function((enum wd_cedar_ext)fn)) {
        return FAIL(p, name, "'%.*s' is a function, not a method: write %.*s(...)", (int)name->len,
                    s, (int)name->len, s);
    }
    /* The receiver becomes args[0]: insert it below the arguments. */
    WD_TRY(push(p, NULL));
    memmove(p->stk + base + 1, p->stk + base, nargs * sizeof(void *));
    p->stk[base] = recv;
    return mk_list(p, WD_CEDAR_E_EXT, (uint8_t)fn, &pos, base, out);
}

/* Cedar grammar: Member := Primary { '.' IDENT ['(' args ')'] | '[' STR ']' }. */
static int parse_member(struct parser *p, struct prim_info *info, const struct wd_cedar_expr **out)
{
    const struct wd_cedar_expr *e;
    WD_TRY(parse_primary(p, info, &e));
    for (;;) {
        const struct wd_cedar_token *t = peek(p);
        if (t->type != WD_CEDAR_T_DOT && t->type != WD_CEDAR_T_LBRACKET
            && t->type != WD_CEDAR_T_LPAREN) {
            break;
        }
        if (info->is_int) {
            /* Not a bare literal any more: it must fit as it is. */
            if (info->v > INT64_MAX) {
                return too_large(p, &info->tok);
            }
            info->is_int = false;
        }
        if (t->type == WD_CEDAR_T_LPAREN) {
            return FAIL(p, t, "function calls must be of the form name(arg1, arg2, ...)");
        }
        struct wd_cedar_token op = *advance(p);
        if (op.type == WD_CEDAR_T_LBRACKET) {
            const struct wd_cedar_token *s = peek(p);
            if (s->type != WD_CEDAR_T_STRING) {
                if (s->type == WD_CEDAR_T_RBRACKET || s->type == WD_CEDAR_T_EOF) {
                    return unexpected(p, "a string literal in '[...]'");
                }
                return FAIL(p, s, "the index in '[...]' must be a string literal");
            }
            struct wd_cedar_token st = *advance(p);
            const struct wd_cedar_sym *name;
            WD_TRY(string_sym(p, &st, &name));
            WD_TRY(expect(p, WD_CEDAR_T_RBRACKET, "']'"));
            struct wd_cedar_expr *g;
            struct wd_cedar_token pos = {.line = e->line, .col = e->col};
            WD_TRY(new_node(p, WD_CEDAR_E_GETATTR, &pos, &g));
            g->u.attr.e = e;
            g->u.attr.name = name;
            WD_TRY(finish(p, g));
            e = g;
            continue;
        }
        if (!at(p, WD_CEDAR_T_IDENT)) {
            return unexpected(p, "an attribute or method name after '.'");
        }
        struct wd_cedar_token name = *advance(p);
        if (at(p, WD_CEDAR_T_LPAREN)) {
            size_t base = p->nstk;
            (void)advance(p);
            WD_TRY(parse_list(p, WD_CEDAR_T_RPAREN, "',' or ')' in argument list"));
            WD_TRY(make_method(p, &name, &op, e, base, &e));
            continue;
        }
        WD_TRY(check_ident(p, &name));
        const struct wd_cedar_sym *s;
        WD_TRY(intern(p, &name, p->text + name.off, name.len, &s));
        struct wd_cedar_expr *g;
        struct wd_cedar_token pos = {.line = e->line, .col = e->col};
        WD_TRY(new_node(p, WD_CEDAR_E_GETATTR, &pos, &g));
        g->u.attr.e = e;
        g->u.attr.name = s;
        WD_TRY(finish(p, g));
        e = g;
    }
    *out = e;
    return WD_OK;
}

/*
 * Cedar grammar: Unary := ['!' {'!'} | '-' {'-'}] Member, at most four operators. A '-'
 * directly before an integer literal makes a negative literal (cst_to_ast: the first
 * negation is folded into the literal, so -9223372036854775808 is valid).
 */
static int parse_unary(struct parser *p, const struct wd_cedar_expr **out)
{
    const struct wd_cedar_token *t = peek(p);
    struct wd_cedar_token first = *t;
    uint8_t op = t->type;
    unsigned count = 0;
    if (op == WD_CEDAR_T_BANG || op == WD_CEDAR_T_MINUS) {
        while (at(p, op)) {
            (void)advance(p);
            count++;
        }
        if (count > 4) {
            return FAIL(p, &first, "too many occurrences of '%s': at most 4 in a row",
                        op == WD_CEDAR_T_BANG ? "!" : "-");
        }
    }
    struct prim_info info = {0};
    const struct wd_cedar_expr *e = NULL;
    WD_TRY(parse_member(p, &info, &e));
    if (info.is_int) {
        if (count > 0 && op == WD_CEDAR_T_MINUS) {
            struct wd_cedar_expr *lit = info.lit;
            if (info.v > (uint64_t)INT64_MAX + 1) {
                return too_large(p, &info.tok);
            }
            lit->u.i = info.v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)info.v;
            lit->line = first.line;
            lit->col = first.col;
            count--;
        } else if (info.v > INT64_MAX) {
            return too_large(p, &info.tok);
        }
    }
    uint8_t kind = op == WD_CEDAR_T_BANG ? WD_CEDAR_E_NOT : WD_CEDAR_E_NEG;
    for (unsigned i = 0; i < count; i++) {
        struct wd_cedar_expr *n;
        WD_TRY(mk_un(p, kind, &first, e, &n));
        e = n;
    }
    *out = e;
    return WD_OK;
}

/* Cedar grammar: Mult := Unary {'*' Unary} (`/` and `%` are lexed but not supported). */
static int parse_mult(struct parser *p, const struct wd_cedar_expr **out)
{
    const struct wd_cedar_expr *l;
    WD_TRY(parse_unary(p, &l));
    for (;;) {
        const struct wd_cedar_token *t = peek(p);
        if (t->type == WD_CEDAR_T_SLASH) {
            return FAIL(p, t, "division is not supported");
        }
        if (t->type == WD_CEDAR_T_PERCENT) {
            return FAIL(p, t, "remainder/modulo is not supported");
        }
        if (t->type != WD_CEDAR_T_STAR) {
            break;
        }
        (void)advance(p);
        const struct wd_cedar_expr *r;
        struct wd_cedar_expr *n;
        WD_TRY(parse_unary(p, &r));
        WD_TRY(mk_bin(p, WD_CEDAR_E_MUL, l, r, &n));
        l = n;
    }
    *out = l;
    return WD_OK;
}

/* Cedar grammar: Add := Mult {('+' | '-') Mult}, left-associative. */
static int parse_add(struct parser *p, const struct wd_cedar_expr **out)
{
    const struct wd_cedar_expr *l;
    WD_TRY(parse_mult(p, &l));
    while (at(p, WD_CEDAR_T_PLUS) || at(p, WD_CEDAR_T_MINUS)) {
        uint8_t kind = advance(p)->type == WD_CEDAR_T_PLUS ? WD_CEDAR_E_ADD : WD_CEDAR_E_SUB;
        const struct wd_cedar_expr *r;
        struct wd_cedar_expr *n;
        WD_TRY(parse_mult(p, &r));
        WD_TRY(mk_bin(p, kind, l, r, &n));
        l = n;
    }
    *out = l;
    return WD_OK;
}

static int relop_kind(const struct wd_cedar_token *t)
{
    switch (t->type) {
    case WD_CEDAR_T_EQ:
        return WD_CEDAR_E_EQ;
    case WD_CEDAR_T_NE:
        return WD_CEDAR_E_NE;
    case WD_CEDAR_T_LT:
        return WD_CEDAR_E_LT;
    case WD_CEDAR_T_LE:
        return WD_CEDAR_E_LE;
    case WD_CEDAR_T_GT:
        return WD_CEDAR_E_GT;
    case WD_CEDAR_T_GE:
        return WD_CEDAR_E_GE;
    case WD_CEDAR_T_ASSIGN:
        return 0; /* reported by the caller */
    case WD_CEDAR_T_IDENT:
        return t->kw == WD_CEDAR_KW_IN ? WD_CEDAR_E_IN : -1;
    default:
        return -1;
    }
}

/*
 * `e has RHS`: RHS is a string literal or IDENT {'.' IDENT} (RFC 62 extended has), and
 * nothing else of an Add may follow.
 */
static int parse_has(struct parser *p, const struct wd_cedar_expr *l,
                     const struct wd_cedar_expr **out)
{
    const struct wd_cedar_token *t = peek(p);
    struct wd_cedar_token first = *t;
    size_t base = p->nstk;
    if (t->type == WD_CEDAR_T_STRING) {
        const struct wd_cedar_sym *s;
        (void)advance(p);
        WD_TRY(string_sym(p, &first, &s));
        WD_TRY(push(p, s));
    } else if (t->type == WD_CEDAR_T_IDENT) {
        for (;;) {
            struct wd_cedar_token id = *advance(p);
            const struct wd_cedar_sym *s;
            WD_TRY(check_ident(p, &id));
            WD_TRY(intern(p, &id, p->text + id.off, id.len, &s));
            WD_TRY(push(p, s));
            if (at(p, WD_CEDAR_T_DOT) && peek_n(p, 1)->type == WD_CEDAR_T_IDENT) {
                (void)advance(p);
                continue;
            }
            break;
        }
    } else {
        return unexpected(p, "an attribute name or string literal after 'has'");
    }
    if (continues_add(peek(p)->type)) {
        return FAIL(p, &first,
                    "invalid right-hand side of 'has': use an identifier, a sequence of "
                    "identifiers separated by '.', or a string literal");
    }
    struct wd_cedar_expr *e;
    const void **path;
    size_t n = p->nstk - base;
    struct wd_cedar_token pos = {.line = l->line, .col = l->col};
    WD_TRY(new_node(p, WD_CEDAR_E_HAS, &pos, &e));
    int rc = pop_array(p, base, &path);
    if (rc < 0) {
        return FAIL_RC(p, rc, &first);
    }
    e->u.has.e = l;
    e->u.has.path = (const struct wd_cedar_sym *const *)path;
    e->u.has.n = (uint32_t)n;
    WD_TRY(finish(p, e));
    *out = e;
    return WD_OK;
}

/* An entity type name after `is` (a Name, nothing more of an Add); interned into *out. */
static int parse_type_name(struct parser *p, const struct wd_cedar_sym **out)
{
    const struct wd_cedar_token *t = peek(p);
    struct wd_cedar_token first = *t;
    size_t ncomp;
    if (t->type != WD_CEDAR_T_IDENT) {
        return unexpected(p, "an entity type name after 'is'");
    }
    (void)advance(p);
    WD_TRY(name_path(p, &first, &ncomp));
    if (continues_add(peek(p)->type)) {
        return FAIL(p, &first, "the right-hand side of 'is' must be an entity type name%s",
                    at(p, WD_CEDAR_T_COLON2) ? " (use == to compare with an entity)" : "");
    }
    return intern(p, &first, (const char *)p->sbuf.p, p->sbuf.len, out);
}

/*
 * Cedar grammar: Relation := Add [RELOP Add] | Add 'has' (IDENT | STR) | Add 'like' PAT
 *                          | Add 'is' Path ['in' Add].
 * Cedar parses Add {RELOP Add} and rejects chains when converting; so do we.
 */
static int parse_rel(struct parser *p, const struct wd_cedar_expr **out)
{
    const struct wd_cedar_expr *l;
    WD_TRY(parse_add(p, &l));
    const struct wd_cedar_token *t = peek(p);
    int kind = relop_kind(t);
    if (kind == 0) {
        return FAIL(p, t, "'=' is not a valid operator in Cedar: use '=='");
    }
    if (kind > 0) {
        const struct wd_cedar_expr *r;
        struct wd_cedar_expr *n;
        (void)advance(p);
        WD_TRY(parse_add(p, &r));
        WD_TRY(mk_bin(p, (uint8_t)kind, l, r, &n));
        if (relop_kind(peek(p)) >= 0) {
            return FAIL(p, peek(p),
                        "multiple relational operators (==, <, in, ...) must be parenthesized "
                        "to make the order explicit");
        }
        *out = n;
        return WD_OK;
    }
    if (t->type != WD_CEDAR_T_IDENT) {
        *out = l;
        return WD_OK;
    }
    if (t->kw == WD_CEDAR_KW_HAS) {
        (void)advance(p);
        return parse_has(p, l, out);
    }
    if (t->kw == WD_CEDAR_KW_LIKE) {
        (void)advance(p);
        const struct wd_cedar_token *s = peek(p);
        struct wd_cedar_token st = *s;
        if (s->type != WD_CEDAR_T_STRING || continues_add(peek_n(p, 1)->type)) {
            if (s->type == WD_CEDAR_T_EOF) {
                return unexpected(p, "a pattern string after 'like'");
            }
            return FAIL(p, s, "the right-hand side of 'like' must be a pattern string literal");
        }
        (void)advance(p);
        WD_TRY(unescape(p, &st, true));
        const struct wd_cedar_pattern *pat;
        WD_TRY(build_pattern(p, &st, &pat));
        struct wd_cedar_expr *e;
        struct wd_cedar_token pos = {.line = l->line, .col = l->col};
        WD_TRY(new_node(p, WD_CEDAR_E_LIKE, &pos, &e));
        e->u.like.e = l;
        e->u.like.pat = pat;
        WD_TRY(finish(p, e));
        *out = e;
        return WD_OK;
    }
    if (t->kw == WD_CEDAR_KW_IS) {
        const struct wd_cedar_sym *type = NULL;
        const struct wd_cedar_expr *in = NULL;
        (void)advance(p);
        WD_TRY(parse_type_name(p, &type));
        if (at_kw(p, WD_CEDAR_KW_IN)) {
            (void)advance(p);
            WD_TRY(parse_add(p, &in));
        }
        struct wd_cedar_expr *e;
        struct wd_cedar_token pos = {.line = l->line, .col = l->col};
        WD_TRY(new_node(p, WD_CEDAR_E_IS, &pos, &e));
        e->u.is.e = l;
        e->u.is.type = type;
        e->u.is.in = in;
        WD_TRY(finish(p, e));
        *out = e;
        return WD_OK;
    }
    *out = l;
    return WD_OK;
}

/* Cedar grammar: And := Relation {'&&' Relation}; Or := And {'||' And}; left-assoc. */
static int parse_and(struct parser *p, const struct wd_cedar_expr **out)
{
    const struct wd_cedar_expr *l;
    WD_TRY(parse_rel(p, &l));
    while (at(p, WD_CEDAR_T_AND)) {
        const struct wd_cedar_expr *r;
        struct wd_cedar_expr *n;
        (void)advance(p);
        WD_TRY(parse_rel(p, &r));
        WD_TRY(mk_bin(p, WD_CEDAR_E_AND, l, r, &n));
        l = n;
    }
    *out = l;
    return WD_OK;
}

static int parse_or(struct parser *p, const struct wd_cedar_expr **out)
{
    const struct wd_cedar_expr *l;
    WD_TRY(parse_and(p, &l));
    while (at(p, WD_CEDAR_T_OR)) {
        const struct wd_cedar_expr *r;
        struct wd_cedar_expr *n;
        (void)advance(p);
        WD_TRY(parse_and(p, &r));
        WD_TRY(mk_bin(p, WD_CEDAR_E_OR, l, r, &n));
        l = n;
    }
    *out = l;
    return WD_OK;
}

static int expect_kw(struct parser *p, uint8_t kw, const char *what)
{
    if (!at_kw(p, kw)) {
        return unexpected(p, what);
    }
    (void)advance(p);
    return WD_OK;
}

/* Cedar grammar: Expr := Or | 'if' Expr 'then' Expr 'else' Expr. */
static int parse_expr(struct parser *p, const struct wd_cedar_expr **out)
{
    const struct wd_cedar_token *t = peek(p);
    if (p->depth >= WD_CEDAR_MAX_DEPTH) {
        return FAIL_LIM(p, t, "expression nested too deeply (more than %d levels)",
                        WD_CEDAR_MAX_DEPTH);
    }
    p->depth++;
    int rc;
    if (t->type == WD_CEDAR_T_IDENT && t->kw == WD_CEDAR_KW_IF) {
        struct wd_cedar_token first = *t;
        const struct wd_cedar_expr *c, *a, *b;
        struct wd_cedar_expr *e;
        (void)advance(p);
        WD_CHECK(parse_expr(p, &c));
        WD_CHECK(expect_kw(p, WD_CEDAR_KW_THEN, "'then'"));
        WD_CHECK(parse_expr(p, &a));
        WD_CHECK(expect_kw(p, WD_CEDAR_KW_ELSE, "'else'"));
        WD_CHECK(parse_expr(p, &b));
        WD_CHECK(new_node(p, WD_CEDAR_E_IF, &first, &e));
        e->u.ite.cond = c;
        e->u.ite.then_ = a;
        e->u.ite.else_ = b;
        WD_CHECK(finish(p, e));
        *out = e;
    } else {
        WD_CHECK(parse_or(p, out));
    }
    rc = WD_OK;
out:
    p->depth--;
    return rc;
}

/* ---- policies ---- */

static const char *scope_var_name(int which)
{
    return which == 0 ? "principal" : which == 1 ? "action" : "resource";
}

/* Check a scope operand: an entity uid (or for action `in`, a set of them), or the slot. */
static int scope_operand(struct parser *p, int which, bool in, const struct wd_cedar_expr *e,
                         struct wd_cedar_scope *sc)
{
    struct wd_cedar_token pos = {.line = e->line, .col = e->col};
    if (e->kind == WD_CEDAR_E_ENTITY) {
        if (which == 1 && !is_action_type(e->u.euid->type)) {
            return FAIL(p, &pos,
                        "action entities must have type Action (optionally namespaced), not "
                        "'%.*s'",
                        (int)WD_MIN(e->u.euid->type->len, 64), e->u.euid->type->p);
        }
        sc->euid = e->u.euid;
        return WD_OK;
    }
    if (e->kind == E_SLOT) {
        if (which == 1) {
            return FAIL(p, &pos, "template slots are not allowed in the action scope");
        }
        if ((which == 0 && e->sub != SLOT_PRINCIPAL) || (which == 2 && e->sub != SLOT_RESOURCE)) {
            return FAIL(p, &pos, "expected an entity uid or ?%s", scope_var_name(which));
        }
        sc->slot = true;
        return WD_OK;
    }
    if (e->kind == WD_CEDAR_E_SET && which == 1 && in) {
        void *mem;
        int rc = wd_cedar_ps_alloc(p->ps, e->u.list.n * sizeof(void *), &mem);
        if (rc < 0) {
            return FAIL_RC(p, rc, &pos);
        }
        const struct wd_cedar_euid **arr = mem;
        for (uint32_t i = 0; i < e->u.list.n; i++) {
            const struct wd_cedar_expr *x = e->u.list.items[i];
            struct wd_cedar_token xp = {.line = x->line, .col = x->col};
            if (x->kind != WD_CEDAR_E_ENTITY) {
                return FAIL(p, &xp, "expected an action entity uid in the action set");
            }
            if (!is_action_type(x->u.euid->type)) {
                return FAIL(p, &xp,
                            "action entities must have type Action (optionally namespaced), "
                            "not '%.*s'",
                            (int)WD_MIN(x->u.euid->type->len, 64), x->u.euid->type->p);
            }
            arr[i] = x->u.euid;
        }
        sc->op = WD_CEDAR_SCOPE_IN_SET;
        sc->euids = arr;
        sc->n = e->u.list.n;
        return WD_OK;
    }
    if (e->kind == WD_CEDAR_E_SET) {
        return FAIL(p, &pos, "expected a single entity uid%s, found a set",
                    which == 1 ? "" : " or template slot");
    }
    return FAIL(p, &pos, "expected an entity uid%s",
                which == 1 ? (in ? " or a set of them" : "") : " or template slot");
}

/*
 * Cedar grammar: VariableDef := IDENT [':' Name] ['is' Add] [RELOP Expr], checked as in
 * cst_to_ast: principal/resource take ==, in, is, is..in (with an entity or their own
 * slot); action takes == or in (an entity or a set of entities of type Action).
 */
static int parse_scope_var(struct parser *p, int which, struct wd_cedar_scope *sc)
{
    const struct wd_cedar_token *t = peek(p);
    struct wd_cedar_token vt = *t;
    if (t->type != WD_CEDAR_T_IDENT) {
        return unexpected(p, which == 0 ? "'principal'" : which == 1 ? "'action'" : "'resource'");
    }
    static const uint8_t want[3] = {WD_CEDAR_KW_PRINCIPAL, WD_CEDAR_KW_ACTION,
                                    WD_CEDAR_KW_RESOURCE};
    if (t->kw != want[which]) {
        return FAIL(p, t, "expected '%s' as the %s element of the policy scope, found '%.*s'",
                    scope_var_name(which),
                    which == 0   ? "first"
                    : which == 1 ? "second"
                                 : "third",
                    (int)WD_MIN(t->len, 40), p->text + t->off);
    }
    (void)advance(p);
    sc->line = vt.line;
    sc->col = vt.col;
    sc->op = WD_CEDAR_SCOPE_ANY;
    if (at(p, WD_CEDAR_T_COLON)) {
        return FAIL(p, peek(p), "type constraints using ':' are not supported: use 'is'");
    }
    bool has_is = false;
    if (at_kw(p, WD_CEDAR_KW_IS)) {
        if (which == 1) {
            return FAIL(p, peek(p), "'is' cannot appear in the action scope");
        }
        (void)advance(p);
        WD_TRY(parse_type_name(p, &sc->type));
        sc->op = WD_CEDAR_SCOPE_IS;
        has_is = true;
    }
    const struct wd_cedar_token *o = peek(p);
    int kind = relop_kind(o);
    if (kind < 0) {
        return WD_OK;
    }
    struct wd_cedar_token ot = *o;
    if (kind == 0) {
        return FAIL(p, o, "'=' is not a valid operator in Cedar: use '=='");
    }
    if (kind != WD_CEDAR_E_EQ && kind != WD_CEDAR_E_IN) {
        return FAIL(p, o, "invalid operator '%.*s' in the policy scope: use ==, in or is",
                    (int)o->len, p->text + o->off);
    }
    if (has_is && kind == WD_CEDAR_E_EQ) {
        return FAIL(p, o, "'is' cannot be used together with '==': use 'is ... in'");
    }
    (void)advance(p);
    const struct wd_cedar_expr *e;
    p->in_scope = true;
    int rc = parse_expr(p, &e);
    p->in_scope = false;
    WD_TRY(rc);
    (void)ot;
    if (has_is) {
        sc->op = WD_CEDAR_SCOPE_IS_IN;
    } else {
        sc->op = kind == WD_CEDAR_E_EQ ? WD_CEDAR_SCOPE_EQ : WD_CEDAR_SCOPE_IN;
    }
    return scope_operand(p, which, kind == WD_CEDAR_E_IN, e, sc);
}

static int parse_scope(struct parser *p, struct wd_cedar_policy *pol)
{
    struct wd_cedar_scope *vars[3] = {&pol->principal, &pol->action, &pol->resource};
    WD_TRY(expect(p, WD_CEDAR_T_LPAREN, "'(' after the effect"));
    for (int i = 0; i < 3; i++) {
        if (at(p, WD_CEDAR_T_RPAREN)) {
            return FAIL(p, peek(p), "the policy scope is missing the '%s' element",
                        scope_var_name(i));
        }
        WD_TRY(parse_scope_var(p, i, vars[i]));
        if (at(p, WD_CEDAR_T_COMMA)) {
            (void)advance(p);
        } else if (!at(p, WD_CEDAR_T_RPAREN)) {
            char what[64];
            (void)snprintf(what, sizeof(what), "',' or ')' after the %s constraint",
                           scope_var_name(i));
            return unexpected(p, what);
        }
    }
    if (!at(p, WD_CEDAR_T_RPAREN)) {
        const struct wd_cedar_token *t = peek(p);
        if (t->type == WD_CEDAR_T_IDENT) {
            return FAIL(p, t, "the policy scope has an extra element '%.*s'",
                        (int)WD_MIN(t->len, 40), p->text + t->off);
        }
        return unexpected(p, "')' after the resource constraint");
    }
    (void)advance(p);
    pol->is_template = pol->principal.slot || pol->resource.slot;
    return WD_OK;
}

/* Cedar grammar: Cond := ('when' | 'unless') '{' Expr '}'. Pushes conds on the stack. */
static int parse_conds(struct parser *p, size_t base, struct wd_cedar_policy *pol)
{
    while (at(p, WD_CEDAR_T_IDENT)) {
        struct wd_cedar_token kw = *advance(p);
        if (kw.kw != WD_CEDAR_KW_WHEN && kw.kw != WD_CEDAR_KW_UNLESS) {
            return FAIL(p, &kw, "invalid policy condition '%.*s': use 'when' or 'unless'",
                        (int)WD_MIN(kw.len, 40), p->text + kw.off);
        }
        WD_TRY(expect(p, WD_CEDAR_T_LBRACE, "'{'"));
        if (at(p, WD_CEDAR_T_RBRACE)) {
            return FAIL(p, &kw, "'%s' condition cannot be empty",
                        kw.kw == WD_CEDAR_KW_WHEN ? "when" : "unless");
        }
        const struct wd_cedar_expr *e;
        p->cond_unless = kw.kw == WD_CEDAR_KW_UNLESS;
        WD_TRY(parse_expr(p, &e));
        WD_TRY(expect(p, WD_CEDAR_T_RBRACE, "'}' at the end of the condition"));
        void *mem;
        int rc = wd_cedar_ps_alloc(p->ps, sizeof(struct wd_cedar_cond), &mem);
        if (rc < 0) {
            return FAIL_RC(p, rc, &kw);
        }
        struct wd_cedar_cond *c = mem;
        c->unless = kw.kw == WD_CEDAR_KW_UNLESS;
        c->expr = e;
        c->line = kw.line;
        c->col = kw.col;
        WD_TRY(push(p, c));
    }
    size_t n = p->nstk - base;
    void *mem;
    int rc = wd_cedar_ps_alloc(p->ps, n * sizeof(struct wd_cedar_cond), &mem);
    if (rc < 0) {
        return FAIL_RC(p, rc, peek(p));
    }
    struct wd_cedar_cond *arr = mem;
    for (size_t i = 0; i < n; i++) {
        arr[i] = *(const struct wd_cedar_cond *)p->stk[base + i];
    }
    p->nstk = base;
    pol->conds = arr;
    pol->nconds = (uint32_t)n;
    return WD_OK;
}

/* Cedar grammar: Annotation := '@' IDENT ['(' STR ')'] (the value is optional in Cedar 4). */
static int parse_annotations(struct parser *p, struct wd_cedar_policy *pol)
{
    size_t base = p->nstk;
    while (at(p, WD_CEDAR_T_AT)) {
        struct wd_cedar_token at_tok = *advance(p);
        if (!at(p, WD_CEDAR_T_IDENT)) {
            return unexpected(p, "an annotation name after '@'");
        }
        struct wd_cedar_token k = *advance(p);
        void *mem;
        int rc = wd_cedar_ps_alloc(p->ps, sizeof(struct wd_cedar_annotation), &mem);
        if (rc < 0) {
            return FAIL_RC(p, rc, &k);
        }
        struct wd_cedar_annotation *a = mem;
        WD_TRY(intern(p, &k, p->text + k.off, k.len, &a->key));
        for (size_t i = base; i < p->nstk; i++) {
            if (((const struct wd_cedar_annotation *)p->stk[i])->key == a->key) {
                return FAIL(p, &at_tok, "duplicate annotation @%.*s", (int)WD_MIN(k.len, 64),
                            p->text + k.off);
            }
        }
        if (at(p, WD_CEDAR_T_LPAREN)) {
            (void)advance(p);
            if (!at(p, WD_CEDAR_T_STRING)) {
                return unexpected(p, "a string literal as the annotation value");
            }
            struct wd_cedar_token st = *advance(p);
            WD_TRY(string_sym(p, &st, &a->value));
            WD_TRY(expect(p, WD_CEDAR_T_RPAREN, "')' after the annotation value"));
            a->has_value = true;
            a->line = st.line;
            a->col = st.col;
        } else {
            WD_TRY(intern(p, &k, "", 0, &a->value));
            a->line = at_tok.line;
            a->col = at_tok.col;
        }
        WD_TRY(push(p, a));
    }
    size_t n = p->nstk - base;
    void *mem;
    int rc = wd_cedar_ps_alloc(p->ps, n * sizeof(struct wd_cedar_annotation), &mem);
    if (rc < 0) {
        return FAIL_RC(p, rc, peek(p));
    }
    struct wd_cedar_annotation *arr = mem;
    for (size_t i = 0; i < n; i++) {
        arr[i] = *(const struct wd_cedar_annotation *)p->stk[base + i];
    }
    p->nstk = base;
    pol->annos = arr;
    pol->nannos = (uint32_t)n;
    return WD_OK;
}

static bool id_taken(const struct wd_cedar_policyset *ps, const struct wd_cedar_sym *id)
{
    for (uint32_t i = 0; i < ps->npolicies; i++) {
        if (ps->policies[i]->id == id) {
            return true;
        }
    }
    for (uint32_t i = 0; i < ps->ntemplates; i++) {
        if (ps->templates[i]->id == id) {
            return true;
        }
    }
    return false;
}

/* ---- observers (warden extension; docs/internals/observe.md) ---- */

static void parser_init(struct parser *p, const char *file, const char *text, size_t len,
                        struct wd_cedar_policyset *ps, struct wd_diag *diag);
static void parser_cleanup(struct parser *p);

static const struct wd_cedar_annotation *find_anno(const struct wd_cedar_policy *pol,
                                                   const char *key)
{
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < pol->nannos; i++) {
        const struct wd_cedar_annotation *a = &pol->annos[i];
        if (a->key->len == klen && memcmp(a->key->p, key, klen) == 0) {
            return a;
        }
    }
    return NULL;
}

/*
 * Parse the text of annotation a (what: "@value", "@subject") as one Cedar expression into
 * p's set. Errors are reported at the annotation, with the position inside its text:
 * "file:L:C: @value:1:5: unexpected ...".
 */
static int parse_anno_expr(struct parser *p, const struct wd_cedar_annotation *a, const char *what,
                           const struct wd_cedar_expr **out)
{
    struct parser sub;
    struct wd_diag d;
    int rc;
    d.msg[0] = '\0';
    parser_init(&sub, what, a->value->p, a->value->len, p->ps, &d);
    if (at(&sub, WD_CEDAR_T_EOF)) {
        rc = FAIL_POS(p, WD_EPROTO, a->line, a->col, "%s: empty expression", what);
        goto out;
    }
    rc = parse_expr(&sub, out);
    if (rc == WD_OK && !at(&sub, WD_CEDAR_T_EOF)) {
        rc = unexpected(&sub, "the end of the expression");
    }
    if (rc == WD_ENOMEM) {
        goto out;
    }
    if (rc < 0) {
        rc = FAIL_POS(p, rc, a->line, a->col, "%s", d.msg);
    }
out:
    parser_cleanup(&sub);
    return rc;
}

/* Validate and attach an @observe policy's annotations (only with opts.observers). */
static int parse_observer(struct parser *p, struct wd_cedar_policy *pol,
                          const struct wd_cedar_annotation *oa)
{
    void *mem;
    if (!oa->has_value || oa->value->len == 0) {
        return FAIL_POS(p, WD_EPROTO, oa->line, oa->col,
                        "@observe needs a non-empty tag name: @observe(\"TAG\")");
    }
    if (pol->is_template) {
        return FAIL_POS(p, WD_EPROTO, pol->line, pol->col,
                        "an observer (@observe) cannot be a template");
    }
    const struct wd_cedar_annotation *va = find_anno(pol, "value");
    if (va == NULL) {
        return FAIL_POS(p, WD_EPROTO, oa->line, oa->col,
                        "observer needs @value(\"<Cedar expression>\")");
    }
    int rc = wd_cedar_ps_alloc(p->ps, sizeof(struct wd_cedar_observer), &mem);
    if (rc < 0) {
        return FAIL_RC(p, rc, &p->prev);
    }
    struct wd_cedar_observer *o = mem;
    o->tag = oa->value;
    o->ttl_ms = (int64_t)3600 * 1000;
    WD_TRY(parse_anno_expr(p, va, "@value", &o->value));

    const struct wd_cedar_annotation *ta = find_anno(pol, "ttl");
    if (ta != NULL) {
        int64_t ms = 0;
        if (!ta->has_value || wd_cedar_duration_parse(ta->value->p, ta->value->len, &ms) != WD_OK
            || ms <= 0) {
            return FAIL_POS(p, WD_EPROTO, ta->line, ta->col,
                            "@ttl: expected a positive Cedar duration such as \"30d\" or "
                            "\"15m\"");
        }
        o->ttl_ms = ms;
    }

    const struct wd_cedar_annotation *sa = find_anno(pol, "subject");
    o->subject = WD_CEDAR_OBS_PRINCIPAL;
    if (sa != NULL) {
        const struct wd_cedar_sym *v = sa->value;
        if (v->len == 9 && memcmp(v->p, "principal", 9) == 0) {
            o->subject = WD_CEDAR_OBS_PRINCIPAL;
        } else if (v->len == 8 && memcmp(v->p, "resource", 8) == 0) {
            o->subject = WD_CEDAR_OBS_RESOURCE;
        } else {
            const struct wd_cedar_expr *e = NULL;
            rc = sa->has_value ? parse_anno_expr(p, sa, "@subject", &e) : WD_EPROTO;
            if (rc == WD_ENOMEM) {
                return rc;
            }
            if (rc < 0 || e->kind != WD_CEDAR_E_ENTITY) {
                p->diag_set = false;
                return FAIL_POS(p, WD_EPROTO, sa->line, sa->col,
                                "@subject: expected principal, resource or an entity uid "
                                "like Type::\"id\"");
            }
            o->subject = WD_CEDAR_OBS_LITERAL;
            o->subject_uid = e->u.euid;
        }
    }
    pol->observer = true;
    pol->obs = o;
    return WD_OK;
}

/* Cedar grammar: Policy := {Annotation} Effect '(' Scope ')' {Conditions} ';'. */
static int parse_policy(struct parser *p, uint32_t seq, bool ids_from_annotation, bool observers)
{
    void *mem;
    const struct wd_cedar_token *t = peek(p);
    struct wd_cedar_token first = *t;
    int rc = wd_cedar_ps_alloc(p->ps, sizeof(struct wd_cedar_policy), &mem);
    if (rc < 0) {
        return FAIL_RC(p, rc, t);
    }
    struct wd_cedar_policy *pol = mem;
    pol->seq = seq;
    pol->line = first.line;
    pol->col = first.col;
    WD_TRY(parse_annotations(p, pol));
    t = peek(p);
    if (t->type != WD_CEDAR_T_IDENT) {
        return unexpected(p, pol->nannos > 0
                                     ? "'permit', 'forbid' or '@'"
                                     : "'permit', 'forbid' or '@' at the start of a policy");
    }
    if (t->kw != WD_CEDAR_KW_PERMIT && t->kw != WD_CEDAR_KW_FORBID) {
        return FAIL(p, t, "invalid policy effect '%.*s': use 'permit' or 'forbid'",
                    (int)WD_MIN(t->len, 40), p->text + t->off);
    }
    pol->effect = t->kw == WD_CEDAR_KW_PERMIT ? WD_CEDAR_PERMIT : WD_CEDAR_FORBID;
    (void)advance(p);
    WD_TRY(parse_scope(p, pol));
    WD_TRY(parse_conds(p, p->nstk, pol));
    if (!at(p, WD_CEDAR_T_SEMI)) {
        return unexpected(p, pol->nconds > 0 ? "';' or another condition"
                                             : "';' or a 'when'/'unless' condition");
    }
    (void)advance(p);

    const struct wd_cedar_annotation *oa = observers ? find_anno(pol, "observe") : NULL;
    if (oa != NULL) {
        WD_TRY(parse_observer(p, pol, oa));
    }

    /* Id: "policyN" as Cedar numbers policies and templates of a text, or @id. */
    const char *idv = NULL;
    size_t idlen = 0;
    if (ids_from_annotation) {
        idv = wd_cedar_policy_annotation(pol, "id", &idlen);
    }
    if (idv != NULL) {
        WD_TRY(intern(p, &first, idv, idlen, &pol->id));
    } else {
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "policy%u", (unsigned)seq);
        WD_TRY(intern(p, &first, buf, (size_t)n, &pol->id));
    }
    /* Plain "policyN" ids are unique by construction; with @id ids anything can collide. */
    if (ids_from_annotation && id_taken(p->ps, pol->id)) {
        return FAIL(p, &first, "duplicate policy id \"%.*s\"", (int)WD_MIN(pol->id->len, 64),
                    pol->id->p);
    }
    rc = wd_cedar_ps_add(p->ps, pol);
    return rc < 0 ? FAIL_RC(p, rc, &first) : WD_OK;
}

static void parser_init(struct parser *p, const char *file, const char *text, size_t len,
                        struct wd_cedar_policyset *ps, struct wd_diag *diag)
{
    memset(p, 0, sizeof(*p));
    p->file = file;
    p->text = text;
    p->len = len;
    p->ps = ps;
    p->diag = diag;
    wd_cedar_lex_init(&p->lx, text, len);
    wd_buf_init(&p->sbuf, (size_t)UINT32_MAX);
}

static void parser_cleanup(struct parser *p)
{
    wd_free((void *)p->stk);
    wd_buf_cleanup(&p->sbuf);
}

/* Report invalid UTF-8 at its line and column. */
static int check_utf8(struct parser *p)
{
    size_t bad;
    if (wd_cedar_utf8_valid(p->text, p->len, &bad)) {
        return WD_OK;
    }
    uint32_t line = 1, col = 1;
    for (size_t i = 0; i < bad; i++) {
        if (p->text[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return FAIL_POS(p, WD_EPROTO, line, col, "invalid UTF-8 (byte 0x%02x)",
                    (unsigned char)p->text[bad]);
}

int wd_cedar_policyset_parse_ex(const char *file, const char *text, size_t len,
                                const struct wd_cedar_parse_opts *opts,
                                struct wd_cedar_policyset **out, struct wd_diag *diag)
{
    struct wd_cedar_policyset *ps = NULL;
    struct parser p;
    int rc;
    if (out == NULL || (text == NULL && len > 0)) {
        return WD_EINVAL;
    }
    *out = NULL;
    if (text == NULL) {
        text = "";
    }
    if (len > UINT32_MAX) {
        return wd_diag_set(diag, WD_ELIMIT, file, 0, 0, "policy text too large");
    }
    WD_TRY(wd_cedar_ps_new(&ps));
    if (opts != NULL && opts->max_nodes > 0) {
        ps->max_nodes = opts->max_nodes;
    }
    parser_init(&p, file, text, len, ps, diag);
    WD_CHECK(check_utf8(&p));
    for (uint32_t seq = 0; !at(&p, WD_CEDAR_T_EOF); seq++) {
        WD_CHECK(parse_policy(&p, seq, opts != NULL && opts->ids_from_annotation,
                              opts != NULL && opts->observers));
    }
    *out = ps;
    ps = NULL;
    rc = WD_OK;
out:
    parser_cleanup(&p);
    wd_cedar_policyset_free(ps);
    return rc;
}

int wd_cedar_policyset_parse(const char *file, const char *text, size_t len,
                             struct wd_cedar_policyset **out, struct wd_diag *diag)
{
    return wd_cedar_policyset_parse_ex(file, text, len, NULL, out, diag);
}

/* ---- template links ---- */

/* Parse entity uid text (Type::"id", nothing else) into ps. */
static int parse_uid_text(struct wd_cedar_policyset *ps, const char *what, const char *text,
                          const struct wd_cedar_euid **out, struct wd_diag *diag)
{
    struct parser p;
    const struct wd_cedar_expr *e = NULL;
    int rc;
    parser_init(&p, what, text, strlen(text), ps, diag);
    WD_CHECK(check_utf8(&p));
    if (!at(&p, WD_CEDAR_T_IDENT)) {
        rc = unexpected(&p, "an entity uid like Type::\"id\"");
        goto out;
    }
    WD_CHECK(parse_expr(&p, &e));
    if (e->kind != WD_CEDAR_E_ENTITY || !at(&p, WD_CEDAR_T_EOF)) {
        rc = FAIL_POS(&p, WD_EPROTO, 1, 1, "expected an entity uid like Type::\"id\"");
        goto out;
    }
    *out = e->u.euid;
    rc = WD_OK;
out:
    parser_cleanup(&p);
    return rc;
}

int wd_cedar_policyset_link(struct wd_cedar_policyset *ps, const char *template_id,
                            const char *new_id, const char *principal, const char *resource,
                            struct wd_diag *diag)
{
    if (ps == NULL || template_id == NULL || new_id == NULL) {
        return WD_EINVAL;
    }
    const struct wd_cedar_sym *tid = wd_cedar_sym_find(ps, template_id, strlen(template_id));
    const struct wd_cedar_policy *tpl = NULL;
    for (uint32_t i = 0; tid != NULL && i < ps->ntemplates; i++) {
        if (ps->templates[i]->id == tid) {
            tpl = ps->templates[i];
        }
    }
    if (tpl == NULL) {
        return wd_diag_set(diag, WD_ENOENT, NULL, 0, 0, "no template with id \"%s\"", template_id);
    }
    const struct wd_cedar_sym *nid = wd_cedar_sym_find(ps, new_id, strlen(new_id));
    if (nid != NULL && id_taken(ps, nid)) {
        return wd_diag_set(diag, WD_EEXIST, NULL, 0, 0, "policy id \"%s\" is already in use",
                           new_id);
    }
    if (tpl->principal.slot != (principal != NULL)) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           tpl->principal.slot ? "template \"%s\" needs a value for ?principal"
                                               : "template \"%s\" has no ?principal slot",
                           template_id);
    }
    if (tpl->resource.slot != (resource != NULL)) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           tpl->resource.slot ? "template \"%s\" needs a value for ?resource"
                                              : "template \"%s\" has no ?resource slot",
                           template_id);
    }
    const struct wd_cedar_euid *pu = NULL, *ru = NULL;
    if (principal != NULL) {
        WD_TRY(parse_uid_text(ps, "?principal", principal, &pu, diag));
    }
    if (resource != NULL) {
        WD_TRY(parse_uid_text(ps, "?resource", resource, &ru, diag));
    }
    void *mem;
    const struct wd_cedar_sym *id;
    WD_TRY(wd_cedar_intern(ps, new_id, strlen(new_id), &id));
    WD_TRY(wd_cedar_ps_alloc(ps, sizeof(struct wd_cedar_policy), &mem));
    struct wd_cedar_policy *pol = mem;
    *pol = *tpl;
    pol->id = id;
    pol->is_template = false;
    pol->is_link = true;
    pol->template_ = tpl;
    pol->seq = ps->npolicies;
    if (pol->principal.slot) {
        pol->principal.slot = false;
        pol->principal.euid = pu;
    }
    if (pol->resource.slot) {
        pol->resource.slot = false;
        pol->resource.euid = ru;
    }
    return wd_cedar_ps_add(ps, pol);
}
