/* Workload attestation: selectors, /proc lookups with a pid-reuse guard, digest cache. */
#include "workload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "warden/codec.h"
#include "warden/log.h"

bool agt_selectors_match(const struct agt_selectors *sel, const struct agt_caller *caller)
{
    if (!sel->has_uid && !sel->has_gid && !sel->has_path && !sel->has_sha256) {
        return false;
    }
    if (sel->has_uid && sel->uid != caller->uid) {
        return false;
    }
    if (sel->has_gid && sel->gid != caller->gid) {
        return false;
    }
    if (sel->has_path && strcmp(sel->path, caller->path) != 0) {
        return false;
    }
    if (sel->has_sha256 && CRYPTO_memcmp(sel->sha256, caller->sha256, 32) != 0) {
        return false;
    }
    return true;
}

static int id_from_json(const struct wd_doc *doc, const struct wd_node *n, const char *what,
                        uint32_t *out, struct wd_diag *diag)
{
    /* (uid_t)-1 means "no change" to chown and friends; it is never a real id. */
    if (n->u.i < 0 || n->u.i > (int64_t)UINT32_MAX - 1) {
        (void)wd_doc_error(doc, n, diag, "selectors.%s: out of range", what);
        return WD_EPROTO;
    }
    *out = (uint32_t)n->u.i;
    return WD_OK;
}

int agt_selectors_from_json(const struct wd_doc *doc, const struct wd_node *node,
                            struct agt_selectors *out, struct wd_diag *diag)
{
    const struct wd_node *uid = NULL, *gid = NULL, *path = NULL, *sha = NULL;
    const struct wd_field fields[] = {
            {"uid", WD_NODE_INT, WD_FIELD_OPTIONAL, &uid},
            {"gid", WD_NODE_INT, WD_FIELD_OPTIONAL, &gid},
            {"path", WD_NODE_STR, WD_FIELD_OPTIONAL, &path},
            {"sha256", WD_NODE_STR, WD_FIELD_OPTIONAL, &sha},
    };
    memset(out, 0, sizeof(*out));
    if (wd_doc_read_object(doc, node, fields, WD_ARRAY_LEN(fields), diag) < 0) {
        return WD_EPROTO;
    }
    if (uid == NULL && gid == NULL && path == NULL && sha == NULL) {
        (void)wd_doc_error(doc, node, diag, "selectors: at least one selector is required");
        return WD_EPROTO;
    }
    uint32_t v;
    if (uid != NULL) {
        WD_TRY(id_from_json(doc, uid, "uid", &v, diag));
        out->has_uid = true;
        out->uid = (uid_t)v;
    }
    if (gid != NULL) {
        WD_TRY(id_from_json(doc, gid, "gid", &v, diag));
        out->has_gid = true;
        out->gid = (gid_t)v;
    }
    if (path != NULL) {
        if (path->u.s.len == 0 || path->u.s.p[0] != '/' || path->u.s.len >= AGT_PATH_MAX
            || memchr(path->u.s.p, '\0', path->u.s.len) != NULL) {
            (void)wd_doc_error(doc, path, diag, "selectors.path: expected an absolute path");
            return WD_EPROTO;
        }
        memcpy(out->path, path->u.s.p, path->u.s.len);
        out->path[path->u.s.len] = '\0';
        out->has_path = true;
    }
    if (sha != NULL) {
        if (sha->u.s.len != 64) {
            (void)wd_doc_error(doc, sha, diag, "selectors.sha256: expected 64 hex digits");
            return WD_EPROTO;
        }
        for (size_t i = 0; i < 32; i++) {
            int hi = wd_hex_digit_value((unsigned char)sha->u.s.p[2 * i]);
            int lo = wd_hex_digit_value((unsigned char)sha->u.s.p[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                (void)wd_doc_error(doc, sha, diag, "selectors.sha256: expected 64 hex digits");
                return WD_EPROTO;
            }
            out->sha256[i] = (uint8_t)(hi << 4 | lo);
        }
        out->has_sha256 = true;
    }
    return WD_OK;
}

int agt_digest_cache_init(struct agt_digest_cache *c)
{
    memset(c, 0, sizeof(*c));
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        return WD_EIO;
    }
    return WD_OK;
}

void agt_digest_cache_cleanup(struct agt_digest_cache *c)
{
    if (c != NULL) {
        (void)pthread_mutex_destroy(&c->mu);
    }
}

/* Read a small /proc file into buf (NUL-terminated). WD_ENOENT when the process is gone. */
static int read_proc(pid_t pid, const char *name, char *buf, size_t size)
{
    char path[64];
    (void)snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return (errno == ENOENT || errno == ESRCH) ? WD_ENOENT : WD_EIO;
    }
    size_t len = 0;
    while (len + 1 < size) {
        ssize_t r = read(fd, buf + len, size - 1 - len);
        if (r == -1) {
            if (errno == EINTR) {
                continue;
            }
            int e = errno;
            (void)close(fd);
            return e == ESRCH ? WD_ENOENT : WD_EIO;
        }
        if (r == 0) {
            break;
        }
        len += (size_t)r;
    }
    (void)close(fd);
    buf[len] = '\0';
    return WD_OK;
}

int agt_proc_start_ticks(pid_t pid, uint64_t *out, char *state)
{
    char buf[1024];
    WD_ENSURE(pid > 0, WD_ENOENT);
    WD_TRY(read_proc(pid, "stat", buf, sizeof(buf)));
    /* proc(5): "pid (comm) state ppid ... starttime(22) ..."; comm may hold ')' and ' '. */
    char *p = strrchr(buf, ')');
    WD_ENSURE(p != NULL && p[1] == ' ', WD_EPROTO);
    p += 2;
    if (state != NULL) {
        *state = *p;
    }
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        WD_ENSURE(p != NULL, WD_EPROTO);
        p++;
    }
    uint64_t v = 0;
    WD_ENSURE(*p >= '0' && *p <= '9', WD_EPROTO);
    for (; *p >= '0' && *p <= '9'; p++) {
        WD_ENSURE(v <= (UINT64_MAX - 9) / 10, WD_EPROTO);
        v = v * 10 + (uint64_t)(*p - '0');
    }
    WD_ENSURE(*p == ' ' || *p == '\n' || *p == '\0', WD_EPROTO);
    *out = v;
    return WD_OK;
}

uint64_t agt_boot_ticks_now(void)
{
    struct timespec ts;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &ts) == -1) {
        return 0;
    }
    uint64_t ticks = (uint64_t)ts.tv_sec * (uint64_t)hz;
    ticks += ((uint64_t)ts.tv_nsec * (uint64_t)hz + 999999999u) / 1000000000u;
    return ticks;
}

/* The effective id (second number) of a "Uid:" or "Gid:" line of /proc/PID/status. */
static int status_effective(const char *status, const char *key, uint32_t *out)
{
    const char *p = strstr(status, key);
    WD_ENSURE(p != NULL, WD_EPROTO);
    p += strlen(key);
    for (int i = 0; i < 2; i++) {
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        uint64_t v = 0;
        WD_ENSURE(*p >= '0' && *p <= '9', WD_EPROTO);
        for (; *p >= '0' && *p <= '9'; p++) {
            v = v * 10 + (uint64_t)(*p - '0');
            WD_ENSURE(v <= UINT32_MAX, WD_EPROTO);
        }
        *out = (uint32_t)v;
    }
    return WD_OK;
}

static bool cache_get(struct agt_digest_cache *c, const struct stat *st, uint8_t out[32])
{
    bool found = false;
    int64_t mt = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    int64_t ct = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
    (void)pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < AGT_DIGEST_CACHE_SIZE; i++) {
        if (c->slot[i].used && c->slot[i].dev == st->st_dev && c->slot[i].ino == st->st_ino
            && c->slot[i].mtime_ns == mt && c->slot[i].ctime_ns == ct
            && c->slot[i].size == st->st_size) {
            memcpy(out, c->slot[i].sha256, 32);
            found = true;
            break;
        }
    }
    if (found) {
        c->hits++;
    } else {
        c->misses++;
    }
    (void)pthread_mutex_unlock(&c->mu);
    return found;
}

static void cache_put(struct agt_digest_cache *c, const struct stat *st, const uint8_t d[32])
{
    (void)pthread_mutex_lock(&c->mu);
    size_t i = c->next;
    c->next = (c->next + 1) % AGT_DIGEST_CACHE_SIZE;
    c->slot[i].used = true;
    c->slot[i].dev = st->st_dev;
    c->slot[i].ino = st->st_ino;
    c->slot[i].mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    c->slot[i].ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
    c->slot[i].size = st->st_size;
    memcpy(c->slot[i].sha256, d, 32);
    (void)pthread_mutex_unlock(&c->mu);
}

static int hash_fd(int fd, uint8_t out[32])
{
    int rc = WD_EIO;
    uint8_t buf[65536];
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL) {
        return WD_ENOMEM;
    }
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        rc = WD_ETLS;
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r == -1) {
            if (errno == EINTR) {
                continue;
            }
            goto out;
        }
        if (r == 0) {
            break;
        }
        if (EVP_DigestUpdate(md, buf, (size_t)r) != 1) {
            rc = WD_ETLS;
            goto out;
        }
    }
    unsigned len = 0;
    if (EVP_DigestFinal_ex(md, out, &len) != 1 || len != 32) {
        rc = WD_ETLS;
        goto out;
    }
    rc = WD_OK;
out:
    EVP_MD_CTX_free(md);
    return rc;
}

int agt_proc_identify(pid_t pid, uid_t uid, gid_t gid, uint64_t not_after_ticks,
                      struct agt_digest_cache *cache, struct agt_caller *out)
{
    int rc;
    int fd = -1;
    uint64_t st1 = 0, st2 = 0;
    char state = 0;
    char status[4096];
    char link[64];

    memset(out, 0, sizeof(*out));
    WD_ENSURE(pid > 0, WD_ENOENT);
    WD_TRY(agt_proc_start_ticks(pid, &st1, &state));
    /* A zombie has exited: whatever it was, it is not serving anyone now. */
    WD_ENSURE(state != 'Z' && state != 'X', WD_ENOENT);
    /* Two ticks of slack: the tick clock and the start time round differently. */
    if (not_after_ticks != 0 && st1 > not_after_ticks + 2) {
        return WD_EDENIED;
    }
    WD_TRY(read_proc(pid, "status", status, sizeof(status)));
    uint32_t euid = 0, egid = 0;
    WD_TRY(status_effective(status, "\nUid:", &euid));
    WD_TRY(status_effective(status, "\nGid:", &egid));
    if (euid != (uint32_t)uid || egid != (uint32_t)gid) {
        return WD_EDENIED;
    }

    (void)snprintf(link, sizeof(link), "/proc/%ld/exe", (long)pid);
    ssize_t n = readlink(link, out->path, sizeof(out->path) - 1);
    if (n == -1) {
        return errno == ENOENT || errno == ESRCH ? WD_ENOENT : WD_EIO;
    }
    out->path[n] = '\0';
    /* Hash the very file the process runs (not whatever the path names now). */
    fd = open(link, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        rc = errno == ENOENT || errno == ESRCH ? WD_ENOENT : WD_EIO;
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) == -1) {
        rc = WD_EIO;
        goto out;
    }
    if (cache == NULL || !cache_get(cache, &st, out->sha256)) {
        WD_CHECK(hash_fd(fd, out->sha256));
        if (cache != NULL) {
            cache_put(cache, &st, out->sha256);
        }
    }

    /* The guard: the same process (same start time) must still hold the pid. */
    rc = agt_proc_start_ticks(pid, &st2, &state);
    if (rc < 0) {
        goto out;
    }
    if (st2 != st1) {
        rc = WD_EDENIED;
        goto out;
    }
    if (state == 'Z' || state == 'X') {
        rc = WD_ENOENT;
        goto out;
    }
    out->pid = pid;
    out->uid = uid;
    out->gid = gid;
    out->start_ticks = st1;
    rc = WD_OK;
out:
    if (fd != -1) {
        (void)close(fd);
    }
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}
