#!/bin/sh
# Runs every benchmark against a build directory (`make bench` passes build/release).
# Benchmarks are bounded in time, use loopback only, and are not tests: they report figures
# and fail only when they cannot run. Usage: bench/run-all.sh [BUILD_DIR]
set -u
cd "$(dirname "$0")/.." || exit 1
dir=${1:-build/release}
# Add a benchmark here (an executable script taking BUILD_DIR; each picks its interpreter).
BENCHES="bench/svid-issue bench/attest-snp bench/attest-sgx bench/cedar/run.sh bench/identity/run.sh"
status=0
for b in $BENCHES; do
    echo "== $b"
    "$b" "$dir" || status=1
done
# Benchmark programs without a script: run as they are.
PROGRAMS="detect_bench"
for p in $PROGRAMS; do
    echo "== $dir/bench/$p"
    "$dir/bench/$p" || status=1
done
exit "$status"
