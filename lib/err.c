/* Status-code text and operator diagnostics. */
#include "warden/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const struct {
    int code;
    const char *text;
} err_table[] = {
        {WD_OK, "success"},
        {WD_EAGAIN, "need more data"},
        {WD_ENOMEM, "out of memory"},
        {WD_EINVAL, "invalid argument"},
        {WD_EPROTO, "malformed input"},
        {WD_ELIMIT, "limit exceeded"},
        {WD_EDENIED, "denied"},
        {WD_ETLS, "TLS or crypto library error"},
        {WD_EDB, "database error"},
        {WD_EIO, "I/O error"},
        {WD_ECONFIG, "configuration error"},
        {WD_ENOENT, "not found"},
        {WD_EEXIST, "already exists"},
        {WD_ECRYPTO, "cryptographic check failed"},
        {WD_EEXPIRED, "expired or not yet valid"},
};

const char *wd_strerror(int err)
{
    for (size_t i = 0; i < WD_ARRAY_LEN(err_table); i++) {
        if (err_table[i].code == err) {
            return err_table[i].text;
        }
    }
    return "unknown error";
}

int wd_diag_set(struct wd_diag *diag, int err, const char *file, unsigned line, unsigned col,
                const char *fmt, ...)
{
    if (diag == NULL) {
        return err;
    }
    size_t off = 0;
    int n = 0;
    if (file != NULL && line > 0) {
        n = snprintf(diag->msg, sizeof(diag->msg), "%s:%u:%u: ", file, line, col);
    } else if (file != NULL) {
        n = snprintf(diag->msg, sizeof(diag->msg), "%s: ", file);
    }
    if (n > 0) {
        off = (size_t)n < sizeof(diag->msg) ? (size_t)n : sizeof(diag->msg) - 1;
    }
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(diag->msg + off, sizeof(diag->msg) - off, fmt, ap);
    va_end(ap);
    return err;
}

void wd_bug(const char *file, int line, const char *cond)
{
    (void)fprintf(stderr, "BUG: %s:%d: %s\n", file, line, cond);
    abort();
}
