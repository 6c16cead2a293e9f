/*
 * TEE evidence in CSRs: a hand-written strict DER encoder and decoder (X.690 §10) for the
 * WardenTeeEvidence SEQUENCE of include/warden/evidence.h, its placement in a PKCS#10
 * extensionRequest, and the report-data binding to the CSR key and a nonce. Written over
 * wd_rd in the style of lib/pki/claims.c so every byte is checked by rules we state and test.
 */
#include "warden/evidence.h"

#include <string.h>

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "warden/alloc.h"

#define TAG_INTEGER      0x02
#define TAG_OCTET_STRING 0x04
#define TAG_UTF8STRING   0x0c
#define TAG_SEQUENCE     0x30
#define TAG_CTX0         0x80 /* [0] IMPLICIT, primitive */

static bool type_ok(enum wd_attest t)
{
    return t == WD_ATTEST_SEV_SNP || t == WD_ATTEST_SGX || t == WD_ATTEST_SIM;
}

static bool nonce_len_ok(size_t n)
{
    return n >= WD_EVIDENCE_NONCE_MIN && n <= WD_EVIDENCE_NONCE_MAX;
}

static bool blob_len_ok(size_t n)
{
    return n >= 1 && n <= WD_EVIDENCE_MAX;
}

/* ---- encoding ---- */

/* X.690 §10.1: the definite form in the fewest octets (our lengths are below 2^24). */
static size_t len_size(size_t n)
{
    return n < 0x80 ? 1 : n <= 0xff ? 2 : n <= 0xffff ? 3 : 4;
}

static int put_hdr(struct wd_buf *o, uint8_t tag, size_t n)
{
    uint8_t h[5];
    size_t k = 0;
    h[k++] = tag;
    if (n < 0x80) {
        h[k++] = (uint8_t)n;
    } else if (n <= 0xff) {
        h[k++] = 0x81;
        h[k++] = (uint8_t)n;
    } else if (n <= 0xffff) {
        h[k++] = 0x82;
        h[k++] = (uint8_t)(n >> 8);
        h[k++] = (uint8_t)n;
    } else {
        h[k++] = 0x83;
        h[k++] = (uint8_t)(n >> 16);
        h[k++] = (uint8_t)(n >> 8);
        h[k++] = (uint8_t)n;
    }
    return wd_buf_append(o, h, k);
}

static int put_tlv(struct wd_buf *o, uint8_t tag, const void *p, size_t n)
{
    WD_TRY(put_hdr(o, tag, n));
    return wd_buf_append(o, p, n);
}

static size_t tlv_size(size_t n)
{
    return 1 + len_size(n) + n;
}

int wd_evidence_encode(const struct wd_evidence *ev, struct wd_buf *out)
{
    WD_ENSURE(ev != NULL && out != NULL, WD_EINVAL);
    WD_ENSURE(type_ok(ev->type), WD_EINVAL);
    WD_ENSURE(ev->evidence.p != NULL && blob_len_ok(ev->evidence.len), WD_EINVAL);
    WD_ENSURE(ev->nonce.p != NULL && nonce_len_ok(ev->nonce.len), WD_EINVAL);
    WD_ENSURE(!ev->has_chain || (ev->chain.p != NULL && blob_len_ok(ev->chain.len)), WD_EINVAL);
    const char *type = wd_attest_name(ev->type);
    static const uint8_t version = WD_EVIDENCE_VERSION;
    size_t body = tlv_size(1) + tlv_size(strlen(type)) + tlv_size(ev->evidence.len)
                  + tlv_size(ev->nonce.len) + (ev->has_chain ? tlv_size(ev->chain.len) : 0);
    WD_TRY(wd_buf_reserve(out, tlv_size(body)));
    WD_TRY(put_hdr(out, TAG_SEQUENCE, body));
    WD_TRY(put_tlv(out, TAG_INTEGER, &version, 1));
    WD_TRY(put_tlv(out, TAG_UTF8STRING, type, strlen(type)));
    WD_TRY(put_tlv(out, TAG_OCTET_STRING, ev->evidence.p, ev->evidence.len));
    WD_TRY(put_tlv(out, TAG_OCTET_STRING, ev->nonce.p, ev->nonce.len));
    if (ev->has_chain) {
        WD_TRY(put_tlv(out, TAG_CTX0, ev->chain.p, ev->chain.len));
    }
    return WD_OK;
}

/* ---- decoding ---- */

/* One tag-length-value: a single-octet tag and a minimal definite length of up to 3 octets. */
static int get_tlv(struct wd_rd *r, uint8_t *tag, struct wd_slice *val, const char **reason)
{
    uint8_t t, b;
    if (wd_rd_u8(r, &t) < 0 || wd_rd_u8(r, &b) < 0) {
        *reason = "truncated";
        return WD_EPROTO;
    }
    if ((t & 0x1f) == 0x1f) {
        *reason = "multi-octet tag";
        return WD_EPROTO;
    }
    size_t len = b;
    if (b == 0x80) {
        *reason = "indefinite length";
        return WD_EPROTO;
    }
    if (b > 0x83) {
        *reason = "length too large";
        return WD_EPROTO;
    }
    if (b > 0x80) {
        size_t k = b & 0x7fu;
        len = 0;
        for (size_t i = 0; i < k; i++) {
            uint8_t x;
            if (wd_rd_u8(r, &x) < 0) {
                *reason = "truncated";
                return WD_EPROTO;
            }
            if (i == 0 && x == 0) {
                *reason = "non-minimal length";
                return WD_EPROTO;
            }
            len = (len << 8) | x;
        }
        if (len < 0x80) {
            *reason = "non-minimal length";
            return WD_EPROTO;
        }
    }
    if (wd_rd_bytes(r, len, val) < 0) {
        *reason = "truncated";
        return WD_EPROTO;
    }
    *tag = t;
    return WD_OK;
}

/* The next field, which must have tag want. */
static int get_field(struct wd_rd *r, uint8_t want, const char *missing, struct wd_slice *val,
                     const char **reason)
{
    uint8_t tag;
    if (wd_rd_left(r) == 0) {
        *reason = missing;
        return WD_EPROTO;
    }
    WD_TRY(get_tlv(r, &tag, val, reason));
    if (tag != want) {
        *reason = missing;
        return WD_EPROTO;
    }
    return WD_OK;
}

static int decode(const uint8_t *p, size_t n, struct wd_evidence *out, const char **reason)
{
    if (p == NULL || n == 0) {
        *reason = "empty";
        return WD_EPROTO;
    }
    if (n > WD_EVIDENCE_DER_MAX) {
        *reason = "too long";
        return WD_EPROTO;
    }
    struct wd_rd top, r;
    uint8_t tag;
    struct wd_slice seq, v;
    wd_rd_init(&top, p, n);
    WD_TRY(get_tlv(&top, &tag, &seq, reason));
    if (tag != TAG_SEQUENCE) {
        *reason = "not a SEQUENCE";
        return WD_EPROTO;
    }
    if (wd_rd_left(&top) != 0) {
        *reason = "trailing bytes";
        return WD_EPROTO;
    }
    wd_rd_init(&r, seq.p, seq.len);
    WD_TRY(get_field(&r, TAG_INTEGER, "version missing", &v, reason));
    /* X.690 §8.3.2: version 1 has exactly one encoding, 02 01 01. */
    if (v.len != 1 || v.p[0] != WD_EVIDENCE_VERSION) {
        *reason = v.len == 0                                     ? "empty integer"
                  : v.len > 1 && v.p[0] == 0 && !(v.p[1] & 0x80) ? "non-minimal integer"
                                                                 : "unsupported version";
        return WD_EPROTO;
    }
    memset(out, 0, sizeof(*out));
    WD_TRY(get_field(&r, TAG_UTF8STRING, "type missing", &v, reason));
    if (wd_attest_parse((const char *)v.p, v.len, &out->type) < 0 || !type_ok(out->type)) {
        *reason = "unknown evidence type";
        return WD_EPROTO;
    }
    WD_TRY(get_field(&r, TAG_OCTET_STRING, "evidence missing", &out->evidence, reason));
    if (!blob_len_ok(out->evidence.len)) {
        *reason = "evidence must be 1 to 65536 bytes";
        return WD_EPROTO;
    }
    WD_TRY(get_field(&r, TAG_OCTET_STRING, "nonce missing", &out->nonce, reason));
    if (!nonce_len_ok(out->nonce.len)) {
        *reason = "nonce must be 16 to 64 bytes";
        return WD_EPROTO;
    }
    if (wd_rd_left(&r) > 0) {
        WD_TRY(get_tlv(&r, &tag, &out->chain, reason));
        if (tag != TAG_CTX0) {
            *reason = "unknown field";
            return WD_EPROTO;
        }
        if (!blob_len_ok(out->chain.len)) {
            *reason = "chain must be 1 to 65536 bytes";
            return WD_EPROTO;
        }
        out->has_chain = true;
    }
    if (wd_rd_left(&r) > 0) {
        *reason = "unknown field";
        return WD_EPROTO;
    }
    return WD_OK;
}

int wd_evidence_decode(const uint8_t *p, size_t n, struct wd_evidence *out, const char **reason)
{
    const char *dummy = NULL;
    const char **why = reason != NULL ? reason : &dummy;
    if (out == NULL) {
        *why = "no output";
        return WD_EINVAL;
    }
    int rc = decode(p, n, out, why);
    if (rc != WD_OK) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

/* ---- CSR extension ---- */

static ASN1_OBJECT *evidence_oid(void)
{
    return OBJ_txt2obj(WD_TEE_EVIDENCE_OID, 1);
}

/* The index of the evidence extension in exts, -1 when absent, -2 when present twice. */
static int find_ext(const STACK_OF(X509_EXTENSION) * exts, const ASN1_OBJECT *oid)
{
    int found = -1;
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
        if (OBJ_cmp(X509_EXTENSION_get_object(e), oid) == 0) {
            if (found >= 0) {
                return -2;
            }
            found = i;
        }
    }
    return found;
}

int wd_evidence_req_add(X509_REQ *req, const struct wd_evidence *ev, struct wd_diag *diag)
{
    int rc = WD_OK;
    struct wd_buf der;
    ASN1_OBJECT *oid = NULL;
    ASN1_OCTET_STRING *val = NULL;
    X509_EXTENSION *ext = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    wd_buf_init(&der, WD_EVIDENCE_DER_MAX);
    if (req == NULL || ev == NULL) {
        return WD_EINVAL;
    }
    rc = wd_evidence_encode(ev, &der);
    if (rc != WD_OK) {
        (void)wd_diag_set(diag, rc, NULL, 0, 0, "TEE evidence: %s",
                          rc == WD_EINVAL ? "invalid evidence" : wd_strerror(rc));
        goto out;
    }
    bool had_ext_req = X509_REQ_get_attr_by_NID(req, NID_ext_req, -1) >= 0;
    exts = had_ext_req ? X509_REQ_get_extensions(req) : sk_X509_EXTENSION_new_null();
    oid = evidence_oid();
    val = ASN1_OCTET_STRING_new();
    if (exts == NULL || oid == NULL || val == NULL
        || ASN1_OCTET_STRING_set(val, der.p, (int)der.len) != 1) {
        rc = wd_diag_set(diag, WD_ETLS, NULL, 0, 0,
                         exts == NULL && had_ext_req
                                 ? "TEE evidence: malformed extension request in the CSR"
                                 : "TEE evidence: OpenSSL failure");
        goto out;
    }
    if (find_ext(exts, oid) != -1) {
        rc = wd_diag_set(diag, WD_EEXIST, NULL, 0, 0, "TEE evidence: the CSR already has it");
        goto out;
    }
    ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, val);
    if (ext == NULL || sk_X509_EXTENSION_push(exts, ext) <= 0) {
        rc = wd_diag_set(diag, WD_ETLS, NULL, 0, 0, "TEE evidence: OpenSSL failure");
        goto out;
    }
    ext = NULL; /* owned by exts */
    /* One extensionRequest attribute: drop the old one, then add all extensions back. */
    for (int i = X509_REQ_get_attr_by_NID(req, NID_ext_req, -1); i >= 0;
         i = X509_REQ_get_attr_by_NID(req, NID_ext_req, -1)) {
        X509_ATTRIBUTE_free(X509_REQ_delete_attr(req, i));
    }
    if (X509_REQ_add_extensions(req, exts) != 1) {
        rc = wd_diag_set(diag, WD_ETLS, NULL, 0, 0, "TEE evidence: OpenSSL failure");
        goto out;
    }
out:
    X509_EXTENSION_free(ext);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ASN1_OCTET_STRING_free(val);
    ASN1_OBJECT_free(oid);
    wd_buf_cleanup(&der);
    return rc;
}

int wd_evidence_req_get(X509_REQ *req, struct wd_buf *der, struct wd_evidence *out,
                        struct wd_diag *diag)
{
    int rc = WD_OK;
    ASN1_OBJECT *oid = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    if (req == NULL || der == NULL || out == NULL) {
        return WD_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    wd_buf_reset(der);
    if (X509_REQ_get_attr_by_NID(req, NID_ext_req, -1) < 0) {
        return wd_diag_set(diag, WD_ENOENT, NULL, 0, 0, "the CSR carries no TEE evidence");
    }
    exts = X509_REQ_get_extensions(req);
    oid = evidence_oid();
    if (oid == NULL) {
        rc = wd_diag_set(diag, WD_ETLS, NULL, 0, 0, "TEE evidence: OpenSSL failure");
        goto out;
    }
    if (exts == NULL) {
        rc = wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "malformed extension request in the CSR");
        goto out;
    }
    int i = find_ext(exts, oid);
    if (i == -1) {
        rc = wd_diag_set(diag, WD_ENOENT, NULL, 0, 0, "the CSR carries no TEE evidence");
        goto out;
    }
    if (i == -2) {
        rc = wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "TEE evidence extension present twice");
        goto out;
    }
    X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
    if (X509_EXTENSION_get_critical(e)) {
        rc = wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                         "TEE evidence extension is critical; it must not be");
        goto out;
    }
    const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(e);
    size_t vlen = (size_t)ASN1_STRING_length(v);
    if (vlen > WD_EVIDENCE_DER_MAX) {
        rc = wd_diag_set(diag, WD_ELIMIT, NULL, 0, 0, "TEE evidence: %zu bytes is too long", vlen);
        goto out;
    }
    rc = wd_buf_append(der, ASN1_STRING_get0_data(v), vlen);
    if (rc != WD_OK) {
        goto out;
    }
    const char *why = NULL;
    if (wd_evidence_decode(der->p, der->len, out, &why) != WD_OK) {
        rc = wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "malformed TEE evidence: %s", why);
        goto out;
    }
out:
    if (rc != WD_OK) {
        memset(out, 0, sizeof(*out));
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ASN1_OBJECT_free(oid);
    return rc;
}

/* ---- binding ---- */

int wd_evidence_binding(EVP_PKEY *pub, const uint8_t *nonce, size_t nonce_len,
                        uint8_t out[WD_EVIDENCE_BINDING_LEN])
{
    WD_ENSURE(pub != NULL && nonce != NULL && out != NULL && nonce_len_ok(nonce_len), WD_EINVAL);
    int rc = WD_OK;
    uint8_t *spki = NULL;
    /* label || SHA-256(SPKI) || nonce */
    uint8_t in[sizeof(WD_EVIDENCE_BINDING_LABEL) - 1 + 32 + WD_EVIDENCE_NONCE_MAX];
    const size_t label_len = sizeof(WD_EVIDENCE_BINDING_LABEL) - 1;
    unsigned int mdlen = 0;
    int n = i2d_PUBKEY(pub, NULL);
    if (n <= 0) {
        return WD_ETLS;
    }
    spki = wd_malloc((size_t)n);
    if (spki == NULL) {
        return WD_ENOMEM;
    }
    uint8_t *w = spki;
    memcpy(in, WD_EVIDENCE_BINDING_LABEL, label_len);
    if (i2d_PUBKEY(pub, &w) != n
        || EVP_Digest(spki, (size_t)n, in + label_len, &mdlen, EVP_sha256(), NULL) != 1
        || mdlen != 32) {
        rc = WD_ETLS;
        goto out;
    }
    memcpy(in + label_len + 32, nonce, nonce_len);
    if (EVP_Digest(in, label_len + 32 + nonce_len, out, &mdlen, EVP_sha512(), NULL) != 1
        || mdlen != WD_EVIDENCE_BINDING_LEN) {
        rc = WD_ETLS;
        goto out;
    }
out:
    wd_free(spki);
    return rc;
}

int wd_evidence_check_binding(EVP_PKEY *pub, const struct wd_evidence *ev,
                              const uint8_t report_data[WD_EVIDENCE_BINDING_LEN],
                              struct wd_diag *diag)
{
    WD_ENSURE(ev != NULL && report_data != NULL, WD_EINVAL);
    uint8_t want[WD_EVIDENCE_BINDING_LEN];
    WD_TRY(wd_evidence_binding(pub, ev->nonce.p, ev->nonce.len, want));
    if (CRYPTO_memcmp(want, report_data, sizeof(want)) != 0) {
        return wd_diag_set(diag, WD_EDENIED, NULL, 0, 0,
                           "report data does not bind the CSR key and nonce");
    }
    return WD_OK;
}
