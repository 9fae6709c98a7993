#!/bin/bash
# Capture a real DHCPv6-PD exchange between ISC dhclient and Kea and write the
# UDP payloads as hex goldens for pd-core's wire tests.
#
#   sudo pd-core/tests/capture/capture.sh [OUTDIR]   (default: pd-core/tests/golden)
#
# Two network namespaces joined by one veth pair (fixed MACs, DAD off); Kea
# (kea-dhcp6, memfile, one pd-pool 2001:db8::/48 -> /56, fixed DUID-LL server
# id) in one, `dhclient -6 -P` (fixed DUID-LL from a pre-seeded lease file) in
# the other, asking with a ::/56 length hint. tcpdump records on the server side; pcap_payloads.py extracts the
# DHCPv6 messages. Nothing leaves the namespaces. Needs root, iproute2,
# kea-dhcp6-server, isc-dhcp-client, tcpdump, python3.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="$(realpath "${1:-$HERE/../golden}")"
TAG="$$"
NS_S="pdcapS$TAG"
NS_C="pdcapC$TAG"
IF_S="pdcs$TAG"
IF_C="pdcc$TAG"
DIR="$(mktemp -d /tmp/pd-capture.XXXXXX)"
TCPDUMP_PID=""
KEA_PID=""

cleanup() {
    set +e
    [ -n "$TCPDUMP_PID" ] && kill "$TCPDUMP_PID" 2>/dev/null
    [ -n "$KEA_PID" ] && kill "$KEA_PID" 2>/dev/null
    if [ -f "$DIR/dhclient.pid" ]; then kill "$(cat "$DIR/dhclient.pid")" 2>/dev/null; fi
    sleep 0.3
    ip netns del "$NS_S" 2>/dev/null
    ip netns del "$NS_C" 2>/dev/null
    rm -rf "$DIR"
}
trap cleanup EXIT
# Clean up leftovers of a run with the same names before starting.
ip netns del "$NS_S" 2>/dev/null || true
ip netns del "$NS_C" 2>/dev/null || true

ip netns add "$NS_S"
ip netns add "$NS_C"
ip link add "$IF_S" address 02:00:00:00:00:01 netns "$NS_S" type veth \
    peer name "$IF_C" address 02:00:00:00:00:02 netns "$NS_C"
for pair in "$NS_S:$IF_S" "$NS_C:$IF_C"; do
    ns="${pair%%:*}"; ifc="${pair##*:}"
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ifc.accept_dad=0"
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip link set "$ifc" up
done
ip netns exec "$NS_S" ip -6 addr add 2001:db8:ffff::1/64 dev "$IF_S" nodad
# Link-locals must not be tentative (DAD is off, but wait to be sure).
for _ in $(seq 50); do
    if [ -z "$(ip netns exec "$NS_S" ip -6 addr show dev "$IF_S" tentative)" ] &&
       [ -z "$(ip netns exec "$NS_C" ip -6 addr show dev "$IF_C" tentative)" ] &&
       ip netns exec "$NS_C" ip -6 addr show dev "$IF_C" scope link | grep -q fe80; then
        break
    fi
    sleep 0.1
done

cat > "$DIR/kea.json" <<JSON
{ "Dhcp6": {
    "interfaces-config": { "interfaces": [ "$IF_S" ] },
    "server-id": { "type": "LL", "htype": 1, "identifier": "020000000001", "persist": false },
    "lease-database": { "type": "memfile", "persist": true, "name": "$DIR/leases6.csv", "lfc-interval": 0 },
    "preferred-lifetime": 3000, "valid-lifetime": 4000, "renew-timer": 1000, "rebind-timer": 2000,
    "subnet6": [ { "id": 1, "subnet": "2001:db8:ffff::/64", "interface": "$IF_S",
        "pd-pools": [ { "prefix": "2001:db8::", "prefix-len": 48, "delegated-len": 56 } ] } ],
    "loggers": [ { "name": "kea-dhcp6", "severity": "INFO",
        "output_options": [ { "output": "$DIR/kea.log" } ] } ]
} }
JSON
export KEA_PIDFILE_DIR="$DIR" KEA_LOCKFILE_DIR="$DIR"
ip netns exec "$NS_S" kea-dhcp6 -t "$DIR/kea.json" >/dev/null

ip netns exec "$NS_S" tcpdump -i "$IF_S" -U -s 0 -w "$DIR/pd.pcap" 'udp port 546 or udp port 547' \
    2>"$DIR/tcpdump.err" &
TCPDUMP_PID=$!
ip netns exec "$NS_S" kea-dhcp6 -c "$DIR/kea.json" >"$DIR/kea.out" 2>&1 &
KEA_PID=$!
# Wait until Kea listens on 547.
for _ in $(seq 50); do
    if ip netns exec "$NS_S" ss -lun | grep -q ':547 '; then break; fi
    sleep 0.1
done
sleep 0.5

# dhclient: fixed DUID-LL 00:03:00:01:02:00:00:00:00:02 via a seeded lease file.
printf 'default-duid "\\000\\003\\000\\001\\002\\000\\000\\000\\000\\002";\n' > "$DIR/dhclient.leases"
printf '#!/bin/sh\nexit 0\n' > "$DIR/script.sh"
chmod +x "$DIR/script.sh"
DHC=(dhclient -6 -P --prefix-len-hint 56 -v -lf "$DIR/dhclient.leases" -pf "$DIR/dhclient.pid" -sf "$DIR/script.sh")
ip netns exec "$NS_C" timeout 20 "${DHC[@]}" -1 "$IF_C" 2>"$DIR/dhclient.log"
grep -q iaprefix "$DIR/dhclient.leases" || { cat "$DIR/dhclient.log" "$DIR/kea.log" >&2; exit 1; }
# Release (dhclient -r stops the bound instance and sends a Release).
ip netns exec "$NS_C" timeout 20 "${DHC[@]}" -r "$IF_C" 2>>"$DIR/dhclient.log"
# Wait for the six messages (Solicit, Advertise, Request, Reply, Release, Reply).
for _ in $(seq 50); do
    [ "$(tcpdump -r "$DIR/pd.pcap" 2>/dev/null | wc -l)" -ge 6 ] && break
    sleep 0.1
done
kill "$TCPDUMP_PID"; wait "$TCPDUMP_PID" 2>/dev/null || true; TCPDUMP_PID=""

python3 "$HERE/pcap_payloads.py" "$DIR/pd.pcap" "$OUT"
# An independent dissector's view of the same packets, for humans.
tcpdump -n -vv -r "$DIR/pd.pcap" 2>/dev/null | sed -E 's/^[0-9:.]+ //' > "$OUT/capture-tcpdump.txt"
echo "wrote goldens to $OUT"
