/*
 * Fuzz warden-control's fast CSR path (src/control/csr.c). The first byte chooses the input
 * form: 0 the bytes are the PEM text itself, otherwise they are DER wrapped in PEM armour
 * here (so the DER walk is explored directly). An accepted request must yield a P-256 key.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "warden/buf.h"
#include "warden/codec.h"
#include "warden/common.h"
#include "warden/pki.h"

#include "../src/control/csr.h"

#define INPUT_CAP 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > INPUT_CAP) {
        return 0;
    }
    struct wd_buf pem;
    wd_buf_init(&pem, 4 * INPUT_CAP);
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    if (data[0] != 0) {
        if (wd_buf_append_str(&pem, "-----BEGIN CERTIFICATE REQUEST-----\n") != WD_OK
            || wd_b64_encode(&pem, data + 1, size - 1, WD_B64_STD) != WD_OK
            || wd_buf_append_str(&pem, "\n-----END CERTIFICATE REQUEST-----\n") != WD_OK) {
            wd_buf_cleanup(&pem);
            return 0;
        }
        text = (const char *)pem.p;
        n = pem.len;
    }
    EVP_PKEY *key = NULL;
    if (srv_csr_key_fast(text, n, &key) == WD_OK) {
        WD_BUG_ON(wd_key_check_p256(key, "fuzz", "key", NULL) != WD_OK);
        EVP_PKEY_free(key);
    }
    wd_buf_cleanup(&pem);
    return 0;
}
