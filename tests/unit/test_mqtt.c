/*
 * Unit tests for lib/mqtt packets: framing, byte-exact vectors for every packet type in
 * 3.1.1 and 5.0 (written by hand from the OASIS specifications), the negative rules, and
 * the encoder and its builders. Every valid vector goes through roundtrip(): it must decode
 * whole, re-encode to the same bytes, and every proper prefix (an exact-size heap copy, so
 * ASan sees any over-read) must ask for more bytes. Properties are in test_mqtt_props.c,
 * strings, topics and filters in test_mqtt_topic.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/mqtt.h"

#include "harness.h"

#define V4 WD_MQTT_V311
#define V5 WD_MQTT_V5
#define CL WD_MQTT_FROM_CLIENT
#define SV WD_MQTT_FROM_SERVER

/* A byte array literal and its length, for function arguments. */
#define B(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static struct wd_mqtt_config cfg;

static struct wd_slice S(const char *s) {
    return wd_slice_from_str(s);
}

static bool
slice_is(struct wd_slice s, const char *str)
{
    return wd_slice_eq_str(s, str);
}

/* Decode in[0..len) as one packet from `dir` at `version`, check the round trip and that
 * every proper prefix is WD_EAGAIN. *pkt borrows in. */
static void roundtrip(uint8_t version, enum wd_mqtt_dir dir, const uint8_t *in, size_t len,
                      struct wd_mqtt_packet *pkt)
{
    struct wd_mqtt_decoder d;
    wd_mqtt_decoder_init(&d, &cfg, dir, version);
    int rc = wd_mqtt_decode(&d, in, len, pkt);
    if (rc != WD_OK) {
        printf("    decode: %s (%s)\n", wd_strerror(rc), wd_mqtt_reason_name(d.reason));
    }
    CHECK_OK(rc);
    CHECK_EQ(pkt->size, len);
    CHECK_EQ(d.reason, WD_MQTT_R_NONE);
    uint8_t out[1024];
    size_t n = 0, sz = 0;
    CHECK_OK(wd_mqtt_encoded_size(pkt, &sz));
    CHECK_EQ(sz, len);
    CHECK_OK(wd_mqtt_encode_to(pkt, out, sizeof(out), &n));
    CHECK_EQ(n, len);
    CHECK_MEM(out, in, len);
    /* One byte short of room: nothing is written. */
    CHECK_ERR(wd_mqtt_encode_to(pkt, out, len - 1, &n), WD_ELIMIT);
    for (size_t i = 0; i < len; i++) {
        uint8_t *cp = wd_malloc(i);
        CHECK(cp != NULL);
        memcpy(cp, in, i);
        struct wd_mqtt_packet tmp;
        wd_mqtt_decoder_init(&d, &cfg, dir, version);
        rc = wd_mqtt_decode(&d, cp, i, &tmp);
        wd_free(cp);
        if (rc != WD_EAGAIN) {
            printf("    prefix %zu: %s (%s)\n", i, wd_strerror(rc), wd_mqtt_reason_name(d.reason));
        }
        CHECK_ERR(rc, WD_EAGAIN);
        /* Once the fixed header is complete, the needed size is known. */
        CHECK(tmp.size == 0 || tmp.size == len);
    }
    /* Followed by the start of another packet, the packet decodes the same. */
    uint8_t more[1100];
    memcpy(more, in, len);
    more[len] = 0xC0;
    struct wd_mqtt_packet again;
    wd_mqtt_decoder_init(&d, &cfg, dir, version);
    CHECK_OK(wd_mqtt_decode(&d, more, len + 1, &again));
    CHECK_EQ(again.size, len);
}

/* Decode and expect failure with a reason; the status must match the reason's class. */
static void bad(uint8_t version, enum wd_mqtt_dir dir, const uint8_t *in, size_t len,
                enum wd_mqtt_reason want)
{
    struct wd_mqtt_decoder d;
    struct wd_mqtt_packet pkt;
    uint8_t *cp = wd_malloc(len);
    CHECK(cp != NULL);
    memcpy(cp, in, len);
    wd_mqtt_decoder_init(&d, &cfg, dir, version);
    int rc = wd_mqtt_decode(&d, cp, len, &pkt);
    wd_free(cp);
    if (d.reason != want) {
        printf("    got %s (%s), want %s\n", wd_strerror(rc), wd_mqtt_reason_name(d.reason),
               wd_mqtt_reason_name(want));
    }
    CHECK_EQ(d.reason, want);
    CHECK_ERR(rc, wd_mqtt_reason_err(want));
}

/* ---- framing ------------------------------------------------------------------------ */

TEST(frame_basics)
{
    struct wd_mqtt_frame f;
    enum wd_mqtt_reason why;
    CHECK_ERR(wd_mqtt_frame(NULL, 0, V5, 100, &f, &why), WD_EAGAIN);
    CHECK_EQ(f.size, 0);
    CHECK_ERR(wd_mqtt_frame(B(0x30), V5, 100, &f, &why), WD_EAGAIN);
    CHECK_EQ(f.size, 0);
    CHECK_EQ(f.type, WD_MQTT_PUBLISH);
    CHECK_ERR(wd_mqtt_frame(B(0x30, 0x05, 0x00), V5, 100, &f, &why), WD_EAGAIN);
    CHECK_EQ(f.size, 7);
    CHECK_EQ(f.header, 2);
    CHECK_EQ(why, WD_MQTT_R_NONE);
    CHECK_OK(wd_mqtt_frame(B(0xC0, 0x00, 0xD0), V5, 100, &f, &why));
    CHECK_EQ(f.size, 2);
    CHECK_EQ(f.type, WD_MQTT_PINGREQ);
    /* §1.5.5 Table 1-1 boundaries: 127 / 128, 16383 / 16384, 2097151 / 2097152. */
    CHECK_ERR(wd_mqtt_frame(B(0x30, 0x7F), V5, UINT32_MAX, &f, &why), WD_EAGAIN);
    CHECK_EQ(f.remaining, 127);
    CHECK_ERR(wd_mqtt_frame(B(0x30, 0x80, 0x01), V5, UINT32_MAX, &f, &why), WD_EAGAIN);
    CHECK_EQ(f.remaining, 128);
    CHECK_EQ(f.header, 3);
    CHECK_ERR(wd_mqtt_frame(B(0x30, 0xFF, 0x7F), V5, UINT32_MAX, &f, &why), WD_EAGAIN);
    CHECK_EQ(f.remaining, 16383);
    CHECK_ERR(wd_mqtt_frame(B(0x30, 0x80, 0x80, 0x01), V5, UINT32_MAX, &f, &why), WD_EAGAIN);
    CHECK_EQ(f.remaining, 16384);
    CHECK_ERR(wd_mqtt_frame(B(0x30, 0xFF, 0xFF, 0x7F), V5, UINT32_MAX, &f, &why), WD_EAGAIN);
    CHECK_EQ(f.remaining, 2097151);
    CHECK_ERR(wd_mqtt_frame(B(0x30, 0x80, 0x80, 0x80, 0x01), V5, UINT32_MAX, &f, &why), WD_EAGAIN);
    CHECK_EQ(f.remaining, 2097152);
    CHECK_ERR(wd_mqtt_frame(B(0x30, 0xFF, 0xFF, 0xFF, 0x7F), V5, UINT32_MAX, &f, &why), WD_EAGAIN);
    CHECK_EQ(f.remaining, 268435455);
    CHECK_EQ(f.size, 268435460);
    CHECK_EQ(f.header, 5);
}

TEST(frame_errors)
{
    struct wd_mqtt_frame f;
    enum wd_mqtt_reason why;
    /* A fifth length byte, and a length not in its shortest form [MQTT-1.5.5-1]. */
    CHECK_ERR(wd_mqtt_frame(B(0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01), V5, UINT32_MAX, &f, &why),
              WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_VARINT);
    CHECK_ERR(wd_mqtt_frame(B(0x30, 0x80, 0x80, 0x80, 0x80), V5, UINT32_MAX, &f, &why), WD_EPROTO);
    CHECK_ERR(wd_mqtt_frame(B(0xC0, 0x80, 0x00), V5, 100, &f, &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_VARINT);
    CHECK_ERR(wd_mqtt_frame(B(0x30, 0x85, 0x80, 0x00), V5, UINT32_MAX, &f, &why), WD_EPROTO);
    /* The limit is known from the header alone: no need to buffer the body. */
    CHECK_ERR(wd_mqtt_frame(B(0x30, 0x80, 0x01), V5, 130, &f, &why), WD_ELIMIT);
    CHECK_EQ(why, WD_MQTT_R_PACKET_TOO_LARGE);
    CHECK_EQ(f.size, 131);
    CHECK_ERR(wd_mqtt_frame(B(0x30, 0x7F), V5, 129, &f, &why), WD_EAGAIN);
    CHECK_ERR(wd_mqtt_frame(B(0x30, 0x7F), V5, 128, &f, &why), WD_ELIMIT);
    /* Types and flags are judged from the first byte. */
    CHECK_ERR(wd_mqtt_frame(B(0x00), V5, 100, &f, &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_TYPE);
    CHECK_ERR(wd_mqtt_frame(B(0xF0), V4, 100, &f, &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_TYPE);
    CHECK_ERR(wd_mqtt_frame(B(0xF0), V5, 100, &f, &why), WD_EAGAIN);
    CHECK_ERR(wd_mqtt_frame(B(0xF0), 0, 100, &f, &why), WD_EAGAIN);
    CHECK_ERR(wd_mqtt_frame(B(0x36), V5, 100, &f, &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_QOS);
    CHECK_ERR(wd_mqtt_frame(B(0x38), V5, 100, &f, &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_DUP_QOS0);
    CHECK_ERR(wd_mqtt_frame(B(0x39), V5, 100, &f, NULL), WD_EPROTO);
    static const uint8_t wrong_flags[] = {0x11, 0x28, 0x41, 0x52, 0x60, 0x63, 0x71, 0x80, 0x83,
                                          0x92, 0xA0, 0xAA, 0xB1, 0xC4, 0xD8, 0xE1, 0xF2};
    for (size_t i = 0; i < sizeof(wrong_flags); i++) {
        CHECK_ERR(wd_mqtt_frame(&wrong_flags[i], 1, V5, 100, &f, &why), WD_EPROTO);
        CHECK_EQ(why, WD_MQTT_R_FLAGS);
    }
    /* Every legal first byte. */
    static const uint8_t right[] = {0x10, 0x20, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35,
                                    0x3A, 0x3B, 0x3C, 0x3D, 0x40, 0x50, 0x62, 0x70,
                                    0x82, 0x90, 0xA2, 0xB0, 0xC0, 0xD0, 0xE0, 0xF0};
    for (size_t i = 0; i < sizeof(right); i++) {
        CHECK_ERR(wd_mqtt_frame(&right[i], 1, V5, 100, &f, &why), WD_EAGAIN);
    }
}

TEST(decode_stream)
{
    /* Three packets back to back, consumed by pkt.size. */
    static const uint8_t s[] = {0x10, 0x0C, 0x00, 0x04, 'M',  'Q',  'T',  'T',
                                0x04, 0x02, 0x00, 0x3C, 0x00, 0x00, 0xC0, 0x00,
                                0x30, 0x03, 0x00, 0x01, 'x',  0xE0, 0x00};
    static const enum wd_mqtt_type want[] = {WD_MQTT_CONNECT, WD_MQTT_PINGREQ, WD_MQTT_PUBLISH,
                                             WD_MQTT_DISCONNECT};
    struct wd_mqtt_decoder d;
    struct wd_mqtt_packet pkt;
    size_t off = 0;
    wd_mqtt_decoder_init(&d, &cfg, CL, 0);
    for (size_t i = 0; i < WD_ARRAY_LEN(want); i++) {
        CHECK_OK(wd_mqtt_decode(&d, s + off, sizeof(s) - off, &pkt));
        CHECK_EQ(pkt.type, want[i]);
        CHECK_EQ(pkt.version, V4);
        off += pkt.size;
    }
    CHECK_EQ(off, sizeof(s));
    CHECK_EQ(d.version, V4);
    CHECK(d.connected);
    CHECK_ERR(wd_mqtt_decode(&d, s, 0, &pkt), WD_EAGAIN);
    /* The same decoder refuses a second CONNECT. */
    CHECK_ERR(wd_mqtt_decode(&d, s, sizeof(s), &pkt), WD_EPROTO);
    CHECK_EQ(d.reason, WD_MQTT_R_CONNECT_TWICE);
}

/* ---- CONNECT ------------------------------------------------------------------------ */

TEST(connect_v311_minimal)
{
    struct wd_mqtt_packet p;
    roundtrip(0, CL,
              B(0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00),
              &p);
    CHECK_EQ(p.type, WD_MQTT_CONNECT);
    CHECK_EQ(p.version, V4);
    CHECK(p.connect.clean_start);
    CHECK(!p.connect.will && !p.connect.has_username && !p.connect.has_password);
    CHECK_EQ(p.connect.keep_alive, 60);
    CHECK_EQ(p.connect.client_id.len, 0);
}

TEST(connect_v311_full)
{
    struct wd_mqtt_packet p;
    roundtrip(0, CL,
              B(0x10, 0x1F, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0xEE, 0x00, 0x3C, 0x00, 0x03, 'c',
                'i', 'd', 0x00, 0x03, 'w', '/', 't', 0x00, 0x03, 'b', 'y', 'e', 0x00, 0x01, 'u',
                0x00, 0x01, 'p'),
              &p);
    const struct wd_mqtt_connect *c = &p.connect;
    CHECK(c->clean_start && c->will && c->will_retain && c->has_username && c->has_password);
    CHECK_EQ(c->will_qos, 1);
    CHECK(slice_is(c->client_id, "cid"));
    CHECK(slice_is(c->will_topic, "w/t"));
    CHECK(slice_is(c->will_payload, "bye"));
    CHECK(slice_is(c->username, "u"));
    CHECK(slice_is(c->password, "p"));
    CHECK_EQ(c->props.len, 0);
    CHECK_EQ(c->will_props.len, 0);
}

TEST(connect_v5_props)
{
    struct wd_mqtt_packet p;
    roundtrip(0, CL,
              B(0x10, 0x35, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x86, 0x00, 0x0A,
                /* properties: Session Expiry 60, Receive Maximum 20, User Property a=b */
                0x0F, 0x11, 0x00, 0x00, 0x00, 0x3C, 0x21, 0x00, 0x14, 0x26, 0x00, 0x01, 'a', 0x00,
                0x01, 'b',
                /* client id */
                0x00, 0x02, 'c', '5',
                /* will properties: Will Delay 5, Payload Format 1, Content Type "text" */
                0x0E, 0x18, 0x00, 0x00, 0x00, 0x05, 0x01, 0x01, 0x03, 0x00, 0x04, 't', 'e', 'x',
                't',
                /* will topic, empty will payload, user name */
                0x00, 0x01, 'w', 0x00, 0x00, 0x00, 0x01, 'u'),
              &p);
    const struct wd_mqtt_connect *c = &p.connect;
    CHECK_EQ(p.version, V5);
    CHECK(c->will && c->has_username && !c->has_password);
    CHECK_EQ(c->keep_alive, 10);
    CHECK_EQ(c->props.len, 15);
    CHECK_EQ(c->will_props.len, 14);
    struct wd_mqtt_prop pr;
    CHECK(wd_mqtt_props_find(c->props, WD_MQTT_P_RECEIVE_MAXIMUM, &pr));
    CHECK_EQ(pr.num, 20);
    CHECK(wd_mqtt_props_find(c->will_props, WD_MQTT_P_CONTENT_TYPE, &pr));
    CHECK(slice_is(pr.s, "text"));
    CHECK(slice_is(c->will_topic, "w"));
    CHECK_EQ(c->will_payload.len, 0);
}

TEST(connect_v5_password_without_username)
{
    /* 5.0 §3.1.2.9 allows a Password without a User Name; 3.1.1 [MQTT-3.1.2-22] does not. */
    struct wd_mqtt_packet p;
    roundtrip(0, CL,
              B(0x10, 0x11, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x42, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x02, 'p', 'w'),
              &p);
    CHECK(p.connect.has_password && !p.connect.has_username);
    /* 5.0: an empty ClientID is fine even with Clean Start 0. */
    roundtrip(
            0, CL,
            B(0x10, 0x0D, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00),
            &p);
    bad(0, CL,
        B(0x10, 0x0F, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x42, 0x00, 0x00, 0x00, 0x00, 0x00,
          0x01, 'p'),
        WD_MQTT_R_PASSWORD_FLAG);
}

TEST(connect_errors)
{
    /* §3.1.2.1 / §3.1.2.2: MQTT 3.1 and unknown levels. */
    bad(0, CL,
        B(0x10, 0x0E, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', 0x03, 0x02, 0x00, 0x3C, 0x00, 0x00),
        WD_MQTT_R_PROTOCOL_NAME);
    bad(0, CL, B(0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 't', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00),
        WD_MQTT_R_PROTOCOL_NAME);
    bad(0, CL, B(0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x06, 0x02, 0x00, 0x3C, 0x00, 0x00),
        WD_MQTT_R_PROTOCOL_VERSION);
    /* The level read is reported so the caller can answer in kind. */
    struct wd_mqtt_decoder d;
    struct wd_mqtt_packet p;
    wd_mqtt_decoder_init(&d, &cfg, CL, 0);
    CHECK_ERR(wd_mqtt_decode(&d,
                             B(0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x03, 0x02, 0x00, 0x3C,
                               0x00, 0x00),
                             &p),
              WD_EPROTO);
    CHECK_EQ(p.version, 3);
    CHECK_EQ(wd_mqtt_reason_code(d.reason), WD_MQTT_RC_UNSUPPORTED_VERSION);
    CHECK(!d.connected);
    /* [MQTT-3.1.2-3] reserved flag. */
    bad(0, CL, B(0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x03, 0x00, 0x3C, 0x00, 0x00),
        WD_MQTT_R_CONNECT_FLAGS);
    /* Will QoS 3; Will QoS or Retain without the Will Flag. */
    bad(0, CL,
        B(0x10, 0x11, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x1E, 0x00, 0x3C, 0x00, 0x00, 0x00,
          0x01, 't', 0x00, 0x00),
        WD_MQTT_R_QOS);
    bad(0, CL, B(0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x0A, 0x00, 0x3C, 0x00, 0x00),
        WD_MQTT_R_WILL_FLAGS);
    bad(0, CL, B(0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x22, 0x00, 0x3C, 0x00, 0x00),
        WD_MQTT_R_WILL_FLAGS);
    /* 3.1.1 [MQTT-3.1.3-8]: empty ClientID needs CleanSession; reported as 0x85 / 0x02. */
    bad(0, CL, B(0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x00, 0x00, 0x3C, 0x00, 0x00),
        WD_MQTT_R_CLIENT_ID);
    CHECK_EQ(wd_mqtt_reason_code(WD_MQTT_R_CLIENT_ID), WD_MQTT_RC_CLIENT_ID_INVALID);
    CHECK_EQ(wd_mqtt_connack311_code(WD_MQTT_RC_CLIENT_ID_INVALID), 0x02);
    /* ClientID not UTF-8; user name with U+0000. */
    bad(0, CL,
        B(0x10, 0x0D, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01, 0xFF),
        WD_MQTT_R_UTF8);
    bad(0, CL,
        B(0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x82, 0x00, 0x3C, 0x00, 0x00, 0x00,
          0x02, 'a', 0x00),
        WD_MQTT_R_UTF8);
    /* Will Topic with a wildcard, and empty. */
    bad(0, CL,
        B(0x10, 0x11, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x06, 0x00, 0x3C, 0x00, 0x00, 0x00,
          0x01, '#', 0x00, 0x00),
        WD_MQTT_R_TOPIC_NAME);
    bad(0, CL,
        B(0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x06, 0x00, 0x3C, 0x00, 0x00, 0x00,
          0x00, 0x00, 0x00),
        WD_MQTT_R_TOPIC_NAME);
    /* A byte after the last field; a field promised by a flag but missing. */
    bad(0, CL,
        B(0x10, 0x0D, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00, 0x00),
        WD_MQTT_R_LENGTH);
    bad(0, CL, B(0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0xC2, 0x00, 0x3C, 0x00, 0x00),
        WD_MQTT_R_LENGTH);
    /* A string longer than what is left of the packet. */
    bad(0, CL, B(0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01),
        WD_MQTT_R_LENGTH);
    /* v5 property rules apply in CONNECT and in the Will Properties. */
    bad(0, CL,
        B(0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C, 0x03, 0x21, 0x00,
          0x00, 0x00, 0x00),
        WD_MQTT_R_PROP_VALUE);
    bad(0, CL,
        B(0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C, 0x03, 0x23, 0x00,
          0x01, 0x00, 0x00),
        WD_MQTT_R_PROP_NOT_ALLOWED);
    bad(0, CL,
        B(0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C, 0x03, 0x16, 0x00,
          0x00, 0x00, 0x00),
        WD_MQTT_R_PROP_AUTH);
    bad(0, CL,
        B(0x10, 0x18, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x06, 0x00, 0x3C, 0x00, 0x00, 0x00,
          0x05, 0x11, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't', 0x00, 0x00),
        WD_MQTT_R_PROP_NOT_ALLOWED);
    /* Property Length past the end of the packet. */
    bad(0, CL,
        B(0x10, 0x0E, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C, 0x05, 0x00, 0x00,
          0x00),
        WD_MQTT_R_LENGTH);
}

TEST(connect_state_and_direction)
{
    /* [MQTT-3.1.0-1]: nothing before CONNECT. */
    bad(0, CL, B(0xC0, 0x00), WD_MQTT_R_NOT_CONNECTED);
    bad(0, SV, B(0x20, 0x02, 0x00, 0x00), WD_MQTT_R_NOT_CONNECTED);
    bad(0, CL, B(0xF0, 0x00), WD_MQTT_R_NOT_CONNECTED);
    /* A server does not send CONNECT; a client does not send CONNACK, SUBACK, PINGRESP. */
    bad(V5, SV, B(0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00),
        WD_MQTT_R_DIRECTION);
    bad(V4, CL, B(0x20, 0x02, 0x00, 0x00), WD_MQTT_R_DIRECTION);
    bad(V4, CL, B(0x90, 0x03, 0x00, 0x01, 0x00), WD_MQTT_R_DIRECTION);
    bad(V4, CL, B(0xD0, 0x00), WD_MQTT_R_DIRECTION);
    bad(V4, SV, B(0xC0, 0x00), WD_MQTT_R_DIRECTION);
    bad(V4, SV, B(0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x00), WD_MQTT_R_DIRECTION);
    bad(V4, SV, B(0xA2, 0x05, 0x00, 0x01, 0x00, 0x01, 'a'), WD_MQTT_R_DIRECTION);
    /* 3.1.1: only the client sends DISCONNECT; 5.0: both. */
    bad(V4, SV, B(0xE0, 0x00), WD_MQTT_R_DIRECTION);
    struct wd_mqtt_packet p;
    roundtrip(V5, SV, B(0xE0, 0x00), &p);
    roundtrip(V4, CL, B(0xE0, 0x00), &p);
    /* Direction-neutral decoders accept either side's packets. */
    roundtrip(V4, WD_MQTT_FROM_ANY, B(0x20, 0x02, 0x00, 0x00), &p);
    roundtrip(V4, WD_MQTT_FROM_ANY, B(0xC0, 0x00), &p);
}

/* ---- CONNACK ------------------------------------------------------------------------ */

TEST(connack)
{
    struct wd_mqtt_packet p;
    roundtrip(V4, SV, B(0x20, 0x02, 0x00, 0x00), &p);
    CHECK(!p.connack.session_present);
    CHECK_EQ(p.connack.code, 0);
    roundtrip(V4, SV, B(0x20, 0x02, 0x01, 0x00), &p);
    CHECK(p.connack.session_present);
    roundtrip(V4, SV, B(0x20, 0x02, 0x00, 0x05), &p);
    CHECK_EQ(p.connack.code, 5);
    roundtrip(V5, SV, B(0x20, 0x03, 0x00, 0x00, 0x00), &p);
    roundtrip(V5, SV, B(0x20, 0x03, 0x00, 0x87, 0x00), &p);
    CHECK_EQ(p.connack.code, WD_MQTT_RC_NOT_AUTHORIZED);
    roundtrip(V5, SV,
              B(0x20, 0x0D, 0x01, 0x00, 0x0A, 0x12, 0x00, 0x02, 'i', 'd', 0x24, 0x01, 0x22, 0x00,
                0x0A),
              &p);
    struct wd_mqtt_prop pr;
    CHECK(wd_mqtt_props_find(p.connack.props, WD_MQTT_P_ASSIGNED_CLIENT_ID, &pr));
    CHECK(slice_is(pr.s, "id"));
    CHECK(wd_mqtt_props_find(p.connack.props, WD_MQTT_P_TOPIC_ALIAS_MAXIMUM, &pr));
    CHECK_EQ(pr.num, 10);

    bad(V4, SV, B(0x20, 0x02, 0x02, 0x00), WD_MQTT_R_CONNACK_FLAGS);
    bad(V5, SV, B(0x20, 0x03, 0x80, 0x00, 0x00), WD_MQTT_R_CONNACK_FLAGS);
    bad(V4, SV, B(0x20, 0x02, 0x00, 0x06), WD_MQTT_R_REASON_CODE);
    bad(V4, SV, B(0x20, 0x02, 0x00, 0x87), WD_MQTT_R_REASON_CODE);
    bad(V5, SV, B(0x20, 0x03, 0x00, 0x05, 0x00), WD_MQTT_R_REASON_CODE);
    bad(V5, SV, B(0x20, 0x03, 0x00, 0x10, 0x00), WD_MQTT_R_REASON_CODE);
    bad(V4, SV, B(0x20, 0x02, 0x01, 0x05), WD_MQTT_R_SESSION_PRESENT);
    bad(V5, SV, B(0x20, 0x03, 0x01, 0x87, 0x00), WD_MQTT_R_SESSION_PRESENT);
    bad(V4, SV, B(0x20, 0x03, 0x00, 0x00, 0x00), WD_MQTT_R_LENGTH);
    bad(V5, SV, B(0x20, 0x02, 0x00, 0x00), WD_MQTT_R_LENGTH);
    bad(V5, SV, B(0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x02), WD_MQTT_R_PROP_VALUE);
    bad(V5, SV, B(0x20, 0x05, 0x00, 0x00, 0x02, 0x17, 0x01), WD_MQTT_R_PROP_NOT_ALLOWED);
}

/* ---- PUBLISH ------------------------------------------------------------------------ */

TEST(publish_v311)
{
    struct wd_mqtt_packet p;
    roundtrip(V4, CL, B(0x30, 0x07, 0x00, 0x03, 'a', '/', 'b', 'h', 'i'), &p);
    CHECK_EQ(p.publish.qos, 0);
    CHECK(!p.publish.dup && !p.publish.retain);
    CHECK_EQ(p.publish.packet_id, 0);
    CHECK(slice_is(p.publish.topic, "a/b"));
    CHECK(slice_is(p.publish.payload, "hi"));
    roundtrip(V4, CL, B(0x33, 0x09, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0A, 'h', 'i'), &p);
    CHECK_EQ(p.publish.qos, 1);
    CHECK(p.publish.retain);
    CHECK_EQ(p.publish.packet_id, 10);
    roundtrip(V4, SV, B(0x3C, 0x09, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0B, 'h', 'i'), &p);
    CHECK_EQ(p.publish.qos, 2);
    CHECK(p.publish.dup);
    roundtrip(V4, CL, B(0x30, 0x05, 0x00, 0x03, 'a', '/', 'b'), &p);
    CHECK_EQ(p.publish.payload.len, 0);
    /* Spaces, '$' and multi-byte UTF-8 are fine in a Topic Name. */
    roundtrip(V4, SV, B(0x30, 0x08, 0x00, 0x06, '$', 'S', ' ', 0xC3, 0xA9, '/'), &p);
}

TEST(publish_v5)
{
    struct wd_mqtt_packet p;
    roundtrip(V5, CL,
              B(0x32, 0x23, 0x00, 0x01, 't', 0x00, 0x01, 0x1C, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00,
                0x3C, 0x03, 0x00, 0x02, 'j', 's', 0x08, 0x00, 0x01, 'r', 0x09, 0x00, 0x02, 0x01,
                0x02, 0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', 'x'),
              &p);
    CHECK_EQ(p.publish.qos, 1);
    CHECK_EQ(p.publish.packet_id, 1);
    CHECK_EQ(p.publish.props.len, 28);
    CHECK(slice_is(p.publish.payload, "x"));
    CHECK_EQ(p.publish.topic_alias, 0);
    /* Several Subscription Identifiers from the server (§3.3.2.3.8). */
    roundtrip(V5, SV, B(0x30, 0x08, 0x00, 0x01, 't', 0x04, 0x0B, 0x01, 0x0B, 0x02), &p);
    struct wd_mqtt_props_iter it;
    struct wd_mqtt_prop pr;
    uint32_t ids[4];
    size_t n = 0;
    wd_mqtt_props_iter_init(&it, p.publish.props);
    while (wd_mqtt_props_next(&it, &pr) && n < 4) {
        CHECK_EQ(pr.id, WD_MQTT_P_SUBSCRIPTION_ID);
        ids[n++] = pr.num;
    }
    CHECK_EQ(n, 2);
    CHECK_EQ(ids[0], 1);
    CHECK_EQ(ids[1], 2);
    /* [MQTT-3.3.4-6]: but never from a client. */
    bad(V5, CL, B(0x30, 0x08, 0x00, 0x01, 't', 0x04, 0x0B, 0x01, 0x0B, 0x02),
        WD_MQTT_R_SUB_ID_FROM_CLIENT);
    /* §3.3.2.3.4: an empty Topic Name with a Topic Alias. */
    roundtrip(V5, CL, B(0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01, 'z'), &p);
    CHECK_EQ(p.publish.topic_alias, 1);
    CHECK_EQ(p.publish.topic.len, 0);
    /* A topic and an alias together (the sender sets the mapping). */
    roundtrip(V5, CL, B(0x30, 0x07, 0x00, 0x01, 't', 0x03, 0x23, 0x00, 0x07), &p);
    CHECK_EQ(p.publish.topic_alias, 7);
    /* Empty props, empty payload. */
    roundtrip(V5, SV, B(0x30, 0x04, 0x00, 0x01, 't', 0x00), &p);
}

TEST(publish_errors)
{
    bad(V4, CL, B(0x30, 0x05, 0x00, 0x03, 'a', '/', '+'), WD_MQTT_R_TOPIC_NAME);
    bad(V4, CL, B(0x30, 0x05, 0x00, 0x03, 'a', '#', 'b'), WD_MQTT_R_TOPIC_NAME);
    bad(V4, CL, B(0x30, 0x02, 0x00, 0x00), WD_MQTT_R_TOPIC_NAME);
    bad(V5, CL, B(0x30, 0x03, 0x00, 0x00, 0x00), WD_MQTT_R_TOPIC_NAME);
    bad(V4, CL, B(0x30, 0x04, 0x00, 0x02, 0xC0, 0x80), WD_MQTT_R_UTF8);
    bad(V4, CL, B(0x30, 0x04, 0x00, 0x02, 'a', 0x00), WD_MQTT_R_UTF8);
    bad(V4, CL, B(0x32, 0x05, 0x00, 0x01, 't', 0x00, 0x00), WD_MQTT_R_PACKET_ID);
    bad(V4, CL, B(0x32, 0x04, 0x00, 0x01, 't', 0x00), WD_MQTT_R_LENGTH);
    bad(V4, CL, B(0x30, 0x03, 0x00, 0x05, 't'), WD_MQTT_R_LENGTH);
    bad(V5, CL, B(0x30, 0x04, 0x00, 0x01, 't', 0x02), WD_MQTT_R_LENGTH);
    bad(V5, CL, B(0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x00), WD_MQTT_R_TOPIC_ALIAS);
    CHECK_EQ(wd_mqtt_reason_code(WD_MQTT_R_TOPIC_ALIAS), WD_MQTT_RC_TOPIC_ALIAS_INVALID);
    bad(V5, SV, B(0x30, 0x06, 0x00, 0x01, 't', 0x02, 0x0B, 0x00), WD_MQTT_R_PROP_VALUE);
    bad(V5, CL, B(0x30, 0x06, 0x00, 0x01, 't', 0x02, 0x01, 0x02), WD_MQTT_R_PROP_VALUE);
    bad(V5, CL, B(0x30, 0x08, 0x00, 0x01, 't', 0x04, 0x08, 0x00, 0x01, '+'), WD_MQTT_R_TOPIC_NAME);
    bad(V5, CL, B(0x30, 0x08, 0x00, 0x01, 't', 0x04, 0x01, 0x00, 0x01, 0x01), WD_MQTT_R_PROP_DUP);
    bad(V5, CL, B(0x30, 0x07, 0x00, 0x01, 't', 0x03, 0x08, 0x00, 0x05), WD_MQTT_R_PROP_LENGTH);
    bad(V5, CL, B(0x30, 0x06, 0x00, 0x01, 't', 0x02, 0x11, 0x00), WD_MQTT_R_PROP_NOT_ALLOWED);
    /* A Property Length that is not minimal. */
    bad(V5, CL, B(0x30, 0x05, 0x00, 0x01, 't', 0x80, 0x00), WD_MQTT_R_VARINT);
}

TEST(publish_limits)
{
    struct wd_mqtt_config saved = cfg;
    cfg.max_topic = 3;
    struct wd_mqtt_packet p;
    roundtrip(V4, CL, B(0x30, 0x05, 0x00, 0x03, 'a', '/', 'b'), &p);
    bad(V4, CL, B(0x30, 0x06, 0x00, 0x04, 'a', '/', 'b', 'c'), WD_MQTT_R_LIMIT_TOPIC_NAME);
    cfg = saved;
    cfg.max_props = 2;
    roundtrip(V5, CL, B(0x30, 0x09, 0x00, 0x01, 't', 0x05, 0x01, 0x00, 0x23, 0x00, 0x01), &p);
    bad(V5, CL,
        B(0x30, 0x0E, 0x00, 0x01, 't', 0x0A, 0x01, 0x00, 0x23, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00,
          0x00),
        WD_MQTT_R_LIMIT_PROPS);
    cfg = saved;
    cfg.max_packet = 8;
    roundtrip(V4, CL, B(0x30, 0x06, 0x00, 0x01, 't', 'a', 'b', 'c'), &p);
    bad(V4, CL, B(0x30, 0x07, 0x00, 0x01, 't', 'a', 'b', 'c', 'd'), WD_MQTT_R_PACKET_TOO_LARGE);
    /* Refused from the fixed header alone. */
    bad(V4, CL, B(0x30, 0x07), WD_MQTT_R_PACKET_TOO_LARGE);
    cfg = saved;
    cfg.strict_utf8 = true;
    bad(V4, CL, B(0x30, 0x04, 0x00, 0x02, 'a', 0x7F), WD_MQTT_R_UTF8);
    cfg = saved;
    roundtrip(V4, CL, B(0x30, 0x04, 0x00, 0x02, 'a', 0x7F), &p);
}

/* ---- PUBACK, PUBREC, PUBREL, PUBCOMP ------------------------------------------------ */

TEST(acks)
{
    struct wd_mqtt_packet p;
    static const uint8_t first[] = {0x40, 0x50, 0x62, 0x70};
    for (size_t i = 0; i < 4; i++) {
        uint8_t v311[] = {first[i], 0x02, 0x00, 0x01};
        roundtrip(V4, CL, v311, sizeof(v311), &p);
        CHECK_EQ(p.type, WD_MQTT_PUBACK + i);
        CHECK_EQ(p.ack.packet_id, 1);
        CHECK_EQ(p.ack.form, WD_MQTT_FORM_MIN);
        roundtrip(V5, SV, v311, sizeof(v311), &p);
        uint8_t full[] = {first[i], 0x04, 0x12, 0x34, 0x00, 0x00};
        roundtrip(V5, SV, full, sizeof(full), &p);
        CHECK_EQ(p.ack.packet_id, 0x1234);
        CHECK_EQ(p.ack.form, WD_MQTT_FORM_FULL);
        CHECK_EQ(p.ack.code, 0);
        uint8_t code0[] = {first[i], 0x03, 0x00, 0x01, 0x00};
        roundtrip(V5, CL, code0, sizeof(code0), &p);
        CHECK_EQ(p.ack.form, WD_MQTT_FORM_CODE);
        /* 3.1.1 has no reason code. */
        bad(V4, CL, code0, sizeof(code0), WD_MQTT_R_LENGTH);
        uint8_t zero[] = {first[i], 0x02, 0x00, 0x00};
        bad(V5, CL, zero, sizeof(zero), WD_MQTT_R_PACKET_ID);
        uint8_t shortp[] = {first[i], 0x01, 0x00};
        bad(V5, CL, shortp, sizeof(shortp), WD_MQTT_R_LENGTH);
    }
    roundtrip(V5, CL, B(0x40, 0x03, 0x00, 0x01, 0x10), &p);
    CHECK_EQ(p.ack.code, WD_MQTT_RC_NO_MATCHING_SUBSCRIBERS);
    roundtrip(V5, SV, B(0x50, 0x0A, 0x00, 0x01, 0x87, 0x06, 0x1F, 0x00, 0x03, 'n', 'o', 'p'), &p);
    CHECK_EQ(p.ack.code, WD_MQTT_RC_NOT_AUTHORIZED);
    struct wd_mqtt_prop pr;
    CHECK(wd_mqtt_props_find(p.ack.props, WD_MQTT_P_REASON_STRING, &pr));
    CHECK(slice_is(pr.s, "nop"));
    roundtrip(V5, CL, B(0x62, 0x03, 0x00, 0x01, 0x92), &p);
    roundtrip(V5, CL, B(0x70, 0x03, 0x00, 0x01, 0x92), &p);
    /* Each packet has its own code table. */
    bad(V5, CL, B(0x62, 0x03, 0x00, 0x01, 0x10), WD_MQTT_R_REASON_CODE);
    bad(V5, CL, B(0x70, 0x03, 0x00, 0x01, 0x87), WD_MQTT_R_REASON_CODE);
    bad(V5, CL, B(0x40, 0x03, 0x00, 0x01, 0x92), WD_MQTT_R_REASON_CODE);
    bad(V5, CL, B(0x50, 0x03, 0x00, 0x01, 0x01), WD_MQTT_R_REASON_CODE);
    bad(V5, CL, B(0x40, 0x06, 0x00, 0x01, 0x00, 0x02, 0x23, 0x00), WD_MQTT_R_PROP_NOT_ALLOWED);
    bad(V5, CL, B(0x40, 0x05, 0x00, 0x01, 0x00, 0x05, 0x00), WD_MQTT_R_LENGTH);
}

/* ---- SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK --------------------------------------- */

/* The entries of a (UN)SUBSCRIBE as "filter:options|". */
static void list_str(const struct wd_mqtt_packet *p, char *out, size_t cap)
{
    struct wd_mqtt_subs_iter it;
    struct wd_mqtt_sub e;
    out[0] = '\0';
    wd_mqtt_subs_iter_init(&it, p);
    while (wd_mqtt_subs_next(&it, &e)) {
        size_t n = strlen(out);
        (void)snprintf(out + n, cap - n, "%.*s:%02x|", (int)e.filter.len, (const char *)e.filter.p,
                       e.options);
    }
}

TEST(subscribe)
{
    struct wd_mqtt_packet p;
    char s[256];
    roundtrip(V4, CL,
              B(0x82, 0x0E, 0x00, 0x01, 0x00, 0x03, 'a', '/', '+', 0x01, 0x00, 0x03, 'b', '/', '#',
                0x02),
              &p);
    CHECK_EQ(p.subscribe.packet_id, 1);
    CHECK_EQ(p.subscribe.count, 2);
    list_str(&p, s, sizeof(s));
    CHECK_STR(s, "a/+:01|b/#:02|");
    /* 3.1.1 has no shared subscriptions: "$share/..." is an ordinary filter there. */
    roundtrip(V4, CL, B(0x82, 0x0A, 0x00, 0x02, 0x00, 0x05, '$', 's', 'h', 'a', 'r', 0x00), &p);
    roundtrip(V4, CL,
              B(0x82, 0x0E, 0x00, 0x02, 0x00, 0x09, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', 'x',
                0x00),
              &p);
    roundtrip(V5, CL,
              B(0x82, 0x1F, 0x00, 0x05, 0x09, 0x0B, 0x05, 0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v',
                0x00, 0x0C, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 'x', '/', '#', 0x19, 0x00,
                0x01, 't', 0x2E),
              &p);
    CHECK_EQ(p.subscribe.subscription_id, 5);
    CHECK_EQ(p.subscribe.count, 2);
    list_str(&p, s, sizeof(s));
    CHECK_STR(s, "$share/g/x/#:19|t:2e|");
    struct wd_mqtt_subs_iter it;
    struct wd_mqtt_sub e;
    wd_mqtt_subs_iter_init(&it, &p);
    CHECK(wd_mqtt_subs_next(&it, &e));
    CHECK_EQ(WD_MQTT_SUBOPT_QOS(e.options), 1);
    CHECK_EQ(WD_MQTT_SUBOPT_RETAIN_H(e.options), 1);
    CHECK((e.options & WD_MQTT_SUBOPT_RAP) != 0);
    CHECK((e.options & WD_MQTT_SUBOPT_NO_LOCAL) == 0);
    CHECK(wd_mqtt_subs_next(&it, &e));
    CHECK_EQ(WD_MQTT_SUBOPT_QOS(e.options), 2);
    CHECK((e.options & WD_MQTT_SUBOPT_NO_LOCAL) != 0);
    CHECK_EQ(WD_MQTT_SUBOPT_RETAIN_H(e.options), 2);
    CHECK(!wd_mqtt_subs_next(&it, &e));
    /* A list the decoder did not validate: the walk stops at the bad entry, for good. */
    struct wd_mqtt_packet made = {.type = WD_MQTT_SUBSCRIBE, .version = V4};
    made.subscribe.list = (struct wd_slice){(const uint8_t *)"\0\1a\1\0\5b", 7};
    wd_mqtt_subs_iter_init(&it, &made);
    CHECK(wd_mqtt_subs_next(&it, &e));
    CHECK(wd_slice_eq_str(e.filter, "a"));
    CHECK_EQ(e.options, 1);
    CHECK(!wd_mqtt_subs_next(&it, &e));
    CHECK(!wd_mqtt_subs_next(&it, &e));
    made.type = WD_MQTT_UNSUBSCRIBE;
    made.subscribe.list = (struct wd_slice){(const uint8_t *)"\0\1a\0", 4};
    wd_mqtt_subs_iter_init(&it, &made);
    CHECK(wd_mqtt_subs_next(&it, &e));
    CHECK_EQ(e.options, 0);
    CHECK(!wd_mqtt_subs_next(&it, &e));
}

TEST(subscribe_errors)
{
    /* [MQTT-3.8.3-3] (3.1.1) / [MQTT-3.8.3-2] (5.0): at least one filter. */
    bad(V4, CL, B(0x82, 0x02, 0x00, 0x01), WD_MQTT_R_EMPTY);
    bad(V5, CL, B(0x82, 0x03, 0x00, 0x01, 0x00), WD_MQTT_R_EMPTY);
    /* Options: 3.1.1 reserved bits 2-7 and QoS 3; 5.0 reserved bits 6-7, RH 3. */
    bad(V4, CL, B(0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x04), WD_MQTT_R_SUB_OPTIONS);
    bad(V4, CL, B(0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x03), WD_MQTT_R_QOS);
    bad(V5, CL, B(0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x40), WD_MQTT_R_SUB_OPTIONS);
    bad(V5, CL, B(0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x80), WD_MQTT_R_SUB_OPTIONS);
    bad(V5, CL, B(0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x03), WD_MQTT_R_QOS);
    bad(V5, CL, B(0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x30), WD_MQTT_R_RETAIN_HANDLING);
    /* [MQTT-3.8.3-4]: No Local on a shared subscription. */
    bad(V5, CL,
        B(0x82, 0x10, 0x00, 0x01, 0x00, 0x00, 0x0A, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/',
          'x', 0x04),
        WD_MQTT_R_NO_LOCAL_SHARED);
    /* Filters with misplaced wildcards, empty, bad share names. */
    bad(V4, CL, B(0x82, 0x08, 0x00, 0x01, 0x00, 0x03, 'a', 'b', '#', 0x00), WD_MQTT_R_TOPIC_FILTER);
    bad(V4, CL, B(0x82, 0x08, 0x00, 0x01, 0x00, 0x03, '#', '/', 'b', 0x00), WD_MQTT_R_TOPIC_FILTER);
    bad(V4, CL, B(0x82, 0x08, 0x00, 0x01, 0x00, 0x03, 'a', '+', '/', 0x00), WD_MQTT_R_TOPIC_FILTER);
    bad(V4, CL, B(0x82, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00), WD_MQTT_R_TOPIC_FILTER);
    bad(V5, CL,
        B(0x82, 0x0F, 0x00, 0x01, 0x00, 0x00, 0x09, '$', 's', 'h', 'a', 'r', 'e', '/', '/', 'x',
          0x00),
        WD_MQTT_R_SHARE_NAME);
    bad(V5, CL,
        B(0x82, 0x0E, 0x00, 0x01, 0x00, 0x00, 0x08, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', 0x00),
        WD_MQTT_R_SHARE_NAME);
    bad(V5, CL,
        B(0x82, 0x0F, 0x00, 0x01, 0x00, 0x00, 0x09, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/',
          0x00),
        WD_MQTT_R_TOPIC_FILTER);
    bad(V5, CL,
        B(0x82, 0x11, 0x00, 0x01, 0x00, 0x00, 0x0B, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '#',
          '/', 'x', 0x00),
        WD_MQTT_R_SHARE_NAME);
    bad(V4, CL, B(0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0xFE, 0x00), WD_MQTT_R_UTF8);
    /* Missing options byte; packet id 0; Subscription Identifier twice or 0. */
    bad(V4, CL, B(0x82, 0x05, 0x00, 0x01, 0x00, 0x01, 'a'), WD_MQTT_R_LENGTH);
    bad(V4, CL, B(0x82, 0x06, 0x00, 0x00, 0x00, 0x01, 'a', 0x00), WD_MQTT_R_PACKET_ID);
    bad(V5, CL, B(0x82, 0x0B, 0x00, 0x01, 0x04, 0x0B, 0x01, 0x0B, 0x02, 0x00, 0x01, 'a', 0x00),
        WD_MQTT_R_PROP_DUP);
    bad(V5, CL, B(0x82, 0x09, 0x00, 0x01, 0x02, 0x0B, 0x00, 0x00, 0x01, 'a', 0x00),
        WD_MQTT_R_PROP_VALUE);
    bad(V5, CL, B(0x82, 0x09, 0x00, 0x01, 0x02, 0x26, 0x00, 0x00, 0x01, 'a', 0x00),
        WD_MQTT_R_PROP_LENGTH);
}

TEST(subscribe_limits)
{
    struct wd_mqtt_config saved = cfg;
    struct wd_mqtt_packet p;
    cfg.max_filters = 2;
    roundtrip(V4, CL, B(0x82, 0x0A, 0x00, 0x01, 0x00, 0x01, 'a', 0x00, 0x00, 0x01, 'b', 0x00), &p);
    bad(V4, CL,
        B(0x82, 0x0E, 0x00, 0x01, 0x00, 0x01, 'a', 0x00, 0x00, 0x01, 'b', 0x00, 0x00, 0x01, 'c',
          0x00),
        WD_MQTT_R_LIMIT_FILTERS);
    bad(V4, SV, B(0x90, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00), WD_MQTT_R_LIMIT_FILTERS);
    bad(V4, CL, B(0xA2, 0x0B, 0x00, 0x01, 0x00, 0x01, 'a', 0x00, 0x01, 'b', 0x00, 0x01, 'c'),
        WD_MQTT_R_LIMIT_FILTERS);
    cfg = saved;
    cfg.max_topic = 2;
    bad(V4, CL, B(0x82, 0x08, 0x00, 0x01, 0x00, 0x03, 'a', '/', 'b', 0x00),
        WD_MQTT_R_LIMIT_TOPIC_FILTER);
    cfg = saved;
}

TEST(suback)
{
    struct wd_mqtt_packet p;
    roundtrip(V4, SV, B(0x90, 0x05, 0x00, 0x01, 0x00, 0x01, 0x80), &p);
    CHECK_EQ(p.suback.codes.len, 3);
    CHECK_EQ(p.suback.codes.p[2], 0x80);
    roundtrip(V4, SV, B(0x90, 0x03, 0x00, 0x01, 0x02), &p);
    roundtrip(V5, SV, B(0x90, 0x05, 0x00, 0x01, 0x00, 0x02, 0x87), &p);
    roundtrip(V5, SV,
              B(0x90, 0x0F, 0x00, 0x01, 0x00, 0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97,
                0x9E, 0xA1, 0xA2),
              &p);
    roundtrip(V5, SV, B(0x90, 0x09, 0x00, 0x01, 0x05, 0x1F, 0x00, 0x02, 'n', 'o', 0x00), &p);
    bad(V4, SV, B(0x90, 0x02, 0x00, 0x01), WD_MQTT_R_EMPTY);
    bad(V5, SV, B(0x90, 0x03, 0x00, 0x01, 0x00), WD_MQTT_R_EMPTY);
    bad(V4, SV, B(0x90, 0x03, 0x00, 0x01, 0x87), WD_MQTT_R_REASON_CODE);
    bad(V4, SV, B(0x90, 0x03, 0x00, 0x01, 0x03), WD_MQTT_R_REASON_CODE);
    bad(V5, SV, B(0x90, 0x04, 0x00, 0x01, 0x00, 0x03), WD_MQTT_R_REASON_CODE);
    bad(V5, SV, B(0x90, 0x04, 0x00, 0x01, 0x00, 0x11), WD_MQTT_R_REASON_CODE);
    bad(V5, SV, B(0x90, 0x04, 0x00, 0x00, 0x00, 0x00), WD_MQTT_R_PACKET_ID);
}

TEST(unsubscribe)
{
    struct wd_mqtt_packet p;
    char s[128];
    roundtrip(V4, CL, B(0xA2, 0x05, 0x00, 0x02, 0x00, 0x01, 'a'), &p);
    list_str(&p, s, sizeof(s));
    CHECK_STR(s, "a:00|");
    roundtrip(V5, CL, B(0xA2, 0x0B, 0x00, 0x02, 0x00, 0x00, 0x01, 'a', 0x00, 0x03, '+', '/', '#'),
              &p);
    list_str(&p, s, sizeof(s));
    CHECK_STR(s, "a:00|+/#:00|");
    CHECK_EQ(p.subscribe.count, 2);
    roundtrip(V4, SV, B(0xB0, 0x02, 0x00, 0x02), &p);
    CHECK_EQ(p.suback.codes.len, 0);
    roundtrip(V5, SV, B(0xB0, 0x05, 0x00, 0x02, 0x00, 0x00, 0x11), &p);
    CHECK_EQ(p.suback.codes.len, 2);
    bad(V4, CL, B(0xA2, 0x02, 0x00, 0x02), WD_MQTT_R_EMPTY);
    bad(V5, CL, B(0xA2, 0x03, 0x00, 0x02, 0x00), WD_MQTT_R_EMPTY);
    bad(V4, CL, B(0xA2, 0x06, 0x00, 0x02, 0x00, 0x01, 'a', 0x00), WD_MQTT_R_LENGTH);
    bad(V4, CL, B(0xA2, 0x06, 0x00, 0x02, 0x00, 0x02, 'a', '#'), WD_MQTT_R_TOPIC_FILTER);
    bad(V5, CL, B(0xA2, 0x08, 0x00, 0x02, 0x02, 0x0B, 0x01, 0x00, 0x01, 'a'),
        WD_MQTT_R_PROP_NOT_ALLOWED);
    bad(V4, SV, B(0xB0, 0x03, 0x00, 0x02, 0x00), WD_MQTT_R_LENGTH);
    bad(V5, SV, B(0xB0, 0x03, 0x00, 0x02, 0x00), WD_MQTT_R_EMPTY);
    bad(V5, SV, B(0xB0, 0x04, 0x00, 0x02, 0x00, 0x01), WD_MQTT_R_REASON_CODE);
}

/* ---- PINGREQ, PINGRESP, DISCONNECT, AUTH -------------------------------------------- */

TEST(ping_disconnect_auth)
{
    struct wd_mqtt_packet p;
    roundtrip(V4, CL, B(0xC0, 0x00), &p);
    CHECK_EQ(p.type, WD_MQTT_PINGREQ);
    roundtrip(V5, SV, B(0xD0, 0x00), &p);
    CHECK_EQ(p.type, WD_MQTT_PINGRESP);
    bad(V5, CL, B(0xC0, 0x01, 0x00), WD_MQTT_R_LENGTH);
    bad(V4, SV, B(0xD0, 0x01, 0x00), WD_MQTT_R_LENGTH);

    roundtrip(V4, CL, B(0xE0, 0x00), &p);
    bad(V4, CL, B(0xE0, 0x01, 0x00), WD_MQTT_R_LENGTH);
    roundtrip(V5, CL, B(0xE0, 0x00), &p);
    CHECK_EQ(p.disconnect.form, WD_MQTT_FORM_MIN);
    roundtrip(V5, CL, B(0xE0, 0x01, 0x04), &p);
    CHECK_EQ(p.disconnect.code, WD_MQTT_RC_DISCONNECT_WITH_WILL);
    CHECK_EQ(p.disconnect.form, WD_MQTT_FORM_CODE);
    roundtrip(V5, CL, B(0xE0, 0x02, 0x00, 0x00), &p);
    CHECK_EQ(p.disconnect.form, WD_MQTT_FORM_FULL);
    roundtrip(V5, CL, B(0xE0, 0x07, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x0A), &p);
    roundtrip(V5, SV, B(0xE0, 0x06, 0x9C, 0x04, 0x1C, 0x00, 0x01, 's'), &p);
    CHECK_EQ(wd_mqtt_reason_code(WD_MQTT_R_NONE), WD_MQTT_RC_UNSPECIFIED);
    bad(V5, CL, B(0xE0, 0x01, 0x05), WD_MQTT_R_REASON_CODE);
    /* [MQTT-3.14.2-2]: the server never sends Session Expiry Interval in DISCONNECT. */
    bad(V5, SV, B(0xE0, 0x07, 0x8B, 0x05, 0x11, 0x00, 0x00, 0x00, 0x0A),
        WD_MQTT_R_PROP_NOT_ALLOWED);
    bad(V5, CL, B(0xE0, 0x04, 0x00, 0x02, 0x12, 0x00), WD_MQTT_R_PROP_NOT_ALLOWED);

    roundtrip(V5, CL, B(0xF0, 0x00), &p);
    CHECK_EQ(p.type, WD_MQTT_AUTH);
    roundtrip(V5, SV,
              B(0xF0, 0x0E, 0x18, 0x0C, 0x15, 0x00, 0x04, 'S', 'C', 'R', 'M', 0x16, 0x00, 0x02,
                0x01, 0x02),
              &p);
    CHECK_EQ(p.disconnect.code, WD_MQTT_RC_CONTINUE_AUTH);
    roundtrip(V5, CL, B(0xF0, 0x09, 0x19, 0x07, 0x15, 0x00, 0x04, 'S', 'C', 'R', 'M'), &p);
    bad(V4, CL, B(0xF0, 0x00), WD_MQTT_R_TYPE);
    bad(V5, CL, B(0xF0, 0x01, 0x18), WD_MQTT_R_LENGTH);
    bad(V5, CL, B(0xF0, 0x02, 0x18, 0x00), WD_MQTT_R_PROP_AUTH);
    bad(V5, CL, B(0xF0, 0x02, 0x04, 0x00), WD_MQTT_R_REASON_CODE);
    bad(V5, CL, B(0xF0, 0x07, 0x18, 0x05, 0x16, 0x00, 0x02, 0x01, 0x02), WD_MQTT_R_PROP_AUTH);
}

/* ---- encoder ------------------------------------------------------------------------ */

/* Encode pkt and compare with want. */
static void encodes_to(const struct wd_mqtt_packet *pkt, const uint8_t *want, size_t len)
{
    struct wd_buf b;
    wd_buf_init(&b, 4096);
    int rc = wd_mqtt_encode(pkt, &b);
    if (rc == WD_OK && (b.len != len || memcmp(b.p, want, len) != 0)) {
        printf("    got:");
        for (size_t i = 0; i < b.len; i++) {
            printf(" %02x", b.p[i]);
        }
        printf("\n");
    }
    bool same = rc == WD_OK && b.len == len && memcmp(b.p, want, len) == 0;
    wd_buf_cleanup(&b);
    CHECK_OK(rc);
    CHECK(same);
}

TEST(builders)
{
    struct wd_mqtt_packet p;
    wd_mqtt_ack_init(&p, V5, WD_MQTT_PUBACK, 5, 0);
    encodes_to(&p, B(0x40, 0x02, 0x00, 0x05));
    wd_mqtt_ack_init(&p, V5, WD_MQTT_PUBACK, 5, WD_MQTT_RC_NOT_AUTHORIZED);
    encodes_to(&p, B(0x40, 0x03, 0x00, 0x05, 0x87));
    wd_mqtt_ack_init(&p, V5, WD_MQTT_PUBREC, 6, WD_MQTT_RC_NO_MATCHING_SUBSCRIBERS);
    encodes_to(&p, B(0x50, 0x03, 0x00, 0x06, 0x10));
    wd_mqtt_ack_init(&p, V5, WD_MQTT_PUBREL, 6, 0);
    encodes_to(&p, B(0x62, 0x02, 0x00, 0x06));
    wd_mqtt_ack_init(&p, V4, WD_MQTT_PUBREC, 7, WD_MQTT_RC_NOT_AUTHORIZED);
    encodes_to(&p, B(0x50, 0x02, 0x00, 0x07));
    wd_mqtt_ack_init(&p, V4, WD_MQTT_PUBCOMP, 7, 0);
    encodes_to(&p, B(0x70, 0x02, 0x00, 0x07));
    /* A code the packet may not carry is refused by the self-check. */
    wd_mqtt_ack_init(&p, V5, WD_MQTT_PUBREL, 6, WD_MQTT_RC_NOT_AUTHORIZED);
    struct wd_buf b;
    wd_buf_init(&b, 64);
    CHECK_ERR(wd_mqtt_encode(&p, &b), WD_EINVAL);
    CHECK_EQ(b.len, 0);
    wd_buf_cleanup(&b);
    wd_mqtt_ack_init(&p, V5, WD_MQTT_PUBACK, 0, 0);
    wd_buf_init(&b, 64);
    CHECK_ERR(wd_mqtt_encode(&p, &b), WD_EINVAL);
    wd_buf_cleanup(&b);

    wd_mqtt_disconnect_init(&p, V5, WD_MQTT_RC_NOT_AUTHORIZED);
    encodes_to(&p, B(0xE0, 0x01, 0x87));
    wd_mqtt_disconnect_init(&p, V5, 0);
    encodes_to(&p, B(0xE0, 0x00));
    wd_mqtt_disconnect_init(&p, V4, WD_MQTT_RC_MALFORMED);
    encodes_to(&p, B(0xE0, 0x00));

    wd_mqtt_connack_init(&p, V5, WD_MQTT_RC_NOT_AUTHORIZED, true);
    encodes_to(&p, B(0x20, 0x03, 0x00, 0x87, 0x00));
    wd_mqtt_connack_init(&p, V5, 0, true);
    encodes_to(&p, B(0x20, 0x03, 0x01, 0x00, 0x00));
    wd_mqtt_connack_init(&p, V4, WD_MQTT_RC_NOT_AUTHORIZED, true);
    encodes_to(&p, B(0x20, 0x02, 0x00, 0x05));
    wd_mqtt_connack_init(&p, V4, WD_MQTT_RC_UNSUPPORTED_VERSION, false);
    encodes_to(&p, B(0x20, 0x02, 0x00, 0x01));
    CHECK_EQ(wd_mqtt_connack311_code(WD_MQTT_RC_SUCCESS), 0x00);
    CHECK_EQ(wd_mqtt_connack311_code(WD_MQTT_RC_BAD_USER_OR_PASSWORD), 0x04);
    CHECK_EQ(wd_mqtt_connack311_code(WD_MQTT_RC_SERVER_BUSY), 0x03);
    CHECK_EQ(wd_mqtt_connack311_code(WD_MQTT_RC_MALFORMED), 0x03);
    CHECK_EQ(wd_mqtt_connack311_code(WD_MQTT_RC_BANNED), 0x05);
    CHECK_EQ(wd_mqtt_deny_code(V5), 0x87);
    CHECK_EQ(wd_mqtt_deny_code(V4), 0x80);
}

TEST(build_publish_and_subscribe)
{
    /* A v5 PUBLISH built from parts equals the hand-written vector of publish_v5. */
    struct wd_buf props, list;
    wd_buf_init(&props, 256);
    wd_buf_init(&list, 256);
    CHECK_OK(wd_mqtt_props_add_int(&props, WD_MQTT_P_PAYLOAD_FORMAT, 1));
    CHECK_OK(wd_mqtt_props_add_int(&props, WD_MQTT_P_MESSAGE_EXPIRY, 60));
    struct wd_mqtt_prop pr = {.id = WD_MQTT_P_CONTENT_TYPE, .s = S("js")};
    CHECK_OK(wd_mqtt_props_add(&props, &pr));
    pr = (struct wd_mqtt_prop){.id = WD_MQTT_P_RESPONSE_TOPIC, .s = S("r")};
    CHECK_OK(wd_mqtt_props_add(&props, &pr));
    pr = (struct wd_mqtt_prop){.id = WD_MQTT_P_CORRELATION_DATA, .s = {(const uint8_t *)"\1\2", 2}};
    CHECK_OK(wd_mqtt_props_add(&props, &pr));
    CHECK_OK(wd_mqtt_props_add_user(&props, S("k"), S("v")));
    struct wd_mqtt_packet p = {.type = WD_MQTT_PUBLISH, .version = V5};
    p.publish.qos = 1;
    p.publish.packet_id = 1;
    p.publish.topic = S("t");
    p.publish.props = wd_buf_slice(&props);
    p.publish.payload = S("x");
    encodes_to(&p, B(0x32, 0x23, 0x00, 0x01, 't', 0x00, 0x01, 0x1C, 0x01, 0x01, 0x02, 0x00, 0x00,
                     0x00, 0x3C, 0x03, 0x00, 0x02, 'j', 's', 0x08, 0x00, 0x01, 'r', 0x09, 0x00,
                     0x02, 0x01, 0x02, 0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', 'x'));
    /* A SUBSCRIBE built from parts. */
    CHECK_OK(wd_mqtt_subs_add(&list, WD_MQTT_SUBSCRIBE, S("a/+"), 1));
    CHECK_OK(wd_mqtt_subs_add(&list, WD_MQTT_SUBSCRIBE, S("b/#"), 2));
    CHECK_ERR(wd_mqtt_subs_add(&list, WD_MQTT_PUBLISH, S("x"), 0), WD_EINVAL);
    p = (struct wd_mqtt_packet){.type = WD_MQTT_SUBSCRIBE, .version = V4};
    p.subscribe.packet_id = 1;
    p.subscribe.list = wd_buf_slice(&list);
    encodes_to(&p, B(0x82, 0x0E, 0x00, 0x01, 0x00, 0x03, 'a', '/', '+', 0x01, 0x00, 0x03, 'b', '/',
                     '#', 0x02));
    wd_buf_reset(&list);
    CHECK_OK(wd_mqtt_subs_add(&list, WD_MQTT_UNSUBSCRIBE, S("a"), 7));
    p.type = WD_MQTT_UNSUBSCRIBE;
    p.subscribe.packet_id = 2;
    p.subscribe.list = wd_buf_slice(&list);
    encodes_to(&p, B(0xA2, 0x05, 0x00, 0x02, 0x00, 0x01, 'a'));
    /* CONNECT. */
    p = (struct wd_mqtt_packet){.type = WD_MQTT_CONNECT, .version = V4};
    p.connect.clean_start = true;
    p.connect.keep_alive = 60;
    encodes_to(&p,
               B(0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00));
    wd_buf_cleanup(&props);
    wd_buf_cleanup(&list);
}

TEST(encode_refuses)
{
    struct wd_mqtt_packet p = {.type = WD_MQTT_PUBLISH, .version = V5};
    uint8_t out[256];
    size_t n;
    size_t sz;
    p.publish.topic = S("a/+");
    CHECK_ERR(wd_mqtt_encode_to(&p, out, sizeof(out), &n), WD_EINVAL);
    p.publish.topic = S("a");
    p.publish.qos = 3;
    CHECK_ERR(wd_mqtt_encode_to(&p, out, sizeof(out), &n), WD_EINVAL);
    p.publish.qos = 0;
    p.publish.packet_id = 4;
    CHECK_ERR(wd_mqtt_encode_to(&p, out, sizeof(out), &n), WD_EINVAL);
    p.publish.packet_id = 0;
    p.publish.dup = true;
    CHECK_ERR(wd_mqtt_encode_to(&p, out, sizeof(out), &n), WD_EINVAL);
    p.publish.dup = false;
    p.version = 3;
    CHECK_ERR(wd_mqtt_encoded_size(&p, &sz), WD_EINVAL);
    p.version = V4;
    p.publish.props = S("\x01\x01");
    CHECK_ERR(wd_mqtt_encoded_size(&p, &sz), WD_EINVAL);
    p.version = V5;
    CHECK_OK(wd_mqtt_encode_to(&p, out, sizeof(out), &n));
    p.publish.props = S("\x01\x02");
    CHECK_ERR(wd_mqtt_encode_to(&p, out, sizeof(out), &n), WD_EINVAL);
    p.publish.props = (struct wd_slice){0};
    /* A string longer than a Two Byte Integer can say. */
    static uint8_t big[70000];
    memset(big, 'a', sizeof(big));
    p.publish.topic = (struct wd_slice){big, sizeof(big)};
    CHECK_ERR(wd_mqtt_encoded_size(&p, &sz), WD_EINVAL);
    p.publish.topic = S("a");
    p.publish.payload = (struct wd_slice){big, sizeof(big)};
    CHECK_OK(wd_mqtt_encoded_size(&p, &sz));
    CHECK_EQ(sz, 1 + 3 + 3 + 1 + sizeof(big));
    CHECK_ERR(wd_mqtt_encode_to(&p, out, sizeof(out), &n), WD_ELIMIT);
    struct wd_buf b;
    wd_buf_init(&b, 1000);
    CHECK_ERR(wd_mqtt_encode(&p, &b), WD_ELIMIT);
    CHECK_EQ(b.len, 0);
    wd_buf_cleanup(&b);
    /* Fields the flags say are absent. */
    p = (struct wd_mqtt_packet){.type = WD_MQTT_CONNECT, .version = V5};
    p.connect.clean_start = true;
    p.connect.username = S("u");
    CHECK_ERR(wd_mqtt_encoded_size(&p, &sz), WD_EINVAL);
    p.connect.username = (struct wd_slice){0};
    p.connect.will_topic = S("w");
    CHECK_ERR(wd_mqtt_encoded_size(&p, &sz), WD_EINVAL);
    p.connect.will = true;
    CHECK_OK(wd_mqtt_encode_to(&p, out, sizeof(out), &n));
    p.connect.will_qos = 3;
    CHECK_ERR(wd_mqtt_encode_to(&p, out, sizeof(out), &n), WD_EINVAL);
    /* Ack tails that cannot carry what was asked. */
    p = (struct wd_mqtt_packet){.type = WD_MQTT_PUBACK, .version = V5};
    p.ack.packet_id = 1;
    p.ack.code = 0x87;
    CHECK_ERR(wd_mqtt_encoded_size(&p, &sz), WD_EINVAL);
    p.ack.form = WD_MQTT_FORM_CODE;
    p.ack.props = (struct wd_slice){(const uint8_t *)"\x1f\x00\x00", 3};
    CHECK_ERR(wd_mqtt_encoded_size(&p, &sz), WD_EINVAL);
    p.ack.form = WD_MQTT_FORM_FULL;
    CHECK_OK(wd_mqtt_encode_to(&p, out, sizeof(out), &n));
    CHECK_EQ(n, 9);
    p.version = V4;
    CHECK_ERR(wd_mqtt_encoded_size(&p, &sz), WD_EINVAL);
    p = (struct wd_mqtt_packet){.type = WD_MQTT_AUTH, .version = V4};
    CHECK_ERR(wd_mqtt_encode_to(&p, out, sizeof(out), &n), WD_EINVAL);
    p.type = (enum wd_mqtt_type)0;
    CHECK_ERR(wd_mqtt_encoded_size(&p, &sz), WD_EINVAL);
    p.type = WD_MQTT_WILL;
    CHECK_ERR(wd_mqtt_encoded_size(&p, &sz), WD_EINVAL);
    /* A SUBSCRIBE with no entries. */
    p = (struct wd_mqtt_packet){.type = WD_MQTT_SUBSCRIBE, .version = V4};
    p.subscribe.packet_id = 1;
    CHECK_ERR(wd_mqtt_encode_to(&p, out, sizeof(out), &n), WD_EINVAL);
}

TEST(encode_alloc_sweep)
{
    struct wd_mqtt_packet p;
    wd_mqtt_ack_init(&p, V5, WD_MQTT_PUBACK, 9, 0x87);
    struct wd_buf b;
    wd_buf_init(&b, 64);
    CHECK_ALLOC_SWEEP(wd_mqtt_encode(&p, &b), wd_buf_cleanup(&b));
}

TEST(subscribe_subset)
{
    static const uint8_t in[] = {0x82, 0x1F, 0x00, 0x05, 0x09, 0x0B, 0x05, 0x26, 0x00, 0x01, 'k',
                                 0x00, 0x01, 'v',  0x00, 0x0C, '$',  's',  'h',  'a',  'r',  'e',
                                 '/',  'g',  '/',  'x',  '/',  '#',  0x19, 0x00, 0x01, 't',  0x2E};
    struct wd_mqtt_decoder d;
    struct wd_mqtt_packet p;
    wd_mqtt_decoder_init(&d, &cfg, CL, V5);
    CHECK_OK(wd_mqtt_decode(&d, in, sizeof(in), &p));
    struct wd_buf b;
    wd_buf_init(&b, 256);
    bool keep[2] = {false, true};
    CHECK_OK(wd_mqtt_encode_subscribe_subset(&p, keep, 2, &b));
    static const uint8_t want[] = {0x82, 0x10, 0x00, 0x05, 0x09, 0x0B, 0x05, 0x26, 0x00,
                                   0x01, 'k',  0x00, 0x01, 'v',  0x00, 0x01, 't',  0x2E};
    CHECK_EQ(b.len, sizeof(want));
    CHECK_MEM(b.p, want, sizeof(want));
    wd_buf_reset(&b);
    bool all[2] = {true, true};
    CHECK_OK(wd_mqtt_encode_subscribe_subset(&p, all, 2, &b));
    CHECK_EQ(b.len, sizeof(in));
    CHECK_MEM(b.p, in, sizeof(in));
    wd_buf_reset(&b);
    bool none[2] = {false, false};
    CHECK_ERR(wd_mqtt_encode_subscribe_subset(&p, none, 2, &b), WD_EINVAL);
    CHECK_ERR(wd_mqtt_encode_subscribe_subset(&p, all, 1, &b), WD_EINVAL);
    CHECK_ERR(wd_mqtt_encode_subscribe_subset(&p, all, 3, &b), WD_EINVAL);
    CHECK_EQ(b.len, 0);
    wd_buf_cleanup(&b);
    CHECK_ALLOC_SWEEP(wd_mqtt_encode_subscribe_subset(&p, keep, 2, &b), wd_buf_cleanup(&b));
    /* UNSUBSCRIBE, 3.1.1. */
    static const uint8_t un[] = {0xA2, 0x0B, 0x00, 0x03, 0x00, 0x01, 'a',
                                 0x00, 0x01, 'b',  0x00, 0x01, 'c'};
    wd_mqtt_decoder_init(&d, &cfg, CL, V4);
    CHECK_OK(wd_mqtt_decode(&d, un, sizeof(un), &p));
    bool k3[3] = {true, false, true};
    CHECK_OK(wd_mqtt_encode_subscribe_subset(&p, k3, 3, &b));
    static const uint8_t unw[] = {0xA2, 0x08, 0x00, 0x03, 0x00, 0x01, 'a', 0x00, 0x01, 'c'};
    CHECK_EQ(b.len, sizeof(unw));
    CHECK_MEM(b.p, unw, sizeof(unw));
    wd_buf_cleanup(&b);
}

TEST(suback_merge)
{
    struct wd_mqtt_decoder d;
    struct wd_mqtt_packet p;
    struct wd_buf b;
    wd_buf_init(&b, 256);
    /* The broker granted QoS 1 to the one forwarded filter; two were refused by policy. */
    static const uint8_t v5[] = {0x90, 0x04, 0x00, 0x07, 0x00, 0x01};
    wd_mqtt_decoder_init(&d, &cfg, SV, V5);
    CHECK_OK(wd_mqtt_decode(&d, v5, sizeof(v5), &p));
    bool allowed[3] = {false, true, false};
    CHECK_OK(wd_mqtt_encode_suback_merge(&p, allowed, 3, wd_mqtt_deny_code(V5), &b));
    static const uint8_t want5[] = {0x90, 0x06, 0x00, 0x07, 0x00, 0x87, 0x01, 0x87};
    CHECK_EQ(b.len, sizeof(want5));
    CHECK_MEM(b.p, want5, sizeof(want5));
    wd_buf_reset(&b);
    bool two[3] = {true, true, false};
    CHECK_ERR(wd_mqtt_encode_suback_merge(&p, two, 3, 0x87, &b), WD_EINVAL);
    CHECK_ERR(wd_mqtt_encode_suback_merge(&p, allowed, 0, 0x87, &b), WD_EINVAL);
    CHECK_ERR(wd_mqtt_encode_suback_merge(&p, allowed, 3, 0x05, &b), WD_EINVAL);
    CHECK_EQ(b.len, 0);
    wd_buf_cleanup(&b);
    CHECK_ALLOC_SWEEP(wd_mqtt_encode_suback_merge(&p, allowed, 3, 0x87, &b), wd_buf_cleanup(&b));
    /* 3.1.1: the refusal is 0x80; 0x87 does not exist there. */
    static const uint8_t v4[] = {0x90, 0x04, 0x00, 0x07, 0x02, 0x00};
    wd_mqtt_decoder_init(&d, &cfg, SV, V4);
    CHECK_OK(wd_mqtt_decode(&d, v4, sizeof(v4), &p));
    bool a4[3] = {true, false, true};
    CHECK_ERR(wd_mqtt_encode_suback_merge(&p, a4, 3, 0x87, &b), WD_EINVAL);
    CHECK_OK(wd_mqtt_encode_suback_merge(&p, a4, 3, wd_mqtt_deny_code(V4), &b));
    static const uint8_t want4[] = {0x90, 0x05, 0x00, 0x07, 0x02, 0x80, 0x00};
    CHECK_EQ(b.len, sizeof(want4));
    CHECK_MEM(b.p, want4, sizeof(want4));
    wd_buf_reset(&b);
    /* A v5 UNSUBACK merges too; a 3.1.1 UNSUBACK has no codes. */
    static const uint8_t un5[] = {0xB0, 0x04, 0x00, 0x08, 0x00, 0x00};
    wd_mqtt_decoder_init(&d, &cfg, SV, V5);
    CHECK_OK(wd_mqtt_decode(&d, un5, sizeof(un5), &p));
    bool a2[2] = {true, false};
    CHECK_OK(wd_mqtt_encode_suback_merge(&p, a2, 2, 0x87, &b));
    static const uint8_t wantu[] = {0xB0, 0x05, 0x00, 0x08, 0x00, 0x00, 0x87};
    CHECK_EQ(b.len, sizeof(wantu));
    CHECK_MEM(b.p, wantu, sizeof(wantu));
    wd_buf_cleanup(&b);
    static const uint8_t un4[] = {0xB0, 0x02, 0x00, 0x08};
    wd_mqtt_decoder_init(&d, &cfg, SV, V4);
    CHECK_OK(wd_mqtt_decode(&d, un4, sizeof(un4), &p));
    CHECK_ERR(wd_mqtt_encode_suback_merge(&p, a2, 2, 0x80, &b), WD_EINVAL);
}

TEST(names)
{
    CHECK_STR(wd_mqtt_type_name(WD_MQTT_CONNECT), "CONNECT");
    CHECK_STR(wd_mqtt_type_name(WD_MQTT_AUTH), "AUTH");
    CHECK_STR(wd_mqtt_type_name(0), "?");
    CHECK_STR(wd_mqtt_type_name(99), "?");
    CHECK_STR(wd_mqtt_reason_name(WD_MQTT_R_PROP_DUP), "prop_dup");
    CHECK_STR(wd_mqtt_reason_name(WD_MQTT_R_COUNT_), "?");
    /* Every reason has a name, a code, and the right class. */
    for (int r = 1; r < WD_MQTT_R_COUNT_; r++) {
        CHECK(strcmp(wd_mqtt_reason_name((enum wd_mqtt_reason)r), "?") != 0);
        CHECK(wd_mqtt_reason_code((enum wd_mqtt_reason)r) >= 0x80);
        int want = r >= WD_MQTT_R_PACKET_TOO_LARGE ? WD_ELIMIT : WD_EPROTO;
        CHECK_EQ(wd_mqtt_reason_err((enum wd_mqtt_reason)r), want);
    }
    CHECK_EQ(wd_mqtt_reason_err(WD_MQTT_R_NONE), WD_OK);
    CHECK_EQ(wd_mqtt_reason_code(WD_MQTT_R_UTF8), WD_MQTT_RC_MALFORMED);
    CHECK_EQ(wd_mqtt_reason_code(WD_MQTT_R_PROP_DUP), WD_MQTT_RC_PROTOCOL_ERROR);
    CHECK_EQ(wd_mqtt_reason_code(WD_MQTT_R_PACKET_TOO_LARGE), WD_MQTT_RC_PACKET_TOO_LARGE);
    CHECK_EQ(wd_mqtt_reason_code(WD_MQTT_R_TOPIC_FILTER), WD_MQTT_RC_TOPIC_FILTER_INVALID);
}

int main(void)
{
    wd_mqtt_config_default(&cfg);
    RUN(frame_basics);
    RUN(frame_errors);
    RUN(decode_stream);
    RUN(connect_v311_minimal);
    RUN(connect_v311_full);
    RUN(connect_v5_props);
    RUN(connect_v5_password_without_username);
    RUN(connect_errors);
    RUN(connect_state_and_direction);
    RUN(connack);
    RUN(publish_v311);
    RUN(publish_v5);
    RUN(publish_errors);
    RUN(publish_limits);
    RUN(acks);
    RUN(subscribe);
    RUN(subscribe_errors);
    RUN(subscribe_limits);
    RUN(suback);
    RUN(unsubscribe);
    RUN(ping_disconnect_auth);
    RUN(builders);
    RUN(build_publish_and_subscribe);
    RUN(encode_refuses);
    RUN(encode_alloc_sweep);
    RUN(subscribe_subset);
    RUN(suback_merge);
    RUN(names);
    return HARNESS_END("mqtt");
}
