/*
 * The warden CA and X.509-SVIDs: creating a trust domain's root and signing intermediate,
 * issuing SVIDs per the SPIFFE X509-SVID specification, and verifying SVID chains against a
 * trust bundle with every rule that specification sets.
 *
 * Issued leaves: version 3, random positive 128-bit serial (wd_rand_bytes), subject O=warden
 * (SPIFFE: do not rely on the subject), NotBefore = now - WD_SVID_BACKDATE (not before the
 * issuer's), NotAfter = min(now + ttl, issuer's NotAfter), basicConstraints CA:FALSE
 * (critical), keyUsage digitalSignature (critical), extKeyUsage serverAuth + clientAuth,
 * subject and authority key identifiers, one URI SAN (the SPIFFE ID), the warden claims
 * extension when claims are given; ECDSA-SHA256 by the intermediate. "now" is
 * wd_time_now(), so tests pin it with wd_clock_pin.
 */
#ifndef WD_SVID_H
#define WD_SVID_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "warden/buf.h"
#include "warden/bundle.h"
#include "warden/claims.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/spiffe.h"

#define WD_CA_ROOT_TTL_DEFAULT ((int64_t)3650 * 86400) /* 10 years */
#define WD_CA_TTL_DEFAULT      ((int64_t)365 * 86400)  /* 1 year */
#define WD_SVID_TTL_DEFAULT    ((int64_t)3600)         /* 1 hour */
#define WD_SVID_BACKDATE       30                      /* seconds, for clock skew */

/* ---- the CA ---- */

/*
 * A trust domain's signing authority: the root certificate, the intermediate certificate
 * and key that sign SVIDs, and everything issuance can compute once (issuer name, key
 * identifiers, constant extensions). Immutable once made: wd_svid_issue may be called from
 * several threads on one CA at the same time.
 */
struct wd_ca;

/*
 * Make a new CA for td in memory: a self-signed root (CA:TRUE, keyCertSign+cRLSign, both
 * critical; URI SAN spiffe://td; valid root_ttl seconds) and an intermediate signed by it
 * (CA:TRUE pathlen 0; valid min(ttl, root's remaining life)). Keys are fresh P-256 keys.
 * WD_EINVAL for a ttl <= 0; WD_ECRYPTO / WD_ETLS / WD_ENOMEM with diag. *out owned.
 */
WD_MUST_USE int wd_ca_create(const struct wd_spiffe_td *td, int64_t root_ttl, int64_t ttl,
                             struct wd_ca **out, struct wd_diag *diag);

/*
 * Create a CA and write it into directory dir, which must not exist or be empty (it is
 * created with mode 0700). Layout: root.pem, root.key (0600), intermediate.pem,
 * intermediate.key (0600), bundle.pem (the root), bundle.json (SPIFFE bundle, sequence 1),
 * ca.json ({"version":1,"trust_domain":..,"created":RFC 3339}). All files are written in a
 * temporary sibling directory that is renamed into place, so dir is either absent/empty or
 * complete. WD_EEXIST when dir already holds a CA or anything else; WD_EIO; WD_ENOMEM;
 * errors of wd_ca_create. diag names the path and the rule.
 */
WD_MUST_USE int wd_ca_init_dir(const char *dir, const struct wd_spiffe_td *td, int64_t root_ttl,
                               int64_t ttl, struct wd_diag *diag);

/*
 * Load the CA in dir for issuing (reads ca.json, root.pem, intermediate.pem,
 * intermediate.key; never root.key). Checks that the intermediate key matches its
 * certificate, that the root signed the intermediate, that both are CAs with keyCertSign and
 * that their URI SANs name the trust domain of ca.json. WD_ENOENT / WD_EIO / WD_ECONFIG /
 * WD_EPROTO / WD_ENOMEM with diag naming the file. *out owned.
 */
WD_MUST_USE int wd_ca_load_dir(const char *dir, struct wd_ca **out, struct wd_diag *diag);

/*
 * Make a CA from its parts (e.g. kept in the control plane's database). root_key may be
 * NULL (needed only to sign new intermediates). Takes its own references to every object.
 * Same checks as wd_ca_load_dir. *out owned.
 */
WD_MUST_USE int wd_ca_from_parts(const struct wd_spiffe_td *td, X509 *root, EVP_PKEY *root_key,
                                 X509 *intermediate, EVP_PKEY *intermediate_key, struct wd_ca **out,
                                 struct wd_diag *diag);

/* Accepts NULL. */
void wd_ca_free(struct wd_ca *ca);
/* Borrowed accessors, valid while ca lives. wd_ca_root_key is NULL for a loaded CA. */
const struct wd_spiffe_td *wd_ca_trust_domain(const struct wd_ca *ca);
X509 *wd_ca_root(const struct wd_ca *ca);
EVP_PKEY *wd_ca_root_key(const struct wd_ca *ca);
X509 *wd_ca_intermediate(const struct wd_ca *ca);
EVP_PKEY *wd_ca_intermediate_key(const struct wd_ca *ca);
/* A new bundle holding the CA's root, for its trust domain. WD_ENOMEM. *out owned. */
WD_MUST_USE int wd_ca_bundle(const struct wd_ca *ca, struct wd_bundle **out);

/* ---- issuing ---- */

/*
 * Issue an X.509-SVID for public key pub (must be P-256; a CSR's key via wd_csr_pubkey) with
 * SPIFFE ID id, valid ttl seconds from now (capped by the intermediate), carrying claims
 * when not NULL: no I/O, no parsing of the CA, one ECDSA signature; the certificate is
 * built as DER (wd_svid_issue_der) and handed back parsed.
 * Errors (diag set): WD_EINVAL (ttl <= 0), WD_EPROTO (pub not P-256; id has no path, as
 * X509-SVID §3.1 requires of leaves; id outside the CA's trust domain; invalid claims),
 * WD_EEXPIRED (the intermediate is outside its validity at now), WD_ECRYPTO (RNG),
 * WD_ETLS, WD_ENOMEM. *out owned by the caller (X509_free). Thread-safe.
 */
WD_MUST_USE int wd_svid_issue(const struct wd_ca *ca, EVP_PKEY *pub, const struct wd_spiffe_id *id,
                              int64_t ttl, const struct wd_claims *claims, X509 **out,
                              struct wd_diag *diag);

/*
 * The same, appending the certificate's DER to out instead of returning an X509. This is the
 * fast path: it never builds an OpenSSL X509 object (OpenSSL 3.0 decodes the public key of
 * every certificate it parses, which costs several signatures), so it is what the control
 * plane sends to agents and what bench/svid-issue times. Errors as wd_svid_issue, plus
 * WD_ELIMIT / WD_ENOMEM from out (which is unchanged on error). Thread-safe.
 */
WD_MUST_USE int wd_svid_issue_der(const struct wd_ca *ca, EVP_PKEY *pub,
                                  const struct wd_spiffe_id *id, int64_t ttl,
                                  const struct wd_claims *claims, struct wd_buf *out,
                                  struct wd_diag *diag);

/* ---- verifying ---- */

/* Why an SVID chain was rejected; each X509-SVID rule has its own value. */
enum wd_svid_reason {
    WD_SVID_VALID = 0,
    WD_SVID_NO_CERT,                       /* no leaf certificate given */
    WD_SVID_MALFORMED,                     /* a certificate has malformed extensions */
    WD_SVID_NO_URI_SAN,                    /* §2: leaf has no URI SAN */
    WD_SVID_MANY_URI_SANS,                 /* §2: leaf has more than one URI SAN */
    WD_SVID_BAD_SPIFFE_ID,                 /* §2: the URI SAN is not a valid SPIFFE ID */
    WD_SVID_LEAF_NO_PATH,                  /* §3.1: leaf ID has no path */
    WD_SVID_LEAF_IS_CA,                    /* §4.1: leaf has CA:TRUE */
    WD_SVID_LEAF_NO_DIGITAL_SIGNATURE,     /* §4.3: leaf lacks digitalSignature */
    WD_SVID_LEAF_KEY_CERT_SIGN,            /* §4.3: leaf has keyCertSign */
    WD_SVID_LEAF_CRL_SIGN,                 /* §4.3: leaf has cRLSign */
    WD_SVID_INTERMEDIATE_NOT_CA,           /* §3.2/§4.1: signing cert without CA:TRUE */
    WD_SVID_INTERMEDIATE_NO_KEY_CERT_SIGN, /* §3.2/§4.3: signing cert without keyCertSign */
    WD_SVID_INTERMEDIATE_ID_HAS_PATH,      /* §3.2: signing cert's SPIFFE ID has a path */
    WD_SVID_BAD_CLAIMS,                    /* warden claims extension malformed/critical/twice */
    WD_SVID_UNKNOWN_TRUST_DOMAIN,          /* the bundle's trust domain is not known */
    WD_SVID_WRONG_TRUST_DOMAIN,            /* leaf ID is not in the bundle's trust domain */
    WD_SVID_EXPIRED,                       /* a chain certificate's NotAfter is past */
    WD_SVID_NOT_YET_VALID,                 /* a chain certificate's NotBefore is ahead */
    WD_SVID_BAD_SIGNATURE,                 /* a signature in the chain does not verify */
    WD_SVID_UNTRUSTED,                     /* no path to an authority of the bundle */
    WD_SVID_INVALID_CHAIN,                 /* any other RFC 5280 path validation failure */
};

/* What a valid SVID says about its holder. */
struct wd_svid_info {
    struct wd_spiffe_id id;
    bool has_claims;
    struct wd_claims claims; /* meaningful when has_claims */
    int64_t not_before, not_after;
};

/*
 * Check the SVID rules of X509-SVID §2-§4 and §5.2 on leaf and on each signing certificate
 * in intermediates (may be NULL), and decode the claims extension; no signature, trust or
 * time check. Fills *out when valid. Returns WD_OK, or WD_EDENIED with *why (may be NULL)
 * and diag ("leaf: ...", "intermediate 1: ...") set. Thread-safe.
 */
WD_MUST_USE int wd_svid_check(X509 *leaf, STACK_OF(X509) * intermediates, struct wd_svid_info *out,
                              enum wd_svid_reason *why, struct wd_diag *diag);

/*
 * Verify an SVID chain: wd_svid_check, then the leaf's trust domain against the bundle's,
 * then RFC 5280 path validation (OpenSSL X509_STORE) from leaf through intermediates (may be
 * NULL; untrusted) to an authority of bundle, at wd_time_now(). Bundle authorities are trust
 * anchors even when not self-signed (X509_V_FLAG_PARTIAL_CHAIN), as in SPIFFE. On success
 * fills *out (the peer's SPIFFE ID and claims). Errors: WD_EDENIED (a rule; *why and diag
 * say which), WD_EEXPIRED (expired / not yet valid), WD_ECRYPTO (bad signature), WD_ENOMEM.
 * Thread-safe for a finished bundle.
 */
WD_MUST_USE int wd_svid_verify(const struct wd_bundle *bundle, X509 *leaf,
                               STACK_OF(X509) * intermediates, struct wd_svid_info *out,
                               enum wd_svid_reason *why, struct wd_diag *diag);

/* A short stable name for a reason ("leaf-is-ca", ...). Never NULL. */
const char *wd_svid_reason_name(enum wd_svid_reason r);

/*
 * Find and decode the claims extension of cert. Returns WD_OK with *present false when the
 * certificate has none, WD_OK with *present true and *out filled, or WD_EPROTO with diag
 * ("claims extension: <rule>") for a malformed, critical or repeated one.
 */
WD_MUST_USE int wd_cert_claims(X509 *cert, bool *present, struct wd_claims *out,
                               struct wd_diag *diag);

#endif
