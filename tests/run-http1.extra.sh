#!/bin/sh
# HTTP/1.1 parser against llhttp's test corpus (tests/data/http, see warden-stricter.txt).
# scripts/test-all.sh runs it as a stage: run-http1.extra.sh BUILD_DIR (e.g. build/asan).
# The closing line is "http1-corpus: N passed, N failed"; the exit status is non-zero on
# any failure.
set -u
cd "$(dirname "$0")/.." || exit 1
dir=${1:-build/asan}
bin=$dir/tools/http1_corpus
if [ ! -x "$bin" ]; then
    echo "http1-corpus: $bin is not built (make BUILD=$(basename "$dir") all)"
    echo "http1-corpus: 0 passed, 1 failed"
    exit 1
fi
${WD_TEST_WRAPPER:-} "$bin" tests/data/http
