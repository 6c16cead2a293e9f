/*
 * Fuzz the TPMT_PUBLIC / TPM2B_PUBLIC parsers (TPM 2.0 Part 2 §12.2.4-5) and what runs on
 * a parsed key: an accepted input is canonical (marshalling gives it back), its Name is
 * nameAlg plus a digest of its size, the OpenSSL conversion either succeeds with the right
 * key type or refuses with KEY_INVALID, the role checks only say yes or no, and a key that
 * passes the EK check gets a MakeCredential whose outputs have the documented sizes.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"
#include "warden/tpm.h"

#define TPM_FUZZ_MAX 2048

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_key(const uint8_t *data, size_t size, const struct wd_tpm_public *pub)
{
    /* canonical encoding */
    struct wd_buf out;
    wd_buf_init(&out, TPM_FUZZ_MAX);
    int rc = wd_tpm_public_marshal(pub, &out);
    WD_BUG_ON(rc != WD_OK && rc != WD_ENOMEM);
    WD_BUG_ON(rc == WD_OK && (out.len != size || memcmp(out.p, data, size) != 0));
    wd_buf_cleanup(&out);
    WD_BUG_ON(pub->raw.p != data || pub->raw.len != size);

    struct wd_tpm_name name;
    WD_BUG_ON(wd_tpm_public_name(pub, &name) != WD_OK);
    WD_BUG_ON(wd_tpm_name_check(name.b, name.len, NULL) != WD_OK);
    WD_BUG_ON(name.b[0] != (uint8_t)(pub->name_alg >> 8) || name.b[1] != (uint8_t)pub->name_alg);

    enum wd_tpm_reason why = WD_TPM_OK;
    rc = wd_tpm_public_check_ak(pub, &why);
    WD_BUG_ON(rc != WD_OK && (rc != WD_EDENIED || why != WD_TPM_R_AK_ATTRIBUTES));
    int ek_rc = wd_tpm_public_check_ek(pub, &why);
    WD_BUG_ON(ek_rc != WD_OK && (ek_rc != WD_EDENIED || why != WD_TPM_R_EK_ATTRIBUTES));

    EVP_PKEY *k = NULL;
    rc = wd_tpm_public_to_pkey(pub, &k, &why);
    if (rc != WD_OK) {
        WD_BUG_ON(rc != WD_ENOMEM && (rc != WD_EPROTO || why != WD_TPM_R_KEY_INVALID));
        WD_BUG_ON(k != NULL);
        return;
    }
    int id = EVP_PKEY_get_base_id(k);
    WD_BUG_ON(id != (pub->type == WD_TPM_ALG_RSA ? EVP_PKEY_RSA : EVP_PKEY_EC));
    EVP_PKEY_free(k);
    if (ek_rc != WD_OK) {
        return;
    }
    /* A credential for a fixed AK Name. */
    static const uint8_t ak_name[34] = {0x00, 0x0b, 1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                        11,   12,   13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                        23,   24,   25, 26, 27, 28, 29, 30, 31, 32};
    static const uint8_t cred[16] = "warden-fuzz-cred";
    struct wd_slice n = {ak_name, sizeof(ak_name)}, c = {cred, sizeof(cred)};
    struct wd_buf id_obj, sec;
    wd_buf_init(&id_obj, 4096);
    wd_buf_init(&sec, 4096);
    rc = wd_tpm_make_credential(pub, n, c, &id_obj, &sec, &why);
    WD_BUG_ON(rc != WD_OK && rc != WD_ENOMEM);
    if (rc == WD_OK) {
        size_t dsz = wd_tpm_hash_size(pub->name_alg);
        WD_BUG_ON(id_obj.len != 2 + 2 + dsz + 2 + sizeof(cred));
        WD_BUG_ON(pub->type == WD_TPM_ALG_RSA && sec.len != 2 + pub->rsa_bits / 8u);
        size_t cb = pub->curve == WD_TPM_ECC_NIST_P256   ? 32
                    : pub->curve == WD_TPM_ECC_NIST_P384 ? 48
                                                         : 66;
        WD_BUG_ON(pub->type == WD_TPM_ALG_ECC && sec.len != 2 + 4 + 2 * cb);
    }
    wd_buf_cleanup(&id_obj);
    wd_buf_cleanup(&sec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > TPM_FUZZ_MAX) {
        return 0;
    }
    struct wd_tpm_public pub;
    enum wd_tpm_reason why = WD_TPM_OK;
    int rc = wd_tpm_public_parse(data, size, &pub, &why);
    if (rc == WD_OK) {
        check_key(data, size, &pub);
    } else {
        WD_BUG_ON(rc != WD_EPROTO || why == WD_TPM_OK);
    }
    /* The same bytes as a TPM2B_PUBLIC: the inner structure is then parsed the same way. */
    rc = wd_tpm_public_parse_2b(data, size, &pub, &why);
    if (rc == WD_OK) {
        WD_BUG_ON(size < 2 || pub.raw.p != data + 2 || pub.raw.len != size - 2);
        struct wd_tpm_public again;
        WD_BUG_ON(wd_tpm_public_parse(data + 2, size - 2, &again, NULL) != WD_OK);
    } else {
        WD_BUG_ON(rc != WD_EPROTO || why == WD_TPM_OK);
    }
    ERR_clear_error();
    return 0;
}
