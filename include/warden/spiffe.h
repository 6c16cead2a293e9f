/*
 * SPIFFE IDs and trust domain names, parsed and validated exactly per the SPIFFE-ID
 * specification (standards/SPIFFE-ID.md §2): "spiffe://" + trust domain + optional path.
 *
 * Both types are small fixed-size values (no allocation): a parsed ID or trust domain is
 * always valid, so code holding one never re-checks it. Parsing is pure and thread-safe.
 * Every rule of the specification has its own error code and message, so an operator sees
 * exactly which rule an input broke, e.g.
 *   "spiffe: trust domain contains an invalid character '!' at 12 (allowed: a-z 0-9 . - _)".
 */
#ifndef WD_SPIFFE_H
#define WD_SPIFFE_H

#include <stdbool.h>
#include <stddef.h>

#include "warden/common.h"
#include "warden/err.h"

/* SPIFFE-ID §2.3: implementations support IDs up to 2048 bytes; hosts are at most 255. */
#define WD_SPIFFE_ID_MAX 2048
#define WD_SPIFFE_TD_MAX 255

/* The rule an input broke. WD_SPIFFE_OK is 0; every other value is one rule. */
enum wd_spiffe_err {
    WD_SPIFFE_OK = 0,
    WD_SPIFFE_EMPTY,               /* the input is empty */
    WD_SPIFFE_TOO_LONG,            /* longer than WD_SPIFFE_ID_MAX bytes (§2.3) */
    WD_SPIFFE_BAD_SCHEME,          /* does not start with exactly "spiffe://" (§2) */
    WD_SPIFFE_TD_EMPTY,            /* the trust domain is empty (§2.1) */
    WD_SPIFFE_TD_TOO_LONG,         /* trust domain longer than WD_SPIFFE_TD_MAX (§2.3) */
    WD_SPIFFE_TD_UPPER,            /* an upper-case letter in the trust domain (§2.1) */
    WD_SPIFFE_TD_BAD_CHAR,         /* any other character outside [a-z0-9.-_] (§2.1) */
    WD_SPIFFE_TD_PORT,             /* a ':' (port) in the authority (§2.1) */
    WD_SPIFFE_TD_USERINFO,         /* an '@' (userinfo) in the authority (§2.1) */
    WD_SPIFFE_PERCENT,             /* a '%' anywhere: no percent-encoding (§2.1, §2.2) */
    WD_SPIFFE_QUERY,               /* a '?' : no query component (§2) */
    WD_SPIFFE_FRAGMENT,            /* a '#' : no fragment component (§2) */
    WD_SPIFFE_PATH_EMPTY_SEGMENT,  /* "//" in the path (§2.2) */
    WD_SPIFFE_PATH_DOT_SEGMENT,    /* a "." or ".." segment (§2.2) */
    WD_SPIFFE_PATH_TRAILING_SLASH, /* the path ends with '/' (§2.2) */
    WD_SPIFFE_PATH_BAD_CHAR,       /* a character outside [a-zA-Z0-9.-_] in a segment (§2.2) */
    WD_SPIFFE_TD_HAS_PATH,         /* a trust domain name (not an ID) was given a path */
};

/*
 * A valid SPIFFE ID. str is NUL-terminated and exactly the input (no normalisation is ever
 * needed: the rules leave one spelling per ID); str[9 .. 9+td_len) is the trust domain and
 * str[9+td_len .. len) the path ("" or "/seg/seg"). Compare IDs with wd_spiffe_id_eq.
 */
struct wd_spiffe_id {
    char str[WD_SPIFFE_ID_MAX + 1];
    size_t len;
    size_t td_len;
};

/* A valid trust domain name (without "spiffe://"), NUL-terminated. */
struct wd_spiffe_td {
    char name[WD_SPIFFE_TD_MAX + 1];
    size_t len;
};

/*
 * Parse s[0..n) as a SPIFFE ID (s need not be NUL-terminated; a NUL byte inside is an
 * invalid character). On success fills *out and returns WD_OK. On failure returns
 * WD_EPROTO, sets *why (may be NULL) to the rule and diag (may be NULL) to a one-line
 * message naming the rule and the byte offset; *out is then unspecified. Pure; thread-safe.
 */
WD_MUST_USE int wd_spiffe_id_parse(const char *s, size_t n, struct wd_spiffe_id *out,
                                   enum wd_spiffe_err *why, struct wd_diag *diag);

/*
 * Parse a trust domain name given either bare ("example.org") or as an ID without a path
 * ("spiffe://example.org"). Same errors as wd_spiffe_id_parse plus WD_SPIFFE_TD_HAS_PATH.
 */
WD_MUST_USE int wd_spiffe_td_parse(const char *s, size_t n, struct wd_spiffe_td *out,
                                   enum wd_spiffe_err *why, struct wd_diag *diag);

/*
 * Build "spiffe://<td><path>" and validate it; path is "" or starts with '/'. Same errors as
 * wd_spiffe_id_parse (WD_SPIFFE_TOO_LONG when the result would be too long).
 */
WD_MUST_USE int wd_spiffe_id_make(const struct wd_spiffe_td *td, const char *path,
                                  struct wd_spiffe_id *out, enum wd_spiffe_err *why,
                                  struct wd_diag *diag);

/* The trust domain of id, copied into *out (infallible: a valid ID has a valid one). */
void wd_spiffe_id_td(const struct wd_spiffe_id *id, struct wd_spiffe_td *out);
/* The path of id ("" or "/..."); borrowed from id. */
const char *wd_spiffe_id_path(const struct wd_spiffe_id *id);
/* Whether id belongs to trust domain td (exact byte comparison, both are lower case). */
bool wd_spiffe_id_member_of(const struct wd_spiffe_id *id, const struct wd_spiffe_td *td);
bool wd_spiffe_id_eq(const struct wd_spiffe_id *a, const struct wd_spiffe_id *b);
bool wd_spiffe_td_eq(const struct wd_spiffe_td *a, const struct wd_spiffe_td *b);

/* A short stable name for a rule ("td-bad-char", ...), for logs and tests. Never NULL. */
const char *wd_spiffe_err_name(enum wd_spiffe_err e);

#endif
