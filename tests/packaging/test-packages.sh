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
# 4. The installed pd-server checks the shipped configuration, then runs in a
#    network namespace the way its unit runs it: non-root, holding only the
#    unit's AmbientCapabilities, no-new-privs, NOTIFY_SOCKET set. A client
#    (ISC dhclient) gets a prefix; the shipped route hook installs the route
#    as that user; leases list, SIGHUP, release, SIGTERM.
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
need=(systemd rpm iproute2 isc-dhcp-client socat man-db util-linux)
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
    [[ "$prefix" == 2001:db8:2222:*/64 ]] || fail "unexpected delegated prefix '$prefix'"
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
    lladdr() { ip -n "$1" -6 addr show dev "$2" scope link | grep -v tentative | grep -q 'inet6 fe80::'; }
    wait_for 10 "link-local address on srv0" lladdr "$ns_s" srv0
    wait_for 10 "link-local address on cli0" lladdr "$ns_c" cli0

    # The shipped configuration with the test's interface and state-dir,
    # routes left to the shipped hook script.
    state="$work/state"
    mkdir -m 700 "$state"
    chown "$run_uid:$run_uid" "$state"
    sed -e 's/^interfaces = .*/interfaces = ["srv0"]/' \
        -e "s|^state-dir = .*|state-dir = \"$state\"|" \
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
