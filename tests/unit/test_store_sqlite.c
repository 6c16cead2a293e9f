/*
 * Unit tests for the store (lib/store/): URL parsing and open errors here, then the
 * shared suite (tests/tools/store_suite.h) against a temp SQLite file. The same suite runs
 * against PostgreSQL in tests/integration/040-store-postgres.sh.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "warden/alloc.h"
#include "warden/err.h"
#include "warden/store.h"

#include "../tools/store_suite.h"
#include "harness.h"

static char tmpdir[256];
static char dbpath[512];
static char dburl[600];

/* Parse url; on success check backend and target and free the target. */
static int parse(const char *url, const struct store_backend **be, char *target_out, size_t tsz,
                 struct store_opts *o, struct wd_diag *d)
{
    char *target = NULL;
    int rc = wd_store_parse_url(url, be, &target, o, d);
    if (rc == WD_OK) {
        (void)snprintf(target_out, tsz, "%s", target);
        wd_free(target);
    }
    return rc;
}

TEST(url_parsing)
{
    const struct store_backend *be = NULL;
    struct store_opts o;
    struct wd_diag d = {{0}};
    char t[256];

    CHECK_OK(parse("sqlite:/var/lib/warden/control.db", &be, t, sizeof(t), &o, &d));
    CHECK(be == &wd_store_sqlite_backend);
    CHECK_STR(t, "/var/lib/warden/control.db");
    CHECK(!o.sync_normal);
    CHECK_EQ(o.busy_timeout_ms, 5000);
    CHECK_OK(parse("sqlite:///abs/x.db", &be, t, sizeof(t), &o, &d));
    CHECK_STR(t, "/abs/x.db");
    CHECK_OK(parse("sqlite:rel/x.db?sync=normal&busy_timeout=250", &be, t, sizeof(t), &o, &d));
    CHECK_STR(t, "rel/x.db");
    CHECK(o.sync_normal);
    CHECK_EQ(o.busy_timeout_ms, 250);
    CHECK_OK(parse("sqlite:x.db?sync=full", &be, t, sizeof(t), &o, &d));
    CHECK(!o.sync_normal);
    CHECK_OK(parse("sqlite::memory:", &be, t, sizeof(t), &o, &d));
    CHECK_STR(t, ":memory:");
    /* A bare path is SQLite; '?' is part of it then. */
    CHECK_OK(parse("/tmp/a?b.db", &be, t, sizeof(t), &o, &d));
    CHECK(be == &wd_store_sqlite_backend);
    CHECK_STR(t, "/tmp/a?b.db");
    CHECK_OK(parse("./c:d.db", &be, t, sizeof(t), &o, &d));
    CHECK_STR(t, "./c:d.db");
    CHECK_OK(
            parse("postgresql://warden@db:5432/warden?sslmode=require", &be, t, sizeof(t), &o, &d));
    CHECK(be == &wd_store_pg_backend);
    CHECK_STR(t, "postgresql://warden@db:5432/warden?sslmode=require");
    CHECK_OK(parse("postgres://h/db", &be, t, sizeof(t), &o, &d));
    CHECK(be == &wd_store_pg_backend);

    CHECK_ERR(parse("", &be, t, sizeof(t), &o, &d), WD_ECONFIG);
    CHECK_ERR(parse(NULL, &be, t, sizeof(t), &o, &d), WD_ECONFIG);
    CHECK_ERR(parse("mysql://x/y", &be, t, sizeof(t), &o, &d), WD_ECONFIG);
    CHECK(strstr(d.msg, "unknown scheme 'mysql'") != NULL);
    CHECK_ERR(parse("file:x.db", &be, t, sizeof(t), &o, &d), WD_ECONFIG);
    CHECK_ERR(parse("sqlite:", &be, t, sizeof(t), &o, &d), WD_ECONFIG);
    CHECK_ERR(parse("sqlite:?sync=full", &be, t, sizeof(t), &o, &d), WD_ECONFIG);
    CHECK_ERR(parse("sqlite:x.db?sync=off", &be, t, sizeof(t), &o, &d), WD_ECONFIG);
    CHECK_ERR(parse("sqlite:x.db?sync", &be, t, sizeof(t), &o, &d), WD_ECONFIG);
    CHECK_ERR(parse("sqlite:x.db?sync=full&sync=normal", &be, t, sizeof(t), &o, &d), WD_ECONFIG);
    CHECK_ERR(parse("sqlite:x.db?busy_timeout=-1", &be, t, sizeof(t), &o, &d), WD_ECONFIG);
    CHECK_ERR(parse("sqlite:x.db?busy_timeout=600001", &be, t, sizeof(t), &o, &d), WD_ECONFIG);
    CHECK_ERR(parse("sqlite:x.db?busy_timeout=1x", &be, t, sizeof(t), &o, &d), WD_ECONFIG);
    CHECK_ERR(parse("sqlite:x.db?mode=ro", &be, t, sizeof(t), &o, &d), WD_ECONFIG);
    CHECK(strstr(d.msg, "'mode'") != NULL);

    char *target = NULL;
    CHECK_ALLOC_SWEEP(wd_store_parse_url("sqlite:x.db?sync=normal", &be, &target, &o, NULL),
                      (wd_free(target), target = NULL));
}

TEST(open_errors)
{
    struct wd_store *st = NULL;
    struct wd_diag d = {{0}};
    char url[700];
    CHECK_ERR(wd_store_open("oracle://x", &st, &d), WD_ECONFIG);
    CHECK(st == NULL);
    CHECK_ERR(wd_store_open("sqlite:x.db", NULL, &d), WD_EINVAL);
    /* A directory that does not exist. */
    (void)snprintf(url, sizeof(url), "sqlite:%s/no/such/dir/x.db", tmpdir);
    CHECK_ERR(wd_store_open(url, &st, &d), WD_EDB);
    CHECK(strstr(d.msg, "cannot open") != NULL);
    /* Not a database. */
    (void)snprintf(url, sizeof(url), "%s/garbage.db", tmpdir);
    FILE *f = fopen(url, "w");
    CHECK(f != NULL);
    fputs("this is not an SQLite database, but it is long enough to have a header....\n", f);
    fclose(f);
    CHECK_ERR(wd_store_open(url, &st, &d), WD_EDB);
    CHECK(st == NULL);
    (void)unlink(url);
    /* An unparsable libpq URI, and a refused connection; neither echoes the password. */
    CHECK_ERR(wd_store_open("postgresql://u:s3cret@[::1/db", &st, &d), WD_ECONFIG);
    CHECK(strstr(d.msg, "s3cret") == NULL);
    CHECK_ERR(wd_store_open("postgresql://u:s3cret@127.0.0.1:1/db?connect_timeout=2", &st, &d),
              WD_EDB);
    CHECK(strstr(d.msg, "cannot connect") != NULL);
    CHECK(strstr(d.msg, "s3cret") == NULL);
    CHECK(st == NULL);
}

/* The database file and its WAL are private to the owner. */
TEST(file_mode)
{
    struct wd_store *st = NULL;
    struct stat sb;
    char path[700];
    CHECK_EQ(suite_reset(), 0);
    mode_t old = umask(022);
    int rc = suite_open(&st);
    umask(old);
    CHECK_OK(rc);
    CHECK_OK(wd_store_td_init(st, "x", 1));
    CHECK_EQ(stat(dbpath, &sb), 0);
    CHECK_EQ(sb.st_mode & 0777, 0600);
    (void)snprintf(path, sizeof(path), "%s-wal", dbpath);
    CHECK_EQ(stat(path, &sb), 0);
    CHECK_EQ(sb.st_mode & 0777, 0600);
    wd_store_close(st);
}

TEST(memory_database)
{
    struct wd_store *st = NULL;
    int64_t seq = 0;
    CHECK_OK(wd_store_open("sqlite::memory:", &st, NULL));
    CHECK_OK(wd_store_deny_add(st, WD_DENY_NODE, "n", "r", 1, &seq));
    CHECK_EQ(seq, 1);
    CHECK_OK(wd_store_check(st));
    wd_store_close(st);
}

static void remove_tmpdir(void)
{
    char cmd[300];
    (void)suite_reset();
    (void)snprintf(cmd, sizeof(cmd), "%s", tmpdir);
    (void)rmdir(cmd);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    (void)snprintf(tmpdir, sizeof(tmpdir), "%s/wd-store-XXXXXX",
                   base != NULL && base[0] != '\0' ? base : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    (void)snprintf(dbpath, sizeof(dbpath), "%s/control.db", tmpdir);
    (void)snprintf(dburl, sizeof(dburl), "sqlite:%s", dbpath);
    suite_url = dburl;

    RUN(url_parsing);
    RUN(open_errors);
    RUN(file_mode);
    RUN(memory_database);
    store_suite_run();
    remove_tmpdir();
    return HARNESS_END("store-sqlite");
}
