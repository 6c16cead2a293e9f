/*
 * warden-control's shared state: opening (CA, store, audit log), the store handle pool,
 * the group committer, the audit log, metrics and the background monitor.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/doc.h"
#include "warden/log.h"
#include "warden/pki.h"
#include "warden/tpm.h"

const int srv_codes[SRV_CODES_N] = {200, 201, 204, 400, 401, 403, 404,
                                    405, 409, 410, 413, 415, 500, 503};

const char *const srv_reasons[SRV_REASONS_N] = {
        "unauthenticated",
        "admin-only",
        "node-only",
        "not-in-trust-domain",
        "node-unknown",
        "node-untrusted",
        "node-revoked",
        "node-name",
        "ek-attributes",
        "ek-cert",
        "ek-chain",
        "ek-key-mismatch",
        "ek-not-allowed",
        "ek-mismatch",
        "ek-in-use",
        "ak-attributes",
        "ak-not-bound",
        "session-unknown",
        "session-replayed",
        "session-expired",
        "session-node",
        "sig-not-allowed",
        "sig-mismatch",
        "sig-invalid",
        "nonce",
        "pcr-digest",
        "pcr-value",
        "pcr-missing",
        "pcr-unlisted",
        "pcr-values",
        "clock-backwards",
        "reset-backwards",
        "restart-backwards",
        "quote-malformed",
        "ip-fence",
        "csr",
        "token-unknown",
        "token-used",
        "token-expired",
        "token-node",
        "entry-not-on-node",
        "heartbeat-missed",
        "attestation-method",
        "revoked",
        "node-conflict",
        "quote-missing",
        "tpm-public",
        "internal",
        "evidence-missing",
        "evidence-malformed",
        "evidence-type",
        "sim-disabled",
        "evidence-invalid",
        "binding",
        "tee-policy",
        "measurement-not-allowed",
};

static const char *const route_names[SRV_R_COUNT] = {
        "healthz",      "metrics",        "bundle",         "tpm_begin",   "tpm_finish",
        "join_token",   "node_challenge", "node_heartbeat", "node_renew",  "node_entries",
        "node_svids",   "denylist",       "admin_nodes",    "admin_node",  "admin_revoke",
        "admin_tokens", "admin_entries",  "admin_entry",    "admin_audit", "tee_challenge",
        "tee_svid",     "other",
};

const char *srv_route_name(enum srv_route r)
{
    return (unsigned)r < SRV_R_COUNT ? route_names[r] : "other";
}

void srv_time_ms_format(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        (void)snprintf(out, 32, "1970-01-01T00:00:00.000Z");
        return;
    }
    char tmp[96];
    (void)snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   (int)(ms % 1000 < 0 ? 0 : ms % 1000));
    size_t l = strnlen(tmp, 31);
    memcpy(out, tmp, l);
    out[l] = '\0';
}

/* ---- metrics ---- */

void srv_metric_http(struct srv *s, enum srv_route r, int status)
{
    size_t c = SRV_CODES_N;
    for (size_t i = 0; i < SRV_CODES_N; i++) {
        if (srv_codes[i] == status) {
            c = i;
        }
    }
    if ((unsigned)r >= SRV_R_COUNT) {
        r = SRV_R_OTHER;
    }
    atomic_fetch_add_explicit(&s->m.http[r][c], 1, memory_order_relaxed);
}

void srv_metric_refusal(struct srv *s, const char *reason)
{
    size_t k = SRV_REASONS_N;
    for (size_t i = 0; reason != NULL && i < SRV_REASONS_N; i++) {
        if (strcmp(srv_reasons[i], reason) == 0) {
            k = i;
            break;
        }
    }
    atomic_fetch_add_explicit(&s->m.refusals[k], 1, memory_order_relaxed);
}

void srv_metric_attest(struct srv *s, int method, bool ok)
{
    atomic_fetch_add_explicit(&s->m.attest[method ? 1 : 0][ok ? 0 : 1], 1, memory_order_relaxed);
}

static void metric_batch(struct srv *s, size_t n)
{
    size_t b = 0;
    while (b < SRV_BATCH_BUCKETS && n > ((size_t)1 << b)) {
        b++;
    }
    atomic_fetch_add_explicit(&s->m.batch_bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->m.batch_sum, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->m.batch_count, 1, memory_order_relaxed);
}

static unsigned long long ld(atomic_ullong *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

int srv_metrics_render(struct srv *s, struct wd_store *st, struct wd_buf *out)
{
    WD_TRY(wd_buf_append_str(out, "# HELP warden_http_requests_total HTTP requests answered.\n"
                                  "# TYPE warden_http_requests_total counter\n"));
    for (size_t r = 0; r < SRV_R_COUNT; r++) {
        for (size_t c = 0; c <= SRV_CODES_N; c++) {
            unsigned long long v = ld(&s->m.http[r][c]);
            if (v == 0) {
                continue;
            }
            char code[8];
            (void)snprintf(code, sizeof(code), "%d", c < SRV_CODES_N ? srv_codes[c] : 0);
            WD_TRY(wd_buf_printf(out, "warden_http_requests_total{route=\"%s\",code=\"%s\"} %llu\n",
                                 route_names[r], c < SRV_CODES_N ? code : "other", v));
        }
    }
    WD_TRY(wd_buf_append_str(out, "# HELP warden_attestations_total Node attestations.\n"
                                  "# TYPE warden_attestations_total counter\n"));
    static const char *const methods[2] = {"tpm", "join-token"};
    static const char *const results[2] = {"ok", "refused"};
    for (size_t m = 0; m < 2; m++) {
        for (size_t r = 0; r < 2; r++) {
            WD_TRY(wd_buf_printf(out,
                                 "warden_attestations_total{method=\"%s\",result=\"%s\"} %llu\n",
                                 methods[m], results[r], ld(&s->m.attest[m][r])));
        }
    }
    WD_TRY(wd_buf_printf(out,
                         "# HELP warden_svids_issued_total SVIDs issued and recorded.\n"
                         "# TYPE warden_svids_issued_total counter\n"
                         "warden_svids_issued_total{kind=\"node\"} %llu\n"
                         "warden_svids_issued_total{kind=\"workload\"} %llu\n",
                         ld(&s->m.issued[0]), ld(&s->m.issued[1])));
    WD_TRY(wd_buf_append_str(out, "# HELP warden_refusals_total Refused requests by reason.\n"
                                  "# TYPE warden_refusals_total counter\n"));
    for (size_t i = 0; i <= SRV_REASONS_N; i++) {
        unsigned long long v = ld(&s->m.refusals[i]);
        if (v != 0) {
            WD_TRY(wd_buf_printf(out, "warden_refusals_total{reason=\"%s\"} %llu\n",
                                 i < SRV_REASONS_N ? srv_reasons[i] : "other", v));
        }
    }
    WD_TRY(wd_buf_append_str(out, "# HELP warden_issue_batch_size SVID records per group commit.\n"
                                  "# TYPE warden_issue_batch_size histogram\n"));
    unsigned long long cum = 0;
    for (size_t b = 0; b <= SRV_BATCH_BUCKETS; b++) {
        cum += ld(&s->m.batch_bucket[b]);
        if (b < SRV_BATCH_BUCKETS) {
            WD_TRY(wd_buf_printf(out, "warden_issue_batch_size_bucket{le=\"%zu\"} %llu\n",
                                 (size_t)1 << b, cum));
        } else {
            WD_TRY(wd_buf_printf(out, "warden_issue_batch_size_bucket{le=\"+Inf\"} %llu\n", cum));
        }
    }
    WD_TRY(wd_buf_printf(out,
                         "warden_issue_batch_size_sum %llu\nwarden_issue_batch_size_count %llu\n",
                         ld(&s->m.batch_sum), ld(&s->m.batch_count)));
    /* gauges read from the store at scrape time */
    struct wd_store_node *nodes = NULL;
    size_t n = 0;
    if (st != NULL && wd_store_node_list(st, &nodes, &n) == WD_OK) {
        size_t trusted = 0;
        for (size_t i = 0; i < n; i++) {
            trusted += nodes[i].trusted ? 1 : 0;
        }
        wd_store_nodes_free(nodes, n);
        WD_TRY(wd_buf_printf(out,
                             "# HELP warden_nodes Enrolled nodes.\n# TYPE warden_nodes gauge\n"
                             "warden_nodes{trusted=\"true\"} %zu\n"
                             "warden_nodes{trusted=\"false\"} %zu\n",
                             trusted, n - trusted));
    }
    int64_t seq = 0;
    struct wd_store_deny *d = NULL;
    size_t nd = 0;
    if (st != NULL && wd_store_deny_list_since(st, INT64_MAX - 1, 1, &d, &nd, &seq) == WD_OK) {
        wd_store_denies_free(d, nd);
        WD_TRY(wd_buf_printf(out,
                             "# HELP warden_denylist_sequence Current deny-list sequence.\n"
                             "# TYPE warden_denylist_sequence gauge\n"
                             "warden_denylist_sequence %lld\n",
                             (long long)seq));
    }
    WD_TRY(wd_buf_printf(out,
                         "# HELP warden_build_info Build of this warden-control.\n"
                         "# TYPE warden_build_info gauge\n"
                         "warden_build_info{version=\"%s\"} 1\n",
                         WD_CONTROL_VERSION));
    return WD_OK;
}

/* ---- audit ---- */

static int json_str_or_null(struct wd_buf *out, const char *s)
{
    if (s == NULL) {
        return wd_buf_append_str(out, "null");
    }
    return wd_json_append_string(out, s, strlen(s));
}

int srv_audit_json(struct wd_buf *out, const struct wd_store_audit *ev, bool has_id)
{
    char t[32];
    srv_time_ms_format(ev->time_ms, t);
    WD_TRY(wd_buf_append_byte(out, '{'));
    if (has_id) {
        WD_TRY(wd_buf_printf(out, "\"id\":%lld,", (long long)ev->id));
    }
    const char *kind = wd_audit_kind_name(ev->kind);
    WD_TRY(wd_buf_printf(out, "\"time\":\"%s\",\"kind\":\"%s\",\"actor\":", t,
                         kind != NULL ? kind : "unknown"));
    WD_TRY(json_str_or_null(out, ev->actor));
    WD_TRY(wd_buf_append_str(out, ",\"subject\":"));
    WD_TRY(json_str_or_null(out, ev->subject));
    WD_TRY(wd_buf_append_str(out, ",\"reason\":"));
    WD_TRY(json_str_or_null(out, ev->reason));
    WD_TRY(wd_buf_append_str(out, ",\"details\":"));
    /* details is JSON the control plane wrote itself */
    WD_TRY(wd_buf_append_str(out, ev->details != NULL ? ev->details : "null"));
    return wd_buf_append_byte(out, '}');
}

void srv_audit_write_lines(struct srv *s, const char *text, size_t len)
{
    if (pthread_mutex_lock(&s->audit.mu) != 0) {
        return;
    }
    if (s->audit.fd >= 0) {
        size_t off = 0;
        while (off < len) {
            ssize_t w = write(s->audit.fd, text + off, len - off);
            if (w == -1) {
                if (errno == EINTR) {
                    continue;
                }
                wd_log(WD_LOG_ERR, "audit log %s: write: %s", s->audit.path, strerror(errno));
                break;
            }
            off += (size_t)w;
        }
        if (fdatasync(s->audit.fd) == -1) {
            wd_log(WD_LOG_ERR, "audit log %s: fdatasync: %s", s->audit.path, strerror(errno));
        }
    }
    (void)pthread_mutex_unlock(&s->audit.mu);
}

int srv_audit(struct srv *s, struct wd_store *st, enum wd_audit_kind kind, const char *actor,
              const char *subject, const char *reason, const char *details)
{
    struct wd_store_audit ev = {0, wd_time_now_ms(), kind, actor, subject, reason, details};
    int64_t id = 0;
    bool has_id = false;
    int rc = WD_OK;
    if (st != NULL) {
        rc = wd_store_audit_append(st, &ev, &id);
        if (rc != WD_OK) {
            wd_log(WD_LOG_ERR, "audit: store: %s: %s", wd_strerror(rc), wd_store_error(st));
        } else {
            has_id = true;
            ev.id = id;
        }
    }
    struct wd_buf line;
    wd_buf_init(&line, WD_STORE_DOC_MAX + 8192);
    int rc2 = srv_audit_json(&line, &ev, has_id);
    if (rc2 == WD_OK) {
        rc2 = wd_buf_append_byte(&line, '\n');
    }
    if (rc2 == WD_OK) {
        srv_audit_write_lines(s, (const char *)line.p, line.len);
    }
    wd_buf_cleanup(&line);
    return rc != WD_OK ? rc : rc2;
}

static int audit_open(struct srv_audit_log *a, struct wd_diag *diag)
{
    int fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd == -1) {
        return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "%s: %s", a->path, strerror(errno));
    }
    a->fd = fd;
    return WD_OK;
}

int srv_audit_reopen(struct srv *s)
{
    WD_ENSURE(pthread_mutex_lock(&s->audit.mu) == 0, WD_EIO);
    int old = s->audit.fd;
    struct wd_diag d;
    int rc = audit_open(&s->audit, &d);
    if (rc == WD_OK) {
        if (old >= 0) {
            (void)close(old);
        }
    } else {
        s->audit.fd = old;
        wd_log(WD_LOG_ERR, "audit log: reopen: %s", d.msg);
    }
    (void)pthread_mutex_unlock(&s->audit.mu);
    return rc;
}

/* ---- store pool ---- */

int srv_store_get(struct srv *s, struct wd_store **out)
{
    WD_ENSURE(pthread_mutex_lock(&s->pool_mu) == 0, WD_EIO);
    if (s->n_pool > 0) {
        *out = s->pool[--s->n_pool];
        (void)pthread_mutex_unlock(&s->pool_mu);
        return WD_OK;
    }
    (void)pthread_mutex_unlock(&s->pool_mu);
    struct wd_diag d;
    int rc = wd_store_open(s->cfg.store, out, &d);
    if (rc != WD_OK) {
        wd_log(WD_LOG_ERR, "store: %s", d.msg);
    }
    return rc;
}

void srv_store_put(struct srv *s, struct wd_store *st, bool bad)
{
    if (st == NULL) {
        return;
    }
    if (!bad && pthread_mutex_lock(&s->pool_mu) == 0) {
        if (s->n_pool == s->cap_pool) {
            size_t nc = s->cap_pool == 0 ? 8 : 2 * s->cap_pool;
            struct wd_store **np = wd_reallocarray(s->pool, nc, sizeof(struct wd_store *));
            if (np != NULL) {
                s->pool = np;
                s->cap_pool = nc;
            }
        }
        if (s->n_pool < s->cap_pool) {
            s->pool[s->n_pool++] = st;
            st = NULL;
        }
        (void)pthread_mutex_unlock(&s->pool_mu);
    }
    wd_store_close(st);
}

/* ---- group committer ---- */

/* Write jobs[0..n) (total records k) in one transaction; on failure, each job alone. */
static void commit_jobs(struct srv *s, struct srv_commit_job **jobs, size_t n, size_t k)
{
    struct wd_store *st = s->com.st;
    struct wd_store_svid *sv = NULL;
    struct wd_store_audit *au = NULL;
    int rc = WD_ENOMEM;
    if (n == 1) {
        rc = wd_store_svid_record_batch(st, jobs[0]->svids, jobs[0]->audits, jobs[0]->n);
        jobs[0]->rc = rc;
    } else {
        sv = wd_calloc(k, sizeof(*sv));
        au = wd_calloc(k, sizeof(*au));
        if (sv != NULL && au != NULL) {
            size_t off = 0;
            for (size_t i = 0; i < n; i++) {
                memcpy(sv + off, jobs[i]->svids, jobs[i]->n * sizeof(*sv));
                memcpy(au + off, jobs[i]->audits, jobs[i]->n * sizeof(*au));
                off += jobs[i]->n;
            }
            rc = wd_store_svid_record_batch(st, sv, au, k);
        }
        if (rc == WD_OK) {
            for (size_t i = 0; i < n; i++) {
                jobs[i]->rc = WD_OK;
            }
        } else {
            /* one bad job (a repeated serial) must not fail the others */
            for (size_t i = 0; i < n; i++) {
                jobs[i]->rc =
                        wd_store_svid_record_batch(st, jobs[i]->svids, jobs[i]->audits, jobs[i]->n);
            }
        }
    }
    wd_free(sv);
    wd_free(au);
    /* the audit file gets the committed records' lines, one write and one fdatasync */
    struct wd_buf lines;
    wd_buf_init(&lines, (size_t)1 << 30);
    size_t committed = 0;
    for (size_t i = 0; i < n; i++) {
        if (jobs[i]->rc != WD_OK) {
            wd_log(WD_LOG_ERR, "group commit: %s: %s", wd_strerror(jobs[i]->rc),
                   wd_store_error(st));
            continue;
        }
        committed += jobs[i]->n;
        for (size_t j = 0; jobs[i]->audit_lines != NULL && j < jobs[i]->n; j++) {
            if (wd_buf_append_str(&lines, jobs[i]->audit_lines[j]) != WD_OK) {
                wd_log(WD_LOG_ERR, "audit log: out of memory; lines lost (they are in the store)");
                break;
            }
        }
    }
    if (lines.len > 0) {
        srv_audit_write_lines(s, (const char *)lines.p, lines.len);
    }
    wd_buf_cleanup(&lines);
    if (committed > 0) {
        metric_batch(s, committed);
    }
}

static void *committer_main(void *arg)
{
    struct srv *s = arg;
    struct srv_committer *c = &s->com;
    size_t cap = c->cap_jobs;
    struct srv_commit_job **jobs = c->jobs;
    c->jobs = NULL;
    (void)pthread_mutex_lock(&c->mu);
    for (;;) {
        while (c->head == NULL && !c->stop) {
            (void)pthread_cond_wait(&c->wake, &c->mu);
        }
        if (c->head == NULL) {
            break; /* stop, and everything queued is written */
        }
        size_t n = 0, k = 0;
        while (c->head != NULL && (n == 0 || k + c->head->n <= s->cfg.batch_max)) {
            if (n == cap || jobs == NULL) {
                size_t nc = jobs == NULL ? 64 : 2 * cap;
                struct srv_commit_job **nj =
                        wd_reallocarray(jobs, nc, sizeof(struct srv_commit_job *));
                if (nj == NULL) {
                    if (n > 0) {
                        break;
                    }
                    /* no memory even for one: fail this job */
                    struct srv_commit_job *j = c->head;
                    c->head = j->next;
                    j->rc = WD_ENOMEM;
                    j->done = true;
                    (void)pthread_cond_broadcast(&c->done);
                    continue;
                }
                jobs = nj;
                cap = nc;
            }
            struct srv_commit_job *j = c->head;
            c->head = j->next;
            jobs[n++] = j;
            k += j->n;
        }
        if (c->head == NULL) {
            c->tail = NULL;
        }
        if (n == 0) {
            continue;
        }
        (void)pthread_mutex_unlock(&c->mu);
        commit_jobs(s, jobs, n, k);
        (void)pthread_mutex_lock(&c->mu);
        for (size_t i = 0; i < n; i++) {
            jobs[i]->done = true;
        }
        (void)pthread_cond_broadcast(&c->done);
    }
    (void)pthread_mutex_unlock(&c->mu);
    wd_free(jobs);
    return NULL;
}

int srv_commit(struct srv *s, struct srv_commit_job *job)
{
    struct srv_committer *c = &s->com;
    job->done = false;
    job->rc = WD_EIO;
    job->next = NULL;
    if (job->n == 0) {
        return WD_OK;
    }
    WD_ENSURE(pthread_mutex_lock(&c->mu) == 0, WD_EIO);
    if (c->stop || !c->running) {
        (void)pthread_mutex_unlock(&c->mu);
        return WD_EIO;
    }
    if (c->tail != NULL) {
        c->tail->next = job;
    } else {
        c->head = job;
    }
    c->tail = job;
    (void)pthread_cond_signal(&c->wake);
    while (!job->done) {
        (void)pthread_cond_wait(&c->done, &c->mu);
    }
    (void)pthread_mutex_unlock(&c->mu);
    return job->rc;
}

/* ---- monitor ---- */

int srv_monitor_pass(struct srv *s, int64_t now)
{
    struct wd_store *st = NULL;
    WD_TRY(srv_store_get(s, &st));
    struct wd_store_node *nodes = NULL;
    size_t n = 0;
    int rc = wd_store_node_list(st, &nodes, &n);
    if (rc == WD_OK) {
        for (size_t i = 0; i < n; i++) {
            const struct wd_store_node *nd = &nodes[i];
            int64_t last = nd->last_attested != 0 ? nd->last_attested : nd->created_at;
            if (!nd->trusted || last + s->cfg.heartbeat_grace >= now) {
                continue;
            }
            int r2 = wd_store_node_set_trusted(st, nd->name, false, "heartbeat-missed", now, NULL);
            if (r2 == WD_OK) {
                wd_log(WD_LOG_WARN, "node %s: no good heartbeat for %llds: untrusted", nd->name,
                       (long long)(now - last));
                srv_metric_refusal(s, "heartbeat-missed");
                if (srv_audit(s, st, WD_AUDIT_REFUSAL, "warden-control", nd->name,
                              "heartbeat-missed", NULL)
                    != WD_OK) {
                    wd_log(WD_LOG_WARN, "node %s: audit record failed", nd->name);
                }
            }
        }
        wd_store_nodes_free(nodes, n);
    }
    size_t purged = 0;
    if (wd_store_session_purge(st, now - 60, &purged) != WD_OK
        || wd_store_token_purge(st, now - 86400, &purged) != WD_OK) {
        wd_log(WD_LOG_WARN, "purge: %s", wd_store_error(st));
    }
    srv_store_put(s, st, rc == WD_EDB);
    return rc;
}

static void *monitor_main(void *arg)
{
    struct srv *s = arg;
    int64_t period = s->cfg.heartbeat / 4;
    if (period < 1) {
        period = 1;
    }
    if (period > 15) {
        period = 15;
    }
    (void)pthread_mutex_lock(&s->mon_mu);
    while (!s->mon_stop) {
        struct timespec ts;
        (void)clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)period;
        int w = pthread_cond_timedwait(&s->mon_cv, &s->mon_mu, &ts);
        if (s->mon_stop) {
            break;
        }
        if (w != ETIMEDOUT && w != 0) {
            continue;
        }
        (void)pthread_mutex_unlock(&s->mon_mu);
        int64_t now = wd_time_now();
        if (srv_monitor_pass(s, now) != WD_OK) {
            wd_log(WD_LOG_WARN, "monitor: pass failed");
        }
        if (s->renew_cb != NULL && s->renew_at != 0 && now >= s->renew_at) {
            if (s->renew_cb(s, s->renew_arg) != WD_OK) {
                wd_log(WD_LOG_ERR, "serving certificate renewal failed; retrying");
            }
        }
        (void)pthread_mutex_lock(&s->mon_mu);
    }
    (void)pthread_mutex_unlock(&s->mon_mu);
    return NULL;
}

int srv_monitor_start(struct srv *s)
{
    WD_ENSURE(!s->mon_running, WD_EINVAL);
    WD_ENSURE(pthread_create(&s->mon_thread, NULL, monitor_main, s) == 0, WD_EIO);
    s->mon_running = true;
    return WD_OK;
}

/* ---- open / close ---- */

static int pem_of_cert(X509 *c, char **out)
{
    struct wd_buf b;
    wd_buf_init(&b, WD_STORE_DOC_MAX);
    int rc = wd_cert_to_pem(c, &b);
    if (rc == WD_OK) {
        *out = wd_buf_steal(&b, NULL);
        rc = *out != NULL ? WD_OK : WD_ENOMEM;
    }
    wd_buf_cleanup(&b);
    return rc;
}

/* Record the trust domain and CA in a new store, or check that the store is ours. */
static int store_bind(struct srv *s, struct wd_store *st, const char *ca_dir, struct wd_diag *diag)
{
    char *name = NULL;
    int64_t seq = 0;
    int rc = wd_store_td_get(st, &name, &seq);
    if (rc == WD_ENOENT) {
        int64_t now = wd_time_now();
        rc = wd_store_td_init(st, s->td.name, now);
        char *root_pem = NULL;
        char keyref[4096];
        (void)snprintf(keyref, sizeof(keyref), "%s/root.key", ca_dir);
        if (rc == WD_OK) {
            rc = pem_of_cert(wd_ca_root(s->ca), &root_pem);
        }
        int64_t na = 0;
        if (rc == WD_OK) {
            rc = wd_cert_not_after(wd_ca_root(s->ca), &na);
        }
        if (rc == WD_OK) {
            rc = wd_store_ca_add(st, root_pem, keyref, na, now, NULL, &seq);
        }
        wd_free(root_pem);
        if (rc != WD_OK) {
            return wd_diag_set(diag, rc, NULL, 0, 0, "store: recording the trust domain: %s",
                               wd_store_error(st));
        }
        s->bundle_seq = seq;
        return WD_OK;
    }
    if (rc != WD_OK) {
        return wd_diag_set(diag, rc, NULL, 0, 0, "store: %s", wd_store_error(st));
    }
    bool same = strcmp(name, s->td.name) == 0;
    if (!same) {
        rc = wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0,
                         "store belongs to trust domain %s, the CA to %s", name, s->td.name);
    }
    wd_free(name);
    s->bundle_seq = seq;
    return rc;
}

static int make_bundle_texts(struct srv *s)
{
    struct wd_bundle *b = NULL;
    struct wd_buf pem, json;
    wd_buf_init(&pem, WD_STORE_DOC_MAX);
    wd_buf_init(&json, WD_STORE_DOC_MAX);
    int rc;
    WD_CHECK(wd_ca_bundle(s->ca, &b));
    wd_bundle_set_sequence(b, (uint64_t)(s->bundle_seq > 0 ? s->bundle_seq : 1));
    WD_CHECK(wd_bundle_to_pem(b, &pem));
    WD_CHECK(wd_bundle_to_json(b, &json));
    while (json.len > 0 && json.p[json.len - 1] == '\n') {
        json.len--;
        json.p[json.len] = '\0';
    }
    s->bundle_pem = wd_buf_steal(&pem, NULL);
    s->bundle_json = wd_buf_steal(&json, NULL);
    rc = s->bundle_pem != NULL && s->bundle_json != NULL ? WD_OK : WD_ENOMEM;
    if (rc == WD_OK) {
        rc = pem_of_cert(wd_ca_intermediate(s->ca), &s->intermediate_pem);
    }
out:
    wd_bundle_free(b);
    wd_buf_cleanup(&pem);
    wd_buf_cleanup(&json);
    return rc;
}

int srv_open(struct srv_config *cfg, const char *ca_dir, struct srv **out, struct wd_diag *diag)
{
    struct srv *s = wd_calloc(1, sizeof(*s));
    WD_ENSURE(s != NULL, WD_ENOMEM);
    int rc;
    struct wd_store *st = NULL;
    s->audit.fd = -1;
    (void)pthread_mutex_init(&s->pool_mu, NULL);
    (void)pthread_mutex_init(&s->audit.mu, NULL);
    (void)pthread_mutex_init(&s->com.mu, NULL);
    (void)pthread_cond_init(&s->com.wake, NULL);
    (void)pthread_cond_init(&s->com.done, NULL);
    (void)pthread_mutex_init(&s->mon_mu, NULL);
    (void)pthread_cond_init(&s->mon_cv, NULL);
    s->cfg = *cfg;
    srv_config_init(cfg);
    if (s->cfg.store == NULL || s->cfg.audit_log == NULL) {
        rc = wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "configuration not finished");
        goto out;
    }
    WD_CHECK(wd_ca_load_dir(ca_dir, &s->ca, diag));
    s->td = *wd_ca_trust_domain(s->ca);
    rc = wd_cert_not_after(wd_ca_intermediate(s->ca), &s->ca_not_after);
    if (rc != WD_OK) {
        rc = wd_diag_set(diag, rc, NULL, 0, 0, "%s: intermediate NotAfter unreadable", ca_dir);
        goto out;
    }
    if (s->cfg.ek_ca_dir != NULL) {
        WD_CHECK(wd_tpm_ca_store_load(s->cfg.ek_ca_dir, &s->ek_store, diag));
    }
    WD_CHECK(wd_store_open(s->cfg.store, &st, diag));
    s->store_backend = wd_strdup(wd_store_backend(st));
    if (s->store_backend == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    WD_CHECK(store_bind(s, st, ca_dir, diag));
    rc = make_bundle_texts(s);
    if (rc != WD_OK) {
        rc = wd_diag_set(diag, rc, NULL, 0, 0, "building the trust bundle: %s", wd_strerror(rc));
        goto out;
    }
    s->audit.path = wd_strdup(s->cfg.audit_log);
    if (s->audit.path == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    WD_CHECK(audit_open(&s->audit, diag));
    /* the committer's own handle */
    WD_CHECK(wd_store_open(s->cfg.store, &s->com.st, diag));
    s->com.cap_jobs = 64;
    s->com.jobs = wd_calloc(s->com.cap_jobs, sizeof(struct srv_commit_job *));
    if (s->com.jobs == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    if (pthread_create(&s->com.thread, NULL, committer_main, s) != 0) {
        rc = wd_diag_set(diag, WD_EIO, NULL, 0, 0, "cannot start the committer thread");
        goto out;
    }
    s->com.running = true;
    srv_store_put(s, st, false);
    st = NULL;
    *out = s;
    s = NULL;
    rc = WD_OK;
out:
    wd_store_close(st);
    srv_close(s);
    return rc;
}

void srv_close(struct srv *s)
{
    if (s == NULL) {
        return;
    }
    if (s->mon_running) {
        (void)pthread_mutex_lock(&s->mon_mu);
        s->mon_stop = true;
        (void)pthread_cond_broadcast(&s->mon_cv);
        (void)pthread_mutex_unlock(&s->mon_mu);
        (void)pthread_join(s->mon_thread, NULL);
    }
    if (s->com.running) {
        (void)pthread_mutex_lock(&s->com.mu);
        s->com.stop = true;
        (void)pthread_cond_broadcast(&s->com.wake);
        (void)pthread_mutex_unlock(&s->com.mu);
        (void)pthread_join(s->com.thread, NULL);
    }
    wd_store_close(s->com.st);
    wd_free(s->com.jobs);
    for (size_t i = 0; i < s->n_pool; i++) {
        wd_store_close(s->pool[i]);
    }
    wd_free(s->pool);
    if (s->audit.fd >= 0) {
        (void)close(s->audit.fd);
    }
    wd_free(s->audit.path);
    wd_free(s->store_backend);
    wd_free(s->bundle_pem);
    wd_free(s->bundle_json);
    wd_free(s->intermediate_pem);
    X509_STORE_free(s->ek_store);
    wd_ca_free(s->ca);
    srv_config_cleanup(&s->cfg);
    (void)pthread_mutex_destroy(&s->pool_mu);
    (void)pthread_mutex_destroy(&s->audit.mu);
    (void)pthread_mutex_destroy(&s->com.mu);
    (void)pthread_cond_destroy(&s->com.wake);
    (void)pthread_cond_destroy(&s->com.done);
    (void)pthread_mutex_destroy(&s->mon_mu);
    (void)pthread_cond_destroy(&s->mon_cv);
    wd_free(s);
}
