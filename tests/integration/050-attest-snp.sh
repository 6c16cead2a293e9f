#!/usr/bin/env bash
# `warden attest verify --type snp` on the AMD SEV-SNP vectors (tests/data/sev-snp): every
# report verifies with its certificate at a pinned time (--at), the claims come out as text
# and as JSON, and each refusal exits 1 with one line naming its reason (or, with --json, a
# JSON verdict on stdout); usage errors exit 2.
. "$(dirname "$0")/lib.sh"
need python3
need_warden

D=$WD_TESTDATA/sev-snp
AT=2025-06-01T00:00:00Z

# verified NAME EXPECT_JSON_PY ARGS...: must exit 0; the --json output must satisfy the
# Python expression (doc is the parsed object).
verified() {
    local name=$1 expr=$2
    shift 2
    run_ok "$name" "$WARDEN" attest verify --type snp --at "$AT" "$@"
    grep -q '^verified: AMD SEV-SNP attestation report' "$T/logs/$name.log" \
        || fail "$name: no verdict line"
    run_ok "$name-json" "$WARDEN" attest verify --type snp --at "$AT" --json "$@"
    python3 - "$T/logs/$name-json.log" "$expr" <<'PY' || fail "$name: JSON claims wrong: $(cat "$T/logs/$name-json.log")"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["verified"] is True and doc["type"] == "snp", doc
assert eval(sys.argv[2]), sys.argv[2]
PY
}

# refused NAME REASON ARGS...: must exit 1 with one stderr line naming REASON; with --json
# the verdict is on stdout with the same reason.
refused() {
    local name=$1 reason=$2
    shift 2
    run_fails "$name" "$WARDEN" attest verify --type snp "$@"
    [ "$EXIT_STATUS" -eq 1 ] || fail "$name: exit status $EXIT_STATUS, want 1"
    [ "$(grep -c '' "$T/logs/$name.err")" -eq 1 ] || fail "$name: want one line on stderr"
    grep -qF "refused ($reason)" "$T/logs/$name.err" \
        || fail "$name: want reason $reason: $(cat "$T/logs/$name.err")"
    run_fails "$name-json" "$WARDEN" attest verify --type snp --json "$@"
    python3 - "$T/logs/$name-json.out" "$reason" <<'PY' || fail "$name: JSON verdict wrong: $(cat "$T/logs/$name-json.out")"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc == {"verified": False, "type": "snp", "reason": sys.argv[2], "error": doc["error"]}, doc
PY
}

verified trustee "doc['product'] == 'Milan' and doc['signer'] == 'VCEK' and doc['guest_svn'] == 4 \
and doc['measurement'].startswith('a1f3930413247bb3') and doc['reported_tcb']['snp'] == 8" \
    --report "$D/trustee-test-report.bin" --vcek "$D/trustee-test-vcek.der"
verified trustee-chain "doc['product'] == 'Milan'" \
    --report "$D/trustee-test-report.bin" --vcek "$D/trustee-test-vcek.der" \
    --chain "$D/trustee-milan_ask_ark_asvk.pem"
verified vlek "doc['signer'] == 'VLEK' and doc['version'] == 3 and doc['vmpl'] == 1" \
    --report "$D/trustee-test-vlek-report.bin" --vcek "$D/trustee-test-vlek.der"
verified virtee-hex "doc['measurement'].startswith('7a1e5c266c0108db')" \
    --report "$D/virtee-report_milan.hex" --vcek "$D/virtee-vcek_milan.der" \
    --chain "$D/virtee-cert_chain_milan"
verified steward "doc['product'] == 'Milan'" \
    --report "$D/steward-milan-report.bin" --vcek "$D/steward-milan-vcek.der"
verified policy "doc['verified_at'] == '$AT'" \
    --report "$D/trustee-test-report.bin" --vcek "$D/trustee-test-vcek.der" \
    --measurement a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c \
    --report-data ec6c52d7533cc2c4f45be7849cf112ab82b2009fe7bd43e71ed08c14400ad7e2 \
    --min-tcb bl=3,tee=0,snp=8,ucode=115 --vmpl 0 --product milan

# Refusals, each with its own reason.
refused vlek-expired cert-expired --at 2027-01-01T00:00:00Z \
    --report "$D/trustee-test-vlek-report.bin" --vcek "$D/trustee-test-vlek.der"
refused invalid-legacy vcek-signature --at "$AT" \
    --report "$D/trustee-test-report.bin" --vcek "$D/trustee-test-vcek-invalid-legacy.der"
refused invalid-new vcek-signature --at "$AT" \
    --report "$D/trustee-test-report.bin" --vcek "$D/trustee-test-vcek-invalid-new.der"
refused signer signer-mismatch --at "$AT" \
    --report "$D/trustee-test-report.bin" --vcek "$D/trustee-test-vlek.der"
refused turin-vs-milan product-mismatch --at "$AT" --product milan \
    --report "$D/virtee-report_milan.hex" --vcek "$D/virtee-vcek_turin.der"
refused measurement measurement --at "$AT" --measurement "$(printf '%096d' 0)" \
    --report "$D/trustee-test-report.bin" --vcek "$D/trustee-test-vcek.der"
refused report-data report-data --at "$AT" --report-data 00 \
    --report "$D/trustee-test-report.bin" --vcek "$D/trustee-test-vcek.der"
python3 - "$D/trustee-test-report.bin" "$T/flipped.bin" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[0x90] ^= 1
open(sys.argv[2], "wb").write(b)
PY
refused flipped report-signature --at "$AT" \
    --report "$T/flipped.bin" --vcek "$D/trustee-test-vcek.der"

# Usage errors exit 2.
for args in "--report x --vcek y" "--type tdx --report x --vcek y" "--type snp --vcek y" \
    "--type snp --report x"; do
    # shellcheck disable=SC2086
    run_fails usage "$WARDEN" attest verify $args
    [ "$EXIT_STATUS" -eq 2 ] || fail "attest verify $args: exit $EXIT_STATUS, want 2"
done
run_ok help "$WARDEN" attest verify --help

pass
