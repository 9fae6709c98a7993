#!/usr/bin/env bash
# bench/run.sh — pd-server against kea-dhcp6 (memfile, persist=true) in one run.
#
# Two network namespaces joined by a veth pair; perfdhcp (-6 -e prefix-only)
# in the client namespace drives the server in the other. Servers are
# measured alternately, each trial on a fresh start with an empty store.
# Run as root from the repository (release binaries: cargo build --release
# -p pd-server -p pd-bench -p pd-client). See BENCHMARKS.md for the figures and method.
#
#   bench/run.sh [--duration S] [--clients N] [--start-rate R] [--max-rate R]
#                [--common-rates LIST] [--light-rates LIST] [--repeat N]
#                [--sections LIST] [--tiny]
#                [--bin-dir DIR] [--out DIR] [--scale-count N] [--full-count N]
#                [--keep-raw]
#
# Sections (comma list, default all): rate (highest rate with < 0.5 % lost
# exchanges, for pd, pd-noflush and kea), fixed (all at each of
# --common-rates, default 10000,auto; auto = 80 % of the lower of pd's and
# Kea's peaks, stepped down by 1000/s up to twice while a trial of either
# fails there; plus pd with routes on at the first rate; pd's CPU target
# adds the in-process checkpoint cost per record, as a 10 s trial below
# ~8000/s fills less than one journal file), light (pd, Kea and pd-noflush
# at each of --light-rates, default 10000,4000, driven by pd-bench load, a
# generator lighter than perfdhcp, so that the servers' latency shows where
# perfdhcp saturates its core), flush (what one
# durable lease write costs: sled flush vs + fdatasync), scale (1M leases
# restored; allocation in a 99 % full pool), client (pd-client and dhclient:
# time to a prefix).
# --tiny: seconds-long smoke run (CI): 1 s trials at a low rate, small stores.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$REPO/bench
DURATION=10
CLIENTS=1000000
START_RATE=4000
MAX_RATE=64000
COMMON_RATES=10000,auto
LIGHT_RATES=10000,4000
REPEAT=3
SECTIONS=rate,fixed,light,flush,scale,client
BIN_DIR=$REPO/target/release
OUT=
SCALE_COUNT=1000000
FULL_COUNT=1038000
FULL_POOL=2001:db8::/44
CLIENT_RUNS=10
FLUSH_COUNT=1000
START_RUNS=3
FULL_RATE=1
EXIT_WAIT_US=1000000
TINY=0
KEEP_RAW=0
POOL_PREFIX=2001:db8::/40
POOL_LEN=64

while [ $# -gt 0 ]; do
    case $1 in
    --duration) DURATION=$2; shift ;;
    --clients) CLIENTS=$2; shift ;;
    --start-rate) START_RATE=$2; shift ;;
    --max-rate) MAX_RATE=$2; shift ;;
    --common-rates) COMMON_RATES=$2; shift ;;
    --light-rates) LIGHT_RATES=$2; shift ;;
    --repeat) REPEAT=$2; shift ;;
    --sections) SECTIONS=$2; shift ;;
    --bin-dir) BIN_DIR=$2; shift ;;
    --out) OUT=$2; shift ;;
    --scale-count) SCALE_COUNT=$2; shift ;;
    --full-count) FULL_COUNT=$2; shift ;;
    --client-runs) CLIENT_RUNS=$2; shift ;;
    --keep-raw) KEEP_RAW=1 ;;
    --tiny)
        TINY=1 DURATION=1 START_RATE=200 MAX_RATE=200 COMMON_RATES=200 LIGHT_RATES=200 REPEAT=1
        SCALE_COUNT=2000 FULL_COUNT=4000 FULL_POOL=2001:db8::/52 CLIENT_RUNS=1
        START_RUNS=1 FULL_RATE=10 EXIT_WAIT_US=2000000 FLUSH_COUNT=20
        ;;
    -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

[ "$(id -u)" = 0 ] || { echo "bench/run.sh: run as root (network namespaces)" >&2; exit 1; }
for b in "$BIN_DIR/pd-server" "$BIN_DIR/pd-bench"; do
    [ -x "$b" ] || { echo "bench/run.sh: $b missing (cargo build --release -p pd-server -p pd-bench)" >&2; exit 1; }
done
for t in perfdhcp kea-dhcp6 ip awk; do
    command -v "$t" >/dev/null || { echo "bench/run.sh: $t not installed" >&2; exit 1; }
done

source "$BENCH/lib.sh"
source "$BENCH/sections.sh"

OUT=${OUT:-/tmp/pd-bench.$$}
mkdir -p "$OUT/trials"
RESULTS=$OUT/results.txt
SUMMARY=$OUT/summary.txt
: >"$RESULTS"
: >"$SUMMARY"
NS_S=pdb$$s
NS_C=pdb$$c
CLK_TCK=$(getconf CLK_TCK)
PERF_OK=0
if command -v perf >/dev/null && [ "$(perf list 2>/dev/null | grep -c syscalls:sys_enter_fsync)" -gt 0 ]; then
    PERF_OK=1
fi
SRV_PID=
cleanup() {
    stop_server
    ns_teardown
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "$*" | tee -a "$SUMMARY"; }

say "# pd bench $(date -u +%FT%TZ)  $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
say "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r), $(awk '/MemTotal/ {printf "%.0f MB RAM", $2/1024}' /proc/meminfo)"
# Dirty page cache (a build just before, as in CI) queues ahead of every
# fdatasync of the trials: write it back first (one cache flush then stalled
# a tiny run's Replies past perfdhcp's exit wait).
sync
say "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
say "peers: $(kea-dhcp6 -V 2>/dev/null | head -1 | sed 's/^/kea-dhcp6 /'), perfdhcp (kea-admin), bins: $BIN_DIR"
say "settings: duration ${DURATION}s, perfdhcp -R $CLIENTS, pool $POOL_PREFIX -> /$POOL_LEN, pd limits off, routes off unless 'pd-routes'"
say "sync counting: $([ $PERF_OK = 1 ] && echo 'perf stat tracepoints fsync+fdatasync+sync_file_range on the server pid' || echo 'n/a (perf not installed)')"
say "columns: label variant rate dur sa_sent rr_recv xps loss% p50ms p99ms cpu_ms_per_1k srv_cpu% perfdhcp_cpu% syncs/s load1 verdict srv_rcvbuf_drops perfdhcp_rcvbuf_drops (full socket buffers) steal% (CPU time the hypervisor gave to other guests, in % of one CPU) sync_p50ms sync_p99ms sync_maxms (the server's own fdatasyncs, from pd-server stats)"

ns_setup

for s in ${SECTIONS//,/ }; do
    SECTION_T0=$(now_s)
    case $s in
    rate) section_rate ;;
    fixed) section_fixed ;;
    light) section_light ;;
    flush) section_flush ;;
    scale) section_scale ;;
    client) section_client ;;
    *) die "unknown section $s" ;;
    esac
    say "($s: $(awk -v a="$SECTION_T0" -v b="$(now_s)" 'BEGIN {printf "%.0f", b - a}') s)"
done

say "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
say "results: $RESULTS  summary: $SUMMARY"
