/*
 * Unit tests for lib/mqtt strings, topic names, topic filters and matching: the UTF-8 rules
 * (MQTT 5.0 §1.5.4, 3.1.1 §1.5.3), §4.7 wildcards (with every example the spec gives), the
 * "$" rule of §4.7.2 and v5 shared subscriptions (§4.8.2).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/mqtt.h"

#include "harness.h"

static int utf8(const char *s, size_t n, bool strict)
{
    /* Exact-size copy: ASan catches a read past the string. */
    uint8_t *cp = wd_malloc(n);
    if (cp == NULL) {
        return WD_ENOMEM;
    }
    memcpy(cp, s, n);
    int rc = wd_mqtt_utf8_check(cp, n, strict);
    wd_free(cp);
    return rc;
}

#define U(lit) (lit), (sizeof(lit) - 1)

TEST(utf8_wellformed)
{
    static const struct {
        const char *s;
        size_t n;
        bool ok;
    } cases[] = {
            {U(""), true},
            {U("plain ascii / + #"), true},
            {U("\xC2\xA9"), true},          /* U+00A9 */
            {U("\xDF\xBF"), true},          /* U+07FF */
            {U("\xE0\xA0\x80"), true},      /* U+0800 */
            {U("\xEF\xBB\xBF"), true},      /* U+FEFF, not to be stripped */
            {U("\xED\x9F\xBF"), true},      /* U+D7FF */
            {U("\xEE\x80\x80"), true},      /* U+E000 */
            {U("\xF0\x90\x80\x80"), true},  /* U+10000 */
            {U("\xF4\x8F\xBF\xBF"), true},  /* U+10FFFF */
            {U("A\xF0\xAA\x9B\x94"), true}, /* the §1.5.4.1 example, U+2A6D4 */
            {U("\x00"), false},             /* [MQTT-1.5.4-2] U+0000 */
            {U("a\x00"), false},
            {U("\xC0\x80"), false},         /* overlong U+0000 */
            {U("\xC1\xBF"), false},         /* overlong */
            {U("\xE0\x80\x80"), false},     /* overlong */
            {U("\xE0\x9F\xBF"), false},     /* overlong */
            {U("\xF0\x8F\xBF\xBF"), false}, /* overlong */
            {U("\xED\xA0\x80"), false},     /* [MQTT-1.5.4-1] U+D800 */
            {U("\xED\xBF\xBF"), false},     /* U+DFFF */
            {U("\xF4\x90\x80\x80"), false}, /* U+110000 */
            {U("\xF5\x80\x80\x80"), false},
            {U("\xF8\x88\x80\x80\x80"), false}, /* five-byte form */
            {U("\xFF"), false},
            {U("\x80"), false},         /* lone continuation */
            {U("\xC2"), false},         /* truncated */
            {U("\xE2\x82"), false},     /* truncated */
            {U("\xF0\x9F\x98"), false}, /* truncated */
            {U("\xC2\x41"), false},     /* bad continuation */
            {U("\xE2\x82\x41"), false},
            {U("\xF0\x9F\x98\x41"), false},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        int want = cases[i].ok ? WD_OK : WD_EPROTO;
        if (utf8(cases[i].s, cases[i].n, false) != want) {
            printf("    case %zu\n", i);
        }
        CHECK_EQ(utf8(cases[i].s, cases[i].n, false), want);
        if (!cases[i].ok) {
            CHECK_EQ(utf8(cases[i].s, cases[i].n, true), WD_EPROTO);
        }
    }
}

TEST(utf8_strict)
{
    /* §1.5.4: control characters and non-characters are well-formed (accepted by default)
     * but "SHOULD NOT" be sent; strict_utf8 refuses them. */
    static const struct {
        const char *s;
        size_t n;
    } discouraged[] = {
            {U("\x01")},
            {U("\x1F")},
            {U("\t")},
            {U("\x7F")},
            {U("\xC2\x80")},
            {U("\xC2\x9F")},
            {U("\xEF\xB7\x90")},
            {U("\xEF\xB7\xAF")},
            {U("\xEF\xBF\xBE")},
            {U("\xEF\xBF\xBF")},
            {U("\xF0\x9F\xBF\xBE")},
            {U("\xF4\x8F\xBF\xBF")},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(discouraged); i++) {
        CHECK_OK(utf8(discouraged[i].s, discouraged[i].n, false));
        CHECK_ERR(utf8(discouraged[i].s, discouraged[i].n, true), WD_EPROTO);
    }
    static const struct {
        const char *s;
        size_t n;
    } fine[] = {{U(" ")},
                {U("~")},
                {U("\xC2\xA0")},
                {U("\xEF\xB7\x8F")},
                {U("\xEF\xB7\xB0")},
                {U("\xEF\xBF\xBD")},
                {U("\xF0\x9F\x98\x80")}};
    for (size_t i = 0; i < WD_ARRAY_LEN(fine); i++) {
        CHECK_OK(utf8(fine[i].s, fine[i].n, true));
    }
}

TEST(topic_names)
{
    enum wd_mqtt_reason why;
    CHECK_OK(wd_mqtt_topic_check(wd_slice_from_str("a/b/c"), false, &why));
    CHECK_EQ(why, WD_MQTT_R_NONE);
    CHECK_OK(wd_mqtt_topic_check(wd_slice_from_str("/"), false, &why));
    CHECK_OK(wd_mqtt_topic_check(wd_slice_from_str("$SYS/x"), false, &why));
    CHECK_OK(wd_mqtt_topic_check(wd_slice_from_str("Accounts payable"), false, &why));
    CHECK_ERR(wd_mqtt_topic_check(wd_slice_from_str(""), false, &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_TOPIC_NAME);
    CHECK_ERR(wd_mqtt_topic_check(wd_slice_from_str("a/+"), false, &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_TOPIC_NAME);
    CHECK_ERR(wd_mqtt_topic_check(wd_slice_from_str("#"), false, &why), WD_EPROTO);
    CHECK_ERR(wd_mqtt_topic_check(wd_slice_from_str("a\xFF"), false, &why), WD_EPROTO);
    CHECK_EQ(why, WD_MQTT_R_UTF8);
    CHECK_OK(wd_mqtt_topic_check(wd_slice_from_str("a\x01"), false, NULL));
    CHECK_ERR(wd_mqtt_topic_check(wd_slice_from_str("a\x01"), true, NULL), WD_EPROTO);
}

TEST(filters)
{
    /* §4.7.1 examples and more; version 5 unless shared syntax differs. */
    static const struct {
        const char *f;
        enum wd_mqtt_reason v5, v311;
    } cases[] = {
            {"sport/tennis/player1/#", 0, 0},
            {"sport/#", 0, 0},
            {"#", 0, 0},
            {"sport/tennis/#", 0, 0},
            {"sport/tennis#", WD_MQTT_R_TOPIC_FILTER, WD_MQTT_R_TOPIC_FILTER},
            {"sport/tennis/#/ranking", WD_MQTT_R_TOPIC_FILTER, WD_MQTT_R_TOPIC_FILTER},
            {"+", 0, 0},
            {"+/tennis/#", 0, 0},
            {"sport+", WD_MQTT_R_TOPIC_FILTER, WD_MQTT_R_TOPIC_FILTER},
            {"sport/+/player1", 0, 0},
            {"/+", 0, 0},
            {"+/+", 0, 0},
            {"/", 0, 0},
            {"//", 0, 0},
            {"+/", 0, 0},
            {"$SYS/#", 0, 0},
            {"", WD_MQTT_R_TOPIC_FILTER, WD_MQTT_R_TOPIC_FILTER},
            {"++", WD_MQTT_R_TOPIC_FILTER, WD_MQTT_R_TOPIC_FILTER},
            {"##", WD_MQTT_R_TOPIC_FILTER, WD_MQTT_R_TOPIC_FILTER},
            {"#/", WD_MQTT_R_TOPIC_FILTER, WD_MQTT_R_TOPIC_FILTER},
            {"a/+b", WD_MQTT_R_TOPIC_FILTER, WD_MQTT_R_TOPIC_FILTER},
            {"a/b+", WD_MQTT_R_TOPIC_FILTER, WD_MQTT_R_TOPIC_FILTER},
            {"a/#b", WD_MQTT_R_TOPIC_FILTER, WD_MQTT_R_TOPIC_FILTER},
            {"\xC0\x80", WD_MQTT_R_UTF8, WD_MQTT_R_UTF8},
            /* §4.8.2 shared subscriptions (5.0 only). */
            {"$share/g/a/b", 0, 0},
            {"$share/g/#", 0, 0},
            {"$share/g/+/x", 0, 0},
            {"$share/g//", 0, 0},
            {"$share/g", WD_MQTT_R_SHARE_NAME, 0},
            {"$share/", WD_MQTT_R_SHARE_NAME, 0},
            {"$share//a", WD_MQTT_R_SHARE_NAME, 0},
            {"$share/g+/a", WD_MQTT_R_SHARE_NAME, WD_MQTT_R_TOPIC_FILTER},
            {"$share/#/a", WD_MQTT_R_SHARE_NAME, WD_MQTT_R_TOPIC_FILTER},
            {"$share/g/", WD_MQTT_R_TOPIC_FILTER, 0},
            {"$share/g/a#", WD_MQTT_R_TOPIC_FILTER, WD_MQTT_R_TOPIC_FILTER},
            {"$share", 0, 0},
            {"$shared/g/a", 0, 0},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        enum wd_mqtt_reason why;
        struct wd_slice f = wd_slice_from_str(cases[i].f);
        int rc = wd_mqtt_filter_parse(WD_MQTT_V5, f, false, NULL, &why);
        if (why != cases[i].v5) {
            printf("    v5 \"%s\": %s\n", cases[i].f, wd_mqtt_reason_name(why));
        }
        CHECK_EQ(why, cases[i].v5);
        CHECK_EQ(rc, wd_mqtt_reason_err(cases[i].v5));
        rc = wd_mqtt_filter_parse(WD_MQTT_V311, f, false, NULL, &why);
        if (why != cases[i].v311) {
            printf("    v3.1.1 \"%s\": %s\n", cases[i].f, wd_mqtt_reason_name(why));
        }
        CHECK_EQ(why, cases[i].v311);
        CHECK_EQ(rc, wd_mqtt_reason_err(cases[i].v311));
    }
}

TEST(filter_parts)
{
    struct wd_mqtt_filter f;
    CHECK_OK(wd_mqtt_filter_parse(WD_MQTT_V5, wd_slice_from_str("$share/grp/a/+/c"), false, &f,
                                  NULL));
    CHECK(f.shared);
    CHECK(f.wildcard);
    CHECK(wd_slice_eq_str(f.share_name, "grp"));
    CHECK(wd_slice_eq_str(f.filter, "a/+/c"));
    CHECK_OK(wd_mqtt_filter_parse(WD_MQTT_V311, wd_slice_from_str("$share/grp/a/+/c"), false, &f,
                                  NULL));
    CHECK(!f.shared);
    CHECK(wd_slice_eq_str(f.filter, "$share/grp/a/+/c"));
    CHECK_EQ(f.share_name.len, 0);
    CHECK_OK(wd_mqtt_filter_parse(WD_MQTT_V5, wd_slice_from_str("a/b"), false, &f, NULL));
    CHECK(!f.shared && !f.wildcard);
    CHECK_OK(wd_mqtt_filter_parse(WD_MQTT_V5, wd_slice_from_str("#"), false, &f, NULL));
    CHECK(f.wildcard);
    CHECK_OK(wd_mqtt_filter_parse(WD_MQTT_V5, wd_slice_from_str("a\x7f"), false, &f, NULL));
    CHECK_ERR(wd_mqtt_filter_parse(WD_MQTT_V5, wd_slice_from_str("a\x7f"), true, &f, NULL),
              WD_EPROTO);
}

TEST(matching)
{
    /* Every example of §4.7.1.2, §4.7.1.3, §4.7.2 and §4.7.3, then more edge cases. */
    static const struct {
        const char *filter, *topic;
        bool match;
    } cases[] = {
            /* §4.7.1.2 multi-level wildcard */
            {"sport/tennis/player1/#", "sport/tennis/player1", true},
            {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
            {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
            {"sport/#", "sport", true},
            {"#", "sport", true},
            {"#", "sport/tennis/player1", true},
            {"#", "/", true},
            /* §4.7.1.3 single-level wildcard */
            {"sport/tennis/+", "sport/tennis/player1", true},
            {"sport/tennis/+", "sport/tennis/player2", true},
            {"sport/tennis/+", "sport/tennis/player1/ranking", false},
            {"sport/+", "sport", false},
            {"sport/+", "sport/", true},
            {"+/+", "/finance", true},
            {"/+", "/finance", true},
            {"+", "/finance", false},
            {"+/tennis/#", "sport/tennis/player1", true},
            {"sport/+/player1", "sport/tennis/player1", true},
            {"sport/+/player1", "sport/tennis/player2", false},
            /* §4.7.2 topics beginning with $ */
            {"#", "$SYS/monitor/Clients", false},
            {"+/monitor/Clients", "$SYS/monitor/Clients", false},
            {"$SYS/#", "$SYS/monitor/Clients", true},
            {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
            {"#", "$", false},
            {"+", "$x", false},
            {"$SYS", "$SYS", true},
            {"a/#", "a/$x", true},
            {"a/+", "a/$x", true},
            /* §4.7.3: case sensitive, spaces allowed, leading "/" is a level */
            {"ACCOUNTS", "Accounts", false},
            {"Accounts payable", "Accounts payable", true},
            {"/finance", "finance", false},
            {"finance", "/finance", false},
            {"/finance", "/finance", true},
            /* literal and structural edge cases */
            {"a/b", "a/b", true},
            {"a/b", "a/b/", false},
            {"a/b/", "a/b", false},
            {"a/b", "a/bc", false},
            {"a/bc", "a/b", false},
            {"a//b", "a//b", true},
            {"a/+/b", "a//b", true},
            {"a/+/b", "a/b", false},
            {"+/+/+", "a/b/c", true},
            {"+/+/+", "a/b", false},
            {"+/+", "a/b/c", false},
            {"+", "", false},
            {"a/#", "a", true},
            {"a/#", "a/", true},
            {"a/#", "ab", false},
            {"a/#", "b/a", false},
            {"+/#", "a", true},
            {"+/#", "/", true},
            {"/#", "/", true},
            {"/#", "a", false},
            {"a/b/#", "a/b/c/d/e/f", true},
            {"a/+/c/#", "a/b/c", true},
            {"a/+/c/#", "a/b/d", false},
            {"", "a", false},
            {"\xC3\xA9/+", "\xC3\xA9/x", true},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        bool got = wd_mqtt_topic_matches(wd_slice_from_str(cases[i].filter),
                                         wd_slice_from_str(cases[i].topic));
        if (got != cases[i].match) {
            printf("    \"%s\" vs \"%s\": %d\n", cases[i].filter, cases[i].topic, got);
        }
        CHECK_EQ(got, cases[i].match);
    }
}

TEST(matching_exhaustive)
{
    /* Every filter and topic of up to three levels over {"a", "b", ""} plus the wildcards,
     * checked against a direct reading of §4.7: levels compared pairwise, '+' matching any
     * one level, '#' (last) matching the rest including nothing. */
    static const char *const lv[] = {"a", "b", "", "+", "#"};
    char filter[32], topic[32];
    unsigned checked = 0;
    for (unsigned fn = 1; fn <= 3; fn++) {
        unsigned fcount = 1;
        for (unsigned k = 0; k < fn; k++) {
            fcount *= 5;
        }
        for (unsigned fi = 0; fi < fcount; fi++) {
            const char *fl[3];
            unsigned x = fi;
            bool valid = true;
            filter[0] = '\0';
            for (unsigned k = 0; k < fn; k++) {
                fl[k] = lv[x % 5];
                x /= 5;
                if (fl[k][0] == '#' && k != fn - 1) {
                    valid = false;
                }
                (void)snprintf(filter + strlen(filter), sizeof(filter) - strlen(filter), "%s%s",
                               k ? "/" : "", fl[k]);
            }
            if (!valid || filter[0] == '\0') {
                CHECK_ERR(wd_mqtt_filter_parse(WD_MQTT_V5, wd_slice_from_str(filter), false, NULL,
                                               NULL),
                          WD_EPROTO);
                continue;
            }
            CHECK_OK(
                    wd_mqtt_filter_parse(WD_MQTT_V5, wd_slice_from_str(filter), false, NULL, NULL));
            for (unsigned tn = 1; tn <= 3; tn++) {
                unsigned tcount = tn == 1 ? 3 : tn == 2 ? 9 : 27;
                for (unsigned ti = 0; ti < tcount; ti++) {
                    const char *tl[3];
                    unsigned y = ti;
                    topic[0] = '\0';
                    for (unsigned k = 0; k < tn; k++) {
                        tl[k] = lv[y % 3];
                        y /= 3;
                        (void)snprintf(topic + strlen(topic), sizeof(topic) - strlen(topic), "%s%s",
                                       k ? "/" : "", tl[k]);
                    }
                    if (topic[0] == '\0') {
                        continue;
                    }
                    bool want;
                    if (fl[fn - 1][0] == '#') {
                        want = tn >= fn - 1;
                        for (unsigned k = 0; want && k + 1 < fn; k++) {
                            want = fl[k][0] == '+' || strcmp(fl[k], tl[k]) == 0;
                        }
                    } else {
                        want = tn == fn;
                        for (unsigned k = 0; want && k < fn; k++) {
                            want = fl[k][0] == '+' || strcmp(fl[k], tl[k]) == 0;
                        }
                    }
                    bool got = wd_mqtt_topic_matches(wd_slice_from_str(filter),
                                                     wd_slice_from_str(topic));
                    if (got != want) {
                        printf("    \"%s\" vs \"%s\": got %d\n", filter, topic, got);
                    }
                    CHECK_EQ(got, want);
                    checked++;
                }
            }
        }
    }
    CHECK(checked > 3000);
}

int main(void)
{
    RUN(utf8_wellformed);
    RUN(utf8_strict);
    RUN(topic_names);
    RUN(filters);
    RUN(filter_parts);
    RUN(matching);
    RUN(matching_exhaustive);
    return HARNESS_END("mqtt_topic");
}
