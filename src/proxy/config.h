/*
 * warden-proxy's configuration file (YAML, strict): its identity files, the listeners
 * (inbound / outbound, http / mqtt / tcp), the policy files, audit, the admin listener,
 * limits and timeouts, the number of workers, and the routes and detectors whose results
 * reach the Cedar context. docs/proxy.md documents every key. The loader is
 * split into prx_config_parse (pure: bytes in, config or "file:line:col: message" out;
 * fuzzed) and prx_config_load (reads the file).
 */
#ifndef PRX_CONFIG_H
#define PRX_CONFIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/common.h"
#include "warden/detect.h"
#include "warden/err.h"
#include "warden/route.h"
#include "warden/spiffe.h"

#define PRX_CONFIG_FILE_MAX         (1u << 20)
#define PRX_LISTENERS_MAX           64
#define PRX_POLICIES_MAX            64
#define PRX_WORKERS_MAX             256
#define PRX_NAME_MAX                63
#define PRX_MQTT_MAX_PACKET_DEFAULT (1u << 20)
#define PRX_MQTT_MAX_PACKET_LIMIT   (64 << 20)

enum prx_mode {
    PRX_INBOUND,  /* mTLS listener -> plaintext upstream on loopback */
    PRX_OUTBOUND, /* plaintext local listener -> mTLS to a remote warden-proxy */
};

enum prx_proto {
    PRX_HTTP,
    PRX_TCP,
    PRX_MQTT,
};

/* MQTT listeners: how the CONNECT client id is bound to the peer's SPIFFE ID (mqtt.h). */
enum prx_mqtt_bind_conf {
    PRX_MQTT_BIND_CONF_NONE = 0,
    PRX_MQTT_BIND_CONF_EXACT, /* bind_client_id: true */
    PRX_MQTT_BIND_CONF_PATH,  /* bind_client_id: path */
};

/* An IPv4 address and port, with its text form "a.b.c.d:port". */
struct prx_addr {
    struct sockaddr_in sin;
    char text[24];
};

struct prx_listener_conf {
    char *name; /* owned; 1..63 bytes of [A-Za-z0-9._-], unique */
    enum prx_mode mode;
    enum prx_proto proto;
    struct prx_addr listen;
    struct prx_addr upstream;
    bool has_expect_peer;            /* outbound: always true (required) */
    struct wd_spiffe_id expect_peer; /* outbound: the remote proxy's SPIFFE ID */
    bool enforce;                    /* outbound only: also decide with principal = own ID */
    /* protocol mqtt (the `mqtt:` block) */
    uint32_t mqtt_max_packet;          /* largest MQTT packet (default 1 MiB) */
    enum prx_mqtt_bind_conf mqtt_bind; /* inbound only */
    bool mqtt_deny_disconnect;         /* close on a denial MQTT cannot report */
};

/* Limits and timeouts (milliseconds, bytes, counts). */
struct prx_limits {
    int64_t handshake_ms;    /* TLS handshake (default 10 s) */
    int64_t header_ms;       /* from the first byte of a request to its complete head (10 s) */
    int64_t idle_ms;         /* keep-alive idle, and TCP idle (60 s; TCP 0 = none) */
    int64_t body_ms;         /* from a request head to its complete body (30 s) */
    int64_t upstream_ms;     /* connect + response from the upstream (30 s) */
    int64_t drain_ms;        /* SIGTERM: longest wait for in-flight requests (10 s) */
    size_t max_header_bytes; /* request/response head incl. start line (16384) */
    size_t max_header_count; /* header fields per message (100) */
    size_t max_body;         /* buffered body per message (1 MiB) */
    size_t max_connections;  /* per worker (10000) */
};

struct prx_config {
    char *cert;      /* owned: SVID chain PEM (leaf first) */
    char *key;       /* owned: the SVID's private key */
    char *bundle;    /* owned: trust bundle (PEM or SPIFFE JSON) */
    char **policies; /* owned: Cedar policy files, in order */
    size_t n_policies;
    char *entities;      /* owned: Cedar entities JSON, or NULL */
    char *schema;        /* owned: Cedar schema, or NULL */
    char *audit_path;    /* owned: audit JSON lines file; "-" is stderr; NULL: no audit */
    double sample_allow; /* 0..1 fraction of allow decisions audited (default 1) */
    bool has_admin;
    struct prx_addr admin;
    struct prx_limits limits;
    unsigned workers;                    /* 0: one per core */
    int log_level;                       /* enum wd_log_level; default WD_LOG_INFO */
    struct prx_listener_conf *listeners; /* owned array */
    size_t n_listeners;
    /* `routes:` and `detectors:` / `scan:` (lib/route, lib/detect formats), built at parse
     * time; NULL when the section is absent. Owned until prx_gen_build moves them into the
     * generation (SIGHUP reloads them with the policy). */
    struct wd_route_set *routes;
    struct wd_detect_set *detect;
};

/*
 * Parse configuration text p[0..n) (YAML). file names the input in diagnostics (borrowed;
 * NULL: "<input>") and its directory is the base of relative paths. Strict: unknown keys,
 * missing required keys, wrong types and bad values are WD_ECONFIG with diag
 * "file:line:col: message"; YAML syntax errors are WD_EPROTO/WD_ELIMIT. WD_ENOMEM. On
 * success *out is owned by the caller (prx_config_free); on failure it is NULL. Pure: no
 * I/O; thread-safe.
 */
WD_MUST_USE int prx_config_parse(const char *file, const void *p, size_t n, struct prx_config **out,
                                 struct wd_diag *diag);

/* Read path (at most PRX_CONFIG_FILE_MAX bytes) and prx_config_parse it. Adds WD_ENOENT, WD_EIO. */
WD_MUST_USE int prx_config_load(const char *path, struct prx_config **out, struct wd_diag *diag);

/* Free a configuration. Accepts NULL. */
void prx_config_free(struct prx_config *cfg);

/*
 * Parse "a.b.c.d:port" (IPv4, port 1..65535) from s[0..n) into *out. WD_EPROTO when
 * malformed. Pure.
 */
WD_MUST_USE int prx_addr_parse(const char *s, size_t n, struct prx_addr *out);

#endif
