/*
 * Cedar policy printer: AST -> Cedar text that re-parses to an equal AST.
 *
 * The layout approximates `cedar format`: annotations one per line, the head
 * `effect (principal, action, resource)` on one line when it fits in 80 columns (else one
 * scope element per line), each condition `when { ... }` on one line when it fits, else its
 * top-level && / || chain one operand per line. Parentheses are added only where the
 * grammar needs them (or everywhere with WD_CEDAR_PRINT_FULL_PARENS).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "warden/buf.h"
#include "warden/cedar.h"
#include "warden/err.h"

#include "cedar/ast.h"
#include "cedar/lexer.h"

#define LINE_WIDTH 80

/*
 * Precedence levels, loosest first (Cedar grammar: Expr > Or > And > Relation > Add >
 * Mult > Unary > Member > Primary).
 */
enum prec {
    P_EXPR = 0, /* if-then-else */
    P_OR,
    P_AND,
    P_REL,
    P_ADD,
    P_MULT,
    P_UNARY,
    P_MEMBER,
    P_PRIMARY,
};

static int prec_of(const struct wd_cedar_expr *e)
{
    switch ((enum wd_cedar_expr_kind)e->kind) {
    case WD_CEDAR_E_IF:
        return P_EXPR;
    case WD_CEDAR_E_OR:
        return P_OR;
    case WD_CEDAR_E_AND:
        return P_AND;
    case WD_CEDAR_E_EQ:
    case WD_CEDAR_E_NE:
    case WD_CEDAR_E_LT:
    case WD_CEDAR_E_LE:
    case WD_CEDAR_E_GT:
    case WD_CEDAR_E_GE:
    case WD_CEDAR_E_IN:
    case WD_CEDAR_E_HAS:
    case WD_CEDAR_E_LIKE:
    case WD_CEDAR_E_IS:
        return P_REL;
    case WD_CEDAR_E_ADD:
    case WD_CEDAR_E_SUB:
        return P_ADD;
    case WD_CEDAR_E_MUL:
        return P_MULT;
    case WD_CEDAR_E_NOT:
    case WD_CEDAR_E_NEG:
        return P_UNARY;
    case WD_CEDAR_E_LONG:
        /* A negative literal is written `-N`, which the grammar reads as a Unary. */
        return e->u.i < 0 ? P_UNARY : P_PRIMARY;
    case WD_CEDAR_E_GETATTR:
    case WD_CEDAR_E_CONTAINS:
    case WD_CEDAR_E_CONTAINS_ALL:
    case WD_CEDAR_E_CONTAINS_ANY:
    case WD_CEDAR_E_HAS_TAG:
    case WD_CEDAR_E_GET_TAG:
    case WD_CEDAR_E_IS_EMPTY:
        return P_MEMBER;
    case WD_CEDAR_E_EXT:
        return wd_cedar_ext_is_function((enum wd_cedar_ext)e->sub) ? P_PRIMARY : P_MEMBER;
    default:
        return P_PRIMARY;
    }
}

static int put(struct wd_buf *out, const char *s)
{
    return wd_buf_append_str(out, s);
}

static bool is_bidi_or_invisible(uint32_t cp)
{
    /* Format characters that can make printed policy text read differently from what it
     * means ("Trojan Source", CVE-2021-42574): escape them. */
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0xAD || (cp >= 0x200B && cp <= 0x200F)
           || (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2069) || cp == 0xFEFF;
}

/* Escape bytes for a Cedar string literal; `star` escapes '*' (for like patterns). */
static int put_escaped(struct wd_buf *out, const char *p, size_t len, bool star)
{
    const unsigned char *s = (const unsigned char *)p;
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        const char *esc = NULL;
        char tmp[16];
        switch (c) {
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '"':
            esc = "\\\"";
            break;
        case '\0':
            esc = "\\0";
            break;
        case '*':
            esc = star ? "\\*" : NULL;
            break;
        default:
            break;
        }
        if (esc != NULL) {
            WD_TRY(put(out, esc));
            i++;
            continue;
        }
        if (c < 0x20 || c == 0x7F) {
            (void)snprintf(tmp, sizeof(tmp), "\\u{%x}", c);
            WD_TRY(put(out, tmp));
            i++;
            continue;
        }
        if (c < 0x80) {
            WD_TRY(wd_buf_append_byte(out, c));
            i++;
            continue;
        }
        /* Multi-byte UTF-8 (valid: it came through the parser's checks). */
        size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        uint32_t cp = 0;
        if (i + n <= len) {
            cp = c & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
            for (size_t k = 1; k < n; k++) {
                cp = (cp << 6) | (s[i + k] & 0x3F);
            }
        } else {
            n = len - i;
        }
        if (is_bidi_or_invisible(cp)) {
            (void)snprintf(tmp, sizeof(tmp), "\\u{%" PRIx32 "}", cp);
            WD_TRY(put(out, tmp));
        } else {
            WD_TRY(wd_buf_append(out, s + i, n));
        }
        i += n;
    }
    return WD_OK;
}

int wd_cedar_print_string(const char *p, size_t len, struct wd_buf *out)
{
    WD_TRY(wd_buf_append_byte(out, '"'));
    WD_TRY(put_escaped(out, p, len, false));
    return wd_buf_append_byte(out, '"');
}

int wd_cedar_print_euid(const struct wd_cedar_euid *u, struct wd_buf *out)
{
    WD_TRY(wd_buf_append(out, u->type->p, u->type->len));
    WD_TRY(put(out, "::"));
    return wd_cedar_print_string(u->id->p, u->id->len, out);
}

/* Whether s can be written as a bare identifier (attribute, record key, has path). */
static bool plain_ident(const struct wd_cedar_sym *s)
{
    return wd_cedar_is_ident(s->p, s->len) && !wd_cedar_is_reserved(s->p, s->len)
           && !(s->len == 7 && memcmp(s->p, "__cedar", 7) == 0);
}

static int put_key(struct wd_buf *out, const struct wd_cedar_sym *s)
{
    if (plain_ident(s)) {
        return wd_buf_append(out, s->p, s->len);
    }
    return wd_cedar_print_string(s->p, s->len, out);
}

static int print_expr(const struct wd_cedar_expr *e, int need, unsigned flags, struct wd_buf *out);

static int print_list(const struct wd_cedar_expr *const *items, uint32_t from, uint32_t n,
                      unsigned flags, struct wd_buf *out)
{
    for (uint32_t i = from; i < n; i++) {
        if (i > from) {
            WD_TRY(put(out, ", "));
        }
        WD_TRY(print_expr(items[i], P_EXPR, flags, out));
    }
    return WD_OK;
}

static const char *binop(uint8_t kind)
{
    switch (kind) {
    case WD_CEDAR_E_AND:
        return " && ";
    case WD_CEDAR_E_OR:
        return " || ";
    case WD_CEDAR_E_EQ:
        return " == ";
    case WD_CEDAR_E_NE:
        return " != ";
    case WD_CEDAR_E_LT:
        return " < ";
    case WD_CEDAR_E_LE:
        return " <= ";
    case WD_CEDAR_E_GT:
        return " > ";
    case WD_CEDAR_E_GE:
        return " >= ";
    case WD_CEDAR_E_IN:
        return " in ";
    case WD_CEDAR_E_ADD:
        return " + ";
    case WD_CEDAR_E_SUB:
        return " - ";
    case WD_CEDAR_E_MUL:
        return " * ";
    case WD_CEDAR_E_CONTAINS:
        return ".contains(";
    case WD_CEDAR_E_CONTAINS_ALL:
        return ".containsAll(";
    case WD_CEDAR_E_CONTAINS_ANY:
        return ".containsAny(";
    case WD_CEDAR_E_HAS_TAG:
        return ".hasTag(";
    case WD_CEDAR_E_GET_TAG:
        return ".getTag(";
    default:
        return NULL;
    }
}

/* Operand precedence a binary operator needs on its left and right. */
static void operand_prec(uint8_t kind, int *l, int *r)
{
    switch (kind) {
    case WD_CEDAR_E_OR:
        *l = P_OR;
        *r = P_AND;
        return;
    case WD_CEDAR_E_AND:
        *l = P_AND;
        *r = P_REL;
        return;
    case WD_CEDAR_E_ADD:
    case WD_CEDAR_E_SUB:
        *l = P_ADD;
        *r = P_MULT;
        return;
    case WD_CEDAR_E_MUL:
        *l = P_MULT;
        *r = P_UNARY;
        return;
    default:
        /* Relations are not associative: both sides are Adds. */
        *l = P_ADD;
        *r = P_ADD;
        return;
    }
}

static int print_body(const struct wd_cedar_expr *e, unsigned flags, struct wd_buf *out);

/*
 * A run of `!` or `-` operators, written without parentheses where the grammar allows
 * (at most four in a row), so printing never nests deeper than the source did:
 *   NEG^k(LONG v) with v < 0   ->  k dashes then "-N" (the grammar folds one '-' into N)
 *   NEG^k(LONG v) with v >= 0  ->  k dashes then "(v)" (a bare "-v" would be the literal)
 *   OP^k(x)                    ->  k operators then x as a Member
 */
static int print_unary(const struct wd_cedar_expr *e, unsigned flags, struct wd_buf *out)
{
    uint8_t kind = e->kind;
    const char *op = kind == WD_CEDAR_E_NOT ? "!" : "-";
    unsigned k = 0;
    const struct wd_cedar_expr *x = e;
    while (x->kind == kind && k < 4) {
        x = x->u.un.e;
        k++;
    }
    bool neglit = kind == WD_CEDAR_E_NEG && x->kind == WD_CEDAR_E_LONG && x->u.i < 0;
    if (neglit && k == 4) {
        /* Five dashes in a row are not allowed: leave the last negation to the operand. */
        x = e;
        for (unsigned i = 0; i < 3; i++) {
            x = x->u.un.e;
        }
        k = 3;
        neglit = false;
    }
    for (unsigned i = 0; i < k; i++) {
        WD_TRY(put(out, op));
    }
    if (neglit) {
        return print_body(x, flags, out);
    }
    if (kind == WD_CEDAR_E_NEG && x->kind == WD_CEDAR_E_LONG) {
        WD_TRY(put(out, "("));
        WD_TRY(print_body(x, flags, out));
        return put(out, ")");
    }
    return print_expr(x, P_MEMBER, flags, out);
}

static int print_body(const struct wd_cedar_expr *e, unsigned flags, struct wd_buf *out)
{
    char num[32];
    switch ((enum wd_cedar_expr_kind)e->kind) {
    case WD_CEDAR_E_BOOL:
        return put(out, e->u.b ? "true" : "false");
    case WD_CEDAR_E_LONG:
        (void)snprintf(num, sizeof(num), "%" PRId64, e->u.i);
        return put(out, num);
    case WD_CEDAR_E_STRING:
        return wd_cedar_print_string(e->u.s->p, e->u.s->len, out);
    case WD_CEDAR_E_ENTITY:
        return wd_cedar_print_euid(e->u.euid, out);
    case WD_CEDAR_E_VAR: {
        static const char *const names[] = {"principal", "action", "resource", "context"};
        return put(out, e->sub < 4 ? names[e->sub] : "context");
    }
    case WD_CEDAR_E_NOT:
    case WD_CEDAR_E_NEG:
        return print_unary(e, flags, out);
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
    case WD_CEDAR_E_MUL: {
        int lp, rp;
        operand_prec(e->kind, &lp, &rp);
        WD_TRY(print_expr(e->u.bin.l, lp, flags, out));
        WD_TRY(put(out, binop(e->kind)));
        return print_expr(e->u.bin.r, rp, flags, out);
    }
    case WD_CEDAR_E_CONTAINS:
    case WD_CEDAR_E_CONTAINS_ALL:
    case WD_CEDAR_E_CONTAINS_ANY:
    case WD_CEDAR_E_HAS_TAG:
    case WD_CEDAR_E_GET_TAG:
        WD_TRY(print_expr(e->u.bin.l, P_MEMBER, flags, out));
        WD_TRY(put(out, binop(e->kind)));
        WD_TRY(print_expr(e->u.bin.r, P_EXPR, flags, out));
        return put(out, ")");
    case WD_CEDAR_E_IS_EMPTY:
        WD_TRY(print_expr(e->u.un.e, P_MEMBER, flags, out));
        return put(out, ".isEmpty()");
    case WD_CEDAR_E_IF:
        WD_TRY(put(out, "if "));
        WD_TRY(print_expr(e->u.ite.cond, P_EXPR, flags, out));
        WD_TRY(put(out, " then "));
        WD_TRY(print_expr(e->u.ite.then_, P_EXPR, flags, out));
        WD_TRY(put(out, " else "));
        return print_expr(e->u.ite.else_, P_EXPR, flags, out);
    case WD_CEDAR_E_GETATTR:
        WD_TRY(print_expr(e->u.attr.e, P_MEMBER, flags, out));
        if (plain_ident(e->u.attr.name)) {
            WD_TRY(put(out, "."));
            return wd_buf_append(out, e->u.attr.name->p, e->u.attr.name->len);
        }
        WD_TRY(put(out, "["));
        WD_TRY(wd_cedar_print_string(e->u.attr.name->p, e->u.attr.name->len, out));
        return put(out, "]");
    case WD_CEDAR_E_HAS: {
        WD_TRY(print_expr(e->u.has.e, P_ADD, flags, out));
        WD_TRY(put(out, " has "));
        bool plain = true;
        for (uint32_t i = 0; i < e->u.has.n; i++) {
            plain = plain && plain_ident(e->u.has.path[i]);
        }
        if (!plain && e->u.has.n == 1) {
            return wd_cedar_print_string(e->u.has.path[0]->p, e->u.has.path[0]->len, out);
        }
        /* A multi-step path always consists of identifiers (the grammar allows nothing
         * else), so a non-plain element here means a hand-built tree: print it anyway. */
        for (uint32_t i = 0; i < e->u.has.n; i++) {
            if (i > 0) {
                WD_TRY(put(out, "."));
            }
            WD_TRY(wd_buf_append(out, e->u.has.path[i]->p, e->u.has.path[i]->len));
        }
        return WD_OK;
    }
    case WD_CEDAR_E_LIKE: {
        const struct wd_cedar_pattern *pat = e->u.like.pat;
        WD_TRY(print_expr(e->u.like.e, P_ADD, flags, out));
        WD_TRY(put(out, " like \""));
        for (uint32_t i = 0; i < pat->n; i++) {
            if (pat->parts[i].p == NULL) {
                WD_TRY(put(out, "*"));
            } else {
                WD_TRY(put_escaped(out, pat->parts[i].p, pat->parts[i].len, true));
            }
        }
        return put(out, "\"");
    }
    case WD_CEDAR_E_IS:
        WD_TRY(print_expr(e->u.is.e, P_ADD, flags, out));
        WD_TRY(put(out, " is "));
        WD_TRY(wd_buf_append(out, e->u.is.type->p, e->u.is.type->len));
        if (e->u.is.in != NULL) {
            WD_TRY(put(out, " in "));
            WD_TRY(print_expr(e->u.is.in, P_ADD, flags, out));
        }
        return WD_OK;
    case WD_CEDAR_E_SET:
        WD_TRY(put(out, "["));
        WD_TRY(print_list(e->u.list.items, 0, e->u.list.n, flags, out));
        return put(out, "]");
    case WD_CEDAR_E_RECORD:
        if (e->u.rec.n == 0) {
            return put(out, "{}");
        }
        WD_TRY(put(out, "{ "));
        for (uint32_t i = 0; i < e->u.rec.n; i++) {
            if (i > 0) {
                WD_TRY(put(out, ", "));
            }
            WD_TRY(put_key(out, e->u.rec.keys[i]));
            WD_TRY(put(out, ": "));
            WD_TRY(print_expr(e->u.rec.vals[i], P_EXPR, flags, out));
        }
        return put(out, " }");
    case WD_CEDAR_E_EXT: {
        const char *name = wd_cedar_ext_name((enum wd_cedar_ext)e->sub);
        if (name == NULL) {
            return WD_EINVAL;
        }
        if (wd_cedar_ext_is_function((enum wd_cedar_ext)e->sub)) {
            WD_TRY(put(out, name));
            WD_TRY(put(out, "("));
            WD_TRY(print_list(e->u.list.items, 0, e->u.list.n, flags, out));
            return put(out, ")");
        }
        if (e->u.list.n == 0) {
            return WD_EINVAL; /* a method always has its receiver */
        }
        WD_TRY(print_expr(e->u.list.items[0], P_MEMBER, flags, out));
        WD_TRY(put(out, "."));
        WD_TRY(put(out, name));
        WD_TRY(put(out, "("));
        WD_TRY(print_list(e->u.list.items, 1, e->u.list.n, flags, out));
        return put(out, ")");
    }
    case WD_CEDAR_E__COUNT:
        break;
    }
    return WD_EINVAL;
}

/* Compound forms that FULL_PARENS wraps (everything below Member level). */
static bool compound(const struct wd_cedar_expr *e)
{
    int p = prec_of(e);
    return p < P_MEMBER && !(e->kind == WD_CEDAR_E_LONG);
}

static int print_expr(const struct wd_cedar_expr *e, int need, unsigned flags, struct wd_buf *out)
{
    bool paren = prec_of(e) < need || ((flags & WD_CEDAR_PRINT_FULL_PARENS) && compound(e));
    if (paren) {
        WD_TRY(put(out, "("));
    }
    WD_TRY(print_body(e, flags, out));
    return paren ? put(out, ")") : WD_OK;
}

int wd_cedar_expr_print(const struct wd_cedar_expr *e, unsigned flags, struct wd_buf *out)
{
    return print_expr(e, P_EXPR, flags, out);
}

/* ---- policies ---- */

static int print_scope(const struct wd_cedar_scope *sc, const char *var, struct wd_buf *out)
{
    WD_TRY(put(out, var));
    switch (sc->op) {
    case WD_CEDAR_SCOPE_ANY:
        return WD_OK;
    case WD_CEDAR_SCOPE_EQ:
        WD_TRY(put(out, " == "));
        break;
    case WD_CEDAR_SCOPE_IN:
        WD_TRY(put(out, " in "));
        break;
    case WD_CEDAR_SCOPE_IS:
    case WD_CEDAR_SCOPE_IS_IN:
        WD_TRY(put(out, " is "));
        WD_TRY(wd_buf_append(out, sc->type->p, sc->type->len));
        if (sc->op == WD_CEDAR_SCOPE_IS) {
            return WD_OK;
        }
        WD_TRY(put(out, " in "));
        break;
    case WD_CEDAR_SCOPE_IN_SET:
        WD_TRY(put(out, " in ["));
        for (uint32_t i = 0; i < sc->n; i++) {
            if (i > 0) {
                WD_TRY(put(out, ", "));
            }
            WD_TRY(wd_cedar_print_euid(sc->euids[i], out));
        }
        return put(out, "]");
    default:
        return WD_EINVAL;
    }
    if (sc->slot) {
        return put(out, var[0] == 'p' ? "?principal" : "?resource");
    }
    return wd_cedar_print_euid(sc->euid, out);
}

/* Print the operands of a top-level chain of `kind` one per line (for long conditions). */
static int print_chain(const struct wd_cedar_expr *e, uint8_t kind, unsigned flags,
                       struct wd_buf *out)
{
    if (e->kind == kind && !(flags & WD_CEDAR_PRINT_FULL_PARENS)) {
        int lp, rp;
        operand_prec(kind, &lp, &rp);
        WD_TRY(print_chain(e->u.bin.l, kind, flags, out));
        WD_TRY(put(out, kind == WD_CEDAR_E_AND ? " &&\n  " : " ||\n  "));
        return print_expr(e->u.bin.r, rp, flags, out);
    }
    return print_expr(e, kind == WD_CEDAR_E_AND ? P_AND : P_OR, flags, out);
}

static int print_head(const struct wd_cedar_policy *p, const char *open, const char *sep,
                      const char *close, struct wd_buf *out)
{
    WD_TRY(put(out, p->effect == WD_CEDAR_FORBID ? "forbid (" : "permit ("));
    WD_TRY(put(out, open));
    WD_TRY(print_scope(&p->principal, "principal", out));
    WD_TRY(put(out, sep));
    WD_TRY(print_scope(&p->action, "action", out));
    WD_TRY(put(out, sep));
    WD_TRY(print_scope(&p->resource, "resource", out));
    return put(out, close);
}

static int print_cond(const struct wd_cedar_cond *c, unsigned flags, struct wd_buf *out)
{
    const char *kw = c->unless ? "unless" : "when";
    struct wd_buf line;
    int rc;
    /* One line if it fits; else split a top-level && / || chain, one operand per line. */
    wd_buf_init(&line, out->max);
    WD_CHECK(put(&line, kw));
    WD_CHECK(put(&line, " { "));
    WD_CHECK(wd_cedar_expr_print(c->expr, flags, &line));
    WD_CHECK(put(&line, " }"));
    uint8_t k = c->expr->kind;
    if (wd_buf_slice(&line).len <= LINE_WIDTH || (k != WD_CEDAR_E_AND && k != WD_CEDAR_E_OR)) {
        struct wd_slice sl = wd_buf_slice(&line);
        WD_CHECK(wd_buf_append(out, sl.p, sl.len));
    } else {
        WD_CHECK(put(out, kw));
        WD_CHECK(put(out, " {\n  "));
        WD_CHECK(print_chain(c->expr, k, flags, out));
        WD_CHECK(put(out, "\n}"));
    }
    rc = WD_OK;
out:
    wd_buf_cleanup(&line);
    return rc;
}

int wd_cedar_policy_print(const struct wd_cedar_policy *p, unsigned flags, struct wd_buf *out)
{
    struct wd_buf head;
    int rc;
    wd_buf_init(&head, out->max);
    for (uint32_t i = 0; i < p->nannos; i++) {
        const struct wd_cedar_annotation *a = &p->annos[i];
        WD_CHECK(put(out, "@"));
        WD_CHECK(wd_buf_append(out, a->key->p, a->key->len));
        if (a->has_value) {
            WD_CHECK(put(out, "("));
            WD_CHECK(wd_cedar_print_string(a->value->p, a->value->len, out));
            WD_CHECK(put(out, ")"));
        }
        WD_CHECK(put(out, "\n"));
    }
    /* Head on one line if it fits, else one scope element per line. */
    WD_CHECK(print_head(p, "", ", ", ")", &head));
    if (wd_buf_slice(&head).len <= LINE_WIDTH) {
        struct wd_slice sl = wd_buf_slice(&head);
        WD_CHECK(wd_buf_append(out, sl.p, sl.len));
    } else {
        WD_CHECK(print_head(p, "\n  ", ",\n  ", "\n)", out));
    }
    for (uint32_t i = 0; i < p->nconds; i++) {
        WD_CHECK(put(out, "\n"));
        WD_CHECK(print_cond(&p->conds[i], flags, out));
    }
    rc = put(out, ";\n");
out:
    wd_buf_cleanup(&head);
    return rc;
}

int wd_cedar_policyset_print(const struct wd_cedar_policyset *ps, struct wd_buf *out)
{
    /* Static policies and templates interleaved back into file order by seq. */
    uint32_t i = 0, j = 0;
    bool first = true;
    for (;;) {
        const struct wd_cedar_policy *a = NULL;
        while (i < ps->npolicies && ps->policies[i]->is_link) {
            i++;
        }
        const struct wd_cedar_policy *x = i < ps->npolicies ? ps->policies[i] : NULL;
        const struct wd_cedar_policy *y = j < ps->ntemplates ? ps->templates[j] : NULL;
        if (x != NULL && (y == NULL || x->seq < y->seq)) {
            a = x;
            i++;
        } else if (y != NULL) {
            a = y;
            j++;
        } else {
            break;
        }
        if (!first) {
            WD_TRY(put(out, "\n"));
        }
        first = false;
        WD_TRY(wd_cedar_policy_print(a, 0, out));
    }
    return WD_OK;
}
