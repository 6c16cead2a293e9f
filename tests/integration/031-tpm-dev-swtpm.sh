#!/usr/bin/env bash
# warden's agent-side TPM client (lib/tpmdev, warden/tpm_dev.h, through
# tests/tools/tpm_dev_tool) against swtpm, every result checked by the verifier library
# (lib/attest/tpm_*.c), for an RSA 2048 and an ECC P-256 endorsement key:
#
#  - opening: an unknown TCTI is a configuration error, an unreachable TPM an I/O error;
#  - the EK made from the TCG default template is a valid EK, is the same every time, and
#    its certificate read from NV chains to swtpm's local CA with the EK's key;
#  - an AK made under the EK passes the verifier's AK checks; warden's MakeCredential for
#    its Name is opened by the TPM's ActivateCredential with the same secret, while a
#    credential for another AK's Name, or a tampered one, is refused;
#  - quotes (ECDSA and RSASSA AKs, 3 PCRs and all 24 so that PCR_Read loops) verify; a
#    wrong nonce, another AK, a missing bank, a replay are refused;
#  - after a restart (a fresh handle), the AK reloads from its persisted blobs (truncated
#    or mismatched blobs are refused) and quotes again; after a PCR extend the new quote
#    fails a policy holding the old values;
#  - through tpm2-tss's pcap TCTI: the credential ActivateCredential returns is not on the
#    bus in clear (its session is salted with the EK and encrypts the response).
#
# swtpm_setup writes only RSA 2048 (0x01c00002) and ECC P-384 (0x01c00016) EK
# certificates, so the ECC P-256 EK's certificate (0x01c0000a) is made here with
# swtpm_cert by the same local CA and written with tpm2-tools, as a manufacturer would.
. "$(dirname "$0")/lib.sh"
need swtpm swtpm_setup swtpm_localca swtpm_cert tpm2_getrandom tpm2_createek \
    tpm2_flushcontext tpm2_nvdefine tpm2_nvwrite tpm2_getcap python3 openssl

TOOL=${WD_TOOLS:-$WD_ROOT/build/debug/tools}/tpm_dev_tool
[ -x "$TOOL" ] || fail "no tpm_dev_tool at $TOOL (run make, or set WD_TOOLS)"

swtpm_manufacture "$T/tpm" || {
    sed 's/^/    /' "$T/logs/swtpm_setup.log" >&2
    fail "swtpm_setup failed"
}
swtpm_start "$T/tpm" || fail "swtpm did not come up"
export TPM2TOOLS_TCTI=$SWTPM_TCTI
log "swtpm on $SWTPM_TCTI"

# tpm NAME CMD...: a tpm2-tools command (bounded), then flush what it left loaded: there is
# no resource manager in front of swtpm.
tpm() {
    local name=$1 rc
    shift
    timeout 60 "$@" >"$T/logs/$name.log" 2>&1
    rc=$?
    tpm2_flushcontext -t >/dev/null 2>&1
    tpm2_flushcontext -s >/dev/null 2>&1
    if [ "$rc" -ne 0 ]; then
        sed 's/^/    /' "$T/logs/$name.log" >&2
        fail "$name: '$*' failed"
    fi
}

# --- an EK certificate for the ECC P-256 EK, from swtpm's local CA ----------------------
mkdir -p "$T/w"
tpm createek-ecc tpm2_createek -G ecc -c "$T/w/ekecc.ctx" -u "$T/w/ekecc.pub"
# TPM2B_PUBLIC ends with TPMS_ECC_POINT: x and y, each a 2-byte size and 32 bytes.
read -r ECC_X ECC_Y < <(python3 - "$T/w/ekecc.pub" <<'EOF'
import sys
b = open(sys.argv[1], "rb").read()
if b[-34:-32] != b"\x00\x20" or b[-68:-66] != b"\x00\x20":
    sys.exit("not an ECC P-256 public area")
print(b[-66:-34].hex(), b[-32:].hex())
EOF
) || fail "cannot read the ECC EK's point"
run_ok swtpm-cert swtpm_cert --tpm2 --ecc-x "$ECC_X" --ecc-y "$ECC_Y" --ecc-curveid secp256r1 \
    --signkey "$T/tpm/ca/signkey.pem" --issuercert "$T/tpm/ca/issuercert.pem" \
    --out-cert "$T/w/ekecc.der" --serial 4242 --days 30 --tpm-manufacturer id:00001014 \
    --tpm-model swtpm --tpm-version id:20191023 --tpm-spec-family 2.0 --tpm-spec-level 0 \
    --tpm-spec-revision 164 --subject CN=warden-test-ecc-ek
openssl x509 -inform der -in "$T/w/ekecc.der" -noout 2>/dev/null || fail "swtpm_cert wrote no certificate"
tpm nvdefine tpm2_nvdefine 0x01c0000a -C o -s "$(stat -c %s "$T/w/ekecc.der")" \
    -a "ownerread|authread|ownerwrite|authwrite|no_da"
tpm nvwrite tpm2_nvwrite 0x01c0000a -C o -i "$T/w/ekecc.der"
tpm2_getcap handles-nv-index >"$T/logs/nv.log" 2>&1 || fail "tpm2_getcap"
grep -qi '0x1c00002' "$T/logs/nv.log" || fail "no RSA EK certificate index"
grep -qi '0x1c0000a' "$T/logs/nv.log" || fail "no ECC EK certificate index"

# --- the tool, for each EK type --------------------------------------------------------
# Every check the tool must report as "ok" (in this order); any "FAIL" line fails the test.
CHECKS=(open-unknown-tcti open-unreachable open ak-before-ek ek ek-public ek-cert ek-stable
    ak-create ak-ecdsa activate activate-tampered ak2-create ak-load-same-dev
    activate-other-ak-refused activate-other-ak-nothing activate-reloaded-ak quote
    quote-verify quote-wrong-nonce quote-other-ak quote-24-pcrs quote-24-pcrs-verify
    quote-24-pcrs-order quote-missing-bank quote-missing-bank-untouched ak-rsassa-create
    quote-rsassa quote-rsassa-verify reopen reopen-ek ak-load-truncated
    ak-load-truncated-private ak-load-mismatched quote-without-ak ak-load quote-after-reload
    quote-after-reload-verify quote-replay-refused policy-old-values pcr-extend
    quote-after-extend quote-after-extend-verify pcr-extend-changed policy-old-values-refused
    pcr-extend-bad-index bus-open-pcap bus-activate bus-capture-read bus-capture
    bus-credential-encrypted)

run_tool() {
    local kind=$1 rc want got
    shift
    timeout 120 "$TOOL" --tcti "$SWTPM_TCTI" --ca-dir "$T/tpm/cadir" \
        --pcap "$T/w/bus-$kind.pcap" "$@" >"$T/logs/tool-$kind.out" 2>"$T/logs/tool-$kind.err"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        sed 's/^/    /' "$T/logs/tool-$kind.out" "$T/logs/tool-$kind.err" >&2
        fail "tpm_dev_tool ($kind) exited $rc"
    fi
    if grep -q '^FAIL' "$T/logs/tool-$kind.out"; then
        grep '^FAIL' "$T/logs/tool-$kind.out" >&2
        fail "tpm_dev_tool ($kind) reported failures"
    fi
    want=$(printf 'ok %s\n' "${CHECKS[@]}")
    got=$(grep '^ok ' "$T/logs/tool-$kind.out")
    if [ "$got" != "$want" ]; then
        diff <(echo "$want") <(echo "$got") | sed 's/^/    /' >&2
        fail "tpm_dev_tool ($kind) did not run exactly the expected checks"
    fi
    tail -n 1 "$T/logs/tool-$kind.out" | grep -qx "tpm_dev_tool: ${#CHECKS[@]} passed, 0 failed" \
        || fail "tpm_dev_tool ($kind): unexpected summary: $(tail -n 1 "$T/logs/tool-$kind.out")"
    # The refusals say why, in the TSS's words.
    grep -q 'activate-other-ak-refused: .*integrity' "$T/logs/tool-$kind.err" \
        || fail "tpm_dev_tool ($kind): the refused activation does not say why"
}

run_tool rsa
log "RSA EK: ${#CHECKS[@]} checks passed"
run_tool ecc --ecc
log "ECC EK: ${#CHECKS[@]} checks passed"

# The tool flushed what it loaded: the TPM has no transient object left.
tpm2_getcap handles-transient >"$T/logs/transient.log" 2>&1 || fail "tpm2_getcap transient"
grep -q '0x8' "$T/logs/transient.log" && fail "transient objects left: $(cat "$T/logs/transient.log")"
tpm2_getcap handles-loaded-session >"$T/logs/sessions.log" 2>&1 || fail "tpm2_getcap sessions"
grep -q '0x' "$T/logs/sessions.log" && fail "sessions left: $(cat "$T/logs/sessions.log")"
log "no transient object or session left behind"

# A usage error is not a pass.
run_fails usage "$TOOL" --tcti "$SWTPM_TCTI"
[ "$EXIT_STATUS" -eq 2 ] || fail "usage error exited $EXIT_STATUS, want 2"
pass
