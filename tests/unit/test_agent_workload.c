/*
 * Unit tests for workload attestation (src/agent/workload.c): selector matching, selectors
 * from JSON, the pid -> (uid, gid, path, sha256) lookup on this process and on a child, and
 * the pid-reuse guard.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/doc.h"
#include "warden/err.h"
#include "warden/file.h"

#include "../../src/agent/workload.h"
#include "harness.h"

static void caller_of(struct agt_caller *c, uid_t uid, gid_t gid, const char *path, uint8_t fill)
{
    memset(c, 0, sizeof(*c));
    c->uid = uid;
    c->gid = gid;
    (void)snprintf(c->path, sizeof(c->path), "%s", path);
    memset(c->sha256, fill, 32);
}

TEST(selectors_all_must_match)
{
    struct agt_selectors s;
    struct agt_caller c;
    caller_of(&c, 1000, 100, "/usr/bin/web", 0xab);

    memset(&s, 0, sizeof(s));
    CHECK(!agt_selectors_match(&s, &c)); /* no selector at all never matches */

    s.has_uid = true;
    s.uid = 1000;
    CHECK(agt_selectors_match(&s, &c));
    s.uid = 1001;
    CHECK(!agt_selectors_match(&s, &c));
    s.uid = 1000;

    s.has_gid = true;
    s.gid = 100;
    CHECK(agt_selectors_match(&s, &c));
    s.gid = 0;
    CHECK(!agt_selectors_match(&s, &c));
    s.gid = 100;

    s.has_path = true;
    (void)snprintf(s.path, sizeof(s.path), "/usr/bin/web");
    CHECK(agt_selectors_match(&s, &c));
    (void)snprintf(s.path, sizeof(s.path), "/usr/bin/we");
    CHECK(!agt_selectors_match(&s, &c));
    (void)snprintf(s.path, sizeof(s.path), "/usr/bin/web2");
    CHECK(!agt_selectors_match(&s, &c));
    (void)snprintf(s.path, sizeof(s.path), "/usr/bin/web");

    s.has_sha256 = true;
    memset(s.sha256, 0xab, 32);
    CHECK(agt_selectors_match(&s, &c));
    s.sha256[31] ^= 1;
    CHECK(!agt_selectors_match(&s, &c));
    s.sha256[31] ^= 1;

    /* One mismatching selector among matching ones is enough to refuse. */
    c.uid = 0;
    CHECK(!agt_selectors_match(&s, &c));
    /* Each selector alone. */
    struct agt_selectors only;
    memset(&only, 0, sizeof(only));
    only.has_sha256 = true;
    memset(only.sha256, 0xab, 32);
    CHECK(agt_selectors_match(&only, &c));
}

static int sel_json(const char *json, struct agt_selectors *out, struct wd_diag *d)
{
    struct wd_doc *doc = NULL;
    int rc = wd_json_parse("e.json", json, strlen(json), NULL, &doc, d);
    if (rc == WD_OK) {
        rc = agt_selectors_from_json(doc, wd_doc_root(doc), out, d);
    }
    wd_doc_free(doc);
    return rc;
}

TEST(selectors_from_json)
{
    struct agt_selectors s;
    struct wd_diag d;
    const char *hex = "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff";
    char json[512];
    (void)snprintf(json, sizeof(json),
                   "{\"uid\":1000,\"gid\":0,\"path\":\"/usr/bin/web\",\"sha256\":\"%s\"}", hex);
    CHECK_OK(sel_json(json, &s, &d));
    CHECK(s.has_uid && s.uid == 1000);
    CHECK(s.has_gid && s.gid == 0);
    CHECK(s.has_path);
    CHECK_STR(s.path, "/usr/bin/web");
    CHECK(s.has_sha256);
    CHECK_EQ(s.sha256[0], 0x00);
    CHECK_EQ(s.sha256[10], 0xaa);
    CHECK_EQ(s.sha256[31], 0xff);

    CHECK_OK(sel_json("{\"gid\":7}", &s, &d));
    CHECK(!s.has_uid && s.has_gid && !s.has_path && !s.has_sha256);

    CHECK_ERR(sel_json("{}", &s, &d), WD_EPROTO);
    CHECK_STR(d.msg, "e.json:1:1: selectors: at least one selector is required");
    CHECK_ERR(sel_json("{\"uid\":-1}", &s, &d), WD_EPROTO);
    CHECK_STR(d.msg, "e.json:1:8: selectors.uid: out of range");
    CHECK_ERR(sel_json("{\"uid\":4294967295}", &s, &d), WD_EPROTO);
    CHECK_ERR(sel_json("{\"uid\":\"1000\"}", &s, &d), WD_EPROTO);
    CHECK_ERR(sel_json("{\"path\":\"bin/web\"}", &s, &d), WD_EPROTO);
    CHECK_STR(d.msg, "e.json:1:9: selectors.path: expected an absolute path");
    CHECK_ERR(sel_json("{\"sha256\":\"abcd\"}", &s, &d), WD_EPROTO);
    CHECK_ERR(sel_json("{\"sha256\":"
                       "\"zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
                       &s, &d),
              WD_EPROTO);
    CHECK_ERR(sel_json("{\"uid\":1,\"pid\":3}", &s, &d), WD_EPROTO);
    CHECK_STR(d.msg, "e.json:1:10: unknown key 'pid'");
}

/* SHA-256 of a file, by reading it. */
static int file_sha256(const char *path, uint8_t out[32])
{
    struct wd_buf b;
    wd_buf_init(&b, 64u << 20);
    if (wd_file_read(path, 64u << 20, &b, NULL) < 0) {
        wd_buf_cleanup(&b);
        return -1;
    }
    unsigned len = 0;
    int ok = EVP_Digest(b.p, b.len, out, &len, EVP_sha256(), NULL);
    wd_buf_cleanup(&b);
    return ok == 1 ? 0 : -1;
}

TEST(identify_self)
{
    struct agt_caller c;
    struct agt_digest_cache cache;
    CHECK_OK(agt_digest_cache_init(&cache));
    CHECK_OK(agt_proc_identify(getpid(), geteuid(), getegid(), agt_boot_ticks_now(), &cache, &c));
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    CHECK(n > 0);
    exe[n] = '\0';
    CHECK_STR(c.path, exe);
    CHECK_EQ(c.pid, getpid());
    CHECK_EQ(c.uid, geteuid());
    CHECK_EQ(c.gid, getegid());
    uint8_t want[32];
    CHECK_EQ(file_sha256(exe, want), 0);
    CHECK_MEM(c.sha256, want, 32);
    CHECK_EQ(cache.misses, 1);
    CHECK_EQ(cache.hits, 0);
    /* The second lookup is answered from the cache, with the same digest. */
    struct agt_caller c2;
    CHECK_OK(agt_proc_identify(getpid(), geteuid(), getegid(), 0, &cache, &c2));
    CHECK_EQ(cache.hits, 1);
    CHECK_MEM(c2.sha256, want, 32);
    CHECK_EQ(c2.start_ticks, c.start_ticks);
    agt_digest_cache_cleanup(&cache);
}

TEST(identify_wrong_credentials_refused)
{
    struct agt_caller c;
    /* SO_PEERCRED said another uid/gid than the process now has: refuse. */
    CHECK_ERR(agt_proc_identify(getpid(), geteuid() + 1, getegid(), 0, NULL, &c), WD_EDENIED);
    CHECK_ERR(agt_proc_identify(getpid(), geteuid(), getegid() + 1, 0, NULL, &c), WD_EDENIED);
    CHECK_EQ(c.pid, 0); /* nothing half-filled */
}

/* Wait (bounded) until pid runs an executable whose path ends with suffix. */
static int wait_exec(pid_t pid, const char *suffix)
{
    char link[64], buf[4096];
    (void)snprintf(link, sizeof(link), "/proc/%ld/exe", (long)pid);
    for (int i = 0; i < 400; i++) {
        ssize_t n = readlink(link, buf, sizeof(buf) - 1);
        if (n > 0) {
            buf[n] = '\0';
            size_t sl = strlen(suffix);
            if ((size_t)n >= sl && strcmp(buf + n - sl, suffix) == 0) {
                return 0;
            }
        }
        struct timespec ts = {0, 5000000};
        (void)nanosleep(&ts, NULL);
    }
    return -1;
}

static pid_t spawn_sleep(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        char *const argv[] = {"sleep", "30", NULL};
        char *const envp[] = {NULL};
        execve("/bin/sleep", argv, envp);
        _exit(127);
    }
    return pid;
}

TEST(identify_child_process)
{
    pid_t pid = spawn_sleep();
    CHECK(pid > 0);
    int ok = wait_exec(pid, "/sleep");
    struct agt_caller c;
    int rc = agt_proc_identify(pid, geteuid(), getegid(), agt_boot_ticks_now(), NULL, &c);
    char real[4096];
    char *rp = realpath("/bin/sleep", real);
    uint8_t want[32];
    int hs = rp != NULL ? file_sha256(rp, want) : -1;
    (void)kill(pid, SIGKILL);
    (void)waitpid(pid, NULL, 0);
    CHECK_EQ(ok, 0);
    CHECK_OK(rc);
    CHECK(rp != NULL);
    CHECK_STR(c.path, rp);
    CHECK_EQ(hs, 0);
    CHECK_MEM(c.sha256, want, 32);
    CHECK_EQ(c.pid, pid);
    /* The child is not this process: its digest differs from ours. */
    struct agt_caller me;
    CHECK_OK(agt_proc_identify(getpid(), geteuid(), getegid(), 0, NULL, &me));
    CHECK(memcmp(me.sha256, c.sha256, 32) != 0);
}

TEST(dead_pid_refused)
{
    pid_t pid = spawn_sleep();
    CHECK(pid > 0);
    CHECK_EQ(wait_exec(pid, "/sleep"), 0);
    (void)kill(pid, SIGKILL);
    /* A zombie (dead, not yet reaped) is refused... */
    for (int i = 0; i < 400; i++) {
        char st = 0;
        uint64_t t;
        if (agt_proc_start_ticks(pid, &t, &st) == WD_OK && st == 'Z') {
            break;
        }
        struct timespec ts = {0, 5000000};
        (void)nanosleep(&ts, NULL);
    }
    struct agt_caller c;
    CHECK_ERR(agt_proc_identify(pid, geteuid(), getegid(), 0, NULL, &c), WD_ENOENT);
    /* ...and so is a pid that no longer exists at all. */
    (void)waitpid(pid, NULL, 0);
    CHECK_ERR(agt_proc_identify(pid, geteuid(), getegid(), 0, NULL, &c), WD_ENOENT);
    CHECK_ERR(agt_proc_identify(0, 0, 0, 0, NULL, &c), WD_ENOENT);
    CHECK_ERR(agt_proc_identify(-5, 0, 0, 0, NULL, &c), WD_ENOENT);
}

TEST(pid_reuse_guard_start_time)
{
    /* A process that started after the connection was accepted cannot be the peer: model it by
       taking the "accepted" time before the child exists. */
    uint64_t accepted = agt_boot_ticks_now();
    struct timespec ts = {0, 100000000}; /* 100 ms = 10 ticks at 100 Hz */
    (void)nanosleep(&ts, NULL);
    pid_t pid = spawn_sleep();
    CHECK(pid > 0);
    int ok = wait_exec(pid, "/sleep");
    struct agt_caller c;
    int late = agt_proc_identify(pid, geteuid(), getegid(), accepted, NULL, &c);
    int fine = agt_proc_identify(pid, geteuid(), getegid(), agt_boot_ticks_now(), NULL, &c);
    (void)kill(pid, SIGKILL);
    (void)waitpid(pid, NULL, 0);
    CHECK_EQ(ok, 0);
    CHECK_ERR(late, WD_EDENIED);
    CHECK_OK(fine);
}

/*
 * Start time and state of a live process. A child, not this process: under user-mode
 * emulation (qemu-aarch64 in CI) the emulator fakes /proc/self/stat, while a peer's entry --
 * what the agent reads in production -- comes from the kernel.
 */
TEST(start_ticks_of_child)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec ts = {.tv_sec = 10, .tv_nsec = 0};
        (void)nanosleep(&ts, NULL);
        _exit(0);
    }
    CHECK(pid > 0);
    uint64_t a = 0, b = 0;
    char st = 0;
    CHECK_OK(agt_proc_start_ticks(pid, &a, &st));
    CHECK(st == 'R' || st == 'S');
    CHECK_OK(agt_proc_start_ticks(pid, &b, NULL));
    CHECK_EQ(a, b);
    CHECK(a <= agt_boot_ticks_now());
    (void)kill(pid, SIGKILL);
    (void)waitpid(pid, NULL, 0);
    CHECK_ERR(agt_proc_start_ticks(pid, &a, NULL), WD_ENOENT);
    CHECK_ERR(agt_proc_start_ticks(0, &a, NULL), WD_ENOENT);
}

int main(void)
{
    RUN(selectors_all_must_match);
    RUN(selectors_from_json);
    RUN(identify_self);
    RUN(identify_wrong_credentials_refused);
    RUN(identify_child_process);
    RUN(dead_pid_refused);
    RUN(pid_reuse_guard_start_time);
    RUN(start_ticks_of_child);
    return HARNESS_END("agent_workload");
}
