#!/usr/bin/env bash
# SVID rotation feeding a real nginx through a warden-agent file sink:
#
#  - warden-control and a warden-agent (join token) with an entry of 20 s TTL for nginx's
#    SPIFFE ID; the agent's file sink writes nginx's certificate, key and trust bundle and
#    runs `nginx -s reload` after each new SVID (rotation at about half the TTL);
#  - nginx serves 127.0.0.1 with `ssl_verify_client on` and the sink's files;
#  - a curl loop presenting a client SVID issued with `warden cert issue` from the control
#    plane's own CA (DIR/ca) gets 200 on every request, across at least two rotations;
#  - the certificate nginx serves (seen with openssl s_client, verified against the trust
#    bundle) changes serial at least twice, and each served leaf names nginx's SPIFFE ID;
#  - nginx's error log shows the reloads and no TLS failure.
. "$(dirname "$0")/lib.sh"
need nginx curl openssl python3
need_warden

CONTROL=$WD_BIN/warden-control
AGENT=$WD_BIN/warden-agent
[ -x "$CONTROL" ] || fail "no warden-control at $CONTROL"
[ -x "$AGENT" ] || fail "no warden-agent at $AGENT"
NGINX_BIN=$(command -v nginx)
TTL=20

run_ok init "$CONTROL" init --dir "$T/ctl" --trust-domain example.org
PORT=$(free_port)
spawn control "$CONTROL" run --dir "$T/ctl" --listen "127.0.0.1:$PORT"
wait_port "$PORT" 20 || fail "warden-control did not come up: $(cat "$T/logs/control.log")"
export WARDEN_CONTROL=https://127.0.0.1:$PORT WARDEN_CONTROL_DIR=$T/ctl
"$WARDEN" token create --node node-a --ttl 10m >"$T/token" 2>"$T/logs/token.err" \
    || fail "token create: $(cat "$T/logs/token.err")"
chmod 0600 "$T/token"
"$WARDEN" entry create --spiffe-id spiffe://example.org/nginx --node node-a --uid 0 \
    --ttl "${TTL}s" >/dev/null || fail "entry create"
issue "$T/ctl/ca" spiffe://example.org/client "$T/client"

N=$T/nginx
mkdir -p "$N/logs" "$N/tmp"
RELOAD="[$NGINX_BIN, -p, $N, -c, $N/nginx.conf, -e, $N/logs/error.log, -s, reload]"
cat >"$T/agent.yaml" <<EOF
node: node-a
control:
  url: $WARDEN_CONTROL
  trust_bundle: $T/ctl/bundle.pem
state_dir: $T/state
attestation:
  join_token_file: $T/token
workload_api:
  socket: $T/agent.sock
log_level: debug
sinks:
  - spiffe_id: spiffe://example.org/nginx
    dir: $T/sink
    reload: $RELOAD
    reload_timeout: 10s
EOF
run_ok check "$AGENT" --config "$T/agent.yaml" --check-config
spawn agent "$AGENT" --config "$T/agent.yaml"
wait_log "$T/logs/agent.log" 'sink spiffe://example.org/nginx: wrote' 20 || {
    cat "$T/logs/agent.log" >&2
    fail "the sink was not written"
}
# The first reload ran before nginx existed and failed (no pid file): that is fine.

HPORT=$(free_port)
USER_LINE=
[ "$(id -u)" -eq 0 ] && USER_LINE="user root root;"
cat >"$N/nginx.conf" <<EOF
daemon off;
master_process on;
$USER_LINE
worker_processes 1;
pid $N/nginx.pid;
error_log $N/logs/error.log notice;
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
        listen 127.0.0.1:$HPORT ssl;
        ssl_certificate $T/sink/svid.pem;
        ssl_certificate_key $T/sink/svid.key;
        ssl_client_certificate $T/sink/bundle.pem;
        ssl_verify_client on;
        ssl_verify_depth 2;
        location / {
            return 200 "verify=\$ssl_client_verify\n";
        }
    }
}
EOF
"$NGINX_BIN" -t -p "$N" -c "$N/nginx.conf" -e "$N/logs/error.log" >"$T/logs/nginx-t.log" 2>&1 \
    || fail "nginx rejected the configuration: $(cat "$T/logs/nginx-t.log")"
# Only what nginx logs from now on counts (the sink's first reload found no nginx).
skip=$(wc -l <"$N/logs/error.log" 2>/dev/null || echo 0)
spawn nginx "$NGINX_BIN" -p "$N" -c "$N/nginx.conf" -e "$N/logs/error.log"
NGINX=$SPAWNED
wait_port "$HPORT" 10 || fail "nginx did not listen: $(cat "$N/logs/error.log")"

# served_serial: the serial of the certificate nginx serves now, after checking the chain
# against the trust bundle and the SPIFFE ID of the leaf; empty on failure.
served_serial() {
    timeout 10 openssl s_client -connect "127.0.0.1:$HPORT" -CAfile "$T/ctl/bundle.pem" \
        -verify_return_error -cert "$T/client/svid.pem" -key "$T/client/svid.key" \
        </dev/null >"$T/sc.out" 2>&1 || return 0
    first_pem_cert "$T/sc.out" "$T/served.pem" || return 0
    [ "$(spiffe_id_of "$T/served.pem")" = spiffe://example.org/nginx ] || return 0
    openssl x509 -in "$T/served.pem" -noout -serial | cut -d= -f2
}

# The curl loop: one new connection per request, every status to $T/codes.
(
    while :; do
        curl -sS -k --max-time 5 -o /dev/null -w '%{http_code}\n' --cert "$T/client/svid.pem" \
            --key "$T/client/svid.key" "https://127.0.0.1:$HPORT/" >>"$T/codes" 2>>"$T/curl.err" \
            || echo fail >>"$T/codes"
        sleep 0.05
    done
) &
WD_PIDS+=($!)
CURL_LOOP=$!

s0=$(served_serial)
[ -n "$s0" ] || fail "cannot read nginx's certificate: $(tail -n 5 "$T/sc.out")"
log "serving serial $s0"
serials=("$s0")
deadline=$(($(date +%s) + 3 * TTL))
while [ "${#serials[@]}" -lt 3 ] && [ "$(date +%s)" -lt "$deadline" ]; do
    sleep 0.5
    s=$(served_serial)
    [ -n "$s" ] || fail "nginx's certificate did not verify or name nginx: $(tail -n 5 "$T/sc.out")"
    if [ "$s" != "${serials[-1]}" ]; then
        serials+=("$s")
        log "rotated: now serving serial $s"
    fi
done
[ "${#serials[@]}" -ge 3 ] || fail "only ${#serials[@]} distinct served serials in $((3 * TTL)) s"
# A few more requests on the last certificate, then stop the loop.
sleep 1
kill "$CURL_LOOP" 2>/dev/null
wait "$CURL_LOOP" 2>/dev/null

total=$(wc -l <"$T/codes")
bad=$(grep -vc '^200$' "$T/codes" || true)
log "$total requests, $bad not 200"
[ "$total" -ge 50 ] || fail "only $total requests were made"
[ "$bad" -eq 0 ] || fail "$bad of $total requests failed: $(sort "$T/codes" | uniq -c | tr '\n' ' ') $(tail -n 3 "$T/curl.err")"
writes=$(grep -c 'sink spiffe://example.org/nginx: wrote' "$T/logs/agent.log")
[ "$writes" -ge 3 ] || fail "the sink was written $writes times"
tail -n +$((skip + 1)) "$N/logs/error.log" >"$T/nginx-error.log"
reloads=$(grep -c 'signal process started' "$T/nginx-error.log" || true)
[ "$reloads" -ge 2 ] || fail "nginx saw $reloads reloads: $(tail -n 5 "$T/nginx-error.log")"
if grep -E '\[(crit|alert|emerg)\]' "$T/nginx-error.log" >"$T/nginx-errs"; then
    fail "nginx errors: $(head -n 3 "$T/nginx-errs")"
fi
stop "$NGINX"
pass
