/*
 * lib/mqtt private declarations shared by decode.c (framing and packet bodies), encode.c
 * (writers and builders), props.c (v5 properties), text.c (UTF-8, topics, filters) and
 * names.c (names and reason-code tables).
 */
#ifndef WD_MQTT_INT_H
#define WD_MQTT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/buf.h"
#include "warden/mqtt.h"

/* MQTT 5.0 §1.5.5: the largest value a Variable Byte Integer can carry. */
#define WD_MQTT_VARINT_MAX 268435455u

/* What a property-block scan learned, for the packet-level rules that depend on it. */
struct wd_mqtt_props_info {
    uint32_t count;
    uint16_t topic_alias; /* Topic Alias, 0 if none */
    uint32_t sub_id;      /* first Subscription Identifier, 0 if none */
    bool has_session_expiry;
};

/*
 * Store r in *why (when why is not NULL) and return the status code it maps to. Internal
 * functions always get a non-NULL why; only the public entry points accept NULL.
 */
int wd_mqtt_fail(enum wd_mqtt_reason *why, enum wd_mqtt_reason r);

/*
 * Read a Variable Byte Integer that must end inside r (§1.5.5; why not NULL): WD_EPROTO with
 * WD_MQTT_R_LENGTH when it runs off the end, WD_MQTT_R_VARINT when it has a fifth byte or
 * is not in its shortest form [MQTT-1.5.5-1].
 */
int wd_mqtt_rd_varint(struct wd_rd *r, uint32_t *out, enum wd_mqtt_reason *why);

/* Bytes a Variable Byte Integer of value v takes (1..4; v <= WD_MQTT_VARINT_MAX). */
size_t wd_mqtt_varint_len(uint32_t v);
/* Write v as a Variable Byte Integer to dst (wd_mqtt_varint_len(v) bytes); returns that. */
size_t wd_mqtt_varint_put(uint8_t *dst, uint32_t v);

/* wd_mqtt_props_check() that also reports what it found (info and why not NULL). */
int wd_mqtt_props_scan(const struct wd_mqtt_config *cfg, enum wd_mqtt_type where,
                       enum wd_mqtt_dir dir, struct wd_slice block, struct wd_mqtt_props_info *info,
                       enum wd_mqtt_reason *why);

/* The fixed-header flags a packet type other than PUBLISH carries (§2.1.3 Table 2-2). */
uint8_t wd_mqtt_type_flags(enum wd_mqtt_type type);

/* Is code a reason/return code the packet `type` of `version` may carry? */
bool wd_mqtt_code_allowed(enum wd_mqtt_type type, uint8_t version, uint8_t code);

#endif
