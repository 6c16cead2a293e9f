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

/* Per-evaluation state. */
struct wd_cedar_env {
    const struct wd_cedar_entities *ents;
    struct wd_cedar_value principal, action, resource, context;
    struct wd_cedar_zone *zone; /* where new values go; reset by the caller */
    uint64_t steps;             /* steps left before WD_CEDAR_ERR_LIMIT */
    struct wd_cedar_everr err;  /* set when an evaluation fails */
    /* Slot values for templates evaluated without linking (NULL: unlinked). */
    const struct wd_cedar_euid *slot_principal, *slot_resource;
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
 * when the policy is satisfied. WD_OK, WD_EDENIED (error in env->err), or as
 * wd_cedar_eval_expr for warden's own limits.
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
