/*
 * Fuzz observations. Input: Cedar policy text, a NUL byte, then a script of store
 * operations (also fed to the JSON-lines importer as text).
 *   - the policy text is parsed with observers on (annotation checks: every error must be
 *     WD_EPROTO/WD_ELIMIT with a "fuzz:" position); when it parses, the observers are
 *     evaluated for a fixed request with the store as tag overlay, their results recorded,
 *     and the request decided with the overlay;
 *   - the script drives record / lookup / purge / export+import on a store with tiny bounds,
 *     checking the bounds and that an export re-imports to the same live content.
 * Deterministic, no I/O.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "warden/buf.h"
#include "warden/cedar.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/observe.h"

#define MAX_INPUT (16 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char request_json[] =
        "{\"principal\": {\"type\": \"W\", \"id\": \"a\"},"
        " \"action\": {\"type\": \"Action\", \"id\": \"x\"},"
        " \"resource\": {\"type\": \"W\", \"id\": \"r\"},"
        " \"context\": {\"n\": 5, \"s\": \"str\", \"id\": \"rx-1\", \"rec\": {\"k\": [1, 2]}}}";

static void run_policies(const char *text, size_t len, struct wd_obs_store *st)
{
    struct wd_cedar_policyset *ps = NULL;
    struct wd_cedar_authz *az = NULL;
    struct wd_cedar_entities *ents = NULL;
    struct wd_cedar_request *r = NULL;
    struct wd_cedar_scratch *s = NULL;
    struct wd_diag d;
    struct wd_cedar_parse_opts o = {.observers = true};
    int rc = wd_cedar_policyset_parse_ex("fuzz", text, len, &o, &ps, &d);
    if (rc != WD_OK) {
        WD_BUG_ON(rc != WD_EPROTO && rc != WD_ELIMIT && rc != WD_ENOMEM);
        WD_BUG_ON(rc != WD_ENOMEM && strncmp(d.msg, "fuzz:", 5) != 0);
        WD_BUG_ON(ps != NULL);
        return;
    }
    for (size_t i = 0; i < wd_cedar_policyset_count(ps); i++) {
        const struct wd_cedar_policy *p = wd_cedar_policyset_policy(ps, i);
        struct wd_cedar_observer_info oi;
        rc = wd_cedar_policy_observer(p, &oi);
        WD_BUG_ON((rc == WD_OK) != wd_cedar_policy_is_observer(p));
        WD_BUG_ON(rc == WD_OK && (oi.tag_len == 0 || oi.ttl_ms <= 0));
    }
    if (wd_cedar_authz_new(ps, &az) != WD_OK
        || wd_cedar_entities_load_json("e", "[]", 2, NULL, NULL, &ents, &d) != WD_OK
        || wd_cedar_request_new(&r) != WD_OK || wd_cedar_scratch_new(&s) != WD_OK
        || wd_cedar_request_load_json(r, "r", request_json, strlen(request_json), NULL, &d)
                   != WD_OK) {
        goto out;
    }
    struct wd_cedar_tag_source src;
    wd_obs_tag_source(st, 1000, &src);
    struct wd_cedar_observations obs;
    rc = wd_cedar_observe(az, ents, &src, r, s, &obs);
    if (rc == WD_OK) {
        WD_BUG_ON(obs.n + obs.nerrors > wd_cedar_policyset_observer_count(ps));
        for (size_t i = 0; i < obs.n; i++) {
            WD_BUG_ON(obs.items[i].tag_len == 0 || obs.items[i].ttl_ms <= 0);
            WD_BUG_ON(obs.items[i].type_len == 0 || obs.items[i].id_len == 0);
        }
        size_t refused = 0;
        rc = wd_obs_record_all(st, &obs, 1000, &refused);
        WD_BUG_ON(rc != WD_OK && rc != WD_ENOMEM);
    }
    struct wd_cedar_response resp;
    rc = wd_cedar_authorize_ex(az, ents, &src, r, s, &resp);
    WD_BUG_ON(rc != WD_OK && rc != WD_ENOMEM && rc != WD_ELIMIT);
    /* No observer is ever a reason of a decision. */
    for (size_t i = 0; rc == WD_OK && i < resp.nreasons; i++) {
        WD_BUG_ON(wd_cedar_policy_is_observer(wd_cedar_policyset_find(ps, resp.reasons[i])));
    }
out:
    wd_cedar_scratch_free(s);
    wd_cedar_request_free(r);
    wd_cedar_entities_free(ents);
    wd_cedar_authz_free(az);
    wd_cedar_policyset_free(ps);
}

static size_t live_values(const struct wd_obs_store *st, int64_t now)
{
    struct wd_buf b;
    wd_buf_init(&b, 1u << 24);
    size_t n = 0;
    if (wd_obs_export(st, now, &b) == WD_OK) {
        for (size_t i = 0; i < b.len; i++) {
            n += b.p[i] == '\n';
        }
    }
    wd_buf_cleanup(&b);
    return n;
}

static void run_script(const uint8_t *p, size_t n, struct wd_obs_store *st)
{
    static const char *const types[] = {"W", "Workload", "X::Y"};
    static const char *const tags[] = {"t", "prescriptions", "u", "v"};
    int64_t now = 1000;
    struct wd_obs_limits lim;
    memset(&lim, 0, sizeof(lim));
    for (size_t i = 0; i + 3 < n; i += 4) {
        uint8_t op = p[i], a = p[i + 1], b = p[i + 2], c = p[i + 3];
        char id[8], val[8];
        int idn = snprintf(id, sizeof(id), "e%u", (unsigned)(a % 8));
        int vn = snprintf(val, sizeof(val), "v%u", (unsigned)(c % 16));
        const char *ty = types[a % 3];
        const char *tg = tags[b % 4];
        switch (op % 5) {
        case 0:
        case 1: {
            int rc = wd_obs_record(st, ty, strlen(ty), id, (size_t)idn, tg, strlen(tg), val,
                                   (size_t)vn, (int64_t)(b % 7 + 1) * 100, now);
            WD_BUG_ON(rc != WD_OK && rc != WD_ELIMIT && rc != WD_ENOMEM);
            break;
        }
        case 2: {
            int k = wd_obs_lookup(st, ty, strlen(ty), id, (size_t)idn, tg, strlen(tg), now, NULL,
                                  NULL);
            WD_BUG_ON(k < 0 || k > 3);
            break;
        }
        case 3:
            now += (int64_t)(c % 5) * 50;
            break;
        default: {
            size_t before = live_values(st, now);
            (void)wd_obs_purge(st, now);
            WD_BUG_ON(live_values(st, now) != before);
            break;
        }
        }
        struct wd_obs_stats stt;
        wd_obs_stats(st, &stt);
        WD_BUG_ON(stt.entities > 4 || stt.tags > stt.entities * 2 || stt.values > stt.tags * 3);
    }
    (void)lim;
    /* Export, re-import into a fresh store: same live content. */
    struct wd_buf b;
    wd_buf_init(&b, 1u << 24);
    struct wd_obs_store *st2 = NULL;
    struct wd_obs_limits l2 = {
            .max_entities = 4, .max_tags_per_entity = 2, .max_values_per_tag = 3};
    if (wd_obs_export(st, now, &b) == WD_OK && wd_obs_store_new(&l2, &st2) == WD_OK) {
        size_t loaded = 0;
        struct wd_diag d;
        int rc = wd_obs_import(st2, "x", (const char *)b.p, b.len, now, &loaded, &d);
        WD_BUG_ON(rc != WD_OK && rc != WD_ENOMEM);
        WD_BUG_ON(rc == WD_OK && live_values(st2, now) != live_values(st, now));
    }
    wd_obs_store_free(st2);
    wd_buf_cleanup(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    const uint8_t *nul = memchr(data, 0, size);
    size_t plen = nul != NULL ? (size_t)(nul - data) : size;
    const uint8_t *script = nul != NULL ? nul + 1 : data + size;
    size_t slen = size - plen - (nul != NULL ? 1 : 0);
    struct wd_obs_limits lim = {
            .max_entities = 4, .max_tags_per_entity = 2, .max_values_per_tag = 3};
    struct wd_obs_store *st = NULL;
    if (wd_obs_store_new(&lim, &st) != WD_OK) {
        return 0;
    }
    run_policies((const char *)data, plen, st);
    wd_obs_store_free(st);
    st = NULL;
    if (wd_obs_store_new(&lim, &st) != WD_OK) {
        return 0;
    }
    run_script(script, slen, st);
    /* The script as JSON lines: errors are positioned, never crashes. */
    struct wd_diag d;
    size_t loaded = 0;
    int rc = wd_obs_import(st, "in", (const char *)script, slen, 1000, &loaded, &d);
    WD_BUG_ON(rc != WD_OK && rc != WD_EPROTO && rc != WD_ENOMEM);
    WD_BUG_ON(rc == WD_EPROTO && strncmp(d.msg, "in:", 3) != 0);
    wd_obs_store_free(st);
    return 0;
}
