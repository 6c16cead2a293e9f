/*
 * Cedar policy lexer: module-private to lib/cedar.
 *
 * Token rules follow the Cedar grammar (cedar-policy-core parser/grammar.lalrpop, the
 * `match` block): whitespace is any Unicode White_Space character, `//` comments run to the
 * end of the line, identifiers are ASCII `[_a-zA-Z][_a-zA-Z0-9]*`, numbers are `[0-9]+`
 * (never negative: `-` is an operator), strings are `"(\\.|[^"\\])*"` and keep their escapes
 * (the parser unescapes them, differently for `like` patterns), slots are `?ident`.
 *
 * The lexer is a cursor over borrowed text; it allocates nothing and never fails: bad input
 * gives a WD_CEDAR_T_ERROR token whose msg says why, and the parser reports it when it gets
 * there (so errors come out in source order). The text must already be valid UTF-8.
 */
#ifndef WD_CEDAR_LEXER_H
#define WD_CEDAR_LEXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wd_cedar_tok {
    WD_CEDAR_T_EOF = 0,
    WD_CEDAR_T_ERROR,  /* msg says why */
    WD_CEDAR_T_IDENT,  /* kw says whether it is a keyword */
    WD_CEDAR_T_INT,    /* digits; the parser converts */
    WD_CEDAR_T_STRING, /* text includes the quotes; escapes not processed */
    WD_CEDAR_T_SLOT,   /* ?name, text includes the ? */
    WD_CEDAR_T_AT,
    WD_CEDAR_T_DOT,
    WD_CEDAR_T_COMMA,
    WD_CEDAR_T_SEMI,
    WD_CEDAR_T_COLON,
    WD_CEDAR_T_COLON2, /* :: */
    WD_CEDAR_T_LPAREN,
    WD_CEDAR_T_RPAREN,
    WD_CEDAR_T_LBRACE,
    WD_CEDAR_T_RBRACE,
    WD_CEDAR_T_LBRACKET,
    WD_CEDAR_T_RBRACKET,
    WD_CEDAR_T_EQ, /* == */
    WD_CEDAR_T_NE, /* != */
    WD_CEDAR_T_LT,
    WD_CEDAR_T_LE,
    WD_CEDAR_T_GT,
    WD_CEDAR_T_GE,
    WD_CEDAR_T_OR,  /* || */
    WD_CEDAR_T_AND, /* && */
    WD_CEDAR_T_PLUS,
    WD_CEDAR_T_MINUS,
    WD_CEDAR_T_STAR,
    WD_CEDAR_T_SLASH, /* lexed so the parser can say "division is not supported" */
    WD_CEDAR_T_PERCENT,
    WD_CEDAR_T_BANG,
    WD_CEDAR_T_ASSIGN, /* = (an error: the parser suggests ==) */
};

/* Identifiers that the grammar treats specially. */
enum wd_cedar_kw {
    WD_CEDAR_KW_NONE = 0,
    WD_CEDAR_KW_TRUE,
    WD_CEDAR_KW_FALSE,
    WD_CEDAR_KW_IF,
    WD_CEDAR_KW_THEN,
    WD_CEDAR_KW_ELSE,
    WD_CEDAR_KW_IN,
    WD_CEDAR_KW_HAS,
    WD_CEDAR_KW_LIKE,
    WD_CEDAR_KW_IS,
    WD_CEDAR_KW_PERMIT,
    WD_CEDAR_KW_FORBID,
    WD_CEDAR_KW_WHEN,
    WD_CEDAR_KW_UNLESS,
    WD_CEDAR_KW_PRINCIPAL,
    WD_CEDAR_KW_ACTION,
    WD_CEDAR_KW_RESOURCE,
    WD_CEDAR_KW_CONTEXT,
};

struct wd_cedar_token {
    uint8_t type; /* enum wd_cedar_tok */
    uint8_t kw;   /* enum wd_cedar_kw for T_IDENT */
    uint32_t line, col;
    size_t off, len; /* bytes of the token in the text */
    const char *msg; /* T_ERROR: static text */
};

struct wd_cedar_lexer {
    const char *text;
    size_t len;
    size_t pos;
    uint32_t line;
    size_t line_start;
};

/* Start at the beginning of text[0..len). Infallible. */
void wd_cedar_lex_init(struct wd_cedar_lexer *lx, const char *text, size_t len);
/* The next token (T_EOF forever at the end; T_ERROR does not advance past the bad byte). */
void wd_cedar_lex_next(struct wd_cedar_lexer *lx, struct wd_cedar_token *tok);

/*
 * Whether text[0..len) is well-formed UTF-8 (no overlongs, surrogates or values past
 * U+10FFFF). On failure *bad is the offset of the first bad byte.
 */
bool wd_cedar_utf8_valid(const char *text, size_t len, size_t *bad);

/* Whether the reserved identifiers of Cedar include s (true false if then else in is like has). */
bool wd_cedar_is_reserved(const char *s, size_t len);
/* Whether s is a Cedar identifier ([_a-zA-Z][_a-zA-Z0-9]*). */
bool wd_cedar_is_ident(const char *s, size_t len);

#endif
