/*
 * mqtt_probe [--strict] [--version 4|5] CLIENT_STREAM [SERVER_STREAM]
 *
 * Decodes captured MQTT byte streams with warden's codec: CLIENT_STREAM (what a client
 * sent; the first packet must be CONNECT unless --version is given) and SERVER_STREAM (what
 * the server answered, decoded at the version the client's CONNECT chose). Every packet
 * must decode, re-encode to exactly the bytes it came from, and nothing may be left over.
 * One line per packet goes to stdout, "c " or "s " then the type and its main fields, e.g.
 *
 *     c CONNECT v5 id=sub-5 clean=1 keepalive=60 will=0 user=0 pass=0 props=[11 21]
 *     s SUBACK id=1 codes=02
 *     s PUBLISH qos=1 id=3 topic=test/a payload=5 props=[26:k=v]
 *
 * Bytes from the streams are printed with non-printable characters as \xNN. Exits 0 when
 * both streams are clean, 1 otherwise (with the reason on stderr), 2 on usage errors.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "warden/buf.h"
#include "warden/err.h"
#include "warden/file.h"
#include "warden/mqtt.h"

#define MAX_STREAM (64u << 20)

static void put_bytes(struct wd_slice s)
{
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.p[i];
        if (c > 0x20 && c < 0x7F && c != '\\' && c != '=') {
            putchar(c);
        } else {
            printf("\\x%02x", c);
        }
    }
}

static void put_props(struct wd_slice block)
{
    struct wd_mqtt_props_iter it;
    struct wd_mqtt_prop p;
    bool first = true;
    printf(" props=[");
    wd_mqtt_props_iter_init(&it, block);
    while (wd_mqtt_props_next(&it, &p)) {
        printf("%s%02x", first ? "" : " ", p.id);
        first = false;
        if (p.type == WD_MQTT_PT_PAIR) {
            putchar(':');
            put_bytes(p.s);
            putchar('=');
            put_bytes(p.v);
        } else if (p.type == WD_MQTT_PT_STRING) {
            putchar(':');
            put_bytes(p.s);
        } else if (p.type != WD_MQTT_PT_BINARY) {
            printf(":%u", (unsigned)p.num);
        }
    }
    putchar(']');
}

static void put_codes(struct wd_slice codes)
{
    printf(" codes=");
    for (size_t i = 0; i < codes.len; i++) {
        printf("%s%02x", i ? "," : "", codes.p[i]);
    }
}

static void describe(const struct wd_mqtt_packet *pkt)
{
    bool v5 = pkt->version == WD_MQTT_V5;
    printf("%s", wd_mqtt_type_name(pkt->type));
    switch (pkt->type) {
    case WD_MQTT_CONNECT: {
        const struct wd_mqtt_connect *c = &pkt->connect;
        printf(" v%s id=", v5 ? "5" : "3.1.1");
        put_bytes(c->client_id);
        printf(" clean=%d keepalive=%u will=%d", c->clean_start, c->keep_alive, c->will);
        if (c->will) {
            printf(" will_qos=%u will_retain=%d will_topic=", c->will_qos, c->will_retain);
            put_bytes(c->will_topic);
        }
        printf(" user=%d pass=%d", c->has_username, c->has_password);
        if (v5) {
            put_props(c->props);
            if (c->will) {
                printf(" will_");
                put_props(c->will_props);
            }
        }
        break;
    }
    case WD_MQTT_CONNACK:
        printf(" sp=%d code=%02x", pkt->connack.session_present, pkt->connack.code);
        if (v5) {
            put_props(pkt->connack.props);
        }
        break;
    case WD_MQTT_PUBLISH: {
        const struct wd_mqtt_publish *m = &pkt->publish;
        printf(" qos=%u", m->qos);
        if (m->qos > 0) {
            printf(" id=%u", m->packet_id);
        }
        printf(" retain=%d dup=%d topic=", m->retain, m->dup);
        put_bytes(m->topic);
        printf(" payload=%zu", m->payload.len);
        if (v5) {
            put_props(m->props);
        }
        break;
    }
    case WD_MQTT_PUBACK:
    case WD_MQTT_PUBREC:
    case WD_MQTT_PUBREL:
    case WD_MQTT_PUBCOMP:
        printf(" id=%u code=%02x form=%d", pkt->ack.packet_id, pkt->ack.code, (int)pkt->ack.form);
        if (pkt->ack.form == WD_MQTT_FORM_FULL) {
            put_props(pkt->ack.props);
        }
        break;
    case WD_MQTT_SUBSCRIBE:
    case WD_MQTT_UNSUBSCRIBE: {
        struct wd_mqtt_subs_iter it;
        struct wd_mqtt_sub e;
        bool first = true;
        printf(" id=%u filters=", pkt->subscribe.packet_id);
        wd_mqtt_subs_iter_init(&it, pkt);
        while (wd_mqtt_subs_next(&it, &e)) {
            printf("%s", first ? "" : ",");
            first = false;
            put_bytes(e.filter);
            if (pkt->type == WD_MQTT_SUBSCRIBE) {
                printf(":%02x", e.options);
            }
        }
        if (v5) {
            put_props(pkt->subscribe.props);
        }
        break;
    }
    case WD_MQTT_SUBACK:
    case WD_MQTT_UNSUBACK:
        printf(" id=%u", pkt->suback.packet_id);
        put_codes(pkt->suback.codes);
        if (v5) {
            put_props(pkt->suback.props);
        }
        break;
    case WD_MQTT_DISCONNECT:
    case WD_MQTT_AUTH:
        printf(" code=%02x form=%d", pkt->disconnect.code, (int)pkt->disconnect.form);
        if (pkt->disconnect.form == WD_MQTT_FORM_FULL) {
            put_props(pkt->disconnect.props);
        }
        break;
    default:
        break;
    }
    putchar('\n');
}

/* Decode, re-encode and describe every packet of one stream. Returns 0 when clean. */
static int probe(const char *tag, const char *path, struct wd_mqtt_decoder *d)
{
    static uint8_t out[MAX_STREAM];
    struct wd_buf in;
    struct wd_diag diag;
    int status = 1;
    wd_buf_init(&in, MAX_STREAM);
    if (wd_file_read(path, MAX_STREAM, &in, &diag) < 0) {
        (void)fprintf(stderr, "mqtt_probe: %s\n", diag.msg);
        goto out;
    }
    size_t off = 0;
    unsigned n = 0;
    while (off < in.len) {
        struct wd_mqtt_packet pkt;
        int rc = wd_mqtt_decode(d, in.p + off, in.len - off, &pkt);
        if (rc < 0) {
            (void)fprintf(stderr, "mqtt_probe: %s: packet %u at offset %zu: %s (%s)\n", path, n + 1,
                          off, wd_strerror(rc), wd_mqtt_reason_name(d->reason));
            goto out;
        }
        size_t len = 0;
        rc = wd_mqtt_encode_to(&pkt, out, sizeof(out), &len);
        if (rc < 0 || len != pkt.size || memcmp(out, in.p + off, len) != 0) {
            (void)fprintf(stderr,
                          "mqtt_probe: %s: packet %u at offset %zu does not re-encode "
                          "to the same bytes (%s)\n",
                          path, n + 1, off, wd_strerror(rc));
            goto out;
        }
        printf("%s ", tag);
        describe(&pkt);
        off += pkt.size;
        n++;
    }
    status = 0;
out:
    wd_buf_cleanup(&in);
    (void)fflush(stdout);
    return status;
}

int main(int argc, char **argv)
{
    struct wd_mqtt_config cfg;
    uint8_t version = 0;
    int i = 1;
    wd_mqtt_config_default(&cfg);
    cfg.max_packet = MAX_STREAM;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (strcmp(argv[i], "--strict") == 0) {
            cfg.strict_utf8 = true;
        } else if (strcmp(argv[i], "--version") == 0 && i + 1 < argc) {
            i++;
            version = strcmp(argv[i], "5") == 0 ? WD_MQTT_V5 : WD_MQTT_V311;
        } else {
            break;
        }
    }
    if (argc - i < 1 || argc - i > 2) {
        (void)fprintf(
                stderr,
                "usage: mqtt_probe [--strict] [--version 4|5] CLIENT_STREAM [SERVER_STREAM]\n");
        return 2;
    }
    struct wd_mqtt_decoder c, s;
    wd_mqtt_decoder_init(&c, &cfg, WD_MQTT_FROM_CLIENT, version);
    if (probe("c", argv[i], &c) != 0) {
        return 1;
    }
    if (argc - i == 2) {
        if (c.version == 0) {
            (void)fprintf(stderr, "mqtt_probe: no CONNECT in %s: version unknown\n", argv[i]);
            return 1;
        }
        wd_mqtt_decoder_init(&s, &cfg, WD_MQTT_FROM_SERVER, c.version);
        if (probe("s", argv[i + 1], &s) != 0) {
            return 1;
        }
    }
    return 0;
}
