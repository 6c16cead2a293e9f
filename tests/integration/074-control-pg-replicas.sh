#!/usr/bin/env bash
# Two warden-control replicas on one PostgreSQL database (started by this test) and one data
# directory (same CA), on two ports:
#
#  - each is driven by its own tests/tools/control_load issue-n (500 SVIDs, 4 threads, one
#    SVID per call), both at once: every SVID is answered, the svids table has
#    count(*) = count(DISTINCT serial), every received serial is stored exactly once, and the
#    load nodes have exactly the 1,000 SVIDs the clients received;
#  - neither replica logged an error or a warning;
#  - a join token made on replica A is consumed on replica B (200) and then refused on A as
#    reused (403 token-used), and the node it enrolled is visible through A.
. "$(dirname "$0")/lib.sh"
need curl openssl python3 psql

CONTROL=$WD_BIN/warden-control
TOOLS=${WD_TOOLS:-$WD_ROOT/build/debug/tools}
LOAD=$TOOLS/control_load
[ -x "$CONTROL" ] || fail "no warden-control at $CONTROL"
[ -x "$LOAD" ] || fail "no control_load at $LOAD (make $TOOLS/control_load)"
N=500
THREADS=4

pg_up
log "PostgreSQL at $PG_URL"
run_ok init "$CONTROL" init --dir "$T/ctl" --trust-domain example.org --store "$PG_URL"
PORT_A=$(free_port)
PORT_B=$(free_port)
[ "$PORT_A" != "$PORT_B" ] || PORT_B=$(free_port)
spawn control-a "$CONTROL" run --dir "$T/ctl" --store "$PG_URL" --listen "127.0.0.1:$PORT_A"
spawn control-b "$CONTROL" run --dir "$T/ctl" --store "$PG_URL" --listen "127.0.0.1:$PORT_B"
wait_port "$PORT_A" 20 || fail "replica A did not come up: $(cat "$T/logs/control-a.log")"
wait_port "$PORT_B" 20 || fail "replica B did not come up: $(cat "$T/logs/control-b.log")"
URL_A=https://127.0.0.1:$PORT_A
URL_B=https://127.0.0.1:$PORT_B
grep -q '"store":"postgresql"' <(curl -sS -k "$URL_A/healthz") || fail "replica A is not on PostgreSQL"

# Concurrent issuance through both replicas.
spawn load-a "$LOAD" issue-n "$URL_A" "$T/ctl" load-a "$N" "$THREADS"
LA=$SPAWNED
spawn load-b "$LOAD" issue-n "$URL_B" "$T/ctl" load-b "$N" "$THREADS"
LB=$SPAWNED
wait_exit "$LA" 60 || fail "control_load on A did not finish"
[ "$EXIT_STATUS" -eq 0 ] || fail "control_load on A exited $EXIT_STATUS: $(tail -n 3 "$T/logs/load-a.log")"
wait_exit "$LB" 60 || fail "control_load on B did not finish"
[ "$EXIT_STATUS" -eq 0 ] || fail "control_load on B exited $EXIT_STATUS: $(tail -n 3 "$T/logs/load-b.log")"
for r in a b; do
    grep -q "^issued: $N retries=0$" "$T/logs/load-$r.log" \
        || fail "load on $r: $(grep '^issued' "$T/logs/load-$r.log")"
done
sed -n 's/^serial //p' "$T/logs/load-a.log" "$T/logs/load-b.log" | sort >"$T/got"
TOTAL=$((2 * N))
[ "$(wc -l <"$T/got")" -eq "$TOTAL" ] || fail "$(wc -l <"$T/got") serials received, expected $TOTAL"
[ -z "$(uniq -d "$T/got")" ] || fail "the two replicas handed out the same serial"

read -r all distinct < <(pg_sql 'SELECT count(*), count(DISTINCT serial) FROM svids;' | tr '|' ' ') \
    || fail "psql"
log "svids: count=$all distinct=$distinct"
[ "$all" = "$distinct" ] || fail "svids: $all rows but $distinct distinct serials"
load=$(pg_sql "SELECT count(*) FROM svids WHERE node IN ('load-a', 'load-b') AND entry_id IS NOT NULL;")
[ "$load" = "$TOTAL" ] || fail "the store has $load SVIDs of the load nodes, expected $TOTAL"
pg_sql "SELECT encode(serial, 'hex') FROM svids WHERE node IN ('load-a', 'load-b') AND entry_id IS NOT NULL;" | sort \
    >"$T/stored"
cmp -s "$T/got" "$T/stored" || fail "the stored serials are not the received ones"
[ "$all" -ge "$TOTAL" ] || fail "svids has $all rows, fewer than the $TOTAL issued"

# A join token made on A, used on B, then refused on A.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/j.key" \
    -subj /CN=node-j -out "$T/j.csr" 2>/dev/null || fail "openssl req"
CSR_JSON=$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$T/j.csr")
tok=$(curl -sS -k --cert "$T/ctl/admin.pem" --key "$T/ctl/admin.key" \
    -H 'Content-Type: application/json' -d '{"node":"node-j","ttl":"10m"}' \
    "$URL_A/v1/admin/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') \
    || fail "no token from A"
join() { # URL NAME: status echoed, body in $T/NAME.json
    curl -sS -k -o "$T/$2.json" -w '%{http_code}' -H 'Content-Type: application/json' \
        -d "{\"node\":\"node-j\",\"token\":\"$tok\",\"csr\":$CSR_JSON}" "$1/v1/attest/join-token"
}
code=$(join "$URL_B" jb)
[ "$code" = 200 ] || fail "token of A on B: HTTP $code $(cat "$T/jb.json")"
code=$(join "$URL_A" ja)
[ "$code" = 403 ] && grep -q '"reason":"token-used"' "$T/ja.json" \
    || fail "token reused on A: HTTP $code $(cat "$T/ja.json")"
curl -sS -k --cert "$T/ctl/admin.pem" --key "$T/ctl/admin.key" "$URL_A/v1/admin/nodes/node-j" \
    >"$T/node-j.json" || fail "node-j through A"
grep -q '"attestation":"join-token"' "$T/node-j.json" || fail "node-j via A: $(cat "$T/node-j.json")"

for r in a b; do
    if grep -E '(^| )(err|error|warn|warning|crit)[]:[ ]' "$T/logs/control-$r.log" \
        | grep -v 'token-used' >"$T/errs-$r"; then
        fail "replica $r logged errors: $(head -n 5 "$T/errs-$r")"
    fi
    grep -qiE 'AddressSanitizer|runtime error' "$T/logs/control-$r.log" \
        && fail "sanitizer report in replica $r's log"
done
pass
