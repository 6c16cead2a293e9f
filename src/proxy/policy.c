/* warden-proxy: policy state and traffic -> Cedar request mapping (see policy.h). */
#include "policy.h"

#include <stdio.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/codec.h"
#include "warden/doc.h"
#include "warden/file.h"

#include "mqtt.h"

#define POLICY_FILE_MAX ((size_t)16 << 20)

/* The built-in action entities: every HTTP action is in Action::"http". */
static const char *const http_actions[] = {
        "http:GET",     "http:HEAD",    "http:POST",  "http:PUT",   "http:DELETE",
        "http:CONNECT", "http:OPTIONS", "http:TRACE", "http:PATCH", "http:response",
};

/* The built-in MQTT actions, all in Action::"mqtt". */
static const char *const mqtt_actions[] = {
        "mqtt:connect",
        "mqtt:publish",
        "mqtt:subscribe",
        "mqtt:receive",
};

void prx_policy_free(struct prx_policy *p)
{
    if (p == NULL) {
        return;
    }
    wd_cedar_authz_free(p->az);
    wd_cedar_policyset_free(p->ps);
    wd_cedar_entities_free(p->ents);
    wd_cedar_schema_free(p->schema);
    wd_free(p);
}

static int add_action(struct wd_cedar_entities *e, const char *id, const char *parent,
                      struct wd_diag *diag)
{
    if (wd_cedar_entities_contains(e, "Action", 6, id, strlen(id))) {
        return WD_OK;
    }
    int rc;
    WD_CHECK(wd_cedar_entities_begin(e, "Action", 6, id, strlen(id), diag));
    if (parent != NULL) {
        WD_CHECK(wd_cedar_entities_parent(e, "Action", 6, parent, strlen(parent), diag));
    }
    WD_CHECK(wd_cedar_entities_end(e, diag));
out:
    if (rc < 0) {
        wd_cedar_entities_abort(e);
    }
    return rc;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int build_entities(const struct prx_text *ents, const struct wd_cedar_json_schema *guide,
                          struct wd_cedar_entities **out, struct wd_diag *diag)
{
    struct wd_cedar_entities *e = NULL;
    struct wd_doc *doc = NULL;
    int rc;
    WD_CHECK(wd_cedar_entities_new(NULL, &e));
    if (ents != NULL) {
        WD_CHECK(wd_json_parse(ents->name, ents->p, ents->len, NULL, &doc, diag));
        WD_CHECK(wd_cedar_entities_add_json(e, doc, wd_doc_root(doc), guide, diag));
    }
    if (guide != NULL && guide->add_actions != NULL) {
        WD_CHECK(guide->add_actions(guide->ctx, e, diag));
    }
    WD_CHECK(add_action(e, "http", NULL, diag));
    for (size_t i = 0; i < WD_ARRAY_LEN(http_actions); i++) {
        WD_CHECK(add_action(e, http_actions[i], "http", diag));
    }
    WD_CHECK(add_action(e, "mqtt", NULL, diag));
    for (size_t i = 0; i < WD_ARRAY_LEN(mqtt_actions); i++) {
        WD_CHECK(add_action(e, mqtt_actions[i], "mqtt", diag));
    }
    WD_CHECK(add_action(e, "tcp:connect", NULL, diag));
    WD_CHECK(wd_cedar_entities_freeze(e, diag));
    *out = e;
    e = NULL;
out:
    wd_doc_free(doc);
    wd_cedar_entities_free(e);
    return rc;
}

static int validate(const struct wd_cedar_schema *s, const struct wd_cedar_policyset *ps,
                    const char *file, struct wd_diag *diag)
{
    struct wd_cedar_validation *v = NULL;
    int rc;
    WD_CHECK(wd_cedar_validate(s, ps, &v));
    if (wd_cedar_validation_error_count(v) > 0) {
        for (size_t i = 0; i < wd_cedar_validation_count(v); i++) {
            const struct wd_cedar_vissue *is = wd_cedar_validation_issue(v, i);
            if (!is->warning) {
                rc = wd_diag_set(diag, WD_ECONFIG, file, is->line, is->col, "error: %s", is->msg);
                goto out;
            }
        }
    }
out:
    wd_cedar_validation_free(v);
    return rc;
}

int prx_policy_build(const struct prx_text *pols, size_t n, const struct prx_text *ents,
                     const struct prx_text *schema, struct prx_policy **out, struct wd_diag *diag)
{
    struct prx_policy *p = NULL;
    struct wd_cedar_policyset *one = NULL;
    struct wd_buf all;
    struct wd_cedar_json_schema guide = {0};
    struct wd_cedar_parse_opts opts = {.ids_from_annotation = true};
    int rc;
    wd_buf_init(&all, POLICY_FILE_MAX * 4);
    WD_ENSURE(out != NULL && pols != NULL && n > 0, WD_EINVAL);
    *out = NULL;
    p = wd_calloc(1, sizeof(*p));
    if (p == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    if (schema != NULL) {
        if (ends_with(schema->name, ".json")) {
            WD_CHECK(wd_cedar_schema_parse_json(schema->name, schema->p, schema->len, &p->schema,
                                                diag));
        } else {
            WD_CHECK(wd_cedar_schema_parse(schema->name, schema->p, schema->len, &p->schema, diag));
        }
        wd_cedar_schema_json_guide(p->schema, &guide);
    }
    for (size_t i = 0; i < n; i++) {
        WD_CHECK(wd_cedar_policyset_parse_ex(pols[i].name, pols[i].p, pols[i].len, &opts, &one,
                                             diag));
        if (p->schema != NULL) {
            WD_CHECK(validate(p->schema, one, pols[i].name, diag));
        }
        wd_cedar_policyset_free(one);
        one = NULL;
        WD_CHECK(wd_buf_append(&all, pols[i].p, pols[i].len));
        WD_CHECK(wd_buf_append_str(&all, "\n"));
    }
    WD_CHECK(wd_cedar_policyset_parse_ex(n == 1 ? pols[0].name : "<all policy files>",
                                         (const char *)all.p, all.len, &opts, &p->ps, diag));
    WD_CHECK(wd_cedar_authz_new(p->ps, &p->az));
    WD_CHECK(build_entities(ents, p->schema != NULL ? &guide : NULL, &p->ents, diag));
    *out = p;
    p = NULL;
out:
    if (rc == WD_ENOMEM) {
        (void)wd_diag_set(diag, rc, NULL, 0, 0, "policy: out of memory");
    }
    wd_cedar_policyset_free(one);
    prx_policy_free(p);
    wd_buf_cleanup(&all);
    return rc;
}

int prx_policy_load(const struct prx_config *cfg, struct prx_policy **out, struct wd_diag *diag)
{
    struct wd_buf *bufs = NULL;
    struct prx_text *texts = NULL;
    struct wd_buf eb, sb;
    struct prx_text et, st;
    int rc;
    wd_buf_init(&eb, POLICY_FILE_MAX);
    wd_buf_init(&sb, POLICY_FILE_MAX);
    WD_ENSURE(cfg != NULL && out != NULL && cfg->n_policies > 0, WD_EINVAL);
    bufs = wd_calloc(cfg->n_policies, sizeof(*bufs));
    texts = wd_calloc(cfg->n_policies, sizeof(*texts));
    if (bufs == NULL || texts == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < cfg->n_policies; i++) {
        wd_buf_init(&bufs[i], POLICY_FILE_MAX);
    }
    for (size_t i = 0; i < cfg->n_policies; i++) {
        WD_CHECK(wd_file_read(cfg->policies[i], POLICY_FILE_MAX, &bufs[i], diag));
        texts[i].name = cfg->policies[i];
        texts[i].p = (const char *)bufs[i].p;
        texts[i].len = bufs[i].len;
    }
    if (cfg->entities != NULL) {
        WD_CHECK(wd_file_read(cfg->entities, POLICY_FILE_MAX, &eb, diag));
        et.name = cfg->entities;
        et.p = (const char *)eb.p;
        et.len = eb.len;
    }
    if (cfg->schema != NULL) {
        WD_CHECK(wd_file_read(cfg->schema, POLICY_FILE_MAX, &sb, diag));
        st.name = cfg->schema;
        st.p = (const char *)sb.p;
        st.len = sb.len;
    }
    WD_CHECK(prx_policy_build(texts, cfg->n_policies, cfg->entities != NULL ? &et : NULL,
                              cfg->schema != NULL ? &st : NULL, out, diag));
out:
    if (bufs != NULL) {
        for (size_t i = 0; i < cfg->n_policies; i++) {
            wd_buf_cleanup(&bufs[i]);
        }
    }
    wd_free(bufs);
    wd_free(texts);
    wd_buf_cleanup(&eb);
    wd_buf_cleanup(&sb);
    return rc;
}

/* ---- captured heads ---- */

void prx_head_init(struct prx_head *h, size_t max_fields, size_t max_bytes)
{
    memset(h, 0, sizeof(*h));
    wd_buf_init(&h->b, max_bytes);
    h->cap = max_fields;
}

void prx_head_cleanup(struct prx_head *h)
{
    if (h == NULL) {
        return;
    }
    wd_buf_cleanup(&h->b);
    WD_FREE(h->h);
    h->nh = 0;
}

static int put(struct prx_head *h, struct wd_slice s, uint32_t *off, uint32_t *len)
{
    WD_ENSURE(h->b.len <= UINT32_MAX && s.len <= UINT32_MAX, WD_ELIMIT);
    *off = (uint32_t)h->b.len;
    *len = (uint32_t)s.len;
    return wd_buf_append(&h->b, s.p, s.len);
}

static bool name_ieq(struct wd_slice a, struct wd_slice b)
{
    if (a.len != b.len) {
        return false;
    }
    for (size_t i = 0; i < a.len; i++) {
        uint8_t x = a.p[i], y = b.p[i];
        if (x >= 'A' && x <= 'Z') {
            x = (uint8_t)(x + 32);
        }
        if (y >= 'A' && y <= 'Z') {
            y = (uint8_t)(y + 32);
        }
        if (x != y) {
            return false;
        }
    }
    return true;
}

int prx_head_capture(struct prx_head *h, const struct wd_http1_parser *p)
{
    const struct wd_http1_msg *m = wd_http1_msg(p);
    wd_buf_reset(&h->b);
    h->nh = 0;
    h->mo = h->ml = h->po = h->pl = h->qo = h->ql = 0;
    h->status = m->status;
    if (h->h == NULL && h->cap > 0) {
        h->h = wd_calloc(h->cap, sizeof(*h->h));
        if (h->h == NULL) {
            return WD_ENOMEM;
        }
    }
    WD_TRY(put(h, m->method_name, &h->mo, &h->ml));
    WD_TRY(put(h, m->path, &h->po, &h->pl));
    WD_TRY(put(h, m->query, &h->qo, &h->ql));
    for (size_t i = 0; i < m->nfields; i++) {
        struct wd_slice name, value;
        if (!wd_http1_field(p, i, &name, &value)) {
            break;
        }
        /* Only the first field line of a name starts an entry; later ones were merged. */
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++) {
            struct wd_slice n2, v2;
            if (wd_http1_field(p, k, &n2, &v2) && name_ieq(n2, name)) {
                seen = true;
            }
        }
        if (seen) {
            continue;
        }
        WD_ENSURE(h->nh < h->cap, WD_ELIMIT);
        struct prx_hfield *f = &h->h[h->nh];
        WD_TRY(put(h, name, &f->no, &f->nl));
        for (size_t k = 0; k < f->nl; k++) {
            uint8_t c = h->b.p[f->no + k];
            if (c >= 'A' && c <= 'Z') {
                h->b.p[f->no + k] = (uint8_t)(c + 32);
            }
        }
        WD_TRY(put(h, value, &f->vo, &f->vl));
        for (size_t k = i + 1; k < m->nfields; k++) {
            struct wd_slice n2, v2;
            if (wd_http1_field(p, k, &n2, &v2) && name_ieq(n2, name)) {
                /* RFC 9110 §5.3: repeated field lines combine with ", ". */
                WD_TRY(wd_buf_append(&h->b, ", ", 2));
                WD_TRY(wd_buf_append(&h->b, v2.p, v2.len));
                WD_ENSURE(h->b.len - f->vo <= UINT32_MAX, WD_ELIMIT);
                f->vl = (uint32_t)(h->b.len - f->vo);
            }
        }
        h->nh++;
    }
    return WD_OK;
}

bool prx_head_get(const struct prx_head *h, const char *name, struct wd_slice *out)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < h->nh; i++) {
        if (h->h[i].nl == n && memcmp(h->b.p + h->h[i].no, name, n) == 0) {
            out->p = h->b.p + h->h[i].vo;
            out->len = h->h[i].vl;
            return true;
        }
    }
    return false;
}

/* ---- mapping ---- */

static int vb_str(struct wd_cedar_vb *vb, const char *key, const char *s, size_t len)
{
    WD_TRY(wd_cedar_vb_key(vb, key, strlen(key)));
    return wd_cedar_vb_string(vb, s, len);
}

static int put_claims(struct wd_cedar_vb *vb, const struct wd_claims *c)
{
    WD_TRY(wd_cedar_vb_key(vb, "claims", 6));
    WD_TRY(wd_cedar_vb_record_begin(vb));
    if (c != NULL) {
        if (c->present & WD_CLAIM_NODE) {
            WD_TRY(vb_str(vb, "node", c->node, strlen(c->node)));
        }
        if (c->present & WD_CLAIM_ATTEST) {
            const char *a = wd_attest_name(c->attest);
            if (a != NULL) {
                WD_TRY(vb_str(vb, "attestation", a, strlen(a)));
            }
        }
        if (c->present & WD_CLAIM_MEASUREMENT) {
            char hex[2 * WD_CLAIMS_MEAS_MAX + 1];
            static const char digits[] = "0123456789abcdef";
            size_t n = c->measurement_len;
            for (size_t i = 0; i < n; i++) {
                hex[2 * i] = digits[c->measurement[i] >> 4];
                hex[2 * i + 1] = digits[c->measurement[i] & 15];
            }
            WD_TRY(vb_str(vb, "measurement", hex, 2 * n));
        }
        if (c->present & WD_CLAIM_MANIFEST) {
            WD_TRY(wd_cedar_vb_key(vb, "manifest_version", 16));
            WD_TRY(wd_cedar_vb_long(vb, c->manifest_version > INT64_MAX
                                                ? INT64_MAX
                                                : (int64_t)c->manifest_version));
        }
        if (c->present & WD_CLAIM_PARTY) {
            WD_TRY(vb_str(vb, "party", c->party, strlen(c->party)));
        }
    }
    return wd_cedar_vb_end(vb);
}

static int set_parties(struct wd_cedar_request *r, const struct prx_peer *peer, const char *self,
                       size_t self_len, const char *action)
{
    wd_cedar_request_reset(r);
    if (peer->id != NULL) {
        WD_TRY(wd_cedar_request_principal(r, "Workload", 8, peer->id, peer->id_len));
    } else {
        WD_TRY(wd_cedar_request_principal(r, "Anonymous", 9, peer->ip, strlen(peer->ip)));
    }
    WD_TRY(wd_cedar_request_action(r, "Action", 6, action, strlen(action)));
    return wd_cedar_request_resource(r, "Workload", 8, self, self_len);
}

static int put_common(struct wd_cedar_vb *vb, const struct prx_peer *peer)
{
    WD_TRY(wd_cedar_vb_key(vb, "source_ip", 9));
    WD_TRY(wd_cedar_vb_ext(vb, "ip", peer->ip, strlen(peer->ip)));
    WD_TRY(wd_cedar_vb_key(vb, "port", 4));
    WD_TRY(wd_cedar_vb_long(vb, (int64_t)peer->port));
    return put_claims(vb, peer->claims);
}

int prx_map_tcp(struct wd_cedar_request *r, const struct prx_peer *peer, const char *self,
                size_t self_len)
{
    WD_TRY(set_parties(r, peer, self, self_len, "tcp:connect"));
    struct wd_cedar_vb *vb = wd_cedar_request_context(r);
    WD_TRY(put_common(vb, peer));
    return wd_cedar_request_context_end(r);
}

static int put_headers(struct wd_cedar_vb *vb, const char *key, const struct prx_head *h)
{
    WD_TRY(wd_cedar_vb_key(vb, key, strlen(key)));
    WD_TRY(wd_cedar_vb_record_begin(vb));
    for (size_t i = 0; i < h->nh; i++) {
        const struct prx_hfield *f = &h->h[i];
        WD_TRY(wd_cedar_vb_key(vb, (const char *)h->b.p + f->no, f->nl));
        WD_TRY(wd_cedar_vb_string(vb, (const char *)h->b.p + f->vo, f->vl));
    }
    return wd_cedar_vb_end(vb);
}

static int put_body(struct wd_cedar_vb *vb, uint64_t size)
{
    WD_TRY(wd_cedar_vb_key(vb, "body", 4));
    WD_TRY(wd_cedar_vb_record_begin(vb));
    WD_TRY(wd_cedar_vb_key(vb, "size", 4));
    WD_TRY(wd_cedar_vb_long(vb, size > INT64_MAX ? INT64_MAX : (int64_t)size));
    return wd_cedar_vb_end(vb);
}

/* The request fields shared by requests and responses (not headers/body/detections). */
static int put_request_fields(struct wd_cedar_vb *vb, const struct prx_peer *peer,
                              const struct prx_head *req, const struct prx_found *found,
                              int64_t now)
{
    const char *b = (const char *)req->b.p;
    const struct wd_route_match *m = found != NULL ? found->route : NULL;
    char when[21];
    WD_TRY(vb_str(vb, "method", b + req->mo, req->ml));
    WD_TRY(vb_str(vb, "path", b + req->po, req->pl));
    WD_TRY(vb_str(vb, "query", b + req->qo, req->ql));
    /* No route (or a refused path): route "" and params {} (docs/policy.md §2). */
    bool routed = m != NULL && m->route != NULL && m->route[0] != '\0';
    WD_TRY(vb_str(vb, "route", routed ? m->route : "", routed ? strlen(m->route) : 0));
    WD_TRY(wd_cedar_vb_key(vb, "params", 6));
    WD_TRY(wd_cedar_vb_record_begin(vb));
    for (size_t i = 0; routed && i < m->nparams && i < WD_ROUTE_MAX_PARAMS; i++) {
        WD_TRY(vb_str(vb, m->params[i].name, m->params[i].value, m->params[i].value_len));
    }
    WD_TRY(wd_cedar_vb_end(vb));
    wd_time_format(now, when);
    WD_TRY(wd_cedar_vb_key(vb, "time", 4));
    WD_TRY(wd_cedar_vb_ext(vb, "datetime", when, strlen(when)));
    return put_common(vb, peer);
}

/* context.detections: the names of the detectors that matched, in configuration order. */
static int put_detections(struct wd_cedar_vb *vb, const struct prx_found *found)
{
    WD_TRY(wd_cedar_vb_key(vb, "detections", 10));
    WD_TRY(wd_cedar_vb_set_begin(vb));
    if (found != NULL && found->det != NULL && found->hits != NULL) {
        size_t n = WD_MIN(wd_detect_count(found->det), (size_t)WD_DETECT_MAX);
        for (size_t i = 0; i < n; i++) {
            if (wd_detect_bit(found->hits->hit, i)) {
                const char *name = wd_detect_name(found->det, i);
                WD_TRY(wd_cedar_vb_string(vb, name, strlen(name)));
            }
        }
    }
    return wd_cedar_vb_end(vb);
}

int prx_map_http_request(struct wd_cedar_request *r, const struct prx_peer *peer, const char *self,
                         size_t self_len, const struct prx_head *req, uint64_t body_size,
                         int64_t now)
{
    return prx_map_http_request_ex(r, peer, self, self_len, req, body_size, NULL, now);
}

int prx_map_http_request_ex(struct wd_cedar_request *r, const struct prx_peer *peer,
                            const char *self, size_t self_len, const struct prx_head *req,
                            uint64_t body_size, const struct prx_found *found, int64_t now)
{
    char action[64];
    int n = snprintf(action, sizeof(action), "http:%.*s", (int)WD_MIN(req->ml, 50),
                     (const char *)req->b.p + req->mo);
    WD_ENSURE(n > 0 && (size_t)n < sizeof(action) && req->ml <= 50, WD_ELIMIT);
    WD_TRY(set_parties(r, peer, self, self_len, action));
    struct wd_cedar_vb *vb = wd_cedar_request_context(r);
    WD_TRY(put_request_fields(vb, peer, req, found, now));
    WD_TRY(put_headers(vb, "headers", req));
    WD_TRY(put_body(vb, body_size));
    WD_TRY(put_detections(vb, found));
    return wd_cedar_request_context_end(r);
}

int prx_map_http_response(struct wd_cedar_request *r, const struct prx_peer *peer, const char *self,
                          size_t self_len, const struct prx_head *req, uint64_t req_body,
                          const struct prx_head *resp, uint64_t resp_body, int64_t now)
{
    return prx_map_http_response_ex(r, peer, self, self_len, req, req_body, resp, resp_body, NULL,
                                    now);
}

int prx_map_http_response_ex(struct wd_cedar_request *r, const struct prx_peer *peer,
                             const char *self, size_t self_len, const struct prx_head *req,
                             uint64_t req_body, const struct prx_head *resp, uint64_t resp_body,
                             const struct prx_found *found, int64_t now)
{
    (void)req_body;
    WD_TRY(set_parties(r, peer, self, self_len, "http:response"));
    struct wd_cedar_vb *vb = wd_cedar_request_context(r);
    WD_TRY(put_request_fields(vb, peer, req, found, now));
    WD_TRY(wd_cedar_vb_key(vb, "status", 6));
    WD_TRY(wd_cedar_vb_long(vb, (int64_t)resp->status));
    WD_TRY(put_headers(vb, "headers", resp));
    WD_TRY(put_headers(vb, "request_headers", req));
    WD_TRY(put_body(vb, resp_body));
    WD_TRY(put_detections(vb, found));
    return wd_cedar_request_context_end(r);
}

int prx_map_mqtt(struct wd_cedar_request *r, const struct prx_peer *peer, const char *broker,
                 size_t broker_len, const struct prx_mqtt_ask *ask, int64_t now)
{
    return prx_map_mqtt_ex(r, peer, broker, broker_len, ask, NULL, now);
}

int prx_map_mqtt_ex(struct wd_cedar_request *r, const struct prx_peer *peer, const char *broker,
                    size_t broker_len, const struct prx_mqtt_ask *ask,
                    const struct prx_found *found, int64_t now)
{
    char when[21];
    WD_TRY(set_parties(r, peer, broker, broker_len, prx_mqtt_action_name(ask->action)));
    if (ask->action != PRX_MQTT_A_CONNECT) {
        WD_TRY(wd_cedar_request_resource(r, "Topic", 5, (const char *)ask->topic.p,
                                         ask->topic.len));
    }
    struct wd_cedar_vb *vb = wd_cedar_request_context(r);
    WD_TRY(vb_str(vb, "client_id", (const char *)ask->client_id.p, ask->client_id.len));
    WD_TRY(vb_str(vb, "broker", broker, broker_len));
    if (ask->action != PRX_MQTT_A_CONNECT) {
        WD_TRY(vb_str(vb, "topic", (const char *)ask->topic.p, ask->topic.len));
        WD_TRY(wd_cedar_vb_key(vb, "qos", 3));
        WD_TRY(wd_cedar_vb_long(vb, ask->qos));
    }
    if (ask->action == PRX_MQTT_A_SUBSCRIBE) {
        WD_TRY(vb_str(vb, "share", (const char *)ask->share.p, ask->share.len));
    }
    if (ask->action == PRX_MQTT_A_PUBLISH || ask->action == PRX_MQTT_A_RECEIVE) {
        WD_TRY(wd_cedar_vb_key(vb, "retain", 6));
        WD_TRY(wd_cedar_vb_bool(vb, ask->retain));
        WD_TRY(wd_cedar_vb_key(vb, "payload", 7));
        WD_TRY(wd_cedar_vb_record_begin(vb));
        WD_TRY(wd_cedar_vb_key(vb, "size", 4));
        WD_TRY(wd_cedar_vb_long(vb, (int64_t)ask->payload.len));
        WD_TRY(wd_cedar_vb_end(vb));
        WD_TRY(put_detections(vb, found));
    }
    wd_time_format(now, when);
    WD_TRY(wd_cedar_vb_key(vb, "time", 4));
    WD_TRY(wd_cedar_vb_ext(vb, "datetime", when, strlen(when)));
    WD_TRY(put_common(vb, peer));
    return wd_cedar_request_context_end(r);
}
