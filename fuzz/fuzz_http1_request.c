/*
 * Fuzz the HTTP/1.1 request parser over a stream of (pipelined) requests. The first byte
 * picks the configuration (any_method, allow_missing_host, small limits); the rest is the
 * stream. Every input is parsed twice, whole and one byte at a time, and the transcripts
 * (heads, fields, body bytes, trailers, ends, final status and reason) must be identical:
 * WD_BUG_ON otherwise. fuzz/http1_fuzz.h holds the per-step invariants.
 */
#include <stddef.h>
#include <stdint.h>

#include "http1_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_MAX_INPUT) {
        return 0;
    }
    struct fuzz_run r;
    r.kind = WD_HTTP1_REQUEST;
    fuzz_config(data[0], &r.cfg);
    r.req_method = WD_HTTP1_GET;
    r.finish = (data[0] & 8) != 0;
    (void)fuzz_both(&r, data + 1, size - 1);
    return 0;
}
