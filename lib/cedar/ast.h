/*
 * Cedar (language version 4) abstract syntax tree: module-private to lib/cedar.
 *
 * CHANGES (append-only log; the layout below only grows, nothing is renamed or removed):
 *   v1  initial layout.
 *   v1.1 (within the first hour, before any user): wd_cedar_expr.rsv became `height`;
 *        wd_cedar_arena_alloc / wd_cedar_ps_alloc return an int status with an out
 *        parameter; added wd_cedar_ext_lookup; WD_CEDAR_MAX_HEIGHT; WD_CEDAR_MAX_NODES is a
 *        size_t.
 *   v1.2 wd_cedar_euid.idx (dense per-set index of interned uids, 0 elsewhere) and
 *        wd_cedar_euid_find; u.list.pre (extension constructors with a literal argument,
 *        evaluated once by the parser).
 *
 * Produced by lib/cedar/parser.c, printed by lib/cedar/printer.c, consumed by the evaluator
 * and the validator. The public API (include/warden/cedar.h) treats the policy set as
 * opaque; code inside lib/cedar includes this header to walk the tree directly.
 *
 * Memory. Every node, string and array of a policy set lives in one arena owned by the
 * struct wd_cedar_policyset and is freed with it. All pointers below are borrowed from the
 * set and stay valid until wd_cedar_policyset_free. After parse (and after any
 * wd_cedar_policyset_link calls, which must not run concurrently with readers) the tree is
 * never written again, so any number of threads may evaluate against it at once.
 *
 * Strings. Every string of the set - string literals, entity ids, entity type names,
 * attribute names, record keys, annotation keys and values, policy ids - is a
 * struct wd_cedar_sym interned once per policy set: within one set, two syms have the same
 * bytes if and only if they are the same pointer. Bytes are unescaped UTF-8, may contain
 * NUL, and are followed by a NUL that is not counted in len. Syms carry a precomputed
 * wd_cedar_hash of their bytes, so evaluator hash tables keyed by attribute or entity id
 * (built with the same function) never rehash policy strings at request time.
 *
 * Entity uids (struct wd_cedar_euid) are interned per set as well: the same Type::"id"
 * literal anywhere in the set is the same pointer.
 *
 * Positions. line and col are 1-based; col counts bytes from the start of the line.
 *
 * Desugaring done by the parser (so the evaluator sees fewer forms):
 *   - `-` directly before an integer literal is folded into the literal (Cedar: -5 is the
 *     literal -5, -9223372036854775808 is valid); `--5` is NEG(LONG -5); `-(5)` is NEG(5).
 *   - `!!x` is NOT(NOT(x)); `e["a"]` and `e.a` are both GETATTR.
 *   - `a.b.c()`-style calls are resolved: builtin methods become their own kinds
 *     (CONTAINS, IS_EMPTY, GET_TAG ...); extension functions and methods become EXT with an
 *     enum wd_cedar_ext. Unknown function or method names are parse errors.
 * NOT desugared (the printer must reproduce them): `e has a.b` (HAS with a path) and
 * `e is T in x` (IS with an `in` operand).
 *
 * Limits: bracket/paren/if nesting in the source is at most WD_CEDAR_MAX_DEPTH levels, and
 * every expression tree is at most WD_CEDAR_MAX_HEIGHT nodes tall (each node records its
 * height), so a recursive evaluator needs at most WD_CEDAR_MAX_HEIGHT frames per condition.
 * Long flat chains such as `a || b || c ...` are left-nested trees: each operator adds one
 * level of height.
 */
#ifndef WD_CEDAR_AST_H
#define WD_CEDAR_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "warden/buf.h"
#include "warden/cedar.h"
#include "warden/common.h"

/* ---------------------------------------------------------------------------------------
 * Arena
 * ------------------------------------------------------------------------------------- */

struct wd_cedar_arena_chunk;

/* A bump allocator: chunks freed all at once. Blocks are 16-byte aligned and zeroed. */
struct wd_cedar_arena {
    struct wd_cedar_arena_chunk *head; /* owned chain, newest first */
    size_t total;                      /* bytes handed out so far */
    size_t max;                        /* hard cap on total (0: no cap) */
};

/* Start empty with a cap of max bytes (0 = unlimited). Infallible; allocates nothing. */
void wd_cedar_arena_init(struct wd_cedar_arena *a, size_t max);
/* Free every chunk. Accepts NULL. */
void wd_cedar_arena_cleanup(struct wd_cedar_arena *a);
/*
 * n zeroed bytes, 16-byte aligned, valid until cleanup, in *out. WD_ENOMEM, or WD_ELIMIT
 * when the cap would be exceeded. n == 0 gives a valid unique pointer.
 */
WD_MUST_USE int wd_cedar_arena_alloc(struct wd_cedar_arena *a, size_t n, void **out);

/* ---------------------------------------------------------------------------------------
 * Interned strings and entity uids
 * ------------------------------------------------------------------------------------- */

/*
 * The hash every Cedar table in warden uses for strings (32-bit FNV-1a). Deterministic
 * across runs and processes. Thread-safe.
 */
uint32_t wd_cedar_hash(const void *p, size_t len);

struct wd_cedar_sym {
    const char *p; /* len bytes + NUL; may contain NUL */
    uint32_t len;
    uint32_t hash; /* wd_cedar_hash(p, len) */
};

/* Hash of an entity uid from its parts' hashes; evaluator tables use the same function. */
static inline uint32_t wd_cedar_euid_hash_of(uint32_t type_hash, uint32_t id_hash)
{
    return type_hash * 0x9e3779b1u ^ id_hash;
}

/* Entity uid Type::"id". type is the canonical type name "A::B::C" (no spaces). */
struct wd_cedar_euid {
    const struct wd_cedar_sym *type;
    const struct wd_cedar_sym *id;
    uint32_t hash; /* wd_cedar_euid_hash_of(type->hash, id->hash) */
    /*
     * Uids interned in a policy set: 1, 2, ... in interning order (dense, so evaluator
     * tables can be arrays indexed by it; at most the set's neuids). Uids built anywhere
     * else (entity stores, requests, values): 0.
     */
    uint32_t idx;
};

/*
 * a[0..n) == b[0..n), inline without a call for n <= 32 (overlapping word compares): the
 * names and ids the evaluator compares are mostly that short.
 */
static inline bool wd_cedar_bytes_eq(const char *a, const char *b, size_t n)
{
    uint64_t x[4], y[4];
    if (n > 32) {
        return memcmp(a, b, n) == 0;
    }
    if (n >= 16) {
        memcpy(x, a, 16);
        memcpy(y, b, 16);
        memcpy(x + 2, a + n - 16, 16);
        memcpy(y + 2, b + n - 16, 16);
        return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3])) == 0;
    }
    if (n >= 8) {
        memcpy(x, a, 8);
        memcpy(y, b, 8);
        memcpy(x + 1, a + n - 8, 8);
        memcpy(y + 1, b + n - 8, 8);
        return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
    }
    if (n >= 4) {
        uint32_t p, q, r, t;
        memcpy(&p, a, 4);
        memcpy(&q, b, 4);
        memcpy(&r, a + n - 4, 4);
        memcpy(&t, b + n - 4, 4);
        return ((p ^ q) | (r ^ t)) == 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            return false;
        }
    }
    return true;
}

/* Byte-wise equality of two syms from possibly different sets. */
static inline bool wd_cedar_sym_eq(const struct wd_cedar_sym *a, const struct wd_cedar_sym *b)
{
    return a == b
           || (a->len == b->len && a->hash == b->hash && wd_cedar_bytes_eq(a->p, b->p, a->len));
}

/* ---------------------------------------------------------------------------------------
 * Expressions
 * ------------------------------------------------------------------------------------- */

/* The four request variables. */
enum wd_cedar_var {
    WD_CEDAR_VAR_PRINCIPAL = 0,
    WD_CEDAR_VAR_ACTION = 1,
    WD_CEDAR_VAR_RESOURCE = 2,
    WD_CEDAR_VAR_CONTEXT = 3,
};

/*
 * Extension functions and methods, resolved at parse time. FN_* are called as functions
 * (`ip("...")`), the rest as methods (`a.lessThan(b)`: args[0] is the receiver a).
 * The parser does not check arity for these (Cedar reports a wrong argument count at
 * evaluation time); it does check it for the builtin methods (CONTAINS etc.).
 */
enum wd_cedar_ext {
    WD_CEDAR_EXT_IP = 0,    /* ip(string) -> ipaddr */
    WD_CEDAR_EXT_DECIMAL,   /* decimal(string) -> decimal */
    WD_CEDAR_EXT_DATETIME,  /* datetime(string) -> datetime */
    WD_CEDAR_EXT_DURATION,  /* duration(string) -> duration */
    WD_CEDAR_EXT_LESS_THAN, /* decimal.lessThan(decimal) -> bool */
    WD_CEDAR_EXT_LESS_THAN_OR_EQUAL,
    WD_CEDAR_EXT_GREATER_THAN,
    WD_CEDAR_EXT_GREATER_THAN_OR_EQUAL,
    WD_CEDAR_EXT_IS_IPV4, /* ipaddr.isIpv4() -> bool */
    WD_CEDAR_EXT_IS_IPV6,
    WD_CEDAR_EXT_IS_LOOPBACK,
    WD_CEDAR_EXT_IS_MULTICAST,
    WD_CEDAR_EXT_IS_IN_RANGE,    /* ipaddr.isInRange(ipaddr) -> bool */
    WD_CEDAR_EXT_OFFSET,         /* datetime.offset(duration) -> datetime */
    WD_CEDAR_EXT_DURATION_SINCE, /* datetime.durationSince(datetime) -> duration */
    WD_CEDAR_EXT_TO_DATE,        /* datetime.toDate() -> datetime */
    WD_CEDAR_EXT_TO_TIME,        /* datetime.toTime() -> duration */
    WD_CEDAR_EXT_TO_DAYS,        /* duration.toDays() -> long */
    WD_CEDAR_EXT_TO_HOURS,
    WD_CEDAR_EXT_TO_MINUTES,
    WD_CEDAR_EXT_TO_SECONDS,
    WD_CEDAR_EXT_TO_MILLISECONDS,
    WD_CEDAR_EXT__COUNT
};

/* Cedar name of an extension function/method ("ip", "lessThan", ...); NULL if out of range. */
const char *wd_cedar_ext_name(enum wd_cedar_ext fn);
/* Whether fn is called function-style (ip, decimal, datetime, duration). */
bool wd_cedar_ext_is_function(enum wd_cedar_ext fn);
/* The enum wd_cedar_ext value named name[0..len), or -1 for an unknown name. */
int wd_cedar_ext_lookup(const char *name, size_t len);

enum wd_cedar_expr_kind {
    /* literals and variables */
    WD_CEDAR_E_BOOL = 0, /* u.b */
    WD_CEDAR_E_LONG,     /* u.i */
    WD_CEDAR_E_STRING,   /* u.s */
    WD_CEDAR_E_ENTITY,   /* u.euid */
    WD_CEDAR_E_VAR,      /* sub = enum wd_cedar_var */
    /* unary: u.un.e */
    WD_CEDAR_E_NOT, /* !e (bool) */
    WD_CEDAR_E_NEG, /* -e (long; overflow is an evaluation error) */
    /* short-circuit boolean: u.bin.l, u.bin.r */
    WD_CEDAR_E_AND,
    WD_CEDAR_E_OR,
    /* if u.ite.cond then u.ite.then_ else u.ite.else_ */
    WD_CEDAR_E_IF,
    /* binary operators: u.bin.l OP u.bin.r */
    WD_CEDAR_E_EQ,
    WD_CEDAR_E_NE,
    WD_CEDAR_E_LT,
    WD_CEDAR_E_LE,
    WD_CEDAR_E_GT,
    WD_CEDAR_E_GE,
    WD_CEDAR_E_IN, /* l in r: r is an entity or a set of entities */
    WD_CEDAR_E_ADD,
    WD_CEDAR_E_SUB,
    WD_CEDAR_E_MUL, /* any two longs (Cedar 4) */
    /* builtin methods: receiver u.bin.l, argument u.bin.r */
    WD_CEDAR_E_CONTAINS,     /* l.contains(r) */
    WD_CEDAR_E_CONTAINS_ALL, /* l.containsAll(r) */
    WD_CEDAR_E_CONTAINS_ANY, /* l.containsAny(r) */
    WD_CEDAR_E_HAS_TAG,      /* l.hasTag(r) */
    WD_CEDAR_E_GET_TAG,      /* l.getTag(r) */
    WD_CEDAR_E_IS_EMPTY,     /* u.un.e.isEmpty() */
    /* attribute access and tests */
    WD_CEDAR_E_GETATTR, /* u.attr.e . u.attr.name  (also e["name"]) */
    WD_CEDAR_E_HAS,     /* u.has.e has path[0].path[1]... (n >= 1); see below */
    WD_CEDAR_E_LIKE,    /* u.like.e like u.like.pat */
    WD_CEDAR_E_IS,      /* u.is.e is u.is.type [in u.is.in]; see below */
    /* constructors */
    WD_CEDAR_E_SET,    /* [u.list.items[0..n)] */
    WD_CEDAR_E_RECORD, /* {u.rec.keys[i]: u.rec.vals[i]}, source order, keys distinct */
    WD_CEDAR_E_EXT,    /* extension call: sub = enum wd_cedar_ext, u.list.items = args */
    WD_CEDAR_E__COUNT
};

/*
 * A like pattern, pre-split: parts in order, each either a wildcard (p == NULL, len == 0;
 * the `*` of the source) or a non-empty run of literal bytes (adjacent literal characters,
 * including escaped `\*`, are merged into one part). Consecutive wildcards are kept as
 * written so the printer reproduces them; they match like one wildcard.
 */
struct wd_cedar_pat_part {
    const char *p;
    uint32_t len;
};
struct wd_cedar_pattern {
    const struct wd_cedar_pat_part *parts;
    uint32_t n;
};

struct wd_cedar_expr {
    uint8_t kind;    /* enum wd_cedar_expr_kind */
    uint8_t sub;     /* E_VAR: enum wd_cedar_var; E_EXT: enum wd_cedar_ext; else 0 */
    uint16_t height; /* 1 for leaves, 1 + max(children) otherwise; <= WD_CEDAR_MAX_HEIGHT */
    uint32_t line;   /* source position of the expression's first token */
    uint32_t col;
    union {
        bool b;
        int64_t i;
        const struct wd_cedar_sym *s;
        const struct wd_cedar_euid *euid;
        struct {
            const struct wd_cedar_expr *e;
        } un;
        struct {
            const struct wd_cedar_expr *l, *r;
        } bin;
        struct {
            const struct wd_cedar_expr *cond, *then_, *else_;
        } ite;
        struct {
            const struct wd_cedar_expr *e;
            const struct wd_cedar_sym *name;
        } attr;
        /*
         * `e has a.b.c` (RFC 62) means `e has a && e.a has b && e.a.b has c`: true when
         * every step exists; an error only if e (or an intermediate value) is not a record
         * or entity. n == 1 for the classic `e has a` / `e has "a b"`.
         */
        struct {
            const struct wd_cedar_expr *e;
            const struct wd_cedar_sym *const *path;
            uint32_t n;
        } has;
        struct {
            const struct wd_cedar_expr *e;
            const struct wd_cedar_pattern *pat;
        } like;
        /*
         * `e is T` tests the entity type (type is canonical "A::B"). With in != NULL,
         * `e is T in x` means `(e is T) && (e in x)`: x is evaluated only when the type
         * test is true.
         */
        struct {
            const struct wd_cedar_expr *e;
            const struct wd_cedar_sym *type;
            const struct wd_cedar_expr *in; /* NULL: no `in` */
        } is;
        /*
         * E_SET elements; E_EXT arguments (for methods items[0] is the receiver). For an
         * extension constructor (ip, decimal, datetime, duration) whose one argument is a
         * string literal that the constructor accepts, pre is its value, computed once by
         * the parser (a struct wd_cedar_value in the set's arena); else NULL (evaluate the
         * call, which then reports the error).
         */
        struct {
            const struct wd_cedar_expr *const *items;
            uint32_t n;
            const struct wd_cedar_value *pre;
        } list;
        struct {
            const struct wd_cedar_sym *const *keys;
            const struct wd_cedar_expr *const *vals;
            uint32_t n;
        } rec;
    } u;
};

/* ---------------------------------------------------------------------------------------
 * Policies
 * ------------------------------------------------------------------------------------- */

enum wd_cedar_effect {
    WD_CEDAR_PERMIT = 0,
    WD_CEDAR_FORBID = 1,
};

/*
 * One scope constraint. For principal/resource: ANY, EQ, IN, IS, IS_IN. For action: ANY,
 * EQ, IN, IN_SET. When slot is true (templates only) the operand of EQ/IN/IS_IN is the
 * template slot (?principal for the principal constraint, ?resource for the resource one)
 * and euid is NULL. Linked policies and static policies never have slot == true.
 */
enum wd_cedar_scope_op {
    WD_CEDAR_SCOPE_ANY = 0, /* no constraint */
    WD_CEDAR_SCOPE_EQ,      /* var == euid */
    WD_CEDAR_SCOPE_IN,      /* var in euid (transitively, or equal) */
    WD_CEDAR_SCOPE_IS,      /* var is type */
    WD_CEDAR_SCOPE_IS_IN,   /* var is type in euid */
    WD_CEDAR_SCOPE_IN_SET,  /* action in [euids...] (n may be 0: matches nothing) */
};

struct wd_cedar_scope {
    uint8_t op;   /* enum wd_cedar_scope_op */
    bool slot;    /* operand is the template slot */
    uint16_t rsv; /* 0 */
    uint32_t line, col;
    const struct wd_cedar_sym *type;          /* IS, IS_IN; else NULL */
    const struct wd_cedar_euid *euid;         /* EQ, IN, IS_IN unless slot; else NULL */
    const struct wd_cedar_euid *const *euids; /* IN_SET: the listed actions, in order */
    uint32_t n;                               /* IN_SET: number of euids */
};

/* `when { expr }` or `unless { expr }`. */
struct wd_cedar_cond {
    bool unless;
    const struct wd_cedar_expr *expr;
    uint32_t line, col; /* of the when/unless keyword */
};

/* `@key("value")` or `@key` (has_value false: value is the empty string). */
struct wd_cedar_annotation {
    const struct wd_cedar_sym *key;
    const struct wd_cedar_sym *value;
    bool has_value;
    uint32_t line, col; /* of the value's string literal (of the '@' without a value) */
};

/*
 * An observer policy's parsed annotations (warden extension, docs/internals/observe.md):
 * @observe("TAG") @subject("principal" | "resource" | "Type::\"id\"") @value("<expr>")
 * @ttl("<duration>"). Only built when the set is parsed with wd_cedar_parse_opts.observers.
 */
enum { WD_CEDAR_OBS_PRINCIPAL = 0, WD_CEDAR_OBS_RESOURCE = 1, WD_CEDAR_OBS_LITERAL = 2 };
struct wd_cedar_observer {
    const struct wd_cedar_sym *tag;
    uint8_t subject;                         /* WD_CEDAR_OBS_* */
    const struct wd_cedar_euid *subject_uid; /* WD_CEDAR_OBS_LITERAL: the entity */
    const struct wd_cedar_expr *value;
    int64_t ttl_ms; /* > 0 */
};

struct wd_cedar_policy {
    /*
     * Policy id. Parsed policies and templates are "policy0", "policy1", ... in file order
     * (one counter for both, as Cedar names them), unless the set was parsed with
     * ids_from_annotation and the policy has @id("x"). Linked policies get the id given to
     * wd_cedar_policyset_link.
     */
    const struct wd_cedar_sym *id;
    uint32_t seq;       /* position in file among policies and templates; links: link order */
    uint8_t effect;     /* enum wd_cedar_effect */
    bool is_template;   /* has ?principal or ?resource in its scope */
    bool is_link;       /* created by wd_cedar_policyset_link */
    bool observer;      /* @observe policy of a set parsed with opts.observers: no decisions */
    uint32_t line, col; /* of the first annotation or the effect keyword */
    const struct wd_cedar_policy *template_; /* is_link: its template; else NULL */
    const struct wd_cedar_annotation *annos; /* source order, keys distinct */
    uint32_t nannos;
    uint32_t nconds;
    const struct wd_cedar_cond *conds; /* source order */
    struct wd_cedar_scope principal, action, resource;
    const struct wd_cedar_observer *obs; /* observer: its annotations; else NULL */
};

/*
 * The policy set. policies[] holds what authorization evaluates: static policies in file
 * order followed by linked policies in link order. templates[] holds templates in file
 * order (never evaluated directly).
 */
struct wd_cedar_value;

struct wd_cedar_policyset {
    struct wd_cedar_arena arena;
    const struct wd_cedar_policy **policies;
    uint32_t npolicies;
    uint32_t cap_policies;
    const struct wd_cedar_policy **templates;
    uint32_t ntemplates;
    uint32_t cap_templates;
    /* intern tables (private to ast.c) */
    struct wd_cedar_sym **syms;
    uint32_t nsyms, cap_syms; /* open addressing, cap a power of two */
    struct wd_cedar_euid **euids;
    uint32_t neuids, cap_euids;
    size_t nnodes; /* expression nodes allocated so far (bounded by max_nodes) */
    size_t max_nodes;
};

/* Nesting and size limits (see the top of this file). */
#define WD_CEDAR_MAX_DEPTH  200
#define WD_CEDAR_MAX_HEIGHT 1000
#define WD_CEDAR_MAX_NODES  ((size_t)4 * 1024 * 1024)
#define WD_CEDAR_MAX_ARENA  ((size_t)1 << 30)

/* ---------------------------------------------------------------------------------------
 * Construction (used by the parser and by link; not for the evaluator)
 * ------------------------------------------------------------------------------------- */

/* Allocate an empty set. WD_ENOMEM. Owned by the caller: wd_cedar_policyset_free. */
WD_MUST_USE int wd_cedar_ps_new(struct wd_cedar_policyset **out);
/* Intern bytes as a sym of ps. WD_ENOMEM, WD_ELIMIT (arena cap). */
WD_MUST_USE int wd_cedar_intern(struct wd_cedar_policyset *ps, const char *p, size_t len,
                                const struct wd_cedar_sym **out);
/* Intern an entity uid of ps from interned parts. WD_ENOMEM, WD_ELIMIT. */
WD_MUST_USE int wd_cedar_intern_euid(struct wd_cedar_policyset *ps, const struct wd_cedar_sym *type,
                                     const struct wd_cedar_sym *id,
                                     const struct wd_cedar_euid **out);
/*
 * The uid of ps with the same type and id bytes as u (u may come from anywhere), or NULL.
 * Thread-safe on a set no longer being built.
 */
const struct wd_cedar_euid *wd_cedar_euid_find(const struct wd_cedar_policyset *ps,
                                               const struct wd_cedar_euid *u);
/* The sym of ps with the same bytes as sym (from anywhere; its hash is trusted), or NULL. */
const struct wd_cedar_sym *wd_cedar_sym_find_sym(const struct wd_cedar_policyset *ps,
                                                 const struct wd_cedar_sym *sym);
/* Look up a sym without inserting; NULL if ps has no such string. */
const struct wd_cedar_sym *wd_cedar_sym_find(const struct wd_cedar_policyset *ps, const char *p,
                                             size_t len);
/* Arena allocation from ps (zeroed, 16-byte aligned) into *out. WD_ENOMEM, WD_ELIMIT. */
WD_MUST_USE int wd_cedar_ps_alloc(struct wd_cedar_policyset *ps, size_t n, void **out);
/* Append to policies[] or templates[]. WD_ENOMEM, WD_ELIMIT. */
WD_MUST_USE int wd_cedar_ps_add(struct wd_cedar_policyset *ps, const struct wd_cedar_policy *p);

/* ---------------------------------------------------------------------------------------
 * Structural equality and printing
 * ------------------------------------------------------------------------------------- */

/*
 * Structural equality by content (not pointers), so trees of two different sets can be
 * compared: kinds, operands, literal values and strings byte-wise. Source positions are
 * ignored. Thread-safe.
 */
bool wd_cedar_expr_equal(const struct wd_cedar_expr *a, const struct wd_cedar_expr *b);
/* Policies: effect, id, template flag, annotations (keys, values, has_value), scope, conds. */
bool wd_cedar_policy_equal(const struct wd_cedar_policy *a, const struct wd_cedar_policy *b);
/* Sets: same policies and templates, in the same order, pairwise equal. */
bool wd_cedar_ast_equal(const struct wd_cedar_policyset *a, const struct wd_cedar_policyset *b);

/* Printer flags. */
#define WD_CEDAR_PRINT_FULL_PARENS 0x1u /* parenthesise every compound subexpression */

/*
 * Append Cedar text for an expression / a policy to out. Output re-parses to an equal
 * tree. WD_ELIMIT when out's cap is hit, WD_ENOMEM. Thread-safe for distinct out buffers.
 */
WD_MUST_USE int wd_cedar_expr_print(const struct wd_cedar_expr *e, unsigned flags,
                                    struct wd_buf *out);
WD_MUST_USE int wd_cedar_policy_print(const struct wd_cedar_policy *p, unsigned flags,
                                      struct wd_buf *out);
/* Append a Cedar string literal (quotes and escapes) for bytes p[0..len). */
WD_MUST_USE int wd_cedar_print_string(const char *p, size_t len, struct wd_buf *out);
/* Append an entity uid as Cedar text: Type::"id". */
WD_MUST_USE int wd_cedar_print_euid(const struct wd_cedar_euid *u, struct wd_buf *out);

#endif
