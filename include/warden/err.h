/* Status codes, their text, the three guard macros, and operator-facing diagnostics. */
#ifndef WD_ERR_H
#define WD_ERR_H

#include <stddef.h>

#include "warden/common.h"

/* Every fallible function returns an int holding one of these: WD_OK or a negative code. */
enum wd_err {
    WD_OK = 0,
    WD_EAGAIN = -1,    /* parser needs more bytes / I/O would block */
    WD_ENOMEM = -2,    /* allocation failed */
    WD_EINVAL = -3,    /* caller passed an invalid argument (a bug in the caller) */
    WD_EPROTO = -4,    /* peer or file sent malformed bytes */
    WD_ELIMIT = -5,    /* a configured bound was hit */
    WD_EDENIED = -6,   /* policy or verification said no */
    WD_ETLS = -7,      /* TLS or other OpenSSL failure */
    WD_EDB = -8,       /* database failure */
    WD_EIO = -9,       /* operating-system I/O failure */
    WD_ECONFIG = -10,  /* operator-written configuration is wrong */
    WD_ENOENT = -11,   /* the named thing does not exist */
    WD_EEXIST = -12,   /* the named thing already exists */
    WD_ECRYPTO = -13,  /* a cryptographic check failed (bad signature, wrong key) */
    WD_EEXPIRED = -14, /* a certificate, token or session is outside its validity window */
};

/* Text for a status code; never NULL (unknown codes give "unknown error"). Thread-safe. */
const char *wd_strerror(int err);

/* Return the code if it is an error; for code with nothing to clean up. */
#define WD_TRY(expr)             \
    do {                         \
        int wd_try_rc_ = (expr); \
        if (wd_try_rc_ < 0) {    \
            return wd_try_rc_;   \
        }                        \
    } while (0)

/* Return err when cond is false; for input and bounds checks. */
#define WD_ENSURE(cond, err) \
    do {                     \
        if (!(cond)) {       \
            return (err);    \
        }                    \
    } while (0)

/* Store expr in the local `rc` and jump to the local `out:` label on error. */
#define WD_CHECK(expr) \
    do {               \
        rc = (expr);   \
        if (rc < 0) {  \
            goto out;  \
        }              \
    } while (0)

/*
 * A diagnostic for text an operator wrote: "file:line:col: message". Fixed size so that
 * reporting an error never allocates. line/col are 1-based; 0 means "not known".
 */
#define WD_DIAG_MAX 512
struct wd_diag {
    char msg[WD_DIAG_MAX];
};

/*
 * Fill diag (may be NULL: then nothing happens) with "file:line:col: fmt...". When line is
 * 0 the position is left out; when file is NULL it is left out too. Returns err so callers
 * can write `return wd_diag_set(d, WD_ECONFIG, ...)`. Truncates silently to WD_DIAG_MAX.
 */
int wd_diag_set(struct wd_diag *diag, int err, const char *file, unsigned line, unsigned col,
                const char *fmt, ...) WD_PRINTF(6, 7);

#endif
