/*
 * warden-proxy MQTT: the pure session (see mqtt.h) and its engine glue (prx_mqtt_pump and
 * friends, see proxy.h): TLS from the client, a decision for the CONNECT before the broker
 * is connected, then both directions through the session, one audit line per decision.
 */
#include "mqtt.h"

#include <string.h>
#include <time.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/log.h"

#include "proxy.h"

#define ID_BITMAP_BYTES (65536 / 8)

const char *prx_mqtt_action_name(enum prx_mqtt_action a)
{
    switch (a) {
    case PRX_MQTT_A_CONNECT:
        return "mqtt:connect";
    case PRX_MQTT_A_PUBLISH:
        return "mqtt:publish";
    case PRX_MQTT_A_SUBSCRIBE:
        return "mqtt:subscribe";
    case PRX_MQTT_A_RECEIVE:
        return "mqtt:receive";
    }
    return "mqtt:?";
}

void prx_mqtt_sess_init(struct prx_mqtt_sess *s, const struct prx_mqtt_opts *o,
                        prx_mqtt_decide_fn decide, void *ctx)
{
    memset(s, 0, sizeof(*s));
    s->o = *o;
    s->decide = decide;
    s->ctx = ctx;
    wd_mqtt_config_default(&s->mcfg);
    if (o->max_packet >= 2) {
        s->mcfg.max_packet = o->max_packet;
    }
    wd_mqtt_decoder_init(&s->dc, &s->mcfg, WD_MQTT_FROM_CLIENT, 0);
    wd_mqtt_decoder_init(&s->db, &s->mcfg, WD_MQTT_FROM_SERVER, 0);
}

void prx_mqtt_sess_cleanup(struct prx_mqtt_sess *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->npend; i++) {
        wd_free(s->pend[i].allowed);
    }
    s->npend = 0;
    WD_FREE(s->client_id);
    WD_FREE(s->c_rel);
    WD_FREE(s->b_rel);
}

/* ---- packet id bitmaps ---- */

static bool bit_get(const uint8_t *map, uint16_t id)
{
    return map != NULL && (map[id >> 3] & (1u << (id & 7))) != 0;
}

static int bit_set(uint8_t **map, uint16_t id)
{
    if (*map == NULL) {
        *map = wd_calloc(1, ID_BITMAP_BYTES);
        if (*map == NULL) {
            return WD_ENOMEM;
        }
    }
    (*map)[id >> 3] = (uint8_t)((*map)[id >> 3] | (1u << (id & 7)));
    return WD_OK;
}

static void bit_clear(uint8_t *map, uint16_t id)
{
    if (map != NULL) {
        map[id >> 3] = (uint8_t)(map[id >> 3] & ~(1u << (id & 7)));
    }
}

/* ---- small packets the session makes itself ---- */

static int send_ack(struct prx_mqtt_sess *s, struct wd_buf *out, enum wd_mqtt_type type,
                    uint16_t id, uint8_t code)
{
    struct wd_mqtt_packet p;
    wd_mqtt_ack_init(&p, s->version, type, id, code);
    return wd_mqtt_encode(&p, out);
}

/* v5: DISCONNECT with code to the client (3.1.1 has no server DISCONNECT: nothing). */
static int send_disconnect(struct prx_mqtt_sess *s, struct wd_buf *out, uint8_t code)
{
    if (s->version != WD_MQTT_V5) {
        return WD_OK;
    }
    struct wd_mqtt_packet p;
    wd_mqtt_disconnect_init(&p, s->version, code);
    return wd_mqtt_encode(&p, out);
}

static void end_session(struct prx_mqtt_sess *s, enum prx_mqtt_end why)
{
    s->closing = true;
    s->end = why;
}

/* The client broke a rule (reason r): tell it (v5) and end. */
static int client_error(struct prx_mqtt_sess *s, struct wd_buf *to_client, enum wd_mqtt_reason r,
                        uint8_t version_seen)
{
    s->why = r;
    end_session(s, PRX_MQTT_END_CLIENT_ERROR);
    uint8_t code = wd_mqtt_reason_code(r);
    if (!s->connected) {
        /* Before a CONNECT was accepted the answer is a CONNACK (v5 §3.2.2.2; 3.1.1 only
         * for an unsupported protocol level, §3.1.2.2). */
        struct wd_mqtt_packet p;
        if (version_seen == WD_MQTT_V5) {
            if (code < 0x80) {
                code = WD_MQTT_RC_UNSPECIFIED;
            }
            wd_mqtt_connack_init(&p, WD_MQTT_V5, code, false);
            return wd_mqtt_encode(&p, to_client);
        }
        if (version_seen == WD_MQTT_V311 && r == WD_MQTT_R_PROTOCOL_VERSION) {
            wd_mqtt_connack_init(&p, WD_MQTT_V311, WD_MQTT_RC_UNSUPPORTED_VERSION, false);
            return wd_mqtt_encode(&p, to_client);
        }
        return WD_OK;
    }
    return send_disconnect(s, to_client, code);
}

/* A v5 property block without the Topic Alias Maximum, into b. */
static int strip_alias_max(struct wd_slice props, struct wd_buf *b)
{
    struct wd_mqtt_props_iter it;
    struct wd_mqtt_prop pr;
    wd_mqtt_props_iter_init(&it, props);
    while (wd_mqtt_props_next(&it, &pr)) {
        if (pr.id != WD_MQTT_P_TOPIC_ALIAS_MAXIMUM) {
            WD_TRY(wd_mqtt_props_add(b, &pr));
        }
    }
    return WD_OK;
}

/*
 * Forward pkt (raw bytes raw[0..pkt->size)) to out; a v5 CONNECT or CONNACK carrying a
 * Topic Alias Maximum is re-encoded without it.
 */
static int forward_stripped(const struct wd_mqtt_packet *pkt, const uint8_t *raw,
                            struct wd_slice props, struct wd_buf *out)
{
    struct wd_mqtt_prop pr;
    if (pkt->version != WD_MQTT_V5
        || !wd_mqtt_props_find(props, WD_MQTT_P_TOPIC_ALIAS_MAXIMUM, &pr)) {
        return wd_buf_append(out, raw, pkt->size);
    }
    struct wd_buf b;
    wd_buf_init(&b, pkt->size);
    struct wd_mqtt_packet copy = *pkt;
    int rc;
    WD_CHECK(strip_alias_max(props, &b));
    if (copy.type == WD_MQTT_CONNECT) {
        copy.connect.props = wd_buf_slice(&b);
    } else {
        copy.connack.props = wd_buf_slice(&b);
    }
    WD_CHECK(wd_mqtt_encode(&copy, out));
out:
    wd_buf_cleanup(&b);
    return rc;
}

/* Does the client id satisfy bind_client_id? */
static bool bind_ok(const struct prx_mqtt_sess *s, struct wd_slice cid)
{
    const char *id = s->o.peer_id;
    size_t n = s->o.peer_id_len;
    if (s->o.bind == PRX_MQTT_BIND_NONE) {
        return true;
    }
    if (id == NULL) {
        return false;
    }
    if (s->o.bind == PRX_MQTT_BIND_PATH) {
        /* spiffe://trust-domain/path -> "path" */
        size_t i = 0;
        if (n < 9 || memcmp(id, "spiffe://", 9) != 0) {
            return false;
        }
        i = 9;
        while (i < n && id[i] != '/') {
            i++;
        }
        if (i < n) {
            i++;
        }
        id += i;
        n -= i;
    }
    return n > 0 && cid.len == n && memcmp(cid.p, id, n) == 0;
}

/* ---- from the client ---- */

static int on_connect(struct prx_mqtt_sess *s, const struct wd_mqtt_packet *pkt, const uint8_t *raw,
                      struct wd_buf *to_client, struct wd_buf *to_broker)
{
    const struct wd_mqtt_connect *cn = &pkt->connect;
    struct wd_mqtt_packet ack;
    s->version = pkt->version;
    s->keep_alive = cn->keep_alive;
    if (cn->client_id.len > 0) {
        s->client_id = wd_malloc(cn->client_id.len);
        if (s->client_id == NULL) {
            return WD_ENOMEM;
        }
        memcpy(s->client_id, cn->client_id.p, cn->client_id.len);
        s->client_id_len = cn->client_id.len;
    }
    if (!bind_ok(s, cn->client_id)) {
        s->denied++;
        end_session(s, PRX_MQTT_END_DENIED);
        wd_mqtt_connack_init(&ack, s->version, WD_MQTT_RC_CLIENT_ID_INVALID, false);
        return wd_mqtt_encode(&ack, to_client);
    }
    struct prx_mqtt_ask ask = {
            .action = PRX_MQTT_A_CONNECT,
            .version = s->version,
            .client_id = cn->client_id,
    };
    if (!s->decide(s->ctx, &ask)) {
        s->denied++;
        end_session(s, PRX_MQTT_END_DENIED);
        wd_mqtt_connack_init(&ack, s->version, WD_MQTT_RC_NOT_AUTHORIZED, false);
        return wd_mqtt_encode(&ack, to_client);
    }
    s->connected = true;
    wd_mqtt_decoder_init(&s->db, &s->mcfg, WD_MQTT_FROM_SERVER, s->version);
    return forward_stripped(pkt, raw, cn->props, to_broker);
}

static struct wd_slice cid_slice(const struct prx_mqtt_sess *s)
{
    return (struct wd_slice){s->client_id, s->client_id_len};
}

static int on_publish(struct prx_mqtt_sess *s, const struct wd_mqtt_packet *pkt, const uint8_t *raw,
                      struct wd_buf *to_client, struct wd_buf *to_broker)
{
    const struct wd_mqtt_publish *pb = &pkt->publish;
    if (pb->topic_alias != 0 || pb->topic.len == 0) {
        /* The client was told Topic Alias Maximum 0 (absent). */
        return client_error(s, to_client, WD_MQTT_R_TOPIC_ALIAS, s->version);
    }
    struct prx_mqtt_ask ask = {
            .action = PRX_MQTT_A_PUBLISH,
            .version = s->version,
            .topic = pb->topic,
            .qos = pb->qos,
            .retain = pb->retain,
            .payload = pb->payload,
            .client_id = cid_slice(s),
    };
    if (pb->qos == 2) {
        bit_clear(s->c_rel, pb->packet_id);
    }
    if (s->decide(s->ctx, &ask)) {
        return wd_buf_append(to_broker, raw, pkt->size);
    }
    s->denied++;
    bool v5 = s->version == WD_MQTT_V5;
    if (s->o.deny_disconnect && (!v5 || pb->qos == 0)) {
        end_session(s, PRX_MQTT_END_DENIED);
        return send_disconnect(s, to_client, WD_MQTT_RC_NOT_AUTHORIZED);
    }
    if (pb->qos == 1) {
        return send_ack(s, to_client, WD_MQTT_PUBACK, pb->packet_id, WD_MQTT_RC_NOT_AUTHORIZED);
    }
    if (pb->qos == 2) {
        if (!v5) {
            /* 3.1.1: the exchange goes on with PUBREL, which the session answers. */
            WD_TRY(bit_set(&s->c_rel, pb->packet_id));
        }
        return send_ack(s, to_client, WD_MQTT_PUBREC, pb->packet_id, WD_MQTT_RC_NOT_AUTHORIZED);
    }
    return WD_OK;
}

/* Is there room for a pending entry with this id (a free slot, or the id itself)? */
static bool pend_room(const struct prx_mqtt_sess *s, uint16_t id)
{
    for (size_t i = 0; i < s->npend; i++) {
        if (s->pend[i].id == id) {
            return true;
        }
    }
    return s->npend < PRX_MQTT_PENDING_MAX;
}

/* Forget a pending entry for id, if any (the client reused the id: its fault). */
static void pend_drop(struct prx_mqtt_sess *s, uint16_t id)
{
    for (size_t i = 0; i < s->npend; i++) {
        if (s->pend[i].id == id) {
            wd_free(s->pend[i].allowed);
            s->pend[i] = s->pend[--s->npend];
            return;
        }
    }
}

/* Record a partial SUBSCRIBE (allowed moves in); pend_room() must have said yes. */
static void pend_add(struct prx_mqtt_sess *s, uint16_t id, bool *allowed, uint32_t n)
{
    for (size_t i = 0; i < s->npend; i++) {
        if (s->pend[i].id == id) {
            /* A reused id while the first is pending (the client's fault): replace. */
            wd_free(s->pend[i].allowed);
            s->pend[i].allowed = allowed;
            s->pend[i].n = n;
            return;
        }
    }
    WD_BUG_ON(s->npend >= PRX_MQTT_PENDING_MAX);
    s->pend[s->npend++] = (struct prx_mqtt_pending){.id = id, .n = n, .allowed = allowed};
}

static int on_subscribe(struct prx_mqtt_sess *s, const struct wd_mqtt_packet *pkt,
                        const uint8_t *raw, struct wd_buf *to_client, struct wd_buf *to_broker)
{
    const struct wd_mqtt_subscribe *sb = &pkt->subscribe;
    uint32_t n = sb->count, k = 0;
    bool *allowed = wd_calloc(n == 0 ? 1 : n, sizeof(*allowed));
    uint8_t *codes = NULL;
    int rc = WD_OK;
    if (allowed == NULL) {
        return WD_ENOMEM;
    }
    struct wd_mqtt_subs_iter it;
    struct wd_mqtt_sub e;
    wd_mqtt_subs_iter_init(&it, pkt);
    for (uint32_t i = 0; i < n && wd_mqtt_subs_next(&it, &e); i++) {
        struct prx_mqtt_ask ask = {
                .action = PRX_MQTT_A_SUBSCRIBE,
                .version = s->version,
                .topic = e.filter,
                .qos = WD_MQTT_SUBOPT_QOS(e.options),
                .client_id = cid_slice(s),
        };
        /* A shared subscription is decided on the filter it matches topics with, so that
         * "$share/x/secret/#" is judged as "secret/#" (the decoder checked the syntax). */
        struct wd_mqtt_filter f;
        if (wd_mqtt_filter_parse(s->version, e.filter, false, &f, NULL) == WD_OK && f.shared) {
            ask.topic = f.filter;
            ask.share = f.share_name;
        }
        allowed[i] = s->decide(s->ctx, &ask);
        if (allowed[i]) {
            k++;
        } else {
            s->denied++;
        }
    }
    if (k == n || k == 0) {
        pend_drop(s, sb->packet_id);
    }
    if (k == n) {
        WD_CHECK(wd_buf_append(to_broker, raw, pkt->size));
    } else if (k == 0) {
        /* Nothing goes to the broker: the session answers alone. */
        codes = wd_malloc(n);
        if (codes == NULL) {
            rc = WD_ENOMEM;
            goto out;
        }
        memset(codes, wd_mqtt_deny_code(s->version), n);
        struct wd_mqtt_packet ack = {.type = WD_MQTT_SUBACK, .version = s->version};
        ack.suback.packet_id = sb->packet_id;
        ack.suback.codes = (struct wd_slice){codes, n};
        WD_CHECK(wd_mqtt_encode(&ack, to_client));
    } else if (!pend_room(s, sb->packet_id)) {
        /* Bounded bookkeeping: a client with this many partial SUBSCRIBEs in flight is
         * refused rather than followed. */
        end_session(s, PRX_MQTT_END_LIMIT);
        rc = send_disconnect(s, to_client, WD_MQTT_RC_QUOTA_EXCEEDED);
    } else {
        WD_CHECK(wd_mqtt_encode_subscribe_subset(pkt, allowed, n, to_broker));
        pend_add(s, sb->packet_id, allowed, n);
        allowed = NULL; /* owned by the pending entry */
    }
out:
    wd_free(codes);
    wd_free(allowed);
    return rc;
}

int prx_mqtt_from_client(struct prx_mqtt_sess *s, struct wd_buf *in, struct wd_buf *to_client,
                         struct wd_buf *to_broker)
{
    while (in->len > 0 && !s->closing) {
        struct wd_mqtt_packet pkt;
        int rc = wd_mqtt_decode(&s->dc, in->p, in->len, &pkt);
        if (rc == WD_EAGAIN) {
            return WD_OK;
        }
        if (rc < 0) {
            uint8_t ver = s->version != 0 ? s->version : pkt.version;
            WD_TRY(client_error(s, to_client, s->dc.reason, ver));
            return WD_OK;
        }
        const uint8_t *raw = in->p;
        switch (pkt.type) {
        case WD_MQTT_CONNECT:
            rc = on_connect(s, &pkt, raw, to_client, to_broker);
            break;
        case WD_MQTT_PUBLISH:
            rc = on_publish(s, &pkt, raw, to_client, to_broker);
            break;
        case WD_MQTT_PUBREL:
            if (bit_get(s->c_rel, pkt.ack.packet_id)) {
                bit_clear(s->c_rel, pkt.ack.packet_id);
                rc = send_ack(s, to_client, WD_MQTT_PUBCOMP, pkt.ack.packet_id, 0);
            } else {
                rc = wd_buf_append(to_broker, raw, pkt.size);
            }
            break;
        case WD_MQTT_SUBSCRIBE:
            rc = on_subscribe(s, &pkt, raw, to_client, to_broker);
            break;
        default:
            /* PUBACK / PUBREC / PUBCOMP for deliveries the client saw, UNSUBSCRIBE,
             * PINGREQ, DISCONNECT, AUTH: as they are. */
            rc = wd_buf_append(to_broker, raw, pkt.size);
            break;
        }
        if (rc < 0) {
            return rc;
        }
        wd_buf_consume(in, pkt.size);
    }
    return WD_OK;
}

/* ---- from the broker ---- */

static int broker_error(struct prx_mqtt_sess *s, struct wd_buf *to_client, enum wd_mqtt_reason r)
{
    s->why = r;
    end_session(s, PRX_MQTT_END_BROKER_ERROR);
    return s->connected ? send_disconnect(s, to_client, WD_MQTT_RC_UNSPECIFIED) : WD_OK;
}

static int on_delivery(struct prx_mqtt_sess *s, const struct wd_mqtt_packet *pkt,
                       const uint8_t *raw, struct wd_buf *to_client, struct wd_buf *to_broker)
{
    const struct wd_mqtt_publish *pb = &pkt->publish;
    if (pb->topic_alias != 0 || pb->topic.len == 0) {
        /* The broker was told Topic Alias Maximum 0 (absent). */
        return broker_error(s, to_client, WD_MQTT_R_TOPIC_ALIAS);
    }
    struct prx_mqtt_ask ask = {
            .action = PRX_MQTT_A_RECEIVE,
            .version = s->version,
            .topic = pb->topic,
            .qos = pb->qos,
            .retain = pb->retain,
            .payload = pb->payload,
            .client_id = cid_slice(s),
    };
    if (pb->qos == 2) {
        bit_clear(s->b_rel, pb->packet_id);
    }
    if (s->decide(s->ctx, &ask)) {
        return wd_buf_append(to_client, raw, pkt->size);
    }
    s->denied++;
    if (pb->qos == 1) {
        return send_ack(s, to_broker, WD_MQTT_PUBACK, pb->packet_id, 0);
    }
    if (pb->qos == 2) {
        WD_TRY(bit_set(&s->b_rel, pb->packet_id));
        return send_ack(s, to_broker, WD_MQTT_PUBREC, pb->packet_id, 0);
    }
    return WD_OK;
}

static int on_suback(struct prx_mqtt_sess *s, const struct wd_mqtt_packet *pkt, const uint8_t *raw,
                     struct wd_buf *to_client)
{
    for (size_t i = 0; i < s->npend; i++) {
        struct prx_mqtt_pending *p = &s->pend[i];
        if (p->id != pkt->suback.packet_id) {
            continue;
        }
        int rc = wd_mqtt_encode_suback_merge(pkt, p->allowed, p->n, wd_mqtt_deny_code(s->version),
                                             to_client);
        wd_free(p->allowed);
        s->pend[i] = s->pend[--s->npend];
        if (rc == WD_EINVAL) {
            /* The broker answered a different number of entries than it was sent. */
            return broker_error(s, to_client, WD_MQTT_R_LENGTH);
        }
        return rc;
    }
    return wd_buf_append(to_client, raw, pkt->size);
}

int prx_mqtt_from_broker(struct prx_mqtt_sess *s, struct wd_buf *in, struct wd_buf *to_client,
                         struct wd_buf *to_broker)
{
    while (in->len > 0 && !s->closing) {
        if (!s->connected) {
            WD_TRY(broker_error(s, to_client, WD_MQTT_R_NOT_CONNECTED));
            return WD_OK;
        }
        struct wd_mqtt_packet pkt;
        int rc = wd_mqtt_decode(&s->db, in->p, in->len, &pkt);
        if (rc == WD_EAGAIN) {
            return WD_OK;
        }
        if (rc < 0) {
            WD_TRY(broker_error(s, to_client, s->db.reason));
            return WD_OK;
        }
        const uint8_t *raw = in->p;
        switch (pkt.type) {
        case WD_MQTT_CONNACK:
            rc = forward_stripped(&pkt, raw, pkt.connack.props, to_client);
            break;
        case WD_MQTT_PUBLISH:
            rc = on_delivery(s, &pkt, raw, to_client, to_broker);
            break;
        case WD_MQTT_PUBREL:
            if (bit_get(s->b_rel, pkt.ack.packet_id)) {
                bit_clear(s->b_rel, pkt.ack.packet_id);
                rc = send_ack(s, to_broker, WD_MQTT_PUBCOMP, pkt.ack.packet_id, 0);
            } else {
                rc = wd_buf_append(to_client, raw, pkt.size);
            }
            break;
        case WD_MQTT_SUBACK:
            rc = on_suback(s, &pkt, raw, to_client);
            break;
        default:
            rc = wd_buf_append(to_client, raw, pkt.size);
            break;
        }
        if (rc < 0) {
            return rc;
        }
        wd_buf_consume(in, pkt.size);
    }
    return WD_OK;
}

/* ==== engine glue ==== */

/* Output buffers are only added to while below this; one input buffer's worth of packets
 * may follow, so the caps below hold. */
#define OUT_SOFT ((size_t)64 * 1024)

struct prx_mq {
    struct prx_mqtt_sess s;
    bool connecting;  /* the upstream's connect / TLS is under way */
    int64_t t_client; /* last bytes from the client (monotonic ms) */
    int64_t t_up;     /* upstream connect started */
};

static uint64_t us_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t us = (int64_t)(t1.tv_sec - t0->tv_sec) * 1000000 + (t1.tv_nsec - t0->tv_nsec) / 1000;
    return us < 0 ? 0 : (uint64_t)us;
}

/* The session's decision callback: Cedar with the worker's current generation. */
static bool mq_decide(void *ctx, const struct prx_mqtt_ask *ask)
{
    struct prx_conn *c = ctx;
    struct prx_worker *w = c->w;
    struct prx_gen *g = w->gen;
    if (!c->l->enforce) {
        return true;
    }
    bool in = c->l->mode == PRX_INBOUND;
    struct prx_peer pe = {
            .id = in ? c->peer.id : g->self.str,
            .id_len = in ? c->peer.id_len : g->self.len,
            .claims = in ? c->peer.claims : (g->has_self_claims ? &g->self_claims : NULL),
            .ip = c->ip,
            .port = ntohs(c->l->listen.sin.sin_port),
    };
    const char *broker = in ? g->self.str : c->l->expect_peer.str;
    struct wd_cedar_response r = {0};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct wd_detect_result hits;
    struct prx_found found = {.det = g->detect, .hits = &hits};
    int rc = WD_OK;
    memset(&hits, 0, sizeof(hits));
    if (ask->action == PRX_MQTT_A_PUBLISH || ask->action == PRX_MQTT_A_RECEIVE) {
        /* MQTT has no content type the proxy trusts: json_field detectors do not apply. */
        rc = prx_detect(w, g, ask->payload.p, ask->payload.len, false, &hits);
    }
    if (rc == WD_OK) {
        rc = prx_map_mqtt_ex(w->creq, &pe, broker, strlen(broker), ask, &found, wd_time_now());
    }
    if (rc == WD_OK) {
        rc = wd_cedar_authorize(g->pol->az, g->pol->ents, w->creq, w->scratch, &r);
    }
    uint64_t us = us_since(&t0);
    prx_hist_observe(&prx_m.decision_us, us);
    bool allow = rc == WD_OK && r.allow;
    atomic_fetch_add_explicit(rc < 0  ? &prx_m.decide_err
                              : allow ? &prx_m.allow
                                      : &prx_m.deny,
                              1, memory_order_relaxed);
    if (allow && !prx_sample(w, g)) {
        return allow;
    }
    char rid[48];
    char *topic = NULL;
    prx_request_id(w, rid, sizeof(rid));
    if (ask->action != PRX_MQTT_A_CONNECT) {
        topic = wd_strndup((const char *)ask->topic.p, ask->topic.len);
        if (topic == NULL) {
            wd_log(WD_LOG_WARN, "audit: out of memory");
            return allow;
        }
    }
    struct prx_audit_rec a = {
            .request_id = rid,
            .listener = c->l->name,
            .ptype = pe.id != NULL ? "Workload" : "Anonymous",
            .pid = pe.id != NULL ? pe.id : pe.ip,
            .pid_len = pe.id != NULL ? pe.id_len : strlen(pe.ip),
            .action = prx_mqtt_action_name(ask->action),
            .resource = topic != NULL ? topic : broker,
            .rtype = topic != NULL ? "Topic" : NULL,
            .allow = allow,
            .resp = rc == WD_OK ? &r : NULL,
            .reason = rc < 0 ? wd_strerror(rc) : NULL,
            .eval_us = us,
    };
    prx_audit_write(g, &a);
    wd_free(topic);
    return allow;
}

static int mq_ensure(struct prx_conn *c)
{
    if (c->mq != NULL) {
        return WD_OK;
    }
    const struct prx_listener_conf *l = c->l;
    struct prx_mq *mq = wd_calloc(1, sizeof(*mq));
    if (mq == NULL) {
        return WD_ENOMEM;
    }
    struct prx_mqtt_opts o = {
            .max_packet = l->mqtt_max_packet,
            .bind = l->mqtt_bind == PRX_MQTT_BIND_CONF_EXACT  ? PRX_MQTT_BIND_EXACT
                    : l->mqtt_bind == PRX_MQTT_BIND_CONF_PATH ? PRX_MQTT_BIND_PATH
                                                              : PRX_MQTT_BIND_NONE,
            .deny_disconnect = l->mqtt_deny_disconnect,
    };
    prx_mqtt_sess_init(&mq->s, &o, mq_decide, c);
    /* A whole packet must fit the input buffers; the outputs take what one input yields. */
    size_t inmax = (size_t)l->mqtt_max_packet + 16384;
    wd_buf_cleanup(&c->din);
    wd_buf_cleanup(&c->uin);
    wd_buf_cleanup(&c->dout);
    wd_buf_cleanup(&c->uout);
    wd_buf_init(&c->din, inmax);
    wd_buf_init(&c->uin, inmax);
    wd_buf_init(&c->dout, 2 * inmax + OUT_SOFT);
    wd_buf_init(&c->uout, 2 * inmax + OUT_SOFT);
    c->mq = mq;
    return WD_OK;
}

void prx_mqtt_close(struct prx_conn *c)
{
    if (c->mq == NULL) {
        return;
    }
    prx_mqtt_sess_cleanup(&c->mq->s);
    WD_FREE(c->mq);
}

void prx_mqtt_timeout(struct prx_conn *c)
{
    atomic_fetch_add_explicit(&prx_m.err_timeout, 1, memory_order_relaxed);
    wd_log(WD_LOG_INFO, "%s: %s: MQTT timeout", c->l->name, c->ip);
    prx_conn_close(c);
}

static void mq_log_end(struct prx_conn *c)
{
    const struct prx_mqtt_sess *s = &c->mq->s;
    switch (s->end) {
    case PRX_MQTT_END_CLIENT_ERROR:
        atomic_fetch_add_explicit(s->why >= WD_MQTT_R_PACKET_TOO_LARGE ? &prx_m.err_limit
                                                                       : &prx_m.err_bad_request,
                                  1, memory_order_relaxed);
        wd_log(WD_LOG_INFO, "%s: %s: MQTT client error: %s", c->l->name, c->ip,
               wd_mqtt_reason_name(s->why));
        break;
    case PRX_MQTT_END_BROKER_ERROR:
        atomic_fetch_add_explicit(&prx_m.err_upstream, 1, memory_order_relaxed);
        wd_log(WD_LOG_WARN, "%s: MQTT broker error: %s", c->l->name, wd_mqtt_reason_name(s->why));
        break;
    case PRX_MQTT_END_LIMIT:
        atomic_fetch_add_explicit(&prx_m.err_limit, 1, memory_order_relaxed);
        break;
    default:
        break;
    }
}

/* When the connection's timer should fire. */
static int64_t mq_deadline(struct prx_conn *c)
{
    const struct prx_limits *lim = &prx_eng.cfg->limits;
    struct prx_mq *mq = c->mq;
    if (!mq->s.connected) {
        /* the CONNECT must come within header_timeout of the handshake */
        return c->t_state + lim->header_ms;
    }
    if (mq->connecting) {
        return mq->t_up + lim->upstream_ms;
    }
    /* MQTT 5.0 §3.1.2.10: one and a half times the Keep Alive; without one, idle_timeout */
    int64_t idle = mq->s.keep_alive > 0 ? (int64_t)mq->s.keep_alive * 1500 : lim->idle_ms;
    return mq->t_client + idle;
}

/* One round of the upstream side; -1: close. progress is set when anything moved. */
static int mq_upstream(struct prx_conn *c, bool *progress)
{
    struct prx_mq *mq = c->mq;
    if (mq->s.connected && c->up == NULL && !mq->s.closing) {
        if (prx_up_connect(c, &c->up) < 0) {
            atomic_fetch_add_explicit(&prx_m.err_upstream, 1, memory_order_relaxed);
            return -1;
        }
        mq->connecting = true;
        mq->t_up = prx_now();
        *progress = true;
    }
    if (c->up == NULL) {
        return 0;
    }
    if (mq->connecting) {
        int r = prx_up_ready(c, c->up);
        if (r < 0) {
            atomic_fetch_add_explicit(&prx_m.err_upstream, 1, memory_order_relaxed);
            return -1;
        }
        if (r == 0) {
            return 0;
        }
        mq->connecting = false;
        *progress = true;
    }
    struct prx_io *u = &c->up->io;
    if (!u->eof && c->uin.len < c->uin.max) {
        ssize_t r = prx_io_fill(c->w, u, &c->uin);
        if (r == PRX_IO_ERR) {
            return -1;
        }
        *progress = *progress || r > 0;
    }
    if (!mq->s.closing && c->dout.len < OUT_SOFT && c->uout.len < OUT_SOFT && c->uin.len > 0) {
        size_t before = c->uin.len;
        if (prx_mqtt_from_broker(&mq->s, &c->uin, &c->dout, &c->uout) < 0) {
            return -1;
        }
        *progress = *progress || c->uin.len != before;
    }
    if (c->uout.len > 0 && !mq->s.closing) {
        size_t before = c->uout.len;
        if (prx_io_flush(u, &c->uout) == PRX_IO_ERR) {
            return -1;
        }
        *progress = *progress || c->uout.len != before;
    }
    return 0;
}

void prx_mqtt_pump(struct prx_conn *c)
{
    struct prx_worker *w = c->w;
    int round;
    if (mq_ensure(c) < 0) {
        prx_conn_close(c);
        return;
    }
    struct prx_mq *mq = c->mq;
    for (round = 0; round < 64; round++) {
        bool progress = false;
        if (c->state == PRX_C_HANDSHAKE) {
            int r = prx_io_handshake(&c->d, true);
            if (r < 0) {
                atomic_fetch_add_explicit(&prx_m.tls_fail, 1, memory_order_relaxed);
                wd_log(WD_LOG_INFO, "%s: %s: TLS handshake failed", c->l->name, c->ip);
                prx_conn_close(c);
                return;
            }
            if (r == 0) {
                return;
            }
            atomic_fetch_add_explicit(&prx_m.tls_ok, 1, memory_order_relaxed);
            if (!prx_conn_after_handshake(c)) {
                prx_conn_close(c);
                return;
            }
            c->state = PRX_C_MQTT;
            c->t_state = prx_now();
            mq->s.o.peer_id = c->peer.id;
            mq->s.o.peer_id_len = c->peer.id_len;
        }
        /* from the client */
        if (!c->d.eof && c->din.len < c->din.max && !mq->s.closing) {
            ssize_t r = prx_io_fill(w, &c->d, &c->din);
            if (r == PRX_IO_ERR) {
                prx_conn_close(c);
                return;
            }
            if (r > 0) {
                progress = true;
                mq->t_client = prx_now();
            }
        }
        if (!mq->s.closing && c->uout.len < OUT_SOFT && c->dout.len < OUT_SOFT && c->din.len > 0) {
            size_t before = c->din.len;
            if (prx_mqtt_from_client(&mq->s, &c->din, &c->dout, &c->uout) < 0) {
                prx_conn_close(c);
                return;
            }
            progress = progress || c->din.len != before;
        }
        if (mq_upstream(c, &progress) < 0) {
            mq_log_end(c);
            prx_conn_close(c);
            return;
        }
        /* to the client */
        if (c->dout.len > 0) {
            size_t before = c->dout.len;
            if (prx_io_flush(&c->d, &c->dout) == PRX_IO_ERR) {
                prx_conn_close(c);
                return;
            }
            progress = progress || c->dout.len != before;
        }
        if (mq->s.closing && c->dout.len == 0) {
            mq_log_end(c);
            prx_conn_close(c);
            return;
        }
        if (c->d.fatal || (c->up != NULL && c->up->io.fatal)) {
            prx_conn_close(c);
            return;
        }
        /* The client left: what it sent last (DISCONNECT) goes to the broker first. */
        if (c->d.eof && (c->uout.len == 0 || c->up == NULL || mq->connecting)) {
            prx_conn_close(c);
            return;
        }
        if (!progress) {
            /* The broker left: the client got what could be passed on; now the close. */
            if (c->up != NULL && c->up->io.eof && c->dout.len == 0) {
                prx_conn_close(c);
                return;
            }
            break;
        }
    }
    if (round == 64) {
        prx_conn_requeue(c);
    }
    if (c->state != PRX_C_HANDSHAKE) {
        prx_timer_set(w, &c->tm, mq_deadline(c));
    }
}
