/*
 * The schema, as migrations per backend. Migration v brings a database from version v-1 to
 * v; it runs inside the migration transaction together with the schema_version row that
 * records it (store.c). Never edit a released migration: add a new one and raise
 * WD_STORE_SCHEMA_VERSION. The two lists must describe the same tables, columns and
 * constraints; only the types differ:
 *
 *   SQLite        PostgreSQL
 *   INTEGER       BIGINT (all integers and 0/1 flags)
 *   BLOB          BYTEA
 *   TEXT          TEXT COLLATE "C" (byte order, as SQLite's BINARY, whatever the locale)
 *   INTEGER PRIMARY KEY [AUTOINCREMENT] BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY
 *
 * audit.id is a plain SQLite rowid key (max + 1), not AUTOINCREMENT: audit rows are only
 * appended (or purged oldest first), so ids are never reused, and AUTOINCREMENT would add a
 * sqlite_sequence page write to every issuance transaction.
 *
 * Times are Unix seconds (audit.time_ms: milliseconds), always supplied by the caller.
 */
#include "store/store_int.h"

/* v1: trust domain, CA material, nodes, attestation sessions, join tokens, entries, SVIDs. */
#define SQLITE_V1                                                             \
    "CREATE TABLE trust_domain ("                                             \
    " id INTEGER PRIMARY KEY CHECK (id = 1),"                                 \
    " name TEXT NOT NULL,"                                                    \
    " bundle_seq INTEGER NOT NULL DEFAULT 0,"                                 \
    " created_at INTEGER NOT NULL);"                                          \
    "CREATE TABLE ca ("                                                       \
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"                                  \
    " cert_pem TEXT NOT NULL,"                                                \
    " key_ref TEXT,"                                                          \
    " not_after INTEGER NOT NULL,"                                            \
    " created_at INTEGER NOT NULL);"                                          \
    "CREATE TABLE nodes ("                                                    \
    " name TEXT PRIMARY KEY,"                                                 \
    " attestation TEXT NOT NULL,"                                             \
    " ek_hash BLOB UNIQUE CHECK (ek_hash IS NULL OR length(ek_hash) = 32),"   \
    " ak_pub BLOB,"                                                           \
    " ak_name BLOB,"                                                          \
    " clock INTEGER NOT NULL DEFAULT 0 CHECK (clock >= 0),"                   \
    " reset_count INTEGER NOT NULL DEFAULT 0 CHECK (reset_count >= 0),"       \
    " restart_count INTEGER NOT NULL DEFAULT 0 CHECK (restart_count >= 0),"   \
    " trusted INTEGER NOT NULL DEFAULT 0 CHECK (trusted IN (0, 1)),"          \
    " last_attested INTEGER NOT NULL DEFAULT 0,"                              \
    " pcr_policy TEXT,"                                                       \
    " created_at INTEGER NOT NULL,"                                           \
    " updated_at INTEGER NOT NULL);"                                          \
    "CREATE TABLE sessions ("                                                 \
    " id TEXT PRIMARY KEY,"                                                   \
    " node TEXT,"                                                             \
    " nonce BLOB NOT NULL,"                                                   \
    " state BLOB,"                                                            \
    " created_at INTEGER NOT NULL,"                                           \
    " deadline INTEGER NOT NULL,"                                             \
    " used INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1)));"               \
    "CREATE INDEX sessions_deadline ON sessions (deadline);"                  \
    "CREATE TABLE join_tokens ("                                              \
    " hash BLOB PRIMARY KEY CHECK (length(hash) = 32),"                       \
    " node TEXT,"                                                             \
    " created_at INTEGER NOT NULL,"                                           \
    " expires_at INTEGER NOT NULL,"                                           \
    " used_at INTEGER);"                                                      \
    "CREATE TABLE entries ("                                                  \
    " id TEXT PRIMARY KEY,"                                                   \
    " spiffe_id TEXT NOT NULL,"                                               \
    " node TEXT NOT NULL,"                                                    \
    " sel_uid INTEGER,"                                                       \
    " sel_gid INTEGER,"                                                       \
    " sel_path TEXT,"                                                         \
    " sel_sha256 BLOB CHECK (sel_sha256 IS NULL OR length(sel_sha256) = 32)," \
    " ttl INTEGER NOT NULL CHECK (ttl > 0),"                                  \
    " created_at INTEGER NOT NULL,"                                           \
    " UNIQUE (spiffe_id, node));"                                             \
    "CREATE INDEX entries_node ON entries (node);"                            \
    "CREATE TABLE svids ("                                                    \
    " serial BLOB PRIMARY KEY,"                                               \
    " spiffe_id TEXT NOT NULL,"                                               \
    " node TEXT NOT NULL,"                                                    \
    " entry_id TEXT,"                                                         \
    " not_after INTEGER NOT NULL,"                                            \
    " issued_at INTEGER NOT NULL) WITHOUT ROWID;"

#define PG_V1                                                                        \
    "CREATE TABLE trust_domain ("                                                    \
    " id BIGINT PRIMARY KEY CHECK (id = 1),"                                         \
    " name TEXT COLLATE \"C\" NOT NULL,"                                             \
    " bundle_seq BIGINT NOT NULL DEFAULT 0,"                                         \
    " created_at BIGINT NOT NULL);"                                                  \
    "CREATE TABLE ca ("                                                              \
    " id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"                           \
    " cert_pem TEXT NOT NULL,"                                                       \
    " key_ref TEXT,"                                                                 \
    " not_after BIGINT NOT NULL,"                                                    \
    " created_at BIGINT NOT NULL);"                                                  \
    "CREATE TABLE nodes ("                                                           \
    " name TEXT COLLATE \"C\" PRIMARY KEY,"                                          \
    " attestation TEXT NOT NULL,"                                                    \
    " ek_hash BYTEA UNIQUE CHECK (ek_hash IS NULL OR octet_length(ek_hash) = 32),"   \
    " ak_pub BYTEA,"                                                                 \
    " ak_name BYTEA,"                                                                \
    " clock BIGINT NOT NULL DEFAULT 0 CHECK (clock >= 0),"                           \
    " reset_count BIGINT NOT NULL DEFAULT 0 CHECK (reset_count >= 0),"               \
    " restart_count BIGINT NOT NULL DEFAULT 0 CHECK (restart_count >= 0),"           \
    " trusted BIGINT NOT NULL DEFAULT 0 CHECK (trusted IN (0, 1)),"                  \
    " last_attested BIGINT NOT NULL DEFAULT 0,"                                      \
    " pcr_policy TEXT,"                                                              \
    " created_at BIGINT NOT NULL,"                                                   \
    " updated_at BIGINT NOT NULL);"                                                  \
    "CREATE TABLE sessions ("                                                        \
    " id TEXT COLLATE \"C\" PRIMARY KEY,"                                            \
    " node TEXT COLLATE \"C\","                                                      \
    " nonce BYTEA NOT NULL,"                                                         \
    " state BYTEA,"                                                                  \
    " created_at BIGINT NOT NULL,"                                                   \
    " deadline BIGINT NOT NULL,"                                                     \
    " used BIGINT NOT NULL DEFAULT 0 CHECK (used IN (0, 1)));"                       \
    "CREATE INDEX sessions_deadline ON sessions (deadline);"                         \
    "CREATE TABLE join_tokens ("                                                     \
    " hash BYTEA PRIMARY KEY CHECK (octet_length(hash) = 32),"                       \
    " node TEXT COLLATE \"C\","                                                      \
    " created_at BIGINT NOT NULL,"                                                   \
    " expires_at BIGINT NOT NULL,"                                                   \
    " used_at BIGINT);"                                                              \
    "CREATE TABLE entries ("                                                         \
    " id TEXT COLLATE \"C\" PRIMARY KEY,"                                            \
    " spiffe_id TEXT COLLATE \"C\" NOT NULL,"                                        \
    " node TEXT COLLATE \"C\" NOT NULL,"                                             \
    " sel_uid BIGINT,"                                                               \
    " sel_gid BIGINT,"                                                               \
    " sel_path TEXT COLLATE \"C\","                                                  \
    " sel_sha256 BYTEA CHECK (sel_sha256 IS NULL OR octet_length(sel_sha256) = 32)," \
    " ttl BIGINT NOT NULL CHECK (ttl > 0),"                                          \
    " created_at BIGINT NOT NULL,"                                                   \
    " UNIQUE (spiffe_id, node));"                                                    \
    "CREATE INDEX entries_node ON entries (node);"                                   \
    "CREATE TABLE svids ("                                                           \
    " serial BYTEA PRIMARY KEY,"                                                     \
    " spiffe_id TEXT COLLATE \"C\" NOT NULL,"                                        \
    " node TEXT COLLATE \"C\" NOT NULL,"                                             \
    " entry_id TEXT COLLATE \"C\","                                                  \
    " not_after BIGINT NOT NULL,"                                                    \
    " issued_at BIGINT NOT NULL);"

/*
 * v2: the deny list with its change counter, and audit events. The counter row is what
 * deny-list writers lock first, so sequence numbers follow commit order.
 */
#define SQLITE_V2                                                                          \
    "CREATE TABLE counters ("                                                              \
    " name TEXT PRIMARY KEY,"                                                              \
    " value INTEGER NOT NULL);"                                                            \
    "INSERT INTO counters (name, value) VALUES ('denylist', 0);"                           \
    "CREATE TABLE denylist ("                                                              \
    " kind TEXT NOT NULL CHECK (kind IN ('spiffe_id', 'node')),"                           \
    " subject TEXT NOT NULL,"                                                              \
    " reason TEXT,"                                                                        \
    " changed_at INTEGER NOT NULL,"                                                        \
    " seq INTEGER NOT NULL UNIQUE,"                                                        \
    " active INTEGER NOT NULL CHECK (active IN (0, 1)),"                                   \
    " PRIMARY KEY (kind, subject));"                                                       \
    "CREATE TABLE audit ("                                                                 \
    " id INTEGER PRIMARY KEY,"                                                             \
    " time_ms INTEGER NOT NULL,"                                                           \
    " kind TEXT NOT NULL CHECK (kind IN ('attestation', 'issuance', 'refusal', 'admin'))," \
    " actor TEXT,"                                                                         \
    " subject TEXT,"                                                                       \
    " reason TEXT,"                                                                        \
    " details TEXT);"

#define PG_V2                                                                  \
    "CREATE TABLE counters ("                                                  \
    " name TEXT COLLATE \"C\" PRIMARY KEY,"                                    \
    " value BIGINT NOT NULL);"                                                 \
    "INSERT INTO counters (name, value) VALUES ('denylist', 0);"               \
    "CREATE TABLE denylist ("                                                  \
    " kind TEXT COLLATE \"C\" NOT NULL CHECK (kind IN ('spiffe_id', 'node'))," \
    " subject TEXT COLLATE \"C\" NOT NULL,"                                    \
    " reason TEXT,"                                                            \
    " changed_at BIGINT NOT NULL,"                                             \
    " seq BIGINT NOT NULL UNIQUE,"                                             \
    " active BIGINT NOT NULL CHECK (active IN (0, 1)),"                        \
    " PRIMARY KEY (kind, subject));"                                           \
    "CREATE TABLE audit ("                                                     \
    " id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"                     \
    " time_ms BIGINT NOT NULL,"                                                \
    " kind TEXT COLLATE \"C\" NOT NULL"                                        \
    "  CHECK (kind IN ('attestation', 'issuance', 'refusal', 'admin')),"       \
    " actor TEXT,"                                                             \
    " subject TEXT,"                                                           \
    " reason TEXT,"                                                            \
    " details TEXT);"

const char *const wd_store_sqlite_migrations[WD_STORE_SCHEMA_VERSION] = {
        SQLITE_V1,
        SQLITE_V2,
};

const char *const wd_store_pg_migrations[WD_STORE_SCHEMA_VERSION] = {
        PG_V1,
        PG_V2,
};
