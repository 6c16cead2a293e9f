#!/usr/bin/env bash
# SVIDs issued by warden verify with `openssl verify` against the trust bundle, and
# `warden cert verify` agrees with OpenSSL on them; certificates of another trust domain, or
# of another CA claiming the same trust domain, are refused by both.
. "$(dirname "$0")/lib.sh"
need openssl python3
need_warden

TD=example.org
ca_init "$TD" "$T/ca"
ca_init other.test "$T/other-ca"
issue "$T/ca" "spiffe://$TD/web" "$T/web"
issue "$T/ca" "spiffe://$TD/ns/prod/sa/db" "$T/db" --ttl 2h
issue "$T/other-ca" spiffe://other.test/web "$T/foreign"

# The shape of what `ca init` and `cert issue` wrote.
grep -q 'BEGIN CERTIFICATE' "$T/ca/bundle.pem" || fail "bundle.pem has no certificate"
python3 - "$T/ca/bundle.json" <<'EOF' || fail "bundle.json is not a SPIFFE bundle"
import json, sys
b = json.load(open(sys.argv[1]))
keys = b["keys"]
assert isinstance(keys, list) and keys, "no keys"
assert any(k.get("use") == "x509-svid" and k.get("x5c") for k in keys), "no x509-svid key"
assert isinstance(b.get("spiffe_sequence"), int), "no spiffe_sequence"
EOF
perm=$(stat -c %a "$T/ca/root.key")
[ "$perm" = 600 ] || fail "root.key has mode $perm, want 600"
perm=$(stat -c %a "$T/web/svid.key")
[ "$perm" = 600 ] || fail "svid.key has mode $perm, want 600"
n=$(grep -c 'BEGIN CERTIFICATE' "$T/web/svid.pem")
[ "$n" -eq 2 ] || fail "svid.pem holds $n certificates, want leaf + intermediate"
cmp -s "$T/web/bundle.pem" "$T/ca/bundle.pem" || fail "cert issue wrote a different bundle.pem"

for svc in web db; do
    dir=$T/$svc
    split_chain "$dir/svid.pem" "$dir/leaf.pem" "$dir/chain.pem"
    id=$(spiffe_id_of "$dir/leaf.pem")
    case $svc in
    web) [ "$id" = "spiffe://$TD/web" ] || fail "web SVID has URI SAN $id" ;;
    db) [ "$id" = "spiffe://$TD/ns/prod/sa/db" ] || fail "db SVID has URI SAN $id" ;;
    esac

    # OpenSSL's own view: a chain to the bundle, and a leaf usable for TLS both ways.
    for purpose in sslclient sslserver; do
        out=$(openssl verify -CAfile "$T/ca/bundle.pem" -untrusted "$dir/chain.pem" \
            -purpose "$purpose" "$dir/leaf.pem" 2>&1) || fail "openssl verify ($purpose) refused $svc: $out"
        [ "$out" = "$dir/leaf.pem: OK" ] || fail "openssl verify ($purpose): $out"
    done
    text=$(openssl x509 -in "$dir/leaf.pem" -noout -text)
    grep -q 'CA:FALSE' <<<"$text" || fail "$svc leaf is not CA:FALSE"
    grep -A1 'X509v3 Key Usage: critical' <<<"$text" | grep -q 'Digital Signature' \
        || fail "$svc leaf lacks a critical digitalSignature key usage"
    eku=$(grep -A1 'Extended Key Usage' <<<"$text" | tail -n 1)
    grep -q 'TLS Web Server Authentication' <<<"$eku" || fail "$svc leaf lacks serverAuth"
    grep -q 'TLS Web Client Authentication' <<<"$eku" || fail "$svc leaf lacks clientAuth"
    grep -q 'ASN1 OID: prime256v1' <<<"$text" || fail "$svc key is not P-256"

    # warden agrees.
    out=$("$WARDEN" cert verify --bundle "$T/ca/bundle.pem" "$dir/svid.pem" 2>&1) \
        || fail "warden cert verify refused $svc: $out"
    [ "$out" = "ok $id" ] || fail "warden cert verify printed '$out', want 'ok $id'"
done

# The TTL was honoured: the db SVID lives about 2 hours (NotBefore is backdated a little).
python3 - "$T/db/leaf.pem" <<'EOF' || fail "db SVID lifetime is not about 2h"
import subprocess, sys
from datetime import datetime
out = subprocess.run(["openssl", "x509", "-in", sys.argv[1], "-noout", "-startdate",
                      "-enddate"], capture_output=True, text=True, check=True).stdout
d = dict(l.split("=", 1) for l in out.splitlines())
fmt = "%b %d %H:%M:%S %Y %Z"
life = (datetime.strptime(d["notAfter"], fmt) - datetime.strptime(d["notBefore"], fmt))
life = life.total_seconds()
assert 7200 <= life <= 7200 + 600, life
EOF

# Another trust domain: refused by both.
split_chain "$T/foreign/svid.pem" "$T/foreign/leaf.pem" "$T/foreign/chain.pem"
if openssl verify -CAfile "$T/ca/bundle.pem" -untrusted "$T/foreign/chain.pem" \
    "$T/foreign/leaf.pem" >"$T/logs/ossl-foreign.log" 2>&1; then
    fail "openssl verify accepted an SVID of another trust domain"
fi
run_fails verify-foreign "$WARDEN" cert verify --bundle "$T/ca/bundle.pem" "$T/foreign/svid.pem"
[ "$EXIT_STATUS" -eq 1 ] || fail "warden cert verify (foreign) exit $EXIT_STATUS, want 1"
[ -s "$T/logs/verify-foreign.err" ] || fail "warden cert verify (foreign) gave no reason"
[ ! -s "$T/logs/verify-foreign.out" ] || fail "warden cert verify (foreign) printed on stdout"

# Another CA that claims the same trust domain: also refused by both.
ossl_ca "$TD" "$T/rogue-ca" || fail "openssl could not make the rogue CA"
ossl_svid "$T/rogue-ca" "spiffe://$TD/web" "$T/rogue" || fail "openssl could not make the rogue SVID"
if openssl verify -CAfile "$T/ca/bundle.pem" -untrusted "$T/rogue-ca/intermediate.pem" \
    "$T/rogue/leaf.pem" >"$T/logs/ossl-rogue.log" 2>&1; then
    fail "openssl verify accepted an SVID from a rogue CA"
fi
run_fails verify-rogue "$WARDEN" cert verify --bundle "$T/ca/bundle.pem" "$T/rogue/svid.pem"
[ "$EXIT_STATUS" -eq 1 ] || fail "warden cert verify (rogue CA) exit $EXIT_STATUS, want 1"

# The rogue chain is well-formed, so warden accepts it against its own bundle: the refusal
# above was about trust, not about the certificate's shape.
out=$("$WARDEN" cert verify --bundle "$T/rogue-ca/bundle.pem" "$T/rogue/svid.pem" 2>&1) \
    || fail "warden cert verify refused a well-formed openssl-made SVID: $out"
[ "$out" = "ok spiffe://$TD/web" ] || fail "warden cert verify (rogue, own bundle) printed '$out'"

pass
