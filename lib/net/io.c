/*
 * Socket and TLS I/O with deadlines. Sockets are non-blocking; every operation that would
 * block waits in poll(2) for at most the stall limit and never past the exchange deadline,
 * so no read, write or handshake can hang a thread. Server reads also watch a cancel fd
 * (the server's stop eventfd), so stopping never waits for an idle or slow peer.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "net_int.h"

/* CLOCK_MONOTONIC cannot jump with wall-clock changes, so deadlines stay honest. */
int64_t wd_net_mono_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A fresh io for fd with the deadline one stall period away. */
void wd_net_io_init(struct wd_net_io *io, int fd, int stall_ms)
{
    memset(io, 0, sizeof(*io));
    io->fd = fd;
    io->cancel_fd = -1;
    io->stall_ms = stall_ms;
    io->until = wd_net_mono_ms() + stall_ms;
}

/* Each exchange (handshake, request, response) sets its own deadline. */
void wd_net_io_deadline(struct wd_net_io *io, int64_t ms)
{
    io->until = wd_net_mono_ms() + ms;
}

/* Wait until fd is ready for events; reads may be cancelled. */
static int io_wait(struct wd_net_io *io, short events, struct wd_diag *diag)
{
    for (;;) {
        int64_t left = io->until - wd_net_mono_ms();
        if (left > io->stall_ms) {
            left = io->stall_ms;
        }
        if (left <= 0) {
            io->timed_out = true;
            return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "timed out");
        }
        struct pollfd pf[2] = {{.fd = io->fd, .events = events},
                               {.fd = io->cancel_fd, .events = POLLIN}};
        nfds_t n = (events & POLLIN) != 0 && io->cancel_fd >= 0 ? 2 : 1;
        int r = poll(pf, n, (int)left);
        if (r == -1) {
            if (errno == EINTR) {
                continue;
            }
            return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "poll: %s", strerror(errno));
        }
        if (n == 2 && pf[1].revents != 0) {
            io->cancelled = true;
            return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "cancelled");
        }
        if (r == 0) {
            io->timed_out = true;
            return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "timed out");
        }
        return WD_OK; /* ready, or an error/hang-up the next operation will report */
    }
}

/*
 * After an SSL call returned ret: wait and return WD_EAGAIN to retry, WD_OK with *eof at a
 * clean end of stream, or an error.
 */
static int ssl_result(struct wd_net_io *io, int ret, const char *what, bool *eof,
                      struct wd_diag *diag)
{
    int err = SSL_get_error(io->ssl, ret);
    switch (err) {
    case SSL_ERROR_WANT_READ:
        WD_TRY(io_wait(io, POLLIN, diag));
        return WD_EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        WD_TRY(io_wait(io, POLLOUT, diag));
        return WD_EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        *eof = true;
        return WD_OK;
    case SSL_ERROR_SYSCALL: {
        int e = errno;
        io->ssl_dead = true;
        ERR_clear_error();
        if (e == 0) {
            *eof = true;
            return WD_OK;
        }
        return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "%s: %s", what, strerror(e));
    }
    case SSL_ERROR_SSL:
    default:
        io->ssl_dead = true;
        return wd_net_tls_fail(diag, WD_ETLS, what);
    }
}

/*
 * Drive the handshake to completion in either role. A verification failure is reported by
 * the verify callback into the connection's wd_net_tls_peer; here it is an SSL error.
 */
int wd_net_io_handshake(struct wd_net_io *io, struct wd_diag *diag)
{
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int r = SSL_do_handshake(io->ssl);
        if (r == 1) {
            return WD_OK;
        }
        bool eof = false;
        int rc = ssl_result(io, r, "TLS handshake", &eof, diag);
        if (rc == WD_EAGAIN) {
            continue;
        }
        io->ssl_dead = true;
        if (rc == WD_OK) {
            return wd_diag_set(diag, WD_EIO, NULL, 0, 0,
                               "TLS handshake: connection closed by the peer");
        }
        return rc;
    }
}

/* One read: returns as soon as some bytes (or the end of the stream) are there. */
int wd_net_io_read(struct wd_net_io *io, void *p, size_t cap, size_t *got, struct wd_diag *diag)
{
    *got = 0;
    for (;;) {
        if (io->ssl != NULL) {
            size_t n = 0;
            ERR_clear_error();
            errno = 0;
            int r = SSL_read_ex(io->ssl, p, cap, &n);
            if (r == 1) {
                *got = n;
                return WD_OK;
            }
            bool eof = false;
            int rc = ssl_result(io, r, "TLS read", &eof, diag);
            if (rc == WD_EAGAIN) {
                continue;
            }
            return rc; /* WD_OK at end of stream: *got is 0 */
        }
        ssize_t r = recv(io->fd, p, cap, 0);
        if (r >= 0) {
            *got = (size_t)r;
            return WD_OK;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "read: %s", strerror(errno));
        }
        WD_TRY(io_wait(io, POLLIN, diag));
    }
}

/* Loops until everything is written: SSL_write_ex is retried with the same arguments. */
int wd_net_io_write(struct wd_net_io *io, const void *p, size_t n, struct wd_diag *diag)
{
    const uint8_t *b = p;
    while (n > 0) {
        if (io->ssl != NULL) {
            size_t w = 0;
            ERR_clear_error();
            errno = 0;
            int r = SSL_write_ex(io->ssl, b, n, &w);
            if (r == 1) {
                b += w;
                n -= w;
                continue;
            }
            bool eof = false;
            int rc = ssl_result(io, r, "TLS write", &eof, diag);
            if (rc == WD_EAGAIN) {
                continue;
            }
            io->ssl_dead = true;
            return rc < 0 ? rc : wd_diag_set(diag, WD_EIO, NULL, 0, 0, "connection closed");
        }
        ssize_t w = send(io->fd, b, n, MSG_NOSIGNAL);
        if (w >= 0) {
            b += w;
            n -= (size_t)w;
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "write: %s", strerror(errno));
        }
        WD_TRY(io_wait(io, POLLOUT, diag));
    }
    return WD_OK;
}

bool wd_net_io_readable(struct wd_net_io *io)
{
    if (io->fd < 0) {
        return false;
    }
    if (io->ssl != NULL && SSL_has_pending(io->ssl)) {
        return true;
    }
    struct pollfd pf = {.fd = io->fd, .events = POLLIN};
    if (poll(&pf, 1, 0) != 1 || pf.revents == 0) {
        return false;
    }
    if (io->ssl == NULL) {
        return true;
    }
    /* TLS: the bytes may be a post-handshake message (a session ticket from a server that
       sends them). Let OpenSSL consume them without blocking; only application data, an
       alert or the end of the stream count. */
    uint8_t b;
    size_t n = 0;
    ERR_clear_error();
    if (SSL_peek_ex(io->ssl, &b, 1, &n) == 1) {
        return true;
    }
    int err = SSL_get_error(io->ssl, 0);
    ERR_clear_error();
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        return false;
    }
    io->ssl_dead = err != SSL_ERROR_ZERO_RETURN;
    return true;
}

/* Idempotent: a closed io has fd -1. */
void wd_net_io_close(struct wd_net_io *io, int linger_ms)
{
    if (io->fd < 0) {
        return;
    }
    if (io->ssl != NULL) {
        if (!io->ssl_dead && SSL_is_init_finished(io->ssl)) {
            ERR_clear_error();
            (void)SSL_shutdown(io->ssl); /* one non-blocking close_notify, best effort */
        }
        SSL_free(io->ssl);
        io->ssl = NULL;
        ERR_clear_error();
    }
    if (linger_ms > 0 && shutdown(io->fd, SHUT_WR) == 0) {
        /* Lingering close (as Apache and nginx do): closing with unread bytes makes the
           kernel send a reset, which can destroy the response or alert still in flight. */
        int64_t until = wd_net_mono_ms() + linger_ms;
        size_t total = 0;
        uint8_t sink[4096];
        while (total < (size_t)256 * 1024) {
            int64_t left = until - wd_net_mono_ms();
            struct pollfd pf[2] = {{.fd = io->fd, .events = POLLIN},
                                   {.fd = io->cancel_fd, .events = POLLIN}};
            nfds_t n = io->cancel_fd >= 0 ? 2 : 1;
            if (left <= 0 || poll(pf, n, (int)left) < 1 || (n == 2 && pf[1].revents != 0)) {
                break;
            }
            ssize_t r = recv(io->fd, sink, sizeof(sink), 0);
            if (r <= 0) {
                break;
            }
            total += (size_t)r;
        }
    }
    (void)close(io->fd);
    io->fd = -1;
}
