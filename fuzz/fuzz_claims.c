/*
 * Fuzz the warden claims extension decoder. DER allows one encoding per value, so anything
 * the decoder accepts must encode back to exactly the input bytes; the JSON form of an
 * accepted value must also be producible.
 */
#include <stdint.h>
#include <string.h>

#include "warden/buf.h"
#include "warden/claims.h"
#include "warden/common.h"
#include "warden/err.h"

#define MAX_INPUT 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    struct wd_claims c;
    const char *reason = NULL;
    int rc = wd_claims_decode(data, size, &c, &reason);
    if (rc != WD_OK) {
        WD_BUG_ON(rc != WD_EPROTO || reason == NULL);
        return 0;
    }
    struct wd_buf again, json;
    wd_buf_init(&again, WD_CLAIMS_DER_MAX);
    wd_buf_init(&json, 1u << 16);
    rc = wd_claims_encode(&c, &again);
    WD_BUG_ON(rc != WD_OK && rc != WD_ENOMEM);
    if (rc == WD_OK) {
        WD_BUG_ON(again.len != size || memcmp(again.p, data, size) != 0);
    }
    rc = wd_claims_to_json(&c, &json);
    WD_BUG_ON(rc != WD_OK && rc != WD_ENOMEM);
    wd_buf_cleanup(&json);
    wd_buf_cleanup(&again);
    return 0;
}
