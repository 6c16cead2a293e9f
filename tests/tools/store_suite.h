/*
 * The store test suite, shared by both backends: tests/unit/test_store_sqlite.c runs it
 * against a temp SQLite file, tests/tools/store_test.c against any URL (the integration
 * test 040-store-postgres.sh gives it a PostgreSQL it started). Include it (it brings
 * tests/unit/harness.h), set suite_url, then call store_suite_run().
 *
 * Every test starts from an empty database (suite_reset) and reads and writes through the
 * public API; only a few checks look at the raw tables (through sqlite3 / libpq directly)
 * to prove what is stored, or to plant a future schema version.
 */
#ifndef WD_STORE_SUITE_H
#define WD_STORE_SUITE_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "warden/alloc.h"
#include "warden/rand.h"
#include "warden/store.h"

#include "../unit/harness.h"
#include "store/store_int.h"

static const char *suite_url;

static bool suite_is_pg(void)
{
    return strncmp(suite_url, "postgres", 8) == 0;
}

/* ---- raw access to the database behind suite_url ---- */

static void raw_notice_drop(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* Run SQL text directly (not through the store); 0 on success. */
static int raw_exec(const char *sql)
{
    const struct store_backend *be = NULL;
    struct store_opts o;
    char *target = NULL;
    int rc = -1;
    if (wd_store_parse_url(suite_url, &be, &target, &o, NULL) != WD_OK) {
        return -1;
    }
    if (be == &wd_store_pg_backend) {
        PGconn *c = PQconnectdb(target);
        if (PQstatus(c) == CONNECTION_OK) {
            PQsetNoticeProcessor(c, raw_notice_drop, NULL);
            PGresult *r = PQexec(c, sql);
            ExecStatusType s = PQresultStatus(r);
            rc = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? 0 : -1;
            if (rc != 0) {
                printf("raw_exec: %s", PQerrorMessage(c));
            }
            PQclear(r);
        }
        PQfinish(c);
    } else {
        sqlite3 *db = NULL;
        if (sqlite3_open(target, &db) == SQLITE_OK) {
            sqlite3_busy_timeout(db, 5000);
            rc = sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
        }
        sqlite3_close(db);
    }
    wd_free(target);
    return rc;
}

/* The first column of the first row of a query as an integer; -1 on failure. */
static long long raw_int(const char *sql)
{
    const struct store_backend *be = NULL;
    struct store_opts o;
    char *target = NULL;
    long long v = -1;
    if (wd_store_parse_url(suite_url, &be, &target, &o, NULL) != WD_OK) {
        return -1;
    }
    if (be == &wd_store_pg_backend) {
        PGconn *c = PQconnectdb(target);
        if (PQstatus(c) == CONNECTION_OK) {
            PGresult *r = PQexec(c, sql);
            if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
                v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
            }
            PQclear(r);
        }
        PQfinish(c);
    } else {
        sqlite3 *db = NULL;
        sqlite3_stmt *s = NULL;
        if (sqlite3_open(target, &db) == SQLITE_OK
            && sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK
            && sqlite3_step(s) == SQLITE_ROW) {
            v = sqlite3_column_int64(s, 0);
        }
        sqlite3_finalize(s);
        sqlite3_close(db);
    }
    wd_free(target);
    return v;
}

/* Empty the database: remove the SQLite files, or drop every table in PostgreSQL. */
static int suite_reset(void)
{
    if (suite_is_pg()) {
        return raw_exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    }
    const struct store_backend *be = NULL;
    struct store_opts o;
    char *target = NULL;
    char path[4096];
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    if (wd_store_parse_url(suite_url, &be, &target, &o, NULL) != WD_OK) {
        return -1;
    }
    for (size_t i = 0; i < WD_ARRAY_LEN(suffix); i++) {
        (void)snprintf(path, sizeof(path), "%s%s", target, suffix[i]);
        if (unlink(path) == -1 && errno != ENOENT) {
            wd_free(target);
            return -1;
        }
    }
    wd_free(target);
    return 0;
}

static int suite_open(struct wd_store **st)
{
    struct wd_diag d = {{0}};
    int rc = wd_store_open(suite_url, st, &d);
    if (rc != WD_OK) {
        printf("open %s: %s (%s)\n", suite_is_pg() ? "postgresql" : "sqlite", d.msg,
               wd_strerror(rc));
    }
    return rc;
}

/* A fresh database and an open handle on it. */
#define FRESH(st)                    \
    do {                             \
        CHECK_EQ(suite_reset(), 0);  \
        CHECK_OK(suite_open(&(st))); \
    } while (0)

/* ---- schema and migrations ---- */

TEST(migrate_from_empty)
{
    struct wd_store *st = NULL;
    int v = 0;
    FRESH(st);
    CHECK_OK(wd_store_schema_version(st, &v));
    CHECK_EQ(v, WD_STORE_SCHEMA_VERSION);
    CHECK_STR(wd_store_backend(st), suite_is_pg() ? "postgresql" : "sqlite");
    CHECK_OK(wd_store_check(st));
    wd_store_close(st);
    CHECK_EQ(raw_int("SELECT COUNT(*) FROM schema_version"), WD_STORE_SCHEMA_VERSION);
    if (!suite_is_pg()) {
        CHECK_EQ(raw_int("SELECT COUNT(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
    }
}

TEST(reopen_is_noop)
{
    struct wd_store *st = NULL;
    char *name = NULL;
    int64_t seq = -1;
    int v = 0;
    FRESH(st);
    CHECK_OK(wd_store_td_init(st, "example.org", 100));
    wd_store_close(st);
    st = NULL;
    CHECK_OK(suite_open(&st));
    CHECK_OK(wd_store_schema_version(st, &v));
    CHECK_EQ(v, WD_STORE_SCHEMA_VERSION);
    CHECK_OK(wd_store_td_get(st, &name, &seq));
    CHECK_STR(name, "example.org");
    CHECK_EQ(seq, 0);
    wd_free(name);
    wd_store_close(st);
    CHECK_EQ(raw_int("SELECT COUNT(*) FROM schema_version"), WD_STORE_SCHEMA_VERSION);
}

TEST(upgrade_from_v1)
{
    struct wd_store *st = NULL;
    int v = 0;
    int64_t seq = 0;
    CHECK_EQ(suite_reset(), 0);
    wd_store_migrate_limit = 1;
    int rc = suite_open(&st);
    wd_store_migrate_limit = 0;
    CHECK_OK(rc);
    CHECK_OK(wd_store_schema_version(st, &v));
    CHECK_EQ(v, 1);
    CHECK_OK(wd_store_td_init(st, "old.example", 1));
    wd_store_close(st);
    st = NULL;
    /* v2 tables do not exist yet. */
    CHECK_EQ(raw_int("SELECT COUNT(*) FROM audit"), -1);
    CHECK_OK(suite_open(&st));
    CHECK_OK(wd_store_schema_version(st, &v));
    CHECK_EQ(v, WD_STORE_SCHEMA_VERSION);
    CHECK_OK(wd_store_deny_add(st, WD_DENY_SPIFFE_ID, "spiffe://old.example/a", "r", 2, &seq));
    CHECK_EQ(seq, 1);
    wd_store_close(st);
    CHECK_EQ(raw_int("SELECT COUNT(*) FROM trust_domain"), 1);
}

TEST(future_schema_refused)
{
    struct wd_store *st = NULL;
    struct wd_diag d = {{0}};
    FRESH(st);
    wd_store_close(st);
    st = NULL;
    CHECK_EQ(raw_exec("INSERT INTO schema_version (version, applied_at) VALUES (99, 0)"), 0);
    CHECK_ERR(wd_store_open(suite_url, &st, &d), WD_EDB);
    CHECK(st == NULL);
    CHECK(strstr(d.msg, "schema version 99 is newer than this warden") != NULL);
    /* Refusing changed nothing. */
    CHECK_EQ(raw_int("SELECT MAX(version) FROM schema_version"), 99);
    CHECK_EQ(raw_int("SELECT COUNT(*) FROM schema_version"), WD_STORE_SCHEMA_VERSION + 1);
}

struct open_race {
    pthread_barrier_t *bar;
    int rc;
};

static void *open_race_main(void *arg)
{
    struct open_race *r = arg;
    struct wd_store *st = NULL;
    (void)pthread_barrier_wait(r->bar);
    r->rc = wd_store_open(suite_url, &st, NULL);
    wd_store_close(st);
    return NULL;
}

/* Replicas starting together on an empty database: one migrates, the others wait. */
TEST(concurrent_open_migrates_once)
{
    enum { N = 4 };
    pthread_t th[N];
    struct open_race r[N];
    pthread_barrier_t bar;
    CHECK_EQ(suite_reset(), 0);
    CHECK_EQ(pthread_barrier_init(&bar, NULL, N), 0);
    for (int i = 0; i < N; i++) {
        r[i] = (struct open_race){.bar = &bar, .rc = -999};
        CHECK_EQ(pthread_create(&th[i], NULL, open_race_main, &r[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        (void)pthread_join(th[i], NULL);
    }
    (void)pthread_barrier_destroy(&bar);
    for (int i = 0; i < N; i++) {
        CHECK_OK(r[i].rc);
    }
    CHECK_EQ(raw_int("SELECT COUNT(*) FROM schema_version"), WD_STORE_SCHEMA_VERSION);
    CHECK_EQ(raw_int("SELECT COUNT(*) FROM counters"), 1);
}

/* ---- trust domain and CA ---- */

TEST(trust_domain_and_ca)
{
    struct wd_store *st = NULL;
    struct wd_store_ca *cas = NULL;
    size_t n = 0;
    char *name = NULL;
    int64_t seq = -1, id1 = 0, id2 = 0;
    FRESH(st);
    CHECK_ERR(wd_store_td_get(st, &name, &seq), WD_ENOENT);
    CHECK_ERR(wd_store_ca_add(st, "PEM", NULL, 10, 1, &id1, &seq), WD_ENOENT);
    CHECK_OK(wd_store_td_init(st, "example.org", 1));
    CHECK_ERR(wd_store_td_init(st, "other.org", 2), WD_EEXIST);
    CHECK_ERR(wd_store_td_init(st, "", 2), WD_EINVAL);
    CHECK_OK(wd_store_ca_add(st, "-----BEGIN CERTIFICATE-----\nA\n", "/etc/warden/ca.key", 1000, 5,
                             &id1, &seq));
    CHECK_EQ(seq, 1);
    CHECK_OK(wd_store_ca_add(st, "-----BEGIN CERTIFICATE-----\nB\n", NULL, 2000, 6, &id2, &seq));
    CHECK_EQ(seq, 2);
    CHECK(id2 > id1);
    CHECK_OK(wd_store_td_get(st, &name, &seq));
    CHECK_STR(name, "example.org");
    CHECK_EQ(seq, 2);
    wd_free(name);
    CHECK_OK(wd_store_ca_list(st, &cas, &n));
    CHECK_EQ(n, 2);
    CHECK_EQ(cas[0].id, id1);
    CHECK_STR(cas[0].cert_pem, "-----BEGIN CERTIFICATE-----\nA\n");
    CHECK_STR(cas[0].key_ref, "/etc/warden/ca.key");
    CHECK_EQ(cas[0].not_after, 1000);
    CHECK_EQ(cas[0].created_at, 5);
    CHECK(cas[1].key_ref == NULL);
    wd_store_cas_free(cas, n);
    wd_store_close(st);
}

/* ---- nodes ---- */

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(seed + i * 7);
    }
}

static struct wd_store_node tpm_node(const char *name, uint8_t ek_seed, uint8_t *ak, size_t aklen)
{
    struct wd_store_node n;
    memset(&n, 0, sizeof(n));
    n.name = name;
    n.attestation = "tpm";
    n.has_ek_hash = true;
    fill(n.ek_hash, sizeof(n.ek_hash), ek_seed);
    n.ak_pub = ak;
    n.ak_pub_len = aklen;
    n.ak_name = ak;
    n.ak_name_len = aklen < 34 ? aklen : 34;
    n.pcr_policy = "edge-default";
    return n;
}

TEST(nodes)
{
    struct wd_store *st = NULL;
    struct wd_store_node got, *list = NULL;
    size_t n = 0;
    uint8_t ak1[300], ak2[200], zero_ek[32];
    fill(ak1, sizeof(ak1), 1);
    fill(ak2, sizeof(ak2), 2);
    memset(zero_ek, 0, sizeof(zero_ek));
    memset(&got, 0, sizeof(got));
    FRESH(st);

    struct wd_store_node a = tpm_node("edge-b", 10, ak1, sizeof(ak1));
    a.clock = 5000;
    a.reset_count = 3;
    a.restart_count = 1;
    a.trusted = true;
    a.last_attested = 50;
    CHECK_OK(wd_store_node_upsert(st, &a, 100));
    CHECK_OK(wd_store_node_get(st, "edge-b", &got));
    CHECK_STR(got.name, "edge-b");
    CHECK_STR(got.attestation, "tpm");
    CHECK(got.has_ek_hash);
    CHECK_MEM(got.ek_hash, a.ek_hash, 32);
    CHECK_EQ(got.ak_pub_len, sizeof(ak1));
    CHECK_MEM(got.ak_pub, ak1, sizeof(ak1));
    CHECK_EQ(got.ak_name_len, 34);
    CHECK_EQ(got.clock, 5000);
    CHECK_EQ(got.reset_count, 3);
    CHECK_EQ(got.restart_count, 1);
    CHECK(got.trusted);
    CHECK_EQ(got.last_attested, 50);
    CHECK_STR(got.pcr_policy, "edge-default");
    CHECK_EQ(got.created_at, 100);
    CHECK_EQ(got.updated_at, 100);
    wd_store_node_cleanup(&got);

    CHECK_OK(wd_store_node_get_by_ek(st, a.ek_hash, &got));
    CHECK_STR(got.name, "edge-b");
    wd_store_node_cleanup(&got);
    CHECK_ERR(wd_store_node_get_by_ek(st, zero_ek, &got), WD_ENOENT);
    CHECK_ERR(wd_store_node_get(st, "nope", &got), WD_ENOENT);

    /* Same name, same EK: re-enrolment replaces the AK, keeps created_at and trust. */
    struct wd_store_node a2 = tpm_node("edge-b", 10, ak2, sizeof(ak2));
    a2.trusted = false;
    CHECK_OK(wd_store_node_upsert(st, &a2, 200));
    CHECK_OK(wd_store_node_get(st, "edge-b", &got));
    CHECK_EQ(got.ak_pub_len, sizeof(ak2));
    CHECK_MEM(got.ak_pub, ak2, sizeof(ak2));
    CHECK_EQ(got.clock, 0);
    CHECK(got.trusted);
    CHECK_EQ(got.created_at, 100);
    CHECK_EQ(got.updated_at, 200);
    wd_store_node_cleanup(&got);

    /* Same name, another TPM: refused, nothing changed. */
    struct wd_store_node evil = tpm_node("edge-b", 99, ak1, sizeof(ak1));
    CHECK_ERR(wd_store_node_upsert(st, &evil, 300), WD_EEXIST);
    CHECK(strstr(wd_store_error(st), "different endorsement key") != NULL);
    /* Same EK under another name: refused by the UNIQUE constraint. */
    struct wd_store_node twin = tpm_node("edge-twin", 10, ak1, sizeof(ak1));
    CHECK_ERR(wd_store_node_upsert(st, &twin, 300), WD_EEXIST);
    CHECK_OK(wd_store_node_get(st, "edge-b", &got));
    CHECK_EQ(got.updated_at, 200);
    wd_store_node_cleanup(&got);

    /* Join-token nodes have no EK; they can re-enrol, and a TPM cannot take them over. */
    struct wd_store_node j;
    memset(&j, 0, sizeof(j));
    j.name = "Edge-A";
    j.attestation = "join-token";
    CHECK_OK(wd_store_node_upsert(st, &j, 10));
    CHECK_OK(wd_store_node_upsert(st, &j, 11));
    struct wd_store_node jt = tpm_node("Edge-A", 77, ak1, 10);
    CHECK_ERR(wd_store_node_upsert(st, &jt, 12), WD_EEXIST);
    CHECK_OK(wd_store_node_get(st, "Edge-A", &got));
    CHECK(!got.has_ek_hash);
    CHECK(got.ak_pub == NULL && got.ak_pub_len == 0);
    CHECK(got.pcr_policy == NULL);
    CHECK(!got.trusted);
    wd_store_node_cleanup(&got);
    struct wd_store_node c = tpm_node("edge-c", 30, ak1, 1);
    CHECK_OK(wd_store_node_upsert(st, &c, 13));

    /* Byte order, whatever the database's locale. */
    CHECK_OK(wd_store_node_list(st, &list, &n));
    CHECK_EQ(n, 3);
    CHECK_STR(list[0].name, "Edge-A");
    CHECK_STR(list[1].name, "edge-b");
    CHECK_STR(list[2].name, "edge-c");
    wd_store_nodes_free(list, n);

    CHECK_OK(wd_store_node_delete(st, "edge-c"));
    CHECK_ERR(wd_store_node_delete(st, "edge-c"), WD_ENOENT);
    CHECK_ERR(wd_store_node_get(st, "edge-c", &got), WD_ENOENT);

    /* Caller errors. */
    struct wd_store_node bad = a;
    bad.name = "";
    CHECK_ERR(wd_store_node_upsert(st, &bad, 1), WD_EINVAL);
    char longname[WD_STORE_NAME_MAX + 2];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    bad.name = longname;
    CHECK_ERR(wd_store_node_upsert(st, &bad, 1), WD_EINVAL);
    /* Text must be UTF-8 (PostgreSQL would refuse it; SQLite would store it). */
    static const char *const not_utf8[] = {"edge\xff",         "\xc0\xaf", "\xed\xa0\x80",
                                           "\xf4\x90\x80\x80", "\xe2\x82", "\x80"};
    for (size_t i = 0; i < WD_ARRAY_LEN(not_utf8); i++) {
        bad.name = not_utf8[i];
        CHECK_ERR(wd_store_node_upsert(st, &bad, 1), WD_EINVAL);
    }
    bad.name = "n\xc3\xa9ud-\xe2\x82\xac-\xf0\x9f\x94\x92"; /* "néud-€-🔒" */
    bad.has_ek_hash = false;
    CHECK_OK(wd_store_node_upsert(st, &bad, 1));
    CHECK_OK(wd_store_node_get(st, bad.name, &got));
    CHECK_STR(got.name, bad.name);
    wd_store_node_cleanup(&got);
    bad = a;
    bad.pcr_policy = "\xff";
    CHECK_ERR(wd_store_node_upsert(st, &bad, 1), WD_EINVAL);
    bad = a;
    bad.clock = (uint64_t)INT64_MAX + 1;
    CHECK_ERR(wd_store_node_upsert(st, &bad, 1), WD_EINVAL);
    bad = a;
    bad.ak_pub = NULL;
    CHECK_ERR(wd_store_node_upsert(st, &bad, 1), WD_EINVAL);
    CHECK_ERR(wd_store_node_upsert(st, NULL, 1), WD_EINVAL);
    wd_store_close(st);
}

TEST(node_counters)
{
    struct wd_store *st = NULL;
    struct wd_store_node got;
    uint8_t ak[8] = {1};
    FRESH(st);
    struct wd_store_node a = tpm_node("n1", 1, ak, sizeof(ak));
    a.clock = 1000;
    a.reset_count = 2;
    a.restart_count = 5;
    CHECK_OK(wd_store_node_upsert(st, &a, 1));
    CHECK_ERR(wd_store_node_update_counters(st, "n1", 1000, 2, 5, 10), WD_EDENIED); /* replay */
    CHECK_ERR(wd_store_node_update_counters(st, "n1", 999, 2, 5, 10), WD_EDENIED);
    CHECK_ERR(wd_store_node_update_counters(st, "n1", 9999, 2, 4, 10), WD_EDENIED);
    CHECK_ERR(wd_store_node_update_counters(st, "n1", 9999, 1, 9, 10), WD_EDENIED);
    CHECK_OK(wd_store_node_update_counters(st, "n1", 1001, 2, 5, 20));
    CHECK_OK(wd_store_node_update_counters(st, "n1", 900, 2, 6, 21)); /* restart */
    CHECK_OK(wd_store_node_update_counters(st, "n1", 100, 3, 0, 22)); /* reset */
    CHECK_ERR(wd_store_node_update_counters(st, "n1", 5000, 2, 9, 23), WD_EDENIED);
    CHECK_ERR(wd_store_node_update_counters(st, "nx", 5000, 9, 9, 23), WD_ENOENT);
    CHECK_ERR(wd_store_node_update_counters(st, "n1", (uint64_t)INT64_MAX + 1, 9, 9, 23),
              WD_EINVAL);
    CHECK_OK(wd_store_node_get(st, "n1", &got));
    CHECK_EQ(got.clock, 100);
    CHECK_EQ(got.reset_count, 3);
    CHECK_EQ(got.restart_count, 0);
    CHECK_EQ(got.last_attested, 22);
    CHECK_EQ(got.updated_at, 22);
    wd_store_node_cleanup(&got);
    /* Large values survive the round trip (TPM clock is 64-bit, counters 32-bit). */
    CHECK_OK(wd_store_node_update_counters(st, "n1", (uint64_t)INT64_MAX, UINT32_MAX, UINT32_MAX,
                                           30));
    CHECK_OK(wd_store_node_get(st, "n1", &got));
    CHECK(got.clock == (uint64_t)INT64_MAX);
    CHECK(got.reset_count == UINT32_MAX);
    CHECK(got.restart_count == UINT32_MAX);
    wd_store_node_cleanup(&got);
    wd_store_close(st);
}

TEST(node_trust_and_deny_list)
{
    struct wd_store *st = NULL;
    struct wd_store_node got;
    struct wd_store_deny *d = NULL;
    size_t n = 0;
    int64_t seq = -1, seq2 = -1, cursor = -1;
    uint8_t ak[4] = {0};
    FRESH(st);
    struct wd_store_node a = tpm_node("n1", 1, ak, sizeof(ak));
    a.trusted = true;
    CHECK_OK(wd_store_node_upsert(st, &a, 1));
    CHECK_ERR(wd_store_node_set_trusted(st, "n1", false, NULL, 5, &seq), WD_EINVAL);
    CHECK_OK(wd_store_node_set_trusted(st, "n1", false, "pcr-mismatch", 5, &seq));
    CHECK_EQ(seq, 1);
    CHECK_OK(wd_store_node_get(st, "n1", &got));
    CHECK(!got.trusted);
    CHECK_EQ(got.updated_at, 5);
    wd_store_node_cleanup(&got);
    CHECK_OK(wd_store_deny_list_since(st, 0, 100, &d, &n, &cursor));
    CHECK_EQ(n, 1);
    CHECK_EQ(d[0].kind, WD_DENY_NODE);
    CHECK_STR(d[0].subject, "n1");
    CHECK_STR(d[0].reason, "pcr-mismatch");
    CHECK(d[0].active);
    CHECK_EQ(d[0].seq, 1);
    CHECK_EQ(d[0].time, 5);
    CHECK_EQ(cursor, 1);
    wd_store_denies_free(d, n);
    /* Again (the next missed heartbeat): no new change. */
    CHECK_OK(wd_store_node_set_trusted(st, "n1", false, "missed-heartbeat", 6, &seq2));
    CHECK_EQ(seq2, 1);
    CHECK_OK(wd_store_node_set_trusted(st, "n1", true, NULL, 7, &seq));
    CHECK_EQ(seq, 2);
    CHECK_OK(wd_store_deny_list_since(st, 1, 100, &d, &n, &cursor));
    CHECK_EQ(n, 1);
    CHECK(!d[0].active);
    CHECK_STR(d[0].reason, "pcr-mismatch");
    CHECK_EQ(d[0].seq, 2);
    CHECK_EQ(cursor, 2);
    wd_store_denies_free(d, n);
    CHECK_OK(wd_store_node_set_trusted(st, "n1", true, NULL, 8, &seq));
    CHECK_EQ(seq, 2);
    /* Unknown node: nothing happens, the deny list included (the transaction rolls back). */
    CHECK_ERR(wd_store_node_set_trusted(st, "ghost", false, "x", 9, &seq), WD_ENOENT);
    CHECK_OK(wd_store_deny_list_since(st, 0, 100, &d, &n, &cursor));
    CHECK_EQ(n, 1);
    CHECK_EQ(cursor, 2);
    wd_store_denies_free(d, n);
    wd_store_close(st);
}

TEST(deny_list)
{
    struct wd_store *st = NULL;
    struct wd_store_deny *d = NULL;
    size_t n = 0;
    int64_t seq = -1, cursor = -1;
    char subj[64];
    FRESH(st);
    CHECK_OK(wd_store_deny_list_since(st, 0, 10, &d, &n, &cursor));
    CHECK_EQ(n, 0);
    CHECK_EQ(cursor, 0);
    wd_store_denies_free(d, n);
    CHECK_OK(wd_store_deny_add(st, WD_DENY_SPIFFE_ID, "spiffe://td/a", "revoked", 10, &seq));
    CHECK_EQ(seq, 1);
    CHECK_OK(wd_store_deny_add(st, WD_DENY_SPIFFE_ID, "spiffe://td/a", "again", 11, &seq));
    CHECK_EQ(seq, 1);
    /* The same subject text under the other kind is another entry. */
    CHECK_OK(wd_store_deny_add(st, WD_DENY_NODE, "spiffe://td/a", NULL, 12, &seq));
    CHECK_EQ(seq, 2);
    CHECK_OK(wd_store_deny_remove(st, WD_DENY_SPIFFE_ID, "spiffe://td/a", 13, &seq));
    CHECK_EQ(seq, 3);
    CHECK_ERR(wd_store_deny_remove(st, WD_DENY_SPIFFE_ID, "spiffe://td/a", 14, &seq), WD_ENOENT);
    CHECK_ERR(wd_store_deny_remove(st, WD_DENY_SPIFFE_ID, "spiffe://td/zz", 14, &seq), WD_ENOENT);
    /* Re-adding a lifted entry is a new change. */
    CHECK_OK(wd_store_deny_add(st, WD_DENY_SPIFFE_ID, "spiffe://td/a", "back", 15, &seq));
    CHECK_EQ(seq, 4);
    for (int i = 0; i < 5; i++) {
        (void)snprintf(subj, sizeof(subj), "spiffe://td/w%d", i);
        CHECK_OK(wd_store_deny_add(st, WD_DENY_SPIFFE_ID, subj, "bulk", 20 + i, &seq));
    }
    CHECK_EQ(seq, 9);
    /* One row per subject, its latest change, in sequence order. */
    CHECK_OK(wd_store_deny_list_since(st, 0, 100, &d, &n, &cursor));
    CHECK_EQ(n, 7);
    CHECK_EQ(d[0].seq, 2);
    CHECK_EQ(d[0].kind, WD_DENY_NODE);
    CHECK(d[0].reason == NULL);
    CHECK_EQ(d[1].seq, 4);
    CHECK_STR(d[1].reason, "back");
    CHECK(d[1].active);
    CHECK_EQ(cursor, 9);
    wd_store_denies_free(d, n);
    /* Paging: a short page's cursor is its last row. */
    CHECK_OK(wd_store_deny_list_since(st, 0, 3, &d, &n, &cursor));
    CHECK_EQ(n, 3);
    CHECK_EQ(cursor, d[2].seq);
    CHECK_EQ(cursor, 5);
    wd_store_denies_free(d, n);
    CHECK_OK(wd_store_deny_list_since(st, cursor, 3, &d, &n, &cursor));
    CHECK_EQ(n, 3);
    CHECK_EQ(d[0].seq, 6);
    CHECK_EQ(cursor, 8);
    wd_store_denies_free(d, n);
    CHECK_OK(wd_store_deny_list_since(st, cursor, 3, &d, &n, &cursor));
    CHECK_EQ(n, 1);
    CHECK_EQ(cursor, 9);
    wd_store_denies_free(d, n);
    CHECK_OK(wd_store_deny_list_since(st, 9, 3, &d, &n, &cursor));
    CHECK_EQ(n, 0);
    CHECK_EQ(cursor, 9);
    wd_store_denies_free(d, n);
    /* Caller errors. */
    CHECK_ERR(wd_store_deny_add(st, (enum wd_deny_kind)7, "x", NULL, 1, NULL), WD_EINVAL);
    CHECK_ERR(wd_store_deny_add(st, WD_DENY_NODE, "", NULL, 1, NULL), WD_EINVAL);
    CHECK_ERR(wd_store_deny_list_since(st, 0, 0, &d, &n, NULL), WD_EINVAL);
    CHECK_ERR(wd_store_deny_list_since(st, 0, WD_STORE_LIST_MAX + 1, &d, &n, NULL), WD_EINVAL);
    CHECK(wd_deny_kind_name((enum wd_deny_kind)2) == NULL);
    wd_store_close(st);
}

/* ---- sessions and tokens ---- */

TEST(sessions)
{
    struct wd_store *st = NULL;
    struct wd_store_session s;
    char id[WD_STORE_ID_LEN + 1], id2[WD_STORE_ID_LEN + 1], id3[WD_STORE_ID_LEN + 1];
    uint8_t nonce[32], state[100];
    size_t purged = 0;
    fill(nonce, sizeof(nonce), 3);
    fill(state, sizeof(state), 4);
    memset(&s, 0, sizeof(s));
    FRESH(st);
    CHECK_OK(wd_store_session_create(st, "n1", nonce, sizeof(nonce), state, sizeof(state), 130, 100,
                                     id));
    CHECK_EQ(strlen(id), WD_STORE_ID_LEN);
    CHECK_OK(wd_store_session_create(st, NULL, nonce, 1, NULL, 0, 130, 100, id2));
    CHECK(strcmp(id, id2) != 0);
    /* Usable up to and including the deadline. */
    CHECK_OK(wd_store_session_consume(st, id, 130, &s));
    CHECK_STR(s.id, id);
    CHECK_STR(s.node, "n1");
    CHECK_EQ(s.nonce_len, sizeof(nonce));
    CHECK_MEM(s.nonce, nonce, sizeof(nonce));
    CHECK_EQ(s.state_len, sizeof(state));
    CHECK_MEM(s.state, state, sizeof(state));
    CHECK_EQ(s.created_at, 100);
    CHECK_EQ(s.deadline, 130);
    wd_store_session_cleanup(&s);
    CHECK_ERR(wd_store_session_consume(st, id, 110, &s), WD_EDENIED); /* replay */
    CHECK_ERR(wd_store_session_consume(st, id2, 131, &s), WD_EEXPIRED);
    CHECK_ERR(wd_store_session_consume(st, id2, 131, &s), WD_EEXPIRED);
    CHECK_ERR(wd_store_session_consume(st, "00000000000000000000000000000000", 100, &s), WD_ENOENT);
    CHECK_ERR(wd_store_session_consume(st, "nope", 100, &s), WD_ENOENT);
    CHECK_ERR(wd_store_session_consume(st, NULL, 100, &s), WD_ENOENT);
    CHECK_OK(wd_store_session_create(st, NULL, nonce, sizeof(nonce), NULL, 0, 500, 100, id3));
    CHECK_OK(wd_store_session_consume(st, id3, 500, &s));
    CHECK(s.node == NULL);
    CHECK(s.state == NULL && s.state_len == 0);
    wd_store_session_cleanup(&s);
    /* Caller errors. */
    uint8_t big[WD_STORE_NONCE_MAX + 1] = {0};
    CHECK_ERR(wd_store_session_create(st, NULL, nonce, 0, NULL, 0, 130, 100, id3), WD_EINVAL);
    CHECK_ERR(wd_store_session_create(st, NULL, big, sizeof(big), NULL, 0, 130, 100, id3),
              WD_EINVAL);
    CHECK_ERR(wd_store_session_create(st, NULL, nonce, 8, NULL, 0, 99, 100, id3), WD_EINVAL);
    CHECK_ERR(wd_store_session_create(st, NULL, nonce, 8, NULL, 3, 130, 100, id3), WD_EINVAL);
    /* Purge removes what ended before the cut. */
    CHECK_OK(wd_store_session_purge(st, 131, &purged));
    CHECK_EQ(purged, 2);
    CHECK_ERR(wd_store_session_consume(st, id2, 100, &s), WD_ENOENT);
    CHECK_OK(wd_store_session_purge(st, 1000, NULL));
    CHECK_EQ(raw_int("SELECT COUNT(*) FROM sessions"), 0);
    wd_store_close(st);
}

TEST(join_tokens)
{
    struct wd_store *st = NULL;
    struct wd_store_token t;
    uint8_t tok[32], tok2[32], md[32];
    unsigned int mdlen = 0;
    char sql[256];
    size_t purged = 0;
    fill(tok, sizeof(tok), 9);
    fill(tok2, sizeof(tok2), 10);
    memset(&t, 0, sizeof(t));
    FRESH(st);
    CHECK_OK(wd_store_token_create(st, tok, sizeof(tok), "edge-1", 200, 100));
    CHECK_ERR(wd_store_token_create(st, tok, sizeof(tok), NULL, 300, 100), WD_EEXIST);
    CHECK(strstr(wd_store_error(st), "already stored") != NULL);
    CHECK_OK(wd_store_token_create(st, tok2, sizeof(tok2), NULL, 150, 100));

    /* Only SHA-256(token) is stored. */
    CHECK(EVP_Digest(tok, sizeof(tok), md, &mdlen, EVP_sha256(), NULL) == 1);
    int off = snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM join_tokens WHERE hash = %s",
                       suite_is_pg() ? "'\\x" : "X'");
    for (size_t i = 0; i < sizeof(md); i++) {
        off += snprintf(sql + off, sizeof(sql) - (size_t)off, "%02x", md[i]);
    }
    (void)snprintf(sql + off, sizeof(sql) - (size_t)off, "'");
    CHECK_EQ(raw_int(sql), 1);

    CHECK_OK(wd_store_token_consume(st, tok, sizeof(tok), 200, &t));
    CHECK_STR(t.node, "edge-1");
    CHECK_EQ(t.created_at, 100);
    CHECK_EQ(t.expires_at, 200);
    wd_store_token_cleanup(&t);
    CHECK_ERR(wd_store_token_consume(st, tok, sizeof(tok), 150, &t), WD_EDENIED); /* reuse */
    CHECK_ERR(wd_store_token_consume(st, tok2, sizeof(tok2), 151, &t), WD_EEXPIRED);
    tok2[0] ^= 1;
    CHECK_ERR(wd_store_token_consume(st, tok2, sizeof(tok2), 100, &t), WD_ENOENT);
    CHECK_ERR(wd_store_token_consume(st, tok2, 3, 100, &t), WD_ENOENT);
    CHECK_ERR(wd_store_token_create(st, tok2, 15, NULL, 150, 100), WD_EINVAL);
    CHECK_ERR(wd_store_token_create(st, tok2, sizeof(tok2), NULL, 99, 100), WD_EINVAL);
    CHECK_ERR(wd_store_token_create(st, NULL, 16, NULL, 150, 100), WD_EINVAL);
    /* out may be NULL. */
    CHECK_OK(wd_store_token_create(st, tok2, sizeof(tok2), NULL, 150, 100));
    CHECK_OK(wd_store_token_consume(st, tok2, sizeof(tok2), 100, NULL));
    CHECK_OK(wd_store_token_purge(st, 201, &purged));
    CHECK_EQ(purged, 3);
    CHECK_EQ(raw_int("SELECT COUNT(*) FROM join_tokens"), 0);
    wd_store_close(st);
}

/* ---- registration entries ---- */

TEST(entries)
{
    struct wd_store *st = NULL;
    struct wd_store_entry e, got, *list = NULL;
    char id1[WD_STORE_ID_LEN + 1], id2[WD_STORE_ID_LEN + 1], id3[WD_STORE_ID_LEN + 1];
    size_t n = 0;
    memset(&e, 0, sizeof(e));
    memset(&got, 0, sizeof(got));
    FRESH(st);
    e.spiffe_id = "spiffe://td/ward/sensor";
    e.node = "edge-1";
    e.sel.has_uid = true;
    e.sel.uid = 1000;
    e.sel.has_gid = true;
    e.sel.gid = 0;
    e.sel.path = "/usr/bin/sensor";
    e.sel.has_sha256 = true;
    fill(e.sel.sha256, 32, 5);
    e.ttl = 3600;
    CHECK_OK(wd_store_entry_create(st, &e, 100, id1));
    CHECK_ERR(wd_store_entry_create(st, &e, 101, id2), WD_EEXIST);
    struct wd_store_entry e2;
    memset(&e2, 0, sizeof(e2));
    e2.spiffe_id = "spiffe://td/api";
    e2.node = "edge-1";
    e2.ttl = 60;
    CHECK_OK(wd_store_entry_create(st, &e2, 102, id2));
    e2.node = "edge-2";
    e2.sel.has_uid = true;
    e2.sel.uid = UINT32_MAX;
    CHECK_OK(wd_store_entry_create(st, &e2, 103, id3));

    CHECK_OK(wd_store_entry_get(st, id1, &got));
    CHECK_STR(got.id, id1);
    CHECK_STR(got.spiffe_id, "spiffe://td/ward/sensor");
    CHECK_STR(got.node, "edge-1");
    CHECK(got.sel.has_uid && got.sel.uid == 1000);
    CHECK(got.sel.has_gid && got.sel.gid == 0);
    CHECK_STR(got.sel.path, "/usr/bin/sensor");
    CHECK(got.sel.has_sha256);
    CHECK_MEM(got.sel.sha256, e.sel.sha256, 32);
    CHECK_EQ(got.ttl, 3600);
    CHECK_EQ(got.created_at, 100);
    wd_store_entry_cleanup(&got);
    CHECK_OK(wd_store_entry_get(st, id2, &got));
    CHECK(!got.sel.has_uid && !got.sel.has_gid && !got.sel.has_sha256);
    CHECK(got.sel.path == NULL);
    wd_store_entry_cleanup(&got);

    CHECK_OK(wd_store_entry_list(st, NULL, &list, &n));
    CHECK_EQ(n, 3);
    CHECK_STR(list[0].spiffe_id, "spiffe://td/api");
    CHECK_STR(list[0].node, "edge-1");
    CHECK_STR(list[1].node, "edge-2");
    CHECK(list[1].sel.uid == UINT32_MAX);
    CHECK_STR(list[2].id, id1);
    wd_store_entries_free(list, n);
    CHECK_OK(wd_store_entry_list(st, "edge-1", &list, &n));
    CHECK_EQ(n, 2);
    CHECK_STR(list[0].id, id2);
    CHECK_STR(list[1].id, id1);
    wd_store_entries_free(list, n);
    CHECK_OK(wd_store_entry_list(st, "edge-9", &list, &n));
    CHECK_EQ(n, 0);
    wd_store_entries_free(list, n);

    CHECK_OK(wd_store_entry_delete(st, id1));
    CHECK_ERR(wd_store_entry_delete(st, id1), WD_ENOENT);
    CHECK_ERR(wd_store_entry_get(st, id1, &got), WD_ENOENT);
    CHECK_ERR(wd_store_entry_get(st, "x'; DROP TABLE entries; --", &got), WD_ENOENT);
    CHECK_ERR(wd_store_entry_delete(st, "nope"), WD_ENOENT);
    /* Deleted: the pair can be created again. */
    CHECK_OK(wd_store_entry_create(st, &e, 104, id1));

    struct wd_store_entry bad = e2;
    bad.ttl = 0;
    CHECK_ERR(wd_store_entry_create(st, &bad, 1, id3), WD_EINVAL);
    bad = e2;
    bad.spiffe_id = NULL;
    CHECK_ERR(wd_store_entry_create(st, &bad, 1, id3), WD_EINVAL);
    bad = e2;
    bad.sel.path = "";
    CHECK_ERR(wd_store_entry_create(st, &bad, 1, id3), WD_EINVAL);
    wd_store_close(st);
}

/* ---- audit and SVIDs ---- */

TEST(audit)
{
    struct wd_store *st = NULL;
    struct wd_store_audit ev, *list = NULL;
    size_t n = 0;
    int64_t id1 = 0, id2 = 0, id3 = 0;
    FRESH(st);
    memset(&ev, 0, sizeof(ev));
    ev.time_ms = 1700000000123LL;
    ev.kind = WD_AUDIT_ATTESTATION;
    ev.actor = "spiffe://td/warden/node/n1";
    ev.subject = "n1";
    ev.reason = "ok";
    ev.details = "{\"pcrs\":[0,1,7],\"quote\":\"\\u00e9\"}";
    CHECK_OK(wd_store_audit_append(st, &ev, &id1));
    memset(&ev, 0, sizeof(ev));
    ev.kind = WD_AUDIT_REFUSAL;
    ev.reason = "nonce-mismatch";
    CHECK_OK(wd_store_audit_append(st, &ev, &id2));
    ev.kind = WD_AUDIT_ADMIN;
    CHECK_OK(wd_store_audit_append(st, &ev, &id3));
    CHECK(id1 < id2 && id2 < id3);
    ev.kind = (enum wd_audit_kind)9;
    CHECK_ERR(wd_store_audit_append(st, &ev, NULL), WD_EINVAL);
    CHECK_ERR(wd_store_audit_append(st, NULL, NULL), WD_EINVAL);

    CHECK_OK(wd_store_audit_list(st, 0, 100, &list, &n));
    CHECK_EQ(n, 3);
    CHECK_EQ(list[0].id, id1);
    CHECK_EQ(list[0].time_ms, 1700000000123LL);
    CHECK_EQ(list[0].kind, WD_AUDIT_ATTESTATION);
    CHECK_STR(list[0].actor, "spiffe://td/warden/node/n1");
    CHECK_STR(list[0].subject, "n1");
    CHECK_STR(list[0].reason, "ok");
    CHECK_STR(list[0].details, "{\"pcrs\":[0,1,7],\"quote\":\"\\u00e9\"}");
    CHECK_EQ(list[1].kind, WD_AUDIT_REFUSAL);
    CHECK(list[1].actor == NULL && list[1].details == NULL);
    CHECK_EQ(list[2].kind, WD_AUDIT_ADMIN);
    wd_store_audits_free(list, n);
    CHECK_OK(wd_store_audit_list(st, id1, 1, &list, &n));
    CHECK_EQ(n, 1);
    CHECK_EQ(list[0].id, id2);
    wd_store_audits_free(list, n);
    CHECK_ERR(wd_store_audit_list(st, 0, 0, &list, &n), WD_EINVAL);
    CHECK_STR(wd_audit_kind_name(WD_AUDIT_ISSUANCE), "issuance");
    wd_store_close(st);
}

static void make_serial(struct wd_store_svid *s, uint32_t tag, uint32_t i)
{
    memset(s, 0, sizeof(*s));
    s->serial_len = 16;
    fill(s->serial, 8, (uint8_t)(tag * 31));
    s->serial[8] = (uint8_t)(tag >> 24);
    s->serial[9] = (uint8_t)(tag >> 16);
    s->serial[10] = (uint8_t)(tag >> 8);
    s->serial[11] = (uint8_t)tag;
    s->serial[12] = (uint8_t)(i >> 24);
    s->serial[13] = (uint8_t)(i >> 16);
    s->serial[14] = (uint8_t)(i >> 8);
    s->serial[15] = (uint8_t)i;
    s->spiffe_id = "spiffe://td/ward/sensor";
    s->node = "edge-1";
    s->not_after = 5000;
    s->issued_at = 1000;
}

TEST(svids)
{
    struct wd_store *st = NULL;
    struct wd_store_svid s, got, batch[10];
    struct wd_store_audit ev, evs[10];
    int64_t count = -1;
    char eid[WD_STORE_ID_LEN + 1];
    FRESH(st);
    memset(&got, 0, sizeof(got));
    memset(&ev, 0, sizeof(ev));
    ev.kind = WD_AUDIT_ISSUANCE;
    ev.subject = "serial";
    make_serial(&s, 1, 1);
    CHECK_OK(wd_store_svid_record(st, &s, NULL));
    CHECK_ERR(wd_store_svid_record(st, &s, NULL), WD_EEXIST);
    CHECK(strstr(wd_store_error(st), "serial number already recorded") != NULL);
    /* With an audit event: both or neither. */
    CHECK_ERR(wd_store_svid_record(st, &s, &ev), WD_EEXIST);
    CHECK_EQ(raw_int("SELECT COUNT(*) FROM audit"), 0);
    make_serial(&s, 1, 2);
    memcpy(eid, "0123456789abcdef0123456789abcdef", sizeof(eid));
    memcpy(s.entry_id, eid, sizeof(eid));
    CHECK_OK(wd_store_svid_record(st, &s, &ev));
    CHECK_EQ(raw_int("SELECT COUNT(*) FROM audit"), 1);
    CHECK_OK(wd_store_svid_get(st, s.serial, s.serial_len, &got));
    CHECK_EQ(got.serial_len, 16);
    CHECK_MEM(got.serial, s.serial, 16);
    CHECK_STR(got.spiffe_id, "spiffe://td/ward/sensor");
    CHECK_STR(got.node, "edge-1");
    CHECK_STR(got.entry_id, eid);
    CHECK_EQ(got.not_after, 5000);
    CHECK_EQ(got.issued_at, 1000);
    wd_store_svid_cleanup(&got);
    make_serial(&s, 1, 1);
    CHECK_OK(wd_store_svid_get(st, s.serial, s.serial_len, &got));
    CHECK_STR(got.entry_id, "");
    wd_store_svid_cleanup(&got);
    /* A serial is its bytes: a prefix or a leading zero makes another serial. */
    CHECK_ERR(wd_store_svid_get(st, s.serial, 15, &got), WD_ENOENT);
    uint8_t z[20] = {0};
    struct wd_store_svid s20 = s;
    memcpy(s20.serial, z, 20);
    s20.serial_len = 20;
    CHECK_OK(wd_store_svid_record(st, &s20, NULL));
    s20.serial_len = 19;
    CHECK_OK(wd_store_svid_record(st, &s20, NULL));

    /* Batches: all or nothing. */
    for (uint32_t i = 0; i < 10; i++) {
        make_serial(&batch[i], 2, i);
        evs[i] = ev;
    }
    CHECK_OK(wd_store_svid_record_batch(st, batch, evs, 10));
    CHECK_OK(wd_store_svid_count(st, &count));
    CHECK_EQ(count, 14);
    CHECK_EQ(raw_int("SELECT COUNT(*) FROM audit"), 11);
    for (uint32_t i = 0; i < 10; i++) {
        make_serial(&batch[i], 3, i);
    }
    make_serial(&batch[7], 2, 4); /* already recorded */
    CHECK_ERR(wd_store_svid_record_batch(st, batch, evs, 10), WD_EEXIST);
    make_serial(&batch[7], 3, 3); /* repeats batch[3] */
    CHECK_ERR(wd_store_svid_record_batch(st, batch, NULL, 10), WD_EEXIST);
    CHECK_OK(wd_store_svid_count(st, &count));
    CHECK_EQ(count, 14);
    CHECK_EQ(raw_int("SELECT COUNT(*) FROM audit"), 11);

    /* Caller errors. */
    make_serial(&s, 4, 0);
    s.serial_len = 0;
    CHECK_ERR(wd_store_svid_record(st, &s, NULL), WD_EINVAL);
    s.serial_len = 21;
    CHECK_ERR(wd_store_svid_record(st, &s, NULL), WD_EINVAL);
    make_serial(&s, 4, 0);
    memcpy(s.entry_id, "not-an-id", 10);
    CHECK_ERR(wd_store_svid_record(st, &s, NULL), WD_EINVAL);
    make_serial(&s, 4, 0);
    s.node = NULL;
    CHECK_ERR(wd_store_svid_record(st, &s, NULL), WD_EINVAL);
    CHECK_ERR(wd_store_svid_record_batch(st, batch, NULL, 0), WD_EINVAL);
    wd_store_close(st);
}

/* ---- concurrency: several handles, as several threads or control-plane replicas ---- */

struct racer {
    pthread_barrier_t *bar;
    int idx;
    int rounds;
    const uint8_t (*tokens)[32];
    const char (*ids)[WD_STORE_ID_LEN + 1];
    int *results; /* [round * nthreads + idx] */
    int nthreads;
    int open_rc;
};

static void *token_racer(void *arg)
{
    struct racer *r = arg;
    struct wd_store *st = NULL;
    r->open_rc = wd_store_open(suite_url, &st, NULL);
    for (int i = 0; i < r->rounds; i++) {
        (void)pthread_barrier_wait(r->bar);
        int rc = WD_EDB;
        if (st != NULL) {
            if (r->tokens != NULL) {
                rc = wd_store_token_consume(st, r->tokens[i], 32, 100, NULL);
            } else if (r->ids != NULL) {
                struct wd_store_session s;
                rc = wd_store_session_consume(st, r->ids[i], 100, &s);
                if (rc == WD_OK) {
                    wd_store_session_cleanup(&s);
                }
            } else {
                rc = wd_store_node_update_counters(st, "n1", (uint64_t)i + 1, 0, 0, 100);
            }
        }
        r->results[i * r->nthreads + r->idx] = rc;
    }
    wd_store_close(st);
    return NULL;
}

/* Run `rounds` races between n threads; each round exactly one must win, the rest get
 * `loser`. what: 0 tokens, 1 sessions, 2 counters. */
static int race(int n, int rounds, int what, int loser)
{
    enum { MAXT = 4, MAXR = 64 };
    struct wd_store *st = NULL;
    uint8_t tokens[MAXR][32];
    char ids[MAXR][WD_STORE_ID_LEN + 1];
    int results[MAXR * MAXT];
    struct racer r[MAXT];
    pthread_t th[MAXT];
    pthread_barrier_t bar;
    int bad = 0;
    uint8_t ak[4] = {0};

    if (n > MAXT || rounds > MAXR || suite_reset() != 0 || suite_open(&st) != WD_OK) {
        return -1;
    }
    for (int i = 0; i < rounds; i++) {
        fill(tokens[i], 32, (uint8_t)i);
        tokens[i][31] = (uint8_t)i;
        if (what == 0 && wd_store_token_create(st, tokens[i], 32, NULL, 200, 100) != WD_OK) {
            bad++;
        }
        if (what == 1
            && wd_store_session_create(st, "n1", tokens[i], 32, NULL, 0, 200, 100, ids[i])
                       != WD_OK) {
            bad++;
        }
    }
    if (what == 2) {
        struct wd_store_node nd = tpm_node("n1", 1, ak, sizeof(ak));
        bad += wd_store_node_upsert(st, &nd, 1) != WD_OK;
    }
    wd_store_close(st);
    (void)pthread_barrier_init(&bar, NULL, (unsigned)n);
    for (int t = 0; t < n; t++) {
        r[t] = (struct racer){.bar = &bar,
                              .idx = t,
                              .rounds = rounds,
                              .tokens = what == 0 ? (const uint8_t(*)[32])tokens : NULL,
                              .ids = what == 1 ? (const char(*)[WD_STORE_ID_LEN + 1]) ids : NULL,
                              .results = results,
                              .nthreads = n};
        (void)pthread_create(&th[t], NULL, token_racer, &r[t]);
    }
    for (int t = 0; t < n; t++) {
        (void)pthread_join(th[t], NULL);
        bad += r[t].open_rc != WD_OK;
    }
    (void)pthread_barrier_destroy(&bar);
    for (int i = 0; i < rounds; i++) {
        int wins = 0;
        for (int t = 0; t < n; t++) {
            int rc = results[i * n + t];
            if (rc == WD_OK) {
                wins++;
            } else if (rc != loser) {
                printf("race %d round %d: thread %d got %s\n", what, i, t, wd_strerror(rc));
                bad++;
            }
        }
        if (wins != 1) {
            printf("race %d round %d: %d winners\n", what, i, wins);
            bad++;
        }
    }
    return bad;
}

TEST(token_single_use_under_concurrency)
{
    CHECK_EQ(race(4, 40, 0, WD_EDENIED), 0);
}

TEST(session_single_use_under_concurrency)
{
    CHECK_EQ(race(2, 40, 1, WD_EDENIED), 0);
}

TEST(counters_under_concurrency)
{
    CHECK_EQ(race(2, 40, 2, WD_EDENIED), 0);
}

struct issuer {
    pthread_barrier_t *bar;
    uint32_t tag;
    int n;
    bool descending;
    int ok, exist, other, open_rc;
};

static void *issuer_main(void *arg)
{
    struct issuer *w = arg;
    struct wd_store *st = NULL;
    struct wd_store_svid s;
    w->open_rc = wd_store_open(suite_url, &st, NULL);
    (void)pthread_barrier_wait(w->bar);
    for (int i = 0; i < w->n && st != NULL; i++) {
        uint32_t k = (uint32_t)(w->descending ? w->n - 1 - i : i);
        make_serial(&s, w->tag, k);
        int rc = wd_store_svid_record(st, &s, NULL);
        if (rc == WD_OK) {
            w->ok++;
        } else if (rc == WD_EEXIST) {
            w->exist++;
        } else {
            if (w->other++ == 0) {
                printf("issuer: %s (%s)\n", wd_strerror(rc), wd_store_error(st));
            }
        }
    }
    wd_store_close(st);
    return NULL;
}

static void issue_pair(struct issuer w[2], uint32_t tag0, uint32_t tag1, int n)
{
    pthread_t th[2];
    pthread_barrier_t bar;
    (void)pthread_barrier_init(&bar, NULL, 2);
    for (int t = 0; t < 2; t++) {
        w[t] = (struct issuer){
                .bar = &bar, .tag = t == 0 ? tag0 : tag1, .n = n, .descending = t == 1};
        (void)pthread_create(&th[t], NULL, issuer_main, &w[t]);
    }
    for (int t = 0; t < 2; t++) {
        (void)pthread_join(th[t], NULL);
    }
    (void)pthread_barrier_destroy(&bar);
}

/* Two handles (two replicas) issuing 1,000 serials each at once. */
TEST(two_issuers_no_duplicates)
{
    struct wd_store *st = NULL;
    struct issuer w[2];
    int64_t count = 0;
    FRESH(st);
    wd_store_close(st);
    st = NULL;
    issue_pair(w, 10, 11, 1000);
    CHECK_OK(w[0].open_rc);
    CHECK_OK(w[1].open_rc);
    CHECK_EQ(w[0].ok + w[1].ok, 2000);
    CHECK_EQ(w[0].other + w[1].other + w[0].exist + w[1].exist, 0);
    /* Both try the same 1,000 serials (in opposite orders): each lands exactly once. */
    issue_pair(w, 12, 12, 1000);
    CHECK_EQ(w[0].ok + w[1].ok, 1000);
    CHECK_EQ(w[0].exist + w[1].exist, 1000);
    CHECK_EQ(w[0].other + w[1].other, 0);
    CHECK_OK(suite_open(&st));
    CHECK_OK(wd_store_svid_count(st, &count));
    CHECK_EQ(count, 3000);
    CHECK_EQ(raw_int("SELECT COUNT(DISTINCT serial) FROM svids"), 3000);
    wd_store_close(st);
}

struct deny_writer {
    int idx, n, rc;
    int finished; /* set (atomically) when the writer is done */
};

static void *deny_writer_main(void *arg)
{
    struct deny_writer *w = arg;
    struct wd_store *st = NULL;
    char subj[64];
    w->rc = wd_store_open(suite_url, &st, NULL);
    for (int i = 0; i < w->n && w->rc == WD_OK; i++) {
        (void)snprintf(subj, sizeof(subj), "spiffe://td/w%d/%d", w->idx, i);
        w->rc = wd_store_deny_add(st, WD_DENY_SPIFFE_ID, subj, "race", i, NULL);
    }
    wd_store_close(st);
    __atomic_store_n(&w->finished, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* A proxy polling "changes since" while two replicas add entries misses none. */
TEST(deny_list_poll_misses_nothing)
{
    enum { PER = 100 };
    struct wd_store *st = NULL;
    struct deny_writer w[2] = {{.idx = 0, .n = PER}, {.idx = 1, .n = PER}};
    pthread_t th[2];
    int64_t cursor = 0, last = 0;
    size_t seen = 0;
    int ordered = 1, rc = WD_OK;
    FRESH(st);
    for (int t = 0; t < 2; t++) {
        CHECK_EQ(pthread_create(&th[t], NULL, deny_writer_main, &w[t]), 0);
    }
    for (;;) {
        struct wd_store_deny *d = NULL;
        size_t n = 0;
        /* Read "done" before polling: a poll after both finished sees everything. */
        bool done = __atomic_load_n(&w[0].finished, __ATOMIC_SEQ_CST)
                    && __atomic_load_n(&w[1].finished, __ATOMIC_SEQ_CST);
        rc = wd_store_deny_list_since(st, cursor, 7, &d, &n, &cursor);
        if (rc != WD_OK) {
            break;
        }
        for (size_t i = 0; i < n; i++) {
            ordered &= d[i].seq > last;
            last = d[i].seq;
        }
        seen += n;
        wd_store_denies_free(d, n);
        if (n == 0 && done) {
            break;
        }
        if (n == 0) {
            (void)usleep(500);
        }
    }
    for (int t = 0; t < 2; t++) {
        (void)pthread_join(th[t], NULL);
    }
    wd_store_close(st);
    CHECK_OK(rc);
    CHECK_OK(w[0].rc);
    CHECK_OK(w[1].rc);
    CHECK(ordered);
    CHECK_EQ(seen, 2 * PER);
    CHECK_EQ(cursor, 2 * PER);
    CHECK_EQ(raw_int("SELECT COUNT(DISTINCT seq) FROM denylist"), 2 * PER);
}

/* ---- crash safety: a writer killed with SIGKILL mid-stream ---- */

static int crash_child(int fd, uint32_t tag)
{
    struct wd_store *st = NULL;
    struct wd_store_svid s;
    struct wd_store_audit ev;
    if (wd_store_open(suite_url, &st, NULL) != WD_OK) {
        return 2;
    }
    memset(&ev, 0, sizeof(ev));
    ev.kind = WD_AUDIT_ISSUANCE;
    ev.subject = "crash";
    for (uint32_t i = 0;; i++) {
        make_serial(&s, tag, i);
        /* Alternate plain records and record+audit transactions. */
        if (wd_store_svid_record(st, &s, i % 2 ? &ev : NULL) != WD_OK) {
            return 3;
        }
        if (write(fd, &i, sizeof(i)) != (ssize_t)sizeof(i)) {
            return 4;
        }
    }
}

/* Kill a writer after `after` acknowledged commits; return how many were acknowledged. */
static long crash_run(uint32_t tag, uint32_t after)
{
    int pfd[2];
    uint32_t v;
    long acked = 0;
    if (pipe(pfd) == -1) {
        return -1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == -1) {
        return -1;
    }
    if (pid == 0) {
        close(pfd[0]);
        _exit(crash_child(pfd[1], tag));
    }
    close(pfd[1]);
    while (read(pfd[0], &v, sizeof(v)) == (ssize_t)sizeof(v)) {
        if (v != (uint32_t)acked) {
            acked = -1;
            break;
        }
        acked++;
        if ((uint32_t)acked == after) {
            (void)kill(pid, SIGKILL);
        }
    }
    (void)kill(pid, SIGKILL);
    (void)waitpid(pid, NULL, 0);
    close(pfd[0]);
    return acked;
}

TEST(crash_keeps_every_committed_serial)
{
    struct wd_store *st = NULL;
    struct wd_store_svid s, got;
    int64_t count = 0;
    long acked_total = 0;
    FRESH(st);
    wd_store_close(st);
    st = NULL;
    for (uint32_t run = 0; run < 3; run++) {
        uint32_t tag = 100 + run;
        long acked = crash_run(tag, 150 + run * 61);
        CHECK(acked >= 150);
        acked_total += acked;
        CHECK_OK(suite_open(&st));
        CHECK_OK(wd_store_check(st));
        /* Every acknowledged serial is there (once: it is the primary key)... */
        for (long i = 0; i < acked; i++) {
            make_serial(&s, tag, (uint32_t)i);
            memset(&got, 0, sizeof(got));
            CHECK_OK(wd_store_svid_get(st, s.serial, s.serial_len, &got));
            wd_store_svid_cleanup(&got);
        }
        /* ...and beyond them at most the one in flight when the writer died. */
        make_serial(&s, tag, (uint32_t)acked + 1);
        CHECK_ERR(wd_store_svid_get(st, s.serial, s.serial_len, &got), WD_ENOENT);
        CHECK_OK(wd_store_svid_count(st, &count));
        CHECK(count >= acked_total && count <= acked_total + (long)run + 1);
        wd_store_close(st);
        st = NULL;
    }
    CHECK_EQ(raw_int("SELECT COUNT(DISTINCT serial) FROM svids"), count);
    /* Audits were written in the same transactions as their SVIDs (odd i only). */
    CHECK(raw_int("SELECT COUNT(*) FROM audit") <= count / 2 + 3);
    CHECK(raw_int("SELECT COUNT(*) FROM audit") >= (acked_total - 3) / 2);
}

/* ---- allocation failures in our wrappers ---- */

TEST(alloc_sweeps)
{
    struct wd_store *st = NULL, *st2 = NULL;
    struct wd_store_node node, *nodes = NULL;
    struct wd_store_entry ent, *ents = NULL;
    struct wd_store_audit ev, *evs = NULL;
    struct wd_store_deny *ds = NULL;
    struct wd_store_ca *cas = NULL;
    struct wd_store_svid sv;
    size_t n = 0;
    char *name = NULL;
    int64_t seq = 0;
    char id[WD_STORE_ID_LEN + 1];
    uint8_t ak[40];
    fill(ak, sizeof(ak), 7);
    FRESH(st);
    CHECK_ALLOC_SWEEP(wd_store_open(suite_url, &st2, NULL), (wd_store_close(st2), st2 = NULL));
    CHECK_OK(wd_store_td_init(st, "example.org", 1));
    CHECK_OK(wd_store_ca_add(st, "PEM", "ref", 1, 1, NULL, NULL));
    struct wd_store_node a = tpm_node("a", 1, ak, sizeof(ak));
    struct wd_store_node b = tpm_node("b", 2, ak, sizeof(ak));
    CHECK_OK(wd_store_node_upsert(st, &a, 1));
    CHECK_OK(wd_store_node_upsert(st, &b, 1));
    memset(&ent, 0, sizeof(ent));
    ent.spiffe_id = "spiffe://td/x";
    ent.node = "a";
    ent.sel.path = "/bin/x";
    ent.ttl = 10;
    CHECK_OK(wd_store_entry_create(st, &ent, 1, id));
    ent.spiffe_id = "spiffe://td/y";
    CHECK_OK(wd_store_entry_create(st, &ent, 1, id));
    memset(&ev, 0, sizeof(ev));
    ev.actor = "me";
    ev.details = "{}";
    CHECK_OK(wd_store_audit_append(st, &ev, NULL));
    CHECK_OK(wd_store_audit_append(st, &ev, NULL));
    CHECK_OK(wd_store_deny_add(st, WD_DENY_NODE, "a", "r", 1, NULL));
    CHECK_OK(wd_store_deny_add(st, WD_DENY_NODE, "b", "r", 1, NULL));
    make_serial(&sv, 1, 1);
    CHECK_OK(wd_store_svid_record(st, &sv, NULL));

    memset(&node, 0, sizeof(node));
    memset(&ent, 0, sizeof(ent));
    CHECK_ALLOC_SWEEP(wd_store_node_get(st, "a", &node), wd_store_node_cleanup(&node));
    CHECK_ALLOC_SWEEP(wd_store_node_list(st, &nodes, &n),
                      (wd_store_nodes_free(nodes, n), nodes = NULL, n = 0));
    CHECK_ALLOC_SWEEP(wd_store_entry_get(st, id, &ent), wd_store_entry_cleanup(&ent));
    CHECK_ALLOC_SWEEP(wd_store_entry_list(st, NULL, &ents, &n),
                      (wd_store_entries_free(ents, n), ents = NULL, n = 0));
    CHECK_ALLOC_SWEEP(wd_store_audit_list(st, 0, 10, &evs, &n),
                      (wd_store_audits_free(evs, n), evs = NULL, n = 0));
    CHECK_ALLOC_SWEEP(wd_store_deny_list_since(st, 0, 10, &ds, &n, NULL),
                      (wd_store_denies_free(ds, n), ds = NULL, n = 0));
    CHECK_ALLOC_SWEEP(wd_store_ca_list(st, &cas, &n),
                      (wd_store_cas_free(cas, n), cas = NULL, n = 0));
    CHECK_ALLOC_SWEEP(wd_store_td_get(st, &name, &seq), (wd_free(name), name = NULL));
    struct wd_store_svid got;
    memset(&got, 0, sizeof(got));
    CHECK_ALLOC_SWEEP(wd_store_svid_get(st, sv.serial, sv.serial_len, &got),
                      wd_store_svid_cleanup(&got));
    wd_store_close(st);
}

/* Every shared test, in order. */
static void store_suite_run(void)
{
    RUN(migrate_from_empty);
    RUN(reopen_is_noop);
    RUN(upgrade_from_v1);
    RUN(future_schema_refused);
    RUN(concurrent_open_migrates_once);
    RUN(trust_domain_and_ca);
    RUN(nodes);
    RUN(node_counters);
    RUN(node_trust_and_deny_list);
    RUN(deny_list);
    RUN(sessions);
    RUN(join_tokens);
    RUN(entries);
    RUN(audit);
    RUN(svids);
    RUN(token_single_use_under_concurrency);
    RUN(session_single_use_under_concurrency);
    RUN(counters_under_concurrency);
    RUN(two_issuers_no_duplicates);
    RUN(deny_list_poll_misses_nothing);
    RUN(crash_keeps_every_committed_serial);
    RUN(alloc_sweeps);
}

#endif
