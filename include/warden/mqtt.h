/*
 * MQTT 3.1.1 (OASIS Standard, protocol level 4) and MQTT 5.0 (OASIS Standard, protocol level
 * 5) codec: framing, decoding and encoding of every control packet, v5 properties, the UTF-8
 * string rules, topic names, topic filters (with v5 shared subscriptions) and topic matching.
 *
 * Pure: no I/O, no logging, no globals, no clock. The decoder never allocates: a decoded
 * packet is a set of slices borrowed from the caller's input, and the variable-length lists
 * (properties, subscription entries, SUBACK codes) stay as raw, fully validated byte ranges
 * that the caller walks with the iterators below. So there is no caller array to size and no
 * arena to reset; the list limits (cfg->max_props, cfg->max_filters) are counted while
 * validating. Everything is safe to use from any thread as long as one decoder is used by
 * one thread at a time.
 *
 * Framing and resumption. MQTT packets are length-prefixed (§2.1.4 Remaining Length), so the
 * codec works one whole packet at a time: wd_mqtt_frame() tells, from the first 1..5 bytes,
 * whether a whole packet is buffered and how large it is; wd_mqtt_decode() returns
 * WD_EAGAIN (consuming nothing, keeping no state) until it is. A proxy therefore buffers
 * exactly one packet, refusing oversized ones (WD_ELIMIT) as soon as the fixed header is in.
 *
 * Canonical bytes. Variable byte integers must use the fewest bytes (MQTT 5.0 §1.5.5
 * [MQTT-1.5.5-1]; warden applies the same rule to 3.1.1), and every other field has exactly
 * one encoding, so for any packet the decoder accepts, wd_mqtt_encode() of the decoded packet
 * reproduces the input byte for byte (the optional v5 short forms are remembered in `form`).
 *
 * Errors: WD_EAGAIN (incomplete), WD_EPROTO (the peer broke a rule), WD_ELIMIT (a configured
 * bound), each with an enum wd_mqtt_reason saying which rule; wd_mqtt_reason_code() maps it
 * to the v5 reason code to send in CONNACK or DISCONNECT (0x81 Malformed Packet, 0x82
 * Protocol Error, 0x95 Packet too large, ...). Nothing is ever built from attacker bytes.
 *
 * docs/internals/mqtt.md describes the model and the strictness choices.
 */
#ifndef WD_MQTT_H
#define WD_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/buf.h"
#include "warden/common.h"

/* Protocol levels (3.1.1 §3.1.2.2, 5.0 §3.1.2.2). MQTT 3.1 (level 3, "MQIsdp") is refused. */
enum wd_mqtt_version {
    WD_MQTT_V311 = 4,
    WD_MQTT_V5 = 5,
};

/* Control packet types (5.0 §2.1.2). */
enum wd_mqtt_type {
    WD_MQTT_CONNECT = 1,
    WD_MQTT_CONNACK = 2,
    WD_MQTT_PUBLISH = 3,
    WD_MQTT_PUBACK = 4,
    WD_MQTT_PUBREC = 5,
    WD_MQTT_PUBREL = 6,
    WD_MQTT_PUBCOMP = 7,
    WD_MQTT_SUBSCRIBE = 8,
    WD_MQTT_SUBACK = 9,
    WD_MQTT_UNSUBSCRIBE = 10,
    WD_MQTT_UNSUBACK = 11,
    WD_MQTT_PINGREQ = 12,
    WD_MQTT_PINGRESP = 13,
    WD_MQTT_DISCONNECT = 14,
    WD_MQTT_AUTH = 15, /* 5.0 only */
    /* Not a packet: names the Will Properties of CONNECT for wd_mqtt_props_check(). */
    WD_MQTT_WILL = 16,
};

/* Who sent the bytes: decides which packet types and properties are allowed (§2.1.2). */
enum wd_mqtt_dir {
    WD_MQTT_FROM_ANY = 0, /* no direction rules (tools, fuzzing) */
    WD_MQTT_FROM_CLIENT,
    WD_MQTT_FROM_SERVER,
};

/* MQTT 5.0 reason codes (§2.4) used by the codec and its builders. */
enum wd_mqtt_rc {
    WD_MQTT_RC_SUCCESS = 0x00, /* also Normal disconnection, Granted QoS 0 */
    WD_MQTT_RC_GRANTED_QOS1 = 0x01,
    WD_MQTT_RC_GRANTED_QOS2 = 0x02,
    WD_MQTT_RC_DISCONNECT_WITH_WILL = 0x04,
    WD_MQTT_RC_NO_MATCHING_SUBSCRIBERS = 0x10,
    WD_MQTT_RC_NO_SUBSCRIPTION_EXISTED = 0x11,
    WD_MQTT_RC_CONTINUE_AUTH = 0x18,
    WD_MQTT_RC_REAUTHENTICATE = 0x19,
    WD_MQTT_RC_UNSPECIFIED = 0x80, /* also the 3.1.1 SUBACK Failure return code */
    WD_MQTT_RC_MALFORMED = 0x81,
    WD_MQTT_RC_PROTOCOL_ERROR = 0x82,
    WD_MQTT_RC_IMPLEMENTATION = 0x83,
    WD_MQTT_RC_UNSUPPORTED_VERSION = 0x84,
    WD_MQTT_RC_CLIENT_ID_INVALID = 0x85,
    WD_MQTT_RC_BAD_USER_OR_PASSWORD = 0x86,
    WD_MQTT_RC_NOT_AUTHORIZED = 0x87,
    WD_MQTT_RC_SERVER_UNAVAILABLE = 0x88,
    WD_MQTT_RC_SERVER_BUSY = 0x89,
    WD_MQTT_RC_BANNED = 0x8A,
    WD_MQTT_RC_TOPIC_FILTER_INVALID = 0x8F,
    WD_MQTT_RC_TOPIC_NAME_INVALID = 0x90,
    WD_MQTT_RC_PACKET_ID_IN_USE = 0x91,
    WD_MQTT_RC_PACKET_ID_NOT_FOUND = 0x92,
    WD_MQTT_RC_TOPIC_ALIAS_INVALID = 0x94,
    WD_MQTT_RC_PACKET_TOO_LARGE = 0x95,
    WD_MQTT_RC_QUOTA_EXCEEDED = 0x97,
    WD_MQTT_RC_ADMINISTRATIVE_ACTION = 0x98,
    WD_MQTT_RC_PAYLOAD_FORMAT_INVALID = 0x99,
};

/* MQTT 3.1.1 CONNACK return codes (3.1.1 §3.2.2.3). */
enum wd_mqtt_connack311 {
    WD_MQTT_CONNACK311_ACCEPTED = 0x00,
    WD_MQTT_CONNACK311_BAD_VERSION = 0x01,
    WD_MQTT_CONNACK311_ID_REJECTED = 0x02,
    WD_MQTT_CONNACK311_UNAVAILABLE = 0x03,
    WD_MQTT_CONNACK311_BAD_USER_OR_PASSWORD = 0x04,
    WD_MQTT_CONNACK311_NOT_AUTHORIZED = 0x05,
};

/* Property identifiers (5.0 §2.2.2.2, Table 2-4). */
enum wd_mqtt_prop_id {
    WD_MQTT_P_PAYLOAD_FORMAT = 0x01,
    WD_MQTT_P_MESSAGE_EXPIRY = 0x02,
    WD_MQTT_P_CONTENT_TYPE = 0x03,
    WD_MQTT_P_RESPONSE_TOPIC = 0x08,
    WD_MQTT_P_CORRELATION_DATA = 0x09,
    WD_MQTT_P_SUBSCRIPTION_ID = 0x0B,
    WD_MQTT_P_SESSION_EXPIRY = 0x11,
    WD_MQTT_P_ASSIGNED_CLIENT_ID = 0x12,
    WD_MQTT_P_SERVER_KEEP_ALIVE = 0x13,
    WD_MQTT_P_AUTH_METHOD = 0x15,
    WD_MQTT_P_AUTH_DATA = 0x16,
    WD_MQTT_P_REQUEST_PROBLEM_INFO = 0x17,
    WD_MQTT_P_WILL_DELAY = 0x18,
    WD_MQTT_P_REQUEST_RESPONSE_INFO = 0x19,
    WD_MQTT_P_RESPONSE_INFO = 0x1A,
    WD_MQTT_P_SERVER_REFERENCE = 0x1C,
    WD_MQTT_P_REASON_STRING = 0x1F,
    WD_MQTT_P_RECEIVE_MAXIMUM = 0x21,
    WD_MQTT_P_TOPIC_ALIAS_MAXIMUM = 0x22,
    WD_MQTT_P_TOPIC_ALIAS = 0x23,
    WD_MQTT_P_MAXIMUM_QOS = 0x24,
    WD_MQTT_P_RETAIN_AVAILABLE = 0x25,
    WD_MQTT_P_USER_PROPERTY = 0x26,
    WD_MQTT_P_MAXIMUM_PACKET_SIZE = 0x27,
    WD_MQTT_P_WILDCARD_SUB_AVAILABLE = 0x28,
    WD_MQTT_P_SUB_ID_AVAILABLE = 0x29,
    WD_MQTT_P_SHARED_SUB_AVAILABLE = 0x2A,
};

/* Property data types (5.0 §2.2.2.2 and §1.5). */
enum wd_mqtt_prop_type {
    WD_MQTT_PT_NONE = 0, /* not a property identifier */
    WD_MQTT_PT_BYTE,
    WD_MQTT_PT_U16,
    WD_MQTT_PT_U32,
    WD_MQTT_PT_VARINT,
    WD_MQTT_PT_STRING, /* UTF-8 Encoded String */
    WD_MQTT_PT_BINARY,
    WD_MQTT_PT_PAIR, /* UTF-8 String Pair */
};

/*
 * Which rule a WD_EPROTO or WD_ELIMIT came from. wd_mqtt_reason_name() gives a stable name,
 * wd_mqtt_reason_code() the v5 reason code.
 */
enum wd_mqtt_reason {
    WD_MQTT_R_NONE = 0,
    /* Malformed Packet (0x81) */
    WD_MQTT_R_TYPE,          /* type 0, or 15 (AUTH) in 3.1.1 (§2.1.2) */
    WD_MQTT_R_FLAGS,         /* fixed-header flags not what the type requires (§2.1.3) */
    WD_MQTT_R_QOS,           /* QoS 3 in PUBLISH, Will QoS or subscription options */
    WD_MQTT_R_DUP_QOS0,      /* DUP on a QoS 0 PUBLISH [MQTT-3.3.1-2] */
    WD_MQTT_R_VARINT,        /* variable byte integer of 5+ bytes or not minimal (§1.5.5) */
    WD_MQTT_R_LENGTH,        /* field past the packet end, bytes left over, wrong size */
    WD_MQTT_R_UTF8,          /* ill-formed UTF-8, U+0000, or refused by strict_utf8 */
    WD_MQTT_R_CONNECT_FLAGS, /* CONNECT reserved flag set [MQTT-3.1.2-3] */
    WD_MQTT_R_WILL_FLAGS,    /* Will QoS / Will Retain without the Will Flag */
    WD_MQTT_R_PASSWORD_FLAG, /* 3.1.1: Password Flag without User Name Flag */
    WD_MQTT_R_CONNACK_FLAGS, /* CONNACK reserved acknowledge flags set */
    WD_MQTT_R_SUB_OPTIONS,   /* reserved bits set in subscription options */
    WD_MQTT_R_PROP_ID,       /* unknown property identifier */
    WD_MQTT_R_PROP_LENGTH,   /* property value runs past its property block */
    /* Protocol Error (0x82) */
    WD_MQTT_R_NOT_CONNECTED,      /* first packet is not CONNECT [MQTT-3.1.0-1] */
    WD_MQTT_R_CONNECT_TWICE,      /* second CONNECT [MQTT-3.1.0-2] */
    WD_MQTT_R_DIRECTION,          /* a type this side may not send (or AUTH in 3.1.1) */
    WD_MQTT_R_PACKET_ID,          /* Packet Identifier 0 [MQTT-2.2.1-3] */
    WD_MQTT_R_REASON_CODE,        /* reason / return code not allowed in this packet */
    WD_MQTT_R_SESSION_PRESENT,    /* Session Present with a failure code */
    WD_MQTT_R_EMPTY,              /* (UN)SUBSCRIBE or (UN)SUBACK without entries */
    WD_MQTT_R_RETAIN_HANDLING,    /* Retain Handling 3 (5.0 §3.8.3.1) */
    WD_MQTT_R_NO_LOCAL_SHARED,    /* No Local on a shared subscription [MQTT-3.8.3-4] */
    WD_MQTT_R_PROP_NOT_ALLOWED,   /* property not allowed in this packet (Table 2-4) */
    WD_MQTT_R_PROP_DUP,           /* single-use property present twice */
    WD_MQTT_R_PROP_VALUE,         /* property value out of range (0 Receive Maximum, ...) */
    WD_MQTT_R_PROP_AUTH,          /* Authentication Data without Method; AUTH without Method */
    WD_MQTT_R_SUB_ID_FROM_CLIENT, /* Subscription Identifier in a client's PUBLISH */
    /* other reason codes */
    WD_MQTT_R_PROTOCOL_NAME,    /* CONNECT protocol name is not "MQTT" (0x84) */
    WD_MQTT_R_PROTOCOL_VERSION, /* CONNECT protocol level not 4 or 5 (0x84) */
    WD_MQTT_R_CLIENT_ID,        /* 3.1.1 empty client id without clean session (0x85) */
    WD_MQTT_R_TOPIC_NAME,       /* empty or wildcard topic name (0x90) */
    WD_MQTT_R_TOPIC_FILTER,     /* bad wildcard placement, empty filter (0x8F) */
    WD_MQTT_R_SHARE_NAME,       /* bad $share/{ShareName}/{filter} [MQTT-4.8.2-1] (0x8F) */
    WD_MQTT_R_TOPIC_ALIAS,      /* Topic Alias 0 (0x94) */
    /* limits (WD_ELIMIT) */
    WD_MQTT_R_PACKET_TOO_LARGE,   /* packet larger than cfg->max_packet (0x95) */
    WD_MQTT_R_LIMIT_PROPS,        /* more properties in one block than cfg->max_props (0x83) */
    WD_MQTT_R_LIMIT_FILTERS,      /* more entries than cfg->max_filters (0x97) */
    WD_MQTT_R_LIMIT_TOPIC_NAME,   /* topic name longer than cfg->max_topic (0x90) */
    WD_MQTT_R_LIMIT_TOPIC_FILTER, /* topic filter longer than cfg->max_topic (0x8F) */
    WD_MQTT_R_COUNT_
};

/* Bounds and strictness; wd_mqtt_config_default() gives sane values. */
struct wd_mqtt_config {
    /* Largest whole packet (fixed header included) in bytes; 2..268435460. Default 1 MiB. */
    uint32_t max_packet;
    uint32_t max_props;   /* properties in one property block; default 64 */
    uint32_t max_filters; /* entries in one (UN)SUBSCRIBE or (UN)SUBACK; default 128 */
    uint16_t max_topic;   /* bytes in one topic name or filter; default 65535 (no bound) */
    /*
     * Refuse the code points the spec says SHOULD NOT appear (5.0 §1.5.4, 3.1.1 §1.5.3):
     * U+0001..U+001F, U+007F..U+009F and the Unicode non-characters. Default off (the spec
     * requires receivers to accept them unless they choose to close the connection).
     */
    bool strict_utf8;
};

/* Fill cfg with the defaults above. */
void wd_mqtt_config_default(struct wd_mqtt_config *cfg);

/* How the optional tail of a v5 acknowledgement, DISCONNECT or AUTH was (or is) sent. */
enum wd_mqtt_form {
    WD_MQTT_FORM_MIN = 0, /* nothing after the packet id (acks) / empty (DISCONNECT, AUTH) */
    WD_MQTT_FORM_CODE,    /* reason code only, no Property Length */
    WD_MQTT_FORM_FULL,    /* reason code and a property block (possibly empty) */
};

/*
 * Packet bodies. Every slice is borrowed from the decoder input (or, for encoding, from the
 * caller) and is valid as long as those bytes are. `props` fields are the bytes of a v5
 * property block without its Property Length; empty in 3.1.1.
 */
struct wd_mqtt_connect {
    bool clean_start; /* Clean Session in 3.1.1 */
    bool will;
    uint8_t will_qos;
    bool will_retain;
    bool has_username;
    bool has_password;
    uint16_t keep_alive;
    struct wd_slice props;
    struct wd_slice client_id;
    struct wd_slice will_props; /* v5 Will Properties */
    struct wd_slice will_topic;
    struct wd_slice will_payload;
    struct wd_slice username;
    struct wd_slice password;
};

struct wd_mqtt_connack {
    bool session_present;
    uint8_t code; /* v5 reason code; 3.1.1 return code (enum wd_mqtt_connack311) */
    struct wd_slice props;
};

struct wd_mqtt_publish {
    bool dup;
    uint8_t qos;
    bool retain;
    uint16_t packet_id;    /* 0 for QoS 0 */
    struct wd_slice topic; /* may be empty in v5 when a Topic Alias is given */
    struct wd_slice props;
    struct wd_slice payload;
    uint16_t topic_alias; /* decode only: the Topic Alias property, 0 if none */
};

/* PUBACK, PUBREC, PUBREL, PUBCOMP. */
struct wd_mqtt_ack {
    uint16_t packet_id;
    uint8_t code;
    enum wd_mqtt_form form; /* always FORM_MIN in 3.1.1 */
    struct wd_slice props;  /* FORM_FULL only */
};

/* SUBSCRIBE and UNSUBSCRIBE: `list` holds the payload entries, walk it with wd_mqtt_subs_*. */
struct wd_mqtt_subscribe {
    uint16_t packet_id;
    struct wd_slice props;
    struct wd_slice list;
    uint32_t count;           /* decode only: entries in list */
    uint32_t subscription_id; /* decode only: the Subscription Identifier, 0 if none */
};

/* SUBACK and UNSUBACK: one reason code per entry (none in a 3.1.1 UNSUBACK). */
struct wd_mqtt_suback {
    uint16_t packet_id;
    struct wd_slice props;
    struct wd_slice codes;
};

/* DISCONNECT and AUTH. */
struct wd_mqtt_disconnect {
    uint8_t code;
    enum wd_mqtt_form form; /* always FORM_MIN in 3.1.1 */
    struct wd_slice props;  /* FORM_FULL only */
};

struct wd_mqtt_packet {
    enum wd_mqtt_type type;
    uint8_t version; /* WD_MQTT_V311 or WD_MQTT_V5 */
    /*
     * Decode: bytes the packet takes on the wire, fixed header included (drop them after
     * use). On WD_EAGAIN the size needed once the fixed header is complete, else 0.
     * Ignored by the encoder.
     */
    size_t size;
    union {
        struct wd_mqtt_connect connect;
        struct wd_mqtt_connack connack;
        struct wd_mqtt_publish publish;
        struct wd_mqtt_ack ack;
        struct wd_mqtt_subscribe subscribe;
        struct wd_mqtt_suback suback;
        struct wd_mqtt_disconnect disconnect;
    };
};

/* ---- framing -------------------------------------------------------------------------- */

/* The fixed header (§2.1) of the packet at the front of a byte stream. */
struct wd_mqtt_frame {
    enum wd_mqtt_type type;
    uint8_t flags;      /* low nibble of the first byte */
    size_t header;      /* fixed header bytes: 2..5 */
    uint32_t remaining; /* Remaining Length */
    size_t size;        /* header + remaining */
};

/*
 * Look at the fixed header at the front of p[0..len) (§2.1: type, flags, Remaining Length).
 * version is the connection's protocol level, or 0 while unknown (AUTH is then allowed).
 * Returns:
 *   WD_OK      a whole packet of f->size bytes is buffered
 *   WD_EAGAIN  not yet: f->size is the packet size once the header is complete, else 0
 *   WD_EPROTO  reserved type, wrong flags, QoS 3 or DUP on QoS 0, bad Remaining Length
 *   WD_ELIMIT  the packet is larger than max_packet (known as soon as the header is in)
 * why (may be NULL) gets the reason (WD_MQTT_R_NONE on OK and EAGAIN). f is filled as far
 * as the header was read. Borrows p only during the call.
 */
WD_MUST_USE int wd_mqtt_frame(const uint8_t *p, size_t len, uint8_t version, uint32_t max_packet,
                              struct wd_mqtt_frame *f, enum wd_mqtt_reason *why);

/* ---- decoding ------------------------------------------------------------------------- */

/* Per-direction decoding state. Embed it; wd_mqtt_decoder_init() sets it up. */
struct wd_mqtt_decoder {
    const struct wd_mqtt_config *cfg; /* borrowed; must outlive the decoder */
    enum wd_mqtt_dir dir;
    uint8_t version;            /* 0 until known: then only CONNECT is accepted */
    bool connected;             /* a CONNECT has been decoded */
    enum wd_mqtt_reason reason; /* why the last wd_mqtt_decode() failed */
};

/*
 * Start a decoder for the bytes one side sends. version is WD_MQTT_V311 or WD_MQTT_V5 if the
 * caller knows it (the server side of a proxy learns it from the client's CONNECT), or 0:
 * then the first packet must be a CONNECT, whose level becomes the decoder's version. cfg
 * is borrowed. Infallible.
 */
void wd_mqtt_decoder_init(struct wd_mqtt_decoder *d, const struct wd_mqtt_config *cfg,
                          enum wd_mqtt_dir dir, uint8_t version);

/*
 * Decode the packet at the front of p[0..len) into pkt; its slices borrow p. Enforces every
 * rule of the spec that can be checked on one packet in one direction (the session-level
 * rules, such as Topic Alias Maximum or packet-id reuse, are the caller's). Returns:
 *   WD_OK      pkt->size bytes were one valid packet
 *   WD_EAGAIN  the packet is not all there yet (pkt->size as for wd_mqtt_frame); nothing
 *              is kept, call again with the same bytes plus more
 *   WD_EPROTO  a rule was broken; d->reason says which (for a CONNECT, pkt->version holds
 *              the protocol level once it was read, else 0)
 *   WD_ELIMIT  a bound in d->cfg was hit; d->reason says which
 * A valid CONNECT sets d->version and d->connected.
 */
WD_MUST_USE int wd_mqtt_decode(struct wd_mqtt_decoder *d, const uint8_t *p, size_t len,
                               struct wd_mqtt_packet *pkt);

/* ---- encoding ------------------------------------------------------------------------- */

/*
 * Size in bytes of the encoding of pkt. WD_EINVAL when a field cannot be encoded (a string
 * or binary over 65535 bytes, a Remaining Length over 268435455, an unknown type or version,
 * properties or short forms in 3.1.1). Does not check the other rules (wd_mqtt_encode_to
 * does).
 */
WD_MUST_USE int wd_mqtt_encoded_size(const struct wd_mqtt_packet *pkt, size_t *size);

/*
 * Encode pkt into dst[0..cap) and set *len. The fixed-header flags come from the fields
 * (PUBLISH dup/qos/retain; the fixed values otherwise); pkt->size, publish.topic_alias,
 * subscribe.count and subscribe.subscription_id are ignored. The result is checked by
 * decoding it (direction-neutral, default limits but no size bound), so the encoder never
 * emits a packet that warden would refuse. Returns WD_OK, WD_EINVAL (pkt is not a valid
 * packet: dst holds garbage), WD_ELIMIT (cap too small; nothing written). Borrows everything.
 */
WD_MUST_USE int wd_mqtt_encode_to(const struct wd_mqtt_packet *pkt, uint8_t *dst, size_t cap,
                                  size_t *len);

/*
 * As wd_mqtt_encode_to, appending to out. WD_EINVAL, WD_ELIMIT (out's cap), WD_ENOMEM; on
 * error out is unchanged.
 */
WD_MUST_USE int wd_mqtt_encode(const struct wd_mqtt_packet *pkt, struct wd_buf *out);

/*
 * Builders for the packets a proxy makes itself. They fill pkt (no allocation, infallible)
 * for wd_mqtt_encode*. Reason codes are v5 codes; a 3.1.1 packet cannot carry one, so there
 * the code is dropped (acks, DISCONNECT) or mapped (CONNACK, see wd_mqtt_connack311_code).
 * v5 tails use the shortest form (§3.4.2.1: no reason code when it is 0x00).
 */
/* PUBACK, PUBREC, PUBREL or PUBCOMP. */
void wd_mqtt_ack_init(struct wd_mqtt_packet *pkt, uint8_t version, enum wd_mqtt_type type,
                      uint16_t packet_id, uint8_t code);
/* DISCONNECT (3.1.1: an empty DISCONNECT, which only a client may send). */
void wd_mqtt_disconnect_init(struct wd_mqtt_packet *pkt, uint8_t version, uint8_t code);
/* CONNACK with the v5 code (mapped for 3.1.1) and no properties. */
void wd_mqtt_connack_init(struct wd_mqtt_packet *pkt, uint8_t version, uint8_t code,
                          bool session_present);
/* The 3.1.1 CONNACK return code closest to a v5 CONNACK reason code. */
uint8_t wd_mqtt_connack311_code(uint8_t v5_code);
/* The SUBACK code for a refused subscription: 0x87 Not authorized (v5), 0x80 Failure (3.1.1). */
uint8_t wd_mqtt_deny_code(uint8_t version);

/*
 * Encode, appending to out, the SUBSCRIBE or UNSUBSCRIBE sub (decoded or built) with only
 * the entries i for which keep[i] is true; n must be the number of entries in its list.
 * At least one entry must be kept. Packet id and properties are copied. WD_EINVAL (n mismatch,
 * nothing kept, not a (UN)SUBSCRIBE), WD_ELIMIT, WD_ENOMEM; on error out is unchanged.
 */
WD_MUST_USE int wd_mqtt_encode_subscribe_subset(const struct wd_mqtt_packet *sub, const bool *keep,
                                                size_t n, struct wd_buf *out);

/*
 * Encode, appending to out, a SUBACK (or v5 UNSUBACK) for n requested entries from the
 * server's answer `ack` to the subset that was forwarded: entry i gets the next code of ack
 * when allowed[i], else `deny` (use wd_mqtt_deny_code()). Packet id and properties come from
 * ack. WD_EINVAL (the number of allowed entries differs from ack's codes, wrong type, an
 * invalid deny code), WD_ELIMIT, WD_ENOMEM; on error out is unchanged.
 */
WD_MUST_USE int wd_mqtt_encode_suback_merge(const struct wd_mqtt_packet *ack, const bool *allowed,
                                            size_t n, uint8_t deny, struct wd_buf *out);

/* ---- properties (v5) ------------------------------------------------------------------ */

/* One property; which fields are set depends on type. Slices borrow the property block. */
struct wd_mqtt_prop {
    uint8_t id;
    enum wd_mqtt_prop_type type;
    uint32_t num;      /* BYTE, U16, U32, VARINT */
    struct wd_slice s; /* STRING, BINARY, and the name of a PAIR */
    struct wd_slice v; /* the value of a PAIR */
};

/* The data type of a property identifier; WD_MQTT_PT_NONE for an unknown one. */
enum wd_mqtt_prop_type wd_mqtt_prop_type_of(uint32_t id);

/*
 * Check a property block (without its Property Length) as it may appear in packet `where`
 * (a packet type, or WD_MQTT_WILL for Will Properties) sent from `dir`: identifiers known
 * and allowed there (5.0 Table 2-4), single-use ones once, values well-formed and in range,
 * strings valid UTF-8 (cfg->strict_utf8), Response Topic a valid topic name, Authentication
 * Data only with a Method, at most cfg->max_props properties. WD_OK, WD_EPROTO, WD_ELIMIT;
 * why (may be NULL) gets the reason.
 */
WD_MUST_USE int wd_mqtt_props_check(const struct wd_mqtt_config *cfg, enum wd_mqtt_type where,
                                    enum wd_mqtt_dir dir, struct wd_slice block,
                                    enum wd_mqtt_reason *why);

/* Walks a property block that passed validation (a decoded packet's props). */
struct wd_mqtt_props_iter {
    struct wd_rd rd;
};
void wd_mqtt_props_iter_init(struct wd_mqtt_props_iter *it, struct wd_slice block);
/* Next property into *out; false at the end (or at the first malformed byte). */
bool wd_mqtt_props_next(struct wd_mqtt_props_iter *it, struct wd_mqtt_prop *out);
/* The first property with identifier id in block; false if there is none. */
bool wd_mqtt_props_find(struct wd_slice block, uint8_t id, struct wd_mqtt_prop *out);

/*
 * Append one property to a block being built in b (point a packet's props at
 * wd_buf_slice(b) afterwards). The value is taken from the field its type uses. WD_EINVAL
 * for an unknown identifier, a number too large for its type, or a string over 65535
 * bytes; WD_ELIMIT, WD_ENOMEM; on error b is unchanged. Rules that depend on the packet
 * are checked when the packet is encoded.
 */
WD_MUST_USE int wd_mqtt_props_add(struct wd_buf *b, const struct wd_mqtt_prop *prop);
/* Shorthands for a number and for a User Property. Same errors. */
WD_MUST_USE int wd_mqtt_props_add_int(struct wd_buf *b, uint8_t id, uint32_t value);
WD_MUST_USE int wd_mqtt_props_add_user(struct wd_buf *b, struct wd_slice name,
                                       struct wd_slice value);

/* ---- subscription lists --------------------------------------------------------------- */

/* Subscription Options (5.0 §3.8.3.1; in 3.1.1 only the QoS bits exist). */
#define WD_MQTT_SUBOPT_QOS(o)      ((uint8_t)((o)&0x03u))
#define WD_MQTT_SUBOPT_NO_LOCAL    0x04u
#define WD_MQTT_SUBOPT_RAP         0x08u /* Retain As Published */
#define WD_MQTT_SUBOPT_RETAIN_H(o) ((uint8_t)(((o) >> 4) & 0x03u))

/* One SUBSCRIBE or UNSUBSCRIBE entry. */
struct wd_mqtt_sub {
    struct wd_slice filter; /* as sent, "$share/{name}/" prefix included */
    uint8_t options;        /* SUBSCRIBE only (0 for UNSUBSCRIBE) */
};

struct wd_mqtt_subs_iter {
    struct wd_rd rd;
    bool options;
};
/* Walk the entries of a decoded (or built) SUBSCRIBE or UNSUBSCRIBE. */
void wd_mqtt_subs_iter_init(struct wd_mqtt_subs_iter *it, const struct wd_mqtt_packet *pkt);
/* Next entry into *out; false at the end (or at the first malformed byte). */
bool wd_mqtt_subs_next(struct wd_mqtt_subs_iter *it, struct wd_mqtt_sub *out);

/*
 * Append one entry to a list being built in b for a packet of `type` (SUBSCRIBE writes the
 * options byte, UNSUBSCRIBE does not). WD_EINVAL (other type, filter over 65535 bytes),
 * WD_ELIMIT, WD_ENOMEM; on error b is unchanged.
 */
WD_MUST_USE int wd_mqtt_subs_add(struct wd_buf *b, enum wd_mqtt_type type, struct wd_slice filter,
                                 uint8_t options);

/* ---- strings, topics and filters ------------------------------------------------------ */

/*
 * MQTT 5.0 §1.5.4 / 3.1.1 §1.5.3: p[0..len) is well-formed UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF) without U+0000; with strict also without
 * U+0001..U+001F, U+007F..U+009F and non-characters. WD_OK or WD_EPROTO.
 */
WD_MUST_USE int wd_mqtt_utf8_check(const uint8_t *p, size_t len, bool strict);

/*
 * A Topic Name (§4.7): valid UTF-8 (see above), at least one byte [MQTT-4.7.3-1], no '+'
 * or '#' [MQTT-3.3.2-2]. WD_OK or WD_EPROTO with why (may be NULL) UTF8 or TOPIC_NAME.
 */
WD_MUST_USE int wd_mqtt_topic_check(struct wd_slice topic, bool strict, enum wd_mqtt_reason *why);

/* A parsed Topic Filter. Slices borrow the filter. */
struct wd_mqtt_filter {
    struct wd_slice filter;     /* what to match topics with: the inner filter if shared */
    struct wd_slice share_name; /* empty unless shared */
    bool shared;                /* v5 "$share/{ShareName}/{filter}" (5.0 §4.8.2) */
    bool wildcard;              /* filter contains '+' or '#' */
};

/*
 * Check a Topic Filter (§4.7.1): valid UTF-8, at least one byte, '+' only as a whole level,
 * '#' only as the whole last level; in v5 a "$share/" prefix makes a shared subscription
 * whose ShareName is at least one byte without '/', '+', '#' and is followed by '/' and a
 * valid filter [MQTT-4.8.2-1, -2]. WD_OK (out filled; may be NULL) or WD_EPROTO with why
 * (may be NULL) UTF8, TOPIC_FILTER or SHARE_NAME.
 */
WD_MUST_USE int wd_mqtt_filter_parse(uint8_t version, struct wd_slice filter, bool strict,
                                     struct wd_mqtt_filter *out, enum wd_mqtt_reason *why);

/*
 * Does the Topic Filter `filter` match the Topic Name `topic` (§4.7)? '+' matches exactly
 * one level (possibly empty), '#' the parent level and any number of child levels, and a
 * filter starting with a wildcard never matches a topic starting with '$' [MQTT-4.7.2-1].
 * Pass the inner filter of a shared subscription (wd_mqtt_filter_parse). Inputs are
 * expected to have passed the checks above; anything else is compared literally, safely.
 */
bool wd_mqtt_topic_matches(struct wd_slice filter, struct wd_slice topic);

/* ---- names ---------------------------------------------------------------------------- */

/* "CONNECT", ...; "?" for anything else. */
const char *wd_mqtt_type_name(unsigned type);
/* A stable lower-case name such as "prop_dup"; "?" for an out-of-range value. */
const char *wd_mqtt_reason_name(enum wd_mqtt_reason r);
/* The v5 reason code to report the reason with (CONNACK or DISCONNECT); 0x80 for NONE. */
uint8_t wd_mqtt_reason_code(enum wd_mqtt_reason r);
/* WD_ELIMIT for the limit reasons, WD_EPROTO for every other (WD_OK for NONE). */
WD_MUST_USE int wd_mqtt_reason_err(enum wd_mqtt_reason r);

#endif
