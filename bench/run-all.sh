#!/bin/sh
# Runs every benchmark against a build directory (`make bench` passes build/release).
# Benchmarks are bounded in time, use loopback only, and are not tests: they report figures
# and fail only when they cannot run. Usage: bench/run-all.sh [BUILD_DIR]
set -u
cd "$(dirname "$0")/.." || exit 1
dir=${1:-build/release}
# Add a benchmark here (an executable script taking BUILD_DIR).
BENCHES="bench/svid-issue bench/attest-snp bench/cedar/run.sh"
status=0
for b in $BENCHES; do
    echo "== $b"
    sh "$b" "$dir" || status=1
done
exit "$status"
