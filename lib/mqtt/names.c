/*
 * Names of packet types and decode reasons, the reason → v5 reason code table, and the
 * reason codes each packet may carry (5.0 §2.4 and the per-packet tables of chapter 3).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "warden/err.h"
#include "warden/mqtt.h"

#include "mqtt_int.h"

static const char *const type_names[] = {
        [WD_MQTT_CONNECT] = "CONNECT",   [WD_MQTT_CONNACK] = "CONNACK",
        [WD_MQTT_PUBLISH] = "PUBLISH",   [WD_MQTT_PUBACK] = "PUBACK",
        [WD_MQTT_PUBREC] = "PUBREC",     [WD_MQTT_PUBREL] = "PUBREL",
        [WD_MQTT_PUBCOMP] = "PUBCOMP",   [WD_MQTT_SUBSCRIBE] = "SUBSCRIBE",
        [WD_MQTT_SUBACK] = "SUBACK",     [WD_MQTT_UNSUBSCRIBE] = "UNSUBSCRIBE",
        [WD_MQTT_UNSUBACK] = "UNSUBACK", [WD_MQTT_PINGREQ] = "PINGREQ",
        [WD_MQTT_PINGRESP] = "PINGRESP", [WD_MQTT_DISCONNECT] = "DISCONNECT",
        [WD_MQTT_AUTH] = "AUTH",         [WD_MQTT_WILL] = "WILL",
};

const char *wd_mqtt_type_name(unsigned type)
{
    if (type < WD_ARRAY_LEN(type_names) && type_names[type] != NULL) {
        return type_names[type];
    }
    return "?";
}

struct reason_def {
    const char *name;
    uint8_t code; /* v5 reason code */
};

/*
 * 5.0 §4.13: a packet that cannot be parsed by the spec is a Malformed Packet (0x81); one
 * that parses but breaks a rule is a Protocol Error (0x82). Where the spec names a more
 * precise code (Topic Name invalid, Packet too large, ...) that one is used.
 */
static const struct reason_def reasons[WD_MQTT_R_COUNT_] = {
        [WD_MQTT_R_NONE] = {"none", WD_MQTT_RC_UNSPECIFIED},
        [WD_MQTT_R_TYPE] = {"type", WD_MQTT_RC_MALFORMED},
        [WD_MQTT_R_FLAGS] = {"flags", WD_MQTT_RC_MALFORMED},
        [WD_MQTT_R_QOS] = {"qos", WD_MQTT_RC_MALFORMED},
        [WD_MQTT_R_DUP_QOS0] = {"dup_qos0", WD_MQTT_RC_MALFORMED},
        [WD_MQTT_R_VARINT] = {"varint", WD_MQTT_RC_MALFORMED},
        [WD_MQTT_R_LENGTH] = {"length", WD_MQTT_RC_MALFORMED},
        [WD_MQTT_R_UTF8] = {"utf8", WD_MQTT_RC_MALFORMED},
        [WD_MQTT_R_CONNECT_FLAGS] = {"connect_flags", WD_MQTT_RC_MALFORMED},
        [WD_MQTT_R_WILL_FLAGS] = {"will_flags", WD_MQTT_RC_MALFORMED},
        [WD_MQTT_R_PASSWORD_FLAG] = {"password_flag", WD_MQTT_RC_MALFORMED},
        [WD_MQTT_R_CONNACK_FLAGS] = {"connack_flags", WD_MQTT_RC_MALFORMED},
        [WD_MQTT_R_SUB_OPTIONS] = {"sub_options", WD_MQTT_RC_MALFORMED},
        [WD_MQTT_R_PROP_ID] = {"prop_id", WD_MQTT_RC_MALFORMED},
        [WD_MQTT_R_PROP_LENGTH] = {"prop_length", WD_MQTT_RC_MALFORMED},
        [WD_MQTT_R_NOT_CONNECTED] = {"not_connected", WD_MQTT_RC_PROTOCOL_ERROR},
        [WD_MQTT_R_CONNECT_TWICE] = {"connect_twice", WD_MQTT_RC_PROTOCOL_ERROR},
        [WD_MQTT_R_DIRECTION] = {"direction", WD_MQTT_RC_PROTOCOL_ERROR},
        [WD_MQTT_R_PACKET_ID] = {"packet_id", WD_MQTT_RC_PROTOCOL_ERROR},
        [WD_MQTT_R_REASON_CODE] = {"reason_code", WD_MQTT_RC_PROTOCOL_ERROR},
        [WD_MQTT_R_SESSION_PRESENT] = {"session_present", WD_MQTT_RC_PROTOCOL_ERROR},
        [WD_MQTT_R_EMPTY] = {"empty", WD_MQTT_RC_PROTOCOL_ERROR},
        [WD_MQTT_R_RETAIN_HANDLING] = {"retain_handling", WD_MQTT_RC_PROTOCOL_ERROR},
        [WD_MQTT_R_NO_LOCAL_SHARED] = {"no_local_shared", WD_MQTT_RC_PROTOCOL_ERROR},
        [WD_MQTT_R_PROP_NOT_ALLOWED] = {"prop_not_allowed", WD_MQTT_RC_PROTOCOL_ERROR},
        [WD_MQTT_R_PROP_DUP] = {"prop_dup", WD_MQTT_RC_PROTOCOL_ERROR},
        [WD_MQTT_R_PROP_VALUE] = {"prop_value", WD_MQTT_RC_PROTOCOL_ERROR},
        [WD_MQTT_R_PROP_AUTH] = {"prop_auth", WD_MQTT_RC_PROTOCOL_ERROR},
        [WD_MQTT_R_SUB_ID_FROM_CLIENT] = {"sub_id_from_client", WD_MQTT_RC_PROTOCOL_ERROR},
        [WD_MQTT_R_PROTOCOL_NAME] = {"protocol_name", WD_MQTT_RC_UNSUPPORTED_VERSION},
        [WD_MQTT_R_PROTOCOL_VERSION] = {"protocol_version", WD_MQTT_RC_UNSUPPORTED_VERSION},
        [WD_MQTT_R_CLIENT_ID] = {"client_id", WD_MQTT_RC_CLIENT_ID_INVALID},
        [WD_MQTT_R_TOPIC_NAME] = {"topic_name", WD_MQTT_RC_TOPIC_NAME_INVALID},
        [WD_MQTT_R_TOPIC_FILTER] = {"topic_filter", WD_MQTT_RC_TOPIC_FILTER_INVALID},
        [WD_MQTT_R_SHARE_NAME] = {"share_name", WD_MQTT_RC_TOPIC_FILTER_INVALID},
        [WD_MQTT_R_TOPIC_ALIAS] = {"topic_alias", WD_MQTT_RC_TOPIC_ALIAS_INVALID},
        [WD_MQTT_R_PACKET_TOO_LARGE] = {"packet_too_large", WD_MQTT_RC_PACKET_TOO_LARGE},
        [WD_MQTT_R_LIMIT_PROPS] = {"limit_props", WD_MQTT_RC_IMPLEMENTATION},
        [WD_MQTT_R_LIMIT_FILTERS] = {"limit_filters", WD_MQTT_RC_QUOTA_EXCEEDED},
        [WD_MQTT_R_LIMIT_TOPIC_NAME] = {"limit_topic_name", WD_MQTT_RC_TOPIC_NAME_INVALID},
        [WD_MQTT_R_LIMIT_TOPIC_FILTER] = {"limit_topic_filter", WD_MQTT_RC_TOPIC_FILTER_INVALID},
};

const char *wd_mqtt_reason_name(enum wd_mqtt_reason r)
{
    if ((unsigned)r < WD_MQTT_R_COUNT_ && reasons[r].name != NULL) {
        return reasons[r].name;
    }
    return "?";
}

uint8_t wd_mqtt_reason_code(enum wd_mqtt_reason r)
{
    if ((unsigned)r < WD_MQTT_R_COUNT_ && reasons[r].name != NULL) {
        return reasons[r].code;
    }
    return WD_MQTT_RC_UNSPECIFIED;
}

int wd_mqtt_reason_err(enum wd_mqtt_reason r)
{
    if (r == WD_MQTT_R_NONE) {
        return WD_OK;
    }
    return r >= WD_MQTT_R_PACKET_TOO_LARGE ? WD_ELIMIT : WD_EPROTO;
}

int wd_mqtt_fail(enum wd_mqtt_reason *why, enum wd_mqtt_reason r)
{
    if (why != NULL) {
        *why = r;
    }
    return wd_mqtt_reason_err(r);
}

/* 5.0 §3.2.2.2 Table 3-1: CONNACK reason codes. */
static const uint8_t connack5[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
                                   0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
                                   0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
/* 5.0 §3.4.2.1 Table 3-4 (PUBACK) and §3.5.2.1 Table 3-5 (PUBREC): the same set. */
static const uint8_t puback5[] = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
/* 5.0 §3.6.2.1 Table 3-6 (PUBREL) and §3.7.2.1 Table 3-7 (PUBCOMP). */
static const uint8_t pubrel5[] = {0x00, 0x92};
/* 5.0 §3.9.3 Table 3-8: SUBACK reason codes. */
static const uint8_t suback5[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
                                  0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
/* 5.0 §3.11.3 Table 3-9: UNSUBACK reason codes. */
static const uint8_t unsuback5[] = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
/* 5.0 §3.14.2.1 Table 3-10: DISCONNECT reason codes. */
static const uint8_t disconnect5[] = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D,
                                      0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
                                      0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
/* 5.0 §3.15.2.1 Table 3-11: AUTH reason codes. */
static const uint8_t auth5[] = {0x00, 0x18, 0x19};
/* 3.1.1 §3.2.2.3 Table 3.1: CONNACK return codes 0-5; §3.9.3: SUBACK 0x00-0x02, 0x80. */
static const uint8_t connack311[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05};
static const uint8_t suback311[] = {0x00, 0x01, 0x02, 0x80};

static bool in(const uint8_t *set, size_t n, uint8_t code)
{
    return memchr(set, code, n) != NULL;
}

bool wd_mqtt_code_allowed(enum wd_mqtt_type type, uint8_t version, uint8_t code)
{
    if (version != WD_MQTT_V5) {
        switch (type) {
        case WD_MQTT_CONNACK:
            return in(connack311, sizeof(connack311), code);
        case WD_MQTT_SUBACK:
            return in(suback311, sizeof(suback311), code);
        default:
            return false;
        }
    }
    switch (type) {
    case WD_MQTT_CONNACK:
        return in(connack5, sizeof(connack5), code);
    case WD_MQTT_PUBACK:
    case WD_MQTT_PUBREC:
        return in(puback5, sizeof(puback5), code);
    case WD_MQTT_PUBREL:
    case WD_MQTT_PUBCOMP:
        return in(pubrel5, sizeof(pubrel5), code);
    case WD_MQTT_SUBACK:
        return in(suback5, sizeof(suback5), code);
    case WD_MQTT_UNSUBACK:
        return in(unsuback5, sizeof(unsuback5), code);
    case WD_MQTT_DISCONNECT:
        return in(disconnect5, sizeof(disconnect5), code);
    case WD_MQTT_AUTH:
        return in(auth5, sizeof(auth5), code);
    default:
        return false;
    }
}
