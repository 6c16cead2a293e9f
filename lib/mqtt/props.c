/*
 * MQTT 5.0 properties (§2.2.2): the identifier table, validation of a property block for a
 * given packet, iteration over a validated block, and a writer for building blocks.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "warden/buf.h"
#include "warden/err.h"
#include "warden/mqtt.h"

#include "mqtt_int.h"

/* A packet type as a bit; WD_MQTT_WILL (16) names the Will Properties. */
#define B(t) (1u << (t))

#define ACKS   (B(WD_MQTT_PUBACK) | B(WD_MQTT_PUBREC) | B(WD_MQTT_PUBREL) | B(WD_MQTT_PUBCOMP))
#define PUBW   (B(WD_MQTT_PUBLISH) | B(WD_MQTT_WILL))
#define ALL_V5 (0xFFFEu | B(WD_MQTT_WILL))

/* Value rules beyond the data type. */
#define PF_BOOL    0x01u /* 0 or 1, anything else is a Protocol Error */
#define PF_NONZERO 0x02u /* 0 is a Protocol Error */
#define PF_TOPIC   0x04u /* a Topic Name (Response Topic, [MQTT-3.3.2-14]) */

struct prop_def {
    enum wd_mqtt_prop_type type;
    uint32_t where; /* packets it may appear in (5.0 Table 2-4) */
    uint32_t multi; /* packets it may appear in more than once */
    uint8_t flags;
};

/*
 * 5.0 §2.2.2.2 Table 2-4, with the value rules of the sections that define each property
 * (§3.1.2.11, §3.1.3.2, §3.2.2.3, §3.3.2.3, §3.8.2.1, ...). Only User Property (everywhere)
 * and Subscription Identifier (in PUBLISH, §3.3.2.3.8) may be repeated: "It is a Protocol
 * Error to include <property> more than once" holds for all the others.
 */
static const struct prop_def defs[] = {
        [WD_MQTT_P_PAYLOAD_FORMAT] = {WD_MQTT_PT_BYTE, PUBW, 0, PF_BOOL},
        [WD_MQTT_P_MESSAGE_EXPIRY] = {WD_MQTT_PT_U32, PUBW, 0, 0},
        [WD_MQTT_P_CONTENT_TYPE] = {WD_MQTT_PT_STRING, PUBW, 0, 0},
        [WD_MQTT_P_RESPONSE_TOPIC] = {WD_MQTT_PT_STRING, PUBW, 0, PF_TOPIC},
        [WD_MQTT_P_CORRELATION_DATA] = {WD_MQTT_PT_BINARY, PUBW, 0, 0},
        /* §3.8.2.1.2: "It is a Protocol Error if the Subscription Identifier has a value
         * of 0"; a varint caps it at 268,435,455. */
        [WD_MQTT_P_SUBSCRIPTION_ID] = {WD_MQTT_PT_VARINT, B(WD_MQTT_PUBLISH) | B(WD_MQTT_SUBSCRIBE),
                                       B(WD_MQTT_PUBLISH), PF_NONZERO},
        [WD_MQTT_P_SESSION_EXPIRY] = {WD_MQTT_PT_U32,
                                      B(WD_MQTT_CONNECT) | B(WD_MQTT_CONNACK)
                                              | B(WD_MQTT_DISCONNECT),
                                      0, 0},
        [WD_MQTT_P_ASSIGNED_CLIENT_ID] = {WD_MQTT_PT_STRING, B(WD_MQTT_CONNACK), 0, 0},
        [WD_MQTT_P_SERVER_KEEP_ALIVE] = {WD_MQTT_PT_U16, B(WD_MQTT_CONNACK), 0, 0},
        [WD_MQTT_P_AUTH_METHOD] = {WD_MQTT_PT_STRING,
                                   B(WD_MQTT_CONNECT) | B(WD_MQTT_CONNACK) | B(WD_MQTT_AUTH), 0, 0},
        [WD_MQTT_P_AUTH_DATA] = {WD_MQTT_PT_BINARY,
                                 B(WD_MQTT_CONNECT) | B(WD_MQTT_CONNACK) | B(WD_MQTT_AUTH), 0, 0},
        [WD_MQTT_P_REQUEST_PROBLEM_INFO] = {WD_MQTT_PT_BYTE, B(WD_MQTT_CONNECT), 0, PF_BOOL},
        [WD_MQTT_P_WILL_DELAY] = {WD_MQTT_PT_U32, B(WD_MQTT_WILL), 0, 0},
        [WD_MQTT_P_REQUEST_RESPONSE_INFO] = {WD_MQTT_PT_BYTE, B(WD_MQTT_CONNECT), 0, PF_BOOL},
        [WD_MQTT_P_RESPONSE_INFO] = {WD_MQTT_PT_STRING, B(WD_MQTT_CONNACK), 0, 0},
        [WD_MQTT_P_SERVER_REFERENCE] = {WD_MQTT_PT_STRING,
                                        B(WD_MQTT_CONNACK) | B(WD_MQTT_DISCONNECT), 0, 0},
        [WD_MQTT_P_REASON_STRING] = {WD_MQTT_PT_STRING,
                                     B(WD_MQTT_CONNACK) | ACKS | B(WD_MQTT_SUBACK)
                                             | B(WD_MQTT_UNSUBACK) | B(WD_MQTT_DISCONNECT)
                                             | B(WD_MQTT_AUTH),
                                     0, 0},
        /* §3.1.2.11.3 / §3.2.2.3.3: Receive Maximum 0 is a Protocol Error. */
        [WD_MQTT_P_RECEIVE_MAXIMUM] = {WD_MQTT_PT_U16, B(WD_MQTT_CONNECT) | B(WD_MQTT_CONNACK), 0,
                                       PF_NONZERO},
        [WD_MQTT_P_TOPIC_ALIAS_MAXIMUM] = {WD_MQTT_PT_U16, B(WD_MQTT_CONNECT) | B(WD_MQTT_CONNACK),
                                           0, 0},
        /* §3.3.2.3.4: Topic Alias 0 is not permitted (0x94 Topic Alias invalid). */
        [WD_MQTT_P_TOPIC_ALIAS] = {WD_MQTT_PT_U16, B(WD_MQTT_PUBLISH), 0, PF_NONZERO},
        /* §3.2.2.3.4: Maximum QoS is 0 or 1. */
        [WD_MQTT_P_MAXIMUM_QOS] = {WD_MQTT_PT_BYTE, B(WD_MQTT_CONNACK), 0, PF_BOOL},
        [WD_MQTT_P_RETAIN_AVAILABLE] = {WD_MQTT_PT_BYTE, B(WD_MQTT_CONNACK), 0, PF_BOOL},
        [WD_MQTT_P_USER_PROPERTY] = {WD_MQTT_PT_PAIR,
                                     ALL_V5 & ~(B(WD_MQTT_PINGREQ) | B(WD_MQTT_PINGRESP)), ALL_V5,
                                     0},
        /* §3.1.2.11.4 / §3.2.2.3.6: Maximum Packet Size 0 is a Protocol Error. */
        [WD_MQTT_P_MAXIMUM_PACKET_SIZE] = {WD_MQTT_PT_U32, B(WD_MQTT_CONNECT) | B(WD_MQTT_CONNACK),
                                           0, PF_NONZERO},
        [WD_MQTT_P_WILDCARD_SUB_AVAILABLE] = {WD_MQTT_PT_BYTE, B(WD_MQTT_CONNACK), 0, PF_BOOL},
        [WD_MQTT_P_SUB_ID_AVAILABLE] = {WD_MQTT_PT_BYTE, B(WD_MQTT_CONNACK), 0, PF_BOOL},
        [WD_MQTT_P_SHARED_SUB_AVAILABLE] = {WD_MQTT_PT_BYTE, B(WD_MQTT_CONNACK), 0, PF_BOOL},
};

enum wd_mqtt_prop_type wd_mqtt_prop_type_of(uint32_t id)
{
    return id < WD_ARRAY_LEN(defs) ? defs[id].type : WD_MQTT_PT_NONE;
}

/*
 * Read one property value of the given type. Short input is WD_MQTT_R_PROP_LENGTH; the
 * UTF-8 rules apply to strings and both strings of a pair (§1.5.4, §1.5.7).
 */
static int read_value(struct wd_rd *r, enum wd_mqtt_prop_type type, bool strict,
                      struct wd_mqtt_prop *out, enum wd_mqtt_reason *why)
{
    uint8_t u8;
    uint16_t u16;
    struct wd_slice *strs[2] = {&out->s, &out->v};
    size_t nstr = 0;
    int rc = WD_OK;
    switch (type) {
    case WD_MQTT_PT_BYTE:
        rc = wd_rd_u8(r, &u8);
        out->num = u8;
        break;
    case WD_MQTT_PT_U16:
        rc = wd_rd_u16be(r, &u16);
        out->num = u16;
        break;
    case WD_MQTT_PT_U32:
        rc = wd_rd_u32be(r, &out->num);
        break;
    case WD_MQTT_PT_VARINT:
        return wd_mqtt_rd_varint(r, &out->num, why) < 0 ? wd_mqtt_fail(
                       why, *why == WD_MQTT_R_LENGTH ? WD_MQTT_R_PROP_LENGTH : WD_MQTT_R_VARINT)
                                                        : WD_OK;
    case WD_MQTT_PT_STRING:
    case WD_MQTT_PT_BINARY:
        nstr = 1;
        break;
    case WD_MQTT_PT_PAIR:
        nstr = 2;
        break;
    case WD_MQTT_PT_NONE:
        return wd_mqtt_fail(why, WD_MQTT_R_PROP_ID);
    }
    if (rc < 0) {
        return wd_mqtt_fail(why, WD_MQTT_R_PROP_LENGTH);
    }
    for (size_t i = 0; i < nstr; i++) {
        if (wd_rd_u16be(r, &u16) < 0 || wd_rd_bytes(r, u16, strs[i]) < 0) {
            return wd_mqtt_fail(why, WD_MQTT_R_PROP_LENGTH);
        }
        if (type != WD_MQTT_PT_BINARY && wd_mqtt_utf8_check(strs[i]->p, strs[i]->len, strict) < 0) {
            return wd_mqtt_fail(why, WD_MQTT_R_UTF8);
        }
    }
    return WD_OK;
}

/*
 * Read the identifier of the next property: a Variable Byte Integer (§2.2.2.2), in practice
 * one byte since every identifier is below 128. Unknown ones make the packet malformed.
 */
static int read_id(struct wd_rd *r, uint8_t *id, enum wd_mqtt_reason *why)
{
    uint32_t v;
    if (wd_mqtt_rd_varint(r, &v, why) < 0) {
        return wd_mqtt_fail(why, *why == WD_MQTT_R_LENGTH ? WD_MQTT_R_PROP_LENGTH : *why);
    }
    if (wd_mqtt_prop_type_of(v) == WD_MQTT_PT_NONE) {
        return wd_mqtt_fail(why, WD_MQTT_R_PROP_ID);
    }
    *id = (uint8_t)v;
    return WD_OK;
}

int wd_mqtt_props_scan(const struct wd_mqtt_config *cfg, enum wd_mqtt_type where,
                       enum wd_mqtt_dir dir, struct wd_slice block, struct wd_mqtt_props_info *info,
                       enum wd_mqtt_reason *why)
{
    struct wd_rd r;
    uint64_t seen = 0;
    memset(info, 0, sizeof(*info));
    wd_rd_init(&r, block.p, block.len);
    while (wd_rd_left(&r) > 0) {
        struct wd_mqtt_prop pr = {0};
        WD_TRY(read_id(&r, &pr.id, why));
        const struct prop_def *d = &defs[pr.id];
        /* Table 2-4: a property used in the wrong packet is a Protocol Error. */
        if ((d->where & B(where)) == 0) {
            return wd_mqtt_fail(why, WD_MQTT_R_PROP_NOT_ALLOWED);
        }
        if (++info->count > cfg->max_props) {
            return wd_mqtt_fail(why, WD_MQTT_R_LIMIT_PROPS);
        }
        WD_TRY(read_value(&r, d->type, cfg->strict_utf8, &pr, why));
        uint64_t bit = (uint64_t)1 << pr.id;
        if ((seen & bit) != 0 && (d->multi & B(where)) == 0) {
            return wd_mqtt_fail(why, WD_MQTT_R_PROP_DUP);
        }
        seen |= bit;
        if ((d->flags & PF_BOOL) != 0 && pr.num > 1) {
            return wd_mqtt_fail(why, WD_MQTT_R_PROP_VALUE);
        }
        if ((d->flags & PF_NONZERO) != 0 && pr.num == 0) {
            return wd_mqtt_fail(why, pr.id == WD_MQTT_P_TOPIC_ALIAS ? WD_MQTT_R_TOPIC_ALIAS
                                                                    : WD_MQTT_R_PROP_VALUE);
        }
        if ((d->flags & PF_TOPIC) != 0) {
            WD_TRY(wd_mqtt_topic_check(pr.s, cfg->strict_utf8, why));
        }
        if (pr.id == WD_MQTT_P_TOPIC_ALIAS) {
            info->topic_alias = (uint16_t)pr.num;
        } else if (pr.id == WD_MQTT_P_SUBSCRIPTION_ID && info->sub_id == 0) {
            info->sub_id = pr.num;
        }
    }
    /* §3.1.2.11.10, §3.2.2.3.18: Authentication Data without Authentication Method. */
    uint64_t method = (uint64_t)1 << WD_MQTT_P_AUTH_METHOD;
    if ((seen & ((uint64_t)1 << WD_MQTT_P_AUTH_DATA)) != 0 && (seen & method) == 0) {
        return wd_mqtt_fail(why, WD_MQTT_R_PROP_AUTH);
    }
    /* §3.15.2.2.2: "It is a Protocol Error to omit the Authentication Method" in AUTH. */
    if (where == WD_MQTT_AUTH && (seen & method) == 0) {
        return wd_mqtt_fail(why, WD_MQTT_R_PROP_AUTH);
    }
    info->has_session_expiry = (seen & ((uint64_t)1 << WD_MQTT_P_SESSION_EXPIRY)) != 0;
    /* [MQTT-3.14.2-2]: the Server MUST NOT send Session Expiry Interval in DISCONNECT. */
    if (where == WD_MQTT_DISCONNECT && dir == WD_MQTT_FROM_SERVER && info->has_session_expiry) {
        return wd_mqtt_fail(why, WD_MQTT_R_PROP_NOT_ALLOWED);
    }
    /* [MQTT-3.3.4-6]: a PUBLISH from a Client MUST NOT contain a Subscription Identifier. */
    if (where == WD_MQTT_PUBLISH && dir == WD_MQTT_FROM_CLIENT && info->sub_id != 0) {
        return wd_mqtt_fail(why, WD_MQTT_R_SUB_ID_FROM_CLIENT);
    }
    *why = WD_MQTT_R_NONE;
    return WD_OK;
}

int wd_mqtt_props_check(const struct wd_mqtt_config *cfg, enum wd_mqtt_type where,
                        enum wd_mqtt_dir dir, struct wd_slice block, enum wd_mqtt_reason *why)
{
    struct wd_mqtt_props_info info = {0};
    enum wd_mqtt_reason w = WD_MQTT_R_PROP_NOT_ALLOWED;
    int rc = WD_EPROTO;
    if (where >= WD_MQTT_CONNECT && where <= WD_MQTT_WILL) {
        rc = wd_mqtt_props_scan(cfg, where, dir, block, &info, &w);
    }
    if (why != NULL) {
        *why = w;
    }
    return rc;
}

void wd_mqtt_props_iter_init(struct wd_mqtt_props_iter *it, struct wd_slice block)
{
    wd_rd_init(&it->rd, block.p, block.len);
}

bool wd_mqtt_props_next(struct wd_mqtt_props_iter *it, struct wd_mqtt_prop *out)
{
    enum wd_mqtt_reason why;
    if (wd_rd_left(&it->rd) == 0) {
        return false;
    }
    memset(out, 0, sizeof(*out));
    if (read_id(&it->rd, &out->id, &why) < 0) {
        it->rd.off = it->rd.len;
        return false;
    }
    out->type = defs[out->id].type;
    /* The block was validated when decoded; strictness does not matter here. */
    if (read_value(&it->rd, out->type, false, out, &why) < 0) {
        it->rd.off = it->rd.len;
        return false;
    }
    return true;
}

bool wd_mqtt_props_find(struct wd_slice block, uint8_t id, struct wd_mqtt_prop *out)
{
    struct wd_mqtt_props_iter it;
    wd_mqtt_props_iter_init(&it, block);
    while (wd_mqtt_props_next(&it, out)) {
        if (out->id == id) {
            return true;
        }
    }
    return false;
}

int wd_mqtt_props_add(struct wd_buf *b, const struct wd_mqtt_prop *prop)
{
    uint8_t head[8];
    size_t n = 0;
    enum wd_mqtt_prop_type type = wd_mqtt_prop_type_of(prop->id);
    uint32_t v = prop->num;
    head[n++] = prop->id;
    switch (type) {
    case WD_MQTT_PT_NONE:
        return WD_EINVAL;
    case WD_MQTT_PT_BYTE:
        WD_ENSURE(v <= 0xFF, WD_EINVAL);
        head[n++] = (uint8_t)v;
        break;
    case WD_MQTT_PT_U16:
        WD_ENSURE(v <= 0xFFFF, WD_EINVAL);
        head[n++] = (uint8_t)(v >> 8);
        head[n++] = (uint8_t)v;
        break;
    case WD_MQTT_PT_U32:
        for (int sh = 24; sh >= 0; sh -= 8) {
            head[n++] = (uint8_t)(v >> sh);
        }
        break;
    case WD_MQTT_PT_VARINT:
        WD_ENSURE(v <= WD_MQTT_VARINT_MAX, WD_EINVAL);
        n += wd_mqtt_varint_put(head + n, v);
        break;
    case WD_MQTT_PT_STRING:
    case WD_MQTT_PT_BINARY:
    case WD_MQTT_PT_PAIR:
        WD_ENSURE(prop->s.len <= 0xFFFF && prop->v.len <= 0xFFFF, WD_EINVAL);
        head[n++] = (uint8_t)(prop->s.len >> 8);
        head[n++] = (uint8_t)prop->s.len;
        break;
    }
    bool pair = type == WD_MQTT_PT_PAIR;
    bool data = pair || type == WD_MQTT_PT_STRING || type == WD_MQTT_PT_BINARY;
    size_t total = n + (data ? prop->s.len : 0) + (pair ? 2 + prop->v.len : 0);
    /* Reserve first so that the appends below cannot fail half-way. */
    WD_TRY(wd_buf_reserve(b, total));
    WD_TRY(wd_buf_append(b, head, n));
    if (data && prop->s.len > 0) {
        WD_TRY(wd_buf_append(b, prop->s.p, prop->s.len));
    }
    if (pair) {
        uint8_t vl[2] = {(uint8_t)(prop->v.len >> 8), (uint8_t)prop->v.len};
        WD_TRY(wd_buf_append(b, vl, 2));
        if (prop->v.len > 0) {
            WD_TRY(wd_buf_append(b, prop->v.p, prop->v.len));
        }
    }
    return WD_OK;
}

int wd_mqtt_props_add_int(struct wd_buf *b, uint8_t id, uint32_t value)
{
    enum wd_mqtt_prop_type t = wd_mqtt_prop_type_of(id);
    WD_ENSURE(t == WD_MQTT_PT_BYTE || t == WD_MQTT_PT_U16 || t == WD_MQTT_PT_U32
                      || t == WD_MQTT_PT_VARINT,
              WD_EINVAL);
    struct wd_mqtt_prop p = {.id = id, .num = value};
    return wd_mqtt_props_add(b, &p);
}

int wd_mqtt_props_add_user(struct wd_buf *b, struct wd_slice name, struct wd_slice value)
{
    struct wd_mqtt_prop p = {.id = WD_MQTT_P_USER_PROPERTY, .s = name, .v = value};
    return wd_mqtt_props_add(b, &p);
}
