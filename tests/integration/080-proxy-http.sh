#!/usr/bin/env bash
# warden-proxy HTTP end to end: curl -> outbound proxy -> mTLS -> inbound proxy -> nginx.
# Allowed GET (200 with the body, x-warden-peer set by the proxy and never by the client),
# a denied path and a denied method (403 JSON with a request id, no policy internals), a
# second client identity denied by the same policy, a certificate of another CA refused at
# the handshake, SIGHUP flipping a decision under a concurrent curl loop without a failed
# request (and a bad policy refused), the header timeout cutting off a slow client,
# malformed HTTP from a raw socket answered with 400 while the proxy keeps serving,
# pipelining, HTTP/1.0, Expect: 100-continue, audit lines, /metrics, and SIGTERM exiting 0.
. "$(dirname "$0")/lib.sh"
need nginx curl openssl python3
need_warden
PROXY=$WD_BIN/warden-proxy
[ -x "$PROXY" ] || fail "no warden-proxy at $PROXY"

TD=example.org
ca_init "$TD" "$T/ca"
ca_init other.test "$T/other-ca"
issue "$T/ca" "spiffe://$TD/api" "$T/api"
issue "$T/ca" "spiffe://$TD/client" "$T/client"
issue "$T/ca" "spiffe://$TD/intruder" "$T/intruder"
issue "$T/other-ca" "spiffe://other.test/client" "$T/foreign"

NPORT=$(free_port)
IN=$(free_port)
ADMIN=$(free_port)
O1=$(free_port)
O2=$(free_port)
IN2=$(free_port)
SLOW=$(free_port)

# --- nginx: the plaintext service behind the inbound proxy -------------------------------
N=$T/nginx
mkdir -p "$N/logs" "$N/tmp" "$N/www"
echo "hello from nginx" >"$N/www/ok.txt"
echo "flip" >"$N/www/flip.txt"
echo "top secret" >"$N/www/secret.txt"
head -c 600000 /dev/urandom >"$N/www/ok-big.bin"
head -c 500000 /dev/urandom >"$T/upload.bin"
head -c 1100000 /dev/urandom >"$T/too-big.bin"
cat >"$N/nginx.conf" <<NGINX
daemon off;
master_process off;
worker_processes 1;
pid $N/nginx.pid;
error_log $N/logs/error.log info;
events { worker_connections 256; }
http {
    access_log $N/logs/access.log;
    client_body_temp_path $N/tmp/body;
    proxy_temp_path $N/tmp/proxy;
    fastcgi_temp_path $N/tmp/fastcgi;
    uwsgi_temp_path $N/tmp/uwsgi;
    scgi_temp_path $N/tmp/scgi;
    default_type text/plain;
    server {
        listen 127.0.0.1:$NPORT;
        root $N/www;
        location = /peer { return 200 "peer=\$http_x_warden_peer\n"; }
    }
}
NGINX
spawn nginx nginx -p "$N" -c "$N/nginx.conf" -e "$N/logs/error.log"
wait_port "$NPORT" 10 || fail "nginx did not start"
# A second upstream that takes 1.5 s per answer, for the drain on SIGTERM.
cat >"$T/slow.py" <<'PY'
import http.server, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/slow/error":
            # a response the policy must stop on its way back
            body = b"stack trace with secrets\n"
            self.send_response(500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path == "/slow/broken":
            # a smuggling-shaped response: two Content-Length fields
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok")
            self.close_connection = True
            return
        time.sleep(1.5)
        body = b"slow answer\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
spawn slow python3 "$T/slow.py" "$SLOW"
wait_port "$SLOW" 10 || fail "slow upstream did not start"

# --- policy and proxies ------------------------------------------------------------------
cat >"$T/policy.cedar" <<POLICY
@id("client-read")
permit (principal == Workload::"spiffe://$TD/client",
        action in [Action::"http:GET", Action::"http:HEAD"],
        resource == Workload::"spiffe://$TD/api")
when { context.path like "/ok*" || context.path like "/flip*" || context.path == "/peer" ||
       context.path like "/slow*" };

@id("client-upload")
permit (principal == Workload::"spiffe://$TD/client", action == Action::"http:POST", resource)
when { context.path == "/peer" && context.body.size < 600000 &&
       context.headers["content-type"] == "application/octet-stream" };

@id("responses")
permit (principal, action == Action::"http:response", resource);

@id("no-server-errors")
forbid (principal, action == Action::"http:response", resource) when { context.status >= 500 };
POLICY
cat >"$T/in.yaml" <<CFG
identity:
  cert: $T/api/svid.pem
  key: $T/api/svid.key
  bundle: $T/api/bundle.pem
policy:
  policies: $T/policy.cedar
audit:
  path: $T/audit.log
admin:
  listen: 127.0.0.1:$ADMIN
limits:
  header_timeout: 1s
  drain_timeout: 5s
workers: 2
listeners:
  - name: api
    mode: inbound
    protocol: http
    listen: 127.0.0.1:$IN
    upstream: 127.0.0.1:$NPORT
  - name: slow
    mode: inbound
    protocol: http
    listen: 127.0.0.1:$IN2
    upstream: 127.0.0.1:$SLOW
CFG
# outcfg NAME IDENTITY PORT: an outbound proxy configuration in $T/NAME.yaml
outcfg() {
    cat >"$T/$1.yaml" <<CFG
identity:
  cert: $T/$2/svid.pem
  key: $T/$2/svid.key
  bundle: $T/$2/bundle.pem
policy:
  policies: $T/policy.cedar
limits:
  header_timeout: 1s
workers: 1
listeners:
  - name: to-api
    mode: outbound
    protocol: http
    listen: 127.0.0.1:$3
    upstream: 127.0.0.1:$IN
    expect_peer: spiffe://$TD/api
CFG
}
outcfg out1 client "$O1"
outcfg out2 intruder "$O2"

# the shipped examples are valid configurations (their files exist only on a real host)
for ex in "$WD_ROOT"/examples/proxy/*.yaml; do
    run_ok "check-$(basename "$ex" .yaml)" "$PROXY" -c "$ex" --check-syntax
done
run_ok check-in "$PROXY" -c "$T/in.yaml" --check-config
grep -q "identity spiffe://$TD/api" "$T/logs/check-in.log" || fail "check-config did not name the identity"
# A broken configuration is refused with file:line:col.
sed 's/mode: inbound/mode: sideways/' "$T/in.yaml" >"$T/bad.yaml"
run_fails check-bad "$PROXY" -c "$T/bad.yaml" --check-config
grep -q "bad.yaml:[0-9]*:[0-9]*: mode: expected" "$T/logs/check-bad.err" \
    || fail "no position in: $(cat "$T/logs/check-bad.err")"

spawn inbound "$PROXY" -c "$T/in.yaml"
INPID=$SPAWNED
spawn out1 "$PROXY" -c "$T/out1.yaml"
spawn out2 "$PROXY" -c "$T/out2.yaml"
for p in "$IN" "$O1" "$O2" "$ADMIN"; do
    wait_port "$p" 10 || fail "proxy port $p did not open: $(cat "$T"/logs/*.log)"
done

# get NAME PORT PATH [CURL ARGS]: status in $STATUS, body in $T/NAME.body
get() {
    local name=$1 port=$2 path=$3
    shift 3
    STATUS=$(curl -sS --max-time 10 -o "$T/$name.body" -w '%{http_code}' "$@" \
        "http://127.0.0.1:$port$path" 2>"$T/logs/curl-$name.err")
    [ -n "$STATUS" ] || STATUS=000
}

# 1. allowed GET, through both proxies
get ok "$O1" /ok.txt
[ "$STATUS" = 200 ] || fail "allowed GET: HTTP $STATUS $(cat "$T/logs/curl-ok.err")"
grep -qx "hello from nginx" "$T/ok.body" || fail "allowed GET: wrong body"
# the inbound proxy tells nginx who the peer is, and a client cannot forge it
get peer "$O1" /peer -H "X-Warden-Peer: spiffe://$TD/admin"
[ "$STATUS" = 200 ] || fail "/peer: HTTP $STATUS"
grep -qx "peer=spiffe://$TD/client" "$T/peer.body" || fail "/peer: $(cat "$T/peer.body")"

# large bodies both ways, and concurrency through both proxies
get big "$O1" /ok-big.bin
[ "$STATUS" = 200 ] || fail "600 KB response: HTTP $STATUS"
cmp -s "$T/big.body" "$N/www/ok-big.bin" || fail "600 KB response: content differs"
get upload "$O1" /peer -H 'Content-Type: application/octet-stream' --data-binary @"$T/upload.bin"
[ "$STATUS" = 200 ] || fail "500 KB upload: HTTP $STATUS"
get upload-chunked "$O1" /peer -H 'Content-Type: application/octet-stream' \
    -H 'Transfer-Encoding: chunked' --data-binary @"$T/upload.bin"
[ "$STATUS" = 200 ] || fail "500 KB chunked upload: HTTP $STATUS"
get too-big "$O1" /peer -H 'Content-Type: application/octet-stream' --data-binary @"$T/too-big.bin"
[ "$STATUS" = 413 ] || fail "upload over max_body: HTTP $STATUS, want 413"
seq 300 | sed "s|.*|url = \"http://127.0.0.1:$O1/ok.txt\"\noutput = \"/dev/null\"|" >"$T/many.curl"
curl -sS --parallel --parallel-max 60 --max-time 60 -K "$T/many.curl" -w '%{http_code}\n' \
    >"$T/many.codes" 2>"$T/logs/curl-many.err" || fail "parallel curl failed: $(head -3 "$T/logs/curl-many.err")"
[ "$(grep -c '^200$' "$T/many.codes")" = 300 ] || fail "parallel: $(sort "$T/many.codes" | uniq -c)"

# responses are decided too: a 500 is replaced by a 403 without its body; a malformed
# response becomes a 502
mtls() {
    STATUS=$(curl -sS --max-time 10 -k --cert "$T/client/svid.pem" --key "$T/client/svid.key" \
        -o "$T/$1.body" -w '%{http_code}' "https://127.0.0.1:$IN2$2" 2>"$T/logs/curl-$1.err")
    [ -n "$STATUS" ] || STATUS=000
}
mtls error /slow/error
[ "$STATUS" = 403 ] || fail "denied response: HTTP $STATUS, want 403"
grep -q secrets "$T/error.body" && fail "the denied response's body reached the client"
mtls broken /slow/broken
[ "$STATUS" = 502 ] || fail "malformed response: HTTP $STATUS, want 502"
grep -q '"bad_gateway"' "$T/broken.body" || fail "malformed response: $(cat "$T/broken.body")"

# 2. denied path: 403 JSON with a request id and nothing about the policy
get denied "$O1" /secret.txt
[ "$STATUS" = 403 ] || fail "denied path: HTTP $STATUS"
python3 - "$T/denied.body" <<'PY' || fail "denied path: body is not the 403 JSON: $(cat "$T/denied.body")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["error"] == "forbidden" and d["request_id"], d
assert set(d) == {"error", "request_id"}, d
PY
grep -q "top secret" "$T/denied.body" && fail "denied path leaked the body"

# 3. denied method
get post "$O1" /ok.txt -X POST -d 'x=1'
[ "$STATUS" = 403 ] || fail "denied method: HTTP $STATUS"
get del "$O1" /ok.txt -X DELETE
[ "$STATUS" = 403 ] || fail "denied DELETE: HTTP $STATUS"

# 4. policy keyed on the peer's SPIFFE ID: the other identity is denied the same request
get intruder "$O2" /ok.txt
[ "$STATUS" = 403 ] || fail "second identity: HTTP $STATUS, want 403"

# 5. a certificate of another CA is refused at the handshake (no HTTP at all)
if curl -sS --max-time 10 -k --cert "$T/foreign/svid.pem" --key "$T/foreign/svid.key" \
    -o /dev/null "https://127.0.0.1:$IN/ok.txt" 2>"$T/logs/curl-foreign.err"; then
    fail "a certificate of another CA was accepted"
fi
# no client certificate at all: refused as well
if curl -sS --max-time 10 -k -o /dev/null "https://127.0.0.1:$IN/ok.txt" 2>/dev/null; then
    fail "a client without a certificate was accepted"
fi
# ... while the right certificate directly against the inbound listener works
STATUS=$(curl -sS --max-time 10 -k --cert "$T/client/svid.pem" --key "$T/client/svid.key" \
    -o /dev/null -w '%{http_code}' "https://127.0.0.1:$IN/ok.txt")
[ "$STATUS" = 200 ] || fail "direct mTLS to the inbound proxy: HTTP $STATUS"
grep -q "peer certificate refused" "$T/logs/inbound.log" || fail "the refusal was not logged"

# 6. SIGHUP flips a decision without dropping a concurrent curl loop
get flip1 "$O1" /flip.txt
[ "$STATUS" = 200 ] || fail "/flip before reload: HTTP $STATUS"
(
    ok=0 bad=0
    for _ in $(seq 150); do
        s=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$O1/ok.txt")
        if [ "$s" = 200 ]; then ok=$((ok + 1)); else bad=$((bad + 1)); echo "loop: $s" >&2; fi
    done
    echo "$ok $bad" >"$T/loop.result"
) 2>"$T/logs/loop.err" &
LOOP=$!
sleep 0.5
# server_cert: the SHA-256 fingerprint of the certificate the inbound proxy presents now
server_cert() {
    openssl s_client -connect "127.0.0.1:$IN" -cert "$T/client/svid.pem" -key "$T/client/svid.key" \
        </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256
}
FP1=$(server_cert)
[ -n "$FP1" ] || fail "no server certificate from the inbound proxy"
# a new SVID (new key) for the inbound proxy, picked up by the same SIGHUP
issue "$T/ca" "spiffe://$TD/api" "$T/api"
cat >>"$T/policy.cedar" <<'POLICY'

@id("no-flip")
forbid (principal, action, resource) when { context.path like "/flip*" };
POLICY
kill -HUP "$INPID"
wait_log "$T/logs/inbound.log" "reloaded identity" 10 || fail "no reload logged"
get flip2 "$O1" /flip.txt
[ "$STATUS" = 403 ] || fail "/flip after reload: HTTP $STATUS, want 403"
FP2=$(server_cert)
[ -n "$FP2" ] && [ "$FP1" != "$FP2" ] || fail "the inbound proxy still presents the old certificate"
# a broken policy is refused and the running one stays
echo 'permit (principal, action, resource) when { 1 + };' >>"$T/policy.cedar"
kill -HUP "$INPID"
wait_log "$T/logs/inbound.log" "reload refused" 10 || fail "a bad policy was not refused"
get flip3 "$O1" /flip.txt
[ "$STATUS" = 403 ] || fail "/flip after a refused reload: HTTP $STATUS, want 403"
get ok2 "$O1" /ok.txt
[ "$STATUS" = 200 ] || fail "after a refused reload: HTTP $STATUS"
wait "$LOOP"
read -r lok lbad <"$T/loop.result"
[ "$lbad" = 0 ] && [ "$lok" = 150 ] \
    || fail "curl loop during reloads: $lok ok, $lbad failed: $(head -5 "$T/logs/loop.err")"
log "reloads under a curl loop: $lok requests, none failed"

# 7. a slow-header client is cut off by the header timeout (1 s), plaintext and mTLS
python3 - "$O1" "$IN" "$T" <<'PY' || fail "slow header client was not cut off"
import socket, ssl, sys, time

def drain(s):
    data = b""
    try:
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
    except (ssl.SSLError, ConnectionError):
        pass
    return data

s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(8)
s.sendall(b"GET /ok.txt HTTP/1.1\r\nHost: a\r\n")
t0 = time.time()
data = drain(s)
took = time.time() - t0
assert 0.5 < took < 5, took
assert data.startswith(b"HTTP/1.1 408"), data
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = sys.argv[3]
ctx.load_cert_chain(t + "/client/svid.pem", t + "/client/svid.key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[2]))))
s.settimeout(8)
s.sendall(b"GET /ok.txt HTTP/1.1\r\n")
t0 = time.time()
data = drain(s)
assert time.time() - t0 < 5
assert data.startswith(b"HTTP/1.1 408"), data
PY

# 8. malformed HTTP from a raw socket: 400, then the proxy keeps serving
python3 - "$O1" <<'PY' || fail "malformed requests were not answered with 400"
import socket, sys
port = int(sys.argv[1])
bad = [
    b"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\nHost: a\r\n\r\n",
    b"\x16\x03\x01\x00\x05hello\r\n\r\n",
]
for msg in bad:
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(5)
    s.sendall(msg)
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    assert data.startswith(b"HTTP/1.1 400 "), (msg, data)
    s.close()
PY
get after "$O1" /ok.txt
[ "$STATUS" = 200 ] || fail "after malformed input: HTTP $STATUS"

# 9. pipelining: two requests in one write, answered in order on one connection
python3 - "$O1" <<'PY' || fail "pipelined requests"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(5)
s.sendall(b"GET /ok.txt HTTP/1.1\r\nHost: a\r\n\r\n"
          b"GET /secret.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
first = data.find(b"HTTP/1.1 200")
second = data.find(b"HTTP/1.1 403")
assert 0 == first < second, data
assert b"hello from nginx" in data[:second]
PY
# HTTP/1.0 and Expect: 100-continue
STATUS=$(curl -sS --http1.0 --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$O1/ok.txt")
[ "$STATUS" = 200 ] || fail "HTTP/1.0: $STATUS"
STATUS=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H 'Expect: 100-continue' \
    -X POST --data-binary @"$N/www/ok.txt" "http://127.0.0.1:$O1/ok.txt")
[ "$STATUS" = 403 ] || fail "POST with 100-continue: $STATUS, want 403"

# 10. audit lines and metrics
python3 - "$T/audit.log" "$TD" <<'PY' || fail "audit log"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
td = sys.argv[2]
need = {"time", "request_id", "principal", "action", "resource", "decision", "policies", "eval_us"}
for l in lines:
    assert need <= set(l), l
deny = [l for l in lines if l["decision"] == "deny"]
assert any(l["principal"] == f'Workload::"spiffe://{td}/intruder"' for l in deny), deny
assert any(l["action"] == 'Action::"http:POST"' for l in deny)
assert any(l["policies"] == ["no-flip"] for l in deny)
assert any(l["policies"] == ["no-server-errors"] and l.get("status") == 500 for l in deny), deny
allow = [l for l in lines if l["decision"] == "allow"]
assert any(l["policies"] == ["client-read"] for l in allow)
assert any(l["action"] == 'Action::"http:response"' and l.get("status") == 200 for l in allow)
PY
curl -sS --max-time 5 "http://127.0.0.1:$ADMIN/metrics" >"$T/metrics.txt" || fail "no /metrics"
grep -Eq '^warden_proxy_decisions_total\{result="deny"\} [1-9]' "$T/metrics.txt" || fail "metrics: no denials counted"
grep -Eq '^warden_proxy_tls_handshakes_total\{result="fail"\} [1-9]' "$T/metrics.txt" || fail "metrics: no failed handshakes"
grep -Eq '^warden_proxy_reloads_total\{result="fail"\} 1$' "$T/metrics.txt" || fail "metrics: refused reload not counted"
grep -q '^warden_proxy_request_duration_seconds_bucket{le="+Inf"}' "$T/metrics.txt" || fail "metrics: no histogram"
[ "$(curl -sS --max-time 5 "http://127.0.0.1:$ADMIN/healthz")" = ok ] || fail "healthz"

# 11. SIGTERM: stop accepting, finish the in-flight request, exit 0
curl -sS --max-time 10 -k --cert "$T/client/svid.pem" --key "$T/client/svid.key" \
    -o "$T/slow.body" -w '%{http_code}' "https://127.0.0.1:$IN2/slow" >"$T/slow.status" 2>"$T/logs/curl-slow.err" &
SLOWCURL=$!
sleep 0.5
kill -TERM "$INPID"
sleep 0.3
if curl -s --max-time 3 -o /dev/null "http://127.0.0.1:$O1/ok.txt" -w '%{http_code}' | grep -q 200; then
    fail "a new request was served while draining"
fi
wait "$SLOWCURL" || fail "the in-flight request failed during the drain: $(cat "$T/logs/curl-slow.err")"
[ "$(cat "$T/slow.status")" = 200 ] || fail "in-flight request during the drain: HTTP $(cat "$T/slow.status")"
grep -qx "slow answer" "$T/slow.body" || fail "in-flight request: wrong body"
wait_exit "$INPID" 10 || fail "inbound proxy did not stop on SIGTERM"
[ "$EXIT_STATUS" = 0 ] || fail "inbound proxy exited $EXIT_STATUS: $(tail -5 "$T/logs/inbound.log")"
pass
