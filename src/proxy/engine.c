/*
 * warden-proxy's engine: one epoll loop per worker thread, each with its own SO_REUSEPORT
 * listening sockets, a binary heap of timers, the upstream keep-alive pool, non-blocking
 * plaintext/TLS I/O, the admin listener (worker 0) and the drain on SIGTERM.
 *
 * Every socket is registered once, edge-triggered, for input and output; any event on
 * either socket of a connection runs the connection's pump, which retries every pending
 * operation until none makes progress. So TLS's WANT_READ/WANT_WRITE need no epoll_ctl
 * changes, and backpressure is simply "do not read while the buffer is full".
 */
#define _GNU_SOURCE /* NOLINT(bugprone-reserved-identifier): accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/log.h"
#include "warden/rand.h"

#include "proxy.h"

#define MAX_EVENTS    256
#define POOL_MAX      64
#define ADMIN_MAX_REQ 2048
#define ADMIN_TIMEOUT 5000
#define THREAD_STACK  (4u << 20)

struct prx_engine prx_eng;

int64_t prx_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- timers: a binary min-heap on at ---- */

static void heap_swap(struct prx_worker *w, size_t a, size_t b)
{
    struct prx_timer *t = w->heap[a];
    w->heap[a] = w->heap[b];
    w->heap[b] = t;
    w->heap[a]->idx = a;
    w->heap[b]->idx = b;
}

static void heap_up(struct prx_worker *w, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (w->heap[p]->at <= w->heap[i]->at) {
            break;
        }
        heap_swap(w, p, i);
        i = p;
    }
}

static void heap_down(struct prx_worker *w, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < w->nheap && w->heap[l]->at < w->heap[m]->at) {
            m = l;
        }
        if (r < w->nheap && w->heap[r]->at < w->heap[m]->at) {
            m = r;
        }
        if (m == i) {
            return;
        }
        heap_swap(w, i, m);
        i = m;
    }
}

void prx_timer_del(struct prx_worker *w, struct prx_timer *t)
{
    if (t->at == 0) {
        return;
    }
    size_t i = t->idx;
    WD_BUG_ON(i >= w->nheap || w->heap[i] != t);
    w->nheap--;
    if (i != w->nheap) {
        w->heap[i] = w->heap[w->nheap];
        w->heap[i]->idx = i;
        heap_down(w, i);
        heap_up(w, i);
    }
    t->at = 0;
}

void prx_timer_set(struct prx_worker *w, struct prx_timer *t, int64_t at)
{
    if (at <= 0) {
        at = 1;
    }
    if (t->at != 0) {
        int64_t old = t->at;
        t->at = at;
        if (at < old) {
            heap_up(w, t->idx);
        } else {
            heap_down(w, t->idx);
        }
        return;
    }
    if (w->nheap == w->capheap) {
        size_t ncap = w->capheap == 0 ? 256 : w->capheap * 2;
        struct prx_timer **h = wd_reallocarray(w->heap, ncap, sizeof(struct prx_timer *));
        if (h == NULL) {
            /* Without a timer slot the object would never expire: treat as now. */
            wd_log(WD_LOG_ERR, "timer heap: out of memory");
            return;
        }
        w->heap = h;
        w->capheap = ncap;
    }
    t->at = at;
    t->idx = w->nheap;
    w->heap[w->nheap++] = t;
    heap_up(w, t->idx);
}

/* ---- I/O ---- */

static ssize_t ssl_result(struct prx_io *io, int r, const char *what)
{
    int e = SSL_get_error(io->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return PRX_IO_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        io->eof = true;
        return 0;
    case SSL_ERROR_SYSCALL:
        /* EOF without close_notify, or a socket error: no more TLS on this one. */
        io->fatal = true;
        io->eof = true;
        ERR_clear_error();
        return errno == 0 || errno == ECONNRESET ? 0 : PRX_IO_ERR;
    default:
        io->fatal = true;
        /* Handshake failures matter to operators; a peer dropping a session does not. */
        prx_ssl_log_errors_at(io->hs_done ? WD_LOG_DEBUG : WD_LOG_INFO, what);
        return PRX_IO_ERR;
    }
}

ssize_t prx_io_read(struct prx_io *io, void *buf, size_t n)
{
    if (io->ssl == NULL) {
        for (;;) {
            ssize_t r = read(io->fd, buf, n);
            if (r > 0) {
                return r;
            }
            if (r == 0) {
                io->eof = true;
                return 0;
            }
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return PRX_IO_AGAIN;
            }
            io->eof = true;
            return errno == ECONNRESET ? 0 : PRX_IO_ERR;
        }
    }
    ERR_clear_error();
    errno = 0;
    int r = SSL_read(io->ssl, buf, (int)WD_MIN(n, (size_t)INT32_MAX));
    if (r > 0) {
        return r;
    }
    return ssl_result(io, r, "tls read");
}

ssize_t prx_io_write(struct prx_io *io, const void *buf, size_t n)
{
    if (io->ssl == NULL) {
        for (;;) {
            ssize_t r = send(io->fd, buf, n, MSG_NOSIGNAL);
            if (r >= 0) {
                return r;
            }
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return PRX_IO_AGAIN;
            }
            return PRX_IO_ERR;
        }
    }
    ERR_clear_error();
    errno = 0;
    int r = SSL_write(io->ssl, buf, (int)WD_MIN(n, (size_t)INT32_MAX));
    if (r > 0) {
        return r;
    }
    ssize_t rc = ssl_result(io, r, "tls write");
    return rc == 0 ? PRX_IO_ERR : rc;
}

int prx_io_handshake(struct prx_io *io, bool server)
{
    if (io->hs_done) {
        return 1;
    }
    ERR_clear_error();
    errno = 0;
    int r = server ? SSL_accept(io->ssl) : SSL_connect(io->ssl);
    if (r == 1) {
        io->hs_done = true;
        return 1;
    }
    ssize_t rc = ssl_result(io, r, server ? "tls accept" : "tls connect");
    return rc == PRX_IO_AGAIN ? 0 : -1;
}

void prx_io_shutdown(struct prx_io *io)
{
    if (io->fd < 0 || io->shut_wr) {
        return;
    }
    io->shut_wr = true;
    if (io->ssl != NULL) {
        if (io->hs_done && !io->fatal) {
            ERR_clear_error();
            (void)SSL_shutdown(io->ssl);
            ERR_clear_error();
        }
        return;
    }
    (void)shutdown(io->fd, SHUT_WR);
}

void prx_io_close(struct prx_io *io)
{
    if (io->ssl != NULL) {
        if (io->hs_done && !io->fatal && !io->shut_wr) {
            ERR_clear_error();
            (void)SSL_shutdown(io->ssl);
            ERR_clear_error();
        }
        SSL_free(io->ssl);
        io->ssl = NULL;
    }
    if (io->fd >= 0) {
        (void)close(io->fd);
        io->fd = -1;
    }
}

ssize_t prx_io_fill(struct prx_worker *w, struct prx_io *io, struct wd_buf *b)
{
    ssize_t total = 0;
    while (b->len < b->max && !io->eof) {
        size_t room = WD_MIN(b->max - b->len, sizeof(w->iobuf));
        ssize_t r = prx_io_read(io, w->iobuf, room);
        if (r == PRX_IO_AGAIN) {
            break;
        }
        if (r == PRX_IO_ERR) {
            return PRX_IO_ERR;
        }
        if (r == 0) {
            break;
        }
        if (wd_buf_append(b, w->iobuf, (size_t)r) < 0) {
            return PRX_IO_ERR;
        }
        total += r;
    }
    return total;
}

ssize_t prx_io_flush(struct prx_io *io, struct wd_buf *b)
{
    ssize_t total = 0;
    while (b->len > 0) {
        ssize_t r = prx_io_write(io, b->p, b->len);
        if (r == PRX_IO_AGAIN) {
            break;
        }
        if (r < 0) {
            return PRX_IO_ERR;
        }
        wd_buf_consume(b, (size_t)r);
        total += r;
    }
    if (b->len == 0 && b->p != NULL) {
        /* An idle connection keeps no buffer. */
        size_t max = b->max;
        wd_buf_cleanup(b);
        wd_buf_init(b, max);
    }
    return total;
}

static int ep_add(struct prx_worker *w, int fd, struct prx_evref *ev, uint32_t events)
{
    struct epoll_event e = {.events = events, .data.ptr = ev};
    return epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &e) == -1 ? WD_EIO : WD_OK;
}

/* ---- request ids, sampling ---- */

void prx_request_id(struct prx_worker *w, char *out, size_t n)
{
    (void)snprintf(out, n, "%s-%x-%llx", prx_eng.rid_prefix, w->idx,
                   (unsigned long long)++w->rid_counter);
}

int prx_detect(struct prx_worker *w, struct prx_gen *g, const void *body, size_t len, bool is_json,
               struct wd_detect_result *res)
{
    memset(res, 0, sizeof(*res));
    if (g->detect == NULL) {
        return WD_OK;
    }
    if (w->dgen == NULL || w->dgen->detect != g->detect) {
        /* The scratch belongs to one set: remake it for this generation's. */
        wd_detect_scratch_free(w->dscratch);
        w->dscratch = NULL;
        prx_gen_put(w->dgen);
        w->dgen = NULL;
        WD_TRY(wd_detect_scratch_new(g->detect, &w->dscratch));
        prx_gen_get(g);
        w->dgen = g;
    }
    size_t max = wd_detect_max_scan(g->detect);
    struct wd_detect_input in = {
            .body = len > 0 ? body : "",
            .len = WD_MIN(len, max),
            .total = len,
            .is_json = is_json,
    };
    WD_TRY(wd_detect_scan(g->detect, w->dscratch, &in, res));
    for (size_t i = 0; i < wd_detect_count(g->detect); i++) {
        if (wd_detect_bit(res->limit, i)) {
            wd_log(WD_LOG_NOTICE, "detector %s hit a PCRE2 limit: counted as a match",
                   wd_detect_name(g->detect, i));
        }
    }
    return WD_OK;
}

bool prx_sample(struct prx_worker *w, const struct prx_gen *g)
{
    if (g->sample_allow >= 1.0) {
        return true;
    }
    if (g->sample_allow <= 0.0) {
        return false;
    }
    /* xorshift64: statistical sampling, not security */
    uint64_t x = w->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    w->rng = x;
    return (double)(x >> 11) / 9007199254740992.0 < g->sample_allow;
}

/* ---- upstreams ---- */

static void up_free(struct prx_worker *w, struct prx_up *up)
{
    prx_timer_del(w, &up->tm);
    prx_io_close(&up->io);
    prx_peerinfo_cleanup(&up->peer);
    prx_gen_put(up->gen);
    up->gen = NULL;
    up->c = NULL;
    up->dead = true;
    up->next = w->dead_ups;
    w->dead_ups = up;
}

int prx_up_connect(struct prx_conn *c, struct prx_up **out)
{
    struct prx_worker *w = c->w;
    struct prx_up *up = wd_calloc(1, sizeof(*up));
    int rc = WD_OK;
    *out = NULL;
    if (up == NULL) {
        return WD_ENOMEM;
    }
    up->io.fd = -1;
    up->ev.kind = PRX_EV_UP;
    up->ev.obj = up;
    up->tm.kind = PRX_EV_UP;
    up->tm.obj = up;
    up->li = c->li;
    up->c = c;
    up->gen = c->gen;
    prx_gen_get(up->gen);
    up->io.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (up->io.fd == -1) {
        rc = WD_EIO;
        goto out;
    }
    int one = 1;
    (void)setsockopt(up->io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(up->io.fd, (const struct sockaddr *)&c->l->upstream.sin, sizeof(c->l->upstream.sin))
                == -1
        && errno != EINPROGRESS) {
        wd_log(WD_LOG_WARN, "%s: connect %s: %s", c->l->name, c->l->upstream.text, strerror(errno));
        rc = WD_EIO;
        goto out;
    }
    up->connecting = true;
    up->io.hs_done = true;
    if (c->l->mode == PRX_OUTBOUND) {
        ERR_clear_error();
        up->io.ssl = SSL_new(c->gen->cli);
        if (up->io.ssl == NULL || SSL_set_fd(up->io.ssl, up->io.fd) != 1) {
            prx_ssl_log_errors("tls client");
            rc = WD_ETLS;
            goto out;
        }
        SSL_set_app_data(up->io.ssl, &up->peer);
        up->io.hs_done = false;
    }
    if (ep_add(w, up->io.fd, &up->ev, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
        rc = WD_EIO;
        goto out;
    }
    *out = up;
    up = NULL;
out:
    if (up != NULL) {
        up_free(w, up);
    }
    return rc;
}

int prx_up_ready(struct prx_conn *c, struct prx_up *up)
{
    if (up->connecting) {
        /* A second connect() reports the outcome of the first without an event. */
        if (connect(up->io.fd, (const struct sockaddr *)&c->l->upstream.sin,
                    sizeof(c->l->upstream.sin))
                    == -1
            && errno != EISCONN) {
            if (errno == EALREADY || errno == EINPROGRESS || errno == EINTR) {
                return 0;
            }
            wd_log(WD_LOG_WARN, "%s: connect %s: %s", c->l->name, c->l->upstream.text,
                   strerror(errno));
            return -1;
        }
        up->connecting = false;
    }
    if (!up->io.hs_done) {
        int r = prx_io_handshake(&up->io, false);
        if (r <= 0) {
            if (r < 0) {
                atomic_fetch_add_explicit(&prx_m.tls_fail, 1, memory_order_relaxed);
                wd_log(WD_LOG_WARN, "%s: TLS to %s failed", c->l->name, c->l->upstream.text);
            }
            return r;
        }
        atomic_fetch_add_explicit(&prx_m.tls_ok, 1, memory_order_relaxed);
        /* The verify callback checked the SVID; now it must be the expected peer. */
        const struct wd_spiffe_id *want = &c->l->expect_peer;
        if (up->peer.id == NULL || up->peer.id_len != want->len
            || memcmp(up->peer.id, want->str, want->len) != 0) {
            char esc[256];
            wd_log(WD_LOG_WARN, "%s: upstream %s is %s, expected %s", c->l->name,
                   c->l->upstream.text,
                   up->peer.id == NULL
                           ? "(unverified)"
                           : wd_log_escape(esc, sizeof(esc), up->peer.id, up->peer.id_len),
                   want->str);
            return -1;
        }
    }
    return 1;
}

struct prx_up *prx_pool_take(struct prx_conn *c)
{
    struct prx_worker *w = c->w;
    struct prx_up *up = w->pool[c->li];
    if (up == NULL) {
        return NULL;
    }
    w->pool[c->li] = up->next;
    w->npool[c->li]--;
    up->next = NULL;
    prx_timer_del(w, &up->tm);
    up->c = c;
    up->reused = true;
    return up;
}

static void pool_remove(struct prx_worker *w, struct prx_up *up)
{
    struct prx_up **pp = &w->pool[up->li];
    while (*pp != NULL && *pp != up) {
        pp = &(*pp)->next;
    }
    if (*pp == up) {
        *pp = up->next;
        w->npool[up->li]--;
    }
    up_free(w, up);
}

void prx_up_release(struct prx_conn *c, bool keep)
{
    struct prx_worker *w = c->w;
    struct prx_up *up = c->up;
    if (up == NULL) {
        return;
    }
    c->up = NULL;
    wd_buf_cleanup(&c->uin);
    wd_buf_init(&c->uin, c->uin.max);
    wd_buf_cleanup(&c->uout);
    wd_buf_init(&c->uout, c->uout.max);
    if (!keep || w->draining || up->io.eof || up->io.fatal || w->npool[up->li] >= POOL_MAX) {
        up_free(w, up);
        return;
    }
    up->c = NULL;
    up->next = w->pool[up->li];
    w->pool[up->li] = up;
    w->npool[up->li]++;
    int64_t idle = prx_eng.cfg->limits.idle_ms;
    prx_timer_set(w, &up->tm, prx_now() + idle);
}

/* A pooled upstream got an event: it closed or sent something unasked; drop it. */
static void pool_event(struct prx_worker *w, struct prx_up *up)
{
    uint8_t b[64];
    ssize_t r = prx_io_read(&up->io, b, sizeof(b));
    if (r == PRX_IO_AGAIN) {
        return;
    }
    pool_remove(w, up);
}

/* ---- connections ---- */

static void pump(struct prx_conn *c);

void prx_conn_close(struct prx_conn *c)
{
    struct prx_worker *w = c->w;
    if (c->l->proto == PRX_TCP) {
        prx_tcp_close(c);
    } else if (c->l->proto == PRX_MQTT) {
        prx_mqtt_close(c);
    } else {
        prx_http_free(c);
    }
    if (c->up != NULL) {
        struct prx_up *up = c->up;
        c->up = NULL;
        up_free(w, up);
    }
    prx_timer_del(w, &c->tm);
    prx_io_close(&c->d);
    prx_peerinfo_cleanup(&c->peer);
    wd_buf_cleanup(&c->din);
    wd_buf_cleanup(&c->dout);
    wd_buf_cleanup(&c->uin);
    wd_buf_cleanup(&c->uout);
    wd_free(c->tcp_rid);
    wd_free(c->tcp_policies);
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        w->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    w->nconns--;
    atomic_fetch_sub_explicit(&prx_m.conns_active, 1, memory_order_relaxed);
    prx_gen_put(c->gen);
    c->gen = NULL;
    if (c->queued) {
        struct prx_conn **pp = &w->ready;
        while (*pp != NULL && *pp != c) {
            pp = &(*pp)->rnext;
        }
        if (*pp == c) {
            *pp = c->rnext;
        }
        c->queued = false;
    }
    c->dead = true;
    c->prev = NULL;
    c->next = w->dead_conns;
    w->dead_conns = c;
}

void prx_conn_requeue(struct prx_conn *c)
{
    if (c->queued || c->dead) {
        return;
    }
    c->queued = true;
    c->rnext = c->w->ready;
    c->w->ready = c;
}

/* Free what was closed during the batch that just ended. */
static void bury(struct prx_worker *w)
{
    while (w->dead_conns != NULL) {
        struct prx_conn *c = w->dead_conns;
        w->dead_conns = c->next;
        wd_free(c);
    }
    while (w->dead_ups != NULL) {
        struct prx_up *up = w->dead_ups;
        w->dead_ups = up->next;
        wd_free(up);
    }
}

static void run_ready(struct prx_worker *w)
{
    struct prx_conn *list = w->ready;
    w->ready = NULL;
    while (list != NULL) {
        struct prx_conn *c = list;
        list = c->rnext;
        c->queued = false;
        if (!c->dead) {
            pump(c);
        }
    }
}

bool prx_conn_after_handshake(struct prx_conn *c)
{
    if (c->peer.id == NULL) {
        wd_log(WD_LOG_NOTICE, "%s: %s: TLS peer without a verified SVID", c->l->name, c->ip);
        return false;
    }
    return true;
}

static void pump(struct prx_conn *c)
{
    if (c->l->proto == PRX_TCP) {
        prx_tcp_pump(c);
    } else if (c->l->proto == PRX_MQTT) {
        prx_mqtt_pump(c);
    } else {
        prx_http_pump(c);
    }
}

static void accept_conns(struct prx_worker *w, unsigned li)
{
    const struct prx_listener_conf *l = &prx_eng.cfg->listeners[li];
    const struct prx_limits *lim = &prx_eng.cfg->limits;
    while (w->lfd[li] >= 0) {
        struct sockaddr_in sa;
        socklen_t sl = sizeof(sa);
        int fd = accept4(w->lfd[li], (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                wd_log(WD_LOG_WARN, "%s: accept: %s", l->name, strerror(errno));
            }
            return;
        }
        if (w->nconns >= lim->max_connections || w->draining) {
            atomic_fetch_add_explicit(&prx_m.conns_refused, 1, memory_order_relaxed);
            (void)close(fd);
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct prx_conn *c = wd_calloc(1, sizeof(*c));
        if (c == NULL) {
            (void)close(fd);
            continue;
        }
        c->ev.kind = PRX_EV_DOWN;
        c->ev.obj = c;
        c->tm.kind = PRX_EV_DOWN;
        c->tm.obj = c;
        c->w = w;
        c->l = l;
        c->li = li;
        c->gen = w->gen;
        prx_gen_get(c->gen);
        c->d.fd = fd;
        c->d.hs_done = true;
        c->t_state = prx_now();
        wd_buf_init(&c->din, lim->max_header_bytes + 16384);
        wd_buf_init(&c->dout, lim->max_body + lim->max_header_bytes + 4096);
        wd_buf_init(&c->uin, lim->max_header_bytes + 16384);
        wd_buf_init(&c->uout, lim->max_body + lim->max_header_bytes + 4096);
        if (l->proto == PRX_TCP) {
            c->din.max = 16384;
            c->uin.max = 16384;
        }
        (void)inet_ntop(AF_INET, &sa.sin_addr, c->ip, sizeof(c->ip));
        c->next = w->conns;
        if (w->conns != NULL) {
            w->conns->prev = c;
        }
        w->conns = c;
        w->nconns++;
        atomic_fetch_add_explicit(&prx_m.conns_accepted, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&prx_m.conns_active, 1, memory_order_relaxed);
        c->state = l->proto == PRX_TCP    ? PRX_C_TCP_CONNECT
                   : l->proto == PRX_MQTT ? PRX_C_MQTT
                                          : PRX_C_IDLE;
        if (l->mode == PRX_INBOUND) {
            ERR_clear_error();
            c->d.ssl = SSL_new(c->gen->srv);
            if (c->d.ssl == NULL || SSL_set_fd(c->d.ssl, fd) != 1) {
                prx_ssl_log_errors("tls server");
                prx_conn_close(c);
                continue;
            }
            SSL_set_app_data(c->d.ssl, &c->peer);
            c->d.hs_done = false;
            c->state = PRX_C_HANDSHAKE;
            prx_timer_set(w, &c->tm, c->t_state + lim->handshake_ms);
        }
        if (ep_add(w, fd, &c->ev, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
            prx_conn_close(c);
            continue;
        }
        pump(c);
    }
}

static void conn_timeout(struct prx_conn *c)
{
    if (c->state == PRX_C_HANDSHAKE) {
        atomic_fetch_add_explicit(&prx_m.err_timeout, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&prx_m.tls_fail, 1, memory_order_relaxed);
        wd_log(WD_LOG_INFO, "%s: %s: TLS handshake timeout", c->l->name, c->ip);
        prx_conn_close(c);
        return;
    }
    if (c->l->proto == PRX_TCP) {
        prx_tcp_timeout(c);
    } else if (c->l->proto == PRX_MQTT) {
        prx_mqtt_timeout(c);
    } else {
        prx_http_timeout(c);
    }
}

/* ---- admin listener (worker 0): GET /metrics, GET /healthz ---- */

struct prx_admin {
    struct prx_evref ev;
    struct prx_timer tm;
    int fd;
    char req[ADMIN_MAX_REQ];
    size_t n;
    struct wd_buf out;
    bool answered;
};

static void admin_close(struct prx_worker *w, struct prx_admin *a)
{
    prx_timer_del(w, &a->tm);
    (void)close(a->fd);
    wd_buf_cleanup(&a->out);
    wd_free(a);
}

static void admin_answer(struct prx_worker *w, struct prx_admin *a)
{
    struct wd_buf body;
    wd_buf_init(&body, 1 << 20);
    unsigned status = 200;
    const char *ctype = "text/plain; version=0.0.4";
    int rc = WD_OK;
    if (strncmp(a->req, "GET /metrics ", 13) == 0 || strncmp(a->req, "GET /metrics?", 13) == 0) {
        rc = prx_metrics_render(&body);
    } else if (strncmp(a->req, "GET /healthz ", 13) == 0) {
        if (w->draining) {
            status = 503;
            rc = wd_buf_append_str(&body, "draining\n");
        } else {
            rc = wd_buf_append_str(&body, "ok\n");
        }
        ctype = "text/plain";
    } else {
        status = 404;
        ctype = "text/plain";
        rc = wd_buf_append_str(&body, "not found\n");
    }
    if (rc < 0) {
        status = 500;
        wd_buf_reset(&body);
    }
    if (wd_buf_printf(&a->out,
                      "HTTP/1.1 %u %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      status, status == 200 ? "OK" : "Error", ctype, body.len)
                < 0
        || wd_buf_append(&a->out, body.p, body.len) < 0) {
        wd_buf_reset(&a->out);
    }
    wd_buf_cleanup(&body);
    a->answered = true;
}

static void admin_event(struct prx_worker *w, struct prx_admin *a)
{
    if (!a->answered) {
        for (;;) {
            ssize_t r = read(a->fd, a->req + a->n, sizeof(a->req) - 1 - a->n);
            if (r > 0) {
                a->n += (size_t)r;
                a->req[a->n] = '\0';
                if (strstr(a->req, "\r\n\r\n") != NULL) {
                    admin_answer(w, a);
                    break;
                }
                if (a->n == sizeof(a->req) - 1) {
                    admin_close(w, a);
                    return;
                }
                continue;
            }
            if (r == -1 && (errno == EAGAIN || errno == EINTR)) {
                return;
            }
            admin_close(w, a);
            return;
        }
    }
    while (a->out.len > 0) {
        ssize_t r = send(a->fd, a->out.p, a->out.len, MSG_NOSIGNAL);
        if (r > 0) {
            wd_buf_consume(&a->out, (size_t)r);
            continue;
        }
        if (r == -1 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        break;
    }
    admin_close(w, a);
}

static void admin_accept(struct prx_worker *w)
{
    for (;;) {
        int fd = accept4(w->admin_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            return;
        }
        struct prx_admin *a = wd_calloc(1, sizeof(*a));
        if (a == NULL) {
            (void)close(fd);
            continue;
        }
        a->fd = fd;
        a->ev.kind = PRX_EV_ADMIN;
        a->ev.obj = a;
        a->tm.kind = PRX_EV_ADMIN;
        a->tm.obj = a;
        wd_buf_init(&a->out, 2u << 20);
        if (ep_add(w, fd, &a->ev, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
            admin_close(w, a);
            continue;
        }
        prx_timer_set(w, &a->tm, prx_now() + ADMIN_TIMEOUT);
        admin_event(w, a);
    }
}

/* ---- the worker loop ---- */

static void start_drain(struct prx_worker *w)
{
    const struct prx_config *cfg = prx_eng.cfg;
    w->draining = true;
    w->drain_deadline = prx_now() + cfg->limits.drain_ms;
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        if (w->lfd[i] >= 0) {
            (void)close(w->lfd[i]);
            w->lfd[i] = -1;
        }
    }
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        while (w->pool[i] != NULL) {
            pool_remove(w, w->pool[i]);
        }
    }
    struct prx_conn *c = w->conns;
    while (c != NULL) {
        struct prx_conn *next = c->next;
        c->draining = true;
        if (c->l->proto == PRX_HTTP && (c->state == PRX_C_HANDSHAKE || prx_http_idle(c))) {
            prx_conn_close(c);
        }
        c = next;
    }
}

static void refresh_gen(struct prx_worker *w)
{
    unsigned long seq = prx_gen_seq();
    if (seq != w->gen_seq) {
        struct prx_gen *g = prx_gen_current();
        if (g != NULL) {
            prx_gen_put(w->gen);
            w->gen = g;
            w->gen_seq = seq;
        }
    }
}

static void run_timers(struct prx_worker *w)
{
    int64_t now = prx_now();
    while (w->nheap > 0 && w->heap[0]->at <= now) {
        struct prx_timer *t = w->heap[0];
        prx_timer_del(w, t);
        switch (t->kind) {
        case PRX_EV_DOWN:
            conn_timeout(t->obj);
            break;
        case PRX_EV_UP:
            pool_remove(w, t->obj);
            break;
        case PRX_EV_ADMIN:
            admin_close(w, t->obj);
            break;
        default:
            WD_BUG_ON(1);
        }
    }
}

static void *worker_main(void *arg)
{
    struct prx_worker *w = arg;
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        refresh_gen(w);
        if (!w->draining && atomic_load(&prx_eng.stop)) {
            start_drain(w);
        }
        if (w->draining && (w->nconns == 0 || prx_now() >= w->drain_deadline)) {
            break;
        }
        int timeout = -1;
        if (w->ready != NULL) {
            timeout = 0;
        } else if (w->nheap > 0) {
            int64_t d = w->heap[0]->at - prx_now();
            timeout = d < 0 ? 0 : (int)WD_MIN(d, 60000);
        }
        if (w->draining) {
            int64_t d = w->drain_deadline - prx_now();
            d = d < 0 ? 0 : d;
            timeout = timeout < 0 ? (int)d : (int)WD_MIN((int64_t)timeout, d);
        }
        int n = epoll_wait(w->ep, evs, MAX_EVENTS, timeout);
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            wd_log(WD_LOG_ERR, "worker %u: epoll_wait: %s", w->idx, strerror(errno));
            break;
        }
        /* A reload may have happened while we waited: what we accept and decide now must
         * use the newest generation. */
        refresh_gen(w);
        for (int i = 0; i < n; i++) {
            struct prx_evref *ev = evs[i].data.ptr;
            switch (ev->kind) {
            case PRX_EV_LISTEN:
                accept_conns(w, ev->li);
                break;
            case PRX_EV_DOWN: {
                struct prx_conn *c = ev->obj;
                if (!c->dead) {
                    pump(c);
                }
                break;
            }
            case PRX_EV_UP: {
                struct prx_up *up = ev->obj;
                if (up->dead) {
                    break;
                }
                if (up->c != NULL) {
                    pump(up->c);
                } else {
                    pool_event(w, up);
                }
                break;
            }
            case PRX_EV_WAKE: {
                uint64_t v;
                if (read(w->wake_fd, &v, sizeof(v)) == -1) {
                    /* nothing to clear: another wake-up raced us */
                }
                break;
            }
            case PRX_EV_ADMIN_LISTEN:
                admin_accept(w);
                break;
            case PRX_EV_ADMIN:
                admin_event(w, ev->obj);
                break;
            }
        }
        run_timers(w);
        run_ready(w);
        bury(w);
    }
    /* Drain time is over (or nothing is left): close what remains. */
    while (w->conns != NULL) {
        prx_conn_close(w->conns);
    }
    for (size_t i = 0; i < prx_eng.cfg->n_listeners; i++) {
        while (w->pool[i] != NULL) {
            pool_remove(w, w->pool[i]);
        }
    }
    while (w->nheap > 0) {
        struct prx_timer *t = w->heap[0];
        if (t->kind == PRX_EV_ADMIN) {
            admin_close(w, t->obj);
        } else {
            prx_timer_del(w, t);
        }
    }
    bury(w);
    return NULL;
}

/* ---- setup ---- */

static int listen_socket(const struct prx_addr *a, bool reuseport, int *out, struct wd_diag *diag)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd == -1) {
        return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "socket: %s", strerror(errno));
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1) {
        int e = errno;
        (void)close(fd);
        return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "SO_REUSEPORT: %s", strerror(e));
    }
    if (bind(fd, (const struct sockaddr *)&a->sin, sizeof(a->sin)) == -1
        || listen(fd, 1024) == -1) {
        int e = errno;
        (void)close(fd);
        return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "listen on %s: %s", a->text, strerror(e));
    }
    *out = fd;
    return WD_OK;
}

int prx_engine_init(const struct prx_config *cfg, unsigned nworkers, struct wd_diag *diag)
{
    uint8_t rnd[12];
    int rc;
    prx_eng.cfg = cfg;
    prx_eng.nw = 0;
    atomic_init(&prx_eng.stop, 0);
    WD_TRY(wd_rand_bytes(rnd, sizeof(rnd)));
    (void)snprintf(prx_eng.rid_prefix, sizeof(prx_eng.rid_prefix), "%02x%02x%02x%02x", rnd[0],
                   rnd[1], rnd[2], rnd[3]);
    prx_eng.w = wd_calloc(nworkers, sizeof(*prx_eng.w));
    if (prx_eng.w == NULL) {
        return WD_ENOMEM;
    }
    for (unsigned i = 0; i < nworkers; i++) {
        struct prx_worker *w = &prx_eng.w[i];
        w->idx = i;
        w->ep = -1;
        w->wake_fd = -1;
        w->admin_fd = -1;
        prx_eng.nw = i + 1;
        memcpy(&w->rng, rnd + 4, sizeof(w->rng));
        w->rng ^= (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull;
        if (w->rng == 0) {
            w->rng = 1;
        }
        w->lfd = wd_calloc(cfg->n_listeners, sizeof(int));
        w->lev = wd_calloc(cfg->n_listeners, sizeof(*w->lev));
        w->pool = wd_calloc(cfg->n_listeners, sizeof(struct prx_up *));
        w->npool = wd_calloc(cfg->n_listeners, sizeof(*w->npool));
        if (w->lfd == NULL || w->lev == NULL || w->pool == NULL || w->npool == NULL) {
            return WD_ENOMEM;
        }
        for (size_t k = 0; k < cfg->n_listeners; k++) {
            w->lfd[k] = -1;
        }
        WD_TRY(wd_cedar_request_new(&w->creq));
        WD_TRY(wd_cedar_scratch_new(&w->scratch));
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w->ep == -1 || w->wake_fd == -1) {
            return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "epoll/eventfd: %s", strerror(errno));
        }
        w->wake_ev.kind = PRX_EV_WAKE;
        if (ep_add(w, w->wake_fd, &w->wake_ev, EPOLLIN) < 0) {
            return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "epoll_ctl: %s", strerror(errno));
        }
        for (size_t k = 0; k < cfg->n_listeners; k++) {
            rc = listen_socket(&cfg->listeners[k].listen, true, &w->lfd[k], diag);
            if (rc < 0) {
                return rc;
            }
            w->lev[k].kind = PRX_EV_LISTEN;
            w->lev[k].li = (unsigned)k;
            if (ep_add(w, w->lfd[k], &w->lev[k], EPOLLIN) < 0) {
                return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "epoll_ctl: %s", strerror(errno));
            }
        }
        if (i == 0 && cfg->has_admin) {
            WD_TRY(listen_socket(&cfg->admin, false, &w->admin_fd, diag));
            w->admin_ev.kind = PRX_EV_ADMIN_LISTEN;
            if (ep_add(w, w->admin_fd, &w->admin_ev, EPOLLIN) < 0) {
                return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "epoll_ctl: %s", strerror(errno));
            }
        }
        w->gen = prx_gen_current();
        w->gen_seq = prx_gen_seq();
    }
    return WD_OK;
}

int prx_engine_start(void)
{
    pthread_attr_t attr;
    int rc = WD_OK;
    pthread_attr_init(&attr);
    (void)pthread_attr_setstacksize(&attr, THREAD_STACK);
    for (unsigned i = 0; i < prx_eng.nw; i++) {
        if (pthread_create(&prx_eng.w[i].th, &attr, worker_main, &prx_eng.w[i]) != 0) {
            wd_log(WD_LOG_ERR, "cannot start worker %u", i);
            rc = WD_EIO;
            break;
        }
        prx_eng.started = i + 1;
    }
    pthread_attr_destroy(&attr);
    return rc;
}

void prx_engine_stop(void)
{
    atomic_store(&prx_eng.stop, 1);
    for (unsigned i = 0; i < prx_eng.started; i++) {
        uint64_t one = 1;
        if (write(prx_eng.w[i].wake_fd, &one, sizeof(one)) == -1) {
            wd_log(WD_LOG_ERR, "cannot wake worker %u", i);
        }
    }
}

void prx_engine_join(void)
{
    for (unsigned i = 0; i < prx_eng.started; i++) {
        (void)pthread_join(prx_eng.w[i].th, NULL);
    }
    prx_eng.started = 0;
}

void prx_engine_cleanup(void)
{
    if (prx_eng.w == NULL) {
        return;
    }
    for (unsigned i = 0; i < prx_eng.nw; i++) {
        struct prx_worker *w = &prx_eng.w[i];
        for (size_t k = 0; w->lfd != NULL && k < prx_eng.cfg->n_listeners; k++) {
            if (w->lfd[k] >= 0) {
                (void)close(w->lfd[k]);
            }
        }
        if (w->admin_fd >= 0) {
            (void)close(w->admin_fd);
        }
        if (w->ep >= 0) {
            (void)close(w->ep);
        }
        if (w->wake_fd >= 0) {
            (void)close(w->wake_fd);
        }
        wd_free(w->lfd);
        wd_free(w->lev);
        wd_free(w->pool);
        wd_free(w->npool);
        wd_free(w->heap);
        wd_cedar_request_free(w->creq);
        wd_cedar_scratch_free(w->scratch);
        wd_detect_scratch_free(w->dscratch);
        prx_gen_put(w->dgen);
        prx_gen_put(w->gen);
    }
    WD_FREE(prx_eng.w);
}
