/*
 * The backend-independent store: URL parsing, the migration runner, the transaction runner
 * with bounded retry, and every operation of include/warden/store.h written once against
 * the query layer of store_int.h. Design notes: docs/internals/store.md.
 */
#include "warden/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/rand.h"

#include "store/store_int.h"

int wd_store_migrate_limit;

/* A PostgreSQL transaction that hit a serialization failure or deadlock is run again. */
#define STORE_TX_ATTEMPTS 10
/* Entry TTLs: one second to ten years. */
#define STORE_TTL_MAX (10LL * 366 * 86400)

/* ---- SQL ---- */

#define NODE_COLS                                                                     \
    "name, attestation, ek_hash, ak_pub, ak_name, clock, reset_count, restart_count," \
    " trusted, last_attested, pcr_policy, created_at, updated_at"
#define ENTRY_COLS "id, spiffe_id, node, sel_uid, sel_gid, sel_path, sel_sha256, ttl, created_at"
#define SVID_COLS  "serial, spiffe_id, node, entry_id, not_after, issued_at"
#define AUDIT_COLS "id, time_ms, kind, actor, subject, reason, details"

static const char *const sql_text[ST__COUNT] = {
        [ST_SV_MAX] = "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [ST_SV_INSERT] = "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",
        [ST_TD_INSERT] = "INSERT INTO trust_domain (id, name, bundle_seq, created_at)"
                         " VALUES (1, $1, 0, $2)",
        [ST_TD_GET] = "SELECT name, bundle_seq FROM trust_domain WHERE id = 1",
        [ST_TD_BUMP] = "UPDATE trust_domain SET bundle_seq = bundle_seq + 1 WHERE id = 1"
                       " RETURNING bundle_seq",
        [ST_CA_INSERT] = "INSERT INTO ca (cert_pem, key_ref, not_after, created_at)"
                         " VALUES ($1, $2, $3, $4) RETURNING id",
        [ST_CA_LIST] = "SELECT id, cert_pem, key_ref, not_after, created_at FROM ca"
                       " ORDER BY id LIMIT $1",
        /*
         * Insert, or replace the enrolment of a node of the same name only when the EK is
         * the same (or both have none); the WHERE makes a takeover by another TPM update no
         * row, and the UNIQUE ek_hash stops one EK from enrolling under two names. The
         * trusted flag of an existing node is left alone: wd_store_node_set_trusted changes
         * it together with the deny list.
         */
        [ST_NODE_UPSERT] =
                "INSERT INTO nodes (" NODE_COLS ") VALUES"
                " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)"
                " ON CONFLICT (name) DO UPDATE SET attestation = excluded.attestation,"
                " ak_pub = excluded.ak_pub, ak_name = excluded.ak_name, clock = excluded.clock,"
                " reset_count = excluded.reset_count, restart_count = excluded.restart_count,"
                " last_attested = excluded.last_attested, pcr_policy = excluded.pcr_policy,"
                " updated_at = excluded.updated_at"
                " WHERE nodes.ek_hash = excluded.ek_hash"
                " OR (nodes.ek_hash IS NULL AND excluded.ek_hash IS NULL)"
                " RETURNING name",
        [ST_NODE_GET] = "SELECT " NODE_COLS " FROM nodes WHERE name = $1",
        [ST_NODE_GET_EK] = "SELECT " NODE_COLS " FROM nodes WHERE ek_hash = $1",
        [ST_NODE_LIST] = "SELECT " NODE_COLS " FROM nodes ORDER BY name LIMIT $1",
        [ST_NODE_SET_TRUSTED] = "UPDATE nodes SET trusted = $2, updated_at = $3 WHERE name = $1"
                                " RETURNING name",
        /* Counters must move forward: (reset, restart, clock) compared in that order. */
        [ST_NODE_COUNTERS] =
                "UPDATE nodes SET clock = $2, reset_count = $3, restart_count = $4,"
                " last_attested = $5, updated_at = $5 WHERE name = $1 AND (reset_count < $3"
                " OR (reset_count = $3 AND (restart_count < $4"
                " OR (restart_count = $4 AND clock < $2)))) RETURNING name",
        [ST_NODE_EXISTS] = "SELECT name FROM nodes WHERE name = $1",
        [ST_NODE_DELETE] = "DELETE FROM nodes WHERE name = $1 RETURNING name",
        [ST_SESSION_INSERT] = "INSERT INTO sessions (id, node, nonce, state, created_at,"
                              " deadline, used) VALUES ($1, $2, $3, $4, $5, $6, 0)",
        /* Single use: of racing consumers, only the first UPDATE finds used = 0. */
        [ST_SESSION_CONSUME] = "UPDATE sessions SET used = 1 WHERE id = $1 AND used = 0"
                               " AND deadline >= $2"
                               " RETURNING node, nonce, state, created_at, deadline",
        [ST_SESSION_PEEK] = "SELECT used, deadline FROM sessions WHERE id = $1",
        [ST_SESSION_PURGE] = "DELETE FROM sessions WHERE deadline < $1 RETURNING deadline",
        [ST_TOKEN_INSERT] = "INSERT INTO join_tokens (hash, node, created_at, expires_at,"
                            " used_at) VALUES ($1, $2, $3, $4, NULL)",
        [ST_TOKEN_CONSUME] = "UPDATE join_tokens SET used_at = $2 WHERE hash = $1"
                             " AND used_at IS NULL AND expires_at >= $2"
                             " RETURNING node, created_at, expires_at",
        [ST_TOKEN_PEEK] = "SELECT used_at, expires_at FROM join_tokens WHERE hash = $1",
        [ST_TOKEN_PURGE] = "DELETE FROM join_tokens WHERE expires_at < $1 RETURNING expires_at",
        [ST_ENTRY_INSERT] = "INSERT INTO entries (" ENTRY_COLS ")"
                            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        [ST_ENTRY_GET] = "SELECT " ENTRY_COLS " FROM entries WHERE id = $1",
        [ST_ENTRY_LIST] = "SELECT " ENTRY_COLS " FROM entries ORDER BY spiffe_id, node, id"
                          " LIMIT $1",
        [ST_ENTRY_LIST_NODE] = "SELECT " ENTRY_COLS " FROM entries WHERE node = $1"
                               " ORDER BY spiffe_id, node, id LIMIT $2",
        [ST_ENTRY_DELETE] = "DELETE FROM entries WHERE id = $1 RETURNING id",
        [ST_SVID_INSERT] = "INSERT INTO svids (" SVID_COLS ") VALUES ($1, $2, $3, $4, $5, $6)",
        [ST_SVID_GET] = "SELECT " SVID_COLS " FROM svids WHERE serial = $1",
        [ST_SVID_COUNT] = "SELECT COUNT(*) FROM svids",
        /* Locks the counter row until commit: deny-list writers serialise here. */
        [ST_COUNTER_BUMP] = "UPDATE counters SET value = value + 1 WHERE name = $1"
                            " RETURNING value",
        [ST_COUNTER_GET] = "SELECT value FROM counters WHERE name = $1",
        [ST_DENY_GET] = "SELECT active FROM denylist WHERE kind = $1 AND subject = $2",
        [ST_DENY_UPSERT] = "INSERT INTO denylist (kind, subject, reason, changed_at, seq, active)"
                           " VALUES ($1, $2, $3, $4, $5, 1) ON CONFLICT (kind, subject)"
                           " DO UPDATE SET reason = excluded.reason,"
                           " changed_at = excluded.changed_at, seq = excluded.seq, active = 1",
        /* Removal updates the existing row (its reason is kept). */
        [ST_DENY_REMOVE] = "UPDATE denylist SET active = 0, seq = $3, changed_at = $4"
                           " WHERE kind = $1 AND subject = $2 AND active = 1 RETURNING seq",
        [ST_DENY_SINCE] = "SELECT seq, kind, subject, reason, changed_at, active FROM denylist"
                          " WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
        [ST_AUDIT_INSERT] = "INSERT INTO audit (time_ms, kind, actor, subject, reason, details)"
                            " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        [ST_AUDIT_LIST] = "SELECT " AUDIT_COLS " FROM audit WHERE id > $1 ORDER BY id LIMIT $2",
};

const char *wd_store_sql(enum store_stmt id)
{
    WD_BUG_ON((unsigned)id >= ST__COUNT || sql_text[id] == NULL);
    return sql_text[id];
}

/* ---- small helpers ---- */

static struct sp p_int(int64_t v)
{
    return (struct sp){.t = SP_INT, .i = v};
}

static struct sp p_text(const char *s)
{
    if (s == NULL) {
        return (struct sp){.t = SP_NULL};
    }
    return (struct sp){.t = SP_TEXT, .s = s};
}

static struct sp p_blob(const void *b, size_t n)
{
    if (b == NULL) {
        return (struct sp){.t = SP_NULL};
    }
    return (struct sp){.t = SP_BLOB, .b = b, .n = n};
}

/*
 * Whether s[0..n) is well-formed UTF-8 (RFC 3629 §4: no overlong forms, no surrogates,
 * nothing above U+10FFFF). PostgreSQL refuses anything else in a UTF8 database while SQLite
 * would store it; checking here makes both backends answer WD_EINVAL alike.
 */
static bool utf8_ok(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned lo = 0x80, hi = 0xbf;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            lo = c == 0xe0 ? 0xa0 : 0x80; /* overlong */
            hi = c == 0xed ? 0x9f : 0xbf; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            lo = c == 0xf0 ? 0x90 : 0x80; /* overlong */
            hi = c == 0xf4 ? 0x8f : 0xbf; /* above U+10FFFF */
        } else {
            return false;
        }
        if (n - i < len || s[i + 1] < lo || s[i + 1] > hi) {
            return false;
        }
        for (size_t k = 2; k < len; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xbf) {
                return false;
            }
        }
        i += len;
    }
    return true;
}

/* Required text: non-empty UTF-8, at most max bytes. */
static bool text_ok(const char *s, size_t max)
{
    size_t n;
    return s != NULL && s[0] != '\0' && (n = strnlen(s, max + 1)) <= max && utf8_ok(s, n);
}

/* Optional text: NULL, or UTF-8 of at most max bytes. */
static bool opt_text_ok(const char *s, size_t max)
{
    size_t n;
    return s == NULL || ((n = strnlen(s, max + 1)) <= max && utf8_ok(s, n));
}

int wd_store_fail(struct wd_store *st, int err, const char *what, const char *msg)
{
    size_t n = 0;
    if (msg == NULL) {
        msg = "";
    }
    while (msg[n] != '\0' && msg[n] != '\n') {
        n++;
    }
    (void)snprintf(st->err.msg, sizeof(st->err.msg), "%s: %.*s", what, (int)n, msg);
    return err;
}

/* Lower-case hex of 16 fresh random bytes: store-generated ids. */
static int new_id(char out[WD_STORE_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t raw[WD_STORE_ID_LEN / 2];
    WD_TRY(wd_rand_bytes(raw, sizeof(raw)));
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[WD_STORE_ID_LEN] = '\0';
    return WD_OK;
}

/* Stored ids are exactly WD_STORE_ID_LEN lower-case hex characters. */
static bool id_ok(const char *id)
{
    if (id == NULL || strnlen(id, WD_STORE_ID_LEN + 1) != WD_STORE_ID_LEN) {
        return false;
    }
    for (size_t i = 0; i < WD_STORE_ID_LEN; i++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

/* Join tokens are looked up and stored by SHA-256 only (docs/internals/store.md). */
static int token_hash(const uint8_t *token, size_t len, uint8_t out[WD_STORE_SHA256_LEN])
{
    unsigned int n = 0;
    if (EVP_Digest(token, len, out, &n, EVP_sha256(), NULL) != 1 || n != WD_STORE_SHA256_LEN) {
        return WD_ECRYPTO;
    }
    return WD_OK;
}

/* ---- query layer shorthands ---- */

static int q(struct wd_store *st, enum store_stmt id, const struct sp *p, size_t n)
{
    WD_BUG_ON(n > STORE_MAX_PARAMS);
    return st->be->query(st, id, p, n);
}

static int q_next(struct wd_store *st)
{
    return st->be->next(st);
}

static void q_done(struct wd_store *st)
{
    st->be->done(st);
}

/* Step to the end of the current statement (SQLite commits an autocommit write there). */
static int q_drain(struct wd_store *st)
{
    int rc;
    while ((rc = q_next(st)) > 0) {
    }
    return rc;
}

/* Run a statement whose rows (if any) do not matter. */
static int q_exec(struct wd_store *st, enum store_stmt id, const struct sp *p, size_t n)
{
    int rc = q(st, id, p, n);
    if (rc == WD_OK) {
        rc = q_drain(st);
    }
    q_done(st);
    return rc;
}

/*
 * Run a statement expected to give at most one row whose first column is an integer:
 * WD_OK with *out set, or WD_ENOENT when there is no row.
 */
static int q_int(struct wd_store *st, enum store_stmt id, const struct sp *p, size_t n,
                 int64_t *out)
{
    int64_t v = 0;
    int rc = q(st, id, p, n);
    if (rc == WD_OK) {
        rc = q_next(st);
        if (rc > 0) {
            v = st->be->col_int(st, 0);
            rc = q_drain(st);
            if (rc == WD_OK) {
                *out = v;
            }
        } else if (rc == 0) {
            rc = WD_ENOENT;
        }
    }
    q_done(st);
    return rc;
}

/* Run a statement: WD_OK when it yields at least one row, else WD_ENOENT. */
static int q_found(struct wd_store *st, enum store_stmt id, const struct sp *p, size_t n)
{
    int rc = q(st, id, p, n);
    if (rc == WD_OK) {
        rc = q_next(st);
        if (rc == 0) {
            rc = WD_ENOENT;
        } else if (rc > 0) {
            rc = q_drain(st);
        }
    }
    q_done(st);
    return rc;
}

static bool col_null(struct wd_store *st, int c)
{
    return st->be->is_null(st, c);
}

static int64_t col_int(struct wd_store *st, int c)
{
    return st->be->col_int(st, c);
}

/* An owned copy of a text column; NULL for SQL NULL. */
static int col_str(struct wd_store *st, int c, const char **out)
{
    *out = NULL;
    if (col_null(st, c)) {
        return WD_OK;
    }
    *out = wd_strdup(st->be->col_text(st, c));
    return *out != NULL ? WD_OK : WD_ENOMEM;
}

/* Result records hold owned data behind const pointers (they double as inputs). */
static void free_owned(const void *p)
{
    wd_free((void *)(uintptr_t)p);
}

/* An owned copy of a blob column; NULL/0 for SQL NULL. */
static int col_bytes(struct wd_store *st, int c, const uint8_t **out, size_t *len)
{
    size_t n = 0;
    const uint8_t *p;
    uint8_t *copy;
    *out = NULL;
    *len = 0;
    if (col_null(st, c)) {
        return WD_OK;
    }
    p = st->be->col_blob(st, c, &n);
    copy = wd_malloc(n);
    if (copy == NULL) {
        return WD_ENOMEM;
    }
    if (n > 0) {
        memcpy(copy, p, n);
    }
    *out = copy;
    *len = n;
    return WD_OK;
}

/* A blob column into a fixed buffer; WD_EDB when it does not fit (a corrupt row). */
static int col_fixed(struct wd_store *st, int c, uint8_t *dst, size_t cap, size_t *len)
{
    size_t n = 0;
    const uint8_t *p = st->be->col_blob(st, c, &n);
    if (n > cap) {
        return wd_store_fail(st, WD_EDB, "store", "stored value larger than its field");
    }
    if (n > 0) {
        memcpy(dst, p, n);
    }
    *len = n;
    return WD_OK;
}

/* Grow *v (elements of size sz) to hold at least one more than *n. */
static int grow(void **v, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap) {
        return WD_OK;
    }
    size_t ncap = *cap == 0 ? 8 : *cap * 2;
    void *p = wd_reallocarray(*v, ncap, sz);
    if (p == NULL) {
        return WD_ENOMEM;
    }
    memset((char *)p + *cap * sz, 0, (ncap - *cap) * sz);
    *v = p;
    *cap = ncap;
    return WD_OK;
}

/*
 * The transaction runner: begin, body, commit; roll back on any error; run the whole thing
 * again when the backend flagged a transient conflict (PostgreSQL 40001 / 40P01). Bodies
 * only write scalar out-parameters, so running them twice leaks nothing.
 */
typedef int (*store_tx_fn)(struct wd_store *st, void *arg);

static void backoff(unsigned attempt)
{
    uint8_t r = 0;
    if (wd_rand_bytes(&r, 1) != WD_OK) {
        r = 0;
    }
    long ms = (1L << (attempt < 6 ? attempt : 6)) + r % 8;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
    (void)nanosleep(&ts, NULL);
}

static int store_tx(struct wd_store *st, store_tx_fn fn, void *arg)
{
    int rc;
    for (unsigned attempt = 0;; attempt++) {
        st->retry = false;
        rc = st->be->exec(st, st->be->begin_sql);
        if (rc == WD_OK) {
            rc = fn(st, arg);
            if (rc == WD_OK) {
                rc = st->be->exec(st, "COMMIT");
            }
            if (rc != WD_OK) {
                bool retry = st->retry;
                struct wd_diag saved = st->err;
                (void)st->be->exec(st, "ROLLBACK");
                st->retry = retry;
                st->err = saved;
            }
        }
        if (rc == WD_OK || !st->retry || attempt + 1 >= STORE_TX_ATTEMPTS) {
            return rc;
        }
        backoff(attempt);
    }
}

/* ---- URL parsing ---- */

static int parse_sqlite_opts(char *q, struct store_opts *o, struct wd_diag *diag)
{
    bool seen_sync = false, seen_busy = false;
    while (q != NULL && *q != '\0') {
        char *amp = strchr(q, '&');
        if (amp != NULL) {
            *amp = '\0';
        }
        char *eq = strchr(q, '=');
        if (eq == NULL) {
            return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "store URL: option '%s' needs a value",
                               q);
        }
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(q, "sync") == 0 && !seen_sync) {
            seen_sync = true;
            if (strcmp(v, "full") == 0) {
                o->sync_normal = false;
            } else if (strcmp(v, "normal") == 0) {
                o->sync_normal = true;
            } else {
                return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0,
                                   "store URL: sync must be full or normal");
            }
        } else if (strcmp(q, "busy_timeout") == 0 && !seen_busy) {
            char *end = NULL;
            seen_busy = true;
            unsigned long ms = strtoul(v, &end, 10);
            if (v[0] < '0' || v[0] > '9' || *end != '\0' || ms > 600000) {
                return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0,
                                   "store URL: busy_timeout must be 0..600000 (ms)");
            }
            o->busy_timeout_ms = (unsigned)ms;
        } else {
            return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0,
                               "store URL: unknown or repeated option '%s'", q);
        }
        q = amp != NULL ? amp + 1 : NULL;
    }
    return WD_OK;
}

/*
 * Split url into a backend, its target (owned: a path or the libpq URI) and options.
 * A leading "word:" that is not a known scheme is refused rather than taken as a path, so
 * "mysql://..." cannot silently become a SQLite file.
 */
int wd_store_parse_url(const char *url, const struct store_backend **be, char **target,
                       struct store_opts *o, struct wd_diag *diag)
{
    *o = (struct store_opts){.sync_normal = false, .busy_timeout_ms = 5000};
    *be = &wd_store_sqlite_backend;
    *target = NULL;
    if (url == NULL || url[0] == '\0') {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "store URL is empty");
    }
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
        *be = &wd_store_pg_backend;
        *target = wd_strdup(url);
        return *target != NULL ? WD_OK : WD_ENOMEM;
    }
    if (strncmp(url, "sqlite:", 7) == 0) {
        const char *rest = url + 7;
        if (strncmp(rest, "//", 2) == 0) {
            rest += 2;
        }
        const char *qm = strchr(rest, '?');
        size_t plen = qm != NULL ? (size_t)(qm - rest) : strlen(rest);
        if (plen == 0) {
            return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "store URL: no SQLite file path");
        }
        if (qm != NULL) {
            char *opts = wd_strdup(qm + 1);
            if (opts == NULL) {
                return WD_ENOMEM;
            }
            int rc = parse_sqlite_opts(opts, o, diag);
            wd_free(opts);
            WD_TRY(rc);
        }
        *be = &wd_store_sqlite_backend;
        *target = wd_strndup(rest, plen);
        return *target != NULL ? WD_OK : WD_ENOMEM;
    }
    /* An RFC 3986 scheme prefix (ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"). */
    size_t i = 0;
    if ((url[0] >= 'a' && url[0] <= 'z') || (url[0] >= 'A' && url[0] <= 'Z')) {
        i = 1;
        while ((url[i] >= 'a' && url[i] <= 'z') || (url[i] >= 'A' && url[i] <= 'Z')
               || (url[i] >= '0' && url[i] <= '9') || url[i] == '+' || url[i] == '-'
               || url[i] == '.') {
            i++;
        }
        if (url[i] == ':') {
            return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0,
                               "store URL: unknown scheme '%.*s' (use sqlite: or postgresql:)",
                               (int)WD_MIN(i, 32), url);
        }
    }
    *be = &wd_store_sqlite_backend;
    *target = wd_strdup(url);
    return *target != NULL ? WD_OK : WD_ENOMEM;
}

/* ---- migrations ---- */

struct migrate_arg {
    int target;
    int found;
};

static int migrate_body(struct wd_store *st, void *varg)
{
    struct migrate_arg *a = varg;
    int64_t cur = 0;
    int rc;
    if (st->be->migrate_lock != NULL) {
        WD_TRY(st->be->exec(st, st->be->migrate_lock));
    }
    WD_TRY(st->be->exec(st, "CREATE TABLE IF NOT EXISTS schema_version ("
                            " version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"));
    rc = q_int(st, ST_SV_MAX, NULL, 0, &cur);
    if (rc == WD_ENOENT) {
        rc = wd_store_fail(st, WD_EDB, "schema", "cannot read schema_version");
    }
    WD_TRY(rc);
    a->found = (int)cur;
    if (cur > WD_STORE_SCHEMA_VERSION) {
        (void)snprintf(st->err.msg, sizeof(st->err.msg),
                       "database schema version %lld is newer than this warden knows (%d);"
                       " upgrade warden",
                       (long long)cur, WD_STORE_SCHEMA_VERSION);
        return WD_EDB;
    }
    for (int v = (int)cur + 1; v <= a->target; v++) {
        struct sp p[2] = {p_int(v), p_int(wd_time_now())};
        WD_TRY(st->be->exec(st, st->be->migrations[v - 1]));
        WD_TRY(q_exec(st, ST_SV_INSERT, p, 2));
    }
    return WD_OK;
}

static int migrate(struct wd_store *st, struct wd_diag *diag)
{
    struct migrate_arg a = {.target = WD_STORE_SCHEMA_VERSION};
    if (wd_store_migrate_limit > 0 && wd_store_migrate_limit < a.target) {
        a.target = wd_store_migrate_limit;
    }
    int rc = store_tx(st, migrate_body, &a);
    if (rc != WD_OK && rc != WD_ENOMEM) {
        return wd_diag_set(diag, rc, NULL, 0, 0, "store: migration failed: %s", st->err.msg);
    }
    return rc;
}

/* ---- open / close ---- */

int wd_store_open(const char *url, struct wd_store **out, struct wd_diag *diag)
{
    const struct store_backend *be = NULL;
    struct store_opts o;
    char *target = NULL;
    struct wd_store *st = NULL;
    int rc;

    WD_ENSURE(out != NULL, WD_EINVAL);
    WD_CHECK(wd_store_parse_url(url, &be, &target, &o, diag));
    st = wd_calloc(1, sizeof(*st));
    if (st == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    st->be = be;
    rc = be->open(st, target, &o, diag);
    if (rc != WD_OK) {
        WD_FREE(st);
        goto out;
    }
    WD_CHECK(migrate(st, diag));
    *out = st;
    st = NULL;
out:
    wd_store_close(st);
    wd_free(target);
    return rc;
}

void wd_store_close(struct wd_store *st)
{
    if (st == NULL) {
        return;
    }
    st->be->close(st);
    wd_free(st);
}

const char *wd_store_backend(const struct wd_store *st)
{
    return st->be->name;
}

const char *wd_store_error(const struct wd_store *st)
{
    return st->err.msg;
}

int wd_store_schema_version(struct wd_store *st, int *out)
{
    int64_t v = 0;
    int rc = q_int(st, ST_SV_MAX, NULL, 0, &v);
    if (rc == WD_OK) {
        *out = (int)v;
    }
    return rc == WD_ENOENT ? WD_EDB : rc;
}

int wd_store_check(struct wd_store *st)
{
    st->err.msg[0] = '\0';
    return st->be->check(st);
}

/* ---- trust domain and CA ---- */

int wd_store_td_init(struct wd_store *st, const char *name, int64_t now)
{
    WD_ENSURE(text_ok(name, WD_STORE_TEXT_MAX), WD_EINVAL);
    struct sp p[2] = {p_text(name), p_int(now)};
    return q_exec(st, ST_TD_INSERT, p, 2);
}

int wd_store_td_get(struct wd_store *st, char **name_out, int64_t *bundle_seq)
{
    const char *name = NULL;
    int64_t seq = 0;
    int rc = q(st, ST_TD_GET, NULL, 0);
    if (rc == WD_OK) {
        rc = q_next(st);
        if (rc == 0) {
            rc = WD_ENOENT;
        } else if (rc > 0) {
            seq = col_int(st, 1);
            rc = col_str(st, 0, &name);
            if (rc == WD_OK) {
                rc = q_drain(st);
            }
        }
    }
    q_done(st);
    if (rc == WD_OK) {
        *name_out = (char *)(uintptr_t)name;
        *bundle_seq = seq;
    } else {
        free_owned(name);
    }
    return rc;
}

struct ca_add_arg {
    const char *pem, *key_ref;
    int64_t not_after, now, id, seq;
};

static int ca_add_body(struct wd_store *st, void *varg)
{
    struct ca_add_arg *a = varg;
    struct sp p[4] = {p_text(a->pem), p_text(a->key_ref), p_int(a->not_after), p_int(a->now)};
    WD_TRY(q_int(st, ST_TD_BUMP, NULL, 0, &a->seq));
    return q_int(st, ST_CA_INSERT, p, 4, &a->id);
}

int wd_store_ca_add(struct wd_store *st, const char *cert_pem, const char *key_ref,
                    int64_t not_after, int64_t now, int64_t *id_out, int64_t *seq_out)
{
    WD_ENSURE(text_ok(cert_pem, WD_STORE_DOC_MAX), WD_EINVAL);
    WD_ENSURE(opt_text_ok(key_ref, WD_STORE_TEXT_MAX), WD_EINVAL);
    struct ca_add_arg a = {.pem = cert_pem, .key_ref = key_ref, .not_after = not_after, .now = now};
    WD_TRY(store_tx(st, ca_add_body, &a));
    if (id_out != NULL) {
        *id_out = a.id;
    }
    if (seq_out != NULL) {
        *seq_out = a.seq;
    }
    return WD_OK;
}

void wd_store_ca_cleanup(struct wd_store_ca *ca)
{
    if (ca == NULL) {
        return;
    }
    free_owned(ca->cert_pem);
    free_owned(ca->key_ref);
    memset(ca, 0, sizeof(*ca));
}

void wd_store_cas_free(struct wd_store_ca *v, size_t n)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        wd_store_ca_cleanup(&v[i]);
    }
    wd_free(v);
}

int wd_store_ca_list(struct wd_store *st, struct wd_store_ca **out, size_t *n_out)
{
    struct wd_store_ca *v = NULL;
    size_t n = 0, cap = 0;
    struct sp p[1] = {p_int((int64_t)WD_STORE_LIST_MAX + 1)};
    int rc = q(st, ST_CA_LIST, p, 1);
    while (rc == WD_OK && (rc = q_next(st)) > 0) {
        rc = n >= WD_STORE_LIST_MAX ? WD_ELIMIT : grow((void **)&v, &cap, n, sizeof(*v));
        if (rc != WD_OK) {
            break;
        }
        struct wd_store_ca *c = &v[n++];
        c->id = col_int(st, 0);
        c->not_after = col_int(st, 3);
        c->created_at = col_int(st, 4);
        rc = col_str(st, 1, &c->cert_pem);
        if (rc == WD_OK) {
            rc = col_str(st, 2, &c->key_ref);
        }
    }
    q_done(st);
    if (rc < 0) {
        wd_store_cas_free(v, n);
        return rc;
    }
    *out = v;
    *n_out = n;
    return WD_OK;
}

/* ---- nodes ---- */

void wd_store_node_cleanup(struct wd_store_node *n)
{
    if (n == NULL) {
        return;
    }
    free_owned(n->name);
    free_owned(n->attestation);
    free_owned(n->ak_pub);
    free_owned(n->ak_name);
    free_owned(n->pcr_policy);
    memset(n, 0, sizeof(*n));
}

void wd_store_nodes_free(struct wd_store_node *v, size_t n)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        wd_store_node_cleanup(&v[i]);
    }
    wd_free(v);
}

/* Fill *n from the current row of a NODE_COLS query; on error *n is cleaned up. */
static int node_from_row(struct wd_store *st, struct wd_store_node *n)
{
    size_t eklen = 0;
    int rc;
    memset(n, 0, sizeof(*n));
    n->clock = (uint64_t)col_int(st, 5);
    n->reset_count = (uint32_t)col_int(st, 6);
    n->restart_count = (uint32_t)col_int(st, 7);
    n->trusted = col_int(st, 8) != 0;
    n->last_attested = col_int(st, 9);
    n->created_at = col_int(st, 11);
    n->updated_at = col_int(st, 12);
    WD_CHECK(col_str(st, 0, &n->name));
    WD_CHECK(col_str(st, 1, &n->attestation));
    if (!col_null(st, 2)) {
        WD_CHECK(col_fixed(st, 2, n->ek_hash, sizeof(n->ek_hash), &eklen));
        n->has_ek_hash = true;
    }
    WD_CHECK(col_bytes(st, 3, &n->ak_pub, &n->ak_pub_len));
    WD_CHECK(col_bytes(st, 4, &n->ak_name, &n->ak_name_len));
    WD_CHECK(col_str(st, 10, &n->pcr_policy));
out:
    if (rc != WD_OK) {
        wd_store_node_cleanup(n);
    }
    return rc;
}

int wd_store_node_upsert(struct wd_store *st, const struct wd_store_node *n, int64_t now)
{
    int rc;
    WD_ENSURE(n != NULL && text_ok(n->name, WD_STORE_NAME_MAX), WD_EINVAL);
    WD_ENSURE(text_ok(n->attestation, WD_STORE_NAME_MAX), WD_EINVAL);
    WD_ENSURE(opt_text_ok(n->pcr_policy, WD_STORE_TEXT_MAX), WD_EINVAL);
    WD_ENSURE(n->ak_pub_len <= WD_STORE_BLOB_MAX && n->ak_name_len <= WD_STORE_BLOB_MAX, WD_EINVAL);
    WD_ENSURE((n->ak_pub != NULL || n->ak_pub_len == 0)
                      && (n->ak_name != NULL || n->ak_name_len == 0),
              WD_EINVAL);
    WD_ENSURE(n->clock <= (uint64_t)INT64_MAX, WD_EINVAL);
    struct sp p[12] = {
            p_text(n->name),
            p_text(n->attestation),
            n->has_ek_hash ? p_blob(n->ek_hash, sizeof(n->ek_hash)) : p_blob(NULL, 0),
            p_blob(n->ak_pub, n->ak_pub_len),
            p_blob(n->ak_name, n->ak_name_len),
            p_int((int64_t)n->clock),
            p_int(n->reset_count),
            p_int(n->restart_count),
            p_int(n->trusted ? 1 : 0),
            p_int(n->last_attested),
            p_text(n->pcr_policy),
            p_int(now),
    };
    rc = q(st, ST_NODE_UPSERT, p, 12);
    if (rc == WD_OK) {
        rc = q_next(st);
        if (rc == 0) {
            rc = wd_store_fail(st, WD_EEXIST, "node",
                               "the name is enrolled with a different endorsement key");
        } else if (rc > 0) {
            rc = q_drain(st);
        }
    }
    q_done(st);
    return rc;
}

static int node_get_one(struct wd_store *st, enum store_stmt id, struct sp key,
                        struct wd_store_node *out)
{
    struct wd_store_node n;
    memset(&n, 0, sizeof(n));
    int rc = q(st, id, &key, 1);
    if (rc == WD_OK) {
        rc = q_next(st);
        if (rc == 0) {
            rc = WD_ENOENT;
        } else if (rc > 0) {
            rc = node_from_row(st, &n);
            if (rc == WD_OK) {
                rc = q_drain(st);
                if (rc != WD_OK) {
                    wd_store_node_cleanup(&n);
                }
            }
        }
    }
    q_done(st);
    if (rc == WD_OK) {
        *out = n;
    }
    return rc;
}

int wd_store_node_get(struct wd_store *st, const char *name, struct wd_store_node *out)
{
    WD_ENSURE(text_ok(name, WD_STORE_NAME_MAX) && out != NULL, WD_EINVAL);
    return node_get_one(st, ST_NODE_GET, p_text(name), out);
}

int wd_store_node_get_by_ek(struct wd_store *st, const uint8_t ek_hash[WD_STORE_SHA256_LEN],
                            struct wd_store_node *out)
{
    WD_ENSURE(ek_hash != NULL && out != NULL, WD_EINVAL);
    return node_get_one(st, ST_NODE_GET_EK, p_blob(ek_hash, WD_STORE_SHA256_LEN), out);
}

int wd_store_node_list(struct wd_store *st, struct wd_store_node **out, size_t *n_out)
{
    struct wd_store_node *v = NULL;
    size_t n = 0, cap = 0;
    struct sp p[1] = {p_int((int64_t)WD_STORE_LIST_MAX + 1)};
    int rc = q(st, ST_NODE_LIST, p, 1);
    while (rc == WD_OK && (rc = q_next(st)) > 0) {
        rc = n >= WD_STORE_LIST_MAX ? WD_ELIMIT : grow((void **)&v, &cap, n, sizeof(*v));
        if (rc == WD_OK) {
            rc = node_from_row(st, &v[n]);
        }
        if (rc != WD_OK) {
            break;
        }
        n++;
    }
    q_done(st);
    if (rc < 0) {
        wd_store_nodes_free(v, n);
        return rc;
    }
    *out = v;
    *n_out = n;
    return WD_OK;
}

/* ---- deny list (transaction bodies shared with wd_store_node_set_trusted) ---- */

static const char *const deny_kind_names[] = {
        [WD_DENY_SPIFFE_ID] = "spiffe_id",
        [WD_DENY_NODE] = "node",
};

const char *wd_deny_kind_name(enum wd_deny_kind k)
{
    if ((unsigned)k >= WD_ARRAY_LEN(deny_kind_names)) {
        return NULL;
    }
    return deny_kind_names[k];
}

/* Whether {kind, subject} is currently denied. */
static int deny_active(struct wd_store *st, const char *kind, const char *subject, bool *active)
{
    int64_t v = 0;
    struct sp p[2] = {p_text(kind), p_text(subject)};
    int rc = q_int(st, ST_DENY_GET, p, 2, &v);
    if (rc == WD_ENOENT) {
        *active = false;
        return WD_OK;
    }
    WD_TRY(rc);
    *active = v != 0;
    return WD_OK;
}

static int counter_get(struct wd_store *st, int64_t *out)
{
    struct sp p[1] = {p_text("denylist")};
    int rc = q_int(st, ST_COUNTER_GET, p, 1, out);
    return rc == WD_ENOENT ? wd_store_fail(st, WD_EDB, "denylist", "counter row missing") : rc;
}

static int counter_bump(struct wd_store *st, int64_t *out)
{
    struct sp p[1] = {p_text("denylist")};
    int rc = q_int(st, ST_COUNTER_BUMP, p, 1, out);
    return rc == WD_ENOENT ? wd_store_fail(st, WD_EDB, "denylist", "counter row missing") : rc;
}

/* Inside a transaction: deny {kind, subject} unless it already is. */
static int deny_add_tx(struct wd_store *st, const char *kind, const char *subject,
                       const char *reason, int64_t now, int64_t *seq)
{
    bool active = false;
    WD_TRY(deny_active(st, kind, subject, &active));
    if (active) {
        return counter_get(st, seq);
    }
    WD_TRY(counter_bump(st, seq));
    struct sp p[5] = {p_text(kind), p_text(subject), p_text(reason), p_int(now), p_int(*seq)};
    return q_exec(st, ST_DENY_UPSERT, p, 5);
}

/*
 * Inside a transaction: lift {kind, subject}. When it is not denied: WD_ENOENT if
 * must_exist, else success without a change.
 */
static int deny_remove_tx(struct wd_store *st, const char *kind, const char *subject, int64_t now,
                          bool must_exist, int64_t *seq)
{
    bool active = false;
    int64_t removed = 0;
    WD_TRY(deny_active(st, kind, subject, &active));
    if (!active) {
        if (must_exist) {
            return WD_ENOENT;
        }
        return counter_get(st, seq);
    }
    WD_TRY(counter_bump(st, seq));
    struct sp p[4] = {p_text(kind), p_text(subject), p_int(*seq), p_int(now)};
    int rc = q_int(st, ST_DENY_REMOVE, p, 4, &removed);
    /* Between the check and the counter lock another replica may have lifted it. */
    if (rc == WD_ENOENT && !must_exist) {
        return WD_OK;
    }
    return rc;
}

/* ---- nodes (continued) ---- */

struct trust_arg {
    const char *name, *reason;
    bool trusted;
    int64_t now, seq;
};

static int set_trusted_body(struct wd_store *st, void *varg)
{
    struct trust_arg *a = varg;
    struct sp p[3] = {p_text(a->name), p_int(a->trusted ? 1 : 0), p_int(a->now)};
    WD_TRY(q_found(st, ST_NODE_SET_TRUSTED, p, 3));
    if (a->trusted) {
        return deny_remove_tx(st, "node", a->name, a->now, false, &a->seq);
    }
    return deny_add_tx(st, "node", a->name, a->reason, a->now, &a->seq);
}

int wd_store_node_set_trusted(struct wd_store *st, const char *name, bool trusted,
                              const char *reason, int64_t now, int64_t *seq_out)
{
    WD_ENSURE(text_ok(name, WD_STORE_NAME_MAX), WD_EINVAL);
    WD_ENSURE(trusted || text_ok(reason, WD_STORE_TEXT_MAX), WD_EINVAL);
    struct trust_arg a = {.name = name, .reason = reason, .trusted = trusted, .now = now};
    WD_TRY(store_tx(st, set_trusted_body, &a));
    if (seq_out != NULL) {
        *seq_out = a.seq;
    }
    return WD_OK;
}

int wd_store_node_update_counters(struct wd_store *st, const char *name, uint64_t clock,
                                  uint32_t reset_count, uint32_t restart_count, int64_t now)
{
    WD_ENSURE(text_ok(name, WD_STORE_NAME_MAX), WD_EINVAL);
    WD_ENSURE(clock <= (uint64_t)INT64_MAX, WD_EINVAL);
    struct sp p[5] = {p_text(name), p_int((int64_t)clock), p_int(reset_count), p_int(restart_count),
                      p_int(now)};
    int rc = q_found(st, ST_NODE_COUNTERS, p, 5);
    if (rc != WD_ENOENT) {
        return rc;
    }
    /* No row was updated: either there is no such node or the counters went backwards. */
    rc = q_found(st, ST_NODE_EXISTS, p, 1);
    return rc == WD_OK ? WD_EDENIED : rc;
}

int wd_store_node_delete(struct wd_store *st, const char *name)
{
    WD_ENSURE(text_ok(name, WD_STORE_NAME_MAX), WD_EINVAL);
    struct sp p[1] = {p_text(name)};
    return q_found(st, ST_NODE_DELETE, p, 1);
}

/* ---- attestation sessions ---- */

void wd_store_session_cleanup(struct wd_store_session *s)
{
    if (s == NULL) {
        return;
    }
    free_owned(s->node);
    free_owned(s->state);
    memset(s, 0, sizeof(*s));
}

int wd_store_session_create(struct wd_store *st, const char *node, const uint8_t *nonce,
                            size_t nonce_len, const uint8_t *state, size_t state_len,
                            int64_t deadline, int64_t now, char id_out[WD_STORE_ID_LEN + 1])
{
    char id[WD_STORE_ID_LEN + 1];
    WD_ENSURE(node == NULL || text_ok(node, WD_STORE_NAME_MAX), WD_EINVAL);
    WD_ENSURE(nonce != NULL && nonce_len >= 1 && nonce_len <= WD_STORE_NONCE_MAX, WD_EINVAL);
    WD_ENSURE((state != NULL || state_len == 0) && state_len <= WD_STORE_BLOB_MAX, WD_EINVAL);
    WD_ENSURE(deadline >= now && id_out != NULL, WD_EINVAL);
    WD_TRY(new_id(id));
    struct sp p[6] = {
            p_text(id), p_text(node),   p_blob(nonce, nonce_len), p_blob(state, state_len),
            p_int(now), p_int(deadline)};
    WD_TRY(q_exec(st, ST_SESSION_INSERT, p, 6));
    memcpy(id_out, id, sizeof(id));
    return WD_OK;
}

/*
 * Why a single-use UPDATE matched no row: the row is gone (WD_ENOENT), used (WD_EDENIED)
 * or past its end (WD_EEXPIRED). State only moves forward (unused -> used), so what the
 * second look sees explains the failed first one.
 */
static int why_unusable(struct wd_store *st, enum store_stmt peek, struct sp key, int64_t now)
{
    int rc = q(st, peek, &key, 1);
    if (rc == WD_OK) {
        rc = q_next(st);
        if (rc == 0) {
            rc = WD_ENOENT;
        } else if (rc > 0) {
            bool used = !col_null(st, 0) && col_int(st, 0) != 0;
            int64_t end = col_int(st, 1);
            rc = q_drain(st);
            if (rc == WD_OK) {
                rc = used ? WD_EDENIED : now > end ? WD_EEXPIRED : WD_ENOENT;
            }
        }
    }
    q_done(st);
    return rc;
}

int wd_store_session_consume(struct wd_store *st, const char *id, int64_t now,
                             struct wd_store_session *out)
{
    struct wd_store_session s;
    bool got = false;
    int rc;
    WD_ENSURE(out != NULL, WD_EINVAL);
    if (!id_ok(id)) {
        return WD_ENOENT;
    }
    memset(&s, 0, sizeof(s));
    struct sp p[2] = {p_text(id), p_int(now)};
    rc = q(st, ST_SESSION_CONSUME, p, 2);
    if (rc == WD_OK) {
        rc = q_next(st);
        if (rc > 0) {
            got = true;
            memcpy(s.id, id, WD_STORE_ID_LEN + 1);
            s.created_at = col_int(st, 3);
            s.deadline = col_int(st, 4);
            rc = col_str(st, 0, &s.node);
            if (rc == WD_OK) {
                rc = col_fixed(st, 1, s.nonce, sizeof(s.nonce), &s.nonce_len);
            }
            if (rc == WD_OK) {
                rc = col_bytes(st, 2, &s.state, &s.state_len);
            }
            if (rc == WD_OK) {
                rc = q_drain(st);
            }
        }
    }
    q_done(st);
    if (rc != WD_OK) {
        wd_store_session_cleanup(&s);
        return rc;
    }
    if (!got) {
        return why_unusable(st, ST_SESSION_PEEK, p_text(id), now);
    }
    *out = s;
    return WD_OK;
}

/* Run a DELETE ... RETURNING and count its rows. */
static int q_count_rows(struct wd_store *st, enum store_stmt id, int64_t before, size_t *n_out)
{
    size_t n = 0;
    struct sp p[1] = {p_int(before)};
    int rc = q(st, id, p, 1);
    while (rc == WD_OK && (rc = q_next(st)) > 0) {
        n++;
        rc = WD_OK;
    }
    q_done(st);
    WD_TRY(rc);
    if (n_out != NULL) {
        *n_out = n;
    }
    return WD_OK;
}

int wd_store_session_purge(struct wd_store *st, int64_t before, size_t *n_out)
{
    return q_count_rows(st, ST_SESSION_PURGE, before, n_out);
}

/* ---- join tokens ---- */

#define TOKEN_MIN 16u
#define TOKEN_MAX 1024u

void wd_store_token_cleanup(struct wd_store_token *t)
{
    if (t == NULL) {
        return;
    }
    free_owned(t->node);
    memset(t, 0, sizeof(*t));
}

int wd_store_token_create(struct wd_store *st, const uint8_t *token, size_t len, const char *node,
                          int64_t expires_at, int64_t now)
{
    uint8_t h[WD_STORE_SHA256_LEN];
    WD_ENSURE(token != NULL && len >= TOKEN_MIN && len <= TOKEN_MAX, WD_EINVAL);
    WD_ENSURE(node == NULL || text_ok(node, WD_STORE_NAME_MAX), WD_EINVAL);
    WD_ENSURE(expires_at >= now, WD_EINVAL);
    WD_TRY(token_hash(token, len, h));
    struct sp p[4] = {p_blob(h, sizeof(h)), p_text(node), p_int(now), p_int(expires_at)};
    int rc = q_exec(st, ST_TOKEN_INSERT, p, 4);
    if (rc == WD_EEXIST) {
        /* The backend's text names the constraint only; say what it means. */
        rc = wd_store_fail(st, WD_EEXIST, "token", "this token is already stored");
    }
    return rc;
}

int wd_store_token_consume(struct wd_store *st, const uint8_t *token, size_t len, int64_t now,
                           struct wd_store_token *out)
{
    uint8_t h[WD_STORE_SHA256_LEN];
    struct wd_store_token t;
    bool got = false;
    int rc;
    WD_ENSURE(token != NULL && len <= TOKEN_MAX, WD_EINVAL);
    if (len < TOKEN_MIN) {
        return WD_ENOENT;
    }
    WD_TRY(token_hash(token, len, h));
    memset(&t, 0, sizeof(t));
    struct sp p[2] = {p_blob(h, sizeof(h)), p_int(now)};
    rc = q(st, ST_TOKEN_CONSUME, p, 2);
    if (rc == WD_OK) {
        rc = q_next(st);
        if (rc > 0) {
            got = true;
            t.created_at = col_int(st, 1);
            t.expires_at = col_int(st, 2);
            rc = col_str(st, 0, &t.node);
            if (rc == WD_OK) {
                rc = q_drain(st);
            }
        }
    }
    q_done(st);
    if (rc != WD_OK) {
        /*
         * The token is spent even if copying its record failed (WD_ENOMEM after the
         * UPDATE): a single-use token must never become usable twice.
         */
        wd_store_token_cleanup(&t);
        return rc;
    }
    if (!got) {
        return why_unusable(st, ST_TOKEN_PEEK, p_blob(h, sizeof(h)), now);
    }
    if (out != NULL) {
        *out = t;
    } else {
        wd_store_token_cleanup(&t);
    }
    return WD_OK;
}

int wd_store_token_purge(struct wd_store *st, int64_t before, size_t *n_out)
{
    return q_count_rows(st, ST_TOKEN_PURGE, before, n_out);
}

/* ---- registration entries ---- */

void wd_store_entry_cleanup(struct wd_store_entry *e)
{
    if (e == NULL) {
        return;
    }
    free_owned(e->spiffe_id);
    free_owned(e->node);
    free_owned(e->sel.path);
    memset(e, 0, sizeof(*e));
}

void wd_store_entries_free(struct wd_store_entry *v, size_t n)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        wd_store_entry_cleanup(&v[i]);
    }
    wd_free(v);
}

static int entry_from_row(struct wd_store *st, struct wd_store_entry *e)
{
    size_t n = 0;
    int rc;
    memset(e, 0, sizeof(*e));
    const char *id = st->be->col_text(st, 0);
    if (strnlen(id, WD_STORE_ID_LEN + 1) > WD_STORE_ID_LEN) {
        return wd_store_fail(st, WD_EDB, "entry", "stored id too long");
    }
    memcpy(e->id, id, strlen(id) + 1);
    e->sel.has_uid = !col_null(st, 3);
    e->sel.uid = (uint32_t)col_int(st, 3);
    e->sel.has_gid = !col_null(st, 4);
    e->sel.gid = (uint32_t)col_int(st, 4);
    e->ttl = col_int(st, 7);
    e->created_at = col_int(st, 8);
    WD_CHECK(col_str(st, 1, &e->spiffe_id));
    WD_CHECK(col_str(st, 2, &e->node));
    WD_CHECK(col_str(st, 5, &e->sel.path));
    if (!col_null(st, 6)) {
        WD_CHECK(col_fixed(st, 6, e->sel.sha256, sizeof(e->sel.sha256), &n));
        e->sel.has_sha256 = true;
    }
out:
    if (rc != WD_OK) {
        wd_store_entry_cleanup(e);
    }
    return rc;
}

int wd_store_entry_create(struct wd_store *st, const struct wd_store_entry *e, int64_t now,
                          char id_out[WD_STORE_ID_LEN + 1])
{
    char id[WD_STORE_ID_LEN + 1];
    WD_ENSURE(e != NULL && id_out != NULL, WD_EINVAL);
    WD_ENSURE(text_ok(e->spiffe_id, WD_STORE_TEXT_MAX), WD_EINVAL);
    WD_ENSURE(text_ok(e->node, WD_STORE_NAME_MAX), WD_EINVAL);
    WD_ENSURE(e->sel.path == NULL || text_ok(e->sel.path, WD_STORE_TEXT_MAX), WD_EINVAL);
    WD_ENSURE(e->ttl >= 1 && e->ttl <= STORE_TTL_MAX, WD_EINVAL);
    WD_TRY(new_id(id));
    struct sp p[9] = {
            p_text(id),
            p_text(e->spiffe_id),
            p_text(e->node),
            e->sel.has_uid ? p_int(e->sel.uid) : p_blob(NULL, 0),
            e->sel.has_gid ? p_int(e->sel.gid) : p_blob(NULL, 0),
            p_text(e->sel.path),
            e->sel.has_sha256 ? p_blob(e->sel.sha256, sizeof(e->sel.sha256)) : p_blob(NULL, 0),
            p_int(e->ttl),
            p_int(now),
    };
    WD_TRY(q_exec(st, ST_ENTRY_INSERT, p, 9));
    memcpy(id_out, id, sizeof(id));
    return WD_OK;
}

int wd_store_entry_get(struct wd_store *st, const char *id, struct wd_store_entry *out)
{
    struct wd_store_entry e;
    WD_ENSURE(out != NULL, WD_EINVAL);
    memset(&e, 0, sizeof(e));
    if (!id_ok(id)) {
        return WD_ENOENT;
    }
    struct sp p[1] = {p_text(id)};
    int rc = q(st, ST_ENTRY_GET, p, 1);
    if (rc == WD_OK) {
        rc = q_next(st);
        if (rc == 0) {
            rc = WD_ENOENT;
        } else if (rc > 0) {
            rc = entry_from_row(st, &e);
            if (rc == WD_OK) {
                rc = q_drain(st);
                if (rc != WD_OK) {
                    wd_store_entry_cleanup(&e);
                }
            }
        }
    }
    q_done(st);
    if (rc == WD_OK) {
        *out = e;
    }
    return rc;
}

int wd_store_entry_list(struct wd_store *st, const char *node, struct wd_store_entry **out,
                        size_t *n_out)
{
    struct wd_store_entry *v = NULL;
    size_t n = 0, cap = 0;
    int rc;
    WD_ENSURE(out != NULL && n_out != NULL, WD_EINVAL);
    WD_ENSURE(node == NULL || text_ok(node, WD_STORE_NAME_MAX), WD_EINVAL);
    if (node == NULL) {
        struct sp p[1] = {p_int((int64_t)WD_STORE_LIST_MAX + 1)};
        rc = q(st, ST_ENTRY_LIST, p, 1);
    } else {
        struct sp p[2] = {p_text(node), p_int((int64_t)WD_STORE_LIST_MAX + 1)};
        rc = q(st, ST_ENTRY_LIST_NODE, p, 2);
    }
    while (rc == WD_OK && (rc = q_next(st)) > 0) {
        rc = n >= WD_STORE_LIST_MAX ? WD_ELIMIT : grow((void **)&v, &cap, n, sizeof(*v));
        if (rc == WD_OK) {
            rc = entry_from_row(st, &v[n]);
        }
        if (rc != WD_OK) {
            break;
        }
        n++;
    }
    q_done(st);
    if (rc < 0) {
        wd_store_entries_free(v, n);
        return rc;
    }
    *out = v;
    *n_out = n;
    return WD_OK;
}

int wd_store_entry_delete(struct wd_store *st, const char *id)
{
    if (!id_ok(id)) {
        return id == NULL ? WD_EINVAL : WD_ENOENT;
    }
    struct sp p[1] = {p_text(id)};
    return q_found(st, ST_ENTRY_DELETE, p, 1);
}

/* ---- audit ---- */

static const char *const audit_kind_names[] = {
        [WD_AUDIT_ATTESTATION] = "attestation",
        [WD_AUDIT_ISSUANCE] = "issuance",
        [WD_AUDIT_REFUSAL] = "refusal",
        [WD_AUDIT_ADMIN] = "admin",
};

const char *wd_audit_kind_name(enum wd_audit_kind k)
{
    if ((unsigned)k >= WD_ARRAY_LEN(audit_kind_names)) {
        return NULL;
    }
    return audit_kind_names[k];
}

static bool audit_ok(const struct wd_store_audit *ev)
{
    return ev != NULL && wd_audit_kind_name(ev->kind) != NULL
           && opt_text_ok(ev->actor, WD_STORE_TEXT_MAX)
           && opt_text_ok(ev->subject, WD_STORE_TEXT_MAX)
           && opt_text_ok(ev->reason, WD_STORE_TEXT_MAX)
           && opt_text_ok(ev->details, WD_STORE_DOC_MAX);
}

static int audit_insert(struct wd_store *st, const struct wd_store_audit *ev, int64_t *id)
{
    struct sp p[6] = {p_int(ev->time_ms), p_text(wd_audit_kind_name(ev->kind)),
                      p_text(ev->actor),  p_text(ev->subject),
                      p_text(ev->reason), p_text(ev->details)};
    return q_int(st, ST_AUDIT_INSERT, p, 6, id);
}

int wd_store_audit_append(struct wd_store *st, const struct wd_store_audit *ev, int64_t *id_out)
{
    int64_t id = 0;
    WD_ENSURE(audit_ok(ev), WD_EINVAL);
    WD_TRY(audit_insert(st, ev, &id));
    if (id_out != NULL) {
        *id_out = id;
    }
    return WD_OK;
}

void wd_store_audit_cleanup(struct wd_store_audit *ev)
{
    if (ev == NULL) {
        return;
    }
    free_owned(ev->actor);
    free_owned(ev->subject);
    free_owned(ev->reason);
    free_owned(ev->details);
    memset(ev, 0, sizeof(*ev));
}

void wd_store_audits_free(struct wd_store_audit *v, size_t n)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        wd_store_audit_cleanup(&v[i]);
    }
    wd_free(v);
}

static int audit_from_row(struct wd_store *st, struct wd_store_audit *ev)
{
    int rc;
    memset(ev, 0, sizeof(*ev));
    ev->id = col_int(st, 0);
    ev->time_ms = col_int(st, 1);
    const char *kind = st->be->col_text(st, 2);
    size_t k = 0;
    while (k < WD_ARRAY_LEN(audit_kind_names) && strcmp(kind, audit_kind_names[k]) != 0) {
        k++;
    }
    if (k == WD_ARRAY_LEN(audit_kind_names)) {
        return wd_store_fail(st, WD_EDB, "audit", "unknown event kind in the database");
    }
    ev->kind = (enum wd_audit_kind)k;
    WD_CHECK(col_str(st, 3, &ev->actor));
    WD_CHECK(col_str(st, 4, &ev->subject));
    WD_CHECK(col_str(st, 5, &ev->reason));
    WD_CHECK(col_str(st, 6, &ev->details));
out:
    if (rc != WD_OK) {
        wd_store_audit_cleanup(ev);
    }
    return rc;
}

int wd_store_audit_list(struct wd_store *st, int64_t after_id, size_t limit,
                        struct wd_store_audit **out, size_t *n_out)
{
    struct wd_store_audit *v = NULL;
    size_t n = 0, cap = 0;
    WD_ENSURE(limit >= 1 && limit <= WD_STORE_LIST_MAX && out != NULL && n_out != NULL, WD_EINVAL);
    struct sp p[2] = {p_int(after_id), p_int((int64_t)limit)};
    int rc = q(st, ST_AUDIT_LIST, p, 2);
    while (rc == WD_OK && (rc = q_next(st)) > 0) {
        rc = grow((void **)&v, &cap, n, sizeof(*v));
        if (rc == WD_OK) {
            rc = audit_from_row(st, &v[n]);
        }
        if (rc != WD_OK) {
            break;
        }
        n++;
    }
    q_done(st);
    if (rc < 0) {
        wd_store_audits_free(v, n);
        return rc;
    }
    *out = v;
    *n_out = n;
    return WD_OK;
}

/* ---- issued SVIDs ---- */

static bool svid_ok(const struct wd_store_svid *s)
{
    return s != NULL && s->serial_len >= 1 && s->serial_len <= WD_STORE_SERIAL_MAX
           && text_ok(s->spiffe_id, WD_STORE_TEXT_MAX) && text_ok(s->node, WD_STORE_NAME_MAX)
           && (s->entry_id[0] == '\0' || id_ok(s->entry_id));
}

static int svid_insert(struct wd_store *st, const struct wd_store_svid *s)
{
    struct sp p[6] = {
            p_blob(s->serial, s->serial_len),
            p_text(s->spiffe_id),
            p_text(s->node),
            p_text(s->entry_id[0] != '\0' ? s->entry_id : NULL),
            p_int(s->not_after),
            p_int(s->issued_at),
    };
    int rc = q_exec(st, ST_SVID_INSERT, p, 6);
    if (rc == WD_EEXIST) {
        rc = wd_store_fail(st, WD_EEXIST, "svid", "serial number already recorded");
    }
    return rc;
}

struct svid_batch_arg {
    const struct wd_store_svid *v;
    const struct wd_store_audit *audits;
    size_t n;
};

static int svid_batch_body(struct wd_store *st, void *varg)
{
    const struct svid_batch_arg *a = varg;
    int64_t id = 0;
    for (size_t i = 0; i < a->n; i++) {
        WD_TRY(svid_insert(st, &a->v[i]));
        if (a->audits != NULL) {
            WD_TRY(audit_insert(st, &a->audits[i], &id));
        }
    }
    return WD_OK;
}

int wd_store_svid_record(struct wd_store *st, const struct wd_store_svid *svid,
                         const struct wd_store_audit *audit)
{
    WD_ENSURE(svid_ok(svid), WD_EINVAL);
    if (audit == NULL) {
        /* One statement: its own transaction, one commit. */
        return svid_insert(st, svid);
    }
    WD_ENSURE(audit_ok(audit), WD_EINVAL);
    struct svid_batch_arg a = {.v = svid, .audits = audit, .n = 1};
    return store_tx(st, svid_batch_body, &a);
}

int wd_store_svid_record_batch(struct wd_store *st, const struct wd_store_svid *v,
                               const struct wd_store_audit *audits, size_t n)
{
    WD_ENSURE(v != NULL && n >= 1 && n <= WD_STORE_LIST_MAX, WD_EINVAL);
    for (size_t i = 0; i < n; i++) {
        WD_ENSURE(svid_ok(&v[i]), WD_EINVAL);
        WD_ENSURE(audits == NULL || audit_ok(&audits[i]), WD_EINVAL);
    }
    struct svid_batch_arg a = {.v = v, .audits = audits, .n = n};
    return store_tx(st, svid_batch_body, &a);
}

void wd_store_svid_cleanup(struct wd_store_svid *s)
{
    if (s == NULL) {
        return;
    }
    free_owned(s->spiffe_id);
    free_owned(s->node);
    memset(s, 0, sizeof(*s));
}

int wd_store_svid_get(struct wd_store *st, const uint8_t *serial, size_t serial_len,
                      struct wd_store_svid *out)
{
    struct wd_store_svid s;
    int rc;
    WD_ENSURE(serial != NULL && serial_len >= 1 && serial_len <= WD_STORE_SERIAL_MAX && out != NULL,
              WD_EINVAL);
    memset(&s, 0, sizeof(s));
    struct sp p[1] = {p_blob(serial, serial_len)};
    rc = q(st, ST_SVID_GET, p, 1);
    if (rc == WD_OK) {
        rc = q_next(st);
        if (rc == 0) {
            rc = WD_ENOENT;
        } else if (rc > 0) {
            s.not_after = col_int(st, 4);
            s.issued_at = col_int(st, 5);
            rc = col_fixed(st, 0, s.serial, sizeof(s.serial), &s.serial_len);
            if (rc == WD_OK && !col_null(st, 3)) {
                const char *eid = st->be->col_text(st, 3);
                if (strnlen(eid, WD_STORE_ID_LEN + 1) > WD_STORE_ID_LEN) {
                    rc = wd_store_fail(st, WD_EDB, "svid", "stored entry id too long");
                } else {
                    memcpy(s.entry_id, eid, strlen(eid) + 1);
                }
            }
            if (rc == WD_OK) {
                rc = col_str(st, 1, &s.spiffe_id);
            }
            if (rc == WD_OK) {
                rc = col_str(st, 2, &s.node);
            }
            if (rc == WD_OK) {
                rc = q_drain(st);
            }
        }
    }
    q_done(st);
    if (rc != WD_OK) {
        wd_store_svid_cleanup(&s);
        return rc;
    }
    *out = s;
    return WD_OK;
}

int wd_store_svid_count(struct wd_store *st, int64_t *out)
{
    int rc = q_int(st, ST_SVID_COUNT, NULL, 0, out);
    return rc == WD_ENOENT ? WD_EDB : rc;
}

/* ---- deny list (public) ---- */

struct deny_arg {
    const char *kind, *subject, *reason;
    int64_t now, seq;
};

static int deny_add_body(struct wd_store *st, void *varg)
{
    struct deny_arg *a = varg;
    return deny_add_tx(st, a->kind, a->subject, a->reason, a->now, &a->seq);
}

static int deny_remove_body(struct wd_store *st, void *varg)
{
    struct deny_arg *a = varg;
    return deny_remove_tx(st, a->kind, a->subject, a->now, true, &a->seq);
}

int wd_store_deny_add(struct wd_store *st, enum wd_deny_kind kind, const char *subject,
                      const char *reason, int64_t now, int64_t *seq_out)
{
    struct deny_arg a = {
            .kind = wd_deny_kind_name(kind), .subject = subject, .reason = reason, .now = now};
    WD_ENSURE(a.kind != NULL && text_ok(subject, WD_STORE_TEXT_MAX), WD_EINVAL);
    WD_ENSURE(opt_text_ok(reason, WD_STORE_TEXT_MAX), WD_EINVAL);
    WD_TRY(store_tx(st, deny_add_body, &a));
    if (seq_out != NULL) {
        *seq_out = a.seq;
    }
    return WD_OK;
}

int wd_store_deny_remove(struct wd_store *st, enum wd_deny_kind kind, const char *subject,
                         int64_t now, int64_t *seq_out)
{
    struct deny_arg a = {.kind = wd_deny_kind_name(kind), .subject = subject, .now = now};
    WD_ENSURE(a.kind != NULL && text_ok(subject, WD_STORE_TEXT_MAX), WD_EINVAL);
    WD_TRY(store_tx(st, deny_remove_body, &a));
    if (seq_out != NULL) {
        *seq_out = a.seq;
    }
    return WD_OK;
}

void wd_store_deny_cleanup(struct wd_store_deny *d)
{
    if (d == NULL) {
        return;
    }
    free_owned(d->subject);
    free_owned(d->reason);
    memset(d, 0, sizeof(*d));
}

void wd_store_denies_free(struct wd_store_deny *v, size_t n)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        wd_store_deny_cleanup(&v[i]);
    }
    wd_free(v);
}

static int deny_from_row(struct wd_store *st, struct wd_store_deny *d)
{
    int rc;
    memset(d, 0, sizeof(*d));
    d->seq = col_int(st, 0);
    const char *kind = st->be->col_text(st, 1);
    if (strcmp(kind, "spiffe_id") == 0) {
        d->kind = WD_DENY_SPIFFE_ID;
    } else if (strcmp(kind, "node") == 0) {
        d->kind = WD_DENY_NODE;
    } else {
        return wd_store_fail(st, WD_EDB, "denylist", "unknown kind in the database");
    }
    d->time = col_int(st, 4);
    d->active = col_int(st, 5) != 0;
    WD_CHECK(col_str(st, 2, &d->subject));
    WD_CHECK(col_str(st, 3, &d->reason));
out:
    if (rc != WD_OK) {
        wd_store_deny_cleanup(d);
    }
    return rc;
}

int wd_store_deny_list_since(struct wd_store *st, int64_t since, size_t limit,
                             struct wd_store_deny **out, size_t *n_out, int64_t *cursor_out)
{
    struct wd_store_deny *v = NULL;
    size_t n = 0, cap = 0;
    int64_t latest = 0;
    WD_ENSURE(limit >= 1 && limit <= WD_STORE_LIST_MAX && out != NULL && n_out != NULL, WD_EINVAL);
    /*
     * Read the counter first, then only rows up to it: every change numbered up to the
     * counter has committed (writers serialise on the counter row), so nothing at or below
     * the returned cursor can appear later.
     */
    WD_TRY(counter_get(st, &latest));
    struct sp p[3] = {p_int(since), p_int(latest), p_int((int64_t)limit)};
    int rc = q(st, ST_DENY_SINCE, p, 3);
    while (rc == WD_OK && (rc = q_next(st)) > 0) {
        rc = grow((void **)&v, &cap, n, sizeof(*v));
        if (rc == WD_OK) {
            rc = deny_from_row(st, &v[n]);
        }
        if (rc != WD_OK) {
            break;
        }
        n++;
    }
    q_done(st);
    if (rc < 0) {
        wd_store_denies_free(v, n);
        return rc;
    }
    *out = v;
    *n_out = n;
    if (cursor_out != NULL) {
        *cursor_out = n == limit ? v[n - 1].seq : WD_MAX(latest, since);
    }
    return WD_OK;
}
