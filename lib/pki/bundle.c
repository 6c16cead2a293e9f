/*
 * Trust bundles: the authorities of one trust domain, read and written as PEM or as SPIFFE
 * bundle JSON (SPIFFE Trust Domain and Bundle §4; X509-SVID §6 for the "x509-svid" keys).
 */
#include "warden/bundle.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>

#include "warden/alloc.h"
#include "warden/codec.h"
#include "warden/doc.h"
#include "warden/file.h"
#include "warden/pki.h"

#include "pki_int.h"

struct wd_bundle {
    bool has_td;
    struct wd_spiffe_td td;
    STACK_OF(X509) * certs;
    X509_STORE *store;
    bool has_seq;
    uint64_t seq;
    bool has_refresh;
    int64_t refresh;
};

int wd_bundle_new(const struct wd_spiffe_td *td, struct wd_bundle **out)
{
    struct wd_bundle *b = wd_calloc(1, sizeof(*b));
    if (b == NULL) {
        return WD_ENOMEM;
    }
    wd_pki_ossl_clear();
    b->certs = sk_X509_new_null();
    b->store = X509_STORE_new();
    if (b->certs == NULL || b->store == NULL) {
        wd_bundle_free(b);
        return wd_pki_ossl_fail(NULL, WD_ENOMEM, NULL, "bundle");
    }
    if (td != NULL) {
        b->has_td = true;
        b->td = *td;
    }
    *out = b;
    return WD_OK;
}

void wd_bundle_free(struct wd_bundle *b)
{
    if (b == NULL) {
        return;
    }
    sk_X509_pop_free(b->certs, X509_free);
    X509_STORE_free(b->store);
    wd_free(b);
}

int wd_bundle_add(struct wd_bundle *b, X509 *cert)
{
    for (int i = 0; i < sk_X509_num(b->certs); i++) {
        if (X509_cmp(sk_X509_value(b->certs, i), cert) == 0) {
            return WD_OK;
        }
    }
    wd_pki_ossl_clear();
    X509_up_ref(cert);
    if (sk_X509_push(b->certs, cert) <= 0) {
        X509_free(cert);
        return wd_pki_ossl_fail(NULL, WD_ENOMEM, NULL, "bundle");
    }
    /* The store takes its own reference. */
    if (X509_STORE_add_cert(b->store, cert) != 1) {
        X509_free(sk_X509_pop(b->certs));
        return wd_pki_ossl_fail(NULL, WD_ETLS, NULL, "bundle: cannot add the certificate");
    }
    return WD_OK;
}

size_t wd_bundle_count(const struct wd_bundle *b)
{
    return (size_t)sk_X509_num(b->certs);
}

X509 *wd_bundle_cert(const struct wd_bundle *b, size_t i)
{
    return sk_X509_value(b->certs, (int)i);
}

X509_STORE *wd_bundle_store(const struct wd_bundle *b)
{
    return b->store;
}

const struct wd_spiffe_td *wd_bundle_trust_domain(const struct wd_bundle *b)
{
    return b->has_td ? &b->td : NULL;
}

void wd_bundle_set_trust_domain(struct wd_bundle *b, const struct wd_spiffe_td *td)
{
    b->has_td = td != NULL;
    if (td != NULL) {
        b->td = *td;
    }
}

void wd_bundle_set_sequence(struct wd_bundle *b, uint64_t seq)
{
    b->has_seq = true;
    b->seq = seq;
}

bool wd_bundle_sequence(const struct wd_bundle *b, uint64_t *seq)
{
    if (b->has_seq) {
        *seq = b->seq;
    }
    return b->has_seq;
}

void wd_bundle_set_refresh_hint(struct wd_bundle *b, int64_t seconds)
{
    b->has_refresh = true;
    b->refresh = seconds;
}

bool wd_bundle_refresh_hint(const struct wd_bundle *b, int64_t *seconds)
{
    if (b->has_refresh) {
        *seconds = b->refresh;
    }
    return b->has_refresh;
}

/* When no trust domain was given: the one the authorities' spiffe:// URI SANs agree on. */
static int infer_td(struct wd_bundle *b, const char *name, struct wd_diag *diag)
{
    for (int i = 0; i < sk_X509_num(b->certs); i++) {
        struct wd_spiffe_id id;
        if (wd_cert_spiffe_id(sk_X509_value(b->certs, i), &id, NULL, NULL) < 0) {
            continue;
        }
        struct wd_spiffe_td td;
        wd_spiffe_id_td(&id, &td);
        if (!b->has_td) {
            b->has_td = true;
            b->td = td;
        } else if (!wd_spiffe_td_eq(&b->td, &td)) {
            return wd_diag_set(diag, WD_EPROTO, name, 0, 0,
                               "authorities name different trust domains (%s and %s)", b->td.name,
                               td.name);
        }
    }
    return WD_OK;
}

/* ---- PEM ---- */

static int parse_pem(const char *name, const void *p, size_t n, struct wd_bundle *b,
                     struct wd_diag *diag)
{
    STACK_OF(X509) *sk = NULL;
    int rc;
    WD_CHECK(wd_certs_parse(name, p, n, &sk, diag));
    for (int i = 0; i < sk_X509_num(sk); i++) {
        rc = wd_bundle_add(b, sk_X509_value(sk, i));
        if (rc < 0) {
            (void)wd_diag_set(diag, rc, name, 0, 0, "%s", wd_strerror(rc));
            goto out;
        }
    }
out:
    wd_certs_free(sk);
    return rc;
}

/* ---- JSON ---- */

/* One big-endian JWK parameter (RFC 7518 §6) against the key's value of OpenSSL param. */
static int jwk_param_matches(const struct wd_doc *doc, const struct wd_node *key, const char *jname,
                             EVP_PKEY *pkey, const char *oname, size_t fixed_len,
                             struct wd_diag *diag)
{
    const struct wd_node *v = wd_node_get(key, jname);
    if (v == NULL || v->type != WD_NODE_STR) {
        return wd_doc_error(doc, v != NULL ? v : key, diag, "'%s': missing or not a string", jname);
    }
    struct wd_buf raw;
    wd_buf_init(&raw, 4096);
    BIGNUM *bn = NULL;
    uint8_t want[1024];
    int rc;
    rc = wd_b64_decode(&raw, v->u.s.p, v->u.s.len, WD_B64_URL);
    if (rc == WD_EPROTO || rc == WD_ELIMIT) {
        rc = wd_doc_error(doc, v, diag, "'%s': not base64url", jname);
        goto out;
    }
    WD_CHECK(rc);
    if (EVP_PKEY_get_bn_param(pkey, oname, &bn) != 1) {
        ERR_clear_error();
        rc = wd_doc_error(doc, v, diag, "'%s': the certificate's key has no such value", jname);
        goto out;
    }
    int len = fixed_len > 0 ? BN_bn2binpad(bn, want, (int)fixed_len) : BN_bn2bin(bn, want);
    if (len < 0 || (size_t)BN_num_bytes(bn) > sizeof(want)) {
        rc = wd_doc_error(doc, v, diag, "'%s': value too large", jname);
        goto out;
    }
    if ((size_t)len != raw.len || memcmp(want, raw.p, raw.len) != 0) {
        rc = wd_doc_error(doc, v, diag,
                          "'%s' does not match the public key of the certificate in x5c", jname);
        goto out;
    }
    rc = WD_OK;
out:
    BN_free(bn);
    wd_buf_cleanup(&raw);
    return rc;
}

/* RFC 7517 §4.7: the key in x5c must match the JWK's own key parameters. */
static int jwk_matches_cert(const struct wd_doc *doc, const struct wd_node *key,
                            const struct wd_node *kty, X509 *cert, struct wd_diag *diag)
{
    EVP_PKEY *pk = X509_get0_pubkey(cert);
    if (pk == NULL) {
        ERR_clear_error();
        return wd_doc_error(doc, key, diag, "x5c certificate has an unreadable public key");
    }
    int id = EVP_PKEY_get_base_id(pk);
    if (wd_slice_eq_str((struct wd_slice){(const uint8_t *)kty->u.s.p, kty->u.s.len}, "EC")) {
        if (id != EVP_PKEY_EC) {
            return wd_doc_error(doc, kty, diag, "kty is EC but the x5c certificate's key is not");
        }
        char group[64] = "";
        size_t glen = 0;
        (void)EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen);
        const char *crv = strcmp(group, SN_X9_62_prime256v1) == 0 ? "P-256"
                          : strcmp(group, SN_secp384r1) == 0      ? "P-384"
                          : strcmp(group, SN_secp521r1) == 0      ? "P-521"
                                                                  : NULL;
        const struct wd_node *c = wd_node_get(key, "crv");
        if (c == NULL || c->type != WD_NODE_STR || crv == NULL
            || !wd_slice_eq_str((struct wd_slice){(const uint8_t *)c->u.s.p, c->u.s.len}, crv)) {
            return wd_doc_error(doc, c != NULL ? c : key, diag,
                                "'crv' is missing or does not match the x5c certificate (%s)",
                                crv != NULL ? crv : group);
        }
        size_t flen = ((size_t)EVP_PKEY_get_bits(pk) + 7) / 8;
        WD_TRY(jwk_param_matches(doc, key, "x", pk, OSSL_PKEY_PARAM_EC_PUB_X, flen, diag));
        return jwk_param_matches(doc, key, "y", pk, OSSL_PKEY_PARAM_EC_PUB_Y, flen, diag);
    }
    if (wd_slice_eq_str((struct wd_slice){(const uint8_t *)kty->u.s.p, kty->u.s.len}, "RSA")) {
        if (id != EVP_PKEY_RSA) {
            return wd_doc_error(doc, kty, diag, "kty is RSA but the x5c certificate's key is not");
        }
        WD_TRY(jwk_param_matches(doc, key, "n", pk, OSSL_PKEY_PARAM_RSA_N, 0, diag));
        return jwk_param_matches(doc, key, "e", pk, OSSL_PKEY_PARAM_RSA_E, 0, diag);
    }
    return wd_doc_error(doc, kty, diag,
                        "this kty is not supported for x509-svid keys (EC and "
                        "RSA are)");
}

static int x509_key(const struct wd_doc *doc, const struct wd_node *key, const struct wd_node *kty,
                    struct wd_bundle *b, size_t index, struct wd_diag *diag)
{
    /* X509-SVID §6.1: "kid" MUST NOT be set; "x5c" holds exactly one CA certificate. */
    const struct wd_node *kid = wd_node_get(key, "kid");
    if (kid != NULL) {
        return wd_doc_error(doc, kid, diag, "x509-svid key %zu must not have a 'kid'", index);
    }
    const struct wd_node *x5c = wd_node_get(key, "x5c");
    if (x5c == NULL || x5c->type != WD_NODE_ARR) {
        return wd_doc_error(doc, x5c != NULL ? x5c : key, diag,
                            "x509-svid key %zu: 'x5c' must be an array", index);
    }
    if (x5c->u.arr.n != 1) {
        return wd_doc_error(doc, x5c, diag,
                            "x509-svid key %zu: expected exactly one certificate in 'x5c', got "
                            "%zu",
                            index, x5c->u.arr.n);
    }
    const struct wd_node *c = x5c->u.arr.items[0];
    if (c->type != WD_NODE_STR) {
        return wd_doc_error(doc, c, diag, "x509-svid key %zu: x5c entry must be a string", index);
    }
    struct wd_buf der;
    wd_buf_init(&der, WD_PKI_FILE_MAX);
    X509 *x = NULL;
    int rc = wd_b64_decode(&der, c->u.s.p, c->u.s.len, WD_B64_STD);
    if (rc == WD_EPROTO || rc == WD_ELIMIT) {
        /* RFC 7517 §4.7: x5c values are base64 (not base64url) DER. */
        rc = wd_doc_error(doc, c, diag, "x509-svid key %zu: x5c entry is not valid base64", index);
        goto out;
    }
    WD_CHECK(rc);
    const unsigned char *q = der.p;
    x = d2i_X509(NULL, &q, (long)der.len);
    if (x == NULL || q != der.p + der.len) {
        ERR_clear_error();
        rc = wd_doc_error(doc, c, diag, "x509-svid key %zu: x5c entry is not a DER certificate",
                          index);
        goto out;
    }
    WD_CHECK(jwk_matches_cert(doc, key, kty, x, diag));
    rc = wd_bundle_add(b, x);
    if (rc < 0) {
        (void)wd_diag_set(diag, rc, wd_doc_file(doc), 0, 0, "%s", wd_strerror(rc));
    }
out:
    X509_free(x);
    wd_buf_cleanup(&der);
    return rc;
}

static int parse_json(const char *name, const void *p, size_t n, struct wd_bundle *b,
                      struct wd_diag *diag)
{
    struct wd_doc *doc = NULL;
    int rc;
    WD_CHECK(wd_json_parse(name, p, n, NULL, &doc, diag));
    const struct wd_node *root = wd_doc_root(doc);
    if (root->type != WD_NODE_OBJ) {
        rc = wd_doc_error(doc, root, diag, "a SPIFFE bundle is a JSON object");
        goto out;
    }
    /* Trust Domain and Bundle §4.1.3: "keys" MUST be present. */
    const struct wd_node *keys = wd_node_get(root, "keys");
    if (keys == NULL) {
        rc = wd_doc_error(doc, root, diag, "missing key 'keys' (no keys found)");
        goto out;
    }
    if (keys->type != WD_NODE_ARR) {
        rc = wd_doc_error(doc, keys, diag, "'keys': expected array, got %s",
                          wd_node_type_name(keys->type));
        goto out;
    }
    const struct wd_node *seq = wd_node_get(root, "spiffe_sequence");
    if (seq != NULL) {
        if (seq->type != WD_NODE_INT || seq->u.i < 0) {
            rc = wd_doc_error(doc, seq, diag, "'spiffe_sequence' must be an integer >= 0");
            goto out;
        }
        wd_bundle_set_sequence(b, (uint64_t)seq->u.i);
    }
    const struct wd_node *hint = wd_node_get(root, "spiffe_refresh_hint");
    if (hint != NULL) {
        if (hint->type != WD_NODE_INT || hint->u.i < 0) {
            rc = wd_doc_error(doc, hint, diag, "'spiffe_refresh_hint' must be an integer >= 0");
            goto out;
        }
        wd_bundle_set_refresh_hint(b, hint->u.i);
    }
    for (size_t i = 0; i < keys->u.arr.n; i++) {
        const struct wd_node *key = keys->u.arr.items[i];
        if (key->type != WD_NODE_OBJ) {
            rc = wd_doc_error(doc, key, diag, "key %zu: expected object, got %s", i,
                              wd_node_type_name(key->type));
            goto out;
        }
        /* RFC 7517 §4.1: "kty" is required; SPIFFE bundle §4.2.1: so is "use". */
        const struct wd_node *use = wd_node_get(key, "use");
        const struct wd_node *kty = wd_node_get(key, "kty");
        if (use == NULL || use->type != WD_NODE_STR) {
            rc = wd_doc_error(doc, use != NULL ? use : key, diag,
                              "key %zu: 'use' is missing or not a string", i);
            goto out;
        }
        if (kty == NULL || kty->type != WD_NODE_STR || kty->u.s.len == 0) {
            rc = wd_doc_error(doc, kty != NULL ? kty : key, diag,
                              "key %zu: 'kty' is missing or not a string", i);
            goto out;
        }
        struct wd_slice u = {(const uint8_t *)use->u.s.p, use->u.s.len};
        if (wd_slice_eq_str(u, "x509-svid")) {
            WD_CHECK(x509_key(doc, key, kty, b, i, diag));
        } else if (wd_slice_eq_str(u, "jwt-svid")) {
            /* JWT-SVID §6: JWT authorities are identified by a key ID. */
            const struct wd_node *kid = wd_node_get(key, "kid");
            if (kid == NULL || kid->type != WD_NODE_STR || kid->u.s.len == 0) {
                rc = wd_doc_error(doc, kid != NULL ? kid : key, diag,
                                  "jwt-svid key %zu: 'kid' is missing or empty", i);
                goto out;
            }
        }
        /* Keys of other uses (e.g. "wit-svid") are for other SVID types: ignored here. */
    }
    if (sk_X509_num(b->certs) == 0) {
        rc = wd_doc_error(doc, keys, diag, "no x509-svid authorities in the bundle");
        goto out;
    }
    rc = WD_OK;
out:
    wd_doc_free(doc);
    return rc;
}

int wd_bundle_parse(const char *name, const void *p, size_t n, const struct wd_spiffe_td *td,
                    struct wd_bundle **out, struct wd_diag *diag)
{
    struct wd_bundle *b = NULL;
    int rc = wd_bundle_new(td, &b);
    if (rc < 0) {
        return wd_diag_set(diag, rc, name, 0, 0, "%s", wd_strerror(rc));
    }
    const uint8_t *s = p;
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) {
        i++;
    }
    if (i < n && (s[i] == '{' || s[i] == '[')) {
        WD_CHECK(parse_json(name, p, n, b, diag));
    } else {
        WD_CHECK(parse_pem(name, p, n, b, diag));
    }
    if (td == NULL) {
        WD_CHECK(infer_td(b, name, diag));
    }
    *out = b;
    b = NULL;
    rc = WD_OK;
out:
    wd_bundle_free(b);
    return rc;
}

int wd_bundle_load(const char *path, const struct wd_spiffe_td *td, struct wd_bundle **out,
                   struct wd_diag *diag)
{
    struct wd_buf buf;
    wd_buf_init(&buf, WD_PKI_FILE_MAX);
    int rc;
    WD_CHECK(wd_file_read(path, WD_PKI_FILE_MAX, &buf, diag));
    WD_CHECK(wd_bundle_parse(path, buf.p, buf.len, td, out, diag));
out:
    wd_buf_cleanup(&buf);
    return rc;
}

int wd_bundle_to_pem(const struct wd_bundle *b, struct wd_buf *out)
{
    for (int i = 0; i < sk_X509_num(b->certs); i++) {
        WD_TRY(wd_cert_to_pem(sk_X509_value(b->certs, i), out));
    }
    return WD_OK;
}

/* Append "name": "<base64url of the big-endian value>" (RFC 7518 §6.2.1, §6.3.1). */
static int put_param(struct wd_buf *out, const char *name, EVP_PKEY *pk, const char *oname,
                     size_t fixed_len)
{
    BIGNUM *bn = NULL;
    uint8_t v[1024];
    int rc;
    if (EVP_PKEY_get_bn_param(pk, oname, &bn) != 1 || (size_t)BN_num_bytes(bn) > sizeof(v)) {
        rc = wd_pki_ossl_fail(NULL, WD_ETLS, NULL, "key parameter");
        goto out;
    }
    int len = fixed_len > 0 ? BN_bn2binpad(bn, v, (int)fixed_len) : BN_bn2bin(bn, v);
    if (len < 0) {
        rc = WD_ETLS;
        goto out;
    }
    WD_CHECK(wd_buf_printf(out, ",\n            \"%s\": \"", name));
    WD_CHECK(wd_b64_encode(out, v, (size_t)len, WD_B64_URL));
    WD_CHECK(wd_buf_append_byte(out, '"'));
out:
    BN_free(bn);
    return rc;
}

static int put_key(struct wd_buf *out, X509 *cert)
{
    EVP_PKEY *pk = X509_get0_pubkey(cert);
    if (pk == NULL) {
        return WD_EINVAL;
    }
    int id = EVP_PKEY_get_base_id(pk);
    WD_TRY(wd_buf_append_str(out, "        {\n            \"use\": \"x509-svid\""));
    if (id == EVP_PKEY_EC) {
        char group[64] = "";
        size_t glen = 0;
        (void)EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen);
        const char *crv = strcmp(group, SN_X9_62_prime256v1) == 0 ? "P-256"
                          : strcmp(group, SN_secp384r1) == 0      ? "P-384"
                          : strcmp(group, SN_secp521r1) == 0      ? "P-521"
                                                                  : NULL;
        if (crv == NULL) {
            return WD_EINVAL;
        }
        size_t flen = ((size_t)EVP_PKEY_get_bits(pk) + 7) / 8;
        WD_TRY(wd_buf_printf(out, ",\n            \"kty\": \"EC\",\n            \"crv\": \"%s\"",
                             crv));
        WD_TRY(put_param(out, "x", pk, OSSL_PKEY_PARAM_EC_PUB_X, flen));
        WD_TRY(put_param(out, "y", pk, OSSL_PKEY_PARAM_EC_PUB_Y, flen));
    } else if (id == EVP_PKEY_RSA) {
        WD_TRY(wd_buf_append_str(out, ",\n            \"kty\": \"RSA\""));
        WD_TRY(put_param(out, "n", pk, OSSL_PKEY_PARAM_RSA_N, 0));
        WD_TRY(put_param(out, "e", pk, OSSL_PKEY_PARAM_RSA_E, 0));
    } else {
        return WD_EINVAL;
    }
    WD_TRY(wd_buf_append_str(out, ",\n            \"x5c\": [\""));
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    if (len <= 0) {
        return wd_pki_ossl_fail(NULL, WD_ETLS, NULL, "certificate");
    }
    int rc = wd_b64_encode(out, der, (size_t)len, WD_B64_STD);
    OPENSSL_free(der);
    WD_TRY(rc);
    return wd_buf_append_str(out, "\"]\n        }");
}

int wd_bundle_to_json(const struct wd_bundle *b, struct wd_buf *out)
{
    wd_pki_ossl_clear();
    WD_TRY(wd_buf_append_str(out, "{\n    \"keys\": [\n"));
    for (int i = 0; i < sk_X509_num(b->certs); i++) {
        if (i > 0) {
            WD_TRY(wd_buf_append_str(out, ",\n"));
        }
        WD_TRY(put_key(out, sk_X509_value(b->certs, i)));
    }
    WD_TRY(wd_buf_append_str(out, "\n    ]"));
    if (b->has_seq) {
        WD_TRY(wd_buf_printf(out, ",\n    \"spiffe_sequence\": %llu", (unsigned long long)b->seq));
    }
    if (b->has_refresh) {
        WD_TRY(wd_buf_printf(out, ",\n    \"spiffe_refresh_hint\": %lld", (long long)b->refresh));
    }
    return wd_buf_append_str(out, "\n}\n");
}
