/* Common attributes and small macros shared by every module. */
#ifndef WD_COMMON_H
#define WD_COMMON_H

#include <stddef.h>

/* A fallible function's result must be looked at; -Werror turns a dropped one into an error. */
#define WD_MUST_USE                  __attribute__((warn_unused_result))
#define WD_PRINTF(fmt_idx, args_idx) __attribute__((format(printf, fmt_idx, args_idx)))
#define WD_UNUSED                    __attribute__((unused))

/* File-local functions that unit tests need to reach are WD_STATIC (curl's UNITTEST). */
#ifdef WD_TESTING
#define WD_STATIC
#else
#define WD_STATIC static
#endif

#define WD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define WD_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define WD_MAX(a, b)    ((a) > (b) ? (a) : (b))

/*
 * WD_BUG_ON(cond): an invariant that cannot fail unless warden itself is wrong. Always
 * compiled in; logs file and line, then aborts. Never use it for input validation.
 */
void wd_bug(const char *file, int line, const char *cond) __attribute__((noreturn));
#define WD_BUG_ON(cond)                        \
    do {                                       \
        if (__builtin_expect(!!(cond), 0)) {   \
            wd_bug(__FILE__, __LINE__, #cond); \
        }                                      \
    } while (0)

#endif
