/*
 * The only way warden allocates. In test builds (WD_TESTING) the wrappers count live
 * blocks, so tests can assert there is no leak, and can be told to fail the Nth allocation,
 * so every allocating function can be driven through its out-of-memory path.
 */
#ifndef WD_ALLOC_H
#define WD_ALLOC_H

#include <stddef.h>

#include "warden/common.h"

/* malloc(n); NULL on failure or when n is 0 would overflow nothing: n == 0 allocates 1. */
void *wd_malloc(size_t n);
/* calloc with an overflow-checked multiplication. */
void *wd_calloc(size_t count, size_t size);
/* realloc(p, count * size) with an overflow check; on failure p is untouched. */
void *wd_reallocarray(void *p, size_t count, size_t size);
/* A NUL-terminated copy of the first n bytes of s (s need not be NUL-terminated). */
char *wd_strndup(const char *s, size_t n);
/* A NUL-terminated copy of s. */
char *wd_strdup(const char *s);
/* free(p); accepts NULL. */
void wd_free(void *p);
/* Zero n bytes at p (not optimised away), then free; for keys, tokens and passwords. */
void wd_free_secret(void *p, size_t n);
/* Free and set the pointer to NULL. */
#define WD_FREE(p)  \
    do {            \
        wd_free(p); \
        (p) = NULL; \
    } while (0)

/*
 * Test hooks. They exist in every build so that callers compile the same way, but only
 * WD_TESTING builds count or inject failures; otherwise they do nothing and return 0.
 *
 * wd_alloc_fail_at(n): the nth allocation from now (1-based) and all later ones fail
 *   (n == 0 turns injection off).
 * wd_alloc_injected(): whether an injected failure has happened since the last fail_at.
 * wd_alloc_live(): number of blocks allocated and not yet freed.
 */
void wd_alloc_fail_at(unsigned long n);
int wd_alloc_injected(void);
long wd_alloc_live(void);

#endif
