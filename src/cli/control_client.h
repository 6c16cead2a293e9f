/* The CLI's client side of warden-control's REST API (docs/api.md). */
#ifndef CLI_CONTROL_CLIENT_H
#define CLI_CONTROL_CLIENT_H

#include <stdbool.h>

#include "warden/doc.h"
#include "warden/net.h"

#include "cli.h"

/* Where the control plane is and how to authenticate; NULL fields take env/defaults. */
struct control_opts {
    const char *control;     /* --control URL, else $WARDEN_CONTROL, else https://127.0.0.1:8443 */
    const char *control_dir; /* --control-dir DIR, else $WARDEN_CONTROL_DIR: admin.pem/.key,
                                bundle.pem */
    const char *cert, *key;  /* --cert/--key override the directory's admin.pem/admin.key */
    const char *bundle;      /* --bundle overrides the directory's bundle.pem */
    bool need_admin;         /* refuse to start without a client certificate */
};

/* The control-plane options every command takes, for its option table and usage text. */
#define CONTROL_OPTS(o)                                                                 \
    {"control", CLI_VALUE, &(o).control}, {"control-dir", CLI_VALUE, &(o).control_dir}, \
            {"cert", CLI_VALUE, &(o).cert}, {"key", CLI_VALUE, &(o).key},               \
    {                                                                                   \
        "bundle", CLI_VALUE, &(o).bundle                                                \
    }
#define CONTROL_USAGE                                                                \
    "connection:\n"                                                                  \
    "  --control URL      warden-control's address (default $WARDEN_CONTROL, else\n" \
    "                     https://127.0.0.1:8443)\n"                                 \
    "  --control-dir DIR  the directory `warden-control init` made (default\n"       \
    "                     $WARDEN_CONTROL_DIR): admin.pem, admin.key, bundle.pem\n"  \
    "  --cert FILE --key FILE   the admin client certificate and key instead\n"      \
    "  --bundle FILE      the trust bundle (PEM) instead\n"

struct control_conn {
    const char *url;
    struct wd_bundle *bundle;
    struct wd_tls_ctx *tls;
    struct wd_http_client *cli;
};

/* Connect-side setup (no I/O yet). 0, or 1 with the error printed. */
int control_conn_open(const struct control_opts *o, struct control_conn *c);
void control_conn_close(struct control_conn *c);

/*
 * One call. body (may be NULL) is JSON. On a 2xx answer returns 0 with *doc the parsed JSON
 * body (NULL for an empty body; owned: wd_doc_free); otherwise prints the error (the
 * control plane's error/reason/message, or the transport error) and returns 1. res holds
 * the raw answer either way (the caller cleans it up).
 */
int control_call(struct control_conn *c, const char *method, const char *path,
                 const struct wd_buf *body, struct wd_http_result *res, struct wd_doc **doc);

/* A string member of obj, or "-" when absent or not a string. Borrowed. */
const char *control_str(const struct wd_node *obj, const char *key);
/* Print the raw answer body on stdout with a final newline (for --json). */
void control_print_raw(const struct wd_http_result *res);

#endif
