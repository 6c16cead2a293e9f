/*
 * Fuzz the HTTP/1.1 response parser over a stream of responses. The first byte picks the
 * configuration and the method of the request being answered (GET, HEAD, CONNECT, POST:
 * RFC 9112 §6.3 framing depends on it); the connection is then closed (wd_http1_finish), so
 * read-until-close bodies complete. Whole and byte-at-a-time parses must agree exactly.
 */
#include <stddef.h>
#include <stdint.h>

#include "http1_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum wd_http1_method methods[] = {WD_HTTP1_GET, WD_HTTP1_HEAD, WD_HTTP1_CONNECT,
                                                   WD_HTTP1_POST};
    if (size < 1 || size > FUZZ_MAX_INPUT) {
        return 0;
    }
    struct fuzz_run r;
    r.kind = WD_HTTP1_RESPONSE;
    fuzz_config(data[0], &r.cfg);
    r.req_method = methods[(data[0] >> 3) & 3];
    r.finish = true;
    (void)fuzz_both(&r, data + 1, size - 1);
    return 0;
}
