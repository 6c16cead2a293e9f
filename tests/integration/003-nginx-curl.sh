#!/usr/bin/env bash
# A real nginx configured with a warden SVID, the warden bundle and `ssl_verify_client on`,
# and curl presenting warden SVIDs (curl --cert svid.pem --key svid.key): 200, and nginx saw
# the client's SPIFFE ID, only with a valid SVID of the trust domain; 400 without a client
# certificate, or with a certificate of another trust domain, of a rogue CA claiming the
# trust domain, or an expired one.
. "$(dirname "$0")/lib.sh"
need nginx curl openssl python3
need_warden

TD=example.org
ca_init "$TD" "$T/ca"
ca_init other.test "$T/other-ca"
issue "$T/ca" "spiffe://$TD/nginx" "$T/server"
issue "$T/ca" "spiffe://$TD/client" "$T/client"
issue "$T/ca" "spiffe://$TD/expired" "$T/expired" --ttl 1s
issue "$T/other-ca" spiffe://other.test/client "$T/foreign"
ossl_ca "$TD" "$T/rogue-ca" || fail "openssl could not make the rogue CA"
ossl_svid "$T/rogue-ca" "spiffe://$TD/client" "$T/rogue" || fail "openssl could not make the rogue SVID"

PORT=$(free_port)
N=$T/nginx
mkdir -p "$N/logs" "$N/tmp"
# One process in the foreground (no master, no daemon), everything under $N; as root the
# worker keeps running as root, which is fine for a test on 127.0.0.1.
cat >"$N/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $N/nginx.pid;
error_log $N/logs/error.log info;
events {
    worker_connections 64;
}
http {
    access_log $N/logs/access.log;
    client_body_temp_path $N/tmp/body;
    proxy_temp_path $N/tmp/proxy;
    fastcgi_temp_path $N/tmp/fastcgi;
    uwsgi_temp_path $N/tmp/uwsgi;
    scgi_temp_path $N/tmp/scgi;
    default_type text/plain;
    server {
        listen 127.0.0.1:$PORT ssl;
        ssl_certificate $T/server/svid.pem;
        ssl_certificate_key $T/server/svid.key;
        ssl_client_certificate $T/ca/bundle.pem;
        ssl_verify_client on;
        ssl_verify_depth 2;
        location / {
            return 200 "verify=\$ssl_client_verify\ndn=\$ssl_client_s_dn\ncert=\$ssl_client_escaped_cert\n";
        }
    }
}
EOF
nginx -t -p "$N" -c "$N/nginx.conf" -e "$N/logs/error.log" >"$T/logs/nginx-t.log" 2>&1 || {
    sed 's/^/    /' "$T/logs/nginx-t.log" >&2
    fail "nginx rejected the configuration"
}
spawn nginx nginx -p "$N" -c "$N/nginx.conf" -e "$N/logs/error.log"
NGINX=$SPAWNED
wait_port "$PORT" 10 || {
    sed 's/^/    /' "$N/logs/error.log" "$T/logs/nginx.log" >&2
    fail "nginx did not listen on 127.0.0.1:$PORT"
}

# curl can only check a server certificate against a host name, and an SVID names a SPIFFE
# ID instead (the X509-SVID spec's peers check the URI SAN, not DNS). So curl pins nginx's
# warden-issued public key (-k --pinnedpubkey: the connection fails for any other key), and
# s_client checks nginx's chain against the bundle and its SPIFFE ID below.
openssl pkey -in "$T/server/svid.key" -pubout -out "$T/server/pub.pem" 2>/dev/null \
    || fail "cannot read the server's public key"

# get NAME [CURL ARGS...]: GET / from nginx; the status is in $STATUS (000: no HTTP response)
# and the body in $T/NAME.body.
get() {
    local name=$1
    shift
    STATUS=$(curl -sS --max-time 10 -o "$T/$name.body" -w '%{http_code}' -k \
        --pinnedpubkey "$T/server/pub.pem" "$@" "https://127.0.0.1:$PORT/" \
        2>"$T/logs/curl-$name.err")
    [ -n "$STATUS" ] || STATUS=000
}

# 1. A valid SVID: 200, and nginx saw exactly the client's warden certificate.
get ok --cert "$T/client/svid.pem" --key "$T/client/svid.key"
[ "$STATUS" = 200 ] || {
    cat "$T/logs/curl-ok.err" "$T/ok.body" >&2
    fail "valid SVID: HTTP $STATUS, want 200"
}
grep -qx 'verify=SUCCESS' "$T/ok.body" || fail "valid SVID: nginx says $(head -n 1 "$T/ok.body")"
python3 - "$T/ok.body" "$T/client-seen.pem" <<'EOF' || fail "valid SVID: no client certificate in the response"
import sys, urllib.parse
for line in open(sys.argv[1]):
    if line.startswith("cert="):
        pem = urllib.parse.unquote(line[len("cert="):].strip())
        assert "BEGIN CERTIFICATE" in pem
        open(sys.argv[2], "w").write(pem)
        break
else:
    sys.exit(1)
EOF
id=$(spiffe_id_of "$T/client-seen.pem")
[ "$id" = "spiffe://$TD/client" ] || fail "nginx saw client $id"
split_chain "$T/client/svid.pem" "$T/client/leaf.pem" "$T/client/chain.pem"
cmp -s <(openssl x509 -in "$T/client-seen.pem" -outform DER) \
    <(openssl x509 -in "$T/client/leaf.pem" -outform DER) || fail "nginx saw another certificate"
log "nginx verified client $id"

# nginx's certificate chains to the bundle and names the SPIFFE ID it was issued for.
openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$T/ca/bundle.pem" -verify_return_error \
    -cert "$T/client/svid.pem" -key "$T/client/svid.key" </dev/null >"$T/logs/s_client.log" 2>&1 \
    || fail "s_client could not verify nginx"
first_pem_cert "$T/logs/s_client.log" "$T/server-seen.pem" || fail "no server certificate from nginx"
id=$(spiffe_id_of "$T/server-seen.pem")
[ "$id" = "spiffe://$TD/nginx" ] || fail "nginx presented $id"

# 2. No client certificate: nginx answers 400 "No required SSL certificate was sent".
get nocert
[ "$STATUS" = 400 ] || fail "no client certificate: HTTP $STATUS, want 400"
grep -q 'No required SSL certificate was sent' "$T/nocert.body" || fail "no client certificate: unexpected body"

# 3-5. Certificates nginx must refuse: 400 "The SSL certificate error".
for bad in foreign rogue expired; do
    [ "$bad" = expired ] && sleep 3 # 1 s TTL, backdated NotBefore: surely expired by now
    get "$bad" --cert "$T/$bad/svid.pem" --key "$T/$bad/svid.key"
    [ "$STATUS" = 400 ] || fail "$bad client certificate: HTTP $STATUS, want 400"
    grep -q 'The SSL certificate error' "$T/$bad.body" || fail "$bad: unexpected body: $(cat "$T/$bad.body")"
done
grep -q 'certificate has expired' "$N/logs/error.log" || fail "nginx did not log the expiry"

# 6. A client trusting only another trust domain refuses nginx.
if openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$T/other-ca/bundle.pem" \
    -verify_return_error -cert "$T/client/svid.pem" -key "$T/client/svid.key" </dev/null \
    >"$T/logs/s_client-other.log" 2>&1; then
    fail "s_client accepted nginx's certificate with another trust domain's bundle"
fi
grep -q 'unable to get local issuer certificate' "$T/logs/s_client-other.log" \
    || fail "s_client (other bundle) failed for another reason"

# 7. Still serving valid clients.
get again --cert "$T/client/svid.pem" --key "$T/client/svid.key"
[ "$STATUS" = 200 ] || fail "valid SVID (again): HTTP $STATUS"
kill -0 "$NGINX" 2>/dev/null || fail "nginx died"

pass
