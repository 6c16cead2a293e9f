# shellcheck shell=bash
# Shared helpers for tests/integration/NNN-*.sh (bash). Source it first:
#
#     . "$(dirname "$0")/lib.sh"
#
# It gives every test a private temp directory ($T), a cleanup trap that kills every process
# the test spawned and removes $T (kept when WD_KEEP_TMP=1), bounded waits, and helpers to
# read certificates. A test ends with `pass` (exit 0) or dies in `fail` (exit 1).
#
# Environment: WD_BIN is the directory with the warden programs (build/asan/bin under
# `make test`; build/debug/bin when unset). WD_TESTDATA is tests/data.

set -u
set -o pipefail

WD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WD_BIN=${WD_BIN:-$WD_ROOT/build/debug/bin}
WD_TESTDATA=${WD_TESTDATA:-$WD_ROOT/tests/data}
WARDEN=$WD_BIN/warden
TEST_NAME=$(basename "$0" .sh)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

T=$(mktemp -d "${TMPDIR:-/tmp}/wd-$TEST_NAME.XXXXXX") || {
    echo "$TEST_NAME: cannot create a temp dir" >&2
    exit 1
}
mkdir -p "$T/logs"
WD_PIDS=()

wd_cleanup() {
    local rc=$? pid _
    trap - EXIT INT TERM
    for pid in "${WD_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    # Give them a second to go, then make sure.
    for pid in "${WD_PIDS[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [ "${WD_KEEP_TMP:-0}" = 1 ]; then
        echo "$TEST_NAME: kept $T" >&2
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap wd_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# log MSG...: a progress line on stderr (shown by run-integration.sh when a test fails).
log() {
    echo "[$TEST_NAME] $*" >&2
}

# fail MSG...: report and end the test with status 1 (the trap cleans up).
fail() {
    echo "[$TEST_NAME] FAIL: $*" >&2
    exit 1
}

# pass: end the test with status 0.
pass() {
    echo "[$TEST_NAME] pass"
    exit 0
}

# need CMD...: fail unless every command exists (the tests need real peers, not skips).
need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || fail "required program '$c' not found (run scripts/install-deps.sh)"
    done
}

# need_warden: fail unless the warden CLI has been built.
need_warden() {
    [ -x "$WARDEN" ] || fail "no warden CLI at $WARDEN (build it, or set WD_BIN)"
}

# spawn NAME CMD...: start CMD in the background with stdout+stderr in $T/logs/NAME.log
# and stdin from $SPAWN_STDIN (default /dev/null); remember its pid for the cleanup trap.
# The pid is in $SPAWNED.
spawn() {
    local name=$1
    shift
    "$@" <"${SPAWN_STDIN:-/dev/null}" >"$T/logs/$name.log" 2>&1 &
    SPAWNED=$!
    WD_PIDS+=("$SPAWNED")
}

# stop PID: terminate a spawned process now and reap it (bounded: SIGKILL after 2 s).
stop() {
    local pid=$1 _
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 20); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

# wait_exit PID SECS: wait for a spawned process to end by itself within SECS seconds; the
# exit status is in $EXIT_STATUS. Returns 1 (and kills it) on timeout.
wait_exit() {
    local pid=$1 secs=$2 _
    for _ in $(seq $((secs * 10))); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            EXIT_STATUS=$?
            return 0
        fi
        sleep 0.1
    done
    stop "$pid"
    EXIT_STATUS=124
    return 1
}

# free_port: print a TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it).
free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# wait_port PORT [SECS]: wait until something accepts TCP connections on 127.0.0.1:PORT,
# at most SECS seconds (default 10). Returns 1 on timeout. Do not use it against a server
# that accepts only one connection: the probe would take it (use wait_log instead).
wait_port() {
    local port=$1 secs=${2:-10} _
    for _ in $(seq $((secs * 10))); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# wait_log FILE REGEX [SECS]: wait until FILE has a line matching REGEX (grep -E), at most
# SECS seconds (default 10). Returns 1 on timeout.
wait_log() {
    local file=$1 re=$2 secs=${3:-10} _
    for _ in $(seq $((secs * 10))); do
        if [ -f "$file" ] && grep -qE "$re" "$file"; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# run_ok NAME CMD...: run CMD (bounded to 60 s) with output in $T/logs/NAME.log; fail the
# test, showing the output, unless it exits 0.
run_ok() {
    local name=$1
    shift
    if ! timeout 60 "$@" >"$T/logs/$name.log" 2>&1; then
        sed 's/^/    /' "$T/logs/$name.log" >&2
        fail "$name: '$*' failed"
    fi
}

# run_fails NAME CMD...: run CMD (bounded to 60 s) with stdout in $T/logs/NAME.out and
# stderr in $T/logs/NAME.err; fail the test if it exits 0 or crashes (status >= 124:
# timeout, signal, or a sanitizer abort). The status is in $EXIT_STATUS.
run_fails() {
    local name=$1
    shift
    timeout 60 "$@" >"$T/logs/$name.out" 2>"$T/logs/$name.err"
    EXIT_STATUS=$?
    if [ "$EXIT_STATUS" -eq 0 ]; then
        fail "$name: '$*' succeeded but must fail"
    fi
    if [ "$EXIT_STATUS" -ge 124 ]; then
        sed 's/^/    /' "$T/logs/$name.err" >&2
        fail "$name: '$*' crashed or hung (status $EXIT_STATUS)"
    fi
}

# --- certificates ---------------------------------------------------------------------

# uri_sans CERT: print every URI SAN of the first certificate in CERT, one per line.
uri_sans() {
    openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null \
        | tr ',' '\n' | sed -n 's/^[[:space:]]*URI://p'
}

# spiffe_id_of CERT: print the single URI SAN of CERT; fail unless there is exactly one.
spiffe_id_of() {
    local ids n
    ids=$(uri_sans "$1")
    n=$(printf '%s' "$ids" | grep -c .)
    [ "$n" -eq 1 ] || fail "$1: expected exactly one URI SAN, found $n"
    printf '%s\n' "$ids"
}

# first_pem_cert FILE OUT: write the first "BEGIN CERTIFICATE" block of FILE (e.g. the peer
# certificate openssl s_server/s_client printed in a log) to OUT. Returns 1 if there is none.
first_pem_cert() {
    sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/{p;/-----END CERTIFICATE-----/q}' \
        "$1" >"$2"
    [ -s "$2" ]
}

# split_chain FILE LEAF REST: first certificate of FILE to LEAF, the others to REST.
split_chain() {
    awk -v leaf="$2" -v rest="$3" '
        /-----BEGIN CERTIFICATE-----/ { n++ }
        n == 1 { print > leaf }
        n > 1 { print > rest }
    ' "$1"
    [ -s "$2" ] || fail "split_chain: no certificate in $1"
    [ -f "$3" ] || : >"$3"
}

# ossl_ca TD DIR: an independent CA made with openssl alone (P-256 root + intermediate)
# in DIR, laid out like `warden ca init` (root.pem root.key intermediate.pem
# intermediate.key bundle.pem). For "another CA" cases, never trusted by warden's bundles.
ossl_ca() {
    local td=$1 dir=$2
    mkdir -p "$dir"
    openssl ecparam -name prime256v1 -genkey -noout -out "$dir/root.key" 2>/dev/null || return 1
    openssl req -x509 -new -key "$dir/root.key" -sha256 -days 2 -subj "/O=$td/CN=root" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectAltName=URI:spiffe://$td" -out "$dir/root.pem" 2>/dev/null || return 1
    openssl ecparam -name prime256v1 -genkey -noout -out "$dir/intermediate.key" 2>/dev/null \
        || return 1
    openssl req -new -key "$dir/intermediate.key" -subj "/O=$td/CN=intermediate" \
        -out "$dir/intermediate.csr" 2>/dev/null || return 1
    printf '%s\n' "basicConstraints=critical,CA:TRUE,pathlen:0" \
        "keyUsage=critical,keyCertSign,cRLSign" "subjectAltName=URI:spiffe://$td" \
        >"$dir/intermediate.ext"
    openssl x509 -req -in "$dir/intermediate.csr" -CA "$dir/root.pem" -CAkey "$dir/root.key" \
        -CAcreateserial -days 2 -sha256 -extfile "$dir/intermediate.ext" \
        -out "$dir/intermediate.pem" 2>/dev/null || return 1
    cp "$dir/root.pem" "$dir/bundle.pem"
}

# ossl_svid CADIR SPIFFE_ID OUTDIR [KEYALG]: an X.509-SVID-shaped leaf (KEYALG ec, the
# default, or rsa) signed by an ossl_ca intermediate, laid out like `warden cert issue`.
ossl_svid() {
    local ca=$1 id=$2 out=$3 alg=${4:-ec}
    mkdir -p "$out"
    if [ "$alg" = rsa ]; then
        openssl genrsa -out "$out/svid.key" 2048 2>/dev/null || return 1
    else
        openssl ecparam -name prime256v1 -genkey -noout -out "$out/svid.key" 2>/dev/null \
            || return 1
    fi
    openssl req -new -key "$out/svid.key" -subj "/O=SPIFFE" -out "$out/svid.csr" 2>/dev/null \
        || return 1
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=URI:$id" >"$out/svid.ext"
    openssl x509 -req -in "$out/svid.csr" -CA "$ca/intermediate.pem" \
        -CAkey "$ca/intermediate.key" -CAcreateserial -days 1 -sha256 \
        -extfile "$out/svid.ext" -out "$out/leaf.pem" 2>/dev/null || return 1
    cat "$out/leaf.pem" "$ca/intermediate.pem" >"$out/svid.pem"
    cp "$ca/bundle.pem" "$out/bundle.pem"
}

# --- warden ---------------------------------------------------------------------------

# ca_init TD DIR: `warden ca init`, failing the test on error or a missing output file.
ca_init() {
    local f
    run_ok "ca-init-$1" "$WARDEN" ca init --trust-domain "$1" --dir "$2"
    for f in root.pem root.key intermediate.pem intermediate.key bundle.pem bundle.json \
        ca.json; do
        [ -s "$2/$f" ] || fail "warden ca init did not write $2/$f"
    done
}

# issue CADIR SPIFFE_ID OUTDIR [ARGS...]: `warden cert issue`, failing the test on error or
# a missing output file.
issue() {
    local ca=$1 id=$2 out=$3 f
    shift 3
    run_ok "issue-$(basename "$out")" "$WARDEN" cert issue --ca "$ca" --spiffe-id "$id" \
        --out "$out" "$@"
    for f in svid.pem svid.key bundle.pem; do
        [ -s "$out/$f" ] || fail "warden cert issue did not write $out/$f"
    done
}

# --- swtpm ----------------------------------------------------------------------------

# free_port_pair: print a TCP port P on 127.0.0.1 such that P and P+1 were both free a
# moment ago (swtpm's data and control ports; the swtpm TCTI talks to both).
free_port_pair() {
    python3 -c 'import socket
for _ in range(50):
    a = socket.socket()
    a.bind(("127.0.0.1", 0))
    p = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1))
    except OSError:
        a.close()
        continue
    a.close()
    b.close()
    print(p)
    break'
}

# swtpm_manufacture DIR: a TPM 2.0 state in DIR/state manufactured by swtpm_setup: SHA-256
# PCR bank, RSA 2048 and ECC P-256 EKs whose certificates (in NV 0x01c00002 and 0x01c0000a)
# come from a private swtpm-localca CA kept in DIR/ca. DIR/cadir gets that CA's root and
# intermediate certificates (a directory wd_tpm_ca_store_load reads). Returns 1 on error.
swtpm_manufacture() {
    local d=$1
    mkdir -p "$d/ca" "$d/state" "$d/cadir" || return 1
    cat >"$d/localca.conf" <<EOC
statedir = $d/ca
signingkey = $d/ca/signkey.pem
issuercert = $d/ca/issuercert.pem
certserial = $d/ca/certserial
EOC
    printf '%s\n' '--platform-manufacturer warden' '--platform-version 2.1' \
        '--platform-model test' >"$d/localca.options"
    cat >"$d/swtpm_setup.conf" <<EOC
create_certs_tool = $(command -v swtpm_localca)
create_certs_tool_config = $d/localca.conf
create_certs_tool_options = $d/localca.options
active_pcr_banks = sha256
EOC
    timeout 60 swtpm_setup --tpm2 --tpmstate "$d/state" --create-ek-cert \
        --create-platform-cert --config "$d/swtpm_setup.conf" --overwrite \
        >"$T/logs/swtpm_setup.log" 2>&1 || return 1
    cp "$d/ca/swtpm-localca-rootca-cert.pem" "$d/ca/issuercert.pem" "$d/cadir/" || return 1
    [ -s "$d/cadir/issuercert.pem" ]
}

# swtpm_start DIR: start swtpm on the state in DIR/state (swtpm_manufacture) on a free
# pair of ports P (TPM commands) and P+1 (control), already started (TPM2_Startup(CLEAR)),
# killed by the cleanup trap. Waits (at most 10 s) until it answers TPM2_GetRandom.
# Sets SWTPM_PORT, SWTPM_PID and SWTPM_TCTI ("swtpm:host=127.0.0.1,port=P", the tpm2-tss
# TCTI string). Returns 1 if it does not come up.
swtpm_start() {
    local d=$1 _
    SWTPM_PORT=$(free_port_pair)
    [ -n "$SWTPM_PORT" ] || return 1
    spawn "swtpm-$SWTPM_PORT" swtpm socket --tpm2 --server "type=tcp,port=$SWTPM_PORT" \
        --ctrl "type=tcp,port=$((SWTPM_PORT + 1))" --tpmstate "dir=$d/state" \
        --flags not-need-init,startup-clear
    SWTPM_PID=$SPAWNED
    SWTPM_TCTI="swtpm:host=127.0.0.1,port=$SWTPM_PORT"
    for _ in $(seq 100); do
        if timeout 10 tpm2_getrandom -T "$SWTPM_TCTI" 4 >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$SWTPM_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# --- PostgreSQL -----------------------------------------------------------------------

# pg_up: a private PostgreSQL server for this test: initdb in $T/pg (as the postgres user
# when running as root: the server refuses root), a server on 127.0.0.1 on a free port with
# a private socket directory, and an empty database "wd". Sets PGBIN, PG_PORT and PG_URL
# (postgresql://postgres@127.0.0.1:PORT/wd). The server is stopped (-m immediate) on exit,
# before the cleanup trap removes $T. Fails the test on error.
pg_up() {
    PGBIN=$(find /usr/lib/postgresql -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] \
        || fail "PostgreSQL server binaries not found under /usr/lib/postgresql (run scripts/install-deps.sh)"
    WD_PG=$T/pg
    mkdir -p "$WD_PG/sock"
    WD_PG_AS=()
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || fail "running as root but there is no postgres user"
        chmod 711 "$T"
        chown -R postgres: "$WD_PG"
        WD_PG_AS=(runuser -u postgres --)
    fi
    trap wd_pg_exit EXIT
    run_ok pg-initdb "${WD_PG_AS[@]}" "$PGBIN/initdb" -D "$WD_PG/data" -U postgres --auth=trust \
        -E UTF8 --locale=C.UTF-8 --no-sync
    PG_PORT=$(free_port)
    run_ok pg-ctl "${WD_PG_AS[@]}" "$PGBIN/pg_ctl" -D "$WD_PG/data" -l "$WD_PG/server.log" -w \
        -t 30 -o "-h 127.0.0.1 -p $PG_PORT -k $WD_PG/sock" start
    run_ok pg-createdb "$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres wd
    # shellcheck disable=SC2034 # for the caller
    PG_URL=postgresql://postgres@127.0.0.1:$PG_PORT/wd
}

# pg_sql SQL: run SQL on pg_up's database; prints rows unaligned, no headers.
pg_sql() {
    psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d wd -c "$1"
}

# The EXIT trap pg_up installs: stop the server, then the usual cleanup (status kept).
wd_pg_exit() {
    local rc=$?
    if [ -f "$WD_PG/data/postmaster.pid" ]; then
        "${WD_PG_AS[@]}" "$PGBIN/pg_ctl" -D "$WD_PG/data" -m immediate -w stop >/dev/null 2>&1
    fi
    (exit "$rc")
    wd_cleanup
}
