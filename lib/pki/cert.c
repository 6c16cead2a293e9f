/* Certificates: reading PEM/DER chains, writing PEM/DER, validity times, the SPIFFE ID. */
#include <limits.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "warden/alloc.h"
#include "warden/file.h"
#include "warden/pki.h"

#include "pki_int.h"

void wd_certs_free(STACK_OF(X509) * certs)
{
    sk_X509_pop_free(certs, X509_free);
}

/* Decode exactly one DER certificate occupying all of der[0..len). */
static X509 *der_cert(const uint8_t *der, size_t len)
{
    if (len > LONG_MAX) {
        return NULL;
    }
    const unsigned char *q = der;
    X509 *x = d2i_X509(NULL, &q, (long)len);
    if (x != NULL && q != der + len) {
        X509_free(x);
        x = NULL;
    }
    return x;
}

struct cert_scan {
    const char *name;
    STACK_OF(X509) * sk;
    struct wd_diag *diag;
};

static int cert_block(void *vctx, const char *type, const uint8_t *der, size_t len, bool encrypted,
                      size_t index)
{
    struct cert_scan *cs = vctx;
    (void)encrypted;
    if (strcmp(type, "CERTIFICATE") != 0) {
        return WD_OK;
    }
    X509 *x = der_cert(der, len);
    if (x == NULL) {
        return wd_pki_ossl_fail(cs->diag, WD_EPROTO, cs->name,
                                "malformed certificate (PEM block %zu)", index + 1);
    }
    if (sk_X509_push(cs->sk, x) <= 0) {
        X509_free(x);
        return wd_pki_ossl_fail(cs->diag, WD_ENOMEM, cs->name, "out of memory");
    }
    return WD_OK;
}

int wd_certs_parse(const char *name, const void *p, size_t n, STACK_OF(X509) * *out,
                   struct wd_diag *diag)
{
    wd_pki_ossl_clear();
    struct cert_scan cs = {name, sk_X509_new_null(), diag};
    int rc;
    if (cs.sk == NULL) {
        rc = wd_pki_ossl_fail(diag, WD_ENOMEM, name, "out of memory");
        goto out;
    }
    if (wd_pki_looks_like_pem(p, n)) {
        WD_CHECK(wd_pki_pem_each(name, p, n, false, cert_block, &cs, NULL, diag));
        if (sk_X509_num(cs.sk) == 0) {
            rc = wd_diag_set(diag, WD_EPROTO, name, 0, 0,
                             "no certificate (no -----BEGIN CERTIFICATE----- block)");
            goto out;
        }
    } else if (n > 0 && ((const uint8_t *)p)[0] == 0x30) {
        /* A DER SEQUENCE: exactly one certificate. */
        X509 *x = der_cert(p, n);
        if (x == NULL) {
            rc = wd_pki_ossl_fail(diag, WD_EPROTO, name, "malformed DER certificate");
            goto out;
        }
        if (sk_X509_push(cs.sk, x) <= 0) {
            X509_free(x);
            rc = wd_pki_ossl_fail(diag, WD_ENOMEM, name, "out of memory");
            goto out;
        }
    } else {
        rc = wd_diag_set(diag, WD_EPROTO, name, 0, 0, "not a certificate (neither PEM nor DER)");
        goto out;
    }
    *out = cs.sk;
    cs.sk = NULL;
    rc = WD_OK;
out:
    wd_certs_free(cs.sk);
    return rc;
}

int wd_certs_load(const char *path, STACK_OF(X509) * *out, struct wd_diag *diag)
{
    struct wd_buf b;
    wd_buf_init(&b, WD_PKI_FILE_MAX);
    int rc;
    WD_CHECK(wd_file_read(path, WD_PKI_FILE_MAX, &b, diag));
    WD_CHECK(wd_certs_parse(path, b.p, b.len, out, diag));
out:
    wd_buf_cleanup(&b);
    return rc;
}

int wd_cert_to_pem(X509 *cert, struct wd_buf *out)
{
    wd_pki_ossl_clear();
    BIO *bio = BIO_new(BIO_s_mem());
    int rc;
    if (bio == NULL) {
        rc = wd_pki_ossl_fail(NULL, WD_ENOMEM, NULL, "BIO");
        goto out;
    }
    if (PEM_write_bio_X509(bio, cert) != 1) {
        rc = wd_pki_ossl_fail(NULL, WD_ETLS, NULL, "cannot encode the certificate");
        goto out;
    }
    rc = wd_pki_bio_to_buf(bio, out);
out:
    BIO_free(bio);
    return rc;
}

int wd_cert_der_to_pem(const uint8_t *der, size_t len, struct wd_buf *out)
{
    if (len > LONG_MAX) {
        return WD_EINVAL;
    }
    wd_pki_ossl_clear();
    BIO *bio = BIO_new(BIO_s_mem());
    int rc;
    if (bio == NULL) {
        rc = wd_pki_ossl_fail(NULL, WD_ENOMEM, NULL, "BIO");
        goto out;
    }
    /* RFC 7468 §5: "CERTIFICATE", 64-character base64 lines. */
    if (PEM_write_bio(bio, PEM_STRING_X509, "", der, (long)len) <= 0) {
        rc = wd_pki_ossl_fail(NULL, WD_ETLS, NULL, "cannot encode the certificate");
        goto out;
    }
    rc = wd_pki_bio_to_buf(bio, out);
out:
    BIO_free(bio);
    return rc;
}

int wd_cert_to_der(X509 *cert, struct wd_buf *out)
{
    wd_pki_ossl_clear();
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    if (len <= 0) {
        return wd_pki_ossl_fail(NULL, WD_ETLS, NULL, "cannot encode the certificate");
    }
    int rc = wd_buf_append(out, der, (size_t)len);
    OPENSSL_free(der);
    return rc;
}

int wd_cert_not_before(const X509 *cert, int64_t *out)
{
    return wd_pki_time_to_unix(X509_get0_notBefore(cert), out);
}

int wd_cert_not_after(const X509 *cert, int64_t *out)
{
    return wd_pki_time_to_unix(X509_get0_notAfter(cert), out);
}

int wd_cert_spiffe_id(X509 *cert, struct wd_spiffe_id *out, size_t *uri_count, struct wd_diag *diag)
{
    wd_pki_ossl_clear();
    int crit = 0;
    size_t count = 0;
    if (uri_count != NULL) {
        *uri_count = 0;
    }
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
    if (gens == NULL) {
        ERR_clear_error();
        if (crit == -2) {
            return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "duplicate subjectAltName extension");
        }
        if (crit >= 0) {
            return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "malformed subjectAltName extension");
        }
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "no URI SAN (no subjectAltName)");
    }
    int rc = wd_pki_uri_id(gens, NULL, &count, out, NULL, diag);
    GENERAL_NAMES_free(gens);
    if (uri_count != NULL) {
        *uri_count = count;
    }
    WD_TRY(rc);
    if (count == 0) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "no URI SAN");
    }
    if (count > 1) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "%zu URI SANs (an SVID has exactly one)",
                           count);
    }
    return WD_OK;
}
