/*
 * Required-literal extraction for the prefilter. The rule is deliberately conservative: it
 * only reads the top level of a pattern (a plain concatenation), skips every group and class
 * as "something unknown", and gives up (no literal, so the regex always runs) on anything it
 * does not fully understand. A literal is only ever dropped, never invented, so a regex is
 * never skipped when it could match. docs/internals/detect.md states the rule in prose.
 */
#include <string.h>

#include "detect_int.h"

/* Escapes that are one unknown atom, two bytes long, and need no further parsing. */
#define SIMPLE_ESCAPES "dDwWsSbBAzZGhHvVRXnrtfeaK"

struct lit_state {
    char run[DET_LIT_MAX];
    size_t run_len;
    char best[DET_LIT_MAX];
    size_t best_len;
};

static void commit(struct lit_state *st)
{
    if (st->run_len > st->best_len) {
        memcpy(st->best, st->run, st->run_len);
        st->best_len = st->run_len;
    }
    st->run_len = 0;
}

static void append(struct lit_state *st, char c)
{
    /* Past DET_LIT_MAX bytes the run keeps its prefix, which is required as well. */
    if (st->run_len < DET_LIT_MAX) {
        st->run[st->run_len++] = c;
    }
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/*
 * A quantifier at pat[i]: '*', '+', '?' or {n}, {n,}, {n,m}, each optionally followed by a
 * lazy '?' or possessive '+'. Sets *len (0 when there is no quantifier) and *min (the least
 * repeat count, capped). Returns false when '{' starts something this reader does not
 * accept as a quantifier (PCRE2 may read it as literal text; we give up instead).
 */
static bool quantifier(const char *pat, size_t n, size_t i, size_t *len, unsigned long *min)
{
    *len = 0;
    *min = 1;
    if (i >= n) {
        return true;
    }
    size_t j = i;
    if (pat[j] == '*' || pat[j] == '?') {
        *min = 0;
        j++;
    } else if (pat[j] == '+') {
        j++;
    } else if (pat[j] == '{') {
        j++;
        if (j >= n || !is_digit(pat[j])) {
            return false;
        }
        unsigned long v = 0;
        while (j < n && is_digit(pat[j])) {
            v = v < 100000 ? v * 10 + (unsigned long)(pat[j] - '0') : v;
            j++;
        }
        if (j < n && pat[j] == ',') {
            j++;
            while (j < n && is_digit(pat[j])) {
                j++;
            }
        }
        if (j >= n || pat[j] != '}') {
            return false;
        }
        j++;
        *min = v;
    } else {
        return true;
    }
    if (j < n && (pat[j] == '?' || pat[j] == '+')) {
        j++;
    }
    *len = j - i;
    return true;
}

/* Skip a character class starting at pat[i] == '['; returns the index after it, or 0. */
static size_t skip_class(const char *pat, size_t n, size_t i)
{
    i++;
    if (i < n && pat[i] == '^') {
        i++;
    }
    if (i < n && pat[i] == ']') {
        i++; /* a leading ']' is a literal member */
    }
    while (i < n) {
        char c = pat[i];
        if (c == '\\') {
            i += 2;
        } else if (c == '[' && i + 1 < n
                   && (pat[i + 1] == ':' || pat[i + 1] == '.' || pat[i + 1] == '=')) {
            /* POSIX [:name:] (and [.x.] [=x=]): find its closing "X]". */
            char d = pat[i + 1];
            size_t j = i + 2;
            while (j + 1 < n && !(pat[j] == d && pat[j + 1] == ']')) {
                j++;
            }
            if (j + 1 >= n) {
                return 0;
            }
            i = j + 2;
        } else if (c == ']') {
            return i + 1;
        } else {
            i++;
        }
    }
    return 0;
}

/* Skip a group starting at pat[i] == '(' (nested groups, classes, escapes); index after, or 0. */
static size_t skip_group(const char *pat, size_t n, size_t i)
{
    size_t depth = 0;
    while (i < n) {
        char c = pat[i];
        if (c == '\\') {
            i += 2;
        } else if (c == '[') {
            i = skip_class(pat, n, i);
            if (i == 0) {
                return 0;
            }
        } else if (c == '(') {
            depth++;
            i++;
        } else if (c == ')') {
            i++;
            if (--depth == 0) {
                return i;
            }
        } else {
            i++;
        }
    }
    return 0;
}

size_t det_required_literal(const char *pat, size_t n, char *out)
{
    struct lit_state st = {.run_len = 0};
    /* (*ACCEPT) anywhere can end a match before the rest of the top level; (*VERB) and
     * (*OPTION) settings at the start can change how the pattern reads. */
    for (size_t i = 0; i + 1 < n; i++) {
        if (pat[i] == '(' && pat[i + 1] == '*') {
            return 0;
        }
        /* \Q...\E quoting can hide ')' and ']' from the group and class skippers. */
        if (pat[i] == '\\' && pat[i + 1] == 'Q') {
            return 0;
        }
    }
    size_t i = 0;
    while (i < n) {
        char c = pat[i];
        size_t qlen;
        unsigned long qmin;
        if ((unsigned char)c >= 0x80) {
            return 0; /* multi-byte characters: not handled */
        }
        if (c == '|' || c == ')' || c == '*' || c == '+' || c == '?' || c == '{') {
            return 0; /* top-level alternation, or something that is not an atom */
        }
        if (c == '(' || c == '[' || c == '.' || c == '^' || c == '$') {
            size_t next = i + 1;
            if (c == '(') {
                /* (?X where X is not a group kind: inline options, comments, recursion,
                 * conditionals... give up. */
                if (i + 1 < n && pat[i + 1] == '?'
                    && !(i + 2 < n && strchr(":=!<>", pat[i + 2]) != NULL && pat[i + 2] != '\0')) {
                    return 0;
                }
                next = skip_group(pat, n, i);
            } else if (c == '[') {
                next = skip_class(pat, n, i);
            }
            if (next == 0) {
                return 0;
            }
            commit(&st);
            if (!quantifier(pat, n, next, &qlen, &qmin)) {
                return 0;
            }
            i = next + qlen;
            continue;
        }
        char lit = c;
        size_t next = i + 1;
        if (c == '\\') {
            if (i + 1 >= n) {
                return 0;
            }
            char d = pat[i + 1];
            if ((unsigned char)d >= 0x80) {
                return 0;
            }
            bool alnum = (d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z') || is_digit(d);
            if (alnum) {
                if (strchr(SIMPLE_ESCAPES, d) == NULL) {
                    return 0; /* \x \o \p \g \k \Q \E \N \c, back references... */
                }
                commit(&st);
                if (!quantifier(pat, n, i + 2, &qlen, &qmin)) {
                    return 0;
                }
                i += 2 + qlen;
                continue;
            }
            lit = d; /* an escaped punctuation character stands for itself */
            next = i + 2;
        }
        if (!quantifier(pat, n, next, &qlen, &qmin)) {
            return 0;
        }
        if (qlen == 0) {
            append(&st, lit);
        } else {
            /* x? x* x{0}: x is optional and ends the run; x+ x{n}: x is required once, but
             * what follows need not be adjacent to the run before it. */
            if (qmin > 0) {
                append(&st, lit);
            }
            commit(&st);
        }
        i = next + qlen;
    }
    commit(&st);
    memcpy(out, st.best, st.best_len);
    return st.best_len;
}
