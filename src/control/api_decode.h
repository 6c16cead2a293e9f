/*
 * Decoders of the REST request bodies of docs/api.md: strict JSON (unknown members refused)
 * into struct srv_body. Pure: no I/O, no store, no clock; fuzzed by fuzz/fuzz_control_api.c.
 * Every decoder returns WD_OK, or WD_EPROTO / WD_ECONFIG / WD_ELIMIT with diag holding a
 * message for the caller ("<request>:1:9: unknown key 'nodee'"), or WD_ENOMEM.
 */
#ifndef SRV_API_DECODE_H
#define SRV_API_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/doc.h"
#include "warden/err.h"
#include "warden/spiffe.h"
#include "warden/store.h"

#define SRV_BODY_MAX        (1u << 20)
#define SRV_SVID_REQS_MAX   1000u
#define SRV_REASON_TEXT_MAX 1024u
#define SRV_CSR_MAX         16384u
#define SRV_TOKEN_MAX       1024u

/* One item of POST /v1/node/svids. Strings borrow from the body's document. */
struct srv_svid_req {
    const char *entry_id; /* 32 lower-case hex */
    const char *csr;
    size_t csr_len;
};

/* A decoded body. Which fields are set depends on the decoder. */
struct srv_body {
    struct wd_doc *doc;  /* owned; the const char * fields below borrow from it */
    const char *node;    /* valid node name */
    const char *session; /* 32 lower-case hex */
    const char *token;
    size_t token_len;
    const char *csr;
    size_t csr_len;
    const char *reason;
    struct wd_buf ek_public, ek_cert, ak_public, secret; /* decoded base64 */
    bool has_ek_cert;
    bool has_quote;
    struct wd_buf attest, sig, pcr_values; /* the quote, decoded */
    bool has_ttl;
    int64_t ttl;               /* seconds */
    struct srv_svid_req *reqs; /* owned array */
    size_t n_reqs;
    /* POST /v1/admin/entries: spiffe_id (parsed), node, selectors (path borrowed) */
    struct wd_spiffe_id spiffe_id;
    struct wd_store_selectors sel;
};

void srv_body_init(struct srv_body *b);
void srv_body_cleanup(struct srv_body *b);

/* The decoders, one per route with a body. b must be srv_body_init'ed; cleanup after. */
WD_MUST_USE int srv_decode_tpm_begin(const uint8_t *p, size_t n, struct srv_body *b,
                                     struct wd_diag *diag);
WD_MUST_USE int srv_decode_tpm_finish(const uint8_t *p, size_t n, struct srv_body *b,
                                      struct wd_diag *diag);
WD_MUST_USE int srv_decode_join(const uint8_t *p, size_t n, struct srv_body *b,
                                struct wd_diag *diag);
WD_MUST_USE int srv_decode_challenge(const uint8_t *p, size_t n, struct srv_body *b,
                                     struct wd_diag *diag);
WD_MUST_USE int srv_decode_heartbeat(const uint8_t *p, size_t n, struct srv_body *b,
                                     struct wd_diag *diag);
WD_MUST_USE int srv_decode_renew(const uint8_t *p, size_t n, struct srv_body *b,
                                 struct wd_diag *diag);
WD_MUST_USE int srv_decode_svids(const uint8_t *p, size_t n, struct srv_body *b,
                                 struct wd_diag *diag);
WD_MUST_USE int srv_decode_revoke(const uint8_t *p, size_t n, struct srv_body *b,
                                  struct wd_diag *diag);
WD_MUST_USE int srv_decode_token(const uint8_t *p, size_t n, struct srv_body *b,
                                 struct wd_diag *diag);
/* Entry TTL is in 1 s .. 10 years; at least one selector; spiffe_id any valid SPIFFE ID
 * with a path (the trust domain is checked by the handler). */
WD_MUST_USE int srv_decode_entry(const uint8_t *p, size_t n, struct srv_body *b,
                                 struct wd_diag *diag);

/* Whether s[0..n) is exactly 32 lower-case hex digits (session and entry ids). */
bool srv_id_valid(const char *s, size_t n);

#endif
