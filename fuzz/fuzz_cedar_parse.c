/*
 * Fuzz the Cedar policy parser. When a text parses, check the round-trip property: print
 * the set, parse the printed text, and require an equal tree; printing that again must give
 * the same text. The printer never nests deeper than the source did, so the re-parse cannot
 * hit a limit the original did not. Templates are linked once to exercise link as well.
 */
#include <stdint.h>
#include <string.h>

#include "warden/buf.h"
#include "warden/cedar.h"
#include "warden/common.h"
#include "warden/err.h"

#include "cedar/ast.h"

#define MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wd_cedar_policyset *a = NULL, *b = NULL;
    struct wd_diag diag;
    struct wd_buf t1, t2;
    if (size > MAX_INPUT) {
        return 0;
    }
    wd_buf_init(&t1, 64u << 20);
    wd_buf_init(&t2, 64u << 20);
    int rc = wd_cedar_policyset_parse("fuzz", (const char *)data, size, &a, &diag);
    if (rc != WD_OK) {
        /* Every error is reported, as a parse or limit error with a position. */
        WD_BUG_ON(rc != WD_EPROTO && rc != WD_ELIMIT && rc != WD_ENOMEM);
        WD_BUG_ON(rc != WD_ENOMEM && strncmp(diag.msg, "fuzz:", 5) != 0);
        WD_BUG_ON(a != NULL);
        goto out;
    }
    rc = wd_cedar_policyset_print(a, &t1);
    WD_BUG_ON(rc != WD_OK);
    rc = wd_cedar_policyset_parse("printed", wd_buf_str(&t1), t1.len, &b, &diag);
    WD_BUG_ON(rc != WD_OK);
    WD_BUG_ON(!wd_cedar_ast_equal(a, b));
    rc = wd_cedar_policyset_print(b, &t2);
    WD_BUG_ON(rc != WD_OK);
    WD_BUG_ON(t1.len != t2.len || memcmp(wd_buf_str(&t1), wd_buf_str(&t2), t1.len) != 0);
    /* Link the first template (if any); the set must stay consistent. */
    const struct wd_cedar_policy *t = wd_cedar_policyset_template(a, 0);
    if (t != NULL) {
        const struct wd_cedar_policy *p;
        size_t before = wd_cedar_policyset_count(a);
        rc = wd_cedar_policyset_link(a, wd_cedar_policy_id(t), "fuzz-link",
                                     t->principal.slot ? "User::\"u\"" : NULL,
                                     t->resource.slot ? "Res::\"r\"" : NULL, &diag);
        WD_BUG_ON(rc != WD_OK);
        WD_BUG_ON(wd_cedar_policyset_count(a) != before + 1);
        p = wd_cedar_policyset_find(a, "fuzz-link");
        WD_BUG_ON(p == NULL || !wd_cedar_policy_is_link(p) || p->principal.slot
                  || p->resource.slot);
    }
out:
    wd_buf_cleanup(&t1);
    wd_buf_cleanup(&t2);
    wd_cedar_policyset_free(a);
    wd_cedar_policyset_free(b);
    return 0;
}
