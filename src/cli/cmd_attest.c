/*
 * `warden attest verify`: verify TEE evidence offline against the vendor roots built into
 * warden and print the verified claims, or the exact reason it was refused. Exit status 0
 * only when the evidence verified. One verifier per evidence type (--type); see
 * docs/attestation.md for every check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/clock.h"
#include "warden/codec.h"
#include "warden/doc.h"
#include "warden/err.h"
#include "warden/file.h"
#include "warden/sgx.h"
#include "warden/snp.h"

#include "cli.h"

static const char verify_usage[] =
        "usage: warden attest verify --type snp --report FILE --vcek FILE [--chain FILE]\n"
        "                            [--at TIME] [--measurement HEX]... [--report-data HEX]\n"
        "                            [--min-tcb SPEC] [--vmpl N] [--product NAME]\n"
        "                            [--allow-debug] [--json]\n"
        "       warden attest verify --type sgx --quote FILE [--tcb-info FILE]\n"
        "                            [--qe-identity FILE] [--signing-chain FILE] [--crl FILE]...\n"
        "                            [--at TIME] [--mrenclave HEX]... [--mrsigner HEX\n"
        "                            --isvprodid N --min-isvsvn N] [--report-data HEX]\n"
        "                            [--allow-debug] [--accept-tcb STATUS,...] [--json]\n"
        "\n"
        "Verify an AMD SEV-SNP attestation report: its signature with the VCEK or VLEK, the\n"
        "certificate's chain to AMD's root for its product line (built in), the TCB and chip\n"
        "binding, and the policy given by the options. Prints the verified claims, or the\n"
        "reason for refusal; exit status 0 only when verified.\n"
        "\n"
        "options:\n"
        "  --type snp            the evidence type\n"
        "  --report FILE         the report: 1184 raw bytes or their hex text\n"
        "  --vcek FILE           the VCEK or VLEK certificate (DER or PEM)\n"
        "  --chain FILE          extra intermediates (ASK/ASVK, PEM); roots are never taken\n"
        "                        from it\n"
        "  --at TIME             verify as of TIME (RFC 3339 or Unix seconds), for evidence\n"
        "                        whose certificates have expired since\n"
        "  --measurement HEX     an allowed MEASUREMENT (96 hex digits); repeatable; without\n"
        "                        it any measurement is accepted (and printed)\n"
        "  --report-data HEX     the expected REPORT_DATA (up to 128 hex digits; shorter\n"
        "                        values are padded with zero bytes to 64)\n"
        "  --min-tcb SPEC        minimum REPORTED_TCB, e.g. bl=3,tee=0,snp=8,ucode=115[,fmc=0]\n"
        "  --vmpl N              the required VMPL (0..3)\n"
        "  --product NAME        the required product line: milan, genoa or turin\n"
        "  --allow-debug         accept a guest whose policy allows debugging\n"
        "  --json                one JSON object instead of text\n"
        "\n"
        "With --type sgx, verify an Intel SGX DCAP quote (version 3): the PCK chain to the\n"
        "Intel SGX Root CA (built in), the QE report signature, the attestation key binding,\n"
        "the ISV report signature, the quoting enclave's identity, the collateral given, and\n"
        "the policy given by the options.\n"
        "\n"
        "sgx options:\n"
        "  --type sgx            the evidence type\n"
        "  --quote FILE          the quote (raw bytes)\n"
        "  --tcb-info FILE       TCB info JSON (Intel PCS, v2 or v3); needs --signing-chain\n"
        "  --qe-identity FILE    QE identity JSON (Intel PCS, v2); needs --signing-chain\n"
        "  --signing-chain FILE  the TCB Signing certificate (PEM or DER) of the collateral\n"
        "  --crl FILE            a CRL (PEM or DER) of the PCK chain; repeatable (at most 8)\n"
        "  --at TIME             verify as of TIME (RFC 3339 or Unix seconds)\n"
        "  --mrenclave HEX       an allowed MRENCLAVE (64 hex digits); repeatable\n"
        "  --mrsigner HEX        an allowed MRSIGNER (64 hex digits), with --isvprodid N and\n"
        "                        --min-isvsvn N (0..65535); without --mrenclave and\n"
        "                        --mrsigner any enclave is accepted (and printed)\n"
        "  --report-data HEX     the expected REPORT_DATA (up to 128 hex digits; shorter\n"
        "                        values are padded with zero bytes to 64)\n"
        "  --allow-debug         accept a debug enclave\n"
        "  --accept-tcb LIST     accepted TCB statuses, comma-separated, as Intel spells them\n"
        "                        (UpToDate, SWHardeningNeeded, ConfigurationNeeded,\n"
        "                        ConfigurationAndSWHardeningNeeded, OutOfDate,\n"
        "                        OutOfDateConfigurationNeeded) or Unknown (no TCB info);\n"
        "                        default UpToDate\n"
        "  --json                one JSON object instead of text\n";

struct verify_args {
    const char *type, *report, *vcek, *chain, *at, *report_data, *min_tcb, *vmpl, *product;
    struct cli_list measurements;
    bool allow_debug, json;
    /* --type sgx */
    const char *quote, *tcb_info, *qe_identity, *signing_chain, *mrsigner, *isvprodid, *min_isvsvn,
            *accept_tcb;
    struct cli_list mrenclaves, crls;
};

static int read_input(const char *path, size_t max, struct wd_buf *out)
{
    struct wd_diag d;
    wd_buf_init(out, max);
    if (wd_file_read(path, max, out, &d) < 0) {
        return cli_error("%s", d.msg);
    }
    return 0;
}

/* Decode exactly n bytes of hex (or, with pad, at most n bytes, zero-padded to n). */
static int hex_arg(const char *opt, const char *v, uint8_t *out, size_t n, bool pad)
{
    struct wd_buf b;
    wd_buf_init(&b, n);
    size_t len = strlen(v);
    int rc = wd_hex_decode(&b, v, len);
    bool ok = rc == WD_OK && (pad ? b.len >= 1 && b.len <= n : b.len == n);
    if (ok) {
        memset(out, 0, n);
        memcpy(out, b.p, b.len);
    }
    wd_buf_cleanup(&b);
    if (!ok) {
        return cli_error("--%s \"%s\": not %s%zu bytes of hex", opt, v, pad ? "1 to " : "", n);
    }
    return 0;
}

/* "bl=3,tee=0,snp=8,ucode=115[,fmc=N]": every component but fmc is required. */
static int min_tcb_arg(const char *v, struct wd_snp_tcb *out)
{
    static const char *const names[] = {"bl", "tee", "snp", "ucode", "fmc"};
    uint8_t *fields[] = {&out->bootloader, &out->tee, &out->snp, &out->microcode, &out->fmc};
    bool seen[5] = {false};
    memset(out, 0, sizeof(*out));
    const char *p = v;
    while (*p != '\0') {
        const char *eq = strchr(p, '=');
        size_t k = 0;
        for (; eq != NULL && k < WD_ARRAY_LEN(names); k++) {
            if (strlen(names[k]) == (size_t)(eq - p)
                && strncmp(names[k], p, (size_t)(eq - p)) == 0) {
                break;
            }
        }
        if (eq == NULL || k == WD_ARRAY_LEN(names) || seen[k]) {
            return cli_error("--min-tcb \"%s\": expected bl=N,tee=N,snp=N,ucode=N[,fmc=N]", v);
        }
        char *end = NULL;
        long n = strtol(eq + 1, &end, 10);
        if (end == eq + 1 || n < 0 || n > 255 || (*end != ',' && *end != '\0')) {
            return cli_error("--min-tcb \"%s\": %s must be 0..255", v, names[k]);
        }
        seen[k] = true;
        *fields[k] = (uint8_t)n;
        p = *end == ',' ? end + 1 : end;
    }
    for (size_t k = 0; k < 4; k++) {
        if (!seen[k]) {
            return cli_error("--min-tcb \"%s\": %s is missing", v, names[k]);
        }
    }
    return 0;
}

static int put_str(struct wd_buf *o, bool json, const char *key, const char *val)
{
    if (!json) {
        return wd_buf_printf(o, "  %-18s %s\n", key, val);
    }
    WD_TRY(wd_buf_printf(o, ",\"%s\":", key));
    return wd_json_append_string(o, val, strlen(val));
}

static int put_tcb(struct wd_buf *o, bool json, const char *key, const struct wd_snp_tcb *t,
                   bool fmc)
{
    if (json) {
        return wd_buf_printf(o,
                             ",\"%s\":{\"bootloader\":%u,\"tee\":%u,\"snp\":%u,\"microcode\":%u,"
                             "\"fmc\":%u}",
                             key, t->bootloader, t->tee, t->snp, t->microcode, t->fmc);
    }
    char fmc_s[16] = "";
    if (fmc) {
        (void)snprintf(fmc_s, sizeof(fmc_s), "fmc=%u ", t->fmc);
    }
    return wd_buf_printf(o, "  %-18s %sbl=%u tee=%u snp=%u ucode=%u\n", key, fmc_s, t->bootloader,
                         t->tee, t->snp, t->microcode);
}

static int snp_claims(struct wd_buf *o, bool json, const struct wd_snp_result *res)
{
    const struct wd_snp_report *r = &res->report;
    char hex[2 * WD_SNP_CHIP_ID_SIZE + 1], when[21], pol[96];
    bool turin = res->product == WD_SNP_TURIN;
    if (json) {
        WD_TRY(wd_buf_append_str(o, "{\"verified\":true,\"type\":\"snp\""));
    } else {
        WD_TRY(wd_buf_append_str(o, "verified: AMD SEV-SNP attestation report\n"));
    }
    WD_TRY(put_str(o, json, "product", wd_snp_product_name(res->product)));
    WD_TRY(put_str(o, json, "signer", wd_snp_signer_name(res->signer)));
    WD_TRY(json ? wd_buf_printf(o, ",\"version\":%u", r->version)
                : wd_buf_printf(o, "  %-18s %u\n", "version", r->version));
    WD_TRY(put_str(o, json, "measurement", res->measurement_hex));
    WD_TRY(put_str(o, json, "report_data", res->report_data_hex));
    /* The hex of the other digests, through the same helper the verifier uses. */
    static const char digits[] = "0123456789abcdef";
    const struct {
        const char *key;
        const uint8_t *p;
        size_t n;
    } blobs[] = {
            {"host_data", r->host_data, sizeof(r->host_data)},
            {"id_key_digest", r->id_key_digest, sizeof(r->id_key_digest)},
            {"author_key_digest", r->author_key_digest, sizeof(r->author_key_digest)},
            {"family_id", r->family_id, sizeof(r->family_id)},
            {"image_id", r->image_id, sizeof(r->image_id)},
            {"report_id", r->report_id, sizeof(r->report_id)},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(blobs); i++) {
        for (size_t k = 0; k < blobs[i].n; k++) {
            hex[2 * k] = digits[blobs[i].p[k] >> 4];
            hex[2 * k + 1] = digits[blobs[i].p[k] & 0x0F];
        }
        hex[2 * blobs[i].n] = '\0';
        WD_TRY(put_str(o, json, blobs[i].key, hex));
    }
    WD_TRY(put_str(o, json, "chip_id", res->chip_id_hex));
    if (json) {
        WD_TRY(wd_buf_printf(o,
                             ",\"guest_svn\":%u,\"policy\":\"0x%llx\",\"debug\":%s,"
                             "\"migrate_ma\":%s,\"smt\":%s,\"single_socket\":%s,\"vmpl\":%u,"
                             "\"platform_info\":\"0x%llx\"",
                             r->guest_svn, (unsigned long long)r->policy,
                             res->debug ? "true" : "false", res->migrate_ma ? "true" : "false",
                             res->smt ? "true" : "false", res->single_socket ? "true" : "false",
                             r->vmpl, (unsigned long long)r->platform_info));
    } else {
        (void)snprintf(pol, sizeof(pol), "0x%llx (debug=%s migrate_ma=%s smt=%s single_socket=%s)",
                       (unsigned long long)r->policy, res->debug ? "yes" : "no",
                       res->migrate_ma ? "yes" : "no", res->smt ? "yes" : "no",
                       res->single_socket ? "yes" : "no");
        WD_TRY(wd_buf_printf(o, "  %-18s %u\n", "guest_svn", r->guest_svn));
        WD_TRY(put_str(o, false, "policy", pol));
        WD_TRY(wd_buf_printf(o, "  %-18s %u\n", "vmpl", r->vmpl));
        WD_TRY(wd_buf_printf(o, "  %-18s 0x%llx\n", "platform_info",
                             (unsigned long long)r->platform_info));
    }
    WD_TRY(put_tcb(o, json, "reported_tcb", &r->reported_tcb, turin));
    WD_TRY(put_tcb(o, json, "committed_tcb", &r->committed_tcb, turin));
    WD_TRY(put_tcb(o, json, "launch_tcb", &r->launch_tcb, turin));
    WD_TRY(put_tcb(o, json, "current_tcb", &r->current_tcb, turin));
    WD_TRY(put_str(o, json, "verified_at", wd_time_format(res->verified_at, when)));
    return json ? wd_buf_append_str(o, "}\n") : WD_OK;
}

static int verify_snp(const struct verify_args *a)
{
    if (a->report == NULL || a->vcek == NULL) {
        return cli_usage_error("warden attest verify",
                               "--report and --vcek are required for --type snp");
    }
    if (a->quote != NULL || a->tcb_info != NULL || a->qe_identity != NULL
        || a->signing_chain != NULL || a->crls.n > 0 || a->mrenclaves.n > 0 || a->mrsigner != NULL
        || a->isvprodid != NULL || a->min_isvsvn != NULL || a->accept_tcb != NULL) {
        return cli_usage_error("warden attest verify",
                               "--quote, --tcb-info, --qe-identity, --signing-chain, --crl, "
                               "--mrenclave, --mrsigner, --isvprodid, --min-isvsvn and "
                               "--accept-tcb are for --type sgx");
    }
    struct wd_snp_policy pol;
    uint8_t meas[CLI_LIST_MAX][WD_SNP_MEASUREMENT_SIZE];
    uint8_t rd[WD_SNP_REPORT_DATA_SIZE];
    wd_snp_policy_init(&pol);
    pol.allow_debug = a->allow_debug;
    pol.any_measurement = a->measurements.n == 0;
    for (size_t i = 0; i < a->measurements.n; i++) {
        if (hex_arg("measurement", a->measurements.v[i], meas[i], WD_SNP_MEASUREMENT_SIZE, false)
            != 0) {
            return 1;
        }
    }
    pol.measurements = meas;
    pol.n_measurements = a->measurements.n;
    if (a->report_data != NULL) {
        if (hex_arg("report-data", a->report_data, rd, sizeof(rd), true) != 0) {
            return 1;
        }
        pol.report_data = rd;
    }
    if (a->min_tcb != NULL) {
        if (min_tcb_arg(a->min_tcb, &pol.min_tcb) != 0) {
            return 1;
        }
        pol.check_min_tcb = true;
    }
    if (a->vmpl != NULL) {
        char *end = NULL;
        long v = strtol(a->vmpl, &end, 10);
        if (end == a->vmpl || *end != '\0' || v < 0 || v > 3) {
            return cli_error("--vmpl \"%s\": must be 0..3", a->vmpl);
        }
        pol.vmpl = (int32_t)v;
    }
    if (a->product != NULL) {
        static const enum wd_snp_product lines[] = {WD_SNP_MILAN, WD_SNP_GENOA, WD_SNP_TURIN};
        for (size_t i = 0; i < WD_ARRAY_LEN(lines); i++) {
            if (strcasecmp(a->product, wd_snp_product_name(lines[i])) == 0) {
                pol.product = lines[i];
            }
        }
        if (pol.product == WD_SNP_PRODUCT_UNKNOWN) {
            return cli_error("--product \"%s\": must be milan, genoa or turin", a->product);
        }
    }

    struct wd_buf rep, vcek, chain, o;
    struct wd_diag d;
    struct wd_snp_result *res = wd_calloc(1, sizeof(*res));
    int status = 1;
    wd_buf_init(&rep, 0);
    wd_buf_init(&vcek, 0);
    wd_buf_init(&chain, 0);
    wd_buf_init(&o, 1u << 20);
    if (res == NULL) {
        status = cli_error("out of memory");
        goto out;
    }
    if (read_input(a->report, WD_SNP_INPUT_MAX, &rep) != 0
        || read_input(a->vcek, WD_SNP_INPUT_MAX, &vcek) != 0
        || (a->chain != NULL && read_input(a->chain, WD_SNP_INPUT_MAX, &chain) != 0)) {
        goto out;
    }
    /* An empty --chain file is still a chain (and refused as one), not "no chain". */
    const uint8_t *chain_p = NULL;
    if (a->chain != NULL) {
        chain_p = chain.p != NULL ? chain.p : (const uint8_t *)"";
    }
    int rc = wd_snp_verify(NULL, rep.p, rep.len, vcek.p, vcek.len, chain_p, chain.len, &pol, res,
                           &d);
    if (rc == WD_OK) {
        if (snp_claims(&o, a->json, res) != WD_OK) {
            status = cli_error("out of memory");
            goto out;
        }
        (void)fwrite(o.p, 1, o.len, stdout);
        status = 0;
    } else if (res->reason == WD_SNP_R_INTERNAL) {
        status = cli_error("%s: %s", a->report, d.msg);
    } else if (a->json) {
        int jrc = wd_buf_printf(&o,
                                "{\"verified\":false,\"type\":\"snp\",\"reason\":\"%s\",\"error\":",
                                wd_snp_reason_name(res->reason));
        jrc = jrc == WD_OK ? wd_json_append_string(&o, d.msg, strlen(d.msg)) : jrc;
        jrc = jrc == WD_OK ? wd_buf_append_str(&o, "}\n") : jrc;
        if (jrc == WD_OK) {
            (void)fwrite(o.p, 1, o.len, stdout);
        }
        status = 1;
    } else {
        status = cli_error("%s: refused (%s): %s", a->report, wd_snp_reason_name(res->reason),
                           d.msg);
    }
out:
    wd_free(res);
    wd_buf_cleanup(&rep);
    wd_buf_cleanup(&vcek);
    wd_buf_cleanup(&chain);
    wd_buf_cleanup(&o);
    return status;
}

/* "UpToDate,Unknown,...": Intel's spelling of each status (wd_sgx_tcb_status_name). */
static int accept_tcb_arg(const char *v, unsigned *out)
{
    *out = 0;
    const char *p = v;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        int k = 0;
        for (; k < WD_SGX_TCB_STATUS_COUNT_; k++) {
            const char *name = wd_sgx_tcb_status_name((enum wd_sgx_tcb_status)k);
            if (strlen(name) == n && strncmp(name, p, n) == 0) {
                break;
            }
        }
        if (n == 0 || k == WD_SGX_TCB_STATUS_COUNT_) {
            return cli_error("--accept-tcb \"%s\": \"%.*s\" is not a TCB status (UpToDate, "
                             "OutOfDate, ..., Unknown)",
                             v, (int)n, p);
        }
        *out |= WD_SGX_TCB_BIT(k);
        if (end == NULL) {
            return 0;
        }
        p = end + 1;
    }
}

/* A decimal 0..65535 option. */
static int u16_arg(const char *opt, const char *v, uint16_t *out)
{
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (end == v || *end != '\0' || n < 0 || n > 65535) {
        return cli_error("--%s \"%s\": must be 0..65535", opt, v);
    }
    *out = (uint16_t)n;
    return 0;
}

static int put_bool(struct wd_buf *o, bool json, const char *key, bool v)
{
    return json ? wd_buf_printf(o, ",\"%s\":%s", key, v ? "true" : "false")
                : wd_buf_printf(o, "  %-18s %s\n", key, v ? "yes" : "no");
}

static int put_uint(struct wd_buf *o, bool json, const char *key, unsigned long long v)
{
    return json ? wd_buf_printf(o, ",\"%s\":%llu", key, v)
                : wd_buf_printf(o, "  %-18s %llu\n", key, v);
}

static int put_hex64(struct wd_buf *o, bool json, const char *key, unsigned long long v)
{
    return json ? wd_buf_printf(o, ",\"%s\":\"0x%llx\"", key, v)
                : wd_buf_printf(o, "  %-18s 0x%llx\n", key, v);
}

static int sgx_claims(struct wd_buf *o, bool json, const struct wd_sgx_claims *c)
{
    char when[21], cpusvn[33];
    static const char digits[] = "0123456789abcdef";
    for (size_t k = 0; k < sizeof(c->cpu_svn); k++) {
        cpusvn[2 * k] = digits[c->cpu_svn[k] >> 4];
        cpusvn[2 * k + 1] = digits[c->cpu_svn[k] & 0x0F];
    }
    cpusvn[32] = '\0';
    if (json) {
        WD_TRY(wd_buf_append_str(o, "{\"verified\":true,\"type\":\"sgx\""));
    } else {
        WD_TRY(wd_buf_append_str(o, "verified: Intel SGX DCAP quote\n"));
    }
    WD_TRY(put_uint(o, json, "version", c->quote_version));
    WD_TRY(put_str(o, json, "mrenclave", c->mrenclave_hex));
    WD_TRY(put_str(o, json, "mrsigner", c->mrsigner_hex));
    WD_TRY(put_uint(o, json, "isv_prod_id", c->isv_prod_id));
    WD_TRY(put_uint(o, json, "isv_svn", c->isv_svn));
    WD_TRY(put_bool(o, json, "debug", c->debug));
    WD_TRY(put_hex64(o, json, "attr_flags", c->attr_flags));
    WD_TRY(put_hex64(o, json, "attr_xfrm", c->attr_xfrm));
    WD_TRY(put_hex64(o, json, "misc_select", c->misc_select));
    WD_TRY(put_str(o, json, "report_data", c->report_data_hex));
    WD_TRY(put_str(o, json, "cpu_svn", cpusvn));
    WD_TRY(put_uint(o, json, "qe_svn", c->qe_svn));
    WD_TRY(put_uint(o, json, "pce_svn", c->pce_svn));
    WD_TRY(put_str(o, json, "fmspc", c->fmspc_hex));
    WD_TRY(put_uint(o, json, "pce_id", c->pce_id));
    WD_TRY(put_str(o, json, "tcb_status", wd_sgx_tcb_status_name(c->tcb_status)));
    WD_TRY(put_str(o, json, "platform_tcb_status", wd_sgx_tcb_status_name(c->platform_tcb_status)));
    WD_TRY(put_str(o, json, "qe_tcb_status", wd_sgx_tcb_status_name(c->qe_tcb_status)));
    WD_TRY(put_str(o, json, "advisories", c->advisories));
    WD_TRY(put_bool(o, json, "tcb_info_checked", c->tcb_info_checked));
    WD_TRY(put_bool(o, json, "qe_identity_checked", c->qe_identity_checked));
    WD_TRY(put_bool(o, json, "crls_checked", c->crls_checked));
    WD_TRY(put_str(o, json, "verified_at", wd_time_format(wd_time_now(), when)));
    return json ? wd_buf_append_str(o, "}\n") : WD_OK;
}

/* The refusal detail without the "<reason-name>: " prefix the verifier puts first. */
static const char *sgx_detail(const char *msg, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(msg, name, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ') {
        return msg + n + 2;
    }
    return msg;
}

static int sgx_policy_args(const struct verify_args *a, struct wd_sgx_policy *pol,
                           uint8_t (*mre)[32], struct wd_sgx_signer_rule *rule, uint8_t *rd)
{
    memset(pol, 0, sizeof(*pol));
    pol->allow_debug = a->allow_debug;
    for (size_t i = 0; i < a->mrenclaves.n; i++) {
        if (hex_arg("mrenclave", a->mrenclaves.v[i], mre[i], 32, false) != 0) {
            return 1;
        }
    }
    pol->mrenclaves = mre[0];
    pol->n_mrenclaves = a->mrenclaves.n;
    bool any_signer = a->mrsigner != NULL || a->isvprodid != NULL || a->min_isvsvn != NULL;
    if (any_signer) {
        if (a->mrsigner == NULL || a->isvprodid == NULL || a->min_isvsvn == NULL) {
            return cli_usage_error("warden attest verify",
                                   "--mrsigner, --isvprodid and --min-isvsvn go together");
        }
        if (hex_arg("mrsigner", a->mrsigner, rule->mrsigner, 32, false) != 0
            || u16_arg("isvprodid", a->isvprodid, &rule->isv_prod_id) != 0
            || u16_arg("min-isvsvn", a->min_isvsvn, &rule->min_isv_svn) != 0) {
            return 1;
        }
        pol->signers = rule;
        pol->n_signers = 1;
    }
    if (a->report_data != NULL) {
        if (hex_arg("report-data", a->report_data, rd, 64, true) != 0) {
            return 1;
        }
        pol->report_data = rd;
    }
    if (a->accept_tcb != NULL && accept_tcb_arg(a->accept_tcb, &pol->tcb_accept) != 0) {
        return 1;
    }
    return 0;
}

static int verify_sgx(const struct verify_args *a)
{
    if (a->quote == NULL) {
        return cli_usage_error("warden attest verify", "--quote is required for --type sgx");
    }
    if (a->report != NULL || a->vcek != NULL || a->chain != NULL || a->measurements.n > 0
        || a->min_tcb != NULL || a->vmpl != NULL || a->product != NULL) {
        return cli_usage_error("warden attest verify",
                               "--report, --vcek, --chain, --measurement, --min-tcb, --vmpl and "
                               "--product are for --type snp");
    }
    if (a->crls.n > WD_SGX_CRLS_MAX) {
        return cli_usage_error("warden attest verify", "at most %d --crl files",
                               (int)WD_SGX_CRLS_MAX);
    }
    struct wd_sgx_policy pol;
    uint8_t mre[CLI_LIST_MAX][32];
    struct wd_sgx_signer_rule rule;
    uint8_t rd[64];
    memset(&rule, 0, sizeof(rule));
    int prc = sgx_policy_args(a, &pol, mre, &rule, rd);
    if (prc != 0) {
        return prc;
    }

    struct wd_buf quote, tcb, qeid, sign, o;
    struct wd_buf crl[WD_SGX_CRLS_MAX];
    struct wd_slice crl_s[WD_SGX_CRLS_MAX];
    struct wd_sgx_collateral col;
    struct wd_diag d;
    struct wd_sgx_result *res = wd_calloc(1, sizeof(*res));
    int status = 1;
    memset(&col, 0, sizeof(col));
    wd_buf_init(&quote, 0);
    wd_buf_init(&tcb, 0);
    wd_buf_init(&qeid, 0);
    wd_buf_init(&sign, 0);
    wd_buf_init(&o, 1u << 20);
    for (size_t i = 0; i < WD_SGX_CRLS_MAX; i++) {
        wd_buf_init(&crl[i], 0);
    }
    if (res == NULL) {
        status = cli_error("out of memory");
        goto out;
    }
    if (read_input(a->quote, WD_SGX_QUOTE_MAX, &quote) != 0
        || (a->tcb_info != NULL && read_input(a->tcb_info, WD_SGX_COLLATERAL_MAX, &tcb) != 0)
        || (a->qe_identity != NULL && read_input(a->qe_identity, WD_SGX_COLLATERAL_MAX, &qeid) != 0)
        || (a->signing_chain != NULL
            && read_input(a->signing_chain, WD_SGX_COLLATERAL_MAX, &sign) != 0)) {
        goto out;
    }
    for (size_t i = 0; i < a->crls.n; i++) {
        if (read_input(a->crls.v[i], WD_SGX_COLLATERAL_MAX, &crl[i]) != 0) {
            goto out;
        }
        crl_s[i] = (struct wd_slice){crl[i].p, crl[i].len};
    }
    col.tcb_info = (struct wd_slice){tcb.p, tcb.len};
    col.qe_identity = (struct wd_slice){qeid.p, qeid.len};
    col.signing_chain = (struct wd_slice){sign.p, sign.len};
    col.crls = crl_s;
    col.n_crls = a->crls.n;

    int rc = WD_OK;
    if (pol.n_mrenclaves == 0 && pol.n_signers == 0) {
        /* No measurement rule: any enclave whose evidence verifies is admitted, so learn its
         * MRENCLAVE from an evidence-only pass, then apply the rest of the policy. */
        rc = wd_sgx_verify(quote.p, quote.len, &col, NULL, res, &d);
        if (rc == WD_OK) {
            memcpy(mre[0], res->claims.mrenclave, 32);
            pol.mrenclaves = mre[0];
            pol.n_mrenclaves = 1;
        }
    }
    if (rc == WD_OK) {
        rc = wd_sgx_verify(quote.p, quote.len, &col, &pol, res, &d);
    }
    const char *name = wd_sgx_reason_name(res->reason);
    if (rc == WD_OK) {
        if (sgx_claims(&o, a->json, &res->claims) != WD_OK) {
            status = cli_error("out of memory");
            goto out;
        }
        (void)fwrite(o.p, 1, o.len, stdout);
        status = 0;
    } else if (res->reason == WD_SGX_OK) {
        status = cli_error("%s: %s", a->quote, d.msg);
    } else if (a->json) {
        int jrc = wd_buf_printf(
                &o, "{\"verified\":false,\"type\":\"sgx\",\"reason\":\"%s\",\"error\":", name);
        const char *detail = sgx_detail(d.msg, name);
        jrc = jrc == WD_OK ? wd_json_append_string(&o, detail, strlen(detail)) : jrc;
        jrc = jrc == WD_OK ? wd_buf_append_str(&o, "}\n") : jrc;
        if (jrc == WD_OK) {
            (void)fwrite(o.p, 1, o.len, stdout);
        }
        status = 1;
    } else {
        status = cli_error("%s: refused (%s): %s", a->quote, name, sgx_detail(d.msg, name));
    }
out:
    wd_free(res);
    wd_buf_cleanup(&quote);
    wd_buf_cleanup(&tcb);
    wd_buf_cleanup(&qeid);
    wd_buf_cleanup(&sign);
    wd_buf_cleanup(&o);
    for (size_t i = 0; i < WD_SGX_CRLS_MAX; i++) {
        wd_buf_cleanup(&crl[i]);
    }
    return status;
}

/* The verifiers by --type. */
static const struct {
    const char *type;
    int (*run)(const struct verify_args *a);
} verifiers[] = {
        {"snp", verify_snp},
        {"sgx", verify_sgx},
};

static int attest_verify(int argc, char **argv)
{
    static const char prog[] = "warden attest verify";
    struct verify_args a;
    memset(&a, 0, sizeof(a));
    const struct cli_opt opts[] = {
            {"type", CLI_VALUE, &a.type},
            {"report", CLI_VALUE, &a.report},
            {"vcek", CLI_VALUE, &a.vcek},
            {"chain", CLI_VALUE, &a.chain},
            {"at", CLI_VALUE, &a.at},
            {"measurement", CLI_LIST, &a.measurements},
            {"report-data", CLI_VALUE, &a.report_data},
            {"min-tcb", CLI_VALUE, &a.min_tcb},
            {"vmpl", CLI_VALUE, &a.vmpl},
            {"product", CLI_VALUE, &a.product},
            {"allow-debug", CLI_FLAG, &a.allow_debug},
            {"json", CLI_FLAG, &a.json},
            {"quote", CLI_VALUE, &a.quote},
            {"tcb-info", CLI_VALUE, &a.tcb_info},
            {"qe-identity", CLI_VALUE, &a.qe_identity},
            {"signing-chain", CLI_VALUE, &a.signing_chain},
            {"crl", CLI_LIST, &a.crls},
            {"mrenclave", CLI_LIST, &a.mrenclaves},
            {"mrsigner", CLI_VALUE, &a.mrsigner},
            {"isvprodid", CLI_VALUE, &a.isvprodid},
            {"min-isvsvn", CLI_VALUE, &a.min_isvsvn},
            {"accept-tcb", CLI_VALUE, &a.accept_tcb},
    };
    size_t npos = 0;
    int rc = cli_parse(prog, verify_usage, opts, WD_ARRAY_LEN(opts), argc, argv, NULL, 0, &npos);
    if (rc != CLI_PARSE_OK) {
        return rc == CLI_PARSE_HELP ? 0 : 2;
    }
    if (a.type == NULL) {
        return cli_usage_error(prog, "--type is required");
    }
    size_t t = 0;
    while (t < WD_ARRAY_LEN(verifiers) && strcmp(verifiers[t].type, a.type) != 0) {
        t++;
    }
    if (t == WD_ARRAY_LEN(verifiers)) {
        return cli_usage_error(prog, "--type \"%s\": must be snp or sgx", a.type);
    }
    if (a.at != NULL) {
        int64_t at = 0;
        if (wd_time_parse(a.at, &at) < 0) {
            return cli_error("--at \"%s\": not a time (RFC 3339 or Unix seconds)", a.at);
        }
        wd_clock_pin(at);
    }
    return verifiers[t].run(&a);
}

static const struct cli_command attest_commands[] = {
        {"verify", "verify TEE evidence (AMD SEV-SNP, Intel SGX) and print its claims",
         attest_verify},
};

int cli_cmd_attest(int argc, char **argv)
{
    return cli_dispatch("warden attest", attest_commands, WD_ARRAY_LEN(attest_commands), argc,
                        argv);
}
