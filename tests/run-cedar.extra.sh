#!/bin/sh
# Cedar conformance: Cedar's generated corpus (7,809 test files) and its hand-written
# integration tests through warden's parser, validator, entity loader and authorizer
# (tests/cedar/run-corpus, tests/tools/cedar_corpus.c).
# scripts/test-all.sh runs it as a stage: run-cedar.extra.sh BUILD_DIR (e.g. build/asan).
# The closing line is "cedar-corpus: N passed, N failed"; the exit status is non-zero on
# any failure.
set -u
cd "$(dirname "$0")/.." || exit 1
dir=${1:-build/asan}
if [ ! -d "$dir" ]; then
    echo "cedar-corpus: no build directory $dir (make BUILD=$(basename "$dir") all)"
    echo "cedar-corpus: 0 passed, 1 failed"
    exit 1
fi
exec sh tests/cedar/run-corpus "$dir"
