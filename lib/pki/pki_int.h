/* Private helpers shared by the lib/pki modules. Not part of any public API. */
#ifndef WD_PKI_INT_H
#define WD_PKI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/spiffe.h"

/* Start a sequence of OpenSSL calls with an empty error queue (nginx ngx_ssl_clear_error). */
void wd_pki_ossl_clear(void);

/*
 * After an OpenSSL call failed: drain the error queue into the debug log, fill diag with
 * "<name>: <fmt...>" plus ": <first OpenSSL reason>" when there is one, and return rc, or
 * WD_ENOMEM when OpenSSL reported an allocation failure. name may be NULL. The macro makes
 * the result visibly negative to static analysers (a failure path never returns WD_OK).
 */
int wd_pki_ossl_fail_(struct wd_diag *diag, int rc, const char *name, const char *fmt, ...)
        WD_PRINTF(4, 5);
static inline int wd_pki_negative(int rc)
{
    return rc < 0 ? rc : WD_ETLS;
}
#define wd_pki_ossl_fail(...) wd_pki_negative(wd_pki_ossl_fail_(__VA_ARGS__))

/* Whether p[0..n) contains a PEM "-----BEGIN " line marker. */
bool wd_pki_looks_like_pem(const void *p, size_t n);

/*
 * One decoded PEM block: type is the label ("CERTIFICATE"), der the payload, encrypted is
 * true when the block has RFC 1421 headers (Proc-Type/DEK-Info: legacy encryption).
 * Return WD_OK to go on, a positive value to stop early (returned by wd_pki_pem_each), or an
 * error to stop with it.
 */
typedef int (*wd_pki_pem_fn)(void *ctx, const char *type, const uint8_t *der, size_t len,
                             bool encrypted, size_t index);

/*
 * Call fn for each PEM block in p[0..n), in order. secure: the decoded bytes are private key
 * material (kept in OpenSSL's secure heap when enabled, wiped on free). *count (may be
 * NULL) receives the number of blocks visited. WD_EPROTO with diag "<name>: not PEM (no
 * -----BEGIN line)" when there is no block at all, "<name>: truncated or malformed PEM
 * (block N): <reason>" for a broken block.
 */
int wd_pki_pem_each(const char *name, const void *p, size_t n, bool secure, wd_pki_pem_fn fn,
                    void *ctx, size_t *count, struct wd_diag *diag);

/* Append the content of a memory BIO to out. WD_ENOMEM / WD_ELIMIT. */
int wd_pki_bio_to_buf(BIO *bio, struct wd_buf *out);

/* An ASN1_TIME as Unix seconds. WD_EPROTO if it is not a valid time. */
int wd_pki_time_to_unix(const ASN1_TIME *t, int64_t *out);

/* A subjectAltName extension holding exactly one URI. NULL on allocation failure. */
X509_EXTENSION *wd_pki_san_uri_ext(const char *uri, size_t len, bool critical);

/*
 * Count the URI names in gens; when there is exactly one, parse it as a SPIFFE ID into *id.
 * Returns WD_OK with *count set (0, 1 or more; *id valid only for 1 when ok), or WD_EPROTO
 * with diag "<name>: URI SAN is not a SPIFFE ID: <rule>" and *why set.
 */
int wd_pki_uri_id(const GENERAL_NAMES *gens, const char *name, size_t *count,
                  struct wd_spiffe_id *id, enum wd_spiffe_err *why, struct wd_diag *diag);

/* The content octets of the claims extension's OID, WD_CLAIMS_OID (DER, without tag/len). */
extern const uint8_t wd_pki_claims_oid[20];

/* Give x a random positive 128-bit serial number (wd_rand_bytes). WD_ECRYPTO, WD_ENOMEM. */
int wd_pki_random_serial(X509 *x);

/*
 * The CA object (see svid.h). Defined here because ca.c makes it and svid.c issues with it.
 * Everything issuance needs that does not depend on the subject is computed once, in the
 * DER form it takes in a certificate, so issuing is copying bytes plus one signature.
 */
struct wd_ca {
    struct wd_spiffe_td td;
    X509 *root;
    EVP_PKEY *root_key; /* NULL when loaded for issuing only */
    X509 *inter;
    EVP_PKEY *inter_key;
    int64_t inter_not_before, inter_not_after;
    uint8_t *issuer_der; /* DER Name: the intermediate's subject (wd_malloc) */
    size_t issuer_len;
    uint8_t *aki_der; /* DER Extension: authorityKeyIdentifier = the intermediate's SKI */
    size_t aki_len;
    EVP_MD_CTX *sign_tmpl; /* ECDSA-SHA256 with inter_key, initialised once, then copied */
    EVP_MD *sha1;          /* fetched once, for subject key identifiers */
};

/* A printable description of a key's type: "EC P-256", "EC secp384r1", "RSA 2048", ... */
void wd_pki_key_desc(const EVP_PKEY *key, char *out, size_t outsz);

#endif
