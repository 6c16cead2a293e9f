/* warden-agent configuration: strict YAML loader (see config.h and docs/agent.md). */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/clock.h"
#include "warden/doc.h"
#include "warden/file.h"
#include "warden/log.h"
#include "warden/names.h"

#define HEARTBEAT_MIN_MS (1000)
#define HEARTBEAT_MAX_MS ((int64_t)86400 * 1000)
#define WATCH_MIN_MS     (1000)
#define WATCH_MAX_MS     ((int64_t)3600 * 1000)
#define RELOAD_MIN_MS    (100)
#define RELOAD_MAX_MS    ((int64_t)600 * 1000)
#define PATH_MAX_LEN     4095

/* A plain file name: no '/', not "." or "..". */
static int get_filename(const struct wd_doc *doc, const struct wd_node *n, const char *what,
                        const char *dflt, char **out, struct wd_diag *diag)
{
    if (n == NULL) {
        *out = wd_strdup(dflt);
        return *out == NULL ? WD_ENOMEM : WD_OK;
    }
    const char *s = n->u.s.p;
    size_t len = n->u.s.len;
    if (len == 0 || len > 255 || memchr(s, '/', len) != NULL || strcmp(s, ".") == 0
        || strcmp(s, "..") == 0) {
        return wd_doc_error(doc, n, diag, "%s must be a plain file name (no '/')", what);
    }
    return wd_doc_str_dup(doc, n, what, out, diag);
}

/* "https://HOST:PORT" with a non-empty host (IPv6 in brackets) and a port 1..65535. */
static bool url_valid(const char *s, size_t n)
{
    static const char scheme[] = "https://";
    if (n <= sizeof(scheme) - 1 || n > 255 || memcmp(s, scheme, sizeof(scheme) - 1) != 0) {
        return false;
    }
    const char *h = s + sizeof(scheme) - 1;
    const char *end = s + n;
    const char *colon;
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (rb == NULL || rb == h + 1 || rb + 1 >= end || rb[1] != ':') {
            return false;
        }
        colon = rb + 1;
    } else {
        colon = NULL;
        for (const char *q = h; q < end; q++) {
            if (*q == ':') {
                colon = q;
            }
            bool ok = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z')
                      || (*q >= '0' && *q <= '9') || *q == '.' || *q == '-' || *q == ':';
            if (!ok) {
                return false;
            }
        }
        if (colon == NULL || colon == h) {
            return false;
        }
    }
    const char *p = colon + 1;
    if (p >= end || end - p > 5) {
        return false;
    }
    unsigned long port = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        port = port * 10 + (unsigned long)(*p - '0');
    }
    return port >= 1 && port <= 65535;
}

static void sink_cleanup(struct agt_sink *s)
{
    wd_free(s->dir);
    wd_free(s->cert);
    wd_free(s->key);
    wd_free(s->bundle);
    if (s->reload_argv != NULL) {
        for (size_t i = 0; i < s->reload_argc; i++) {
            wd_free(s->reload_argv[i]);
        }
        wd_free(s->reload_argv);
    }
    memset(s, 0, sizeof(*s));
}

void agt_config_free(struct agt_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    wd_free(cfg->node);
    wd_free(cfg->control_url);
    wd_free(cfg->trust_bundle);
    wd_free(cfg->state_dir);
    wd_free(cfg->tcti);
    if (cfg->join_token != NULL) {
        wd_free_secret(cfg->join_token, strlen(cfg->join_token));
    }
    wd_free(cfg->join_token_file);
    wd_free(cfg->socket_path);
    for (size_t i = 0; i < cfg->n_sinks; i++) {
        sink_cleanup(&cfg->sinks[i]);
    }
    wd_free(cfg->sinks);
    wd_free(cfg);
}

static int parse_reload(const struct wd_doc *doc, const struct wd_node *n, struct agt_sink *s,
                        struct wd_diag *diag)
{
    if (n->u.arr.n == 0) {
        return wd_doc_error(doc, n, diag, "reload: the command list must not be empty");
    }
    if (n->u.arr.n > AGT_RELOAD_ARGS_MAX) {
        return wd_doc_error(doc, n, diag, "reload: at most %d arguments", AGT_RELOAD_ARGS_MAX);
    }
    for (size_t i = 0; i < n->u.arr.n; i++) {
        const struct wd_node *a = n->u.arr.items[i];
        if (a->type != WD_NODE_STR) {
            return wd_doc_error(doc, a, diag, "reload: expected string, got %s",
                                wd_node_type_name(a->type));
        }
        if (memchr(a->u.s.p, '\0', a->u.s.len) != NULL) {
            return wd_doc_error(doc, a, diag, "reload: argument contains a NUL byte");
        }
    }
    const struct wd_node *a0 = n->u.arr.items[0];
    if (a0->u.s.len == 0 || a0->u.s.p[0] != '/') {
        /* Executed with execve, never through a shell or a PATH search. */
        return wd_doc_error(doc, a0, diag,
                            "reload: the program must be an absolute path (it is run with "
                            "execve, without a shell)");
    }
    s->reload_argv = wd_calloc(n->u.arr.n + 1, sizeof(char *));
    if (s->reload_argv == NULL) {
        return WD_ENOMEM;
    }
    for (size_t i = 0; i < n->u.arr.n; i++) {
        const struct wd_node *a = n->u.arr.items[i];
        s->reload_argv[i] = wd_strndup(a->u.s.p, a->u.s.len);
        if (s->reload_argv[i] == NULL) {
            s->reload_argc = i;
            return WD_ENOMEM;
        }
    }
    s->reload_argc = n->u.arr.n;
    return WD_OK;
}

static int parse_sink(const struct wd_doc *doc, const struct wd_node *n, struct agt_sink *s,
                      struct wd_diag *diag)
{
    const struct wd_node *id = NULL, *dir = NULL, *cert = NULL, *key = NULL, *bundle = NULL,
                         *reload = NULL, *timeout = NULL;
    const struct wd_field fields[] = {
            {"spiffe_id", WD_NODE_STR, WD_FIELD_REQUIRED, &id},
            {"dir", WD_NODE_STR, WD_FIELD_REQUIRED, &dir},
            {"cert", WD_NODE_STR, WD_FIELD_OPTIONAL, &cert},
            {"key", WD_NODE_STR, WD_FIELD_OPTIONAL, &key},
            {"bundle", WD_NODE_STR, WD_FIELD_OPTIONAL, &bundle},
            {"reload", WD_NODE_ARR, WD_FIELD_OPTIONAL, &reload},
            {"reload_timeout", WD_NODE_STR, WD_FIELD_OPTIONAL, &timeout},
    };
    WD_TRY(wd_doc_read_object(doc, n, fields, WD_ARRAY_LEN(fields), diag));
    struct wd_diag sub;
    if (wd_spiffe_id_parse(id->u.s.p, id->u.s.len, &s->id, NULL, &sub) < 0) {
        return wd_doc_error(doc, id, diag, "spiffe_id: %s", sub.msg);
    }
    if (s->id.len == 9 + s->id.td_len) {
        return wd_doc_error(doc, id, diag, "spiffe_id: a workload ID needs a path");
    }
    WD_TRY(wd_doc_path_dup(doc, dir, "dir", PATH_MAX_LEN, &s->dir, diag));
    WD_TRY(get_filename(doc, cert, "cert", "svid.pem", &s->cert, diag));
    WD_TRY(get_filename(doc, key, "key", "svid.key", &s->key, diag));
    WD_TRY(get_filename(doc, bundle, "bundle", "bundle.pem", &s->bundle, diag));
    if (strcmp(s->cert, s->key) == 0 || strcmp(s->cert, s->bundle) == 0
        || strcmp(s->key, s->bundle) == 0) {
        return wd_doc_error(doc, n, diag, "cert, key and bundle must be three different files");
    }
    s->reload_timeout_ms = AGT_RELOAD_TIMEOUT_DEFAULT;
    if (timeout != NULL) {
        WD_TRY(wd_doc_duration_ms(doc, timeout, "reload_timeout", RELOAD_MIN_MS, RELOAD_MAX_MS,
                                  &s->reload_timeout_ms, diag));
    }
    if (reload != NULL) {
        WD_TRY(parse_reload(doc, reload, s, diag));
    }
    return WD_OK;
}

static int parse_sinks(const struct wd_doc *doc, const struct wd_node *n, struct agt_config *cfg,
                       struct wd_diag *diag)
{
    if (n->u.arr.n > AGT_SINKS_MAX) {
        return wd_doc_error(doc, n, diag, "sinks: at most %d", AGT_SINKS_MAX);
    }
    if (n->u.arr.n == 0) {
        return WD_OK;
    }
    cfg->sinks = wd_calloc(n->u.arr.n, sizeof(*cfg->sinks));
    if (cfg->sinks == NULL) {
        return WD_ENOMEM;
    }
    for (size_t i = 0; i < n->u.arr.n; i++) {
        const struct wd_node *item = n->u.arr.items[i];
        cfg->n_sinks = i + 1;
        WD_TRY(parse_sink(doc, item, &cfg->sinks[i], diag));
        for (size_t k = 0; k < i; k++) {
            if (wd_spiffe_id_eq(&cfg->sinks[k].id, &cfg->sinks[i].id)) {
                return wd_doc_error(doc, item, diag, "sinks: a second sink for %s",
                                    cfg->sinks[i].id.str);
            }
        }
    }
    return WD_OK;
}

static int parse_attestation(const struct wd_doc *doc, const struct wd_node *n,
                             struct agt_config *cfg, struct wd_diag *diag)
{
    const struct wd_node *tpm = NULL, *tok = NULL, *tokf = NULL;
    const struct wd_field fields[] = {
            {"tpm", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &tpm},
            {"join_token", WD_NODE_STR, WD_FIELD_OPTIONAL, &tok},
            {"join_token_file", WD_NODE_STR, WD_FIELD_OPTIONAL, &tokf},
    };
    WD_TRY(wd_doc_read_object(doc, n, fields, WD_ARRAY_LEN(fields), diag));
    int methods = (tpm != NULL) + (tok != NULL || tokf != NULL);
    if (methods != 1) {
        return wd_doc_error(doc, n, diag,
                            "attestation: exactly one of 'tpm' and 'join_token'/'join_token_file'"
                            " is required");
    }
    if (tok != NULL && tokf != NULL) {
        return wd_doc_error(doc, tokf, diag,
                            "attestation: 'join_token' and 'join_token_file' exclude each other");
    }
    if (tpm != NULL) {
        const struct wd_node *tcti = NULL, *ek = NULL;
        const struct wd_field tf[] = {
                {"tcti", WD_NODE_STR, WD_FIELD_OPTIONAL, &tcti},
                {"ek", WD_NODE_STR, WD_FIELD_OPTIONAL, &ek},
        };
        WD_TRY(wd_doc_read_object(doc, tpm, tf, WD_ARRAY_LEN(tf), diag));
        cfg->attest = AGT_ATTEST_TPM;
        if (tcti != NULL) {
            WD_TRY(wd_doc_str_dup(doc, tcti, "tcti", &cfg->tcti, diag));
        }
        if (ek != NULL) {
            if (strcmp(ek->u.s.p, "ecc") == 0) {
                cfg->ek_ecc = true;
            } else if (strcmp(ek->u.s.p, "rsa") != 0) {
                return wd_doc_error(doc, ek, diag, "ek: expected \"rsa\" or \"ecc\"");
            }
        }
        return WD_OK;
    }
    cfg->attest = AGT_ATTEST_JOIN_TOKEN;
    if (tok != NULL) {
        /* The token is a secret: the message never quotes it. */
        WD_TRY(wd_doc_str_dup(doc, tok, "join_token", &cfg->join_token, diag));
        return WD_OK;
    }
    return wd_doc_path_dup(doc, tokf, "join_token_file", PATH_MAX_LEN, &cfg->join_token_file, diag);
}

static int parse_workload_api(const struct wd_doc *doc, const struct wd_node *n,
                              struct agt_config *cfg, struct wd_diag *diag)
{
    const struct wd_node *sock = NULL, *mode = NULL, *watch = NULL;
    const struct wd_field fields[] = {
            {"socket", WD_NODE_STR, WD_FIELD_OPTIONAL, &sock},
            {"socket_mode", WD_NODE_STR, WD_FIELD_OPTIONAL, &mode},
            {"watch_max", WD_NODE_STR, WD_FIELD_OPTIONAL, &watch},
    };
    WD_TRY(wd_doc_read_object(doc, n, fields, WD_ARRAY_LEN(fields), diag));
    if (sock != NULL) {
        wd_free(cfg->socket_path);
        cfg->socket_path = NULL;
        /* sockaddr_un.sun_path holds 108 bytes with its NUL. */
        if (sock->u.s.len > 107) {
            return wd_doc_error(doc, sock, diag, "socket: path longer than 107 bytes");
        }
        WD_TRY(wd_doc_path_dup(doc, sock, "socket", PATH_MAX_LEN, &cfg->socket_path, diag));
    }
    if (mode != NULL) {
        unsigned m = 0;
        bool ok = mode->u.s.len >= 1 && mode->u.s.len <= 4;
        for (size_t i = 0; ok && i < mode->u.s.len; i++) {
            char c = mode->u.s.p[i];
            ok = c >= '0' && c <= '7';
            m = m * 8 + (unsigned)(c - '0');
        }
        if (!ok || m > 0777) {
            return wd_doc_error(doc, mode, diag,
                                "socket_mode: expected octal permission bits "
                                "such as \"0660\"");
        }
        cfg->socket_mode = m;
    }
    if (watch != NULL) {
        WD_TRY(wd_doc_duration_ms(doc, watch, "watch_max", WATCH_MIN_MS, WATCH_MAX_MS,
                                  &cfg->watch_max_ms, diag));
    }
    return WD_OK;
}

static int parse_root(const struct wd_doc *doc, struct agt_config *cfg, struct wd_diag *diag)
{
    const struct wd_node *root = wd_doc_root(doc);
    const struct wd_node *node = NULL, *control = NULL, *state = NULL, *att = NULL, *wapi = NULL,
                         *hb = NULL, *sinks = NULL, *level = NULL;
    const struct wd_field fields[] = {
            {"node", WD_NODE_STR, WD_FIELD_REQUIRED, &node},
            {"control", WD_NODE_OBJ, WD_FIELD_REQUIRED, &control},
            {"state_dir", WD_NODE_STR, WD_FIELD_REQUIRED, &state},
            {"attestation", WD_NODE_OBJ, WD_FIELD_REQUIRED, &att},
            {"workload_api", WD_NODE_OBJ, WD_FIELD_OPTIONAL, &wapi},
            {"heartbeat", WD_NODE_STR, WD_FIELD_OPTIONAL, &hb},
            {"log_level", WD_NODE_STR, WD_FIELD_OPTIONAL, &level},
            {"sinks", WD_NODE_ARR, WD_FIELD_OPTIONAL, &sinks},
    };
    WD_TRY(wd_doc_read_object(doc, root, fields, WD_ARRAY_LEN(fields), diag));

    if (!wd_node_name_valid(node->u.s.p, node->u.s.len)) {
        return wd_doc_error(doc, node, diag,
                            "node: 1 to 255 characters of A-Z a-z 0-9 '.' '_' '-' are required");
    }
    WD_TRY(wd_doc_str_dup(doc, node, "node", &cfg->node, diag));

    const struct wd_node *url = NULL, *bundle = NULL;
    const struct wd_field cf[] = {
            {"url", WD_NODE_STR, WD_FIELD_REQUIRED, &url},
            {"trust_bundle", WD_NODE_STR, WD_FIELD_REQUIRED, &bundle},
    };
    WD_TRY(wd_doc_read_object(doc, control, cf, WD_ARRAY_LEN(cf), diag));
    if (!url_valid(url->u.s.p, url->u.s.len)) {
        return wd_doc_error(doc, url, diag,
                            "url: expected https://HOST:PORT (e.g. https://127.0.0.1:8443)");
    }
    WD_TRY(wd_doc_str_dup(doc, url, "url", &cfg->control_url, diag));
    WD_TRY(wd_doc_path_dup(doc, bundle, "trust_bundle", PATH_MAX_LEN, &cfg->trust_bundle, diag));
    WD_TRY(wd_doc_path_dup(doc, state, "state_dir", PATH_MAX_LEN, &cfg->state_dir, diag));
    WD_TRY(parse_attestation(doc, att, cfg, diag));

    cfg->socket_path = wd_strdup(AGT_SOCKET_DEFAULT);
    if (cfg->socket_path == NULL) {
        return WD_ENOMEM;
    }
    cfg->socket_mode = 0666;
    cfg->watch_max_ms = AGT_WATCH_MAX_DEFAULT_MS;
    if (wapi != NULL) {
        WD_TRY(parse_workload_api(doc, wapi, cfg, diag));
    }
    if (hb != NULL) {
        WD_TRY(wd_doc_duration_ms(doc, hb, "heartbeat", HEARTBEAT_MIN_MS, HEARTBEAT_MAX_MS,
                                  &cfg->heartbeat_ms, diag));
    }
    cfg->log_level = WD_LOG_INFO;
    if (level != NULL) {
        int lv = memchr(level->u.s.p, '\0', level->u.s.len) != NULL
                         ? -1
                         : wd_log_level_parse(level->u.s.p);
        if (lv < 0) {
            return wd_doc_error(doc, level, diag,
                                "log_level: expected err, warn, notice, info or debug");
        }
        cfg->log_level = lv;
    }
    if (sinks != NULL) {
        WD_TRY(parse_sinks(doc, sinks, cfg, diag));
    }
    return WD_OK;
}

int agt_config_parse(const char *file, const void *p, size_t n, struct agt_config **out,
                     struct wd_diag *diag)
{
    struct wd_doc *doc = NULL;
    struct agt_config *cfg = NULL;
    int rc;
    *out = NULL;
    const struct wd_doc_limits lim = {
            .max_bytes = AGT_CONFIG_FILE_MAX, .max_depth = 16, .max_nodes = 100000};
    WD_CHECK(wd_yaml_parse(file, p, n, &lim, &doc, diag));
    cfg = wd_calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    WD_CHECK(parse_root(doc, cfg, diag));
    *out = cfg;
    cfg = NULL;
    rc = WD_OK;
out:
    if (rc == WD_ENOMEM) {
        (void)wd_diag_set(diag, WD_ENOMEM, file, 0, 0, "out of memory");
    }
    agt_config_free(cfg);
    wd_doc_free(doc);
    return rc;
}

int agt_config_load(const char *path, struct agt_config **out, struct wd_diag *diag)
{
    struct wd_buf b;
    int rc;
    *out = NULL;
    wd_buf_init(&b, AGT_CONFIG_FILE_MAX);
    WD_CHECK(wd_file_read(path, AGT_CONFIG_FILE_MAX, &b, diag));
    WD_CHECK(agt_config_parse(path, b.p, b.len, out, diag));
out:
    /* The file may hold a join token. */
    wd_buf_cleanup_secret(&b);
    return rc;
}
