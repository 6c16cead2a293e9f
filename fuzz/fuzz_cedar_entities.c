/*
 * Fuzz the Cedar entities JSON loader (and, with the same bytes, the request JSON loader).
 * Properties: no crash, hang or leak; every failure is a clean error with a diagnostic that
 * names the input; a loaded store is frozen, and `in` agrees with its ancestor sets
 * (reflexive, and every direct parent is an ancestor).
 */
#include <stdint.h>
#include <string.h>

#include "warden/cedar.h"
#include "warden/common.h"
#include "warden/err.h"

#include "cedar/entities.h"
#include "cedar/request.h"

#define MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    struct wd_cedar_entities_limits lim = {
            .max_entities = 4096, .max_ancestors = 1u << 20, .max_bytes = 64u << 20};
    struct wd_cedar_entities *e = NULL;
    struct wd_diag diag;
    int rc = wd_cedar_entities_load_json("fuzz", (const char *)data, size, NULL, &lim, &e, &diag);
    if (rc != WD_OK) {
        WD_BUG_ON(e != NULL);
        WD_BUG_ON(rc == WD_OK || rc == WD_EINVAL);
        WD_BUG_ON(rc != WD_ENOMEM && strncmp(diag.msg, "fuzz", 4) != 0);
    } else {
        WD_BUG_ON(!wd_cedar_entities_frozen(e));
        size_t n = wd_cedar_entities_count(e);
        for (size_t i = 0; i < n && i < 256; i++) {
            const struct wd_cedar_entity *ent = wd_cedar_entities_at(e, i);
            WD_BUG_ON(wd_cedar_entities_get(e, ent->uid) != ent);
            WD_BUG_ON(!wd_cedar_entities_in(e, ent->uid, ent->uid));
            for (size_t k = 0; k < ent->nparents; k++) {
                WD_BUG_ON(!wd_cedar_entities_in(e, ent->uid, ent->parents[k]));
                WD_BUG_ON(!wd_cedar_entity_has_ancestor(ent, ent->parents[k]));
            }
            for (size_t k = 1; k < ent->nanc; k++) {
                WD_BUG_ON(ent->anc[k - 1]->hash > ent->anc[k]->hash);
            }
        }
        wd_cedar_entities_free(e);
    }
    /* The same bytes as a request. */
    struct wd_cedar_request *r = NULL;
    if (wd_cedar_request_new(&r) == WD_OK) {
        rc = wd_cedar_request_load_json(r, "fuzz", (const char *)data, size, NULL, &diag);
        WD_BUG_ON(rc == WD_OK
                  && (r->principal == NULL || r->action == NULL || r->resource == NULL
                      || r->context.kind != WD_CV_RECORD));
        wd_cedar_request_free(r);
    }
    return 0;
}
