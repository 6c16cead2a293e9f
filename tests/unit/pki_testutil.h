/*
 * Helpers for the PKI unit tests: reading test data, temporary directories, and a free-form
 * certificate builder for making certificates that break one SVID rule at a time.
 */
#ifndef WD_PKI_TESTUTIL_H
#define WD_PKI_TESTUTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "warden/buf.h"
#include "warden/file.h"

#define SPIFFE_DATA "tests/data/spiffe"

/* Read a whole file into b (initialised here); returns 0 or -1. */
WD_UNUSED static int tu_read(const char *path, struct wd_buf *b)
{
    wd_buf_init(b, 1u << 20);
    if (wd_file_read(path, 1u << 20, b, NULL) < 0) {
        wd_buf_cleanup(b);
        return -1;
    }
    return 0;
}

/* Write a file with the given bytes; returns 0 or -1. */
WD_UNUSED static int tu_write(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        return -1;
    }
    size_t w = n > 0 ? fwrite(p, 1, n, f) : 0;
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

/* Remove a directory tree (no symlinks are followed). */
WD_UNUSED static void tu_rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            char path[4096];
            struct stat st;
            (void)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
                tu_rm_rf(path);
            } else {
                (void)unlink(path);
            }
        }
        (void)closedir(d);
    }
    (void)rmdir(dir);
}

/* Number of entries in a directory other than . and .. (-1 if it cannot be read). */
WD_UNUSED static int tu_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            n++;
        }
    }
    (void)closedir(d);
    return n;
}

/* Make a fresh temporary directory; path must hold 64 bytes. */
WD_UNUSED static int tu_tmpdir(char *path)
{
    memcpy(path, "/tmp/wd-pki-test-XXXXXX", 24);
    return mkdtemp(path) != NULL ? 0 : -1;
}

/* Load one PEM private key with OpenSSL directly (test setup, any key type). */
WD_UNUSED static EVP_PKEY *tu_load_any_key(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return NULL;
    }
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    (void)fclose(f);
    return k;
}

/* A certificate described field by field; NULL / 0 fields are left out. */
struct tu_cert {
    EVP_PKEY *key;             /* subject key (required) */
    X509 *issuer;              /* NULL: self-signed */
    EVP_PKEY *issuer_key;      /* NULL: key */
    const char *uris[3];       /* URI SANs */
    const char *dns;           /* a DNS SAN */
    const char *bc;            /* basicConstraints value, e.g. "critical,CA:FALSE" */
    const char *ku;            /* keyUsage value, e.g. "critical,digitalSignature" */
    int64_t nb, na;            /* validity (Unix seconds) */
    const uint8_t *claims_der; /* raw value for the claims extension */
    size_t claims_len;
    int claims_crit;
    int claims_copies; /* how many times to add it (default 1 when claims_der is set) */
};

WD_UNUSED static int tu_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *v)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, v);
    int ok = e != NULL && X509_add_ext(x, e, -1) == 1;
    X509_EXTENSION_free(e);
    return ok ? 0 : -1;
}

WD_UNUSED static X509 *tu_make_cert(const struct tu_cert *t)
{
    X509 *x = X509_new();
    X509_NAME *nm = X509_NAME_new();
    ASN1_INTEGER *serial = ASN1_INTEGER_new();
    X509 *issuer = t->issuer != NULL ? t->issuer : x;
    char san[1024] = "";
    size_t off = 0;
    if (x == NULL || nm == NULL || serial == NULL || ASN1_INTEGER_set(serial, 4242) != 1
        || X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (const unsigned char *)"test", -1, -1,
                                      0)
                   != 1
        || X509_set_version(x, X509_VERSION_3) != 1 || X509_set_serialNumber(x, serial) != 1
        || X509_set_subject_name(x, nm) != 1
        || X509_set_issuer_name(x, t->issuer != NULL ? X509_get_subject_name(t->issuer) : nm) != 1
        || ASN1_TIME_set(X509_getm_notBefore(x), (time_t)t->nb) == NULL
        || ASN1_TIME_set(X509_getm_notAfter(x), (time_t)t->na) == NULL
        || X509_set_pubkey(x, t->key) != 1) {
        goto fail;
    }
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    if ((t->bc != NULL && tu_add_ext(x, &ctx, NID_basic_constraints, t->bc) < 0)
        || (t->ku != NULL && tu_add_ext(x, &ctx, NID_key_usage, t->ku) < 0)
        || tu_add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0
        || (t->issuer != NULL
            && tu_add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") < 0)) {
        goto fail;
    }
    for (size_t i = 0; i < 3 && t->uris[i] != NULL; i++) {
        off += (size_t)snprintf(san + off, sizeof(san) - off, "%sURI:%s", off ? "," : "",
                                t->uris[i]);
    }
    if (t->dns != NULL) {
        off += (size_t)snprintf(san + off, sizeof(san) - off, "%sDNS:%s", off ? "," : "", t->dns);
    }
    if (off > 0 && tu_add_ext(x, &ctx, NID_subject_alt_name, san) < 0) {
        goto fail;
    }
    if (t->claims_der != NULL) {
        int copies = t->claims_copies > 0 ? t->claims_copies : 1;
        ASN1_OBJECT *obj = OBJ_txt2obj("2.25.18674814504717350249699834908302362657.1", 1);
        ASN1_OCTET_STRING *oct = ASN1_OCTET_STRING_new();
        int ok = obj != NULL && oct != NULL
                 && ASN1_OCTET_STRING_set(oct, t->claims_der, (int)t->claims_len) == 1;
        for (int i = 0; ok && i < copies; i++) {
            X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, obj, t->claims_crit, oct);
            ok = e != NULL && X509_add_ext(x, e, -1) == 1;
            X509_EXTENSION_free(e);
        }
        ASN1_OBJECT_free(obj);
        ASN1_OCTET_STRING_free(oct);
        if (!ok) {
            goto fail;
        }
    }
    if (X509_sign(x, t->issuer_key != NULL ? t->issuer_key : t->key, EVP_sha256()) <= 0) {
        goto fail;
    }
    ASN1_INTEGER_free(serial);
    X509_NAME_free(nm);
    return x;
fail:
    ERR_print_errors_fp(stdout);
    ASN1_INTEGER_free(serial);
    X509_NAME_free(nm);
    X509_free(x);
    return NULL;
}

/* A leaf with only the given stack entries, for wd_svid_* calls. */
WD_UNUSED static STACK_OF(X509) * tu_stack(X509 *a, X509 *b)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    if (sk == NULL) {
        return NULL;
    }
    if (a != NULL) {
        X509_up_ref(a);
        (void)sk_X509_push(sk, a);
    }
    if (b != NULL) {
        X509_up_ref(b);
        (void)sk_X509_push(sk, b);
    }
    return sk;
}

#endif
