/*
 * Cedar schemas (module-private to lib/cedar): the resolved model the validator, the request
 * checker and the runtime read, plus the unresolved ("raw") form that the two schema
 * parsers produce and wd_cedar_schema_build resolves.
 *
 * Model. A schema is a set of entity types (struct wd_cedar_ety) and actions
 * (struct wd_cedar_act) with every name already resolved (Cedar 4 name resolution: an
 * unqualified name in namespace NS means NS::name if declared, else the declaration in the
 * empty namespace, else the builtin __cedar::name) and every common type substituted, so
 * a struct wd_cedar_type never refers to a name that still needs looking up. Entity type
 * names and action types are canonical Cedar names ("NS::User", "NS::Action"); action ids
 * are any bytes (may contain NUL).
 *
 * Memory. Everything of a schema lives in one struct wd_cedar_pool owned by the schema and
 * freed by wd_cedar_schema_free; every pointer below is borrowed from the schema. A built
 * schema is never written again, so any number of threads may read it at once.
 *
 * See docs/internals/cedar-validator.md for the rules and the reference behaviour each was
 * checked against (@cedar-policy/cedar-wasm 4.13).
 */
#ifndef WD_CEDAR_SCHEMA_H
#define WD_CEDAR_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/buf.h"
#include "warden/cedar.h"
#include "warden/common.h"
#include "warden/err.h"

/* ---------------------------------------------------------------------------------------
 * Pool: a bump allocator freed all at once (distinct from the policy-set and value arenas)
 * ------------------------------------------------------------------------------------- */

struct wd_cedar_pool_chunk;

struct wd_cedar_pool {
    struct wd_cedar_pool_chunk *head; /* owned chain, newest first */
    size_t used;                      /* bytes handed out */
    size_t max;                       /* cap on used (0: none) */
};

/* Start empty with a cap of max bytes (0 = unlimited). Infallible; allocates nothing. */
void wd_cedar_pool_init(struct wd_cedar_pool *p, size_t max);
/* Free every chunk; the pool is empty again. Accepts NULL. */
void wd_cedar_pool_cleanup(struct wd_cedar_pool *p);
/* Forget every allocation but keep one chunk for reuse. Accepts NULL. */
void wd_cedar_pool_reset(struct wd_cedar_pool *p);
/* n zeroed bytes, 16-byte aligned, valid until cleanup. WD_ENOMEM, WD_ELIMIT (cap). */
WD_MUST_USE int wd_cedar_pool_alloc(struct wd_cedar_pool *p, size_t n, void **out);
/* A NUL-terminated copy of s[0..n) (s may be NULL when n is 0). WD_ENOMEM, WD_ELIMIT. */
WD_MUST_USE int wd_cedar_pool_strdup(struct wd_cedar_pool *p, const char *s, size_t n,
                                     const char **out);

/* ---------------------------------------------------------------------------------------
 * Types
 * ------------------------------------------------------------------------------------- */

enum wd_cedar_tkind {
    WD_CEDAR_T_BOOL = 0, /* Bool */
    WD_CEDAR_T_TRUE,     /* singleton types: only the validator produces them */
    WD_CEDAR_T_FALSE,
    WD_CEDAR_T_LONG,
    WD_CEDAR_T_STRING,
    WD_CEDAR_T_ENTITY, /* name/name_len: canonical entity type name */
    WD_CEDAR_T_SET,    /* elem */
    WD_CEDAR_T_RECORD, /* attrs[0..nattrs), sorted by name bytes, names distinct */
    WD_CEDAR_T_IPADDR,
    WD_CEDAR_T_DECIMAL,
    WD_CEDAR_T_DATETIME,
    WD_CEDAR_T_DURATION,
};

struct wd_cedar_rattr;

struct wd_cedar_type {
    uint8_t kind; /* enum wd_cedar_tkind */
    uint32_t name_len;
    const char *name;                 /* ENTITY; NUL-terminated */
    const struct wd_cedar_type *elem; /* SET */
    const struct wd_cedar_rattr *attrs;
    uint32_t nattrs; /* RECORD */
};

/* One attribute of a record type. */
struct wd_cedar_rattr {
    const char *name; /* NUL-terminated; may contain NUL (len counts them) */
    uint32_t len;
    bool required;
    const struct wd_cedar_type *type;
};

/* Shared constant types (static storage). */
extern const struct wd_cedar_type wd_cedar_type_bool, wd_cedar_type_true, wd_cedar_type_false,
        wd_cedar_type_long, wd_cedar_type_string, wd_cedar_type_ipaddr, wd_cedar_type_decimal,
        wd_cedar_type_datetime, wd_cedar_type_duration, wd_cedar_type_empty_record;

/* Attribute of a record type by name (binary search); NULL if absent or rec not a record. */
const struct wd_cedar_rattr *wd_cedar_type_attr(const struct wd_cedar_type *rec, const char *name,
                                                size_t len);
/* Structural equality (names byte-wise). Recursion depth = type nesting depth. */
bool wd_cedar_type_eq(const struct wd_cedar_type *a, const struct wd_cedar_type *b);
/*
 * Append the type as Cedar writes it in messages ("Long", "Set<String>", "{a: Long, b?:
 * Bool}", "User", "__cedar::internal::True"). WD_ENOMEM, WD_ELIMIT (out's cap).
 */
WD_MUST_USE int wd_cedar_type_print(const struct wd_cedar_type *t, struct wd_buf *out);

/* ---------------------------------------------------------------------------------------
 * Entity types and actions
 * ------------------------------------------------------------------------------------- */

struct wd_cedar_ety {
    const char *name; /* canonical "NS::E", NUL-terminated */
    uint32_t name_len;
    uint32_t index; /* position in wd_cedar_schema.etys */
    unsigned line, col;
    bool is_enum;
    /* enum: the allowed ids (duplicates removed, declaration order) */
    const char *const *choices;
    const uint32_t *choice_lens;
    uint32_t nchoices;
    const struct wd_cedar_type *shape; /* RECORD; the empty record when undeclared or enum */
    const struct wd_cedar_type *tags;  /* NULL: the type has no tags */
    /* memberOfTypes as declared (resolved, duplicates removed) */
    const struct wd_cedar_ety *const *parents;
    uint32_t nparents;
    /* every type reachable through memberOfTypes (transitively; contains the type itself
       only when it is its own ancestor through a cycle such as `entity E in E`) */
    const struct wd_cedar_ety *const *ancestors;
    uint32_t nancestors;
};

struct wd_cedar_act {
    const char *type; /* "NS::Action" (or "Action" in the empty namespace) */
    uint32_t type_len;
    const char *id; /* any bytes, NUL-terminated */
    uint32_t id_len;
    uint32_t index; /* position in wd_cedar_schema.acts */
    unsigned line, col;
    /* memberOf as declared (resolved, duplicates removed) */
    const struct wd_cedar_act *const *parents;
    uint32_t nparents;
    /* transitive closure of parents (never contains the action itself: cycles are errors) */
    const struct wd_cedar_act *const *ancestors;
    uint32_t nancestors;
    /* appliesTo (both empty when the action has none: it then applies to nothing) */
    const struct wd_cedar_ety *const *principals;
    uint32_t nprincipals;
    const struct wd_cedar_ety *const *resources;
    uint32_t nresources;
    const struct wd_cedar_type *context; /* RECORD (the empty record when undeclared) */
};

struct wd_cedar_schema {
    struct wd_cedar_pool pool;
    const char *file;           /* for diagnostics */
    struct wd_cedar_ety **etys; /* declaration order */
    uint32_t nety;
    struct wd_cedar_act **acts; /* declaration order */
    uint32_t nact;
    /* open-addressing indexes (capacities are powers of two) */
    struct wd_cedar_ety **ety_tab;
    uint32_t ety_cap;
    struct wd_cedar_act **act_tab;
    uint32_t act_cap;
};

/* Entity type by canonical name; NULL if the schema does not declare it. Thread-safe. */
const struct wd_cedar_ety *wd_cedar_schema_ety(const struct wd_cedar_schema *s, const char *name,
                                               size_t len);
/* Action by type and id; NULL if not declared. Thread-safe. */
const struct wd_cedar_act *wd_cedar_schema_act(const struct wd_cedar_schema *s, const char *type,
                                               size_t tlen, const char *id, size_t idlen);
/* Whether some declared action has this entity type ("NS::Action"). */
bool wd_cedar_schema_is_action_type(const struct wd_cedar_schema *s, const char *type, size_t tlen);
/* Whether anc is among a's ancestors (a == anc is false unless a is its own ancestor). */
bool wd_cedar_ety_has_ancestor(const struct wd_cedar_ety *a, const struct wd_cedar_ety *anc);
bool wd_cedar_act_has_ancestor(const struct wd_cedar_act *a, const struct wd_cedar_act *anc);
/* Whether id (any bytes) is one of an enumerated type's ids; always true for other types. */
bool wd_cedar_ety_valid_id(const struct wd_cedar_ety *e, const char *id, size_t len);
/* Whether the last component of a Cedar name is `Action` (Cedar's is_action()). */
bool wd_cedar_name_is_action(const char *name, size_t len);

/* ---------------------------------------------------------------------------------------
 * Request validation (lib/cedar/schema_request.c)
 * ------------------------------------------------------------------------------------- */

struct wd_cedar_euid;
struct wd_cedar_value;

/*
 * Check a request against the schema as Cedar does when request validation is on: the
 * action is declared; principal and resource types are declared entity types listed in
 * the action's appliesTo (an enumerated type's id must be one of its ids); the context is
 * a record that has every required attribute of the action's context type, no attribute
 * the type does not declare, and every value conforms to its declared type (recursively:
 * entity uids of the declared type and valid ids, sets element-wise, extension values of
 * the declared extension type). All arguments are borrowed.
 * Returns WD_OK, or WD_EPROTO with diag (may be NULL) saying what does not conform.
 * Thread-safe.
 */
WD_MUST_USE int wd_cedar_schema_check_request(const struct wd_cedar_schema *s,
                                              const struct wd_cedar_euid *principal,
                                              const struct wd_cedar_euid *action,
                                              const struct wd_cedar_euid *resource,
                                              const struct wd_cedar_value *context,
                                              struct wd_diag *diag);
/*
 * Whether value v conforms to type t under schema s (as for context attributes above).
 * On a mismatch, when why != NULL, a short reason is written there (NUL-terminated).
 */
bool wd_cedar_schema_value_conforms(const struct wd_cedar_schema *s, const struct wd_cedar_type *t,
                                    const struct wd_cedar_value *v, char *why, size_t why_len);

/* ---------------------------------------------------------------------------------------
 * Raw (unresolved) schemas, as the parsers produce them
 * ------------------------------------------------------------------------------------- */

enum wd_cedar_raw_kind {
    WD_CEDAR_RAW_REF = 0, /* name: common type > entity type > builtin (human format types,
                             JSON "EntityOrCommon") */
    WD_CEDAR_RAW_COMMON,  /* JSON {"type": name}: common type > builtin */
    WD_CEDAR_RAW_ENTITY,  /* JSON {"type": "Entity", "name": ...}: entity type only */
    WD_CEDAR_RAW_EXT,     /* JSON {"type": "Extension", "name": ...}: extension name */
    WD_CEDAR_RAW_LONG,    /* JSON "Long" */
    WD_CEDAR_RAW_STRING,  /* JSON "String" */
    WD_CEDAR_RAW_BOOL,    /* JSON "Boolean" */
    WD_CEDAR_RAW_SET,     /* elem */
    WD_CEDAR_RAW_RECORD,  /* attrs (source order; a repeated name: the last one wins) */
};

struct wd_cedar_raw_attr;

struct wd_cedar_raw_type {
    uint8_t kind; /* enum wd_cedar_raw_kind */
    unsigned line, col;
    const char *name; /* REF COMMON ENTITY EXT: the name as written ("A::B") */
    size_t name_len;
    const struct wd_cedar_raw_type *elem; /* SET */
    struct wd_cedar_raw_attr *attrs;      /* RECORD: list */
    size_t nattrs;
};

struct wd_cedar_raw_attr {
    struct wd_cedar_raw_attr *next;
    const char *name;
    size_t len;
    bool required;
    unsigned line, col;
    const struct wd_cedar_raw_type *type;
};

/* A name as written (entity type reference), with its position. */
struct wd_cedar_raw_name {
    struct wd_cedar_raw_name *next;
    const char *p;
    size_t len;
    unsigned line, col;
};

/* An action reference: type as written (NULL: none written) and id. */
struct wd_cedar_raw_aref {
    struct wd_cedar_raw_aref *next;
    const char *type;
    size_t type_len;
    const char *id;
    size_t id_len;
    unsigned line, col;
};

struct wd_cedar_raw_entity {
    struct wd_cedar_raw_entity *next;
    const char *name; /* basename (one identifier) */
    size_t len;
    unsigned line, col;
    struct wd_cedar_raw_name *parents;
    const struct wd_cedar_raw_type *shape; /* NULL: none */
    const struct wd_cedar_raw_type *tags;  /* NULL: none */
    bool is_enum;
    struct wd_cedar_raw_name *choices; /* enum ids (p/len are the unescaped bytes) */
};

struct wd_cedar_raw_action {
    struct wd_cedar_raw_action *next;
    const char *id;
    size_t len;
    unsigned line, col;
    struct wd_cedar_raw_aref *parents;
    bool applies; /* an appliesTo was given */
    unsigned ap_line, ap_col;
    struct wd_cedar_raw_name *principals;
    struct wd_cedar_raw_name *resources;
    const struct wd_cedar_raw_type *context; /* NULL: none (the empty record) */
};

struct wd_cedar_raw_common {
    struct wd_cedar_raw_common *next;
    const char *name; /* basename */
    size_t len;
    unsigned line, col;
    const struct wd_cedar_raw_type *type;
};

struct wd_cedar_raw_ns {
    struct wd_cedar_raw_ns *next;
    const char *name; /* "" for the empty namespace */
    size_t len;
    unsigned line, col;
    struct wd_cedar_raw_entity *entities, **entities_tail;
    struct wd_cedar_raw_action *actions, **actions_tail;
    struct wd_cedar_raw_common *commons, **commons_tail;
};

struct wd_cedar_raw_schema {
    struct wd_cedar_raw_ns *nss, **nss_tail;
};

/* Allocate an empty schema whose pool the parser then fills. WD_ENOMEM. */
WD_MUST_USE int wd_cedar_schema_alloc(const char *file, struct wd_cedar_schema **out);
/* Append a new namespace (name copied into s's pool). WD_ENOMEM, WD_ELIMIT. */
WD_MUST_USE int wd_cedar_raw_ns_add(struct wd_cedar_schema *s, struct wd_cedar_raw_schema *raw,
                                    const char *name, size_t len, unsigned line, unsigned col,
                                    struct wd_cedar_raw_ns **out);
/*
 * Resolve raw (built in s's pool) into s: checks declarations (duplicates, reserved names,
 * shadowing of the empty namespace), resolves every name, substitutes common types (cycles
 * are errors), checks shapes and contexts are records, resolves action parents and
 * computes both hierarchies (action cycles are errors). Returns WD_OK, WD_ECONFIG with the
 * first error in diag as "file:line:col: message", WD_ENOMEM, WD_ELIMIT.
 */
WD_MUST_USE int wd_cedar_schema_build(struct wd_cedar_schema *s,
                                      const struct wd_cedar_raw_schema *raw, struct wd_diag *diag);

/* Name helpers shared by the parsers. */
/* [_A-Za-z][_A-Za-z0-9]* */
bool wd_cedar_schema_is_ident(const char *p, size_t n);
/* true false if then else in is like has */
bool wd_cedar_schema_is_reserved(const char *p, size_t n);

#endif
