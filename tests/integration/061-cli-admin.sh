#!/usr/bin/env bash
# The operator's CLI against a real warden-control and warden-agent:
#
#  - `warden token create` prints a single-use join token (and nothing else on stdout);
#  - `warden entry create|list|delete` manage registration entries; bad SPIFFE IDs, IDs of
#    another trust domain, relative paths, bad digests and missing selectors are refused
#    with one clear line;
#  - an agent enrolled with the token appears in `warden node list` as trusted;
#  - `warden svid fetch` writes the calling process's SVID (chain, key 0600, bundle) that
#    `openssl verify` accepts, and fails cleanly for a process no entry matches;
#  - `warden node revoke` makes the node untrusted and puts it on the deny list;
#  - without the admin certificate, or with another trust domain's bundle, calls fail with
#    a message instead of a crash.
. "$(dirname "$0")/lib.sh"
need openssl setpriv curl
need_warden
CONTROL=$WD_BIN/warden-control
AGENT=$WD_BIN/warden-agent
[ -x "$CONTROL" ] && [ -x "$AGENT" ] || fail "warden-control and warden-agent are needed in $WD_BIN"
[ "$(id -u)" -eq 0 ] || fail "must run as root (to fetch SVIDs as another uid)"
chmod 0755 "$T"

run_ok init "$CONTROL" init --dir "$T/ctl" --trust-domain cli.test
PORT=$(free_port)
spawn control "$CONTROL" run --dir "$T/ctl" --listen "127.0.0.1:$PORT"
wait_port "$PORT" 20 || fail "warden-control did not come up"
export WARDEN_CONTROL=https://127.0.0.1:$PORT WARDEN_CONTROL_DIR=$T/ctl

# --- tokens and entries ---------------------------------------------------------------------
"$WARDEN" token create --node node-a --ttl 10m >"$T/token" 2>"$T/token.err" \
    || fail "token create: $(cat "$T/token.err")"
[ "$(wc -l <"$T/token")" -eq 1 ] && [ "$(wc -c <"$T/token")" -ge 33 ] \
    || fail "token create should print exactly the token"
grep -q 'single use' "$T/token.err" || fail "token create should say the token is single use"

"$WARDEN" entry create --spiffe-id spiffe://cli.test/root --node node-a --uid 0 --ttl 30m \
    >"$T/e1" || fail "entry create (uid 0)"
E1=$(awk '/^created entry/ {print $3}' "$T/e1")
[ ${#E1} -eq 32 ] || fail "entry create did not print the new id: $(cat "$T/e1")"
"$WARDEN" entry create --spiffe-id spiffe://cli.test/other --node node-a --uid 4242 >/dev/null \
    || fail "entry create (uid 4242)"
"$WARDEN" entry list >"$T/list" || fail "entry list"
grep -q "spiffe://cli.test/root  uid=0" "$T/list" || fail "entry list misses the root entry"
grep -q "spiffe://cli.test/other  uid=4242" "$T/list" || fail "entry list misses uid 4242"
"$WARDEN" entry list --node node-b --json | grep -q '^{"entries":\[\]}$' \
    || fail "entry list --node node-b should be empty"

expect_error() { # NAME EXPECTED-MESSAGE-PART COMMAND...
    local name=$1 want=$2
    shift 2
    "$@" >"$T/$name.out" 2>"$T/$name.err" && fail "$name: should have failed"
    [ "$(wc -l <"$T/$name.err")" -eq 1 ] || fail "$name: expected one error line, got: $(cat "$T/$name.err")"
    grep -qF -- "$want" "$T/$name.err" || fail "$name: expected '$want', got: $(cat "$T/$name.err")"
}
expect_error bad-id 'empty segment' "$WARDEN" entry create --spiffe-id 'spiffe://cli.test/a//b' \
    --node node-a --uid 1
expect_error other-td 'not in this trust domain' "$WARDEN" entry create \
    --spiffe-id spiffe://elsewhere.test/x --node node-a --uid 1
expect_error rel-path 'absolute path' "$WARDEN" entry create --spiffe-id spiffe://cli.test/x \
    --node node-a --path bin/x
expect_error bad-sha '64 hex digits' "$WARDEN" entry create --spiffe-id spiffe://cli.test/x \
    --node node-a --sha256 abcd
expect_error no-selector 'at least one selector' "$WARDEN" entry create \
    --spiffe-id spiffe://cli.test/x --node node-a
expect_error bad-node 'node name' "$WARDEN" node show '../etc'
expect_error dup 'HTTP 409' "$WARDEN" entry create --spiffe-id spiffe://cli.test/root \
    --node node-a --uid 0
expect_error no-admin 'admin certificate' env -u WARDEN_CONTROL_DIR "$WARDEN" node list \
    --bundle "$T/ctl/bundle.pem"

# Another trust domain's bundle: the control plane's certificate does not verify.
run_ok ca2 "$WARDEN" ca init --trust-domain elsewhere.test --dir "$T/ca2"
"$WARDEN" node list --bundle "$T/ca2/bundle.pem" >/dev/null 2>"$T/wrongtd.err" \
    && fail "a call trusting another trust domain's bundle should fail"
[ "$(wc -l <"$T/wrongtd.err")" -eq 1 ] || fail "wrong bundle: expected one error line"

# --- an agent enrolled with the token ---------------------------------------------------------
cat >"$T/agent.yaml" <<EOF
node: node-a
control:
  url: https://127.0.0.1:$PORT
  trust_bundle: $T/ctl/bundle.pem
state_dir: $T/agent-state
attestation:
  join_token_file: $T/token
workload_api:
  socket: $T/agent.sock
EOF
spawn agent "$AGENT" --config "$T/agent.yaml"
for _ in $(seq 100); do
    [ -S "$T/agent.sock" ] && "$WARDEN" svid fetch --socket "$T/agent.sock" --out "$T" \
        >"$T/fetch.out" 2>/dev/null && break
    sleep 0.2
done
grep -q '^0 spiffe://cli.test/root (until ' "$T/fetch.out" \
    || fail "svid fetch: $(cat "$T/fetch.out")"
[ "$(stat -c %a "$T/svid.0.key")" = 600 ] || fail "the key file must be 0600"
openssl verify -CAfile "$T/bundle.0.pem" -untrusted "$T/svid.0.pem" "$T/svid.0.pem" \
    >/dev/null 2>&1 || fail "the fetched SVID does not verify against its bundle"
[ "$(spiffe_id_of "$T/svid.0.pem")" = spiffe://cli.test/root ] || fail "wrong SPIFFE ID fetched"
mkdir -m 0777 "$T/nobody"
setpriv --reuid=31337 --regid=31337 --clear-groups "$WARDEN" svid fetch \
    --socket "$T/agent.sock" --out "$T/nobody" >/dev/null 2>"$T/nobody.err" \
    && fail "a process no entry matches must get no SVID"
grep -q 'HTTP 403 no-matching-entry' "$T/nobody.err" || fail "nobody: $(cat "$T/nobody.err")"
[ -z "$(ls "$T/nobody")" ] || fail "nothing may be written for a refused process"

"$WARDEN" node list >"$T/nodes" || fail "node list"
grep -qE '^node-a +join-token +trusted ' "$T/nodes" || fail "node list: $(cat "$T/nodes")"

# --- revocation -----------------------------------------------------------------------------
expect_error no-reason '--reason is required' "$WARDEN" node revoke node-a
"$WARDEN" node revoke node-a --reason "lost laptop" | grep -q '^revoked node node-a$' \
    || fail "node revoke"
"$WARDEN" node show node-a | grep -qE '^trusted +no$' || fail "node-a should be untrusted"
curl -sS -k --cert "$T/ctl/admin.pem" --key "$T/ctl/admin.key" \
    "https://127.0.0.1:$PORT/v1/denylist?since=0" >"$T/deny.json" || fail "deny list"
grep -q '"subject":"node-a"' "$T/deny.json" || fail "node-a is not on the deny list: $(cat "$T/deny.json")"

"$WARDEN" entry delete "$E1" | grep -q "^deleted entry $E1$" || fail "entry delete"
expect_error gone 'HTTP 404' "$WARDEN" entry delete "$E1"
pass
