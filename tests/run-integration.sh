#!/bin/sh
# Runs every tests/integration/NNN-*.sh with WD_BIN (programs) and WD_TOOLS (test tools)
# set; each exits 0 (pass) or non-zero (fail). Prints "integration: N passed, N failed".
set -u
: "${WD_BIN:?WD_BIN must name the directory with the warden programs}"
export WD_BIN WD_TOOLS
export WD_TESTDATA
WD_TESTDATA=$(cd "$(dirname "$0")/data" && pwd)
passed=0
failed=0
for t in "$(dirname "$0")"/integration/[0-9]*.sh; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .sh)
    start=$(date +%s)
    if out=$(timeout 600 bash "$t" 2>&1); then
        echo "ok $name ($(($(date +%s) - start))s)"
        passed=$((passed + 1))
    else
        printf '%s\n' "$out" | tail -n 40
        echo "FAIL $name"
        failed=$((failed + 1))
    fi
done
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
