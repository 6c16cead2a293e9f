/*
 * Fuzz the Cedar schema JSON loader. Accepted schemas are walked through the public
 * accessors and a fixed policy set is validated against them (an arbitrary schema must
 * never trip the validator).
 */
#include <stdint.h>
#include <string.h>

#include "warden/cedar.h"
#include "warden/common.h"
#include "warden/err.h"

#define MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char policies[] =
        "permit(principal, action, resource) when { principal has a && principal.a == 1 };\n"
        "forbid(principal, action, resource) when { context has b && context.b.contains(2) };\n"
        "permit(principal, action, resource) unless { resource.hasTag(\"t\") && "
        "resource.getTag(\"t\") };\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wd_cedar_schema *s = NULL;
    struct wd_cedar_policyset *ps = NULL;
    struct wd_cedar_validation *v = NULL;
    struct wd_diag diag;
    if (size > MAX_INPUT) {
        return 0;
    }
    int rc = wd_cedar_schema_parse_json("fuzz", (const char *)data, size, &s, &diag);
    if (rc != WD_OK) {
        WD_BUG_ON(rc != WD_EPROTO && rc != WD_ECONFIG && rc != WD_ELIMIT && rc != WD_ENOMEM);
        WD_BUG_ON(rc != WD_ENOMEM && strncmp(diag.msg, "fuzz", 4) != 0);
        WD_BUG_ON(s != NULL);
        return 0;
    }
    for (size_t i = 0; i < wd_cedar_schema_entity_type_count(s); i++) {
        WD_BUG_ON(wd_cedar_schema_entity_type_name(s, i) == NULL);
    }
    for (size_t i = 0; i < wd_cedar_schema_action_count(s); i++) {
        size_t n;
        WD_BUG_ON(wd_cedar_schema_action_id(s, i, &n) == NULL);
        for (size_t k = 0; k < wd_cedar_schema_action_parent_count(s, i); k++) {
            WD_BUG_ON(wd_cedar_schema_action_parent(s, i, k) >= wd_cedar_schema_action_count(s));
        }
    }
    if (wd_cedar_policyset_parse("p", policies, sizeof(policies) - 1, &ps, &diag) == WD_OK) {
        rc = wd_cedar_validate(s, ps, &v);
        WD_BUG_ON(rc != WD_OK && rc != WD_ENOMEM);
    }
    wd_cedar_validation_free(v);
    wd_cedar_policyset_free(ps);
    wd_cedar_schema_free(s);
    return 0;
}
