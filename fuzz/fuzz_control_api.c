/*
 * Fuzz warden-control's REST body decoders (src/control/api_decode.c). The first byte picks
 * the decoder, the rest is the body. Beyond "no crash, no leak": a decoded body's fields obey
 * their documented forms.
 */
#include <stdint.h>
#include <string.h>

#include "warden/common.h"
#include "warden/names.h"

#include "../src/control/api_decode.h"
#include "../src/control/config.h"

#define INPUT_CAP (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef int (*decoder)(const uint8_t *, size_t, struct srv_body *, struct wd_diag *);

static const decoder decoders[] = {
        srv_decode_tpm_begin, srv_decode_tpm_finish, srv_decode_join,  srv_decode_challenge,
        srv_decode_heartbeat, srv_decode_renew,      srv_decode_svids, srv_decode_revoke,
        srv_decode_token,     srv_decode_entry,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > INPUT_CAP) {
        return 0;
    }
    decoder dec = decoders[data[0] % WD_ARRAY_LEN(decoders)];
    struct srv_body b;
    struct wd_diag d;
    srv_body_init(&b);
    int rc = dec(data + 1, size - 1, &b, &d);
    if (rc == WD_OK) {
        if (b.node != NULL) {
            WD_BUG_ON(!wd_node_name_valid(b.node, strlen(b.node)));
        }
        if (b.session != NULL) {
            WD_BUG_ON(!srv_id_valid(b.session, strlen(b.session)));
        }
        WD_BUG_ON(b.n_reqs > SRV_SVID_REQS_MAX);
        for (size_t i = 0; i < b.n_reqs; i++) {
            WD_BUG_ON(!srv_id_valid(b.reqs[i].entry_id, strlen(b.reqs[i].entry_id)));
            WD_BUG_ON(b.reqs[i].csr_len == 0 || b.reqs[i].csr_len > SRV_CSR_MAX);
        }
        WD_BUG_ON(b.has_ttl && b.ttl < 1);
        WD_BUG_ON(b.has_quote && (b.attest.len == 0 || b.sig.len == 0));
    }
    srv_body_cleanup(&b);
    return 0;
}
