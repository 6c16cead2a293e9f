/*
 * The public key of a certificate signing request, fast. OpenSSL 3.0 spends most of
 * d2i_X509_REQ building a decoder context for the public key (about 0.5 ms, ten times the
 * ECDSA signature check), which capped issuance. The control plane only needs the CSR's
 * P-256 key and proof that the requester holds it (the self-signature), so the common form
 * (what OpenSSL, Go and warden itself write) is read here with a strict DER walk and the
 * key imported with EVP_PKEY_fromdata; any other form goes through wd_csr_parse, so the set
 * of accepted requests is the same as lib/pki's except that attributes (the requested
 * SPIFFE ID among them) are not interpreted: the control plane ignores them anyway.
 */
#ifndef SRV_CSR_H
#define SRV_CSR_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "warden/common.h"
#include "warden/err.h"

/*
 * The P-256 public key of the PEM CSR text[0..n) after checking its self-signature.
 * *out owned by the caller (EVP_PKEY_free). Errors as wd_csr_parse (WD_EPROTO / WD_ECRYPTO
 * with diag, WD_ENOMEM). Thread-safe.
 */
WD_MUST_USE int srv_csr_key(const char *text, size_t n, EVP_PKEY **out, struct wd_diag *diag);

/*
 * The fast path alone, for tests and the fuzzer: WD_OK with *out set, or WD_EPROTO when the
 * request is not in the common form (then srv_csr_key asks wd_csr_parse), WD_ECRYPTO for a
 * bad signature, WD_ENOMEM.
 */
WD_MUST_USE int srv_csr_key_fast(const char *text, size_t n, EVP_PKEY **out);

#endif
