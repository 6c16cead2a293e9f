/*
 * tee_client: a TEE workload as tests/integration/065-tee-sim.sh needs it, with the `sim`
 * backend standing in for the TEE. Talks to warden-control over server-authenticated TLS
 * (the server's SVID checked against BUNDLE; no client certificate).
 *
 *   tee_client run URL BUNDLE SIM_KEY MEAS_HEX OUTDIR
 *       POST /v1/tee/challenge {"type":"sim"}; a new P-256 key; a sim report signed with
 *       SIM_KEY (PEM private key) for MEAS_HEX, bound to that key and the nonce; a CSR with
 *       the evidence extension; POST /v1/tee/svid. Writes OUTDIR/key.pem, OUTDIR/csr.pem and,
 *       when issued, OUTDIR/svid.pem (leaf + intermediate) and OUTDIR/answer.json.
 *   tee_client replay URL BUNDLE CSR_FILE
 *       a new challenge, then the saved CSR (whose evidence names an older nonce).
 *   tee_client swapkey URL BUNDLE SIM_KEY MEAS_HEX
 *       evidence bound to one new key in a CSR of another new key.
 *
 * Prints "issued SPIFFE_ID" (exit 0), "refused STATUS REASON" (exit 3), or an error (exit 1).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/bundle.h"
#include "warden/codec.h"
#include "warden/doc.h"
#include "warden/err.h"
#include "warden/evidence.h"
#include "warden/file.h"
#include "warden/net.h"
#include "warden/pki.h"
#include "warden/sim.h"

struct conn {
    struct wd_bundle *bundle;
    struct wd_tls_ctx *tls;
    struct wd_http_client *cli;
};

static int die(const char *what, const char *why)
{
    fprintf(stderr, "tee_client: %s: %s\n", what, why);
    return 1;
}

static int conn_open(struct conn *c, const char *url, const char *bundle)
{
    struct wd_diag d = {{0}};
    memset(c, 0, sizeof(*c));
    if (wd_bundle_load(bundle, NULL, &c->bundle, &d) != WD_OK) {
        return die("bundle", d.msg);
    }
    struct wd_tls_config tc = {
            .role = WD_TLS_CLIENT,
            .bundle = c->bundle,
            .expect_peer_id = NULL,
    };
    if (wd_tls_ctx_new(&tc, &c->tls, &d) != WD_OK) {
        return die("tls", d.msg);
    }
    struct wd_http_client_config cc = {.url = url, .tls = c->tls};
    if (wd_http_client_new(&cc, &c->cli, &d) != WD_OK) {
        return die("client", d.msg);
    }
    return 0;
}

static void conn_close(struct conn *c)
{
    wd_http_client_free(c->cli);
    wd_tls_ctx_unref(c->tls);
    wd_bundle_free(c->bundle);
}

/* POST body to path; *doc gets the parsed JSON answer (owned). Returns the status or -1. */
static int post(struct conn *c, const char *path, const char *body, struct wd_doc **doc,
                struct wd_buf *raw)
{
    struct wd_http_result res;
    struct wd_diag d = {{0}};
    wd_http_result_init(&res);
    int status = -1;
    if (wd_http_client_request(c->cli, "POST", path, "application/json", body, strlen(body), &res,
                               &d)
        != WD_OK) {
        fprintf(stderr, "tee_client: POST %s: %s\n", path, d.msg);
        goto out;
    }
    if (wd_json_parse(path, res.body.p, res.body.len, NULL, doc, &d) != WD_OK) {
        fprintf(stderr, "tee_client: POST %s: answer is not JSON: %s\n", path, d.msg);
        goto out;
    }
    if (raw != NULL && wd_buf_append(raw, res.body.p, res.body.len) != WD_OK) {
        goto out;
    }
    status = res.status;
out:
    wd_http_result_cleanup(&res);
    return status;
}

static const char *member(const struct wd_doc *doc, const char *key)
{
    const struct wd_node *n = wd_node_get(wd_doc_root(doc), key);
    return n != NULL && n->type == WD_NODE_STR ? n->u.s.p : NULL;
}

/* A sim challenge: session id and 32-byte nonce. */
static int challenge(struct conn *c, char sid[64], uint8_t nonce[32])
{
    struct wd_doc *doc = NULL;
    struct wd_buf nb;
    wd_buf_init(&nb, 64);
    int rc = 1;
    int st = post(c, "/v1/tee/challenge", "{\"type\":\"sim\"}", &doc, NULL);
    if (st != 200) {
        const char *why = doc != NULL ? member(doc, "reason") : NULL;
        printf("refused %d %s\n", st, why != NULL ? why : "-");
        rc = 3;
        goto out;
    }
    const char *s = member(doc, "session"), *n = member(doc, "nonce");
    if (s == NULL || n == NULL || strlen(s) >= 64
        || wd_b64_decode(&nb, n, strlen(n), WD_B64_STD) != WD_OK || nb.len != 32) {
        rc = die("challenge", "malformed answer");
        goto out;
    }
    (void)snprintf(sid, 64, "%s", s);
    memcpy(nonce, nb.p, 32);
    rc = 0;
out:
    wd_doc_free(doc);
    wd_buf_cleanup(&nb);
    return rc;
}

/* A PEM CSR of key with sim evidence for meas bound to bind_key and nonce. */
static int make_csr(EVP_PKEY *sim, const uint8_t *meas, size_t mlen, EVP_PKEY *key,
                    EVP_PKEY *bind_key, const uint8_t nonce[32], struct wd_buf *out)
{
    uint8_t bind[WD_EVIDENCE_BINDING_LEN];
    struct wd_buf rep;
    wd_buf_init(&rep, WD_SIM_REPORT_MAX);
    X509_REQ *req = X509_REQ_new();
    BIO *bio = BIO_new(BIO_s_mem());
    int rc = WD_ETLS;
    if (req == NULL || bio == NULL || wd_evidence_binding(bind_key, nonce, 32, bind) != WD_OK
        || wd_sim_report_sign(sim, meas, mlen, bind, &rep) != WD_OK
        || X509_REQ_set_pubkey(req, key) != 1) {
        goto out;
    }
    struct wd_evidence ev = {
            .type = WD_ATTEST_SIM,
            .evidence = {rep.p, rep.len},
            .nonce = {nonce, 32},
    };
    if (wd_evidence_req_add(req, &ev, NULL) != WD_OK || X509_REQ_sign(req, key, EVP_sha256()) <= 0
        || PEM_write_bio_X509_REQ(bio, req) != 1) {
        goto out;
    }
    char *p = NULL;
    long n = BIO_get_mem_data(bio, &p);
    rc = n > 0 ? wd_buf_append(out, p, (size_t)n) : WD_ETLS;
out:
    BIO_free(bio);
    X509_REQ_free(req);
    wd_buf_cleanup(&rep);
    return rc;
}

/* POST /v1/tee/svid; prints the outcome; writes svid.pem / answer.json into outdir if set. */
static int send_csr(struct conn *c, const char *sid, const char *csr, const char *outdir)
{
    struct wd_buf body, raw;
    struct wd_doc *doc = NULL;
    wd_buf_init(&body, (size_t)1 << 20);
    wd_buf_init(&raw, (size_t)1 << 20);
    int rc = 1;
    if (wd_buf_printf(&body, "{\"session\":\"%s\",\"csr\":", sid) != WD_OK
        || wd_json_append_string(&body, csr, strlen(csr)) != WD_OK
        || wd_buf_append_byte(&body, '}') != WD_OK) {
        goto out;
    }
    int st = post(c, "/v1/tee/svid", wd_buf_str(&body), &doc, &raw);
    if (st < 0) {
        goto out;
    }
    if (st != 200) {
        const char *why = member(doc, "reason");
        const char *msg = member(doc, "message");
        printf("refused %d %s\n", st, why != NULL ? why : "-");
        fprintf(stderr, "tee_client: %s\n", msg != NULL ? msg : "");
        rc = 3;
        goto out;
    }
    const char *id = member(doc, "spiffe_id"), *pem = member(doc, "svid_pem");
    if (id == NULL || pem == NULL) {
        rc = die("svid", "malformed answer");
        goto out;
    }
    if (outdir != NULL) {
        char path[4096];
        struct wd_diag d = {{0}};
        (void)snprintf(path, sizeof(path), "%s/svid.pem", outdir);
        if (wd_file_write_atomic(path, pem, strlen(pem), 0644, &d) != WD_OK) {
            rc = die(path, d.msg);
            goto out;
        }
        (void)snprintf(path, sizeof(path), "%s/answer.json", outdir);
        if (wd_file_write_atomic(path, raw.p, raw.len, 0644, &d) != WD_OK) {
            rc = die(path, d.msg);
            goto out;
        }
    }
    printf("issued %s\n", id);
    rc = 0;
out:
    wd_doc_free(doc);
    wd_buf_cleanup(&body);
    wd_buf_cleanup(&raw);
    return rc;
}

static int write_file(const char *dir, const char *name, const struct wd_buf *b, mode_t mode)
{
    char path[4096];
    struct wd_diag d = {{0}};
    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (wd_file_write_atomic(path, b->p, b->len, mode, &d) != WD_OK) {
        return die(path, d.msg);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: tee_client run|replay|swapkey URL BUNDLE ...\n");
        return 1;
    }
    const char *mode = argv[1];
    bool run = strcmp(mode, "run") == 0, swap = strcmp(mode, "swapkey") == 0,
         replay = strcmp(mode, "replay") == 0;
    if ((run && argc != 7) || (swap && argc != 6) || (replay && argc != 5)
        || !(run || swap || replay)) {
        fprintf(stderr, "usage: tee_client run URL BUNDLE SIM_KEY MEAS_HEX OUTDIR\n"
                        "       tee_client replay URL BUNDLE CSR_FILE\n"
                        "       tee_client swapkey URL BUNDLE SIM_KEY MEAS_HEX\n");
        return 1;
    }
    struct conn c;
    EVP_PKEY *sim = NULL, *key = NULL, *other = NULL;
    struct wd_buf meas, csr, kp;
    struct wd_diag d = {{0}};
    wd_buf_init(&meas, 128);
    wd_buf_init(&csr, (size_t)1 << 20);
    wd_buf_init(&kp, 8192);
    char sid[64];
    uint8_t nonce[32];
    int rc = conn_open(&c, argv[2], argv[3]);
    if (rc != 0) {
        goto out;
    }
    if (replay) {
        if (wd_file_read(argv[4], (size_t)1 << 20, &csr, &d) != WD_OK) {
            rc = die(argv[4], d.msg);
            goto out;
        }
        rc = challenge(&c, sid, nonce);
        if (rc == 0) {
            rc = send_csr(&c, sid, wd_buf_str(&csr), NULL);
        }
        goto out;
    }
    if (wd_key_load(argv[4], &sim, &d) != WD_OK) {
        rc = die(argv[4], d.msg);
        goto out;
    }
    if (wd_hex_decode(&meas, argv[5], strlen(argv[5])) != WD_OK) {
        rc = die("measurement", "not hex");
        goto out;
    }
    if (wd_key_generate(&key, &d) != WD_OK || wd_key_generate(&other, &d) != WD_OK) {
        rc = die("key", d.msg);
        goto out;
    }
    rc = challenge(&c, sid, nonce);
    if (rc != 0) {
        goto out;
    }
    if (make_csr(sim, meas.p, meas.len, key, swap ? other : key, nonce, &csr) != WD_OK) {
        rc = die("csr", "cannot make the CSR");
        goto out;
    }
    if (run) {
        if (wd_key_to_pem(key, &kp) != WD_OK || write_file(argv[6], "key.pem", &kp, 0600) != 0
            || write_file(argv[6], "csr.pem", &csr, 0644) != 0) {
            rc = 1;
            goto out;
        }
    }
    rc = send_csr(&c, sid, wd_buf_str(&csr), run ? argv[6] : NULL);
out:
    conn_close(&c);
    EVP_PKEY_free(sim);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
    wd_buf_cleanup(&meas);
    wd_buf_cleanup(&csr);
    wd_buf_cleanup_secret(&kp);
    return rc;
}
