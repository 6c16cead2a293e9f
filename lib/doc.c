/*
 * The document tree shared by the JSON and YAML loaders: the arena every node lives in, the
 * builder both loaders drive, and the strict accessors (see include/warden/doc.h and
 * docs/internals/doc.md).
 */
#include "warden/doc.h"

#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/file.h"
#include "warden/log.h"

#include "doc_int.h"

/*
 * Arena. Regular chunks start small and double up to a cap, so a ten-line config costs
 * one allocation and a 16 MiB document a few dozen. A request bigger than half a regular
 * chunk gets a chunk of its own, linked behind the head so the head keeps serving small
 * requests.
 */
#define CHUNK_FIRST ((size_t)4096)
#define CHUNK_MAX   ((size_t)1 << 20)

struct wd_doc_chunk {
    struct wd_doc_chunk *next;
    size_t size; /* usable bytes in data */
    size_t used;
    max_align_t data[];
};

static struct wd_doc_chunk *chunk_new(size_t size)
{
    if (size > SIZE_MAX - sizeof(struct wd_doc_chunk)) {
        return NULL;
    }
    struct wd_doc_chunk *c = wd_malloc(sizeof(*c) + size);
    if (c == NULL) {
        return NULL;
    }
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

void *wd_doc_alloc(struct wd_doc *doc, size_t n, size_t align)
{
    WD_BUG_ON(align == 0 || (align & (align - 1)) != 0 || align > _Alignof(max_align_t));
    struct wd_doc_chunk *head = doc->chunks;
    if (head != NULL) {
        size_t off = (head->used + align - 1) & ~(align - 1);
        if (off <= head->size && n <= head->size - off) {
            head->used = off + n;
            return (unsigned char *)head->data + off;
        }
    }
    if (doc->next_chunk == 0) {
        doc->next_chunk = CHUNK_FIRST;
    }
    if (n > doc->next_chunk / 2) {
        struct wd_doc_chunk *big = chunk_new(n);
        if (big == NULL) {
            return NULL;
        }
        big->used = n;
        if (head == NULL) {
            doc->chunks = big;
        } else {
            big->next = head->next;
            head->next = big;
        }
        return big->data;
    }
    struct wd_doc_chunk *c = chunk_new(doc->next_chunk);
    if (c == NULL) {
        return NULL;
    }
    if (doc->next_chunk < CHUNK_MAX) {
        doc->next_chunk *= 2;
    }
    c->next = head;
    doc->chunks = c;
    c->used = n;
    return c->data;
}

void wd_doc_trim(struct wd_doc *doc, void *p, size_t old_len, size_t new_len)
{
    struct wd_doc_chunk *head = doc->chunks;
    WD_BUG_ON(new_len > old_len);
    if (head != NULL && (unsigned char *)p + old_len == (unsigned char *)head->data + head->used) {
        head->used -= old_len - new_len;
    }
}

char *wd_doc_strndup(struct wd_doc *doc, const char *s, size_t n)
{
    if (n == SIZE_MAX) {
        return NULL;
    }
    char *d = wd_doc_alloc(doc, n + 1, 1);
    if (d == NULL) {
        return NULL;
    }
    if (n > 0) {
        memcpy(d, s, n);
    }
    d[n] = '\0';
    return d;
}

void wd_doc_free(struct wd_doc *doc)
{
    if (doc == NULL) {
        return;
    }
    struct wd_doc_chunk *c = doc->chunks;
    while (c != NULL) {
        struct wd_doc_chunk *next = c->next;
        wd_free(c);
        c = next;
    }
    wd_free(doc);
}

const struct wd_node *wd_doc_root(const struct wd_doc *doc)
{
    return doc->root;
}

const char *wd_doc_file(const struct wd_doc *doc)
{
    return doc->file;
}

void wd_doc_limits_resolve(const struct wd_doc_limits *lim, struct wd_doc_limits *out)
{
    out->max_bytes = lim != NULL && lim->max_bytes != 0 ? lim->max_bytes : WD_DOC_DEFAULT_MAX_BYTES;
    out->max_depth = lim != NULL && lim->max_depth != 0 ? lim->max_depth : WD_DOC_DEFAULT_MAX_DEPTH;
    out->max_nodes = lim != NULL && lim->max_nodes != 0 ? lim->max_nodes : WD_DOC_DEFAULT_MAX_NODES;
}

/* RFC 3629 §4 (the UTF8-octets ABNF): the second byte's range depends on the first. */
size_t wd_doc_utf8_len(const uint8_t *p, size_t n)
{
    if (n == 0) {
        return 0;
    }
    uint8_t c = p[0];
    if (c < 0x80) {
        return 1;
    }
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) {
            lo = 0xa0; /* overlong */
        } else if (c == 0xed) {
            hi = 0x9f; /* U+D800..U+DFFF surrogates */
        }
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) {
            lo = 0x90; /* overlong */
        } else if (c == 0xf4) {
            hi = 0x8f; /* above U+10FFFF */
        }
    } else {
        return 0; /* continuation byte, C0/C1 overlong lead, or F5..FF */
    }
    if (n < len || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    return len;
}

int wd_doc_strtod(struct wd_doc *doc, const char *s, size_t n, double *out)
{
    char small[64];
    char *copy = small;
    if (n >= sizeof(small)) {
        copy = wd_doc_strndup(doc, s, n);
        WD_ENSURE(copy != NULL, WD_ENOMEM);
    } else {
        memcpy(small, s, n);
        small[n] = '\0';
    }
    /*
     * strtod follows LC_NUMERIC, which a program may have changed with setlocale. Switch
     * this thread to the C locale for the call (glibc returns a static object for "C", so
     * this neither allocates nor can fail in practice; if it does, fall back as is).
     */
    locale_t c_loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    locale_t old = c_loc != (locale_t)0 ? uselocale(c_loc) : (locale_t)0;
    char *end = NULL;
    double d = strtod(copy, &end);
    if (c_loc != (locale_t)0) {
        (void)uselocale(old);
        freelocale(c_loc);
    }
    size_t used = (size_t)(end - copy);
    if (copy != small) {
        wd_doc_trim(doc, copy, n + 1, 0);
    }
    WD_ENSURE(used == n, WD_EPROTO);
    WD_ENSURE(!isinf(d), WD_ELIMIT);
    *out = d;
    return WD_OK;
}

/* Builder. */

int wd_docb_vfail(struct wd_docb *b, int err, unsigned line, unsigned col, const char *fmt,
                  va_list ap)
{
    char msg[WD_DIAG_MAX];
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    return wd_diag_set(b->diag, err, b->file, line, col, "%s", msg);
}

int wd_docb_fail(struct wd_docb *b, int err, unsigned line, unsigned col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = wd_docb_vfail(b, err, line, col, fmt, ap);
    va_end(ap);
    return rc;
}

static int docb_nomem(struct wd_docb *b)
{
    return wd_docb_fail(b, WD_ENOMEM, 0, 0, "out of memory");
}

int wd_docb_init(struct wd_docb *b, const char *file, const struct wd_doc_limits *lim,
                 struct wd_diag *diag)
{
    memset(b, 0, sizeof(*b));
    b->file = file != NULL ? file : "<input>";
    b->diag = diag;
    wd_doc_limits_resolve(lim, &b->lim);
    b->doc = wd_calloc(1, sizeof(*b->doc));
    if (b->doc == NULL) {
        return docb_nomem(b);
    }
    b->doc->file = wd_doc_strndup(b->doc, b->file, strlen(b->file));
    if (b->doc->file == NULL) {
        return docb_nomem(b);
    }
    return WD_OK;
}

void wd_docb_cleanup(struct wd_docb *b)
{
    WD_FREE(b->frames);
    WD_FREE(b->stack);
    WD_FREE(b->sort);
    wd_doc_free(b->doc);
    b->doc = NULL;
}

size_t wd_docb_depth(const struct wd_docb *b)
{
    return b->nframes;
}

enum wd_node_type wd_docb_top(const struct wd_docb *b)
{
    WD_BUG_ON(b->nframes == 0);
    return b->frames[b->nframes - 1].node->type;
}

bool wd_docb_want_key(const struct wd_docb *b)
{
    return b->nframes > 0 && b->frames[b->nframes - 1].node->type == WD_NODE_OBJ && !b->have_key;
}

void wd_docb_key(struct wd_docb *b, const char *key, size_t len, unsigned line, unsigned col)
{
    WD_BUG_ON(!wd_docb_want_key(b));
    b->key.key = key;
    b->key.key_len = len;
    b->key.line = line;
    b->key.col = col;
    b->key.val = NULL;
    b->have_key = true;
}

/*
 * Grow an array p (elements of size sz, capacity *cap) to hold at least need elements.
 * Returns the (possibly moved) array, or NULL with p untouched on allocation failure.
 */
static void *grow(void *p, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap) {
        return p;
    }
    size_t n = *cap < 16 ? 16 : *cap;
    while (n < need) {
        if (n > SIZE_MAX / 2) {
            return NULL;
        }
        n *= 2;
    }
    void *q = wd_reallocarray(p, n, sz);
    if (q != NULL) {
        *cap = n;
    }
    return q;
}

int wd_docb_value(struct wd_docb *b, enum wd_node_type t, unsigned line, unsigned col,
                  struct wd_node **out)
{
    if (b->nodes >= b->lim.max_nodes) {
        return wd_docb_fail(b, WD_ELIMIT, line, col, "too many values (limit %zu)",
                            b->lim.max_nodes);
    }
    bool in_container = b->nframes > 0;
    if (in_container) {
        WD_BUG_ON(wd_docb_want_key(b));
        struct wd_member *st = grow(b->stack, &b->cap_stack, b->nstack + 1, sizeof(*st));
        if (st == NULL) {
            return docb_nomem(b);
        }
        b->stack = st;
    } else {
        WD_BUG_ON(b->doc->root != NULL);
    }
    struct wd_node *n = wd_doc_alloc(b->doc, sizeof(*n), _Alignof(struct wd_node));
    if (n == NULL) {
        return docb_nomem(b);
    }
    memset(n, 0, sizeof(*n));
    n->type = t;
    n->line = line;
    n->col = col;
    b->nodes++;
    if (!in_container) {
        b->doc->root = n;
    } else if (wd_docb_top(b) == WD_NODE_OBJ) {
        b->stack[b->nstack] = b->key;
        b->stack[b->nstack].val = n;
        b->nstack++;
        b->have_key = false;
    } else {
        memset(&b->stack[b->nstack], 0, sizeof(b->stack[b->nstack]));
        b->stack[b->nstack].val = n;
        b->nstack++;
    }
    *out = n;
    return WD_OK;
}

int wd_docb_open(struct wd_docb *b, enum wd_node_type t, unsigned line, unsigned col)
{
    WD_BUG_ON(t != WD_NODE_ARR && t != WD_NODE_OBJ);
    if (b->nframes >= b->lim.max_depth) {
        return wd_docb_fail(b, WD_ELIMIT, line, col, "nesting deeper than %zu levels",
                            b->lim.max_depth);
    }
    struct wd_docb_frame *fr = grow(b->frames, &b->cap_frames, b->nframes + 1, sizeof(*fr));
    if (fr == NULL) {
        return docb_nomem(b);
    }
    b->frames = fr;
    struct wd_node *n = NULL;
    WD_TRY(wd_docb_value(b, t, line, col, &n));
    b->frames[b->nframes].node = n;
    b->frames[b->nframes].base = b->nstack;
    b->nframes++;
    return WD_OK;
}

static int key_cmp(const void *a, const void *b)
{
    const struct wd_member *x = *(const struct wd_member *const *)a;
    const struct wd_member *y = *(const struct wd_member *const *)b;
    if (x->key_len != y->key_len) {
        return x->key_len < y->key_len ? -1 : 1;
    }
    int c = x->key_len > 0 ? memcmp(x->key, y->key, x->key_len) : 0;
    if (c != 0) {
        return c;
    }
    /* Equal keys keep document order, so the later occurrence is the one reported. */
    return x < y ? -1 : (x > y ? 1 : 0);
}

static bool key_eq(const struct wd_member *x, const struct wd_member *y)
{
    return x->key_len == y->key_len && (x->key_len == 0 || memcmp(x->key, y->key, x->key_len) == 0);
}

/*
 * Find the first member (in document order) whose key already appeared earlier, or NULL.
 * Small objects compare pairwise; larger ones sort pointers so that an object with many
 * keys costs O(n log n), not O(n^2).
 */
static int find_duplicate(struct wd_docb *b, const struct wd_member *m, size_t n,
                          const struct wd_member **dup)
{
    *dup = NULL;
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            for (size_t j = 0; j < i; j++) {
                if (key_eq(&m[i], &m[j])) {
                    *dup = &m[i];
                    return WD_OK;
                }
            }
        }
        return WD_OK;
    }
    const struct wd_member **sorted =
            grow(b->sort, &b->cap_sort, n, sizeof(const struct wd_member *));
    WD_ENSURE(sorted != NULL, WD_ENOMEM);
    b->sort = sorted;
    for (size_t i = 0; i < n; i++) {
        b->sort[i] = &m[i];
    }
    qsort(b->sort, n, sizeof(const struct wd_member *), key_cmp);
    for (size_t i = 1; i < n; i++) {
        /*
         * Equal keys sort by address, i.e. document order, so every entry equal to its
         * predecessor is a repeat; the lowest address among them is the first repeat.
         */
        if (key_eq(b->sort[i], b->sort[i - 1]) && (*dup == NULL || b->sort[i] < *dup)) {
            *dup = b->sort[i];
        }
    }
    return WD_OK;
}

int wd_docb_close(struct wd_docb *b)
{
    WD_BUG_ON(b->nframes == 0 || b->have_key);
    struct wd_docb_frame *f = &b->frames[b->nframes - 1];
    struct wd_node *node = f->node;
    size_t n = b->nstack - f->base;
    /* The stack is still NULL when no container has had an entry yet. */
    const struct wd_member *src = n > 0 ? b->stack + f->base : NULL;
    if (node->type == WD_NODE_ARR) {
        const struct wd_node **items = NULL;
        if (n > 0) {
            if (n > SIZE_MAX / sizeof(const struct wd_node *)) {
                return docb_nomem(b);
            }
            items = wd_doc_alloc(b->doc, n * sizeof(const struct wd_node *),
                                 _Alignof(const struct wd_node *));
            if (items == NULL) {
                return docb_nomem(b);
            }
            for (size_t i = 0; i < n; i++) {
                items[i] = src[i].val;
            }
        }
        node->u.arr.items = items;
        node->u.arr.n = n;
    } else {
        struct wd_member *members = NULL;
        if (n > 0) {
            if (n > SIZE_MAX / sizeof(*members)) {
                return docb_nomem(b);
            }
            members = wd_doc_alloc(b->doc, n * sizeof(*members), _Alignof(struct wd_member));
            if (members == NULL) {
                return docb_nomem(b);
            }
            memcpy(members, src, n * sizeof(*members));
        }
        const struct wd_member *dup = NULL;
        if (find_duplicate(b, members, n, &dup) < 0) {
            return docb_nomem(b);
        }
        if (dup != NULL) {
            char esc[96];
            return wd_docb_fail(b, WD_EPROTO, dup->line, dup->col, "duplicate key '%s'",
                                wd_log_escape(esc, sizeof(esc), dup->key, dup->key_len));
        }
        node->u.obj.members = members;
        node->u.obj.n = n;
    }
    b->nstack = f->base;
    b->nframes--;
    return WD_OK;
}

void wd_docb_finish(struct wd_docb *b, struct wd_doc **out)
{
    WD_BUG_ON(b->nframes != 0 || b->doc == NULL || b->doc->root == NULL);
    *out = b->doc;
    b->doc = NULL;
}

/* Accessors. */

const char *wd_node_type_name(enum wd_node_type t)
{
    static const char *const names[] = {
            [WD_NODE_NULL] = "null",   [WD_NODE_BOOL] = "boolean", [WD_NODE_INT] = "integer",
            [WD_NODE_REAL] = "number", [WD_NODE_STR] = "string",   [WD_NODE_ARR] = "array",
            [WD_NODE_OBJ] = "object",
    };
    if ((unsigned)t >= WD_ARRAY_LEN(names)) {
        return "unknown";
    }
    return names[t];
}

const struct wd_node *wd_node_get(const struct wd_node *obj, const char *key)
{
    if (obj == NULL || obj->type != WD_NODE_OBJ || key == NULL) {
        return NULL;
    }
    size_t len = strlen(key);
    for (size_t i = 0; i < obj->u.obj.n; i++) {
        const struct wd_member *m = &obj->u.obj.members[i];
        if (m->key_len == len && memcmp(m->key, key, len) == 0) {
            return m->val;
        }
    }
    return NULL;
}

static int doc_verror(const struct wd_doc *doc, unsigned line, unsigned col, struct wd_diag *diag,
                      const char *fmt, va_list ap) WD_PRINTF(5, 0);
static int doc_verror(const struct wd_doc *doc, unsigned line, unsigned col, struct wd_diag *diag,
                      const char *fmt, va_list ap)
{
    char msg[WD_DIAG_MAX];
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    return wd_diag_set(diag, WD_ECONFIG, doc != NULL ? doc->file : NULL, line, col, "%s", msg);
}

static int doc_error_at(const struct wd_doc *doc, unsigned line, unsigned col, struct wd_diag *diag,
                        const char *fmt, ...) WD_PRINTF(5, 6);
static int doc_error_at(const struct wd_doc *doc, unsigned line, unsigned col, struct wd_diag *diag,
                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = doc_verror(doc, line, col, diag, fmt, ap);
    va_end(ap);
    return rc;
}

int wd_doc_error(const struct wd_doc *doc, const struct wd_node *node, struct wd_diag *diag,
                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = doc_verror(doc, node != NULL ? node->line : 0, node != NULL ? node->col : 0, diag, fmt,
                        ap);
    va_end(ap);
    return rc;
}

static bool type_fits(enum wd_node_type want, enum wd_node_type got)
{
    /* WD_NODE_NULL in a field means "any type"; a number field also takes integers. */
    return want == WD_NODE_NULL || want == got || (want == WD_NODE_REAL && got == WD_NODE_INT);
}

static void clear_outs(const struct wd_field *fields, size_t nfields)
{
    for (size_t i = 0; i < nfields; i++) {
        if (fields[i].out != NULL) {
            *fields[i].out = NULL;
        }
    }
}

int wd_doc_read_object(const struct wd_doc *doc, const struct wd_node *node,
                       const struct wd_field *fields, size_t nfields, struct wd_diag *diag)
{
    char esc[96];
    int rc = WD_OK;
    clear_outs(fields, nfields);
    if (node == NULL) {
        return wd_doc_error(doc, NULL, diag, "expected object, got nothing");
    }
    if (node->type != WD_NODE_OBJ) {
        return wd_doc_error(doc, node, diag, "expected object, got %s",
                            wd_node_type_name(node->type));
    }
    for (size_t i = 0; i < node->u.obj.n; i++) {
        const struct wd_member *m = &node->u.obj.members[i];
        const struct wd_field *f = NULL;
        for (size_t k = 0; k < nfields; k++) {
            size_t klen = strlen(fields[k].key);
            if (klen == m->key_len && memcmp(fields[k].key, m->key, klen) == 0) {
                f = &fields[k];
                break;
            }
        }
        if (f == NULL) {
            rc = doc_error_at(doc, m->line, m->col, diag, "unknown key '%s'",
                              wd_log_escape(esc, sizeof(esc), m->key, m->key_len));
            goto out;
        }
        if (!type_fits(f->type, m->val->type)) {
            rc = wd_doc_error(doc, m->val, diag, "'%s': expected %s, got %s",
                              wd_log_escape(esc, sizeof(esc), m->key, m->key_len),
                              wd_node_type_name(f->type), wd_node_type_name(m->val->type));
            goto out;
        }
        if (f->out != NULL) {
            *f->out = m->val;
        }
    }
    for (size_t k = 0; k < nfields; k++) {
        if ((fields[k].flags & WD_FIELD_REQUIRED) == 0) {
            continue;
        }
        if (wd_node_get(node, fields[k].key) == NULL) {
            rc = wd_doc_error(
                    doc, node, diag, "missing key '%s'",
                    wd_log_escape(esc, sizeof(esc), fields[k].key, strlen(fields[k].key)));
            goto out;
        }
    }
out:
    if (rc < 0) {
        clear_outs(fields, nfields);
    }
    return rc;
}

int wd_doc_load_file(const char *path, const struct wd_doc_limits *lim, struct wd_doc **out,
                     struct wd_diag *diag, wd_doc_parse_fn parse)
{
    struct wd_doc_limits l;
    wd_doc_limits_resolve(lim, &l);
    *out = NULL;
    struct wd_buf buf;
    wd_buf_init(&buf, l.max_bytes);
    int rc = wd_file_read(path, l.max_bytes, &buf, diag);
    if (rc == WD_ENOENT) {
        rc = WD_EIO; /* doc.h promises WD_EIO for every read failure; diag says why */
    }
    WD_CHECK(rc);
    WD_CHECK(parse(path, buf.p != NULL ? buf.p : (const uint8_t *)"", buf.len, lim, out, diag));
out:
    wd_buf_cleanup(&buf);
    return rc;
}
