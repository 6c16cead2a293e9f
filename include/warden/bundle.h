/*
 * Trust bundles: the X.509 authorities (CA certificates) of one trust domain, with the
 * SPIFFE bundle metadata (sequence number, refresh hint). Read and written as PEM (the
 * certificates one after another) or as SPIFFE bundle JSON (SPIFFE Trust Domain and Bundle
 * §4, X509-SVID §6: a JWK set whose "x509-svid" keys carry one DER certificate in "x5c").
 *
 * A bundle holds a ready X509_STORE of its authorities, so verification does no per-call
 * set-up. A bundle is built by one thread and then only read: reading functions, and
 * wd_svid_verify, may run concurrently on a finished bundle.
 */
#ifndef WD_BUNDLE_H
#define WD_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/spiffe.h"

struct wd_bundle;

/* An empty bundle for trust domain td (NULL: not known yet). WD_ENOMEM. *out owned. */
WD_MUST_USE int wd_bundle_new(const struct wd_spiffe_td *td, struct wd_bundle **out);
/* Accepts NULL. */
void wd_bundle_free(struct wd_bundle *b);

/*
 * Add an authority. The bundle takes its own reference (cert stays the caller's); a
 * certificate already present is ignored. WD_ENOMEM, WD_ETLS.
 */
WD_MUST_USE int wd_bundle_add(struct wd_bundle *b, X509 *cert);
size_t wd_bundle_count(const struct wd_bundle *b);
/* The i-th authority (i < count); borrowed, valid while b lives. */
X509 *wd_bundle_cert(const struct wd_bundle *b, size_t i);
/* The OpenSSL store of the authorities (for SSL_CTX_set1_verify_cert_store); borrowed. */
X509_STORE *wd_bundle_store(const struct wd_bundle *b);

/* The bundle's trust domain, or NULL when not known; borrowed. */
const struct wd_spiffe_td *wd_bundle_trust_domain(const struct wd_bundle *b);
void wd_bundle_set_trust_domain(struct wd_bundle *b, const struct wd_spiffe_td *td);
/* spiffe_sequence and spiffe_refresh_hint (seconds); the getters return false when unset. */
void wd_bundle_set_sequence(struct wd_bundle *b, uint64_t seq);
bool wd_bundle_sequence(const struct wd_bundle *b, uint64_t *seq);
void wd_bundle_set_refresh_hint(struct wd_bundle *b, int64_t seconds);
bool wd_bundle_refresh_hint(const struct wd_bundle *b, int64_t *seconds);

/*
 * Parse a bundle from p[0..n), detecting the format by content: SPIFFE bundle JSON when the
 * first non-blank byte is '{' or '[', else PEM (one or more CERTIFICATE blocks) or one DER
 * certificate. td (may be NULL) is the trust domain the bundle belongs to; when NULL it is
 * taken from the spiffe:// URI SANs of the authorities (which must then agree) and stays
 * unknown if none has one. name labels the input in diag.
 *
 * JSON rules: an object with a "keys" array (RFC 7517 JWK set); every key an object with
 * string "use" and "kty"; "x509-svid" keys need "x5c" with exactly one standard-base64 DER
 * certificate whose public key equals the JWK's (EC crv/x/y, RSA n/e) and no "kid";
 * "jwt-svid" keys need a non-empty "kid" and are otherwise ignored, as are keys of other
 * uses; "spiffe_sequence" (integer >= 0) and "spiffe_refresh_hint" (integer >= 0) are
 * optional; at least one x509-svid authority is required.
 *
 * WD_EPROTO / WD_ECONFIG with diag "file:line:col: ..." naming the rule; WD_ENOMEM.
 */
WD_MUST_USE int wd_bundle_parse(const char *name, const void *p, size_t n,
                                const struct wd_spiffe_td *td, struct wd_bundle **out,
                                struct wd_diag *diag);
/* Read path (at most WD_PKI_FILE_MAX bytes) and wd_bundle_parse it; adds WD_ENOENT, WD_EIO. */
WD_MUST_USE int wd_bundle_load(const char *path, const struct wd_spiffe_td *td,
                               struct wd_bundle **out, struct wd_diag *diag);

/* Append the authorities as PEM. WD_ENOMEM, WD_ELIMIT, WD_ETLS. */
WD_MUST_USE int wd_bundle_to_pem(const struct wd_bundle *b, struct wd_buf *out);
/*
 * Append SPIFFE bundle JSON: {"keys":[{"use":"x509-svid","kty":"EC","crv":"P-256","x":..,
 * "y":..,"x5c":["<base64 DER>"]},...],"spiffe_sequence":N,"spiffe_refresh_hint":S} (the
 * last two only when set), followed by a newline. EC (P-256/384/521) and RSA authorities
 * are supported; WD_EINVAL for another key type. WD_ENOMEM, WD_ELIMIT, WD_ETLS.
 */
WD_MUST_USE int wd_bundle_to_json(const struct wd_bundle *b, struct wd_buf *out);

#endif
