#!/bin/sh
# Runs every unit-test binary given on the command line (optionally through a wrapper such
# as qemu-aarch64, from $WD_TEST_WRAPPER), and adds up their closing lines. Each binary gets
# at most $WD_TEST_TIMEOUT seconds (default 900); a hung one counts as one failure.
set -u
passed=0
failed=0
for t in "$@"; do
    # shellcheck disable=SC2086
    out=$(timeout "${WD_TEST_TIMEOUT:-900}" ${WD_TEST_WRAPPER:-} "$t" 2>&1)
    rc=$?
    last=$(printf '%s\n' "$out" | tail -n 1)
    p=$(printf '%s\n' "$last" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(printf '%s\n' "$last" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    if [ -z "$p" ]; then
        # A binary that died before its closing line counts as one failure.
        printf '%s\n' "$out" | tail -n 20
        echo "$(basename "$t"): crashed (exit $rc)"
        failed=$((failed + 1))
        continue
    fi
    if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
        printf '%s\n' "$out" | grep -v '^ok ' | tail -n 40
        [ "$f" -eq 0 ] && f=1
    fi
    echo "$(basename "$t"): $p passed, $f failed"
    passed=$((passed + p))
    failed=$((failed + f))
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
