/*
 * Fuzz the Cedar evaluator and authorizer: the input is policy text; when it parses (and
 * its templates are linked), it is authorized against a fixed entity store and a few fixed
 * requests. Properties: no crash, hang or leak; the indexed decision (request uids resolved
 * against the set and the store, struct wd_cedar_fast) equals the decision from evaluating
 * every policy one by one by content (same reasons, same erroring policies with the same
 * error codes); a second decision with the same scratch is identical and allocates
 * nothing.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/cedar.h"
#include "warden/common.h"
#include "warden/err.h"

#include "cedar/ast.h"
#include "cedar/entities.h"
#include "cedar/eval.h"
#include "cedar/request.h"
#include "cedar/value.h"

#define MAX_INPUT (16 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fixture_entities[] =
        "["
        "{\"uid\": {\"type\": \"User\", \"id\": \"alice\"}, \"attrs\": {\"age\": 30,"
        " \"name\": \"alice\", \"nums\": [1, 2, 3], \"rec\": {\"a\": {\"b\": true}},"
        " \"mgr\": {\"__entity\": {\"type\": \"User\", \"id\": \"bob\"}},"
        " \"ip\": {\"__extn\": {\"fn\": \"ip\", \"arg\": \"10.1.2.3\"}},"
        " \"d\": {\"__extn\": {\"fn\": \"decimal\", \"arg\": \"1.5\"}}},"
        " \"parents\": [{\"type\": \"Group\", \"id\": \"staff\"}],"
        " \"tags\": {\"color\": \"blue\", \"n\": 1}},"
        "{\"uid\": {\"type\": \"User\", \"id\": \"bob\"}, \"attrs\": {},"
        " \"parents\": [{\"type\": \"Group\", \"id\": \"all\"}]},"
        "{\"uid\": {\"type\": \"Group\", \"id\": \"staff\"}, \"attrs\": {},"
        " \"parents\": [{\"type\": \"Group\", \"id\": \"all\"}]},"
        "{\"uid\": {\"type\": \"Group\", \"id\": \"all\"}, \"attrs\": {}, \"parents\": []},"
        "{\"uid\": {\"type\": \"Action\", \"id\": \"view\"}, \"attrs\": {},"
        " \"parents\": [{\"type\": \"Action\", \"id\": \"read\"}]},"
        "{\"uid\": {\"type\": \"Action\", \"id\": \"read\"}, \"attrs\": {}, \"parents\": []},"
        "{\"uid\": {\"type\": \"Photo\", \"id\": \"p\"}, \"attrs\": {\"owner\":"
        " {\"__entity\": {\"type\": \"User\", \"id\": \"alice\"}}, \"size\": 5},"
        " \"parents\": [{\"type\": \"Album\", \"id\": \"a\"}]}"
        "]";

static const char *const fixture_requests[] = {
        "{\"principal\": {\"type\": \"User\", \"id\": \"alice\"},"
        " \"action\": {\"type\": \"Action\", \"id\": \"view\"},"
        " \"resource\": {\"type\": \"Photo\", \"id\": \"p\"},"
        " \"context\": {\"n\": 5, \"s\": \"hello\", \"big\": 9223372036854775807,"
        "  \"set\": [1, \"a\", {\"__entity\": {\"type\": \"Group\", \"id\": \"all\"}}],"
        "  \"when\": {\"__extn\": {\"fn\": \"datetime\", \"arg\": \"2024-05-01T10:00:00Z\"}}}}",
        "{\"principal\": {\"type\": \"User\", \"id\": \"nobody\"},"
        " \"action\": {\"type\": \"Action\", \"id\": \"read\"},"
        " \"resource\": {\"type\": \"Album\", \"id\": \"a\"}, \"context\": {}}",
};

/* Immutable fixtures, built on first use and shared by every iteration. */
static struct wd_cedar_entities *fx_ents;
static struct wd_cedar_request *fx_reqs[WD_ARRAY_LEN(fixture_requests)];

static void fixtures(void)
{
    if (fx_ents != NULL) {
        return;
    }
    int rc = wd_cedar_entities_load_json("fixture", fixture_entities, strlen(fixture_entities),
                                         NULL, NULL, &fx_ents, NULL);
    WD_BUG_ON(rc != WD_OK);
    for (size_t i = 0; i < WD_ARRAY_LEN(fixture_requests); i++) {
        rc = wd_cedar_request_new(&fx_reqs[i]);
        WD_BUG_ON(rc != WD_OK);
        rc = wd_cedar_request_load_json(fx_reqs[i], "req", fixture_requests[i],
                                        strlen(fixture_requests[i]), NULL, NULL);
        WD_BUG_ON(rc != WD_OK);
    }
}

/* Evaluate every policy without the index and compare with the response. */
static void brute_force(const struct wd_cedar_policyset *ps, const struct wd_cedar_request *r,
                        const struct wd_cedar_response *resp)
{
    struct wd_cedar_zone z;
    wd_cedar_zone_init(&z, 4096, (size_t)256 << 20);
    struct wd_cedar_env env;
    memset(&env, 0, sizeof(env));
    env.ents = fx_ents;
    env.zone = &z;
    env.principal.kind = env.action.kind = env.resource.kind = WD_CV_ENTITY;
    env.principal.u.uid = r->principal;
    env.action.u.uid = r->action;
    env.resource.u.uid = r->resource;
    env.context = r->context;
    size_t nf = 0, np = 0, ne = 0;
    for (uint32_t i = 0; i < ps->npolicies; i++) {
        const struct wd_cedar_policy *p = ps->policies[i];
        env.steps = WD_CEDAR_EVAL_STEPS;
        bool sat = false;
        int rc = wd_cedar_eval_policy(&env, p, &sat);
        WD_BUG_ON(rc != WD_OK && rc != WD_EDENIED);
        if (rc == WD_EDENIED) {
            WD_BUG_ON(ne >= resp->nerrors || strcmp(resp->errors[ne].policy_id, p->id->p) != 0
                      || resp->errors[ne].code != env.err.code);
            ne++;
        } else if (sat && p->effect == WD_CEDAR_FORBID) {
            WD_BUG_ON(resp->allow || nf >= resp->nreasons
                      || strcmp(resp->reasons[nf], p->id->p) != 0);
            nf++;
        } else if (sat) {
            np++;
        }
        wd_cedar_zone_reset(&z);
    }
    WD_BUG_ON(ne != resp->nerrors);
    WD_BUG_ON(resp->allow != (nf == 0 && np > 0));
    WD_BUG_ON(resp->nreasons != (nf > 0 ? nf : np));
    wd_cedar_zone_cleanup(&z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    fixtures();
    struct wd_cedar_policyset *ps = NULL;
    struct wd_cedar_authz *az = NULL;
    struct wd_cedar_scratch *s = NULL;
    if (wd_cedar_policyset_parse("fuzz", (const char *)data, size, &ps, NULL) != WD_OK) {
        return 0;
    }
    /* Link every template once so linked policies are evaluated too. */
    for (size_t i = 0; i < wd_cedar_policyset_template_count(ps); i++) {
        const struct wd_cedar_policy *t = wd_cedar_policyset_template(ps, i);
        char id[32];
        (void)snprintf(id, sizeof(id), "link%zu", i);
        int rc = wd_cedar_policyset_link(ps, wd_cedar_policy_id(t), id,
                                         t->principal.slot ? "Group::\"staff\"" : NULL,
                                         t->resource.slot ? "Photo::\"p\"" : NULL, NULL);
        WD_BUG_ON(rc != WD_OK && rc != WD_ENOMEM && rc != WD_ELIMIT && rc != WD_EEXIST);
    }
    if (wd_cedar_authz_new(ps, &az) != WD_OK || wd_cedar_scratch_new(&s) != WD_OK) {
        goto out;
    }
    for (size_t i = 0; i < WD_ARRAY_LEN(fixture_requests); i++) {
        struct wd_cedar_response resp;
        int rc = wd_cedar_authorize(az, fx_ents, fx_reqs[i], s, &resp);
        WD_BUG_ON(rc != WD_OK && rc != WD_ELIMIT);
        if (rc != WD_OK) {
            continue;
        }
        bool allow = resp.allow;
        size_t nr = resp.nreasons, ne = resp.nerrors;
        brute_force(ps, fx_reqs[i], &resp);
        /* Same decision again, from the warmed-up scratch, without allocating. */
        long live = wd_alloc_live();
        rc = wd_cedar_authorize(az, fx_ents, fx_reqs[i], s, &resp);
        WD_BUG_ON(rc != WD_OK || resp.allow != allow || resp.nreasons != nr || resp.nerrors != ne);
        WD_BUG_ON(wd_alloc_live() != live);
    }
out:
    wd_cedar_scratch_free(s);
    wd_cedar_authz_free(az);
    wd_cedar_policyset_free(ps);
    return 0;
}
