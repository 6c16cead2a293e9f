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

# Tracked files plus new ones not yet added (so a helper's fresh file is linted too).
SRC=$(git ls-files --cached --others --exclude-standard '*.c' '*.h' | grep -v '^tests/data/' | sort -u)

# A copy of every file with string and character literals emptied and /* */ comments
# (also those over several lines) blanked, line numbers kept, so grep sees only code and
# // comments.
STRIPPED=$(mktemp -d)
trap 'rm -rf "$STRIPPED"' EXIT
# shellcheck disable=SC2086
python3 - "$STRIPPED" $SRC <<'EOF' || exit 1
import os, sys
out = sys.argv[1]
for path in sys.argv[2:]:
    try:
        src = open(path, encoding="utf-8", errors="replace").read()
    except OSError as e:
        sys.exit(f"lint: {path}: {e}")
    res, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            res.append("".join(ch if ch == "\n" else " " for ch in src[i:j]))
            i = j
        elif src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            res.append(src[i:j])
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and src[j] != c and src[j] != "\n":
                j += 2 if src[j] == "\\" else 1
            res.append(c + c)
            i = j + 1
        else:
            res.append(c)
            i += 1
    dst = os.path.join(out, path)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    open(dst, "w").write("".join(res))
EOF
code_of() {
    cat "$STRIPPED/$1"
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
    scripts=$(git ls-files --cached --others --exclude-standard '*.sh' .ci/run bench/svid-issue bench/attest-snp \
        tests/cedar/run-corpus 2>/dev/null | sort -u)
    for s in $scripts; do
        [ -f "$s" ] || continue
        shellcheck -S warning "$s" || fail "shellcheck: $s"
    done
fi

[ "$status" -eq 0 ] && echo "lint: ok"
exit "$status"
