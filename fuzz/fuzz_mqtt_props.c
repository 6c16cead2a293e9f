/*
 * Fuzz the MQTT 5.0 property-block validator (§2.2.2) and the string, topic and filter
 * checks it relies on.
 *
 * The first byte picks the setting: low nibble + 1 the packet the block is checked for
 * (1..16, 16 = Will Properties), bits 4-5 the direction, bit 6 strict UTF-8, bit 7 a limit
 * of 4 properties. The rest is the block. Invariants (WD_BUG_ON):
 *   - a refusal carries a reason of the matching class;
 *   - an accepted block is walked completely by the iterator, every property has its
 *     identifier's type, and re-writing each property with wd_mqtt_props_add() gives the
 *     block back byte for byte; wd_mqtt_props_find() finds the first of each identifier;
 *   - an accepted block is accepted by every laxer setting (no limit, not strict);
 *   - the same bytes, split at the first 0x00, as Topic Filter and Topic Name: a filter
 *     accepted by the parser and a name accepted by the topic check never crash the
 *     matcher, and a filter without wildcards matches exactly the identical name.
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

#define MAX_INPUT 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rebuild(struct wd_slice block)
{
    struct wd_mqtt_props_iter it;
    struct wd_mqtt_prop p;
    struct wd_buf b;
    wd_buf_init(&b, MAX_INPUT);
    wd_mqtt_props_iter_init(&it, block);
    while (wd_mqtt_props_next(&it, &p)) {
        WD_BUG_ON(p.type == WD_MQTT_PT_NONE || p.type != wd_mqtt_prop_type_of(p.id));
        struct wd_mqtt_prop first;
        WD_BUG_ON(!wd_mqtt_props_find(block, p.id, &first) || first.id != p.id);
        WD_BUG_ON(wd_mqtt_props_add(&b, &p) != WD_OK);
    }
    WD_BUG_ON(wd_rd_left(&it.rd) != 0);
    WD_BUG_ON(b.len != block.len || (b.len > 0 && memcmp(b.p, block.p, b.len) != 0));
    wd_buf_cleanup(&b);
}

static void check_text(const uint8_t *p, size_t n)
{
    const uint8_t *zero = memchr(p, 0, n);
    size_t fl = zero != NULL ? (size_t)(zero - p) : n;
    struct wd_slice filter = {p, fl};
    struct wd_slice topic = zero != NULL ? (struct wd_slice){zero + 1, n - fl - 1} : filter;
    bool strict = n > 0 && (p[0] & 1u) != 0;
    struct wd_mqtt_filter f;
    enum wd_mqtt_reason why;
    int frc = wd_mqtt_filter_parse(WD_MQTT_V5, filter, strict, &f, &why);
    WD_BUG_ON(frc != wd_mqtt_reason_err(why));
    /* The versions differ only on shared subscriptions. */
    int f4 = wd_mqtt_filter_parse(WD_MQTT_V311, filter, strict, NULL, NULL);
    if (filter.len < 7 || memcmp(filter.p, "$share/", 7) != 0) {
        WD_BUG_ON(f4 != frc);
    }
    int trc = wd_mqtt_topic_check(topic, strict, &why);
    WD_BUG_ON(trc != wd_mqtt_reason_err(why));
    /* The UTF-8 check is the same with and without strictness on what strict accepts. */
    if (wd_mqtt_utf8_check(topic.p, topic.len, true) == WD_OK) {
        WD_BUG_ON(wd_mqtt_utf8_check(topic.p, topic.len, false) != WD_OK);
    }
    bool m = wd_mqtt_topic_matches(frc == WD_OK ? f.filter : filter, topic);
    if (frc == WD_OK && trc == WD_OK && !f.wildcard && !f.shared) {
        bool same = f.filter.len == topic.len && memcmp(f.filter.p, topic.p, topic.len) == 0;
        WD_BUG_ON(m != same);
    }
    /* "#" matches every topic that does not start with '$' [MQTT-4.7.2-1]. */
    if (trc == WD_OK) {
        WD_BUG_ON(wd_mqtt_topic_matches(wd_slice_from_str("#"), topic) != (topic.p[0] != '$'));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_INPUT) {
        return 0;
    }
    uint8_t sel = data[0];
    static const enum wd_mqtt_dir dirs[4] = {WD_MQTT_FROM_ANY, WD_MQTT_FROM_CLIENT,
                                             WD_MQTT_FROM_SERVER, WD_MQTT_FROM_ANY};
    enum wd_mqtt_type where = (enum wd_mqtt_type)((sel & 0x0Fu) + 1);
    enum wd_mqtt_dir dir = dirs[(sel >> 4) & 3u];
    struct wd_mqtt_config cfg;
    wd_mqtt_config_default(&cfg);
    cfg.strict_utf8 = (sel & 0x40u) != 0;
    if ((sel & 0x80u) != 0) {
        cfg.max_props = 4;
    }
    struct wd_slice block = {data + 1, size - 1};
    enum wd_mqtt_reason why = WD_MQTT_R_NONE;
    int rc = wd_mqtt_props_check(&cfg, where, dir, block, &why);
    WD_BUG_ON(rc != wd_mqtt_reason_err(why));
    if (rc == WD_OK) {
        check_rebuild(block);
        struct wd_mqtt_config lax;
        wd_mqtt_config_default(&lax);
        lax.max_props = UINT32_MAX;
        WD_BUG_ON(wd_mqtt_props_check(&lax, where, WD_MQTT_FROM_ANY, block, NULL) != WD_OK);
    } else {
        WD_BUG_ON(why == WD_MQTT_R_NONE);
    }
    check_text(data + 1, size - 1);
    return 0;
}
