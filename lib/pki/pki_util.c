/* Helpers shared by lib/pki: OpenSSL error draining, PEM blocks, times, SAN handling. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "warden/log.h"

#include "pki_int.h"

void wd_pki_ossl_clear(void)
{
    ERR_clear_error();
}

int wd_pki_ossl_fail_(struct wd_diag *diag, int rc, const char *name, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 false positive */
    (void)vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);

    /* The first entry is the root cause; later ones are the callers' context. */
    char first[256] = "";
    bool oom = false;
    unsigned long e;
    const char *file = NULL, *func = NULL;
    int line = 0;
    while ((e = ERR_get_error_all(&file, &line, &func, NULL, NULL)) != 0) {
        char text[256];
        ERR_error_string_n(e, text, sizeof(text));
        wd_log(WD_LOG_DEBUG, "openssl: %s (%s:%d %s)", text, file ? file : "?", line,
               func ? func : "?");
        if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE) {
            oom = true;
        }
        if (first[0] == '\0') {
            const char *reason = ERR_reason_error_string(e);
            (void)snprintf(first, sizeof(first), "%s", reason ? reason : text);
        }
    }
    if (oom) {
        rc = WD_ENOMEM;
    }
    if (first[0] != '\0') {
        return wd_diag_set(diag, rc, name, 0, 0, "%s: %s", what, first);
    }
    return wd_diag_set(diag, rc, name, 0, 0, "%s", what);
}

bool wd_pki_looks_like_pem(const void *p, size_t n)
{
    static const char marker[] = "-----BEGIN ";
    const size_t m = sizeof(marker) - 1;
    const char *s = p;
    for (size_t i = 0; i + m <= n; i++) {
        if (s[i] == '-' && memcmp(s + i, marker, m) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * OpenSSL skips any text that is not a complete "-----BEGIN ...-----" line, so a file cut in
 * the middle of an armor line would silently lose its last block. Every line that starts
 * with "-----" must therefore be a whole BEGIN or END line (RFC 7468 §2). Returns the 1-based
 * number of the first bad line, or 0.
 */
static size_t bad_armor_line(const char *s, size_t n)
{
    size_t line = 1;
    for (size_t i = 0; i < n; line++) {
        size_t end = i;
        while (end < n && s[end] != '\n') {
            end++;
        }
        size_t len = end - i;
        while (len > 0
               && (s[i + len - 1] == '\r' || s[i + len - 1] == ' ' || s[i + len - 1] == '\t')) {
            len--;
        }
        if (len >= 5 && memcmp(s + i, "-----", 5) == 0) {
            bool begin = len >= 11 && memcmp(s + i + 5, "BEGIN ", 6) == 0;
            bool endl = len >= 9 && memcmp(s + i + 5, "END ", 4) == 0;
            size_t label = begin ? 11 : 9;
            if ((!begin && !endl) || len < label + 6 || memcmp(s + i + len - 5, "-----", 5) != 0) {
                return line;
            }
        }
        i = end + 1;
    }
    return 0;
}

int wd_pki_pem_each(const char *name, const void *p, size_t n, bool secure, wd_pki_pem_fn fn,
                    void *ctx, size_t *count, struct wd_diag *diag)
{
    if (count != NULL) {
        *count = 0;
    }
    if (n > INT_MAX) {
        return wd_diag_set(diag, WD_ELIMIT, name, 0, 0, "input too large");
    }
    size_t bad = bad_armor_line(p, n);
    if (bad != 0) {
        return wd_diag_set(diag, WD_EPROTO, name, 0, 0,
                           "truncated or malformed PEM: incomplete armor line %zu", bad);
    }
    wd_pki_ossl_clear();
    BIO *bio = BIO_new_mem_buf(p, (int)n);
    if (bio == NULL) {
        return wd_pki_ossl_fail(diag, WD_ENOMEM, name, "cannot read");
    }
    int rc = WD_OK;
    size_t i = 0;
    for (;; i++) {
        char *type = NULL, *hdr = NULL;
        unsigned char *data = NULL;
        long len = 0;
        unsigned int flags = secure ? PEM_FLAG_SECURE : 0;
        if (PEM_read_bio_ex(bio, &type, &hdr, &data, &len, flags) != 1) {
            unsigned long e = ERR_peek_last_error();
            if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
                /* No further "-----BEGIN" line: the end of the blocks. */
                ERR_clear_error();
                if (i == 0) {
                    rc = wd_diag_set(diag, WD_EPROTO, name, 0, 0, "not PEM (no -----BEGIN line)");
                }
                break;
            }
            rc = wd_pki_ossl_fail(diag, WD_EPROTO, name, "truncated or malformed PEM (block %zu)",
                                  i + 1);
            break;
        }
        bool encrypted = hdr != NULL && hdr[0] != '\0';
        rc = fn(ctx, type, data, (size_t)len, encrypted, i);
        if (secure) {
            OPENSSL_secure_clear_free(data, (size_t)len);
            OPENSSL_secure_free(type);
            OPENSSL_secure_free(hdr);
        } else {
            OPENSSL_free(data);
            OPENSSL_free(type);
            OPENSSL_free(hdr);
        }
        if (rc != WD_OK) {
            i++;
            break;
        }
    }
    BIO_free(bio);
    if (count != NULL) {
        *count = i;
    }
    return rc;
}

int wd_pki_bio_to_buf(BIO *bio, struct wd_buf *out)
{
    char *mem = NULL;
    long len = BIO_get_mem_data(bio, &mem);
    if (len < 0 || (len > 0 && mem == NULL)) {
        return WD_ETLS;
    }
    return wd_buf_append(out, mem, (size_t)len);
}

int wd_pki_time_to_unix(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
        return WD_EPROTO;
    }
    time_t v = timegm(&tm);
    if (v == (time_t)-1) {
        return WD_EPROTO;
    }
    *out = (int64_t)v;
    return WD_OK;
}

X509_EXTENSION *wd_pki_san_uri_ext(const char *uri, size_t len, bool critical)
{
    X509_EXTENSION *ext = NULL;
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    if (gens == NULL || gn == NULL || ia5 == NULL || len > INT_MAX
        || ASN1_STRING_set(ia5, uri, (int)len) != 1) {
        goto out;
    }
    GENERAL_NAME_set0_value(gn, GEN_URI, ia5);
    ia5 = NULL;
    if (sk_GENERAL_NAME_push(gens, gn) <= 0) {
        goto out;
    }
    gn = NULL;
    ext = X509V3_EXT_i2d(NID_subject_alt_name, critical ? 1 : 0, gens);
out:
    ASN1_IA5STRING_free(ia5);
    GENERAL_NAME_free(gn);
    GENERAL_NAMES_free(gens);
    return ext;
}

int wd_pki_uri_id(const GENERAL_NAMES *gens, const char *name, size_t *count,
                  struct wd_spiffe_id *id, enum wd_spiffe_err *why, struct wd_diag *diag)
{
    size_t uris = 0;
    const ASN1_IA5STRING *uri = NULL;
    int n = gens != NULL ? sk_GENERAL_NAME_num(gens) : 0;
    for (int i = 0; i < n; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);
        if (gn->type == GEN_URI) {
            uris++;
            uri = gn->d.uniformResourceIdentifier;
        }
    }
    *count = uris;
    if (uris != 1) {
        return WD_OK;
    }
    struct wd_diag sub;
    int rc = wd_spiffe_id_parse((const char *)ASN1_STRING_get0_data(uri),
                                (size_t)ASN1_STRING_length(uri), id, why, &sub);
    if (rc < 0) {
        return wd_diag_set(diag, rc, name, 0, 0, "URI SAN is not a SPIFFE ID: %s", sub.msg);
    }
    return WD_OK;
}

void wd_pki_key_desc(const EVP_PKEY *key, char *out, size_t outsz)
{
    if (key == NULL) {
        (void)snprintf(out, outsz, "none");
        return;
    }
    int id = EVP_PKEY_get_base_id(key);
    char group[64];
    size_t glen = 0;
    if (id == EVP_PKEY_EC) {
        if (EVP_PKEY_get_group_name(key, group, sizeof(group), &glen) != 1) {
            (void)snprintf(group, sizeof(group), "unknown curve");
            ERR_clear_error();
        }
        (void)snprintf(out, outsz, "EC %s",
                       strcmp(group, SN_X9_62_prime256v1) == 0 ? "P-256" : group);
    } else if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) {
        (void)snprintf(out, outsz, "%s %d", id == EVP_PKEY_RSA ? "RSA" : "RSA-PSS",
                       EVP_PKEY_get_bits(key));
    } else {
        const char *tn = EVP_PKEY_get0_type_name(key);
        (void)snprintf(out, outsz, "%s", tn != NULL ? tn : "unknown key type");
    }
}
