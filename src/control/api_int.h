/* Internal to the API modules (api.c, api_attest.c, api_issue.c). */
#ifndef SRV_API_INT_H
#define SRV_API_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "warden/buf.h"
#include "warden/claims.h"
#include "warden/net.h"
#include "warden/pki.h"
#include "warden/spiffe.h"
#include "warden/store.h"

#include "api_decode.h"
#include "server.h"

/* Who is calling, from the verified client SVID. */
enum srv_caller {
    SRV_C_ANON,     /* no client certificate */
    SRV_C_FOREIGN,  /* an SVID of another trust domain */
    SRV_C_ADMIN,    /* spiffe://TD/warden/admin */
    SRV_C_NODE,     /* spiffe://TD/warden/node/<name> */
    SRV_C_WORKLOAD, /* any other ID of TD */
};

/* One request being served. */
struct srv_rq {
    struct srv *s;
    const struct wd_http_req *req;
    struct wd_http_resp *resp;
    struct wd_store *st;
    bool st_bad;
    enum srv_caller who;
    char node[WD_STORE_NAME_MAX + 1]; /* SRV_C_NODE: the caller's node name */
    const char *actor;                /* SPIFFE ID of the caller or "anonymous" */
    enum srv_route route;
};

/* Answer an error body {"error","reason","message"}; reason may be NULL. Returns WD_OK. */
int srv_rq_error(struct srv_rq *q, int status, const char *reason, const char *msg);
/* As srv_rq_error, and count and audit the refusal (subject may be NULL). Returns WD_OK. */
int srv_rq_refuse(struct srv_rq *q, int status, const char *reason, const char *subject,
                  const char *msg);
/* A 400 for a body that did not decode (message from diag, or "too large" for ELIMIT). */
int srv_rq_bad_body(struct srv_rq *q, int rc, const struct wd_diag *d);
/* Note a store failure (the handle is not pooled again) and answer 500/503. */
int srv_rq_store_failed(struct srv_rq *q, int rc);

/* Append "key":"value" pieces. */
WD_MUST_USE int srv_json_kv(struct wd_buf *b, const char *key, const char *val, bool comma);
/*
 * The audit event and its JSON line for one issued SVID: serial, node, entry, then extra
 * (NULL, or more members already formatted as ',"key":value...'), then not_after. *details
 * and *line are owned by the caller; *ev borrows them and rec.
 */
WD_MUST_USE int srv_issuance_audit(const struct srv_rq *q, const struct wd_store_svid *rec,
                                   const char *extra, struct wd_store_audit *ev, char **details,
                                   char **line);
WD_MUST_USE int srv_json_time(struct wd_buf *b, const char *key, int64_t t, bool comma);
/* "90s", "10m", "1h", "2d" for a duration in seconds. */
void srv_duration_format(int64_t s, char out[32]);

/* ---- handlers in api_attest.c ---- */
WD_MUST_USE int srv_h_tpm_begin(struct srv_rq *q);
WD_MUST_USE int srv_h_tpm_finish(struct srv_rq *q);
WD_MUST_USE int srv_h_join(struct srv_rq *q);
WD_MUST_USE int srv_h_node_challenge(struct srv_rq *q, const struct wd_store_node *n);
WD_MUST_USE int srv_h_node_heartbeat(struct srv_rq *q, const struct wd_store_node *n);
WD_MUST_USE int srv_h_node_renew(struct srv_rq *q, const struct wd_store_node *n);
WD_MUST_USE int srv_h_node_svids(struct srv_rq *q, const struct wd_store_node *n);

/* Whether the node is revoked by an admin (its node SPIFFE ID is on the deny list). */
WD_MUST_USE int srv_node_revoked(struct srv_rq *q, const char *name, bool *out);
/* spiffe://TD/warden/node/<name> */
WD_MUST_USE int srv_node_id(const struct srv *s, const char *name, struct wd_spiffe_id *out);

/* ---- TEE workloads (api_tee.c, docs/api.md "TEE workloads") ---- */
/* POST /v1/tee/challenge: a single-use session with a fresh nonce for one evidence type. */
WD_MUST_USE int srv_h_tee_challenge(struct srv_rq *q);
/* POST /v1/tee/svid: verify the CSR's evidence and issue the allow-listed SVID. */
WD_MUST_USE int srv_h_tee_svid(struct srv_rq *q);

/* ---- issuing (api_issue.c) ---- */

/*
 * Issue an SVID for pub with id, ttl and claims; append its DER to der and describe it in
 * rec (spiffe_id/node borrowed from id / node; entry_id may be NULL). WD_EPROTO / ... from
 * wd_svid_issue_der.
 */
WD_MUST_USE int srv_issue(struct srv *s, EVP_PKEY *pub, const struct wd_spiffe_id *id, int64_t ttl,
                          const struct wd_claims *claims, const char *node, const char *entry_id,
                          struct wd_buf *der, struct wd_store_svid *rec);

/* The serial number bytes of a DER certificate. WD_EPROTO. */
WD_MUST_USE int srv_der_serial(const uint8_t *p, size_t n, const uint8_t **serial,
                               size_t *serial_len);

/*
 * Issue a node SVID for pub (a CSR's key) to node `name` attested by `attest` ("tpm",
 * "join-token"), record it (group commit, audited) and answer the attestation answer of
 * docs/api.md.
 */
WD_MUST_USE int srv_answer_node_svid(struct srv_rq *q, const char *name, const char *attest,
                                     EVP_PKEY *pub);

#endif
