/*
 * warden-control's configuration file (YAML, strict: an unknown key, a wrong type or a value
 * out of range is an error naming file:line:col). The reference is docs/control.md.
 *
 * Loading is split as the style guide asks: srv_config_parse() turns a buffer into a
 * struct srv_config (pure: no I/O, fuzzed by fuzz/fuzz_control_config.c), srv_config_load()
 * reads the file, srv_config_finish() fills the defaults that depend on the data directory.
 */
#ifndef SRV_CONFIG_H
#define SRV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/cidr.h"
#include "warden/claims.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/tpm.h"

#define SRV_LISTEN_DEFAULT       "127.0.0.1:8443"
#define SRV_NODE_TTL_DEFAULT     ((int64_t)24 * 3600)
#define SRV_WORKLOAD_TTL_DEFAULT ((int64_t)3600)
#define SRV_HEARTBEAT_DEFAULT    ((int64_t)60)
#define SRV_SESSION_TTL_DEFAULT  ((int64_t)60)
#define SRV_CONTROL_TTL_DEFAULT  ((int64_t)24 * 3600)
#define SRV_ADMIN_TTL_DEFAULT    ((int64_t)30 * 86400)
#define SRV_TOKEN_TTL_DEFAULT    ((int64_t)600)
#define SRV_TOKEN_TTL_MAX        ((int64_t)30 * 86400)
#define SRV_BATCH_MAX_DEFAULT    4096u
#define SRV_BATCH_MAX_LIMIT      65536u
#define SRV_CONFIG_FILE_MAX      (1u << 20)
#define SRV_EK_ALLOW_MAX         10000u
#define SRV_IP_FENCE_MAX         1024u
#define SRV_TEE_ALLOW_MAX        10000u
#define SRV_TEE_SIM_KEY_MAX      256u /* bytes of the sim key's SubjectPublicKeyInfo DER */

/*
 * One tee.allow rule (docs/control.md): evidence of type `type` whose measurement equals
 * measurement[0..measurement_len) (SEV-SNP MEASUREMENT, SGX MRENCLAVE, sim measurement), or,
 * for SGX with `signer`, whose MRSIGNER, ISVPRODID and ISVSVN >= min_isv_svn match, gets an
 * SVID for spiffe_id with ttl seconds.
 */
struct srv_tee_rule {
    enum wd_attest type; /* WD_ATTEST_SEV_SNP, WD_ATTEST_SGX or WD_ATTEST_SIM */
    uint8_t measurement[WD_CLAIMS_MEAS_MAX];
    size_t measurement_len; /* 0 for a signer rule */
    bool signer;            /* SGX MRSIGNER rule */
    uint8_t mrsigner[32];
    uint16_t isv_prod_id;
    uint16_t min_isv_svn;
    char *spiffe_id; /* owned; a SPIFFE ID outside /warden/ */
    int64_t ttl;     /* seconds; 0: workload_ttl */
};

struct srv_config {
    char *listen;    /* owned; NULL until finish: SRV_LISTEN_DEFAULT */
    char *store;     /* owned; store URL; NULL until finish: sqlite:DIR/control.db */
    char *audit_log; /* owned; NULL until finish: DIR/audit.jsonl */
    int log_level;   /* WD_LOG_*; default WD_LOG_INFO */
    size_t max_conns;

    int64_t node_ttl;     /* seconds */
    int64_t workload_ttl; /* default TTL of entries created without one */
    int64_t control_ttl;  /* the control plane's own serving SVID */
    int64_t admin_ttl;    /* the admin SVID made by init */

    int64_t heartbeat;       /* seconds */
    int64_t heartbeat_grace; /* seconds; default 3 x heartbeat */
    int64_t session_ttl;     /* seconds */

    /* tpm */
    char *ek_ca_dir; /* owned; NULL: no EK certificate chains accepted */
    char **ek_allow; /* owned; lower-case hex SHA-256 of EK SubjectPublicKeyInfo */
    size_t n_ek_allow;
    char *pcrs; /* owned; PCR selection text, default "sha256:0,1,2,3,7" */
    struct wd_tpm_pcr_selection pcr_sel;
    struct wd_tpm_pcr_rule *pcr_rules; /* owned (values too); explicit allowed values */
    size_t n_pcr_rules;                /* 0: trust on first use per node */

    struct wd_cidr *ip_fence; /* owned; empty: no fence */
    size_t n_ip_fence;

    size_t batch_max; /* SVID records one group commit writes at most */

    /* tee (TEE workloads, POST /v1/tee/...) */
    bool tee_allow_sim;   /* accept sim evidence (development only) */
    uint8_t *tee_sim_key; /* owned; SPKI DER of the trusted sim P-256 key, or NULL */
    size_t tee_sim_key_len;
    unsigned tee_sgx_tcb_accept;    /* WD_SGX_TCB_BIT(status) or-ed; default UpToDate only */
    bool tee_snp_check_min_tcb;     /* tee.snp_min_tcb given */
    uint8_t tee_snp_min_tcb[5];     /* bootloader, tee, snp, microcode, fmc */
    struct srv_tee_rule *tee_allow; /* owned (spiffe_id too) */
    size_t n_tee_allow;
};

/* Defaults everywhere (strings NULL until srv_config_finish). Infallible. */
void srv_config_init(struct srv_config *cfg);

/*
 * Parse YAML text p[0..n) named file (for diagnostics) into *cfg, which must have been
 * srv_config_init'ed and is left initialised (defaults) on error. Errors, with diag
 * "file:line:col: message": WD_ECONFIG (unknown key, wrong type, bad value), WD_EPROTO
 * (malformed YAML), WD_ELIMIT, WD_ENOMEM. Pure (no I/O), thread-safe.
 */
WD_MUST_USE int srv_config_parse(const char *file, const void *p, size_t n, struct srv_config *cfg,
                                 struct wd_diag *diag);

/* Read path (at most SRV_CONFIG_FILE_MAX bytes) and parse it. Adds WD_ENOENT, WD_EIO. */
WD_MUST_USE int srv_config_load(const char *path, struct srv_config *cfg, struct wd_diag *diag);

/*
 * Fill the defaults that depend on the data directory dir (borrowed): store and audit_log.
 * WD_ENOMEM.
 */
WD_MUST_USE int srv_config_finish(struct srv_config *cfg, const char *dir);

/* Release everything cfg owns; cfg is left initialised. Accepts NULL. */
void srv_config_cleanup(struct srv_config *cfg);

/* The commented default configuration file that `warden-control init` writes. Static. */
const char *srv_config_default_text(void);

#endif
