/*
 * File sinks: an SVID written to files for a program that cannot call the Workload API
 * (nginx, mosquitto), and the command that tells it to reload them.
 */
#ifndef AGT_SINK_H
#define AGT_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "warden/common.h"
#include "warden/err.h"

#include "config.h"

/*
 * Write the three files of sink s in s->dir (created 0700 if missing): s->cert (chain PEM,
 * leaf first), s->key (PKCS#8 PEM) and s->bundle (trust bundle PEM). Each is replaced
 * atomically (temporary file, fsync, rename) with mode 0600, in the order key, bundle, cert,
 * so that a reader that sees the new certificate also finds its key. All arguments borrowed. WD_EIO
 * with diag (never quoting file contents).
 */
WD_MUST_USE int agt_sink_write(const struct agt_sink *s, const char *chain_pem, const char *key_pem,
                               const char *bundle_pem, struct wd_diag *diag);

/*
 * Run argv (argv[0] an absolute path; NULL-terminated) with fork + execve, never a shell,
 * with stdin on /dev/null, other descriptors closed, an empty signal mask, in its own
 * process group and with a fixed environment (PATH only). Wait at most timeout_ms; on
 * timeout kill the whole process group (SIGKILL) and reap it. *exit_status (may be NULL)
 * gets the exit code, or 128 + signal number. WD_OK when it exited 0; WD_EIO otherwise
 * (failed to start, non-zero exit, killed, timed out) with diag saying which. Thread-safe
 * (reaps only its own child).
 */
WD_MUST_USE int agt_run_command(char *const argv[], int64_t timeout_ms, int *exit_status,
                                struct wd_diag *diag);

#endif
