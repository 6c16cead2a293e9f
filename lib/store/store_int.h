/*
 * Private interface between the backend-independent store (store.c: URL parsing,
 * migrations runner, every operation written once) and its two backends (store_sqlite.c,
 * store_pg.c), which each provide a tiny query layer: run one cached statement with
 * parameters, step through its rows, read columns.
 *
 * SQL text is shared: parameters are written $1, $2, ... which PostgreSQL reads natively
 * and SQLite reads as named parameters "$1", "$2" (bound by name, so their order in the
 * text does not matter). The DDL differs per backend (types, identity columns, collation)
 * and lives in schema.c.
 */
#ifndef WD_STORE_INT_H
#define WD_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/err.h"
#include "warden/store.h"

/* Every cached statement; store.c maps each to its SQL (store_sql). */
enum store_stmt {
    ST_SV_MAX,
    ST_SV_INSERT,
    ST_TD_INSERT,
    ST_TD_GET,
    ST_TD_BUMP,
    ST_CA_INSERT,
    ST_CA_LIST,
    ST_NODE_UPSERT,
    ST_NODE_GET,
    ST_NODE_GET_EK,
    ST_NODE_LIST,
    ST_NODE_SET_TRUSTED,
    ST_NODE_COUNTERS,
    ST_NODE_EXISTS,
    ST_NODE_DELETE,
    ST_SESSION_INSERT,
    ST_SESSION_CONSUME,
    ST_SESSION_PEEK,
    ST_SESSION_PURGE,
    ST_TOKEN_INSERT,
    ST_TOKEN_CONSUME,
    ST_TOKEN_PEEK,
    ST_TOKEN_PURGE,
    ST_ENTRY_INSERT,
    ST_ENTRY_GET,
    ST_ENTRY_LIST,
    ST_ENTRY_LIST_NODE,
    ST_ENTRY_DELETE,
    ST_SVID_INSERT,
    ST_SVID_GET,
    ST_SVID_COUNT,
    ST_COUNTER_BUMP,
    ST_COUNTER_GET,
    ST_DENY_GET,
    ST_DENY_UPSERT,
    ST_DENY_REMOVE,
    ST_DENY_SINCE,
    ST_AUDIT_INSERT,
    ST_AUDIT_LIST,
    ST__COUNT
};

/* The SQL of a statement (static text). */
const char *wd_store_sql(enum store_stmt id);

/* Most parameters any statement takes. */
#define STORE_MAX_PARAMS 16

/* One statement parameter. Text and blobs are borrowed for the duration of the query. */
enum sp_type { SP_NULL, SP_INT, SP_TEXT, SP_BLOB };
struct sp {
    enum sp_type t;
    int64_t i;
    const char *s;
    const void *b;
    size_t n;
};

/* SQLite busy timeout and synchronous mode; ignored by PostgreSQL. */
struct store_opts {
    bool sync_normal;
    unsigned busy_timeout_ms;
};

struct store_backend {
    const char *name;
    /* Open target (a file path, or the libpq URI). WD_EDB with diag, WD_ENOMEM. */
    int (*open)(struct wd_store *st, const char *target, const struct store_opts *o,
                struct wd_diag *diag);
    void (*close)(struct wd_store *st);
    /* Run SQL text without parameters and ignore any rows (BEGIN, COMMIT, DDL scripts). */
    int (*exec)(struct wd_store *st, const char *sql);
    /*
     * Start cached statement id with p[0..n). Rows are then read with next (1: a row is
     * current, 0: no more rows, < 0: error) and the column readers; done must follow every
     * query, successful or not. Errors can appear at query or at next: WD_EEXIST for a
     * unique/primary-key violation, WD_EDB otherwise (st->retry set when the failure is a
     * transient conflict worth retrying the whole transaction for).
     */
    int (*query)(struct wd_store *st, enum store_stmt id, const struct sp *p, size_t n);
    int (*next)(struct wd_store *st);
    void (*done)(struct wd_store *st);
    bool (*is_null)(struct wd_store *st, int col);
    int64_t (*col_int)(struct wd_store *st, int col);
    /* Text of a column (never NULL: "" for SQL NULL); borrowed until next/done. */
    const char *(*col_text)(struct wd_store *st, int col);
    /* Bytes of a column (NULL with *len 0 for SQL NULL or empty); borrowed as above. */
    const uint8_t *(*col_blob)(struct wd_store *st, int col, size_t *len);
    /* wd_store_check. */
    int (*check)(struct wd_store *st);
    const char *begin_sql;         /* starts a write transaction */
    const char *migrate_lock;      /* run first inside the migration transaction, or NULL */
    const char *const *migrations; /* [v-1] is the DDL that brings version v-1 to v */
};

extern const struct store_backend wd_store_sqlite_backend;
extern const struct store_backend wd_store_pg_backend;

/* Per-backend DDL, WD_STORE_SCHEMA_VERSION entries each (schema.c). */
extern const char *const wd_store_sqlite_migrations[WD_STORE_SCHEMA_VERSION];
extern const char *const wd_store_pg_migrations[WD_STORE_SCHEMA_VERSION];

struct wd_store {
    const struct store_backend *be;
    void *db;           /* backend state */
    bool retry;         /* set by the backend when the last error is a transient conflict */
    struct wd_diag err; /* wd_store_error() */
};

/* Record a backend error message on st (first line only, truncated). Returns err. */
int wd_store_fail(struct wd_store *st, int err, const char *what, const char *msg);

/*
 * Split a store URL (wd_store_open) into its backend, target (owned: a file path or the
 * libpq URI; wd_free) and SQLite options. WD_ECONFIG with diag, WD_ENOMEM.
 */
int wd_store_parse_url(const char *url, const struct store_backend **be, char **target,
                       struct store_opts *o, struct wd_diag *diag);

/*
 * Test hook (tests/tools/store_suite.h): when > 0, wd_store_open migrates only up to this
 * version, so the upgrade path from an older schema can be tested. Not for production use;
 * not thread-safe.
 */
extern int wd_store_migrate_limit;

#endif
