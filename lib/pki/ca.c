/*
 * The trust domain CA: root and intermediate creation, the on-disk layout written by
 * `warden ca init`, loading it back, and the per-CA cache that makes issuance cheap.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "warden/alloc.h"
#include "warden/bundle.h"
#include "warden/clock.h"
#include "warden/doc.h"
#include "warden/file.h"
#include "warden/pki.h"
#include "warden/rand.h"
#include "warden/svid.h"

#include "pki_int.h"

#define CA_PATH_MAX 4096
/* CA certificates are backdated like leaves so a just-made CA can sign at once despite skew. */
#define CA_BACKDATE 60

/* Files of a CA directory, in the order they are written (and removed on failure). */
static const char *const ca_files[] = {
        "root.pem",   "root.key",    "intermediate.pem", "intermediate.key",
        "bundle.pem", "bundle.json", "ca.json",
};

int wd_pki_random_serial(X509 *x)
{
    /* RFC 5280 §4.1.2.2: positive, at most 20 octets; CA/B Forum asks for 64+ random bits.
     * 128 random bits read as an unsigned number are positive by construction. */
    static const uint8_t zero[16];
    uint8_t b[16];
    int rc;
    BIGNUM *bn = NULL;
    ASN1_INTEGER *ai = NULL;
    do {
        WD_CHECK(wd_rand_bytes(b, sizeof(b)));
    } while (memcmp(b, zero, sizeof(b)) == 0);
    bn = BN_bin2bn(b, sizeof(b), NULL);
    if (bn == NULL || (ai = BN_to_ASN1_INTEGER(bn, NULL)) == NULL
        || X509_set_serialNumber(x, ai) != 1) {
        rc = wd_pki_ossl_fail(NULL, WD_ENOMEM, NULL, "serial");
        goto out;
    }
    rc = WD_OK;
out:
    ASN1_INTEGER_free(ai);
    BN_free(bn);
    return rc;
}

/* O=warden, OU=<trust domain> (when it fits X.520's 64-character bound), CN=<cn>. */
static X509_NAME *ca_name(const struct wd_spiffe_td *td, const char *cn)
{
    X509_NAME *nm = X509_NAME_new();
    if (nm == NULL
        || X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_UTF8, (const unsigned char *)"warden", -1,
                                      -1, 0)
                   != 1
        || (td->len <= 64
            && X509_NAME_add_entry_by_txt(nm, "OU", MBSTRING_UTF8, (const unsigned char *)td->name,
                                          (int)td->len, -1, 0)
                       != 1)
        || X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0)
                   != 1) {
        X509_NAME_free(nm);
        return NULL;
    }
    return nm;
}

static int add_conf_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok ? WD_OK : WD_ETLS;
}

/*
 * A CA certificate for key, signed by issuer_key (self-signed when issuer is NULL), per
 * X509-SVID §3.2 and §4: CA:TRUE and keyUsage keyCertSign+cRLSign, both critical, with the
 * trust domain's ID (no path) as the one URI SAN.
 */
static int make_ca_cert(const struct wd_spiffe_td *td, EVP_PKEY *key, X509 *issuer,
                        EVP_PKEY *issuer_key, const char *cn, int64_t nb, int64_t na, bool pathlen0,
                        X509 **out, struct wd_diag *diag)
{
    int rc;
    X509_NAME *nm = ca_name(td, cn);
    X509 *x = X509_new();
    X509_EXTENSION *san = NULL;
    char uri[9 + WD_SPIFFE_TD_MAX + 1];
    int ulen = snprintf(uri, sizeof(uri), "spiffe://%s", td->name);
    if (nm == NULL || x == NULL) {
        rc = wd_pki_ossl_fail(diag, WD_ENOMEM, NULL, "out of memory");
        goto out;
    }
    WD_CHECK(wd_pki_random_serial(x));
    if (X509_set_version(x, X509_VERSION_3) != 1 || X509_set_subject_name(x, nm) != 1
        || X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : nm) != 1
        || ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb) == NULL
        || ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na) == NULL
        || X509_set_pubkey(x, key) != 1) {
        rc = wd_pki_ossl_fail(diag, WD_ETLS, NULL, "cannot build the %s certificate", cn);
        goto out;
    }
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
    /* The subject key identifier must exist before the authority one refers to it. */
    if (add_conf_ext(x, &ctx, NID_basic_constraints,
                     pathlen0 ? "critical,CA:TRUE,pathlen:0" : "critical,CA:TRUE")
                != WD_OK
        || add_conf_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") != WD_OK
        || add_conf_ext(x, &ctx, NID_subject_key_identifier, "hash") != WD_OK
        || add_conf_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") != WD_OK) {
        rc = wd_pki_ossl_fail(diag, WD_ETLS, NULL, "cannot add extensions to the %s", cn);
        goto out;
    }
    san = wd_pki_san_uri_ext(uri, (size_t)ulen, false);
    if (san == NULL || X509_add_ext(x, san, -1) != 1) {
        rc = wd_pki_ossl_fail(diag, WD_ENOMEM, NULL, "out of memory");
        goto out;
    }
    if (X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) <= 0) {
        rc = wd_pki_ossl_fail(diag, WD_ETLS, NULL, "cannot sign the %s", cn);
        goto out;
    }
    *out = x;
    x = NULL;
    rc = WD_OK;
out:
    X509_EXTENSION_free(san);
    X509_free(x);
    X509_NAME_free(nm);
    return rc;
}

void wd_ca_free(struct wd_ca *ca)
{
    if (ca == NULL) {
        return;
    }
    X509_free(ca->root);
    EVP_PKEY_free(ca->root_key);
    X509_free(ca->inter);
    EVP_PKEY_free(ca->inter_key);
    wd_free(ca->issuer_der);
    wd_free(ca->aki_der);
    EVP_MD_CTX_free(ca->sign_tmpl);
    EVP_MD_free(ca->sha1);
    wd_free(ca);
}

/* A CA certificate of ours: CA:TRUE, keyCertSign, exactly the URI spiffe://td. */
static int check_ca_cert(X509 *x, const char *what, const struct wd_spiffe_td *td,
                         struct wd_diag *diag)
{
    uint32_t flags = X509_get_extension_flags(x);
    if ((flags & EXFLAG_INVALID) != 0) {
        return wd_diag_set(diag, WD_EPROTO, what, 0, 0, "malformed extensions");
    }
    if ((flags & EXFLAG_CA) == 0) {
        return wd_diag_set(diag, WD_EPROTO, what, 0, 0, "not a CA certificate (no CA:TRUE)");
    }
    if ((X509_get_key_usage(x) & KU_KEY_CERT_SIGN) == 0) {
        return wd_diag_set(diag, WD_EPROTO, what, 0, 0, "key usage lacks keyCertSign");
    }
    struct wd_spiffe_id id;
    struct wd_diag sub;
    if (wd_cert_spiffe_id(x, &id, NULL, &sub) < 0) {
        return wd_diag_set(diag, WD_EPROTO, what, 0, 0, "%s", sub.msg);
    }
    struct wd_spiffe_td got;
    wd_spiffe_id_td(&id, &got);
    if (!wd_spiffe_td_eq(&got, td) || id.len != 9 + td->len) {
        return wd_diag_set(diag, WD_EPROTO, what, 0, 0,
                           "URI SAN is %s, expected spiffe://%s (the trust domain)", id.str,
                           td->name);
    }
    return WD_OK;
}

/*
 * The issuer Name (the intermediate's subject, RFC 5280 §4.1.2.4: a leaf's issuer equals it
 * byte for byte) and the authorityKeyIdentifier extension (§4.2.1.1: keyIdentifier = the
 * intermediate's subjectKeyIdentifier), as DER.
 */
static int cache_issuer(struct wd_ca *ca, const ASN1_OCTET_STRING *skid, struct wd_diag *diag)
{
    unsigned char *name = NULL;
    int nlen = i2d_X509_NAME(X509_get_subject_name(ca->inter), &name);
    int klen = ASN1_STRING_length(skid);
    if (nlen <= 0 || klen <= 0 || klen > 64) {
        OPENSSL_free(name);
        return wd_pki_ossl_fail(diag, WD_EPROTO, NULL,
                                "cannot encode the intermediate's name and key identifier");
    }
    ca->issuer_der = wd_malloc((size_t)nlen);
    /* Extension { extnID 2.5.29.35, extnValue OCTET STRING { SEQUENCE { [0] keyid } } } */
    ca->aki_len = 13 + (size_t)klen;
    ca->aki_der = wd_malloc(ca->aki_len);
    if (ca->issuer_der == NULL || ca->aki_der == NULL) {
        OPENSSL_free(name);
        return wd_diag_set(diag, WD_ENOMEM, NULL, 0, 0, "out of memory");
    }
    memcpy(ca->issuer_der, name, (size_t)nlen);
    ca->issuer_len = (size_t)nlen;
    OPENSSL_free(name);
    uint8_t *a = ca->aki_der;
    size_t k = (size_t)klen;
    const uint8_t head[] = {
            0x30, (uint8_t)(k + 11), 0x06, 0x03,      0x55, 0x1d, 0x23, 0x04, (uint8_t)(k + 4),
            0x30, (uint8_t)(k + 2),  0x80, (uint8_t)k};
    memcpy(a, head, sizeof(head));
    memcpy(a + sizeof(head), ASN1_STRING_get0_data(skid), k);
    ca->aki_len = sizeof(head) + k;
    return WD_OK;
}

int wd_ca_from_parts(const struct wd_spiffe_td *td, X509 *root, EVP_PKEY *root_key,
                     X509 *intermediate, EVP_PKEY *intermediate_key, struct wd_ca **out,
                     struct wd_diag *diag)
{
    int rc;
    struct wd_ca *ca = wd_calloc(1, sizeof(*ca));
    if (ca == NULL) {
        return wd_diag_set(diag, WD_ENOMEM, NULL, 0, 0, "out of memory");
    }
    wd_pki_ossl_clear();
    ca->td = *td;
    WD_CHECK(check_ca_cert(root, "root certificate", td, diag));
    WD_CHECK(check_ca_cert(intermediate, "intermediate certificate", td, diag));
    WD_CHECK(wd_key_check_p256(intermediate_key, "intermediate key", "key", diag));
    if (!wd_key_matches_cert(intermediate_key, intermediate)) {
        rc = wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                         "intermediate key does not match the intermediate certificate");
        goto out;
    }
    if (root_key != NULL && !wd_key_matches_cert(root_key, root)) {
        rc = wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                         "root key does not match the root "
                         "certificate");
        goto out;
    }
    if (X509_verify(intermediate, X509_get0_pubkey(root)) != 1) {
        rc = wd_pki_ossl_fail(diag, WD_ECRYPTO, NULL, "the root did not sign the intermediate");
        goto out;
    }
    const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(intermediate);
    if (skid == NULL) {
        rc = wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                         "intermediate certificate has no subject key identifier");
        goto out;
    }
    if (wd_cert_not_before(intermediate, &ca->inter_not_before) < 0
        || wd_cert_not_after(intermediate, &ca->inter_not_after) < 0) {
        rc = wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "intermediate validity is malformed");
        goto out;
    }
    X509_up_ref(root);
    ca->root = root;
    X509_up_ref(intermediate);
    ca->inter = intermediate;
    EVP_PKEY_up_ref(intermediate_key);
    ca->inter_key = intermediate_key;
    if (root_key != NULL) {
        EVP_PKEY_up_ref(root_key);
        ca->root_key = root_key;
    }
    /* Everything below is the same for every SVID this CA issues: build it once. */
    WD_CHECK(cache_issuer(ca, skid, diag));
    /* Fetching the digest and signature implementations costs as much as half a signature:
     * do it once here; each issuance copies this initialised context. */
    ca->sign_tmpl = EVP_MD_CTX_new();
    ca->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    if (ca->sign_tmpl == NULL || ca->sha1 == NULL
        || EVP_DigestSignInit(ca->sign_tmpl, NULL, EVP_sha256(), NULL, ca->inter_key) != 1) {
        rc = wd_pki_ossl_fail(diag, WD_ETLS, NULL, "cannot prepare the signing context");
        goto out;
    }
    *out = ca;
    ca = NULL;
    rc = WD_OK;
out:
    wd_ca_free(ca);
    return rc;
}

int wd_ca_create(const struct wd_spiffe_td *td, int64_t root_ttl, int64_t ttl, struct wd_ca **out,
                 struct wd_diag *diag)
{
    if (root_ttl <= 0 || ttl <= 0) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "CA lifetimes must be positive");
    }
    int rc;
    EVP_PKEY *root_key = NULL, *inter_key = NULL;
    X509 *root = NULL, *inter = NULL;
    int64_t now = wd_time_now();
    int64_t root_na = now + root_ttl;
    int64_t inter_na = WD_MIN(now + ttl, root_na);
    WD_CHECK(wd_key_generate(&root_key, diag));
    WD_CHECK(wd_key_generate(&inter_key, diag));
    WD_CHECK(make_ca_cert(td, root_key, NULL, NULL, "root CA", now - CA_BACKDATE, root_na, false,
                          &root, diag));
    WD_CHECK(make_ca_cert(td, inter_key, root, root_key, "intermediate CA", now - CA_BACKDATE,
                          inter_na, true, &inter, diag));
    WD_CHECK(wd_ca_from_parts(td, root, root_key, inter, inter_key, out, diag));
out:
    X509_free(inter);
    X509_free(root);
    EVP_PKEY_free(inter_key);
    EVP_PKEY_free(root_key);
    return rc;
}

const struct wd_spiffe_td *wd_ca_trust_domain(const struct wd_ca *ca)
{
    return &ca->td;
}

X509 *wd_ca_root(const struct wd_ca *ca)
{
    return ca->root;
}

EVP_PKEY *wd_ca_root_key(const struct wd_ca *ca)
{
    return ca->root_key;
}

X509 *wd_ca_intermediate(const struct wd_ca *ca)
{
    return ca->inter;
}

EVP_PKEY *wd_ca_intermediate_key(const struct wd_ca *ca)
{
    return ca->inter_key;
}

int wd_ca_bundle(const struct wd_ca *ca, struct wd_bundle **out)
{
    struct wd_bundle *b = NULL;
    int rc;
    WD_CHECK(wd_bundle_new(&ca->td, &b));
    WD_CHECK(wd_bundle_add(b, ca->root));
    *out = b;
    b = NULL;
out:
    wd_bundle_free(b);
    return rc;
}

/* ---- the directory layout ---- */

static int join(char *out, const char *dir, const char *file, struct wd_diag *diag)
{
    int n = snprintf(out, CA_PATH_MAX, "%s/%s", dir, file);
    if (n < 0 || n >= CA_PATH_MAX) {
        return wd_diag_set(diag, WD_EINVAL, dir, 0, 0, "path too long");
    }
    return WD_OK;
}

/* dir must be absent or an empty directory. */
static int check_target(const char *dir, struct wd_diag *diag)
{
    struct stat st;
    if (lstat(dir, &st) == -1) {
        if (errno == ENOENT) {
            return WD_OK;
        }
        return wd_diag_set(diag, WD_EIO, dir, 0, 0, "%s", strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
        return wd_diag_set(diag, WD_EEXIST, dir, 0, 0, "exists and is not a directory");
    }
    char path[CA_PATH_MAX];
    for (size_t i = 0; i < WD_ARRAY_LEN(ca_files); i++) {
        WD_TRY(join(path, dir, ca_files[i], diag));
        if (lstat(path, &st) == 0) {
            return wd_diag_set(diag, WD_EEXIST, dir, 0, 0,
                               "a CA already exists here (%s); refusing to overwrite it",
                               ca_files[i]);
        }
    }
    /* An empty directory may stay: rename(2) replaces it with the finished one. */
    DIR *d = opendir(dir);
    if (d == NULL) {
        return wd_diag_set(diag, WD_EIO, dir, 0, 0, "%s", strerror(errno));
    }
    bool empty = true;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            empty = false;
            break;
        }
    }
    (void)closedir(d);
    if (!empty) {
        return wd_diag_set(diag, WD_EEXIST, dir, 0, 0,
                           "directory is not empty; refusing to create a CA in it");
    }
    return WD_OK;
}

static int write_in(const char *dir, const char *file, const struct wd_buf *b, mode_t mode,
                    struct wd_diag *diag)
{
    char path[CA_PATH_MAX];
    WD_TRY(join(path, dir, file, diag));
    return wd_file_write_atomic(path, b->p, b->len, mode, diag);
}

static int write_key_in(const char *dir, const char *file, EVP_PKEY *key, struct wd_diag *diag)
{
    char path[CA_PATH_MAX];
    WD_TRY(join(path, dir, file, diag));
    return wd_key_save(path, key, diag);
}

static void remove_tree(const char *dir)
{
    char path[CA_PATH_MAX];
    for (size_t i = 0; i < WD_ARRAY_LEN(ca_files); i++) {
        if (join(path, dir, ca_files[i], NULL) == WD_OK) {
            (void)unlink(path);
        }
    }
    (void)rmdir(dir);
}

static int fsync_parent(const char *dir)
{
    char parent[CA_PATH_MAX];
    int n = snprintf(parent, sizeof(parent), "%s", dir);
    if (n < 0 || n >= (int)sizeof(parent)) {
        return -1;
    }
    while (n > 1 && parent[n - 1] == '/') {
        parent[--n] = '\0';
    }
    char *slash = strrchr(parent, '/');
    if (slash == NULL) {
        memcpy(parent, ".", 2);
    } else if (slash == parent) {
        parent[1] = '\0';
    } else {
        *slash = '\0';
    }
    FILE *f = fopen(parent, "r");
    if (f == NULL) {
        return -1;
    }
    int r = fsync(fileno(f));
    (void)fclose(f);
    return r;
}

static int ca_json(const struct wd_ca *ca, struct wd_buf *out)
{
    char created[21];
    WD_TRY(wd_buf_append_str(out, "{\"version\":1,\"trust_domain\":"));
    WD_TRY(wd_json_append_string(out, ca->td.name, ca->td.len));
    WD_TRY(wd_buf_printf(out, ",\"created\":\"%s\"}\n", wd_time_format(wd_time_now(), created)));
    return WD_OK;
}

/* For calls that report only a code: name the directory in diag. */
#define ENCODE(call)                                                                 \
    do {                                                                             \
        rc = (call);                                                                 \
        if (rc < 0) {                                                                \
            (void)wd_diag_set(diag, rc, dir, 0, 0, "cannot encode the CA files: %s", \
                              wd_strerror(rc));                                      \
            goto out;                                                                \
        }                                                                            \
    } while (0)

int wd_ca_init_dir(const char *dir, const struct wd_spiffe_td *td, int64_t root_ttl, int64_t ttl,
                   struct wd_diag *diag)
{
    int rc;
    struct wd_ca *ca = NULL;
    struct wd_bundle *bundle = NULL;
    struct wd_buf b;
    char tmp[CA_PATH_MAX];
    bool made_tmp = false;
    wd_buf_init(&b, WD_PKI_FILE_MAX);
    size_t dlen = strlen(dir);
    while (dlen > 1 && dir[dlen - 1] == '/') {
        dlen--; /* "out/" and "out" name the same directory; the sibling is "out.tmp-..." */
    }
    int n = snprintf(tmp, sizeof(tmp), "%.*s.tmp-XXXXXX", (int)dlen, dir);
    if (n < 0 || n >= (int)sizeof(tmp) - 32) {
        return wd_diag_set(diag, WD_EINVAL, dir, 0, 0, "path too long");
    }
    WD_CHECK(check_target(dir, diag));
    WD_CHECK(wd_ca_create(td, root_ttl, ttl, &ca, diag));
    WD_BUG_ON(ca == NULL);
    /* mkdtemp makes the directory 0700, which is what a CA directory must be. */
    if (mkdtemp(tmp) == NULL) {
        rc = wd_diag_set(diag, WD_EIO, dir, 0, 0, "cannot create a temporary directory: %s",
                         strerror(errno));
        goto out;
    }
    made_tmp = true;
    ENCODE(wd_cert_to_pem(ca->root, &b));
    WD_CHECK(write_in(tmp, "root.pem", &b, 0644, diag));
    WD_CHECK(write_in(tmp, "bundle.pem", &b, 0644, diag));
    WD_CHECK(write_key_in(tmp, "root.key", ca->root_key, diag));
    wd_buf_reset(&b);
    ENCODE(wd_cert_to_pem(ca->inter, &b));
    WD_CHECK(write_in(tmp, "intermediate.pem", &b, 0644, diag));
    WD_CHECK(write_key_in(tmp, "intermediate.key", ca->inter_key, diag));
    ENCODE(wd_ca_bundle(ca, &bundle));
    wd_bundle_set_sequence(bundle, 1);
    wd_buf_reset(&b);
    ENCODE(wd_bundle_to_json(bundle, &b));
    WD_CHECK(write_in(tmp, "bundle.json", &b, 0644, diag));
    wd_buf_reset(&b);
    ENCODE(ca_json(ca, &b));
    WD_CHECK(write_in(tmp, "ca.json", &b, 0644, diag));
    /* rename(2) replaces nothing but an empty directory: a CA that appeared meanwhile stays. */
    if (rename(tmp, dir) == -1) {
        int e = errno;
        rc = wd_diag_set(diag, e == ENOTEMPTY || e == EEXIST ? WD_EEXIST : WD_EIO, dir, 0, 0,
                         "cannot move the new CA into place: %s", strerror(e));
        goto out;
    }
    made_tmp = false;
    if (fsync_parent(dir) == -1) {
        rc = wd_diag_set(diag, WD_EIO, dir, 0, 0, "fsync of the parent directory: %s",
                         strerror(errno));
        goto out;
    }
    rc = WD_OK;
out:
    if (made_tmp) {
        remove_tree(tmp);
    }
    wd_buf_cleanup(&b);
    wd_bundle_free(bundle);
    wd_ca_free(ca);
    return rc;
}

/* Exactly one certificate from path. */
static int load_one_cert(const char *path, X509 **out, struct wd_diag *diag)
{
    STACK_OF(X509) *sk = NULL;
    WD_TRY(wd_certs_load(path, &sk, diag));
    if (sk_X509_num(sk) != 1) {
        int count = sk_X509_num(sk);
        wd_certs_free(sk);
        return wd_diag_set(diag, WD_EPROTO, path, 0, 0, "expected one certificate, found %d",
                           count);
    }
    *out = sk_X509_shift(sk);
    wd_certs_free(sk);
    return WD_OK;
}

int wd_ca_load_dir(const char *dir, struct wd_ca **out, struct wd_diag *diag)
{
    int rc;
    char path[CA_PATH_MAX];
    struct wd_doc *doc = NULL;
    X509 *root = NULL, *inter = NULL;
    EVP_PKEY *key = NULL;
    struct wd_spiffe_td td;
    struct stat st;

    if (stat(dir, &st) == -1) {
        int e = errno;
        return wd_diag_set(diag, e == ENOENT ? WD_ENOENT : WD_EIO, dir, 0, 0,
                           "no CA directory here (%s)", strerror(e));
    }
    if (!S_ISDIR(st.st_mode)) {
        return wd_diag_set(diag, WD_ENOENT, dir, 0, 0, "no CA directory here (not a directory)");
    }
    WD_CHECK(join(path, dir, "ca.json", diag));
    WD_CHECK(wd_json_load_file(path, NULL, &doc, diag));
    const struct wd_node *version = NULL, *tdn = NULL, *created = NULL;
    const struct wd_field fields[] = {
            {"version", WD_NODE_INT, WD_FIELD_REQUIRED, &version},
            {"trust_domain", WD_NODE_STR, WD_FIELD_REQUIRED, &tdn},
            {"created", WD_NODE_STR, WD_FIELD_REQUIRED, &created},
    };
    WD_CHECK(wd_doc_read_object(doc, wd_doc_root(doc), fields, WD_ARRAY_LEN(fields), diag));
    if (version->u.i != 1) {
        rc = wd_doc_error(doc, version, diag, "unsupported CA layout version %lld",
                          (long long)version->u.i);
        goto out;
    }
    struct wd_diag sub;
    if (wd_spiffe_td_parse(tdn->u.s.p, tdn->u.s.len, &td, NULL, &sub) < 0) {
        rc = wd_doc_error(doc, tdn, diag, "%s", sub.msg);
        goto out;
    }
    WD_CHECK(join(path, dir, "root.pem", diag));
    WD_CHECK(load_one_cert(path, &root, diag));
    WD_CHECK(join(path, dir, "intermediate.pem", diag));
    WD_CHECK(load_one_cert(path, &inter, diag));
    WD_CHECK(join(path, dir, "intermediate.key", diag));
    WD_CHECK(wd_key_load(path, &key, diag));
    rc = wd_ca_from_parts(&td, root, NULL, inter, key, out, &sub);
    if (rc < 0) {
        (void)wd_diag_set(diag, rc, dir, 0, 0, "%s", sub.msg);
    }
out:
    EVP_PKEY_free(key);
    X509_free(inter);
    X509_free(root);
    wd_doc_free(doc);
    return rc;
}
