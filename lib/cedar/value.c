/*
 * Cedar runtime values: the arena, hashing, the total order behind `==` and set
 * normalisation, name validation, printing, and the value builder. See value.h.
 */
#include "cedar/value.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/cedar.h"
#include "warden/err.h"

/* ---- arena ---- */

struct wd_cedar_zone_chunk {
    struct wd_cedar_zone_chunk *older;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
};

void wd_cedar_zone_init(struct wd_cedar_zone *a, size_t chunk_size, size_t limit)
{
    a->head = NULL;
    a->first = NULL;
    a->chunk_size = chunk_size < 256 ? 256 : chunk_size;
    a->total = 0;
    a->limit = limit;
}

void wd_cedar_zone_cleanup(struct wd_cedar_zone *a)
{
    if (a == NULL) {
        return;
    }
    struct wd_cedar_zone_chunk *c = a->head;
    while (c != NULL) {
        struct wd_cedar_zone_chunk *older = c->older;
        wd_free(c);
        c = older;
    }
    a->head = NULL;
    a->first = NULL;
    a->total = 0;
}

void wd_cedar_zone_reset(struct wd_cedar_zone *a)
{
    if (a->head != NULL && a->head != a->first) {
        /* Several chunks: replace them by one chunk as large as all of them, so the next
         * use of the same size fits without allocating (amortised: zero allocations in
         * the steady state). If that allocation fails the zone simply starts empty. */
        size_t total = a->total;
        wd_cedar_zone_cleanup(a);
        struct wd_cedar_zone_chunk *c = wd_malloc(sizeof(*c) + total);
        if (c != NULL) {
            c->size = total;
            c->older = NULL;
            a->head = c;
            a->first = c;
            a->total = total;
        }
    }
    if (a->head != NULL) {
        a->head->used = 0;
    }
}

int wd_cedar_zone_alloc(struct wd_cedar_zone *a, size_t n, void **out)
{
    size_t need = (n + 7u) & ~(size_t)7u;
    if (need < n) {
        return WD_ELIMIT;
    }
    struct wd_cedar_zone_chunk *c = a->head;
    if (c == NULL || c->size - c->used < need) {
        size_t size = need > a->chunk_size ? need : a->chunk_size;
        if (a->limit != 0 && (size > a->limit || a->total > a->limit - size)) {
            return WD_ELIMIT;
        }
        if (size > SIZE_MAX - sizeof(*c)) {
            return WD_ELIMIT;
        }
        struct wd_cedar_zone_chunk *nc = wd_malloc(sizeof(*nc) + size);
        if (nc == NULL) {
            return WD_ENOMEM;
        }
        nc->size = size;
        nc->used = 0;
        nc->older = c;
        a->head = nc;
        if (a->first == NULL) {
            a->first = nc;
        }
        a->total += size;
        c = nc;
    }
    *out = c->data + c->used;
    c->used += need;
    return WD_OK;
}

int wd_cedar_zone_strdup(struct wd_cedar_zone *a, const char *s, size_t n, const char **out)
{
    if (n == SIZE_MAX) {
        return WD_ELIMIT;
    }
    void *p = NULL;
    WD_TRY(wd_cedar_zone_alloc(a, n + 1, &p));
    if (n > 0) {
        memcpy(p, s, n);
    }
    ((char *)p)[n] = '\0';
    *out = p;
    return WD_OK;
}

/* ---- hashing and uids ---- */

int wd_cedar_zone_sym(struct wd_cedar_zone *a, const char *s, size_t n,
                      const struct wd_cedar_sym **out)
{
    WD_ENSURE(n <= UINT32_MAX, WD_ELIMIT);
    struct wd_cedar_sym *sym = NULL;
    WD_TRY(wd_cedar_zone_alloc(a, sizeof(*sym), (void **)&sym));
    WD_TRY(wd_cedar_zone_strdup(a, s, n, &sym->p));
    sym->len = (uint32_t)n;
    sym->hash = wd_cedar_hash(s, n);
    *out = sym;
    return WD_OK;
}

int wd_cedar_zone_euid(struct wd_cedar_zone *a, const char *type, size_t tn, const char *id,
                       size_t idn, const struct wd_cedar_euid **out)
{
    struct wd_cedar_euid *u = NULL;
    WD_TRY(wd_cedar_zone_alloc(a, sizeof(*u), (void **)&u));
    WD_TRY(wd_cedar_zone_sym(a, type, tn, &u->type));
    WD_TRY(wd_cedar_zone_sym(a, id, idn, &u->id));
    u->hash = wd_cedar_euid_hash_of(u->type->hash, u->id->hash);
    u->idx = 0;
    *out = u;
    return WD_OK;
}

void wd_cedar_euid_view(struct wd_cedar_euid *u, struct wd_cedar_sym *ts, struct wd_cedar_sym *is,
                        const char *type, size_t tn, const char *id, size_t idn)
{
    ts->p = type;
    ts->len = (uint32_t)tn;
    ts->hash = wd_cedar_hash(type, tn);
    is->p = id;
    is->len = (uint32_t)idn;
    is->hash = wd_cedar_hash(id, idn);
    u->type = ts;
    u->id = is;
    u->idx = 0;
    u->hash = wd_cedar_euid_hash_of(ts->hash, is->hash);
}

bool wd_cedar_euid_eq(const struct wd_cedar_euid *a, const struct wd_cedar_euid *b)
{
    if (a == b) {
        return true;
    }
    return a->hash == b->hash && wd_cedar_sym_eq(a->id, b->id) && wd_cedar_sym_eq(a->type, b->type);
}

/* ---- values ---- */

const struct wd_cedar_set wd_cedar_empty_set = {.n = 0};
const struct wd_cedar_record wd_cedar_empty_record = {.n = 0};

const char *wd_cedar_kind_name(enum wd_cedar_kind k)
{
    static const char *const names[] = {
            [WD_CV_BOOL] = "bool",         [WD_CV_LONG] = "long", [WD_CV_STRING] = "string",
            [WD_CV_ENTITY] = "entity",     [WD_CV_SET] = "set",   [WD_CV_RECORD] = "record",
            [WD_CV_DECIMAL] = "decimal",   [WD_CV_IP] = "ipaddr", [WD_CV_DATETIME] = "datetime",
            [WD_CV_DURATION] = "duration",
    };
    if ((unsigned)k < WD_ARRAY_LEN(names)) {
        return names[k];
    }
    return "?";
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c != 0) {
        return c < 0 ? -1 : 1;
    }
    return an < bn ? -1 : an > bn ? 1 : 0;
}

static int cmp_i64(int64_t a, int64_t b)
{
    return a < b ? -1 : a > b ? 1 : 0;
}

int wd_cedar_euid_cmp(const struct wd_cedar_euid *a, const struct wd_cedar_euid *b)
{
    if (a == b) {
        return 0;
    }
    int c = cmp_bytes(a->type->p, a->type->len, b->type->p, b->type->len);
    if (c != 0) {
        return c;
    }
    return cmp_bytes(a->id->p, a->id->len, b->id->p, b->id->len);
}

static int cmp_ip(const struct wd_cedar_ip *a, const struct wd_cedar_ip *b)
{
    if (a->v6 != b->v6) {
        return a->v6 ? 1 : -1;
    }
    int c = memcmp(a->addr, b->addr, a->v6 ? 16 : 4);
    if (c != 0) {
        return c < 0 ? -1 : 1;
    }
    return cmp_i64(a->prefix, b->prefix);
}

int wd_cedar_value_cmp(const struct wd_cedar_value *a, const struct wd_cedar_value *b)
{
    if (a->kind != b->kind) {
        return a->kind < b->kind ? -1 : 1;
    }
    switch (a->kind) {
    case WD_CV_BOOL:
        return (int)a->u.b - (int)b->u.b;
    case WD_CV_LONG:
    case WD_CV_DECIMAL:
    case WD_CV_DATETIME:
    case WD_CV_DURATION:
        return cmp_i64(a->u.l, b->u.l);
    case WD_CV_STRING:
        return cmp_bytes(a->u.s.p, a->u.s.len, b->u.s.p, b->u.s.len);
    case WD_CV_ENTITY:
        return wd_cedar_euid_cmp(a->u.uid, b->u.uid);
    case WD_CV_IP:
        return cmp_ip(a->u.ip, b->u.ip);
    case WD_CV_SET: {
        const struct wd_cedar_set *x = a->u.set, *y = b->u.set;
        if (x == y) {
            return 0;
        }
        if (x->n != y->n) {
            return x->n < y->n ? -1 : 1;
        }
        for (size_t i = 0; i < x->n; i++) {
            int c = wd_cedar_value_cmp(&x->v[i], &y->v[i]);
            if (c != 0) {
                return c;
            }
        }
        return 0;
    }
    case WD_CV_RECORD: {
        const struct wd_cedar_record *x = a->u.rec, *y = b->u.rec;
        if (x == y) {
            return 0;
        }
        if (x->n != y->n) {
            return x->n < y->n ? -1 : 1;
        }
        for (size_t i = 0; i < x->n; i++) {
            int c = cmp_bytes(x->a[i].key, x->a[i].key_len, y->a[i].key, y->a[i].key_len);
            if (c != 0) {
                return c;
            }
            c = wd_cedar_value_cmp(&x->a[i].v, &y->a[i].v);
            if (c != 0) {
                return c;
            }
        }
        return 0;
    }
    }
    return 0;
}

bool wd_cedar_value_eq(const struct wd_cedar_value *a, const struct wd_cedar_value *b)
{
    return wd_cedar_value_cmp(a, b) == 0;
}

/*
 * In-place sort without allocation: insertion sort for short runs, heapsort otherwise
 * (glibc's qsort may allocate, and the evaluator must not).
 */
static void sift_down(struct wd_cedar_value *v, size_t start, size_t end)
{
    size_t root = start;
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= end) {
            return;
        }
        if (child + 1 < end && wd_cedar_value_cmp(&v[child], &v[child + 1]) < 0) {
            child++;
        }
        if (wd_cedar_value_cmp(&v[root], &v[child]) >= 0) {
            return;
        }
        struct wd_cedar_value t = v[root];
        v[root] = v[child];
        v[child] = t;
        root = child;
    }
}

static void sort_values(struct wd_cedar_value *v, size_t n)
{
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            struct wd_cedar_value t = v[i];
            size_t j = i;
            while (j > 0 && wd_cedar_value_cmp(&v[j - 1], &t) > 0) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = t;
        }
        return;
    }
    for (size_t s = n / 2; s-- > 0;) {
        sift_down(v, s, n);
    }
    for (size_t end = n - 1; end > 0; end--) {
        struct wd_cedar_value t = v[0];
        v[0] = v[end];
        v[end] = t;
        sift_down(v, 0, end);
    }
}

size_t wd_cedar_value_sort_unique(struct wd_cedar_value *v, size_t n)
{
    if (n < 2) {
        return n;
    }
    /* Already sorted and unique is the common case for sets built from sorted input. */
    bool sorted = true;
    for (size_t i = 1; i < n && sorted; i++) {
        sorted = wd_cedar_value_cmp(&v[i - 1], &v[i]) < 0;
    }
    if (sorted) {
        return n;
    }
    sort_values(v, n);
    size_t out = 1;
    for (size_t i = 1; i < n; i++) {
        if (wd_cedar_value_cmp(&v[out - 1], &v[i]) != 0) {
            v[out++] = v[i];
        }
    }
    return out;
}

bool wd_cedar_set_contains(const struct wd_cedar_set *s, const struct wd_cedar_value *v)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = wd_cedar_value_cmp(&s->v[mid], v);
        if (c == 0) {
            return true;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return false;
}

const struct wd_cedar_value *wd_cedar_record_get(const struct wd_cedar_record *r, const char *key,
                                                 size_t key_len)
{
    if (r->n <= 16) {
        /* Small records (contexts, most entities): a scan on length and bytes, no calls. */
        for (size_t i = 0; i < r->n; i++) {
            const struct wd_cedar_attr *a = &r->a[i];
            if (a->key_len == key_len && wd_cedar_bytes_eq(a->key, key, key_len)) {
                return &a->v;
            }
        }
        return NULL;
    }
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *k = r->a[mid].key;
        size_t kn = r->a[mid].key_len;
        /* Keys mostly differ in their first byte: decide those without calling memcmp. */
        int c = kn > 0 && key_len > 0 && k[0] != key[0]
                        ? ((unsigned char)k[0] < (unsigned char)key[0] ? -1 : 1)
                        : cmp_bytes(k, kn, key, key_len);
        if (c == 0) {
            return &r->a[mid].v;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* ---- names ---- */

static bool ident_start(unsigned char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool ident_char(unsigned char c)
{
    return ident_start(c) || (c >= '0' && c <= '9');
}

static bool ident_reserved(const char *s, size_t n)
{
    /* Cedar grammar: reserved identifiers that cannot name a type or namespace. */
    static const char *const words[] = {"true", "false", "if",   "then", "else",
                                        "in",   "is",    "like", "has",  "__cedar"};
    for (size_t i = 0; i < WD_ARRAY_LEN(words); i++) {
        if (strlen(words[i]) == n && memcmp(words[i], s, n) == 0) {
            return true;
        }
    }
    return false;
}

bool wd_cedar_name_valid(const char *s, size_t n)
{
    size_t i = 0;
    for (;;) {
        size_t start = i;
        if (i >= n || !ident_start((unsigned char)s[i])) {
            return false;
        }
        while (i < n && ident_char((unsigned char)s[i])) {
            i++;
        }
        if (ident_reserved(s + start, i - start)) {
            return false;
        }
        if (i == n) {
            return true;
        }
        if (n - i < 2 || s[i] != ':' || s[i + 1] != ':') {
            return false;
        }
        i += 2;
    }
}

/* ---- printing ---- */

struct fmt_out {
    char *p;
    size_t max; /* capacity including the NUL */
    size_t len;
    bool cut;
};

static void out_bytes(struct fmt_out *o, const char *s, size_t n)
{
    if (o->cut || o->max == 0) {
        return;
    }
    size_t room = o->max - 1 - o->len;
    if (n <= room) {
        memcpy(o->p + o->len, s, n);
        o->len += n;
        o->p[o->len] = '\0';
        return;
    }
    /* Fill up, then mark the cut with a trailing "...". */
    memcpy(o->p + o->len, s, room);
    o->len += room;
    if (o->len >= 3) {
        memcpy(o->p + o->len - 3, "...", 3);
    }
    o->p[o->len] = '\0';
    o->cut = true;
}

static void out_str(struct fmt_out *o, const char *s)
{
    out_bytes(o, s, strlen(s));
}

static void out_quoted(struct fmt_out *o, const char *s, size_t n)
{
    out_bytes(o, "\"", 1);
    for (size_t i = 0; i < n && !o->cut; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[16];
        switch (c) {
        case '"':
            out_bytes(o, "\\\"", 2);
            break;
        case '\\':
            out_bytes(o, "\\\\", 2);
            break;
        case '\n':
            out_bytes(o, "\\n", 2);
            break;
        case '\r':
            out_bytes(o, "\\r", 2);
            break;
        case '\t':
            out_bytes(o, "\\t", 2);
            break;
        case '\0':
            out_bytes(o, "\\0", 2);
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                (void)snprintf(esc, sizeof(esc), "\\u{%x}", c);
                out_str(o, esc);
            } else {
                out_bytes(o, (const char *)&c, 1);
            }
        }
    }
    out_bytes(o, "\"", 1);
}

static void format_value(struct fmt_out *o, const struct wd_cedar_value *v, unsigned depth)
{
    char tmp[64];
    if (depth > 32) {
        out_str(o, "...");
        return;
    }
    switch (v->kind) {
    case WD_CV_BOOL:
        out_str(o, v->u.b ? "true" : "false");
        break;
    case WD_CV_LONG:
        (void)snprintf(tmp, sizeof(tmp), "%" PRId64, v->u.l);
        out_str(o, tmp);
        break;
    case WD_CV_STRING:
        out_quoted(o, v->u.s.p, v->u.s.len);
        break;
    case WD_CV_ENTITY:
        out_bytes(o, v->u.uid->type->p, v->u.uid->type->len);
        out_str(o, "::");
        out_quoted(o, v->u.uid->id->p, v->u.uid->id->len);
        break;
    case WD_CV_SET:
        out_str(o, "[");
        for (size_t i = 0; i < v->u.set->n && !o->cut; i++) {
            if (i > 0) {
                out_str(o, ", ");
            }
            format_value(o, &v->u.set->v[i], depth + 1);
        }
        out_str(o, "]");
        break;
    case WD_CV_RECORD:
        out_str(o, "{");
        for (size_t i = 0; i < v->u.rec->n && !o->cut; i++) {
            if (i > 0) {
                out_str(o, ", ");
            }
            out_quoted(o, v->u.rec->a[i].key, v->u.rec->a[i].key_len);
            out_str(o, ": ");
            format_value(o, &v->u.rec->a[i].v, depth + 1);
        }
        out_str(o, "}");
        break;
    case WD_CV_DECIMAL: {
        char d[32];
        wd_cedar_decimal_format(v->u.l, d);
        out_str(o, "decimal(\"");
        out_str(o, d);
        out_str(o, "\")");
        break;
    }
    case WD_CV_IP:
        wd_cedar_ip_format(v->u.ip, tmp);
        out_str(o, "ip(\"");
        out_str(o, tmp);
        out_str(o, "\")");
        break;
    case WD_CV_DATETIME: {
        char d[40];
        wd_cedar_datetime_format(v->u.l, d);
        out_str(o, "datetime(\"");
        out_str(o, d);
        out_str(o, "\")");
        break;
    }
    case WD_CV_DURATION: {
        char d[48];
        wd_cedar_duration_format(v->u.l, d);
        out_str(o, "duration(\"");
        out_str(o, d);
        out_str(o, "\")");
        break;
    }
    }
}

size_t wd_cedar_value_format(const struct wd_cedar_value *v, char *out, size_t max)
{
    struct fmt_out o = {.p = out, .max = max, .len = 0, .cut = false};
    if (max > 0) {
        out[0] = '\0';
    }
    format_value(&o, v, 0);
    return o.len;
}

/* ---- value builder ---- */

void wd_cedar_vb_init(struct wd_cedar_vb *b, struct wd_cedar_zone *zone)
{
    memset(b, 0, sizeof(*b));
    b->zone = zone;
    b->copy_strings = true;
}

void wd_cedar_vb_cleanup(struct wd_cedar_vb *b)
{
    if (b == NULL) {
        return;
    }
    WD_FREE(b->items);
    b->n = 0;
    b->cap = 0;
    b->depth = 0;
}

void wd_cedar_vb_reset(struct wd_cedar_vb *b)
{
    b->n = 0;
    b->depth = 0;
    b->have_key = false;
    b->pending_key = NULL;
    b->pending_len = 0;
}

static bool in_record(const struct wd_cedar_vb *b)
{
    return b->depth > 0 && b->frames[b->depth - 1].is_record;
}

int wd_cedar_vb_key(struct wd_cedar_vb *b, const char *k, size_t n)
{
    WD_ENSURE(in_record(b) && !b->have_key, WD_EINVAL);
    if (b->copy_strings) {
        WD_TRY(wd_cedar_zone_strdup(b->zone, k, n, &k));
    }
    b->pending_key = k;
    b->pending_len = n;
    b->have_key = true;
    return WD_OK;
}

int wd_cedar_vb_push(struct wd_cedar_vb *b, const struct wd_cedar_value *v)
{
    bool rec = in_record(b);
    WD_ENSURE(rec == b->have_key, WD_EINVAL);
    if (b->n == b->cap) {
        size_t ncap = b->cap == 0 ? 32 : b->cap * 2;
        struct wd_cedar_vb_item *ni = wd_reallocarray(b->items, ncap, sizeof(*ni));
        if (ni == NULL) {
            return WD_ENOMEM;
        }
        b->items = ni;
        b->cap = ncap;
    }
    struct wd_cedar_vb_item *it = &b->items[b->n++];
    it->key = rec ? b->pending_key : NULL;
    it->key_len = rec ? b->pending_len : 0;
    it->v = *v;
    b->have_key = false;
    return WD_OK;
}

int wd_cedar_vb_string(struct wd_cedar_vb *b, const char *s, size_t n)
{
    struct wd_cedar_value v = {.kind = WD_CV_STRING};
    if (b->copy_strings) {
        WD_TRY(wd_cedar_zone_strdup(b->zone, s, n, &s));
    }
    v.u.s.p = s;
    v.u.s.len = n;
    return wd_cedar_vb_push(b, &v);
}

int wd_cedar_vb_entity(struct wd_cedar_vb *b, const char *type, size_t tn, const char *id,
                       size_t idn)
{
    WD_ENSURE(tn <= UINT32_MAX && idn <= UINT32_MAX, WD_ELIMIT);
    WD_ENSURE(wd_cedar_name_valid(type, tn), WD_EPROTO);
    const struct wd_cedar_euid *c = NULL;
    if (b->copy_strings) {
        WD_TRY(wd_cedar_zone_euid(b->zone, type, tn, id, idn, &c));
    } else {
        struct {
            struct wd_cedar_euid u;
            struct wd_cedar_sym t, i;
        } *m = NULL;
        WD_TRY(wd_cedar_zone_alloc(b->zone, sizeof(*m), (void **)&m));
        wd_cedar_euid_view(&m->u, &m->t, &m->i, type, tn, id, idn);
        c = &m->u;
    }
    struct wd_cedar_value v = {.kind = WD_CV_ENTITY, .u.uid = c};
    return wd_cedar_vb_push(b, &v);
}

int wd_cedar_vb_bool(struct wd_cedar_vb *b, bool x)
{
    struct wd_cedar_value v = {.kind = WD_CV_BOOL, .u.b = x};
    return wd_cedar_vb_push(b, &v);
}

int wd_cedar_vb_long(struct wd_cedar_vb *b, int64_t x)
{
    struct wd_cedar_value v = {.kind = WD_CV_LONG, .u.l = x};
    return wd_cedar_vb_push(b, &v);
}

int wd_cedar_vb_ip(struct wd_cedar_vb *b, const struct wd_cedar_ip *ip)
{
    struct wd_cedar_ip *c = NULL;
    WD_TRY(wd_cedar_zone_alloc(b->zone, sizeof(*c), (void **)&c));
    *c = *ip;
    struct wd_cedar_value v = {.kind = WD_CV_IP, .u.ip = c};
    return wd_cedar_vb_push(b, &v);
}

int wd_cedar_vb_ext(struct wd_cedar_vb *b, const char *fn, const char *arg, size_t arglen)
{
    WD_ENSURE(fn != NULL, WD_EINVAL);
    struct wd_cedar_value v = {.kind = WD_CV_LONG};
    if (strcmp(fn, "ip") == 0) {
        struct wd_cedar_ip ip;
        WD_TRY(wd_cedar_ip_parse(arg, arglen, &ip) == WD_OK ? WD_OK : WD_EPROTO);
        return wd_cedar_vb_ip(b, &ip);
    }
    int rc;
    if (strcmp(fn, "decimal") == 0) {
        v.kind = WD_CV_DECIMAL;
        rc = wd_cedar_decimal_parse(arg, arglen, &v.u.l);
    } else if (strcmp(fn, "datetime") == 0) {
        v.kind = WD_CV_DATETIME;
        rc = wd_cedar_datetime_parse(arg, arglen, &v.u.l);
    } else if (strcmp(fn, "duration") == 0) {
        v.kind = WD_CV_DURATION;
        rc = wd_cedar_duration_parse(arg, arglen, &v.u.l);
    } else {
        return WD_EPROTO;
    }
    if (rc != WD_OK) {
        return WD_EPROTO;
    }
    return wd_cedar_vb_push(b, &v);
}

int wd_cedar_vb_set_begin(struct wd_cedar_vb *b)
{
    return wd_cedar_vb_begin(b, false);
}

int wd_cedar_vb_record_begin(struct wd_cedar_vb *b)
{
    return wd_cedar_vb_begin(b, true);
}

int wd_cedar_vb_begin(struct wd_cedar_vb *b, bool is_record)
{
    WD_ENSURE(in_record(b) == b->have_key, WD_EINVAL);
    WD_ENSURE(b->depth < WD_CEDAR_VB_MAX_DEPTH, WD_ELIMIT);
    struct wd_cedar_vb_frame *f = &b->frames[b->depth++];
    f->is_record = is_record;
    f->start = b->n;
    /* Remember the key this value will go under: nested records overwrite pending_key. */
    f->key = b->have_key ? b->pending_key : NULL;
    f->key_len = b->have_key ? b->pending_len : 0;
    b->have_key = false;
    return WD_OK;
}

static int cmp_items_by_key(const struct wd_cedar_vb_item *a, const struct wd_cedar_vb_item *b)
{
    return cmp_bytes(a->key, a->key_len, b->key, b->key_len);
}

static void sort_items(struct wd_cedar_vb_item *v, size_t n)
{
    /* Shell sort: records are small and this must not allocate. */
    static const size_t gaps[] = {701, 301, 132, 57, 23, 10, 4, 1};
    for (size_t g = 0; g < WD_ARRAY_LEN(gaps); g++) {
        size_t gap = gaps[g];
        for (size_t i = gap; i < n; i++) {
            struct wd_cedar_vb_item t = v[i];
            size_t j = i;
            while (j >= gap && cmp_items_by_key(&v[j - gap], &t) > 0) {
                v[j] = v[j - gap];
                j -= gap;
            }
            v[j] = t;
        }
    }
}

int wd_cedar_vb_end(struct wd_cedar_vb *b)
{
    WD_ENSURE(b->depth > 0 && !b->have_key, WD_EINVAL);
    struct wd_cedar_vb_frame *f = &b->frames[b->depth - 1];
    size_t count = b->n - f->start;
    struct wd_cedar_vb_item *items = count > 0 ? b->items + f->start : NULL;
    struct wd_cedar_value v;
    if (f->is_record) {
        sort_items(items, count);
        for (size_t i = 1; i < count; i++) {
            if (cmp_items_by_key(&items[i - 1], &items[i]) == 0) {
                b->dup_key = items[i].key;
                b->dup_key_len = items[i].key_len;
                return WD_EEXIST;
            }
        }
        struct wd_cedar_record *r = NULL;
        if (count == 0) {
            v.u.rec = &wd_cedar_empty_record;
        } else {
            WD_TRY(wd_cedar_zone_alloc(b->zone, sizeof(*r) + count * sizeof(r->a[0]), (void **)&r));
            r->n = count;
            for (size_t i = 0; i < count; i++) {
                r->a[i].key = items[i].key;
                r->a[i].key_len = items[i].key_len;
                r->a[i].v = items[i].v;
            }
            v.u.rec = r;
        }
        v.kind = WD_CV_RECORD;
    } else {
        struct wd_cedar_set *s = NULL;
        if (count == 0) {
            v.u.set = &wd_cedar_empty_set;
        } else {
            WD_TRY(wd_cedar_zone_alloc(b->zone, sizeof(*s) + count * sizeof(s->v[0]), (void **)&s));
            for (size_t i = 0; i < count; i++) {
                s->v[i] = items[i].v;
            }
            s->n = wd_cedar_value_sort_unique(s->v, count);
            v.u.set = s;
        }
        v.kind = WD_CV_SET;
    }
    b->n = f->start;
    b->depth--;
    if (in_record(b)) {
        b->pending_key = f->key;
        b->pending_len = f->key_len;
        b->have_key = true;
    }
    return wd_cedar_vb_push(b, &v);
}

int wd_cedar_vb_take(struct wd_cedar_vb *b, struct wd_cedar_value *out)
{
    WD_ENSURE(b->depth == 0 && b->n == 1, WD_EINVAL);
    *out = b->items[0].v;
    b->n = 0;
    return WD_OK;
}
