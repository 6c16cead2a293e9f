/* PKCS#10 certificate signing requests (RFC 2986): create, parse, verify. */
#include <limits.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "warden/alloc.h"
#include "warden/pki.h"

#include "pki_int.h"

struct wd_csr {
    X509_REQ *req;
    EVP_PKEY *pub; /* borrowed from req */
    bool has_id;
    struct wd_spiffe_id id;
};

int wd_csr_create(EVP_PKEY *key, const struct wd_spiffe_id *id, bool der, struct wd_buf *out,
                  struct wd_diag *diag)
{
    WD_TRY(wd_key_check_p256(key, NULL, "key", diag));
    wd_pki_ossl_clear();
    int rc;
    X509_REQ *req = X509_REQ_new();
    STACK_OF(X509_EXTENSION) *exts = NULL;
    X509_EXTENSION *san = NULL;
    BIO *bio = NULL;
    unsigned char *raw = NULL;
    if (req == NULL) {
        rc = wd_pki_ossl_fail(diag, WD_ENOMEM, NULL, "out of memory");
        goto out;
    }
    /* RFC 2986 §4.1: version is 0 (v1); the subject may be empty (the ID is in the SAN). */
    if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 || X509_REQ_set_pubkey(req, key) != 1) {
        rc = wd_pki_ossl_fail(diag, WD_ETLS, NULL, "cannot build the request");
        goto out;
    }
    if (id != NULL) {
        exts = sk_X509_EXTENSION_new_null();
        san = wd_pki_san_uri_ext(id->str, id->len, false);
        if (exts == NULL || san == NULL || sk_X509_EXTENSION_push(exts, san) <= 0) {
            rc = wd_pki_ossl_fail(diag, WD_ENOMEM, NULL, "out of memory");
            goto out;
        }
        san = NULL;
        if (X509_REQ_add_extensions(req, exts) != 1) {
            rc = wd_pki_ossl_fail(diag, WD_ETLS, NULL, "cannot add the subjectAltName");
            goto out;
        }
    }
    if (X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
        rc = wd_pki_ossl_fail(diag, WD_ETLS, NULL, "cannot sign the request");
        goto out;
    }
    if (der) {
        int len = i2d_X509_REQ(req, &raw);
        if (len <= 0) {
            rc = wd_pki_ossl_fail(diag, WD_ETLS, NULL, "cannot encode the request");
            goto out;
        }
        rc = wd_buf_append(out, raw, (size_t)len);
        if (rc < 0) {
            (void)wd_diag_set(diag, rc, NULL, 0, 0, "%s", wd_strerror(rc));
        }
        goto out;
    }
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || PEM_write_bio_X509_REQ(bio, req) != 1) {
        rc = wd_pki_ossl_fail(diag, WD_ETLS, NULL, "cannot encode the request");
        goto out;
    }
    rc = wd_pki_bio_to_buf(bio, out);
    if (rc < 0) {
        (void)wd_diag_set(diag, rc, NULL, 0, 0, "%s", wd_strerror(rc));
    }
out:
    OPENSSL_free(raw);
    BIO_free(bio);
    X509_EXTENSION_free(san);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
    return rc;
}

struct csr_scan {
    const char *name;
    X509_REQ *req;
    size_t found;
    struct wd_diag *diag;
};

static X509_REQ *der_req(const uint8_t *der, size_t len)
{
    if (len > LONG_MAX) {
        return NULL;
    }
    const unsigned char *q = der;
    X509_REQ *r = d2i_X509_REQ(NULL, &q, (long)len);
    if (r != NULL && q != der + len) {
        X509_REQ_free(r);
        r = NULL;
    }
    return r;
}

static int csr_block(void *vctx, const char *type, const uint8_t *der, size_t len, bool encrypted,
                     size_t index)
{
    struct csr_scan *cs = vctx;
    (void)encrypted;
    (void)index;
    if (strcmp(type, "CERTIFICATE REQUEST") != 0 && strcmp(type, "NEW CERTIFICATE REQUEST") != 0) {
        return WD_OK;
    }
    if (++cs->found > 1) {
        return wd_diag_set(cs->diag, WD_EPROTO, cs->name, 0, 0,
                           "more than one certificate request");
    }
    cs->req = der_req(der, len);
    if (cs->req == NULL) {
        return wd_pki_ossl_fail(cs->diag, WD_EPROTO, cs->name, "malformed certificate request");
    }
    return WD_OK;
}

/* The SPIFFE ID of a request: from the URI in its extensionRequest's subjectAltName. */
static int csr_id(struct wd_csr *csr, const char *name, struct wd_diag *diag)
{
    int rc = WD_OK;
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr->req);
    GENERAL_NAMES *gens = NULL;
    if (exts == NULL) {
        ERR_clear_error();
        /* A request without an extensionRequest attribute simply has no SAN. */
        if (X509_REQ_get_attr_by_NID(csr->req, NID_ext_req, -1) >= 0) {
            rc = wd_diag_set(diag, WD_EPROTO, name, 0, 0, "malformed extension request");
        }
        goto out;
    }
    int crit = 0;
    gens = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
    if (gens == NULL) {
        ERR_clear_error();
        if (crit == -2) {
            rc = wd_diag_set(diag, WD_EPROTO, name, 0, 0, "duplicate subjectAltName extension");
        } else if (crit >= 0) {
            rc = wd_diag_set(diag, WD_EPROTO, name, 0, 0, "malformed subjectAltName extension");
        }
        goto out;
    }
    size_t count = 0;
    WD_CHECK(wd_pki_uri_id(gens, name, &count, &csr->id, NULL, diag));
    if (count > 1) {
        rc = wd_diag_set(diag, WD_EPROTO, name, 0, 0, "%zu URI SANs (at most one is allowed)",
                         count);
        goto out;
    }
    csr->has_id = count == 1;
out:
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

int wd_csr_parse(const char *name, const void *p, size_t n, struct wd_csr **out,
                 struct wd_diag *diag)
{
    int rc;
    struct wd_csr *csr = wd_calloc(1, sizeof(*csr));
    if (csr == NULL) {
        return wd_diag_set(diag, WD_ENOMEM, name, 0, 0, "out of memory");
    }
    wd_pki_ossl_clear();
    if (wd_pki_looks_like_pem(p, n)) {
        struct csr_scan cs = {name, NULL, 0, diag};
        rc = wd_pki_pem_each(name, p, n, false, csr_block, &cs, NULL, diag);
        csr->req = cs.req;
        WD_CHECK(rc);
        if (cs.found == 0) {
            rc = wd_diag_set(diag, WD_EPROTO, name, 0, 0,
                             "no certificate request (no -----BEGIN CERTIFICATE REQUEST----- "
                             "block)");
            goto out;
        }
    } else {
        csr->req = der_req(p, n);
        if (csr->req == NULL) {
            rc = wd_pki_ossl_fail(diag, WD_EPROTO, name,
                                  "malformed certificate request (neither PEM nor DER)");
            goto out;
        }
    }
    /* RFC 2986 §4.1: version is v1 (0). */
    if (X509_REQ_get_version(csr->req) != X509_REQ_VERSION_1) {
        rc = wd_diag_set(diag, WD_EPROTO, name, 0, 0, "unsupported request version %ld",
                         X509_REQ_get_version(csr->req) + 1);
        goto out;
    }
    csr->pub = X509_REQ_get0_pubkey(csr->req);
    if (csr->pub == NULL) {
        rc = wd_pki_ossl_fail(diag, WD_EPROTO, name, "malformed public key");
        goto out;
    }
    WD_CHECK(wd_key_check_p256(csr->pub, name, "public key", diag));
    /* Proof of possession: the request is signed by the key it carries. */
    if (X509_REQ_verify(csr->req, csr->pub) != 1) {
        rc = wd_pki_ossl_fail(diag, WD_ECRYPTO, name, "signature does not verify");
        goto out;
    }
    WD_CHECK(csr_id(csr, name, diag));
    *out = csr;
    csr = NULL;
    rc = WD_OK;
out:
    wd_csr_free(csr);
    return rc;
}

EVP_PKEY *wd_csr_pubkey(const struct wd_csr *csr)
{
    return csr->pub;
}

const struct wd_spiffe_id *wd_csr_spiffe_id(const struct wd_csr *csr)
{
    return csr->has_id ? &csr->id : NULL;
}

void wd_csr_free(struct wd_csr *csr)
{
    if (csr == NULL) {
        return;
    }
    X509_REQ_free(csr->req);
    wd_free(csr);
}
