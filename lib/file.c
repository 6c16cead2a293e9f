/* Capped whole-file reads and atomic replacement of files. */
#include "warden/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "warden/alloc.h"
#include "warden/rand.h"

int wd_file_read(const char *path, size_t max, struct wd_buf *out, struct wd_diag *diag)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        int e = errno;
        return wd_diag_set(diag, e == ENOENT ? WD_ENOENT : WD_EIO, path, 0, 0, "%s", strerror(e));
    }
    int rc = WD_OK;
    size_t total = 0;
    struct stat st;
    if (fstat(fd, &st) == -1 || S_ISDIR(st.st_mode)) {
        rc = wd_diag_set(diag, WD_EIO, path, 0, 0, "%s",
                         S_ISDIR(st.st_mode) ? "is a directory" : strerror(errno));
        goto out;
    }
    for (;;) {
        uint8_t chunk[16384];
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n == -1) {
            rc = wd_diag_set(diag, WD_EIO, path, 0, 0, "%s", strerror(errno));
            goto out;
        }
        if (n == 0) {
            break;
        }
        total += (size_t)n;
        if (total > max) {
            rc = wd_diag_set(diag, WD_ELIMIT, path, 0, 0, "file larger than %zu bytes", max);
            goto out;
        }
        rc = wd_buf_append(out, chunk, (size_t)n);
        if (rc < 0) {
            (void)wd_diag_set(diag, rc, path, 0, 0, "%s", wd_strerror(rc));
            goto out;
        }
    }
out:
    (void)close(fd);
    return rc;
}

static int fsync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (slash == NULL) {
        memcpy(dir, ".", 2);
    } else if (slash == path) {
        memcpy(dir, "/", 2);
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof(dir)) {
            return -1;
        }
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd == -1) {
        return -1;
    }
    int r = fsync(fd);
    (void)close(fd);
    return r;
}

int wd_file_write_atomic(const char *path, const void *p, size_t n, mode_t mode,
                         struct wd_diag *diag)
{
    char tmp[4096];
    uint8_t rnd[6];
    int rc = wd_rand_bytes(rnd, sizeof(rnd));
    if (rc < 0) {
        return wd_diag_set(diag, rc, path, 0, 0, "no randomness for a temporary name");
    }
    int len = snprintf(tmp, sizeof(tmp), "%s.tmp-%02x%02x%02x%02x%02x%02x", path, rnd[0], rnd[1],
                       rnd[2], rnd[3], rnd[4], rnd[5]);
    if (len < 0 || (size_t)len >= sizeof(tmp)) {
        return wd_diag_set(diag, WD_EINVAL, path, 0, 0, "path too long");
    }
    /* O_EXCL: never follow or reuse something an attacker placed at the temporary name. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd == -1) {
        return wd_diag_set(diag, WD_EIO, path, 0, 0, "cannot create: %s", strerror(errno));
    }
    /* The umask may only narrow the mode; fchmod makes it exactly what was asked. */
    if (fchmod(fd, mode) == -1) {
        rc = wd_diag_set(diag, WD_EIO, path, 0, 0, "chmod: %s", strerror(errno));
        goto fail;
    }
    const uint8_t *b = p;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, b + done, n - done);
        if (w == -1 && errno == EINTR) {
            continue;
        }
        if (w == -1) {
            rc = wd_diag_set(diag, WD_EIO, path, 0, 0, "write: %s", strerror(errno));
            goto fail;
        }
        done += (size_t)w;
    }
    if (fsync(fd) == -1) {
        rc = wd_diag_set(diag, WD_EIO, path, 0, 0, "fsync: %s", strerror(errno));
        goto fail;
    }
    if (close(fd) == -1) {
        fd = -1;
        rc = wd_diag_set(diag, WD_EIO, path, 0, 0, "close: %s", strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) == -1) {
        rc = wd_diag_set(diag, WD_EIO, path, 0, 0, "rename: %s", strerror(errno));
        goto fail;
    }
    if (fsync_dir_of(path) == -1) {
        return wd_diag_set(diag, WD_EIO, path, 0, 0, "fsync directory: %s", strerror(errno));
    }
    return WD_OK;
fail:
    if (fd != -1) {
        (void)close(fd);
    }
    (void)unlink(tmp);
    return rc;
}

int wd_file_mkdir(const char *path, mode_t mode, struct wd_diag *diag)
{
    if (mkdir(path, mode) == 0) {
        return WD_OK;
    }
    int e = errno;
    struct stat st;
    if (e == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        return WD_OK;
    }
    return wd_diag_set(diag, WD_EIO, path, 0, 0, "cannot create directory: %s", strerror(e));
}
