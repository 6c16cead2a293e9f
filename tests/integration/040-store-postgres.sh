#!/usr/bin/env bash
# The store test suite (tests/tools/store_suite.h, the same one the SQLite unit test runs)
# against a real PostgreSQL that this test starts itself: initdb into the temp dir, a
# server on 127.0.0.1 with an ephemeral port and a private socket directory, a scratch
# database, then tests/tools/store_test. It covers migrations, every operation, single-use
# tokens and sessions under concurrency, two handles (two control-plane replicas) issuing
# 1,000 serials each with no duplicate, a deny-list poller that misses nothing, and a writer
# killed with SIGKILL mid-stream. A second pass runs with the server's default isolation
# raised to SERIALIZABLE: the store must not depend on the server's defaults.
. "$(dirname "$0")/lib.sh"

PGBIN=$(find /usr/lib/postgresql -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] \
    || fail "PostgreSQL server binaries not found under /usr/lib/postgresql (run scripts/install-deps.sh)"
STORE_TEST=${WD_TOOLS:-$WD_ROOT/build/debug/tools}/store_test
[ -x "$STORE_TEST" ] || fail "no store_test at $STORE_TEST (make builds it into build/<type>/tools)"

# PostgreSQL refuses to run as root: as root, the server runs as the postgres user in a
# directory it owns (the temp dir is made traversable for it).
PG=$T/pg
mkdir -p "$PG/sock"
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || fail "running as root but there is no postgres user"
    chmod 711 "$T"
    chown -R postgres: "$PG"
    AS=(runuser -u postgres --)
else
    AS=()
fi

PORT=$(free_port)
pg_stop() {
    if [ -f "$PG/data/postmaster.pid" ]; then
        "${AS[@]}" "$PGBIN/pg_ctl" -D "$PG/data" -m immediate -w stop >/dev/null 2>&1
    fi
    return 0
}
# Stop the server before lib.sh's cleanup removes its directory; keep the exit status.
on_exit() {
    local rc=$?
    pg_stop
    (exit "$rc")
    wd_cleanup
}
trap on_exit EXIT

log "initdb in $PG/data"
run_ok initdb "${AS[@]}" "$PGBIN/initdb" -D "$PG/data" -U postgres --auth=trust -E UTF8 \
    --locale=C.UTF-8 --no-sync

pg_start() {
    log "starting PostgreSQL on 127.0.0.1:$PORT $*"
    run_ok pg_ctl "${AS[@]}" "$PGBIN/pg_ctl" -D "$PG/data" -l "$PG/server.log" -w -t 30 \
        -o "-h 127.0.0.1 -p $PORT -k $PG/sock $*" start
}

run_suite() {
    local name=$1 out
    out=$T/logs/$name.log
    timeout 300 "$STORE_TEST" --wipe "postgresql://postgres@127.0.0.1:$PORT/wd" >"$out" 2>&1
    local status=$?
    grep -v '^ok ' "$out" | sed 's/^/    /' >&2
    [ "$status" -eq 0 ] || fail "$name: store_test exited with $status"
    tail -n 1 "$out" | grep -qE '^store-postgresql: [0-9]+ passed, 0 failed$' \
        || fail "$name: the suite did not pass"
    log "$name: $(tail -n 1 "$out")"
}

pg_start
run_ok createdb "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres wd
run_suite suite-default

pg_stop
pg_start "-c default_transaction_isolation=serializable"
run_suite suite-serializable

pass
