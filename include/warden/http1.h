/*
 * HTTP/1.1 message parser (RFC 9112, with the semantics of RFC 9110 it depends on): pure,
 * resumable and strict. It parses requests or responses from byte slices, never allocates,
 * does no I/O, keeps no globals and reads no clock, so it is safe to run one parser per
 * connection on any thread (one thread per parser at a time).
 *
 * The model is a "step" API. The caller keeps the bytes it has received but not yet seen
 * consumed in one contiguous buffer and calls wd_http1_step() with them; each call reports at
 * most one event and how many bytes the caller may now drop from the front (st->used):
 *
 *   WD_HTTP1_EV_HEAD      start line and header section parsed; wd_http1_msg() describes
 *                         them and wd_http1_field() yields the header fields
 *   WD_HTTP1_EV_DATA      st->data holds body bytes (chunk framing already removed); the
 *                         slice points into the caller's input
 *   WD_HTTP1_EV_TRAILERS  the trailer section of a chunked body (only when it has fields)
 *   WD_HTTP1_EV_END       the message is complete; the next call starts the next message
 *
 * While the head (or a trailer section) is incomplete the parser consumes nothing and
 * returns WD_EAGAIN: the caller appends more bytes after the same ones and calls again; the
 * parser resumes at the byte where it stopped, so feeding a message one byte at a time gives
 * the same result as feeding it whole. Header fields are recorded as offsets into that
 * buffer in a caller-provided array, so the buffer may move (grow) between calls; slices are
 * resolved against the input of the call that reported the event and stay valid while the
 * caller leaves those bytes where they were.
 *
 * Errors are sticky: after WD_EPROTO (peer sent bad bytes; answer 400 or close) or
 * WD_ELIMIT (a configured bound was hit; answer 400/413/431 or close) every further call
 * returns the same code, and wd_http1_reason() says which rule was broken. The reason is
 * an enum; the parser never builds text from attacker bytes.
 *
 * Deliberate strictness (docs/internals/http1.md lists the reasons): CRLF everywhere (a bare
 * CR or LF is refused), no obs-fold, no whitespace before a field colon, one Content-Length
 * field with one value (even "5, 5" is refused), Transfer-Encoding only as a list of known
 * codings ending in one "chunked" (responses may end in another known coding and are then
 * read until close), never both, no Transfer-Encoding in HTTP/1.0, no whitespace anywhere in
 * a chunk-size line, exactly one Host in HTTP/1.1 requests, HTTP/1.0 and HTTP/1.1 only,
 * request targets checked against RFC 3986 (no fragment, no userinfo), registered methods
 * only unless cfg->any_method, status codes 100-599.
 */
#ifndef WD_HTTP1_H
#define WD_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/buf.h"
#include "warden/common.h"

enum wd_http1_kind {
    WD_HTTP1_REQUEST,
    WD_HTTP1_RESPONSE,
};

/* Methods of RFC 9110 §9 and RFC 5789 get a value; every other accepted method is OTHER. */
enum wd_http1_method {
    WD_HTTP1_OTHER = 0,
    WD_HTTP1_GET,
    WD_HTTP1_HEAD,
    WD_HTTP1_POST,
    WD_HTTP1_PUT,
    WD_HTTP1_DELETE,
    WD_HTTP1_CONNECT,
    WD_HTTP1_OPTIONS,
    WD_HTTP1_TRACE,
    WD_HTTP1_PATCH,
};

/* RFC 9112 §3.2: the four forms of request-target. */
enum wd_http1_form {
    WD_HTTP1_FORM_ORIGIN,    /* /path?query */
    WD_HTTP1_FORM_ABSOLUTE,  /* scheme://authority/path?query (to proxies) */
    WD_HTTP1_FORM_AUTHORITY, /* host:port, CONNECT only */
    WD_HTTP1_FORM_ASTERISK,  /* "*", OPTIONS only */
};

/* How the body is delimited (RFC 9112 §6.3). */
enum wd_http1_body {
    WD_HTTP1_BODY_NONE,    /* no body (also HEAD/1xx/204/304 responses, CONNECT) */
    WD_HTTP1_BODY_LENGTH,  /* Content-Length bytes (possibly 0) */
    WD_HTTP1_BODY_CHUNKED, /* chunked transfer coding is final */
    WD_HTTP1_BODY_EOF,     /* response read until the connection closes */
};

/* Which rule a WD_EPROTO or WD_ELIMIT came from. Stable names via wd_http1_reason_name(). */
enum wd_http1_reason {
    WD_HTTP1_R_NONE = 0,
    /* start line */
    WD_HTTP1_R_METHOD_CHAR,     /* method is not a token (RFC 9110 §9.1) */
    WD_HTTP1_R_METHOD_UNKNOWN,  /* not a registered method and cfg->any_method is off */
    WD_HTTP1_R_REQUEST_LINE,    /* not "method SP target SP version CRLF" */
    WD_HTTP1_R_TARGET_CHAR,     /* byte not allowed in a request-target (RFC 3986) */
    WD_HTTP1_R_TARGET_PCT,      /* "%" not followed by two hex digits */
    WD_HTTP1_R_TARGET_FORM,     /* form not allowed for the method, or malformed */
    WD_HTTP1_R_TARGET_USERINFO, /* userinfo in an http(s) authority (RFC 9110 §4.2.4) */
    WD_HTTP1_R_VERSION,         /* not HTTP-version syntax (RFC 9112 §2.3) */
    WD_HTTP1_R_VERSION_UNSUPP,  /* well-formed but neither HTTP/1.0 nor HTTP/1.1 */
    WD_HTTP1_R_STATUS,          /* status code not 3 digits in 100-599 (RFC 9110 §15) */
    WD_HTTP1_R_STATUS_LINE,     /* not "version SP code SP reason CRLF" (RFC 9112 §4) */
    WD_HTTP1_R_REASON_CHAR,     /* byte not allowed in a reason-phrase */
    /* line structure */
    WD_HTTP1_R_BARE_CR,  /* CR not followed by LF */
    WD_HTTP1_R_BARE_LF,  /* LF not preceded by CR */
    WD_HTTP1_R_OBS_FOLD, /* field line starting with SP/HTAB (RFC 9112 §5.2) */
    /* field lines */
    WD_HTTP1_R_FIELD_NAME,     /* empty name or a byte that is not tchar */
    WD_HTTP1_R_FIELD_WS_COLON, /* whitespace between name and colon (RFC 9112 §5.1) */
    WD_HTTP1_R_FIELD_NO_COLON, /* field line without a colon */
    WD_HTTP1_R_FIELD_VALUE,    /* byte not allowed in a field value (RFC 9110 §5.5) */
    /* framing and routing fields */
    WD_HTTP1_R_HOST_MISSING,     /* HTTP/1.1 request without Host (RFC 9112 §3.2) */
    WD_HTTP1_R_HOST_DUP,         /* more than one Host field line */
    WD_HTTP1_R_HOST_INVALID,     /* Host is not uri-host [ ":" port ] */
    WD_HTTP1_R_CL_INVALID,       /* Content-Length is not 1*DIGIT */
    WD_HTTP1_R_CL_LIST,          /* Content-Length with several values, even equal ones */
    WD_HTTP1_R_CL_DUP,           /* more than one Content-Length field line */
    WD_HTTP1_R_CL_OVERFLOW,      /* Content-Length does not fit in 64 bits */
    WD_HTTP1_R_CL_AND_TE,        /* Content-Length together with Transfer-Encoding */
    WD_HTTP1_R_TE_INVALID,       /* bad syntax: empty member, parameters, not a token */
    WD_HTTP1_R_TE_UNKNOWN,       /* a transfer coding warden does not know */
    WD_HTTP1_R_TE_NOT_CHUNKED,   /* request whose final coding is not chunked */
    WD_HTTP1_R_TE_CHUNKED_TWICE, /* chunked applied more than once (RFC 9112 §6.1) */
    WD_HTTP1_R_TE_CHUNKED_ORDER, /* a coding after chunked */
    WD_HTTP1_R_TE_HTTP10,        /* Transfer-Encoding in an HTTP/1.0 message (RFC 9112 §6.1) */
    WD_HTTP1_R_BODY_FORBIDDEN,   /* framing on CONNECT requests or 1xx/204 responses */
    WD_HTTP1_R_CONNECTION,       /* Connection option is not a token or names a framing field */
    /* chunked body */
    WD_HTTP1_R_CHUNK_SIZE,      /* chunk-size missing, not hex, or with whitespace */
    WD_HTTP1_R_CHUNK_OVERFLOW,  /* chunk-size does not fit in 64 bits */
    WD_HTTP1_R_CHUNK_EXT,       /* chunk extension not per RFC 9112 §7.1.1 */
    WD_HTTP1_R_CHUNK_DATA_CRLF, /* chunk data not followed by CRLF */
    WD_HTTP1_R_TRAILER_FIELD,   /* framing/routing field in a trailer section */
    /* connection */
    WD_HTTP1_R_AFTER_CLOSE, /* bytes after a message that ended HTTP on the connection */
    WD_HTTP1_R_TRUNCATED,   /* connection closed inside a message */
    /* limits (these come with WD_ELIMIT) */
    WD_HTTP1_R_LIMIT_LINE,         /* a start, field or chunk-size line longer than max_line */
    WD_HTTP1_R_LIMIT_HEAD,         /* header (or trailer) section larger than max_head */
    WD_HTTP1_R_LIMIT_FIELDS,       /* more field lines than the caller's array holds */
    WD_HTTP1_R_LIMIT_CHUNK_DIGITS, /* chunk-size with more than max_chunk_digits digits */
    WD_HTTP1_R_LIMIT_BODY,         /* body larger than max_body */
    WD_HTTP1_R_COUNT_
};

/* Bounds; wd_http1_config_default() gives sane values. */
struct wd_http1_config {
    size_t max_line;           /* longest start/field/chunk-size line incl. CRLF; 8192 */
    size_t max_head;           /* header section incl. start line and blank lines; 32768 */
    unsigned max_chunk_digits; /* hex digits in one chunk-size, leading zeros count; 16 */
    uint64_t max_body;         /* decoded body bytes per message; UINT64_MAX = no bound */
    bool any_method;           /* accept any token as method (RFC 9110 §9.1); off */
    /*
     * Accept HTTP/1.1 requests without Host. This breaks RFC 9112 §3.2 and exists for
     * callers that check Host themselves (and the llhttp corpus comparison); off.
     */
    bool allow_missing_host;
};

/* One field line, as offsets into the buffer given to wd_http1_step(). Opaque to callers. */
struct wd_http1_field {
    uint32_t name_off, name_len, value_off, value_len;
};

/* What the head said. Slices are borrowed from the input of the call that returned HEAD. */
struct wd_http1_msg {
    unsigned version; /* 10 or 11 */
    /* requests */
    enum wd_http1_method method; /* OTHER for methods without their own value */
    struct wd_slice method_name; /* the method token as sent */
    enum wd_http1_form form;
    struct wd_slice target;    /* the whole request-target */
    struct wd_slice scheme;    /* absolute-form only, else empty */
    struct wd_slice authority; /* absolute- and authority-form, else empty */
    struct wd_slice path;      /* origin-/absolute-form ("" if absent), "*" for asterisk */
    struct wd_slice query;     /* after "?", without it; empty when has_query is false */
    bool has_query;
    /* responses */
    unsigned status;        /* 100-599 */
    struct wd_slice reason; /* reason-phrase, possibly empty */
    /* framing and connection */
    enum wd_http1_body body;
    uint64_t content_length; /* for BODY_LENGTH */
    bool transfer_coded;     /* a coding other than chunked applies (gzip, ...) */
    bool keep_alive;         /* the connection may carry another message after this */
    bool upgrade;            /* request: Connection: upgrade + Upgrade; response: 101 */
    bool tunnel;             /* CONNECT request, or 2xx response to CONNECT */
    bool interim;            /* 1xx response other than 101: the final one follows */
    bool expect_continue;    /* HTTP/1.1 request with Expect: 100-continue */
    bool expect_other;       /* request with another expectation (answer 417) */
    size_t nfields;          /* header field lines */
    size_t ntrailers;        /* trailer field lines (after EV_TRAILERS) */
};

enum wd_http1_ev {
    WD_HTTP1_EV_HEAD,
    WD_HTTP1_EV_DATA,
    WD_HTTP1_EV_TRAILERS,
    WD_HTTP1_EV_END,
};

/* The outcome of one wd_http1_step() call. */
struct wd_http1_step {
    size_t used;          /* bytes of the input the caller may drop now */
    enum wd_http1_ev ev;  /* valid when the call returned WD_OK */
    struct wd_slice data; /* EV_DATA: body bytes, borrowed from the input */
};

/* An offset/length pair into a head or trailer region. Private. */
struct wd_http1_span {
    uint32_t off, len;
};

/* The parser state. Embed it; the fields are private (use the functions below). */
struct wd_http1_parser {
    enum wd_http1_kind kind;
    struct wd_http1_config cfg;
    struct wd_http1_field *fields; /* borrowed from the caller */
    size_t fields_cap;
    enum wd_http1_method req_method; /* responses: method of the matching request */
    int err;                         /* sticky WD_EPROTO / WD_ELIMIT, else 0 */
    enum wd_http1_reason reason;
    unsigned state;  /* lib/http1 state machine */
    bool closed;     /* the last message ended HTTP on this connection */
    bool in_trailer; /* scanning a trailer section rather than a head */
    /* scanning of a head or trailer region (offsets relative to the region start) */
    size_t scan;                /* bytes of the region already examined */
    size_t line_start;          /* where the current line began */
    size_t tok_start;           /* start of the current token (method, name, ...) */
    size_t tok_end;             /* end of the current field name */
    size_t val_start, val_end;  /* current field value without surrounding OWS */
    unsigned digits;            /* version/status characters read so far */
    struct wd_http1_span sp[8]; /* method, target, scheme, authority, path, query, reason */
    const uint8_t *base;        /* input of the call that returned EV_HEAD */
    const uint8_t *tbase;       /* trailer region of the call that returned EV_TRAILERS */
    /* facts gathered from the header fields */
    unsigned host_count, cl_count, te_count;
    bool te_chunked, te_chunked_last, te_other;
    bool conn_close, conn_keep_alive, conn_upgrade, has_upgrade;
    bool expect_continue, expect_other;
    /* body */
    uint64_t remaining;    /* LENGTH: bytes left; CHUNKED: left in this chunk */
    uint64_t body_total;   /* decoded body bytes of this message so far */
    unsigned chunk_digits; /* hex digits of the current chunk-size */
    size_t chunk_line;     /* bytes of the current chunk-size line */
    struct wd_http1_msg msg;
};

/* Fill cfg with the defaults listed in struct wd_http1_config. */
void wd_http1_config_default(struct wd_http1_config *cfg);

/*
 * Prepare p to parse a stream of requests or responses. cfg may be NULL for the defaults
 * (copied). fields (borrowed, must outlive p) holds nfields entries shared by the header and
 * trailer fields of one message; more field lines give WD_ELIMIT. Responses are parsed as
 * answers to GET until wd_http1_set_request_method() says otherwise. Infallible.
 */
void wd_http1_init(struct wd_http1_parser *p, enum wd_http1_kind kind,
                   const struct wd_http1_config *cfg, struct wd_http1_field *fields,
                   size_t nfields);

/*
 * Responses only: the method of the request the next response answers (RFC 9112 §6.3: HEAD
 * and CONNECT change the framing). It stays in force for following responses (1xx interim
 * responses, pipelining of the same method) until changed.
 */
void wd_http1_set_request_method(struct wd_http1_parser *p, enum wd_http1_method m);

/*
 * Parse from in[0..len) (borrowed; may be NULL when len is 0): the bytes the previous calls
 * left unconsumed, followed by any new ones. Returns:
 *   WD_OK      st->ev says what happened; drop st->used bytes from the front
 *   WD_EAGAIN  more bytes are needed; drop st->used bytes (0 while a head or trailer
 *              section is incomplete) and call again with the rest plus new bytes
 *   WD_EPROTO  the peer broke a rule (wd_http1_reason); sticky; st->used is 0
 *   WD_ELIMIT  a configured bound was hit (wd_http1_reason); sticky; st->used is 0
 *   WD_EINVAL  p or st is NULL, or in is NULL with len > 0
 * After EV_END the next call starts a new message, unless the message ended HTTP on the
 * connection (!keep_alive, upgrade, tunnel): then any byte other than blank lines gives
 * WD_EPROTO with WD_HTTP1_R_AFTER_CLOSE until wd_http1_reset(). A response body delimited by
 * the end of the connection (BODY_EOF) ends only through wd_http1_finish().
 */
WD_MUST_USE int wd_http1_step(struct wd_http1_parser *p, const uint8_t *in, size_t len,
                              struct wd_http1_step *st);

/*
 * The connection was closed by the peer. Returns WD_OK when that is a clean end: between
 * messages, or inside a BODY_EOF body (which is then complete: the caller has all of it).
 * Returns WD_EPROTO with WD_HTTP1_R_TRUNCATED inside any other message (sticky), and the
 * sticky error if there is one.
 */
WD_MUST_USE int wd_http1_finish(struct wd_http1_parser *p);

/*
 * Forget the current message, the closed state and any error, keeping config, fields array
 * and request method: for a connection that continues as HTTP after a refused upgrade.
 */
void wd_http1_reset(struct wd_http1_parser *p);

/* The head of the current message; valid after EV_HEAD until the next message starts. */
const struct wd_http1_msg *wd_http1_msg(const struct wd_http1_parser *p);

/*
 * Header field i (0 <= i < msg->nfields) as borrowed slices; the value has no leading or
 * trailing whitespace. Returns false when i is out of range.
 */
bool wd_http1_field(const struct wd_http1_parser *p, size_t i, struct wd_slice *name,
                    struct wd_slice *value);

/* Trailer field i (0 <= i < msg->ntrailers), as wd_http1_field(); after EV_TRAILERS. */
bool wd_http1_trailer(const struct wd_http1_parser *p, size_t i, struct wd_slice *name,
                      struct wd_slice *value);

/*
 * The first header field at index >= *from whose name equals name (ASCII case-insensitive,
 * NUL-terminated). On a match sets *value, sets *from to the index after it (call again to
 * iterate over repeated fields) and returns true; false when there is none.
 */
bool wd_http1_find(const struct wd_http1_parser *p, const char *name, size_t *from,
                   struct wd_slice *value);

/* Why the last WD_EPROTO / WD_ELIMIT happened; WD_HTTP1_R_NONE when there was none. */
enum wd_http1_reason wd_http1_reason(const struct wd_http1_parser *p);

/* A fixed text for a reason (for logs), and its stable identifier ("CL_DUP"). Never NULL. */
const char *wd_http1_reason_str(enum wd_http1_reason r);
const char *wd_http1_reason_name(enum wd_http1_reason r);

/* The method token for a value ("GET"); "" for WD_HTTP1_OTHER. Never NULL. */
const char *wd_http1_method_str(enum wd_http1_method m);

#endif
