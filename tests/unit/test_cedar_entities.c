/*
 * Unit tests for the Cedar runtime data: values (order, equality, sets, records, names,
 * printing), the value builder, the entity store (duplicates, cycles, ancestors) and the
 * JSON formats for entities and requests (escapes, implicit forms with a schema, errors).
 */
#include <stdint.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/cedar.h"
#include "warden/doc.h"
#include "warden/err.h"

#include "cedar/entities.h"
#include "cedar/json_io.h"
#include "cedar/request.h"
#include "cedar/value.h"
#include "harness.h"

static struct wd_cedar_value vlong(int64_t l)
{
    struct wd_cedar_value v = {.kind = WD_CV_LONG, .u.l = l};
    return v;
}

static struct wd_cedar_value vstr(const char *s)
{
    struct wd_cedar_value v = {.kind = WD_CV_STRING};
    v.u.s.p = s;
    v.u.s.len = strlen(s);
    return v;
}

/* ---- values ---- */

TEST(value_order_and_equality)
{
    struct wd_cedar_value a = vlong(1), b = vlong(2), s = vstr("1");
    CHECK(wd_cedar_value_cmp(&a, &b) < 0);
    CHECK(wd_cedar_value_cmp(&b, &a) > 0);
    CHECK(!wd_cedar_value_eq(&a, &s)); /* different types are unequal, never an error */
    struct wd_cedar_value d1 = {.kind = WD_CV_DECIMAL, .u.l = 10000};
    struct wd_cedar_value l1 = vlong(10000);
    CHECK(!wd_cedar_value_eq(&d1, &l1));
    struct wd_cedar_value dt = {.kind = WD_CV_DATETIME, .u.l = 5};
    struct wd_cedar_value du = {.kind = WD_CV_DURATION, .u.l = 5};
    CHECK(!wd_cedar_value_eq(&dt, &du));
    struct wd_cedar_value x = vstr("ab"), y = vstr("abc"), z = vstr("b");
    CHECK(wd_cedar_value_cmp(&x, &y) < 0);
    CHECK(wd_cedar_value_cmp(&y, &z) < 0);
    /* strings with NUL bytes compare by length too */
    struct wd_cedar_value n1 = {.kind = WD_CV_STRING}, n2 = n1;
    n1.u.s.p = "a\0";
    n1.u.s.len = 2;
    n2.u.s.p = "a";
    n2.u.s.len = 1;
    CHECK(!wd_cedar_value_eq(&n1, &n2));
}

TEST(value_sort_unique)
{
    struct wd_cedar_value v[40];
    for (int i = 0; i < 40; i++) {
        v[i] = vlong((i * 7) % 13);
    }
    size_t n = wd_cedar_value_sort_unique(v, 40);
    CHECK_EQ(n, 13);
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ(v[i].u.l, (int64_t)i);
    }
    struct wd_cedar_value m[4] = {vstr("b"), vlong(3), vstr("a"), vlong(3)};
    CHECK_EQ(wd_cedar_value_sort_unique(m, 4), 3);
    CHECK_EQ(m[0].kind, WD_CV_LONG);
    CHECK_EQ(m[1].u.s.p[0], 'a');
}

TEST(names)
{
    CHECK(wd_cedar_name_valid("User", 4));
    CHECK(wd_cedar_name_valid("A::B::C_9", 9));
    CHECK(wd_cedar_name_valid("_a", 2));
    CHECK(wd_cedar_name_valid("principal", 9)); /* variables are fine as type names */
    CHECK(!wd_cedar_name_valid("", 0));
    CHECK(!wd_cedar_name_valid("1a", 2));
    CHECK(!wd_cedar_name_valid("A::", 3));
    CHECK(!wd_cedar_name_valid("A:B", 3));
    CHECK(!wd_cedar_name_valid(" A", 2));
    CHECK(!wd_cedar_name_valid("A :: B", 6));
    CHECK(!wd_cedar_name_valid("if", 2));
    CHECK(!wd_cedar_name_valid("A::in", 5));
    CHECK(!wd_cedar_name_valid("__cedar", 7));
    CHECK(!wd_cedar_name_valid("A::__cedar::B", 13));
    CHECK(!wd_cedar_name_valid("\xc3\xa9", 2));
}

TEST(value_builder_nesting)
{
    struct wd_cedar_zone z;
    wd_cedar_zone_init(&z, 256, 0);
    struct wd_cedar_vb b;
    wd_cedar_vb_init(&b, &z);
    /* {"z": [3, 1, 3], "a": {"k": "v"}, "e": User::"x"} */
    CHECK_OK(wd_cedar_vb_record_begin(&b));
    CHECK_OK(wd_cedar_vb_key(&b, "z", 1));
    CHECK_OK(wd_cedar_vb_set_begin(&b));
    CHECK_OK(wd_cedar_vb_long(&b, 3));
    CHECK_OK(wd_cedar_vb_long(&b, 1));
    CHECK_OK(wd_cedar_vb_long(&b, 3));
    CHECK_OK(wd_cedar_vb_end(&b));
    CHECK_OK(wd_cedar_vb_key(&b, "a", 1));
    CHECK_OK(wd_cedar_vb_record_begin(&b));
    CHECK_OK(wd_cedar_vb_key(&b, "k", 1));
    CHECK_OK(wd_cedar_vb_string(&b, "v", 1));
    CHECK_OK(wd_cedar_vb_end(&b));
    CHECK_OK(wd_cedar_vb_key(&b, "e", 1));
    CHECK_OK(wd_cedar_vb_entity(&b, "User", 4, "x", 1));
    CHECK_OK(wd_cedar_vb_end(&b));
    struct wd_cedar_value v;
    CHECK_OK(wd_cedar_vb_take(&b, &v));
    CHECK_EQ(v.kind, WD_CV_RECORD);
    CHECK_EQ(v.u.rec->n, 3);
    CHECK_STR(v.u.rec->a[0].key, "a"); /* sorted by key */
    CHECK_STR(v.u.rec->a[1].key, "e");
    const struct wd_cedar_value *zz = wd_cedar_record_get(v.u.rec, "z", 1);
    CHECK(zz != NULL && zz->kind == WD_CV_SET);
    CHECK_EQ(zz->u.set->n, 2);
    struct wd_cedar_value three = vlong(3), two = vlong(2);
    CHECK(wd_cedar_set_contains(zz->u.set, &three));
    CHECK(!wd_cedar_set_contains(zz->u.set, &two));
    const struct wd_cedar_value *inner = wd_cedar_record_get(v.u.rec, "a", 1);
    CHECK(inner != NULL && wd_cedar_record_get(inner->u.rec, "k", 1) != NULL);
    CHECK(wd_cedar_record_get(v.u.rec, "k", 1) == NULL);
    char buf[128];
    (void)wd_cedar_value_format(&v, buf, sizeof(buf));
    CHECK_STR(buf, "{\"a\": {\"k\": \"v\"}, \"e\": User::\"x\", \"z\": [1, 3]}");
    /* printing is bounded */
    (void)wd_cedar_value_format(&v, buf, 10);
    CHECK_EQ(strlen(buf), 9);
    CHECK(strstr(buf, "...") != NULL);
    wd_cedar_vb_cleanup(&b);
    wd_cedar_zone_cleanup(&z);
}

TEST(value_builder_errors)
{
    struct wd_cedar_zone z;
    wd_cedar_zone_init(&z, 256, 0);
    struct wd_cedar_vb b;
    wd_cedar_vb_init(&b, &z);
    /* a value in a record needs a key; a key outside a record is wrong */
    CHECK_ERR(wd_cedar_vb_key(&b, "k", 1), WD_EINVAL);
    CHECK_OK(wd_cedar_vb_record_begin(&b));
    CHECK_ERR(wd_cedar_vb_long(&b, 1), WD_EINVAL);
    CHECK_OK(wd_cedar_vb_key(&b, "k", 1));
    CHECK_ERR(wd_cedar_vb_key(&b, "k2", 2), WD_EINVAL);
    CHECK_ERR(wd_cedar_vb_end(&b), WD_EINVAL); /* dangling key */
    CHECK_OK(wd_cedar_vb_long(&b, 1));
    CHECK_OK(wd_cedar_vb_key(&b, "k", 1));
    CHECK_OK(wd_cedar_vb_long(&b, 2));
    CHECK_ERR(wd_cedar_vb_end(&b), WD_EEXIST);
    CHECK_EQ(b.dup_key_len, 1);
    wd_cedar_vb_reset(&b);
    CHECK_ERR(wd_cedar_vb_end(&b), WD_EINVAL);
    CHECK_ERR(wd_cedar_vb_entity(&b, "bad type", 8, "x", 1), WD_EPROTO);
    CHECK_ERR(wd_cedar_vb_ext(&b, "ip", "1.2.3", 5), WD_EPROTO);
    CHECK_ERR(wd_cedar_vb_ext(&b, "nope", "1", 1), WD_EPROTO);
    CHECK_OK(wd_cedar_vb_ext(&b, "decimal", "1.5", 3));
    struct wd_cedar_value v;
    CHECK_OK(wd_cedar_vb_take(&b, &v));
    CHECK_EQ(v.kind, WD_CV_DECIMAL);
    CHECK_EQ(v.u.l, 15000);
    /* depth limit */
    int rc = WD_OK;
    for (int i = 0; i <= WD_CEDAR_VB_MAX_DEPTH && rc == WD_OK; i++) {
        rc = wd_cedar_vb_set_begin(&b);
    }
    CHECK_ERR(rc, WD_ELIMIT);
    wd_cedar_vb_cleanup(&b);
    wd_cedar_zone_cleanup(&z);
}

TEST(zone_limit_and_reset)
{
    struct wd_cedar_zone z;
    wd_cedar_zone_init(&z, 256, 1024);
    void *p = NULL;
    CHECK_OK(wd_cedar_zone_alloc(&z, 200, &p));
    CHECK_OK(wd_cedar_zone_alloc(&z, 200, &p)); /* second chunk */
    CHECK_ERR(wd_cedar_zone_alloc(&z, 2000, &p), WD_ELIMIT);
    wd_cedar_zone_reset(&z); /* merges the chunks into one */
    long live = wd_alloc_live();
    CHECK_OK(wd_cedar_zone_alloc(&z, 400, &p));
    CHECK_EQ(wd_alloc_live(), live); /* fits the merged chunk: no allocation */
    wd_cedar_zone_cleanup(&z);
}

/* ---- entity store ---- */

static int add_simple(struct wd_cedar_entities *e, const char *type, const char *id,
                      const char *ptype, const char *pid)
{
    int rc = wd_cedar_entities_begin(e, type, strlen(type), id, strlen(id), NULL);
    if (rc < 0) {
        return rc;
    }
    if (ptype != NULL) {
        rc = wd_cedar_entities_parent(e, ptype, strlen(ptype), pid, strlen(pid), NULL);
        if (rc < 0) {
            return rc;
        }
    }
    return wd_cedar_entities_end(e, NULL);
}

static bool in_by_name(const struct wd_cedar_entities *e, const char *t1, const char *i1,
                       const char *t2, const char *i2)
{
    struct wd_cedar_euid a, b;
    struct wd_cedar_sym s1, s2, s3, s4;
    wd_cedar_euid_view(&a, &s1, &s2, t1, strlen(t1), i1, strlen(i1));
    wd_cedar_euid_view(&b, &s3, &s4, t2, strlen(t2), i2, strlen(i2));
    return wd_cedar_entities_in(e, &a, &b);
}

TEST(entities_hierarchy)
{
    struct wd_cedar_entities *e = NULL;
    CHECK_OK(wd_cedar_entities_new(NULL, &e));
    CHECK_OK(add_simple(e, "User", "alice", "Group", "g1"));
    CHECK_OK(add_simple(e, "Group", "g1", "Group", "g2"));
    CHECK_OK(add_simple(e, "Group", "g2", "Org", "o")); /* Org::"o" is not an entity */
    CHECK_OK(add_simple(e, "User", "bob", NULL, NULL));
    CHECK(wd_cedar_entities_contains(e, "User", 4, "alice", 5));
    CHECK(!wd_cedar_entities_contains(e, "User", 4, "carol", 5));
    CHECK_OK(wd_cedar_entities_freeze(e, NULL));
    CHECK(wd_cedar_entities_frozen(e));
    CHECK(in_by_name(e, "User", "alice", "User", "alice"));
    CHECK(in_by_name(e, "User", "alice", "Group", "g1"));
    CHECK(in_by_name(e, "User", "alice", "Group", "g2")); /* transitive */
    CHECK(in_by_name(e, "User", "alice", "Org", "o"));    /* through a missing entity's edge */
    CHECK(!in_by_name(e, "User", "bob", "Group", "g1"));
    CHECK(!in_by_name(e, "Group", "g1", "User", "alice"));
    CHECK(in_by_name(e, "User", "nobody", "User", "nobody")); /* equal, even if absent */
    CHECK(!in_by_name(e, "User", "nobody", "Group", "g1"));
    CHECK_EQ(wd_cedar_entities_count(e), 4);
    CHECK_EQ(wd_cedar_entities_at(e, 0)->nanc, 3);
    /* frozen: no more building */
    CHECK_ERR(wd_cedar_entities_begin(e, "User", 4, "x", 1, NULL), WD_EINVAL);
    wd_cedar_entities_free(e);
}

TEST(entities_duplicates_and_cycles)
{
    struct wd_cedar_entities *e = NULL;
    struct wd_diag d;
    CHECK_OK(wd_cedar_entities_new(NULL, &e));
    CHECK_OK(add_simple(e, "User", "a", "G", "g"));
    CHECK_OK(add_simple(e, "User", "a", "G", "g")); /* identical repeat: accepted */
    CHECK_OK(wd_cedar_entities_begin(e, "User", 4, "a", 1, NULL));
    CHECK_ERR(wd_cedar_entities_end(e, &d), WD_EEXIST); /* no parent this time */
    CHECK(strstr(d.msg, "duplicate entity entry User::\"a\"") != NULL);
    CHECK_ERR(wd_cedar_entities_begin(e, "bad::", 5, "a", 1, &d), WD_EPROTO);
    CHECK_OK(wd_cedar_entities_begin(e, "User", 4, "b", 1, NULL));
    CHECK_ERR(wd_cedar_entities_parent(e, "if", 2, "a", 1, &d), WD_EPROTO);
    wd_cedar_entities_abort(e);
    CHECK_EQ(wd_cedar_entities_count(e), 1);
    wd_cedar_entities_free(e);

    /* a cycle through three entities, and a self loop */
    CHECK_OK(wd_cedar_entities_new(NULL, &e));
    CHECK_OK(add_simple(e, "G", "a", "G", "b"));
    CHECK_OK(add_simple(e, "G", "b", "G", "c"));
    CHECK_OK(add_simple(e, "G", "c", "G", "a"));
    CHECK_ERR(wd_cedar_entities_freeze(e, &d), WD_EPROTO);
    CHECK(strstr(d.msg, "cycle") != NULL);
    wd_cedar_entities_free(e);
    CHECK_OK(wd_cedar_entities_new(NULL, &e));
    CHECK_OK(add_simple(e, "G", "a", "G", "a"));
    CHECK_ERR(wd_cedar_entities_freeze(e, &d), WD_EPROTO);
    wd_cedar_entities_free(e);
}

TEST(entities_limits)
{
    struct wd_cedar_entities_limits lim = {.max_entities = 2, .max_ancestors = 2};
    struct wd_cedar_entities *e = NULL;
    struct wd_diag d;
    CHECK_OK(wd_cedar_entities_new(&lim, &e));
    CHECK_OK(add_simple(e, "G", "a", "G", "b"));
    CHECK_OK(add_simple(e, "G", "b", "G", "c"));
    CHECK_ERR(wd_cedar_entities_begin(e, "G", 1, "c", 1, &d), WD_ELIMIT);
    CHECK_ERR(wd_cedar_entities_freeze(e, &d), WD_ELIMIT); /* a has 2 ancestors, b has 1 */
    wd_cedar_entities_free(e);
}

TEST(entities_deep_chain)
{
    /* A long parent chain: freezing is iterative (no recursion) and quadratic only in
     * depth; 2000 levels = 2M ancestor entries. */
    struct wd_cedar_entities *e = NULL;
    CHECK_OK(wd_cedar_entities_new(NULL, &e));
    char id[16], pid[16];
    for (int i = 0; i < 2000; i++) {
        (void)snprintf(id, sizeof(id), "%d", i);
        (void)snprintf(pid, sizeof(pid), "%d", i + 1);
        CHECK_OK(add_simple(e, "G", id, "G", pid));
    }
    CHECK_OK(wd_cedar_entities_freeze(e, NULL));
    CHECK(in_by_name(e, "G", "0", "G", "2000"));
    CHECK(!in_by_name(e, "G", "5", "G", "4"));
    wd_cedar_entities_free(e);
}

/* ---- JSON ---- */

static int load(const char *text, struct wd_cedar_entities **out, struct wd_diag *d)
{
    return wd_cedar_entities_load_json("e.json", text, strlen(text), NULL, NULL, out, d);
}

static const struct wd_cedar_value *attr_of(const struct wd_cedar_entities *e, const char *type,
                                            const char *id, const char *attr)
{
    struct wd_cedar_euid u;
    struct wd_cedar_sym s1, s2;
    wd_cedar_euid_view(&u, &s1, &s2, type, strlen(type), id, strlen(id));
    const struct wd_cedar_entity *ent = wd_cedar_entities_get(e, &u);
    return ent == NULL ? NULL : wd_cedar_record_get(ent->attrs, attr, strlen(attr));
}

static const char *const good_entities =
        "[{\"uid\": {\"type\": \"User\", \"id\": \"alice\"},"
        "  \"attrs\": {\"age\": 30, \"name\": \"A\", \"ok\": true, \"tags\": [\"x\", \"y\", \"x\"],"
        "             \"mgr\": {\"__entity\": {\"type\": \"User\", \"id\": \"bob\"}},"
        "             \"ip\": {\"__extn\": {\"fn\": \"ip\", \"arg\": \"10.0.0.1/8\"}},"
        "             \"d\": {\"__extn\": {\"fn\": \"decimal\", \"arg\": \"1.25\"}},"
        "             \"when\": {\"__extn\": {\"fn\": \"offset\", \"args\": ["
        "                 {\"__extn\": {\"fn\": \"datetime\", \"arg\": \"2024-01-01\"}},"
        "                 {\"__extn\": {\"fn\": \"duration\", \"arg\": \"1h\"}}]}},"
        "             \"rec\": {\"type\": \"User\", \"id\": \"bob\"}},"
        "  \"parents\": [{\"type\": \"Group\", \"id\": \"g\"},"
        "               {\"__entity\": {\"type\": \"Group\", \"id\": \"h\"}}],"
        "  \"tags\": {\"t\": 1}},"
        " {\"uid\": {\"__entity\": {\"type\": \"Group\", \"id\": \"g\"}}, \"attrs\": {},"
        "  \"parents\": []}]";

TEST(json_entities_good)
{
    struct wd_cedar_entities *e = NULL;
    struct wd_diag d;
    int rc = load(good_entities, &e, &d);
    if (rc != WD_OK) {
        printf("%s\n", d.msg);
    }
    CHECK_OK(rc);
    CHECK_EQ(wd_cedar_entities_count(e), 2);
    const struct wd_cedar_value *v = attr_of(e, "User", "alice", "age");
    CHECK(v != NULL && v->kind == WD_CV_LONG && v->u.l == 30);
    v = attr_of(e, "User", "alice", "tags");
    CHECK(v != NULL && v->kind == WD_CV_SET && v->u.set->n == 2);
    v = attr_of(e, "User", "alice", "mgr");
    CHECK(v != NULL && v->kind == WD_CV_ENTITY);
    CHECK_EQ(v->u.uid->id->len, 3);
    v = attr_of(e, "User", "alice", "ip");
    CHECK(v != NULL && v->kind == WD_CV_IP && v->u.ip->prefix == 8);
    v = attr_of(e, "User", "alice", "d");
    CHECK(v != NULL && v->kind == WD_CV_DECIMAL && v->u.l == 12500);
    v = attr_of(e, "User", "alice", "when");
    CHECK(v != NULL && v->kind == WD_CV_DATETIME && v->u.l == 1704067200000 + 3600000);
    /* without a schema, {"type", "id"} is a record */
    v = attr_of(e, "User", "alice", "rec");
    CHECK(v != NULL && v->kind == WD_CV_RECORD && v->u.rec->n == 2);
    CHECK(in_by_name(e, "User", "alice", "Group", "h"));
    const struct wd_cedar_entity *alice = wd_cedar_entities_at(e, 0);
    CHECK_EQ(alice->tags->n, 1);
    wd_cedar_entities_free(e);
}

TEST(json_entities_bad)
{
    static const char *const bad[] = {
            "{}",
            "[1]",
            "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}}]",
            "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {}}]",
            "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {}, \"parents\": [], "
            "\"x\": 1}]",
            "[{\"uid\": {\"type\": \"A::\", \"id\": \"a\"}, \"attrs\": {}, \"parents\": []}]",
            "[{\"uid\": {\"type\": \"A\", \"id\": 1}, \"attrs\": {}, \"parents\": []}]",
            "[{\"uid\": \"A::\\\"a\\\"\", \"attrs\": {}, \"parents\": []}]",
            "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {\"x\": null}, "
            "\"parents\": []}]",
            "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {\"x\": 1.5}, "
            "\"parents\": []}]",
            "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {\"x\": {\"__expr\": "
            "\"1\"}}, \"parents\": []}]",
            "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {\"x\": {\"__extn\": "
            "{\"fn\": \"decimal\", \"arg\": \"1.0x\"}}}, \"parents\": []}]",
            "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {\"x\": {\"__extn\": "
            "{\"fn\": \"foo\", \"arg\": \"1\"}}}, \"parents\": []}]",
            "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {\"x\": {\"__extn\": "
            "{\"fn\": \"decimal\", \"arg\": 1}}}, \"parents\": []}]",
            "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {\"x\": {\"__extn\": "
            "{\"fn\": \"isInRange\", \"args\": [{\"__extn\": {\"fn\": \"ip\", \"arg\": "
            "\"::1\"}}]}}}, \"parents\": []}]",
            "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {\"x\": {\"__entity\": "
            "1}}, \"parents\": []}]",
            "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {}, \"parents\": "
            "[\"A::\\\"b\\\"\"]}]",
            "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {}, \"parents\": [], "
            "\"tags\": []}]",
            "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {}, \"parents\": "
            "[{\"type\": \"A\", \"id\": \"a\"}]}]",
            "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {\"x\": 1}, \"parents\": "
            "[]}, {\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {\"x\": 2}, "
            "\"parents\": []}]",
            "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {}, \"parents\": []},]",
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(bad); i++) {
        struct wd_cedar_entities *e = NULL;
        struct wd_diag d;
        d.msg[0] = '\0';
        int rc = load(bad[i], &e, &d);
        if (rc == WD_OK) {
            printf("accepted bad input %zu: %s\n", i, bad[i]);
        }
        CHECK(rc < 0);
        CHECK(e == NULL);
        CHECK(strncmp(d.msg, "e.json", 6) == 0); /* every error names the file */
    }
}

TEST(json_entities_deep)
{
    /* nesting beyond the value depth limit is an error, not a crash */
    char text[1200];
    size_t n = 0;
    n += (size_t)snprintf(text + n, sizeof(text) - n,
                          "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {\"x\": ");
    for (int i = 0; i < 100; i++) {
        text[n++] = '[';
    }
    for (int i = 0; i < 100; i++) {
        text[n++] = ']';
    }
    (void)snprintf(text + n, sizeof(text) - n, "}, \"parents\": []}]");
    struct wd_cedar_entities *e = NULL;
    struct wd_diag d;
    CHECK(load(text, &e, &d) < 0);
    CHECK(strstr(d.msg, "deep") != NULL);
}

TEST(json_entities_alloc_sweep)
{
    struct wd_cedar_entities *e = NULL;
    CHECK_ALLOC_SWEEP(load(good_entities, &e, NULL), (wd_cedar_entities_free(e), e = NULL));
}

/* A tiny fake schema: every attribute called "ref" is an entity, "ips" a set of ipaddr,
 * "d" a decimal, "r" a record whose "when" is a datetime; contexts likewise. */
enum fake_t { F_NONE, F_REC, F_ENT, F_SET_IP, F_IP, F_DEC, F_INNER, F_DT };
static const enum fake_t fake_types[] = {F_NONE, F_REC, F_ENT,   F_SET_IP,
                                         F_IP,   F_DEC, F_INNER, F_DT};

static const void *fake_ptr(enum fake_t t)
{
    return &fake_types[t];
}

static const void *fake_attrs(const void *ctx, const char *etype, size_t len)
{
    (void)ctx;
    (void)etype;
    (void)len;
    return fake_ptr(F_REC);
}

static const void *fake_context(const void *ctx, const char *t, size_t tl, const char *id,
                                size_t il)
{
    (void)ctx;
    (void)t;
    (void)tl;
    (void)id;
    (void)il;
    return fake_ptr(F_REC);
}

static enum wd_cedar_jtype fake_kind(const void *ctx, const void *type)
{
    (void)ctx;
    switch (*(const enum fake_t *)type) {
    case F_REC:
    case F_INNER:
        return WD_CEDAR_JT_RECORD;
    case F_ENT:
        return WD_CEDAR_JT_ENTITY;
    case F_SET_IP:
        return WD_CEDAR_JT_SET;
    case F_IP:
    case F_DEC:
    case F_DT:
        return WD_CEDAR_JT_EXT;
    default:
        return WD_CEDAR_JT_UNKNOWN;
    }
}

static const void *fake_elem(const void *ctx, const void *type)
{
    (void)ctx;
    (void)type;
    return fake_ptr(F_IP);
}

static const void *fake_attr(const void *ctx, const void *rec, const char *k, size_t len)
{
    (void)ctx;
    bool inner = *(const enum fake_t *)rec == F_INNER;
    if (inner) {
        return len == 4 && memcmp(k, "when", 4) == 0 ? fake_ptr(F_DT) : NULL;
    }
    if (len == 3 && memcmp(k, "ref", 3) == 0) {
        return fake_ptr(F_ENT);
    }
    if (len == 3 && memcmp(k, "ips", 3) == 0) {
        return fake_ptr(F_SET_IP);
    }
    if (len == 1 && k[0] == 'd') {
        return fake_ptr(F_DEC);
    }
    if (len == 1 && k[0] == 'r') {
        return fake_ptr(F_INNER);
    }
    return NULL;
}

static const char *fake_ext(const void *ctx, const void *type)
{
    (void)ctx;
    switch (*(const enum fake_t *)type) {
    case F_IP:
        return "ipaddr";
    case F_DEC:
        return "decimal";
    case F_DT:
        return "datetime";
    default:
        return NULL;
    }
}

static int fake_add_actions(const void *ctx, struct wd_cedar_entities *e, struct wd_diag *d)
{
    (void)ctx;
    if (wd_cedar_entities_contains(e, "Action", 6, "view", 4)) {
        return WD_OK;
    }
    WD_TRY(wd_cedar_entities_begin(e, "Action", 6, "view", 4, d));
    WD_TRY(wd_cedar_entities_parent(e, "Action", 6, "read", 4, d));
    return wd_cedar_entities_end(e, d);
}

static const struct wd_cedar_json_schema fake_schema = {
        .ctx = NULL,
        .attrs_type = fake_attrs,
        .tags_type = NULL,
        .context_type = fake_context,
        .kind = fake_kind,
        .elem_type = fake_elem,
        .attr_type = fake_attr,
        .ext_name = fake_ext,
        .add_actions = fake_add_actions,
};

TEST(json_schema_implicit_forms)
{
    static const char text[] = "[{\"uid\": {\"type\": \"U\", \"id\": \"a\"}, \"attrs\": {"
                               "  \"ref\": {\"type\": \"U\", \"id\": \"b\"},"
                               "  \"ips\": [\"10.0.0.1\", {\"fn\": \"ip\", \"arg\": \"::1\"}],"
                               "  \"d\": \"0.6\","
                               "  \"r\": {\"when\": \"2024-01-01\", \"other\": \"2024-01-01\"},"
                               "  \"plain\": {\"type\": \"U\", \"id\": \"b\"}}, \"parents\": []}]";
    struct wd_cedar_entities *e = NULL;
    struct wd_diag d;
    int rc = wd_cedar_entities_load_json("s.json", text, strlen(text), &fake_schema, NULL, &e, &d);
    if (rc != WD_OK) {
        printf("%s\n", d.msg);
    }
    CHECK_OK(rc);
    const struct wd_cedar_value *v = attr_of(e, "U", "a", "ref");
    CHECK(v != NULL && v->kind == WD_CV_ENTITY);
    v = attr_of(e, "U", "a", "ips");
    CHECK(v != NULL && v->kind == WD_CV_SET && v->u.set->n == 2);
    CHECK(v->u.set->v[0].kind == WD_CV_IP);
    v = attr_of(e, "U", "a", "d");
    CHECK(v != NULL && v->kind == WD_CV_DECIMAL && v->u.l == 6000);
    v = attr_of(e, "U", "a", "r");
    CHECK(v != NULL && v->kind == WD_CV_RECORD);
    const struct wd_cedar_value *w = wd_cedar_record_get(v->u.rec, "when", 4);
    CHECK(w != NULL && w->kind == WD_CV_DATETIME);
    w = wd_cedar_record_get(v->u.rec, "other", 5);
    CHECK(w != NULL && w->kind == WD_CV_STRING);
    v = attr_of(e, "U", "a", "plain");
    CHECK(v != NULL && v->kind == WD_CV_RECORD);
    /* the schema's action entities were added before freezing */
    CHECK(in_by_name(e, "Action", "view", "Action", "read"));
    wd_cedar_entities_free(e);

    static const char bad[] = "[{\"uid\": {\"type\": \"U\", \"id\": \"a\"}, \"attrs\": "
                              "{\"d\": \"zero\"}, \"parents\": []}]";
    CHECK(wd_cedar_entities_load_json("s.json", bad, strlen(bad), &fake_schema, NULL, &e, &d) < 0);
    CHECK(strstr(d.msg, "invalid decimal") != NULL);
}

/* ---- requests ---- */

TEST(request_json)
{
    struct wd_cedar_request *r = NULL;
    struct wd_diag d;
    CHECK_OK(wd_cedar_request_new(&r));
    static const char text[] =
            "{\"principal\": \"User::\\\"al\\\\\\\"ice\\\\u{e9}\\\"\","
            " \"action\": {\"type\": \"Action\", \"id\": \"view\"},"
            " \"resource\": {\"__entity\": {\"type\": \"Photo\", \"id\": \"p\"}},"
            " \"context\": {\"ip\": {\"__extn\": {\"fn\": \"ip\", \"arg\": \"1.2.3.4\"}},"
            "              \"n\": 3}}";
    int rc = wd_cedar_request_load_json(r, "r.json", text, strlen(text), NULL, &d);
    if (rc != WD_OK) {
        printf("%s\n", d.msg);
    }
    CHECK_OK(rc);
    CHECK_EQ(r->principal->id->len, 8); /* al"ice + U+00E9 (2 bytes) */
    CHECK_MEM(r->principal->id->p, "al\"ice\xc3\xa9", 8);
    CHECK_STR(r->resource->type->p, "Photo");
    CHECK_EQ(r->context.u.rec->n, 2);
    /* with a schema the context is typed */
    static const char typed[] = "{\"principal\": {\"type\": \"U\", \"id\": \"a\"},"
                                " \"action\": {\"type\": \"Action\", \"id\": \"view\"},"
                                " \"resource\": {\"type\": \"U\", \"id\": \"b\"},"
                                " \"context\": {\"d\": \"1.5\", \"ref\": {\"type\": \"U\","
                                " \"id\": \"c\"}}}";
    wd_cedar_request_reset(r);
    CHECK_OK(wd_cedar_request_load_json(r, "r.json", typed, strlen(typed), &fake_schema, &d));
    const struct wd_cedar_value *v = wd_cedar_record_get(r->context.u.rec, "d", 1);
    CHECK(v != NULL && v->kind == WD_CV_DECIMAL);
    v = wd_cedar_record_get(r->context.u.rec, "ref", 3);
    CHECK(v != NULL && v->kind == WD_CV_ENTITY);

    static const char *const bad[] = {
            "[]",
            "{\"action\": {\"type\": \"A\", \"id\": \"a\"}, \"resource\": {\"type\": \"A\", "
            "\"id\": \"a\"}}",
            "{\"principal\": \"User::alice\", \"action\": {\"type\": \"A\", \"id\": \"a\"}, "
            "\"resource\": {\"type\": \"A\", \"id\": \"a\"}}",
            "{\"principal\": \"User::\\\"a\\\\q\\\"\", \"action\": {\"type\": \"A\", \"id\": "
            "\"a\"}, \"resource\": {\"type\": \"A\", \"id\": \"a\"}}",
            "{\"principal\": {\"type\": \"A\", \"id\": \"a\"}, \"action\": {\"type\": \"A\", "
            "\"id\": \"a\"}, \"resource\": {\"type\": \"A\", \"id\": \"a\"}, \"context\": []}",
            "{\"principal\": {\"type\": \"A\", \"id\": \"a\"}, \"action\": {\"type\": \"A\", "
            "\"id\": \"a\"}, \"resource\": {\"type\": \"A\", \"id\": \"a\"}, \"extra\": 1}",
            "{\"principal\": {\"type\": \"A\", \"id\": \"a\"}, \"action\": {\"type\": \"A\", "
            "\"id\": \"a\"}, \"resource\": {\"type\": \"A\", \"id\": \"a\"}, \"context\": "
            "{\"x\": null}}",
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(bad); i++) {
        wd_cedar_request_reset(r);
        rc = wd_cedar_request_load_json(r, "r.json", bad[i], strlen(bad[i]), NULL, &d);
        if (rc == WD_OK) {
            printf("accepted bad request %zu\n", i);
        }
        CHECK(rc < 0);
    }
    wd_cedar_request_free(r);
}

TEST(request_builder)
{
    struct wd_cedar_request *r = NULL;
    CHECK_OK(wd_cedar_request_new(&r));
    CHECK_ERR(wd_cedar_request_principal(r, "bad type", 8, "x", 1), WD_EPROTO);
    CHECK_OK(wd_cedar_request_principal(r, "Workload", 8, "spiffe://a/b", 12));
    struct wd_cedar_vb *vb = wd_cedar_request_context(r);
    CHECK(vb != NULL);
    CHECK_OK(wd_cedar_vb_key(vb, "method", 6));
    CHECK_OK(wd_cedar_vb_string(vb, "GET", 3));
    CHECK_OK(wd_cedar_vb_key(vb, "headers", 7));
    CHECK_OK(wd_cedar_vb_record_begin(vb));
    CHECK_OK(wd_cedar_vb_key(vb, "host", 4));
    CHECK_OK(wd_cedar_vb_string(vb, "x", 1));
    CHECK_ERR(wd_cedar_request_context_end(r), WD_EINVAL); /* headers still open */
    CHECK_OK(wd_cedar_vb_end(vb));
    CHECK_OK(wd_cedar_request_context_end(r));
    CHECK_EQ(r->context.u.rec->n, 2);

    /* a warmed-up request with borrowed strings is refilled without heap allocation */
    wd_cedar_request_borrow_strings(r, true);
    for (int round = 0; round < 3; round++) {
        long live = wd_alloc_live();
        if (round == 2) {
            wd_alloc_fail_at(1);
        }
        wd_cedar_request_reset(r);
        CHECK_OK(wd_cedar_request_principal(r, "W", 1, "a", 1));
        CHECK_OK(wd_cedar_request_action(r, "Action", 6, "http:GET", 8));
        CHECK_OK(wd_cedar_request_resource(r, "W", 1, "b", 1));
        vb = wd_cedar_request_context(r);
        CHECK_OK(wd_cedar_vb_key(vb, "path", 4));
        CHECK_OK(wd_cedar_vb_string(vb, "/x", 2));
        CHECK_OK(wd_cedar_request_context_end(r));
        if (round == 2) {
            CHECK(!wd_alloc_injected());
            CHECK_EQ(wd_alloc_live(), live);
        }
        wd_alloc_fail_at(0);
    }
    wd_cedar_request_free(r);
}

TEST(request_alloc_sweep)
{
    static const char text[] = "{\"principal\": \"User::\\\"a\\\"\","
                               " \"action\": {\"type\": \"Action\", \"id\": \"view\"},"
                               " \"resource\": {\"type\": \"P\", \"id\": \"p\"},"
                               " \"context\": {\"a\": [1, {\"b\": \"c\"}]}}";
    struct wd_cedar_request *r = NULL;
    CHECK_ALLOC_SWEEP(wd_cedar_request_new(&r) == WD_OK
                              ? wd_cedar_request_load_json(r, "r", text, strlen(text), NULL, NULL)
                              : WD_ENOMEM,
                      (wd_cedar_request_free(r), r = NULL));
}

TEST(uid_text)
{
    struct wd_buf b;
    wd_buf_init(&b, 1024);
    struct wd_cedar_juid u;
    static const char t1[] = "A::B::\"x\\n\\t\\0y\"";
    CHECK_OK(wd_cedar_uid_text_parse(t1, strlen(t1), &b, &u));
    CHECK_EQ(u.tlen, 4);
    CHECK_EQ(u.idlen, 5);
    CHECK_MEM(u.id, "x\n\t\0y", 5);
    static const char *const bad[] = {"A",
                                      "A::",
                                      "\"x\"",
                                      "A:\"x\"",
                                      "A::\"x",
                                      "A::\"x\"y",
                                      "A::\"\\u{110000}\"",
                                      "A::\"\\u{}\"",
                                      "if::\"x\"",
                                      "A::\"a\"b\""};
    for (size_t i = 0; i < WD_ARRAY_LEN(bad); i++) {
        CHECK_ERR(wd_cedar_uid_text_parse(bad[i], strlen(bad[i]), &b, &u), WD_EPROTO);
    }
    wd_buf_cleanup(&b);
}

int main(void)
{
    RUN(value_order_and_equality);
    RUN(value_sort_unique);
    RUN(names);
    RUN(value_builder_nesting);
    RUN(value_builder_errors);
    RUN(zone_limit_and_reset);
    RUN(entities_hierarchy);
    RUN(entities_duplicates_and_cycles);
    RUN(entities_limits);
    RUN(entities_deep_chain);
    RUN(json_entities_good);
    RUN(json_entities_bad);
    RUN(json_entities_deep);
    RUN(json_entities_alloc_sweep);
    RUN(json_schema_implicit_forms);
    RUN(request_json);
    RUN(request_builder);
    RUN(request_alloc_sweep);
    RUN(uid_text);
    return HARNESS_END("test_cedar_entities");
}
