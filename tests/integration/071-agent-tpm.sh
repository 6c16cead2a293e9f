#!/usr/bin/env bash
# warden-agent attesting with a TPM 2.0 (swtpm) against a real warden-control:
#
#  - EK (template L-1) with the certificate swtpm_setup wrote, checked by the control plane
#    against the local EK CA; AK created under it and persisted in the state directory;
#    MakeCredential/ActivateCredential, quote over the server nonce, node SVID whose claims
#    say "tpm";
#  - heartbeats carry fresh quotes and keep the node trusted; workload SVIDs are served;
#  - a restart reloads the AK from its blobs and keeps the node SVID (no new enrolment);
#  - after a PCR the node's first quote covered is extended (agent stopped meanwhile), the
#    next heartbeat's quote is refused (pcr-value), the node becomes untrusted, goes on the
#    deny list and is refused new SVIDs even with its unexpired node SVID (node-untrusted),
#    while the agent keeps running.
. "$(dirname "$0")/lib.sh"
need curl openssl python3 swtpm swtpm_setup swtpm_localca tpm2_getrandom tpm2_pcrextend

CONTROL=$WD_BIN/warden-control
AGENT=$WD_BIN/warden-agent
[ -x "$CONTROL" ] || fail "no warden-control at $CONTROL"
[ -x "$AGENT" ] || fail "no warden-agent at $AGENT"
chmod 0755 "$T"

swtpm_manufacture "$T/tpm" || {
    sed 's/^/    /' "$T/logs/swtpm_setup.log" >&2
    fail "swtpm_setup failed"
}
swtpm_start "$T/tpm" || fail "swtpm did not come up"
log "swtpm on $SWTPM_TCTI"

run_ok init "$CONTROL" init --dir "$T/ctl" --trust-domain example.org
cat >>"$T/ctl/control.yaml" <<EOF
heartbeat: 2s
tpm:
  ek_ca_dir: $T/tpm/cadir
  pcrs: "sha256:0,1,2,3,7"
EOF
PORT=$(free_port)
spawn control "$CONTROL" run --dir "$T/ctl" --listen "127.0.0.1:$PORT"
CONTROL_PID=$SPAWNED
wait_port "$PORT" 20 || {
    cat "$T/logs/control.log" >&2
    fail "warden-control did not come up"
}
URL=https://127.0.0.1:$PORT
admin() {
    curl -sS -k --cert "$T/ctl/admin.pem" --key "$T/ctl/admin.key" -X "$1" \
        ${3:+-H 'Content-Type: application/json' -d "$3"} "$URL$2"
}
admin POST /v1/admin/entries \
    '{"spiffe_id":"spiffe://example.org/root-svc","node":"node-t","selectors":{"uid":0}}' \
    >"$T/e.json" || fail "entry"
grep -q '"id"' "$T/e.json" || fail "entry not created: $(cat "$T/e.json")"

SOCK=$T/agent.sock
cat >"$T/agent.yaml" <<EOF
node: node-t
control:
  url: $URL
  trust_bundle: $T/ctl/bundle.pem
state_dir: $T/state
attestation:
  tpm:
    tcti: $SWTPM_TCTI
    ek: rsa
workload_api:
  socket: $SOCK
log_level: debug
EOF
run_ok check "$AGENT" --config "$T/agent.yaml" --check-config

spawn agent "$AGENT" --config "$T/agent.yaml"
AGENT_PID=$SPAWNED
wait_log "$T/logs/agent.log" 'workload api on' 30 || {
    cat "$T/logs/agent.log" "$T/logs/control.log" >&2
    fail "agent did not come up"
}
grep -q 'attested with the TPM as spiffe://example.org/warden/node/node-t' "$T/logs/agent.log" \
    || fail "no TPM attestation in the log"
for f in ak.pub ak.priv node.key node.pem; do
    [ "$(stat -c %a "$T/state/$f")" = 600 ] || fail "state/$f missing or not 0600"
done
# The node SVID's claims name the attestation method (DER or JSON inside the extension).
openssl x509 -in "$T/state/node.pem" -noout -text >"$T/node.txt"
grep -q tpm "$T/node.txt" || fail "node SVID claims do not say tpm"

# Heartbeats with quotes, at the control plane's 2 s.
wait_log "$T/logs/agent.log" 'heartbeat ok' 10 || fail "no heartbeat"
sleep 5
n=$(grep -c 'heartbeat ok' "$T/logs/agent.log")
[ "$n" -ge 3 ] || fail "only $n heartbeats in 5 s"
admin GET /v1/admin/nodes/node-t >"$T/node.json"
grep -q '"trusted":true' "$T/node.json" || fail "node not trusted: $(cat "$T/node.json")"

code=$(curl -sS -m 20 -o "$T/svid.json" -w '%{http_code}' --unix-socket "$SOCK" http://localhost/v1/svid)
[ "$code" = 200 ] || fail "Workload API: HTTP $code"
grep -q 'spiffe://example.org/root-svc' "$T/svid.json" || fail "no SVID for uid 0"

# Restart: AK reloaded from the state, node SVID kept, no enrolment.
kill -TERM "$AGENT_PID"
wait_exit "$AGENT_PID" 10 || fail "agent did not stop"
[ "$EXIT_STATUS" -eq 0 ] || fail "agent exited $EXIT_STATUS"
spawn agent2 "$AGENT" --config "$T/agent.yaml"
AGENT_PID=$SPAWNED
wait_log "$T/logs/agent2.log" 'heartbeat ok' 30 || {
    cat "$T/logs/agent2.log" >&2
    fail "no heartbeat after restart"
}
grep -q 'state: node SVID' "$T/logs/agent2.log" || fail "restart did not use the stored SVID"
if grep -q 'attested with' "$T/logs/agent2.log"; then
    fail "restart enrolled again"
fi
kill -TERM "$AGENT_PID"
wait_exit "$AGENT_PID" 10 || fail "agent did not stop"

# Change PCR 7 while the agent is down (no resource manager: one client at a time).
run_ok extend tpm2_pcrextend -T "$SWTPM_TCTI" \
    7:sha256=0000000000000000000000000000000000000000000000000000000000000001
spawn agent3 "$AGENT" --config "$T/agent.yaml"
AGENT_PID=$SPAWNED
wait_log "$T/logs/agent3.log" 'heartbeat: 403|/v1/node/heartbeat: 403' 30 || {
    cat "$T/logs/agent3.log" >&2
    fail "the changed PCR was not refused"
}
grep -q 'pcr-value' "$T/logs/agent3.log" || fail "refusal reason is not pcr-value"
admin GET /v1/admin/nodes/node-t >"$T/node2.json"
grep -q '"trusted":false' "$T/node2.json" || fail "node still trusted: $(cat "$T/node2.json")"
# The untrusted node is on the deny list, and no new SVID is signed for it, even when it
# asks with its (still unexpired) node SVID.
admin GET '/v1/denylist?since=0' >"$T/deny.json"
python3 - "$T/deny.json" <<'PY' || fail "node-t is not on the deny list: $(cat "$T/deny.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert any(c["kind"] == "node" and c["subject"] == "node-t" and c["active"] for c in d["changes"])
PY
entry_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/e.json")
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/w.key" \
    -subj "/CN=w" -out "$T/w.csr" 2>/dev/null || fail "openssl req"
python3 -c 'import json,sys; print(json.dumps({"requests": [{"entry_id": sys.argv[1], "csr": open(sys.argv[2]).read()}]}))' \
    "$entry_id" "$T/w.csr" >"$T/svids.json"
code=$(curl -sS -k --cert "$T/state/node.pem" --key "$T/state/node.key" -o "$T/svids.out" \
    -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T/svids.json" \
    "$URL/v1/node/svids") || fail "curl /v1/node/svids"
[ "$code" = 403 ] && grep -q node-untrusted "$T/svids.out" \
    || fail "an untrusted node got HTTP $code: $(cat "$T/svids.out")"
sleep 1
kill -0 "$AGENT_PID" 2>/dev/null || fail "the agent died after the refusal"
kill -TERM "$AGENT_PID"
wait_exit "$AGENT_PID" 10 || fail "agent did not stop"
[ "$EXIT_STATUS" -eq 0 ] || fail "agent exited $EXIT_STATUS"
stop "$CONTROL_PID"
pass
