/*
 * Fuzz the strict hex and base64 decoders. Decoding is canonical, so whenever the input
 * decodes, encoding the result again must give the input back: exactly for standard base64,
 * without its padding for base64url (padding is optional there on decode, never written),
 * and lower-cased for hex (either case decodes, lower case is written).
 */
#include <stdint.h>
#include <string.h>

#include "warden/buf.h"
#include "warden/codec.h"
#include "warden/common.h"
#include "warden/err.h"

#define MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void b64_round_trip(const char *in, size_t n, enum wd_b64_alphabet alpha)
{
    struct wd_buf dec, enc;
    wd_buf_init(&dec, MAX_INPUT);
    wd_buf_init(&enc, 2 * MAX_INPUT);
    int rc = wd_b64_decode(&dec, in, n, alpha);
    WD_BUG_ON(rc != WD_OK && rc != WD_EPROTO);
    if (rc == WD_OK) {
        WD_BUG_ON(dec.len > n / 4 * 3 + 2);
        rc = wd_b64_encode(&enc, dec.p != NULL ? dec.p : (const uint8_t *)"", dec.len, alpha);
        WD_BUG_ON(rc != WD_OK);
        size_t want = n;
        if (alpha == WD_B64_URL) {
            while (want > 0 && in[want - 1] == '=') {
                want--;
            }
        }
        WD_BUG_ON(enc.len != want);
        WD_BUG_ON(want > 0 && memcmp(enc.p, in, want) != 0);
    }
    wd_buf_cleanup(&dec);
    wd_buf_cleanup(&enc);
}

static void hex_round_trip(const char *in, size_t n)
{
    struct wd_buf dec, enc;
    wd_buf_init(&dec, MAX_INPUT);
    wd_buf_init(&enc, 2 * MAX_INPUT);
    int rc = wd_hex_decode(&dec, in, n);
    WD_BUG_ON(rc != WD_OK && rc != WD_EPROTO);
    if (rc == WD_OK) {
        WD_BUG_ON(dec.len * 2 != n);
        rc = wd_hex_encode(&enc, dec.p != NULL ? dec.p : (const uint8_t *)"", dec.len);
        WD_BUG_ON(rc != WD_OK);
        WD_BUG_ON(enc.len != n);
        for (size_t i = 0; i < n; i++) {
            char c = in[i] >= 'A' && in[i] <= 'F' ? (char)(in[i] - 'A' + 'a') : in[i];
            WD_BUG_ON(enc.p[i] != (uint8_t)c);
        }
    }
    wd_buf_cleanup(&dec);
    wd_buf_cleanup(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    const char *in = (const char *)data;
    b64_round_trip(in, size, WD_B64_STD);
    b64_round_trip(in, size, WD_B64_URL);
    hex_round_trip(in, size);
    return 0;
}
