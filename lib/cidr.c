/*
 * IPv4/IPv6 addresses and CIDR prefixes. The address text itself is parsed by inet_pton
 * (POSIX; glibc's refuses IPv4 octets with leading zeros and anything but dotted quads),
 * on a bounded NUL-terminated copy, so input needs no terminator.
 */
#include "warden/cidr.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ::ffff:0:0/96, RFC 4291 §2.5.5.2 */
static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int wd_ip_parse(const char *s, size_t n, struct wd_ip *out)
{
    char tmp[WD_CIDR_TEXT_MAX + 1];
    WD_ENSURE(out != NULL && (s != NULL || n == 0), WD_EINVAL);
    WD_ENSURE(n > 0 && n <= WD_CIDR_TEXT_MAX, WD_EPROTO);
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    /* an embedded NUL would make inet_pton see a shorter text */
    WD_ENSURE(memchr(s, '\0', n) == NULL, WD_EPROTO);
    struct wd_ip ip;
    memset(&ip, 0, sizeof(ip));
    if (memchr(tmp, ':', n) != NULL) {
        WD_ENSURE(inet_pton(AF_INET6, tmp, ip.b) == 1, WD_EPROTO);
        ip.family = 6;
    } else {
        WD_ENSURE(inet_pton(AF_INET, tmp, ip.b) == 1, WD_EPROTO);
        ip.family = 4;
    }
    *out = ip;
    return WD_OK;
}

int wd_cidr_parse(const char *s, size_t n, struct wd_cidr *out, const char **why)
{
    const char *dummy = NULL;
    if (why == NULL) {
        why = &dummy;
    }
    WD_ENSURE(out != NULL && (s != NULL || n == 0), WD_EINVAL);
    const char *slash = n > 0 ? memchr(s, '/', n) : NULL;
    size_t alen = slash != NULL ? (size_t)(slash - s) : n;
    struct wd_cidr c;
    memset(&c, 0, sizeof(c));
    if (wd_ip_parse(s, alen, &c.net) != WD_OK) {
        *why = "bad address";
        return WD_EPROTO;
    }
    unsigned maxlen = c.net.family == 4 ? 32 : 128;
    unsigned plen = maxlen;
    if (slash != NULL) {
        const char *p = slash + 1;
        size_t pl = n - alen - 1;
        /* 1..3 decimal digits, no leading zero (except "0" itself) */
        if (pl == 0 || pl > 3 || (p[0] == '0' && pl > 1)) {
            *why = "bad prefix length";
            return WD_EPROTO;
        }
        plen = 0;
        for (size_t i = 0; i < pl; i++) {
            if (p[i] < '0' || p[i] > '9') {
                *why = "bad prefix length";
                return WD_EPROTO;
            }
            plen = plen * 10 + (unsigned)(p[i] - '0');
        }
        if (plen > maxlen) {
            *why = "prefix length too large";
            return WD_EPROTO;
        }
    }
    /* RFC 4632 §3.1: the bits after the prefix length must be zero */
    size_t nbytes = maxlen / 8;
    for (size_t i = 0; i < nbytes; i++) {
        unsigned bit0 = (unsigned)i * 8;
        uint8_t mask;
        if (bit0 + 8 <= plen) {
            mask = 0xff;
        } else if (bit0 >= plen) {
            mask = 0;
        } else {
            mask = (uint8_t)(0xff << (8 - (plen - bit0)));
        }
        if ((c.net.b[i] & (uint8_t)~mask) != 0) {
            *why = "address has bits set beyond the prefix length";
            return WD_EPROTO;
        }
    }
    c.prefix = (uint8_t)plen;
    *out = c;
    return WD_OK;
}

/* Whether the first bits bits of a and b agree. */
static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    size_t whole = bits / 8;
    if (memcmp(a, b, whole) != 0) {
        return false;
    }
    unsigned rest = bits % 8;
    if (rest == 0) {
        return true;
    }
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

bool wd_cidr_contains(const struct wd_cidr *c, const struct wd_ip *ip)
{
    if (c == NULL || ip == NULL) {
        return false;
    }
    if (c->net.family == ip->family) {
        return prefix_eq(c->net.b, ip->b, c->prefix);
    }
    if (c->net.family == 4 && ip->family == 6) {
        /* an IPv4 peer seen through a dual-stack socket */
        if (memcmp(ip->b, v4mapped_prefix, sizeof(v4mapped_prefix)) != 0) {
            return false;
        }
        return prefix_eq(c->net.b, ip->b + 12, c->prefix);
    }
    if (c->net.family == 6 && ip->family == 4) {
        /* an IPv6 prefix covering ::ffff:0:0/96 or part of it */
        uint8_t mapped[16];
        memcpy(mapped, v4mapped_prefix, sizeof(v4mapped_prefix));
        memcpy(mapped + 12, ip->b, 4);
        return prefix_eq(c->net.b, mapped, c->prefix);
    }
    return false;
}

bool wd_cidr_set_contains(const struct wd_cidr *set, size_t n, const struct wd_ip *ip)
{
    for (size_t i = 0; i < n; i++) {
        if (wd_cidr_contains(&set[i], ip)) {
            return true;
        }
    }
    return false;
}

int wd_cidr_format(const struct wd_cidr *c, char *out, size_t outsz)
{
    char addr[INET6_ADDRSTRLEN];
    WD_ENSURE(c != NULL && out != NULL, WD_EINVAL);
    WD_ENSURE((c->net.family == 4 && c->prefix <= 32) || (c->net.family == 6 && c->prefix <= 128),
              WD_EINVAL);
    int af = c->net.family == 4 ? AF_INET : AF_INET6;
    WD_ENSURE(inet_ntop(af, c->net.b, addr, sizeof(addr)) != NULL, WD_EINVAL);
    int k = snprintf(out, outsz, "%s/%u", addr, (unsigned)c->prefix);
    WD_ENSURE(k > 0 && (size_t)k < outsz, WD_ELIMIT);
    return WD_OK;
}
