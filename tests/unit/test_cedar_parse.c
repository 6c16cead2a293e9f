/* Unit tests for the Cedar lexer, parser, AST and printer (lib/cedar/{lexer,parser,ast,printer}.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/cedar.h"
#include "warden/err.h"

#include "cedar/ast.h"
#include "cedar/lexer.h"
#include "harness.h"

#define HEAD "permit(principal, action, resource) when { "

static struct wd_diag diag;

/* Parse text; NULL (and diag filled) on error. */
static struct wd_cedar_policyset *parse(const char *text)
{
    struct wd_cedar_policyset *ps = NULL;
    diag.msg[0] = '\0';
    if (wd_cedar_policyset_parse("t.cedar", text, strlen(text), &ps, &diag) != WD_OK) {
        return NULL;
    }
    return ps;
}

/* The status of parsing text (diag filled on error). */
static int parse_rc(const char *text)
{
    struct wd_cedar_policyset *ps = NULL;
    diag.msg[0] = '\0';
    int rc = wd_cedar_policyset_parse("t.cedar", text, strlen(text), &ps, &diag);
    wd_cedar_policyset_free(ps);
    return rc;
}

/*
 * Parse `when { expr }` and print the condition, fully parenthesised when full is set.
 * Returns a static buffer: "ERR: <diag>" on a parse error.
 */
static const char *cond(const char *expr, bool full)
{
    static char out[4096];
    char text[4096];
    (void)snprintf(text, sizeof(text), HEAD "%s };", expr);
    struct wd_cedar_policyset *ps = parse(text);
    if (ps == NULL) {
        (void)snprintf(out, sizeof(out), "ERR: %s", diag.msg);
        return out;
    }
    struct wd_buf b;
    wd_buf_init(&b, sizeof(out) - 1);
    if (wd_cedar_expr_print(ps->policies[0]->conds[0].expr, full ? WD_CEDAR_PRINT_FULL_PARENS : 0,
                            &b)
        != WD_OK) {
        (void)snprintf(out, sizeof(out), "PRINT FAILED");
    } else {
        (void)snprintf(out, sizeof(out), "%s", wd_buf_str(&b));
    }
    wd_buf_cleanup(&b);
    wd_cedar_policyset_free(ps);
    return out;
}

/* The first condition's expression of a one-policy text (text must parse). */
static const struct wd_cedar_expr *cond_expr(struct wd_cedar_policyset *ps)
{
    return ps->policies[0]->conds[0].expr;
}

/* Parse, print, re-parse: the trees must be equal and printing the copy gives the same text. */
static bool round_trips(const char *text)
{
    struct wd_cedar_policyset *a = parse(text), *b = NULL;
    struct wd_buf t1, t2;
    bool ok = false;
    wd_buf_init(&t1, 1 << 20);
    wd_buf_init(&t2, 1 << 20);
    if (a == NULL) {
        printf("round_trips: parse failed: %s\n", diag.msg);
        goto out;
    }
    if (wd_cedar_policyset_print(a, &t1) != WD_OK) {
        goto out;
    }
    if (wd_cedar_policyset_parse("printed", wd_buf_str(&t1), t1.len, &b, &diag) != WD_OK) {
        printf("round_trips: reparse failed: %s\n%s\n", diag.msg, wd_buf_str(&t1));
        goto out;
    }
    if (wd_cedar_policyset_print(b, &t2) != WD_OK) {
        goto out;
    }
    ok = wd_cedar_ast_equal(a, b) && strcmp(wd_buf_str(&t1), wd_buf_str(&t2)) == 0;
    if (!ok) {
        printf("round_trips: differ:\n%s\n---\n%s\n", wd_buf_str(&t1), wd_buf_str(&t2));
    }
out:
    wd_buf_cleanup(&t1);
    wd_buf_cleanup(&t2);
    wd_cedar_policyset_free(a);
    wd_cedar_policyset_free(b);
    return ok;
}

TEST(empty_and_comments)
{
    struct wd_cedar_policyset *ps = parse("");
    CHECK(ps != NULL);
    CHECK_EQ(wd_cedar_policyset_count(ps), 0);
    wd_cedar_policyset_free(ps);
    ps = parse("// nothing here\n  \t\r\n// still nothing");
    CHECK(ps != NULL);
    CHECK_EQ(wd_cedar_policyset_count(ps), 0);
    wd_cedar_policyset_free(ps);
    /* A comment may end with \r; Unicode whitespace (NBSP, U+2028) separates tokens. */
    ps = parse("permit(principal,\xc2\xa0"
               "action,\xe2\x80\xa8resource);//x\rforbid(principal,"
               "action,resource);");
    CHECK(ps != NULL);
    CHECK_EQ(wd_cedar_policyset_count(ps), 2);
    wd_cedar_policyset_free(ps);
    struct wd_cedar_policyset *out = (struct wd_cedar_policyset *)&diag;
    CHECK_ERR(wd_cedar_policyset_parse("f", NULL, 3, &out, &diag), WD_EINVAL);
    CHECK_ERR(wd_cedar_policyset_parse("f", "", 0, NULL, &diag), WD_EINVAL);
    CHECK_OK(wd_cedar_policyset_parse("f", NULL, 0, &out, NULL));
    wd_cedar_policyset_free(out);
    wd_cedar_policyset_free(NULL);
}

TEST(policy_structure)
{
    struct wd_cedar_policyset *ps = parse(
            "@id(\"first\")\n@observe\n"
            "permit(principal == User::\"alice\", action in [Action::\"read\", NS::Action::\"w\"],"
            " resource is Photo in Album::\"a\")\n"
            "when { true } unless { false } when { context.x };\n"
            "forbid(principal is A::B, action == Action::\"x\", resource in Folder::\"f\");\n"
            "permit(principal, action in Action::\"g\", resource == File::\"x\");");
    CHECK(ps != NULL);
    CHECK_EQ(ps->npolicies, 3);
    CHECK_EQ(ps->ntemplates, 0);
    const struct wd_cedar_policy *p = ps->policies[0];
    CHECK_STR(wd_cedar_policy_id(p), "policy0");
    CHECK_STR(wd_cedar_policy_id(ps->policies[2]), "policy2");
    CHECK_EQ(p->seq, 0);
    CHECK_EQ(p->line, 1);
    CHECK_EQ(p->col, 1);
    CHECK(!wd_cedar_policy_is_forbid(p));
    CHECK(wd_cedar_policy_is_forbid(ps->policies[1]));
    CHECK_EQ(p->nannos, 2);
    CHECK_STR(wd_cedar_policy_annotation(p, "id", NULL), "first");
    size_t len = 99;
    CHECK_STR(wd_cedar_policy_annotation(p, "observe", &len), "");
    CHECK_EQ(len, 0);
    CHECK(!p->annos[1].has_value);
    CHECK(wd_cedar_policy_annotation(p, "nope", NULL) == NULL);
    CHECK_EQ(p->principal.op, WD_CEDAR_SCOPE_EQ);
    CHECK_STR(p->principal.euid->type->p, "User");
    CHECK_STR(p->principal.euid->id->p, "alice");
    CHECK_EQ(p->principal.line, 3);
    CHECK_EQ(p->principal.col, 8);
    CHECK_EQ(p->action.op, WD_CEDAR_SCOPE_IN_SET);
    CHECK_EQ(p->action.n, 2);
    CHECK_STR(p->action.euids[1]->type->p, "NS::Action");
    CHECK_EQ(p->resource.op, WD_CEDAR_SCOPE_IS_IN);
    CHECK_STR(p->resource.type->p, "Photo");
    CHECK_STR(p->resource.euid->id->p, "a");
    CHECK_EQ(p->nconds, 3);
    CHECK(!p->conds[0].unless);
    CHECK(p->conds[1].unless);
    CHECK_EQ(p->conds[1].line, 4);
    CHECK_EQ(p->conds[1].col, 15);
    CHECK_EQ(p->conds[2].expr->kind, WD_CEDAR_E_GETATTR);
    const struct wd_cedar_policy *q = ps->policies[1];
    CHECK_EQ(q->principal.op, WD_CEDAR_SCOPE_IS);
    CHECK_STR(q->principal.type->p, "A::B");
    CHECK_EQ(q->action.op, WD_CEDAR_SCOPE_EQ);
    CHECK_EQ(q->resource.op, WD_CEDAR_SCOPE_IN);
    CHECK_EQ(q->nconds, 0);
    CHECK_EQ(ps->policies[2]->principal.op, WD_CEDAR_SCOPE_ANY);
    CHECK_EQ(ps->policies[2]->action.op, WD_CEDAR_SCOPE_IN);
    /* Lookups. */
    CHECK(wd_cedar_policyset_find(ps, "policy1") == q);
    CHECK(wd_cedar_policyset_find(ps, "policy9") == NULL);
    CHECK(wd_cedar_policyset_policy(ps, 3) == NULL);
    CHECK(wd_cedar_policyset_template(ps, 0) == NULL);
    CHECK_EQ(wd_cedar_policy_line(q), 5);
    wd_cedar_policyset_free(ps);
}

TEST(interning)
{
    struct wd_cedar_policyset *ps = parse(
            "permit(principal == User::\"a\", action, resource) when { principal == User::\"a\" "
            "&& context.k == \"k\" && {k: 1}.k == 1 && User::\"a\" != User::\"b\" };");
    CHECK(ps != NULL);
    const struct wd_cedar_policy *p = ps->policies[0];
    const struct wd_cedar_expr *e = p->conds[0].expr; /* ((( a && b) && c) && d) */
    const struct wd_cedar_expr *first = e->u.bin.l->u.bin.l->u.bin.l;
    CHECK_EQ(first->kind, WD_CEDAR_E_EQ);
    /* The same uid literal in the scope and in a condition is one interned object. */
    CHECK(first->u.bin.r->u.euid == p->principal.euid);
    CHECK_EQ(p->principal.euid->hash,
             wd_cedar_euid_hash_of(wd_cedar_hash("User", 4), wd_cedar_hash("a", 1)));
    /* The attribute k, the string "k" and the record key k are one sym. */
    const struct wd_cedar_expr *second = e->u.bin.l->u.bin.l->u.bin.r;
    const struct wd_cedar_expr *third = e->u.bin.l->u.bin.r;
    CHECK(second->u.bin.l->u.attr.name == second->u.bin.r->u.s);
    CHECK(third->u.bin.l->u.attr.e->u.rec.keys[0] == second->u.bin.r->u.s);
    CHECK(wd_cedar_sym_find(ps, "k", 1) == second->u.bin.r->u.s);
    CHECK_EQ(second->u.bin.r->u.s->hash, wd_cedar_hash("k", 1));
    CHECK(wd_cedar_sym_find(ps, "zz", 2) == NULL);
    wd_cedar_policyset_free(ps);
}

TEST(precedence)
{
    static const char *const cases[][2] = {
            {"1 + 2 * 3", "(1 + (2 * 3))"},
            {"1 * 2 + 3", "((1 * 2) + 3)"},
            {"1 - 2 - 3", "((1 - 2) - 3)"},
            {"1 - (2 - 3)", "(1 - (2 - 3))"},
            {"1 * 2 * principal", "((1 * 2) * principal)"},
            {"a() || true", "ERR"},
            {"true || false && true", "(true || (false && true))"},
            {"true && false || true", "((true && false) || true)"},
            {"1 < 2 && 2 > 1 || 3 == 3", "(((1 < 2) && (2 > 1)) || (3 == 3))"},
            {"!true || false", "((!true) || false)"},
            {"!!true", "(!!true)"},
            {"-principal.a.b", "(-principal.a.b)"},
            {"-1.foo", "(-1.foo)"},
            {"- 5", "-5"},
            {"--5", "(--5)"},
            {"-(5)", "(-(5))"},
            {"-(-5)", "(--5)"},
            {"----5", "(----5)"},
            {"1 - -1", "(1 - -1)"},
            {"1--1", "(1 - -1)"},
            {"if true then 1 else 2 + 3", "(if true then 1 else (2 + 3))"},
            {"(if true then 1 else 2) + 3", "((if true then 1 else 2) + 3)"},
            {"if a then b else c", "ERR"},
            {"principal has a && principal.a", "((principal has a) && principal.a)"},
            {"1 + 2 has a", "((1 + 2) has a)"},
            {"principal is User in Group::\"g\" || false",
             "((principal is User in Group::\"g\") || false)"},
            {"principal is User in [Group::\"g\"]", "(principal is User in [Group::\"g\"])"},
            {"\"a\" like \"*\" && true", "((\"a\" like \"*\") && true)"},
            {"principal in resource == true", "ERR"},
            {"(principal in resource) == true", "((principal in resource) == true)"},
            {"[1, 2].contains(1 + 1)", "[1, 2].contains((1 + 1))"},
            {"context.a[\"b c\"].d", "context.a[\"b c\"].d"},
            {"context[\"a\"]", "context.a"},
            {"ip(\"1.2.3.4\").isInRange(ip(\"1.0.0.0/8\"))",
             "ip(\"1.2.3.4\").isInRange(ip(\"1.0.0.0/8\"))"},
            {"(1 + 2).foo", "(1 + 2).foo"},
            {"{a: 1 + 2, \"b c\": [true]}", "{ a: (1 + 2), \"b c\": [true] }"},
            {"principal.isEmpty() == principal.getTag(\"t\")",
             "(principal.isEmpty() == principal.getTag(\"t\"))"},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        const char *got = cond(cases[i][0], true);
        if (strcmp(cases[i][1], "ERR") == 0) {
            if (strncmp(got, "ERR", 3) != 0) {
                printf("precedence: %s parsed as %s\n", cases[i][0], got);
            }
            CHECK(strncmp(got, "ERR", 3) == 0);
            continue;
        }
        if (strcmp(got, cases[i][1]) != 0) {
            printf("precedence: %s -> %s, want %s\n", cases[i][0], got, cases[i][1]);
        }
        CHECK_STR(got, cases[i][1]);
    }
}

TEST(minimal_parens)
{
    CHECK_STR(cond("(1 + (2 * 3))", false), "1 + 2 * 3");
    CHECK_STR(cond("(1 + 2) * 3", false), "(1 + 2) * 3");
    CHECK_STR(cond("1 - (2 - 3)", false), "1 - (2 - 3)");
    CHECK_STR(cond("true || (false || true)", false), "true || (false || true)");
    CHECK_STR(cond("(true || false) || true", false), "true || false || true");
    CHECK_STR(cond("-(5)", false), "-(5)");
    CHECK_STR(cond("(-5).foo", false), "(-5).foo");
    CHECK_STR(cond("!(!true)", false), "!!true");
    /* Unary runs print without parentheses up to the grammar's limit of four. */
    CHECK_STR(cond("----(-5)", false), "---(--5)");
    CHECK_STR(cond("----(5)", false), "----(5)");
    CHECK_STR(cond("---(-9223372036854775808)", false), "----9223372036854775808");
    CHECK_STR(cond("!!!!(!!!!true)", false), "!!!!(!!!!true)");
    CHECK_STR(cond("-(-(-(-(-principal))))", false), "----(-principal)");
    CHECK_STR(cond("(if true then 1 else 2).foo", false), "(if true then 1 else 2).foo");
    CHECK_STR(cond("2 * -3", false), "2 * -3");
    CHECK_STR(cond("(principal == resource) == true", false), "(principal == resource) == true");
}

TEST(literals_and_integers)
{
    struct wd_cedar_policyset *ps = parse(HEAD "-9223372036854775808 };");
    CHECK(ps != NULL);
    CHECK_EQ(cond_expr(ps)->kind, WD_CEDAR_E_LONG);
    CHECK(cond_expr(ps)->u.i == INT64_MIN);
    CHECK_EQ(cond_expr(ps)->col, 44);
    wd_cedar_policyset_free(ps);
    ps = parse(HEAD "9223372036854775807 };");
    CHECK(ps != NULL);
    CHECK(cond_expr(ps)->u.i == INT64_MAX);
    wd_cedar_policyset_free(ps);
    /* --N: one negation folds into the literal, the other stays. */
    ps = parse(HEAD "--9223372036854775808 };");
    CHECK(ps != NULL);
    CHECK_EQ(cond_expr(ps)->kind, WD_CEDAR_E_NEG);
    CHECK(cond_expr(ps)->u.un.e->u.i == INT64_MIN);
    wd_cedar_policyset_free(ps);
    CHECK_ERR(parse_rc(HEAD "9223372036854775808 };"), WD_EPROTO);
    CHECK_STR(diag.msg, "t.cedar:1:44: integer literal 9223372036854775808 is too large (maximum "
                        "9223372036854775807)");
    CHECK_ERR(parse_rc(HEAD "-9223372036854775809 };"), WD_EPROTO);
    CHECK_ERR(parse_rc(HEAD "-(9223372036854775808) };"), WD_EPROTO);
    CHECK_ERR(parse_rc(HEAD "-9223372036854775808.a };"), WD_EPROTO);
    CHECK_ERR(parse_rc(HEAD "99999999999999999999999999 };"), WD_EPROTO);
    CHECK_ERR(parse_rc(HEAD "-----1 };"), WD_EPROTO);
    CHECK_STR(diag.msg, "t.cedar:1:44: too many occurrences of '-': at most 4 in a row");
    CHECK_ERR(parse_rc(HEAD "!!!!!true };"), WD_EPROTO);
    CHECK_ERR(parse_rc(HEAD "!-1 };"), WD_EPROTO);
    CHECK_STR(cond("007", true), "7");
    CHECK_STR(cond("true == false", true), "(true == false)");
}

TEST(strings_and_escapes)
{
    struct wd_cedar_policyset *ps =
            parse(HEAD "\"a\\n\\r\\t\\\\\\0\\'\\\"\\x41\\x7f\\u{1F600}\\u{1_0}\\u{e9}\" };");
    CHECK(ps != NULL);
    const struct wd_cedar_sym *s = cond_expr(ps)->u.s;
    static const char want[] = "a\n\r\t\\\0'\"A\x7f\xf0\x9f\x98\x80\x10\xc3\xa9";
    CHECK_EQ(s->len, sizeof(want) - 1);
    CHECK_MEM(s->p, want, sizeof(want) - 1);
    CHECK_EQ(s->p[s->len], '\0');
    wd_cedar_policyset_free(ps);
    /* Raw newlines, tabs and control bytes are allowed inside strings; a raw CR is not. */
    CHECK_STR(cond("\"x\ny\tz\x01\"", false), "\"x\\ny\\tz\\u{1}\"");
    CHECK_ERR(parse_rc(HEAD "\"x\ry\" };"), WD_EPROTO);
    /* Invalid escapes, each reported at its backslash. */
    static const char *const bad[] = {
            "\"\\q\"",          "\"\\x80\"",   "\"\\x4\"",    "\"\\u{}\"",
            "\"\\u{0000041}\"", "\"\\u{41\"",  "\"\\U{41}\"", "\"\\u{110000}\"",
            "\"\\u{d800}\"",    "\"\\u{_1}\"", "\"\\*\"",
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(bad); i++) {
        char text[256];
        (void)snprintf(text, sizeof(text), HEAD "%s };", bad[i]);
        CHECK_ERR(parse_rc(text), WD_EPROTO);
        CHECK(strncmp(diag.msg, "t.cedar:1:45: invalid escape", 28) == 0);
    }
    /* Position inside a multi-line string literal. */
    CHECK_ERR(parse_rc(HEAD "\"ab\ncd\\qe\" };"), WD_EPROTO);
    CHECK_STR(diag.msg, "t.cedar:2:3: invalid escape '\\q' in string literal");
    CHECK_ERR(parse_rc(HEAD "\"abc };"), WD_EPROTO);
    CHECK_STR(diag.msg, "t.cedar:1:44: unterminated string literal");
    CHECK_ERR(parse_rc(HEAD "\"a\\\nb\" };"), WD_EPROTO);
    CHECK_ERR(parse_rc(HEAD "'a' };"), WD_EPROTO);
    CHECK(strstr(diag.msg, "double quotes") != NULL);
    /* Printing re-escapes, including bidi controls (Trojan Source). */
    CHECK_STR(cond("\"q\\\"\\\\\\0\\u{202e}\xc3\xa9\"", false),
              "\"q\\\"\\\\\\0\\u{202e}\xc3\xa9\"");
}

TEST(like_patterns)
{
    struct wd_cedar_policyset *ps = parse(HEAD "\"x\" like \"ab*c\\*d**\\u{2a}\" };");
    CHECK(ps != NULL);
    const struct wd_cedar_pattern *pat = cond_expr(ps)->u.like.pat;
    /* "ab", *, "c*d", *, *, * (an escaped \u{2a} is still a wildcard, as in Cedar) */
    CHECK_EQ(pat->n, 6);
    CHECK_EQ(pat->parts[0].len, 2);
    CHECK_MEM(pat->parts[0].p, "ab", 2);
    CHECK(pat->parts[1].p == NULL);
    CHECK_EQ(pat->parts[2].len, 3);
    CHECK_MEM(pat->parts[2].p, "c*d", 3);
    CHECK(pat->parts[3].p == NULL && pat->parts[4].p == NULL && pat->parts[5].p == NULL);
    wd_cedar_policyset_free(ps);
    CHECK_STR(cond("\"x\" like \"ab*c\\*d**\\u{2a}\"", false), "\"x\" like \"ab*c\\*d***\"");
    CHECK_STR(cond("\"x\" like \"\"", false), "\"x\" like \"\"");
    CHECK_ERR(parse_rc(HEAD "\"x\" like \"\\q\" };"), WD_EPROTO);
    CHECK_ERR(parse_rc(HEAD "\"x\" like principal };"), WD_EPROTO);
    CHECK_STR(diag.msg, "t.cedar:1:53: the right-hand side of 'like' must be a pattern string "
                        "literal");
    CHECK_ERR(parse_rc(HEAD "\"x\" like (\"a\") };"), WD_EPROTO);
    CHECK_ERR(parse_rc(HEAD "\"x\" like \"a\" + \"b\" };"), WD_EPROTO);
    CHECK_ERR(parse_rc(HEAD "\"x\" like \"a\" like \"b\" };"), WD_EPROTO);
}

TEST(has_is_and_access)
{
    struct wd_cedar_policyset *ps = parse(HEAD "context has a.b.c && context has \"x y\" };");
    CHECK(ps != NULL);
    const struct wd_cedar_expr *h = cond_expr(ps)->u.bin.l;
    CHECK_EQ(h->kind, WD_CEDAR_E_HAS);
    CHECK_EQ(h->u.has.n, 3);
    CHECK_STR(h->u.has.path[2]->p, "c");
    CHECK_EQ(cond_expr(ps)->u.bin.r->u.has.n, 1);
    wd_cedar_policyset_free(ps);
    CHECK_STR(cond("principal has principal", false), "principal has principal");
    CHECK_STR(cond("principal has \"if\"", false), "principal has \"if\"");
    CHECK_STR(cond("principal has \"a\"", false), "principal has a");
    CHECK_STR(cond("principal[\"if\"] == principal[\"__cedar\"]", false),
              "principal[\"if\"] == principal[\"__cedar\"]");
    CHECK_STR(cond("principal is A::B::C", false), "principal is A::B::C");
    CHECK_STR(cond("principal is A :: B", false), "principal is A::B");
    CHECK_STR(cond("principal.contains", false), "principal.contains");
    static const char *const bad[] = {
            "principal has if",
            "principal has a.if",
            "principal has a[\"b\"]",
            "principal has a.b()",
            "principal has \"a\".b",
            "principal has a + 1",
            "principal has (a)",
            "principal has 1",
            "principal is if",
            "principal is User::\"x\"",
            "principal is User.a",
            "principal is User is User",
            "principal.if",
            "principal.true",
            "principal.__cedar",
            "principal[1]",
            "principal[(\"a\")]",
            "principal[\"a\"",
            "principal.a()",
            "principal.ip()",
            "principal.contains()",
            "principal.contains(1, 2)",
            "principal.isEmpty(1)",
            "principal.getTag(\"a\", 1)",
            "(principal)(1)",
            "ip.isIpv4()",
            "isIpv4(ip(\"1\"))",
            "foo(1)",
            "decimal::ip(\"1\")",
            "x",
            "a::b",
            "__cedar",
            "if::\"x\"",
            "in::\"x\"",
            "User::if::\"x\"",
            "X::__cedar::\"a\"",
            "__cedar::X::\"a\"",
            "X::\"a\"::\"b\"",
            "X::{a: 1}",
            "1 / 2",
            "1 % 2",
            "1 = 2",
            "1 == 2 == 3",
            "1 < 2 < 3",
            "1 in 2 in 3",
            "1 + if true then 1 else 2",
            "!if true then 1 else 2",
            "{if: 1}",
            "{true: 1}",
            "{__cedar: 1}",
            "{(\"a\"): 1}",
            "{a.b: 1}",
            "{1: 1}",
            "{\"a\": 1, a: 2}",
            "[1,,2]",
            "[,]",
            "{,}",
            "?principal",
            "?resource",
            "?foo",
            "principal == ?principal",
            "a || b",
            "",
            "principal ||",
            "(principal",
            "principal)",
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(bad); i++) {
        const char *got = cond(bad[i], false);
        if (strncmp(got, "ERR: ", 5) != 0) {
            printf("accepted invalid: %s -> %s\n", bad[i], got);
        }
        CHECK(strncmp(got, "ERR: t.cedar:1:", 15) == 0);
    }
    /* Valid edge cases (checked against cedar-wasm 4.13). */
    static const char *const good[] = {
            "principal is __cedarX",
            "principal[\"__cedar\"]",
            "{\"if\": 1}",
            "{principal: 1, action: 2}",
            "principal::\"x\" == Ns::principal::\"x\"",
            "principal.contains(1,)",
            "[1, 2, ]",
            "{a: 1, }",
            "ip(\"1.2.3.4\", 1)",
            "decimal(\"1.0\").lessThan()",
            "1.isEmpty()",
            "principal.isEmpty",
            "datetime(\"2024-01-01\").offset(duration(\"1h\")).toDate().toTime().toDays()",
            "principal is User in principal",
            "1 has a",
            "principal * principal",
            "[if true then 1 else 2]",
            "if 1 then 2 else 3 == 4",
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(good); i++) {
        const char *got = cond(good[i], false);
        if (strncmp(got, "ERR", 3) == 0) {
            printf("rejected valid: %s -> %s\n", good[i], got);
        }
        CHECK(strncmp(got, "ERR", 3) != 0);
    }
}

TEST(extension_calls)
{
    struct wd_cedar_policyset *ps =
            parse(HEAD "decimal(\"1.5\").lessThan(decimal(\"2\")) && ip(\"::1\").isLoopback() };");
    CHECK(ps != NULL);
    const struct wd_cedar_expr *lt = cond_expr(ps)->u.bin.l;
    CHECK_EQ(lt->kind, WD_CEDAR_E_EXT);
    CHECK_EQ(lt->sub, WD_CEDAR_EXT_LESS_THAN);
    CHECK_EQ(lt->u.list.n, 2); /* receiver + argument */
    CHECK_EQ(lt->u.list.items[0]->kind, WD_CEDAR_E_EXT);
    CHECK_EQ(lt->u.list.items[0]->sub, WD_CEDAR_EXT_DECIMAL);
    CHECK_EQ(lt->u.list.items[0]->u.list.n, 1);
    const struct wd_cedar_expr *lb = cond_expr(ps)->u.bin.r;
    CHECK_EQ(lb->sub, WD_CEDAR_EXT_IS_LOOPBACK);
    CHECK_EQ(lb->u.list.n, 1);
    wd_cedar_policyset_free(ps);
    for (int i = 0; i < WD_CEDAR_EXT__COUNT; i++) {
        const char *name = wd_cedar_ext_name((enum wd_cedar_ext)i);
        CHECK(name != NULL);
        CHECK_EQ(wd_cedar_ext_lookup(name, strlen(name)), i);
    }
    CHECK(wd_cedar_ext_name(WD_CEDAR_EXT__COUNT) == NULL);
    CHECK_EQ(wd_cedar_ext_lookup("nope", 4), -1);
    CHECK(wd_cedar_ext_is_function(WD_CEDAR_EXT_DURATION));
    CHECK(!wd_cedar_ext_is_function(WD_CEDAR_EXT_TO_MILLISECONDS));
}

TEST(scope_errors)
{
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
            {"permit(principal, action);",
             "t.cedar:1:25: the policy scope is missing the 'resource' element"},
            {"permit(action, principal, resource);",
             "t.cedar:1:8: expected 'principal' as the first element of the policy scope, found "
             "'action'"},
            {"permit(principal, action, resource, context);",
             "t.cedar:1:37: the policy scope has an extra element 'context'"},
            {"permit(principal in [User::\"a\"], action, resource);",
             "t.cedar:1:21: expected a single entity uid or template slot, found a set"},
            {"permit(principal, action is Action, resource);",
             "t.cedar:1:26: 'is' cannot appear in the action scope"},
            {"permit(principal, action in ?principal, resource);",
             "t.cedar:1:29: template slots are not allowed in the action scope"},
            {"permit(principal, action == [Action::\"a\"], resource);",
             "t.cedar:1:29: expected a single entity uid, found a set"},
            {"permit(principal, action == User::\"x\", resource);",
             "t.cedar:1:29: action entities must have type Action (optionally namespaced), not "
             "'User'"},
            {"permit(principal, action in [Action::\"a\", User::\"b\"], resource);",
             "t.cedar:1:43: action entities must have type Action (optionally namespaced), not "
             "'User'"},
            {"permit(principal is User == User::\"a\", action, resource);",
             "t.cedar:1:26: 'is' cannot be used together with '==': use 'is ... in'"},
            {"permit(principal == ?resource, action, resource);",
             "t.cedar:1:21: expected an entity uid or ?principal"},
            {"permit(principal == ?foo, action, resource);",
             "t.cedar:1:21: expected an entity uid or ?principal"},
            {"permit(principal:User, action, resource);",
             "t.cedar:1:17: type constraints using ':' are not supported: use 'is'"},
            {"permit(principal = User::\"a\", action, resource);",
             "t.cedar:1:18: '=' is not a valid operator in Cedar: use '=='"},
            {"permit(principal, action, resource < User::\"b\");",
             "t.cedar:1:36: invalid operator '<' in the policy scope: use ==, in or is"},
            {"permit(principal in 1, action, resource);",
             "t.cedar:1:21: expected an entity uid or template slot"},
            {"permit(principal is User::\"x\", action, resource);",
             "t.cedar:1:21: the right-hand side of 'is' must be an entity type name (use == to "
             "compare with an entity)"},
            {"permit(principal is User in User::\"a\" in User::\"b\", action, resource);",
             "t.cedar:1:29: expected an entity uid or template slot"},
            {"permit(principal, action, resource) when { true } unless { false } when {};",
             "t.cedar:1:68: 'when' condition cannot be empty"},
            {"permit(principal, action, resource) where { true };",
             "t.cedar:1:37: invalid policy condition 'where': use 'when' or 'unless'"},
            {"allow(principal, action, resource);",
             "t.cedar:1:1: invalid policy effect 'allow': use 'permit' or 'forbid'"},
            {"permit(principal, action, resource)",
             "t.cedar:1:36: expected ';' or a 'when'/'unless' condition, found end of input"},
            {"permit(principal, action, resource) when { 1 } // c",
             "t.cedar:1:52: expected ';' or another condition, found end of input"},
            {"permit(principal == User::\"a\" when { true };",
             "t.cedar:1:31: expected ',' or ')' after the principal constraint, found 'when'"},
            {"permit(principal, action, resource) when { true ;",
             "t.cedar:1:49: expected '}' at the end of the condition, found ';'"},
            {"permit(principal, action, resource) when { principal == ?principal };",
             "t.cedar:1:57: template slot ?principal cannot appear in a 'when' condition"},
            {"permit(principal, action, resource) unless { ?resource };",
             "t.cedar:1:46: template slot ?resource cannot appear in a 'unless' condition"},
            {"@id(\"a\") @id(\"b\") permit(principal, action, resource);",
             "t.cedar:1:10: duplicate annotation @id"},
            {"@a(\"\\*\") permit(principal, action, resource);",
             "t.cedar:1:5: invalid escape '\\*' in string literal"},
            {"@a(x) permit(principal, action, resource);",
             "t.cedar:1:4: expected a string literal as the annotation value, found 'x'"},
            {";", "t.cedar:1:1: expected 'permit', 'forbid' or '@' at the start of a policy, "
                  "found ';'"},
            {"@a;", "t.cedar:1:3: expected 'permit', 'forbid' or '@', found ';'"},
            {"permit(principal, action, resource); forbid",
             "t.cedar:1:44: expected '(' after the effect, found end of input"},
            {"permit(principal, action, resource) when { 1 } # x;",
             "t.cedar:1:48: unexpected character '#'"},
            {"permit(principal, action, resource) when { 1 | 2 };",
             "t.cedar:1:46: unexpected character '|'"},
            {"permit(principal, action, resource) when { 1 \x01 };",
             "t.cedar:1:46: unexpected character (byte 0x01)"},
            {"permit(principal, action, resource) when { \xc3\xa9 };",
             "t.cedar:1:44: unexpected character (byte 0xc3)"},
            {"permit(principal, action, resource) when { ? };",
             "t.cedar:1:44: unexpected character '?'"},
            {"permit(\n  principal,\n  action,\n  resource\n) when { context.a = 1 };",
             "t.cedar:5:20: '=' is not a valid operator in Cedar: use '=='"},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        int rc = parse_rc(cases[i].text);
        if (rc != WD_EPROTO || strcmp(diag.msg, cases[i].msg) != 0) {
            printf("case %zu: %s\n  got  %s\n  want %s\n", i, cases[i].text, diag.msg,
                   cases[i].msg);
        }
        CHECK_ERR(rc, WD_EPROTO);
        CHECK_STR(diag.msg, cases[i].msg);
    }
    /* Valid scope shapes. */
    CHECK_OK(parse_rc("permit(principal, action, resource,);"));
    CHECK_OK(parse_rc("permit(principal is User in (Group::\"a\"), action in [], resource);"));
    CHECK_OK(
            parse_rc("permit(principal == (User::\"a\"), action == NS::Action::\"a\", resource);"));
    CHECK_OK(parse_rc("@if(\"x\") @principal(\"y\") permit(principal, action, resource) when "
                      "{ 1 } ;"));
}

TEST(invalid_utf8)
{
    static const char *const bad[] = {"\x80",     "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                      "\xe2\x82", "\xff"};
    for (size_t i = 0; i < WD_ARRAY_LEN(bad); i++) {
        char text[128];
        (void)snprintf(text, sizeof(text),
                       "permit(principal, action, resource)\n"
                       "when { \"ab%s\" };",
                       bad[i]);
        CHECK_ERR(parse_rc(text), WD_EPROTO);
        CHECK(strncmp(diag.msg, "t.cedar:2:11: invalid UTF-8", 27) == 0);
    }
    size_t off = 99;
    CHECK(wd_cedar_utf8_valid("ok \xf0\x9f\x98\x80", 7, &off));
    CHECK(!wd_cedar_utf8_valid("ok \xf0\x9f\x98", 6, &off));
    CHECK_EQ(off, 3);
}

TEST(limits)
{
    /* Nesting depth: 200 levels of parentheses are fine, 201 are not. */
    struct wd_buf b;
    wd_buf_init(&b, 1 << 20);
    CHECK_OK(wd_buf_append_str(&b, HEAD));
    for (int i = 0; i < 199; i++) {
        CHECK_OK(wd_buf_append_str(&b, "("));
    }
    CHECK_OK(wd_buf_append_str(&b, "1"));
    for (int i = 0; i < 199; i++) {
        CHECK_OK(wd_buf_append_str(&b, ")"));
    }
    CHECK_OK(wd_buf_append_str(&b, " };"));
    CHECK_OK(parse_rc(wd_buf_str(&b)));
    wd_buf_reset(&b);
    CHECK_OK(wd_buf_append_str(&b, HEAD));
    for (int i = 0; i < 100000; i++) {
        CHECK_OK(wd_buf_append_str(&b, "[("));
    }
    CHECK_ERR(parse_rc(wd_buf_str(&b)), WD_ELIMIT);
    CHECK(strstr(diag.msg, "nested too deeply (more than 200 levels)") != NULL);
    /* Tree height: a flat chain of 999 operators (height 1000) is fine, 1000 are too tall. */
    for (int n = 999; n <= 1000; n++) {
        wd_buf_reset(&b);
        CHECK_OK(wd_buf_append_str(&b, HEAD "1"));
        for (int i = 0; i < n; i++) {
            CHECK_OK(wd_buf_append_str(&b, " + 1"));
        }
        CHECK_OK(wd_buf_append_str(&b, " };"));
        CHECK_ERR(parse_rc(wd_buf_str(&b)), n == 999 ? WD_OK : WD_ELIMIT);
    }
    CHECK(strstr(diag.msg, "t.cedar:1:44: expression nested too deeply (more than 1000") != NULL);
    /* Member chains grow the tree too. */
    wd_buf_reset(&b);
    CHECK_OK(wd_buf_append_str(&b, HEAD "context"));
    for (int i = 0; i < 5000; i++) {
        CHECK_OK(wd_buf_append_str(&b, ".a"));
    }
    CHECK_OK(wd_buf_append_str(&b, " };"));
    CHECK_ERR(parse_rc(wd_buf_str(&b)), WD_ELIMIT);
    /* Node count bound. */
    struct wd_cedar_parse_opts opts = {.max_nodes = 5};
    struct wd_cedar_policyset *ps = NULL;
    const char *t = HEAD "1 + 2 + 3 };";
    CHECK_OK(wd_cedar_policyset_parse_ex("t", t, strlen(t), &opts, &ps, &diag));
    wd_cedar_policyset_free(ps);
    ps = NULL;
    t = HEAD "1 + 2 + 3 + 4 };";
    CHECK_ERR(wd_cedar_policyset_parse_ex("t", t, strlen(t), &opts, &ps, &diag), WD_ELIMIT);
    CHECK(ps == NULL);
    CHECK_STR(diag.msg, "t:1:56: too many expression nodes in the policy set (limit 5)");
    /* A huge record literal and set (duplicate check is not quadratic). */
    wd_buf_reset(&b);
    CHECK_OK(wd_buf_append_str(&b, HEAD "{"));
    for (int i = 0; i < 20000; i++) {
        CHECK_OK(wd_buf_printf(&b, "k%d: %d, ", i, i));
    }
    CHECK_OK(wd_buf_append_str(&b, "k77: 0} };"));
    CHECK_ERR(parse_rc(wd_buf_str(&b)), WD_EPROTO);
    CHECK_STR(diag.msg, "t.cedar:1:44: duplicate key \"k77\" in record literal");
    wd_buf_cleanup(&b);
}

TEST(ids_from_annotation)
{
    struct wd_cedar_parse_opts opts = {.ids_from_annotation = true};
    struct wd_cedar_policyset *ps = NULL;
    const char *t = "@id(\"allow-read\") permit(principal, action, resource);\n"
                    "forbid(principal, action, resource);";
    CHECK_OK(wd_cedar_policyset_parse_ex("t", t, strlen(t), &opts, &ps, &diag));
    CHECK_STR(wd_cedar_policy_id(ps->policies[0]), "allow-read");
    CHECK_STR(wd_cedar_policy_id(ps->policies[1]), "policy1");
    wd_cedar_policyset_free(ps);
    ps = NULL;
    t = "@id(\"x\") permit(principal, action, resource);\n"
        "@id(\"x\") forbid(principal, action, resource);";
    CHECK_ERR(wd_cedar_policyset_parse_ex("t", t, strlen(t), &opts, &ps, &diag), WD_EPROTO);
    CHECK_STR(diag.msg, "t:2:1: duplicate policy id \"x\"");
    /* An @id may also collide with a generated id. */
    t = "@id(\"policy1\") permit(principal, action, resource);\n"
        "forbid(principal, action, resource);";
    CHECK_ERR(wd_cedar_policyset_parse_ex("t", t, strlen(t), &opts, &ps, &diag), WD_EPROTO);
    CHECK_STR(diag.msg, "t:2:1: duplicate policy id \"policy1\"");
    /* Default ids ignore @id. */
    CHECK_OK(wd_cedar_policyset_parse("t", t, strlen(t), &ps, &diag));
    CHECK_STR(wd_cedar_policy_id(ps->policies[1]), "policy1");
    wd_cedar_policyset_free(ps);
}

TEST(templates_and_links)
{
    struct wd_cedar_policyset *ps =
            parse("permit(principal, action, resource);\n"
                  "@note(\"t\") permit(principal is User in ?principal, action == Action::\"view\","
                  " resource == ?resource) when { resource.public };\n"
                  "forbid(principal == ?principal, action, resource);");
    CHECK(ps != NULL);
    CHECK_EQ(wd_cedar_policyset_count(ps), 1);
    CHECK_EQ(wd_cedar_policyset_template_count(ps), 2);
    const struct wd_cedar_policy *t1 = wd_cedar_policyset_template(ps, 0);
    CHECK_STR(wd_cedar_policy_id(t1), "policy1");
    CHECK(wd_cedar_policy_is_template(t1));
    CHECK(t1->principal.slot && t1->resource.slot);
    CHECK_EQ(t1->principal.op, WD_CEDAR_SCOPE_IS_IN);
    CHECK(t1->principal.euid == NULL);
    CHECK_STR(wd_cedar_policy_id(wd_cedar_policyset_template(ps, 1)), "policy2");

    CHECK_OK(wd_cedar_policyset_link(ps, "policy1", "link1", "User::\"alice\"", "Photo::\"p 1\"",
                                     &diag));
    CHECK_EQ(wd_cedar_policyset_count(ps), 2);
    const struct wd_cedar_policy *l = wd_cedar_policyset_policy(ps, 1);
    CHECK_STR(wd_cedar_policy_id(l), "link1");
    CHECK(wd_cedar_policy_is_link(l));
    CHECK(!wd_cedar_policy_is_template(l));
    CHECK(l->template_ == t1);
    CHECK(!l->principal.slot);
    CHECK_EQ(l->principal.op, WD_CEDAR_SCOPE_IS_IN);
    CHECK_STR(l->principal.euid->id->p, "alice");
    CHECK_STR(l->resource.euid->id->p, "p 1");
    CHECK_STR(wd_cedar_policy_annotation(l, "note", NULL), "t");
    CHECK_EQ(wd_cedar_policy_line(l), 0);
    CHECK(wd_cedar_policyset_find(ps, "link1") == l);

    CHECK_ERR(wd_cedar_policyset_link(ps, "nope", "l2", "User::\"a\"", NULL, &diag), WD_ENOENT);
    CHECK_STR(diag.msg, "no template with id \"nope\"");
    CHECK_ERR(wd_cedar_policyset_link(ps, "policy0", "l2", NULL, NULL, &diag), WD_ENOENT);
    CHECK_ERR(wd_cedar_policyset_link(ps, "policy2", "link1", "User::\"a\"", NULL, &diag),
              WD_EEXIST);
    CHECK_ERR(wd_cedar_policyset_link(ps, "policy2", "policy0", "User::\"a\"", NULL, &diag),
              WD_EEXIST);
    CHECK_ERR(wd_cedar_policyset_link(ps, "policy2", "l2", NULL, NULL, &diag), WD_EPROTO);
    CHECK_STR(diag.msg, "template \"policy2\" needs a value for ?principal");
    CHECK_ERR(wd_cedar_policyset_link(ps, "policy2", "l2", "User::\"a\"", "R::\"r\"", &diag),
              WD_EPROTO);
    CHECK_STR(diag.msg, "template \"policy2\" has no ?resource slot");
    CHECK_ERR(wd_cedar_policyset_link(ps, "policy2", "l2", "User", NULL, &diag), WD_EPROTO);
    CHECK_ERR(wd_cedar_policyset_link(ps, "policy2", "l2", "User::\"a\" + 1", NULL, &diag),
              WD_EPROTO);
    CHECK_ERR(wd_cedar_policyset_link(ps, "policy2", "l2", "\"a\"", NULL, &diag), WD_EPROTO);
    CHECK_ERR(wd_cedar_policyset_link(ps, "policy2", "l2", "", NULL, &diag), WD_EPROTO);
    CHECK_STR(diag.msg, "?principal:1:1: expected an entity uid like Type::\"id\", found end of "
                        "input");
    CHECK_OK(wd_cedar_policyset_link(ps, "policy2", "l2", " A::B::\"\\u{e9}\" ", NULL, &diag));
    CHECK_STR(wd_cedar_policyset_policy(ps, 2)->principal.euid->type->p, "A::B");
    CHECK_STR(wd_cedar_policyset_policy(ps, 2)->principal.euid->id->p, "\xc3\xa9");
    CHECK_EQ(wd_cedar_policyset_count(ps), 3);

    /* Printing shows templates (with slots) in file order, not links. */
    struct wd_buf b;
    wd_buf_init(&b, 1 << 16);
    CHECK_OK(wd_cedar_policyset_print(ps, &b));
    CHECK_STR(wd_buf_str(&b), "permit (principal, action, resource);\n"
                              "\n"
                              "@note(\"t\")\n"
                              "permit (\n"
                              "  principal is User in ?principal,\n"
                              "  action == Action::\"view\",\n"
                              "  resource == ?resource\n"
                              ")\n"
                              "when { resource.public };\n"
                              "\n"
                              "forbid (principal == ?principal, action, resource);\n");
    wd_buf_cleanup(&b);
    CHECK_ERR(wd_cedar_policyset_link(NULL, "a", "b", NULL, NULL, &diag), WD_EINVAL);
    wd_cedar_policyset_free(ps);
}

TEST(printer_format)
{
    struct wd_cedar_policyset *ps = parse(
            "@id(\"x\")@empty permit(principal,action,resource)when{context.a==1};"
            "forbid(principal,action,resource) when { context.aaaaaaaaaaaaaaaa == 1 && "
            "context.bbbbbbbbbbbbbbbb == 2 || context.cccccccccccccccccccc.contains(\"x\") || "
            "context.dddddddddddddddd } unless { [] };");
    CHECK(ps != NULL);
    struct wd_buf b;
    wd_buf_init(&b, 1 << 16);
    CHECK_OK(wd_cedar_policyset_print(ps, &b));
    CHECK_STR(wd_buf_str(&b),
              "@id(\"x\")\n"
              "@empty\n"
              "permit (principal, action, resource)\n"
              "when { context.a == 1 };\n"
              "\n"
              "forbid (principal, action, resource)\n"
              "when {\n"
              "  context.aaaaaaaaaaaaaaaa == 1 && context.bbbbbbbbbbbbbbbb == 2 ||\n"
              "  context.cccccccccccccccccccc.contains(\"x\") ||\n"
              "  context.dddddddddddddddd\n"
              "}\n"
              "unless { [] };\n");
    /* A capped buffer reports WD_ELIMIT. */
    struct wd_buf small;
    wd_buf_init(&small, 20);
    CHECK_ERR(wd_cedar_policyset_print(ps, &small), WD_ELIMIT);
    wd_buf_cleanup(&small);
    wd_buf_cleanup(&b);
    wd_cedar_policyset_free(ps);
    /* Print helpers. */
    wd_buf_init(&b, 256);
    CHECK_OK(wd_cedar_print_string("a\"b\\\x7f", 5, &b));
    CHECK_STR(wd_buf_str(&b), "\"a\\\"b\\\\\\u{7f}\"");
    wd_buf_cleanup(&b);
}

TEST(round_trip)
{
    static const char *const texts[] = {
            "permit(principal, action, resource);",
            "@id(\"a\") @b forbid(principal in G::\"g\", action in [Action::\"a\"], resource is "
            "R in F::\"f\") when { context.x has y.z && !(context.q like \"a*\\*b\") } unless "
            "{ if principal has \"x y\" then 1 + -2 * 3 - -(4) else {a: [1, true, \"s\"], \"b c\":"
            " User::\"\\u{0}\"} };",
            "permit(principal, action, resource) when { -9223372036854775808 == --5 && "
            "(-5).foo && (if true then 1 else 2).x };",
            "permit(principal, action, resource) when { ip(\"::1\").isInRange(ip(\"::/0\")) && "
            "decimal(\"1.5\").greaterThanOrEqual(decimal(\"0\")) && datetime(\"2024-01-01\")"
            ".durationSince(datetime(\"2023-01-01\")).toHours() > 0 && "
            "principal.getTag(\"t\").containsAny([1]) && principal.hasTag(\"t\") && "
            "[].isEmpty() && [1].containsAll([]) };",
            "permit(principal == ?principal, action, resource in ?resource);",
            "permit(principal, action, resource) when { context[\"if\"][\"\"][\"a\\nb\"] && "
            "context has \"\" };",
            "permit(principal, action, resource) when { \"\\u{202e}\" like \"\\u{202e}*\" };",
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(texts); i++) {
        if (!round_trips(texts[i])) {
            printf("round trip failed for case %zu\n", i);
        }
        CHECK(round_trips(texts[i]));
    }
}

TEST(equality)
{
    struct wd_cedar_policyset *a = parse(HEAD "1 + 2 };");
    struct wd_cedar_policyset *b = parse(HEAD "(1) + (2) };");
    struct wd_cedar_policyset *c = parse(HEAD "1 + 3 };");
    struct wd_cedar_policyset *d = parse("forbid(principal, action, resource) when { 1 + 2 };");
    CHECK(a != NULL && b != NULL && c != NULL && d != NULL);
    CHECK(wd_cedar_ast_equal(a, b));
    CHECK(!wd_cedar_ast_equal(a, c));
    CHECK(!wd_cedar_ast_equal(a, d));
    CHECK(wd_cedar_expr_equal(cond_expr(a), cond_expr(d)));
    wd_cedar_policyset_free(a);
    wd_cedar_policyset_free(b);
    wd_cedar_policyset_free(c);
    wd_cedar_policyset_free(d);
    a = parse("@a permit(principal, action, resource);");
    b = parse("@a(\"\") permit(principal, action, resource);");
    CHECK(a != NULL && b != NULL);
    CHECK(!wd_cedar_ast_equal(a, b)); /* has_value differs, so the printed text differs */
    wd_cedar_policyset_free(a);
    wd_cedar_policyset_free(b);
}

TEST(heights)
{
    struct wd_cedar_policyset *ps = parse(HEAD "[1, (2 + 3) * 4] };");
    CHECK(ps != NULL);
    const struct wd_cedar_expr *e = cond_expr(ps);
    CHECK_EQ(e->height, 4); /* set > mul > add > literal */
    CHECK_EQ(e->u.list.items[0]->height, 1);
    CHECK_EQ(e->u.list.items[1]->height, 3);
    wd_cedar_policyset_free(ps);
}

/* Every prefix of a valid policy either parses or fails cleanly. */
TEST(truncation)
{
    const char *t = "@id(\"a\") permit(principal is A in G::\"g\", action in [Action::\"x\"], "
                    "resource) when { context.a.b has c && \"x\" like \"*\\*\" || "
                    "ip(\"1.2.3.4\").isIpv4() } unless { {k: [-1, --2]}.k.contains(1) };";
    size_t n = strlen(t);
    for (size_t i = 0; i <= n; i++) {
        struct wd_cedar_policyset *ps = NULL;
        int rc = wd_cedar_policyset_parse("t", t, i, &ps, &diag);
        CHECK(rc == WD_OK || rc == WD_EPROTO);
        CHECK((rc == WD_OK) == (ps != NULL));
        CHECK(rc == WD_OK || strncmp(diag.msg, "t:1:", 4) == 0);
        wd_cedar_policyset_free(ps);
        if (i == n) {
            CHECK_OK(rc);
        }
    }
}

static struct wd_cedar_policyset *sweep_ps;

static int sweep_parse(void)
{
    const char *t = "@id(\"x\") @y permit(principal is User in ?principal, action in "
                    "[Action::\"a\", Action::\"b\"], resource) when { context.a has b.c && "
                    "[1, {k: \"v\", \"q r\": -3}].contains(ip(\"1.2.3.4\")) && \"x\" like \"a*b\" "
                    "&& principal is User in Group::\"g\" } unless { if true then 1 else 2 };"
                    "forbid(principal, action, resource) when { context.x[\"y\"].isEmpty() };";
    int rc = wd_cedar_policyset_parse("t", t, strlen(t), &sweep_ps, NULL);
    if (rc != WD_OK) {
        return rc;
    }
    rc = wd_cedar_policyset_link(sweep_ps, "policy0", "l", "User::\"u\"", NULL, NULL);
    if (rc != WD_OK) {
        return rc;
    }
    struct wd_buf b;
    wd_buf_init(&b, 1 << 16);
    rc = wd_cedar_policyset_print(sweep_ps, &b);
    wd_buf_cleanup(&b);
    return rc;
}

TEST(alloc_sweep)
{
    CHECK_ALLOC_SWEEP(sweep_parse(), (wd_cedar_policyset_free(sweep_ps), sweep_ps = NULL));
}

TEST(lexer_tokens)
{
    struct wd_cedar_lexer lx;
    struct wd_cedar_token t;
    const char *s = "a::\"b\" ?principal 12 <= >= != == && || @ // c\n : ; . , + - * / % ! = |";
    static const uint8_t want[] = {
            WD_CEDAR_T_IDENT,   WD_CEDAR_T_COLON2, WD_CEDAR_T_STRING, WD_CEDAR_T_SLOT,
            WD_CEDAR_T_INT,     WD_CEDAR_T_LE,     WD_CEDAR_T_GE,     WD_CEDAR_T_NE,
            WD_CEDAR_T_EQ,      WD_CEDAR_T_AND,    WD_CEDAR_T_OR,     WD_CEDAR_T_AT,
            WD_CEDAR_T_COLON,   WD_CEDAR_T_SEMI,   WD_CEDAR_T_DOT,    WD_CEDAR_T_COMMA,
            WD_CEDAR_T_PLUS,    WD_CEDAR_T_MINUS,  WD_CEDAR_T_STAR,   WD_CEDAR_T_SLASH,
            WD_CEDAR_T_PERCENT, WD_CEDAR_T_BANG,   WD_CEDAR_T_ASSIGN, WD_CEDAR_T_ERROR,
    };
    wd_cedar_lex_init(&lx, s, strlen(s));
    for (size_t i = 0; i < WD_ARRAY_LEN(want); i++) {
        wd_cedar_lex_next(&lx, &t);
        CHECK_EQ(t.type, want[i]);
        if (want[i] == WD_CEDAR_T_COLON) {
            CHECK_EQ(t.line, 2);
            CHECK_EQ(t.col, 2);
        }
    }
    CHECK(wd_cedar_is_reserved("like", 4));
    CHECK(!wd_cedar_is_reserved("principal", 9));
    CHECK(wd_cedar_is_ident("_a9", 3));
    CHECK(!wd_cedar_is_ident("9a", 2));
    CHECK(!wd_cedar_is_ident("", 0));
}

int main(void)
{
    RUN(empty_and_comments);
    RUN(policy_structure);
    RUN(interning);
    RUN(precedence);
    RUN(minimal_parens);
    RUN(literals_and_integers);
    RUN(strings_and_escapes);
    RUN(like_patterns);
    RUN(has_is_and_access);
    RUN(extension_calls);
    RUN(scope_errors);
    RUN(invalid_utf8);
    RUN(limits);
    RUN(ids_from_annotation);
    RUN(templates_and_links);
    RUN(printer_format);
    RUN(round_trip);
    RUN(equality);
    RUN(heights);
    RUN(truncation);
    RUN(alloc_sweep);
    RUN(lexer_tokens);
    return HARNESS_END("cedar_parse");
}
