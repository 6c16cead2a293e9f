/*
 * `warden svid fetch`: ask the local warden-agent's Workload API (docs/agent.md) for the
 * calling process's SVIDs and write them to files, for scripts and programs that cannot
 * call the API themselves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warden/doc.h"
#include "warden/file.h"
#include "warden/net.h"

#include "cli.h"

#define DEFAULT_SOCKET  "/run/warden/agent.sock"
#define WAPI_ANSWER_MAX (4u << 20)

static const char fetch_usage[] =
        "usage: warden svid fetch [--socket PATH] --out DIR\n"
        "\n"
        "Fetch this process's X.509-SVIDs from the node's warden-agent and write, for the\n"
        "N-th SVID (N = 0, 1, ...): DIR/svid.N.pem (the chain, leaf first), DIR/svid.N.key\n"
        "(its private key, mode 0600) and DIR/bundle.N.pem (the trust bundle). Files are\n"
        "replaced atomically. Prints one line per SVID: its SPIFFE ID and expiry.\n"
        "\n"
        "The agent decides which SVIDs this process gets from its uid, gid and executable:\n"
        "run this command as the workload's user.\n"
        "\n"
        "options:\n"
        "  --socket PATH   the Workload API socket (default $WARDEN_AGENT_SOCKET, else\n"
        "                  " DEFAULT_SOCKET ")\n"
        "  --out DIR       where to write the files (must exist)\n";

/* A string member, or NULL with an error printed naming it. */
static const char *need_str(const struct wd_node *obj, const char *key, size_t i)
{
    const struct wd_node *v = wd_node_get(obj, key);
    if (v == NULL || v->type != WD_NODE_STR || v->u.s.len == 0) {
        (void)cli_error("the agent's answer has no \"%s\" for SVID %zu", key, i);
        return NULL;
    }
    return v->u.s.p;
}

static int write_file(const char *dir, const char *name, size_t i, const char *ext,
                      const char *text, mode_t mode)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s.%zu.%s", dir, name, i, ext);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        return cli_error("--out \"%s\": path too long", dir);
    }
    struct wd_diag d;
    if (wd_file_write_atomic(path, text, strlen(text), mode, &d) < 0) {
        return cli_error("%s", d.msg);
    }
    return 0;
}

static int write_svids(const struct wd_node *root, const char *dir)
{
    const struct wd_node *svids = wd_node_get(root, "svids");
    if (svids == NULL || svids->type != WD_NODE_ARR) {
        return cli_error("the agent's answer has no \"svids\" list");
    }
    if (svids->u.arr.n == 0) {
        return cli_error("the agent has no SVID for this process");
    }
    for (size_t i = 0; i < svids->u.arr.n; i++) {
        const struct wd_node *s = svids->u.arr.items[i];
        const char *id = need_str(s, "spiffe_id", i), *chain = need_str(s, "svid_pem", i),
                   *key = need_str(s, "key_pem", i), *bundle = need_str(s, "bundle_pem", i),
                   *exp = need_str(s, "expires_at", i);
        if (id == NULL || chain == NULL || key == NULL || bundle == NULL || exp == NULL) {
            return 1;
        }
        if (write_file(dir, "svid", i, "key", key, 0600) != 0
            || write_file(dir, "svid", i, "pem", chain, 0644) != 0
            || write_file(dir, "bundle", i, "pem", bundle, 0644) != 0) {
            return 1;
        }
        printf("%zu %s (until %s)\n", i, id, exp);
    }
    return 0;
}

/* The agent's error answer as one line. */
static int report(const struct wd_http_result *res, const struct wd_doc *doc)
{
    const struct wd_node *root = doc != NULL ? wd_doc_root(doc) : NULL;
    const struct wd_node *r = wd_node_get(root, "reason");
    const struct wd_node *m = wd_node_get(root, "message");
    return cli_error("the agent answered HTTP %d%s%s%s%s", res->status,
                     r != NULL && r->type == WD_NODE_STR ? " " : "",
                     r != NULL && r->type == WD_NODE_STR ? r->u.s.p : "",
                     m != NULL && m->type == WD_NODE_STR ? ": " : "",
                     m != NULL && m->type == WD_NODE_STR ? m->u.s.p : "");
}

static int svid_fetch(int argc, char **argv)
{
    static const char prog[] = "warden svid fetch";
    const char *sock = NULL, *out = NULL;
    const struct cli_opt opts[] = {
            {"socket", CLI_VALUE, &sock},
            {"out", CLI_VALUE, &out},
    };
    char *pos[1];
    size_t npos = 0;
    int rc = cli_parse(prog, fetch_usage, opts, WD_ARRAY_LEN(opts), argc, argv, pos, 0, &npos);
    if (rc != CLI_PARSE_OK) {
        return rc == CLI_PARSE_HELP ? 0 : 2;
    }
    if (out == NULL || out[0] == '\0') {
        return cli_usage_error(prog, "--out is required");
    }
    if (sock == NULL) {
        const char *env = getenv("WARDEN_AGENT_SOCKET");
        sock = (env != NULL && env[0] != '\0') ? env : DEFAULT_SOCKET;
    }
    char url[WD_NET_ADDR_MAX + 8];
    int n = snprintf(url, sizeof(url), "unix:%s", sock);
    if (n < 0 || (size_t)n >= sizeof(url)) {
        return cli_error("--socket \"%s\": path too long", sock);
    }
    struct wd_http_client_config cc = {.url = url, .max_body = WAPI_ANSWER_MAX};
    struct wd_http_client *cli = NULL;
    struct wd_diag d;
    if (wd_http_client_new(&cc, &cli, &d) < 0) {
        return cli_error("--socket \"%s\": %s", sock, d.msg);
    }
    struct wd_http_result res;
    memset(&res, 0, sizeof(res));
    struct wd_doc *doc = NULL;
    if (wd_http_client_request(cli, "GET", "/v1/svid", NULL, NULL, 0, &res, &d) < 0) {
        rc = cli_error("%s: %s", sock, d.msg);
    } else if (wd_json_parse("answer", res.body.p, res.body.len, NULL, &doc, &d) < 0) {
        rc = res.status == 200 ? cli_error("the agent's answer: %s", d.msg) : report(&res, NULL);
    } else if (res.status != 200) {
        rc = report(&res, doc);
    } else {
        rc = write_svids(wd_doc_root(doc), out);
    }
    wd_doc_free(doc);
    /* The answer holds private keys: wipe it before it goes back to the allocator. */
    wd_buf_cleanup_secret(&res.body);
    wd_http_result_cleanup(&res);
    wd_http_client_free(cli);
    return rc;
}

static const struct cli_command svid_commands[] = {
        {"fetch", "write this process's SVIDs from the local agent to files", svid_fetch},
};

int cli_cmd_svid(int argc, char **argv)
{
    return cli_dispatch("warden svid", svid_commands, WD_ARRAY_LEN(svid_commands), argc, argv);
}
