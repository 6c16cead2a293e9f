/* Unit tests for file sinks and reload commands (src/agent/sink.c). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/clock.h"
#include "warden/err.h"
#include "warden/file.h"

#include "../../src/agent/sink.h"
#include "harness.h"

static char tmpdir[64];

static int mk_tmp(void)
{
    (void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/agtsinkXXXXXX");
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static void rm_tmp(void)
{
    char cmd[128];
    (void)snprintf(cmd, sizeof(cmd), "%s/out", tmpdir);
    const char *names[] = {"c.pem", "k.pem", "b.pem", "marker"};
    for (size_t i = 0; i < WD_ARRAY_LEN(names); i++) {
        char p[256];
        (void)snprintf(p, sizeof(p), "%s/%s", cmd, names[i]);
        (void)unlink(p);
        (void)snprintf(p, sizeof(p), "%s/%s", tmpdir, names[i]);
        (void)unlink(p);
    }
    (void)rmdir(cmd);
    (void)rmdir(tmpdir);
}

static int read_text(const char *dir, const char *name, struct wd_buf *b, mode_t *mode)
{
    char p[256];
    struct stat st;
    (void)snprintf(p, sizeof(p), "%s/%s", dir, name);
    wd_buf_init(b, 1 << 20);
    if (stat(p, &st) != 0) {
        return -1;
    }
    *mode = st.st_mode & 07777;
    return wd_file_read(p, 1 << 20, b, NULL);
}

TEST(sink_writes_three_files_0600)
{
    CHECK_EQ(mk_tmp(), 0);
    char dir[128];
    (void)snprintf(dir, sizeof(dir), "%s/out", tmpdir);
    struct agt_sink s = {.dir = dir, .cert = "c.pem", .key = "k.pem", .bundle = "b.pem"};
    struct wd_diag d;
    CHECK_OK(agt_sink_write(&s, "CHAIN1", "KEY1", "BUNDLE1", &d));
    struct stat st;
    CHECK_EQ(stat(dir, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0700);
    struct wd_buf b;
    mode_t m = 0;
    CHECK_OK(read_text(dir, "c.pem", &b, &m));
    CHECK_STR(wd_buf_str(&b), "CHAIN1");
    CHECK_EQ(m, 0600);
    wd_buf_cleanup(&b);
    CHECK_OK(read_text(dir, "k.pem", &b, &m));
    CHECK_STR(wd_buf_str(&b), "KEY1");
    CHECK_EQ(m, 0600);
    wd_buf_cleanup(&b);
    CHECK_OK(read_text(dir, "b.pem", &b, &m));
    CHECK_STR(wd_buf_str(&b), "BUNDLE1");
    CHECK_EQ(m, 0600);
    wd_buf_cleanup(&b);

    /* Rotation replaces by rename: the old inode stays intact for whoever had it open. */
    char cp[256];
    (void)snprintf(cp, sizeof(cp), "%s/c.pem", dir);
    FILE *old = fopen(cp, "r");
    CHECK(old != NULL);
    struct stat before;
    CHECK_EQ(stat(cp, &before), 0);
    CHECK_OK(agt_sink_write(&s, "CHAIN2", "KEY2", "BUNDLE2", &d));
    struct stat after;
    CHECK_EQ(stat(cp, &after), 0);
    CHECK(before.st_ino != after.st_ino);
    char got[16] = {0};
    size_t n = fread(got, 1, sizeof(got) - 1, old);
    (void)fclose(old);
    CHECK_EQ(n, 6);
    CHECK_STR(got, "CHAIN1");
    CHECK_OK(read_text(dir, "c.pem", &b, &m));
    CHECK_STR(wd_buf_str(&b), "CHAIN2");
    wd_buf_cleanup(&b);
    /* No temporary files left behind. */
    char cmd[256];
    (void)snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 3", dir);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    CHECK_EQ(pclose(f), 0);
    rm_tmp();
}

TEST(sink_unwritable_dir_fails_cleanly)
{
    struct agt_sink s = {.dir = "/proc/agt-no-such/x", .cert = "c", .key = "k", .bundle = "b"};
    struct wd_diag d;
    CHECK_ERR(agt_sink_write(&s, "C", "K", "B", &d), WD_EIO);
    CHECK(strstr(d.msg, "/proc/agt-no-such/x") != NULL);
}

TEST(reload_runs_without_shell)
{
    CHECK_EQ(mk_tmp(), 0);
    char marker[128];
    (void)snprintf(marker, sizeof(marker), "%s/marker", tmpdir);
    /* A ";" argument would be a shell separator; with execve it is just an argument. */
    char *argv[] = {"/usr/bin/touch", marker, NULL};
    int status = -1;
    struct wd_diag d;
    CHECK_OK(agt_run_command(argv, 5000, &status, &d));
    CHECK_EQ(status, 0);
    CHECK_EQ(access(marker, F_OK), 0);
    char semi[160];
    (void)snprintf(semi, sizeof(semi), "%s;x", marker);
    char *argv2[] = {"/usr/bin/touch", semi, NULL};
    CHECK_OK(agt_run_command(argv2, 5000, &status, &d));
    CHECK_EQ(access(semi, F_OK), 0);
    (void)unlink(semi);
    rm_tmp();
}

TEST(reload_failures_are_reported_not_fatal)
{
    struct wd_diag d;
    int status = 0;
    char *f[] = {"/bin/false", NULL};
    CHECK_ERR(agt_run_command(f, 5000, &status, &d), WD_EIO);
    CHECK_EQ(status, 1);
    CHECK_STR(d.msg, "/bin/false: exited 1");

    char *missing[] = {"/nonexistent/agt-reload", NULL};
    CHECK_ERR(agt_run_command(missing, 5000, &status, &d), WD_EIO);
    CHECK_EQ(status, 127);

    char *rel[] = {"true", NULL};
    CHECK_ERR(agt_run_command(rel, 5000, &status, &d), WD_EINVAL);

    /* A command that hangs is killed at the timeout, with its process group. */
    char *hang[] = {"/bin/sleep", "30", NULL};
    int64_t t0 = wd_time_mono_ms();
    CHECK_ERR(agt_run_command(hang, 300, &status, &d), WD_EIO);
    int64_t took = wd_time_mono_ms() - t0;
    CHECK(took >= 300);
    CHECK(took < 5000);
    CHECK_EQ(status, 128 + SIGKILL);
    CHECK(strstr(d.msg, "timed out") != NULL);

    /* Killed by a signal. */
    char *selfkill[] = {"/bin/sh", "-c", "kill -TERM $$", NULL};
    CHECK_ERR(agt_run_command(selfkill, 5000, &status, &d), WD_EIO);
    CHECK_EQ(status, 128 + SIGTERM);
}

TEST(reload_gets_clean_environment_and_stdin)
{
    CHECK_EQ(mk_tmp(), 0);
    char out[128], script[512];
    (void)snprintf(out, sizeof(out), "%s/marker", tmpdir);
    /* The environment is PATH only; stdin is /dev/null; no inherited descriptor above 2. */
    int extra = dup(2);
    CHECK(extra > 2);
    (void)snprintf(script, sizeof(script),
                   "env > %s; test \"$(readlink /proc/$$/fd/0)\" = /dev/null || exit 3; "
                   "test -e /proc/$$/fd/%d && exit 4; exit 0",
                   out, extra);
    (void)setenv("AGT_SECRET_ENV", "x", 1);
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    int status = -1;
    struct wd_diag d;
    int rc = agt_run_command(argv, 5000, &status, &d);
    (void)unsetenv("AGT_SECRET_ENV");
    (void)close(extra);
    CHECK_OK(rc);
    CHECK_EQ(status, 0);
    struct wd_buf b;
    mode_t m;
    CHECK_OK(read_text(tmpdir, "marker", &b, &m));
    CHECK(strstr(wd_buf_str(&b), "PATH=") != NULL);
    CHECK(strstr(wd_buf_str(&b), "AGT_SECRET_ENV") == NULL);
    wd_buf_cleanup(&b);
    rm_tmp();
}

int main(void)
{
    RUN(sink_writes_three_files_0600);
    RUN(sink_unwritable_dir_fails_cleanly);
    RUN(reload_runs_without_shell);
    RUN(reload_failures_are_reported_not_fatal);
    RUN(reload_gets_clean_environment_and_stdin);
    return HARNESS_END("agent_sink");
}
