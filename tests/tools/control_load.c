/*
 * control_load: load and attestation client for a running warden-control, through its REST
 * API (docs/api.md). Used by bench/identity/run.sh and tests/integration/07x-*.sh. Modes:
 *
 *   issue   enrol one node with a join token (admin call), register ENTRIES entries on it,
 *           then THREADS client threads, each with its own keep-alive mTLS connection as
 *           that node, post /v1/node/svids with BATCH CSRs per call for SECONDS. Every SVID
 *           counted was signed and committed to the store before its answer arrived.
 *           Prints: issue: threads=N batch=B svids=X seconds=S rate=R p50_ms=A p99_ms=B
 *   issue-n enrol NODE with a join token, register one entry on it, then THREADS threads
 *           issue N SVIDs in all, one per call. Each received SVID prints "serial HEX" (the
 *           DER INTEGER content bytes of its serial, lower-case hex: what the store keeps).
 *           A call that fails (connection refused or reset, timeout, 5xx) is retried with
 *           backoff (25 ms doubling to 1 s) for up to 120 s: the control plane may be down.
 *           Ends with: issued: N retries=R
 *   attest  with a TPM (TCTI, e.g. swtpm): create the EK (RSA, with its NV certificate) and
 *           an AK once, then ROUNDS full attestation rounds: /v1/attest/tpm/begin (EK and AK
 *           checked, MakeCredential, nonce) -> ActivateCredential and TPM2_Quote on the TPM
 *           -> /v1/attest/tpm/finish (quote verified, node SVID issued). Each round is timed
 *           end to end. Prints: attest: rounds=N p50_ms=A p99_ms=B mean_ms=C (p50 of the
 *           steps: begin=D tpm=E finish=F), the steps being the begin call, the TPM work
 *           (ActivateCredential + PCR reads + quote) and the finish call.
 *   attest-fault  one attestation round per MODE of the comma-separated list MODES, each
 *           with one fault: ok (none), replay (finish sent twice; the second answer is
 *           reported), nonce (quote over another nonce), expired (sleeps SLEEP_MS, default
 *           2500, between begin and finish), ak-not-bound (one bit of the activated secret
 *           flipped), no-ek-cert (begin without the EK certificate). Prints one line per mode:
 *           "MODE: step=begin|finish status=S reason=R" (reason "-" when the answer has none).
 *
 * Usage:
 *   control_load issue  URL CONTROL_DIR NODE THREADS SECONDS BATCH ENTRIES
 *   control_load issue-n URL CONTROL_DIR NODE N THREADS
 *   control_load attest URL CONTROL_DIR NODE TCTI ROUNDS
 *   control_load attest-fault URL CONTROL_DIR NODE TCTI MODES [SLEEP_MS]
 * CONTROL_DIR is what `warden-control init` made (admin.pem, admin.key, bundle.pem).
 * Exit status: 0 done, 1 error (one line on stderr), 2 usage.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/bundle.h"
#include "warden/codec.h"
#include "warden/doc.h"
#include "warden/net.h"
#include "warden/pki.h"
#include "warden/rand.h"
#include "warden/tpm.h"
#include "warden/tpm_dev.h"

#define BODY_MAX (16u << 20)

static double now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what, const char *why)
{
    (void)fprintf(stderr, "control_load: %s: %s\n", what, why);
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(double *v, size_t n, double p)
{
    if (n == 0) {
        return 0;
    }
    qsort(v, n, sizeof(*v), cmp_double);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* A connection to the control plane; cert/key NULL for server-authenticated TLS only. */
static struct wd_http_client *connect_to(const char *url, const struct wd_bundle *bundle,
                                         const struct wd_tls_config *id)
{
    struct wd_tls_config tc = {.role = WD_TLS_CLIENT, .bundle = bundle};
    if (id != NULL) {
        tc.cert = id->cert;
        tc.chain = id->chain;
        tc.key = id->key;
        tc.cert_file = id->cert_file;
        tc.key_file = id->key_file;
    }
    struct wd_tls_ctx *tls = NULL;
    struct wd_http_client *cli = NULL;
    struct wd_diag d;
    if (wd_tls_ctx_new(&tc, &tls, &d) < 0) {
        die("tls", d.msg);
    }
    struct wd_http_client_config cc = {.url = url, .tls = tls, .max_body = BODY_MAX};
    if (wd_http_client_new(&cc, &cli, &d) < 0) {
        die(url, d.msg);
    }
    wd_tls_ctx_unref(tls); /* the client keeps its own reference */
    return cli;
}

/* One call that must answer 2xx with JSON; the parsed answer in *doc (owned). */
static void call(struct wd_http_client *cli, const char *method, const char *path,
                 const struct wd_buf *body, struct wd_doc **doc)
{
    struct wd_http_result res;
    memset(&res, 0, sizeof(res));
    struct wd_diag d;
    if (wd_http_client_request(cli, method, path, "application/json", body != NULL ? body->p : NULL,
                               body != NULL ? body->len : 0, &res, &d)
        < 0) {
        die(path, d.msg);
    }
    if (res.status < 200 || res.status > 299) {
        (void)fprintf(stderr, "control_load: %s %s: HTTP %d: %.*s\n", method, path, res.status,
                      (int)res.body.len, res.body.p != NULL ? (const char *)res.body.p : "");
        exit(1);
    }
    if (wd_json_parse(path, res.body.p, res.body.len, NULL, doc, &d) < 0) {
        die(path, d.msg);
    }
    wd_http_result_cleanup(&res);
}

static const char *str_of(const struct wd_node *obj, const char *key)
{
    const struct wd_node *v = wd_node_get(obj, key);
    if (v == NULL || v->type != WD_NODE_STR) {
        die("answer", key);
    }
    return v->u.s.p;
}

static void append_json_str(struct wd_buf *b, const char *s)
{
    if (wd_json_append_string(b, s, strlen(s)) < 0) {
        die("request", "too large");
    }
}

static void append_b64(struct wd_buf *b, struct wd_slice s)
{
    if (wd_buf_append_byte(b, '"') < 0 || wd_b64_encode(b, s.p, s.len, WD_B64_STD) < 0
        || wd_buf_append_byte(b, '"') < 0) {
        die("request", "too large");
    }
}

static void b64_of(const struct wd_node *obj, const char *key, struct wd_buf *out)
{
    const char *s = str_of(obj, key);
    wd_buf_reset(out);
    if (wd_b64_decode(out, s, strlen(s), WD_B64_STD) < 0) {
        die("answer: bad base64 in", key);
    }
}

static void make_csr(EVP_PKEY **key, struct wd_buf *csr)
{
    struct wd_diag d;
    if (wd_key_generate(key, &d) < 0 || wd_csr_create(*key, NULL, false, csr, &d) < 0) {
        die("csr", d.msg);
    }
}

/* The node's identity for mTLS from an attestation answer (svid_pem: leaf, intermediate). */
static void node_identity(const struct wd_node *root, EVP_PKEY *key, struct wd_tls_config *id)
{
    const char *pem = str_of(root, "svid_pem");
    STACK_OF(X509) *certs = NULL;
    struct wd_diag d;
    if (wd_certs_parse("svid_pem", pem, strlen(pem), &certs, &d) < 0) {
        die("node svid", d.msg);
    }
    memset(id, 0, sizeof(*id));
    id->cert = sk_X509_shift(certs);
    id->chain = certs;
    id->key = key;
}

/* ---- issue mode ---- */

struct worker {
    pthread_t thread;
    const char *url;
    const struct wd_bundle *bundle;
    const struct wd_tls_config *id;
    char (*entries)[64];
    size_t n_entries, batch;
    double deadline;
    uint64_t svids;
    double *lat;
    size_t n_lat, cap_lat;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct wd_http_client *cli = connect_to(w->url, w->bundle, w->id);
    EVP_PKEY *key = NULL;
    struct wd_buf csr, body;
    wd_buf_init(&csr, 8192);
    wd_buf_init(&body, BODY_MAX);
    make_csr(&key, &csr);
    size_t next = 0;
    while (now_ms() < w->deadline) {
        wd_buf_reset(&body);
        if (wd_buf_append_str(&body, "{\"requests\":[") < 0) {
            die("request", "too large");
        }
        for (size_t i = 0; i < w->batch; i++) {
            if (wd_buf_printf(&body, "%s{\"entry_id\":\"%s\",\"csr\":", i ? "," : "",
                              w->entries[next++ % w->n_entries])
                < 0) {
                die("request", "too large");
            }
            append_json_str(&body, wd_buf_str(&csr));
            if (wd_buf_append_byte(&body, '}') < 0) {
                die("request", "too large");
            }
        }
        if (wd_buf_append_str(&body, "]}") < 0) {
            die("request", "too large");
        }
        double t0 = now_ms();
        struct wd_doc *doc = NULL;
        call(cli, "POST", "/v1/node/svids", &body, &doc);
        double t1 = now_ms();
        const struct wd_node *sv = wd_node_get(wd_doc_root(doc), "svids");
        if (sv == NULL || sv->type != WD_NODE_ARR || sv->u.arr.n != w->batch) {
            die("/v1/node/svids", "answer does not hold one SVID per request");
        }
        w->svids += w->batch;
        wd_doc_free(doc);
        if (w->n_lat == w->cap_lat) {
            w->cap_lat = w->cap_lat ? 2 * w->cap_lat : 4096;
            w->lat = wd_reallocarray(w->lat, w->cap_lat, sizeof(*w->lat));
            if (w->lat == NULL) {
                die("latency", "out of memory");
            }
        }
        w->lat[w->n_lat++] = t1 - t0;
    }
    wd_buf_cleanup(&csr);
    wd_buf_cleanup(&body);
    EVP_PKEY_free(key);
    wd_http_client_free(cli);
    return NULL;
}

/* Admin: a join token for node; enrol with it; returns the node's mTLS identity. */
static void enrol_join_token(const char *url, const struct wd_bundle *bundle,
                             struct wd_http_client *admin, const char *node,
                             struct wd_tls_config *id)
{
    struct wd_buf body, csr;
    wd_buf_init(&body, BODY_MAX);
    wd_buf_init(&csr, 8192);
    struct wd_doc *doc = NULL;
    if (wd_buf_printf(&body, "{\"node\":\"%s\",\"ttl\":\"10m\"}", node) < 0) {
        die("request", "too large");
    }
    call(admin, "POST", "/v1/admin/tokens", &body, &doc);
    EVP_PKEY *key = NULL;
    make_csr(&key, &csr);
    wd_buf_reset(&body);
    if (wd_buf_printf(&body, "{\"node\":\"%s\",\"token\":", node) < 0) {
        die("request", "too large");
    }
    append_json_str(&body, str_of(wd_doc_root(doc), "token"));
    wd_doc_free(doc);
    if (wd_buf_append_str(&body, ",\"csr\":") < 0) {
        die("request", "too large");
    }
    append_json_str(&body, wd_buf_str(&csr));
    if (wd_buf_append_byte(&body, '}') < 0) {
        die("request", "too large");
    }
    struct wd_http_client *anon = connect_to(url, bundle, NULL);
    call(anon, "POST", "/v1/attest/join-token", &body, &doc);
    node_identity(wd_doc_root(doc), key, id);
    wd_doc_free(doc);
    wd_http_client_free(anon);
    wd_buf_cleanup(&body);
    wd_buf_cleanup(&csr);
}

static int run_issue(const char *url, const struct wd_bundle *bundle, struct wd_http_client *admin,
                     const char *node, size_t threads, double seconds, size_t batch,
                     size_t n_entries)
{
    struct wd_tls_config id;
    enrol_join_token(url, bundle, admin, node, &id);
    char(*entries)[64] = wd_calloc(n_entries, sizeof(*entries));
    struct worker *w = wd_calloc(threads, sizeof(*w));
    if (entries == NULL || w == NULL) {
        die("setup", "out of memory");
    }
    struct wd_buf body;
    wd_buf_init(&body, 4096);
    for (size_t i = 0; i < n_entries; i++) {
        wd_buf_reset(&body);
        struct wd_doc *doc = NULL;
        if (wd_buf_printf(&body,
                          "{\"spiffe_id\":\"spiffe://%s/bench/w%zu\",\"node\":\"%s\","
                          "\"selectors\":{\"uid\":%zu},\"ttl\":\"1h\"}",
                          wd_bundle_trust_domain(bundle)->name, i, node, 10000 + i)
            < 0) {
            die("request", "too large");
        }
        call(admin, "POST", "/v1/admin/entries", &body, &doc);
        (void)snprintf(entries[i], sizeof(entries[i]), "%s", str_of(wd_doc_root(doc), "id"));
        wd_doc_free(doc);
    }
    wd_buf_cleanup(&body);
    double t0 = now_ms();
    for (size_t i = 0; i < threads; i++) {
        w[i] = (struct worker){.url = url,
                               .bundle = bundle,
                               .id = &id,
                               .entries = entries,
                               .n_entries = n_entries,
                               .batch = batch,
                               .deadline = t0 + seconds * 1e3};
        if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
            die("thread", "cannot start");
        }
    }
    uint64_t total = 0;
    size_t n_lat = 0;
    for (size_t i = 0; i < threads; i++) {
        (void)pthread_join(w[i].thread, NULL);
        total += w[i].svids;
        n_lat += w[i].n_lat;
    }
    double elapsed = (now_ms() - t0) / 1e3;
    double *lat = wd_calloc(n_lat ? n_lat : 1, sizeof(*lat));
    if (lat == NULL) {
        die("latency", "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < threads; i++) {
        memcpy(lat + k, w[i].lat, w[i].n_lat * sizeof(*lat));
        k += w[i].n_lat;
        wd_free(w[i].lat);
    }
    double p50 = percentile(lat, n_lat, 0.50), p99 = percentile(lat, n_lat, 0.99);
    printf("issue: threads=%zu batch=%zu svids=%" PRIu64 " seconds=%.2f rate=%.0f p50_ms=%.2f "
           "p99_ms=%.2f\n",
           threads, batch, total, elapsed, (double)total / elapsed, p50, p99);
    wd_free(lat);
    wd_free(w);
    wd_free(entries);
    X509_free(id.cert);
    sk_X509_pop_free(id.chain, X509_free);
    EVP_PKEY_free(id.key);
    return 0;
}

/* ---- issue-n mode ---- */

struct issue_n {
    const char *url;
    const struct wd_bundle *bundle;
    const struct wd_tls_config *id;
    const char *entry;
    pthread_mutex_t lock;
    size_t want, claimed, done;
    uint64_t retries;
};

/* The DER INTEGER content bytes of the leaf's serial, hex, into out (at least 2*21+1). */
static void leaf_serial_hex(const char *pem, char *out, size_t cap)
{
    STACK_OF(X509) *certs = NULL;
    struct wd_diag d;
    if (wd_certs_parse("svid_pem", pem, strlen(pem), &certs, &d) < 0) {
        die("svid_pem", d.msg);
    }
    unsigned char *der = NULL;
    int n = i2d_ASN1_INTEGER(X509_get0_serialNumber(sk_X509_value(certs, 0)), &der);
    /* tag 0x02, one short-form length byte (a serial is at most 20 octets + sign) */
    if (n < 3 || der[1] != n - 2 || (size_t)(2 * (n - 2) + 1) > cap) {
        die("svid_pem", "unexpected serial encoding");
    }
    for (int i = 2; i < n; i++) {
        (void)snprintf(out + 2 * (i - 2), 3, "%02x", der[i]);
    }
    OPENSSL_free(der);
    sk_X509_pop_free(certs, X509_free);
}

static void sleep_ms(double ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1e3),
                          .tv_nsec = (long)((ms - (double)(time_t)(ms / 1e3) * 1e3) * 1e6)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void *issue_n_main(void *arg)
{
    struct issue_n *w = arg;
    struct wd_http_client *cli = connect_to(w->url, w->bundle, w->id);
    EVP_PKEY *key = NULL;
    struct wd_buf csr, body;
    wd_buf_init(&csr, 8192);
    wd_buf_init(&body, BODY_MAX);
    make_csr(&key, &csr);
    if (wd_buf_printf(&body, "{\"requests\":[{\"entry_id\":\"%s\",\"csr\":", w->entry) < 0) {
        die("request", "too large");
    }
    append_json_str(&body, wd_buf_str(&csr));
    if (wd_buf_append_str(&body, "}]}") < 0) {
        die("request", "too large");
    }
    for (;;) {
        (void)pthread_mutex_lock(&w->lock);
        bool more = w->claimed < w->want;
        w->claimed += more ? 1 : 0;
        (void)pthread_mutex_unlock(&w->lock);
        if (!more) {
            break;
        }
        double backoff = 25, give_up = now_ms() + 120e3;
        struct wd_http_result res;
        wd_http_result_init(&res);
        for (;;) {
            struct wd_diag d;
            int rc = wd_http_client_request(cli, "POST", "/v1/node/svids", "application/json",
                                            body.p, body.len, &res, &d);
            if (rc >= 0 && res.status == 200) {
                break;
            }
            if (rc >= 0 && res.status < 500) {
                (void)fprintf(stderr, "control_load: /v1/node/svids: HTTP %d: %.*s\n", res.status,
                              (int)res.body.len, (const char *)res.body.p);
                exit(1);
            }
            if (now_ms() > give_up) {
                die("/v1/node/svids: gave up after 120 s", rc < 0 ? d.msg : "5xx");
            }
            (void)pthread_mutex_lock(&w->lock);
            w->retries++;
            (void)pthread_mutex_unlock(&w->lock);
            sleep_ms(backoff);
            backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
        }
        struct wd_doc *doc = NULL;
        struct wd_diag d;
        if (wd_json_parse("svids", res.body.p, res.body.len, NULL, &doc, &d) < 0) {
            die("/v1/node/svids", d.msg);
        }
        const struct wd_node *sv = wd_node_get(wd_doc_root(doc), "svids");
        if (sv == NULL || sv->type != WD_NODE_ARR || sv->u.arr.n != 1) {
            die("/v1/node/svids", "answer does not hold one SVID");
        }
        char hex[64];
        leaf_serial_hex(str_of(sv->u.arr.items[0], "svid_pem"), hex, sizeof(hex));
        wd_doc_free(doc);
        wd_http_result_cleanup(&res);
        (void)pthread_mutex_lock(&w->lock);
        w->done++;
        printf("serial %s\n", hex);
        (void)fflush(stdout);
        (void)pthread_mutex_unlock(&w->lock);
    }
    wd_buf_cleanup(&csr);
    wd_buf_cleanup(&body);
    EVP_PKEY_free(key);
    wd_http_client_free(cli);
    return NULL;
}

static int run_issue_n(const char *url, const struct wd_bundle *bundle,
                       struct wd_http_client *admin, const char *node, size_t n, size_t threads)
{
    struct wd_tls_config id;
    enrol_join_token(url, bundle, admin, node, &id);
    struct wd_buf body;
    wd_buf_init(&body, 4096);
    struct wd_doc *doc = NULL;
    if (wd_buf_printf(&body,
                      "{\"spiffe_id\":\"spiffe://%s/load/%s\",\"node\":\"%s\","
                      "\"selectors\":{\"uid\":4242},\"ttl\":\"1h\"}",
                      wd_bundle_trust_domain(bundle)->name, node, node)
        < 0) {
        die("request", "too large");
    }
    call(admin, "POST", "/v1/admin/entries", &body, &doc);
    char entry[64];
    (void)snprintf(entry, sizeof(entry), "%s", str_of(wd_doc_root(doc), "id"));
    wd_doc_free(doc);
    wd_buf_cleanup(&body);
    struct issue_n w = {.url = url, .bundle = bundle, .id = &id, .entry = entry, .want = n};
    (void)pthread_mutex_init(&w.lock, NULL);
    pthread_t *th = wd_calloc(threads, sizeof(*th));
    if (th == NULL) {
        die("setup", "out of memory");
    }
    for (size_t i = 0; i < threads; i++) {
        if (pthread_create(&th[i], NULL, issue_n_main, &w) != 0) {
            die("thread", "cannot start");
        }
    }
    for (size_t i = 0; i < threads; i++) {
        (void)pthread_join(th[i], NULL);
    }
    printf("issued: %zu retries=%" PRIu64 "\n", w.done, w.retries);
    wd_free(th);
    (void)pthread_mutex_destroy(&w.lock);
    X509_free(id.cert);
    sk_X509_pop_free(id.chain, X509_free);
    EVP_PKEY_free(id.key);
    return w.done == n ? 0 : 1;
}

/* ---- attest modes ---- */

enum fault { F_NONE, F_REPLAY, F_NONCE, F_EXPIRED, F_AK, F_NO_EK_CERT };

static const struct {
    const char *name;
    enum fault f;
} fault_names[] = {{"ok", F_NONE},         {"replay", F_REPLAY},   {"nonce", F_NONCE},
                   {"expired", F_EXPIRED}, {"ak-not-bound", F_AK}, {"no-ek-cert", F_NO_EK_CERT}};

struct tpm_node {
    double t_begin, t_tpm; /* last round: ms when begin answered, when the TPM was done */
    struct wd_tpm_dev *dev;
    struct wd_buf ek_pub, ek_cert, ak_pub, ak_priv, body, tmp1, tmp2, secret, attest, sig, pcrs,
            csr, nonce;
    EVP_PKEY *key;
};

static struct wd_buf *tpm_bufs(struct tpm_node *t, size_t i)
{
    struct wd_buf *b[] = {&t->ek_pub, &t->ek_cert, &t->ak_pub, &t->ak_priv, &t->body,
                          &t->tmp1,   &t->tmp2,    &t->secret, &t->attest,  &t->sig,
                          &t->pcrs,   &t->csr,     &t->nonce};
    return i < WD_ARRAY_LEN(b) ? b[i] : NULL;
}

static void tpm_node_open(struct tpm_node *t, const char *tcti)
{
    struct wd_diag d;
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; tpm_bufs(t, i) != NULL; i++) {
        wd_buf_init(tpm_bufs(t, i), BODY_MAX);
    }
    if (wd_tpm_dev_open(tcti, &t->dev, &d) < 0
        || wd_tpm_dev_ek(t->dev, false, &t->ek_pub, &t->ek_cert, &d) < 0
        || wd_tpm_dev_ak_create(t->dev, &t->ak_pub, &t->ak_priv, &d) < 0) {
        die(tcti, d.msg);
    }
    make_csr(&t->key, &t->csr);
}

static void tpm_node_close(struct tpm_node *t)
{
    for (size_t i = 0; tpm_bufs(t, i) != NULL; i++) {
        wd_buf_cleanup(tpm_bufs(t, i));
    }
    EVP_PKEY_free(t->key);
    wd_tpm_dev_close(t->dev);
}

/* POST body to path; transport errors die; the answer in *res. */
static void post(struct wd_http_client *cli, const char *path, const struct wd_buf *body,
                 struct wd_http_result *res)
{
    struct wd_diag d;
    if (wd_http_client_request(cli, "POST", path, "application/json", body->p, body->len, res, &d)
        < 0) {
        die(path, d.msg);
    }
}

/*
 * One attestation round with fault f; the answer of the step that ended it in *res, the
 * step's name in *step ("begin" or "finish"). Returns its HTTP status.
 */
static int attest_round(struct wd_http_client *anon, struct tpm_node *t, const char *node,
                        enum fault f, double sleep_for, struct wd_http_result *res,
                        const char **step)
{
    struct wd_diag d;
    struct wd_buf *body = &t->body;
    wd_buf_reset(body);
    if (wd_buf_printf(body, "{\"node\":\"%s\",\"ek_public\":", node) < 0) {
        die("request", "too large");
    }
    append_b64(body, wd_buf_slice(&t->ek_pub));
    if (t->ek_cert.len > 0 && f != F_NO_EK_CERT) {
        if (wd_buf_append_str(body, ",\"ek_cert\":") < 0) {
            die("request", "too large");
        }
        append_b64(body, wd_buf_slice(&t->ek_cert));
    }
    if (wd_buf_append_str(body, ",\"ak_public\":") < 0) {
        die("request", "too large");
    }
    append_b64(body, wd_buf_slice(&t->ak_pub));
    if (wd_buf_append_byte(body, '}') < 0) {
        die("request", "too large");
    }
    *step = "begin";
    post(anon, "/v1/attest/tpm/begin", body, res);
    t->t_begin = now_ms();
    if (res->status != 200) {
        return res->status;
    }
    struct wd_doc *doc = NULL;
    if (wd_json_parse("begin", res->body.p, res->body.len, NULL, &doc, &d) < 0) {
        die("begin", d.msg);
    }
    const struct wd_node *root = wd_doc_root(doc);
    struct wd_tpm_pcr_selection sel;
    b64_of(root, "credential_blob", &t->tmp1);
    b64_of(root, "encrypted_secret", &t->tmp2);
    b64_of(root, "nonce", &t->nonce);
    if (f == F_NONCE) {
        if (wd_rand_bytes(t->nonce.p, t->nonce.len) < 0) {
            die("rand", "failed");
        }
    }
    wd_buf_reset(&t->secret);
    wd_buf_reset(&t->attest);
    wd_buf_reset(&t->sig);
    wd_buf_reset(&t->pcrs);
    if (wd_tpm_pcr_spec_parse(str_of(root, "pcr_selection"), &sel, &d) < 0
        || wd_tpm_dev_activate(t->dev, wd_buf_slice(&t->tmp1), wd_buf_slice(&t->tmp2), &t->secret,
                               &d)
                   < 0
        || wd_tpm_dev_quote(t->dev, &sel, wd_buf_slice(&t->nonce), &t->attest, &t->sig, &t->pcrs,
                            &d)
                   < 0) {
        die("tpm", d.msg);
    }
    if (f == F_AK && t->secret.len > 0) {
        t->secret.p[0] ^= 0x01;
    }
    wd_buf_reset(body);
    if (wd_buf_append_str(body, "{\"session\":") < 0) {
        die("request", "too large");
    }
    append_json_str(body, str_of(root, "session"));
    wd_doc_free(doc);
    if (wd_buf_append_str(body, ",\"secret\":") < 0) {
        die("request", "too large");
    }
    append_b64(body, wd_buf_slice(&t->secret));
    if (wd_buf_append_str(body, ",\"quote\":{\"attest\":") < 0) {
        die("request", "too large");
    }
    append_b64(body, wd_buf_slice(&t->attest));
    if (wd_buf_append_str(body, ",\"signature\":") < 0) {
        die("request", "too large");
    }
    append_b64(body, wd_buf_slice(&t->sig));
    if (wd_buf_append_str(body, ",\"pcr_values\":") < 0) {
        die("request", "too large");
    }
    append_b64(body, wd_buf_slice(&t->pcrs));
    if (wd_buf_append_str(body, "},\"csr\":") < 0) {
        die("request", "too large");
    }
    append_json_str(body, wd_buf_str(&t->csr));
    if (wd_buf_append_byte(body, '}') < 0) {
        die("request", "too large");
    }
    t->t_tpm = now_ms();
    if (f == F_EXPIRED) {
        sleep_ms(sleep_for);
    }
    *step = "finish";
    post(anon, "/v1/attest/tpm/finish", body, res);
    if (f == F_REPLAY && res->status == 200) {
        post(anon, "/v1/attest/tpm/finish", body, res);
    }
    return res->status;
}

static int run_attest(const char *url, const struct wd_bundle *bundle, const char *node,
                      const char *tcti, size_t rounds)
{
    struct tpm_node t;
    tpm_node_open(&t, tcti);
    struct wd_http_client *anon = connect_to(url, bundle, NULL);
    double *lat = wd_calloc(4 * rounds, sizeof(*lat));
    if (lat == NULL) {
        die("latency", "out of memory");
    }
    double *l_begin = lat + rounds, *l_tpm = lat + 2 * rounds, *l_finish = lat + 3 * rounds;
    struct wd_http_result res;
    wd_http_result_init(&res);
    double sum = 0;
    for (size_t r = 0; r < rounds; r++) {
        const char *step = NULL;
        double t0 = now_ms();
        int status = attest_round(anon, &t, node, F_NONE, 0, &res, &step);
        if (status != 200) {
            (void)fprintf(stderr, "control_load: %s: HTTP %d: %.*s\n", step, status,
                          (int)res.body.len, (const char *)res.body.p);
            exit(1);
        }
        double t1 = now_ms();
        lat[r] = t1 - t0;
        l_begin[r] = t.t_begin - t0;
        l_tpm[r] = t.t_tpm - t.t_begin;
        l_finish[r] = t1 - t.t_tpm;
        sum += lat[r];
    }
    double mean = sum / (double)rounds;
    double p50 = percentile(lat, rounds, 0.50), p99 = percentile(lat, rounds, 0.99);
    printf("attest: rounds=%zu p50_ms=%.2f p99_ms=%.2f mean_ms=%.2f (p50 of the steps: begin=%.2f "
           "tpm=%.2f finish=%.2f)\n",
           rounds, p50, p99, mean, percentile(l_begin, rounds, 0.5), percentile(l_tpm, rounds, 0.5),
           percentile(l_finish, rounds, 0.5));
    wd_http_result_cleanup(&res);
    wd_free(lat);
    wd_http_client_free(anon);
    tpm_node_close(&t);
    return 0;
}

static int run_attest_fault(const char *url, const struct wd_bundle *bundle, const char *node,
                            const char *tcti, const char *modes, double sleep_for)
{
    enum fault list[32];
    const char *names[32];
    size_t n = 0;
    for (const char *p = modes; *p != '\0';) {
        size_t len = strcspn(p, ",");
        size_t k = 0;
        while (k < WD_ARRAY_LEN(fault_names)
               && !(strlen(fault_names[k].name) == len
                    && strncmp(fault_names[k].name, p, len) == 0)) {
            k++;
        }
        if (k == WD_ARRAY_LEN(fault_names) || n == WD_ARRAY_LEN(list)) {
            die("MODES", "unknown mode (ok, replay, nonce, expired, ak-not-bound, no-ek-cert)");
        }
        names[n] = fault_names[k].name;
        list[n++] = fault_names[k].f;
        p += len;
        p += *p == ',' ? 1 : 0;
    }
    struct tpm_node t;
    tpm_node_open(&t, tcti);
    struct wd_http_client *anon = connect_to(url, bundle, NULL);
    struct wd_http_result res;
    wd_http_result_init(&res);
    for (size_t i = 0; i < n; i++) {
        const char *step = NULL;
        int status = attest_round(anon, &t, node, list[i], sleep_for, &res, &step);
        const char *reason = "-";
        struct wd_doc *doc = NULL;
        struct wd_diag d;
        if (status != 200
            && wd_json_parse("answer", res.body.p, res.body.len, NULL, &doc, &d) == WD_OK) {
            const struct wd_node *r = wd_node_get(wd_doc_root(doc), "reason");
            reason = r != NULL && r->type == WD_NODE_STR ? r->u.s.p : "-";
        }
        printf("%s: step=%s status=%d reason=%s\n", names[i], step, status, reason);
        (void)fflush(stdout);
        wd_doc_free(doc);
    }
    wd_http_result_cleanup(&res);
    wd_http_client_free(anon);
    tpm_node_close(&t);
    return 0;
}

static size_t num_arg(const char *s, size_t lo, size_t hi, const char *what)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end != '\0' || v < lo || v > hi) {
        die(what, "out of range");
    }
    return (size_t)v;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    bool issue = argc == 9 && strcmp(mode, "issue") == 0;
    bool issue_n = argc == 7 && strcmp(mode, "issue-n") == 0;
    bool attest = argc == 7 && strcmp(mode, "attest") == 0;
    bool fault = (argc == 7 || argc == 8) && strcmp(mode, "attest-fault") == 0;
    if (!issue && !issue_n && !attest && !fault) {
        (void)fprintf(stderr,
                      "usage: control_load issue URL CONTROL_DIR NODE THREADS SECONDS BATCH "
                      "ENTRIES\n"
                      "       control_load issue-n URL CONTROL_DIR NODE N THREADS\n"
                      "       control_load attest URL CONTROL_DIR NODE TCTI ROUNDS\n"
                      "       control_load attest-fault URL CONTROL_DIR NODE TCTI MODES "
                      "[SLEEP_MS]\n");
        return 2;
    }
    /* stdout may be a pipe read line by line (serials) */
    (void)setvbuf(stdout, NULL, _IOLBF, 0);
    const char *url = argv[2], *dir = argv[3], *node = argv[4];
    char bundle_path[4096], cert[4096], key[4096];
    (void)snprintf(bundle_path, sizeof(bundle_path), "%s/bundle.pem", dir);
    (void)snprintf(cert, sizeof(cert), "%s/admin.pem", dir);
    (void)snprintf(key, sizeof(key), "%s/admin.key", dir);
    struct wd_bundle *bundle = NULL;
    struct wd_diag d;
    if (wd_bundle_load(bundle_path, NULL, &bundle, &d) < 0) {
        die(bundle_path, d.msg);
    }
    int rc;
    if (issue || issue_n) {
        struct wd_tls_config admin_id = {.cert_file = cert, .key_file = key};
        struct wd_http_client *admin = connect_to(url, bundle, &admin_id);
        if (issue) {
            rc = run_issue(url, bundle, admin, node, num_arg(argv[5], 1, 256, "THREADS"),
                           (double)num_arg(argv[6], 1, 600, "SECONDS"),
                           num_arg(argv[7], 1, 1000, "BATCH"),
                           num_arg(argv[8], 1, 10000, "ENTRIES"));
        } else {
            rc = run_issue_n(url, bundle, admin, node, num_arg(argv[5], 1, 10000000, "N"),
                             num_arg(argv[6], 1, 256, "THREADS"));
        }
        wd_http_client_free(admin);
    } else if (attest) {
        rc = run_attest(url, bundle, node, argv[5], num_arg(argv[6], 1, 100000, "ROUNDS"));
    } else {
        rc = run_attest_fault(url, bundle, node, argv[5], argv[6],
                              argc == 8 ? (double)num_arg(argv[7], 0, 600000, "SLEEP_MS") : 2500);
    }
    wd_bundle_free(bundle);
    return rc;
}
