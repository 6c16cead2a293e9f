#!/usr/bin/env bash
# `warden attest verify --type sgx` on the Intel SGX DCAP vectors (tests/data/sgx): the Occlum
# quote verifies at a pinned time (--at) as a debug enclave without TCB info, its claims come
# out as text and as JSON, and each refusal exits 1 with one line naming its reason (or, with
# --json, a JSON verdict on stdout); usage errors exit 2.
. "$(dirname "$0")/lib.sh"
need python3
need_warden

D=$WD_TESTDATA/sgx
AT=2025-06-01T00:00:00Z
Q=$D/trustee-occlum_quote.dat
MRENCLAVE=8f173e4613ff05c52aaf04162d234edae8c9977eae47eb2299ae16a553011c68
MRSIGNER=83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e

# verified NAME EXPECT_JSON_PY ARGS...: must exit 0; the --json output must parse
# (python3 -m json.tool) and satisfy the Python expression (doc is the parsed object).
verified() {
    local name=$1 expr=$2
    shift 2
    run_ok "$name" "$WARDEN" attest verify --type sgx "$@"
    grep -q '^verified: Intel SGX DCAP quote' "$T/logs/$name.log" \
        || fail "$name: no verdict line"
    run_ok "$name-json" "$WARDEN" attest verify --type sgx --json "$@"
    python3 -m json.tool "$T/logs/$name-json.log" >/dev/null \
        || fail "$name: --json output does not parse: $(cat "$T/logs/$name-json.log")"
    python3 - "$T/logs/$name-json.log" "$expr" <<'PY' || fail "$name: JSON claims wrong: $(cat "$T/logs/$name-json.log")"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["verified"] is True and doc["type"] == "sgx", doc
assert eval(sys.argv[2]), sys.argv[2]
PY
}

# refused NAME REASON ARGS...: must exit 1 with one stderr line naming REASON; with --json
# the verdict is on stdout with the same reason.
refused() {
    local name=$1 reason=$2
    shift 2
    run_fails "$name" "$WARDEN" attest verify --type sgx "$@"
    [ "$EXIT_STATUS" -eq 1 ] || fail "$name: exit status $EXIT_STATUS, want 1"
    [ "$(grep -c '' "$T/logs/$name.err")" -eq 1 ] || fail "$name: want one line on stderr"
    grep -qF "refused ($reason)" "$T/logs/$name.err" \
        || fail "$name: want reason $reason: $(cat "$T/logs/$name.err")"
    run_fails "$name-json" "$WARDEN" attest verify --type sgx --json "$@"
    [ "$EXIT_STATUS" -eq 1 ] || fail "$name-json: exit status $EXIT_STATUS, want 1"
    python3 -m json.tool "$T/logs/$name-json.out" >/dev/null \
        || fail "$name: --json verdict does not parse: $(cat "$T/logs/$name-json.out")"
    python3 - "$T/logs/$name-json.out" "$reason" <<'PY' || fail "$name: JSON verdict wrong: $(cat "$T/logs/$name-json.out")"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc == {"verified": False, "type": "sgx", "reason": sys.argv[2], "error": doc["error"]}, doc
assert doc["error"], doc
PY
}

verified occlum "doc['mrenclave'] == '$MRENCLAVE' and doc['mrsigner'] == '$MRSIGNER' \
and doc['debug'] is True and doc['tcb_status'] == 'Unknown' and doc['fmspc'] == '00606a000000' \
and doc['version'] == 3 and doc['verified_at'] == '$AT' and doc['tcb_info_checked'] is False" \
    --quote "$Q" --at "$AT" --allow-debug --accept-tcb Unknown
verified occlum-mrenclave "doc['mrenclave'] == '$MRENCLAVE'" \
    --quote "$Q" --at "$AT" --allow-debug --accept-tcb UpToDate,Unknown \
    --mrenclave "$(printf '%064d' 0)" --mrenclave "$MRENCLAVE"
verified occlum-mrsigner "doc['isv_prod_id'] == 0 and doc['isv_svn'] == 0" \
    --quote "$Q" --at "$AT" --allow-debug --accept-tcb Unknown \
    --mrsigner "$MRSIGNER" --isvprodid 0 --min-isvsvn 0
verified occlum-report-data "doc['report_data'].startswith('74657374')" \
    --quote "$Q" --at "$AT" --allow-debug --accept-tcb Unknown --report-data 74657374

# Refusals, each with its own reason.
refused debug policy-debug --quote "$Q" --at "$AT" --accept-tcb Unknown
refused tcb-status policy-tcb-status --quote "$Q" --at "$AT" --allow-debug
refused mrenclave policy-measurement --quote "$Q" --at "$AT" --allow-debug \
    --accept-tcb Unknown --mrenclave "$(printf '%064d' 0)"
refused min-isvsvn policy-measurement --quote "$Q" --at "$AT" --allow-debug \
    --accept-tcb Unknown --mrsigner "$MRSIGNER" --isvprodid 0 --min-isvsvn 1
refused report-data policy-report-data --quote "$Q" --at "$AT" --allow-debug \
    --accept-tcb Unknown --report-data 00
refused tdx-v4 tdx-quote --quote "$D/trustee-tdx_quote_4.dat" --at "$AT"
refused tdx-v5 tdx-quote --quote "$D/trustee-tdx_quote_5.dat" --at "$AT"
# A flipped byte in the ISV report body (MRENCLAVE, offset 48 + 64) breaks its signature.
python3 - "$Q" "$T/flipped.dat" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[48 + 64] ^= 1
open(sys.argv[2], "wb").write(b)
PY
refused flipped isv-signature --quote "$T/flipped.dat" --at "$AT" --allow-debug \
    --accept-tcb Unknown
# The PCK leaf valid from 2023-04-26: before it the chain is refused.
refused not-yet-valid pck-not-yet-valid --quote "$Q" --at 2020-01-01T00:00:00Z \
    --allow-debug --accept-tcb Unknown
# TDX collateral for an SGX quote: no signing chain given.
refused no-signer collateral-no-signer --quote "$Q" --at "$AT" --allow-debug \
    --accept-tcb Unknown --tcb-info "$D/trustee-tcbInfo.json"

# Usage errors exit 2.
for args in "--type sgx" "--type sgx --quote x --vcek y" "--type snp --report x --vcek y --quote z" \
    "--type sgx --quote x --mrsigner $MRSIGNER"; do
    # shellcheck disable=SC2086
    run_fails usage "$WARDEN" attest verify $args
    [ "$EXIT_STATUS" -eq 2 ] || fail "attest verify $args: exit $EXIT_STATUS, want 2"
done
# Bad option values are errors (exit 1, as for --type snp), each named on stderr.
for args in "--accept-tcb Bogus" "--isvprodid 70000 --mrsigner $MRSIGNER --min-isvsvn 0" \
    "--mrenclave 00"; do
    # shellcheck disable=SC2086
    run_fails badval "$WARDEN" attest verify --type sgx --quote "$Q" $args
    [ "$EXIT_STATUS" -eq 1 ] || fail "attest verify $args: exit $EXIT_STATUS, want 1"
    grep -qF -- "${args%% *} \"" "$T/logs/badval.err" \
        || fail "attest verify $args: option not named: $(cat "$T/logs/badval.err")"
done
run_ok help "$WARDEN" attest verify --help
grep -q -- '--type sgx --quote FILE' "$T/logs/help.log" || fail "help: no sgx usage"

pass
