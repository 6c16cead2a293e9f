#!/usr/bin/env bash
# warden on one machine (README's main job): a real deployment with the embedded defaults.
#
#   1. warden-control: a new trust domain (CA, admin certificate, SQLite store), serving its
#      REST API on 127.0.0.1 over TLS 1.3;
#   2. a node with a TPM 2.0 (swtpm, manufactured with an EK certificate from a local CA the
#      control plane trusts): warden-agent attests it (EK check, MakeCredential/
#      ActivateCredential, quote over a fresh nonce) and keeps a node SVID;
#   3. two workloads registered on that node: `records` (an nginx service) and `doctor`
#      (its client); the agent writes their SVIDs to files (sinks);
#   4. a warden-proxy in front of nginx (inbound, mTLS, Cedar policy on every request and
#      response) and one beside the client (outbound: plaintext in, mTLS out, checking the
#      records service's SPIFFE ID);
#   5. curl -> outbound proxy -> mTLS -> inbound proxy -> nginx: the doctor may GET
#      /records/, is refused /admin/ by policy; the Workload API hands the calling process
#      its own SVID; the node is listed as TPM-attested and trusted.
#
# Everything listens on 127.0.0.1 with free ports and lives in WD_DEMO_DIR (default
# build/deploy). Exits 0 when every step held, stopping what it started; WD_DEMO_KEEP=1 keeps
# the deployment running until Ctrl-C. Needs root (Workload API callers are identified by
# uid; the demo runs them as root) and the packages of scripts/install-deps.sh.
set -u
set -o pipefail
cd "$(dirname "$0")/.." || exit 1

TD=example.org
DEMO=${WD_DEMO_DIR:-build/deploy}
say() { printf '%s\n' "$*"; }
die() {
    printf 'deploy: %s\n' "$*" >&2
    [ -n "${LOGS:-}" ] && printf 'deploy: logs are in %s\n' "$LOGS" >&2
    exit 1
}
for c in make curl openssl python3 nginx swtpm swtpm_setup swtpm_localca timeout; do
    command -v "$c" >/dev/null 2>&1 || die "'$c' is missing; run scripts/install-deps.sh first"
done
[ "$(id -u)" -eq 0 ] || die "run as root (the Workload API identifies callers by uid)"

if [ -z "${WD_BIN:-}" ]; then
    say "== building (make BUILD=release bins)"
    mkdir -p build
    make --no-print-directory -j"$(nproc 2>/dev/null || echo 2)" BUILD=release bins \
        >build/deploy-build.log 2>&1 || {
        tail -n 40 build/deploy-build.log >&2
        die "build failed (full log: build/deploy-build.log)"
    }
    WD_BIN=build/release/bin
fi
for p in warden warden-control warden-agent warden-proxy; do
    [ -x "$WD_BIN/$p" ] || die "no $p in $WD_BIN"
done
WD_BIN=$(cd "$WD_BIN" && pwd)

# Start from scratch, but never delete a directory this script did not make.
if [ -d "$DEMO" ] && [ -n "$(ls -A "$DEMO")" ] && [ ! -f "$DEMO/.warden-deploy" ]; then
    die "$DEMO exists and was not made by this script; set WD_DEMO_DIR elsewhere"
fi
rm -rf "$DEMO"
mkdir -p "$DEMO/logs"
: >"$DEMO/.warden-deploy"
DEMO=$(cd "$DEMO" && pwd)
LOGS=$DEMO/logs
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
start() { # NAME COMMAND...: run in the background, output in logs/NAME.log
    local name=$1
    shift
    "$@" >"$LOGS/$name.log" 2>&1 &
    pids+=($!)
}
free_port() {
    python3 -c 'import socket
for _ in range(50):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1)); print(p); break
    except OSError:
        pass'
}
wait_for() { # WHAT COMMAND...: retry for 30 s
    local what=$1
    shift
    for _ in $(seq 150); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    die "$what did not come up"
}
wait_port() { wait_for "port $1" python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)"; }

say "== 1. warden-control: trust domain $TD"
"$WD_BIN/warden-control" init --dir "$DEMO/control" --trust-domain "$TD" >"$LOGS/init.log" 2>&1 \
    || die "warden-control init failed: $(cat "$LOGS/init.log")"
CPORT=$(free_port)

say "== 2. a TPM 2.0 (swtpm) with an EK certificate from a local manufacturer CA"
mkdir -p "$DEMO/tpm/ca" "$DEMO/tpm/state" "$DEMO/tpm/ek-ca"
cat >"$DEMO/tpm/localca.conf" <<EOF
statedir = $DEMO/tpm/ca
signingkey = $DEMO/tpm/ca/signkey.pem
issuercert = $DEMO/tpm/ca/issuercert.pem
certserial = $DEMO/tpm/ca/certserial
EOF
cat >"$DEMO/tpm/swtpm_setup.conf" <<EOF
create_certs_tool = $(command -v swtpm_localca)
create_certs_tool_config = $DEMO/tpm/localca.conf
create_certs_tool_options = /dev/null
active_pcr_banks = sha256
EOF
timeout 60 swtpm_setup --tpm2 --tpmstate "$DEMO/tpm/state" --create-ek-cert \
    --config "$DEMO/tpm/swtpm_setup.conf" --overwrite >"$LOGS/swtpm_setup.log" 2>&1 \
    || die "swtpm_setup failed"
cp "$DEMO/tpm/ca/swtpm-localca-rootca-cert.pem" "$DEMO/tpm/ca/issuercert.pem" "$DEMO/tpm/ek-ca/"
TPORT=$(free_port)
start swtpm swtpm socket --tpm2 --server "type=tcp,port=$TPORT" \
    --ctrl "type=tcp,port=$((TPORT + 1))" --tpmstate "dir=$DEMO/tpm/state" \
    --flags not-need-init,startup-clear
wait_port "$TPORT"
TCTI="swtpm:host=127.0.0.1,port=$TPORT"

cat >>"$DEMO/control/control.yaml" <<EOF
tpm:
  ek_ca_dir: $DEMO/tpm/ek-ca
EOF
start control "$WD_BIN/warden-control" run --dir "$DEMO/control" --listen "127.0.0.1:$CPORT"
wait_for "warden-control" curl -sfk \
    "https://127.0.0.1:$CPORT/healthz"
say "warden-control on https://127.0.0.1:$CPORT (data in $DEMO/control)"
export WARDEN_CONTROL=https://127.0.0.1:$CPORT WARDEN_CONTROL_DIR=$DEMO/control

say "== 3. workloads registered on node-a"
"$WD_BIN/warden" entry create --spiffe-id "spiffe://$TD/records" --node node-a --uid 0 \
    --path "$(readlink -f "$WD_BIN/warden-proxy")" || die "entry create records"
"$WD_BIN/warden" entry create --spiffe-id "spiffe://$TD/doctor" --node node-a --uid 0 \
    --path "$(readlink -f "$WD_BIN/warden")" || die "entry create doctor"

say "== 4. warden-agent attests node-a with the TPM and writes the SVIDs"
cat >"$DEMO/agent.yaml" <<EOF
node: node-a
control:
  url: https://127.0.0.1:$CPORT
  trust_bundle: $DEMO/control/bundle.pem
state_dir: $DEMO/agent-state
attestation:
  tpm:
    tcti: $TCTI
workload_api:
  socket: $DEMO/agent.sock
sinks:
  - spiffe_id: spiffe://$TD/records
    dir: $DEMO/records
    cert: svid.pem
    key: svid.key
    bundle: bundle.pem
  - spiffe_id: spiffe://$TD/doctor
    dir: $DEMO/doctor
    cert: svid.pem
    key: svid.key
    bundle: bundle.pem
EOF
mkdir -p "$DEMO/records" "$DEMO/doctor"
start agent "$WD_BIN/warden-agent" --config "$DEMO/agent.yaml"
wait_for "the records SVID" test -s "$DEMO/records/svid.key"
wait_for "the doctor SVID" test -s "$DEMO/doctor/svid.key"
"$WD_BIN/warden" node list || die "node list"
"$WD_BIN/warden" node list | grep -qE '^node-a +tpm +trusted ' || die "node-a is not TPM-attested"

say "== 5. nginx behind an inbound warden-proxy; an outbound proxy for the client"
N=$DEMO/nginx
mkdir -p "$N/tmp" "$N/www/records" "$N/www/admin"
echo "patient 42: stable" >"$N/www/records/42"
echo "root password: hunter2" >"$N/www/admin/secrets"
NPORT=$(free_port)
IPORT=$(free_port)
OPORT=$(free_port)
cat >"$N/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $N/nginx.pid;
error_log $LOGS/nginx-error.log;
events { worker_connections 64; }
http {
    access_log $LOGS/nginx-access.log;
    client_body_temp_path $N/tmp/body;
    proxy_temp_path $N/tmp/proxy;
    fastcgi_temp_path $N/tmp/fastcgi;
    uwsgi_temp_path $N/tmp/uwsgi;
    scgi_temp_path $N/tmp/scgi;
    default_type text/plain;
    server { listen 127.0.0.1:$NPORT; root $N/www; }
}
EOF
start nginx nginx -p "$N" -c "$N/nginx.conf" -e "$LOGS/nginx-error.log"
wait_port "$NPORT"

cat >"$DEMO/policy.cedar" <<EOF
// The doctor may read patient records, nothing else.
@id("doctor-reads-records")
permit (principal == Workload::"spiffe://$TD/doctor",
        action in [Action::"http:GET", Action::"http:HEAD"],
        resource == Workload::"spiffe://$TD/records")
when { context.path like "/records/*" };

// Answers go back unless they are server errors.
@id("responses")
permit (principal, action == Action::"http:response", resource);
@id("no-server-errors")
forbid (principal, action == Action::"http:response", resource) when { context.status >= 500 };
EOF
cat >"$DEMO/proxy-in.yaml" <<EOF
identity: {cert: $DEMO/records/svid.pem, key: $DEMO/records/svid.key, bundle: $DEMO/records/bundle.pem}
policy: {policies: $DEMO/policy.cedar}
audit: {path: $LOGS/audit-records.jsonl}
listeners:
  - {name: records, mode: inbound, protocol: http, listen: "127.0.0.1:$IPORT", upstream: "127.0.0.1:$NPORT"}
EOF
cat >"$DEMO/proxy-out.yaml" <<EOF
identity: {cert: $DEMO/doctor/svid.pem, key: $DEMO/doctor/svid.key, bundle: $DEMO/doctor/bundle.pem}
policy: {policies: $DEMO/policy.cedar}
listeners:
  - {name: to-records, mode: outbound, protocol: http, listen: "127.0.0.1:$OPORT",
     upstream: "127.0.0.1:$IPORT", expect_peer: "spiffe://$TD/records"}
EOF
"$WD_BIN/warden-proxy" --config "$DEMO/proxy-in.yaml" --check-config >/dev/null \
    || die "inbound proxy config refused"
start proxy-in "$WD_BIN/warden-proxy" --config "$DEMO/proxy-in.yaml"
start proxy-out "$WD_BIN/warden-proxy" --config "$DEMO/proxy-out.yaml"
wait_port "$IPORT"
wait_port "$OPORT"

say "== 6. traffic: curl -> outbound proxy -> mTLS -> inbound proxy -> nginx"
say "\$ curl http://127.0.0.1:$OPORT/records/42"
body=$(curl -sS --max-time 10 "http://127.0.0.1:$OPORT/records/42") || die "GET /records/42 failed"
say "$body"
[ "$body" = "patient 42: stable" ] || die "the allowed request did not get the record"
say "\$ curl http://127.0.0.1:$OPORT/admin/secrets"
code=$(curl -sS --max-time 10 -o "$DEMO/denied.json" -w '%{http_code}' \
    "http://127.0.0.1:$OPORT/admin/secrets") || die "GET /admin/secrets failed"
say "HTTP $code $(cat "$DEMO/denied.json")"
[ "$code" = 403 ] || die "the policy did not refuse /admin/secrets"
grep -q hunter2 "$DEMO/denied.json" && die "the secret leaked"
say "without a certificate, the inbound proxy refuses the TLS handshake:"
if curl -sk --max-time 5 "https://127.0.0.1:$IPORT/records/42" >/dev/null 2>&1; then
    die "the inbound proxy accepted a client without an SVID"
fi
say "  refused"

say "== 7. the Workload API gives the calling program its own identity"
mkdir -p "$DEMO/fetched"
say "\$ warden svid fetch --socket $DEMO/agent.sock --out $DEMO/fetched"
"$WD_BIN/warden" svid fetch --socket "$DEMO/agent.sock" --out "$DEMO/fetched" \
    || die "svid fetch failed"
openssl verify -CAfile "$DEMO/fetched/bundle.0.pem" -untrusted "$DEMO/fetched/svid.0.pem" \
    "$DEMO/fetched/svid.0.pem" || die "the fetched SVID does not verify"

say "== deploy: ok"
say "   control plane  https://127.0.0.1:$CPORT   (warden node list, warden entry list ...)"
say "   records        inbound proxy 127.0.0.1:$IPORT -> nginx 127.0.0.1:$NPORT"
say "   doctor         outbound proxy http://127.0.0.1:$OPORT"
say "   audit          $LOGS/audit-records.jsonl"
if [ "${WD_DEMO_KEEP:-0}" = 1 ]; then
    say "running; Ctrl-C stops everything (export WARDEN_CONTROL=$WARDEN_CONTROL WARDEN_CONTROL_DIR=$WARDEN_CONTROL_DIR)"
    wait
fi
