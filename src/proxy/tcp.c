/*
 * warden-proxy TCP: a decision at connect (Action::"tcp:connect"), then bytes spliced both
 * ways with half-close passed on; the audit line of an allowed connection is written at
 * close with the byte counts (a denied one is audited at once).
 */
#include <string.h>
#include <time.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/log.h"

#include "proxy.h"

static void audit_tcp(struct prx_conn *c, bool allow, const struct wd_cedar_response *r,
                      const char *reason, uint64_t us, bool at_close)
{
    const struct prx_gen *g = c->w->gen;
    bool in = c->l->mode == PRX_INBOUND;
    const char *pid = in ? c->peer.id : g->self.str;
    struct prx_audit_rec a = {
            .request_id = c->tcp_rid != NULL ? c->tcp_rid : "-",
            .listener = c->l->name,
            .ptype = pid != NULL ? "Workload" : "Anonymous",
            .pid = pid != NULL ? pid : c->ip,
            .pid_len = pid != NULL ? (in ? c->peer.id_len : g->self.len) : strlen(c->ip),
            .action = "tcp:connect",
            .resource = in ? g->self.str : c->l->expect_peer.str,
            .allow = allow,
            .resp = r,
            .reason = reason,
            .eval_us = us,
            .has_bytes = at_close,
            .bytes_in = c->bytes_in,
            .bytes_out = c->bytes_out,
            .policies_json = at_close ? c->tcp_policies : NULL,
    };
    prx_audit_write(g, &a);
}

/* Decide the connection; true to go on. */
static bool decide(struct prx_conn *c)
{
    struct prx_worker *w = c->w;
    struct prx_gen *g = w->gen;
    char rid[48];
    prx_request_id(w, rid, sizeof(rid));
    c->tcp_rid = wd_strdup(rid);
    if (!c->l->enforce) {
        return c->tcp_rid != NULL;
    }
    bool in = c->l->mode == PRX_INBOUND;
    struct prx_peer pe = {
            .id = in ? c->peer.id : g->self.str,
            .id_len = in ? c->peer.id_len : g->self.len,
            .claims = in ? c->peer.claims : (g->has_self_claims ? &g->self_claims : NULL),
            .ip = c->ip,
            .port = ntohs(c->l->listen.sin.sin_port),
    };
    const char *res = in ? g->self.str : c->l->expect_peer.str;
    struct wd_cedar_response r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = prx_map_tcp(w->creq, &pe, res, strlen(res));
    if (rc == WD_OK) {
        rc = wd_cedar_authorize(g->pol->az, g->pol->ents, w->creq, w->scratch, &r);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t us = (t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
    prx_hist_observe(&prx_m.decision_us, us < 0 ? 0 : (uint64_t)us);
    bool allow = rc == WD_OK && r.allow;
    c->tcp_eval_us = us < 0 ? 0 : (uint64_t)us;
    atomic_fetch_add_explicit(rc < 0  ? &prx_m.decide_err
                              : allow ? &prx_m.allow
                                      : &prx_m.deny,
                              1, memory_order_relaxed);
    if (!allow) {
        audit_tcp(c, false, rc == WD_OK ? &r : NULL, rc < 0 ? wd_strerror(rc) : NULL, (uint64_t)us,
                  false);
        return false;
    }
    if (prx_sample(w, g)) {
        struct wd_buf pb;
        wd_buf_init(&pb, 1 << 16);
        if (prx_audit_policies(&r, &pb) == WD_OK) {
            c->tcp_policies = wd_buf_steal(&pb, NULL);
        }
        wd_buf_cleanup(&pb);
    }
    return c->tcp_rid != NULL;
}

void prx_tcp_close(struct prx_conn *c)
{
    if (c->state == PRX_C_TCP && c->tcp_policies != NULL) {
        audit_tcp(c, true, NULL, NULL, c->tcp_eval_us, true);
    }
}

void prx_tcp_timeout(struct prx_conn *c)
{
    atomic_fetch_add_explicit(&prx_m.err_timeout, 1, memory_order_relaxed);
    prx_conn_close(c);
}

/* Move bytes from `from` into buf and from buf to `to`; true on progress. -1 on error. */
static int splice_dir(struct prx_worker *w, struct prx_io *from, struct wd_buf *buf,
                      struct prx_io *to, uint64_t *count)
{
    int progress = 0;
    if (!from->eof && buf->len < buf->max) {
        ssize_t r = prx_io_fill(w, from, buf);
        if (r == PRX_IO_ERR) {
            return -1;
        }
        progress = r > 0;
    }
    if (buf->len > 0) {
        size_t before = buf->len;
        ssize_t r = prx_io_flush(to, buf);
        if (r == PRX_IO_ERR) {
            return -1;
        }
        if (r > 0) {
            *count += (uint64_t)(before - buf->len);
            progress = 1;
        }
    }
    if (from->eof && buf->len == 0 && !to->shut_wr) {
        prx_io_shutdown(to); /* pass the half-close on */
        progress = 1;
    }
    return progress;
}

void prx_tcp_pump(struct prx_conn *c)
{
    struct prx_worker *w = c->w;
    const struct prx_limits *lim = &prx_eng.cfg->limits;
    int round;
    for (round = 0; round < 64; round++) {
        bool progress = false;
        if (c->state == PRX_C_HANDSHAKE) {
            int r = prx_io_handshake(&c->d, true);
            if (r < 0) {
                atomic_fetch_add_explicit(&prx_m.tls_fail, 1, memory_order_relaxed);
                wd_log(WD_LOG_INFO, "%s: %s: TLS handshake failed", c->l->name, c->ip);
                prx_conn_close(c);
                return;
            }
            if (r == 0) {
                return;
            }
            atomic_fetch_add_explicit(&prx_m.tls_ok, 1, memory_order_relaxed);
            if (!prx_conn_after_handshake(c)) {
                prx_conn_close(c);
                return;
            }
            c->state = PRX_C_TCP_CONNECT;
        }
        if (c->state == PRX_C_TCP_CONNECT && c->up == NULL) {
            if (!decide(c)) {
                prx_conn_close(c);
                return;
            }
            if (prx_up_connect(c, &c->up) < 0) {
                atomic_fetch_add_explicit(&prx_m.err_upstream, 1, memory_order_relaxed);
                prx_conn_close(c);
                return;
            }
            c->t_state = prx_now();
            prx_timer_set(w, &c->tm, c->t_state + lim->upstream_ms);
        }
        if (c->state == PRX_C_TCP_CONNECT) {
            int r = prx_up_ready(c, c->up);
            if (r < 0) {
                atomic_fetch_add_explicit(&prx_m.err_upstream, 1, memory_order_relaxed);
                prx_conn_close(c);
                return;
            }
            if (r == 0) {
                return;
            }
            c->state = PRX_C_TCP;
            prx_timer_del(w, &c->tm);
        }
        uint64_t in0 = c->bytes_in, out0 = c->bytes_out;
        int a = splice_dir(w, &c->d, &c->din, &c->up->io, &c->bytes_in);
        int b = a < 0 ? -1 : splice_dir(w, &c->up->io, &c->uin, &c->d, &c->bytes_out);
        atomic_fetch_add_explicit(&prx_m.tcp_bytes_in, c->bytes_in - in0, memory_order_relaxed);
        atomic_fetch_add_explicit(&prx_m.tcp_bytes_out, c->bytes_out - out0, memory_order_relaxed);
        if (a < 0 || b < 0 || c->d.fatal || c->up->io.fatal) {
            prx_conn_close(c);
            return;
        }
        if (c->d.eof && c->up->io.eof && c->din.len == 0 && c->uin.len == 0) {
            prx_conn_close(c);
            return;
        }
        progress = progress || a > 0 || b > 0;
        if (!progress) {
            break;
        }
    }
    if (round == 64) {
        prx_conn_requeue(c); /* more to do: after the other connections had their turn */
    }
    if (lim->idle_ms > 0) {
        prx_timer_set(w, &c->tm, prx_now() + lim->idle_ms);
    }
}
