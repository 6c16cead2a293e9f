/*
 * warden-control configuration: YAML into struct srv_config with one table of top-level
 * keys (docs/control.md is the reference for every key).
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/clock.h"
#include "warden/codec.h"
#include "warden/doc.h"
#include "warden/file.h"
#include "warden/log.h"
#include "warden/sgx.h"
#include "warden/spiffe.h"
#include "warden/tpm_dev.h"

#define PCRS_DEFAULT "sha256:0,1,2,3,7"

void srv_config_init(struct srv_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->log_level = WD_LOG_INFO;
    cfg->node_ttl = SRV_NODE_TTL_DEFAULT;
    cfg->workload_ttl = SRV_WORKLOAD_TTL_DEFAULT;
    cfg->control_ttl = SRV_CONTROL_TTL_DEFAULT;
    cfg->admin_ttl = SRV_ADMIN_TTL_DEFAULT;
    cfg->heartbeat = SRV_HEARTBEAT_DEFAULT;
    cfg->heartbeat_grace = 0; /* 0: 3 x heartbeat, resolved at the end of parsing */
    cfg->session_ttl = SRV_SESSION_TTL_DEFAULT;
    cfg->batch_max = SRV_BATCH_MAX_DEFAULT;
    cfg->tee_sgx_tcb_accept = WD_SGX_TCB_BIT(WD_SGX_TCB_UP_TO_DATE);
    /* the default selection always parses */
    int rc = wd_tpm_pcr_spec_parse(PCRS_DEFAULT, &cfg->pcr_sel, NULL);
    WD_BUG_ON(rc != WD_OK);
}

void srv_config_cleanup(struct srv_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    wd_free(cfg->listen);
    wd_free(cfg->store);
    wd_free(cfg->audit_log);
    wd_free(cfg->ek_ca_dir);
    for (size_t i = 0; i < cfg->n_ek_allow; i++) {
        wd_free(cfg->ek_allow[i]);
    }
    wd_free(cfg->ek_allow);
    wd_free(cfg->pcrs);
    for (size_t i = 0; i < cfg->n_pcr_rules; i++) {
        wd_free((void *)(uintptr_t)cfg->pcr_rules[i].values);
    }
    wd_free(cfg->pcr_rules);
    wd_free(cfg->ip_fence);
    wd_free(cfg->tee_sim_key);
    for (size_t i = 0; i < cfg->n_tee_allow; i++) {
        wd_free(cfg->tee_allow[i].spiffe_id);
    }
    wd_free(cfg->tee_allow);
    srv_config_init(cfg);
}

/* ---- value readers: each reports at the value's position ---- */

static int get_string(const struct wd_doc *doc, const struct wd_node *v, const char *key,
                      char **out, struct wd_diag *diag)
{
    if (v->u.s.len == 0 || memchr(v->u.s.p, '\0', v->u.s.len) != NULL) {
        return wd_doc_error(doc, v, diag, "'%s': must be a non-empty string without NUL bytes",
                            key);
    }
    char *s = wd_strndup(v->u.s.p, v->u.s.len);
    if (s == NULL) {
        return WD_ENOMEM;
    }
    wd_free(*out);
    *out = s;
    return WD_OK;
}

/* A duration in whole seconds, min..max. */
static int get_duration(const struct wd_doc *doc, const struct wd_node *v, const char *key,
                        int64_t min, int64_t max, int64_t *out, struct wd_diag *diag)
{
    int64_t ms = 0;
    if (wd_duration_parse(v->u.s.p, &ms) != WD_OK || strlen(v->u.s.p) != v->u.s.len) {
        return wd_doc_error(doc, v, diag, "'%s': not a duration (e.g. 90s, 10m, 1h, 7d)", key);
    }
    if (ms % 1000 != 0) {
        return wd_doc_error(doc, v, diag, "'%s': must be whole seconds", key);
    }
    int64_t s = ms / 1000;
    if (s < min || s > max) {
        return wd_doc_error(doc, v, diag, "'%s': must be between %llds and %llds", key,
                            (long long)min, (long long)max);
    }
    *out = s;
    return WD_OK;
}

static int read_svid(const struct wd_doc *doc, const struct wd_node *obj, struct srv_config *cfg,
                     struct wd_diag *diag)
{
    const struct wd_node *node_ttl, *workload_ttl, *control_ttl, *admin_ttl;
    const struct wd_field f[] = {
            {"node_ttl", WD_NODE_STR, WD_FIELD_OPTIONAL, &node_ttl},
            {"workload_ttl", WD_NODE_STR, WD_FIELD_OPTIONAL, &workload_ttl},
            {"control_ttl", WD_NODE_STR, WD_FIELD_OPTIONAL, &control_ttl},
            {"admin_ttl", WD_NODE_STR, WD_FIELD_OPTIONAL, &admin_ttl},
    };
    const int64_t year10 = (int64_t)3650 * 86400;
    WD_TRY(wd_doc_read_object(doc, obj, f, WD_ARRAY_LEN(f), diag));
    if (node_ttl != NULL) {
        WD_TRY(get_duration(doc, node_ttl, "node_ttl", 60, year10, &cfg->node_ttl, diag));
    }
    if (workload_ttl != NULL) {
        WD_TRY(get_duration(doc, workload_ttl, "workload_ttl", 1, year10, &cfg->workload_ttl,
                            diag));
    }
    if (control_ttl != NULL) {
        WD_TRY(get_duration(doc, control_ttl, "control_ttl", 120, year10, &cfg->control_ttl, diag));
    }
    if (admin_ttl != NULL) {
        WD_TRY(get_duration(doc, admin_ttl, "admin_ttl", 60, year10, &cfg->admin_ttl, diag));
    }
    return WD_OK;
}

static int hex_lower64(const struct wd_node *v)
{
    if (v->type != WD_NODE_STR || v->u.s.len != 64) {
        return WD_EPROTO;
    }
    for (size_t i = 0; i < 64; i++) {
        if (wd_hex_digit_value((unsigned char)v->u.s.p[i]) < 0) {
            return WD_EPROTO;
        }
    }
    return WD_OK;
}

static int read_ek_allow(const struct wd_doc *doc, const struct wd_node *arr,
                         struct srv_config *cfg, struct wd_diag *diag)
{
    if (arr->u.arr.n > SRV_EK_ALLOW_MAX) {
        return wd_doc_error(doc, arr, diag, "'ek_allow': at most %u entries", SRV_EK_ALLOW_MAX);
    }
    char **v = wd_calloc(arr->u.arr.n + 1, sizeof(*v));
    if (v == NULL) {
        return WD_ENOMEM;
    }
    int rc = WD_OK;
    size_t i = 0;
    for (; i < arr->u.arr.n; i++) {
        const struct wd_node *it = arr->u.arr.items[i];
        if (hex_lower64(it) != WD_OK) {
            rc = wd_doc_error(doc, it, diag,
                              "'ek_allow': each entry must be 64 hex digits (SHA-256 of the EK's "
                              "SubjectPublicKeyInfo)");
            goto out;
        }
        v[i] = wd_strndup(it->u.s.p, 64);
        if (v[i] == NULL) {
            rc = WD_ENOMEM;
            goto out;
        }
        for (size_t k = 0; k < 64; k++) {
            if (v[i][k] >= 'A' && v[i][k] <= 'F') {
                v[i][k] = (char)(v[i][k] - 'A' + 'a');
            }
        }
    }
    cfg->ek_allow = v;
    cfg->n_ek_allow = i;
    v = NULL;
out:
    if (v != NULL) {
        for (size_t k = 0; k < i; k++) {
            wd_free(v[k]);
        }
        wd_free(v);
    }
    return rc;
}

/* A key of allowed_pcrs: "N" (SHA-256 bank) or "BANK:N". */
static int pcr_key(const char *k, size_t n, uint16_t *hash, uint8_t *pcr)
{
    static const struct {
        const char *name;
        uint16_t alg;
    } banks[] = {{"sha1:", WD_TPM_ALG_SHA1},
                 {"sha256:", WD_TPM_ALG_SHA256},
                 {"sha384:", WD_TPM_ALG_SHA384},
                 {"sha512:", WD_TPM_ALG_SHA512}};
    *hash = WD_TPM_ALG_SHA256;
    for (size_t i = 0; i < WD_ARRAY_LEN(banks); i++) {
        size_t bl = strlen(banks[i].name);
        if (n > bl && memcmp(k, banks[i].name, bl) == 0) {
            *hash = banks[i].alg;
            k += bl;
            n -= bl;
            break;
        }
    }
    if (n == 0 || n > 2 || (k[0] == '0' && n > 1)) {
        return WD_EPROTO;
    }
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (k[i] < '0' || k[i] > '9') {
            return WD_EPROTO;
        }
        v = v * 10 + (unsigned)(k[i] - '0');
    }
    if (v >= WD_TPM_PCR_MAX) {
        return WD_EPROTO;
    }
    *pcr = (uint8_t)v;
    return WD_OK;
}

static int read_allowed_pcrs(const struct wd_doc *doc, const struct wd_node *obj,
                             struct srv_config *cfg, struct wd_diag *diag)
{
    size_t n = obj->u.obj.n;
    if (n > (size_t)WD_TPM_PCR_MAX * WD_TPM_PCR_BANKS_MAX) {
        return wd_doc_error(doc, obj, diag, "'allowed_pcrs': too many PCRs");
    }
    struct wd_tpm_pcr_rule *rules = wd_calloc(n + 1, sizeof(*rules));
    if (rules == NULL) {
        return WD_ENOMEM;
    }
    int rc = WD_OK;
    size_t i = 0;
    struct wd_buf vals;
    wd_buf_init(&vals, (size_t)64 * 1024);
    for (; i < n; i++) {
        const struct wd_member *m = &obj->u.obj.members[i];
        struct wd_tpm_pcr_rule *r = &rules[i];
        if (pcr_key(m->key, m->key_len, &r->hash, &r->pcr) != WD_OK) {
            rc = wd_diag_set(diag, WD_ECONFIG, wd_doc_file(doc), m->line, m->col,
                             "'allowed_pcrs': key must be a PCR index 0..%d, optionally "
                             "prefixed by its bank (e.g. \"7\" or \"sha256:7\")",
                             WD_TPM_PCR_MAX - 1);
            goto out;
        }
        for (size_t k = 0; k < i; k++) {
            if (rules[k].hash == r->hash && rules[k].pcr == r->pcr) {
                rc = wd_diag_set(diag, WD_ECONFIG, wd_doc_file(doc), m->line, m->col,
                                 "'allowed_pcrs': PCR listed twice");
                goto out;
            }
        }
        const struct wd_node *a = m->val;
        if (a->type != WD_NODE_ARR || a->u.arr.n == 0 || a->u.arr.n > 256) {
            rc = wd_doc_error(doc, a, diag,
                              "'allowed_pcrs': each PCR takes a list of 1..256 hex digests");
            goto out;
        }
        size_t dl = wd_tpm_hash_size(r->hash);
        wd_buf_reset(&vals);
        for (size_t k = 0; k < a->u.arr.n; k++) {
            const struct wd_node *d = a->u.arr.items[k];
            size_t before = vals.len;
            int hr = d->type == WD_NODE_STR && d->u.s.len == 2 * dl
                             ? wd_hex_decode(&vals, d->u.s.p, d->u.s.len)
                             : WD_EPROTO;
            if (hr == WD_ENOMEM) {
                rc = hr;
                goto out;
            }
            if (hr != WD_OK) {
                rc = wd_doc_error(doc, d, diag,
                                  "'allowed_pcrs': a value must be %zu hex digits (the bank's "
                                  "digest size)",
                                  2 * dl);
                goto out;
            }
            WD_BUG_ON(vals.len != before + dl);
        }
        uint8_t *copy = wd_malloc(vals.len);
        if (copy == NULL) {
            rc = WD_ENOMEM;
            goto out;
        }
        memcpy(copy, vals.p, vals.len);
        r->values = copy;
        r->n_values = a->u.arr.n;
    }
    cfg->pcr_rules = rules;
    cfg->n_pcr_rules = n;
    rules = NULL;
out:
    wd_buf_cleanup(&vals);
    if (rules != NULL) {
        for (size_t k = 0; k <= i && k < n; k++) {
            wd_free((void *)(uintptr_t)rules[k].values);
        }
        wd_free(rules);
    }
    return rc;
}

static int read_tpm(const struct wd_doc *doc, const struct wd_node *obj, struct srv_config *cfg,
                    struct wd_diag *diag)
{
    const struct wd_node *ek_ca_dir, *ek_allow, *pcrs, *allowed;
    const struct wd_field f[] = {
            {"ek_ca_dir", WD_NODE_STR, WD_FIELD_OPTIONAL, &ek_ca_dir},
            {"ek_allow", WD_NODE_ARR, WD_FIELD_OPTIONAL, &ek_allow},
            {"pcrs", WD_NODE_STR, WD_FIELD_OPTIONAL, &pcrs},
            {"allowed_pcrs", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &allowed},
    };
    WD_TRY(wd_doc_read_object(doc, obj, f, WD_ARRAY_LEN(f), diag));
    if (ek_ca_dir != NULL) {
        WD_TRY(get_string(doc, ek_ca_dir, "ek_ca_dir", &cfg->ek_ca_dir, diag));
    }
    if (ek_allow != NULL) {
        WD_TRY(read_ek_allow(doc, ek_allow, cfg, diag));
    }
    if (pcrs != NULL) {
        struct wd_diag d;
        struct wd_tpm_pcr_selection sel;
        if (strlen(pcrs->u.s.p) != pcrs->u.s.len
            || wd_tpm_pcr_spec_parse(pcrs->u.s.p, &sel, &d) != WD_OK) {
            return wd_doc_error(doc, pcrs, diag, "'pcrs': %s",
                                strlen(pcrs->u.s.p) != pcrs->u.s.len ? "NUL byte" : d.msg);
        }
        WD_TRY(get_string(doc, pcrs, "pcrs", &cfg->pcrs, diag));
        cfg->pcr_sel = sel;
    }
    if (allowed != NULL) {
        WD_TRY(read_allowed_pcrs(doc, allowed, cfg, diag));
        /* every PCR with allowed values must be quoted, or no quote could pass */
        for (size_t i = 0; i < cfg->n_pcr_rules; i++) {
            bool found = false;
            for (uint32_t b = 0; b < cfg->pcr_sel.count; b++) {
                if (cfg->pcr_sel.banks[b].hash == cfg->pcr_rules[i].hash
                    && wd_tpm_pcr_selected(&cfg->pcr_sel.banks[b], cfg->pcr_rules[i].pcr)) {
                    found = true;
                }
            }
            if (!found) {
                return wd_doc_error(doc, allowed, diag,
                                    "'allowed_pcrs': PCR %u is not in the 'pcrs' selection",
                                    (unsigned)cfg->pcr_rules[i].pcr);
            }
        }
    }
    return WD_OK;
}

static int read_ip_fence(const struct wd_doc *doc, const struct wd_node *arr,
                         struct srv_config *cfg, struct wd_diag *diag)
{
    if (arr->u.arr.n > SRV_IP_FENCE_MAX) {
        return wd_doc_error(doc, arr, diag, "'ip_fence': at most %u prefixes", SRV_IP_FENCE_MAX);
    }
    struct wd_cidr *v = wd_calloc(arr->u.arr.n + 1, sizeof(*v));
    if (v == NULL) {
        return WD_ENOMEM;
    }
    for (size_t i = 0; i < arr->u.arr.n; i++) {
        const struct wd_node *it = arr->u.arr.items[i];
        const char *why = "not a string";
        if (it->type != WD_NODE_STR
            || wd_cidr_parse(it->u.s.p, it->u.s.len, &v[i], &why) != WD_OK) {
            wd_free(v);
            return wd_doc_error(doc, it, diag, "'ip_fence': %s (want e.g. 10.0.0.0/8 or fd00::/8)",
                                why);
        }
    }
    wd_free(cfg->ip_fence);
    cfg->ip_fence = v;
    cfg->n_ip_fence = arr->u.arr.n;
    return WD_OK;
}

static int read_issue(const struct wd_doc *doc, const struct wd_node *obj, struct srv_config *cfg,
                      struct wd_diag *diag)
{
    const struct wd_node *batch_max;
    const struct wd_field f[] = {
            {"batch_max", WD_NODE_INT, WD_FIELD_OPTIONAL, &batch_max},
    };
    WD_TRY(wd_doc_read_object(doc, obj, f, WD_ARRAY_LEN(f), diag));
    if (batch_max != NULL) {
        if (batch_max->u.i < 1 || batch_max->u.i > (int64_t)SRV_BATCH_MAX_LIMIT) {
            return wd_doc_error(doc, batch_max, diag, "'batch_max': must be 1..%u",
                                SRV_BATCH_MAX_LIMIT);
        }
        cfg->batch_max = (size_t)batch_max->u.i;
    }
    return WD_OK;
}

/* ---- tee ---- */

/* Hex text of 1..max bytes into out; *len gets the byte count. WD_EPROTO when not hex. */
static int hex_bytes(const struct wd_node *v, uint8_t *out, size_t max, size_t *len)
{
    if (v->type != WD_NODE_STR || v->u.s.len == 0 || v->u.s.len % 2 != 0 || v->u.s.len > 2 * max) {
        return WD_EPROTO;
    }
    for (size_t i = 0; i < v->u.s.len; i += 2) {
        int hi = wd_hex_digit_value((unsigned char)v->u.s.p[i]);
        int lo = wd_hex_digit_value((unsigned char)v->u.s.p[i + 1]);
        if (hi < 0 || lo < 0) {
            return WD_EPROTO;
        }
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *len = v->u.s.len / 2;
    return WD_OK;
}

/* The type names of tee.allow and POST /v1/tee/challenge ("snp" is an alias of "sev-snp"). */
static int tee_type(const struct wd_node *v, enum wd_attest *out)
{
    const char *s = v->u.s.p;
    size_t n = v->u.s.len;
    if ((n == 3 && memcmp(s, "snp", 3) == 0) || (n == 7 && memcmp(s, "sev-snp", 7) == 0)) {
        *out = WD_ATTEST_SEV_SNP;
    } else if (n == 3 && memcmp(s, "sgx", 3) == 0) {
        *out = WD_ATTEST_SGX;
    } else if (n == 3 && memcmp(s, "sim", 3) == 0) {
        *out = WD_ATTEST_SIM;
    } else {
        return WD_EPROTO;
    }
    return WD_OK;
}

static int read_u16(const struct wd_doc *doc, const struct wd_node *v, const char *key,
                    uint16_t *out, struct wd_diag *diag)
{
    if (v->u.i < 0 || v->u.i > 65535) {
        return wd_doc_error(doc, v, diag, "'%s': must be 0..65535", key);
    }
    *out = (uint16_t)v->u.i;
    return WD_OK;
}

static int read_tee_rule(const struct wd_doc *doc, const struct wd_node *obj,
                         struct srv_tee_rule *r, struct wd_diag *diag)
{
    const struct wd_node *type, *meas, *mrsigner, *prod, *svn, *id, *ttl;
    const struct wd_field f[] = {
            {"type", WD_NODE_STR, WD_FIELD_REQUIRED, &type},
            {"measurement", WD_NODE_STR, WD_FIELD_OPTIONAL, &meas},
            {"mrsigner", WD_NODE_STR, WD_FIELD_OPTIONAL, &mrsigner},
            {"isvprodid", WD_NODE_INT, WD_FIELD_OPTIONAL, &prod},
            {"min_isvsvn", WD_NODE_INT, WD_FIELD_OPTIONAL, &svn},
            {"spiffe_id", WD_NODE_STR, WD_FIELD_REQUIRED, &id},
            {"ttl", WD_NODE_STR, WD_FIELD_OPTIONAL, &ttl},
    };
    if (obj->type != WD_NODE_OBJ) {
        return wd_doc_error(doc, obj, diag, "'allow': each entry must be an object");
    }
    WD_TRY(wd_doc_read_object(doc, obj, f, WD_ARRAY_LEN(f), diag));
    if (tee_type(type, &r->type) != WD_OK) {
        return wd_doc_error(doc, type, diag, "'type': must be sev-snp (or snp), sgx or sim");
    }
    if ((meas != NULL) == (mrsigner != NULL)) {
        return wd_doc_error(doc, obj, diag, "give exactly one of 'measurement' and 'mrsigner'");
    }
    if (meas != NULL) {
        size_t want = r->type == WD_ATTEST_SEV_SNP ? 48 : r->type == WD_ATTEST_SGX ? 32 : 0;
        if (hex_bytes(meas, r->measurement, sizeof(r->measurement), &r->measurement_len) != WD_OK
            || (want != 0 && r->measurement_len != want)
            || (want == 0 && r->measurement_len != 32 && r->measurement_len != 48
                && r->measurement_len != 64)) {
            return wd_doc_error(doc, meas, diag, "'measurement': must be hex of %s",
                                want == 48   ? "48 bytes (SEV-SNP MEASUREMENT)"
                                : want == 32 ? "32 bytes (SGX MRENCLAVE)"
                                             : "32, 48 or 64 bytes");
        }
        if (prod != NULL || svn != NULL) {
            return wd_doc_error(doc, prod != NULL ? prod : svn, diag,
                                "'isvprodid' and 'min_isvsvn' go with 'mrsigner'");
        }
    } else {
        size_t len = 0;
        if (r->type != WD_ATTEST_SGX) {
            return wd_doc_error(doc, mrsigner, diag, "'mrsigner': only for type sgx");
        }
        if (hex_bytes(mrsigner, r->mrsigner, sizeof(r->mrsigner), &len) != WD_OK || len != 32) {
            return wd_doc_error(doc, mrsigner, diag, "'mrsigner': must be hex of 32 bytes");
        }
        if (prod == NULL) {
            return wd_doc_error(doc, obj, diag, "'mrsigner' needs 'isvprodid'");
        }
        r->signer = true;
        WD_TRY(read_u16(doc, prod, "isvprodid", &r->isv_prod_id, diag));
        if (svn != NULL) {
            WD_TRY(read_u16(doc, svn, "min_isvsvn", &r->min_isv_svn, diag));
        }
    }
    struct wd_spiffe_id sid;
    if (wd_spiffe_id_parse(id->u.s.p, id->u.s.len, &sid, NULL, NULL) != WD_OK) {
        return wd_doc_error(doc, id, diag, "'spiffe_id': not a SPIFFE ID");
    }
    const char *path = wd_spiffe_id_path(&sid);
    if (path[0] == '\0' || strncmp(path, "/warden/", 8) == 0 || strcmp(path, "/warden") == 0) {
        return wd_doc_error(doc, id, diag,
                            "'spiffe_id': needs a path, and /warden/... is reserved");
    }
    if (ttl != NULL) {
        WD_TRY(get_duration(doc, ttl, "ttl", 1, (int64_t)3650 * 86400, &r->ttl, diag));
    }
    return get_string(doc, id, "spiffe_id", &r->spiffe_id, diag);
}

static int read_tee_allow(const struct wd_doc *doc, const struct wd_node *arr,
                          struct srv_config *cfg, struct wd_diag *diag)
{
    if (arr->u.arr.n > SRV_TEE_ALLOW_MAX) {
        return wd_doc_error(doc, arr, diag, "'allow': at most %u entries", SRV_TEE_ALLOW_MAX);
    }
    struct srv_tee_rule *v = wd_calloc(arr->u.arr.n + 1, sizeof(*v));
    if (v == NULL) {
        return WD_ENOMEM;
    }
    int rc = WD_OK;
    size_t i = 0;
    for (; i < arr->u.arr.n; i++) {
        rc = read_tee_rule(doc, arr->u.arr.items[i], &v[i], diag);
        if (rc != WD_OK) {
            wd_free(v[i].spiffe_id);
            break;
        }
    }
    if (rc != WD_OK) {
        for (size_t k = 0; k < i; k++) {
            wd_free(v[k].spiffe_id);
        }
        wd_free(v);
        return rc;
    }
    for (size_t k = 0; k < cfg->n_tee_allow; k++) {
        wd_free(cfg->tee_allow[k].spiffe_id);
    }
    wd_free(cfg->tee_allow);
    cfg->tee_allow = v;
    cfg->n_tee_allow = i;
    return WD_OK;
}

/* The sim key: a PEM EC P-256 public key (text, so parsing stays free of I/O). */
static int read_sim_key(const struct wd_doc *doc, const struct wd_node *v, struct srv_config *cfg,
                        struct wd_diag *diag)
{
    if (v->u.s.len == 0 || v->u.s.len > 4096 || v->u.s.len > INT32_MAX) {
        return wd_doc_error(doc, v, diag, "'sim_key': must be a PEM public key");
    }
    BIO *bio = BIO_new_mem_buf(v->u.s.p, (int)v->u.s.len);
    if (bio == NULL) {
        return WD_ENOMEM;
    }
    EVP_PKEY *k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    char grp[16] = "";
    int rc = WD_OK;
    uint8_t *der = NULL;
    if (k == NULL || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC
        || EVP_PKEY_get_group_name(k, grp, sizeof(grp), NULL) != 1
        || strcmp(grp, "prime256v1") != 0) {
        rc = wd_doc_error(doc, v, diag, "'sim_key': must be a PEM EC P-256 public key");
        goto out;
    }
    int n = i2d_PUBKEY(k, NULL);
    if (n <= 0 || (size_t)n > SRV_TEE_SIM_KEY_MAX) {
        rc = wd_doc_error(doc, v, diag, "'sim_key': cannot encode the key");
        goto out;
    }
    der = wd_malloc((size_t)n);
    if (der == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    uint8_t *w = der;
    if (i2d_PUBKEY(k, &w) != n) {
        rc = wd_doc_error(doc, v, diag, "'sim_key': cannot encode the key");
        goto out;
    }
    wd_free(cfg->tee_sim_key);
    cfg->tee_sim_key = der;
    cfg->tee_sim_key_len = (size_t)n;
    der = NULL;
out:
    wd_free(der);
    EVP_PKEY_free(k);
    return rc;
}

static int read_sgx_tcb_accept(const struct wd_doc *doc, const struct wd_node *arr,
                               struct srv_config *cfg, struct wd_diag *diag)
{
    unsigned bits = 0;
    for (size_t i = 0; i < arr->u.arr.n; i++) {
        const struct wd_node *it = arr->u.arr.items[i];
        bool found = false;
        for (unsigned s = 0; it->type == WD_NODE_STR && s < WD_SGX_TCB_STATUS_COUNT_; s++) {
            if (s == WD_SGX_TCB_REVOKED) {
                continue; /* never admitted */
            }
            const char *name = wd_sgx_tcb_status_name((enum wd_sgx_tcb_status)s);
            if (strlen(name) == it->u.s.len && memcmp(name, it->u.s.p, it->u.s.len) == 0) {
                bits |= WD_SGX_TCB_BIT(s);
                found = true;
            }
        }
        if (!found) {
            return wd_doc_error(doc, it, diag,
                                "'sgx_tcb_accept': not a TCB status (UpToDate, "
                                "SWHardeningNeeded, ConfigurationNeeded, "
                                "ConfigurationAndSWHardeningNeeded, OutOfDate, "
                                "OutOfDateConfigurationNeeded, Unknown)");
        }
    }
    if (bits == 0) {
        return wd_doc_error(doc, arr, diag, "'sgx_tcb_accept': must not be empty");
    }
    cfg->tee_sgx_tcb_accept = bits;
    return WD_OK;
}

static int read_snp_min_tcb(const struct wd_doc *doc, const struct wd_node *obj,
                            struct srv_config *cfg, struct wd_diag *diag)
{
    const struct wd_node *v[5];
    const char *names[5] = {"bootloader", "tee", "snp", "microcode", "fmc"};
    const struct wd_field f[] = {
            {"bootloader", WD_NODE_INT, WD_FIELD_OPTIONAL, &v[0]},
            {"tee", WD_NODE_INT, WD_FIELD_OPTIONAL, &v[1]},
            {"snp", WD_NODE_INT, WD_FIELD_OPTIONAL, &v[2]},
            {"microcode", WD_NODE_INT, WD_FIELD_OPTIONAL, &v[3]},
            {"fmc", WD_NODE_INT, WD_FIELD_OPTIONAL, &v[4]},
    };
    WD_TRY(wd_doc_read_object(doc, obj, f, WD_ARRAY_LEN(f), diag));
    uint8_t t[5] = {0};
    for (size_t i = 0; i < 5; i++) {
        if (v[i] != NULL) {
            if (v[i]->u.i < 0 || v[i]->u.i > 255) {
                return wd_doc_error(doc, v[i], diag, "'%s': must be 0..255", names[i]);
            }
            t[i] = (uint8_t)v[i]->u.i;
        }
    }
    memcpy(cfg->tee_snp_min_tcb, t, sizeof(t));
    cfg->tee_snp_check_min_tcb = true;
    return WD_OK;
}

static int read_tee(const struct wd_doc *doc, const struct wd_node *obj, struct srv_config *cfg,
                    struct wd_diag *diag)
{
    const struct wd_node *allow_sim, *sim_key, *allow, *tcb_accept, *min_tcb;
    const struct wd_field f[] = {
            {"allow_sim", WD_NODE_BOOL, WD_FIELD_OPTIONAL, &allow_sim},
            {"sim_key", WD_NODE_STR, WD_FIELD_OPTIONAL, &sim_key},
            {"allow", WD_NODE_ARR, WD_FIELD_OPTIONAL, &allow},
            {"sgx_tcb_accept", WD_NODE_ARR, WD_FIELD_OPTIONAL, &tcb_accept},
            {"snp_min_tcb", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &min_tcb},
    };
    WD_TRY(wd_doc_read_object(doc, obj, f, WD_ARRAY_LEN(f), diag));
    if (allow_sim != NULL) {
        cfg->tee_allow_sim = allow_sim->u.b;
    }
    if (sim_key != NULL) {
        WD_TRY(read_sim_key(doc, sim_key, cfg, diag));
    }
    if (cfg->tee_allow_sim && cfg->tee_sim_key == NULL) {
        return wd_doc_error(doc, allow_sim, diag,
                            "'allow_sim': true needs 'sim_key' (the sim signing public key)");
    }
    if (allow != NULL) {
        WD_TRY(read_tee_allow(doc, allow, cfg, diag));
    }
    if (tcb_accept != NULL) {
        WD_TRY(read_sgx_tcb_accept(doc, tcb_accept, cfg, diag));
    }
    if (min_tcb != NULL) {
        WD_TRY(read_snp_min_tcb(doc, min_tcb, cfg, diag));
    }
    return WD_OK;
}

static int read_root(const struct wd_doc *doc, struct srv_config *cfg, struct wd_diag *diag)
{
    const struct wd_node *listen, *store, *audit_log, *log_level, *max_conns, *svid, *heartbeat,
            *grace, *session_ttl, *tpm, *ip_fence, *issue, *tee;
    const struct wd_node *root = wd_doc_root(doc);
    const struct wd_field f[] = {
            {"listen", WD_NODE_STR, WD_FIELD_OPTIONAL, &listen},
            {"store", WD_NODE_STR, WD_FIELD_OPTIONAL, &store},
            {"audit_log", WD_NODE_STR, WD_FIELD_OPTIONAL, &audit_log},
            {"log_level", WD_NODE_STR, WD_FIELD_OPTIONAL, &log_level},
            {"max_conns", WD_NODE_INT, WD_FIELD_OPTIONAL, &max_conns},
            {"svid", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &svid},
            {"heartbeat", WD_NODE_STR, WD_FIELD_OPTIONAL, &heartbeat},
            {"heartbeat_grace", WD_NODE_STR, WD_FIELD_OPTIONAL, &grace},
            {"session_ttl", WD_NODE_STR, WD_FIELD_OPTIONAL, &session_ttl},
            {"tpm", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &tpm},
            {"ip_fence", WD_NODE_ARR, WD_FIELD_OPTIONAL, &ip_fence},
            {"issue", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &issue},
            {"tee", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &tee},
    };
    /* an empty file (all comments) is an empty configuration */
    if (root->type == WD_NODE_NULL) {
        return WD_OK;
    }
    WD_TRY(wd_doc_read_object(doc, root, f, WD_ARRAY_LEN(f), diag));
    if (listen != NULL) {
        WD_TRY(get_string(doc, listen, "listen", &cfg->listen, diag));
    }
    if (store != NULL) {
        WD_TRY(get_string(doc, store, "store", &cfg->store, diag));
    }
    if (audit_log != NULL) {
        WD_TRY(get_string(doc, audit_log, "audit_log", &cfg->audit_log, diag));
    }
    if (log_level != NULL) {
        int lv = wd_log_level_parse(log_level->u.s.p);
        if (lv < 0) {
            return wd_doc_error(doc, log_level, diag,
                                "'log_level': must be err, warn, notice, info or debug");
        }
        cfg->log_level = lv;
    }
    if (max_conns != NULL) {
        if (max_conns->u.i < 1 || max_conns->u.i > 100000) {
            return wd_doc_error(doc, max_conns, diag, "'max_conns': must be 1..100000");
        }
        cfg->max_conns = (size_t)max_conns->u.i;
    }
    if (svid != NULL) {
        WD_TRY(read_svid(doc, svid, cfg, diag));
    }
    const int64_t day = 86400;
    if (heartbeat != NULL) {
        WD_TRY(get_duration(doc, heartbeat, "heartbeat", 1, day, &cfg->heartbeat, diag));
    }
    if (grace != NULL) {
        WD_TRY(get_duration(doc, grace, "heartbeat_grace", 1, 7 * day, &cfg->heartbeat_grace,
                            diag));
        if (cfg->heartbeat_grace < cfg->heartbeat) {
            return wd_doc_error(doc, grace, diag,
                                "'heartbeat_grace': must be at least 'heartbeat' (%llds)",
                                (long long)cfg->heartbeat);
        }
    }
    if (session_ttl != NULL) {
        WD_TRY(get_duration(doc, session_ttl, "session_ttl", 1, 3600, &cfg->session_ttl, diag));
    }
    if (tpm != NULL) {
        WD_TRY(read_tpm(doc, tpm, cfg, diag));
    }
    if (ip_fence != NULL) {
        WD_TRY(read_ip_fence(doc, ip_fence, cfg, diag));
    }
    if (issue != NULL) {
        WD_TRY(read_issue(doc, issue, cfg, diag));
    }
    if (tee != NULL) {
        WD_TRY(read_tee(doc, tee, cfg, diag));
    }
    return WD_OK;
}

/* Whether text holds only blank lines and '#' comments (a valid, empty configuration). */
static bool only_comments(const uint8_t *p, size_t n)
{
    bool in_comment = false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == '\n') {
            in_comment = false;
        } else if (!in_comment) {
            if (c == '#') {
                in_comment = true;
            } else if (c != ' ' && c != '\t' && c != '\r') {
                return false;
            }
        }
    }
    return true;
}

int srv_config_parse(const char *file, const void *p, size_t n, struct srv_config *cfg,
                     struct wd_diag *diag)
{
    struct wd_doc *doc = NULL;
    if (n <= SRV_CONFIG_FILE_MAX && only_comments(p, n)) {
        if (cfg->heartbeat_grace == 0) {
            cfg->heartbeat_grace = 3 * cfg->heartbeat;
        }
        return WD_OK;
    }
    struct wd_doc_limits lim = {SRV_CONFIG_FILE_MAX, 16, 100000};
    int rc = wd_yaml_parse(file, p, n, &lim, &doc, diag);
    if (rc != WD_OK) {
        return rc;
    }
    rc = read_root(doc, cfg, diag);
    if (rc == WD_OK && cfg->heartbeat_grace == 0) {
        cfg->heartbeat_grace = 3 * cfg->heartbeat;
    }
    wd_doc_free(doc);
    if (rc != WD_OK) {
        srv_config_cleanup(cfg);
    }
    return rc;
}

int srv_config_load(const char *path, struct srv_config *cfg, struct wd_diag *diag)
{
    struct wd_buf b;
    wd_buf_init(&b, SRV_CONFIG_FILE_MAX);
    int rc = wd_file_read(path, SRV_CONFIG_FILE_MAX, &b, diag);
    if (rc == WD_OK) {
        rc = srv_config_parse(path, b.p, b.len, cfg, diag);
    }
    wd_buf_cleanup(&b);
    return rc;
}

static int join_path(const char *dir, const char *prefix, const char *name, char **out)
{
    struct wd_buf b;
    wd_buf_init(&b, 8192);
    int rc = wd_buf_printf(&b, "%s%s/%s", prefix, dir, name);
    if (rc == WD_OK) {
        *out = wd_buf_steal(&b, NULL);
        rc = *out != NULL ? WD_OK : WD_ENOMEM;
    }
    wd_buf_cleanup(&b);
    return rc;
}

int srv_config_finish(struct srv_config *cfg, const char *dir)
{
    if (cfg->listen == NULL) {
        cfg->listen = wd_strdup(SRV_LISTEN_DEFAULT);
        WD_ENSURE(cfg->listen != NULL, WD_ENOMEM);
    }
    if (cfg->store == NULL) {
        WD_TRY(join_path(dir, "sqlite:", "control.db", &cfg->store));
    }
    if (cfg->audit_log == NULL) {
        WD_TRY(join_path(dir, "", "audit.jsonl", &cfg->audit_log));
    }
    if (cfg->heartbeat_grace == 0) {
        cfg->heartbeat_grace = 3 * cfg->heartbeat;
    }
    return WD_OK;
}

const char *srv_config_default_text(void)
{
    return "# warden-control configuration (YAML). Every key is optional; unknown keys are\n"
           "# errors. Reference: docs/control.md. Check with: warden-control check-config\n"
           "\n"
           "# Address of the HTTPS API (\"HOST:PORT\", \"[::1]:PORT\").\n"
           "#listen: 127.0.0.1:8443\n"
           "\n"
           "# Store URL: sqlite:PATH (default: sqlite:<dir>/control.db) or postgresql://...\n"
           "#store: sqlite:/var/lib/warden/control.db\n"
           "\n"
           "# Audit log: one JSON object per line (default: <dir>/audit.jsonl).\n"
           "#audit_log: /var/log/warden/audit.jsonl\n"
           "\n"
           "#log_level: info\n"
           "#max_conns: 256\n"
           "\n"
           "#svid:\n"
           "#  node_ttl: 24h       # node SVIDs\n"
           "#  workload_ttl: 1h    # entries created without a ttl\n"
           "#  control_ttl: 24h    # the control plane's own serving certificate\n"
           "#  admin_ttl: 720h     # the admin SVID made by init\n"
           "\n"
           "# Agents re-attest every heartbeat; a node with no good heartbeat for\n"
           "# heartbeat_grace (default 3 x heartbeat) is marked untrusted.\n"
           "#heartbeat: 60s\n"
           "#heartbeat_grace: 180s\n"
           "#session_ttl: 60s      # how long an attestation nonce stays usable\n"
           "\n"
           "#tpm:\n"
           "#  ek_ca_dir: /etc/warden/ek-ca   # *.pem: CAs of TPM vendors' EK certificates\n"
           "#  ek_allow:                      # or: SHA-256 of allowed EK public keys\n"
           "#    - 0123...ef\n"
           "#  pcrs: \"sha256:0,1,2,3,7\"       # PCRs every quote must cover\n"
           "#  allowed_pcrs:                  # explicit values; without them each node's\n"
           "#    \"7\": [\"<64 hex>\"]            # first quote is trusted on first use\n"
           "\n"
           "# Nodes must attest from one of these networks (empty: anywhere).\n"
           "#ip_fence: [10.0.0.0/8, \"fd00::/8\"]\n"
           "\n"
           "#issue:\n"
           "#  batch_max: 4096     # SVID records per group commit\n"
           "\n"
           "# TEE workloads (POST /v1/tee/challenge, /v1/tee/svid): which measurements get\n"
           "# which SPIFFE ID. sim evidence is for development and refused unless enabled.\n"
           "#tee:\n"
           "#  allow_sim: false\n"
           "#  sim_key: |          # PEM P-256 public key that signs sim reports\n"
           "#    -----BEGIN PUBLIC KEY-----\n"
           "#    ...\n"
           "#  sgx_tcb_accept: [UpToDate]\n"
           "#  snp_min_tcb: {bootloader: 3, tee: 0, snp: 8, microcode: 115}\n"
           "#  allow:\n"
           "#    - {type: sev-snp, measurement: \"<96 hex>\", spiffe_id: \"spiffe://td/cvm\"}\n"
           "#    - {type: sgx, mrsigner: \"<64 hex>\", isvprodid: 1, min_isvsvn: 2,\n"
           "#       spiffe_id: \"spiffe://td/enclave\", ttl: 1h}\n";
}
