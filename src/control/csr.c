/*
 * Fast CSR key extraction (see csr.h). RFC 2986 §4:
 *   CertificationRequest ::= SEQUENCE {
 *       certificationRequestInfo SEQUENCE { version INTEGER (0), subject Name,
 *           subjectPKInfo SubjectPublicKeyInfo, attributes [0] IMPLICIT SET OF Attribute },
 *       signatureAlgorithm AlgorithmIdentifier, signature BIT STRING }
 * with, for the form read here, RFC 5480 §2 (id-ecPublicKey, namedCurve secp256r1, an
 * uncompressed point) and RFC 5758 §3.2 (ecdsa-with-SHA256, parameters absent).
 */
#include "csr.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/codec.h"
#include "warden/pki.h"

#define CSR_DER_MAX 8192

/* DER encodings of the OIDs (content bytes only). */
static const uint8_t oid_ec_pub[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const uint8_t oid_p256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t oid_ecdsa_sha256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};

/* A strict DER TLV reader (X.690 §10: definite, minimal lengths). */
struct der {
    const uint8_t *p;
    size_t len, off;
};

/* Read one element with tag; its content is [*c, *c + *cl); the element is [*start, off). */
static int der_next(struct der *d, uint8_t tag, const uint8_t **c, size_t *cl,
                    const uint8_t **start)
{
    size_t i = d->off;
    WD_ENSURE(i + 2 <= d->len && d->p[i] == tag, WD_EPROTO);
    if (start != NULL) {
        *start = d->p + i;
    }
    i++;
    size_t l = d->p[i++];
    if (l & 0x80) {
        size_t k = l & 0x7f;
        WD_ENSURE(k >= 1 && k <= 2 && i + k <= d->len, WD_EPROTO);
        WD_ENSURE(d->p[i] != 0, WD_EPROTO); /* minimal: no leading zero byte */
        l = 0;
        for (size_t j = 0; j < k; j++) {
            l = (l << 8) | d->p[i++];
        }
        WD_ENSURE(l >= 0x80, WD_EPROTO); /* minimal: short form where it fits */
    }
    WD_ENSURE(l <= d->len - i, WD_EPROTO);
    *c = d->p + i;
    *cl = l;
    d->off = i + l;
    return WD_OK;
}

static int der_oid(struct der *d, const uint8_t *oid, size_t n)
{
    const uint8_t *c;
    size_t cl;
    WD_TRY(der_next(d, 0x06, &c, &cl, NULL));
    WD_ENSURE(cl == n && memcmp(c, oid, n) == 0, WD_EPROTO);
    return WD_OK;
}

/* PEM armour off: the one CERTIFICATE REQUEST block's base64 body, line breaks removed. */
static int pem_body(const char *text, size_t n, struct wd_buf *der)
{
    static const char *const begins[] = {"-----BEGIN CERTIFICATE REQUEST-----",
                                         "-----BEGIN NEW CERTIFICATE REQUEST-----"};
    static const char *const ends[] = {"-----END CERTIFICATE REQUEST-----",
                                       "-----END NEW CERTIFICATE REQUEST-----"};
    size_t i = 0;
    while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) {
        i++;
    }
    size_t which = 2;
    for (size_t k = 0; k < 2; k++) {
        size_t bl = strlen(begins[k]);
        if (n - i >= bl && memcmp(text + i, begins[k], bl) == 0) {
            which = k;
            i += bl;
            break;
        }
    }
    WD_ENSURE(which < 2, WD_EPROTO);
    char b64[CSR_DER_MAX * 4 / 3 + 8];
    size_t bn = 0;
    size_t el = strlen(ends[which]);
    for (;;) {
        WD_ENSURE(i < n, WD_EPROTO);
        char c = text[i];
        if (c == '\r' || c == '\n') {
            i++;
            continue;
        }
        if (c == '-') {
            WD_ENSURE(n - i >= el && memcmp(text + i, ends[which], el) == 0, WD_EPROTO);
            i += el;
            break;
        }
        WD_ENSURE(bn < sizeof(b64), WD_EPROTO);
        b64[bn++] = c;
        i++;
    }
    while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) {
        i++;
    }
    WD_ENSURE(i == n, WD_EPROTO); /* exactly one block, nothing after it */
    int rc = wd_b64_decode(der, b64, bn, WD_B64_STD);
    return rc == WD_ENOMEM ? rc : (rc == WD_OK ? WD_OK : WD_EPROTO);
}

static int import_p256(const uint8_t *pt, size_t len, EVP_PKEY **out)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    int rc = WD_ENOMEM;
    if (ctx != NULL) {
        OSSL_PARAM ps[3];
        ps[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1",
                                                 0);
        ps[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)(uintptr_t)pt,
                                                  len);
        ps[2] = OSSL_PARAM_construct_end();
        /* the import decodes the point and refuses one that is not on the curve */
        rc = EVP_PKEY_fromdata_init(ctx) == 1
                             && EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, ps) == 1
                     ? WD_OK
                     : WD_EPROTO;
    }
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

int srv_csr_key_fast(const char *text, size_t n, EVP_PKEY **out)
{
    struct wd_buf raw;
    wd_buf_init(&raw, CSR_DER_MAX);
    EVP_PKEY *key = NULL;
    EVP_MD_CTX *md = NULL;
    int rc;
    ERR_clear_error();
    WD_CHECK(pem_body(text, n, &raw));
    struct der top = {raw.p, raw.len, 0};
    const uint8_t *c, *info_start, *info_c, *x;
    size_t cl, info_len, xl;
    WD_CHECK(der_next(&top, 0x30, &c, &cl, NULL));
    rc = top.off == top.len ? WD_OK : WD_EPROTO;
    WD_CHECK(rc);
    struct der req = {c, cl, 0};
    WD_CHECK(der_next(&req, 0x30, &info_c, &info_len, &info_start));
    size_t info_total = (size_t)(info_c + info_len - info_start);
    struct der info = {info_c, info_len, 0};
    /* version 0 */
    WD_CHECK(der_next(&info, 0x02, &x, &xl, NULL));
    rc = xl == 1 && x[0] == 0 ? WD_OK : WD_EPROTO;
    WD_CHECK(rc);
    WD_CHECK(der_next(&info, 0x30, &x, &xl, NULL)); /* subject: not used */
    /* subjectPKInfo */
    const uint8_t *spki;
    size_t spki_len;
    WD_CHECK(der_next(&info, 0x30, &spki, &spki_len, NULL));
    struct der sp = {spki, spki_len, 0};
    WD_CHECK(der_next(&sp, 0x30, &x, &xl, NULL));
    struct der alg = {x, xl, 0};
    WD_CHECK(der_oid(&alg, oid_ec_pub, sizeof(oid_ec_pub)));
    WD_CHECK(der_oid(&alg, oid_p256, sizeof(oid_p256)));
    rc = alg.off == alg.len ? WD_OK : WD_EPROTO;
    WD_CHECK(rc);
    WD_CHECK(der_next(&sp, 0x03, &x, &xl, NULL));
    /* no unused bits, an uncompressed point (SEC 1 §2.3.3) */
    rc = sp.off == sp.len && xl == 66 && x[0] == 0 && x[1] == 0x04 ? WD_OK : WD_EPROTO;
    WD_CHECK(rc);
    const uint8_t *point = x + 1;
    /* attributes [0]: present, not interpreted */
    WD_CHECK(der_next(&info, 0xa0, &x, &xl, NULL));
    rc = info.off == info.len ? WD_OK : WD_EPROTO;
    WD_CHECK(rc);
    /* signatureAlgorithm: ecdsa-with-SHA256 without parameters */
    WD_CHECK(der_next(&req, 0x30, &x, &xl, NULL));
    struct der sa = {x, xl, 0};
    WD_CHECK(der_oid(&sa, oid_ecdsa_sha256, sizeof(oid_ecdsa_sha256)));
    rc = sa.off == sa.len ? WD_OK : WD_EPROTO;
    WD_CHECK(rc);
    const uint8_t *sig;
    size_t sig_len;
    WD_CHECK(der_next(&req, 0x03, &sig, &sig_len, NULL));
    rc = req.off == req.len && sig_len >= 2 && sig[0] == 0 ? WD_OK : WD_EPROTO;
    WD_CHECK(rc);
    WD_CHECK(import_p256(point, 65, &key));
    md = EVP_MD_CTX_new();
    if (md == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    /* OpenSSL refuses non-canonical DER signatures, so there is one accepted encoding */
    if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) != 1
        || EVP_DigestVerify(md, sig + 1, sig_len - 1, info_start, info_total) != 1) {
        rc = WD_ECRYPTO;
        goto out;
    }
    *out = key;
    key = NULL;
    rc = WD_OK;
out:
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    wd_buf_cleanup(&raw);
    ERR_clear_error();
    return rc;
}

int srv_csr_key(const char *text, size_t n, EVP_PKEY **out, struct wd_diag *diag)
{
    int rc = srv_csr_key_fast(text, n, out);
    if (rc == WD_OK || rc == WD_ENOMEM) {
        return rc;
    }
    /* anything else, a bad signature included, gets lib/pki's full parse and its message */
    struct wd_csr *csr = NULL;
    rc = wd_csr_parse("csr", text, n, &csr, diag);
    if (rc == WD_OK) {
        EVP_PKEY *k = wd_csr_pubkey(csr);
        if (EVP_PKEY_up_ref(k) == 1) {
            *out = k;
        } else {
            rc = WD_ENOMEM;
        }
    }
    wd_csr_free(csr);
    return rc;
}
