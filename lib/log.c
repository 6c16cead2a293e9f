/* Levelled logging: one line per event on stderr (or a chosen fd), untrusted bytes escaped. */
#include "warden/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "warden/clock.h"

int wd_log_level_current = WD_LOG_NOTICE;
static const char *log_ident = "warden";
static int log_fd = STDERR_FILENO;

static const char *const level_names[] = {
        [WD_LOG_ERR] = "err",   [WD_LOG_WARN] = "warn",   [WD_LOG_NOTICE] = "notice",
        [WD_LOG_INFO] = "info", [WD_LOG_DEBUG] = "debug",
};

void wd_log_set_level(enum wd_log_level level)
{
    wd_log_level_current = (int)level;
}

int wd_log_level_parse(const char *name)
{
    for (int i = WD_LOG_ERR; i <= WD_LOG_DEBUG; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

void wd_log_set_ident(const char *ident)
{
    log_ident = ident;
}

void wd_log_set_fd(int fd)
{
    log_fd = fd;
}

void wd_log_write(enum wd_log_level level, const char *fmt, ...)
{
    char line[2048];
    char ts[21];
    int n = snprintf(line, sizeof(line), "%s %s[%ld] %s: ", wd_time_format(wd_time_now(), ts),
                     log_ident, (long)getpid(),
                     level >= WD_LOG_ERR && level <= WD_LOG_DEBUG ? level_names[level] : "?");
    size_t off = n < 0 ? 0 : WD_MIN((size_t)n, sizeof(line) - 1);
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(line + off, sizeof(line) - off, fmt, ap);
    va_end(ap);
    off = n < 0 ? off : WD_MIN(off + (size_t)n, sizeof(line) - 2);
    /* A format argument must not be able to split the event over several lines. */
    for (size_t i = 0; i < off; i++) {
        if (line[i] == '\n' || line[i] == '\r') {
            line[i] = ' ';
        }
    }
    line[off++] = '\n';
    /* One write per line so concurrent writers do not interleave inside a line. */
    ssize_t w = write(log_fd, line, off);
    (void)w;
}

/* Escape one byte into tmp (4 bytes); returns how many bytes it takes. */
static size_t escape_byte(unsigned char c, char tmp[4])
{
    static const char hex[] = "0123456789abcdef";
    if (c == '\\' || c == '"') {
        tmp[0] = '\\';
        tmp[1] = (char)c;
        return 2;
    }
    if (c >= 0x20 && c < 0x7f) {
        tmp[0] = (char)c;
        return 1;
    }
    tmp[0] = '\\';
    tmp[1] = 'x';
    tmp[2] = hex[c >> 4];
    tmp[3] = hex[c & 15];
    return 4;
}

const char *wd_log_escape(char *out, size_t outsz, const void *p, size_t len)
{
    const unsigned char *s = p;
    char tmp[4];
    if (outsz == 0) {
        return out;
    }
    size_t total = 0;
    for (size_t i = 0; i < len; i++) {
        total += escape_byte(s[i], tmp);
    }
    /* When it does not all fit, keep room for "..." to show the cut. */
    size_t room = total < outsz ? outsz - 1 : (outsz > 4 ? outsz - 4 : 0);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        size_t tn = escape_byte(s[i], tmp);
        if (o + tn > room) {
            break;
        }
        memcpy(out + o, tmp, tn);
        o += tn;
    }
    if (total >= outsz) {
        size_t dots = WD_MIN((size_t)3, outsz - 1 - o);
        memcpy(out + o, "...", dots);
        o += dots;
    }
    out[o] = '\0';
    return out;
}
