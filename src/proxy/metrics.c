/* warden-proxy: Prometheus metrics and the audit stream (JSON lines). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "warden/clock.h"
#include "warden/doc.h"
#include "warden/log.h"

#include "proxy.h"

struct prx_metrics prx_m;

/* Bucket upper bounds in microseconds. */
static const uint64_t bounds_us[PRX_HIST_BUCKETS] = {
        50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, 500000, 2000000,
};

void prx_hist_observe(struct prx_hist *h, uint64_t us)
{
    size_t i = 0;
    while (i < PRX_HIST_BUCKETS && us > bounds_us[i]) {
        i++;
    }
    atomic_fetch_add_explicit(&h->b[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

static unsigned long ld(atomic_ulong *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static int counter(struct wd_buf *out, const char *name, const char *help, const char *type,
                   const char *labels, unsigned long v, bool header)
{
    if (header) {
        WD_TRY(wd_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type));
    }
    return wd_buf_printf(out, "%s%s %lu\n", name, labels, v);
}

static int hist(struct wd_buf *out, const char *name, const char *help, struct prx_hist *h)
{
    unsigned long cum = 0;
    WD_TRY(wd_buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name));
    for (size_t i = 0; i <= PRX_HIST_BUCKETS; i++) {
        cum += ld(&h->b[i]);
        if (i < PRX_HIST_BUCKETS) {
            WD_TRY(wd_buf_printf(out, "%s_bucket{le=\"%g\"} %lu\n", name,
                                 (double)bounds_us[i] / 1e6, cum));
        } else {
            WD_TRY(wd_buf_printf(out, "%s_bucket{le=\"+Inf\"} %lu\n", name, cum));
        }
    }
    WD_TRY(wd_buf_printf(out, "%s_sum %.6f\n", name, (double)ld(&h->sum_us) / 1e6));
    return wd_buf_printf(out, "%s_count %lu\n", name, ld(&h->count));
}

int prx_metrics_render(struct wd_buf *out)
{
    struct prx_metrics *m = &prx_m;
    WD_TRY(counter(out, "warden_proxy_connections_total", "Connections accepted.", "counter", "",
                   ld(&m->conns_accepted), true));
    WD_TRY(counter(out, "warden_proxy_connections_refused_total",
                   "Connections refused (limit or draining).", "counter", "", ld(&m->conns_refused),
                   true));
    WD_TRY(wd_buf_printf(out,
                         "# HELP warden_proxy_connections_active Open client connections.\n"
                         "# TYPE warden_proxy_connections_active gauge\n"
                         "warden_proxy_connections_active %ld\n",
                         atomic_load_explicit(&m->conns_active, memory_order_relaxed)));
    WD_TRY(counter(out, "warden_proxy_tls_handshakes_total", "TLS handshakes by result.", "counter",
                   "{result=\"ok\"}", ld(&m->tls_ok), true));
    WD_TRY(counter(out, "warden_proxy_tls_handshakes_total", "", "", "{result=\"fail\"}",
                   ld(&m->tls_fail), false));
    WD_TRY(counter(out, "warden_proxy_requests_total", "HTTP requests received.", "counter", "",
                   ld(&m->requests), true));
    WD_TRY(counter(out, "warden_proxy_responses_total", "HTTP responses from upstreams.", "counter",
                   "", ld(&m->responses), true));
    WD_TRY(counter(out, "warden_proxy_decisions_total", "Policy decisions by result.", "counter",
                   "{result=\"allow\"}", ld(&m->allow), true));
    WD_TRY(counter(out, "warden_proxy_decisions_total", "", "", "{result=\"deny\"}", ld(&m->deny),
                   false));
    WD_TRY(counter(out, "warden_proxy_decisions_total", "", "", "{result=\"error\"}",
                   ld(&m->decide_err), false));
    WD_TRY(counter(out, "warden_proxy_errors_total", "Errors by kind.", "counter",
                   "{kind=\"bad_request\"}", ld(&m->err_bad_request), true));
    WD_TRY(counter(out, "warden_proxy_errors_total", "", "", "{kind=\"upstream\"}",
                   ld(&m->err_upstream), false));
    WD_TRY(counter(out, "warden_proxy_errors_total", "", "", "{kind=\"timeout\"}",
                   ld(&m->err_timeout), false));
    WD_TRY(counter(out, "warden_proxy_errors_total", "", "", "{kind=\"limit\"}", ld(&m->err_limit),
                   false));
    WD_TRY(counter(out, "warden_proxy_tcp_bytes_total", "TCP bytes spliced by direction.",
                   "counter", "{direction=\"in\"}", ld(&m->tcp_bytes_in), true));
    WD_TRY(counter(out, "warden_proxy_tcp_bytes_total", "", "", "{direction=\"out\"}",
                   ld(&m->tcp_bytes_out), false));
    WD_TRY(counter(out, "warden_proxy_reloads_total", "SIGHUP reloads by result.", "counter",
                   "{result=\"ok\"}", ld(&m->reload_ok), true));
    WD_TRY(counter(out, "warden_proxy_reloads_total", "", "", "{result=\"fail\"}",
                   ld(&m->reload_fail), false));
    WD_TRY(hist(out, "warden_proxy_request_duration_seconds",
                "From a complete request to its response being queued.", &m->request_us));
    return hist(out, "warden_proxy_decision_duration_seconds", "Cedar evaluation time.",
                &m->decision_us);
}

int prx_audit_policies(const struct wd_cedar_response *resp, struct wd_buf *out)
{
    WD_TRY(wd_buf_append_byte(out, '['));
    for (size_t i = 0; resp != NULL && i < resp->nreasons; i++) {
        if (i > 0) {
            WD_TRY(wd_buf_append_byte(out, ','));
        }
        WD_TRY(wd_json_append_string(out, resp->reasons[i], strlen(resp->reasons[i])));
    }
    return wd_buf_append_byte(out, ']');
}

static int uid(struct wd_buf *b, const char *key, const char *type, const char *id, size_t len)
{
    struct wd_buf u;
    int rc;
    wd_buf_init(&u, 4200);
    WD_CHECK(wd_buf_printf(&u, "%s::\"", type));
    /* Cedar string escapes for the id: only '"' and '\\' can occur in SPIFFE IDs / IPs. */
    for (size_t i = 0; i < len; i++) {
        if (id[i] == '"' || id[i] == '\\') {
            WD_CHECK(wd_buf_append_byte(&u, '\\'));
        }
        WD_CHECK(wd_buf_append_byte(&u, (uint8_t)id[i]));
    }
    WD_CHECK(wd_buf_append_byte(&u, '"'));
    WD_CHECK(wd_buf_printf(b, ",\"%s\":", key));
    WD_CHECK(wd_json_append_string(b, (const char *)u.p, u.len));
out:
    wd_buf_cleanup(&u);
    return rc;
}

static int render(const struct prx_audit_rec *r, struct wd_buf *b)
{
    int64_t ms = wd_time_now_ms();
    char ts[21];
    wd_time_format(ms / 1000, ts);
    /* "YYYY-MM-DDTHH:MM:SSZ" -> with milliseconds */
    WD_TRY(wd_buf_printf(b, "{\"time\":\"%.19s.%03dZ\",\"request_id\":", ts, (int)(ms % 1000)));
    WD_TRY(wd_json_append_string(b, r->request_id, strlen(r->request_id)));
    WD_TRY(wd_buf_append_str(b, ",\"listener\":"));
    WD_TRY(wd_json_append_string(b, r->listener, strlen(r->listener)));
    WD_TRY(uid(b, "principal", r->ptype, r->pid, r->pid_len));
    WD_TRY(uid(b, "action", "Action", r->action, strlen(r->action)));
    WD_TRY(uid(b, "resource", r->rtype != NULL ? r->rtype : "Workload", r->resource,
               strlen(r->resource)));
    WD_TRY(wd_buf_printf(b, ",\"decision\":\"%s\",\"policies\":", r->allow ? "allow" : "deny"));
    if (r->policies_json != NULL) {
        WD_TRY(wd_buf_append_str(b, r->policies_json));
    } else {
        WD_TRY(prx_audit_policies(r->resp, b));
    }
    if (r->resp != NULL && r->resp->nerrors > 0) {
        WD_TRY(wd_buf_append_str(b, ",\"errors\":["));
        for (size_t i = 0; i < r->resp->nerrors; i++) {
            const char *id = r->resp->errors[i].policy_id;
            if (i > 0) {
                WD_TRY(wd_buf_append_byte(b, ','));
            }
            WD_TRY(wd_json_append_string(b, id, strlen(id)));
        }
        WD_TRY(wd_buf_append_byte(b, ']'));
    }
    if (r->reason != NULL) {
        WD_TRY(wd_buf_append_str(b, ",\"reason\":"));
        WD_TRY(wd_json_append_string(b, r->reason, strlen(r->reason)));
    }
    WD_TRY(wd_buf_printf(b, ",\"eval_us\":%llu", (unsigned long long)r->eval_us));
    if (r->method != NULL) {
        WD_TRY(wd_buf_append_str(b, ",\"method\":"));
        WD_TRY(wd_json_append_string(b, r->method, r->method_len));
        WD_TRY(wd_buf_append_str(b, ",\"path\":"));
        WD_TRY(wd_json_append_string(b, r->path, r->path_len));
    }
    if (r->status != 0) {
        WD_TRY(wd_buf_printf(b, ",\"status\":%u", r->status));
    }
    if (r->has_bytes) {
        WD_TRY(wd_buf_printf(b, ",\"bytes_in\":%llu,\"bytes_out\":%llu",
                             (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out));
    }
    return wd_buf_append_str(b, "}\n");
}

void prx_audit_write(const struct prx_gen *g, const struct prx_audit_rec *r)
{
    if (g == NULL || g->audit_fd < 0) {
        return;
    }
    struct wd_buf b;
    wd_buf_init(&b, (size_t)64 * 1024);
    if (render(r, &b) < 0) {
        wd_log(WD_LOG_WARN, "audit: cannot render a record (out of memory)");
    } else {
        /* One write per line: O_APPEND keeps lines from several workers whole. */
        ssize_t n = write(g->audit_fd, b.p, b.len);
        if (n < 0 || (size_t)n != b.len) {
            wd_log(WD_LOG_WARN, "audit: write failed: %s", n < 0 ? strerror(errno) : "short");
        }
    }
    wd_buf_cleanup(&b);
}
