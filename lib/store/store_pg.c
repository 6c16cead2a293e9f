/*
 * The PostgreSQL backend of the store (store_int.h): one libpq connection per handle.
 *
 * - Statements are prepared on first use (PQprepare "wdN") and kept for the session; a
 *   connection found broken is reset before the next statement (outside a transaction)
 *   and the statements are prepared again. A statement that was in flight when the
 *   connection broke is not re-sent: its commit is unknown, the caller gets WD_EDB.
 * - Parameters go as text (integers, strings) or binary (bytea); results come back in
 *   binary, so integers are read without parsing and bytea without unescaping.
 * - Transactions run at READ COMMITTED. Each check-and-set is a single conditional UPDATE
 *   (a concurrent writer of the same row waits, then re-checks the condition against the
 *   committed row) or starts by locking a row; SQLSTATE 40001 / 40P01 (possible when the
 *   server's default isolation is raised) mark the error retryable for store.c.
 * - Server notices ("relation already exists, skipping") are dropped, not printed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "warden/alloc.h"
#include "warden/store.h"

#include "store/store_int.h"

/* pg_advisory_xact_lock key that serialises schema migrations ("wdschema" in ASCII). */
#define PG_MIGRATE_LOCK "SELECT pg_advisory_xact_lock(8603092475235411297)"

struct pg {
    PGconn *conn;
    bool prepared[ST__COUNT];
    PGresult *res; /* result of the current query, or NULL */
    int row;       /* current row of res */
    bool in_tx;    /* between our BEGIN and COMMIT/ROLLBACK */
};

static struct pg *pg_of(struct wd_store *st)
{
    return st->db;
}

static void pg_notice_drop(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* Classify a failed result (or, when res is NULL, the connection's error). */
static int pg_fail(struct wd_store *st, const PGresult *res)
{
    struct pg *p = pg_of(st);
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    /* The primary message only: DETAIL would repeat key values (token hashes, serials). */
    const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (msg == NULL) {
        msg = PQerrorMessage(p->conn);
    }
    if (state != NULL && strcmp(state, "23505") == 0) {
        return wd_store_fail(st, WD_EEXIST, "postgresql", msg);
    }
    if (state != NULL && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)) {
        st->retry = true;
    }
    return wd_store_fail(st, WD_EDB, "postgresql", msg);
}

static int pg_result_ok(struct wd_store *st, PGresult *res)
{
    ExecStatusType s = PQresultStatus(res);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
        return WD_OK;
    }
    if (res == NULL) {
        return pg_fail(st, NULL);
    }
    return pg_fail(st, res);
}

/*
 * Per-session settings, on connect and after a reset: drop notices, and run statements
 * outside explicit transactions at READ COMMITTED whatever the server's default, so a
 * single conditional UPDATE behaves as store.c expects (a racing writer re-checks the
 * condition instead of failing with a serialization error).
 */
static int pg_session_setup(struct wd_store *st)
{
    struct pg *p = pg_of(st);
    PQsetNoticeProcessor(p->conn, pg_notice_drop, NULL);
    if (PQsetClientEncoding(p->conn, "UTF8") != 0) {
        return wd_store_fail(st, WD_EDB, "postgresql", "cannot use client encoding UTF8");
    }
    PGresult *res = PQexec(p->conn, "SET SESSION CHARACTERISTICS AS TRANSACTION"
                                    " ISOLATION LEVEL READ COMMITTED");
    int rc = pg_result_ok(st, res);
    PQclear(res);
    return rc;
}

/*
 * A broken connection (server restart, network) is reset before the next statement, but
 * only between transactions: inside one, the failure must reach the transaction runner.
 */
static int pg_ensure_conn(struct wd_store *st)
{
    struct pg *p = pg_of(st);
    if (PQstatus(p->conn) == CONNECTION_OK) {
        return WD_OK;
    }
    PQreset(p->conn);
    memset(p->prepared, 0, sizeof(p->prepared));
    if (PQstatus(p->conn) != CONNECTION_OK) {
        return pg_fail(st, NULL);
    }
    return pg_session_setup(st);
}

static int pg_exec(struct wd_store *st, const char *sql)
{
    struct pg *p = pg_of(st);
    bool begin = sql == wd_store_pg_backend.begin_sql;
    bool end = strcmp(sql, "COMMIT") == 0 || strcmp(sql, "ROLLBACK") == 0;
    if (!p->in_tx) {
        WD_TRY(pg_ensure_conn(st));
    }
    PGresult *res = PQexec(p->conn, sql);
    int rc = pg_result_ok(st, res);
    PQclear(res);
    if (begin && rc == WD_OK) {
        p->in_tx = true;
    }
    if (end) {
        /* A failed COMMIT ends the transaction too (the server rolls it back). */
        p->in_tx = false;
    }
    return rc;
}

static void pg_close(struct wd_store *st)
{
    struct pg *p = pg_of(st);
    if (p == NULL) {
        return;
    }
    PQclear(p->res);
    PQfinish(p->conn);
    wd_free(p);
    st->db = NULL;
}

static int pg_open(struct wd_store *st, const char *target, const struct store_opts *o,
                   struct wd_diag *diag)
{
    struct pg *p;
    char *perr = NULL;
    (void)o;

    /* Check the URI first so a typo gets a clear error, not a connection failure. */
    PQconninfoOption *opts = PQconninfoParse(target, &perr);
    if (opts == NULL) {
        /* libpq quotes the offending part, which could be a password: cut there. */
        const char *m = perr != NULL ? perr : "out of memory";
        size_t n = strcspn(m, "\"\n");
        int rc = wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "store URL: %.*s", (int)n, m);
        PQfreemem(perr);
        return rc;
    }
    PQconninfoFree(opts);

    p = wd_calloc(1, sizeof(*p));
    if (p == NULL) {
        return WD_ENOMEM;
    }
    st->db = p;
    p->conn = PQconnectdb(target);
    if (p->conn == NULL) {
        pg_close(st);
        return WD_ENOMEM;
    }
    if (PQstatus(p->conn) != CONNECTION_OK) {
        const char *m = PQerrorMessage(p->conn);
        size_t n = strcspn(m, "\n");
        int rc = wd_diag_set(diag, WD_EDB, NULL, 0, 0, "store: cannot connect to PostgreSQL: %.*s",
                             (int)n, m);
        pg_close(st);
        return rc;
    }
    if (pg_session_setup(st) != WD_OK) {
        int rc = wd_diag_set(diag, WD_EDB, NULL, 0, 0, "store: %s", st->err.msg);
        pg_close(st);
        return rc;
    }
    return WD_OK;
}

static int pg_query(struct wd_store *st, enum store_stmt id, const struct sp *prm, size_t n)
{
    struct pg *p = pg_of(st);
    char name[16];
    char ibuf[STORE_MAX_PARAMS][24];
    const char *values[STORE_MAX_PARAMS];
    int lengths[STORE_MAX_PARAMS];
    int formats[STORE_MAX_PARAMS];

    WD_BUG_ON(p->res != NULL || n > STORE_MAX_PARAMS);
    if (!p->in_tx) {
        WD_TRY(pg_ensure_conn(st));
    }
    (void)snprintf(name, sizeof(name), "wd%d", (int)id);
    if (!p->prepared[id]) {
        PGresult *r = PQprepare(p->conn, name, wd_store_sql(id), 0, NULL);
        int rc = pg_result_ok(st, r);
        PQclear(r);
        WD_TRY(rc);
        p->prepared[id] = true;
    }
    for (size_t i = 0; i < n; i++) {
        lengths[i] = 0;
        formats[i] = 0;
        switch (prm[i].t) {
        case SP_NULL:
            values[i] = NULL;
            break;
        case SP_INT:
            (void)snprintf(ibuf[i], sizeof(ibuf[i]), "%" PRId64, prm[i].i);
            values[i] = ibuf[i];
            break;
        case SP_TEXT:
            values[i] = prm[i].s;
            break;
        case SP_BLOB:
        default:
            WD_ENSURE(prm[i].n <= (size_t)INT32_MAX, WD_EINVAL);
            /* Binary bytea; a non-NULL pointer even for zero bytes (NULL means SQL NULL). */
            values[i] = prm[i].n > 0 ? (const char *)prm[i].b : "";
            lengths[i] = (int)prm[i].n;
            formats[i] = 1;
            break;
        }
    }
    PGresult *res = PQexecPrepared(p->conn, name, (int)n, n > 0 ? values : NULL,
                                   n > 0 ? lengths : NULL, n > 0 ? formats : NULL, 1);
    int rc = pg_result_ok(st, res);
    if (rc != WD_OK) {
        PQclear(res);
        return rc;
    }
    p->res = res;
    p->row = -1;
    return WD_OK;
}

static int pg_next(struct wd_store *st)
{
    struct pg *p = pg_of(st);
    if (p->res == NULL || p->row + 1 >= PQntuples(p->res)) {
        return 0;
    }
    p->row++;
    return 1;
}

static void pg_done(struct wd_store *st)
{
    struct pg *p = pg_of(st);
    PQclear(p->res);
    p->res = NULL;
}

static bool pg_is_null(struct wd_store *st, int col)
{
    struct pg *p = pg_of(st);
    return PQgetisnull(p->res, p->row, col) != 0;
}

/* Binary integers (int2/int4/int8, and bool) are big-endian two's complement. */
static int64_t pg_col_int(struct wd_store *st, int col)
{
    struct pg *p = pg_of(st);
    if (PQgetisnull(p->res, p->row, col)) {
        return 0;
    }
    const uint8_t *b = (const uint8_t *)PQgetvalue(p->res, p->row, col);
    int len = PQgetlength(p->res, p->row, col);
    if (len != 1 && len != 2 && len != 4 && len != 8) {
        return 0;
    }
    uint64_t v = (b[0] & 0x80) != 0 && len != 1 ? UINT64_MAX : 0;
    for (int i = 0; i < len; i++) {
        v = (v << 8) | b[i];
    }
    return (int64_t)v;
}

static const char *pg_col_text(struct wd_store *st, int col)
{
    struct pg *p = pg_of(st);
    /* Binary text values are followed by a NUL too (libpq documents this). */
    return PQgetvalue(p->res, p->row, col);
}

static const uint8_t *pg_col_blob(struct wd_store *st, int col, size_t *len)
{
    struct pg *p = pg_of(st);
    if (PQgetisnull(p->res, p->row, col)) {
        *len = 0;
        return NULL;
    }
    int n = PQgetlength(p->res, p->row, col);
    *len = n > 0 ? (size_t)n : 0;
    return *len > 0 ? (const uint8_t *)PQgetvalue(p->res, p->row, col) : NULL;
}

static int pg_check(struct wd_store *st)
{
    return pg_exec(st, "SELECT 1");
}

const struct store_backend wd_store_pg_backend = {
        .name = "postgresql",
        .open = pg_open,
        .close = pg_close,
        .exec = pg_exec,
        .query = pg_query,
        .next = pg_next,
        .done = pg_done,
        .is_null = pg_is_null,
        .col_int = pg_col_int,
        .col_text = pg_col_text,
        .col_blob = pg_col_blob,
        .check = pg_check,
        .begin_sql = "BEGIN ISOLATION LEVEL READ COMMITTED",
        .migrate_lock = PG_MIGRATE_LOCK,
        .migrations = wd_store_pg_migrations,
};
