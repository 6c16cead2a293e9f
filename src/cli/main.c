/* warden: the command-line client. Dispatches to one handler per command group. */
#include <stdio.h>
#include <string.h>

#include "warden/log.h"

#include "cli.h"

static const struct cli_command groups[] = {
        {"attest", "verify TEE attestation evidence offline", cli_cmd_attest},
        {"ca", "create a trust domain's certificate authority", cli_cmd_ca},
        {"cert", "issue, inspect and verify X.509-SVIDs", cli_cmd_cert},
        {"entry", "create, list and delete registration entries", cli_cmd_entry},
        {"node", "list, show and revoke enrolled nodes", cli_cmd_node},
        {"policy", "check, evaluate and format Cedar policies", cli_cmd_policy},
        {"svid", "fetch this process's SVIDs from the local agent", cli_cmd_svid},
        {"token", "make join tokens for nodes without a TPM", cli_cmd_token},
        {"version", "print the version", cli_cmd_version},
};

int main(int argc, char **argv)
{
    wd_log_set_ident("warden");
    return cli_dispatch("warden", groups, WD_ARRAY_LEN(groups), argc - 1, argv + 1);
}
