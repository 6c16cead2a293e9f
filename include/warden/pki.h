/*
 * Keys, certificates and certificate signing requests (OpenSSL 3). warden's own keys are
 * always ECDSA P-256; certificates of any key type OpenSSL knows can be read and verified.
 *
 * Objects are OpenSSL's (EVP_PKEY, X509, STACK_OF(X509), X509_REQ) so that the proxy can
 * hand them to an SSL_CTX directly; each function says who owns what. Errors for operator
 * input (files, CLI arguments) go to a struct wd_diag as one line naming the input and the
 * rule, e.g. "svid.key: private key is RSA; an EC P-256 key is required". Private key bytes
 * never reach a log or a diagnostic. Functions are thread-safe unless they say otherwise.
 */
#ifndef WD_PKI_H
#define WD_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/spiffe.h"

/* Files warden reads (keys, certificates, bundles, CSRs) are at most this large. */
#define WD_PKI_FILE_MAX (1u << 20)

/* ---- keys ---- */

/*
 * Generate an ECDSA P-256 key pair. *out is owned by the caller (EVP_PKEY_free).
 * WD_ECRYPTO (diag set) if OpenSSL fails.
 */
WD_MUST_USE int wd_key_generate(EVP_PKEY **out, struct wd_diag *diag);

/*
 * Whether key is an EC key on P-256 (prime256v1). WD_OK, or WD_EPROTO with diag
 * "<name>: <what> is RSA; an EC P-256 key is required" (what: "private key", "public key").
 */
WD_MUST_USE int wd_key_check_p256(const EVP_PKEY *key, const char *name, const char *what,
                                  struct wd_diag *diag);

/*
 * Read the first private key block of PEM text p[0..n) ("PRIVATE KEY" = PKCS#8, or
 * "EC PRIVATE KEY" = SEC 1; other blocks such as certificates are skipped) and require
 * P-256. name labels the input in diag. Errors (diag set, naming the rule): WD_EPROTO for
 * "not PEM", "truncated PEM", "bad base64", "no private key", "encrypted keys are not
 * supported", "malformed key", "key is RSA ...". *out owned by the caller.
 */
WD_MUST_USE int wd_key_parse_pem(const char *name, const void *p, size_t n, EVP_PKEY **out,
                                 struct wd_diag *diag);

/* Read path (at most WD_PKI_FILE_MAX bytes) and wd_key_parse_pem it. Also WD_ENOENT, WD_EIO,
 * WD_ELIMIT, WD_ENOMEM. The file bytes are wiped before they are freed. */
WD_MUST_USE int wd_key_load(const char *path, EVP_PKEY **out, struct wd_diag *diag);

/*
 * Append key as unencrypted PKCS#8 PEM to out. The caller should release out with
 * wd_buf_cleanup_secret. WD_ENOMEM, WD_ELIMIT, WD_ETLS.
 */
WD_MUST_USE int wd_key_to_pem(EVP_PKEY *key, struct wd_buf *out);

/*
 * Write key to path as PKCS#8 PEM, mode 0600, atomically (wd_file_write_atomic): path is
 * either the old file or the complete new one. WD_EIO (diag set), WD_ENOMEM, WD_ETLS.
 */
WD_MUST_USE int wd_key_save(const char *path, EVP_PKEY *key, struct wd_diag *diag);

/* ---- certificates ---- */

/*
 * Parse certificates from p[0..n): PEM text with one or more "CERTIFICATE" blocks (other
 * block types, such as a private key, are skipped), or exactly one DER certificate. The
 * order is kept (a chain file lists the leaf first). *out is owned by the caller
 * (wd_certs_free). WD_EPROTO with diag for "not PEM or DER", "truncated PEM", "bad base64",
 * "no certificate", "malformed certificate (block N)"; WD_ENOMEM.
 */
WD_MUST_USE int wd_certs_parse(const char *name, const void *p, size_t n, STACK_OF(X509) * *out,
                               struct wd_diag *diag);
/* Read path and wd_certs_parse it; adds WD_ENOENT, WD_EIO, WD_ELIMIT. */
WD_MUST_USE int wd_certs_load(const char *path, STACK_OF(X509) * *out, struct wd_diag *diag);
/* Free a stack and every certificate in it. Accepts NULL. */
void wd_certs_free(STACK_OF(X509) * certs);

/* Append cert as PEM to out. WD_ENOMEM, WD_ELIMIT, WD_ETLS. */
WD_MUST_USE int wd_cert_to_pem(X509 *cert, struct wd_buf *out);
/* Append the DER certificate der[0..len) as a PEM "CERTIFICATE" block to out (no parsing). */
WD_MUST_USE int wd_cert_der_to_pem(const uint8_t *der, size_t len, struct wd_buf *out);
/* Append cert as DER to out. Same errors. */
WD_MUST_USE int wd_cert_to_der(X509 *cert, struct wd_buf *out);

/* notBefore / notAfter as Unix seconds. WD_EPROTO if the time cannot be represented. */
WD_MUST_USE int wd_cert_not_before(const X509 *cert, int64_t *out);
WD_MUST_USE int wd_cert_not_after(const X509 *cert, int64_t *out);

/*
 * The certificate's SPIFFE ID (X509-SVID §2): the subjectAltName must hold exactly one URI
 * and it must be a valid SPIFFE ID. WD_EPROTO with diag: "no URI SAN", "N URI SANs (exactly
 * one is allowed)", "URI SAN is not a SPIFFE ID: <rule>", "duplicate subjectAltName".
 * *uri_count (may be NULL) receives the number of URI SANs found.
 */
WD_MUST_USE int wd_cert_spiffe_id(X509 *cert, struct wd_spiffe_id *out, size_t *uri_count,
                                  struct wd_diag *diag);

/* A short description of a key's type for people: "EC P-256", "EC secp384r1", "RSA 2048". */
void wd_key_describe(const EVP_PKEY *key, char *out, size_t outsz);

/* Whether key is the private key for cert's public key. */
bool wd_key_matches_cert(EVP_PKEY *key, X509 *cert);

/* ---- certificate signing requests ---- */

struct wd_csr;

/*
 * Make a PKCS#10 request signed by key (ECDSA-SHA256; key must be P-256), with an empty
 * subject and, when id is not NULL, a subjectAltName holding the one URI id. Appends PEM
 * ("CERTIFICATE REQUEST") to out, or DER when der is true. WD_EPROTO (key not P-256),
 * WD_ETLS, WD_ENOMEM, WD_ELIMIT; diag may be NULL.
 */
WD_MUST_USE int wd_csr_create(EVP_PKEY *key, const struct wd_spiffe_id *id, bool der,
                              struct wd_buf *out, struct wd_diag *diag);

/*
 * Parse a request from p[0..n): PEM ("CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST",
 * exactly one) or DER (exactly one, no trailing bytes). Requires version 1, a P-256 key, a
 * valid self-signature, and at most one URI SAN, which must be a valid SPIFFE ID.
 * WD_EPROTO / WD_ECRYPTO (bad signature) with diag; WD_ENOMEM. *out owned by the caller.
 */
WD_MUST_USE int wd_csr_parse(const char *name, const void *p, size_t n, struct wd_csr **out,
                             struct wd_diag *diag);
/* The request's public key; borrowed, valid until wd_csr_free. */
EVP_PKEY *wd_csr_pubkey(const struct wd_csr *csr);
/* The SPIFFE ID from its URI SAN, or NULL when it has none; borrowed. */
const struct wd_spiffe_id *wd_csr_spiffe_id(const struct wd_csr *csr);
/* Accepts NULL. */
void wd_csr_free(struct wd_csr *csr);

#endif
