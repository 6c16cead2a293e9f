#!/usr/bin/env bash
# warden-proxy MQTT: mosquitto on 127.0.0.1 behind an inbound warden-proxy (mTLS, protocol
# mqtt); mosquitto_pub / mosquitto_sub connect to the proxy with SVIDs from `warden cert
# issue` (--insecure: SVIDs carry no DNS names; the proxy verifies the client's SVID), with
# MQTT 3.1.1 and 5.0. Checked, for each version:
#   - an allowed publish is delivered (QoS 0, 1 and 2; mosquitto_pub -q 2 exits 0);
#   - a publish to a topic the identity may not publish to is never delivered;
#   - a subscription to a denied filter gets 0x80 (3.1.1) / 0x87 (v5) in the SUBACK, while
#     the allowed filter of the same SUBSCRIBE is granted;
#   - a delivery one subscriber may not receive (QoS 1 and 2) does not reach it while
#     another subscriber gets it, and later messages still flow to both (no stuck session);
#   - a denied CONNECT is refused with CONNACK "not authorised";
# and: bind_client_id refuses a client id other than the SPIFFE ID; malformed bytes from a
# raw TLS socket are refused and the proxy keeps serving; plaintext clients reach the broker
# through an outbound proxy too (the inbound one decides by the outbound proxy's SVID); the
# audit log has one line per decision with Topic resources.
. "$(dirname "$0")/lib.sh"
need mosquitto mosquitto_pub mosquitto_sub python3 openssl stdbuf
need_warden
PROXY=$WD_BIN/warden-proxy
[ -x "$PROXY" ] || fail "no warden-proxy at $PROXY"

TD=example.org
ca_init "$TD" "$T/ca"
for who in broker sensor intruder reader limited banned; do
    issue "$T/ca" "spiffe://$TD/$who" "$T/$who"
done

BPORT=$(free_port)
IN=$(free_port)
BIND=$(free_port)
cat >"$T/mosquitto.conf" <<EOF
listener $BPORT 127.0.0.1
user $(id -un)
allow_anonymous true
persistence false
log_dest file $T/logs/mosquitto.log
log_type all
EOF
spawn broker mosquitto -c "$T/mosquitto.conf"
wait_port "$BPORT" 10 || fail "mosquitto did not start: $(tail -n 5 "$T/logs/broker.log")"

cat >"$T/policy.cedar" <<POLICY
@id("connect")
permit (principal, action == Action::"mqtt:connect", resource == Workload::"spiffe://$TD/broker");
@id("banned")
forbid (principal == Workload::"spiffe://$TD/banned", action == Action::"mqtt:connect", resource);
@id("sensor-publish")
permit (principal == Workload::"spiffe://$TD/sensor", action == Action::"mqtt:publish", resource)
when { context.topic like "sensors/*" && context.payload.size < 100 };
@id("subscribe-sensors")
permit (principal, action == Action::"mqtt:subscribe", resource)
when { context.topic like "sensors/*" };
@id("receive-sensors")
permit (principal, action == Action::"mqtt:receive", resource)
when { context.topic like "sensors/*" };
@id("limited-no-secrets")
forbid (principal == Workload::"spiffe://$TD/limited", action == Action::"mqtt:receive",
        resource)
when { context.topic like "sensors/secret*" };
POLICY
cat >"$T/in.yaml" <<CFG
identity: {cert: $T/broker/svid.pem, key: $T/broker/svid.key, bundle: $T/broker/bundle.pem}
policy: {policies: $T/policy.cedar}
audit: {path: $T/audit.log}
workers: 2
listeners:
  - {name: mqtt, mode: inbound, protocol: mqtt, listen: "127.0.0.1:$IN", upstream: "127.0.0.1:$BPORT"}
  - name: mqtt-bound
    mode: inbound
    protocol: mqtt
    listen: "127.0.0.1:$BIND"
    upstream: "127.0.0.1:$BPORT"
    mqtt: {bind_client_id: true}
CFG
run_ok check-config "$PROXY" --check-config -c "$T/in.yaml"
spawn inbound "$PROXY" -c "$T/in.yaml"
INPID=$SPAWNED
wait_log "$T/logs/inbound.log" "ready" 10 || fail "inbound proxy not ready: $(cat "$T/logs/inbound.log")"

# tls WHO: the mosquitto client TLS options for identity WHO
tls() {
    echo --cafile "$T/$1/bundle.pem" --cert "$T/$1/svid.pem" --key "$T/$1/svid.key" --insecure
}
# pub V WHO TOPIC MSG QOS [more args]
pub() {
    local v=$1 who=$2 topic=$3 msg=$4 qos=$5
    shift 5
    # shellcheck disable=SC2046
    timeout 20 mosquitto_pub -h 127.0.0.1 -p "$IN" -V "$v" $(tls "$who") -i "$who-pub" \
        -t "$topic" -m "$msg" -q "$qos" "$@"
}

# sub_start WHO COUNT: a QoS 2 subscriber to sensors/# and admin/# (the latter is denied)
# that leaves after COUNT messages; $V is the MQTT version. Its pid is in $!.
sub_start() {
    # shellcheck disable=SC2046
    timeout 40 stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$IN" -V "$V" $(tls "$1") -i "$1-$V" \
        -t 'sensors/#' -t 'admin/#' -q 2 -v -d -W 35 -C "$2" >"$T/logs/sub-$1-$V.log" 2>&1 &
    WD_PIDS+=("$!")
}

for V in mqttv311 mqttv5; do
    log "MQTT $V"
    if [ "$V" = mqttv5 ]; then DENY=135; else DENY=128; fi
    # Two subscribers on sensors/# at QoS 2: reader may receive everything there, limited
    # not sensors/secret*. Each also asks for admin/#, which is denied.
    sub_start reader 7
    SUB_READER=$!
    sub_start limited 5
    SUB_LIMITED=$!
    for who in reader limited; do
        wait_log "$T/logs/sub-$who-$V.log" "Subscribed" 10 \
            || fail "$V: $who did not subscribe: $(cat "$T/logs/sub-$who-$V.log")"
    done
    sleep 0.3
    # the SUBACK: sensors/# granted (QoS 2), admin/# refused with the deny code
    for who in reader limited; do
        grep -qE "Subscribed \(mid: [0-9]+\): 2, $DENY" "$T/logs/sub-$who-$V.log" \
            || fail "$V: $who's SUBACK is not '2, $DENY': $(grep -i subscribed "$T/logs/sub-$who-$V.log")"
    done

    pub "$V" sensor sensors/temp "t1-$V" 0 || fail "$V: QoS 0 publish failed"
    pub "$V" sensor sensors/temp "t2-$V" 1 || fail "$V: QoS 1 publish failed"
    pub "$V" sensor sensors/temp "t3-$V" 2 || fail "$V: QoS 2 publish failed"
    # denied publishes: another identity, and a topic outside sensors/
    pub "$V" intruder sensors/temp "evil1-$V" 1 >"$T/logs/pub-intruder-$V.log" 2>&1
    pub "$V" intruder sensors/temp "evil2-$V" 2 >>"$T/logs/pub-intruder-$V.log" 2>&1
    pub "$V" intruder sensors/temp "evil0-$V" 0 >>"$T/logs/pub-intruder-$V.log" 2>&1
    pub "$V" sensor admin/cmd "evil3-$V" 1 >>"$T/logs/pub-intruder-$V.log" 2>&1
    # deliveries limited may not receive, at QoS 1 and 2
    pub "$V" sensor sensors/secret "s1-$V" 2 || fail "$V: QoS 2 publish of a secret failed"
    pub "$V" sensor sensors/secret "s2-$V" 1 || fail "$V: QoS 1 publish of a secret failed"
    # and later messages still flow to both
    pub "$V" sensor sensors/temp "t4-$V" 2 || fail "$V: later QoS 2 publish failed"
    pub "$V" sensor sensors/temp "t5-$V" 1 || fail "$V: later QoS 1 publish failed"

    wait_exit "$SUB_READER" 30 || fail "$V: reader did not get its 7 messages: $(cat "$T/logs/sub-reader-$V.log")"
    wait_exit "$SUB_LIMITED" 30 || fail "$V: limited did not get its 5 messages: $(cat "$T/logs/sub-limited-$V.log")"
    for m in t1 t2 t3 s1 s2 t4 t5; do
        grep -qE "^sensors/(temp|secret) $m-$V\$" "$T/logs/sub-reader-$V.log" \
            || fail "$V: reader missed $m: $(cat "$T/logs/sub-reader-$V.log")"
    done
    for m in t1 t2 t3 t4 t5; do
        grep -qE "^sensors/temp $m-$V\$" "$T/logs/sub-limited-$V.log" \
            || fail "$V: limited missed $m: $(cat "$T/logs/sub-limited-$V.log")"
    done
    if grep -qE "s1-$V|s2-$V" "$T/logs/sub-limited-$V.log"; then
        fail "$V: a denied delivery reached limited"
    fi
    if grep -qE "evil" "$T/logs/sub-reader-$V.log" "$T/logs/sub-limited-$V.log"; then
        fail "$V: a denied publish was delivered"
    fi
    # mosquitto logs every PUBLISH it receives (sender and topic, not the payload)
    if grep -qE "Received PUBLISH from intruder-pub|'admin/cmd'" "$T/logs/mosquitto.log"; then
        fail "$V: a denied publish reached the broker"
    fi

    # a denied CONNECT
    if pub "$V" banned sensors/temp "b-$V" 1 >"$T/logs/pub-banned-$V.log" 2>&1; then
        fail "$V: the banned identity could publish"
    fi
    grep -qi "not authori[sz]ed" "$T/logs/pub-banned-$V.log" \
        || fail "$V: banned: no 'not authorised': $(cat "$T/logs/pub-banned-$V.log")"

    # bind_client_id: the client id must be the SPIFFE ID
    # shellcheck disable=SC2046
    timeout 20 mosquitto_pub -h 127.0.0.1 -p "$BIND" -V "$V" $(tls sensor) \
        -i "spiffe://$TD/sensor" -t sensors/bound -m "ok" -q 1 \
        >"$T/logs/bind-ok-$V.log" 2>&1 || fail "$V: bound client id refused: $(cat "$T/logs/bind-ok-$V.log")"
    # shellcheck disable=SC2046
    if timeout 20 mosquitto_pub -h 127.0.0.1 -p "$BIND" -V "$V" $(tls sensor) \
        -i "someone-else" -t sensors/bound -m "no" -q 1 >"$T/logs/bind-bad-$V.log" 2>&1; then
        fail "$V: a client id other than the SPIFFE ID was accepted"
    fi
    grep -qiE "identifier rejected|client identifier not valid" "$T/logs/bind-bad-$V.log" \
        || fail "$V: bind: unexpected refusal: $(cat "$T/logs/bind-bad-$V.log")"
done

# Through two proxies: local plaintext clients -> outbound proxy (its own SVID) -> mTLS ->
# inbound proxy -> mosquitto. The inbound proxy decides by the outbound proxy's identity.
O1=$(free_port)
O2=$(free_port)
O3=$(free_port)
outcfg() {
    cat >"$T/$1.yaml" <<CFG
identity: {cert: $T/$2/svid.pem, key: $T/$2/svid.key, bundle: $T/$2/bundle.pem}
policy: {policies: $T/policy.cedar}
workers: 1
listeners:
  - {name: to-broker, mode: outbound, protocol: mqtt, listen: "127.0.0.1:$3",
     upstream: "127.0.0.1:$IN", expect_peer: "spiffe://$TD/broker"}
CFG
}
outcfg out-sensor sensor "$O1"
outcfg out-intruder intruder "$O2"
outcfg out-reader reader "$O3"
for o in out-sensor out-intruder out-reader; do
    spawn "$o" "$PROXY" -c "$T/$o.yaml"
    wait_log "$T/logs/$o.log" "ready" 10 || fail "$o not ready: $(cat "$T/logs/$o.log")"
done
for V in mqttv311 mqttv5; do
    timeout 30 stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$O3" -V "$V" -i "out-reader-$V" \
        -t sensors/out -q 2 -v -d -W 25 -C 2 >"$T/logs/sub-out-$V.log" 2>&1 &
    SUB=$!
    WD_PIDS+=("$SUB")
    wait_log "$T/logs/sub-out-$V.log" "Subscribed" 10 || fail "$V: no subscription through the outbound proxy"
    timeout 20 mosquitto_pub -h 127.0.0.1 -p "$O2" -V "$V" -i "out-intruder" -t sensors/out \
        -m "evil-out-$V" -q 1 >"$T/logs/pub-out-intruder-$V.log" 2>&1
    for q in 1 2; do
        timeout 20 mosquitto_pub -h 127.0.0.1 -p "$O1" -V "$V" -i "out-sensor" -t sensors/out \
            -m "out$q-$V" -q "$q" >"$T/logs/pub-out-$V.log" 2>&1 \
            || fail "$V: publish through the outbound proxy failed: $(cat "$T/logs/pub-out-$V.log")"
    done
    wait_exit "$SUB" 20 || fail "$V: no messages through both proxies: $(cat "$T/logs/sub-out-$V.log")"
    grep -q "^sensors/out out1-$V\$" "$T/logs/sub-out-$V.log" || fail "$V: out1 missing"
    grep -q "^sensors/out out2-$V\$" "$T/logs/sub-out-$V.log" || fail "$V: out2 missing"
    grep -q "evil" "$T/logs/sub-out-$V.log" && fail "$V: the intruder's publish was delivered"
done

# Malformed MQTT from a raw TLS socket (with a valid SVID): refused, the proxy serves on.
python3 - "$IN" "$T" <<'PY' || fail "malformed MQTT was not refused cleanly"
import socket, ssl, sys
port, t = int(sys.argv[1]), sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.load_cert_chain(t + "/sensor/svid.pem", t + "/sensor/svid.key")

def talk(data):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5))
    s.sendall(data)
    got = b""
    try:
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
    except (ssl.SSLError, ConnectionError):
        pass
    s.close()
    return got

# 1. not a CONNECT first: closed without a byte
assert talk(b"\x30\x05\x00\x01ahi") == b"", "answer to a PUBLISH before CONNECT"
# 2. MQTT 3.1 (level 3) is refused with nothing or a CONNACK
r = talk(b"\x10\x0e\x00\x06MQIsdp\x03\x02\x00\x1e\x00\x00")
assert r == b"" or r[0] == 0x20, r
# 3. v5: CONNECT, then a PUBLISH with QoS 3 -> DISCONNECT 0x81 (Malformed Packet), after
#    the broker's CONNACK if it was quicker
connect5 = b"\x10\x10\x00\x04MQTT\x05\x02\x00\x1e\x00\x00\x03raw"
r = talk(connect5 + b"\x36\x03\x00\x01a")
if r[:1] == b"\x20":
    r = r[2 + r[1]:]
assert r == b"\xe0\x01\x81", r
# 4. garbage
assert talk(b"\xff" * 64) == b""
PY
pub mqttv5 sensor sensors/after "after" 1 || fail "the proxy stopped serving after malformed input"

# The audit log: one line per decision, Topic resources, the denials named.
stop "$INPID"
python3 - "$T/audit.log" "$TD" <<'PY' || fail "audit log: $(tail -n 20 "$T/audit.log")"
import json, sys
td = sys.argv[2]
lines = [json.loads(l) for l in open(sys.argv[1])]
def has(decision, who, action, resource=None):
    return any(l["decision"] == decision and l["principal"] == f'Workload::"spiffe://{td}/{who}"'
               and l["action"] == f'Action::"{action}"'
               and (resource is None or l["resource"] == resource) for l in lines)
assert has("allow", "sensor", "mqtt:connect", f'Workload::"spiffe://{td}/broker"')
assert has("allow", "sensor", "mqtt:publish", 'Topic::"sensors/temp"')
assert has("deny", "intruder", "mqtt:publish", 'Topic::"sensors/temp"')
assert has("deny", "sensor", "mqtt:publish", 'Topic::"admin/cmd"')
assert has("deny", "reader", "mqtt:subscribe", 'Topic::"admin/#"')
assert has("allow", "reader", "mqtt:subscribe", 'Topic::"sensors/#"')
assert has("deny", "limited", "mqtt:receive", 'Topic::"sensors/secret"')
assert has("allow", "reader", "mqtt:receive", 'Topic::"sensors/secret"')
assert has("deny", "banned", "mqtt:connect")
deny = [l for l in lines if l["decision"] == "deny" and l["action"] == 'Action::"mqtt:receive"']
assert all(l["policies"] == ["limited-no-secrets"] for l in deny), deny
PY
pass
