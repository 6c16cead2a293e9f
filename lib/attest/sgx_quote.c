/*
 * SGX DCAP ECDSA quote, version 3: a strict, pure parser. Layout from the Intel SGX ECDSA
 * Quote Library API, appendix A.4 ([QL]); every multi-byte integer is little-endian and every
 * read goes through the bounds-checked wd_rd reader.
 *
 *   sgx_quote_3_t           header (48) | ISV report body (384) | u32 signature_data_len |
 *                           signature_data[signature_data_len]
 *   sgx_ql_ecdsa_sig_data_t sig (64) | attest_pub_key (64) | qe_report (384) |
 *                           qe_report_sig (64) | auth_certification_data[]
 *   auth data               sgx_ql_auth_data_t: u16 size | data[size]
 *   certification data      sgx_ql_certification_data_t: u16 type | u32 size | data[size]
 */
#include <string.h>

#include "warden/sgx.h"

#include "sgx_int.h"

/* [QL] A.4 "QE Vendor ID": the Intel SGX QE, 939A7233-F79C-4CA9-940A-0DB3957F0607. */
const uint8_t wd_sgx_intel_qe_vendor[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                            0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

/* [QL] A.4 header values this parser accepts, and the TDX ones it recognises to refuse. */
#define SGX_QUOTE_VERSION       3
#define SGX_ATT_KEY_ECDSA_P256  2
#define SGX_TEE_TYPE_SGX        0x00000000u
#define SGX_TEE_TYPE_TDX        0x00000081u
#define SGX_CERT_TYPE_PCK_CHAIN 5
#define SGX_SIG_ECDSA_LEN       64
#define SGX_ATT_KEY_LEN         64

static int bad(enum wd_sgx_reason r, enum wd_sgx_reason *why)
{
    if (why != NULL) {
        *why = r;
    }
    return r == WD_SGX_TOO_LARGE ? WD_ELIMIT : WD_EPROTO;
}

/* A short read inside the quote is always "truncated". */
#define NEED(expr)                             \
    do {                                       \
        if ((expr) < 0) {                      \
            return bad(WD_SGX_TRUNCATED, why); \
        }                                      \
    } while (0)

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/*
 * sgx_report_body_t (SDM Vol. 3D §38.15 REPORT, [QL] A.4 "Enclave Report Body"): 384 bytes
 * at the given offsets; reserved bytes are not interpreted (they are covered by the
 * signatures either way).
 */
static void report_body(const uint8_t *p, struct wd_sgx_report_body *b)
{
    memcpy(b->cpu_svn, p + 0, 16);
    b->misc_select = le32(p + 16);
    memcpy(b->isv_ext_prod_id, p + 32, 16);
    b->attr_flags = le64(p + 48);
    b->attr_xfrm = le64(p + 56);
    memcpy(b->attributes, p + 48, 16);
    memcpy(b->mr_enclave, p + 64, 32);
    memcpy(b->mr_signer, p + 128, 32);
    memcpy(b->config_id, p + 192, 64);
    b->isv_prod_id = le16(p + 256);
    b->isv_svn = le16(p + 258);
    b->config_svn = le16(p + 260);
    memcpy(b->isv_family_id, p + 304, 16);
    memcpy(b->report_data, p + 320, 64);
    b->raw.p = p;
    b->raw.len = WD_SGX_REPORT_BODY_LEN;
}

int wd_sgx_quote_parse(const uint8_t *p, size_t len, struct wd_sgx_quote *out,
                       enum wd_sgx_reason *why)
{
    WD_ENSURE(out != NULL && (p != NULL || len == 0), WD_EINVAL);
    memset(out, 0, sizeof(*out));
    if (len > WD_SGX_QUOTE_MAX) {
        return bad(WD_SGX_TOO_LARGE, why);
    }
    struct wd_rd r;
    wd_rd_init(&r, p, len);

    /* [QL] A.4 Quote Header: version, att_key_type, tee_type (v3: reserved, 0 for SGX),
     * qe_svn, pce_svn, qe_vendor_id[16], user_data[20]. */
    struct wd_slice hdr;
    NEED(wd_rd_bytes(&r, WD_SGX_HEADER_LEN, &hdr));
    out->header = hdr;
    out->version = le16(hdr.p + 0);
    out->att_key_type = le16(hdr.p + 2);
    out->tee_type = le32(hdr.p + 4);
    out->qe_svn = le16(hdr.p + 8);
    out->pce_svn = le16(hdr.p + 10);
    memcpy(out->qe_vendor_id, hdr.p + 12, 16);
    memcpy(out->user_data, hdr.p + 28, 20);

    /* Intel TDX DCAP Quote Generation Library, quote v4 / v5 header: tee_type 0x81 is a TD.
     * Recognised only to be refused by name: warden does not verify TDX evidence. */
    if ((out->version == 4 || out->version == 5) && out->tee_type == SGX_TEE_TYPE_TDX) {
        return bad(WD_SGX_TDX_QUOTE, why);
    }
    if (out->version != SGX_QUOTE_VERSION) {
        return bad(WD_SGX_UNSUPPORTED_VERSION, why);
    }
    if (out->tee_type != SGX_TEE_TYPE_SGX) {
        return bad(WD_SGX_UNSUPPORTED_TEE_TYPE, why);
    }
    /* [QL] A.4: 2 = ECDSA-256-with-P-256; 3 (P-384) is defined but never produced. */
    if (out->att_key_type != SGX_ATT_KEY_ECDSA_P256) {
        return bad(WD_SGX_UNSUPPORTED_KEY_TYPE, why);
    }
    if (memcmp(out->qe_vendor_id, wd_sgx_intel_qe_vendor, 16) != 0) {
        return bad(WD_SGX_UNKNOWN_QE_VENDOR, why);
    }

    struct wd_slice body;
    NEED(wd_rd_bytes(&r, WD_SGX_REPORT_BODY_LEN, &body));
    report_body(body.p, &out->isv);
    out->signed_data.p = p;
    out->signed_data.len = WD_SGX_HEADER_LEN + WD_SGX_REPORT_BODY_LEN;

    /* [QL] A.4 "Quote Signature Data Len": the rest of the quote, exactly. */
    uint32_t sig_len;
    NEED(wd_rd_u32le(&r, &sig_len));
    out->sig_data_len = sig_len;
    if (wd_rd_left(&r) < sig_len) {
        return bad(WD_SGX_TRUNCATED, why);
    }
    if (wd_rd_left(&r) > sig_len) {
        return bad(WD_SGX_TRAILING_BYTES, why);
    }

    /* [QL] A.4 sgx_ql_ecdsa_sig_data_t. */
    struct wd_slice qe;
    uint16_t auth_len, cert_type;
    uint32_t cert_len;
    NEED(wd_rd_copy(&r, out->isv_signature, SGX_SIG_ECDSA_LEN));
    NEED(wd_rd_copy(&r, out->att_key, SGX_ATT_KEY_LEN));
    NEED(wd_rd_bytes(&r, WD_SGX_REPORT_BODY_LEN, &qe));
    report_body(qe.p, &out->qe);
    NEED(wd_rd_copy(&r, out->qe_signature, SGX_SIG_ECDSA_LEN));
    /* sgx_ql_auth_data_t: u16 size, then the data the QE hashed with the attestation key. */
    NEED(wd_rd_u16le(&r, &auth_len));
    NEED(wd_rd_bytes(&r, auth_len, &out->qe_auth_data));
    /* sgx_ql_certification_data_t: u16 cert_key_type, u32 size, data. */
    NEED(wd_rd_u16le(&r, &cert_type));
    NEED(wd_rd_u32le(&r, &cert_len));
    NEED(wd_rd_bytes(&r, cert_len, &out->cert_data));
    out->cert_type = cert_type;
    if (wd_rd_left(&r) != 0) {
        return bad(WD_SGX_TRAILING_BYTES, why);
    }
    /* [QL] A.4 "Certification Data Type": 1-3 PPID variants, 4 PCK leaf only, 5 the PCK
     * chain (leaf, CA, root) as PEM, 6 the QE report certification data (v4 quotes). Only
     * 5 carries what an offline verifier needs. */
    if (cert_type != SGX_CERT_TYPE_PCK_CHAIN) {
        return bad(WD_SGX_UNSUPPORTED_CERT_TYPE, why);
    }
    if (why != NULL) {
        *why = WD_SGX_OK;
    }
    return WD_OK;
}

/* Intel TDX DCAP: "TD Quote Body" (v4) / body descriptor + body (v5, types 2 and 3). */
#define TDX_BODY_10_LEN 584
#define TDX_BODY_15_LEN 648

int wd_tdx_quote_parse(const uint8_t *p, size_t len, struct wd_tdx_quote *out,
                       enum wd_sgx_reason *why)
{
    WD_ENSURE(out != NULL && (p != NULL || len == 0), WD_EINVAL);
    memset(out, 0, sizeof(*out));
    if (len > WD_SGX_QUOTE_MAX) {
        return bad(WD_SGX_TOO_LARGE, why);
    }
    struct wd_rd r;
    struct wd_slice hdr, body;
    wd_rd_init(&r, p, len);
    NEED(wd_rd_bytes(&r, WD_SGX_HEADER_LEN, &hdr));
    out->version = le16(hdr.p);
    if (out->version != 4 && out->version != 5) {
        return bad(WD_SGX_UNSUPPORTED_VERSION, why);
    }
    if (le32(hdr.p + 4) != SGX_TEE_TYPE_TDX) {
        return bad(WD_SGX_UNSUPPORTED_TEE_TYPE, why);
    }
    if (le16(hdr.p + 2) != SGX_ATT_KEY_ECDSA_P256) {
        return bad(WD_SGX_UNSUPPORTED_KEY_TYPE, why);
    }
    if (memcmp(hdr.p + 12, wd_sgx_intel_qe_vendor, 16) != 0) {
        return bad(WD_SGX_UNKNOWN_QE_VENDOR, why);
    }
    size_t body_len = TDX_BODY_10_LEN;
    out->body_type = 2;
    if (out->version == 5) {
        /* v5 body descriptor: u16 type (1 SGX, 2 TD 1.0, 3 TD 1.5), u32 size. */
        uint16_t type;
        uint32_t size;
        NEED(wd_rd_u16le(&r, &type));
        NEED(wd_rd_u32le(&r, &size));
        if ((type != 2 || size != TDX_BODY_10_LEN) && (type != 3 || size != TDX_BODY_15_LEN)) {
            return bad(WD_SGX_UNSUPPORTED_TEE_TYPE, why);
        }
        out->body_type = type;
        body_len = size;
    }
    NEED(wd_rd_bytes(&r, body_len, &body));
    const uint8_t *b = body.p;
    memcpy(out->tee_tcb_svn, b + 0, 16);
    memcpy(out->mr_seam, b + 16, 48);
    memcpy(out->mr_signer_seam, b + 64, 48);
    out->seam_attributes = le64(b + 112);
    out->td_attributes = le64(b + 120);
    out->xfam = le64(b + 128);
    memcpy(out->mr_td, b + 136, 48);
    memcpy(out->mr_config_id, b + 184, 48);
    memcpy(out->mr_owner, b + 232, 48);
    memcpy(out->mr_owner_config, b + 280, 48);
    for (size_t i = 0; i < 4; i++) {
        memcpy(out->rtmr[i], b + 328 + 48 * i, 48);
    }
    memcpy(out->report_data, b + 520, 64);
    if (body_len == TDX_BODY_15_LEN) {
        memcpy(out->tee_tcb_svn2, b + 584, 16);
        memcpy(out->mr_servicetd, b + 600, 48);
    }
    out->debug = (out->td_attributes & 1) != 0; /* TDATTRIBUTES.TUD.DEBUG */
    uint32_t sig_len;
    NEED(wd_rd_u32le(&r, &sig_len));
    if (wd_rd_left(&r) < sig_len) {
        return bad(WD_SGX_TRUNCATED, why);
    }
    if (wd_rd_left(&r) > sig_len) {
        return bad(WD_SGX_TRAILING_BYTES, why);
    }
    NEED(wd_rd_bytes(&r, sig_len, &out->sig_data));
    if (why != NULL) {
        *why = WD_SGX_OK;
    }
    return WD_OK;
}
