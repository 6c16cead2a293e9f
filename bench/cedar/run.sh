#!/bin/sh
# bench/cedar/run.sh: Cedar authorization, warden next to the reference implementation
# (@cedar-policy/cedar-wasm), in-process on both sides, on the same files in the same run:
#   - the synthetic service-mesh sets mesh-10 ... mesh-10000 (bench/cedar_bench.c `gen`:
#     Workload principals and resources in apps and groups, http:* / tcp:connect actions,
#     conditions on context.route, params, claims, body size, labels; 4 unscoped forbids;
#     1,000 requests per set; cedar-wasm, whose cost grows with the number of policies,
#     decides only the first 1,000 / 1,000 / 200 / 50 of them to stay within the time
#     bound, and its decisions on those are checked against warden's);
#   - Cedar's conformance corpus (every 4th test file: ~1,950 policy sets, ~15,600 requests).
# For each: median and p99 µs per decision, decisions per second on one core, memory per
# policy, and the warden / cedar-wasm ratios; then a callgrind count of instructions per
# decision for warden (the stable figure: wall-clock numbers move with the machine's load).
# Not a test: it fails only when it cannot run (or the engines' decisions differ). Bounded:
# about 2-3 minutes on an idle 2-core machine.
#
# Usage: bench/cedar/run.sh [BUILD_DIR] [SECONDS]   (defaults: build/release, 2 per set and
#        engine). cedar-wasm is found with CEDAR_WASM=DIR (DIR/node_modules/@cedar-policy/
#        cedar-wasm, from `npm install @cedar-policy/cedar-wasm` in DIR) or NODE_PATH; without
#        it (or without node) only warden's figures are printed.
set -u
cd "$(dirname "$0")/../.." || exit 1
dir=${1:-build/release}
secs=${2:-2}
prog=$dir/bench/cedar_bench
data=build/bench-cedar
corpus=build/cedar-corpus

if [ "$dir" = build/release ]; then
    log=$(make --no-print-directory -j2 BUILD=release "$prog" 2>&1) || {
        printf '%s\n' "$log" | tail -n 30 >&2
        echo "cedar-bench: build failed (make BUILD=release $prog)" >&2
        exit 1
    }
fi
[ -x "$prog" ] || {
    echo "cedar-bench: no $prog (build it with: make BUILD=release all)" >&2
    exit 1
}
mkdir -p "$data" || exit 1
"$prog" gen "$data" || {
    echo "cedar-bench: cannot generate the mesh sets" >&2
    exit 1
}
# The corpus, extracted as tests/cedar/run-corpus does.
if [ ! -f "$corpus/.extracted" ]; then
    rm -rf "$corpus"
    mkdir -p "$corpus" && tar -xzf tests/data/cedar/corpus-tests.tar.gz -C "$corpus" \
        && touch "$corpus/.extracted" || {
        echo "cedar-bench: cannot extract the corpus" >&2
        exit 1
    }
fi

wasm=0
if command -v node >/dev/null 2>&1 && node bench/cedar/wasm.cjs --check 2>/dev/null; then
    wasm=1
else
    echo "cedar-bench: cedar-wasm not available (set CEDAR_WASM=DIR, see the header of this"
    echo "  script); printing warden's figures only"
fi

# field LINE KEY: the value of KEY=... in a result line.
field() {
    printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

status=0
printf '%-11s %8s | %-31s | %-31s | %s\n' "" "" "warden (µs, decisions/s, B/pol)" \
    "cedar-wasm (µs, decisions/s, B/pol)" "warden / cedar-wasm"
printf '%-11s %8s | %7s %7s %9s %6s | %7s %7s %9s %6s | %7s %7s\n' set policies median p99 \
    rate mem median p99 rate mem speed median
# run NAME WARDEN_ARGS -- WASM_ARGS -- SELECT_ARGS -- ROOT PATH...
# warden's figures come from WARDEN_ARGS, cedar-wasm's from WASM_ARGS plus SELECT_ARGS (which
# files and requests it decides); the decisions of both are compared on that selection
# (one more warden pass with SELECT_ARGS).
run() {
    name=$1
    shift
    wa=""
    while [ "$1" != -- ]; do
        wa="$wa $1"
        shift
    done
    shift
    ja=""
    while [ "$1" != -- ]; do
        ja="$ja $1"
        shift
    done
    shift
    sa=""
    while [ "$1" != -- ]; do
        sa="$sa $1"
        shift
    done
    shift
    # shellcheck disable=SC2086
    w=$("$prog" run $wa "$name" "$@") || {
        echo "cedar-bench: $prog run $name failed" >&2
        status=1
        return
    }
    r=""
    if [ "$wasm" = 1 ]; then
        # shellcheck disable=SC2086
        r=$(node bench/cedar/wasm.cjs $ja $sa "$name" "$@") || {
            echo "cedar-bench: bench/cedar/wasm.cjs $name failed" >&2
            r=""
        }
        # shellcheck disable=SC2086
        a=$("$prog" run --reps 1 --samples 0 $sa "$name" "$@") || a=""
        results="$results
$a"
        [ -n "$r" ] && results="$results
$r"
    fi
    wm=$(field "$w" median_us)
    wp=$(field "$w" p99_us)
    wr=$(field "$w" rate)
    wh=$(field "$w" heap_per_policy)
    if [ -n "$r" ]; then
        rm_=$(field "$r" median_us)
        rp=$(field "$r" p99_us)
        rr=$(field "$r" rate)
        rh=$(field "$r" mem_per_policy)
        ratio=$(awk -v a="$wr" -v b="$rr" 'BEGIN { printf "%.0fx", a / b }')
        mratio=$(awk -v a="$rm_" -v b="$wm" 'BEGIN { printf "%.0fx", a / b }')
    else
        rm_=- rp=- rr=- rh=- ratio=- mratio=-
    fi
    printf '%-11s %8s | %7s %7s %9s %6s | %7s %7s %9s %6s | %7s %7s\n' "$name" \
        "$(field "$w" policies)" "$wm" "$wp" "$wr" "$wh" "$rm_" "$rp" "$rr" "$rh" "$ratio" "$mratio"
}

results=""
for nq in 10:1000 100:1000 1000:200 10000:50; do
    n=${nq%:*}
    q=${nq#*:}
    run "mesh-$n" --seconds "$secs" -- --seconds "$secs" --reps 1 --slice --mem -- \
        --requests "$q" -- "$data" "mesh-$n.json"
done
run corpus --every 4 --reps 20 -- --reps 1 --samples 0 -- --every 4 -- "$corpus" corpus-tests

echo
[ "$wasm" = 1 ] \
    && echo "Decisions on cedar-wasm's selection (both engines must agree; corpus: against the" \
    && echo "expected ones):"
printf '%s\n' "$results" | sed -n 's/^\(cedar_[a-z]*\): set=\([^ ]*\) .* allow=\([0-9]*\) deny=\([0-9]*\) reasons=\([0-9]*\) errors=\([0-9]*\) expected=\([0-9/]*\).*/  \2 \1: allow \3, deny \4, reasons \5, errors \6, expected \7/p'
printf '%s\n' "$results" | grep -o 'set=[^ ]* .*failed=[1-9][0-9]*' | sed 's/^set=\([^ ]*\) .*failed=\([0-9]*\).*/  \1 cedar-wasm refused \2 requests/'
for n in 10 100 1000 10000; do
    a=$(printf '%s\n' "$results" | grep "^cedar_bench: set=mesh-$n " | grep -o 'allow=.* errors=[0-9]*')
    b=$(printf '%s\n' "$results" | grep "^cedar_wasm: set=mesh-$n " | grep -o 'allow=.* errors=[0-9]*')
    if [ -n "$b" ] && [ "$a" != "$b" ]; then
        echo "  mesh-$n: THE ENGINES DISAGREE ($a vs $b)"
        status=1
    fi
done

echo
if command -v valgrind >/dev/null 2>&1; then
    echo "Instructions per decision (warden, callgrind, inside wd_cedar_authorize):"
    cg=$(mktemp)
    for n in 10 100 1000 10000; do
        out=$(valgrind --tool=callgrind --toggle-collect=wd_cedar_authorize \
            --callgrind-out-file="$cg" "$prog" run --count 20000 "mesh-$n" "$data" \
            "mesh-$n.json" 2>/dev/null) || {
            echo "  mesh-$n: callgrind run failed"
            continue
        }
        calls=$(field "$out" calls)
        ir=$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$cg")
        awk -v n="mesh-$n" -v ir="$ir" -v c="$calls" \
            'BEGIN { printf "  %-11s %9.0f instructions per decision (%d decisions)\n", n, ir / c, c }'
    done
    rm -f "$cg"
else
    echo "(valgrind not installed: no instruction counts)"
fi
exit "$status"
