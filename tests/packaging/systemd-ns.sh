# Sourced by test-packages.sh: run an installed unit under a real systemd,
# started as PID 1 of private namespaces inside a test network namespace.
#
# The machine's PID 1 need not be systemd. The nested systemd gets:
#  - its own PID, mount and cgroup namespaces; the cgroup namespace is rooted
#    at a fresh child of the machine's cgroup2 hierarchy (no controllers), so
#    it never moves processes between the machine's existing cgroups;
#  - fresh tmpfs on /run, /tmp, /var/tmp and /var/lib, so StateDirectory=,
#    PrivateTmp= and DynamicUser= leave nothing on the machine;
#  - SYSTEMD_UNIT_PATH holding only empty stand-ins for the targets a service
#    depends on by default (so none of the machine's own units start) and a
#    symlink to the installed unit under test, which runs unmodified; a
#    drop-in only sends its stdout/stderr to a file (there is no journald).
# The configuration the unit reads (/etc/PKG/PKG.toml) is bind-mounted from
# a test file inside the private mount namespace.
#
# Needs: fail, ok, wait_for, $work, bg_pids from test-packages.sh.

sd_cgroup_root() {
    local m
    m="$(findmnt -n -t cgroup2 -o TARGET | head -n1)"
    [ -n "$m" ] || fail "no cgroup2 hierarchy mounted: cannot start a nested systemd"
    echo "$m"
}

# sd_start NAME NETNS UNIT CONFIG: start systemd in NETNS with UNIT wanted,
# CONFIG mounted over the unit's /etc file. Sets sd_pid[NAME] (the nested
# PID 1 as seen from here) and records the cgroup to remove.
declare -A sd_pid sd_cg sd_starter
sd_start() {
    local name="$1" netns="$2" unit="$3" config="$4"
    local dir="$work/sd-$name" cgroot
    local pkg="${unit%.service}"
    cgroot="$(sd_cgroup_root)"
    mkdir -p "$dir/units/$unit.d"
    for t in sysinit basic network network-online multi-user shutdown; do
        printf '[Unit]\nDescription=%s (test stand-in)\n' "$t" >"$dir/units/$t.target"
    done
    printf '[Unit]\nDescription=pd packaging test\nWants=%s\n' "$unit" >"$dir/units/pd-test.target"
    ln -s "/usr/lib/systemd/system/$unit" "$dir/units/$unit"
    printf '[Service]\nStandardOutput=file:/run/%s.log\nStandardError=inherit\n' "$pkg" \
        >"$dir/units/$unit.d/test-log.conf"
    cat >"$dir/init.sh" <<EOF
set -e
umount -l /sys/fs/cgroup 2>/dev/null || true
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t proc proc /proc
mount --bind "$config" "/etc/$pkg/$pkg.toml"
mount -t tmpfs -o mode=755 tmpfs /run
mkdir /run/pd-test
mount --bind "$dir" /run/pd-test
for d in /tmp /var/tmp /var/lib; do mount -t tmpfs -o mode=755 tmpfs "\$d"; done
chmod 1777 /tmp /var/tmp
exec env -i container=pd-test SYSTEMD_UNIT_PATH=/run/pd-test/units \
    PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    /lib/systemd/systemd --system --unit=pd-test.target --log-target=null
EOF
    local cg="$cgroot/pd-test-$$-$name"
    mkdir "$cg"
    sd_cg[$name]="$cg"
    # Move the starter into the new cgroup, then unshare: the cgroup
    # namespace is rooted there.
    bash -c "echo \$\$ >'$cg/cgroup.procs' && exec ip netns exec '$netns' \
        unshare --cgroup --mount --pid --fork --propagation private bash '$dir/init.sh'" \
        >"$work/sd-$name.log" 2>&1 &
    local starter=$!
    sd_starter[$name]="$starter"
    # The starter became unshare; its child becomes systemd (after init.sh).
    local limit=$((SECONDS + 10)) child=""
    while :; do
        for c in $(pgrep -P "$starter" || true); do
            [ "$(readlink "/proc/$c/exe" 2>/dev/null)" = /usr/lib/systemd/systemd ] && child="$c"
        done
        [ -n "$child" ] && break
        [ $SECONDS -lt $limit ] || fail "nested systemd for $name did not start: $(cat "$work/sd-$name.log")"
        sleep 0.2
    done
    sd_pid[$name]="$child"
    sd_answers() { sd "$name" systemctl show -p Version --value >/dev/null 2>&1; }
    wait_for 20 "nested systemd ($name) answering" sd_answers
}

# sd NAME CMD...: run CMD inside the nested systemd's namespaces.
sd() {
    local name="$1"
    shift
    nsenter -t "${sd_pid[$name]}" -m -p -n -- "$@"
}

# sd_stop NAME: kill the nested PID 1 (and so its whole PID namespace),
# then remove its cgroups.
sd_stop() {
    local name="$1"
    local pid="${sd_pid[$name]:-}" cg="${sd_cg[$name]:-}" starter="${sd_starter[$name]:-}"
    # Not found yet as systemd: whatever the starter (unshare) forked.
    [ -n "$pid" ] || [ -z "$starter" ] || pid="$(pgrep -P "$starter" | head -n1 || true)"
    if [ -n "$pid" ]; then
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    if [ -n "$cg" ] && [ -d "$cg" ]; then
        for _ in $(seq 50); do
            find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null && break
            sleep 0.1
        done
        [ ! -d "$cg" ] || echo "warning: could not remove $cg" >&2
    fi
    [ -z "$starter" ] || kill "$starter" 2>/dev/null || true
    unset "sd_pid[$name]" "sd_cg[$name]" "sd_starter[$name]"
}

# sd_check_sandbox NAME UNIT: the running service is what the unit promises.
sd_check_sandbox() {
    local name="$1" unit="$2" pid status
    pid="$(sd "$name" systemctl show -p MainPID --value "$unit")"
    [ -n "$pid" ] && [ "$pid" != 0 ] || fail "$unit has no main process"
    status="$(sd "$name" cat "/proc/$pid/status")"
    local uid caps
    uid="$(awk '/^Uid:/ { print $2 }' <<<"$status")"
    [ "$uid" != 0 ] || fail "$unit runs as root"
    for field in CapEff CapPrm CapBnd CapAmb; do
        caps="$(awk -v f="$field:" '$1 == f { print $2 }' <<<"$status")"
        # CAP_NET_BIND_SERVICE (10), CAP_NET_ADMIN (12), CAP_NET_RAW (13).
        [ "$caps" = 0000000000003400 ] || fail "$unit $field is $caps, want 0000000000003400"
    done
    grep -q '^NoNewPrivs:[[:space:]]*1$' <<<"$status" || fail "$unit: NoNewPrivs is not set"
    grep -q '^Seccomp:[[:space:]]*2$' <<<"$status" || fail "$unit: no seccomp filter"
    ok "$unit runs as uid $uid (DynamicUser) with only CAP_NET_{ADMIN,BIND_SERVICE,RAW}, no-new-privs, seccomp"
    sd "$name" test -d "/var/lib/private/${unit%.service}" || fail "no StateDirectory /var/lib/private/${unit%.service}"
    [ "$(sd "$name" stat -c %u "/var/lib/private/${unit%.service}")" = "$uid" ] ||
        fail "StateDirectory not owned by the service user"
    ok "$unit: StateDirectory /var/lib/${unit%.service} (private, owned by the service user)"
    # ProtectSystem=strict: the service sees / read-only.
    local mounts
    mounts="$(sd "$name" cat "/proc/$pid/mountinfo")"
    awk '$5 == "/" { print $6 }' <<<"$mounts" | tail -n1 | grep -q '^ro' ||
        fail "$unit: / is not read-only for the service"
    awk '$5 == "/proc/sys" { print $6 }' <<<"$mounts" | grep -q '^ro' ||
        fail "$unit: /proc/sys is not read-only for the service"
    ok "$unit: / and /proc/sys are read-only for it (ProtectSystem=strict, ProtectKernelTunables)"
}
