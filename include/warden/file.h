/* Whole-file reads with a size cap, and atomic writes with an explicit mode. */
#ifndef WD_FILE_H
#define WD_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"

/*
 * Append the content of path to out (whose own cap also applies). WD_ENOENT if it does not
 * exist, WD_EIO for other read errors, WD_ELIMIT if it is larger than max bytes; diag
 * (may be NULL) says "path: reason".
 */
WD_MUST_USE int wd_file_read(const char *path, size_t max, struct wd_buf *out,
                             struct wd_diag *diag);

/*
 * Replace path with p[0..n) atomically: write a temporary file in the same directory
 * created with mode (e.g. 0600 for private keys, never wider than asked whatever the umask
 * is), fsync it, rename it over path, fsync the directory. On any error the temporary file is
 * removed and path is untouched. WD_EIO with diag set.
 */
WD_MUST_USE int wd_file_write_atomic(const char *path, const void *p, size_t n, mode_t mode,
                                     struct wd_diag *diag);

/* Create directory path with mode if it does not exist (parents must exist). WD_EIO. */
WD_MUST_USE int wd_file_mkdir(const char *path, mode_t mode, struct wd_diag *diag);

#endif
