/*
 * Fuzz the trust bundle parser: SPIFFE bundle JSON (JWK set with x509-svid keys) and PEM/DER
 * certificate lists, told apart by content. An accepted bundle must write out as JSON and
 * PEM that parse again to the same authorities, sequence number and refresh hint.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "warden/buf.h"
#include "warden/bundle.h"
#include "warden/common.h"
#include "warden/err.h"

#define BUNDLE_MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_same(const struct wd_bundle *a, const struct wd_bundle *b)
{
    WD_BUG_ON(wd_bundle_count(a) != wd_bundle_count(b));
    for (size_t i = 0; i < wd_bundle_count(a); i++) {
        WD_BUG_ON(X509_cmp(wd_bundle_cert(a, i), wd_bundle_cert(b, i)) != 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > BUNDLE_MAX_INPUT) {
        return 0;
    }
    static const struct wd_spiffe_td td = {"example.org", 11};
    struct wd_bundle *b = NULL, *again = NULL;
    struct wd_diag diag;
    int rc = wd_bundle_parse("fuzz", data, size, &td, &b, &diag);
    if (rc != WD_OK) {
        WD_BUG_ON(b != NULL);
        WD_BUG_ON(rc == WD_OK || rc == WD_EINVAL);
        ERR_clear_error();
        return 0;
    }
    WD_BUG_ON(wd_bundle_count(b) == 0);
    struct wd_buf out;
    wd_buf_init(&out, 4u << 20);
    /* JSON only for key types the writer supports (EC curves and RSA). */
    rc = wd_bundle_to_json(b, &out);
    if (rc == WD_OK) {
        rc = wd_bundle_parse("json", out.p, out.len, &td, &again, &diag);
        WD_BUG_ON(rc != WD_OK && rc != WD_ENOMEM);
        if (rc == WD_OK) {
            check_same(b, again);
            uint64_t s1 = 0, s2 = 0;
            WD_BUG_ON(wd_bundle_sequence(b, &s1) != wd_bundle_sequence(again, &s2) || s1 != s2);
        }
        wd_bundle_free(again);
        again = NULL;
    }
    wd_buf_reset(&out);
    rc = wd_bundle_to_pem(b, &out);
    if (rc == WD_OK) {
        rc = wd_bundle_parse("pem", out.p, out.len, &td, &again, &diag);
        WD_BUG_ON(rc != WD_OK && rc != WD_ENOMEM);
        if (rc == WD_OK) {
            check_same(b, again);
        }
        wd_bundle_free(again);
    }
    wd_buf_cleanup(&out);
    wd_bundle_free(b);
    ERR_clear_error();
    return 0;
}
