#!/usr/bin/env bash
# Every test of the project, as CI runs it (as root: the integration tests
# build network namespaces). Installs the Debian packages the tests drive
# (real peers: ISC dhclient, Kea, perfdhcp; iproute2, ndisc6, radvdump),
# then: rustfmt check, clippy with -D warnings, the whole workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "test-all.sh: run as root (the integration tests create network namespaces)" >&2
    exit 1
fi

packages=(iproute2 procps iputils-ping isc-dhcp-client kea-dhcp6-server kea-admin ndisc6 radvdump tcpdump)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --all-features -- -D warnings
echo "== cargo build (the integration tests run the daemons' binaries)"
cargo build --workspace --bins
echo "== cargo test"
cargo test --workspace --all-features -- --test-threads="${PD_TEST_THREADS:-2}"
echo "== fuzz smoke run (every target, a few seconds each)"
./fuzz/smoke.sh
echo "== all tests passed"
