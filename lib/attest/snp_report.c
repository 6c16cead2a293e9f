/*
 * SEV-SNP ATTESTATION_REPORT: input loading (raw or hex), the field-by-field parser, TCB
 * layouts, product lines, and the reason table. Pure: no I/O, no allocation, no clock.
 */
#include <string.h>

#include "warden/buf.h"
#include "warden/codec.h"
#include "warden/snp.h"

#include "snp_int.h"

/* ---- reasons ---- */

struct reason_entry {
    enum wd_snp_reason reason;
    int err;
    const char *name;
    const char *text;
};

static const struct reason_entry reasons[] = {
        {WD_SNP_OK, WD_OK, "ok", "verified"},
        {WD_SNP_R_REPORT_SIZE, WD_EPROTO, "report-size",
         "report is neither 1184 raw bytes nor 2368 hex digits"},
        {WD_SNP_R_VERSION, WD_EPROTO, "report-version", "report version is not supported"},
        {WD_SNP_R_SIG_ALGO, WD_EPROTO, "sig-algo",
         "report signature algorithm is not ECDSA P-384 with SHA-384"},
        {WD_SNP_R_SIGNING_KEY, WD_EPROTO, "signing-key", "report SIGNING_KEY field is invalid"},
        {WD_SNP_R_RESERVED, WD_EPROTO, "reserved", "a reserved report field is not zero"},
        {WD_SNP_R_SIG_FORMAT, WD_EPROTO, "sig-format",
         "report signature r or s is zero or wider than 384 bits"},
        {WD_SNP_R_VCEK_MALFORMED, WD_EPROTO, "vcek-malformed",
         "endorsement key certificate is not one X.509 certificate"},
        {WD_SNP_R_VCEK_TYPE, WD_EPROTO, "vcek-type",
         "certificate is neither a VCEK nor a VLEK (subject CN)"},
        {WD_SNP_R_VCEK_KEY, WD_EPROTO, "vcek-key", "certificate key is not EC P-384"},
        {WD_SNP_R_VCEK_EXTENSION, WD_EPROTO, "vcek-extension",
         "certificate AMD extension is missing or malformed"},
        {WD_SNP_R_PRODUCT_UNKNOWN, WD_EPROTO, "product-unknown",
         "certificate names no known product line (Milan, Genoa, Turin)"},
        {WD_SNP_R_CHAIN_MALFORMED, WD_EPROTO, "chain-malformed",
         "extra chain is not a list of certificates"},
        {WD_SNP_R_UNSIGNED, WD_EDENIED, "unsigned", "report is not signed (SIGNING_KEY none)"},
        {WD_SNP_R_SIGNER_MISMATCH, WD_EDENIED, "signer-mismatch",
         "report SIGNING_KEY does not match the certificate type"},
        {WD_SNP_R_PRODUCT_MISMATCH, WD_EDENIED, "product-mismatch",
         "certificate is for another product line"},
        {WD_SNP_R_NO_ISSUER, WD_EDENIED, "no-issuer",
         "certificate issuer is not an AMD signing key of its product line"},
        {WD_SNP_R_ROOT_INVALID, WD_ECRYPTO, "root-invalid", "pinned AMD root is invalid"},
        {WD_SNP_R_ASK_SIGNATURE, WD_ECRYPTO, "ask-signature",
         "intermediate (ASK/ASVK) is not signed by the AMD root"},
        {WD_SNP_R_VCEK_SIGNATURE, WD_ECRYPTO, "vcek-signature",
         "VCEK/VLEK certificate signature does not verify with its issuer"},
        {WD_SNP_R_CERT_EXPIRED, WD_EEXPIRED, "cert-expired", "a chain certificate has expired"},
        {WD_SNP_R_CERT_NOT_YET_VALID, WD_EEXPIRED, "cert-not-yet-valid",
         "a chain certificate is not yet valid"},
        {WD_SNP_R_REPORT_SIGNATURE, WD_ECRYPTO, "report-signature",
         "report signature does not verify with the certificate's key"},
        {WD_SNP_R_TCB_MISMATCH, WD_EDENIED, "tcb-mismatch",
         "REPORTED_TCB differs from the certificate's TCB"},
        {WD_SNP_R_CHIP_ID_MISMATCH, WD_EDENIED, "chip-id-mismatch",
         "CHIP_ID differs from the certificate's hwID"},
        {WD_SNP_R_DEBUG, WD_EDENIED, "debug", "guest policy allows debugging"},
        {WD_SNP_R_MIGRATE_MA, WD_EDENIED, "migrate-ma", "guest policy allows a migration agent"},
        {WD_SNP_R_MEASUREMENT, WD_EDENIED, "measurement", "measurement is not in the allow-list"},
        {WD_SNP_R_TCB_TOO_LOW, WD_EDENIED, "tcb-too-low", "reported TCB is below the minimum"},
        {WD_SNP_R_REPORT_DATA, WD_EDENIED, "report-data",
         "report data does not match the expected value"},
        {WD_SNP_R_VMPL, WD_EDENIED, "vmpl", "VMPL is not the required one"},
        {WD_SNP_R_GUEST_SVN, WD_EDENIED, "guest-svn", "guest SVN is below the minimum"},
        {WD_SNP_R_VLEK_NOT_ALLOWED, WD_EDENIED, "vlek-not-allowed",
         "report is signed with a VLEK and the policy requires a VCEK"},
        {WD_SNP_R_INTERNAL, WD_ETLS, "internal", "verification could not run"},
};

static const struct reason_entry *reason_find(enum wd_snp_reason r)
{
    for (size_t i = 0; i < WD_ARRAY_LEN(reasons); i++) {
        if (reasons[i].reason == r) {
            return &reasons[i];
        }
    }
    return NULL;
}

const char *wd_snp_reason_str(enum wd_snp_reason r)
{
    const struct reason_entry *e = reason_find(r);
    return e != NULL ? e->text : "unknown reason";
}

const char *wd_snp_reason_name(enum wd_snp_reason r)
{
    const struct reason_entry *e = reason_find(r);
    return e != NULL ? e->name : "unknown";
}

int wd_snp_reason_err(enum wd_snp_reason r)
{
    const struct reason_entry *e = reason_find(r);
    return e != NULL ? e->err : WD_EINVAL;
}

static int fail(enum wd_snp_reason *why, enum wd_snp_reason r)
{
    if (why != NULL) {
        *why = r;
    }
    return wd_snp_reason_err(r);
}

/* ---- products, signers, TCBs ---- */

const char *wd_snp_product_name(enum wd_snp_product p)
{
    switch (p) {
    case WD_SNP_MILAN:
        return "Milan";
    case WD_SNP_GENOA:
        return "Genoa";
    case WD_SNP_TURIN:
        return "Turin";
    case WD_SNP_PRODUCT_UNKNOWN:
        break;
    }
    return "unknown";
}

enum wd_snp_product wd_snp_product_from_cpuid(uint8_t family, uint8_t model)
{
    /* The (extended) family and model AMD reports for each EPYC generation. */
    if (family == 0x19) {
        if (model <= 0x0F) {
            return WD_SNP_MILAN;
        }
        if ((model >= 0x10 && model <= 0x1F) || (model >= 0xA0 && model <= 0xAF)) {
            return WD_SNP_GENOA;
        }
    } else if (family == 0x1A && model <= 0x1F) {
        return WD_SNP_TURIN;
    }
    return WD_SNP_PRODUCT_UNKNOWN;
}

const char *wd_snp_signer_name(enum wd_snp_signer s)
{
    switch (s) {
    case WD_SNP_SIGNER_VCEK:
        return "VCEK";
    case WD_SNP_SIGNER_VLEK:
        return "VLEK";
    case WD_SNP_SIGNER_NONE:
        return "none";
    }
    return "invalid";
}

void wd_snp_tcb_decode(uint64_t raw, enum wd_snp_product p, struct wd_snp_tcb *out)
{
    uint8_t b[8];
    for (size_t i = 0; i < 8; i++) {
        b[i] = (uint8_t)(raw >> (8 * i));
    }
    memset(out, 0, sizeof(*out));
    out->raw = raw;
    if (p == WD_SNP_TURIN) {
        /* [ABI] §2.2, Turin: FMC, BOOT_LOADER, TEE, SNP, reserved[3], MICROCODE. */
        out->fmc = b[0];
        out->bootloader = b[1];
        out->tee = b[2];
        out->snp = b[3];
    } else {
        /* [ABI] §2.2, Milan/Genoa: BOOT_LOADER, TEE, reserved[4], SNP, MICROCODE. */
        out->bootloader = b[0];
        out->tee = b[1];
        out->snp = b[6];
    }
    out->microcode = b[7];
}

uint64_t wd_snp_tcb_encode(const struct wd_snp_tcb *t, enum wd_snp_product p)
{
    uint64_t raw;
    if (p == WD_SNP_TURIN) {
        raw = (uint64_t)t->fmc | (uint64_t)t->bootloader << 8 | (uint64_t)t->tee << 16
              | (uint64_t)t->snp << 24;
    } else {
        raw = (uint64_t)t->bootloader | (uint64_t)t->tee << 8 | (uint64_t)t->snp << 48;
    }
    return raw | (uint64_t)t->microcode << 56;
}

void wd_snp_report_set_product(struct wd_snp_report *r, enum wd_snp_product p)
{
    r->product = p;
    wd_snp_tcb_decode(r->current_tcb.raw, p, &r->current_tcb);
    wd_snp_tcb_decode(r->reported_tcb.raw, p, &r->reported_tcb);
    wd_snp_tcb_decode(r->committed_tcb.raw, p, &r->committed_tcb);
    wd_snp_tcb_decode(r->launch_tcb.raw, p, &r->launch_tcb);
}

void wd_snp_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0x0F];
    }
    out[2 * n] = '\0';
}

void wd_snp_policy_init(struct wd_snp_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->allow_vlek = true;
    p->vmpl = -1;
    p->product = WD_SNP_PRODUCT_UNKNOWN;
}

/* ---- loading ---- */

_Static_assert(WD_SNP_REPORT_HEX_SIZE == 2 * WD_SNP_REPORT_SIZE, "two hex digits per byte");

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int wd_snp_report_load(const uint8_t *p, size_t n, uint8_t out[WD_SNP_REPORT_SIZE],
                       enum wd_snp_reason *why)
{
    if (p == NULL && n > 0) {
        return WD_EINVAL;
    }
    /* Exactly the report's size is raw; hex text of it is twice as long, so never equal. */
    if (n == WD_SNP_REPORT_SIZE) {
        memcpy(out, p, WD_SNP_REPORT_SIZE);
        return WD_OK;
    }
    if (n < WD_SNP_REPORT_HEX_SIZE || n > WD_SNP_INPUT_MAX) {
        return fail(why, WD_SNP_R_REPORT_SIZE);
    }
    /* First pass: only hex digits and whitespace, and exactly 2368 digits. */
    size_t digits = 0;
    for (size_t i = 0; i < n; i++) {
        if (wd_hex_digit_value(p[i]) >= 0) {
            digits++;
        } else if (!is_space(p[i])) {
            return fail(why, WD_SNP_R_REPORT_SIZE);
        }
    }
    if (digits != WD_SNP_REPORT_HEX_SIZE) {
        return fail(why, WD_SNP_R_REPORT_SIZE);
    }
    size_t k = 0;
    int hi = -1;
    for (size_t i = 0; i < n; i++) {
        int v = wd_hex_digit_value(p[i]);
        if (v < 0) {
            continue;
        }
        if (hi < 0) {
            hi = v;
        } else {
            out[k++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    WD_BUG_ON(k != WD_SNP_REPORT_SIZE);
    return WD_OK;
}

/* ---- parsing ---- */

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

/* An ECDSA P-384 component as [ABI] Table 141 stores it: 72 bytes little-endian. */
static int sig_component(const uint8_t *le, uint8_t be[48])
{
    /* The value is below the group order, so bytes 48..71 are zero, and it is not zero. */
    if (!all_zero(le + 48, 24) || all_zero(le, 48)) {
        return -1;
    }
    for (size_t i = 0; i < 48; i++) {
        be[i] = le[47 - i];
    }
    return 0;
}

/*
 * Read the fields in offset order through the bounds-checked reader; the reader cannot run
 * short (the buffer is exactly WD_SNP_REPORT_SIZE bytes), so its errors are bugs.
 */
#define RD(call) WD_BUG_ON((call) != WD_OK)

int wd_snp_report_parse_raw(const uint8_t raw[WD_SNP_REPORT_SIZE], struct wd_snp_report *out,
                            enum wd_snp_reason *why)
{
    struct wd_rd r;
    uint32_t key_info, u32;
    memset(out, 0, sizeof(*out));
    wd_rd_init(&r, raw, WD_SNP_REPORT_SIZE);

    RD(wd_rd_u32le(&r, &out->version)); /* 0x000 */
    /* Versions 0 and 1 predate the fields below; later ones are not known yet. */
    if (out->version < WD_SNP_VERSION_MIN || out->version > WD_SNP_VERSION_MAX) {
        return fail(why, WD_SNP_R_VERSION);
    }
    RD(wd_rd_u32le(&r, &out->guest_svn));                               /* 0x004 */
    RD(wd_rd_u64le(&r, &out->policy));                                  /* 0x008 */
    RD(wd_rd_copy(&r, out->family_id, sizeof(out->family_id)));         /* 0x010 */
    RD(wd_rd_copy(&r, out->image_id, sizeof(out->image_id)));           /* 0x020 */
    RD(wd_rd_u32le(&r, &out->vmpl));                                    /* 0x030 */
    RD(wd_rd_u32le(&r, &out->sig_algo));                                /* 0x034 */
    RD(wd_rd_u64le(&r, &out->current_tcb.raw));                         /* 0x038 */
    RD(wd_rd_u64le(&r, &out->platform_info));                           /* 0x040 */
    RD(wd_rd_u32le(&r, &key_info));                                     /* 0x048 */
    RD(wd_rd_u32le(&r, &u32));                                          /* 0x04C: reserved */
    RD(wd_rd_copy(&r, out->report_data, sizeof(out->report_data)));     /* 0x050 */
    RD(wd_rd_copy(&r, out->measurement, sizeof(out->measurement)));     /* 0x090 */
    RD(wd_rd_copy(&r, out->host_data, sizeof(out->host_data)));         /* 0x0C0 */
    RD(wd_rd_copy(&r, out->id_key_digest, sizeof(out->id_key_digest))); /* 0x0E0 */
    RD(wd_rd_copy(&r, out->author_key_digest, sizeof(out->author_key_digest))); /* 0x110 */
    RD(wd_rd_copy(&r, out->report_id, sizeof(out->report_id)));                 /* 0x140 */
    RD(wd_rd_copy(&r, out->report_id_ma, sizeof(out->report_id_ma)));           /* 0x160 */
    RD(wd_rd_u64le(&r, &out->reported_tcb.raw));                                /* 0x180 */
    WD_BUG_ON(r.off != 0x188);
    /* 0x188: CPUID_FAM_ID, CPUID_MOD_ID, CPUID_STEP from version 3 on, then reserved. */
    size_t reserved_from = 0x188;
    if (out->version >= 3) {
        out->has_cpuid = true;
        out->cpuid_fam_id = raw[0x188];
        out->cpuid_mod_id = raw[0x189];
        out->cpuid_step = raw[0x18A];
        reserved_from = 0x18B;
    }
    const uint8_t *rsv1 = raw + reserved_from;
    size_t rsv1_len = 0x1A0 - reserved_from;
    RD(wd_rd_skip(&r, 0x1A0 - 0x188));
    RD(wd_rd_copy(&r, out->chip_id, sizeof(out->chip_id))); /* 0x1A0 */
    RD(wd_rd_u64le(&r, &out->committed_tcb.raw));           /* 0x1E0 */
    RD(wd_rd_u8(&r, &out->current_build));                  /* 0x1E8 */
    RD(wd_rd_u8(&r, &out->current_minor));                  /* 0x1E9 */
    RD(wd_rd_u8(&r, &out->current_major));                  /* 0x1EA */
    RD(wd_rd_skip(&r, 1));                                  /* 0x1EB: reserved */
    RD(wd_rd_u8(&r, &out->committed_build));                /* 0x1EC */
    RD(wd_rd_u8(&r, &out->committed_minor));                /* 0x1ED */
    RD(wd_rd_u8(&r, &out->committed_major));                /* 0x1EE */
    RD(wd_rd_skip(&r, 1));                                  /* 0x1EF: reserved */
    RD(wd_rd_u64le(&r, &out->launch_tcb.raw));              /* 0x1F0 */
    WD_BUG_ON(r.off != 0x1F8);
    /*
     * 0x1F8: LAUNCH_MIT_VECTOR and 0x200: CURRENT_MIT_VECTOR from version 5 on, then
     * reserved to 0x29F. Version 4 is known only by number: its bytes from 0x1F8 to 0x207
     * are taken as they are (the signature covers them), the rest must be zero.
     */
    size_t tail_from = 0x1F8;
    if (out->version >= 5) {
        out->has_mit_vectors = true;
        RD(wd_rd_u64le(&r, &out->launch_mit_vector));
        RD(wd_rd_u64le(&r, &out->current_mit_vector));
        tail_from = 0x208;
    } else if (out->version == 4) {
        tail_from = 0x208;
    }
    RD(wd_rd_skip(&r, WD_SNP_SIGNED_SIZE - r.off));
    WD_BUG_ON(r.off != WD_SNP_SIGNED_SIZE);
    /* 0x2A0: SIGNATURE ([ABI] Table 141): R (72 bytes), S (72 bytes), reserved to 0x49F. */
    const uint8_t *sig = raw + WD_SNP_SIGNED_SIZE;

    if (out->sig_algo != WD_SNP_SIG_ALGO_ECDSA_P384_SHA384) {
        return fail(why, WD_SNP_R_SIG_ALGO);
    }
    /* 0x048: bit 0 AUTHOR_KEY_EN, bit 1 MASK_CHIP_KEY, bits 4:2 SIGNING_KEY, 31:5 reserved. */
    out->author_key_en = (key_info & 1u) != 0;
    out->mask_chip_key = (key_info & 2u) != 0;
    uint32_t signing_key = (key_info >> 2) & 7u;
    if (signing_key != WD_SNP_SIGNER_VCEK && signing_key != WD_SNP_SIGNER_VLEK
        && signing_key != WD_SNP_SIGNER_NONE) {
        return fail(why, WD_SNP_R_SIGNING_KEY);
    }
    out->signing_key = (enum wd_snp_signer)signing_key;
    if ((key_info >> 5) != 0 || u32 != 0 || !all_zero(rsv1, rsv1_len) || raw[0x1EB] != 0
        || raw[0x1EF] != 0 || !all_zero(raw + tail_from, WD_SNP_SIGNED_SIZE - tail_from)
        || !all_zero(sig + 144, WD_SNP_REPORT_SIZE - WD_SNP_SIGNED_SIZE - 144)) {
        return fail(why, WD_SNP_R_RESERVED);
    }
    if (sig_component(sig, out->sig_r) != 0 || sig_component(sig + 72, out->sig_s) != 0) {
        return fail(why, WD_SNP_R_SIG_FORMAT);
    }

    enum wd_snp_product p = WD_SNP_PRODUCT_UNKNOWN;
    if (out->has_cpuid) {
        p = wd_snp_product_from_cpuid(out->cpuid_fam_id, out->cpuid_mod_id);
    }
    wd_snp_report_set_product(out, p);
    if (why != NULL) {
        *why = WD_SNP_OK;
    }
    return WD_OK;
}

int wd_snp_report_parse(const uint8_t *p, size_t n, struct wd_snp_report *out,
                        enum wd_snp_reason *why)
{
    uint8_t raw[WD_SNP_REPORT_SIZE];
    if (out == NULL) {
        return WD_EINVAL;
    }
    WD_TRY(wd_snp_report_load(p, n, raw, why));
    return wd_snp_report_parse_raw(raw, out, why);
}
