#!/usr/bin/env bash
# bench/callgrind.sh [RATE] — pd-server under valgrind's callgrind, driven by
# `pd-bench load` at RATE exchanges/s (default 300) for 10 s, in the
# benchmark's namespaces. Instruction counts do not depend on the host's
# speed and nearly repeat from run to run (timing moves the batching a
# little), so they show what a change to the code saves. Output: /tmp/pd-callgrind/cg.out; read it with
#   callgrind_annotate --inclusive=yes /tmp/pd-callgrind/cg.out | less
# and divide by the call counts (`--tree=calling`) for per-message figures.
# BIN=DIR picks the binaries (default target/release). Run as root.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
source "$REPO/bench/lib.sh"
command -v valgrind >/dev/null || die "valgrind is not installed"
NS_S=pdcg-s NS_C=pdcg-c
BIN_DIR=${BIN:-$REPO/target/release}
POOL_PREFIX=2001:db8::/40 POOL_LEN=64
OUT=/tmp/pd-callgrind
rm -rf "$OUT"
mkdir -p "$OUT/s"
trap 'stop_server; ns_teardown' EXIT
ns_setup
write_pd_config "$OUT/s" "$POOL_PREFIX" "$POOL_LEN" false
ip netns exec "$NS_S" env RUST_LOG=warn valgrind --tool=callgrind \
    --callgrind-out-file="$OUT/cg.out" \
    "$BIN_DIR/pd-server" run --config "$OUT/s/pd-server.toml" >"$OUT/s/server.log" 2>&1 &
SRV_PID=$! SRV_DIR=$OUT/s
wait_ready
ip netns exec "$NS_C" "$BIN_DIR/pd-bench" load --interface c0 --rate "${1:-300}" --duration 10 \
    --wait-ms 2000 >"$OUT/lat.txt" 2>"$OUT/err" || { cat "$OUT/err" >&2; exit 1; }
tail -2 "$OUT/lat.txt"
stop_server
echo "callgrind output: $OUT/cg.out"
