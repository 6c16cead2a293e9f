/*
 * warden-proxy's policy state and the mapping of traffic to Cedar requests
 * (docs/policy.md §2, docs/proxy.md "Cedar requests").
 *
 * A struct prx_policy is built once (at start and on SIGHUP) from the policy files, the
 * optional entities JSON and the optional schema, plus the proxy's built-in action
 * entities: Action::"http:GET" ... Action::"http:PATCH" and Action::"http:response" are
 * members of Action::"http"; Action::"mqtt:connect", "mqtt:publish", "mqtt:subscribe" and
 * "mqtt:receive" are members of Action::"mqtt"; Action::"tcp:connect" stands alone. It is immutable
 * afterwards and shared by every worker.
 *
 * The mapping functions fill a reusable struct wd_cedar_request from a captured message
 * head (struct prx_head: method, path, query and header fields with lower-cased names,
 * repeated fields joined with ", " as RFC 9110 §5.3 allows). They are pure and are what
 * tests/unit/test_proxy_policy.c checks.
 */
#ifndef PRX_POLICY_H
#define PRX_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/buf.h"
#include "warden/cedar.h"
#include "warden/claims.h"
#include "warden/common.h"
#include "warden/detect.h"
#include "warden/err.h"
#include "warden/http1.h"
#include "warden/route.h"

#include "config.h"

struct prx_policy {
    struct wd_cedar_policyset *ps;
    struct wd_cedar_authz *az;
    struct wd_cedar_entities *ents;
    struct wd_cedar_schema *schema; /* NULL when none was given */
};

/* One input text: its name for diagnostics and its bytes (borrowed). */
struct prx_text {
    const char *name;
    const char *p;
    size_t len;
};

/*
 * Build a policy state from texts: every policy file (n >= 1; each parsed on its own first,
 * so diagnostics name the right file and line), the optional entities JSON (ents may be
 * NULL) and the optional schema (may be NULL; human format, or JSON when its name ends in
 * ".json"). With a schema the policies are validated (strict) and any error refuses the
 * set. Policy ids come from @id annotations, else "policyN" by position over all files.
 * Returns WD_OK with *out owned (prx_policy_free), or WD_EPROTO / WD_ECONFIG / WD_EEXIST /
 * WD_ELIMIT with diag "file:line:col: message", WD_ENOMEM.
 */
WD_MUST_USE int prx_policy_build(const struct prx_text *pols, size_t n, const struct prx_text *ents,
                                 const struct prx_text *schema, struct prx_policy **out,
                                 struct wd_diag *diag);

/* Read the files named by cfg and prx_policy_build them. Adds WD_ENOENT / WD_EIO. */
WD_MUST_USE int prx_policy_load(const struct prx_config *cfg, struct prx_policy **out,
                                struct wd_diag *diag);

/* Accepts NULL. */
void prx_policy_free(struct prx_policy *p);

/* The peer a decision is about. */
struct prx_peer {
    const char *id; /* its SPIFFE ID (borrowed), or NULL: principal Anonymous::"<ip>" */
    size_t id_len;
    const struct wd_claims *claims; /* the peer certificate's claims, or NULL */
    const char *ip;                 /* source address as text (borrowed) */
    unsigned port;                  /* the local port the connection arrived on */
};

/* A captured field: offsets into the head's buffer. */
struct prx_hfield {
    uint32_t no, nl, vo, vl;
};

/* A captured message head (owned copies: it outlives the parser's input buffer). */
struct prx_head {
    struct wd_buf b;
    struct prx_hfield *h; /* owned, cap entries */
    size_t nh, cap;
    uint32_t mo, ml, po, pl, qo, ql; /* method, path, query */
    unsigned status;                 /* responses */
};

/* Prepare an empty head for at most max_fields distinct fields and max_bytes. Infallible. */
void prx_head_init(struct prx_head *h, size_t max_fields, size_t max_bytes);
void prx_head_cleanup(struct prx_head *h);
/*
 * Capture the head of the message p just reported (after WD_HTTP1_EV_HEAD): method, path,
 * query (requests), status (responses), every header field with its name lower-cased,
 * repeated names merged in order. Replaces any earlier content. WD_ENOMEM, WD_ELIMIT.
 */
WD_MUST_USE int prx_head_capture(struct prx_head *h, const struct wd_http1_parser *p);
/* The value of header name (lower-case, NUL-terminated) or false. Borrowed from h. */
bool prx_head_get(const struct prx_head *h, const char *name, struct wd_slice *out);

/*
 * What lib/route and lib/detect found about a message, for the mapping functions below.
 * Every member is borrowed and optional: route NULL (or a match with route "") gives
 * context.route "" and context.params {}; det or hits NULL gives context.detections [].
 * For an HTTP response, route is the request's match and hits the response body's scan.
 */
struct prx_found {
    const struct wd_route_match *route;
    const struct wd_detect_set *det;     /* names the bits of hits */
    const struct wd_detect_result *hits; /* bit i set: wd_detect_name(det, i) matched */
};

/*
 * Fill r (reset first) for a TCP connection: principal the peer, Action::"tcp:connect",
 * resource Workload::"<self>", context {source_ip: ip(...), port, claims}.
 * WD_ENOMEM, WD_ELIMIT, WD_EPROTO (an ID that is not a Cedar string? never for valid IDs).
 */
WD_MUST_USE int prx_map_tcp(struct wd_cedar_request *r, const struct prx_peer *peer,
                            const char *self, size_t self_len);

/*
 * Fill r for an HTTP request: principal the peer, Action::"http:<METHOD>", resource
 * Workload::"<self>", context {method, path, query, headers, route: "", params: {},
 * detections: [], claims, body: {size}, source_ip, time: datetime}. now is Unix seconds.
 */
WD_MUST_USE int prx_map_http_request(struct wd_cedar_request *r, const struct prx_peer *peer,
                                     const char *self, size_t self_len, const struct prx_head *req,
                                     uint64_t body_size, int64_t now);
/*
 * prx_map_http_request with context.route / context.params (a record of strings, one per
 * template parameter) and context.detections (a Set of detector names, in configuration
 * order) from found (may be NULL: nothing found).
 */
WD_MUST_USE int prx_map_http_request_ex(struct wd_cedar_request *r, const struct prx_peer *peer,
                                        const char *self, size_t self_len,
                                        const struct prx_head *req, uint64_t body_size,
                                        const struct prx_found *found, int64_t now);

/*
 * Fill r for an HTTP response: Action::"http:response" and the request's context, except
 * that headers, body and detections describe the response; adds status and
 * request_headers (the request's headers).
 */
WD_MUST_USE int prx_map_http_response(struct wd_cedar_request *r, const struct prx_peer *peer,
                                      const char *self, size_t self_len, const struct prx_head *req,
                                      uint64_t req_body, const struct prx_head *resp,
                                      uint64_t resp_body, int64_t now);
/* prx_map_http_response with found: the request's route/params, the response's detections. */
WD_MUST_USE int prx_map_http_response_ex(struct wd_cedar_request *r, const struct prx_peer *peer,
                                         const char *self, size_t self_len,
                                         const struct prx_head *req, uint64_t req_body,
                                         const struct prx_head *resp, uint64_t resp_body,
                                         const struct prx_found *found, int64_t now);

struct prx_mqtt_ask; /* mqtt.h */

/*
 * Fill r for an MQTT decision (mqtt.h): principal the peer, Action::"mqtt:connect" with
 * resource Workload::"<broker>", or "mqtt:publish" / "mqtt:subscribe" / "mqtt:receive"
 * with resource Topic::"<topic or filter>"; context {client_id, broker, source_ip, port,
 * claims, time: datetime} plus, for publish and receive, {topic, qos, retain, payload:
 * {size}, detections: []} and, for subscribe, {topic (the filter; of a shared
 * subscription the part after $share/{name}/), share (the ShareName or ""), qos (requested
 * maximum)}; a subscribe's resource is Topic::"<that filter>". now is Unix seconds. WD_ENOMEM,
 * WD_ELIMIT, WD_EPROTO.
 */
WD_MUST_USE int prx_map_mqtt(struct wd_cedar_request *r, const struct prx_peer *peer,
                             const char *broker, size_t broker_len, const struct prx_mqtt_ask *ask,
                             int64_t now);
/* prx_map_mqtt with the payload's detections from found (publish and receive; its route is
 * ignored; may be NULL). */
WD_MUST_USE int prx_map_mqtt_ex(struct wd_cedar_request *r, const struct prx_peer *peer,
                                const char *broker, size_t broker_len,
                                const struct prx_mqtt_ask *ask, const struct prx_found *found,
                                int64_t now);

#endif
