/*
 * X.509-SVIDs: issuance (the hot path the control plane and bench/svid-issue run) and
 * verification per the SPIFFE X509-SVID specification (sections cited as "X509-SVID §n").
 */
#include "warden/svid.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/pki.h"
#include "warden/rand.h"

#include "pki_int.h"

/* 2.25.18674814504717350249699834908302362657.1 (UUID 0e0ca371-334e-438f-a7e3-652882cbc821). */
const uint8_t wd_pki_claims_oid[20] = {0x69, 0x9c, 0x8c, 0xd1, 0xdc, 0xa6, 0xb4, 0xf2, 0x8e, 0x9f,
                                       0xa7, 0xf1, 0xd9, 0xa5, 0x88, 0x96, 0xaf, 0x90, 0x21, 0x01};

/* ---- issuing ---- */

/*
 * Issuance writes the DER of the certificate directly (X.690 distinguished encoding, RFC 5280
 * §4.1 structure) from parts the CA computed once: through OpenSSL 3's object API, setting
 * the public key alone goes through its generic encoder and costs more than the signature.
 * The result is parsed back by OpenSSL in the tests and checked field by field.
 */

/* Largest certificate: a 2048-byte ID, 1 KiB of claims, and ~1 KiB of the rest. */
#define CERT_MAX 8192

struct der {
    uint8_t *p;
    size_t len, cap;
    bool overflow;
};

static void der_put(struct der *d, const void *p, size_t n)
{
    if (d->overflow || n > d->cap - d->len) {
        d->overflow = true;
        return;
    }
    memcpy(d->p + d->len, p, n);
    d->len += n;
}

/* Turn the bytes written since mark into the content of one TLV with tag (minimal length). */
static void der_wrap(struct der *d, size_t mark, uint8_t tag)
{
    size_t clen = d->len - mark;
    uint8_t hdr[4];
    size_t h = 0;
    hdr[h++] = tag;
    if (clen < 0x80) {
        hdr[h++] = (uint8_t)clen;
    } else if (clen <= 0xff) {
        hdr[h++] = 0x81;
        hdr[h++] = (uint8_t)clen;
    } else {
        hdr[h++] = 0x82;
        hdr[h++] = (uint8_t)(clen >> 8);
        hdr[h++] = (uint8_t)clen;
    }
    if (d->overflow || clen > 0xffff || h > d->cap - d->len) {
        d->overflow = true;
        return;
    }
    memmove(d->p + mark + h, d->p + mark, clen);
    memcpy(d->p + mark, hdr, h);
    d->len += h;
}

static void der_tlv(struct der *d, uint8_t tag, const void *p, size_t n)
{
    size_t mark = d->len;
    der_put(d, p, n);
    der_wrap(d, mark, tag);
}

/* RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, always in UTC. */
static int der_time(struct der *d, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL || tm.tm_year + 1900 < 1950 || tm.tm_year + 1900 > 9999) {
        return WD_EINVAL;
    }
    char s[16];
    int year = tm.tm_year + 1900;
    int n;
    if (year < 2050) {
        n = snprintf(s, sizeof(s), "%02d%02d%02d%02d%02d%02dZ", year % 100, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        der_tlv(d, 0x17, s, (size_t)n);
    } else {
        n = snprintf(s, sizeof(s), "%04d%02d%02d%02d%02d%02dZ", year, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
        der_tlv(d, 0x18, s, (size_t)n);
    }
    return WD_OK;
}

/* AlgorithmIdentifier ecdsa-with-SHA256, parameters absent (RFC 5758 §3.2). */
static const uint8_t alg_ecdsa_sha256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                           0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
/* Subject O=warden (X509-SVID: the subject carries nothing the ID does not). */
static const uint8_t subject_o_warden[] = {0x30, 0x11, 0x31, 0x0f, 0x30, 0x0d, 0x06,
                                           0x03, 0x55, 0x04, 0x0a, 0x0c, 0x06, 'w',
                                           'a',  'r',  'd',  'e',  'n'};
/* AlgorithmIdentifier id-ecPublicKey with namedCurve prime256v1 (RFC 5480 §2.1.1). */
static const uint8_t alg_ec_p256[] = {0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                      0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
                                      0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
/* X509-SVID §4.1: basicConstraints critical, cA FALSE (the default, so an empty SEQUENCE). */
static const uint8_t ext_bc_leaf[] = {0x30, 0x0c, 0x06, 0x03, 0x55, 0x1d, 0x13,
                                      0x01, 0x01, 0xff, 0x04, 0x02, 0x30, 0x00};
/* X509-SVID §4.3: keyUsage critical, digitalSignature only (bit 0). */
static const uint8_t ext_ku_leaf[] = {0x30, 0x0e, 0x06, 0x03, 0x55, 0x1d, 0x0f, 0x01,
                                      0x01, 0xff, 0x04, 0x04, 0x03, 0x02, 0x07, 0x80};
/* X509-SVID §4.4: extKeyUsage id-kp-serverAuth, id-kp-clientAuth. */
static const uint8_t ext_eku_leaf[] = {0x30, 0x1d, 0x06, 0x03, 0x55, 0x1d, 0x25, 0x04,
                                       0x16, 0x30, 0x14, 0x06, 0x08, 0x2b, 0x06, 0x01,
                                       0x05, 0x05, 0x07, 0x03, 0x01, 0x06, 0x08, 0x2b,
                                       0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02};

/* Extension { extnID, [critical,] extnValue OCTET STRING { value } }. */
static void der_ext(struct der *d, const uint8_t *oid, size_t oid_len, const void *val,
                    size_t val_len)
{
    size_t ext = d->len;
    der_tlv(d, 0x06, oid, oid_len);
    der_tlv(d, 0x04, val, val_len);
    der_wrap(d, ext, 0x30);
}

/*
 * The DER of an SVID for pub (EC P-256, checked by the caller), into out[0..CERT_MAX).
 * RFC 5280 §4.1: Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }.
 */
static int build_svid(const struct wd_ca *ca, EVP_PKEY *pub, const struct wd_spiffe_id *id,
                      int64_t nb, int64_t na, const struct wd_claims *claims, uint8_t *out,
                      size_t *out_len, struct wd_diag *diag)
{
    static const uint8_t oid_ski[] = {0x55, 0x1d, 0x0e};
    static const uint8_t oid_san[] = {0x55, 0x1d, 0x11};
    static const uint8_t version3[] = {0xa0, 0x03, 0x02, 0x01, 0x02};
    struct der d = {out, 0, CERT_MAX, false};
    uint8_t point[133];
    size_t point_len = 0;
    uint8_t serial[17];
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    uint8_t claims_der[WD_CLAIMS_DER_MAX];
    size_t claims_len = 0;
    int rc;

    /* RFC 5280 §4.1.2.2: a positive serial of at most 20 octets; 128 random bits, with a
     * leading zero octet when the top bit is set so the INTEGER stays positive. */
    serial[0] = 0;
    do {
        rc = wd_rand_bytes(serial + 1, 16);
        if (rc < 0) {
            return wd_diag_set(diag, rc, NULL, 0, 0, "no randomness for the serial number");
        }
    } while (serial[1] == 0 && serial[2] < 0x80); /* keep the encoding minimal (and > 0) */
    const uint8_t *sp = (serial[1] & 0x80) ? serial : serial + 1;
    size_t slen = (serial[1] & 0x80) ? 17 : 16;

    if (EVP_PKEY_get_octet_string_param(pub, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                        sizeof(point), &point_len)
                != 1
        || point_len == 0) {
        return wd_pki_ossl_fail(diag, WD_ETLS, NULL, "cannot read the public key");
    }
    /* RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
    if (EVP_Digest(point, point_len, md, &md_len, ca->sha1, NULL) != 1) {
        return wd_pki_ossl_fail(diag, WD_ETLS, NULL, "cannot hash the public key");
    }
    if (claims != NULL) {
        rc = wd_claims_encode_to(claims, claims_der, sizeof(claims_der), &claims_len);
        if (rc < 0) {
            return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "claims: invalid claim value");
        }
    }

    size_t tbs = d.len;
    der_put(&d, version3, sizeof(version3));
    der_tlv(&d, 0x02, sp, slen);
    der_put(&d, alg_ecdsa_sha256, sizeof(alg_ecdsa_sha256));
    der_put(&d, ca->issuer_der, ca->issuer_len);
    size_t validity = d.len;
    if (der_time(&d, nb) < 0 || der_time(&d, na) < 0) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "validity outside 1950..9999");
    }
    der_wrap(&d, validity, 0x30);
    der_put(&d, subject_o_warden, sizeof(subject_o_warden));
    size_t spki = d.len;
    der_put(&d, alg_ec_p256, sizeof(alg_ec_p256));
    size_t bits = d.len;
    der_put(&d, "", 1); /* no unused bits */
    der_put(&d, point, point_len);
    der_wrap(&d, bits, 0x03);
    der_wrap(&d, spki, 0x30);

    /* [3] EXPLICIT Extensions: X509-SVID §4.1, §4.3, §4.4, key identifiers, §2 URI SAN. */
    size_t exts = d.len;
    der_put(&d, ext_bc_leaf, sizeof(ext_bc_leaf));
    der_put(&d, ext_ku_leaf, sizeof(ext_ku_leaf));
    der_put(&d, ext_eku_leaf, sizeof(ext_eku_leaf));
    uint8_t ski[2 + EVP_MAX_MD_SIZE];
    ski[0] = 0x04;
    ski[1] = (uint8_t)md_len;
    memcpy(ski + 2, md, md_len);
    der_ext(&d, oid_ski, sizeof(oid_ski), ski, 2 + md_len);
    der_put(&d, ca->aki_der, ca->aki_len);
    /* subjectAltName: GeneralNames { [6] uniformResourceIdentifier } (RFC 5280 §4.2.1.6) */
    size_t san = d.len;
    der_tlv(&d, 0x06, oid_san, sizeof(oid_san));
    size_t san_val = d.len;
    der_tlv(&d, 0x86, id->str, id->len);
    der_wrap(&d, san_val, 0x30);
    der_wrap(&d, san_val, 0x04);
    der_wrap(&d, san, 0x30);
    if (claims != NULL) {
        /* The warden claims: non-critical, so peers that do not know them still accept. */
        der_ext(&d, wd_pki_claims_oid, sizeof(wd_pki_claims_oid), claims_der, claims_len);
    }
    der_wrap(&d, exts, 0x30);
    der_wrap(&d, exts, 0xa3);
    der_wrap(&d, tbs, 0x30);
    if (d.overflow) {
        return wd_diag_set(diag, WD_ELIMIT, NULL, 0, 0, "certificate too large");
    }

    /* Sign the TBSCertificate with a copy of the CA's initialised ECDSA-SHA256 context. */
    uint8_t sig[160];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx != NULL) {
        /* Used once: spare OpenSSL the copy it makes to keep a context usable after Final. */
        EVP_MD_CTX_set_flags(ctx, EVP_MD_CTX_FLAG_FINALISE);
    }
    if (ctx == NULL || EVP_MD_CTX_copy_ex(ctx, ca->sign_tmpl) != 1
        || EVP_DigestSign(ctx, sig, &sig_len, d.p + tbs, d.len - tbs) != 1) {
        EVP_MD_CTX_free(ctx);
        return wd_pki_ossl_fail(diag, WD_ETLS, NULL, "cannot sign the SVID");
    }
    EVP_MD_CTX_free(ctx);
    der_put(&d, alg_ecdsa_sha256, sizeof(alg_ecdsa_sha256));
    size_t sigbits = d.len;
    der_put(&d, "", 1);
    der_put(&d, sig, sig_len);
    der_wrap(&d, sigbits, 0x03);
    der_wrap(&d, tbs, 0x30);
    if (d.overflow) {
        return wd_diag_set(diag, WD_ELIMIT, NULL, 0, 0, "certificate too large");
    }
    *out_len = d.len;
    return WD_OK;
}

/* The checks and the validity window shared by both issuing entry points. */
static int issue_der(const struct wd_ca *ca, EVP_PKEY *pub, const struct wd_spiffe_id *id,
                     int64_t ttl, const struct wd_claims *claims, uint8_t *out, size_t *len,
                     struct wd_diag *diag)
{
    if (ttl <= 0) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "SVID lifetime must be positive");
    }
    WD_TRY(wd_key_check_p256(pub, NULL, "public key", diag));
    if (!wd_spiffe_id_member_of(id, &ca->td)) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "%s is not in the CA's trust domain %s",
                           id->str, ca->td.name);
    }
    /* X509-SVID §3.1: leaf SPIFFE IDs have a non-root path. */
    if (wd_spiffe_id_path(id)[0] == '\0') {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "%s has no path; an SVID leaf needs one (X509-SVID 3.1)", id->str);
    }
    int64_t now = wd_time_now();
    if (now < ca->inter_not_before || now >= ca->inter_not_after) {
        return wd_diag_set(diag, WD_EEXPIRED, NULL, 0, 0,
                           "the CA intermediate is not valid now (it is %s)",
                           now < ca->inter_not_before ? "not yet valid" : "expired");
    }
    int64_t nb = WD_MAX(now - WD_SVID_BACKDATE, ca->inter_not_before);
    int64_t na = ttl > ca->inter_not_after - now ? ca->inter_not_after : now + ttl;
    wd_pki_ossl_clear();
    return build_svid(ca, pub, id, nb, na, claims, out, len, diag);
}

int wd_svid_issue_der(const struct wd_ca *ca, EVP_PKEY *pub, const struct wd_spiffe_id *id,
                      int64_t ttl, const struct wd_claims *claims, struct wd_buf *out,
                      struct wd_diag *diag)
{
    uint8_t der[CERT_MAX];
    size_t len = 0;
    WD_TRY(issue_der(ca, pub, id, ttl, claims, der, &len, diag));
    int rc = wd_buf_append(out, der, len);
    if (rc < 0) {
        return wd_diag_set(diag, rc, NULL, 0, 0, "%s", wd_strerror(rc));
    }
    return WD_OK;
}

int wd_svid_issue(const struct wd_ca *ca, EVP_PKEY *pub, const struct wd_spiffe_id *id, int64_t ttl,
                  const struct wd_claims *claims, X509 **out, struct wd_diag *diag)
{
    uint8_t der[CERT_MAX];
    size_t len = 0;
    WD_TRY(issue_der(ca, pub, id, ttl, claims, der, &len, diag));
    const unsigned char *q = der;
    X509 *x = d2i_X509(NULL, &q, (long)len);
    if (x == NULL || q != der + len) {
        X509_free(x);
        return wd_pki_ossl_fail(diag, WD_ETLS, NULL, "cannot decode the issued SVID");
    }
    *out = x;
    return WD_OK;
}

/* ---- verifying ---- */

static const char *const reason_names[] = {
        [WD_SVID_VALID] = "valid",
        [WD_SVID_NO_CERT] = "no-certificate",
        [WD_SVID_MALFORMED] = "malformed",
        [WD_SVID_NO_URI_SAN] = "no-uri-san",
        [WD_SVID_MANY_URI_SANS] = "many-uri-sans",
        [WD_SVID_BAD_SPIFFE_ID] = "bad-spiffe-id",
        [WD_SVID_LEAF_NO_PATH] = "leaf-id-no-path",
        [WD_SVID_LEAF_IS_CA] = "leaf-is-ca",
        [WD_SVID_LEAF_NO_DIGITAL_SIGNATURE] = "leaf-no-digital-signature",
        [WD_SVID_LEAF_KEY_CERT_SIGN] = "leaf-key-cert-sign",
        [WD_SVID_LEAF_CRL_SIGN] = "leaf-crl-sign",
        [WD_SVID_INTERMEDIATE_NOT_CA] = "intermediate-not-ca",
        [WD_SVID_INTERMEDIATE_NO_KEY_CERT_SIGN] = "intermediate-no-key-cert-sign",
        [WD_SVID_INTERMEDIATE_ID_HAS_PATH] = "intermediate-id-has-path",
        [WD_SVID_BAD_CLAIMS] = "bad-claims",
        [WD_SVID_UNKNOWN_TRUST_DOMAIN] = "unknown-trust-domain",
        [WD_SVID_WRONG_TRUST_DOMAIN] = "wrong-trust-domain",
        [WD_SVID_EXPIRED] = "expired",
        [WD_SVID_NOT_YET_VALID] = "not-yet-valid",
        [WD_SVID_BAD_SIGNATURE] = "bad-signature",
        [WD_SVID_UNTRUSTED] = "untrusted",
        [WD_SVID_INVALID_CHAIN] = "invalid-chain",
};

const char *wd_svid_reason_name(enum wd_svid_reason r)
{
    if ((size_t)r < WD_ARRAY_LEN(reason_names) && reason_names[r] != NULL) {
        return reason_names[r];
    }
    return "unknown";
}

static int deny(enum wd_svid_reason r, enum wd_svid_reason *why, struct wd_diag *diag,
                const char *fmt, ...) WD_PRINTF(4, 5);

static int deny(enum wd_svid_reason r, enum wd_svid_reason *why, struct wd_diag *diag,
                const char *fmt, ...)
{
    if (why != NULL) {
        *why = r;
    }
    if (diag != NULL) {
        va_list ap;
        va_start(ap, fmt);
        /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 false positive */
        (void)vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
        va_end(ap);
    }
    if (r == WD_SVID_EXPIRED || r == WD_SVID_NOT_YET_VALID) {
        return WD_EEXPIRED;
    }
    return r == WD_SVID_BAD_SIGNATURE ? WD_ECRYPTO : WD_EDENIED;
}

int wd_cert_claims(X509 *cert, bool *present, struct wd_claims *out, struct wd_diag *diag)
{
    *present = false;
    int found = -1;
    int n = X509_get_ext_count(cert);
    for (int i = 0; i < n; i++) {
        X509_EXTENSION *ext = X509_get_ext(cert, i);
        const ASN1_OBJECT *obj = X509_EXTENSION_get_object(ext);
        if (OBJ_length(obj) != sizeof(wd_pki_claims_oid)
            || memcmp(OBJ_get0_data(obj), wd_pki_claims_oid, sizeof(wd_pki_claims_oid)) != 0) {
            continue;
        }
        if (found >= 0) {
            return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "claims extension: appears twice");
        }
        found = i;
    }
    if (found < 0) {
        return WD_OK;
    }
    X509_EXTENSION *ext = X509_get_ext(cert, found);
    if (X509_EXTENSION_get_critical(ext)) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "claims extension: must not be critical");
    }
    const ASN1_OCTET_STRING *val = X509_EXTENSION_get_data(ext);
    const char *reason = NULL;
    if (wd_claims_decode(ASN1_STRING_get0_data(val), (size_t)ASN1_STRING_length(val), out, &reason)
        < 0) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "claims extension: %s", reason);
    }
    *present = true;
    return WD_OK;
}

/* X509-SVID §3.2, §4.1, §4.3: every signing certificate is a CA with keyCertSign. */
static int check_signing_cert(X509 *x, int index, enum wd_svid_reason *why, struct wd_diag *diag)
{
    uint32_t flags = X509_get_extension_flags(x);
    if ((flags & EXFLAG_INVALID) != 0) {
        return deny(WD_SVID_MALFORMED, why, diag, "intermediate %d: malformed extensions", index);
    }
    if ((flags & EXFLAG_CA) == 0) {
        return deny(WD_SVID_INTERMEDIATE_NOT_CA, why, diag,
                    "intermediate %d: not a CA (basicConstraints CA:TRUE missing)", index);
    }
    /* X509_get_key_usage gives all bits when the extension is absent; SVIDs must have it. */
    if ((flags & EXFLAG_KUSAGE) == 0 || (X509_get_key_usage(x) & KU_KEY_CERT_SIGN) == 0) {
        return deny(WD_SVID_INTERMEDIATE_NO_KEY_CERT_SIGN, why, diag,
                    "intermediate %d: key usage lacks keyCertSign", index);
    }
    /* §3.2: a signing certificate's SPIFFE ID, if it has one, has no path. */
    struct wd_spiffe_id id;
    size_t uris = 0;
    if (wd_cert_spiffe_id(x, &id, &uris, NULL) == WD_OK && wd_spiffe_id_path(&id)[0] != '\0') {
        return deny(WD_SVID_INTERMEDIATE_ID_HAS_PATH, why, diag,
                    "intermediate %d: its SPIFFE ID %s has a path", index, id.str);
    }
    return WD_OK;
}

int wd_svid_check(X509 *leaf, STACK_OF(X509) * intermediates, struct wd_svid_info *out,
                  enum wd_svid_reason *why, struct wd_diag *diag)
{
    if (why != NULL) {
        *why = WD_SVID_VALID;
    }
    if (leaf == NULL) {
        return deny(WD_SVID_NO_CERT, why, diag, "no certificate");
    }
    wd_pki_ossl_clear();
    uint32_t flags = X509_get_extension_flags(leaf);
    if ((flags & EXFLAG_INVALID) != 0) {
        return deny(WD_SVID_MALFORMED, why, diag, "leaf: malformed extensions");
    }
    /* X509-SVID §2 and §5.2: exactly one URI SAN, a SPIFFE ID. */
    size_t uris = 0;
    struct wd_diag sub;
    if (wd_cert_spiffe_id(leaf, &out->id, &uris, &sub) < 0) {
        enum wd_svid_reason r = uris == 0  ? WD_SVID_NO_URI_SAN
                                : uris > 1 ? WD_SVID_MANY_URI_SANS
                                           : WD_SVID_BAD_SPIFFE_ID;
        return deny(r, why, diag, "leaf: %s", sub.msg);
    }
    if (wd_spiffe_id_path(&out->id)[0] == '\0') {
        return deny(WD_SVID_LEAF_NO_PATH, why, diag, "leaf: SPIFFE ID %s has no path", out->id.str);
    }
    /* §4.1 and §5.2: a leaf is not a CA. */
    if ((flags & EXFLAG_CA) != 0) {
        return deny(WD_SVID_LEAF_IS_CA, why, diag, "leaf: has CA:TRUE (a leaf must not be a CA)");
    }
    /* §4.3 and §5.2: digitalSignature set; keyCertSign and cRLSign not set. */
    uint32_t ku = (flags & EXFLAG_KUSAGE) != 0 ? X509_get_key_usage(leaf) : 0;
    if ((ku & KU_DIGITAL_SIGNATURE) == 0) {
        return deny(WD_SVID_LEAF_NO_DIGITAL_SIGNATURE, why, diag,
                    "leaf: key usage lacks digitalSignature");
    }
    if ((ku & KU_KEY_CERT_SIGN) != 0) {
        return deny(WD_SVID_LEAF_KEY_CERT_SIGN, why, diag,
                    "leaf: key usage has keyCertSign (not allowed on a leaf)");
    }
    if ((ku & KU_CRL_SIGN) != 0) {
        return deny(WD_SVID_LEAF_CRL_SIGN, why, diag,
                    "leaf: key usage has cRLSign (not allowed on a leaf)");
    }
    int n = intermediates != NULL ? sk_X509_num(intermediates) : 0;
    for (int i = 0; i < n; i++) {
        WD_TRY(check_signing_cert(sk_X509_value(intermediates, i), i + 1, why, diag));
    }
    if (wd_cert_claims(leaf, &out->has_claims, &out->claims, &sub) < 0) {
        return deny(WD_SVID_BAD_CLAIMS, why, diag, "leaf: %s", sub.msg);
    }
    if (wd_cert_not_before(leaf, &out->not_before) < 0
        || wd_cert_not_after(leaf, &out->not_after) < 0) {
        return deny(WD_SVID_MALFORMED, why, diag, "leaf: malformed validity");
    }
    return WD_OK;
}

/* Map an OpenSSL path-validation error to a reason. */
static int chain_error(X509_STORE_CTX *ctx, enum wd_svid_reason *why, struct wd_diag *diag)
{
    int err = X509_STORE_CTX_get_error(ctx);
    int depth = X509_STORE_CTX_get_error_depth(ctx);
    const char *text = X509_verify_cert_error_string(err);
    char where[32];
    if (depth == 0) {
        (void)snprintf(where, sizeof(where), "leaf");
    } else {
        (void)snprintf(where, sizeof(where), "chain certificate %d", depth);
    }
    switch (err) {
    case X509_V_OK: /* failed without a verification error: an internal failure */
        return wd_pki_ossl_fail(diag, WD_ETLS, NULL, "path validation failed");
    case X509_V_ERR_OUT_OF_MEM:
        return wd_pki_ossl_fail(diag, WD_ENOMEM, NULL, "path validation: out of memory");
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return deny(WD_SVID_EXPIRED, why, diag, "%s: expired", where);
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return deny(WD_SVID_NOT_YET_VALID, why, diag, "%s: not yet valid", where);
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
        return deny(WD_SVID_BAD_SIGNATURE, why, diag, "%s: bad signature", where);
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        return deny(WD_SVID_UNTRUSTED, why, diag,
                    "%s: untrusted (no chain to an authority of the bundle: %s)", where, text);
    default:
        return deny(WD_SVID_INVALID_CHAIN, why, diag, "%s: %s", where, text);
    }
}

int wd_svid_verify(const struct wd_bundle *bundle, X509 *leaf, STACK_OF(X509) * intermediates,
                   struct wd_svid_info *out, enum wd_svid_reason *why, struct wd_diag *diag)
{
    WD_TRY(wd_svid_check(leaf, intermediates, out, why, diag));
    const struct wd_spiffe_td *td = wd_bundle_trust_domain(bundle);
    if (td == NULL) {
        return deny(WD_SVID_UNKNOWN_TRUST_DOMAIN, why, diag,
                    "the bundle's trust domain is not known");
    }
    /* SPIFFE-ID §3: an SVID is valid only if signed by an authority of its trust domain. */
    if (!wd_spiffe_id_member_of(&out->id, td)) {
        struct wd_spiffe_td got;
        wd_spiffe_id_td(&out->id, &got);
        return deny(WD_SVID_WRONG_TRUST_DOMAIN, why, diag,
                    "leaf: trust domain %s differs from the bundle's %s", got.name, td->name);
    }
    wd_pki_ossl_clear();
    int rc;
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (ctx == NULL
        || X509_STORE_CTX_init(ctx, wd_bundle_store(bundle), leaf, intermediates) != 1) {
        rc = wd_pki_ossl_fail(diag, WD_ENOMEM, NULL, "cannot start path validation");
        goto out;
    }
    /* X509-SVID §5.1: RFC 5280 path validation at warden's notion of now. Bundle entries are
     * the trust anchors, self-signed or not (SPIFFE bundle semantics). */
    X509_STORE_CTX_set_time(ctx, 0, (time_t)wd_time_now());
    X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN);
    int ok = X509_verify_cert(ctx);
    if (ok != 1) {
        rc = chain_error(ctx, why, diag);
        ERR_clear_error();
        goto out;
    }
    rc = WD_OK;
out:
    X509_STORE_CTX_free(ctx);
    return rc;
}
