/*
 * Unit tests for warden-proxy's MQTT session (src/proxy/mqtt.c, mqtt.h): client and broker
 * byte streams, built with lib/mqtt, are fed through the session without sockets; the
 * tests check what each side receives and which decisions were asked. Also: the Cedar
 * mapping of MQTT decisions (prx_map_mqtt) against a small policy set, and the `mqtt:`
 * block of the listener configuration.
 */
#include <stdio.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/cedar.h"
#include "warden/err.h"
#include "warden/mqtt.h"

#include "../../src/proxy/config.h"
#include "../../src/proxy/mqtt.h"
#include "../../src/proxy/policy.h"
#include "harness.h"

#define V3 WD_MQTT_V311
#define V5 WD_MQTT_V5

/* ---- a test policy: what the decide callback allows, and what it was asked ---- */

#define MAX_ASKS 64
struct asked {
    enum prx_mqtt_action action;
    char topic[64];
    uint8_t qos;
    bool retain;
    size_t payload;
    char client_id[64];
    char share[32];
};
struct judge {
    struct asked a[MAX_ASKS];
    size_t n;
    bool deny_connect;
};

static bool has_prefix(struct wd_slice s, const char *p)
{
    size_t n = strlen(p);
    return s.len >= n && memcmp(s.p, p, n) == 0;
}

/* Denies: CONNECT when deny_connect; PUBLISH to deny/...; SUBSCRIBE to secret/...;
 * RECEIVE of hidden/...; everything else is allowed. */
static bool decide(void *ctx, const struct prx_mqtt_ask *ask)
{
    struct judge *j = ctx;
    if (j->n < MAX_ASKS) {
        struct asked *a = &j->a[j->n++];
        memset(a, 0, sizeof(*a));
        a->action = ask->action;
        a->qos = ask->qos;
        a->retain = ask->retain;
        a->payload = ask->payload.len;
        if (ask->topic.len > 0) {
            memcpy(a->topic, ask->topic.p, WD_MIN(ask->topic.len, sizeof(a->topic) - 1));
        }
        if (ask->share.len > 0) {
            memcpy(a->share, ask->share.p, WD_MIN(ask->share.len, sizeof(a->share) - 1));
        }
        if (ask->client_id.len > 0) {
            memcpy(a->client_id, ask->client_id.p,
                   WD_MIN(ask->client_id.len, sizeof(a->client_id) - 1));
        }
    }
    switch (ask->action) {
    case PRX_MQTT_A_CONNECT:
        return !j->deny_connect;
    case PRX_MQTT_A_PUBLISH:
        return !has_prefix(ask->topic, "deny/");
    case PRX_MQTT_A_SUBSCRIBE:
        return !has_prefix(ask->topic, "secret/");
    case PRX_MQTT_A_RECEIVE:
        return !has_prefix(ask->topic, "hidden/");
    }
    return false;
}

/* ---- packet builders (lib/mqtt) ---- */

static struct wd_slice sl(const char *s)
{
    return (struct wd_slice){(const uint8_t *)s, strlen(s)};
}

static int connect_pkt(struct wd_buf *b, uint8_t ver, const char *cid, bool alias_max)
{
    struct wd_buf props;
    struct wd_mqtt_packet p = {.type = WD_MQTT_CONNECT, .version = ver};
    int rc = WD_OK;
    wd_buf_init(&props, 256);
    p.connect.clean_start = true;
    p.connect.keep_alive = 30;
    p.connect.client_id = sl(cid);
    if (ver == V5) {
        WD_CHECK(wd_mqtt_props_add_int(&props, WD_MQTT_P_RECEIVE_MAXIMUM, 20));
        if (alias_max) {
            WD_CHECK(wd_mqtt_props_add_int(&props, WD_MQTT_P_TOPIC_ALIAS_MAXIMUM, 10));
        }
        WD_CHECK(wd_mqtt_props_add_int(&props, WD_MQTT_P_SESSION_EXPIRY, 60));
        p.connect.props = wd_buf_slice(&props);
    }
    WD_CHECK(wd_mqtt_encode(&p, b));
out:
    wd_buf_cleanup(&props);
    return rc;
}

static int connack_pkt(struct wd_buf *b, uint8_t ver, bool alias_max)
{
    struct wd_buf props;
    struct wd_mqtt_packet p;
    int rc = WD_OK;
    wd_buf_init(&props, 256);
    wd_mqtt_connack_init(&p, ver, 0, false);
    if (ver == V5 && alias_max) {
        WD_CHECK(wd_mqtt_props_add_int(&props, WD_MQTT_P_TOPIC_ALIAS_MAXIMUM, 10));
        WD_CHECK(wd_mqtt_props_add_int(&props, WD_MQTT_P_MAXIMUM_QOS, 1));
        p.connack.props = wd_buf_slice(&props);
    }
    WD_CHECK(wd_mqtt_encode(&p, b));
out:
    wd_buf_cleanup(&props);
    return rc;
}

static int publish_pkt(struct wd_buf *b, uint8_t ver, const char *topic, uint8_t qos, uint16_t id,
                       const char *payload, uint16_t alias)
{
    struct wd_buf props;
    struct wd_mqtt_packet p = {.type = WD_MQTT_PUBLISH, .version = ver};
    int rc = WD_OK;
    wd_buf_init(&props, 64);
    p.publish.qos = qos;
    p.publish.packet_id = id;
    p.publish.topic = sl(topic);
    p.publish.payload = sl(payload);
    if (alias != 0) {
        WD_CHECK(wd_mqtt_props_add_int(&props, WD_MQTT_P_TOPIC_ALIAS, alias));
        p.publish.props = wd_buf_slice(&props);
    }
    WD_CHECK(wd_mqtt_encode(&p, b));
out:
    wd_buf_cleanup(&props);
    return rc;
}

static int subscribe_pkt(struct wd_buf *b, uint8_t ver, uint16_t id, const char *const *filters,
                         size_t n)
{
    struct wd_buf list;
    struct wd_mqtt_packet p = {.type = WD_MQTT_SUBSCRIBE, .version = ver};
    int rc = WD_OK;
    wd_buf_init(&list, 1024);
    for (size_t i = 0; i < n; i++) {
        WD_CHECK(wd_mqtt_subs_add(&list, WD_MQTT_SUBSCRIBE, sl(filters[i]), (uint8_t)(i % 3)));
    }
    p.subscribe.packet_id = id;
    p.subscribe.list = wd_buf_slice(&list);
    WD_CHECK(wd_mqtt_encode(&p, b));
out:
    wd_buf_cleanup(&list);
    return rc;
}

static int suback_pkt(struct wd_buf *b, uint8_t ver, uint16_t id, const uint8_t *codes, size_t n)
{
    struct wd_mqtt_packet p = {.type = WD_MQTT_SUBACK, .version = ver};
    p.suback.packet_id = id;
    p.suback.codes = (struct wd_slice){codes, n};
    return wd_mqtt_encode(&p, b);
}

static int ack_pkt(struct wd_buf *b, uint8_t ver, enum wd_mqtt_type t, uint16_t id)
{
    struct wd_mqtt_packet p;
    wd_mqtt_ack_init(&p, ver, t, id, 0);
    return wd_mqtt_encode(&p, b);
}

/* ---- the harness around one session ---- */

struct rig {
    struct prx_mqtt_sess s;
    struct judge j;
    struct wd_buf cin, bin;         /* what the client / broker sent, not yet consumed */
    struct wd_buf to_client, to_br; /* what the session produced */
    uint8_t ver;
};

static void rig_init(struct rig *r, uint8_t ver, const struct prx_mqtt_opts *o)
{
    struct prx_mqtt_opts def = {.max_packet = 4096};
    memset(r, 0, sizeof(*r));
    r->ver = ver;
    prx_mqtt_sess_init(&r->s, o != NULL ? o : &def, decide, &r->j);
    wd_buf_init(&r->cin, 1 << 16);
    wd_buf_init(&r->bin, 1 << 16);
    wd_buf_init(&r->to_client, 1 << 16);
    wd_buf_init(&r->to_br, 1 << 16);
}

static void rig_cleanup(struct rig *r)
{
    prx_mqtt_sess_cleanup(&r->s);
    wd_buf_cleanup(&r->cin);
    wd_buf_cleanup(&r->bin);
    wd_buf_cleanup(&r->to_client);
    wd_buf_cleanup(&r->to_br);
}

static int from_client(struct rig *r)
{
    return prx_mqtt_from_client(&r->s, &r->cin, &r->to_client, &r->to_br);
}

static int from_broker(struct rig *r)
{
    return prx_mqtt_from_broker(&r->s, &r->bin, &r->to_client, &r->to_br);
}

/* Connect and accept: CONNECT through, CONNACK back; outputs cleared. */
static int rig_connect(struct rig *r, const char *cid)
{
    WD_TRY(connect_pkt(&r->cin, r->ver, cid, false));
    WD_TRY(from_client(r));
    WD_ENSURE(r->s.connected && r->to_br.len > 0, WD_EPROTO);
    WD_TRY(connack_pkt(&r->bin, r->ver, false));
    WD_TRY(from_broker(r));
    WD_ENSURE(r->to_client.len > 0, WD_EPROTO);
    wd_buf_reset(&r->to_client);
    wd_buf_reset(&r->to_br);
    r->j.n = 0;
    return WD_OK;
}

/* Decode the packets in b (sent by `dir`), one after the other, into pk[0..*n). */
static int packets(const struct wd_buf *b, uint8_t ver, enum wd_mqtt_dir dir,
                   struct wd_mqtt_packet *pk, size_t max, size_t *n)
{
    struct wd_mqtt_config cfg;
    struct wd_mqtt_decoder d;
    size_t off = 0;
    wd_mqtt_config_default(&cfg);
    wd_mqtt_decoder_init(&d, &cfg, dir, ver);
    *n = 0;
    while (off < b->len) {
        WD_ENSURE(*n < max, WD_ELIMIT);
        WD_TRY(wd_mqtt_decode(&d, b->p + off, b->len - off, &pk[*n]));
        off += pk[*n].size;
        (*n)++;
    }
    return WD_OK;
}

/* ---- tests ---- */

TEST(connect_allowed_is_forwarded_unchanged)
{
    uint8_t vers[] = {V3, V5};
    for (size_t v = 0; v < 2; v++) {
        struct rig r;
        struct wd_buf want;
        rig_init(&r, vers[v], NULL);
        wd_buf_init(&want, 4096);
        CHECK_OK(connect_pkt(&r.cin, vers[v], "dev-1", false));
        CHECK_OK(wd_buf_append(&want, r.cin.p, r.cin.len));
        CHECK_OK(from_client(&r));
        CHECK(r.s.connected);
        CHECK(!r.s.closing);
        CHECK_EQ(r.cin.len, 0);
        CHECK_EQ(r.to_client.len, 0);
        CHECK_EQ(r.to_br.len, want.len);
        CHECK_MEM(r.to_br.p, want.p, want.len);
        CHECK_EQ(r.j.n, 1);
        CHECK_EQ(r.j.a[0].action, PRX_MQTT_A_CONNECT);
        CHECK_STR(r.j.a[0].client_id, "dev-1");
        CHECK_EQ(r.s.keep_alive, 30);
        /* the CONNACK goes back as it is */
        wd_buf_reset(&want);
        CHECK_OK(connack_pkt(&r.bin, vers[v], false));
        CHECK_OK(wd_buf_append(&want, r.bin.p, r.bin.len));
        CHECK_OK(from_broker(&r));
        CHECK_EQ(r.to_client.len, want.len);
        CHECK_MEM(r.to_client.p, want.p, want.len);
        wd_buf_cleanup(&want);
        rig_cleanup(&r);
    }
}

TEST(connect_denied)
{
    uint8_t vers[] = {V3, V5};
    uint8_t codes[] = {WD_MQTT_CONNACK311_NOT_AUTHORIZED, WD_MQTT_RC_NOT_AUTHORIZED};
    for (size_t v = 0; v < 2; v++) {
        struct rig r;
        struct wd_mqtt_packet pk[4];
        size_t n;
        rig_init(&r, vers[v], NULL);
        r.j.deny_connect = true;
        CHECK_OK(connect_pkt(&r.cin, vers[v], "dev-1", false));
        /* a PUBLISH right behind the CONNECT must not get through either */
        CHECK_OK(publish_pkt(&r.cin, vers[v], "a/b", 0, 0, "x", 0));
        CHECK_OK(from_client(&r));
        CHECK(r.s.closing);
        CHECK(!r.s.connected);
        CHECK_EQ(r.s.end, PRX_MQTT_END_DENIED);
        CHECK_EQ(r.to_br.len, 0);
        CHECK_OK(packets(&r.to_client, vers[v], WD_MQTT_FROM_SERVER, pk, 4, &n));
        CHECK_EQ(n, 1);
        CHECK_EQ(pk[0].type, WD_MQTT_CONNACK);
        CHECK_EQ(pk[0].connack.code, codes[v]);
        CHECK_EQ(r.j.n, 1);
        rig_cleanup(&r);
    }
}

TEST(bind_client_id)
{
    struct {
        enum prx_mqtt_bind bind;
        const char *cid;
        bool ok;
    } cases[] = {
            {PRX_MQTT_BIND_EXACT, "spiffe://example.org/sensor/7", true},
            {PRX_MQTT_BIND_EXACT, "sensor/7", false},
            {PRX_MQTT_BIND_EXACT, "", false},
            {PRX_MQTT_BIND_EXACT, "spiffe://example.org/sensor/77", false},
            {PRX_MQTT_BIND_PATH, "sensor/7", true},
            {PRX_MQTT_BIND_PATH, "/sensor/7", false},
            {PRX_MQTT_BIND_PATH, "spiffe://example.org/sensor/7", false},
            {PRX_MQTT_BIND_NONE, "anything", true},
    };
    const char *peer = "spiffe://example.org/sensor/7";
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        for (uint8_t ver = V3; ver <= V5; ver++) {
            struct prx_mqtt_opts o = {
                    .max_packet = 4096,
                    .bind = cases[i].bind,
                    .peer_id = peer,
                    .peer_id_len = strlen(peer),
            };
            struct rig r;
            struct wd_mqtt_packet pk[2];
            size_t n;
            rig_init(&r, ver, &o);
            /* 3.1.1 needs a clean session for an empty client id: connect_pkt sets it */
            CHECK_OK(connect_pkt(&r.cin, ver, cases[i].cid, false));
            CHECK_OK(from_client(&r));
            CHECK_EQ(r.s.connected, cases[i].ok);
            if (!cases[i].ok) {
                CHECK_EQ(r.to_br.len, 0);
                CHECK_EQ(r.j.n, 0); /* refused before policy */
                CHECK_OK(packets(&r.to_client, ver, WD_MQTT_FROM_SERVER, pk, 2, &n));
                CHECK_EQ(n, 1);
                CHECK_EQ(pk[0].connack.code,
                         ver == V5 ? WD_MQTT_RC_CLIENT_ID_INVALID : WD_MQTT_CONNACK311_ID_REJECTED);
            }
            rig_cleanup(&r);
        }
    }
    /* without a peer ID nothing binds */
    struct prx_mqtt_opts o = {.max_packet = 4096, .bind = PRX_MQTT_BIND_EXACT};
    struct rig r;
    rig_init(&r, V5, &o);
    CHECK_OK(connect_pkt(&r.cin, V5, "x", false));
    CHECK_OK(from_client(&r));
    CHECK(!r.s.connected && r.s.closing);
    rig_cleanup(&r);
}

TEST(publish_decisions)
{
    for (uint8_t ver = V3; ver <= V5; ver++) {
        struct rig r;
        struct wd_buf want;
        struct wd_mqtt_packet pk[8];
        size_t n;
        rig_init(&r, ver, NULL);
        wd_buf_init(&want, 4096);
        CHECK_OK(rig_connect(&r, "dev"));
        /* allowed at every QoS: forwarded byte for byte */
        CHECK_OK(publish_pkt(&r.cin, ver, "ok/t", 0, 0, "zero", 0));
        CHECK_OK(publish_pkt(&r.cin, ver, "ok/t", 1, 7, "one", 0));
        CHECK_OK(publish_pkt(&r.cin, ver, "ok/t", 2, 8, "two", 0));
        CHECK_OK(wd_buf_append(&want, r.cin.p, r.cin.len));
        CHECK_OK(from_client(&r));
        CHECK_EQ(r.to_br.len, want.len);
        CHECK_MEM(r.to_br.p, want.p, want.len);
        CHECK_EQ(r.to_client.len, 0);
        CHECK_EQ(r.j.n, 3);
        CHECK_EQ(r.j.a[1].action, PRX_MQTT_A_PUBLISH);
        CHECK_STR(r.j.a[1].topic, "ok/t");
        CHECK_EQ(r.j.a[1].qos, 1);
        CHECK_EQ(r.j.a[1].payload, 3);
        CHECK_STR(r.j.a[1].client_id, "dev");
        wd_buf_reset(&r.to_br);
        /* denied: nothing to the broker; QoS 0 silent, QoS 1 PUBACK, QoS 2 PUBREC */
        CHECK_OK(publish_pkt(&r.cin, ver, "deny/t", 0, 0, "zero", 0));
        CHECK_OK(publish_pkt(&r.cin, ver, "deny/t", 1, 9, "one", 0));
        CHECK_OK(publish_pkt(&r.cin, ver, "deny/t", 2, 10, "two", 0));
        CHECK_OK(from_client(&r));
        CHECK(!r.s.closing);
        CHECK_EQ(r.to_br.len, 0);
        CHECK_EQ(r.s.denied, 3);
        CHECK_OK(packets(&r.to_client, ver, WD_MQTT_FROM_SERVER, pk, 8, &n));
        CHECK_EQ(n, 2);
        CHECK_EQ(pk[0].type, WD_MQTT_PUBACK);
        CHECK_EQ(pk[0].ack.packet_id, 9);
        CHECK_EQ(pk[0].ack.code, ver == V5 ? WD_MQTT_RC_NOT_AUTHORIZED : 0);
        CHECK_EQ(pk[1].type, WD_MQTT_PUBREC);
        CHECK_EQ(pk[1].ack.packet_id, 10);
        CHECK_EQ(pk[1].ack.code, ver == V5 ? WD_MQTT_RC_NOT_AUTHORIZED : 0);
        wd_buf_reset(&r.to_client);
        /* the PUBREL of the refused QoS 2: 3.1.1 completes it here; v5 ended it (0x87),
         * so a PUBREL there is the broker's business */
        CHECK_OK(ack_pkt(&r.cin, ver, WD_MQTT_PUBREL, 10));
        /* the PUBREL of the allowed QoS 2 goes to the broker */
        CHECK_OK(ack_pkt(&r.cin, ver, WD_MQTT_PUBREL, 8));
        CHECK_OK(from_client(&r));
        if (ver == V3) {
            CHECK_OK(packets(&r.to_client, ver, WD_MQTT_FROM_SERVER, pk, 8, &n));
            CHECK_EQ(n, 1);
            CHECK_EQ(pk[0].type, WD_MQTT_PUBCOMP);
            CHECK_EQ(pk[0].ack.packet_id, 10);
            CHECK_OK(packets(&r.to_br, ver, WD_MQTT_FROM_CLIENT, pk, 8, &n));
            CHECK_EQ(n, 1);
            CHECK_EQ(pk[0].ack.packet_id, 8);
            /* id 10 is free again: a second PUBREL for it now goes on */
            wd_buf_reset(&r.to_br);
            CHECK_OK(ack_pkt(&r.cin, ver, WD_MQTT_PUBREL, 10));
            CHECK_OK(from_client(&r));
            CHECK_OK(packets(&r.to_br, ver, WD_MQTT_FROM_CLIENT, pk, 8, &n));
            CHECK_EQ(n, 1);
        } else {
            CHECK_EQ(r.to_client.len, 0);
            CHECK_OK(packets(&r.to_br, ver, WD_MQTT_FROM_CLIENT, pk, 8, &n));
            CHECK_EQ(n, 2);
        }
        wd_buf_cleanup(&want);
        rig_cleanup(&r);
    }
}

TEST(deny_disconnect)
{
    struct prx_mqtt_opts o = {.max_packet = 4096, .deny_disconnect = true};
    struct wd_mqtt_packet pk[4];
    size_t n;
    struct rig r;
    /* 3.1.1: any denied PUBLISH closes, without a packet (there is none to send) */
    rig_init(&r, V3, &o);
    CHECK_OK(rig_connect(&r, "dev"));
    CHECK_OK(publish_pkt(&r.cin, V3, "deny/x", 1, 3, "p", 0));
    CHECK_OK(publish_pkt(&r.cin, V3, "ok/x", 0, 0, "p", 0));
    CHECK_OK(from_client(&r));
    CHECK(r.s.closing);
    CHECK_EQ(r.s.end, PRX_MQTT_END_DENIED);
    CHECK_EQ(r.to_client.len, 0);
    CHECK_EQ(r.to_br.len, 0);
    rig_cleanup(&r);
    /* v5: QoS 1 is reported with PUBACK 0x87 and the session goes on ... */
    rig_init(&r, V5, &o);
    CHECK_OK(rig_connect(&r, "dev"));
    CHECK_OK(publish_pkt(&r.cin, V5, "deny/x", 1, 3, "p", 0));
    CHECK_OK(from_client(&r));
    CHECK(!r.s.closing);
    wd_buf_reset(&r.to_client);
    /* ... QoS 0 closes with DISCONNECT 0x87 */
    CHECK_OK(publish_pkt(&r.cin, V5, "deny/x", 0, 0, "p", 0));
    CHECK_OK(from_client(&r));
    CHECK(r.s.closing);
    CHECK_OK(packets(&r.to_client, V5, WD_MQTT_FROM_SERVER, pk, 4, &n));
    CHECK_EQ(n, 1);
    CHECK_EQ(pk[0].type, WD_MQTT_DISCONNECT);
    CHECK_EQ(pk[0].disconnect.code, WD_MQTT_RC_NOT_AUTHORIZED);
    rig_cleanup(&r);
}

TEST(subscribe_filters)
{
    for (uint8_t ver = V3; ver <= V5; ver++) {
        uint8_t deny = ver == V5 ? 0x87 : 0x80;
        struct rig r;
        struct wd_buf want;
        struct wd_mqtt_packet pk[4];
        size_t n;
        rig_init(&r, ver, NULL);
        wd_buf_init(&want, 4096);
        CHECK_OK(rig_connect(&r, "dev"));
        /* all allowed: unchanged */
        const char *all[] = {"a/#", "b/+/c"};
        CHECK_OK(subscribe_pkt(&r.cin, ver, 1, all, 2));
        CHECK_OK(wd_buf_append(&want, r.cin.p, r.cin.len));
        CHECK_OK(from_client(&r));
        CHECK_EQ(r.to_br.len, want.len);
        CHECK_MEM(r.to_br.p, want.p, want.len);
        CHECK_EQ(r.j.n, 2);
        CHECK_EQ(r.j.a[1].action, PRX_MQTT_A_SUBSCRIBE);
        CHECK_STR(r.j.a[1].topic, "b/+/c");
        CHECK_EQ(r.j.a[1].qos, 1);
        wd_buf_reset(&r.to_br);
        /* the broker's SUBACK for it passes unchanged */
        const uint8_t c2[] = {0x00, 0x01};
        CHECK_OK(suback_pkt(&r.bin, ver, 1, c2, 2));
        wd_buf_reset(&want);
        CHECK_OK(wd_buf_append(&want, r.bin.p, r.bin.len));
        CHECK_OK(from_broker(&r));
        CHECK_EQ(r.to_client.len, want.len);
        CHECK_MEM(r.to_client.p, want.p, want.len);
        wd_buf_reset(&r.to_client);
        /* mixed: the broker sees only the allowed filters, in order */
        const char *mixed[] = {"a/1", "secret/x", "b/2", "secret/#"};
        CHECK_OK(subscribe_pkt(&r.cin, ver, 2, mixed, 4));
        CHECK_OK(from_client(&r));
        CHECK_EQ(r.to_client.len, 0);
        CHECK_OK(packets(&r.to_br, ver, WD_MQTT_FROM_CLIENT, pk, 4, &n));
        CHECK_EQ(n, 1);
        CHECK_EQ(pk[0].type, WD_MQTT_SUBSCRIBE);
        CHECK_EQ(pk[0].subscribe.packet_id, 2);
        CHECK_EQ(pk[0].subscribe.count, 2);
        struct wd_mqtt_subs_iter it;
        struct wd_mqtt_sub e;
        wd_mqtt_subs_iter_init(&it, &pk[0]);
        CHECK(wd_mqtt_subs_next(&it, &e));
        CHECK(e.filter.len == 3 && memcmp(e.filter.p, "a/1", 3) == 0);
        CHECK(wd_mqtt_subs_next(&it, &e));
        CHECK(e.filter.len == 3 && memcmp(e.filter.p, "b/2", 3) == 0);
        CHECK_EQ(r.s.npend, 1);
        /* the broker grants 1 and 2: the client sees them merged with the denials */
        const uint8_t granted[] = {0x01, 0x02};
        CHECK_OK(suback_pkt(&r.bin, ver, 2, granted, 2));
        CHECK_OK(from_broker(&r));
        CHECK_EQ(r.s.npend, 0);
        CHECK_OK(packets(&r.to_client, ver, WD_MQTT_FROM_SERVER, pk, 4, &n));
        CHECK_EQ(n, 1);
        CHECK_EQ(pk[0].type, WD_MQTT_SUBACK);
        CHECK_EQ(pk[0].suback.packet_id, 2);
        const uint8_t merged[] = {0x01, deny, 0x02, deny};
        CHECK_EQ(pk[0].suback.codes.len, 4);
        CHECK_MEM(pk[0].suback.codes.p, merged, 4);
        wd_buf_reset(&r.to_client);
        wd_buf_reset(&r.to_br);
        /* all denied: answered here, nothing to the broker */
        const char *none[] = {"secret/a", "secret/b"};
        CHECK_OK(subscribe_pkt(&r.cin, ver, 3, none, 2));
        CHECK_OK(from_client(&r));
        CHECK_EQ(r.to_br.len, 0);
        CHECK_OK(packets(&r.to_client, ver, WD_MQTT_FROM_SERVER, pk, 4, &n));
        CHECK_EQ(n, 1);
        CHECK_EQ(pk[0].suback.packet_id, 3);
        const uint8_t denied[] = {deny, deny};
        CHECK_EQ(pk[0].suback.codes.len, 2);
        CHECK_MEM(pk[0].suback.codes.p, denied, 2);
        CHECK(!r.s.closing);
        wd_buf_cleanup(&want);
        rig_cleanup(&r);
    }
}

/* v5 shared subscriptions are judged on the filter after $share/{name}/ */
TEST(shared_subscriptions)
{
    struct rig r;
    struct wd_mqtt_packet pk[2];
    size_t n;
    rig_init(&r, V5, NULL);
    CHECK_OK(rig_connect(&r, "dev"));
    const char *f[] = {"$share/g1/secret/#", "$share/g2/a/b", "plain/x"};
    CHECK_OK(subscribe_pkt(&r.cin, V5, 6, f, 3));
    CHECK_OK(from_client(&r));
    CHECK_EQ(r.j.n, 3);
    CHECK_STR(r.j.a[0].topic, "secret/#");
    CHECK_STR(r.j.a[0].share, "g1");
    CHECK_STR(r.j.a[1].topic, "a/b");
    CHECK_STR(r.j.a[1].share, "g2");
    CHECK_STR(r.j.a[2].topic, "plain/x");
    CHECK_STR(r.j.a[2].share, "");
    CHECK_OK(packets(&r.to_br, V5, WD_MQTT_FROM_CLIENT, pk, 2, &n));
    CHECK_EQ(n, 1);
    CHECK_EQ(pk[0].subscribe.count, 2); /* "$share/g1/secret/#" was removed */
    rig_cleanup(&r);
}

TEST(suback_count_mismatch_is_a_broker_error)
{
    struct rig r;
    rig_init(&r, V5, NULL);
    CHECK_OK(rig_connect(&r, "dev"));
    const char *mixed[] = {"a/1", "secret/x", "b/2"};
    CHECK_OK(subscribe_pkt(&r.cin, V5, 4, mixed, 3));
    CHECK_OK(from_client(&r));
    const uint8_t one[] = {0x00};
    CHECK_OK(suback_pkt(&r.bin, V5, 4, one, 1));
    CHECK_OK(from_broker(&r));
    CHECK(r.s.closing);
    CHECK_EQ(r.s.end, PRX_MQTT_END_BROKER_ERROR);
    rig_cleanup(&r);
}

TEST(pending_subscribes_are_bounded)
{
    struct rig r;
    rig_init(&r, V5, NULL);
    CHECK_OK(rig_connect(&r, "dev"));
    const char *mixed[] = {"a/1", "secret/x"};
    for (uint16_t id = 1; id <= PRX_MQTT_PENDING_MAX; id++) {
        CHECK_OK(subscribe_pkt(&r.cin, V5, id, mixed, 2));
        CHECK_OK(from_client(&r));
        CHECK(!r.s.closing);
    }
    /* the same id again replaces its entry */
    CHECK_OK(subscribe_pkt(&r.cin, V5, 1, mixed, 2));
    CHECK_OK(from_client(&r));
    CHECK(!r.s.closing);
    CHECK_EQ(r.s.npend, PRX_MQTT_PENDING_MAX);
    /* an all-allowed SUBSCRIBE reusing a pending id forgets the stale entry */
    const char *fine[] = {"a/1"};
    CHECK_OK(subscribe_pkt(&r.cin, V5, 2, fine, 1));
    CHECK_OK(from_client(&r));
    CHECK_EQ(r.s.npend, PRX_MQTT_PENDING_MAX - 1);
    CHECK_OK(subscribe_pkt(&r.cin, V5, 998, mixed, 2));
    CHECK_OK(from_client(&r));
    CHECK(!r.s.closing);
    wd_buf_reset(&r.to_client);
    CHECK_OK(subscribe_pkt(&r.cin, V5, 999, mixed, 2));
    CHECK_OK(from_client(&r));
    CHECK(r.s.closing);
    CHECK_EQ(r.s.end, PRX_MQTT_END_LIMIT);
    struct wd_mqtt_packet pk[2];
    size_t n;
    CHECK_OK(packets(&r.to_client, V5, WD_MQTT_FROM_SERVER, pk, 2, &n));
    CHECK_EQ(n, 1);
    CHECK_EQ(pk[0].disconnect.code, WD_MQTT_RC_QUOTA_EXCEEDED);
    rig_cleanup(&r);
}

TEST(delivery_decisions)
{
    for (uint8_t ver = V3; ver <= V5; ver++) {
        struct rig r;
        struct wd_buf want;
        struct wd_mqtt_packet pk[8];
        size_t n;
        rig_init(&r, ver, NULL);
        wd_buf_init(&want, 4096);
        CHECK_OK(rig_connect(&r, "dev"));
        /* allowed deliveries: unchanged */
        CHECK_OK(publish_pkt(&r.bin, ver, "news/a", 1, 5, "n", 0));
        CHECK_OK(wd_buf_append(&want, r.bin.p, r.bin.len));
        CHECK_OK(from_broker(&r));
        CHECK_EQ(r.to_client.len, want.len);
        CHECK_MEM(r.to_client.p, want.p, want.len);
        CHECK_EQ(r.j.a[0].action, PRX_MQTT_A_RECEIVE);
        CHECK_STR(r.j.a[0].topic, "news/a");
        CHECK_STR(r.j.a[0].client_id, "dev");
        wd_buf_reset(&r.to_client);
        /* denied at QoS 0, 1 and 2: the client sees nothing, the broker gets the acks */
        CHECK_OK(publish_pkt(&r.bin, ver, "hidden/a", 0, 0, "n", 0));
        CHECK_OK(publish_pkt(&r.bin, ver, "hidden/a", 1, 6, "n", 0));
        CHECK_OK(publish_pkt(&r.bin, ver, "hidden/a", 2, 7, "n", 0));
        CHECK_OK(from_broker(&r));
        CHECK_EQ(r.to_client.len, 0);
        CHECK_OK(packets(&r.to_br, ver, WD_MQTT_FROM_CLIENT, pk, 8, &n));
        CHECK_EQ(n, 2);
        CHECK_EQ(pk[0].type, WD_MQTT_PUBACK);
        CHECK_EQ(pk[0].ack.packet_id, 6);
        CHECK_EQ(pk[0].ack.code, 0);
        CHECK_EQ(pk[1].type, WD_MQTT_PUBREC);
        CHECK_EQ(pk[1].ack.packet_id, 7);
        CHECK_EQ(pk[1].ack.code, 0);
        wd_buf_reset(&r.to_br);
        /* the broker's PUBREL for 7 is answered here; the client never hears of 7 */
        CHECK_OK(ack_pkt(&r.bin, ver, WD_MQTT_PUBREL, 7));
        CHECK_OK(from_broker(&r));
        CHECK_EQ(r.to_client.len, 0);
        CHECK_OK(packets(&r.to_br, ver, WD_MQTT_FROM_CLIENT, pk, 8, &n));
        CHECK_EQ(n, 1);
        CHECK_EQ(pk[0].type, WD_MQTT_PUBCOMP);
        CHECK_EQ(pk[0].ack.packet_id, 7);
        wd_buf_reset(&r.to_br);
        /* 7 is free again: an allowed QoS 2 delivery with it flows to the client, and so
         * does its PUBREL; the client's PUBREC / PUBCOMP go to the broker */
        wd_buf_reset(&want);
        CHECK_OK(publish_pkt(&r.bin, ver, "news/b", 2, 7, "n", 0));
        CHECK_OK(ack_pkt(&r.bin, ver, WD_MQTT_PUBREL, 7));
        CHECK_OK(wd_buf_append(&want, r.bin.p, r.bin.len));
        CHECK_OK(ack_pkt(&r.cin, ver, WD_MQTT_PUBREC, 7));
        CHECK_OK(ack_pkt(&r.cin, ver, WD_MQTT_PUBCOMP, 7));
        CHECK_OK(from_broker(&r));
        CHECK_OK(from_client(&r));
        CHECK_EQ(r.to_client.len, want.len);
        CHECK_MEM(r.to_client.p, want.p, want.len);
        CHECK_OK(packets(&r.to_br, ver, WD_MQTT_FROM_CLIENT, pk, 8, &n));
        CHECK_EQ(n, 2);
        CHECK_EQ(pk[0].type, WD_MQTT_PUBREC);
        CHECK_EQ(pk[1].type, WD_MQTT_PUBCOMP);
        CHECK(!r.s.closing);
        wd_buf_cleanup(&want);
        rig_cleanup(&r);
    }
}

TEST(topic_alias_maximum_is_removed)
{
    struct rig r;
    struct wd_mqtt_packet pk[2];
    struct wd_mqtt_prop pr;
    size_t n;
    rig_init(&r, V5, NULL);
    CHECK_OK(connect_pkt(&r.cin, V5, "dev", true));
    CHECK_OK(from_client(&r));
    CHECK(r.s.connected);
    CHECK_OK(packets(&r.to_br, V5, WD_MQTT_FROM_CLIENT, pk, 2, &n));
    CHECK_EQ(n, 1);
    CHECK(!wd_mqtt_props_find(pk[0].connect.props, WD_MQTT_P_TOPIC_ALIAS_MAXIMUM, &pr));
    CHECK(wd_mqtt_props_find(pk[0].connect.props, WD_MQTT_P_RECEIVE_MAXIMUM, &pr));
    CHECK_EQ(pr.num, 20);
    CHECK(wd_mqtt_props_find(pk[0].connect.props, WD_MQTT_P_SESSION_EXPIRY, &pr));
    CHECK(pk[0].connect.client_id.len == 3 && memcmp(pk[0].connect.client_id.p, "dev", 3) == 0);
    CHECK_EQ(pk[0].connect.keep_alive, 30);
    rig_cleanup(&r);
}

TEST(topic_alias_maximum_is_removed_from_connack)
{
    struct rig r;
    struct wd_mqtt_packet pk[2];
    struct wd_mqtt_prop pr;
    size_t n;
    rig_init(&r, V5, NULL);
    CHECK_OK(connect_pkt(&r.cin, V5, "dev", false));
    CHECK_OK(from_client(&r));
    CHECK_OK(connack_pkt(&r.bin, V5, true));
    CHECK_OK(from_broker(&r));
    CHECK_OK(packets(&r.to_client, V5, WD_MQTT_FROM_SERVER, pk, 2, &n));
    CHECK_EQ(n, 1);
    CHECK_EQ(pk[0].type, WD_MQTT_CONNACK);
    CHECK(!wd_mqtt_props_find(pk[0].connack.props, WD_MQTT_P_TOPIC_ALIAS_MAXIMUM, &pr));
    CHECK(wd_mqtt_props_find(pk[0].connack.props, WD_MQTT_P_MAXIMUM_QOS, &pr));
    CHECK_EQ(pr.num, 1);
    /* a client using an alias anyway is told 0x94 and dropped */
    wd_buf_reset(&r.to_client);
    CHECK_OK(publish_pkt(&r.cin, V5, "a/b", 0, 0, "x", 3));
    CHECK_OK(from_client(&r));
    CHECK(r.s.closing);
    CHECK_EQ(r.to_br.len > 0, true); /* only the CONNECT from before */
    CHECK_OK(packets(&r.to_client, V5, WD_MQTT_FROM_SERVER, pk, 2, &n));
    CHECK_EQ(n, 1);
    CHECK_EQ(pk[0].type, WD_MQTT_DISCONNECT);
    CHECK_EQ(pk[0].disconnect.code, WD_MQTT_RC_TOPIC_ALIAS_INVALID);
    rig_cleanup(&r);
    /* and so is a broker using one */
    rig_init(&r, V5, NULL);
    CHECK_OK(rig_connect(&r, "dev"));
    CHECK_OK(publish_pkt(&r.bin, V5, "a/b", 0, 0, "x", 3));
    CHECK_OK(from_broker(&r));
    CHECK(r.s.closing);
    CHECK_EQ(r.s.end, PRX_MQTT_END_BROKER_ERROR);
    rig_cleanup(&r);
}

TEST(malformed_client_bytes)
{
    struct wd_mqtt_packet pk[2];
    size_t n;
    struct rig r;
    /* v5, connected: a PUBLISH with QoS 3 -> DISCONNECT 0x81 */
    rig_init(&r, V5, NULL);
    CHECK_OK(rig_connect(&r, "dev"));
    const uint8_t bad[] = {0x36, 0x03, 0x00, 0x01, 'a'};
    CHECK_OK(wd_buf_append(&r.cin, bad, sizeof(bad)));
    CHECK_OK(from_client(&r));
    CHECK(r.s.closing);
    CHECK_EQ(r.s.end, PRX_MQTT_END_CLIENT_ERROR);
    CHECK_EQ(r.to_br.len, 0);
    CHECK_OK(packets(&r.to_client, V5, WD_MQTT_FROM_SERVER, pk, 2, &n));
    CHECK_EQ(n, 1);
    CHECK_EQ(pk[0].disconnect.code, WD_MQTT_RC_MALFORMED);
    /* nothing more is processed */
    size_t left = r.cin.len;
    CHECK_OK(publish_pkt(&r.cin, V5, "a", 0, 0, "x", 0));
    CHECK_OK(from_client(&r));
    CHECK(r.cin.len > left);
    rig_cleanup(&r);
    /* 3.1.1: the same closes without a packet */
    rig_init(&r, V3, NULL);
    CHECK_OK(rig_connect(&r, "dev"));
    CHECK_OK(wd_buf_append(&r.cin, bad, sizeof(bad)));
    CHECK_OK(from_client(&r));
    CHECK(r.s.closing);
    CHECK_EQ(r.to_client.len, 0);
    rig_cleanup(&r);
    /* the first packet is not a CONNECT: closed, nothing sent anywhere */
    rig_init(&r, V5, NULL);
    CHECK_OK(wd_buf_append(&r.cin, "\xc0\x00", 2)); /* PINGREQ */
    CHECK_OK(from_client(&r));
    CHECK(r.s.closing);
    CHECK_EQ(r.s.why, WD_MQTT_R_NOT_CONNECTED);
    CHECK_EQ(r.to_client.len, 0);
    CHECK_EQ(r.to_br.len, 0);
    rig_cleanup(&r);
    /* a v5 CONNECT with a bad property: CONNACK with the reason code */
    rig_init(&r, V5, NULL);
    const uint8_t badc[] = {0x10, 0x0f, 0x00, 0x04, 'M',  'Q',  'T',  'T', 0x05,
                            0x02, 0x00, 0x1e, 0x02, 0x7f, 0x00, 0x00, 0x00};
    CHECK_OK(wd_buf_append(&r.cin, badc, sizeof(badc)));
    CHECK_OK(from_client(&r));
    CHECK(r.s.closing);
    CHECK_EQ(r.to_br.len, 0);
    CHECK_OK(packets(&r.to_client, V5, WD_MQTT_FROM_SERVER, pk, 2, &n));
    CHECK_EQ(n, 1);
    CHECK_EQ(pk[0].type, WD_MQTT_CONNACK);
    CHECK(pk[0].connack.code >= 0x80);
    rig_cleanup(&r);
    /* a packet over max_packet is refused as soon as its header is in */
    rig_init(&r, V5, NULL);
    CHECK_OK(rig_connect(&r, "dev"));
    CHECK_OK(wd_buf_append(&r.cin, "\x30\xff\xff\x03", 4));
    CHECK_OK(from_client(&r));
    CHECK(r.s.closing);
    CHECK_OK(packets(&r.to_client, V5, WD_MQTT_FROM_SERVER, pk, 2, &n));
    CHECK_EQ(pk[0].disconnect.code, WD_MQTT_RC_PACKET_TOO_LARGE);
    rig_cleanup(&r);
}

TEST(broker_bytes_before_connect)
{
    struct rig r;
    rig_init(&r, V5, NULL);
    CHECK_OK(connack_pkt(&r.bin, V5, false));
    CHECK_OK(from_broker(&r));
    CHECK(r.s.closing);
    CHECK_EQ(r.s.end, PRX_MQTT_END_BROKER_ERROR);
    CHECK_EQ(r.to_client.len, 0);
    rig_cleanup(&r);
    /* and malformed broker bytes after it */
    rig_init(&r, V3, NULL);
    CHECK_OK(rig_connect(&r, "dev"));
    CHECK_OK(wd_buf_append(&r.bin, "\x10\x00", 2)); /* a CONNECT from the broker */
    CHECK_OK(from_broker(&r));
    CHECK(r.s.closing);
    CHECK_EQ(r.s.end, PRX_MQTT_END_BROKER_ERROR);
    CHECK_EQ(r.s.why, WD_MQTT_R_DIRECTION);
    rig_cleanup(&r);
}

/* Feeding a stream one byte at a time gives the same output as feeding it whole. */
TEST(byte_at_a_time)
{
    struct wd_buf stream, whole_c, whole_b;
    wd_buf_init(&stream, 1 << 16);
    wd_buf_init(&whole_c, 1 << 16);
    wd_buf_init(&whole_b, 1 << 16);
    CHECK_OK(connect_pkt(&stream, V5, "dev", true));
    CHECK_OK(publish_pkt(&stream, V5, "ok/1", 1, 1, "hello", 0));
    CHECK_OK(publish_pkt(&stream, V5, "deny/1", 2, 2, "hello", 0));
    const char *mixed[] = {"x/#", "secret/y"};
    CHECK_OK(subscribe_pkt(&stream, V5, 3, mixed, 2));
    for (int pass = 0; pass < 2; pass++) {
        struct rig r;
        rig_init(&r, V5, NULL);
        if (pass == 0) {
            CHECK_OK(wd_buf_append(&r.cin, stream.p, stream.len));
            CHECK_OK(from_client(&r));
            CHECK_OK(wd_buf_append(&whole_c, r.to_client.p, r.to_client.len));
            CHECK_OK(wd_buf_append(&whole_b, r.to_br.p, r.to_br.len));
        } else {
            for (size_t i = 0; i < stream.len; i++) {
                CHECK_OK(wd_buf_append(&r.cin, stream.p + i, 1));
                CHECK_OK(from_client(&r));
            }
            CHECK_EQ(r.to_client.len, whole_c.len);
            CHECK_MEM(r.to_client.p, whole_c.p, whole_c.len);
            CHECK_EQ(r.to_br.len, whole_b.len);
            CHECK_MEM(r.to_br.p, whole_b.p, whole_b.len);
        }
        CHECK_EQ(r.cin.len, 0);
        CHECK_EQ(r.j.n, 5);
        rig_cleanup(&r);
    }
    CHECK(whole_c.len > 0 && whole_b.len > 0);
    wd_buf_cleanup(&stream);
    wd_buf_cleanup(&whole_c);
    wd_buf_cleanup(&whole_b);
}

/* Every allocation of a busy exchange may fail: WD_ENOMEM, no leak. */
static int busy_exchange(void)
{
    struct rig r;
    int rc;
    rig_init(&r, V5, NULL);
    const char *mixed[] = {"a/1", "secret/x", "b/2"};
    const uint8_t granted[] = {0x00, 0x01};
    WD_CHECK(connect_pkt(&r.cin, V5, "dev", true));
    WD_CHECK(subscribe_pkt(&r.cin, V5, 9, mixed, 3));
    WD_CHECK(publish_pkt(&r.cin, V5, "ok/x", 1, 1, "p", 0));
    WD_CHECK(publish_pkt(&r.cin, V5, "deny/x", 2, 2, "p", 0));
    WD_CHECK(from_client(&r));
    WD_CHECK(connack_pkt(&r.bin, V5, true));
    WD_CHECK(suback_pkt(&r.bin, V5, 9, granted, 2));
    WD_CHECK(publish_pkt(&r.bin, V5, "hidden/x", 2, 4, "p", 0));
    WD_CHECK(ack_pkt(&r.bin, V5, WD_MQTT_PUBREL, 4));
    WD_CHECK(from_broker(&r));
    WD_ENSURE(!r.s.closing, WD_EPROTO);
out:
    rig_cleanup(&r);
    return rc;
}

TEST(alloc_failures)
{
    CHECK_OK(busy_exchange());
    CHECK_ALLOC_SWEEP(busy_exchange(), (void)0);
}

/* ---- the Cedar mapping ---- */

#define BROKER "spiffe://example.org/broker"
#define SENSOR "spiffe://example.org/sensor"

static const char policies[] =
        "@id(\"connect\")\n"
        "permit (principal, action == Action::\"mqtt:connect\", resource == Workload::\"" BROKER
        "\")\n"
        "when { context.client_id == \"s1\" && context.broker == \"" BROKER "\" };\n"
        "@id(\"publish\")\n"
        "permit (principal == Workload::\"" SENSOR "\", action == Action::\"mqtt:publish\", "
        "resource)\n"
        "when { context.topic like \"sensors/*\" && context.qos <= 1 && !context.retain &&\n"
        "       context.payload.size < 10 && context.detections.isEmpty() };\n"
        "@id(\"sub\")\n"
        "permit (principal, action == Action::\"mqtt:subscribe\", resource == Topic::\"cmd/#\");\n"
        "@id(\"shared\")\n"
        "permit (principal, action == Action::\"mqtt:subscribe\", resource == Topic::\"grp/#\")\n"
        "when { context.share == \"g1\" };\n"
        "@id(\"recv\")\n"
        "permit (principal, action in Action::\"mqtt\", resource)\n"
        "when { context has topic && context.topic == \"news\" && context.qos == 2 };\n";

static int map_decide(struct prx_policy *pol, struct wd_cedar_request *req,
                      struct wd_cedar_scratch *sc, const char *peer, const struct prx_mqtt_ask *ask,
                      const char **why)
{
    struct prx_peer pe = {peer, strlen(peer), NULL, "127.0.0.1", 8883};
    struct wd_cedar_response resp;
    WD_TRY(prx_map_mqtt(req, &pe, BROKER, strlen(BROKER), ask, 1764000000));
    WD_TRY(wd_cedar_authorize(pol->az, pol->ents, req, sc, &resp));
    if (why != NULL) {
        *why = resp.nreasons > 0 ? resp.reasons[0] : "";
    }
    return resp.allow ? 1 : 0;
}

TEST(cedar_mapping)
{
    struct prx_text t = {"m.cedar", policies, sizeof(policies) - 1};
    struct prx_policy *pol = NULL;
    struct wd_cedar_request *req = NULL;
    struct wd_cedar_scratch *sc = NULL;
    struct wd_diag d;
    const char *why = NULL;
    CHECK_OK(prx_policy_build(&t, 1, NULL, NULL, &pol, &d));
    CHECK_OK(wd_cedar_request_new(&req));
    CHECK_OK(wd_cedar_scratch_new(&sc));
    struct prx_mqtt_ask a = {.action = PRX_MQTT_A_CONNECT, .version = V5, .client_id = sl("s1")};
    CHECK_EQ(map_decide(pol, req, sc, SENSOR, &a, &why), 1);
    CHECK_STR(why, "connect");
    a.client_id = sl("s2");
    CHECK_EQ(map_decide(pol, req, sc, SENSOR, &a, NULL), 0);
    struct prx_mqtt_ask p = {
            .action = PRX_MQTT_A_PUBLISH,
            .version = V5,
            .topic = sl("sensors/t1"),
            .qos = 1,
            .payload = sl("21.5"),
            .client_id = sl("s1"),
    };
    CHECK_EQ(map_decide(pol, req, sc, SENSOR, &p, &why), 1);
    CHECK_STR(why, "publish");
    p.qos = 2;
    CHECK_EQ(map_decide(pol, req, sc, SENSOR, &p, NULL), 0);
    p.qos = 0;
    p.retain = true;
    CHECK_EQ(map_decide(pol, req, sc, SENSOR, &p, NULL), 0);
    p.retain = false;
    p.payload = sl("0123456789");
    CHECK_EQ(map_decide(pol, req, sc, SENSOR, &p, NULL), 0);
    p.payload = sl("1");
    p.topic = sl("other/t1");
    CHECK_EQ(map_decide(pol, req, sc, SENSOR, &p, NULL), 0);
    p.topic = sl("sensors/t1");
    CHECK_EQ(map_decide(pol, req, sc, "spiffe://example.org/x", &p, NULL), 0);
    /* SUBSCRIBE: the resource is the filter as a Topic */
    struct prx_mqtt_ask s = {.action = PRX_MQTT_A_SUBSCRIBE, .version = V5, .topic = sl("cmd/#")};
    CHECK_EQ(map_decide(pol, req, sc, SENSOR, &s, &why), 1);
    CHECK_STR(why, "sub");
    s.topic = sl("cmd/+");
    CHECK_EQ(map_decide(pol, req, sc, SENSOR, &s, NULL), 0);
    s.topic = sl("grp/#");
    CHECK_EQ(map_decide(pol, req, sc, SENSOR, &s, NULL), 0);
    s.share = sl("g1");
    CHECK_EQ(map_decide(pol, req, sc, SENSOR, &s, &why), 1);
    CHECK_STR(why, "shared");
    /* the mqtt actions are in Action::"mqtt"; receive has topic and qos */
    struct prx_mqtt_ask r = {.action = PRX_MQTT_A_RECEIVE, .topic = sl("news"), .qos = 2};
    CHECK_EQ(map_decide(pol, req, sc, SENSOR, &r, &why), 1);
    CHECK_STR(why, "recv");
    r.qos = 1;
    CHECK_EQ(map_decide(pol, req, sc, SENSOR, &r, NULL), 0);
    CHECK_STR(prx_mqtt_action_name(PRX_MQTT_A_RECEIVE), "mqtt:receive");
    wd_cedar_scratch_free(sc);
    wd_cedar_request_free(req);
    prx_policy_free(pol);
}

/* ---- configuration ---- */

#define CFG_HEAD                                           \
    "identity: {cert: c.pem, key: k.pem, bundle: b.pem}\n" \
    "policy: {policies: p.cedar}\n"                        \
    "listeners:\n"

static int cfg(const char *text, struct prx_config **out, struct wd_diag *d)
{
    return prx_config_parse("proxy.yaml", text, strlen(text), out, d);
}

static bool cfg_fails(const char *text, const char *msg)
{
    struct prx_config *c = NULL;
    struct wd_diag d;
    int rc = cfg(text, &c, &d);
    prx_config_free(c);
    if (rc != WD_ECONFIG || strstr(d.msg, msg) == NULL) {
        printf("  config: rc %d, \"%s\" (wanted \"%s\")\n", rc, rc < 0 ? d.msg : "", msg);
        return false;
    }
    return true;
}

TEST(config_mqtt)
{
    struct prx_config *c = NULL;
    struct wd_diag d;
    CHECK_OK(cfg(CFG_HEAD
                 "  - {name: m, mode: inbound, protocol: mqtt, listen: \"127.0.0.1:8883\", "
                 "upstream: \"127.0.0.1:1883\", mqtt: {bind_client_id: true, "
                 "deny_disconnect: true, max_packet: 65536}}\n"
                 "  - {name: n, mode: inbound, protocol: mqtt, listen: \"127.0.0.1:8884\", "
                 "upstream: \"127.0.0.1:1883\", mqtt: {bind_client_id: path}}\n"
                 "  - {name: o, mode: outbound, protocol: mqtt, listen: \"127.0.0.1:1884\", "
                 "upstream: \"10.0.0.1:8883\", expect_peer: \"spiffe://e.org/b\"}\n",
                 &c, &d));
    CHECK_EQ(c->n_listeners, 3);
    CHECK_EQ(c->listeners[0].proto, PRX_MQTT);
    CHECK_EQ(c->listeners[0].mqtt_bind, PRX_MQTT_BIND_CONF_EXACT);
    CHECK(c->listeners[0].mqtt_deny_disconnect);
    CHECK_EQ(c->listeners[0].mqtt_max_packet, 65536);
    CHECK_EQ(c->listeners[1].mqtt_bind, PRX_MQTT_BIND_CONF_PATH);
    CHECK(!c->listeners[1].mqtt_deny_disconnect);
    CHECK_EQ(c->listeners[1].mqtt_max_packet, PRX_MQTT_MAX_PACKET_DEFAULT);
    CHECK_EQ(c->listeners[2].mqtt_bind, PRX_MQTT_BIND_CONF_NONE);
    prx_config_free(c);
#define L "  - {name: m, mode: inbound, listen: \"127.0.0.1:8883\", upstream: \"127.0.0.1:1883\", "
    CHECK(cfg_fails(CFG_HEAD L "protocol: mqtt, mqtt: {bind_client_id: maybe}}\n",
                    "bind_client_id: expected true, false or path"));
    CHECK(cfg_fails(CFG_HEAD L "protocol: http, mqtt: {deny_disconnect: true}}\n",
                    "mqtt: only for listeners with protocol mqtt"));
    CHECK(cfg_fails(CFG_HEAD L "protocol: mqtt, mqtt: {max_packet: 10}}\n",
                    "max_packet must be between"));
    CHECK(cfg_fails(CFG_HEAD L "protocol: mqtt, mqtt: {qos: 1}}\n", "unknown key 'qos'"));
    CHECK(cfg_fails(CFG_HEAD L "protocol: amqp}\n", "protocol: expected"));
#undef L
    CHECK(cfg_fails(CFG_HEAD "  - {name: o, mode: outbound, protocol: mqtt, listen: "
                             "\"127.0.0.1:1884\", upstream: \"10.0.0.1:8883\", expect_peer: "
                             "\"spiffe://e.org/b\", mqtt: {bind_client_id: true}}\n",
                    "bind_client_id: only for inbound listeners"));
}

int main(void)
{
    RUN(connect_allowed_is_forwarded_unchanged);
    RUN(connect_denied);
    RUN(bind_client_id);
    RUN(publish_decisions);
    RUN(deny_disconnect);
    RUN(subscribe_filters);
    RUN(shared_subscriptions);
    RUN(suback_count_mismatch_is_a_broker_error);
    RUN(pending_subscribes_are_bounded);
    RUN(delivery_decisions);
    RUN(topic_alias_maximum_is_removed);
    RUN(topic_alias_maximum_is_removed_from_connack);
    RUN(malformed_client_bytes);
    RUN(broker_bytes_before_connect);
    RUN(byte_at_a_time);
    RUN(alloc_failures);
    RUN(cedar_mapping);
    RUN(config_mqtt);
    return HARNESS_END("proxy_mqtt");
}
