/*
 * Blocking network plumbing for warden's control traffic: TLS 1.3 contexts that authenticate
 * peers by X.509-SVID, a small threaded HTTP/1.1 server (TCP+TLS or a unix socket), and a
 * keep-alive HTTP/1.1 client. warden-control's REST API, warden-agent's calls to it, the
 * agent's Workload API and the `warden` CLI all use this module. (The proxy's data plane is
 * event-driven and does not.)
 *
 * Model: one thread per connection, at most max_conns at once (further connections wait in
 * the listen backlog), so a handler may block (a database commit, a Workload API watch that
 * waits for a rotation). Requests on one connection are served in order (keep-alive,
 * no pipelining beyond what the parser buffers). Every read and write has a deadline.
 *
 * Peer authentication: a context built with a trust bundle verifies the peer's certificate
 * chain with wd_svid_verify (X509-SVID rules, trust domain, RFC 5280 path) during the
 * handshake; the verified SPIFFE ID and claims reach the handler in struct wd_net_peer. On
 * unix sockets the peer is the process at the other end (SO_PEERCRED).
 */
#ifndef WD_NET_H
#define WD_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "warden/buf.h"
#include "warden/bundle.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/svid.h"

/* Bounds and defaults. */
#define WD_NET_ADDR_MAX         108u /* "unix:" + sun_path, or "[v6addr]:port" */
#define WD_NET_BODY_MAX_DEFAULT (1u << 20)
#define WD_NET_CONNS_DEFAULT    256u
#define WD_NET_IO_TIMEOUT_MS    10000
#define WD_NET_IDLE_TIMEOUT_MS  60000
#define WD_NET_HEADER_VALUE_MAX 8192u
#define WD_NET_RESP_BODY_MAX    (16u << 20) /* largest response body a handler may build */

/* ---- TLS contexts ---- */

struct wd_tls_ctx; /* reference-counted; immutable once built; thread-safe */

enum wd_tls_role { WD_TLS_SERVER, WD_TLS_CLIENT };

/* How to build a context. Everything is borrowed for the call. */
struct wd_tls_config {
    enum wd_tls_role role;
    /* Own identity: a leaf and its chain (leaf first), and the leaf's private key. Either as
       objects (chain may be NULL) or as PEM files; objects win when both are set. A client
       may have none (server-authenticated TLS, e.g. the agent's first attestation). */
    X509 *cert;
    STACK_OF(X509) * chain;
    EVP_PKEY *key;
    const char *cert_file; /* PEM: leaf then intermediates */
    const char *key_file;  /* PEM private key */
    /* Peer verification: every authority in bundle is a trust anchor; the peer's chain must
       be a valid X.509-SVID chain (wd_svid_verify). Required for clients; for servers, NULL
       means client certificates are neither requested nor accepted. */
    const struct wd_bundle *bundle;
    /* Server: true refuses the handshake without a valid client SVID; false asks for one
       but lets the handler see an unauthenticated peer (has_id false). Either way a client
       certificate that is presented and fails verification fails the handshake. */
    bool require_peer;
    /* Client: when set, the server's SPIFFE ID must equal this exactly. */
    const char *expect_peer_id;
};

/*
 * Build a TLS 1.3-only context (no session tickets, no renegotiation, no compression).
 * Errors with diag set: WD_ECONFIG (unreadable or mismatched cert/key, client without
 * bundle), WD_ETLS, WD_ENOMEM. *out owned: release with wd_tls_ctx_unref.
 */
WD_MUST_USE int wd_tls_ctx_new(const struct wd_tls_config *cfg, struct wd_tls_ctx **out,
                               struct wd_diag *diag);
/* Take another reference. Returns ctx. */
struct wd_tls_ctx *wd_tls_ctx_ref(struct wd_tls_ctx *ctx);
/* Drop a reference; the last frees. Accepts NULL. */
void wd_tls_ctx_unref(struct wd_tls_ctx *ctx);

/* ---- who is at the other end ---- */

struct wd_net_peer {
    /* TCP: the peer's address ("127.0.0.1", "::1") and port; unix: "unix", 0. */
    char addr[64];
    uint16_t port;
    bool tls;
    bool has_id;              /* a verified client SVID was presented */
    struct wd_svid_info svid; /* when has_id: its SPIFFE ID and claims */
    bool has_cred;            /* unix socket: SO_PEERCRED of the connecting process */
    pid_t pid;
    uid_t uid;
    gid_t gid;
};

/* ---- HTTP server ---- */

struct wd_http_header {
    const char *name; /* as received; compare case-insensitively */
    const char *value;
};

/* One request, valid only during the handler call. Strings are NUL-terminated. */
struct wd_http_req {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* origin-form path without the query, not percent-decoded */
    const char *query;  /* after '?', or "" */
    const struct wd_http_header *headers;
    size_t n_headers;
    const uint8_t *body; /* de-chunked; NUL-terminated beyond body_len for convenience */
    size_t body_len;
    const struct wd_net_peer *peer;
};

/* The response a handler fills. The server adds Content-Length, Date and Connection. */
struct wd_http_resp {
    int status;            /* 200..599 (1xx is never final); 0 or another value sends 500 */
    char content_type[64]; /* default "application/json" */
    struct wd_buf body;    /* owned by the server; append to it */
    /* optional "Name: value\r\n" lines; checked by the server, which sends 500 instead for
       a malformed line or one that sets Content-Length, Transfer-Encoding, Connection, Date,
       Content-Type, Upgrade, Keep-Alive or Trailer */
    char extra_headers[512];
    bool close; /* close the connection after this response */
};

/* Case-insensitive header lookup; the first match's value or NULL. */
const char *wd_http_req_header(const struct wd_http_req *req, const char *name);

/*
 * A handler runs on the connection's thread. It fills resp and returns WD_OK; any other
 * return sends a bare 500 and closes the connection (the code is logged, never sent).
 * Handlers of one server run concurrently (one per connection); a handler must not call
 * wd_http_server_stop on its own server.
 */
typedef int (*wd_http_handler)(void *arg, const struct wd_http_req *req, struct wd_http_resp *resp);

struct wd_http_server_config {
    /* "HOST:PORT" (IPv4 "127.0.0.1:8443", IPv6 "[::1]:8443", port 0 picks one) or
       "unix:PATH" (an existing socket file is replaced; created with unix_mode). */
    const char *listen;
    struct wd_tls_ctx *tls; /* NULL: plaintext (unix sockets, tests); referenced, not owned */
    wd_http_handler handler;
    void *handler_arg;
    size_t max_conns;    /* 0: WD_NET_CONNS_DEFAULT */
    size_t max_body;     /* 0: WD_NET_BODY_MAX_DEFAULT; larger bodies get 413 */
    int io_timeout_ms;   /* 0: WD_NET_IO_TIMEOUT_MS; a stalled read or write closes */
    int idle_timeout_ms; /* 0: WD_NET_IDLE_TIMEOUT_MS between keep-alive requests */
    unsigned unix_mode;  /* 0: 0600 */
    /* Optional: called once by wd_http_server_stop (on its thread, with handler_arg) after
       accepting has stopped and idle connections were told to close, before it waits for
       running handlers: the place to wake handlers blocked in a watch. */
    void (*on_stop)(void *handler_arg);
};

struct wd_http_server;

/*
 * Bind, listen and start the accept thread. Malformed requests get 400 (or 408/413/417/431/
 * 501/505) and the connection is closed; handshake failures are logged at debug level with
 * the reason. cfg is borrowed for the call (the server takes its own reference to tls).
 * For "unix:PATH" the directory must exist; a file there that is not a socket is an error.
 * Errors (diag set): WD_ECONFIG (bad listen string, no handler, tls not a server context),
 * WD_EIO (bind/listen), WD_ENOMEM. docs/internals/net.md has the threading and timeouts.
 */
WD_MUST_USE int wd_http_server_start(const struct wd_http_server_config *cfg,
                                     struct wd_http_server **out, struct wd_diag *diag);
/* The bound TCP port (useful after port 0), or 0 for unix sockets. */
uint16_t wd_http_server_port(const struct wd_http_server *srv);
/* Connections accepted since start (monitoring and tests). Thread-safe. */
uint64_t wd_http_server_accepted(struct wd_http_server *srv);
/* Use tls for connections accepted from now on (certificate rotation); takes a reference.
   Connections already open keep the context they started with. Only replaces one server
   context with another: NULL, a client context, or a plaintext server are logged and
   ignored. Thread-safe. */
void wd_http_server_set_tls(struct wd_http_server *srv, struct wd_tls_ctx *tls);
/*
 * Stop accepting, let in-flight requests finish (handlers blocked in a watch must return by
 * themselves), close idle connections, join every thread and free. Accepts NULL.
 * Connections that are idle, mid-handshake or still sending a request are closed at once;
 * stop() then waits for running handlers (without bound: wake blocked ones first) and the
 * writes of their responses (bounded by io_timeout_ms). A unix socket file is removed.
 */
void wd_http_server_stop(struct wd_http_server *srv);

/* ---- HTTP client ---- */

struct wd_http_client_config {
    /* "https://HOST:PORT" (tls required), "http://HOST:PORT" or "unix:PATH". */
    const char *url;
    struct wd_tls_ctx *tls; /* referenced, not owned */
    int timeout_ms;         /* 0: WD_NET_IO_TIMEOUT_MS per request (connect included) */
    size_t max_body;        /* 0: WD_NET_BODY_MAX_DEFAULT; larger responses fail WD_ELIMIT */
};

struct wd_http_client; /* one connection, reopened as needed; not thread-safe */

struct wd_http_result {
    int status;
    char content_type[64];
    struct wd_buf body; /* owned: wd_http_result_cleanup */
    /* The server's verified SVID (https only). */
    struct wd_spiffe_id server_id;
};

/* Errors: WD_ECONFIG (bad url, https without tls), WD_ENOMEM. No I/O happens here. */
WD_MUST_USE int wd_http_client_new(const struct wd_http_client_config *cfg,
                                   struct wd_http_client **out, struct wd_diag *diag);
void wd_http_client_free(struct wd_http_client *cli);
/* Replace the TLS context (after the client's own certificate rotated); closes the connection.
   Takes a reference; ignored for http:// and unix: clients. For https, NULL or a server
   context makes requests fail with WD_ECONFIG until a client context is set. */
void wd_http_client_set_tls(struct wd_http_client *cli, struct wd_tls_ctx *tls);

/*
 * Send one request and read the whole response into *res (cleaned up and refilled: res
 * must be zero-initialised, wd_http_result_init-ed or a previous result).
 * path includes any query. body may be NULL when len is 0; content_type may be NULL.
 * A reused keep-alive connection that the server had closed is reopened once, transparently:
 * when a request on a reused connection fails before any response byte arrived (other than
 * by timeout), it is sent again on a new connection. WD_EINVAL for a method that is not a
 * token, CONNECT, a path that does not start with '/' or holds spaces or control bytes, or
 * body NULL with len > 0.
 * Errors (diag says what): WD_EIO (connect/read/write, timeout), WD_ETLS (handshake,
 * server SVID rejected), WD_EPROTO (malformed response), WD_ELIMIT, WD_ENOMEM. An HTTP error
 * status is not an error here: check res->status.
 */
WD_MUST_USE int wd_http_client_request(struct wd_http_client *cli, const char *method,
                                       const char *path, const char *content_type, const void *body,
                                       size_t len, struct wd_http_result *res,
                                       struct wd_diag *diag);
/* Make res empty (a zero-initialised struct is empty too). Infallible. */
void wd_http_result_init(struct wd_http_result *res);
void wd_http_result_cleanup(struct wd_http_result *res);

#endif
