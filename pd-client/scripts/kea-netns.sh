#!/bin/bash
# Manual end-to-end check of pd-client against Kea in two network namespaces.
#   pd-client/scripts/kea-netns.sh N setup     # pdcSN (Kea on vsN) <-> pdcCN (vcN upstream, lanN/lpN downstream)
#   ip netns exec pdcCN target/debug/pd-client request -i vcN --json --state-dir /tmp/pdc-N/state
#   pd-client/scripts/kea-netns.sh N teardown
# Kea: T1 20 s, T2 40 s, preferred 60 s, valid 90 s, /48 pool of /56s.
S=pdcS$1; C=pdcC$1; D=/tmp/pdc-$1
case $2 in
setup)
  ip netns del $S 2>/dev/null; ip netns del $C 2>/dev/null; rm -rf $D; mkdir -p $D/kea $D/state
  ip netns add $S; ip netns add $C
  ip link add vs$1 address 02:00:00:00:00:01 type veth peer name vc$1 address 02:00:00:00:00:02
  ip link set vs$1 netns $S; ip link set vc$1 netns $C
  ip link add lan$1 address 02:00:00:00:00:03 type veth peer name lp$1; ip link set lan$1 netns $C; ip link set lp$1 netns $C
  for n in $S $C; do ip netns exec $n sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0; ip netns exec $n ip link set lo up; done
  ip netns exec $S sysctl -qw net.ipv6.conf.vs$1.accept_dad=0; ip netns exec $C sysctl -qw net.ipv6.conf.vc$1.accept_dad=0 net.ipv6.conf.lan$1.accept_dad=0 net.ipv6.conf.lp$1.accept_dad=0
  ip netns exec $S ip link set vs$1 up; ip netns exec $C ip link set vc$1 up; ip netns exec $C ip link set lan$1 up; ip netns exec $C ip link set lp$1 up
  cat > $D/kea.json <<JSON
{"Dhcp6": {"interfaces-config": {"interfaces": ["vs$1"]},
 "server-id": {"type": "LL", "persist": false},
 "lease-database": {"type": "memfile", "persist": true, "name": "$D/kea/leases6.csv", "lfc-interval": 0},
 "preferred-lifetime": 60, "valid-lifetime": 90, "renew-timer": 20, "rebind-timer": 40,
 "subnet6": [{"id": 1, "subnet": "2001:db8:ffff::/64", "interface": "vs$1",
   "pd-pools": [{"prefix": "2001:db8::", "prefix-len": 48, "delegated-len": 56}]}],
 "loggers": [{"name": "kea-dhcp6", "output_options": [{"output": "$D/kea/kea.log"}], "severity": "INFO"}]}}
JSON
  sleep 0.5
  KEA_PIDFILE_DIR=$D/kea KEA_LOCKFILE_DIR=$D/kea ip netns exec $S kea-dhcp6 -c $D/kea.json > $D/kea/out.log 2>&1 &
  echo $! > $D/kea.pid; sleep 1 ;;
teardown)
  kill $(cat $D/kea.pid) 2>/dev/null; sleep 0.3
  ip netns del $S 2>/dev/null; ip netns del $C 2>/dev/null ;;
esac
