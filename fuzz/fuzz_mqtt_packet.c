/*
 * Fuzz the MQTT packet decoder (3.1.1 and 5.0, every packet type) over a byte stream.
 *
 * The first input byte picks the setting: bits 0-1 the decoder version (0: learn it from a
 * CONNECT, 1: 3.1.1, 2 and 3: 5.0), bits 2-3 the direction (any, client, server, any),
 * bit 4 strict UTF-8, bit 5 small limits, bits 6-7 seed the keep/allow patterns of the
 * proxy helpers. The rest is decoded packet after packet. Invariants (WD_BUG_ON):
 *   - an error carries a reason of the matching class; WD_EAGAIN consumed nothing;
 *   - a decoded packet re-encodes to exactly its own bytes (decode → encode is the
 *     identity), and those bytes decode again, in a fresh decoder, to the same packet;
 *   - the iterators walk the whole of every validated list: the property count and the
 *     entry count match what the decoder saw, and every filter parses again;
 *   - the SUBSCRIBE-subset and SUBACK-merge builders accept every decoded packet and
 *     produce packets that decode.
 * Deterministic, no I/O, no state across calls, everything allocated is freed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/mqtt.h"

#define MAX_INPUT   65536
#define MAX_PACKETS 64
#define MAX_ENTRIES 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count_props(struct wd_slice block)
{
    struct wd_mqtt_props_iter it;
    struct wd_mqtt_prop p;
    size_t n = 0;
    wd_mqtt_props_iter_init(&it, block);
    while (wd_mqtt_props_next(&it, &p)) {
        WD_BUG_ON(wd_mqtt_prop_type_of(p.id) != p.type);
        n++;
    }
    WD_BUG_ON(wd_rd_left(&it.rd) != 0);
    return n;
}

/* The property blocks of a decoded packet (up to two: CONNECT has Will Properties). */
static void walk_props(const struct wd_mqtt_packet *pkt)
{
    struct wd_slice blocks[2] = {{0}, {0}};
    switch (pkt->type) {
    case WD_MQTT_CONNECT:
        blocks[0] = pkt->connect.props;
        blocks[1] = pkt->connect.will_props;
        break;
    case WD_MQTT_CONNACK:
        blocks[0] = pkt->connack.props;
        break;
    case WD_MQTT_PUBLISH:
        blocks[0] = pkt->publish.props;
        break;
    case WD_MQTT_PUBACK:
    case WD_MQTT_PUBREC:
    case WD_MQTT_PUBREL:
    case WD_MQTT_PUBCOMP:
        blocks[0] = pkt->ack.props;
        break;
    case WD_MQTT_SUBSCRIBE:
    case WD_MQTT_UNSUBSCRIBE:
        blocks[0] = pkt->subscribe.props;
        break;
    case WD_MQTT_SUBACK:
    case WD_MQTT_UNSUBACK:
        blocks[0] = pkt->suback.props;
        break;
    case WD_MQTT_DISCONNECT:
    case WD_MQTT_AUTH:
        blocks[0] = pkt->disconnect.props;
        break;
    default:
        break;
    }
    for (size_t i = 0; i < 2; i++) {
        WD_BUG_ON(pkt->version != WD_MQTT_V5 && blocks[i].len != 0);
        size_t n = count_props(blocks[i]);
        WD_BUG_ON(blocks[i].len > 0 && n == 0);
    }
    if (pkt->type == WD_MQTT_PUBLISH) {
        struct wd_mqtt_prop p;
        bool has = wd_mqtt_props_find(pkt->publish.props, WD_MQTT_P_TOPIC_ALIAS, &p);
        WD_BUG_ON(has != (pkt->publish.topic_alias != 0));
        WD_BUG_ON(has && p.num != pkt->publish.topic_alias);
    }
}

/* SUBSCRIBE / UNSUBSCRIBE: walk the list, re-parse filters, match against last_topic. */
static void walk_subscribe(const struct wd_mqtt_packet *pkt, struct wd_slice last_topic,
                           uint8_t seed)
{
    struct wd_mqtt_subs_iter it;
    struct wd_mqtt_sub e;
    bool keep[MAX_ENTRIES];
    size_t n = 0, kept = 0;
    wd_mqtt_subs_iter_init(&it, pkt);
    while (wd_mqtt_subs_next(&it, &e)) {
        struct wd_mqtt_filter f;
        WD_BUG_ON(wd_mqtt_filter_parse(pkt->version, e.filter, false, &f, NULL) != WD_OK);
        WD_BUG_ON(f.shared && pkt->version != WD_MQTT_V5);
        if (last_topic.len > 0) {
            (void)wd_mqtt_topic_matches(f.filter, last_topic);
        }
        if (n < MAX_ENTRIES) {
            keep[n] = ((seed >> (n % 8)) & 1u) != 0 || n == 0;
            kept += keep[n] ? 1 : 0;
        }
        n++;
    }
    WD_BUG_ON(wd_rd_left(&it.rd) != 0);
    WD_BUG_ON(n != pkt->subscribe.count);
    if (n > MAX_ENTRIES) {
        return;
    }
    struct wd_buf out;
    wd_buf_init(&out, MAX_INPUT * 2);
    WD_BUG_ON(wd_mqtt_encode_subscribe_subset(pkt, keep, n, &out) != WD_OK);
    struct wd_mqtt_config cfg;
    struct wd_mqtt_decoder d;
    struct wd_mqtt_packet back;
    wd_mqtt_config_default(&cfg);
    cfg.max_packet = UINT32_MAX;
    cfg.max_filters = UINT32_MAX;
    cfg.max_props = UINT32_MAX;
    wd_mqtt_decoder_init(&d, &cfg, WD_MQTT_FROM_CLIENT, pkt->version);
    WD_BUG_ON(wd_mqtt_decode(&d, out.p, out.len, &back) != WD_OK);
    WD_BUG_ON(back.size != out.len || back.subscribe.count != kept);
    wd_buf_cleanup(&out);
}

/* SUBACK / UNSUBACK: merge the codes with refused entries interleaved. */
static void walk_suback(const struct wd_mqtt_packet *pkt, uint8_t seed)
{
    size_t codes = pkt->suback.codes.len;
    if (codes == 0 || codes > MAX_ENTRIES / 2) {
        return;
    }
    bool allowed[MAX_ENTRIES];
    size_t n = 0;
    for (size_t i = 0; i < codes; i++) {
        if (((seed >> (i % 8)) & 1u) != 0) {
            allowed[n++] = false;
        }
        allowed[n++] = true;
    }
    struct wd_buf out;
    wd_buf_init(&out, MAX_INPUT * 2);
    int rc = wd_mqtt_encode_suback_merge(pkt, allowed, n, wd_mqtt_deny_code(pkt->version), &out);
    WD_BUG_ON(rc != WD_OK);
    wd_buf_cleanup(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[MAX_INPUT + 16];
    if (size < 1 || size > MAX_INPUT) {
        return 0;
    }
    uint8_t sel = data[0];
    static const uint8_t versions[4] = {0, WD_MQTT_V311, WD_MQTT_V5, WD_MQTT_V5};
    static const enum wd_mqtt_dir dirs[4] = {WD_MQTT_FROM_ANY, WD_MQTT_FROM_CLIENT,
                                             WD_MQTT_FROM_SERVER, WD_MQTT_FROM_ANY};
    struct wd_mqtt_config cfg;
    wd_mqtt_config_default(&cfg);
    cfg.strict_utf8 = (sel & 0x10u) != 0;
    if ((sel & 0x20u) != 0) {
        cfg.max_packet = 96;
        cfg.max_props = 3;
        cfg.max_filters = 3;
        cfg.max_topic = 8;
    }
    enum wd_mqtt_dir dir = dirs[(sel >> 2) & 3u];
    uint8_t seed = (uint8_t)(sel >> 6) * 0x55u;
    struct wd_mqtt_decoder d;
    wd_mqtt_decoder_init(&d, &cfg, dir, versions[sel & 3u]);
    const uint8_t *p = data + 1;
    size_t len = size - 1;
    struct wd_slice last_topic = {0};
    for (int i = 0; i < MAX_PACKETS; i++) {
        struct wd_mqtt_packet pkt;
        uint8_t before = d.version;
        int rc = wd_mqtt_decode(&d, p, len, &pkt);
        if (rc == WD_EAGAIN) {
            WD_BUG_ON(d.reason != WD_MQTT_R_NONE);
            WD_BUG_ON(pkt.size != 0 && pkt.size <= len);
            break;
        }
        if (rc < 0) {
            WD_BUG_ON(d.reason == WD_MQTT_R_NONE || wd_mqtt_reason_err(d.reason) != rc);
            WD_BUG_ON(wd_mqtt_reason_code(d.reason) < 0x80);
            break;
        }
        WD_BUG_ON(pkt.size < 2 || pkt.size > len);
        WD_BUG_ON(pkt.version != WD_MQTT_V311 && pkt.version != WD_MQTT_V5);
        /* decode → encode is the identity on accepted input. */
        size_t n = 0, sz = 0;
        WD_BUG_ON(wd_mqtt_encoded_size(&pkt, &sz) != WD_OK || sz != pkt.size);
        WD_BUG_ON(wd_mqtt_encode_to(&pkt, out, sizeof(out), &n) != WD_OK);
        WD_BUG_ON(n != pkt.size || memcmp(out, p, n) != 0);
        /* ... and the bytes decode again to the same packet in a fresh decoder. */
        struct wd_mqtt_decoder d2;
        struct wd_mqtt_packet again;
        wd_mqtt_decoder_init(&d2, &cfg, dir, pkt.type == WD_MQTT_CONNECT ? 0 : before);
        WD_BUG_ON(wd_mqtt_decode(&d2, out, n, &again) != WD_OK);
        WD_BUG_ON(again.size != n || again.type != pkt.type || again.version != pkt.version);
        walk_props(&pkt);
        if (pkt.type == WD_MQTT_PUBLISH && pkt.publish.topic.len > 0) {
            last_topic = pkt.publish.topic;
            WD_BUG_ON(wd_mqtt_topic_check(last_topic, cfg.strict_utf8, NULL) != WD_OK);
        }
        if (pkt.type == WD_MQTT_SUBSCRIBE || pkt.type == WD_MQTT_UNSUBSCRIBE) {
            walk_subscribe(&pkt, last_topic, seed);
        }
        if (pkt.type == WD_MQTT_SUBACK
            || (pkt.type == WD_MQTT_UNSUBACK && pkt.version == WD_MQTT_V5)) {
            walk_suback(&pkt, seed);
        }
        p += pkt.size;
        len -= pkt.size;
    }
    return 0;
}
