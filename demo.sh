#!/usr/bin/env bash
# pd demo: a server delegates a prefix to a router, the router puts it on its
# downstream link and advertises it, a host autoconfigures from it, and its
# ping reaches the server over the return route the server installed.
#
#   sudo ./demo.sh            (builds what it needs; cleans up, also on ^C)
#
# Environment: PD_DEMO_NAME (namespace prefix, default pd-demo),
# PD_BIN_DIR (where pd-server/pd-client are; default: build them),
# PD_DEMO_EXPIRY=1 (short lifetimes, and one more step: a router that
# vanishes without releasing, its lease expiring on the server).
set -uo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
NAME="${PD_DEMO_NAME:-pd-demo}"
UP="$NAME-upstream" RT="$NAME-router" HO="$NAME-host"
EXPIRY="${PD_DEMO_EXPIRY:-0}"

say()  { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '    %s\n' "$@"; }
fail() { printf '\n\033[31mFAILED: %s\033[0m\n' "$*"; dump_logs; exit 1; }

[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (it creates network namespaces)" >&2; exit 1; }

# iproute2 and ping are all the demo needs besides the two daemons.
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null || fail "apt-get install ${need[*]}"
fi

if [ -z "${PD_BIN_DIR:-}" ]; then
    say "building pd-server and pd-client"
    cargo build -q --bins -p pd-server -p pd-client || fail "cargo build"
    PD_BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
fi
SERVER="$PD_BIN_DIR/pd-server" CLIENT="$PD_BIN_DIR/pd-client"
[ -x "$SERVER" ] && [ -x "$CLIENT" ] || fail "no pd-server/pd-client in $PD_BIN_DIR"

WORK=$(mktemp -d /tmp/pd-demo.XXXXXX)
SPID="" CPID=""
cleanup() {
    [ -n "$CPID" ] && kill -KILL "$CPID" 2>/dev/null
    [ -n "$SPID" ] && kill -KILL "$SPID" 2>/dev/null
    wait 2>/dev/null
    "$ROOT/scripts/topology.sh" down "$NAME"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

dump_logs() {
    for f in "$WORK"/*.log; do
        [ -f "$f" ] || continue
        echo "---- $(basename "$f") (last 15 lines)"
        tail -n 15 "$f"
    done
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds.
wait_for() {
    local secs=$1 what=$2; shift 2
    local end=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $end ] && fail "$what (waited ${secs}s)"
        sleep 0.2
    done
}

if [ "$EXPIRY" = 1 ]; then PREF=10 VALID=20; else PREF=3600 VALID=7200; fi

say "making three network namespaces: $UP (server), $RT (router), $HO (host)"
"$ROOT/scripts/topology.sh" up "$NAME" || fail "topology"
show "upstream up0 <-> router wan0;  router lan0 <-> host eth0"
show "the server's own address: 2001:db8:ffff::1 (on its loopback)"

cat > "$WORK/server.toml" <<EOT
[server]
interfaces = ["up0"]
state-dir = "$WORK/server-state"

[[pool]]
prefix = "2001:db8:2222::/48"
delegated-length = 64
preferred-lifetime = $PREF
valid-lifetime = $VALID
EOT
cat > "$WORK/client.toml" <<EOT
[client]
interface = "wan0"
state-dir = "$WORK/client-state"

[[downstream]]
interface = "lan0"
ra = true
ra-mode = "slaac"
EOT

say "starting pd-server in $UP (pool 2001:db8:2222::/48, /64 each)"
ip netns exec "$UP" "$SERVER" run --config "$WORK/server.toml" >"$WORK/server.log" 2>&1 &
SPID=$!
wait_for 10 "pd-server listening" grep -q "pd-server listening" "$WORK/server.log"
show "listening on up0 (ff02::1:2, port 547)"

say "starting pd-client in $RT (upstream wan0, downstream lan0)"
ip netns exec "$RT" "$CLIENT" run --config "$WORK/client.toml" >"$WORK/client.log" 2>&1 &
CPID=$!

leases() { ip netns exec "$UP" "$SERVER" leases --state-dir "$WORK/server-state" list "$@"; }
# The first active lease's prefix, from the JSON list (no jq needed).
active_prefix() {
    leases --json | tr -d ' \n' | grep -o '"prefix":"[^"]*","duid":"[^"]*","iaid":[0-9]*,"state":"active"' \
        | sed 's/"prefix":"\([^"]*\)".*/\1/' | head -n1
}
has_active() { [ -n "$(active_prefix)" ]; }

say "the server delegates a prefix to the router"
wait_for 20 "a lease on the server" has_active
PREFIX=$(active_prefix)
show "pd-server leases list:"
leases | sed 's/^/      /'

say "the server installed the return route via the router's link-local address"
route() { ip -n "$UP" -6 route show "$PREFIX" proto 93; }
wait_for 5 "return route for $PREFIX" sh -c "ip -n '$UP' -6 route show '$PREFIX' proto 93 | grep -q 'via fe80::ff:fe00:102 dev up0'"
show "$(route)"

say "the router put the prefix to work"
ADDR="${PREFIX%/*}1"
wait_for 10 "router address $ADDR on lan0" sh -c "ip -n '$RT' -6 addr show dev lan0 | grep -q ' $ADDR/64'"
show "lan0: $ADDR/64"
wait_for 5 "unreachable route for $PREFIX on the router" sh -c "ip -n '$RT' -6 route show type unreachable | grep -q '${PREFIX}'"
show "$(ip -n "$RT" -6 route show type unreachable | head -n1)   (RFC 7084 WPD-5: unassigned space is not looped upstream)"

say "the host autoconfigures from the router's Router Advertisement"
host_addr() { ip -n "$HO" -6 addr show dev eth0 scope global | sed -n 's/.*inet6 \([^/]*\)\/64.*/\1/p' | grep -v tentative | head -n1; }
wait_for 30 "a SLAAC address from $PREFIX on the host" sh -c "ip -n '$HO' -6 addr show dev eth0 scope global | grep -v tentative | grep -q '${PREFIX%::/64}:'"
HADDR=$(host_addr)
show "eth0: $HADDR (SLAAC, from the advertised prefix)"
wait_for 10 "a default route from the RA on the host" sh -c "ip -n '$HO' -6 route show default | grep -q 'via fe80::ff:fe00:201'"
show "$(ip -n "$HO" -6 route show default | head -n1)"

say "proof: the host pings the server's own address through the router"
if ip netns exec "$HO" ping -6 -c 3 -i 0.3 -W 2 2001:db8:ffff::1 >"$WORK/ping.log" 2>&1; then
    show "$(grep -E 'packets transmitted' "$WORK/ping.log")"
    show "out through the router, back over the server's return route to $PREFIX"
else
    cat "$WORK/ping.log"; fail "ping from the host to 2001:db8:ffff::1"
fi

say "the router stops (SIGTERM): it releases the prefix"
kill -TERM "$CPID"
wait "$CPID"; rc=$?
CPID=""
[ $rc = 0 ] || fail "pd-client exited with $rc"
released() { leases --json | grep -q '"state": "released"'; }
wait_for 10 "lease released on the server" released
show "pd-server leases list:"
leases | sed 's/^/      /'
wait_for 5 "return route withdrawn" sh -c "! ip -n '$UP' -6 route show proto 93 | grep -q ."
show "return route for $PREFIX: gone"

if [ "$EXPIRY" = 1 ]; then
    say "a router that vanishes without releasing: its lease expires"
    ip netns exec "$RT" "$CLIENT" run --config "$WORK/client.toml" >"$WORK/client2.log" 2>&1 &
    CPID=$!
    wait_for 20 "the router's lease again" has_active
    [ "$(active_prefix)" = "$PREFIX" ] || fail "the router got $(active_prefix), not its old $PREFIX"
    show "the same router got the same prefix back: $PREFIX"
    wait_for 5 "return route again" sh -c "ip -n '$UP' -6 route show proto 93 | grep -q ."
    kill -KILL "$CPID"; wait "$CPID" 2>/dev/null; CPID=""
    show "router killed (no Release); waiting for the valid lifetime (${VALID}s)"
    expired() { leases --json | grep -q '"state": "expired"'; }
    wait_for $((VALID + 10)) "lease expired on the server" expired
    wait_for 5 "return route withdrawn after expiry" sh -c "! ip -n '$UP' -6 route show proto 93 | grep -q ."
    show "lease expired and its return route withdrawn"
fi

say "all steps passed; cleaning up"
