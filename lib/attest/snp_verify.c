/*
 * SEV-SNP report verification: the VCEK/VLEK certificate's AMD extensions, its chain to
 * the pinned ARK of its product line, the report's ECDSA P-384 signature, the TCB and chip
 * binding, and the verifier policy. The chain cache keeps the per-product roots and the
 * endorsement keys already chained, so repeated verifications skip the RSA work.
 */
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/pki.h"
#include "warden/snp.h"

#include "snp_int.h"

/* ---- the VCEK's AMD extensions ([VCEK] §3.1, Table 8) ---- */

/* Content octets of the arc 1.3.6.1.4.1.3704.1 (AMD, SEV) that every extension is under. */
static const uint8_t amd_arc[] = {0x2B, 0x06, 0x01, 0x04, 0x01, 0x9C, 0x78, 0x01};

enum amd_ext {
    EXT_PRODUCT_NAME, /* .2   IA5String, e.g. "Milan-B0" */
    EXT_BL_SPL,       /* .3.1 INTEGER */
    EXT_TEE_SPL,      /* .3.2 INTEGER */
    EXT_SNP_SPL,      /* .3.3 INTEGER */
    EXT_UCODE_SPL,    /* .3.8 INTEGER */
    EXT_FMC_SPL,      /* .3.9 INTEGER (Turin) */
    EXT_HWID,         /* .4   OCTET STRING (VCEK only) */
    EXT_COUNT,
};

/* The arc's suffix for each extension warden reads; the others (.1, .3.4-.3.7, .5) are not. */
static const struct {
    uint8_t suffix[2];
    size_t len;
    const char *name;
} amd_exts[EXT_COUNT] = {
        [EXT_PRODUCT_NAME] = {{0x02, 0}, 1, "productName"},
        [EXT_BL_SPL] = {{0x03, 0x01}, 2, "blSPL"},
        [EXT_TEE_SPL] = {{0x03, 0x02}, 2, "teeSPL"},
        [EXT_SNP_SPL] = {{0x03, 0x03}, 2, "snpSPL"},
        [EXT_UCODE_SPL] = {{0x03, 0x08}, 2, "ucodeSPL"},
        [EXT_FMC_SPL] = {{0x03, 0x09}, 2, "fmcSPL"},
        [EXT_HWID] = {{0x04, 0}, 1, "hwID"},
};

static int amd_ext_index(const ASN1_OBJECT *obj)
{
    const unsigned char *d = OBJ_get0_data(obj);
    size_t n = OBJ_length(obj);
    if (d == NULL || n <= sizeof(amd_arc) || memcmp(d, amd_arc, sizeof(amd_arc)) != 0) {
        return -1;
    }
    for (int i = 0; i < EXT_COUNT; i++) {
        if (n == sizeof(amd_arc) + amd_exts[i].len
            && memcmp(d + sizeof(amd_arc), amd_exts[i].suffix, amd_exts[i].len) == 0) {
            return i;
        }
    }
    return -1;
}

/* An SPL: a DER INTEGER (minimal encoding, no trailing bytes) in 0..255. */
static int der_spl(const uint8_t *d, size_t n, uint8_t *out)
{
    if (n == 3 && d[0] == 0x02 && d[1] == 1 && d[2] < 0x80) {
        *out = d[2];
        return 0;
    }
    if (n == 4 && d[0] == 0x02 && d[1] == 2 && d[2] == 0 && d[3] >= 0x80) {
        *out = d[3];
        return 0;
    }
    return -1;
}

/* The productName: an IA5String "<line>" or "<line>-<stepping>". */
static enum wd_snp_product der_product(const uint8_t *d, size_t n, bool *malformed)
{
    static const enum wd_snp_product lines[] = {WD_SNP_MILAN, WD_SNP_GENOA, WD_SNP_TURIN};
    *malformed = n < 2 || d[0] != 0x16 || d[1] >= 0x80 || (size_t)d[1] + 2 != n;
    if (*malformed) {
        return WD_SNP_PRODUCT_UNKNOWN;
    }
    const uint8_t *s = d + 2;
    size_t len = d[1];
    const uint8_t *dash = memchr(s, '-', len);
    if (dash != NULL) {
        len = (size_t)(dash - s);
    }
    for (size_t i = 0; i < WD_ARRAY_LEN(lines); i++) {
        const char *name = wd_snp_product_name(lines[i]);
        if (strlen(name) == len && memcmp(name, s, len) == 0) {
            return lines[i];
        }
    }
    return WD_SNP_PRODUCT_UNKNOWN;
}

/* The single CN of name as bytes, or NULL when there is none or more than one. */
static const ASN1_STRING *single_cn(const X509_NAME *name)
{
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (i < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0) {
        return NULL;
    }
    return X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
}

static bool asn1_eq_str(const ASN1_STRING *s, const char *str)
{
    size_t n = strlen(str);
    return s != NULL && (size_t)ASN1_STRING_length(s) == n
           && memcmp(ASN1_STRING_get0_data(s), str, n) == 0;
}

static int vek_fail(enum wd_snp_reason *why, enum wd_snp_reason r, struct wd_diag *diag,
                    const char *detail)
{
    if (why != NULL) {
        *why = r;
    }
    return wd_diag_set(diag, wd_snp_reason_err(r), NULL, 0, 0, "%s: %s", wd_snp_reason_str(r),
                       detail);
}

int wd_snp_vek_parse(X509 *cert, struct wd_snp_vek *out, enum wd_snp_reason *why,
                     struct wd_diag *diag)
{
    const ASN1_OCTET_STRING *val[EXT_COUNT] = {NULL};
    memset(out, 0, sizeof(*out));
    ERR_clear_error();

    /* [VCEK] §3: the subject CN says which key this is. */
    const ASN1_STRING *cn = single_cn(X509_get_subject_name(cert));
    if (asn1_eq_str(cn, "SEV-VCEK")) {
        out->signer = WD_SNP_SIGNER_VCEK;
    } else if (asn1_eq_str(cn, "SEV-VLEK")) {
        out->signer = WD_SNP_SIGNER_VLEK;
    } else {
        return vek_fail(why, WD_SNP_R_VCEK_TYPE, diag, "subject CN is not SEV-VCEK or SEV-VLEK");
    }
    /* [VCEK] §3: an ECDSA P-384 public key ([ABI] Table 141 signs with it). */
    EVP_PKEY *key = X509_get0_pubkey(cert);
    char group[32];
    size_t group_len = 0;
    if (key == NULL || !EVP_PKEY_is_a(key, "EC")
        || EVP_PKEY_get_group_name(key, group, sizeof(group), &group_len) != 1
        || strcmp(group, "secp384r1") != 0) {
        ERR_clear_error();
        return vek_fail(why, WD_SNP_R_VCEK_KEY, diag, "the public key is not EC P-384");
    }

    int count = X509_get_ext_count(cert);
    for (int i = 0; i < count; i++) {
        X509_EXTENSION *ext = X509_get_ext(cert, i);
        int idx = amd_ext_index(X509_EXTENSION_get_object(ext));
        if (idx < 0) {
            continue;
        }
        if (val[idx] != NULL) {
            char msg[64];
            (void)snprintf(msg, sizeof(msg), "duplicate %s", amd_exts[idx].name);
            return vek_fail(why, WD_SNP_R_VCEK_EXTENSION, diag, msg);
        }
        val[idx] = X509_EXTENSION_get_data(ext);
    }

    if (val[EXT_PRODUCT_NAME] == NULL) {
        return vek_fail(why, WD_SNP_R_VCEK_EXTENSION, diag, "no productName");
    }
    bool malformed;
    out->product = der_product(ASN1_STRING_get0_data(val[EXT_PRODUCT_NAME]),
                               (size_t)ASN1_STRING_length(val[EXT_PRODUCT_NAME]), &malformed);
    if (malformed) {
        return vek_fail(why, WD_SNP_R_VCEK_EXTENSION, diag, "productName is not an IA5String");
    }
    if (out->product == WD_SNP_PRODUCT_UNKNOWN) {
        return vek_fail(why, WD_SNP_R_PRODUCT_UNKNOWN, diag, "productName");
    }

    /* The SPLs make up the TCB the key was derived for; fmcSPL exists on Turin only. */
    static const enum amd_ext spl_ext[] = {EXT_BL_SPL, EXT_TEE_SPL, EXT_SNP_SPL, EXT_UCODE_SPL,
                                           EXT_FMC_SPL};
    uint8_t *spl_out[] = {&out->tcb.bootloader, &out->tcb.tee, &out->tcb.snp, &out->tcb.microcode,
                          &out->tcb.fmc};
    for (size_t i = 0; i < WD_ARRAY_LEN(spl_ext); i++) {
        const ASN1_OCTET_STRING *v = val[spl_ext[i]];
        if (spl_ext[i] == EXT_FMC_SPL && out->product != WD_SNP_TURIN) {
            continue;
        }
        char msg[64];
        if (v == NULL) {
            (void)snprintf(msg, sizeof(msg), "no %s", amd_exts[spl_ext[i]].name);
            return vek_fail(why, WD_SNP_R_VCEK_EXTENSION, diag, msg);
        }
        if (der_spl(ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v), spl_out[i]) != 0) {
            (void)snprintf(msg, sizeof(msg), "%s is not a DER INTEGER 0..255",
                           amd_exts[spl_ext[i]].name);
            return vek_fail(why, WD_SNP_R_VCEK_EXTENSION, diag, msg);
        }
    }
    out->tcb.raw = wd_snp_tcb_encode(&out->tcb, out->product);

    /*
     * hwID: the chip's CHIP_ID, 64 bytes (Turin: its first 8). The KDS has issued it both as
     * the raw bytes and as a DER OCTET STRING inside the extension's OCTET STRING; the two
     * forms differ in length, so each input has one reading.
     */
    if (out->signer == WD_SNP_SIGNER_VCEK) {
        size_t want = out->product == WD_SNP_TURIN ? 8 : WD_SNP_CHIP_ID_SIZE;
        const ASN1_OCTET_STRING *v = val[EXT_HWID];
        if (v == NULL) {
            return vek_fail(why, WD_SNP_R_VCEK_EXTENSION, diag, "no hwID");
        }
        const uint8_t *d = ASN1_STRING_get0_data(v);
        size_t n = (size_t)ASN1_STRING_length(v);
        if (n == want) {
            memcpy(out->hwid, d, want);
        } else if (n == want + 2 && d[0] == 0x04 && d[1] == want) {
            memcpy(out->hwid, d + 2, want);
        } else {
            return vek_fail(why, WD_SNP_R_VCEK_EXTENSION, diag, "hwID has the wrong length");
        }
        out->hwid_len = want;
    }
    if (why != NULL) {
        *why = WD_SNP_OK;
    }
    return WD_OK;
}

/* ---- the cache ---- */

/* The verified roots of one product line, loaded the first time the product is seen. */
struct anchor {
    const struct wd_snp_anchor_src *src;
    bool loaded;
    enum wd_snp_reason failed; /* WD_SNP_OK, or why the pinned certificates are unusable */
    X509 *ark, *ask, *asvk;    /* asvk may be NULL */
};

/* Validity windows of the path leaf, intermediate, ARK (in that order). */
#define PATH_LEN 3

/* An endorsement key whose chain verified, keyed by the SHA-256 of its input bytes. */
struct slot {
    bool used;
    uint8_t sha256[32];
    EVP_PKEY *key;
    struct wd_snp_vek vek;
    int64_t not_before[PATH_LEN], not_after[PATH_LEN];
};

struct wd_snp_cache {
    pthread_mutex_t mu;
    struct anchor anchors[WD_SNP_PRODUCT_COUNT];
    struct slot slots[WD_SNP_CACHE_SLOTS];
    size_t next; /* the slot the next insertion replaces (FIFO) */
    uint64_t hits, misses;
};

int wd_snp_cache_new_anchors(const struct wd_snp_anchor_src *src, size_t n,
                             struct wd_snp_cache **out)
{
    if (out == NULL || src == NULL || n == 0 || n > WD_SNP_PRODUCT_COUNT) {
        return WD_EINVAL;
    }
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        if (src[i].product < WD_SNP_MILAN || src[i].product > WD_SNP_TURIN || src[i].ark_pem == NULL
            || src[i].ask_pem == NULL) {
            return WD_EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (src[j].product == src[i].product) {
                return WD_EINVAL;
            }
        }
    }
    struct wd_snp_cache *c = wd_calloc(1, sizeof(*c));
    if (c == NULL) {
        return WD_ENOMEM;
    }
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        wd_free(c);
        return WD_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        c->anchors[src[i].product - 1].src = &src[i];
    }
    *out = c;
    return WD_OK;
}

int wd_snp_cache_new(struct wd_snp_cache **out)
{
    return wd_snp_cache_new_anchors(wd_snp_amd_anchors, WD_SNP_PRODUCT_COUNT, out);
}

void wd_snp_cache_free(struct wd_snp_cache *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < WD_SNP_PRODUCT_COUNT; i++) {
        X509_free(c->anchors[i].ark);
        X509_free(c->anchors[i].ask);
        X509_free(c->anchors[i].asvk);
    }
    for (size_t i = 0; i < WD_SNP_CACHE_SLOTS; i++) {
        EVP_PKEY_free(c->slots[i].key);
    }
    (void)pthread_mutex_destroy(&c->mu);
    wd_free(c);
}

void wd_snp_cache_stats(struct wd_snp_cache *c, uint64_t *hits, uint64_t *misses)
{
    uint64_t h = 0, m = 0;
    if (c != NULL) {
        (void)pthread_mutex_lock(&c->mu);
        h = c->hits;
        m = c->misses;
        (void)pthread_mutex_unlock(&c->mu);
    }
    if (hits != NULL) {
        *hits = h;
    }
    if (misses != NULL) {
        *misses = m;
    }
}

static X509 *pem_cert(const char *pem)
{
    if (pem == NULL) {
        return NULL;
    }
    BIO *bio = BIO_new_mem_buf(pem, -1);
    if (bio == NULL) {
        return NULL;
    }
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return x;
}

/* An intermediate the ARK issued: CA, issuer name = ARK subject, RSASSA-PSS signature. */
static bool signed_by_ark(X509 *inter, X509 *ark)
{
    bool ok = X509_check_ca(inter) != 0
              && X509_NAME_cmp(X509_get_issuer_name(inter), X509_get_subject_name(ark)) == 0
              && X509_get_signature_nid(inter) == NID_rsassaPss
              && X509_verify(inter, X509_get0_pubkey(ark)) == 1;
    ERR_clear_error();
    return ok;
}

/*
 * Parse and check the pinned certificates of a product (called with the lock held, once):
 * the ARK matches its fingerprint and is a self-signed CA, the ASK and ASVK are signed by
 * it. A failure is remembered: a broken pin stays broken.
 */
static void anchor_load(struct anchor *a)
{
    const struct wd_snp_anchor_src *src = a->src;
    a->loaded = true;
    a->failed = WD_SNP_R_ROOT_INVALID;
    a->ark = pem_cert(src->ark_pem);
    a->ask = pem_cert(src->ask_pem);
    a->asvk = pem_cert(src->asvk_pem);
    if (a->ark == NULL || a->ask == NULL || (src->asvk_pem != NULL && a->asvk == NULL)) {
        goto out;
    }
    if (src->ark_sha256 != NULL) {
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned md_len = 0;
        if (X509_digest(a->ark, EVP_sha256(), md, &md_len) != 1 || md_len != 32
            || CRYPTO_memcmp(md, src->ark_sha256, 32) != 0) {
            goto out;
        }
    }
    if (!signed_by_ark(a->ark, a->ark) || !signed_by_ark(a->ask, a->ark)
        || (a->asvk != NULL && !signed_by_ark(a->asvk, a->ark))) {
        goto out;
    }
    a->failed = WD_SNP_OK;
out:
    ERR_clear_error();
}

/* The loaded anchor of product p, or NULL when the cache has none for it. */
static struct anchor *anchor_get(struct wd_snp_cache *c, enum wd_snp_product p)
{
    if (p < WD_SNP_MILAN || p > WD_SNP_TURIN) {
        return NULL;
    }
    struct anchor *a = &c->anchors[p - 1];
    if (a->src == NULL) {
        return NULL;
    }
    (void)pthread_mutex_lock(&c->mu);
    if (!a->loaded) {
        anchor_load(a);
    }
    (void)pthread_mutex_unlock(&c->mu);
    return a;
}

/* On a hit, copy the slot out (with a reference on its key) and return true. */
static bool cache_lookup(struct wd_snp_cache *c, const uint8_t sha[32], struct slot *out)
{
    bool hit = false;
    (void)pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < WD_SNP_CACHE_SLOTS; i++) {
        struct slot *s = &c->slots[i];
        if (s->used && memcmp(s->sha256, sha, 32) == 0 && EVP_PKEY_up_ref(s->key) == 1) {
            *out = *s;
            hit = true;
            break;
        }
    }
    if (hit) {
        c->hits++;
    } else {
        c->misses++;
    }
    (void)pthread_mutex_unlock(&c->mu);
    return hit;
}

/* Remember a verified key (the slot takes its own reference); best effort. */
static void cache_insert(struct wd_snp_cache *c, const struct slot *in)
{
    (void)pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < WD_SNP_CACHE_SLOTS; i++) {
        if (c->slots[i].used && memcmp(c->slots[i].sha256, in->sha256, 32) == 0) {
            goto out;
        }
    }
    if (EVP_PKEY_up_ref(in->key) != 1) {
        goto out;
    }
    struct slot *s = &c->slots[c->next];
    EVP_PKEY_free(s->key);
    *s = *in;
    s->used = true;
    c->next = (c->next + 1) % WD_SNP_CACHE_SLOTS;
out:
    (void)pthread_mutex_unlock(&c->mu);
}

/* ---- verification ---- */

/* Everything one verification holds; released in one place. */
struct vstate {
    struct wd_snp_result *res;
    struct wd_diag *diag;
    X509 *leaf;
    STACK_OF(X509) * extra;
    struct slot path; /* key, vek and validity of the endorsement key's path */
};

static int refuse(struct vstate *st, enum wd_snp_reason r, const char *fmt, ...) WD_PRINTF(3, 4);
static int refuse(struct vstate *st, enum wd_snp_reason r, const char *fmt, ...)
{
    char detail[320] = "";
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);
    }
    st->res->reason = r;
    ERR_clear_error();
    return wd_diag_set(st->diag, wd_snp_reason_err(r), NULL, 0, 0, "%s%s%s", wd_snp_reason_str(r),
                       detail[0] != '\0' ? ": " : "", detail);
}

static int internal(struct vstate *st, int rc, const char *what)
{
    st->res->reason = WD_SNP_R_INTERNAL;
    ERR_clear_error();
    return wd_diag_set(st->diag, rc, NULL, 0, 0, "%s: %s: %s", wd_snp_reason_str(WD_SNP_R_INTERNAL),
                       what, wd_strerror(rc));
}

/* Parse the endorsement key certificate (exactly one, DER or PEM) and the extra chain. */
static int parse_certs(struct vstate *st, const uint8_t *vcek, size_t n_vcek, const uint8_t *chain,
                       size_t n_chain, bool need_leaf)
{
    struct wd_diag d;
    STACK_OF(X509) *sk = NULL;
    int rc;
    if (need_leaf) {
        if (n_vcek > WD_SNP_INPUT_MAX) {
            return refuse(st, WD_SNP_R_VCEK_MALFORMED, "larger than %u bytes", WD_SNP_INPUT_MAX);
        }
        rc = wd_certs_parse("certificate", vcek, n_vcek, &sk, &d);
        if (rc == WD_ENOMEM) {
            return internal(st, rc, "parsing the certificate");
        }
        if (rc != WD_OK) {
            return refuse(st, WD_SNP_R_VCEK_MALFORMED, "%s", d.msg);
        }
        int count = sk_X509_num(sk);
        if (count != 1) {
            wd_certs_free(sk);
            return refuse(st, WD_SNP_R_VCEK_MALFORMED, "%d certificates, exactly one expected",
                          count);
        }
        st->leaf = sk_X509_shift(sk);
        wd_certs_free(sk);
    }
    if (chain != NULL) {
        if (n_chain > WD_SNP_INPUT_MAX) {
            return refuse(st, WD_SNP_R_CHAIN_MALFORMED, "larger than %u bytes", WD_SNP_INPUT_MAX);
        }
        rc = wd_certs_parse("chain", chain, n_chain, &st->extra, &d);
        if (rc == WD_ENOMEM) {
            return internal(st, rc, "parsing the chain");
        }
        if (rc != WD_OK) {
            return refuse(st, WD_SNP_R_CHAIN_MALFORMED, "%s", d.msg);
        }
        if (sk_X509_num(st->extra) > WD_SNP_CHAIN_MAX) {
            return refuse(st, WD_SNP_R_CHAIN_MALFORMED, "more than %d certificates",
                          WD_SNP_CHAIN_MAX);
        }
    }
    return WD_OK;
}

static int cert_times(X509 *x, int64_t *nb, int64_t *na)
{
    if (wd_cert_not_before(x, nb) != WD_OK || wd_cert_not_after(x, na) != WD_OK) {
        return -1;
    }
    return 0;
}

/*
 * Step 4 (signatures): find the leaf's issuer among the product's pinned intermediate and
 * the extra certificates, check it against the pinned ARK and the leaf against it. Fills
 * st->path's validity windows.
 */
static int chain_verify(struct vstate *st, struct anchor *a)
{
    const struct wd_snp_vek *vek = &st->path.vek;
    const char *pname = wd_snp_product_name(vek->product);
    if (a == NULL) {
        return refuse(st, WD_SNP_R_NO_ISSUER, "no trusted root for %s", pname);
    }
    if (a->failed != WD_SNP_OK) {
        return refuse(st, a->failed, "ARK-%s", pname);
    }
    /* [VCEK] §2: VCEKs are issued by "SEV-<product>", VLEKs by "SEV-VLEK-<product>". */
    char want[32];
    (void)snprintf(want, sizeof(want), "%s%s",
                   vek->signer == WD_SNP_SIGNER_VLEK ? "SEV-VLEK-" : "SEV-", pname);
    if (!asn1_eq_str(single_cn(X509_get_issuer_name(st->leaf)), want)) {
        return refuse(st, WD_SNP_R_NO_ISSUER, "issuer CN is not %s", want);
    }
    X509 *pinned = vek->signer == WD_SNP_SIGNER_VLEK ? a->asvk : a->ask;
    int n_extra = st->extra != NULL ? sk_X509_num(st->extra) : 0;
    enum wd_snp_reason best = WD_SNP_R_NO_ISSUER;
    X509 *issuer = NULL;
    for (int i = -1; i < n_extra && issuer == NULL; i++) {
        X509 *cand = i < 0 ? pinned : sk_X509_value(st->extra, i);
        if (cand == NULL
            || X509_NAME_cmp(X509_get_subject_name(cand), X509_get_issuer_name(st->leaf)) != 0) {
            continue;
        }
        /* The pinned intermediates were checked against the ARK when they were loaded. */
        if (i >= 0 && !signed_by_ark(cand, a->ark)) {
            if (best == WD_SNP_R_NO_ISSUER) {
                best = WD_SNP_R_ASK_SIGNATURE;
            }
            continue;
        }
        /* [VCEK] §2: RSASSA-PSS with SHA-384 (OpenSSL reads the PSS parameters). */
        bool ok = X509_get_signature_nid(st->leaf) == NID_rsassaPss
                  && X509_verify(st->leaf, X509_get0_pubkey(cand)) == 1;
        ERR_clear_error();
        if (ok) {
            issuer = cand;
        } else {
            best = WD_SNP_R_VCEK_SIGNATURE;
        }
    }
    if (issuer == NULL) {
        return refuse(st, best, "%s issued by %s", wd_snp_signer_name(vek->signer), want);
    }
    X509 *path[PATH_LEN] = {st->leaf, issuer, a->ark};
    for (size_t i = 0; i < PATH_LEN; i++) {
        if (cert_times(path[i], &st->path.not_before[i], &st->path.not_after[i]) != 0) {
            return refuse(st, WD_SNP_R_CERT_EXPIRED, "unreadable validity period");
        }
    }
    return WD_OK;
}

/* Step 4 (time): every certificate of the path is valid at now. */
static int check_times(struct vstate *st, int64_t now)
{
    static const char *const names[PATH_LEN] = {"endorsement key", "intermediate", "root (ARK)"};
    char a[21], b[21];
    for (size_t i = 0; i < PATH_LEN; i++) {
        if (now < st->path.not_before[i]) {
            return refuse(st, WD_SNP_R_CERT_NOT_YET_VALID, "%s notBefore %s is after %s", names[i],
                          wd_time_format(st->path.not_before[i], a), wd_time_format(now, b));
        }
        if (now > st->path.not_after[i]) {
            return refuse(st, WD_SNP_R_CERT_EXPIRED, "%s notAfter %s is before %s", names[i],
                          wd_time_format(st->path.not_after[i], a), wd_time_format(now, b));
        }
    }
    return WD_OK;
}

/* DER INTEGER of a 48-byte big-endian unsigned value; returns the bytes written (<= 51). */
static size_t der_uint48(uint8_t *out, const uint8_t be[48])
{
    size_t i = 0;
    while (i < 47 && be[i] == 0) {
        i++;
    }
    size_t len = 48 - i;
    size_t pad = (be[i] & 0x80) != 0 ? 1 : 0;
    out[0] = 0x02;
    out[1] = (uint8_t)(len + pad);
    out[2] = 0;
    memcpy(out + 2 + pad, be + i, len);
    return 2 + pad + len;
}

/* Step 5: ECDSA P-384 with SHA-384 over bytes 0x000..0x29F ([ABI] Table 141). */
static int check_report_sig(struct vstate *st, const uint8_t raw[WD_SNP_REPORT_SIZE])
{
    uint8_t der[2 + 2 * 51];
    size_t n = der_uint48(der + 2, st->res->report.sig_r);
    n += der_uint48(der + 2 + n, st->res->report.sig_s);
    der[0] = 0x30;
    der[1] = (uint8_t)n;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return internal(st, WD_ENOMEM, "ECDSA");
    }
    int ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha384(), NULL, st->path.key);
    if (ok == 1) {
        ok = EVP_DigestVerify(ctx, der, n + 2, raw, WD_SNP_SIGNED_SIZE);
    } else {
        EVP_MD_CTX_free(ctx);
        return internal(st, WD_ETLS, "ECDSA setup");
    }
    EVP_MD_CTX_free(ctx);
    if (ok != 1) {
        return refuse(st, WD_SNP_R_REPORT_SIGNATURE, "signed with %s",
                      wd_snp_signer_name(st->path.vek.signer));
    }
    return WD_OK;
}

static void tcb_text(const struct wd_snp_tcb *t, bool fmc, char *out, size_t n)
{
    if (fmc) {
        (void)snprintf(out, n, "fmc=%u bl=%u tee=%u snp=%u ucode=%u", t->fmc, t->bootloader, t->tee,
                       t->snp, t->microcode);
    } else {
        (void)snprintf(out, n, "bl=%u tee=%u snp=%u ucode=%u", t->bootloader, t->tee, t->snp,
                       t->microcode);
    }
}

/* Step 6: the key was derived for REPORTED_TCB on this chip. */
static int check_binding(struct vstate *st)
{
    const struct wd_snp_report *r = &st->res->report;
    const struct wd_snp_vek *vek = &st->path.vek;
    bool turin = vek->product == WD_SNP_TURIN;
    /*
     * Compare the components, not the raw words: the reserved bytes of REPORTED_TCB are not
     * part of what the certificate states.
     */
    const struct wd_snp_tcb *a = &r->reported_tcb, *b = &vek->tcb;
    if (a->bootloader != b->bootloader || a->tee != b->tee || a->snp != b->snp
        || a->microcode != b->microcode || (turin && a->fmc != b->fmc)) {
        char ta[64], tb[64];
        tcb_text(a, turin, ta, sizeof(ta));
        tcb_text(b, turin, tb, sizeof(tb));
        return refuse(st, WD_SNP_R_TCB_MISMATCH, "report %s, certificate %s", ta, tb);
    }
    /* [ABI] Table 22: with MASK_CHIP_KEY the firmware zeroes CHIP_ID; a VLEK has no hwID. */
    if (vek->signer == WD_SNP_SIGNER_VCEK && !r->mask_chip_key
        && memcmp(r->chip_id, vek->hwid, vek->hwid_len) != 0) {
        return refuse(st, WD_SNP_R_CHIP_ID_MISMATCH, NULL);
    }
    return WD_OK;
}

static bool tcb_below(const struct wd_snp_tcb *t, const struct wd_snp_tcb *min, bool fmc)
{
    return t->bootloader < min->bootloader || t->tee < min->tee || t->snp < min->snp
           || t->microcode < min->microcode || (fmc && t->fmc < min->fmc);
}

/* Step 7: the verifier's policy. */
static int check_policy(struct vstate *st, const struct wd_snp_policy *pol)
{
    const struct wd_snp_report *r = &st->res->report;
    if ((r->policy & WD_SNP_POLICY_DEBUG) != 0 && !pol->allow_debug) {
        return refuse(st, WD_SNP_R_DEBUG, "POLICY 0x%llx", (unsigned long long)r->policy);
    }
    if ((r->policy & WD_SNP_POLICY_MIGRATE_MA) != 0 && !pol->allow_migrate_ma) {
        return refuse(st, WD_SNP_R_MIGRATE_MA, "POLICY 0x%llx", (unsigned long long)r->policy);
    }
    if (st->path.vek.signer == WD_SNP_SIGNER_VLEK && !pol->allow_vlek) {
        return refuse(st, WD_SNP_R_VLEK_NOT_ALLOWED, NULL);
    }
    if (!pol->any_measurement) {
        bool found = false;
        for (size_t i = 0; i < pol->n_measurements && !found; i++) {
            found = memcmp(pol->measurements[i], r->measurement, WD_SNP_MEASUREMENT_SIZE) == 0;
        }
        if (!found) {
            return refuse(st, WD_SNP_R_MEASUREMENT, "%s", st->res->measurement_hex);
        }
    }
    bool turin = st->path.vek.product == WD_SNP_TURIN;
    if (pol->check_min_tcb && tcb_below(&r->reported_tcb, &pol->min_tcb, turin)) {
        char ta[64], tb[64];
        tcb_text(&r->reported_tcb, turin, ta, sizeof(ta));
        tcb_text(&pol->min_tcb, turin, tb, sizeof(tb));
        return refuse(st, WD_SNP_R_TCB_TOO_LOW, "reported %s, minimum %s", ta, tb);
    }
    if (pol->report_data != NULL
        && CRYPTO_memcmp(pol->report_data, r->report_data, WD_SNP_REPORT_DATA_SIZE) != 0) {
        return refuse(st, WD_SNP_R_REPORT_DATA, NULL);
    }
    if (pol->vmpl >= 0 && r->vmpl != (uint32_t)pol->vmpl) {
        return refuse(st, WD_SNP_R_VMPL, "VMPL %u, required %d", r->vmpl, (int)pol->vmpl);
    }
    if (r->guest_svn < pol->min_guest_svn) {
        return refuse(st, WD_SNP_R_GUEST_SVN, "%u, minimum %u", r->guest_svn, pol->min_guest_svn);
    }
    return WD_OK;
}

static void fill_claims(struct wd_snp_result *res)
{
    const struct wd_snp_report *r = &res->report;
    wd_snp_hex(r->measurement, sizeof(r->measurement), res->measurement_hex);
    wd_snp_hex(r->report_data, sizeof(r->report_data), res->report_data_hex);
    wd_snp_hex(r->chip_id, sizeof(r->chip_id), res->chip_id_hex);
    res->debug = (r->policy & WD_SNP_POLICY_DEBUG) != 0;
    res->migrate_ma = (r->policy & WD_SNP_POLICY_MIGRATE_MA) != 0;
    res->smt = (r->policy & WD_SNP_POLICY_SMT) != 0;
    res->single_socket = (r->policy & WD_SNP_POLICY_SINGLE_SOCKET) != 0;
}

/*
 * The product line the leaf's issuer CN names ("SEV-<line>" for a VCEK, "SEV-VLEK-<line>"
 * for a VLEK), or UNKNOWN when it names none; chain_verify insists on the exact name.
 */
static enum wd_snp_product issuer_product(X509 *leaf, enum wd_snp_signer signer)
{
    static const enum wd_snp_product lines[] = {WD_SNP_MILAN, WD_SNP_GENOA, WD_SNP_TURIN};
    const ASN1_STRING *cn = single_cn(X509_get_issuer_name(leaf));
    for (size_t i = 0; i < WD_ARRAY_LEN(lines); i++) {
        char want[32];
        (void)snprintf(want, sizeof(want), "%s%s",
                       signer == WD_SNP_SIGNER_VLEK ? "SEV-VLEK-" : "SEV-",
                       wd_snp_product_name(lines[i]));
        if (asn1_eq_str(cn, want)) {
            return lines[i];
        }
    }
    return WD_SNP_PRODUCT_UNKNOWN;
}

/* Steps 1-7 with the state set up; see wd_snp_verify. */
static int verify(struct wd_snp_cache *cache, struct vstate *st, const uint8_t *report,
                  size_t n_report, const uint8_t *vcek, size_t n_vcek, const uint8_t *chain,
                  size_t n_chain, const struct wd_snp_policy *policy)
{
    struct wd_snp_result *res = st->res;
    uint8_t raw[WD_SNP_REPORT_SIZE];
    enum wd_snp_reason why = WD_SNP_OK;

    /* 1. structure */
    if (wd_snp_report_load(report, n_report, raw, &why) != WD_OK
        || wd_snp_report_parse_raw(raw, &res->report, &why) != WD_OK) {
        return refuse(st, why, NULL);
    }
    fill_claims(res);

    /* 2. certificates: a key seen before is found by the hash of its bytes. */
    unsigned md_len = 0;
    if (EVP_Digest(vcek, n_vcek, st->path.sha256, &md_len, EVP_sha256(), NULL) != 1
        || md_len != sizeof(st->path.sha256)) {
        return internal(st, WD_ETLS, "SHA-256");
    }
    bool cached = cache_lookup(cache, st->path.sha256, &st->path);
    res->chain_cached = cached;
    WD_TRY(parse_certs(st, vcek, n_vcek, chain, n_chain, !cached));
    if (!cached) {
        struct wd_diag d;
        if (wd_snp_vek_parse(st->leaf, &st->path.vek, &why, &d) != WD_OK) {
            st->res->reason = why;
            if (st->diag != NULL) {
                *st->diag = d;
            }
            return wd_snp_reason_err(why);
        }
        st->path.key = X509_get_pubkey(st->leaf);
        if (st->path.key == NULL) {
            return internal(st, WD_ENOMEM, "certificate key");
        }
    }
    const struct wd_snp_vek *vek = &st->path.vek;
    res->product = vek->product;
    res->signer = vek->signer;

    /* 3. which key, which product */
    if (res->report.signing_key == WD_SNP_SIGNER_NONE) {
        return refuse(st, WD_SNP_R_UNSIGNED, NULL);
    }
    if (res->report.signing_key != vek->signer) {
        return refuse(st, WD_SNP_R_SIGNER_MISMATCH, "report names %s, certificate is a %s",
                      wd_snp_signer_name(res->report.signing_key), wd_snp_signer_name(vek->signer));
    }
    if (res->report.product != WD_SNP_PRODUCT_UNKNOWN && res->report.product != vek->product) {
        return refuse(st, WD_SNP_R_PRODUCT_MISMATCH, "report CPUID is %s, certificate is %s",
                      wd_snp_product_name(res->report.product), wd_snp_product_name(vek->product));
    }
    enum wd_snp_product ip = cached ? vek->product : issuer_product(st->leaf, vek->signer);
    if (ip != WD_SNP_PRODUCT_UNKNOWN && ip != vek->product) {
        return refuse(st, WD_SNP_R_PRODUCT_MISMATCH, "productName is %s, issuer is %s's",
                      wd_snp_product_name(vek->product), wd_snp_product_name(ip));
    }
    if (policy->product != WD_SNP_PRODUCT_UNKNOWN && policy->product != vek->product) {
        return refuse(st, WD_SNP_R_PRODUCT_MISMATCH, "policy requires %s, certificate is %s",
                      wd_snp_product_name(policy->product), wd_snp_product_name(vek->product));
    }
    wd_snp_report_set_product(&res->report, vek->product);

    /* 4. chain */
    if (!cached) {
        WD_TRY(chain_verify(st, anchor_get(cache, vek->product)));
        cache_insert(cache, &st->path);
    }
    res->verified_at = wd_time_now();
    WD_TRY(check_times(st, res->verified_at));

    /* 5-7 */
    WD_TRY(check_report_sig(st, raw));
    WD_TRY(check_binding(st));
    WD_TRY(check_policy(st, policy));
    res->reason = WD_SNP_OK;
    return WD_OK;
}

int wd_snp_verify(struct wd_snp_cache *cache, const uint8_t *report, size_t n_report,
                  const uint8_t *vcek, size_t n_vcek, const uint8_t *chain, size_t n_chain,
                  const struct wd_snp_policy *policy, struct wd_snp_result *res,
                  struct wd_diag *diag)
{
    struct wd_snp_cache *own = NULL;
    struct vstate st;
    int rc;
    if (res == NULL) {
        return WD_EINVAL;
    }
    memset(res, 0, sizeof(*res));
    memset(&st, 0, sizeof(st));
    st.res = res;
    st.diag = diag;
    if (policy == NULL || vcek == NULL || (report == NULL && n_report > 0) || policy->vmpl < -1
        || policy->vmpl > 3 || (policy->n_measurements > 0 && policy->measurements == NULL)) {
        rc = internal(&st, WD_EINVAL, "invalid argument");
        goto out;
    }
    ERR_clear_error();
    if (cache == NULL) {
        rc = wd_snp_cache_new(&own);
        if (rc != WD_OK) {
            rc = internal(&st, rc, "cache");
            goto out;
        }
        cache = own;
    }
    rc = verify(cache, &st, report, n_report, vcek, n_vcek, chain, n_chain, policy);
out:
    EVP_PKEY_free(st.path.key);
    X509_free(st.leaf);
    wd_certs_free(st.extra);
    wd_snp_cache_free(own);
    return rc;
}
