/*
 * The Cedar entity store (module-private view; the public API is in warden/cedar.h).
 *
 * A store is built once (entity by entity, from JSON or programmatically), then frozen:
 * freezing checks that the parent graph is acyclic and computes every entity's transitive
 * ancestor set, stored sorted by uid hash so `a in b` is one binary search. A frozen store
 * is never modified again and may be read by any number of threads at once.
 */
#ifndef WD_CEDAR_ENTITIES_H
#define WD_CEDAR_ENTITIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/cedar.h"
#include "warden/common.h"

#include "cedar/value.h"

struct wd_cedar_entity {
    const struct wd_cedar_euid *uid;            /* owned by the store */
    const struct wd_cedar_record *attrs;        /* never NULL */
    const struct wd_cedar_record *tags;         /* never NULL */
    const struct wd_cedar_euid *const *parents; /* direct parents, sorted, unique */
    size_t nparents;
    const struct wd_cedar_euid *const *anc; /* transitive ancestors sorted by (hash, bytes) */
    size_t nanc;
};

/* Lookup in a frozen store (also works while building, without ancestors). NULL if absent. */
const struct wd_cedar_entity *wd_cedar_entities_get(const struct wd_cedar_entities *e,
                                                    const struct wd_cedar_euid *uid);
/* a == b, or b is a transitive ancestor of a (a need not exist: then only a == b). */
bool wd_cedar_entities_in(const struct wd_cedar_entities *e, const struct wd_cedar_euid *a,
                          const struct wd_cedar_euid *b);
/* Whether uid is in the sorted ancestor array of ent. */
bool wd_cedar_entity_has_ancestor(const struct wd_cedar_entity *ent,
                                  const struct wd_cedar_euid *uid);
/* Number of entities, and the i-th in insertion order. */
size_t wd_cedar_entities_count(const struct wd_cedar_entities *e);
const struct wd_cedar_entity *wd_cedar_entities_at(const struct wd_cedar_entities *e, size_t i);

/* The store's zone (for json_io). */
struct wd_cedar_zone *wd_cedar_entities_pool(struct wd_cedar_entities *e);

#endif
