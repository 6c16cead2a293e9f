/*
 * Fuzz the agent's decoders of control-plane answers (src/agent/cpjson.c). The first byte
 * picks the decoder, the rest is the answer body. Each decoder must succeed with a complete
 * result or fail leaving nothing to free.
 */
#include <stdint.h>
#include <string.h>

#include "warden/common.h"
#include "warden/err.h"

#include "../src/agent/cpjson.h"

#define MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_INPUT) {
        return 0;
    }
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    int rc;
    switch (data[0] % 7) {
    case 0: {
        struct agt_identity_resp r;
        rc = agt_decode_identity(p, n, &r);
        WD_BUG_ON(rc == WD_OK && (r.svid_pem == NULL || r.bundle_pem == NULL));
        WD_BUG_ON(rc != WD_OK && (r.svid_pem != NULL || r.bundle_pem != NULL));
        agt_identity_resp_cleanup(&r);
        break;
    }
    case 1: {
        struct agt_begin_resp r;
        rc = agt_decode_begin(p, n, &r);
        WD_BUG_ON(rc == WD_OK && (r.nonce.len == 0 || r.session[0] == '\0'));
        agt_begin_resp_cleanup(&r);
        break;
    }
    case 2: {
        struct agt_challenge_resp r;
        rc = agt_decode_challenge(p, n, &r);
        WD_BUG_ON(rc == WD_OK && r.has_nonce && (r.nonce.len == 0 || r.pcr_selection[0] == 0));
        agt_challenge_resp_cleanup(&r);
        break;
    }
    case 3: {
        struct agt_heartbeat_resp r;
        rc = agt_decode_heartbeat(p, n, &r);
        WD_BUG_ON(rc == WD_OK && r.heartbeat_ms < 0);
        break;
    }
    case 4: {
        struct agt_entries e;
        rc = agt_decode_entries(p, n, &e);
        for (size_t i = 0; rc == WD_OK && i < e.n; i++) {
            WD_BUG_ON(strlen(e.v[i].id) != AGT_ENTRY_ID_LEN);
            WD_BUG_ON(!e.v[i].sel.has_uid && !e.v[i].sel.has_gid && !e.v[i].sel.has_path
                      && !e.v[i].sel.has_sha256);
        }
        WD_BUG_ON(rc != WD_OK && (e.v != NULL || e.n != 0));
        agt_entries_cleanup(&e);
        break;
    }
    case 5: {
        struct agt_svids_resp r;
        rc = agt_decode_svids(p, n, &r);
        WD_BUG_ON(rc == WD_OK && r.bundle_pem == NULL);
        for (size_t i = 0; rc == WD_OK && i < r.n; i++) {
            WD_BUG_ON(r.v[i].svid_pem == NULL);
        }
        agt_svids_resp_cleanup(&r);
        break;
    }
    default: {
        struct agt_error_resp r;
        rc = agt_decode_error(p, n, &r);
        WD_BUG_ON(rc == WD_OK && r.error[0] == '\0');
        break;
    }
    }
    WD_BUG_ON(rc != WD_OK && rc != WD_EPROTO && rc != WD_ENOMEM && rc != WD_ELIMIT);
    return 0;
}
