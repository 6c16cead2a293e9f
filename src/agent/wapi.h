/*
 * The Workload API: HTTP/1.1 + JSON on the agent's unix socket (docs/agent.md has the
 * reference). The handler identifies the caller from SO_PEERCRED (pid, uid, gid) plus
 * /proc (executable path and SHA-256, with the pid-reuse guard of workload.h), and answers
 * with the SVIDs of every entry whose selectors all match it.
 */
#ifndef AGT_WAPI_H
#define AGT_WAPI_H

#include <stdint.h>

#include "warden/common.h"
#include "warden/net.h"

#include "store.h"
#include "workload.h"

struct agt_wapi {
    struct agt_store *store;       /* borrowed */
    struct agt_digest_cache cache; /* owned */
    int64_t watch_max_ms;          /* bound on one watch */
};

/* Set up w for store (borrowed). WD_EIO when the cache mutex cannot be made. */
WD_MUST_USE int agt_wapi_init(struct agt_wapi *w, struct agt_store *store, int64_t watch_max_ms);
void agt_wapi_cleanup(struct agt_wapi *w);

/*
 * The wd_http_handler for the Workload API (arg is a struct agt_wapi *). Routes:
 *   GET /v1/svid            200 with the caller's SVIDs; 403 when no entry matches the
 *                           caller or it cannot be identified; 503 when entries match but
 *                           no SVID is ready yet
 *   GET /v1/svid?watch=V    blocks until the answer's version differs from V (at most
 *                           watch_max_ms), then 200 (even with an empty list) or 403
 *   GET /healthz            200 {"status":"ok"}
 * Anything else: 404 or 405. Always returns WD_OK unless out of memory.
 */
int agt_wapi_handle(void *arg, const struct wd_http_req *req, struct wd_http_resp *resp);

#endif
