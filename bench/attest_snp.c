/*
 * bench/attest_snp: AMD SEV-SNP report verifications per second, in-process, single
 * thread, on the trustee Milan vector (tests/data/sev-snp: report version 2 + VCEK), with
 * the validation time pinned inside the VCEK's validity. Two loops of SECONDS each:
 *
 *   uncached  wd_snp_verify(NULL, ...): every verification parses the pinned ARK and ASK,
 *             checks the ARK's fingerprint and self-signature and the ASK (two RSA-4096
 *             PSS verifications), parses the VCEK and checks its RSA-PSS signature, then
 *             the report's ECDSA P-384 signature and the policy
 *   cached    wd_snp_verify with a struct wd_snp_cache: after the first call, the VCEK is
 *             found by the SHA-256 of its bytes, so a verification is one SHA-256, one
 *             ECDSA P-384 verification and the checks
 *   ecdsa     EVP_DigestVerify of the report's signature alone with the VCEK's key (the
 *             floor of a verification), for reference
 *
 * Usage: attest_snp [SECONDS] [DATA_DIR]   (1..60, default 2; default tests/data/sev-snp).
 * Prints one machine-readable line per loop: <loop>: count=N seconds=S rate=R
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "warden/buf.h"
#include "warden/clock.h"
#include "warden/err.h"
#include "warden/file.h"
#include "warden/snp.h"

/* 2025-06-01T00:00:00Z, inside the trustee VCEK's validity (2023-01-24 .. 2030-01-24). */
#define T_VECTOR 1748736000

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
        (void)fprintf(stderr, "attest_snp: %s\n", d.msg);
    }
    return rc;
}

static int run(const char *name, struct wd_snp_cache *cache, const struct wd_buf *rep,
               const struct wd_buf *vcek, double secs)
{
    struct wd_snp_policy pol;
    struct wd_snp_result res;
    struct wd_diag d;
    wd_snp_policy_init(&pol);
    pol.any_measurement = true;
    uint64_t count = 0;
    double start = now_s(), elapsed = 0;
    while (elapsed < secs) {
        /* Check the clock every 16 verifications; one takes well over a microsecond. */
        for (int i = 0; i < 16; i++) {
            int rc = wd_snp_verify(cache, rep->p, rep->len, vcek->p, vcek->len, NULL, 0, &pol, &res,
                                   &d);
            if (rc != WD_OK) {
                (void)fprintf(stderr, "attest_snp: %s: %s\n", name, d.msg);
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

/* The report's r and s (72 bytes little-endian each at 0x2A0) as a DER ECDSA-Sig-Value. */
static size_t sig_der(const uint8_t *rep, uint8_t *out)
{
    size_t n = 2;
    for (int k = 0; k < 2; k++) {
        const uint8_t *le = rep + 0x2A0 + (size_t)72 * (size_t)k;
        uint8_t be[48];
        for (size_t i = 0; i < 48; i++) {
            be[i] = le[47 - i];
        }
        size_t z = 0;
        while (z < 47 && be[z] == 0) {
            z++;
        }
        size_t pad = (be[z] & 0x80) != 0 ? 1 : 0;
        out[n++] = 0x02;
        out[n++] = (uint8_t)(48 - z + pad);
        if (pad != 0) {
            out[n++] = 0;
        }
        for (size_t i = z; i < 48; i++) {
            out[n++] = be[i];
        }
    }
    out[0] = 0x30;
    out[1] = (uint8_t)(n - 2);
    return n;
}

static int run_ecdsa(const struct wd_buf *rep, const struct wd_buf *vcek, double secs)
{
    const unsigned char *q = vcek->p;
    X509 *x = d2i_X509(NULL, &q, (long)vcek->len);
    EVP_PKEY *key = x != NULL ? X509_get0_pubkey(x) : NULL;
    uint8_t der[120];
    size_t n = sig_der(rep->p, der);
    uint64_t count = 0;
    double start = now_s(), elapsed = 0;
    int rc = key != NULL ? WD_OK : WD_EPROTO;
    while (rc == WD_OK && elapsed < secs) {
        for (int i = 0; i < 16 && rc == WD_OK; i++) {
            EVP_MD_CTX *ctx = EVP_MD_CTX_new();
            if (ctx == NULL || EVP_DigestVerifyInit(ctx, NULL, EVP_sha384(), NULL, key) != 1
                || EVP_DigestVerify(ctx, der, n, rep->p, 0x2A0) != 1) {
                rc = WD_ECRYPTO;
            }
            EVP_MD_CTX_free(ctx);
            count++;
        }
        elapsed = now_s() - start;
    }
    X509_free(x);
    if (rc != WD_OK) {
        (void)fprintf(stderr, "attest_snp: ecdsa: the signature does not verify\n");
        return rc;
    }
    printf("ecdsa: count=%llu seconds=%.3f rate=%.1f\n", (unsigned long long)count, elapsed,
           (double)count / elapsed);
    return WD_OK;
}

int main(int argc, char **argv)
{
    double secs = 2;
    const char *dir = "tests/data/sev-snp";
    if (argc > 1) {
        char *end = NULL;
        long v = strtol(argv[1], &end, 10);
        if (end == argv[1] || *end != '\0' || v < 1 || v > 60) {
            (void)fprintf(stderr, "usage: attest_snp [SECONDS 1..60] [DATA_DIR]\n");
            return 2;
        }
        secs = (double)v;
    }
    if (argc > 2) {
        dir = argv[2];
    }
    struct wd_buf rep, vcek;
    struct wd_snp_cache *cache = NULL;
    int rc = load(dir, "trustee-test-report.bin", &rep);
    if (rc == WD_OK) {
        rc = load(dir, "trustee-test-vcek.der", &vcek);
    } else {
        wd_buf_init(&vcek, 0);
    }
    wd_clock_pin(T_VECTOR);
    if (rc == WD_OK) {
        rc = run("uncached", NULL, &rep, &vcek, secs);
    }
    if (rc == WD_OK) {
        rc = wd_snp_cache_new(&cache);
    }
    if (rc == WD_OK) {
        rc = run("cached", cache, &rep, &vcek, secs);
    }
    if (rc == WD_OK) {
        rc = run_ecdsa(&rep, &vcek, secs);
    }
    wd_snp_cache_free(cache);
    wd_buf_cleanup(&rep);
    wd_buf_cleanup(&vcek);
    return rc == WD_OK ? 0 : 1;
}
