/*
 * bench/svid_issue: X.509-SVIDs issued per second in-process. A CA is created in memory and
 * one P-256 leaf key is generated up front, so each timed iteration is issuance alone:
 * build the certificate with its extensions and claims, one ECDSA-SHA256 signature, encode.
 * Single-threaded. Loops:
 *
 *   der     wd_svid_issue_der: the certificate's DER (what TLS sends and the control plane
 *           hands to agents); the headline figure
 *   sign    raw ECDSA P-256 signatures with the same CA key, the way `openssl speed
 *           ecdsap256` makes them (EVP_PKEY_sign of a 32-byte digest, context reused)
 *   x509    wd_svid_issue + wd_cert_to_pem: issuance handed back as an OpenSSL X509 object
 *           and PEM-encoded (what `warden cert issue` writes)
 *
 * Rates are per second of CPU time used by this process, as `openssl speed` counts them
 * (it reports user CPU time unless given -elapsed), so time the scheduler gives to other
 * processes on a busy machine does not count against either side. der and sign also run
 * interleaved in 100 ms slices for SECONDS each, so they see the same cache and frequency
 * conditions; x509 then runs SECONDS.
 *
 * Usage: svid_issue [SECONDS]   (1..60, default 3). Prints one machine-readable line per loop:
 *   <loop>: count=N seconds=S rate=R
 * bench/svid-issue runs it next to `openssl speed ecdsap256` and prints the ratios.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "warden/buf.h"
#include "warden/claims.h"
#include "warden/clock.h"
#include "warden/err.h"
#include "warden/pki.h"
#include "warden/spiffe.h"
#include "warden/svid.h"

enum loop { LOOP_DER, LOOP_SIGN, LOOP_X509 };
static const char *const loop_names[] = {"der", "sign", "x509"};

struct tally {
    uint64_t count;
    int64_t ms;
};

struct bench {
    const struct wd_ca *ca;
    EVP_PKEY *pub;
    const struct wd_spiffe_id *id;
    const struct wd_claims *claims;
    struct wd_buf out;
    EVP_PKEY_CTX *sign_ctx;
    uint8_t digest[32];
};

/* Parse the optional SECONDS argument: 1..60. */
static int parse_seconds(int argc, char **argv, int64_t *out)
{
    *out = 3;
    if (argc < 2) {
        return WD_OK;
    }
    WD_ENSURE(argc == 2, WD_EINVAL);
    char *end = NULL;
    long v = strtol(argv[1], &end, 10);
    WD_ENSURE(end != argv[1] && *end == '\0' && v >= 1 && v <= 60, WD_EINVAL);
    *out = v;
    return WD_OK;
}

/* A realistic claim set: every field present, as a workload SVID on a TPM node carries. */
static int make_claims(struct wd_claims *c, struct wd_diag *diag)
{
    uint8_t meas[32];
    for (size_t i = 0; i < sizeof(meas); i++) {
        meas[i] = (uint8_t)(i * 7u + 1u);
    }
    wd_claims_init(c);
    WD_TRY(wd_claims_set_node(c, "edge-gw-01", diag));
    wd_claims_set_attest(c, WD_ATTEST_TPM);
    WD_TRY(wd_claims_set_measurement(c, meas, sizeof(meas), diag));
    wd_claims_set_manifest_version(c, 42);
    WD_TRY(wd_claims_set_party(c, "hospital", diag));
    return WD_OK;
}

/* One iteration of a loop. */
static int step(struct bench *b, enum loop loop, struct wd_diag *diag)
{
    wd_buf_reset(&b->out);
    switch (loop) {
    case LOOP_DER:
        return wd_svid_issue_der(b->ca, b->pub, b->id, 3600, b->claims, &b->out, diag);
    case LOOP_X509: {
        X509 *cert = NULL;
        WD_TRY(wd_svid_issue(b->ca, b->pub, b->id, 3600, b->claims, &cert, diag));
        int rc = wd_cert_to_pem(cert, &b->out);
        X509_free(cert);
        return rc;
    }
    case LOOP_SIGN: {
        uint8_t sig[80];
        size_t siglen = sizeof(sig);
        if (EVP_PKEY_sign(b->sign_ctx, sig, &siglen, b->digest, sizeof(b->digest)) != 1) {
            return WD_ETLS;
        }
        return WD_OK;
    }
    }
    return WD_EINVAL;
}

/*
 * CPU time of this process in milliseconds. A benchmark measure, not a clock warden runs on,
 * so it is read here rather than through lib/clock.c.
 */
static int64_t cpu_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == -1) {
        return wd_time_mono_ms();
    }
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run a loop for slice_ms milliseconds of CPU time (at least one iteration), adding to *t. */
static int run_slice(struct bench *b, enum loop loop, int64_t slice_ms, struct tally *t,
                     struct wd_diag *diag)
{
    int64_t start = cpu_ms();
    int64_t now;
    do {
        WD_TRY(step(b, loop, diag));
        t->count++;
        now = cpu_ms();
    } while (now - start < slice_ms);
    t->ms += now - start;
    return WD_OK;
}

static void print_tally(enum loop loop, const struct tally *t)
{
    double secs = (double)t->ms / 1000.0;
    printf("%s: count=%llu seconds=%.3f rate=%.1f\n", loop_names[loop],
           (unsigned long long)t->count, secs, (double)t->count / secs);
}

int main(int argc, char **argv)
{
    struct wd_diag diag = {{0}};
    struct wd_ca *ca = NULL;
    EVP_PKEY *leaf_key = NULL;
    struct wd_spiffe_td td;
    struct wd_spiffe_id id;
    struct wd_claims claims;
    struct bench b = {0};
    wd_buf_init(&b.out, 1u << 16);
    int64_t seconds = 3;
    int rc = parse_seconds(argc, argv, &seconds);
    if (rc < 0) {
        (void)fprintf(stderr, "usage: svid_issue [SECONDS]   (1..60)\n");
        return 2;
    }
    static const char td_name[] = "bench.example";
    static const char id_str[] = "spiffe://bench.example/ns/prod/sa/frontend";
    WD_CHECK(wd_spiffe_td_parse(td_name, strlen(td_name), &td, NULL, &diag));
    WD_CHECK(wd_spiffe_id_parse(id_str, strlen(id_str), &id, NULL, &diag));
    WD_CHECK(make_claims(&claims, &diag));
    WD_CHECK(wd_ca_create(&td, WD_CA_ROOT_TTL_DEFAULT, WD_CA_TTL_DEFAULT, &ca, &diag));
    WD_CHECK(wd_key_generate(&leaf_key, &diag));
    b.sign_ctx = EVP_PKEY_CTX_new(wd_ca_intermediate_key(ca), NULL);
    if (b.sign_ctx == NULL || EVP_PKEY_sign_init(b.sign_ctx) != 1) {
        rc = WD_ETLS;
        goto out;
    }
    memset(b.digest, 0x5a, sizeof(b.digest));
    b.ca = ca;
    b.pub = leaf_key;
    b.id = &id;
    b.claims = &claims;
    struct tally der = {0}, sign = {0}, x509 = {0};
    while (der.ms < seconds * 1000) {
        WD_CHECK(run_slice(&b, LOOP_DER, 100, &der, &diag));
        WD_CHECK(run_slice(&b, LOOP_SIGN, 100, &sign, &diag));
    }
    WD_CHECK(run_slice(&b, LOOP_X509, seconds * 1000, &x509, &diag));
    print_tally(LOOP_DER, &der);
    print_tally(LOOP_SIGN, &sign);
    print_tally(LOOP_X509, &x509);
out:
    EVP_PKEY_CTX_free(b.sign_ctx);
    wd_buf_cleanup(&b.out);
    EVP_PKEY_free(leaf_key);
    wd_ca_free(ca);
    if (rc < 0) {
        (void)fprintf(stderr, "svid_issue: %s: %s\n", wd_strerror(rc),
                      diag.msg[0] != '\0' ? diag.msg : "failed");
        return 1;
    }
    return 0;
}
