#!/usr/bin/env bash
# `warden policy check | eval | fmt` on the example mesh policy set (examples/policy: DESIGN §5
# traffic mapping, workloads by SPIFFE ID, http:* and tcp:connect actions): every request's
# exact JSON answer with and without the schema (human and JSON formats), validation and
# syntax errors reported as file:line:col on stderr with exit 1, usage errors with exit 2,
# bad input (garbage, deep nesting, cycles, huge literals) rejected without a crash, and fmt
# (--check, --write keeping comments, mode and symlinks; never dropping a comment).
. "$(dirname "$0")/lib.sh"
need_warden

EX=$WD_ROOT/examples/policy
P=$EX/policies.cedar
E=$EX/entities.json
S=$EX/schema.cedarschema
SJ=$EX/schema.json

# expect_exit NAME STATUS CMD...: run CMD (bounded), stdout in $T/logs/NAME.out, stderr in
# $T/logs/NAME.err; fail unless it exits with STATUS.
expect_exit() {
    local name=$1 want=$2 got
    shift 2
    timeout 60 "$@" >"$T/logs/$name.out" 2>"$T/logs/$name.err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        sed 's/^/    out: /' "$T/logs/$name.out" | head -n 20 >&2
        sed 's/^/    err: /' "$T/logs/$name.err" | head -n 20 >&2
        fail "$name: '$*' exited $got, want $want"
    fi
}

# has NAME STREAM REGEX: the output stream (out|err) of run NAME has a line matching REGEX.
has() {
    grep -qE -- "$3" "$T/logs/$1.$2" || {
        sed 's/^/    /' "$T/logs/$1.$2" | head -n 20 >&2
        fail "$1: no line matching '$3' on std$2"
    }
}

# --- help at every level ----------------------------------------------------------------
for args in "policy --help" "policy check --help" "policy eval --help" "policy fmt --help" \
    "policy check -h"; do
    # shellcheck disable=SC2086
    expect_exit help 0 "$WARDEN" $args
    has help out '^usage: warden policy'
done
expect_exit group-usage 2 "$WARDEN" policy
expect_exit group-unknown 2 "$WARDEN" policy frobnicate

# --- check --------------------------------------------------------------------------------
expect_exit check-plain 0 "$WARDEN" policy check "$P"
has check-plain out "^$P: ok \\(7 policies\\)$"
for schema in "$S" "$SJ"; do
    expect_exit check-schema 0 "$WARDEN" policy check --schema "$schema" "$P"
    has check-schema out "^$P: ok \\(7 policies\\)$"
    [ ! -s "$T/logs/check-schema.err" ] || fail "check --schema $schema printed on stderr"
done
cp "$SJ" "$T/schema.txt"
expect_exit check-format-json 0 "$WARDEN" policy check --schema "$T/schema.txt" \
    --schema-format json "$P"
expect_exit check-format-wrong 1 "$WARDEN" policy check --schema "$T/schema.txt" "$P"
has check-format-wrong err "^warden: $T/schema.txt:1:1: "

# Validation errors: every one on stderr with the file and a position, exit 1; the good file
# next to it is still reported ok.
cat >"$T/invalid.cedar" <<'EOF'
permit (principal, action == Action::"http:GET", resource)
when { context.rout == "orders" };

permit (principal == User::"alice", action == Action::"http:GET", resource);

permit (principal is Workload, action == Action::"tcp:connect", resource)
when { principal.party + 1 > 0 };
EOF
expect_exit check-invalid 1 "$WARDEN" policy check --schema "$S" "$T/invalid.cedar" "$P"
has check-invalid err "^$T/invalid.cedar:2:8: error: for policy \`policy0\`, attribute \`rout\`"
has check-invalid err "^$T/invalid.cedar:4:[0-9]+: error: for policy \`policy1\`, unrecognized entity type \`User\`"
has check-invalid err "^$T/invalid.cedar:7:[0-9]+: error: for policy \`policy2\`"
has check-invalid out "^$P: ok \\(7 policies\\)$"
if grep -vE "^$T/invalid.cedar:[0-9]+:[0-9]+: " "$T/logs/check-invalid.err" | grep -q .; then
    fail "check-invalid: a diagnostic without file:line:col: $(cat "$T/logs/check-invalid.err")"
fi
# Every error is reported, not only the first of a policy: one policy with three distinct
# errors (an undeclared context attribute, a string added to a long, a long matched with
# `like`; cedar-wasm's validate() reports the same three) prints exactly three lines.
cat >"$T/three.cedar" <<'EOF'
permit (principal is Workload, action == Action::"http:GET", resource)
when { context.rout == "orders" && principal.party + 1 > 0 }
unless { context.port like "80*" };
EOF
expect_exit check-three 1 "$WARDEN" policy check --schema "$S" "$T/three.cedar"
has check-three err "^$T/three.cedar:2:8: error: for policy \`policy0\`, attribute \`rout\`"
has check-three err "^$T/three.cedar:2:36: error: for policy \`policy0\`, unexpected type: expected Long but saw String$"
has check-three err "^$T/three.cedar:3:10: error: for policy \`policy0\`, unexpected type: expected String but saw Long$"
n=$(grep -c . "$T/logs/check-three.err")
[ "$n" = 3 ] || fail "check-three: $n lines on stderr, want 3: $(cat "$T/logs/check-three.err")"
[ ! -s "$T/logs/check-three.out" ] || fail "check-three: the invalid file was reported ok"
# The same policies are fine without a schema (syntax only).
expect_exit check-invalid-noschema 0 "$WARDEN" policy check "$T/invalid.cedar"

# Syntax errors and bad files.
printf 'permit (principal, action, resource)\nwhen { context.a + };\n' >"$T/syntax.cedar"
expect_exit check-syntax 1 "$WARDEN" policy check "$T/syntax.cedar"
has check-syntax err "^$T/syntax.cedar:2:[0-9]+: "
expect_exit check-missing 1 "$WARDEN" policy check "$T/nope.cedar"
has check-missing err "$T/nope.cedar"
: >"$T/empty.cedar"
expect_exit check-empty 0 "$WARDEN" policy check "$T/empty.cedar"
has check-empty out "ok \\(0 policies\\)"
printf 'permit (principal == ?principal, action, resource);\n' >"$T/template.cedar"
expect_exit check-template 0 "$WARDEN" policy check "$T/template.cedar"
has check-template out "ok \\(0 policies, 1 template\\)"
expect_exit check-bad-schema 1 "$WARDEN" policy check --schema "$E" "$P"
has check-bad-schema err "$E"
expect_exit check-nofile 2 "$WARDEN" policy check
expect_exit check-format-usage 2 "$WARDEN" policy check --schema "$S" --schema-format xml "$P"
expect_exit check-format-noschema 2 "$WARDEN" policy check --schema-format json "$P"
expect_exit check-unknown-opt 2 "$WARDEN" policy check --bogus "$P"

# --- eval: every example request, exact answers ---------------------------------------------
answers=(
    "analytics-card-leak" '{"decision":"deny","reasons":["policy6"],"errors":[]}'
    "analytics-summary-at-night" '{"decision":"deny","reasons":[],"errors":[]}'
    "analytics-summary" '{"decision":"allow","reasons":["policy2"],"errors":[]}'
    "billing-get-invoice" '{"decision":"allow","reasons":["policy0"],"errors":[]}'
    "billing-outside-network" '{"decision":"deny","reasons":["policy5"],"errors":[]}'
    "billing-unattested" '{"decision":"deny","reasons":["policy4"],"errors":[]}'
    "unknown-peer-connect" '{"decision":"deny","reasons":[],"errors":[{"policy":"policy3","message":"entity `Workload::\"spiffe://shop.example/unknown\"` does not exist"}]}'
    "web-connect-catalog" '{"decision":"allow","reasons":["policy3"],"errors":[]}'
    "web-get-invoice" '{"decision":"deny","reasons":[],"errors":[]}'
    "web-get-product" '{"decision":"allow","reasons":["policy1"],"errors":[]}'
)
n=0
for ((i = 0; i < ${#answers[@]}; i += 2)); do
    req=$EX/requests/${answers[i]}.json
    [ -f "$req" ] || fail "missing example request $req"
    for schema in "" "$S" "$SJ"; do
        expect_exit eval 0 "$WARDEN" policy eval --policies "$P" --entities "$E" --request "$req" \
            ${schema:+--schema "$schema"}
        got=$(cat "$T/logs/eval.out")
        [ "$got" = "${answers[i + 1]}" ] \
            || fail "eval ${answers[i]} (schema '${schema}'): got $got, want ${answers[i + 1]}"
        [ ! -s "$T/logs/eval.err" ] || fail "eval ${answers[i]}: stderr: $(cat "$T/logs/eval.err")"
    done
    n=$((n + 1))
done
[ "$n" -eq "$(find "$EX/requests" -name '*.json' | wc -l)" ] || fail "not every example request is checked"

# Without entities the web workload is in no app: policy1 (principal in App::"frontend") does
# not apply.
expect_exit eval-noentities 0 "$WARDEN" policy eval --policies "$P" \
    --request "$EX/requests/web-get-product.json"
has eval-noentities out '^\{"decision":"deny","reasons":\[\],"errors":\[\]\}$'

# Bad eval input: exit 1 with one line naming the file (and position when there is one).
printf '{"principal": {"type": "Workload", "id": "a"}, "action": ' >"$T/truncated.json"
expect_exit eval-bad-request 1 "$WARDEN" policy eval --policies "$P" --entities "$E" \
    --request "$T/truncated.json"
has eval-bad-request err "^warden: $T/truncated.json:1:[0-9]+: "
sed 's/"context"/"contxt"/' "$EX/requests/web-get-product.json" >"$T/typo.json"
expect_exit eval-typo-key 1 "$WARDEN" policy eval --policies "$P" --entities "$E" \
    --request "$T/typo.json"
has eval-typo-key err "$T/typo.json"
sed 's/"http:GET"/"http:PATCH"/' "$EX/requests/web-get-product.json" >"$T/undeclared.json"
expect_exit eval-undeclared-action 0 "$WARDEN" policy eval --policies "$P" --entities "$E" \
    --request "$T/undeclared.json"
expect_exit eval-nonconforming 1 "$WARDEN" policy eval --policies "$P" --entities "$E" \
    --request "$T/undeclared.json" --schema "$S"
has eval-nonconforming err "does not conform to the schema"
cat >"$T/cycle.json" <<'EOF'
[{"uid": {"type": "Group", "id": "a"}, "attrs": {}, "parents": [{"type": "Group", "id": "b"}]},
 {"uid": {"type": "Group", "id": "b"}, "attrs": {}, "parents": [{"type": "Group", "id": "a"}]}]
EOF
expect_exit eval-cycle 1 "$WARDEN" policy eval --policies "$P" --entities "$T/cycle.json" \
    --request "$EX/requests/web-get-product.json"
has eval-cycle err "^warden: $T/cycle.json: .*cycle"
expect_exit eval-syntax 1 "$WARDEN" policy eval --policies "$T/syntax.cedar" --entities "$E" \
    --request "$EX/requests/web-get-product.json"
has eval-syntax err "^warden: $T/syntax.cedar:2:[0-9]+: "
expect_exit eval-no-request 2 "$WARDEN" policy eval --policies "$P" --entities "$E"
expect_exit eval-no-policies 2 "$WARDEN" policy eval --request "$E"
expect_exit eval-positional 2 "$WARDEN" policy eval --policies "$P" --request "$E" extra

# --- hostile input: clean errors, no crash, no hang ---------------------------------------
head -c 65536 /dev/urandom >"$T/garbage.bin"
{
    printf 'permit (principal, action, resource) when { '
    head -c 20000 /dev/zero | tr '\0' '('
    printf 'true'
    head -c 20000 /dev/zero | tr '\0' ')'
    printf ' };\n'
} >"$T/deep.cedar"
printf 'permit (principal, action, resource) when { 99999999999999999999999999 > 1 };\n' \
    >"$T/huge.cedar"
printf 'permit (principal, action, resource) when { "\xff\xfe" == "" };\n' >"$T/utf8.cedar"
printf 'permit (principal, action, resource);\n' >"$T/one.cedar"
for f in garbage.bin deep.cedar huge.cedar utf8.cedar; do
    expect_exit "hostile-check-$f" 1 "$WARDEN" policy check "$T/$f"
    has "hostile-check-$f" err "^$T/$f:[0-9]+:[0-9]+: "
    expect_exit "hostile-fmt-$f" 1 "$WARDEN" policy fmt "$T/$f"
    expect_exit "hostile-eval-$f" 1 "$WARDEN" policy eval --policies "$T/$f" --entities "$E" \
        --request "$EX/requests/web-get-product.json"
    expect_exit "hostile-entities-$f" 1 "$WARDEN" policy eval --policies "$T/one.cedar" \
        --entities "$T/$f" --request "$EX/requests/web-get-product.json"
    expect_exit "hostile-request-$f" 1 "$WARDEN" policy eval --policies "$T/one.cedar" \
        --request "$T/$f"
    expect_exit "hostile-schema-$f" 1 "$WARDEN" policy check --schema "$T/$f" "$T/one.cedar"
done
{
    printf '['
    head -c 5000 /dev/zero | tr '\0' '['
    head -c 5000 /dev/zero | tr '\0' ']'
    printf ']'
} >"$T/deep.json"
expect_exit deep-entities 1 "$WARDEN" policy eval --policies "$T/one.cedar" \
    --entities "$T/deep.json" --request "$EX/requests/web-get-product.json"
has deep-entities err "^warden: $T/deep.json:"

# --- fmt ----------------------------------------------------------------------------------
expect_exit fmt-check-example 0 "$WARDEN" policy fmt --check "$P"
[ ! -s "$T/logs/fmt-check-example.err" ] || fail "fmt --check on the example printed on stderr"
expect_exit fmt-example 0 "$WARDEN" policy fmt "$P"
cmp -s "$T/logs/fmt-example.out" "$P" || fail "fmt of the (formatted) example changed it"

cat >"$T/messy.cedar" <<'EOF'
// leading comment

// about the first policy
permit(principal==Workload::"spiffe://shop.example/web",action in [Action::"http:GET"],resource) when {context.route=="product"&&context.params has id}; // trailing
forbid(principal,action,resource)unless{context.claims has attestation};
// the end
EOF
chmod 640 "$T/messy.cedar"
expect_exit fmt-check-messy 1 "$WARDEN" policy fmt --check "$T/messy.cedar"
has fmt-check-messy err "^$T/messy.cedar: not formatted$"
[ ! -s "$T/logs/fmt-check-messy.out" ] || fail "fmt --check printed on stdout"
expect_exit fmt-messy 0 "$WARDEN" policy fmt "$T/messy.cedar"
cp "$T/logs/fmt-messy.out" "$T/expected.cedar"
for c in '// leading comment' '// about the first policy' '// trailing' '// the end'; do
    grep -qF -- "$c" "$T/expected.cedar" || fail "fmt dropped the comment '$c'"
done
grep -qE '^permit \(' "$T/expected.cedar" || fail "fmt did not lay the policy out: $(cat "$T/expected.cedar")"
ln -s messy.cedar "$T/link.cedar"
expect_exit fmt-write 0 "$WARDEN" policy fmt --write "$T/link.cedar"
has fmt-write out "^$T/link.cedar: formatted$"
[ -L "$T/link.cedar" ] || fail "fmt --write replaced the symlink with a file"
cmp -s "$T/messy.cedar" "$T/expected.cedar" || fail "fmt --write wrote something else than fmt prints"
[ "$(stat -c %a "$T/messy.cedar")" = 640 ] || fail "fmt --write changed the mode to $(stat -c %a "$T/messy.cedar")"
expect_exit fmt-check-after 0 "$WARDEN" policy fmt --check "$T/messy.cedar"
before=$(stat -c %Y "$T/messy.cedar")
sleep 1
expect_exit fmt-write-again 0 "$WARDEN" policy fmt --write "$T/messy.cedar"
[ ! -s "$T/logs/fmt-write-again.out" ] || fail "fmt --write rewrote a formatted file"
[ "$(stat -c %Y "$T/messy.cedar")" = "$before" ] || fail "fmt --write touched a formatted file"
# The formatted policies decide as the original ones did.
expect_exit fmt-eval 0 "$WARDEN" policy eval --policies "$T/messy.cedar" --entities "$E" \
    --request "$EX/requests/web-get-product.json"
has fmt-eval out '^\{"decision":"allow","reasons":\["policy0"\],"errors":\[\]\}$'

# A comment inside a policy cannot be kept: reported, and --write leaves the file alone.
printf 'permit (\n  principal, // who\n  action,\n  resource\n);\n' >"$T/inner.cedar"
sum=$(sha256sum <"$T/inner.cedar")
expect_exit fmt-inner 0 "$WARDEN" policy fmt "$T/inner.cedar"
has fmt-inner err "^$T/inner.cedar:2:14: warning: 1 comment inside a policy"
expect_exit fmt-inner-write 1 "$WARDEN" policy fmt --write "$T/inner.cedar"
has fmt-inner-write err "^$T/inner.cedar: not rewritten$"
[ "$(sha256sum <"$T/inner.cedar")" = "$sum" ] || fail "fmt --write changed a file with an inner comment"
expect_exit fmt-inner-check 1 "$WARDEN" policy fmt --check "$T/inner.cedar"

# Several files: each is handled, the status says whether all were fine.
expect_exit fmt-many 1 "$WARDEN" policy fmt --check "$P" "$T/syntax.cedar" "$T/messy.cedar"
has fmt-many err "^$T/syntax.cedar:2:[0-9]+: "
expect_exit fmt-both 2 "$WARDEN" policy fmt --check --write "$P"
expect_exit fmt-nofile 2 "$WARDEN" policy fmt
expect_exit fmt-missing 1 "$WARDEN" policy fmt "$T/nope.cedar"

pass
