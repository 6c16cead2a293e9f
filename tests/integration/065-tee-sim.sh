#!/usr/bin/env bash
# TEE workloads end to end with the `sim` backend (warden-control's POST /v1/tee/challenge
# and /v1/tee/svid, src/control/api_tee.c): warden-control with tee.allow_sim, an openssl-made
# sim signing key and an allow-list; tests/tools/tee_client does challenge -> sim evidence
# bound to the nonce and a new key -> CSR with the evidence extension -> SVID. The SVID is
# checked with openssl verify against bundle.pem, its claims (attestation sim + measurement)
# with `warden cert inspect`, the issuance and the refusals in the audit log; the same CSR
# replayed with a new session (stale nonce) and evidence moved to another key are refused
# with `binding`, a measurement outside the allow-list with `measurement-not-allowed`; after
# a restart with allow_sim false, sim is refused with `sim-disabled`.
. "$(dirname "$0")/lib.sh"
need openssl python3

CONTROL=$WD_BIN/warden-control
[ -x "$CONTROL" ] || fail "no warden-control at $CONTROL (build it, or set WD_BIN)"
need_warden
CLIENT=${WD_TOOLS:-$WD_ROOT/build/debug/tools}/tee_client
[ -x "$CLIENT" ] || fail "no tee_client at $CLIENT (run make, or set WD_TOOLS)"
TD=example.org
D=$T/data
MEAS=a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf
OTHER=0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20

run_ok init "$CONTROL" init --dir "$D" --trust-domain "$TD"

# The sim signing key (what a development "TEE" signs its reports with).
openssl ecparam -name prime256v1 -genkey -noout -out "$T/sim.key" 2>/dev/null || fail "sim key"
openssl pkey -in "$T/sim.key" -pubout -out "$T/sim.pub" 2>/dev/null || fail "sim public key"

# write_config FILE ALLOW_SIM
write_config() {
    {
        printf 'tee:\n  allow_sim: %s\n  sim_key: |\n' "$2"
        sed 's/^/    /' "$T/sim.pub"
        printf '  allow:\n'
        printf '    - type: sim\n      measurement: %s\n' "$MEAS"
        printf '      spiffe_id: spiffe://%s/enclave/payments\n      ttl: 15m\n' "$TD"
    } >"$1"
}
write_config "$T/tee.yaml" true
run_ok check-config "$CONTROL" check-config --config "$T/tee.yaml"

# A broken tee section is refused with its position.
printf 'tee:\n  allow_sim: true\n' >"$T/bad.yaml"
run_fails check-bad "$CONTROL" check-config --config "$T/bad.yaml"
grep -qF "$T/bad.yaml:2:14: 'allow_sim': true needs 'sim_key'" "$T/logs/check-bad.err" \
    || fail "allow_sim without sim_key: $(cat "$T/logs/check-bad.err")"

# start CONFIG: run warden-control; sets CPID and U.
start() {
    rm -f "$T/port"
    spawn control "$CONTROL" run --dir "$D" --config "$1" --listen 127.0.0.1:0 --port-file "$T/port"
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
    U=https://127.0.0.1:$(cat "$T/port")
}
start "$T/tee.yaml"
log "listening on $U"

# client NAME ARGS...: run tee_client; its stdout in $T/logs/NAME.out, status in $EXIT_STATUS.
client() {
    local name=$1
    shift
    timeout 60 "$CLIENT" "$@" >"$T/logs/$name.out" 2>"$T/logs/$name.err"
    EXIT_STATUS=$?
    [ "$EXIT_STATUS" -lt 124 ] || {
        cat "$T/logs/$name.err" >&2
        fail "$name: tee_client crashed or hung ($EXIT_STATUS)"
    }
}
# refused NAME STATUS REASON
refused() {
    [ "$EXIT_STATUS" = 3 ] || fail "$1: tee_client exit $EXIT_STATUS, want 3: $(cat "$T/logs/$1.out" "$T/logs/$1.err")"
    grep -qx "refused $2 $3" "$T/logs/$1.out" || fail "$1: $(cat "$T/logs/$1.out"), want 'refused $2 $3'"
}

# --- admitted ------------------------------------------------------------------------------
mkdir -p "$T/w1"
client run run "$U" "$D/bundle.pem" "$T/sim.key" "$MEAS" "$T/w1"
[ "$EXIT_STATUS" = 0 ] || fail "run: exit $EXIT_STATUS: $(cat "$T/logs/run.out" "$T/logs/run.err")"
grep -qx "issued spiffe://$TD/enclave/payments" "$T/logs/run.out" || fail "run: $(cat "$T/logs/run.out")"
split_chain "$T/w1/svid.pem" "$T/w1/leaf.pem" "$T/w1/rest.pem"
openssl verify -CAfile "$D/bundle.pem" -untrusted "$T/w1/rest.pem" "$T/w1/leaf.pem" \
    >"$T/logs/verify.log" 2>&1 || fail "the TEE SVID does not verify: $(cat "$T/logs/verify.log")"
[ "$(spiffe_id_of "$T/w1/leaf.pem")" = "spiffe://$TD/enclave/payments" ] || fail "SVID ID"
# The SVID certifies the workload's own key.
[ "$(openssl x509 -in "$T/w1/leaf.pem" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum)" = \
  "$(openssl pkey -in "$T/w1/key.pem" -pubout -outform DER | sha256sum)" ] || fail "SVID key is not the CSR key"
# Its claims: attestation sim, the measurement.
run_ok inspect "$WARDEN" cert inspect --json "$T/w1/leaf.pem"
python3 - "$T/logs/inspect.log" "$MEAS" <<'EOF' || fail "claims: $(cat "$T/logs/inspect.log")"
import json, sys
doc = json.load(open(sys.argv[1]))
c = doc.get("claims") or {}
assert c.get("attestation") == "sim", c
assert c.get("measurement") == sys.argv[2], c
assert "node" not in c, c
EOF
# ttl 15m from the rule
na=$(date -d "$(openssl x509 -in "$T/w1/leaf.pem" -noout -enddate | cut -d= -f2)" +%s)
left=$((na - $(date +%s)))
[ "$left" -gt 800 ] && [ "$left" -le 900 ] || fail "SVID lifetime ${left}s, want ~15m"

# --- refused ---------------------------------------------------------------------------------
# The same CSR with a new session: its evidence names the old nonce.
client replay replay "$U" "$D/bundle.pem" "$T/w1/csr.pem"
refused replay 403 binding
# Evidence bound to one key, in the CSR of another.
client swapkey swapkey "$U" "$D/bundle.pem" "$T/sim.key" "$MEAS"
refused swapkey 403 binding
# A measurement outside the allow-list.
mkdir -p "$T/w2"
client other run "$U" "$D/bundle.pem" "$T/sim.key" "$OTHER" "$T/w2"
refused other 403 measurement-not-allowed
[ ! -e "$T/w2/svid.pem" ] || fail "an SVID was written for a refused measurement"
# A report signed by another key than tee.sim_key.
openssl ecparam -name prime256v1 -genkey -noout -out "$T/rogue.key" 2>/dev/null || fail "rogue key"
client rogue run "$U" "$D/bundle.pem" "$T/rogue.key" "$MEAS" "$T/w2"
refused rogue 403 evidence-invalid

# The audit log: one issuance with sim + measurement, each refusal with its reason.
python3 - "$D/audit.jsonl" "$MEAS" <<'EOF' || fail "audit log: $(tail -5 "$D/audit.jsonl")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
iss = [e for e in ev if e.get("kind") == "issuance" and e.get("subject", "").endswith("/enclave/payments")]
assert len(iss) == 1, iss
det = iss[0].get("details")
det = json.loads(det) if isinstance(det, str) else det
assert det["attestation"] == "sim" and det["measurement"] == sys.argv[2], det
reasons = [e.get("reason") for e in ev if e.get("kind") == "refusal"]
for want in ("binding", "measurement-not-allowed", "evidence-invalid"):
    assert want in reasons, (want, reasons)
assert reasons.count("binding") == 2, reasons
EOF
stop "$CPID"

# --- sim disabled ------------------------------------------------------------------------------
write_config "$T/tee-off.yaml" false
start "$T/tee-off.yaml"
mkdir -p "$T/w3"
client off run "$U" "$D/bundle.pem" "$T/sim.key" "$MEAS" "$T/w3"
refused off 403 sim-disabled
[ ! -e "$T/w3/svid.pem" ] || fail "an SVID was written with sim disabled"
stop "$CPID"

pass
