/*
 * The warden claims extension: a hand-written strict DER encoder and decoder (X.690 §10
 * distinguished encoding) for one small SEQUENCE. Written by hand over wd_rd rather than
 * with OpenSSL's ASN.1 templates so that every byte is checked by rules we can state and
 * test (minimal lengths, tag order, no unknown fields), and the decoder can be fuzzed alone.
 */
#include "warden/claims.h"

#include <string.h>

#include "warden/doc.h"

#define TAG_INTEGER  0x02
#define TAG_SEQUENCE 0x30
#define TAG_CTX(n)   (0x80 | (n)) /* [n] IMPLICIT, primitive (X.690 §8.1.2) */
#define FIELD_COUNT  5

static const char *const attest_names[] = {
        [WD_ATTEST_TPM] = "tpm",         [WD_ATTEST_JOIN_TOKEN] = "join-token",
        [WD_ATTEST_SEV_SNP] = "sev-snp", [WD_ATTEST_SGX] = "sgx",
        [WD_ATTEST_SIM] = "sim",         [WD_ATTEST_NONE] = "none",
};

const char *wd_attest_name(enum wd_attest a)
{
    if ((size_t)a < WD_ARRAY_LEN(attest_names) && attest_names[a] != NULL) {
        return attest_names[a];
    }
    return NULL;
}

int wd_attest_parse(const char *s, size_t n, enum wd_attest *out)
{
    for (size_t i = 1; i < WD_ARRAY_LEN(attest_names); i++) {
        if (strlen(attest_names[i]) == n && memcmp(attest_names[i], s, n) == 0) {
            *out = (enum wd_attest)i;
            return WD_OK;
        }
    }
    return WD_EPROTO;
}

/*
 * Text claims are UTF-8 (RFC 3629 §4: no overlongs, no surrogates, nothing past U+10FFFF)
 * without C0/C1 control characters or DEL, so they are safe to print and to hand to policies.
 * Returns NULL when valid, else the rule broken.
 */
static const char *check_text(const uint8_t *p, size_t n)
{
    if (n == 0) {
        return "empty text";
    }
    if (n > WD_CLAIMS_TEXT_MAX) {
        return "text too long";
    }
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        uint32_t cp;
        size_t len;
        if (c < 0x80) {
            cp = c;
            len = 1;
        } else if (c >= 0xc2 && c <= 0xdf) {
            cp = c & 0x1fu;
            len = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            cp = c & 0x0fu;
            len = 3;
        } else if (c >= 0xf0 && c <= 0xf4) {
            cp = c & 0x07u;
            len = 4;
        } else {
            return "invalid UTF-8";
        }
        if (len > n - i) {
            return "invalid UTF-8";
        }
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return "invalid UTF-8";
            }
            cp = (cp << 6) | (p[i + k] & 0x3fu);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))
            || (cp >= 0xd800 && cp <= 0xdfff)) {
            return "invalid UTF-8";
        }
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
            return "control character in text";
        }
        i += len;
    }
    return NULL;
}

static bool measurement_len_ok(size_t n)
{
    /* SHA-256 / SGX MRENCLAVE (32), SHA-384 / SEV-SNP / TDX (48), SHA-512 (64). */
    return n == 32 || n == 48 || n == 64;
}

void wd_claims_init(struct wd_claims *c)
{
    memset(c, 0, sizeof(*c));
}

static int set_text(char *dst, const char *s, const char *what, struct wd_diag *diag)
{
    size_t n = strlen(s);
    const char *bad = check_text((const uint8_t *)s, n);
    if (bad != NULL) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0, "claims: %s: %s%s", what, bad,
                           n > WD_CLAIMS_TEXT_MAX ? " (at most 255 bytes)" : "");
    }
    memcpy(dst, s, n + 1);
    return WD_OK;
}

int wd_claims_set_node(struct wd_claims *c, const char *s, struct wd_diag *diag)
{
    WD_TRY(set_text(c->node, s, "node", diag));
    c->present |= WD_CLAIM_NODE;
    return WD_OK;
}

int wd_claims_set_party(struct wd_claims *c, const char *s, struct wd_diag *diag)
{
    WD_TRY(set_text(c->party, s, "party", diag));
    c->present |= WD_CLAIM_PARTY;
    return WD_OK;
}

int wd_claims_set_measurement(struct wd_claims *c, const uint8_t *p, size_t n, struct wd_diag *diag)
{
    if (!measurement_len_ok(n)) {
        return wd_diag_set(diag, WD_EPROTO, NULL, 0, 0,
                           "claims: measurement is %zu bytes; it must be 32, 48 or 64", n);
    }
    memcpy(c->measurement, p, n);
    c->measurement_len = n;
    c->present |= WD_CLAIM_MEASUREMENT;
    return WD_OK;
}

void wd_claims_set_attest(struct wd_claims *c, enum wd_attest a)
{
    c->attest = a;
    c->present |= WD_CLAIM_ATTEST;
}

void wd_claims_set_manifest_version(struct wd_claims *c, uint64_t v)
{
    c->manifest_version = v;
    c->present |= WD_CLAIM_MANIFEST;
}

/* ---- encoding ---- */

struct enc {
    uint8_t b[WD_CLAIMS_DER_MAX];
    size_t len;
};

/* X.690 §10.1: the definite form in the fewest octets. Our lengths are below 65536. */
static void put_len(struct enc *e, size_t n)
{
    if (n < 0x80) {
        e->b[e->len++] = (uint8_t)n;
    } else if (n <= 0xff) {
        e->b[e->len++] = 0x81;
        e->b[e->len++] = (uint8_t)n;
    } else {
        e->b[e->len++] = 0x82;
        e->b[e->len++] = (uint8_t)(n >> 8);
        e->b[e->len++] = (uint8_t)n;
    }
}

static void put_tlv(struct enc *e, uint8_t tag, const void *p, size_t n)
{
    e->b[e->len++] = tag;
    put_len(e, n);
    memcpy(e->b + e->len, p, n);
    e->len += n;
}

/* X.690 §8.3: two's complement in the fewest octets; a leading 0 keeps it non-negative. */
static void put_uint(struct enc *e, uint8_t tag, uint64_t v)
{
    uint8_t tmp[9];
    size_t n = 0;
    for (int shift = 56; shift >= 0; shift -= 8) {
        uint8_t byte = (uint8_t)(v >> shift);
        if (n == 0 && byte == 0 && shift > 0) {
            continue;
        }
        if (n == 0 && (byte & 0x80)) {
            tmp[n++] = 0;
        }
        tmp[n++] = byte;
    }
    put_tlv(e, tag, tmp, n);
}

int wd_claims_encode_to(const struct wd_claims *c, uint8_t *out, size_t cap, size_t *len)
{
    /* The fields go into body first; then the SEQUENCE header is written in front. */
    struct enc body;
    body.len = 0;
    put_uint(&body, TAG_INTEGER, WD_CLAIMS_VERSION);
    if (c->present & WD_CLAIM_NODE) {
        size_t n = strnlen(c->node, sizeof(c->node));
        WD_ENSURE(check_text((const uint8_t *)c->node, n) == NULL, WD_EINVAL);
        put_tlv(&body, TAG_CTX(0), c->node, n);
    }
    if (c->present & WD_CLAIM_ATTEST) {
        const char *name = wd_attest_name(c->attest);
        WD_ENSURE(name != NULL, WD_EINVAL);
        put_tlv(&body, TAG_CTX(1), name, strlen(name));
    }
    if (c->present & WD_CLAIM_MEASUREMENT) {
        WD_ENSURE(measurement_len_ok(c->measurement_len), WD_EINVAL);
        put_tlv(&body, TAG_CTX(2), c->measurement, c->measurement_len);
    }
    if (c->present & WD_CLAIM_MANIFEST) {
        put_uint(&body, TAG_CTX(3), c->manifest_version);
    }
    if (c->present & WD_CLAIM_PARTY) {
        size_t n = strnlen(c->party, sizeof(c->party));
        WD_ENSURE(check_text((const uint8_t *)c->party, n) == NULL, WD_EINVAL);
        put_tlv(&body, TAG_CTX(4), c->party, n);
    }
    struct enc whole;
    whole.len = 0;
    put_tlv(&whole, TAG_SEQUENCE, body.b, body.len);
    WD_ENSURE(whole.len <= cap, WD_ELIMIT);
    memcpy(out, whole.b, whole.len);
    *len = whole.len;
    return WD_OK;
}

int wd_claims_encode(const struct wd_claims *c, struct wd_buf *out)
{
    uint8_t der[WD_CLAIMS_DER_MAX];
    size_t len = 0;
    WD_TRY(wd_claims_encode_to(c, der, sizeof(der), &len));
    return wd_buf_append(out, der, len);
}

/* ---- decoding ---- */

/*
 * Read one tag-length-value with a single-octet tag (X.690 §8.1.2.2; warden uses no tag
 * above 30) and a minimal definite length (X.690 §10.1).
 */
static int get_tlv(struct wd_rd *r, uint8_t *tag, struct wd_slice *val, const char **reason)
{
    uint8_t t, b;
    if (wd_rd_u8(r, &t) < 0 || wd_rd_u8(r, &b) < 0) {
        *reason = "truncated";
        return WD_EPROTO;
    }
    if ((t & 0x1f) == 0x1f) {
        *reason = "multi-octet tag";
        return WD_EPROTO;
    }
    size_t len;
    if (b < 0x80) {
        len = b;
    } else if (b == 0x80) {
        *reason = "indefinite length";
        return WD_EPROTO;
    } else if (b == 0x81) {
        uint8_t l;
        if (wd_rd_u8(r, &l) < 0) {
            *reason = "truncated";
            return WD_EPROTO;
        }
        if (l < 0x80) {
            *reason = "non-minimal length";
            return WD_EPROTO;
        }
        len = l;
    } else if (b == 0x82) {
        uint16_t l;
        if (wd_rd_u16be(r, &l) < 0) {
            *reason = "truncated";
            return WD_EPROTO;
        }
        if (l < 0x100) {
            *reason = "non-minimal length";
            return WD_EPROTO;
        }
        len = l;
    } else {
        *reason = "length too large";
        return WD_EPROTO;
    }
    if (wd_rd_bytes(r, len, val) < 0) {
        *reason = "truncated";
        return WD_EPROTO;
    }
    *tag = t;
    return WD_OK;
}

/* X.690 §8.3.2: no redundant leading 0x00/0xff; then a non-negative value fitting uint64. */
static int get_uint(struct wd_slice v, uint64_t *out, const char **reason)
{
    if (v.len == 0) {
        *reason = "empty integer";
        return WD_EPROTO;
    }
    if (v.len > 1 && ((v.p[0] == 0 && !(v.p[1] & 0x80)) || (v.p[0] == 0xff && (v.p[1] & 0x80)))) {
        *reason = "non-minimal integer";
        return WD_EPROTO;
    }
    if (v.p[0] & 0x80) {
        *reason = "negative integer";
        return WD_EPROTO;
    }
    if (v.len > 9 || (v.len == 9 && v.p[0] != 0)) {
        *reason = "integer too large";
        return WD_EPROTO;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < v.len; i++) {
        x = (x << 8) | v.p[i];
    }
    *out = x;
    return WD_OK;
}

static int decode(const uint8_t *p, size_t n, struct wd_claims *out, const char **reason)
{
    if (n > WD_CLAIMS_DER_MAX) {
        *reason = "too long";
        return WD_EPROTO;
    }
    struct wd_rd top;
    wd_rd_init(&top, p, n);
    uint8_t tag;
    struct wd_slice seq;
    WD_TRY(get_tlv(&top, &tag, &seq, reason));
    if (tag != TAG_SEQUENCE) {
        *reason = "not a SEQUENCE";
        return WD_EPROTO;
    }
    if (wd_rd_left(&top) != 0) {
        *reason = "trailing bytes";
        return WD_EPROTO;
    }
    struct wd_rd r;
    wd_rd_init(&r, seq.p, seq.len);
    struct wd_slice v;
    uint64_t version;
    WD_TRY(get_tlv(&r, &tag, &v, reason));
    if (tag != TAG_INTEGER) {
        *reason = "version missing";
        return WD_EPROTO;
    }
    WD_TRY(get_uint(v, &version, reason));
    if (version != WD_CLAIMS_VERSION) {
        *reason = "unsupported version";
        return WD_EPROTO;
    }
    wd_claims_init(out);
    int last = -1;
    while (wd_rd_left(&r) > 0) {
        WD_TRY(get_tlv(&r, &tag, &v, reason));
        if ((tag & 0xe0) != 0x80) {
            /* Not a primitive context-specific tag: universal, application, constructed. */
            *reason = "unexpected tag";
            return WD_EPROTO;
        }
        int num = tag & 0x1f;
        if (num >= FIELD_COUNT) {
            *reason = "unknown field";
            return WD_EPROTO;
        }
        if (num <= last) {
            *reason = "fields out of order or repeated";
            return WD_EPROTO;
        }
        last = num;
        const char *bad;
        switch (num) {
        case 0:
        case 4:
            bad = check_text(v.p, v.len);
            if (bad != NULL) {
                *reason = bad;
                return WD_EPROTO;
            }
            memcpy(num == 0 ? out->node : out->party, v.p, v.len);
            (num == 0 ? out->node : out->party)[v.len] = '\0';
            out->present |= num == 0 ? WD_CLAIM_NODE : WD_CLAIM_PARTY;
            break;
        case 1:
            if (wd_attest_parse((const char *)v.p, v.len, &out->attest) < 0) {
                *reason = "unknown attestation type";
                return WD_EPROTO;
            }
            out->present |= WD_CLAIM_ATTEST;
            break;
        case 2:
            if (!measurement_len_ok(v.len)) {
                *reason = "measurement must be 32, 48 or 64 bytes";
                return WD_EPROTO;
            }
            memcpy(out->measurement, v.p, v.len);
            out->measurement_len = v.len;
            out->present |= WD_CLAIM_MEASUREMENT;
            break;
        default: /* 3: the only one left below FIELD_COUNT */
            WD_TRY(get_uint(v, &out->manifest_version, reason));
            out->present |= WD_CLAIM_MANIFEST;
            break;
        }
    }
    return WD_OK;
}

int wd_claims_decode(const uint8_t *p, size_t n, struct wd_claims *out, const char **reason)
{
    const char *dummy = NULL;
    return decode(p, n, out, reason != NULL ? reason : &dummy);
}

int wd_claims_to_json(const struct wd_claims *c, struct wd_buf *out)
{
    static const char hex[] = "0123456789abcdef";
    const char *sep = "";
    WD_TRY(wd_buf_append_byte(out, '{'));
    if (c->present & WD_CLAIM_NODE) {
        WD_TRY(wd_buf_append_str(out, "\"node\":"));
        WD_TRY(wd_json_append_string(out, c->node, strlen(c->node)));
        sep = ",";
    }
    if (c->present & WD_CLAIM_ATTEST) {
        const char *name = wd_attest_name(c->attest);
        WD_TRY(wd_buf_printf(out, "%s\"attestation\":\"%s\"", sep, name ? name : "invalid"));
        sep = ",";
    }
    if (c->present & WD_CLAIM_MEASUREMENT) {
        char h[2 * WD_CLAIMS_MEAS_MAX + 1];
        size_t n = WD_MIN(c->measurement_len, (size_t)WD_CLAIMS_MEAS_MAX);
        for (size_t i = 0; i < n; i++) {
            h[2 * i] = hex[c->measurement[i] >> 4];
            h[2 * i + 1] = hex[c->measurement[i] & 15];
        }
        h[2 * n] = '\0';
        WD_TRY(wd_buf_printf(out, "%s\"measurement\":\"%s\"", sep, h));
        sep = ",";
    }
    if (c->present & WD_CLAIM_MANIFEST) {
        WD_TRY(wd_buf_printf(out, "%s\"manifest_version\":%llu", sep,
                             (unsigned long long)c->manifest_version));
        sep = ",";
    }
    if (c->present & WD_CLAIM_PARTY) {
        WD_TRY(wd_buf_printf(out, "%s\"party\":", sep));
        WD_TRY(wd_json_append_string(out, c->party, strlen(c->party)));
    }
    return wd_buf_append_byte(out, '}');
}
