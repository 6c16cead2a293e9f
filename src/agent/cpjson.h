/*
 * The control plane's JSON answers (docs/api.md) as the agent reads them, and the request
 * bodies it sends. Decoders are pure (bytes in, struct out), take untrusted bytes and are
 * fuzzed (fuzz/fuzz_agent_json.c).
 *
 * Leniency: the control plane refuses unknown members in what it receives, but the agent
 * ignores unknown members in what it receives, so that a newer control plane may add fields
 * without breaking older agents. Known members must have the documented type and form.
 * Every decoder returns WD_OK, WD_EPROTO (malformed: not JSON, wrong type, missing member,
 * bad base64/time/duration/SPIFFE ID/PEM marker) or WD_ENOMEM/WD_ELIMIT; on error the output
 * is cleaned up (nothing to free). Output strings are owned by the output struct.
 */
#ifndef AGT_CPJSON_H
#define AGT_CPJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/spiffe.h"

#include "workload.h"

#define AGT_JSON_MAX     (4u << 20) /* bound on one answer */
#define AGT_SESSION_MAX  64
#define AGT_ENTRY_ID_LEN 32
#define AGT_BATCH_MAX    1000 /* POST /v1/node/svids takes at most 1,000 requests */
#define AGT_ENTRIES_MAX  10000
#define AGT_BLOB_MAX     8192 /* a TPM blob (ID object, encrypted secret, nonce) */

/* Answer of POST /v1/attest/tpm/finish, /v1/attest/join-token and /v1/node/renew. */
struct agt_identity_resp {
    struct wd_spiffe_id id;
    char *svid_pem;       /* owned: leaf then intermediates */
    char *bundle_pem;     /* owned */
    int64_t expires_at;   /* Unix seconds */
    int64_t heartbeat_ms; /* 0 when absent */
};
void agt_identity_resp_cleanup(struct agt_identity_resp *r);
WD_MUST_USE int agt_decode_identity(const void *p, size_t n, struct agt_identity_resp *out);

/* Answer of POST /v1/attest/tpm/begin. */
struct agt_begin_resp {
    char session[AGT_SESSION_MAX + 1];
    struct wd_buf credential_blob;  /* TPM2B_ID_OBJECT (decoded base64) */
    struct wd_buf encrypted_secret; /* TPM2B_ENCRYPTED_SECRET */
    struct wd_buf nonce;
    char pcr_selection[256];
    int64_t deadline;
};
void agt_begin_resp_cleanup(struct agt_begin_resp *r);
WD_MUST_USE int agt_decode_begin(const void *p, size_t n, struct agt_begin_resp *out);

/* Answer of POST /v1/node/challenge; a join-token node gets no nonce. */
struct agt_challenge_resp {
    char session[AGT_SESSION_MAX + 1];
    bool has_nonce;
    struct wd_buf nonce;
    char pcr_selection[256]; /* "" when absent */
    int64_t deadline;
};
void agt_challenge_resp_cleanup(struct agt_challenge_resp *r);
WD_MUST_USE int agt_decode_challenge(const void *p, size_t n, struct agt_challenge_resp *out);

/* Answer of POST /v1/node/heartbeat. */
struct agt_heartbeat_resp {
    bool trusted;
    int64_t heartbeat_ms; /* 0 when absent */
};
WD_MUST_USE int agt_decode_heartbeat(const void *p, size_t n, struct agt_heartbeat_resp *out);

/* One registration entry of GET /v1/node/entries. */
struct agt_entry {
    char id[AGT_ENTRY_ID_LEN + 1];
    struct wd_spiffe_id spiffe_id;
    struct agt_selectors sel;
    int64_t ttl_ms; /* 0 when absent */
};
struct agt_entries {
    struct agt_entry *v; /* owned */
    size_t n;
};
void agt_entries_cleanup(struct agt_entries *e);
/* Also refuses two entries with the same id. */
WD_MUST_USE int agt_decode_entries(const void *p, size_t n, struct agt_entries *out);

/* Answer of POST /v1/node/svids. */
struct agt_svid_item {
    char entry_id[AGT_ENTRY_ID_LEN + 1];
    struct wd_spiffe_id spiffe_id;
    char *svid_pem; /* owned */
    int64_t expires_at;
};
struct agt_svids_resp {
    struct agt_svid_item *v; /* owned */
    size_t n;
    char *bundle_pem; /* owned */
};
void agt_svids_resp_cleanup(struct agt_svids_resp *r);
WD_MUST_USE int agt_decode_svids(const void *p, size_t n, struct agt_svids_resp *out);

/* An error answer {"error":..,"reason":..,"message":..}; reason "" when absent. */
struct agt_error_resp {
    char error[32];
    char reason[64];
};
WD_MUST_USE int agt_decode_error(const void *p, size_t n, struct agt_error_resp *out);

/* ---- request bodies (appended to out; WD_ENOMEM / WD_ELIMIT leave out unchanged) ---- */

/* A JSON request body builder: "{" ... "}" with comma handling. */
struct agt_jw {
    struct wd_buf *out;
    size_t start; /* out->len when begun, to roll back on error */
    bool first;
    int rc; /* first error, sticky */
};
void agt_jw_begin(struct agt_jw *w, struct wd_buf *out);
void agt_jw_str(struct agt_jw *w, const char *key, const char *val);
void agt_jw_b64(struct agt_jw *w, const char *key, const void *p, size_t n);
/* Open a nested object under key; close it with agt_jw_close. */
void agt_jw_open(struct agt_jw *w, const char *key);
void agt_jw_close(struct agt_jw *w);
/* Close the top object; returns the first error (then out is as it was before begin). */
WD_MUST_USE int agt_jw_end(struct agt_jw *w);

#endif
