/*
 * The agent's TPM 2.0 client over the tpm2-tss ESAPI (warden/tpm_dev.h).
 *
 * Command references are to the TCG TPM 2.0 Library specification Part 3 (Commands) and
 * the TCG EK Credential Profile for TPM Family 2.0 (templates and NV indices). The keys
 * made here are the same as tpm2-tools' tpm2_createek and tpm2_createak make, so the
 * verifier side (lib/attest/tpm_*.c) is tested against both.
 *
 * Only ActivateCredential's response is encrypted (its session is salted with the EK): the
 * other commands carry nothing secret, see docs/internals/tpm-dev.md.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/err.h"
#include "warden/tpm.h"
#include "warden/tpm_dev.h"

struct wd_tpm_dev {
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *esys;
    ESYS_TR ek; /* transient primary, or ESYS_TR_NONE */
    ESYS_TR ak; /* transient, loaded under ek, or ESYS_TR_NONE */
};

/*
 * The EK templates' authPolicy: PolicySecret(TPM_RH_ENDORSEMENT) with SHA-256
 * (EK Credential Profile §B.3.2, "PolicyA_SHA256").
 */
static const uint8_t ek_policy[32] = {
        0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc,
        0x8d, 0x46, 0xa5, 0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52,
        0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};

/* Fill diag with a TSS/TPM failure: the operation, the decoded response code. */
static int tss_fail(struct wd_diag *diag, int err, const char *what, TSS2_RC trc)
{
    return wd_diag_set(diag, err, NULL, 0, 0, "TPM %s: %s (0x%x)", what, Tss2_RC_Decode(trc),
                       (unsigned)trc);
}

/*
 * The TPM_RC of a TPM-layer response without its handle/session/parameter number
 * (Part 2 §6.6.2: format-one codes carry the number in bits 8..11), or 0 for any code
 * from another layer (TCTI, ESYS, MU).
 */
static TSS2_RC tpm_rc_base(TSS2_RC trc)
{
    if ((trc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER) {
        return 0;
    }
    if (trc & TPM2_RC_FMT1) {
        return trc & (TPM2_RC_FMT1 | 0x3fu);
    }
    return trc;
}

static int tcti_open(const char *conf, TSS2_TCTI_CONTEXT **tcti, struct wd_diag *diag)
{
    TSS2_RC trc = Tss2_TctiLdr_Initialize(conf, tcti);
    if (trc == TSS2_RC_SUCCESS) {
        return WD_OK;
    }
    /* A TCTI name that does not load, or a configuration string it refuses. */
    switch (trc & ~TSS2_RC_LAYER_MASK) {
    case TSS2_BASE_RC_BAD_VALUE:
    case TSS2_BASE_RC_BAD_REFERENCE:
    case TSS2_BASE_RC_NOT_SUPPORTED:
    case TSS2_BASE_RC_NOT_IMPLEMENTED:
        return tss_fail(diag, WD_ECONFIG, "TCTI configuration refused", trc);
    default:
        return tss_fail(diag, WD_EIO, "TCTI cannot reach the TPM", trc);
    }
}

int wd_tpm_dev_open(const char *tcti, struct wd_tpm_dev **out, struct wd_diag *diag)
{
    if (out == NULL) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "TPM open: no output handle");
    }
    *out = NULL;
    struct wd_tpm_dev *dev = wd_calloc(1, sizeof(*dev));
    if (dev == NULL) {
        return wd_diag_set(diag, WD_ENOMEM, NULL, 0, 0, "TPM open: out of memory");
    }
    dev->ek = ESYS_TR_NONE;
    dev->ak = ESYS_TR_NONE;
    int rc = tcti_open(tcti != NULL && tcti[0] != '\0' ? tcti : NULL, &dev->tcti, diag);
    if (rc != WD_OK) {
        goto out;
    }
    TSS2_RC trc = Esys_Initialize(&dev->esys, dev->tcti, NULL);
    if (trc != TSS2_RC_SUCCESS) {
        rc = tss_fail(diag, WD_EIO, "ESYS initialisation", trc);
        goto out;
    }
    /* Part 3 §9.3: TPM_RC_INITIALIZE means Startup already ran (firmware, or swtpm flags). */
    trc = Esys_Startup(dev->esys, TPM2_SU_CLEAR);
    if (trc != TSS2_RC_SUCCESS && tpm_rc_base(trc) != TPM2_RC_INITIALIZE) {
        rc = tss_fail(diag, WD_EIO, "Startup", trc);
        goto out;
    }
    *out = dev;
    dev = NULL;
    rc = WD_OK;
out:
    wd_tpm_dev_close(dev);
    return rc;
}

static void flush(struct wd_tpm_dev *dev, ESYS_TR *h)
{
    if (*h != ESYS_TR_NONE) {
        (void)Esys_FlushContext(dev->esys, *h);
        *h = ESYS_TR_NONE;
    }
}

void wd_tpm_dev_close(struct wd_tpm_dev *dev)
{
    if (dev == NULL) {
        return;
    }
    if (dev->esys != NULL) {
        flush(dev, &dev->ak);
        flush(dev, &dev->ek);
        Esys_Finalize(&dev->esys);
    }
    if (dev->tcti != NULL) {
        Tss2_TctiLdr_Finalize(&dev->tcti);
    }
    wd_free(dev);
}

/* ---- EK ---- */

/* EK Credential Profile §B.3.3 template L-1 (RSA 2048) and §B.3.4 L-2 (ECC NIST P-256). */
static void ek_template(bool ecc, TPM2B_PUBLIC *t)
{
    memset(t, 0, sizeof(*t));
    TPMT_PUBLIC *p = &t->publicArea;
    p->type = ecc ? TPM2_ALG_ECC : TPM2_ALG_RSA;
    p->nameAlg = TPM2_ALG_SHA256;
    p->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
                          | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY
                          | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    p->authPolicy.size = sizeof(ek_policy);
    memcpy(p->authPolicy.buffer, ek_policy, sizeof(ek_policy));
    TPMT_SYM_DEF_OBJECT sym = {.algorithm = TPM2_ALG_AES};
    sym.keyBits.aes = 128;
    sym.mode.aes = TPM2_ALG_CFB;
    if (ecc) {
        p->parameters.eccDetail.symmetric = sym;
        p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
        p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
        p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
        /* unique: 32 zero bytes for each coordinate */
        p->unique.ecc.x.size = 32;
        p->unique.ecc.y.size = 32;
    } else {
        p->parameters.rsaDetail.symmetric = sym;
        p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
        p->parameters.rsaDetail.keyBits = 2048;
        p->parameters.rsaDetail.exponent = 0;
        /* unique: 256 zero bytes */
        p->unique.rsa.size = 256;
    }
}

static int marshal_public(const TPM2B_PUBLIC *pub, struct wd_buf *out, struct wd_diag *diag)
{
    uint8_t tmp[sizeof(TPM2B_PUBLIC)];
    size_t off = 0;
    TSS2_RC trc = Tss2_MU_TPM2B_PUBLIC_Marshal(pub, tmp, sizeof(tmp), &off);
    if (trc != TSS2_RC_SUCCESS) {
        return tss_fail(diag, WD_EIO, "marshalling a public area", trc);
    }
    int rc = wd_buf_append(out, tmp, off);
    if (rc != WD_OK) {
        return wd_diag_set(diag, rc, NULL, 0, 0, "TPM public area: %s", wd_strerror(rc));
    }
    return WD_OK;
}

/* Whether NV index idx is defined, without provoking a TPM error (and an ESYS log line). */
static int nv_exists(struct wd_tpm_dev *dev, TPM2_HANDLE idx, bool *exists, struct wd_diag *diag)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    TPMI_YES_NO more = TPM2_NO;
    TSS2_RC trc = Esys_GetCapability(dev->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                     TPM2_CAP_HANDLES, idx, 1, &more, &cap);
    if (trc != TSS2_RC_SUCCESS) {
        return tss_fail(diag, WD_EIO, "GetCapability(handles)", trc);
    }
    *exists = cap->data.handles.count >= 1 && cap->data.handles.handle[0] == idx;
    Esys_Free(cap);
    return WD_OK;
}

/* TPM_PT_NV_BUFFER_MAX (Part 2 §6.13), bounded by what a TPM2B_MAX_NV_BUFFER holds. */
static uint16_t nv_chunk(struct wd_tpm_dev *dev)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    TPMI_YES_NO more = TPM2_NO;
    uint16_t chunk = 512; /* every TPM supports at least this much (PC Client profile) */
    TSS2_RC trc =
            Esys_GetCapability(dev->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                               TPM2_CAP_TPM_PROPERTIES, TPM2_PT_NV_BUFFER_MAX, 1, &more, &cap);
    if (trc == TSS2_RC_SUCCESS && cap->data.tpmProperties.count >= 1
        && cap->data.tpmProperties.tpmProperty[0].property == TPM2_PT_NV_BUFFER_MAX) {
        uint32_t v = cap->data.tpmProperties.tpmProperty[0].value;
        if (v > 0) {
            chunk = (uint16_t)WD_MIN(v, (uint32_t)TPM2_MAX_NV_BUFFER_SIZE);
        }
    }
    Esys_Free(cap);
    return chunk;
}

/* Append the whole content of NV index idx to out (TPM2_NV_Read in chunks, Part 3 §31.13). */
static int nv_read_all(struct wd_tpm_dev *dev, TPM2_HANDLE idx, struct wd_buf *out,
                       struct wd_diag *diag)
{
    ESYS_TR nv = ESYS_TR_NONE;
    TPM2B_NV_PUBLIC *pub = NULL;
    TPM2B_MAX_NV_BUFFER *data = NULL;
    struct wd_buf tmp;
    wd_buf_init(&tmp, WD_TPM_DEV_CERT_MAX);
    int rc = WD_OK;
    TSS2_RC trc =
            Esys_TR_FromTPMPublic(dev->esys, idx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv);
    if (trc != TSS2_RC_SUCCESS) {
        rc = tss_fail(diag, WD_EIO, "NV index lookup", trc);
        goto out;
    }
    trc = Esys_NV_ReadPublic(dev->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL);
    if (trc != TSS2_RC_SUCCESS) {
        rc = tss_fail(diag, WD_EIO, "NV_ReadPublic", trc);
        goto out;
    }
    uint16_t size = pub->nvPublic.dataSize;
    TPMA_NV attrs = pub->nvPublic.attributes;
    if (size > WD_TPM_DEV_CERT_MAX) {
        rc = wd_diag_set(diag, WD_ELIMIT, NULL, 0, 0,
                         "TPM NV index 0x%08x holds %u bytes, more than %d", (unsigned)idx,
                         (unsigned)size, WD_TPM_DEV_CERT_MAX);
        goto out;
    }
    /*
     * EK certificate indices are readable with the index's own (empty) authValue
     * (TPMA_NV_AUTHREAD) and by the owner (TPMA_NV_OWNERREAD), both with an empty
     * password by default (EK Credential Profile §2.2.1.4).
     */
    ESYS_TR auth = nv;
    if (!(attrs & TPMA_NV_AUTHREAD) && (attrs & TPMA_NV_OWNERREAD)) {
        auth = ESYS_TR_RH_OWNER;
    }
    uint16_t chunk = nv_chunk(dev);
    for (uint16_t off = 0; off < size;) {
        uint16_t n = (uint16_t)WD_MIN((unsigned)chunk, (unsigned)(size - off));
        trc = Esys_NV_Read(dev->esys, auth, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n,
                           off, &data);
        if (trc != TSS2_RC_SUCCESS) {
            rc = tss_fail(diag, WD_EIO, "NV_Read", trc);
            goto out;
        }
        if (data->size == 0 || data->size > n) {
            rc = wd_diag_set(diag, WD_EIO, NULL, 0, 0, "TPM NV_Read returned %u bytes for %u",
                             (unsigned)data->size, (unsigned)n);
            goto out;
        }
        WD_CHECK(wd_buf_append(&tmp, data->buffer, data->size));
        off = (uint16_t)(off + data->size);
        Esys_Free(data);
        data = NULL;
    }
    if (tmp.len > 0) {
        WD_CHECK(wd_buf_append(out, tmp.p, tmp.len));
    }
out:
    if (rc == WD_ENOMEM || rc == WD_ELIMIT) {
        (void)wd_diag_set(diag, rc, NULL, 0, 0, "TPM EK certificate: %s", wd_strerror(rc));
    }
    Esys_Free(data);
    Esys_Free(pub);
    if (nv != ESYS_TR_NONE) {
        (void)Esys_TR_Close(dev->esys, &nv);
    }
    wd_buf_cleanup(&tmp);
    return rc;
}

int wd_tpm_dev_ek(struct wd_tpm_dev *dev, bool ecc, struct wd_buf *ek_public,
                  struct wd_buf *ek_cert, struct wd_diag *diag)
{
    if (dev == NULL || ek_public == NULL || ek_cert == NULL) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "TPM EK: missing argument");
    }
    TPM2B_PUBLIC tmpl;
    ek_template(ecc, &tmpl);
    TPM2B_SENSITIVE_CREATE sens;
    memset(&sens, 0, sizeof(sens));
    TPM2B_DATA outside = {.size = 0};
    TPML_PCR_SELECTION creation_pcr = {.count = 0};
    TPM2B_PUBLIC *pub = NULL;
    ESYS_TR ek = ESYS_TR_NONE;
    struct wd_buf pub_buf;
    wd_buf_init(&pub_buf, sizeof(TPM2B_PUBLIC));
    int rc = WD_OK;
    /* Part 3 §24.1: the endorsement hierarchy's authValue is empty unless the owner set one. */
    TSS2_RC trc = Esys_CreatePrimary(dev->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD,
                                     ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl, &outside,
                                     &creation_pcr, &ek, &pub, NULL, NULL, NULL);
    if (trc != TSS2_RC_SUCCESS) {
        rc = tss_fail(diag, WD_EIO, "CreatePrimary(EK)", trc);
        goto out;
    }
    bool have_cert = false;
    WD_CHECK(nv_exists(dev, ecc ? WD_TPM_NV_EK_CERT_ECC : WD_TPM_NV_EK_CERT_RSA, &have_cert, diag));
    /* Room for the public area first, so that nothing fails after the certificate is in. */
    rc = marshal_public(pub, &pub_buf, diag);
    if (rc == WD_OK) {
        rc = wd_buf_reserve(ek_public, pub_buf.len);
        if (rc != WD_OK) {
            (void)wd_diag_set(diag, rc, NULL, 0, 0, "TPM EK public area: %s", wd_strerror(rc));
        }
    }
    if (rc == WD_OK && have_cert) {
        rc = nv_read_all(dev, ecc ? WD_TPM_NV_EK_CERT_ECC : WD_TPM_NV_EK_CERT_RSA, ek_cert, diag);
    }
    if (rc == WD_OK) {
        /* reserved above: cannot fail */
        rc = wd_buf_append(ek_public, pub_buf.p, pub_buf.len);
        WD_BUG_ON(rc != WD_OK);
    }
    if (rc != WD_OK) {
        goto out;
    }
    /* The AK, if any, was loaded under the previous EK handle. */
    flush(dev, &dev->ak);
    flush(dev, &dev->ek);
    dev->ek = ek;
    ek = ESYS_TR_NONE;
out:
    wd_buf_cleanup(&pub_buf);
    flush(dev, &ek);
    Esys_Free(pub);
    return rc;
}

/* ---- AK ---- */

/*
 * A policy session satisfying the EK's authPolicy: PolicySecret(TPM_RH_ENDORSEMENT)
 * (Part 3 §23.4), authorised with the endorsement hierarchy's empty password. The session
 * is kept alive after the command that uses it (continueSession) so that it can always be
 * flushed explicitly, whatever that command returned. With encrypt, the session is salted
 * with the EK (Part 1 §19.6.10: the salt is encrypted to the EK, so only this TPM and ESYS
 * know the session key) and encrypts the first response parameter with AES-128-CFB
 * (Part 1 §21): the credential ActivateCredential returns does not cross the bus in clear.
 */
static int ek_session(struct wd_tpm_dev *dev, bool encrypt, ESYS_TR *sess, struct wd_diag *diag)
{
    TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_NULL};
    if (encrypt) {
        sym.algorithm = TPM2_ALG_AES;
        sym.keyBits.aes = 128;
        sym.mode.aes = TPM2_ALG_CFB;
    }
    *sess = ESYS_TR_NONE;
    TSS2_RC trc = Esys_StartAuthSession(dev->esys, encrypt ? dev->ek : ESYS_TR_NONE, ESYS_TR_NONE,
                                        ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL,
                                        TPM2_SE_POLICY, &sym, TPM2_ALG_SHA256, sess);
    if (trc != TSS2_RC_SUCCESS) {
        *sess = ESYS_TR_NONE;
        return tss_fail(diag, WD_EIO, "StartAuthSession(policy)", trc);
    }
    TPMA_SESSION attrs = TPMA_SESSION_CONTINUESESSION | (encrypt ? TPMA_SESSION_ENCRYPT : 0);
    trc = Esys_TRSess_SetAttributes(dev->esys, *sess, attrs, 0xff);
    if (trc != TSS2_RC_SUCCESS) {
        flush(dev, sess);
        return tss_fail(diag, WD_EIO, "session attributes", trc);
    }
    TPM2B_NONCE nonce_tpm = {.size = 0};
    TPM2B_DIGEST cp_hash = {.size = 0};
    TPM2B_NONCE policy_ref = {.size = 0};
    TPM2B_TIMEOUT *timeout = NULL;
    TPMT_TK_AUTH *ticket = NULL;
    trc = Esys_PolicySecret(dev->esys, ESYS_TR_RH_ENDORSEMENT, *sess, ESYS_TR_PASSWORD,
                            ESYS_TR_NONE, ESYS_TR_NONE, &nonce_tpm, &cp_hash, &policy_ref, 0,
                            &timeout, &ticket);
    Esys_Free(timeout);
    Esys_Free(ticket);
    if (trc != TSS2_RC_SUCCESS) {
        flush(dev, sess);
        return tss_fail(diag, WD_EIO, "PolicySecret(endorsement)", trc);
    }
    return WD_OK;
}

/* tpm2_createak's templates: a restricted signing key, nameAlg SHA-256, empty authPolicy. */
static int ak_template(enum wd_tpm_ak_alg alg, TPM2B_PUBLIC *t)
{
    memset(t, 0, sizeof(*t));
    TPMT_PUBLIC *p = &t->publicArea;
    p->nameAlg = TPM2_ALG_SHA256;
    p->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
                          | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH
                          | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
    switch (alg) {
    case WD_TPM_AK_ECDSA_P256:
        p->type = TPM2_ALG_ECC;
        p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
        p->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
        p->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
        p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
        p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
        return WD_OK;
    case WD_TPM_AK_RSASSA_2048:
    case WD_TPM_AK_RSAPSS_2048:
        p->type = TPM2_ALG_RSA;
        p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
        p->parameters.rsaDetail.scheme.scheme =
                alg == WD_TPM_AK_RSASSA_2048 ? TPM2_ALG_RSASSA : TPM2_ALG_RSAPSS;
        /* rsassa and rsapss share the TPMS_SIG_SCHEME layout (Part 2 §11.2.1.2) */
        p->parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
        p->parameters.rsaDetail.keyBits = 2048;
        p->parameters.rsaDetail.exponent = 0;
        return WD_OK;
    }
    return WD_EINVAL;
}

/* Load pub/priv under the EK (Part 3 §12.2) and make it dev's AK. */
static int ak_load(struct wd_tpm_dev *dev, const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv,
                   struct wd_diag *diag)
{
    ESYS_TR sess = ESYS_TR_NONE, ak = ESYS_TR_NONE;
    WD_TRY(ek_session(dev, false, &sess, diag));
    TSS2_RC trc = Esys_Load(dev->esys, dev->ek, sess, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, &ak);
    flush(dev, &sess);
    if (trc != TSS2_RC_SUCCESS) {
        return tss_fail(diag, WD_EIO, "Load(AK)", trc);
    }
    flush(dev, &dev->ak);
    dev->ak = ak;
    return WD_OK;
}

int wd_tpm_dev_ak_create_alg(struct wd_tpm_dev *dev, enum wd_tpm_ak_alg alg,
                             struct wd_buf *ak_public, struct wd_buf *ak_private,
                             struct wd_diag *diag)
{
    if (dev == NULL || ak_public == NULL || ak_private == NULL) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "TPM AK: missing argument");
    }
    if (dev->ek == ESYS_TR_NONE) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "TPM AK: no EK (call wd_tpm_dev_ek)");
    }
    TPM2B_PUBLIC tmpl;
    if (ak_template(alg, &tmpl) != WD_OK) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "TPM AK: unknown algorithm %d", (int)alg);
    }
    TPM2B_SENSITIVE_CREATE sens;
    memset(&sens, 0, sizeof(sens));
    TPM2B_DATA outside = {.size = 0};
    TPML_PCR_SELECTION creation_pcr = {.count = 0};
    TPM2B_PUBLIC *pub = NULL;
    TPM2B_PRIVATE *priv = NULL;
    ESYS_TR sess = ESYS_TR_NONE;
    uint8_t pub_bytes[sizeof(TPM2B_PUBLIC)], priv_bytes[sizeof(TPM2B_PRIVATE)];
    size_t pub_len = 0, priv_len = 0;
    int rc = WD_OK;
    WD_CHECK(ek_session(dev, false, &sess, diag));
    /* Part 3 §12.1: the AK is created under the EK, whose policy the session satisfies. */
    TSS2_RC trc = Esys_Create(dev->esys, dev->ek, sess, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
                              &outside, &creation_pcr, &priv, &pub, NULL, NULL, NULL);
    flush(dev, &sess);
    if (trc != TSS2_RC_SUCCESS) {
        rc = tss_fail(diag, WD_EIO, "Create(AK)", trc);
        goto out;
    }
    trc = Tss2_MU_TPM2B_PUBLIC_Marshal(pub, pub_bytes, sizeof(pub_bytes), &pub_len);
    if (trc == TSS2_RC_SUCCESS) {
        trc = Tss2_MU_TPM2B_PRIVATE_Marshal(priv, priv_bytes, sizeof(priv_bytes), &priv_len);
    }
    if (trc != TSS2_RC_SUCCESS) {
        rc = tss_fail(diag, WD_EIO, "marshalling the AK", trc);
        goto out;
    }
    /* Reserve both first so that neither buffer changes unless both do. */
    rc = wd_buf_reserve(ak_public, pub_len);
    if (rc == WD_OK) {
        rc = wd_buf_reserve(ak_private, priv_len);
    }
    if (rc != WD_OK) {
        (void)wd_diag_set(diag, rc, NULL, 0, 0, "TPM AK blobs: %s", wd_strerror(rc));
        goto out;
    }
    WD_CHECK(ak_load(dev, pub, priv, diag));
    rc = wd_buf_append(ak_public, pub_bytes, pub_len);
    WD_BUG_ON(rc != WD_OK);
    rc = wd_buf_append(ak_private, priv_bytes, priv_len);
    WD_BUG_ON(rc != WD_OK);
out:
    OPENSSL_cleanse(priv_bytes, sizeof(priv_bytes));
    Esys_Free(pub);
    Esys_Free(priv);
    return rc;
}

int wd_tpm_dev_ak_create(struct wd_tpm_dev *dev, struct wd_buf *ak_public,
                         struct wd_buf *ak_private, struct wd_diag *diag)
{
    return wd_tpm_dev_ak_create_alg(dev, WD_TPM_AK_ECDSA_P256, ak_public, ak_private, diag);
}

int wd_tpm_dev_ak_load(struct wd_tpm_dev *dev, struct wd_slice ak_public,
                       struct wd_slice ak_private, struct wd_diag *diag)
{
    if (dev == NULL || ak_public.p == NULL || ak_private.p == NULL) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "TPM AK load: missing argument");
    }
    if (dev->ek == ESYS_TR_NONE) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "TPM AK load: no EK (call wd_tpm_dev_ek)");
    }
    /* The verifier's own checks first: only a restricted signing key is loaded as an AK. */
    struct wd_tpm_public parsed;
    enum wd_tpm_reason why = WD_TPM_OK;
    int rc = wd_tpm_public_parse_2b(ak_public.p, ak_public.len, &parsed, &why);
    if (rc == WD_OK) {
        rc = wd_tpm_public_check_ak(&parsed, &why);
    }
    if (rc != WD_OK) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "TPM AK load: public blob: %s",
                           wd_tpm_reason_str(why));
    }
    TPM2B_PUBLIC pub;
    TPM2B_PRIVATE priv;
    memset(&pub, 0, sizeof(pub));
    memset(&priv, 0, sizeof(priv));
    size_t off = 0;
    TSS2_RC trc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(ak_public.p, ak_public.len, &off, &pub);
    if (trc != TSS2_RC_SUCCESS || off != ak_public.len) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "TPM AK load: public blob is not one TPM2B_PUBLIC");
    }
    off = 0;
    trc = Tss2_MU_TPM2B_PRIVATE_Unmarshal(ak_private.p, ak_private.len, &off, &priv);
    if (trc != TSS2_RC_SUCCESS || off != ak_private.len || priv.size == 0) {
        OPENSSL_cleanse(&priv, sizeof(priv));
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "TPM AK load: private blob is not one TPM2B_PRIVATE");
    }
    rc = ak_load(dev, &pub, &priv, diag);
    OPENSSL_cleanse(&priv, sizeof(priv));
    return rc;
}

/* ---- credential activation ---- */

int wd_tpm_dev_activate(struct wd_tpm_dev *dev, struct wd_slice id_object,
                        struct wd_slice enc_secret, struct wd_buf *out, struct wd_diag *diag)
{
    if (dev == NULL || out == NULL || id_object.p == NULL || enc_secret.p == NULL) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "TPM activate: missing argument");
    }
    if (dev->ek == ESYS_TR_NONE || dev->ak == ESYS_TR_NONE) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "TPM activate: no EK or no AK loaded");
    }
    TPM2B_ID_OBJECT blob;
    TPM2B_ENCRYPTED_SECRET secret;
    memset(&blob, 0, sizeof(blob));
    memset(&secret, 0, sizeof(secret));
    size_t off = 0;
    TSS2_RC trc = Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(id_object.p, id_object.len, &off, &blob);
    if (trc != TSS2_RC_SUCCESS || off != id_object.len || blob.size == 0) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "TPM activate: id_object is not one TPM2B_ID_OBJECT");
    }
    off = 0;
    trc = Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(enc_secret.p, enc_secret.len, &off, &secret);
    if (trc != TSS2_RC_SUCCESS || off != enc_secret.len || secret.size == 0) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "TPM activate: enc_secret is not one TPM2B_ENCRYPTED_SECRET");
    }
    ESYS_TR sess = ESYS_TR_NONE;
    TPM2B_DIGEST *cred = NULL;
    WD_TRY(ek_session(dev, true, &sess, diag));
    /* Part 3 §12.5: the AK (activateHandle) by its password, the EK (keyHandle) by policy. */
    trc = Esys_ActivateCredential(dev->esys, dev->ak, dev->ek, ESYS_TR_PASSWORD, sess, ESYS_TR_NONE,
                                  &blob, &secret, &cred);
    flush(dev, &sess);
    if (trc != TSS2_RC_SUCCESS) {
        switch (tpm_rc_base(trc)) {
        /*
         * Part 3 §12.5.2 / Part 1 §24: the outer HMAC (integrity), the seed decryption
         * (value, size, ECC point, key size) fail on blobs made for another AK or EK.
         */
        case TPM2_RC_INTEGRITY:
        case TPM2_RC_VALUE:
        case TPM2_RC_SIZE:
        case TPM2_RC_ECC_POINT:
        case TPM2_RC_KEY_SIZE:
            return tss_fail(diag, WD_ECRYPTO, "ActivateCredential refused the credential", trc);
        default:
            return tss_fail(diag, WD_EIO, "ActivateCredential", trc);
        }
    }
    int rc = wd_buf_append(out, cred->buffer, cred->size);
    if (rc != WD_OK) {
        (void)wd_diag_set(diag, rc, NULL, 0, 0, "TPM activate: %s", wd_strerror(rc));
    }
    OPENSSL_cleanse(cred, sizeof(*cred));
    Esys_Free(cred);
    return rc;
}

/* ---- quote ---- */

static const EVP_MD *md_of(uint16_t alg)
{
    switch (alg) {
    case WD_TPM_ALG_SHA1:
        return EVP_sha1();
    case WD_TPM_ALG_SHA256:
        return EVP_sha256();
    case WD_TPM_ALG_SHA384:
        return EVP_sha384();
    case WD_TPM_ALG_SHA512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

static bool sel_empty(const TPML_PCR_SELECTION *s)
{
    for (uint32_t i = 0; i < s->count; i++) {
        for (unsigned j = 0; j < s->pcrSelections[i].sizeofSelect; j++) {
            if (s->pcrSelections[i].pcrSelect[j] != 0) {
                return false;
            }
        }
    }
    return true;
}

static int sel_to_tss(const struct wd_tpm_pcr_selection *sel, TPML_PCR_SELECTION *t)
{
    memset(t, 0, sizeof(*t));
    WD_ENSURE(sel->count >= 1 && sel->count <= WD_TPM_PCR_BANKS_MAX, WD_EINVAL);
    WD_ENSURE(sel->count <= TPM2_NUM_PCR_BANKS, WD_EINVAL);
    size_t n = 0, bytes = 0;
    wd_tpm_pcr_selection_size(sel, &n, &bytes);
    WD_ENSURE(n >= 1, WD_EINVAL);
    for (uint32_t i = 0; i < sel->count; i++) {
        const struct wd_tpm_pcr_bank *b = &sel->banks[i];
        WD_ENSURE(wd_tpm_hash_size(b->hash) != 0, WD_EINVAL);
        WD_ENSURE(b->size_of_select >= WD_TPM_PCR_SELECT_MIN
                          && b->size_of_select <= WD_TPM_PCR_SELECT_MAX
                          && b->size_of_select <= TPM2_PCR_SELECT_MAX,
                  WD_EINVAL);
        for (uint32_t j = 0; j < i; j++) {
            WD_ENSURE(sel->banks[j].hash != b->hash, WD_EINVAL);
        }
        t->pcrSelections[i].hash = b->hash;
        t->pcrSelections[i].sizeofSelect = b->size_of_select;
        memcpy(t->pcrSelections[i].pcrSelect, b->select, b->size_of_select);
    }
    t->count = sel->count;
    return WD_OK;
}

/* PCR values of one read+quote attempt: vals[bank][pcr], digest of the bank's size. */
struct pcr_table {
    uint8_t vals[WD_TPM_PCR_BANKS_MAX][WD_TPM_PCR_MAX][WD_TPM_DIGEST_MAX];
};

/*
 * TPM2_PCR_Read (Part 3 §22.4) until every selected PCR is read: the TPM returns at most
 * 8 digests (TPML_DIGEST) per call and says in pcrSelectionOut which ones. *counter gets
 * the first call's pcrUpdateCounter; *moved is set when a later call saw another.
 */
static int pcr_read_all(struct wd_tpm_dev *dev, const TPML_PCR_SELECTION *want,
                        struct pcr_table *tab, uint32_t *counter, bool *moved, struct wd_diag *diag)
{
    TPML_PCR_SELECTION left = *want;
    bool first = true;
    *moved = false;
    /* Each call reads at least one PCR or fails, so this ends after at most 4 * 32 calls. */
    while (!sel_empty(&left)) {
        UINT32 ctr = 0;
        TPML_PCR_SELECTION *got = NULL;
        TPML_DIGEST *dig = NULL;
        TSS2_RC trc = Esys_PCR_Read(dev->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &left,
                                    &ctr, &got, &dig);
        if (trc != TSS2_RC_SUCCESS) {
            return tss_fail(diag, WD_EIO, "PCR_Read", trc);
        }
        if (first) {
            *counter = ctr;
            first = false;
        } else if (ctr != *counter) {
            *moved = true;
        }
        uint32_t k = 0;
        int rc = WD_OK;
        for (uint32_t i = 0; i < got->count && rc == WD_OK; i++) {
            const TPMS_PCR_SELECTION *gs = &got->pcrSelections[i];
            uint32_t bi = 0;
            while (bi < want->count && want->pcrSelections[bi].hash != gs->hash) {
                bi++;
            }
            size_t dsize = wd_tpm_hash_size(gs->hash);
            for (unsigned pcr = 0; pcr < 8u * gs->sizeofSelect && rc == WD_OK; pcr++) {
                if (pcr / 8 >= TPM2_PCR_SELECT_MAX
                    || !((gs->pcrSelect[pcr / 8] >> (pcr % 8)) & 1)) {
                    continue;
                }
                TPMS_PCR_SELECTION *ls = bi < want->count ? &left.pcrSelections[bi] : NULL;
                /* Only what was asked for and not read yet, in a digest of the bank's size. */
                if (ls == NULL || pcr >= WD_TPM_PCR_MAX
                    || !((ls->pcrSelect[pcr / 8] >> (pcr % 8)) & 1) || k >= dig->count
                    || dig->digests[k].size != dsize) {
                    rc = wd_diag_set(diag, WD_EIO, NULL, 0, 0,
                                     "TPM PCR_Read returned PCRs that were not asked for");
                    break;
                }
                memcpy(tab->vals[bi][pcr], dig->digests[k].buffer, dsize);
                ls->pcrSelect[pcr / 8] &= (uint8_t) ~(1u << (pcr % 8));
                k++;
            }
        }
        if (rc == WD_OK && (k == 0 || k != dig->count)) {
            rc = wd_diag_set(diag, WD_EIO, NULL, 0, 0,
                             k == 0 ? "TPM PCR_Read: a selected bank or PCR does not exist on "
                                      "this TPM"
                                    : "TPM PCR_Read: digest count does not match the selection");
        }
        Esys_Free(got);
        Esys_Free(dig);
        if (rc != WD_OK) {
            return rc;
        }
    }
    return WD_OK;
}

/* The values of tab in selection order, as wd_tpm_quote_verify wants them. */
static int pcr_values_out(const TPML_PCR_SELECTION *sel, const struct pcr_table *tab,
                          struct wd_buf *out)
{
    for (uint32_t i = 0; i < sel->count; i++) {
        const TPMS_PCR_SELECTION *s = &sel->pcrSelections[i];
        size_t dsize = wd_tpm_hash_size(s->hash);
        for (unsigned pcr = 0; pcr < 8u * s->sizeofSelect && pcr < WD_TPM_PCR_MAX; pcr++) {
            if ((s->pcrSelect[pcr / 8] >> (pcr % 8)) & 1) {
                WD_TRY(wd_buf_append(out, tab->vals[i][pcr], dsize));
            }
        }
    }
    return WD_OK;
}

/*
 * Whether the quote's pcrDigest is H(values) with the signature's hash (Part 3 §18.4.2):
 * that is, the PCRs did not change between the read and the quote.
 */
static int quote_matches(struct wd_slice attest, struct wd_slice sig, struct wd_slice values,
                         bool *match, struct wd_diag *diag)
{
    struct wd_tpm_attest a;
    struct wd_tpm_signature s;
    enum wd_tpm_reason why = WD_TPM_OK;
    if (wd_tpm_attest_parse(attest.p, attest.len, &a, &why) != WD_OK
        || wd_tpm_signature_parse(sig.p, sig.len, &s, &why) != WD_OK) {
        return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "TPM Quote returned a malformed quote: %s",
                           wd_tpm_reason_str(why));
    }
    const EVP_MD *md = md_of(s.hash);
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    static const uint8_t none[1];
    if (md == NULL
        || EVP_Digest(values.len > 0 ? values.p : none, values.len, d, &dlen, md, NULL) != 1) {
        return wd_diag_set(diag, WD_ETLS, NULL, 0, 0, "TPM quote: hashing the PCR values failed");
    }
    *match = a.pcr_digest.len == dlen && memcmp(a.pcr_digest.p, d, dlen) == 0;
    return WD_OK;
}

int wd_tpm_dev_quote(struct wd_tpm_dev *dev, const struct wd_tpm_pcr_selection *sel,
                     struct wd_slice nonce, struct wd_buf *attest, struct wd_buf *sig,
                     struct wd_buf *pcr_values, struct wd_diag *diag)
{
    if (dev == NULL || sel == NULL || attest == NULL || sig == NULL || pcr_values == NULL) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "TPM quote: missing argument");
    }
    if (dev->ak == ESYS_TR_NONE) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "TPM quote: no AK loaded");
    }
    if (nonce.p == NULL || nonce.len == 0 || nonce.len > WD_TPM_DEV_NONCE_MAX) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "TPM quote: nonce must be 1..%d bytes",
                           WD_TPM_DEV_NONCE_MAX);
    }
    TPML_PCR_SELECTION tsel;
    if (sel_to_tss(sel, &tsel) != WD_OK) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "TPM quote: invalid PCR selection");
    }
    TPM2B_DATA qualifying = {.size = (UINT16)nonce.len};
    memcpy(qualifying.buffer, nonce.p, nonce.len);
    /* TPM_ALG_NULL: the AK's own scheme (Part 3 §18.2.1 for restricted keys). */
    TPMT_SIG_SCHEME in_scheme = {.scheme = TPM2_ALG_NULL};
    struct pcr_table *tab = wd_calloc(1, sizeof(*tab));
    struct wd_buf b_att, b_sig, b_val;
    wd_buf_init(&b_att, sizeof(TPMS_ATTEST));
    wd_buf_init(&b_sig, sizeof(TPMT_SIGNATURE));
    wd_buf_init(&b_val, sizeof(struct pcr_table));
    TPM2B_ATTEST *quoted = NULL;
    TPMT_SIGNATURE *signature = NULL;
    int rc = WD_OK;
    if (tab == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    bool done = false;
    for (unsigned attempt = 0; attempt < WD_TPM_DEV_QUOTE_TRIES && !done; attempt++) {
        uint32_t before = 0, after = 0;
        bool moved = false;
        wd_buf_reset(&b_att);
        wd_buf_reset(&b_sig);
        wd_buf_reset(&b_val);
        Esys_Free(quoted);
        Esys_Free(signature);
        quoted = NULL;
        signature = NULL;
        WD_CHECK(pcr_read_all(dev, &tsel, tab, &before, &moved, diag));
        TSS2_RC trc = Esys_Quote(dev->esys, dev->ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                 &qualifying, &in_scheme, &tsel, &quoted, &signature);
        if (trc != TSS2_RC_SUCCESS) {
            rc = tss_fail(diag, WD_EIO, "Quote", trc);
            goto out;
        }
        /* An empty selection reads no PCR but still returns the update counter. */
        TPML_PCR_SELECTION none = {.count = 0};
        TPML_PCR_SELECTION *got = NULL;
        TPML_DIGEST *dig = NULL;
        trc = Esys_PCR_Read(dev->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &none, &after,
                            &got, &dig);
        Esys_Free(got);
        Esys_Free(dig);
        if (trc != TSS2_RC_SUCCESS) {
            rc = tss_fail(diag, WD_EIO, "PCR_Read(update counter)", trc);
            goto out;
        }
        uint8_t sig_bytes[sizeof(TPMT_SIGNATURE)];
        size_t sig_len = 0;
        trc = Tss2_MU_TPMT_SIGNATURE_Marshal(signature, sig_bytes, sizeof(sig_bytes), &sig_len);
        if (trc != TSS2_RC_SUCCESS) {
            rc = tss_fail(diag, WD_EIO, "marshalling the quote signature", trc);
            goto out;
        }
        WD_CHECK(wd_buf_append(&b_att, quoted->attestationData, quoted->size));
        WD_CHECK(wd_buf_append(&b_sig, sig_bytes, sig_len));
        WD_CHECK(pcr_values_out(&tsel, tab, &b_val));
        bool match = false;
        WD_CHECK(quote_matches(wd_buf_slice(&b_att), wd_buf_slice(&b_sig), wd_buf_slice(&b_val),
                               &match, diag));
        done = !moved && before == after && match;
    }
    if (!done) {
        rc = wd_diag_set(diag, WD_EAGAIN, NULL, 0, 0,
                         "TPM quote: the PCRs changed during each of %d attempts",
                         WD_TPM_DEV_QUOTE_TRIES);
        goto out;
    }
    /* Reserve all three first so that either all change or none does. */
    WD_CHECK(wd_buf_reserve(attest, b_att.len));
    WD_CHECK(wd_buf_reserve(sig, b_sig.len));
    WD_CHECK(wd_buf_reserve(pcr_values, b_val.len));
    rc = wd_buf_append(attest, b_att.p, b_att.len);
    WD_BUG_ON(rc != WD_OK);
    rc = wd_buf_append(sig, b_sig.p, b_sig.len);
    WD_BUG_ON(rc != WD_OK);
    rc = wd_buf_append(pcr_values, b_val.p, b_val.len);
    WD_BUG_ON(rc != WD_OK);
out:
    if (rc == WD_ENOMEM || rc == WD_ELIMIT) {
        (void)wd_diag_set(diag, rc, NULL, 0, 0, "TPM quote: %s", wd_strerror(rc));
    }
    Esys_Free(quoted);
    Esys_Free(signature);
    wd_buf_cleanup(&b_att);
    wd_buf_cleanup(&b_sig);
    wd_buf_cleanup(&b_val);
    wd_free(tab);
    return rc;
}

/* ---- PCR extend ---- */

int wd_tpm_dev_pcr_extend_sha256(struct wd_tpm_dev *dev, unsigned pcr, const uint8_t digest[32],
                                 struct wd_diag *diag)
{
    if (dev == NULL || digest == NULL || pcr >= WD_TPM_PCR_MAX) {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "TPM PCR extend: bad argument");
    }
    TPML_DIGEST_VALUES dv;
    memset(&dv, 0, sizeof(dv));
    dv.count = 1;
    dv.digests[0].hashAlg = TPM2_ALG_SHA256;
    memcpy(dv.digests[0].digest.sha256, digest, 32);
    /* Part 3 §22.2; ESYS_TR_PCR0..PCR31 are consecutive. */
    TSS2_RC trc = Esys_PCR_Extend(dev->esys, (ESYS_TR)(ESYS_TR_PCR0 + pcr), ESYS_TR_PASSWORD,
                                  ESYS_TR_NONE, ESYS_TR_NONE, &dv);
    if (trc != TSS2_RC_SUCCESS) {
        return tss_fail(diag, WD_EIO, "PCR_Extend", trc);
    }
    return WD_OK;
}
