/*
 * Endorsement-key checks: the EK certificate chain against a directory of CA
 * certificates, the match between that certificate's key and the EK public area the agent
 * sent, and the alternative allow-list of EK public-key hashes (for TPMs without an EK
 * certificate, such as some virtual TPMs).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "warden/buf.h"
#include "warden/err.h"
#include "warden/pki.h"
#include "warden/tpm.h"

#include "attest/tpm_int.h"

/* Whether name ends in ".pem" and has something before it. */
static bool is_pem_name(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".pem") == 0 && name[0] != '.';
}

/* Add every certificate of one PEM file to store; *added counts them. */
static int store_add_file(X509_STORE *store, const char *path, size_t *added, struct wd_diag *diag)
{
    STACK_OF(X509) *certs = NULL;
    int rc = wd_certs_load(path, &certs, diag);
    if (rc == WD_EPROTO) {
        /* An operator's CA directory holding something else is a configuration error. */
        rc = WD_ECONFIG;
    }
    WD_CHECK(rc);
    for (int i = 0; i < sk_X509_num(certs); i++) {
        /* X509_STORE_add_cert takes its own reference; a duplicate is not an error. */
        if (X509_STORE_add_cert(store, sk_X509_value(certs, i)) != 1) {
            rc = wd_diag_set(diag, WD_ENOMEM, path, 0, 0, "cannot add the certificate");
            goto out;
        }
        (*added)++;
    }
    rc = WD_OK;
out:
    wd_certs_free(certs);
    ERR_clear_error();
    return rc;
}

int wd_tpm_ca_store_load(const char *dir, X509_STORE **out, struct wd_diag *diag)
{
    WD_ENSURE(dir != NULL && out != NULL, WD_EINVAL);
    *out = NULL;
    int rc;
    size_t added = 0;
    struct wd_buf path;
    wd_buf_init(&path, 4096);
    X509_STORE *store = NULL;
    DIR *d = opendir(dir);
    if (d == NULL) {
        int e = errno;
        return wd_diag_set(diag, e == ENOENT ? WD_ENOENT : WD_EIO, dir, 0, 0,
                           "cannot open the CA directory: %s", strerror(e));
    }
    store = X509_STORE_new();
    if (store == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (de == NULL) {
            if (errno != 0) {
                rc = wd_diag_set(diag, WD_EIO, dir, 0, 0, "cannot read the CA directory");
                goto out;
            }
            break;
        }
        if (!is_pem_name(de->d_name)) {
            continue;
        }
        wd_buf_reset(&path);
        WD_CHECK(wd_buf_printf(&path, "%s/%s", dir, de->d_name));
        struct stat st;
        if (stat(wd_buf_str(&path), &st) == -1 || !S_ISREG(st.st_mode)) {
            continue;
        }
        WD_CHECK(store_add_file(store, wd_buf_str(&path), &added, diag));
    }
    if (added == 0) {
        rc = wd_diag_set(diag, WD_ECONFIG, dir, 0, 0, "no CA certificate (*.pem) in directory");
        goto out;
    }
    *out = store;
    store = NULL;
    rc = WD_OK;
out:
    X509_STORE_free(store);
    wd_buf_cleanup(&path);
    closedir(d);
    return rc;
}

int wd_tpm_ek_cert_parse(const uint8_t *der, size_t len, X509 **out, enum wd_tpm_reason *why)
{
    WD_ENSURE(out != NULL && (der != NULL || len == 0), WD_EINVAL);
    *out = NULL;
    if (len == 0 || len > (1u << 16)) {
        return wd_tpm_fail(why, WD_TPM_R_EK_CERT, WD_EPROTO);
    }
    ERR_clear_error();
    const unsigned char *q = der;
    X509 *x = d2i_X509(NULL, &q, (long)len);
    if (x == NULL) {
        ERR_clear_error();
        return wd_tpm_fail(why, WD_TPM_R_EK_CERT, WD_EPROTO);
    }
    /* NV indexes are often larger than the certificate; the rest is erased-flash filler. */
    size_t used = (size_t)(q - der);
    for (size_t i = used; i < len; i++) {
        if (der[i] != der[used] || (der[i] != 0x00 && der[i] != 0xff)) {
            X509_free(x);
            return wd_tpm_fail(why, WD_TPM_R_EK_CERT, WD_EPROTO);
        }
    }
    *out = x;
    return WD_OK;
}

int wd_tpm_ek_cert_verify(X509_STORE *store, X509 *cert, STACK_OF(X509) * untrusted, int64_t at,
                          const struct wd_tpm_public *ek, enum wd_tpm_reason *why,
                          struct wd_diag *diag)
{
    WD_ENSURE(store != NULL && cert != NULL && ek != NULL, WD_EINVAL);
    int rc;
    EVP_PKEY *pk = NULL;
    ERR_clear_error();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (ctx == NULL || X509_STORE_CTX_init(ctx, store, cert, untrusted) != 1) {
        rc = WD_ENOMEM;
        goto out;
    }
    if (at != 0) {
        X509_STORE_CTX_set_time(ctx, 0, (time_t)at);
    }
    /*
     * No purpose is set: EK certificates carry the TCG EKU 2.23.133.8.1, not a TLS one.
     * Their critical subjectAltName (a directoryName with TPM manufacturer, model and
     * version, per the TCG EK Credential Profile) is a kind OpenSSL understands.
     */
    if (X509_verify_cert(ctx) != 1) {
        int err = X509_STORE_CTX_get_error(ctx);
        rc = wd_diag_set(diag, WD_EDENIED, NULL, 0, 0, "EK certificate: %s",
                         X509_verify_cert_error_string(err));
        rc = wd_tpm_fail(why, WD_TPM_R_EK_CHAIN, rc);
        goto out;
    }
    WD_CHECK(wd_tpm_public_to_pkey(ek, &pk, why));
    EVP_PKEY *cert_key = X509_get0_pubkey(cert);
    if (cert_key == NULL || EVP_PKEY_eq(cert_key, pk) != 1) {
        rc = wd_diag_set(diag, WD_EDENIED, NULL, 0, 0,
                         "EK certificate key differs from the EK public area");
        rc = wd_tpm_fail(why, WD_TPM_R_EK_KEY_MISMATCH, rc);
        goto out;
    }
    if (why != NULL) {
        *why = WD_TPM_OK;
    }
    rc = WD_OK;
out:
    EVP_PKEY_free(pk);
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

int wd_tpm_spki_sha256_hex(EVP_PKEY *key, char out[65])
{
    WD_ENSURE(key != NULL && out != NULL, WD_EINVAL);
    out[0] = '\0';
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(key, &der);
    if (n <= 0) {
        ERR_clear_error();
        return WD_ETLS;
    }
    uint8_t md[32];
    unsigned int mdlen = 0;
    int ok = EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL);
    OPENSSL_free(der);
    if (ok != 1 || mdlen != sizeof(md)) {
        ERR_clear_error();
        return WD_ETLS;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof(md); i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return WD_OK;
}

int wd_tpm_ek_allowed(const struct wd_tpm_public *ek, const char *const *hashes, size_t n,
                      enum wd_tpm_reason *why)
{
    WD_ENSURE(ek != NULL && (hashes != NULL || n == 0), WD_EINVAL);
    EVP_PKEY *pk = NULL;
    char hex[65];
    WD_TRY(wd_tpm_public_to_pkey(ek, &pk, why));
    int rc = wd_tpm_spki_sha256_hex(pk, hex);
    EVP_PKEY_free(pk);
    WD_TRY(rc);
    for (size_t i = 0; i < n; i++) {
        if (hashes[i] != NULL && strlen(hashes[i]) == 64 && strcasecmp(hashes[i], hex) == 0) {
            if (why != NULL) {
                *why = WD_TPM_OK;
            }
            return WD_OK;
        }
    }
    return wd_tpm_fail(why, WD_TPM_R_EK_NOT_ALLOWED, WD_EDENIED);
}
