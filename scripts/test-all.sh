#!/bin/sh
# The whole test suite (README's test command, `make test`): unit and integration tests
# under ASan+UBSan, every fuzz corpus replayed, then each fuzz target fuzzed briefly.
# Prints each stage's closing line and ends with "test: N passed, N failed".
#   WD_FUZZ_SECONDS  seconds per fuzz target (default 15, less when WD_FUZZ_BUDGET needs it;
#                    0 skips fuzzing)
#   WD_FUZZ_BUDGET   wall-clock seconds for the whole fuzz stage (default 300)
set -u
cd "$(dirname "$0")/.." || exit 1
JOBS=$(nproc 2>/dev/null || echo 2)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
total_p=0
total_f=0
mkdir -p build/logs

# stage NAME COMMAND...: runs the command, shows its output, adds its closing counts.
stage() {
    name=$1
    shift
    log=build/logs/$name.log
    echo "== $name: $*"
    "$@" >"$log" 2>&1
    rc=$?
    grep -E '^(ok |FAIL |[a-z0-9_ -]+: [0-9]+ passed, [0-9]+ failed|replay |fuzz |cedar)' "$log" \
        | grep -v '^ok ' || true
    line=$(grep -E '(^|: )[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    p=$(printf '%s\n' "$line" | sed -n 's/.*\b\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\1/p')
    f=$(printf '%s\n' "$line" | sed -n 's/.*\b\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\2/p')
    if [ -z "$p" ]; then
        tail -n 40 "$log"
        p=0
        f=1
    elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        tail -n 40 "$log"
        f=1
    fi
    total_p=$((total_p + p))
    total_f=$((total_f + f))
}

build() {
    make --no-print-directory -j"$JOBS" "$@" >build/logs/build.log 2>&1 || {
        tail -n 60 build/logs/build.log
        echo "test: $total_p passed, $((total_f + 1)) failed"
        exit 1
    }
}

build BUILD=asan all
stage unit make --no-print-directory BUILD=asan unit
stage replay make --no-print-directory BUILD=asan replay
stage integration make --no-print-directory BUILD=asan integration
for extra in tests/run-*.extra.sh; do
    [ -f "$extra" ] && stage "$(basename "$extra" .extra.sh)" sh "$extra" build/asan
done
# Each target fuzzes WD_FUZZ_SECONDS (15 by default); unless that is set explicitly, the
# whole stage is kept within WD_FUZZ_BUDGET seconds (default 300) of wall time by giving each
# target less (never under 5 s) when there are many targets. Targets run two at a time.
secs=${WD_FUZZ_SECONDS:-15}
if [ -z "${WD_FUZZ_SECONDS:-}" ]; then
    ntargets=$(find fuzz -maxdepth 1 -name 'fuzz_*.c' | wc -l)
    fuzz_jobs=$JOBS
    [ "$fuzz_jobs" -gt 2 ] && fuzz_jobs=2
    if [ "$ntargets" -gt 0 ]; then
        per=$((${WD_FUZZ_BUDGET:-300} * fuzz_jobs / ntargets))
        [ "$per" -lt 5 ] && per=5
        [ "$per" -lt "$secs" ] && secs=$per
    fi
fi
if [ "$secs" -gt 0 ]; then
    build fuzz
    stage fuzz make --no-print-directory fuzz-run T="$secs"
fi
echo "test: $total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
