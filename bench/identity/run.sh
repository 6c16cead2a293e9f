#!/usr/bin/env bash
# bench/identity: warden-control's identity service on loopback, measured through its REST API
# with tests/tools/control_load (see its header comment; built to build/release/tools):
#
#   1. SVIDs issued and persisted per second with concurrent mTLS clients (each a keep-alive
#      connection posting /v1/node/svids), with the SQLite store and with PostgreSQL (a
#      private server this script starts). An SVID counts only once its answer arrived, and
#      the control plane answers only after the SVID's record is committed.
#   2. The full TPM attestation round (begin: EK/AK checks + MakeCredential + nonce;
#      ActivateCredential + TPM2_Quote on swtpm; finish: quote verification + node SVID),
#      p50/p99 over ROUNDS rounds.
#
# Goals (issue 4): >= 2,000 SVIDs/s with SQLite; attestation round <= 50 ms at p50. Not a test:
# it never fails on a missed goal, only on errors.
#
# Usage: bench/identity/run.sh [BUILD_DIR] [SECONDS] [ROUNDS]   (defaults build/release, 5
# and 50). BUILD_DIR build/<type> is (re)built first: bins and tools/control_load.
set -u
set -o pipefail
cd "$(dirname "$0")/../.." || exit 1
B=build/release
if [ $# -gt 0 ] && [ -d "$1" ]; then
    B=${1%/}
    shift
fi
SECS=${1:-5}
ROUNDS=${2:-50}

LOAD=$B/tools/control_load
log=$(make --no-print-directory -j2 BUILD="$(basename "$B")" bins "$LOAD" 2>&1) || {
    printf '%s\n' "$log" | tail -n 30 >&2
    echo "identity: build failed" >&2
    exit 1
}
for t in curl swtpm swtpm_setup swtpm_localca python3; do
    command -v "$t" >/dev/null || {
        echo "identity: $t is missing (scripts/install-deps.sh)" >&2
        exit 1
    }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/wd-bench-identity.XXXXXX") || exit 1
PIDS=()
PG=
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    if [ -n "$PG" ] && [ -f "$PG/data/postmaster.pid" ]; then
        "${AS[@]}" "$PGBIN/pg_ctl" -D "$PG/data" -m immediate -w stop >/dev/null 2>&1
    fi
    rm -rf "$T"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_control NAME STORE_URL [CONFIG]: init a trust domain in $T/NAME (CONFIG appended to
# its control.yaml) and run warden-control on it.
start_control() {
    local name=$1 store=$2 port
    port=$(free_port)
    "$B/bin/warden-control" init --dir "$T/$name" --trust-domain bench.example --store "$store" \
        >"$T/$name.init.log" 2>&1 || {
        cat "$T/$name.init.log" >&2
        exit 1
    }
    [ -z "${3:-}" ] || printf '%s\n' "$3" >>"$T/$name/control.yaml"
    "$B/bin/warden-control" run --dir "$T/$name" --store "$store" --listen "127.0.0.1:$port" \
        >"$T/$name.log" 2>&1 &
    PIDS+=($!)
    CTL_PID=$!
    URL=https://127.0.0.1:$port
    for _ in $(seq 100); do
        curl -sfk "$URL/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "identity: warden-control ($name) did not come up:" >&2
    tail -n 20 "$T/$name.log" >&2
    exit 1
}

# cpu_ticks PID: user + system CPU time of PID so far, in clock ticks.
cpu_ticks() {
    awk '{print $14 + $15}' "/proc/$1/stat"
}

# issue_runs NAME: the issuance runs against the control plane just started; each line gets
# the server's CPU time per SVID (server_cpu_us), which the load of other processes on the
# machine does not inflate the way it does wall-clock rates.
issue_runs() {
    local name=$1 c0 c1 out svids hz
    hz=$(getconf CLK_TCK)
    for threads in 4 16; do
        for batch in 1 20 100; do
            c0=$(cpu_ticks "$CTL_PID")
            out=$("$LOAD" issue "$URL" "$T/$name" "n-$threads-$batch" "$threads" "$SECS" \
                "$batch" 50) || exit 1
            c1=$(cpu_ticks "$CTL_PID")
            svids=$(printf '%s' "$out" | sed -n 's/.* svids=\([0-9]*\) .*/\1/p')
            printf '%s server_cpu_us=%s\n' "$out" \
                "$(((c1 - c0) * 1000000 / hz / (svids > 0 ? svids : 1)))"
        done
    done
}

# A swtpm manufactured like tests/integration/lib.sh's swtpm_manufacture: EK certificates
# from a private swtpm-localca CA, whose certificates the control plane gets as tpm.ek_ca_dir.
manufacture_tpm() {
    local d=$T/tpm
    mkdir -p "$d/ca" "$d/state" "$d/cadir" || exit 1
    printf '%s\n' "statedir = $d/ca" "signingkey = $d/ca/signkey.pem" \
        "issuercert = $d/ca/issuercert.pem" "certserial = $d/ca/certserial" >"$d/localca.conf"
    printf '%s\n' '--platform-manufacturer warden' '--platform-version 2.1' \
        '--platform-model bench' >"$d/localca.options"
    printf '%s\n' "create_certs_tool = $(command -v swtpm_localca)" \
        "create_certs_tool_config = $d/localca.conf" \
        "create_certs_tool_options = $d/localca.options" "active_pcr_banks = sha256" \
        >"$d/swtpm_setup.conf"
    swtpm_setup --tpm2 --tpmstate "$d/state" --create-ek-cert --create-platform-cert \
        --config "$d/swtpm_setup.conf" --overwrite >"$T/swtpm_setup.log" 2>&1 || {
        cat "$T/swtpm_setup.log" >&2
        exit 1
    }
    cp "$d/ca/swtpm-localca-rootca-cert.pem" "$d/ca/issuercert.pem" "$d/cadir/" || exit 1
}

echo "# identity bench: ${SECS}s per issuance run, $ROUNDS attestation rounds ($(nproc) cores)"
manufacture_tpm
start_control sqlite "sqlite:$T/sqlite.db" "tpm:
  ek_ca_dir: $T/tpm/cadir"
URL_SQLITE=$URL
issue_runs sqlite | sed 's/^/sqlite     /'

PGBIN=$(find /usr/lib/postgresql -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1)
if [ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ]; then
    PG=$T/pg
    mkdir -p "$PG/sock"
    AS=()
    if [ "$(id -u)" -eq 0 ]; then
        chmod 711 "$T"
        chown -R postgres: "$PG"
        AS=(runuser -u postgres --)
    fi
    PGPORT=$(free_port)
    "${AS[@]}" "$PGBIN/initdb" -D "$PG/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        --no-sync >/dev/null 2>&1 || exit 1
    "${AS[@]}" "$PGBIN/pg_ctl" -D "$PG/data" -l "$PG/server.log" -w -t 30 \
        -o "-h 127.0.0.1 -p $PGPORT -k $PG/sock" start >/dev/null || exit 1
    "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres wd || exit 1
    start_control pgctl "postgresql://postgres@127.0.0.1:$PGPORT/wd"
    issue_runs pgctl | sed 's/^/postgresql /'
else
    echo "postgresql: skipped (no PostgreSQL server binaries)"
fi

# Attestation rounds against swtpm, through the SQLite control plane.
TPMPORT=$(python3 -c 'import socket
for _ in range(50):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1)); print(p); break
    except OSError:
        pass')
swtpm socket --tpm2 --tpmstate "dir=$T/tpm/state" --server "type=tcp,port=$TPMPORT" \
    --ctrl "type=tcp,port=$((TPMPORT + 1))" --flags not-need-init,startup-clear >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$TPMPORT") 2>/dev/null && break
    sleep 0.1
done
# The EK certificate swtpm_setup wrote chains to tpm.ek_ca_dir (the local CA).
"$LOAD" attest "$URL_SQLITE" "$T/sqlite" tpm-node "swtpm:host=127.0.0.1,port=$TPMPORT" \
    "$ROUNDS" | sed 's/^/swtpm      /'
