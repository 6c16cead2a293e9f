/*
 * The threaded HTTP/1.1 server: one accept thread, one thread per connection (at most
 * max_conns; the accept thread waits on a condition variable while the limit is reached,
 * so further connections wait in the listen backlog). Stopping is an eventfd that every
 * accept and read wait also polls: setting it wakes the accept thread and every idle or
 * half-received connection at once, while a handler that is running finishes and its
 * response is written (writes do not watch the eventfd).
 *
 * Finished connection threads put themselves on a zombie list; the accept thread joins and
 * frees them before each accept, stop() joins the rest, so no thread is ever detached.
 */
#define _GNU_SOURCE /* NOLINT(bugprone-reserved-identifier): accept4, struct ucred */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/log.h"

#include "net_int.h"

#define LISTEN_BACKLOG 128
#define LINGER_MAX_MS  2000

struct conn {
    struct wd_http_server *srv;
    struct conn *next; /* zombie list */
    pthread_t thread;
    struct wd_tls_ctx *tls; /* our reference, NULL for plaintext */
    struct wd_net_io io;
    struct wd_net_peer peer;
    struct wd_net_tls_peer tls_peer;
    struct wd_net_reader rd;
    struct wd_net_request req;
    struct wd_http_resp resp;
    struct wd_buf out; /* the response head (and small bodies) */
};

struct wd_http_server {
    wd_http_handler handler;
    void *handler_arg;
    void (*on_stop)(void *handler_arg);
    size_t max_conns;
    size_t max_body;
    int io_timeout_ms;
    int idle_timeout_ms;
    int listen_fd;
    int stop_fd; /* eventfd: readable once stop() began */
    int reap_fd; /* eventfd: a connection thread finished (wakes the accept thread) */
    uint16_t port;
    bool is_unix;
    char unix_path[108];
    dev_t unix_dev;
    ino_t unix_ino;
    pthread_t accept_thread;
    bool accept_started;

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cond;
    struct wd_tls_ctx *tls;
    size_t active;
    bool stopping;
    struct conn *zombies;
    uint64_t accepted;
};

/* RFC 9110 §5.1: field names are case-insensitive. */
const char *wd_http_req_header(const struct wd_http_req *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        if (strcasecmp(req->headers[i].name, name) == 0) {
            return req->headers[i].value;
        }
    }
    return NULL;
}

/* Whether stop() began: responses then say Connection: close. */
static bool server_stopping(struct wd_http_server *srv)
{
    (void)pthread_mutex_lock(&srv->mu);
    bool s = srv->stopping;
    (void)pthread_mutex_unlock(&srv->mu);
    return s;
}

/* How long a closing connection may keep draining its peer. */
static int linger_ms(const struct wd_http_server *srv)
{
    return WD_MIN(srv->io_timeout_ms, LINGER_MAX_MS);
}

/* ---- one connection ---- */

/*
 * Who is at the other end: for unix sockets the kernel's SO_PEERCRED (the connecting
 * process, unforgeable by it), for TCP the address and port.
 */
static void fill_peer(struct conn *c)
{
    struct wd_net_peer *p = &c->peer;
    if (c->srv->is_unix) {
        (void)snprintf(p->addr, sizeof(p->addr), "unix");
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(c->io.fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0
            && len == sizeof(cred)) {
            p->has_cred = true;
            p->pid = cred.pid;
            p->uid = cred.uid;
            p->gid = cred.gid;
        }
        return;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len = sizeof(ss);
    if (getpeername(c->io.fd, (struct sockaddr *)&ss, &len) != 0) {
        (void)snprintf(p->addr, sizeof(p->addr), "?");
        return;
    }
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        (void)inet_ntop(AF_INET, &in->sin_addr, p->addr, sizeof(p->addr));
        p->port = ntohs(in->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        (void)inet_ntop(AF_INET6, &in6->sin6_addr, p->addr, sizeof(p->addr));
        p->port = ntohs(in6->sin6_port);
    }
}

/* Send a response that is not the handler's (an error, or 500), then close. */
static void send_error(struct conn *c, int status)
{
    wd_buf_reset(&c->out);
    char body[96];
    int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", wd_net_reason_phrase(status));
    size_t blen = n > 0 ? (size_t)n : 0;
    wd_net_io_deadline(&c->io, c->srv->io_timeout_ms);
    if (wd_net_response_head(&c->out, status, "application/json", blen, true, NULL, wd_time_now())
                == WD_OK
        && wd_buf_append(&c->out, body, blen) == WD_OK) {
        if (wd_net_io_write(&c->io, c->out.p, c->out.len, NULL) < 0) {
            return; /* the peer is gone; the connection closes either way */
        }
    }
}

/*
 * Read until the reader has a whole request. Returns WD_OK, or an error after which the
 * connection closes: *status is then the status to answer (0: close silently).
 */
static int read_request(struct conn *c, int *status)
{
    struct wd_http_server *srv = c->srv;
    *status = 0;
    bool started = !wd_net_reader_idle(&c->rd);
    if (started) {
        c->io.stall_ms = srv->io_timeout_ms;
        /* A request must arrive whole within a few stall periods (slow senders). */
        wd_net_io_deadline(&c->io, 4 * (int64_t)srv->io_timeout_ms);
    } else {
        c->io.stall_ms = srv->idle_timeout_ms;
        wd_net_io_deadline(&c->io, srv->idle_timeout_ms);
    }
    for (;;) {
        int rc = wd_net_reader_next(&c->rd, &c->req, status);
        if (rc != WD_EAGAIN) {
            return rc;
        }
        if (c->rd.want_continue) {
            /* RFC 9110 §10.1.1: the client may hold its body back until told to send it. */
            c->rd.want_continue = false;
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            WD_TRY(wd_net_io_write(&c->io, cont, sizeof(cont) - 1, NULL));
        }
        uint8_t *at;
        size_t room, got;
        rc = wd_net_reader_space(&c->rd, &at, &room);
        if (rc < 0) {
            *status = rc == WD_ELIMIT ? 431 : 500;
            return rc;
        }
        rc = wd_net_io_read(&c->io, at, room, &got, NULL);
        if (rc < 0) {
            if (c->io.timed_out && started) {
                *status = 408;
            }
            return rc;
        }
        if (got == 0) {
            /* End of stream: clean between requests, truncated inside one. */
            return WD_EIO;
        }
        wd_net_reader_commit(&c->rd, got);
        if (!started) {
            started = true;
            c->io.stall_ms = srv->io_timeout_ms;
            wd_net_io_deadline(&c->io, 4 * (int64_t)srv->io_timeout_ms);
        }
    }
}

/* The defaults a handler starts from (net.h): 500 unless set, JSON, empty body. */
static void resp_reset(struct conn *c)
{
    struct wd_http_resp *r = &c->resp;
    r->status = 0;
    (void)snprintf(r->content_type, sizeof(r->content_type), "application/json");
    wd_buf_reset(&r->body);
    r->extra_headers[0] = '\0';
    r->close = false;
}

/* Run the handler and write its response. Returns WD_OK to keep the connection. */
static int serve_request(struct conn *c)
{
    struct wd_http_server *srv = c->srv;
    const struct wd_net_request *q = &c->req;
    struct wd_http_req req = {
            .method = q->method,
            .path = q->path,
            .query = q->query,
            .headers = q->headers,
            .n_headers = q->n_headers,
            .body = q->body,
            .body_len = q->body_len,
            .peer = &c->peer,
    };
    resp_reset(c);
    struct wd_http_resp *r = &c->resp;
    int rc = srv->handler(srv->handler_arg, &req, r);
    if (rc != WD_OK) {
        wd_log(WD_LOG_WARN, "http: handler for %s failed: %s", c->peer.addr, wd_strerror(rc));
        send_error(c, 500);
        return WD_EIO;
    }
    r->content_type[sizeof(r->content_type) - 1] = '\0';
    r->extra_headers[sizeof(r->extra_headers) - 1] = '\0';
    int status = r->status == 0 ? 500 : r->status;
    if (status < 200 || status > 599 || !wd_net_field_value_ok(r->content_type)
        || !wd_net_extra_headers_ok(r->extra_headers)) {
        wd_log(WD_LOG_WARN, "http: handler gave an invalid response (status %d or headers)",
               r->status);
        send_error(c, 500);
        return WD_EIO;
    }
    /* RFC 9112 §9.6: say "close" when this is the last response on the connection. */
    bool close = r->close || !q->keep_alive || server_stopping(srv);
    /* RFC 9110 §9.3.2: HEAD gets the head a GET would get, without content. */
    bool send_body = !q->is_head && status != 204 && status != 304;
    wd_buf_reset(&c->out);
    rc = wd_net_response_head(&c->out, status, r->content_type, r->body.len, close,
                              r->extra_headers, wd_time_now());
    if (rc < 0) {
        send_error(c, 500);
        return rc;
    }
    wd_net_io_deadline(&c->io, 4 * (int64_t)srv->io_timeout_ms);
    c->io.stall_ms = srv->io_timeout_ms;
    /* One write for small responses (one TLS record, one segment). */
    if (send_body && r->body.len <= WD_NET_READ_CHUNK) {
        rc = wd_buf_append(&c->out, r->body.p, r->body.len);
        send_body = false;
        if (rc < 0) {
            return rc;
        }
    }
    WD_TRY(wd_net_io_write(&c->io, c->out.p, c->out.len, NULL));
    if (send_body && r->body.len > 0) {
        WD_TRY(wd_net_io_write(&c->io, r->body.p, r->body.len, NULL));
    }
    if (r->body.cap > WD_NET_KEEP_MAX) {
        wd_buf_cleanup(&r->body);
    }
    if (c->out.cap > WD_NET_KEEP_MAX) {
        wd_buf_cleanup(&c->out);
    }
    return close ? WD_EIO : WD_OK;
}

/* The life of one connection: handshake, then requests in order until one side closes. */
static void serve(struct conn *c)
{
    struct wd_http_server *srv = c->srv;
    struct wd_diag diag;
    fill_peer(c);
    if (c->tls != NULL) {
        SSL *ssl = NULL;
        if (wd_net_tls_ssl(c->tls, c->io.fd, NULL, &c->tls_peer, &ssl, &diag) < 0) {
            wd_log(WD_LOG_WARN, "http: %s: %s", c->peer.addr, diag.msg);
            return;
        }
        c->io.ssl = ssl;
        wd_net_io_deadline(&c->io, srv->io_timeout_ms);
        if (wd_net_io_handshake(&c->io, &diag) < 0) {
            /* The reason may quote the peer's certificate: escape it. */
            const char *why = c->tls_peer.failed ? c->tls_peer.diag.msg : diag.msg;
            char esc[WD_DIAG_MAX];
            wd_log(WD_LOG_DEBUG, "http: TLS handshake with %s:%u failed: %s", c->peer.addr,
                   c->peer.port, wd_log_escape(esc, sizeof(esc), why, strlen(why)));
            wd_net_io_close(&c->io, c->io.cancelled ? 0 : linger_ms(srv));
            return;
        }
        c->peer.tls = true;
        if (c->tls_peer.has_id) {
            c->peer.has_id = true;
            c->peer.svid = c->tls_peer.svid;
        }
    }
    for (;;) {
        int status = 0;
        int rc = read_request(c, &status);
        if (rc < 0) {
            /* status 0: the peer left, timed out while idle, or stop() began: just close. */
            if (status != 0) {
                wd_log(WD_LOG_DEBUG, "http: %s:%u: answering %d (%s)", c->peer.addr, c->peer.port,
                       status, wd_http1_reason_name(wd_http1_reason(&c->rd.p)));
                send_error(c, status);
                wd_net_io_close(&c->io, linger_ms(srv));
            }
            return;
        }
        /* The identity was verified at the handshake; a keep-alive connection must not
           outlive the SVID that authenticated it. Closing without an answer makes a
           warden client reconnect (and present its current SVID). */
        if (c->peer.has_id && wd_time_now() >= c->peer.svid.not_after) {
            wd_log(WD_LOG_DEBUG, "http: %s:%u: client SVID %s expired; closing", c->peer.addr,
                   c->peer.port, c->peer.svid.id.str);
            return;
        }
        rc = serve_request(c);
        wd_net_reader_release(&c->rd);
        if (rc < 0) {
            wd_net_io_close(&c->io, linger_ms(srv));
            return;
        }
    }
}

/*
 * Connection thread. Everything it owns is released here; the struct itself (and the
 * thread) is reaped by whoever joins it, since a thread cannot join itself.
 */
static void *conn_main(void *arg)
{
    struct conn *c = arg;
    struct wd_http_server *srv = c->srv;
    serve(c);
    wd_net_io_close(&c->io, 0);
    wd_net_reader_cleanup(&c->rd);
    wd_buf_cleanup(&c->resp.body);
    wd_buf_cleanup(&c->out);
    wd_tls_ctx_unref(c->tls);
    c->tls = NULL;
    (void)pthread_mutex_lock(&srv->mu);
    srv->active--;
    c->next = srv->zombies;
    srv->zombies = c;
    (void)pthread_cond_broadcast(&srv->cond);
    (void)pthread_mutex_unlock(&srv->mu);
    /* Let the accept thread join us soon even when no new client comes. The eventfd is
       closed only after every connection thread has been joined. */
    uint64_t one = 1;
    (void)!write(srv->reap_fd, &one, sizeof(one));
    return NULL;
}

/* Join and free finished connections. Called without the lock held. */
static void reap(struct wd_http_server *srv)
{
    (void)pthread_mutex_lock(&srv->mu);
    struct conn *z = srv->zombies;
    srv->zombies = NULL;
    (void)pthread_mutex_unlock(&srv->mu);
    while (z != NULL) {
        struct conn *next = z->next;
        (void)pthread_join(z->thread, NULL);
        wd_free(z);
        z = next;
    }
}

/* ---- accepting ---- */

/* Sleep up to ms unless stop begins; for transient accept failures (no spinning). */
static void pause_unless_stopped(struct wd_http_server *srv, int ms)
{
    struct pollfd pf = {.fd = srv->stop_fd, .events = POLLIN};
    (void)poll(&pf, 1, ms);
}

/* A new connection thread with its own reference to the current TLS context. */
static void start_conn(struct wd_http_server *srv, int fd)
{
    int one = 1;
    if (!srv->is_unix) {
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    struct conn *c = wd_calloc(1, sizeof(*c));
    if (c == NULL) {
        wd_log(WD_LOG_WARN, "http: out of memory for a new connection");
        (void)close(fd);
        return;
    }
    c->srv = srv;
    wd_net_io_init(&c->io, fd, srv->io_timeout_ms);
    c->io.cancel_fd = srv->stop_fd;
    wd_net_reader_init(&c->rd, srv->max_body);
    wd_buf_init(&c->resp.body, WD_NET_RESP_BODY_MAX);
    wd_buf_init(&c->out, WD_NET_RESP_BODY_MAX);
    (void)pthread_mutex_lock(&srv->mu);
    c->tls = wd_tls_ctx_ref(srv->tls);
    srv->active++;
    srv->accepted++;
    (void)pthread_mutex_unlock(&srv->mu);
    int err = pthread_create(&c->thread, NULL, conn_main, c);
    if (err != 0) {
        wd_log(WD_LOG_WARN, "http: cannot start a connection thread: %s", strerror(err));
        (void)pthread_mutex_lock(&srv->mu);
        srv->active--;
        (void)pthread_mutex_unlock(&srv->mu);
        wd_tls_ctx_unref(c->tls);
        (void)close(fd);
        wd_free(c);
        pause_unless_stopped(srv, 100);
    }
}

/* The accept thread: at most max_conns connection threads at a time. */
static void *accept_main(void *arg)
{
    struct wd_http_server *srv = arg;
    for (;;) {
        /* Join finished threads promptly so their stacks do not pile up. */
        reap(srv);
        (void)pthread_mutex_lock(&srv->mu);
        while (srv->active >= srv->max_conns && !srv->stopping) {
            (void)pthread_cond_wait(&srv->cond, &srv->mu);
        }
        bool stopping = srv->stopping;
        (void)pthread_mutex_unlock(&srv->mu);
        if (stopping) {
            return NULL;
        }
        struct pollfd pf[3] = {{.fd = srv->listen_fd, .events = POLLIN},
                               {.fd = srv->stop_fd, .events = POLLIN},
                               {.fd = srv->reap_fd, .events = POLLIN}};
        int r = poll(pf, 3, -1);
        if (r == -1) {
            if (errno != EINTR) {
                pause_unless_stopped(srv, 100);
            }
            continue;
        }
        if (pf[1].revents != 0) {
            return NULL;
        }
        if (pf[2].revents != 0) {
            uint64_t n;
            (void)!read(srv->reap_fd, &n, sizeof(n)); /* reset; reap() runs next */
        }
        if (pf[0].revents == 0) {
            continue;
        }
        /* Non-blocking (every wait is a poll with a deadline) and close-on-exec (the agent
           starts processes; they must not inherit connections). */
        int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                wd_log(WD_LOG_WARN, "http: accept: %s", strerror(errno));
                pause_unless_stopped(srv, 100);
            }
            continue; /* EAGAIN, ECONNABORTED, EINTR, ... */
        }
        start_conn(srv, fd);
    }
}

/* ---- start / stop ---- */

/* Bind the first address the listen host resolves to (IPv6 sockets are v6-only). */
static int bind_tcp(struct wd_http_server *srv, const struct wd_net_addr *a, struct wd_diag *diag)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[8];
    (void)snprintf(port, sizeof(port), "%u", a->port);
    int gai = getaddrinfo(a->host, port, &hints, &res);
    if (gai != 0) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "listen %s: %s", a->host,
                           gai_strerror(gai));
    }
    int rc = WD_EIO;
    int err = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        if (fd == -1) {
            err = errno;
            continue;
        }
        int one = 1;
        /* A restarted daemon must be able to bind while old connections sit in TIME_WAIT. */
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        /* "[::]:443" means IPv6 only; IPv4 clients get their own listen string. */
        if (ai->ai_family == AF_INET6) {
            (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        }
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 || listen(fd, LISTEN_BACKLOG) == -1) {
            err = errno;
            (void)close(fd);
            continue;
        }
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        socklen_t len = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
            srv->port =
                    ntohs(ss.ss_family == AF_INET ? ((const struct sockaddr_in *)&ss)->sin_port
                                                  : ((const struct sockaddr_in6 *)&ss)->sin6_port);
        }
        srv->listen_fd = fd;
        rc = WD_OK;
        break;
    }
    freeaddrinfo(res);
    if (rc < 0) {
        return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "listen %s:%u: %s", a->host, a->port,
                           strerror(err));
    }
    return WD_OK;
}

/* Replace a stale socket file, bind, set the mode, then listen. */
static int bind_unix(struct wd_http_server *srv, const struct wd_net_addr *a, unsigned mode,
                     struct wd_diag *diag)
{
    struct stat st;
    if (lstat(a->path, &st) == 0) {
        /* Replace a stale socket, never anything else. */
        if (!S_ISSOCK(st.st_mode)) {
            return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "%s exists and is not a socket", a->path);
        }
        if (unlink(a->path) == -1) {
            return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "unlink %s: %s", a->path, strerror(errno));
        }
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "socket: %s", strerror(errno));
    }
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, a->path, strlen(a->path) + 1);
    /* chmod before listen: nobody can connect while the mode is still the umask's. */
    if (bind(fd, (const struct sockaddr *)&sun, sizeof(sun)) == -1) {
        int e = errno;
        (void)close(fd);
        return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "bind %s: %s", a->path, strerror(e));
    }
    if (chmod(a->path, (mode_t)mode) == -1 || lstat(a->path, &st) == -1
        || listen(fd, LISTEN_BACKLOG) == -1) {
        int e = errno;
        (void)close(fd);
        (void)unlink(a->path);
        return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "listen %s: %s", a->path, strerror(e));
    }
    srv->listen_fd = fd;
    srv->is_unix = true;
    memcpy(srv->unix_path, a->path, sizeof(srv->unix_path));
    srv->unix_dev = st.st_dev;
    srv->unix_ino = st.st_ino;
    return WD_OK;
}

/* Everything start() may have set up, in reverse; also its error path. */
static void server_free(struct wd_http_server *srv)
{
    if (srv->listen_fd >= 0) {
        (void)close(srv->listen_fd);
    }
    if (srv->is_unix) {
        struct stat st;
        /* Remove our socket file, unless someone replaced it meanwhile. */
        if (lstat(srv->unix_path, &st) == 0 && st.st_dev == srv->unix_dev
            && st.st_ino == srv->unix_ino) {
            (void)unlink(srv->unix_path);
        }
    }
    if (srv->stop_fd >= 0) {
        (void)close(srv->stop_fd);
    }
    if (srv->reap_fd >= 0) {
        (void)close(srv->reap_fd);
    }
    wd_tls_ctx_unref(srv->tls);
    (void)pthread_cond_destroy(&srv->cond);
    (void)pthread_mutex_destroy(&srv->mu);
    wd_free(srv);
}

/* Defaults from net.h are applied here, once. */
int wd_http_server_start(const struct wd_http_server_config *cfg, struct wd_http_server **out,
                         struct wd_diag *diag)
{
    *out = NULL;
    struct wd_net_addr a;
    if (cfg->handler == NULL) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "no handler");
    }
    WD_TRY(wd_net_parse_listen(cfg->listen, cfg->listen != NULL ? strlen(cfg->listen) : 0, &a,
                               diag));
    if (cfg->tls != NULL && wd_net_tls_role(cfg->tls) != WD_TLS_SERVER) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "the TLS context is not a server's");
    }
    if (cfg->io_timeout_ms < 0 || cfg->idle_timeout_ms < 0) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "negative timeout");
    }
    struct wd_http_server *srv = wd_calloc(1, sizeof(*srv));
    if (srv == NULL) {
        return wd_diag_set(diag, WD_ENOMEM, NULL, 0, 0, "out of memory");
    }
    srv->listen_fd = -1;
    srv->stop_fd = -1;
    srv->reap_fd = -1;
    srv->handler = cfg->handler;
    srv->handler_arg = cfg->handler_arg;
    srv->on_stop = cfg->on_stop;
    srv->max_conns = cfg->max_conns != 0 ? cfg->max_conns : WD_NET_CONNS_DEFAULT;
    srv->max_body = cfg->max_body != 0 ? cfg->max_body : WD_NET_BODY_MAX_DEFAULT;
    srv->io_timeout_ms = cfg->io_timeout_ms != 0 ? cfg->io_timeout_ms : WD_NET_IO_TIMEOUT_MS;
    srv->idle_timeout_ms =
            cfg->idle_timeout_ms != 0 ? cfg->idle_timeout_ms : WD_NET_IDLE_TIMEOUT_MS;
    (void)pthread_mutex_init(&srv->mu, NULL);
    (void)pthread_cond_init(&srv->cond, NULL);
    srv->tls = wd_tls_ctx_ref(cfg->tls);
    int rc;
    srv->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    srv->reap_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (srv->stop_fd == -1 || srv->reap_fd == -1) {
        rc = wd_diag_set(diag, WD_EIO, NULL, 0, 0, "eventfd: %s", strerror(errno));
        goto fail;
    }
    if (a.kind == WD_NET_UNIX) {
        rc = bind_unix(srv, &a, cfg->unix_mode != 0 ? cfg->unix_mode : 0600, diag);
    } else {
        rc = bind_tcp(srv, &a, diag);
    }
    if (rc < 0) {
        goto fail;
    }
    int err = pthread_create(&srv->accept_thread, NULL, accept_main, srv);
    if (err != 0) {
        rc = wd_diag_set(diag, WD_EIO, NULL, 0, 0, "cannot start the accept thread: %s",
                         strerror(err));
        goto fail;
    }
    srv->accept_started = true;
    *out = srv;
    return WD_OK;
fail:
    server_free(srv);
    return rc;
}

/* Fixed after start: no lock needed. */
uint16_t wd_http_server_port(const struct wd_http_server *srv)
{
    return srv->port;
}

/* For monitoring and the keep-alive tests. */
uint64_t wd_http_server_accepted(struct wd_http_server *srv)
{
    (void)pthread_mutex_lock(&srv->mu);
    uint64_t n = srv->accepted;
    (void)pthread_mutex_unlock(&srv->mu);
    return n;
}

/* Rotation: the swap is under the lock; the old context dies with its last connection. */
void wd_http_server_set_tls(struct wd_http_server *srv, struct wd_tls_ctx *tls)
{
    if (tls == NULL || wd_net_tls_role(tls) != WD_TLS_SERVER) {
        wd_log(WD_LOG_ERR, "http: set_tls without a server context ignored");
        return;
    }
    struct wd_tls_ctx *ref = wd_tls_ctx_ref(tls);
    (void)pthread_mutex_lock(&srv->mu);
    if (srv->tls == NULL) {
        /* A plaintext server stays plaintext: its clients speak HTTP, not TLS. */
        (void)pthread_mutex_unlock(&srv->mu);
        wd_log(WD_LOG_ERR, "http: set_tls on a plaintext server ignored");
        wd_tls_ctx_unref(ref);
        return;
    }
    struct wd_tls_ctx *old = srv->tls;
    srv->tls = ref;
    (void)pthread_mutex_unlock(&srv->mu);
    wd_tls_ctx_unref(old); /* connections using it hold their own references */
}

/* See net.h and docs/internals/net.md ("Threading model") for the order of events. */
void wd_http_server_stop(struct wd_http_server *srv)
{
    if (srv == NULL) {
        return;
    }
    /* The flag wakes an accept thread waiting for a free slot; the eventfd wakes every
       poll (the accept thread's and each connection's read waits). */
    (void)pthread_mutex_lock(&srv->mu);
    srv->stopping = true;
    (void)pthread_cond_broadcast(&srv->cond);
    (void)pthread_mutex_unlock(&srv->mu);
    /* Wakes the accept thread and every connection waiting to read. */
    uint64_t one = 1;
    while (write(srv->stop_fd, &one, sizeof(one)) == -1 && errno == EINTR) {
    }
    if (srv->accept_started) {
        (void)pthread_join(srv->accept_thread, NULL);
    }
    (void)close(srv->listen_fd);
    srv->listen_fd = -1;
    if (srv->on_stop != NULL) {
        srv->on_stop(srv->handler_arg);
    }
    /* Handlers still running finish and write their responses. */
    (void)pthread_mutex_lock(&srv->mu);
    while (srv->active > 0) {
        (void)pthread_cond_wait(&srv->cond, &srv->mu);
    }
    (void)pthread_mutex_unlock(&srv->mu);
    reap(srv);
    server_free(srv);
}
