/*
 * Cedar (language version 4) policies: the public API of lib/cedar.
 *
 * Sections:
 *   1. Policy sets: parse, print, free, template links, iteration   (lib/cedar/parser.c,
 *      printer.c, ast.c)
 *   (later sections - entities, requests, evaluation, schemas, validation - are added by
 *   their modules below the marked line at the end of this file.)
 *
 * A policy set is immutable once parsed (apart from wd_cedar_policyset_link, which the
 * owner calls before sharing it); after that any number of threads may read it at once.
 * Diagnostics for policy text are "file:line:col: message" in a struct wd_diag; col counts
 * bytes, both are 1-based.
 */
#ifndef WD_CEDAR_H
#define WD_CEDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"

/* =======================================================================================
 * 1. Policy sets
 * ===================================================================================== */

/* A parsed Cedar policy set (static policies, templates and linked policies). Opaque. */
struct wd_cedar_policyset;
/* One policy, template or linked policy inside a set. Borrowed from its set. Opaque. */
struct wd_cedar_policy;

/* Options for wd_cedar_policyset_parse_ex; zero-initialise, then set what you need. */
struct wd_cedar_parse_opts {
    /*
     * false (the default, as the Cedar CLI and conformance corpus do): policies and
     * templates are named "policy0", "policy1", ... in file order. true: a policy with an
     * @id("x") annotation is named x instead (duplicate ids are then an error).
     */
    bool ids_from_annotation;
    /* Maximum number of expression nodes in the set; 0 = default (WD_CEDAR_MAX_NODES). */
    size_t max_nodes;
    /*
     * warden extension (docs/internals/observe.md): a policy annotated @observe("TAG") is an
     * observer. Its @subject / @value / @ttl annotations are checked at parse (errors are
     * WD_EPROTO with "file:line:col" of the annotation), it stays in the set (printing,
     * validation and the accessors see it) but wd_cedar_authorize never evaluates it;
     * wd_cedar_observe does. false (the default): @observe is an ordinary annotation, as
     * in Cedar.
     */
    bool observers;
};

/*
 * Parse Cedar policy text (UTF-8, not NUL-terminated: text[0..len)) into a new policy set.
 * file names the source in diagnostics (may be NULL). On success *out is a new set owned
 * by the caller (free with wd_cedar_policyset_free). An empty text gives an empty set.
 * Returns:
 *   WD_OK
 *   WD_EPROTO  the text is not valid Cedar; diag (may be NULL) holds the first error as
 *              "file:line:col: message"
 *   WD_ELIMIT  nesting deeper than 200 levels, too many nodes, or the set too large
 *              (diag filled as for WD_EPROTO)
 *   WD_ENOMEM  out of memory
 *   WD_EINVAL  text == NULL with len > 0, or out == NULL
 * On error *out is NULL and nothing leaks. Thread-safe (no shared state).
 */
WD_MUST_USE int wd_cedar_policyset_parse(const char *file, const char *text, size_t len,
                                         struct wd_cedar_policyset **out, struct wd_diag *diag);
/* As wd_cedar_policyset_parse with options (opts may be NULL: defaults). */
WD_MUST_USE int wd_cedar_policyset_parse_ex(const char *file, const char *text, size_t len,
                                            const struct wd_cedar_parse_opts *opts,
                                            struct wd_cedar_policyset **out, struct wd_diag *diag);

/* Free a set and everything borrowed from it. Accepts NULL. */
void wd_cedar_policyset_free(struct wd_cedar_policyset *ps);

/*
 * Append the whole set as Cedar text (the `warden policy fmt` format): static policies and
 * templates in file order, one blank line between policies; linked policies are not text
 * and are not printed. The output re-parses to an equal set. Comments are not preserved.
 * Returns WD_OK, WD_ELIMIT (out's cap reached; out then holds a prefix), WD_ENOMEM.
 * ps is borrowed; out is appended to.
 */
WD_MUST_USE int wd_cedar_policyset_print(const struct wd_cedar_policyset *ps, struct wd_buf *out);

/*
 * Create a linked policy from a template: new_id names it, principal / resource are the
 * values for ?principal / ?resource as Cedar entity uid text (e.g. `User::"alice"`); give
 * exactly the slots the template has (NULL for the other).
 * Returns:
 *   WD_OK
 *   WD_ENOENT  no template with that id
 *   WD_EEXIST  new_id is already the id of a policy, template or link
 *   WD_EPROTO  a uid is not valid entity uid text, or a slot value is missing or extra
 *              (diag says which)
 *   WD_ENOMEM, WD_ELIMIT
 * Not thread-safe: call before sharing the set with readers. Strings are copied.
 */
WD_MUST_USE int wd_cedar_policyset_link(struct wd_cedar_policyset *ps, const char *template_id,
                                        const char *new_id, const char *principal,
                                        const char *resource, struct wd_diag *diag);

/* Number of evaluable policies (static + linked) and of templates. ps borrowed. */
size_t wd_cedar_policyset_count(const struct wd_cedar_policyset *ps);
size_t wd_cedar_policyset_template_count(const struct wd_cedar_policyset *ps);
/*
 * The i-th evaluable policy (static ones in file order, then links in link order) or the
 * i-th template; NULL when i is out of range. Borrowed from ps.
 */
const struct wd_cedar_policy *wd_cedar_policyset_policy(const struct wd_cedar_policyset *ps,
                                                        size_t i);
const struct wd_cedar_policy *wd_cedar_policyset_template(const struct wd_cedar_policyset *ps,
                                                          size_t i);
/* A policy, template or link by id; NULL if none. */
const struct wd_cedar_policy *wd_cedar_policyset_find(const struct wd_cedar_policyset *ps,
                                                      const char *id);

/* Policy accessors. All borrowed from the policy's set; thread-safe. */
/* Id ("policy0", or see wd_cedar_parse_opts / link), NUL-terminated. */
const char *wd_cedar_policy_id(const struct wd_cedar_policy *p);
/* true for forbid, false for permit. */
bool wd_cedar_policy_is_forbid(const struct wd_cedar_policy *p);
bool wd_cedar_policy_is_template(const struct wd_cedar_policy *p);
bool wd_cedar_policy_is_link(const struct wd_cedar_policy *p);
/* Source line of the policy (its first annotation or effect); 0 for links. */
unsigned wd_cedar_policy_line(const struct wd_cedar_policy *p);
/*
 * The value of annotation @key (NUL-terminated; "" for a bare `@key`), its length in
 * *len_out (may be NULL; values may contain NUL); NULL when the policy has no such
 * annotation. A linked policy reports its template's annotations.
 */
const char *wd_cedar_policy_annotation(const struct wd_cedar_policy *p, const char *key,
                                       size_t *len_out);

/* ---- observers (sets parsed with wd_cedar_parse_opts.observers) ---- */

/* Whether p is an observer (an @observe policy of a set parsed with opts.observers). */
bool wd_cedar_policy_is_observer(const struct wd_cedar_policy *p);
/* Number of observers among the evaluable policies of ps. */
size_t wd_cedar_policyset_observer_count(const struct wd_cedar_policyset *ps);

enum wd_cedar_obs_subject {
    WD_CEDAR_SUBJECT_PRINCIPAL = 0, /* @subject("principal") or none */
    WD_CEDAR_SUBJECT_RESOURCE = 1,  /* @subject("resource") */
    WD_CEDAR_SUBJECT_ENTITY = 2,    /* @subject("Type::\"id\"") */
};

/* An observer's parsed annotations. Strings are borrowed from the set; not NUL-safe: use
 * the lengths. */
struct wd_cedar_observer_info {
    const char *tag;
    size_t tag_len;
    enum wd_cedar_obs_subject subject;
    const char *subject_type, *subject_id; /* WD_CEDAR_SUBJECT_ENTITY only; else NULL */
    size_t subject_type_len, subject_id_len;
    int64_t ttl_ms; /* @ttl, default 3600000 (1h); always > 0 (the store caps it) */
};
/* Fill *out for observer p. WD_OK, WD_EINVAL (p is not an observer or an argument NULL). */
WD_MUST_USE int wd_cedar_policy_observer(const struct wd_cedar_policy *p,
                                         struct wd_cedar_observer_info *out);

/* ===== Later sections (entities, requests, evaluation, schema, validation) below. ===== */

/* =======================================================================================
 * 2. Evaluation: values, entities, requests, authorization   (lib/cedar/value.c,
 *    entities.c, json_io.c, eval.c, authz.c; docs/internals/cedar-eval.md)
 *
 * Life cycle. Load a policy set (section 1) and an entity store, both once; build a
 * struct wd_cedar_authz over the set (it indexes the policies by scope); then, per
 * decision, fill a struct wd_cedar_request and call wd_cedar_authorize with a
 * struct wd_cedar_scratch. Policy set, authz and a frozen entity store are immutable and
 * may be shared by any number of threads; requests and scratches belong to one thread at a
 * time. A warmed-up request and scratch make a decision without heap allocation.
 * ===================================================================================== */

struct wd_cedar_entities; /* entity store */
struct wd_cedar_request;  /* principal, action, resource, context */
struct wd_cedar_vb;       /* value builder, borrowed from a store or a request */
struct wd_cedar_authz;    /* a policy set with its scope index */
struct wd_cedar_scratch;  /* per-thread evaluation memory and the response */
struct wd_doc;
struct wd_node;

/* ---- values (attribute values, context) ---- */

/*
 * Build a value into a store or request, bottom-up: scalars are added directly; sets and
 * records are opened with *_begin and closed with wd_cedar_vb_end; inside a record every
 * value is preceded by wd_cedar_vb_key. Strings and keys are copied (see
 * wd_cedar_request_borrow_strings). Sets are deduplicated.
 * Returns WD_OK, WD_EINVAL (call out of order: value without key in a record, end
 * without begin, ...), WD_EEXIST (duplicate record key, reported at wd_cedar_vb_end),
 * WD_EPROTO (wd_cedar_vb_ext: unknown function or a malformed argument, e.g.
 * ip("1.2.3")), WD_ELIMIT (nesting deeper than 64, or the owner's memory cap), WD_ENOMEM.
 * After an error the owner must be reset (request) or the entity abandoned (store).
 */
WD_MUST_USE int wd_cedar_vb_key(struct wd_cedar_vb *vb, const char *key, size_t len);
WD_MUST_USE int wd_cedar_vb_bool(struct wd_cedar_vb *vb, bool v);
WD_MUST_USE int wd_cedar_vb_long(struct wd_cedar_vb *vb, int64_t v);
WD_MUST_USE int wd_cedar_vb_string(struct wd_cedar_vb *vb, const char *s, size_t len);
/* An entity reference Type::"id"; type must be a valid Cedar name (else WD_EPROTO). */
WD_MUST_USE int wd_cedar_vb_entity(struct wd_cedar_vb *vb, const char *type, size_t tlen,
                                   const char *id, size_t idlen);
/* An extension value from its constructor: fn is "ip", "decimal", "datetime", "duration". */
WD_MUST_USE int wd_cedar_vb_ext(struct wd_cedar_vb *vb, const char *fn, const char *arg,
                                size_t arglen);
WD_MUST_USE int wd_cedar_vb_set_begin(struct wd_cedar_vb *vb);
WD_MUST_USE int wd_cedar_vb_record_begin(struct wd_cedar_vb *vb);
WD_MUST_USE int wd_cedar_vb_end(struct wd_cedar_vb *vb);

/* ---- schema guidance for JSON ---- */

/*
 * With a schema, Cedar's JSON formats accept implicit forms: an entity reference as a bare
 * {"type": .., "id": ..}, an extension value as {"fn": .., "arg": ..} or as a plain string
 * ("1.2.3.4" where the schema says ipaddr). The schema module supplies these callbacks
 * (types are opaque pointers it owns; NULL means "unknown, parse without guidance").
 * Every callback must be thread-safe and must not fail.
 */
enum wd_cedar_jtype {
    WD_CEDAR_JT_UNKNOWN = 0,
    WD_CEDAR_JT_BOOL,
    WD_CEDAR_JT_LONG,
    WD_CEDAR_JT_STRING,
    WD_CEDAR_JT_ENTITY,
    WD_CEDAR_JT_SET,
    WD_CEDAR_JT_RECORD,
    WD_CEDAR_JT_EXT,
};
struct wd_cedar_json_schema {
    const void *ctx;
    /* Type of the attributes record / of every tag value of entity type etype. */
    const void *(*attrs_type)(const void *ctx, const char *etype, size_t len);
    const void *(*tags_type)(const void *ctx, const char *etype, size_t len);
    /* Type of the context record of action Type::"id". */
    const void *(*context_type)(const void *ctx, const char *atype, size_t alen, const char *aid,
                                size_t idlen);
    enum wd_cedar_jtype (*kind)(const void *ctx, const void *type);
    const void *(*elem_type)(const void *ctx, const void *set_type);
    const void *(*attr_type)(const void *ctx, const void *record_type, const char *key, size_t len);
    /* "ipaddr", "decimal", "datetime" or "duration". */
    const char *(*ext_name)(const void *ctx, const void *ext_type);
    /*
     * Optional: called by wd_cedar_entities_load_json after the file's entities are added
     * and before the store is frozen, to add the schema's action entities (with their
     * action-group parents) that the file does not list (use wd_cedar_entities_contains
     * and the building API). Returns WD_OK or an error with diag set.
     */
    int (*add_actions)(const void *ctx, struct wd_cedar_entities *ents, struct wd_diag *diag);
};

/* ---- entity store ---- */

/* Bounds on a store (zero fields take the defaults shown). */
struct wd_cedar_entities_limits {
    size_t max_entities;  /* 1,000,000 */
    size_t max_ancestors; /* ancestor entries over all entities: 16,000,000 */
    size_t max_bytes;     /* memory for uids and values: 1 GiB */
};

/*
 * A new empty store (lim may be NULL: defaults). Owned by the caller:
 * wd_cedar_entities_free. WD_OK, WD_ENOMEM, WD_EINVAL (out NULL).
 */
WD_MUST_USE int wd_cedar_entities_new(const struct wd_cedar_entities_limits *lim,
                                      struct wd_cedar_entities **out);
/* Free a store and every value borrowed from it. Accepts NULL. */
void wd_cedar_entities_free(struct wd_cedar_entities *e);

/*
 * Building, one entity at a time (not thread-safe; before freeze only):
 *   begin(Type, id)  then any of: wd_cedar_vb_key + value on wd_cedar_entities_vb(e) for
 *   attributes, wd_cedar_entities_parent, and once wd_cedar_entities_tags followed by
 *   key + value pairs for tags;  then end.
 * begin: WD_EPROTO (type is not a valid Cedar name; diag), WD_ELIMIT (too many entities),
 *   WD_EINVAL (previous entity not ended, or the store is frozen).
 * parent: WD_EPROTO (invalid type name), WD_EINVAL (no entity begun).
 * end: WD_EEXIST when the uid was already added with different attributes, tags or parents
 *   (Cedar accepts an identical repeat, which is then ignored); WD_EPROTO for a duplicate
 *   attribute or tag key; diag says which.
 * On any error the entity in progress is abandoned with wd_cedar_entities_abort (or the
 * store freed). All strings are copied.
 */
WD_MUST_USE int wd_cedar_entities_begin(struct wd_cedar_entities *e, const char *type, size_t tlen,
                                        const char *id, size_t idlen, struct wd_diag *diag);
/* The value builder for the entity in progress (borrowed; NULL-safe only after begin). */
struct wd_cedar_vb *wd_cedar_entities_vb(struct wd_cedar_entities *e);
WD_MUST_USE int wd_cedar_entities_parent(struct wd_cedar_entities *e, const char *type, size_t tlen,
                                         const char *id, size_t idlen, struct wd_diag *diag);
WD_MUST_USE int wd_cedar_entities_tags(struct wd_cedar_entities *e, struct wd_diag *diag);
WD_MUST_USE int wd_cedar_entities_end(struct wd_cedar_entities *e, struct wd_diag *diag);
/* Drop the entity in progress (if any); entities already ended stay. */
void wd_cedar_entities_abort(struct wd_cedar_entities *e);
/* Whether Type::"id" has been added (ended). */
bool wd_cedar_entities_contains(const struct wd_cedar_entities *e, const char *type, size_t tlen,
                                const char *id, size_t idlen);

/*
 * Finish the store: check the parent graph is acyclic and compute transitive ancestors.
 * Afterwards the store is immutable and thread-safe. WD_EPROTO (a cycle; diag names an
 * entity on it), WD_ELIMIT (max_ancestors), WD_ENOMEM, WD_EINVAL (an entity still open or
 * already frozen). On error the store can only be freed.
 */
WD_MUST_USE int wd_cedar_entities_freeze(struct wd_cedar_entities *e, struct wd_diag *diag);
bool wd_cedar_entities_frozen(const struct wd_cedar_entities *e);

/*
 * Add the entities of a Cedar entities JSON document (an array of {"uid", "attrs",
 * "parents", optional "tags"}) to a store being built. Values use Cedar's JSON value
 * format (__entity / __extn escapes; see docs/internals/cedar-eval.md); schema (may be
 * NULL) enables the implicit forms. doc and node are borrowed (node: the array).
 * WD_OK, WD_ECONFIG/WD_EPROTO (malformed; diag "file:line:col: message"), WD_EEXIST
 * (conflicting duplicate), WD_ELIMIT, WD_ENOMEM.
 */
WD_MUST_USE int wd_cedar_entities_add_json(struct wd_cedar_entities *e, const struct wd_doc *doc,
                                           const struct wd_node *node,
                                           const struct wd_cedar_json_schema *schema,
                                           struct wd_diag *diag);
/*
 * Parse JSON text (text[0..len)) into a new frozen store: wd_cedar_entities_new +
 * add_json + schema->add_actions (if any) + freeze. file names the input in diagnostics.
 * On success *out is owned by the caller; on error *out is NULL. Errors as add_json and
 * freeze, plus WD_EPROTO for invalid JSON.
 */
WD_MUST_USE int wd_cedar_entities_load_json(const char *file, const char *text, size_t len,
                                            const struct wd_cedar_json_schema *schema,
                                            const struct wd_cedar_entities_limits *lim,
                                            struct wd_cedar_entities **out, struct wd_diag *diag);

/* ---- requests ---- */

/*
 * A request: principal, action, resource (entity uids) and a context record. Reusable:
 * wd_cedar_request_reset forgets the content but keeps memory, so a warmed-up request
 * is filled without heap allocation. Not thread-safe (one owner).
 * WD_OK, WD_ENOMEM, WD_EINVAL (out NULL).
 */
WD_MUST_USE int wd_cedar_request_new(struct wd_cedar_request **out);
void wd_cedar_request_free(struct wd_cedar_request *r);
void wd_cedar_request_reset(struct wd_cedar_request *r);
/*
 * When on, strings given to the request (uids, context keys and values) are not copied:
 * the caller keeps them alive and unchanged until reset/free. Off by default.
 */
void wd_cedar_request_borrow_strings(struct wd_cedar_request *r, bool on);
/* Set the principal / action / resource. WD_EPROTO when type is not a Cedar name. */
WD_MUST_USE int wd_cedar_request_principal(struct wd_cedar_request *r, const char *type,
                                           size_t tlen, const char *id, size_t idlen);
WD_MUST_USE int wd_cedar_request_action(struct wd_cedar_request *r, const char *type, size_t tlen,
                                        const char *id, size_t idlen);
WD_MUST_USE int wd_cedar_request_resource(struct wd_cedar_request *r, const char *type, size_t tlen,
                                          const char *id, size_t idlen);
/*
 * Start building the context record: returns the builder with the record open; add
 * key/value pairs, then call wd_cedar_request_context_end. Without a context the request
 * has the empty record. Borrowed; NULL only when r is NULL.
 */
struct wd_cedar_vb *wd_cedar_request_context(struct wd_cedar_request *r);
/* WD_EEXIST (duplicate key), WD_EINVAL (unbalanced frames), WD_ENOMEM, WD_ELIMIT. */
WD_MUST_USE int wd_cedar_request_context_end(struct wd_cedar_request *r);

/*
 * Fill a request from JSON: an object with "principal", "action", "resource" (each
 * {"type","id"}, {"__entity": {...}} or a string `Type::"id"`) and "context" (an object;
 * optional). Other keys are rejected unless allow_other_keys (the conformance test files
 * carry "description", "decision" ...). schema may be NULL. WD_ECONFIG/WD_EPROTO with
 * diag, WD_ENOMEM, WD_ELIMIT.
 */
WD_MUST_USE int wd_cedar_request_set_json(struct wd_cedar_request *r, const struct wd_doc *doc,
                                          const struct wd_node *node,
                                          const struct wd_cedar_json_schema *schema,
                                          bool allow_other_keys, struct wd_diag *diag);
/* Parse JSON text and wd_cedar_request_set_json it (strict keys). */
WD_MUST_USE int wd_cedar_request_load_json(struct wd_cedar_request *r, const char *file,
                                           const char *text, size_t len,
                                           const struct wd_cedar_json_schema *schema,
                                           struct wd_diag *diag);

/* ---- authorization ---- */

/*
 * Index a policy set for authorization. ps is borrowed and must outlive the authz (and
 * must not be linked further). WD_OK, WD_ENOMEM, WD_EINVAL. The result is immutable and
 * thread-safe; free with wd_cedar_authz_free (accepts NULL).
 */
WD_MUST_USE int wd_cedar_authz_new(const struct wd_cedar_policyset *ps,
                                   struct wd_cedar_authz **out);
void wd_cedar_authz_free(struct wd_cedar_authz *az);

/* Per-thread evaluation memory, reused across decisions. WD_OK, WD_ENOMEM, WD_EINVAL. */
WD_MUST_USE int wd_cedar_scratch_new(struct wd_cedar_scratch **out);
void wd_cedar_scratch_free(struct wd_cedar_scratch *s);

/* Why a policy could not be evaluated. */
enum wd_cedar_eval_err {
    WD_CEDAR_ERR_TYPE = 1,  /* an operand of the wrong type */
    WD_CEDAR_ERR_OVERFLOW,  /* long arithmetic overflowed */
    WD_CEDAR_ERR_NO_ENTITY, /* attribute or tag of an entity not in the store */
    WD_CEDAR_ERR_NO_ATTR,   /* attribute missing from an entity or record */
    WD_CEDAR_ERR_NO_TAG,    /* getTag of a tag the entity does not have */
    WD_CEDAR_ERR_EXTENSION, /* extension function failed (bad argument text, overflow) */
    WD_CEDAR_ERR_ARITY,     /* extension function with the wrong number of arguments */
    WD_CEDAR_ERR_LIMIT,     /* evaluation exceeded warden's memory or step bound */
};

struct wd_cedar_policy_error {
    const char *policy_id; /* borrowed from the policy set */
    enum wd_cedar_eval_err code;
    const char *message; /* "type error: expected long, got string"; borrowed (scratch) */
};

/*
 * A decision. reasons: ids of the policies that determined it (satisfied forbids for a
 * deny caused by a forbid, satisfied permits for an allow, none for the default deny);
 * errors: the policies whose evaluation failed (they are skipped). Both in policy-set
 * order. All pointers are borrowed from the scratch and the policy set; valid until the
 * next wd_cedar_authorize with the same scratch.
 */
struct wd_cedar_response {
    bool allow;
    const char *const *reasons;
    size_t nreasons;
    const struct wd_cedar_policy_error *errors;
    size_t nerrors;
};

/*
 * Decide a request: default deny; any satisfied forbid denies; otherwise any satisfied
 * permit allows. Only policies whose scope can match (per the index) are evaluated.
 * ents must be frozen. az, ents and req are borrowed; thread-safe as long as each thread
 * uses its own scratch and request. Returns WD_OK (the decision is in *resp, including
 * any per-policy errors), WD_EINVAL (NULL argument, unfrozen store, request without
 * principal/action/resource or with its context still open), WD_ENOMEM (only while the
 * scratch grows), WD_ELIMIT (a policy exceeded warden's evaluation bounds: 1,000,000
 * steps or 256 MiB of scratch). On any error *resp is a deny with no reasons; callers
 * must treat an error as a deny. Once a scratch has served its largest request, a call
 * makes no heap allocation. Evaluation recurses once per expression level: evaluating
 * threads need at least 512 KiB of stack.
 */
WD_MUST_USE int wd_cedar_authorize(const struct wd_cedar_authz *az,
                                   const struct wd_cedar_entities *ents,
                                   const struct wd_cedar_request *req, struct wd_cedar_scratch *s,
                                   struct wd_cedar_response *resp);

/* ---- observations: the tag overlay and observer evaluation (docs/internals/observe.md) ---- */

/*
 * A read-only source of extra entity tags (the observation store, lib/observe), consulted
 * by `hasTag` / `getTag`. An observed tag's value is a set of strings. Overlay rule, for
 * entity E and tag T with observed values O (non-empty) and stored tag value V:
 *   - no stored tag: hasTag is true and getTag is the set O, even when E is not in the
 *     entity store (no "entity does not exist" error);
 *   - V is a set: getTag is V united with O (sorted, deduplicated as every Cedar set);
 *   - V is not a set: V alone (an observation never changes a tag's type).
 * Entities and tags without observations behave exactly as in Cedar.
 */
struct wd_cedar_tag_sink; /* where a lookup puts values; owned by the evaluation */
/*
 * Add one string value (copied into the evaluation's scratch) during a lookup.
 * WD_OK, WD_ENOMEM, WD_ELIMIT (scratch cap).
 */
WD_MUST_USE int wd_cedar_tag_sink_add(struct wd_cedar_tag_sink *sink, const char *v, size_t len);
struct wd_cedar_tag_source {
    const void *ctx;
    int64_t now_ms; /* passed to lookup unchanged (the store's "current time") */
    /*
     * Tag `tag` of entity type::"id" (byte strings, not NUL-terminated). With sink NULL
     * (hasTag) return the number of live values (> 0: the tag exists) without adding them;
     * with a sink add every live value with wd_cedar_tag_sink_add and return their number.
     * A negative return is an error (WD_ENOMEM, WD_ELIMIT from the sink): the decision
     * fails (denies). Must be thread-safe and must not call back into the Cedar engine.
     */
    int (*lookup)(const void *ctx, int64_t now_ms, const char *type, size_t tlen, const char *id,
                  size_t idlen, const char *tag, size_t taglen, struct wd_cedar_tag_sink *sink);
};

/*
 * wd_cedar_authorize with a tag overlay: tags (may be NULL: exactly wd_cedar_authorize) is
 * consulted by hasTag/getTag as described above. Same contract otherwise; the overlay
 * makes no heap allocation (values go into the scratch).
 */
WD_MUST_USE int wd_cedar_authorize_ex(const struct wd_cedar_authz *az,
                                      const struct wd_cedar_entities *ents,
                                      const struct wd_cedar_tag_source *tags,
                                      const struct wd_cedar_request *req,
                                      struct wd_cedar_scratch *s, struct wd_cedar_response *resp);

/* One value an observer wants recorded. Strings borrowed (see wd_cedar_observe). */
struct wd_cedar_observation {
    const char *policy_id;
    const char *type, *id; /* the subject entity uid */
    size_t type_len, id_len;
    const char *tag;
    size_t tag_len;
    const char *value; /* the @value result: a string, or a long in decimal */
    size_t value_len;
    int64_t ttl_ms;
};
struct wd_cedar_observations {
    const struct wd_cedar_observation *items; /* in policy-set order */
    size_t n;
    /* observers whose conditions or @value failed (@value not a string or long: a
       WD_CEDAR_ERR_TYPE error); they record nothing */
    const struct wd_cedar_policy_error *errors;
    size_t nerrors;
};

/*
 * Evaluate the observers of az's set for a request that has been allowed: for each
 * observer whose scope and conditions hold, evaluate @value and report (subject uid, tag,
 * value, ttl) in *out. Nothing is recorded here: the caller hands the items to its
 * observation store (wd_obs_record). ents, tags (may be NULL) and req as for
 * wd_cedar_authorize_ex. The pointers in *out are borrowed from the scratch, the policy
 * set and the request; valid until the next use of the scratch (an authorize call too)
 * and while req is unchanged. Returns WD_OK, WD_EINVAL, WD_ENOMEM, WD_ELIMIT (then *out is
 * empty). Thread-safe as wd_cedar_authorize; allocation-free once the scratch is warm.
 */
WD_MUST_USE int wd_cedar_observe(const struct wd_cedar_authz *az,
                                 const struct wd_cedar_entities *ents,
                                 const struct wd_cedar_tag_source *tags,
                                 const struct wd_cedar_request *req, struct wd_cedar_scratch *s,
                                 struct wd_cedar_observations *out);

/* ===== end of section 2 (evaluation) ===== */

/* =======================================================================================
 * 3. Schemas and validation   (lib/cedar/schema.c, schema_text.c, schema_json.c,
 *    schema_request.c, validate.c; docs/internals/cedar-validator.md)
 *
 * A schema declares entity types, actions and common types, in Cedar's human format
 * (.cedarschema) or its JSON format. The validator type-checks every policy of a set
 * against every request environment (principal type, action, resource type) the schema
 * allows, in Cedar's strict mode, and reports the errors Cedar reports. A loaded schema is
 * immutable and may be shared by any number of threads.
 * ===================================================================================== */

struct wd_cedar_schema;

/*
 * Parse a schema in the human format (text[0..len), UTF-8, not NUL-terminated) or in the
 * JSON format. file names the source in diagnostics (may be NULL). On success *out is a
 * new schema owned by the caller (wd_cedar_schema_free). Returns:
 *   WD_OK
 *   WD_EPROTO   the text does not parse (syntax, bad escape, reserved identifier ...)
 *   WD_ECONFIG  it parses but is not a valid schema (undeclared or duplicate names, cycles
 *               in common types or in the action hierarchy, a context that is not a
 *               record, shadowing of the empty namespace ...)
 *   WD_ELIMIT   input over 16 MiB, types nested deeper than 64 levels (human format) or
 *               JSON nested deeper than 128 levels
 *   WD_ENOMEM
 *   WD_EINVAL   text == NULL with len > 0, or out == NULL
 * with the first problem in diag (may be NULL) as "file:line:col: message". On error *out
 * is NULL. Thread-safe (no shared state).
 */
WD_MUST_USE int wd_cedar_schema_parse(const char *file, const char *text, size_t len,
                                      struct wd_cedar_schema **out, struct wd_diag *diag);
WD_MUST_USE int wd_cedar_schema_parse_json(const char *file, const char *text, size_t len,
                                           struct wd_cedar_schema **out, struct wd_diag *diag);
/*
 * Read a schema file: JSON when the name ends in ".json", the human format otherwise.
 * Errors as above, plus WD_EIO (diag names the path).
 */
WD_MUST_USE int wd_cedar_schema_load_file(const char *path, struct wd_cedar_schema **out,
                                          struct wd_diag *diag);
/* Free a schema. Accepts NULL. */
void wd_cedar_schema_free(struct wd_cedar_schema *s);

/*
 * Schema contents, for tools and for deriving action entities (Cedar's test harness adds
 * every action of the schema to the entity store, with its memberOf groups as parents).
 * Indexes are in declaration order; out-of-range indexes give NULL / 0. Strings are
 * NUL-terminated and borrowed from the schema (action ids may contain NUL: use the
 * lengths).
 */
size_t wd_cedar_schema_entity_type_count(const struct wd_cedar_schema *s);
const char *wd_cedar_schema_entity_type_name(const struct wd_cedar_schema *s, size_t i);
size_t wd_cedar_schema_action_count(const struct wd_cedar_schema *s);
/* The i-th action as its type ("NS::Action") and id. */
const char *wd_cedar_schema_action_type(const struct wd_cedar_schema *s, size_t i, size_t *len_out);
const char *wd_cedar_schema_action_id(const struct wd_cedar_schema *s, size_t i, size_t *len_out);
/* The declared (direct) memberOf parents of the i-th action: count, then each by index j
 * as an action index usable with the two functions above. */
size_t wd_cedar_schema_action_parent_count(const struct wd_cedar_schema *s, size_t i);
size_t wd_cedar_schema_action_parent(const struct wd_cedar_schema *s, size_t i, size_t j);

/*
 * Fill the JSON-guidance callbacks of section 2 from a schema, so that entities and
 * request JSON accept Cedar's schema-based implicit forms and the store gets the schema's
 * action entities. s is borrowed and must outlive every use of *out.
 */
void wd_cedar_schema_json_guide(const struct wd_cedar_schema *s, struct wd_cedar_json_schema *out);

/*
 * Request validation (Cedar's validateRequest): the action is declared in s; principal and
 * resource have entity types in the action's appliesTo (enumerated types: a declared id);
 * the context has every required attribute of the action's context type, no undeclared
 * attribute, and values of the declared types. s and r are borrowed. Returns WD_OK,
 * WD_EPROTO (does not conform; diag says why), WD_EINVAL (NULL argument, or the request
 * lacks a principal, action or resource). Thread-safe for a shared s.
 */
WD_MUST_USE int wd_cedar_schema_validate_request(const struct wd_cedar_schema *s,
                                                 const struct wd_cedar_request *r,
                                                 struct wd_diag *diag);

/* ---- validation ---- */

/* What a validation issue is about (Cedar's error kinds). */
enum wd_cedar_vkind {
    WD_CEDAR_V_UNRECOGNIZED_ENTITY_TYPE = 1, /* entity type not declared */
    WD_CEDAR_V_UNRECOGNIZED_ACTION,          /* action entity not declared */
    WD_CEDAR_V_INVALID_ENUM_ENTITY,          /* id not among an enumerated type's ids */
    WD_CEDAR_V_INVALID_ACTION_APPLICATION,   /* no action applies to the scope's types */
    WD_CEDAR_V_UNEXPECTED_TYPE,              /* an operand of the wrong type */
    WD_CEDAR_V_INCOMPATIBLE_TYPES,           /* no least upper bound (==, sets, if) */
    WD_CEDAR_V_ATTR_NOT_FOUND,               /* attribute not declared */
    WD_CEDAR_V_UNSAFE_OPTIONAL_ATTR,         /* optional attribute read without `has` */
    WD_CEDAR_V_UNSAFE_TAG,                   /* tag read without `hasTag` / no tags */
    WD_CEDAR_V_EXT_ARG,                      /* extension constructor argument invalid */
    WD_CEDAR_V_EXT_NONLITERAL,               /* constructor argument not a string literal */
    WD_CEDAR_V_EXT_CALL,                     /* extension function: wrong arguments */
    WD_CEDAR_V_EMPTY_SET,                    /* empty set literal */
    WD_CEDAR_V_IMPOSSIBLE_POLICY,            /* warning: false in every environment */
};

struct wd_cedar_vissue {
    enum wd_cedar_vkind kind;
    bool warning;          /* only WD_CEDAR_V_IMPOSSIBLE_POLICY is a warning */
    const char *policy_id; /* borrowed from the policy set */
    unsigned line, col;    /* of the offending expression or policy; 0 if unknown */
    char msg[320];         /* Cedar-style "for policy `p`, ..." */
};

struct wd_cedar_validation;

/*
 * Validate every static policy, template and linked policy of ps against schema s (strict
 * mode). Both are borrowed; ps must outlive the result. On WD_OK *out holds the issues
 * (possibly none): the set is valid iff wd_cedar_validation_error_count is 0. Every error
 * is reported, not only the first of a policy: after an error the checker goes on with the
 * sibling operands, the other conjuncts and conditions and the other request environments,
 * giving a failed subexpression Cedar's recovery type when it has one (a failed `+` is
 * still a Long, a failed test a Bool; an undeclared attribute has none and causes no
 * further error); an error found in several environments is reported once per policy
 * (same kind, position and message), as Cedar deduplicates them. Returns WD_OK,
 * WD_ENOMEM, WD_EINVAL (NULL argument). Thread-safe for shared s and ps.
 */
WD_MUST_USE int wd_cedar_validate(const struct wd_cedar_schema *s,
                                  const struct wd_cedar_policyset *ps,
                                  struct wd_cedar_validation **out);
/* Errors and warnings, in policy order (errors of a policy before its warnings). Within a
 * policy, errors come in the order found: the scope and entity checks first, then the
 * type errors, expression by expression. */
size_t wd_cedar_validation_count(const struct wd_cedar_validation *v);
size_t wd_cedar_validation_error_count(const struct wd_cedar_validation *v);
const struct wd_cedar_vissue *wd_cedar_validation_issue(const struct wd_cedar_validation *v,
                                                        size_t i);
/* Free a result. Accepts NULL. */
void wd_cedar_validation_free(struct wd_cedar_validation *v);

/* ===== end of section 3 (schemas and validation) ===== */

#endif
