#!/bin/sh
# Grep-based lint, run first in CI: banned functions, raw allocation outside lib/alloc.c,
# memcmp in secret-handling files, assert, // comments, and WD_MUST_USE on int-returning
# functions declared in include/warden/*.h. Then shellcheck on every shell script.
set -u
cd "$(dirname "$0")/.." || exit 1
status=0
fail() {
    echo "lint: $*"
    status=1
}

SRC=$(git ls-files '*.c' '*.h' | grep -v '^tests/data/')

# Strip string literals and /* */ comments crudely enough for grep to see only code.
code_of() {
    sed -e 's/"\([^"\\]\|\\.\)*"/""/g' "$1" | sed -e 's|/\*.*\*/||g'
}

BANNED='\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|strncpy|alloca|system|rand)[[:space:]]*\('
RAWALLOC='\b(malloc|calloc|realloc|free|strdup|strndup)[[:space:]]*\('
for f in $SRC; do
    code=$(code_of "$f")
    hits=$(printf '%s\n' "$code" | grep -nE "$BANNED" | grep -vE '(snprintf|vsnprintf|_sprintf|RAND_)' || true)
    [ -n "$hits" ] && fail "$f: banned function: $hits"
    if [ "$f" != lib/alloc.c ]; then
        hits=$(printf '%s\n' "$code" | grep -nE "$RAWALLOC" | grep -vE '(wd_|OPENSSL_|_free|_malloc)[a-z_]*\(' || true)
        [ -n "$hits" ] && fail "$f: raw allocation (use lib/alloc.c wrappers): $hits"
    fi
    hits=$(printf '%s\n' "$code" | grep -nE '\bassert[[:space:]]*\(' || true)
    [ -n "$hits" ] && fail "$f: assert (use WD_BUG_ON): $hits"
    hits=$(printf '%s\n' "$code" | grep -nE '(^|[^:])//' || true)
    [ -n "$hits" ] && fail "$f: // comment (use /* */): $hits"
    case "$f" in
    *key* | *secret* | *token* | *vault* | *broker*)
        hits=$(printf '%s\n' "$code" | grep -nE '\bmemcmp[[:space:]]*\(' || true)
        [ -n "$hits" ] && fail "$f: memcmp in a secret-handling file (use CRYPTO_memcmp): $hits"
        ;;
    esac
done

# Public functions returning int must be WD_MUST_USE (a declaration starting with "int "
# at column 0 and ending in ");" with no WD_MUST_USE before it).
for h in include/warden/*.h; do
    hits=$(grep -nE '^int [a-z_0-9]+\(' "$h" | grep -vE 'wd_diag_set|wd_doc_error|wd_log_level_parse|wd_alloc_injected' || true)
    [ -n "$hits" ] && fail "$h: int-returning function without WD_MUST_USE: $hits"
done

if command -v shellcheck >/dev/null 2>&1; then
    scripts=$(git ls-files '*.sh' .ci/run tests/cedar/run-corpus 2>/dev/null | sort -u)
    for s in $scripts; do
        [ -f "$s" ] || continue
        shellcheck -S warning "$s" || fail "shellcheck: $s"
    done
fi

[ "$status" -eq 0 ] && echo "lint: ok"
exit "$status"
