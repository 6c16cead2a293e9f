/*
 * Unit tests for Cedar schemas: the human format parser, the JSON loader, name resolution,
 * the resolved model, request validation and the JSON guidance callbacks. The accept /
 * reject outcome of every negative case here was checked against @cedar-policy/cedar-wasm
 * 4.13 (checkParseSchema / isAuthorized with validateRequest).
 */
#include <stdlib.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/cedar.h"
#include "warden/err.h"

#include "cedar/schema.h"
#include "harness.h"

static struct wd_cedar_schema *parse_ok(const char *text)
{
    struct wd_cedar_schema *s = NULL;
    struct wd_diag d = {{0}};
    int rc = wd_cedar_schema_parse("in", text, strlen(text), &s, &d);
    if (rc != WD_OK) {
        printf("unexpected schema error %d: %s\n", rc, d.msg);
        return NULL;
    }
    return s;
}

static struct wd_cedar_schema *parse_json_ok(const char *text)
{
    struct wd_cedar_schema *s = NULL;
    struct wd_diag d = {{0}};
    int rc = wd_cedar_schema_parse_json("in", text, strlen(text), &s, &d);
    if (rc != WD_OK) {
        printf("unexpected schema error %d: %s\n", rc, d.msg);
        return NULL;
    }
    return s;
}

/* The attribute type of entity type ety, or NULL. */
static const struct wd_cedar_rattr *attr_of(const struct wd_cedar_schema *s, const char *ety,
                                            const char *attr)
{
    const struct wd_cedar_ety *e = wd_cedar_schema_ety(s, ety, strlen(ety));
    return e == NULL ? NULL : wd_cedar_type_attr(e->shape, attr, strlen(attr));
}

static const char *type_str(const struct wd_cedar_type *t, char *buf, size_t cap)
{
    struct wd_buf b;
    wd_buf_init(&b, cap - 1);
    if (wd_cedar_type_print(t, &b) != WD_OK) {
        wd_buf_cleanup(&b);
        return "(error)";
    }
    memcpy(buf, wd_buf_str(&b), b.len + 1);
    wd_buf_cleanup(&b);
    return buf;
}

static const char *attr_type_str(const struct wd_cedar_schema *s, const char *ety, const char *attr,
                                 char *buf, size_t cap)
{
    const struct wd_cedar_rattr *a = attr_of(s, ety, attr);
    return a == NULL ? "(none)" : type_str(a->type, buf, cap);
}

static const char example[] = "// PhotoFlash, adapted from the Cedar documentation\n"
                              "namespace PhotoFlash {\n"
                              "  entity User in UserGroup = {\n"
                              "    \"department\": String,\n"
                              "    jobLevel: Long,\n"
                              "    nick?: String,\n"
                              "  } tags Long;\n"
                              "  entity UserGroup in [Org];\n"
                              "  entity Org;\n"
                              "  entity Album in Album = { account: Account, \"private\": Bool };\n"
                              "  entity Account { admins?: Set<User>, owner: User };\n"
                              "  @doc(\"a photo\")\n"
                              "  entity Photo in Album { account: Account, meta: Meta };\n"
                              "  entity Color enum [\"red\", \"green\", \"red\"];\n"
                              "  type Meta = { size: Long, where?: ipaddr, at: datetime };\n"
                              "  action \"uploadPhoto\" appliesTo {\n"
                              "    principal: User,\n"
                              "    resource: [Album],\n"
                              "    context: { authenticated: Bool, photo: { file_size: Long } },\n"
                              "  };\n"
                              "  action viewPhoto, \"view photo\" in [\"read\"] appliesTo {\n"
                              "    principal: [User, UserGroup], resource: Photo, context: Ctx\n"
                              "  };\n"
                              "  action read in [Action::\"all\"];\n"
                              "  action all;\n"
                              "  type Ctx = { ip?: __cedar::ipaddr };\n"
                              "}\n";

TEST(human_model)
{
    char b[256];
    struct wd_cedar_schema *s = parse_ok(example);
    CHECK(s != NULL);
    CHECK_EQ(s->nety, 7);
    CHECK_STR(s->etys[0]->name, "PhotoFlash::User");
    /* attributes: quoted and plain names, required and optional, common types inlined */
    CHECK_STR(attr_type_str(s, "PhotoFlash::User", "department", b, sizeof(b)), "String");
    CHECK(attr_of(s, "PhotoFlash::User", "department")->required);
    CHECK(!attr_of(s, "PhotoFlash::User", "nick")->required);
    CHECK(attr_of(s, "PhotoFlash::User", "nope") == NULL);
    CHECK_STR(attr_type_str(s, "PhotoFlash::Account", "admins", b, sizeof(b)),
              "Set<PhotoFlash::User>");
    CHECK_STR(attr_type_str(s, "PhotoFlash::Photo", "meta", b, sizeof(b)),
              "{at: datetime, size: Long, where?: ipaddr}");
    const struct wd_cedar_ety *user = wd_cedar_schema_ety(s, "PhotoFlash::User", 16);
    CHECK(user != NULL);
    CHECK(user->tags != NULL && user->tags->kind == WD_CEDAR_T_LONG);
    /* hierarchy: User in UserGroup in Org, transitively */
    CHECK_EQ(user->nparents, 1);
    CHECK_EQ(user->nancestors, 2);
    const struct wd_cedar_ety *org = wd_cedar_schema_ety(s, "PhotoFlash::Org", 15);
    const struct wd_cedar_ety *album = wd_cedar_schema_ety(s, "PhotoFlash::Album", 17);
    CHECK(wd_cedar_ety_has_ancestor(user, org));
    CHECK(!wd_cedar_ety_has_ancestor(org, user));
    CHECK(wd_cedar_ety_has_ancestor(album, album)); /* entity Album in Album */
    /* enums: duplicates dropped */
    const struct wd_cedar_ety *color = wd_cedar_schema_ety(s, "PhotoFlash::Color", 17);
    CHECK(color != NULL && color->is_enum);
    CHECK_EQ(color->nchoices, 2);
    CHECK(wd_cedar_ety_valid_id(color, "green", 5));
    CHECK(!wd_cedar_ety_valid_id(color, "blue", 4));
    CHECK(wd_cedar_ety_valid_id(user, "anything", 8));
    /* actions */
    CHECK_EQ(s->nact, 5);
    const struct wd_cedar_act *up =
            wd_cedar_schema_act(s, "PhotoFlash::Action", 18, "uploadPhoto", 11);
    CHECK(up != NULL);
    CHECK_EQ(up->nprincipals, 1);
    CHECK_EQ(up->nresources, 1);
    CHECK_STR(type_str(up->context, b, sizeof(b)),
              "{authenticated: Bool, photo: {file_size: Long}}");
    const struct wd_cedar_act *vp =
            wd_cedar_schema_act(s, "PhotoFlash::Action", 18, "view photo", 10);
    const struct wd_cedar_act *all = wd_cedar_schema_act(s, "PhotoFlash::Action", 18, "all", 3);
    CHECK(vp != NULL && all != NULL);
    CHECK_EQ(vp->nprincipals, 2);
    CHECK_STR(type_str(vp->context, b, sizeof(b)), "{ip?: ipaddr}");
    CHECK(wd_cedar_act_has_ancestor(vp, all)); /* view photo in read in all */
    CHECK_EQ(vp->nancestors, 2);
    CHECK_EQ(all->nprincipals, 0); /* no appliesTo: applies to nothing */
    CHECK(wd_cedar_schema_is_action_type(s, "PhotoFlash::Action", 18));
    CHECK(!wd_cedar_schema_is_action_type(s, "Action", 6));
    wd_cedar_schema_free(s);
}

TEST(public_accessors)
{
    struct wd_cedar_schema *s = parse_ok(example);
    size_t n;
    CHECK(s != NULL);
    CHECK_EQ(wd_cedar_schema_entity_type_count(s), 7);
    CHECK_STR(wd_cedar_schema_entity_type_name(s, 2), "PhotoFlash::Org");
    CHECK(wd_cedar_schema_entity_type_name(s, 7) == NULL);
    CHECK_EQ(wd_cedar_schema_action_count(s), 5);
    CHECK_STR(wd_cedar_schema_action_type(s, 1, &n), "PhotoFlash::Action");
    CHECK_EQ(n, 18);
    CHECK_STR(wd_cedar_schema_action_id(s, 2, &n), "view photo");
    CHECK_EQ(n, 10);
    CHECK_EQ(wd_cedar_schema_action_parent_count(s, 2), 1);
    CHECK_STR(wd_cedar_schema_action_id(s, wd_cedar_schema_action_parent(s, 2, 0), NULL), "read");
    CHECK_EQ(wd_cedar_schema_action_parent_count(s, 4), 0);
    CHECK(wd_cedar_schema_action_id(s, 5, NULL) == NULL);
    CHECK_EQ(wd_cedar_schema_action_count(NULL), 0);
    wd_cedar_schema_free(s);
    wd_cedar_schema_free(NULL);
}

TEST(name_resolution)
{
    char b[128];
    /* common type > entity type > builtin; the namespace before the empty namespace */
    struct wd_cedar_schema *s = parse_ok("type T = { x: Long };\n"
                                         "entity Long;\n"
                                         "namespace N {\n"
                                         "  type ipaddr = Bool;\n"
                                         "  entity decimal;\n"
                                         "  type E = String;\n"
                                         "  entity E;\n"
                                         "  entity X { a: ipaddr, b: decimal, c: Long, d: T,\n"
                                         "             e: __cedar::Long, f: E, g: N::E,\n"
                                         "             h: duration, i: __cedar::ipaddr,\n"
                                         "             j: Set<X> };\n"
                                         "}\n");
    CHECK(s != NULL);
    CHECK_STR(attr_type_str(s, "N::X", "a", b, sizeof(b)), "Bool");
    CHECK_STR(attr_type_str(s, "N::X", "b", b, sizeof(b)), "N::decimal");
    CHECK_STR(attr_type_str(s, "N::X", "c", b, sizeof(b)), "Long");
    CHECK(attr_of(s, "N::X", "c")->type->kind == WD_CEDAR_T_ENTITY);
    CHECK_STR(attr_type_str(s, "N::X", "d", b, sizeof(b)), "{x: Long}");
    CHECK(attr_of(s, "N::X", "e")->type->kind == WD_CEDAR_T_LONG);
    CHECK_STR(attr_type_str(s, "N::X", "f", b, sizeof(b)), "String");
    CHECK_STR(attr_type_str(s, "N::X", "g", b, sizeof(b)), "String");
    CHECK_STR(attr_type_str(s, "N::X", "h", b, sizeof(b)), "duration");
    CHECK_STR(attr_type_str(s, "N::X", "i", b, sizeof(b)), "ipaddr");
    CHECK_STR(attr_type_str(s, "N::X", "j", b, sizeof(b)), "Set<N::X>");
    wd_cedar_schema_free(s);
    /* action references: NS::Action::"x" first, then Action::"x" */
    s = parse_ok("action top;\n"
                 "namespace M { action b; }\n"
                 "namespace N { action a in [top, Action::\"local\", M::Action::\"b\"];\n"
                 "              action local; }\n");
    CHECK(s != NULL);
    const struct wd_cedar_act *a = wd_cedar_schema_act(s, "N::Action", 9, "a", 1);
    CHECK(a != NULL);
    CHECK_EQ(a->nparents, 3);
    CHECK_STR(a->parents[0]->type, "Action");
    CHECK_STR(a->parents[1]->type, "N::Action");
    CHECK_STR(a->parents[2]->type, "M::Action");
    wd_cedar_schema_free(s);
}

TEST(syntax_variants)
{
    /* everything here is accepted by the reference */
    static const char *const ok[] = {
            "",
            "// only a comment",
            "entity E;",
            "entity E {};",
            "entity E = {};",
            "entity E { a: Long, };",
            "entity E { a: Long, a: String };", /* the last one wins */
            "entity E\t{ x :Long }\t;",
            "entity E\xc2\xa0{ x: Long };", /* U+00A0 is whitespace */
            "entity A, B in [A] { x: Long } tags Long;",
            "entity E in [];",
            "entity E in E;",
            "entity E { \"\": Long, \"\\n\\t\\\\\\0\\x41\\u{1F600}\\u{4_1}\\'\": Long };",
            "entity E { \"a\nb\": Long };",
            "entity E { a: { b: { c?: Set<Set<Long>> } } };",
            "entity E enum [\"a\", \"a\", \"\"];",
            "entity F in [E]; entity E enum [\"a\"];",
            "entity namespace; entity Set; entity tags; entity E { a: Set };",
            "type namespace = Long; entity E { a: namespace };",
            "type ipaddr = Long; type decimal = ipaddr; entity E { a: decimal };",
            "type EntityOrCommon = Long;",
            "@a @b(\"c\") namespace N { @x type T = Long; @y action a; @if entity E; }",
            "@a entity E; @a entity F;",
            "entity E { @a @b x: Long, @c(\"\\u{0}\") y: String };",
            "namespace N {} namespace M::N {}",
            "namespace Action { entity E; }",
            "type Action = Long;",
            "entity E; action a appliesTo { principal: E, resource: E, };",
            "entity E; action a appliesTo { resource: [E, E], principal: E, context: {}, };",
            "entity E; action a appliesTo { principal: E, resource: E } attributes {};",
            "entity E; action \"x::y\", a, \"\";",
            "action a in Action::\"b\"; action b;",
            "namespace N { action a in Action::\"b\"; } action b;",
            "namespace N { action a in b; } action b;",
            "entity E; type T = {}; action a appliesTo { principal: E, resource: E, context: T };",
            ("entity E; type T = { a: Long }; type U = T;\n"
             "action a appliesTo { principal: E, resource: E, context: U };"),
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(ok); i++) {
        struct wd_cedar_schema *s = NULL;
        struct wd_diag d = {{0}};
        int rc = wd_cedar_schema_parse("in", ok[i], strlen(ok[i]), &s, &d);
        if (rc != WD_OK) {
            printf("case %zu: %s\n", i, d.msg);
        }
        CHECK_OK(rc);
        wd_cedar_schema_free(s);
    }
}

struct neg {
    const char *text;
    int rc;
    const char *msg;
};

static const struct neg human_neg[] = {
        /* syntax */
        {"entity E", WD_EPROTO, "in:1:9: unexpected end of input"},
        {"entity E;;", WD_EPROTO, "in:1:10: unexpected token `;`"},
        {";", WD_EPROTO, "in:1:1: unexpected token `;`"},
        {"entity E { , };", WD_EPROTO, "in:1:12: unexpected token `,`"},
        {"entity E =;", WD_EPROTO, "in:1:11: unexpected token `;`"},
        {"entity E { x: Long } = ;", WD_EPROTO, "in:1:22: unexpected token `=`"},
        {"entity E in [F, ]; entity F;", WD_EPROTO, "in:1:17: unexpected token `]`"},
        {"entity E enum [];", WD_EPROTO, "in:1:16: unexpected token `]`"},
        {"entity E in [F] enum [\"a\"]; entity F;", WD_EPROTO, "in:1:17: unexpected token `enum`"},
        {"entity E { a: ::E };", WD_EPROTO, "in:1:15: unexpected token `::`"},
        {"entity E { a: 1 };", WD_EPROTO, "in:1:15: unexpected token `1`"},
        {"/* block */ entity E;", WD_EPROTO, "in:1:1: invalid token"},
        {"entity \xc3\x89;", WD_EPROTO, "in:1:8: invalid token"},
        {"entity E {x: \"unterminated};", WD_EPROTO, "in:1:14: invalid token"},
        {"entity E\n  { x: Long }\n  extra;", WD_EPROTO, "in:3:3: unexpected token `extra`"},
        {"namespace N { namespace M { entity E; } }", WD_EPROTO,
         "in:1:15: unexpected token `namespace`"},
        {"@a() entity E;", WD_EPROTO, "in:1:4: unexpected token `)`"},
        {"entity E; action a in [];", WD_EPROTO, "in:1:24: unexpected token `]`"},
        {"entity E; action a in Action::b;", WD_EPROTO, "in:1:32: unexpected token `;`"},
        {"entity E; action a in Action::\"b\"::\"c\";", WD_EPROTO,
         "in:1:34: unexpected token `::`"},
        {"entity E; action a appliesTo {};", WD_EPROTO, "in:1:31: unexpected token `}`"},
        {"entity E; action a attributes { a: Long };", WD_EPROTO, "in:1:33: unexpected token `a`"},
        {"entity E \xff;", WD_EPROTO, "in:1:10: invalid UTF-8"},
        {"entity E { \"\\q\": Long };", WD_EPROTO, "in:1:12: invalid escape in string literal"},
        {"entity E { \"\\u{D800}\": Long };", WD_EPROTO,
         "in:1:12: invalid escape in string literal"},
        {"entity E { \"\\u{110000}\": Long };", WD_EPROTO,
         "in:1:12: invalid escape in string literal"},
        {"entity E { \"\\u{_41}\": Long };", WD_EPROTO,
         "in:1:12: invalid escape in string literal"},
        {"entity E { \"\\u{1234567}\": Long };", WD_EPROTO,
         "in:1:12: invalid escape in string literal"},
        {"entity E { \"\\x80\": Long };", WD_EPROTO, "in:1:12: invalid escape in string literal"},
        {"entity E { \"\\u0041\": Long };", WD_EPROTO, "in:1:12: invalid escape in string literal"},
        /* reserved identifiers and annotations */
        {"entity if;", WD_EPROTO, "in:1:8: `if` is a reserved identifier"},
        {"entity E { true: Bool };", WD_EPROTO, "in:1:12: `true` is a reserved identifier"},
        {"type in = Long;", WD_EPROTO, "in:1:6: `in` is a reserved identifier"},
        {"@doc(\"x\") @doc(\"y\") entity E;", WD_EPROTO, "in:1:12: duplicate annotations: `doc`"},
        {"entity E { @a @a x: Long };", WD_EPROTO, "in:1:16: duplicate annotations: `a`"},
        {"@a @a namespace N { entity E; }", WD_EPROTO, "in:1:5: duplicate annotations: `a`"},
        /* appliesTo */
        {"entity E; action a appliesTo { principal: [], resource: [E], context: {} };", WD_EPROTO,
         "in:1:32: for action `a`, `principal` is `[]`, which is invalid"},
        {"entity E; action a appliesTo { principal: E, resource: [] };", WD_EPROTO,
         "in:1:46: for action `a`, `resource` is `[]`, which is invalid"},
        {"entity E; action a appliesTo { context: {} };", WD_EPROTO,
         "in:1:18: missing `resource` declaration for `a`"},
        {"entity E; action a appliesTo { resource: E };", WD_EPROTO,
         "in:1:18: missing `principal` declaration for `a`"},
        {"entity E; action a appliesTo { principal: E, principal: E, resource: E };", WD_EPROTO,
         "in:1:46: duplicate `principal` declaration in action `a`"},
        {"entity E; action a appliesTo { context: {}, context: {}, resource: E, principal: E };",
         WD_EPROTO, "in:1:45: duplicate context declaration in action `a`"},
        /* declarations */
        {"type Long = String;", WD_ECONFIG,
         "in:1:6: this uses a reserved schema keyword: `Long` (not allowed as a common type "
         "name)"},
        {"type Boolean = String;", WD_ECONFIG,
         "in:1:6: this uses a reserved schema keyword: `Boolean` (not allowed as a common type "
         "name)"},
        {"type Extension = String;", WD_ECONFIG,
         "in:1:6: this uses a reserved schema keyword: `Extension` (not allowed as a common "
         "type name)"},
        {"entity A; entity A;", WD_ECONFIG, "in:1:18: `A` is declared twice"},
        {"entity E, F, E;", WD_ECONFIG, "in:1:14: `E` is declared twice"},
        {"type T = Long; type T = Long;", WD_ECONFIG, "in:1:21: `T` is declared twice"},
        {"entity E; action \"a\", a;", WD_ECONFIG,
         "in:1:23: action `Action::\"a\"` is declared "
         "twice"},
        {"namespace N { entity A; } namespace N { entity B; }", WD_ECONFIG,
         "in:1:37: duplicate namespace id: `N`"},
        {"namespace __cedar { entity A; }", WD_ECONFIG,
         "in:1:11: use of the reserved `__cedar` namespace"},
        {"namespace X::__cedar { entity A; }", WD_ECONFIG,
         "in:1:11: use of the reserved `__cedar` namespace"},
        {"entity __cedar;", WD_ECONFIG, "in:1:8: use of the reserved `__cedar` namespace"},
        {"type __cedar = Long;", WD_ECONFIG, "in:1:6: use of the reserved `__cedar` namespace"},
        {"entity Action;", WD_ECONFIG,
         "in:1:8: entity type `Action` declared in `entityTypes` list"},
        {"namespace N { entity Action; }", WD_ECONFIG,
         "in:1:22: entity type `Action` declared in `entityTypes` list"},
        {"type id = String; namespace Demo { entity User { name: id }; type id = String; }",
         WD_ECONFIG,
         "in:1:67: definition of `Demo::id` illegally shadows the existing definition of `id`"},
        {"entity F; namespace N { entity E in [F]; entity F; }", WD_ECONFIG,
         "in:1:49: definition of `N::F` illegally shadows the existing definition of `F`"},
        {"action b; namespace N { action b; }", WD_ECONFIG,
         "in:1:32: definition of `N::Action::\"b\"` illegally shadows the existing definition of "
         "`Action::\"b\"`"},
        /* resolution */
        {"entity E { a: Undefined };", WD_ECONFIG,
         "in:1:15: failed to resolve type: Undefined (not declared as a common or entity type)"},
        {"entity E { a: Set };", WD_ECONFIG,
         "in:1:15: failed to resolve type: Set (not declared as a common or entity type)"},
        {"entity E { a: Boolean };", WD_ECONFIG,
         "in:1:15: failed to resolve type: Boolean (not declared as a common or entity type)"},
        {"entity E { a: __cedar::Set };", WD_ECONFIG,
         "in:1:15: failed to resolve type: __cedar::Set (not declared as a common or entity "
         "type)"},
        {"entity E in [Undefined];", WD_ECONFIG, "in:1:14: undeclared entity type `Undefined`"},
        {"entity E tags Undefined;", WD_ECONFIG,
         "in:1:15: failed to resolve type: Undefined (not declared as a common or entity type)"},
        {"entity E in [T]; type T = Long;", WD_ECONFIG, "in:1:14: undeclared entity type `T`"},
        {"entity E; type T = E; entity F in [T];", WD_ECONFIG,
         "in:1:36: undeclared entity type `T`"},
        {"entity E; action a appliesTo { principal: Action, resource: E };", WD_ECONFIG,
         "in:1:43: undeclared entity type `Action`"},
        {"namespace N { entity E { a: T }; } namespace M { type T = Long; }", WD_ECONFIG,
         "in:1:29: failed to resolve type: T (not declared as a common or entity type)"},
        {"namespace A { entity E; } namespace A::B { entity F in [E]; }", WD_ECONFIG,
         "in:1:57: undeclared entity type `E`"},
        {"namespace N { entity E { a: M::T }; } namespace N::M { type T = Long; }", WD_ECONFIG,
         "in:1:29: failed to resolve type: M::T (not declared as a common or entity type)"},
        {"type T = Set<T>;", WD_ECONFIG, "in:1:6: cycle in common type references containing `T`"},
        {"type A = B; type B = { x: A };", WD_ECONFIG,
         "in:1:6: cycle in common type references containing `A`"},
        {"entity E; type C = Long;\naction a appliesTo { principal: E, resource: E, context: C };",
         WD_ECONFIG, "in:2:58: context for action `a` is declared with a type other than `Record`"},
        {"entity E; action a appliesTo { principal: E, resource: E, context: E };", WD_ECONFIG,
         "in:1:68: context for action `a` is declared with a type other than `Record`"},
        {"action a in c;", WD_ECONFIG, "in:1:13: undeclared action: Action::\"c\""},
        {"namespace N { action a in M::Foo::\"b\"; } namespace M { action \"b\"; }", WD_ECONFIG,
         "in:1:27: undeclared action: M::Foo::\"b\""},
        {"action a in a;", WD_ECONFIG,
         "in:1:8: cycle in action hierarchy containing `Action::\"a\"`"},
        {"action a in b;\naction b in a;", WD_ECONFIG,
         "in:1:8: cycle in action hierarchy containing `Action::\"a\"`"},
        {"action a, b in [a];", WD_ECONFIG,
         "in:1:8: cycle in action hierarchy containing `Action::\"a\"`"},
};

static void check_negs(const struct neg *cases, size_t n, bool json, int *bad)
{
    for (size_t i = 0; i < n; i++) {
        struct wd_cedar_schema *s = NULL;
        struct wd_diag d = {{0}};
        const char *t = cases[i].text;
        int rc = json ? wd_cedar_schema_parse_json("in", t, strlen(t), &s, &d)
                      : wd_cedar_schema_parse("in", t, strlen(t), &s, &d);
        if (rc != cases[i].rc || strcmp(d.msg, cases[i].msg) != 0 || s != NULL) {
            printf("case %zu (%s): got %d \"%s\", want %d \"%s\"\n", i, t, rc, d.msg, cases[i].rc,
                   cases[i].msg);
            (*bad)++;
        }
        wd_cedar_schema_free(s);
    }
}

TEST(human_negative)
{
    int bad = 0;
    check_negs(human_neg, WD_ARRAY_LEN(human_neg), false, &bad);
    CHECK_EQ(bad, 0);
}

TEST(limits_and_arguments)
{
    struct wd_cedar_schema *s = (struct wd_cedar_schema *)1;
    struct wd_diag d = {{0}};
    CHECK_ERR(wd_cedar_schema_parse("in", NULL, 3, &s, &d), WD_EINVAL);
    CHECK_ERR(wd_cedar_schema_parse("in", "", 0, NULL, &d), WD_EINVAL);
    CHECK_OK(wd_cedar_schema_parse(NULL, NULL, 0, &s, NULL));
    CHECK_EQ(wd_cedar_schema_entity_type_count(s), 0);
    wd_cedar_schema_free(s);
    /* deep nesting is a clean error, not a stack overflow */
    size_t depth = 5000;
    char *text = wd_malloc(depth * 6 + 64);
    CHECK(text != NULL);
    size_t n = (size_t)snprintf(text, 64, "entity E { a: ");
    for (size_t i = 0; i < depth; i++) {
        memcpy(text + n, "Set<", 4);
        n += 4;
    }
    memcpy(text + n, "Long", 4);
    n += 4;
    for (size_t i = 0; i < depth; i++) {
        text[n++] = '>';
    }
    memcpy(text + n, " };", 3);
    n += 3;
    int rc = wd_cedar_schema_parse("in", text, n, &s, &d);
    wd_free(text);
    CHECK_ERR(rc, WD_ELIMIT);
    CHECK_STR(d.msg, "in:1:271: types nested deeper than 64 levels");
    /* long chains of common types stop at the resolution depth limit */
    struct wd_buf b;
    wd_buf_init(&b, 1 << 20);
    for (int i = 0; i < 400; i++) {
        CHECK_OK(wd_buf_printf(&b, "type T%d = T%d;\n", i, i + 1));
    }
    CHECK_OK(wd_buf_printf(&b, "type T400 = Long;\n"));
    rc = wd_cedar_schema_parse("in", (const char *)b.p, b.len, &s, &d);
    wd_buf_cleanup(&b);
    CHECK_ERR(rc, WD_ELIMIT);
}

TEST(human_alloc_sweep)
{
    struct wd_cedar_schema *s = NULL;
    CHECK_ALLOC_SWEEP(wd_cedar_schema_parse("in", example, strlen(example), &s, NULL),
                      (wd_cedar_schema_free(s), s = NULL));
}

/* ---- JSON ---- */

static const char example_json[] =
        "{\n"
        " \"N\": {\n"
        "  \"commonTypes\": {\n"
        "   \"Ctx\": {\"type\": \"Record\", \"attributes\": {\n"
        "     \"ip\": {\"type\": \"Extension\", \"name\": \"ipaddr\", \"required\": false},\n"
        "     \"n\": {\"type\": \"Long\"}}},\n"
        "   \"ipaddr\": {\"type\": \"String\", \"annotations\": {\"doc\": \"shadows\"}}\n"
        "  },\n"
        "  \"entityTypes\": {\n"
        "   \"User\": {\"memberOfTypes\": [\"Group\"], \"shape\": {\"type\": \"Record\",\n"
        "     \"attributes\": {\"a\": {\"type\": \"ipaddr\"}, \"b\": {\"type\": \"Bool\"},\n"
        "      \"c\": {\"type\": \"EntityOrCommon\", \"name\": \"Group\"},\n"
        "      \"d\": {\"type\": \"Set\", \"element\": {\"type\": \"Entity\", \"name\": "
        "\"N::User\"}},\n"
        "      \"e\": {\"type\": \"__cedar::decimal\"}}},\n"
        "     \"tags\": {\"type\": \"Boolean\"}, \"annotations\": {\"doc\": \"a user\"}},\n"
        "   \"Group\": {\"memberOfTypes\": [\"Group\"]},\n"
        "   \"Kind\": {\"enum\": [\"x\", \"y\"]}\n"
        "  },\n"
        "  \"actions\": {\n"
        "   \"read\": {\"appliesTo\": {\"principalTypes\": [\"User\"],\n"
        "     \"resourceTypes\": [\"Group\", \"Kind\"], \"context\": {\"type\": \"Ctx\"}}},\n"
        "   \"write\": {\"memberOf\": [{\"id\": \"read\"}, {\"id\": \"g\", \"type\": "
        "\"Action\"}],\n"
        "     \"appliesTo\": {\"principalTypes\": [], \"resourceTypes\": [\"Group\"]}},\n"
        "   \"none\": {\"appliesTo\": null}\n"
        "  },\n"
        "  \"annotations\": {\"doc\": \"namespace N\"}\n"
        " },\n"
        " \"\": {\"entityTypes\": {}, \"actions\": {\"g\": {}}}\n"
        "}\n";

TEST(json_model)
{
    char b[256];
    struct wd_cedar_schema *s = parse_json_ok(example_json);
    CHECK(s != NULL);
    CHECK_EQ(s->nety, 3);
    CHECK_STR(attr_type_str(s, "N::User", "a", b, sizeof(b)), "String");
    CHECK_STR(attr_type_str(s, "N::User", "b", b, sizeof(b)), "Bool");
    CHECK_STR(attr_type_str(s, "N::User", "c", b, sizeof(b)), "N::Group");
    CHECK_STR(attr_type_str(s, "N::User", "d", b, sizeof(b)), "Set<N::User>");
    CHECK_STR(attr_type_str(s, "N::User", "e", b, sizeof(b)), "decimal");
    const struct wd_cedar_ety *u = wd_cedar_schema_ety(s, "N::User", 7);
    CHECK(u != NULL && u->tags != NULL && u->tags->kind == WD_CEDAR_T_BOOL);
    const struct wd_cedar_act *r = wd_cedar_schema_act(s, "N::Action", 9, "read", 4);
    CHECK(r != NULL);
    CHECK_STR(type_str(r->context, b, sizeof(b)), "{ip?: ipaddr, n: Long}");
    CHECK_EQ(r->nresources, 2);
    const struct wd_cedar_act *w = wd_cedar_schema_act(s, "N::Action", 9, "write", 5);
    CHECK(w != NULL);
    CHECK_EQ(w->nparents, 2);
    CHECK_STR(w->parents[1]->type, "Action");
    CHECK_EQ(w->nprincipals, 0); /* an empty list is allowed in JSON */
    const struct wd_cedar_act *none = wd_cedar_schema_act(s, "N::Action", 9, "none", 4);
    CHECK(none != NULL && none->nresources == 0);
    wd_cedar_schema_free(s);
}

static const struct neg json_neg[] = {
        {"[]", WD_ECONFIG, "in:1:1: a schema is a JSON object of namespaces"},
        {"{\"\": {\"entityTypes\": {}}}", WD_ECONFIG, "in:1:6: missing key 'actions'"},
        {"{\"\": {\"actions\": {}}}", WD_ECONFIG, "in:1:6: missing key 'entityTypes'"},
        {"{\"\": {\"entityTypes\": {}, \"actions\": {}, \"foo\": 1}}", WD_ECONFIG,
         "in:1:41: unknown key 'foo'"},
        {"{\"\": {\"entityTypes\": {\"E\": {\"foo\": 1}}, \"actions\": {}}}", WD_ECONFIG,
         "in:1:29: unknown key 'foo'"},
        {"{\"\": {\"entityTypes\": {}, \"actions\": {\"a\": {\"foo\": 1}}}}", WD_ECONFIG,
         "in:1:44: unknown key 'foo'"},
        {"{\"\": {\"entityTypes\": {}, \"actions\": {\"a\": {\"attributes\": {}}}}}", WD_ECONFIG,
         "in:1:58: unsupported feature: action 'a' declared with attributes"},
        {"{\"\": {\"entityTypes\": {}, \"actions\": {\"a\": {\"appliesTo\": {}}}}}", WD_ECONFIG,
         "in:1:57: missing key 'principalTypes'"},
        {"{\"\": {\"entityTypes\": {}, \"actions\": {\"a\": {\"memberOf\": [{\"id\": \"b\", \"x\": "
         "1}]}, \"b\": {}}}}",
         WD_ECONFIG, "in:1:69: unknown key 'x'"},
        {"{\"\": {\"entityTypes\": {\"E\": {\"enum\": []}}, \"actions\": {}}}", WD_ECONFIG,
         "in:1:37: 'enum' must not be empty"},
        {"{\"\": {\"entityTypes\": {\"E\": {\"enum\": [\"a\"], \"memberOfTypes\": []}}, "
         "\"actions\": {}}}",
         WD_ECONFIG, "in:1:61: an enumerated entity type has only 'enum' and 'annotations'"},
        {"{\"\": {\"entityTypes\": {}, \"actions\": {}, \"annotations\": {\"a\": \"b\"}}}",
         WD_ECONFIG, "in:1:56: annotations are not allowed on the empty namespace"},
        {"{\"\": {\"entityTypes\": {\"E\": {\"annotations\": {\"a\": 1}}}, \"actions\": {}}}",
         WD_ECONFIG, "in:1:50: annotation 'a': expected a string"},
        {"{\"\": {\"entityTypes\": {\"E\": {\"shape\": {\"type\": \"Record\", \"attributes\": {}, "
         "\"additionalAttributes\": true}}}, \"actions\": {}}}",
         WD_ECONFIG, "in:1:99: unsupported feature: records with `additionalAttributes`"},
        {"{\"\": {\"entityTypes\": {\"E\": {\"shape\": {\"type\": \"Record\"}}}, \"actions\": {}}}",
         WD_ECONFIG, "in:1:38: missing key 'attributes'"},
        {"{\"\": {\"entityTypes\": {\"E\": {\"shape\": {\"type\": \"Set\", \"element\": {\"type\": "
         "\"Long\"}, \"name\": \"x\"}}}, \"actions\": {}}}",
         WD_ECONFIG, "in:1:91: unexpected key 'name' for type Set"},
        {"{\"\": {\"commonTypes\": {\"T\": {\"type\": \"Long\", \"required\": false}}, "
         "\"entityTypes\": {}, \"actions\": {}}}",
         WD_ECONFIG, "in:1:45: unknown key 'required'"},
        {"{\"\": {\"entityTypes\": {\"E\": {\"shape\": {\"type\": \"Long\"}}}, \"actions\": {}}}",
         WD_ECONFIG,
         "in:1:38: shape for entity type `E` is declared with a type other than "
         "`Record`"},
        {"{\"\": {\"entityTypes\": {\"E\": {\"shape\": {\"type\": \"Record\", \"attributes\": "
         "{\"a\": "
         "{\"type\": \"E\"}}}}}, \"actions\": {}}}",
         WD_ECONFIG, "in:1:77: failed to resolve type: E (not declared as a common type)"},
        {"{\"\": {\"commonTypes\": {\"T\": {\"type\": \"Long\"}}, \"entityTypes\": {\"E\": "
         "{\"shape\": "
         "{\"type\": \"Record\", \"attributes\": {\"a\": {\"type\": \"Entity\", \"name\": "
         "\"T\"}}}}}, \"actions\": {}}}",
         WD_ECONFIG, "in:1:117: failed to resolve type: T (not declared as an entity type)"},
        {"{\"\": {\"entityTypes\": {\"E\": {\"shape\": {\"type\": \"Record\", \"attributes\": "
         "{\"a\": "
         "{\"type\": \"Extension\", \"name\": \"foo\"}}}}}, \"actions\": {}}}",
         WD_ECONFIG, "in:1:77: unknown extension type `foo`"},
        {"{\"N:: M\": {\"entityTypes\": {}, \"actions\": {}}}", WD_ECONFIG,
         "in:1:11: invalid namespace 'N:: M'"},
        {"{\"if\": {\"entityTypes\": {}, \"actions\": {}}}", WD_ECONFIG,
         "in:1:8: invalid namespace 'if'"},
        {"{\"\": {\"entityTypes\": {\"if\": {}}, \"actions\": {}}}", WD_ECONFIG,
         "in:1:23: invalid name `if`"},
        {"{\"\": {\"entityTypes\": {\"A::B\": {}}, \"actions\": {}}}", WD_ECONFIG,
         "in:1:31: invalid entity type name 'A::B'"},
        {"{\"\": {\"entityTypes\": {}, \"actions\": {}}, \"\": {}}", WD_EPROTO,
         "in:1:42: duplicate key ''"},
        {"{\"\": {\"entityTypes\": {\"E\": {\"memberOfTypes\": [\"F\"]}}, \"actions\": {}}}",
         WD_ECONFIG, "in:1:47: undeclared entity type `F`"},
};

TEST(json_negative)
{
    int bad = 0;
    check_negs(json_neg, WD_ARRAY_LEN(json_neg), true, &bad);
    CHECK_EQ(bad, 0);
}

TEST(json_alloc_sweep)
{
    struct wd_cedar_schema *s = NULL;
    CHECK_ALLOC_SWEEP(
            wd_cedar_schema_parse_json("in", example_json, strlen(example_json), &s, NULL),
            (wd_cedar_schema_free(s), s = NULL));
}

TEST(load_file)
{
    struct wd_cedar_schema *s = NULL;
    struct wd_diag d = {{0}};
    CHECK_OK(wd_cedar_schema_load_file("tests/data/cedar/sample-data/sandbox_a/schema.cedarschema",
                                       &s, &d));
    CHECK(wd_cedar_schema_entity_type_count(s) > 0);
    wd_cedar_schema_free(s);
    s = NULL;
    CHECK_ERR(wd_cedar_schema_load_file("tests/data/cedar/no-such.cedarschema", &s, &d), WD_ENOENT);
    CHECK(s == NULL);
    CHECK_ERR(wd_cedar_schema_load_file(NULL, &s, &d), WD_EINVAL);
}

/* ---- request validation and JSON guidance ---- */

static const char req_schema[] =
        "entity U; entity C enum [\"x\"]; entity R;\n"
        "action a appliesTo { principal: [U, C], resource: R, context: { n: Long, o?: String,\n"
        "  u?: U, s?: Set<Long>, r?: { k: Bool }, ip?: ipaddr } };\n"
        "action b;\n";

/* Fill a request from JSON with the schema's guidance and validate it. */
static int check_req(const struct wd_cedar_schema *s, const char *json, char *why, size_t n)
{
    struct wd_cedar_json_schema g;
    struct wd_cedar_request *r = NULL;
    struct wd_diag d = {{0}};
    int rc;
    wd_cedar_schema_json_guide(s, &g);
    if (wd_cedar_request_new(&r) != WD_OK) {
        return WD_ENOMEM;
    }
    rc = wd_cedar_request_load_json(r, "req", json, strlen(json), &g, &d);
    if (rc == WD_OK) {
        rc = wd_cedar_schema_validate_request(s, r, &d);
    }
    snprintf(why, n, "%s", d.msg);
    wd_cedar_request_free(r);
    return rc;
}

TEST(request_validation)
{
    static const struct {
        const char *pt, *pid, *a, *rt, *rid, *ctx;
        int rc;
        const char *why;
    } cases[] = {
            {"U", "u", "a", "R", "r", "{\"n\": 1}", WD_OK, ""},
            {"U", "u", "a", "R", "r", "{\"n\": 1, \"extra\": 1}", WD_EPROTO,
             "context is not valid for action `Action::\"a\"`: attribute `extra` is not "
             "declared"},
            {"U", "u", "a", "R", "r", "{}", WD_EPROTO,
             "context is not valid for action `Action::\"a\"`: required attribute `n` is "
             "missing"},
            {"U", "u", "a", "R", "r", "{\"n\": \"1\"}", WD_EPROTO,
             "context is not valid for action `Action::\"a\"`: a string where Long is "
             "expected"},
            {"U", "u", "a", "R", "r",
             "{\"n\": 1, \"u\": {\"__entity\": {\"type\": \"R\", \"id\": \"x\"}}}", WD_EPROTO,
             "context is not valid for action `Action::\"a\"`: entity of type `R` where `U` is "
             "expected"},
            {"U", "u", "a", "R", "r", "{\"n\": 1, \"u\": {\"type\": \"U\", \"id\": \"x\"}}", WD_OK,
             ""},
            {"U", "u", "a", "R", "r", "{\"n\": 1, \"s\": [1, \"a\"]}", WD_EPROTO,
             "context is not valid for action `Action::\"a\"`: a string where Long is "
             "expected"},
            {"U", "u", "a", "R", "r", "{\"n\": 1, \"s\": []}", WD_OK, ""},
            {"U", "u", "a", "R", "r", "{\"n\": 1, \"r\": {\"k\": true, \"z\": 1}}", WD_EPROTO,
             "context is not valid for action `Action::\"a\"`: attribute `z` is not declared"},
            {"U", "u", "a", "R", "r", "{\"n\": 1, \"r\": {}}", WD_EPROTO,
             "context is not valid for action `Action::\"a\"`: required attribute `k` is "
             "missing"},
            {"U", "u", "a", "R", "r", "{\"n\": 1, \"ip\": \"1.2.3.4\"}", WD_OK, ""},
            {"U", "u", "a", "R", "r",
             "{\"n\": 1, \"ip\": {\"__extn\": {\"fn\": \"decimal\", \"arg\": \"1.0\"}}}", WD_EPROTO,
             "context is not valid for action `Action::\"a\"`: a decimal where ipaddr is "
             "expected"},
            {"C", "x", "a", "R", "r", "{\"n\": 1}", WD_OK, ""},
            {"C", "y", "a", "R", "r", "{\"n\": 1}", WD_EPROTO,
             "principal `C::\"y\"` is not one of the ids of enumerated type `C`"},
            {"R", "y", "a", "R", "r", "{\"n\": 1}", WD_EPROTO,
             "principal type `R` is not valid for action `Action::\"a\"`"},
            {"Z", "y", "a", "R", "r", "{\"n\": 1}", WD_EPROTO,
             "principal type `Z` is not declared in the schema"},
            {"U", "u", "zz", "R", "r", "{}", WD_EPROTO,
             "request's action `Action::\"zz\"` is not declared in the schema"},
            {"U", "u", "b", "R", "r", "{}", WD_EPROTO,
             "principal type `U` is not valid for action `Action::\"b\"`"},
            {"U", "u", "a", "U", "u", "{\"n\": 1}", WD_EPROTO,
             "resource type `U` is not valid for action `Action::\"a\"`"},
    };
    struct wd_cedar_schema *s = parse_ok(req_schema);
    CHECK(s != NULL);
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        char json[512], why[WD_DIAG_MAX];
        snprintf(json, sizeof(json),
                 "{\"principal\": {\"type\": \"%s\", \"id\": \"%s\"}, "
                 "\"action\": {\"type\": \"Action\", \"id\": \"%s\"}, "
                 "\"resource\": {\"type\": \"%s\", \"id\": \"%s\"}, \"context\": %s}",
                 cases[i].pt, cases[i].pid, cases[i].a, cases[i].rt, cases[i].rid, cases[i].ctx);
        int rc = check_req(s, json, why, sizeof(why));
        if (rc != cases[i].rc || (rc != WD_OK && strcmp(why, cases[i].why) != 0)) {
            printf("case %zu: got %d \"%s\", want %d \"%s\"\n", i, rc, why, cases[i].rc,
                   cases[i].why);
        }
        CHECK_EQ(rc, cases[i].rc);
    }
    wd_cedar_schema_free(s);
}

TEST(json_guide)
{
    struct wd_cedar_json_schema g;
    struct wd_cedar_schema *s = parse_ok(req_schema);
    CHECK(s != NULL);
    wd_cedar_schema_json_guide(s, &g);
    CHECK(g.ctx == s);
    const void *ctx = g.context_type(g.ctx, "Action", 6, "a", 1);
    CHECK(ctx != NULL);
    CHECK_EQ(g.kind(g.ctx, ctx), WD_CEDAR_JT_RECORD);
    const void *sv = g.attr_type(g.ctx, ctx, "s", 1);
    CHECK_EQ(g.kind(g.ctx, sv), WD_CEDAR_JT_SET);
    CHECK_EQ(g.kind(g.ctx, g.elem_type(g.ctx, sv)), WD_CEDAR_JT_LONG);
    const void *ip = g.attr_type(g.ctx, ctx, "ip", 2);
    CHECK_EQ(g.kind(g.ctx, ip), WD_CEDAR_JT_EXT);
    CHECK_STR(g.ext_name(g.ctx, ip), "ipaddr");
    CHECK_EQ(g.kind(g.ctx, g.attr_type(g.ctx, ctx, "u", 1)), WD_CEDAR_JT_ENTITY);
    CHECK(g.attr_type(g.ctx, ctx, "nope", 4) == NULL);
    CHECK(g.context_type(g.ctx, "Action", 6, "zz", 2) == NULL);
    CHECK(g.attrs_type(g.ctx, "U", 1) != NULL);
    CHECK(g.attrs_type(g.ctx, "Nope", 4) == NULL);
    CHECK(g.tags_type(g.ctx, "U", 1) == NULL);
    wd_cedar_schema_free(s);
}

TEST(action_entities)
{
    /* the store gets the schema's actions with their groups as parents */
    struct wd_cedar_json_schema g;
    struct wd_cedar_entities *ents = NULL;
    struct wd_diag d = {{0}};
    struct wd_cedar_schema *s = parse_ok("action all; action read in all; action view in read;");
    CHECK(s != NULL);
    wd_cedar_schema_json_guide(s, &g);
    const char *json = "[{\"uid\": {\"type\": \"Action\", \"id\": \"read\"}, \"attrs\": {}, "
                       "\"parents\": [{\"type\": \"Action\", \"id\": \"all\"}]}]";
    CHECK_OK(wd_cedar_entities_load_json("ents", json, strlen(json), &g, NULL, &ents, &d));
    CHECK(wd_cedar_entities_contains(ents, "Action", 6, "all", 3));
    CHECK(wd_cedar_entities_contains(ents, "Action", 6, "view", 4));
    CHECK(wd_cedar_entities_contains(ents, "Action", 6, "read", 4));
    wd_cedar_entities_free(ents);
    wd_cedar_schema_free(s);
}

int main(void)
{
    RUN(human_model);
    RUN(public_accessors);
    RUN(name_resolution);
    RUN(syntax_variants);
    RUN(human_negative);
    RUN(limits_and_arguments);
    RUN(human_alloc_sweep);
    RUN(json_model);
    RUN(json_negative);
    RUN(json_alloc_sweep);
    RUN(load_file);
    RUN(request_validation);
    RUN(json_guide);
    RUN(action_entities);
    return HARNESS_END("cedar_schema");
}
