/*
 * Levelled logging to stderr, one line per event. Arguments are evaluated only when the
 * level is enabled. Bytes that came from outside (network, files) must go through
 * wd_log_escape so they cannot forge log lines. Secrets never go here.
 */
#ifndef WD_LOG_H
#define WD_LOG_H

#include <stddef.h>

#include "warden/common.h"

enum wd_log_level {
    WD_LOG_ERR = 3,
    WD_LOG_WARN = 4,
    WD_LOG_NOTICE = 5,
    WD_LOG_INFO = 6,
    WD_LOG_DEBUG = 7,
};

extern int wd_log_level_current;

void wd_log_set_level(enum wd_log_level level);
/* Parse "err", "warn", "notice", "info" or "debug". Returns -1 for anything else. */
int wd_log_level_parse(const char *name);
/* Set the program name printed at the start of each line (borrowed, must outlive logging). */
void wd_log_set_ident(const char *ident);
/* Send log lines to a file descriptor other than stderr (tests). */
void wd_log_set_fd(int fd);

void wd_log_write(enum wd_log_level level, const char *fmt, ...) WD_PRINTF(2, 3);

#define wd_log(level, ...)                          \
    do {                                            \
        if ((int)(level) <= wd_log_level_current) { \
            wd_log_write((level), __VA_ARGS__);     \
        }                                           \
    } while (0)

/*
 * Escape untrusted bytes for a log line into out (size outsz, always NUL-terminated):
 * printable ASCII except backslash and double quote is copied, everything else becomes
 * \xHH (\\ and \" for those two). Input that does not fit is cut and ends with "...".
 * Returns out.
 */
const char *wd_log_escape(char *out, size_t outsz, const void *p, size_t len);

#endif
