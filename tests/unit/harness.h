/*
 * The unit-test harness: no dependencies, no fork (ASan and gdb work directly). Each test
 * binary defines its tests with TEST(name) and lists them in main via RUN(name); the last
 * line it prints is "<suite>: N passed, N failed".
 */
#ifndef WD_TEST_HARNESS_H
#define WD_TEST_HARNESS_H

#include <stdio.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/err.h"

static int harness_failed_checks;
static int harness_passed;
static int harness_failed;

#define TEST(name) static void test_##name(void)

#define CHECK(expr)                                                         \
    do {                                                                    \
        if (!(expr)) {                                                      \
            printf("%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #expr); \
            harness_failed_checks++;                                        \
            return;                                                         \
        }                                                                   \
    } while (0)

#define CHECK_EQ(a, b)                                                                           \
    do {                                                                                         \
        long long ca_ = (long long)(a), cb_ = (long long)(b);                                    \
        if (ca_ != cb_) {                                                                        \
            printf("%s:%d: CHECK_EQ(%s, %s) failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b, \
                   ca_, cb_);                                                                    \
            harness_failed_checks++;                                                             \
            return;                                                                              \
        }                                                                                        \
    } while (0)

#define CHECK_STR(a, b)                                                                           \
    do {                                                                                          \
        const char *sa_ = (a), *sb_ = (b);                                                        \
        if (sa_ == NULL || sb_ == NULL || strcmp(sa_, sb_) != 0) {                                \
            printf("%s:%d: CHECK_STR(%s, %s) failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a, \
                   #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                               \
            harness_failed_checks++;                                                              \
            return;                                                                               \
        }                                                                                         \
    } while (0)

#define CHECK_MEM(a, b, n)   CHECK(memcmp((a), (b), (n)) == 0)
#define CHECK_OK(rc)         CHECK_EQ((rc), WD_OK)
#define CHECK_ERR(rc, err)   CHECK_EQ((rc), (err))
#define CHECK_NO_LEAKS(base) CHECK_EQ(wd_alloc_live(), (base))

/* Run one test; it fails if any CHECK failed or if it leaked wrapper allocations. */
#define RUN(name)                                                                     \
    do {                                                                              \
        int before_ = harness_failed_checks;                                          \
        long live_ = wd_alloc_live();                                                 \
        test_##name();                                                                \
        wd_alloc_fail_at(0);                                                          \
        if (harness_failed_checks == before_ && wd_alloc_live() != live_) {           \
            printf("%s: leaked %ld allocation(s)\n", #name, wd_alloc_live() - live_); \
            harness_failed_checks++;                                                  \
        }                                                                             \
        if (harness_failed_checks == before_) {                                       \
            harness_passed++;                                                         \
            printf("ok %s\n", #name);                                                 \
        } else {                                                                      \
            harness_failed++;                                                         \
            printf("FAIL %s\n", #name);                                               \
        }                                                                             \
    } while (0)

#define HARNESS_END(suite)                                                          \
    (printf("%s: %d passed, %d failed\n", (suite), harness_passed, harness_failed), \
     harness_failed == 0 ? 0 : 1)

/*
 * Allocation-failure sweep: run `call` (an expression yielding an int status) with the
 * 1st, 2nd, ... allocation failing until it succeeds. Every failing run must return
 * WD_ENOMEM (or another error when the caller allows it via `ok_err`) and leak nothing;
 * `cleanup` runs after every attempt (success or not) to release what call produced.
 */
#define CHECK_ALLOC_SWEEP(call, cleanup)                                                        \
    do {                                                                                        \
        long sweep_base_ = wd_alloc_live();                                                     \
        for (unsigned long sweep_n_ = 1; sweep_n_ < 100000; sweep_n_++) {                       \
            wd_alloc_fail_at(sweep_n_);                                                         \
            int sweep_rc_ = (call);                                                             \
            int sweep_inj_ = wd_alloc_injected();                                               \
            wd_alloc_fail_at(0);                                                                \
            cleanup;                                                                            \
            if (!sweep_inj_) {                                                                  \
                CHECK_OK(sweep_rc_);                                                            \
                break;                                                                          \
            }                                                                                   \
            if (sweep_rc_ != WD_ENOMEM) {                                                       \
                printf("%s:%d: allocation %lu failing gave %d (%s), not WD_ENOMEM\n", __FILE__, \
                       __LINE__, sweep_n_, sweep_rc_, wd_strerror(sweep_rc_));                  \
                harness_failed_checks++;                                                        \
                return;                                                                         \
            }                                                                                   \
            CHECK_NO_LEAKS(sweep_base_);                                                        \
        }                                                                                       \
    } while (0)

#endif
