/* `warden cert`: issue, inspect and verify X.509-SVIDs with a local CA directory. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "warden/alloc.h"
#include "warden/bundle.h"
#include "warden/claims.h"
#include "warden/clock.h"
#include "warden/codec.h"
#include "warden/doc.h"
#include "warden/file.h"
#include "warden/pki.h"
#include "warden/svid.h"

#include "cli.h"

#define PATH_MAX_CLI 4096
/* Shown in full up to this length; longer inputs are cut in messages. */
#define SHOW_MAX 100

/* ---- cert issue ---- */

static const char issue_usage[] =
        "usage: warden cert issue --ca DIR --spiffe-id ID --out DIR [--ttl D] [--claim K=V ...]\n"
        "                         [--csr FILE]\n"
        "\n"
        "Issue an X.509-SVID for ID with the CA in --ca (made by 'warden ca init') and write\n"
        "OUT/svid.pem (the SVID followed by the intermediate), OUT/svid.key (its new P-256 key,\n"
        "mode 0600) and OUT/bundle.pem (the trust bundle). OUT is created (0700) if missing;\n"
        "files are replaced only once everything is ready.\n"
        "\n"
        "options:\n"
        "  --ca DIR          the CA directory\n"
        "  --spiffe-id ID    spiffe://TRUST-DOMAIN/PATH, in the CA's trust domain\n"
        "  --out DIR         where to write the files\n"
        "  --ttl D           lifetime (default 1h; capped by the intermediate), e.g. 90s 15m 1d\n"
        "  --claim K=V       a warden claim (repeatable); K is one of\n"
        "                      node=NAME  attestation=tpm|join-token|sev-snp|sgx|sim|none\n"
        "                      measurement=HEX (64, 96 or 128 hex digits)\n"
        "                      manifest-version=N  party=NAME\n"
        "  --csr FILE        issue for the key of this PKCS#10 request (PEM or DER) instead of\n"
        "                    a new key; no svid.key is written\n";

/* Show an operator-given string in a message, cut when very long. */
static void shown(const char *s, char out[SHOW_MAX + 4])
{
    size_t n = strlen(s);
    if (n <= SHOW_MAX) {
        memcpy(out, s, n + 1);
    } else {
        memcpy(out, s, SHOW_MAX);
        memcpy(out + SHOW_MAX, "...", 4);
    }
}

/* Parse the --claim list. Returns 0, 1 (bad value) or 2 (bad syntax). */
static int parse_claims(const char *prog, const struct cli_list *l, struct wd_claims *c)
{
    static const char *const keys[] = {"node", "attestation", "measurement", "manifest-version",
                                       "party"};
    unsigned seen = 0;
    wd_claims_init(c);
    for (size_t i = 0; i < l->n; i++) {
        const char *kv = l->v[i];
        const char *eq = strchr(kv, '=');
        if (eq == NULL || eq == kv) {
            return cli_usage_error(prog, "--claim \"%s\": expected KEY=VALUE", kv);
        }
        size_t klen = (size_t)(eq - kv);
        const char *v = eq + 1;
        size_t k = 0;
        while (k < WD_ARRAY_LEN(keys)
               && (strlen(keys[k]) != klen || strncmp(keys[k], kv, klen) != 0)) {
            k++;
        }
        if (k == WD_ARRAY_LEN(keys)) {
            return cli_error("--claim \"%s\": unknown claim '%.*s' (known: node, attestation, "
                             "measurement, manifest-version, party)",
                             kv, (int)klen, kv);
        }
        if (seen & (1u << k)) {
            return cli_error("--claim %s given more than once", keys[k]);
        }
        seen |= 1u << k;
        struct wd_diag d;
        int rc = WD_OK;
        switch (k) {
        case 0:
            rc = wd_claims_set_node(c, v, &d);
            break;
        case 1: {
            enum wd_attest a;
            if (wd_attest_parse(v, strlen(v), &a) < 0) {
                return cli_error("--claim \"%s\": attestation must be one of tpm, join-token, "
                                 "sev-snp, sgx, sim, none",
                                 kv);
            }
            wd_claims_set_attest(c, a);
            break;
        }
        case 2: {
            struct wd_buf raw;
            wd_buf_init(&raw, WD_CLAIMS_MEAS_MAX);
            size_t n = strlen(v);
            if ((n != 64 && n != 96 && n != 128) || wd_hex_decode(&raw, v, n) < 0) {
                wd_buf_cleanup(&raw);
                return cli_error("--claim \"%.80s\": measurement must be 64, 96 or 128 hex "
                                 "digits",
                                 kv);
            }
            rc = wd_claims_set_measurement(c, raw.p, raw.len, &d);
            wd_buf_cleanup(&raw);
            break;
        }
        case 3: {
            /* A decimal integer in 0..2^64-1, digits only. */
            size_t n = strlen(v);
            if (n == 0 || n > 20 || strspn(v, "0123456789") != n) {
                return cli_error("--claim \"%s\": manifest-version must be a non-negative "
                                 "integer",
                                 kv);
            }
            errno = 0;
            unsigned long long x = strtoull(v, NULL, 10);
            if (errno == ERANGE) {
                return cli_error("--claim \"%s\": manifest-version is too large", kv);
            }
            wd_claims_set_manifest_version(c, (uint64_t)x);
            break;
        }
        default:
            rc = wd_claims_set_party(c, v, &d);
            break;
        }
        if (rc < 0) {
            return cli_error("--claim \"%.80s\": %s", kv, d.msg);
        }
    }
    return 0;
}

struct out_file {
    const char *name;
    const struct wd_buf *data;
    mode_t mode;
};

/*
 * Write files into dir so that a failure leaves it as it was: each file is first written
 * completely (and fsynced) under a hidden staging name, and only when all are ready are
 * they renamed over the old ones.
 */
static int write_outputs(const char *dir, const struct out_file *files, size_t n)
{
    char staged[4][PATH_MAX_CLI];
    char final[PATH_MAX_CLI];
    struct wd_diag d;
    size_t done = 0;
    int status = 0;
    if (n > WD_ARRAY_LEN(staged)) {
        return cli_error("internal: too many output files");
    }
    for (; done < n; done++) {
        int len = snprintf(staged[done], sizeof(staged[done]), "%s/.%s.new", dir, files[done].name);
        if (len < 0 || (size_t)len >= sizeof(staged[done])) {
            status = cli_error("%s: path too long", dir);
            goto fail;
        }
        if (wd_file_write_atomic(staged[done], files[done].data->p, files[done].data->len,
                                 files[done].mode, &d)
            < 0) {
            status = cli_error("%s", d.msg);
            goto fail;
        }
    }
    for (size_t i = 0; i < n; i++) {
        (void)snprintf(final, sizeof(final), "%s/%s", dir, files[i].name);
        if (rename(staged[i], final) == -1) {
            status = cli_error("%s: cannot replace: %s", final, strerror(errno));
            for (size_t j = i; j < n; j++) {
                (void)unlink(staged[j]);
            }
            return status;
        }
    }
    return 0;
fail:
    for (size_t j = 0; j < done; j++) {
        (void)unlink(staged[j]);
    }
    return status;
}

static int cert_issue(int argc, char **argv)
{
    static const char prog[] = "warden cert issue";
    const char *ca_dir = NULL, *id_s = NULL, *out = NULL, *ttl_s = NULL, *csr_path = NULL;
    struct cli_list claim_args = {{0}, 0};
    const struct cli_opt opts[] = {
            {"ca", CLI_VALUE, &ca_dir},       {"spiffe-id", CLI_VALUE, &id_s},
            {"out", CLI_VALUE, &out},         {"ttl", CLI_VALUE, &ttl_s},
            {"claim", CLI_LIST, &claim_args}, {"csr", CLI_VALUE, &csr_path},
    };
    char *pos[1];
    size_t npos = 0;
    int rc = cli_parse(prog, issue_usage, opts, WD_ARRAY_LEN(opts), argc, argv, pos, 0, &npos);
    if (rc != CLI_PARSE_OK) {
        return rc == CLI_PARSE_HELP ? 0 : 2;
    }
    if (ca_dir == NULL) {
        return cli_usage_error(prog, "--ca is required");
    }
    if (id_s == NULL) {
        return cli_usage_error(prog, "--spiffe-id is required");
    }
    if (out == NULL || out[0] == '\0') {
        return cli_usage_error(prog, "--out is required");
    }

    /* Everything is checked and made in memory first; the disk is touched last. */
    struct wd_spiffe_id id;
    struct wd_diag d;
    char show[SHOW_MAX + 4];
    shown(id_s, show);
    if (wd_spiffe_id_parse(id_s, strlen(id_s), &id, NULL, &d) < 0) {
        return cli_error("--spiffe-id \"%s\": %s", show, d.msg);
    }
    int64_t ttl = WD_SVID_TTL_DEFAULT;
    if (ttl_s != NULL && cli_duration_secs("ttl", ttl_s, &ttl) != 0) {
        return 1;
    }
    struct wd_claims claims;
    rc = parse_claims(prog, &claim_args, &claims);
    if (rc != 0) {
        return rc;
    }

    int status = 1;
    struct wd_ca *ca = NULL;
    struct wd_csr *csr = NULL;
    struct wd_bundle *bundle = NULL;
    EVP_PKEY *key = NULL;
    X509 *svid = NULL;
    struct wd_buf pem, key_pem, bundle_pem, csr_buf;
    bool made_dir = false;
    wd_buf_init(&pem, WD_PKI_FILE_MAX);
    wd_buf_init(&key_pem, WD_PKI_FILE_MAX);
    wd_buf_init(&bundle_pem, WD_PKI_FILE_MAX);
    wd_buf_init(&csr_buf, WD_PKI_FILE_MAX);

    if (wd_ca_load_dir(ca_dir, &ca, &d) < 0) {
        status = cli_error("%s", d.msg);
        goto out;
    }
    const struct wd_spiffe_td *td = wd_ca_trust_domain(ca);
    if (!wd_spiffe_id_member_of(&id, td)) {
        struct wd_spiffe_td got;
        wd_spiffe_id_td(&id, &got);
        status = cli_error("--spiffe-id \"%s\": trust domain %s differs from the CA's (%s)", show,
                           got.name, td->name);
        goto out;
    }
    EVP_PKEY *pub;
    if (csr_path != NULL) {
        if (wd_file_read(csr_path, WD_PKI_FILE_MAX, &csr_buf, &d) < 0
            || wd_csr_parse(csr_path, csr_buf.p, csr_buf.len, &csr, &d) < 0) {
            status = cli_error("%s", d.msg);
            goto out;
        }
        const struct wd_spiffe_id *cid = wd_csr_spiffe_id(csr);
        if (cid != NULL && !wd_spiffe_id_eq(cid, &id)) {
            status = cli_error("%s: the request names %s, not %s", csr_path, cid->str, show);
            goto out;
        }
        pub = wd_csr_pubkey(csr);
    } else {
        if (wd_key_generate(&key, &d) < 0) {
            status = cli_error("%s", d.msg);
            goto out;
        }
        pub = key;
    }
    if (wd_svid_issue(ca, pub, &id, ttl, claims.present != 0 ? &claims : NULL, &svid, &d) < 0) {
        status = cli_error("cannot issue %s: %s", show, d.msg);
        goto out;
    }
    /* svid.pem: the leaf, then the intermediate (what a TLS peer sends). */
    if (wd_cert_to_pem(svid, &pem) < 0 || wd_cert_to_pem(wd_ca_intermediate(ca), &pem) < 0
        || (key != NULL && wd_key_to_pem(key, &key_pem) < 0) || wd_ca_bundle(ca, &bundle) < 0
        || wd_bundle_to_pem(bundle, &bundle_pem) < 0) {
        status = cli_error("cannot encode the output files");
        goto out;
    }

    struct stat st;
    if (stat(out, &st) == -1) {
        if (errno != ENOENT || mkdir(out, 0700) == -1) {
            status = cli_error("%s: cannot create directory: %s", out, strerror(errno));
            goto out;
        }
        made_dir = true;
    } else if (!S_ISDIR(st.st_mode)) {
        status = cli_error("%s: exists and is not a directory", out);
        goto out;
    }
    const struct out_file files[] = {
            {"svid.key", &key_pem, 0600},
            {"svid.pem", &pem, 0644},
            {"bundle.pem", &bundle_pem, 0644},
    };
    /* With --csr there is no key to write: skip svid.key. */
    size_t first = key != NULL ? 0 : 1;
    status = write_outputs(out, files + first, WD_ARRAY_LEN(files) - first);
    if (status != 0) {
        goto out;
    }
    made_dir = false;
    int64_t na = 0;
    char t[21];
    if (wd_cert_not_after(svid, &na) < 0) {
        na = 0;
    }
    printf("issued %s (until %s) in %s/svid.pem\n", id.str, wd_time_format(na, t), out);
    status = 0;
out:
    if (made_dir) {
        (void)rmdir(out);
    }
    wd_buf_cleanup(&csr_buf);
    wd_buf_cleanup(&bundle_pem);
    wd_buf_cleanup_secret(&key_pem);
    wd_buf_cleanup(&pem);
    X509_free(svid);
    EVP_PKEY_free(key);
    wd_bundle_free(bundle);
    wd_csr_free(csr);
    wd_ca_free(ca);
    return status;
}

/* ---- cert inspect ---- */

static const char inspect_usage[] =
        "usage: warden cert inspect FILE [--json]\n"
        "\n"
        "Show the first certificate of FILE (PEM or DER): SPIFFE ID, serial, validity, issuer,\n"
        "subject, key type, warden claims, and how many more certificates follow.\n"
        "\n"
        "options:\n"
        "  --json   one JSON object instead of text\n";

static int name_text(X509_NAME *nm, struct wd_buf *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int rc = WD_ETLS;
    /* RFC 2253 form, with control characters and non-ASCII escaped by OpenSSL. */
    if (bio != NULL && X509_NAME_print_ex(bio, nm, 0, XN_FLAG_RFC2253) >= 0) {
        char *mem = NULL;
        long len = BIO_get_mem_data(bio, &mem);
        rc = wd_buf_append(out, mem, (size_t)len);
    }
    BIO_free(bio);
    return rc;
}

static int serial_hex(X509 *x, char *out, size_t outsz)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
    int rc = -1;
    if (hex != NULL) {
        size_t i = 0;
        for (; hex[i] != '\0' && i + 1 < outsz; i++) {
            out[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] - 'A' + 'a' : hex[i]);
        }
        out[i] = '\0';
        rc = 0;
    }
    OPENSSL_free(hex);
    BN_free(bn);
    return rc;
}

static int put_field(struct wd_buf *o, bool json, bool *first, const char *key, const char *val)
{
    if (!json) {
        return wd_buf_printf(o, "%-13s %s\n", key, val);
    }
    WD_TRY(wd_buf_printf(o, "%s\"%s\":", *first ? "" : ",", key));
    *first = false;
    return wd_json_append_string(o, val, strlen(val));
}

static int cert_inspect(int argc, char **argv)
{
    static const char prog[] = "warden cert inspect";
    bool json = false;
    const struct cli_opt opts[] = {{"json", CLI_FLAG, &json}};
    char *pos[1];
    size_t npos = 0;
    int rc = cli_parse(prog, inspect_usage, opts, WD_ARRAY_LEN(opts), argc, argv, pos, 1, &npos);
    if (rc != CLI_PARSE_OK) {
        return rc == CLI_PARSE_HELP ? 0 : 2;
    }
    if (npos != 1) {
        return cli_usage_error(prog, "FILE is required");
    }
    const char *file = pos[0];
    STACK_OF(X509) *sk = NULL;
    struct wd_diag d;
    if (wd_certs_load(file, &sk, &d) < 0) {
        return cli_error("%s", d.msg);
    }
    X509 *x = sk_X509_value(sk, 0);
    int status = 1;
    struct wd_buf o, issuer, subject;
    wd_buf_init(&o, 1 << 20);
    wd_buf_init(&issuer, 1 << 16);
    wd_buf_init(&subject, 1 << 16);

    struct wd_claims claims;
    bool has_claims = false;
    if (wd_cert_claims(x, &has_claims, &claims, &d) < 0) {
        status = cli_error("%s: %s", file, d.msg);
        goto out;
    }
    struct wd_spiffe_id id;
    struct wd_diag id_err;
    bool id_ok = wd_cert_spiffe_id(x, &id, NULL, &id_err) == WD_OK;
    char serial[128] = "", nb_s[21], na_s[21], key[80];
    int64_t nb = 0, na = 0;
    if (serial_hex(x, serial, sizeof(serial)) < 0 || wd_cert_not_before(x, &nb) < 0
        || wd_cert_not_after(x, &na) < 0 || name_text(X509_get_issuer_name(x), &issuer) < 0
        || name_text(X509_get_subject_name(x), &subject) < 0) {
        ERR_clear_error();
        status = cli_error("%s: malformed certificate fields", file);
        goto out;
    }
    wd_key_describe(X509_get0_pubkey(x), key, sizeof(key));
    bool is_ca = (X509_get_extension_flags(x) & EXFLAG_CA) != 0;
    int more = sk_X509_num(sk) - 1;
    bool first = true;

    rc = json ? wd_buf_append_byte(&o, '{') : WD_OK;
    if (rc == WD_OK && json) {
        rc = id_ok ? put_field(&o, true, &first, "spiffe_id", id.str)
                   : (first = false, wd_buf_append_str(&o, "\"spiffe_id\":null"));
        if (rc == WD_OK && !id_ok) {
            rc = put_field(&o, true, &first, "spiffe_id_error", id_err.msg);
        }
    } else if (rc == WD_OK) {
        rc = put_field(&o, false, &first, "spiffe_id:", id_ok ? id.str : id_err.msg);
    }
    if (rc == WD_OK) {
        rc = put_field(&o, json, &first, json ? "serial" : "serial:", serial);
    }
    if (rc == WD_OK) {
        rc = put_field(&o, json, &first,
                       json ? "not_before" : "not_before:", wd_time_format(nb, nb_s));
    }
    if (rc == WD_OK) {
        rc = put_field(&o, json, &first,
                       json ? "not_after" : "not_after:", wd_time_format(na, na_s));
    }
    if (rc == WD_OK) {
        rc = put_field(&o, json, &first, json ? "issuer" : "issuer:", wd_buf_str(&issuer));
    }
    if (rc == WD_OK) {
        rc = put_field(&o, json, &first, json ? "subject" : "subject:", wd_buf_str(&subject));
    }
    if (rc == WD_OK) {
        rc = put_field(&o, json, &first, json ? "key_type" : "key:", key);
    }
    if (rc == WD_OK) {
        rc = json ? wd_buf_printf(&o, ",\"is_ca\":%s,\"more_certificates\":%d,\"claims\":",
                                  is_ca ? "true" : "false", more)
                  : wd_buf_printf(&o, "%-13s %s\n%-13s %d\n", "ca:", is_ca ? "true" : "false",
                                  "more certs:", more);
    }
    if (rc == WD_OK && json) {
        rc = has_claims ? wd_claims_to_json(&claims, &o) : wd_buf_append_str(&o, "null");
        if (rc == WD_OK) {
            rc = wd_buf_append_str(&o, "}\n");
        }
    } else if (rc == WD_OK && has_claims) {
        /* The text form lists each claim on its own line, with the JSON of all of them. */
        rc = wd_buf_printf(&o, "%-13s ", "claims:");
        if (rc == WD_OK) {
            rc = wd_claims_to_json(&claims, &o);
        }
        if (rc == WD_OK) {
            rc = wd_buf_append_byte(&o, '\n');
        }
    } else if (rc == WD_OK) {
        rc = wd_buf_printf(&o, "%-13s none\n", "claims:");
    }
    if (rc < 0) {
        status = cli_error("%s: %s", file, wd_strerror(rc));
        goto out;
    }
    (void)fwrite(o.p, 1, o.len, stdout);
    status = 0;
out:
    wd_buf_cleanup(&subject);
    wd_buf_cleanup(&issuer);
    wd_buf_cleanup(&o);
    wd_certs_free(sk);
    return status;
}

/* ---- cert verify ---- */

static const char verify_usage[] =
        "usage: warden cert verify --bundle FILE [--trust-domain TD] CERT\n"
        "\n"
        "Verify the X.509-SVID in CERT (the leaf, optionally followed by intermediates) against\n"
        "the trust bundle FILE (PEM certificates or SPIFFE bundle JSON, told apart by content)\n"
        "at the current time, with every rule of the X509-SVID specification. Prints\n"
        "'ok SPIFFE-ID' and exits 0, or prints the reason on stderr and exits 1.\n"
        "\n"
        "options:\n"
        "  --bundle FILE       the trust bundle\n"
        "  --trust-domain TD   the bundle's trust domain (default: from the spiffe:// URI of\n"
        "                      its authorities)\n";

static int cert_verify(int argc, char **argv)
{
    static const char prog[] = "warden cert verify";
    const char *bundle_path = NULL, *td_s = NULL;
    const struct cli_opt opts[] = {
            {"bundle", CLI_VALUE, &bundle_path},
            {"trust-domain", CLI_VALUE, &td_s},
    };
    char *pos[1];
    size_t npos = 0;
    int rc = cli_parse(prog, verify_usage, opts, WD_ARRAY_LEN(opts), argc, argv, pos, 1, &npos);
    if (rc != CLI_PARSE_OK) {
        return rc == CLI_PARSE_HELP ? 0 : 2;
    }
    if (bundle_path == NULL) {
        return cli_usage_error(prog, "--bundle is required");
    }
    if (npos != 1) {
        return cli_usage_error(prog, "CERT is required");
    }
    const char *cert_path = pos[0];
    struct wd_diag d;
    struct wd_spiffe_td td;
    if (td_s != NULL && wd_spiffe_td_parse(td_s, strlen(td_s), &td, NULL, &d) < 0) {
        return cli_error("--trust-domain \"%s\": %s", td_s, d.msg);
    }
    int status = 1;
    struct wd_bundle *bundle = NULL;
    STACK_OF(X509) *chain = NULL;
    X509 *leaf = NULL;
    if (wd_bundle_load(bundle_path, td_s != NULL ? &td : NULL, &bundle, &d) < 0) {
        status = cli_error("%s", d.msg);
        goto out;
    }
    if (wd_bundle_trust_domain(bundle) == NULL) {
        status = cli_error("%s: the bundle's trust domain is unknown (no spiffe:// URI SAN in "
                           "its authorities); give --trust-domain",
                           bundle_path);
        goto out;
    }
    if (wd_certs_load(cert_path, &chain, &d) < 0) {
        status = cli_error("%s", d.msg);
        goto out;
    }
    leaf = sk_X509_shift(chain);
    struct wd_svid_info info;
    enum wd_svid_reason why;
    if (wd_svid_verify(bundle, leaf, chain, &info, &why, &d) < 0) {
        status = cli_error("%s: rejected (%s): %s", cert_path, wd_svid_reason_name(why), d.msg);
        goto out;
    }
    printf("ok %s\n", info.id.str);
    status = 0;
out:
    X509_free(leaf);
    wd_certs_free(chain);
    wd_bundle_free(bundle);
    return status;
}

static const struct cli_command cert_commands[] = {
        {"issue", "issue an X.509-SVID with a local CA", cert_issue},
        {"inspect", "show an X.509-SVID (SPIFFE ID, validity, claims)", cert_inspect},
        {"verify", "verify an X.509-SVID chain against a trust bundle", cert_verify},
};

int cli_cmd_cert(int argc, char **argv)
{
    return cli_dispatch("warden cert", cert_commands, WD_ARRAY_LEN(cert_commands), argc, argv);
}
