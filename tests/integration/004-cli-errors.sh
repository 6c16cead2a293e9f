#!/usr/bin/env bash
# Bad input to the warden CLI: every case exits non-zero without crashing, prints one line
# on stderr naming the problem (and the offending input), and writes nothing half-way:
# a failed `ca init` leaves no directory, a failed `cert issue` leaves the output directory
# exactly as it was (or absent). `--help` works at every level.
. "$(dirname "$0")/lib.sh"
need openssl python3
need_warden

TD=example.org
ca_init "$TD" "$T/ca"
issue "$T/ca" "spiffe://$TD/web" "$T/web"

# expect_error NAME NEEDLE CMD...: CMD must fail cleanly (exit 1 or 2, no signal or
# sanitizer report) with exactly one line on stderr that contains NEEDLE (a fixed string;
# "" for any), and nothing on stdout.
expect_error() {
    local name=$1 needle=$2 lines
    shift 2
    run_fails "$name" "$@"
    case $EXIT_STATUS in
    1 | 2) ;;
    *) fail "$name: exit status $EXIT_STATUS, want 1 or 2: $(head -c 300 "$T/logs/$name.err")" ;;
    esac
    lines=$(grep -c '' "$T/logs/$name.err")
    [ "$lines" -eq 1 ] || {
        sed 's/^/    /' "$T/logs/$name.err" >&2
        fail "$name: $lines lines on stderr, want exactly one"
    }
    [ -z "$needle" ] || grep -qF -- "$needle" "$T/logs/$name.err" || fail "$name: error does not mention '$needle': $(cat "$T/logs/$name.err")"
    [ ! -s "$T/logs/$name.out" ] || fail "$name: printed on stdout: $(head -c 200 "$T/logs/$name.out")"
}

# snapshot DIR: a listing with modes and checksums, to prove a directory did not change.
snapshot() {
    (cd "$1" && find . -printf '%p %m %s\n' | sort && find . -type f -exec sha256sum {} + | sort)
}

# --- help at every level ---------------------------------------------------------------
for args in "--help" "ca --help" "ca init --help" "cert --help" "cert issue --help" \
    "cert inspect --help" "cert verify --help"; do
    # shellcheck disable=SC2086
    out=$("$WARDEN" $args 2>&1) || fail "warden $args: exit $?"
    grep -qi 'usage' <<<"$out" || fail "warden $args: no usage text"
done

# --- usage errors: non-zero, no crash ----------------------------------------------------
for args in "" "frobnicate" "ca" "ca frobnicate" "cert" "cert frobnicate" \
    "ca init --dir $T/x" "ca init --trust-domain $TD" "cert issue --ca $T/ca --out $T/x" \
    "cert issue --spiffe-id spiffe://$TD/a --out $T/x" "cert verify $T/web/svid.pem" \
    "cert inspect" "cert issue --ca $T/ca --spiffe-id spiffe://$TD/a --out $T/x --bogus 1"; do
    # shellcheck disable=SC2086
    run_fails "usage" "$WARDEN" $args
    [ "$EXIT_STATUS" -le 2 ] || fail "warden $args: exit $EXIT_STATUS"
    [ -s "$T/logs/usage.err" ] || fail "warden $args: nothing on stderr"
done
[ ! -e "$T/x" ] || fail "a usage error created $T/x"

# --- invalid SPIFFE IDs: each rule of the SPIFFE-ID spec ---------------------------------
long="spiffe://$TD/$(head -c 2100 /dev/zero | tr '\0' a)"
bad_ids=(
    "http://$TD/web"              # scheme must be spiffe
    "SPIFFE://$TD/web"            # scheme is lower case
    "spiffe:/$TD/web"             # no authority
    "spiffe://"                   # empty trust domain
    "spiffe:///web"               # empty trust domain with a path
    "spiffe://Example.org/web"    # upper case in the trust domain
    "spiffe://exa mple.org/web"   # space in the trust domain
    "spiffe://$TD:8443/web"       # port
    "spiffe://user@$TD/web"       # userinfo
    "spiffe://$TD/"               # trailing slash
    "spiffe://$TD//web"           # empty segment
    "spiffe://$TD/a/./b"          # dot segment
    "spiffe://$TD/a/../b"         # dot-dot segment
    "spiffe://$TD/web%41"         # percent-encoding
    "spiffe://$TD/web?x=1"        # query
    "spiffe://$TD/web#frag"       # fragment
    "spiffe://$TD/we!b"           # character outside the path set
    "$long"                       # longer than 2048 bytes
)
i=0
for id in "${bad_ids[@]}"; do
    i=$((i + 1))
    needle=$id
    [ "${#id}" -gt 100 ] && needle="" # the name may be shortened in the message
    expect_error "bad-id-$i" "$needle" "$WARDEN" cert issue --ca "$T/ca" --spiffe-id "$id" \
        --out "$T/bad-id-$i"
    [ ! -e "$T/bad-id-$i" ] || fail "bad id '$id': output directory created"
done
# The messages name different rules, not one generic "invalid": at least 8 distinct texts
# once the ID itself is taken out.
distinct=$(python3 - "$T/logs" "${bad_ids[@]}" <<'EOF'
import sys
logs, ids = sys.argv[1], sys.argv[2:]
texts = set()
for n, i in enumerate(ids, 1):
    texts.add(open(f"{logs}/bad-id-{n}.err").read().replace(i, "<id>"))
print(len(texts))
EOF
)
[ "$distinct" -ge 8 ] || fail "invalid SPIFFE IDs give only $distinct distinct messages"

for td in Example.org "exa mple.org" "" "a/b" "spiffe://$TD"; do
    expect_error "bad-td" "" "$WARDEN" ca init --trust-domain "$td" --dir "$T/bad-td"
    [ ! -e "$T/bad-td" ] || fail "ca init --trust-domain '$td': directory created"
done

# --- issuance errors: out dir untouched --------------------------------------------------
before=$(snapshot "$T/web")
expect_error td-mismatch "other.test" "$WARDEN" cert issue --ca "$T/ca" \
    --spiffe-id spiffe://other.test/web --out "$T/web"
expect_error unknown-claim "bogus" "$WARDEN" cert issue --ca "$T/ca" \
    --spiffe-id "spiffe://$TD/web" --claim bogus=1 --out "$T/web"
expect_error claim-syntax "" "$WARDEN" cert issue --ca "$T/ca" \
    --spiffe-id "spiffe://$TD/web" --claim novalue --out "$T/web"
for ttl in abc 0s -1h 1x; do
    expect_error "bad-ttl" "" "$WARDEN" cert issue --ca "$T/ca" --spiffe-id "spiffe://$TD/web" \
        --ttl "$ttl" --out "$T/web"
done
expect_error no-ca "$T/nope" "$WARDEN" cert issue --ca "$T/nope" --spiffe-id "spiffe://$TD/web" \
    --out "$T/web"
[ "$(snapshot "$T/web")" = "$before" ] || fail "a failed cert issue changed $T/web"
for d in td-mismatch-new unknown-claim-new; do
    [ ! -e "$T/$d" ] || fail "$d exists"
done
expect_error td-mismatch-new "" "$WARDEN" cert issue --ca "$T/ca" \
    --spiffe-id spiffe://other.test/web --out "$T/td-mismatch-new"
[ ! -e "$T/td-mismatch-new" ] || fail "a failed cert issue created its output directory"

# A CA whose signing key is RSA (wrong key type), or truncated, or not a key at all.
for kind in rsa truncated garbage; do
    cp -a "$T/ca" "$T/ca-$kind"
    case $kind in
    rsa) openssl genrsa -out "$T/ca-$kind/intermediate.key" 2048 2>/dev/null ;;
    truncated) head -c 100 "$T/ca/intermediate.key" >"$T/ca-$kind/intermediate.key" ;;
    garbage) echo "not a key" >"$T/ca-$kind/intermediate.key" ;;
    esac
    needle=""
    [ "$kind" = rsa ] && needle=RSA
    expect_error "ca-key-$kind" "$needle" "$WARDEN" cert issue --ca "$T/ca-$kind" \
        --spiffe-id "spiffe://$TD/web" --out "$T/issued-$kind"
    [ ! -e "$T/issued-$kind" ] || fail "issuing with a $kind CA key created the output directory"
done

# Requests (--csr) with the wrong key type, or that are not requests: warden issues for
# P-256 keys only.
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/rsa.key" -subj /O=x -out "$T/rsa.csr" \
    2>/dev/null || fail "openssl RSA CSR"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:secp384r1 -nodes -keyout "$T/p384.key" \
    -subj /O=x -out "$T/p384.csr" 2>/dev/null || fail "openssl P-384 CSR"
expect_error csr-rsa RSA "$WARDEN" cert issue --ca "$T/ca" --spiffe-id "spiffe://$TD/web" \
    --csr "$T/rsa.csr" --out "$T/csr-rsa"
expect_error csr-p384 "" "$WARDEN" cert issue --ca "$T/ca" --spiffe-id "spiffe://$TD/web" \
    --csr "$T/p384.csr" --out "$T/csr-p384"
expect_error csr-not-csr "" "$WARDEN" cert issue --ca "$T/ca" --spiffe-id "spiffe://$TD/web" \
    --csr "$T/web/svid.pem" --out "$T/csr-not-csr"
head -c 300 "$T/p384.csr" >"$T/cut.csr"
expect_error csr-truncated "" "$WARDEN" cert issue --ca "$T/ca" --spiffe-id "spiffe://$TD/web" \
    --csr "$T/cut.csr" --out "$T/csr-truncated"
for d in csr-rsa csr-p384 csr-not-csr csr-truncated; do
    [ ! -e "$T/$d" ] || fail "$d: a refused request created the output directory"
done
# A good P-256 request is accepted, and the SVID carries the request's key.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$T/p256.key" -subj /O=x -out "$T/p256.csr" 2>/dev/null || fail "openssl P-256 CSR"
run_ok csr-p256 "$WARDEN" cert issue --ca "$T/ca" --spiffe-id "spiffe://$TD/from-csr" \
    --csr "$T/p256.csr" --out "$T/csr-p256"
[ ! -e "$T/csr-p256/svid.key" ] || fail "cert issue --csr wrote a key"
[ "$(openssl x509 -in "$T/csr-p256/svid.pem" -noout -pubkey)" = "$(openssl pkey -in "$T/p256.key" -pubout)" ] \
    || fail "the SVID issued from a CSR does not carry the request's key"

# --- ca init over an existing directory ---------------------------------------------------
before=$(snapshot "$T/ca")
expect_error ca-exists "$T/ca" "$WARDEN" ca init --trust-domain "$TD" --dir "$T/ca"
[ "$(snapshot "$T/ca")" = "$before" ] || fail "ca init over an existing CA changed it"
mkdir "$T/occupied" && echo keep >"$T/occupied/file"
expect_error ca-occupied "$T/occupied" "$WARDEN" ca init --trust-domain "$TD" --dir "$T/occupied"
[ "$(ls "$T/occupied")" = file ] || fail "ca init wrote into a non-empty directory"

# --- reading certificates and bundles -----------------------------------------------------
svid=$T/web/svid.pem
bundle=$T/ca/bundle.pem
{
    echo "-----BEGIN CERTIFICATE-----"
    echo "this is not base64 !!!"
    echo "-----END CERTIFICATE-----"
} >"$T/malformed.pem"
# Cut inside the leaf's block: BEGIN without END.
head -c "$(($(wc -c <"$svid") / 4))" "$svid" >"$T/truncated.pem"
# Valid base64 and PEM armour around DER that stops half-way.
openssl x509 -in "$svid" -outform DER | head -c 200 | base64 >"$T/der-cut.b64"
{
    echo "-----BEGIN CERTIFICATE-----"
    cat "$T/der-cut.b64"
    echo "-----END CERTIFICATE-----"
} >"$T/der-truncated.pem"
: >"$T/empty.pem"
ossl_ca "$TD" "$T/rsa-ca" || fail "openssl CA"
ossl_svid "$T/rsa-ca" "spiffe://$TD/rsa" "$T/rsa" rsa || fail "openssl RSA SVID"
mkdir -p "$T/a-directory"

for f in malformed truncated der-truncated empty; do
    expect_error "verify-$f" "" "$WARDEN" cert verify --bundle "$bundle" "$T/$f.pem"
    [ "$EXIT_STATUS" -eq 1 ] || fail "verify-$f: exit $EXIT_STATUS, want 1"
    expect_error "inspect-$f" "" "$WARDEN" cert inspect "$T/$f.pem"
    expect_error "bundle-$f" "" "$WARDEN" cert verify --bundle "$T/$f.pem" "$svid"
done
expect_error verify-missing "$T/missing.pem" "$WARDEN" cert verify --bundle "$bundle" "$T/missing.pem"
expect_error inspect-missing "$T/missing.pem" "$WARDEN" cert inspect "$T/missing.pem"
expect_error bundle-missing "$T/missing.pem" "$WARDEN" cert verify --bundle "$T/missing.pem" "$svid"
expect_error inspect-dir "$T/a-directory" "$WARDEN" cert inspect "$T/a-directory"
expect_error verify-dir "$T/a-directory" "$WARDEN" cert verify --bundle "$bundle" "$T/a-directory"
if [ "$(id -u)" -ne 0 ]; then
    # Root reads any file, so permission errors can only be seen as another user.
    cp "$svid" "$T/unreadable.pem" && chmod 000 "$T/unreadable.pem"
    expect_error inspect-unreadable "$T/unreadable.pem" "$WARDEN" cert inspect "$T/unreadable.pem"
fi
# A key where a certificate belongs.
expect_error verify-keyfile "" "$WARDEN" cert verify --bundle "$bundle" "$T/web/svid.key"
# A certificate from a CA this bundle does not hold.
expect_error verify-other-ca "" "$WARDEN" cert verify --bundle "$bundle" "$T/rsa/svid.pem"

# --- the good paths still work, and inspect reports the SVID ------------------------------
out=$("$WARDEN" cert verify --bundle "$bundle" "$svid" 2>&1) || fail "verify of a good SVID: $out"
[ "$out" = "ok spiffe://$TD/web" ] || fail "verify printed '$out'"
"$WARDEN" cert inspect "$svid" >"$T/inspect.txt" 2>"$T/logs/inspect.err" \
    || fail "cert inspect of a good SVID failed: $(cat "$T/logs/inspect.err")"
grep -qF "spiffe://$TD/web" "$T/inspect.txt" || fail "cert inspect does not show the SPIFFE ID"
"$WARDEN" cert inspect --json "$svid" >"$T/inspect.json" 2>"$T/logs/inspect-json.err" \
    || "$WARDEN" cert inspect "$svid" --json >"$T/inspect.json" 2>"$T/logs/inspect-json.err" \
    || fail "cert inspect --json failed: $(cat "$T/logs/inspect-json.err")"
python3 - "$T/inspect.json" "spiffe://$TD/web" <<'EOF' || fail "cert inspect --json: not JSON naming the SPIFFE ID"
import json, sys
doc = json.load(open(sys.argv[1]))
assert sys.argv[2] in json.dumps(doc), "SPIFFE ID missing"
EOF

pass
