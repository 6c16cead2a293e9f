/* `warden ca`: create a trust domain's certificate authority on local disk. */
#include <stdio.h>
#include <string.h>

#include "warden/clock.h"
#include "warden/pki.h"
#include "warden/spiffe.h"
#include "warden/svid.h"

#include "cli.h"

static const char ca_init_usage[] =
        "usage: warden ca init --trust-domain TD --dir DIR [--root-ttl D] [--ttl D]\n"
        "\n"
        "Create the certificate authority of trust domain TD in DIR: a self-signed root and a\n"
        "signing intermediate (P-256 keys), and the trust bundle. DIR must not exist or be\n"
        "empty; it is created with mode 0700 and is complete or absent, never half-written.\n"
        "\n"
        "options:\n"
        "  --trust-domain TD  the trust domain name, e.g. example.org (lower case, a-z 0-9 . - _)\n"
        "  --dir DIR          where to create the CA\n"
        "  --root-ttl D       lifetime of the root (default 3650d)\n"
        "  --ttl D            lifetime of the intermediate (default 365d; capped by the root)\n"
        "\n"
        "files: root.pem root.key intermediate.pem intermediate.key (keys 0600),\n"
        "       bundle.pem (the root), bundle.json (SPIFFE bundle, sequence 1), ca.json\n";

static int ca_init(int argc, char **argv)
{
    static const char prog[] = "warden ca init";
    const char *td_s = NULL, *dir = NULL, *root_ttl_s = NULL, *ttl_s = NULL;
    const struct cli_opt opts[] = {
            {"trust-domain", CLI_VALUE, &td_s},
            {"dir", CLI_VALUE, &dir},
            {"root-ttl", CLI_VALUE, &root_ttl_s},
            {"ttl", CLI_VALUE, &ttl_s},
    };
    char *pos[1];
    size_t npos = 0;
    int rc = cli_parse(prog, ca_init_usage, opts, WD_ARRAY_LEN(opts), argc, argv, pos, 0, &npos);
    if (rc != CLI_PARSE_OK) {
        return rc == CLI_PARSE_HELP ? 0 : 2;
    }
    if (td_s == NULL) {
        return cli_usage_error(prog, "--trust-domain is required");
    }
    if (dir == NULL || dir[0] == '\0') {
        return cli_usage_error(prog, "--dir is required");
    }
    /* A trust domain name is given bare here; "spiffe://" would suggest an ID is expected. */
    if (strncmp(td_s, "spiffe://", 9) == 0) {
        return cli_error("--trust-domain \"%s\": give the bare trust domain name (e.g. %s), not "
                         "a SPIFFE ID",
                         td_s, td_s + 9);
    }
    struct wd_spiffe_td td;
    struct wd_diag d;
    if (wd_spiffe_td_parse(td_s, strlen(td_s), &td, NULL, &d) < 0) {
        return cli_error("--trust-domain \"%s\": %s", td_s, d.msg);
    }
    int64_t root_ttl = WD_CA_ROOT_TTL_DEFAULT, ttl = WD_CA_TTL_DEFAULT;
    if ((root_ttl_s != NULL && cli_duration_secs("root-ttl", root_ttl_s, &root_ttl) != 0)
        || (ttl_s != NULL && cli_duration_secs("ttl", ttl_s, &ttl) != 0)) {
        return 1;
    }
    if (wd_ca_init_dir(dir, &td, root_ttl, ttl, &d) < 0) {
        return cli_error("%s", d.msg);
    }
    /* Read back what was written: the summary shows the real validity. */
    struct wd_ca *ca = NULL;
    if (wd_ca_load_dir(dir, &ca, &d) < 0) {
        return cli_error("%s", d.msg);
    }
    int64_t root_na = 0, inter_na = 0;
    char t1[21], t2[21];
    if (wd_cert_not_after(wd_ca_root(ca), &root_na) < 0
        || wd_cert_not_after(wd_ca_intermediate(ca), &inter_na) < 0) {
        wd_ca_free(ca);
        return cli_error("%s: unreadable validity in the new CA", dir);
    }
    printf("created the CA of spiffe://%s in %s\n", td.name, dir);
    printf("  root          %s/root.pem (until %s)\n", dir, wd_time_format(root_na, t1));
    printf("  intermediate  %s/intermediate.pem (until %s)\n", dir, wd_time_format(inter_na, t2));
    printf("  trust bundle  %s/bundle.pem, %s/bundle.json\n", dir, dir);
    wd_ca_free(ca);
    return 0;
}

static const struct cli_command ca_commands[] = {
        {"init", "create a trust domain's root and signing intermediate", ca_init},
};

int cli_cmd_ca(int argc, char **argv)
{
    return cli_dispatch("warden ca", ca_commands, WD_ARRAY_LEN(ca_commands), argc, argv);
}
