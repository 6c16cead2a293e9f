/*
 * MQTT strings, topic names and topic filters: the UTF-8 rules (5.0 §1.5.4, 3.1.1 §1.5.3),
 * the wildcard rules (§4.7.1), shared subscriptions (5.0 §4.8.2) and topic matching (§4.7).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "warden/err.h"
#include "warden/mqtt.h"

#include "mqtt_int.h"

/*
 * Code points the spec says SHOULD NOT be sent (5.0 §1.5.4, 3.1.1 §1.5.3): the C0 and C1
 * control characters and the Unicode non-characters. A receiver may close the connection
 * when it sees them; warden does when strict_utf8 is on.
 */
static bool discouraged(uint32_t cp)
{
    if (cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F)) {
        return true;
    }
    if (cp >= 0xFDD0 && cp <= 0xFDEF) {
        return true;
    }
    return (cp & 0xFFFEu) == 0xFFFEu;
}

int wd_mqtt_utf8_check(const uint8_t *p, size_t len, bool strict)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        uint32_t cp;
        size_t n;
        /* Second-byte bounds per RFC 3629 §4 exclude overlong forms, surrogates and
         * code points above U+10FFFF in one step. */
        uint8_t lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            /* [MQTT-1.5.4-2] / [MQTT-1.5.3-2]: U+0000 is never allowed. */
            if (c == 0 || (strict && discouraged(c))) {
                return WD_EPROTO;
            }
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
            cp = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            cp = c & 0x0Fu;
            if (c == 0xE0) {
                lo = 0xA0;
            } else if (c == 0xED) {
                /* [MQTT-1.5.4-1]: no UTF-16 surrogates U+D800..U+DFFF. */
                hi = 0x9F;
            }
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            cp = c & 0x07u;
            if (c == 0xF0) {
                lo = 0x90;
            } else if (c == 0xF4) {
                hi = 0x8F;
            }
        } else {
            return WD_EPROTO;
        }
        if (len - i < n) {
            return WD_EPROTO;
        }
        for (size_t k = 1; k < n; k++) {
            uint8_t cc = p[i + k];
            if (k == 1 ? (cc < lo || cc > hi) : (cc < 0x80 || cc > 0xBF)) {
                return WD_EPROTO;
            }
            cp = (cp << 6) | (cc & 0x3Fu);
        }
        if (strict && discouraged(cp)) {
            return WD_EPROTO;
        }
        i += n;
    }
    return WD_OK;
}

int wd_mqtt_topic_check(struct wd_slice topic, bool strict, enum wd_mqtt_reason *why)
{
    if (wd_mqtt_utf8_check(topic.p, topic.len, strict) < 0) {
        return wd_mqtt_fail(why, WD_MQTT_R_UTF8);
    }
    /* [MQTT-4.7.3-1]: at least one character. */
    if (topic.len == 0) {
        return wd_mqtt_fail(why, WD_MQTT_R_TOPIC_NAME);
    }
    /* [MQTT-3.3.2-2]: no wildcard characters in a Topic Name. */
    for (size_t i = 0; i < topic.len; i++) {
        if (topic.p[i] == '+' || topic.p[i] == '#') {
            return wd_mqtt_fail(why, WD_MQTT_R_TOPIC_NAME);
        }
    }
    if (why != NULL) {
        *why = WD_MQTT_R_NONE;
    }
    return WD_OK;
}

/* §4.7.1: wildcard placement in a (non-shared) filter of at least one byte. */
static bool filter_ok(const uint8_t *p, size_t len, bool *wildcard)
{
    if (len == 0) {
        /* [MQTT-4.7.3-1] */
        return false;
    }
    size_t start = 0; /* first byte of the current level */
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        if (c == '/') {
            start = i + 1;
            continue;
        }
        if (c != '+' && c != '#') {
            continue;
        }
        *wildcard = true;
        /* [MQTT-4.7.1-2] '+' and [MQTT-4.7.1-1] '#' occupy an entire level ... */
        bool whole = i == start && (i + 1 == len || p[i + 1] == '/');
        if (!whole) {
            return false;
        }
        /* ... and '#' must be the last character of the filter. */
        if (c == '#' && i + 1 != len) {
            return false;
        }
    }
    return true;
}

int wd_mqtt_filter_parse(uint8_t version, struct wd_slice filter, bool strict,
                         struct wd_mqtt_filter *out, enum wd_mqtt_reason *why)
{
    static const char share[] = "$share/";
    const size_t share_len = sizeof(share) - 1;
    struct wd_mqtt_filter f = {.filter = filter};
    if (wd_mqtt_utf8_check(filter.p, filter.len, strict) < 0) {
        return wd_mqtt_fail(why, WD_MQTT_R_UTF8);
    }
    /* 5.0 §4.8.2: "$share/{ShareName}/{filter}". 3.1.1 has no shared subscriptions, so
     * there such a filter is an ordinary one whose first level starts with '$'. */
    if (version == WD_MQTT_V5 && filter.len >= share_len
        && memcmp(filter.p, share, share_len) == 0) {
        size_t i = share_len;
        while (i < filter.len && filter.p[i] != '/') {
            /* [MQTT-4.8.2-2]: the ShareName must not contain '/', '+' or '#'. */
            if (filter.p[i] == '+' || filter.p[i] == '#') {
                return wd_mqtt_fail(why, WD_MQTT_R_SHARE_NAME);
            }
            i++;
        }
        /* [MQTT-4.8.2-1]: at least one character, then '/' and a Topic Filter. */
        if (i == share_len || i == filter.len) {
            return wd_mqtt_fail(why, WD_MQTT_R_SHARE_NAME);
        }
        f.shared = true;
        f.share_name = (struct wd_slice){filter.p + share_len, i - share_len};
        f.filter = (struct wd_slice){filter.p + i + 1, filter.len - i - 1};
    }
    if (!filter_ok(f.filter.p, f.filter.len, &f.wildcard)) {
        return wd_mqtt_fail(why, WD_MQTT_R_TOPIC_FILTER);
    }
    if (out != NULL) {
        *out = f;
    }
    if (why != NULL) {
        *why = WD_MQTT_R_NONE;
    }
    return WD_OK;
}

/* End of the level that starts at p[i]: the index of the next '/' or len. */
static size_t level_end(const uint8_t *p, size_t len, size_t i)
{
    const uint8_t *slash = i < len ? memchr(p + i, '/', len - i) : NULL;
    return slash != NULL ? (size_t)(slash - p) : len;
}

bool wd_mqtt_topic_matches(struct wd_slice filter, struct wd_slice topic)
{
    const uint8_t *f = filter.p, *t = topic.p;
    if (filter.len == 0 || topic.len == 0) {
        return false;
    }
    /* [MQTT-4.7.2-1]: a filter starting with a wildcard does not match "$" topics. */
    if (t[0] == '$' && (f[0] == '+' || f[0] == '#')) {
        return false;
    }
    size_t fi = 0, ti = 0;
    bool topic_done = false; /* every level of the topic has been matched */
    for (;;) {
        size_t fe = level_end(f, filter.len, fi);
        size_t flen = fe - fi;
        /* §4.7.1.2: '#' matches the parent level and any number of child levels. */
        if (flen == 1 && f[fi] == '#') {
            return true;
        }
        if (topic_done) {
            return false;
        }
        size_t te = level_end(t, topic.len, ti);
        /* §4.7.1.3: '+' matches exactly one level, which may be empty. */
        bool plus = flen == 1 && f[fi] == '+';
        if (!plus && (flen != te - ti || memcmp(f + fi, t + ti, flen) != 0)) {
            return false;
        }
        bool f_last = fe == filter.len, t_last = te == topic.len;
        if (f_last) {
            return t_last;
        }
        fi = fe + 1;
        if (t_last) {
            topic_done = true;
        } else {
            ti = te + 1;
        }
    }
}
