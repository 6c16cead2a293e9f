/*
 * The warden-agent runtime: node identity (state directory, attestation by TPM 2.0 or join
 * token, renewal), the control loop (heartbeats, entries, workload SVID rotation with
 * backoff, file sinks) and the Workload API server. docs/agent.md describes the behaviour.
 *
 * Threads: the control loop runs on the thread that calls agt_agent_run; the Workload API
 * runs on the HTTP server's threads and only touches the store (store.h) and the digest
 * cache. The control-plane client and the TPM are used by the control loop only.
 */
#ifndef AGT_AGENT_H
#define AGT_AGENT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "warden/buf.h"
#include "warden/bundle.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/net.h"
#include "warden/spiffe.h"
#include "warden/tpm_dev.h"

#include "config.h"
#include "store.h"
#include "wapi.h"

/* File names in the state directory (all mode 0600; the directory 0700). */
#define AGT_STATE_NODE_KEY  "node.key"   /* the node SVID's private key (PKCS#8 PEM) */
#define AGT_STATE_NODE_CERT "node.pem"   /* the node SVID chain, leaf first */
#define AGT_STATE_BUNDLE    "bundle.pem" /* the trust bundle last received from the control plane */
#define AGT_STATE_AK_PUB    "ak.pub"     /* TPM: the AK's TPM2B_PUBLIC */
#define AGT_STATE_AK_PRIV   "ak.priv"    /* TPM: the AK's TPM2B_PRIVATE (wrapped by the EK) */

#define AGT_HEARTBEAT_DEFAULT_MS 60000

struct agt_agent {
    const struct agt_config *cfg; /* borrowed */
    struct wd_bundle *bundle;     /* owned: current trust bundle */
    struct wd_spiffe_td td;
    struct wd_spiffe_id node_id;    /* spiffe://TD/warden/node/<node> */
    struct wd_spiffe_id control_id; /* spiffe://TD/warden/control */

    /* Node identity. */
    EVP_PKEY *node_key;          /* owned */
    STACK_OF(X509) * node_chain; /* owned, leaf first */
    int64_t node_not_before, node_not_after;
    int64_t node_renew_at_ms;

    /* TPM (NULL for join-token nodes). */
    struct wd_tpm_dev *tpm;
    bool ak_loaded;
    struct wd_buf ek_public, ek_cert, ak_public; /* as sent to /v1/attest/tpm/begin */

    /* Control plane. */
    struct wd_tls_ctx *tls; /* with the node SVID */
    struct wd_http_client *cli;

    /* Schedule (wall-clock ms) and retry state. */
    int64_t heartbeat_ms;
    int64_t hb_due_ms, entries_due_ms;
    unsigned hb_failures, entries_failures, renew_failures;
    bool entries_loaded;

    /* Workloads. */
    struct agt_store store;
    struct agt_wapi wapi;
    struct wd_http_server *wapi_srv;
};

/*
 * Prepare an agent for cfg (borrowed; must outlive the agent): create the state directory,
 * load the trust bundle, the persisted node identity and AK, open the TPM. Does not talk to
 * the control plane. WD_ECONFIG / WD_EIO / WD_ENOMEM ... with diag set.
 */
WD_MUST_USE int agt_agent_init(struct agt_agent *a, const struct agt_config *cfg,
                               struct wd_diag *diag);

/*
 * Obtain a node SVID if the state does not hold a valid one (attestation), then start the
 * Workload API, then run the control loop until *stop becomes non-zero (set from a signal
 * handler). Transient control-plane failures are retried with backoff inside the loop;
 * returns an error only when the agent cannot start (no identity obtainable, socket cannot
 * be bound) with diag set.
 */
WD_MUST_USE int agt_agent_run(struct agt_agent *a, volatile sig_atomic_t *stop,
                              struct wd_diag *diag);

/* Stop the Workload API (waking watchers), close the TPM, wipe keys, free. Accepts NULL. */
void agt_agent_cleanup(struct agt_agent *a);

#endif
