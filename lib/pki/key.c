/* ECDSA P-256 keys: generation, PEM reading with precise errors, PKCS#8 writing (0600). */
#include <limits.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "warden/alloc.h"
#include "warden/file.h"
#include "warden/pki.h"

#include "pki_int.h"

/* Keys in PEM are far below this; the cap only bounds the buffer. */
#define KEY_PEM_MAX 65536

int wd_key_generate(EVP_PKEY **out, struct wd_diag *diag)
{
    wd_pki_ossl_clear();
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (k == NULL) {
        return wd_pki_ossl_fail(diag, WD_ECRYPTO, NULL, "cannot generate a P-256 key");
    }
    *out = k;
    return WD_OK;
}

int wd_key_check_p256(const EVP_PKEY *key, const char *name, const char *what, struct wd_diag *diag)
{
    char group[64] = "";
    size_t glen = 0;
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC
        && EVP_PKEY_get_group_name(key, group, sizeof(group), &glen) == 1
        && strcmp(group, SN_X9_62_prime256v1) == 0) {
        return WD_OK;
    }
    ERR_clear_error();
    char desc[80];
    wd_pki_key_desc(key, desc, sizeof(desc));
    return wd_diag_set(diag, WD_EPROTO, name, 0, 0, "%s is %s; an EC P-256 key is required", what,
                       desc);
}

struct key_scan {
    const char *name;
    EVP_PKEY *key;
    struct wd_diag *diag;
};

static int key_block(void *vctx, const char *type, const uint8_t *der, size_t len, bool encrypted,
                     size_t index)
{
    struct key_scan *ks = vctx;
    (void)index;
    const unsigned char *q = der;
    if (strcmp(type, "ENCRYPTED PRIVATE KEY") == 0
        || (encrypted && strstr(type, "PRIVATE KEY") != NULL)) {
        return wd_diag_set(ks->diag, WD_EPROTO, ks->name, 0, 0,
                           "encrypted private keys are not supported");
    }
    if (len > LONG_MAX) {
        return wd_diag_set(ks->diag, WD_EPROTO, ks->name, 0, 0, "private key too large");
    }
    if (strcmp(type, "PRIVATE KEY") == 0) {
        /* RFC 5208 PKCS#8 PrivateKeyInfo. */
        PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &q, (long)len);
        if (p8 == NULL || q != der + len) {
            PKCS8_PRIV_KEY_INFO_free(p8);
            return wd_pki_ossl_fail(ks->diag, WD_EPROTO, ks->name,
                                    "malformed private key (PKCS#8)");
        }
        ks->key = EVP_PKCS82PKEY(p8);
        PKCS8_PRIV_KEY_INFO_free(p8);
        if (ks->key == NULL) {
            return wd_pki_ossl_fail(ks->diag, WD_EPROTO, ks->name,
                                    "malformed private key (PKCS#8)");
        }
        return 1;
    }
    if (strcmp(type, "EC PRIVATE KEY") == 0) {
        /* RFC 5915 / SEC 1 ECPrivateKey. */
        ks->key = d2i_PrivateKey(EVP_PKEY_EC, NULL, &q, (long)len);
        if (ks->key == NULL || q != der + len) {
            return wd_pki_ossl_fail(ks->diag, WD_EPROTO, ks->name,
                                    "malformed private key (SEC 1 EC)");
        }
        return 1;
    }
    if (strcmp(type, "RSA PRIVATE KEY") == 0 || strcmp(type, "DSA PRIVATE KEY") == 0) {
        return wd_diag_set(ks->diag, WD_EPROTO, ks->name, 0, 0,
                           "private key is %.3s; an EC P-256 key is required", type);
    }
    return WD_OK; /* some other block (a certificate next to the key): keep looking */
}

int wd_key_parse_pem(const char *name, const void *p, size_t n, EVP_PKEY **out,
                     struct wd_diag *diag)
{
    struct key_scan ks = {name, NULL, diag};
    int rc = wd_pki_pem_each(name, p, n, true, key_block, &ks, NULL, diag);
    if (rc < 0) {
        goto out;
    }
    if (ks.key == NULL) {
        rc = wd_diag_set(diag, WD_EPROTO, name, 0, 0,
                         "no private key (no -----BEGIN PRIVATE "
                         "KEY----- block)");
        goto out;
    }
    WD_CHECK(wd_key_check_p256(ks.key, name, "private key", diag));
    *out = ks.key;
    ks.key = NULL;
    rc = WD_OK;
out:
    EVP_PKEY_free(ks.key);
    return rc;
}

int wd_key_load(const char *path, EVP_PKEY **out, struct wd_diag *diag)
{
    struct wd_buf b;
    wd_buf_init(&b, WD_PKI_FILE_MAX);
    int rc;
    WD_CHECK(wd_file_read(path, WD_PKI_FILE_MAX, &b, diag));
    WD_CHECK(wd_key_parse_pem(path, b.p, b.len, out, diag));
out:
    wd_buf_cleanup_secret(&b);
    return rc;
}

int wd_key_to_pem(EVP_PKEY *key, struct wd_buf *out)
{
    wd_pki_ossl_clear();
    /* A secure-memory BIO wipes its buffer when freed. */
    BIO *bio = BIO_new(BIO_s_secmem());
    int rc;
    if (bio == NULL) {
        rc = wd_pki_ossl_fail(NULL, WD_ENOMEM, NULL, "BIO");
        goto out;
    }
    if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1) {
        rc = wd_pki_ossl_fail(NULL, WD_ETLS, NULL, "cannot encode the private key");
        goto out;
    }
    rc = wd_pki_bio_to_buf(bio, out);
out:
    BIO_free(bio);
    return rc;
}

int wd_key_save(const char *path, EVP_PKEY *key, struct wd_diag *diag)
{
    struct wd_buf b;
    wd_buf_init(&b, KEY_PEM_MAX);
    int rc = wd_key_to_pem(key, &b);
    if (rc < 0) {
        (void)wd_diag_set(diag, rc, path, 0, 0, "cannot encode the private key: %s",
                          wd_strerror(rc));
        goto out;
    }
    /* Private keys are 0600 whatever the umask (wd_file_write_atomic fchmods). */
    WD_CHECK(wd_file_write_atomic(path, b.p, b.len, 0600, diag));
out:
    wd_buf_cleanup_secret(&b);
    return rc;
}

bool wd_key_matches_cert(EVP_PKEY *key, X509 *cert)
{
    wd_pki_ossl_clear();
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    bool ok = pub != NULL && EVP_PKEY_eq(key, pub) == 1;
    ERR_clear_error();
    return ok;
}

void wd_key_describe(const EVP_PKEY *key, char *out, size_t outsz)
{
    wd_pki_key_desc(key, out, outsz);
}
