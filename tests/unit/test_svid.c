/*
 * The CA, X.509-SVID issuance and chain verification: the properties of issued certificates
 * (X509-SVID §2-§4), the go-spiffe x509svid vectors (each wrong-* rejected with its own
 * reason), certificates corrupted after issuance (signature byte, pinned clock, another trust
 * domain's CA), the CA directory layout, and allocation failures.
 */
#include <pthread.h>

#include <openssl/bn.h>

#include "warden/alloc.h"
#include "warden/bundle.h"
#include "warden/clock.h"
#include "warden/pki.h"
#include "warden/rand.h"
#include "warden/svid.h"

#include "harness.h"
#include "pki_testutil.h"

#define VEC SPIFFE_DATA "/x509svid/"
#define T0  1700000000 /* 2023-11-14T22:13:20Z: the pinned "now" of most tests */

static struct wd_spiffe_td td_of(const char *name)
{
    struct wd_spiffe_td td;
    if (wd_spiffe_td_parse(name, strlen(name), &td, NULL, NULL) < 0) {
        memset(&td, 0, sizeof(td));
    }
    return td;
}

static struct wd_spiffe_id id_of(const char *s)
{
    struct wd_spiffe_id id;
    if (wd_spiffe_id_parse(s, strlen(s), &id, NULL, NULL) < 0) {
        memset(&id, 0, sizeof(id));
    }
    return id;
}

static bool has(const char *msg, const char *needle)
{
    if (strstr(msg, needle) == NULL) {
        printf("  message \"%s\" lacks \"%s\"\n", msg, needle);
        return false;
    }
    return true;
}

static int64_t time_of(const ASN1_TIME *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    return ASN1_TIME_to_tm(t, &tm) == 1 ? (int64_t)timegm(&tm) : -1;
}

static bool ext_critical(X509 *x, int nid)
{
    int i = X509_get_ext_by_NID(x, nid, -1);
    return i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

TEST(ca_create_properties)
{
    wd_clock_pin(T0);
    struct wd_spiffe_td td = td_of("example.org");
    struct wd_ca *ca = NULL;
    struct wd_diag d;
    CHECK_OK(wd_ca_create(&td, 10 * 86400, 86400, &ca, &d));
    X509 *root = wd_ca_root(ca), *inter = wd_ca_intermediate(ca);
    CHECK_STR(wd_ca_trust_domain(ca)->name, "example.org");
    CHECK(wd_ca_root_key(ca) != NULL);
    CHECK(wd_key_matches_cert(wd_ca_intermediate_key(ca), inter));
    /* Root: self-signed CA, keyCertSign + cRLSign, both extensions critical. */
    CHECK(X509_check_issued(root, root) == X509_V_OK);
    CHECK((X509_get_extension_flags(root) & EXFLAG_CA) != 0);
    CHECK_EQ(X509_get_key_usage(root), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    CHECK(ext_critical(root, NID_basic_constraints));
    CHECK(ext_critical(root, NID_key_usage));
    CHECK_EQ(time_of(X509_get0_notAfter(root)), T0 + 10 * 86400);
    CHECK(time_of(X509_get0_notBefore(root)) <= T0);
    /* Intermediate: CA with pathlen 0, signed by the root, shorter life. */
    CHECK(X509_check_issued(root, inter) == X509_V_OK);
    CHECK(X509_verify(inter, X509_get0_pubkey(root)) == 1);
    CHECK_EQ(X509_get_pathlen(inter), 0);
    CHECK_EQ(X509_get_key_usage(inter), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    CHECK_EQ(time_of(X509_get0_notAfter(inter)), T0 + 86400);
    CHECK(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(inter), X509_get0_subject_key_id(root))
          == 0);
    /* Both carry the trust domain's ID (no path) as their only URI SAN. */
    struct wd_spiffe_id id;
    CHECK_OK(wd_cert_spiffe_id(root, &id, NULL, &d));
    CHECK_STR(id.str, "spiffe://example.org");
    CHECK_OK(wd_cert_spiffe_id(inter, &id, NULL, &d));
    CHECK_STR(id.str, "spiffe://example.org");
    wd_ca_free(ca);
    ca = NULL;
    /* The intermediate never outlives the root. */
    CHECK_OK(wd_ca_create(&td, 3600, 86400, &ca, &d));
    CHECK_EQ(time_of(X509_get0_notAfter(wd_ca_intermediate(ca))), T0 + 3600);
    wd_ca_free(ca);
    ca = NULL;
    CHECK_ERR(wd_ca_create(&td, 0, 1, &ca, &d), WD_EINVAL);
    CHECK_ALLOC_SWEEP(wd_ca_create(&td, 86400, 3600, &ca, NULL), (wd_ca_free(ca), ca = NULL));
    wd_clock_unpin();
}

struct fixture {
    struct wd_ca *ca;
    struct wd_bundle *bundle;
    EVP_PKEY *key;
};

static int fixture_init(struct fixture *f, const char *td_name)
{
    struct wd_spiffe_td td = td_of(td_name);
    memset(f, 0, sizeof(*f));
    if (wd_ca_create(&td, WD_CA_ROOT_TTL_DEFAULT, WD_CA_TTL_DEFAULT, &f->ca, NULL) < 0
        || wd_ca_bundle(f->ca, &f->bundle) < 0 || wd_key_generate(&f->key, NULL) < 0) {
        return -1;
    }
    return 0;
}

static void fixture_cleanup(struct fixture *f)
{
    EVP_PKEY_free(f->key);
    wd_bundle_free(f->bundle);
    wd_ca_free(f->ca);
}

static struct wd_claims sample_claims(void)
{
    struct wd_claims c;
    uint8_t m[32];
    memset(m, 0x5a, sizeof(m));
    wd_claims_init(&c);
    if (wd_claims_set_node(&c, "edge-1", NULL) < 0 || wd_claims_set_measurement(&c, m, 32, NULL) < 0
        || wd_claims_set_party(&c, "hospital", NULL) < 0) {
        wd_claims_init(&c);
    }
    wd_claims_set_attest(&c, WD_ATTEST_TPM);
    wd_claims_set_manifest_version(&c, 7);
    return c;
}

TEST(issue_properties)
{
    wd_clock_pin(T0);
    struct fixture f;
    CHECK(fixture_init(&f, "example.org") == 0);
    struct wd_spiffe_id id = id_of("spiffe://example.org/ward/sensor");
    struct wd_claims claims = sample_claims();
    struct wd_diag d;
    X509 *x = NULL, *y = NULL;
    CHECK_OK(wd_svid_issue(f.ca, f.key, &id, 3600, &claims, &x, &d));
    /* Version 3, ECDSA-SHA256, issued by the intermediate, subject O=warden. */
    CHECK_EQ(X509_get_version(x), X509_VERSION_3);
    CHECK_EQ(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
    CHECK(X509_check_issued(wd_ca_intermediate(f.ca), x) == X509_V_OK);
    CHECK(X509_verify(x, X509_get0_pubkey(wd_ca_intermediate(f.ca))) == 1);
    char subj[128];
    X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof(subj));
    CHECK_STR(subj, "/O=warden");
    /* Validity: backdated 30 s, one hour. */
    CHECK_EQ(time_of(X509_get0_notBefore(x)), T0 - 30);
    CHECK_EQ(time_of(X509_get0_notAfter(x)), T0 + 3600);
    /* Serial: positive, random, at most 128 bits. */
    BIGNUM *s1 = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    CHECK(s1 != NULL && !BN_is_negative(s1) && !BN_is_zero(s1) && BN_num_bits(s1) <= 128);
    CHECK_OK(wd_svid_issue(f.ca, f.key, &id, 3600, NULL, &y, &d));
    BIGNUM *s2 = ASN1_INTEGER_to_BN(X509_get0_serialNumber(y), NULL);
    CHECK(BN_cmp(s1, s2) != 0);
    BN_free(s1);
    BN_free(s2);
    /* X509-SVID §4: leaf CA:FALSE critical; keyUsage exactly digitalSignature, critical. */
    uint32_t flags = X509_get_extension_flags(x);
    CHECK((flags & EXFLAG_BCONS) != 0 && (flags & EXFLAG_CA) == 0);
    CHECK(ext_critical(x, NID_basic_constraints));
    CHECK_EQ(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
    CHECK(ext_critical(x, NID_key_usage));
    CHECK_EQ(X509_get_extended_key_usage(x), XKU_SSL_SERVER | XKU_SSL_CLIENT);
    /* Key identifiers: SKI of the leaf key, AKI = the intermediate's SKI. */
    CHECK(X509_get0_subject_key_id(x) != NULL);
    CHECK(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x),
                                X509_get0_subject_key_id(wd_ca_intermediate(f.ca)))
          == 0);
    /* One URI SAN: the ID. */
    struct wd_spiffe_id got;
    size_t uris = 0;
    CHECK_OK(wd_cert_spiffe_id(x, &got, &uris, &d));
    CHECK_EQ(uris, 1);
    CHECK(wd_spiffe_id_eq(&got, &id));
    /* Claims: non-critical, decoding to what was given; absent when not given. */
    bool present = false;
    struct wd_claims back;
    CHECK_OK(wd_cert_claims(x, &present, &back, &d));
    CHECK(present);
    CHECK_STR(back.node, "edge-1");
    CHECK_STR(back.party, "hospital");
    CHECK_EQ(back.attest, WD_ATTEST_TPM);
    CHECK_EQ(back.manifest_version, 7);
    CHECK_MEM(back.measurement, claims.measurement, 32);
    CHECK_OK(wd_cert_claims(y, &present, &back, &d));
    CHECK(!present);
    /* The whole chain verifies and yields the ID and the claims. */
    STACK_OF(X509) *chain = tu_stack(wd_ca_intermediate(f.ca), NULL);
    struct wd_svid_info info;
    enum wd_svid_reason why;
    CHECK_OK(wd_svid_verify(f.bundle, x, chain, &info, &why, &d));
    CHECK_EQ(why, WD_SVID_VALID);
    CHECK_STR(info.id.str, "spiffe://example.org/ward/sensor");
    CHECK(info.has_claims);
    CHECK_STR(info.claims.node, "edge-1");
    CHECK_EQ(info.not_after, T0 + 3600);
    CHECK_OK(wd_svid_verify(f.bundle, y, chain, &info, &why, &d));
    CHECK(!info.has_claims);
    sk_X509_pop_free(chain, X509_free);
    X509_free(y);
    X509_free(x);
    fixture_cleanup(&f);
    wd_clock_unpin();
}

TEST(issue_rules)
{
    wd_clock_pin(T0);
    struct fixture f;
    CHECK(fixture_init(&f, "example.org") == 0);
    struct wd_diag d;
    X509 *x = NULL;
    struct wd_spiffe_id id = id_of("spiffe://example.org/a");
    /* TTL past the intermediate's end is capped to it. */
    int64_t inter_na = time_of(X509_get0_notAfter(wd_ca_intermediate(f.ca)));
    CHECK_OK(wd_svid_issue(f.ca, f.key, &id, 1000LL * 86400 * 365, NULL, &x, &d));
    CHECK_EQ(time_of(X509_get0_notAfter(x)), inter_na);
    X509_free(x);
    x = NULL;
    CHECK_ERR(wd_svid_issue(f.ca, f.key, &id, 0, NULL, &x, &d), WD_EINVAL);
    struct wd_spiffe_id other = id_of("spiffe://example.com/a");
    CHECK_ERR(wd_svid_issue(f.ca, f.key, &other, 60, NULL, &x, &d), WD_EPROTO);
    CHECK_STR(d.msg, "spiffe://example.com/a is not in the CA's trust domain example.org");
    struct wd_spiffe_id root = id_of("spiffe://example.org");
    CHECK_ERR(wd_svid_issue(f.ca, f.key, &root, 60, NULL, &x, &d), WD_EPROTO);
    CHECK(has(d.msg, "has no path"));
    EVP_PKEY *rsa = tu_load_any_key(VEC "key-pkcs8-rsa.pem");
    CHECK_ERR(wd_svid_issue(f.ca, rsa, &id, 60, NULL, &x, &d), WD_EPROTO);
    CHECK(has(d.msg, "public key is RSA 2048"));
    EVP_PKEY_free(rsa);
    /* Invalid claims filled in by hand. */
    struct wd_claims bad;
    wd_claims_init(&bad);
    bad.present = WD_CLAIM_MEASUREMENT;
    bad.measurement_len = 3;
    CHECK_ERR(wd_svid_issue(f.ca, f.key, &id, 60, &bad, &x, &d), WD_EPROTO);
    CHECK(x == NULL);
    /* An expired intermediate issues nothing. */
    wd_clock_pin(inter_na);
    CHECK_ERR(wd_svid_issue(f.ca, f.key, &id, 60, NULL, &x, &d), WD_EEXPIRED);
    wd_clock_pin(T0 - 3600);
    CHECK_ERR(wd_svid_issue(f.ca, f.key, &id, 60, NULL, &x, &d), WD_EEXPIRED);
    /* Just after the CA was made, NotBefore is not before the intermediate's. */
    wd_clock_pin(T0);
    CHECK_OK(wd_svid_issue(f.ca, f.key, &id, 60, NULL, &x, &d));
    CHECK(time_of(X509_get0_notBefore(x))
          >= time_of(X509_get0_notBefore(wd_ca_intermediate(f.ca))));
    X509_free(x);
    x = NULL;
    struct wd_claims c = sample_claims();
    CHECK_ALLOC_SWEEP(wd_svid_issue(f.ca, f.key, &id, 60, &c, &x, NULL), (X509_free(x), x = NULL));
    fixture_cleanup(&f);
    wd_clock_unpin();
}

static enum wd_svid_reason verify_reason(struct wd_bundle *b, X509 *leaf, X509 *inter, int *rc,
                                         struct wd_diag *d);

TEST(issue_der_and_encodings)
{
    struct fixture f;
    wd_clock_pin(T0);
    CHECK(fixture_init(&f, "example.org") == 0);
    struct wd_spiffe_id id = id_of("spiffe://example.org/der");
    struct wd_claims claims = sample_claims();
    struct wd_diag d;
    struct wd_buf der, pem;
    wd_buf_init(&der, 1 << 16);
    wd_buf_init(&pem, 1 << 16);
    /* Many serials from a seeded stream: every one is a minimal positive INTEGER (OpenSSL
     * refuses padded ones) of at most 17 octets, and every certificate verifies. */
    wd_rand_set_test_seed(12345);
    for (int i = 0; i < 300; i++) {
        wd_buf_reset(&der);
        CHECK_OK(wd_svid_issue_der(f.ca, f.key, &id, 60, i % 2 ? &claims : NULL, &der, &d));
        const unsigned char *q = der.p;
        X509 *x = d2i_X509(NULL, &q, (long)der.len);
        CHECK(x != NULL && q == der.p + der.len);
        const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
        CHECK(ASN1_STRING_length(sn) >= 1 && ASN1_STRING_length(sn) <= 16);
        CHECK(ASN1_STRING_type(sn) == V_ASN1_INTEGER); /* not V_ASN1_NEG_INTEGER */
        if (i < 20) {
            CHECK_EQ(verify_reason(f.bundle, x, wd_ca_intermediate(f.ca), &(int){0}, &d),
                     WD_SVID_VALID);
        }
        X509_free(x);
    }
    wd_rand_set_test_seed(0);
    /* PEM from DER without parsing. */
    CHECK_OK(wd_cert_der_to_pem(der.p, der.len, &pem));
    STACK_OF(X509) *sk = NULL;
    CHECK_OK(wd_certs_parse("pem", pem.p, pem.len, &sk, &d));
    CHECK_EQ(sk_X509_num(sk), 1);
    wd_certs_free(sk);
    /* Appending to a full buffer fails and leaves it unchanged. */
    struct wd_buf small;
    wd_buf_init(&small, 100);
    CHECK_ERR(wd_svid_issue_der(f.ca, f.key, &id, 60, NULL, &small, &d), WD_ELIMIT);
    CHECK_EQ(small.len, 0);
    wd_buf_cleanup(&small);
    CHECK_ALLOC_SWEEP(wd_svid_issue_der(f.ca, f.key, &id, 60, &claims, &der, NULL),
                      wd_buf_reset(&der));
    CHECK_OK(wd_svid_issue_der(f.ca, f.key, &id, 60, NULL, &der, &d));
    wd_buf_reset(&pem);
    CHECK_ALLOC_SWEEP(wd_cert_der_to_pem(der.p, der.len, &pem), wd_buf_reset(&pem));
    fixture_cleanup(&f);

    /* Across 2050 the validity switches from UTCTime to GeneralizedTime (RFC 5280
     * 4.1.2.5); OpenSSL reads both back to the same instants. */
    const int64_t t2049 = 2524607400; /* 2049-12-31T23:50:00Z */
    wd_clock_pin(t2049);
    CHECK(fixture_init(&f, "example.org") == 0);
    X509 *x = NULL;
    CHECK_OK(wd_svid_issue(f.ca, f.key, &id, 3600, NULL, &x, &d));
    CHECK_EQ(ASN1_STRING_type(X509_get0_notBefore(x)), V_ASN1_UTCTIME);
    CHECK_EQ(ASN1_STRING_type(X509_get0_notAfter(x)), V_ASN1_GENERALIZEDTIME);
    CHECK_EQ(time_of(X509_get0_notBefore(x)), t2049 - 30);
    CHECK_EQ(time_of(X509_get0_notAfter(x)), t2049 + 3600);
    CHECK_EQ(verify_reason(f.bundle, x, wd_ca_intermediate(f.ca), &(int){0}, &d), WD_SVID_VALID);
    X509_free(x);
    fixture_cleanup(&f);
    wd_buf_cleanup(&der);
    wd_buf_cleanup(&pem);
    wd_clock_unpin();
}

/* Verify leaf (+ intermediate) against bundle; returns the reason. */
static enum wd_svid_reason verify_reason(struct wd_bundle *b, X509 *leaf, X509 *inter, int *rc,
                                         struct wd_diag *d)
{
    STACK_OF(X509) *sk = tu_stack(inter, NULL);
    struct wd_svid_info info;
    enum wd_svid_reason why = WD_SVID_VALID;
    *rc = wd_svid_verify(b, leaf, sk, &info, &why, d);
    sk_X509_pop_free(sk, X509_free);
    return why;
}

TEST(verify_corrupted_and_foreign)
{
    wd_clock_pin(T0);
    struct fixture f, other, twin;
    CHECK(fixture_init(&f, "example.org") == 0);
    CHECK(fixture_init(&other, "other.test") == 0);
    CHECK(fixture_init(&twin, "example.org") == 0); /* same name, different keys */
    struct wd_spiffe_id id = id_of("spiffe://example.org/svc");
    struct wd_diag d;
    int rc;
    X509 *x = NULL;
    CHECK_OK(wd_svid_issue(f.ca, f.key, &id, 600, NULL, &x, &d));
    X509 *inter = wd_ca_intermediate(f.ca);
    CHECK_EQ(verify_reason(f.bundle, x, inter, &rc, &d), WD_SVID_VALID);
    CHECK_OK(rc);

    /* Expired and not yet valid, by moving the pinned clock. */
    wd_clock_pin(T0 + 601);
    CHECK_EQ(verify_reason(f.bundle, x, inter, &rc, &d), WD_SVID_EXPIRED);
    CHECK_ERR(rc, WD_EEXPIRED);
    CHECK_STR(d.msg, "leaf: expired");
    wd_clock_pin(T0 - 31);
    CHECK_EQ(verify_reason(f.bundle, x, inter, &rc, &d), WD_SVID_NOT_YET_VALID);
    CHECK_ERR(rc, WD_EEXPIRED);
    /* OpenSSL treats the NotAfter second itself as expired; one second before is fine. */
    wd_clock_pin(T0 + 599);
    CHECK_EQ(verify_reason(f.bundle, x, inter, &rc, &d), WD_SVID_VALID);
    wd_clock_pin(T0);

    /* Another trust domain's bundle: rejected before any signature check. */
    CHECK_EQ(verify_reason(other.bundle, x, inter, &rc, &d), WD_SVID_WRONG_TRUST_DOMAIN);
    CHECK_ERR(rc, WD_EDENIED);
    CHECK_STR(d.msg, "leaf: trust domain example.org differs from the bundle's other.test");
    /* The same trust domain name but another CA: no path to its authorities. */
    CHECK_EQ(verify_reason(twin.bundle, x, inter, &rc, &d), WD_SVID_UNTRUSTED);
    CHECK_ERR(rc, WD_EDENIED);
    CHECK(has(d.msg, "untrusted"));
    /* Without the intermediate the leaf cannot be chained to the root. */
    CHECK_EQ(verify_reason(f.bundle, x, NULL, &rc, &d), WD_SVID_UNTRUSTED);
    /* A bundle holding the intermediate itself is a valid (partial-chain) anchor. */
    struct wd_bundle *ib = NULL;
    struct wd_spiffe_td td = td_of("example.org");
    CHECK_OK(wd_bundle_new(&td, &ib));
    CHECK_OK(wd_bundle_add(ib, inter));
    CHECK_EQ(verify_reason(ib, x, NULL, &rc, &d), WD_SVID_VALID);
    /* A bundle whose trust domain is unknown cannot check the ID. */
    wd_bundle_set_trust_domain(ib, NULL);
    CHECK_EQ(verify_reason(ib, x, NULL, &rc, &d), WD_SVID_UNKNOWN_TRUST_DOMAIN);
    wd_bundle_free(ib);

    /* A flipped byte in the signature. */
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    CHECK(len > 0);
    der[len - 3] ^= 0x55;
    const unsigned char *q = der;
    X509 *bad = d2i_X509(NULL, &q, len);
    CHECK(bad != NULL);
    CHECK_EQ(verify_reason(f.bundle, bad, inter, &rc, &d), WD_SVID_BAD_SIGNATURE);
    CHECK_ERR(rc, WD_ECRYPTO);
    CHECK_STR(d.msg, "leaf: bad signature");
    X509_free(bad);
    OPENSSL_free(der);
    /* A leaf of the other CA presented with our intermediate and our ID: signature fails or
     * no path (depending on how OpenSSL matches the issuer); never valid. */
    X509 *forged = NULL;
    struct wd_spiffe_id oid = id_of("spiffe://other.test/svc");
    CHECK_OK(wd_svid_issue(other.ca, other.key, &oid, 600, NULL, &forged, &d));
    CHECK_EQ(verify_reason(other.bundle, forged, wd_ca_intermediate(other.ca), &rc, &d),
             WD_SVID_VALID);
    CHECK(verify_reason(f.bundle, forged, inter, &rc, &d) != WD_SVID_VALID);
    X509_free(forged);
    X509_free(x);
    fixture_cleanup(&twin);
    fixture_cleanup(&other);
    fixture_cleanup(&f);
    wd_clock_unpin();
}

/* Certificates made by hand and signed by a real CA, each breaking one rule. */
TEST(verify_rule_per_certificate)
{
    wd_clock_pin(T0);
    struct fixture f;
    CHECK(fixture_init(&f, "example.org") == 0);
    X509 *inter = wd_ca_intermediate(f.ca);
    EVP_PKEY *ik = wd_ca_intermediate_key(f.ca);
    static const uint8_t good_claims[] = {0x30, 0x08, 0x02, 0x01, 0x01, 0x80, 0x03, 'n', '-', '1'};
    static const uint8_t bad_claims[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x85, 0x01, 'x'};
    const char *dsig = "critical,digitalSignature";
    const char *leaf_bc = "critical,CA:FALSE";
    struct {
        const char *name;
        struct tu_cert t;
        enum wd_svid_reason want;
        const char *msg;
    } cases[] = {
            {"good",
             {.uris = {"spiffe://example.org/a"}, .bc = leaf_bc, .ku = dsig},
             WD_SVID_VALID,
             NULL},
            {"good with claims",
             {.uris = {"spiffe://example.org/a"},
              .bc = leaf_bc,
              .ku = dsig,
              .claims_der = good_claims,
              .claims_len = sizeof(good_claims)},
             WD_SVID_VALID,
             NULL},
            {"no SAN", {.bc = leaf_bc, .ku = dsig}, WD_SVID_NO_URI_SAN, "leaf: no URI SAN"},
            {"DNS only",
             {.dns = "a.example.org", .bc = leaf_bc, .ku = dsig},
             WD_SVID_NO_URI_SAN,
             "leaf: no URI SAN"},
            {"two URIs",
             {.uris = {"spiffe://example.org/a", "spiffe://example.org/b"},
              .bc = leaf_bc,
              .ku = dsig},
             WD_SVID_MANY_URI_SANS,
             "leaf: 2 URI SANs"},
            {"bad ID",
             {.uris = {"spiffe://example.org/a/../b"}, .bc = leaf_bc, .ku = dsig},
             WD_SVID_BAD_SPIFFE_ID,
             "'.' or '..' segment"},
            {"no path",
             {.uris = {"spiffe://example.org"}, .bc = leaf_bc, .ku = dsig},
             WD_SVID_LEAF_NO_PATH,
             "has no path"},
            {"CA leaf",
             {.uris = {"spiffe://example.org/a"}, .bc = "critical,CA:TRUE", .ku = dsig},
             WD_SVID_LEAF_IS_CA,
             "leaf: has CA:TRUE"},
            {"no key usage",
             {.uris = {"spiffe://example.org/a"}, .bc = leaf_bc},
             WD_SVID_LEAF_NO_DIGITAL_SIGNATURE,
             "lacks digitalSignature"},
            {"keyEncipherment only",
             {.uris = {"spiffe://example.org/a"}, .bc = leaf_bc, .ku = "critical,keyEncipherment"},
             WD_SVID_LEAF_NO_DIGITAL_SIGNATURE,
             "lacks digitalSignature"},
            {"keyCertSign",
             {.uris = {"spiffe://example.org/a"},
              .bc = leaf_bc,
              .ku = "critical,digitalSignature,keyCertSign"},
             WD_SVID_LEAF_KEY_CERT_SIGN,
             "keyCertSign"},
            {"cRLSign",
             {.uris = {"spiffe://example.org/a"},
              .bc = leaf_bc,
              .ku = "critical,digitalSignature,cRLSign"},
             WD_SVID_LEAF_CRL_SIGN,
             "cRLSign"},
            {"malformed claims",
             {.uris = {"spiffe://example.org/a"},
              .bc = leaf_bc,
              .ku = dsig,
              .claims_der = bad_claims,
              .claims_len = sizeof(bad_claims)},
             WD_SVID_BAD_CLAIMS,
             "leaf: claims extension: unknown field"},
            {"critical claims",
             {.uris = {"spiffe://example.org/a"},
              .bc = leaf_bc,
              .ku = dsig,
              .claims_der = good_claims,
              .claims_len = sizeof(good_claims),
              .claims_crit = 1},
             WD_SVID_BAD_CLAIMS,
             "must not be critical"},
            {"claims twice",
             {.uris = {"spiffe://example.org/a"},
              .bc = leaf_bc,
              .ku = dsig,
              .claims_der = good_claims,
              .claims_len = sizeof(good_claims),
              .claims_copies = 2},
             WD_SVID_BAD_CLAIMS,
             "appears twice"},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        cases[i].t.key = f.key;
        cases[i].t.issuer = inter;
        cases[i].t.issuer_key = ik;
        cases[i].t.nb = T0 - 10;
        cases[i].t.na = T0 + 10;
        X509 *x = tu_make_cert(&cases[i].t);
        CHECK(x != NULL);
        struct wd_diag d;
        int rc;
        enum wd_svid_reason why = verify_reason(f.bundle, x, inter, &rc, &d);
        X509_free(x);
        if (why != cases[i].want) {
            printf("case '%s': %s (%s)\n", cases[i].name, wd_svid_reason_name(why), d.msg);
        }
        CHECK_EQ(why, cases[i].want);
        if (cases[i].msg != NULL) {
            CHECK_ERR(rc, WD_EDENIED);
            CHECK(has(d.msg, cases[i].msg));
        } else {
            CHECK_OK(rc);
        }
    }
    /* Signing certificates: not a CA, no keyCertSign, an ID with a path. */
    struct {
        const char *bc, *ku, *uri;
        enum wd_svid_reason want;
    } icases[] = {
            {"critical,CA:FALSE", "critical,keyCertSign", "spiffe://example.org",
             WD_SVID_INTERMEDIATE_NOT_CA},
            {"critical,CA:TRUE", "critical,digitalSignature", "spiffe://example.org",
             WD_SVID_INTERMEDIATE_NO_KEY_CERT_SIGN},
            {"critical,CA:TRUE", NULL, "spiffe://example.org",
             WD_SVID_INTERMEDIATE_NO_KEY_CERT_SIGN},
            {"critical,CA:TRUE", "critical,keyCertSign", "spiffe://example.org/ca",
             WD_SVID_INTERMEDIATE_ID_HAS_PATH},
            {"critical,CA:TRUE", "critical,keyCertSign", "spiffe://example.org", WD_SVID_VALID},
    };
    EVP_PKEY *k2 = NULL;
    CHECK_OK(wd_key_generate(&k2, NULL));
    for (size_t i = 0; i < WD_ARRAY_LEN(icases); i++) {
        struct tu_cert ti = {.key = k2,
                             .issuer = inter,
                             .issuer_key = ik,
                             .uris = {icases[i].uri},
                             .bc = icases[i].bc,
                             .ku = icases[i].ku,
                             .nb = T0 - 10,
                             .na = T0 + 10};
        X509 *sub = tu_make_cert(&ti);
        struct tu_cert tl = {.key = f.key,
                             .issuer = sub,
                             .issuer_key = k2,
                             .uris = {"spiffe://example.org/x"},
                             .bc = leaf_bc,
                             .ku = dsig,
                             .nb = T0 - 10,
                             .na = T0 + 10};
        X509 *leaf = tu_make_cert(&tl);
        CHECK(sub != NULL && leaf != NULL);
        STACK_OF(X509) *sk = tu_stack(sub, inter);
        struct wd_svid_info info;
        enum wd_svid_reason why;
        struct wd_diag d;
        int rc = wd_svid_verify(f.bundle, leaf, sk, &info, &why, &d);
        if (why != icases[i].want && icases[i].want != WD_SVID_VALID) {
            printf("intermediate case %zu: %s (%s)\n", i, wd_svid_reason_name(why), d.msg);
        }
        if (icases[i].want == WD_SVID_VALID) {
            /* pathlen 0 on the real intermediate forbids a CA below it. */
            CHECK_ERR(rc, WD_EDENIED);
            CHECK_EQ(why, WD_SVID_INVALID_CHAIN);
            CHECK(has(d.msg, "path length"));
        } else {
            CHECK_EQ(why, icases[i].want);
            CHECK(has(d.msg, "intermediate 1: "));
        }
        sk_X509_pop_free(sk, X509_free);
        X509_free(leaf);
        X509_free(sub);
    }
    EVP_PKEY_free(k2);
    /* Distinct names for every reason. */
    for (int a = WD_SVID_VALID; a <= WD_SVID_INVALID_CHAIN; a++) {
        CHECK(strcmp(wd_svid_reason_name((enum wd_svid_reason)a), "unknown") != 0);
        for (int b = a + 1; b <= WD_SVID_INVALID_CHAIN; b++) {
            CHECK(strcmp(wd_svid_reason_name((enum wd_svid_reason)a),
                         wd_svid_reason_name((enum wd_svid_reason)b))
                  != 0);
        }
    }
    struct wd_svid_info info;
    CHECK_ERR(wd_svid_check(NULL, NULL, &info, NULL, NULL), WD_EDENIED);
    fixture_cleanup(&f);
    wd_clock_unpin();
}

/* The go-spiffe x509svid vectors (tests/data/spiffe/README.md says what each one checks). */
struct issuer_job {
    struct fixture *f;
    int failures;
};

static void *issue_many(void *arg)
{
    struct issuer_job *job = arg;
    struct wd_spiffe_id id = id_of("spiffe://example.org/thread");
    struct wd_claims claims = sample_claims();
    /* wd_svid_issue allocates nothing through lib/alloc.c, whose test counters are not
     * thread-safe; it shares the whole issuing path with wd_svid_issue_der. */
    for (int i = 0; i < 40; i++) {
        X509 *x = NULL;
        if (wd_svid_issue(job->f->ca, job->f->key, &id, 60, &claims, &x, NULL) != WD_OK) {
            job->failures++;
        }
        X509_free(x);
    }
    return NULL;
}

/* One CA, several threads issuing at once (the signing context is only ever copied). */
TEST(concurrent_issuance)
{
    struct fixture f;
    CHECK(fixture_init(&f, "example.org") == 0);
    pthread_t th[4];
    struct issuer_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i].f = &f;
        jobs[i].failures = 0;
        CHECK(pthread_create(&th[i], NULL, issue_many, &jobs[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        CHECK(pthread_join(th[i], NULL) == 0);
        CHECK_EQ(jobs[i].failures, 0);
    }
    fixture_cleanup(&f);
}

static int load_chain(const char *file, X509 **leaf, STACK_OF(X509) * *rest)
{
    STACK_OF(X509) *sk = NULL;
    if (wd_certs_load(file, &sk, NULL) < 0) {
        return -1;
    }
    *leaf = sk_X509_shift(sk);
    *rest = sk;
    return 0;
}

TEST(go_spiffe_vectors)
{
    struct {
        const char *file;
        enum wd_svid_reason want;
    } cases[] = {
            {VEC "good-leaf-only.pem", WD_SVID_VALID},
            {VEC "good-leaf-and-intermediate.pem", WD_SVID_VALID},
            {VEC "good-cert-and-key.pem", WD_SVID_VALID},
            {VEC "good-key-and-cert.pem", WD_SVID_VALID},
            {VEC "wrong-intermediate-no-ca.pem", WD_SVID_INTERMEDIATE_NOT_CA},
            {VEC "wrong-intermediate-no-key-cert-sign.pem", WD_SVID_INTERMEDIATE_NO_KEY_CERT_SIGN},
            {VEC "wrong-leaf-ca-true.pem", WD_SVID_LEAF_IS_CA},
            {VEC "wrong-leaf-cert-sign.pem", WD_SVID_LEAF_KEY_CERT_SIGN},
            {VEC "wrong-leaf-crl-sign.pem", WD_SVID_LEAF_CRL_SIGN},
            {VEC "wrong-leaf-empty-id.pem", WD_SVID_NO_URI_SAN},
            {VEC "wrong-leaf-no-digital-signature.pem", WD_SVID_LEAF_NO_DIGITAL_SIGNATURE},
    };
    /* The bundle of the vectors' trust domain: the P-384 root from the spiffebundle vector,
     * which signed the intermediate of good-leaf-and-intermediate.pem. */
    struct wd_spiffe_td td = td_of("example.org");
    struct wd_bundle *bundle = NULL;
    struct wd_diag d;
    CHECK_OK(wd_bundle_load(SPIFFE_DATA "/spiffebundle/spiffebundle_valid_1.json", &td, &bundle,
                            &d));
    /* 2020-03-24T14:30:00Z: inside the validity of every good vector. */
    wd_clock_pin(1585060200);
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        X509 *leaf = NULL;
        STACK_OF(X509) *rest = NULL;
        CHECK(load_chain(cases[i].file, &leaf, &rest) == 0);
        struct wd_svid_info info;
        enum wd_svid_reason why;
        int rc = wd_svid_check(leaf, rest, &info, &why, &d);
        if (why != cases[i].want) {
            printf("%s: %s (%s)\n", cases[i].file, wd_svid_reason_name(why), d.msg);
        }
        CHECK_EQ(why, cases[i].want);
        if (cases[i].want == WD_SVID_VALID) {
            CHECK_OK(rc);
            CHECK_STR(info.id.str, "spiffe://example.org/workload-1");
            CHECK(!info.has_claims);
        } else {
            CHECK_ERR(rc, WD_EDENIED);
            /* Full verification rejects them for the same reason, before any trust check. */
            enum wd_svid_reason why2;
            CHECK_ERR(wd_svid_verify(bundle, leaf, rest, &info, &why2, &d), WD_EDENIED);
            CHECK_EQ(why2, cases[i].want);
        }
        sk_X509_pop_free(rest, X509_free);
        X509_free(leaf);
    }
    /* good-leaf-and-intermediate verifies completely against the bundle root. */
    X509 *leaf = NULL;
    STACK_OF(X509) *rest = NULL;
    CHECK(load_chain(VEC "good-leaf-and-intermediate.pem", &leaf, &rest) == 0);
    struct wd_svid_info info;
    enum wd_svid_reason why;
    CHECK_OK(wd_svid_verify(bundle, leaf, rest, &info, &why, &d));
    CHECK_STR(info.id.str, "spiffe://example.org/workload-1");
    /* The leaf expired at 15:07:40 that day. */
    wd_clock_pin(1585066000);
    CHECK_ERR(wd_svid_verify(bundle, leaf, rest, &info, &why, &d), WD_EEXPIRED);
    CHECK_EQ(why, WD_SVID_EXPIRED);
    /* Without the intermediate there is no path. */
    wd_clock_pin(1585060200);
    CHECK_ERR(wd_svid_verify(bundle, leaf, NULL, &info, &why, &d), WD_EDENIED);
    CHECK_EQ(why, WD_SVID_UNTRUSTED);
    sk_X509_pop_free(rest, X509_free);
    X509_free(leaf);
    /* The self-signed RSA leaf is not trusted by that bundle. */
    CHECK(load_chain(VEC "good-leaf-only.pem", &leaf, &rest) == 0);
    CHECK_ERR(wd_svid_verify(bundle, leaf, rest, &info, &why, &d), WD_EDENIED);
    CHECK_EQ(why, WD_SVID_UNTRUSTED);
    sk_X509_pop_free(rest, X509_free);
    X509_free(leaf);
    wd_bundle_free(bundle);
    wd_clock_unpin();
}

TEST(ca_dir_layout)
{
    char tmp[64], dir[128], path[256];
    CHECK(tu_tmpdir(tmp) == 0);
    (void)snprintf(dir, sizeof(dir), "%s/ca", tmp);
    struct wd_spiffe_td td = td_of("example.org");
    struct wd_diag d;
    mode_t old = umask(022);
    CHECK_OK(wd_ca_init_dir(dir, &td, WD_CA_ROOT_TTL_DEFAULT, WD_CA_TTL_DEFAULT, &d));
    (void)umask(old);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK_EQ(st.st_mode & 07777, 0700);
    static const struct {
        const char *name;
        unsigned mode;
    } files[] = {{"root.pem", 0644},         {"root.key", 0600},   {"intermediate.pem", 0644},
                 {"intermediate.key", 0600}, {"bundle.pem", 0644}, {"bundle.json", 0644},
                 {"ca.json", 0644}};
    for (size_t i = 0; i < WD_ARRAY_LEN(files); i++) {
        (void)snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
        CHECK(stat(path, &st) == 0);
        CHECK_EQ(st.st_mode & 07777, files[i].mode);
    }
    CHECK_EQ(tu_count_entries(dir), 7);
    CHECK_EQ(tu_count_entries(tmp), 1); /* no temporary directory left behind */
    /* bundle.json: sequence 1, the root; bundle.pem: the same root. */
    struct wd_bundle *bj = NULL, *bp = NULL;
    (void)snprintf(path, sizeof(path), "%s/bundle.json", dir);
    CHECK_OK(wd_bundle_load(path, NULL, &bj, &d));
    uint64_t seq = 0;
    CHECK(wd_bundle_sequence(bj, &seq));
    CHECK_EQ(seq, 1);
    CHECK_STR(wd_bundle_trust_domain(bj)->name, "example.org");
    (void)snprintf(path, sizeof(path), "%s/bundle.pem", dir);
    CHECK_OK(wd_bundle_load(path, NULL, &bp, &d));
    CHECK_EQ(wd_bundle_count(bp), 1);
    CHECK(X509_cmp(wd_bundle_cert(bp, 0), wd_bundle_cert(bj, 0)) == 0);
    /* Load it back and issue an SVID that verifies with bundle.pem. */
    struct wd_ca *ca = NULL;
    CHECK_OK(wd_ca_load_dir(dir, &ca, &d));
    CHECK(wd_ca_root_key(ca) == NULL);
    CHECK_STR(wd_ca_trust_domain(ca)->name, "example.org");
    EVP_PKEY *k = NULL;
    CHECK_OK(wd_key_generate(&k, NULL));
    struct wd_spiffe_id id = id_of("spiffe://example.org/svc");
    X509 *x = NULL;
    CHECK_OK(wd_svid_issue(ca, k, &id, 60, NULL, &x, &d));
    CHECK_EQ(verify_reason(bp, x, wd_ca_intermediate(ca), &(int){0}, &d), WD_SVID_VALID);
    X509_free(x);
    x = NULL;
    wd_ca_free(ca);
    ca = NULL;
    CHECK_ALLOC_SWEEP(wd_ca_load_dir(dir, &ca, NULL), (wd_ca_free(ca), ca = NULL));

    /* A second init refuses to overwrite, and changes nothing. */
    CHECK_ERR(wd_ca_init_dir(dir, &td, 3600, 60, &d), WD_EEXIST);
    CHECK(has(d.msg, dir));
    CHECK(has(d.msg, "a CA already exists here"));
    CHECK_EQ(tu_count_entries(dir), 7);
    /* A non-empty directory, and a plain file, are refused too. */
    (void)snprintf(path, sizeof(path), "%s/other", tmp);
    CHECK(mkdir(path, 0755) == 0);
    char junk[300];
    (void)snprintf(junk, sizeof(junk), "%s/readme", path);
    CHECK(tu_write(junk, "x", 1) == 0);
    CHECK_ERR(wd_ca_init_dir(path, &td, 3600, 60, &d), WD_EEXIST);
    CHECK(has(d.msg, "not empty"));
    CHECK_ERR(wd_ca_init_dir(junk, &td, 3600, 60, &d), WD_EEXIST);
    CHECK(has(d.msg, "not a directory"));
    /* An existing empty directory is used (and ends up 0700). */
    CHECK(unlink(junk) == 0);
    CHECK(chmod(path, 0755) == 0);
    CHECK_OK(wd_ca_init_dir(path, &td, 3600, 60, &d));
    CHECK(stat(path, &st) == 0);
    CHECK_EQ(st.st_mode & 07777, 0700);

    /* Tampering is caught when loading. */
    char other_dir[300];
    (void)snprintf(other_dir, sizeof(other_dir), "%s/intermediate.key", path);
    (void)snprintf(path, sizeof(path), "%s/intermediate.key", dir);
    struct wd_buf keep;
    CHECK(tu_read(path, &keep) == 0);
    CHECK(rename(other_dir, path) == 0);
    CHECK_ERR(wd_ca_load_dir(dir, &ca, &d), WD_EPROTO);
    CHECK(has(d.msg, "intermediate key does not match the intermediate certificate"));
    CHECK(tu_write(path, keep.p, keep.len) == 0);
    wd_buf_cleanup(&keep);
    (void)snprintf(path, sizeof(path), "%s/ca.json", dir);
    CHECK(tu_read(path, &keep) == 0);
    static const char wrong_td[] = "{\"version\":1,\"trust_domain\":\"example.com\","
                                   "\"created\":\"2024-01-01T00:00:00Z\"}";
    CHECK(tu_write(path, wrong_td, sizeof(wrong_td) - 1) == 0);
    CHECK_ERR(wd_ca_load_dir(dir, &ca, &d), WD_EPROTO);
    CHECK(has(d.msg, "expected spiffe://example.com"));
    static const char v2[] = "{\"version\":2,\"trust_domain\":\"example.org\","
                             "\"created\":\"2024-01-01T00:00:00Z\"}";
    CHECK(tu_write(path, v2, sizeof(v2) - 1) == 0);
    CHECK_ERR(wd_ca_load_dir(dir, &ca, &d), WD_ECONFIG);
    CHECK(has(d.msg, "ca.json:1:12: unsupported CA layout version 2"));
    static const char extra[] = "{\"version\":1,\"trust_domain\":\"example.org\",\"x\":1,"
                                "\"created\":\"2024-01-01T00:00:00Z\"}";
    CHECK(tu_write(path, extra, sizeof(extra) - 1) == 0);
    CHECK_ERR(wd_ca_load_dir(dir, &ca, &d), WD_ECONFIG);
    CHECK(has(d.msg, "unknown key 'x'"));
    CHECK(tu_write(path, keep.p, keep.len) == 0);
    wd_buf_cleanup(&keep);
    CHECK_OK(wd_ca_load_dir(dir, &ca, &d));
    wd_ca_free(ca);
    ca = NULL;
    (void)snprintf(path, sizeof(path), "%s/missing", tmp);
    CHECK_ERR(wd_ca_load_dir(path, &ca, &d), WD_ENOENT);
    CHECK(has(d.msg, "missing: no CA directory here"));

    /* Allocation failure at every point of init: WD_ENOMEM and nothing on disk. */
    (void)snprintf(path, sizeof(path), "%s/swept", tmp);
    int entries = tu_count_entries(tmp);
    for (unsigned long n = 1; n < 100000; n++) {
        wd_alloc_fail_at(n);
        int rc = wd_ca_init_dir(path, &td, 3600, 60, NULL);
        int injected = wd_alloc_injected();
        wd_alloc_fail_at(0);
        if (!injected) {
            CHECK_OK(rc);
            break;
        }
        CHECK_ERR(rc, WD_ENOMEM);
        CHECK_EQ(tu_count_entries(tmp), entries);
    }
    CHECK_EQ(tu_count_entries(tmp), entries + 1);
    EVP_PKEY_free(k);
    wd_bundle_free(bj);
    wd_bundle_free(bp);
    tu_rm_rf(tmp);
}

TEST(ca_from_parts_checks)
{
    wd_clock_pin(T0);
    struct fixture a, b;
    CHECK(fixture_init(&a, "example.org") == 0);
    CHECK(fixture_init(&b, "example.org") == 0);
    struct wd_spiffe_td td = td_of("example.org"), other = td_of("example.com");
    struct wd_ca *ca = NULL;
    struct wd_diag d;
    CHECK_OK(wd_ca_from_parts(&td, wd_ca_root(a.ca), NULL, wd_ca_intermediate(a.ca),
                              wd_ca_intermediate_key(a.ca), &ca, &d));
    wd_ca_free(ca);
    ca = NULL;
    /* Root of another CA did not sign this intermediate. */
    CHECK_ERR(wd_ca_from_parts(&td, wd_ca_root(b.ca), NULL, wd_ca_intermediate(a.ca),
                               wd_ca_intermediate_key(a.ca), &ca, &d),
              WD_ECRYPTO);
    CHECK(has(d.msg, "the root did not sign the intermediate"));
    CHECK_ERR(wd_ca_from_parts(&td, wd_ca_root(a.ca), wd_ca_root_key(b.ca),
                               wd_ca_intermediate(a.ca), wd_ca_intermediate_key(a.ca), &ca, &d),
              WD_EPROTO);
    CHECK(has(d.msg, "root key does not match"));
    CHECK_ERR(wd_ca_from_parts(&other, wd_ca_root(a.ca), NULL, wd_ca_intermediate(a.ca),
                               wd_ca_intermediate_key(a.ca), &ca, &d),
              WD_EPROTO);
    CHECK(has(d.msg, "root certificate: URI SAN is spiffe://example.org, expected "
                     "spiffe://example.com"));
    /* A leaf is not a CA certificate. */
    X509 *leaf = NULL;
    struct wd_spiffe_id id = id_of("spiffe://example.org/x");
    CHECK_OK(wd_svid_issue(a.ca, a.key, &id, 60, NULL, &leaf, &d));
    CHECK_ERR(wd_ca_from_parts(&td, wd_ca_root(a.ca), NULL, leaf, a.key, &ca, &d), WD_EPROTO);
    CHECK(has(d.msg, "intermediate certificate: not a CA certificate"));
    X509_free(leaf);
    fixture_cleanup(&b);
    fixture_cleanup(&a);
    wd_clock_unpin();
}

int main(void)
{
    wd_rand_set_test_seed(0);
    RUN(ca_create_properties);
    RUN(issue_properties);
    RUN(issue_rules);
    RUN(issue_der_and_encodings);
    RUN(verify_corrupted_and_foreign);
    RUN(verify_rule_per_certificate);
    RUN(go_spiffe_vectors);
    RUN(ca_dir_layout);
    RUN(concurrent_issuance);
    RUN(ca_from_parts_checks);
    return HARNESS_END("svid");
}
