/*
 * Credential protection (TPM 2.0 Library Part 1 §24) in software: the key derivation
 * functions KDFa and KDFe (Part 1 §11.4.10), TPM2_MakeCredential as the control plane
 * runs it to bind an AK to an EK, and TPM2_ActivateCredential for tests that hold the
 * private key of a software "EK".
 *
 * The construction, with nameAlg and the symmetric definition taken from the EK:
 *   seed          shared with the EK (RSA-OAEP of a random seed, or ECDH + KDFe), with
 *                 the label "IDENTITY" (Part 1 §24.4 and Annexes B.10 and C.6)
 *   symKey        = KDFa(nameAlg, seed, "STORAGE", Name(AK), "", symmetric key bits)
 *   encIdentity   = CFB(symKey, IV = 0, TPM2B_DIGEST credential)         (§24.4)
 *   HMACkey       = KDFa(nameAlg, seed, "INTEGRITY", "", "", digest bits) (§24.5)
 *   outerHMAC     = HMAC_nameAlg(HMACkey, encIdentity || Name(AK))
 *   credentialBlob (TPM2B_ID_OBJECT) = TPM2B_DIGEST outerHMAC || encIdentity
 * Because the AK's Name enters both the key and the HMAC, the TPM only releases the
 * credential when the AK named is loaded next to this EK.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "warden/buf.h"
#include "warden/err.h"
#include "warden/rand.h"
#include "warden/tpm.h"

#include "attest/tpm_int.h"

/* The OAEP label and KDFe "use" value for credentials, with its NUL (Part 1 §24.4). */
static const char label_identity[] = "IDENTITY";
/* The largest TPM2B_ENCRYPTED_SECRET payload: an RSA-4096 ciphertext (TPMU_ENCRYPTED_SECRET). */
#define SECRET_MAX WD_TPM_RSA_BYTES_MAX
/* TPM2B_ID_OBJECT content: TPM2B_DIGEST outerHMAC and encIdentity (2 + credential). */
#define ID_OBJECT_MAX (2 + WD_TPM_DIGEST_MAX + 2 + WD_TPM_DIGEST_MAX)

static void be32(uint8_t out[4], uint32_t v)
{
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

/* ---- key derivation (Part 1 §11.4.10) ---- */

/* OSSL_PARAMs selecting md for an HMAC; name (size n) holds the digest's name for them. */
static void hmac_params(const EVP_MD *md, char *name, size_t n, OSSL_PARAM params[2])
{
    (void)snprintf(name, n, "%s", EVP_MD_get0_name(md));
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, name, 0);
    params[1] = OSSL_PARAM_construct_end();
}

int wd_tpm_kdfa(uint16_t hash, struct wd_slice key, const char *label, struct wd_slice ctx_u,
                struct wd_slice ctx_v, uint32_t bits, uint8_t *out, size_t out_len)
{
    const EVP_MD *md = wd_tpm_md(hash);
    WD_ENSURE(md != NULL && label != NULL && out != NULL && key.len > 0 && key.p != NULL,
              WD_EINVAL);
    WD_ENSURE(bits > 0 && bits % 8 == 0 && bits / 8 <= out_len, WD_EINVAL);
    WD_ENSURE((ctx_u.p != NULL || ctx_u.len == 0) && (ctx_v.p != NULL || ctx_v.len == 0),
              WD_EINVAL);
    int rc = WD_ETLS;
    uint8_t cnt[4], lbits[4], block[EVP_MAX_MD_SIZE];
    char mdname[32];
    OSSL_PARAM params[2];
    hmac_params(md, mdname, sizeof(mdname), params);
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    if (ctx == NULL) {
        goto out;
    }
    /* The label is used with its terminating NUL (the "0x00" separator of SP 800-108). */
    size_t label_len = strlen(label) + 1;
    be32(lbits, bits);
    size_t need = bits / 8, done = 0;
    for (uint32_t i = 1; done < need; i++) {
        size_t outl = 0;
        be32(cnt, i);
        if (EVP_MAC_init(ctx, key.p, key.len, params) != 1
            || EVP_MAC_update(ctx, cnt, sizeof(cnt)) != 1
            || EVP_MAC_update(ctx, (const uint8_t *)label, label_len) != 1
            || (ctx_u.len > 0 && EVP_MAC_update(ctx, ctx_u.p, ctx_u.len) != 1)
            || (ctx_v.len > 0 && EVP_MAC_update(ctx, ctx_v.p, ctx_v.len) != 1)
            || EVP_MAC_update(ctx, lbits, sizeof(lbits)) != 1
            || EVP_MAC_final(ctx, block, &outl, sizeof(block)) != 1 || outl == 0) {
            goto out;
        }
        size_t take = WD_MIN(outl, need - done);
        memcpy(out + done, block, take);
        done += take;
    }
    rc = WD_OK;
out:
    OPENSSL_cleanse(block, sizeof(block));
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    ERR_clear_error();
    return rc;
}

int wd_tpm_kdfe(uint16_t hash, struct wd_slice z, const char *use, struct wd_slice party_u,
                struct wd_slice party_v, uint32_t bits, uint8_t *out, size_t out_len)
{
    const EVP_MD *md = wd_tpm_md(hash);
    WD_ENSURE(md != NULL && use != NULL && out != NULL && z.len > 0 && z.p != NULL, WD_EINVAL);
    WD_ENSURE(bits > 0 && bits % 8 == 0 && bits / 8 <= out_len, WD_EINVAL);
    WD_ENSURE((party_u.p != NULL || party_u.len == 0) && (party_v.p != NULL || party_v.len == 0),
              WD_EINVAL);
    int rc = WD_ETLS;
    uint8_t cnt[4], block[EVP_MAX_MD_SIZE];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    size_t use_len = strlen(use) + 1;
    size_t need = bits / 8, done = 0;
    for (uint32_t i = 1; done < need; i++) {
        unsigned int outl = 0;
        be32(cnt, i);
        if (EVP_DigestInit_ex(ctx, md, NULL) != 1 || EVP_DigestUpdate(ctx, cnt, sizeof(cnt)) != 1
            || EVP_DigestUpdate(ctx, z.p, z.len) != 1 || EVP_DigestUpdate(ctx, use, use_len) != 1
            || (party_u.len > 0 && EVP_DigestUpdate(ctx, party_u.p, party_u.len) != 1)
            || (party_v.len > 0 && EVP_DigestUpdate(ctx, party_v.p, party_v.len) != 1)
            || EVP_DigestFinal_ex(ctx, block, &outl) != 1 || outl == 0) {
            goto out;
        }
        size_t take = WD_MIN((size_t)outl, need - done);
        memcpy(out + done, block, take);
        done += take;
    }
    rc = WD_OK;
out:
    OPENSSL_cleanse(block, sizeof(block));
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

/* ---- shared pieces ---- */

static const EVP_CIPHER *cfb_cipher(uint16_t bits)
{
    switch (bits) {
    case 128:
        return EVP_aes_128_cfb128();
    case 192:
        return EVP_aes_192_cfb128();
    case 256:
        return EVP_aes_256_cfb128();
    default:
        return NULL;
    }
}

/* AES-CFB with a zero IV (Part 1 §24.4: the key is used once, so no IV is needed). */
static int cfb(uint16_t key_bits, const uint8_t *key, const uint8_t *in, size_t len, uint8_t *out,
               bool encrypt)
{
    const EVP_CIPHER *c = cfb_cipher(key_bits);
    WD_ENSURE(c != NULL && len <= INT32_MAX, WD_EINVAL);
    static const uint8_t iv[16];
    int rc = WD_ETLS, n = 0, fin = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    if (EVP_CipherInit_ex(ctx, c, NULL, key, iv, encrypt ? 1 : 0) != 1
        || EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1
        || EVP_CipherFinal_ex(ctx, out + n, &fin) != 1 || (size_t)n + (size_t)fin != len) {
        goto out;
    }
    rc = WD_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

/* outerHMAC = HMAC_nameAlg(HMACkey, encIdentity || Name) (Part 1 §24.5). */
static int outer_hmac(uint16_t name_alg, const uint8_t *key, size_t key_len, struct wd_slice enc,
                      struct wd_slice name, uint8_t *out, size_t *out_len)
{
    const EVP_MD *md = wd_tpm_md(name_alg);
    WD_ENSURE(md != NULL, WD_EINVAL);
    int rc = WD_ETLS;
    char mdname[32];
    OSSL_PARAM params[2];
    hmac_params(md, mdname, sizeof(mdname), params);
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    if (ctx == NULL || EVP_MAC_init(ctx, key, key_len, params) != 1
        || EVP_MAC_update(ctx, enc.p, enc.len) != 1 || EVP_MAC_update(ctx, name.p, name.len) != 1
        || EVP_MAC_final(ctx, out, out_len, WD_TPM_DIGEST_MAX) != 1) {
        goto out;
    }
    rc = WD_OK;
out:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    ERR_clear_error();
    return rc;
}

/* The keys derived from a seed: symKey (STORAGE) and HMACkey (INTEGRITY). */
struct cred_keys {
    uint8_t sym[32];
    uint8_t hmac[WD_TPM_DIGEST_MAX];
    size_t hmac_len;
};

static int derive_keys(const struct wd_tpm_public *ek, const uint8_t *seed, size_t seed_len,
                       struct wd_slice ak_name, struct cred_keys *k)
{
    struct wd_slice s = {seed, seed_len}, none = {NULL, 0};
    k->hmac_len = wd_tpm_hash_size(ek->name_alg);
    WD_TRY(wd_tpm_kdfa(ek->name_alg, s, "STORAGE", ak_name, none, ek->sym_bits, k->sym,
                       sizeof(k->sym)));
    return wd_tpm_kdfa(ek->name_alg, s, "INTEGRITY", none, none, (uint32_t)(k->hmac_len * 8),
                       k->hmac, sizeof(k->hmac));
}

/* RSA-OAEP with nameAlg for hash and MGF1 and the label "IDENTITY\0" (Part 1 Annex B.10.3). */
static int oaep_ctx(EVP_PKEY *pk, uint16_t name_alg, bool encrypt, EVP_PKEY_CTX **out)
{
    const EVP_MD *md = wd_tpm_md(name_alg);
    WD_ENSURE(md != NULL, WD_EINVAL);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    if (ctx == NULL) {
        return WD_ENOMEM;
    }
    /* OpenSSL takes ownership of the label on success. */
    void *label = OPENSSL_memdup(label_identity, sizeof(label_identity));
    int ok = label != NULL
             && (encrypt ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) == 1
             && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1
             && EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) == 1
             && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1
             && EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, (int)sizeof(label_identity)) == 1;
    if (!ok) {
        /* set0_rsa_oaep_label takes the label only when it succeeds, so it is ours here. */
        OPENSSL_free(label);
        EVP_PKEY_CTX_free(ctx);
        ERR_clear_error();
        return WD_ETLS;
    }
    *out = ctx;
    return WD_OK;
}

/* The coordinates of an EC public key, each padded to the curve size cb. */
static int ec_point_xy(EVP_PKEY *pk, size_t cb, uint8_t *x, uint8_t *y)
{
    uint8_t pt[1 + 2 * WD_TPM_ECC_BYTES_MAX];
    size_t n = 0;
    if (EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof(pt), &n)
                != 1
        || n != 1 + 2 * cb || pt[0] != 0x04) {
        ERR_clear_error();
        return WD_ETLS;
    }
    memcpy(x, pt + 1, cb);
    memcpy(y, pt + 1 + cb, cb);
    return WD_OK;
}

/* Z: the x coordinate of the ECDH shared point, as many bytes as the field (SP 800-56A). */
static int ecdh(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t *z, size_t cb)
{
    int rc = WD_ETLS;
    size_t zl = cb;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
    if (ctx == NULL) {
        return WD_ENOMEM;
    }
    if (EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer) == 1
        && EVP_PKEY_derive(ctx, z, &zl) == 1 && zl == cb) {
        rc = WD_OK;
    }
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

/* ---- MakeCredential ---- */

/* Share a fresh seed with the EK; the TPM2B_ENCRYPTED_SECRET payload goes to secret. */
static int seed_share(const struct wd_tpm_public *ek, EVP_PKEY *ek_key, uint8_t *seed,
                      size_t seed_len, uint8_t *secret, size_t *secret_len)
{
    int rc;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *eph = NULL;
    if (ek->type == WD_TPM_ALG_RSA) {
        /* Part 1 Annex B.10.3: a random seed of the nameAlg digest size, OAEP-encrypted. */
        WD_TRY(wd_rand_bytes(seed, seed_len));
        WD_TRY(oaep_ctx(ek_key, ek->name_alg, true, &ctx));
        size_t n = SECRET_MAX;
        rc = EVP_PKEY_encrypt(ctx, secret, &n, seed, seed_len) == 1 ? WD_OK : WD_ETLS;
        *secret_len = n;
        goto out;
    }
    /*
     * Part 1 Annex C.6: an ephemeral key pair on the EK's curve; Z from ECDH with the EK;
     * seed = KDFe(nameAlg, Z, "IDENTITY", ephemeral x, EK x). The secret is the marshalled
     * TPMS_ECC_POINT of the ephemeral public key, coordinates padded to the curve size.
     */
    size_t cb = wd_tpm_curve_bytes(ek->curve);
    uint8_t x[WD_TPM_ECC_BYTES_MAX], y[WD_TPM_ECC_BYTES_MAX], z[WD_TPM_ECC_BYTES_MAX];
    eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", wd_tpm_curve_group(ek->curve));
    if (eph == NULL) {
        rc = WD_ETLS;
        goto out;
    }
    WD_CHECK(ec_point_xy(eph, cb, x, y));
    WD_CHECK(ecdh(eph, ek_key, z, cb));
    struct wd_slice zs = {z, cb}, xs = {x, cb};
    rc = wd_tpm_kdfe(ek->name_alg, zs, label_identity, xs, ek->ecc_x, (uint32_t)(seed_len * 8),
                     seed, seed_len);
    OPENSSL_cleanse(z, sizeof(z));
    WD_CHECK(rc);
    uint8_t *s = secret;
    s[0] = 0;
    s[1] = (uint8_t)cb;
    memcpy(s + 2, x, cb);
    s[2 + cb] = 0;
    s[3 + cb] = (uint8_t)cb;
    memcpy(s + 4 + cb, y, cb);
    *secret_len = 4 + 2 * cb;
    rc = WD_OK;
out:
    EVP_PKEY_free(eph);
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

int wd_tpm_make_credential(const struct wd_tpm_public *ek, struct wd_slice ak_name,
                           struct wd_slice credential, struct wd_buf *id_object,
                           struct wd_buf *enc_secret, enum wd_tpm_reason *why)
{
    WD_ENSURE(ek != NULL && id_object != NULL && enc_secret != NULL, WD_EINVAL);
    WD_TRY(wd_tpm_public_check_ek(ek, why));
    WD_TRY(wd_tpm_name_check(ak_name.p, ak_name.len, why));
    size_t dsz = wd_tpm_hash_size(ek->name_alg);
    if (credential.p == NULL || credential.len == 0 || credential.len > dsz) {
        /* Part 3 §12.6: TPM_RC_SIZE when the credential is longer than a nameAlg digest. */
        return wd_tpm_fail(why, WD_TPM_R_CREDENTIAL_SIZE, WD_EINVAL);
    }
    int rc;
    EVP_PKEY *ek_key = NULL;
    uint8_t seed[WD_TPM_DIGEST_MAX], secret[SECRET_MAX], plain[2 + WD_TPM_DIGEST_MAX];
    uint8_t enc[2 + WD_TPM_DIGEST_MAX], hmac[WD_TPM_DIGEST_MAX];
    size_t secret_len = 0, hmac_len = 0;
    struct cred_keys k;
    memset(&k, 0, sizeof(k));
    WD_CHECK(wd_tpm_public_to_pkey(ek, &ek_key, why));
    WD_CHECK(seed_share(ek, ek_key, seed, dsz, secret, &secret_len));
    WD_CHECK(derive_keys(ek, seed, dsz, ak_name, &k));
    /* The plaintext is the credential as a TPM2B_DIGEST (size included, Part 1 §24.4). */
    size_t plain_len = 2 + credential.len;
    plain[0] = (uint8_t)(credential.len >> 8);
    plain[1] = (uint8_t)credential.len;
    memcpy(plain + 2, credential.p, credential.len);
    WD_CHECK(cfb(ek->sym_bits, k.sym, plain, plain_len, enc, true));
    struct wd_slice encs = {enc, plain_len};
    WD_CHECK(outer_hmac(ek->name_alg, k.hmac, k.hmac_len, encs, ak_name, hmac, &hmac_len));
    /* Room in both outputs first, so that either both get their bytes or neither does. */
    size_t id_len = 2 + hmac_len + plain_len;
    WD_CHECK(wd_buf_reserve(id_object, 2 + id_len));
    WD_CHECK(wd_buf_reserve(enc_secret, 2 + secret_len));
    WD_CHECK(wd_tpm_put16(id_object, (uint16_t)id_len));
    WD_CHECK(wd_tpm_put2b(id_object, hmac, hmac_len));
    WD_CHECK(wd_buf_append(id_object, enc, plain_len));
    WD_CHECK(wd_tpm_put2b(enc_secret, secret, secret_len));
    if (why != NULL) {
        *why = WD_TPM_OK;
    }
    rc = WD_OK;
out:
    OPENSSL_cleanse(seed, sizeof(seed));
    OPENSSL_cleanse(plain, sizeof(plain));
    OPENSSL_cleanse(&k, sizeof(k));
    EVP_PKEY_free(ek_key);
    return rc;
}

/* ---- ActivateCredential (software) ---- */

/* Recover the seed from the TPM2B_ENCRYPTED_SECRET payload with the EK's private key. */
static int seed_recover(const struct wd_tpm_public *ek, EVP_PKEY *ek_private,
                        struct wd_slice secret, uint8_t *seed, size_t seed_len,
                        enum wd_tpm_reason *why)
{
    int rc;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *peer = NULL;
    if (ek->type == WD_TPM_ALG_RSA) {
        uint8_t tmp[SECRET_MAX];
        size_t n = sizeof(tmp);
        WD_TRY(oaep_ctx(ek_private, ek->name_alg, false, &ctx));
        if (EVP_PKEY_decrypt(ctx, tmp, &n, secret.p, secret.len) != 1 || n != seed_len) {
            rc = wd_tpm_fail(why, WD_TPM_R_SECRET, WD_ECRYPTO);
            goto out;
        }
        memcpy(seed, tmp, seed_len);
        OPENSSL_cleanse(tmp, sizeof(tmp));
        rc = WD_OK;
        goto out;
    }
    /* The payload is a TPMS_ECC_POINT; the KDFe party-U value is its x as sent. */
    size_t cb = wd_tpm_curve_bytes(ek->curve);
    struct wd_rd r;
    struct wd_slice x, y;
    uint8_t z[WD_TPM_ECC_BYTES_MAX];
    wd_rd_init(&r, secret.p, secret.len);
    WD_TRY(wd_tpm_rd_2b(&r, 1, cb, &x, why));
    WD_TRY(wd_tpm_rd_2b(&r, 1, cb, &y, why));
    if (wd_rd_left(&r) != 0) {
        return wd_tpm_fail(why, WD_TPM_R_TRAILING, WD_EPROTO);
    }
    rc = wd_tpm_ec_pkey(ek->curve, x, y, &peer, why);
    if (rc == WD_EPROTO) {
        rc = wd_tpm_fail(why, WD_TPM_R_SECRET, WD_ECRYPTO);
    }
    WD_CHECK(rc);
    WD_CHECK(ecdh(ek_private, peer, z, cb));
    struct wd_slice zs = {z, cb};
    rc = wd_tpm_kdfe(ek->name_alg, zs, label_identity, x, ek->ecc_x, (uint32_t)(seed_len * 8), seed,
                     seed_len);
    OPENSSL_cleanse(z, sizeof(z));
out:
    EVP_PKEY_free(peer);
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

int wd_tpm_activate_credential(const struct wd_tpm_public *ek, EVP_PKEY *ek_private,
                               struct wd_slice ak_name, struct wd_slice id_object,
                               struct wd_slice enc_secret, struct wd_buf *out,
                               enum wd_tpm_reason *why)
{
    WD_ENSURE(ek != NULL && ek_private != NULL && out != NULL, WD_EINVAL);
    int want_id = ek->type == WD_TPM_ALG_RSA ? EVP_PKEY_RSA : EVP_PKEY_EC;
    WD_ENSURE(EVP_PKEY_get_base_id(ek_private) == want_id, WD_EINVAL);
    WD_TRY(wd_tpm_public_check_ek(ek, why));
    WD_TRY(wd_tpm_name_check(ak_name.p, ak_name.len, why));
    size_t dsz = wd_tpm_hash_size(ek->name_alg);
    struct wd_slice id, secret, hmac_in, enc;
    WD_TRY(wd_tpm_2b_unwrap(id_object.p, id_object.len, ID_OBJECT_MAX, &id, why));
    WD_TRY(wd_tpm_2b_unwrap(enc_secret.p, enc_secret.len, SECRET_MAX, &secret, why));
    struct wd_rd r;
    wd_rd_init(&r, id.p, id.len);
    WD_TRY(wd_tpm_rd_2b(&r, dsz, dsz, &hmac_in, why));
    /* encIdentity: the rest, a TPM2B_DIGEST under CFB (so 2 + 1..digest bytes). */
    if (wd_rd_left(&r) < 3 || wd_rd_left(&r) > 2 + dsz) {
        return wd_tpm_fail(why, WD_TPM_R_SIZE, WD_EPROTO);
    }
    WD_TRY(wd_rd_bytes(&r, wd_rd_left(&r), &enc));
    int rc;
    uint8_t seed[WD_TPM_DIGEST_MAX], plain[2 + WD_TPM_DIGEST_MAX], hmac[WD_TPM_DIGEST_MAX];
    size_t hmac_len = 0;
    struct cred_keys k;
    memset(&k, 0, sizeof(k));
    memset(plain, 0, sizeof(plain));
    WD_CHECK(seed_recover(ek, ek_private, secret, seed, dsz, why));
    WD_CHECK(derive_keys(ek, seed, dsz, ak_name, &k));
    WD_CHECK(outer_hmac(ek->name_alg, k.hmac, k.hmac_len, enc, ak_name, hmac, &hmac_len));
    /* Integrity before decryption, compared in constant time (Part 1 §24.5). */
    if (hmac_len != hmac_in.len || CRYPTO_memcmp(hmac, hmac_in.p, hmac_len) != 0) {
        rc = wd_tpm_fail(why, WD_TPM_R_CRED_INTEGRITY, WD_ECRYPTO);
        goto out;
    }
    WD_CHECK(cfb(ek->sym_bits, k.sym, enc.p, enc.len, plain, false));
    size_t clen = ((size_t)plain[0] << 8) | plain[1];
    if (clen == 0 || clen != enc.len - 2) {
        rc = wd_tpm_fail(why, WD_TPM_R_SIZE, WD_EPROTO);
        goto out;
    }
    WD_CHECK(wd_buf_append(out, plain + 2, clen));
    if (why != NULL) {
        *why = WD_TPM_OK;
    }
    rc = WD_OK;
out:
    OPENSSL_cleanse(seed, sizeof(seed));
    OPENSSL_cleanse(plain, sizeof(plain));
    OPENSSL_cleanse(&k, sizeof(k));
    return rc;
}
