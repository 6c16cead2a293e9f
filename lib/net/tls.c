/*
 * TLS 1.3 contexts whose peer verification is wd_svid_verify: OpenSSL's own chain building
 * is replaced (SSL_CTX_set_cert_verify_callback), so every X509-SVID rule, the trust domain
 * check and RFC 5280 path validation against the bundle apply to every handshake, and the
 * verified SPIFFE ID and claims are recorded for the connection.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "warden/alloc.h"
#include "warden/log.h"
#include "warden/pki.h"

#include "net_int.h"

struct wd_tls_ctx {
    atomic_long refs;
    enum wd_tls_role role;
    SSL_CTX *ssl;
    struct wd_bundle *bundle; /* our copy; NULL for a server that asks for no certificate */
    bool has_expect;
    struct wd_spiffe_id expect; /* client: the server's ID must be this */
};

/* The first queued OpenSSL error is the root cause; the queue is emptied either way. */
int wd_net_tls_fail(struct wd_diag *diag, int rc, const char *what)
{
    char first[160] = "";
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        if (first[0] == '\0') {
            const char *reason = ERR_reason_error_string(e);
            if (reason != NULL) {
                (void)snprintf(first, sizeof(first), "%s", reason);
            } else {
                ERR_error_string_n(e, first, sizeof(first));
            }
        }
        if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE) {
            rc = WD_ENOMEM;
        }
    }
    if (first[0] != '\0') {
        return wd_diag_set(diag, rc, NULL, 0, 0, "%s: %s", what, first);
    }
    return wd_diag_set(diag, rc, NULL, 0, 0, "%s", what);
}

/* ---- a socket BIO that never raises SIGPIPE ---- */

static BIO_METHOD *sock_method;
static pthread_once_t sock_once = PTHREAD_ONCE_INIT;

/* BIO write: one send(2); "would block" becomes a retry flag for SSL_get_error. */
static int sock_write(BIO *b, const char *p, int n)
{
    int fd = (int)(intptr_t)BIO_get_data(b);
    BIO_clear_retry_flags(b);
    /* MSG_NOSIGNAL: a peer that went away must give EPIPE, not kill the process. */
    ssize_t w = send(fd, p, (size_t)n, MSG_NOSIGNAL);
    if (w == -1) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            BIO_set_retry_write(b);
        }
        return -1;
    }
    return (int)w;
}

/* BIO read: one recv(2); 0 is the end of the stream. */
static int sock_read(BIO *b, char *p, int n)
{
    int fd = (int)(intptr_t)BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t r = recv(fd, p, (size_t)n, 0);
    if (r == -1) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            BIO_set_retry_read(b);
        }
        return -1;
    }
    return (int)r;
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    /* Writes go straight to the socket, so there is nothing to flush; everything else
       (kTLS queries, pending counts) is "not supported". */
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

/* The fd is set right after creation with BIO_set_data. */
static int sock_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* Built once per process (pthread_once) and never freed: SSL objects share it. */
static void sock_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "wd_net_sock");
    if (m == NULL || BIO_meth_set_write(m, sock_write) != 1 || BIO_meth_set_read(m, sock_read) != 1
        || BIO_meth_set_ctrl(m, sock_ctrl) != 1 || BIO_meth_set_create(m, sock_create) != 1) {
        BIO_meth_free(m);
        return;
    }
    sock_method = m; /* lives as long as the process */
}

/* ---- verification ---- */

/* The ex-data slot of an SSL holding its struct wd_net_tls_peer. */
static int peer_idx = -1;
static pthread_once_t peer_once = PTHREAD_ONCE_INIT;

/* One ex-data slot per process, for every SSL warden creates. */
static void peer_idx_init(void)
{
    peer_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/*
 * SSL_CTX_set_cert_verify_callback: replaces X509_verify_cert for the peer's chain. The
 * SVID rules, trust domain and path validation all come from wd_svid_verify; the result,
 * or the reason for refusing, goes into the connection's wd_net_tls_peer.
 */
static int verify_cb(X509_STORE_CTX *sctx, void *arg)
{
    struct wd_tls_ctx *ctx = arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct wd_net_tls_peer *peer = ssl != NULL ? SSL_get_ex_data(ssl, peer_idx) : NULL;
    X509 *leaf = X509_STORE_CTX_get0_cert(sctx);
    if (peer == NULL || ctx->bundle == NULL || leaf == NULL) {
        X509_STORE_CTX_set_error(sctx, X509_V_ERR_UNSPECIFIED);
        return 0;
    }
    /* The peer's chain as sent, leaf first; wd_svid_verify wants the others apart. */
    STACK_OF(X509) *sent = X509_STORE_CTX_get0_untrusted(sctx);
    STACK_OF(X509) *inter = sk_X509_new_null();
    if (inter == NULL) {
        X509_STORE_CTX_set_error(sctx, X509_V_ERR_OUT_OF_MEM);
        return 0;
    }
    for (int i = 0; sent != NULL && i < sk_X509_num(sent); i++) {
        X509 *c = sk_X509_value(sent, i);
        if (X509_cmp(c, leaf) != 0 && sk_X509_push(inter, c) <= 0) {
            sk_X509_free(inter);
            X509_STORE_CTX_set_error(sctx, X509_V_ERR_OUT_OF_MEM);
            return 0;
        }
    }
    enum wd_svid_reason why = WD_SVID_VALID;
    int rc = wd_svid_verify(ctx->bundle, leaf, inter, &peer->svid, &why, &peer->diag);
    sk_X509_free(inter); /* the certificates belong to the handshake */
    if (rc == WD_OK && ctx->role == WD_TLS_CLIENT && ctx->has_expect
        && !wd_spiffe_id_eq(&peer->svid.id, &ctx->expect)) {
        rc = wd_diag_set(&peer->diag, WD_EDENIED, NULL, 0, 0,
                         "server SPIFFE ID %s is not the expected %s", peer->svid.id.str,
                         ctx->expect.str);
    }
    if (rc < 0) {
        peer->failed = true;
        peer->has_id = false;
        X509_STORE_CTX_set_error(sctx, X509_V_ERR_CERT_REJECTED);
        return 0;
    }
    peer->has_id = true;
    X509_STORE_CTX_set_error(sctx, X509_V_OK);
    return 1;
}

/* ---- contexts ---- */

/*
 * The context's own certificate, chain and key, from objects or PEM files. The key must
 * match the leaf: a mismatch is an operator error found at start-up, not at handshake.
 */
static int use_identity(SSL_CTX *ssl, const struct wd_tls_config *cfg, struct wd_diag *diag)
{
    X509 *cert = cfg->cert;
    STACK_OF(X509) *chain = cfg->chain;
    EVP_PKEY *key = cfg->key;
    STACK_OF(X509) *loaded = NULL;
    EVP_PKEY *loaded_key = NULL;
    int rc = WD_OK;
    if (cert == NULL && cfg->cert_file == NULL) {
        if (key != NULL || cfg->key_file != NULL) {
            return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0,
                               "a key was given without its certificate");
        }
        return WD_OK; /* no own identity */
    }
    if (cert == NULL) {
        if (cfg->key_file == NULL) {
            return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "%s: no key file given",
                               cfg->cert_file);
        }
        rc = wd_certs_load(cfg->cert_file, &loaded, diag);
        if (rc == WD_OK) {
            rc = wd_key_load(cfg->key_file, &loaded_key, diag);
        }
        if (rc < 0) {
            rc = rc == WD_ENOMEM ? rc : WD_ECONFIG;
            goto out;
        }
        cert = sk_X509_shift(loaded); /* the leaf; loaded keeps the intermediates */
        chain = loaded;
        key = loaded_key;
        X509 *leaf = cert;
        ERR_clear_error();
        if (!wd_key_matches_cert(key, leaf)) {
            rc = wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0,
                             "%s: the key does not match the certificate %s", cfg->key_file,
                             cfg->cert_file);
            X509_free(leaf);
            goto out;
        }
        ERR_clear_error();
        if (SSL_CTX_use_cert_and_key(ssl, leaf, key, chain, 1) != 1) {
            rc = wd_net_tls_fail(diag, WD_ECONFIG, "cannot use certificate and key");
        }
        X509_free(leaf);
        goto out;
    }
    if (key == NULL) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "certificate given without its key");
    }
    if (!wd_key_matches_cert(key, cert)) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "the key does not match the certificate");
    }
    ERR_clear_error();
    if (SSL_CTX_use_cert_and_key(ssl, cert, key, chain, 1) != 1) {
        rc = wd_net_tls_fail(diag, WD_ECONFIG, "cannot use certificate and key");
    }
out:
    wd_certs_free(loaded);
    EVP_PKEY_free(loaded_key);
    return rc;
}

/* The context keeps its own bundle: the caller's is borrowed only for the call. */
static int copy_bundle(const struct wd_bundle *src, struct wd_bundle **out)
{
    struct wd_bundle *b = NULL;
    WD_TRY(wd_bundle_new(wd_bundle_trust_domain(src), &b));
    for (size_t i = 0; i < wd_bundle_count(src); i++) {
        int rc = wd_bundle_add(b, wd_bundle_cert(src, i));
        if (rc < 0) {
            wd_bundle_free(b);
            return rc;
        }
    }
    *out = b;
    return WD_OK;
}

/* Checks the configuration first, then builds; on any error nothing is left behind. */
int wd_tls_ctx_new(const struct wd_tls_config *cfg, struct wd_tls_ctx **out, struct wd_diag *diag)
{
    *out = NULL;
    if (cfg->role == WD_TLS_CLIENT && cfg->bundle == NULL) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0,
                           "a TLS client needs a trust bundle to verify the server");
    }
    if (cfg->expect_peer_id != NULL && cfg->role != WD_TLS_CLIENT) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "expect_peer_id applies to clients only");
    }
    if (cfg->require_peer && (cfg->role != WD_TLS_SERVER || cfg->bundle == NULL)) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0,
                           "require_peer needs a server context with a trust bundle");
    }
    if (cfg->role == WD_TLS_SERVER && cfg->cert == NULL && cfg->cert_file == NULL) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "a TLS server needs a certificate");
    }
    (void)pthread_once(&sock_once, sock_method_init);
    (void)pthread_once(&peer_once, peer_idx_init);
    if (sock_method == NULL || peer_idx < 0) {
        return wd_diag_set(diag, WD_ETLS, NULL, 0, 0, "cannot set up the TLS socket layer");
    }
    int rc = WD_OK;
    struct wd_tls_ctx *ctx = wd_calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        return wd_diag_set(diag, WD_ENOMEM, NULL, 0, 0, "out of memory");
    }
    atomic_init(&ctx->refs, 1);
    ctx->role = cfg->role;
    if (cfg->expect_peer_id != NULL) {
        if (wd_spiffe_id_parse(cfg->expect_peer_id, strlen(cfg->expect_peer_id), &ctx->expect, NULL,
                               diag)
            < 0) {
            rc = WD_ECONFIG;
            goto out;
        }
        ctx->has_expect = true;
    }
    if (cfg->bundle != NULL) {
        if (wd_bundle_trust_domain(cfg->bundle) == NULL) {
            rc = wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "the trust bundle has no trust domain");
            goto out;
        }
        rc = copy_bundle(cfg->bundle, &ctx->bundle);
        if (rc < 0) {
            rc = wd_diag_set(diag, rc, NULL, 0, 0, "cannot copy the trust bundle");
            goto out;
        }
    }
    ERR_clear_error();
    ctx->ssl = SSL_CTX_new(cfg->role == WD_TLS_SERVER ? TLS_server_method() : TLS_client_method());
    if (ctx->ssl == NULL) {
        rc = wd_net_tls_fail(diag, WD_ETLS, "SSL_CTX_new");
        goto out;
    }
    SSL_CTX *s = ctx->ssl;
    /* TLS 1.3 only; no tickets or session cache (every connection authenticates afresh),
       no compression; renegotiation does not exist in 1.3 but is refused anyway. A peer that
       closes without close_notify is a plain end of stream: every message we read is
       length-delimited, so a truncation is seen by the HTTP parser. */
    if (SSL_CTX_set_min_proto_version(s, TLS1_3_VERSION) != 1
        || SSL_CTX_set_max_proto_version(s, TLS1_3_VERSION) != 1) {
        rc = wd_net_tls_fail(diag, WD_ETLS, "cannot restrict to TLS 1.3");
        goto out;
    }
    SSL_CTX_set_options(s, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
                                   | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_set_num_tickets(s, 0) != 1) {
        rc = wd_net_tls_fail(diag, WD_ETLS, "SSL_CTX_set_num_tickets");
        goto out;
    }
    SSL_CTX_set_mode(s, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    rc = use_identity(s, cfg, diag);
    if (rc < 0) {
        goto out;
    }
    if (ctx->bundle != NULL) {
        int mode = SSL_VERIFY_PEER;
        if (cfg->role == WD_TLS_SERVER && cfg->require_peer) {
            mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        }
        SSL_CTX_set_verify(s, mode, NULL);
        SSL_CTX_set_cert_verify_callback(s, verify_cb, ctx);
    } else {
        SSL_CTX_set_verify(s, SSL_VERIFY_NONE, NULL);
    }
    *out = ctx;
    ctx = NULL;
out:
    if (ctx != NULL) {
        SSL_CTX_free(ctx->ssl);
        wd_bundle_free(ctx->bundle);
        wd_free(ctx);
    }
    ERR_clear_error();
    return rc;
}

/* Relaxed is enough for taking a reference: the caller already holds one. */
struct wd_tls_ctx *wd_tls_ctx_ref(struct wd_tls_ctx *ctx)
{
    if (ctx != NULL) {
        atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed);
    }
    return ctx;
}

/* acq_rel: the last owner must see every other owner's writes before freeing. */
void wd_tls_ctx_unref(struct wd_tls_ctx *ctx)
{
    if (ctx == NULL) {
        return;
    }
    if (atomic_fetch_sub_explicit(&ctx->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    SSL_CTX_free(ctx->ssl);
    wd_bundle_free(ctx->bundle);
    wd_free(ctx);
}

/* Immutable after creation. */
enum wd_tls_role wd_net_tls_role(const struct wd_tls_ctx *ctx)
{
    return ctx->role;
}

/* One SSL per connection, wired to our MSG_NOSIGNAL BIO and the peer record. */
int wd_net_tls_ssl(struct wd_tls_ctx *ctx, int fd, const char *sni, struct wd_net_tls_peer *peer,
                   SSL **out, struct wd_diag *diag)
{
    *out = NULL;
    memset(peer, 0, sizeof(*peer));
    ERR_clear_error();
    SSL *ssl = SSL_new(ctx->ssl);
    if (ssl == NULL) {
        return wd_net_tls_fail(diag, WD_ENOMEM, "SSL_new");
    }
    BIO *bio = BIO_new(sock_method);
    if (bio == NULL) {
        SSL_free(ssl);
        return wd_net_tls_fail(diag, WD_ENOMEM, "BIO_new");
    }
    BIO_set_data(bio, (void *)(intptr_t)fd);
    SSL_set_bio(ssl, bio, bio); /* ssl owns bio */
    if (SSL_set_ex_data(ssl, peer_idx, peer) != 1) {
        SSL_free(ssl);
        return wd_net_tls_fail(diag, WD_ENOMEM, "SSL_set_ex_data");
    }
    if (ctx->role == WD_TLS_SERVER) {
        SSL_set_accept_state(ssl);
    } else {
        SSL_set_connect_state(ssl);
        char name[256];
        (void)snprintf(name, sizeof(name), "%s", sni != NULL ? sni : "");
        /* SSL_set_tlsext_host_name() casts away const; pass a copy that is ours. */
        if (sni != NULL
            && SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, name) != 1) {
            SSL_free(ssl);
            return wd_net_tls_fail(diag, WD_ETLS, "cannot set the server name");
        }
    }
    *out = ssl;
    return WD_OK;
}
