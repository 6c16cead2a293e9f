/*
 * warden-proxy generations: identity (SVID, key, bundle) turned into TLS contexts, the
 * policy state and the audit sink, built together and swapped atomically on SIGHUP.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "warden/alloc.h"
#include "warden/log.h"
#include "warden/pki.h"
#include "warden/svid.h"

#include "proxy.h"

static pthread_mutex_t gen_mu = PTHREAD_MUTEX_INITIALIZER;
static struct prx_gen *gen_cur;
static atomic_ulong gen_counter;

void prx_ssl_log_errors_at(int level, const char *what)
{
    unsigned long e;
    char buf[256];
    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        wd_log(level, "%s: %s", what, buf);
    }
}

void prx_ssl_log_errors(const char *what)
{
    prx_ssl_log_errors_at(WD_LOG_INFO, what);
}

void prx_peerinfo_cleanup(struct prx_peerinfo *pi)
{
    WD_FREE(pi->id);
    WD_FREE(pi->claims);
    pi->id_len = 0;
}

static void gen_free(struct prx_gen *g)
{
    SSL_CTX_free(g->srv);
    SSL_CTX_free(g->cli);
    wd_bundle_free(g->bundle);
    prx_policy_free(g->pol);
    wd_route_set_free(g->routes);
    wd_detect_set_free(g->detect);
    if (g->audit_owned && g->audit_fd >= 0) {
        (void)close(g->audit_fd);
    }
    wd_free(g);
}

void prx_gen_get(struct prx_gen *g)
{
    atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
}

void prx_gen_put(struct prx_gen *g)
{
    if (g != NULL && atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1) {
        gen_free(g);
    }
}

struct prx_gen *prx_gen_current(void)
{
    pthread_mutex_lock(&gen_mu);
    struct prx_gen *g = gen_cur;
    if (g != NULL) {
        prx_gen_get(g);
    }
    pthread_mutex_unlock(&gen_mu);
    return g;
}

void prx_gen_install(struct prx_gen *g)
{
    pthread_mutex_lock(&gen_mu);
    struct prx_gen *old = gen_cur;
    gen_cur = g;
    atomic_fetch_add_explicit(&gen_counter, 1, memory_order_release);
    pthread_mutex_unlock(&gen_mu);
    prx_gen_put(old);
}

unsigned long prx_gen_seq(void)
{
    return atomic_load_explicit(&gen_counter, memory_order_acquire);
}

/*
 * OpenSSL calls this instead of its own chain verification: the peer chain must be a valid
 * X.509-SVID for our bundle (wd_svid_verify: SVID rules, trust domain, RFC 5280 path). The
 * result (SPIFFE ID and claims) goes to the struct prx_peerinfo in the SSL's app data.
 */
static int verify_cb(X509_STORE_CTX *xs, void *arg)
{
    const struct prx_gen *g = arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct prx_peerinfo *pi = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
    X509 *leaf = X509_STORE_CTX_get0_cert(xs);
    STACK_OF(X509) *all = X509_STORE_CTX_get0_untrusted(xs);
    STACK_OF(X509) *rest = sk_X509_new_null();
    struct wd_svid_info *info = wd_malloc(sizeof(*info));
    enum wd_svid_reason why = WD_SVID_VALID;
    struct wd_diag diag;
    int ok = 0;
    if (pi == NULL || leaf == NULL || rest == NULL || info == NULL) {
        X509_STORE_CTX_set_error(xs, X509_V_ERR_OUT_OF_MEM);
        goto out;
    }
    /* The untrusted list OpenSSL hands over starts with the leaf itself. */
    for (int i = 0; all != NULL && i < sk_X509_num(all); i++) {
        X509 *c = sk_X509_value(all, i);
        if (c != leaf && sk_X509_push(rest, c) <= 0) {
            X509_STORE_CTX_set_error(xs, X509_V_ERR_OUT_OF_MEM);
            goto out;
        }
    }
    diag.msg[0] = '\0';
    if (wd_svid_verify(g->bundle, leaf, rest, info, &why, &diag) < 0) {
        wd_log(WD_LOG_NOTICE, "peer certificate refused: %s (%s)", wd_svid_reason_name(why),
               diag.msg);
        X509_STORE_CTX_set_error(xs, why == WD_SVID_EXPIRED ? X509_V_ERR_CERT_HAS_EXPIRED
                                                            : X509_V_ERR_CERT_REJECTED);
        goto out;
    }
    prx_peerinfo_cleanup(pi);
    pi->id = wd_strndup(info->id.str, info->id.len);
    pi->id_len = info->id.len;
    if (info->has_claims) {
        pi->claims = wd_malloc(sizeof(*pi->claims));
        if (pi->claims != NULL) {
            *pi->claims = info->claims;
        }
    }
    if (pi->id == NULL || (info->has_claims && pi->claims == NULL)) {
        prx_peerinfo_cleanup(pi);
        X509_STORE_CTX_set_error(xs, X509_V_ERR_OUT_OF_MEM);
        goto out;
    }
    ok = 1;
out:
    sk_X509_free(rest);
    wd_free(info);
    return ok;
}

static int make_ctx(struct prx_gen *g, bool server, STACK_OF(X509) * chain, EVP_PKEY *key,
                    SSL_CTX **out, struct wd_diag *diag)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ctx == NULL) {
        return wd_diag_set(diag, WD_ETLS, NULL, 0, 0, "SSL_CTX_new failed");
    }
    bool ok = SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) == 1
              && SSL_CTX_use_certificate(ctx, sk_X509_value(chain, 0)) == 1
              && SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
    for (int i = 1; ok && i < sk_X509_num(chain); i++) {
        ok = SSL_CTX_add1_chain_cert(ctx, sk_X509_value(chain, i)) == 1;
    }
    if (!ok) {
        prx_ssl_log_errors("tls setup");
        SSL_CTX_free(ctx);
        return wd_diag_set(diag, WD_ETLS, NULL, 0, 0, "cannot set up TLS with the SVID");
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
    SSL_CTX_set_cert_verify_callback(ctx, verify_cb, g);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    if (server) {
        (void)SSL_CTX_set_num_tickets(ctx, 0);
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE
                                  | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    *out = ctx;
    return WD_OK;
}

int prx_gen_build(struct prx_config *cfg, struct prx_gen **out, struct wd_diag *diag)
{
    STACK_OF(X509) *chain = NULL;
    STACK_OF(X509) *rest = NULL;
    EVP_PKEY *key = NULL;
    struct wd_svid_info *info = NULL;
    struct prx_gen *g = NULL;
    enum wd_svid_reason why;
    struct wd_diag sub;
    int rc;
    *out = NULL;
    g = wd_calloc(1, sizeof(*g));
    info = wd_malloc(sizeof(*info));
    rest = sk_X509_new_null();
    if (g == NULL || info == NULL || rest == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    atomic_init(&g->refs, 1);
    g->audit_fd = -1;
    g->sample_allow = cfg->sample_allow;
    WD_CHECK(wd_certs_load(cfg->cert, &chain, diag));
    WD_CHECK(wd_key_load(cfg->key, &key, diag));
    if (!wd_key_matches_cert(key, sk_X509_value(chain, 0))) {
        rc = wd_diag_set(diag, WD_ECONFIG, cfg->key, 0, 0,
                         "the key does not belong to the certificate in %s", cfg->cert);
        goto out;
    }
    WD_CHECK(wd_bundle_load(cfg->bundle, NULL, &g->bundle, diag));
    for (int i = 1; i < sk_X509_num(chain); i++) {
        if (sk_X509_push(rest, sk_X509_value(chain, i)) <= 0) {
            rc = WD_ENOMEM;
            goto out;
        }
    }
    sub.msg[0] = '\0';
    rc = wd_svid_verify(g->bundle, sk_X509_value(chain, 0), rest, info, &why, &sub);
    if (rc < 0) {
        rc = wd_diag_set(diag, WD_ECONFIG, cfg->cert, 0, 0,
                         "our own SVID does not verify against %s: %s (%s)", cfg->bundle,
                         wd_svid_reason_name(why), sub.msg);
        goto out;
    }
    g->self = info->id;
    g->has_self_claims = info->has_claims;
    g->self_claims = info->claims;
    WD_CHECK(make_ctx(g, true, chain, key, &g->srv, diag));
    WD_CHECK(make_ctx(g, false, chain, key, &g->cli, diag));
    WD_CHECK(prx_policy_load(cfg, &g->pol, diag));
    if (cfg->audit_path != NULL) {
        if (strcmp(cfg->audit_path, "-") == 0) {
            g->audit_fd = STDERR_FILENO;
        } else {
            g->audit_fd = open(cfg->audit_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
            if (g->audit_fd == -1) {
                rc = wd_diag_set(diag, WD_EIO, cfg->audit_path, 0, 0, "cannot open: %s",
                                 strerror(errno));
                goto out;
            }
            g->audit_owned = true;
        }
    }
    g->routes = cfg->routes;
    cfg->routes = NULL;
    g->detect = cfg->detect;
    cfg->detect = NULL;
    *out = g;
    g = NULL;
    rc = WD_OK;
out:
    if (rc == WD_ENOMEM) {
        (void)wd_diag_set(diag, rc, NULL, 0, 0, "out of memory");
    }
    if (g != NULL) {
        gen_free(g);
    }
    sk_X509_free(rest);
    wd_certs_free(chain);
    EVP_PKEY_free(key);
    wd_free(info);
    return rc;
}
