/*
 * `warden node|entry|token`: the operator's calls to warden-control (docs/api.md, admin
 * section), authenticated with the admin certificate `warden-control init` made.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warden/codec.h"
#include "warden/doc.h"
#include "warden/names.h"
#include "warden/spiffe.h"

#include "control_client.h"

#define BODY_MAX ((size_t)64 * 1024)

/* Entry ids go into URL paths: the control plane makes them 32 lower-case hex digits. */
static bool entry_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n != 32) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

static int check_node_name(const char *name)
{
    if (!wd_node_name_valid(name, strlen(name))) {
        return cli_error("node name \"%s\": use 1 to 255 of A-Z a-z 0-9 . _ -", name);
    }
    return 0;
}

/* A JSON member "key": "value" (with a leading comma unless first). */
static int json_member(struct wd_buf *b, bool *first, const char *key, const char *val)
{
    if (wd_buf_printf(b, "%s\"%s\":", *first ? "" : ",", key) < 0
        || wd_json_append_string(b, val, strlen(val)) < 0) {
        return cli_error("request too large");
    }
    *first = false;
    return 0;
}

/*
 * Run one admin call and print: --json prints the body as it came; otherwise print_fn (may
 * be NULL) prints a human form of the parsed answer.
 */
typedef void (*print_fn)(const struct wd_node *root);
static int admin_call(const struct control_opts *o, bool json, const char *method, const char *path,
                      const struct wd_buf *body, print_fn print)
{
    struct control_conn c;
    struct control_opts oo = *o;
    oo.need_admin = true;
    if (control_conn_open(&oo, &c) != 0) {
        return 1;
    }
    struct wd_http_result res;
    memset(&res, 0, sizeof(res));
    struct wd_doc *doc = NULL;
    int rc = control_call(&c, method, path, body, &res, &doc);
    if (rc == 0) {
        if (json) {
            control_print_raw(&res);
        } else if (print != NULL && doc != NULL) {
            print(wd_doc_root(doc));
        }
    }
    wd_doc_free(doc);
    wd_http_result_cleanup(&res);
    control_conn_close(&c);
    return rc;
}

/* ---- nodes ---- */

static void print_node_line(const struct wd_node *n)
{
    const struct wd_node *t = wd_node_get(n, "trusted");
    printf("%-24s %-11s %-9s %s\n", control_str(n, "name"), control_str(n, "attestation"),
           (t != NULL && t->type == WD_NODE_BOOL && t->u.b) ? "trusted" : "untrusted",
           control_str(n, "last_attested"));
}

static void print_nodes(const struct wd_node *root)
{
    const struct wd_node *v = wd_node_get(root, "nodes");
    printf("%-24s %-11s %-9s %s\n", "NAME", "ATTESTATION", "STATE", "LAST ATTESTED");
    for (size_t i = 0; v != NULL && v->type == WD_NODE_ARR && i < v->u.arr.n; i++) {
        print_node_line(v->u.arr.items[i]);
    }
}

static void print_node(const struct wd_node *n)
{
    const struct wd_node *t = wd_node_get(n, "trusted");
    printf("name           %s\n", control_str(n, "name"));
    printf("attestation    %s\n", control_str(n, "attestation"));
    printf("trusted        %s\n", (t != NULL && t->type == WD_NODE_BOOL && t->u.b) ? "yes" : "no");
    printf("last attested  %s\n", control_str(n, "last_attested"));
    printf("EK SHA-256     %s\n", control_str(n, "ek_sha256"));
    printf("enrolled       %s\n", control_str(n, "created_at"));
}

static const char node_usage[] =
        "usage: warden node list [--json] [connection options]\n"
        "       warden node show NAME [--json] [connection options]\n"
        "       warden node revoke NAME --reason TEXT [--json] [connection options]\n"
        "\n"
        "List the enrolled nodes, show one, or revoke one: a revoked node is marked untrusted,\n"
        "gets no more SVIDs, and goes on the deny list that proxies enforce.\n"
        "\n"
        "options:\n"
        "  --json             print the control plane's JSON answer as it is\n"
        "  --reason TEXT      why the node is revoked (recorded in the audit log)\n" CONTROL_USAGE;

static int node_cmd(const char *sub, int argc, char **argv)
{
    char prog[32];
    (void)snprintf(prog, sizeof(prog), "warden node %s", sub);
    struct control_opts o = {0};
    bool json = false;
    const char *reason = NULL;
    const struct cli_opt opts[] = {
            CONTROL_OPTS(o),
            {"json", CLI_FLAG, &json},
            {"reason", CLI_VALUE, &reason},
    };
    char *pos[1];
    size_t npos = 0;
    bool list = strcmp(sub, "list") == 0;
    int rc = cli_parse(prog, node_usage, opts, WD_ARRAY_LEN(opts), argc, argv, pos, list ? 0 : 1,
                       &npos);
    if (rc != CLI_PARSE_OK) {
        return rc == CLI_PARSE_HELP ? 0 : 2;
    }
    if (list) {
        return admin_call(&o, json, "GET", "/v1/admin/nodes", NULL, print_nodes);
    }
    if (npos != 1) {
        return cli_usage_error(prog, "give the node's name");
    }
    if (check_node_name(pos[0]) != 0) {
        return 1;
    }
    char path[320];
    if (strcmp(sub, "show") == 0) {
        (void)snprintf(path, sizeof(path), "/v1/admin/nodes/%s", pos[0]);
        return admin_call(&o, json, "GET", path, NULL, print_node);
    }
    if (reason == NULL || reason[0] == '\0') {
        return cli_usage_error(prog, "--reason is required");
    }
    struct wd_buf body;
    wd_buf_init(&body, BODY_MAX);
    bool first = true;
    (void)snprintf(path, sizeof(path), "/v1/admin/nodes/%s/revoke", pos[0]);
    rc = wd_buf_append_str(&body, "{") < 0 || json_member(&body, &first, "reason", reason) != 0
                         || wd_buf_append_str(&body, "}") < 0
                 ? 1
                 : admin_call(&o, json, "POST", path, &body, NULL);
    if (rc == 0 && !json) {
        printf("revoked node %s\n", pos[0]);
    }
    wd_buf_cleanup(&body);
    return rc;
}

static int node_list(int argc, char **argv)
{
    return node_cmd("list", argc, argv);
}
static int node_show(int argc, char **argv)
{
    return node_cmd("show", argc, argv);
}
static int node_revoke(int argc, char **argv)
{
    return node_cmd("revoke", argc, argv);
}

static const struct cli_command node_commands[] = {
        {"list", "list the enrolled nodes", node_list},
        {"show", "show one node", node_show},
        {"revoke", "mark a node untrusted and deny its identities", node_revoke},
};

int cli_cmd_node(int argc, char **argv)
{
    return cli_dispatch("warden node", node_commands, WD_ARRAY_LEN(node_commands), argc, argv);
}

/* ---- registration entries ---- */

static void print_entry_line(const struct wd_node *e)
{
    const struct wd_node *sel = wd_node_get(e, "selectors");
    char sels[512];
    size_t o = 0;
    sels[0] = '\0';
    static const char *const keys[] = {"uid", "gid", "path", "sha256"};
    for (size_t i = 0; i < WD_ARRAY_LEN(keys); i++) {
        const struct wd_node *v = wd_node_get(sel, keys[i]);
        int n = 0;
        if (v != NULL && v->type == WD_NODE_INT) {
            n = snprintf(sels + o, sizeof(sels) - o, "%s%s=%" PRId64, o ? "," : "", keys[i],
                         v->u.i);
        } else if (v != NULL && v->type == WD_NODE_STR) {
            n = snprintf(sels + o, sizeof(sels) - o, "%s%s=%s", o ? "," : "", keys[i], v->u.s.p);
        }
        if (n > 0 && (size_t)n < sizeof(sels) - o) {
            o += (size_t)n;
        }
    }
    printf("%-32s %-16s %-6s %s  %s\n", control_str(e, "id"), control_str(e, "node"),
           control_str(e, "ttl"), control_str(e, "spiffe_id"), sels);
}

static void print_entries(const struct wd_node *root)
{
    const struct wd_node *v = wd_node_get(root, "entries");
    printf("%-32s %-16s %-6s %s  %s\n", "ID", "NODE", "TTL", "SPIFFE ID", "SELECTORS");
    for (size_t i = 0; v != NULL && v->type == WD_NODE_ARR && i < v->u.arr.n; i++) {
        print_entry_line(v->u.arr.items[i]);
    }
}

static void print_entry(const struct wd_node *e)
{
    printf("created entry %s\n", control_str(e, "id"));
    print_entry_line(e);
}

static const char entry_usage[] =
        "usage: warden entry create --spiffe-id ID --node NAME [selectors] [--ttl D] [--json]\n"
        "       warden entry list [--node NAME] [--json]\n"
        "       warden entry delete ID\n"
        "\n"
        "Registration entries say which workload on which node gets which SPIFFE ID. A\n"
        "workload gets the entry's SVID from its node's agent only when every selector given\n"
        "matches it; at least one selector is required.\n"
        "\n"
        "options:\n"
        "  --spiffe-id ID   the workload's SPIFFE ID, in the control plane's trust domain\n"
        "  --node NAME      the node whose agent serves this entry\n"
        "  --uid N          selector: the process's user id\n"
        "  --gid N          selector: the process's group id\n"
        "  --path P         selector: the absolute path of the process's executable\n"
        "  --sha256 HEX     selector: SHA-256 of the executable (64 hex digits)\n"
        "  --ttl D          SVID lifetime (default: the control plane's, 1h)\n"
        "  --json           print the control plane's JSON answer as it is\n" CONTROL_USAGE;

/* A decimal id 0..2^32-2 (uid/gid; (uid_t)-1 means "no change" in the kernel, never an id). */
static int parse_id(const char *opt, const char *s, uint32_t *out)
{
    char *end = NULL;
    if (s[0] < '0' || s[0] > '9') {
        return cli_error("--%s \"%s\": not a number", opt, s);
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || v >= 0xffffffffull) {
        return cli_error("--%s \"%s\": not a number below 4294967295", opt, s);
    }
    *out = (uint32_t)v;
    return 0;
}

static int entry_create_body(struct wd_buf *b, const char *id, const char *node, const char *uid,
                             const char *gid, const char *path, const char *sha, const char *ttl)
{
    bool first = true, sfirst = true;
    uint32_t n = 0;
    if (wd_buf_append_str(b, "{") < 0 || json_member(b, &first, "spiffe_id", id) != 0
        || json_member(b, &first, "node", node) != 0) {
        return 1;
    }
    if (ttl != NULL && json_member(b, &first, "ttl", ttl) != 0) {
        return 1;
    }
    if (wd_buf_append_str(b, ",\"selectors\":{") < 0) {
        return cli_error("request too large");
    }
    if (uid != NULL) {
        if (parse_id("uid", uid, &n) != 0 || wd_buf_printf(b, "\"uid\":%" PRIu32, n) < 0) {
            return 1;
        }
        sfirst = false;
    }
    if (gid != NULL) {
        if (parse_id("gid", gid, &n) != 0
            || wd_buf_printf(b, "%s\"gid\":%" PRIu32, sfirst ? "" : ",", n) < 0) {
            return 1;
        }
        sfirst = false;
    }
    if ((path != NULL && json_member(b, &sfirst, "path", path) != 0)
        || (sha != NULL && json_member(b, &sfirst, "sha256", sha) != 0)) {
        return 1;
    }
    if (wd_buf_append_str(b, "}}") < 0) {
        return cli_error("request too large");
    }
    return 0;
}

static int entry_create(int argc, char **argv)
{
    static const char prog[] = "warden entry create";
    struct control_opts o = {0};
    bool json = false;
    const char *id = NULL, *node = NULL, *uid = NULL, *gid = NULL, *path = NULL, *sha = NULL,
               *ttl = NULL;
    const struct cli_opt opts[] = {
            CONTROL_OPTS(o),
            {"json", CLI_FLAG, &json},
            {"spiffe-id", CLI_VALUE, &id},
            {"node", CLI_VALUE, &node},
            {"uid", CLI_VALUE, &uid},
            {"gid", CLI_VALUE, &gid},
            {"path", CLI_VALUE, &path},
            {"sha256", CLI_VALUE, &sha},
            {"ttl", CLI_VALUE, &ttl},
    };
    char *pos[1];
    size_t npos = 0;
    int rc = cli_parse(prog, entry_usage, opts, WD_ARRAY_LEN(opts), argc, argv, pos, 0, &npos);
    if (rc != CLI_PARSE_OK) {
        return rc == CLI_PARSE_HELP ? 0 : 2;
    }
    if (id == NULL || node == NULL) {
        return cli_usage_error(prog, "--spiffe-id and --node are required");
    }
    if (uid == NULL && gid == NULL && path == NULL && sha == NULL) {
        return cli_usage_error(prog, "give at least one selector (--uid, --gid, --path, --sha256)");
    }
    struct wd_spiffe_id sid;
    struct wd_diag d;
    if (wd_spiffe_id_parse(id, strlen(id), &sid, NULL, &d) < 0) {
        return cli_error("--spiffe-id \"%s\": %s", id, d.msg);
    }
    if (check_node_name(node) != 0) {
        return 1;
    }
    if (path != NULL && path[0] != '/') {
        return cli_error("--path \"%s\": give an absolute path", path);
    }
    if (sha != NULL) {
        struct wd_buf raw;
        wd_buf_init(&raw, 64);
        bool ok = strlen(sha) == 64 && wd_hex_decode(&raw, sha, 64) == WD_OK;
        wd_buf_cleanup(&raw);
        if (!ok) {
            return cli_error("--sha256 \"%s\": give 64 hex digits", sha);
        }
    }
    int64_t secs = 0;
    if (ttl != NULL && cli_duration_secs("ttl", ttl, &secs) != 0) {
        return 1;
    }
    struct wd_buf body;
    wd_buf_init(&body, BODY_MAX);
    rc = entry_create_body(&body, id, node, uid, gid, path, sha, ttl);
    if (rc == 0) {
        rc = admin_call(&o, json, "POST", "/v1/admin/entries", &body, print_entry);
    }
    wd_buf_cleanup(&body);
    return rc;
}

static int entry_list(int argc, char **argv)
{
    static const char prog[] = "warden entry list";
    struct control_opts o = {0};
    bool json = false;
    const char *node = NULL;
    const struct cli_opt opts[] = {
            CONTROL_OPTS(o),
            {"json", CLI_FLAG, &json},
            {"node", CLI_VALUE, &node},
    };
    char *pos[1];
    size_t npos = 0;
    int rc = cli_parse(prog, entry_usage, opts, WD_ARRAY_LEN(opts), argc, argv, pos, 0, &npos);
    if (rc != CLI_PARSE_OK) {
        return rc == CLI_PARSE_HELP ? 0 : 2;
    }
    char path[320] = "/v1/admin/entries";
    if (node != NULL) {
        if (check_node_name(node) != 0) {
            return 1;
        }
        (void)snprintf(path, sizeof(path), "/v1/admin/entries?node=%s", node);
    }
    return admin_call(&o, json, "GET", path, NULL, print_entries);
}

static int entry_delete(int argc, char **argv)
{
    static const char prog[] = "warden entry delete";
    struct control_opts o = {0};
    const struct cli_opt opts[] = {CONTROL_OPTS(o)};
    char *pos[1];
    size_t npos = 0;
    int rc = cli_parse(prog, entry_usage, opts, WD_ARRAY_LEN(opts), argc, argv, pos, 1, &npos);
    if (rc != CLI_PARSE_OK) {
        return rc == CLI_PARSE_HELP ? 0 : 2;
    }
    if (npos != 1) {
        return cli_usage_error(prog, "give the entry's id");
    }
    if (!entry_id_ok(pos[0])) {
        return cli_error("entry id \"%s\": not an entry id", pos[0]);
    }
    char path[128];
    (void)snprintf(path, sizeof(path), "/v1/admin/entries/%s", pos[0]);
    rc = admin_call(&o, false, "DELETE", path, NULL, NULL);
    if (rc == 0) {
        printf("deleted entry %s\n", pos[0]);
    }
    return rc;
}

static const struct cli_command entry_commands[] = {
        {"create", "register a workload: SPIFFE ID, node, selectors", entry_create},
        {"list", "list registration entries", entry_list},
        {"delete", "delete a registration entry", entry_delete},
};

int cli_cmd_entry(int argc, char **argv)
{
    return cli_dispatch("warden entry", entry_commands, WD_ARRAY_LEN(entry_commands), argc, argv);
}

/* ---- join tokens ---- */

static void print_token(const struct wd_node *root)
{
    /* The token alone on stdout, so `$(warden token create ...)` captures it. */
    printf("%s\n", control_str(root, "token"));
    (void)fprintf(stderr, "warden: the token is single use and expires at %s\n",
                  control_str(root, "expires_at"));
}

static const char token_usage[] =
        "usage: warden token create [--node NAME] [--ttl D] [--json] [connection options]\n"
        "\n"
        "Make a single-use join token for enrolling a node without a TPM. The token is printed\n"
        "once (only its hash is stored); pass it to the node's warden-agent.\n"
        "\n"
        "options:\n"
        "  --node NAME   only a node of this name may use the token\n"
        "  --ttl D       how long the token stays usable (default 10m)\n"
        "  --json        print the control plane's JSON answer as it is\n" CONTROL_USAGE;

static int token_create(int argc, char **argv)
{
    static const char prog[] = "warden token create";
    struct control_opts o = {0};
    bool json = false;
    const char *node = NULL, *ttl = NULL;
    const struct cli_opt opts[] = {
            CONTROL_OPTS(o),
            {"json", CLI_FLAG, &json},
            {"node", CLI_VALUE, &node},
            {"ttl", CLI_VALUE, &ttl},
    };
    char *pos[1];
    size_t npos = 0;
    int rc = cli_parse(prog, token_usage, opts, WD_ARRAY_LEN(opts), argc, argv, pos, 0, &npos);
    if (rc != CLI_PARSE_OK) {
        return rc == CLI_PARSE_HELP ? 0 : 2;
    }
    int64_t secs = 0;
    if ((node != NULL && check_node_name(node) != 0)
        || (ttl != NULL && cli_duration_secs("ttl", ttl, &secs) != 0)) {
        return 1;
    }
    struct wd_buf body;
    wd_buf_init(&body, BODY_MAX);
    bool first = true;
    rc = (wd_buf_append_str(&body, "{") < 0
          || (node != NULL && json_member(&body, &first, "node", node) != 0)
          || (ttl != NULL && json_member(&body, &first, "ttl", ttl) != 0)
          || wd_buf_append_str(&body, "}") < 0)
                 ? 1
                 : admin_call(&o, json, "POST", "/v1/admin/tokens", &body, print_token);
    wd_buf_cleanup(&body);
    return rc;
}

static const struct cli_command token_commands[] = {
        {"create", "make a single-use join token", token_create},
};

int cli_cmd_token(int argc, char **argv)
{
    return cli_dispatch("warden token", token_commands, WD_ARRAY_LEN(token_commands), argc, argv);
}
