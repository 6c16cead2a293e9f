#!/usr/bin/env bash
# warden-proxy routes and detectors end to end: curl -> outbound proxy -> mTLS -> inbound
# proxy -> nginx. (1) a response whose body matches a detector is stopped on its way back
# (403 JSON, the identifier never reaches the client) while a clean file passes; (2) a route
# with a parameter decides /patients/42 (200) against /patients/43 (403); (3) a request body
# with a detector hit is refused before it reaches nginx, and a json_field detector applies
# only to a JSON body; (4) SIGHUP with a changed detector list flips a decision, and a
# broken detector is refused with file:line:col while the running set stays; (5) with
# mosquitto installed, MQTT payloads are scanned both ways (publish and delivery).
. "$(dirname "$0")/lib.sh"
need nginx curl openssl python3
need_warden
PROXY=$WD_BIN/warden-proxy
[ -x "$PROXY" ] || fail "no warden-proxy at $PROXY"

TD=example.org
ca_init "$TD" "$T/ca"
issue "$T/ca" "spiffe://$TD/records" "$T/records"
issue "$T/ca" "spiffe://$TD/client" "$T/client"

NPORT=$(free_port)
IN=$(free_port)
OUT=$(free_port)
MIN=$(free_port)
BPORT=$(free_port)

# --- nginx: the records service --------------------------------------------------------
N=$T/nginx
mkdir -p "$N/logs" "$N/tmp" "$N/www/records" "$N/www/patients"
printf 'name: Ann Example\nid: PID-123456\n' >"$N/www/records/ann.txt"
printf 'opening hours: 9-17\n' >"$N/www/records/clean.txt"
printf 'INTERNAL-ONLY memo\n' >"$N/www/records/memo.txt"
echo "patient 42" >"$N/www/patients/42"
echo "patient 43" >"$N/www/patients/43"
cat >"$N/nginx.conf" <<NGINX
daemon off;
master_process off;
worker_processes 1;
pid $N/nginx.pid;
error_log $N/logs/error.log info;
events { worker_connections 64; }
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
        location = /upload { return 200 "stored\n"; }
    }
}
NGINX
spawn nginx nginx -p "$N" -c "$N/nginx.conf" -e "$N/logs/error.log"
wait_port "$NPORT" 10 || fail "nginx did not start"

# --- policy, routes, detectors ---------------------------------------------------------
cat >"$T/policy.cedar" <<POLICY
@id("read-records")
permit (principal == Workload::"spiffe://$TD/client", action == Action::"http:GET", resource)
when { context.path like "/records/*" };

@id("patient-42")
permit (principal, action == Action::"http:GET", resource)
when { context.route == "patient" && context.params.id == "42" };

@id("upload")
permit (principal, action == Action::"http:POST", resource) when { context.route == "upload" };

@id("no-identifiers-in")
forbid (principal, action == Action::"http:POST", resource)
when { context.detections.containsAny(["patient-id", "admin-role"]) };

@id("responses")
permit (principal, action == Action::"http:response", resource);

@id("no-identifiers-out")
forbid (principal, action == Action::"http:response", resource)
when { context.detections.contains("patient-id") };

@id("no-internal-out")
forbid (principal, action == Action::"http:response", resource)
when { context.detections.contains("internal") && context.route != "patient" };

@id("mqtt")
permit (principal, action in Action::"mqtt", resource);

@id("no-identifiers-mqtt")
forbid (principal, action in [Action::"mqtt:publish", Action::"mqtt:receive"], resource)
when { context.detections.contains("patient-id") };
POLICY
# incfg DETECTORS: the inbound configuration with the given extra detector lines
incfg() {
    cat >"$T/in.yaml" <<CFG
identity:
  cert: $T/records/svid.pem
  key: $T/records/svid.key
  bundle: $T/records/bundle.pem
policy:
  policies: $T/policy.cedar
audit:
  path: $T/audit.log
workers: 2
listeners:
  - name: records
    mode: inbound
    protocol: http
    listen: 127.0.0.1:$IN
    upstream: 127.0.0.1:$NPORT
  - name: broker
    mode: inbound
    protocol: mqtt
    listen: 127.0.0.1:$MIN
    upstream: 127.0.0.1:$BPORT
routes:
  patient: /patients/{id}
  upload: /upload
detectors:
  patient-id: { regex: "\\\\bPID-[0-9]{6}\\\\b" }
  admin-role: { json_field: "\$.role", equals: admin }
$1
scan:
  max_bytes: 65536
CFG
}
incfg ""
cat >"$T/out.yaml" <<CFG
identity:
  cert: $T/client/svid.pem
  key: $T/client/svid.key
  bundle: $T/client/bundle.pem
policy:
  policies: $T/policy.cedar
workers: 1
listeners:
  - name: to-records
    mode: outbound
    protocol: http
    listen: 127.0.0.1:$OUT
    upstream: 127.0.0.1:$IN
    expect_peer: spiffe://$TD/records
CFG
run_ok check-in "$PROXY" -c "$T/in.yaml" --check-config
# a broken detector or route is refused at startup with the configuration's file:line:col
sed 's/PID-\[0-9\]{6}/PID-[0-9/' "$T/in.yaml" >"$T/bad-regex.yaml"
run_fails bad-regex "$PROXY" -c "$T/bad-regex.yaml" --check-syntax
grep -Eq "bad-regex.yaml:[0-9]+:[0-9]+: .*regex" "$T/logs/bad-regex.err" \
    || fail "bad regex: $(cat "$T/logs/bad-regex.err")"
sed 's|/patients/{id}|/patients/{id|' "$T/in.yaml" >"$T/bad-route.yaml"
run_fails bad-route "$PROXY" -c "$T/bad-route.yaml" --check-syntax
grep -Eq "bad-route.yaml:[0-9]+:3: route 'patient'" "$T/logs/bad-route.err" \
    || fail "bad route: $(cat "$T/logs/bad-route.err")"

spawn inbound "$PROXY" -c "$T/in.yaml"
INPID=$SPAWNED
spawn outbound "$PROXY" -c "$T/out.yaml"
for p in "$IN" "$OUT"; do
    wait_port "$p" 10 || fail "proxy port $p did not open: $(cat "$T"/logs/*.log)"
done

# get NAME PATH [CURL ARGS]: status in $STATUS, body in $T/NAME.body
get() {
    local name=$1 path=$2
    shift 2
    STATUS=$(curl -sS --max-time 10 -o "$T/$name.body" -w '%{http_code}' "$@" \
        "http://127.0.0.1:$OUT$path" 2>"$T/logs/curl-$name.err")
    [ -n "$STATUS" ] || STATUS=000
}
# is_error NAME: the body is the proxy's JSON error (forbidden), nothing else
is_error() {
    python3 - "$T/$1.body" <<'PY' || fail "$1: body is not the 403 JSON: $(cat "$T/$1.body")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["error"] == "forbidden" and d["request_id"], d
assert set(d) == {"error", "request_id"}, d
PY
}

# 1. a response carrying a patient identifier is stopped; a clean one passes
get clean /records/clean.txt
[ "$STATUS" = 200 ] || fail "clean record: HTTP $STATUS $(cat "$T/logs/curl-clean.err")"
grep -qx "opening hours: 9-17" "$T/clean.body" || fail "clean record: wrong body"
get ann /records/ann.txt
[ "$STATUS" = 403 ] || fail "record with a patient id: HTTP $STATUS, want 403"
grep -q "PID-123456" "$T/ann.body" && fail "the patient identifier reached the client"
grep -q "Ann Example" "$T/ann.body" && fail "the denied record's body reached the client"
is_error ann
# nginx did serve it: the proxy stopped it on its way back
grep -q "GET /records/ann.txt" "$N/logs/access.log" || fail "nginx never saw /records/ann.txt"

# 2. routes: only /patients/42 is permitted, also spelt with an encoded digit
get p42 /patients/42
[ "$STATUS" = 200 ] || fail "/patients/42: HTTP $STATUS"
grep -qx "patient 42" "$T/p42.body" || fail "/patients/42: wrong body"
get p43 /patients/43
[ "$STATUS" = 403 ] || fail "/patients/43: HTTP $STATUS, want 403"
grep -q "patient 43" "$T/p43.body" && fail "/patients/43 leaked the body"
is_error p43
get p42enc /patients/4%32
[ "$STATUS" = 200 ] || fail "/patients/4%32: HTTP $STATUS"
get p42q "/patients/43?id=42"
[ "$STATUS" = 403 ] || fail "/patients/43?id=42: HTTP $STATUS, want 403 (the query is not the path)"

# 3. request bodies: a patient identifier in a POST is refused before nginx sees it
get up-clean /upload -H 'Content-Type: text/plain' --data-binary 'temperature 37.2'
[ "$STATUS" = 200 ] || fail "clean upload: HTTP $STATUS"
grep -qx stored "$T/up-clean.body" || fail "clean upload: wrong body"
UPLOADS=$(grep -c "POST /upload" "$N/logs/access.log")
get up-pid /upload -H 'Content-Type: text/plain' --data-binary 'result for PID-654321: ok'
[ "$STATUS" = 403 ] || fail "upload with a patient id: HTTP $STATUS, want 403"
is_error up-pid
# json_field detectors apply to JSON bodies only
get up-json /upload -H 'Content-Type: application/json; charset=utf-8' --data-binary '{"role":"admin"}'
[ "$STATUS" = 403 ] || fail "JSON upload with role admin: HTTP $STATUS, want 403"
get up-json-user /upload -H 'Content-Type: application/json' --data-binary '{"role":"user"}'
[ "$STATUS" = 200 ] || fail "JSON upload with role user: HTTP $STATUS"
get up-text /upload -H 'Content-Type: text/plain' --data-binary '{"role":"admin"}'
[ "$STATUS" = 200 ] || fail "text upload that looks like JSON: HTTP $STATUS"
[ "$(grep -c "POST /upload" "$N/logs/access.log")" = $((UPLOADS + 2)) ] \
    || fail "refused uploads reached nginx: $(grep "POST /upload" "$N/logs/access.log")"

# 4. SIGHUP with a new detector flips a decision; a broken detector list is refused
get memo1 /records/memo.txt
[ "$STATUS" = 200 ] || fail "memo before reload: HTTP $STATUS"
incfg '  internal: { regex: "INTERNAL-ONLY", literal_hint: "INTERNAL" }'
kill -HUP "$INPID"
wait_log "$T/logs/inbound.log" "reloaded identity" 10 || fail "no reload logged"
get memo2 /records/memo.txt
[ "$STATUS" = 403 ] || fail "memo after adding a detector: HTTP $STATUS, want 403"
grep -q "INTERNAL-ONLY" "$T/memo2.body" && fail "the memo reached the client after the reload"
get p42b /patients/42
[ "$STATUS" = 200 ] || fail "/patients/42 after reload: HTTP $STATUS"
incfg '  internal: { regex: "INTERNAL-(ONLY" }'
kill -HUP "$INPID"
wait_log "$T/logs/inbound.log" "reload refused.*in.yaml:[0-9]+:[0-9]+" 10 \
    || fail "a broken detector was not refused with a position: $(tail -3 "$T/logs/inbound.log")"
get memo3 /records/memo.txt
[ "$STATUS" = 403 ] || fail "memo after a refused reload: HTTP $STATUS, want 403"
incfg ""
kill -HUP "$INPID"
for _ in $(seq 100); do
    [ "$(grep -c "reloaded identity" "$T/logs/inbound.log")" = 2 ] && break
    sleep 0.1
done
[ "$(grep -c "reloaded identity" "$T/logs/inbound.log")" = 2 ] || fail "second reload not logged"
get memo4 /records/memo.txt
[ "$STATUS" = 200 ] || fail "memo after removing the detector: HTTP $STATUS, want 200"

# 5. MQTT: a PUBLISH carrying an identifier never reaches the broker, and a delivery
# carrying one never reaches the subscriber (only when mosquitto is installed)
if command -v mosquitto >/dev/null && command -v mosquitto_pub >/dev/null \
    && command -v mosquitto_sub >/dev/null; then
    cat >"$T/mosquitto.conf" <<EOF
listener $BPORT 127.0.0.1
user $(id -un)
allow_anonymous true
persistence false
log_dest file $T/logs/mosquitto.log
log_type all
EOF
    spawn broker mosquitto -c "$T/mosquitto.conf"
    wait_port "$BPORT" 10 || fail "mosquitto did not start"
    TLS="--cafile $T/client/bundle.pem --cert $T/client/svid.pem --key $T/client/svid.key --insecure"
    # publish: a subscriber directly on the broker sees only the clean message
    timeout 20 mosquitto_sub -h 127.0.0.1 -p "$BPORT" -i direct -t 'ward/#' -v -C 1 -W 15 \
        >"$T/direct.out" 2>"$T/logs/direct.err" &
    DIRECT=$!
    WD_PIDS+=("$DIRECT")
    wait_log "$T/logs/mosquitto.log" "Received SUBSCRIBE from direct" 10 || fail "direct subscriber"
    # shellcheck disable=SC2086
    timeout 20 mosquitto_pub -h 127.0.0.1 -p "$MIN" -V mqttv5 $TLS -i pub1 -t ward/1 \
        -m "reading for PID-123456" -q 1 >"$T/logs/pub1.log" 2>&1
    # shellcheck disable=SC2086
    timeout 20 mosquitto_pub -h 127.0.0.1 -p "$MIN" -V mqttv5 $TLS -i pub2 -t ward/1 \
        -m "clean reading" -q 1 >"$T/logs/pub2.log" 2>&1 || fail "clean publish: $(cat "$T/logs/pub2.log")"
    wait "$DIRECT" || fail "direct subscriber: $(cat "$T/logs/direct.err")"
    [ "$(cat "$T/direct.out")" = "ward/1 clean reading" ] \
        || fail "the broker got: $(cat "$T/direct.out")"
    # delivery: a subscriber through the proxy gets only the clean message
    # shellcheck disable=SC2086
    timeout 20 mosquitto_sub -h 127.0.0.1 -p "$MIN" -V mqttv5 $TLS -i proxied -t 'ward/#' -v \
        -C 1 -W 15 >"$T/proxied.out" 2>"$T/logs/proxied.err" &
    PROXIED=$!
    WD_PIDS+=("$PROXIED")
    wait_log "$T/logs/mosquitto.log" "Received SUBSCRIBE from proxied" 10 || fail "proxied subscriber"
    mosquitto_pub -h 127.0.0.1 -p "$BPORT" -i direct-pub -t ward/2 -m "PID-777777 moved" -q 0
    mosquitto_pub -h 127.0.0.1 -p "$BPORT" -i direct-pub -t ward/2 -m "bed 7 free" -q 0
    wait "$PROXIED" || fail "proxied subscriber: $(cat "$T/logs/proxied.err")"
    [ "$(cat "$T/proxied.out")" = "ward/2 bed 7 free" ] \
        || fail "the proxied subscriber got: $(cat "$T/proxied.out")"
    MQTT_DENIALS=1
else
    log "mosquitto not installed: MQTT payload scanning not exercised here"
    MQTT_DENIALS=0
fi

# audit: the denials name the policies that stopped them
python3 - "$T/audit.log" "$MQTT_DENIALS" <<'PY' || fail "audit log: $(tail -5 "$T/audit.log")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
if sys.argv[2] == "1":
    deny = [l["action"] for l in lines if l["decision"] == "deny" and
            l["policies"] == ["no-identifiers-mqtt"]]
    assert 'Action::"mqtt:publish"' in deny and 'Action::"mqtt:receive"' in deny, deny
deny = [l for l in lines if l["decision"] == "deny"]
pols = {p for l in deny for p in l["policies"]}
for want in ("no-identifiers-out", "no-identifiers-in", "no-internal-out"):
    assert want in pols, (want, pols)
assert any(l["action"] == 'Action::"http:response"' and l.get("status") == 200 for l in deny), deny
PY

kill -TERM "$INPID"
wait_exit "$INPID" 10 || fail "inbound proxy did not stop on SIGTERM"
[ "$EXIT_STATUS" = 0 ] || fail "inbound proxy exited $EXIT_STATUS: $(tail -5 "$T/logs/inbound.log")"
pass
