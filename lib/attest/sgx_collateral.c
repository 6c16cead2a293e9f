/*
 * SGX DCAP collateral: CRLs, and the signed JSON documents of the Intel PCS API (TCB info v2
 * and v3, enclave identity v2), with the TCB Signing chain that signs them.
 *
 * A signed document is {"tcbInfo"|"enclaveIdentity": {...}, "signature": "<hex>"}; the
 * signature is ECDSA P-256 / SHA-256, raw r || s, over the exact bytes of the body object as
 * it appears in the document (Intel PCS API, "Get TCB Info" / "Get Quoting Enclave
 * Identity"). Members of the body that this verifier does not use are ignored once the
 * signature has verified (Intel adds members over versions, e.g. TDX ones); the members it
 * uses are checked strictly for type and range.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/codec.h"
#include "warden/doc.h"
#include "warden/log.h"
#include "warden/pki.h"

#include "pki/pki_int.h"
#include "sgx_int.h"

/* ---- TCB statuses ---- */

static const char *const status_names[WD_SGX_TCB_STATUS_COUNT_] = {
        [WD_SGX_TCB_UNKNOWN] = "Unknown",
        [WD_SGX_TCB_UP_TO_DATE] = "UpToDate",
        [WD_SGX_TCB_SW_HARDENING_NEEDED] = "SWHardeningNeeded",
        [WD_SGX_TCB_CONFIGURATION_NEEDED] = "ConfigurationNeeded",
        [WD_SGX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED] = "ConfigurationAndSWHardeningNeeded",
        [WD_SGX_TCB_OUT_OF_DATE] = "OutOfDate",
        [WD_SGX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED] = "OutOfDateConfigurationNeeded",
        [WD_SGX_TCB_REVOKED] = "Revoked",
};

const char *wd_sgx_tcb_status_name(enum wd_sgx_tcb_status s)
{
    if ((size_t)s < WD_ARRAY_LEN(status_names)) {
        return status_names[s];
    }
    return "Unknown";
}

int sgx_tcb_status_parse(const char *s, size_t n)
{
    /* "Unknown" is warden's word for "no collateral", never a value Intel publishes. */
    for (size_t i = WD_SGX_TCB_UP_TO_DATE; i < WD_ARRAY_LEN(status_names); i++) {
        if (strlen(status_names[i]) == n && memcmp(status_names[i], s, n) == 0) {
            return (int)i;
        }
    }
    return -1;
}

enum wd_sgx_tcb_status sgx_tcb_converge(enum wd_sgx_tcb_status platform, enum wd_sgx_tcb_status qe)
{
    if (qe == WD_SGX_TCB_REVOKED || platform == WD_SGX_TCB_REVOKED) {
        return WD_SGX_TCB_REVOKED;
    }
    if (qe != WD_SGX_TCB_OUT_OF_DATE) {
        return platform;
    }
    switch (platform) {
    case WD_SGX_TCB_UNKNOWN:
    case WD_SGX_TCB_UP_TO_DATE:
    case WD_SGX_TCB_SW_HARDENING_NEEDED:
        return WD_SGX_TCB_OUT_OF_DATE;
    case WD_SGX_TCB_CONFIGURATION_NEEDED:
    case WD_SGX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED:
        return WD_SGX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
    default:
        return platform;
    }
}

/* ---- CRLs ---- */

struct crl_scan {
    X509_CRL *crl;
    size_t blocks;
};

static int crl_block(void *vctx, const char *type, const uint8_t *der, size_t len, bool encrypted,
                     size_t index)
{
    struct crl_scan *cs = vctx;
    (void)encrypted;
    (void)index;
    cs->blocks++;
    if (strcmp(type, "X509 CRL") != 0 || cs->crl != NULL || len > LONG_MAX) {
        return WD_EPROTO;
    }
    const unsigned char *q = der;
    cs->crl = d2i_X509_CRL(NULL, &q, (long)len);
    if (cs->crl == NULL || q != der + len) {
        return WD_EPROTO;
    }
    return WD_OK;
}

/* One CRL from DER, or from PEM with exactly one "X509 CRL" block and nothing else. */
static int crl_one(struct wd_slice in, X509_CRL **out)
{
    *out = NULL;
    if (in.len > WD_SGX_COLLATERAL_MAX) {
        return WD_EPROTO;
    }
    wd_pki_ossl_clear();
    if (wd_pki_looks_like_pem(in.p, in.len)) {
        struct crl_scan cs = {NULL, 0};
        int rc = wd_pki_pem_each("CRL", in.p, in.len, false, crl_block, &cs, NULL, NULL);
        if (rc < 0 || cs.blocks != 1) {
            X509_CRL_free(cs.crl);
            ERR_clear_error();
            return rc == WD_ENOMEM ? WD_ENOMEM : WD_EPROTO;
        }
        *out = cs.crl;
        return WD_OK;
    }
    const unsigned char *q = in.p;
    X509_CRL *crl = d2i_X509_CRL(NULL, &q, (long)in.len);
    if (crl == NULL || q != in.p + in.len) {
        X509_CRL_free(crl);
        ERR_clear_error();
        return WD_EPROTO;
    }
    *out = crl;
    return WD_OK;
}

int sgx_crls_parse(const struct wd_sgx_collateral *c, STACK_OF(X509_CRL) * *out,
                   enum wd_sgx_reason *why, struct wd_diag *diag)
{
    *out = NULL;
    if (c == NULL || c->n_crls == 0) {
        return WD_OK;
    }
    if (c->n_crls > WD_SGX_CRLS_MAX) {
        return sgx_refuse(WD_SGX_CRL_MALFORMED, why, diag, "%zu CRLs (at most %d)", c->n_crls,
                          WD_SGX_CRLS_MAX);
    }
    STACK_OF(X509_CRL) *sk = sk_X509_CRL_new_null();
    if (sk == NULL) {
        return WD_ENOMEM;
    }
    for (size_t i = 0; i < c->n_crls; i++) {
        X509_CRL *crl;
        int rc = crl_one(c->crls[i], &crl);
        if (rc == WD_OK && sk_X509_CRL_push(sk, crl) <= 0) {
            X509_CRL_free(crl);
            rc = WD_ENOMEM;
        }
        if (rc < 0) {
            sk_X509_CRL_pop_free(sk, X509_CRL_free);
            if (rc == WD_ENOMEM) {
                return rc;
            }
            return sgx_refuse(WD_SGX_CRL_MALFORMED, why, diag, "CRL %zu does not parse", i + 1);
        }
    }
    *out = sk;
    return WD_OK;
}

/* ---- signed JSON documents ---- */

/* Byte offset of a node from its 1-based line and byte column (wd_json_parse positions). */
static size_t node_offset(struct wd_slice in, const struct wd_node *n)
{
    size_t off = 0;
    for (unsigned line = 1; line < n->line && off < in.len; off++) {
        if (in.p[off] == '\n') {
            line++;
        }
    }
    return off + (n->col - 1);
}

/* End (exclusive) of the JSON object starting at in.p[start] == '{'; input already valid. */
static size_t object_end(struct wd_slice in, size_t start)
{
    size_t depth = 0;
    bool str = false;
    for (size_t i = start; i < in.len; i++) {
        uint8_t ch = in.p[i];
        if (str) {
            if (ch == '\\') {
                i++;
            } else if (ch == '"') {
                str = false;
            }
        } else if (ch == '"') {
            str = true;
        } else if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            if (--depth == 0) {
                return i + 1;
            }
        }
    }
    return 0;
}

/* Exactly n bytes of hex (either case) from a string node. */
static bool hex_exact(const struct wd_node *s, uint8_t *dst, size_t n)
{
    if (s == NULL || s->type != WD_NODE_STR || s->u.s.len != 2 * n) {
        return false;
    }
    const uint8_t *p = (const uint8_t *)s->u.s.p;
    for (size_t i = 0; i < n; i++) {
        int hi = wd_hex_digit_value(p[2 * i]), lo = wd_hex_digit_value(p[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        dst[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

int sgx_signed_json_parse(const char *name, struct wd_slice in, const char *body_key,
                          struct sgx_signed_json *out, enum wd_sgx_reason *why,
                          struct wd_diag *diag)
{
    memset(out, 0, sizeof(*out));
    struct wd_doc_limits lim = {
            .max_bytes = WD_SGX_COLLATERAL_MAX, .max_depth = 16, .max_nodes = 200000};
    struct wd_diag sub;
    int rc = wd_json_parse(name, in.p, in.len, &lim, &out->doc, &sub);
    if (rc == WD_ENOMEM) {
        return rc;
    }
    if (rc < 0) {
        return sgx_refuse(WD_SGX_COLLATERAL_MALFORMED, why, diag, "%s", sub.msg);
    }
    const struct wd_node *root = wd_doc_root(out->doc);
    const struct wd_node *body = wd_node_get(root, body_key);
    const struct wd_node *sig = wd_node_get(root, "signature");
    if (root->type != WD_NODE_OBJ || root->u.obj.n != 2 || body == NULL || body->type != WD_NODE_OBJ
        || !hex_exact(sig, out->sig, 64)) {
        sgx_signed_json_cleanup(out);
        return sgx_refuse(WD_SGX_COLLATERAL_MALFORMED, why, diag,
                          "%s: not {\"%s\": {...}, \"signature\": \"<128 hex digits>\"}", name,
                          body_key);
    }
    /* The loader accepted an object at this position, so this always finds it; should the
     * loader's idea of positions ever change, refuse rather than verify other bytes. */
    size_t start = node_offset(in, body);
    size_t end = start < in.len && in.p[start] == '{' ? object_end(in, start) : 0;
    if (end == 0) {
        sgx_signed_json_cleanup(out);
        return sgx_refuse(WD_SGX_COLLATERAL_MALFORMED, why, diag, "%s: cannot locate the body",
                          name);
    }
    out->body_node = body;
    out->body.p = in.p + start;
    out->body.len = end - start;
    return WD_OK;
}

void sgx_signed_json_cleanup(struct sgx_signed_json *sj)
{
    if (sj != NULL) {
        wd_doc_free(sj->doc);
        sj->doc = NULL;
    }
}

/* Helpers that read one member of a body object, strictly. */
struct jread {
    const char *doc; /* "TCB info" / "QE identity", for messages */
    enum wd_sgx_reason *why;
    struct wd_diag *diag;
};

static int jbad(const struct jread *j, const char *what)
{
    return sgx_refuse(WD_SGX_COLLATERAL_MALFORMED, j->why, j->diag, "%s: %s", j->doc, what);
}

static int jint(const struct jread *j, const struct wd_node *obj, const char *key, int64_t min,
                int64_t max, int64_t *out)
{
    const struct wd_node *n = wd_node_get(obj, key);
    if (n == NULL || n->type != WD_NODE_INT || n->u.i < min || n->u.i > max) {
        char what[96];
        (void)snprintf(what, sizeof(what), "'%s' missing or not an integer in range", key);
        return jbad(j, what);
    }
    *out = n->u.i;
    return WD_OK;
}

static int jtime(const struct jread *j, const struct wd_node *obj, const char *key, int64_t *out)
{
    const struct wd_node *n = wd_node_get(obj, key);
    if (n == NULL || n->type != WD_NODE_STR || strlen(n->u.s.p) != n->u.s.len
        || wd_time_parse(n->u.s.p, out) < 0) {
        char what[96];
        (void)snprintf(what, sizeof(what), "'%s' missing or not an RFC 3339 time", key);
        return jbad(j, what);
    }
    return WD_OK;
}

static int jhex(const struct jread *j, const struct wd_node *obj, const char *key, uint8_t *dst,
                size_t n)
{
    if (!hex_exact(wd_node_get(obj, key), dst, n)) {
        char what[96];
        (void)snprintf(what, sizeof(what), "'%s' missing or not %zu hex bytes", key, n);
        return jbad(j, what);
    }
    return WD_OK;
}

static int jstatus(const struct jread *j, const struct wd_node *lvl, enum wd_sgx_tcb_status *out)
{
    const struct wd_node *n = wd_node_get(lvl, "tcbStatus");
    int s = n != NULL && n->type == WD_NODE_STR ? sgx_tcb_status_parse(n->u.s.p, n->u.s.len) : -1;
    if (s < 0) {
        return jbad(j, "a TCB level's 'tcbStatus' is missing or unknown");
    }
    *out = (enum wd_sgx_tcb_status)s;
    return WD_OK;
}

/* advisoryIDs (optional): array of "INTEL-SA-NNNNN" strings, joined with ','. */
static int jadvisories(const struct jread *j, const struct wd_node *lvl, char *dst, size_t cap)
{
    dst[0] = '\0';
    const struct wd_node *a = wd_node_get(lvl, "advisoryIDs");
    if (a == NULL) {
        return WD_OK;
    }
    if (a->type != WD_NODE_ARR) {
        return jbad(j, "'advisoryIDs' is not an array");
    }
    size_t off = 0;
    for (size_t i = 0; i < a->u.arr.n; i++) {
        const struct wd_node *s = a->u.arr.items[i];
        if (s->type != WD_NODE_STR || s->u.s.len == 0 || s->u.s.len > 64) {
            return jbad(j, "an advisory ID is not a short string");
        }
        for (size_t k = 0; k < s->u.s.len; k++) {
            char ch = s->u.s.p[k];
            if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-')) {
                return jbad(j, "an advisory ID has characters other than A-Z 0-9 -");
            }
        }
        size_t need = s->u.s.len + (off > 0 ? 1 : 0);
        if (off + need + 1 > cap) {
            break; /* the claims say what fits; the level's status is what counts */
        }
        if (off > 0) {
            dst[off++] = ',';
        }
        memcpy(dst + off, s->u.s.p, s->u.s.len);
        off += s->u.s.len;
        dst[off] = '\0';
    }
    return WD_OK;
}

static const struct wd_node *jarray(const struct wd_node *obj, const char *key, size_t min,
                                    size_t max)
{
    const struct wd_node *a = wd_node_get(obj, key);
    if (a == NULL || a->type != WD_NODE_ARR || a->u.arr.n < min || a->u.arr.n > max) {
        return NULL;
    }
    return a;
}

/* The body's "tcbLevels": an array of 1..SGX_TCB_LEVELS_MAX levels. */
static int jlevels(const struct jread *j, const struct wd_node *body, const struct wd_node **out)
{
    *out = jarray(body, "tcbLevels", 1, SGX_TCB_LEVELS_MAX);
    if (*out == NULL) {
        return jbad(j, "'tcbLevels' is not an array of 1 to 256 levels");
    }
    return WD_OK;
}

/* What every TCB level has, in TCB info and QE identity alike: date, status, advisories. */
static int jlevel_common(const struct jread *j, const struct wd_node *lvl, int64_t *date,
                         enum wd_sgx_tcb_status *status, char *advisories, size_t cap)
{
    WD_TRY(jtime(j, lvl, "tcbDate", date));
    WD_TRY(jstatus(j, lvl, status));
    return jadvisories(j, lvl, advisories, cap);
}

/* One level's "tcb" of TCB info v2 (sgxtcbcompNNsvn members) or v3 (sgxtcbcomponents). */
static int tcb_components(const struct jread *j, int version, const struct wd_node *tcb,
                          struct sgx_tcb_level *lv)
{
    int64_t v = 0;
    if (tcb == NULL || tcb->type != WD_NODE_OBJ) {
        return jbad(j, "a TCB level has no 'tcb' object");
    }
    if (version == 3) {
        const struct wd_node *comps = jarray(tcb, "sgxtcbcomponents", 16, 16);
        if (comps == NULL) {
            return jbad(j, "'sgxtcbcomponents' is not an array of 16");
        }
        for (size_t i = 0; i < 16; i++) {
            WD_TRY(jint(j, comps->u.arr.items[i], "svn", 0, 255, &v));
            lv->comp[i] = (uint8_t)v;
        }
    } else {
        for (size_t i = 0; i < 16; i++) {
            char key[24];
            (void)snprintf(key, sizeof(key), "sgxtcbcomp%02zusvn", i + 1);
            WD_TRY(jint(j, tcb, key, 0, 255, &v));
            lv->comp[i] = (uint8_t)v;
        }
    }
    WD_TRY(jint(j, tcb, "pcesvn", 0, 65535, &v));
    lv->pce_svn = (uint16_t)v;
    return WD_OK;
}

/* "id" of a v3 TCB info / v2 identity; anything but the SGX one is another TEE's document. */
static int jid(const struct jread *j, const struct wd_node *body, const char *want, bool required)
{
    const struct wd_node *id = wd_node_get(body, "id");
    if (id == NULL && !required) {
        return WD_OK;
    }
    if (id == NULL || id->type != WD_NODE_STR) {
        return jbad(j, "'id' missing or not a string");
    }
    if (strlen(want) != id->u.s.len || memcmp(id->u.s.p, want, id->u.s.len) != 0) {
        char got[32];
        wd_log_escape(got, sizeof(got), id->u.s.p, id->u.s.len);
        return sgx_refuse(WD_SGX_COLLATERAL_WRONG_TYPE, j->why, j->diag,
                          "%s: id \"%s\" is not \"%s\" (not SGX collateral)", j->doc, got, want);
    }
    return WD_OK;
}

int sgx_tcb_info_read(const struct sgx_signed_json *sj, struct sgx_tcb_info *out,
                      enum wd_sgx_reason *why, struct wd_diag *diag)
{
    memset(out, 0, sizeof(*out));
    const struct jread j = {"TCB info", why, diag};
    const struct wd_node *b = sj->body_node;
    int64_t v = 0;
    WD_TRY(jint(&j, b, "version", 2, 3, &v));
    out->version = (int)v;
    /* Intel PCS API v4 TCB info v3: "id" is "SGX" or "TDX"; v2 has no id (SGX only). */
    WD_TRY(jid(&j, b, "SGX", out->version == 3));
    WD_TRY(jtime(&j, b, "issueDate", &out->issue_date));
    WD_TRY(jtime(&j, b, "nextUpdate", &out->next_update));
    WD_TRY(jhex(&j, b, "fmspc", out->fmspc, 6));
    WD_TRY(jhex(&j, b, "pceId", out->pce_id, 2));
    WD_TRY(jint(&j, b, "tcbType", 0, 0, &v));
    WD_TRY(jint(&j, b, "tcbEvaluationDataNumber", 0, INT32_MAX, &out->eval_number));
    const struct wd_node *levels = NULL;
    WD_TRY(jlevels(&j, b, &levels));
    out->levels = wd_calloc(levels->u.arr.n, sizeof(*out->levels));
    if (out->levels == NULL) {
        return WD_ENOMEM;
    }
    out->n_levels = levels->u.arr.n;
    int rc = WD_OK;
    for (size_t i = 0; i < levels->u.arr.n && rc == WD_OK; i++) {
        const struct wd_node *lvl = levels->u.arr.items[i];
        struct sgx_tcb_level *lv = &out->levels[i];
        if (lvl->type != WD_NODE_OBJ) {
            rc = jbad(&j, "a TCB level is not an object");
            break;
        }
        rc = tcb_components(&j, out->version, wd_node_get(lvl, "tcb"), lv);
        if (rc == WD_OK) {
            rc = jlevel_common(&j, lvl, &lv->date, &lv->status, lv->advisories,
                               sizeof(lv->advisories));
        }
    }
    if (rc < 0) {
        sgx_tcb_info_cleanup(out);
    }
    return rc;
}

void sgx_tcb_info_cleanup(struct sgx_tcb_info *t)
{
    if (t != NULL) {
        wd_free(t->levels);
        t->levels = NULL;
        t->n_levels = 0;
    }
}

int sgx_qe_identity_read(const struct sgx_signed_json *sj, struct sgx_qe_identity *out,
                         enum wd_sgx_reason *why, struct wd_diag *diag)
{
    memset(out, 0, sizeof(*out));
    const struct jread j = {"QE identity", why, diag};
    const struct wd_node *b = sj->body_node;
    int64_t v = 0;
    /* Intel PCS API "Get Quoting Enclave Identity", enclave identity v2: id "QE" for the SGX
     * QE ("QVE", "TD_QE" are other enclaves' identities). */
    WD_TRY(jid(&j, b, "QE", true));
    WD_TRY(jint(&j, b, "version", 2, 2, &v));
    out->version = (int)v;
    WD_TRY(jtime(&j, b, "issueDate", &out->issue_date));
    WD_TRY(jtime(&j, b, "nextUpdate", &out->next_update));
    WD_TRY(jint(&j, b, "tcbEvaluationDataNumber", 0, INT32_MAX, &out->eval_number));
    uint8_t m[4] = {0}, mm[4] = {0};
    WD_TRY(jhex(&j, b, "miscselect", m, 4));
    WD_TRY(jhex(&j, b, "miscselectMask", mm, 4));
    /* Written as a big-endian number (Intel QVL vectorToUint32). */
    out->miscselect = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
    out->miscselect_mask =
            (uint32_t)mm[0] << 24 | (uint32_t)mm[1] << 16 | (uint32_t)mm[2] << 8 | mm[3];
    WD_TRY(jhex(&j, b, "attributes", out->attributes, 16));
    WD_TRY(jhex(&j, b, "attributesMask", out->attributes_mask, 16));
    WD_TRY(jhex(&j, b, "mrsigner", out->mrsigner, 32));
    WD_TRY(jint(&j, b, "isvprodid", 0, 65535, &v));
    out->isv_prod_id = (uint16_t)v;
    const struct wd_node *levels = NULL;
    WD_TRY(jlevels(&j, b, &levels));
    out->levels = wd_calloc(levels->u.arr.n, sizeof(*out->levels));
    if (out->levels == NULL) {
        return WD_ENOMEM;
    }
    out->n_levels = levels->u.arr.n;
    int rc = WD_OK;
    for (size_t i = 0; i < levels->u.arr.n && rc == WD_OK; i++) {
        const struct wd_node *lvl = levels->u.arr.items[i];
        struct sgx_qe_level *lv = &out->levels[i];
        const struct wd_node *tcb = lvl->type == WD_NODE_OBJ ? wd_node_get(lvl, "tcb") : NULL;
        if (tcb == NULL || tcb->type != WD_NODE_OBJ) {
            rc = jbad(&j, "a TCB level has no 'tcb' object");
            break;
        }
        rc = jint(&j, tcb, "isvsvn", 0, 65535, &v);
        lv->isv_svn = (uint16_t)v;
        if (rc == WD_OK) {
            rc = jlevel_common(&j, lvl, &lv->date, &lv->status, lv->advisories,
                               sizeof(lv->advisories));
        }
    }
    if (rc < 0) {
        sgx_qe_identity_cleanup(out);
    }
    return rc;
}

void sgx_qe_identity_cleanup(struct sgx_qe_identity *q)
{
    if (q != NULL) {
        wd_free(q->levels);
        q->levels = NULL;
        q->n_levels = 0;
    }
}

/* ---- verified collateral ---- */

static void coll_destroy(struct sgx_obj *o)
{
    struct sgx_coll *c = (struct sgx_coll *)o;
    sgx_tcb_info_cleanup(&c->tcb);
    sgx_qe_identity_cleanup(&c->qe);
    wd_free(c);
}

/* The TCB Signing certificate: a leaf issued directly by the anchor. */
static int signer_verify(const struct sgx_anchor *anchor, struct wd_slice chain,
                         STACK_OF(X509_CRL) * crls, int64_t now, EVP_PKEY **key, int64_t *nb,
                         int64_t *na, enum wd_sgx_reason *why, struct wd_diag *diag)
{
    *key = NULL;
    if (chain.len == 0) {
        return sgx_refuse(WD_SGX_COLLATERAL_NO_SIGNER, why, diag,
                          "TCB info / QE identity given without the TCB Signing chain");
    }
    STACK_OF(X509) *certs = NULL;
    struct wd_diag sub;
    int rc = chain.len > WD_SGX_COLLATERAL_MAX
                     ? WD_EPROTO
                     : wd_certs_parse("TCB Signing chain", chain.p, chain.len, &certs, &sub);
    if (rc == WD_ENOMEM) {
        return rc;
    }
    if (rc < 0) {
        return sgx_refuse(WD_SGX_COLLATERAL_MALFORMED, why, diag, "TCB Signing chain: %s",
                          rc == WD_EPROTO && chain.len > WD_SGX_COLLATERAL_MAX ? "too large"
                                                                               : sub.msg);
    }
    int count = sk_X509_num(certs);
    X509 *leaf = sk_X509_value(certs, 0);
    if (count > 2 || (count == 2 && X509_cmp(sk_X509_value(certs, 1), anchor->root) != 0)) {
        rc = sgx_refuse(WD_SGX_COLLATERAL_SIGNER, why, diag,
                        "TCB Signing chain is not the signing certificate and the pinned root");
        goto out;
    }
    if (X509_check_ca(leaf) != 0) {
        rc = sgx_refuse(WD_SGX_COLLATERAL_SIGNER, why, diag,
                        "TCB Signing certificate is a CA certificate");
        goto out;
    }
    static const struct sgx_chain_reasons map = {
            .untrusted = WD_SGX_COLLATERAL_SIGNER,
            .bad_sig = WD_SGX_COLLATERAL_SIGNER,
            .not_yet_valid = WD_SGX_COLLATERAL_SIGNER_TIME,
            .expired = WD_SGX_COLLATERAL_SIGNER_TIME,
            .revoked = WD_SGX_COLLATERAL_SIGNER,
            .other = WD_SGX_COLLATERAL_SIGNER,
    };
    /* No intermediates: the signer must be issued by the anchor itself. */
    WD_CHECK(sgx_chain_verify(anchor, leaf, NULL, crls, now, 2, &map, "TCB Signing chain", nb, na,
                              why, diag));
    EVP_PKEY *k = X509_get0_pubkey(leaf);
    if (k == NULL || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) {
        ERR_clear_error();
        rc = sgx_refuse(WD_SGX_COLLATERAL_SIGNER, why, diag,
                        "TCB Signing certificate key is not EC");
        goto out;
    }
    EVP_PKEY_up_ref(k);
    *key = k;
    rc = WD_OK;
out:
    wd_certs_free(certs);
    return rc;
}

/* Intel's signature over the exact body bytes; 1 valid, 0 invalid, < 0 error. */
static int doc_signature(const char *name, const struct sgx_signed_json *sj, EVP_PKEY *key,
                         enum wd_sgx_reason *why, struct wd_diag *diag)
{
    int ok = sgx_ecdsa_verify(key, sj->body.p, sj->body.len, sj->sig);
    if (ok < 0) {
        return ok;
    }
    if (ok == 0) {
        return sgx_refuse(WD_SGX_COLLATERAL_SIGNATURE, why, diag,
                          "%s: signature does not verify with the TCB Signing key", name);
    }
    return WD_OK;
}

/* The document's issueDate .. nextUpdate window must hold now. */
static int doc_window(const char *name, int64_t issue, int64_t next, int64_t now,
                      enum wd_sgx_reason *why, struct wd_diag *diag)
{
    char a[21], b[21];
    if (now < issue) {
        return sgx_refuse(WD_SGX_COLLATERAL_NOT_YET_VALID, why, diag, "%s: issued %s, after now",
                          name, wd_time_format(issue, a));
    }
    if (now > next) {
        return sgx_refuse(WD_SGX_COLLATERAL_EXPIRED, why, diag,
                          "%s: nextUpdate %s has passed (issued %s)", name, wd_time_format(next, a),
                          wd_time_format(issue, b));
    }
    return WD_OK;
}

int sgx_coll_verify(const struct sgx_anchor *anchor, const struct wd_sgx_collateral *c,
                    STACK_OF(X509_CRL) * crls, int64_t now, struct sgx_coll **out,
                    enum wd_sgx_reason *why, struct wd_diag *diag)
{
    *out = NULL;
    int rc;
    EVP_PKEY *key = NULL;
    struct sgx_signed_json tcb = {0}, qe = {0};
    struct sgx_coll *co = wd_calloc(1, sizeof(*co));
    if (co == NULL) {
        return WD_ENOMEM;
    }
    atomic_init(&co->obj.refs, 1);
    co->obj.destroy = coll_destroy;
    /* Parse first, so a malformed document is reported as such whatever its signer. */
    if (c->tcb_info.len > 0) {
        WD_CHECK(sgx_signed_json_parse("TCB info", c->tcb_info, "tcbInfo", &tcb, why, diag));
    }
    if (c->qe_identity.len > 0) {
        WD_CHECK(sgx_signed_json_parse("QE identity", c->qe_identity, "enclaveIdentity", &qe, why,
                                       diag));
    }
    WD_CHECK(signer_verify(anchor, c->signing_chain, crls, now, &key, &co->nb, &co->na, why, diag));
    if (tcb.doc != NULL) {
        /* Verify the signature before believing any member (id included). */
        WD_CHECK(doc_signature("TCB info", &tcb, key, why, diag));
        WD_CHECK(sgx_tcb_info_read(&tcb, &co->tcb, why, diag));
        co->has_tcb = true;
        WD_CHECK(doc_window("TCB info", co->tcb.issue_date, co->tcb.next_update, now, why, diag));
        co->nb = WD_MAX(co->nb, co->tcb.issue_date);
        co->na = WD_MIN(co->na, co->tcb.next_update);
    }
    if (qe.doc != NULL) {
        WD_CHECK(doc_signature("QE identity", &qe, key, why, diag));
        WD_CHECK(sgx_qe_identity_read(&qe, &co->qe, why, diag));
        co->has_qe = true;
        WD_CHECK(doc_window("QE identity", co->qe.issue_date, co->qe.next_update, now, why, diag));
        co->nb = WD_MAX(co->nb, co->qe.issue_date);
        co->na = WD_MIN(co->na, co->qe.next_update);
    }
    *out = co;
    co = NULL;
    rc = WD_OK;
out:
    if (co != NULL) {
        sgx_obj_release(&co->obj);
    }
    EVP_PKEY_free(key);
    sgx_signed_json_cleanup(&tcb);
    sgx_signed_json_cleanup(&qe);
    return rc;
}
