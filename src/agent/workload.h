/*
 * Workload attestation on the node: who is calling the Workload API (SO_PEERCRED pid, uid,
 * gid; the executable's path and SHA-256 read through /proc), and whether a registration
 * entry's selectors all match that caller.
 *
 * Pid reuse: a pid from SO_PEERCRED names the process that connected, but by the time the
 * agent looks at /proc/PID that process may have exited and another one may have the pid.
 * agt_proc_identify therefore reads the process start time (/proc/PID/stat field 22)
 * before and after reading the executable, refuses when they differ, refuses a process
 * that started after the connection was accepted (it cannot be the one that connected),
 * and checks the effective uid and gid in /proc/PID/status against SO_PEERCRED's.
 */
#ifndef AGT_WORKLOAD_H
#define AGT_WORKLOAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "warden/common.h"
#include "warden/doc.h"
#include "warden/err.h"

#define AGT_PATH_MAX          4096
#define AGT_DIGEST_CACHE_SIZE 64

/* What an entry requires of a caller; an absent selector matches anything. */
struct agt_selectors {
    bool has_uid, has_gid, has_path, has_sha256;
    uid_t uid;
    gid_t gid;
    char path[AGT_PATH_MAX]; /* absolute */
    uint8_t sha256[32];
};

/* What the agent found out about a caller. */
struct agt_caller {
    pid_t pid;
    uid_t uid;
    gid_t gid;
    char path[AGT_PATH_MAX]; /* the executable, as /proc/PID/exe names it */
    uint8_t sha256[32];      /* SHA-256 of the executable's bytes */
    uint64_t start_ticks;    /* process start time, clock ticks since boot */
};

/*
 * Whether every selector present in sel matches caller (all must match; an entry with no
 * selector at all never matches, as docs/api.md requires at least one). Pure.
 */
bool agt_selectors_match(const struct agt_selectors *sel, const struct agt_caller *caller);

/*
 * Read the "selectors" object of an entry as docs/api.md defines it: optional "uid" and
 * "gid" (integers 0..2^32-2), "path" (absolute), "sha256" (64 hex digits, either case);
 * at least one; no other key. doc/node borrowed. WD_EPROTO (diag set) when malformed.
 */
WD_MUST_USE int agt_selectors_from_json(const struct wd_doc *doc, const struct wd_node *node,
                                        struct agt_selectors *out, struct wd_diag *diag);

/* A small thread-safe cache of executable digests keyed by (dev, inode, mtime, size). */
struct agt_digest_cache {
    pthread_mutex_t mu;
    struct {
        bool used;
        dev_t dev;
        ino_t ino;
        int64_t mtime_ns, ctime_ns;
        off_t size;
        uint8_t sha256[32];
    } slot[AGT_DIGEST_CACHE_SIZE];
    size_t next; /* round-robin replacement */
    uint64_t hits, misses;
};

/* Initialise an empty cache. WD_EIO if the mutex cannot be made. */
WD_MUST_USE int agt_digest_cache_init(struct agt_digest_cache *c);
void agt_digest_cache_cleanup(struct agt_digest_cache *c);

/*
 * Process start time of pid in clock ticks since boot (/proc/PID/stat field 22), and its
 * state letter (may be NULL). WD_ENOENT when the process does not exist, WD_EPROTO when the
 * stat line is malformed.
 */
WD_MUST_USE int agt_proc_start_ticks(pid_t pid, uint64_t *out, char *state);

/*
 * Identify the process pid that connected with SO_PEERCRED credentials uid/gid, at a time
 * when the process must already have existed: not_after_ticks is the clock-tick time (since
 * boot, as agt_boot_ticks_now gives) at which the connection was known to exist, or 0 to
 * skip that check. Fills *out. Errors: WD_ENOENT (no such process, or it died during the
 * lookup), WD_EDENIED (pid reused: start time changed or is later than not_after_ticks; or
 * the process's effective uid/gid no longer match), WD_EIO (cannot read the executable),
 * WD_EPROTO. cache (may be NULL) is used and updated. Thread-safe.
 */
WD_MUST_USE int agt_proc_identify(pid_t pid, uid_t uid, gid_t gid, uint64_t not_after_ticks,
                                  struct agt_digest_cache *cache, struct agt_caller *out);

/* Now, in clock ticks since boot (CLOCK_BOOTTIME scaled by sysconf(_SC_CLK_TCK)), rounded up. */
uint64_t agt_boot_ticks_now(void);

#endif
