/*
 * Fuzz the YAML loader (libyaml events into the document tree). Beyond "no crash, no leak",
 * check the tree it returns: strings are NUL-terminated valid UTF-8, keys are unique, and
 * every position is 1-based.
 */
#include <stdint.h>
#include <string.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/doc.h"
#include "warden/err.h"

#define MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Length of c as the JSON writer escapes it, when c is ASCII. */
static size_t escaped_len(unsigned char c)
{
    if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') {
        return 2;
    }
    return c < 0x20 ? 6 : 1;
}

/*
 * Strings must be NUL-terminated, valid UTF-8. The JSON writer copies valid UTF-8 as it is
 * and turns each invalid byte into a 3-byte U+FFFD, so its output length tells.
 */
static void check_text(const char *s, size_t n)
{
    WD_BUG_ON(s[n] != '\0');
    struct wd_buf b;
    wd_buf_init(&b, (size_t)1 << 30);
    int rc = wd_json_append_string(&b, s, n);
    WD_BUG_ON(rc != WD_OK);
    size_t expect = 2;
    for (size_t i = 0; i < n; i++) {
        expect += escaped_len((unsigned char)s[i]);
    }
    WD_BUG_ON(b.len != expect);
    wd_buf_cleanup(&b);
}

static void walk(const struct wd_node *n)
{
    WD_BUG_ON(n->line == 0 || n->col == 0);
    if (n->type == WD_NODE_STR) {
        check_text(n->u.s.p, n->u.s.len);
    } else if (n->type == WD_NODE_ARR) {
        for (size_t i = 0; i < n->u.arr.n; i++) {
            walk(n->u.arr.items[i]);
        }
    } else if (n->type == WD_NODE_OBJ) {
        for (size_t i = 0; i < n->u.obj.n; i++) {
            const struct wd_member *m = &n->u.obj.members[i];
            check_text(m->key, m->key_len);
            WD_BUG_ON(m->line == 0 || m->col == 0);
            if (n->u.obj.n < 64) {
                for (size_t k = 0; k < i; k++) {
                    const struct wd_member *o = &n->u.obj.members[k];
                    WD_BUG_ON(o->key_len == m->key_len && memcmp(o->key, m->key, m->key_len) == 0);
                }
            }
            walk(m->val);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    struct wd_doc *doc = NULL;
    struct wd_diag diag;
    int rc = wd_yaml_parse("fuzz.yaml", data, size, NULL, &doc, &diag);
    if (rc != WD_OK) {
        WD_BUG_ON(doc != NULL);
        WD_BUG_ON(rc != WD_EPROTO && rc != WD_ELIMIT && rc != WD_ENOMEM);
        WD_BUG_ON(strncmp(diag.msg, "fuzz.yaml", 9) != 0);
        return 0;
    }
    walk(wd_doc_root(doc));
    wd_doc_free(doc);
    return 0;
}
