/*
 * The allocation wrappers. Test builds keep a live-block count for leak checks and can fail
 * the Nth allocation (curl's torture mode). The live-block count is updated atomically, since
 * some tests (the store's concurrency tests) allocate from several threads; failure
 * injection is for single-threaded use. Release builds compile the bookkeeping out.
 */
#include "warden/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#ifdef WD_TESTING
static long live_blocks;
static unsigned long fail_countdown; /* 0: off; otherwise allocations left before failing */
static int injected;

static int should_fail(void)
{
    if (__atomic_load_n(&fail_countdown, __ATOMIC_RELAXED) == 0) {
        return 0;
    }
    if (fail_countdown == 1) {
        injected = 1;
        return 1; /* stay at 1: every later allocation fails too */
    }
    fail_countdown--;
    return 0;
}
#define COUNT_ALLOC(p)                                             \
    do {                                                           \
        if ((p) != NULL) {                                         \
            __atomic_fetch_add(&live_blocks, 1, __ATOMIC_RELAXED); \
        }                                                          \
    } while (0)
#else
#define should_fail()  0
#define COUNT_ALLOC(p) ((void)0)
#endif

void *wd_malloc(size_t n)
{
    if (should_fail()) {
        return NULL;
    }
    void *p = malloc(n == 0 ? 1 : n);
    COUNT_ALLOC(p);
    return p;
}

void *wd_calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size) {
        return NULL;
    }
    if (should_fail()) {
        return NULL;
    }
    void *p = calloc(count == 0 ? 1 : count, size == 0 ? 1 : size);
    COUNT_ALLOC(p);
    return p;
}

void *wd_reallocarray(void *p, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size) {
        return NULL;
    }
    if (should_fail()) {
        return NULL;
    }
    size_t n = count * size;
    void *q = realloc(p, n == 0 ? 1 : n);
#ifdef WD_TESTING
    if (q != NULL && p == NULL) {
        __atomic_fetch_add(&live_blocks, 1, __ATOMIC_RELAXED);
    }
#endif
    return q;
}

char *wd_strndup(const char *s, size_t n)
{
    if (n == SIZE_MAX) {
        return NULL;
    }
    char *d = wd_malloc(n + 1);
    if (d == NULL) {
        return NULL;
    }
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *wd_strdup(const char *s)
{
    return wd_strndup(s, strlen(s));
}

void wd_free(void *p)
{
    if (p == NULL) {
        return;
    }
#ifdef WD_TESTING
    __atomic_fetch_sub(&live_blocks, 1, __ATOMIC_RELAXED);
#endif
    free(p);
}

void wd_free_secret(void *p, size_t n)
{
    if (p == NULL) {
        return;
    }
    OPENSSL_cleanse(p, n);
    wd_free(p);
}

#ifdef WD_TESTING
void wd_alloc_fail_at(unsigned long n)
{
    fail_countdown = n;
    injected = 0;
}

int wd_alloc_injected(void)
{
    return injected;
}

long wd_alloc_live(void)
{
    return __atomic_load_n(&live_blocks, __ATOMIC_RELAXED);
}
#else
void wd_alloc_fail_at(unsigned long n)
{
    (void)n;
}

int wd_alloc_injected(void)
{
    return 0;
}

long wd_alloc_live(void)
{
    return 0;
}
#endif
