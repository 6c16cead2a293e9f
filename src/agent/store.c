/* The agent's SVID store and the Workload API answer (see store.h). */
#include "store.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/codec.h"
#include "warden/doc.h"

int agt_store_init(struct agt_store *s)
{
    pthread_condattr_t ca;
    memset(s, 0, sizeof(*s));
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        return WD_EIO;
    }
    if (pthread_condattr_init(&ca) != 0) {
        (void)pthread_mutex_destroy(&s->mu);
        return WD_EIO;
    }
    /* Watch deadlines are monotonic: a wall-clock step must not end or extend them. */
    int rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0) {
        rc = pthread_cond_init(&s->cv, &ca);
    }
    (void)pthread_condattr_destroy(&ca);
    if (rc != 0) {
        (void)pthread_mutex_destroy(&s->mu);
        return WD_EIO;
    }
    return WD_OK;
}

static void slot_clear_svid(struct agt_slot *sl)
{
    wd_free(sl->chain_pem);
    if (sl->key_pem != NULL) {
        wd_free_secret(sl->key_pem, strlen(sl->key_pem));
    }
    sl->chain_pem = NULL;
    sl->key_pem = NULL;
    sl->has_svid = false;
    sl->not_before = sl->not_after = 0;
    sl->renew_at_ms = 0;
}

void agt_store_cleanup(struct agt_store *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        slot_clear_svid(&s->v[i]);
    }
    wd_free(s->v);
    wd_free(s->bundle_pem);
    (void)pthread_cond_destroy(&s->cv);
    (void)pthread_mutex_destroy(&s->mu);
    memset(s, 0, sizeof(*s));
}

static void changed(struct agt_store *s)
{
    s->seq++;
    (void)pthread_cond_broadcast(&s->cv);
}

static struct agt_slot *find(struct agt_store *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->v[i].entry.id, id) == 0) {
            return &s->v[i];
        }
    }
    return NULL;
}

int agt_store_set_entries(struct agt_store *s, const struct agt_entries *e)
{
    struct agt_slot *nv = NULL;
    if (e->n > 0) {
        nv = wd_calloc(e->n, sizeof(*nv));
        if (nv == NULL) {
            return WD_ENOMEM;
        }
    }
    (void)pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < e->n; i++) {
        struct agt_slot *old = find(s, e->v[i].id);
        nv[i].entry = e->v[i];
        if (old != NULL && wd_spiffe_id_eq(&old->entry.spiffe_id, &e->v[i].spiffe_id)
            && old->entry.ttl_ms == e->v[i].ttl_ms) {
            /* Move the SVID over; the old slot no longer owns it. */
            nv[i].has_svid = old->has_svid;
            nv[i].chain_pem = old->chain_pem;
            nv[i].key_pem = old->key_pem;
            nv[i].not_before = old->not_before;
            nv[i].not_after = old->not_after;
            nv[i].renew_at_ms = old->renew_at_ms;
            nv[i].retry_at_ms = old->retry_at_ms;
            nv[i].attempts = old->attempts;
            old->chain_pem = NULL;
            old->key_pem = NULL;
            old->has_svid = false;
        }
    }
    for (size_t i = 0; i < s->n; i++) {
        slot_clear_svid(&s->v[i]);
    }
    wd_free(s->v);
    s->v = nv;
    s->n = e->n;
    changed(s);
    (void)pthread_mutex_unlock(&s->mu);
    return WD_OK;
}

int agt_store_set_bundle(struct agt_store *s, const char *bundle_pem)
{
    int rc = WD_OK;
    (void)pthread_mutex_lock(&s->mu);
    if (s->bundle_pem == NULL || strcmp(s->bundle_pem, bundle_pem) != 0) {
        char *c = wd_strdup(bundle_pem);
        if (c == NULL) {
            rc = WD_ENOMEM;
        } else {
            wd_free(s->bundle_pem);
            s->bundle_pem = c;
            changed(s);
        }
    }
    (void)pthread_mutex_unlock(&s->mu);
    return rc;
}

bool agt_store_bundle_is(struct agt_store *s, const char *bundle_pem)
{
    (void)pthread_mutex_lock(&s->mu);
    bool same = s->bundle_pem != NULL && strcmp(s->bundle_pem, bundle_pem) == 0;
    (void)pthread_mutex_unlock(&s->mu);
    return same;
}

static bool is_due(const struct agt_slot *sl, int64_t now_ms)
{
    if (now_ms < sl->retry_at_ms) {
        return false;
    }
    return !sl->has_svid || now_ms >= sl->renew_at_ms;
}

size_t agt_store_due(struct agt_store *s, int64_t now_ms, char (*ids)[AGT_ENTRY_ID_LEN + 1],
                     int64_t *ttl_ms, size_t max)
{
    size_t k = 0;
    (void)pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n && k < max; i++) {
        if (is_due(&s->v[i], now_ms)) {
            memcpy(ids[k], s->v[i].entry.id, AGT_ENTRY_ID_LEN + 1);
            if (ttl_ms != NULL) {
                ttl_ms[k] = s->v[i].entry.ttl_ms;
            }
            k++;
        }
    }
    (void)pthread_mutex_unlock(&s->mu);
    return k;
}

int64_t agt_store_next_due(struct agt_store *s)
{
    int64_t next = INT64_MAX;
    (void)pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++) {
        const struct agt_slot *sl = &s->v[i];
        int64_t t = sl->has_svid ? sl->renew_at_ms : 0;
        if (sl->retry_at_ms > t) {
            t = sl->retry_at_ms;
        }
        if (t < next) {
            next = t;
        }
    }
    (void)pthread_mutex_unlock(&s->mu);
    return next;
}

int agt_store_put_svid(struct agt_store *s, const char *id, const char *chain_pem,
                       const char *key_pem, int64_t not_before, int64_t not_after,
                       int64_t renew_at_ms)
{
    char *c = wd_strdup(chain_pem);
    char *k = wd_strdup(key_pem);
    if (c == NULL || k == NULL) {
        wd_free(c);
        if (k != NULL) {
            wd_free_secret(k, strlen(k));
        }
        return WD_ENOMEM;
    }
    int rc = WD_OK;
    (void)pthread_mutex_lock(&s->mu);
    struct agt_slot *sl = find(s, id);
    if (sl == NULL) {
        rc = WD_ENOENT;
    } else {
        slot_clear_svid(sl);
        sl->chain_pem = c;
        sl->key_pem = k;
        c = NULL;
        k = NULL;
        sl->has_svid = true;
        sl->not_before = not_before;
        sl->not_after = not_after;
        sl->renew_at_ms = renew_at_ms;
        sl->retry_at_ms = 0;
        sl->attempts = 0;
        changed(s);
    }
    (void)pthread_mutex_unlock(&s->mu);
    wd_free(c);
    if (k != NULL) {
        wd_free_secret(k, strlen(k));
    }
    return rc;
}

void agt_store_failed(struct agt_store *s, const char *id, int64_t retry_at_ms)
{
    (void)pthread_mutex_lock(&s->mu);
    struct agt_slot *sl = find(s, id);
    if (sl != NULL) {
        sl->attempts++;
        sl->retry_at_ms = retry_at_ms;
    }
    (void)pthread_mutex_unlock(&s->mu);
}

unsigned agt_store_attempts(struct agt_store *s, const char *id)
{
    unsigned a = 0;
    (void)pthread_mutex_lock(&s->mu);
    struct agt_slot *sl = find(s, id);
    if (sl != NULL) {
        a = sl->attempts;
    }
    (void)pthread_mutex_unlock(&s->mu);
    return a;
}

static int append_svid(struct wd_buf *b, const struct agt_slot *sl, const char *bundle)
{
    char t[21];
    WD_TRY(wd_buf_append_str(b, "{\"spiffe_id\":"));
    WD_TRY(wd_json_append_string(b, sl->entry.spiffe_id.str, sl->entry.spiffe_id.len));
    WD_TRY(wd_buf_printf(b, ",\"entry_id\":\"%s\",\"svid_pem\":", sl->entry.id));
    WD_TRY(wd_json_append_string(b, sl->chain_pem, strlen(sl->chain_pem)));
    WD_TRY(wd_buf_append_str(b, ",\"key_pem\":"));
    WD_TRY(wd_json_append_string(b, sl->key_pem, strlen(sl->key_pem)));
    WD_TRY(wd_buf_append_str(b, ",\"bundle_pem\":"));
    WD_TRY(wd_json_append_string(b, bundle, strlen(bundle)));
    WD_TRY(wd_buf_printf(b, ",\"expires_at\":\"%s\"}", wd_time_format(sl->not_after, t)));
    return WD_OK;
}

/* Render with s->mu held. */
static int render_locked(struct agt_store *s, const struct agt_caller *caller, int64_t now,
                         struct wd_buf *body, size_t *matched, size_t *served,
                         char version[AGT_VERSION_LEN + 1])
{
    struct wd_buf svids;
    uint8_t md[32];
    unsigned mdlen = 0;
    int rc;
    size_t m = 0, k = 0;
    wd_buf_init(&svids, AGT_WAPI_BODY_MAX);
    const char *bundle = s->bundle_pem != NULL ? s->bundle_pem : "";
    WD_CHECK(wd_buf_append_byte(&svids, '['));
    for (size_t i = 0; i < s->n; i++) {
        const struct agt_slot *sl = &s->v[i];
        if (!agt_selectors_match(&sl->entry.sel, caller)) {
            continue;
        }
        m++;
        if (!sl->has_svid || sl->not_after <= now) {
            continue;
        }
        if (k > 0) {
            WD_CHECK(wd_buf_append_byte(&svids, ','));
        }
        WD_CHECK(append_svid(&svids, sl, bundle));
        k++;
    }
    WD_CHECK(wd_buf_append_byte(&svids, ']'));
    /* The version names the content: the same SVIDs give the same version, across restarts. */
    if (EVP_Digest(svids.p, svids.len, md, &mdlen, EVP_sha256(), NULL) != 1) {
        rc = WD_ETLS;
        goto out;
    }
    for (size_t i = 0; i < AGT_VERSION_LEN / 2; i++) {
        static const char hex[] = "0123456789abcdef";
        version[2 * i] = hex[md[i] >> 4];
        version[2 * i + 1] = hex[md[i] & 15];
    }
    version[AGT_VERSION_LEN] = '\0';
    size_t start = body->len;
    rc = wd_buf_printf(body, "{\"version\":\"%s\",\"svids\":", version);
    if (rc == WD_OK) {
        rc = wd_buf_append(body, svids.p, svids.len);
    }
    if (rc == WD_OK) {
        rc = wd_buf_append_byte(body, '}');
    }
    if (rc < 0) {
        body->len = start;
        if (body->p != NULL) {
            body->p[start] = '\0';
        }
        goto out;
    }
    *matched = m;
    *served = k;
out:
    /* The buffer held private keys. */
    wd_buf_cleanup_secret(&svids);
    return rc;
}

int agt_store_render(struct agt_store *s, const struct agt_caller *caller, int64_t now,
                     struct wd_buf *body, size_t *matched, size_t *served,
                     char version[AGT_VERSION_LEN + 1])
{
    (void)pthread_mutex_lock(&s->mu);
    int rc = render_locked(s, caller, now, body, matched, served, version);
    (void)pthread_mutex_unlock(&s->mu);
    return rc;
}

int agt_store_watch(struct agt_store *s, const struct agt_caller *caller, const char *watch,
                    int64_t deadline_mono_ms, struct wd_buf *body, size_t *matched, size_t *served,
                    char version[AGT_VERSION_LEN + 1])
{
    struct wd_buf scratch;
    int rc;
    wd_buf_init(&scratch, AGT_WAPI_BODY_MAX);
    (void)pthread_mutex_lock(&s->mu);
    for (;;) {
        wd_buf_reset(&scratch);
        /* Rendered into scratch to learn the version; only the final answer goes to body. */
        rc = render_locked(s, caller, wd_time_now(), &scratch, matched, served, version);
        if (rc < 0 || s->stopping || strcmp(version, watch) != 0) {
            break;
        }
        int64_t now = wd_time_mono_ms();
        if (now >= deadline_mono_ms) {
            break;
        }
        /* Wake up at least once a minute to notice SVIDs expiring without a rotation. */
        int64_t until = WD_MIN(deadline_mono_ms, now + 60000);
        struct timespec ts;
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t wait_ms = until - now;
        ts.tv_sec += (time_t)(wait_ms / 1000);
        ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        uint64_t seq = s->seq;
        while (s->seq == seq && !s->stopping) {
            int w = pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            if (w == ETIMEDOUT) {
                break;
            }
        }
    }
    (void)pthread_mutex_unlock(&s->mu);
    if (rc == WD_OK) {
        rc = wd_buf_append(body, scratch.p, scratch.len);
    }
    wd_buf_cleanup_secret(&scratch);
    return rc;
}

void agt_store_stop(struct agt_store *s)
{
    (void)pthread_mutex_lock(&s->mu);
    s->stopping = true;
    (void)pthread_cond_broadcast(&s->cv);
    (void)pthread_mutex_unlock(&s->mu);
}

int agt_store_get_svid(struct agt_store *s, const char *id, char **chain_pem, char **key_pem,
                       char **bundle_pem)
{
    int rc = WD_OK;
    *chain_pem = *key_pem = *bundle_pem = NULL;
    (void)pthread_mutex_lock(&s->mu);
    struct agt_slot *sl = find(s, id);
    if (sl == NULL || !sl->has_svid) {
        rc = WD_ENOENT;
    } else {
        *chain_pem = wd_strdup(sl->chain_pem);
        *key_pem = wd_strdup(sl->key_pem);
        *bundle_pem = wd_strdup(s->bundle_pem != NULL ? s->bundle_pem : "");
        if (*chain_pem == NULL || *key_pem == NULL || *bundle_pem == NULL) {
            rc = WD_ENOMEM;
        }
    }
    (void)pthread_mutex_unlock(&s->mu);
    if (rc == WD_ENOMEM) {
        wd_free(*chain_pem);
        if (*key_pem != NULL) {
            wd_free_secret(*key_pem, strlen(*key_pem));
        }
        wd_free(*bundle_pem);
        *chain_pem = *key_pem = *bundle_pem = NULL;
    }
    return rc;
}
