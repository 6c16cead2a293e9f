/*
 * Fuzz the certificate signing request parser (PEM or DER, signature check, P-256 only,
 * URI SAN -> SPIFFE ID). Errors are always reported with the input's name; an accepted DER
 * request re-encoded by OpenSSL parses again to the same key and ID.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "warden/common.h"
#include "warden/err.h"
#include "warden/pki.h"

#define CSR_MAX_INPUT (16 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > CSR_MAX_INPUT) {
        return 0;
    }
    struct wd_csr *csr = NULL, *again = NULL;
    struct wd_diag diag;
    int rc = wd_csr_parse("fuzz", data, size, &csr, &diag);
    if (rc != WD_OK) {
        WD_BUG_ON(rc != WD_EPROTO && rc != WD_ECRYPTO && rc != WD_ENOMEM && rc != WD_ELIMIT);
        WD_BUG_ON(csr != NULL);
        WD_BUG_ON(rc != WD_ENOMEM && strncmp(diag.msg, "fuzz: ", 6) != 0);
        ERR_clear_error();
        return 0;
    }
    WD_BUG_ON(wd_key_check_p256(wd_csr_pubkey(csr), NULL, "key", NULL) != WD_OK);
    /* For DER input: OpenSSL's re-encoding of it parses again to the same key and ID. */
    unsigned char *der = NULL;
    const unsigned char *q = data;
    X509_REQ *raw = NULL;
    if (size > 0 && data[0] == 0x30) {
        raw = d2i_X509_REQ(NULL, &q, (long)size);
    }
    if (raw != NULL) {
        int len = i2d_X509_REQ(raw, &der);
        if (len > 0) {
            rc = wd_csr_parse("again", der, (size_t)len, &again, &diag);
            WD_BUG_ON(rc != WD_OK && rc != WD_ENOMEM);
            if (rc == WD_OK) {
                WD_BUG_ON(EVP_PKEY_eq(wd_csr_pubkey(csr), wd_csr_pubkey(again)) != 1);
                const struct wd_spiffe_id *a = wd_csr_spiffe_id(csr);
                const struct wd_spiffe_id *b = wd_csr_spiffe_id(again);
                WD_BUG_ON((a == NULL) != (b == NULL));
                WD_BUG_ON(a != NULL && !wd_spiffe_id_eq(a, b));
            }
        }
        OPENSSL_free(der);
        X509_REQ_free(raw);
    }
    wd_csr_free(again);
    wd_csr_free(csr);
    ERR_clear_error();
    return 0;
}
