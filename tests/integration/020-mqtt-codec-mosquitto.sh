#!/usr/bin/env bash
# 020: warden's MQTT codec against real MQTT traffic. A mosquitto broker runs on 127.0.0.1;
# mosquitto_sub and mosquitto_pub (MQTT 3.1.1 and 5.0) talk to it through a small stdlib
# python relay that records both directions of every connection. tools/mqtt_probe then
# decodes each recorded stream with lib/mqtt, re-encodes every packet byte for byte, and
# prints the packets; the test checks the sequences: CONNECT/CONNACK, SUBSCRIBE/SUBACK,
# UNSUBSCRIBE/UNSUBACK, PUBLISH at QoS 0, 1 and 2 with their PUBACK / PUBREC-PUBREL-
# PUBCOMP flows, PINGREQ/PINGRESP, DISCONNECT, a will, user name and password, and v5
# properties (user properties, content type, expiry, correlation data, response topic).
. "$(dirname "$0")/lib.sh"

need mosquitto mosquitto_pub mosquitto_sub python3
PROBE=${WD_TOOLS:-$WD_ROOT/build/debug/tools}/mqtt_probe
[ -x "$PROBE" ] || fail "no mqtt_probe at $PROBE (make builds it into build/<type>/tools)"

BPORT=$(free_port)
RPORT=$(free_port)
mkdir -p "$T/cap"
# "user" keeps a broker started as root from switching to the mosquitto account, which
# could not write the log in $T.
cat >"$T/mosquitto.conf" <<EOF
listener $BPORT 127.0.0.1
user $(id -un)
allow_anonymous true
persistence false
log_dest file $T/logs/mosquitto.log
log_type all
EOF
spawn broker mosquitto -c "$T/mosquitto.conf" -v
wait_port "$BPORT" 10 || fail "mosquitto did not start: $(tail -n 5 "$T/logs/broker.log")"
BLOG=$T/logs/mosquitto.log

# The relay: one thread pair per connection, bytes written to NNN.c2s / NNN.s2c as they
# pass, NNN.done once both directions have closed.
cat >"$T/relay.py" <<'EOF'
import socket, sys, threading
lport, bport, outdir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", lport))
srv.listen(16)
print("listening", flush=True)

def pump(src, dst, f):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            f.write(b)
            f.flush()
            dst.sendall(b)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

def handle(c, idx):
    u = socket.create_connection(("127.0.0.1", bport), timeout=30)
    u.settimeout(None)
    base = "%s/%03d" % (outdir, idx)
    with open(base + ".c2s", "wb") as fc, open(base + ".s2c", "wb") as fs:
        t1 = threading.Thread(target=pump, args=(c, u, fc))
        t2 = threading.Thread(target=pump, args=(u, c, fs))
        t1.start(); t2.start(); t1.join(); t2.join()
    c.close(); u.close()
    open(base + ".done", "w").close()

n = 0
while True:
    c, _ = srv.accept()
    n += 1
    threading.Thread(target=handle, args=(c, n), daemon=True).start()
EOF
spawn relay python3 "$T/relay.py" "$RPORT" "$BPORT" "$T/cap"
wait_log "$T/logs/relay.log" '^listening' 10 || fail "relay did not start"

CONN=0
# wait_done N: wait (bounded) until connection N has closed in both directions.
wait_done() {
    local f _
    f=$(printf '%s/cap/%03d.done' "$T" "$1")
    for _ in $(seq 150); do
        [ -f "$f" ] && return 0
        sleep 0.1
    done
    fail "connection $1 did not finish"
}
# probe N NAME: decode connection N with mqtt_probe into $T/NAME.txt; fail on any error.
probe() {
    local base
    base=$(printf '%s/cap/%03d' "$T" "$1")
    wait_done "$1"
    if ! timeout 30 "$PROBE" "$base.c2s" "$base.s2c" >"$T/$2.txt" 2>"$T/$2.err"; then
        cat "$T/$2.err" >&2
        fail "$2: mqtt_probe refused the captured stream"
    fi
    sed "s/^/    [$2] /" "$T/$2.txt" >&2
}
# types FILE DIR: the packet types of one direction (c or s), space-separated.
types() {
    awk -v d="$2" '$1 == d { printf "%s%s", sep, $2; sep = " " } END { print "" }' "$1"
}
expect_types() {
    local got
    got=$(types "$T/$1.txt" "$2")
    [ "$got" = "$3" ] || fail "$1 ($2): packets '$got', expected '$3'"
}
expect_line() {
    grep -qE "$2" "$T/$1.txt" || fail "$1: no line matching '$2'"
}
# pub NAME ARGS...: one mosquitto_pub run through the relay; it must succeed.
pub() {
    local name=$1
    shift
    CONN=$((CONN + 1))
    run_ok "$name" mosquitto_pub -h 127.0.0.1 -p "$RPORT" "$@"
    wait_done "$CONN"
}

for V in mqttv311 mqttv5; do
    tag=${V#mqttv}
    log "MQTT $tag"
    v5=()
    if [ "$tag" = 5 ]; then
        v5=(-D connect user-property who sub -D connect receive-maximum 20
            -D subscribe user-property s t -D unsubscribe user-property u v -x 30)
    fi
    # The subscriber: two filters at QoS 2, one unsubscribe, four messages, keepalive 5.
    CONN=$((CONN + 1))
    SUBCONN=$CONN
    spawn "sub-$tag" mosquitto_sub -V "$V" -h 127.0.0.1 -p "$RPORT" -i "sub-$tag" -q 2 -k 5 \
        -t "wd$tag/#" -t "other$tag/+" -U "old$tag/topic" -C 4 -v "${v5[@]}"
    SUBPID=$SPAWNED
    wait_log "$BLOG" "Received UNSUBSCRIBE from sub-$tag" 10 || fail "sub-$tag did not subscribe"

    p5=()
    if [ "$tag" = 5 ]; then
        p5=(-D publish user-property k v -D publish content-type text/plain
            -D publish message-expiry-interval 60 -D publish correlation-data abc
            -D publish response-topic "wd$tag/reply" -D publish payload-format-indicator 1)
    fi
    pub "pub0-$tag" -V "$V" -i "pub0-$tag" -q 0 -t "wd$tag/a" -m hello
    Q0=$CONN
    w5=()
    if [ "$tag" = 5 ]; then
        w5=(-D will user-property wk wv -D will will-delay-interval 5 -D connect user-property c d)
    fi
    pub "pub1-$tag" -V "$V" -i "pub1-$tag" -q 1 -r -t "wd$tag/b" -m one -u alice -P secret \
        --will-topic "wd$tag/will" --will-payload gone --will-qos 1 "${w5[@]}"
    Q1=$CONN
    pub "pub2-$tag" -V "$V" -i "pub2-$tag" -q 2 -t "wd$tag/c/d" -m two "${p5[@]}"
    Q2=$CONN
    # Let the subscriber idle past its keep alive so that it pings.
    wait_log "$BLOG" "Received PUBCOMP from sub-$tag" 10 || fail "sub-$tag: no QoS 2 flow"
    wait_log "$BLOG" "Received PINGREQ from sub-$tag" 15 || fail "sub-$tag never sent PINGREQ"
    pub "pub3-$tag" -V "$V" -i "pub3-$tag" -q 1 -t "other$tag/x" -m last
    wait_exit "$SUBPID" 15 || fail "sub-$tag did not exit after four messages"
    [ "$EXIT_STATUS" -eq 0 ] || fail "sub-$tag exited with $EXIT_STATUS"
    grep -q "^wd$tag/c/d two$" "$T/logs/sub-$tag.log" || fail "sub-$tag did not print the messages"

    probe "$SUBCONN" "sub-$tag"
    probe "$Q0" "pub0-$tag"
    probe "$Q1" "pub1-$tag"
    probe "$Q2" "pub2-$tag"

    # The subscriber's session, both directions, in order.
    expect_types "sub-$tag" c "CONNECT SUBSCRIBE UNSUBSCRIBE PUBACK PUBREC PUBCOMP PINGREQ PUBACK DISCONNECT"
    expect_types "sub-$tag" s "CONNACK SUBACK UNSUBACK PUBLISH PUBLISH PUBLISH PUBREL PINGRESP PUBLISH"
    vname=3.1.1
    [ "$tag" = 5 ] && vname=5
    expect_line "sub-$tag" "^c CONNECT v$vname id=sub-$tag clean=1 keepalive=5 will=0 user=0 pass=0"
    expect_line "sub-$tag" "^c SUBSCRIBE id=[0-9]+ filters=wd$tag/#:02,other$tag/\\+:02"
    expect_line "sub-$tag" "^s SUBACK id=[0-9]+ codes=02,02"
    expect_line "sub-$tag" "^c UNSUBSCRIBE id=[0-9]+ filters=old$tag/topic"
    expect_line "sub-$tag" "^s PUBLISH qos=0 retain=0 dup=0 topic=wd$tag/a payload=5"
    expect_line "sub-$tag" "^s PUBLISH qos=1 id=[0-9]+ retain=0 dup=0 topic=wd$tag/b payload=3"
    expect_line "sub-$tag" "^s PUBLISH qos=2 id=[0-9]+ retain=0 dup=0 topic=wd$tag/c/d payload=3"
    expect_line "sub-$tag" "^s PUBLISH qos=1 id=[0-9]+ retain=0 dup=0 topic=other$tag/x payload=4"

    expect_types "pub0-$tag" c "CONNECT PUBLISH DISCONNECT"
    expect_types "pub0-$tag" s "CONNACK"
    expect_types "pub1-$tag" c "CONNECT PUBLISH DISCONNECT"
    expect_types "pub1-$tag" s "CONNACK PUBACK"
    expect_line "pub1-$tag" "^c CONNECT v$vname id=pub1-$tag clean=1 keepalive=60 will=1 will_qos=1 will_retain=0 will_topic=wd$tag/will user=1 pass=1"
    expect_line "pub1-$tag" "^c PUBLISH qos=1 id=[0-9]+ retain=1 dup=0 topic=wd$tag/b payload=3"
    expect_types "pub2-$tag" c "CONNECT PUBLISH PUBREL DISCONNECT"
    expect_types "pub2-$tag" s "CONNACK PUBREC PUBCOMP"

    if [ "$tag" = 5 ]; then
        # v5 properties as the clients sent them and the broker forwarded them.
        expect_line "sub-5" "^c CONNECT v5 .*props=\\[.*11:30.*\\]"
        expect_line "sub-5" "^c CONNECT v5 .*26:who=sub"
        expect_line "sub-5" "^c CONNECT v5 .*21:20"
        expect_line "sub-5" "^c SUBSCRIBE .*props=\\[26:s=t\\]"
        expect_line "sub-5" "^c UNSUBSCRIBE .*props=\\[26:u=v\\]"
        expect_line "sub-5" "^s CONNACK sp=0 code=00 props=\\["
        # The broker had no "old5/topic" subscription: 0x11 No subscription existed.
        expect_line "sub-5" "^s UNSUBACK id=[0-9]+ codes=11 props="
        expect_line "pub2-5" "^c PUBLISH qos=2 .*props=\\[.*26:k=v.*\\]"
        expect_line "pub2-5" "^c PUBLISH qos=2 .*03:text/plain"
        expect_line "pub2-5" "^c PUBLISH qos=2 .*02:60"
        expect_line "pub2-5" "^c PUBLISH qos=2 .*08:wd5/reply"
        expect_line "pub2-5" "^c PUBLISH qos=2 .*01:1"
        expect_line "pub2-5" "^c PUBLISH qos=2 .* 09( |\\])"
        expect_line "sub-5" "^s PUBLISH qos=2 .*topic=wd5/c/d .*26:k=v"
        expect_line "sub-5" "^s PUBLISH qos=2 .*03:text/plain"
        expect_line "pub1-5" "^c CONNECT v5 .*will_ props=\\[.*26:wk=wv.*\\]"
        expect_line "pub1-5" "^c CONNECT v5 .*will_ props=\\[.*18:5.*\\]"
        expect_line "pub1-5" "^c CONNECT v5 .*user=1 pass=1 props=\\[26:c=d"
    else
        if grep -q "props=" "$T/sub-$tag.txt"; then
            fail "3.1.1 stream decoded with properties"
        fi
    fi
done

# Malformed input is refused with a reason, not crashed on: a CONNECT whose reserved flag
# is set, and a stream that ends inside a packet.
printf '\x10\x0c\x00\x04MQTT\x04\x03\x00\x3c\x00\x00' >"$T/bad.bin"
if timeout 10 "$PROBE" "$T/bad.bin" >"$T/bad.out" 2>"$T/bad.err"; then
    fail "mqtt_probe accepted a CONNECT with the reserved flag set"
fi
grep -q "connect_flags" "$T/bad.err" || fail "no reason for the bad CONNECT: $(cat "$T/bad.err")"
head -c 10 "$(printf '%s/cap/%03d.c2s' "$T" "$SUBCONN")" >"$T/cut.bin"
if timeout 10 "$PROBE" "$T/cut.bin" >/dev/null 2>"$T/cut.err"; then
    fail "mqtt_probe accepted a truncated stream"
fi
grep -q "more" "$T/cut.err" || grep -q "again" "$T/cut.err" \
    || fail "truncated stream: unexpected error $(cat "$T/cut.err")"
pass
