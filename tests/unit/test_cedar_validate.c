/*
 * Unit tests for the Cedar validator (strict mode). Every valid / invalid outcome below was
 * checked against @cedar-policy/cedar-wasm 4.13 (validate, strict mode, with "unable to find
 * an applicable action" counted as an error as in the Cedar version that generated the
 * conformance corpus); the kinds and positions are warden's.
 */
#include <string.h>

#include "warden/alloc.h"
#include "warden/cedar.h"
#include "warden/err.h"

#include "harness.h"

static const char schema_text[] =
        "entity Group in [Group] { name: String };\n"
        "entity User in [Group] {\n"
        "  name: String, age: Long, nick?: String, manager?: User,\n"
        "  addr: { street: String, zip?: Long }, roles: Set<String>, ip: ipaddr,\n"
        "  bal: decimal, born: datetime, ttl: duration, friends: Set<User>,\n"
        "} tags Long;\n"
        "entity Doc { owner: User, readers?: Set<User>, meta?: { tags?: Set<String> } } tags "
        "String;\n"
        "entity Color enum [\"red\", \"green\"];\n"
        "action read, write appliesTo { principal: [User], resource: [Doc],\n"
        "  context: { ip: ipaddr, n?: Long, flag: Bool } };\n"
        "action admin in [read] appliesTo { principal: User, resource: [Doc, Group] };\n"
        "action group1;\n"
        "action view in [group1] appliesTo { principal: [User], resource: [Doc, Color] };\n";

static struct wd_cedar_schema *schema(void)
{
    struct wd_cedar_schema *s = NULL;
    struct wd_diag d = {{0}};
    if (wd_cedar_schema_parse("schema", schema_text, strlen(schema_text), &s, &d) != WD_OK) {
        printf("schema: %s\n", d.msg);
    }
    return s;
}

/* Validate one policy text; *first gets the first error (NULL when valid). */
static int validate(const struct wd_cedar_schema *s, const char *text,
                    struct wd_cedar_validation **out)
{
    struct wd_cedar_policyset *ps = NULL;
    struct wd_diag d = {{0}};
    int rc = wd_cedar_policyset_parse("p", text, strlen(text), &ps, &d);
    if (rc != WD_OK) {
        printf("policy does not parse: %s\n", d.msg);
        return rc;
    }
    rc = wd_cedar_validate(s, ps, out);
    /* issues borrow policy ids from the set: callers only look at kinds and positions */
    wd_cedar_policyset_free(ps);
    return rc;
}

static const struct wd_cedar_vissue *first_error(const struct wd_cedar_validation *v)
{
    for (size_t i = 0; i < wd_cedar_validation_count(v); i++) {
        const struct wd_cedar_vissue *is = wd_cedar_validation_issue(v, i);
        if (!is->warning) {
            return is;
        }
    }
    return NULL;
}

struct vcase {
    const char *cond;   /* the when-clause, or a whole policy when it starts with permit */
    int kind;           /* 0: valid */
    unsigned line, col; /* of the first error */
};

#define OK_(c)     \
    {              \
        c, 0, 0, 0 \
    }
#define BAD(c, k, line, col)         \
    {                                \
        c, WD_CEDAR_V_##k, line, col \
    }

static const struct vcase cases[] = {
        /* scopes and the separate passes */
        OK_("permit(principal, action, resource);"),
        OK_("permit(principal == User::\"a\", action == Action::\"read\", resource);"),
        BAD("permit(principal == Doc::\"a\", action == Action::\"read\", resource);",
            INVALID_ACTION_APPLICATION, 1, 1),
        BAD("permit(principal, action == Action::\"nope\", resource);", UNRECOGNIZED_ACTION, 1, 19),
        BAD("permit(principal, action == Action::\"group1\", resource);",
            INVALID_ACTION_APPLICATION, 1, 1),
        OK_("permit(principal, action in Action::\"group1\", resource);"),
        OK_("permit(principal is User, action, resource is Color);"),
        BAD("permit(principal is Group, action == Action::\"read\", resource);",
            INVALID_ACTION_APPLICATION, 1, 1),
        OK_("permit(principal in Group::\"g\", action == Action::\"read\", resource);"),
        BAD("permit(principal is Group in User::\"u\", action, resource);",
            INVALID_ACTION_APPLICATION, 1, 1),
        BAD("permit(principal, action, resource == Color::\"blue\");", INVALID_ENUM_ENTITY, 1, 27),
        BAD("permit(principal is Nope, action, resource);", UNRECOGNIZED_ENTITY_TYPE, 1, 8),
        /* attributes and capabilities */
        BAD("principal.nick == \"x\"", UNSAFE_OPTIONAL_ATTR, 1, 44),
        OK_("principal has nick && principal.nick == \"x\""),
        BAD("principal has nick || principal.nick == \"x\"", UNSAFE_OPTIONAL_ATTR, 1, 66),
        OK_("if principal has nick then principal.nick == \"x\" else false"),
        BAD("(if principal has nick then true else false) && principal.nick == \"x\"",
            UNSAFE_OPTIONAL_ATTR, 1, 92),
        OK_("principal has manager.nick && principal.manager.nick == \"y\""),
        BAD("principal.addr.zip == 5", UNSAFE_OPTIONAL_ATTR, 1, 44),
        OK_("principal.addr has zip && principal.addr.zip == 5"),
        BAD("principal.foo == 5", ATTR_NOT_FOUND, 1, 44),
        OK_("principal has foo"),
        OK_("principal has foo && principal.foo == 1"), /* the left side is False */
        BAD("context.n > 3", UNSAFE_OPTIONAL_ATTR, 1, 44),
        OK_("(principal has nick || principal has nick) && principal.nick == \"z\""),
        BAD("(principal has nick || principal has manager) && principal.nick == \"z\"",
            UNSAFE_OPTIONAL_ATTR, 1, 93),
        OK_("(if principal.age > 0 then principal has nick else principal has nick) && "
            "principal.nick == \"z\""),
        BAD("{a: 1}.b == 1", ATTR_NOT_FOUND, 1, 44),
        OK_("{a: 1} has a"),
        /* tags */
        BAD("principal.getTag(\"x\") > 1", UNSAFE_TAG, 1, 44),
        OK_("principal.hasTag(\"x\") && principal.getTag(\"x\") > 1"),
        BAD("principal.hasTag(\"x\") && principal.getTag(\"y\") > 1", UNSAFE_TAG, 1, 69),
        BAD("resource.hasTag(\"x\") && resource.getTag(\"x\") == 1", INCOMPATIBLE_TYPES, 1, 68),
        BAD("action.getTag(\"x\") == 1", UNSAFE_TAG, 1, 44),
        /* strict-mode least upper bounds */
        BAD("[1, \"a\"].contains(1)", INCOMPATIBLE_TYPES, 1, 48),
        BAD("[].isEmpty()", EMPTY_SET, 1, 44),
        OK_("1 == \"a\""), /* two literals: False */
        BAD("principal.age == \"a\"", INCOMPATIBLE_TYPES, 1, 44),
        OK_("principal == resource"), /* different entity types: False, not an error */
        BAD("principal.name == resource", INCOMPATIBLE_TYPES, 1, 44),
        BAD("(if principal.age > 1 then 1 else \"a\") == 1", INCOMPATIBLE_TYPES, 1, 45),
        OK_("(if true then 1 else \"a\") == 1"),
        OK_("{a: 1} == {a: 2}"),
        BAD("{a: 1} == {b: 2}", INCOMPATIBLE_TYPES, 1, 44),
        BAD("[principal, resource].isEmpty()", INCOMPATIBLE_TYPES, 1, 56),
        BAD("principal.addr == {street: \"x\", zip: 1}", INCOMPATIBLE_TYPES, 1, 44),
        /* short circuits skip the other operand */
        OK_("false && (1 + \"a\" == 2)"),
        OK_("true || (1 + \"a\" == 2)"),
        BAD("principal.age > 1 || (1 + \"a\" == 2)", UNEXPECTED_TYPE, 1, 70),
        /* entity literals in conditions */
        BAD("Color::\"blue\" == resource", INVALID_ENUM_ENTITY, 1, 44),
        BAD("false && Nope::\"x\" == resource", UNRECOGNIZED_ENTITY_TYPE, 1, 53),
        OK_("false && [] == [1]"),
        BAD("principal is Nope", UNRECOGNIZED_ENTITY_TYPE, 1, 44),
        OK_("principal is Action"),
        /* operators */
        BAD("principal.age * \"x\" > 0", UNEXPECTED_TYPE, 1, 60),
        BAD("principal.age like \"a*\"", UNEXPECTED_TYPE, 1, 44),
        BAD("principal.age", UNEXPECTED_TYPE, 1, 44),
        BAD("!principal.age", UNEXPECTED_TYPE, 1, 45),
        BAD("principal in \"a\"", UNEXPECTED_TYPE, 1, 44),
        OK_("principal in principal.friends"),
        OK_("action in Action::\"group1\""),
        BAD("principal.roles.containsAny([1])", INCOMPATIBLE_TYPES, 1, 44),
        /* extensions */
        OK_("ip(\"1.2.3.4\").isIpv4()"),
        BAD("ip(\"1.2.3.400\").isIpv4()", EXT_ARG, 1, 47),
        BAD("ip(principal.name).isIpv4()", EXT_NONLITERAL, 1, 44),
        BAD("decimal(\"1.23456\") == decimal(\"1.0\")", EXT_ARG, 1, 52),
        BAD("decimal(\"1.0\", \"2.0\") == decimal(\"1.0\")", EXT_CALL, 1, 44),
        OK_("principal.bal.lessThan(decimal(\"1.0\"))"),
        BAD("principal.bal < decimal(\"1.0\")", UNEXPECTED_TYPE, 1, 44),
        OK_("principal.born < datetime(\"2024-01-01\")"),
        OK_("principal.born.offset(duration(\"1h\")) > principal.born"),
        BAD("duration(\"1x\") == principal.ttl", EXT_ARG, 1, 53),
        BAD("principal.ttl < principal.born", UNEXPECTED_TYPE, 1, 60),
        BAD("principal.ip.isInRange(principal.bal)", UNEXPECTED_TYPE, 1, 67),
        BAD("principal.ip.isIpv4(1)", EXT_CALL, 1, 44),
        /* action-specific context */
        OK_("permit(principal, action == Action::\"read\", resource) when { context has n && "
            "context.n > 3 };"),
        BAD("permit(principal, action == Action::\"read\", resource) when { context == {ip: "
            "ip(\"1.1.1.1\"), flag: true, n: 1} };",
            INCOMPATIBLE_TYPES, 1, 62),
        BAD("permit(principal, action == Action::\"admin\", resource) when { "
            "context.ip.isLoopback() };",
            ATTR_NOT_FOUND, 1, 63),
        OK_("permit(principal, action == Action::\"admin\", resource is Group) when { "
            "resource.name == \"x\" };"),
        BAD("permit(principal, action == Action::\"view\", resource) when { resource.name == "
            "\"x\" };",
            ATTR_NOT_FOUND, 1, 62),
};

TEST(table)
{
    struct wd_cedar_schema *s = schema();
    int bad = 0;
    CHECK(s != NULL);
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        char text[1024];
        struct wd_cedar_validation *v = NULL;
        if (strncmp(cases[i].cond, "permit", 6) == 0) {
            snprintf(text, sizeof(text), "%s", cases[i].cond);
        } else {
            /* the condition starts at column 44 */
            snprintf(text, sizeof(text), "permit(principal, action, resource) when { %s };",
                     cases[i].cond);
        }
        CHECK_OK(validate(s, text, &v));
        const struct wd_cedar_vissue *e = first_error(v);
        int kind = e == NULL ? 0 : (int)e->kind;
        unsigned line = e == NULL ? 0 : e->line, col = e == NULL ? 0 : e->col;
        if (kind != cases[i].kind || line != cases[i].line || col != cases[i].col) {
            printf("case %zu `%s`: got kind %d at %u:%u (%s), want %d at %u:%u\n", i, cases[i].cond,
                   kind, line, col, e == NULL ? "valid" : e->msg, cases[i].kind, cases[i].line,
                   cases[i].col);
            bad++;
        }
        wd_cedar_validation_free(v);
    }
    CHECK_EQ(bad, 0);
    wd_cedar_schema_free(s);
}

TEST(messages_and_warnings)
{
    struct wd_cedar_schema *s = schema();
    struct wd_cedar_policyset *ps = NULL;
    struct wd_cedar_validation *v = NULL;
    const char *text = "permit(principal, action, resource) when { principal.nick == \"x\" };\n"
                       "forbid(principal, action, resource) when { 1 == 2 };\n"
                       "permit(principal is User, action, resource is Group) when { true };\n";
    CHECK(s != NULL);
    CHECK_OK(wd_cedar_policyset_parse("p", text, strlen(text), &ps, NULL));
    CHECK_OK(wd_cedar_validate(s, ps, &v));
    /* one error for policy0 (the same in every environment: reported once), and an
       "impossible policy" warning for policy1 (1 == 2 is False everywhere) */
    CHECK_EQ(wd_cedar_validation_error_count(v), 1);
    CHECK_EQ(wd_cedar_validation_count(v), 2);
    const struct wd_cedar_vissue *e = wd_cedar_validation_issue(v, 0);
    CHECK_STR(e->policy_id, "policy0");
    CHECK(!e->warning);
    CHECK_STR(e->msg, "for policy `policy0`, unable to guarantee safety of access to optional "
                      "attribute `nick` on entity type `User`");
    const struct wd_cedar_vissue *w = wd_cedar_validation_issue(v, 1);
    CHECK_STR(w->policy_id, "policy1");
    CHECK(w->warning);
    CHECK_EQ(w->kind, WD_CEDAR_V_IMPOSSIBLE_POLICY);
    CHECK(wd_cedar_validation_issue(v, 2) == NULL);
    wd_cedar_validation_free(v);
    wd_cedar_policyset_free(ps);
    wd_cedar_schema_free(s);
}

TEST(templates_and_links)
{
    struct wd_cedar_schema *s = schema();
    struct wd_cedar_policyset *ps = NULL;
    struct wd_cedar_validation *v = NULL;
    struct wd_diag d = {{0}};
    const char *text = "permit(principal == ?principal, action == Action::\"read\", resource)\n"
                       "when { principal.age > 1 };\n"
                       "permit(principal, action, resource in ?resource) when { resource.nope };\n";
    CHECK(s != NULL);
    CHECK_OK(wd_cedar_policyset_parse("p", text, strlen(text), &ps, &d));
    CHECK_OK(wd_cedar_policyset_link(ps, "policy0", "link0", "User::\"alice\"", NULL, &d));
    CHECK_OK(wd_cedar_policyset_link(ps, "policy0", "link1", "Nope::\"x\"", NULL, &d));
    CHECK_OK(wd_cedar_validate(s, ps, &v));
    /* link1 names an undeclared type (and so no action applies to it); template policy1
       reads an undeclared attribute of Doc, Group and Color (one error per entity type, as
       the reference reports) */
    CHECK_EQ(wd_cedar_validation_error_count(v), 5);
    const struct wd_cedar_vissue *e = first_error(v);
    CHECK_STR(e->policy_id, "link1");
    CHECK_EQ(e->kind, WD_CEDAR_V_UNRECOGNIZED_ENTITY_TYPE);
    bool found = false;
    for (size_t i = 0; i < wd_cedar_validation_count(v); i++) {
        const struct wd_cedar_vissue *x = wd_cedar_validation_issue(v, i);
        if (strcmp(x->policy_id, "policy1") == 0 && x->kind == WD_CEDAR_V_ATTR_NOT_FOUND) {
            found = true;
        }
    }
    CHECK(found);
    wd_cedar_validation_free(v);
    wd_cedar_policyset_free(ps);
    wd_cedar_schema_free(s);
}

TEST(deep_and_wide)
{
    /* many conditions are checked iteratively; capabilities flow across them */
    struct wd_cedar_schema *s = schema();
    struct wd_buf b;
    struct wd_cedar_validation *v = NULL;
    CHECK(s != NULL);
    wd_buf_init(&b, 1 << 22);
    CHECK_OK(wd_buf_append_str(&b, "permit(principal, action, resource) when { principal has "
                                   "nick }"));
    for (int i = 0; i < 5000; i++) {
        CHECK_OK(wd_buf_append_str(&b, " when { principal.nick == \"a\" }"));
    }
    CHECK_OK(wd_buf_append_str(&b, ";"));
    CHECK_OK(validate(s, wd_buf_str(&b), &v));
    CHECK_EQ(wd_cedar_validation_error_count(v), 0);
    wd_cedar_validation_free(v);
    wd_buf_cleanup(&b);
    wd_cedar_schema_free(s);
}

/*
 * Every error is reported: several in one policy (each operand, conjunct and condition is
 * checked after an error), errors of several policies, and one error found in two
 * environments reported once. cedar-wasm 4.13's validate() reports the same nine errors at
 * the same places for this text.
 */
static const char all_errors_text[] =
        "permit(principal, action == Action::\"read\", resource)\n"
        "when { principal.nope == 1 && 1 + \"a\" > 0 }\n"
        "unless { context.flag like \"x\" };\n"
        "permit(principal, action == Action::\"read\", resource)\n"
        "when { [1, \"a\"].contains(1) || resource.owner.age < \"x\" };\n"
        "permit(principal, action, resource);\n"
        "permit(principal, action in [Action::\"read\", Action::\"write\"], resource)\n"
        "when { principal.zzz };\n"
        "permit(principal, action == Action::\"read\", resource)\n"
        "when { {a: principal.bal.lessThan(1), b: ip(\"x\"), c: -\"s\"}.a };\n";

TEST(all_errors)
{
    struct wd_cedar_schema *s = schema();
    struct wd_cedar_policyset *ps = NULL;
    struct wd_cedar_validation *v = NULL;
    static const struct {
        const char *policy;
        int kind;
        unsigned line, col;
    } want[] = {
            {"policy0", WD_CEDAR_V_ATTR_NOT_FOUND, 2, 8},
            {"policy0", WD_CEDAR_V_UNEXPECTED_TYPE, 2, 35},
            {"policy0", WD_CEDAR_V_UNEXPECTED_TYPE, 3, 10},
            {"policy1", WD_CEDAR_V_INCOMPATIBLE_TYPES, 5, 12},
            {"policy1", WD_CEDAR_V_UNEXPECTED_TYPE, 5, 53},
            {"policy3", WD_CEDAR_V_ATTR_NOT_FOUND, 8, 8},
            {"policy4", WD_CEDAR_V_UNEXPECTED_TYPE, 10, 35},
            {"policy4", WD_CEDAR_V_EXT_ARG, 10, 45},
            {"policy4", WD_CEDAR_V_UNEXPECTED_TYPE, 10, 55},
    };
    CHECK(s != NULL);
    CHECK_OK(wd_cedar_policyset_parse("p", all_errors_text, strlen(all_errors_text), &ps, NULL));
    CHECK_OK(wd_cedar_validate(s, ps, &v));
    CHECK_EQ(wd_cedar_validation_error_count(v), WD_ARRAY_LEN(want));
    CHECK_EQ(wd_cedar_validation_count(v), WD_ARRAY_LEN(want));
    for (size_t i = 0; i < WD_ARRAY_LEN(want); i++) {
        const struct wd_cedar_vissue *is = wd_cedar_validation_issue(v, i);
        CHECK(is != NULL);
        if (is == NULL) {
            break;
        }
        CHECK_STR(is->policy_id, want[i].policy);
        CHECK_EQ(is->kind, want[i].kind);
        CHECK_EQ(is->line, want[i].line);
        CHECK_EQ(is->col, want[i].col);
        CHECK(!is->warning);
    }
    CHECK_STR(wd_cedar_validation_issue(v, 1)->msg,
              "for policy `policy0`, unexpected type: expected Long but saw String");
    CHECK_STR(wd_cedar_validation_issue(v, 2)->msg,
              "for policy `policy0`, unexpected type: expected String but saw Bool");
    wd_cedar_validation_free(v);
    /* Every allocation failure while recording the errors is WD_ENOMEM, without leaks. */
    v = NULL;
    CHECK_ALLOC_SWEEP(wd_cedar_validate(s, ps, &v), (wd_cedar_validation_free(v), v = NULL));
    wd_cedar_policyset_free(ps);
    wd_cedar_schema_free(s);
}

/*
 * A failed expression keeps a recovery type (as in Cedar), so checking goes on around it:
 * a failed `if` condition still has both branches checked and joined, a failed `+` is
 * still a Long, a failed method call still has its result type. Counts as cedar-wasm 4.13.
 */
TEST(errors_in_branches)
{
    struct wd_cedar_schema *s = schema();
    struct wd_cedar_validation *v = NULL;
    CHECK(s != NULL);
    /* the attribute, the string operand of +, then Long and Bool (`"x" + 1 == 2`, the +
       recovering as a Long) not compatible */
    CHECK_OK(validate(s,
                      "permit(principal, action == Action::\"read\", resource)\n"
                      "when { if principal.foo then 1 else \"x\" + 1 == 2 };",
                      &v));
    CHECK_EQ(wd_cedar_validation_error_count(v), 3);
    CHECK_EQ(wd_cedar_validation_issue(v, 0)->kind, WD_CEDAR_V_ATTR_NOT_FOUND);
    CHECK_EQ(wd_cedar_validation_issue(v, 1)->kind, WD_CEDAR_V_UNEXPECTED_TYPE);
    CHECK_EQ(wd_cedar_validation_issue(v, 2)->kind, WD_CEDAR_V_INCOMPATIBLE_TYPES);
    wd_cedar_validation_free(v);
    v = NULL;
    /* a failed operand whose recovery type is False still short-circuits `&&`: the empty
       set on the right is not checked (cedar-wasm: 1 error) */
    CHECK_OK(validate(s,
                      "permit(principal, action == Action::\"read\", resource)\n"
                      "when { ([\"\"].containsAny([false]) && false) && [].isEmpty() };",
                      &v));
    CHECK_EQ(wd_cedar_validation_error_count(v), 1);
    CHECK_EQ(wd_cedar_validation_issue(v, 0)->kind, WD_CEDAR_V_INCOMPATIBLE_TYPES);
    wd_cedar_validation_free(v);
    v = NULL;
    /* an unsafe optional attribute keeps its type: `principal.nick + 1` also reports the
       String operand of + */
    CHECK_OK(validate(s,
                      "permit(principal, action == Action::\"read\", resource)\n"
                      "when { principal.nick + 1 > 0 && decimal(\"1.0\").lessThan(1) };",
                      &v));
    CHECK_EQ(wd_cedar_validation_error_count(v), 3);
    CHECK_EQ(wd_cedar_validation_issue(v, 0)->kind, WD_CEDAR_V_UNSAFE_OPTIONAL_ATTR);
    CHECK_EQ(wd_cedar_validation_issue(v, 1)->kind, WD_CEDAR_V_UNEXPECTED_TYPE);
    CHECK_EQ(wd_cedar_validation_issue(v, 2)->kind, WD_CEDAR_V_UNEXPECTED_TYPE);
    wd_cedar_validation_free(v);
    wd_cedar_schema_free(s);
}

TEST(arguments)
{
    struct wd_cedar_validation *v = (struct wd_cedar_validation *)1;
    struct wd_cedar_schema *s = schema();
    CHECK(s != NULL);
    CHECK_ERR(wd_cedar_validate(s, NULL, &v), WD_EINVAL);
    CHECK_ERR(wd_cedar_validate(NULL, NULL, &v), WD_EINVAL);
    CHECK_EQ(wd_cedar_validation_count(NULL), 0);
    CHECK_EQ(wd_cedar_validation_error_count(NULL), 0);
    CHECK(wd_cedar_validation_issue(NULL, 0) == NULL);
    wd_cedar_validation_free(NULL);
    wd_cedar_schema_free(s);
}

TEST(alloc_sweep)
{
    struct wd_cedar_schema *s = schema();
    struct wd_cedar_policyset *ps = NULL;
    struct wd_cedar_validation *v = NULL;
    const char *text = "permit(principal, action, resource) when { principal has nick && "
                       "principal.nick == \"x\" && principal has addr.zip && [1, 2].contains(3) "
                       "&& (if context has n then context.n else 1) > 0 };\n"
                       "forbid(principal is User in Group::\"g\", action in [Action::\"read\"], "
                       "resource) unless { resource.owner.getTag(\"x\") == 1 };\n";
    CHECK(s != NULL);
    CHECK_OK(wd_cedar_policyset_parse("p", text, strlen(text), &ps, NULL));
    CHECK_ALLOC_SWEEP(wd_cedar_validate(s, ps, &v), (wd_cedar_validation_free(v), v = NULL));
    wd_cedar_policyset_free(ps);
    wd_cedar_schema_free(s);
}

int main(void)
{
    RUN(table);
    RUN(messages_and_warnings);
    RUN(templates_and_links);
    RUN(deep_and_wide);
    RUN(all_errors);
    RUN(errors_in_branches);
    RUN(arguments);
    RUN(alloc_sweep);
    return HARNESS_END("cedar_validate");
}
