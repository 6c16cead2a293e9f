/*
 * Fuzz the strict JSON parser. When a document parses, check a round trip: serialise the
 * tree (strings through wd_json_append_string), parse that, and require the same tree.
 * This holds because accepted strings are valid UTF-8 (so the writer copies them exactly),
 * keys are unique, and reals are printed with enough digits to come back bit for bit.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/doc.h"
#include "warden/err.h"

#define MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Serialise n into out; recursion is bounded by the parser's depth limit. */
static int emit(struct wd_buf *out, const struct wd_node *n)
{
    switch (n->type) {
    case WD_NODE_NULL:
        return wd_buf_append_str(out, "null");
    case WD_NODE_BOOL:
        return wd_buf_append_str(out, n->u.b ? "true" : "false");
    case WD_NODE_INT:
        return wd_buf_printf(out, "%lld", (long long)n->u.i);
    case WD_NODE_REAL: {
        char num[64];
        (void)snprintf(num, sizeof(num), "%.17g", n->u.d);
        /* Keep it a real: "1" would come back as an integer. */
        bool has_mark = strpbrk(num, ".eE") != NULL;
        return wd_buf_printf(out, "%s%s", num, has_mark ? "" : ".0");
    }
    case WD_NODE_STR:
        return wd_json_append_string(out, n->u.s.p, n->u.s.len);
    case WD_NODE_ARR:
        WD_TRY(wd_buf_append_byte(out, '['));
        for (size_t i = 0; i < n->u.arr.n; i++) {
            if (i > 0) {
                WD_TRY(wd_buf_append_byte(out, ','));
            }
            WD_TRY(emit(out, n->u.arr.items[i]));
        }
        return wd_buf_append_byte(out, ']');
    case WD_NODE_OBJ:
        WD_TRY(wd_buf_append_byte(out, '{'));
        for (size_t i = 0; i < n->u.obj.n; i++) {
            const struct wd_member *m = &n->u.obj.members[i];
            if (i > 0) {
                WD_TRY(wd_buf_append_byte(out, ','));
            }
            WD_TRY(wd_json_append_string(out, m->key, m->key_len));
            WD_TRY(wd_buf_append_byte(out, ':'));
            WD_TRY(emit(out, m->val));
        }
        return wd_buf_append_byte(out, '}');
    }
    return WD_OK;
}

static bool same(const struct wd_node *a, const struct wd_node *b)
{
    if (a->type != b->type) {
        return false;
    }
    switch (a->type) {
    case WD_NODE_NULL:
        return true;
    case WD_NODE_BOOL:
        return a->u.b == b->u.b;
    case WD_NODE_INT:
        return a->u.i == b->u.i;
    case WD_NODE_REAL:
        return memcmp(&a->u.d, &b->u.d, sizeof(double)) == 0;
    case WD_NODE_STR:
        return a->u.s.len == b->u.s.len && memcmp(a->u.s.p, b->u.s.p, a->u.s.len) == 0
               && a->u.s.p[a->u.s.len] == '\0';
    case WD_NODE_ARR:
        if (a->u.arr.n != b->u.arr.n) {
            return false;
        }
        for (size_t i = 0; i < a->u.arr.n; i++) {
            if (!same(a->u.arr.items[i], b->u.arr.items[i])) {
                return false;
            }
        }
        return true;
    case WD_NODE_OBJ:
        if (a->u.obj.n != b->u.obj.n) {
            return false;
        }
        for (size_t i = 0; i < a->u.obj.n; i++) {
            const struct wd_member *x = &a->u.obj.members[i], *y = &b->u.obj.members[i];
            if (x->key_len != y->key_len || memcmp(x->key, y->key, x->key_len) != 0
                || !same(x->val, y->val)) {
                return false;
            }
        }
        return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    struct wd_doc *doc = NULL, *again = NULL;
    struct wd_diag diag;
    int rc = wd_json_parse("fuzz.json", data, size, NULL, &doc, &diag);
    if (rc != WD_OK) {
        WD_BUG_ON(doc != NULL);
        WD_BUG_ON(rc != WD_EPROTO && rc != WD_ELIMIT);
        WD_BUG_ON(strncmp(diag.msg, "fuzz.json:", 10) != 0);
        return 0;
    }
    struct wd_buf out;
    wd_buf_init(&out, (size_t)64 << 20);
    rc = emit(&out, wd_doc_root(doc));
    WD_BUG_ON(rc != WD_OK);
    rc = wd_json_parse("again.json", out.p, out.len, NULL, &again, &diag);
    WD_BUG_ON(rc != WD_OK);
    WD_BUG_ON(!same(wd_doc_root(doc), wd_doc_root(again)));
    wd_doc_free(again);
    wd_buf_cleanup(&out);
    wd_doc_free(doc);
    return 0;
}
