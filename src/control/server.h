/*
 * warden-control's shared state: configuration, CA, trust bundle, store handles, the group
 * committer, the audit log and the metrics. One struct srv serves every connection thread;
 * what it holds is either immutable after srv_open, atomic, or guarded by its own mutex.
 */
#ifndef SRV_SERVER_H
#define SRV_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "warden/buf.h"
#include "warden/bundle.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/spiffe.h"
#include "warden/store.h"
#include "warden/svid.h"

#include "config.h"

#ifndef WD_VERSION
#define WD_VERSION "0.1.0-dev"
#endif
#define WD_CONTROL_VERSION WD_VERSION

/* ---- metrics ---- */

/* The routes of docs/api.md, for the route label of warden_http_requests_total. */
enum srv_route {
    SRV_R_HEALTHZ,
    SRV_R_METRICS,
    SRV_R_BUNDLE,
    SRV_R_TPM_BEGIN,
    SRV_R_TPM_FINISH,
    SRV_R_JOIN_TOKEN,
    SRV_R_NODE_CHALLENGE,
    SRV_R_NODE_HEARTBEAT,
    SRV_R_NODE_RENEW,
    SRV_R_NODE_ENTRIES,
    SRV_R_NODE_SVIDS,
    SRV_R_DENYLIST,
    SRV_R_ADMIN_NODES,
    SRV_R_ADMIN_NODE,
    SRV_R_ADMIN_REVOKE,
    SRV_R_ADMIN_TOKENS,
    SRV_R_ADMIN_ENTRIES,
    SRV_R_ADMIN_ENTRY,
    SRV_R_ADMIN_AUDIT,
    SRV_R_TEE_CHALLENGE,
    SRV_R_TEE_SVID,
    SRV_R_OTHER,
    SRV_R_COUNT
};

/* Status codes the API answers with (index into the code label). */
#define SRV_CODES_N 14
extern const int srv_codes[SRV_CODES_N];

/* Refusal reasons counted by warden_refusals_total (anything else counts as "other"). */
#define SRV_REASONS_N 56
extern const char *const srv_reasons[SRV_REASONS_N];

#define SRV_BATCH_BUCKETS 12 /* histogram upper bounds 1, 2, 4, ... 2048, then +Inf */

struct srv_metrics {
    atomic_ullong http[SRV_R_COUNT][SRV_CODES_N + 1];
    atomic_ullong attest[2][2]; /* [tpm, join-token][ok, refused] */
    atomic_ullong issued[2];    /* [node, workload] */
    atomic_ullong refusals[SRV_REASONS_N + 1];
    atomic_ullong batch_bucket[SRV_BATCH_BUCKETS + 1];
    atomic_ullong batch_sum;
    atomic_ullong batch_count;
};

/* ---- group commit ---- */

/* One request's SVID records, committed together with everyone else's queued ones. */
struct srv_commit_job {
    const struct wd_store_svid *svids;   /* borrowed; n records */
    const struct wd_store_audit *audits; /* borrowed; n events */
    const char *const *audit_lines;      /* borrowed; n JSON lines for the audit file, or NULL */
    size_t n;
    int rc; /* result, set by the committer */
    bool done;
    struct srv_commit_job *next;
};

struct srv_committer {
    pthread_mutex_t mu;
    pthread_cond_t wake; /* committer: work queued or stop */
    pthread_cond_t done; /* waiters: some job finished */
    struct srv_commit_job *head, *tail;
    bool stop;
    bool running;
    pthread_t thread;
    struct wd_store *st;          /* the committer's own handle */
    struct srv_commit_job **jobs; /* the committer's working array (made before it starts) */
    size_t cap_jobs;
};

/* ---- audit log ---- */

struct srv_audit_log {
    pthread_mutex_t mu;
    int fd; /* -1 when no file */
    char *path;
};

/* ---- the server ---- */

struct srv {
    struct srv_config cfg; /* owned */
    struct wd_spiffe_td td;
    struct wd_ca *ca;
    int64_t ca_not_after; /* intermediate's NotAfter: caps every SVID */
    char *bundle_pem;     /* owned: the root(s), PEM */
    char *bundle_json;    /* owned: SPIFFE bundle JSON (no trailing newline) */
    int64_t bundle_seq;
    char *intermediate_pem; /* owned: sent after each leaf */
    X509_STORE *ek_store;   /* owned; NULL without tpm.ek_ca_dir */

    /* store handles not in use (one per thread at a time) */
    pthread_mutex_t pool_mu;
    struct wd_store **pool;
    size_t n_pool, cap_pool;
    char *store_backend; /* "sqlite" / "postgresql" */

    struct srv_committer com;
    struct srv_audit_log audit;
    struct srv_metrics m;

    /* background monitor (heartbeat grace, purges, serving-cert renewal) */
    pthread_mutex_t mon_mu;
    pthread_cond_t mon_cv;
    bool mon_stop;
    bool mon_running;
    pthread_t mon_thread;
    /* called by the monitor to renew the serving certificate; may be NULL */
    int (*renew_cb)(struct srv *s, void *arg);
    void *renew_arg;
    int64_t renew_at; /* Unix seconds; 0: never */
};

/*
 * Make a server from cfg (moved into s on success: cfg is left initialised) and the CA
 * directory ca_dir: loads the CA, opens the store (recording the trust domain and the CA
 * root on first use, and refusing a store of another trust domain), opens the audit log,
 * loads the EK CA store, and starts the committer thread. *out owned (srv_close).
 * WD_ECONFIG / WD_EDB / WD_EIO / WD_ENOMEM with diag.
 */
WD_MUST_USE int srv_open(struct srv_config *cfg, const char *ca_dir, struct srv **out,
                         struct wd_diag *diag);

/* Start the background monitor thread. WD_EIO. */
WD_MUST_USE int srv_monitor_start(struct srv *s);

/*
 * Stop the monitor and the committer (which first commits everything queued), close every
 * store handle and the audit log, free s. Accepts NULL. Call after the HTTP server stopped.
 */
void srv_close(struct srv *s);

/* One monitor pass at time now: heartbeat grace, session and token purges. For tests. */
WD_MUST_USE int srv_monitor_pass(struct srv *s, int64_t now);

/* Borrow a store handle for this thread (opening one when none is free). WD_EDB, WD_ENOMEM. */
WD_MUST_USE int srv_store_get(struct srv *s, struct wd_store **out);
/* Give a handle back (NULL is ignored). bad: close it instead of pooling it. */
void srv_store_put(struct srv *s, struct wd_store *st, bool bad);

/*
 * Queue job and wait until the committer wrote it (one transaction with every other queued
 * job, at most cfg.batch_max records). Returns job->rc: WD_OK, WD_EEXIST, WD_EDB, ...
 * Thread-safe.
 */
WD_MUST_USE int srv_commit(struct srv *s, struct srv_commit_job *job);

/* ---- audit ---- */

/*
 * Append one event to the store (through st) and, as one JSON line, to the audit log file
 * (written with one write(2), then fdatasync'ed). details is a JSON object text or NULL.
 * Never given secrets. Failures are logged and returned (WD_EDB / WD_EIO / WD_ENOMEM).
 */
WD_MUST_USE int srv_audit(struct srv *s, struct wd_store *st, enum wd_audit_kind kind,
                          const char *actor, const char *subject, const char *reason,
                          const char *details);

/* Append ev as the AUDIT JSON object of docs/api.md (id left out when has_id is false). */
WD_MUST_USE int srv_audit_json(struct wd_buf *out, const struct wd_store_audit *ev, bool has_id);

/* Write already formatted lines (each ending in '\n') to the audit file and fdatasync once. */
void srv_audit_write_lines(struct srv *s, const char *text, size_t len);

/* Reopen the audit log file (SIGHUP, after rotation). WD_EIO. */
WD_MUST_USE int srv_audit_reopen(struct srv *s);

/* ---- metrics ---- */

void srv_metric_http(struct srv *s, enum srv_route r, int status);
void srv_metric_refusal(struct srv *s, const char *reason);
/* method: 0 tpm, 1 join-token; ok: attestation passed. */
void srv_metric_attest(struct srv *s, int method, bool ok);
/* Append the Prometheus text exposition (format 0.0.4). */
WD_MUST_USE int srv_metrics_render(struct srv *s, struct wd_store *st, struct wd_buf *out);

/* The route name for labels ("tpm_begin", ...). */
const char *srv_route_name(enum srv_route r);

/* The time as RFC 3339 with milliseconds ("2026-11-25T18:00:00.123Z") into out (32 bytes). */
void srv_time_ms_format(int64_t ms, char out[32]);

#endif
