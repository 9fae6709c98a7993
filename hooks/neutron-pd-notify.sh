#!/bin/sh
# Neutron-style prefix notifier (what OpenStack's L3 agent expects from its
# Dibbler client script): on add/update write "<prefix>/64" to a file, on
# delete/expire write "::/64", then send SIGHUP to a process so it reads the
# file.
#
# The daemons pass hooks a fixed environment, so point this script at the
# file and the process with a one-line wrapper, set as `[hooks] script`:
#
#   #!/bin/sh
#   NEUTRON_PD_PREFIX_FILE=/var/lib/neutron/pd/ROUTER/prefix \
#   NEUTRON_PD_PID_FILE=/var/run/neutron/l3-agent.pid \
#   exec /usr/share/pd/hooks/neutron-pd-notify.sh "$@"
#
# NEUTRON_PD_PID (a pid) may be given instead of NEUTRON_PD_PID_FILE.
set -u
action="${1:-}"
file="${NEUTRON_PD_PREFIX_FILE:?NEUTRON_PD_PREFIX_FILE is not set}"
prefix="${PREFIX1:-}"

case "$action" in
    add|update)
        [ -n "$prefix" ] || { echo "neutron-pd-notify.sh: PREFIX1 is not set" >&2; exit 2; }
        value="$prefix/64"
        ;;
    delete|expire)
        value="::/64"
        ;;
    *)
        echo "neutron-pd-notify.sh: unknown action '$action'" >&2
        exit 2
        ;;
esac

mkdir -p "$(dirname "$file")" || exit 1
tmp="$file.tmp.$$"
echo "$value" > "$tmp" && mv -f "$tmp" "$file" || exit 1

pid="${NEUTRON_PD_PID:-}"
if [ -z "$pid" ] && [ -n "${NEUTRON_PD_PID_FILE:-}" ] && [ -r "$NEUTRON_PD_PID_FILE" ]; then
    pid=$(cat "$NEUTRON_PD_PID_FILE")
fi
if [ -n "$pid" ]; then
    kill -HUP "$pid" || exit 1
fi
exit 0
