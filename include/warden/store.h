/*
 * The control plane's store: one interface over SQLite (default; one file, WAL) and
 * PostgreSQL (libpq; several warden-control replicas share one database).
 *
 * Opening a store applies the versioned schema migrations (docs/internals/store.md) inside
 * one transaction; concurrent openers never both migrate (SQLite: BEGIN IMMEDIATE;
 * PostgreSQL: a transaction-scoped advisory lock), and a database written by a newer warden
 * (schema version above WD_STORE_SCHEMA_VERSION) is refused.
 *
 * Rules every operation follows:
 * - Time is always passed in (`now`, Unix seconds; audit events carry milliseconds); the
 *   database clock is never read, so tests can pin time and replicas agree.
 * - Every uniqueness rule is a database constraint, and every read-check-write is one
 *   conditional statement or one transaction that takes a row lock first, so two handles
 *   (two threads, two processes, two replicas) racing on the same row cannot both win.
 *   PostgreSQL transactions that fail with a serialization failure or deadlock (SQLSTATE
 *   40001, 40P01) are retried a bounded number of times inside the store.
 * - Statements are parameterised (no SQL text is ever built from input) and prepared once
 *   per handle.
 * - Join tokens are kept only as their SHA-256; the token itself never reaches the
 *   database, a log or wd_store_error().
 *
 * Errors: WD_EINVAL for a caller bug (NULL where not allowed, empty or over-long text,
 * out-of-range number); WD_ENOENT, WD_EEXIST, WD_EEXPIRED, WD_EDENIED as each function says;
 * WD_ENOMEM; WD_EDB for any other database failure, with a one-line message in
 * wd_store_error() (never containing parameter values). A failed operation changes nothing
 * (its transaction is rolled back) and leaves every out-parameter untouched.
 *
 * Ownership: strings and byte arrays passed in are borrowed for the call. The record structs
 * serve as input (their const pointers then borrow the caller's data) and as results (the
 * pointers are then owned by the caller, who releases them only through the matching
 * _cleanup / _free function; each accepts NULL and zeroed records).
 *
 * Thread-safety: a handle is NOT thread-safe. Use one handle per thread (open several; they
 * may share one SQLite file or one PostgreSQL database). Different handles may be used
 * concurrently from different threads and processes.
 */
#ifndef WD_STORE_H
#define WD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/common.h"
#include "warden/err.h"

/* The schema version this code writes and understands (the number of migrations). */
#define WD_STORE_SCHEMA_VERSION 2

/* Bounds on what the store accepts (WD_EINVAL beyond them). */
#define WD_STORE_NAME_MAX   255u       /* node names, attestation types, audit kinds */
#define WD_STORE_TEXT_MAX   4096u      /* SPIFFE IDs, paths, reasons, references, actors */
#define WD_STORE_BLOB_MAX   16384u     /* AK public area, session state */
#define WD_STORE_DOC_MAX    (1u << 20) /* CA certificate PEM, audit details JSON */
#define WD_STORE_NONCE_MAX  64u        /* TPM2B_DATA (extraData) is at most 64 bytes */
#define WD_STORE_SERIAL_MAX 20u        /* RFC 5280 §4.1.2.2 */
#define WD_STORE_LIST_MAX   100000u    /* rows one list call returns at most */
#define WD_STORE_ID_LEN     32u        /* store-generated ids: 16 random bytes, lower-case hex */
#define WD_STORE_SHA256_LEN 32u

struct wd_store;

/* ---- opening ---- */

/*
 * Open (creating and migrating as needed) the store named by url:
 *   sqlite:PATH[?OPTS] or sqlite://PATH[?OPTS] (PATH absolute or relative; "sqlite::memory:"
 *     for a private in-memory database), or a bare PATH with no scheme. OPTS, joined by '&':
 *       sync=full|normal   PRAGMA synchronous (default full: each commit is on disk when the
 *                          call returns; normal survives a process crash, not a power cut)
 *       busy_timeout=MS    how long a writer waits for another (default 5000, 0..600000)
 *     The file is created 0600. WAL mode, foreign keys on.
 *   postgresql://... or postgres://... : a libpq connection URI, passed to libpq as is.
 * On success *out is an owned handle (wd_store_close). Errors, with diag (may be NULL) set
 * to one line that never repeats a password: WD_ECONFIG (unknown scheme, bad option,
 * unparsable URI), WD_EDB (cannot open or connect, migration failed, or the database's
 * schema is newer than WD_STORE_SCHEMA_VERSION: "... newer than this warden ..."),
 * WD_ENOMEM.
 */
WD_MUST_USE int wd_store_open(const char *url, struct wd_store **out, struct wd_diag *diag);

/* Close the handle, finalising cached statements. Accepts NULL. */
void wd_store_close(struct wd_store *st);

/* "sqlite" or "postgresql". Borrowed, static. */
const char *wd_store_backend(const struct wd_store *st);

/*
 * One line about the last failure on this handle, meaningful right after a call that
 * returned WD_EDB or WD_EEXIST (later successes do not clear it; "" before any failure).
 * Borrowed; valid until the next call on st. Never holds parameter values (tokens, keys,
 * serials).
 */
const char *wd_store_error(const struct wd_store *st);

/* The database's schema version (highest applied migration). WD_EDB. */
WD_MUST_USE int wd_store_schema_version(struct wd_store *st, int *out);

/*
 * Health check: SQLite runs PRAGMA integrity_check (WD_EDB unless it says "ok");
 * PostgreSQL runs a trivial query on the connection. WD_EDB.
 */
WD_MUST_USE int wd_store_check(struct wd_store *st);

/* ---- trust domain and CA material ---- */

/*
 * Record the trust domain name (once per database). WD_EEXIST if one is already recorded
 * (whatever its name), WD_EINVAL, WD_EDB.
 */
WD_MUST_USE int wd_store_td_init(struct wd_store *st, const char *name, int64_t now);

/*
 * The trust domain name (*name_out owned, wd_free) and the trust bundle sequence number
 * (bumped by every wd_store_ca_add). WD_ENOENT before wd_store_td_init, WD_ENOMEM, WD_EDB.
 */
WD_MUST_USE int wd_store_td_get(struct wd_store *st, char **name_out, int64_t *bundle_seq);

/* A CA certificate of the trust domain and where its private key is (never the key). */
struct wd_store_ca {
    int64_t id;
    const char *cert_pem; /* owned */
    const char *key_ref;  /* owned: e.g. a file path or a PKCS#11 URI; NULL when none */
    int64_t not_after;    /* Unix seconds */
    int64_t created_at;   /* Unix seconds */
};

/*
 * Add a CA certificate (PEM text, at most WD_STORE_DOC_MAX) with an optional key
 * reference, and bump the bundle sequence in the same transaction. *id_out and *seq_out
 * (each may be NULL) receive the new row id and bundle sequence. WD_ENOENT before
 * wd_store_td_init, WD_EINVAL, WD_EDB.
 */
WD_MUST_USE int wd_store_ca_add(struct wd_store *st, const char *cert_pem, const char *key_ref,
                                int64_t not_after, int64_t now, int64_t *id_out, int64_t *seq_out);

/* Every CA row, oldest first. *out owned (wd_store_cas_free). WD_ENOMEM, WD_ELIMIT, WD_EDB. */
WD_MUST_USE int wd_store_ca_list(struct wd_store *st, struct wd_store_ca **out, size_t *n_out);
void wd_store_ca_cleanup(struct wd_store_ca *ca);
void wd_store_cas_free(struct wd_store_ca *v, size_t n);

/* ---- nodes ---- */

struct wd_store_node {
    const char *name;        /* owned; 1..WD_STORE_NAME_MAX bytes; primary key */
    const char *attestation; /* owned: how it enrolled: "tpm", "join-token", ... */
    bool has_ek_hash;        /* TPM nodes: SHA-256 of the EK public key; unique */
    uint8_t ek_hash[WD_STORE_SHA256_LEN];
    const uint8_t *ak_pub; /* owned; TPM2B_PUBLIC of the AK; NULL when none */
    size_t ak_pub_len;
    const uint8_t *ak_name; /* owned; TPM name of the AK; NULL when none */
    size_t ak_name_len;
    uint64_t clock;         /* last accepted TPMS_CLOCK_INFO: clock (<= INT64_MAX) */
    uint32_t reset_count;   /* ... resetCount */
    uint32_t restart_count; /* ... restartCount */
    bool trusted;           /* false: no SVIDs are issued for this node */
    int64_t last_attested;  /* Unix seconds of the last good attestation; 0 = never */
    const char *pcr_policy; /* owned: reference to the allowed-PCR policy; NULL = none */
    int64_t created_at;
    int64_t updated_at;
};

/*
 * Enrol node n: its name, attestation, EK hash, AK, counters, last_attested and
 * pcr_policy are written; created_at/updated_at come from now. A new node also takes
 * n->trusted. If a node of that name exists, it is updated (keeping created_at and its
 * trusted flag, which only wd_store_node_set_trusted changes, together with the deny list)
 * only when it has the same EK hash (or both have none): re-enrolment of the same TPM, or a
 * join-token node given a new token. WD_EEXIST (wd_store_error says which) when the name
 * belongs to a node with another EK (or EK vs none), or when the EK hash is already
 * enrolled under another name. WD_EINVAL, WD_EDB.
 */
WD_MUST_USE int wd_store_node_upsert(struct wd_store *st, const struct wd_store_node *n,
                                     int64_t now);

/* The node called name into *out (owned; wd_store_node_cleanup). WD_ENOENT, WD_ENOMEM, WD_EDB. */
WD_MUST_USE int wd_store_node_get(struct wd_store *st, const char *name, struct wd_store_node *out);

/* The node whose EK public key hashes to ek_hash. As wd_store_node_get. */
WD_MUST_USE int wd_store_node_get_by_ek(struct wd_store *st,
                                        const uint8_t ek_hash[WD_STORE_SHA256_LEN],
                                        struct wd_store_node *out);

/*
 * Every node, by name (byte order). *out owned (wd_store_nodes_free). WD_ELIMIT beyond
 * WD_STORE_LIST_MAX nodes, WD_ENOMEM, WD_EDB.
 */
WD_MUST_USE int wd_store_node_list(struct wd_store *st, struct wd_store_node **out, size_t *n_out);

/*
 * Mark a node trusted or untrusted, and in the same transaction keep the deny list in step:
 * untrusted puts {WD_DENY_NODE, name} on the deny list with reason (required then, at most
 * WD_STORE_TEXT_MAX); trusted takes it off (reason ignored). Setting the flag it already has
 * still succeeds and changes nothing on the deny list. *seq_out (may be NULL) receives the
 * deny-list sequence after the call. WD_ENOENT (no such node), WD_EINVAL, WD_EDB.
 */
WD_MUST_USE int wd_store_node_set_trusted(struct wd_store *st, const char *name, bool trusted,
                                          const char *reason, int64_t now, int64_t *seq_out);

/*
 * Record the TPM counters of an accepted quote and set last_attested = now, only if they
 * move forward: (reset_count, restart_count, clock) must be strictly greater, compared in
 * that order, than the stored ones. A replayed or older quote therefore fails. One
 * conditional statement, so of two racing calls with the same counters one wins.
 * WD_ENOENT (no such node), WD_EDENIED (counters not moving forward; nothing changed),
 * WD_EINVAL (clock > INT64_MAX), WD_EDB.
 */
WD_MUST_USE int wd_store_node_update_counters(struct wd_store *st, const char *name, uint64_t clock,
                                              uint32_t reset_count, uint32_t restart_count,
                                              int64_t now);

/* Delete a node (admin). Its entries, SVID records and deny entries stay. WD_ENOENT, WD_EDB. */
WD_MUST_USE int wd_store_node_delete(struct wd_store *st, const char *name);

void wd_store_node_cleanup(struct wd_store_node *n);
void wd_store_nodes_free(struct wd_store_node *v, size_t n);

/* ---- attestation sessions (single use, with a deadline) ---- */

struct wd_store_session {
    char id[WD_STORE_ID_LEN + 1];
    const char *node; /* owned; NULL when the node is not known yet (first contact) */
    uint8_t nonce[WD_STORE_NONCE_MAX];
    size_t nonce_len;
    const uint8_t
            *state; /* owned: opaque attestation state (e.g. a credential hash); may be NULL */
    size_t state_len;
    int64_t created_at;
    int64_t deadline; /* usable while now <= deadline */
};

/*
 * Create a session: the store generates its id (id_out, WD_STORE_ID_LEN hex chars + NUL).
 * node may be NULL; nonce is 1..WD_STORE_NONCE_MAX bytes; state (may be NULL with
 * state_len 0) at most WD_STORE_BLOB_MAX bytes; deadline >= now. WD_EINVAL, WD_ECRYPTO (RNG),
 * WD_EDB.
 */
WD_MUST_USE int wd_store_session_create(struct wd_store *st, const char *node, const uint8_t *nonce,
                                        size_t nonce_len, const uint8_t *state, size_t state_len,
                                        int64_t deadline, int64_t now,
                                        char id_out[WD_STORE_ID_LEN + 1]);

/*
 * Use session id once: atomically mark it used and return it in *out (owned;
 * wd_store_session_cleanup). Of concurrent calls on one id at most one succeeds.
 * WD_ENOENT (no such session), WD_EDENIED (already used: a replay), WD_EEXPIRED
 * (now > deadline; the session stays unusable), WD_EINVAL, WD_ENOMEM, WD_EDB.
 */
WD_MUST_USE int wd_store_session_consume(struct wd_store *st, const char *id, int64_t now,
                                         struct wd_store_session *out);

/* Delete sessions whose deadline is before `before`; *n_out (may be NULL) gets the count. */
WD_MUST_USE int wd_store_session_purge(struct wd_store *st, int64_t before, size_t *n_out);

void wd_store_session_cleanup(struct wd_store_session *s);

/* ---- join tokens (single use, expiring, stored as SHA-256 only) ---- */

struct wd_store_token {
    const char *node; /* owned; the node name the token was made for, or NULL */
    int64_t created_at;
    int64_t expires_at; /* usable while now <= expires_at */
};

/*
 * Store a join token: only SHA-256(token[0..len)) is written. token must be 16..1024
 * bytes (it should be random); node (may be NULL) binds the token to a node name.
 * WD_EEXIST (same token already stored), WD_EINVAL, WD_EDB.
 */
WD_MUST_USE int wd_store_token_create(struct wd_store *st, const uint8_t *token, size_t len,
                                      const char *node, int64_t expires_at, int64_t now);

/*
 * Use a join token once: atomically mark it used (at now) and return its record in *out
 * (owned; wd_store_token_cleanup; may be NULL when not wanted). Of concurrent calls with one
 * token exactly one succeeds. WD_ENOENT (unknown token), WD_EDENIED (already used),
 * WD_EEXPIRED (now > expires_at), WD_EINVAL, WD_ENOMEM, WD_EDB.
 */
WD_MUST_USE int wd_store_token_consume(struct wd_store *st, const uint8_t *token, size_t len,
                                       int64_t now, struct wd_store_token *out);

/* Delete tokens that expired before `before` (used or not); *n_out may be NULL. */
WD_MUST_USE int wd_store_token_purge(struct wd_store *st, int64_t before, size_t *n_out);

void wd_store_token_cleanup(struct wd_store_token *t);

/* ---- registration entries ---- */

/* Workload selectors; an absent selector matches anything. */
struct wd_store_selectors {
    bool has_uid;
    uint32_t uid;
    bool has_gid;
    uint32_t gid;
    const char *path; /* owned in results; absolute executable path, NULL = any */
    bool has_sha256;
    uint8_t sha256[WD_STORE_SHA256_LEN]; /* SHA-256 of the executable */
};

struct wd_store_entry {
    char id[WD_STORE_ID_LEN + 1]; /* store-generated */
    const char *spiffe_id;        /* owned */
    const char *node;             /* owned: the node whose agent may get this SVID */
    struct wd_store_selectors sel;
    int64_t ttl; /* SVID lifetime in seconds, 1..10 years */
    int64_t created_at;
};

/*
 * Create an entry from e's spiffe_id, node, sel and ttl (e->id and created_at are ignored);
 * the new id is written to id_out. (spiffe_id, node) is unique: WD_EEXIST. WD_EINVAL,
 * WD_ECRYPTO (RNG), WD_EDB.
 */
WD_MUST_USE int wd_store_entry_create(struct wd_store *st, const struct wd_store_entry *e,
                                      int64_t now, char id_out[WD_STORE_ID_LEN + 1]);

/* The entry with this id. *out owned (wd_store_entry_cleanup). WD_ENOENT, WD_ENOMEM, WD_EDB. */
WD_MUST_USE int wd_store_entry_get(struct wd_store *st, const char *id, struct wd_store_entry *out);

/*
 * Entries ordered by (spiffe_id, node, id): all of them when node is NULL, else those of
 * that node. *out owned (wd_store_entries_free). WD_ELIMIT beyond WD_STORE_LIST_MAX,
 * WD_ENOMEM, WD_EDB.
 */
WD_MUST_USE int wd_store_entry_list(struct wd_store *st, const char *node,
                                    struct wd_store_entry **out, size_t *n_out);

/* Delete an entry. WD_ENOENT, WD_EDB. */
WD_MUST_USE int wd_store_entry_delete(struct wd_store *st, const char *id);

void wd_store_entry_cleanup(struct wd_store_entry *e);
void wd_store_entries_free(struct wd_store_entry *v, size_t n);

/* ---- audit events ---- */

enum wd_audit_kind {
    WD_AUDIT_ATTESTATION,
    WD_AUDIT_ISSUANCE,
    WD_AUDIT_REFUSAL,
    WD_AUDIT_ADMIN,
};

/* "attestation", "issuance", "refusal", "admin"; NULL for other values. */
const char *wd_audit_kind_name(enum wd_audit_kind k);

struct wd_store_audit {
    int64_t id;      /* assigned by the store, increasing */
    int64_t time_ms; /* Unix milliseconds */
    enum wd_audit_kind kind;
    const char *actor;   /* owned in results; who acted (SPIFFE ID, "admin:<cn>"); may be NULL */
    const char *subject; /* owned; what it was about (node, SPIFFE ID, serial); may be NULL */
    const char *reason;  /* owned; a short machine-readable reason; may be NULL */
    const char *details; /* owned; a JSON document (not checked here); may be NULL */
};

/*
 * Append an event (its id field is ignored); *id_out (may be NULL) receives the new id.
 * WD_EINVAL, WD_EDB.
 */
WD_MUST_USE int wd_store_audit_append(struct wd_store *st, const struct wd_store_audit *ev,
                                      int64_t *id_out);

/*
 * Events with id > after_id, oldest first, at most limit (1..WD_STORE_LIST_MAX). *out owned
 * (wd_store_audits_free). WD_EINVAL, WD_ENOMEM, WD_EDB.
 */
WD_MUST_USE int wd_store_audit_list(struct wd_store *st, int64_t after_id, size_t limit,
                                    struct wd_store_audit **out, size_t *n_out);

void wd_store_audit_cleanup(struct wd_store_audit *ev);
void wd_store_audits_free(struct wd_store_audit *v, size_t n);

/* ---- issued SVIDs ---- */

struct wd_store_svid {
    uint8_t serial[WD_STORE_SERIAL_MAX]; /* the certificate serial's bytes; unique */
    size_t serial_len;                   /* 1..WD_STORE_SERIAL_MAX */
    const char *spiffe_id;               /* owned in results */
    const char *node;                    /* owned in results */
    char entry_id[WD_STORE_ID_LEN + 1];  /* "" for a node SVID */
    int64_t not_after;
    int64_t issued_at;
};

/*
 * Record an issued SVID and, when audit is not NULL, its audit event, in one transaction
 * (one commit, so one fsync on SQLite). WD_EEXIST when the serial is already recorded
 * (nothing is written), WD_EINVAL, WD_EDB.
 */
WD_MUST_USE int wd_store_svid_record(struct wd_store *st, const struct wd_store_svid *svid,
                                     const struct wd_store_audit *audit);

/*
 * Record n SVIDs (and audits[i] for each, when audits is not NULL; audits[i] may not be
 * NULL then) in one transaction: all or nothing. For group commit under load. WD_EEXIST if
 * any serial is already recorded (or repeats within v), WD_EINVAL, WD_EDB.
 */
WD_MUST_USE int wd_store_svid_record_batch(struct wd_store *st, const struct wd_store_svid *v,
                                           const struct wd_store_audit *audits, size_t n);

/* The SVID record with this serial. *out owned (wd_store_svid_cleanup). WD_ENOENT, WD_EDB. */
WD_MUST_USE int wd_store_svid_get(struct wd_store *st, const uint8_t *serial, size_t serial_len,
                                  struct wd_store_svid *out);

/* Number of SVID records. WD_EDB. */
WD_MUST_USE int wd_store_svid_count(struct wd_store *st, int64_t *out);

void wd_store_svid_cleanup(struct wd_store_svid *s);

/* ---- deny list (published to proxies; polled as "changes since sequence N") ---- */

enum wd_deny_kind {
    WD_DENY_SPIFFE_ID, /* subject is a SPIFFE ID */
    WD_DENY_NODE,      /* subject is a node name: every SVID whose claims name that node */
};

/* "spiffe_id", "node"; NULL for other values. */
const char *wd_deny_kind_name(enum wd_deny_kind k);

struct wd_store_deny {
    int64_t seq; /* the change's sequence number */
    enum wd_deny_kind kind;
    const char *subject; /* owned */
    const char *reason;  /* owned; as given when added (kept on removal) */
    int64_t time;        /* when the change was made */
    bool active;         /* true: denied; false: this change removed it */
};

/*
 * Put {kind, subject} on the deny list. Already there: nothing changes (idempotent).
 * Otherwise the change gets the next sequence number. Sequence numbers increase strictly
 * in commit order (writers serialise on one counter row), so a reader that has applied
 * every change up to N misses nothing by asking for changes after N; numbers may have gaps.
 * *seq_out (may be NULL) receives the current sequence. WD_EINVAL, WD_EDB.
 */
WD_MUST_USE int wd_store_deny_add(struct wd_store *st, enum wd_deny_kind kind, const char *subject,
                                  const char *reason, int64_t now, int64_t *seq_out);

/*
 * Take {kind, subject} off the deny list; the removal is itself a change with a new
 * sequence number (listed with active = false). WD_ENOENT when it is not on the list.
 */
WD_MUST_USE int wd_store_deny_remove(struct wd_store *st, enum wd_deny_kind kind,
                                     const char *subject, int64_t now, int64_t *seq_out);

/*
 * Changes with seq > since, in sequence order, at most limit (1..WD_STORE_LIST_MAX); one
 * row per subject (its latest change; an earlier change to a subject that changed again is
 * not repeated). *cursor_out (may be NULL) receives the sequence to pass as `since` next
 * time: everything up to it has been returned (the current sequence, or the last row's
 * when limit cut the list short). *out owned (wd_store_denies_free). WD_EINVAL, WD_ENOMEM,
 * WD_EDB.
 */
WD_MUST_USE int wd_store_deny_list_since(struct wd_store *st, int64_t since, size_t limit,
                                         struct wd_store_deny **out, size_t *n_out,
                                         int64_t *cursor_out);

void wd_store_deny_cleanup(struct wd_store_deny *d);
void wd_store_denies_free(struct wd_store_deny *v, size_t n);

#endif
