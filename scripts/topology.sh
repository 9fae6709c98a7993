#!/usr/bin/env bash
# The demo/test topology: three network namespaces joined by two veth pairs.
#
#   upstream (pd-server)            router (pd-client)            host
#   lo: 2001:db8:ffff::1/128
#   up0 02:00:00:00:01:01 ───── wan0 02:00:00:00:01:02
#                                  lan0 02:00:00:00:02:01 ───── eth0 02:00:00:00:02:02
#
# The router forwards and has a default route to the server's link-local
# address; the host keeps default sysctls (accepts RAs, autoconfigures).
# Nothing leaves these namespaces.
#
# usage: topology.sh up|down [NAME]   (namespaces NAME-upstream, NAME-router, NAME-host)
set -euo pipefail
cmd="${1:?usage: topology.sh up|down [NAME]}"
name="${2:-pd-demo}"
UP="$name-upstream" RT="$name-router" HO="$name-host"

down() {
    for ns in "$UP" "$RT" "$HO"; do
        ip netns delete "$ns" 2>/dev/null || true
    done
}

up() {
    down
    for ns in "$UP" "$RT" "$HO"; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
    done
    # DAD off on the server and router links so their link-locals are usable
    # at once (a DHCP daemon started during DAD cannot bind); the host keeps
    # its defaults.
    for ns in "$UP" "$RT"; do
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    done
    ip link add up0 netns "$UP" address 02:00:00:00:01:01 type veth \
        peer name wan0 netns "$RT" address 02:00:00:00:01:02
    ip link add lan0 netns "$RT" address 02:00:00:00:02:01 type veth \
        peer name eth0 netns "$HO" address 02:00:00:00:02:02
    ip -n "$UP" link set up0 up
    ip -n "$RT" link set wan0 up
    ip -n "$RT" link set lan0 up
    ip -n "$HO" link set eth0 up
    ip -n "$UP" -6 addr add 2001:db8:ffff::1/128 dev lo
    ip netns exec "$RT" sysctl -qw net.ipv6.conf.all.forwarding=1
    ip -n "$RT" -6 route add default via fe80::ff:fe00:101 dev wan0
}

case "$cmd" in
    up) up ;;
    down) down ;;
    *) echo "usage: topology.sh up|down [NAME]" >&2; exit 2 ;;
esac
