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
export DEBIAN_FRONTEND=noninteractive

# Build toolchain and analysers.
PKGS="build-essential pkg-config clang clang-format clang-tidy cppcheck libclang-rt-14-dev
      valgrind shellcheck python3 git"
# Libraries warden links against.
PKGS="$PKGS libssl-dev libjansson-dev libyaml-dev libsqlite3-dev libpq-dev libpcre2-dev
      libtss2-dev"
# Real peers the tests and the demo talk to.
PKGS="$PKGS openssl curl nginx-light mosquitto mosquitto-clients swtpm swtpm-tools tpm2-tools
      postgresql"
# aarch64 cross-build and emulation.
PKGS="$PKGS gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
ARM64_PKGS="libssl-dev:arm64 libjansson-dev:arm64 libyaml-dev:arm64"

missing=""
for p in $PKGS $ARM64_PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $SUDO dpkg --add-architecture arm64
fi
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $PKGS $ARM64_PKGS

# The tests start nginx and PostgreSQL themselves on loopback ports; the distribution's
# default instances are not needed and would only hold ports.
for svc in nginx postgresql mosquitto; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
        $SUDO systemctl stop "$svc" || true
    fi
done
echo "install-deps: done"
