#!/bin/sh
# Fuzzes each target for a bounded time from its seed corpus; new inputs go to a scratch
# directory so the committed corpus only changes by hand. A crash fails the run and leaves
# the reproducer in build/fuzz/artifacts/. Targets run $WD_FUZZ_JOBS at a time (default: the
# number of CPUs, at most 2). Usage: run-fuzz.sh BINDIR SECONDS TARGET...
set -u

# One target: run-fuzz.sh --one BINDIR SECONDS TARGET writes its result line to
# build/fuzz/TARGET.result (the first word is "ok" or "FAILED").
if [ "${1:-}" = --one ]; then
    dir=$2
    secs=$3
    t=$4
    scratch=$(mktemp -d)
    dict=""
    [ -f "fuzz/dict/$t.dict" ] && dict="-dict=fuzz/dict/$t.dict"
    # shellcheck disable=SC2086
    if timeout $((secs + 120)) "$dir/fuzz_$t" -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 -max_len=65536 -print_final_stats=0 \
        -artifact_prefix=build/fuzz/artifacts/"$t"- $dict "$scratch" "fuzz/corpus/$t" \
        >"build/fuzz/$t.log" 2>&1; then
        echo "ok ($(grep -c 'NEW\|REDUCE' "build/fuzz/$t.log") new/reduced inputs in ${secs}s)" \
            >"build/fuzz/$t.result"
    else
        echo "FAILED (see build/fuzz/$t.log and build/fuzz/artifacts/)" >"build/fuzz/$t.result"
    fi
    rm -rf "$scratch"
    exit 0
fi

dir=$1
secs=$2
shift 2
jobs=${WD_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
[ -n "${WD_FUZZ_JOBS:-}" ] || [ "$jobs" -le 2 ] || jobs=2
passed=0
failed=0
mkdir -p build/fuzz/artifacts
for t in "$@"; do
    rm -f "build/fuzz/$t.result"
done
printf '%s\n' "$@" | xargs -P "$jobs" -I{} sh "$0" --one "$dir" "$secs" {}
for t in "$@"; do
    result=$(cat "build/fuzz/$t.result" 2>/dev/null || echo "FAILED (no result)")
    case $result in
    ok*)
        passed=$((passed + 1))
        ;;
    *)
        tail -n 40 "build/fuzz/$t.log" 2>/dev/null
        failed=$((failed + 1))
        ;;
    esac
    echo "fuzz $t: $result"
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
