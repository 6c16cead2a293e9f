/*
 * The PCK side of SGX DCAP verification: trust anchors, RFC 5280 path validation of the PCK
 * and TCB Signing chains (with CRLs), the SGX extension of PCK certificates, and raw ECDSA
 * P-256 signatures as Intel encodes them.
 */
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "warden/alloc.h"
#include "warden/pki.h"

#include "pki/pki_int.h"
#include "sgx_int.h"

/* ---- trust anchors ---- */

int sgx_anchor_init(struct sgx_anchor *a, X509 *root)
{
    memset(a, 0, sizeof(*a));
    wd_pki_ossl_clear();
    unsigned char *der = NULL;
    int n = i2d_X509(root, &der);
    if (n <= 0) {
        return wd_pki_ossl_fail(NULL, WD_ETLS, NULL, "encode the root");
    }
    SHA256(der, (size_t)n, a->id);
    OPENSSL_free(der);
    a->store = X509_STORE_new();
    if (a->store == NULL || X509_STORE_add_cert(a->store, root) != 1) {
        X509_STORE_free(a->store);
        a->store = NULL;
        return wd_pki_ossl_fail(NULL, WD_ENOMEM, NULL, "make the trust store");
    }
    X509_up_ref(root);
    a->root = root;
    return WD_OK;
}

void sgx_anchor_cleanup(struct sgx_anchor *a)
{
    if (a == NULL) {
        return;
    }
    X509_STORE_free(a->store);
    X509_free(a->root);
    memset(a, 0, sizeof(*a));
}

static struct sgx_anchor intel_anchor;
static int intel_anchor_rc = WD_ETLS;
static pthread_once_t intel_once = PTHREAD_ONCE_INIT;

/* Decoded once per process and never freed: the anchor lives as long as the program. */
static void intel_anchor_load(void)
{
    const unsigned char *q = wd_sgx_intel_root_der;
    X509 *root = d2i_X509(NULL, &q, (long)wd_sgx_intel_root_der_len);
    if (root == NULL || q != wd_sgx_intel_root_der + wd_sgx_intel_root_der_len) {
        X509_free(root);
        ERR_clear_error();
        return;
    }
    intel_anchor_rc = sgx_anchor_init(&intel_anchor, root);
    X509_free(root);
    ERR_clear_error();
}

int sgx_anchor_intel(const struct sgx_anchor **out)
{
    if (pthread_once(&intel_once, intel_anchor_load) != 0) {
        return WD_ETLS;
    }
    WD_TRY(intel_anchor_rc);
    *out = &intel_anchor;
    return WD_OK;
}

/* ---- raw ECDSA ---- */

int sgx_ecdsa_verify(EVP_PKEY *key, const uint8_t *msg, size_t len, const uint8_t sig[64])
{
    wd_pki_ossl_clear();
    int rc;
    unsigned char *der = NULL;
    EVP_MD_CTX *md = NULL;
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL);
    BIGNUM *sv = BN_bin2bn(sig + 32, 32, NULL);
    if (s == NULL || r == NULL || sv == NULL || ECDSA_SIG_set0(s, r, sv) != 1) {
        BN_free(r);
        BN_free(sv);
        rc = WD_ENOMEM;
        goto out;
    }
    /* [QL] A.4: signatures are r || s, 32 bytes each, big-endian; OpenSSL wants DER. */
    int n = i2d_ECDSA_SIG(s, &der);
    md = EVP_MD_CTX_new();
    if (n <= 0 || md == NULL || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) != 1) {
        rc = WD_ENOMEM;
        goto out;
    }
    rc = EVP_DigestVerify(md, der, (size_t)n, msg, len) == 1 ? 1 : 0;
out:
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ECDSA_SIG_free(s);
    return rc;
}

/* ---- path validation ---- */

static int chain_refuse(X509_STORE_CTX *ctx, const struct sgx_chain_reasons *map, const char *what,
                        enum wd_sgx_reason *why, struct wd_diag *diag)
{
    int err = X509_STORE_CTX_get_error(ctx);
    int depth = X509_STORE_CTX_get_error_depth(ctx);
    const char *text = X509_verify_cert_error_string(err);
    enum wd_sgx_reason r;
    switch (err) {
    case X509_V_OK:
        return wd_pki_ossl_fail(diag, WD_ETLS, NULL, "%s: path validation failed", what);
    case X509_V_ERR_OUT_OF_MEM:
        return WD_ENOMEM;
    case X509_V_ERR_CERT_HAS_EXPIRED:
        r = map->expired;
        break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        r = map->not_yet_valid;
        break;
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
        r = map->bad_sig;
        break;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
        r = map->untrusted;
        break;
    case X509_V_ERR_CERT_REVOKED:
        r = map->revoked;
        break;
    case X509_V_ERR_UNABLE_TO_GET_CRL:
        r = WD_SGX_CRL_MISSING;
        break;
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_CRL_NOT_YET_VALID:
        r = WD_SGX_CRL_EXPIRED;
        break;
    case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
    case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
        r = WD_SGX_CRL_MALFORMED;
        break;
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
    case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
    case X509_V_ERR_DIFFERENT_CRL_SCOPE:
    case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
        r = WD_SGX_CRL_INVALID;
        break;
    default:
        r = map->other;
        break;
    }
    return sgx_refuse(r, why, diag, "%s certificate %d: %s", what, depth, text);
}

/* Fold one validity window into [*nb, *na]. */
static void window(const ASN1_TIME *from, const ASN1_TIME *to, int64_t *nb, int64_t *na)
{
    int64_t t;
    if (from != NULL && wd_pki_time_to_unix(from, &t) == WD_OK && t > *nb) {
        *nb = t;
    }
    if (to != NULL && wd_pki_time_to_unix(to, &t) == WD_OK && t < *na) {
        *na = t;
    }
}

int sgx_chain_verify(const struct sgx_anchor *anchor, X509 *leaf, STACK_OF(X509) * untrusted,
                     STACK_OF(X509_CRL) * crls, int64_t now, int length,
                     const struct sgx_chain_reasons *map, const char *what, int64_t *nb,
                     int64_t *na, enum wd_sgx_reason *why, struct wd_diag *diag)
{
    wd_pki_ossl_clear();
    int rc;
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (ctx == NULL || X509_STORE_CTX_init(ctx, anchor->store, leaf, untrusted) != 1) {
        rc = wd_pki_ossl_fail(diag, WD_ENOMEM, NULL, "%s: cannot start path validation", what);
        goto out;
    }
    X509_STORE_CTX_set_time(ctx, 0, (time_t)now);
    unsigned long flags = X509_V_FLAG_X509_STRICT;
    if (crls != NULL) {
        /* [PCK] §1.4: revocation is by CRL only; every certificate of the chain (the root
         * included: Intel's root CA CRL is issued by the root) must be covered. */
        X509_STORE_CTX_set0_crls(ctx, crls);
        flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
    }
    X509_STORE_CTX_set_flags(ctx, flags);
    if (X509_verify_cert(ctx) != 1) {
        rc = chain_refuse(ctx, map, what, why, diag);
        ERR_clear_error();
        goto out;
    }
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
    /* Intel's hierarchy is flat: the PCK CA and the TCB Signing certificate are issued by the
     * root itself, so any other path length is not Intel's. */
    if (sk_X509_num(chain) != length) {
        rc = sgx_refuse(map->untrusted, why, diag, "%s: path of %d certificates, not %d", what,
                        sk_X509_num(chain), length);
        goto out;
    }
    *nb = INT64_MIN;
    *na = INT64_MAX;
    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *x = sk_X509_value(chain, i);
        window(X509_get0_notBefore(x), X509_get0_notAfter(x), nb, na);
    }
    for (int i = 0; crls != NULL && i < sk_X509_CRL_num(crls); i++) {
        X509_CRL *c = sk_X509_CRL_value(crls, i);
        window(X509_CRL_get0_lastUpdate(c), X509_CRL_get0_nextUpdate(c), nb, na);
    }
    rc = WD_OK;
out:
    X509_STORE_CTX_free(ctx);
    return rc;
}

/* ---- the SGX extension ([PCK] §1.3.5) ---- */

/* DER of OID 1.2.840.113741.1.13.1 (the SGX extension), without tag and length. */
static const uint8_t sgx_ext_oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};
#define SGX_OID_LEN sizeof(sgx_ext_oid)

enum {
    DER_BOOLEAN = 0x01,
    DER_INTEGER = 0x02,
    DER_OCTETS = 0x04,
    DER_OID = 0x06,
    DER_ENUMERATED = 0x0a,
    DER_SEQUENCE = 0x30
};

/* One DER TLV (X.690 §8.1, §10.1): single-byte tag, minimal definite length. */
static int der_tlv(struct wd_rd *r, uint8_t tag, struct wd_slice *val)
{
    uint8_t t, l;
    WD_TRY(wd_rd_u8(r, &t));
    WD_ENSURE(t == tag, WD_EPROTO);
    WD_TRY(wd_rd_u8(r, &l));
    size_t n = l;
    if (l & 0x80) {
        size_t k = l & 0x7f;
        WD_ENSURE(k >= 1 && k <= 3, WD_EPROTO);
        n = 0;
        for (size_t i = 0; i < k; i++) {
            uint8_t b;
            WD_TRY(wd_rd_u8(r, &b));
            WD_ENSURE(i > 0 || b != 0, WD_EPROTO); /* minimal: no leading zero octet */
            n = n << 8 | b;
        }
        WD_ENSURE(n >= 0x80, WD_EPROTO); /* minimal: short form would have done */
    }
    return wd_rd_bytes(r, n, val);
}

/* A non-negative DER INTEGER (X.690 §8.3) no larger than max. */
static int der_uint(struct wd_slice v, uint32_t max, uint32_t *out)
{
    WD_ENSURE(v.len >= 1 && v.len <= 5, WD_EPROTO);
    WD_ENSURE((v.p[0] & 0x80) == 0, WD_EPROTO);                         /* negative */
    WD_ENSURE(v.len == 1 || v.p[0] != 0 || (v.p[1] & 0x80), WD_EPROTO); /* not minimal */
    uint64_t x = 0;
    for (size_t i = 0; i < v.len; i++) {
        x = x << 8 | v.p[i];
    }
    WD_ENSURE(x <= max, WD_EPROTO);
    *out = (uint32_t)x;
    return WD_OK;
}

/* The value of the OCTET STRING v must be exactly n bytes. */
static int der_octets(struct wd_rd *r, uint8_t *dst, size_t n)
{
    struct wd_slice v;
    WD_TRY(der_tlv(r, DER_OCTETS, &v));
    WD_ENSURE(v.len == n, WD_EPROTO);
    memcpy(dst, v.p, n);
    return WD_OK;
}

/* TCB ::= SEQUENCE (SIZE 18) OF SEQUENCE { OID (sgx.2.N), INTEGER | OCTET STRING }. */
static int pck_tcb(struct wd_slice seq, struct sgx_pck_ext *out)
{
    struct wd_rd r;
    wd_rd_init(&r, seq.p, seq.len);
    uint32_t seen = 0;
    while (wd_rd_left(&r) > 0) {
        struct wd_slice item, oid;
        WD_TRY(der_tlv(&r, DER_SEQUENCE, &item));
        struct wd_rd ir;
        wd_rd_init(&ir, item.p, item.len);
        WD_TRY(der_tlv(&ir, DER_OID, &oid));
        WD_ENSURE(oid.len == SGX_OID_LEN + 2 && memcmp(oid.p, sgx_ext_oid, SGX_OID_LEN) == 0
                          && oid.p[SGX_OID_LEN] == 0x02,
                  WD_EPROTO);
        unsigned k = oid.p[SGX_OID_LEN + 1];
        WD_ENSURE(k >= 1 && k <= 18 && !(seen & (1u << k)), WD_EPROTO);
        seen |= 1u << k;
        if (k == 18) {
            WD_TRY(der_octets(&ir, out->cpu_svn, 16));
        } else {
            struct wd_slice v;
            uint32_t x = 0;
            WD_TRY(der_tlv(&ir, DER_INTEGER, &v));
            WD_TRY(der_uint(v, k == 17 ? 0xffff : 0xff, &x));
            if (k == 17) {
                out->pce_svn = (uint16_t)x;
            } else {
                out->tcb_comp[k - 1] = (uint8_t)x;
            }
        }
        WD_ENSURE(wd_rd_left(&ir) == 0, WD_EPROTO);
    }
    WD_ENSURE(seen == 0x7fffeu, WD_EPROTO); /* bits 1..18 */
    return WD_OK;
}

int sgx_pck_ext_parse(const uint8_t *der, size_t len, struct sgx_pck_ext *out)
{
    memset(out, 0, sizeof(*out));
    struct wd_rd top, r;
    struct wd_slice seq;
    wd_rd_init(&top, der, len);
    WD_TRY(der_tlv(&top, DER_SEQUENCE, &seq));
    WD_ENSURE(wd_rd_left(&top) == 0, WD_EPROTO);
    wd_rd_init(&r, seq.p, seq.len);
    unsigned seen = 0;
    while (wd_rd_left(&r) > 0) {
        struct wd_slice item, oid;
        WD_TRY(der_tlv(&r, DER_SEQUENCE, &item));
        struct wd_rd ir;
        wd_rd_init(&ir, item.p, item.len);
        WD_TRY(der_tlv(&ir, DER_OID, &oid));
        if (oid.len != SGX_OID_LEN + 1 || memcmp(oid.p, sgx_ext_oid, SGX_OID_LEN) != 0) {
            continue; /* a member this verifier does not use */
        }
        unsigned k = oid.p[SGX_OID_LEN];
        if (k < 1 || k > 5) {
            continue; /* .6 PlatformInstanceID, .7 Configuration (Platform CA certs only) */
        }
        WD_ENSURE(!(seen & (1u << k)), WD_EPROTO);
        seen |= 1u << k;
        struct wd_slice v;
        uint32_t x = 0;
        switch (k) {
        case 1: /* PPID ::= OCTET STRING (SIZE 16) */
            WD_TRY(der_octets(&ir, out->ppid, 16));
            out->has_ppid = true;
            break;
        case 2:
            WD_TRY(der_tlv(&ir, DER_SEQUENCE, &v));
            WD_TRY(pck_tcb(v, out));
            break;
        case 3: /* PCE-ID ::= OCTET STRING (SIZE 2) */
            WD_TRY(der_octets(&ir, out->pce_id, 2));
            break;
        case 4: /* FMSPC ::= OCTET STRING (SIZE 6) */
            WD_TRY(der_octets(&ir, out->fmspc, 6));
            break;
        default: /* 5: SGX Type ::= ENUMERATED { standard(0), scalable(1), ... } */
            WD_TRY(der_tlv(&ir, DER_ENUMERATED, &v));
            WD_TRY(der_uint(v, 0xff, &x));
            out->sgx_type = (uint8_t)x;
            break;
        }
        WD_ENSURE(wd_rd_left(&ir) == 0, WD_EPROTO);
    }
    /* TCB, PCE-ID, FMSPC and SGX Type are mandatory ([PCK] §1.3.5 table). */
    WD_ENSURE((seen & 0x3c) == 0x3c, WD_EPROTO);
    return WD_OK;
}

/* ---- the PCK chain ---- */

static void pck_destroy(struct sgx_obj *o)
{
    struct sgx_pck *p = (struct sgx_pck *)o;
    EVP_PKEY_free(p->key);
    wd_free(p);
}

/* The extnValue of the leaf's SGX extension, which must be present once and non-critical. */
static int pck_extension(X509 *leaf, struct sgx_pck_ext *ext, struct wd_diag *diag,
                         enum wd_sgx_reason *why)
{
    int found = -1;
    for (int i = 0; i < X509_get_ext_count(leaf); i++) {
        X509_EXTENSION *e = X509_get_ext(leaf, i);
        const ASN1_OBJECT *obj = X509_EXTENSION_get_object(e);
        unsigned char *enc = NULL;
        int n = i2d_ASN1_OBJECT(obj, &enc);
        bool is_sgx = n == (int)SGX_OID_LEN + 2 && memcmp(enc + 2, sgx_ext_oid, SGX_OID_LEN) == 0;
        OPENSSL_free(enc);
        if (n <= 0) {
            return wd_pki_ossl_fail(diag, WD_ENOMEM, NULL, "PCK leaf: encode an OID");
        }
        if (is_sgx) {
            if (found >= 0) {
                return sgx_refuse(WD_SGX_PCK_BAD_EXTENSION, why, diag,
                                  "PCK leaf: SGX extension present twice");
            }
            found = i;
        }
    }
    if (found < 0) {
        return sgx_refuse(WD_SGX_PCK_BAD_EXTENSION, why, diag, "PCK leaf: no SGX extension");
    }
    const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(leaf, found));
    if (sgx_pck_ext_parse(ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v), ext) < 0) {
        return sgx_refuse(WD_SGX_PCK_BAD_EXTENSION, why, diag, "PCK leaf: malformed SGX extension");
    }
    return WD_OK;
}

int sgx_pck_verify(const struct sgx_anchor *anchor, struct wd_slice cert_data,
                   STACK_OF(X509_CRL) * crls, int64_t now, struct sgx_pck **out,
                   enum wd_sgx_reason *why, struct wd_diag *diag)
{
    *out = NULL;
    /* Intel's QE writes the PEM chain as a C string: its NUL terminator may be included. */
    size_t n = cert_data.len;
    while (n > 0 && cert_data.p[n - 1] == '\0') {
        n--;
    }
    int rc;
    struct wd_diag sub;
    STACK_OF(X509) *certs = NULL;
    STACK_OF(X509) *inter = NULL;
    struct sgx_pck *pck = NULL;
    if (n == 0 || !wd_pki_looks_like_pem(cert_data.p, n)) {
        rc = sgx_refuse(WD_SGX_PCK_CHAIN_MALFORMED, why, diag,
                        "certification data is not a PEM certificate chain");
        goto out;
    }
    rc = wd_certs_parse("PCK chain", cert_data.p, n, &certs, &sub);
    if (rc == WD_ENOMEM) {
        goto out;
    }
    if (rc < 0) {
        rc = sgx_refuse(WD_SGX_PCK_CHAIN_MALFORMED, why, diag, "%s", sub.msg);
        goto out;
    }
    /* [QL] A.4 type 5: PCK leaf, PCK Platform or Processor CA, and the root. The root copy
     * in the quote adds nothing (the anchor is pinned) but, when present, must be it. */
    int count = sk_X509_num(certs);
    if (count < 2 || count > 3) {
        rc = sgx_refuse(WD_SGX_PCK_CHAIN_MALFORMED, why, diag,
                        "PCK chain has %d certificates (2 or 3 expected)", count);
        goto out;
    }
    if (count == 3 && X509_cmp(sk_X509_value(certs, 2), anchor->root) != 0) {
        rc = sgx_refuse(WD_SGX_PCK_UNTRUSTED, why, diag,
                        "PCK chain ends in a root other than the pinned Intel SGX Root CA");
        goto out;
    }
    X509 *leaf = sk_X509_value(certs, 0);
    inter = sk_X509_new_null();
    if (inter == NULL || sk_X509_push(inter, sk_X509_value(certs, 1)) <= 0) {
        rc = WD_ENOMEM;
        goto out;
    }
    static const struct sgx_chain_reasons map = {
            .untrusted = WD_SGX_PCK_UNTRUSTED,
            .bad_sig = WD_SGX_PCK_BAD_SIGNATURE,
            .not_yet_valid = WD_SGX_PCK_NOT_YET_VALID,
            .expired = WD_SGX_PCK_EXPIRED,
            .revoked = WD_SGX_PCK_REVOKED,
            .other = WD_SGX_PCK_INVALID,
    };
    pck = wd_calloc(1, sizeof(*pck));
    if (pck == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    atomic_init(&pck->obj.refs, 1);
    pck->obj.destroy = pck_destroy;
    WD_CHECK(sgx_chain_verify(anchor, leaf, inter, crls, now, 3, &map, "PCK chain", &pck->nb,
                              &pck->na, why, diag));
    /* The PCK leaf is an end entity ([PCK] §1.3.5: basicConstraints CA:FALSE). */
    if (X509_check_ca(leaf) != 0) {
        rc = sgx_refuse(WD_SGX_PCK_INVALID, why, diag, "PCK leaf is a CA certificate");
        goto out;
    }
    EVP_PKEY *key = X509_get0_pubkey(leaf);
    char gname[32] = "";
    if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC
        || EVP_PKEY_get_group_name(key, gname, sizeof(gname), NULL) != 1
        || strcmp(gname, "prime256v1") != 0) {
        ERR_clear_error();
        rc = sgx_refuse(WD_SGX_PCK_BAD_KEY, why, diag, "PCK leaf key is not EC P-256");
        goto out;
    }
    WD_CHECK(pck_extension(leaf, &pck->ext, diag, why));
    EVP_PKEY_up_ref(key);
    pck->key = key;
    *out = pck;
    pck = NULL;
    rc = WD_OK;
out:
    if (pck != NULL) {
        sgx_obj_release(&pck->obj);
    }
    sk_X509_free(inter);
    wd_certs_free(certs);
    return rc;
}
