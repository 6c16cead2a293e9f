#!/bin/sh
# Installs every Debian 12 package that warden's build, tests, fuzzing, cross-build and demo
# need. Idempotent: packages already present are skipped by apt-get, and the package lists
# are refreshed only once per run.
set -eu

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
need_root() {
    if [ -n "$SUDO" ] && ! command -v sudo >/dev/null 2>&1; then
        echo "install-deps: run this as root (or install sudo): packages are missing:$missing" >&2
        exit 1
    fi
}
export DEBIAN_FRONTEND=noninteractive

# Build toolchain and analysers.
PKGS="build-essential pkg-config clang clang-format clang-tidy cppcheck libclang-rt-14-dev
      valgrind shellcheck python3 git"
# Libraries warden links against.
PKGS="$PKGS libssl-dev libjansson-dev libyaml-dev libsqlite3-dev libpq-dev libpcre2-dev
      libtss2-dev"
# Real peers the tests and the demo talk to.
PKGS="$PKGS openssl curl nginx-light mosquitto mosquitto-clients swtpm swtpm-tools tpm2-tools
      postgresql sqlite3"
# aarch64 cross-build and emulation.
PKGS="$PKGS gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
# libpq-dev is not Multi-Arch (its arm64 package would replace the amd64 one), so arm64 gets
# only the runtime library; the Makefile uses the host's headers for the cross-build.
# libc6:arm64 is what qemu-aarch64 runs the cross-built tests with.
ARM64_PKGS="libc6:arm64 libssl-dev:arm64 libjansson-dev:arm64 libyaml-dev:arm64
            libsqlite3-dev:arm64 libpq5:arm64 libtss2-dev:arm64 libpcre2-dev:arm64"

missing=""
for p in $PKGS $ARM64_PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done

# The tests start nginx, PostgreSQL and mosquitto themselves, on 127.0.0.1 with ephemeral
# ports and private directories; the distribution's default instances are not needed and
# would only hold ports, so they are stopped (on every run: a reboot restarts them). They are
# not disabled: the machine's owner may want them.
stop_services() {
    for svc in nginx postgresql mosquitto; do
        if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
            if systemctl is-active --quiet "$svc" 2>/dev/null; then
                $SUDO systemctl stop "$svc" || true
                echo "install-deps: stopped the $svc service"
            fi
        elif command -v service >/dev/null 2>&1 && [ -x "/etc/init.d/$svc" ]; then
            if service "$svc" status >/dev/null 2>&1; then
                $SUDO service "$svc" stop >/dev/null 2>&1 || true
                echo "install-deps: stopped the $svc service"
            fi
        fi
    done
}

if [ -z "$missing" ]; then
    stop_services
    echo "install-deps: all packages present"
    exit 0
fi
echo "install-deps: installing:$missing"
need_root

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $SUDO dpkg --add-architecture arm64
fi
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $PKGS $ARM64_PKGS
stop_services

# Check what the build and the tests will run, so a broken install fails here, not later.
for c in cc clang clang-format clang-tidy cppcheck shellcheck pkg-config aarch64-linux-gnu-gcc \
    qemu-aarch64 openssl curl nginx python3; do
    command -v "$c" >/dev/null 2>&1 || {
        echo "install-deps: '$c' is still missing after the install" >&2
        exit 1
    }
done
echo "install-deps: done"
