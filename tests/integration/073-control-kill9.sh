#!/usr/bin/env bash
# kill -9 of warden-control (SQLite store) in the middle of 1,000 issuances, then a restart:
#
#  - tests/tools/control_load issue-n issues 1,000 workload SVIDs one call at a time and
#    retries with backoff while the control plane is down; it completes all 1,000;
#  - the database passes `PRAGMA integrity_check`, both right after the kill and at the end;
#  - every serial the client received is in the svids table exactly once (an SVID is
#    answered only after its record is committed); the table holds no duplicate serial;
#  - a warden-agent (join token) that was running all along recovers on its own: its
#    heartbeats succeed again, `warden node list` shows the node trusted, and its Workload
#    API serves an SVID of an entry created after the restart (so fetched from the new
#    control plane process).
. "$(dirname "$0")/lib.sh"
need curl openssl python3 sqlite3
need_warden

CONTROL=$WD_BIN/warden-control
AGENT=$WD_BIN/warden-agent
TOOLS=${WD_TOOLS:-$WD_ROOT/build/debug/tools}
LOAD=$TOOLS/control_load
[ -x "$CONTROL" ] || fail "no warden-control at $CONTROL"
[ -x "$AGENT" ] || fail "no warden-agent at $AGENT"
[ -x "$LOAD" ] || fail "no control_load at $LOAD (make $TOOLS/control_load)"
N=1000

run_ok init "$CONTROL" init --dir "$T/ctl" --trust-domain example.org
DB=$T/ctl/control.db
PORT=$(free_port)
spawn control "$CONTROL" run --dir "$T/ctl" --listen "127.0.0.1:$PORT"
CONTROL_PID=$SPAWNED
wait_port "$PORT" 20 || {
    cat "$T/logs/control.log" >&2
    fail "warden-control did not come up"
}
URL=https://127.0.0.1:$PORT
export WARDEN_CONTROL=$URL WARDEN_CONTROL_DIR=$T/ctl

# The agent: join token, one entry for uid 0 (this test), heartbeat 2 s (its own setting:
# the control plane keeps its 60 s, so the load's node, which never beats, stays trusted).
"$WARDEN" token create --node node-a --ttl 10m >"$T/token" 2>"$T/logs/token.err" \
    || fail "token create: $(cat "$T/logs/token.err")"
chmod 0600 "$T/token"
"$WARDEN" entry create --spiffe-id spiffe://example.org/before --node node-a --uid 0 \
    >/dev/null || fail "entry create"
SOCK=$T/agent.sock
cat >"$T/agent.yaml" <<EOF
node: node-a
control:
  url: $URL
  trust_bundle: $T/ctl/bundle.pem
state_dir: $T/state
attestation:
  join_token_file: $T/token
workload_api:
  socket: $SOCK
heartbeat: 2s
log_level: debug
EOF
spawn agent "$AGENT" --config "$T/agent.yaml"
AGENT_PID=$SPAWNED
wait_log "$T/logs/agent.log" 'for spiffe://example.org/before valid' 20 || {
    cat "$T/logs/agent.log" >&2
    fail "agent got no SVID"
}

# The load: 1,000 SVIDs, one per call, serials to $T/serials.
spawn load "$LOAD" issue-n "$URL" "$T/ctl" load-node "$N" 1
LOAD_PID=$SPAWNED
count() { grep -c '^serial ' "$T/logs/load.log" || true; }
for _ in $(seq 300); do
    [ "$(count)" -ge 300 ] && break
    kill -0 "$LOAD_PID" 2>/dev/null || break
    sleep 0.1
done
before=$(count)
[ "$before" -ge 300 ] && [ "$before" -lt "$N" ] \
    || fail "could not catch the load mid-way ($before SVIDs): $(tail -n 3 "$T/logs/load.log")"

kill -KILL "$CONTROL_PID"
wait "$CONTROL_PID" 2>/dev/null
log "killed warden-control after $before SVIDs"
ic=$(sqlite3 "$DB" 'PRAGMA integrity_check;' 2>&1) || fail "sqlite3 after the kill: $ic"
[ "$ic" = ok ] || fail "integrity_check after the kill: $ic"
sleep 1
beats=$(grep -c 'heartbeat ok' "$T/logs/agent.log")
spawn control2 "$CONTROL" run --dir "$T/ctl" --listen "127.0.0.1:$PORT"
CONTROL_PID=$SPAWNED
wait_port "$PORT" 20 || {
    cat "$T/logs/control2.log" >&2
    fail "warden-control did not restart"
}

wait_exit "$LOAD_PID" 60 || fail "control_load did not finish"
[ "$EXIT_STATUS" -eq 0 ] || fail "control_load exited $EXIT_STATUS: $(tail -n 3 "$T/logs/load.log")"
grep -qE "^issued: $N retries=[1-9]" "$T/logs/load.log" \
    || fail "control_load: $(grep '^issued' "$T/logs/load.log") (expected $N, with retries)"
sed -n 's/^serial //p' "$T/logs/load.log" | sort >"$T/got"
[ "$(wc -l <"$T/got")" -eq "$N" ] || fail "$(wc -l <"$T/got") serials printed, expected $N"
[ -z "$(uniq -d "$T/got")" ] || fail "a serial was received twice"

# Every received serial is in the table exactly once.
sqlite3 "$DB" "SELECT lower(hex(serial)) FROM svids WHERE node = 'load-node' AND entry_id IS NOT NULL;" | sort \
    >"$T/stored" || fail "cannot read the svids table"
missing=$(comm -23 "$T/got" "$T/stored" | wc -l)
[ "$missing" -eq 0 ] || fail "$missing received serials are not in the store"
dups=$(sqlite3 "$DB" 'SELECT count(*) - count(DISTINCT serial) FROM svids;')
[ "$dups" = 0 ] || fail "$dups duplicate serials in the store"
stored=$(wc -l <"$T/stored")
log "received $N serials; the store has $stored for the load node"
[ "$stored" -ge "$N" ] && [ "$stored" -le $((N + 1)) ] \
    || fail "the store has $stored SVIDs for $N received (at most one may have been lost in flight)"

# The agent recovered by itself: heartbeats, trusted, and an entry made after the restart.
for _ in $(seq 100); do
    [ "$(grep -c 'heartbeat ok' "$T/logs/agent.log")" -gt "$beats" ] && break
    sleep 0.1
done
[ "$(grep -c 'heartbeat ok' "$T/logs/agent.log")" -gt "$beats" ] \
    || fail "no heartbeat after the restart"
kill -0 "$AGENT_PID" 2>/dev/null || fail "the agent died"
"$WARDEN" node list >"$T/nodes" || fail "node list"
grep -qE '^node-a +join-token +trusted ' "$T/nodes" || fail "node list: $(cat "$T/nodes")"
"$WARDEN" entry create --spiffe-id spiffe://example.org/after --node node-a --uid 0 \
    >/dev/null || fail "entry create after the restart"
ok=
for _ in $(seq 100); do
    code=$(curl -sS -m 10 -o "$T/svid.json" -w '%{http_code}' --unix-socket "$SOCK" \
        http://localhost/v1/svid) || true
    if [ "$code" = 200 ] && grep -q 'spiffe://example.org/after' "$T/svid.json"; then
        ok=1
        break
    fi
    sleep 0.1
done
[ -n "$ok" ] || fail "the agent's Workload API has no SVID for the new entry (HTTP $code)"

stop "$AGENT_PID"
stop "$CONTROL_PID"
ic=$(sqlite3 "$DB" 'PRAGMA integrity_check;' 2>&1)
[ "$ic" = ok ] || fail "integrity_check at the end: $ic"
grep -qiE 'AddressSanitizer|runtime error' "$T/logs/control2.log" "$T/logs/load.log" \
    && fail "sanitizer report"
pass
