#!/usr/bin/env bash
# warden-proxy TCP passthrough to a service that encrypts itself (openssl s_server -www):
# curl (TLS to s_server, through the tunnel) -> outbound proxy -> mTLS -> inbound proxy ->
# s_server. The inbound proxy decides Action::"tcp:connect" by the peer's SPIFFE ID: the
# allowed identity gets s_server's page (and curl sees s_server's certificate, not the
# proxies'), the other identity's connection is closed; the audit line at close carries
# the byte counts; a peer of another CA is refused at the handshake.
. "$(dirname "$0")/lib.sh"
need curl openssl python3
need_warden
PROXY=$WD_BIN/warden-proxy
[ -x "$PROXY" ] || fail "no warden-proxy at $PROXY"

TD=example.org
ca_init "$TD" "$T/ca"
ca_init other.test "$T/other-ca"
issue "$T/ca" "spiffe://$TD/db" "$T/db"
issue "$T/ca" "spiffe://$TD/client" "$T/client"
issue "$T/ca" "spiffe://$TD/intruder" "$T/intruder"
issue "$T/other-ca" "spiffe://other.test/client" "$T/foreign"

# The service's own TLS identity, unrelated to warden.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj "/CN=tls-service" -keyout "$T/svc.key" -out "$T/svc.pem" 2>/dev/null \
    || fail "cannot make the service certificate"

SPORT=$(free_port)
IN=$(free_port)
O1=$(free_port)
O2=$(free_port)
spawn s_server openssl s_server -accept "127.0.0.1:$SPORT" -cert "$T/svc.pem" -key "$T/svc.key" -www
wait_log "$T/logs/s_server.log" "ACCEPT" 10 || fail "s_server did not start"

cat >"$T/policy.cedar" <<POLICY
@id("client-db")
permit (principal == Workload::"spiffe://$TD/client", action == Action::"tcp:connect",
        resource == Workload::"spiffe://$TD/db")
when { context.source_ip.isLoopback() && context.port == $IN };
POLICY
cat >"$T/in.yaml" <<CFG
identity: {cert: $T/db/svid.pem, key: $T/db/svid.key, bundle: $T/db/bundle.pem}
policy: {policies: $T/policy.cedar}
audit: {path: $T/audit.log}
workers: 2
listeners:
  - {name: db, mode: inbound, protocol: tcp, listen: "127.0.0.1:$IN", upstream: "127.0.0.1:$SPORT"}
CFG
outcfg() {
    cat >"$T/$1.yaml" <<CFG
identity: {cert: $T/$2/svid.pem, key: $T/$2/svid.key, bundle: $T/$2/bundle.pem}
policy: {policies: $T/policy.cedar}
workers: 1
listeners:
  - name: to-db
    mode: outbound
    protocol: tcp
    listen: "127.0.0.1:$3"
    upstream: "127.0.0.1:$IN"
    expect_peer: spiffe://$TD/db
CFG
}
outcfg out1 client "$O1"
outcfg out2 intruder "$O2"
spawn inbound "$PROXY" -c "$T/in.yaml"
INPID=$SPAWNED
spawn out1 "$PROXY" -c "$T/out1.yaml"
spawn out2 "$PROXY" -c "$T/out2.yaml"
wait_log "$T/logs/inbound.log" "ready" 10 || fail "inbound proxy not ready: $(cat "$T/logs/inbound.log")"
wait_log "$T/logs/out1.log" "ready" 10 || fail "out1 not ready"
wait_log "$T/logs/out2.log" "ready" 10 || fail "out2 not ready"

# 1. allowed: curl speaks TLS with s_server through both proxies
curl -sS --max-time 10 -k -o "$T/page.html" "https://127.0.0.1:$O1/" 2>"$T/logs/curl-ok.err" \
    || fail "allowed TCP: curl failed: $(cat "$T/logs/curl-ok.err")"
grep -q "s_server" "$T/page.html" || fail "allowed TCP: not s_server's page"
# the certificate curl saw end to end is the service's own
openssl s_client -connect "127.0.0.1:$O1" </dev/null >"$T/logs/s_client.log" 2>&1
grep -q "CN *= *tls-service" "$T/logs/s_client.log" || fail "the tunnel did not reach the service's TLS"

# 2. denied by peer ID: the connection is closed before any byte of the service
if curl -sS --max-time 10 -k -o /dev/null "https://127.0.0.1:$O2/" 2>"$T/logs/curl-denied.err"; then
    fail "denied identity reached the service"
fi

# 3. another CA's certificate is refused at the inbound proxy's handshake
python3 - "$IN" "$T" <<'PY' || fail "foreign peer was not refused at the handshake"
import socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.load_cert_chain(sys.argv[2] + "/foreign/svid.pem", sys.argv[2] + "/foreign/svid.key")
try:
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5))
    # TLS 1.3: the client may finish first; the refusal arrives with the first read
    s.sendall(b"x")
    data = s.recv(10)
    sys.exit(1 if data else 0)
except (ssl.SSLError, ConnectionError, socket.timeout):
    sys.exit(0)
PY

# 4. audit: a denial for the intruder at once, an allow with byte counts at close
stop "$INPID"
python3 - "$T/audit.log" "$TD" <<'PY' || fail "audit log: $(cat "$T/audit.log")"
import json, sys
td = sys.argv[2]
lines = [json.loads(l) for l in open(sys.argv[1])]
deny = [l for l in lines if l["decision"] == "deny"]
allow = [l for l in lines if l["decision"] == "allow"]
assert any(l["principal"] == f'Workload::"spiffe://{td}/intruder"' and
           l["action"] == 'Action::"tcp:connect"' for l in deny), deny
assert allow and all(l["policies"] == ["client-db"] for l in allow), allow
assert any(l["bytes_in"] > 100 and l["bytes_out"] > 100 for l in allow), allow
PY
pass
