/*
 * Fuzz warden-proxy's HTTP -> Cedar mapping (src/proxy/policy.c): bytes are parsed as an
 * HTTP/1.1 request and a response (lib/http1), the heads are captured (lower-cased,
 * repeated fields merged), mapped to Cedar requests and decided against a fixed policy set
 * that reads every context field. Beyond "no crash, no leak": a captured head never holds
 * two fields of the same name or an upper-case name, and every mapping of a head the
 * parser accepted succeeds and can be decided.
 */
#include <stdint.h>
#include <string.h>

#include "warden/cedar.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/http1.h"

#include "../src/proxy/policy.h"

#define MAX_INPUT (16 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char policies[] =
        "permit (principal, action in Action::\"http\", resource)\n"
        "when { context.headers has host && context.headers.host like \"*.example\" &&\n"
        "       context.path like \"/a*\" && context.query != \"x\" && context.body.size < 10 &&\n"
        "       context.method == \"GET\" && context.params == {} && context.route == \"\" };\n"
        "forbid (principal, action == Action::\"http:response\", resource)\n"
        "when { context.status >= 500 || context.request_headers has cookie };\n";

static bool capture(enum wd_http1_kind k, const uint8_t *p, size_t n, struct prx_head *h)
{
    struct wd_http1_parser hp;
    struct wd_http1_field fields[64];
    struct wd_http1_step st;
    wd_http1_init(&hp, k, NULL, fields, 64);
    if (wd_http1_step(&hp, p, n, &st) != WD_OK || st.ev != WD_HTTP1_EV_HEAD) {
        return false;
    }
    int rc = prx_head_capture(h, &hp);
    WD_BUG_ON(rc != WD_OK && rc != WD_ENOMEM);
    if (rc != WD_OK) {
        return false;
    }
    for (size_t i = 0; i < h->nh; i++) {
        const uint8_t *ni = h->b.p + h->h[i].no;
        for (size_t c = 0; c < h->h[i].nl; c++) {
            WD_BUG_ON(ni[c] >= 'A' && ni[c] <= 'Z');
        }
        for (size_t j = 0; j < i; j++) {
            WD_BUG_ON(h->h[j].nl == h->h[i].nl && memcmp(h->b.p + h->h[j].no, ni, h->h[i].nl) == 0);
        }
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct prx_policy *pol;
    static struct wd_cedar_request *req;
    static struct wd_cedar_scratch *scratch;
    if (size > MAX_INPUT) {
        return 0;
    }
    if (pol == NULL) {
        struct prx_text t = {"fuzz.cedar", policies, sizeof(policies) - 1};
        WD_BUG_ON(prx_policy_build(&t, 1, NULL, NULL, &pol, NULL) != WD_OK);
        WD_BUG_ON(wd_cedar_request_new(&req) != WD_OK);
        WD_BUG_ON(wd_cedar_scratch_new(&scratch) != WD_OK);
    }
    /* The input is a request, then (after the first NUL byte) a response. */
    const uint8_t *nul = memchr(data, 0, size);
    size_t rlen = nul != NULL ? (size_t)(nul - data) : size;
    struct prx_head rh, sh;
    struct prx_peer pe = {"spiffe://example.org/c", 22, NULL, "127.0.0.1", 8443};
    struct wd_cedar_response r;
    prx_head_init(&rh, 64, 32768);
    prx_head_init(&sh, 64, 32768);
    if (capture(WD_HTTP1_REQUEST, data, rlen, &rh)) {
        WD_BUG_ON(
                prx_map_http_request(req, &pe, "spiffe://example.org/s", 22, &rh, rlen, 1764000000)
                != WD_OK);
        WD_BUG_ON(wd_cedar_authorize(pol->az, pol->ents, req, scratch, &r) != WD_OK);
        if (nul != NULL && capture(WD_HTTP1_RESPONSE, nul + 1, size - rlen - 1, &sh)) {
            WD_BUG_ON(prx_map_http_response(req, &pe, "spiffe://example.org/s", 22, &rh, 0, &sh, 3,
                                            1764000000)
                      != WD_OK);
            WD_BUG_ON(wd_cedar_authorize(pol->az, pol->ents, req, scratch, &r) != WD_OK);
        }
    }
    prx_head_cleanup(&rh);
    prx_head_cleanup(&sh);
    return 0;
}
