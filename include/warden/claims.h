/*
 * The warden claims: facts the CA asserts about an SVID's holder, carried in a non-critical
 * X.509 extension with OID WD_CLAIMS_OID (see docs/oids.md). The extension value is this
 * DER (ASN.1 module in docs/oids.md):
 *
 *   WardenClaims ::= SEQUENCE {
 *       version          INTEGER (1),
 *       nodeName         [0] IMPLICIT UTF8String OPTIONAL,
 *       attestation      [1] IMPLICIT UTF8String OPTIONAL,   -- tpm | join-token | ...
 *       measurement      [2] IMPLICIT OCTET STRING OPTIONAL, -- 32, 48 or 64 bytes
 *       manifestVersion  [3] IMPLICIT INTEGER (0..2^64-1) OPTIONAL,
 *       party            [4] IMPLICIT UTF8String OPTIONAL }
 *
 * The decoder is strict DER: minimal lengths, fields in increasing tag order, no unknown
 * tags or versions, no trailing bytes, UTF-8 text without control characters, bounded sizes.
 * Encoding a decoded value gives back the same bytes. struct wd_claims is a fixed-size value:
 * decoding never allocates. Pure and thread-safe.
 */
#ifndef WD_CLAIMS_H
#define WD_CLAIMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"

/* warden's arc is 2.25.18674814504717350249699834908302362657 (a UUID, X.667). */
#define WD_OID_ARC          "2.25.18674814504717350249699834908302362657"
#define WD_CLAIMS_OID       WD_OID_ARC ".1"
#define WD_TEE_EVIDENCE_OID WD_OID_ARC ".2" /* reserved: TEE evidence in CSRs */

#define WD_CLAIMS_VERSION  1
#define WD_CLAIMS_TEXT_MAX 255  /* bytes of node name or party */
#define WD_CLAIMS_MEAS_MAX 64   /* bytes of measurement */
#define WD_CLAIMS_DER_MAX  1024 /* an encoding never needs more; longer input is rejected */

/* How the node holding the SVID was attested (claim [1]). */
enum wd_attest {
    WD_ATTEST_TPM = 1,
    WD_ATTEST_JOIN_TOKEN,
    WD_ATTEST_SEV_SNP,
    WD_ATTEST_SGX,
    WD_ATTEST_SIM,
    WD_ATTEST_NONE,
};

/* Bits of wd_claims.present. */
enum {
    WD_CLAIM_NODE = 1u << 0,
    WD_CLAIM_ATTEST = 1u << 1,
    WD_CLAIM_MEASUREMENT = 1u << 2,
    WD_CLAIM_MANIFEST = 1u << 3,
    WD_CLAIM_PARTY = 1u << 4,
};

/*
 * A set of claims. Fields are meaningful only when their bit is in present. Text fields are
 * NUL-terminated UTF-8 of 1..WD_CLAIMS_TEXT_MAX bytes without control characters. Fill it
 * with wd_claims_init and the setters (which validate); encode validates again.
 */
struct wd_claims {
    unsigned present;
    char node[WD_CLAIMS_TEXT_MAX + 1];
    enum wd_attest attest;
    uint8_t measurement[WD_CLAIMS_MEAS_MAX];
    size_t measurement_len; /* 32, 48 or 64 */
    uint64_t manifest_version;
    char party[WD_CLAIMS_TEXT_MAX + 1];
};

/* Empty set (no claims present). */
void wd_claims_init(struct wd_claims *c);

/*
 * Setters: WD_EPROTO (diag says why) for text that is empty, too long, not UTF-8 or has
 * control characters, for a measurement that is not 32, 48 or 64 bytes. c is unchanged on
 * error. Strings are copied.
 */
WD_MUST_USE int wd_claims_set_node(struct wd_claims *c, const char *s, struct wd_diag *diag);
WD_MUST_USE int wd_claims_set_party(struct wd_claims *c, const char *s, struct wd_diag *diag);
WD_MUST_USE int wd_claims_set_measurement(struct wd_claims *c, const uint8_t *p, size_t n,
                                          struct wd_diag *diag);
void wd_claims_set_attest(struct wd_claims *c, enum wd_attest a);
void wd_claims_set_manifest_version(struct wd_claims *c, uint64_t v);

/* "tpm", "join-token", "sev-snp", "sgx", "sim", "none"; NULL for an invalid value. */
const char *wd_attest_name(enum wd_attest a);
/* The reverse of wd_attest_name; WD_EPROTO for any other text. */
WD_MUST_USE int wd_attest_parse(const char *s, size_t n, enum wd_attest *out);

/*
 * Append the DER of c to out. WD_EINVAL when c holds an invalid field (a caller bug: the
 * setters prevent it), WD_ELIMIT / WD_ENOMEM from the buffer (out unchanged on error).
 */
WD_MUST_USE int wd_claims_encode(const struct wd_claims *c, struct wd_buf *out);
/* The same into out[0..cap) without allocating; *len gets the size. WD_ELIMIT if cap is short
 * (WD_CLAIMS_DER_MAX is always enough). */
WD_MUST_USE int wd_claims_encode_to(const struct wd_claims *c, uint8_t *out, size_t cap,
                                    size_t *len);

/*
 * Decode DER p[0..n) into *out. WD_EPROTO for anything but the exact encoding described
 * above; *reason (may be NULL) then points at a static string naming the rule ("unknown
 * field [5]", "non-minimal length", ...). Never allocates; *out is unspecified on error.
 */
WD_MUST_USE int wd_claims_decode(const uint8_t *p, size_t n, struct wd_claims *out,
                                 const char **reason);

/*
 * Append c as one JSON object to out, e.g. {"node":"n1","attestation":"tpm",
 * "measurement":"<hex>","manifest_version":3,"party":"p"}; absent claims are left out.
 * WD_ELIMIT / WD_ENOMEM from the buffer.
 */
WD_MUST_USE int wd_claims_to_json(const struct wd_claims *c, struct wd_buf *out);

#endif
