/*
 * The keep-alive HTTP/1.1 client: one connection, opened on first use and kept while the
 * server allows. A request on a reused connection that fails before any byte of the
 * response arrived (the server closed it while idle) is sent once more on a fresh
 * connection; every other failure is reported.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/log.h"

#include "net_int.h"

struct wd_http_client {
    struct wd_net_addr addr;
    char host_hdr[300]; /* the Host field: "host:port" as in the URL, "localhost" for unix */
    bool sni;           /* the host is a name (not an address literal): send it as SNI */
    struct wd_tls_ctx *tls;
    int timeout_ms;
    size_t max_body;
    struct wd_net_io io; /* fd -1 while not connected */
    struct wd_net_tls_peer tls_peer;
    struct wd_http1_parser p;
    struct wd_http1_field fields[WD_NET_FIELDS_MAX];
    struct wd_buf in;  /* response bytes not yet parsed */
    struct wd_buf out; /* the request head */
};

/* An empty result: no body bytes allocated until a response arrives. */
void wd_http_result_init(struct wd_http_result *res)
{
    memset(res, 0, sizeof(*res));
    wd_buf_init(&res->body, 0);
}

/* Frees the body and zeroes the rest, so a result can be reused or dropped. */
void wd_http_result_cleanup(struct wd_http_result *res)
{
    if (res == NULL) {
        return;
    }
    wd_buf_cleanup(&res->body);
    memset(res, 0, sizeof(*res));
}

/*
 * Parse and check everything now (an operator's bad URL fails at start-up); the first
 * connection is opened by the first request.
 */
int wd_http_client_new(const struct wd_http_client_config *cfg, struct wd_http_client **out,
                       struct wd_diag *diag)
{
    *out = NULL;
    struct wd_net_addr a;
    WD_TRY(wd_net_parse_url(cfg->url, cfg->url != NULL ? strlen(cfg->url) : 0, &a, diag));
    if (a.tls && cfg->tls == NULL) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "https needs a TLS context");
    }
    if (a.tls && wd_net_tls_role(cfg->tls) != WD_TLS_CLIENT) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "the TLS context is not a client's");
    }
    if (cfg->timeout_ms < 0) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "negative timeout");
    }
    struct wd_http_client *cli = wd_calloc(1, sizeof(*cli));
    if (cli == NULL) {
        return wd_diag_set(diag, WD_ENOMEM, NULL, 0, 0, "out of memory");
    }
    cli->addr = a;
    if (a.kind == WD_NET_UNIX) {
        (void)snprintf(cli->host_hdr, sizeof(cli->host_hdr), "localhost");
    } else if (a.host_v6) {
        (void)snprintf(cli->host_hdr, sizeof(cli->host_hdr), "[%s]:%u", a.host, a.port);
    } else {
        (void)snprintf(cli->host_hdr, sizeof(cli->host_hdr), "%s:%u", a.host, a.port);
        struct in_addr v4;
        cli->sni = inet_pton(AF_INET, a.host, &v4) != 1;
    }
    cli->tls = a.tls ? wd_tls_ctx_ref(cfg->tls) : NULL;
    cli->timeout_ms = cfg->timeout_ms != 0 ? cfg->timeout_ms : WD_NET_IO_TIMEOUT_MS;
    cli->max_body = cfg->max_body != 0 ? cfg->max_body : WD_NET_BODY_MAX_DEFAULT;
    wd_net_io_init(&cli->io, -1, cli->timeout_ms);
    wd_buf_init(&cli->in, WD_NET_IN_MAX);
    wd_buf_init(&cli->out, WD_NET_IN_MAX);
    *out = cli;
    return WD_OK;
}

/* Forget the connection; unread response bytes belong to it and go too. */
static void disconnect(struct wd_http_client *cli)
{
    wd_net_io_close(&cli->io, 0);
    wd_buf_reset(&cli->in);
}

/* Accepts NULL; drops the connection and the client's context reference. */
void wd_http_client_free(struct wd_http_client *cli)
{
    if (cli == NULL) {
        return;
    }
    disconnect(cli);
    wd_tls_ctx_unref(cli->tls);
    wd_buf_cleanup(&cli->in);
    wd_buf_cleanup(&cli->out);
    wd_free(cli);
}

void wd_http_client_set_tls(struct wd_http_client *cli, struct wd_tls_ctx *tls)
{
    disconnect(cli);
    struct wd_tls_ctx *old = cli->tls;
    cli->tls = NULL;
    if (cli->addr.tls && tls != NULL && wd_net_tls_role(tls) == WD_TLS_CLIENT) {
        cli->tls = wd_tls_ctx_ref(tls);
    } else if (cli->addr.tls) {
        /* Requests fail with WD_ECONFIG until a client context is given: never plaintext. */
        wd_log(WD_LOG_ERR, "http: %s: set_tls without a client TLS context", cli->host_hdr);
    }
    wd_tls_ctx_unref(old);
}

/* ---- connecting ---- */

/* Milliseconds left until a monotonic deadline, clamped to what poll(2) takes. */
static int remaining(int64_t until)
{
    int64_t left = until - wd_net_mono_ms();
    return left <= 0 ? 0 : left > 0x7fffffff ? 0x7fffffff : (int)left;
}

/* Non-blocking connect bounded by until. Returns the connected fd or -1 with errno set. */
static int connect_one(const struct addrinfo *ai, int64_t until)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd == -1) {
        return -1;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
        if (errno != EINPROGRESS && errno != EINTR) {
            int e = errno;
            (void)close(fd);
            errno = e;
            return -1;
        }
        for (;;) {
            int left = remaining(until);
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            int r = left > 0 ? poll(&pf, 1, left) : 0;
            if (r == -1 && errno == EINTR) {
                continue;
            }
            int err = 0;
            socklen_t len = sizeof(err);
            if (r == 0) {
                err = ETIMEDOUT;
            } else if (r == -1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1) {
                err = errno;
            }
            if (err != 0) {
                (void)close(fd);
                errno = err;
                return -1;
            }
            break;
        }
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/*
 * Try every address the resolver gives ("localhost" may be ::1 and 127.0.0.1) within the
 * one deadline of the request. Returns the connected fd, or an error with diag.
 */
static int connect_tcp(struct wd_http_client *cli, int64_t until, struct wd_diag *diag)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    char port[8];
    (void)snprintf(port, sizeof(port), "%u", cli->addr.port);
    int gai = getaddrinfo(cli->addr.host, port, &hints, &res);
    if (gai != 0) {
        return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "%s: %s", cli->addr.host, gai_strerror(gai));
    }
    int err = ECONNREFUSED;
    int fd = -1;
    for (struct addrinfo *ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
        fd = connect_one(ai, until);
        if (fd == -1) {
            err = errno;
        }
    }
    freeaddrinfo(res);
    if (fd == -1) {
        return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "connect %s: %s", cli->host_hdr,
                           err == ETIMEDOUT ? "timed out" : strerror(err));
    }
    return fd;
}

/* A unix-socket connect; returns the fd (non-blocking afterwards) or an error. */
static int connect_unix(struct wd_http_client *cli, int64_t until, struct wd_diag *diag)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "socket: %s", strerror(errno));
    }
    /* A blocking unix connect waits (only) while the backlog is full, for SO_SNDTIMEO
       (where 0 would mean forever). */
    int left = remaining(until);
    if (left <= 0) {
        (void)close(fd);
        return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "connect %s: timed out", cli->addr.path);
    }
    struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (suseconds_t)(left % 1000) * 1000};
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, cli->addr.path, strlen(cli->addr.path) + 1);
    if (connect(fd, (const struct sockaddr *)&sun, sizeof(sun)) == -1) {
        int e = errno;
        (void)close(fd);
        return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "connect %s: %s", cli->addr.path,
                           e == EAGAIN || e == EINPROGRESS ? "timed out" : strerror(e));
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
        int e = errno;
        (void)close(fd);
        return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "fcntl: %s", strerror(e));
    }
    return fd;
}

/*
 * A new connection: connect, then for https the handshake, whose verify callback checks the
 * server's SVID (and expected ID) and records it in cli->tls_peer.
 */
static int open_conn(struct wd_http_client *cli, int64_t until, struct wd_diag *diag)
{
    int fd = cli->addr.kind == WD_NET_UNIX ? connect_unix(cli, until, diag)
                                           : connect_tcp(cli, until, diag);
    if (fd < 0) {
        return fd;
    }
    wd_net_io_init(&cli->io, fd, cli->timeout_ms);
    cli->io.until = until;
    wd_buf_reset(&cli->in);
    if (cli->tls == NULL) {
        return WD_OK;
    }
    SSL *ssl = NULL;
    int rc = wd_net_tls_ssl(cli->tls, fd, cli->sni ? cli->addr.host : NULL, &cli->tls_peer, &ssl,
                            diag);
    if (rc < 0) {
        disconnect(cli);
        return rc;
    }
    cli->io.ssl = ssl;
    rc = wd_net_io_handshake(&cli->io, diag);
    if (rc < 0 && cli->tls_peer.failed) {
        rc = wd_diag_set(diag, WD_ETLS, NULL, 0, 0, "%s: server rejected: %s", cli->host_hdr,
                         cli->tls_peer.diag.msg);
    } else if (rc == WD_OK && !cli->tls_peer.has_id) {
        /* Cannot happen with SSL_VERIFY_PEER; refuse rather than trust an unverified peer. */
        rc = wd_diag_set(diag, WD_ETLS, NULL, 0, 0, "%s: server presented no SVID", cli->host_hdr);
    }
    if (rc < 0) {
        disconnect(cli);
    }
    return rc;
}

/* ---- one exchange ---- */

/* Read more response bytes into cli->in. *got is 0 at end of stream. */
static int read_more(struct wd_http_client *cli, size_t *got, struct wd_diag *diag)
{
    size_t room = WD_MIN((size_t)WD_NET_READ_CHUNK, cli->in.max - cli->in.len);
    if (room == 0) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "response head too large");
    }
    WD_TRY(wd_buf_reserve(&cli->in, room));
    WD_TRY(wd_net_io_read(&cli->io, cli->in.p + cli->in.len, room, got, diag));
    cli->in.len += *got;
    cli->in.p[cli->in.len] = '\0';
    return WD_OK;
}

/* Turn a parser error into the client's error code, naming the rule in diag. */
static int parse_fail(struct wd_http_client *cli, int rc, struct wd_diag *diag)
{
    enum wd_http1_reason why = wd_http1_reason(&cli->p);
    if (rc == WD_ELIMIT && why == WD_HTTP1_R_LIMIT_BODY) {
        return wd_diag_set(diag, WD_ELIMIT, NULL, 0, 0, "response body larger than %zu bytes",
                           cli->max_body);
    }
    return wd_diag_set(diag, rc == WD_ELIMIT ? WD_ELIMIT : WD_EPROTO, NULL, 0, 0,
                       "malformed response: %s", wd_http1_reason_str(why));
}

/* Record the final response's head. */
static void take_head(struct wd_http_client *cli, struct wd_http_result *res)
{
    const struct wd_http1_msg *m = wd_http1_msg(&cli->p);
    res->status = (int)m->status;
    size_t from = 0;
    struct wd_slice v;
    if (wd_http1_find(&cli->p, "content-type", &from, &v)) {
        size_t n = WD_MIN(v.len, sizeof(res->content_type) - 1);
        memcpy(res->content_type, v.p, n);
        res->content_type[n] = '\0';
    }
}

/* Read the response to the request just sent; see exchange(). */
static int read_response(struct wd_http_client *cli, enum wd_http1_method m,
                         struct wd_http_result *res, bool *got_any, bool *keep,
                         struct wd_diag *diag)
{
    struct wd_http1_config cfg;
    wd_http1_config_default(&cfg);
    cfg.max_body = cli->max_body;
    wd_http1_init(&cli->p, WD_HTTP1_RESPONSE, &cfg, cli->fields, WD_NET_FIELDS_MAX);
    wd_http1_set_request_method(&cli->p, m);
    bool interim = false, in_final = false;
    for (;;) {
        struct wd_http1_step st;
        int rc = wd_http1_step(&cli->p, cli->in.p, cli->in.len, &st);
        if (rc == WD_EAGAIN) {
            wd_buf_consume(&cli->in, st.used);
            size_t got = 0;
            WD_TRY(read_more(cli, &got, diag));
            if (got > 0) {
                *got_any = true;
                continue;
            }
            /* End of stream: complete only for a body delimited by it (RFC 9112 §6.3). */
            rc = wd_http1_finish(&cli->p);
            if (rc == WD_OK && in_final) {
                return WD_OK;
            }
            return wd_diag_set(diag, *got_any ? WD_EPROTO : WD_EIO, NULL, 0, 0,
                               *got_any ? "connection closed inside the response"
                                        : "connection closed before the response");
        }
        if (rc < 0) {
            return parse_fail(cli, rc, diag);
        }
        switch (st.ev) {
        case WD_HTTP1_EV_HEAD:
            interim = wd_http1_msg(&cli->p)->interim;
            if (!interim) {
                in_final = true;
                take_head(cli, res);
            }
            break;
        case WD_HTTP1_EV_DATA:
            rc = wd_buf_append(&res->body, st.data.p, st.data.len);
            if (rc == WD_ELIMIT) {
                return wd_diag_set(diag, WD_ELIMIT, NULL, 0, 0,
                                   "response body larger than %zu bytes", cli->max_body);
            }
            WD_TRY(rc);
            break;
        case WD_HTTP1_EV_TRAILERS:
            break;
        case WD_HTTP1_EV_END:
            wd_buf_consume(&cli->in, st.used);
            if (interim) {
                interim = false; /* 1xx: the final response follows */
                continue;
            }
            const struct wd_http1_msg *msg = wd_http1_msg(&cli->p);
            /* Bytes after the response are not ours to read: do not reuse. */
            *keep = msg->keep_alive && !msg->upgrade && cli->in.len == 0;
            return WD_OK;
        }
        wd_buf_consume(&cli->in, st.used);
    }
}

/*
 * Send the request and read the response. *got_any tells whether any response byte
 * arrived; *keep whether the connection may be reused.
 */
static int exchange(struct wd_http_client *cli, enum wd_http1_method m, const void *body,
                    size_t len, struct wd_http_result *res, bool *got_any, bool *keep,
                    struct wd_diag *diag)
{
    *got_any = false;
    *keep = false;
    if (len > 0 && len <= WD_NET_READ_CHUNK && cli->out.len + len <= cli->out.max) {
        WD_TRY(wd_buf_append(&cli->out, body, len));
        len = 0;
    }
    struct wd_diag wdiag;
    int wrc = wd_net_io_write(&cli->io, cli->out.p, cli->out.len, &wdiag);
    if (wrc == WD_OK && len > 0) {
        wrc = wd_net_io_write(&cli->io, body, len, &wdiag);
    }
    /* A server may answer early and close before reading the whole request (a 413 for a
       large upload): after a reset on a plaintext connection, the answer may still be
       waiting in the receive buffer. A TLS connection is unusable after a failed write. */
    if (wrc < 0 && (wrc != WD_EIO || cli->io.ssl != NULL || cli->io.timed_out)) {
        if (diag != NULL) {
            *diag = wdiag;
        }
        return wrc;
    }
    int rc = read_response(cli, m, res, got_any, keep, diag);
    if (wrc < 0) {
        *keep = false;
        if (rc < 0 && diag != NULL) {
            *diag = wdiag;
        }
        return rc < 0 ? wrc : WD_OK;
    }
    return rc;
}

/*
 * The parser needs the request method to frame the response (HEAD has no body, RFC 9112
 * §6.3); methods without their own value frame like GET.
 */
static enum wd_http1_method method_of(const char *s)
{
    static const enum wd_http1_method all[] = {WD_HTTP1_GET,     WD_HTTP1_HEAD,   WD_HTTP1_POST,
                                               WD_HTTP1_PUT,     WD_HTTP1_DELETE, WD_HTTP1_CONNECT,
                                               WD_HTTP1_OPTIONS, WD_HTTP1_TRACE,  WD_HTTP1_PATCH};
    for (size_t i = 0; i < WD_ARRAY_LEN(all); i++) {
        if (strcmp(wd_http1_method_str(all[i]), s) == 0) {
            return all[i];
        }
    }
    return WD_HTTP1_OTHER;
}

/*
 * One request: validate and build the head first (no I/O for a caller bug), then at most
 * two attempts, all within one deadline.
 */
int wd_http_client_request(struct wd_http_client *cli, const char *method, const char *path,
                           const char *content_type, const void *body, size_t len,
                           struct wd_http_result *res, struct wd_diag *diag)
{
    wd_http_result_cleanup(res);
    wd_buf_init(&res->body, cli->max_body);
    if (body == NULL && len > 0) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "body is NULL but len is %zu", len);
    }
    enum wd_http1_method m = method_of(method != NULL ? method : "");
    if (m == WD_HTTP1_CONNECT) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "CONNECT is not supported");
    }
    wd_buf_reset(&cli->out);
    int rc = wd_net_request_head(&cli->out, method, path, cli->host_hdr, content_type, len,
                                 body != NULL || len > 0);
    if (rc < 0) {
        return wd_diag_set(diag, rc, NULL, 0, 0,
                           rc == WD_EINVAL ? "invalid method, path or content type"
                                           : "request head too large");
    }
    if (cli->addr.tls && cli->tls == NULL) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "https without a client TLS context");
    }
    int64_t until = wd_net_mono_ms() + cli->timeout_ms;
    for (int attempt = 0;; attempt++) {
        bool fresh = false;
        /* Readable while idle means the server closed (or sent junk): start afresh. So does
           an expired server SVID: its identity was verified only at the handshake. */
        if (cli->io.fd >= 0
            && (wd_net_io_readable(&cli->io)
                || (cli->tls != NULL && wd_time_now() >= cli->tls_peer.svid.not_after))) {
            disconnect(cli);
        }
        if (cli->io.fd < 0) {
            WD_TRY(open_conn(cli, until, diag));
            fresh = true;
        }
        cli->io.until = until;
        cli->io.stall_ms = cli->timeout_ms;
        bool got_any = false, keep = false;
        rc = exchange(cli, m, body, len, res, &got_any, &keep, diag);
        if (rc == WD_OK) {
            if (cli->tls != NULL) {
                res->server_id = cli->tls_peer.svid.id;
            }
            if (!keep) {
                disconnect(cli);
            }
            return WD_OK;
        }
        bool retry = !fresh && !got_any && attempt == 0 && !cli->io.timed_out
                     && (rc == WD_EIO || rc == WD_ETLS);
        disconnect(cli);
        /* No half response survives an error. */
        wd_buf_reset(&res->body);
        res->status = 0;
        res->content_type[0] = '\0';
        if (!retry) {
            return rc;
        }
        wd_log(WD_LOG_DEBUG, "http: %s: reused connection failed (%s); reconnecting", cli->host_hdr,
               diag != NULL ? diag->msg : wd_strerror(rc));
        /* The request head is intact unless the small body was appended to it. */
        wd_buf_reset(&cli->out);
        rc = wd_net_request_head(&cli->out, method, path, cli->host_hdr, content_type, len,
                                 body != NULL || len > 0);
        if (rc < 0) {
            return wd_diag_set(diag, rc, NULL, 0, 0, "request head too large");
        }
    }
}
