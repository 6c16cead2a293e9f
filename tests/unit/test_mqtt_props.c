/*
 * Unit tests for lib/mqtt v5 properties: MQTT 5.0 §2.2.2.2 Table 2-4 transcribed here
 * independently of lib/mqtt/props.c and checked for every identifier against every packet,
 * repetition rules, value rules, encodings of each data type, the iterator and the writer.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/mqtt.h"

#include "harness.h"

#define B(...) \
    ((struct wd_slice){(const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})})

static struct wd_mqtt_config cfg;

/* Table 2-4 "Properties": identifier, type, and the packets it may appear in. */
static const struct {
    uint8_t id;
    enum wd_mqtt_prop_type type;
    const char *where;
} table[] = {
        {0x01, WD_MQTT_PT_BYTE, " PUBLISH WILL "},
        {0x02, WD_MQTT_PT_U32, " PUBLISH WILL "},
        {0x03, WD_MQTT_PT_STRING, " PUBLISH WILL "},
        {0x08, WD_MQTT_PT_STRING, " PUBLISH WILL "},
        {0x09, WD_MQTT_PT_BINARY, " PUBLISH WILL "},
        {0x0B, WD_MQTT_PT_VARINT, " PUBLISH SUBSCRIBE "},
        {0x11, WD_MQTT_PT_U32, " CONNECT CONNACK DISCONNECT "},
        {0x12, WD_MQTT_PT_STRING, " CONNACK "},
        {0x13, WD_MQTT_PT_U16, " CONNACK "},
        {0x15, WD_MQTT_PT_STRING, " CONNECT CONNACK AUTH "},
        {0x16, WD_MQTT_PT_BINARY, " CONNECT CONNACK AUTH "},
        {0x17, WD_MQTT_PT_BYTE, " CONNECT "},
        {0x18, WD_MQTT_PT_U32, " WILL "},
        {0x19, WD_MQTT_PT_BYTE, " CONNECT "},
        {0x1A, WD_MQTT_PT_STRING, " CONNACK "},
        {0x1C, WD_MQTT_PT_STRING, " CONNACK DISCONNECT "},
        {0x1F, WD_MQTT_PT_STRING,
         " CONNACK PUBACK PUBREC PUBREL PUBCOMP SUBACK UNSUBACK DISCONNECT AUTH "},
        {0x21, WD_MQTT_PT_U16, " CONNECT CONNACK "},
        {0x22, WD_MQTT_PT_U16, " CONNECT CONNACK "},
        {0x23, WD_MQTT_PT_U16, " PUBLISH "},
        {0x24, WD_MQTT_PT_BYTE, " CONNACK "},
        {0x25, WD_MQTT_PT_BYTE, " CONNACK "},
        {0x26, WD_MQTT_PT_PAIR,
         " CONNECT CONNACK PUBLISH WILL PUBACK PUBREC PUBREL PUBCOMP SUBSCRIBE SUBACK UNSUBSCRIBE "
         "UNSUBACK DISCONNECT AUTH "},
        {0x27, WD_MQTT_PT_U32, " CONNECT CONNACK "},
        {0x28, WD_MQTT_PT_BYTE, " CONNACK "},
        {0x29, WD_MQTT_PT_BYTE, " CONNACK "},
        {0x2A, WD_MQTT_PT_BYTE, " CONNACK "},
};

static bool listed(const char *where, enum wd_mqtt_type t)
{
    char key[32];
    (void)snprintf(key, sizeof(key), " %s ", wd_mqtt_type_name(t));
    return strstr(where, key) != NULL;
}

/* A valid encoding of property id with value 1 (or "a", or "a"="b"). */
static size_t one(uint8_t id, enum wd_mqtt_prop_type type, uint8_t *out)
{
    size_t n = 0;
    out[n++] = id;
    switch (type) {
    case WD_MQTT_PT_BYTE:
    case WD_MQTT_PT_VARINT:
        out[n++] = 1;
        break;
    case WD_MQTT_PT_U16:
        out[n++] = 0;
        out[n++] = 1;
        break;
    case WD_MQTT_PT_U32:
        memcpy(out + n, "\0\0\0\1", 4);
        n += 4;
        break;
    case WD_MQTT_PT_STRING:
    case WD_MQTT_PT_BINARY:
        memcpy(out + n, "\0\1a", 3);
        n += 3;
        break;
    case WD_MQTT_PT_PAIR:
        memcpy(out + n, "\0\1a\0\1b", 6);
        n += 6;
        break;
    case WD_MQTT_PT_NONE:
        break;
    }
    return n;
}

static int check(enum wd_mqtt_type where, enum wd_mqtt_dir dir, struct wd_slice block,
                 enum wd_mqtt_reason *why)
{
    /* An exact-size copy so that ASan sees reads past the block. */
    uint8_t *cp = wd_malloc(block.len);
    if (cp == NULL) {
        return WD_ENOMEM;
    }
    if (block.len > 0) {
        memcpy(cp, block.p, block.len);
    }
    int rc = wd_mqtt_props_check(&cfg, where, dir, (struct wd_slice){cp, block.len}, why);
    wd_free(cp);
    return rc;
}

TEST(table_2_4)
{
    uint8_t blk[64];
    enum wd_mqtt_reason why;
    for (uint32_t id = 0; id < 256; id++) {
        bool known = false;
        for (size_t i = 0; i < WD_ARRAY_LEN(table); i++) {
            known = known || table[i].id == id;
        }
        if (!known) {
            CHECK_EQ(wd_mqtt_prop_type_of(id), WD_MQTT_PT_NONE);
            if (id < 0x80) {
                uint8_t b[2] = {(uint8_t)id, 0};
                CHECK_ERR(check(WD_MQTT_PUBLISH, WD_MQTT_FROM_ANY, (struct wd_slice){b, 2}, &why),
                          WD_EPROTO);
                CHECK_EQ(why, WD_MQTT_R_PROP_ID);
            }
        }
    }
    for (size_t i = 0; i < WD_ARRAY_LEN(table); i++) {
        CHECK_EQ(wd_mqtt_prop_type_of(table[i].id), table[i].type);
        for (unsigned t = WD_MQTT_CONNECT; t <= WD_MQTT_WILL; t++) {
            size_t n = one(table[i].id, table[i].type, blk);
            /* AUTH needs an Authentication Method; Authentication Data needs one anywhere. */
            if ((t == WD_MQTT_AUTH && table[i].id != 0x15) || table[i].id == 0x16) {
                n += one(0x15, WD_MQTT_PT_STRING, blk + n);
            }
            int rc = check((enum wd_mqtt_type)t, WD_MQTT_FROM_ANY, (struct wd_slice){blk, n}, &why);
            bool ok = listed(table[i].where, (enum wd_mqtt_type)t);
            if ((rc == WD_OK) != ok) {
                printf("    id 0x%02x in %s: %s\n", table[i].id, wd_mqtt_type_name(t),
                       wd_mqtt_reason_name(why));
            }
            CHECK_EQ(rc == WD_OK, ok);
            if (!ok) {
                CHECK_EQ(why, WD_MQTT_R_PROP_NOT_ALLOWED);
                continue;
            }
            /* Twice: only User Property, and Subscription Identifier in PUBLISH. */
            size_t m = one(table[i].id, table[i].type, blk);
            m += one(table[i].id, table[i].type, blk + m);
            if (t == WD_MQTT_AUTH || table[i].id == 0x16) {
                m += one(0x15, WD_MQTT_PT_STRING, blk + m);
            }
            rc = check((enum wd_mqtt_type)t, WD_MQTT_FROM_ANY, (struct wd_slice){blk, m}, &why);
            bool multi = table[i].id == 0x26 || (table[i].id == 0x0B && t == WD_MQTT_PUBLISH);
            if (table[i].id == 0x15 && t == WD_MQTT_AUTH) {
                multi = false;
            }
            CHECK_EQ(rc == WD_OK, multi);
            if (!multi) {
                CHECK_EQ(why, WD_MQTT_R_PROP_DUP);
            }
        }
    }
    /* Not a packet. */
    CHECK_ERR(wd_mqtt_props_check(&cfg, (enum wd_mqtt_type)0, WD_MQTT_FROM_ANY, B(0x26), &why),
              WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_PROP_NOT_ALLOWED);
    CHECK_ERR(wd_mqtt_props_check(&cfg, (enum wd_mqtt_type)17, WD_MQTT_FROM_ANY, B(0x26), NULL),
              WD_EPROTO);
    CHECK_OK(wd_mqtt_props_check(&cfg, WD_MQTT_PINGREQ, WD_MQTT_FROM_ANY, (struct wd_slice){0},
                                 &why));
}

TEST(value_rules)
{
    enum wd_mqtt_reason why;
    /* Byte properties that are 0 or 1. */
    static const uint8_t bools[] = {0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A};
    for (size_t i = 0; i < sizeof(bools); i++) {
        enum wd_mqtt_type t = bools[i] == 0x01   ? WD_MQTT_PUBLISH
                              : bools[i] <= 0x19 ? WD_MQTT_CONNECT
                                                 : WD_MQTT_CONNACK;
        uint8_t b[2] = {bools[i], 0};
        CHECK_OK(check(t, WD_MQTT_FROM_ANY, (struct wd_slice){b, 2}, &why));
        b[1] = 1;
        CHECK_OK(check(t, WD_MQTT_FROM_ANY, (struct wd_slice){b, 2}, &why));
        b[1] = 2;
        CHECK_ERR(check(t, WD_MQTT_FROM_ANY, (struct wd_slice){b, 2}, &why), WD_EPROTO);
        CHECK_EQ(why, WD_MQTT_R_PROP_VALUE);
    }
    /* Values that may not be 0. */
    CHECK_ERR(check(WD_MQTT_CONNECT, WD_MQTT_FROM_ANY, B(0x21, 0x00, 0x00), &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_PROP_VALUE);
    CHECK_ERR(check(WD_MQTT_CONNACK, WD_MQTT_FROM_ANY, B(0x27, 0x00, 0x00, 0x00, 0x00), &why),
              WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_PROP_VALUE);
    CHECK_ERR(check(WD_MQTT_SUBSCRIBE, WD_MQTT_FROM_ANY, B(0x0B, 0x00), &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_PROP_VALUE);
    CHECK_ERR(check(WD_MQTT_PUBLISH, WD_MQTT_FROM_ANY, B(0x23, 0x00, 0x00), &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_TOPIC_ALIAS);
    CHECK_OK(check(WD_MQTT_CONNECT, WD_MQTT_FROM_ANY, B(0x22, 0x00, 0x00), &why));
    CHECK_OK(check(WD_MQTT_CONNECT, WD_MQTT_FROM_ANY, B(0x11, 0x00, 0x00, 0x00, 0x00), &why));
    CHECK_OK(check(WD_MQTT_CONNECT, WD_MQTT_FROM_ANY, B(0x11, 0xFF, 0xFF, 0xFF, 0xFF), &why));
    /* Subscription Identifier: a Variable Byte Integer up to 268,435,455. */
    CHECK_OK(check(WD_MQTT_SUBSCRIBE, WD_MQTT_FROM_ANY, B(0x0B, 0xFF, 0xFF, 0xFF, 0x7F), &why));
    CHECK_OK(check(WD_MQTT_SUBSCRIBE, WD_MQTT_FROM_ANY, B(0x0B, 0x80, 0x01), &why));
    CHECK_ERR(
            check(WD_MQTT_SUBSCRIBE, WD_MQTT_FROM_ANY, B(0x0B, 0xFF, 0xFF, 0xFF, 0xFF, 0x01), &why),
            WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_VARINT);
    CHECK_ERR(check(WD_MQTT_SUBSCRIBE, WD_MQTT_FROM_ANY, B(0x0B, 0x81, 0x00), &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_VARINT);
    CHECK_ERR(check(WD_MQTT_SUBSCRIBE, WD_MQTT_FROM_ANY, B(0x0B, 0x80), &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_PROP_LENGTH);
    /* Response Topic is a Topic Name. */
    CHECK_ERR(check(WD_MQTT_WILL, WD_MQTT_FROM_ANY, B(0x08, 0x00, 0x03, 'a', '/', '#'), &why),
              WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_TOPIC_NAME);
    CHECK_ERR(check(WD_MQTT_WILL, WD_MQTT_FROM_ANY, B(0x08, 0x00, 0x00), &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_TOPIC_NAME);
    CHECK_OK(check(WD_MQTT_WILL, WD_MQTT_FROM_ANY, B(0x08, 0x00, 0x03, 'a', '/', 'b'), &why));
    /* Authentication Data needs a Method; AUTH needs a Method. */
    CHECK_ERR(check(WD_MQTT_CONNACK, WD_MQTT_FROM_ANY, B(0x16, 0x00, 0x00), &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_PROP_AUTH);
    CHECK_OK(check(WD_MQTT_CONNACK, WD_MQTT_FROM_ANY, B(0x16, 0x00, 0x00, 0x15, 0x00, 0x01, 'm'),
                   &why));
    CHECK_ERR(check(WD_MQTT_AUTH, WD_MQTT_FROM_ANY, B(0x1F, 0x00, 0x00), &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_PROP_AUTH);
    CHECK_ERR(check(WD_MQTT_AUTH, WD_MQTT_FROM_ANY, (struct wd_slice){0}, &why), WD_EPROTO);
    /* Direction rules. */
    CHECK_OK(check(WD_MQTT_PUBLISH, WD_MQTT_FROM_SERVER, B(0x0B, 0x01), &why));
    CHECK_ERR(check(WD_MQTT_PUBLISH, WD_MQTT_FROM_CLIENT, B(0x0B, 0x01), &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_SUB_ID_FROM_CLIENT);
    CHECK_OK(check(WD_MQTT_DISCONNECT, WD_MQTT_FROM_CLIENT, B(0x11, 0, 0, 0, 1), &why));
    CHECK_ERR(check(WD_MQTT_DISCONNECT, WD_MQTT_FROM_SERVER, B(0x11, 0, 0, 0, 1), &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_PROP_NOT_ALLOWED);
}

TEST(encodings)
{
    enum wd_mqtt_reason why;
    /* Identifiers are Variable Byte Integers: longer forms and 128+ are refused. */
    CHECK_ERR(check(WD_MQTT_PUBLISH, WD_MQTT_FROM_ANY, B(0x81, 0x00, 0x01), &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_VARINT);
    CHECK_ERR(check(WD_MQTT_PUBLISH, WD_MQTT_FROM_ANY, B(0x80, 0x01, 0x00), &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_PROP_ID);
    CHECK_ERR(check(WD_MQTT_PUBLISH, WD_MQTT_FROM_ANY, B(0x80), &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_PROP_LENGTH);
    /* Values cut short, for every data type. */
    const struct {
        enum wd_mqtt_type t;
        struct wd_slice b;
    } cut[] = {
            {WD_MQTT_PUBLISH, B(0x01)},
            {WD_MQTT_PUBLISH, B(0x23, 0x00)},
            {WD_MQTT_PUBLISH, B(0x02, 0x00, 0x00, 0x00)},
            {WD_MQTT_PUBLISH, B(0x03, 0x00)},
            {WD_MQTT_PUBLISH, B(0x03, 0x00, 0x02, 'a')},
            {WD_MQTT_PUBLISH, B(0x09, 0x00, 0x01)},
            {WD_MQTT_PUBLISH, B(0x26, 0x00, 0x01, 'a')},
            {WD_MQTT_PUBLISH, B(0x26, 0x00, 0x01, 'a', 0x00)},
            {WD_MQTT_PUBLISH, B(0x26, 0x00, 0x01, 'a', 0x00, 0x02, 'b')},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(cut); i++) {
        CHECK_ERR(check(cut[i].t, WD_MQTT_FROM_ANY, cut[i].b, &why), WD_EPROTO);
        CHECK_EQ(why, WD_MQTT_R_PROP_LENGTH);
    }
    /* Strings are UTF-8 (both halves of a pair); binary data is anything. */
    CHECK_ERR(check(WD_MQTT_PUBLISH, WD_MQTT_FROM_ANY, B(0x03, 0x00, 0x01, 0xFF), &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_UTF8);
    CHECK_ERR(check(WD_MQTT_PUBLISH, WD_MQTT_FROM_ANY,
                    B(0x26, 0x00, 0x01, 'a', 0x00, 0x02, 0xED, 0xA0), &why),
              WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_UTF8);
    CHECK_ERR(check(WD_MQTT_PUBLISH, WD_MQTT_FROM_ANY, B(0x26, 0x00, 0x01, 0x00, 0x00, 0x00), &why),
              WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_UTF8);
    CHECK_OK(check(WD_MQTT_PUBLISH, WD_MQTT_FROM_ANY, B(0x09, 0x00, 0x02, 0xFF, 0x00), &why));
    CHECK_OK(check(WD_MQTT_PUBLISH, WD_MQTT_FROM_ANY, B(0x26, 0x00, 0x00, 0x00, 0x00), &why));
    /* strict_utf8 refuses control characters in strings, never in binary data. */
    CHECK_OK(check(WD_MQTT_PUBLISH, WD_MQTT_FROM_ANY, B(0x03, 0x00, 0x01, 0x01), &why));
    cfg.strict_utf8 = true;
    CHECK_ERR(check(WD_MQTT_PUBLISH, WD_MQTT_FROM_ANY, B(0x03, 0x00, 0x01, 0x01), &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_UTF8);
    CHECK_OK(check(WD_MQTT_PUBLISH, WD_MQTT_FROM_ANY, B(0x09, 0x00, 0x01, 0x01), &why));
    cfg.strict_utf8 = false;
    /* The count limit. */
    cfg.max_props = 3;
    CHECK_OK(check(WD_MQTT_PUBLISH, WD_MQTT_FROM_ANY,
                   B(0x26, 0, 0, 0, 0, 0x26, 0, 0, 0, 0, 0x26, 0, 0, 0, 0), &why));
    CHECK_ERR(check(WD_MQTT_PUBLISH, WD_MQTT_FROM_ANY,
                    B(0x26, 0, 0, 0, 0, 0x26, 0, 0, 0, 0, 0x26, 0, 0, 0, 0, 0x26, 0, 0, 0, 0),
                    &why),
              WD_ELIMIT);
    CHECK_EQ(why, WD_MQTT_R_LIMIT_PROPS);
    wd_mqtt_config_default(&cfg);
}

TEST(iterator)
{
    struct wd_slice blk = B(0x01, 0x01, 0x23, 0x12, 0x34, 0x02, 0xDE, 0xAD, 0xBE, 0xEF, 0x0B, 0x80,
                            0x01, 0x03, 0x00, 0x02, 'j', 's', 0x09, 0x00, 0x01, 0x00, 0x26, 0x00,
                            0x01, 'k', 0x00, 0x02, 'v', 'w', 0x26, 0x00, 0x00, 0x00, 0x00);
    enum wd_mqtt_reason why;
    CHECK_OK(check(WD_MQTT_PUBLISH, WD_MQTT_FROM_SERVER, blk, &why));
    struct wd_mqtt_props_iter it;
    struct wd_mqtt_prop p;
    wd_mqtt_props_iter_init(&it, blk);
    CHECK(wd_mqtt_props_next(&it, &p));
    CHECK_EQ(p.id, 0x01);
    CHECK_EQ(p.type, WD_MQTT_PT_BYTE);
    CHECK_EQ(p.num, 1);
    CHECK(wd_mqtt_props_next(&it, &p));
    CHECK_EQ(p.type, WD_MQTT_PT_U16);
    CHECK_EQ(p.num, 0x1234);
    CHECK(wd_mqtt_props_next(&it, &p));
    CHECK_EQ(p.type, WD_MQTT_PT_U32);
    CHECK_EQ(p.num, 0xDEADBEEF);
    CHECK(wd_mqtt_props_next(&it, &p));
    CHECK_EQ(p.type, WD_MQTT_PT_VARINT);
    CHECK_EQ(p.num, 128);
    CHECK(wd_mqtt_props_next(&it, &p));
    CHECK_EQ(p.type, WD_MQTT_PT_STRING);
    CHECK(wd_slice_eq_str(p.s, "js"));
    CHECK(wd_mqtt_props_next(&it, &p));
    CHECK_EQ(p.type, WD_MQTT_PT_BINARY);
    CHECK_EQ(p.s.len, 1);
    CHECK_EQ(p.s.p[0], 0);
    CHECK(wd_mqtt_props_next(&it, &p));
    CHECK_EQ(p.type, WD_MQTT_PT_PAIR);
    CHECK(wd_slice_eq_str(p.s, "k"));
    CHECK(wd_slice_eq_str(p.v, "vw"));
    CHECK(wd_mqtt_props_next(&it, &p));
    CHECK_EQ(p.s.len, 0);
    CHECK_EQ(p.v.len, 0);
    CHECK(!wd_mqtt_props_next(&it, &p));
    CHECK(!wd_mqtt_props_next(&it, &p));
    CHECK(wd_mqtt_props_find(blk, 0x26, &p));
    CHECK(wd_slice_eq_str(p.s, "k"));
    CHECK(!wd_mqtt_props_find(blk, 0x08, &p));
    /* A malformed block stops the walk instead of reading past it. */
    wd_mqtt_props_iter_init(&it, B(0x01, 0x01, 0x03, 0x00, 0x09, 'a'));
    CHECK(wd_mqtt_props_next(&it, &p));
    CHECK(!wd_mqtt_props_next(&it, &p));
    CHECK(!wd_mqtt_props_next(&it, &p));
    wd_mqtt_props_iter_init(&it, B(0x05, 0x01));
    CHECK(!wd_mqtt_props_next(&it, &p));
}

TEST(writer)
{
    struct wd_buf b;
    wd_buf_init(&b, 256);
    /* Every data type, read back through the iterator. */
    CHECK_OK(wd_mqtt_props_add_int(&b, WD_MQTT_P_PAYLOAD_FORMAT, 1));
    CHECK_OK(wd_mqtt_props_add_int(&b, WD_MQTT_P_TOPIC_ALIAS, 0x1234));
    CHECK_OK(wd_mqtt_props_add_int(&b, WD_MQTT_P_MESSAGE_EXPIRY, 0xDEADBEEF));
    CHECK_OK(wd_mqtt_props_add_int(&b, WD_MQTT_P_SUBSCRIPTION_ID, 128));
    struct wd_mqtt_prop p = {.id = WD_MQTT_P_CONTENT_TYPE, .s = wd_slice_from_str("js")};
    CHECK_OK(wd_mqtt_props_add(&b, &p));
    p = (struct wd_mqtt_prop){.id = WD_MQTT_P_CORRELATION_DATA, .s = {(const uint8_t *)"", 1}};
    CHECK_OK(wd_mqtt_props_add(&b, &p));
    CHECK_OK(wd_mqtt_props_add_user(&b, wd_slice_from_str("k"), wd_slice_from_str("vw")));
    CHECK_OK(wd_mqtt_props_add_user(&b, (struct wd_slice){0}, (struct wd_slice){0}));
    struct wd_slice want = B(0x01, 0x01, 0x23, 0x12, 0x34, 0x02, 0xDE, 0xAD, 0xBE, 0xEF, 0x0B, 0x80,
                             0x01, 0x03, 0x00, 0x02, 'j', 's', 0x09, 0x00, 0x01, 0x00, 0x26, 0x00,
                             0x01, 'k', 0x00, 0x02, 'v', 'w', 0x26, 0x00, 0x00, 0x00, 0x00);
    CHECK_EQ(b.len, want.len);
    CHECK_MEM(b.p, want.p, want.len);
    size_t len = b.len;
    /* Refusals leave the block as it was. */
    CHECK_ERR(wd_mqtt_props_add_int(&b, WD_MQTT_P_PAYLOAD_FORMAT, 256), WD_EINVAL);
    CHECK_ERR(wd_mqtt_props_add_int(&b, WD_MQTT_P_TOPIC_ALIAS, 65536), WD_EINVAL);
    CHECK_ERR(wd_mqtt_props_add_int(&b, WD_MQTT_P_SUBSCRIPTION_ID, 268435456), WD_EINVAL);
    CHECK_ERR(wd_mqtt_props_add_int(&b, WD_MQTT_P_CONTENT_TYPE, 1), WD_EINVAL);
    CHECK_ERR(wd_mqtt_props_add_int(&b, 0x04, 1), WD_EINVAL);
    p = (struct wd_mqtt_prop){.id = 0x00};
    CHECK_ERR(wd_mqtt_props_add(&b, &p), WD_EINVAL);
    static uint8_t big[65536];
    p = (struct wd_mqtt_prop){.id = WD_MQTT_P_REASON_STRING, .s = {big, sizeof(big)}};
    CHECK_ERR(wd_mqtt_props_add(&b, &p), WD_EINVAL);
    p = (struct wd_mqtt_prop){.id = WD_MQTT_P_USER_PROPERTY, .v = {big, sizeof(big)}};
    CHECK_ERR(wd_mqtt_props_add(&b, &p), WD_EINVAL);
    p = (struct wd_mqtt_prop){.id = WD_MQTT_P_REASON_STRING, .s = {big, 300}};
    CHECK_ERR(wd_mqtt_props_add(&b, &p), WD_ELIMIT);
    CHECK_EQ(b.len, len);
    wd_buf_cleanup(&b);
    /* Out of memory: clean failure, nothing leaked. */
    CHECK_ALLOC_SWEEP(wd_mqtt_props_add_user(&b, wd_slice_from_str("k"), wd_slice_from_str("v")),
                      wd_buf_cleanup(&b));
}

int main(void)
{
    wd_mqtt_config_default(&cfg);
    RUN(table_2_4);
    RUN(value_rules);
    RUN(encodings);
    RUN(iterator);
    RUN(writer);
    return HARNESS_END("mqtt_props");
}
