#!/usr/bin/env bash
# warden's TPM 2.0 verifier library (lib/attest/tpm_*.c, through tests/tools/tpm_probe)
# against a real TPM: swtpm, manufactured by swtpm_setup with an EK certificate from a
# private swtpm-localca CA, and driven by tpm2-tools.
#
#  - EK and AK from tpm2_createek / tpm2_createak pass warden's key-role checks, and
#    warden computes the same AK Name as the TPM;
#  - the EK certificate read from NV chains to swtpm's local CA, not to another CA, and
#    its key is the EK's; the EK allow-list hash equals OpenSSL's SPKI hash;
#  - quotes (RSASSA, RSAPSS, ECDSA AKs) verify; a tampered message or signature, a wrong
#    nonce, a changed PCR value, a PCR outside the allowed values, a disallowed or
#    mismatched scheme, a replay and counters going backwards are each refused with
#    their own reason; after tpm2_pcrextend a new quote fails the allowed-values check;
#  - warden's MakeCredential for the EK and AK Name is accepted by the TPM's
#    ActivateCredential (RSA and ECC EKs), which returns the same secret, and refused for
#    another AK; credentials made by the TPM and by tpm2-tools for software EKs open with
#    warden's software ActivateCredential.
#
# WD_TPM_CAPTURE=DIR copies the artifacts into DIR (how tests/data/tpm/swtpm was made).
. "$(dirname "$0")/lib.sh"
need swtpm swtpm_setup swtpm_localca openssl xxd python3 tpm2_createek tpm2_createak tpm2_quote \
    tpm2_nvread tpm2_pcrextend tpm2_makecredential tpm2_activatecredential \
    tpm2_startauthsession tpm2_policysecret tpm2_flushcontext tpm2_getrandom

PROBE=${WD_TOOLS:-$WD_ROOT/build/debug/tools}/tpm_probe
[ -x "$PROBE" ] || fail "no tpm_probe at $PROBE (run make, or set WD_TOOLS)"

# --- a manufactured swtpm with an EK certificate from a private local CA -----------------
mkdir -p "$T/ca" "$T/state" "$T/w"
cat >"$T/localca.conf" <<EOF
statedir = $T/ca
signingkey = $T/ca/signkey.pem
issuercert = $T/ca/issuercert.pem
certserial = $T/ca/certserial
EOF
printf '%s\n' '--platform-manufacturer warden' '--platform-version 2.1' \
    '--platform-model test' >"$T/localca.options"
cat >"$T/swtpm_setup.conf" <<EOF
create_certs_tool = $(command -v swtpm_localca)
create_certs_tool_config = $T/localca.conf
create_certs_tool_options = $T/localca.options
active_pcr_banks = sha256
EOF
run_ok swtpm-setup swtpm_setup --tpm2 --tpmstate "$T/state" --create-ek-cert \
    --create-platform-cert --config "$T/swtpm_setup.conf" --overwrite
# swtpm-localca made a root CA and an intermediate ("issuer") that signed the EK certificate.
mkdir -p "$T/cadir" "$T/othercadir"
cp "$T/ca/swtpm-localca-rootca-cert.pem" "$T/ca/issuercert.pem" "$T/cadir/"
[ -s "$T/cadir/issuercert.pem" ] || fail "swtpm_localca did not create its CA"

# The swtpm TCTI talks to the control channel on the data port + 1 (lib.sh free_port_pair).
PORT=$(free_port_pair)
[ -n "$PORT" ] || fail "no free pair of TCP ports"
CTRL=$((PORT + 1))
spawn swtpm swtpm socket --tpm2 --server "type=tcp,port=$PORT" --ctrl "type=tcp,port=$CTRL" \
    --tpmstate "dir=$T/state" --flags not-need-init,startup-clear
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$PORT"
up=0
for _ in $(seq 100); do
    if tpm2_getrandom 4 >/dev/null 2>&1; then
        up=1
        break
    fi
    sleep 0.1
done
[ "$up" = 1 ] || fail "swtpm did not come up on port $PORT"

cd "$T/w" || fail "no work dir"

# tpm NAME CMD...: run a tpm2-tools command (bounded), then flush what it left loaded:
# there is no resource manager between tpm2-tools and swtpm.
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

# expect_ok NAME ARGS...: the probe must print "ok..." and exit 0.
expect_ok() {
    local name=$1 out
    shift
    out=$("$PROBE" "$@" 2>"$T/logs/$name.err") || {
        cat "$T/logs/$name.err" >&2
        fail "$name: probe refused: $out"
    }
    case $out in ok*) ;; *) fail "$name: unexpected output: $out" ;; esac
    PROBE_OUT=$out
}

# expect_refused NAME REASON ARGS...: the probe must refuse with exactly that reason.
expect_refused() {
    local name=$1 reason=$2 out rc
    shift 2
    out=$("$PROBE" "$@" 2>"$T/logs/$name.err")
    rc=$?
    [ "$rc" -eq 1 ] || fail "$name: probe exit $rc (want 1): $out $(cat "$T/logs/$name.err")"
    case $out in
    "refused $reason:"*) ;;
    *) fail "$name: want refusal '$reason', got: $out" ;;
    esac
}

hexof() {
    xxd -p -c 1000 "$1"
}

# flip FILE OFFSET OUT: OUT is FILE with the byte at OFFSET inverted.
flip() {
    python3 - "$1" "$2" "$3" <<'EOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[int(sys.argv[2])] ^= 0xFF
open(sys.argv[3], "wb").write(b)
EOF
}

# pcr_allow FILE BANK PCR...: --allow arguments holding the values in FILE (PCRs in order).
pcr_allow() {
    local f=$1 bank=$2 i=0 pcr
    shift 2
    for pcr in "$@"; do
        printf -- '--allow\n%s:%s=%s\n' "$bank" "$pcr" \
            "$(xxd -p -c 1000 -s $((i * 32)) -l 32 "$f")"
        i=$((i + 1))
    done
}

# --- EK and AKs -------------------------------------------------------------------------
tpm createek tpm2_createek -c ek.ctx -G rsa -u ek.pub
tpm createek-ecc tpm2_createek -c ekecc.ctx -G ecc -u ekecc.pub
tpm createak tpm2_createak -C ek.ctx -c ak.ctx -G rsa -g sha256 -s rsassa -u ak.pub -n ak.name -f tss
tpm createak-pss tpm2_createak -C ek.ctx -c akpss.ctx -G rsa -g sha256 -s rsapss -u akpss.pub \
    -n akpss.name -f tss
tpm createak-ecc tpm2_createak -C ekecc.ctx -c akecc.ctx -G ecc -g sha256 -s ecdsa -u akecc.pub \
    -n akecc.name -f tss
log "EK (RSA, ECC) and AKs (RSASSA, RSAPSS, ECDSA) created"

expect_ok check-ek "check-ek" --public ek.pub
expect_ok check-ek-ecc "check-ek" --public ekecc.pub
expect_refused check-ek-is-ak ek-attributes check-ek --public ak.pub
for k in ak akpss akecc; do
    expect_ok "check-$k" check-ak --public "$k.pub"
    name=$("$PROBE" name --public "$k.pub") || fail "name of $k.pub"
    [ "$name" = "$(hexof "$k.name")" ] || fail "$k: warden's Name $name, TPM's $(hexof "$k.name")"
done
expect_refused check-ak-is-ek ak-attributes check-ak --public ek.pub
log "key roles and AK Names agree with the TPM"

# --- EK certificate -----------------------------------------------------------------------
tpm nvread tpm2_nvread 0x01c00002 -o ekcert.der
openssl x509 -inform der -in ekcert.der -noout 2>/dev/null || fail "NV 0x01c00002 is no certificate"
expect_ok ekcert ekcert --ca-dir "$T/cadir" --cert ekcert.der --ek ek.pub
ossl_ca other.test "$T/otherca" || fail "cannot make another CA"
cp "$T/otherca/root.pem" "$T/otherca/intermediate.pem" "$T/othercadir/"
expect_refused ekcert-other-ca ek-cert-untrusted ekcert --ca-dir "$T/othercadir" \
    --cert ekcert.der --ek ek.pub
expect_refused ekcert-other-ek ek-cert-key-mismatch ekcert --ca-dir "$T/cadir" \
    --cert ekcert.der --ek ekecc.pub
# only the intermediate, not the root: the chain is incomplete
mkdir -p "$T/halfcadir"
cp "$T/ca/issuercert.pem" "$T/halfcadir/"
expect_refused ekcert-no-root ek-cert-untrusted ekcert --ca-dir "$T/halfcadir" \
    --cert ekcert.der --ek ek.pub
want=$(openssl x509 -inform der -in ekcert.der -pubkey -noout | openssl pkey -pubin -outform der \
    | sha256sum | cut -d' ' -f1)
got=$("$PROBE" ekhash --ek ek.pub) || fail "ekhash"
[ "$got" = "$want" ] || fail "EK SPKI hash: warden $got, openssl $want"
expect_ok ekhash-allowed ekhash --ek ek.pub --allow "$(printf '%s' "$want" | tr a-f A-F)"
expect_refused ekhash-other ek-not-allowed ekhash --ek ekecc.pub --allow "$want"
log "EK certificate chain, key match and allow-list hash"

# --- quotes -------------------------------------------------------------------------------
PCRS=(0 1 2 7)
NONCE1=$(openssl rand -hex 32)
tpm quote1 tpm2_quote -c ak.ctx -l sha256:0,1,2,7 -q "$NONCE1" -m q1.msg -s q1.sig -o q1.pcrs \
    -F values -g sha256
[ "$(stat -c %s q1.pcrs)" -eq 128 ] || fail "q1.pcrs is not 4 SHA-256 values"
mapfile -t ALLOW1 < <(pcr_allow q1.pcrs sha256 "${PCRS[@]}")
V1=(verify --ak ak.pub --msg q1.msg --sig q1.sig --pcrs q1.pcrs --nonce "$NONCE1")
expect_ok quote1 "${V1[@]}" "${ALLOW1[@]}"
# shellcheck disable=SC2001
PREV1=$(echo "$PROBE_OUT" | sed 's/^ok clock=\([0-9]*\) reset=\([0-9]*\) restart=\([0-9]*\)$/\1:\2:\3/')
case $PREV1 in *[!0-9:]*) fail "cannot read the clock from: $PROBE_OUT" ;; esac
expect_ok quote1-no-policy "${V1[@]}"
log "RSASSA quote verifies (clock $PREV1)"

flip q1.msg 40 q1-bad.msg
expect_refused tampered-msg sig-invalid verify --ak ak.pub --msg q1-bad.msg --sig q1.sig \
    --pcrs q1.pcrs --nonce "$NONCE1" "${ALLOW1[@]}"
flip q1.sig 100 q1-bad.sig
expect_refused tampered-sig sig-invalid verify --ak ak.pub --msg q1.msg --sig q1-bad.sig \
    --pcrs q1.pcrs --nonce "$NONCE1" "${ALLOW1[@]}"
expect_refused wrong-nonce nonce-mismatch verify --ak ak.pub --msg q1.msg --sig q1.sig \
    --pcrs q1.pcrs --nonce "$(openssl rand -hex 32)" "${ALLOW1[@]}"
flip q1.pcrs 100 q1-bad.pcrs
expect_refused changed-pcr pcr-digest-mismatch verify --ak ak.pub --msg q1.msg --sig q1.sig \
    --pcrs q1-bad.pcrs --nonce "$NONCE1" "${ALLOW1[@]}"
head -c 96 q1.pcrs >q1-short.pcrs
expect_refused short-pcrs pcr-values-malformed verify --ak ak.pub --msg q1.msg --sig q1.sig \
    --pcrs q1-short.pcrs --nonce "$NONCE1"
expect_refused pcr-not-allowed pcr-value-not-allowed "${V1[@]}" "${ALLOW1[@]:0:6}" \
    --allow "sha256:7=$(printf 'ab%.0s' $(seq 32))"
expect_refused pcr-not-quoted pcr-not-quoted "${V1[@]}" "${ALLOW1[@]}" \
    --allow "sha256:8=$(printf '00%.0s' $(seq 32))"
expect_refused pcr-unlisted pcr-not-in-policy "${V1[@]}" "${ALLOW1[@]:0:6}" --only-listed
expect_ok pcr-listed "${V1[@]}" "${ALLOW1[@]}" --only-listed
expect_refused scheme-not-allowed sig-alg-not-allowed "${V1[@]}" --schemes ecdsa,rsapss
expect_refused ak-ecc-for-rsa sig-alg-mismatch verify --ak akecc.pub --msg q1.msg --sig q1.sig \
    --pcrs q1.pcrs --nonce "$NONCE1"
expect_refused ak-pss-for-rsassa sig-alg-mismatch verify --ak akpss.pub --msg q1.msg \
    --sig q1.sig --pcrs q1.pcrs --nonce "$NONCE1"
tpm createak2 tpm2_createak -C ek.ctx -c ak2.ctx -G rsa -g sha256 -s rsassa -u ak2.pub -n ak2.name -f tss
expect_refused other-ak sig-invalid verify --ak ak2.pub --msg q1.msg --sig q1.sig \
    --pcrs q1.pcrs --nonce "$NONCE1"
expect_refused replay clock-backwards "${V1[@]}" "${ALLOW1[@]}" --prev "$PREV1"
IFS=: read -r c1 r1 s1 <<<"$PREV1"
expect_refused reset-backwards reset-count-backwards "${V1[@]}" --prev "$c1:$((r1 + 1)):0"
expect_refused restart-backwards restart-count-backwards "${V1[@]}" --prev "0:$r1:$((s1 + 1))"
expect_ok reset-forwards "${V1[@]}" --prev "$((c1 + 100000)):$((r1 - 1)):9"
log "each tampering refused with its own reason"

# a second quote, later: accepted after the first
sleep 0.05
NONCE2=$(openssl rand -hex 20)
tpm quote2 tpm2_quote -c ak.ctx -l sha256:0,1,2,7 -q "$NONCE2" -m q2.msg -s q2.sig -o q2.pcrs \
    -F values -g sha256
expect_ok quote2-after-1 verify --ak ak.pub --msg q2.msg --sig q2.sig --pcrs q2.pcrs \
    --nonce "$NONCE2" "${ALLOW1[@]}" --prev "$PREV1"

# PCR 7 extended: a fresh quote fails the allowed values; the new values are accepted
tpm extend tpm2_pcrextend "7:sha256=$(printf 'warden' | sha256sum | cut -d' ' -f1)"
NONCE3=$(openssl rand -hex 32)
tpm quote3 tpm2_quote -c ak.ctx -l sha256:0,1,2,7 -q "$NONCE3" -m q3.msg -s q3.sig -o q3.pcrs \
    -F values -g sha256
cmp -s q1.pcrs q3.pcrs && fail "PCR 7 did not change after tpm2_pcrextend"
V3=(verify --ak ak.pub --msg q3.msg --sig q3.sig --pcrs q3.pcrs --nonce "$NONCE3")
expect_refused extended pcr-value-not-allowed "${V3[@]}" "${ALLOW1[@]}" --prev "$PREV1"
mapfile -t ALLOW3 < <(pcr_allow q3.pcrs sha256 "${PCRS[@]}")
expect_ok extended-allowed "${V3[@]}" "${ALLOW3[@]}" --prev "$PREV1"
# a policy may allow several values per PCR (before and after an update)
expect_ok extended-either "${V3[@]}" "${ALLOW1[@]:0:6}" --allow \
    "sha256:7=$(xxd -p -c 1000 -s 96 -l 32 q1.pcrs),$(xxd -p -c 1000 -s 96 -l 32 q3.pcrs)"
log "after tpm2_pcrextend the old policy refuses, the new one accepts"

# RSAPSS and ECDSA AKs, and two banks
NONCE4=$(openssl rand -hex 16)
tpm quote-pss tpm2_quote -c akpss.ctx -l sha256:0,7,16 -q "$NONCE4" --scheme rsapss -m qp.msg -s qp.sig \
    -o qp.pcrs -F values -g sha256
expect_ok quote-pss verify --ak akpss.pub --msg qp.msg --sig qp.sig --pcrs qp.pcrs --nonce "$NONCE4"
expect_refused quote-pss-only-rsassa sig-alg-not-allowed verify --ak akpss.pub --msg qp.msg \
    --sig qp.sig --pcrs qp.pcrs --nonce "$NONCE4" --schemes rsassa
tpm quote-ecc tpm2_quote -c akecc.ctx -l sha256:0,1,2,3,4,5,6,7 -q "$NONCE4" -m qe.msg -s qe.sig \
    -o qe.pcrs -F values -g sha256
expect_ok quote-ecc verify --ak akecc.pub --msg qe.msg --sig qe.sig --pcrs qe.pcrs --nonce "$NONCE4"
flip qe.sig 10 qe-bad.sig
expect_refused quote-ecc-bad-sig sig-invalid verify --ak akecc.pub --msg qe.msg --sig qe-bad.sig \
    --pcrs qe.pcrs --nonce "$NONCE4"
log "RSAPSS and ECDSA quotes verify"

# --- MakeCredential / ActivateCredential ----------------------------------------------------
# activate AKCTX EKCTX CREDFILE OUT: tpm2_activatecredential with the EK's policy session.
activate() {
    local rc
    timeout 60 tpm2_startauthsession --policy-session -S "$T/w/session.ctx" \
        >"$T/logs/activate.log" 2>&1 \
        && timeout 60 tpm2_policysecret -S "$T/w/session.ctx" -c e >>"$T/logs/activate.log" 2>&1 \
        && timeout 60 tpm2_activatecredential -c "$1" -C "$2" -i "$3" -o "$4" \
            -P "session:$T/w/session.ctx" >>"$T/logs/activate.log" 2>&1
    rc=$?
    tpm2_flushcontext "$T/w/session.ctx" >/dev/null 2>&1
    tpm2_flushcontext -t >/dev/null 2>&1
    tpm2_flushcontext -s >/dev/null 2>&1
    return $rc
}
head -c 32 /dev/urandom >cred.secret
for kind in rsa ecc; do
    if [ "$kind" = rsa ]; then ekp=ek.pub ekc=ek.ctx akn=ak.name akc=ak.ctx; else
        ekp=ekecc.pub ekc=ekecc.ctx akn=akecc.name akc=akecc.ctx
    fi
    expect_ok "makecred-$kind" makecred --ek "$ekp" --name "$(hexof "$akn")" --secret cred.secret \
        --out "wdcred-$kind.out"
    activate "$akc" "$ekc" "wdcred-$kind.out" "act-$kind.out" || {
        sed 's/^/    /' "$T/logs/activate.log" >&2
        fail "the TPM refused warden's $kind credential"
    }
    cmp -s "act-$kind.out" cred.secret || fail "ActivateCredential ($kind) returned another secret"
done
# bound to the AK: a credential for the PSS AK's Name does not open with the RSASSA AK
expect_ok makecred-other makecred --ek ek.pub --name "$(hexof akpss.name)" --secret cred.secret \
    --out wdcred-other.out
if activate ak.ctx ek.ctx wdcred-other.out act-other.out; then
    fail "the TPM activated a credential made for another AK"
fi
log "the TPM's ActivateCredential returns warden's MakeCredential secret (RSA and ECC EKs)"

# credentials made by the TPM (MakeCredential on a loaded external key) and by tpm2-tools
# (software) for software EKs open with warden's software ActivateCredential
openssl genrsa -out swek-rsa.pem 2048 2>/dev/null || fail "genrsa"
openssl ecparam -name prime256v1 -genkey -noout -out swek-ecc.pem || fail "ecparam"
for kind in rsa ecc; do
    expect_ok "mkpub-$kind" mkpub --key "swek-$kind.pem" --out "swek-$kind.pub"
    tpm "tpm-makecred-$kind" tpm2_makecredential -u "swek-$kind.pub" -s cred.secret \
        -n "$(hexof ak.name)" -o "tpmcred-$kind.out"
    tpm "sw-makecred-$kind" tpm2_makecredential -T none -u "swek-$kind.pub" -s cred.secret \
        -n "$(hexof ak.name)" -o "toolscred-$kind.out"
    for f in tpmcred toolscred; do
        got=$("$PROBE" activate --ek "swek-$kind.pub" --ek-key "swek-$kind.pem" \
            --name "$(hexof ak.name)" --in "$f-$kind.out") || fail "activate $f-$kind: $got"
        [ "$got" = "$(hexof cred.secret)" ] || fail "$f-$kind: warden recovered $got"
    done
    expect_refused "activate-wrong-name-$kind" credential-integrity activate --ek "swek-$kind.pub" \
        --ek-key "swek-$kind.pem" --name "$(hexof akpss.name)" --in "tpmcred-$kind.out"
done
log "TPM- and tpm2-tools-made credentials open with warden's ActivateCredential"

if [ -n "${WD_TPM_CAPTURE:-}" ]; then
    d=$WD_TPM_CAPTURE
    mkdir -p "$d/ca"
    cp "$T/cadir/"*.pem "$d/ca/"
    cp ek.pub ekecc.pub ekcert.der ak.pub ak.name akpss.pub akpss.name akecc.pub akecc.name \
        ak2.pub "$d/"
    for q in q1 q2 q3 qp qe; do
        cp "$q.msg" "$q.sig" "$q.pcrs" "$d/"
    done
    printf '%s' "$NONCE1" | xxd -r -p >"$d/q1.nonce"
    printf '%s' "$NONCE2" | xxd -r -p >"$d/q2.nonce"
    printf '%s' "$NONCE3" | xxd -r -p >"$d/q3.nonce"
    printf '%s' "$NONCE4" | xxd -r -p >"$d/qp.nonce"
    printf '%s' "$NONCE4" | xxd -r -p >"$d/qe.nonce"
    cp cred.secret swek-rsa.pem swek-rsa.pub swek-ecc.pem swek-ecc.pub tpmcred-rsa.out \
        tpmcred-ecc.out toolscred-rsa.out toolscred-ecc.out "$d/"
    log "artifacts copied to $d"
fi
pass
