#!/usr/bin/env bash
# warden-agent (src/agent) against a real warden-control, attesting with a join token:
#
#  - --check-config accepts the config and refuses an unknown key with file:line:col;
#  - the agent attests with a single-use join token, gets a node SVID, keeps it in its
#    state directory (0700, files 0600) and serves the Workload API on a unix socket;
#  - through the Workload API (curl --unix-socket), a process running as uid 1001 gets only
#    spiffe://example.org/u1 and one running as uid 1002 only spiffe://example.org/u2; a
#    process of uid 1003 whose entry also requires another executable's SHA-256 gets 403,
#    as does a uid with no entry; the chain verifies with `openssl verify` against the
#    bundle it came with and the returned key belongs to the leaf;
#  - an entry with a 20 s TTL is rotated at about half its TTL, and a watch on the current
#    version returns with the new SVID;
#  - a file sink writes chain/key/bundle (0600) and runs its reload command (execve);
#  - while the control plane is down the agent keeps serving its SVIDs and retries; it
#    recovers when the control plane is back;
#  - no private key or token reaches the agent's log;
#  - a restart reuses the stored node SVID (the token is spent: re-attesting would fail);
#  - SIGTERM stops the agent cleanly (exit 0, socket removed).
. "$(dirname "$0")/lib.sh"
need curl openssl setpriv python3

CONTROL=$WD_BIN/warden-control
AGENT=$WD_BIN/warden-agent
[ -x "$CONTROL" ] || fail "no warden-control at $CONTROL"
[ -x "$AGENT" ] || fail "no warden-agent at $AGENT"
[ "$(id -u)" -eq 0 ] || fail "must run as root (to call the Workload API as other uids)"

# Other uids must be able to reach the socket: $T is 0700 from mktemp.
chmod 0755 "$T"

run_ok init "$CONTROL" init --dir "$T/ctl" --trust-domain example.org
PORT=$(free_port)
spawn control "$CONTROL" run --dir "$T/ctl" --listen "127.0.0.1:$PORT"
CONTROL_PID=$SPAWNED
wait_port "$PORT" 20 || {
    cat "$T/logs/control.log" >&2
    fail "warden-control did not come up"
}
URL=https://127.0.0.1:$PORT

# admin METHOD PATH [BODY]: a call with the admin SVID. curl checks host names, which SVIDs
# do not carry, so server verification is left to the agent (which checks the SPIFFE ID).
admin() {
    curl -sS -k --cert "$T/ctl/admin.pem" --key "$T/ctl/admin.key" -X "$1" \
        ${3:+-H 'Content-Type: application/json' -d "$3"} "$URL$2"
}
json_get() {
    python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

TOKEN=$(admin POST /v1/admin/tokens '{"node":"node-a","ttl":"10m"}' | json_get token) \
    || fail "no join token"
[ -n "$TOKEN" ] || fail "empty join token"
printf '%s\n' "$TOKEN" >"$T/token"
chmod 0600 "$T/token"

other_sha=$(printf 'not-curl' | sha256sum | cut -d' ' -f1)
admin POST /v1/admin/entries \
    '{"spiffe_id":"spiffe://example.org/u1","node":"node-a","selectors":{"uid":1001},"ttl":"1h"}' \
    >"$T/e1.json" || fail "entry u1"
admin POST /v1/admin/entries \
    '{"spiffe_id":"spiffe://example.org/u2","node":"node-a","selectors":{"uid":1002}}' \
    >"$T/e2.json" || fail "entry u2"
admin POST /v1/admin/entries \
    "{\"spiffe_id\":\"spiffe://example.org/u3\",\"node\":\"node-a\",\"selectors\":{\"uid\":1003,\"sha256\":\"$other_sha\"}}" \
    >"$T/e3.json" || fail "entry u3"
admin POST /v1/admin/entries \
    '{"spiffe_id":"spiffe://example.org/short","node":"node-a","selectors":{"uid":1005},"ttl":"20s"}' \
    >"$T/e5.json" || fail "entry short"
grep -q '"id"' "$T/e5.json" || fail "entries not created: $(cat "$T/e5.json")"

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
  watch_max: 30s
heartbeat: 5s
log_level: debug
sinks:
  - spiffe_id: spiffe://example.org/u1
    dir: $T/sink
    reload: [/usr/bin/touch, $T/reloaded]
    reload_timeout: 5s
EOF

# --check-config: ok, and a typo is refused with its position.
run_ok check "$AGENT" --config "$T/agent.yaml" --check-config
sed 's/^heartbeat:/heartbaet:/' "$T/agent.yaml" >"$T/bad.yaml"
run_fails check-bad "$AGENT" --config "$T/bad.yaml" --check-config
grep -q "bad.yaml:11:1: unknown key 'heartbaet'" "$T/logs/check-bad.err" \
    || fail "check-config: unexpected message: $(cat "$T/logs/check-bad.err")"

spawn agent "$AGENT" --config "$T/agent.yaml"
AGENT_PID=$SPAWNED
wait_log "$T/logs/agent.log" 'workload api on' 20 || {
    cat "$T/logs/agent.log" >&2
    fail "agent did not start its Workload API"
}
grep -q 'attested with a join token as spiffe://example.org/warden/node/node-a' \
    "$T/logs/agent.log" || fail "no join-token attestation in the log"
wait_log "$T/logs/agent.log" 'for spiffe://example.org/u2 valid' 20 || {
    cat "$T/logs/agent.log" >&2
    fail "no workload SVIDs issued"
}

# State directory: 0700, files 0600.
[ "$(stat -c %a "$T/state")" = 700 ] || fail "state dir mode $(stat -c %a "$T/state")"
for f in node.key node.pem bundle.pem; do
    [ "$(stat -c %a "$T/state/$f")" = 600 ] || fail "state/$f mode"
done
[ "$(spiffe_id_of "$T/state/node.pem")" = spiffe://example.org/warden/node/node-a ] \
    || fail "node SVID names the wrong node"

# fetch UID NAME [QUERY]: GET /v1/svid as uid UID; body in $T/NAME.json, status echoed.
# (The body comes back on stdout: uid $1 may not write into $T.)
fetch() {
    local out
    out=$(setpriv --reuid="$1" --regid="$1" --clear-groups \
        curl -sS -m 40 -w '\n%{http_code}' --unix-socket "$SOCK" \
        "http://localhost/v1/svid${3:+?$3}") || return 1
    printf '%s' "${out%$'\n'*}" >"$T/$2.json"
    printf '%s' "${out##*$'\n'}"
}
ids_of() {
    python3 -c 'import json,sys; print(" ".join(s["spiffe_id"] for s in json.load(open(sys.argv[1]))["svids"]))' "$1"
}
# extract FILE INDEX FIELD OUT: one field of one SVID of a Workload API answer, to a file.
extract() {
    python3 -c 'import json,sys; open(sys.argv[4],"w").write(json.load(open(sys.argv[1]))["svids"][int(sys.argv[2])][sys.argv[3]])' "$@"
}

code=$(fetch 1001 u1) || fail "fetch as 1001"
[ "$code" = 200 ] || fail "uid 1001: HTTP $code: $(cat "$T/u1.json")"
[ "$(ids_of "$T/u1.json")" = spiffe://example.org/u1 ] || fail "uid 1001 got: $(ids_of "$T/u1.json")"
code=$(fetch 1002 u2) || fail "fetch as 1002"
[ "$code" = 200 ] || fail "uid 1002: HTTP $code"
[ "$(ids_of "$T/u2.json")" = spiffe://example.org/u2 ] || fail "uid 1002 got: $(ids_of "$T/u2.json")"
code=$(fetch 1003 u3) || true
[ "$code" = 403 ] || fail "uid 1003 (sha256 selector of another binary): HTTP $code"
grep -q '"reason":"no-matching-entry"' "$T/u3.json" || fail "403 body: $(cat "$T/u3.json")"
code=$(fetch 1004 u4) || true
[ "$code" = 403 ] || fail "uid 1004 (no entry): HTTP $code"

# The chain verifies against the bundle it came with; the key is the leaf's.
extract "$T/u1.json" 0 svid_pem "$T/u1-chain.pem"
extract "$T/u1.json" 0 bundle_pem "$T/u1-bundle.pem"
extract "$T/u1.json" 0 key_pem "$T/u1-key.pem"
split_chain "$T/u1-chain.pem" "$T/u1-leaf.pem" "$T/u1-inter.pem"
openssl verify -CAfile "$T/u1-bundle.pem" -untrusted "$T/u1-inter.pem" "$T/u1-leaf.pem" \
    >"$T/logs/verify.log" 2>&1 || fail "openssl verify: $(cat "$T/logs/verify.log")"
cmp -s "$T/u1-bundle.pem" "$T/ctl/bundle.pem" || log "note: bundle differs from ctl/bundle.pem"
[ "$(openssl x509 -in "$T/u1-leaf.pem" -noout -pubkey)" = "$(openssl pkey -in "$T/u1-key.pem" -pubout)" ] \
    || fail "the key does not belong to the leaf"
[ "$(spiffe_id_of "$T/u1-leaf.pem")" = spiffe://example.org/u1 ] || fail "leaf SPIFFE ID"

# The file sink and its reload command.
wait_log "$T/logs/agent.log" 'sink spiffe://example.org/u1: wrote' 10 || fail "sink not written"
for f in svid.pem svid.key bundle.pem; do
    [ -f "$T/sink/$f" ] || fail "sink/$f missing"
    [ "$(stat -c %a "$T/sink/$f")" = 600 ] || fail "sink/$f mode $(stat -c %a "$T/sink/$f")"
done
for _ in $(seq 50); do
    [ -f "$T/reloaded" ] && break
    sleep 0.1
done
[ -f "$T/reloaded" ] || fail "the reload command did not run"
[ "$(spiffe_id_of "$T/sink/svid.pem")" = spiffe://example.org/u1 ] || fail "sink certificate"

# Rotation at half the TTL, seen through a watch.
code=$(fetch 1005 s0) || fail "fetch as 1005"
[ "$code" = 200 ] || fail "uid 1005: HTTP $code"
v0=$(json_get version <"$T/s0.json")
serial0=$(extract "$T/s0.json" 0 svid_pem "$T/s0.pem" && openssl x509 -in "$T/s0.pem" -noout -serial)
start=$(date +%s)
code=$(fetch 1005 s1 "watch=$v0") || fail "watch as 1005"
took=$(($(date +%s) - start))
[ "$code" = 200 ] || fail "watch: HTTP $code"
v1=$(json_get version <"$T/s1.json")
[ "$v1" != "$v0" ] || fail "watch returned the same version after ${took}s"
serial1=$(extract "$T/s1.json" 0 svid_pem "$T/s1.pem" && openssl x509 -in "$T/s1.pem" -noout -serial)
[ "$serial1" != "$serial0" ] || fail "the SVID did not change"
# Renewal is due half a TTL after the first SVID was issued (its notBefore is backdated by
# 30 s), whatever this test did in between: 10 s with +-10 % jitter, plus scheduling slack.
nb=$(date -d "$(openssl x509 -in "$T/s0.pem" -noout -startdate | cut -d= -f2)" +%s)
age=$(($(date +%s) - nb - 30))
[ "$age" -ge 8 ] && [ "$age" -le 25 ] \
    || fail "rotation ${age}s after issuance (watch took ${took}s), expected about 10s"

# The control plane goes away: SVIDs keep being served, the agent retries with backoff, and
# it recovers when the control plane is back (same port, same store).
stop "$CONTROL_PID"
sleep 2
code=$(fetch 1001 down) || fail "fetch while the control plane is down"
[ "$code" = 200 ] || fail "control plane down: HTTP $code"
[ "$(ids_of "$T/down.json")" = spiffe://example.org/u1 ] || fail "control plane down: wrong SVIDs"
kill -0 "$AGENT_PID" 2>/dev/null || fail "the agent died without its control plane"
wait_log "$T/logs/agent.log" 'warn: control plane: .*/v1/node/' 15 || fail "no failed call logged"
before=$(grep -c 'heartbeat ok' "$T/logs/agent.log")
spawn control2 "$CONTROL" run --dir "$T/ctl" --listen "127.0.0.1:$PORT"
CONTROL_PID=$SPAWNED
wait_port "$PORT" 20 || fail "warden-control did not come back"
for _ in $(seq 200); do
    [ "$(grep -c 'heartbeat ok' "$T/logs/agent.log")" -gt "$before" ] && break
    sleep 0.1
done
[ "$(grep -c 'heartbeat ok' "$T/logs/agent.log")" -gt "$before" ] \
    || fail "no heartbeat after the control plane came back"

# Secrets never reach the log.
if grep -q 'PRIVATE KEY' "$T/logs/agent.log"; then
    fail "a private key in the agent log"
fi
if grep -qF "$TOKEN" "$T/logs/agent.log"; then
    fail "the join token in the agent log"
fi

# SIGTERM: clean stop.
kill -TERM "$AGENT_PID"
wait_exit "$AGENT_PID" 10 || fail "agent did not stop on SIGTERM"
[ "$EXIT_STATUS" -eq 0 ] || fail "agent exited $EXIT_STATUS"
[ ! -e "$SOCK" ] || fail "socket left behind"

# Restart: the stored node SVID is used (the token is spent, so attesting again would fail).
spawn agent2 "$AGENT" --config "$T/agent.yaml"
AGENT_PID=$SPAWNED
wait_log "$T/logs/agent2.log" 'workload api on' 20 || {
    cat "$T/logs/agent2.log" >&2
    fail "restarted agent did not come up"
}
grep -q 'state: node SVID spiffe://example.org/warden/node/node-a' "$T/logs/agent2.log" \
    || fail "restart did not use the stored node SVID"
if grep -q 'attested with' "$T/logs/agent2.log"; then
    fail "restart attested again"
fi
wait_log "$T/logs/agent2.log" 'for spiffe://example.org/u1 valid' 20 || fail "no SVIDs after restart"
code=$(fetch 1001 u1b) || fail "fetch after restart"
[ "$code" = 200 ] || fail "after restart: HTTP $code"
kill -TERM "$AGENT_PID"
wait_exit "$AGENT_PID" 10 || fail "agent did not stop"
[ "$EXIT_STATUS" -eq 0 ] || fail "agent exited $EXIT_STATUS"
stop "$CONTROL_PID"
pass
