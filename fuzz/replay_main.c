/*
 * A plain main for fuzz harnesses: feeds every file named on the command line (directories
 * are walked one level) to LLVMFuzzerTestOneInput, so corpora and past crashes replay as
 * regression tests in ordinary (gcc + ASan) builds. Prints "<n> inputs" when done.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    struct wd_buf b;
    wd_buf_init(&b, 64u << 20);
    struct wd_diag diag;
    int rc = wd_file_read(path, 64u << 20, &b, &diag);
    if (rc < 0) {
        (void)fprintf(stderr, "%s\n", diag.msg);
        wd_buf_cleanup(&b);
        return -1;
    }
    /* Copy into an exact-size allocation so ASan catches reads past the end. */
    uint8_t *exact = wd_malloc(b.len);
    if (exact == NULL) {
        wd_buf_cleanup(&b);
        return -1;
    }
    if (b.len > 0) {
        memcpy(exact, b.p, b.len);
    }
    (void)LLVMFuzzerTestOneInput(exact, b.len);
    wd_free(exact);
    wd_buf_cleanup(&b);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long n = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == -1) {
            (void)fprintf(stderr, "%s: cannot stat\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (replay_file(argv[i]) < 0) {
                return 1;
            }
            n++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (d == NULL) {
            return 1;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') {
                continue;
            }
            char path[4096];
            if (snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name) >= (int)sizeof(path)) {
                continue;
            }
            if (replay_file(path) < 0) {
                (void)closedir(d);
                return 1;
            }
            n++;
        }
        (void)closedir(d);
    }
    printf("%lu inputs\n", n);
    return 0;
}
