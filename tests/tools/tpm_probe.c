/*
 * tpm_probe: a command-line front end to lib/attest/tpm_*.c for tests/integration/
 * 030-tpm-swtpm.sh, which feeds it what tpm2-tools produced against swtpm. Files are raw
 * TPM structures as tpm2-tools writes them (-f tss / default formats).
 *
 *   tpm_probe verify --ak TPM2B_PUBLIC --msg TPMS_ATTEST --sig TPMT_SIGNATURE
 *                    --pcrs VALUES --nonce HEX [--allow BANK:PCR=HEX[,HEX...]]...
 *                    [--only-listed] [--prev CLOCK:RESET:RESTART] [--schemes rsassa,...]
 *       prints "ok clock=C reset=R restart=S" (exit 0) or "refused NAME: TEXT" (exit 1)
 *   tpm_probe name --public TPM2B_PUBLIC          prints the Name in hex
 *   tpm_probe check-ak|check-ek --public TPM2B_PUBLIC    ok | refused NAME
 *   tpm_probe makecred --ek TPM2B_PUBLIC --name HEX --secret FILE --out FILE
 *       writes the tpm2_makecredential file format (header, TPM2B_ID_OBJECT,
 *       TPM2B_ENCRYPTED_SECRET) that tpm2_activatecredential -i reads
 *   tpm_probe activate --ek TPM2B_PUBLIC --ek-key PEM --name HEX --in FILE
 *       software ActivateCredential of such a file; prints the credential in hex
 *   tpm_probe ekcert --ca-dir DIR --cert DER --ek TPM2B_PUBLIC [--at UNIXTIME]
 *   tpm_probe ekhash --ek TPM2B_PUBLIC [--allow HEX]...
 *   tpm_probe mkpub --key PEM --out FILE
 *       a TPM2B_PUBLIC for a software key laid out like the TCG EK templates (for vectors)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/codec.h"
#include "warden/err.h"
#include "warden/file.h"
#include "warden/tpm.h"

#define FILE_MAX  (1u << 20)
#define MAX_RULES 64

/* The EK templates' authPolicy, PolicySecret(TPM_RH_ENDORSEMENT) (EK profile, Annex B). */
static const uint8_t ek_policy[32] = {
        0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc,
        0x8d, 0x46, 0xa5, 0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52,
        0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};

static const char *opt(int argc, char **argv, const char *name)
{
    for (int i = 2; i + 1 < argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            return argv[i + 1];
        }
    }
    return NULL;
}

static bool flag(int argc, char **argv, const char *name)
{
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            return true;
        }
    }
    return false;
}

static int die(const char *msg)
{
    (void)fprintf(stderr, "tpm_probe: %s\n", msg);
    return 2;
}

static int read_file(const char *path, struct wd_buf *b)
{
    struct wd_diag d;
    wd_buf_init(b, FILE_MAX);
    if (path == NULL) {
        return WD_EINVAL;
    }
    int rc = wd_file_read(path, FILE_MAX, b, &d);
    if (rc < 0) {
        (void)fprintf(stderr, "tpm_probe: %s\n", d.msg);
    }
    return rc;
}

static int hex_arg(const char *s, struct wd_buf *b)
{
    wd_buf_init(b, 4096);
    if (s == NULL) {
        return WD_EINVAL;
    }
    return wd_hex_decode(b, s, strlen(s));
}

static void print_hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        printf("%02x", p[i]);
    }
    printf("\n");
}

static int refused(enum wd_tpm_reason why, int rc)
{
    printf("refused %s: %s (%s)\n", wd_tpm_reason_name(why), wd_tpm_reason_str(why),
           wd_strerror(rc));
    return 1;
}

static int load_public(const char *path, struct wd_buf *b, struct wd_tpm_public *pub)
{
    enum wd_tpm_reason why = WD_TPM_OK;
    if (read_file(path, b) < 0) {
        return -1;
    }
    int rc = wd_tpm_public_parse_2b(b->p, b->len, pub, &why);
    if (rc < 0) {
        (void)fprintf(stderr, "tpm_probe: %s: %s\n", path, wd_tpm_reason_str(why));
        return -1;
    }
    return 0;
}

static uint16_t bank_alg(const char *s, size_t n)
{
    if (n == 4 && strncmp(s, "sha1", 4) == 0) {
        return WD_TPM_ALG_SHA1;
    }
    if (n == 6 && strncmp(s, "sha256", 6) == 0) {
        return WD_TPM_ALG_SHA256;
    }
    if (n == 6 && strncmp(s, "sha384", 6) == 0) {
        return WD_TPM_ALG_SHA384;
    }
    if (n == 6 && strncmp(s, "sha512", 6) == 0) {
        return WD_TPM_ALG_SHA512;
    }
    return 0;
}

/* "sha256:7=HEX,HEX" into rule (values in vals, which must outlive the rule). */
static int parse_rule(const char *s, struct wd_tpm_pcr_rule *rule, struct wd_buf *vals)
{
    const char *colon = strchr(s, ':');
    const char *eq = strchr(s, '=');
    if (colon == NULL || eq == NULL || eq < colon) {
        return -1;
    }
    rule->hash = bank_alg(s, (size_t)(colon - s));
    char *end = NULL;
    errno = 0;
    unsigned long pcr = strtoul(colon + 1, &end, 10);
    if (rule->hash == 0 || errno != 0 || end != eq || pcr >= WD_TPM_PCR_MAX) {
        return -1;
    }
    rule->pcr = (uint8_t)pcr;
    wd_buf_init(vals, 64 * 1024);
    size_t dsz = wd_tpm_hash_size(rule->hash);
    const char *p = eq + 1;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        size_t before = vals->len;
        if (wd_hex_decode(vals, p, n) < 0 || vals->len - before != dsz) {
            return -1;
        }
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    rule->values = vals->p;
    rule->n_values = vals->len / dsz;
    return 0;
}

static unsigned parse_schemes(const char *s)
{
    unsigned m = 0;
    if (strstr(s, "rsassa") != NULL) {
        m |= WD_TPM_SIG_RSASSA;
    }
    if (strstr(s, "rsapss") != NULL) {
        m |= WD_TPM_SIG_RSAPSS;
    }
    if (strstr(s, "ecdsa") != NULL) {
        m |= WD_TPM_SIG_ECDSA;
    }
    return m;
}

static int cmd_verify(int argc, char **argv)
{
    int ret = 2;
    struct wd_buf akb, msg, sig, pcrs, nonce;
    struct wd_buf vals[MAX_RULES];
    struct wd_tpm_pcr_rule rules[MAX_RULES];
    size_t nrules = 0;
    struct wd_tpm_public ak;
    EVP_PKEY *key = NULL;
    enum wd_tpm_reason why = WD_TPM_OK;
    wd_buf_init(&akb, 0);
    wd_buf_init(&msg, 0);
    wd_buf_init(&sig, 0);
    wd_buf_init(&pcrs, 0);
    wd_buf_init(&nonce, 0);
    if (load_public(opt(argc, argv, "--ak"), &akb, &ak) < 0
        || read_file(opt(argc, argv, "--msg"), &msg) < 0
        || read_file(opt(argc, argv, "--sig"), &sig) < 0
        || read_file(opt(argc, argv, "--pcrs"), &pcrs) < 0
        || hex_arg(opt(argc, argv, "--nonce"), &nonce) < 0) {
        ret = die("verify: bad or missing --ak/--msg/--sig/--pcrs/--nonce");
        goto out;
    }
    for (int i = 2; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--allow") != 0) {
            continue;
        }
        if (nrules == MAX_RULES || parse_rule(argv[i + 1], &rules[nrules], &vals[nrules]) < 0) {
            if (nrules < MAX_RULES) {
                wd_buf_cleanup(&vals[nrules]);
            }
            ret = die("verify: bad --allow (BANK:PCR=HEX[,HEX...])");
            goto out;
        }
        nrules++;
    }
    if (wd_tpm_public_to_pkey(&ak, &key, &why) < 0) {
        ret = die("verify: AK public area is not a valid key");
        goto out;
    }
    struct wd_tpm_pcr_policy pol = {rules, nrules, flag(argc, argv, "--only-listed")};
    struct wd_tpm_clock prev;
    struct wd_tpm_quote_check chk = {
            .ak_key = key,
            .ak_public = &ak,
            .nonce = wd_buf_slice(&nonce),
            .policy = &pol,
    };
    const char *ps = opt(argc, argv, "--prev");
    if (ps != NULL) {
        uint64_t c;
        unsigned r, s;
        if (sscanf(ps, "%" SCNu64 ":%u:%u", &c, &r, &s) != 3) {
            ret = die("verify: bad --prev CLOCK:RESET:RESTART");
            goto out;
        }
        prev.clock = c;
        prev.reset_count = r;
        prev.restart_count = s;
        prev.safe = true;
        chk.prev = &prev;
    }
    const char *sch = opt(argc, argv, "--schemes");
    if (sch != NULL) {
        chk.sig_schemes = parse_schemes(sch);
    }
    struct wd_tpm_attest a;
    int rc = wd_tpm_quote_verify(&chk, wd_buf_slice(&msg), wd_buf_slice(&sig), wd_buf_slice(&pcrs),
                                 &a, &why);
    if (rc < 0) {
        ret = refused(why, rc);
        goto out;
    }
    printf("ok clock=%" PRIu64 " reset=%" PRIu32 " restart=%" PRIu32 "\n", a.clock.clock,
           a.clock.reset_count, a.clock.restart_count);
    ret = 0;
out:
    for (size_t i = 0; i < nrules; i++) {
        wd_buf_cleanup(&vals[i]);
    }
    EVP_PKEY_free(key);
    wd_buf_cleanup(&akb);
    wd_buf_cleanup(&msg);
    wd_buf_cleanup(&sig);
    wd_buf_cleanup(&pcrs);
    wd_buf_cleanup(&nonce);
    return ret;
}

static int cmd_name(int argc, char **argv)
{
    struct wd_buf b;
    struct wd_tpm_public pub;
    struct wd_tpm_name name;
    int ret = 2;
    wd_buf_init(&b, 0);
    if (load_public(opt(argc, argv, "--public"), &b, &pub) == 0
        && wd_tpm_public_name(&pub, &name) == WD_OK) {
        print_hex(name.b, name.len);
        ret = 0;
    }
    wd_buf_cleanup(&b);
    return ret;
}

static int cmd_check(int argc, char **argv, bool ak)
{
    struct wd_buf b;
    struct wd_tpm_public pub;
    enum wd_tpm_reason why = WD_TPM_OK;
    int ret = 2;
    wd_buf_init(&b, 0);
    if (load_public(opt(argc, argv, "--public"), &b, &pub) == 0) {
        int rc = ak ? wd_tpm_public_check_ak(&pub, &why) : wd_tpm_public_check_ek(&pub, &why);
        if (rc < 0) {
            ret = refused(why, rc);
        } else {
            printf("ok\n");
            ret = 0;
        }
    }
    wd_buf_cleanup(&b);
    return ret;
}

/* tpm2-tools' file header: magic 0xBADCC0DE and version 1, big-endian (lib/files.c). */
static const uint8_t tools_header[8] = {0xba, 0xdc, 0xc0, 0xde, 0, 0, 0, 1};

static int cmd_makecred(int argc, char **argv)
{
    struct wd_buf ekb, name, secret, id, enc, file;
    struct wd_tpm_public ek;
    enum wd_tpm_reason why = WD_TPM_OK;
    int ret = 2;
    wd_buf_init(&ekb, 0);
    wd_buf_init(&name, 0);
    wd_buf_init(&secret, 0);
    wd_buf_init(&id, 4096);
    wd_buf_init(&enc, 4096);
    wd_buf_init(&file, 8192);
    const char *outp = opt(argc, argv, "--out");
    if (load_public(opt(argc, argv, "--ek"), &ekb, &ek) < 0
        || hex_arg(opt(argc, argv, "--name"), &name) < 0
        || read_file(opt(argc, argv, "--secret"), &secret) < 0 || outp == NULL) {
        ret = die("makecred: bad or missing --ek/--name/--secret/--out");
        goto out;
    }
    int rc = wd_tpm_make_credential(&ek, wd_buf_slice(&name), wd_buf_slice(&secret), &id, &enc,
                                    &why);
    if (rc < 0) {
        ret = refused(why, rc);
        goto out;
    }
    struct wd_diag d;
    if (wd_buf_append(&file, tools_header, sizeof(tools_header)) < 0
        || wd_buf_append(&file, id.p, id.len) < 0 || wd_buf_append(&file, enc.p, enc.len) < 0
        || wd_file_write_atomic(outp, file.p, file.len, 0600, &d) < 0) {
        ret = die("makecred: cannot write the output");
        goto out;
    }
    printf("ok\n");
    ret = 0;
out:
    wd_buf_cleanup(&ekb);
    wd_buf_cleanup(&name);
    wd_buf_cleanup(&secret);
    wd_buf_cleanup(&id);
    wd_buf_cleanup(&enc);
    wd_buf_cleanup(&file);
    return ret;
}

static EVP_PKEY *load_private(const char *path)
{
    if (path == NULL) {
        return NULL;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return NULL;
    }
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    (void)fclose(f);
    return k;
}

static int cmd_activate(int argc, char **argv)
{
    struct wd_buf ekb, name, in, cred;
    struct wd_tpm_public ek;
    enum wd_tpm_reason why = WD_TPM_OK;
    int ret = 2;
    EVP_PKEY *priv = NULL;
    wd_buf_init(&ekb, 0);
    wd_buf_init(&name, 0);
    wd_buf_init(&in, 0);
    wd_buf_init(&cred, 4096);
    if (load_public(opt(argc, argv, "--ek"), &ekb, &ek) < 0
        || hex_arg(opt(argc, argv, "--name"), &name) < 0
        || read_file(opt(argc, argv, "--in"), &in) < 0
        || (priv = load_private(opt(argc, argv, "--ek-key"))) == NULL) {
        ret = die("activate: bad or missing --ek/--ek-key/--name/--in");
        goto out;
    }
    /* header, then TPM2B_ID_OBJECT, then TPM2B_ENCRYPTED_SECRET */
    if (in.len < sizeof(tools_header) + 4 || memcmp(in.p, tools_header, 8) != 0) {
        ret = die("activate: not a tpm2_makecredential file");
        goto out;
    }
    size_t off = sizeof(tools_header);
    size_t idl = 2 + (((size_t)in.p[off] << 8) | in.p[off + 1]);
    if (off + idl + 2 > in.len) {
        ret = die("activate: truncated file");
        goto out;
    }
    struct wd_slice id = {in.p + off, idl};
    struct wd_slice sec = {in.p + off + idl, in.len - off - idl};
    int rc = wd_tpm_activate_credential(&ek, priv, wd_buf_slice(&name), id, sec, &cred, &why);
    if (rc < 0) {
        ret = refused(why, rc);
        goto out;
    }
    print_hex(cred.p, cred.len);
    ret = 0;
out:
    EVP_PKEY_free(priv);
    wd_buf_cleanup(&ekb);
    wd_buf_cleanup(&name);
    wd_buf_cleanup(&in);
    wd_buf_cleanup_secret(&cred);
    return ret;
}

static int cmd_ekcert(int argc, char **argv)
{
    struct wd_buf ekb, der;
    struct wd_tpm_public ek;
    enum wd_tpm_reason why = WD_TPM_OK;
    struct wd_diag d;
    int ret = 2;
    X509_STORE *store = NULL;
    X509 *cert = NULL;
    wd_buf_init(&ekb, 0);
    wd_buf_init(&der, 0);
    const char *dir = opt(argc, argv, "--ca-dir");
    if (load_public(opt(argc, argv, "--ek"), &ekb, &ek) < 0
        || read_file(opt(argc, argv, "--cert"), &der) < 0 || dir == NULL) {
        ret = die("ekcert: bad or missing --ek/--cert/--ca-dir");
        goto out;
    }
    if (wd_tpm_ca_store_load(dir, &store, &d) < 0) {
        (void)fprintf(stderr, "tpm_probe: %s\n", d.msg);
        goto out;
    }
    int rc = wd_tpm_ek_cert_parse(der.p, der.len, &cert, &why);
    if (rc < 0) {
        ret = refused(why, rc);
        goto out;
    }
    int64_t at = 0;
    const char *ats = opt(argc, argv, "--at");
    if (ats != NULL && sscanf(ats, "%" SCNd64, &at) != 1) {
        ret = die("ekcert: bad --at");
        goto out;
    }
    d.msg[0] = '\0';
    rc = wd_tpm_ek_cert_verify(store, cert, NULL, at, &ek, &why, &d);
    if (rc < 0) {
        (void)fprintf(stderr, "tpm_probe: %s\n", d.msg);
        ret = refused(why, rc);
        goto out;
    }
    printf("ok\n");
    ret = 0;
out:
    X509_free(cert);
    X509_STORE_free(store);
    wd_buf_cleanup(&ekb);
    wd_buf_cleanup(&der);
    return ret;
}

static int cmd_ekhash(int argc, char **argv)
{
    struct wd_buf ekb;
    struct wd_tpm_public ek;
    enum wd_tpm_reason why = WD_TPM_OK;
    const char *list[MAX_RULES];
    size_t n = 0;
    int ret = 2;
    wd_buf_init(&ekb, 0);
    if (load_public(opt(argc, argv, "--ek"), &ekb, &ek) < 0) {
        ret = die("ekhash: bad or missing --ek");
        goto out;
    }
    for (int i = 2; i + 1 < argc && n < MAX_RULES; i++) {
        if (strcmp(argv[i], "--allow") == 0) {
            list[n++] = argv[i + 1];
        }
    }
    if (n == 0) {
        EVP_PKEY *pk = NULL;
        char hex[65];
        if (wd_tpm_public_to_pkey(&ek, &pk, &why) == WD_OK
            && wd_tpm_spki_sha256_hex(pk, hex) == WD_OK) {
            printf("%s\n", hex);
            ret = 0;
        }
        EVP_PKEY_free(pk);
        goto out;
    }
    int rc = wd_tpm_ek_allowed(&ek, list, n, &why);
    if (rc < 0) {
        ret = refused(why, rc);
        goto out;
    }
    printf("ok\n");
    ret = 0;
out:
    wd_buf_cleanup(&ekb);
    return ret;
}

/* Big-endian bytes of a BIGNUM parameter, left-padded to n bytes. */
static int bn_param(EVP_PKEY *k, const char *name, uint8_t *out, size_t n)
{
    BIGNUM *bn = NULL;
    int ok = EVP_PKEY_get_bn_param(k, name, &bn) == 1 && BN_bn2binpad(bn, out, (int)n) == (int)n;
    BN_free(bn);
    return ok ? 0 : -1;
}

static int cmd_mkpub(int argc, char **argv)
{
    int ret = 2;
    struct wd_buf inner, outer;
    struct wd_diag d;
    uint8_t n[512], pt[1 + 2 * 66];
    wd_buf_init(&inner, 4096);
    wd_buf_init(&outer, 4096);
    const char *outp = opt(argc, argv, "--out");
    EVP_PKEY *k = load_private(opt(argc, argv, "--key"));
    if (k == NULL || outp == NULL) {
        ret = die("mkpub: bad or missing --key/--out");
        goto out;
    }
    /* The low-range EK templates L-1 (RSA 2048) and L-2 (ECC P-256), TCG EK Credential Profile,
     * Annex B. */
    struct wd_tpm_public pub = {
            .name_alg = WD_TPM_ALG_SHA256,
            .attributes = WD_TPMA_FIXED_TPM | WD_TPMA_FIXED_PARENT | WD_TPMA_SENSITIVE_DATA_ORIGIN
                          | WD_TPMA_ADMIN_WITH_POLICY | WD_TPMA_RESTRICTED | WD_TPMA_DECRYPT,
            .auth_policy = {ek_policy, sizeof(ek_policy)},
            .sym_alg = WD_TPM_ALG_AES,
            .sym_bits = 128,
            .sym_mode = WD_TPM_ALG_CFB,
            .scheme = WD_TPM_ALG_NULL,
    };
    if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
        int bits = EVP_PKEY_get_bits(k);
        if ((bits != 2048 && bits != 3072 && bits != 4096)
            || bn_param(k, OSSL_PKEY_PARAM_RSA_N, n, (size_t)bits / 8) < 0) {
            ret = die("mkpub: unsupported RSA key");
            goto out;
        }
        pub.type = WD_TPM_ALG_RSA;
        pub.rsa_bits = (uint16_t)bits;
        pub.rsa_n.p = n;
        pub.rsa_n.len = (size_t)bits / 8;
    } else {
        size_t len = 0;
        if (EVP_PKEY_get_bits(k) != 256
            || EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt,
                                               sizeof(pt), &len)
                       != 1
            || len != 65) {
            ret = die("mkpub: only RSA and EC P-256 keys");
            goto out;
        }
        pub.type = WD_TPM_ALG_ECC;
        pub.curve = WD_TPM_ECC_NIST_P256;
        pub.kdf = WD_TPM_ALG_NULL;
        pub.ecc_x.p = pt + 1;
        pub.ecc_x.len = 32;
        pub.ecc_y.p = pt + 33;
        pub.ecc_y.len = 32;
    }
    if (wd_tpm_public_marshal(&pub, &inner) < 0 || inner.len > UINT16_MAX
        || wd_buf_append_byte(&outer, (uint8_t)(inner.len >> 8)) < 0
        || wd_buf_append_byte(&outer, (uint8_t)inner.len) < 0
        || wd_buf_append(&outer, inner.p, inner.len) < 0
        || wd_file_write_atomic(outp, outer.p, outer.len, 0644, &d) < 0) {
        ret = die("mkpub: cannot encode or write");
        goto out;
    }
    printf("ok\n");
    ret = 0;
out:
    EVP_PKEY_free(k);
    wd_buf_cleanup(&inner);
    wd_buf_cleanup(&outer);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        return die("usage: tpm_probe verify|name|check-ak|check-ek|makecred|activate|ekcert|"
                   "ekhash|mkpub ...");
    }
    const char *c = argv[1];
    int ret;
    if (strcmp(c, "verify") == 0) {
        ret = cmd_verify(argc, argv);
    } else if (strcmp(c, "name") == 0) {
        ret = cmd_name(argc, argv);
    } else if (strcmp(c, "check-ak") == 0) {
        ret = cmd_check(argc, argv, true);
    } else if (strcmp(c, "check-ek") == 0) {
        ret = cmd_check(argc, argv, false);
    } else if (strcmp(c, "makecred") == 0) {
        ret = cmd_makecred(argc, argv);
    } else if (strcmp(c, "activate") == 0) {
        ret = cmd_activate(argc, argv);
    } else if (strcmp(c, "ekcert") == 0) {
        ret = cmd_ekcert(argc, argv);
    } else if (strcmp(c, "ekhash") == 0) {
        ret = cmd_ekhash(argc, argv);
    } else if (strcmp(c, "mkpub") == 0) {
        ret = cmd_mkpub(argc, argv);
    } else {
        ret = die("unknown command");
    }
    ERR_clear_error();
    return ret;
}
