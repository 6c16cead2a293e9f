/*
 * The agent's SVID store: the registration entries of this node, the current SVID (chain and
 * private key) of each, the trust bundle, and when each SVID is due for renewal. The control
 * loop writes it; Workload API threads read it and wait on it for changes (watch).
 *
 * Thread-safety: every function takes the store's mutex; any thread may call any function.
 */
#ifndef AGT_STORE_H
#define AGT_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"

#include "cpjson.h"
#include "workload.h"

#define AGT_VERSION_LEN   16 /* hex digits of a Workload API version */
#define AGT_WAPI_BODY_MAX (8u << 20)

struct agt_slot {
    struct agt_entry entry;
    bool has_svid;
    char *chain_pem;               /* owned: leaf then intermediates */
    char *key_pem;                 /* owned secret: PKCS#8 PEM of the SVID's key */
    int64_t not_before, not_after; /* Unix seconds */
    int64_t renew_at_ms;           /* wall-clock ms; 0: as soon as possible */
    int64_t retry_at_ms;           /* no attempt before this (backoff) */
    unsigned attempts;             /* failures since the last success */
};

struct agt_store {
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* signalled on every change; CLOCK_MONOTONIC */
    struct agt_slot *v; /* owned */
    size_t n;
    char *bundle_pem; /* owned */
    uint64_t seq;     /* bumped on every change */
    bool stopping;
};

/* Initialise an empty store. WD_EIO when the mutex or condition variable cannot be made. */
WD_MUST_USE int agt_store_init(struct agt_store *s);
/* Wipe keys and free everything. Accepts NULL. No thread may be using s. */
void agt_store_cleanup(struct agt_store *s);

/*
 * Replace the entry list with e (borrowed): entries that stay keep their SVID unless their
 * SPIFFE ID or TTL changed; new entries start without one (due now); gone ones are dropped
 * and their keys wiped. Wakes watchers. WD_ENOMEM (store unchanged).
 */
WD_MUST_USE int agt_store_set_entries(struct agt_store *s, const struct agt_entries *e);

/* Replace the trust bundle PEM (copied) when it differs. Wakes watchers. WD_ENOMEM. */
WD_MUST_USE int agt_store_set_bundle(struct agt_store *s, const char *bundle_pem);

/* Whether the store's trust bundle is exactly bundle_pem. */
bool agt_store_bundle_is(struct agt_store *s, const char *bundle_pem);

/*
 * Ids of the entries due for a new SVID at now_ms: those without one or past their
 * renewal time, and not inside a backoff wait. Writes at most max ids to ids (each
 * AGT_ENTRY_ID_LEN + 1 bytes) and returns how many. With ttl_ms (may be NULL) the entries'
 * TTLs in the same order.
 */
size_t agt_store_due(struct agt_store *s, int64_t now_ms, char (*ids)[AGT_ENTRY_ID_LEN + 1],
                     int64_t *ttl_ms, size_t max);

/* The earliest time (wall ms) at which some entry becomes due; INT64_MAX when none. */
int64_t agt_store_next_due(struct agt_store *s);

/*
 * Install a new SVID for entry id: chain and key PEM copied; renewal at renew_at_ms; the
 * backoff is reset. WD_ENOENT when the entry is gone (the caller discards the SVID),
 * WD_ENOMEM. Wakes watchers.
 */
WD_MUST_USE int agt_store_put_svid(struct agt_store *s, const char *id, const char *chain_pem,
                                   const char *key_pem, int64_t not_before, int64_t not_after,
                                   int64_t renew_at_ms);

/* Record a failed attempt for entry id: the next one waits until retry_at_ms. */
void agt_store_failed(struct agt_store *s, const char *id, int64_t retry_at_ms);

/* Number of failed attempts in a row for entry id (0 when unknown). */
unsigned agt_store_attempts(struct agt_store *s, const char *id);

/*
 * The Workload API answer for caller at now (Unix seconds): every entry whose selectors all
 * match caller and whose SVID is still valid, as
 *   {"version":"<16 hex>","svids":[{"spiffe_id","entry_id","svid_pem","key_pem",
 *    "bundle_pem","expires_at"}...]}
 * appended to body (cap AGT_WAPI_BODY_MAX). *matched gets the number of entries whose
 * selectors match (with or without a valid SVID), *served the number of SVIDs in the
 * answer, version the answer's version (hex of SHA-256 over the svids, NUL-terminated).
 * WD_ENOMEM / WD_ELIMIT (body unchanged).
 */
WD_MUST_USE int agt_store_render(struct agt_store *s, const struct agt_caller *caller, int64_t now,
                                 struct wd_buf *body, size_t *matched, size_t *served,
                                 char version[AGT_VERSION_LEN + 1]);

/*
 * As agt_store_render, but first wait (at most until the monotonic deadline_ms) for the
 * caller's answer to have a version other than watch (NUL-terminated). Returns as soon as
 * the version differs, at the deadline, or when the store stops, with the answer as it is
 * then. Same errors.
 */
WD_MUST_USE int agt_store_watch(struct agt_store *s, const struct agt_caller *caller,
                                const char *watch, int64_t deadline_mono_ms, struct wd_buf *body,
                                size_t *matched, size_t *served, char version[AGT_VERSION_LEN + 1]);

/* Wake every watcher and make later watches return at once (shutdown). */
void agt_store_stop(struct agt_store *s);

/*
 * Copy the SVID of entry id (chain, key, bundle: owned by the caller, key to be wiped with
 * wd_free_secret) for a file sink. WD_ENOENT when the entry has no SVID, WD_ENOMEM.
 */
WD_MUST_USE int agt_store_get_svid(struct agt_store *s, const char *id, char **chain_pem,
                                   char **key_pem, char **bundle_pem);

#endif
