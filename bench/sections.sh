# bench/sections.sh — the sections of bench/run.sh (sourced, not run).

# median VARIANT LABEL COLUMN — median of a result column over matching lines.
median() {
    awk -v v="$1" -v l="$2" -v c="$3" '$1 == l && $2 == v {print $c}' "$RESULTS" |
        sort -g | awk '{a[NR] = $1} END {if (NR == 0) print "NA"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}

# disk VARIANT LABEL — for pd: the medians of its trials' own fdatasync
# p50/p99/max (what the disk did meanwhile: a p99 miss with slow syncs is
# the disk's).
disk() {
    case $1 in pd | pd-routes) ;; *) return ;; esac
    echo ", its fdatasyncs p50 $(median "$1" "$2" 20) / p99 $(median "$1" "$2" 21) / max $(median "$1" "$2" 22) ms"
}

# trials VARIANT LABEL / passes VARIANT LABEL — how many trials, how many passed.
trials() { awk -v v="$1" -v l="$2" '$1 == l && $2 == v {n++} END {print n + 0}' "$RESULTS"; }
passes() { awk -v v="$1" -v l="$2" '$1 == l && $2 == v && $16 == "pass" {n++} END {print n + 0}' "$RESULTS"; }

# ratio A B — A / B to two decimals, NA when either is missing.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {if (a == "NA" || b == "NA" || b == 0 || a == "" || b == "") print "NA"; else printf "%.2f", a / b}'
}

# met COND-AWK-EXPR — "met" / "NOT met" for a numeric condition on a and b.
met() {
    if [ "$TINY" = 1 ]; then
        echo "n/a (tiny run)"
        return
    fi
    awk -v a="$1" -v b="$2" "BEGIN {if (a == \"NA\" || b == \"NA\") print \"n/a\"; else if ($3) print \"met\"; else print \"NOT met\"}"
}

# --- rate search ----------------------------------------------------------

# Highest offered rate with < 0.5 % lost exchanges, per variant, searched
# alternately: doubling from --start-rate, then bisection to ~8 %.
section_rate() {
    say "## rate search: highest rate with < 0.5% exchanges lost (doubling from $START_RATE, then bisection; cap $MAX_RATE; a failed rate is tried twice)"
    local variants="pd kea pd-noflush"
    local -A lo hi next fin best why n
    local v r verdict step
    for v in $variants; do
        lo[$v]=0 hi[$v]=0 next[$v]=$START_RATE fin[$v]=0 best[$v]="" why[$v]="" n[$v]=0
    done
    while :; do
        local active=0
        for v in $variants; do
            [ "${fin[$v]}" = 1 ] && continue
            active=1
            r=${next[$v]}
            trial "$v" "$r" "$DURATION" rate
            say "$TRIAL_LINE"
            n[$v]=$((n[$v] + 1))
            verdict=$(field "$TRIAL_LINE" 16)
            if [ "$verdict" != pass ] && [ "$TINY" = 0 ]; then
                # One retry: a rate fails only if two trials in a row fail
                # (other work on a shared machine causes one-off stalls).
                trial "$v" "$r" "$DURATION" rate
                say "$TRIAL_LINE (retry)"
                verdict=$(field "$TRIAL_LINE" 16)
            fi
            if [ "$verdict" = pass ]; then
                lo[$v]=$r
                best[$v]=$TRIAL_LINE
                if [ "${hi[$v]}" = 0 ]; then
                    if [ "$r" -ge "$MAX_RATE" ]; then
                        fin[$v]=1 why[$v]="reached --max-rate"
                        continue
                    fi
                    next[$v]=$((2 * r > MAX_RATE ? MAX_RATE : 2 * r))
                    continue
                fi
            else
                [ "$TINY" = 1 ] && die "tiny run: $v lost exchanges at $r/s: $TRIAL_LINE"
                hi[$v]=$r
                why[$v]="$verdict at $r/s"
            fi
            step=$((hi[$v] - lo[$v]))
            if [ "$step" -le $((lo[$v] / 12 > 250 ? lo[$v] / 12 : 250)) ] || [ "${n[$v]}" -ge 12 ]; then
                fin[$v]=1
            else
                next[$v]=$(((lo[$v] + hi[$v]) / 2 / 100 * 100))
            fi
        done
        [ "$active" = 1 ] || break
    done
    say "### peak (highest passing trial; next step up failed by: loss = >= 0.5% lost; driver-limited = perfdhcp sent < 97% of the offered rate; driver-saturated = >= 0.5% lost with perfdhcp at >= 95% of a core)"
    for v in $variants; do
        if [ -n "${best[$v]}" ]; then
            say "peak $v: rate $(field "${best[$v]}" 3)/s -> $(field "${best[$v]}" 7) exchanges/s, loss $(field "${best[$v]}" 8)%, p50 $(field "${best[$v]}" 9) ms, p99 $(field "${best[$v]}" 10) ms, cpu $(field "${best[$v]}" 11) ms/1k exchanges, syncs $(field "${best[$v]}" 14)/s; stopped: ${why[$v]}"
        else
            say "peak $v: no rate passed (${why[$v]})"
        fi
        PEAK[$v]=${best[$v]}
    done
    local pk kk
    pk=${PEAK[pd]:-} kk=${PEAK[kea]:-}
    if [ -n "$pk" ] && [ -n "$kk" ]; then
        say "ratio pd/kea at peak: max rate $(ratio "$(field "$pk" 7)" "$(field "$kk" 7)"), cpu per exchange $(ratio "$(field "$pk" 11)" "$(field "$kk" 11)")"
        say "target max rate >= Kea's: $(met "$(field "$pk" 7)" "$(field "$kk" 7)" 'a >= b')"
    fi
    if [ -n "$pk" ] && [ -n "${PEAK[pd-noflush]:-}" ]; then
        say "durability: pd flush peak $(field "$pk" 7)/s vs no-flush $(field "${PEAK[pd-noflush]}" 7)/s; syncs at peak: $(field "$pk" 14)/s (flush) vs $(field "${PEAK[pd-noflush]}" 14)/s (no-flush)"
    fi
}
declare -A PEAK

# --- fixed common rate ------------------------------------------------------

# checkpoint_cost — measure (in-process) what folding the journal into sled
# costs per fresh record; sets CKPT_PER1K (ms of CPU per 1,000 records).
# A 10-second trial below ~8,000/s fills less than one journal file, so its
# CPU does not include a checkpoint; the target adds this amortized cost.
checkpoint_cost() {
    local out records=80000 rounds=3
    [ "$TINY" = 1 ] && records=2000 rounds=1
    out=$("$BIN_DIR/pd-bench" checkpoint --dir "$OUT/checkpoint" --records "$records" --rounds "$rounds") ||
        die "pd-bench checkpoint failed"
    say "## checkpoint cost, in-process (pd-bench checkpoint --records $records --rounds $rounds)"
    say "$out"
    CKPT_PER1K=$(echo "$out" | awk '/^checkpoint fresh/ {for (i = 1; i <= NF; i++) if ($i == "checkpoint" && $(i + 1) == "cpu") print $(i + 2)}' |
        sort -g | awk '{a[NR] = $1} END {print NR ? a[int((NR + 1) / 2)] : "NA"}')
    say "checkpoint: median $CKPT_PER1K ms of CPU per 1,000 fresh records (added to pd's CPU per exchange below)"
}

checkpoint_cost_once() {
    [ -n "${CKPT_PER1K:-}" ] || checkpoint_cost
}

section_fixed() {
    local rate first=1
    checkpoint_cost_once
    for rate in ${COMMON_RATES//,/ }; do
        if [ "$rate" = auto ]; then
            # 80 % of the lower of the two peaks: a load both servers carry.
            local pp kp
            pp=$(field "${PEAK[pd]:-x 0 0 0 0 0 0}" 7) kp=$(field "${PEAK[kea]:-x 0 0 0 0 0 0}" 7)
            rate=$(awk -v a="$pp" -v b="$kp" 'BEGIN {m = a < b ? a : b; printf "%d", int(m * 0.8 / 500) * 500}')
            [ "$rate" -gt 0 ] || { say "fixed auto: no peak from the rate section; skipped"; continue; }
            say "(auto rate: 80% of the lower peak = $rate/s)"
            fixed_at "$rate" "$first"
            first=0
            # A peak can be one lucky trial: if either server lost
            # exchanges at the auto rate, equal load was not measured
            # there; step down (twice at most) to a rate both carry.
            local step
            for step in 1 2; do
                [ "$FIXED_COMPARABLE" = 1 ] && break
                rate=$((rate - 1000))
                [ "$rate" -ge 1000 ] || break
                say "(auto rate: not every trial of both passed; stepping down to $rate/s)"
                fixed_at "$rate" 0
            done
            continue
        fi
        fixed_at "$rate" "$first"
        first=0
    done
}

# fixed_at RATE ROUTES(1|0) — REPEAT alternating trials of each variant;
# sets FIXED_COMPARABLE=1 when every trial of pd and Kea passed.
fixed_at() {
    local rate=$1 routes=$2 rep v l=${FIXED_LABEL:-fixed}$1
    say "## fixed rate $rate/s, load from ${DRIVER:-perfdhcp}: $REPEAT alternating trials each (medians)$([ "$routes" = 1 ] && echo ", then pd with routes on once")"
    for rep in $(seq 1 "$REPEAT"); do
        for v in pd kea pd-noflush; do
            trial "$v" "$rate" "$DURATION" "$l"
            say "$TRIAL_LINE"
            [ "$TINY" = 1 ] && [ "$(field "$TRIAL_LINE" 16)" != pass ] && die "tiny run: $v: $TRIAL_LINE"
            [ "$TINY" = 1 ] && [ "$v" = pd ] && [ "$(field "$TRIAL_LINE" 20)" = NA ] &&
                die "tiny run: pd reported no fdatasync times: $TRIAL_LINE"
        done
    done
    local vs="pd kea pd-noflush"
    if [ "$routes" = 1 ]; then
        trial pd-routes "$rate" "$DURATION" "$l"
        say "$TRIAL_LINE"
        [ "$TINY" = 1 ] && [ "$(field "$TRIAL_LINE" 16)" != pass ] && die "tiny run: pd-routes: $TRIAL_LINE"
        ip netns exec "$NS_S" ip -6 route flush root 2001:db8::/32 2>/dev/null || true
        vs="$vs pd-routes"
    fi
    say "### medians at $rate/s"
    for v in $vs; do
        say "${FIXED_LABEL:-fixed} $v: $(median "$v" "$l" 7) exchanges/s, loss $(median "$v" "$l" 8)%, p50 $(median "$v" "$l" 9) ms, p99 $(median "$v" "$l" 10) ms, cpu $(median "$v" "$l" 11) ms/1k exchanges (server $(median "$v" "$l" 12)% of a core, ${DRIVER:-perfdhcp} $(median "$v" "$l" 13)%), syncs $(median "$v" "$l" 14)/s$(disk "$v" "$l")"
    done
    local pc kc pcc
    pc=$(median pd "$l" 11) kc=$(median kea "$l" 11)
    pcc=$(awk -v a="$pc" -v b="${CKPT_PER1K:-NA}" 'BEGIN {if (a == "NA" || b == "NA") print "NA"; else printf "%.1f", a + b}')
    say "pd cpu per 1k exchanges with the checkpoint amortized: $pc + ${CKPT_PER1K:-NA} = $pcc"
    say "ratio pd/kea at $rate/s: cpu per exchange $(ratio "$pcc" "$kc") with the checkpoint, $(ratio "$pc" "$kc") without (no-flush: $(ratio "$(median pd-noflush "$l" 11)" "$kc")), p50 $(ratio "$(median pd "$l" 9)" "$(median kea "$l" 9)"), p99 $(ratio "$(median pd "$l" 10)" "$(median kea "$l" 10)")"
    # Equal load only if both carried it: a server that lost exchanges did
    # less work per offered exchange, and its CPU per completed one is not
    # comparable.
    local pp kp n
    pp=$(passes pd "$l") kp=$(passes kea "$l") n=$(trials pd "$l")
    FIXED_COMPARABLE=0
    if [ "$pp" = "$n" ] && [ "$kp" = "$(trials kea "$l")" ]; then
        FIXED_COMPARABLE=1
        say "target cpu per exchange <= 0.5x Kea at equal load ($rate/s; every trial of both passed; checkpoint included): $(met "$pcc" "$kc" 'a <= 0.5 * b')"
    else
        say "target cpu per exchange <= 0.5x Kea at equal load ($rate/s): not comparable (trials passed: pd $pp of $n, kea $kp of $(trials kea "$l"))"
    fi
    say "target p99 <= 2 ms at $rate/s: $(met "$(median pd "$l" 10)" 2 'a <= b')"
}

# --- fixed rates under a lighter load generator ----------------------------

# At 10,000/s perfdhcp needs a whole core on this machine and its 4-way
# latency is its own queueing; pd-bench load (one thread, no per-packet
# bookkeeping beyond four timestamps) drives the same exchanges at a
# fraction of that, so the servers' own latency shows.
section_light() {
    local rate
    checkpoint_cost_once
    DRIVER=pd-bench FIXED_LABEL=light
    for rate in ${LIGHT_RATES//,/ }; do
        fixed_at "$rate" 0
    done
    DRIVER=perfdhcp FIXED_LABEL=fixed
}

# --- scale ------------------------------------------------------------------

# start_timed DIR — start pd-server (info logs) and wait for "pd-server
# listening"; sets START_S (spawn → listening) and HWM_KB (VmHWM then).
start_timed() {
    local t0 t1 i
    t0=$(now_s)
    PD_LOG=info start_server pd "$1"
    for i in $(seq 1 12000); do
        grep -q "pd-server listening" "$1/server.log" 2>/dev/null && break
        kill -0 "$SRV_PID" 2>/dev/null || { cat "$1/server.log" >&2; die "pd-server exited at start"; }
        sleep 0.01
    done
    t1=$(now_s)
    grep -q "pd-server listening" "$1/server.log" || die "pd-server not listening after 120 s"
    START_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
    HWM_KB=$(awk '/VmHWM/ {print $2}' "/proc/$SRV_PID/status")
}

section_scale() {
    local save_prefix=$POOL_PREFIX d i starts="" hwms="" med_s med_kb
    say "## scale: $SCALE_COUNT leases in the store, pool 2001:db8::/32 -> /64, routes off"
    d=$OUT/scale
    rm -rf "$d"
    mkdir -p "$d"
    POOL_PREFIX=2001:db8::/32
    say "$("$BIN_DIR/pd-bench" fill --state-dir "$d/state" --pool "$POOL_PREFIX" --count "$SCALE_COUNT")"
    say "store size: $(du -sh "$d/state/leases" | cut -f1)"
    for i in $(seq 1 "$START_RUNS"); do
        start_timed "$d"
        grep "leases restored" "$d/server.log" | tail -1 | sed 's/^/  /' >>"$SUMMARY"
        [ "$i" = 1 ] && wait_ready
        stop_server
        starts="$starts $START_S" hwms="$hwms $HWM_KB"
    done
    local mid=$(((START_RUNS + 1) / 2))
    med_s=$(echo "$starts" | tr ' ' '\n' | grep . | sort -g | sed -n "${mid}p")
    med_kb=$(echo "$hwms" | tr ' ' '\n' | grep . | sort -g | sed -n "${mid}p")
    say "daemon start to listening (page cache warm), $START_RUNS runs:$starts s -> median $med_s s; VmHWM after start:$hwms kB -> median $((med_kb / 1024)) MB"
    say "target $SCALE_COUNT restored <= 2 s: $(met "$med_s" 2 'a <= b'); <= 200 MB RSS: $(met "$((med_kb / 1024))" 200 'a <= b')"
    say "in-process (pd-bench restore: SledStore::load + engine::Server::new):"
    say "$("$BIN_DIR/pd-bench" restore --config "$d/pd-server.toml" --allocations 2 --persist | sed 's/^/  /')"
    rm -rf "$d/state"

    say "## allocation in a 99% full pool: $FULL_POOL -> /64 with $FULL_COUNT leases"
    d=$OUT/full
    rm -rf "$d"
    mkdir -p "$d"
    POOL_PREFIX=$FULL_POOL
    say "$("$BIN_DIR/pd-bench" fill --state-dir "$d/state" --pool "$POOL_PREFIX" --count "$FULL_COUNT")"
    write_pd_config "$d" "$POOL_PREFIX" "$POOL_LEN" false
    say "in-process, engine Solicit + Request for new clients, then the flushed write (the first one is the first new record after the restore):"
    say "$("$BIN_DIR/pd-bench" restore --config "$d/pd-server.toml" --allocations 3 --persist | sed 's/^/  /')"
    start_timed "$d"
    ip netns exec "$NS_C" bash -c "ulimit -v 4000000; timeout 60 perfdhcp -6 -g single -l c0 -e prefix-only \
        -R 1000000 -r $FULL_RATE -n 3 -W 2000000 -x t" >"$d/perfdhcp.out" 2>&1 || true
    stop_server
    say "daemon, perfdhcp 3 exchanges at $FULL_RATE/s right after start: $("$BIN_DIR/pd-bench" latency "$d/perfdhcp.out" | tr '\n' ' ')"
    rm -rf "$d/state"
    POOL_PREFIX=$save_prefix
}

# --- durability micro-benchmark ---------------------------------------------

section_flush() {
    say "## durability: one single-lease write, in-process (pd-bench flush-cost, $FLUSH_COUNT writes per mode)"
    say "$("$BIN_DIR/pd-bench" flush-cost --dir "$OUT/flush-cost" --count "$FLUSH_COUNT")"
}

# --- client -----------------------------------------------------------------

# time_cmd OUTVAR CMD... — wall seconds of CMD (its status is returned).
time_cmd() {
    local __v=$1 t0 t1 rc=0
    shift
    t0=$(now_s)
    "$@" || rc=$?
    t1=$(now_s)
    printf -v "$__v" '%s' "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')"
    return $rc
}

# client_runs SERVER — dhclient (and pd-client when built) N times each.
client_runs() {
    local srv=$1 d i t times_dh="" times_pc="" cd
    d=$OUT/client-$srv${PREF255:+-pref255}${RAPID:+-rapid}
    start_server "$srv" "$d"
    wait_ready
    for i in $(seq 1 "$CLIENT_RUNS"); do
        cd=$d/dh$i
        mkdir -p "$cd"
        if [ "${RAPID:-0}" = 1 ]; then
            : # dhclient is measured without Rapid Commit only
        elif time_cmd t ip netns exec "$NS_C" timeout 60 dhclient -6 -P -1 -v -lf "$cd/leases" \
            -pf "$cd/pid" -sf /bin/true c0 >"$cd/out" 2>&1 &&
            grep -q iaprefix "$cd/leases"; then
            times_dh="$times_dh $t"
        else
            times_dh="$times_dh FAIL"
        fi
        # Stop the dhclient that forked into the background once bound, and
        # wait until it is gone: it holds UDP port 546 on c0.
        # (dhclient -1 can return before its background child writes the pid file.)
        for _ in $(seq 1 30); do
            [ "${RAPID:-0}" = 1 ] || [ -s "$cd/pid" ] && break
            sleep 0.1
        done
        if [ "${RAPID:-0}" != 1 ] && [ -s "$cd/pid" ]; then
            local dpid
            dpid=$(cat "$cd/pid")
            kill "$dpid" 2>/dev/null || true
            for _ in $(seq 1 50); do
                kill -0 "$dpid" 2>/dev/null || break
                sleep 0.1
            done
        fi
        if [ -x "$BIN_DIR/pd-client" ]; then
            cd=$d/pc$i
            mkdir -p "$cd"
            if time_cmd t ip netns exec "$NS_C" timeout 60 "$BIN_DIR/pd-client" request \
                --interface c0 --state-dir "$cd" --timeout 30 ${RAPID:+--rapid-commit} >"$cd/out" 2>"$cd/err" &&
                grep -q "2001:db8:" "$cd/out"; then
                times_pc="$times_pc $t"
            else
                times_pc="$times_pc FAIL"
            fi
        fi
    done
    stop_server
    local tag=$srv
    [ "${PREF255:-0}" = 1 ] && tag="$srv (preference 255)"
    [ "${RAPID:-0}" = 1 ] && tag="$srv (rapid commit)"
    [ "${RAPID:-0}" = 1 ] || say "client vs $tag: dhclient -6 -P -1 (s):$times_dh -> median $(echo "$times_dh" | tr ' ' '\n' | grep -v FAIL | grep . | sort -g | awk '{a[NR]=$1} END {print NR ? a[int((NR + 1) / 2)] : "NA"}')"
    if [ -x "$BIN_DIR/pd-client" ]; then
        say "client vs $tag: pd-client request (s):$times_pc -> median $(echo "$times_pc" | tr ' ' '\n' | grep -v FAIL | grep . | sort -g | awk '{a[NR]=$1} END {print NR ? a[int((NR + 1) / 2)] : "NA"}')"
    fi
}

section_client() {
    say "## client: time from start to a bound prefix, $CLIENT_RUNS runs each (fresh client state each run)"
    if [ ! -x "$BIN_DIR/pd-client" ]; then
        say "pd-client: not built in $BIN_DIR (not landed yet): dhclient only"
    fi
    command -v dhclient >/dev/null || die "dhclient not installed"
    client_runs pd
    client_runs kea
    # RFC 9915 §18.2.1: without Preference 255 a client collects Advertises
    # for the first retransmission time (~1 s) before it sends its Request.
    say "with Preference 255 in the servers' Advertise (clients may Request at once):"
    PREF255=1 client_runs pd
    PREF255=1 client_runs kea
    # RFC 9915 §18.2.1: a Reply with Rapid Commit to a Solicit with Rapid
    # Commit ends the exchange at once (both servers configured for it;
    # pd-client request --rapid-commit).
    say "with Rapid Commit (servers allow it; pd-client request --rapid-commit):"
    RAPID=1 client_runs pd
    RAPID=1 client_runs kea
}
