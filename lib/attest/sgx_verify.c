/*
 * SGX DCAP quote verification: the order of checks described in include/warden/sgx.h, the
 * claims, the policy, reasons, and the cache of verified chains and collateral.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/sgx.h"

#include "sgx_int.h"

/* ---- reasons ---- */

static const char *const reason_names[WD_SGX_REASON_COUNT_] = {
        [WD_SGX_OK] = "ok",
        [WD_SGX_TOO_LARGE] = "too-large",
        [WD_SGX_TRUNCATED] = "truncated",
        [WD_SGX_TRAILING_BYTES] = "trailing-bytes",
        [WD_SGX_TDX_QUOTE] = "tdx-quote",
        [WD_SGX_UNSUPPORTED_VERSION] = "unsupported-version",
        [WD_SGX_UNSUPPORTED_TEE_TYPE] = "unsupported-tee-type",
        [WD_SGX_UNSUPPORTED_KEY_TYPE] = "unsupported-key-type",
        [WD_SGX_UNKNOWN_QE_VENDOR] = "unknown-qe-vendor",
        [WD_SGX_UNSUPPORTED_CERT_TYPE] = "unsupported-certification-data",
        [WD_SGX_PCK_CHAIN_MALFORMED] = "pck-chain-malformed",
        [WD_SGX_PCK_UNTRUSTED] = "pck-untrusted",
        [WD_SGX_PCK_BAD_SIGNATURE] = "pck-bad-signature",
        [WD_SGX_PCK_NOT_YET_VALID] = "pck-not-yet-valid",
        [WD_SGX_PCK_EXPIRED] = "pck-expired",
        [WD_SGX_PCK_REVOKED] = "pck-revoked",
        [WD_SGX_PCK_INVALID] = "pck-invalid",
        [WD_SGX_PCK_BAD_KEY] = "pck-bad-key",
        [WD_SGX_PCK_BAD_EXTENSION] = "pck-bad-extension",
        [WD_SGX_QE_REPORT_SIGNATURE] = "qe-report-signature",
        [WD_SGX_ATT_KEY_BINDING] = "att-key-binding",
        [WD_SGX_ATT_KEY_INVALID] = "att-key-invalid",
        [WD_SGX_ISV_SIGNATURE] = "isv-signature",
        [WD_SGX_QE_IDENTITY_MISMATCH] = "qe-identity-mismatch",
        [WD_SGX_QE_TCB_UNSUPPORTED] = "qe-tcb-unsupported",
        [WD_SGX_QE_TCB_REVOKED] = "qe-tcb-revoked",
        [WD_SGX_COLLATERAL_MALFORMED] = "collateral-malformed",
        [WD_SGX_COLLATERAL_WRONG_TYPE] = "collateral-wrong-type",
        [WD_SGX_COLLATERAL_NO_SIGNER] = "collateral-no-signer",
        [WD_SGX_COLLATERAL_SIGNATURE] = "collateral-signature",
        [WD_SGX_COLLATERAL_SIGNER] = "collateral-signer-untrusted",
        [WD_SGX_COLLATERAL_SIGNER_TIME] = "collateral-signer-expired",
        [WD_SGX_COLLATERAL_NOT_YET_VALID] = "collateral-not-yet-valid",
        [WD_SGX_COLLATERAL_EXPIRED] = "collateral-expired",
        [WD_SGX_CRL_MALFORMED] = "crl-malformed",
        [WD_SGX_CRL_INVALID] = "crl-invalid",
        [WD_SGX_CRL_EXPIRED] = "crl-expired",
        [WD_SGX_CRL_MISSING] = "crl-missing",
        [WD_SGX_FMSPC_MISMATCH] = "fmspc-mismatch",
        [WD_SGX_PCEID_MISMATCH] = "pceid-mismatch",
        [WD_SGX_PLATFORM_TCB_UNSUPPORTED] = "tcb-unsupported",
        [WD_SGX_PLATFORM_TCB_REVOKED] = "tcb-revoked",
        [WD_SGX_POLICY_DEBUG] = "policy-debug",
        [WD_SGX_POLICY_MEASUREMENT] = "policy-measurement",
        [WD_SGX_POLICY_REPORT_DATA] = "policy-report-data",
        [WD_SGX_POLICY_TCB_STATUS] = "policy-tcb-status",
};

const char *wd_sgx_reason_name(enum wd_sgx_reason r)
{
    if ((size_t)r < WD_ARRAY_LEN(reason_names) && reason_names[r] != NULL) {
        return reason_names[r];
    }
    return "unknown";
}

int sgx_reason_rc(enum wd_sgx_reason r)
{
    switch (r) {
    case WD_SGX_OK:
        return WD_OK;
    case WD_SGX_TOO_LARGE:
        return WD_ELIMIT;
    case WD_SGX_TRUNCATED:
    case WD_SGX_TRAILING_BYTES:
    case WD_SGX_TDX_QUOTE:
    case WD_SGX_UNSUPPORTED_VERSION:
    case WD_SGX_UNSUPPORTED_TEE_TYPE:
    case WD_SGX_UNSUPPORTED_KEY_TYPE:
    case WD_SGX_UNKNOWN_QE_VENDOR:
    case WD_SGX_UNSUPPORTED_CERT_TYPE:
    case WD_SGX_PCK_CHAIN_MALFORMED:
    case WD_SGX_PCK_BAD_EXTENSION:
    case WD_SGX_COLLATERAL_MALFORMED:
    case WD_SGX_COLLATERAL_WRONG_TYPE:
    case WD_SGX_COLLATERAL_NO_SIGNER:
    case WD_SGX_CRL_MALFORMED:
        return WD_EPROTO;
    case WD_SGX_PCK_NOT_YET_VALID:
    case WD_SGX_PCK_EXPIRED:
    case WD_SGX_COLLATERAL_SIGNER_TIME:
    case WD_SGX_COLLATERAL_NOT_YET_VALID:
    case WD_SGX_COLLATERAL_EXPIRED:
    case WD_SGX_CRL_EXPIRED:
        return WD_EEXPIRED;
    case WD_SGX_PCK_REVOKED:
    case WD_SGX_QE_TCB_UNSUPPORTED:
    case WD_SGX_QE_TCB_REVOKED:
    case WD_SGX_PLATFORM_TCB_UNSUPPORTED:
    case WD_SGX_PLATFORM_TCB_REVOKED:
    case WD_SGX_POLICY_DEBUG:
    case WD_SGX_POLICY_MEASUREMENT:
    case WD_SGX_POLICY_REPORT_DATA:
    case WD_SGX_POLICY_TCB_STATUS:
        return WD_EDENIED;
    default:
        return WD_ECRYPTO;
    }
}

int sgx_refuse(enum wd_sgx_reason r, enum wd_sgx_reason *why, struct wd_diag *diag, const char *fmt,
               ...)
{
    if (why != NULL) {
        *why = r;
    }
    if (diag != NULL) {
        int n = snprintf(diag->msg, sizeof(diag->msg), "%s: ", wd_sgx_reason_name(r));
        if (n > 0 && (size_t)n < sizeof(diag->msg)) {
            va_list ap;
            va_start(ap, fmt);
            /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 false positive */
            (void)vsnprintf(diag->msg + n, sizeof(diag->msg) - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return sgx_reason_rc(r);
}

/* What a parsing reason means, for diagnostics. */
static const char *parse_detail(enum wd_sgx_reason r)
{
    switch (r) {
    case WD_SGX_TOO_LARGE:
        return "quote larger than 64 KiB";
    case WD_SGX_TRUNCATED:
        return "the quote ends inside a structure";
    case WD_SGX_TRAILING_BYTES:
        return "bytes after the end of the quote";
    case WD_SGX_TDX_QUOTE:
        return "unsupported quote type: TDX";
    case WD_SGX_UNSUPPORTED_VERSION:
        return "quote version is not 3";
    case WD_SGX_UNSUPPORTED_TEE_TYPE:
        return "tee_type is not SGX";
    case WD_SGX_UNSUPPORTED_KEY_TYPE:
        return "attestation key type is not ECDSA-256-with-P-256";
    case WD_SGX_UNKNOWN_QE_VENDOR:
        return "QE vendor is not Intel";
    case WD_SGX_UNSUPPORTED_CERT_TYPE:
        return "certification data is not a PCK certificate chain (type 5)";
    default:
        return "malformed quote";
    }
}

/* ---- reference-counted verified objects ---- */

void sgx_obj_ref(struct sgx_obj *o)
{
    atomic_fetch_add(&o->refs, 1);
}

void sgx_obj_release(struct sgx_obj *o)
{
    if (o != NULL && atomic_fetch_sub(&o->refs, 1) == 1) {
        o->destroy(o);
    }
}

/* ---- the cache ---- */

struct cache_entry {
    bool used;
    uint8_t key[32];
    int64_t nb, na;
    struct sgx_obj *obj;
};

struct wd_sgx_cache {
    pthread_mutex_t mu;
    size_t cap, next;
    struct cache_entry *e;
    atomic_uint_least64_t hits, misses;
};

int wd_sgx_cache_new(size_t max_entries, struct wd_sgx_cache **out)
{
    WD_ENSURE(out != NULL, WD_EINVAL);
    *out = NULL;
    WD_ENSURE(max_entries >= 1 && max_entries <= 4096, WD_EINVAL);
    struct wd_sgx_cache *c = wd_calloc(1, sizeof(*c));
    if (c == NULL) {
        return WD_ENOMEM;
    }
    c->e = wd_calloc(max_entries, sizeof(*c->e));
    if (c->e == NULL || pthread_mutex_init(&c->mu, NULL) != 0) {
        wd_free(c->e);
        wd_free(c);
        return WD_ENOMEM;
    }
    c->cap = max_entries;
    atomic_init(&c->hits, 0);
    atomic_init(&c->misses, 0);
    *out = c;
    return WD_OK;
}

void wd_sgx_cache_free(struct wd_sgx_cache *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->cap; i++) {
        sgx_obj_release(c->e[i].obj);
    }
    (void)pthread_mutex_destroy(&c->mu);
    wd_free(c->e);
    wd_free(c);
}

void wd_sgx_cache_stats(const struct wd_sgx_cache *c, uint64_t *hits, uint64_t *misses)
{
    if (hits != NULL) {
        *hits = c != NULL ? atomic_load(&c->hits) : 0;
    }
    if (misses != NULL) {
        *misses = c != NULL ? atomic_load(&c->misses) : 0;
    }
}

/* A referenced object for key, valid at now, or NULL. */
static struct sgx_obj *cache_get(struct wd_sgx_cache *c, const uint8_t key[32], int64_t now)
{
    if (c == NULL) {
        return NULL;
    }
    struct sgx_obj *o = NULL;
    (void)pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->cap; i++) {
        struct cache_entry *e = &c->e[i];
        if (e->used && memcmp(e->key, key, 32) == 0) {
            /* Outside its window the entry says nothing: verify afresh for the reason. */
            if (now >= e->nb && now <= e->na) {
                o = e->obj;
                sgx_obj_ref(o);
            }
            break;
        }
    }
    (void)pthread_mutex_unlock(&c->mu);
    atomic_fetch_add(o != NULL ? &c->hits : &c->misses, 1);
    return o;
}

/* Remember obj (one more reference) for key in [nb, na], replacing the same key or the
 * oldest entry. */
static void cache_put(struct wd_sgx_cache *c, const uint8_t key[32], int64_t nb, int64_t na,
                      struct sgx_obj *obj)
{
    /* cap never changes after wd_sgx_cache_new (1..4096). */
    const size_t cap = c != NULL ? c->cap : 0;
    if (cap == 0) {
        return;
    }
    struct sgx_obj *old = NULL;
    sgx_obj_ref(obj);
    (void)pthread_mutex_lock(&c->mu);
    struct cache_entry *e = NULL;
    for (size_t i = 0; i < cap && e == NULL; i++) {
        if (c->e[i].used && memcmp(c->e[i].key, key, 32) == 0) {
            e = &c->e[i];
        }
    }
    if (e == NULL) {
        e = &c->e[c->next];
        c->next = (c->next + 1) % cap;
    }
    old = e->obj;
    e->used = true;
    memcpy(e->key, key, 32);
    e->nb = nb;
    e->na = na;
    e->obj = obj;
    (void)pthread_mutex_unlock(&c->mu);
    sgx_obj_release(old);
}

/* SHA-256 over the anchor, a kind tag, and length-prefixed parts (so parts cannot run into
 * each other), then the collateral's CRLs (coll may be NULL). WD_OK or WD_ENOMEM. */
static int cache_key(const struct sgx_anchor *a, uint8_t kind, const struct wd_slice *parts,
                     size_t nparts, const struct wd_sgx_collateral *coll, uint8_t out[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
             && EVP_DigestUpdate(md, a->id, sizeof(a->id)) == 1
             && EVP_DigestUpdate(md, &kind, 1) == 1;
    size_t total = nparts + (coll != NULL ? coll->n_crls : 0);
    for (size_t i = 0; ok && i < total; i++) {
        struct wd_slice s = i < nparts ? parts[i] : coll->crls[i - nparts];
        uint8_t len[8];
        for (size_t k = 0; k < 8; k++) {
            len[k] = (uint8_t)((uint64_t)s.len >> (8 * k));
        }
        ok = EVP_DigestUpdate(md, len, sizeof(len)) == 1
             && (s.len == 0 || EVP_DigestUpdate(md, s.p, s.len) == 1);
    }
    ok = ok && EVP_DigestFinal_ex(md, out, NULL) == 1;
    EVP_MD_CTX_free(md);
    if (!ok) {
        ERR_clear_error();
        return WD_ENOMEM;
    }
    return WD_OK;
}

/* ---- the checks ---- */

/* SHA-256 of the concatenation of parts. WD_OK or WD_ENOMEM. */
static int sha256_parts(const struct wd_slice *parts, size_t n, uint8_t out[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    for (size_t i = 0; ok && i < n; i++) {
        ok = parts[i].len == 0 || EVP_DigestUpdate(md, parts[i].p, parts[i].len) == 1;
    }
    ok = ok && EVP_DigestFinal_ex(md, out, NULL) == 1;
    EVP_MD_CTX_free(md);
    if (!ok) {
        ERR_clear_error();
        return WD_ENOMEM;
    }
    return WD_OK;
}

/* The attestation key ([QL] A.4: P-256 point, x || y big-endian) as an EVP_PKEY. */
static int att_key_load(const uint8_t xy[64], EVP_PKEY **out)
{
    static char group[] = "prime256v1";
    uint8_t pub[65];
    pub[0] = 0x04; /* SEC 1 §2.3.3 uncompressed point */
    memcpy(pub + 1, xy, 64);
    OSSL_PARAM params[] = {
            OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
            OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)),
            OSSL_PARAM_END,
    };
    *out = NULL;
    int rc = WD_ECRYPTO;
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY_CTX *cc = NULL;
    if (pc == NULL || EVP_PKEY_fromdata_init(pc) != 1) {
        rc = WD_ENOMEM;
        goto out;
    }
    if (EVP_PKEY_fromdata(pc, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        goto out;
    }
    /* On the curve and not the point at infinity; P-256 has cofactor 1. */
    cc = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL);
    if (cc == NULL || EVP_PKEY_public_check_quick(cc) != 1) {
        goto out;
    }
    rc = WD_OK;
out:
    if (rc < 0) {
        EVP_PKEY_free(*out);
        *out = NULL;
    }
    ERR_clear_error();
    EVP_PKEY_CTX_free(cc);
    EVP_PKEY_CTX_free(pc);
    return rc;
}

/*
 * Intel's SGX QE as published in its QE identity (Intel PCS "Get Quoting Enclave Identity",
 * id "QE"): used when no QE identity collateral is given, so that only Intel's QE, and never a
 * debug build of it, can certify an attestation key.
 */
static const struct sgx_qe_identity intel_qe = {
        .miscselect = 0x00000000u,
        .miscselect_mask = 0xffffffffu,
        .attributes = {0x11},
        .attributes_mask = {0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
        .mrsigner = {0x8c, 0x4f, 0x57, 0x75, 0xd7, 0x96, 0x50, 0x3e, 0x96, 0x13, 0x7f,
                     0x77, 0xc6, 0x8a, 0x82, 0x9a, 0x00, 0x56, 0xac, 0x8d, 0xed, 0x70,
                     0x14, 0x0b, 0x08, 0x1b, 0x09, 0x44, 0x90, 0xc5, 0x7b, 0xff},
        .isv_prod_id = 1,
};

/* Intel QVL EnclaveReportVerifier (4.1.2.9.5-8): masked MISCSELECT and ATTRIBUTES, MRSIGNER,
 * ISVPRODID. */
static int qe_identity_check(const struct sgx_qe_identity *id, const struct wd_sgx_report_body *qe,
                             bool builtin, enum wd_sgx_reason *why, struct wd_diag *diag)
{
    const char *src = builtin ? "Intel's QE (built in)" : "the QE identity";
    if ((qe->misc_select & id->miscselect_mask) != id->miscselect) {
        return sgx_refuse(WD_SGX_QE_IDENTITY_MISMATCH, why, diag,
                          "QE MISCSELECT %08x does not match %s", (unsigned)qe->misc_select, src);
    }
    for (size_t i = 0; i < 16; i++) {
        if ((qe->attributes[i] & id->attributes_mask[i]) != id->attributes[i]) {
            return sgx_refuse(WD_SGX_QE_IDENTITY_MISMATCH, why, diag,
                              "QE ATTRIBUTES do not match %s%s", src,
                              (qe->attr_flags & WD_SGX_FLAG_DEBUG) ? " (debug QE)" : "");
        }
    }
    if (memcmp(qe->mr_signer, id->mrsigner, 32) != 0) {
        return sgx_refuse(WD_SGX_QE_IDENTITY_MISMATCH, why, diag, "QE MRSIGNER is not %s's", src);
    }
    if (qe->isv_prod_id != id->isv_prod_id) {
        return sgx_refuse(WD_SGX_QE_IDENTITY_MISMATCH, why, diag, "QE ISVPRODID %u is not %u (%s)",
                          qe->isv_prod_id, id->isv_prod_id, src);
    }
    return WD_OK;
}

static void hex(char *dst, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = digits[p[i] >> 4];
        dst[2 * i + 1] = digits[p[i] & 15];
    }
    dst[2 * n] = '\0';
}

/* Append advisories (comma-separated) to the claims' list, as far as it fits. */
static void add_advisories(struct wd_sgx_claims *c, const char *adv)
{
    size_t off = strlen(c->advisories), n = strlen(adv);
    if (n == 0 || off + n + 2 > sizeof(c->advisories)) {
        return;
    }
    if (off > 0) {
        c->advisories[off++] = ',';
    }
    memcpy(c->advisories + off, adv, n + 1);
}

/* The policy's verdict on verified claims. */
static int policy_check(const struct wd_sgx_policy *pol, const struct wd_sgx_claims *c,
                        enum wd_sgx_reason *why, struct wd_diag *diag)
{
    if (c->debug && !pol->allow_debug) {
        return sgx_refuse(WD_SGX_POLICY_DEBUG, why, diag,
                          "enclave %s is a debug enclave (ATTRIBUTES.DEBUG set)", c->mrenclave_hex);
    }
    bool admitted = false;
    for (size_t i = 0; i < pol->n_mrenclaves && !admitted; i++) {
        admitted = memcmp(pol->mrenclaves + 32 * i, c->mrenclave, 32) == 0;
    }
    for (size_t i = 0; i < pol->n_signers && !admitted; i++) {
        const struct wd_sgx_signer_rule *s = &pol->signers[i];
        admitted = memcmp(s->mrsigner, c->mrsigner, 32) == 0 && s->isv_prod_id == c->isv_prod_id
                   && c->isv_svn >= s->min_isv_svn;
    }
    if (!admitted) {
        return sgx_refuse(WD_SGX_POLICY_MEASUREMENT, why, diag,
                          "MRENCLAVE %s (MRSIGNER %s, ISVPRODID %u, ISVSVN %u) is not allowed",
                          c->mrenclave_hex, c->mrsigner_hex, c->isv_prod_id, c->isv_svn);
    }
    /* The caller's expected report data (e.g. a hash of a key and a nonce): not secret, but
     * compared in constant time all the same. */
    if (pol->report_data != NULL && CRYPTO_memcmp(pol->report_data, c->report_data, 64) != 0) {
        return sgx_refuse(WD_SGX_POLICY_REPORT_DATA, why, diag,
                          "report data does not match the expected value");
    }
    unsigned accept =
            pol->tcb_accept != 0 ? pol->tcb_accept : WD_SGX_TCB_BIT(WD_SGX_TCB_UP_TO_DATE);
    if (!(accept & WD_SGX_TCB_BIT(c->tcb_status))) {
        return sgx_refuse(WD_SGX_POLICY_TCB_STATUS, why, diag, "TCB status %s is not accepted",
                          wd_sgx_tcb_status_name(c->tcb_status));
    }
    return WD_OK;
}

/* Platform TCB from TCB info (Intel QVL TCBInfo matching): the first level, in Intel's
 * newest-first order, whose every SGX TCB component and PCESVN the PCK certificate meets. */
static int platform_tcb(const struct sgx_tcb_info *t, const struct sgx_pck_ext *e,
                        struct wd_sgx_claims *c, enum wd_sgx_reason *why, struct wd_diag *diag)
{
    char a[13], b[13];
    if (memcmp(t->fmspc, e->fmspc, 6) != 0) {
        hex(a, t->fmspc, 6);
        hex(b, e->fmspc, 6);
        return sgx_refuse(WD_SGX_FMSPC_MISMATCH, why, diag,
                          "TCB info is for FMSPC %s, the PCK certificate has %s", a, b);
    }
    if (memcmp(t->pce_id, e->pce_id, 2) != 0) {
        hex(a, t->pce_id, 2);
        hex(b, e->pce_id, 2);
        return sgx_refuse(WD_SGX_PCEID_MISMATCH, why, diag,
                          "TCB info is for PCE-ID %s, the PCK certificate has %s", a, b);
    }
    for (size_t i = 0; i < t->n_levels; i++) {
        const struct sgx_tcb_level *lv = &t->levels[i];
        bool meets = e->pce_svn >= lv->pce_svn;
        for (size_t k = 0; k < 16 && meets; k++) {
            meets = e->tcb_comp[k] >= lv->comp[k];
        }
        if (!meets) {
            continue;
        }
        if (lv->status == WD_SGX_TCB_REVOKED) {
            return sgx_refuse(WD_SGX_PLATFORM_TCB_REVOKED, why, diag,
                              "the platform's TCB level is Revoked");
        }
        c->platform_tcb_status = lv->status;
        add_advisories(c, lv->advisories);
        return WD_OK;
    }
    return sgx_refuse(WD_SGX_PLATFORM_TCB_UNSUPPORTED, why, diag,
                      "the PCK certificate's TCB (PCESVN %u) is below every TCB level", e->pce_svn);
}

/* QE TCB from the QE identity: the first level whose ISVSVN the QE meets. */
static int qe_tcb(const struct sgx_qe_identity *q, uint16_t isv_svn, struct wd_sgx_claims *c,
                  enum wd_sgx_reason *why, struct wd_diag *diag)
{
    for (size_t i = 0; i < q->n_levels; i++) {
        const struct sgx_qe_level *lv = &q->levels[i];
        if (isv_svn < lv->isv_svn) {
            continue;
        }
        if (lv->status == WD_SGX_TCB_REVOKED) {
            return sgx_refuse(WD_SGX_QE_TCB_REVOKED, why, diag, "QE ISVSVN %u is Revoked", isv_svn);
        }
        c->qe_tcb_status = lv->status;
        add_advisories(c, lv->advisories);
        return WD_OK;
    }
    return sgx_refuse(WD_SGX_QE_TCB_UNSUPPORTED, why, diag,
                      "QE ISVSVN %u is below every level of the QE identity", isv_svn);
}

static void claims_fill(const struct wd_sgx_quote *q, const struct sgx_pck_ext *e,
                        struct wd_sgx_claims *c)
{
    const struct wd_sgx_report_body *b = &q->isv;
    c->quote_version = q->version;
    memcpy(c->mrenclave, b->mr_enclave, 32);
    memcpy(c->mrsigner, b->mr_signer, 32);
    hex(c->mrenclave_hex, b->mr_enclave, 32);
    hex(c->mrsigner_hex, b->mr_signer, 32);
    c->isv_prod_id = b->isv_prod_id;
    c->isv_svn = b->isv_svn;
    c->debug = (b->attr_flags & WD_SGX_FLAG_DEBUG) != 0;
    c->attr_flags = b->attr_flags;
    c->attr_xfrm = b->attr_xfrm;
    c->misc_select = b->misc_select;
    memcpy(c->cpu_svn, b->cpu_svn, 16);
    memcpy(c->report_data, b->report_data, 64);
    hex(c->report_data_hex, b->report_data, 64);
    c->qe_svn = q->qe.isv_svn;
    c->pce_svn = e->pce_svn;
    memcpy(c->fmspc, e->fmspc, 6);
    hex(c->fmspc_hex, e->fmspc, 6);
    c->pce_id = (uint16_t)(e->pce_id[0] << 8 | e->pce_id[1]);
}

/* The PCK chain, from the cache or verified now (parsing the CRLs on first need). */
static int pck_get(const struct sgx_anchor *anchor, struct wd_sgx_cache *cache,
                   const struct wd_sgx_quote *q, const struct wd_sgx_collateral *coll,
                   STACK_OF(X509_CRL) * *crls, int64_t now, struct sgx_pck **out,
                   enum wd_sgx_reason *why, struct wd_diag *diag)
{
    uint8_t key[32];
    WD_TRY(cache_key(anchor, 'P', &q->cert_data, 1, coll, key));
    *out = (struct sgx_pck *)cache_get(cache, key, now);
    if (*out != NULL) {
        return WD_OK;
    }
    if (*crls == NULL) {
        WD_TRY(sgx_crls_parse(coll, crls, why, diag));
    }
    WD_TRY(sgx_pck_verify(anchor, q->cert_data, *crls, now, out, why, diag));
    cache_put(cache, key, (*out)->nb, (*out)->na, &(*out)->obj);
    return WD_OK;
}

static int coll_get(const struct sgx_anchor *anchor, struct wd_sgx_cache *cache,
                    const struct wd_sgx_collateral *coll, STACK_OF(X509_CRL) * *crls, int64_t now,
                    struct sgx_coll **out, enum wd_sgx_reason *why, struct wd_diag *diag)
{
    uint8_t key[32];
    const struct wd_slice parts[3] = {coll->tcb_info, coll->qe_identity, coll->signing_chain};
    WD_TRY(cache_key(anchor, 'C', parts, 3, coll, key));
    *out = (struct sgx_coll *)cache_get(cache, key, now);
    if (*out != NULL) {
        return WD_OK;
    }
    if (*crls == NULL) {
        WD_TRY(sgx_crls_parse(coll, crls, why, diag));
    }
    WD_TRY(sgx_coll_verify(anchor, coll, *crls, now, out, why, diag));
    cache_put(cache, key, (*out)->nb, (*out)->na, &(*out)->obj);
    return WD_OK;
}

int sgx_verify_anchor(const struct sgx_anchor *anchor, struct wd_sgx_cache *cache, const uint8_t *p,
                      size_t len, const struct wd_sgx_collateral *coll,
                      const struct wd_sgx_policy *pol, struct wd_sgx_result *res,
                      struct wd_diag *diag)
{
    WD_ENSURE(res != NULL, WD_EINVAL);
    memset(res, 0, sizeof(*res));
    WD_ENSURE(anchor != NULL && (p != NULL || len == 0), WD_EINVAL);
    WD_ENSURE(coll == NULL || coll->n_crls == 0 || coll->crls != NULL, WD_EINVAL);
    if (diag != NULL) {
        diag->msg[0] = '\0';
    }
    enum wd_sgx_reason why = WD_SGX_OK;
    struct wd_sgx_quote q;
    int rc = wd_sgx_quote_parse(p, len, &q, &why);
    if (rc < 0) {
        res->reason = why;
        return sgx_refuse(why, NULL, diag, "%s", parse_detail(why));
    }

    const int64_t now = wd_time_now();
    STACK_OF(X509_CRL) *crls = NULL;
    struct sgx_pck *pck = NULL;
    struct sgx_coll *co = NULL;
    EVP_PKEY *ak = NULL;
    struct wd_sgx_claims *c = &res->claims;

    /* 2. The PCK chain to the pinned root. */
    WD_CHECK(pck_get(anchor, cache, &q, coll, &crls, now, &pck, &why, diag));

    /* 3. [QL] A.4 "QE Report Signature": ECDSA-P256 over the 384-byte QE report body. */
    rc = sgx_ecdsa_verify(pck->key, q.qe.raw.p, q.qe.raw.len, q.qe_signature);
    if (rc < 0) {
        goto out;
    }
    if (rc == 0) {
        rc = sgx_refuse(WD_SGX_QE_REPORT_SIGNATURE, &why, diag,
                        "the QE report is not signed by the PCK key");
        goto out;
    }

    /* 4. [QL] A.4 "QE Report": report_data = SHA-256(ECDSA attestation key || QE
     * authentication data) || 32 zero bytes. */
    uint8_t digest[32];
    const struct wd_slice bound[2] = {{q.att_key, sizeof(q.att_key)}, q.qe_auth_data};
    WD_CHECK(sha256_parts(bound, 2, digest));
    static const uint8_t zero[32] = {0};
    if (memcmp(q.qe.report_data, digest, 32) != 0 || memcmp(q.qe.report_data + 32, zero, 32) != 0) {
        rc = sgx_refuse(WD_SGX_ATT_KEY_BINDING, &why, diag,
                        "QE report data is not SHA-256(attestation key || QE authentication "
                        "data) followed by zeros");
        goto out;
    }

    /* 5. [QL] A.4 "ISV Enclave Report Signature": over header || ISV report body. */
    rc = att_key_load(q.att_key, &ak);
    if (rc == WD_ECRYPTO) {
        rc = sgx_refuse(WD_SGX_ATT_KEY_INVALID, &why, diag,
                        "the attestation key is not a P-256 point");
        goto out;
    }
    if (rc < 0) {
        goto out;
    }
    rc = sgx_ecdsa_verify(ak, q.signed_data.p, q.signed_data.len, q.isv_signature);
    if (rc < 0) {
        goto out;
    }
    if (rc == 0) {
        rc = sgx_refuse(WD_SGX_ISV_SIGNATURE, &why, diag,
                        "the quote is not signed by its attestation key");
        goto out;
    }

    /* 6-7. Collateral, the QE identity, the TCB levels. */
    if (coll != NULL && (coll->tcb_info.len > 0 || coll->qe_identity.len > 0)) {
        WD_CHECK(coll_get(anchor, cache, coll, &crls, now, &co, &why, diag));
    }
    if (co != NULL && co->has_qe) {
        WD_CHECK(qe_identity_check(&co->qe, &q.qe, false, &why, diag));
        WD_CHECK(qe_tcb(&co->qe, q.qe.isv_svn, c, &why, diag));
        c->qe_identity_checked = true;
    } else {
        WD_CHECK(qe_identity_check(&intel_qe, &q.qe, true, &why, diag));
    }
    if (co != NULL && co->has_tcb) {
        WD_CHECK(platform_tcb(&co->tcb, &pck->ext, c, &why, diag));
        c->tcb_info_checked = true;
    }
    c->tcb_status = sgx_tcb_converge(c->platform_tcb_status, c->qe_tcb_status);
    c->crls_checked = coll != NULL && coll->n_crls > 0;
    claims_fill(&q, &pck->ext, c);
    res->has_claims = true;

    /* 8. The relying party's policy. */
    if (pol != NULL) {
        WD_CHECK(policy_check(pol, c, &why, diag));
    }
    rc = WD_OK;
out:
    res->reason = rc < 0 ? why : WD_SGX_OK;
    if (rc < 0 && why == WD_SGX_OK) {
        /* An internal failure (ENOMEM, OpenSSL) is not a verdict on the evidence. */
        res->has_claims = false;
    }
    if (rc < 0 && res->has_claims && (size_t)why < WD_SGX_POLICY_DEBUG) {
        res->has_claims = false;
    }
    EVP_PKEY_free(ak);
    if (co != NULL) {
        sgx_obj_release(&co->obj);
    }
    if (pck != NULL) {
        sgx_obj_release(&pck->obj);
    }
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    return rc;
}

int wd_sgx_verify_cached(struct wd_sgx_cache *cache, const uint8_t *p, size_t len,
                         const struct wd_sgx_collateral *collateral,
                         const struct wd_sgx_policy *policy, struct wd_sgx_result *result,
                         struct wd_diag *diag)
{
    const struct sgx_anchor *anchor;
    WD_TRY(sgx_anchor_intel(&anchor));
    return sgx_verify_anchor(anchor, cache, p, len, collateral, policy, result, diag);
}

int wd_sgx_verify(const uint8_t *p, size_t len, const struct wd_sgx_collateral *collateral,
                  const struct wd_sgx_policy *policy, struct wd_sgx_result *result,
                  struct wd_diag *diag)
{
    return wd_sgx_verify_cached(NULL, p, len, collateral, policy, result, diag);
}
