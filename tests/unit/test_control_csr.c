/*
 * Unit tests of warden-control's fast CSR path (src/control/csr.c) against lib/pki's full
 * parser: the same key for every good request, the same verdict for broken ones (bad
 * signatures, other keys, truncation at every byte, bit flips), and the fallback for forms
 * the fast path does not read.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "warden/buf.h"
#include "warden/codec.h"
#include "warden/pki.h"

#include "../../src/control/csr.h"
#include "harness.h"

static int make(EVP_PKEY **key, bool with_id, struct wd_buf *pem)
{
    struct wd_spiffe_id id;
    WD_TRY(wd_key_generate(key, NULL));
    if (with_id) {
        WD_TRY(wd_spiffe_id_parse("spiffe://example.org/web", 24, &id, NULL, NULL));
    }
    return wd_csr_create(*key, with_id ? &id : NULL, false, pem, NULL);
}

/* PEM text of DER der[0..n) */
static int to_pem(const uint8_t *der, size_t n, struct wd_buf *out)
{
    WD_TRY(wd_buf_append_str(out, "-----BEGIN CERTIFICATE REQUEST-----\n"));
    WD_TRY(wd_b64_encode(out, der, n, WD_B64_STD));
    return wd_buf_append_str(out, "\n-----END CERTIFICATE REQUEST-----\n");
}

static int der_of(const struct wd_buf *pem, struct wd_buf *der)
{
    const char *s = strchr(wd_buf_str(pem), '\n') + 1;
    const char *e = strstr(s, "-----END");
    char tmp[8192];
    size_t k = 0;
    for (const char *c = s; c < e && k < sizeof(tmp); c++) {
        if (*c != '\n') {
            tmp[k++] = *c;
        }
    }
    return wd_b64_decode(der, tmp, k, WD_B64_STD);
}

TEST(same_key)
{
    for (int with_id = 0; with_id < 2; with_id++) {
        EVP_PKEY *k = NULL, *got = NULL, *got2 = NULL;
        struct wd_buf pem;
        wd_buf_init(&pem, 65536);
        CHECK_OK(make(&k, with_id, &pem));
        CHECK_OK(srv_csr_key_fast((const char *)pem.p, pem.len, &got));
        CHECK(EVP_PKEY_eq(k, got) == 1);
        CHECK_OK(srv_csr_key((const char *)pem.p, pem.len, &got2, NULL));
        CHECK(EVP_PKEY_eq(k, got2) == 1);
        EVP_PKEY_free(k);
        EVP_PKEY_free(got);
        EVP_PKEY_free(got2);
        wd_buf_cleanup(&pem);
    }
    /* "NEW CERTIFICATE REQUEST" armour and CRLF line ends */
    EVP_PKEY *k = NULL, *got = NULL;
    struct wd_buf pem, der, alt;
    wd_buf_init(&pem, 65536);
    wd_buf_init(&der, 65536);
    wd_buf_init(&alt, 65536);
    CHECK_OK(make(&k, false, &pem));
    CHECK_OK(der_of(&pem, &der));
    CHECK_OK(wd_buf_append_str(&alt, "\r\n-----BEGIN NEW CERTIFICATE REQUEST-----\r\n"));
    CHECK_OK(wd_b64_encode(&alt, der.p, der.len, WD_B64_STD));
    CHECK_OK(wd_buf_append_str(&alt, "\r\n-----END NEW CERTIFICATE REQUEST-----\r\n"));
    CHECK_OK(srv_csr_key_fast((const char *)alt.p, alt.len, &got));
    CHECK(EVP_PKEY_eq(k, got) == 1);
    EVP_PKEY_free(got);
    /* mismatched armour, two blocks, text after the block: not the fast form */
    wd_buf_reset(&alt);
    CHECK_OK(wd_buf_append_str(&alt, "-----BEGIN CERTIFICATE REQUEST-----\n"));
    CHECK_OK(wd_b64_encode(&alt, der.p, der.len, WD_B64_STD));
    CHECK_OK(wd_buf_append_str(&alt, "\n-----END NEW CERTIFICATE REQUEST-----\n"));
    CHECK_ERR(srv_csr_key_fast((const char *)alt.p, alt.len, &got), WD_EPROTO);
    CHECK(srv_csr_key((const char *)alt.p, alt.len, &got, NULL) != WD_OK);
    wd_buf_reset(&alt);
    CHECK_OK(wd_buf_append(&alt, pem.p, pem.len));
    CHECK_OK(wd_buf_append(&alt, pem.p, pem.len));
    CHECK_ERR(srv_csr_key_fast((const char *)alt.p, alt.len, &got), WD_EPROTO);
    CHECK(srv_csr_key((const char *)alt.p, alt.len, &got, NULL) != WD_OK);
    EVP_PKEY_free(k);
    wd_buf_cleanup(&pem);
    wd_buf_cleanup(&der);
    wd_buf_cleanup(&alt);
}

/* Every byte flipped and every truncation: the fast path never accepts what lib/pki refuses. */
TEST(mutations)
{
    EVP_PKEY *k = NULL;
    struct wd_buf pem, der, mut;
    wd_buf_init(&pem, 65536);
    wd_buf_init(&der, 65536);
    wd_buf_init(&mut, 65536);
    CHECK_OK(make(&k, true, &pem));
    CHECK_OK(der_of(&pem, &der));
    size_t fast_ok = 0;
    for (size_t i = 0; i < der.len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            der.p[i] ^= (uint8_t)(1u << bit);
            wd_buf_reset(&mut);
            CHECK_OK(to_pem(der.p, der.len, &mut));
            EVP_PKEY *got = NULL;
            int fr = srv_csr_key_fast((const char *)mut.p, mut.len, &got);
            struct wd_csr *csr = NULL;
            int sr = wd_csr_parse("m", mut.p, mut.len, &csr, NULL);
            if (fr == WD_OK) {
                fast_ok++;
                /* only bits of the ignored subject or attributes may change and still pass */
                CHECK(EVP_PKEY_eq(got, k) == 1);
            }
            if (sr == WD_OK && fr != WD_OK) {
                /* the full parser accepts a form the fast one does not read: fallback works */
                EVP_PKEY *g2 = NULL;
                CHECK_OK(srv_csr_key((const char *)mut.p, mut.len, &g2, NULL));
                EVP_PKEY_free(g2);
            }
            EVP_PKEY_free(got);
            wd_csr_free(csr);
            der.p[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* a flipped byte is covered by the signature, except in the outer framing: few pass */
    CHECK(fast_ok < der.len / 4);
    for (size_t n = 0; n < der.len; n++) {
        wd_buf_reset(&mut);
        CHECK_OK(to_pem(der.p, n, &mut));
        EVP_PKEY *got = NULL;
        CHECK(srv_csr_key_fast((const char *)mut.p, mut.len, &got) != WD_OK);
        CHECK(srv_csr_key((const char *)mut.p, mut.len, &got, NULL) != WD_OK);
    }
    EVP_PKEY_free(k);
    wd_buf_cleanup(&pem);
    wd_buf_cleanup(&der);
    wd_buf_cleanup(&mut);
}

TEST(other_keys)
{
    /* an RSA request: not the fast form, and lib/pki refuses it too */
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    CHECK(rsa != NULL);
    X509_REQ *req = X509_REQ_new();
    CHECK(req != NULL);
    CHECK(X509_REQ_set_pubkey(req, rsa) == 1);
    CHECK(X509_REQ_sign(req, rsa, EVP_sha256()) > 0);
    BIO *bio = BIO_new(BIO_s_mem());
    CHECK(PEM_write_bio_X509_REQ(bio, req) == 1);
    char *p = NULL;
    long n = BIO_get_mem_data(bio, &p);
    EVP_PKEY *got = NULL;
    CHECK_ERR(srv_csr_key_fast(p, (size_t)n, &got), WD_EPROTO);
    struct wd_diag d;
    CHECK(srv_csr_key(p, (size_t)n, &got, &d) != WD_OK);
    CHECK(strstr(d.msg, "RSA") != NULL || strstr(d.msg, "P-256") != NULL);
    BIO_free(bio);
    X509_REQ_free(req);
    EVP_PKEY_free(rsa);
    /* garbage */
    CHECK_ERR(srv_csr_key_fast("hello", 5, &got), WD_EPROTO);
    CHECK(srv_csr_key("hello", 5, &got, NULL) != WD_OK);
}

TEST(alloc_sweep)
{
    EVP_PKEY *k = NULL, *got = NULL;
    struct wd_buf pem;
    wd_buf_init(&pem, 65536);
    CHECK_OK(make(&k, false, &pem));
    CHECK_ALLOC_SWEEP(srv_csr_key_fast((const char *)pem.p, pem.len, &got),
                      (EVP_PKEY_free(got), got = NULL));
    EVP_PKEY_free(k);
    wd_buf_cleanup(&pem);
}

int main(void)
{
    RUN(same_key);
    RUN(mutations);
    RUN(other_keys);
    RUN(alloc_sweep);
    return HARNESS_END("control_csr");
}
