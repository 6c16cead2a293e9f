/*
 * The observation store (lib/observe; docs/internals/observe.md): the memory behind
 * stateful Cedar rules. Observer policies (@observe, see warden/cedar.h) produce values
 * with wd_cedar_observe; the proxy records them here with wd_obs_record; decisions read
 * them through the tag overlay (wd_obs_tag_source + wd_cedar_authorize_ex) as Cedar entity
 * tags whose value is a set of strings.
 *
 * Model: entity uid (type, id) -> tag -> set of string values, each with its own expiry
 * time (ms since the epoch). A value is live while now < expiry. Recording a value that is
 * already there extends its expiry (never shortens it).
 *
 * Bounds (struct wd_obs_limits): entities in the store, tags per entity, values per tag,
 * bytes per string, TTL cap. When a bound is reached the NEW observation is refused
 * (WD_ELIMIT, counted in wd_obs_stats.refused); nothing live is evicted. Expired values do
 * not count: a record first drops the expired values of the entity it writes to, and a
 * store that is full of entities purges the stripe it writes to before refusing.
 *
 * Expiry: lookups skip expired values (lazily, under a read lock; they are not removed
 * there); wd_obs_record drops them from the entity it touches; wd_obs_purge removes every
 * expired value, tag and entity (call it periodically).
 *
 * Threads: every function is thread-safe. The store is split into 16 stripes by entity
 * hash, each with a read-write lock: lookups take one read lock; records take one write
 * lock; purge/export/stats visit the stripes one at a time. The store is independent of
 * any policy set: keep it across policy reloads.
 */
#ifndef WD_OBSERVE_H
#define WD_OBSERVE_H

#include <stddef.h>
#include <stdint.h>

#include "warden/buf.h"
#include "warden/cedar.h"
#include "warden/common.h"
#include "warden/err.h"

struct wd_obs_store;

/* Bounds; zero fields take the defaults shown. */
struct wd_obs_limits {
    size_t max_entities;        /* entities with at least one tag: 100000 */
    size_t max_tags_per_entity; /* 32 */
    size_t max_values_per_tag;  /* 1024 */
    size_t max_string;          /* bytes of a type, id, tag or value: 1024 */
    int64_t max_ttl_ms;         /* TTL cap: 30 days */
};

/* Counters (monotonic except entities/tags/values, which are the current content). */
struct wd_obs_stats {
    size_t entities, tags, values; /* held now, expired-but-not-purged included */
    uint64_t recorded;             /* new values */
    uint64_t refreshed;            /* records of a value already there */
    uint64_t refused;              /* records refused by a bound (WD_ELIMIT) */
    uint64_t expired;              /* values removed because they expired */
};

/*
 * New empty store. lim may be NULL (defaults). WD_OK, WD_ENOMEM, WD_EINVAL (out NULL, or a
 * negative max_ttl_ms). Free with wd_obs_store_free.
 */
WD_MUST_USE int wd_obs_store_new(const struct wd_obs_limits *lim, struct wd_obs_store **out);
/* Free the store. Accepts NULL. No other thread may be using it. */
void wd_obs_store_free(struct wd_obs_store *st);

/*
 * Record value v into tag of entity type::"id" (byte strings, not NUL-terminated;
 * non-empty except v) at time now_ms, live for ttl_ms (> 0; capped at max_ttl_ms). A value
 * already present gets expiry max(old, now + ttl).
 * Returns:
 *   WD_OK
 *   WD_ELIMIT  refused by a bound (counted): the store has max_entities entities, the
 *              entity max_tags_per_entity live tags, the tag max_values_per_tag live
 *              values, or a string is longer than max_string
 *   WD_EINVAL  NULL argument, empty type/id/tag, ttl_ms <= 0
 *   WD_ENOMEM  (the store is unchanged)
 */
WD_MUST_USE int wd_obs_record(struct wd_obs_store *st, const char *type, size_t tlen,
                              const char *id, size_t idlen, const char *tag, size_t taglen,
                              const char *v, size_t vlen, int64_t ttl_ms, int64_t now_ms);

/*
 * Record every item of a wd_cedar_observe result at now_ms. Items refused by a bound are
 * skipped (counted); returns WD_OK, WD_ENOMEM (items before the failing one are recorded)
 * or WD_EINVAL. *nrefused (may be NULL) gets the number refused.
 */
WD_MUST_USE int wd_obs_record_all(struct wd_obs_store *st, const struct wd_cedar_observations *obs,
                                  int64_t now_ms, size_t *nrefused);

/*
 * The live values (expiry > now_ms) of tag of entity type::"id": calls fn(arg, value, len)
 * for each (under the stripe's read lock: fn must not call into the store) unless fn is
 * NULL. Returns the number of live values (0: no such tag), or the first negative value fn
 * returned. Values come in no particular order.
 */
WD_MUST_USE int wd_obs_lookup(const struct wd_obs_store *st, const char *type, size_t tlen,
                              const char *id, size_t idlen, const char *tag, size_t taglen,
                              int64_t now_ms, int (*fn)(void *arg, const char *v, size_t len),
                              void *arg);

/*
 * Fill *out so that wd_cedar_authorize_ex / wd_cedar_observe read st's observations as of
 * now_ms. st is borrowed and must outlive every use of *out. No allocation.
 */
void wd_obs_tag_source(const struct wd_obs_store *st, int64_t now_ms,
                       struct wd_cedar_tag_source *out);

/* Remove every value expired at now_ms, and tags and entities left empty. Returns the
 * number of values removed. */
size_t wd_obs_purge(struct wd_obs_store *st, int64_t now_ms);

/* Current counters (a consistent view of each stripe, not of the whole store). */
void wd_obs_stats(const struct wd_obs_store *st, struct wd_obs_stats *out);

/*
 * Export the live values as JSON lines, one value per line:
 *   {"type":"Workload","id":"spiffe://x/y","tag":"prescriptions","value":"rx-1","expires_ms":N}
 * (the snapshot and control-plane sharing format). Appended to out. WD_OK, WD_ENOMEM,
 * WD_ELIMIT (out's cap; out then holds whole lines only up to some point).
 */
WD_MUST_USE int wd_obs_export(const struct wd_obs_store *st, int64_t now_ms, struct wd_buf *out);

/*
 * Record the lines of an export (text[0..len)) at now_ms: each value with
 * ttl = expires_ms - now_ms (lines already expired are skipped). Empty lines are ignored.
 * Lines refused by a bound are skipped and counted. *nloaded (may be NULL) gets the
 * number of values recorded. Returns WD_OK, WD_EPROTO (a malformed line: diag
 * "file:LINE:COL: message"; lines before it have been recorded), WD_ENOMEM.
 */
WD_MUST_USE int wd_obs_import(struct wd_obs_store *st, const char *file, const char *text,
                              size_t len, int64_t now_ms, size_t *nloaded, struct wd_diag *diag);

/*
 * Snapshot: write the export to path atomically (mode 0600) / read it back with
 * wd_obs_import. wd_obs_load: WD_ENOENT when path does not exist (a first start), WD_EIO,
 * WD_ELIMIT (over 256 MiB), else as wd_obs_import. diag says why.
 */
WD_MUST_USE int wd_obs_save(const struct wd_obs_store *st, const char *path, int64_t now_ms,
                            struct wd_diag *diag);
WD_MUST_USE int wd_obs_load(struct wd_obs_store *st, const char *path, int64_t now_ms,
                            size_t *nloaded, struct wd_diag *diag);

#endif
