/* Unit tests for lib/route: template validation, precedence, decoding, refusals. */
#include <string.h>

#include "warden/alloc.h"
#include "warden/doc.h"
#include "warden/err.h"
#include "warden/route.h"

#include "harness.h"

static struct wd_route_match M; /* ~9 KiB: kept off the test's stack frame */

/* Build from "name=template" strings; returns the build's status. */
static int build(const char *const *specs, size_t n, struct wd_route_set **out,
                 struct wd_diag *diag)
{
    struct wd_route_def defs[16];
    char names[16][80];
    if (n > 16) {
        return WD_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(specs[i], '=');
        size_t nl = (size_t)(eq - specs[i]);
        memcpy(names[i], specs[i], nl);
        names[i][nl] = '\0';
        defs[i] = (struct wd_route_def){.name = names[i],
                                        .tmpl = eq + 1,
                                        .file = "r.yaml",
                                        .line = (unsigned)i + 1,
                                        .col = 3};
    }
    return wd_route_set_new(defs, n, out, diag);
}

/* Match path and compare the route name ("" for none) and "k=v,k=v" params. */
static int match_is(const struct wd_route_set *set, const char *path, const char *route,
                    const char *params)
{
    int rc = wd_route_match(set, path, strlen(path), &M);
    if (strcmp(M.route, route) != 0) {
        printf("  %s: route '%s', expected '%s'\n", path, M.route, route);
        return 0;
    }
    if ((rc == WD_OK) != (route[0] != '\0')) {
        printf("  %s: rc %d\n", path, rc);
        return 0;
    }
    char got[512] = "";
    size_t o = 0;
    for (size_t i = 0; i < M.nparams; i++) {
        int w = snprintf(got + o, sizeof(got) - o, "%s%s=%.*s", i ? "," : "", M.params[i].name,
                         (int)M.params[i].value_len, M.params[i].value);
        o += (size_t)w;
        if (strlen(M.params[i].value) != M.params[i].value_len) {
            return 0;
        }
    }
    if (strcmp(got, params) != 0) {
        printf("  %s: params '%s', expected '%s'\n", path, got, params);
        return 0;
    }
    return 1;
}

static const char *const HOSPITAL[] = {
        "prescriptions=/prescriptions",
        "prescription=/prescriptions/{id}",
        "vitals=/patients/{pid}/vitals",
        "patient=/patients/{pid}",
        "patient-self=/patients/me",
        "files=/files/{path...}",
        "file-meta=/files/{name}/meta",
        "root=/",
        "deep=/a/{x}/c",
        "deep2=/a/b/{y}",
        "deep3=/a/b/d",
};

TEST(basic_and_precedence)
{
    struct wd_route_set *set = NULL;
    struct wd_diag d;
    CHECK_OK(build(HOSPITAL, WD_ARRAY_LEN(HOSPITAL), &set, &d));
    CHECK_EQ(wd_route_set_count(set), WD_ARRAY_LEN(HOSPITAL));
    CHECK(match_is(set, "/prescriptions/42", "prescription", "id=42"));
    CHECK(match_is(set, "/prescriptions", "prescriptions", ""));
    CHECK(match_is(set, "/patients/p7/vitals", "vitals", "pid=p7"));
    CHECK(match_is(set, "/patients/p7", "patient", "pid=p7"));
    /* literal beats parameter */
    CHECK(match_is(set, "/patients/me", "patient-self", ""));
    CHECK(match_is(set, "/patients/me/vitals", "vitals", "pid=me"));
    /* parameter beats catch-all; catch-all takes one or more segments */
    CHECK(match_is(set, "/files/x/meta", "file-meta", "name=x"));
    CHECK(match_is(set, "/files/x", "files", "path=x"));
    CHECK(match_is(set, "/files/x/y/z", "files", "path=x/y/z"));
    CHECK(match_is(set, "/files/x/meta/more", "files", "path=x/meta/more"));
    CHECK(match_is(set, "/files", "", ""));
    CHECK(match_is(set, "/", "root", ""));
    /* backtracking: the literal branch fails deeper, the parameter branch matches */
    CHECK(match_is(set, "/a/b/c", "deep2", "y=c"));
    CHECK(match_is(set, "/a/b/d", "deep3", ""));
    CHECK(match_is(set, "/a/z/c", "deep", "x=z"));
    CHECK(match_is(set, "/a/z/d", "", ""));
    CHECK(!M.bad_path);
    CHECK(match_is(set, "/nothing", "", ""));
    CHECK(match_is(set, "/prescriptions/42/x", "", ""));
    /* case-sensitive */
    CHECK(match_is(set, "/Prescriptions/42", "", ""));
    wd_route_set_free(set);
}

TEST(backtrack_restores_params)
{
    static const char *const r[] = {"one=/{a}/x/{b}/q", "two=/{a}/{c}/{d}/z", "three=/k/{e}/{f}/z"};
    struct wd_route_set *set = NULL;
    CHECK_OK(build(r, 3, &set, NULL));
    CHECK(match_is(set, "/k/x/m/z", "three", "e=x,f=m"));
    CHECK(match_is(set, "/j/x/m/z", "two", "a=j,c=x,d=m"));
    CHECK(match_is(set, "/j/x/m/q", "one", "a=j,b=m"));
    wd_route_set_free(set);
}

TEST(decoding)
{
    static const char *const r[] = {"p=/p/{v}", "lit=/abc/x", "all=/r/{rest...}"};
    struct wd_route_set *set = NULL;
    CHECK_OK(build(r, 3, &set, NULL));
    CHECK(match_is(set, "/p/a%20b", "p", "v=a b"));
    CHECK(match_is(set, "/p/%41%4a%4A", "p", "v=AJJ"));
    CHECK(match_is(set, "/p/%C3%A9t%C3%A9", "p", "v=\xc3\xa9t\xc3\xa9"));
    CHECK(match_is(set, "/p/a+b:c@d;e=f", "p", "v=a+b:c@d;e=f"));
    /* literals match decoded segments: an encoded spelling cannot dodge a route */
    CHECK(match_is(set, "/a%62c/x", "lit", ""));
    CHECK(match_is(set, "/%61%62%63/%78", "lit", ""));
    CHECK(match_is(set, "/r/a%20/b", "all", "rest=a /b"));
    CHECK(match_is(set, "/p/.x", "p", "v=.x"));
    CHECK(match_is(set, "/p/...", "p", "v=..."));
    wd_route_set_free(set);
}

TEST(refused_paths)
{
    static const char *const r[] = {"p=/p/{v}", "all=/{rest...}", "root=/"};
    struct wd_route_set *set = NULL;
    CHECK_OK(build(r, 3, &set, NULL));
    static const char *const bad[] = {
            "p/x",     "/p/%",   "/p/%4",   "/p/%zz",    "/p/%00",       "/p/%2F",
            "/p/%2f",  "/p/.",   "/p/..",   "/p/%2E",    "/p/%2e%2E",    "/p/.%2e",
            "/p//x",   "//",     "/p/",     "/p/a b",    "/p/a?b",       "/p/a#b",
            "/p/\xc3", "/p/%C3", "/p/%FF",  "/p/%C0%AF", "/p/%ED%A0%80", "/p/a\\b",
            "/p/a\"b", "/p/<x>", "/p/a{b}", "/p/\x01",   "/p/|",         "/p/%F4%90%80%80",
            "/../p/x", "/./p",   "/p/x/",
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(bad); i++) {
        int rc = wd_route_match(set, bad[i], strlen(bad[i]), &M);
        if (rc != WD_ENOENT || !M.bad_path || M.route[0] != '\0' || M.nparams != 0) {
            printf("  not refused: %s\n", bad[i]);
        }
        CHECK_ERR(rc, WD_ENOENT);
        CHECK(M.bad_path);
    }
    /* an empty path and NUL inside the length */
    CHECK_ERR(wd_route_match(set, "", 0, &M), WD_ENOENT);
    CHECK(M.bad_path);
    CHECK_ERR(wd_route_match(set, "/p/a\0b", 6, &M), WD_ENOENT);
    CHECK(M.bad_path);
    /* the catch-all does take a good deep path */
    CHECK(match_is(set, "/x/y/z", "all", "rest=x/y/z"));
    /* too many segments, too long */
    char path[WD_ROUTE_PATH_MAX + 2];
    size_t o = 0;
    for (int i = 0; i < WD_ROUTE_MAX_SEGMENTS; i++) {
        path[o++] = '/';
        path[o++] = 'a';
    }
    CHECK_OK(wd_route_match(set, path, o, &M));
    CHECK_EQ(M.params[0].value_len, 2 * WD_ROUTE_MAX_SEGMENTS - 1);
    path[o++] = '/';
    path[o++] = 'a';
    CHECK_ERR(wd_route_match(set, path, o, &M), WD_ENOENT);
    CHECK(M.bad_path);
    memset(path, 'a', sizeof(path));
    path[0] = '/';
    CHECK_OK(wd_route_match(set, path, WD_ROUTE_PATH_MAX, &M));
    CHECK_EQ(M.params[0].value_len, WD_ROUTE_PATH_MAX - 1);
    CHECK_ERR(wd_route_match(set, path, WD_ROUTE_PATH_MAX + 1, &M), WD_ENOENT);
    CHECK(M.bad_path);
    CHECK_ERR(wd_route_match(NULL, "/", 1, &M), WD_EINVAL);
    CHECK_ERR(wd_route_match(set, NULL, 1, &M), WD_EINVAL);
    CHECK_ERR(wd_route_match(set, "/", 1, NULL), WD_EINVAL);
    wd_route_set_free(set);
}

TEST(empty_set)
{
    struct wd_route_set *set = NULL;
    CHECK_OK(wd_route_set_new(NULL, 0, &set, NULL));
    CHECK(match_is(set, "/", "", ""));
    CHECK(!M.bad_path);
    CHECK_EQ(wd_route_set_count(set), 0);
    wd_route_set_free(set);
    wd_route_set_free(NULL);
    CHECK_ERR(wd_route_set_new(NULL, 1, &set, NULL), WD_EINVAL);
    CHECK(set == NULL);
}

/* One template must fail with this exact diagnostic. */
static int bad_template(const char *spec, const char *msg)
{
    struct wd_route_set *set = (struct wd_route_set *)1;
    struct wd_diag d = {.msg = ""};
    const char *specs[] = {"ok=/ok/{id}", spec};
    int rc = build(specs, 2, &set, &d);
    if (rc != WD_ECONFIG || set != NULL || strcmp(d.msg, msg) != 0) {
        printf("  %s: rc %d, '%s'\n", spec, rc, d.msg);
        return 0;
    }
    return 1;
}

TEST(template_errors)
{
    CHECK(bad_template("x=", "r.yaml:2:3: route 'x': template must be 1 to 1024 bytes"));
    CHECK(bad_template("x=a/b",
                       "r.yaml:2:3: route 'x': template: must start with '/' (at byte 1)"));
    CHECK(bad_template("x=/a//b", "r.yaml:2:3: route 'x': template: empty segment (at byte 4)"));
    CHECK(bad_template("x=/a/", "r.yaml:2:3: route 'x': template: empty segment (at byte 4)"));
    CHECK(bad_template("x=//", "r.yaml:2:3: route 'x': template: empty segment (at byte 2)"));
    CHECK(bad_template("x=/a/../b",
                       "r.yaml:2:3: route 'x': template: '.' and '..' segments are not allowed "
                       "(at byte 4)"));
    CHECK(bad_template("x=/./b",
                       "r.yaml:2:3: route 'x': template: '.' and '..' segments are not allowed "
                       "(at byte 2)"));
    CHECK(bad_template("x=/a%20",
                       "r.yaml:2:3: route 'x': template: byte not allowed in a literal segment "
                       "(RFC 3986 pchar, no '%') (at byte 3)"));
    CHECK(bad_template("x=/a b", "r.yaml:2:3: route 'x': template: byte not allowed in a literal "
                                 "segment (RFC 3986 pchar, no '%') (at byte 3)"));
    CHECK(bad_template("x=/a{id}",
                       "r.yaml:2:3: route 'x': template: a parameter must be a whole segment "
                       "{name} (at byte 3)"));
    CHECK(bad_template("x=/{id}x", "r.yaml:2:3: route 'x': template: a parameter must be a whole "
                                   "segment {name} (at byte 2)"));
    CHECK(bad_template("x=/{}", "r.yaml:2:3: route 'x': template: a parameter must be a whole "
                                "segment {name} (at byte 2)"));
    CHECK(bad_template("x=/{1d}", "r.yaml:2:3: route 'x': template: bad parameter name (expected "
                                  "[A-Za-z_][A-Za-z0-9_]*, at most 64) (at byte 3)"));
    CHECK(bad_template("x=/{a-b}", "r.yaml:2:3: route 'x': template: bad parameter name (expected "
                                   "[A-Za-z_][A-Za-z0-9_]*, at most 64) (at byte 3)"));
    CHECK(bad_template("x=/{...}", "r.yaml:2:3: route 'x': template: bad parameter name (expected "
                                   "[A-Za-z_][A-Za-z0-9_]*, at most 64) (at byte 3)"));
    CHECK(bad_template("x=/{a}/{a}",
                       "r.yaml:2:3: route 'x': template: parameter name repeated (at byte 7)"));
    CHECK(bad_template("x=/{a}/{a...}",
                       "r.yaml:2:3: route 'x': template: parameter name repeated (at byte 7)"));
    CHECK(bad_template("x=/{r...}/b", "r.yaml:2:3: route 'x': template: a catch-all must be the "
                                      "last segment (at byte 9)"));
    CHECK(bad_template("x=/ok/{other}",
                       "r.yaml:2:3: route 'x': conflicts with route 'ok' (same shape: /ok/{id})"));
    CHECK(bad_template("ok=/b", "r.yaml:2:3: route 'ok': route name repeated"));
    CHECK(bad_template("=/b", "r.yaml:2:3: route '': bad route name (expected [A-Za-z0-9_.-], 1 "
                              "to 64 bytes)"));
    CHECK(bad_template("a b=/b", "r.yaml:2:3: route 'a b': bad route name (expected "
                                 "[A-Za-z0-9_.-], 1 to 64 bytes)"));
    CHECK(bad_template("x\n=/b", "r.yaml:2:3: route 'x\\x0a': bad route name (expected "
                                 "[A-Za-z0-9_.-], 1 to 64 bytes)"));
    /* Same shape with a catch-all, and same root. */
    static const char *const r[] = {"a=/f/{x...}", "b=/f/{y...}"};
    struct wd_route_set *set = NULL;
    struct wd_diag d;
    CHECK_ERR(build(r, 2, &set, &d), WD_ECONFIG);
    CHECK_STR(d.msg, "r.yaml:2:3: route 'b': conflicts with route 'a' (same shape: /f/{x...})");
    static const char *const r2[] = {"a=/", "b=/"};
    CHECK_ERR(build(r2, 2, &set, &d), WD_ECONFIG);
    CHECK(strstr(d.msg, "conflicts with route 'a'") != NULL);
    /* Not conflicts: parameter vs catch-all, and literal vs parameter, at the same place. */
    static const char *const r3[] = {"a=/f/{x}", "b=/f/{y...}", "c=/f/lit", "d=/f/{x}/g"};
    CHECK_OK(build(r3, 4, &set, &d));
    wd_route_set_free(set);
}

TEST(size_limits)
{
    char t[WD_ROUTE_TEMPLATE_MAX + 8];
    struct wd_route_def def = {.name = "big", .tmpl = t, .file = NULL, .line = 0, .col = 0};
    struct wd_route_set *set = NULL;
    struct wd_diag d;
    size_t o = 0;
    for (int i = 0; i < WD_ROUTE_MAX_SEGMENTS + 1; i++) {
        t[o++] = '/';
        t[o++] = 'a';
    }
    t[o] = '\0';
    CHECK_ERR(wd_route_set_new(&def, 1, &set, &d), WD_ECONFIG);
    CHECK_STR(d.msg, "route 'big': template: more than 64 segments (at byte 130)");
    o = 0;
    for (int i = 0; i < WD_ROUTE_MAX_PARAMS + 1; i++) {
        o += (size_t)snprintf(t + o, sizeof(t) - o, "/{p%d}", i);
    }
    CHECK_ERR(wd_route_set_new(&def, 1, &set, &d), WD_ECONFIG);
    CHECK(strstr(d.msg, "more than 16 parameters") != NULL);
    memset(t, 'a', WD_ROUTE_TEMPLATE_MAX + 1);
    t[0] = '/';
    t[WD_ROUTE_TEMPLATE_MAX + 1] = '\0';
    CHECK_ERR(wd_route_set_new(&def, 1, &set, &d), WD_ECONFIG);
    t[WD_ROUTE_TEMPLATE_MAX] = '\0';
    CHECK_OK(wd_route_set_new(&def, 1, &set, &d));
    wd_route_set_free(set);
    /* 16 parameters are fine and all come back */
    o = 0;
    for (int i = 0; i < WD_ROUTE_MAX_PARAMS; i++) {
        o += (size_t)snprintf(t + o, sizeof(t) - o, "/{p%d}", i);
    }
    CHECK_OK(wd_route_set_new(&def, 1, &set, &d));
    CHECK_OK(wd_route_match(set, "/0/1/2/3/4/5/6/7/8/9/a/b/c/d/e/f", 32, &M));
    CHECK_EQ(M.nparams, 16);
    CHECK_STR(M.params[15].name, "p15");
    CHECK_STR(M.params[15].value, "f");
    wd_route_set_free(set);
}

TEST(many_routes)
{
    /* 4096 routes, and one more is refused with WD_ELIMIT. */
    static struct wd_route_def defs[WD_ROUTE_MAX_ROUTES + 1];
    static char names[WD_ROUTE_MAX_ROUTES + 1][16], tmpls[WD_ROUTE_MAX_ROUTES + 1][32];
    for (size_t i = 0; i <= WD_ROUTE_MAX_ROUTES; i++) {
        (void)snprintf(names[i], sizeof(names[i]), "r%zu", i);
        (void)snprintf(tmpls[i], sizeof(tmpls[i]), "/svc%zu/{id}/x%zu", i % 97, i);
        defs[i] = (struct wd_route_def){.name = names[i], .tmpl = tmpls[i]};
    }
    struct wd_route_set *set = NULL;
    struct wd_diag d;
    CHECK_ERR(wd_route_set_new(defs, WD_ROUTE_MAX_ROUTES + 1, &set, &d), WD_ELIMIT);
    CHECK_STR(d.msg, "more than 4096 routes");
    CHECK_OK(wd_route_set_new(defs, WD_ROUTE_MAX_ROUTES, &set, &d));
    CHECK(match_is(set, "/svc3/77/x1943", "r1943", "id=77"));
    CHECK(match_is(set, "/svc4/77/x1943", "", ""));
    wd_route_set_free(set);
}

TEST(from_doc)
{
    static const char y[] = "routes:\n"
                            "  prescription: /prescriptions/{id}\n"
                            "  vitals: \"/patients/{pid}/vitals\"\n";
    struct wd_doc *doc = NULL;
    struct wd_diag d;
    CHECK_OK(wd_yaml_parse("c.yaml", y, sizeof(y) - 1, NULL, &doc, &d));
    struct wd_route_set *set = NULL;
    CHECK_OK(wd_route_set_from_doc(doc, wd_node_get(wd_doc_root(doc), "routes"), &set, &d));
    CHECK(match_is(set, "/patients/9/vitals", "vitals", "pid=9"));
    wd_route_set_free(set);
    wd_doc_free(doc);

    static const char y2[] = "routes:\n"
                             "  a: /x\n"
                             "  b: /y/{q}/{q}\n";
    CHECK_OK(wd_yaml_parse("c.yaml", y2, sizeof(y2) - 1, NULL, &doc, &d));
    CHECK_ERR(wd_route_set_from_doc(doc, wd_node_get(wd_doc_root(doc), "routes"), &set, &d),
              WD_ECONFIG);
    CHECK_STR(d.msg, "c.yaml:3:3: route 'b': template: parameter name repeated (at byte 9)");
    wd_doc_free(doc);

    static const char y3[] = "routes:\n  a: 7\n";
    CHECK_OK(wd_yaml_parse("c.yaml", y3, sizeof(y3) - 1, NULL, &doc, &d));
    CHECK_ERR(wd_route_set_from_doc(doc, wd_node_get(wd_doc_root(doc), "routes"), &set, &d),
              WD_ECONFIG);
    CHECK_STR(d.msg, "c.yaml:2:6: route: expected string, got integer");
    CHECK_ERR(wd_route_set_from_doc(
                      doc, wd_doc_root(doc)->u.obj.members[0].val->u.obj.members[0].val, &set, &d),
              WD_ECONFIG);
    CHECK_STR(d.msg, "c.yaml:2:6: routes: expected object, got integer");
    CHECK_ERR(wd_route_set_from_doc(doc, NULL, &set, &d), WD_ECONFIG);
    wd_doc_free(doc);

    static const char j[] = "{\"routes\": {\"a\\u0000\": \"/x\"}}";
    CHECK_OK(wd_json_parse("c.json", j, sizeof(j) - 1, NULL, &doc, &d));
    CHECK_ERR(wd_route_set_from_doc(doc, wd_node_get(wd_doc_root(doc), "routes"), &set, &d),
              WD_ECONFIG);
    CHECK_STR(d.msg, "c.json:1:13: route: NUL byte in name or template");
    wd_doc_free(doc);
}

static struct wd_route_set *sweep_set;

static int sweep_build(void)
{
    return build(HOSPITAL, WD_ARRAY_LEN(HOSPITAL), &sweep_set, NULL);
}

TEST(alloc_sweep)
{
    CHECK_ALLOC_SWEEP(sweep_build(), (wd_route_set_free(sweep_set), sweep_set = NULL));
    /* and matching never allocates */
    CHECK_OK(sweep_build());
    wd_alloc_fail_at(1);
    CHECK(match_is(sweep_set, "/files/a/b", "files", "path=a/b"));
    CHECK(!wd_alloc_injected());
    wd_alloc_fail_at(0);
    wd_route_set_free(sweep_set);
    sweep_set = NULL;
}

int main(void)
{
    RUN(basic_and_precedence);
    RUN(backtrack_restores_params);
    RUN(decoding);
    RUN(refused_paths);
    RUN(empty_set);
    RUN(template_errors);
    RUN(size_limits);
    RUN(many_routes);
    RUN(from_doc);
    RUN(alloc_sweep);
    return HARNESS_END("route");
}
