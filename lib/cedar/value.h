/*
 * Cedar runtime values (module-private to lib/cedar).
 *
 * A value is a small struct passed by copy. Scalars (bool, long and the int64-based
 * extension types decimal, datetime, duration) are stored inline; strings, entity uids,
 * sets, records and ip addresses point at immutable storage owned by a zone: the entity
 * store's zone for attributes, the policy set's for literals, the request's for context,
 * and the per-evaluation scratch zone for values built while evaluating. Nothing points
 * from a longer-lived zone into a shorter-lived one.
 *
 * Sets are stored sorted by wd_cedar_value_cmp with duplicates removed, so set equality is
 * element-wise comparison and membership is a binary search. Records are sorted by key
 * bytes. wd_cedar_value_cmp is a total order whose "equal" is exactly Cedar's `==`.
 *
 * Everything here is thread-safe on immutable values; builders and zones have one owner.
 */
#ifndef WD_CEDAR_VALUE_H
#define WD_CEDAR_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/common.h"

#include "cedar/ast.h"
#include "cedar/ext.h"

/* ---- zone ---- */

/*
 * A bump allocator over a chain of chunks (unlike the AST's arena it does not zero and it
 * can be reset). Freed all at once (cleanup) or emptied for reuse (reset keeps the first
 * chunk, so a reused zone whose first chunk is big enough never touches the heap again).
 * `limit` bounds the total bytes held in chunks (0: no limit).
 */
struct wd_cedar_zone_chunk;
struct wd_cedar_zone {
    struct wd_cedar_zone_chunk *head; /* current chunk (most recent) */
    struct wd_cedar_zone_chunk *first;
    size_t chunk_size; /* size of ordinary chunks */
    size_t total;      /* bytes in all chunks */
    size_t limit;      /* 0: unbounded */
};

void wd_cedar_zone_init(struct wd_cedar_zone *a, size_t chunk_size, size_t limit);
/* Free every chunk. Accepts NULL; the zone may be reused after wd_cedar_zone_init. */
void wd_cedar_zone_cleanup(struct wd_cedar_zone *a);
/* Forget every allocation but keep the first chunk. */
void wd_cedar_zone_reset(struct wd_cedar_zone *a);
/*
 * n bytes aligned to 8 (n may be 0). WD_ENOMEM, or WD_ELIMIT when the zone's limit would be
 * passed. The memory is uninitialised.
 */
WD_MUST_USE int wd_cedar_zone_alloc(struct wd_cedar_zone *a, size_t n, void **out);
/* A NUL-terminated copy of s[0..n) in the zone. */
WD_MUST_USE int wd_cedar_zone_strdup(struct wd_cedar_zone *a, const char *s, size_t n,
                                     const char **out);
/* A sym (bytes copied, hash computed) in the zone. */
WD_MUST_USE int wd_cedar_zone_sym(struct wd_cedar_zone *a, const char *s, size_t n,
                                  const struct wd_cedar_sym **out);
/* An entity uid (both parts copied) in the zone. */
WD_MUST_USE int wd_cedar_zone_euid(struct wd_cedar_zone *a, const char *type, size_t tn,
                                   const char *id, size_t idn, const struct wd_cedar_euid **out);

/* ---- values ---- */

enum wd_cedar_kind {
    WD_CV_BOOL = 0,
    WD_CV_LONG,
    WD_CV_STRING,
    WD_CV_ENTITY,
    WD_CV_SET,
    WD_CV_RECORD,
    WD_CV_DECIMAL,  /* u.l: value x 10^4 */
    WD_CV_IP,       /* u.ip */
    WD_CV_DATETIME, /* u.l: ms since the epoch */
    WD_CV_DURATION, /* u.l: ms */
};

struct wd_cedar_set;
struct wd_cedar_record;

struct wd_cedar_value {
    enum wd_cedar_kind kind;
    union {
        bool b;
        int64_t l; /* long, decimal, datetime, duration */
        struct {
            const char *p;
            size_t len;
        } s;
        const struct wd_cedar_euid *uid; /* from a policy set, a store, or a zone */
        const struct wd_cedar_set *set;
        const struct wd_cedar_record *rec;
        const struct wd_cedar_ip *ip;
    } u;
};

struct wd_cedar_set {
    size_t n;
    struct wd_cedar_value v[]; /* sorted, no duplicates */
};

struct wd_cedar_attr {
    const char *key; /* NUL-terminated; key_len may count embedded NULs */
    size_t key_len;
    struct wd_cedar_value v;
};

struct wd_cedar_record {
    size_t n;
    struct wd_cedar_attr a[]; /* sorted by key bytes, keys unique */
};

/* The empty set and the empty record, shared (static storage). */
extern const struct wd_cedar_set wd_cedar_empty_set;
extern const struct wd_cedar_record wd_cedar_empty_record;

/*
 * Entity uids are struct wd_cedar_euid (ast.h) everywhere: policy literals are used as they
 * are, and stores/requests build theirs in a zone with the same hash function.
 */
bool wd_cedar_euid_eq(const struct wd_cedar_euid *a, const struct wd_cedar_euid *b);
int wd_cedar_euid_cmp(const struct wd_cedar_euid *a, const struct wd_cedar_euid *b);
/* Stack uid over borrowed bytes (for lookups): fills the syms and euid given. */
void wd_cedar_euid_view(struct wd_cedar_euid *u, struct wd_cedar_sym *ts, struct wd_cedar_sym *is,
                        const char *type, size_t tn, const char *id, size_t idn);

/* Cedar's type name of a kind, as error messages print it ("long", "set", "decimal"...). */
const char *wd_cedar_kind_name(enum wd_cedar_kind k);

/* Total order; 0 exactly when Cedar's `==` is true. Recursion depth = value nesting depth. */
int wd_cedar_value_cmp(const struct wd_cedar_value *a, const struct wd_cedar_value *b);
bool wd_cedar_value_eq(const struct wd_cedar_value *a, const struct wd_cedar_value *b);
/* Sort v[0..n) by wd_cedar_value_cmp and drop duplicates in place; returns the new count. */
size_t wd_cedar_value_sort_unique(struct wd_cedar_value *v, size_t n);

/* Membership by binary search. */
bool wd_cedar_set_contains(const struct wd_cedar_set *s, const struct wd_cedar_value *v);
/* Attribute lookup by binary search; NULL when absent. */
const struct wd_cedar_value *wd_cedar_record_get(const struct wd_cedar_record *r, const char *key,
                                                 size_t key_len);

/*
 * Whether s[0..n) is a valid Cedar name (`Ident ('::' Ident)*`): identifiers are
 * [_A-Za-z][_A-Za-z0-9]*, not one of the reserved words (true false if then else in is like
 * has), and no component is `__cedar`.
 */
bool wd_cedar_name_valid(const char *s, size_t n);

/*
 * Append a value in Cedar syntax (entity uids as Type::"id", strings quoted and escaped,
 * extension values as constructor calls) for diagnostics and printing. Output is cut at
 * max bytes with "...". Never fails: returns the number of bytes written (without NUL).
 */
size_t wd_cedar_value_format(const struct wd_cedar_value *v, char *out, size_t max);

/* ---- value builder ---- */

/*
 * Builds nested values bottom-up into a zone: scalars are pushed; set/record frames are
 * opened and closed; inside a record each value is preceded by a key. The pending items
 * live on a growable stack that the builder keeps between uses, so once warmed up a
 * builder whose zone has room does not touch the heap.
 *
 * Limits: nesting depth WD_CEDAR_VB_MAX_DEPTH (WD_ELIMIT). Errors: WD_EINVAL for calls out
 * of order (a value in a record without a key, end without begin, ...), WD_EEXIST for a
 * duplicate record key (the builder keeps the first, see wd_cedar_vb_dup_key), WD_ENOMEM,
 * WD_ELIMIT (zone limit). After an error the builder must be reset before reuse.
 */
#define WD_CEDAR_VB_MAX_DEPTH 64

struct wd_cedar_vb_item {
    const char *key; /* NULL outside records */
    size_t key_len;
    struct wd_cedar_value v;
};

struct wd_cedar_vb_frame {
    bool is_record;
    size_t start;    /* index of the frame's first item on the stack */
    const char *key; /* the key this frame's value goes under in its parent record */
    size_t key_len;
};

struct wd_cedar_vb {
    struct wd_cedar_zone *zone; /* borrowed: where finished values go */
    struct wd_cedar_vb_item *items;
    size_t n, cap;
    struct wd_cedar_vb_frame frames[WD_CEDAR_VB_MAX_DEPTH];
    size_t depth;
    const char *pending_key; /* key given for the next value in a record frame */
    size_t pending_len;
    bool have_key;
    bool copy_strings;   /* copy string/key bytes into the zone (default true) */
    const char *dup_key; /* after WD_EEXIST: the duplicate key (borrowed) */
    size_t dup_key_len;
};

void wd_cedar_vb_init(struct wd_cedar_vb *b, struct wd_cedar_zone *zone);
void wd_cedar_vb_cleanup(struct wd_cedar_vb *b);
/* Drop every pending item and frame; keeps the stack's memory. */
void wd_cedar_vb_reset(struct wd_cedar_vb *b);

WD_MUST_USE int wd_cedar_vb_push(struct wd_cedar_vb *b, const struct wd_cedar_value *v);
WD_MUST_USE int wd_cedar_vb_ip(struct wd_cedar_vb *b, const struct wd_cedar_ip *ip);
WD_MUST_USE int wd_cedar_vb_begin(struct wd_cedar_vb *b, bool is_record);
/* (wd_cedar_vb_key/bool/long/string/entity/ext/set_begin/record_begin/end: warden/cedar.h) */
/* Close the innermost frame; the finished set/record becomes a pending item. */
/* Take the single finished top-level value; WD_EINVAL unless exactly one is pending. */
WD_MUST_USE int wd_cedar_vb_take(struct wd_cedar_vb *b, struct wd_cedar_value *out);

#endif
