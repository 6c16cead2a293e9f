/* File sinks and reload commands (see sink.h). */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "warden/clock.h"
#include "warden/file.h"

static int write_one(const char *dir, const char *name, const char *text, struct wd_diag *diag)
{
    char path[4096 + 256 + 2];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "%s: path too long", dir);
    }
    return wd_file_write_atomic(path, text, strlen(text), 0600, diag);
}

int agt_sink_write(const struct agt_sink *s, const char *chain_pem, const char *key_pem,
                   const char *bundle_pem, struct wd_diag *diag)
{
    WD_TRY(wd_file_mkdir(s->dir, 0700, diag));
    WD_TRY(write_one(s->dir, s->key, key_pem, diag));
    WD_TRY(write_one(s->dir, s->bundle, bundle_pem, diag));
    WD_TRY(write_one(s->dir, s->cert, chain_pem, diag));
    return WD_OK;
}

/* In the child, between fork and execve: async-signal-safe calls only. */
static void child_exec(char *const argv[])
{
    static char *const envp[] = {
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};
    sigset_t none;
    (void)sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    (void)signal(SIGPIPE, SIG_DFL);
    (void)signal(SIGTERM, SIG_DFL);
    (void)signal(SIGINT, SIG_DFL);
    (void)signal(SIGHUP, SIG_DFL);
    (void)setpgid(0, 0);
    int nul = open("/dev/null", O_RDWR);
    if (nul != -1) {
        (void)dup2(nul, 0);
        if (nul > 0) {
            (void)close(nul);
        }
    }
    long maxfd = sysconf(_SC_OPEN_MAX);
    if (maxfd < 0 || maxfd > 65536) {
        maxfd = 65536;
    }
    for (long fd = 3; fd < maxfd; fd++) {
        (void)close((int)fd);
    }
    execve(argv[0], argv, envp);
    _exit(127);
}

int agt_run_command(char *const argv[], int64_t timeout_ms, int *exit_status, struct wd_diag *diag)
{
    if (exit_status != NULL) {
        *exit_status = -1;
    }
    if (argv == NULL || argv[0] == NULL || argv[0][0] != '/') {
        return wd_diag_set(diag, WD_EINVAL, NULL, 0, 0, "reload: no absolute program path");
    }
    pid_t pid = fork();
    if (pid == -1) {
        return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "%s: fork: %s", argv[0], strerror(errno));
    }
    if (pid == 0) {
        child_exec(argv);
    }
    /* Also from the parent, so the group exists before a timeout could signal it. */
    (void)setpgid(pid, pid);
    int64_t deadline = wd_time_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int status = 0;
    long sleep_ns = 1000000; /* 1 ms, doubling to 50 ms */
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            break;
        }
        if (r == -1 && errno != EINTR) {
            return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "%s: waitpid: %s", argv[0],
                               strerror(errno));
        }
        if (wd_time_mono_ms() >= deadline) {
            (void)kill(-pid, SIGKILL);
            (void)kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) == -1 && errno == EINTR) {
            }
            if (exit_status != NULL) {
                *exit_status = 128 + SIGKILL;
            }
            return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "%s: timed out after %lld ms, killed",
                               argv[0], (long long)timeout_ms);
        }
        struct timespec ts = {0, sleep_ns};
        (void)nanosleep(&ts, NULL);
        if (sleep_ns < 50000000) {
            sleep_ns *= 2;
        }
    }
    if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        if (exit_status != NULL) {
            *exit_status = code;
        }
        if (code == 127) {
            return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "%s: exited 127 (could not be run?)",
                               argv[0]);
        }
        if (code != 0) {
            return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "%s: exited %d", argv[0], code);
        }
        return WD_OK;
    }
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    if (exit_status != NULL) {
        *exit_status = 128 + sig;
    }
    return wd_diag_set(diag, WD_EIO, NULL, 0, 0, "%s: killed by signal %d", argv[0], sig);
}
