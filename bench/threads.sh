#!/usr/bin/env bash
# bench/threads.sh VARIANT RATE [perf] — one server start and one 10 s
# `pd-bench load` trial, with the server's CPU per thread (utime+stime from
# /proc/PID/task/*/stat, in clock ticks; user and system apart) and voluntary
# context switches.
# VARIANT: pd | pd-noflush | pd-routes | kea. With `perf`, also
# `perf record -g` of the server into /tmp/pd-threads.perf.data.
# BIN=DIR picks the binaries (default target/release), so two builds can be
# compared alternating:  for b in old new; do BIN=/tmp/$b bench/threads.sh pd 10000; done
# DRIVER=perfdhcp drives the load with perfdhcp instead (as bench/run.sh's
# rate and fixed sections do).
# DUMP=FILE (pd-bench load only) writes each exchange's times to FILE.
# For pd it also prints the server's own fdatasync p50/p99/max (pd-server stats).
# It syncs the page cache before the server starts; SYNC_FIRST=0 skips that.
# Run as root from the repository.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
source "$REPO/bench/lib.sh"
[ $# -ge 2 ] || { sed -n '2,15p' "$0"; exit 2; }
NS_S=pdthr-s NS_C=pdthr-c
BIN_DIR=${BIN:-$REPO/target/release}
POOL_PREFIX=2001:db8::/40 POOL_LEN=64
OUT=$(mktemp -d /tmp/pd-threads.XXXXXX)
trap 'stop_server; ns_teardown; rm -rf "$OUT"' EXIT
ns_setup
# Write back what earlier trials left dirty (dumps, perf data), so that its
# writeback does not queue ahead of this trial's fdatasyncs.
[ "${SYNC_FIRST:-1}" = 1 ] && sync
start_server "$1" "$OUT/s"
wait_ready
pid=$SRV_PID
snap() {
    local t
    # Keyed by thread id: thread names repeat (Kea's do).
    for t in /proc/$pid/task/*; do
        echo "${t##*/} $(tr ' ' _ <"$t/comm") $(sed 's/^.*) //' "$t/stat" | awk '{print $12, $13}') \
$(awk '$1 == "voluntary_ctxt_switches:" {print $2}' "$t/status")"
    done | sort -k1,1
}
snap >"$OUT/a"
pp=
if [ "${3:-}" = perf ]; then
    perf record -g -p "$pid" -o /tmp/pd-threads.perf.data -- sleep 10 >/dev/null 2>&1 &
    pp=$!
fi
if [ "${DRIVER:-pd-bench}" = perfdhcp ]; then
    ip netns exec "$NS_C" perfdhcp -6 -g single -l c0 -e prefix-only -R 1000000 -r "$2" -p 10 \
        -W 1000000 -x t >"$OUT/perfdhcp.out" 2>&1 || true
    "$BIN_DIR/pd-bench" latency "$OUT/perfdhcp.out" >"$OUT/lat.txt"
else
    ip netns exec "$NS_C" "$BIN_DIR/pd-bench" load --interface c0 --rate "$2" --duration 10 \
        --wait-ms 1000 ${DUMP:+--dump "$DUMP"} >"$OUT/lat.txt" 2>"$OUT/err" || { cat "$OUT/err" >&2; exit 1; }
fi
snap >"$OUT/b"
echo "sync_ms(p50,p99,max)=$(sync_times "$1" "$OUT/s" | tr ' ' ,)"
if [ -n "$pp" ]; then wait "$pp" || true; fi
join "$OUT/a" "$OUT/b" |
    awk '{u = $7 - $3; s = $8 - $4
          printf "%-14s cpu %5d ticks (user %5d, sys %5d)  vcs %7d\n", $2, u + s, u, s, $9 - $5
          n += u + s; nu += u; ns += s}
         END {printf "total          cpu %5d ticks (user %5d, sys %5d)\n", n, nu, ns}'
cat "$OUT/lat.txt"
