/*
 * Fuzz warden-proxy's MQTT session (src/proxy/mqtt.c): the input is a script of chunks,
 * each sent by the client or by the broker, fed to one session. The policy is a fixed
 * function of the action and topic. Beyond "no crash, no leak":
 *   - everything the session sends either side decodes as valid MQTT from its sender's
 *     side (so the proxy never forwards or makes a packet lib/mqtt would refuse);
 *   - no PUBLISH reaches the broker unless its publish was allowed, none reaches the
 *     client unless its delivery was allowed, and no SUBSCRIBE reaches the broker with a
 *     denied filter;
 *   - nothing reaches the broker before an allowed CONNECT, and after the session closes
 *     nothing more is produced.
 * Script: byte 0 = options (bit 0 deny_disconnect, bits 1-2 bind mode); then chunks of
 * [side: bit 0 (0 client, 1 broker)] [length: 1 byte] [bytes].
 */
#include <stdint.h>
#include <string.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/mqtt.h"

#include "../src/proxy/mqtt.h"

#define MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The policy: deterministic on (action, topic). */
static bool policy(enum prx_mqtt_action a, struct wd_slice topic)
{
    uint32_t h = 2166136261u ^ (uint32_t)a;
    for (size_t i = 0; i < topic.len; i++) {
        h = (h ^ topic.p[i]) * 16777619u;
    }
    if (a == PRX_MQTT_A_CONNECT) {
        return true;
    }
    return (h & 3u) != 0;
}

static bool decide(void *ctx, const struct prx_mqtt_ask *ask)
{
    (void)ctx;
    if (ask->action == PRX_MQTT_A_CONNECT && ask->client_id.len > 0 && ask->client_id.p[0] == 'X') {
        return false;
    }
    return policy(ask->action, ask->topic);
}

/* Check every packet in out (sent on behalf of `dir`) and drop it. */
static void check_out(struct wd_mqtt_decoder *d, struct wd_buf *out, bool to_broker)
{
    size_t off = 0;
    while (off < out->len) {
        struct wd_mqtt_packet p;
        int rc = wd_mqtt_decode(d, out->p + off, out->len - off, &p);
        WD_BUG_ON(rc != WD_OK);
        if (p.type == WD_MQTT_PUBLISH) {
            WD_BUG_ON(
                    !policy(to_broker ? PRX_MQTT_A_PUBLISH : PRX_MQTT_A_RECEIVE, p.publish.topic));
        }
        if (p.type == WD_MQTT_SUBSCRIBE) {
            struct wd_mqtt_subs_iter it;
            struct wd_mqtt_sub e;
            wd_mqtt_subs_iter_init(&it, &p);
            while (wd_mqtt_subs_next(&it, &e)) {
                WD_BUG_ON(!policy(PRX_MQTT_A_SUBSCRIBE, e.filter));
            }
        }
        off += p.size;
    }
    wd_buf_reset(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_INPUT) {
        return 0;
    }
    static const char peer[] = "spiffe://example.org/dev";
    struct prx_mqtt_opts o = {
            .max_packet = 8192,
            .deny_disconnect = (data[0] & 1) != 0,
            .bind = (enum prx_mqtt_bind)((data[0] >> 1) % 3),
            .peer_id = peer,
            .peer_id_len = sizeof(peer) - 1,
    };
    struct prx_mqtt_sess s;
    struct wd_mqtt_config cfg;
    struct wd_mqtt_decoder to_b, to_c;
    struct wd_buf cin, bin, oc, ob;
    prx_mqtt_sess_init(&s, &o, decide, NULL);
    wd_mqtt_config_default(&cfg);
    wd_mqtt_decoder_init(&to_b, &cfg, WD_MQTT_FROM_CLIENT, 0);
    bool to_c_ready = false;
    wd_buf_init(&cin, 16384);
    wd_buf_init(&bin, 16384);
    wd_buf_init(&oc, 1 << 20);
    wd_buf_init(&ob, 1 << 20);
    size_t i = 1;
    while (i + 2 <= size) {
        bool broker = (data[i] & 1) != 0;
        size_t n = WD_MIN((size_t)data[i + 1], size - i - 2);
        const uint8_t *chunk = data + i + 2;
        i += 2 + n;
        bool was_closing = s.closing;
        int rc;
        if (broker) {
            if (wd_buf_append(&bin, chunk, n) < 0) {
                break;
            }
            rc = prx_mqtt_from_broker(&s, &bin, &oc, &ob);
        } else {
            if (wd_buf_append(&cin, chunk, n) < 0) {
                break;
            }
            rc = prx_mqtt_from_client(&s, &cin, &oc, &ob);
        }
        if (rc < 0) {
            WD_BUG_ON(rc != WD_ENOMEM && rc != WD_ELIMIT);
            break;
        }
        if (was_closing) {
            WD_BUG_ON(oc.len != 0 || ob.len != 0);
        }
        if (!s.connected) {
            WD_BUG_ON(ob.len != 0);
        }
        check_out(&to_b, &ob, true);
        if (s.version != 0) {
            if (!to_c_ready) {
                wd_mqtt_decoder_init(&to_c, &cfg, WD_MQTT_FROM_SERVER, s.version);
                to_c_ready = true;
            }
            check_out(&to_c, &oc, false);
        }
        wd_buf_reset(&oc);
        if (s.closing) {
            /* once closed, nothing more is processed */
            WD_BUG_ON(prx_mqtt_from_client(&s, &cin, &oc, &ob) != WD_OK);
            WD_BUG_ON(prx_mqtt_from_broker(&s, &bin, &oc, &ob) != WD_OK);
            WD_BUG_ON(oc.len != 0 || ob.len != 0);
        }
    }
    prx_mqtt_sess_cleanup(&s);
    wd_buf_cleanup(&cin);
    wd_buf_cleanup(&bin);
    wd_buf_cleanup(&oc);
    wd_buf_cleanup(&ob);
    return 0;
}
