/*
 * IPv4 and IPv6 addresses and CIDR prefixes (RFC 4632 §3.1, RFC 4291 §2.3), for IP fences:
 * the control plane's "a node must attest from one of these networks" and the proxy's
 * source-address rules.
 *
 * Text forms accepted: an IPv4 dotted quad ("10.1.2.3", four decimal octets, no leading
 * zeros), an IPv6 address in any RFC 4291 §2.2 form ("::1", "fe80::1", "::ffff:10.0.0.1";
 * no zone index "%eth0", no brackets), each optionally followed by "/PREFIX" (decimal, no
 * leading zeros, 0..32 or 0..128). A bare address is a host prefix (/32 or /128). A prefix
 * whose address has bits set after the prefix length ("10.0.0.1/8") is refused: it is
 * almost always a typo, and silently masking it would widen or move the fence.
 *
 * Matching: an IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack socket reports
 * for IPv4 peers) matches IPv4 prefixes as the IPv4 address it maps, and an IPv4 address
 * matches ::ffff:0:0/96 prefixes likewise. No other cross-family match exists.
 *
 * Everything here is pure: no I/O, no allocation, no globals; thread-safe.
 */
#ifndef WD_CIDR_H
#define WD_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/common.h"
#include "warden/err.h"

/* Longest text form accepted (an IPv6 address with an embedded IPv4 part and "/128"). */
#define WD_CIDR_TEXT_MAX 64

/* An address: family 4 (bytes 0..3 used) or 6 (bytes 0..15). */
struct wd_ip {
    uint8_t family;
    uint8_t b[16];
};

/* A prefix: the network address (host bits zero) and its length in bits. */
struct wd_cidr {
    struct wd_ip net;
    uint8_t prefix; /* 0..32 for family 4, 0..128 for family 6 */
};

/*
 * Parse an address s[0..n) (no prefix). s need not be NUL-terminated. WD_OK, or WD_EPROTO
 * for anything else (empty, too long, a zone index, brackets, a prefix). WD_EINVAL for
 * NULL out or NULL s with n > 0.
 */
WD_MUST_USE int wd_ip_parse(const char *s, size_t n, struct wd_ip *out);

/*
 * Parse a CIDR prefix or a bare address s[0..n) as described above. On WD_EPROTO,
 * *why (may be NULL) points at a static text naming the rule ("bad address", "bad prefix
 * length", "prefix length too large", "address has bits set beyond the prefix length").
 * WD_EINVAL for NULL out or NULL s with n > 0.
 */
WD_MUST_USE int wd_cidr_parse(const char *s, size_t n, struct wd_cidr *out, const char **why);

/* Whether ip lies inside c (see the IPv4-mapped rule above). */
bool wd_cidr_contains(const struct wd_cidr *c, const struct wd_ip *ip);

/* Whether ip lies inside any of set[0..n). False for n == 0. */
bool wd_cidr_set_contains(const struct wd_cidr *set, size_t n, const struct wd_ip *ip);

/*
 * Write the canonical text of c ("10.0.0.0/8", "2001:db8::/32", inet_ntop's IPv6 form) into
 * out[0..outsz), NUL-terminated. WD_ELIMIT when outsz is too small (WD_CIDR_TEXT_MAX + 1 is
 * always enough); WD_EINVAL for an invalid c.
 */
WD_MUST_USE int wd_cidr_format(const struct wd_cidr *c, char *out, size_t outsz);

#endif
