/*
 * The CLI's connection to warden-control: where it is, which admin certificate to present,
 * one call with a JSON answer, and the control plane's JSON error bodies as one-line errors.
 */
#include "control_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/bundle.h"
#include "warden/net.h"
#include "warden/pki.h"

#define DEFAULT_CONTROL  "https://127.0.0.1:8443"
#define CONTROL_BODY_MAX (16u << 20)

static const char *first_set(const char *opt, const char *env)
{
    if (opt != NULL) {
        return opt;
    }
    const char *v = getenv(env);
    return (v != NULL && v[0] != '\0') ? v : NULL;
}

/* DIR/NAME into out, or 1 with the error printed. */
static int dir_file(const char *dir, const char *name, char *out, size_t n)
{
    int len = snprintf(out, n, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= n) {
        return cli_error("%s: path too long", dir);
    }
    return 0;
}

int control_conn_open(const struct control_opts *o, struct control_conn *c)
{
    memset(c, 0, sizeof(*c));
    const char *url = first_set(o->control, "WARDEN_CONTROL");
    const char *dir = first_set(o->control_dir, "WARDEN_CONTROL_DIR");
    const char *cert = o->cert, *key = o->key, *bundle_path = o->bundle;
    char cert_buf[4096], key_buf[4096], bundle_buf[4096];
    if (url == NULL) {
        url = DEFAULT_CONTROL;
    }
    if (dir != NULL) {
        if ((cert == NULL && dir_file(dir, "admin.pem", cert_buf, sizeof(cert_buf)) != 0)
            || (key == NULL && dir_file(dir, "admin.key", key_buf, sizeof(key_buf)) != 0)
            || (bundle_path == NULL
                && dir_file(dir, "bundle.pem", bundle_buf, sizeof(bundle_buf)) != 0)) {
            return 1;
        }
        cert = cert != NULL ? cert : cert_buf;
        key = key != NULL ? key : key_buf;
        bundle_path = bundle_path != NULL ? bundle_path : bundle_buf;
    }
    if (bundle_path == NULL) {
        return cli_error("no trust bundle: give --control-dir DIR (the directory warden-control "
                         "init made) or --bundle FILE, or set WARDEN_CONTROL_DIR");
    }
    if ((cert == NULL) != (key == NULL)) {
        return cli_error("--cert and --key go together");
    }
    if (o->need_admin && cert == NULL) {
        return cli_error("this command needs the admin certificate: give --control-dir DIR or "
                         "--cert FILE --key FILE");
    }
    struct wd_diag d;
    if (wd_bundle_load(bundle_path, NULL, &c->bundle, &d) < 0) {
        return cli_error("%s", d.msg);
    }
    struct wd_tls_config tc = {
            .role = WD_TLS_CLIENT,
            .cert_file = cert,
            .key_file = key,
            .bundle = c->bundle,
    };
    if (wd_tls_ctx_new(&tc, &c->tls, &d) < 0) {
        control_conn_close(c);
        return cli_error("%s", d.msg);
    }
    struct wd_http_client_config cc = {.url = url, .tls = c->tls, .max_body = CONTROL_BODY_MAX};
    if (wd_http_client_new(&cc, &c->cli, &d) < 0) {
        control_conn_close(c);
        return cli_error("--control \"%s\": %s", url, d.msg);
    }
    c->url = url;
    return 0;
}

void control_conn_close(struct control_conn *c)
{
    wd_http_client_free(c->cli);
    wd_tls_ctx_unref(c->tls);
    wd_bundle_free(c->bundle);
    memset(c, 0, sizeof(*c));
}

/* The control plane's error body as one line: "denied (nonce): message". */
static int report_error(const struct control_conn *c, const struct wd_http_result *res)
{
    struct wd_doc *doc = NULL;
    const char *err = NULL, *reason = NULL, *msg = NULL;
    if (wd_json_parse("response", res->body.p, res->body.len, NULL, &doc, NULL) == WD_OK) {
        const struct wd_node *root = wd_doc_root(doc);
        const struct wd_node *e = wd_node_get(root, "error");
        const struct wd_node *r = wd_node_get(root, "reason");
        const struct wd_node *m = wd_node_get(root, "message");
        err = (e != NULL && e->type == WD_NODE_STR) ? e->u.s.p : NULL;
        reason = (r != NULL && r->type == WD_NODE_STR) ? r->u.s.p : NULL;
        msg = (m != NULL && m->type == WD_NODE_STR) ? m->u.s.p : NULL;
    }
    int rc;
    if (err != NULL) {
        rc = cli_error("%s: HTTP %d %s%s%s%s%s%s", c->url, res->status, err,
                       reason != NULL ? " (" : "", reason != NULL ? reason : "",
                       reason != NULL ? ")" : "", msg != NULL ? ": " : "", msg != NULL ? msg : "");
    } else {
        rc = cli_error("%s: HTTP %d with no error description", c->url, res->status);
    }
    wd_doc_free(doc);
    return rc;
}

int control_call(struct control_conn *c, const char *method, const char *path,
                 const struct wd_buf *body, struct wd_http_result *res, struct wd_doc **doc)
{
    struct wd_diag d;
    *doc = NULL;
    int rc = wd_http_client_request(c->cli, method, path, body != NULL ? "application/json" : NULL,
                                    body != NULL ? body->p : NULL, body != NULL ? body->len : 0,
                                    res, &d);
    if (rc < 0) {
        return cli_error("%s: %s", c->url, d.msg);
    }
    if (res->status < 200 || res->status > 299) {
        return report_error(c, res);
    }
    if (res->status == 204 || res->body.len == 0) {
        return 0;
    }
    if (wd_json_parse("response", res->body.p, res->body.len, NULL, doc, &d) < 0) {
        return cli_error("%s: malformed answer: %s", c->url, d.msg);
    }
    return 0;
}

const char *control_str(const struct wd_node *obj, const char *key)
{
    const struct wd_node *v = wd_node_get(obj, key);
    return (v != NULL && v->type == WD_NODE_STR) ? v->u.s.p : "-";
}

void control_print_raw(const struct wd_http_result *res)
{
    (void)fwrite(res->body.p != NULL ? (const void *)res->body.p : "", 1, res->body.len, stdout);
    if (res->body.p != NULL && res->body.len > 0 && res->body.p[res->body.len - 1] != '\n') {
        (void)fputc('\n', stdout);
    }
}
