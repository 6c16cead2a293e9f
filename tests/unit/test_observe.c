/*
 * Unit tests for observations (stateful Cedar rules): observer annotations in lib/cedar
 * (parsing, errors with positions, exclusion from decisions, evaluation), the tag overlay
 * of wd_cedar_authorize_ex, and the observation store of lib/observe (bounds, expiry,
 * export/import/snapshot, concurrency). The pharmacy example of docs/policy.md section 3
 * runs end to end.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/cedar.h"
#include "warden/clock.h"
#include "warden/err.h"
#include "warden/observe.h"

#include "harness.h"

#define DAY_MS ((int64_t)86400 * 1000)

static const char pharmacy_policies[] =
        "@observe(\"prescriptions\")\n"
        "@subject(\"Workload::\\\"spiffe://hospital.example/pharmacy\\\"\")\n"
        "@value(\"context.response.json.id\")\n"
        "@ttl(\"30d\")\n"
        "permit (principal == Workload::\"spiffe://hospital.example/doctor\",\n"
        "        action == Action::\"http:response\",\n"
        "        resource == Workload::\"spiffe://hospital.example/records\")\n"
        "when { context.route == \"prescriptions\" && context.method == \"POST\" &&\n"
        "       context.status == 201 };\n"
        "\n"
        "permit (principal == Workload::\"spiffe://hospital.example/pharmacy\",\n"
        "        action == Action::\"http:GET\",\n"
        "        resource == Workload::\"spiffe://hospital.example/records\")\n"
        "when { context.route == \"prescription\" &&\n"
        "       principal.hasTag(\"prescriptions\") &&\n"
        "       principal.getTag(\"prescriptions\").contains(context.params.id) };\n";

static const char post_event[] =
        "{\"principal\": \"Workload::\\\"spiffe://hospital.example/doctor\\\"\","
        " \"action\": \"Action::\\\"http:response\\\"\","
        " \"resource\": \"Workload::\\\"spiffe://hospital.example/records\\\"\","
        " \"context\": {\"route\": \"prescriptions\", \"method\": \"POST\", \"status\": 201,"
        "   \"response\": {\"json\": {\"id\": \"rx-42\"}}}}";

static const char get_rx42[] =
        "{\"principal\": \"Workload::\\\"spiffe://hospital.example/pharmacy\\\"\","
        " \"action\": \"Action::\\\"http:GET\\\"\","
        " \"resource\": \"Workload::\\\"spiffe://hospital.example/records\\\"\","
        " \"context\": {\"route\": \"prescription\", \"method\": \"GET\","
        "   \"params\": {\"id\": \"rx-42\"}}}";

static const char get_rx43[] =
        "{\"principal\": \"Workload::\\\"spiffe://hospital.example/pharmacy\\\"\","
        " \"action\": \"Action::\\\"http:GET\\\"\","
        " \"resource\": \"Workload::\\\"spiffe://hospital.example/records\\\"\","
        " \"context\": {\"route\": \"prescription\", \"method\": \"GET\","
        "   \"params\": {\"id\": \"rx-43\"}}}";

static int parse_obs(const char *text, struct wd_cedar_policyset **ps, struct wd_diag *d)
{
    struct wd_cedar_parse_opts o;
    memset(&o, 0, sizeof(o));
    o.observers = true;
    return wd_cedar_policyset_parse_ex("p.cedar", text, strlen(text), &o, ps, d);
}

static int load_req(struct wd_cedar_request *r, const char *json)
{
    struct wd_diag d;
    wd_cedar_request_reset(r);
    int rc = wd_cedar_request_load_json(r, "r.json", json, strlen(json), NULL, &d);
    if (rc < 0) {
        printf("request: %s\n", d.msg);
    }
    return rc;
}

/* Decide json against az with the store as overlay at now; returns allow (or -1). */
static int decide(const struct wd_cedar_authz *az, const struct wd_cedar_entities *ents,
                  const struct wd_obs_store *st, int64_t now, struct wd_cedar_request *r,
                  struct wd_cedar_scratch *s, const char *json)
{
    struct wd_cedar_tag_source src;
    struct wd_cedar_response resp;
    wd_obs_tag_source(st, now, &src);
    if (load_req(r, json) < 0
        || wd_cedar_authorize_ex(az, ents, st != NULL ? &src : NULL, r, s, &resp) < 0) {
        return -1;
    }
    return resp.allow ? 1 : 0;
}

static int empty_entities(struct wd_cedar_entities **out)
{
    struct wd_diag d;
    return wd_cedar_entities_load_json("e.json", "[]", 2, NULL, NULL, out, &d);
}

TEST(pharmacy_end_to_end)
{
    struct wd_cedar_policyset *ps = NULL;
    struct wd_cedar_authz *az = NULL;
    struct wd_cedar_entities *ents = NULL;
    struct wd_cedar_request *r = NULL;
    struct wd_cedar_scratch *s = NULL;
    struct wd_obs_store *st = NULL;
    struct wd_diag d;
    CHECK_OK(parse_obs(pharmacy_policies, &ps, &d));
    CHECK_EQ(wd_cedar_policyset_count(ps), 2);
    CHECK_EQ(wd_cedar_policyset_observer_count(ps), 1);
    CHECK(wd_cedar_policy_is_observer(wd_cedar_policyset_policy(ps, 0)));
    CHECK(!wd_cedar_policy_is_observer(wd_cedar_policyset_policy(ps, 1)));
    struct wd_cedar_observer_info oi;
    CHECK_OK(wd_cedar_policy_observer(wd_cedar_policyset_policy(ps, 0), &oi));
    CHECK_EQ(oi.ttl_ms, 30 * DAY_MS);
    CHECK_EQ(oi.subject, WD_CEDAR_SUBJECT_ENTITY);
    CHECK_MEM(oi.subject_id, "spiffe://hospital.example/pharmacy", oi.subject_id_len);
    CHECK_MEM(oi.tag, "prescriptions", oi.tag_len);
    CHECK_ERR(wd_cedar_policy_observer(wd_cedar_policyset_policy(ps, 1), &oi), WD_EINVAL);
    CHECK_OK(wd_cedar_authz_new(ps, &az));
    CHECK_OK(empty_entities(&ents));
    CHECK_OK(wd_cedar_request_new(&r));
    CHECK_OK(wd_cedar_scratch_new(&s));
    CHECK_OK(wd_obs_store_new(NULL, &st));

    wd_clock_pin(1764000000);
    int64_t t0 = wd_time_now_ms();

    /* Nothing observed yet: the GET is denied. */
    CHECK_EQ(decide(az, ents, st, t0, r, s, get_rx42), 0);
    /* The observer is a permit on http:response, but it takes no part in decisions. */
    CHECK_EQ(decide(az, ents, st, t0, r, s, post_event), 0);

    /* The POST response event was allowed (by the proxy's other rules): observe it. */
    struct wd_cedar_tag_source src;
    wd_obs_tag_source(st, t0, &src);
    struct wd_cedar_observations obs;
    CHECK_OK(load_req(r, post_event));
    CHECK_OK(wd_cedar_observe(az, ents, &src, r, s, &obs));
    CHECK_EQ(obs.n, 1);
    CHECK_EQ(obs.nerrors, 0);
    if (obs.n == 1) {
        CHECK_STR(obs.items[0].policy_id, "policy0");
        CHECK_EQ(obs.items[0].type_len, 8);
        CHECK_MEM(obs.items[0].type, "Workload", 8);
        CHECK_EQ(obs.items[0].id_len, strlen("spiffe://hospital.example/pharmacy"));
        CHECK_EQ(obs.items[0].value_len, 5);
        CHECK_MEM(obs.items[0].value, "rx-42", 5);
        CHECK_EQ(obs.items[0].ttl_ms, 30 * DAY_MS);
    }
    size_t refused = 99;
    CHECK_OK(wd_obs_record_all(st, &obs, t0, &refused));
    CHECK_EQ(refused, 0);

    /* Observing the GET itself records nothing (no observer matches). */
    CHECK_OK(load_req(r, get_rx42));
    CHECK_OK(wd_cedar_observe(az, ents, &src, r, s, &obs));
    CHECK_EQ(obs.n, 0);

    /* Now the GET of that prescription is allowed, another one is not. */
    CHECK_EQ(decide(az, ents, st, t0 + 1000, r, s, get_rx42), 1);
    CHECK_EQ(decide(az, ents, st, t0 + 1000, r, s, get_rx43), 0);
    /* Without the overlay the engine is plain Cedar: denied. */
    CHECK_EQ(decide(az, ents, NULL, t0 + 1000, r, s, get_rx42), 0);

    /* Just before and after the 30-day TTL, with the pinned clock. */
    wd_clock_advance(30 * 86400 - 1);
    CHECK_EQ(decide(az, ents, st, wd_time_now_ms(), r, s, get_rx42), 1);
    wd_clock_advance(1);
    CHECK_EQ(decide(az, ents, st, wd_time_now_ms(), r, s, get_rx42), 0);
    CHECK_EQ(wd_obs_purge(st, wd_time_now_ms()), 1);
    struct wd_obs_stats stt;
    wd_obs_stats(st, &stt);
    CHECK_EQ(stt.entities, 0);
    CHECK_EQ(stt.values, 0);
    CHECK_EQ(stt.recorded, 1);
    CHECK_EQ(stt.expired, 1);
    wd_clock_unpin();

    wd_obs_store_free(st);
    wd_cedar_scratch_free(s);
    wd_cedar_request_free(r);
    wd_cedar_entities_free(ents);
    wd_cedar_authz_free(az);
    wd_cedar_policyset_free(ps);
}

TEST(observers_off_is_plain_cedar)
{
    /* Without opts.observers, @observe is an ordinary annotation: the policy decides. */
    struct wd_cedar_policyset *ps = NULL;
    struct wd_cedar_authz *az = NULL;
    struct wd_cedar_entities *ents = NULL;
    struct wd_cedar_request *r = NULL;
    struct wd_cedar_scratch *s = NULL;
    struct wd_diag d;
    CHECK_OK(wd_cedar_policyset_parse("p.cedar", pharmacy_policies, strlen(pharmacy_policies), &ps,
                                      &d));
    CHECK_EQ(wd_cedar_policyset_observer_count(ps), 0);
    CHECK_OK(wd_cedar_authz_new(ps, &az));
    CHECK_OK(empty_entities(&ents));
    CHECK_OK(wd_cedar_request_new(&r));
    CHECK_OK(wd_cedar_scratch_new(&s));
    CHECK_EQ(decide(az, ents, NULL, 0, r, s, post_event), 1);
    struct wd_cedar_observations obs;
    CHECK_OK(wd_cedar_observe(az, ents, NULL, r, s, &obs));
    CHECK_EQ(obs.n, 0);
    /* Bad observer annotations are not checked either. */
    wd_cedar_policyset_free(ps);
    ps = NULL;
    static const char bad[] = "@observe(\"t\") @ttl(\"soon\") permit(principal, action, resource);";
    CHECK_OK(wd_cedar_policyset_parse("p.cedar", bad, strlen(bad), &ps, &d));
    wd_cedar_scratch_free(s);
    wd_cedar_request_free(r);
    wd_cedar_entities_free(ents);
    wd_cedar_authz_free(az);
    wd_cedar_policyset_free(ps);
}

static const char overlay_entities[] =
        "[{\"uid\": {\"type\": \"W\", \"id\": \"a\"}, \"attrs\": {}, \"parents\": [],"
        "  \"tags\": {\"seen\": [\"x\", \"y\"], \"level\": \"high\"}}]";

/* Evaluate `when { COND }` for principal W::"a" or W::"ghost" with the store overlay. */
static int cond_holds(const struct wd_obs_store *st, const char *principal, const char *cond,
                      int *nerrors)
{
    char text[512];
    char rq[256];
    (void)snprintf(text, sizeof(text), "permit(principal, action, resource) when { %s };", cond);
    (void)snprintf(rq, sizeof(rq),
                   "{\"principal\": {\"type\": \"W\", \"id\": \"%s\"},"
                   " \"action\": {\"type\": \"A\", \"id\": \"x\"},"
                   " \"resource\": {\"type\": \"W\", \"id\": \"r\"}, \"context\": {}}",
                   principal);
    struct wd_cedar_policyset *ps = NULL;
    struct wd_cedar_authz *az = NULL;
    struct wd_cedar_entities *ents = NULL;
    struct wd_cedar_request *r = NULL;
    struct wd_cedar_scratch *s = NULL;
    struct wd_diag d;
    int res = -1;
    struct wd_cedar_tag_source src;
    struct wd_cedar_response resp;
    wd_obs_tag_source(st, 1000, &src);
    if (parse_obs(text, &ps, &d) == WD_OK && wd_cedar_authz_new(ps, &az) == WD_OK
        && wd_cedar_entities_load_json("e.json", overlay_entities, strlen(overlay_entities), NULL,
                                       NULL, &ents, &d)
                   == WD_OK
        && wd_cedar_request_new(&r) == WD_OK && wd_cedar_scratch_new(&s) == WD_OK
        && load_req(r, rq) == WD_OK
        && wd_cedar_authorize_ex(az, ents, &src, r, s, &resp) == WD_OK) {
        res = resp.allow ? 1 : 0;
        *nerrors = (int)resp.nerrors;
    }
    wd_cedar_scratch_free(s);
    wd_cedar_request_free(r);
    wd_cedar_entities_free(ents);
    wd_cedar_authz_free(az);
    wd_cedar_policyset_free(ps);
    return res;
}

TEST(overlay_semantics)
{
    struct wd_obs_store *st = NULL;
    CHECK_OK(wd_obs_store_new(NULL, &st));
    int ne = 0;
    /* Before any observation: plain Cedar (ghost is not in the entity store). */
    CHECK_EQ(cond_holds(st, "a", "principal.getTag(\"seen\") == [\"x\", \"y\"]", &ne), 1);
    CHECK_EQ(cond_holds(st, "ghost", "principal.hasTag(\"seen\")", &ne), 0);
    CHECK_EQ(cond_holds(st, "ghost", "principal.getTag(\"seen\") == []", &ne), 0);
    CHECK_EQ(ne, 1); /* entity does not exist */
    CHECK_EQ(cond_holds(st, "a", "principal.getTag(\"new\") == []", &ne), 0);
    CHECK_EQ(ne, 1); /* no such tag */

    CHECK_OK(wd_obs_record(st, "W", 1, "a", 1, "seen", 4, "z", 1, 5000, 0));
    CHECK_OK(wd_obs_record(st, "W", 1, "a", 1, "seen", 4, "x", 1, 5000, 0));
    CHECK_OK(wd_obs_record(st, "W", 1, "a", 1, "level", 5, "low", 3, 5000, 0));
    CHECK_OK(wd_obs_record(st, "W", 1, "a", 1, "new", 3, "n1", 2, 5000, 0));
    CHECK_OK(wd_obs_record(st, "W", 1, "ghost", 5, "seen", 4, "g", 1, 5000, 0));
    CHECK_OK(wd_obs_record(st, "W", 1, "ghost", 5, "old", 3, "g", 1, 500, 0)); /* expired */

    /* A stored set tag is united with the observed values. */
    CHECK_EQ(cond_holds(st, "a", "principal.getTag(\"seen\") == [\"x\", \"y\", \"z\"]", &ne), 1);
    /* A stored non-set tag keeps its value. */
    CHECK_EQ(cond_holds(st, "a", "principal.getTag(\"level\") == \"high\"", &ne), 1);
    /* An observed-only tag of a stored entity. */
    CHECK_EQ(cond_holds(st, "a", "principal.hasTag(\"new\")", &ne), 1);
    CHECK_EQ(cond_holds(st, "a", "principal.getTag(\"new\") == [\"n1\"]", &ne), 1);
    /* An entity that exists only through observations. */
    CHECK_EQ(cond_holds(st, "ghost", "principal.hasTag(\"seen\")", &ne), 1);
    CHECK_EQ(cond_holds(st, "ghost", "principal.getTag(\"seen\").contains(\"g\")", &ne), 1);
    CHECK_EQ(ne, 0);
    /* Expired values are invisible (lazy expiry): hasTag false, getTag an error. */
    CHECK_EQ(cond_holds(st, "ghost", "principal.hasTag(\"old\")", &ne), 0);
    CHECK_EQ(cond_holds(st, "ghost", "principal.getTag(\"old\") == [\"g\"]", &ne), 0);
    CHECK_EQ(ne, 1);
    /* Tags of other entities (resource W::"r") are untouched. */
    CHECK_EQ(cond_holds(st, "a", "resource.hasTag(\"seen\")", &ne), 0);
    wd_obs_store_free(st);
}

/* Parse text with observers on; expect WD_EPROTO with a message containing want. */
static void expect_parse_error(const char *text, const char *want)
{
    struct wd_cedar_policyset *ps = NULL;
    struct wd_diag d;
    d.msg[0] = '\0';
    int rc = parse_obs(text, &ps, &d);
    CHECK_ERR(rc, WD_EPROTO);
    CHECK(ps == NULL);
    if (strstr(d.msg, want) == NULL) {
        printf("want \"%s\" in \"%s\"\n", want, d.msg);
        CHECK(false);
    }
    wd_cedar_policyset_free(ps);
}

TEST(annotation_errors)
{
    const char *tail = " permit(principal, action, resource);";
    char buf[512];
#define P(annos) (snprintf(buf, sizeof(buf), "%s%s", (annos), tail), buf)
    expect_parse_error(P("@observe(\"t\")"), "p.cedar:1:10: observer needs @value");
    expect_parse_error(P("@observe"), "p.cedar:1:1: @observe needs a non-empty tag");
    expect_parse_error(P("@observe(\"\") @value(\"1\")"), "p.cedar:1:10: @observe needs");
    expect_parse_error(P("@observe(\"t\")\n@value(\"1\")\n  @ttl(\"30x\")"),
                       "p.cedar:3:8: @ttl: expected a positive Cedar duration");
    expect_parse_error(P("@observe(\"t\") @value(\"1\") @ttl(\"-1d\")"), "p.cedar:1:32: @ttl");
    expect_parse_error(P("@observe(\"t\") @value(\"1\") @ttl(\"0s\")"), "p.cedar:1:32: @ttl");
    expect_parse_error(P("@observe(\"t\") @value(\"1\") @ttl"), "p.cedar:1:27: @ttl");
    expect_parse_error(P("@observe(\"t\") @value(\"1\") @subject(\"action\")"),
                       "p.cedar:1:36: @subject: expected principal, resource or an entity");
    expect_parse_error(P("@observe(\"t\") @value(\"1\") @subject(\"Foo::bar\")"),
                       "p.cedar:1:36: @subject");
    expect_parse_error(P("@observe(\"t\") @value(\"1\") @subject(\"context.x\")"),
                       "p.cedar:1:36: @subject");
    expect_parse_error(P("@observe(\"t\")\n@value(\"context.\")"),
                       "p.cedar:2:8: @value:1:9: expected an attribute");
    expect_parse_error(P("@observe(\"t\") @value(\"context.a )\")"),
                       "p.cedar:1:22: @value:1:11: expected the end");
    expect_parse_error(P("@observe(\"t\") @value(\"\")"), "p.cedar:1:22: @value: empty expression");
    expect_parse_error(P("@observe(\"t\") @value(\"?principal\")"), "p.cedar:1:22: @value:");
#undef P
    expect_parse_error("@observe(\"t\") @value(\"1\") permit(principal == ?principal, action, "
                       "resource);",
                       "p.cedar:1:1: an observer (@observe) cannot be a template");
    /* A good set for contrast, with the annotations in any order and defaults. */
    struct wd_cedar_policyset *ps = NULL;
    struct wd_diag d;
    static const char ok[] =
            "@value(\"principal.name\") @observe(\"t\") @subject(\"resource\")"
            " permit(principal, action, resource);"
            "@observe(\"u\") @value(\"1 + 2\") permit(principal, action, resource);";
    CHECK_OK(parse_obs(ok, &ps, &d));
    struct wd_cedar_observer_info oi;
    CHECK_OK(wd_cedar_policy_observer(wd_cedar_policyset_policy(ps, 0), &oi));
    CHECK_EQ(oi.subject, WD_CEDAR_SUBJECT_RESOURCE);
    CHECK_EQ(oi.ttl_ms, 3600 * 1000);
    CHECK_OK(wd_cedar_policy_observer(wd_cedar_policyset_policy(ps, 1), &oi));
    CHECK_EQ(oi.subject, WD_CEDAR_SUBJECT_PRINCIPAL);
    CHECK(oi.subject_type == NULL);
    /* The set still prints and re-parses to the same observers. */
    struct wd_buf b;
    wd_buf_init(&b, 1 << 20);
    CHECK_OK(wd_cedar_policyset_print(ps, &b));
    struct wd_cedar_policyset *ps2 = NULL;
    CHECK_OK(wd_cedar_policyset_parse_ex("p2", (const char *)b.p, b.len,
                                         &(struct wd_cedar_parse_opts){.observers = true}, &ps2,
                                         &d));
    CHECK_EQ(wd_cedar_policyset_observer_count(ps2), 2);
    wd_buf_cleanup(&b);
    wd_cedar_policyset_free(ps2);
    wd_cedar_policyset_free(ps);
}

TEST(observer_values)
{
    static const char text[] =
            "@observe(\"n\") @value(\"context.n * 2\") permit(principal, action, resource);\n"
            "@observe(\"b\") @value(\"context.n > 1\") permit(principal, action, resource);\n"
            "@observe(\"e\") @value(\"context.missing\") permit(principal, action, resource);\n"
            "@observe(\"r\") @value(\"principal.name\") @subject(\"resource\")\n"
            "permit(principal, action, resource) when { principal has name };\n"
            "@observe(\"never\") @value(\"1\") forbid(principal, action, resource) when { false "
            "};\n";
    static const char rq[] = "{\"principal\": {\"type\": \"W\", \"id\": \"a\"},"
                             " \"action\": {\"type\": \"A\", \"id\": \"x\"},"
                             " \"resource\": {\"type\": \"W\", \"id\": \"r\"},"
                             " \"context\": {\"n\": -21}}";
    static const char ej[] =
            "[{\"uid\": {\"type\": \"W\", \"id\": \"a\"}, \"attrs\": {\"name\": \"al\"},"
            " \"parents\": []}]";
    struct wd_cedar_policyset *ps = NULL;
    struct wd_cedar_authz *az = NULL;
    struct wd_cedar_entities *ents = NULL;
    struct wd_cedar_request *r = NULL;
    struct wd_cedar_scratch *s = NULL;
    struct wd_diag d;
    CHECK_OK(parse_obs(text, &ps, &d));
    CHECK_OK(wd_cedar_authz_new(ps, &az));
    CHECK_OK(wd_cedar_entities_load_json("e.json", ej, strlen(ej), NULL, NULL, &ents, &d));
    CHECK_OK(wd_cedar_request_new(&r));
    CHECK_OK(wd_cedar_scratch_new(&s));
    CHECK_OK(load_req(r, rq));
    struct wd_cedar_observations obs;
    CHECK_OK(wd_cedar_observe(az, ents, NULL, r, s, &obs));
    CHECK_EQ(obs.n, 2);
    CHECK_EQ(obs.nerrors, 2);
    if (obs.n == 2 && obs.nerrors == 2) {
        CHECK_MEM(obs.items[0].tag, "n", 1);
        CHECK_EQ(obs.items[0].value_len, 3);
        CHECK_MEM(obs.items[0].value, "-42", 3);
        CHECK_MEM(obs.items[0].id, "a", 1);
        CHECK_MEM(obs.items[1].tag, "r", 1);
        CHECK_MEM(obs.items[1].value, "al", 2);
        CHECK_MEM(obs.items[1].id, "r", 1); /* @subject("resource") */
        CHECK_STR(obs.errors[0].policy_id, "policy1");
        CHECK_EQ(obs.errors[0].code, WD_CEDAR_ERR_TYPE);
        CHECK(strstr(obs.errors[0].message, "string or long") != NULL);
        CHECK_STR(obs.errors[1].policy_id, "policy2");
        CHECK_EQ(obs.errors[1].code, WD_CEDAR_ERR_NO_ATTR);
    }
    /* The decision sees none of them: default deny, no errors reported. */
    struct wd_cedar_response resp;
    CHECK_OK(wd_cedar_authorize(az, ents, r, s, &resp));
    CHECK(!resp.allow);
    CHECK_EQ(resp.nerrors, 0);
    CHECK_EQ(resp.nreasons, 0);
    CHECK_ERR(wd_cedar_observe(az, ents, NULL, r, s, NULL), WD_EINVAL);
    CHECK_ERR(wd_cedar_observe(NULL, ents, NULL, r, s, &obs), WD_EINVAL);
    CHECK_EQ(obs.n, 0);

    /* Warm: observing and deciding with the overlay make no heap allocation. */
    struct wd_obs_store *st = NULL;
    CHECK_OK(wd_obs_store_new(NULL, &st));
    CHECK_OK(wd_obs_record_all(st, &(struct wd_cedar_observations){0}, 0, NULL));
    CHECK_OK(wd_obs_record(st, "W", 1, "a", 1, "t", 1, "v1", 2, 1000, 0));
    CHECK_OK(wd_obs_record(st, "W", 1, "a", 1, "t", 1, "v2", 2, 1000, 0));
    struct wd_cedar_tag_source src;
    wd_obs_tag_source(st, 10, &src);
    CHECK_OK(wd_cedar_observe(az, ents, &src, r, s, &obs));
    wd_alloc_fail_at(1);
    int rc1 = wd_cedar_observe(az, ents, &src, r, s, &obs);
    int rc2 = wd_cedar_authorize_ex(az, ents, &src, r, s, &resp);
    int inj = wd_alloc_injected();
    wd_alloc_fail_at(0);
    CHECK_OK(rc1);
    CHECK_OK(rc2);
    CHECK(!inj);
    wd_obs_store_free(st);

    wd_cedar_scratch_free(s);
    wd_cedar_request_free(r);
    wd_cedar_entities_free(ents);
    wd_cedar_authz_free(az);
    wd_cedar_policyset_free(ps);
}

TEST(store_bounds)
{
    struct wd_obs_limits lim = {.max_entities = 2,
                                .max_tags_per_entity = 2,
                                .max_values_per_tag = 2,
                                .max_string = 8,
                                .max_ttl_ms = 1000};
    struct wd_obs_store *st = NULL;
    CHECK_OK(wd_obs_store_new(&lim, &st));
    /* values per tag */
    CHECK_OK(wd_obs_record(st, "T", 1, "a", 1, "t", 1, "v1", 2, 500, 0));
    CHECK_OK(wd_obs_record(st, "T", 1, "a", 1, "t", 1, "v2", 2, 900, 0));
    CHECK_ERR(wd_obs_record(st, "T", 1, "a", 1, "t", 1, "v3", 2, 500, 0), WD_ELIMIT);
    CHECK_OK(wd_obs_record(st, "T", 1, "a", 1, "t", 1, "v1", 2, 500, 0)); /* refresh */
    CHECK_EQ(wd_obs_lookup(st, "T", 1, "a", 1, "t", 1, 100, NULL, NULL), 2);
    /* tags per entity */
    CHECK_OK(wd_obs_record(st, "T", 1, "a", 1, "u", 1, "x", 1, 500, 0));
    CHECK_ERR(wd_obs_record(st, "T", 1, "a", 1, "w", 1, "x", 1, 500, 0), WD_ELIMIT);
    /* entities */
    CHECK_OK(wd_obs_record(st, "T", 1, "b", 1, "t", 1, "x", 1, 500, 0));
    CHECK_ERR(wd_obs_record(st, "T", 1, "c", 1, "t", 1, "x", 1, 500, 0), WD_ELIMIT);
    /* string length, arguments */
    CHECK_ERR(wd_obs_record(st, "T", 1, "a", 1, "t", 1, "123456789", 9, 500, 0), WD_ELIMIT);
    CHECK_OK(wd_obs_record(st, "T", 1, "a", 1, "u", 1, "12345678", 8, 500, 0));
    CHECK_ERR(wd_obs_record(st, "T", 1, "a", 1, "t", 1, "v", 1, 0, 0), WD_EINVAL);
    CHECK_ERR(wd_obs_record(st, "T", 0, "a", 1, "t", 1, "v", 1, 10, 0), WD_EINVAL);
    CHECK_ERR(wd_obs_record(NULL, "T", 1, "a", 1, "t", 1, "v", 1, 10, 0), WD_EINVAL);
    struct wd_obs_stats stt;
    wd_obs_stats(st, &stt);
    CHECK_EQ(stt.refused, 4); /* EINVAL is not a refusal */
    CHECK_EQ(stt.entities, 2);
    CHECK_EQ(stt.values, 5);
    CHECK_EQ(stt.refreshed, 1);
    /* Expired values make room: at 600 v1 (refreshed to 500) and the 500s are gone. */
    CHECK_EQ(wd_obs_lookup(st, "T", 1, "a", 1, "t", 1, 600, NULL, NULL), 1);
    CHECK_OK(wd_obs_record(st, "T", 1, "a", 1, "t", 1, "v3", 2, 500, 600));
    CHECK_OK(wd_obs_record(st, "T", 1, "a", 1, "w", 1, "x", 1, 500, 600));
    /* b expired at 500: a store full of entities purges before refusing (at most once a
       second of `now`: the refusal of c at 0 purged at 0). */
    CHECK_ERR(wd_obs_record(st, "T", 1, "c", 1, "t", 1, "x", 1, 500, 900), WD_ELIMIT);
    CHECK_OK(wd_obs_record(st, "T", 1, "c", 1, "t", 1, "x", 1, 500, 1000));
    /* TTL cap: 10 days becomes 1000 ms. */
    CHECK_OK(wd_obs_record(st, "T", 1, "c", 1, "cap", 3, "x", 1, 10 * DAY_MS, 1000));
    CHECK_EQ(wd_obs_lookup(st, "T", 1, "c", 1, "cap", 3, 1999, NULL, NULL), 1);
    CHECK_EQ(wd_obs_lookup(st, "T", 1, "c", 1, "cap", 3, 2000, NULL, NULL), 0);
    /* Expiry is extended, never shortened. */
    CHECK_OK(wd_obs_record(st, "T", 1, "c", 1, "cap", 3, "x", 1, 10, 1100));
    CHECK_EQ(wd_obs_lookup(st, "T", 1, "c", 1, "cap", 3, 1999, NULL, NULL), 1);
    CHECK(wd_obs_purge(st, 5000) >= 4);
    wd_obs_stats(st, &stt);
    CHECK_EQ(stt.entities, 0);
    CHECK_EQ(stt.tags, 0);
    CHECK_EQ(stt.values, 0);
    wd_obs_store_free(st);
    st = NULL;
    CHECK_ERR(wd_obs_store_new(&(struct wd_obs_limits){.max_ttl_ms = -1}, &st), WD_EINVAL);
    CHECK(st == NULL);
}

static int collect_cb(void *arg, const char *v, size_t len)
{
    struct wd_buf *b = arg;
    WD_TRY(wd_buf_append(b, v, len));
    return wd_buf_append_byte(b, ';');
}

TEST(export_import_snapshot)
{
    struct wd_obs_store *st = NULL, *st2 = NULL;
    CHECK_OK(wd_obs_store_new(NULL, &st));
    CHECK_OK(wd_obs_record(st, "Workload", 8, "spiffe://x/\"q\"", 14, "t", 1, "a\nb", 3, 1000, 0));
    CHECK_OK(wd_obs_record(st, "Workload", 8, "spiffe://x/\"q\"", 14, "t", 1, "", 0, 2000, 0));
    CHECK_OK(wd_obs_record(st, "W", 1, "z", 1, "u", 1, "gone", 4, 10, 0));
    struct wd_buf b;
    wd_buf_init(&b, 1 << 20);
    CHECK_OK(wd_obs_export(st, 100, &b));
    CHECK_OK(wd_buf_append_byte(&b, 0));
    const char *txt = (const char *)b.p;
    CHECK(strstr(txt, "{\"type\":\"Workload\",\"id\":\"spiffe://x/\\\"q\\\"\",\"tag\":\"t\","
                      "\"value\":\"a\\nb\",\"expires_ms\":1000}\n")
          != NULL);
    CHECK(strstr(txt, "\"value\":\"\",\"expires_ms\":2000}\n") != NULL);
    CHECK(strstr(txt, "gone") == NULL);
    CHECK_OK(wd_obs_store_new(NULL, &st2));
    size_t n = 0;
    struct wd_diag d;
    CHECK_OK(wd_obs_import(st2, "x.jsonl", txt, b.len - 1, 1500, &n, &d));
    CHECK_EQ(n, 1); /* the 1000 one has expired at 1500 */
    struct wd_buf vals;
    wd_buf_init(&vals, 1024);
    CHECK_EQ(wd_obs_lookup(st2, "Workload", 8, "spiffe://x/\"q\"", 14, "t", 1, 1999, collect_cb,
                           &vals),
             1);
    CHECK_EQ(vals.len, 1);
    CHECK_EQ(wd_obs_lookup(st2, "Workload", 8, "spiffe://x/\"q\"", 14, "t", 1, 2000, NULL, NULL),
             0);
    wd_buf_cleanup(&vals);

    /* Malformed lines: position and no crash. */
    static const char bad1[] = "\n{\"type\":\"W\",\"id\":\"a\",\"tag\":\"t\",\"value\":\"v\","
                               "\"expires_ms\":9}\n{\"type\":1}\n";
    n = 0;
    CHECK_ERR(wd_obs_import(st2, "x.jsonl", bad1, strlen(bad1), 0, &n, &d), WD_EPROTO);
    CHECK(strncmp(d.msg, "x.jsonl:3:", 10) == 0);
    CHECK_EQ(n, 1);
    static const char bad2[] = "{\"type\":\"W\",\"id\":\"\",\"tag\":\"t\",\"value\":\"v\","
                               "\"expires_ms\":9}";
    CHECK_ERR(wd_obs_import(st2, "x.jsonl", bad2, strlen(bad2), 0, &n, &d), WD_EPROTO);
    CHECK_ERR(wd_obs_import(st2, "x.jsonl", "nope", 4, 0, &n, &d), WD_EPROTO);
    CHECK(strncmp(d.msg, "x.jsonl:1:", 10) == 0);
    CHECK_ERR(wd_obs_import(st2, "x.jsonl", "{\"extra\":1}", 11, 0, &n, &d), WD_EPROTO);

    /* Snapshot to a file and back (a restart or a reload keeping the data). */
    char dir[] = "/tmp/wdobsXXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[64];
    (void)snprintf(path, sizeof(path), "%s/obs.jsonl", dir);
    CHECK_ERR(wd_obs_load(st2, path, 0, &n, &d), WD_ENOENT);
    CHECK_OK(wd_obs_save(st, path, 100, &d));
    struct wd_obs_store *st3 = NULL;
    CHECK_OK(wd_obs_store_new(NULL, &st3));
    CHECK_OK(wd_obs_load(st3, path, 100, &n, &d));
    CHECK_EQ(n, 2);
    CHECK_EQ(wd_obs_lookup(st3, "Workload", 8, "spiffe://x/\"q\"", 14, "t", 1, 999, NULL, NULL), 2);
    (void)unlink(path);
    (void)rmdir(dir);
    wd_obs_store_free(st3);
    wd_buf_cleanup(&b);
    wd_obs_store_free(st2);
    wd_obs_store_free(st);
}

TEST(alloc_sweeps)
{
    struct wd_cedar_policyset *ps = NULL;
    struct wd_diag d;
    CHECK_ALLOC_SWEEP(parse_obs(pharmacy_policies, &ps, &d),
                      (wd_cedar_policyset_free(ps), ps = NULL));
    struct wd_cedar_authz *az = NULL;
    CHECK_OK(parse_obs(pharmacy_policies, &ps, &d));
    CHECK_ALLOC_SWEEP(wd_cedar_authz_new(ps, &az), (wd_cedar_authz_free(az), az = NULL));
    CHECK_OK(wd_cedar_authz_new(ps, &az));

    struct wd_obs_store *st = NULL;
    CHECK_ALLOC_SWEEP(wd_obs_store_new(NULL, &st), (wd_obs_store_free(st), st = NULL));
    CHECK_OK(wd_obs_store_new(NULL, &st));
    /* New entity, new tag on it, new value in the tag. */
    CHECK_ALLOC_SWEEP(wd_obs_record(st, "W", 1, "a", 1, "t", 1, "v", 1, 100, 0), (void)0);
    CHECK_ALLOC_SWEEP(wd_obs_record(st, "W", 1, "a", 1, "u", 1, "v", 1, 100, 0), (void)0);
    CHECK_ALLOC_SWEEP(wd_obs_record(st, "W", 1, "a", 1, "u", 1, "w", 1, 100, 0), (void)0);
    CHECK_EQ(wd_obs_lookup(st, "W", 1, "a", 1, "u", 1, 0, NULL, NULL), 2);

    /* Observe from a cold scratch, then record. */
    struct wd_cedar_entities *ents = NULL;
    struct wd_cedar_request *r = NULL;
    struct wd_cedar_scratch *s = NULL;
    struct wd_cedar_observations obs;
    CHECK_OK(empty_entities(&ents));
    CHECK_OK(wd_cedar_request_new(&r));
    CHECK_OK(load_req(r, post_event));
    CHECK_ALLOC_SWEEP((wd_cedar_scratch_new(&s) == WD_OK
                               ? wd_cedar_observe(az, ents, NULL, r, s, &obs)
                               : WD_ENOMEM),
                      (wd_cedar_scratch_free(s), s = NULL));
    CHECK_OK(wd_cedar_scratch_new(&s));
    CHECK_OK(wd_cedar_observe(az, ents, NULL, r, s, &obs));
    CHECK_ALLOC_SWEEP(wd_obs_record_all(st, &obs, 0, NULL), (void)0);

    static const char lines[] = "{\"type\":\"W\",\"id\":\"b\",\"tag\":\"t\",\"value\":\"v\","
                                "\"expires_ms\":900}\n";
    struct wd_obs_store *st2 = NULL;
    CHECK_OK(wd_obs_store_new(NULL, &st2));
    CHECK_ALLOC_SWEEP(wd_obs_import(st2, "x", lines, strlen(lines), 0, NULL, &d),
                      (void)wd_obs_purge(st2, INT64_MAX));
    struct wd_buf b;
    wd_buf_init(&b, 1 << 20);
    CHECK_ALLOC_SWEEP(wd_obs_export(st, 0, &b), wd_buf_cleanup(&b));

    wd_obs_store_free(st2);
    wd_cedar_scratch_free(s);
    wd_cedar_request_free(r);
    wd_cedar_entities_free(ents);
    wd_obs_store_free(st);
    wd_cedar_authz_free(az);
    wd_cedar_policyset_free(ps);
}

/* ---- concurrency: readers decide with the overlay while writers record and purge ---- */

struct shared {
    const struct wd_cedar_authz *az;
    const struct wd_cedar_entities *ents;
    struct wd_obs_store *st;
    int errors;
    int allowed;
};

static void *reader(void *arg)
{
    struct shared *sh = arg;
    struct wd_cedar_request *r = NULL;
    struct wd_cedar_scratch *s = NULL;
    int errors = 0, allowed = 0;
    if (wd_cedar_request_new(&r) < 0 || wd_cedar_scratch_new(&s) < 0) {
        errors++;
    }
    for (int i = 0; errors == 0 && i < 400; i++) {
        int res = decide(sh->az, sh->ents, sh->st, 1000 + i, r, s, get_rx42);
        errors += res < 0;
        allowed += res == 1;
        errors += wd_obs_lookup(sh->st, "W", 1, "x", 1, "t", 1, 1000 + i, NULL, NULL) < 0;
    }
    wd_cedar_scratch_free(s);
    wd_cedar_request_free(r);
    __atomic_add_fetch(&sh->errors, errors, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&sh->allowed, allowed, __ATOMIC_SEQ_CST);
    return NULL;
}

static void *writer(void *arg)
{
    struct shared *sh = arg;
    static const char ph[] = "spiffe://hospital.example/pharmacy";
    for (int i = 0; i < 400; i++) {
        char v[16];
        int n = snprintf(v, sizeof(v), "rx-%d", i);
        int rc = wd_obs_record(sh->st, "Workload", 8, ph, sizeof(ph) - 1, "prescriptions", 13, v,
                               (size_t)n, 50, 1000 + i);
        if (rc < 0 && rc != WD_ELIMIT) {
            __atomic_add_fetch(&sh->errors, 1, __ATOMIC_SEQ_CST);
        }
        char id[16];
        n = snprintf(id, sizeof(id), "e%d", i % 64);
        rc = wd_obs_record(sh->st, "W", 1, id, (size_t)n, "t", 1, v, strlen(v), 20, 1000 + i);
        if (rc < 0 && rc != WD_ELIMIT) {
            __atomic_add_fetch(&sh->errors, 1, __ATOMIC_SEQ_CST);
        }
        if (i % 50 == 0) {
            (void)wd_obs_purge(sh->st, 1000 + i);
        }
    }
    /* The tag may be full of unexpired values: record after they expire. */
    if (wd_obs_record(sh->st, "Workload", 8, ph, sizeof(ph) - 1, "prescriptions", 13, "rx-42", 5,
                      1000000, 2000)
        < 0) {
        __atomic_add_fetch(&sh->errors, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

TEST(concurrent_readers_writers)
{
    struct wd_cedar_policyset *ps = NULL;
    struct wd_cedar_authz *az = NULL;
    struct wd_cedar_entities *ents = NULL;
    struct wd_diag d;
    CHECK_OK(parse_obs(pharmacy_policies, &ps, &d));
    CHECK_OK(wd_cedar_authz_new(ps, &az));
    CHECK_OK(empty_entities(&ents));
    struct shared sh = {.az = az, .ents = ents};
    CHECK_OK(wd_obs_store_new(&(struct wd_obs_limits){.max_values_per_tag = 64}, &sh.st));
    pthread_t th[6];
    pthread_attr_t attr;
    (void)pthread_attr_init(&attr);
    (void)pthread_attr_setstacksize(&attr, (size_t)1 << 20);
    for (int i = 0; i < 6; i++) {
        CHECK_EQ(pthread_create(&th[i], &attr, i < 4 ? reader : writer, &sh), 0);
    }
    for (int i = 0; i < 6; i++) {
        CHECK_EQ(pthread_join(th[i], NULL), 0);
    }
    (void)pthread_attr_destroy(&attr);
    CHECK_EQ(sh.errors, 0);
    /* After both writers ended, rx-42 is recorded for long: allowed. */
    struct wd_cedar_request *r = NULL;
    struct wd_cedar_scratch *s = NULL;
    CHECK_OK(wd_cedar_request_new(&r));
    CHECK_OK(wd_cedar_scratch_new(&s));
    CHECK_EQ(decide(az, ents, sh.st, 5000, r, s, get_rx42), 1);
    struct wd_obs_stats stt;
    wd_obs_stats(sh.st, &stt);
    CHECK(stt.recorded >= 400);
    wd_cedar_scratch_free(s);
    wd_cedar_request_free(r);
    wd_obs_store_free(sh.st);
    wd_cedar_entities_free(ents);
    wd_cedar_authz_free(az);
    wd_cedar_policyset_free(ps);
}

int main(void)
{
    RUN(pharmacy_end_to_end);
    RUN(observers_off_is_plain_cedar);
    RUN(overlay_semantics);
    RUN(annotation_errors);
    RUN(observer_values);
    RUN(store_bounds);
    RUN(export_import_snapshot);
    RUN(alloc_sweeps);
    RUN(concurrent_readers_writers);
    return HARNESS_END("observe");
}
