/*
 * Private to lib/net: the address parsers, the pure request reader and response writer
 * (factored out of the server so that unit tests and fuzz harnesses drive them from
 * buffers), the deadline-bounded socket/TLS I/O layer, and the TLS per-connection state.
 */
#ifndef WD_NET_INT_H
#define WD_NET_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/http1.h"
#include "warden/net.h"
#include "warden/svid.h"

/* Header field lines one request or response may carry (more: 431 / WD_EPROTO). */
#define WD_NET_FIELDS_MAX 64u
/* Bytes read from a socket at a time. */
#define WD_NET_READ_CHUNK 16384u
/* The receive buffer: a head (32 KiB, the http1 default max_head) plus one read. */
#define WD_NET_IN_MAX (65536u + WD_NET_READ_CHUNK)
/* Per-connection buffers bigger than this after a request are freed rather than kept. */
#define WD_NET_KEEP_MAX 65536u

/* ---- addresses (addr.c; pure) ---- */

enum wd_net_kind { WD_NET_TCP, WD_NET_UNIX };

/* A parsed listen string or client URL. */
struct wd_net_addr {
    enum wd_net_kind kind;
    bool tls;       /* client URL: https */
    char host[256]; /* TCP: name or address literal, without IPv6 brackets */
    bool host_v6;   /* host was bracketed (an IPv6 literal) */
    uint16_t port;
    char path[108]; /* unix: the socket path (sun_path size, NUL included) */
};

/*
 * Parse a server listen string s[0..n): "HOST:PORT" (HOST an IPv4 literal, a bracketed IPv6
 * literal, "localhost" or another name; PORT 0-65535) or "unix:PATH" (PATH non-empty and
 * shorter than sun_path). No NUL, control bytes or spaces anywhere. WD_ECONFIG with diag.
 */
WD_MUST_USE int wd_net_parse_listen(const char *s, size_t n, struct wd_net_addr *out,
                                    struct wd_diag *diag);
/*
 * Parse a client URL s[0..n): "https://HOST[:PORT][/]", "http://HOST[:PORT][/]" (default
 * ports 443 / 80; port 0 refused) or "unix:PATH". WD_ECONFIG with diag.
 */
WD_MUST_USE int wd_net_parse_url(const char *s, size_t n, struct wd_net_addr *out,
                                 struct wd_diag *diag);

/* ---- request reader (reader.c; pure: no I/O, no clock) ---- */

/* One assembled request; strings point into the reader and live until the next call. */
struct wd_net_request {
    const char *method;
    const char *path;
    const char *query;
    struct wd_http_header headers[WD_NET_FIELDS_MAX];
    size_t n_headers;
    const uint8_t *body;
    size_t body_len;
    unsigned version; /* 10 or 11 */
    bool keep_alive;  /* the client allows another request on this connection */
    bool is_head;     /* HEAD: the response carries no body */
};

struct wd_net_reader {
    struct wd_http1_parser p;
    struct wd_http1_field fields[WD_NET_FIELDS_MAX];
    struct wd_buf in;   /* bytes received and not consumed by the parser */
    struct wd_buf head; /* NUL-terminated copies of method, path, query, names, values */
    struct wd_buf body; /* the de-chunked body */
    size_t off_method, off_path, off_query;
    size_t off_names[WD_NET_FIELDS_MAX], off_values[WD_NET_FIELDS_MAX];
    size_t n_fields;
    bool in_msg;        /* a request has started (EV_HEAD seen) and not ended */
    bool want_continue; /* the client waits for "100 Continue" before sending its body */
    bool upgrade;       /* the request asked for an upgrade (answered, then closed) */
    unsigned version;
    bool keep_alive, is_head;
};

/* Prepare r; bodies above max_body get 413. Infallible; allocates nothing. */
void wd_net_reader_init(struct wd_net_reader *r, size_t max_body);
/* Release everything. Accepts NULL. */
void wd_net_reader_cleanup(struct wd_net_reader *r);
/*
 * Append received bytes (for tests and fuzzing; the server reads into wd_net_reader_space).
 * WD_ELIMIT when more than WD_NET_IN_MAX bytes would be buffered, WD_ENOMEM.
 */
WD_MUST_USE int wd_net_reader_feed(struct wd_net_reader *r, const void *p, size_t n);
/*
 * Room to receive up to WD_NET_READ_CHUNK bytes at *at (*room bytes); then
 * wd_net_reader_commit(r, got). WD_ELIMIT when the buffer is full, WD_ENOMEM.
 */
WD_MUST_USE int wd_net_reader_space(struct wd_net_reader *r, uint8_t **at, size_t *room);
void wd_net_reader_commit(struct wd_net_reader *r, size_t n);
/*
 * Assemble the next request from the buffered bytes. Returns WD_OK with *req filled
 * (borrowed until the next call on r or wd_net_reader_release), WD_EAGAIN when more bytes
 * are needed (check r->want_continue), or WD_EPROTO / WD_ELIMIT with *status the HTTP
 * status to answer before closing (400, 413, 417, 431, 501, 505); WD_ENOMEM. After an
 * error the connection must be closed: the reader is not used again.
 */
WD_MUST_USE int wd_net_reader_next(struct wd_net_reader *r, struct wd_net_request *req,
                                   int *status);
/* Whether no request is in progress and no byte of the next one is buffered. */
bool wd_net_reader_idle(const struct wd_net_reader *r);
/* Drop the last request's head and body (keeping small allocations for reuse). */
void wd_net_reader_release(struct wd_net_reader *r);
/* The status to answer for a parser error (rc WD_EPROTO or WD_ELIMIT, reason). */
int wd_net_error_status(int rc, enum wd_http1_reason reason);

/* ---- response and request heads (message.c; pure) ---- */

/* The standard reason phrase of an HTTP status ("Not Found"); "Unknown" when none. */
const char *wd_net_reason_phrase(int status);
/* The IMF-fixdate of RFC 9110 §5.6.7 for Unix time t into out (30 bytes). */
void wd_net_http_date(int64_t t, char out[30]);
/*
 * Whether extra is a sequence of "Name: value\r\n" lines with token names, field-value
 * bytes only, and no framing or connection field (Content-Length, Transfer-Encoding,
 * Connection, Date, Content-Type, Upgrade, Keep-Alive) that the server sets itself.
 */
bool wd_net_extra_headers_ok(const char *extra);
/* Whether s is a field value (no CR, LF, NUL or other control byte but HTAB). */
bool wd_net_field_value_ok(const char *s);
/*
 * Append the head of a response: status line, Date (now), Content-Type and Content-Length
 * (not for 1xx/204/304), Connection, extra lines, blank line. WD_ELIMIT / WD_ENOMEM.
 */
WD_MUST_USE int wd_net_response_head(struct wd_buf *out, int status, const char *content_type,
                                     size_t body_len, bool close, const char *extra, int64_t now);
/*
 * Append a request head. method must be a token and target an origin-form path without
 * spaces or control bytes (WD_EINVAL otherwise). Content-Length is sent when a body is given
 * or the method is POST, PUT or PATCH. WD_ELIMIT / WD_ENOMEM.
 */
WD_MUST_USE int wd_net_request_head(struct wd_buf *out, const char *method, const char *target,
                                    const char *host, const char *content_type, size_t body_len,
                                    bool has_body);

/* ---- TLS (tls.c) ---- */

/* What the certificate verification of one connection found. */
struct wd_net_tls_peer {
    bool has_id;              /* a peer SVID was presented and verified */
    struct wd_svid_info svid; /* when has_id */
    bool failed;              /* verification ran and refused the peer */
    struct wd_diag diag;      /* why, when failed */
};

/*
 * A new SSL for fd in the context's role, reporting its verification result into *peer
 * (borrowed; must outlive the SSL). I/O goes through a BIO that sends with MSG_NOSIGNAL.
 * sni (client, may be NULL) is sent as server name. WD_ETLS / WD_ENOMEM with diag.
 */
WD_MUST_USE int wd_net_tls_ssl(struct wd_tls_ctx *ctx, int fd, const char *sni,
                               struct wd_net_tls_peer *peer, SSL **out, struct wd_diag *diag);
/* The role a context was built for. */
enum wd_tls_role wd_net_tls_role(const struct wd_tls_ctx *ctx);
/* Drain OpenSSL's error queue into diag as "what: reason". Returns rc. */
int wd_net_tls_fail(struct wd_diag *diag, int rc, const char *what);

/* ---- deadline-bounded I/O (io.c) ---- */

/* Monotonic milliseconds from the real clock (never the pinned one: timeouts must run). */
int64_t wd_net_mono_ms(void);

struct wd_net_io {
    int fd;         /* non-blocking socket, or -1 */
    SSL *ssl;       /* NULL for plaintext */
    int cancel_fd;  /* -1, or an fd whose readability aborts every read wait */
    int stall_ms;   /* the longest a single wait may take */
    int64_t until;  /* absolute deadline (wd_net_mono_ms) of the current exchange */
    bool ssl_dead;  /* a fatal TLS error happened: no close_notify */
    bool cancelled; /* the last failure was cancel_fd becoming readable */
    bool timed_out; /* the last failure was a timeout */
};

void wd_net_io_init(struct wd_net_io *io, int fd, int stall_ms);
/* Set the deadline of the next exchange to now + ms. */
void wd_net_io_deadline(struct wd_net_io *io, int64_t ms);
/* TLS handshake. WD_ETLS / WD_EIO (timeout, cancel, reset) with diag. */
WD_MUST_USE int wd_net_io_handshake(struct wd_net_io *io, struct wd_diag *diag);
/*
 * Read up to cap bytes: WD_OK with *got > 0, or *got == 0 at end of stream. WD_EIO
 * (timeout, cancel, reset), WD_ETLS with diag.
 */
WD_MUST_USE int wd_net_io_read(struct wd_net_io *io, void *p, size_t cap, size_t *got,
                               struct wd_diag *diag);
/* Write all n bytes. WD_EIO / WD_ETLS with diag. */
WD_MUST_USE int wd_net_io_write(struct wd_net_io *io, const void *p, size_t n,
                                struct wd_diag *diag);
/*
 * Whether bytes (or end of stream) are already waiting without blocking: buffered TLS
 * records or a readable socket.
 */
bool wd_net_io_readable(struct wd_net_io *io);
/*
 * Close: send close_notify when TLS is healthy, and with linger, half-close and discard what
 * the peer still sends for up to linger_ms so that a final error response or alert is not
 * destroyed by a TCP reset. Frees the SSL. Safe on a closed io.
 */
void wd_net_io_close(struct wd_net_io *io, int linger_ms);

#endif
