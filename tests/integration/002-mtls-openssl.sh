#!/usr/bin/env bash
# Mutual TLS between `openssl s_server` and `openssl s_client`, both holding warden SVIDs
# and trusting only the warden bundle: the handshake succeeds, application data flows, and
# each side sees the other's SPIFFE ID. It fails with a client certificate of another trust
# domain, with an expired client or server certificate, and with no client certificate.
. "$(dirname "$0")/lib.sh"
need openssl python3 timeout
need_warden

TD=example.org
ca_init "$TD" "$T/ca"
ca_init other.test "$T/other-ca"
issue "$T/ca" "spiffe://$TD/backend" "$T/server"
issue "$T/ca" "spiffe://$TD/frontend" "$T/client"
issue "$T/other-ca" spiffe://other.test/frontend "$T/foreign"
issue "$T/ca" "spiffe://$TD/expired-client" "$T/expired-client" --ttl 1s
issue "$T/ca" "spiffe://$TD/expired-server" "$T/expired-server" --ttl 1s
for d in server client foreign expired-client expired-server; do
    split_chain "$T/$d/svid.pem" "$T/$d/leaf.pem" "$T/$d/chain.pem"
done
BUNDLE=$T/ca/bundle.pem

# mtls NAME SERVER_DIR CLIENT_DIR|- : one TLS exchange. s_server takes one connection,
# demands a client certificate (-Verify 1) and aborts on any verification error; s_client
# checks the server against the bundle, sends a token and lingers a second. Sets
# SERVER_LOG, CLIENT_LOG, CLIENT_RC and TOKEN.
mtls() {
    local name=$1 srv=$2 cli=$3 port fifo fd spid
    port=$(free_port)
    fifo=$T/$name.stdin
    mkfifo "$fifo"
    # s_server ends the session when its stdin hits EOF; a FIFO held open here never does.
    exec {fd}<>"$fifo"
    SPAWN_STDIN=$fifo spawn "$name-server" openssl s_server -accept "127.0.0.1:$port" -naccept 1 \
        -Verify 1 -verify_return_error -CAfile "$BUNDLE" \
        -cert "$srv/leaf.pem" -cert_chain "$srv/chain.pem" -key "$srv/svid.key"
    spid=$SPAWNED
    SERVER_LOG=$T/logs/$name-server.log
    CLIENT_LOG=$T/logs/$name-client.log
    wait_log "$SERVER_LOG" '^ACCEPT' 10 || fail "$name: s_server did not start"
    TOKEN="token-$name-$RANDOM$RANDOM"
    local cert_args=()
    if [ "$cli" != - ]; then
        cert_args=(-cert "$cli/leaf.pem" -cert_chain "$cli/chain.pem" -key "$cli/svid.key")
    fi
    (
        printf '%s\n' "$TOKEN"
        sleep 1
    ) | timeout 20 openssl s_client -connect "127.0.0.1:$port" -CAfile "$BUNDLE" \
        -verify_return_error "${cert_args[@]}" >"$CLIENT_LOG" 2>&1
    CLIENT_RC=$?
    # -naccept 1: the server ends by itself once the connection is over.
    wait_exit "$spid" 10 || fail "$name: s_server did not exit after one connection"
    exec {fd}>&-
}

# expect_refused NAME WHY_REGEX: the server must not have received the token, and its log
# must give the expected reason.
expect_refused() {
    local name=$1 why=$2
    if grep -q "$TOKEN" "$SERVER_LOG"; then
        fail "$name: the server received application data from a refused client"
    fi
    grep -qE "$why" "$SERVER_LOG" "$CLIENT_LOG" || {
        sed 's/^/    server: /' "$SERVER_LOG" >&2
        sed 's/^/    client: /' "$CLIENT_LOG" >&2
        fail "$name: refused, but not for the expected reason /$why/"
    }
    log "$name: refused as expected"
}

# 1. Two warden SVIDs: success, and both peers' SPIFFE IDs are the expected ones.
mtls ok "$T/server" "$T/client"
[ "$CLIENT_RC" -eq 0 ] || {
    sed 's/^/    /' "$CLIENT_LOG" "$SERVER_LOG" >&2
    fail "ok: s_client failed (exit $CLIENT_RC)"
}
grep -q "$TOKEN" "$SERVER_LOG" || fail "ok: the server did not receive the client's data"
grep -q 'Verify return code: 0 (ok)' "$CLIENT_LOG" || fail "ok: the client did not verify the server"
grep -q '^Client certificate' "$SERVER_LOG" || fail "ok: the server saw no client certificate"
sed -n '/^Client certificate/,$p' "$SERVER_LOG" >"$T/client-seen.txt"
first_pem_cert "$T/client-seen.txt" "$T/client-seen.pem" || fail "ok: no client certificate in the server log"
first_pem_cert "$CLIENT_LOG" "$T/server-seen.pem" || fail "ok: no server certificate in the client log"
client_id=$(spiffe_id_of "$T/client-seen.pem")
server_id=$(spiffe_id_of "$T/server-seen.pem")
[ "$client_id" = "spiffe://$TD/frontend" ] || fail "ok: server saw client $client_id"
[ "$server_id" = "spiffe://$TD/backend" ] || fail "ok: client saw server $server_id"
# What each side saw is exactly what warden issued, and it verifies with warden too.
cmp -s "$T/client-seen.pem" "$T/client/leaf.pem" || fail "ok: the server saw another client certificate"
out=$("$WARDEN" cert verify --bundle "$BUNDLE" "$T/client/svid.pem" 2>&1) || fail "ok: $out"
[ "$out" = "ok $client_id" ] || fail "ok: warden cert verify printed '$out'"
log "server verified client $client_id; client verified server $server_id"

# 2. A client SVID of another trust domain.
mtls foreign "$T/server" "$T/foreign"
expect_refused foreign 'unable to get local issuer certificate|certificate verify failed|unknown ca'

# 3. No client certificate at all.
mtls nocert "$T/server" -
expect_refused nocert 'peer did not return a certificate|certificate required'

# 4 and 5. Expired certificates (1 s TTL; NotBefore is backdated, so they are long past).
sleep 3
out=$("$WARDEN" cert verify --bundle "$BUNDLE" "$T/expired-client/svid.pem" 2>&1) \
    && fail "warden cert verify accepted an expired SVID: $out"
mtls expired-client "$T/server" "$T/expired-client"
expect_refused expired-client 'certificate has expired'
mtls expired-server "$T/expired-server" "$T/client"
if grep -q "$TOKEN" "$SERVER_LOG"; then
    fail "expired-server: the client sent data to a server with an expired certificate"
fi
[ "$CLIENT_RC" -ne 0 ] || fail "expired-server: s_client succeeded"
grep -q 'certificate has expired' "$CLIENT_LOG" || fail "expired-server: not refused for expiry"

# 6. The good pair still works after the refusals (nothing was left in a bad state).
mtls again "$T/server" "$T/client"
grep -q "$TOKEN" "$SERVER_LOG" || fail "again: the server did not receive the client's data"

pass
