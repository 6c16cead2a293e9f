/*
 * warden-proxy HTTP/1.1: one exchange at a time per client connection (pipelined requests
 * wait in the input buffer and are answered in order). A request is read whole (head and
 * body up to limits.max_body), decided, forwarded with Content-Length framing; the
 * response is read whole, decided with Action::"http:response", and either forwarded or
 * replaced by a small JSON error. docs/proxy.md has the rules.
 */
#include <string.h>
#include <time.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/log.h"

#include "proxy.h"

struct prx_x {
    struct wd_http1_parser rp, sp;
    struct wd_http1_field *rf, *sf;
    struct prx_head rh, sh;
    struct wd_buf fwd;   /* the request as sent upstream (kept for one retry) */
    size_t fwd_off;      /* bytes of fwd written */
    struct wd_buf rbody; /* request body */
    struct wd_buf rfwd;  /* response head lines, without the final CRLF */
    struct wd_buf sbody; /* response body */
    enum wd_http1_method method;
    enum wd_http1_body req_body, resp_body;
    unsigned req_version;
    bool req_keep;
    bool head_done;
    bool resp_started;
    bool interim;
    bool retried;
    int64_t t_head;        /* request head received (monotonic ms) */
    struct timespec t_req; /* request complete, for the latency histogram */
    char rid[48];
    struct prx_gen *gen;         /* the generation the exchange is decided with */
    struct wd_route_match route; /* the request path's route (kept for the response) */
};

static bool is_hop(struct wd_slice name)
{
    /* RFC 9110 §7.6.1 hop-by-hop fields, plus framing the proxy redoes itself. */
    static const char *const hop[] = {
            "connection",
            "keep-alive",
            "proxy-connection",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "expect",
            "proxy-authenticate",
            "proxy-authorization",
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(hop); i++) {
        size_t n = strlen(hop[i]);
        if (name.len == n && strncasecmp((const char *)name.p, hop[i], n) == 0) {
            return true;
        }
    }
    return false;
}

static bool ieq(struct wd_slice a, const char *b)
{
    size_t n = strlen(b);
    return a.len == n && strncasecmp((const char *)a.p, b, n) == 0;
}

/* Is name listed as a connection option in the captured head's Connection field? */
static bool conn_listed(const struct prx_head *h, struct wd_slice name)
{
    struct wd_slice v;
    if (!prx_head_get(h, "connection", &v)) {
        return false;
    }
    size_t i = 0;
    while (i < v.len) {
        while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ',')) {
            i++;
        }
        size_t s = i;
        while (i < v.len && v.p[i] != ',' && v.p[i] != ' ' && v.p[i] != '\t') {
            i++;
        }
        if (i > s && name.len == i - s
            && strncasecmp((const char *)v.p + s, (const char *)name.p, name.len) == 0) {
            return true;
        }
    }
    return false;
}

void prx_http_free(struct prx_conn *c)
{
    struct prx_x *x = c->x;
    if (x == NULL) {
        return;
    }
    wd_free(x->rf);
    wd_free(x->sf);
    prx_head_cleanup(&x->rh);
    prx_head_cleanup(&x->sh);
    wd_buf_cleanup(&x->fwd);
    wd_buf_cleanup(&x->rbody);
    wd_buf_cleanup(&x->rfwd);
    wd_buf_cleanup(&x->sbody);
    prx_gen_put(x->gen);
    wd_free(x);
    c->x = NULL;
}

static void parser_cfg(struct wd_http1_config *hc)
{
    const struct prx_limits *lim = &prx_eng.cfg->limits;
    wd_http1_config_default(hc);
    hc->max_head = lim->max_header_bytes;
    hc->max_line = WD_MIN(hc->max_line, lim->max_header_bytes);
    hc->max_body = lim->max_body;
}

static int x_ensure(struct prx_conn *c)
{
    const struct prx_limits *lim = &prx_eng.cfg->limits;
    if (c->x != NULL) {
        return WD_OK;
    }
    struct prx_x *x = wd_calloc(1, sizeof(*x));
    if (x == NULL) {
        return WD_ENOMEM;
    }
    x->rf = wd_calloc(lim->max_header_count, sizeof(*x->rf));
    x->sf = wd_calloc(lim->max_header_count, sizeof(*x->sf));
    size_t headmax = lim->max_header_bytes + 256;
    prx_head_init(&x->rh, lim->max_header_count, headmax);
    prx_head_init(&x->sh, lim->max_header_count, headmax);
    wd_buf_init(&x->fwd, lim->max_body + headmax + 8192);
    wd_buf_init(&x->rbody, lim->max_body);
    wd_buf_init(&x->rfwd, headmax + 256);
    wd_buf_init(&x->sbody, lim->max_body);
    c->x = x;
    if (x->rf == NULL || x->sf == NULL) {
        prx_http_free(c);
        return WD_ENOMEM;
    }
    struct wd_http1_config hc;
    parser_cfg(&hc);
    wd_http1_init(&x->rp, WD_HTTP1_REQUEST, &hc, x->rf, lim->max_header_count);
    return WD_OK;
}

bool prx_http_idle(const struct prx_conn *c)
{
    return c->state == PRX_C_IDLE && c->din.len == 0 && c->dout.len == 0;
}

/* Queue a small JSON error for the client. close: end the connection after it. */
static void json_error(struct prx_conn *c, unsigned status, const char *reason, const char *code,
                       bool close)
{
    char body[160];
    const char *rid = c->x != NULL && c->x->rid[0] != '\0' ? c->x->rid : "-";
    int n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"request_id\":\"%s\"}\n", code, rid);
    if (n < 0 || (size_t)n >= sizeof(body)) {
        n = 0;
    }
    if (wd_buf_printf(&c->dout,
                      "HTTP/1.1 %u %s\r\ncontent-type: application/json\r\n"
                      "content-length: %d\r\n%s\r\n%s",
                      status, reason, n, close ? "connection: close\r\n" : "", body)
        < 0) {
        c->closing = true;
        return;
    }
    if (close) {
        c->closing = true;
    }
}

static void bad_request(struct prx_conn *c, int rc)
{
    enum wd_http1_reason r = wd_http1_reason(&c->x->rp);
    char esc[64];
    atomic_fetch_add_explicit(rc == WD_ELIMIT ? &prx_m.err_limit : &prx_m.err_bad_request, 1,
                              memory_order_relaxed);
    wd_log(WD_LOG_INFO, "%s: %s: bad request: %s", c->l->name, c->ip,
           wd_log_escape(esc, sizeof(esc), wd_http1_reason_name(r),
                         strlen(wd_http1_reason_name(r))));
    if (r == WD_HTTP1_R_LIMIT_BODY) {
        json_error(c, 413, "Content Too Large", "body_too_large", true);
    } else if (rc == WD_ELIMIT) {
        json_error(c, 431, "Request Header Fields Too Large", "header_too_large", true);
    } else {
        json_error(c, 400, "Bad Request", "bad_request", true);
    }
    c->state = PRX_C_IDLE;
}

static int fwd_field(struct wd_buf *b, struct wd_slice n, struct wd_slice v)
{
    WD_TRY(wd_buf_append(b, n.p, n.len));
    WD_TRY(wd_buf_append(b, ": ", 2));
    WD_TRY(wd_buf_append(b, v.p, v.len));
    return wd_buf_append(b, "\r\n", 2);
}

static int on_req_head(struct prx_conn *c)
{
    struct prx_x *x = c->x;
    const struct wd_http1_msg *m = wd_http1_msg(&x->rp);
    atomic_fetch_add_explicit(&prx_m.requests, 1, memory_order_relaxed);
    prx_request_id(c->w, x->rid, sizeof(x->rid));
    x->head_done = true;
    x->t_head = prx_now();
    x->method = m->method;
    x->req_body = m->body;
    x->req_version = m->version;
    x->req_keep = m->keep_alive;
    x->resp_started = false;
    x->retried = false;
    wd_buf_reset(&x->rbody);
    wd_buf_reset(&x->fwd);
    WD_TRY(prx_head_capture(&x->rh, &x->rp));
    if (m->method == WD_HTTP1_CONNECT || m->tunnel) {
        json_error(c, 405, "Method Not Allowed", "method_not_allowed", true);
        return WD_EDENIED;
    }
    if (m->expect_other) {
        json_error(c, 417, "Expectation Failed", "expectation_failed", true);
        return WD_EDENIED;
    }
    struct wd_buf *b = &x->fwd;
    WD_TRY(wd_buf_append(b, m->method_name.p, m->method_name.len));
    WD_TRY(wd_buf_append(b, " ", 1));
    WD_TRY(wd_buf_append(b, m->target.p, m->target.len));
    WD_TRY(wd_buf_append_str(b, " HTTP/1.1\r\n"));
    bool has_host = false;
    for (size_t i = 0; i < m->nfields; i++) {
        struct wd_slice n, v;
        if (!wd_http1_field(&x->rp, i, &n, &v)) {
            break;
        }
        if (is_hop(n) || ieq(n, "content-length") || conn_listed(&x->rh, n)
            || (n.len >= 9 && strncasecmp((const char *)n.p, "x-warden-", 9) == 0)) {
            continue;
        }
        has_host = has_host || ieq(n, "host");
        WD_TRY(fwd_field(b, n, v));
    }
    if (!has_host) {
        WD_TRY(wd_buf_printf(b, "host: %s\r\n", c->l->upstream.text));
    }
    if (c->l->mode == PRX_INBOUND && c->peer.id != NULL) {
        WD_TRY(wd_buf_append_str(b, "x-warden-peer: "));
        WD_TRY(wd_buf_append(b, c->peer.id, c->peer.id_len));
        WD_TRY(wd_buf_append_str(b, "\r\n"));
    }
    WD_TRY(wd_buf_printf(b, "x-warden-request-id: %s\r\n", x->rid));
    if (m->expect_continue && m->body != WD_HTTP1_BODY_NONE
        && !(m->body == WD_HTTP1_BODY_LENGTH && m->content_length == 0)) {
        /* RFC 9110 §10.1.1: the proxy reads the body itself before deciding. */
        WD_TRY(wd_buf_append_str(&c->dout, "HTTP/1.1 100 Continue\r\n\r\n"));
    }
    return WD_OK;
}

/* The principal/resource of decisions on c. */
static void decision_parties(struct prx_conn *c, struct prx_peer *pe, const char **res,
                             size_t *res_len)
{
    const struct prx_gen *g = c->x->gen;
    memset(pe, 0, sizeof(*pe));
    pe->ip = c->ip;
    pe->port = ntohs(c->l->listen.sin.sin_port);
    if (c->l->mode == PRX_INBOUND) {
        pe->id = c->peer.id;
        pe->id_len = c->peer.id_len;
        pe->claims = c->peer.claims;
        *res = g->self.str;
        *res_len = g->self.len;
    } else {
        pe->id = g->self.str;
        pe->id_len = g->self.len;
        pe->claims = g->has_self_claims ? &g->self_claims : NULL;
        *res = c->l->expect_peer.str;
        *res_len = c->l->expect_peer.len;
    }
}

static uint64_t us_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t us = (int64_t)(t1.tv_sec - t0->tv_sec) * 1000000 + (t1.tv_nsec - t0->tv_nsec) / 1000;
    return us < 0 ? 0 : (uint64_t)us;
}

/* Whether a message's content type is JSON: application/json or application/<x>+json
 * (RFC 6839), parameters ignored, case-insensitive. json_field detectors apply then. */
static bool is_json(const struct prx_head *h)
{
    struct wd_slice ct;
    if (!prx_head_get(h, "content-type", &ct)) {
        return false;
    }
    const char *p = (const char *)ct.p;
    size_t n = ct.len;
    while (n > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    const char *semi = memchr(p, ';', n);
    if (semi != NULL) {
        n = (size_t)(semi - p);
    }
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
        n--;
    }
    if (n < 12 || strncasecmp(p, "application/", 12) != 0) {
        return false;
    }
    return (n == 16 && strncasecmp(p + 12, "json", 4) == 0)
           || (n > 17 && strncasecmp(p + n - 5, "+json", 5) == 0);
}

/* Match the request path (the query is already apart) against g's routes into x->route. */
static void route_request(struct prx_x *x, const struct prx_gen *g)
{
    x->route.route = "";
    x->route.bad_path = false;
    x->route.nparams = 0;
    if (g->routes == NULL || x->rh.pl == 0) {
        return;
    }
    if (wd_route_match(g->routes, (const char *)x->rh.b.p + x->rh.po, x->rh.pl, &x->route)
        != WD_OK) {
        /* WD_ENOENT: no route, or a path refused as malformed; policies see route "". */
        x->route.route = "";
        x->route.nparams = 0;
    }
}

/* Decide the current request (response when resp is true). */
static bool decide(struct prx_conn *c, bool resp)
{
    struct prx_x *x = c->x;
    struct prx_worker *w = c->w;
    struct prx_gen *g = x->gen;
    struct prx_peer pe;
    const char *res;
    size_t res_len;
    struct wd_cedar_response r;
    struct timespec t0;
    char action[64];
    if (!c->l->enforce) {
        return true;
    }
    decision_parties(c, &pe, &res, &res_len);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct wd_detect_result hits;
    struct prx_found found = {.route = &x->route, .det = g->detect, .hits = &hits};
    if (!resp) {
        route_request(x, g);
    }
    const struct wd_buf *body = resp ? &x->sbody : &x->rbody;
    int rc = prx_detect(w, g, body->p, body->len, is_json(resp ? &x->sh : &x->rh), &hits);
    if (rc == WD_OK && resp) {
        rc = prx_map_http_response_ex(w->creq, &pe, res, res_len, &x->rh, x->rbody.len, &x->sh,
                                      x->sbody.len, &found, wd_time_now());
    } else if (rc == WD_OK) {
        rc = prx_map_http_request_ex(w->creq, &pe, res, res_len, &x->rh, x->rbody.len, &found,
                                     wd_time_now());
    }
    if (rc == WD_OK) {
        rc = wd_cedar_authorize(g->pol->az, g->pol->ents, w->creq, w->scratch, &r);
    }
    uint64_t us = us_since(&t0);
    prx_hist_observe(&prx_m.decision_us, us);
    bool allow = rc == WD_OK && r.allow;
    atomic_fetch_add_explicit(rc < 0  ? &prx_m.decide_err
                              : allow ? &prx_m.allow
                                      : &prx_m.deny,
                              1, memory_order_relaxed);
    if (!allow || prx_sample(w, g)) {
        if (resp) {
            (void)snprintf(action, sizeof(action), "http:response");
        } else {
            (void)snprintf(action, sizeof(action), "http:%.*s", (int)WD_MIN(x->rh.ml, 50),
                           (const char *)x->rh.b.p + x->rh.mo);
        }
        struct prx_audit_rec a = {
                .request_id = x->rid,
                .listener = c->l->name,
                .ptype = pe.id != NULL ? "Workload" : "Anonymous",
                .pid = pe.id != NULL ? pe.id : pe.ip,
                .pid_len = pe.id != NULL ? pe.id_len : strlen(pe.ip),
                .action = action,
                .resource = res,
                .allow = allow,
                .resp = rc == WD_OK ? &r : NULL,
                .reason = rc < 0 ? wd_strerror(rc) : NULL,
                .eval_us = us,
                .method = (const char *)x->rh.b.p + x->rh.mo,
                .method_len = x->rh.ml,
                .path = (const char *)x->rh.b.p + x->rh.po,
                .path_len = x->rh.pl,
                .status = resp ? x->sh.status : 0,
        };
        prx_audit_write(g, &a);
    }
    return allow;
}

static void start_upstream(struct prx_conn *c);

static void upstream_error(struct prx_conn *c, unsigned status, const char *reason,
                           const char *code)
{
    struct prx_x *x = c->x;
    atomic_fetch_add_explicit(status == 504 ? &prx_m.err_timeout : &prx_m.err_upstream, 1,
                              memory_order_relaxed);
    prx_up_release(c, false);
    json_error(c, status, reason, code, !x->req_keep || c->draining);
    c->state = PRX_C_IDLE;
    c->t_state = prx_now();
}

/* The upstream failed before answering; retry once on a fresh connection when safe. */
static void upstream_fail(struct prx_conn *c)
{
    struct prx_x *x = c->x;
    bool idempotent = x->method == WD_HTTP1_GET || x->method == WD_HTTP1_HEAD
                      || x->method == WD_HTTP1_OPTIONS || x->method == WD_HTTP1_PUT
                      || x->method == WD_HTTP1_DELETE || x->method == WD_HTTP1_TRACE;
    if (c->up != NULL && c->up->reused && !x->resp_started && !x->retried && idempotent) {
        /* A pooled connection the upstream had closed meanwhile (RFC 9112 §9.3.1). */
        x->retried = true;
        prx_up_release(c, false);
        start_upstream(c);
        return;
    }
    wd_log(WD_LOG_WARN, "%s: upstream %s failed for request %s", c->l->name, c->l->upstream.text,
           x->rid);
    upstream_error(c, 502, "Bad Gateway", "bad_gateway");
}

static void start_upstream(struct prx_conn *c)
{
    struct prx_x *x = c->x;
    struct prx_up *up = prx_pool_take(c);
    if (up == NULL && prx_up_connect(c, &up) < 0) {
        upstream_error(c, 502, "Bad Gateway", "bad_gateway");
        return;
    }
    c->up = up;
    x->fwd_off = 0;
    x->resp_started = false;
    x->interim = false;
    struct wd_http1_config hc;
    parser_cfg(&hc);
    wd_http1_init(&x->sp, WD_HTTP1_RESPONSE, &hc, x->sf, prx_eng.cfg->limits.max_header_count);
    wd_http1_set_request_method(&x->sp, x->method);
    wd_buf_reset(&x->sbody);
    wd_buf_reset(&x->rfwd);
    c->state = PRX_C_UPSTREAM;
    c->t_state = prx_now();
}

static int on_req_end(struct prx_conn *c)
{
    struct prx_x *x = c->x;
    clock_gettime(CLOCK_MONOTONIC, &x->t_req);
    /* Requests decided from now on use the newest generation; the response of this
     * request is decided with the same one. */
    if (x->gen != c->w->gen) {
        prx_gen_put(x->gen);
        x->gen = c->w->gen;
        prx_gen_get(x->gen);
    }
    if (!decide(c, false)) {
        json_error(c, 403, "Forbidden", "forbidden", !x->req_keep || c->draining);
        c->state = PRX_C_IDLE;
        c->t_state = prx_now();
        return WD_OK;
    }
    if (x->req_body != WD_HTTP1_BODY_NONE) {
        WD_TRY(wd_buf_printf(&x->fwd, "content-length: %zu\r\n", x->rbody.len));
    }
    WD_TRY(wd_buf_append_str(&x->fwd, "\r\n"));
    WD_TRY(wd_buf_append(&x->fwd, x->rbody.p, x->rbody.len));
    start_upstream(c);
    return WD_OK;
}

static int on_resp_head(struct prx_conn *c)
{
    struct prx_x *x = c->x;
    const struct wd_http1_msg *m = wd_http1_msg(&x->sp);
    struct wd_buf *b = &x->rfwd;
    wd_buf_reset(b);
    x->resp_body = m->body;
    WD_TRY(prx_head_capture(&x->sh, &x->sp));
    WD_TRY(wd_buf_printf(b, "HTTP/1.1 %u ", m->status));
    WD_TRY(wd_buf_append(b, m->reason.p, m->reason.len));
    WD_TRY(wd_buf_append_str(b, "\r\n"));
    for (size_t i = 0; i < m->nfields; i++) {
        struct wd_slice n, v;
        if (!wd_http1_field(&x->sp, i, &n, &v)) {
            break;
        }
        if (is_hop(n) || conn_listed(&x->sh, n)
            || (m->body != WD_HTTP1_BODY_NONE && ieq(n, "content-length"))) {
            continue;
        }
        WD_TRY(fwd_field(b, n, v));
    }
    return WD_OK;
}

static void on_resp_end(struct prx_conn *c, bool up_keep)
{
    struct prx_x *x = c->x;
    atomic_fetch_add_explicit(&prx_m.responses, 1, memory_order_relaxed);
    bool close = !x->req_keep || c->draining || c->d.eof;
    if (!decide(c, true)) {
        prx_up_release(c, up_keep && c->uin.len == 0);
        json_error(c, 403, "Forbidden", "forbidden", close);
    } else {
        int rc = wd_buf_append(&c->dout, x->rfwd.p, x->rfwd.len);
        if (rc == WD_OK && x->resp_body != WD_HTTP1_BODY_NONE) {
            rc = wd_buf_printf(&c->dout, "content-length: %zu\r\n", x->sbody.len);
        }
        if (rc == WD_OK && close) {
            rc = wd_buf_append_str(&c->dout, "connection: close\r\n");
        } else if (rc == WD_OK && x->req_version == 10) {
            rc = wd_buf_append_str(&c->dout, "connection: keep-alive\r\n");
        }
        if (rc == WD_OK) {
            rc = wd_buf_append_str(&c->dout, "\r\n");
        }
        if (rc == WD_OK) {
            rc = wd_buf_append(&c->dout, x->sbody.p, x->sbody.len);
        }
        prx_up_release(c, up_keep && c->uin.len == 0 && x->resp_body != WD_HTTP1_BODY_EOF);
        if (rc < 0 || close) {
            c->closing = true;
        }
    }
    prx_hist_observe(&prx_m.request_us, us_since(&x->t_req));
    c->state = PRX_C_IDLE;
    c->t_state = prx_now();
}

static bool process_response(struct prx_conn *c)
{
    struct prx_x *x = c->x;
    bool progress = false;
    while (c->state == PRX_C_UPSTREAM) {
        struct wd_http1_step st;
        int rc = wd_http1_step(&x->sp, c->uin.p, c->uin.len, &st);
        if (rc == WD_EAGAIN) {
            wd_buf_consume(&c->uin, st.used);
            progress = progress || st.used > 0;
            if (c->up->io.eof) {
                if (wd_http1_finish(&x->sp) == WD_OK && x->resp_started
                    && x->resp_body == WD_HTTP1_BODY_EOF) {
                    on_resp_end(c, false);
                } else {
                    upstream_fail(c);
                }
                return true;
            }
            return progress;
        }
        if (rc < 0) {
            enum wd_http1_reason why = wd_http1_reason(&x->sp);
            wd_log(WD_LOG_WARN, "%s: bad response from %s: %s", c->l->name, c->l->upstream.text,
                   wd_http1_reason_name(why));
            if (why == WD_HTTP1_R_LIMIT_BODY) {
                atomic_fetch_add_explicit(&prx_m.err_limit, 1, memory_order_relaxed);
            }
            upstream_error(c, 502, "Bad Gateway",
                           why == WD_HTTP1_R_LIMIT_BODY ? "response_too_large" : "bad_gateway");
            return true;
        }
        x->resp_started = true;
        progress = true;
        const struct wd_http1_msg *m = wd_http1_msg(&x->sp);
        switch (st.ev) {
        case WD_HTTP1_EV_HEAD:
            if (m->interim) {
                x->interim = true; /* 1xx: skipped; the final response follows */
            } else if (m->status == 101 || m->tunnel || on_resp_head(c) < 0) {
                /* A switch of protocols is refused like a response head that fails. */
                upstream_error(c, 502, "Bad Gateway", "bad_gateway");
                return true;
            }
            break;
        case WD_HTTP1_EV_DATA:
            if (!x->interim && wd_buf_append(&x->sbody, st.data.p, st.data.len) < 0) {
                atomic_fetch_add_explicit(&prx_m.err_limit, 1, memory_order_relaxed);
                wd_log(WD_LOG_WARN, "%s: response to %s larger than max_body", c->l->name, x->rid);
                upstream_error(c, 502, "Bad Gateway", "response_too_large");
                return true;
            }
            break;
        case WD_HTTP1_EV_TRAILERS:
            break;
        case WD_HTTP1_EV_END:
            wd_buf_consume(&c->uin, st.used);
            if (x->interim) {
                x->interim = false;
                continue;
            }
            on_resp_end(c, m->keep_alive);
            return true;
        }
        wd_buf_consume(&c->uin, st.used);
    }
    return progress;
}

static bool up_step(struct prx_conn *c)
{
    struct prx_x *x = c->x;
    struct prx_up *up = c->up;
    bool progress = false;
    int r = prx_up_ready(c, up);
    if (r < 0) {
        upstream_fail(c);
        return true;
    }
    if (r == 0) {
        return false;
    }
    while (x->fwd_off < x->fwd.len) {
        ssize_t n = prx_io_write(&up->io, x->fwd.p + x->fwd_off, x->fwd.len - x->fwd_off);
        if (n == PRX_IO_AGAIN) {
            break;
        }
        if (n < 0) {
            upstream_fail(c);
            return true;
        }
        x->fwd_off += (size_t)n;
        progress = true;
    }
    if (!up->io.eof && c->uin.len < c->uin.max) {
        ssize_t n = prx_io_fill(c->w, &up->io, &c->uin);
        if (n == PRX_IO_ERR) {
            if (x->resp_started) {
                upstream_error(c, 502, "Bad Gateway", "bad_gateway");
            } else {
                upstream_fail(c);
            }
            return true;
        }
        progress = progress || n > 0;
    }
    return process_response(c) || progress;
}

static bool process_request(struct prx_conn *c)
{
    bool progress = false;
    for (;;) {
        if (c->closing) {
            return progress;
        }
        if (c->state == PRX_C_IDLE) {
            if (c->din.len == 0 || c->dout.len > 0) {
                return progress;
            }
            if (c->draining) {
                c->closing = true;
                return true;
            }
            if (x_ensure(c) < 0) {
                c->closing = true;
                return true;
            }
            c->state = PRX_C_REQ;
            c->t_state = prx_now();
            c->x->head_done = false;
            c->x->rid[0] = '\0';
            progress = true;
        }
        if (c->state != PRX_C_REQ) {
            return progress;
        }
        struct prx_x *x = c->x;
        struct wd_http1_step st;
        int rc = wd_http1_step(&x->rp, c->din.p, c->din.len, &st);
        if (rc == WD_EAGAIN) {
            wd_buf_consume(&c->din, st.used);
            if (c->d.eof) {
                /* The client went away inside a request. */
                c->closing = true;
                wd_buf_reset(&c->dout);
            }
            return progress || st.used > 0;
        }
        if (rc < 0) {
            bad_request(c, rc);
            return true;
        }
        progress = true;
        switch (st.ev) {
        case WD_HTTP1_EV_HEAD:
            rc = on_req_head(c);
            break;
        case WD_HTTP1_EV_DATA:
            rc = wd_buf_append(&x->rbody, st.data.p, st.data.len);
            if (rc == WD_ELIMIT) {
                json_error(c, 413, "Content Too Large", "body_too_large", true);
                rc = WD_EDENIED; /* answered */
            }
            break;
        case WD_HTTP1_EV_TRAILERS:
            rc = WD_OK; /* trailers are not forwarded (the body is re-framed) */
            break;
        case WD_HTTP1_EV_END:
            wd_buf_consume(&c->din, st.used);
            st.used = 0;
            rc = on_req_end(c);
            break;
        }
        wd_buf_consume(&c->din, st.used);
        if (rc < 0) {
            if (rc == WD_ELIMIT) {
                atomic_fetch_add_explicit(&prx_m.err_limit, 1, memory_order_relaxed);
                json_error(c, 431, "Request Header Fields Too Large", "header_too_large", true);
            } else if (rc != WD_EDENIED) {
                json_error(c, 500, "Internal Server Error", "internal", true);
            }
            c->closing = true;
            c->state = PRX_C_IDLE;
            return true;
        }
    }
}

static void arm(struct prx_conn *c)
{
    const struct prx_limits *lim = &prx_eng.cfg->limits;
    int64_t at;
    if (c->state == PRX_C_HANDSHAKE) {
        return; /* armed at accept */
    }
    if (c->closing) {
        at = prx_now() + lim->idle_ms;
    } else if (c->state == PRX_C_IDLE) {
        at = c->t_state + (c->din.len == 0 ? lim->idle_ms : lim->header_ms);
    } else if (c->state == PRX_C_REQ) {
        at = c->x->head_done ? c->x->t_head + lim->body_ms : c->t_state + lim->header_ms;
    } else {
        at = c->t_state + lim->upstream_ms;
    }
    prx_timer_set(c->w, &c->tm, at);
}

void prx_http_timeout(struct prx_conn *c)
{
    if (c->closing) {
        prx_conn_close(c);
        return;
    }
    if (c->state == PRX_C_IDLE && c->din.len == 0) {
        prx_conn_close(c); /* keep-alive idle */
        return;
    }
    switch (c->state) {
    case PRX_C_IDLE: /* bytes of a request are waiting */
    case PRX_C_REQ:
        atomic_fetch_add_explicit(&prx_m.err_timeout, 1, memory_order_relaxed);
        wd_log(WD_LOG_INFO, "%s: %s: %s timeout", c->l->name, c->ip,
               c->x != NULL && c->x->head_done ? "body" : "header");
        json_error(c, 408, "Request Timeout", "timeout", true);
        c->state = PRX_C_IDLE;
        break;
    case PRX_C_UPSTREAM:
        wd_log(WD_LOG_WARN, "%s: upstream %s timeout for %s", c->l->name, c->l->upstream.text,
               c->x->rid);
        upstream_error(c, 504, "Gateway Timeout", "gateway_timeout");
        break;
    default:
        prx_conn_close(c);
        return;
    }
    prx_http_pump(c);
}

void prx_http_pump(struct prx_conn *c)
{
    struct prx_worker *w = c->w;
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
            if (!prx_conn_after_handshake(c) || c->draining) {
                prx_conn_close(c);
                return;
            }
            c->state = PRX_C_IDLE;
            c->t_state = prx_now();
            progress = true;
        }
        if (!c->closing && !c->d.eof && c->din.len < c->din.max) {
            ssize_t r = prx_io_fill(w, &c->d, &c->din);
            if (r == PRX_IO_ERR) {
                prx_conn_close(c);
                return;
            }
            progress = progress || r > 0;
        }
        progress = process_request(c) || progress;
        if (c->state == PRX_C_UPSTREAM && c->up != NULL) {
            progress = up_step(c) || progress;
        }
        if (c->dout.len > 0) {
            ssize_t r = prx_io_flush(&c->d, &c->dout);
            if (r == PRX_IO_ERR) {
                prx_conn_close(c);
                return;
            }
            progress = progress || r > 0;
        }
        if (c->dout.len == 0
            && (c->closing || (c->d.eof && c->state == PRX_C_IDLE && c->din.len == 0))) {
            prx_io_shutdown(&c->d);
            prx_conn_close(c);
            return;
        }
        if (c->state == PRX_C_IDLE && c->din.len == 0 && c->dout.len == 0) {
            /* An idle keep-alive connection keeps no exchange state and no TLS record
             * buffers (about 17 KB each; OpenSSL allocates them again on the next read). */
            prx_http_free(c);
            if (c->din.p != NULL) {
                size_t max = c->din.max;
                wd_buf_cleanup(&c->din);
                wd_buf_init(&c->din, max);
            }
            if (c->d.ssl != NULL && SSL_pending(c->d.ssl) == 0) {
                (void)SSL_free_buffers(c->d.ssl);
            }
        }
        if (!progress) {
            break;
        }
    }
    if (round == 64) {
        prx_conn_requeue(c); /* more to do: after the other connections had their turn */
    }
    arm(c);
}
