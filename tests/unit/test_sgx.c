/*
 * SGX DCAP quotes: the parser (every field of the public vectors, truncation at every offset,
 * trailing bytes, each header rule, TDX quotes refused by name), verification of the public
 * vectors against the pinned Intel root at pinned times (trustee's Occlum quote; Enarx
 * steward's two Ice Lake quotes carried in CSRs together with CRLs, the TCB Signing chain and
 * TCB info), one flipped bit per structure with its own reason, the collateral checks, and a
 * synthetic chain (test root, PCK CA, PCK leaf with an SGX extension, TCB Signing key) through
 * the internal entry point, which reaches the binding, identity, TCB-level, CRL and policy
 * branches independently of Intel's keys. Allocation failures are swept.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/clock.h"
#include "warden/file.h"
#include "warden/pki.h"
#include "warden/sgx.h"

#include "attest/sgx_int.h"
#include "harness.h"

#define DATA "tests/data/sgx/"

/* Pinned times (Unix seconds, UTC). */
#define T_STEWARD 1675209600 /* 2023-02-01: steward CRLs and TCB info current */
#define T_OCCLUM  1748736000 /* 2025-06-01: the Occlum PCK certificate valid */
#define T_SIGNER  1746057600 /* 2025-05-01: the TCB Signing certificate still valid */
#define T_SYNTH   1767225600 /* 2026-01-01: the synthetic chain's "now" */
#define DAY       86400

static const char occlum_mrenclave[] =
        "8f173e4613ff05c52aaf04162d234edae8c9977eae47eb2299ae16a553011c68";
static const char occlum_mrsigner[] =
        "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e";
static const char intel_qe_mrsigner[] =
        "8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff";

static bool has(const char *msg, const char *needle)
{
    if (strstr(msg, needle) == NULL) {
        printf("  message \"%s\" lacks \"%s\"\n", msg, needle);
        return false;
    }
    return true;
}

static int load(const char *name, struct wd_buf *b)
{
    char path[256];
    (void)snprintf(path, sizeof(path), DATA "%s", name);
    wd_buf_init(b, 1u << 20);
    if (wd_file_read(path, 1u << 20, b, NULL) < 0) {
        printf("  cannot read %s\n", path);
        wd_buf_cleanup(b);
        return -1;
    }
    return 0;
}

static void unhex(const char *s, uint8_t *out)
{
    size_t n = strlen(s) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        (void)sscanf(s + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

/* ---- DER walking (test side) ---- */

/* Read one TLV at *p (< end); returns 0 and advances, or -1. */
static int tlv(const uint8_t **p, const uint8_t *end, uint8_t *tag, struct wd_slice *val)
{
    const uint8_t *q = *p;
    if (end - q < 2) {
        return -1;
    }
    *tag = *q++;
    size_t len = *q++;
    if (len & 0x80) {
        size_t k = len & 0x7f;
        if (k == 0 || k > 3 || (size_t)(end - q) < k) {
            return -1;
        }
        len = 0;
        while (k--) {
            len = len << 8 | *q++;
        }
    }
    if ((size_t)(end - q) < len) {
        return -1;
    }
    val->p = q;
    val->len = len;
    *p = q + len;
    return 0;
}

/*
 * Enarx steward's SGX evidence extension (OID 1.3.6.1.4.1.58270.1.2) of a CSR:
 *   SEQUENCE { quote OCTET STRING,
 *              SEQUENCE { SEQUENCE OF SEQUENCE { url UTF8String, crl CertificateList } },
 *              SEQUENCE { SEQUENCE OF Certificate (TCB Signing, root), tcbInfo OCTET STRING } }
 */
struct steward {
    uint8_t *ext;
    size_t ext_len;
    struct wd_slice quote;
    struct wd_slice crls[4];
    size_t n_crls;
    struct wd_slice signer; /* DER of the TCB Signing certificate */
    struct wd_slice root;   /* DER of the root, as carried */
    struct wd_slice tcb_info;
};

static void steward_free(struct steward *s)
{
    wd_free(s->ext);
    memset(s, 0, sizeof(*s));
}

static int steward_load(const char *name, struct steward *s)
{
    memset(s, 0, sizeof(*s));
    struct wd_buf b;
    if (load(name, &b) < 0) {
        return -1;
    }
    const unsigned char *q = b.p;
    X509_REQ *req = d2i_X509_REQ(NULL, &q, (long)b.len);
    wd_buf_cleanup(&b);
    if (req == NULL) {
        return -1;
    }
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.58270.1.2", 1);
    int rc = -1;
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
        if (OBJ_cmp(X509_EXTENSION_get_object(e), oid) == 0) {
            const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(e);
            s->ext_len = (size_t)ASN1_STRING_length(v);
            s->ext = wd_malloc(s->ext_len);
            if (s->ext != NULL) {
                memcpy(s->ext, ASN1_STRING_get0_data(v), s->ext_len);
                rc = 0;
            }
        }
    }
    ASN1_OBJECT_free(oid);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
    if (rc < 0) {
        return -1;
    }
    const uint8_t *p = s->ext, *end = s->ext + s->ext_len;
    uint8_t tag;
    struct wd_slice top, crlseq, crllist, tcb, certs, v;
    if (tlv(&p, end, &tag, &top) < 0 || tag != 0x30) {
        return -1;
    }
    p = top.p;
    end = top.p + top.len;
    if (tlv(&p, end, &tag, &s->quote) < 0 || tag != 0x04 || tlv(&p, end, &tag, &crlseq) < 0
        || tlv(&p, end, &tag, &tcb) < 0) {
        return -1;
    }
    const uint8_t *cp = crlseq.p;
    if (tlv(&cp, crlseq.p + crlseq.len, &tag, &crllist) < 0) {
        return -1;
    }
    for (cp = crllist.p; cp < crllist.p + crllist.len && s->n_crls < 4;) {
        struct wd_slice entry, url;
        if (tlv(&cp, crllist.p + crllist.len, &tag, &entry) < 0) {
            return -1;
        }
        const uint8_t *ep = entry.p, *crl_start;
        if (tlv(&ep, entry.p + entry.len, &tag, &url) < 0) {
            return -1;
        }
        crl_start = ep;
        if (tlv(&ep, entry.p + entry.len, &tag, &v) < 0) {
            return -1;
        }
        s->crls[s->n_crls].p = crl_start;
        s->crls[s->n_crls].len = (size_t)(ep - crl_start);
        s->n_crls++;
    }
    const uint8_t *tp = tcb.p;
    if (tlv(&tp, tcb.p + tcb.len, &tag, &certs) < 0
        || tlv(&tp, tcb.p + tcb.len, &tag, &s->tcb_info) < 0 || tag != 0x04) {
        return -1;
    }
    const uint8_t *xp = certs.p, *start = xp;
    if (tlv(&xp, certs.p + certs.len, &tag, &v) < 0) {
        return -1;
    }
    s->signer.p = start;
    s->signer.len = (size_t)(xp - start);
    start = xp;
    if (tlv(&xp, certs.p + certs.len, &tag, &v) < 0) {
        return -1;
    }
    s->root.p = start;
    s->root.len = (size_t)(xp - start);
    return 0;
}

static struct wd_sgx_collateral steward_coll(const struct steward *s)
{
    struct wd_sgx_collateral c = {
            .tcb_info = s->tcb_info,
            .signing_chain = s->signer,
            .crls = s->crls,
            .n_crls = s->n_crls,
    };
    return c;
}

/* A quote with its certification data replaced (lengths updated); out initialised here. */
static int quote_with_certs(const uint8_t *q, size_t n, const void *certs, size_t clen,
                            struct wd_buf *out)
{
    struct wd_sgx_quote pq;
    wd_buf_init(out, 1u << 20);
    if (wd_sgx_quote_parse(q, n, &pq, NULL) < 0) {
        return -1;
    }
    size_t head = (size_t)(pq.cert_data.p - q) - 6; /* up to the u16 type, u32 size */
    uint32_t sig_len = (uint32_t)(pq.sig_data_len - pq.cert_data.len + clen);
    uint8_t le[4] = {(uint8_t)sig_len, (uint8_t)(sig_len >> 8), (uint8_t)(sig_len >> 16),
                     (uint8_t)(sig_len >> 24)};
    uint8_t tail[6] = {5,
                       0,
                       (uint8_t)clen,
                       (uint8_t)(clen >> 8),
                       (uint8_t)(clen >> 16),
                       (uint8_t)(clen >> 24)};
    if (wd_buf_append(out, q, 432) < 0 || wd_buf_append(out, le, 4) < 0
        || wd_buf_append(out, q + 436, head - 436) < 0 || wd_buf_append(out, tail, 6) < 0
        || wd_buf_append(out, certs, clen) < 0) {
        wd_buf_cleanup(out);
        return -1;
    }
    return 0;
}

/* ---- the pinned root ---- */

TEST(root_pinned)
{
    static const char fp[] = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";
    uint8_t want[32], got[32];
    unhex(fp, want);
    SHA256(wd_sgx_intel_root_der, wd_sgx_intel_root_der_len, got);
    CHECK_MEM(got, want, 32);
    CHECK_MEM(wd_sgx_intel_root_sha256, want, 32);
    struct wd_buf b;
    CHECK(load("intel-sgx-root-ca.der", &b) == 0);
    bool same =
            b.len == wd_sgx_intel_root_der_len && memcmp(b.p, wd_sgx_intel_root_der, b.len) == 0;
    wd_buf_cleanup(&b);
    CHECK(same);
    const struct sgx_anchor *a;
    CHECK_OK(sgx_anchor_intel(&a));
    char cn[64] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(a->root), NID_commonName, cn, sizeof(cn));
    CHECK_STR(cn, "Intel SGX Root CA");
    CHECK_MEM(a->id, want, 32);
}

/* ---- parsing ---- */

TEST(parse_occlum)
{
    struct wd_buf b;
    CHECK(load("trustee-occlum_quote.dat", &b) == 0);
    struct wd_sgx_quote q;
    enum wd_sgx_reason why = WD_SGX_TRUNCATED;
    int rc = wd_sgx_quote_parse(b.p, b.len, &q, &why);
    uint8_t mre[32], mrs[32], qes[32];
    unhex(occlum_mrenclave, mre);
    unhex(occlum_mrsigner, mrs);
    unhex(intel_qe_mrsigner, qes);
    bool ok = rc == WD_OK && why == WD_SGX_OK && q.version == 3 && q.att_key_type == 2
              && q.tee_type == 0 && q.qe_svn == 8 && q.pce_svn == 13
              && memcmp(q.qe_vendor_id, wd_sgx_intel_qe_vendor, 16) == 0
              && memcmp(q.isv.mr_enclave, mre, 32) == 0 && memcmp(q.isv.mr_signer, mrs, 32) == 0
              && q.isv.attr_flags == 0x7 && q.isv.attr_xfrm == 0xe7 && q.isv.misc_select == 1
              && q.isv.isv_prod_id == 0 && q.isv.isv_svn == 0
              && memcmp(q.isv.report_data, "test", 5) == 0 && q.isv.raw.p == b.p + 48
              && q.signed_data.len == 432 && q.sig_data_len == 4297
              && memcmp(q.qe.mr_signer, qes, 32) == 0 && q.qe.isv_prod_id == 1 && q.qe.isv_svn == 8
              && q.qe.attr_flags == 0x15 && q.qe_auth_data.len == 32 && q.cert_type == 5
              && q.cert_data.len == 3681 && q.cert_data.p + q.cert_data.len == b.p + b.len;
    wd_buf_cleanup(&b);
    CHECK(ok);
}

TEST(parse_steward)
{
    struct steward x, i5;
    CHECK(steward_load("steward-icelake.signed.tcb.crl.multi.xeon.csr", &x) == 0);
    CHECK(steward_load("steward-icelake.signed.tcb.crl.single.i5.csr", &i5) == 0);
    struct wd_sgx_quote q1, q2;
    int r1 = wd_sgx_quote_parse(x.quote.p, x.quote.len, &q1, NULL);
    int r2 = wd_sgx_quote_parse(i5.quote.p, i5.quote.len, &q2, NULL);
    bool ok = r1 == WD_OK && r2 == WD_OK && q1.qe_svn == 7 && q1.pce_svn == 12 && q2.qe_svn == 9
              && q2.pce_svn == 13 && q1.isv.attr_flags == 0x5 && q1.isv.report_data[0] == 0xe8
              && q2.isv.report_data[0] == 0xb0
              /* i5: Intel's QE wrote the PEM chain with its NUL terminator */
              && q2.cert_data.p[q2.cert_data.len - 1] == '\0' && x.n_crls == 3 && i5.n_crls == 3;
    steward_free(&x);
    steward_free(&i5);
    CHECK(ok);
}

TEST(parse_tdx_refused)
{
    const char *names[] = {"trustee-tdx_quote_4.dat", "trustee-tdx_quote_5.dat"};
    for (size_t i = 0; i < 2; i++) {
        struct wd_buf b;
        CHECK(load(names[i], &b) == 0);
        struct wd_sgx_quote q;
        enum wd_sgx_reason why = WD_SGX_OK;
        int rc = wd_sgx_quote_parse(b.p, b.len, &q, &why);
        struct wd_sgx_result res;
        struct wd_diag d;
        int vrc = wd_sgx_verify(b.p, b.len, NULL, NULL, &res, &d);
        wd_buf_cleanup(&b);
        CHECK_ERR(rc, WD_EPROTO);
        CHECK_EQ(why, WD_SGX_TDX_QUOTE);
        CHECK_EQ(q.version, 4 + i);
        CHECK_EQ(q.tee_type, 0x81);
        CHECK_ERR(vrc, WD_EPROTO);
        CHECK_EQ(res.reason, WD_SGX_TDX_QUOTE);
        CHECK(!res.has_claims);
        CHECK_STR(d.msg, "tdx-quote: unsupported quote type: TDX");
    }
}

/* TDX quotes are parsed for what they claim (never verified). */
TEST(parse_tdx_claims)
{
    const char *names[] = {"trustee-tdx_quote_4.dat", "trustee-tdx_quote_5.dat"};
    const char *mrtd[] = {"705ee938", "dfba221b"};
    for (size_t i = 0; i < 2; i++) {
        struct wd_buf b;
        CHECK(load(names[i], &b) == 0);
        struct wd_tdx_quote t;
        enum wd_sgx_reason why = WD_SGX_TRUNCATED;
        int rc = wd_tdx_quote_parse(b.p, b.len, &t, &why);
        size_t bad = SIZE_MAX;
        for (size_t n = 0; n < b.len && bad == SIZE_MAX; n += 7) {
            struct wd_tdx_quote u;
            enum wd_sgx_reason w2 = WD_SGX_OK;
            if (wd_tdx_quote_parse(b.p, n, &u, &w2) != WD_EPROTO || w2 != WD_SGX_TRUNCATED) {
                bad = n;
            }
        }
        CHECK(wd_buf_append_byte(&b, 0) == 0);
        enum wd_sgx_reason w3 = WD_SGX_OK;
        int rc3 = wd_tdx_quote_parse(b.p, b.len, &t, &w3);
        rc = rc == WD_OK ? wd_tdx_quote_parse(b.p, b.len - 1, &t, &why) : rc;
        wd_buf_cleanup(&b);
        uint8_t want[4];
        unhex(mrtd[i], want);
        CHECK_OK(rc);
        CHECK_EQ(why, WD_SGX_OK);
        CHECK_EQ(t.version, 4 + i);
        CHECK_EQ(t.body_type, i == 0 ? 2 : 3);
        CHECK_MEM(t.mr_td, want, 4);
        CHECK_EQ(t.debug, i == 0); /* the v4 vector is a debug TD */
        CHECK_EQ(t.sig_data.len, 4300);
        CHECK(bad == SIZE_MAX);
        CHECK_ERR(rc3, WD_EPROTO);
        CHECK_EQ(w3, WD_SGX_TRAILING_BYTES);
    }
    /* an SGX quote is not a TDX quote */
    struct wd_buf b;
    CHECK(load("trustee-occlum_quote.dat", &b) == 0);
    struct wd_tdx_quote t;
    enum wd_sgx_reason why = WD_SGX_OK;
    int rc = wd_tdx_quote_parse(b.p, b.len, &t, &why);
    wd_buf_cleanup(&b);
    CHECK_ERR(rc, WD_EPROTO);
    CHECK_EQ(why, WD_SGX_UNSUPPORTED_VERSION);
}

TEST(parse_truncated_everywhere)
{
    struct wd_buf b;
    CHECK(load("trustee-occlum_quote.dat", &b) == 0);
    size_t bad = SIZE_MAX;
    for (size_t n = 0; n < b.len && bad == SIZE_MAX; n++) {
        /* an exact-size copy, so ASan sees any read past the end */
        uint8_t *cut = wd_malloc(n);
        if (n > 0) {
            memcpy(cut, b.p, n);
        }
        struct wd_sgx_quote q;
        enum wd_sgx_reason why = WD_SGX_OK;
        if (wd_sgx_quote_parse(cut, n, &q, &why) != WD_EPROTO || why != WD_SGX_TRUNCATED) {
            bad = n;
        }
        wd_free(cut);
    }
    wd_buf_cleanup(&b);
    if (bad != SIZE_MAX) {
        printf("  prefix of %zu bytes not refused as truncated\n", bad);
    }
    CHECK(bad == SIZE_MAX);
}

/* Parse a modified copy of the Occlum quote; returns the reason. */
static enum wd_sgx_reason parse_mod(size_t off, const uint8_t *bytes, size_t n, size_t extra)
{
    struct wd_buf b;
    if (load("trustee-occlum_quote.dat", &b) < 0) {
        return WD_SGX_REASON_COUNT_;
    }
    for (size_t i = 0; i < extra; i++) {
        if (wd_buf_append_byte(&b, 0) < 0) {
            wd_buf_cleanup(&b);
            return WD_SGX_REASON_COUNT_;
        }
    }
    memcpy(b.p + off, bytes, n);
    struct wd_sgx_quote q;
    enum wd_sgx_reason why = WD_SGX_OK;
    int rc = wd_sgx_quote_parse(b.p, b.len, &q, &why);
    wd_buf_cleanup(&b);
    return rc == WD_OK ? WD_SGX_OK : why;
}

TEST(parse_header_rules)
{
    const uint8_t v2[] = {2, 0}, v4[] = {4, 0}, k3[] = {3, 0}, tee1[] = {1, 0, 0, 0};
    const uint8_t tdx[] = {0x81, 0, 0, 0}, vendor[] = {0x94}, cert4[] = {4, 0};
    const uint8_t sig_short[] = {0xc8, 0x10, 0, 0}; /* 4296: one byte less than there is */
    const uint8_t auth_big[] = {0xff, 0xff};
    const uint8_t cert_big[] = {0x62, 0x0e, 0, 0}; /* 3682: one byte more than there is */
    CHECK_EQ(parse_mod(0, v2, 2, 0), WD_SGX_UNSUPPORTED_VERSION);
    CHECK_EQ(parse_mod(0, v4, 2, 0), WD_SGX_UNSUPPORTED_VERSION); /* a v4 SGX quote */
    CHECK_EQ(parse_mod(2, k3, 2, 0), WD_SGX_UNSUPPORTED_KEY_TYPE);
    CHECK_EQ(parse_mod(4, tee1, 4, 0), WD_SGX_UNSUPPORTED_TEE_TYPE);
    CHECK_EQ(parse_mod(4, tdx, 4, 0), WD_SGX_UNSUPPORTED_TEE_TYPE); /* v3 has no TDX */
    CHECK_EQ(parse_mod(12, vendor, 1, 0), WD_SGX_UNKNOWN_QE_VENDOR);
    CHECK_EQ(parse_mod(432, sig_short, 4, 0), WD_SGX_TRAILING_BYTES);
    CHECK_EQ(parse_mod(436 + 576, auth_big, 2, 0), WD_SGX_TRUNCATED);
    CHECK_EQ(parse_mod(436 + 578 + 32, cert4, 2, 0), WD_SGX_UNSUPPORTED_CERT_TYPE);
    CHECK_EQ(parse_mod(436 + 578 + 32 + 2, cert_big, 4, 0), WD_SGX_TRUNCATED);
    const uint8_t none[] = {0};
    CHECK_EQ(parse_mod(0, none, 0, 1), WD_SGX_TRAILING_BYTES);
    CHECK_EQ(parse_mod(0, none, 0, 0), WD_SGX_OK);
    /* signature data length grown by the extra byte: trailing inside the signature data */
    const uint8_t sig_long[] = {0xca, 0x10, 0, 0};
    CHECK_EQ(parse_mod(432, sig_long, 4, 1), WD_SGX_TRAILING_BYTES);

    uint8_t *big = wd_calloc(1, WD_SGX_QUOTE_MAX + 1);
    CHECK(big != NULL);
    struct wd_sgx_quote q;
    enum wd_sgx_reason why = WD_SGX_OK;
    int rc = wd_sgx_quote_parse(big, WD_SGX_QUOTE_MAX + 1, &q, &why);
    wd_free(big);
    CHECK_ERR(rc, WD_ELIMIT);
    CHECK_EQ(why, WD_SGX_TOO_LARGE);
    CHECK_ERR(wd_sgx_quote_parse(NULL, 1, &q, NULL), WD_EINVAL);
    CHECK_ERR(wd_sgx_quote_parse(NULL, 0, &q, &why), WD_EPROTO);
    CHECK_EQ(why, WD_SGX_TRUNCATED);
}

/* ---- the public vectors ---- */

static int verify_file(const char *name, size_t flip_off, uint8_t flip_mask,
                       const struct wd_sgx_policy *pol, struct wd_sgx_result *res,
                       struct wd_diag *d)
{
    struct wd_buf b;
    if (load(name, &b) < 0) {
        return -100;
    }
    if (flip_off < b.len) {
        b.p[flip_off] ^= flip_mask;
    }
    int rc = wd_sgx_verify(b.p, b.len, NULL, pol, res, d);
    wd_buf_cleanup(&b);
    return rc;
}

TEST(verify_occlum)
{
    uint8_t mre[32];
    unhex(occlum_mrenclave, mre);
    const uint8_t *allow = mre;
    struct wd_sgx_policy pol = {
            .mrenclaves = allow,
            .n_mrenclaves = 1,
            .allow_debug = true,
            .tcb_accept = WD_SGX_TCB_BIT(WD_SGX_TCB_UNKNOWN),
    };
    struct wd_sgx_result res;
    struct wd_diag d;
    wd_clock_pin(T_OCCLUM);
    int rc = verify_file("trustee-occlum_quote.dat", SIZE_MAX, 0, &pol, &res, &d);
    wd_clock_unpin();
    if (rc != WD_OK) {
        printf("  %s\n", d.msg);
    }
    CHECK_OK(rc);
    CHECK_EQ(res.reason, WD_SGX_OK);
    CHECK(res.has_claims);
    const struct wd_sgx_claims *c = &res.claims;
    CHECK_STR(c->mrenclave_hex, occlum_mrenclave);
    CHECK_STR(c->mrsigner_hex, occlum_mrsigner);
    CHECK(c->debug);
    CHECK_EQ(c->isv_prod_id, 0);
    CHECK_EQ(c->isv_svn, 0);
    CHECK_EQ(c->qe_svn, 8);
    CHECK_EQ(c->pce_svn, 11);
    CHECK_STR(c->fmspc_hex, "00606a000000");
    CHECK_EQ(c->pce_id, 0);
    CHECK_EQ(c->tcb_status, WD_SGX_TCB_UNKNOWN);
    CHECK(!c->tcb_info_checked && !c->qe_identity_checked && !c->crls_checked);
    CHECK(strncmp(c->report_data_hex, "7465737400", 10) == 0);

    /* The same quote with no policy: evidence only. */
    wd_clock_pin(T_OCCLUM);
    rc = verify_file("trustee-occlum_quote.dat", SIZE_MAX, 0, NULL, &res, &d);
    wd_clock_unpin();
    CHECK_OK(rc);
}

TEST(verify_occlum_policy)
{
    uint8_t mre[32], mrs[32], rd[64] = "test";
    unhex(occlum_mrenclave, mre);
    unhex(occlum_mrsigner, mrs);
    const uint8_t *allow = mre;
    struct wd_sgx_signer_rule rule = {.isv_prod_id = 0, .min_isv_svn = 0};
    memcpy(rule.mrsigner, mrs, 32);
    struct wd_sgx_policy pol = {.mrenclaves = allow,
                                .n_mrenclaves = 1,
                                .allow_debug = true,
                                .tcb_accept = WD_SGX_TCB_BIT(WD_SGX_TCB_UNKNOWN)};
    struct wd_sgx_result res;
    struct wd_diag d;
    wd_clock_pin(T_OCCLUM);

    pol.allow_debug = false;
    CHECK_ERR(verify_file("trustee-occlum_quote.dat", SIZE_MAX, 0, &pol, &res, &d), WD_EDENIED);
    CHECK_EQ(res.reason, WD_SGX_POLICY_DEBUG);
    CHECK(res.has_claims); /* a refusal still names the enclave */
    CHECK(has(d.msg, "policy-debug: enclave 8f173e46"));
    pol.allow_debug = true;

    uint8_t other[32] = {1};
    pol.mrenclaves = other;
    CHECK_ERR(verify_file("trustee-occlum_quote.dat", SIZE_MAX, 0, &pol, &res, &d), WD_EDENIED);
    CHECK_EQ(res.reason, WD_SGX_POLICY_MEASUREMENT);

    /* MRSIGNER + ISVPRODID + minimum ISVSVN instead */
    pol.signers = &rule;
    pol.n_signers = 1;
    CHECK_OK(verify_file("trustee-occlum_quote.dat", SIZE_MAX, 0, &pol, &res, &d));
    rule.min_isv_svn = 1;
    CHECK_ERR(verify_file("trustee-occlum_quote.dat", SIZE_MAX, 0, &pol, &res, &d), WD_EDENIED);
    CHECK_EQ(res.reason, WD_SGX_POLICY_MEASUREMENT);
    rule.min_isv_svn = 0;
    rule.isv_prod_id = 1;
    CHECK_ERR(verify_file("trustee-occlum_quote.dat", SIZE_MAX, 0, &pol, &res, &d), WD_EDENIED);
    CHECK_EQ(res.reason, WD_SGX_POLICY_MEASUREMENT);
    rule.isv_prod_id = 0;
    pol.n_mrenclaves = 0;
    pol.n_signers = 0;
    CHECK_ERR(verify_file("trustee-occlum_quote.dat", SIZE_MAX, 0, &pol, &res, &d), WD_EDENIED);
    CHECK_EQ(res.reason, WD_SGX_POLICY_MEASUREMENT); /* nothing allowed admits nothing */
    pol.mrenclaves = allow;
    pol.n_mrenclaves = 1;

    pol.report_data = rd;
    CHECK_OK(verify_file("trustee-occlum_quote.dat", SIZE_MAX, 0, &pol, &res, &d));
    rd[63] = 1;
    CHECK_ERR(verify_file("trustee-occlum_quote.dat", SIZE_MAX, 0, &pol, &res, &d), WD_EDENIED);
    CHECK_EQ(res.reason, WD_SGX_POLICY_REPORT_DATA);
    pol.report_data = NULL;

    pol.tcb_accept = 0; /* UpToDate only: no TCB info, so the status is unknown */
    CHECK_ERR(verify_file("trustee-occlum_quote.dat", SIZE_MAX, 0, &pol, &res, &d), WD_EDENIED);
    CHECK_EQ(res.reason, WD_SGX_POLICY_TCB_STATUS);
    CHECK(has(d.msg, "TCB status Unknown is not accepted"));
    wd_clock_unpin();
}

TEST(verify_occlum_times)
{
    struct wd_sgx_result res;
    struct wd_diag d;
    wd_clock_pin(1672531200); /* 2023-01-01: before the PCK certificate */
    int rc = verify_file("trustee-occlum_quote.dat", SIZE_MAX, 0, NULL, &res, &d);
    wd_clock_pin(1924992000); /* 2031-01-01: after it */
    int rc2 = verify_file("trustee-occlum_quote.dat", SIZE_MAX, 0, NULL, &res, &d);
    wd_clock_unpin();
    CHECK_ERR(rc, WD_EEXPIRED);
    CHECK_ERR(rc2, WD_EEXPIRED);
    CHECK_EQ(res.reason, WD_SGX_PCK_EXPIRED);
    CHECK(has(d.msg, "pck-expired: PCK chain certificate 0"));
    wd_clock_pin(1672531200);
    rc = verify_file("trustee-occlum_quote.dat", SIZE_MAX, 0, NULL, &res, &d);
    wd_clock_unpin();
    CHECK_EQ(res.reason, WD_SGX_PCK_NOT_YET_VALID);
}

/* A flipped bit in each structure of the Occlum quote, each with its own reason. */
TEST(verify_occlum_flips)
{
    struct {
        size_t off;
        uint8_t mask;
        enum wd_sgx_reason want;
    } cases[] = {
            {48 + 64, 0x01, WD_SGX_ISV_SIGNATURE},               /* MRENCLAVE */
            {48 + 320, 0x80, WD_SGX_ISV_SIGNATURE},              /* report data */
            {8, 0x01, WD_SGX_ISV_SIGNATURE},                     /* header qe_svn */
            {436 + 10, 0x01, WD_SGX_ISV_SIGNATURE},              /* ISV signature r */
            {436 + 40, 0x01, WD_SGX_ISV_SIGNATURE},              /* ISV signature s */
            {436 + 64 + 5, 0x01, WD_SGX_ATT_KEY_BINDING},        /* attestation key */
            {436 + 128 + 0, 0x01, WD_SGX_QE_REPORT_SIGNATURE},   /* QE report cpu_svn */
            {436 + 128 + 320, 0x01, WD_SGX_QE_REPORT_SIGNATURE}, /* QE report data */
            {436 + 512 + 3, 0x01, WD_SGX_QE_REPORT_SIGNATURE},   /* QE report signature */
            {436 + 578 + 7, 0x01, WD_SGX_ATT_KEY_BINDING},       /* QE authentication data */
    };
    wd_clock_pin(T_OCCLUM);
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        struct wd_sgx_result res;
        struct wd_diag d;
        int rc = verify_file("trustee-occlum_quote.dat", cases[i].off, cases[i].mask, NULL, &res,
                             &d);
        if (res.reason != cases[i].want) {
            printf("  case %zu (offset %zu): %s\n", i, cases[i].off, d.msg);
        }
        CHECK_ERR(rc, WD_ECRYPTO);
        CHECK_EQ(res.reason, cases[i].want);
        CHECK(!res.has_claims);
    }
    wd_clock_unpin();
}

/* The PEM of the PCK leaf altered (one base64 digit in its signature), the chain's root
 * replaced, the chain cut: each refused with its own reason. */
TEST(verify_occlum_chain)
{
    struct wd_buf b, m;
    CHECK(load("trustee-occlum_quote.dat", &b) == 0);
    struct wd_sgx_quote q;
    CHECK_OK(wd_sgx_quote_parse(b.p, b.len, &q, NULL));
    size_t base = (size_t)(q.cert_data.p - b.p);
    const char *pem = (const char *)q.cert_data.p;
    const char *end1 = strstr(pem, "\n-----END CERTIFICATE-----");
    CHECK(end1 != NULL);
    /* the line before the last line of the leaf: inside its signature value */
    const char *last = end1;
    while (last > pem && last[-1] != '\n') {
        last--;
    }
    const char *prev = last - 1;
    while (prev > pem && prev[-1] != '\n') {
        prev--;
    }
    size_t pos = base + (size_t)(prev - pem) + 30;
    char orig = (char)b.p[pos];
    b.p[pos] = (uint8_t)(orig == 'A' ? 'B' : 'A');
    struct wd_sgx_result res;
    struct wd_diag d;
    wd_clock_pin(T_OCCLUM);
    int rc = wd_sgx_verify(b.p, b.len, NULL, NULL, &res, &d);
    b.p[pos] = (uint8_t)orig;
    CHECK_ERR(rc, WD_ECRYPTO);
    CHECK_EQ(res.reason, WD_SGX_PCK_BAD_SIGNATURE);

    /* Only the leaf: no path to the root. */
    size_t leaf_len = (size_t)(end1 - pem) + strlen("\n-----END CERTIFICATE-----\n");
    CHECK(quote_with_certs(b.p, b.len, pem, leaf_len, &m) == 0);
    rc = wd_sgx_verify(m.p, m.len, NULL, NULL, &res, &d);
    wd_buf_cleanup(&m);
    CHECK_ERR(rc, WD_EPROTO);
    CHECK_EQ(res.reason, WD_SGX_PCK_CHAIN_MALFORMED);

    /* Leaf and the Platform CA only (no root copy): still verifies, the root is pinned. */
    const char *end2 = strstr(end1 + 1, "\n-----END CERTIFICATE-----");
    CHECK(end2 != NULL);
    size_t two_len = (size_t)(end2 - pem) + strlen("\n-----END CERTIFICATE-----\n");
    CHECK(quote_with_certs(b.p, b.len, pem, two_len, &m) == 0);
    rc = wd_sgx_verify(m.p, m.len, NULL, NULL, &res, &d);
    wd_buf_cleanup(&m);
    CHECK_OK(rc);

    /* Leaf, Platform CA, then the leaf again where the root should be. */
    struct wd_buf chain;
    wd_buf_init(&chain, 1u << 16);
    CHECK(wd_buf_append(&chain, pem, two_len) == 0 && wd_buf_append(&chain, pem, leaf_len) == 0);
    CHECK(quote_with_certs(b.p, b.len, chain.p, chain.len, &m) == 0);
    rc = wd_sgx_verify(m.p, m.len, NULL, NULL, &res, &d);
    wd_buf_cleanup(&m);
    wd_buf_cleanup(&chain);
    CHECK_ERR(rc, WD_ECRYPTO);
    CHECK_EQ(res.reason, WD_SGX_PCK_UNTRUSTED);

    /* Not PEM at all */
    CHECK(quote_with_certs(b.p, b.len, "garbage", 7, &m) == 0);
    rc = wd_sgx_verify(m.p, m.len, NULL, NULL, &res, &d);
    wd_buf_cleanup(&m);
    CHECK_EQ(res.reason, WD_SGX_PCK_CHAIN_MALFORMED);

    /* Another root: a test anchor that is not Intel's. */
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *fake = X509_new();
    CHECK(k != NULL && fake != NULL);
    X509_NAME *nm = X509_get_subject_name(fake);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"Intel SGX Root CA",
                               -1, -1, 0);
    X509_set_issuer_name(fake, nm);
    X509_set_version(fake, X509_VERSION_3);
    ASN1_TIME_set(X509_getm_notBefore(fake), T_OCCLUM - 365 * DAY);
    ASN1_TIME_set(X509_getm_notAfter(fake), T_OCCLUM + 365 * DAY);
    X509_set_pubkey(fake, k);
    CHECK(X509_sign(fake, k, EVP_sha256()) > 0);
    struct sgx_anchor other;
    CHECK_OK(sgx_anchor_init(&other, fake));
    rc = sgx_verify_anchor(&other, NULL, b.p, b.len, NULL, NULL, &res, &d);
    sgx_anchor_cleanup(&other);
    X509_free(fake);
    EVP_PKEY_free(k);
    wd_clock_unpin();
    wd_buf_cleanup(&b);
    CHECK_ERR(rc, WD_ECRYPTO);
    CHECK_EQ(res.reason, WD_SGX_PCK_UNTRUSTED);
}

TEST(verify_steward)
{
    const char *names[] = {"steward-icelake.signed.tcb.crl.multi.xeon.csr",
                           "steward-icelake.signed.tcb.crl.single.i5.csr"};
    const char *fmspc[] = {"00606a000000", "00706e470000"};
    const char *adv[] = {"INTEL-SA-00586,INTEL-SA-00614,INTEL-SA-00615,INTEL-SA-00657",
                         "INTEL-SA-00381,INTEL-SA-00389,INTEL-SA-00477,INTEL-SA-00289,"
                         "INTEL-SA-00614,INTEL-SA-00617,INTEL-SA-00615,INTEL-SA-00657"};
    for (size_t i = 0; i < 2; i++) {
        struct steward s;
        CHECK(steward_load(names[i], &s) == 0);
        struct wd_sgx_collateral coll = steward_coll(&s);
        struct wd_sgx_policy pol = {.n_mrenclaves = 1,
                                    .tcb_accept = WD_SGX_TCB_BIT(WD_SGX_TCB_OUT_OF_DATE)};
        uint8_t mre[32];
        unhex("4046ea255f0455131a024e1265ac1ebd131fdbd1240f1712a00381f6f04e8c15", mre);
        pol.mrenclaves = mre;
        struct wd_sgx_result res;
        struct wd_diag d;
        wd_clock_pin(T_STEWARD);
        int rc = wd_sgx_verify(s.quote.p, s.quote.len, &coll, &pol, &res, &d);
        /* The default TCB acceptance (UpToDate only) refuses these platforms. */
        pol.tcb_accept = 0;
        int rc2 = wd_sgx_verify(s.quote.p, s.quote.len, &coll, &pol, &res, &d);
        pol.tcb_accept = WD_SGX_TCB_BIT(WD_SGX_TCB_OUT_OF_DATE);
        rc = rc == WD_OK ? wd_sgx_verify(s.quote.p, s.quote.len, &coll, &pol, &res, &d) : rc;
        wd_clock_unpin();
        steward_free(&s);
        if (rc != WD_OK) {
            printf("  %s: %s\n", names[i], d.msg);
        }
        CHECK_OK(rc);
        CHECK_ERR(rc2, WD_EDENIED);
        const struct wd_sgx_claims *c = &res.claims;
        CHECK_STR(c->fmspc_hex, fmspc[i]);
        CHECK(!c->debug);
        CHECK_STR(c->mrsigner_hex,
                  "7a49a07df0f8e90a6e1d9a63e3c696d9c844f0e3f8739b21daa640f99facc48a");
        CHECK_EQ(c->platform_tcb_status, WD_SGX_TCB_OUT_OF_DATE);
        CHECK_EQ(c->tcb_status, WD_SGX_TCB_OUT_OF_DATE);
        CHECK_EQ(c->qe_tcb_status, WD_SGX_TCB_UNKNOWN);
        CHECK(c->tcb_info_checked && c->crls_checked && !c->qe_identity_checked);
        CHECK_STR(c->advisories, adv[i]);
        CHECK_EQ(c->pce_svn, i == 0 ? 11 : 10);
    }
}

/* Collateral problems, each with its own reason, on the steward vectors. */
TEST(verify_steward_collateral)
{
    struct steward x, i5;
    CHECK(steward_load("steward-icelake.signed.tcb.crl.multi.xeon.csr", &x) == 0);
    CHECK(steward_load("steward-icelake.signed.tcb.crl.single.i5.csr", &i5) == 0);
    struct wd_sgx_result res;
    struct wd_diag d;
    struct wd_sgx_collateral c = steward_coll(&x);
    struct wd_sgx_policy pol = {.n_mrenclaves = 0};
    (void)pol;
    wd_clock_pin(T_STEWARD);

    /* the i5's TCB info for the Xeon's quote */
    c.tcb_info = i5.tcb_info;
    CHECK_ERR(wd_sgx_verify(x.quote.p, x.quote.len, &c, NULL, &res, &d), WD_ECRYPTO);
    CHECK_EQ(res.reason, WD_SGX_FMSPC_MISMATCH);
    CHECK(has(d.msg, "FMSPC 00706e470000, the PCK certificate has 00606a000000"));
    c.tcb_info = x.tcb_info;

    /* TCB info with one byte of its body changed */
    uint8_t *t = wd_malloc(x.tcb_info.len);
    CHECK(t != NULL);
    memcpy(t, x.tcb_info.p, x.tcb_info.len);
    char *pce = strstr((char *)t, "\"pcesvn\":13");
    if (pce != NULL) {
        pce[10] = '2';
    }
    c.tcb_info.p = t;
    int rc = wd_sgx_verify(x.quote.p, x.quote.len, &c, NULL, &res, &d);
    wd_free(t);
    CHECK(pce != NULL);
    CHECK_ERR(rc, WD_ECRYPTO);
    CHECK_EQ(res.reason, WD_SGX_COLLATERAL_SIGNATURE);
    c.tcb_info = x.tcb_info;

    /* TCB info without its signer */
    c.signing_chain.len = 0;
    CHECK_ERR(wd_sgx_verify(x.quote.p, x.quote.len, &c, NULL, &res, &d), WD_EPROTO);
    CHECK_EQ(res.reason, WD_SGX_COLLATERAL_NO_SIGNER);
    /* the PCK Platform CA as the "signer": a CA, not the TCB Signing certificate */
    struct wd_sgx_quote q;
    CHECK_OK(wd_sgx_quote_parse(x.quote.p, x.quote.len, &q, NULL));
    const char *second = strstr((const char *)q.cert_data.p, "-----END CERTIFICATE-----\n");
    CHECK(second != NULL);
    second += strlen("-----END CERTIFICATE-----\n");
    c.signing_chain.p = (const uint8_t *)second;
    c.signing_chain.len = q.cert_data.len - (size_t)(second - (const char *)q.cert_data.p);
    CHECK_ERR(wd_sgx_verify(x.quote.p, x.quote.len, &c, NULL, &res, &d), WD_ECRYPTO);
    CHECK_EQ(res.reason, WD_SGX_COLLATERAL_SIGNER);
    /* the PCK leaf as the "signer": not issued by the root */
    c.signing_chain = q.cert_data;
    c.signing_chain.len = (size_t)(second - (const char *)q.cert_data.p);
    CHECK_ERR(wd_sgx_verify(x.quote.p, x.quote.len, &c, NULL, &res, &d), WD_ECRYPTO);
    CHECK_EQ(res.reason, WD_SGX_COLLATERAL_SIGNER);
    c.signing_chain = x.signer;

    /* CRLs: only the root CA's, so none covers the PCK leaf */
    c.n_crls = 1;
    CHECK_ERR(wd_sgx_verify(x.quote.p, x.quote.len, &c, NULL, &res, &d), WD_ECRYPTO);
    CHECK_EQ(res.reason, WD_SGX_CRL_MISSING);
    const struct wd_slice junk = {(const uint8_t *)"not a CRL", 9};
    c.crls = &junk;
    CHECK_ERR(wd_sgx_verify(x.quote.p, x.quote.len, &c, NULL, &res, &d), WD_EPROTO);
    CHECK_EQ(res.reason, WD_SGX_CRL_MALFORMED);
    c.crls = x.crls;
    c.n_crls = x.n_crls;

    /* a CRL whose signature is broken */
    uint8_t *bad = wd_malloc(x.crls[2].len);
    CHECK(bad != NULL);
    memcpy(bad, x.crls[2].p, x.crls[2].len);
    bad[x.crls[2].len - 3] ^= 0x01;
    struct wd_slice crls3[3] = {x.crls[0], x.crls[1], {bad, x.crls[2].len}};
    c.crls = crls3;
    rc = wd_sgx_verify(x.quote.p, x.quote.len, &c, NULL, &res, &d);
    wd_free(bad);
    CHECK_ERR(rc, WD_ECRYPTO);
    CHECK_EQ(res.reason, WD_SGX_CRL_INVALID);
    c.crls = x.crls;

    /* 2023-03-01: the PCK CRLs are past their nextUpdate */
    wd_clock_pin(1677628800);
    CHECK_ERR(wd_sgx_verify(x.quote.p, x.quote.len, &c, NULL, &res, &d), WD_EEXPIRED);
    CHECK_EQ(res.reason, WD_SGX_CRL_EXPIRED);
    /* ... and, without CRLs, the TCB info is past its nextUpdate */
    c.n_crls = 0;
    CHECK_ERR(wd_sgx_verify(x.quote.p, x.quote.len, &c, NULL, &res, &d), WD_EEXPIRED);
    CHECK_EQ(res.reason, WD_SGX_COLLATERAL_EXPIRED);
    /* 2023-01-20: issued after now */
    wd_clock_pin(1674172800);
    CHECK_ERR(wd_sgx_verify(x.quote.p, x.quote.len, &c, NULL, &res, &d), WD_EEXPIRED);
    CHECK_EQ(res.reason, WD_SGX_COLLATERAL_NOT_YET_VALID);
    wd_clock_unpin();
    steward_free(&x);
    steward_free(&i5);
}

/* trustee's collateral is TDX's (TCB info id "TDX", QE identity "TD_QE"): its signature is
 * Intel's TCB Signing key (the one the steward vectors carry), but it is no SGX collateral. */
TEST(verify_trustee_collateral)
{
    struct steward x;
    CHECK(steward_load("steward-icelake.signed.tcb.crl.multi.xeon.csr", &x) == 0);
    struct wd_buf q, tcb, qe;
    CHECK(load("trustee-occlum_quote.dat", &q) == 0);
    CHECK(load("trustee-tcbInfo.json", &tcb) == 0);
    CHECK(load("trustee-enclaveIdentity.json", &qe) == 0);
    struct wd_sgx_collateral c = {.tcb_info = wd_buf_slice(&tcb), .signing_chain = x.signer};
    struct wd_sgx_result res;
    struct wd_diag d;
    wd_clock_pin(T_SIGNER);
    int r1 = wd_sgx_verify(q.p, q.len, &c, NULL, &res, &d);
    enum wd_sgx_reason w1 = res.reason;
    bool m1 = has(d.msg, "id \"TDX\" is not \"SGX\"");
    c.tcb_info.len = 0;
    c.qe_identity = wd_buf_slice(&qe);
    int r2 = wd_sgx_verify(q.p, q.len, &c, NULL, &res, &d);
    enum wd_sgx_reason w2 = res.reason;
    bool m2 = has(d.msg, "id \"TD_QE\" is not \"QE\"");
    /* 2025-06-01: the TCB Signing certificate carried by steward has expired */
    wd_clock_pin(T_OCCLUM);
    int r3 = wd_sgx_verify(q.p, q.len, &c, NULL, &res, &d);
    enum wd_sgx_reason w3 = res.reason;
    wd_clock_unpin();

    /* the signature itself, checked directly with the TCB Signing key */
    const unsigned char *der = x.signer.p;
    X509 *signer = d2i_X509(NULL, &der, (long)x.signer.len);
    struct sgx_signed_json sj, sj2;
    CHECK(signer != NULL);
    CHECK_OK(sgx_signed_json_parse("t", wd_buf_slice(&tcb), "tcbInfo", &sj, NULL, NULL));
    CHECK_OK(sgx_signed_json_parse("q", wd_buf_slice(&qe), "enclaveIdentity", &sj2, NULL, NULL));
    int s1 = sgx_ecdsa_verify(X509_get0_pubkey(signer), sj.body.p, sj.body.len, sj.sig);
    int s2 = sgx_ecdsa_verify(X509_get0_pubkey(signer), sj2.body.p, sj2.body.len, sj2.sig);
    sj.sig[5] ^= 1;
    int s3 = sgx_ecdsa_verify(X509_get0_pubkey(signer), sj.body.p, sj.body.len, sj.sig);
    const char *sigat = strstr((const char *)tcb.p, ",\"signature\"");
    bool body_ok = sj.body.len > 2 && sj.body.p[0] == '{' && sj.body.p[sj.body.len - 1] == '}'
                   && sj.body.p == tcb.p + 11 && (const char *)sj.body.p + sj.body.len == sigat;
    struct sgx_tcb_info ti;
    enum wd_sgx_reason why = WD_SGX_OK;
    int rt = sgx_tcb_info_read(&sj, &ti, &why, NULL);
    sgx_signed_json_cleanup(&sj);
    sgx_signed_json_cleanup(&sj2);
    X509_free(signer);
    wd_buf_cleanup(&q);
    wd_buf_cleanup(&tcb);
    wd_buf_cleanup(&qe);
    steward_free(&x);
    CHECK_ERR(r1, WD_EPROTO);
    CHECK_EQ(w1, WD_SGX_COLLATERAL_WRONG_TYPE);
    CHECK(m1);
    CHECK_ERR(r2, WD_EPROTO);
    CHECK_EQ(w2, WD_SGX_COLLATERAL_WRONG_TYPE);
    CHECK(m2);
    CHECK_ERR(r3, WD_EEXPIRED);
    CHECK_EQ(w3, WD_SGX_COLLATERAL_SIGNER_TIME);
    CHECK_EQ(s1, 1);
    CHECK_EQ(s2, 1);
    CHECK_EQ(s3, 0);
    CHECK(body_ok);
    CHECK_ERR(rt, WD_EPROTO);
    CHECK_EQ(why, WD_SGX_COLLATERAL_WRONG_TYPE);
}

TEST(pck_extension_vectors)
{
    struct steward x;
    CHECK(steward_load("steward-icelake.signed.tcb.crl.multi.xeon.csr", &x) == 0);
    struct wd_sgx_quote q;
    CHECK_OK(wd_sgx_quote_parse(x.quote.p, x.quote.len, &q, NULL));
    STACK_OF(X509) *certs = NULL;
    CHECK_OK(wd_certs_parse("t", q.cert_data.p, q.cert_data.len, &certs, NULL));
    X509 *leaf = sk_X509_value(certs, 0);
    int idx = -1;
    for (int i = 0; i < X509_get_ext_count(leaf); i++) {
        char txt[64];
        OBJ_obj2txt(txt, sizeof(txt), X509_EXTENSION_get_object(X509_get_ext(leaf, i)), 1);
        if (strcmp(txt, "1.2.840.113741.1.13.1") == 0) {
            idx = i;
        }
    }
    CHECK(idx >= 0);
    const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(leaf, idx));
    size_t n = (size_t)ASN1_STRING_length(v);
    uint8_t *der = wd_malloc(n);
    memcpy(der, ASN1_STRING_get0_data(v), n);
    wd_certs_free(certs);
    steward_free(&x);
    struct sgx_pck_ext e;
    int rc = sgx_pck_ext_parse(der, n, &e);
    static const uint8_t comps[16] = {4, 4, 3, 3, 255, 255};
    static const uint8_t fmspc[6] = {0x00, 0x60, 0x6a, 0x00, 0x00, 0x00};
    bool ok = rc == WD_OK && memcmp(e.tcb_comp, comps, 16) == 0 && e.pce_svn == 11
              && memcmp(e.cpu_svn, "\x04\x04\x03\x03\xff\xff", 6) == 0
              && memcmp(e.fmspc, fmspc, 6) == 0 && e.pce_id[0] == 0 && e.pce_id[1] == 0
              && e.sgx_type == 1 && e.has_ppid;
    /* every truncation is refused, and so is a trailing byte */
    size_t bad = SIZE_MAX;
    for (size_t k = 0; k < n && bad == SIZE_MAX; k++) {
        uint8_t *cut = wd_malloc(k + 1);
        memcpy(cut, der, k);
        if (sgx_pck_ext_parse(cut, k, &e) != WD_EPROTO) {
            bad = k;
        }
        wd_free(cut);
    }
    uint8_t *more = wd_malloc(n + 1);
    memcpy(more, der, n);
    more[n] = 0;
    int rc_more = sgx_pck_ext_parse(more, n + 1, &e);
    wd_free(more);
    wd_free(der);
    CHECK(ok);
    CHECK(bad == SIZE_MAX);
    CHECK_ERR(rc_more, WD_EPROTO);
}

TEST(reason_names)
{
    for (int r = 0; r < WD_SGX_REASON_COUNT_; r++) {
        const char *a = wd_sgx_reason_name((enum wd_sgx_reason)r);
        CHECK(strcmp(a, "unknown") != 0);
        for (int k = 0; k < r; k++) {
            CHECK(strcmp(a, wd_sgx_reason_name((enum wd_sgx_reason)k)) != 0);
        }
    }
    CHECK_STR(wd_sgx_reason_name(WD_SGX_REASON_COUNT_), "unknown");
    CHECK_STR(wd_sgx_reason_name(WD_SGX_ATT_KEY_BINDING), "att-key-binding");
    CHECK_STR(wd_sgx_tcb_status_name(WD_SGX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED),
              "ConfigurationAndSWHardeningNeeded");
    CHECK_EQ(sgx_tcb_status_parse("OutOfDate", 9), WD_SGX_TCB_OUT_OF_DATE);
    CHECK_EQ(sgx_tcb_status_parse("Unknown", 7), -1);
    CHECK_EQ(sgx_tcb_converge(WD_SGX_TCB_UP_TO_DATE, WD_SGX_TCB_OUT_OF_DATE),
             WD_SGX_TCB_OUT_OF_DATE);
    CHECK_EQ(sgx_tcb_converge(WD_SGX_TCB_CONFIGURATION_NEEDED, WD_SGX_TCB_OUT_OF_DATE),
             WD_SGX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED);
    CHECK_EQ(sgx_tcb_converge(WD_SGX_TCB_SW_HARDENING_NEEDED, WD_SGX_TCB_UP_TO_DATE),
             WD_SGX_TCB_SW_HARDENING_NEEDED);
    CHECK_EQ(sgx_tcb_converge(WD_SGX_TCB_UNKNOWN, WD_SGX_TCB_UNKNOWN), WD_SGX_TCB_UNKNOWN);
}

/* ---- a synthetic chain ---- */

struct synth {
    EVP_PKEY *root_key, *ca_key, *pck_key, *tcb_key, *att_key;
    X509 *root, *ca, *pck, *tcb;
    struct sgx_anchor anchor;
    struct wd_buf chain_pem; /* leaf, CA, root */
    struct wd_buf tcb_der;
    long serial;
};

static const uint8_t synth_fmspc[6] = {0x00, 0x90, 0x6e, 0xd5, 0x00, 0x00};

/* DER writer for the test's SGX extension. */
static int der_put(struct wd_buf *b, uint8_t tag, const void *p, size_t n)
{
    uint8_t hdr[4] = {tag, 0, 0, 0};
    size_t h = 2;
    if (n < 0x80) {
        hdr[1] = (uint8_t)n;
    } else if (n < 0x100) {
        hdr[1] = 0x81;
        hdr[2] = (uint8_t)n;
        h = 3;
    } else {
        hdr[1] = 0x82;
        hdr[2] = (uint8_t)(n >> 8);
        hdr[3] = (uint8_t)n;
        h = 4;
    }
    return wd_buf_append(b, hdr, h) < 0 || wd_buf_append(b, p, n) < 0 ? -1 : 0;
}

/* A minimal non-negative DER INTEGER (X.690 §8.3.2). */
static int der_uint_put(struct wd_buf *b, unsigned v)
{
    uint8_t bytes[3] = {0, (uint8_t)(v >> 8), (uint8_t)v};
    size_t i = 0;
    while (i < 2 && bytes[i] == 0 && !(bytes[i + 1] & 0x80)) {
        i++;
    }
    return der_put(b, 0x02, bytes + i, 3 - i);
}

static const uint8_t sgx_arc[] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};

/* SEQUENCE { OID sgx_arc.tail, <value TLV> } appended to b. */
static int der_member(struct wd_buf *b, const uint8_t *tail, size_t ntail, const struct wd_buf *v)
{
    struct wd_buf m, oid;
    wd_buf_init(&m, 4096);
    wd_buf_init(&oid, 64);
    int rc = wd_buf_append(&oid, sgx_arc, sizeof(sgx_arc)) < 0
                             || wd_buf_append(&oid, tail, ntail) < 0
                             || der_put(&m, 0x06, oid.p, oid.len) < 0
                             || wd_buf_append(&m, v->p, v->len) < 0
                             || der_put(b, 0x30, m.p, m.len) < 0
                     ? -1
                     : 0;
    wd_buf_cleanup(&m);
    wd_buf_cleanup(&oid);
    return rc;
}

/* The SGX extension value: all TCB components comp, PCESVN pcesvn, the synthetic FMSPC. */
static int sgx_ext_der(uint8_t comp, uint16_t pcesvn, struct wd_buf *out)
{
    struct wd_buf tcb, v, all;
    wd_buf_init(&tcb, 4096);
    wd_buf_init(&v, 4096);
    wd_buf_init(&all, 4096);
    wd_buf_init(out, 4096);
    int rc = 0;
    for (uint8_t k = 1; k <= 18 && rc == 0; k++) {
        uint8_t tail[2] = {2, k};
        wd_buf_reset(&v);
        if (k <= 17) {
            rc = der_uint_put(&v, k == 17 ? pcesvn : comp);
        } else {
            uint8_t cpusvn[16] = {comp, comp};
            rc = der_put(&v, 0x04, cpusvn, 16);
        }
        rc = rc < 0 ? -1 : der_member(&tcb, tail, 2, &v);
    }
    uint8_t ppid[16] = {1, 2, 3}, pceid[2] = {0, 0}, one = 1, two = 2, three = 3, four = 4,
            five = 5, zero = 0;
    wd_buf_reset(&v);
    rc = rc < 0 || der_put(&v, 0x04, ppid, 16) < 0 || der_member(&all, &one, 1, &v) < 0 ? -1 : 0;
    wd_buf_reset(&v);
    rc = rc < 0 || der_put(&v, 0x30, tcb.p, tcb.len) < 0 || der_member(&all, &two, 1, &v) < 0 ? -1
                                                                                              : 0;
    wd_buf_reset(&v);
    rc = rc < 0 || der_put(&v, 0x04, pceid, 2) < 0 || der_member(&all, &three, 1, &v) < 0 ? -1 : 0;
    wd_buf_reset(&v);
    rc = rc < 0 || der_put(&v, 0x04, synth_fmspc, 6) < 0 || der_member(&all, &four, 1, &v) < 0 ? -1
                                                                                               : 0;
    wd_buf_reset(&v);
    rc = rc < 0 || der_put(&v, 0x0a, &zero, 1) < 0 || der_member(&all, &five, 1, &v) < 0 ? -1 : 0;
    rc = rc < 0 || der_put(out, 0x30, all.p, all.len) < 0 ? -1 : 0;
    wd_buf_cleanup(&tcb);
    wd_buf_cleanup(&v);
    wd_buf_cleanup(&all);
    return rc;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *v)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, v);
    int ok = e != NULL && X509_add_ext(x, e, -1) == 1;
    X509_EXTENSION_free(e);
    return ok ? 0 : -1;
}

/* A certificate; issuer NULL = self-signed. sgx_ext: raw value of the SGX extension. */
static X509 *mk_cert(struct synth *s, const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey,
                     bool ca, int64_t nb, int64_t na, const struct wd_buf *sgx_ext)
{
    X509 *x = X509_new();
    if (x == NULL) {
        return NULL;
    }
    X509_NAME *nm = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : nm);
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), ++s->serial);
    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb);
    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na);
    X509_set_pubkey(x, key);
    X509 *iss = issuer != NULL ? issuer : x;
    int bad = add_ext(x, iss, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE")
              | add_ext(x, iss, NID_key_usage,
                        ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature")
              | add_ext(x, iss, NID_subject_key_identifier, "hash")
              | add_ext(x, iss, NID_authority_key_identifier, "keyid:always");
    if (sgx_ext != NULL) {
        ASN1_OBJECT *obj = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
        ASN1_OCTET_STRING *oct = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(oct, sgx_ext->p, (int)sgx_ext->len);
        X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, oct);
        bad |= e == NULL || X509_add_ext(x, e, -1) != 1;
        X509_EXTENSION_free(e);
        ASN1_OBJECT_free(obj);
        ASN1_OCTET_STRING_free(oct);
    }
    if (bad || X509_sign(x, ikey != NULL ? ikey : key, EVP_sha256()) <= 0) {
        ERR_print_errors_fp(stdout);
        X509_free(x);
        return NULL;
    }
    return x;
}

static int pem_append(struct wd_buf *b, X509 *x)
{
    return wd_cert_to_pem(x, b);
}

static void synth_free(struct synth *s)
{
    EVP_PKEY_free(s->root_key);
    EVP_PKEY_free(s->ca_key);
    EVP_PKEY_free(s->pck_key);
    EVP_PKEY_free(s->tcb_key);
    EVP_PKEY_free(s->att_key);
    X509_free(s->root);
    X509_free(s->ca);
    X509_free(s->pck);
    X509_free(s->tcb);
    sgx_anchor_cleanup(&s->anchor);
    wd_buf_cleanup(&s->chain_pem);
    wd_buf_cleanup(&s->tcb_der);
    memset(s, 0, sizeof(*s));
}

/* Make a PCK leaf (key, extension) under the synthetic CA and the chain PEM [leaf, CA, root]. */
static int synth_leaf(struct synth *s, EVP_PKEY *key, const struct wd_buf *ext)
{
    X509_free(s->pck);
    s->pck = mk_cert(s, "Test PCK Certificate", key, s->ca, s->ca_key, false, T_SYNTH - 30 * DAY,
                     T_SYNTH + 365 * DAY, ext);
    wd_buf_cleanup(&s->chain_pem);
    wd_buf_init(&s->chain_pem, 1u << 16);
    return s->pck == NULL || pem_append(&s->chain_pem, s->pck) < 0
                           || pem_append(&s->chain_pem, s->ca) < 0
                           || pem_append(&s->chain_pem, s->root) < 0
                   ? -1
                   : 0;
}

static int synth_init(struct synth *s)
{
    memset(s, 0, sizeof(*s));
    wd_buf_init(&s->chain_pem, 1u << 16);
    wd_buf_init(&s->tcb_der, 1u << 16);
    s->root_key = EVP_EC_gen("P-256");
    s->ca_key = EVP_EC_gen("P-256");
    s->pck_key = EVP_EC_gen("P-256");
    s->tcb_key = EVP_EC_gen("P-256");
    s->att_key = EVP_EC_gen("P-256");
    if (!s->root_key || !s->ca_key || !s->pck_key || !s->tcb_key || !s->att_key) {
        return -1;
    }
    s->root = mk_cert(s, "Test SGX Root CA", s->root_key, NULL, NULL, true, T_SYNTH - 365 * DAY,
                      T_SYNTH + 3650 * DAY, NULL);
    s->ca = mk_cert(s, "Test PCK Platform CA", s->ca_key, s->root, s->root_key, true,
                    T_SYNTH - 365 * DAY, T_SYNTH + 3650 * DAY, NULL);
    s->tcb = mk_cert(s, "Test TCB Signing", s->tcb_key, s->root, s->root_key, false,
                     T_SYNTH - 365 * DAY, T_SYNTH + 365 * DAY, NULL);
    struct wd_buf ext;
    if (s->root == NULL || s->ca == NULL || s->tcb == NULL || sgx_ext_der(5, 10, &ext) < 0) {
        return -1;
    }
    int rc = synth_leaf(s, s->pck_key, &ext);
    wd_buf_cleanup(&ext);
    if (rc < 0 || wd_cert_to_der(s->tcb, &s->tcb_der) < 0) {
        return -1;
    }
    return sgx_anchor_init(&s->anchor, s->root) < 0 ? -1 : 0;
}

/* Raw r || s ECDSA-SHA256 signature of msg by key. */
static int sign_raw(EVP_PKEY *key, const uint8_t *msg, size_t n, uint8_t out[64])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t der[80];
    size_t dlen = sizeof(der);
    int ok = md != NULL && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1
             && EVP_DigestSign(md, der, &dlen, msg, n) == 1;
    EVP_MD_CTX_free(md);
    if (!ok) {
        return -1;
    }
    const unsigned char *q = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &q, (long)dlen);
    if (sig == NULL) {
        return -1;
    }
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + 32, 32);
    ECDSA_SIG_free(sig);
    return 0;
}

/* What a synthetic quote says and how it is broken. */
struct qspec {
    uint8_t mrenclave[32];
    uint8_t mrsigner[32];
    uint64_t flags;
    uint16_t prod, svn;
    uint8_t report_data[64];
    uint16_t qe_svn;
    uint64_t qe_flags;     /* 0: INIT|MODE64BIT|PROVISIONKEY (0x15) */
    bool qe_wrong_signer;  /* QE MRSIGNER not Intel's */
    bool bind_wrong;       /* QE report data hashes another auth data */
    bool bind_upper;       /* QE report data's upper half not zero */
    bool att_not_on_curve; /* attestation key x || y off the curve (binding made to match) */
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static int build_quote(const struct synth *s, const struct qspec *sp, struct wd_buf *out)
{
    uint8_t q[436 + 578 + 32 + 6];
    memset(q, 0, sizeof(q));
    put16(q + 0, 3);
    put16(q + 2, 2);
    put16(q + 8, sp->qe_svn);
    put16(q + 10, 10);
    memcpy(q + 12, wd_sgx_intel_qe_vendor, 16);
    uint8_t *b = q + 48;
    put64(b + 48, sp->flags);
    put64(b + 56, 0xe7);
    memcpy(b + 64, sp->mrenclave, 32);
    memcpy(b + 128, sp->mrsigner, 32);
    put16(b + 256, sp->prod);
    put16(b + 258, sp->svn);
    memcpy(b + 320, sp->report_data, 64);
    uint8_t *sd = q + 436;
    /* the attestation key as x || y */
    uint8_t pub[65];
    size_t plen = sizeof(pub);
    if (EVP_PKEY_get_octet_string_param(s->att_key, "encoded-pub-key", pub, sizeof(pub), &plen) != 1
        || plen != 65) {
        return -1;
    }
    memcpy(sd + 64, pub + 1, 64);
    if (sp->att_not_on_curve) {
        sd[64 + 63] ^= 1;
    }
    uint8_t *qe = sd + 128;
    put64(qe + 48, sp->qe_flags != 0 ? sp->qe_flags : 0x15);
    put64(qe + 56, 0xe7);
    unhex(sp->qe_wrong_signer ? occlum_mrsigner : intel_qe_mrsigner, qe + 128);
    put16(qe + 256, 1);
    put16(qe + 258, sp->qe_svn);
    uint8_t *auth = sd + 578;
    put16(sd + 576, 32);
    for (int i = 0; i < 32; i++) {
        auth[i] = (uint8_t)i;
    }
    uint8_t hin[96];
    memcpy(hin, sd + 64, 64);
    memcpy(hin + 64, auth, 32);
    if (sp->bind_wrong) {
        hin[95] ^= 1;
    }
    SHA256(hin, sizeof(hin), qe + 320);
    if (sp->bind_upper) {
        qe[383] = 1;
    }
    if (sign_raw(s->pck_key, qe, 384, sd + 512) < 0 || sign_raw(s->att_key, q, 432, sd) < 0) {
        return -1;
    }
    uint8_t *cert = auth + 32;
    put16(cert, 5);
    put32(cert + 2, (uint32_t)s->chain_pem.len);
    put32(q + 432, (uint32_t)(sizeof(q) - 436 + s->chain_pem.len));
    wd_buf_init(out, 1u << 16);
    return wd_buf_append(out, q, sizeof(q)) < 0
                           || wd_buf_append(out, s->chain_pem.p, s->chain_pem.len) < 0
                   ? -1
                   : 0;
}

static void spec_default(struct qspec *sp)
{
    memset(sp, 0, sizeof(*sp));
    memset(sp->mrenclave, 0xaa, 32);
    memset(sp->mrsigner, 0xbb, 32);
    sp->flags = WD_SGX_FLAG_INIT | WD_SGX_FLAG_MODE64BIT;
    sp->prod = 7;
    sp->svn = 3;
    memcpy(sp->report_data, "nonce", 5);
    sp->qe_svn = 8;
}

/* Verify a synthetic quote through the test anchor. */
static int synth_verify(struct synth *s, const struct qspec *sp,
                        const struct wd_sgx_collateral *coll, const struct wd_sgx_policy *pol,
                        struct wd_sgx_result *res, struct wd_diag *d)
{
    struct wd_buf q;
    if (build_quote(s, sp, &q) < 0) {
        return -100;
    }
    int rc = sgx_verify_anchor(&s->anchor, NULL, q.p, q.len, coll, pol, res, d);
    wd_buf_cleanup(&q);
    return rc;
}

static struct wd_sgx_policy policy_for(const struct qspec *sp)
{
    struct wd_sgx_policy pol = {
            .mrenclaves = sp->mrenclave,
            .n_mrenclaves = 1,
            .tcb_accept =
                    WD_SGX_TCB_BIT(WD_SGX_TCB_UNKNOWN) | WD_SGX_TCB_BIT(WD_SGX_TCB_UP_TO_DATE),
    };
    return pol;
}

TEST(synth_verifies)
{
    struct synth s;
    CHECK(synth_init(&s) == 0);
    struct qspec sp;
    spec_default(&sp);
    struct wd_sgx_policy pol = policy_for(&sp);
    struct wd_sgx_result res;
    struct wd_diag d;
    wd_clock_pin(T_SYNTH);
    int rc = synth_verify(&s, &sp, NULL, &pol, &res, &d);
    /* the public entry point does not trust the test root */
    struct wd_buf q;
    int brc = build_quote(&s, &sp, &q);
    int prc = wd_sgx_verify(q.p, q.len, NULL, &pol, &res, &d);
    enum wd_sgx_reason pwhy = res.reason;
    wd_buf_cleanup(&q);
    int rc2 = synth_verify(&s, &sp, NULL, &pol, &res, &d);
    wd_clock_unpin();
    synth_free(&s);
    CHECK_OK(rc);
    CHECK_EQ(brc, 0);
    CHECK_ERR(prc, WD_ECRYPTO);
    CHECK_EQ(pwhy, WD_SGX_PCK_UNTRUSTED);
    CHECK_OK(rc2);
    CHECK_EQ(res.claims.isv_prod_id, 7);
    CHECK_EQ(res.claims.isv_svn, 3);
    CHECK_EQ(res.claims.pce_svn, 10);
    CHECK_STR(res.claims.fmspc_hex, "00906ed50000");
    CHECK(!res.claims.debug);
}

/* The binding of the attestation key, independently of Intel's keys: the QE report is
 * correctly signed by the PCK key but its report data does not bind the key. */
TEST(synth_binding)
{
    struct synth s;
    CHECK(synth_init(&s) == 0);
    struct qspec sp;
    struct wd_sgx_result res;
    struct wd_diag d;
    wd_clock_pin(T_SYNTH);
    spec_default(&sp);
    sp.bind_wrong = true;
    int r1 = synth_verify(&s, &sp, NULL, NULL, &res, &d);
    enum wd_sgx_reason w1 = res.reason;
    spec_default(&sp);
    sp.bind_upper = true;
    int r2 = synth_verify(&s, &sp, NULL, NULL, &res, &d);
    enum wd_sgx_reason w2 = res.reason;
    spec_default(&sp);
    sp.att_not_on_curve = true;
    int r3 = synth_verify(&s, &sp, NULL, NULL, &res, &d);
    enum wd_sgx_reason w3 = res.reason;
    wd_clock_unpin();
    synth_free(&s);
    CHECK_ERR(r1, WD_ECRYPTO);
    CHECK_EQ(w1, WD_SGX_ATT_KEY_BINDING);
    CHECK_ERR(r2, WD_ECRYPTO);
    CHECK_EQ(w2, WD_SGX_ATT_KEY_BINDING);
    CHECK_ERR(r3, WD_ECRYPTO);
    CHECK_EQ(w3, WD_SGX_ATT_KEY_INVALID);
}

TEST(synth_qe_identity_builtin)
{
    struct synth s;
    CHECK(synth_init(&s) == 0);
    struct qspec sp;
    struct wd_sgx_result res;
    struct wd_diag d;
    wd_clock_pin(T_SYNTH);
    spec_default(&sp);
    sp.qe_wrong_signer = true;
    int r1 = synth_verify(&s, &sp, NULL, NULL, &res, &d);
    enum wd_sgx_reason w1 = res.reason;
    bool m1 = has(d.msg, "QE MRSIGNER is not Intel's QE (built in)'s");
    spec_default(&sp);
    sp.qe_flags = 0x17; /* a debug QE */
    int r2 = synth_verify(&s, &sp, NULL, NULL, &res, &d);
    enum wd_sgx_reason w2 = res.reason;
    bool m2 = has(d.msg, "(debug QE)");
    wd_clock_unpin();
    synth_free(&s);
    CHECK_ERR(r1, WD_ECRYPTO);
    CHECK_EQ(w1, WD_SGX_QE_IDENTITY_MISMATCH);
    CHECK(m1);
    CHECK_ERR(r2, WD_ECRYPTO);
    CHECK_EQ(w2, WD_SGX_QE_IDENTITY_MISMATCH);
    CHECK(m2);
}

TEST(synth_policy)
{
    struct synth s;
    CHECK(synth_init(&s) == 0);
    struct qspec sp;
    spec_default(&sp);
    struct wd_sgx_policy pol = policy_for(&sp);
    struct wd_sgx_result res;
    struct wd_diag d;
    wd_clock_pin(T_SYNTH);
    sp.flags |= WD_SGX_FLAG_DEBUG;
    int r1 = synth_verify(&s, &sp, NULL, &pol, &res, &d);
    enum wd_sgx_reason w1 = res.reason;
    pol.allow_debug = true;
    int r2 = synth_verify(&s, &sp, NULL, &pol, &res, &d);
    bool dbg = res.claims.debug;
    struct wd_sgx_signer_rule rule = {.isv_prod_id = 7, .min_isv_svn = 3};
    memset(rule.mrsigner, 0xbb, 32);
    pol.n_mrenclaves = 0;
    pol.signers = &rule;
    pol.n_signers = 1;
    int r3 = synth_verify(&s, &sp, NULL, &pol, &res, &d);
    rule.min_isv_svn = 4;
    int r4 = synth_verify(&s, &sp, NULL, &pol, &res, &d);
    enum wd_sgx_reason w4 = res.reason;
    rule.min_isv_svn = 0;
    rule.mrsigner[31] ^= 1;
    int r5 = synth_verify(&s, &sp, NULL, &pol, &res, &d);
    enum wd_sgx_reason w5 = res.reason;
    rule.mrsigner[31] ^= 1;
    uint8_t want[64] = "nonce";
    pol.report_data = want;
    int r6 = synth_verify(&s, &sp, NULL, &pol, &res, &d);
    want[0] = 'N';
    int r7 = synth_verify(&s, &sp, NULL, &pol, &res, &d);
    enum wd_sgx_reason w7 = res.reason;
    wd_clock_unpin();
    synth_free(&s);
    CHECK_ERR(r1, WD_EDENIED);
    CHECK_EQ(w1, WD_SGX_POLICY_DEBUG);
    CHECK_OK(r2);
    CHECK(dbg);
    CHECK_OK(r3);
    CHECK_ERR(r4, WD_EDENIED);
    CHECK_EQ(w4, WD_SGX_POLICY_MEASUREMENT);
    CHECK_ERR(r5, WD_EDENIED);
    CHECK_EQ(w5, WD_SGX_POLICY_MEASUREMENT);
    CHECK_OK(r6);
    CHECK_ERR(r7, WD_EDENIED);
    CHECK_EQ(w7, WD_SGX_POLICY_REPORT_DATA);
}

/* Signed collateral from the synthetic TCB Signing key. */
static int signed_doc(EVP_PKEY *key, const char *member, const char *body, struct wd_buf *out)
{
    uint8_t sig[64];
    wd_buf_init(out, 1u << 16);
    if (sign_raw(key, (const uint8_t *)body, strlen(body), sig) < 0) {
        return -1;
    }
    char hexsig[129];
    for (int i = 0; i < 64; i++) {
        (void)snprintf(hexsig + 2 * i, 3, "%02X", sig[i]);
    }
    return wd_buf_printf(out, "{\"%s\":%s,\"signature\":\"%s\"}", member, body, hexsig) < 0 ? -1
                                                                                            : 0;
}

/* One TCB level of TCB info v3 with all 16 components comp. */
static int tcb_level(struct wd_buf *b, int comp, int pcesvn, const char *status, const char *adv)
{
    int rc = wd_buf_printf(b, "%s{\"tcb\":{\"sgxtcbcomponents\":[", b->len > 1 ? "," : "");
    for (int i = 0; i < 16 && rc == 0; i++) {
        rc = wd_buf_printf(b, "%s{\"svn\":%d,\"category\":\"BIOS\"}", i ? "," : "", comp);
    }
    if (rc == 0) {
        rc = wd_buf_printf(b,
                           "],\"pcesvn\":%d},\"tcbDate\":\"2025-01-01T00:00:00Z\","
                           "\"tcbStatus\":\"%s\"%s%s%s}",
                           pcesvn, status, adv ? ",\"advisoryIDs\":[\"" : "", adv ? adv : "",
                           adv ? "\"]" : "");
    }
    return rc;
}

static int tcb_info_doc(struct synth *s, const char *id, const char *fmspc, const char *levels,
                        struct wd_buf *out)
{
    char body[16384];
    (void)snprintf(body, sizeof(body),
                   "{\"id\":\"%s\",\"version\":3,\"issueDate\":\"2025-12-15T00:00:00Z\","
                   "\"nextUpdate\":\"2026-01-15T00:00:00Z\",\"fmspc\":\"%s\",\"pceId\":\"0000\","
                   "\"tcbType\":0,\"tcbEvaluationDataNumber\":17,\"tcbLevels\":[%s]}",
                   id, fmspc, levels);
    return signed_doc(s->tcb_key, "tcbInfo", body, out);
}

static int qe_identity_doc(struct synth *s, const char *mrsigner, const char *levels,
                           struct wd_buf *out)
{
    char body[4096];
    (void)snprintf(body, sizeof(body),
                   "{\"id\":\"QE\",\"version\":2,\"issueDate\":\"2025-12-15T00:00:00Z\","
                   "\"nextUpdate\":\"2026-01-15T00:00:00Z\",\"tcbEvaluationDataNumber\":17,"
                   "\"miscselect\":\"00000000\",\"miscselectMask\":\"FFFFFFFF\","
                   "\"attributes\":\"11000000000000000000000000000000\","
                   "\"attributesMask\":\"FBFFFFFFFFFFFFFF0000000000000000\","
                   "\"mrsigner\":\"%s\",\"isvprodid\":1,\"tcbLevels\":[%s]}",
                   mrsigner, levels);
    return signed_doc(s->tcb_key, "enclaveIdentity", body, out);
}

static const char qe_levels[] =
        "{\"tcb\":{\"isvsvn\":8},\"tcbDate\":\"2024-01-01T00:00:00Z\",\"tcbStatus\":\"UpToDate\"},"
        "{\"tcb\":{\"isvsvn\":6},\"tcbDate\":\"2023-01-01T00:00:00Z\",\"tcbStatus\":"
        "\"OutOfDate\",\"advisoryIDs\":[\"INTEL-SA-00999\"]},"
        "{\"tcb\":{\"isvsvn\":4},\"tcbDate\":\"2022-01-01T00:00:00Z\",\"tcbStatus\":\"Revoked\"}";

/* Verify the default synthetic quote with TCB levels and (optionally) a QE identity. */
static int synth_coll(struct synth *s, const struct qspec *sp, const char *levels,
                      const char *fmspc, bool with_qe, unsigned accept, struct wd_sgx_result *res,
                      struct wd_diag *d)
{
    struct wd_buf tcb, qe;
    int rc = -100;
    wd_buf_init(&qe, 16);
    if (tcb_info_doc(s, "SGX", fmspc, levels, &tcb) == 0
        && (!with_qe || qe_identity_doc(s, intel_qe_mrsigner, qe_levels, &qe) == 0)) {
        struct wd_sgx_collateral c = {.tcb_info = wd_buf_slice(&tcb),
                                      .qe_identity = wd_buf_slice(&qe),
                                      .signing_chain = wd_buf_slice(&s->tcb_der)};
        struct wd_sgx_policy pol = policy_for(sp);
        pol.tcb_accept = accept;
        rc = synth_verify(s, sp, &c, &pol, res, d);
    }
    wd_buf_cleanup(&tcb);
    wd_buf_cleanup(&qe);
    return rc;
}

TEST(synth_tcb_levels)
{
    struct synth s;
    CHECK(synth_init(&s) == 0); /* the PCK: components 5, PCESVN 10 */
    struct qspec sp;
    spec_default(&sp);
    struct wd_sgx_result res;
    struct wd_diag d;
    struct wd_buf lv;
    wd_buf_init(&lv, 1u << 16);
    wd_clock_pin(T_SYNTH);
    /* newest first: (6, 10) not met; (5, 11) not met; (5, 10) SWHardeningNeeded; (2, 2) */
    CHECK(tcb_level(&lv, 6, 10, "UpToDate", NULL) == 0
          && tcb_level(&lv, 5, 11, "UpToDate", NULL) == 0
          && tcb_level(&lv, 5, 10, "SWHardeningNeeded", "INTEL-SA-00615") == 0
          && tcb_level(&lv, 2, 2, "OutOfDate", "INTEL-SA-00001") == 0);
    unsigned swh = WD_SGX_TCB_BIT(WD_SGX_TCB_SW_HARDENING_NEEDED);
    int r1 = synth_coll(&s, &sp, wd_buf_str(&lv), "00906ED50000", false, swh, &res, &d);
    if (r1 != WD_OK) {
        printf("  %s\n", d.msg);
    }
    enum wd_sgx_tcb_status st1 = res.claims.tcb_status;
    bool adv1 = strcmp(res.claims.advisories, "INTEL-SA-00615") == 0;
    bool checked = res.claims.tcb_info_checked && !res.claims.qe_identity_checked;
    /* the default acceptance: UpToDate only */
    int r2 = synth_coll(&s, &sp, wd_buf_str(&lv), "00906ED50000", false, 0, &res, &d);
    enum wd_sgx_reason w2 = res.reason;
    /* another FMSPC */
    int r3 = synth_coll(&s, &sp, wd_buf_str(&lv), "00906ED50001", false, swh, &res, &d);
    enum wd_sgx_reason w3 = res.reason;
    /* the matching level Revoked */
    wd_buf_reset(&lv);
    CHECK(tcb_level(&lv, 6, 10, "UpToDate", NULL) == 0
          && tcb_level(&lv, 5, 10, "Revoked", NULL) == 0);
    int r4 = synth_coll(&s, &sp, wd_buf_str(&lv), "00906ED50000", false, ~0u, &res, &d);
    enum wd_sgx_reason w4 = res.reason;
    /* every level above the platform */
    wd_buf_reset(&lv);
    CHECK(tcb_level(&lv, 6, 10, "UpToDate", NULL) == 0
          && tcb_level(&lv, 5, 11, "OutOfDate", NULL) == 0);
    int r5 = synth_coll(&s, &sp, wd_buf_str(&lv), "00906ED50000", false, ~0u, &res, &d);
    enum wd_sgx_reason w5 = res.reason;
    /* a TDX TCB info */
    wd_buf_reset(&lv);
    CHECK(tcb_level(&lv, 5, 10, "UpToDate", NULL) == 0);
    struct wd_buf tdx;
    CHECK(tcb_info_doc(&s, "TDX", "00906ED50000", wd_buf_str(&lv), &tdx) == 0);
    struct wd_sgx_collateral c = {.tcb_info = wd_buf_slice(&tdx),
                                  .signing_chain = wd_buf_slice(&s.tcb_der)};
    int r6 = synth_verify(&s, &sp, &c, NULL, &res, &d);
    enum wd_sgx_reason w6 = res.reason;
    wd_buf_cleanup(&tdx);
    wd_clock_unpin();
    wd_buf_cleanup(&lv);
    synth_free(&s);
    CHECK_OK(r1);
    CHECK_EQ(st1, WD_SGX_TCB_SW_HARDENING_NEEDED);
    CHECK(adv1);
    CHECK(checked);
    CHECK_ERR(r2, WD_EDENIED);
    CHECK_EQ(w2, WD_SGX_POLICY_TCB_STATUS);
    CHECK_ERR(r3, WD_ECRYPTO);
    CHECK_EQ(w3, WD_SGX_FMSPC_MISMATCH);
    CHECK_ERR(r4, WD_EDENIED);
    CHECK_EQ(w4, WD_SGX_PLATFORM_TCB_REVOKED);
    CHECK_ERR(r5, WD_EDENIED);
    CHECK_EQ(w5, WD_SGX_PLATFORM_TCB_UNSUPPORTED);
    CHECK_ERR(r6, WD_EPROTO);
    CHECK_EQ(w6, WD_SGX_COLLATERAL_WRONG_TYPE);
}

TEST(synth_qe_identity)
{
    struct synth s;
    CHECK(synth_init(&s) == 0);
    struct qspec sp;
    spec_default(&sp);
    struct wd_sgx_result res;
    struct wd_diag d;
    struct wd_buf lv;
    wd_buf_init(&lv, 1u << 16);
    CHECK(tcb_level(&lv, 5, 10, "UpToDate", NULL) == 0);
    unsigned all = ~0u;
    wd_clock_pin(T_SYNTH);
    sp.qe_svn = 8; /* UpToDate */
    int r1 = synth_coll(&s, &sp, wd_buf_str(&lv), "00906ED50000", true, 0, &res, &d);
    if (r1 != WD_OK) {
        printf("  %s\n", d.msg);
    }
    bool c1 = res.claims.qe_identity_checked && res.claims.qe_tcb_status == WD_SGX_TCB_UP_TO_DATE
              && res.claims.qe_svn == 8;
    sp.qe_svn = 7; /* OutOfDate: converges the platform's UpToDate to OutOfDate */
    int r2 = synth_coll(&s, &sp, wd_buf_str(&lv), "00906ED50000", true, all, &res, &d);
    bool c2 = res.claims.qe_tcb_status == WD_SGX_TCB_OUT_OF_DATE
              && res.claims.platform_tcb_status == WD_SGX_TCB_UP_TO_DATE
              && res.claims.tcb_status == WD_SGX_TCB_OUT_OF_DATE
              && strcmp(res.claims.advisories, "INTEL-SA-00999") == 0;
    int r3 = synth_coll(&s, &sp, wd_buf_str(&lv), "00906ED50000", true, 0, &res, &d);
    enum wd_sgx_reason w3 = res.reason;
    sp.qe_svn = 5; /* Revoked */
    int r4 = synth_coll(&s, &sp, wd_buf_str(&lv), "00906ED50000", true, all, &res, &d);
    enum wd_sgx_reason w4 = res.reason;
    sp.qe_svn = 3; /* below every level */
    int r5 = synth_coll(&s, &sp, wd_buf_str(&lv), "00906ED50000", true, all, &res, &d);
    enum wd_sgx_reason w5 = res.reason;
    /* a QE identity naming another MRSIGNER */
    sp.qe_svn = 8;
    struct wd_buf qe, tcb;
    CHECK(qe_identity_doc(&s, occlum_mrsigner, qe_levels, &qe) == 0);
    CHECK(tcb_info_doc(&s, "SGX", "00906ED50000", wd_buf_str(&lv), &tcb) == 0);
    struct wd_sgx_collateral c = {.qe_identity = wd_buf_slice(&qe),
                                  .signing_chain = wd_buf_slice(&s.tcb_der)};
    int r6 = synth_verify(&s, &sp, &c, NULL, &res, &d);
    enum wd_sgx_reason w6 = res.reason;
    /* the synthetic collateral is refused by the public entry point (not Intel's signer) */
    c.tcb_info = wd_buf_slice(&tcb);
    c.qe_identity.len = 0;
    /* and by the test anchor once the TCB Signing certificate has expired */
    wd_clock_pin(T_SYNTH + 400 * DAY);
    int r7 = synth_verify(&s, &sp, &c, NULL, &res, &d);
    enum wd_sgx_reason w7 = res.reason;
    wd_clock_unpin();
    wd_buf_cleanup(&qe);
    wd_buf_cleanup(&tcb);
    wd_buf_cleanup(&lv);
    synth_free(&s);
    CHECK_OK(r1);
    CHECK(c1);
    CHECK_OK(r2);
    CHECK(c2);
    CHECK_ERR(r3, WD_EDENIED);
    CHECK_EQ(w3, WD_SGX_POLICY_TCB_STATUS);
    CHECK_ERR(r4, WD_EDENIED);
    CHECK_EQ(w4, WD_SGX_QE_TCB_REVOKED);
    CHECK_ERR(r5, WD_EDENIED);
    CHECK_EQ(w5, WD_SGX_QE_TCB_UNSUPPORTED);
    CHECK_ERR(r6, WD_ECRYPTO);
    CHECK_EQ(w6, WD_SGX_QE_IDENTITY_MISMATCH);
    CHECK_ERR(r7, WD_EEXPIRED);
    CHECK(w7 == WD_SGX_PCK_EXPIRED); /* the PCK (one year) is checked first */
}

/* A CRL issued by issuer, revoking `revoked` (may be NULL), valid [lu, nu]. */
static int mk_crl(X509 *issuer, EVP_PKEY *key, X509 *revoked, int64_t lu, int64_t nu,
                  struct wd_buf *out)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t1 = ASN1_TIME_set(NULL, (time_t)lu), *t2 = ASN1_TIME_set(NULL, (time_t)nu);
    int ok = crl != NULL && t1 != NULL && t2 != NULL && X509_CRL_set_version(crl, 1) == 1
             && X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) == 1
             && X509_CRL_set1_lastUpdate(crl, t1) == 1 && X509_CRL_set1_nextUpdate(crl, t2) == 1;
    if (ok && revoked != NULL) {
        X509_REVOKED *r = X509_REVOKED_new();
        ok = r != NULL && X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(revoked)) == 1
             && X509_REVOKED_set_revocationDate(r, t1) == 1 && X509_CRL_add0_revoked(crl, r) == 1;
        if (!ok) {
            X509_REVOKED_free(r);
        }
    }
    ok = ok && X509_CRL_sort(crl) == 1 && X509_CRL_sign(crl, key, EVP_sha256()) > 0;
    unsigned char *der = NULL;
    int n = ok ? i2d_X509_CRL(crl, &der) : -1;
    wd_buf_init(out, 1u << 16);
    ok = n > 0 && wd_buf_append(out, der, (size_t)n) == 0;
    OPENSSL_free(der);
    ASN1_TIME_free(t1);
    ASN1_TIME_free(t2);
    X509_CRL_free(crl);
    return ok ? 0 : -1;
}

TEST(synth_crls)
{
    struct synth s;
    CHECK(synth_init(&s) == 0);
    struct qspec sp;
    spec_default(&sp);
    struct wd_sgx_result res;
    struct wd_diag d;
    struct wd_buf root_crl, ca_crl, ca_crl_rev, root_crl_rev;
    CHECK(mk_crl(s.root, s.root_key, NULL, T_SYNTH - DAY, T_SYNTH + DAY, &root_crl) == 0);
    CHECK(mk_crl(s.ca, s.ca_key, NULL, T_SYNTH - DAY, T_SYNTH + DAY, &ca_crl) == 0);
    CHECK(mk_crl(s.ca, s.ca_key, s.pck, T_SYNTH - DAY, T_SYNTH + DAY, &ca_crl_rev) == 0);
    CHECK(mk_crl(s.root, s.root_key, s.ca, T_SYNTH - DAY, T_SYNTH + DAY, &root_crl_rev) == 0);
    struct wd_slice crls[2] = {wd_buf_slice(&root_crl), wd_buf_slice(&ca_crl)};
    struct wd_sgx_collateral c = {.crls = crls, .n_crls = 2};
    wd_clock_pin(T_SYNTH);
    int r1 = synth_verify(&s, &sp, &c, NULL, &res, &d);
    bool checked = res.claims.crls_checked;
    crls[1] = wd_buf_slice(&ca_crl_rev);
    int r2 = synth_verify(&s, &sp, &c, NULL, &res, &d);
    enum wd_sgx_reason w2 = res.reason;
    crls[0] = wd_buf_slice(&root_crl_rev);
    crls[1] = wd_buf_slice(&ca_crl);
    int r3 = synth_verify(&s, &sp, &c, NULL, &res, &d);
    enum wd_sgx_reason w3 = res.reason;
    crls[0] = wd_buf_slice(&root_crl);
    wd_clock_pin(T_SYNTH + 2 * DAY);
    int r4 = synth_verify(&s, &sp, &c, NULL, &res, &d);
    enum wd_sgx_reason w4 = res.reason;
    /* a PEM CRL is accepted as well */
    wd_clock_pin(T_SYNTH);
    struct wd_buf pem;
    wd_buf_init(&pem, 1u << 16);
    CHECK(wd_buf_append_str(&pem, "-----BEGIN X509 CRL-----\n") == 0);
    struct wd_buf b64;
    wd_buf_init(&b64, 1u << 16);
    BIO *bio = BIO_new(BIO_s_mem());
    const unsigned char *cq = ca_crl.p;
    X509_CRL *parsed = d2i_X509_CRL(NULL, &cq, (long)ca_crl.len);
    CHECK(bio != NULL && parsed != NULL && PEM_write_bio_X509_CRL(bio, parsed) == 1);
    char *mem = NULL;
    long mlen = BIO_get_mem_data(bio, &mem);
    wd_buf_reset(&pem);
    CHECK(wd_buf_append(&pem, mem, (size_t)mlen) == 0);
    BIO_free(bio);
    X509_CRL_free(parsed);
    crls[1] = wd_buf_slice(&pem);
    int r5 = synth_verify(&s, &sp, &c, NULL, &res, &d);
    wd_clock_unpin();
    wd_buf_cleanup(&pem);
    wd_buf_cleanup(&b64);
    wd_buf_cleanup(&root_crl);
    wd_buf_cleanup(&ca_crl);
    wd_buf_cleanup(&ca_crl_rev);
    wd_buf_cleanup(&root_crl_rev);
    synth_free(&s);
    CHECK_OK(r1);
    CHECK(checked);
    CHECK_ERR(r2, WD_EDENIED);
    CHECK_EQ(w2, WD_SGX_PCK_REVOKED);
    CHECK_ERR(r3, WD_EDENIED);
    CHECK_EQ(w3, WD_SGX_PCK_REVOKED);
    CHECK_ERR(r4, WD_EEXPIRED);
    CHECK_EQ(w4, WD_SGX_CRL_EXPIRED);
    CHECK_OK(r5);
}

TEST(synth_pck_leaf)
{
    struct synth s;
    CHECK(synth_init(&s) == 0);
    struct qspec sp;
    spec_default(&sp);
    struct wd_sgx_result res;
    struct wd_diag d;
    wd_clock_pin(T_SYNTH);
    /* no SGX extension */
    CHECK(synth_leaf(&s, s.pck_key, NULL) == 0);
    int r1 = synth_verify(&s, &sp, NULL, NULL, &res, &d);
    enum wd_sgx_reason w1 = res.reason;
    /* a malformed one (the TCB sequence cut short) */
    struct wd_buf ext;
    CHECK(sgx_ext_der(5, 10, &ext) == 0);
    ext.p[ext.len - 1] ^= 0xff;
    CHECK(synth_leaf(&s, s.pck_key, &ext) == 0);
    int r2 = synth_verify(&s, &sp, NULL, NULL, &res, &d);
    enum wd_sgx_reason w2 = res.reason;
    wd_buf_cleanup(&ext);
    /* a P-384 PCK key */
    EVP_PKEY *k384 = EVP_EC_gen("P-384");
    CHECK(k384 != NULL);
    CHECK(sgx_ext_der(5, 10, &ext) == 0);
    CHECK(synth_leaf(&s, k384, &ext) == 0);
    int r3 = synth_verify(&s, &sp, NULL, NULL, &res, &d);
    enum wd_sgx_reason w3 = res.reason;
    /* components of 200 (two-byte DER INTEGERs) decode */
    wd_buf_cleanup(&ext);
    CHECK(sgx_ext_der(200, 300, &ext) == 0);
    CHECK(synth_leaf(&s, s.pck_key, &ext) == 0);
    int r4 = synth_verify(&s, &sp, NULL, NULL, &res, &d);
    uint16_t pcesvn = res.claims.pce_svn;
    /* a leaf issued by the root itself: no PCK CA in the path */
    X509 *direct = mk_cert(&s, "Test PCK Certificate", s.pck_key, s.root, s.root_key, false,
                           T_SYNTH - DAY, T_SYNTH + DAY, &ext);
    wd_buf_reset(&s.chain_pem);
    CHECK(direct != NULL && pem_append(&s.chain_pem, direct) == 0
          && pem_append(&s.chain_pem, s.root) == 0);
    int r5 = synth_verify(&s, &sp, NULL, NULL, &res, &d);
    enum wd_sgx_reason w5 = res.reason;
    bool m5 = has(d.msg, "path of 2 certificates, not 3");
    X509_free(direct);
    wd_buf_cleanup(&ext);
    EVP_PKEY_free(k384);
    wd_clock_unpin();
    synth_free(&s);
    CHECK_ERR(r5, WD_ECRYPTO);
    CHECK_EQ(w5, WD_SGX_PCK_UNTRUSTED);
    CHECK(m5);
    CHECK_ERR(r1, WD_EPROTO);
    CHECK_EQ(w1, WD_SGX_PCK_BAD_EXTENSION);
    CHECK_ERR(r2, WD_EPROTO);
    CHECK_EQ(w2, WD_SGX_PCK_BAD_EXTENSION);
    CHECK_ERR(r3, WD_ECRYPTO);
    CHECK_EQ(w3, WD_SGX_PCK_BAD_KEY);
    CHECK_OK(r4);
    CHECK_EQ(pcesvn, 300);
}

/* The cache answers the second verification and is keyed to the anchor and the time. */
TEST(cache)
{
    struct synth s;
    CHECK(synth_init(&s) == 0);
    struct qspec sp;
    spec_default(&sp);
    struct wd_buf q, lv, tcb;
    CHECK(build_quote(&s, &sp, &q) == 0);
    wd_buf_init(&lv, 1u << 16);
    CHECK(tcb_level(&lv, 5, 10, "UpToDate", NULL) == 0);
    CHECK(tcb_info_doc(&s, "SGX", "00906ED50000", wd_buf_str(&lv), &tcb) == 0);
    struct wd_sgx_collateral c = {.tcb_info = wd_buf_slice(&tcb),
                                  .signing_chain = wd_buf_slice(&s.tcb_der)};
    struct wd_sgx_cache *cache = NULL;
    CHECK_ERR(wd_sgx_cache_new(0, &cache), WD_EINVAL);
    CHECK_OK(wd_sgx_cache_new(2, &cache));
    struct wd_sgx_result res;
    struct wd_diag d;
    uint64_t hits, misses;
    wd_clock_pin(T_SYNTH);
    int r1 = sgx_verify_anchor(&s.anchor, cache, q.p, q.len, &c, NULL, &res, &d);
    wd_sgx_cache_stats(cache, &hits, &misses);
    bool s1 = hits == 0 && misses == 2; /* the PCK chain and the collateral */
    int r2 = sgx_verify_anchor(&s.anchor, cache, q.p, q.len, &c, NULL, &res, &d);
    wd_sgx_cache_stats(cache, &hits, &misses);
    bool s2 = hits == 2 && misses == 2 && res.claims.tcb_status == WD_SGX_TCB_UP_TO_DATE;
    /* a flipped bit is still caught with a warm cache */
    q.p[48 + 70] ^= 1;
    int r3 = sgx_verify_anchor(&s.anchor, cache, q.p, q.len, &c, NULL, &res, &d);
    enum wd_sgx_reason w3 = res.reason;
    q.p[48 + 70] ^= 1;
    /* the same bytes under Intel's anchor do not hit the test anchor's entries */
    int r4 = wd_sgx_verify_cached(cache, q.p, q.len, &c, NULL, &res, &d);
    enum wd_sgx_reason w4 = res.reason;
    /* after the TCB info's nextUpdate, a hit is not taken: the reason is as fresh */
    wd_clock_pin(T_SYNTH + 20 * DAY);
    int r5 = sgx_verify_anchor(&s.anchor, cache, q.p, q.len, &c, NULL, &res, &d);
    enum wd_sgx_reason w5 = res.reason;
    wd_clock_unpin();
    wd_sgx_cache_free(cache);
    wd_sgx_cache_free(NULL);
    wd_buf_cleanup(&q);
    wd_buf_cleanup(&lv);
    wd_buf_cleanup(&tcb);
    synth_free(&s);
    CHECK_OK(r1);
    CHECK(s1);
    CHECK_OK(r2);
    CHECK(s2);
    CHECK_ERR(r3, WD_ECRYPTO);
    CHECK_EQ(w3, WD_SGX_ISV_SIGNATURE);
    CHECK_ERR(r4, WD_ECRYPTO);
    CHECK_EQ(w4, WD_SGX_PCK_UNTRUSTED);
    CHECK_ERR(r5, WD_EEXPIRED);
    CHECK_EQ(w5, WD_SGX_COLLATERAL_EXPIRED);
}

struct par {
    struct synth *s;
    struct wd_sgx_cache *cache;
    const struct wd_buf *q;
    const struct wd_sgx_collateral *c;
    int failures;
};

static void *par_run(void *arg)
{
    struct par *p = arg;
    for (int i = 0; i < 25; i++) {
        struct wd_sgx_result res;
        if (sgx_verify_anchor(&p->s->anchor, p->cache, p->q->p, p->q->len, p->c, NULL, &res, NULL)
            != WD_OK) {
            p->failures++;
        }
    }
    return NULL;
}

/* Several threads share one cache (a cache of one entry, so they also evict each other). */
TEST(cache_threads)
{
    struct synth s;
    CHECK(synth_init(&s) == 0);
    struct qspec sp;
    spec_default(&sp);
    struct wd_buf q, lv, tcb;
    CHECK(build_quote(&s, &sp, &q) == 0);
    wd_buf_init(&lv, 1u << 16);
    CHECK(tcb_level(&lv, 5, 10, "UpToDate", NULL) == 0);
    CHECK(tcb_info_doc(&s, "SGX", "00906ED50000", wd_buf_str(&lv), &tcb) == 0);
    struct wd_sgx_collateral c = {.tcb_info = wd_buf_slice(&tcb),
                                  .signing_chain = wd_buf_slice(&s.tcb_der)};
    struct wd_sgx_cache *cache = NULL;
    CHECK_OK(wd_sgx_cache_new(1, &cache));
    wd_clock_pin(T_SYNTH);
    pthread_t th[4];
    struct par ps[4];
    int started = 0;
    for (int i = 0; i < 4; i++) {
        ps[i] = (struct par){&s, cache, &q, &c, 0};
        if (pthread_create(&th[i], NULL, par_run, &ps[i]) == 0) {
            started++;
        }
    }
    int failures = 0;
    for (int i = 0; i < started; i++) {
        (void)pthread_join(th[i], NULL);
        failures += ps[i].failures;
    }
    uint64_t hits = 0, misses = 0;
    wd_sgx_cache_stats(cache, &hits, &misses);
    wd_clock_unpin();
    wd_sgx_cache_free(cache);
    wd_buf_cleanup(&q);
    wd_buf_cleanup(&lv);
    wd_buf_cleanup(&tcb);
    synth_free(&s);
    CHECK_EQ(started, 4);
    CHECK_EQ(failures, 0);
    CHECK_EQ(hits + misses, 4 * 25 * 2);
}

static void cache_reset(struct wd_sgx_cache **c)
{
    wd_sgx_cache_free(*c);
    *c = NULL;
    if (wd_sgx_cache_new(4, c) < 0) {
        *c = NULL;
    }
}

TEST(alloc_sweep)
{
    struct synth s;
    CHECK(synth_init(&s) == 0);
    struct qspec sp;
    spec_default(&sp);
    struct wd_buf q, lv, tcb, qe;
    CHECK(build_quote(&s, &sp, &q) == 0);
    wd_buf_init(&lv, 1u << 16);
    CHECK(tcb_level(&lv, 5, 10, "UpToDate", NULL) == 0);
    CHECK(tcb_info_doc(&s, "SGX", "00906ED50000", wd_buf_str(&lv), &tcb) == 0);
    CHECK(qe_identity_doc(&s, intel_qe_mrsigner, qe_levels, &qe) == 0);
    struct wd_sgx_collateral c = {.tcb_info = wd_buf_slice(&tcb),
                                  .qe_identity = wd_buf_slice(&qe),
                                  .signing_chain = wd_buf_slice(&s.tcb_der)};
    struct wd_sgx_policy pol = policy_for(&sp);
    struct wd_sgx_result res;
    struct wd_sgx_cache *cache = NULL;
    wd_clock_pin(T_SYNTH);
    CHECK_ALLOC_SWEEP(sgx_verify_anchor(&s.anchor, NULL, q.p, q.len, &c, &pol, &res, NULL),
                      (void)0);
    CHECK_ALLOC_SWEEP(wd_sgx_cache_new(4, &cache), (wd_sgx_cache_free(cache), cache = NULL));
    cache_reset(&cache);
    CHECK(cache != NULL);
    CHECK_ALLOC_SWEEP(sgx_verify_anchor(&s.anchor, cache, q.p, q.len, &c, &pol, &res, NULL),
                      cache_reset(&cache));
    /* and with a warm cache */
    CHECK_OK(sgx_verify_anchor(&s.anchor, cache, q.p, q.len, &c, &pol, &res, NULL));
    CHECK_ALLOC_SWEEP(sgx_verify_anchor(&s.anchor, cache, q.p, q.len, &c, &pol, &res, NULL),
                      (void)0);
    wd_clock_unpin();
    wd_sgx_cache_free(cache);
    wd_buf_cleanup(&q);
    wd_buf_cleanup(&lv);
    wd_buf_cleanup(&tcb);
    wd_buf_cleanup(&qe);
    synth_free(&s);
}

int main(void)
{
    RUN(root_pinned);
    RUN(parse_occlum);
    RUN(parse_steward);
    RUN(parse_tdx_refused);
    RUN(parse_tdx_claims);
    RUN(parse_truncated_everywhere);
    RUN(parse_header_rules);
    RUN(verify_occlum);
    RUN(verify_occlum_policy);
    RUN(verify_occlum_times);
    RUN(verify_occlum_flips);
    RUN(verify_occlum_chain);
    RUN(verify_steward);
    RUN(verify_steward_collateral);
    RUN(verify_trustee_collateral);
    RUN(pck_extension_vectors);
    RUN(reason_names);
    RUN(synth_verifies);
    RUN(synth_binding);
    RUN(synth_qe_identity_builtin);
    RUN(synth_policy);
    RUN(synth_tcb_levels);
    RUN(synth_qe_identity);
    RUN(synth_crls);
    RUN(synth_pck_leaf);
    RUN(cache);
    RUN(cache_threads);
    RUN(alloc_sweep);
    return HARNESS_END("sgx");
}
