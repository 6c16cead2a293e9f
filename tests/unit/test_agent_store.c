/*
 * Unit tests for the agent's SVID store (src/agent/store.c) and the Workload API handler
 * (src/agent/wapi.c), driven with a request whose peer is this very process.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/clock.h"
#include "warden/doc.h"
#include "warden/err.h"

#include "../../src/agent/store.h"
#include "../../src/agent/wapi.h"
#include "harness.h"

#define ID_A "0123456789abcdef0123456789abcdef"
#define ID_B "fedcba9876543210fedcba9876543210"

static void entry(struct agt_entry *e, const char *id, const char *spiffe, uid_t uid)
{
    memset(e, 0, sizeof(*e));
    (void)snprintf(e->id, sizeof(e->id), "%s", id);
    int rc = wd_spiffe_id_parse(spiffe, strlen(spiffe), &e->spiffe_id, NULL, NULL);
    WD_BUG_ON(rc != WD_OK);
    e->sel.has_uid = true;
    e->sel.uid = uid;
    e->ttl_ms = 3600000;
}

static void me(struct agt_caller *c, uid_t uid)
{
    memset(c, 0, sizeof(*c));
    c->pid = getpid();
    c->uid = uid;
    c->gid = 0;
    (void)snprintf(c->path, sizeof(c->path), "/usr/bin/x");
}

/* Two entries: A for uid 1000, B for uid 2000. */
static int two_entries(struct agt_store *s)
{
    struct agt_entry v[2];
    entry(&v[0], ID_A, "spiffe://example.org/a", 1000);
    entry(&v[1], ID_B, "spiffe://example.org/b", 2000);
    struct agt_entries e = {v, 2};
    return agt_store_set_entries(s, &e);
}

TEST(due_put_render)
{
    struct agt_store s;
    CHECK_OK(agt_store_init(&s));
    CHECK_OK(two_entries(&s));
    char ids[4][AGT_ENTRY_ID_LEN + 1];
    int64_t ttl[4];
    CHECK_EQ(agt_store_due(&s, 1000, ids, ttl, 4), 2);
    CHECK_STR(ids[0], ID_A);
    CHECK_EQ(ttl[1], 3600000);
    CHECK_EQ(agt_store_next_due(&s), 0);

    int64_t now = wd_time_now();
    CHECK_OK(agt_store_set_bundle(&s, "BUNDLE"));
    CHECK_OK(agt_store_put_svid(&s, ID_A, "CHAIN-A", "KEY-A", now - 10, now + 3600,
                                now * 1000 + 1800000));
    CHECK_ERR(agt_store_put_svid(&s, "00000000000000000000000000000000", "C", "K", 0, 1, 0),
              WD_ENOENT);
    CHECK_EQ(agt_store_due(&s, now * 1000, ids, NULL, 4), 1);
    CHECK_STR(ids[0], ID_B);
    /* After the renewal time A is due again. */
    CHECK_EQ(agt_store_due(&s, now * 1000 + 1800000, ids, NULL, 4), 2);

    struct agt_caller c;
    me(&c, 1000);
    struct wd_buf body;
    wd_buf_init(&body, AGT_WAPI_BODY_MAX);
    size_t m = 9, k = 9;
    char v1[AGT_VERSION_LEN + 1], v2[AGT_VERSION_LEN + 1];
    CHECK_OK(agt_store_render(&s, &c, now, &body, &m, &k, v1));
    CHECK_EQ(m, 1);
    CHECK_EQ(k, 1);
    CHECK_EQ(strlen(v1), AGT_VERSION_LEN);
    struct wd_doc *doc = NULL;
    CHECK_OK(wd_json_parse("r", body.p, body.len, NULL, &doc, NULL));
    const struct wd_node *sv = wd_node_get(wd_doc_root(doc), "svids");
    CHECK(sv != NULL && sv->type == WD_NODE_ARR && sv->u.arr.n == 1);
    const struct wd_node *it = sv->u.arr.items[0];
    CHECK_STR(wd_node_get(it, "spiffe_id")->u.s.p, "spiffe://example.org/a");
    CHECK_STR(wd_node_get(it, "svid_pem")->u.s.p, "CHAIN-A");
    CHECK_STR(wd_node_get(it, "key_pem")->u.s.p, "KEY-A");
    CHECK_STR(wd_node_get(it, "bundle_pem")->u.s.p, "BUNDLE");
    CHECK_STR(wd_node_get(it, "entry_id")->u.s.p, ID_A);
    CHECK(wd_node_get(it, "expires_at") != NULL);
    CHECK_STR(wd_node_get(wd_doc_root(doc), "version")->u.s.p, v1);
    wd_doc_free(doc);

    /* The same content gives the same version; a rotation changes it. */
    wd_buf_reset(&body);
    CHECK_OK(agt_store_render(&s, &c, now, &body, &m, &k, v2));
    CHECK_STR(v1, v2);
    CHECK_OK(agt_store_put_svid(&s, ID_A, "CHAIN-A2", "KEY-A2", now, now + 3600, 0));
    wd_buf_reset(&body);
    CHECK_OK(agt_store_render(&s, &c, now, &body, &m, &k, v2));
    CHECK(strcmp(v1, v2) != 0);

    /* uid 2000 matches B, which has no SVID yet; uid 3000 matches nothing. */
    me(&c, 2000);
    wd_buf_reset(&body);
    CHECK_OK(agt_store_render(&s, &c, now, &body, &m, &k, v2));
    CHECK_EQ(m, 1);
    CHECK_EQ(k, 0);
    me(&c, 3000);
    wd_buf_reset(&body);
    CHECK_OK(agt_store_render(&s, &c, now, &body, &m, &k, v2));
    CHECK_EQ(m, 0);
    CHECK(strstr(wd_buf_str(&body), "\"svids\":[]") != NULL);

    /* An expired SVID is not served. */
    me(&c, 1000);
    wd_buf_reset(&body);
    CHECK_OK(agt_store_render(&s, &c, now + 7200, &body, &m, &k, v2));
    CHECK_EQ(m, 1);
    CHECK_EQ(k, 0);
    wd_buf_cleanup(&body);
    agt_store_cleanup(&s);
}

TEST(entries_reconcile_and_backoff)
{
    struct agt_store s;
    CHECK_OK(agt_store_init(&s));
    CHECK_OK(two_entries(&s));
    CHECK_OK(agt_store_put_svid(&s, ID_A, "C", "K", 0, INT64_MAX / 2000, INT64_MAX / 2));
    CHECK_OK(agt_store_put_svid(&s, ID_B, "C", "K", 0, INT64_MAX / 2000, INT64_MAX / 2));
    char ids[4][AGT_ENTRY_ID_LEN + 1];
    CHECK_EQ(agt_store_due(&s, 1000, ids, NULL, 4), 0);

    /* Same entries again: SVIDs kept. A's SPIFFE ID changes: its SVID is dropped. */
    struct agt_entry v[2];
    entry(&v[0], ID_A, "spiffe://example.org/a2", 1000);
    entry(&v[1], ID_B, "spiffe://example.org/b", 2000);
    struct agt_entries e = {v, 2};
    CHECK_OK(agt_store_set_entries(&s, &e));
    CHECK_EQ(agt_store_due(&s, 1000, ids, NULL, 4), 1);
    CHECK_STR(ids[0], ID_A);
    /* B removed. */
    e.n = 1;
    CHECK_OK(agt_store_set_entries(&s, &e));
    char *c1, *k1, *b1;
    CHECK_ERR(agt_store_get_svid(&s, ID_B, &c1, &k1, &b1), WD_ENOENT);

    /* A failure backs A off until the retry time. */
    CHECK_EQ(agt_store_attempts(&s, ID_A), 0);
    agt_store_failed(&s, ID_A, 5000);
    CHECK_EQ(agt_store_attempts(&s, ID_A), 1);
    CHECK_EQ(agt_store_due(&s, 4999, ids, NULL, 4), 0);
    CHECK_EQ(agt_store_due(&s, 5000, ids, NULL, 4), 1);
    CHECK_EQ(agt_store_next_due(&s), 5000);
    agt_store_failed(&s, ID_A, 9000);
    CHECK_EQ(agt_store_attempts(&s, ID_A), 2);
    /* Success resets the count. */
    CHECK_OK(agt_store_put_svid(&s, ID_A, "C2", "K2", 0, 100, 50000));
    CHECK_EQ(agt_store_attempts(&s, ID_A), 0);
    CHECK(!agt_store_bundle_is(&s, "B"));
    CHECK_OK(agt_store_set_bundle(&s, "B"));
    CHECK(agt_store_bundle_is(&s, "B"));
    CHECK(!agt_store_bundle_is(&s, "BB"));
    CHECK_OK(agt_store_get_svid(&s, ID_A, &c1, &k1, &b1));
    CHECK_STR(c1, "C2");
    CHECK_STR(k1, "K2");
    CHECK_STR(b1, "B");
    wd_free(c1);
    wd_free_secret(k1, strlen(k1));
    wd_free(b1);
    agt_store_cleanup(&s);
}

TEST(alloc_sweep_store)
{
    struct agt_store s;
    CHECK_OK(agt_store_init(&s));
    CHECK_ALLOC_SWEEP(two_entries(&s), (void)0);
    CHECK_ALLOC_SWEEP(agt_store_put_svid(&s, ID_A, "C", "K", 0, INT64_MAX / 2000, 0), (void)0);
    struct agt_caller c;
    me(&c, 1000);
    struct wd_buf body;
    wd_buf_init(&body, AGT_WAPI_BODY_MAX);
    size_t m, k;
    char v[AGT_VERSION_LEN + 1];
    CHECK_ALLOC_SWEEP(agt_store_render(&s, &c, 1, &body, &m, &k, v),
                      (wd_buf_cleanup(&body), wd_buf_init(&body, AGT_WAPI_BODY_MAX)));
    wd_buf_cleanup(&body);
    agt_store_cleanup(&s);
}

struct rotator {
    struct agt_store *s;
    int delay_ms;
};

static void *rotate_later(void *arg)
{
    struct rotator *r = arg;
    struct timespec ts = {0, (long)r->delay_ms * 1000000L};
    (void)nanosleep(&ts, NULL);
    int64_t now = wd_time_now();
    int rc = agt_store_put_svid(r->s, ID_A, "ROTATED", "K", now, now + 3600, 0);
    WD_BUG_ON(rc != WD_OK);
    return NULL;
}

static void *stop_later(void *arg)
{
    struct rotator *r = arg;
    struct timespec ts = {0, (long)r->delay_ms * 1000000L};
    (void)nanosleep(&ts, NULL);
    agt_store_stop(r->s);
    return NULL;
}

TEST(watch_wakes_on_rotation_and_times_out)
{
    struct agt_store s;
    CHECK_OK(agt_store_init(&s));
    CHECK_OK(two_entries(&s));
    int64_t now = wd_time_now();
    CHECK_OK(agt_store_put_svid(&s, ID_A, "FIRST", "K", now, now + 3600, 0));
    struct agt_caller c;
    me(&c, 1000);
    struct wd_buf body;
    wd_buf_init(&body, AGT_WAPI_BODY_MAX);
    size_t m, k;
    char v0[AGT_VERSION_LEN + 1], v[AGT_VERSION_LEN + 1];
    CHECK_OK(agt_store_render(&s, &c, now, &body, &m, &k, v0));

    /* A different version answers at once. */
    int64_t t0 = wd_time_mono_ms();
    wd_buf_reset(&body);
    CHECK_OK(agt_store_watch(&s, &c, "0", t0 + 5000, &body, &m, &k, v));
    CHECK_STR(v, v0);
    CHECK(wd_time_mono_ms() - t0 < 1000);

    /* The current version waits until the rotation. */
    struct rotator r = {&s, 200};
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, rotate_later, &r), 0);
    t0 = wd_time_mono_ms();
    wd_buf_reset(&body);
    int rc = agt_store_watch(&s, &c, v0, t0 + 10000, &body, &m, &k, v);
    int64_t took = wd_time_mono_ms() - t0;
    (void)pthread_join(th, NULL);
    CHECK_OK(rc);
    CHECK(took >= 150);
    CHECK(took < 5000);
    CHECK(strcmp(v, v0) != 0);
    CHECK(strstr(wd_buf_str(&body), "ROTATED") != NULL);

    /* A change that does not concern the caller (B) does not end the watch; the deadline does. */
    char v1[AGT_VERSION_LEN + 1];
    memcpy(v1, v, sizeof(v1));
    CHECK_OK(agt_store_put_svid(&s, ID_B, "B", "K", now, now + 3600, 0));
    t0 = wd_time_mono_ms();
    wd_buf_reset(&body);
    CHECK_OK(agt_store_watch(&s, &c, v1, t0 + 300, &body, &m, &k, v));
    took = wd_time_mono_ms() - t0;
    CHECK(took >= 290);
    CHECK_STR(v, v1);

    /* Stopping the store wakes watchers. */
    r.delay_ms = 100;
    CHECK_EQ(pthread_create(&th, NULL, stop_later, &r), 0);
    t0 = wd_time_mono_ms();
    wd_buf_reset(&body);
    rc = agt_store_watch(&s, &c, v1, t0 + 10000, &body, &m, &k, v);
    took = wd_time_mono_ms() - t0;
    (void)pthread_join(th, NULL);
    CHECK_OK(rc);
    CHECK(took < 5000);
    wd_buf_cleanup(&body);
    agt_store_cleanup(&s);
}

/* ---- the Workload API handler ---- */

static int handle(struct agt_wapi *w, const char *method, const char *path, const char *query,
                  const struct wd_net_peer *peer, struct wd_http_resp *resp)
{
    struct wd_http_req req;
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.path = path;
    req.query = query;
    req.peer = peer;
    memset(resp, 0, sizeof(*resp));
    wd_buf_init(&resp->body, AGT_WAPI_BODY_MAX);
    return agt_wapi_handle(w, &req, resp);
}

TEST(wapi_handler)
{
    struct agt_store s;
    struct agt_wapi w;
    struct wd_http_resp resp;
    CHECK_OK(agt_store_init(&s));
    CHECK_OK(agt_wapi_init(&w, &s, 1000));
    struct wd_net_peer peer;
    memset(&peer, 0, sizeof(peer));
    (void)snprintf(peer.addr, sizeof(peer.addr), "unix");
    peer.has_cred = true;
    peer.pid = getpid();
    peer.uid = geteuid();
    peer.gid = getegid();

    /* Entry A for this process's uid; entry B requires a digest this process does not have. */
    struct agt_entry v[2];
    entry(&v[0], ID_A, "spiffe://example.org/me", geteuid());
    entry(&v[1], ID_B, "spiffe://example.org/other", geteuid());
    v[1].sel.has_sha256 = true;
    memset(v[1].sel.sha256, 0x5a, 32);
    struct agt_entries e = {v, 2};
    CHECK_OK(agt_store_set_entries(&s, &e));
    int64_t now = wd_time_now();
    CHECK_OK(agt_store_set_bundle(&s, "BUNDLE"));

    /* Matching entry without SVID yet: 503. */
    CHECK_OK(handle(&w, "GET", "/v1/svid", "", &peer, &resp));
    CHECK_EQ(resp.status, 503);
    CHECK(strstr(wd_buf_str(&resp.body), "svid-pending") != NULL);
    wd_buf_cleanup(&resp.body);

    CHECK_OK(agt_store_put_svid(&s, ID_A, "CHAIN-ME", "KEY-ME", now - 1, now + 3600, 0));
    CHECK_OK(agt_store_put_svid(&s, ID_B, "CHAIN-OTHER", "KEY-OTHER", now - 1, now + 3600, 0));
    CHECK_OK(handle(&w, "GET", "/v1/svid", "", &peer, &resp));
    CHECK_EQ(resp.status, 200);
    CHECK(strstr(wd_buf_str(&resp.body), "spiffe://example.org/me") != NULL);
    CHECK(strstr(wd_buf_str(&resp.body), "CHAIN-OTHER") == NULL);
    CHECK(strstr(resp.extra_headers, "no-store") != NULL);
    wd_buf_cleanup(&resp.body);

    /* Another uid in SO_PEERCRED than the process has: refused as pid reuse. */
    peer.uid = geteuid() + 1;
    CHECK_OK(handle(&w, "GET", "/v1/svid", "", &peer, &resp));
    CHECK_EQ(resp.status, 403);
    CHECK(strstr(wd_buf_str(&resp.body), "pid-reused") != NULL);
    wd_buf_cleanup(&resp.body);
    peer.uid = geteuid();

    /* No peer credentials (not a unix socket): refused. */
    peer.has_cred = false;
    CHECK_OK(handle(&w, "GET", "/v1/svid", "", &peer, &resp));
    CHECK_EQ(resp.status, 403);
    CHECK(strstr(wd_buf_str(&resp.body), "caller-unknown") != NULL);
    wd_buf_cleanup(&resp.body);
    peer.has_cred = true;

    /* Only entries with a non-matching digest: 403 no-matching-entry. */
    e.v = &v[1];
    e.n = 1;
    CHECK_OK(agt_store_set_entries(&s, &e));
    CHECK_OK(handle(&w, "GET", "/v1/svid", "", &peer, &resp));
    CHECK_EQ(resp.status, 403);
    CHECK_STR(wd_buf_str(&resp.body), "{\"error\":\"denied\",\"reason\":\"no-matching-entry\","
                                      "\"message\":\"no registration entry matches the calling "
                                      "process\"}");
    wd_buf_cleanup(&resp.body);

    /* Routing and query errors. */
    CHECK_OK(handle(&w, "GET", "/healthz", "", &peer, &resp));
    CHECK_EQ(resp.status, 200);
    wd_buf_cleanup(&resp.body);
    CHECK_OK(handle(&w, "POST", "/v1/svid", "", &peer, &resp));
    CHECK_EQ(resp.status, 405);
    wd_buf_cleanup(&resp.body);
    CHECK_OK(handle(&w, "GET", "/v1/other", "", &peer, &resp));
    CHECK_EQ(resp.status, 404);
    wd_buf_cleanup(&resp.body);
    const char *bad_q[] = {"x=1", "watch=", "watch=XYZ", "watch=0123456789abcdef0"};
    for (size_t i = 0; i < WD_ARRAY_LEN(bad_q); i++) {
        CHECK_OK(handle(&w, "GET", "/v1/svid", bad_q[i], &peer, &resp));
        CHECK_EQ(resp.status, 400);
        wd_buf_cleanup(&resp.body);
    }

    /* A watch with a stale version answers at once with the current SVIDs. */
    e.v = v;
    e.n = 2;
    CHECK_OK(agt_store_set_entries(&s, &e));
    CHECK_OK(agt_store_put_svid(&s, ID_A, "CHAIN-ME", "KEY-ME", now - 1, now + 3600, 0));
    CHECK_OK(handle(&w, "GET", "/v1/svid", "watch=00", &peer, &resp));
    CHECK_EQ(resp.status, 200);
    CHECK(strstr(wd_buf_str(&resp.body), "CHAIN-ME") != NULL);
    wd_buf_cleanup(&resp.body);

    agt_wapi_cleanup(&w);
    agt_store_cleanup(&s);
}

int main(void)
{
    RUN(due_put_render);
    RUN(entries_reconcile_and_backoff);
    RUN(alloc_sweep_store);
    RUN(watch_wakes_on_rotation_and_times_out);
    RUN(wapi_handler);
    return HARNESS_END("agent_store");
}
