/*
 * The agent side of TPM 2.0 attestation: a client for a real TPM (or swtpm) over the
 * tpm2-tss ESAPI. It creates the endorsement key (EK) from the TCG default templates and
 * reads its certificate, creates and reloads a restricted signing attestation key (AK)
 * under it, answers the control plane's MakeCredential challenge with
 * TPM2_ActivateCredential, and produces quotes in exactly the form wd_tpm_quote_verify
 * (warden/tpm.h) takes. It also parses the operator's PCR selection text ("sha256:0,1,7").
 *
 * A struct wd_tpm_dev holds one ESYS context and the transient handles of the EK and the
 * AK. It is NOT thread-safe: one thread at a time, and one handle per TPM connection.
 * Without a resource manager (swtpm, /dev/tpm0) only one handle may be open per TPM.
 *
 * Ownership: every pointer argument is borrowed for the duration of the call and never
 * kept; output buffers are appended to. Only wd_tpm_dev_open's *out is owned by the caller.
 *
 * Errors: WD_EINVAL for caller bugs (NULL arguments, out-of-range values, calls in the
 * wrong order), WD_EIO when the TPM cannot be reached or refuses a command for a reason
 * other than the evidence, WD_EPROTO for malformed blobs handed in, WD_ENOMEM/WD_ELIMIT
 * for output buffers (an output buffer is left as it was on error). Every error fills diag
 * (may be NULL) with the TPM operation and, for TPM or TSS errors, the Tss2_RC_Decode text.
 * No secret (credential, private blob) ever goes to diag or to the log.
 *
 * References: TCG TPM 2.0 Library Part 3 (commands), TCG EK Credential Profile 2.x
 * (templates L-1/L-2, NV indices), tpm2-tools' tpm2_createek/tpm2_createak (same keys).
 */
#ifndef WD_TPM_DEV_H
#define WD_TPM_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/tpm.h"

/* TCG EK Credential Profile §2.2.1.4: NV indices of the EK certificates (low range). */
#define WD_TPM_NV_EK_CERT_RSA 0x01c00002u
#define WD_TPM_NV_EK_CERT_ECC 0x01c0000au

/* Bounds on what the functions below append (the TPM2B types' sizes plus their prefix). */
#define WD_TPM_DEV_CERT_MAX    4096 /* an EK certificate read from NV */
#define WD_TPM_DEV_NONCE_MAX   64   /* extraData of a quote (TPM2B_DATA, SHA-512 digest) */
#define WD_TPM_DEV_QUOTE_TRIES 4    /* quote attempts while the PCRs keep changing */

/* One open TPM: an ESYS context plus the EK and AK handles. Opaque. */
struct wd_tpm_dev;

/*
 * Open the TPM named by tcti, a Tss2_TctiLdr_Initialize configuration string such as
 * "swtpm:host=127.0.0.1,port=N" (swtpm also needs control port N+1), "mssim:host=...,
 * port=N", "device:/dev/tpmrm0", or NULL/"" for the TSS default. Then TPM2_Startup(CLEAR),
 * tolerating TPM_RC_INITIALIZE (already started). *out is owned by the caller
 * (wd_tpm_dev_close). Errors: WD_EINVAL (out NULL), WD_ECONFIG (the TCTI name is unknown
 * or its configuration is malformed), WD_EIO (the TPM cannot be reached or Startup
 * failed), WD_ENOMEM. diag says why.
 */
WD_MUST_USE int wd_tpm_dev_open(const char *tcti, struct wd_tpm_dev **out, struct wd_diag *diag);

/*
 * Flush the transient EK and AK from the TPM, close the ESYS context and the TCTI, free
 * dev. Accepts NULL. Errors while flushing are ignored (the TPM forgets transient objects
 * at its next Startup anyway).
 */
void wd_tpm_dev_close(struct wd_tpm_dev *dev);

/*
 * Create the EK as a transient primary key in the endorsement hierarchy (empty
 * endorsement auth) from the TCG EK Credential Profile default template: RSA 2048
 * (template L-1) when ecc is false, ECC NIST P-256 (template L-2) when true; both
 * nameAlg SHA-256, AES-128-CFB, restricted decryption, authPolicy
 * PolicySecret(TPM_RH_ENDORSEMENT), like `tpm2_createek -G rsa|ecc`. The same TPM gives
 * the same EK every time. Replaces (and flushes) an EK (and an AK: it was loaded under
 * the old one) created earlier on dev. Appends the EK's TPM2B_PUBLIC (with its size
 * prefix) to ek_public, and the EK certificate read from NV index WD_TPM_NV_EK_CERT_RSA or
 * _ECC to ek_cert (exactly the index's bytes, which may carry padding after the DER; see
 * wd_tpm_ek_cert_parse); ek_cert is left untouched when the index does not exist.
 * Buffers are borrowed. Errors: WD_EINVAL, WD_EIO (a TPM command failed), WD_ELIMIT
 * (certificate larger than WD_TPM_DEV_CERT_MAX, or a buffer's cap), WD_ENOMEM.
 */
WD_MUST_USE int wd_tpm_dev_ek(struct wd_tpm_dev *dev, bool ecc, struct wd_buf *ek_public,
                              struct wd_buf *ek_cert, struct wd_diag *diag);

/* Attestation key algorithms for wd_tpm_dev_ak_create_alg. */
enum wd_tpm_ak_alg {
    WD_TPM_AK_ECDSA_P256 = 0,  /* ECC NIST P-256, ECDSA-SHA256 (the default) */
    WD_TPM_AK_RSASSA_2048 = 1, /* RSA 2048, RSASSA-PKCS1-v1_5-SHA256 */
    WD_TPM_AK_RSAPSS_2048 = 2, /* RSA 2048, RSASSA-PSS-SHA256 */
};

/*
 * Create an attestation key under the EK (wd_tpm_dev_ek must have run: else WD_EINVAL)
 * and load it, like `tpm2_createak -G ecc -g sha256 -s ecdsa`: a restricted signing key
 * with fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, restricted and sign set,
 * empty auth, nameAlg SHA-256, ECC P-256 with scheme ECDSA-SHA256. The EK is authorised
 * with a PolicySecret(TPM_RH_ENDORSEMENT) policy session. Replaces (and flushes) an AK
 * loaded earlier on dev. Appends the AK's TPM2B_PUBLIC and TPM2B_PRIVATE (both marshalled
 * with their size prefix) to ak_public and ak_private, for the agent to persist and give
 * to wd_tpm_dev_ak_load after a restart; the private blob is wrapped by the EK and only
 * usable inside this TPM. Errors: WD_EINVAL, WD_EIO, WD_ELIMIT, WD_ENOMEM.
 */
WD_MUST_USE int wd_tpm_dev_ak_create(struct wd_tpm_dev *dev, struct wd_buf *ak_public,
                                     struct wd_buf *ak_private, struct wd_diag *diag);

/* As wd_tpm_dev_ak_create, with the key algorithm and signing scheme chosen by alg. */
WD_MUST_USE int wd_tpm_dev_ak_create_alg(struct wd_tpm_dev *dev, enum wd_tpm_ak_alg alg,
                                         struct wd_buf *ak_public, struct wd_buf *ak_private,
                                         struct wd_diag *diag);

/*
 * Load an AK persisted from wd_tpm_dev_ak_create (TPM2B_PUBLIC and TPM2B_PRIVATE with size
 * prefixes, nothing after them) under the EK (wd_tpm_dev_ek must have run on dev, with the
 * EK the AK was created under). Replaces (and flushes) an AK loaded earlier. Slices are
 * borrowed. Errors: WD_EINVAL (no EK), WD_EPROTO (a blob does not unmarshal, has trailing
 * bytes, or is not a restricted signing key per wd_tpm_public_check_ak), WD_EIO (the TPM
 * refused the load: e.g. another TPM's or another EK's blobs).
 */
WD_MUST_USE int wd_tpm_dev_ak_load(struct wd_tpm_dev *dev, struct wd_slice ak_public,
                                   struct wd_slice ak_private, struct wd_diag *diag);

/*
 * TPM2_ActivateCredential with the loaded AK as the object and the EK as the key, on the
 * TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET (each with its size prefix, nothing after)
 * that wd_tpm_make_credential produced for this EK and the AK's Name. The EK is authorised
 * with a PolicySecret(TPM_RH_ENDORSEMENT) session, the AK with its empty password. That
 * policy session is salted with the EK and encrypts the response (AES-128-CFB), so the
 * credential does not cross the bus to the TPM in clear.
 * Appends the credential (a secret: the caller should wd_buf_cleanup_secret it) to out.
 * Errors: WD_EINVAL (no EK or no AK), WD_EPROTO (a blob does not unmarshal),
 * WD_ECRYPTO (the TPM refused the blobs: made for another AK Name or another EK, or
 * tampered: TPM_RC_INTEGRITY, TPM_RC_VALUE, TPM_RC_SIZE, TPM_RC_ECC_POINT or
 * TPM_RC_KEY_SIZE on a parameter), WD_EIO (any other TPM failure), WD_ELIMIT, WD_ENOMEM.
 */
WD_MUST_USE int wd_tpm_dev_activate(struct wd_tpm_dev *dev, struct wd_slice id_object,
                                    struct wd_slice enc_secret, struct wd_buf *out,
                                    struct wd_diag *diag);

/*
 * Quote the PCRs of sel with the loaded AK (its own scheme) and extraData = nonce
 * (1..WD_TPM_DEV_NONCE_MAX bytes). Reads the PCR values with TPM2_PCR_Read (as many calls
 * as the TPM needs: it returns at most 8 values per call), quotes, then reads the PCR
 * update counter again; if the counter moved, or the quote's pcrDigest is not the hash of
 * the values read, a PCR changed in between and the whole read+quote is retried, at most
 * WD_TPM_DEV_QUOTE_TRIES times. Appends to attest the TPMS_ATTEST bytes (without the
 * TPM2B_ATTEST size), to sig the marshalled TPMT_SIGNATURE, and to pcr_values the values
 * back to back in selection order (each bank in turn, PCRs ascending): exactly the three
 * inputs of wd_tpm_quote_verify. sel must have 1..WD_TPM_PCR_BANKS_MAX banks each of
 * sizeofSelect WD_TPM_PCR_SELECT_MIN..MAX, at least one PCR in all (see
 * wd_tpm_pcr_spec_parse). Errors: WD_EINVAL (no AK, bad sel or nonce), WD_EIO (a TPM
 * command failed, or a selected bank or PCR does not exist on this TPM), WD_EAGAIN (the
 * PCRs kept changing through every try), WD_ELIMIT, WD_ENOMEM. On error all three
 * buffers are left as they were.
 */
WD_MUST_USE int wd_tpm_dev_quote(struct wd_tpm_dev *dev, const struct wd_tpm_pcr_selection *sel,
                                 struct wd_slice nonce, struct wd_buf *attest, struct wd_buf *sig,
                                 struct wd_buf *pcr_values, struct wd_diag *diag);

/*
 * TPM2_PCR_Extend of PCR pcr (below WD_TPM_PCR_MAX) in the SHA-256 bank with digest,
 * authorised with the PCR's empty password (PCRs 0..15 and 23 on a PC-client TPM; the
 * TPM refuses others from locality 0). Tests use it to change what a quote reports.
 * Errors: WD_EINVAL, WD_EIO.
 */
WD_MUST_USE int wd_tpm_dev_pcr_extend_sha256(struct wd_tpm_dev *dev, unsigned pcr,
                                             const uint8_t digest[32], struct wd_diag *diag);

/*
 * Parse an operator's PCR selection: one or more banks joined by '+', each
 * "BANK:PCR,PCR,..." with BANK one of sha1, sha256, sha384, sha512 and each PCR a decimal
 * number 0..WD_TPM_PCR_MAX-1 without leading zeros, e.g. "sha256:0,1,7+sha1:0". No spaces,
 * no empty element, no bank or PCR twice, at most WD_TPM_PCR_BANKS_MAX banks and 511
 * characters. *out gets the banks in the order written, with sizeofSelect
 * WD_TPM_PCR_SELECT_MIN (3) unless a PCR above 23 is selected (then 4). Pure: no I/O, no
 * allocation, thread-safe. Errors: WD_EINVAL, with diag (may be NULL) saying
 * "PCR selection, column N: what is wrong"; *out is then unspecified.
 */
WD_MUST_USE int wd_tpm_pcr_spec_parse(const char *spec, struct wd_tpm_pcr_selection *out,
                                      struct wd_diag *diag);

/*
 * Append the canonical text of sel ("sha256:0,1,7+sha1:0", banks in sel's order, PCRs
 * ascending) to out: the inverse of wd_tpm_pcr_spec_parse, for logs and messages.
 * Errors: WD_EINVAL (a bank with an unknown hash or no PCR, or a bad count or
 * sizeofSelect), WD_ELIMIT, WD_ENOMEM; out is left as it was on error.
 */
WD_MUST_USE int wd_tpm_pcr_spec_format(const struct wd_tpm_pcr_selection *sel, struct wd_buf *out);

#endif
