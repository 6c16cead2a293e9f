/*
 * Unit tests for the TEE evidence CSR extension (lib/attest/evidence.c): exact DER, round
 * trips, every strict-DER rule, truncation at every offset, the extensionRequest placement
 * (with wd_csr_parse accepting the signed request), and the key + nonce binding.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/err.h"
#include "warden/evidence.h"
#include "warden/pki.h"
#include "warden/spiffe.h"

#include "harness.h"

static const uint8_t report[] = {0xde, 0xad, 0xbe, 0xef, 0x01};
static const uint8_t nonce16[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const uint8_t chain[] = {'c', 'h'};

/* The DER of {1, "sgx", de ad be ef 01, 00..0f, [0] "ch"}. */
static const uint8_t golden[] = {
        0x30, 0x25, 0x02, 0x01, 0x01, 0x0c, 0x03, 's',  'g',  'x',  0x04, 0x05, 0xde,
        0xad, 0xbe, 0xef, 0x01, 0x04, 0x10, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
        0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x80, 0x02, 'c',  'h',
};

static struct wd_evidence sample(bool with_chain)
{
    struct wd_evidence ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = WD_ATTEST_SGX;
    ev.evidence = (struct wd_slice){report, sizeof(report)};
    ev.nonce = (struct wd_slice){nonce16, sizeof(nonce16)};
    ev.has_chain = with_chain;
    if (with_chain) {
        ev.chain = (struct wd_slice){chain, sizeof(chain)};
    }
    return ev;
}

static bool slice_is(struct wd_slice s, const uint8_t *p, size_t n)
{
    return s.len == n && memcmp(s.p, p, n) == 0;
}

/* Decoding must fail with exactly this reason. */
static bool refused(const uint8_t *p, size_t n, const char *reason)
{
    struct wd_evidence ev;
    const char *why = NULL;
    int rc = wd_evidence_decode(p, n, &ev, &why);
    if (rc != WD_EPROTO || why == NULL || strcmp(why, reason) != 0) {
        printf("  decode gave %d (%s), want \"%s\"\n", rc, why ? why : "-", reason);
        return false;
    }
    return ev.evidence.p == NULL && ev.nonce.p == NULL;
}

TEST(encode_golden)
{
    struct wd_evidence ev = sample(true);
    struct wd_buf b;
    wd_buf_init(&b, WD_EVIDENCE_DER_MAX);
    CHECK_OK(wd_evidence_encode(&ev, &b));
    CHECK_EQ(b.len, sizeof(golden));
    CHECK_MEM(b.p, golden, sizeof(golden));
    wd_buf_cleanup(&b);
}

TEST(round_trip)
{
    static uint8_t big[WD_EVIDENCE_MAX];
    static uint8_t nonce64[64];
    const enum wd_attest types[] = {WD_ATTEST_SEV_SNP, WD_ATTEST_SGX, WD_ATTEST_SIM};
    for (size_t i = 0; i < sizeof(big); i++) {
        big[i] = (uint8_t)(i * 7);
    }
    memset(nonce64, 0x5a, sizeof(nonce64));
    /* (evidence length, chain length or 0, nonce length): every length-octet form. */
    const size_t cases[][3] = {
            {1, 0, 16},
            {127, 0, 16},
            {128, 1, 64},
            {255, 255, 17},
            {256, 256, 63},
            {65535, 0, 16},
            {WD_EVIDENCE_MAX, 0, 16},
            {WD_EVIDENCE_MAX, WD_EVIDENCE_MAX, 64},
    };
    for (size_t t = 0; t < WD_ARRAY_LEN(types); t++) {
        for (size_t c = 0; c < WD_ARRAY_LEN(cases); c++) {
            struct wd_evidence ev, back;
            memset(&ev, 0, sizeof(ev));
            ev.type = types[t];
            ev.evidence = (struct wd_slice){big, cases[c][0]};
            ev.nonce = (struct wd_slice){nonce64, cases[c][2]};
            ev.has_chain = cases[c][1] > 0;
            ev.chain = (struct wd_slice){ev.has_chain ? big : NULL, cases[c][1]};
            struct wd_buf b, again;
            wd_buf_init(&b, WD_EVIDENCE_DER_MAX);
            wd_buf_init(&again, WD_EVIDENCE_DER_MAX);
            CHECK_OK(wd_evidence_encode(&ev, &b));
            CHECK(b.len <= WD_EVIDENCE_DER_MAX);
            const char *why = NULL;
            CHECK_OK(wd_evidence_decode(b.p, b.len, &back, &why));
            CHECK_EQ(back.type, types[t]);
            CHECK(slice_is(back.evidence, big, cases[c][0]));
            CHECK(slice_is(back.nonce, nonce64, cases[c][2]));
            CHECK_EQ(back.has_chain, ev.has_chain);
            if (back.has_chain) {
                CHECK(slice_is(back.chain, big, cases[c][1]));
            }
            CHECK_OK(wd_evidence_encode(&back, &again));
            CHECK_EQ(again.len, b.len);
            CHECK_MEM(again.p, b.p, b.len);
            wd_buf_cleanup(&b);
            wd_buf_cleanup(&again);
        }
    }
}

TEST(decode_golden_without_chain)
{
    uint8_t d[sizeof(golden) - 4];
    memcpy(d, golden, sizeof(d));
    d[1] = (uint8_t)(sizeof(d) - 2);
    struct wd_evidence ev;
    CHECK_OK(wd_evidence_decode(d, sizeof(d), &ev, NULL));
    CHECK(!ev.has_chain);
    CHECK_EQ(ev.type, WD_ATTEST_SGX);
    CHECK(slice_is(ev.evidence, report, sizeof(report)));
    CHECK(slice_is(ev.nonce, nonce16, sizeof(nonce16)));
}

TEST(encode_invalid)
{
    struct wd_buf b;
    wd_buf_init(&b, WD_EVIDENCE_DER_MAX);
    static uint8_t big[WD_EVIDENCE_MAX + 1];
    uint8_t n65[65] = {0};
    struct wd_evidence ev = sample(false);
    ev.type = WD_ATTEST_TPM;
    CHECK_ERR(wd_evidence_encode(&ev, &b), WD_EINVAL);
    ev.type = (enum wd_attest)99;
    CHECK_ERR(wd_evidence_encode(&ev, &b), WD_EINVAL);
    ev = sample(false);
    ev.nonce.len = 15;
    CHECK_ERR(wd_evidence_encode(&ev, &b), WD_EINVAL);
    ev.nonce = (struct wd_slice){n65, 65};
    CHECK_ERR(wd_evidence_encode(&ev, &b), WD_EINVAL);
    ev = sample(false);
    ev.evidence.len = 0;
    CHECK_ERR(wd_evidence_encode(&ev, &b), WD_EINVAL);
    ev.evidence = (struct wd_slice){big, sizeof(big)};
    CHECK_ERR(wd_evidence_encode(&ev, &b), WD_EINVAL);
    ev = sample(true);
    ev.chain.len = 0;
    CHECK_ERR(wd_evidence_encode(&ev, &b), WD_EINVAL);
    ev.chain = (struct wd_slice){big, sizeof(big)};
    CHECK_ERR(wd_evidence_encode(&ev, &b), WD_EINVAL);
    CHECK_ERR(wd_evidence_encode(NULL, &b), WD_EINVAL);
    CHECK_EQ(b.len, 0);
    wd_buf_cleanup(&b);
}

/* Copy golden with bytes [at, at+cut) replaced by ins[0..nins), fixing the outer length. */
static size_t splice(uint8_t *out, size_t at, size_t cut, const uint8_t *ins, size_t nins)
{
    size_t n = 0;
    memcpy(out, golden, at);
    n = at;
    if (nins > 0) {
        memcpy(out + n, ins, nins);
    }
    n += nins;
    memcpy(out + n, golden + at + cut, sizeof(golden) - at - cut);
    n += sizeof(golden) - at - cut;
    out[1] = (uint8_t)(n - 2);
    return n;
}

TEST(decode_strict_der)
{
    uint8_t d[256];
    size_t n;
    CHECK(refused(golden, 0, "empty"));
    CHECK(refused(NULL, 5, "empty"));
    /* Outer structure. */
    memcpy(d, golden, sizeof(golden));
    d[0] = 0x31;
    CHECK(refused(d, sizeof(golden), "not a SEQUENCE"));
    memcpy(d, golden, sizeof(golden));
    d[sizeof(golden)] = 0;
    CHECK(refused(d, sizeof(golden) + 1, "trailing bytes"));
    const uint8_t indef[] = {0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00};
    CHECK(refused(indef, sizeof(indef), "indefinite length"));
    d[0] = 0x30;
    d[1] = 0x81;
    memcpy(d + 2, golden + 2, sizeof(golden) - 2);
    CHECK(refused(d, sizeof(golden) + 1, "non-minimal length")); /* 81 24: short form fits */
    const uint8_t lead0[] = {0x30, 0x82, 0x00, 0x80};
    CHECK(refused(lead0, sizeof(lead0), "non-minimal length"));
    const uint8_t lead0b[] = {0x30, 0x83, 0x00, 0x01, 0x00};
    CHECK(refused(lead0b, sizeof(lead0b), "non-minimal length"));
    const uint8_t huge[] = {0x30, 0x84, 0x01, 0x00, 0x00, 0x00};
    CHECK(refused(huge, sizeof(huge), "length too large"));
    const uint8_t mtag[] = {0x3f, 0x01, 0x00};
    CHECK(refused(mtag, sizeof(mtag), "multi-octet tag"));
    const uint8_t empty_seq[] = {0x30, 0x00};
    CHECK(refused(empty_seq, sizeof(empty_seq), "version missing"));
    /* version */
    const uint8_t v2[] = {0x02, 0x01, 0x02};
    n = splice(d, 2, 3, v2, sizeof(v2));
    CHECK(refused(d, n, "unsupported version"));
    const uint8_t v01[] = {0x02, 0x02, 0x00, 0x01};
    n = splice(d, 2, 3, v01, sizeof(v01));
    CHECK(refused(d, n, "non-minimal integer"));
    const uint8_t v0[] = {0x02, 0x00};
    n = splice(d, 2, 3, v0, sizeof(v0));
    CHECK(refused(d, n, "empty integer"));
    const uint8_t vneg[] = {0x02, 0x01, 0x81};
    n = splice(d, 2, 3, vneg, sizeof(vneg));
    CHECK(refused(d, n, "unsupported version"));
    const uint8_t vtag[] = {0x0a, 0x01, 0x01}; /* ENUMERATED, not INTEGER */
    n = splice(d, 2, 3, vtag, sizeof(vtag));
    CHECK(refused(d, n, "version missing"));
    /* type */
    const char *bad_types[] = {"tpm", "none", "join-token", "SGX", "sgx ", "", "bogus"};
    for (size_t i = 0; i < WD_ARRAY_LEN(bad_types); i++) {
        uint8_t t[16];
        size_t tl = strlen(bad_types[i]);
        t[0] = 0x0c;
        t[1] = (uint8_t)tl;
        memcpy(t + 2, bad_types[i], tl);
        n = splice(d, 5, 5, t, tl + 2);
        CHECK(refused(d, n, "unknown evidence type"));
    }
    const uint8_t ttag[] = {0x13, 0x03, 's', 'g', 'x'}; /* PrintableString */
    n = splice(d, 5, 5, ttag, sizeof(ttag));
    CHECK(refused(d, n, "type missing"));
    n = splice(d, 5, 5, NULL, 0);
    CHECK(refused(d, n, "type missing"));
    /* evidence */
    const uint8_t e0[] = {0x04, 0x00};
    n = splice(d, 10, 7, e0, sizeof(e0));
    CHECK(refused(d, n, "evidence must be 1 to 65536 bytes"));
    const uint8_t etag[] = {0x24, 0x03, 0x04, 0x01, 0x00}; /* constructed OCTET STRING */
    n = splice(d, 10, 7, etag, sizeof(etag));
    CHECK(refused(d, n, "evidence missing"));
    /* nonce: 15 and 65 bytes, missing, wrong tag */
    uint8_t nn[2 + 65];
    memset(nn, 0x11, sizeof(nn));
    nn[0] = 0x04;
    nn[1] = 15;
    n = splice(d, 17, 18, nn, 2 + 15);
    CHECK(refused(d, n, "nonce must be 16 to 64 bytes"));
    nn[1] = 65;
    n = splice(d, 17, 18, nn, 2 + 65);
    CHECK(refused(d, n, "nonce must be 16 to 64 bytes"));
    n = splice(d, 17, 22, NULL, 0);
    CHECK(refused(d, n, "nonce missing"));
    nn[0] = 0x80;
    nn[1] = 16;
    n = splice(d, 17, 22, nn, 2 + 16);
    CHECK(refused(d, n, "nonce missing"));
    /* chain and unknown fields */
    const uint8_t c0[] = {0x80, 0x00};
    n = splice(d, 35, 4, c0, sizeof(c0));
    CHECK(refused(d, n, "chain must be 1 to 65536 bytes"));
    const uint8_t c1[] = {0x81, 0x01, 0x00};
    n = splice(d, 35, 4, c1, sizeof(c1));
    CHECK(refused(d, n, "unknown field"));
    const uint8_t ca0[] = {0xa0, 0x02, 'c', 'h'};
    n = splice(d, 35, 4, ca0, sizeof(ca0));
    CHECK(refused(d, n, "unknown field"));
    const uint8_t two[] = {0x80, 0x02, 'c', 'h', 0x80, 0x01, 'x'};
    n = splice(d, 35, 4, two, sizeof(two));
    CHECK(refused(d, n, "unknown field"));
    const uint8_t extra[] = {0x80, 0x02, 'c', 'h', 0x05, 0x00};
    n = splice(d, 35, 4, extra, sizeof(extra));
    CHECK(refused(d, n, "unknown field"));
    /* A non-minimal inner length. */
    const uint8_t e81[] = {0x04, 0x81, 0x05, 0xde, 0xad, 0xbe, 0xef, 0x01};
    n = splice(d, 10, 7, e81, sizeof(e81));
    CHECK(refused(d, n, "non-minimal length"));
    /* The sanity of splice itself: replacing a field by itself decodes. */
    struct wd_evidence ev;
    n = splice(d, 35, 4, golden + 35, 4);
    CHECK_OK(wd_evidence_decode(d, n, &ev, NULL));
}

TEST(decode_too_long)
{
    size_t n = WD_EVIDENCE_DER_MAX + 1;
    uint8_t *p = wd_calloc(1, n);
    CHECK(p != NULL);
    p[0] = 0x30;
    bool ok = refused(p, n, "too long");
    wd_free(p);
    CHECK(ok);
    /* Evidence of 65537 bytes, hand-encoded (the encoder refuses to make it). */
    size_t el = WD_EVIDENCE_MAX + 1, body = 3 + 5 + (5 + el) + 18;
    size_t total = 5 + body;
    uint8_t *q = wd_calloc(1, total);
    CHECK(q != NULL);
    size_t k = 0;
    const uint8_t head[] = {0x30,
                            0x83,
                            (uint8_t)(body >> 16),
                            (uint8_t)(body >> 8),
                            (uint8_t)body,
                            0x02,
                            0x01,
                            0x01,
                            0x0c,
                            0x03,
                            's',
                            'g',
                            'x',
                            0x04,
                            0x83,
                            (uint8_t)(el >> 16),
                            (uint8_t)(el >> 8),
                            (uint8_t)el};
    memcpy(q, head, sizeof(head));
    k = sizeof(head) + el;
    q[k++] = 0x04;
    q[k++] = 16;
    k += 16;
    CHECK_EQ(k, total);
    ok = refused(q, total, "evidence must be 1 to 65536 bytes");
    wd_free(q);
    CHECK(ok);
}

TEST(truncation_every_offset)
{
    struct wd_evidence ev;
    for (size_t n = 0; n < sizeof(golden); n++) {
        const char *why = NULL;
        CHECK_ERR(wd_evidence_decode(golden, n, &ev, &why), WD_EPROTO);
        CHECK(why != NULL);
    }
    /* Every prefix with the outer length fixed up is refused too (fields cut short). */
    uint8_t d[sizeof(golden)];
    for (size_t n = 2; n < sizeof(golden); n++) {
        memcpy(d, golden, n);
        d[1] = (uint8_t)(n - 2);
        const char *why = NULL;
        int rc = wd_evidence_decode(d, n, &ev, &why);
        /* Cutting exactly the [0] chain leaves a valid value. */
        if (n == 35) {
            CHECK_OK(rc);
            CHECK(!ev.has_chain);
        } else {
            CHECK_ERR(rc, WD_EPROTO);
        }
    }
}

TEST(flip_every_byte)
{
    /* Any single-byte change either is refused or decodes to something that re-encodes to
     * exactly the changed bytes (one encoding per value). */
    uint8_t d[sizeof(golden)];
    for (size_t i = 0; i < sizeof(golden); i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            memcpy(d, golden, sizeof(d));
            d[i] ^= (uint8_t)(1u << bit);
            struct wd_evidence ev;
            if (wd_evidence_decode(d, sizeof(d), &ev, NULL) == WD_OK) {
                struct wd_buf b;
                wd_buf_init(&b, WD_EVIDENCE_DER_MAX);
                CHECK_OK(wd_evidence_encode(&ev, &b));
                CHECK_EQ(b.len, sizeof(d));
                CHECK_MEM(b.p, d, sizeof(d));
                wd_buf_cleanup(&b);
            }
        }
    }
}

/* ---- CSRs ---- */

static EVP_PKEY *p256(void)
{
    return EVP_EC_gen("P-256");
}

/* A request for key with a SPIFFE ID SAN, evidence ev (may be NULL), signed; DER into out. */
static int make_csr(EVP_PKEY *key, const struct wd_evidence *ev, struct wd_buf *out)
{
    int rc = WD_ETLS;
    X509_REQ *req = X509_REQ_new();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
                                              "URI:spiffe://example.org/enclave");
    uint8_t *der = NULL;
    if (req == NULL || exts == NULL || san == NULL || X509_REQ_set_version(req, 0) != 1
        || X509_REQ_set_pubkey(req, key) != 1 || sk_X509_EXTENSION_push(exts, san) <= 0) {
        goto out;
    }
    san = NULL;
    if (X509_REQ_add_extensions(req, exts) != 1) {
        goto out;
    }
    if (ev != NULL) {
        rc = wd_evidence_req_add(req, ev, NULL);
        if (rc != WD_OK) {
            goto out;
        }
        rc = WD_ETLS;
    }
    if (X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
        goto out;
    }
    int n = i2d_X509_REQ(req, &der);
    if (n <= 0) {
        goto out;
    }
    rc = wd_buf_append(out, der, (size_t)n);
out:
    OPENSSL_free(der);
    X509_EXTENSION_free(san);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
    return rc;
}

static X509_REQ *parse_req(const struct wd_buf *b)
{
    const uint8_t *p = b->p;
    return d2i_X509_REQ(NULL, &p, (long)b->len);
}

TEST(csr_round_trip)
{
    EVP_PKEY *key = p256();
    CHECK(key != NULL);
    struct wd_evidence ev = sample(true);
    struct wd_buf csr, der;
    wd_buf_init(&csr, 1u << 20);
    wd_buf_init(&der, WD_EVIDENCE_DER_MAX);
    CHECK_OK(make_csr(key, &ev, &csr));
    /* warden's CSR parser accepts it (signature valid, SAN kept). */
    struct wd_csr *parsed = NULL;
    struct wd_diag d;
    CHECK_OK(wd_csr_parse("csr", csr.p, csr.len, &parsed, &d));
    CHECK(wd_csr_spiffe_id(parsed) != NULL);
    CHECK(EVP_PKEY_eq(wd_csr_pubkey(parsed), key) == 1);
    wd_csr_free(parsed);
    X509_REQ *req = parse_req(&csr);
    CHECK(req != NULL);
    struct wd_evidence back;
    CHECK_OK(wd_evidence_req_get(req, &der, &back, &d));
    CHECK_EQ(der.len, sizeof(golden));
    CHECK_MEM(der.p, golden, sizeof(golden));
    CHECK(slice_is(back.evidence, report, sizeof(report)));
    CHECK(slice_is(back.chain, chain, sizeof(chain)));
    /* Adding it a second time is refused. */
    CHECK_ERR(wd_evidence_req_add(req, &ev, &d), WD_EEXIST);
    /* Extraction works after the SAN, whichever the order. */
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    CHECK(exts != NULL);
    CHECK_EQ(sk_X509_EXTENSION_num(exts), 2);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
    wd_buf_cleanup(&csr);
    wd_buf_cleanup(&der);
    EVP_PKEY_free(key);
}

TEST(csr_without_evidence)
{
    EVP_PKEY *key = p256();
    CHECK(key != NULL);
    struct wd_buf csr, der;
    wd_buf_init(&csr, 1u << 20);
    wd_buf_init(&der, WD_EVIDENCE_DER_MAX);
    CHECK_OK(make_csr(key, NULL, &csr));
    X509_REQ *req = parse_req(&csr);
    struct wd_evidence back;
    struct wd_diag d;
    CHECK_ERR(wd_evidence_req_get(req, &der, &back, &d), WD_ENOENT);
    X509_REQ_free(req);
    /* A request with no extensionRequest at all. */
    req = X509_REQ_new();
    CHECK(req != NULL);
    CHECK_ERR(wd_evidence_req_get(req, &der, &back, &d), WD_ENOENT);
    /* Adding to a request with no extensions yet. */
    struct wd_evidence ev = sample(false);
    CHECK_OK(wd_evidence_req_add(req, &ev, &d));
    CHECK_OK(wd_evidence_req_get(req, &der, &back, &d));
    CHECK(!back.has_chain);
    CHECK_ERR(wd_evidence_req_add(NULL, &ev, &d), WD_EINVAL);
    ev.nonce.len = 3;
    CHECK_ERR(wd_evidence_req_add(req, &ev, &d), WD_EINVAL);
    X509_REQ_free(req);
    wd_buf_cleanup(&csr);
    wd_buf_cleanup(&der);
    EVP_PKEY_free(key);
}

/* A request whose extensionRequest holds the given extensions (built by hand). */
static X509_REQ *req_with(const uint8_t *val, size_t n, int critical, int copies)
{
    X509_REQ *req = X509_REQ_new();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    ASN1_OBJECT *oid = OBJ_txt2obj(WD_TEE_EVIDENCE_OID, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    bool ok = req != NULL && exts != NULL && oid != NULL && os != NULL
              && ASN1_OCTET_STRING_set(os, val, (int)n) == 1;
    for (int i = 0; ok && i < copies; i++) {
        X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, oid, critical, os);
        ok = e != NULL && sk_X509_EXTENSION_push(exts, e) > 0;
        if (!ok) {
            X509_EXTENSION_free(e);
        }
    }
    ok = ok && X509_REQ_add_extensions(req, exts) == 1;
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(oid);
    if (!ok) {
        X509_REQ_free(req);
        return NULL;
    }
    return req;
}

TEST(csr_malformed_extension)
{
    struct wd_buf der;
    struct wd_evidence back;
    struct wd_diag d;
    wd_buf_init(&der, WD_EVIDENCE_DER_MAX);
    X509_REQ *req = req_with(golden, sizeof(golden), 0, 1);
    CHECK(req != NULL);
    CHECK_OK(wd_evidence_req_get(req, &der, &back, &d));
    X509_REQ_free(req);
    req = req_with(golden, sizeof(golden), 1, 1);
    CHECK_ERR(wd_evidence_req_get(req, &der, &back, &d), WD_EPROTO);
    CHECK(strstr(d.msg, "critical") != NULL);
    CHECK(back.evidence.p == NULL);
    X509_REQ_free(req);
    req = req_with(golden, sizeof(golden), 0, 2);
    CHECK_ERR(wd_evidence_req_get(req, &der, &back, &d), WD_EPROTO);
    CHECK(strstr(d.msg, "twice") != NULL);
    X509_REQ_free(req);
    req = req_with(golden, sizeof(golden) - 1, 0, 1);
    CHECK_ERR(wd_evidence_req_get(req, &der, &back, &d), WD_EPROTO);
    CHECK_STR(d.msg, "malformed TEE evidence: truncated");
    CHECK(back.evidence.p == NULL);
    X509_REQ_free(req);
    wd_buf_cleanup(&der);
}

/* ---- binding ---- */

/* The construction of docs/attestation.md, computed the streaming way as a cross-check. */
static void expected_binding(EVP_PKEY *key, const uint8_t *nonce, size_t n, uint8_t out[64])
{
    uint8_t *spki = NULL, h[32];
    unsigned int len = 0;
    int sl = i2d_PUBKEY(key, &spki);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    (void)EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    (void)EVP_DigestUpdate(c, spki, (size_t)sl);
    (void)EVP_DigestFinal_ex(c, h, &len);
    (void)EVP_DigestInit_ex(c, EVP_sha512(), NULL);
    (void)EVP_DigestUpdate(c, "warden-tee-v1", 13);
    (void)EVP_DigestUpdate(c, h, 32);
    (void)EVP_DigestUpdate(c, nonce, n);
    (void)EVP_DigestFinal_ex(c, out, &len);
    EVP_MD_CTX_free(c);
    OPENSSL_free(spki);
}

TEST(binding)
{
    EVP_PKEY *k1 = p256(), *k2 = p256();
    CHECK(k1 != NULL && k2 != NULL);
    uint8_t n2[16], a[64], b[64], c[64], want[64];
    memcpy(n2, nonce16, sizeof(n2));
    n2[15] ^= 1;
    CHECK_OK(wd_evidence_binding(k1, nonce16, sizeof(nonce16), a));
    expected_binding(k1, nonce16, sizeof(nonce16), want);
    CHECK_MEM(a, want, 64);
    CHECK_OK(wd_evidence_binding(k2, nonce16, sizeof(nonce16), b));
    CHECK(memcmp(a, b, 64) != 0); /* another key */
    CHECK_OK(wd_evidence_binding(k1, n2, sizeof(n2), c));
    CHECK(memcmp(a, c, 64) != 0); /* another nonce */
    CHECK_OK(wd_evidence_binding(k1, nonce16, sizeof(nonce16), b));
    CHECK_MEM(a, b, 64); /* deterministic */
    CHECK_ERR(wd_evidence_binding(k1, nonce16, 15, b), WD_EINVAL);
    CHECK_ERR(wd_evidence_binding(k1, nonce16, 65, b), WD_EINVAL);
    CHECK_ERR(wd_evidence_binding(NULL, nonce16, 16, b), WD_EINVAL);

    struct wd_evidence ev = sample(false);
    struct wd_diag d;
    CHECK_OK(wd_evidence_check_binding(k1, &ev, a, &d));
    CHECK_ERR(wd_evidence_check_binding(k2, &ev, a, &d), WD_EDENIED);
    CHECK_STR(d.msg, "report data does not bind the CSR key and nonce");
    ev.nonce = (struct wd_slice){n2, sizeof(n2)};
    CHECK_ERR(wd_evidence_check_binding(k1, &ev, a, &d), WD_EDENIED);
    ev = sample(false);
    a[63] ^= 0x80;
    CHECK_ERR(wd_evidence_check_binding(k1, &ev, a, &d), WD_EDENIED);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}

/* ---- allocation failures ---- */

static int encode_once(void)
{
    struct wd_evidence ev = sample(true);
    struct wd_buf b;
    wd_buf_init(&b, WD_EVIDENCE_DER_MAX);
    int rc = wd_evidence_encode(&ev, &b);
    wd_buf_cleanup(&b);
    return rc;
}

static int req_once(EVP_PKEY *key)
{
    struct wd_evidence ev = sample(true), back;
    struct wd_buf der;
    wd_buf_init(&der, WD_EVIDENCE_DER_MAX);
    X509_REQ *req = X509_REQ_new();
    if (req == NULL || X509_REQ_set_pubkey(req, key) != 1) {
        X509_REQ_free(req);
        return WD_ETLS;
    }
    int rc = wd_evidence_req_add(req, &ev, NULL);
    if (rc == WD_OK) {
        rc = wd_evidence_req_get(req, &der, &back, NULL);
    }
    X509_REQ_free(req);
    wd_buf_cleanup(&der);
    return rc;
}

TEST(alloc_sweep)
{
    EVP_PKEY *key = p256();
    CHECK(key != NULL);
    uint8_t out[64];
    CHECK_ALLOC_SWEEP(encode_once(), (void)0);
    CHECK_ALLOC_SWEEP(req_once(key), (void)0);
    CHECK_ALLOC_SWEEP(wd_evidence_binding(key, nonce16, sizeof(nonce16), out), (void)0);
    EVP_PKEY_free(key);
}

int main(void)
{
    RUN(encode_golden);
    RUN(round_trip);
    RUN(decode_golden_without_chain);
    RUN(encode_invalid);
    RUN(decode_strict_der);
    RUN(decode_too_long);
    RUN(truncation_every_offset);
    RUN(flip_every_byte);
    RUN(csr_round_trip);
    RUN(csr_without_evidence);
    RUN(csr_malformed_extension);
    RUN(binding);
    RUN(alloc_sweep);
    return HARNESS_END("evidence");
}
