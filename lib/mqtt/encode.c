/*
 * MQTT packet encoding, the builders a proxy needs (acks, DISCONNECT, CONNACK, SUBSCRIBE
 * subsets, merged SUBACKs) and subscription-list helpers. Encoding writes each field in the
 * one form the decoder accepts, so decode → encode reproduces the input bytes; every
 * encoded packet is decoded once more before it is handed out, so the encoder cannot emit
 * a packet that breaks a rule the decoder enforces.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/err.h"
#include "warden/mqtt.h"

#include "mqtt_int.h"

/* A writer: counts only while p is NULL, writes into p[0..cap) otherwise. */
struct wr {
    uint8_t *p;
    size_t cap;
    size_t n;
};

static void w_bytes(struct wr *w, const void *src, size_t n)
{
    if (w->p != NULL && n > 0) {
        /* The sizing pass computed cap from the same packet. */
        WD_BUG_ON(n > w->cap - w->n);
        memcpy(w->p + w->n, src, n);
    }
    w->n += n;
}

static void w_u8(struct wr *w, uint8_t v)
{
    w_bytes(w, &v, 1);
}

static void w_u16(struct wr *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    w_bytes(w, b, 2);
}

static void w_varint(struct wr *w, uint32_t v)
{
    uint8_t b[4];
    w_bytes(w, b, wd_mqtt_varint_put(b, v));
}

/* §1.5.4 / §1.5.6: a Two Byte Integer length and the bytes. */
static int w_lbytes(struct wr *w, struct wd_slice s)
{
    WD_ENSURE(s.len <= 0xFFFF, WD_EINVAL);
    w_u16(w, (uint16_t)s.len);
    w_bytes(w, s.p, s.len);
    return WD_OK;
}

/* §2.2.2.1: Property Length, then the block. */
static int w_props(struct wr *w, struct wd_slice props)
{
    WD_ENSURE(props.len <= WD_MQTT_VARINT_MAX, WD_EINVAL);
    w_varint(w, (uint32_t)props.len);
    w_bytes(w, props.p, props.len);
    return WD_OK;
}

static bool empty(struct wd_slice s)
{
    return s.len == 0;
}

/* Encoded acknowledgement / DISCONNECT / AUTH tail in its recorded form (v5 only). */
static int w_tail(struct wr *w, enum wd_mqtt_form form, uint8_t code, struct wd_slice props)
{
    switch (form) {
    case WD_MQTT_FORM_MIN:
        /* Nothing to carry a code or properties: refuse rather than drop them. */
        WD_ENSURE(code == 0 && empty(props), WD_EINVAL);
        return WD_OK;
    case WD_MQTT_FORM_CODE:
        WD_ENSURE(empty(props), WD_EINVAL);
        w_u8(w, code);
        return WD_OK;
    case WD_MQTT_FORM_FULL:
        w_u8(w, code);
        return w_props(w, props);
    }
    return WD_EINVAL;
}

static int w_connect(struct wr *w, const struct wd_mqtt_packet *pkt, bool v5)
{
    const struct wd_mqtt_connect *c = &pkt->connect;
    WD_ENSURE(c->will_qos <= 3, WD_EINVAL);
    /* Fields that the flags say are absent must be empty, or they would vanish. */
    WD_ENSURE(c->will || (empty(c->will_props) && empty(c->will_topic) && empty(c->will_payload)),
              WD_EINVAL);
    WD_ENSURE(c->has_username || empty(c->username), WD_EINVAL);
    WD_ENSURE(c->has_password || empty(c->password), WD_EINVAL);
    WD_ENSURE(v5 || (empty(c->props) && empty(c->will_props)), WD_EINVAL);
    /* §3.1.2.1 - §3.1.2.10: Protocol Name, Level, Connect Flags, Keep Alive. */
    WD_TRY(w_lbytes(w, (struct wd_slice){(const uint8_t *)"MQTT", 4}));
    w_u8(w, pkt->version);
    uint8_t fl = (uint8_t)((c->clean_start ? 0x02u : 0) | (c->will ? 0x04u : 0)
                           | (unsigned)(c->will_qos << 3) | (c->will_retain ? 0x20u : 0)
                           | (c->has_password ? 0x40u : 0) | (c->has_username ? 0x80u : 0));
    w_u8(w, fl);
    w_u16(w, c->keep_alive);
    if (v5) {
        WD_TRY(w_props(w, c->props));
    }
    /* §3.1.3: ClientID, Will Properties, Will Topic, Will Payload, User Name, Password. */
    WD_TRY(w_lbytes(w, c->client_id));
    if (c->will) {
        if (v5) {
            WD_TRY(w_props(w, c->will_props));
        }
        WD_TRY(w_lbytes(w, c->will_topic));
        WD_TRY(w_lbytes(w, c->will_payload));
    }
    if (c->has_username) {
        WD_TRY(w_lbytes(w, c->username));
    }
    if (c->has_password) {
        WD_TRY(w_lbytes(w, c->password));
    }
    return WD_OK;
}

/* The variable header and payload of pkt (everything after the fixed header). */
static int w_body(struct wr *w, const struct wd_mqtt_packet *pkt)
{
    bool v5 = pkt->version == WD_MQTT_V5;
    WD_ENSURE(v5 || pkt->version == WD_MQTT_V311, WD_EINVAL);
    switch (pkt->type) {
    case WD_MQTT_CONNECT:
        return w_connect(w, pkt, v5);
    case WD_MQTT_CONNACK:
        WD_ENSURE(v5 || empty(pkt->connack.props), WD_EINVAL);
        w_u8(w, pkt->connack.session_present ? 1 : 0);
        w_u8(w, pkt->connack.code);
        return v5 ? w_props(w, pkt->connack.props) : WD_OK;
    case WD_MQTT_PUBLISH: {
        const struct wd_mqtt_publish *m = &pkt->publish;
        WD_ENSURE(m->qos <= 2 && (m->qos > 0 || m->packet_id == 0), WD_EINVAL);
        WD_ENSURE(v5 || empty(m->props), WD_EINVAL);
        WD_TRY(w_lbytes(w, m->topic));
        if (m->qos > 0) {
            w_u16(w, m->packet_id);
        }
        if (v5) {
            WD_TRY(w_props(w, m->props));
        }
        w_bytes(w, m->payload.p, m->payload.len);
        return WD_OK;
    }
    case WD_MQTT_PUBACK:
    case WD_MQTT_PUBREC:
    case WD_MQTT_PUBREL:
    case WD_MQTT_PUBCOMP:
        /* 3.1.1: the packet identifier only (§3.4 - §3.7, Remaining Length 2). */
        WD_ENSURE(v5 || pkt->ack.form == WD_MQTT_FORM_MIN, WD_EINVAL);
        w_u16(w, pkt->ack.packet_id);
        return w_tail(w, pkt->ack.form, pkt->ack.code, pkt->ack.props);
    case WD_MQTT_SUBSCRIBE:
    case WD_MQTT_UNSUBSCRIBE:
        WD_ENSURE(v5 || empty(pkt->subscribe.props), WD_EINVAL);
        w_u16(w, pkt->subscribe.packet_id);
        if (v5) {
            WD_TRY(w_props(w, pkt->subscribe.props));
        }
        w_bytes(w, pkt->subscribe.list.p, pkt->subscribe.list.len);
        return WD_OK;
    case WD_MQTT_SUBACK:
    case WD_MQTT_UNSUBACK:
        WD_ENSURE(v5 || empty(pkt->suback.props), WD_EINVAL);
        w_u16(w, pkt->suback.packet_id);
        if (v5) {
            WD_TRY(w_props(w, pkt->suback.props));
        }
        w_bytes(w, pkt->suback.codes.p, pkt->suback.codes.len);
        return WD_OK;
    case WD_MQTT_PINGREQ:
    case WD_MQTT_PINGRESP:
        return WD_OK;
    case WD_MQTT_DISCONNECT:
    case WD_MQTT_AUTH:
        WD_ENSURE(v5 || pkt->disconnect.form == WD_MQTT_FORM_MIN, WD_EINVAL);
        return w_tail(w, pkt->disconnect.form, pkt->disconnect.code, pkt->disconnect.props);
    case WD_MQTT_WILL:
        break;
    }
    return WD_EINVAL;
}

static uint8_t first_byte(const struct wd_mqtt_packet *pkt)
{
    uint8_t flags = wd_mqtt_type_flags(pkt->type);
    if (pkt->type == WD_MQTT_PUBLISH) {
        const struct wd_mqtt_publish *m = &pkt->publish;
        flags = (uint8_t)((m->dup ? 0x08u : 0) | (unsigned)((m->qos & 3u) << 1)
                          | (m->retain ? 0x01u : 0));
    }
    return (uint8_t)(((unsigned)pkt->type << 4) | flags);
}

/* Remaining Length of pkt, checking that it fits (§2.1.4). */
static int body_len(const struct wd_mqtt_packet *pkt, size_t *rl)
{
    struct wr w = {0};
    WD_TRY(w_body(&w, pkt));
    WD_ENSURE(w.n <= WD_MQTT_VARINT_MAX, WD_EINVAL);
    *rl = w.n;
    return WD_OK;
}

int wd_mqtt_encoded_size(const struct wd_mqtt_packet *pkt, size_t *size)
{
    size_t rl;
    WD_TRY(body_len(pkt, &rl));
    *size = 1 + wd_mqtt_varint_len((uint32_t)rl) + rl;
    return WD_OK;
}

/* Limits for the self-check: the encoder's caller decides what is too large. */
static const struct wd_mqtt_config check_cfg = {
        .max_packet = UINT32_MAX,
        .max_props = UINT32_MAX,
        .max_filters = UINT32_MAX,
        .max_topic = 65535,
        .strict_utf8 = false,
};

int wd_mqtt_encode_to(const struct wd_mqtt_packet *pkt, uint8_t *dst, size_t cap, size_t *len)
{
    size_t rl, size;
    WD_TRY(body_len(pkt, &rl));
    size = 1 + wd_mqtt_varint_len((uint32_t)rl) + rl;
    WD_ENSURE(size <= cap, WD_ELIMIT);
    struct wr w = {.p = dst, .cap = size};
    w_u8(&w, first_byte(pkt));
    w_varint(&w, (uint32_t)rl);
    WD_TRY(w_body(&w, pkt));
    WD_BUG_ON(w.n != size);
    /* Decode what was written, direction-neutral: a CONNECT sets its own version. */
    struct wd_mqtt_decoder d;
    struct wd_mqtt_packet back;
    wd_mqtt_decoder_init(&d, &check_cfg, WD_MQTT_FROM_ANY,
                         pkt->type == WD_MQTT_CONNECT ? 0 : pkt->version);
    if (wd_mqtt_decode(&d, dst, size, &back) < 0 || back.size != size) {
        return WD_EINVAL;
    }
    *len = size;
    return WD_OK;
}

int wd_mqtt_encode(const struct wd_mqtt_packet *pkt, struct wd_buf *out)
{
    size_t size, n;
    WD_TRY(wd_mqtt_encoded_size(pkt, &size));
    /* Check the cap before allocating for a packet that could not be appended anyway. */
    WD_TRY(wd_buf_reserve(out, size));
    uint8_t *tmp = wd_malloc(size);
    WD_ENSURE(tmp != NULL, WD_ENOMEM);
    int rc = wd_mqtt_encode_to(pkt, tmp, size, &n);
    if (rc == WD_OK) {
        rc = wd_buf_append(out, tmp, n);
    }
    wd_free(tmp);
    return rc;
}

void wd_mqtt_ack_init(struct wd_mqtt_packet *pkt, uint8_t version, enum wd_mqtt_type type,
                      uint16_t packet_id, uint8_t code)
{
    memset(pkt, 0, sizeof(*pkt));
    pkt->type = type;
    pkt->version = version;
    pkt->ack.packet_id = packet_id;
    /* §3.4.2.1: the Reason Code may be omitted when it is 0x00; 3.1.1 has none. */
    if (version == WD_MQTT_V5 && code != 0) {
        pkt->ack.code = code;
        pkt->ack.form = WD_MQTT_FORM_CODE;
    }
}

void wd_mqtt_disconnect_init(struct wd_mqtt_packet *pkt, uint8_t version, uint8_t code)
{
    memset(pkt, 0, sizeof(*pkt));
    pkt->type = WD_MQTT_DISCONNECT;
    pkt->version = version;
    /* §3.14.2.1: no Reason Code for 0x00 (Normal disconnection); 3.1.1 has none. */
    if (version == WD_MQTT_V5 && code != 0) {
        pkt->disconnect.code = code;
        pkt->disconnect.form = WD_MQTT_FORM_CODE;
    }
}

uint8_t wd_mqtt_connack311_code(uint8_t v5_code)
{
    /* 3.1.1 §3.2.2.3 Table 3.1 has six codes; each v5 failure maps to the nearest. */
    switch (v5_code) {
    case WD_MQTT_RC_SUCCESS:
        return WD_MQTT_CONNACK311_ACCEPTED;
    case WD_MQTT_RC_UNSUPPORTED_VERSION:
        return WD_MQTT_CONNACK311_BAD_VERSION;
    case WD_MQTT_RC_CLIENT_ID_INVALID:
        return WD_MQTT_CONNACK311_ID_REJECTED;
    case WD_MQTT_RC_BAD_USER_OR_PASSWORD:
        return WD_MQTT_CONNACK311_BAD_USER_OR_PASSWORD;
    case WD_MQTT_RC_NOT_AUTHORIZED:
    case WD_MQTT_RC_BANNED:
    case 0x8C: /* Bad authentication method */
        return WD_MQTT_CONNACK311_NOT_AUTHORIZED;
    default:
        return WD_MQTT_CONNACK311_UNAVAILABLE;
    }
}

void wd_mqtt_connack_init(struct wd_mqtt_packet *pkt, uint8_t version, uint8_t code,
                          bool session_present)
{
    memset(pkt, 0, sizeof(*pkt));
    pkt->type = WD_MQTT_CONNACK;
    pkt->version = version;
    pkt->connack.code = version == WD_MQTT_V5 ? code : wd_mqtt_connack311_code(code);
    /* [MQTT-3.2.2-6] (3.1.1 [MQTT-3.2.2-4]): no session with a failure code. */
    pkt->connack.session_present = session_present && pkt->connack.code == 0;
}

uint8_t wd_mqtt_deny_code(uint8_t version)
{
    /* 5.0 §3.9.3 0x87 Not authorized; 3.1.1 §3.9.3 has only 0x80 Failure. */
    return version == WD_MQTT_V5 ? WD_MQTT_RC_NOT_AUTHORIZED : WD_MQTT_RC_UNSPECIFIED;
}

void wd_mqtt_subs_iter_init(struct wd_mqtt_subs_iter *it, const struct wd_mqtt_packet *pkt)
{
    wd_rd_init(&it->rd, pkt->subscribe.list.p, pkt->subscribe.list.len);
    it->options = pkt->type == WD_MQTT_SUBSCRIBE;
}

bool wd_mqtt_subs_next(struct wd_mqtt_subs_iter *it, struct wd_mqtt_sub *out)
{
    uint16_t n;
    memset(out, 0, sizeof(*out));
    if (wd_rd_left(&it->rd) == 0) {
        return false;
    }
    if (wd_rd_u16be(&it->rd, &n) < 0 || wd_rd_bytes(&it->rd, n, &out->filter) < 0
        || (it->options && wd_rd_u8(&it->rd, &out->options) < 0)) {
        /* Not a list the decoder produced: stop here for good. */
        it->rd.off = it->rd.len;
        return false;
    }
    return true;
}

int wd_mqtt_subs_add(struct wd_buf *b, enum wd_mqtt_type type, struct wd_slice filter,
                     uint8_t options)
{
    WD_ENSURE(type == WD_MQTT_SUBSCRIBE || type == WD_MQTT_UNSUBSCRIBE, WD_EINVAL);
    WD_ENSURE(filter.len <= 0xFFFF, WD_EINVAL);
    bool opt = type == WD_MQTT_SUBSCRIBE;
    uint8_t len[2] = {(uint8_t)(filter.len >> 8), (uint8_t)filter.len};
    WD_TRY(wd_buf_reserve(b, 2 + filter.len + (opt ? 1 : 0)));
    WD_TRY(wd_buf_append(b, len, 2));
    if (filter.len > 0) {
        WD_TRY(wd_buf_append(b, filter.p, filter.len));
    }
    if (opt) {
        WD_TRY(wd_buf_append_byte(b, options));
    }
    return WD_OK;
}

int wd_mqtt_encode_subscribe_subset(const struct wd_mqtt_packet *sub, const bool *keep, size_t n,
                                    struct wd_buf *out)
{
    WD_ENSURE(sub->type == WD_MQTT_SUBSCRIBE || sub->type == WD_MQTT_UNSUBSCRIBE, WD_EINVAL);
    struct wd_mqtt_subs_iter it;
    struct wd_mqtt_sub e;
    size_t count = 0, kept = 0, bytes = 0;
    /* First pass: check n and size the new list. */
    wd_mqtt_subs_iter_init(&it, sub);
    for (size_t start = it.rd.off; wd_mqtt_subs_next(&it, &e); start = it.rd.off) {
        if (count < n && keep[count]) {
            kept++;
            bytes += it.rd.off - start;
        }
        count++;
    }
    WD_ENSURE(wd_rd_left(&it.rd) == 0 && count == n && kept > 0, WD_EINVAL);
    uint8_t *list = wd_malloc(bytes);
    WD_ENSURE(list != NULL, WD_ENOMEM);
    size_t off = 0, i = 0;
    wd_mqtt_subs_iter_init(&it, sub);
    for (size_t start = it.rd.off; wd_mqtt_subs_next(&it, &e); start = it.rd.off, i++) {
        if (keep[i]) {
            memcpy(list + off, it.rd.p + start, it.rd.off - start);
            off += it.rd.off - start;
        }
    }
    struct wd_mqtt_packet copy = *sub;
    copy.subscribe.list = (struct wd_slice){list, bytes};
    int rc = wd_mqtt_encode(&copy, out);
    wd_free(list);
    return rc;
}

int wd_mqtt_encode_suback_merge(const struct wd_mqtt_packet *ack, const bool *allowed, size_t n,
                                uint8_t deny, struct wd_buf *out)
{
    WD_ENSURE(ack->type == WD_MQTT_SUBACK
                      || (ack->type == WD_MQTT_UNSUBACK && ack->version == WD_MQTT_V5),
              WD_EINVAL);
    WD_ENSURE(n > 0 && wd_mqtt_code_allowed(ack->type, ack->version, deny), WD_EINVAL);
    size_t nallowed = 0;
    for (size_t i = 0; i < n; i++) {
        nallowed += allowed[i] ? 1 : 0;
    }
    WD_ENSURE(nallowed == ack->suback.codes.len, WD_EINVAL);
    uint8_t *codes = wd_malloc(n);
    WD_ENSURE(codes != NULL, WD_ENOMEM);
    for (size_t i = 0, j = 0; i < n; i++) {
        codes[i] = allowed[i] ? ack->suback.codes.p[j++] : deny;
    }
    struct wd_mqtt_packet copy = *ack;
    copy.suback.codes = (struct wd_slice){codes, n};
    int rc = wd_mqtt_encode(&copy, out);
    wd_free(codes);
    return rc;
}
