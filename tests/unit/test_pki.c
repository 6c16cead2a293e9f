/*
 * lib/pki keys, certificates and CSRs: generation, PEM/DER reading with a precise error for
 * each kind of bad input (go-spiffe x509svid key and certificate vectors included), atomic
 * 0600 key files, SPIFFE IDs from URI SANs, CSR create/parse/verify, allocation failures.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/pki.h"

#include "harness.h"
#include "pki_testutil.h"

#define VEC SPIFFE_DATA "/x509svid/"

static bool has(const char *msg, const char *needle)
{
    if (strstr(msg, needle) == NULL) {
        printf("  message \"%s\" lacks \"%s\"\n", msg, needle);
        return false;
    }
    return true;
}

TEST(key_generate_and_pem)
{
    EVP_PKEY *k = NULL, *back = NULL;
    struct wd_diag d;
    CHECK_OK(wd_key_generate(&k, &d));
    CHECK_OK(wd_key_check_p256(k, "k", "key", &d));
    struct wd_buf b;
    wd_buf_init(&b, 65536);
    CHECK_OK(wd_key_to_pem(k, &b));
    CHECK(strncmp(wd_buf_str(&b), "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
    CHECK_OK(wd_key_parse_pem("mem", b.p, b.len, &back, &d));
    CHECK(EVP_PKEY_eq(k, back) == 1);
    EVP_PKEY_free(back);
    /* The output buffer's cap applies. */
    struct wd_buf small;
    wd_buf_init(&small, 16);
    CHECK_ERR(wd_key_to_pem(k, &small), WD_ELIMIT);
    wd_buf_cleanup(&small);
    CHECK_ALLOC_SWEEP(wd_key_to_pem(k, &b), wd_buf_reset(&b));
    wd_buf_cleanup_secret(&b);
    EVP_PKEY_free(k);
}

TEST(key_save_is_0600_and_atomic)
{
    char dir[64], path[128];
    CHECK(tu_tmpdir(dir) == 0);
    (void)snprintf(path, sizeof(path), "%s/k.key", dir);
    EVP_PKEY *k = NULL, *back = NULL;
    struct wd_diag d;
    CHECK_OK(wd_key_generate(&k, &d));
    mode_t old = umask(0);
    int rc = wd_key_save(path, k, &d);
    (void)umask(old);
    CHECK_OK(rc);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK_EQ(st.st_mode & 07777, 0600);
    /* Overwriting replaces the file and keeps the mode. */
    CHECK(chmod(path, 0644) == 0);
    CHECK_OK(wd_key_save(path, k, &d));
    CHECK(stat(path, &st) == 0);
    CHECK_EQ(st.st_mode & 07777, 0600);
    CHECK_OK(wd_key_load(path, &back, &d));
    CHECK(EVP_PKEY_eq(k, back) == 1);
    EVP_PKEY_free(back);
    back = NULL;
    /* Every allocation failing: a clean WD_ENOMEM, and the file is the old one or new one. */
    CHECK_ALLOC_SWEEP(wd_key_save(path, k, NULL), (void)0);
    CHECK_ALLOC_SWEEP(wd_key_load(path, &back, NULL), (EVP_PKEY_free(back), back = NULL));
    /* A directory that does not exist: nothing written, the path named. */
    char bad[160];
    (void)snprintf(bad, sizeof(bad), "%s/missing/k.key", dir);
    CHECK_ERR(wd_key_save(bad, k, &d), WD_EIO);
    CHECK(has(d.msg, bad));
    /* Only k.key is left in the directory (no temporary files). */
    CHECK_EQ(tu_count_entries(dir), 1);
    EVP_PKEY_free(k);
    tu_rm_rf(dir);
}

struct key_err_case {
    const char *file;
    int rc;
    const char *msg;
};

TEST(key_load_errors_name_file_and_rule)
{
    static const struct key_err_case cases[] = {
            {VEC "not-pem", WD_EPROTO, "not PEM (no -----BEGIN line)"},
            {VEC "corrupt-key.pem", WD_EPROTO, "malformed private key (PKCS#8)"},
            {VEC "key-pkcs8-rsa.pem", WD_EPROTO,
             "private key is RSA 2048; an EC P-256 key is required"},
            {VEC "good-leaf-only.pem", WD_EPROTO, "no private key"},
            {VEC "does-not-exist.pem", WD_ENOENT, "No such file or directory"},
            {VEC, WD_EIO, "is a directory"},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        EVP_PKEY *k = NULL;
        struct wd_diag d;
        int rc = wd_key_load(cases[i].file, &k, &d);
        if (rc != cases[i].rc) {
            printf("case %s: rc %d (%s)\n", cases[i].file, rc, d.msg);
        }
        CHECK_ERR(rc, cases[i].rc);
        CHECK(k == NULL);
        CHECK(has(d.msg, cases[i].file));
        CHECK(has(d.msg, cases[i].msg));
    }
}

TEST(key_parse_variants)
{
    struct wd_diag d;
    EVP_PKEY *k = NULL;
    /* go-spiffe vectors with a P-256 key: alone, and next to a certificate either way round. */
    static const char *const good[] = {VEC "key-pkcs8-ecdsa.pem", VEC "good-cert-and-key.pem",
                                       VEC "good-key-and-cert.pem"};
    for (size_t i = 0; i < WD_ARRAY_LEN(good); i++) {
        CHECK_OK(wd_key_load(good[i], &k, &d));
        EVP_PKEY_free(k);
        k = NULL;
    }
    /* The key and the certificate in good-cert-and-key.pem belong together. */
    STACK_OF(X509) *sk = NULL;
    CHECK_OK(wd_key_load(VEC "good-cert-and-key.pem", &k, &d));
    CHECK_OK(wd_certs_load(VEC "good-cert-and-key.pem", &sk, &d));
    CHECK(wd_key_matches_cert(k, sk_X509_value(sk, 0)));
    EVP_PKEY *other = NULL;
    CHECK_OK(wd_key_generate(&other, &d));
    CHECK(!wd_key_matches_cert(other, sk_X509_value(sk, 0)));
    wd_certs_free(sk);

    /* SEC 1 "EC PRIVATE KEY" is accepted too. */
    BIO *bio = BIO_new(BIO_s_mem());
    CHECK(PEM_write_bio_PrivateKey_traditional(bio, other, NULL, NULL, 0, NULL, NULL) == 1);
    char *mem = NULL;
    long len = BIO_get_mem_data(bio, &mem);
    CHECK(strstr(mem, "BEGIN EC PRIVATE KEY") != NULL);
    EVP_PKEY *back = NULL;
    CHECK_OK(wd_key_parse_pem("sec1", mem, (size_t)len, &back, &d));
    CHECK(EVP_PKEY_eq(back, other) == 1);
    EVP_PKEY_free(back);
    back = NULL;
    BIO_free(bio);

    /* Encrypted PKCS#8 is refused with its own message. */
    bio = BIO_new(BIO_s_mem());
    CHECK(PEM_write_bio_PKCS8PrivateKey(bio, other, EVP_aes_128_cbc(), NULL, 0, NULL,
                                        (void *)"password")
          == 1);
    len = BIO_get_mem_data(bio, &mem);
    CHECK_ERR(wd_key_parse_pem("enc.key", mem, (size_t)len, &back, &d), WD_EPROTO);
    CHECK_STR(d.msg, "enc.key: encrypted private keys are not supported");
    BIO_free(bio);

    /* A P-384 key is the wrong curve. */
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    CHECK(p384 != NULL);
    bio = BIO_new(BIO_s_mem());
    CHECK(PEM_write_bio_PrivateKey(bio, p384, NULL, NULL, 0, NULL, NULL) == 1);
    len = BIO_get_mem_data(bio, &mem);
    CHECK_ERR(wd_key_parse_pem("p384.key", mem, (size_t)len, &back, &d), WD_EPROTO);
    CHECK_STR(d.msg, "p384.key: private key is EC secp384r1; an EC P-256 key is required");
    BIO_free(bio);
    EVP_PKEY_free(p384);

    /* Truncated at every line: an error naming the file, never a crash or a key. */
    struct wd_buf b;
    wd_buf_init(&b, 65536);
    CHECK_OK(wd_key_to_pem(other, &b));
    for (size_t cut = 0; cut + 1 < b.len; cut++) {
        if (b.p[cut] != '\n' && cut % 7 != 0) {
            continue;
        }
        int rc = wd_key_parse_pem("cut.key", b.p, cut, &back, &d);
        CHECK_ERR(rc, WD_EPROTO);
        CHECK(strncmp(d.msg, "cut.key: ", 9) == 0);
    }
    /* Truncation inside the base64 names the PEM problem. */
    CHECK_ERR(wd_key_parse_pem("cut.key", b.p, b.len / 2, &back, &d), WD_EPROTO);
    CHECK(has(d.msg, "truncated or malformed PEM (block 1)"));
    wd_buf_cleanup_secret(&b);
    EVP_PKEY_free(other);
    EVP_PKEY_free(k);
}

TEST(certs_parse_pem_der_and_errors)
{
    STACK_OF(X509) *sk = NULL;
    struct wd_diag d;
    CHECK_OK(wd_certs_load(VEC "good-leaf-and-intermediate.pem", &sk, &d));
    CHECK_EQ(sk_X509_num(sk), 2);
    /* Order is kept: the leaf (workload-1) comes first. */
    struct wd_spiffe_id id;
    CHECK_OK(wd_cert_spiffe_id(sk_X509_value(sk, 0), &id, NULL, &d));
    CHECK_STR(id.str, "spiffe://example.org/workload-1");
    struct wd_buf b;
    wd_buf_init(&b, 1 << 20);
    CHECK_OK(wd_cert_to_der(sk_X509_value(sk, 0), &b));
    STACK_OF(X509) *one = NULL;
    CHECK_OK(wd_certs_parse("der", b.p, b.len, &one, &d));
    CHECK_EQ(sk_X509_num(one), 1);
    CHECK(X509_cmp(sk_X509_value(one, 0), sk_X509_value(sk, 0)) == 0);
    wd_certs_free(one);
    one = NULL;
    /* DER with a trailing byte is refused. */
    CHECK_OK(wd_buf_append_byte(&b, 0));
    CHECK_ERR(wd_certs_parse("der+1", b.p, b.len, &one, &d), WD_EPROTO);
    CHECK_STR(d.msg, "der+1: malformed DER certificate");
    /* PEM round trip. */
    wd_buf_reset(&b);
    CHECK_OK(wd_cert_to_pem(sk_X509_value(sk, 1), &b));
    CHECK_OK(wd_certs_parse("pem", b.p, b.len, &one, &d));
    CHECK(X509_cmp(sk_X509_value(one, 0), sk_X509_value(sk, 1)) == 0);
    wd_certs_free(one);
    one = NULL;
    /* A certificate next to a key is found; the key block is skipped. */
    CHECK_OK(wd_certs_load(VEC "good-key-and-cert.pem", &one, &d));
    CHECK_EQ(sk_X509_num(one), 1);
    wd_certs_free(one);
    one = NULL;

    static const struct key_err_case cases[] = {
            {VEC "corrupt-cert.pem", WD_EPROTO, "malformed certificate (PEM block 1)"},
            {VEC "not-pem", WD_EPROTO, "not a certificate (neither PEM nor DER)"},
            {VEC "key-pkcs8-ecdsa.pem", WD_EPROTO, "no certificate"},
            {VEC "nope.pem", WD_ENOENT, "No such file"},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        int rc = wd_certs_load(cases[i].file, &one, &d);
        CHECK_ERR(rc, cases[i].rc);
        CHECK(has(d.msg, cases[i].file));
        CHECK(has(d.msg, cases[i].msg));
    }
    /* Truncated PEM chains. */
    struct wd_buf f;
    CHECK(tu_read(VEC "good-leaf-and-intermediate.pem", &f) == 0);
    for (size_t cut = 1; cut < f.len; cut += 13) {
        int rc = wd_certs_parse("cut", f.p, cut, &one, &d);
        if (rc == WD_OK) {
            /* Cut after the first END line: a one-certificate file. */
            CHECK_EQ(sk_X509_num(one), 1);
            wd_certs_free(one);
            one = NULL;
        } else {
            CHECK_ERR(rc, WD_EPROTO);
        }
    }
    CHECK_ALLOC_SWEEP(wd_certs_load(VEC "good-leaf-and-intermediate.pem", &one, NULL),
                      (wd_certs_free(one), one = NULL));
    CHECK_ALLOC_SWEEP(wd_cert_to_pem(sk_X509_value(sk, 0), &b), wd_buf_reset(&b));
    CHECK_ALLOC_SWEEP(wd_cert_to_der(sk_X509_value(sk, 0), &b), wd_buf_reset(&b));
    wd_buf_cleanup(&f);
    wd_buf_cleanup(&b);
    wd_certs_free(sk);
}

TEST(cert_times)
{
    STACK_OF(X509) *sk = NULL;
    CHECK_OK(wd_certs_load(VEC "good-leaf-only.pem", &sk, NULL));
    int64_t nb = 0, na = 0;
    CHECK_OK(wd_cert_not_before(sk_X509_value(sk, 0), &nb));
    CHECK_OK(wd_cert_not_after(sk_X509_value(sk, 0), &na));
    CHECK_EQ(nb, 1585594837); /* 2020-03-30T19:00:37Z */
    CHECK_EQ(na, 1743274837); /* 2025-03-29T19:00:37Z */
    wd_certs_free(sk);
}

TEST(cert_spiffe_id_rules)
{
    EVP_PKEY *k = NULL;
    struct wd_diag d;
    struct wd_spiffe_id id;
    size_t count = 99;
    CHECK_OK(wd_key_generate(&k, NULL));
    struct {
        struct tu_cert t;
        int rc;
        size_t count;
        const char *msg;
    } cases[] = {
            {{.key = k, .uris = {"spiffe://td/a"}, .na = 1}, WD_OK, 1, NULL},
            {{.key = k, .na = 1}, WD_EPROTO, 0, "no URI SAN (no subjectAltName)"},
            {{.key = k, .dns = "example.org", .na = 1}, WD_EPROTO, 0, "no URI SAN"},
            {{.key = k, .uris = {"spiffe://td/a", "spiffe://td/b"}, .na = 1},
             WD_EPROTO,
             2,
             "2 URI SANs (an SVID has exactly one)"},
            {{.key = k, .uris = {"https://td/a"}, .na = 1},
             WD_EPROTO,
             1,
             "URI SAN is not a SPIFFE ID: spiffe: ID must start with"},
            {{.key = k, .uris = {"spiffe://TD/a"}, .na = 1},
             WD_EPROTO,
             1,
             "URI SAN is not a SPIFFE ID: spiffe: trust domain contains an upper-case"},
            {{.key = k, .uris = {"spiffe://td/a"}, .dns = "x.example", .na = 1}, WD_OK, 1, NULL},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        X509 *x = tu_make_cert(&cases[i].t);
        CHECK(x != NULL);
        int rc = wd_cert_spiffe_id(x, &id, &count, &d);
        X509_free(x);
        CHECK_ERR(rc, cases[i].rc);
        CHECK_EQ(count, cases[i].count);
        if (cases[i].msg != NULL) {
            CHECK(has(d.msg, cases[i].msg));
        } else {
            CHECK_STR(id.str, "spiffe://td/a");
        }
    }
    EVP_PKEY_free(k);
}

static int csr_roundtrip(EVP_PKEY *k, const struct wd_spiffe_id *id, bool der)
{
    struct wd_buf b;
    wd_buf_init(&b, 65536);
    struct wd_csr *csr = NULL;
    int rc = wd_csr_create(k, id, der, &b, NULL);
    if (rc == WD_OK) {
        rc = wd_csr_parse("csr", b.p, b.len, &csr, NULL);
    }
    wd_csr_free(csr);
    wd_buf_cleanup(&b);
    return rc;
}

TEST(csr_create_parse_verify)
{
    EVP_PKEY *k = NULL;
    struct wd_diag d;
    struct wd_spiffe_id id;
    CHECK_OK(wd_key_generate(&k, &d));
    CHECK_OK(wd_spiffe_id_parse("spiffe://td/w", 13, &id, NULL, NULL));
    for (int der = 0; der < 2; der++) {
        struct wd_buf b;
        wd_buf_init(&b, 65536);
        CHECK_OK(wd_csr_create(k, &id, der != 0, &b, &d));
        if (!der) {
            CHECK(strncmp(wd_buf_str(&b), "-----BEGIN CERTIFICATE REQUEST-----", 35) == 0);
        } else {
            CHECK_EQ(b.p[0], 0x30);
        }
        struct wd_csr *csr = NULL;
        CHECK_OK(wd_csr_parse("csr", b.p, b.len, &csr, &d));
        CHECK(EVP_PKEY_eq(wd_csr_pubkey(csr), k) == 1);
        CHECK(wd_csr_spiffe_id(csr) != NULL);
        CHECK_STR(wd_csr_spiffe_id(csr)->str, "spiffe://td/w");
        wd_csr_free(csr);
        csr = NULL;
        /* Every truncation of the request fails cleanly. */
        for (size_t cut = 0; cut < b.len; cut += der ? 1 : 11) {
            CHECK(wd_csr_parse("cut", b.p, cut, &csr, &d) < 0);
            CHECK(csr == NULL);
        }
        wd_buf_cleanup(&b);
    }
    /* Without an ID. */
    struct wd_buf b;
    wd_buf_init(&b, 65536);
    CHECK_OK(wd_csr_create(k, NULL, true, &b, &d));
    struct wd_csr *csr = NULL;
    CHECK_OK(wd_csr_parse("csr", b.p, b.len, &csr, &d));
    CHECK(wd_csr_spiffe_id(csr) == NULL);
    wd_csr_free(csr);
    csr = NULL;
    /* Flip each byte of the signature (the last bytes of the DER): the proof of possession
     * fails, or the DER no longer parses. */
    for (size_t i = b.len - 8; i < b.len; i++) {
        b.p[i] ^= 0x01;
        int rc = wd_csr_parse("flipped", b.p, b.len, &csr, &d);
        CHECK(rc == WD_ECRYPTO || rc == WD_EPROTO);
        if (rc == WD_ECRYPTO) {
            CHECK(has(d.msg, "flipped: signature does not verify"));
        }
        b.p[i] ^= 0x01;
    }
    /* Trailing bytes after DER. */
    CHECK_OK(wd_buf_append_byte(&b, 0));
    CHECK_ERR(wd_csr_parse("t", b.p, b.len, &csr, &d), WD_EPROTO);
    wd_buf_cleanup(&b);

    /* An RSA key is refused when creating and when parsing. */
    EVP_PKEY *rsa = tu_load_any_key(VEC "key-pkcs8-rsa.pem");
    CHECK(rsa != NULL);
    wd_buf_init(&b, 65536);
    CHECK_ERR(wd_csr_create(rsa, &id, false, &b, &d), WD_EPROTO);
    X509_REQ *req = X509_REQ_new();
    CHECK(X509_REQ_set_pubkey(req, rsa) == 1 && X509_REQ_sign(req, rsa, EVP_sha256()) > 0);
    unsigned char *raw = NULL;
    int len = i2d_X509_REQ(req, &raw);
    CHECK(len > 0);
    CHECK_ERR(wd_csr_parse("rsa.csr", raw, (size_t)len, &csr, &d), WD_EPROTO);
    CHECK_STR(d.msg, "rsa.csr: public key is RSA 2048; an EC P-256 key is required");
    OPENSSL_free(raw);
    raw = NULL;
    /* Version 2 is not PKCS#10 v1. */
    CHECK(X509_REQ_set_pubkey(req, k) == 1 && X509_REQ_set_version(req, 1) == 1
          && X509_REQ_sign(req, k, EVP_sha256()) > 0);
    len = i2d_X509_REQ(req, &raw);
    CHECK_ERR(wd_csr_parse("v2.csr", raw, (size_t)len, &csr, &d), WD_EPROTO);
    CHECK_STR(d.msg, "v2.csr: unsupported request version 2");
    OPENSSL_free(raw);
    raw = NULL;
    /* Two URI SANs, and a URI that is not a SPIFFE ID. */
    static const char *const sans[] = {"URI:spiffe://td/a,URI:spiffe://td/b", "URI:http://x/y"};
    static const char *const msgs[] = {"2 URI SANs (at most one is allowed)",
                                       "URI SAN is not a SPIFFE ID"};
    for (size_t i = 0; i < 2; i++) {
        X509_REQ *r = X509_REQ_new();
        STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, sans[i]);
        CHECK(e != NULL && sk_X509_EXTENSION_push(exts, e) > 0);
        CHECK(X509_REQ_set_pubkey(r, k) == 1 && X509_REQ_add_extensions(r, exts) == 1
              && X509_REQ_sign(r, k, EVP_sha256()) > 0);
        len = i2d_X509_REQ(r, &raw);
        CHECK_ERR(wd_csr_parse("san.csr", raw, (size_t)len, &csr, &d), WD_EPROTO);
        CHECK(has(d.msg, msgs[i]));
        OPENSSL_free(raw);
        raw = NULL;
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
        X509_REQ_free(r);
    }
    X509_REQ_free(req);
    /* PEM inputs without exactly one request. */
    static const char two[] = "-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE "
                              "REQUEST-----\n";
    CHECK_ERR(wd_csr_parse("cert.pem", two, sizeof(two) - 1, &csr, &d), WD_EPROTO);
    CHECK(has(d.msg, "cert.pem: malformed certificate request"));
    struct wd_buf f;
    CHECK(tu_read(VEC "good-leaf-only.pem", &f) == 0);
    CHECK_ERR(wd_csr_parse("cert.pem", f.p, f.len, &csr, &d), WD_EPROTO);
    CHECK(has(d.msg, "cert.pem: no certificate request"));
    wd_buf_cleanup(&f);
    wd_buf_reset(&b);
    CHECK_OK(wd_csr_create(k, &id, false, &b, &d));
    CHECK_OK(wd_csr_create(k, &id, false, &b, &d));
    CHECK_ERR(wd_csr_parse("two.csr", b.p, b.len, &csr, &d), WD_EPROTO);
    CHECK_STR(d.msg, "two.csr: more than one certificate request");
    CHECK_ERR(wd_csr_parse("junk", "hello", 5, &csr, &d), WD_EPROTO);
    CHECK(has(d.msg, "junk: malformed certificate request (neither PEM nor DER)"));
    wd_buf_cleanup(&b);

    CHECK_ALLOC_SWEEP(csr_roundtrip(k, &id, false), (void)0);
    CHECK_ALLOC_SWEEP(csr_roundtrip(k, NULL, true), (void)0);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(k);
}

int main(void)
{
    RUN(key_generate_and_pem);
    RUN(key_save_is_0600_and_atomic);
    RUN(key_load_errors_name_file_and_rule);
    RUN(key_parse_variants);
    RUN(certs_parse_pem_der_and_errors);
    RUN(cert_times);
    RUN(cert_spiffe_id_rules);
    RUN(csr_create_parse_verify);
    return HARNESS_END("pki");
}
