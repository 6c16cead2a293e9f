#!/usr/bin/env bash
# warden quick start (README's first command): builds the release CLI if needed, creates a
# trust domain, issues X.509-SVIDs for two services, and proves them in a real mutual-TLS
# exchange between `openssl s_server` (the backend) and `openssl s_client` (the frontend),
# each trusting only the warden bundle. Prints the SPIFFE ID each side verified, shows that
# a client without an SVID is refused, and exits 0 when all of that held.
#
#   WD_DEMO_DIR   where the CA and SVIDs go (default build/quickstart; recreated each run)
#   WD_BIN        use the warden programs there instead of building build/release/bin
set -u
set -o pipefail
cd "$(dirname "$0")/.." || exit 1

TD=example.org
DEMO=${WD_DEMO_DIR:-build/quickstart}
say() { printf '%s\n' "$*"; }
die() {
    printf 'quickstart: %s\n' "$*" >&2
    exit 1
}
for c in make openssl python3 timeout; do
    command -v "$c" >/dev/null 2>&1 || die "'$c' is missing; run scripts/install-deps.sh first"
done

if [ -z "${WD_BIN:-}" ]; then
    say "== building the release CLI (make BUILD=release bins)"
    jobs=$(nproc 2>/dev/null || echo 2)
    mkdir -p build
    make --no-print-directory -j"$jobs" BUILD=release bins >build/quickstart-build.log 2>&1 || {
        tail -n 40 build/quickstart-build.log >&2
        die "build failed (full log: build/quickstart-build.log)"
    }
    WD_BIN=build/release/bin
fi
WARDEN=$WD_BIN/warden
[ -x "$WARDEN" ] || die "no warden CLI at $WARDEN"

# Start from scratch, but never delete a directory this script did not make.
if [ -d "$DEMO" ] && [ -n "$(ls -A "$DEMO")" ] && [ ! -f "$DEMO/.warden-quickstart" ]; then
    die "$DEMO exists and was not made by the quick start; set WD_DEMO_DIR elsewhere"
fi
rm -rf "$DEMO"
mkdir -p "$DEMO"
: >"$DEMO/.warden-quickstart"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
}
trap cleanup EXIT

run() {
    say "\$ $*"
    "$@" || die "'$*' failed"
}

say "== 1. a trust domain: root CA + signing intermediate + bundle"
run "$WARDEN" ca init --trust-domain "$TD" --dir "$DEMO/ca"
say "== 2. X.509-SVIDs for two services"
run "$WARDEN" cert issue --ca "$DEMO/ca" --spiffe-id "spiffe://$TD/backend" --out "$DEMO/backend"
run "$WARDEN" cert issue --ca "$DEMO/ca" --spiffe-id "spiffe://$TD/frontend" --out "$DEMO/frontend"
run "$WARDEN" cert verify --bundle "$DEMO/ca/bundle.pem" "$DEMO/backend/svid.pem"
run "$WARDEN" cert verify --bundle "$DEMO/ca/bundle.pem" "$DEMO/frontend/svid.pem"

# The leaf and its intermediate, separately, for openssl's -cert / -cert_chain.
for svc in backend frontend; do
    awk -v leaf="$DEMO/$svc/leaf.pem" -v rest="$DEMO/$svc/chain.pem" '
        /-----BEGIN CERTIFICATE-----/ { n++ }
        n == 1 { print > leaf }
        n > 1 { print > rest }' "$DEMO/$svc/svid.pem"
done

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# uri_san FILE: the URI SAN of the first certificate printed in FILE.
uri_san() {
    sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/{p;/-----END CERTIFICATE-----/q}' \
        "$1" | openssl x509 -noout -ext subjectAltName 2>/dev/null | sed -n 's/^ *URI://p'
}

# exchange NAME [CLIENT_DIR]: one mutual-TLS connection from s_client to s_server on
# 127.0.0.1; the server demands and verifies a client certificate against the bundle, the
# client verifies the server against the bundle; the client sends one line.
exchange() {
    local name=$1 cli=${2:-} port fifo fd spid i
    port=$(free_port)
    fifo=$DEMO/$name.stdin
    mkfifo "$fifo"
    exec {fd}<>"$fifo" # an s_server whose stdin never ends keeps the session open
    openssl s_server -accept "127.0.0.1:$port" -naccept 1 -Verify 1 -verify_return_error \
        -CAfile "$DEMO/ca/bundle.pem" -cert "$DEMO/backend/leaf.pem" \
        -cert_chain "$DEMO/backend/chain.pem" -key "$DEMO/backend/svid.key" \
        <"$fifo" >"$DEMO/$name-server.log" 2>&1 &
    spid=$!
    pids+=("$spid")
    for i in $(seq 100); do
        grep -q '^ACCEPT' "$DEMO/$name-server.log" 2>/dev/null && break
        sleep 0.1
    done
    [ "$i" -lt 100 ] || die "s_server did not start"
    local args=()
    [ -n "$cli" ] && args=(-cert "$cli/leaf.pem" -cert_chain "$cli/chain.pem" -key "$cli/svid.key")
    (
        echo "hello from the frontend"
        sleep 1
    ) | timeout 20 openssl s_client -connect "127.0.0.1:$port" -CAfile "$DEMO/ca/bundle.pem" \
        -verify_return_error "${args[@]}" >"$DEMO/$name-client.log" 2>&1
    for i in $(seq 100); do
        kill -0 "$spid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    exec {fd}>&-
}

say "== 3. mutual TLS: openssl s_server (backend SVID) <-> openssl s_client (frontend SVID)"
exchange mtls "$DEMO/frontend"
grep -q 'hello from the frontend' "$DEMO/mtls-server.log" \
    || die "the mTLS exchange failed; see $DEMO/mtls-server.log and $DEMO/mtls-client.log"
grep -q 'Verify return code: 0 (ok)' "$DEMO/mtls-client.log" || die "the client did not verify the server"
peer_of_server=$(sed -n '/^Client certificate/,$p' "$DEMO/mtls-server.log" >"$DEMO/client-seen.txt" \
    && uri_san "$DEMO/client-seen.txt")
peer_of_client=$(uri_san "$DEMO/mtls-client.log")
[ "$peer_of_server" = "spiffe://$TD/frontend" ] || die "the server saw '$peer_of_server'"
[ "$peer_of_client" = "spiffe://$TD/backend" ] || die "the client saw '$peer_of_client'"
say "backend  (s_server) verified its peer: $peer_of_server"
say "frontend (s_client) verified its peer: $peer_of_client"

say "== 4. a client without an SVID is refused"
exchange nocert
if grep -q 'hello from the frontend' "$DEMO/nocert-server.log"; then
    die "the server accepted data from a client without a certificate"
fi
grep -q 'peer did not return a certificate' "$DEMO/nocert-server.log" \
    || die "the client without a certificate was not refused for that reason"
say "backend refused it: peer did not return a certificate"

say "== quickstart: ok (files in $DEMO)"
