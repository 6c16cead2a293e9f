/*
 * YAML into the document tree, through libyaml's event parser (yaml_parser_parse).
 *
 * libyaml does the syntax; this file decides what a value means and what is refused. Plain
 * scalars resolve by the YAML 1.2 core schema (YAML 1.2.2 §10.3.2), not libyaml's 1.1
 * habits, so "yes" and "on" stay strings and "0o17" is octal. Everything that makes one
 * YAML text mean several things or hides structure (anchors, aliases, tags, several
 * documents, duplicate or non-scalar keys) is an error, reported at the event's position.
 *
 * Positions come from libyaml marks, which are 0-based and count characters, so YAML
 * columns count characters where JSON columns count bytes.
 */
#include <limits.h>
#include <string.h>

#include <yaml.h>

#include "warden/doc.h"

#include "doc_int.h"

static unsigned mark_num(size_t v)
{
    return v >= UINT_MAX ? UINT_MAX : (unsigned)v + 1;
}

static int ev_fail(struct wd_docb *b, const yaml_event_t *ev, const char *msg)
{
    return wd_docb_fail(b, WD_EPROTO, mark_num(ev->start_mark.line),
                        mark_num(ev->start_mark.column), "%s", msg);
}

/* libyaml's own error, with the position it gives. */
static int parser_fail(struct wd_docb *b, const yaml_parser_t *yp, const uint8_t *p, size_t len)
{
    const char *problem = yp->problem != NULL ? yp->problem : "syntax error";
    if (yp->error == YAML_MEMORY_ERROR) {
        return wd_docb_fail(b, WD_ENOMEM, 0, 0, "out of memory");
    }
    if (yp->error == YAML_READER_ERROR) {
        /*
         * Reader errors (bad UTF-8, control characters) carry a byte offset instead of a
         * mark; count lines and characters up to it the way libyaml's marks do.
         */
        size_t off = WD_MIN(yp->problem_offset, len);
        size_t line = 0, col = 0;
        for (size_t i = 0; i < off; i++) {
            if (p[i] == '\n') {
                line++;
                col = 0;
            } else if ((p[i] & 0xc0) != 0x80) {
                col++;
            }
        }
        if (yp->problem_value != -1) {
            return wd_docb_fail(b, WD_EPROTO, mark_num(line), mark_num(col), "%s (0x%02x)", problem,
                                (unsigned)yp->problem_value);
        }
        return wd_docb_fail(b, WD_EPROTO, mark_num(line), mark_num(col), "%s", problem);
    }
    unsigned line = mark_num(yp->problem_mark.line), col = mark_num(yp->problem_mark.column);
    if (yp->context != NULL) {
        return wd_docb_fail(b, WD_EPROTO, line, col, "%s: %s", yp->context, problem);
    }
    return wd_docb_fail(b, WD_EPROTO, line, col, "%s", problem);
}

static bool all_in(const char *s, size_t n, const char *set)
{
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0' || strchr(set, s[i]) == NULL) {
            return false;
        }
    }
    return true;
}

static bool is_one_of(const char *s, size_t n, const char *const *words, size_t nwords)
{
    for (size_t i = 0; i < nwords; i++) {
        if (strlen(words[i]) == n && memcmp(s, words[i], n) == 0) {
            return true;
        }
    }
    return false;
}

#define DIGITS "0123456789"

/*
 * Core-schema float: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
 */
static bool is_core_float(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) {
        i++;
    }
    size_t int_digits = 0, frac_digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++;
        int_digits++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            frac_digits++;
        }
    }
    if (int_digits == 0 && frac_digits == 0) {
        return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+')) {
            i++;
        }
        if (!all_in(s + i, n - i, DIGITS)) {
            return false;
        }
        i = n;
    }
    return i == n;
}

/* Unsigned digits of s[0..n) in base; false when above limit. */
static bool parse_mag(const char *s, size_t n, unsigned base, uint64_t limit, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                            : (unsigned)(c - 'A' + 10);
        if (v > (limit - d) / base) {
            return false;
        }
        v = v * base + d;
    }
    *out = v;
    return true;
}

/*
 * Resolve a plain scalar (YAML 1.2.2 §10.3.2, core schema) into node n, which was created as
 * WD_NODE_STR; text is already in the arena.
 */
static int resolve_plain(struct wd_docb *b, const yaml_event_t *ev, struct wd_node *n,
                         const char *s, size_t len)
{
    static const char *const nulls[] = {"null", "Null", "NULL", "~"};
    static const char *const trues[] = {"true", "True", "TRUE"};
    static const char *const falses[] = {"false", "False", "FALSE"};
    static const char *const specials[] = {".inf",  ".Inf",  ".INF",  "+.inf", "+.Inf", "+.INF",
                                           "-.inf", "-.Inf", "-.INF", ".nan",  ".NaN",  ".NAN"};
    if (len == 0 || is_one_of(s, len, nulls, WD_ARRAY_LEN(nulls))) {
        n->type = WD_NODE_NULL;
        return WD_OK;
    }
    if (is_one_of(s, len, trues, WD_ARRAY_LEN(trues))) {
        n->type = WD_NODE_BOOL;
        n->u.b = true;
        return WD_OK;
    }
    if (is_one_of(s, len, falses, WD_ARRAY_LEN(falses))) {
        n->type = WD_NODE_BOOL;
        n->u.b = false;
        return WD_OK;
    }
    if (is_one_of(s, len, specials, WD_ARRAY_LEN(specials))) {
        return ev_fail(b, ev, ".inf and .nan are not supported");
    }
    bool neg = false;
    const char *digits = NULL;
    size_t ndigits = 0;
    unsigned base = 10;
    if (len > 2 && s[0] == '0' && s[1] == 'o' && all_in(s + 2, len - 2, "01234567")) {
        base = 8;
        digits = s + 2;
        ndigits = len - 2;
    } else if (len > 2 && s[0] == '0' && s[1] == 'x'
               && all_in(s + 2, len - 2, DIGITS "abcdefABCDEF")) {
        base = 16;
        digits = s + 2;
        ndigits = len - 2;
    } else {
        size_t sign = len > 0 && (s[0] == '-' || s[0] == '+') ? 1 : 0;
        if (all_in(s + sign, len - sign, DIGITS)) {
            neg = s[0] == '-';
            digits = s + sign;
            ndigits = len - sign;
        }
    }
    if (digits != NULL) {
        uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        uint64_t mag;
        if (!parse_mag(digits, ndigits, base, limit, &mag)) {
            return ev_fail(b, ev, "integer out of range");
        }
        n->type = WD_NODE_INT;
        n->u.i = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
        return WD_OK;
    }
    if (is_core_float(s, len)) {
        double d;
        int rc = wd_doc_strtod(b->doc, s, len, &d);
        if (rc == WD_ENOMEM) {
            return wd_docb_fail(b, WD_ENOMEM, 0, 0, "out of memory");
        }
        if (rc < 0) {
            return ev_fail(b, ev, "number out of range");
        }
        n->type = WD_NODE_REAL;
        n->u.d = d;
        return WD_OK;
    }
    return WD_OK; /* anything else is a string */
}

/* Anchors and tags may appear on scalars, sequences and mappings alike. */
static int check_props(struct wd_docb *b, const yaml_event_t *ev, const yaml_char_t *anchor,
                       const yaml_char_t *tag)
{
    if (anchor != NULL) {
        return ev_fail(b, ev, "anchors and aliases are not supported");
    }
    if (tag != NULL) {
        return ev_fail(b, ev, "explicit tags are not supported");
    }
    return WD_OK;
}

static int on_scalar(struct wd_docb *b, const yaml_event_t *ev)
{
    WD_TRY(check_props(b, ev, ev->data.scalar.anchor, ev->data.scalar.tag));
    const char *raw = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    unsigned line = mark_num(ev->start_mark.line), col = mark_num(ev->start_mark.column);
    /* libyaml emits UTF-8; check anyway, since the tree promises valid UTF-8 strings. */
    for (size_t i = 0; i < len;) {
        size_t u = wd_doc_utf8_len((const uint8_t *)raw + i, len - i);
        if (u == 0) {
            return ev_fail(b, ev, "invalid UTF-8 in scalar");
        }
        i += u;
    }
    char *s = wd_doc_strndup(b->doc, raw, len);
    if (s == NULL) {
        return wd_docb_fail(b, WD_ENOMEM, 0, 0, "out of memory");
    }
    if (wd_docb_want_key(b)) {
        /* Keys are taken as their text; an empty or null plain key is surely a mistake. */
        if (plain
            && (len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0
                || strcmp(s, "NULL") == 0)) {
            return ev_fail(b, ev, "null keys are not supported");
        }
        wd_docb_key(b, s, len, line, col);
        return WD_OK;
    }
    struct wd_node *n;
    WD_TRY(wd_docb_value(b, WD_NODE_STR, line, col, &n));
    n->u.s.p = s;
    n->u.s.len = len;
    if (plain) {
        WD_TRY(resolve_plain(b, ev, n, s, len));
    }
    return WD_OK;
}

static int on_event(struct wd_docb *b, const yaml_event_t *ev, int *ndocs, bool *done)
{
    switch (ev->type) {
    case YAML_STREAM_START_EVENT:
    case YAML_DOCUMENT_END_EVENT:
    case YAML_NO_EVENT:
        return WD_OK;
    case YAML_STREAM_END_EVENT:
        *done = true;
        return WD_OK;
    case YAML_DOCUMENT_START_EVENT:
        if (*ndocs > 0) {
            return ev_fail(b, ev, "multiple documents are not supported");
        }
        (*ndocs)++;
        return WD_OK;
    case YAML_ALIAS_EVENT:
        return ev_fail(b, ev, "anchors and aliases are not supported");
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool map = ev->type == YAML_MAPPING_START_EVENT;
        if (map) {
            WD_TRY(check_props(b, ev, ev->data.mapping_start.anchor, ev->data.mapping_start.tag));
        } else {
            WD_TRY(check_props(b, ev, ev->data.sequence_start.anchor, ev->data.sequence_start.tag));
        }
        if (wd_docb_want_key(b)) {
            return ev_fail(b, ev, "mapping keys must be scalars");
        }
        return wd_docb_open(b, map ? WD_NODE_OBJ : WD_NODE_ARR, mark_num(ev->start_mark.line),
                            mark_num(ev->start_mark.column));
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return wd_docb_close(b);
    }
    return ev_fail(b, ev, "unexpected YAML event");
}

int wd_yaml_parse(const char *file, const void *p, size_t len, const struct wd_doc_limits *lim,
                  struct wd_doc **out, struct wd_diag *diag)
{
    struct wd_docb b;
    yaml_parser_t yp;
    bool yp_live = false;
    *out = NULL;
    int rc = wd_docb_init(&b, file, lim, diag);
    WD_CHECK(rc);
    if (len > b.lim.max_bytes) {
        rc = wd_docb_fail(&b, WD_ELIMIT, 0, 0, "input larger than %zu bytes", b.lim.max_bytes);
        goto out;
    }
    if (!yaml_parser_initialize(&yp)) {
        rc = wd_docb_fail(&b, WD_ENOMEM, 0, 0, "out of memory");
        goto out;
    }
    yp_live = true;
    yaml_parser_set_input_string(&yp, len > 0 ? p : (const void *)"", len);
    /* Manifests are UTF-8; a UTF-16 byte-order mark then fails as invalid UTF-8. */
    yaml_parser_set_encoding(&yp, YAML_UTF8_ENCODING);
    int ndocs = 0;
    bool done = false;
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&yp, &ev)) {
            rc = parser_fail(&b, &yp, p, len);
            goto out;
        }
        rc = on_event(&b, &ev, &ndocs, &done);
        yaml_event_delete(&ev);
        WD_CHECK(rc);
    }
    if (ndocs == 0) {
        rc = wd_docb_fail(&b, WD_EPROTO, 1, 1, "empty document");
        goto out;
    }
    wd_docb_finish(&b, out);
out:
    if (yp_live) {
        yaml_parser_delete(&yp);
    }
    wd_docb_cleanup(&b);
    return rc;
}

int wd_yaml_load_file(const char *path, const struct wd_doc_limits *lim, struct wd_doc **out,
                      struct wd_diag *diag)
{
    return wd_doc_load_file(path, lim, out, diag, wd_yaml_parse);
}
