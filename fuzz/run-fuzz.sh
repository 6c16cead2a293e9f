#!/bin/sh
# Fuzzes each target for a bounded time from its seed corpus; new inputs go to a scratch
# directory so the committed corpus only changes by hand. A crash fails the run and leaves
# the reproducer in build/fuzz/artifacts/. Usage: run-fuzz.sh BINDIR SECONDS TARGET...
set -u
dir=$1
secs=$2
shift 2
passed=0
failed=0
mkdir -p build/fuzz/artifacts
for t in "$@"; do
    scratch=$(mktemp -d)
    dict=""
    [ -f "fuzz/dict/$t.dict" ] && dict="-dict=fuzz/dict/$t.dict"
    # shellcheck disable=SC2086
    if "$dir/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=0 -artifact_prefix=build/fuzz/artifacts/"$t"- $dict \
        "$scratch" "fuzz/corpus/$t" >"build/fuzz/$t.log" 2>&1; then
        echo "fuzz $t: ok ($(grep -c 'NEW\|REDUCE' "build/fuzz/$t.log") new/reduced inputs in ${secs}s)"
        passed=$((passed + 1))
    else
        tail -n 40 "build/fuzz/$t.log"
        echo "fuzz $t: FAILED (see build/fuzz/$t.log and build/fuzz/artifacts/)"
        failed=$((failed + 1))
    fi
    rm -rf "$scratch"
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
