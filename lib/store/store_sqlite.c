/*
 * The SQLite backend of the store (store_int.h): one connection per handle, opened in
 * multi-thread mode (the handle is used by one thread at a time), WAL journal, foreign keys
 * on, a busy timeout, synchronous=FULL by default. Statements are prepared once
 * (SQLITE_PREPARE_PERSISTENT) and kept for the life of the handle.
 *
 * Write transactions start with BEGIN IMMEDIATE: the write lock is taken at the start, so
 * a transaction never has to upgrade a read snapshot to a write (which in WAL mode fails at
 * once with SQLITE_BUSY_SNAPSHOT instead of waiting); concurrent writers simply queue on
 * the busy timeout.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "warden/alloc.h"
#include "warden/store.h"

#include "store/store_int.h"

struct sq {
    sqlite3 *db;
    sqlite3_stmt *cache[ST__COUNT];
    sqlite3_stmt *cur;     /* the statement being stepped, or NULL */
    unsigned busy_timeout; /* ms */
    int64_t busy_start;    /* monotonic ms when the current wait began */
};

static struct sq *sq_of(struct wd_store *st)
{
    return st->db;
}

/* Map an SQLite result code to a status, recording the message. */
static int sq_fail(struct wd_store *st, int code, const char *msg)
{
    switch (code) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        return wd_store_fail(st, WD_EEXIST, "sqlite", msg);
    case SQLITE_NOMEM:
        return wd_store_fail(st, WD_ENOMEM, "sqlite", msg);
    default:
        break;
    }
    char what[32];
    (void)snprintf(what, sizeof(what), "sqlite (%d)", code);
    return wd_store_fail(st, WD_EDB, what, msg);
}

static int sq_fail_db(struct wd_store *st, int code)
{
    return sq_fail(st, code, sqlite3_errmsg(sq_of(st)->db));
}

static int sq_exec(struct wd_store *st, const char *sql)
{
    char *err = NULL;
    int code = sqlite3_exec(sq_of(st)->db, sql, NULL, NULL, &err);
    if (code == SQLITE_OK) {
        return WD_OK;
    }
    code = sqlite3_extended_errcode(sq_of(st)->db);
    int rc = sq_fail(st, code, err != NULL ? err : sqlite3_errstr(code));
    sqlite3_free(err);
    return rc;
}

/* Run a PRAGMA that answers one text value into out (e.g. journal_mode). */
static int sq_pragma(struct wd_store *st, const char *sql, char *out, size_t outsz)
{
    sqlite3_stmt *s = NULL;
    int code = sqlite3_prepare_v2(sq_of(st)->db, sql, -1, &s, NULL);
    int rc = WD_OK;
    out[0] = '\0';
    if (code != SQLITE_OK) {
        rc = sq_fail_db(st, code);
        goto out;
    }
    code = sqlite3_step(s);
    if (code == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(s, 0);
        (void)snprintf(out, outsz, "%s", t != NULL ? (const char *)t : "");
    } else if (code != SQLITE_DONE) {
        rc = sq_fail_db(st, sqlite3_extended_errcode(sq_of(st)->db));
    }
out:
    sqlite3_finalize(s);
    return rc;
}

/*
 * Waiting for another writer. SQLite's own busy_timeout handler backs off to 100 ms sleeps;
 * against a writer that holds the lock through almost every fsync (synchronous=FULL, one
 * commit after another) such a waiter sees the lock free too rarely and can starve until
 * the timeout. Polling every 1-2 ms keeps a waiter in the race, at the cost of a few
 * wake-ups while it waits.
 */
static int sq_busy(void *arg, int count)
{
    struct sq *q = arg;
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (count == 0) {
        q->busy_start = now;
    }
    if (now - q->busy_start >= (int64_t)q->busy_timeout) {
        return 0;
    }
    /* 1 ms plus a spread from the attempt number, so two waiters do not wake in step. */
    ts.tv_sec = 0;
    ts.tv_nsec = 1000000L + (long)((unsigned)count * 7919u % 1000u) * 1000L;
    (void)nanosleep(&ts, NULL);
    return 1;
}

static void sq_close(struct wd_store *st)
{
    struct sq *q = sq_of(st);
    if (q == NULL) {
        return;
    }
    for (size_t i = 0; i < ST__COUNT; i++) {
        sqlite3_finalize(q->cache[i]);
    }
    sqlite3_close(q->db);
    wd_free(q);
    st->db = NULL;
}

static int sq_open(struct wd_store *st, const char *target, const struct store_opts *o,
                   struct wd_diag *diag)
{
    struct sq *q = NULL;
    char mode[32];
    int rc = WD_OK;
    bool memory = strcmp(target, ":memory:") == 0;

    /* The file holds token hashes and key references: create it private. SQLite gives
     * the -wal and -shm files the database file's permissions. */
    if (!memory) {
        int fd = open(target, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd == -1) {
            return wd_diag_set(diag, WD_EDB, NULL, 0, 0, "store: cannot open %s: %m", target);
        }
        (void)close(fd);
    }
    q = wd_calloc(1, sizeof(*q));
    if (q == NULL) {
        return WD_ENOMEM;
    }
    st->db = q;
    int code = sqlite3_open_v2(target, &q->db,
                               SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
                                       | SQLITE_OPEN_EXRESCODE,
                               NULL);
    if (code != SQLITE_OK) {
        rc = wd_diag_set(diag, code == SQLITE_NOMEM ? WD_ENOMEM : WD_EDB, NULL, 0, 0,
                         "store: cannot open %s: %s", target,
                         q->db != NULL ? sqlite3_errmsg(q->db) : sqlite3_errstr(code));
        goto out;
    }
    (void)sqlite3_extended_result_codes(q->db, 1);
    q->busy_timeout = o->busy_timeout_ms;
    (void)sqlite3_busy_handler(q->db, sq_busy, q);
    WD_CHECK(sq_pragma(st, "PRAGMA journal_mode=WAL", mode, sizeof(mode)));
    if (strcmp(mode, memory ? "memory" : "wal") != 0) {
        rc = wd_store_fail(st, WD_EDB, "sqlite", "cannot switch the database to WAL mode");
        goto out;
    }
    WD_CHECK(sq_exec(st, "PRAGMA foreign_keys=ON"));
    WD_CHECK(sq_exec(st, o->sync_normal ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL"));
    /* Do not let a schema's triggers or views call functions with side effects. */
    WD_CHECK(sq_exec(st, "PRAGMA trusted_schema=OFF"));
out:
    if (rc != WD_OK) {
        if (rc != WD_ENOMEM && st->err.msg[0] != '\0') {
            rc = wd_diag_set(diag, rc, NULL, 0, 0, "store: %s: %s", target, st->err.msg);
        }
        sq_close(st);
    }
    return rc;
}

static int sq_query(struct wd_store *st, enum store_stmt id, const struct sp *p, size_t n)
{
    struct sq *q = sq_of(st);
    sqlite3_stmt *s = q->cache[id];
    WD_BUG_ON(q->cur != NULL);
    if (s == NULL) {
        int code = sqlite3_prepare_v3(q->db, wd_store_sql(id), -1, SQLITE_PREPARE_PERSISTENT, &s,
                                      NULL);
        if (code != SQLITE_OK) {
            return sq_fail_db(st, code);
        }
        q->cache[id] = s;
    }
    WD_BUG_ON((size_t)sqlite3_bind_parameter_count(s) != n);
    for (size_t i = 0; i < n; i++) {
        char name[24];
        int code;
        (void)snprintf(name, sizeof(name), "$%zu", i + 1);
        int idx = sqlite3_bind_parameter_index(s, name);
        WD_BUG_ON(idx == 0);
        switch (p[i].t) {
        case SP_NULL:
            code = sqlite3_bind_null(s, idx);
            break;
        case SP_INT:
            code = sqlite3_bind_int64(s, idx, p[i].i);
            break;
        case SP_TEXT:
            code = sqlite3_bind_text(s, idx, p[i].s, -1, SQLITE_STATIC);
            break;
        case SP_BLOB:
        default:
            /* A NULL pointer would bind SQL NULL; an empty blob is a zero-length blob. */
            code = p[i].n == 0 ? sqlite3_bind_zeroblob(s, idx, 0)
                               : sqlite3_bind_blob64(s, idx, p[i].b, p[i].n, SQLITE_STATIC);
            break;
        }
        if (code != SQLITE_OK) {
            (void)sqlite3_clear_bindings(s);
            return sq_fail_db(st, code);
        }
    }
    q->cur = s;
    return WD_OK;
}

static int sq_next(struct wd_store *st)
{
    struct sq *q = sq_of(st);
    if (q->cur == NULL) {
        return 0;
    }
    int code = sqlite3_step(q->cur);
    if (code == SQLITE_ROW) {
        return 1;
    }
    if (code == SQLITE_DONE) {
        return 0;
    }
    return sq_fail_db(st, sqlite3_extended_errcode(q->db));
}

static void sq_done(struct wd_store *st)
{
    struct sq *q = sq_of(st);
    if (q->cur == NULL) {
        return;
    }
    /* reset repeats the last step's error, already reported by next. */
    (void)sqlite3_reset(q->cur);
    (void)sqlite3_clear_bindings(q->cur);
    q->cur = NULL;
}

static bool sq_is_null(struct wd_store *st, int col)
{
    return sqlite3_column_type(sq_of(st)->cur, col) == SQLITE_NULL;
}

static int64_t sq_col_int(struct wd_store *st, int col)
{
    return sqlite3_column_int64(sq_of(st)->cur, col);
}

static const char *sq_col_text(struct wd_store *st, int col)
{
    const unsigned char *t = sqlite3_column_text(sq_of(st)->cur, col);
    return t != NULL ? (const char *)t : "";
}

static const uint8_t *sq_col_blob(struct wd_store *st, int col, size_t *len)
{
    sqlite3_stmt *s = sq_of(st)->cur;
    const uint8_t *b = sqlite3_column_blob(s, col);
    int n = sqlite3_column_bytes(s, col);
    *len = b != NULL && n > 0 ? (size_t)n : 0;
    return *len > 0 ? b : NULL;
}

static int sq_check(struct wd_store *st)
{
    char res[64];
    WD_TRY(sq_pragma(st, "PRAGMA integrity_check", res, sizeof(res)));
    if (strcmp(res, "ok") != 0) {
        return wd_store_fail(st, WD_EDB, "sqlite integrity_check", res);
    }
    return WD_OK;
}

const struct store_backend wd_store_sqlite_backend = {
        .name = "sqlite",
        .open = sq_open,
        .close = sq_close,
        .exec = sq_exec,
        .query = sq_query,
        .next = sq_next,
        .done = sq_done,
        .is_null = sq_is_null,
        .col_int = sq_col_int,
        .col_text = sq_col_text,
        .col_blob = sq_col_blob,
        .check = sq_check,
        .begin_sql = "BEGIN IMMEDIATE",
        .migrate_lock = NULL,
        .migrations = wd_store_sqlite_migrations,
};
