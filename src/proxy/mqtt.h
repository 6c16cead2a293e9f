/*
 * warden-proxy MQTT: the per-connection session that sits between one MQTT client and the
 * broker (docs/proxy.md "MQTT"). It is pure: no sockets, no clock, no logging. The engine
 * (mqtt.c, prx_mqtt_pump) feeds it the bytes each side sent and writes what it produces;
 * the unit tests and the fuzz harness feed it byte streams directly.
 *
 * Packets are framed and checked with lib/mqtt, one whole packet at a time, and forwarded
 * byte for byte when allowed. The session asks a callback for a decision on the CONNECT,
 * on every PUBLISH from the client, on every SUBSCRIBE filter and on every PUBLISH the
 * broker delivers, and acts on a denial:
 *   - CONNECT: CONNACK 0x87 (v5) / 0x05 (3.1.1), then close. With bind_client_id, a client
 *     id other than the peer's SPIFFE ID (or its path) gets 0x85 / 0x02.
 *   - client PUBLISH: never forwarded; QoS 0 dropped, QoS 1 answered with PUBACK 0x87 (a
 *     plain PUBACK in 3.1.1), QoS 2 with PUBREC 0x87 (3.1.1: a plain PUBREC, the client's
 *     PUBREL is then answered with PUBCOMP by the session and not forwarded). With
 *     deny_disconnect, a denial the protocol cannot report (3.1.1, or QoS 0 in v5) closes
 *     the connection instead (v5: DISCONNECT 0x87 first).
 *   - SUBSCRIBE: denied filters are removed from what goes to the broker; the SUBACK the
 *     client gets has 0x87 (v5) / 0x80 (3.1.1) in their positions and the broker's codes
 *     for the others. If every filter is denied the session answers alone.
 *   - delivery: a denied PUBLISH from the broker is not passed on; the session completes
 *     the broker's QoS 1 (PUBACK) or QoS 2 (PUBREC, then PUBCOMP for the broker's PUBREL)
 *     exchange itself, so the client never sees the packet id, and the id is free again
 *     for the broker once the exchange is complete.
 * Topic aliases (v5) are turned off through the proxy: the Topic Alias Maximum property
 * is removed from the CONNECT forwarded to the broker and from the CONNACK forwarded to the
 * client, so every PUBLISH names its topic (a Topic Alias then is a protocol error, 0x94).
 * Malformed packets: the client gets DISCONNECT with the v5 reason code (3.1.1: nothing)
 * and the session closes; a malformed packet from the broker closes the session too.
 */
#ifndef PRX_MQTT_H
#define PRX_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/mqtt.h"

/* Pending partial SUBSCRIBEs (some filters denied) waiting for the broker's SUBACK. */
#define PRX_MQTT_PENDING_MAX 32

enum prx_mqtt_action {
    PRX_MQTT_A_CONNECT = 1,
    PRX_MQTT_A_PUBLISH,
    PRX_MQTT_A_SUBSCRIBE,
    PRX_MQTT_A_RECEIVE,
};

/* Cedar action id of an action: "mqtt:connect" ... */
const char *prx_mqtt_action_name(enum prx_mqtt_action a);

/* One question to the policy. Slices borrow the packet being decided. */
struct prx_mqtt_ask {
    enum prx_mqtt_action action;
    uint8_t version;
    struct wd_slice topic;     /* topic name (PUBLISH, RECEIVE) or filter (SUBSCRIBE; for a
                                  shared subscription the filter after $share/{name}/) */
    struct wd_slice share;     /* SUBSCRIBE: the ShareName of a shared subscription, or empty */
    uint8_t qos;               /* PUBLISH QoS, or the requested maximum QoS (SUBSCRIBE) */
    bool retain;               /* PUBLISH, RECEIVE */
    struct wd_slice payload;   /* PUBLISH, RECEIVE */
    struct wd_slice client_id; /* the CONNECT's client id (may be empty) */
};

/* The answer: true to allow. The callback audits; it must not call back into the session. */
typedef bool (*prx_mqtt_decide_fn)(void *ctx, const struct prx_mqtt_ask *ask);

/* How the CONNECT client id must relate to the peer's SPIFFE ID. */
enum prx_mqtt_bind {
    PRX_MQTT_BIND_NONE = 0,
    PRX_MQTT_BIND_EXACT, /* client id == "spiffe://td/path" */
    PRX_MQTT_BIND_PATH,  /* client id == "path" (the ID's path without its leading '/') */
};

struct prx_mqtt_opts {
    uint32_t max_packet; /* largest packet either side may send (bytes, fixed header incl.) */
    enum prx_mqtt_bind bind;
    bool deny_disconnect; /* close on a denial the protocol cannot report (see above) */
    const char *peer_id;  /* for bind: the peer's SPIFFE ID (borrowed), or NULL */
    size_t peer_id_len;
};

/* Why a session closed (for logs and metrics). */
enum prx_mqtt_end {
    PRX_MQTT_END_NONE = 0,
    PRX_MQTT_END_CLIENT_ERROR, /* the client broke the protocol or a limit */
    PRX_MQTT_END_BROKER_ERROR, /* the broker did */
    PRX_MQTT_END_DENIED,       /* CONNECT refused, or deny_disconnect */
    PRX_MQTT_END_LIMIT,        /* too many pending SUBSCRIBEs */
};

struct prx_mqtt_pending {
    uint16_t id;
    uint32_t n;    /* entries in the client's SUBSCRIBE */
    bool *allowed; /* owned, n entries */
};

struct prx_mqtt_sess {
    struct wd_mqtt_config mcfg;
    struct wd_mqtt_decoder dc; /* bytes from the client */
    struct wd_mqtt_decoder db; /* bytes from the broker */
    struct prx_mqtt_opts o;
    prx_mqtt_decide_fn decide;
    void *ctx;
    uint8_t version; /* 0 until the CONNECT */
    bool connected;  /* the CONNECT was allowed and forwarded */
    bool closing;    /* nothing more is processed: flush to the client, then close both */
    enum prx_mqtt_end end;
    enum wd_mqtt_reason why; /* the protocol rule of an *_ERROR end */
    uint16_t keep_alive;     /* seconds, from the CONNECT */
    uint8_t *client_id;      /* owned copy of the CONNECT's client id */
    size_t client_id_len;
    uint8_t *c_rel; /* bitmap: client ids of refused 3.1.1 QoS 2 PUBLISHes awaiting PUBREL */
    uint8_t *b_rel; /* bitmap: broker ids of dropped QoS 2 deliveries awaiting PUBREL */
    struct prx_mqtt_pending pend[PRX_MQTT_PENDING_MAX];
    size_t npend;
    uint64_t denied; /* decisions that denied (statistics) */
};

/*
 * Start a session: nothing received yet; decide(ctx, ask) is asked for every decision.
 * o is copied (peer_id stays borrowed). Infallible; allocates nothing until needed.
 */
void prx_mqtt_sess_init(struct prx_mqtt_sess *s, const struct prx_mqtt_opts *o,
                        prx_mqtt_decide_fn decide, void *ctx);
/* Free what the session owns. Accepts NULL. */
void prx_mqtt_sess_cleanup(struct prx_mqtt_sess *s);

/*
 * Process the whole packets at the front of `in` (bytes from the client), consuming them;
 * an incomplete packet stays in `in`. What goes to the broker is appended to to_broker,
 * what the proxy answers itself to to_client. Stops (s->closing set, s->end says why) at a
 * protocol error, a denied CONNECT or a deny_disconnect: then to_client holds the final
 * packet, if any, and nothing more may be sent to either side. Returns WD_OK, or
 * WD_ENOMEM / WD_ELIMIT (an output buffer is full): the connection must be closed.
 */
WD_MUST_USE int prx_mqtt_from_client(struct prx_mqtt_sess *s, struct wd_buf *in,
                                     struct wd_buf *to_client, struct wd_buf *to_broker);

/*
 * The same for bytes from the broker: deliveries and answers go to to_client, the
 * session's own acknowledgements of dropped deliveries to to_broker. Bytes before the
 * session forwarded a CONNECT are a broker error.
 */
WD_MUST_USE int prx_mqtt_from_broker(struct prx_mqtt_sess *s, struct wd_buf *in,
                                     struct wd_buf *to_client, struct wd_buf *to_broker);

#endif
