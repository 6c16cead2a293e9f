/*
 * bench/attest_sgx: Intel SGX DCAP quote verifications per second, in-process, single
 * thread, on two public vectors (tests/data/sgx), each at a pinned time inside the validity
 * of what it carries:
 *
 *   occlum    trustee's Occlum quote, evidence only (no collateral) at 2025-06-01
 *   steward   Enarx steward's Ice Lake Xeon quote with its collateral (root CA and PCK CA
 *             CRLs, the TCB Signing certificate, TCB info) at 2023-02-01
 *
 * Each is measured twice: uncached (wd_sgx_verify: every call parses the PEM chain, path-
 * validates it to the pinned root (two ECDSA verifications, plus CRLs), and for steward
 * parses the CRLs, the TCB info JSON and checks its signing chain and signature) and cached
 * (wd_sgx_verify_cached: after the first call the verified chain and collateral are found by
 * the SHA-256 of their bytes, leaving the QE report and ISV signatures, two ECDSA P-256
 * verifications, and the checks). "ecdsa" is one ECDSA P-256 verification alone (the
 * floor: a cached verification does two).
 *
 * Usage: attest_sgx [SECONDS] [DATA_DIR]   (1..60, default 2; default tests/data/sgx).
 * Prints one machine-readable line per loop: <loop>: count=N seconds=S rate=R
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "warden/buf.h"
#include "warden/clock.h"
#include "warden/err.h"
#include "warden/file.h"
#include "warden/sgx.h"

#define T_OCCLUM  1748736000 /* 2025-06-01 */
#define T_STEWARD 1675209600 /* 2023-02-01 */

/* Real monotonic seconds (the warden clock is pinned, and its monotonic time with it). */
static double now_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int load(const char *dir, const char *name, struct wd_buf *b)
{
    char path[512];
    struct wd_diag d;
    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    wd_buf_init(b, 1u << 20);
    int rc = wd_file_read(path, 1u << 20, b, &d);
    if (rc != WD_OK) {
        (void)fprintf(stderr, "attest_sgx: %s\n", d.msg);
    }
    return rc;
}

/* One DER TLV at *p; 0 or -1. */
static int tlv(const uint8_t **p, const uint8_t *end, struct wd_slice *val)
{
    const uint8_t *q = *p;
    if (end - q < 2) {
        return -1;
    }
    q++;
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

/* Enarx steward's evidence extension in a CSR: the quote, CRLs, TCB Signing cert, TCB info
 * (the layout is described in tests/unit/test_sgx.c). */
struct steward {
    X509_REQ *req;
    STACK_OF(X509_EXTENSION) * exts;
    struct wd_slice quote, crls[4], signer, tcb_info;
    size_t n_crls;
};

static int steward_load(const struct wd_buf *csr, struct steward *s)
{
    memset(s, 0, sizeof(*s));
    const unsigned char *q = csr->p;
    s->req = d2i_X509_REQ(NULL, &q, (long)csr->len);
    s->exts = s->req != NULL ? X509_REQ_get_extensions(s->req) : NULL;
    const ASN1_OCTET_STRING *v = NULL;
    for (int i = 0; i < sk_X509_EXTENSION_num(s->exts); i++) {
        char txt[64];
        X509_EXTENSION *e = sk_X509_EXTENSION_value(s->exts, i);
        OBJ_obj2txt(txt, sizeof(txt), X509_EXTENSION_get_object(e), 1);
        if (strcmp(txt, "1.3.6.1.4.1.58270.1.2") == 0) {
            v = X509_EXTENSION_get_data(e);
        }
    }
    if (v == NULL) {
        return -1;
    }
    const uint8_t *p = ASN1_STRING_get0_data(v), *end = p + ASN1_STRING_length(v);
    struct wd_slice top, crlseq, crllist, tcb, certs, x;
    if (tlv(&p, end, &top) < 0) {
        return -1;
    }
    p = top.p;
    end = top.p + top.len;
    if (tlv(&p, end, &s->quote) < 0 || tlv(&p, end, &crlseq) < 0 || tlv(&p, end, &tcb) < 0) {
        return -1;
    }
    const uint8_t *cp = crlseq.p;
    if (tlv(&cp, crlseq.p + crlseq.len, &crllist) < 0) {
        return -1;
    }
    for (cp = crllist.p; cp < crllist.p + crllist.len && s->n_crls < 4;) {
        struct wd_slice entry, url;
        if (tlv(&cp, crllist.p + crllist.len, &entry) < 0) {
            return -1;
        }
        const uint8_t *ep = entry.p, *start;
        if (tlv(&ep, entry.p + entry.len, &url) < 0) {
            return -1;
        }
        start = ep;
        if (tlv(&ep, entry.p + entry.len, &x) < 0) {
            return -1;
        }
        s->crls[s->n_crls].p = start;
        s->crls[s->n_crls++].len = (size_t)(ep - start);
    }
    const uint8_t *tp = tcb.p;
    if (tlv(&tp, tcb.p + tcb.len, &certs) < 0 || tlv(&tp, tcb.p + tcb.len, &s->tcb_info) < 0) {
        return -1;
    }
    const uint8_t *xp = certs.p;
    if (tlv(&xp, certs.p + certs.len, &x) < 0) {
        return -1;
    }
    s->signer.p = certs.p;
    s->signer.len = (size_t)(xp - certs.p);
    return 0;
}

static void steward_free(struct steward *s)
{
    sk_X509_EXTENSION_pop_free(s->exts, X509_EXTENSION_free);
    X509_REQ_free(s->req);
}

static int run(const char *name, struct wd_sgx_cache *cache, struct wd_slice quote,
               const struct wd_sgx_collateral *coll, const struct wd_sgx_policy *pol, double secs)
{
    struct wd_sgx_result res;
    struct wd_diag d;
    uint64_t count = 0;
    double start = now_s(), elapsed = 0;
    while (elapsed < secs) {
        /* Check the clock every 16 verifications; one takes well over a microsecond. */
        for (int i = 0; i < 16; i++) {
            int rc = wd_sgx_verify_cached(cache, quote.p, quote.len, coll, pol, &res, &d);
            if (rc != WD_OK) {
                (void)fprintf(stderr, "attest_sgx: %s: %s\n", name, d.msg);
                return rc;
            }
            count++;
        }
        elapsed = now_s() - start;
    }
    printf("%s: count=%llu seconds=%.3f rate=%.1f\n", name, (unsigned long long)count, elapsed,
           (double)count / elapsed);
    return WD_OK;
}

/* One ECDSA P-256 / SHA-256 verification of 384 bytes, repeated (the floor). */
static int run_ecdsa(double secs)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t msg[384] = {1}, sig[80];
    size_t slen = sizeof(sig);
    if (k == NULL || md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) != 1
        || EVP_DigestSign(md, sig, &slen, msg, sizeof(msg)) != 1) {
        EVP_MD_CTX_free(md);
        EVP_PKEY_free(k);
        return WD_ETLS;
    }
    uint64_t count = 0;
    double start = now_s(), elapsed = 0;
    int rc = WD_OK;
    while (elapsed < secs && rc == WD_OK) {
        for (int i = 0; i < 16; i++) {
            if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) != 1
                || EVP_DigestVerify(md, sig, slen, msg, sizeof(msg)) != 1) {
                rc = WD_ETLS;
                break;
            }
            count++;
        }
        elapsed = now_s() - start;
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    if (rc == WD_OK) {
        printf("ecdsa: count=%llu seconds=%.3f rate=%.1f\n", (unsigned long long)count, elapsed,
               (double)count / elapsed);
    }
    return rc;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? strtod(argv[1], NULL) : 2;
    const char *dir = argc > 2 ? argv[2] : "tests/data/sgx";
    if (!(secs >= 1 && secs <= 60)) {
        (void)fprintf(stderr, "usage: attest_sgx [SECONDS 1..60] [DATA_DIR]\n");
        return 2;
    }
    struct wd_buf occlum, csr;
    if (load(dir, "trustee-occlum_quote.dat", &occlum) < 0
        || load(dir, "steward-icelake.signed.tcb.crl.multi.xeon.csr", &csr) < 0) {
        return 1;
    }
    struct steward st;
    int rc = steward_load(&csr, &st);
    if (rc < 0) {
        (void)fprintf(stderr, "attest_sgx: cannot decode the steward CSR\n");
        return 1;
    }
    struct wd_sgx_collateral coll = {.tcb_info = st.tcb_info,
                                     .signing_chain = st.signer,
                                     .crls = st.crls,
                                     .n_crls = st.n_crls};
    /* Evidence checks plus a permissive policy: the figures are the verifier's cost. */
    struct wd_sgx_policy pol_o = {.mrenclaves = NULL,
                                  .allow_debug = true,
                                  .tcb_accept = WD_SGX_TCB_BIT(WD_SGX_TCB_UNKNOWN)};
    struct wd_sgx_policy pol_s = {.tcb_accept = WD_SGX_TCB_BIT(WD_SGX_TCB_OUT_OF_DATE)};
    struct wd_sgx_result res;
    struct wd_sgx_cache *cache = NULL;
    if (wd_sgx_cache_new(16, &cache) < 0) {
        return 1;
    }
    /* Admit exactly the measured enclaves (read from a first verification). */
    uint8_t mre_o[32], mre_s[32];
    wd_clock_pin(T_OCCLUM);
    rc = wd_sgx_verify(occlum.p, occlum.len, NULL, NULL, &res, NULL);
    memcpy(mre_o, res.claims.mrenclave, 32);
    wd_clock_pin(T_STEWARD);
    rc = rc < 0 ? rc : wd_sgx_verify(st.quote.p, st.quote.len, &coll, NULL, &res, NULL);
    memcpy(mre_s, res.claims.mrenclave, 32);
    if (rc < 0) {
        (void)fprintf(stderr, "attest_sgx: the vectors do not verify\n");
        return 1;
    }
    pol_o.mrenclaves = mre_o;
    pol_o.n_mrenclaves = 1;
    pol_s.mrenclaves = mre_s;
    pol_s.n_mrenclaves = 1;
    struct wd_slice oq = {occlum.p, occlum.len};
    wd_clock_pin(T_OCCLUM);
    rc = run("occlum-uncached", NULL, oq, NULL, &pol_o, secs);
    rc = rc < 0 ? rc : run("occlum-cached", cache, oq, NULL, &pol_o, secs);
    wd_clock_pin(T_STEWARD);
    rc = rc < 0 ? rc : run("steward-uncached", NULL, st.quote, &coll, &pol_s, secs);
    rc = rc < 0 ? rc : run("steward-cached", cache, st.quote, &coll, &pol_s, secs);
    rc = rc < 0 ? rc : run_ecdsa(secs);
    wd_clock_unpin();
    wd_sgx_cache_free(cache);
    steward_free(&st);
    wd_buf_cleanup(&occlum);
    wd_buf_cleanup(&csr);
    return rc < 0 ? 1 : 0;
}
