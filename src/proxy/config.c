/* warden-proxy configuration: strict YAML loader (see config.h and docs/proxy.md). */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/clock.h"
#include "warden/doc.h"
#include "warden/file.h"
#include "warden/log.h"

#define PATH_MAX_LEN 4095

int prx_addr_parse(const char *s, size_t n, struct prx_addr *out)
{
    char host[16];
    const char *colon = NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ':') {
            colon = s + i;
            break;
        }
    }
    WD_ENSURE(colon != NULL, WD_EPROTO);
    size_t hlen = (size_t)(colon - s);
    size_t plen = n - hlen - 1;
    WD_ENSURE(hlen >= 7 && hlen < sizeof(host), WD_EPROTO);
    WD_ENSURE(plen >= 1 && plen <= 5, WD_EPROTO);
    unsigned long port = 0;
    for (size_t i = 0; i < plen; i++) {
        char c = colon[1 + i];
        WD_ENSURE(c >= '0' && c <= '9', WD_EPROTO);
        port = port * 10 + (unsigned long)(c - '0');
    }
    WD_ENSURE(port >= 1 && port <= 65535, WD_EPROTO);
    for (size_t i = 0; i < hlen; i++) {
        WD_ENSURE((s[i] >= '0' && s[i] <= '9') || s[i] == '.', WD_EPROTO);
    }
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    memset(out, 0, sizeof(*out));
    out->sin.sin_family = AF_INET;
    out->sin.sin_port = htons((uint16_t)port);
    WD_ENSURE(inet_pton(AF_INET, host, &out->sin.sin_addr) == 1, WD_EPROTO);
    memcpy(out->text, s, n);
    out->text[n] = '\0';
    return WD_OK;
}

/* A path; a relative one is taken relative to the directory of the config file. */
static int get_path(const struct wd_doc *doc, const struct wd_node *n, const char *base,
                    size_t base_len, const char *what, char **out, struct wd_diag *diag)
{
    if (n->type != WD_NODE_STR) {
        return wd_doc_error(doc, n, diag, "%s: expected string, got %s", what,
                            wd_node_type_name(n->type));
    }
    if (n->u.s.len > PATH_MAX_LEN) {
        return wd_doc_error(doc, n, diag, "%s is longer than %d bytes", what, PATH_MAX_LEN);
    }
    char *s = NULL;
    WD_TRY(wd_doc_str_dup(doc, n, what, &s, diag));
    WD_BUG_ON(s == NULL);
    if (s[0] == '/' || base_len == 0 || strcmp(s, "-") == 0) {
        *out = s;
        return WD_OK;
    }
    struct wd_buf b;
    wd_buf_init(&b, base_len + n->u.s.len + 2);
    int rc = WD_OK;
    WD_CHECK(wd_buf_append(&b, base, base_len));
    WD_CHECK(wd_buf_append_str(&b, s));
    *out = wd_buf_steal(&b, NULL);
    rc = *out == NULL ? WD_ENOMEM : WD_OK;
out:
    wd_buf_cleanup(&b);
    wd_free(s);
    return rc;
}

static int get_duration(const struct wd_doc *doc, const struct wd_node *n, const char *what,
                        int64_t min, int64_t max, int64_t *out, struct wd_diag *diag)
{
    int64_t ms = 0;
    if (n == NULL) {
        return WD_OK;
    }
    if (memchr(n->u.s.p, '\0', n->u.s.len) != NULL || wd_duration_parse(n->u.s.p, &ms) < 0) {
        return wd_doc_error(doc, n, diag, "%s: not a duration (e.g. \"500ms\", \"10s\", \"1m\")",
                            what);
    }
    if (ms < min || ms > max) {
        return wd_doc_error(doc, n, diag, "%s must be between %lld ms and %lld ms", what,
                            (long long)min, (long long)max);
    }
    *out = ms;
    return WD_OK;
}

static int get_size(const struct wd_doc *doc, const struct wd_node *n, const char *what,
                    int64_t min, int64_t max, size_t *out, struct wd_diag *diag)
{
    if (n == NULL) {
        return WD_OK;
    }
    if (n->u.i < min || n->u.i > max) {
        return wd_doc_error(doc, n, diag, "%s must be between %lld and %lld", what, (long long)min,
                            (long long)max);
    }
    *out = (size_t)n->u.i;
    return WD_OK;
}

static int get_addr(const struct wd_doc *doc, const struct wd_node *n, const char *what,
                    struct prx_addr *out, struct wd_diag *diag)
{
    if (prx_addr_parse(n->u.s.p, n->u.s.len, out) < 0) {
        return wd_doc_error(doc, n, diag, "%s: expected \"IPv4:PORT\" such as \"127.0.0.1:8443\"",
                            what);
    }
    return WD_OK;
}

void prx_config_free(struct prx_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    wd_free(cfg->cert);
    wd_free(cfg->key);
    wd_free(cfg->bundle);
    for (size_t i = 0; i < cfg->n_policies; i++) {
        wd_free(cfg->policies[i]);
    }
    wd_free(cfg->policies);
    wd_free(cfg->entities);
    wd_free(cfg->schema);
    wd_free(cfg->audit_path);
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        wd_free(cfg->listeners[i].name);
    }
    wd_free(cfg->listeners);
    wd_route_set_free(cfg->routes);
    wd_detect_set_free(cfg->detect);
    wd_free(cfg);
}

static bool name_valid(const char *s, size_t n)
{
    if (n == 0 || n > PRX_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                  || c == '.' || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

static int parse_mqtt(const struct wd_doc *doc, const struct wd_node *n,
                      struct prx_listener_conf *l, struct wd_diag *diag)
{
    const struct wd_node *bind = NULL, *deny = NULL, *maxp = NULL;
    const struct wd_field fields[] = {
            {"bind_client_id", WD_NODE_NULL, WD_FIELD_OPTIONAL, &bind},
            {"deny_disconnect", WD_NODE_BOOL, WD_FIELD_OPTIONAL, &deny},
            {"max_packet", WD_NODE_INT, WD_FIELD_OPTIONAL, &maxp},
    };
    WD_TRY(wd_doc_read_object(doc, n, fields, WD_ARRAY_LEN(fields), diag));
    if (bind != NULL) {
        if (bind->type == WD_NODE_BOOL) {
            l->mqtt_bind = bind->u.b ? PRX_MQTT_BIND_CONF_EXACT : PRX_MQTT_BIND_CONF_NONE;
        } else if (bind->type == WD_NODE_STR && bind->u.s.len == 4
                   && memcmp(bind->u.s.p, "path", 4) == 0) {
            l->mqtt_bind = PRX_MQTT_BIND_CONF_PATH;
        } else {
            return wd_doc_error(doc, bind, diag, "bind_client_id: expected true, false or path");
        }
        if (l->mqtt_bind != PRX_MQTT_BIND_CONF_NONE && l->mode != PRX_INBOUND) {
            return wd_doc_error(doc, bind, diag,
                                "bind_client_id: only for inbound listeners (the peer is the "
                                "client there)");
        }
    }
    if (deny != NULL) {
        l->mqtt_deny_disconnect = deny->u.b;
    }
    if (maxp != NULL) {
        if (maxp->u.i < 64 || maxp->u.i > PRX_MQTT_MAX_PACKET_LIMIT) {
            return wd_doc_error(doc, maxp, diag, "max_packet must be between 64 and %d",
                                PRX_MQTT_MAX_PACKET_LIMIT);
        }
        l->mqtt_max_packet = (uint32_t)maxp->u.i;
    }
    return WD_OK;
}

static int parse_listener(const struct wd_doc *doc, const struct wd_node *n,
                          struct prx_listener_conf *l, struct wd_diag *diag)
{
    const struct wd_node *name = NULL, *mode = NULL, *proto = NULL, *listen = NULL,
                         *upstream = NULL, *peer = NULL, *enforce = NULL, *mqtt = NULL;
    const struct wd_field fields[] = {
            {"name", WD_NODE_STR, WD_FIELD_REQUIRED, &name},
            {"mode", WD_NODE_STR, WD_FIELD_REQUIRED, &mode},
            {"protocol", WD_NODE_STR, WD_FIELD_REQUIRED, &proto},
            {"listen", WD_NODE_STR, WD_FIELD_REQUIRED, &listen},
            {"upstream", WD_NODE_STR, WD_FIELD_REQUIRED, &upstream},
            {"expect_peer", WD_NODE_STR, WD_FIELD_OPTIONAL, &peer},
            {"enforce", WD_NODE_BOOL, WD_FIELD_OPTIONAL, &enforce},
            {"mqtt", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &mqtt},
    };
    WD_TRY(wd_doc_read_object(doc, n, fields, WD_ARRAY_LEN(fields), diag));
    if (!name_valid(name->u.s.p, name->u.s.len)) {
        return wd_doc_error(doc, name, diag, "name: 1..%d characters of A-Z a-z 0-9 . _ -",
                            PRX_NAME_MAX);
    }
    WD_TRY(wd_doc_str_dup(doc, name, "name", &l->name, diag));
    if (strcmp(mode->u.s.p, "inbound") == 0) {
        l->mode = PRX_INBOUND;
    } else if (strcmp(mode->u.s.p, "outbound") == 0) {
        l->mode = PRX_OUTBOUND;
    } else {
        return wd_doc_error(doc, mode, diag, "mode: expected \"inbound\" or \"outbound\"");
    }
    if (strcmp(proto->u.s.p, "http") == 0) {
        l->proto = PRX_HTTP;
    } else if (strcmp(proto->u.s.p, "tcp") == 0) {
        l->proto = PRX_TCP;
    } else if (strcmp(proto->u.s.p, "mqtt") == 0) {
        l->proto = PRX_MQTT;
    } else {
        return wd_doc_error(doc, proto, diag, "protocol: expected \"http\", \"mqtt\" or \"tcp\"");
    }
    WD_TRY(get_addr(doc, listen, "listen", &l->listen, diag));
    WD_TRY(get_addr(doc, upstream, "upstream", &l->upstream, diag));
    if (peer != NULL) {
        struct wd_diag sub;
        if (l->mode != PRX_OUTBOUND) {
            return wd_doc_error(doc, peer, diag,
                                "expect_peer: only for outbound listeners (inbound ones decide "
                                "by policy)");
        }
        if (wd_spiffe_id_parse(peer->u.s.p, peer->u.s.len, &l->expect_peer, NULL, &sub) < 0) {
            return wd_doc_error(doc, peer, diag, "expect_peer: %s", sub.msg);
        }
        l->has_expect_peer = true;
    } else if (l->mode == PRX_OUTBOUND) {
        return wd_doc_error(doc, n, diag,
                            "missing key 'expect_peer' (an outbound listener must name the "
                            "remote proxy's SPIFFE ID)");
    }
    if (enforce != NULL) {
        if (l->mode != PRX_OUTBOUND) {
            return wd_doc_error(doc, enforce, diag,
                                "enforce: only for outbound listeners (inbound ones always "
                                "enforce)");
        }
        l->enforce = enforce->u.b;
    } else {
        l->enforce = l->mode == PRX_INBOUND;
    }
    l->mqtt_max_packet = PRX_MQTT_MAX_PACKET_DEFAULT;
    if (mqtt != NULL) {
        if (l->proto != PRX_MQTT) {
            return wd_doc_error(doc, mqtt, diag, "mqtt: only for listeners with protocol mqtt");
        }
        WD_TRY(parse_mqtt(doc, mqtt, l, diag));
    }
    return WD_OK;
}

static int parse_listeners(const struct wd_doc *doc, const struct wd_node *n,
                           struct prx_config *cfg, struct wd_diag *diag)
{
    if (n->u.arr.n == 0) {
        return wd_doc_error(doc, n, diag, "listeners: at least one listener is needed");
    }
    if (n->u.arr.n > PRX_LISTENERS_MAX) {
        return wd_doc_error(doc, n, diag, "listeners: at most %d", PRX_LISTENERS_MAX);
    }
    cfg->listeners = wd_calloc(n->u.arr.n, sizeof(*cfg->listeners));
    if (cfg->listeners == NULL) {
        return WD_ENOMEM;
    }
    for (size_t i = 0; i < n->u.arr.n; i++) {
        const struct wd_node *item = n->u.arr.items[i];
        cfg->n_listeners = i + 1;
        WD_TRY(parse_listener(doc, item, &cfg->listeners[i], diag));
        for (size_t k = 0; k < i; k++) {
            if (strcmp(cfg->listeners[k].name, cfg->listeners[i].name) == 0) {
                return wd_doc_error(doc, item, diag, "listeners: a second listener named '%s'",
                                    cfg->listeners[i].name);
            }
            if (memcmp(&cfg->listeners[k].listen.sin, &cfg->listeners[i].listen.sin,
                       sizeof(struct sockaddr_in))
                == 0) {
                return wd_doc_error(doc, item, diag, "listeners: '%s' listens on %s like '%s'",
                                    cfg->listeners[i].name, cfg->listeners[i].listen.text,
                                    cfg->listeners[k].name);
            }
        }
    }
    return WD_OK;
}

static int parse_policy(const struct wd_doc *doc, const struct wd_node *n, const char *base,
                        size_t blen, struct prx_config *cfg, struct wd_diag *diag)
{
    const struct wd_node *pols = NULL, *ents = NULL, *schema = NULL;
    const struct wd_field fields[] = {
            {"policies", WD_NODE_NULL, WD_FIELD_REQUIRED, &pols},
            {"entities", WD_NODE_STR, WD_FIELD_OPTIONAL, &ents},
            {"schema", WD_NODE_STR, WD_FIELD_OPTIONAL, &schema},
    };
    WD_TRY(wd_doc_read_object(doc, n, fields, WD_ARRAY_LEN(fields), diag));
    if (pols->type == WD_NODE_STR) {
        cfg->policies = wd_calloc(1, sizeof(char *));
        if (cfg->policies == NULL) {
            return WD_ENOMEM;
        }
        cfg->n_policies = 1;
        WD_TRY(get_path(doc, pols, base, blen, "policies", &cfg->policies[0], diag));
    } else if (pols->type == WD_NODE_ARR) {
        if (pols->u.arr.n == 0 || pols->u.arr.n > PRX_POLICIES_MAX) {
            return wd_doc_error(doc, pols, diag, "policies: 1 to %d files", PRX_POLICIES_MAX);
        }
        cfg->policies = wd_calloc(pols->u.arr.n, sizeof(char *));
        if (cfg->policies == NULL) {
            return WD_ENOMEM;
        }
        for (size_t i = 0; i < pols->u.arr.n; i++) {
            cfg->n_policies = i + 1;
            WD_TRY(get_path(doc, pols->u.arr.items[i], base, blen, "policies", &cfg->policies[i],
                            diag));
        }
    } else {
        return wd_doc_error(doc, pols, diag, "policies: expected a path or a list of paths, got %s",
                            wd_node_type_name(pols->type));
    }
    if (ents != NULL) {
        WD_TRY(get_path(doc, ents, base, blen, "entities", &cfg->entities, diag));
    }
    if (schema != NULL) {
        WD_TRY(get_path(doc, schema, base, blen, "schema", &cfg->schema, diag));
    }
    return WD_OK;
}

static int parse_limits(const struct wd_doc *doc, const struct wd_node *n, struct prx_limits *lim,
                        struct wd_diag *diag)
{
    const struct wd_node *hs = NULL, *hdr = NULL, *idle = NULL, *body = NULL, *up = NULL,
                         *drain = NULL, *mhb = NULL, *mhc = NULL, *mb = NULL, *mc = NULL;
    const struct wd_field fields[] = {
            {"handshake_timeout", WD_NODE_STR, WD_FIELD_OPTIONAL, &hs},
            {"header_timeout", WD_NODE_STR, WD_FIELD_OPTIONAL, &hdr},
            {"idle_timeout", WD_NODE_STR, WD_FIELD_OPTIONAL, &idle},
            {"body_timeout", WD_NODE_STR, WD_FIELD_OPTIONAL, &body},
            {"upstream_timeout", WD_NODE_STR, WD_FIELD_OPTIONAL, &up},
            {"drain_timeout", WD_NODE_STR, WD_FIELD_OPTIONAL, &drain},
            {"max_header_bytes", WD_NODE_INT, WD_FIELD_OPTIONAL, &mhb},
            {"max_header_count", WD_NODE_INT, WD_FIELD_OPTIONAL, &mhc},
            {"max_body", WD_NODE_INT, WD_FIELD_OPTIONAL, &mb},
            {"max_connections", WD_NODE_INT, WD_FIELD_OPTIONAL, &mc},
    };
    const int64_t hour = (int64_t)3600 * 1000;
    WD_TRY(wd_doc_read_object(doc, n, fields, WD_ARRAY_LEN(fields), diag));
    WD_TRY(get_duration(doc, hs, "handshake_timeout", 10, hour, &lim->handshake_ms, diag));
    WD_TRY(get_duration(doc, hdr, "header_timeout", 10, hour, &lim->header_ms, diag));
    WD_TRY(get_duration(doc, idle, "idle_timeout", 10, 24 * hour, &lim->idle_ms, diag));
    WD_TRY(get_duration(doc, body, "body_timeout", 10, hour, &lim->body_ms, diag));
    WD_TRY(get_duration(doc, up, "upstream_timeout", 10, hour, &lim->upstream_ms, diag));
    WD_TRY(get_duration(doc, drain, "drain_timeout", 0, hour, &lim->drain_ms, diag));
    WD_TRY(get_size(doc, mhb, "max_header_bytes", 256, 1 << 20, &lim->max_header_bytes, diag));
    WD_TRY(get_size(doc, mhc, "max_header_count", 1, 1000, &lim->max_header_count, diag));
    WD_TRY(get_size(doc, mb, "max_body", 0, (int64_t)1 << 30, &lim->max_body, diag));
    WD_TRY(get_size(doc, mc, "max_connections", 1, 1000000, &lim->max_connections, diag));
    return WD_OK;
}

static void limits_default(struct prx_limits *lim)
{
    lim->handshake_ms = (int64_t)10 * 1000;
    lim->header_ms = (int64_t)10 * 1000;
    lim->idle_ms = (int64_t)60 * 1000;
    lim->body_ms = (int64_t)30 * 1000;
    lim->upstream_ms = (int64_t)30 * 1000;
    lim->drain_ms = (int64_t)10 * 1000;
    lim->max_header_bytes = 16384;
    lim->max_header_count = 100;
    lim->max_body = 1u << 20;
    lim->max_connections = 10000;
}

static int parse_root(const struct wd_doc *doc, const char *base, size_t blen,
                      struct prx_config *cfg, struct wd_diag *diag)
{
    const struct wd_node *root = wd_doc_root(doc);
    const struct wd_node *ident = NULL, *listeners = NULL, *policy = NULL, *audit = NULL,
                         *admin = NULL, *limits = NULL, *workers = NULL, *level = NULL,
                         *routes = NULL, *detectors = NULL, *scan = NULL;
    const struct wd_field fields[] = {
            {"identity", WD_NODE_OBJ, WD_FIELD_REQUIRED, &ident},
            {"listeners", WD_NODE_ARR, WD_FIELD_REQUIRED, &listeners},
            {"policy", WD_NODE_OBJ, WD_FIELD_REQUIRED, &policy},
            {"audit", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &audit},
            {"admin", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &admin},
            {"limits", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &limits},
            {"workers", WD_NODE_INT, WD_FIELD_OPTIONAL, &workers},
            {"log_level", WD_NODE_STR, WD_FIELD_OPTIONAL, &level},
            {"routes", WD_NODE_NULL, WD_FIELD_OPTIONAL, &routes},
            {"detectors", WD_NODE_NULL, WD_FIELD_OPTIONAL, &detectors},
            {"scan", WD_NODE_NULL, WD_FIELD_OPTIONAL, &scan},
    };
    WD_TRY(wd_doc_read_object(doc, root, fields, WD_ARRAY_LEN(fields), diag));

    const struct wd_node *cert = NULL, *key = NULL, *bundle = NULL;
    const struct wd_field ifields[] = {
            {"cert", WD_NODE_STR, WD_FIELD_REQUIRED, &cert},
            {"key", WD_NODE_STR, WD_FIELD_REQUIRED, &key},
            {"bundle", WD_NODE_STR, WD_FIELD_REQUIRED, &bundle},
    };
    WD_TRY(wd_doc_read_object(doc, ident, ifields, WD_ARRAY_LEN(ifields), diag));
    WD_TRY(get_path(doc, cert, base, blen, "cert", &cfg->cert, diag));
    WD_TRY(get_path(doc, key, base, blen, "key", &cfg->key, diag));
    WD_TRY(get_path(doc, bundle, base, blen, "bundle", &cfg->bundle, diag));

    WD_TRY(parse_listeners(doc, listeners, cfg, diag));
    WD_TRY(parse_policy(doc, policy, base, blen, cfg, diag));

    cfg->sample_allow = 1.0;
    if (audit != NULL) {
        const struct wd_node *path = NULL, *sample = NULL;
        const struct wd_field afields[] = {
                {"path", WD_NODE_STR, WD_FIELD_REQUIRED, &path},
                {"sample_allow", WD_NODE_REAL, WD_FIELD_OPTIONAL, &sample},
        };
        WD_TRY(wd_doc_read_object(doc, audit, afields, WD_ARRAY_LEN(afields), diag));
        WD_TRY(get_path(doc, path, base, blen, "path", &cfg->audit_path, diag));
        if (sample != NULL) {
            double v = sample->type == WD_NODE_INT ? (double)sample->u.i : sample->u.d;
            if (!(v >= 0.0 && v <= 1.0)) {
                return wd_doc_error(doc, sample, diag, "sample_allow must be between 0 and 1");
            }
            cfg->sample_allow = v;
        }
    }
    if (admin != NULL) {
        const struct wd_node *listen = NULL;
        const struct wd_field afields[] = {
                {"listen", WD_NODE_STR, WD_FIELD_REQUIRED, &listen},
        };
        WD_TRY(wd_doc_read_object(doc, admin, afields, WD_ARRAY_LEN(afields), diag));
        WD_TRY(get_addr(doc, listen, "listen", &cfg->admin, diag));
        for (size_t i = 0; i < cfg->n_listeners; i++) {
            if (memcmp(&cfg->listeners[i].listen.sin, &cfg->admin.sin, sizeof(cfg->admin.sin))
                == 0) {
                return wd_doc_error(doc, listen, diag, "listen: listener '%s' uses %s",
                                    cfg->listeners[i].name, cfg->admin.text);
            }
        }
        cfg->has_admin = true;
    }
    limits_default(&cfg->limits);
    if (limits != NULL) {
        WD_TRY(parse_limits(doc, limits, &cfg->limits, diag));
    }
    if (workers != NULL) {
        if (workers->u.i < 0 || workers->u.i > PRX_WORKERS_MAX) {
            return wd_doc_error(doc, workers, diag,
                                "workers must be between 0 (one per core) and %d", PRX_WORKERS_MAX);
        }
        cfg->workers = (unsigned)workers->u.i;
    }
    cfg->log_level = WD_LOG_INFO;
    if (level != NULL) {
        int lv = wd_log_level_parse(level->u.s.p);
        if (lv < 0 || memchr(level->u.s.p, '\0', level->u.s.len) != NULL) {
            return wd_doc_error(doc, level, diag,
                                "log_level: expected err, warn, notice, info or debug");
        }
        cfg->log_level = lv;
    }
    /* The libraries report their own errors at file:line:col of the offending node. */
    if (routes != NULL) {
        WD_TRY(wd_route_set_from_doc(doc, routes, &cfg->routes, diag));
    }
    if (scan != NULL && detectors == NULL) {
        return wd_doc_error(doc, scan, diag, "scan: only with a detectors section");
    }
    if (detectors != NULL) {
        WD_TRY(wd_detect_set_load(doc, detectors, scan, &cfg->detect, diag));
    }
    return WD_OK;
}

int prx_config_parse(const char *file, const void *p, size_t n, struct prx_config **out,
                     struct wd_diag *diag)
{
    struct wd_doc *doc = NULL;
    struct prx_config *cfg = NULL;
    int rc;
    WD_ENSURE(out != NULL && (p != NULL || n == 0), WD_EINVAL);
    *out = NULL;
    WD_CHECK(wd_yaml_parse(file, p, n, NULL, &doc, diag));
    cfg = wd_calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        rc = wd_diag_set(diag, WD_ENOMEM, file, 0, 0, "out of memory");
        goto out;
    }
    size_t blen = 0;
    if (file != NULL) {
        const char *slash = strrchr(file, '/');
        blen = slash == NULL ? 0 : (size_t)(slash - file) + 1;
    }
    rc = parse_root(doc, file, blen, cfg, diag);
    if (rc == WD_ENOMEM) {
        (void)wd_diag_set(diag, WD_ENOMEM, file, 0, 0, "out of memory");
    }
    if (rc < 0) {
        goto out;
    }
    *out = cfg;
    cfg = NULL;
out:
    prx_config_free(cfg);
    wd_doc_free(doc);
    return rc;
}

int prx_config_load(const char *path, struct prx_config **out, struct wd_diag *diag)
{
    struct wd_buf b;
    wd_buf_init(&b, PRX_CONFIG_FILE_MAX);
    int rc;
    WD_ENSURE(path != NULL && out != NULL, WD_EINVAL);
    *out = NULL;
    WD_CHECK(wd_file_read(path, PRX_CONFIG_FILE_MAX, &b, diag));
    WD_CHECK(prx_config_parse(path, b.p, b.len, out, diag));
out:
    wd_buf_cleanup(&b);
    return rc;
}
