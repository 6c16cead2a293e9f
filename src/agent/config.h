/*
 * warden-agent's configuration file (YAML, strict): what the agent is called, where the
 * control plane is and how to trust it, where it keeps its state, how it attests, where it
 * serves the Workload API, and which SVIDs it also writes to files for unmodified programs.
 * docs/agent.md documents every key. The loader is split into agt_config_parse (pure: bytes
 * in, config or "file:line:col: message" out; fuzzed) and agt_config_load (reads the file).
 */
#ifndef AGT_CONFIG_H
#define AGT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/common.h"
#include "warden/err.h"
#include "warden/spiffe.h"

#define AGT_SOCKET_DEFAULT         "/run/warden/agent.sock"
#define AGT_WATCH_MAX_DEFAULT_MS   ((int64_t)300 * 1000) /* a watch blocks at most 5 min */
#define AGT_RELOAD_TIMEOUT_DEFAULT ((int64_t)10 * 1000)  /* a reload command gets 10 s */
#define AGT_SINKS_MAX              256
#define AGT_RELOAD_ARGS_MAX        64
#define AGT_CONFIG_FILE_MAX        (1u << 20)

enum agt_attest_kind {
    AGT_ATTEST_JOIN_TOKEN,
    AGT_ATTEST_TPM,
};

/* One file sink: where to write the SVID of one entry (by SPIFFE ID) and what to run then. */
struct agt_sink {
    struct wd_spiffe_id id;
    char *dir;          /* owned; absolute */
    char *cert;         /* owned; file name in dir (default "svid.pem"): leaf then intermediates */
    char *key;          /* owned; file name in dir (default "svid.key") */
    char *bundle;       /* owned; file name in dir (default "bundle.pem") */
    char **reload_argv; /* owned, NULL-terminated; NULL when no reload command */
    size_t reload_argc; /* 0 when none */
    int64_t reload_timeout_ms; /* default AGT_RELOAD_TIMEOUT_DEFAULT */
};

struct agt_config {
    char *node;         /* owned; 1..255 bytes of [A-Za-z0-9._-] (docs/api.md) */
    char *control_url;  /* owned; "https://HOST:PORT" */
    char *trust_bundle; /* owned; path of the bootstrap trust bundle (PEM or SPIFFE JSON) */
    char *state_dir;    /* owned; absolute path */
    enum agt_attest_kind attest;
    char *tcti;             /* owned; TPM only, may be NULL (TSS default) */
    bool ek_ecc;            /* TPM only: EK template L-2 (ECC P-256) instead of L-1 (RSA 2048) */
    char *join_token;       /* owned secret (wiped on free); join token given inline, or NULL */
    char *join_token_file;  /* owned; join token read from this file at attestation, or NULL */
    char *socket_path;      /* owned; Workload API unix socket (default AGT_SOCKET_DEFAULT) */
    unsigned socket_mode;   /* permission bits of the socket file (default 0666) */
    int64_t watch_max_ms;   /* bound on a Workload API watch (default 5 min, at most 1 h) */
    int64_t heartbeat_ms;   /* 0: use the interval the control plane sends */
    int log_level;          /* enum wd_log_level; default WD_LOG_INFO */
    struct agt_sink *sinks; /* owned array */
    size_t n_sinks;
};

/*
 * Parse configuration text p[0..n) (YAML; JSON is YAML too). file names the input in
 * diagnostics (borrowed; NULL: "<input>"). Strict: unknown keys, missing required keys,
 * wrong types, bad values (node name, URL, relative paths, durations, SPIFFE IDs, reload
 * commands that are not absolute paths, both or neither of join_token and join_token_file,
 * both or neither of tpm and join token, duplicate sinks) are WD_ECONFIG with diag
 * "file:line:col: message". YAML syntax errors are WD_EPROTO/WD_ELIMIT (diag set). WD_ENOMEM.
 * On success *out is owned by the caller (agt_config_free); on failure it is NULL. Pure:
 * no I/O; thread-safe.
 */
WD_MUST_USE int agt_config_parse(const char *file, const void *p, size_t n, struct agt_config **out,
                                 struct wd_diag *diag);

/* Read path (at most AGT_CONFIG_FILE_MAX bytes) and agt_config_parse it. Adds WD_ENOENT, WD_EIO. */
WD_MUST_USE int agt_config_load(const char *path, struct agt_config **out, struct wd_diag *diag);

/* Free a configuration (the join token is wiped first). Accepts NULL. */
void agt_config_free(struct agt_config *cfg);

#endif
