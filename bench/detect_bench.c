/*
 * bench/detect_bench: detector scanning throughput, prefiltered against naive, in one run.
 *
 *   detect_bench [SECONDS]
 *
 * For bodies of 1 KiB, 64 KiB and 1 MiB and sets of 1, 10 and 100 regex detectors, time
 * wd_detect_scan with the Aho-Corasick prefilter (the default) and with
 * WD_DETECT_NO_PREFILTER (every regex runs over the body: the naive loop), each for at least
 * SECONDS of CPU time (default 0.3) and at least 3 scans, and print one line per cell:
 *
 *   detect_bench: mix=lit body=64KiB detectors=10 jit=1 prefilter_MBps=X naive_MBps=Y
 *                 speedup=Z hits=H
 *
 * The detectors look like data-loss-prevention patterns: `\bTAGk-[0-9]{6}\b`, each with a
 * literal tag. In the "lit" mix all have one; in the "mix10" mix one in ten is instead a
 * pattern without a literal (`\b[0-9]{4}-[0-9]{4}-[0-9]{N}\b`), which the prefilter must
 * always run, so it bounds what the prefilter can save. The body is deterministic
 * pseudo-random text with words, digits and near-misses ("TAG", "TAGx-"); the only matches
 * are planted in its last 40 bytes, so every regex that runs reads the whole body, as it does
 * for the common clean message. The two modes must report the same detectors, else the run
 * fails. One thread; MB/s counts 10^6 bytes per CPU second.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/detect.h"
#include "warden/err.h"

static double cpu_seconds(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Text of the given size: words, numbers, punctuation, and a few planted matches. */
static void fill_body(char *b, size_t len)
{
    static const char *const words[] = {
            "patient", "record",  "the",   "and",    "visit", "dose",  "mg",     "of",
            "a",       "report",  "blood", "status", "ok",    "id",    "clinic", "note",
            "2024",    "18:30",   "PID",   "TAG",    "-",     "555",   "12",     "json",
            "{\"k\":", "\"v\"},", "ward",  "bed",    "nurse", "TAGx-", "4111",   "X-Ray",
    };
    size_t o = 0;
    while (o < len) {
        const char *w = words[rng() % (sizeof(words) / sizeof(words[0]))];
        size_t wl = strlen(w);
        for (size_t i = 0; i < wl && o < len; i++) {
            b[o++] = w[i];
        }
        if (o < len) {
            b[o++] = (rng() % 8 == 0) ? '\n' : ' ';
        }
    }
    /* Plant a match for detector 0 and one for the literal-less pattern, at the end. */
    if (len > 64) {
        memcpy(b + len - 40, " TAG0-123456  1234-5678-9012 ", 29);
    }
}

static int make_set(size_t ndet, bool mix, struct wd_detect_set **out)
{
    struct wd_buf y;
    wd_buf_init(&y, 1 << 20);
    int rc = wd_buf_append_str(&y, "detectors:\n");
    for (size_t i = 0; i < ndet && rc == WD_OK; i++) {
        if (mix && i % 10 == 9) {
            rc = wd_buf_printf(&y, "  d%zu: { regex: '\\b[0-9]{4}-[0-9]{4}-[0-9]{%zu}\\b' }\n", i,
                               4 + i / 10 % 3);
        } else {
            rc = wd_buf_printf(&y, "  d%zu: { regex: '\\bTAG%zu-[0-9]{6}\\b' }\n", i, i);
        }
    }
    if (rc == WD_OK) {
        rc = wd_buf_append_str(&y, "scan: { max_bytes: 1048576 }\n");
    }
    struct wd_diag d;
    if (rc == WD_OK) {
        rc = wd_detect_set_parse_yaml("bench.yaml", y.p, y.len, out, &d);
        if (rc != WD_OK) {
            (void)fprintf(stderr, "detect_bench: %s\n", d.msg);
        }
    }
    wd_buf_cleanup(&y);
    return rc;
}

/* Scan repeatedly for at least secs CPU seconds; MB/s, and the last result in *res. */
static double measure(const struct wd_detect_set *set, struct wd_detect_scratch *s,
                      const char *body, size_t len, unsigned flags, double secs,
                      struct wd_detect_result *res)
{
    struct wd_detect_input in = {.body = body, .len = len, .total = len, .flags = flags};
    double t0 = cpu_seconds(), t;
    unsigned long reps = 0;
    do {
        if (wd_detect_scan(set, s, &in, res) != WD_OK) {
            return -1;
        }
        reps++;
        t = cpu_seconds() - t0;
    } while (reps < 3 || t < secs);
    return (double)len * (double)reps / 1e6 / t;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? strtod(argv[1], NULL) : 0.3;
    static const size_t sizes[] = {1024, (size_t)64 * 1024, (size_t)1024 * 1024};
    static const char *const size_names[] = {"1KiB", "64KiB", "1MiB"};
    static const size_t counts[] = {1, 10, 100};
    char *body = wd_malloc(sizes[2]);
    if (body == NULL) {
        return 1;
    }
    int status = 0;
    for (size_t cell = 0; cell < 6; cell++) {
        bool mix = cell >= 3;
        size_t c = cell % 3;
        struct wd_detect_set *set = NULL;
        struct wd_detect_scratch *s = NULL;
        if (make_set(counts[c], mix, &set) != WD_OK || wd_detect_scratch_new(set, &s) != WD_OK) {
            wd_detect_set_free(set);
            status = 1;
            break;
        }
        for (size_t z = 0; z < 3; z++) {
            rng_state = 0x9E3779B97F4A7C15u;
            fill_body(body, sizes[z]);
            struct wd_detect_result a, b;
            double pf = measure(set, s, body, sizes[z], 0, secs, &a);
            double nv = measure(set, s, body, sizes[z], WD_DETECT_NO_PREFILTER, secs, &b);
            size_t hits = 0;
            for (size_t i = 0; i < wd_detect_count(set); i++) {
                hits += wd_detect_bit(a.hit, i);
            }
            bool same = memcmp(a.hit, b.hit, sizeof(a.hit)) == 0
                        && memcmp(a.limit, b.limit, sizeof(a.limit)) == 0;
            printf("detect_bench: mix=%s body=%s detectors=%zu jit=%d prefilter_MBps=%.1f "
                   "naive_MBps=%.1f speedup=%.2f hits=%zu%s\n",
                   mix ? "mix10" : "lit", size_names[z], counts[c], wd_detect_jit(set), pf, nv,
                   nv > 0 ? pf / nv : 0, hits, same ? "" : " MISMATCH");
            if (!same || pf < 0 || nv < 0) {
                status = 1;
            }
        }
        wd_detect_scratch_free(s);
        wd_detect_set_free(set);
    }
    wd_free(body);
    return status;
}
