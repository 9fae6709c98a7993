#!/usr/bin/env bash
# Packaging test (root; CI runs it through tests/tests/packaging.rs).
#
#   tests/packaging/test-packages.sh
#
# 1. scripts/build-packages.sh builds the .debs and .rpms (target/packages/).
# 2. dpkg -i the .debs on this machine; every file lands where it should,
#    /etc files are conffiles, the units are enabled (not started).
# 3. systemd-analyze verify accepts the installed units (and rejects a copy
#    whose ExecStart binary is missing, so the check can fail);
#    systemd-analyze security --offline rates them; the capability set is
#    exactly CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW.
# 4. The installed daemons check their shipped configurations, then run in
#    network namespaces (server <-> client, client <-> LAN), twice:
#    a. under setpriv, as a non-root user holding only the unit's
#       AmbientCapabilities, no-new-privs, NOTIFY_SOCKET read back;
#    b. as the installed units under a real systemd started as PID 1 of
#       private namespaces (tests/packaging/systemd-ns.sh): DynamicUser,
#       capabilities, seccomp, read-only /, systemctl reload/stop.
#    ISC dhclient and pd-client get prefixes from pd-server; the shipped
#    hooks install/withdraw routes and record prefixes; pd-client puts a
#    router address on the LAN, an unreachable route, and sends RAs.
# 5. dpkg -r keeps conffiles and state, dpkg --purge removes everything the
#    packages and their services created (state in /var/lib included).
# 6. The .rpms: rpm -qpl / --configfiles / --scripts show the files, the
#    noreplace config and the scriptlets; the scriptlets run with a stub
#    systemctl do the right thing per $1 and never fail.
#
# Environment: PD_PACKAGES (default "pd-server pd-client"), PD_PKG_KEEP=1
# leaves the packages installed at the end.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

packages=(${PD_PACKAGES:-pd-server pd-client})
pkgdir="$root/target/packages"
passed=0
t0=$SECONDS

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
ok() {
    passed=$((passed + 1))
    echo "ok $passed - $*"
}
# check DESCRIPTION CMD...: CMD must succeed.
check() {
    local what="$1"
    shift
    "$@" || fail "$what (command: $*)"
    ok "$what"
}
has() { [[ " ${packages[*]} " == *" $1 "* ]]; }

[ "$(id -u)" = 0 ] || fail "run as root (dpkg -i, network namespaces)"

# ---- tools -------------------------------------------------------------
need=(systemd rpm iproute2 isc-dhcp-client socat man-db util-linux ndisc6)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# ---- scratch, namespaces, cleanup ----------------------------------------
tag="pdpkg$$"
work="$(mktemp -d /tmp/pd-pkg-test.XXXXXX)"
chmod 711 "$work"
ns_s="${tag}s"
ns_c="${tag}c"
bg_pids=()

purge_all() {
    for p in "${packages[@]}"; do
        if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qv "not-installed"; then
            dpkg --purge "$p" >/dev/null 2>&1 || true
        fi
    done
}
# shellcheck source=tests/packaging/systemd-ns.sh
source "$root/tests/packaging/systemd-ns.sh"
cleanup() {
    local rc=$?
    # Best effort from here on: one failing step must not skip the rest.
    set +eu
    for n in "${!sd_cg[@]}"; do
        if [ "$rc" != 0 ] && [ -n "${sd_pid[$n]:-}" ]; then
            echo "---- nested systemd $n: units" >&2
            sd "$n" systemctl --no-pager status --all >&2 2>&1 || true
            sd "$n" sh -c 'tail -n 40 /run/*.log' >&2 2>&1 || true
        fi
        sd_stop "$n"
    done
    for pid in "${bg_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    ip netns delete "$ns_s" 2>/dev/null || true
    ip netns delete "$ns_c" 2>/dev/null || true
    if [ "$rc" != 0 ]; then
        for f in "$work"/*.log; do
            [ -f "$f" ] || continue
            echo "---- $f" >&2
            tail -n 40 "$f" >&2
        done
    fi
    [ "${PD_PKG_KEEP:-}" = 1 ] || purge_all
    rm -rf "$work"
    echo "== $passed checks passed, $((SECONDS - t0)) s; exit $rc"
}
trap cleanup EXIT

# ---- 1. build ----------------------------------------------------------
echo "== build (scripts/build-packages.sh)"
b0=$SECONDS
PD_PACKAGES="${packages[*]}" "$root/scripts/build-packages.sh"
echo "== build took $((SECONDS - b0)) s"
debs=()
rpms=()
for p in "${packages[@]}"; do
    d=("$pkgdir/${p}_"*.deb)
    r=("$pkgdir/${p}-"*.rpm)
    [ -f "${d[0]}" ] || fail "no .deb for $p in $pkgdir"
    [ -f "${r[0]}" ] || fail "no .rpm for $p in $pkgdir"
    debs+=("${d[0]}")
    rpms+=("${r[0]}")
done
ok "built ${debs[*]##*/} ${rpms[*]##*/}"

# ---- 2. install -----------------------------------------------------------
purge_all
echo "== dpkg -i"
dpkg -i "${debs[@]}"
for p in "${packages[@]}"; do
    check "$p is installed" bash -c "dpkg-query -W -f='\${Status}' $p | grep -q 'install ok installed'"
done

expect_files() {
    local p="$1"
    shift
    local listed
    listed="$(dpkg -L "$p")"
    for f in "$@"; do
        grep -qx "$f" <<<"$listed" || fail "$p: dpkg -L does not list $f"
        [ -e "$f" ] || fail "$p: $f is listed but missing"
    done
    ok "$p: $# files in place"
}

check_package_files() {
    local p="$1"
    local unit="/usr/lib/systemd/system/$p.service"
    local conf="/etc/$p/$p.toml"
    expect_files "$p" "/usr/bin/$p" "$unit" "$conf" \
        "/usr/share/man/man8/$p.8.gz" \
        "/usr/share/bash-completion/completions/$p" \
        "/usr/share/zsh/vendor-completions/_$p" \
        "/usr/share/fish/vendor_completions.d/$p.fish" \
        "/usr/share/pd/hooks/$p.sh" \
        "/usr/share/doc/$p/copyright"
    check "$p: /usr/bin/$p is executable" test -x "/usr/bin/$p"
    check "$p: hook $p.sh is executable" test -x "/usr/share/pd/hooks/$p.sh"
    check "$p: installed unit is packaging/systemd/$p.service" cmp -s "$unit" "packaging/systemd/$p.service"
    check "$p: installed config is packaging/$p.toml" cmp -s "$conf" "packaging/$p.toml"
    check "$p: $conf is a conffile" bash -c "dpkg-query -W -f='\${Conffiles}\n' $p | grep -q ' $conf '"
    check "$p: no other conffiles" bash -c "[ \$(dpkg-query -W -f='\${Conffiles}\n' $p | grep -c .) = 1 ]"
    check "$p: man finds the page" bash -c "man -w $p | grep -qx /usr/share/man/man8/$p.8.gz"
    check "$p: man page renders with a NAME section" bash -c "MANWIDTH=80 man -P cat $p 2>/dev/null | grep -q '^NAME'"
    check "$p: bash completion registers" bash -c "source /usr/share/bash-completion/completions/$p && complete -p $p | grep -Eq -- '^complete .*-F _[a-z_]+ $p\$'"
    check "$p: zsh completion header" bash -c "head -n1 /usr/share/zsh/vendor-completions/_$p | grep -qx '#compdef $p'"
    check "$p: fish completion" grep -q "^complete -c $p " "/usr/share/fish/vendor_completions.d/$p.fish"
    # deb-systemd-helper enables without a running systemd; nothing starts it.
    check "$p: unit enabled (multi-user.target.wants)" test -L "/etc/systemd/system/multi-user.target.wants/$p.service"
    check "$p: --version runs" bash -c "/usr/bin/$p --version | grep -q '^$p '"
}
for p in "${packages[@]}"; do
    check_package_files "$p"
done
if has pd-server; then
    expect_files pd-server /usr/share/pd/hooks/README.md
fi
if has pd-client; then
    expect_files pd-client /usr/share/pd/hooks/neutron-pd-notify.sh /usr/share/doc/pd-client/hooks.md
fi

# ---- 3. units ----------------------------------------------------------------
check_unit() {
    local p="$1"
    local unit="/usr/lib/systemd/system/$p.service"
    local out
    # verify also checks that ExecStart's binary exists and man:$p(8)
    # resolves, so it is meaningful only with the package installed.
    out="$(systemd-analyze verify "$unit" 2>&1)" || fail "systemd-analyze verify $unit: $out"
    [ -z "$out" ] || fail "systemd-analyze verify $unit complained: $out"
    ok "$p: systemd-analyze verify accepts $unit"
    sed "s|^ExecStart=/usr/bin/$p |ExecStart=/usr/bin/$p-missing |" "$unit" >"$work/$p.service"
    if systemd-analyze verify "$work/$p.service" >/dev/null 2>&1; then
        fail "systemd-analyze verify accepted a unit whose binary is missing"
    fi
    ok "$p: systemd-analyze verify rejects a unit with a missing binary"
    out="$(systemd-analyze security --offline=yes "$unit" 2>&1)" || fail "systemd-analyze security: $out"
    local level
    level="$(sed -n "s/.*Overall exposure level for $p.service: \([0-9.]*\).*/\1/p" <<<"$out")"
    [ -n "$level" ] || fail "no exposure level in: $out"
    awk -v l="$level" 'BEGIN { exit !(l <= 2.5) }' || fail "$p: exposure $level > 2.5: $out"
    ok "$p: systemd-analyze security exposure $level (<= 2.5)"
    for setting in 'User=/DynamicUser=' 'NoNewPrivileges=' 'ProtectSystem=' 'ProtectHome=' \
        'PrivateTmp=' 'ProtectKernelModules=' 'ProtectControlGroups=' 'RestrictNamespaces=~user' \
        'LockPersonality=' 'MemoryDenyWriteExecute=' 'RestrictRealtime=' 'SystemCallArchitectures=' \
        'SystemCallFilter=~@swap' 'CapabilityBoundingSet=~CAP_SYS_ADMIN' 'RestrictAddressFamilies=~AF_PACKET'; do
        grep -qF "✓ $setting" <<<"$out" || fail "$p: security does not pass $setting"
    done
    ok "$p: hardening settings in effect"
    local want="CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW"
    check "$p: AmbientCapabilities=$want" grep -qx "AmbientCapabilities=$want" "$unit"
    check "$p: CapabilityBoundingSet=$want" grep -qx "CapabilityBoundingSet=$want" "$unit"
    check "$p: RestrictAddressFamilies" grep -qx "RestrictAddressFamilies=AF_UNIX AF_INET6 AF_NETLINK" "$unit"
    check "$p: Type=notify, reload by SIGHUP" bash -c "grep -qx Type=notify $unit && grep -qx 'ExecReload=/bin/kill -HUP \$MAINPID' $unit"
    check "$p: StateDirectory=$p" grep -qx "StateDirectory=$p" "$unit"
    if [ "$p" = pd-server ]; then
        # The lease checkpoint lowers itself to nice 19 (store/background.rs).
        check "$p: SystemCallFilter=setpriority after ~@resources" \
            bash -c "grep -A3 -x 'SystemCallFilter=~@privileged @resources' $unit | grep -qx SystemCallFilter=setpriority"
    fi
}
for p in "${packages[@]}"; do
    check_unit "$p"
done

# Run a command as the unit runs it: a non-root user holding only the unit's
# AmbientCapabilities (inheritable, ambient and bounding set), no-new-privs.
run_uid=61234
unit_caps() {
    sed -n 's/^AmbientCapabilities=//p' "/usr/lib/systemd/system/$1.service" |
        tr ' ' '\n' | sed -n 's/^CAP_\(.*\)/+\L\1/p' | paste -sd, -
}
# Sets the array `as_unit` to the setpriv command line for package $1.
unit_setpriv() {
    local caps
    caps="$(unit_caps "$1")"
    [ -n "$caps" ] || fail "$1: no AmbientCapabilities in the unit"
    as_unit=(setpriv --reuid="$run_uid" --regid="$run_uid" --clear-groups
        --inh-caps="-all,$caps" --ambient-caps="-all,$caps" --bounding-set="-all,$caps"
        --no-new-privs)
}

wait_for() { # SECONDS DESCRIPTION CMD...
    local limit=$((SECONDS + $1)) what="$2"
    shift 2
    until "$@"; do
        [ $SECONDS -lt $limit ] || fail "timed out waiting for: $what"
        sleep 0.2
    done
}

# ISC dhclient in the client namespace as the requesting router.
# dh_request NAME: sets $prefix. dh_release NAME.
dh_request() {
    timeout 40 ip netns exec "$ns_c" dhclient -6 -P -1 -v -lf "$work/$1.leases" \
        -pf "$work/$1.pid" -sf /bin/true cli0 >>"$work/$1.log" 2>&1 ||
        fail "dhclient ($1) got no prefix"
    [ -f "$work/$1.pid" ] && bg_pids+=("$(cat "$work/$1.pid")")
    prefix="$(sed -n 's/.*iaprefix \([0-9a-f:]*\/[0-9]*\) {.*/\1/p' "$work/$1.leases" | tail -n1)"
    [[ "$prefix" == 2001:db8:2222:*/56 ]] || fail "unexpected delegated prefix '$prefix'"
    ok "dhclient ($1) was delegated $prefix"
}
route_up() {
    has_route() { ip -n "$ns_s" -6 route show "$prefix" | grep -q "via fe80::ff:fe00:2 dev srv0"; }
    wait_for 10 "route $prefix via fe80::ff:fe00:2 (hook)" has_route
    ok "the shipped hook installed $prefix via fe80::ff:fe00:2 dev srv0"
}
dh_release() {
    timeout 30 ip netns exec "$ns_c" dhclient -6 -P -r -v -lf "$work/$1.leases" \
        -pf "$work/$1.pid" -sf /bin/true cli0 >>"$work/$1.log" 2>&1 ||
        fail "dhclient -r ($1) failed"
    route_gone() { ! ip -n "$ns_s" -6 route show "$prefix" | grep -q .; }
    wait_for 10 "route $prefix withdrawn after Release" route_gone
    ok "Release ran the delete hook: route withdrawn"
}

# ---- pd-client runs (called while the server runs) --------------------------
# The shipped client configuration pointed at the test links: upstream cli0,
# downstream lan0; with the shipped hook when $2 is "hook".
client_config() { # STATE_DIR|"" hook|nohook > file
    local c
    c="$(sed -e 's/^interface = "eth0"/interface = "cli0"/' \
        -e 's/^interface = "eth1"/interface = "lan0"/' /etc/pd-client/pd-client.toml)"
    [ -z "$1" ] || c="$(sed "s|^state-dir = .*|state-dir = \"$1\"|" <<<"$c")"
    if [ "$2" = hook ]; then
        c="$(sed -e 's/^# \[hooks\]/[hooks]/' \
            -e 's|^# script = "/usr/share/pd/hooks/pd-client.sh"|script = "/usr/share/pd/hooks/pd-client.sh"|' <<<"$c")"
        grep -q '^script = "/usr/share/pd/hooks/pd-client.sh"' <<<"$c" || fail "could not enable the client hook"
    fi
    grep -q '^interface = "cli0"' <<<"$c" && grep -q '^interface = "lan0"' <<<"$c" ||
        fail "the shipped pd-client.toml no longer names eth0/eth1"
    echo "$c"
}

# What a working pd-client shows: a router address from the delegation on
# lan0, the unreachable route for the delegated prefix, RAs on the LAN
# carrying the /64, the server's return route. Sets $cprefix (the /56).
client_is_working() { # LABEL
    local label="$1" addr
    has_addr() { ip -n "$ns_c" -6 addr show dev lan0 scope global | grep -q 'inet6 2001:db8:2222:'; }
    wait_for 20 "$label: a 2001:db8:2222: address on lan0" has_addr
    addr="$(ip -n "$ns_c" -6 addr show dev lan0 scope global | sed -n 's/.*inet6 \(2001:db8:2222:[0-9a-f:]*\/64\).*/\1/p' | head -n1)"
    cprefix="$(ip -n "$ns_c" -6 route show type unreachable | sed -n 's/^unreachable \(2001:db8:2222:[0-9a-f:]*\/56\).*/\1/p' | head -n1)"
    [ -n "$cprefix" ] || fail "$label: no unreachable route for the delegated /56: $(ip -n "$ns_c" -6 route show type unreachable)"
    ok "$label: pd-client got $cprefix, router address $addr on lan0, unreachable $cprefix"
    prefix="$cprefix"
    route_up
    local ra
    ra="$(ip netns exec "$ns_c" rdisc6 -1 -w 2000 -r 5 lanp 2>&1)" || fail "$label: no RA on lanp: $ra"
    grep -q "Prefix *: *${addr%::*}::/64" <<<"$ra" || fail "$label: RA lacks ${addr%::*}::/64: $ra"
    ok "$label: RA on the LAN (rdisc6) carries ${addr%::*}::/64"
}

client_setpriv_run() {
    check "shipped config passes pd-client check-config" bash -c \
        "/usr/bin/pd-client check-config /etc/pd-client/pd-client.toml | grep -q ': ok'"
    sed 's/^subnet-id = 0/subnet-id = -1/' /etc/pd-client/pd-client.toml >"$work/cbad.toml"
    if /usr/bin/pd-client check-config "$work/cbad.toml" >/dev/null 2>"$work/cbad.log"; then
        fail "pd-client check-config accepted subnet-id = -1"
    fi
    check "pd-client check-config names the bad key" grep -q "subnet-id" "$work/cbad.log"

    local cstate="$work/cstate"
    mkdir -m 700 "$cstate"
    chown "$run_uid:$run_uid" "$cstate"
    client_config "$cstate" nohook >"$work/pd-client.toml"
    check "client test config passes check-config" /usr/bin/pd-client check-config "$work/pd-client.toml"
    socat -u "UNIX-RECV:$work/cnotify,mode=666" "OPEN:$work/cnotify.log,creat,append" &
    bg_pids+=($!)
    wait_for 5 "notify socket" test -S "$work/cnotify"
    unit_setpriv pd-client
    ip netns exec "$ns_c" env NOTIFY_SOCKET="$work/cnotify" RUST_LOG=info "${as_unit[@]}" \
        /usr/bin/pd-client run --config "$work/pd-client.toml" >"$work/client.log" 2>&1 &
    local client_pid=$!
    bg_pids+=($client_pid)
    wait_for 15 "READY=1 from pd-client" grep -q READY=1 "$work/cnotify.log"
    ok "pd-client (uid $run_uid, caps $(unit_caps pd-client)) sent READY=1"
    client_is_working "setpriv"
    check "pd-client status shows $cprefix" bash -c \
        "/usr/bin/pd-client status --json --state-dir '$cstate' | grep -q '${cprefix%/*}'"
    kill -HUP "$client_pid"
    wait_for 10 "pd-client configuration reloaded" grep -q "configuration reloaded" "$work/client.log"
    kill -0 "$client_pid" || fail "pd-client died after SIGHUP"
    ok "pd-client: SIGHUP reloads"
    kill -TERM "$client_pid"
    local stopped=0
    for _ in $(seq 100); do
        if ! kill -0 "$client_pid" 2>/dev/null; then stopped=1; break; fi
        sleep 0.1
    done
    [ $stopped = 1 ] || fail "pd-client did not stop within 10 s of SIGTERM"
    wait "$client_pid" || fail "pd-client exited with status $? after SIGTERM"
    route_gone() { ! ip -n "$ns_s" -6 route show "$cprefix" | grep -q .; }
    wait_for 10 "server route for $cprefix withdrawn (client released)" route_gone
    ok "SIGTERM: pd-client released $cprefix (server withdrew the route) and exited 0"
}

client_systemd_run() {
    client_config "" hook >"$work/unit-pd-client.toml"
    check "client unit test config passes check-config" /usr/bin/pd-client check-config "$work/unit-pd-client.toml"
    sd_start cli "$ns_c" pd-client.service "$work/unit-pd-client.toml"
    cactive() { [ "$(sd cli systemctl is-active pd-client.service)" = active ]; }
    wait_for 20 "pd-client.service active" cactive
    ok "systemd started pd-client.service; active once it sent READY=1 (Type=notify)"
    sd_check_sandbox cli pd-client.service
    # The sysctls the client may set stay writable for the service user.
    local pid mounts
    pid="$(sd cli systemctl show -p MainPID --value pd-client.service)"
    mounts="$(sd cli cat "/proc/$pid/mountinfo")"
    awk '$5 == "/proc/sys/net/ipv6/conf" { print $6 }' <<<"$mounts" | tail -n1 | grep -q '^rw' ||
        fail "pd-client.service: /proc/sys/net/ipv6/conf is not writable (ReadWritePaths)"
    unit_setpriv pd-client
    sd cli nsenter -t "$pid" -m "${as_unit[@]}" sh -c 'echo 1 >/proc/sys/net/ipv6/conf/lan0/proxy_ndp' ||
        fail "the service user cannot write /proc/sys/net/ipv6/conf/lan0/proxy_ndp in the unit's mount namespace"
    [ "$(ip netns exec "$ns_c" sysctl -n net.ipv6.conf.lan0.proxy_ndp)" = 1 ] || fail "proxy_ndp write did not land"
    ip netns exec "$ns_c" sysctl -q -w net.ipv6.conf.lan0.proxy_ndp=0
    ok "pd-client.service: /proc/sys/net/ipv6/conf writable for its user with CAP_NET_ADMIN (rest of /proc/sys read-only)"
    client_is_working "systemd"
    hook_file() { sd cli grep -q "^${cprefix} " /run/pd-client/cli0.prefixes; }
    wait_for 10 "hook output /run/pd-client/cli0.prefixes" hook_file
    ok "the shipped hook pd-client.sh wrote /run/pd-client/cli0.prefixes (RuntimeDirectory)"
    sd cli systemctl reload pd-client.service
    creloaded() { sd cli cat /run/pd-client.log | grep -q 'configuration reloaded'; }
    wait_for 10 "pd-client reload under systemd" creloaded
    cactive || fail "pd-client.service not active after reload"
    ok "pd-client: systemctl reload re-read the configuration"
    sd cli systemctl stop pd-client.service
    [ "$(sd cli systemctl show -p Result --value pd-client.service)" = success ] ||
        fail "pd-client.service did not stop cleanly: $(sd cli systemctl status pd-client.service 2>&1)"
    route_gone() { ! ip -n "$ns_s" -6 route show "$cprefix" | grep -q .; }
    wait_for 10 "server route for $cprefix withdrawn (client released)" route_gone
    ok "systemctl stop: pd-client.service released $cprefix, Result=success"
    sd_stop cli
}

# ---- 4. run the installed server -------------------------------------------
if has pd-server; then
    check "shipped config passes pd-server check-config" bash -c \
        "/usr/bin/pd-server check-config /etc/pd-server/pd-server.toml | grep -q ': ok'"
    sed 's/^prefix = .*/prefix = "not-a-prefix"/' /etc/pd-server/pd-server.toml >"$work/bad.toml"
    if /usr/bin/pd-server check-config "$work/bad.toml" >/dev/null 2>"$work/bad.log"; then
        fail "check-config accepted an invalid prefix"
    fi
    check "check-config names the bad key" grep -q "pool\[0\].prefix" "$work/bad.log"

    # Two namespaces, one veth; DAD off; fixed MACs.
    for ns in "$ns_s" "$ns_c"; do
        ip netns add "$ns"
        ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
        ip -n "$ns" link set lo up
    done
    ip -n "$ns_s" link add srv0 address 02:00:00:00:00:01 type veth peer name cli0 address 02:00:00:00:00:02 netns "$ns_c"
    ip -n "$ns_s" link set srv0 up
    ip -n "$ns_c" link set cli0 up
    # The client's LAN: lan0 (pd-client's downstream) to lanp (a host).
    ip -n "$ns_c" link add lan0 address 02:00:00:00:01:01 type veth peer name lanp address 02:00:00:00:01:02
    ip -n "$ns_c" link set lan0 up
    ip -n "$ns_c" link set lanp up
    lladdr() { ip -n "$1" -6 addr show dev "$2" scope link | grep -v tentative | grep -q 'inet6 fe80::'; }
    for l in "$ns_s srv0" "$ns_c cli0" "$ns_c lan0" "$ns_c lanp"; do
        # shellcheck disable=SC2086
        wait_for 10 "link-local address on $l" lladdr $l
    done

    # The shipped configuration with the test's interface and state-dir,
    # routes left to the shipped hook script.
    state="$work/state"
    mkdir -m 700 "$state"
    chown "$run_uid:$run_uid" "$state"
    sed -e 's/^interfaces = .*/interfaces = ["srv0"]/' \
        -e "s|^state-dir = .*|state-dir = \"$state\"|" \
        -e 's/^delegated-length = 64/delegated-length = 56/' \
        -e 's/^install = true/install = false/' \
        -e 's|^# script = "/usr/share/pd/hooks/pd-server.sh"|script = "/usr/share/pd/hooks/pd-server.sh"|' \
        /etc/pd-server/pd-server.toml >"$work/pd-server.toml"
    grep -q '^script = "/usr/share/pd/hooks/pd-server.sh"' "$work/pd-server.toml" || fail "could not enable the hook in the test config"
    check "test config passes check-config" /usr/bin/pd-server check-config "$work/pd-server.toml"

    # sd_notify receiver.
    socat -u "UNIX-RECV:$work/notify,mode=666" "OPEN:$work/notify.log,creat,append" &
    bg_pids+=($!)
    wait_for 5 "notify socket" test -S "$work/notify"

    unit_setpriv pd-server
    ip netns exec "$ns_s" env NOTIFY_SOCKET="$work/notify" RUST_LOG=info "${as_unit[@]}" \
        /usr/bin/pd-server run --config "$work/pd-server.toml" >"$work/server.log" 2>&1 &
    server_pid=$!
    bg_pids+=($server_pid)
    wait_for 15 "READY=1 from pd-server" grep -q READY=1 "$work/notify.log"
    ok "pd-server (uid $run_uid, caps $(unit_caps pd-server)) sent READY=1"
    check "server DUID written to the state-dir as the service user" \
        bash -c "[ \"\$(stat -c %u '$state/duid')\" = $run_uid ]"

    dh_request dh1
    route_up
    check "pd-server leases list (control socket) shows $prefix" bash -c \
        "/usr/bin/pd-server leases --state-dir '$state' list --json | grep -q '${prefix%/*}'"
    kill -HUP "$server_pid"
    wait_for 10 "configuration reloaded" grep -q "configuration reloaded" "$work/server.log"
    kill -0 "$server_pid" || fail "pd-server died after SIGHUP"
    ok "SIGHUP reloads"
    dh_release dh1

    has pd-client && client_setpriv_run

    kill -TERM "$server_pid"
    stopped=0
    for _ in $(seq 50); do
        if ! kill -0 "$server_pid" 2>/dev/null; then stopped=1; break; fi
        sleep 0.1
    done
    [ $stopped = 1 ] || fail "pd-server did not stop within 5 s of SIGTERM"
    wait "$server_pid" || fail "pd-server exited with status $? after SIGTERM"
    ok "SIGTERM stops pd-server with status 0"
    check "control socket removed on stop" test ! -e "$state/control.sock"

    # ---- 4b. the same under systemd, through the installed unit ----------
    # The unit reads /etc/pd-server/pd-server.toml: the shipped file with the
    # test interface and the hook (state-dir stays /var/lib/pd-server).
    sed -e 's/^interfaces = .*/interfaces = ["srv0"]/' \
        -e 's/^delegated-length = 64/delegated-length = 56/' \
        -e 's/^install = true/install = false/' \
        -e 's|^# script = "/usr/share/pd/hooks/pd-server.sh"|script = "/usr/share/pd/hooks/pd-server.sh"|' \
        /etc/pd-server/pd-server.toml >"$work/unit-pd-server.toml"
    check "unit test config passes check-config" /usr/bin/pd-server check-config "$work/unit-pd-server.toml"
    sd_start srv "$ns_s" pd-server.service "$work/unit-pd-server.toml"
    active() { [ "$(sd srv systemctl is-active pd-server.service)" = active ]; }
    wait_for 20 "pd-server.service active" active
    ok "systemd started pd-server.service; active once it sent READY=1 (Type=notify)"
    sd_check_sandbox srv pd-server.service
    dh_request dh2
    route_up
    ok "under systemd the hook ran as the dynamic user with CAP_NET_ADMIN"
    sd srv systemctl reload pd-server.service
    reloaded() { sd srv cat /run/pd-server.log | grep -q 'configuration reloaded'; }
    wait_for 10 "reload under systemd" reloaded
    active || fail "pd-server.service not active after reload"
    ok "systemctl reload (ExecReload, SIGHUP) re-read the configuration"
    dh_release dh2

    has pd-client && client_systemd_run

    sd srv systemctl stop pd-server.service
    [ "$(sd srv systemctl show -p Result --value pd-server.service)" = success ] ||
        fail "pd-server.service did not stop cleanly: $(sd srv systemctl status pd-server.service 2>&1)"
    [ "$(sd srv systemctl is-active pd-server.service)" = inactive ] || fail "pd-server.service still active"
    ok "systemctl stop: pd-server.service inactive, Result=success"
    sd_stop srv
fi

# ---- 5. remove and purge ------------------------------------------------------
# State as the units' DynamicUser+StateDirectory leave it: the directory in
# /var/lib/private, a symlink in /var/lib.
[ -d /var/lib/private ] || made_private=1
mkdir -p /var/lib/private
chmod 700 /var/lib/private
for p in "${packages[@]}"; do
    dpkg -L "$p" | sort >"$work/$p.files"
    mkdir -p "/var/lib/private/$p"
    echo test >"/var/lib/private/$p/duid"
    ln -sfn "private/$p" "/var/lib/$p"
    echo "# local edit" >>"/etc/$p/$p.toml"
done
echo "== dpkg -i again (reinstall keeps an edited conffile)"
dpkg -i "${debs[@]}" >/dev/null
for p in "${packages[@]}"; do
    check "$p: reinstall kept the edited /etc/$p/$p.toml" grep -qx "# local edit" "/etc/$p/$p.toml"
done
echo "== dpkg -r"
dpkg -r "${packages[@]}"
for p in "${packages[@]}"; do
    check "$p: remove deletes /usr/bin/$p" test ! -e "/usr/bin/$p"
    check "$p: remove deletes the unit" test ! -e "/usr/lib/systemd/system/$p.service"
    check "$p: remove keeps the conffile" test -f "/etc/$p/$p.toml"
    check "$p: remove keeps the state" test -f "/var/lib/$p/duid"
done
echo "== dpkg --purge"
dpkg --purge "${packages[@]}"
for p in "${packages[@]}"; do
    check "$p: purged" bash -c "! dpkg-query -W -f='\${Status}' $p 2>/dev/null | grep -q installed"
    left=()
    while read -r f; do
        # Directories shared with other packages (/usr/bin, /etc, ...) stay.
        [ -d "$f" ] && [ ! -L "$f" ] && continue
        { [ -e "$f" ] || [ -L "$f" ]; } && left+=("$f")
    done <"$work/$p.files"
    [ ${#left[@]} = 0 ] || fail "$p: purge left files behind: ${left[*]}"
    ok "$p: every packaged file is gone"
    for d in "/etc/$p" "/var/lib/$p" "/var/lib/private/$p" "/usr/share/doc/$p" \
        "/etc/systemd/system/multi-user.target.wants/$p.service" "/etc/systemd/system/$p.service" \
        "/var/lib/systemd/deb-systemd-helper-enabled/$p.service" \
        "/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/$p.service"; do
        { [ -e "$d" ] || [ -L "$d" ]; } && fail "$p: purge left $d"
    done
    ok "$p: purge removed /etc/$p, its state and the enablement symlinks"
done
if [ -d /usr/share/pd ]; then
    fail "purge left /usr/share/pd: $(find /usr/share/pd)"
fi
ok "/usr/share/pd is gone"
[ "${made_private:-}" = 1 ] && rmdir /var/lib/private

# ---- 6. rpms ----------------------------------------------------------------
for i in "${!packages[@]}"; do
    p="${packages[$i]}"
    r="${rpms[$i]}"
    files="$(rpm -qpl "$r" 2>/dev/null)"
    for f in "/usr/bin/$p" "/usr/lib/systemd/system/$p.service" "/etc/$p/$p.toml" \
        "/usr/share/man/man8/$p.8.gz" "/usr/share/bash-completion/completions/$p" \
        "/usr/share/zsh/site-functions/_$p" "/usr/share/fish/vendor_completions.d/$p.fish" \
        "/usr/share/pd/hooks/$p.sh"; do
        grep -qx "$f" <<<"$files" || fail "$p.rpm lacks $f; has: $files"
    done
    ok "$p.rpm: rpm -qpl lists binary, unit, config, man, completions, hook"
    check "$p.rpm: /etc/$p/$p.toml is %config(noreplace)" bash -c \
        "rpm -qp --qf '[%{FILENAMES} %{FILEFLAGS:fflags}\n]' '$r' 2>/dev/null | grep -qx '/etc/$p/$p.toml cn'"
    check "$p.rpm: only that config file" bash -c "[ \"\$(rpm -qp --configfiles '$r' 2>/dev/null)\" = /etc/$p/$p.toml ]"
    scripts="$(rpm -qp --scripts "$r" 2>/dev/null)"
    for s in postinstall preuninstall postuninstall; do
        grep -q "^$s scriptlet" <<<"$scripts" || fail "$p.rpm: no $s scriptlet in: $scripts"
    done
    ok "$p.rpm: %post, %preun and %postun scriptlets present"

    # Run each scriptlet with a stub systemctl that logs its arguments (and
    # fails, to show a failing systemctl never fails the transaction).
    mkdir -p "$work/stub"
    printf '#!/bin/sh\necho "$*" >>"%s"\nexit 1\n' "$work/systemctl.log" >"$work/stub/systemctl"
    chmod 755 "$work/stub/systemctl"
    scriptlet() { # NAME ARG -> the systemctl calls it made
        rpm -qp --qf "%{$1}" "$r" 2>/dev/null >"$work/scriptlet.sh"
        : >"$work/systemctl.log"
        PATH="$work/stub:/usr/bin:/bin" sh "$work/scriptlet.sh" "$2" ||
            fail "$p.rpm: $1 with \$1=$2 failed"
        tr '\n' ';' <"$work/systemctl.log"
    }
    got="$(scriptlet POSTIN 1)"
    [[ "$got" == *"preset $p.service"* ]] || fail "$p.rpm %post 1: '$got'"
    [[ "$got" != *start* ]] || fail "$p.rpm %post 1 starts the service: '$got'"
    got="$(scriptlet POSTIN 2)"
    [[ "$got" != *preset* && "$got" != *enable* ]] || fail "$p.rpm %post 2 (upgrade): '$got'"
    got="$(scriptlet PREUN 0)"
    [[ "$got" == *"disable $p.service"* ]] || fail "$p.rpm %preun 0: '$got'"
    got="$(scriptlet PREUN 1)"
    [ -z "$got" ] || fail "$p.rpm %preun 1 (upgrade) touched the unit: '$got'"
    scriptlet POSTUN 0 >/dev/null
    scriptlet POSTUN 1 >/dev/null
    ok "$p.rpm: scriptlets preset on install, disable on erase, nothing on upgrade, never fail"
done

echo "== all packaging checks passed"
