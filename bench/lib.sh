# bench/lib.sh — functions for bench/run.sh (sourced, not run).
# Globals used: NS_S NS_C OUT BIN_DIR CLIENTS DURATION POOL_PREFIX POOL_LEN
#               PERF_OK RESULTS SRV_PID SRV_DIR

log() { echo "[$(date +%T)] $*" >&2; }
die() { echo "bench: FAILED: $*" >&2; exit 1; }

# --- namespaces -----------------------------------------------------------

ns_setup() {
    ns_teardown
    ip netns add "$NS_S"
    ip netns add "$NS_C"
    ip link add s0 netns "$NS_S" address 02:00:00:00:00:01 type veth \
        peer name c0 netns "$NS_C" address 02:00:00:00:00:02
    local pair
    for pair in "$NS_S s0" "$NS_C c0"; do
        set -- $pair
        ip netns exec "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0
        ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.accept_dad=0"
        ip netns exec "$1" ip link set lo up
        ip netns exec "$1" ip link set "$2" up
    done
}

ns_teardown() {
    ip netns del "$NS_S" 2>/dev/null || true
    ip netns del "$NS_C" 2>/dev/null || true
}

# --- servers ----------------------------------------------------------------

# write_pd_config DIR PREFIX LEN ROUTES(true|false)
write_pd_config() {
    cat >"$1/pd-server.toml" <<EOF
[server]
interfaces = ["s0"]
state-dir = "$1/state"
duid = "00:03:00:01:02:00:00:00:00:01"
$([ "${PREF255:-0}" = 1 ] && echo "preference = 255")
$([ -n "${PD_COMMIT_US:-}" ] && echo "commit-interval-us = $PD_COMMIT_US")
$([ -n "${PD_RECV_US:-}" ] && echo "receive-interval-us = $PD_RECV_US")
$([ "${RAPID:-0}" = 1 ] && echo "rapid-commit = true")

[[pool]]
prefix = "$2"
delegated-length = $3
preferred-lifetime = 3600
valid-lifetime = 7200

[routes]
install = $4

# Benchmarks turn the anti-flood caps off (defaults: 1000 new/s, 65536 per link).
[limits]
max-bindings-per-link = 0
new-bindings-per-second = 0
EOF
}

# write_kea_config DIR PREFIX LEN — memfile, persist=true, lfc-interval 0.
write_kea_config() {
    local addr=${2%/*} plen=${2#*/}
    cat >"$1/kea.json" <<EOF
{"Dhcp6": {
  "data-directory": "$1",
  "interfaces-config": {"interfaces": ["s0"]},
  "lease-database": {"type": "memfile", "persist": true,
                     "name": "$1/leases6.csv", "lfc-interval": 0},
  "preferred-lifetime": 3600, "valid-lifetime": 7200,
  "renew-timer": 1800, "rebind-timer": 2880,
  $([ "${PREF255:-0}" = 1 ] && echo '"option-data": [{"name": "preference", "data": "255", "always-send": true}],')
  "subnet6": [{"subnet": "2001:db8:ffff::/64", "interface": "s0",
    $([ "${RAPID:-0}" = 1 ] && echo '"rapid-commit": true,')
    "pd-pools": [{"prefix": "$addr", "prefix-len": $plen, "delegated-len": $3}]}],
  "loggers": [{"name": "kea-dhcp6", "severity": "WARN",
               "output_options": [{"output": "$1/kea.log"}]}]
}}
EOF
}

# start_server VARIANT DIR — VARIANT: pd | pd-noflush | pd-routes | kea.
# Sets SRV_PID (the server itself: ip netns exec and env exec into it).
start_server() {
    local v=$1 d=$2
    mkdir -p "$d"
    case $v in
    pd | pd-noflush | pd-routes)
        local routes=false
        [ "$v" = pd-routes ] && routes=true
        write_pd_config "$d" "$POOL_PREFIX" "$POOL_LEN" "$routes"
        local extra=()
        [ "$v" = pd-noflush ] && extra=(PD_SERVER_UNSAFE_NO_FLUSH=1)
        ip netns exec "$NS_S" env RUST_LOG="${PD_LOG:-warn}" "${extra[@]}" \
            "$BIN_DIR/pd-server" run --config "$d/pd-server.toml" >"$d/server.log" 2>&1 &
        ;;
    kea)
        write_kea_config "$d" "$POOL_PREFIX" "$POOL_LEN"
        ip netns exec "$NS_S" env KEA_PIDFILE_DIR="$d" KEA_LOCKFILE_DIR="$d" \
            kea-dhcp6 -c "$d/kea.json" >"$d/server.log" 2>&1 &
        ;;
    *) die "unknown server variant $v" ;;
    esac
    SRV_PID=$!
    SRV_DIR=$d
}

# wait_ready — one perfdhcp exchange must complete (socket bound and joined).
wait_ready() {
    local i
    for i in $(seq 1 50); do
        kill -0 "$SRV_PID" 2>/dev/null || { cat "$SRV_DIR/server.log" >&2; die "server exited at start"; }
        # (-n 1 is not enough: perfdhcp 2.2 then ignores a Reply that comes
        # back within a millisecond; count Replies of a 3-exchange probe.)
        if ip netns exec "$NS_C" timeout 5 perfdhcp -6 -g single -l c0 -e prefix-only \
            -R 1 -r 20 -n 3 -W 300000 2>&1 |
            awk '/Statistics for: REQUEST-REPLY/ {rr = 1} rr && /received packets:/ && !n {n = $3} END {exit !(n > 0)}'; then
            return 0
        fi
        sleep 0.2
    done
    cat "$SRV_DIR/server.log" >&2
    die "server $SRV_DIR never answered"
}

stop_server() {
    [ -n "${SRV_PID:-}" ] || return 0
    kill -TERM "$SRV_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 100); do
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SRV_PID" 2>/dev/null || true
    wait "$SRV_PID" 2>/dev/null || true
    SRV_PID=
}

# --- measurements -----------------------------------------------------------

# rcvbuf_errors NS — UDPv6 datagrams the namespace dropped because a socket's
# receive buffer was full (Udp6RcvbufErrors).
rcvbuf_errors() {
    ip netns exec "$1" awk '$1 == "Udp6RcvbufErrors" {print $2}' /proc/net/snmp6
}

# cpu_ticks PID — utime+stime (all threads) in clock ticks.
cpu_ticks() {
    sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

now_s() { date +%s.%N; }
# steal_ticks — CPU time the hypervisor gave to others (all CPUs, /proc/stat).
steal_ticks() { awk '$1 == "cpu" {print $9}' /proc/stat; }
load1() { cut -d' ' -f1 /proc/loadavg; }

# perf_sum FILE — total of the sync-family tracepoint counts in a perf stat -x, file.
perf_sum() {
    awk -F, '/syscalls:sys_enter_/ {n += $1} END {print n + 0}' "$1"
}

# sync_times VARIANT DIR — the server's own fdatasync times over the trial
# (`pd-server stats`: a histogram, each quantile at most 12.5 % high), as
# "p50 p99 max" in ms; NA for Kea and for a server that made no sync.
sync_times() {
    case $1 in pd | pd-routes) ;; *) echo "NA NA NA"; return ;; esac
    "$BIN_DIR/pd-server" stats --config "$2/pd-server.toml" 2>/dev/null |
        awk -F'[:,]' '/"count"|"p50_us"|"p99_us"|"max_us"/ {gsub(/[" ]/, "", $1); v[$1] = $2 + 0}
            END {if (v["count"] > 0) printf "%.3f %.3f %.3f\n", v["p50_us"] / 1000, v["p99_us"] / 1000, v["max_us"] / 1000
                 else print "NA NA NA"}'
}

# trial VARIANT RATE DURATION LABEL — one server start, one perfdhcp run, stop.
# Appends one line to $RESULTS, echoes it and leaves it in TRIAL_LINE:
# label variant rate duration sa_sent rr_recv xps loss_pct p50 p99 cpu_ms_per_1k
#   srv_cpu_pct perfdhcp_cpu_pct syncs_per_s load1 verdict
#   srv_rcvbuf_drops perfdhcp_rcvbuf_drops steal_pct (of one CPU, all CPUs summed)
#   sync_p50_ms sync_p99_ms sync_max_ms (the server's fdatasyncs: sync_times)
trial() {
    local v=$1 rate=$2 dur=$3 label=$4
    TRIAL_N=$((${TRIAL_N:-0} + 1))
    local d="$OUT/trials/$(printf %03d "$TRIAL_N")-$label-$v-$rate"
    # What the last trial left dirty (its files, the deletions' metadata)
    # would otherwise be written back during this one, ahead of its
    # fdatasyncs (the server's sync p99, median of six trials: 0.45 ms with
    # it, 0.55 without; BENCHMARKS §0000000).
    sync
    start_server "$v" "$d"
    wait_ready
    local perf_pid=
    if [ "$PERF_OK" = 1 ]; then
        perf stat -x, -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync,syscalls:sys_enter_sync_file_range \
            -p "$SRV_PID" -o "$d/perf.txt" >/dev/null 2>&1 &
        perf_pid=$!
        sleep 0.3
    fi
    local t0 c0 t1 c1
    local sb0 cb0 sb1 cb1
    sb0=$(rcvbuf_errors "$NS_S") cb0=$(rcvbuf_errors "$NS_C")
    t0=$(now_s)
    c0=$(cpu_ticks "$SRV_PID")
    local st0 st1
    st0=$(steal_ticks)
    if [ "${DRIVER:-perfdhcp}" = perfdhcp ]; then
        ip netns exec "$NS_C" bash -c "ulimit -v 6000000; timeout $((dur + 60)) perfdhcp -6 -g single \
            -l c0 -e prefix-only -R $CLIENTS -r $rate -p $dur -W $EXIT_WAIT_US -x t >'$d/perfdhcp.out' 2>&1; \
            echo rc=\$?; times" >"$d/perfdhcp.meta" 2>&1 || true
    else
        # The lighter generator (pd-bench load) prints the report itself.
        ip netns exec "$NS_C" bash -c "ulimit -v 6000000; timeout $((dur + 60)) '$BIN_DIR/pd-bench' load \
            --interface c0 --rate $rate --duration $dur --wait-ms $((EXIT_WAIT_US / 1000)) >'$d/latency.txt' 2>'$d/load.err'; \
            echo rc=\$?; times" >"$d/perfdhcp.meta" 2>&1 || true
    fi
    c1=$(cpu_ticks "$SRV_PID")
    t1=$(now_s)
    st1=$(steal_ticks)
    sb1=$(rcvbuf_errors "$NS_S") cb1=$(rcvbuf_errors "$NS_C")
    local ld sy3
    ld=$(load1)
    # (A server that died mid-trial answers nothing: NA, and the trial's
    # own figures say the rest.)
    sy3=$(sync_times "$v" "$d") || sy3="NA NA NA"
    if [ -n "$perf_pid" ]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
    fi
    stop_server
    if [ "${DRIVER:-perfdhcp}" = perfdhcp ]; then
        "$BIN_DIR/pd-bench" latency "$d/perfdhcp.out" >"$d/latency.txt" ||
            die "cannot parse $d/perfdhcp.out"
    else
        grep -q '^rc=0' "$d/perfdhcp.meta" || die "pd-bench load failed: $(cat "$d/load.err")"
    fi
    local kv
    kv=$(tr ' ' '\n' <"$d/latency.txt")
    get() { echo "$kv" | awk -F= -v k="$1" '$1 == k {print $2}'; }
    local sa_sent rr_recv loss p50 p99
    sa_sent=$(get sa_sent) rr_recv=$(get rr_recv) loss=$(get loss_pct)
    p50=$(get p50_ms) p99=$(get p99_ms)
    # perfdhcp CPU: the children line of `times` (user sys).
    local pcpu
    pcpu=$(awk 'NR==3 {print $1" "$2}' "$d/perfdhcp.meta" |
        awk '{split($1,u,"m"); split($2,s,"m"); print (u[1]*60 + u[2] + s[1]*60 + s[2])}' | tr -d s)
    local syncs=NA
    if [ -n "$perf_pid" ] && [ -s "$d/perf.txt" ]; then
        syncs=$(awk -v n="$(perf_sum "$d/perf.txt")" -v d="$dur" 'BEGIN {printf "%.1f", n / d}')
    fi
    local line
    line=$(awk -v label="$label" -v v="$v" -v rate="$rate" -v dur="$dur" -v ss="$sa_sent" \
        -v rr="$rr_recv" -v loss="$loss" -v p50="$p50" -v p99="$p99" -v tick="$CLK_TCK" \
        -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v pc="$pcpu" -v sy="$syncs" -v ld="$ld" \
        -v sbe="$((sb1 - sb0))" -v cbe="$((cb1 - cb0))" -v st="$((st1 - st0))" -v sy3="$sy3" '
        BEGIN {
            cpu = (c1 - c0) / tick; wall = t1 - t0
            per1k = rr > 0 ? cpu * 1e6 / rr : -1
            verdict = "pass"
            if (ss < 0.97 * rate * dur) verdict = "driver-limited"
            else if (loss >= 0.5 && 100 * pc / wall >= 95) verdict = "driver-saturated"
            else if (loss >= 0.5) verdict = "loss"
            printf "%s %s %d %d %d %d %.0f %.3f %.3f %.3f %.1f %.0f %.0f %s %s %s %d %d %.1f %s\n",
                label, v, rate, dur, ss, rr, rr / dur, loss, p50, p99, per1k,
                100 * cpu / wall, 100 * pc / wall, sy, ld, verdict, sbe, cbe,
                100 * st / tick / wall, sy3
        }')
    echo "$line" >>"$RESULTS"
    TRIAL_LINE=$line
    # Trial data is large (perfdhcp timestamps): keep only the summaries.
    [ "${KEEP_RAW:-0}" = 1 ] || rm -rf "$d/perfdhcp.out" "$d/state" "$d/leases6.csv"*
}

# field LINE N — the N-th (1-based) field of a result line.
field() { echo "$1" | awk -v n="$2" '{print $n}'; }
