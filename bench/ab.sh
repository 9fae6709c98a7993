#!/usr/bin/env bash
# bench/ab.sh RATE ROUNDS SPEC... — alternating `bench/threads.sh pd RATE`
# trials of several builds or settings, ROUNDS rounds, one 10 s trial each.
# SPEC is DIR[:VAR=VAL[,VAR=VAL...]]: the binaries in DIR (BIN=DIR) and the
# trial's environment, e.g. /tmp/old /tmp/new /tmp/new:PD_COMMIT_US=300
# /tmp/new:PD_SERVER_JOURNAL_ROTATE_BYTES=1048576 (DRIVER=perfdhcp works
# too, without the dump figures).
# Per trial: CPU ms per 1,000 exchanges, p50/p99/max (ms), and from the
# per-exchange dump (pd-bench load --dump, kept in $OUT, default
# /tmp/pd-ab): exchanges over 2 ms, and how many of those fall in 10 ms
# bins holding 20 or more (bursts: a stall every exchange in flight waited
# through), and the server's own fdatasync p50/p99/max (pd-server stats).
# Run as root from the repository.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 3 ] || { sed -n '2,13p' "$0"; exit 2; }
rate=$1 rounds=$2
shift 2
OUT=${OUT:-/tmp/pd-ab}
mkdir -p "$OUT"
for i in $(seq 1 "$rounds"); do
    for spec in "$@"; do
        dir=${spec%%:*} envs=()
        [ "$spec" != "$dir" ] && IFS=, read -r -a envs <<<"${spec#*:}"
        tag=$(tr ':,=/' '____' <<<"$spec")
        dump="$OUT/$tag-$i.txt"
        out=$(env "${envs[@]}" BIN="$dir" DUMP="$dump" "$REPO/bench/threads.sh" pd "$rate" 2>&1) ||
            { echo "$spec: trial failed: $out" >&2; exit 1; }
        ticks=$(awk '/^total/ {print $3}' <<<"$out")
        done_=$(grep -o 'rr_recv=[0-9]*' <<<"$out" | cut -d= -f2)
        lat=$(grep -o '^p50_ms=[0-9.]* p99_ms=[0-9.]* max_ms=[0-9.]*' <<<"$out" || true)
        sync=$(grep -o '^sync_ms(p50,p99,max)=.*' <<<"$out" || true)
        slow=-
        [ -s "$dump" ] && slow=$(awk '$2 > 2 {n++; b[int($1 / 10)]++}
            END {for (k in b) if (b[k] >= 20) c += b[k]; printf "%d/%d", n, c}' "$dump")
        # Clock ticks are 10 ms: ticks * 10 ms / exchanges * 1000.
        cpu=$(awk -v t="$ticks" -v n="$done_" 'BEGIN {printf "%.1f", n ? t * 10 * 1000 / n : 0}')
        echo "$spec round $i: cpu_ms_per_1k=$cpu $lat over_2ms/in_bursts=$slow $sync"
    done
done
