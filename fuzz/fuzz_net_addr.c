/*
 * Fuzz the listen-string and URL parsers (lib/net/addr.c). The first byte picks the parser;
 * the rest is the text. An accepted address is written back in canonical form and parsed
 * again: the result must be identical (WD_BUG_ON otherwise), and its parts must be sane (a
 * host without ':' unless bracketed, a unix path that fits sun_path without control bytes).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "warden/common.h"

#include "net/net_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void format(const struct wd_net_addr *a, bool url, char *out, size_t cap)
{
    if (a->kind == WD_NET_UNIX) {
        (void)snprintf(out, cap, "unix:%s", a->path);
        return;
    }
    const char *scheme = !url ? "" : a->tls ? "https://" : "http://";
    if (a->host_v6) {
        (void)snprintf(out, cap, "%s[%s]:%u", scheme, a->host, a->port);
    } else {
        (void)snprintf(out, cap, "%s%s:%u", scheme, a->host, a->port);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096) {
        return 0;
    }
    bool url = (data[0] & 1) != 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    struct wd_net_addr a, b;
    struct wd_diag d;
    int rc = url ? wd_net_parse_url(s, n, &a, &d) : wd_net_parse_listen(s, n, &a, &d);
    if (rc < 0) {
        WD_BUG_ON(rc != WD_ECONFIG);
        WD_BUG_ON(memchr(d.msg, '\0', sizeof(d.msg)) == NULL);
        return 0;
    }
    WD_BUG_ON(rc != WD_OK);
    if (a.kind == WD_NET_UNIX) {
        size_t len = strnlen(a.path, sizeof(a.path));
        WD_BUG_ON(len == 0 || len >= sizeof(a.path));
        for (size_t i = 0; i < len; i++) {
            WD_BUG_ON((unsigned char)a.path[i] <= 0x20 || a.path[i] == 0x7f);
        }
    } else {
        size_t len = strnlen(a.host, sizeof(a.host));
        WD_BUG_ON(len == 0 || len >= sizeof(a.host));
        WD_BUG_ON(!a.host_v6 && memchr(a.host, ':', len) != NULL);
        WD_BUG_ON(url && a.port == 0);
    }
    char canon[512];
    format(&a, url, canon, sizeof(canon));
    rc = url ? wd_net_parse_url(canon, strlen(canon), &b, &d)
             : wd_net_parse_listen(canon, strlen(canon), &b, &d);
    WD_BUG_ON(rc != WD_OK);
    WD_BUG_ON(memcmp(&a, &b, sizeof(a)) != 0);
    return 0;
}
