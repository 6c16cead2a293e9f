#!/bin/sh
# Replays fuzz/corpus/<target>/ (and fuzz/regressions/<target>/, past crashes) through each
# replay binary. Usage: run-replay.sh BINDIR TARGET...
set -u
dir=$1
shift
passed=0
failed=0
for t in "$@"; do
    set -- "fuzz/corpus/$t"
    [ -d "fuzz/regressions/$t" ] && set -- "$@" "fuzz/regressions/$t"
    if [ ! -d "fuzz/corpus/$t" ] || [ -z "$(ls "fuzz/corpus/$t")" ]; then
        echo "replay $t: no seed corpus in fuzz/corpus/$t"
        failed=$((failed + 1))
        continue
    fi
    # shellcheck disable=SC2086
    if out=$(timeout "${WD_TEST_TIMEOUT:-900}" ${WD_TEST_WRAPPER:-} "$dir/replay_$t" "$@" 2>&1); then
        echo "replay $t: $out"
        passed=$((passed + 1))
    else
        printf '%s\n' "$out" | tail -n 30
        echo "replay $t: FAILED"
        failed=$((failed + 1))
    fi
done
echo "replay: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
