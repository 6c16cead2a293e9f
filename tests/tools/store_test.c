/*
 * store_test: run the store test suite (store_suite.h) against any store URL, or time SVID
 * recording on it.
 *
 *   store_test --wipe URL                suite; last line "store-<backend>: N passed, N failed"
 *   store_test --wipe --bench [N] URL    timings of wd_store_svid_record (default N = 2000)
 *
 * Both EMPTY THE DATABASE first (SQLite: delete the file; PostgreSQL: drop schema public),
 * hence the mandatory --wipe. tests/integration/040-store-postgres.sh runs it against a
 * PostgreSQL it starts in a temp directory. Exit status 0 when nothing failed.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "warden/alloc.h"
#include "warden/err.h"
#include "warden/store.h"

#include "../unit/harness.h"
#include "store_suite.h"

static double now_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct bench_worker {
    uint32_t tag;
    int n;
    int batch;  /* records per transaction; 1 = wd_store_svid_record */
    bool audit; /* with an audit event in the same transaction */
    int rc;
};

static void *bench_main(void *arg)
{
    struct bench_worker *w = arg;
    struct wd_store *st = NULL;
    struct wd_store_svid v[64];
    struct wd_store_audit ev[64];
    memset(ev, 0, sizeof(ev));
    for (int i = 0; i < 64; i++) {
        ev[i].kind = WD_AUDIT_ISSUANCE;
        ev[i].actor = "spiffe://td/warden/node/edge-1";
        ev[i].subject = "spiffe://td/ward/sensor";
        ev[i].details = "{\"ttl\":3600}";
    }
    w->rc = wd_store_open(suite_url, &st, NULL);
    for (int i = 0; i < w->n && w->rc == WD_OK; i += w->batch) {
        int k = WD_MIN(w->batch, w->n - i);
        for (int j = 0; j < k; j++) {
            make_serial(&v[j], w->tag, (uint32_t)(i + j));
        }
        if (w->batch == 1) {
            w->rc = wd_store_svid_record(st, &v[0], w->audit ? &ev[0] : NULL);
        } else {
            w->rc = wd_store_svid_record_batch(st, v, w->audit ? ev : NULL, (size_t)k);
        }
    }
    wd_store_close(st);
    return NULL;
}

/* Record n SVIDs from `handles` threads; print and return records per second. */
static double bench_one(const char *label, int handles, int n, int batch, bool audit, uint32_t tag)
{
    pthread_t th[4];
    struct bench_worker w[4];
    double t0 = now_s();
    for (int i = 0; i < handles; i++) {
        w[i] = (struct bench_worker){
                .tag = tag + (uint32_t)i, .n = n / handles, .batch = batch, .audit = audit};
        (void)pthread_create(&th[i], NULL, bench_main, &w[i]);
    }
    for (int i = 0; i < handles; i++) {
        (void)pthread_join(th[i], NULL);
    }
    double dt = now_s() - t0;
    for (int i = 0; i < handles; i++) {
        if (w[i].rc != WD_OK) {
            printf("bench %s: %s\n", label, wd_strerror(w[i].rc));
            return -1;
        }
    }
    double rate = (double)n / dt;
    printf("bench %-44s %6d records in %6.2f s: %8.0f /s\n", label, n, dt, rate);
    return rate;
}

static int bench(int n)
{
    if (suite_reset() != 0) {
        printf("bench: cannot empty the database\n");
        return 1;
    }
    struct wd_store *st = NULL;
    if (suite_open(&st) != WD_OK) {
        return 1;
    }
    wd_store_close(st);
    int bad = 0;
    bad |= bench_one("svid_record, 1 handle", 1, n, 1, false, 1000) < 0;
    bad |= bench_one("svid_record + audit (1 tx), 1 handle", 1, n, 1, true, 2000) < 0;
    bad |= bench_one("svid_record, 2 handles", 2, n, 1, false, 3000) < 0;
    bad |= bench_one("svid_record + audit, 2 handles", 2, n, 1, true, 4000) < 0;
    bad |= bench_one("svid_record_batch 16 + audit, 1 handle", 1, n, 16, true, 5000) < 0;
    bad |= bench_one("svid_record_batch 64 + audit, 1 handle", 1, n, 64, true, 6000) < 0;
    bad |= bench_one("svid_record_batch 16 + audit, 2 handles", 2, n, 16, true, 7000) < 0;
    return bad ? 1 : 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: store_test --wipe [--bench [N]] URL\n"
                    "  Runs the store test suite (or a benchmark) against URL.\n"
                    "  The database is EMPTIED first; --wipe says you mean it.\n");
    return 2;
}

int main(int argc, char **argv)
{
    bool wipe = false, do_bench = false;
    int n = 2000, i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (strcmp(argv[i], "--wipe") == 0) {
            wipe = true;
        } else if (strcmp(argv[i], "--bench") == 0) {
            do_bench = true;
            if (i + 2 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9') {
                char *end = NULL;
                long v = strtol(argv[++i], &end, 10);
                if (*end != '\0' || v < 1 || v > 1000000) {
                    return usage();
                }
                n = (int)v;
            }
        } else {
            return usage();
        }
    }
    if (!wipe || i + 1 != argc) {
        return usage();
    }
    suite_url = argv[i];
    if (do_bench) {
        return bench(n);
    }
    store_suite_run();
    (void)suite_reset();
    return HARNESS_END(suite_is_pg() ? "store-postgresql" : "store-sqlite");
}
