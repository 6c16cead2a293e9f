/*
 * The Cedar expression evaluator (module-private to lib/cedar).
 *
 * A tree-walking evaluator over the AST of ast.h with Cedar's exact semantics and errors.
 * Values it creates (set and record literals, ip addresses) go into the evaluation's zone,
 * which the caller resets between requests, so evaluation itself never calls the heap
 * allocator once the zone's first chunk is large enough. Recursion is bounded by the AST
 * height (the parser caps it at WD_CEDAR_MAX_HEIGHT) plus value nesting; a step budget
 * bounds the work per policy.
 *
 * Thread-safety: evaluation only reads the policy set, the entity store and the request;
 * all mutable state is in struct wd_cedar_env, one per thread.
 */
#ifndef WD_CEDAR_EVAL_H
#define WD_CEDAR_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/cedar.h"
#include "warden/common.h"

#include "cedar/ast.h"
#include "cedar/entities.h"
#include "cedar/value.h"

/* The details of an evaluation error, kept raw so the message is only formatted on demand. */
struct wd_cedar_everr {
    enum wd_cedar_eval_err code;
    const char *expected;   /* TYPE: what was expected ("long", "bool", "set", ...) */
    enum wd_cedar_kind got; /* TYPE: the kind found */
    const char *name;       /* NO_ATTR/NO_TAG: attribute/tag; EXTENSION/ARITY: function */
    size_t name_len;
    const struct wd_cedar_euid *uid;  /* NO_ENTITY/NO_ATTR/NO_TAG on an entity: the entity */
    char op;                          /* OVERFLOW: '+', '-', '*', 'n' (negation) */
    int64_t a, b;                     /* OVERFLOW operands */
    unsigned expected_args, got_args; /* ARITY */
};

/* Format an error as Cedar words it (approximately), into out[0..max). */
size_t wd_cedar_everr_format(const struct wd_cedar_everr *e, char *out, size_t max);

/*
 * What the authorizer resolves once per decision so that scope constraints and entity
 * tests compare integers and pointers instead of bytes (all optional: an env without it
 * evaluates by content). For each request variable v (0 principal, 1 action, 2 resource):
 *   uid[v]   the request's uid, or the policy set's interned uid with the same content
 *            (so a policy literal equals it exactly when the pointers are equal);
 *   type[v]  the set's interned sym for the uid's type, or NULL (then no `is T` of the
 *            set can match);
 *   ent[v]   the store's entity for it, or NULL (not in the store);
 *   mark     the rows v * stride + idx: == gen when uid[v] is (or descends from) the set's
 *            uid with that idx (struct wd_cedar_euid.idx, 1 ... stride - 1).
 * Invariant: every uid with a nonzero idx that the evaluation meets is one of ps's (the
 * policies evaluated are ps's; stores and requests build uids with idx 0).
 */
struct wd_cedar_fast {
    const struct wd_cedar_policyset *ps;
    const uint32_t *mark;
    uint32_t gen;
    uint32_t stride;
    const struct wd_cedar_euid *uid[3];
    const struct wd_cedar_sym *type[3];
    const struct wd_cedar_entity *ent[3];
};

/* Per-evaluation state. */
struct wd_cedar_env {
    const struct wd_cedar_entities *ents;
    struct wd_cedar_value principal, action, resource, context;
    struct wd_cedar_zone *zone; /* where new values go; reset by the caller */
    uint64_t steps;             /* steps left before WD_CEDAR_ERR_LIMIT */
    struct wd_cedar_everr err;  /* set when an evaluation fails */
    /* Slot values for templates evaluated without linking (NULL: unlinked). */
    const struct wd_cedar_euid *slot_principal, *slot_resource;
    /* Per-decision resolutions (NULL: compare by content). principal/action/resource
     * above must then hold fast->uid[0..2]. */
    const struct wd_cedar_fast *fast;
    /* Observation overlay for hasTag/getTag (NULL: none). */
    const struct wd_cedar_tag_source *tags;
};

/* Default step budget per policy: far beyond any real policy, bounds fuzzed input. */
#define WD_CEDAR_EVAL_STEPS 1000000u

/*
 * Evaluate an expression. WD_OK with *out set; WD_EDENIED when Cedar reports an evaluation
 * error (details in env->err; the policy is skipped); WD_ELIMIT or WD_ENOMEM for warden's
 * own limits (step budget, zone cap, memory), which are not Cedar errors: the caller must
 * not decide on them (the authorizer then fails the whole decision, i.e. denies).
 * Recursion: one C frame chain per AST level (height <= WD_CEDAR_MAX_HEIGHT, a few hundred
 * bytes each), so evaluating threads need a stack of at least 512 KiB.
 */
WD_MUST_USE int wd_cedar_eval_expr(struct wd_cedar_env *env, const struct wd_cedar_expr *e,
                                   struct wd_cedar_value *out);

/* Whether a scope constraint holds for the value of its variable (an entity uid). */
bool wd_cedar_scope_match(const struct wd_cedar_env *env, const struct wd_cedar_scope *sc,
                          const struct wd_cedar_euid *uid, const struct wd_cedar_euid *slot);

/*
 * Evaluate a whole policy: scope, then conditions in order (short-circuit). *sat is true
 * when the policy is satisfied. env must have been zero-initialised before its first use
 * (env->err in particular; it is cleared again after an error). WD_OK, WD_EDENIED (error in
 * env->err), or as wd_cedar_eval_expr for warden's own limits.
 */
WD_MUST_USE int wd_cedar_eval_policy(struct wd_cedar_env *env, const struct wd_cedar_policy *p,
                                     bool *sat);

/*
 * Apply an extension function to evaluated arguments (for methods args[0] is the receiver).
 * New values (ip addresses) go into zone. WD_OK or WD_EDENIED with *err set.
 */
WD_MUST_USE int wd_cedar_ext_apply(enum wd_cedar_ext fn, const struct wd_cedar_value *args,
                                   size_t nargs, struct wd_cedar_zone *zone,
                                   struct wd_cedar_value *out, struct wd_cedar_everr *err);

/* Cedar `like`: does s match the pattern (wildcards match any byte sequence). */
bool wd_cedar_like_match(const char *s, size_t n, const struct wd_cedar_pattern *pat);

#endif
