/*
 * warden-proxy internals shared by its modules: the generation (identity, TLS contexts,
 * policy, audit sink: what SIGHUP replaces), the per-worker event loop, connections, the
 * upstream pool, metrics and audit. See docs/proxy.md for the behaviour.
 *
 * Threads: the main thread loads generations and waits for signals; each worker thread
 * owns an epoll instance, its own SO_REUSEPORT listening sockets, its connections, its
 * timers and its upstream pool, and touches no other worker's objects. Shared state is the
 * current generation (refcounted, swapped under a mutex) and the metrics (atomics).
 */
#ifndef PRX_PROXY_H
#define PRX_PROXY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "warden/buf.h"
#include "warden/bundle.h"
#include "warden/cedar.h"
#include "warden/claims.h"
#include "warden/common.h"
#include "warden/detect.h"
#include "warden/err.h"
#include "warden/http1.h"
#include "warden/route.h"
#include "warden/spiffe.h"

#include "config.h"
#include "policy.h"

/* ---- generations (gen.c) ---- */

struct prx_gen {
    atomic_long refs;
    SSL_CTX *srv; /* inbound listeners: TLS 1.3 server, client certificate required */
    SSL_CTX *cli; /* outbound: TLS 1.3 client with our SVID */
    struct wd_bundle *bundle;
    struct wd_spiffe_id self; /* our SPIFFE ID, from our certificate */
    struct wd_claims self_claims;
    bool has_self_claims;
    struct prx_policy *pol;
    struct wd_route_set *routes;  /* the config's `routes:`, or NULL */
    struct wd_detect_set *detect; /* the config's `detectors:`, or NULL */
    int audit_fd;                 /* -1: none */
    bool audit_owned;
    double sample_allow;
};

/* What the verify callback learnt about a TLS peer. */
struct prx_peerinfo {
    char *id; /* owned; NULL until verified */
    size_t id_len;
    struct wd_claims *claims; /* owned; NULL when the certificate has none */
};
void prx_peerinfo_cleanup(struct prx_peerinfo *pi);

/*
 * Load identity files, policy and audit sink named by cfg into a new generation with one
 * reference; on success cfg->routes and cfg->detect move into it (they become NULL in cfg).
 * WD_OK or an error with diag "file: ..." (nothing is changed on error).
 */
WD_MUST_USE int prx_gen_build(struct prx_config *cfg, struct prx_gen **out, struct wd_diag *diag);
/* Take / drop a reference. put accepts NULL; the last put frees. */
void prx_gen_get(struct prx_gen *g);
void prx_gen_put(struct prx_gen *g);
/* The current generation with a new reference (never NULL once installed). */
struct prx_gen *prx_gen_current(void);
/* Make g (whose reference moves in) current; the old one loses the global reference. */
void prx_gen_install(struct prx_gen *g);
/* A counter bumped by every install, for workers to notice cheaply. */
unsigned long prx_gen_seq(void);
/* Log (at level) and clear the OpenSSL error queue, prefixed by what. */
void prx_ssl_log_errors_at(int level, const char *what);
/* The same at WD_LOG_INFO. */
void prx_ssl_log_errors(const char *what);

/* ---- metrics and audit (metrics.c) ---- */

#define PRX_HIST_BUCKETS 12
struct prx_hist {
    atomic_ulong b[PRX_HIST_BUCKETS + 1]; /* the last is +Inf */
    atomic_ulong sum_us;
    atomic_ulong count;
};
struct prx_metrics {
    atomic_ulong conns_accepted, conns_refused;
    atomic_long conns_active;
    atomic_ulong tls_ok, tls_fail;
    atomic_ulong requests, responses;
    atomic_ulong allow, deny, decide_err;
    atomic_ulong err_bad_request, err_upstream, err_timeout, err_limit;
    atomic_ulong tcp_bytes_in, tcp_bytes_out;
    atomic_ulong reload_ok, reload_fail;
    struct prx_hist request_us; /* request head received -> response queued */
    struct prx_hist decision_us;
};
extern struct prx_metrics prx_m;
/* Count one observation of us microseconds in h (lock-free; any thread). */
void prx_hist_observe(struct prx_hist *h, uint64_t us);
/* Append the Prometheus text exposition of the metrics. WD_ENOMEM / WD_ELIMIT. */
WD_MUST_USE int prx_metrics_render(struct wd_buf *out);

/* One audited decision. Strings are borrowed; policies/errors from the Cedar response. */
struct prx_audit_rec {
    const char *request_id;
    const char *listener;
    const char *ptype, *pid; /* principal */
    size_t pid_len;
    const char *action;
    const char *resource;
    const char *rtype; /* the resource's entity type; NULL: "Workload" */
    bool allow;
    const struct wd_cedar_response *resp; /* NULL: decided without policy (error) */
    const char *reason;                   /* optional, e.g. "eval-error" */
    uint64_t eval_us;
    const char *method; /* optional HTTP fields */
    size_t method_len;
    const char *path;
    size_t path_len;
    unsigned status;
    bool has_bytes; /* TCP: bytes at close */
    uint64_t bytes_in, bytes_out;
    const char *policies_json; /* optional pre-rendered ["a","b"] instead of resp */
};
/* Write one JSON line to g's audit sink (sampled for allows by the caller). */
void prx_audit_write(const struct prx_gen *g, const struct prx_audit_rec *r);
/* Render resp's reasons as a JSON array into out ("[]" when resp is NULL). */
WD_MUST_USE int prx_audit_policies(const struct wd_cedar_response *resp, struct wd_buf *out);

/* ---- engine (engine.c) ---- */

enum prx_ev_kind {
    PRX_EV_LISTEN = 1,
    PRX_EV_DOWN,
    PRX_EV_UP,
    PRX_EV_WAKE,
    PRX_EV_ADMIN_LISTEN,
    PRX_EV_ADMIN,
};

struct prx_evref {
    enum prx_ev_kind kind;
    unsigned li; /* listener index (PRX_EV_LISTEN) */
    void *obj;
};

struct prx_timer {
    int64_t at; /* monotonic ms; 0: not armed */
    size_t idx; /* position in the heap */
    enum prx_ev_kind kind;
    void *obj;
};

/* A socket, plaintext or TLS. */
struct prx_io {
    int fd;
    SSL *ssl;     /* NULL: plaintext */
    bool hs_done; /* TLS handshake finished (always true for plaintext) */
    bool fatal;   /* a TLS error: no close_notify */
    bool eof;     /* the peer closed (read side) */
    bool shut_wr; /* we sent our close (FIN / close_notify) */
};

#define PRX_IO_AGAIN (-1)
#define PRX_IO_ERR   (-2)

struct prx_worker;
struct prx_conn;

/* An upstream connection: owned by a connection, or idle in the worker's pool. */
struct prx_up {
    struct prx_evref ev;
    struct prx_timer tm; /* idle expiry while pooled */
    struct prx_io io;
    struct prx_up *next; /* pool list */
    struct prx_conn *c;  /* owner; NULL while pooled */
    struct prx_gen *gen; /* the generation its TLS was set up with */
    struct prx_peerinfo peer;
    unsigned li;
    bool connecting;
    bool reused;
    bool dead; /* closed; freed after the current event batch */
};

struct prx_x;  /* an HTTP exchange (http.c) */
struct prx_mq; /* an MQTT session (mqtt.c) */

enum prx_conn_state {
    PRX_C_HANDSHAKE = 1, /* downstream TLS handshake */
    PRX_C_IDLE,          /* HTTP: between requests */
    PRX_C_REQ,           /* HTTP: reading a request */
    PRX_C_UPSTREAM,      /* HTTP: waiting for the upstream's response */
    PRX_C_TCP_CONNECT,   /* TCP: connecting / handshaking upstream */
    PRX_C_TCP,           /* TCP: splicing */
    PRX_C_MQTT,          /* MQTT: the session runs (mqtt.c) */
};

struct prx_conn {
    struct prx_evref ev;
    struct prx_timer tm;
    struct prx_conn *prev, *next;
    struct prx_worker *w;
    const struct prx_listener_conf *l;
    unsigned li;
    struct prx_gen *gen;      /* generation at accept (TLS context) */
    struct prx_io d;          /* downstream */
    struct prx_up *up;        /* upstream, when one is attached */
    struct prx_peerinfo peer; /* downstream TLS peer (inbound) */
    char ip[INET_ADDRSTRLEN];
    enum prx_conn_state state;
    bool closing;            /* close once dout is flushed */
    bool dead;               /* closed; freed after the current event batch */
    bool queued;             /* on the worker's ready list */
    struct prx_conn *rnext;  /* ready list */
    bool draining;           /* SIGTERM: close after the current exchange */
    int64_t t_state;         /* monotonic ms when the current state/phase started */
    struct wd_buf din, dout; /* downstream bytes in / out */
    struct wd_buf uin, uout; /* upstream bytes in / out (TCP: uout unused) */
    struct prx_x *x;
    struct prx_mq *mq;
    /* TCP */
    uint64_t bytes_in, bytes_out;
    char *tcp_rid;
    char *tcp_policies;
    uint64_t tcp_eval_us;
};

struct prx_worker {
    unsigned idx;
    pthread_t th;
    int ep;
    int wake_fd;
    struct prx_evref wake_ev;
    int *lfd; /* per listener */
    struct prx_evref *lev;
    int admin_fd; /* worker 0 only; -1 otherwise */
    struct prx_evref admin_ev;
    struct prx_gen *gen;
    unsigned long gen_seq;
    struct prx_timer **heap;
    size_t nheap, capheap;
    struct prx_conn *conns;
    size_t nconns;
    struct prx_up **pool; /* per listener: idle upstreams */
    size_t *npool;
    struct wd_cedar_request *creq;
    struct wd_cedar_scratch *scratch;
    struct wd_detect_scratch *dscratch; /* for dgen->detect, made on first use */
    struct prx_gen *dgen;               /* a reference keeping that set alive */
    uint64_t rid_counter;
    uint64_t rng;
    bool draining;
    int64_t drain_deadline;
    /* Objects closed during an event batch stay allocated until it ends, because later
     * events of the same batch may still point at them. */
    struct prx_conn *dead_conns;
    struct prx_up *dead_ups;
    /* Connections whose pump stopped at its round limit with work left. */
    struct prx_conn *ready;
    uint8_t iobuf[16384];
};

struct prx_engine {
    const struct prx_config *cfg;
    struct prx_worker *w;
    unsigned nw;      /* workers set up */
    unsigned started; /* threads running */
    char rid_prefix[9];
    atomic_int stop;
};
extern struct prx_engine prx_eng;

/*
 * Create the listening sockets of every worker (SO_REUSEPORT) and the admin socket; errors
 * (address in use ...) are reported here, before any thread starts. WD_EIO with diag.
 */
WD_MUST_USE int prx_engine_init(const struct prx_config *cfg, unsigned nworkers,
                                struct wd_diag *diag);
/* Start the worker threads. */
WD_MUST_USE int prx_engine_start(void);
/* Ask every worker to drain and stop; prx_engine_join waits for them. */
void prx_engine_stop(void);
void prx_engine_join(void);
/* Free what prx_engine_init made. */
void prx_engine_cleanup(void);

/* Engine services for the protocol modules (worker thread only). */
/* Monotonic milliseconds. */
int64_t prx_now(void);
/* Arm (or move) t to fire at monotonic ms `at`; a timer is in at most one heap. */
void prx_timer_set(struct prx_worker *w, struct prx_timer *t, int64_t at);
/* Disarm t; no-op when it is not armed. */
void prx_timer_del(struct prx_worker *w, struct prx_timer *t);
/*
 * Read / write once, plaintext or TLS: bytes moved (> 0), 0 at EOF (read; io->eof set),
 * PRX_IO_AGAIN when the socket would block (TLS: in either direction), PRX_IO_ERR.
 */
ssize_t prx_io_read(struct prx_io *io, void *buf, size_t n);
ssize_t prx_io_write(struct prx_io *io, const void *buf, size_t n);
/* 1 done, 0 in progress, -1 failed (logged). */
int prx_io_handshake(struct prx_io *io, bool server);
/* Send our close (FIN or close_notify); best effort. */
void prx_io_shutdown(struct prx_io *io);
/* Close the socket (with close_notify when the TLS session is healthy) and free the SSL. */
void prx_io_close(struct prx_io *io);
/* Read into b (growing up to its cap) until EAGAIN; returns bytes read, 0 at EOF with nothing
 * read (io->eof set), PRX_IO_ERR. Stops when b is full. */
ssize_t prx_io_fill(struct prx_worker *w, struct prx_io *io, struct wd_buf *b);
/* Write from b (consuming) until EAGAIN or empty. Returns bytes written or PRX_IO_ERR. */
ssize_t prx_io_flush(struct prx_io *io, struct wd_buf *b);

/* Start a non-blocking connect of a new upstream for listener li (TLS for outbound). */
WD_MUST_USE int prx_up_connect(struct prx_conn *c, struct prx_up **out);
/* Step an upstream's connect and TLS handshake: 1 ready, 0 in progress, -1 failed. */
int prx_up_ready(struct prx_conn *c, struct prx_up *up);
/* Detach c's upstream: keep it in the pool (keep true) or close it. */
void prx_up_release(struct prx_conn *c, bool keep);
/* An idle pooled upstream for c's listener, attached to c, or NULL. */
struct prx_up *prx_pool_take(struct prx_conn *c);

/* Close a connection now (its upstream too); freed after the current event batch. */
void prx_conn_close(struct prx_conn *c);
/* The pump of c stopped with work left: run it again soon. */
void prx_conn_requeue(struct prx_conn *c);
/* A new request id into out (>= 32 bytes). */
void prx_request_id(struct prx_worker *w, char *out, size_t n);
/* Whether to audit an allow: the generation's sample_allow. */
bool prx_sample(struct prx_worker *w, const struct prx_gen *g);
/*
 * Scan body[0..len) with g's detectors using w's scratch (remade when g's set differs from
 * the one it was made for): res is cleared, and stays empty when g has no detectors. Bodies
 * longer than the set's scan.max_bytes are scanned as their prefix (total = len). is_json
 * enables json_field detectors. PCRE2 limit hits are logged (they count as matches).
 * WD_OK, WD_ENOMEM (the caller fails closed).
 */
WD_MUST_USE int prx_detect(struct prx_worker *w, struct prx_gen *g, const void *body, size_t len,
                           bool is_json, struct wd_detect_result *res);

/* ---- protocols ---- */

/* HTTP (http.c): run the connection's state machine; may close c. */
void prx_http_pump(struct prx_conn *c);
/* A timer of c fired in an HTTP state. */
void prx_http_timeout(struct prx_conn *c);
/* Is c between requests with nothing buffered (so draining may close it)? */
bool prx_http_idle(const struct prx_conn *c);
/* Free c's exchange state (parsers, heads, bodies); c stays open. */
void prx_http_free(struct prx_conn *c);

/* TCP (tcp.c): the state machine (may close c), its timer, and the audit at close. */
void prx_tcp_pump(struct prx_conn *c);
void prx_tcp_timeout(struct prx_conn *c);
void prx_tcp_close(struct prx_conn *c);

/* MQTT (mqtt.c): the state machine (may close c), its timer, and freeing its session. */
void prx_mqtt_pump(struct prx_conn *c);
void prx_mqtt_timeout(struct prx_conn *c);
void prx_mqtt_close(struct prx_conn *c);

/* The downstream TLS handshake finished: check the peer (inbound). false: close. */
bool prx_conn_after_handshake(struct prx_conn *c);

#endif
