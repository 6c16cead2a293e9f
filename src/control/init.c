/* `warden-control init`. */
#include "init.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/clock.h"
#include "warden/file.h"
#include "warden/pki.h"
#include "warden/spiffe.h"
#include "warden/svid.h"

#include "config.h"
#include "server.h"

static void remove_depth(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (d != NULL && depth < 8) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            char p[4096];
            (void)snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            struct stat sb;
            if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
                remove_depth(p, depth + 1);
            } else {
                (void)unlink(p);
            }
        }
    }
    if (d != NULL) {
        (void)closedir(d);
    }
    (void)rmdir(dir);
}

void srv_remove_tree(const char *dir)
{
    remove_depth(dir, 0);
}

/* 1: dir exists and is empty; 0: absent; -1: exists with content or not a directory. */
static int dir_state(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return errno == ENOENT ? 0 : -1;
    }
    int st = 1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            st = -1;
            break;
        }
    }
    (void)closedir(d);
    return st;
}

static void path_of(char *out, size_t n, const char *dir, const char *name)
{
    (void)snprintf(out, n, "%.3000s/%.64s", dir, name);
}

static int write_admin(const char *dir, const struct wd_ca *ca, int64_t ttl, struct wd_diag *diag)
{
    EVP_PKEY *key = NULL;
    X509 *leaf = NULL;
    struct wd_buf pem;
    wd_buf_init(&pem, 1 << 20);
    struct wd_spiffe_id id;
    char path[4096];
    int rc;
    WD_CHECK(wd_spiffe_id_make(wd_ca_trust_domain(ca), "/warden/admin", &id, NULL, diag));
    WD_CHECK(wd_key_generate(&key, diag));
    WD_CHECK(wd_svid_issue(ca, key, &id, ttl, NULL, &leaf, diag));
    WD_CHECK(wd_cert_to_pem(leaf, &pem));
    WD_CHECK(wd_cert_to_pem(wd_ca_intermediate(ca), &pem));
    path_of(path, sizeof(path), dir, "admin.pem");
    WD_CHECK(wd_file_write_atomic(path, pem.p, pem.len, 0600, diag));
    path_of(path, sizeof(path), dir, "admin.key");
    WD_CHECK(wd_key_save(path, key, diag));
out:
    EVP_PKEY_free(key);
    X509_free(leaf);
    wd_buf_cleanup(&pem);
    return rc;
}

int srv_init_dir(const char *dir, const char *td_name, const char *store_url, int64_t admin_ttl,
                 struct wd_diag *diag)
{
    struct wd_spiffe_td td;
    struct wd_diag d;
    WD_ENSURE(dir != NULL && td_name != NULL && admin_ttl > 0, WD_EINVAL);
    if (strlen(dir) > 3000) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "--dir: path too long");
    }
    if (wd_spiffe_td_parse(td_name, strlen(td_name), &td, NULL, &d) != WD_OK) {
        return wd_diag_set(diag, WD_ECONFIG, NULL, 0, 0, "--trust-domain: %s", d.msg);
    }
    int st = dir_state(dir);
    if (st < 0) {
        return wd_diag_set(diag, WD_EEXIST, NULL, 0, 0,
                           "%s: exists and is not an empty directory; refusing to overwrite", dir);
    }
    if (st == 0 && mkdir(dir, 0700) == -1) {
        return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "%s: %s", dir, strerror(errno));
    }
    if (st == 1 && chmod(dir, 0700) == -1) {
        return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "%s: %s", dir, strerror(errno));
    }
    struct wd_ca *ca = NULL;
    struct srv *s = NULL;
    struct srv_config cfg;
    struct wd_buf b;
    char ca_dir[4096], path[4096];
    srv_config_init(&cfg);
    wd_buf_init(&b, 1 << 20);
    int rc;
    path_of(ca_dir, sizeof(ca_dir), dir, "ca");
    WD_CHECK(wd_ca_init_dir(ca_dir, &td, WD_CA_ROOT_TTL_DEFAULT, WD_CA_TTL_DEFAULT, diag));
    WD_CHECK(wd_ca_load_dir(ca_dir, &ca, diag));
    WD_CHECK(write_admin(dir, ca, admin_ttl, diag));
    path_of(path, sizeof(path), ca_dir, "bundle.pem");
    WD_CHECK(wd_file_read(path, 1 << 20, &b, diag));
    path_of(path, sizeof(path), dir, "bundle.pem");
    WD_CHECK(wd_file_write_atomic(path, b.p, b.len, 0644, diag));
    wd_buf_reset(&b);
    WD_CHECK(wd_buf_append_str(&b, srv_config_default_text()));
    if (store_url != NULL) {
        WD_CHECK(wd_buf_printf(&b, "\nstore: \"%s\"\n", store_url));
    }
    path_of(path, sizeof(path), dir, "control.yaml");
    WD_CHECK(wd_file_write_atomic(path, b.p, b.len, 0600, diag));
    /* the store: opening the server records the trust domain and the root */
    if (store_url != NULL) {
        cfg.store = wd_strdup(store_url);
        if (cfg.store == NULL) {
            rc = WD_ENOMEM;
            goto out;
        }
    }
    WD_CHECK(srv_config_finish(&cfg, dir));
    WD_CHECK(srv_open(&cfg, ca_dir, &s, diag));
    struct wd_store *stp = NULL;
    WD_CHECK(srv_store_get(s, &stp));
    char det[512];
    (void)snprintf(det, sizeof(det), "{\"trust_domain\":\"%s\"}", td.name);
    rc = srv_audit(s, stp, WD_AUDIT_ADMIN, "warden-control init", td.name, "init", det);
    srv_store_put(s, stp, rc != WD_OK);
    if (rc != WD_OK) {
        rc = wd_diag_set(diag, rc, NULL, 0, 0, "store: cannot write the first audit record");
    }
out:
    srv_close(s);
    wd_ca_free(ca);
    srv_config_cleanup(&cfg);
    wd_buf_cleanup(&b);
    if (rc != WD_OK) {
        srv_remove_tree(dir);
        if (st == 1) {
            /* it was an empty directory before: leave it so */
            (void)mkdir(dir, 0700);
        }
    }
    return rc;
}
