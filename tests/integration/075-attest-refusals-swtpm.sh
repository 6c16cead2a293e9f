#!/usr/bin/env bash
# Attestation refusals against a real warden-control with a real swtpm, driven by
# tests/tools/control_load (attest-fault) and curl: each must be refused with its own reason
# token (docs/api.md) both in the HTTP answer and in the audit log (DIR/audit.jsonl, a
# `refusal` event):
#
#  - control A (EK CA = swtpm's local CA, session_ttl 2s):
#      replayed session (finish sent twice)      -> 403 session-replayed
#      quote over another nonce                  -> 403 nonce
#      finish after the session's deadline       -> 410 session-expired
#      wrong ActivateCredential secret           -> 403 ak-not-bound
#      no EK certificate, EK not on an allow-list -> 403 ek-not-allowed
#      join token used twice                     -> 403 token-used
#      join token past its 1 s TTL               -> 410 token-expired
#    and a clean round (the control case) is accepted with 200;
#  - control B (EK CA dir = another CA, only an allow-list entry of another EK, ip_fence
#    10.0.0.0/8): the swtpm EK's certificate -> 403 ek-chain; a join token from 127.0.0.1
#    -> 403 ip-fence;
#  - control C (the right EK CA, ip_fence 10.0.0.0/8): a TPM round -> 403 ip-fence at finish.
. "$(dirname "$0")/lib.sh"
need curl openssl python3 swtpm swtpm_setup swtpm_localca tpm2_getrandom

CONTROL=$WD_BIN/warden-control
TOOLS=${WD_TOOLS:-$WD_ROOT/build/debug/tools}
LOAD=$TOOLS/control_load
[ -x "$CONTROL" ] || fail "no warden-control at $CONTROL"
[ -x "$LOAD" ] || fail "no control_load at $LOAD (make $TOOLS/control_load)"

swtpm_manufacture "$T/tpm" || {
    sed 's/^/    /' "$T/logs/swtpm_setup.log" >&2
    fail "swtpm_setup failed"
}
swtpm_start "$T/tpm" || fail "swtpm did not come up"
ossl_ca other.test "$T/other-ca" || fail "openssl could not make the other CA"
mkdir -p "$T/other-cadir"
cp "$T/other-ca/root.pem" "$T/other-cadir/"

# start_control NAME CONFIG-LINES: init a control plane in $T/NAME, add the config, run it;
# sets URL.
start_control() {
    local name=$1 port
    run_ok "init-$name" "$CONTROL" init --dir "$T/$name" --trust-domain example.org
    printf '%s\n' "$2" >>"$T/$name/control.yaml"
    run_ok "check-$name" "$CONTROL" check-config --dir "$T/$name"
    port=$(free_port)
    spawn "control-$name" "$CONTROL" run --dir "$T/$name" --listen "127.0.0.1:$port"
    wait_port "$port" 20 || {
        cat "$T/logs/control-$name.log" >&2
        fail "warden-control $name did not come up"
    }
    URL=https://127.0.0.1:$port
}
start_control a "session_ttl: 2s
tpm:
  ek_ca_dir: $T/tpm/cadir"
URL_a=$URL
start_control b "ip_fence: [10.0.0.0/8]
tpm:
  ek_ca_dir: $T/other-cadir
  ek_allow: ['$(printf 'x' | sha256sum | cut -d' ' -f1)']"
URL_b=$URL
start_control c "ip_fence: [10.0.0.0/8]
tpm:
  ek_ca_dir: $T/tpm/cadir"
URL_c=$URL

# expect_line FILE MODE STATUS REASON: control_load printed "MODE: ... status=S reason=R".
expect_line() {
    local line
    line=$(grep "^$2: " "$1") || fail "$2: no result line in $(cat "$1")"
    case $line in
    *" status=$3 reason=$4") log "$line" ;;
    *) fail "$2: expected status=$3 reason=$4, got: $line" ;;
    esac
}

# audited DIR REASON [SUBJECT]: the audit log has a refusal event with REASON (and subject).
audited() {
    local _
    for _ in $(seq 30); do
        python3 - "$1/audit.jsonl" "$2" "${3:-}" <<'EOF' && return 0
import json, sys
path, reason, subject = sys.argv[1:4]
for line in open(path):
    e = json.loads(line)
    if e.get("kind") == "refusal" and e.get("reason") == reason \
            and (not subject or e.get("subject") == subject):
        sys.exit(0)
sys.exit(1)
EOF
        sleep 0.1
    done
    fail "no refusal event with reason '$2' in $1/audit.jsonl"
}

# --- control A: TPM faults ------------------------------------------------------------
timeout 60 "$LOAD" attest-fault "$URL_a" "$T/a" node-t "$SWTPM_TCTI" \
    ok,replay,nonce,expired,ak-not-bound,no-ek-cert 3000 >"$T/a.out" 2>"$T/logs/load-a.err" \
    || {
        cat "$T/logs/load-a.err" "$T/a.out" >&2
        fail "control_load attest-fault (A) failed"
    }
expect_line "$T/a.out" ok 200 -
expect_line "$T/a.out" replay 403 session-replayed
expect_line "$T/a.out" nonce 403 nonce
expect_line "$T/a.out" expired 410 session-expired
expect_line "$T/a.out" ak-not-bound 403 ak-not-bound
expect_line "$T/a.out" no-ek-cert 403 ek-not-allowed
for r in session-replayed nonce session-expired ak-not-bound; do
    audited "$T/a" "$r"
done
audited "$T/a" ek-not-allowed node-t
# The refusals did not make the node untrusted for good: it was enrolled by the first round.
n_ok=$(grep -c '"kind":"attestation","actor":[^,]*,"subject":"node-t","reason":"tpm"' \
    "$T/a/audit.jsonl" || true)
[ "$n_ok" -ge 2 ] || fail "expected 2 successful TPM attestations (ok, first replay finish), audit has $n_ok"

# --- join tokens (A) and the IP fence (B) ----------------------------------------------
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/j.key" \
    -subj /CN=node-j -out "$T/j.csr" 2>/dev/null || fail "openssl req"
CSR_JSON=$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$T/j.csr")
# token DIR URL NODE TTL: a join token from the admin API.
token() {
    curl -sS -k --cert "$1/admin.pem" --key "$1/admin.key" -H 'Content-Type: application/json' \
        -d "{\"node\":\"$3\",\"ttl\":\"$4\"}" "$2/v1/admin/tokens" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
# join URL NAME NODE TOKEN: POST /v1/attest/join-token; status echoed, body in $T/NAME.json.
join() {
    curl -sS -k -o "$T/$2.json" -w '%{http_code}' -H 'Content-Type: application/json' \
        -d "{\"node\":\"$3\",\"token\":\"$4\",\"csr\":$CSR_JSON}" "$1/v1/attest/join-token"
}
reason_of() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("reason"))' "$1"
}
tok=$(token "$T/a" "$URL_a" node-j 10m) || fail "no token from A"
code=$(join "$URL_a" j1 node-j "$tok")
[ "$code" = 200 ] || fail "join token, first use: HTTP $code $(cat "$T/j1.json")"
code=$(join "$URL_a" j2 node-j "$tok")
[ "$code" = 403 ] && [ "$(reason_of "$T/j2.json")" = token-used ] \
    || fail "join token reused: HTTP $code $(cat "$T/j2.json")"
audited "$T/a" token-used
tok=$(token "$T/a" "$URL_a" node-k 1s) || fail "no short token from A"
sleep 2.2
code=$(join "$URL_a" j3 node-k "$tok")
[ "$code" = 410 ] && [ "$(reason_of "$T/j3.json")" = token-expired ] \
    || fail "join token expired: HTTP $code $(cat "$T/j3.json")"
audited "$T/a" token-expired node-k

tok=$(token "$T/b" "$URL_b" node-f 10m) || fail "no token from B"
code=$(join "$URL_b" j4 node-f "$tok")
[ "$code" = 403 ] && [ "$(reason_of "$T/j4.json")" = ip-fence ] \
    || fail "join token outside the IP fence: HTTP $code $(cat "$T/j4.json")"
audited "$T/b" ip-fence node-f

# --- control B: EK of another CA; control C: TPM round outside the fence ---------------
timeout 60 "$LOAD" attest-fault "$URL_b" "$T/b" node-t "$SWTPM_TCTI" ok >"$T/b.out" \
    2>"$T/logs/load-b.err" || fail "control_load attest-fault (B) failed: $(cat "$T/logs/load-b.err")"
expect_line "$T/b.out" ok 403 ek-chain
audited "$T/b" ek-chain node-t
timeout 60 "$LOAD" attest-fault "$URL_c" "$T/c" node-t "$SWTPM_TCTI" ok >"$T/c.out" \
    2>"$T/logs/load-c.err" || fail "control_load attest-fault (C) failed: $(cat "$T/logs/load-c.err")"
expect_line "$T/c.out" ok 403 ip-fence
grep -q '^ok: step=finish ' "$T/c.out" || fail "ip-fence must be checked at finish: $(cat "$T/c.out")"
audited "$T/c" ip-fence node-t

# Nothing secret in the audit logs: no nonce/secret fields, no token.
if grep -qF "$tok" "$T/b/audit.jsonl" "$T/a/audit.jsonl"; then
    fail "a join token in an audit log"
fi
# Every process is still alive (no crash on a refusal path: matters under ASan).
for name in a b c; do
    grep -qiE 'AddressSanitizer|runtime error' "$T/logs/control-$name.log" \
        && fail "sanitizer report in control $name's log"
done
pass
