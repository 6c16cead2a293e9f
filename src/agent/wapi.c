/* The Workload API handler (see wapi.h and docs/agent.md). */
#include "wapi.h"

#include <string.h>

#include "warden/clock.h"
#include "warden/log.h"

int agt_wapi_init(struct agt_wapi *w, struct agt_store *store, int64_t watch_max_ms)
{
    memset(w, 0, sizeof(*w));
    w->store = store;
    w->watch_max_ms = watch_max_ms > 0 ? watch_max_ms : 300000;
    return agt_digest_cache_init(&w->cache);
}

void agt_wapi_cleanup(struct agt_wapi *w)
{
    if (w != NULL) {
        agt_digest_cache_cleanup(&w->cache);
    }
}

static int error(struct wd_http_resp *resp, int status, const char *err, const char *reason,
                 const char *msg)
{
    resp->status = status;
    wd_buf_reset(&resp->body);
    if (reason != NULL) {
        return wd_buf_printf(&resp->body, "{\"error\":\"%s\",\"reason\":\"%s\",\"message\":\"%s\"}",
                             err, reason, msg);
    }
    return wd_buf_printf(&resp->body, "{\"error\":\"%s\",\"message\":\"%s\"}", err, msg);
}

/* "" or "watch=V" with V 1..AGT_VERSION_LEN hex digits. -1 for anything else. */
static int parse_query(const char *q, char watch[AGT_VERSION_LEN + 1], bool *has_watch)
{
    *has_watch = false;
    if (q == NULL || q[0] == '\0') {
        return 0;
    }
    if (strncmp(q, "watch=", 6) != 0) {
        return -1;
    }
    const char *v = q + 6;
    size_t n = strlen(v);
    if (n == 0 || n > AGT_VERSION_LEN) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return -1;
        }
    }
    memcpy(watch, v, n + 1);
    *has_watch = true;
    return 0;
}

static const char *identify_reason(int rc)
{
    switch (rc) {
    case WD_EDENIED:
        return "pid-reused";
    case WD_ENOENT:
        return "caller-gone";
    default:
        return "caller-unknown";
    }
}

int agt_wapi_handle(void *arg, const struct wd_http_req *req, struct wd_http_resp *resp)
{
    struct agt_wapi *w = arg;
    char watch[AGT_VERSION_LEN + 1] = "";
    char version[AGT_VERSION_LEN + 1];
    bool has_watch = false;
    size_t matched = 0, served = 0;
    int rc;

    (void)snprintf(resp->content_type, sizeof(resp->content_type), "application/json");
    (void)snprintf(resp->extra_headers, sizeof(resp->extra_headers), "Cache-Control: no-store\r\n");
    if (strcmp(req->path, "/healthz") == 0) {
        if (strcmp(req->method, "GET") != 0) {
            return error(resp, 405, "method-not-allowed", NULL, "use GET");
        }
        resp->status = 200;
        return wd_buf_append_str(&resp->body, "{\"status\":\"ok\"}");
    }
    if (strcmp(req->path, "/v1/svid") != 0) {
        return error(resp, 404, "not-found", NULL, "no such call");
    }
    if (strcmp(req->method, "GET") != 0) {
        return error(resp, 405, "method-not-allowed", NULL, "use GET");
    }
    if (parse_query(req->query, watch, &has_watch) < 0) {
        return error(resp, 400, "bad-request", NULL, "the only query is watch=<version>");
    }
    /* Anything that connected must have started before now. */
    uint64_t not_after = agt_boot_ticks_now();
    const struct wd_net_peer *peer = req->peer;
    if (peer == NULL || !peer->has_cred) {
        return error(resp, 403, "denied", "caller-unknown", "no peer credentials");
    }
    struct agt_caller caller;
    rc = agt_proc_identify(peer->pid, peer->uid, peer->gid, not_after, &w->cache, &caller);
    if (rc < 0) {
        wd_log(WD_LOG_NOTICE, "workload api: pid %ld uid %lu refused: %s", (long)peer->pid,
               (unsigned long)peer->uid, identify_reason(rc));
        return error(resp, 403, "denied", identify_reason(rc),
                     "the calling process could not be identified");
    }
    if (has_watch) {
        int64_t deadline = wd_time_mono_ms() + w->watch_max_ms;
        rc = agt_store_watch(w->store, &caller, watch, deadline, &resp->body, &matched, &served,
                             version);
    } else {
        rc = agt_store_render(w->store, &caller, wd_time_now(), &resp->body, &matched, &served,
                              version);
    }
    if (rc < 0) {
        return rc;
    }
    if (wd_log_level_current >= WD_LOG_DEBUG) {
        char esc[256];
        wd_log(WD_LOG_DEBUG,
               "workload api: pid %ld uid %lu gid %lu exe \"%s\": %zu entries, %zu svids",
               (long)caller.pid, (unsigned long)caller.uid, (unsigned long)caller.gid,
               wd_log_escape(esc, sizeof(esc), caller.path, strlen(caller.path)), matched, served);
    }
    if (matched == 0) {
        wd_buf_cleanup_secret(&resp->body);
        return error(resp, 403, "denied", "no-matching-entry",
                     "no registration entry matches the calling process");
    }
    if (served == 0 && !has_watch) {
        wd_buf_cleanup_secret(&resp->body);
        (void)snprintf(resp->extra_headers, sizeof(resp->extra_headers),
                       "Cache-Control: no-store\r\nRetry-After: 1\r\n");
        return error(resp, 503, "unavailable", "svid-pending", "the SVID is not issued yet; retry");
    }
    resp->status = 200;
    return WD_OK;
}
