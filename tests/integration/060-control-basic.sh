#!/usr/bin/env bash
# warden-control on its own, driven with curl and openssl: init (files, modes, refusing to
# overwrite), a malformed config refused with file:line:col, run on a kernel-chosen port,
# the serving SVID checked by openssl against bundle.pem, healthz, admin calls with the
# admin SVID (and refused without it, or with another trust domain's), join-token enrolment
# with an openssl-made CSR, entries CRUD, workload SVIDs, revocation and the deny list,
# metrics moving, the audit log (no secrets; SIGHUP reopens it), a clean SIGTERM stop, and
# after restarts: state kept, a node without heartbeats untrusted after the grace, the IP
# fence.
#
# WD_CONTROL_STORE=postgresql runs the same test on a PostgreSQL the test starts (062 does).
. "$(dirname "$0")/lib.sh"
need openssl curl python3
STORE_ARGS=()
DB_FILE=control.db
if [ "${WD_CONTROL_STORE:-sqlite}" = postgresql ]; then
    pg_up
    STORE_ARGS=(--store "$PG_URL")
    DB_FILE=
    log "store: $PG_URL"
fi

CONTROL=$WD_BIN/warden-control
[ -x "$CONTROL" ] || fail "no warden-control at $CONTROL (build it, or set WD_BIN)"
TD=example.org
D=$T/data

# --- init --------------------------------------------------------------------------------
run_ok help "$CONTROL" --help
grep -q 'warden-control COMMAND' "$T/logs/help.log" || fail "--help says nothing useful"
run_ok version "$CONTROL" --version
run_ok init "$CONTROL" init --dir "$D" --trust-domain "$TD" --admin-ttl 2h "${STORE_ARGS[@]}"
for f in admin.pem admin.key bundle.pem control.yaml $DB_FILE audit.jsonl ca/root.pem; do
    [ -f "$D/$f" ] || fail "init: $D/$f missing"
done
[ "$(stat -c %a "$D")" = 700 ] || fail "init: data directory mode $(stat -c %a "$D"), want 700"
[ "$(stat -c %a "$D/admin.key")" = 600 ] || fail "init: admin.key mode $(stat -c %a "$D/admin.key")"
[ "$(spiffe_id_of "$D/admin.pem")" = "spiffe://$TD/warden/admin" ] || fail "init: admin SVID ID"
split_chain "$D/admin.pem" "$T/admin-leaf.pem" "$T/admin-rest.pem"
openssl verify -CAfile "$D/bundle.pem" -untrusted "$T/admin-rest.pem" "$T/admin-leaf.pem" \
    >/dev/null 2>&1 || fail "init: admin SVID does not verify against bundle.pem"
run_fails init-again "$CONTROL" init --dir "$D" --trust-domain "$TD"
grep -q 'refusing to overwrite' "$T/logs/init-again.err" || fail "init over a data dir: $(cat "$T/logs/init-again.err")"
run_fails init-bad-td "$CONTROL" init --dir "$T/other" --trust-domain 'Bad_TD!'
[ ! -e "$T/other" ] || fail "a failed init left $T/other behind"
run_ok check-default "$CONTROL" check-config --dir "$D"

# --- a malformed configuration ------------------------------------------------------------
printf 'listen: 127.0.0.1:0\nheartbeat: 60s\ntpm:\n  pcrs: "sha256:0,1"\n  ek_alow: []\n' >"$T/bad.yaml"
run_fails check-bad "$CONTROL" check-config --config "$T/bad.yaml"
grep -qF "$T/bad.yaml:5:3: unknown key 'ek_alow'" "$T/logs/check-bad.err" \
    || fail "bad config: $(cat "$T/logs/check-bad.err")"
run_fails run-bad "$CONTROL" run --dir "$D" "${STORE_ARGS[@]}" --config "$T/bad.yaml"
grep -qF "$T/bad.yaml:5:3:" "$T/logs/run-bad.err" || fail "run with a bad config: $(cat "$T/logs/run-bad.err")"
printf 'heartbeat: 60\n' >"$T/bad2.yaml"
run_fails check-bad2 "$CONTROL" check-config --config "$T/bad2.yaml"
grep -qF "$T/bad2.yaml:1:12: 'heartbeat': expected string" "$T/logs/check-bad2.err" \
    || fail "bad config 2: $(cat "$T/logs/check-bad2.err")"

# --- run -----------------------------------------------------------------------------------
spawn control "$CONTROL" run --dir "$D" "${STORE_ARGS[@]}" --listen 127.0.0.1:0 --port-file "$T/port"
CPID=$SPAWNED
for _ in $(seq 100); do
    [ -s "$T/port" ] && break
    kill -0 "$CPID" 2>/dev/null || break
    sleep 0.1
done
[ -s "$T/port" ] || {
    sed 's/^/    /' "$T/logs/control.log" >&2
    fail "warden-control did not start"
}
PORT=$(cat "$T/port")
U=https://127.0.0.1:$PORT
log "listening on $PORT"

# The serving certificate: an SVID of spiffe://TD/warden/control chaining to bundle.pem.
openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$D/bundle.pem" -verify_return_error \
    -showcerts </dev/null >"$T/sclient.out" 2>&1 || fail "s_client: $(tail -5 "$T/sclient.out")"
grep -q 'Verify return code: 0 (ok)' "$T/sclient.out" || fail "serving chain does not verify"
grep -q '^New, TLSv1.3' "$T/sclient.out" || fail "not TLS 1.3"
first_pem_cert "$T/sclient.out" "$T/serving.pem" || fail "no serving certificate"
[ "$(spiffe_id_of "$T/serving.pem")" = "spiffe://$TD/warden/control" ] || fail "serving SVID ID"

# req NAME METHOD PATH [CURL ARGS...]: the status in $STATUS, the body in $T/NAME.json.
# curl cannot check an SVID's SPIFFE ID (it wants a host name), hence -k: the serving
# certificate was checked against the bundle by s_client above.
req() {
    local name=$1 method=$2 path=$3
    shift 3
    STATUS=$(curl -sS -k --max-time 20 -o "$T/$name.json" -w '%{http_code}' -X "$method" "$@" \
        "$U$path" 2>"$T/logs/curl-$name.err")
    [ -n "$STATUS" ] || STATUS=000
}
ADMIN=(--cert "$D/admin.pem" --key "$D/admin.key")
# jget FILE KEY: a top-level string member of a JSON file.
jget() {
    python3 -c 'import json, sys; v = json.load(open(sys.argv[1])).get(sys.argv[2]); print(v if v is not None else "")' "$1" "$2"
}
expect() {
    local name=$1 want=$2
    [ "$STATUS" = "$want" ] || fail "$name: HTTP $STATUS, want $want: $(head -c 400 "$T/$name.json" 2>/dev/null) $(cat "$T/logs/curl-$name.err")"
}

req healthz GET /healthz
expect healthz 200
[ "$(jget "$T/healthz.json" status)" = ok ] || fail "healthz body: $(cat "$T/healthz.json")"
req bundle GET /v1/bundle
expect bundle 200
[ "$(jget "$T/bundle.json" trust_domain)" = "$TD" ] || fail "bundle: wrong trust domain"

# --- admin calls: only with the admin SVID ----------------------------------------------
req nodes-admin GET /v1/admin/nodes "${ADMIN[@]}"
expect nodes-admin 200
req nodes-anon GET /v1/admin/nodes
expect nodes-anon 401
[ "$(jget "$T/nodes-anon.json" error)" = unauthenticated ] || fail "401 body: $(cat "$T/nodes-anon.json")"
ossl_ca other.org "$T/otherca" || fail "cannot make another CA"
ossl_svid "$T/otherca" "spiffe://$TD/warden/admin" "$T/forged" || fail "cannot make a forged SVID"
cat "$T/forged/svid.pem" "$T/otherca/intermediate.pem" >"$T/forged/chain.pem"
req nodes-forged GET /v1/admin/nodes --cert "$T/forged/chain.pem" --key "$T/forged/svid.key"
[ "$STATUS" = 401 ] || [ "$STATUS" = 000 ] || fail "an SVID from another CA: HTTP $STATUS, want 401 or a failed handshake"

# --- join token enrolment with an openssl CSR -------------------------------------------
req token POST /v1/admin/tokens "${ADMIN[@]}" -d '{"node":"node-b","ttl":"10m"}'
expect token 201
TOKEN=$(jget "$T/token.json" token)
[ ${#TOKEN} -ge 32 ] || fail "token too short: $TOKEN"
openssl ecparam -name prime256v1 -genkey -noout -out "$T/node.key" 2>/dev/null
openssl req -new -key "$T/node.key" -subj "/O=ignored" -out "$T/node.csr" 2>/dev/null
python3 - "$T/node.csr" "$TOKEN" >"$T/join.body" <<'PY'
import json, sys
print(json.dumps({"node": "node-b", "token": sys.argv[2], "csr": open(sys.argv[1]).read()}))
PY
req join POST /v1/attest/join-token --data-binary @"$T/join.body"
expect join 200
python3 -c 'import json, sys; open(sys.argv[2], "w").write(json.load(open(sys.argv[1]))["svid_pem"])' \
    "$T/join.json" "$T/node.pem"
[ "$(spiffe_id_of "$T/node.pem")" = "spiffe://$TD/warden/node/node-b" ] || fail "node SVID ID"
split_chain "$T/node.pem" "$T/node-leaf.pem" "$T/node-rest.pem"
openssl verify -CAfile "$D/bundle.pem" -untrusted "$T/node-rest.pem" "$T/node-leaf.pem" \
    >/dev/null 2>&1 || fail "node SVID does not verify against bundle.pem"
req join-again POST /v1/attest/join-token --data-binary @"$T/join.body"
expect join-again 403
[ "$(jget "$T/join-again.json" reason)" = token-used ] || fail "replayed token: $(cat "$T/join-again.json")"
NODE=(--cert "$T/node.pem" --key "$T/node.key")
req node-admin GET /v1/admin/nodes "${NODE[@]}"
expect node-admin 403
[ "$(jget "$T/node-admin.json" reason)" = admin-only ] || fail "node on admin route: $(cat "$T/node-admin.json")"

# --- entries CRUD and a workload SVID ---------------------------------------------------
req entry POST /v1/admin/entries "${ADMIN[@]}" \
    -d "{\"spiffe_id\":\"spiffe://$TD/web\",\"node\":\"node-b\",\"selectors\":{\"uid\":1000,\"path\":\"/usr/bin/web\"},\"ttl\":\"30m\"}"
expect entry 201
EID=$(jget "$T/entry.json" id)
req entry-dup POST /v1/admin/entries "${ADMIN[@]}" \
    -d "{\"spiffe_id\":\"spiffe://$TD/web\",\"node\":\"node-b\",\"selectors\":{\"uid\":1}}"
expect entry-dup 409
req entry-bad POST /v1/admin/entries "${ADMIN[@]}" \
    -d "{\"spiffe_id\":\"spiffe://$TD/web\",\"node\":\"node-b\",\"selectors\":{\"uid\":1},\"tll\":\"1h\"}"
expect entry-bad 400
grep -q "unknown key 'tll'" "$T/entry-bad.json" || fail "unknown member: $(cat "$T/entry-bad.json")"
req entries GET '/v1/admin/entries?node=node-b' "${ADMIN[@]}"
expect entries 200
grep -q "$EID" "$T/entries.json" || fail "entry not listed"
req node-entries GET /v1/node/entries "${NODE[@]}"
expect node-entries 200
grep -q "$EID" "$T/node-entries.json" || fail "entry not listed for the node"
openssl ecparam -name prime256v1 -genkey -noout -out "$T/web.key" 2>/dev/null
openssl req -new -key "$T/web.key" -subj "/O=ignored" -out "$T/web.csr" 2>/dev/null
python3 - "$T/web.csr" "$EID" >"$T/svids.body" <<'PY'
import json, sys
print(json.dumps({"requests": [{"entry_id": sys.argv[2], "csr": open(sys.argv[1]).read()}]}))
PY
req svids POST /v1/node/svids "${NODE[@]}" --data-binary @"$T/svids.body"
expect svids 200
python3 -c 'import json, sys; open(sys.argv[2], "w").write(json.load(open(sys.argv[1]))["svids"][0]["svid_pem"])' \
    "$T/svids.json" "$T/web.pem"
[ "$(spiffe_id_of "$T/web.pem")" = "spiffe://$TD/web" ] || fail "workload SVID ID"
WEB=(--cert "$T/web.pem" --key "$T/web.key")
req web-denylist GET '/v1/denylist?since=0' "${WEB[@]}"
expect web-denylist 200
req web-admin GET /v1/admin/nodes "${WEB[@]}"
expect web-admin 403

# --- revoke: the deny list says so, node calls stop -------------------------------------
req revoke POST /v1/admin/nodes/node-b/revoke "${ADMIN[@]}" -d '{"reason":"disk stolen"}'
expect revoke 200
req denylist GET '/v1/denylist?since=0' "${WEB[@]}"
expect denylist 200
python3 - "$T/denylist.json" "$TD" <<'PY' || fail "deny list after revoke: $(cat "$T/denylist.json")"
import json, sys
d = json.load(open(sys.argv[1]))
subjects = {(c["kind"], c["subject"]) for c in d["changes"] if c["active"]}
assert ("node", "node-b") in subjects, subjects
assert ("spiffe_id", "spiffe://%s/warden/node/node-b" % sys.argv[2]) in subjects, subjects
assert d["sequence"] >= 2
PY
req revoked-svids POST /v1/node/svids "${NODE[@]}" --data-binary @"$T/svids.body"
expect revoked-svids 403
[ "$(jget "$T/revoked-svids.json" reason)" = node-revoked ] || fail "revoked node: $(cat "$T/revoked-svids.json")"

# --- entries: delete ---------------------------------------------------------------------
req delete DELETE "/v1/admin/entries/$EID" "${ADMIN[@]}"
expect delete 204
req delete-again DELETE "/v1/admin/entries/$EID" "${ADMIN[@]}"
expect delete-again 404

# --- metrics -----------------------------------------------------------------------------
req metrics GET /metrics
expect metrics 200
grep -q '^warden_svids_issued_total{kind="node"} 1$' "$T/metrics.json" || fail "node SVID counter: $(grep svids_issued "$T/metrics.json")"
grep -q '^warden_svids_issued_total{kind="workload"} 1$' "$T/metrics.json" || fail "workload SVID counter"
grep -q '^warden_refusals_total{reason="token-used"} 1$' "$T/metrics.json" || fail "refusal counter"
grep -q '^warden_attestations_total{method="join-token",result="ok"} 1$' "$T/metrics.json" || fail "attestation counter"
grep -q '^warden_http_requests_total{route="admin_nodes",code="401"} 1$' "$T/metrics.json" || fail "request counter"
grep -q '^warden_nodes{trusted="false"} 1$' "$T/metrics.json" || fail "nodes gauge"

# --- audit log: one JSON object per line, never the token; SIGHUP reopens it -------------
python3 - "$D/audit.jsonl" <<'PY' || fail "audit log malformed"
import json, sys
kinds = set()
for line in open(sys.argv[1]):
    ev = json.loads(line)
    kinds.add((ev["kind"], ev["reason"]))
for want in [("admin", "init"), ("admin", "token-create"), ("attestation", "join-token"),
             ("refusal", "token-used"), ("admin", "node-revoke"), ("admin", "entry-delete"),
             ("issuance", None)]:
    assert want in kinds, (want, kinds)
PY
grep -qF "$TOKEN" "$D/audit.jsonl" && fail "the join token is in the audit log"
mv "$D/audit.jsonl" "$D/audit.jsonl.1"
kill -HUP "$CPID"
wait_log "$T/logs/control.log" 'audit log reopened' 10 || fail "no reopen after SIGHUP"
req after-hup GET /v1/admin/nodes/node-b "${ADMIN[@]}"
expect after-hup 200
req token2 POST /v1/admin/tokens "${ADMIN[@]}" -d '{}'
expect token2 201
[ -s "$D/audit.jsonl" ] || fail "no new audit log after SIGHUP"
grep -q '"token-create"' "$D/audit.jsonl" || fail "new audit log lacks the event"

# --- stop --------------------------------------------------------------------------------
kill -TERM "$CPID"
wait_exit "$CPID" 15 || fail "warden-control did not stop within 15 s of SIGTERM"
[ "$EXIT_STATUS" = 0 ] || fail "warden-control exited $EXIT_STATUS after SIGTERM"

# --- restart with a short heartbeat and an IP fence: state persisted, fence and grace work -
printf 'heartbeat: 1s\nheartbeat_grace: 2s\nip_fence: ["10.0.0.0/8", "127.0.0.0/8"]\n' >"$T/hb.yaml"
run_ok check-hb "$CONTROL" check-config --config "$T/hb.yaml"
rm -f "$T/port"
spawn control2 "$CONTROL" run --dir "$D" "${STORE_ARGS[@]}" --config "$T/hb.yaml" --listen 127.0.0.1:0 --port-file "$T/port"
CPID=$SPAWNED
for _ in $(seq 100); do
    [ -s "$T/port" ] && break
    sleep 0.1
done
[ -s "$T/port" ] || fail "warden-control did not restart: $(cat "$T/logs/control2.log")"
U=https://127.0.0.1:$(cat "$T/port")
req persisted GET /v1/admin/nodes/node-b "${ADMIN[@]}"
expect persisted 200
req tok-c POST /v1/admin/tokens "${ADMIN[@]}" -d '{"node":"node-c"}'
expect tok-c 201
python3 - "$T/node.csr" "$(jget "$T/tok-c.json" token)" >"$T/join-c.body" <<'PY'
import json, sys
print(json.dumps({"node": "node-c", "token": sys.argv[2], "csr": open(sys.argv[1]).read()}))
PY
req join-c POST /v1/attest/join-token --data-binary @"$T/join-c.body"
expect join-c 200
# no heartbeat: untrusted within grace + a monitor period, and on the deny list
for _ in $(seq 50); do
    req node-c GET /v1/admin/nodes/node-c "${ADMIN[@]}"
    grep -q '"trusted":false' "$T/node-c.json" && break
    sleep 0.2
done
grep -q '"trusted":false' "$T/node-c.json" || fail "node-c still trusted after the heartbeat grace"
req denylist2 GET '/v1/denylist?since=0' "${ADMIN[@]}"
grep -q '"subject":"node-c","reason":"heartbeat-missed"' "$T/denylist2.json" \
    || fail "heartbeat-missed not on the deny list: $(cat "$T/denylist2.json")"
stop "$CPID"

# an IP fence that excludes 127.0.0.1
printf 'ip_fence: ["10.0.0.0/8"]\n' >"$T/fence.yaml"
rm -f "$T/port"
spawn control3 "$CONTROL" run --dir "$D" "${STORE_ARGS[@]}" --config "$T/fence.yaml" --listen 127.0.0.1:0 --port-file "$T/port"
CPID=$SPAWNED
for _ in $(seq 100); do
    [ -s "$T/port" ] && break
    sleep 0.1
done
[ -s "$T/port" ] || fail "warden-control did not restart: $(cat "$T/logs/control3.log")"
U=https://127.0.0.1:$(cat "$T/port")
req tok-d POST /v1/admin/tokens "${ADMIN[@]}" -d '{"node":"node-d"}'
expect tok-d 201
python3 - "$T/node.csr" "$(jget "$T/tok-d.json" token)" >"$T/join-d.body" <<'PY'
import json, sys
print(json.dumps({"node": "node-d", "token": sys.argv[2], "csr": open(sys.argv[1]).read()}))
PY
req join-d POST /v1/attest/join-token --data-binary @"$T/join-d.body"
expect join-d 403
[ "$(jget "$T/join-d.json" reason)" = ip-fence ] || fail "fenced join: $(cat "$T/join-d.json")"
kill -TERM "$CPID"
wait_exit "$CPID" 15 || fail "warden-control did not stop within 15 s of SIGTERM"
[ "$EXIT_STATUS" = 0 ] || fail "warden-control exited $EXIT_STATUS after SIGTERM"
pass
