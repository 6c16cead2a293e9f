/* `warden-control init`: a new data directory with a CA, an admin SVID and a config. */
#ifndef SRV_INIT_H
#define SRV_INIT_H

#include <stdint.h>

#include "warden/common.h"
#include "warden/err.h"

/*
 * Create data directory dir (mode 0700; it must not exist or be empty) holding:
 *   ca/            the trust domain's CA (wd_ca_init_dir layout)
 *   admin.pem      the admin SVID spiffe://TD/warden/admin, leaf then intermediate (0600)
 *   admin.key      its private key (0600)
 *   bundle.pem     the trust bundle (the root), for clients' --cacert (0644)
 *   control.yaml   the commented default configuration (0600; `store:` set when store_url)
 *   control.db     the SQLite store, unless store_url names another
 *   audit.jsonl    the audit log, starting with the "init" event
 * and record the trust domain and CA root in the store. td is the trust domain name;
 * store_url may be NULL; admin_ttl in seconds (> 0). On failure, whatever this call created
 * is removed again. WD_EEXIST (dir not empty), WD_ECONFIG (bad trust domain), WD_EIO,
 * WD_EDB, WD_ENOMEM, with diag.
 */
WD_MUST_USE int srv_init_dir(const char *dir, const char *td, const char *store_url,
                             int64_t admin_ttl, struct wd_diag *diag);

/* Remove dir and everything in it (best effort; used to clean up after a failed init). */
void srv_remove_tree(const char *dir);

#endif
