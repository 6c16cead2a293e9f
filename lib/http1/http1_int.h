/* lib/http1 private declarations: character classes, states, and the helpers shared by
 * parse.c (the state machine), fields.c (field semantics) and target.c (RFC 3986 checks). */
#ifndef WD_HTTP1_INT_H
#define WD_HTTP1_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/http1.h"

/* Character classes (bit flags in wd_http1_cc[]). */
#define CC_TCHAR   0x01u /* RFC 9110 §5.6.2 tchar */
#define CC_VCHAR   0x02u /* VCHAR / obs-text: %x21-7E / %x80-FF */
#define CC_URI     0x04u /* any byte RFC 3986 allows in a URI reference, except "#" */
#define CC_PCHAR   0x08u /* unreserved / sub-delims / ":" / "@" (pchar without "%") */
#define CC_REGNAME 0x10u /* unreserved / sub-delims (reg-name without "%") */
#define CC_HEX     0x20u /* HEXDIG */
#define CC_SCHEME  0x40u /* ALPHA / DIGIT / "+" / "-" / "." */
#define CC_QDTEXT  0x80u /* RFC 9110 §5.6.4 qdtext */

extern const uint8_t wd_http1_cc[256];

static inline bool cc_is(uint8_t c, unsigned cls)
{
    return (wd_http1_cc[c] & cls) != 0;
}

/* Indexes into p->sp[]. */
enum {
    SP_METHOD,
    SP_TARGET,
    SP_SCHEME,
    SP_AUTHORITY,
    SP_PATH,
    SP_QUERY,
    SP_REASON,
};

/* Parser states (p->state). Head and trailer scanning states come first. */
enum {
    H_START,    /* before a start line; blank lines are skipped */
    H_START_LF, /* CR of a blank line seen */
    H_METHOD,
    H_TARGET,
    H_RVERSION, /* HTTP-version at the end of a request line */
    H_SVERSION, /* HTTP-version at the start of a status line */
    H_STATUS,
    H_REASON,
    H_LINE_LF, /* CR ending the start line seen */
    H_FIELD_START,
    H_FIELD_NAME,
    H_FIELD_OWS,
    H_FIELD_VALUE,
    H_FIELD_LF,
    H_END_LF, /* CR of the blank line ending the section seen */
    H_LAST_ = H_END_LF,
    /* body */
    B_LENGTH,
    B_EOF,
    C_SIZE,
    C_EXT_START, /* after ";" */
    C_EXT_NAME,
    C_EXT_VAL_START,
    C_EXT_TOKEN,
    C_EXT_QS, /* inside a quoted-string value */
    C_EXT_QP, /* after a backslash in a quoted-string */
    C_EXT_QS_END,
    C_SIZE_LF,
    C_DATA,
    C_DATA_CR,
    C_DATA_LF,
    B_END,       /* the message is complete; EV_END not yet reported */
    S_DONE,      /* EV_END reported; the next call starts a new message */
    S_TRUNCATED, /* finish() saw the connection end; only the sticky state matters */
};

/* ASCII case-insensitive comparison of a slice with a lower-case NUL-terminated name. */
bool wd_http1_ieq(const uint8_t *p, size_t n, const char *lower);

/* Look up a method token; returns false when it is not registered. */
bool wd_http1_method_lookup(const uint8_t *p, size_t n, enum wd_http1_method *out);

/*
 * Check the request-target r[t.off..t.off+t.len) for method m (RFC 9112 §3.2, RFC 3986) and
 * record form, scheme, authority, path and query in p. Returns a reason or WD_HTTP1_R_NONE.
 */
enum wd_http1_reason wd_http1_check_target(struct wd_http1_parser *p, const uint8_t *r,
                                           enum wd_http1_method m);

/*
 * Check an authority: uri-host [ ":" port ] with no userinfo. require_port demands a
 * non-empty port (authority-form); require_host a non-empty host. Returns NONE, TARGET_CHAR,
 * TARGET_PCT, TARGET_USERINFO or TARGET_FORM.
 */
enum wd_http1_reason wd_http1_check_authority(const uint8_t *a, size_t n, bool require_host,
                                              bool require_port);

/*
 * Apply the semantics of a completed field line (name and value given as offsets in p) of
 * the head or trailer region r. Returns a reason or WD_HTTP1_R_NONE.
 */
enum wd_http1_reason wd_http1_on_field(struct wd_http1_parser *p, const uint8_t *r);

#endif
