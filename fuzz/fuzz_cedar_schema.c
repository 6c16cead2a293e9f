/*
 * Fuzz the Cedar schema human-format parser and, through it, the validator. The input is a
 * schema, optionally followed by a line "%%" and Cedar policies: when both parse, the
 * policies are validated against the schema. On success the resolved model is walked
 * (every type printed, every lookup made) so that inconsistent pointers show up under ASan.
 */
#include <stdint.h>
#include <string.h>

#include "warden/buf.h"
#include "warden/cedar.h"
#include "warden/common.h"
#include "warden/err.h"

#include "cedar/schema.h"

#define MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walk everything a schema holds; invariants of the model are checked as we go. */
static void walk(const struct wd_cedar_schema *s)
{
    struct wd_buf b;
    wd_buf_init(&b, 1u << 20);
    for (uint32_t i = 0; i < s->nety; i++) {
        const struct wd_cedar_ety *e = s->etys[i];
        WD_BUG_ON(wd_cedar_schema_ety(s, e->name, e->name_len) != e);
        WD_BUG_ON(e->shape == NULL || e->shape->kind != WD_CEDAR_T_RECORD);
        for (uint32_t k = 1; k < e->shape->nattrs; k++) {
            const struct wd_cedar_rattr *a = &e->shape->attrs[k - 1], *c = &e->shape->attrs[k];
            WD_BUG_ON(wd_cedar_type_attr(e->shape, c->name, c->len) != c);
            (void)a;
        }
        wd_buf_reset(&b);
        if (wd_cedar_type_print(e->shape, &b) != WD_OK) {
            wd_buf_reset(&b);
        }
        if (e->tags != NULL && wd_cedar_type_print(e->tags, &b) != WD_OK) {
            wd_buf_reset(&b);
        }
        for (uint32_t k = 0; k < e->nparents; k++) {
            WD_BUG_ON(!wd_cedar_ety_has_ancestor(e, e->parents[k]));
        }
    }
    for (uint32_t i = 0; i < s->nact; i++) {
        const struct wd_cedar_act *a = s->acts[i];
        WD_BUG_ON(wd_cedar_schema_act(s, a->type, a->type_len, a->id, a->id_len) != a);
        WD_BUG_ON(wd_cedar_act_has_ancestor(a, a)); /* cycles are rejected */
        WD_BUG_ON(a->context == NULL || a->context->kind != WD_CEDAR_T_RECORD);
        for (uint32_t k = 0; k < a->nparents; k++) {
            WD_BUG_ON(!wd_cedar_act_has_ancestor(a, a->parents[k]));
        }
        wd_buf_reset(&b);
        if (wd_cedar_type_print(a->context, &b) != WD_OK) {
            wd_buf_reset(&b);
        }
    }
    wd_buf_cleanup(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wd_cedar_schema *s = NULL;
    struct wd_cedar_policyset *ps = NULL;
    struct wd_cedar_validation *v = NULL;
    struct wd_diag diag;
    const char *text = (const char *)data;
    size_t slen = size, plen = 0;
    const char *pol = NULL;
    if (size > MAX_INPUT) {
        return 0;
    }
    for (size_t i = 0; i + 4 <= size; i++) {
        if (memcmp(text + i, "\n%%\n", 4) == 0) {
            slen = i;
            pol = text + i + 4;
            plen = size - i - 4;
            break;
        }
    }
    int rc = wd_cedar_schema_parse("fuzz", text, slen, &s, &diag);
    if (rc != WD_OK) {
        /* every rejection is a diagnosed parse, schema or limit error */
        WD_BUG_ON(rc != WD_EPROTO && rc != WD_ECONFIG && rc != WD_ELIMIT && rc != WD_ENOMEM);
        WD_BUG_ON(rc != WD_ENOMEM && strncmp(diag.msg, "fuzz", 4) != 0);
        WD_BUG_ON(s != NULL);
        return 0;
    }
    walk(s);
    if (pol != NULL && wd_cedar_policyset_parse("p", pol, plen, &ps, &diag) == WD_OK) {
        rc = wd_cedar_validate(s, ps, &v);
        WD_BUG_ON(rc != WD_OK && rc != WD_ENOMEM);
        WD_BUG_ON(wd_cedar_validation_error_count(v) > wd_cedar_validation_count(v));
    }
    wd_cedar_validation_free(v);
    wd_cedar_policyset_free(ps);
    wd_cedar_schema_free(s);
    return 0;
}
