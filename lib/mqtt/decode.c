/*
 * MQTT framing (§2.1 fixed header) and packet decoding for 3.1.1 and 5.0. One whole packet
 * at a time: the fixed header says how long the packet is, so a partial packet costs a
 * re-read of at most five bytes when more arrive, and no state is kept between calls.
 * Section numbers are MQTT 5.0 unless marked 3.1.1; normative statement ids are quoted as
 * the spec writes them ([MQTT-x.y.z-n]).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "warden/buf.h"
#include "warden/err.h"
#include "warden/mqtt.h"

#include "mqtt_int.h"

/* Who may send a packet type (§2.1.2 Table 2-1 "Direction of flow"). */
#define DC 0x1u /* Client to Server */
#define DS 0x2u /* Server to Client */

struct type_def {
    uint8_t flags;   /* required fixed-header flags (§2.1.3 Table 2-2); PUBLISH is special */
    uint8_t from5;   /* senders in 5.0 */
    uint8_t from311; /* senders in 3.1.1 */
};

static const struct type_def tdefs[16] = {
        [WD_MQTT_CONNECT] = {0x0, DC, DC},
        [WD_MQTT_CONNACK] = {0x0, DS, DS},
        [WD_MQTT_PUBLISH] = {0x0, DC | DS, DC | DS},
        [WD_MQTT_PUBACK] = {0x0, DC | DS, DC | DS},
        [WD_MQTT_PUBREC] = {0x0, DC | DS, DC | DS},
        /* [MQTT-3.6.1-1], [MQTT-3.8.1-1], [MQTT-3.10.1-1]: these three carry flags 0010. */
        [WD_MQTT_PUBREL] = {0x2, DC | DS, DC | DS},
        [WD_MQTT_PUBCOMP] = {0x0, DC | DS, DC | DS},
        [WD_MQTT_SUBSCRIBE] = {0x2, DC, DC},
        [WD_MQTT_SUBACK] = {0x0, DS, DS},
        [WD_MQTT_UNSUBSCRIBE] = {0x2, DC, DC},
        [WD_MQTT_UNSUBACK] = {0x0, DS, DS},
        [WD_MQTT_PINGREQ] = {0x0, DC, DC},
        [WD_MQTT_PINGRESP] = {0x0, DS, DS},
        /* 3.1.1 §3.14: DISCONNECT is only sent by the Client; 5.0 §3.14 either way. */
        [WD_MQTT_DISCONNECT] = {0x0, DC | DS, DC},
        /* §3.15: AUTH exists only in 5.0. */
        [WD_MQTT_AUTH] = {0x0, DC | DS, 0},
};

uint8_t wd_mqtt_type_flags(enum wd_mqtt_type type)
{
    return (unsigned)type < 16 ? tdefs[type].flags : 0;
}

void wd_mqtt_config_default(struct wd_mqtt_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_packet = 1u << 20;
    cfg->max_props = 64;
    cfg->max_filters = 128;
    cfg->max_topic = 65535;
    cfg->strict_utf8 = false;
}

size_t wd_mqtt_varint_len(uint32_t v)
{
    return v < 128u ? 1 : v < 16384u ? 2 : v < 2097152u ? 3 : 4;
}

size_t wd_mqtt_varint_put(uint8_t *dst, uint32_t v)
{
    /* §1.5.5: seven bits per byte, least significant group first, high bit = more. */
    size_t n = 0;
    do {
        uint8_t c = (uint8_t)(v & 0x7Fu);
        v >>= 7;
        dst[n++] = (uint8_t)(v != 0 ? c | 0x80u : c);
    } while (v != 0);
    return n;
}

/*
 * A Variable Byte Integer at r->off: WD_OK, WD_EAGAIN when the input ends inside it, or
 * WD_EPROTO (why set; nothing consumed).
 */
static int read_varint(struct wd_rd *r, uint32_t *out, enum wd_mqtt_reason *why)
{
    size_t start = r->off;
    int rc = wd_rd_varint(r, out);
    if (rc < 0) {
        *why = rc == WD_EAGAIN ? WD_MQTT_R_LENGTH : WD_MQTT_R_VARINT;
        return rc;
    }
    /* [MQTT-1.5.5-1]: "The encoded value MUST use the minimum number of bytes necessary to
     * represent the value". A longer form ends in a 0x00 group. 3.1.1 §2.2.3 has no such
     * sentence, but a second encoding of one length is exactly the ambiguity a proxy must
     * not let through, so warden applies the rule to both versions. */
    size_t n = r->off - start;
    if (n > 1 && r->p[r->off - 1] == 0) {
        r->off = start;
        *why = WD_MQTT_R_VARINT;
        return WD_EPROTO;
    }
    return WD_OK;
}

int wd_mqtt_rd_varint(struct wd_rd *r, uint32_t *out, enum wd_mqtt_reason *why)
{
    int rc = read_varint(r, out, why);
    return rc < 0 ? WD_EPROTO : WD_OK;
}

int wd_mqtt_frame(const uint8_t *p, size_t len, uint8_t version, uint32_t max_packet,
                  struct wd_mqtt_frame *f, enum wd_mqtt_reason *why)
{
    enum wd_mqtt_reason w = WD_MQTT_R_NONE;
    int rc = WD_OK;
    memset(f, 0, sizeof(*f));
    if (len == 0) {
        rc = WD_EAGAIN;
        goto out;
    }
    unsigned type = p[0] >> 4;
    uint8_t flags = p[0] & 0x0Fu;
    f->type = (enum wd_mqtt_type)type;
    f->flags = flags;
    /* §2.1.2: type 0 is reserved; 3.1.1 §2.2.1: so is 15 (AUTH came with 5.0). */
    if (type == 0 || (type == WD_MQTT_AUTH && version == WD_MQTT_V311)) {
        rc = wd_mqtt_fail(&w, WD_MQTT_R_TYPE);
        goto out;
    }
    if (type == WD_MQTT_PUBLISH) {
        /* §3.3.1.2 [MQTT-3.3.1-4]: both QoS bits set is a Malformed Packet. */
        if (((flags >> 1) & 3u) == 3u) {
            rc = wd_mqtt_fail(&w, WD_MQTT_R_QOS);
            goto out;
        }
        /* §3.3.1.1 [MQTT-3.3.1-2]: DUP MUST be 0 for all QoS 0 messages. */
        if ((flags & 0x8u) != 0 && (flags & 0x6u) == 0) {
            rc = wd_mqtt_fail(&w, WD_MQTT_R_DUP_QOS0);
            goto out;
        }
    } else if (flags != tdefs[type].flags) {
        /* §2.1.3: "If invalid flags are received it is a Malformed Packet." */
        rc = wd_mqtt_fail(&w, WD_MQTT_R_FLAGS);
        goto out;
    }
    /* §2.1.4: Remaining Length, a Variable Byte Integer after the first byte. */
    struct wd_rd r;
    uint32_t rl;
    wd_rd_init(&r, p + 1, len - 1);
    rc = read_varint(&r, &rl, &w);
    if (rc == WD_EAGAIN) {
        w = WD_MQTT_R_NONE;
        goto out;
    }
    if (rc < 0) {
        goto out;
    }
    f->header = 1 + r.off;
    f->remaining = rl;
    f->size = f->header + rl;
    if (f->size > max_packet) {
        rc = wd_mqtt_fail(&w, WD_MQTT_R_PACKET_TOO_LARGE);
        goto out;
    }
    rc = len < f->size ? WD_EAGAIN : WD_OK;
out:
    if (why != NULL) {
        *why = w;
    }
    return rc;
}

void wd_mqtt_decoder_init(struct wd_mqtt_decoder *d, const struct wd_mqtt_config *cfg,
                          enum wd_mqtt_dir dir, uint8_t version)
{
    d->cfg = cfg;
    d->dir = dir;
    d->version = version;
    d->connected = false;
    d->reason = WD_MQTT_R_NONE;
}

/* One packet body being decoded: the variable header and payload after the fixed header. */
struct body {
    const struct wd_mqtt_config *cfg;
    uint8_t version;
    enum wd_mqtt_dir dir;
    enum wd_mqtt_type type;
    uint8_t flags;
    struct wd_rd rd;
    enum wd_mqtt_reason *why;
};

static int fail(struct body *b, enum wd_mqtt_reason r)
{
    return wd_mqtt_fail(b->why, r);
}

static bool more(const struct body *b)
{
    return wd_rd_left(&b->rd) > 0;
}

/* Fixed-size fields: running past the Remaining Length makes the packet malformed. */
static int rd_u8(struct body *b, uint8_t *v)
{
    return wd_rd_u8(&b->rd, v) < 0 ? fail(b, WD_MQTT_R_LENGTH) : WD_OK;
}

static int rd_u16(struct body *b, uint16_t *v)
{
    return wd_rd_u16be(&b->rd, v) < 0 ? fail(b, WD_MQTT_R_LENGTH) : WD_OK;
}

/* §2.2.1 [MQTT-2.2.1-3]: a Packet Identifier is a non-zero Two Byte Integer. */
static int rd_packet_id(struct body *b, uint16_t *id)
{
    WD_TRY(rd_u16(b, id));
    return *id == 0 ? fail(b, WD_MQTT_R_PACKET_ID) : WD_OK;
}

/* §1.5.6 Binary Data: a Two Byte Integer length, then that many bytes. */
static int rd_bin(struct body *b, struct wd_slice *s)
{
    uint16_t n;
    WD_TRY(rd_u16(b, &n));
    return wd_rd_bytes(&b->rd, n, s) < 0 ? fail(b, WD_MQTT_R_LENGTH) : WD_OK;
}

/* §1.5.4 UTF-8 Encoded String: as Binary Data, and the bytes must be valid UTF-8. */
static int rd_str(struct body *b, struct wd_slice *s)
{
    WD_TRY(rd_bin(b, s));
    if (wd_mqtt_utf8_check(s->p, s->len, b->cfg->strict_utf8) < 0) {
        return fail(b, WD_MQTT_R_UTF8);
    }
    return WD_OK;
}

/* §2.2.2: Property Length (a Variable Byte Integer), then the properties. */
static int rd_props(struct body *b, enum wd_mqtt_type where, struct wd_slice *out,
                    struct wd_mqtt_props_info *info)
{
    uint32_t n;
    WD_TRY(wd_mqtt_rd_varint(&b->rd, &n, b->why));
    if (wd_rd_bytes(&b->rd, n, out) < 0) {
        return fail(b, WD_MQTT_R_LENGTH);
    }
    return wd_mqtt_props_scan(b->cfg, where, b->dir, *out, info, b->why);
}

/* A Topic Name field (§4.7.3): empty is allowed only where a Topic Alias stands in. */
static int check_topic(struct body *b, struct wd_slice topic, bool empty_ok)
{
    if (topic.len > b->cfg->max_topic) {
        return fail(b, WD_MQTT_R_LIMIT_TOPIC_NAME);
    }
    if (topic.len == 0 && empty_ok) {
        return WD_OK;
    }
    return wd_mqtt_topic_check(topic, b->cfg->strict_utf8, b->why);
}

/* §3.1 CONNECT (3.1.1 §3.1). */
static int dec_connect(struct body *b, struct wd_mqtt_packet *pkt)
{
    struct wd_mqtt_connect *c = &pkt->connect;
    struct wd_mqtt_props_info info = {0};
    struct wd_slice name;
    uint8_t level, fl;
    /* §3.1.2.1 [MQTT-3.1.2-1]: the Protocol Name is "MQTT"; 3.1.1 §3.1.2.1 lets the Server
     * disconnect otherwise, which covers MQTT 3.1's "MQIsdp". */
    WD_TRY(rd_bin(b, &name));
    if (name.len != 4 || memcmp(name.p, "MQTT", 4) != 0) {
        return fail(b, WD_MQTT_R_PROTOCOL_NAME);
    }
    /* §3.1.2.2: the Protocol Version; the level is reported even when refused, so that
     * the caller can answer in the client's version ([MQTT-3.1.2-2], 0x84 / 0x01). */
    WD_TRY(rd_u8(b, &level));
    pkt->version = level;
    if (level != WD_MQTT_V311 && level != WD_MQTT_V5) {
        return fail(b, WD_MQTT_R_PROTOCOL_VERSION);
    }
    b->version = level;
    WD_TRY(rd_u8(b, &fl));
    /* §3.1.2.3 [MQTT-3.1.2-3]: the reserved flag is 0, else Malformed Packet. */
    if ((fl & 0x01u) != 0) {
        return fail(b, WD_MQTT_R_CONNECT_FLAGS);
    }
    c->clean_start = (fl & 0x02u) != 0;
    c->will = (fl & 0x04u) != 0;
    c->will_qos = (fl >> 3) & 0x03u;
    c->will_retain = (fl & 0x20u) != 0;
    c->has_password = (fl & 0x40u) != 0;
    c->has_username = (fl & 0x80u) != 0;
    /* §3.1.2.6 [MQTT-3.1.2-12] (3.1.1 [MQTT-3.1.2-14]): Will QoS 3 is malformed. */
    if (c->will_qos == 3) {
        return fail(b, WD_MQTT_R_QOS);
    }
    /* [MQTT-3.1.2-11], [MQTT-3.1.2-13] (3.1.1 [MQTT-3.1.2-13], [MQTT-3.1.2-15]): without
     * the Will Flag, Will QoS and Will Retain are 0. */
    if (!c->will && (c->will_qos != 0 || c->will_retain)) {
        return fail(b, WD_MQTT_R_WILL_FLAGS);
    }
    /* 3.1.1 [MQTT-3.1.2-22]: no password without a user name (5.0 §3.1.2.9 allows it). */
    if (level == WD_MQTT_V311 && c->has_password && !c->has_username) {
        return fail(b, WD_MQTT_R_PASSWORD_FLAG);
    }
    WD_TRY(rd_u16(b, &c->keep_alive));
    if (level == WD_MQTT_V5) {
        WD_TRY(rd_props(b, WD_MQTT_CONNECT, &c->props, &info));
    }
    /* §3.1.3.1 [MQTT-3.1.3-3], [MQTT-3.1.3-4]: the ClientID is present, a UTF-8 string. */
    WD_TRY(rd_str(b, &c->client_id));
    /* 3.1.1 [MQTT-3.1.3-8]: a zero-byte ClientID needs CleanSession=1 (return code 0x02).
     * 5.0 lets the Server assign one whatever Clean Start says (§3.1.3.1). */
    if (level == WD_MQTT_V311 && c->client_id.len == 0 && !c->clean_start) {
        return fail(b, WD_MQTT_R_CLIENT_ID);
    }
    if (c->will) {
        /* §3.1.3.2 - §3.1.3.4: Will Properties, Will Topic, Will Payload. */
        if (level == WD_MQTT_V5) {
            WD_TRY(rd_props(b, WD_MQTT_WILL, &c->will_props, &info));
        }
        WD_TRY(rd_bin(b, &c->will_topic));
        WD_TRY(check_topic(b, c->will_topic, false));
        WD_TRY(rd_bin(b, &c->will_payload));
    }
    /* §3.1.3.5 User Name (UTF-8 string), §3.1.3.6 Password (Binary Data). */
    if (c->has_username) {
        WD_TRY(rd_str(b, &c->username));
    }
    if (c->has_password) {
        WD_TRY(rd_bin(b, &c->password));
    }
    return WD_OK;
}

/* §3.2 CONNACK (3.1.1 §3.2). */
static int dec_connack(struct body *b, struct wd_mqtt_packet *pkt)
{
    struct wd_mqtt_connack *c = &pkt->connack;
    struct wd_mqtt_props_info info = {0};
    uint8_t fl;
    WD_TRY(rd_u8(b, &fl));
    /* §3.2.2.1 (3.1.1 §3.2.2.1): bits 7-1 of the Acknowledge Flags are reserved, 0. */
    if ((fl & 0xFEu) != 0) {
        return fail(b, WD_MQTT_R_CONNACK_FLAGS);
    }
    c->session_present = (fl & 0x01u) != 0;
    WD_TRY(rd_u8(b, &c->code));
    if (!wd_mqtt_code_allowed(WD_MQTT_CONNACK, b->version, c->code)) {
        return fail(b, WD_MQTT_R_REASON_CODE);
    }
    /* [MQTT-3.2.2-6] (3.1.1 [MQTT-3.2.2-4]): Session Present is 0 with a failure code. */
    if (c->code != 0 && c->session_present) {
        return fail(b, WD_MQTT_R_SESSION_PRESENT);
    }
    if (b->version == WD_MQTT_V5) {
        WD_TRY(rd_props(b, WD_MQTT_CONNACK, &c->props, &info));
    }
    return WD_OK;
}

/* §3.3 PUBLISH (3.1.1 §3.3). The fixed-header flags were checked by wd_mqtt_frame(). */
static int dec_publish(struct body *b, struct wd_mqtt_packet *pkt)
{
    struct wd_mqtt_publish *m = &pkt->publish;
    struct wd_mqtt_props_info info = {0};
    m->dup = (b->flags & 0x08u) != 0;
    m->qos = (b->flags >> 1) & 0x03u;
    m->retain = (b->flags & 0x01u) != 0;
    WD_TRY(rd_bin(b, &m->topic));
    /* §3.3.2.2 [MQTT-2.2.1-2]: a Packet Identifier only when QoS > 0. */
    if (m->qos > 0) {
        WD_TRY(rd_packet_id(b, &m->packet_id));
    }
    if (b->version == WD_MQTT_V5) {
        WD_TRY(rd_props(b, WD_MQTT_PUBLISH, &m->props, &info));
        m->topic_alias = info.topic_alias;
    }
    /* §3.3.2.1 [MQTT-3.3.2-1], [MQTT-3.3.2-2]; 5.0 §3.3.2.3.4: a zero-length Topic Name
     * is allowed only together with a Topic Alias. */
    WD_TRY(check_topic(b, m->topic, m->topic_alias != 0));
    /* §3.3.3: the rest is the Application Message. */
    return wd_rd_bytes(&b->rd, wd_rd_left(&b->rd), &m->payload) < 0 ? fail(b, WD_MQTT_R_LENGTH)
                                                                    : WD_OK;
}

/* §3.4 - §3.7 PUBACK, PUBREC, PUBREL, PUBCOMP. */
static int dec_ack(struct body *b, struct wd_mqtt_packet *pkt)
{
    struct wd_mqtt_ack *a = &pkt->ack;
    struct wd_mqtt_props_info info = {0};
    WD_TRY(rd_packet_id(b, &a->packet_id));
    a->form = WD_MQTT_FORM_MIN;
    /* 3.1.1: the packet identifier is all there is (Remaining Length 2). 5.0 §3.4.2.1:
     * the Reason Code and Property Length may be left out (success, no properties), and
     * §3.4.2.2.1: with Remaining Length 3 there is no Property Length. */
    if (b->version != WD_MQTT_V5 || !more(b)) {
        return WD_OK;
    }
    WD_TRY(rd_u8(b, &a->code));
    /* [MQTT-3.4.2-1] and its siblings: only the codes of the packet's table. */
    if (!wd_mqtt_code_allowed(b->type, b->version, a->code)) {
        return fail(b, WD_MQTT_R_REASON_CODE);
    }
    a->form = WD_MQTT_FORM_CODE;
    if (more(b)) {
        WD_TRY(rd_props(b, b->type, &a->props, &info));
        a->form = WD_MQTT_FORM_FULL;
    }
    return WD_OK;
}

/* Subscription Options (§3.8.3.1; 3.1.1 §3.8.3: the Requested QoS byte). */
static int check_options(struct body *b, uint8_t o)
{
    /* 3.1.1 [MQTT-3-8.3-4]: bits 7-2 reserved; 5.0 [MQTT-3.8.3-5]: bits 7-6 reserved. */
    uint8_t reserved = b->version == WD_MQTT_V5 ? 0xC0u : 0xFCu;
    if ((o & reserved) != 0) {
        return fail(b, WD_MQTT_R_SUB_OPTIONS);
    }
    /* §3.8.3.1: "It is a Protocol Error if the Maximum QoS field has the value 3";
     * 3.1.1 [MQTT-3-8.3-4] makes it malformed. Either way the packet is refused. */
    if (WD_MQTT_SUBOPT_QOS(o) == 3) {
        return fail(b, WD_MQTT_R_QOS);
    }
    /* §3.8.3.1: Retain Handling 3 is a Protocol Error. */
    if (WD_MQTT_SUBOPT_RETAIN_H(o) == 3) {
        return fail(b, WD_MQTT_R_RETAIN_HANDLING);
    }
    return WD_OK;
}

/* §3.8 SUBSCRIBE and §3.10 UNSUBSCRIBE. */
static int dec_subscribe(struct body *b, struct wd_mqtt_packet *pkt)
{
    struct wd_mqtt_subscribe *s = &pkt->subscribe;
    struct wd_mqtt_props_info info = {0};
    bool sub = b->type == WD_MQTT_SUBSCRIBE;
    WD_TRY(rd_packet_id(b, &s->packet_id));
    if (b->version == WD_MQTT_V5) {
        WD_TRY(rd_props(b, b->type, &s->props, &info));
        s->subscription_id = info.sub_id;
    }
    size_t start = b->rd.off;
    while (more(b)) {
        struct wd_slice filter;
        struct wd_mqtt_filter fi;
        uint8_t opt = 0;
        WD_TRY(rd_bin(b, &filter));
        if (++s->count > b->cfg->max_filters) {
            return fail(b, WD_MQTT_R_LIMIT_FILTERS);
        }
        if (sub) {
            WD_TRY(rd_u8(b, &opt));
            WD_TRY(check_options(b, opt));
        }
        if (filter.len > b->cfg->max_topic) {
            return fail(b, WD_MQTT_R_LIMIT_TOPIC_FILTER);
        }
        WD_TRY(wd_mqtt_filter_parse(b->version, filter, b->cfg->strict_utf8, &fi, b->why));
        /* [MQTT-3.8.3-4]: No Local on a Shared Subscription is a Protocol Error. */
        if (sub && fi.shared && (opt & WD_MQTT_SUBOPT_NO_LOCAL) != 0) {
            return fail(b, WD_MQTT_R_NO_LOCAL_SHARED);
        }
    }
    /* [MQTT-3.8.3-2] / [MQTT-3.10.3-2] (3.1.1 [MQTT-3.8.3-3], [MQTT-3.10.3-2]): at least
     * one Topic Filter. */
    if (s->count == 0) {
        return fail(b, WD_MQTT_R_EMPTY);
    }
    s->list = (struct wd_slice){b->rd.p + start, b->rd.off - start};
    return WD_OK;
}

/* §3.9 SUBACK and §3.11 UNSUBACK. */
static int dec_suback(struct body *b, struct wd_mqtt_packet *pkt)
{
    struct wd_mqtt_suback *s = &pkt->suback;
    struct wd_mqtt_props_info info = {0};
    WD_TRY(rd_packet_id(b, &s->packet_id));
    /* 3.1.1 §3.11: UNSUBACK is the packet identifier only. */
    if (b->version != WD_MQTT_V5 && b->type == WD_MQTT_UNSUBACK) {
        return WD_OK;
    }
    if (b->version == WD_MQTT_V5) {
        WD_TRY(rd_props(b, b->type, &s->props, &info));
    }
    /* §3.9.3 / §3.11.3: one code per Topic Filter of the request, so at least one. */
    if (wd_rd_bytes(&b->rd, wd_rd_left(&b->rd), &s->codes) < 0 || s->codes.len == 0) {
        return fail(b, WD_MQTT_R_EMPTY);
    }
    if (s->codes.len > b->cfg->max_filters) {
        return fail(b, WD_MQTT_R_LIMIT_FILTERS);
    }
    /* 3.1.1 [MQTT-3.9.3-2]: 0x00, 0x01, 0x02, 0x80 only; 5.0 Tables 3-8 and 3-9. */
    for (size_t i = 0; i < s->codes.len; i++) {
        if (!wd_mqtt_code_allowed(b->type, b->version, s->codes.p[i])) {
            return fail(b, WD_MQTT_R_REASON_CODE);
        }
    }
    return WD_OK;
}

/* PINGREQ, PINGRESP (§3.12, §3.13) and the 3.1.1 DISCONNECT: no variable header. */
static int dec_empty(struct body *b, struct wd_mqtt_packet *pkt)
{
    (void)b;
    (void)pkt;
    return WD_OK;
}

/* §3.14 DISCONNECT and §3.15 AUTH. */
static int dec_disconnect(struct body *b, struct wd_mqtt_packet *pkt)
{
    struct wd_mqtt_disconnect *d = &pkt->disconnect;
    struct wd_mqtt_props_info info = {0};
    d->form = WD_MQTT_FORM_MIN;
    /* §3.14.2.1 / §3.15.2.1: Remaining Length 0 means Reason Code 0x00, no properties. */
    if (b->version != WD_MQTT_V5 || !more(b)) {
        return WD_OK;
    }
    WD_TRY(rd_u8(b, &d->code));
    if (!wd_mqtt_code_allowed(b->type, b->version, d->code)) {
        return fail(b, WD_MQTT_R_REASON_CODE);
    }
    d->form = WD_MQTT_FORM_CODE;
    /* §3.14.2.2.1: DISCONNECT may stop after the Reason Code. §3.15.2.1 only allows AUTH
     * to drop both the code and the Property Length, so an AUTH with a code has
     * properties (and with them the Authentication Method). */
    if (b->type == WD_MQTT_AUTH && !more(b)) {
        return fail(b, WD_MQTT_R_LENGTH);
    }
    if (more(b)) {
        WD_TRY(rd_props(b, b->type, &d->props, &info));
        d->form = WD_MQTT_FORM_FULL;
    }
    return WD_OK;
}

typedef int (*wd_mqtt_dec_fn)(struct body *b, struct wd_mqtt_packet *pkt);

static const wd_mqtt_dec_fn decoders[16] = {
        [WD_MQTT_CONNECT] = dec_connect, [WD_MQTT_CONNACK] = dec_connack,
        [WD_MQTT_PUBLISH] = dec_publish, [WD_MQTT_PUBACK] = dec_ack,
        [WD_MQTT_PUBREC] = dec_ack,      [WD_MQTT_PUBREL] = dec_ack,
        [WD_MQTT_PUBCOMP] = dec_ack,     [WD_MQTT_SUBSCRIBE] = dec_subscribe,
        [WD_MQTT_SUBACK] = dec_suback,   [WD_MQTT_UNSUBSCRIBE] = dec_subscribe,
        [WD_MQTT_UNSUBACK] = dec_suback, [WD_MQTT_PINGREQ] = dec_empty,
        [WD_MQTT_PINGRESP] = dec_empty,  [WD_MQTT_DISCONNECT] = dec_disconnect,
        [WD_MQTT_AUTH] = dec_disconnect,
};

int wd_mqtt_decode(struct wd_mqtt_decoder *d, const uint8_t *p, size_t len,
                   struct wd_mqtt_packet *pkt)
{
    struct wd_mqtt_frame f;
    memset(pkt, 0, sizeof(*pkt));
    d->reason = WD_MQTT_R_NONE;
    int rc = wd_mqtt_frame(p, len, d->version, d->cfg->max_packet, &f, &d->reason);
    if (rc < 0) {
        pkt->size = rc == WD_EAGAIN ? f.size : 0;
        return rc;
    }
    pkt->type = f.type;
    if (f.type == WD_MQTT_CONNECT) {
        /* [MQTT-3.1.0-2]: a second CONNECT is a Protocol Error. */
        if (d->connected) {
            return wd_mqtt_fail(&d->reason, WD_MQTT_R_CONNECT_TWICE);
        }
    } else if (d->version == 0) {
        /* [MQTT-3.1.0-1]: the first packet from the Client MUST be CONNECT (and until
         * then the version, which every other packet depends on, is unknown). */
        return wd_mqtt_fail(&d->reason, WD_MQTT_R_NOT_CONNECTED);
    }
    pkt->version = d->version;
    if (d->dir != WD_MQTT_FROM_ANY) {
        const struct type_def *t = &tdefs[f.type];
        uint8_t senders =
                d->version == WD_MQTT_V5 || f.type == WD_MQTT_CONNECT ? t->from5 : t->from311;
        uint8_t me = d->dir == WD_MQTT_FROM_CLIENT ? DC : DS;
        if ((senders & me) == 0) {
            return wd_mqtt_fail(&d->reason, WD_MQTT_R_DIRECTION);
        }
    }
    struct body b = {
            .cfg = d->cfg,
            .version = d->version,
            .dir = d->dir,
            .type = f.type,
            .flags = f.flags,
            .why = &d->reason,
    };
    wd_rd_init(&b.rd, p + f.header, f.remaining);
    /* wd_mqtt_frame() refused type 0, the only one without a decoder. */
    wd_mqtt_dec_fn fn = decoders[f.type];
    WD_BUG_ON(fn == NULL);
    WD_TRY(fn(&b, pkt));
    /* Every field has an end; bytes after the last one are not part of any field. */
    if (more(&b)) {
        return wd_mqtt_fail(&d->reason, WD_MQTT_R_LENGTH);
    }
    pkt->size = f.size;
    if (f.type == WD_MQTT_CONNECT) {
        d->version = pkt->version;
        d->connected = true;
    }
    return WD_OK;
}
